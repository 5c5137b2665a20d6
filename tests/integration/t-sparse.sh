#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sparse files cost their data (overlay/git/sparse.c): a 6 GiB file with
# one byte, a file of several data extents between holes, one ending in
# a hole and one ending in data, written in a worker's view, are
# snapshotted as blobs of their data only (the packs grow by about the
# data, META records the apparent size and the extents), come back from
# a reset byte for byte and just as sparse (du equal), and `pifs show`
# and `pifs diff` see their content; the same bytes written out with
# zeros give the same blob and map.  A snapshot after the reset finds
# nothing to snapshot; fsck and verify are clean.  A snapshot an older
# pifs made (tests/integration/data/sparse-v1.bundle: the whole blob of a
# file with holes, META v1) still resets and shows as before.
. "$(dirname "$0")/lib.sh"
setup
make_store
M=$T/mnt
mount_pifs "$T/store" "$M"
W3=$M/nfsroot/worker-3
D=$T/store/deltas/worker-3
P="$PIFS --store $T/store"
GIT="git --git-dir=$T/store/git"
command -v python3 >/dev/null || { fail "needs python3"; exit 1; }

# same_sparse A B: the same size and bytes, reading only the data
# regions either file has (SEEK_DATA/SEEK_HOLE); a 6 GiB hole is not read.
same_sparse() {
	python3 - "$1" "$2" <<'EOF'
import os, sys
def regions(fd, size):
    out, off = [], 0
    while off < size:
        try:
            d = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            break
        h = os.lseek(fd, d, os.SEEK_HOLE)
        out.append((d, h))
        off = h
    return out
fa, fb = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
sa, sb = os.fstat(fa).st_size, os.fstat(fb).st_size
if sa != sb:
    sys.exit("size %d != %d" % (sa, sb))
for d, h in sorted(regions(fa, sa) + regions(fb, sb)):
    while d < h:
        n = min(h - d, 1 << 20)
        if os.pread(fa, n, d) != os.pread(fb, n, d):
            sys.exit("bytes differ at %d" % d)
        d += n
EOF
}

# The files, built in $T/ref first (the reference) and copied into the
# view keeping their holes.
R=$T/ref
mkdir -p "$R"
rnd() { head -c "$1" /dev/urandom; }
truncate -s 6G "$R/big.img" && printf 'X' | dd of="$R/big.img" bs=1 seek=$(((3 << 30) + 5)) conv=notrunc status=none
truncate -s 64M "$R/multi.img" &&
	rnd 64K | dd of="$R/multi.img" conv=notrunc status=none &&
	rnd 1M | dd of="$R/multi.img" bs=1M seek=10 conv=notrunc status=none &&
	rnd 128K | dd of="$R/multi.img" bs=128K seek=320 conv=notrunc status=none
truncate -s 16M "$R/taildata.img" &&
	rnd 4K | dd of="$R/taildata.img" bs=4K seek=512 conv=notrunc status=none &&
	rnd 100K | dd of="$R/taildata.img" bs=1K seek=$((16 * 1024 - 100)) conv=notrunc status=none
