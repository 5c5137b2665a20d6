#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Snapshots of a mounted worker follow pifsd's journal: the scan stats
# only the paths changed through the mount (and the directories above
# them) and takes everything else from the stat cache.  Each case below
# is a change the journal must not miss; after each, the snapshot must
# say it followed the journal, a round trip (reset --golden, reset --to
# it) must give back the view exactly, and a scan without the cache must
# find nothing more.  Cases where the journal cannot be trusted (a daemon
# restart, a reset) must fall back to a full scan.
. "$(dirname "$0")/lib.sh"
mounted_store

# snap NAME MODE: snapshot with --stats; ID and STATED set; the scan
# must have been MODE (journal or full)
snap() {
	local out
	out=$($P snapshot worker-3 -m "$1" --stats 2>&1) || { fail "$1: snapshot: $out"; return 1; }
	ID=$(echo "$out" | head -1)
	STATED=$(echo "$out" | sed -n 's/.* stated \([0-9]*\)$/\1/p')
	case $out in
	*" scan $2 stated "*) ok "$1: the scan was $2 ($STATED names stated)" ;;
	*) fail "$1: expected a $2 scan: $out" ;;
	esac
}

# arm: a snapshot (nothing new) after a reset, so the journal is valid
# again and the cache is saved under its token; older than the racy
# window first, so the cache keeps every entry's times
arm() {
	racy_wait
	$P snapshot worker-3 -m arm >/dev/null 2>&1
	racy_wait
}

# case_check NAME [keep]: after a change through the mount.  A scan from
# scratch (no cache: every file read, every tree built) must make the
# same snapshot; then the round trip, unless keep (a reset would cut the
# test's open files off their delta files).
case_check() {
	tree_manifest "$W3" > "$T/m"
	snap "$1" journal || return
	local id=$ID
	rm -f "$T/store/git/pifs-cache/worker-3"
	expect_eq "$1: a scan without the cache finds nothing more" \
		"nothing to snapshot for worker-3" "$($P snapshot worker-3 -m fresh 2>&1)"
	[ "${2:-}" = keep ] && { racy_wait; return; }
	round_trip "$1" "$id" "$T/m"
	arm
}

# A tree worth a journal: 400 files in 4 directories, two directories
# with the same names (for the rename case), a hard-linked pair.
mkdir -p "$W3/srv/bulk" "$W3/srv/x" "$W3/srv/y" || fail mkdir
for d in 0 1 2 3; do
	mkdir -p "$W3/srv/bulk/d$d"
	for i in $(seq 1 100); do echo "bulk $d $i" > "$W3/srv/bulk/d$d/f$i"; done
done
for n in a b c; do echo "xxxx $n" > "$W3/srv/x/$n"; echo "yyyy $n" > "$W3/srv/y/$n"; done
echo linked > "$W3/srv/h1" && ln "$W3/srv/h1" "$W3/srv/h2" || fail "hard link"
racy_wait
snap "first, mounted (no journal yet)" full
arm
snap_total=$(tree_manifest "$W3" | wc -l)

echo changed >> "$W3/srv/bulk/d2/f50"
case_check "one file appended"
[ -n "$STATED" ] && [ "$STATED" -lt 50 ] && ok "one changed file: $STATED of $snap_total names stated" ||
	fail "one changed file: $STATED of $snap_total names stated"

# (moved away, not removed: the journal never sees the old srv/x/a)
mv "$W3/srv/x" "$W3/srv/old-x" && mv "$W3/srv/y" "$W3/srv/x" || fail "replace a directory by a rename"
case_check "a directory replaced by another with the same names and sizes"

echo "through h2" > "$W3/srv/h2" && rm "$W3/srv/h2" || fail "hard link write"
case_check "a write through the other name of a hard link, then that name removed"

exec 8>>"$W3/srv/bulk/d1/f1"
echo "first write" >&8
case_check "a write through an open file" keep
echo "second write, same open file, after the snapshot" >&8
case_check "a later write through the same open file" keep
mv "$W3/srv/bulk/d1/f1" "$W3/srv/renamed-open"
echo "written after its rename" >&8
exec 8>&-
case_check "a write through an open file renamed since"

rm "$W3/etc/motd" && chmod 700 "$W3/srv" && setfattr -n user.tag -v dir "$W3/srv/bulk" &&
	chmod 750 "$W3" && mkdir -p "$W3/new/a/b" && echo leaf > "$W3/new/a/b/leaf" &&
	rm -r "$W3/srv/bulk/d3" || fail "assorted changes"
case_check "a whiteout, modes, an xattr on a directory, the root's mode, new and removed directories"

echo golden-copy-up >> "$W3/usr/share/doc/pkg2/copyright"
case_check "a copy-up of a golden file"

# Not trusted: a daemon restart or a reset since the cache was saved.
umount_pifs "$M"
mount_pifs "$T/store" "$M"
echo after-restart >> "$W3/srv/bulk/d0/f7"
snap "after a daemon restart" full
arm
echo again >> "$W3/srv/bulk/d0/f8"
snap "the snapshot after that" journal
$P reset worker-3 --to "$ID" --force >/dev/null || fail "reset --to"
echo after-reset >> "$W3/srv/bulk/d0/f9"
snap "after a reset" full

out=$($P fsck 2>&1) && ok "fsck clean" || { echo "$out"; fail "fsck"; }
umount_pifs "$M"
check_daemon_log
finish
