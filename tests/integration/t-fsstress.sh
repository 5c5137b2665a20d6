#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-fsstress.sh - fsstress-style random metadata operations compared
# errno by errno: tests/tools/fsops makes the same seeded sequence of
# creates, mkdirs, renames (plain, noreplace, exchange), links,
# symlinks, unlinks, rmdirs, chmods, truncates, writes, reads, fifos,
# xattrs and utimens in worker-3's view (golden directories: copy-ups,
# whiteouts, opaque directories) and in a `cp -a` of the same directories
# on the store's own file system.  Each operation's result (errno, and
# what it read) must be the same on both, and so must the final trees:
# names, types, sizes, modes, owners, link counts and xattrs (not a
# directory's link count: pifs reports 1 for one the golden has a part
# of, overlay/view/inode.c).  Then a snapshot, a reset to the bare golden and back to that
# snapshot must give the same tree again.  PIFS_FSSTRESS_SEEDS and
# PIFS_FSSTRESS_OPS make longer runs; a failure names its seed.
. "$(dirname "$0")/lib.sh"
setup
FSOPS=$PIFS_BUILDDIR/tests/tools/fsops
[ -x "$FSOPS" ] || { fail "tests/tools/fsops not built"; exit 1; }
make_store
M=$T/mnt
mount_pifs "$T/store" "$M"
W3=$M/nfsroot/worker-3
PLAIN=$T/plain
DIRS="etc usr home var/log boot"
SEEDS=${PIFS_FSSTRESS_SEEDS:-"1 2 3"}
NOPS=${PIFS_FSSTRESS_OPS:-400}
mkdir -p "$PLAIN/var"
for d in $DIRS; do
	cp -a "$W3/$d" "$PLAIN/$d" || fail "cp -a $d"
done

# manifest DIR: what a user checks of every entry below the DIRS
manifest() {
	(cd "$1" && find $DIRS ! -type d -printf '%p|%y|%m|%U:%G|%n|%l\n' -o -printf '%p|%y|%m|%U:%G\n' \
		-type f -printf '%p|size %s\n' |
		LC_ALL=C sort
	 cd "$1" && find $DIRS -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	 cd "$1" && getfattr -R -h -d -m user. -e hex $DIRS 2>/dev/null | grep -v '^$')
}

for seed in $SEEDS; do
	for d in $DIRS; do
		"$FSOPS" "$seed" "$NOPS" "$PLAIN/$d" >"$T/plain.$seed.${d//\//_}" 2>&1 ||
			fail "fsops on the plain dir $d (seed $seed)"
		"$FSOPS" "$seed" "$NOPS" "$W3/$d" >"$T/view.$seed.${d//\//_}" 2>&1 ||
			fail "fsops on the view $d (seed $seed)"
		if diff -u "$T/plain.$seed.${d//\//_}" "$T/view.$seed.${d//\//_}" >"$T/ops.diff"; then
			ok "seed $seed in $d: $NOPS operations, every result as on the plain dir ($(grep -c ' = 0' "$T/view.$seed.${d//\//_}") succeeded)"
		else
			head -12 "$T/ops.diff"
			fail "seed $seed in $d: the view answered differently (first difference above; rerun: fsops $seed $NOPS DIR)"
			break 2
		fi
	done
	manifest "$PLAIN" >"$T/plain.manifest"
	manifest "$W3" >"$T/view.manifest"
	if diff -u "$T/plain.manifest" "$T/view.manifest" >"$T/tree.diff"; then
		ok "seed $seed: the trees agree ($(wc -l <"$T/view.manifest") lines)"
	else
		head -20 "$T/tree.diff"
		fail "seed $seed: the trees differ"
		break
	fi
done

# A generated identity file with no golden file under it (machine-id):
# unlink and rename away hide it for good (they failed with EBADF, or
# succeeded and the file came back).
W1=$M/nfsroot/worker-1
rm "$W1/etc/machine-id" && ok "rm of the generated etc/machine-id" || fail "rm etc/machine-id"
[ ! -e "$W1/etc/machine-id" ] && ok "machine-id is gone" || fail "machine-id is back after rm"
echo mine >"$W1/etc/machine-id" && mv "$W1/etc/machine-id" "$W1/etc/mid" || fail "write and mv machine-id"
[ ! -e "$W1/etc/machine-id" ] && [ "$(cat "$W1/etc/mid")" = mine ] &&
	ok "machine-id renamed away stays away" || fail "machine-id renamed away: $(ls -l "$W1/etc/machine-id" 2>&1)"
ID1=$("$PIFS" --store "$T/store" snapshot worker-1 -m mid) || fail "snapshot worker-1"
"$PIFS" --store "$T/store" reset worker-1 --golden --force >/dev/null || fail "reset worker-1 --golden"
[ -s "$W1/etc/machine-id" ] && ok "reset --golden brings machine-id back" || fail "no machine-id after reset --golden"
"$PIFS" --store "$T/store" reset worker-1 --to "$ID1" --force >/dev/null || fail "reset worker-1 --to"
[ ! -e "$W1/etc/machine-id" ] && [ "$(cat "$W1/etc/mid")" = mine ] &&
	ok "the snapshot keeps machine-id removed" || fail "snapshot lost the removal of machine-id"

# what was made survives a snapshot and a reset round trip
ID=$("$PIFS" --store "$T/store" snapshot worker-3 -m fsstress) || fail "snapshot"
"$PIFS" --store "$T/store" reset worker-3 --golden --force >/dev/null || fail "reset --golden"
"$PIFS" --store "$T/store" reset worker-3 --to "$ID" --force >/dev/null || fail "reset --to $ID"
manifest "$W3" >"$T/view.after"
if diff -u "$T/view.manifest" "$T/view.after" >"$T/rt.diff"; then
	ok "snapshot, reset --golden, reset --to: the same tree"
else
	head -20 "$T/rt.diff"
	fail "the snapshot round trip changed the tree"
fi
out=$("$PIFS" --store "$T/store" fsck 2>&1) && ok "pifs fsck clean" || fail "pifs fsck: $out"
umount_pifs "$M"
finish
