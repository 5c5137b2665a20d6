#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# quickstart.sh demo|test - the README's two commands on a fresh Debian
# bookworm machine (as root): install what pifs needs, build it, then
#   demo: run the demo (tools/pifs-demo.sh): a demo store with worker-1..3,
#         mounted, a write landing in one worker only;
#   test: run the whole test suite (unit + real FUSE mounts) with the
#         sanitizers on, integration skips counted as failures, then
#         `make check-boot` (the Debian golden boots with systemd; ~26 min
#         with an empty cache, PIFS_CHECK_BOOT=0 leaves it out), then
#         `make check-knfsd` (pifs under the kernel NFS server, in an
#         amd64 guest; PIFS_CHECK_KNFSD=0 leaves it out), then
#         `make check-knfsd-boot` (an arm64 worker booted from that
#         guest's nfsd and dnsmasq, ~6 min; PIFS_CHECK_KNFSD=0 leaves it
#         out too), then
#         `make distcheck` (the tarball builds; its unit suites run), then
#         `make check-deb` (the Debian package built from the tarball,
#         lintian, installed, used and purged; PIFS_CHECK_DEB=0 leaves it
#         out).
set -euo pipefail
mode=${1:-}
case $mode in demo|test) ;; *) echo "usage: quickstart.sh demo|test" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "quickstart.sh: run as root (it installs packages and mounts FUSE)" >&2; exit 1; }
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# Debian bookworm packages: the toolchain and autotools; libfuse3, libgit2,
# libxxhash and check (the libraries the user chose); liburing-dev (FUSE
# over io_uring, fs/uring.c); nettle-dev (the
# SHA-1 trailers of the snapshot packs); for image import
# libext2fs (ext4), libblkid (partition tables), liblzma and zlib, and
# mtools (the FAT boot partition); fuse3 for fusermount3/mount.fuse3.
# For the tests and the demo: attr, acl, e2fsprogs, fdisk, dosfstools,
# perl, procps, util-linux, git, xz-utils, cpio, bc, time, libcap2-bin;
# iproute2 (network namespaces) and dnsmasq-base (real DHCP/TFTP without
# the system service); a real worker: qemu-system-arm (arm64 guests),
# nfs-ganesha + nfs-ganesha-vfs + rpcbind (the NFS server), libnfs-utils
# and libnfs-dev (a user-space NFS client), kmod and
# debian-archive-keyring (the golden builder reads the packages' modules
# and checks the archive's signatures); the bench peers and tools (its
# smoke test is part of make check): fio, fuse-overlayfs, debootstrap;
# make check-knfsd: qemu-system-x86 (the amd64 master guest),
# nfs-kernel-server (rpc.nfsd, rpc.mountd, exportfs: its postinst cannot
# start the service on a machine without nfsd, which is fine) and
# busybox-static (the guest's initramfs); the guest's kernel is
# downloaded by the test (apt-get download, cached in /var/cache/pifs).
# strace: t-kill-mount slows pifsd's replies (--inject delay) so that
# its kills land inside a worker's mount or unmount.
# groff-base: t-man renders the manual pages with warnings on.
# python3: t-json.sh parses every --json output with a real JSON parser
# (a minimal bookworm may not have it).
# make check-deb: dpkg-dev (dpkg-buildpackage), debhelper (dh, compat 13)
# and lintian.
# systemd: systemd-analyze verify of the nightly snapshot units
# (t-systemd), and the unit directory configure asks pkg-config for.
pkgs=(build-essential autoconf automake libtool pkg-config
      libfuse3-dev fuse3 libgit2-dev libxxhash-dev check liburing-dev
      libext2fs-dev comerr-dev libblkid-dev liblzma-dev zlib1g-dev nettle-dev mtools
      attr acl e2fsprogs fdisk dosfstools perl procps util-linux xz-utils git
      cpio bc time libcap2-bin iproute2 dnsmasq-base
      qemu-system-arm nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils libnfs-dev
      kmod debian-archive-keyring gzip
      fio fuse-overlayfs debootstrap
      qemu-system-x86 nfs-kernel-server busybox-static strace
      groff-base python3 dpkg-dev debhelper lintian systemd)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "== installing: ${missing[*]}"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

echo "== building"
autoreconf -fi >/dev/null
conf=(--enable-werror)
[ "$mode" = test ] && conf+=(--enable-sanitizers)
if [ ! -f config.status ] || ! grep -q -- "${conf[*]}" config.status; then
	./configure -q "${conf[@]}"
fi
make -j"$(nproc)" >/dev/null

case $mode in
demo)
	exec bash tools/pifs-demo.sh
	;;
test)
	export PIFS_REQUIRE_FUSE=1
	# halt_on_error: a sanitizer report fails the test that saw it.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	make -j2 check || { cat tests/unit/*.log tests/integration/*.log 2>/dev/null | tail -200; exit 1; }
	# The systemd worker: builds the Debian golden once (~20 min, cached in
	# /var/cache/pifs/golden-debian) and boots it three times (~6 min).
	if [ "${PIFS_CHECK_BOOT:-1}" != 0 ]; then
		make check-boot || { tail -200 tests/integration/t-debian-boot.log 2>/dev/null; exit 1; }
	fi
	# The kernel NFS server (the test machines' kernel has none): three
	# scenarios, each in an amd64 guest under TCG (~4 min each).
	if [ "${PIFS_CHECK_KNFSD:-1}" != 0 ]; then
		make check-knfsd || { tail -200 tests/integration/t-knfsd-*.log 2>/dev/null; exit 1; }
		make check-knfsd-boot || { tail -200 tests/integration/t-knfsd-boot.log 2>/dev/null; exit 1; }
	fi
	# The tarball builds with -Werror and its unit suites pass; the
	# scenarios ran above on this tree (twice would not fit CI's time).
	make distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
		TESTS="$(ls tests/unit/check_*.c | sed 's/\.c$//' | tr '\n' ' ')"
	# The Debian package, built from the tarball in a temporary directory
	# (this tree keeps its sanitizer build), installed, used, purged.
	if [ "${PIFS_CHECK_DEB:-1}" != 0 ]; then
		make check-deb || { tail -200 tests/integration/t-deb.log 2>/dev/null; exit 1; }
	fi
	;;
esac
