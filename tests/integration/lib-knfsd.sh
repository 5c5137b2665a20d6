# SPDX-License-Identifier: GPL-2.0-or-later
# lib-knfsd.sh - the kernel NFS server for the integration scenarios,
# sourced after lib.sh.  The test machines' kernel has no nfsd, so a
# scenario runs in an amd64 "master" guest under QEMU (TCG): Debian's
# generic amd64 kernel (nfsd, fuse, 9p as modules; downloaded once and
# cached in $PIFS_CACHE/knfsd), a static-busybox initramfs, and the host's
# own userland as the guest's root: the host's / shared read-only over 9p
# under a tmpfs overlay (writable, gone at power-off).  pifs and pifsd are
# the build tree's, copied into the guest's tmpfs before anything runs;
# rpcbind, rpc.nfsd, rpc.mountd and exportfs are the host's nfs-kernel-server.
#
# A scenario is one t-knfsd-*.sh that runs twice: on the host it calls
# knfsd_setup and knfsd_run, which boots the guest; in the guest
# (knfsd_in_guest) the same file runs again, from the top, and does the
# checks with lib.sh's ok/fail/expect_eq against a store on an ext4 disk
# the host made (virtio-blk; tmpfs of 6.1 has no user.* xattrs).  What the
# scenario prints and its exit status come back through a writable 9p
# share of $T/out; pifsd's log and rpc.mountd's are written there live,
# so a guest that hangs still leaves them to read.
#
# Network: the guest has no network device (-nic none).  Its only
# addresses are its loopback and what the scenario makes inside it:
# network namespaces with veth pairs on a bridge (knfsd_net_up), where
# 10.1.1.x exists and nowhere else.
#
# Host side:
#   knfsd_setup              setup (lib.sh), the EXIT trap, the tools (a
#                            skip names every missing package in one
#                            line), the cached kernel, the initramfs
#   knfsd_run TIMEOUT [ARG...]
#                            boot the guest, run "$0 ARG..." in it, print
#                            its output; its exit status (1 when the guest
#                            did not come up or ran past TIMEOUT s: its
#                            console and the daemon log are printed)
#   KNFSD_QEMU_ARGS=(...)    more QEMU options for the guest (a NIC)
#   KNFSD_POLL=FUNCTION      called about once a second while the guest
#                            runs (the host's half of a scenario: e.g. an
#                            arm64 worker started when the guest asks)
# Guest side (the scenario's half; lib.sh's T is on the ext4 disk):
#   knfsd_in_guest           true inside the guest
#   knfsd_guest_setup        setup (lib.sh) and the guest's EXIT trap
#   knfsd_master NAME:SERIAL...
#                            the README's master: store, workers, exports,
#                            fstab mounted, NFS server up, exportfs -ra
#                            (the golden: mkgolden.sh's, or the tree
#                            KNFSD_GOLDEN names)
#   knfsd_worker NAME DIR    NAME's namespace and address, its cmdline.txt's
#                            NFS mount on DIR
#   knfsd_pifs_up / knfsd_pifs_down
#                            mount -a of the fstab lines / the README's way
#                            down (umount -R, pifs umount)
#   knfsd_server_stop / knfsd_server_start
#                            what systemctl stop/start nfs-server runs
#   knfsd_manifest DIR       tree_manifest's fields, in one process
#   knfsd_sanitizer_reports  fail on a report of the daemonized pifsd
#   knfsd_nfs_up / knfsd_nfs_down
#                            rpcbind, nfsd (8 threads) and rpc.mountd, their
#                            logs in $KNFSD_OUT; down: exportfs -ua, nfsd 0
#   knfsd_net_up             bridge knfsd0 with 10.1.1.100/24 (the master)
#   knfsd_client NAME IP     a network namespace NAME with address IP/24
#                            on the bridge: a worker
#   knfsd_mount NAME SPEC DIR OPTS / knfsd_umount NAME DIR
#                            mount -t nfs from NAME's network namespace
#                            (the mount itself is in the guest's mount
#                            namespace, so it outlives the command)

: "${PIFS_CACHE:=/var/cache/pifs}"
KNFSD_CACHE=$PIFS_CACHE/knfsd
KNFSD_OUT=${KNFSD_OUT:-}
KNFSD_KVER=
KNFSD_KROOT=
KNFSD_QEMU_PID=
KNFSD_QEMU_ARGS=()
KNFSD_POLL=
KNFSD_GOLDEN=
# the guest's memory: pifsd runs with ASan (its shadow is mostly untouched)
KNFSD_MEM=${PIFS_KNFSD_MEM:-2048}
# how long the guest may take to reach the scenario
KNFSD_BOOT_TIMEOUT=${PIFS_KNFSD_BOOT_TIMEOUT:-300}

