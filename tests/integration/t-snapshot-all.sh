#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pifs snapshot --all (what the nightly timer runs): on a mounted store,
# every worker with changes gets a snapshot and the unchanged one is
# skipped, one line each; on an unmounted store the same; --allow-empty
# snapshots them all; a worker that fails is named on stderr, the others
# are still recorded, exit 1; a WORKER with --all is a usage error.
. "$(dirname "$0")/lib.sh"
setup
make_store
P() { "$PIFS" --store "$T/store" "$@"; }
P worker add worker-2 --serial 2222aaaa >/dev/null || { fail "worker add 2"; finish; }
M=$T/mnt
ID='[0-9a-f]{40}'

# ---- mounted: worker-1 and worker-3 changed, worker-2 not
mount_pifs "$T/store" "$M"
echo one > "$M/nfsroot/worker-1/etc/hostname"
mkdir "$M/nfsroot/worker-3/data" && echo three > "$M/nfsroot/worker-3/data/file"
out=$(P snapshot --all -m "scheduled snapshot" 2>"$T/err"); rc=$?
expect_eq "mounted: exit 0" 0 "$rc"
expect_eq "mounted: nothing on stderr" "" "$(cat "$T/err")"
if [[ $out =~ ^worker-1\ ($ID)$'\n'worker-2\ unchanged$'\n'worker-3\ ($ID)$ ]]; then
	ok "mounted: one line per worker, worker-2 unchanged"
	id1=${BASH_REMATCH[1]} id3=${BASH_REMATCH[2]}
else
	fail "mounted: output '$out'"; id1=x id3=x
fi
for w in 1 3; do
	id=id$w
	line=$(P log worker-$w | head -1)
	[[ $line =~ ^\*\ ${!id:0:7}\ .*\ scheduled\ snapshot\ \ \( ]] &&
		ok "pifs log worker-$w: the scheduled snapshot is its head" ||
		fail "pifs log worker-$w: '$line' (expected ${!id:0:7})"
done
expect_eq "pifs log worker-2: still no snapshot" "no snapshots of worker-2" "$(P log worker-2)"
expect_eq "snapshot holds worker-3's file" "three" "$(P show worker-3 "$id3:data/file" 2>&1)"

# ---- unmounted: only worker-2 changed since
echo two > "$M/nfsroot/worker-2/etc/hostname"
umount_pifs "$M"
out=$(P snapshot --all 2>&1); rc=$?
expect_eq "unmounted: exit 0" 0 "$rc"
[[ $out =~ ^worker-1\ unchanged$'\n'worker-2\ ($ID)$'\n'worker-3\ unchanged$ ]] &&
	ok "unmounted: only worker-2 snapshotted" || fail "unmounted: output '$out'"
expect_eq "unmounted: worker-2's snapshot holds its change" "two" \
	"$(P show worker-2 HEAD:etc/hostname 2>&1)"

# ---- --allow-empty: all three, each a new head
out=$(P snapshot --all --allow-empty -m empty 2>&1); rc=$?
expect_eq "--allow-empty: exit 0" 0 "$rc"
[[ $out =~ ^worker-1\ $ID$'\n'worker-2\ $ID$'\n'worker-3\ $ID$ ]] &&
	ok "--allow-empty: every worker snapshotted" || fail "--allow-empty: output '$out'"
expect_eq "--allow-empty: worker-1 has two snapshots" 2 "$(P log worker-1 | wc -l)"

# ---- one worker fails: named on stderr, the others recorded, exit 1
echo again > "$T/store/deltas/worker-1/etc/hostname"
echo again > "$T/store/deltas/worker-3/data/file"
mv "$T/store/deltas/worker-2" "$T/moved-away"
out=$(P snapshot --all 2>"$T/err"); rc=$?
expect_eq "a failing worker: exit 1" 1 "$rc"
[[ $out =~ ^worker-1\ $ID$'\n'worker-3\ $ID$ ]] &&
	ok "a failing worker: the others are snapshotted" || fail "a failing worker: output '$out'"
if [ "$(wc -l < "$T/err")" = 1 ] && grep -Eq "^pifs: .*worker-2" "$T/err"; then
	ok "a failing worker: one line naming it ($(cat "$T/err"))"
else
	fail "a failing worker: stderr '$(cat "$T/err")'"
fi
mv "$T/moved-away" "$T/store/deltas/worker-2"

expect_fail "--all with a WORKER" "^pifs: snapshot --all takes no WORKER$" P snapshot --all worker-1
P snapshot --all worker-1 >/dev/null 2>&1; expect_eq "--all with a WORKER: exit 2" 2 "$?"
finish
