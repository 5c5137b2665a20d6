#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Incremental snapshots are exact: after a first snapshot (which leaves a
# stat cache behind), every kind of change made through the mount, then
# after a daemon restart, then behind the daemon's back on the unmounted
# delta (same size, same mtime: only ctime tells), is in the next
# snapshot.  Each snapshot is checked by a round trip: reset --golden,
# reset --to it, and the view's full manifest must be the one taken just
# before the snapshot; and by a scan without the stat cache, which must
# find nothing new.  A directory of 150 entries makes the scan share
# its stats with the helper thread.
. "$(dirname "$0")/lib.sh"
mounted_store
D=$T/store/deltas/worker-3

# cache_agrees NAME: without its stat cache, a scan from scratch (every
# file read and hashed, every tree built) finds nothing the last
# snapshot, made with the cache and its reused trees, does not have
cache_agrees() {
	rm -f "$T/store/git/pifs-cache/worker-3"
	expect_eq "$1: a scan without the cache finds nothing more" \
		"nothing to snapshot for worker-3" "$($P snapshot worker-3 -m fresh 2>&1)"
}

mkdir -p "$W3/srv/big" "$W3/root" || fail "mkdir"
for i in $(seq 1 150); do echo "file $i" > "$W3/srv/big/f$i"; done
setfattr -n user.gone -v old "$W3/srv/big/f30" || fail "setfattr"
# directories whose one change is a name gone or added (every other entry
# unchanged), and a change four directories down
for d in del-mid del-last add-one; do
	mkdir -p "$W3/srv/$d" && for i in 1 2 3 4 5 6 7 8; do echo "$d $i" > "$W3/srv/$d/n$i"; done
done
mkdir -p "$W3/srv/deep/x/y/z" && echo deep > "$W3/srv/deep/x/y/z/file" && echo side > "$W3/srv/deep/x/side" || fail "mkdir"
echo "same size" > "$W3/srv/big/inplace"
tree_manifest "$W3" > "$T/m1"
racy_wait # cached with their times
id1=$($P snapshot worker-3 -m base) || fail "first snapshot"
[ -s "$T/store/git/pifs-cache/worker-3" ] && ok "the first snapshot saved a stat cache" || fail "no stat cache after the first snapshot"

# Through the mount, after the cache was saved.
exec 7<>"$W3/srv/big/inplace"            # opened before the changes
old_mtime=$(stat -c %y "$W3/srv/big/inplace")
sleep 0.1
printf 'SAME SIZE' >&7                   # in place, same size
exec 7>&-
touch -d "$old_mtime" "$W3/srv/big/inplace" # same mtime too: only ctime moved
(cd "$W3" &&
	chmod 600 srv/big/f10 && chown 1000:42 srv/big/f11 &&
	setfattr -n user.new -v 0x01 srv/big/f12 && setfattr -x user.gone srv/big/f30 &&
	mv srv/big/f20 root/moved20 && ln srv/big/f21 srv/big/hardlink21 && rm srv/big/f22 &&
	mkdir -p root/a/b/c/d/e && echo deep > root/a/b/c/d/e/leaf &&
	ln -s target-one srv/big/sym && echo more >> srv/big/f23 &&
	rm srv/del-mid/n4 && rm srv/del-last/n8 && echo new > srv/add-one/n9 && echo DEEP > srv/deep/x/y/z/file &&
	touch -d '2020-01-01 00:00:00.5' srv/big/f24 && truncate -s 0 srv/big/f25) || fail "changes through the mount"
tree_manifest "$W3" > "$T/m2"
id2=$($P snapshot worker-3 -m "through the mount") || fail "second snapshot"
files=$(git --git-dir="$T/store/git" log -1 --format=%b "workers/worker-3" 2>/dev/null | awk '/^files:/ { print $2 }')
[ -z "$files" ] || [ "$files" -ge 14 ] && ok "second snapshot counts the changed paths (${files:-no git CLI})" || fail "second snapshot counts only $files changed paths"
cache_agrees "changes through the mount"
round_trip "changes through the mount" "$id2" "$T/m2"
round_trip "the first snapshot is intact" "$id1" "$T/m1"
$P reset worker-3 --to "$id2" --force >/dev/null || fail "reset --to $id2"

# A daemon restart between the changes and the snapshot.
(cd "$W3" && echo after-restart > srv/big/f40 && chmod 711 srv/big/f41 && rm root/a/b/c/d/e/leaf) || fail "changes before the restart"
umount_pifs "$M"
mount_pifs "$T/store" "$M"
(cd "$W3" && mv srv/big/f42 srv/big/f42-renamed && ln -sfn target-two srv/big/sym) || fail "changes after the restart"
tree_manifest "$W3" > "$T/m3"
id3=$($P snapshot worker-3 -m "across a restart") || fail "third snapshot"
cache_agrees "changes across a daemon restart"
round_trip "changes across a daemon restart" "$id3" "$T/m3"

# Behind the daemon's back: the unmounted delta changes in place with the
# same size and mtime.
racy_wait
$P snapshot worker-3 -m settle >/dev/null 2>&1 # the cache, for the new inodes
umount_pifs "$M"
sleep 0.1
f=$D/srv/big/f50
m=$(stat -c %y "$f")
printf 'FILE 50\n' > "$f" && touch -d "$m" "$f" || fail "change on the unmounted delta"
id4=$($P snapshot worker-3 -m "behind the daemon") || fail "snapshot of the unmounted delta"
cache_agrees "a change on the unmounted delta"
mount_pifs "$T/store" "$M"
expect_eq "the view shows the unmounted change" "FILE 50" "$(cat "$W3/srv/big/f50")"
tree_manifest "$W3" > "$T/m4"
round_trip "a change on the unmounted delta" "$id4" "$T/m4"
out=$($P fsck 2>&1) && ok "fsck clean" || { echo "$out"; fail "fsck"; }
if command -v git >/dev/null; then
	# the packs and indexes the snapshots wrote themselves
	bad=0
	for idx in "$T"/store/git/objects/pack/*.idx; do
		git verify-pack "$idx" >/dev/null 2>&1 || { bad=$((bad + 1)); git verify-pack "$idx" 2>&1 | head -3; }
	done
	expect_eq "git verify-pack accepts every pack" 0 "$bad"
	git --git-dir="$T/store/git" fsck --full --no-dangling >/dev/null 2>"$T/gitfsck" && ok "git fsck --full" || { head "$T/gitfsck"; fail "git fsck --full"; }
fi
umount_pifs "$M"
finish
