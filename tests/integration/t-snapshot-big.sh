#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Big files in a worker's root (a disk image, a database): a snapshot
# reads them in chunks and never holds one whole in memory (its peak RSS
# stays far below the file's size, where it was twice the size), records
# them byte for byte (git reads back what the view has, the image's
# data only as it has holes; git fsck and pifs fsck are clean), leaves no spill file behind, and a reset brings them
# back, holes included, without reading them whole either.  The same on
# an unmounted store, after a git repack by hand, and for the hash-only
# path of `pifs diff`.
. "$(dirname "$0")/lib.sh"
setup
make_store
M=$T/mnt
mount_pifs "$T/store" "$M"
W3=$M/nfsroot/worker-3
P="$PIFS --store $T/store"
GIT="git --git-dir=$T/store/git"
command -v /usr/bin/time >/dev/null || { fail "needs /usr/bin/time (apt-get install time)"; exit 1; }

# maxrss_kib CMD...: run CMD (its stdout to $T/out), print its peak RSS
maxrss_kib() {
	/usr/bin/time -f '%M' -o "$T/rss" "$@" >"$T/out" 2>"$T/err" || { cat "$T/err"; return 1; }
	cat "$T/rss"
}

# A 768 MiB disk image: mostly holes, 32 MiB of random data in two runs,
# and a 48 MiB file of random data (nothing to compress).
truncate -s 768M "$W3/root/disk.img" &&
	dd if=/dev/urandom of="$W3/root/disk.img" bs=1M count=16 seek=100 conv=notrunc status=none &&
	dd if=/dev/urandom of="$W3/root/disk.img" bs=1M count=16 seek=700 conv=notrunc status=none &&
	head -c 48M /dev/urandom > "$W3/root/random.bin" || fail "writing the big files"
cksum "$W3/root/disk.img" "$W3/root/random.bin" | awk '{ print $1, $2 }' > "$T/sums"

rss=$(maxrss_kib $P snapshot worker-3 -m big) || fail "snapshot of the big files"
id1=$(cat "$T/out")
# Before: the file was read whole and the mempack kept a second copy
# (1.6 GiB here).  Now: chunks of 1 MiB.  The bound leaves room for the
# sanitizers' shadow memory.
[ "$rss" -lt $((256 * 1024)) ] && ok "snapshot of 816 MiB of big files peaked at $((rss / 1024)) MiB RSS" ||
	fail "snapshot peaked at $((rss / 1024)) MiB RSS for 816 MiB of big files (more than 256 MiB)"

if $GIT cat-file blob "workers/worker-3:delta/root/random.bin" | cmp -s - "$W3/root/random.bin"; then
	ok "git reads back root/random.bin byte for byte"
else
	fail "the blob of root/random.bin differs from the view's file"
fi
# the image has holes: its blob is its 32 MiB of data (t-sparse)
expect_eq "the image's blob is its data" 33554432 "$($GIT cat-file -s "workers/worker-3:delta/root/disk.img")"
expect_eq "META maps the image's data" "@805306368:104857600+16777216,734003200+16777216" \
	"$($GIT cat-file blob workers/worker-3:META | awk '$NF == "root/disk.img" { print $(NF-1) }')"
ls -a "$T/store/git/objects/pack" | grep -q spill && fail "a spill file was left in objects/pack" || ok "no spill file left behind"
# pifs show streams a big file from its pack (before: the blob whole in
# memory, and a copy of it: 1.5 GiB for the image)
rss=$(maxrss_kib $P show worker-3 "$id1:root/disk.img") || fail "show of root/disk.img"
[ "$rss" -lt $((256 * 1024)) ] && ok "show of the 768 MiB image peaked at $((rss / 1024)) MiB RSS" ||
	fail "show of the 768 MiB image peaked at $((rss / 1024)) MiB RSS (more than 256 MiB)"
cmp -s "$T/out" "$W3/root/disk.img" && ok "show gives the image byte for byte" || fail "show of the image differs"
rm -f "$T/out"
$GIT fsck --full --no-dangling >"$T/gitfsck" 2>&1 && ok "git fsck --full is clean" || { cat "$T/gitfsck"; fail "git fsck"; }
out=$($P fsck 2>&1) && ok "pifs fsck: $out" || fail "pifs fsck: $out"

