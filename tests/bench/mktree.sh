#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# mktree.sh - the golden tree `make bench` measures on; prints its path.
#
#   mktree.sh full    a Debian bookworm arm64 root of a Pi-OS-Lite-like size
#                     (~33,000 entries, 1.7 GiB), cached under
#                     ${PIFS_CACHE:-/var/cache/pifs}/bench-root-<key>/tree,
#                     where <key> digests this recipe (package list included):
#                     built once (needs network to the Debian mirror), then
#                     reused.
#   mktree.sh tiny DIR
#                     tools/mkgolden.sh's demo golden plus the bench files at
#                     small sizes, in DIR: seconds, no network.
#
# The full tree: `debootstrap --foreign --variant=minbase` (the first stage
# only unpacks; it runs no arm64 code) with the packages below, then every
# downloaded .deb unpacked with `dpkg-deb -x` (the first stage unpacks only
# the required ones) and the .debs removed, as after `apt-get clean`.
# Files keep the owners and modes of the packages.  /bin, /lib, /sbin stay
# directories (the first stage does not merge /usr).  No maintainer script
# ran, so there are no generated files (initramfs, ssh host keys, ...).
#
# Debian ships no Pi boot partition, so boot/firmware/ is assembled: the
# real bootcode.bin, start*.elf and fixup*.dat of raspi-firmware, the real
# arm64 kernel (boot/vmlinuz-*, an uncompressed Image) as kernel8.img, the
# mainline Pi 3B+ device tree (bcm2837-rpi-3-b-plus.dtb) under the name
# the firmware asks for, bcm2710-rpi-3-b-plus.dtb; initramfs8 is a gzip'd cpio of kernel
# modules (the size of a Pi OS one, not a working initramfs), the two
# overlays/ files are random bytes of their real sizes, config.txt and
# cmdline.txt are Pi OS's.  Bench files: opt/pifs-bench/seq-256M and
# opt/pifs-bench/copyup-100M (random data).
set -eu
MIRROR=${PIFS_BENCH_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PKGS=systemd,systemd-sysv,udev,dbus,kmod,iproute2,ifupdown,isc-dhcp-client,\
openssh-server,nfs-common,sudo,less,vim,nano,curl,wget,ca-certificates,\
locales,tzdata,man-db,manpages,manpages-dev,perl,python3,python3-pip,rsync,\
cron,rsyslog,logrotate,apt-utils,bash-completion,htop,lsof,strace,parted,\
dosfstools,usbutils,iptables,bluez,avahi-daemon,git,build-essential,\
linux-image-arm64,raspi-firmware,firmware-brcm80211,firmware-misc-nonfree,\
firmware-linux-free,wireless-tools,wpasupplicant
RECIPE=v1

# boot_files ROOT: assemble ROOT/boot/firmware (see the top comment)
boot_files() {
	local r=$1 fw=$1/boot/firmware k dtb
	mkdir -p "$fw/overlays"
	if [ -d "$r/usr/lib/raspi-firmware" ]; then
		cp -a "$r"/usr/lib/raspi-firmware/*.bin "$r"/usr/lib/raspi-firmware/*.elf \
			"$r"/usr/lib/raspi-firmware/*.dat "$fw/"
	fi
	k=$(ls "$r"/boot/vmlinuz-* 2>/dev/null | head -1)
	[ -n "$k" ] && cp "$k" "$fw/kernel8.img"
	# the mainline name of the Pi 3B+ tree; the firmware asks for bcm2710-*
	dtb=$(ls "$r"/usr/lib/linux-image-*/broadcom/bcm2837-rpi-3-b-plus.dtb 2>/dev/null | head -1)
	[ -n "$dtb" ] && cp "$dtb" "$fw/bcm2710-rpi-3-b-plus.dtb"
	# ~24 MiB of modules, ~10 MiB compressed: a Pi OS initramfs8's size
	(cd "$r" && find lib/modules usr/lib/modules -name '*.ko*' -printf '%s %p\n' 2>/dev/null |
		LC_ALL=C sort -k2 | awk '{ t += $1; if (t > 24 * 1048576) exit; print $2 }' |
		cpio -o -H newc --quiet | gzip -6) >"$fw/initramfs8"
	head -c 5340 /dev/urandom >"$fw/overlays/overlay_map.dtb"
	head -c 3913 /dev/urandom >"$fw/overlays/vc4-kms-v3d.dtbo"
	cat >"$fw/config.txt" <<'CFG'
# For more options and information see
# http://rptl.io/configtxt
dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1
auto_initramfs=1
dtoverlay=vc4-kms-v3d
max_framebuffers=2
disable_fw_kms_setup=1
arm_64bit=1
disable_overscan=1
arm_boost=1

[cm4]
otg_mode=1

[all]
CFG
	echo 'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait' \
		>"$fw/cmdline.txt"
	for f in bootcode.bin start.elf fixup.dat kernel8.img initramfs8 bcm2710-rpi-3-b-plus.dtb; do
		[ -s "$fw/$f" ] || { echo "mktree: no $f for boot/firmware" >&2; return 1; }
	done
}

