#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Unmounting and mounting again at once, as `pifs umount M && pifs mount S
# M` or a systemd restart does: `pifs umount` returns only when pifsd has
# let go of the store (its process gone); `pifs mount` of a store whose
# pifsd is still exiting waits for it, while a store a live pifsd serves is
# still refused.  `pifs umount` first unmounts what is mounted below the
# mount point (pifsd's per-worker mounts, or an admin's), names a busy
# mount in one line, and refuses a directory that is not a pifs mount.
. "$(dirname "$0")/lib.sh"
setup
make_store
S=$T/store
R=$(cd "$T" && pwd -P) # mountinfo and the messages name resolved paths
M=$R/mnt
mkdir -p "$M" "$T/other"
MOUNTS+=("$M")

# alive PID: the process exists and is not a zombie
alive() {
	local s
	s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$s" ] && [ "$s" != Z ]
}
# the newest: an older one may still be exiting
daemon_pid() { pgrep -n -f "pifsd $S $M"; }
# mounts_below DIR: the mount points at or below DIR, from mountinfo
mounts_below() { awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo; }
# exit status of CMD...
status() { "$@" >/dev/null 2>&1; echo $?; }
# without9 CMD...: CMD without the file the test holds open on fd 9
without9() { "$@" 9<&-; }

"$PIFS" --store "$S" mount "$M" -o allow_other || { fail "pifs mount"; finish; }

# 1. pifs umount && pifs mount, back to back: every round must succeed at
# once (the race t-fstab lost on a fresh machine), and pifsd must be gone
# when pifs umount returns.
for i in 1 2 3 4 5; do
	pid=$(daemon_pid)
	[ -n "$pid" ] && PIDS+=("$pid")
	[ -d "$M/nfsroot/worker-1/etc" ] || fail "round $i: the mount serves nothing"
	out=$("$PIFS" umount "$M" 2>&1) || { fail "round $i: pifs umount: $out"; break; }
	mountpoint -q "$M" && fail "round $i: '$M' still mounted after pifs umount"
	if [ -z "$pid" ]; then
		fail "round $i: no pifsd found for '$M'"
	elif alive "$pid"; then
		fail "round $i: pifsd $pid still running when pifs umount returned"
	fi
	out=$("$PIFS" --store "$S" mount "$M" -o allow_other 2>&1) || { fail "round $i: pifs mount right after pifs umount: $out"; break; }
done
[ "$NFAIL" -eq 0 ] && ok "5 rounds of pifs umount && pifs mount, pifsd gone each time"

# 2. pifs mount right after a plain umount -R (the top and every worker's
# file system below it), whose pifsd is still exiting: the mount waits
# for it (also in the mount.fuse3 form).
n=$NFAIL
for i in 1 2 3 4 5; do
	pid=$(daemon_pid)
	[ -n "$pid" ] && PIDS+=("$pid")
	umount -R "$M" || { fail "round $i: umount -R"; break; }
	if [ $((i % 2)) = 1 ]; then
		out=$("$PIFS" --store "$S" mount "$M" -o allow_other 2>&1)
	else
		out=$("$PIFS" "$S" "$M" -o allow_other 2>&1)
	fi || { fail "round $i: mount right after umount -R: $out"; break; }
	[ -d "$M/nfsroot/worker-3/etc" ] || fail "round $i: the new mount serves nothing"
done
[ "$NFAIL" -eq "$n" ] && ok "5 rounds of umount -R && mount: the mount waited for the exiting pifsd"

# 2b. the same made certain: a file held open (in a worker's file system)
# across a lazy unmount keeps pifsd running with no mount left, as while
# it exits; a mount started
# then must wait until it has gone (the file is closed after a moment,
# which only makes sure the mount finds the store still held).
pid=$(daemon_pid)
[ -n "$pid" ] && PIDS+=("$pid")
exec 9<"$M/nfsroot/worker-1/etc/motd"
umount -l "$M" || fail "umount -l"
(exec 9<&-; "$PIFS" --store "$S" mount "$M" -o allow_other >"$T/bg.out" 2>&1; echo $? >"$T/bg.rc") &
BG=$!
sleep 0.5
exec 9<&-
wait "$BG"
expect_eq "mount waits for a pifsd that lets go ($(cat "$T/bg.out"))" 0 "$(cat "$T/bg.rc")"
[ -d "$M/nfsroot/worker-3/etc" ] && ok "and then serves" || fail "the waiting mount serves nothing"

# 2c. a pifsd that serves no mount but never lets go: refused in one
# line after a bounded wait
pid=$(daemon_pid)
[ -n "$pid" ] && PIDS+=("$pid")
exec 9<"$M/nfsroot/worker-1/etc/motd"
umount -l "$M" || fail "umount -l"
expect_fail "mount of a store a stuck pifsd holds" "^pifs: store '$S' is held by pifsd pid $pid, which serves no mount of it but has not let go within [0-9]+ s$" without9 "$PIFS" --store "$S" mount "$M" -o allow_other
mountpoint -q "$M" && fail "'$M' got mounted while the store was held"
exec 9<&-
"$PIFS" --store "$S" mount "$M" -o allow_other || fail "mount once the stuck pifsd let go"

# 3. a store a live pifsd serves is still refused, in both forms
pid=$(daemon_pid)
[ -n "$pid" ] && PIDS+=("$pid")
expect_fail "a second mount of a served store is refused" "already mounted.*$pid" "$PIFS" mount "$S" "$T/other"
expect_fail "a second mount.fuse3-style mount is refused" "already mounted.*$pid" "$PIFS" "$S" "$T/other" -o allow_other
mountpoint -q "$T/other" && fail "'$T/other' got mounted"