# Unchanged content with new times: a snapshot records the new mtime,
# but the image's object is in the repository already, so what was
# staged for it is dropped and the packs grow by a few KiB, not 32 MiB.
packs_kib() { du -sk "$T/store/git/objects/pack" | cut -f1; }
before=$(packs_kib)
touch "$W3/root/disk.img"
racy_wait
$P snapshot worker-3 -m touched >/dev/null || fail "snapshot of the touched image"
grew=$(($(packs_kib) - before))
[ "$grew" -lt 1024 ] && ok "a touched but unchanged big file adds no object ($grew KiB of packs)" ||
	fail "the packs grew by $grew KiB for a touched, unchanged image"
ls -a "$T/store/git/objects/pack" | grep -q spill && fail "a spill file was left in objects/pack" || ok "no spill file left behind"

# The hash-only path (pifs diff): one byte changed in the middle of the
# image is seen, and the unchanged big file is not.
printf 'X' | dd of="$W3/root/disk.img" bs=1 seek=$((400 << 20)) conv=notrunc status=none
out=$($P diff worker-3 "$id1" 2>&1)
echo "$out" | grep -q 'root/disk.img' && ok "diff sees one byte changed in the big file" || fail "diff: $out"
echo "$out" | grep -q 'root/random.bin' && fail "diff lists the unchanged big file: $out" || ok "diff leaves the unchanged big file out"

# Reset: the bytes come back, holes included, streamed from the pack
# (before: the blob whole in memory, twice).
rss=$(maxrss_kib $P reset worker-3 --force) || fail "reset"
[ "$rss" -lt $((256 * 1024)) ] && ok "reset of 816 MiB of big files peaked at $((rss / 1024)) MiB RSS" ||
	fail "reset peaked at $((rss / 1024)) MiB RSS for 816 MiB of big files (more than 256 MiB)"
cksum "$W3/root/disk.img" "$W3/root/random.bin" | awk '{ print $1, $2 }' > "$T/sums2"
diff -q "$T/sums" "$T/sums2" >/dev/null && ok "reset brings the big files back byte for byte" || fail "big files differ after reset"
blocks=$(stat -c %b "$W3/root/disk.img")
[ "$blocks" -lt $((128 * 2048)) ] && ok "the image is sparse again after reset ($((blocks / 2048)) MiB allocated)" ||
	fail "the image has $((blocks / 2048)) MiB allocated after reset (holes lost)"

# Unmounted: the same path, without pifsd.
umount_pifs "$M"
D3=$T/store/deltas/worker-3
[ -f "$D3/root/disk.img" ] || { fail "no delta file at $D3/root/disk.img"; exit 1; }
printf 'Y' | dd of="$D3/root/disk.img" bs=1 seek=$((10 << 20)) conv=notrunc status=none
rss=$(maxrss_kib $P snapshot worker-3 -m unmounted) || fail "snapshot of the unmounted store"
[ "$rss" -lt $((256 * 1024)) ] && ok "unmounted snapshot peaked at $((rss / 1024)) MiB RSS" ||
	fail "unmounted snapshot peaked at $((rss / 1024)) MiB RSS"
$P show worker-3 HEAD:root/disk.img | cmp -s - "$D3/root/disk.img" &&
	ok "show reads back the unmounted delta's image byte for byte" || fail "unmounted: the image differs"
out=$($P fsck 2>&1) && ok "pifs fsck after both: $out" || fail "pifs fsck: $out"

# After a git repack by hand (git compresses the objects itself), a reset
# to the first snapshot still brings back every byte.
$GIT repack -a -d -q || fail "git repack"
$P reset worker-3 --to "$id1" --force >/dev/null || fail "reset --to after git repack"
(cd "$D3" && cksum root/disk.img root/random.bin) | awk '{ print $1, $2 }' > "$T/sums3"
diff -q "$T/sums" "$T/sums3" >/dev/null && ok "reset --to after git repack: the big files byte for byte" || fail "big files differ after repack + reset"
finish