# bench_files ROOT SEQ_MIB COPYUP_MIB
bench_files() {
	mkdir -p "$1/opt/pifs-bench"
	head -c $(($2 << 20)) /dev/urandom >"$1/opt/pifs-bench/seq-256M"
	head -c $(($3 << 20)) /dev/urandom >"$1/opt/pifs-bench/copyup-100M"
}

case ${1:-} in
tiny)
	d=${2:?usage: mktree.sh tiny DIR}
	here=$(cd "$(dirname "$0")" && pwd)
	bash "$here/../../tools/mkgolden.sh" "$d" >/dev/null
	# A few hundred more files, in a large directory and a deep one.
	mkdir -p "$d/usr/lib/aarch64-linux-gnu" "$d/usr/share/locale/a/b/c"
	for i in $(seq 1 300); do printf 'lib %d\n' "$i" >"$d/usr/lib/aarch64-linux-gnu/libx$i.so.1"; done
	for i in $(seq 1 50); do printf 'mo %d\n' "$i" >"$d/usr/share/locale/a/b/c/m$i.mo"; done
	bench_files "$d" 8 4
	echo "$d"
	;;
full)
	cache=${PIFS_CACHE:-/var/cache/pifs}
	key=$(printf '%s\n' "$RECIPE" "$SUITE" "$PKGS" "$(sed -n '/^boot_files()/,/^}/p' "$0")" | sha256sum | cut -c1-12)
	dir=$cache/bench-root-$key
	if [ -f "$dir/complete" ]; then
		echo "$dir/tree"
		exit 0
	fi
	command -v debootstrap >/dev/null || { echo "mktree: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
	mkdir -p "$cache"
	tmp=$dir.tmp.$$
	trap 'chattr -R -i "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
	mkdir -p "$tmp"
	echo "mktree: building the bench golden in $dir (debootstrap, once)" >&2
	debootstrap --foreign --arch=arm64 --variant=minbase --components=main,non-free-firmware \
		--include="$PKGS" "$SUITE" "$tmp/tree" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 ||
		{ tail -20 "$tmp/debootstrap.log" >&2; echo "mktree: debootstrap failed" >&2; exit 1; }
	for deb in "$tmp"/tree/var/cache/apt/archives/*.deb; do
		dpkg-deb -x "$deb" "$tmp/tree"
	done
	rm -f "$tmp"/tree/var/cache/apt/archives/*.deb
	rm -rf "$tmp/tree/debootstrap"
	boot_files "$tmp/tree"
	bench_files "$tmp/tree" 256 100
	find "$tmp/tree" | wc -l >"$tmp/entries"
	touch "$tmp/complete"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	trap - EXIT
	echo "$dir/tree"
	;;
*)
	echo "usage: mktree.sh full | tiny DIR" >&2
	exit 2
	;;
esac