# 4. what is not a pifs mount
mkdir -p "$R/plain" "$R/tmpfs"
expect_fail "umount of a plain directory" "^pifs: '$R/plain' is not a pifs mount$" "$PIFS" umount "$R/plain"
expect_eq "umount of a plain directory: exit status" 1 "$(status "$PIFS" umount "$R/plain")"
mount -t tmpfs -o size=1m pifs-test "$R/tmpfs" && MOUNTS+=("$R/tmpfs") || fail "mount tmpfs"
expect_fail "umount of a tmpfs" "^pifs: '$R/tmpfs' is not a pifs mount$" "$PIFS" umount "$R/tmpfs"
expect_eq "umount of a tmpfs: exit status" 1 "$(status "$PIFS" umount "$R/tmpfs")"
mountpoint -q "$R/tmpfs" && ok "the tmpfs is left mounted" || fail "pifs umount unmounted a tmpfs"
expect_fail "umount of a missing directory" "^pifs: '$R/nope' is not a pifs mount$" "$PIFS" umount "$R/nope"
expect_fail "umount of a directory below a pifs mount" "^pifs: '$M/nfsroot' is not a pifs mount$" "$PIFS" umount "$M/nfsroot"

# 5. mounts below the pifs mount (pifsd's own per-worker mounts, an
# admin's bind mount) are unmounted first, deepest first; a busy one is
# named in one line and nothing above it is unmounted.
W1=$M/nfsroot/worker-1
W3=$M/nfsroot/worker-3
mkdir -p "$T/below"
echo below > "$T/below/file"
if ! mount -t tmpfs -o size=1m pifs-below "$W1" 2>/dev/null; then
	mount --bind "$T/below" "$W1" || { fail "cannot mount anything on '$W1'"; finish; }
fi
mkdir -p "$W1/deeper" && mount --bind "$T/below" "$W1/deeper" || fail "bind mount on '$W1/deeper'"
# pifsd's own: a file system per worker; then the tmpfs over worker-1's
expect_eq "mounts below the pifs mount" "$M $W1 $W3 $W1 $W1/deeper" "$(mounts_below "$M" | tr '\n' ' ' | sed 's/ $//')"
(cd "$W1/deeper" && exec sleep 600) &
BUSY=$!
PIDS+=("$BUSY")
for _ in $(seq 1 100); do [ "$(readlink "/proc/$BUSY/cwd")" = "$W1/deeper" ] && break; sleep 0.05; done
expect_fail "a busy mount below is named" "^pifs: cannot unmount '$W1/deeper': .*busy" "$PIFS" umount "$M"
expect_eq "after the busy refusal: exit status" 1 "$(status "$PIFS" umount "$M")"
# (a sibling unmounted before the busy one was met, worker-3's file
# system, is mounted again by pifsd: the same set, in another order)
expect_eq "nothing above the busy mount was unmounted" "$(printf '%s\n' "$M" "$W1" "$W3" "$W1" "$W1/deeper" | sort | tr '\n' ' ')" "$(mounts_below "$M" | sort | tr '\n' ' ')"
kill "$BUSY"
wait "$BUSY" 2>/dev/null
pid=$(daemon_pid)
[ -n "$pid" ] && PIDS+=("$pid")
if out=$("$PIFS" umount "$M" 2>&1); then ok "pifs umount with mounts below"; else fail "pifs umount with mounts below: $out"; fi
expect_eq "nothing left mounted at or below '$M'" "" "$(mounts_below "$M")"
[ -n "$pid" ] && alive "$pid" && fail "pifsd $pid still running after pifs umount with mounts below"
expect_eq "the bind mount's source is untouched" below "$(cat "$T/below/file")"

# 6. the pifs mount itself busy: named, and still served, the workers'
# file systems too (pifs umount had unmounted them first: pifsd mounts
# them again)
"$PIFS" --store "$S" mount "$M" -o allow_other || fail "pifs mount after the mounts below"
pid=$(daemon_pid)
[ -n "$pid" ] && PIDS+=("$pid")
(cd "$M/nfsroot" && exec sleep 600) &
BUSY=$!
PIDS+=("$BUSY")
for _ in $(seq 1 100); do [ "$(readlink "/proc/$BUSY/cwd")" = "$M/nfsroot" ] && break; sleep 0.05; done
expect_fail "a busy pifs mount is named" "^pifs: cannot unmount '$M': .*busy" "$PIFS" umount "$M"
[ -d "$M/nfsroot/worker-3/etc" ] && ok "still served after the busy refusal" || fail "not served after the busy refusal"
mountpoint -q "$M/nfsroot/worker-1" && mountpoint -q "$M/nfsroot/worker-3" &&
	ok "the workers' file systems are mounted again" || fail "a worker's file system is left unmounted after the busy refusal"
kill "$BUSY"
wait "$BUSY" 2>/dev/null
"$PIFS" umount "$M" && ok "pifs umount once no longer busy" || fail "pifs umount once no longer busy"
[ -n "$pid" ] && alive "$pid" && fail "pifsd $pid still running after pifs umount"

# 7. a pifsd that does not exit after its unmount (stopped here): pifs
# umount says so in one line after its bounded wait
"$PIFS" --store "$S" mount "$M" -o allow_other || fail "pifs mount before stopping pifsd"
pid=$(daemon_pid)
[ -n "$pid" ] && PIDS+=("$pid")
kill -STOP "$pid"
expect_fail "pifs umount of a pifsd that does not exit" "^pifs: unmounted '$M', but its pifsd \(pid $pid\) has not exited within [0-9]+ s$" "$PIFS" umount "$M"
mountpoint -q "$M" && fail "'$M' still mounted"
kill -CONT "$pid"
finish
