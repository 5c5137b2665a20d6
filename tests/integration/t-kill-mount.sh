#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# kill -9 of pifsd while it mounts or unmounts a worker's file system
# (`pifs worker add` / `worker remove` on a mounted store, or an
# enrolment): pifsd must die (no thread left waiting in the kernel on
# its own top mount), and `pifs mount` right after must work with no
# `umount -f` by hand, every worker served, fsck clean.
#
# A worker's mount point is inside the top file system pifsd serves, so
# the path walk of mount(2)/umount2(2) asks pifsd itself.  Made by a
# pifsd thread, a walk whose request a pifsd thread had already read
# waits without interruption, and a kill then leaves that thread, and so
# pifsd's fds and the mount, waiting for ever; t-enroll's kill rounds saw
# such a hang once under load.  The walks are now made by a helper
# process (fs/selfmount.c).  This test did not reproduce the hang on the
# code before the helper (three runs of 40 kills, 1-5 of them inside a
# walk, all clean): it guards the property rather than proving the old
# failure.  Kills land at random: each round records whether a
# process of pifsd's was in mount(2) or umount2(2) when the kill was sent
# or pifsd's helper for it was running (from /proc), and the test needs
# some that were.  To make such kills likely on any machine, pifsd's
# replies are slowed (strace delays its io_uring_enter and writev calls,
# which carry FUSE replies) while workers come and go, so each walk
# lasts a while.
. "$(dirname "$0")/lib.sh"
setup
make_store
S=$T/store
M=$T/mnt
mkdir -p "$M"
MOUNTS+=("$M")
# `pifs mount`, as a user runs it: it returns when the top and every
# worker's file system are mounted, and detaches a dead mount left by a
# killed pifsd first (the test's mount_pifs would take a dead mount's
# cached attributes for a live one).
pifs_mount() {
	local out
	out=$("$PIFS" --store "$S" mount "$M" -o allow_other,log="$T/pifsd.log"${1:+,$1} 2>&1) ||
		{ fail "pifs mount: $out"; finish; }
	PIFSD_PID=$(pgrep -n -f "pifsd $S $M")
	[ -n "$PIFSD_PID" ] || { fail "no pifsd for $M"; finish; }
	PIDS+=("$PIFSD_PID")
}
pifs_mount uring=off

# in_walk PID: a mount or unmount of a worker is under way: a task of
# pifsd is in mount(2) or umount2(2) (x86_64 165/166, arm64 40/39), or
# pifsd's helper process for it is running
case $(uname -m) in
x86_64) SYS_MOUNT=165 SYS_UMOUNT=166 ;;
aarch64) SYS_MOUNT=40 SYS_UMOUNT=39 ;;
*) skip "no mount syscall numbers for $(uname -m)" ;;
esac
in_walk() {
	local f n c
	# builtins only: the loop polls fast
	for f in /proc/"$1"/task/*/syscall; do
		read -r n _ <"$f" 2>/dev/null || continue
		[ "$n" = "$SYS_MOUNT" ] || [ "$n" = "$SYS_UMOUNT" ] && return 0
	done
	# a helper (fs/selfmount.c) is under way: pifsd's only children
	for f in /proc/"$1"/task/*/children; do
		c=
		read -r c <"$f" 2>/dev/null
		[ -n "$c" ] && return 0
	done
	return 1
}
# alive PID: a thread of PID is not a zombie (the thread group leader
# is one as soon as it exits, while a thread stuck in the kernel lives on)
alive() {
	local t s
	for t in /proc/"$1"/task/*; do
		s=$(sed 's/.*) //' "$t/stat" 2>/dev/null | cut -d' ' -f1)
		[ -n "$s" ] && [ "$s" != Z ] && return 0
	done
	return 1
}

command -v strace >/dev/null || skip "strace missing (apt-get install strace)"
landed=0 rounds=0 n=0
for round in $(seq 1 40); do
	rounds=$round
	strace -f -qq -o /dev/null -e trace=io_uring_enter,writev \
		-e inject=io_uring_enter,writev:delay_enter=50000 -p "$PIFSD_PID" &
	tracer=$!
	PIDS+=("$tracer")
	# bounded: strace has attached when pifsd's state shows a tracer
	for _ in $(seq 1 100); do
		grep -q "^TracerPid:[[:space:]]*[1-9]" /proc/"$PIFSD_PID"/status && break
		sleep 0.05
	done
	# Workers come and go, each add or remove a live mount or unmount.
	(
		for i in 1 2 3 4 5 6; do
			k=$((n + i))
			"$PIFS" --store "$S" worker add "k$k" --serial "$(printf '5%07x' "$k")" >/dev/null 2>&1
			"$PIFS" --store "$S" worker remove "k$((k - 1))" --force >/dev/null 2>&1
		done
	) &
	churn=$!
	# Wait (bounded) until a mount or unmount walk is under way, then
	# kill: most kills land inside one.
	hit=0
	for _ in $(seq 1 4000); do
		if in_walk "$PIFSD_PID"; then
			hit=1
			break
		fi
		kill -0 "$churn" 2>/dev/null || break
	done
	kill -9 "$PIFSD_PID"
	[ $hit = 1 ] && landed=$((landed + 1))
	wait "$churn" 2>/dev/null
	wait "$tracer" 2>/dev/null
	n=$((n + 6))
	# pifsd must be gone: with a thread of its own in the walk it was
	# not, ever.  Bounded, generous (a sanitizer build on a busy machine).
	for _ in $(seq 1 600); do alive "$PIFSD_PID" || break; sleep 0.1; done
	if alive "$PIFSD_PID"; then
		fail "round $round: pifsd $PIFSD_PID still alive 60 s after kill -9 (kill landed in a mount walk: $hit)"
		for t in /proc/"$PIFSD_PID"/task/*; do
			echo "--- task ${t##*/}: syscall $(cut -d' ' -f1 "$t/syscall" 2>/dev/null)"
			cat "$t/stack" 2>/dev/null | head -8
		done
		umount -f "$M" 2>/dev/null
		break
	fi
	# No hand work: the next mount finds the dead one and detaches it.
	# Every other round serves over /dev/fuse (a kernel before 6.14,
	# bookworm's own) rather than io_uring.
	out=$("$PIFS" --store "$S" fsck 2>&1) || { fail "round $round: fsck: $out"; break; }
	pifs_mount $([ $((round % 2)) = 1 ] && echo uring=off)
	for w in $("$PIFS" --store "$S" worker list | awk 'NR > 1 { print $1 }'); do
		mountpoint -q "$M/nfsroot/$w" || { fail "round $round: worker $w not mounted after the remount"; break 2; }
	done
	[ -f "$M/nfsroot/worker-3/etc/hostname" ] || { fail "round $round: worker-3 not served"; break; }
	[ "$landed" -ge 6 ] && break
done
[ "$NFAIL" -eq 0 ] && ok "$rounds kills of pifsd, $landed while a worker mount or unmount was under way: pifsd gone each time, remounted with no umount -f, fsck clean"
[ "$landed" -ge 1 ] || fail "no kill landed in a worker mount or unmount in $rounds rounds: the test showed nothing"
"$PIFS" umount "$M" || fail "pifs umount"
finish