truncate -s 32M "$R/tailhole.img" && rnd 8K | dd of="$R/tailhole.img" conv=notrunc status=none
# multi.img's bytes with no hole at all
cp --sparse=never "$R/multi.img" "$R/dense.img" || fail "making the files"
[ "$(du -k "$R/dense.img" | cut -f1)" -ge 65536 ] || fail "dense.img is not dense"
mkdir -p "$W3/root/sp" && cp --sparse=always "$R"/*.img "$W3/root/sp/" || fail "copying the files into the view"
for f in big multi taildata tailhole; do
	du -k "$D/root/sp/$f.img" | cut -f1 > "$T/du.$f"
	[ "$(cat "$T/du.$f")" -lt 4096 ] || fail "$f.img is not sparse in the delta"
done

packs_kib() { { du -sk "$T/store/git/objects" 2>/dev/null || echo 0; } | cut -f1; }
before=$(packs_kib)
id1=$($P snapshot worker-3 -m sparse) || fail "snapshot of the sparse files"
grew=$(($(packs_kib) - before))
# the data: 4 KiB + 1.2 MiB + 104 KiB + 8 KiB of random bytes; before:
# the whole files (6 GiB of zeros deflated: ~6 MiB, and a minute)
[ "$grew" -lt 3072 ] && ok "the packs grew by $grew KiB for 6.1 GiB of sparse files" ||
	fail "the packs grew by $grew KiB for 1.3 MiB of data"

meta=$($GIT cat-file blob "$id1:META")
expect_eq "META is v2" "# pifs delta metadata v2" "$(echo "$meta" | head -1)"
expect_eq "META: the 6 GiB file's size and one data block" \
	"@6442450944:3221225472+4096 root/sp/big.img" "$(echo "$meta" | awk '$NF == "root/sp/big.img" { print $(NF-1), $NF }')"
expect_eq "META: the extents of multi.img" \
	"@67108864:0+65536,10485760+1048576,41943040+131072" "$(echo "$meta" | awk '$NF == "root/sp/multi.img" { print $(NF-1) }')"
expect_eq "META: a file ending in data" \
	"@16777216:2097152+4096,16674816+102400" "$(echo "$meta" | awk '$NF == "root/sp/taildata.img" { print $(NF-1) }')"
expect_eq "META: a file ending in a hole" \
	"@33554432:0+8192" "$(echo "$meta" | awk '$NF == "root/sp/tailhole.img" { print $(NF-1) }')"
expect_eq "the blob of big.img is its data block" 4096 "$($GIT cat-file -s "$id1:delta/root/sp/big.img")"
expect_eq "the same bytes with zeros written out: the same blob" \
	"$($GIT rev-parse "$id1:delta/root/sp/multi.img")" "$($GIT rev-parse "$id1:delta/root/sp/dense.img")"
expect_eq "... and the same map" \
	"$(echo "$meta" | awk '$NF == "root/sp/multi.img" { print $(NF-1) }')" \
	"$(echo "$meta" | awk '$NF == "root/sp/dense.img" { print $(NF-1) }')"
expect_eq "an unchanged delta: nothing to snapshot" "nothing to snapshot for worker-3" "$($P snapshot worker-3)"

# show: the whole content, holes as zeros
for f in multi taildata tailhole; do
	$P show worker-3 "$id1:root/sp/$f.img" > "$T/show" || fail "show $f.img"
	cmp -s "$T/show" "$R/$f.img" && ok "show gives $f.img byte for byte" || fail "show of $f.img differs"
done
rm -f "$T/show"
out=$($P show worker-3 "$id1:root/sp/big.img" | python3 -c '
import sys
z = bytes(1 << 20); n = 0; odd = []
while True:
    b = sys.stdin.buffer.read(1 << 20)
    if not b: break
    if b != z[:len(b)]:
        odd += [(n + i, b[i:i+1]) for i in range(len(b)) if b[i]]
    n += len(b)
print(n, odd)')
expect_eq "show of big.img: 6 GiB, one X" "6442450944 [(3221225477, b'X')]" "$out"

# diff: one byte changed is seen, the rest not
printf 'Y' | dd of="$W3/root/sp/big.img" bs=1 seek=$(((3 << 30) + 5)) conv=notrunc status=none
expect_eq "diff sees the changed byte" "M root/sp/big.img (content, mtime)" "$($P diff worker-3 "$id1")"
id2=$($P snapshot worker-3 -m changed) || fail "snapshot of the change"
$GIT log -1 --format=%B "$id2" | grep -qx 'files: 1' && ok "the snapshot counts one changed file" || fail "commit message: $($GIT log -1 --format=%B "$id2")"

# reset to the first snapshot: every file back, as sparse as it was
$P reset worker-3 --to "$id1" --force >/dev/null || fail "reset to the first snapshot"
for f in big multi taildata tailhole dense; do
	msg=$(same_sparse "$W3/root/sp/$f.img" "$R/$f.img" 2>&1) && ok "reset gives $f.img back byte for byte" || fail "reset: $f.img: $msg"
done
for f in big multi taildata tailhole; do
	expect_eq "reset keeps $f.img sparse (du -k)" "$(cat "$T/du.$f")" "$(du -k "$D/root/sp/$f.img" | cut -f1)"
done
# no stat cache after a reset: every file is read again, to the same tree
id3=$($P snapshot worker-3 -m again) || fail "snapshot after the reset"
expect_eq "a snapshot after the reset has the tree reset to" "$($GIT rev-parse "$id1^{tree}")" "$($GIT rev-parse "$id3^{tree}")"
out=$($P fsck 2>&1) && ok "pifs fsck: $out" || fail "pifs fsck: $out"
out=$($P verify 2>&1) && ok "pifs verify" || fail "pifs verify: $out"
$GIT fsck --full --no-dangling >"$T/gitfsck" 2>&1 && ok "git fsck --full is clean" || { cat "$T/gitfsck"; fail "git fsck"; }

# ---- a snapshot an older pifs made: META v1, the whole file as a blob.
# It was made (by pifs 4d72576, unmounted) on a store whose golden is
# the tiny tree below, whose id depends only on its content and times.
B=$PIFS_SRCDIR/tests/integration/data/sparse-v1.bundle
mkdir -p "$T/tiny/etc" && echo tiny > "$T/tiny/etc/hostname" &&
	chmod 755 "$T/tiny" "$T/tiny/etc" && chmod 644 "$T/tiny/etc/hostname" &&
	touch -h -d '2020-01-01 00:00:00' "$T/tiny/etc/hostname" "$T/tiny/etc" "$T/tiny" || fail "making the tiny golden"
S2="$PIFS --store $T/store2"
# (its first snapshot makes the repository)
$PIFS init "$T/store2" --golden "$T/tiny" >/dev/null 2>&1 && $S2 worker add worker-1 --serial 77b655ec >/dev/null &&
	$S2 snapshot worker-1 >/dev/null || fail "making the second store"
G2="git --git-dir=$T/store2/git"
old=$(git bundle list-heads "$B" | awk '{ print $1; exit }')
$G2 fetch -q --no-auto-gc "$B" "+refs/heads/workers/worker-1:refs/heads/workers/worker-1" || fail "fetching the old snapshot"
expect_eq "the old snapshot's META is v1" "# pifs delta metadata v1" "$($G2 cat-file blob "$old:META" | head -1)"
expect_eq "... with the whole file as its blob" 12582912 "$($G2 cat-file -s "$old:delta/old.img")"
$S2 reset worker-1 --to "$old" --force >/dev/null || fail "reset to the old snapshot"
truncate -s 12M "$T/old.ref" && printf 'old' | dd of="$T/old.ref" bs=1 seek=$((8 << 20)) conv=notrunc status=none
F=$T/store2/deltas/worker-1/old.img
msg=$(same_sparse "$F" "$T/old.ref" 2>&1) && ok "the old snapshot resets byte for byte" || fail "old snapshot: $msg"
[ "$(du -k "$F" | cut -f1)" -lt 64 ] && ok "... and sparse" || fail "the old snapshot's file came back filled in"
$S2 show worker-1 "$old:old.img" > "$T/show" && cmp -s "$T/show" "$T/old.ref" && ok "show of the old snapshot's file" ||
	fail "show of the old snapshot's file"
rm -f "$T/show"
expect_eq "diff of the delta against the old snapshot" "" "$($S2 diff worker-1 "$old")"
out=$($S2 fsck 2>&1) && ok "pifs fsck with the old snapshot: $out" || fail "pifs fsck: $out"
# The file is unchanged; read again (no stat cache after a reset) it is
# recorded in the new form: a new commit whose diff says nothing changed.
new=$($S2 snapshot worker-1) || fail "snapshot after the old snapshot"
expect_eq "the file read again is stored sparse" "@12582912:8388608+4096 old.img" \
	"$($G2 cat-file blob "$new:META" | awk '$NF == "old.img" { print $(NF-1), $NF }')"
$G2 log -1 --format=%B "$new" | grep -qx 'files: 0' && ok "... and counted as no change" || fail "commit message: $($G2 log -1 --format=%B "$new")"
finish
