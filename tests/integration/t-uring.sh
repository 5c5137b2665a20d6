#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# FUSE over io_uring (fs/uring.c): where the kernel has it, pifsd serves
# every file system's requests (the top: tftpboot/, nfsroot/; each
# worker's: t-uring-workers.sh) from one set of per-CPU rings, and
# /dev/fuse otherwise.  Everything a user does in a view must give the same
# bytes, attributes and errors with and without rings (-o uring=off), at
# the edges of the buffers too: 1 MiB reads and writes (the payload
# size), reads from both CPUs at once, 255-byte names, a 3.9 KiB xattr
# value, and error replies.  pifsd reports at exit how many requests the
# rings served, so a ring that silently handed everything to /dev/fuse
# fails: tftpboot/, which the kernel never caches, is walked for that.
. "$(dirname "$0")/lib.sh"
setup
make_store
M=$T/mnt
PARAM=/sys/module/fuse/parameters/enable_uring
ncpu=$(nproc)

# The same checks on one view; $1 = the view, $2 = a name for messages.
workload() {
	local V=$1 tag=$2 f
	# golden files, every one, byte for byte (but the generated
	# identity files, which differ by design)
	local bad=0
	while IFS= read -r -d '' f; do
		case $f in ./etc/hosts | ./etc/hostname | ./etc/fstab | ./etc/machine-id | ./boot/firmware/cmdline.txt) continue ;; esac
		cmp -s "$T/golden/$f" "$V/$f" || { bad=1; echo "differs: $f"; }
	done < <(cd "$T/golden" && find . -type f -size -8M -print0)
	[ $bad = 0 ] && ok "$tag: every golden file reads back" || fail "$tag: golden files differ"
	# 3 MiB + 1 byte written in 1 MiB and odd-sized writes, read back in
	# 4 KiB, 128 KiB, 1 MiB and 3 MiB reads
	head -c $((3 * 1048576 + 1)) /dev/urandom > "$T/big.$tag"
	dd if="$T/big.$tag" of="$V/root/big" bs=1M status=none || fail "$tag: dd bs=1M"
	cmp -s "$T/big.$tag" "$V/root/big" && ok "$tag: 1 MiB writes" || fail "$tag: 1 MiB writes differ"
	dd if="$T/big.$tag" of="$V/root/big2" bs=777777 status=none || fail "$tag: dd bs=777777"
	for bs in 4k 128k 1M 3M; do
		# iflag=direct: past the page cache, so each read is a request
		dd if="$V/root/big2" of="$T/back" bs=$bs iflag=direct status=none 2>/dev/null ||
			dd if="$V/root/big2" of="$T/back" bs=$bs status=none
		cmp -s "$T/big.$tag" "$T/back" && ok "$tag: read back, $bs reads" || fail "$tag: $bs reads differ"
	done
	# a golden file through a view is direct_io: every read a request;
	# readers on every CPU at once
	local pids=() c
	for c in $(seq 0 $((ncpu - 1))); do
		taskset -c "$c" bash -c 'for i in $(seq 1 20); do cmp -s "$1" "$2" || exit 1; done' _ \
			"$T/golden/usr/bin/bash" "$V/usr/bin/bash" &
		pids+=($!)
	done
	bad=0
	for c in "${pids[@]}"; do wait "$c" || bad=1; done
	[ $bad = 0 ] && ok "$tag: concurrent readers on $ncpu CPUs" || fail "$tag: a concurrent reader saw other bytes"
	# names at the limit
	local long
	long=$(printf 'n%.0s' $(seq 1 255))
	echo named > "$V/root/$long" || fail "$tag: create a 255-byte name"
	mv "$V/root/$long" "$V/root/${long%n}m" || fail "$tag: rename a 255-byte name"
	expect_eq "$tag: 255-byte name listed" "${long%n}m" "$(ls "$V/root" | grep '^nnn')"
	expect_eq "$tag: 255-byte name read" "named" "$(cat "$V/root/${long%n}m")"
	expect_fail "$tag: 256-byte name" "File name too long" touch "$V/root/${long}x"
	# an xattr value as big as the delta's ext4 takes (a block), in the
	# payload after the name
	head -c 2900 /dev/urandom | base64 -w0 > "$T/xv.$tag"
	setfattr -n user.big -v "$(cat "$T/xv.$tag")" "$V/root/big" || fail "$tag: setfattr of $(wc -c < "$T/xv.$tag") bytes"
	expect_eq "$tag: the xattr back (md5)" "$(md5sum < "$T/xv.$tag")" "$(getfattr --only-values -n user.big "$V/root/big" | md5sum)"
	# error replies
	expect_fail "$tag: ENOENT" "No such file or directory" cat "$V/root/missing"
	expect_fail "$tag: EEXIST" "File exists" mkdir "$V/etc"
	expect_fail "$tag: ENOTEMPTY" "Directory not empty" rmdir "$V/etc"
	# symlinks, truncation, attributes
	ln -s ../etc/motd "$V/root/link" && expect_eq "$tag: readlink" "../etc/motd" "$(readlink "$V/root/link")"
	truncate -s 12345 "$V/root/big" && expect_eq "$tag: truncate" 12345 "$(stat -c %s "$V/root/big")"
	expect_eq "$tag: golden untouched" "$(stat -c %s "$T/golden/etc/motd")" "$(stat -c %s "$V/etc/motd")"
}