knfsd_in_guest() { [ "${PIFS_KNFSD_GUEST:-0}" = 1 ]; }

# ---------------------------------------------------------------- host ----

knfsd_setup() {
	setup
	trap knfsd_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	need_knfsd_tools
	knfsd_kernel || finish
	knfsd_initramfs || finish
}

knfsd_cleanup() {
	if [ -n "$KNFSD_QEMU_PID" ]; then
		kill "$KNFSD_QEMU_PID" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$KNFSD_QEMU_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$KNFSD_QEMU_PID" 2>/dev/null
		wait "$KNFSD_QEMU_PID" 2>/dev/null
		KNFSD_QEMU_PID=
	fi
	cleanup
}

# need_knfsd_tools: skip naming, in one line, every Debian package missing
need_knfsd_tools() {
	local t missing=()
	for t in qemu-system-x86_64:qemu-system-x86 rpc.nfsd:nfs-kernel-server rpc.mountd:nfs-kernel-server \
		exportfs:nfs-kernel-server mount.nfs:nfs-common rpcbind:rpcbind ip:iproute2 \
		mkfs.ext4:e2fsprogs cpio:cpio gzip:gzip depmod:kmod modprobe:kmod dpkg-deb:dpkg \
		apt-get:apt flock:util-linux timeout:coreutils mount.fuse3:fuse3; do
		command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
	done
	# a static busybox: the initramfs has no libraries
	dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' &&
		[ -x /bin/busybox ] || missing+=(busybox-static)
	[ ${#missing[@]} = 0 ] && return 0
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
	skip "missing packages: ${missing[*]} (apt-get install ${missing[*]})"
}

# knfsd_kernel: KNFSD_KVER, KNFSD_KROOT = the kernel package the host's
# linux-image-amd64 points at, unpacked with its modules.dep, in
# $PIFS_CACHE/knfsd/<package>/root (downloaded once; the older ones the
# meta-package no longer points at removed).  When apt cannot name or
# fetch it, the newest cached one; when there is none: skip naming it.
knfsd_kernel() {
	local base=$KNFSD_CACHE pkg lock tmp deb old
	mkdir -p "$base" || { fail "cannot make $base"; return 1; }
	exec {lock}>"$base/lock"
	flock -w 1800 "$lock" || { exec {lock}>&-; fail "$base: locked for 1800 s"; return 1; }
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	if [ -n "$pkg" ] && [ ! -e "$base/$pkg/ok" ]; then
		echo "note: downloading $pkg into $base (once)"
		rm -rf "${base:?}/$pkg"
		tmp=$(mktemp -d "$base/.get.XXXXXX")
		# apt drops to _apt to write the download: let it
		chmod 755 "$tmp"
		if ! (cd "$tmp" && timeout 900 apt-get -q download "$pkg") >"$tmp/log" 2>&1; then
			# stale lists name a version the archive no longer has
			timeout 600 apt-get -q update >>"$tmp/log" 2>&1
			pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
			[ -n "$pkg" ] && (cd "$tmp" && timeout 900 apt-get -q download "$pkg") >>"$tmp/log" 2>&1
		fi
		deb=$(find "$tmp" -maxdepth 1 -name "$pkg"'_*.deb' 2>/dev/null | sed -n 1p)
		if [ -n "$deb" ] && dpkg-deb -x "$deb" "$tmp/root" &&
			[ -f "$tmp/root/boot/vmlinuz-${pkg#linux-image-}" ] &&
			depmod -b "$tmp/root" "${pkg#linux-image-}"; then
			mkdir -p "$base/$pkg"
			mv "$tmp/root" "$base/$pkg/root"
			touch "$base/$pkg/ok"
			for old in "$base"/linux-image-*; do
				[ "$old" = "$base/$pkg" ] || rm -rf "$old"
			done
		else
			tail -3 "$tmp/log"
			echo "note: cannot download or unpack ${pkg:-the kernel linux-image-amd64 depends on}"
		fi
		rm -rf "$tmp"
	fi
	if [ -z "$pkg" ] || [ ! -e "$base/$pkg/ok" ]; then
		pkg=$(find "$base" -mindepth 2 -maxdepth 2 -name ok -printf '%h\n' 2>/dev/null | xargs -r -n1 basename | sort -V | tail -1)
	fi
	exec {lock}>&-
	[ -n "$pkg" ] || skip "missing packages: linux-image-<version>-amd64 (the kernel linux-image-amd64 depends on: apt-get update, then it is downloaded into $base)"
	KNFSD_KVER=${pkg#linux-image-}
	KNFSD_KROOT=$base/$pkg/root
}

# knfsd_modules_order MODULE...: the .ko paths (relative to the modules
# dir) to insmod, dependencies first, each once, from modules.dep.
knfsd_modules_order() {
	awk -v want="$*" '
		{ sub(":", "", $1); path[$1] = $1; n = split($1, p, "/"); name = p[n]
		  sub(/\.ko(\.[a-z]+)?$/, "", name); gsub("-", "_", name); byname[name] = $1
		  deps[$1] = ""; for (i = 2; i <= NF; i++) deps[$1] = deps[$1] " " $i }
		function load(m,   d, k, i) {
			if (m in done) return; done[m] = 1
			k = split(deps[m], d, " "); for (i = k; i >= 1; i--) load(d[i])
			print m
		}
		END { k = split(want, w, " "); for (i = 1; i <= k; i++) {
			if (!(w[i] in byname)) { print "missing module " w[i] > "/dev/stderr"; exit 1 }
			load(byname[w[i]]) } }
	' "$KNFSD_KROOT/lib/modules/$KNFSD_KVER/modules.dep"
}

# knfsd_initramfs: $T/knfsd/initrd: busybox, the modules for 9p and the
# overlay, and /init (below).
knfsd_initramfs() {
	local d=$T/knfsd/initramfs m mods
	mkdir -p "$d/bin" "$d/lib/modules" || return 1
	cp /bin/busybox "$d/bin/busybox" || { fail "cannot copy /bin/busybox"; return 1; }
	mods=$(knfsd_modules_order virtio_pci 9pnet_virtio 9p overlay) || { fail "modules.dep of $KNFSD_KVER"; return 1; }
	for m in $mods; do
		case $m in
		*.ko.xz) xz -dc "$KNFSD_KROOT/lib/modules/$KNFSD_KVER/$m" >"$d/lib/modules/$(basename "$m" .xz)" ;;
		*.ko.zst) zstd -qdc "$KNFSD_KROOT/lib/modules/$KNFSD_KVER/$m" >"$d/lib/modules/$(basename "$m" .zst)" ;;
		*) cp "$KNFSD_KROOT/lib/modules/$KNFSD_KVER/$m" "$d/lib/modules/" ;;
		esac || { fail "cannot copy module $m"; return 1; }
		basename "${m%.xz}" .zst >>"$d/modules"
	done
	knfsd_init_script >"$d/init"
	chmod 755 "$d/init"
	(cd "$d" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$T/knfsd/initrd" ||
		{ fail "cannot pack the initramfs"; return 1; }
}

# The guest's /init: the host's / over 9p (read-only) under a tmpfs
# overlay as the new root, fresh /proc /sys /dev /run /tmp in it, the
# output share at /knfsd-out; then job.sh (written by knfsd_run) in the
# chroot, and power off.  Everything it says goes to the console.
knfsd_init_script() {
	cat <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin
/bin/busybox --install -s /bin
export PATH=/bin
say() { echo "knfsd-init: $*"; }
die() { say "$*"; sync; poweroff -f; sleep 5; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/lib/modules/$m" || say "insmod $m failed"; done </modules
mkdir -p /host /out /rw /newroot
o=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$o,ro" host /host || die "cannot mount the host's / over 9p"
mount -t 9p -o "$o" out /out || die "cannot mount the output share"
mount -t tmpfs -o mode=755 knfsd-rw /rw && mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work knfsd-root /newroot ||
	die "cannot mount the overlay root"
for d in proc sys dev; do mount --move "/$d" "/newroot/$d"; done
mount -t tmpfs -o mode=755 knfsd-run /newroot/run
mount -t tmpfs -o mode=1777 knfsd-tmp /newroot/tmp
mkdir -p /newroot/dev/pts /newroot/dev/shm /newroot/knfsd-out
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
ln -sf /proc/self/fd /newroot/dev/fd
ln -sf /proc/self/fd/0 /newroot/dev/stdin
ln -sf /proc/self/fd/1 /newroot/dev/stdout
ln -sf /proc/self/fd/2 /newroot/dev/stderr
mount -t tmpfs -o mode=1777 knfsd-shm /newroot/dev/shm
mount --move /out /newroot/knfsd-out
say "chroot"
chroot /newroot /bin/bash /knfsd-out/job.sh </newroot/dev/null
say "job exit $?"
sync
poweroff -f
sleep 5
EOF
}

# knfsd_run TIMEOUT [ARG...]: boot the guest and run "$0 ARG..." in it.
knfsd_run() {
	local timeout=$1 out=$T/out disk=$T/knfsd/disk.img end rc up=0 t0
	shift
	rm -rf "$out"
	mkdir -p "$out"
	# the store's disk: sparse, ext4 made here (quicker than in TCG)
	rm -f "$disk"
	truncate -s 8G "$disk" && mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=1 -L knfsd "$disk" ||
		{ fail "cannot make the guest's disk"; return 1; }
	knfsd_job "$@" >"$out/job.sh"
	t0=$(date +%s)
	qemu-system-x86_64 -accel tcg -m "$KNFSD_MEM" -smp "${PIFS_KNFSD_SMP:-1}" \
		-nographic -no-reboot -monitor none -serial "file:$out/console" -nic none \
		-name knfsd-master \
		-kernel "$KNFSD_KROOT/boot/vmlinuz-$KNFSD_KVER" -initrd "$T/knfsd/initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4" \
		-virtfs local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap \
		-virtfs "local,path=$out,mount_tag=out,security_model=none" \
		-drive "file=$disk,format=raw,if=virtio,cache=unsafe,discard=unmap" \
		"${KNFSD_QEMU_ARGS[@]}" </dev/null >"$out/qemu.log" 2>&1 &
	KNFSD_QEMU_PID=$!
	end=$((t0 + KNFSD_BOOT_TIMEOUT))
	while kill -0 "$KNFSD_QEMU_PID" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
		[ -e "$out/up" ] && { up=1; break; }
		[ -z "$KNFSD_POLL" ] || "$KNFSD_POLL"
		sleep 1
	done
	if [ $up = 1 ]; then
		echo "note: the guest came up in $(($(date +%s) - t0)) s"
		end=$(($(date +%s) + timeout))
		while kill -0 "$KNFSD_QEMU_PID" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
			[ -z "$KNFSD_POLL" ] || "$KNFSD_POLL"
			sleep 1
		done
	fi
	if kill -0 "$KNFSD_QEMU_PID" 2>/dev/null; then
		knfsd_cleanup_qemu
		[ -f "$out/log" ] && { echo "--- the scenario's output"; cat "$out/log"; }
		echo "--- guest console (tail)"
		tail -40 "$out/console"
		knfsd_daemon_logs
		if [ $up = 1 ]; then
			fail "the guest ran past its $timeout s"
		else
			fail "the guest did not come up within $KNFSD_BOOT_TIMEOUT s"
		fi
		return 1
	fi
	wait "$KNFSD_QEMU_PID"
	rc=$?
	KNFSD_QEMU_PID=
	echo "note: guest run: $(($(date +%s) - t0)) s"
	[ -f "$out/log" ] && cat "$out/log"
	if [ ! -f "$out/status" ]; then
		echo "--- guest console (tail)"
		tail -40 "$out/console"
		tail -5 "$out/qemu.log"
		knfsd_daemon_logs
		fail "the guest ended (QEMU exit $rc) without the scenario's exit status"
		return 1
	fi
	rc=$(cat "$out/status")
	[ "$rc" = 0 ] || knfsd_daemon_logs
	return "$rc"
}

knfsd_cleanup_qemu() {
	[ -n "$KNFSD_QEMU_PID" ] || return 0
	kill "$KNFSD_QEMU_PID" 2>/dev/null
	for _ in $(seq 1 50); do kill -0 "$KNFSD_QEMU_PID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$KNFSD_QEMU_PID" 2>/dev/null
	wait "$KNFSD_QEMU_PID" 2>/dev/null
	KNFSD_QEMU_PID=
}

knfsd_daemon_logs() {
	local f
	for f in "$T/out/job.log" "$T/out/pifsd.log" "$T/out/mountd.log" "$T/out"/asan.*; do
		[ -s "$f" ] || continue
		echo "--- ${f#"$T/out/"} (tail)"
		tail -30 "$f"
	done
}

# knfsd_job ARG...: the guest's job.sh: the rest of the system (kernel
# modules, the disk at /knfsd, the build's pifs, pifs-git and pifsd copied to
# /run/pifs-build), then "$0 ARG..." with its output and exit status in
# /knfsd-out.
knfsd_job() {
	local a args=
	for a in "$@"; do args="$args $(printf '%q' "$a")"; done
	cat <<EOF
# knfsd guest job (made by lib-knfsd.sh)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PIFS_KNFSD_GUEST=1 KNFSD_OUT=/knfsd-out
export PIFS_SRCDIR=$(printf '%q' "$PIFS_SRCDIR") PIFS_HOST_BUILDDIR=$(printf '%q' "$PIFS_BUILDDIR")
export PIFS_BUILDDIR=/run/pifs-build PIFS_REQUIRE_FUSE=${PIFS_REQUIRE_FUSE:-0}
export ASAN_OPTIONS=$(printf '%q' "${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}")
export UBSAN_OPTIONS=$(printf '%q' "${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}")
KVER=$(printf '%q' "$KNFSD_KVER")
KROOT=$(printf '%q' "$KNFSD_KROOT")
exec >/knfsd-out/job.log 2>&1
PS4='+ \$(cut -d" " -f1 /proc/uptime) '; set -x
mkdir -p /lib/modules && ln -sfn "\$KROOT/lib/modules/\$KVER" "/lib/modules/\$KVER"
for m in virtio_blk virtio_net ext4 fuse nfsd nfs nfsv3 veth bridge; do modprobe "\$m" || echo "job: modprobe \$m failed"; done
mount -t ext4 /dev/vda /var/tmp && chmod 1777 /var/tmp || echo "job: cannot mount the disk"
mkdir -p /run/pifs-build/tools /run/pifs-build/fs /run/pifs-build/tests/tools
cp "\$PIFS_HOST_BUILDDIR/tools/pifs" "\$PIFS_HOST_BUILDDIR/tools/pifs-git" /run/pifs-build/tools/ && cp "\$PIFS_HOST_BUILDDIR/fs/pifsd" /run/pifs-build/fs/
for f in "\$PIFS_HOST_BUILDDIR"/tests/tools/*; do [ -x "\$f" ] && [ -f "\$f" ] && cp "\$f" /run/pifs-build/tests/tools/; done
ip link set lo up
touch /knfsd-out/up
set +x
cd /
bash $(printf '%q' "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")")$args >/knfsd-out/log 2>&1 </dev/null
echo \$? >/knfsd-out/status
EOF
}

# --------------------------------------------------------------- guest ----

KNFSD_RPCBIND_PID=
KNFSD_MOUNTD_PID=
KNFSD_NFSD=0
KNFSD_CLIENT_MOUNTS=()
KNFSD_NETNS=()

# knfsd_guest_setup: setup (lib.sh: T on the disk) and the EXIT trap that
# takes down what the guest side starts, in order: NFS client mounts,
# the exports and nfsd, rpc.mountd and rpcbind, the namespaces; then
# lib.sh's cleanup (pifs).
knfsd_guest_setup() {
	setup
	trap knfsd_guest_cleanup EXIT
	trap 'exit 130' INT TERM HUP
}

knfsd_guest_cleanup() {
	local m n
	for m in "${KNFSD_CLIENT_MOUNTS[@]}"; do
		mountpoint -q "$m" 2>/dev/null && { umount -f "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
	done
	knfsd_nfs_down
	for n in "${KNFSD_NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
	cleanup
}

# knfsd_nfs_up: what nfs-kernel-server's units start on a master, in the
# foreground with their logs in $KNFSD_OUT: rpcbind, the nfsd file system
# and 8 nfsd threads (NFSv3 and v4), rpc.mountd with Debian's options
# (it logs every mount request it authenticates or refuses).  /var/lib/nfs is a fresh tmpfs.
knfsd_nfs_up() {
	mountpoint -q /var/lib/nfs || mount -t tmpfs -o mode=755 knfsd-nfs-state /var/lib/nfs ||
		{ fail "cannot mount a tmpfs on /var/lib/nfs"; return 1; }
	mkdir -p /var/lib/nfs/sm /var/lib/nfs/sm.bak /var/lib/nfs/v4recovery /run/rpcbind
	: >>/var/lib/nfs/etab
	: >>/var/lib/nfs/rmtab
	mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd || { fail "cannot mount the nfsd file system"; return 1; }
	rpcbind -f -w >>"$KNFSD_OUT/rpcbind.log" 2>&1 </dev/null &
	KNFSD_RPCBIND_PID=$!
	for _ in $(seq 1 100); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.1; done
	rpcinfo -p 127.0.0.1 >/dev/null 2>&1 || { fail "rpcbind does not answer"; return 1; }
	rpc.nfsd 8 >>"$KNFSD_OUT/nfsd.log" 2>&1 || { cat "$KNFSD_OUT/nfsd.log"; fail "rpc.nfsd 8"; return 1; }
	KNFSD_NFSD=1
	rpc.mountd --manage-gids -F >>"$KNFSD_OUT/mountd.log" 2>&1 </dev/null &
	KNFSD_MOUNTD_PID=$!
	for _ in $(seq 1 100); do rpcinfo -p 127.0.0.1 2>/dev/null | grep -q mountd && return 0; sleep 0.1; done
	fail "rpc.mountd does not register"
	return 1
}

knfsd_nfs_down() {
	if [ "$KNFSD_NFSD" = 1 ]; then
		exportfs -ua 2>/dev/null
		rpc.nfsd 0 2>/dev/null
		KNFSD_NFSD=0
	fi
	knfsd_stop_pid "$KNFSD_MOUNTD_PID"
	knfsd_stop_pid "$KNFSD_RPCBIND_PID"
	KNFSD_MOUNTD_PID= KNFSD_RPCBIND_PID=
}

# knfsd_stop_pid PID: TERM, up to 5 s, then KILL
knfsd_stop_pid() {
	[ -n "${1:-}" ] || return 0
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# knfsd_net_up: the seed's network, inside this guest only: a bridge with
# the master's 10.1.1.100/24.
knfsd_net_up() {
	ip link add knfsd0 type bridge && ip addr add 10.1.1.100/24 dev knfsd0 && ip link set knfsd0 up ||
		{ fail "cannot make the bridge knfsd0"; return 1; }
}

# knfsd_client NAME IP: a worker: network namespace NAME, its eth0 (a
# veth on the bridge) with IP/24
knfsd_client() {
	local n=$1 ip=$2
	ip netns add "$n" || { fail "ip netns add $n"; return 1; }
	KNFSD_NETNS+=("$n")
	ip link add "v-$n" type veth peer name eth0 netns "$n" &&
		ip link set "v-$n" master knfsd0 up &&
		ip -n "$n" link set lo up &&
		ip -n "$n" addr add "$ip/24" dev eth0 &&
		ip -n "$n" link set eth0 up || { fail "cannot give $n the address $ip"; return 1; }
}

# knfsd_mount NAME SPEC DIR OPTS: mount.nfs run in NAME's network
# namespace (its socket, so its address, are NAME's); the mount is in
# the guest's mount namespace and stays after the command.
knfsd_mount() {
	local n=$1 spec=$2 dir=$3 opts=$4
	mkdir -p "$dir"
	timeout 120 nsenter --net="/run/netns/$n" mount -t nfs -o "$opts" "$spec" "$dir" || return 1
	KNFSD_CLIENT_MOUNTS+=("$dir")
}

# knfsd_umount NAME DIR: unmount a client's mount from NAME's namespace
# (mount.nfs's UMNT then comes from NAME's address, as rpc.mountd expects)
knfsd_umount() {
	timeout 120 nsenter --net="/run/netns/$1" umount "$2"
}

# The README's fstab lines ("At boot: /etc/fstab"), used as they are.
KNFSD_FSTAB='/var/lib/pifs       /srv/pifs   fuse.pifs  allow_other,default_permissions  0 0
/srv/pifs/nfsroot   /nfsroot    none       rbind,x-systemd.requires=/srv/pifs,x-systemd.before=nfs-server.service,x-systemd.required-by=nfs-server.service  0 0
/srv/pifs/tftpboot  /tftpboot   none       bind,x-systemd.requires=/srv/pifs,x-systemd.before=dnsmasq.service,x-systemd.required-by=dnsmasq.service  0 0'

# knfsd_master NAME:SERIAL...: the README's master in this guest ("The
# master, replacing the seed's hand steps"): the golden of mkgolden.sh
# (or the tree KNFSD_GOLDEN names, read where it is),
# `pifs init /var/lib/pifs --master 10.1.1.100`, the workers added in
# the order given, `pifs exports > /etc/exports.d/pifs.exports` (with
# KNFSD_INSTALL set: `pifs exports --install` of that file), the
# fstab lines mounted (knfsd_pifs_up), the NFS server up, `exportfs -ra`.
# `pifs` is found on the default path (mount.fuse3 needs that too);
# /var/lib/pifs is a bind of $T/store, on the disk (user.* xattrs).
# Returns 1 after a fail when a step does not work.
knfsd_master() {
	local w l golden=${KNFSD_GOLDEN:-$T/golden}
	ln -sfn "$PIFS" /usr/local/sbin/pifs
	[ -n "$KNFSD_GOLDEN" ] || bash "$PIFS_SRCDIR/tools/mkgolden.sh" "$T/golden" || { fail "mkgolden"; return 1; }
	mkdir -p "$T/store" /var/lib/pifs /srv/pifs /nfsroot /tftpboot /etc/exports.d
	mount --bind "$T/store" /var/lib/pifs || { fail "bind $T/store on /var/lib/pifs"; return 1; }
	MOUNTS+=(/var/lib/pifs)
	(
		pifs init /var/lib/pifs --golden "$golden" --master 10.1.1.100 &&
			for w in "$@"; do pifs worker add "${w%%:*}" --serial "${w#*:}" || exit 1; done
	) >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "pifs init, pifs worker add"; return 1; }
	if [ -n "${KNFSD_INSTALL:-}" ]; then
		# the README's zero-touch way: pifs keeps the file from now on
		pifs exports --install /etc/exports.d/pifs.exports >"$T/install.log" 2>&1 ||
			{ cat "$T/install.log"; fail "pifs exports --install"; return 1; }
	else
		pifs exports >/etc/exports.d/pifs.exports || { fail "pifs exports"; return 1; }
	fi
	: >/etc/exports
	while IFS= read -r l; do
		grep -qxF -- "$l" "$PIFS_SRCDIR/README.md" || fail "README's fstab has no line '$l'"
	done <<<"$KNFSD_FSTAB"
	printf '%s\n' "$KNFSD_FSTAB" >"$T/fstab"
	# mount.fuse3 starts a daemonized pifsd: its sanitizer reports go
	# to files, live on the host
	export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$KNFSD_OUT/asan"
	export UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$KNFSD_OUT/asan"
	knfsd_pifs_up || return 1
	knfsd_nfs_up || return 1
	exportfs -ra 2>"$T/exportfs.err" && [ ! -s "$T/exportfs.err" ] ||
		{ cat "$T/exportfs.err"; fail "exportfs -ra"; return 1; }
	knfsd_net_up
}

# knfsd_pifs_up: `mount -a` of the fstab lines; PIFSD_PID, its pid
# (lib.sh's cleanup stops it), which must have the sanitizer's log_path.
knfsd_pifs_up() {
	mount -T "$T/fstab" -a 2>"$T/mount.err" || { cat "$T/mount.err"; fail "mount -a of the README's fstab lines"; return 1; }
	MOUNTS+=(/srv/pifs)
	PIFSD_PID=$(tr -d '\n' </var/lib/pifs/lock/daemon)
	PIDS+=("$PIFSD_PID")
	tr '\0' '\n' <"/proc/$PIFSD_PID/environ" | grep -q "^ASAN_OPTIONS=.*log_path=$KNFSD_OUT/asan" ||
		{ fail "pifsd did not get ASAN_OPTIONS through mount(8): its sanitizer reports would be lost"; return 1; }
}

# knfsd_pifs_down: the README's way down for pifs (the NFS server let go
# of the views first): umount -R /nfsroot /tftpboot, pifs umount
# /srv/pifs, which returns once pifsd has exited.
knfsd_pifs_down() {
	umount -R /nfsroot /tftpboot 2>"$T/umount.err" || { cat "$T/umount.err"; fail "umount -R /nfsroot /tftpboot"; return 1; }
	pifs umount /srv/pifs 2>"$T/umount.err" || { cat "$T/umount.err"; fail "pifs umount /srv/pifs"; return 1; }
	! kill -0 "$PIFSD_PID" 2>/dev/null || { fail "pifsd $PIFSD_PID still runs after pifs umount"; return 1; }
}

# knfsd_sanitizer_reports: fail if pifsd wrote any
knfsd_sanitizer_reports() {
	compgen -G "$KNFSD_OUT/asan.*" >/dev/null || return 0
	head -60 "$KNFSD_OUT"/asan.*
	fail "sanitizer report from pifsd"
}

# knfsd_worker NAME DIR: the worker NAME as it boots: a network namespace
# with its registered address, mounting the nfsroot= of its generated
# cmdline.txt (in /tftpboot/<serial>/) on DIR with the options there,
# plus rw and nolock, which its initramfs (and the kernel's nfsroot=)
# add.  KNFSD_SPEC and KNFSD_OPTS: what it mounted.
KNFSD_SPEC=
KNFSD_OPTS=
knfsd_worker() {
	local w=$1 dir=$2 serial ip nfsroot
	read -r serial ip < <(pifs worker list | awk -v w="$w" '$1 == w { print $2, $4 }')
	[ -n "$ip" ] || { fail "$w is not registered"; return 1; }
	nfsroot=$(tr ' ' '\n' <"/tftpboot/$serial/cmdline.txt" | sed -n 's/^nfsroot=//p')
	[ -n "$nfsroot" ] || { fail "no nfsroot= in /tftpboot/$serial/cmdline.txt"; return 1; }
	KNFSD_SPEC=${nfsroot%%,*}
	KNFSD_OPTS=nolock,${nfsroot#*,},rw
	[ -e "/run/netns/$w" ] || knfsd_client "$w" "$ip" || return 1
	knfsd_mount "$w" "$KNFSD_SPEC" "$dir" "$KNFSD_OPTS" 2>"$T/mount.err" ||
		{ cat "$T/mount.err"; fail "$w ($ip) cannot mount $KNFSD_SPEC with -o $KNFSD_OPTS"; return 1; }
}

# knfsd_server_stop / knfsd_server_start: what `systemctl stop
# nfs-server` and `systemctl start nfs-server` run on a Debian master
# (nfs-server.service): rpc.nfsd 0, exportfs -au, exportfs -f; then
# exportfs -r, rpc.nfsd.  rpc.mountd and rpcbind stay, as they do there.
# Stopping the threads first matters: with nfsd still serving, a
# worker's request between `exportfs -au` and the next `exportfs -r`
# fails (EACCES); with none serving, its hard mount waits and retries.
knfsd_server_stop() {
	rpc.nfsd 0 && exportfs -au && exportfs -f || { fail "rpc.nfsd 0; exportfs -au; exportfs -f"; return 1; }
	KNFSD_NFSD=0
}
knfsd_server_start() {
	exportfs -r && rpc.nfsd 8 || { fail "exportfs -r; rpc.nfsd 8"; return 1; }
	KNFSD_NFSD=1
}

# knfsd_manifest DIR: lib.sh's tree_manifest in one perl process (a
# process per entry, as tree_manifest spawns, costs minutes under TCG):
# one line per entry below DIR, sorted: name, type, permissions, owner,
# size (not of directories), mtime (ns, from find), rdev, link count (not
# of directories), content digest (files over 64 MiB: 1 MiB at every
# GiB) or symlink target, every xattr (getfattr, hex).
knfsd_manifest() {
	# shellcheck disable=SC2016 # perl
	perl -e '
		use strict; use warnings; use Digest::SHA;
		chdir $ARGV[0] or die "$ARGV[0]: $!\n";
		my (%mt, %xa, @names);
		open(my $f, "-|", "find", ".", "-mindepth", "1", "-printf", "%P\\0%T@\\0") or die "find: $!\n";
		{ local $/ = "\0"; while (defined(my $p = <$f>)) { chomp $p; my $t = <$f>; chomp $t; $mt{$p} = $t; push @names, $p } }
		close $f or die "find failed\n";
		open(my $g, "-|", "getfattr -R -h -d -m - -e hex . 2>/dev/null") or die "getfattr: $!\n";
		my $cur;
		while (my $l = <$g>) {
			chomp $l;
			if ($l =~ /^# file: (.*)$/) { ($cur = $1) =~ s/\\([0-7]{3})/chr(oct($1))/ge; $cur =~ s{^\./}{}; next }
			push @{$xa{$cur}}, $l if defined $cur && length $l;
		}
		close $g;
		for my $p (sort @names) {
			my @st = lstat($p) or die "$p: $!\n";
			my $m = $st[2];
			my $type = -l _ ? "l" : -d _ ? "d" : -f _ ? "f" : -b _ ? "b" : -c _ ? "c" : -p _ ? "p" : -S _ ? "s" : "?";
			my $line = sprintf("%s|%04o|%d:%d|%s|%s|%d:%d|%s", $type, $m & 07777, $st[4], $st[5],
				$type eq "d" ? "-" : $st[7], $mt{$p}, $st[6] >> 8 & 0xfff, ($st[6] & 0xff) | ($st[6] >> 12 & 0xfff00),
				$type eq "d" ? "-" : $st[3]);
			if ($type eq "f") {
				my $sha = Digest::SHA->new(256);
				open(my $h, "<:raw", $p) or die "$p: $!\n";
				if ($st[7] > 64 << 20) {
					for my $gib (0 .. $st[7] >> 30) {
						my $buf = ""; sysseek($h, $gib << 30, 0); sysread($h, $buf, 1 << 20); $sha->add($buf);
					}
				} else {
					$sha->addfile($h);
				}
				$line .= "|" . substr($sha->hexdigest, 0, 16);
			} elsif ($type eq "l") {
				$line .= "|" . readlink($p);
			}
			$line .= "|" . join(" ", sort @{$xa{$p} // []});
			(my $n = $p) =~ s/([^\x21-\x7e])/sprintf("\\x%02x", ord($1))/ge;
			print "$n|$line\n";
		}
	' "$1"
}