served() { sed -n 's/.*FUSE over io_uring: \([0-9]*\) requests served.*/\1/p' "$T/pifsd.log" | tail -1; }
# What dnsmasq does, many times: list tftpboot/ and stat the boot files
# (neither cached by the kernel: every walk is requests to the top).
walk_tftpboot() {
	local i
	for i in $(seq 1 150); do find "$1/tftpboot/" -type f -size +0 >/dev/null || return 1; done
}

# ---- the default: io_uring where the kernel has it ----
mount_pifs "$T/store" "$M"
if [ -e "$PARAM" ]; then
	expect_eq "pifsd sets fuse.enable_uring" Y "$(cat "$PARAM")"
	grep -q "FUSE over io_uring: $(cut -d- -f2 /sys/devices/system/cpu/possible | awk '{print $1+1}') queues" "$T/pifsd.log" &&
		ok "a queue per possible CPU" || { cat "$T/pifsd.log"; fail "pifsd did not start its io_uring queues"; }
	workload "$M/nfsroot/worker-3" uring
	walk_tftpboot "$M" || fail "walking tftpboot/"
	umount_pifs "$M"
	n=$(served)
	# 150 walks of a few names each, every one a request
	[ -n "$n" ] && [ "$n" -gt 1000 ] && ok "the rings served $n requests" ||
		{ tail -5 "$T/pifsd.log"; fail "the rings served '${n:-none}' requests"; }
else
	grep -q "requests by /dev/fuse" "$T/pifsd.log" && ok "no io_uring in this kernel: /dev/fuse, said once" ||
		fail "pifsd did not say it serves /dev/fuse"
	workload "$M/nfsroot/worker-3" default
	umount_pifs "$M"
fi

# ---- -o uring=off: /dev/fuse, the same results ----
: > "$T/pifsd.log"
mount_pifs "$T/store" "$M" -o uring=off
grep -q "FUSE over io_uring" "$T/pifsd.log" && fail "uring=off still started io_uring queues"
workload "$M/nfsroot/worker-1" devfuse
umount_pifs "$M"
[ -z "$(served)" ] && ok "uring=off: no ring served anything" || fail "uring=off: rings served requests"

# What the rings wrote is on disk: read back over /dev/fuse.
if [ -e "$PARAM" ]; then
	mount_pifs "$T/store" "$M" -o uring=off
	expect_eq "writes made through the rings, read over /dev/fuse" "$(head -c 12345 "$T/big.uring" | md5sum)" \
		"$(md5sum < "$M/nfsroot/worker-3/root/big")"
	umount_pifs "$M"
fi

# io_uring refused by the system (kernel.io_uring_disabled=2): pifsd
# must find out before its INIT reply asks the kernel for io_uring (which
# would then hold every request for queues that never come), and serve
# /dev/fuse.  The sysctl is put back on exit.
SYSCTL=/proc/sys/kernel/io_uring_disabled
if [ -e "$PARAM" ] && [ -w "$SYSCTL" ]; then
	old_disabled=$(cat "$SYSCTL")
	trap 'echo "$old_disabled" > "$SYSCTL"; cleanup' EXIT
	echo 2 > "$SYSCTL"
	: > "$T/pifsd.log"
	mount_pifs "$T/store" "$M"
	echo "$old_disabled" > "$SYSCTL"
	grep -q "cannot make io_uring rings (.*): requests by /dev/fuse" "$T/pifsd.log" &&
		ok "rings refused: pifsd says so and serves /dev/fuse" || { cat "$T/pifsd.log"; fail "no fallback message"; }
	expect_eq "rings refused: the mount answers" "$(cat "$T/golden/etc/motd")" "$(timeout 10 cat "$M/nfsroot/worker-1/etc/motd")"
	umount_pifs "$M"
	[ -z "$(served)" ] && ok "rings refused: none served" || fail "rings refused, yet some served"
fi

expect_fail "a bad uring option" "pifsd: bad uring 'maybe' \\(on or off\\)" "$PIFSD" "$T/store" "$M" -o uring=maybe
check_daemon_log
finish
