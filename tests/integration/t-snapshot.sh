#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-snapshot.sh - versioned deltas on an unmounted store: an exact round
# trip of a delta holding every file type and attribute (snapshot, change,
# reset), reset --golden / --to / the refusal without --force, show, diff
# (exact lines), log, status, fsck clean and fsck finding a corrupted
# object, damage that reads back whole (only the pack's checksum and the
# index's CRC-32 show it), a damaged index and a broken ref (on copies of
# the store), and kill -9 of
# `pifs snapshot` and `pifs reset` at random points: fsck stays clean and
# the worker is exactly in its old or its new state.
. "$(dirname "$0")/lib.sh"
setup
make_store
command -v setfattr >/dev/null || skip "setfattr missing (apt-get install attr)"

P() { "$PIFS" --store "$T/store" "$@"; }
G=$T/golden
D=$T/store/deltas/worker-3

fp() { tree_fp "$1"; }

# ---- before any snapshot
expect_eq "log with no snapshots" "no snapshots of worker-3" "$(P log worker-3)"
expect_fail "snapshot of an unknown worker" "^pifs: no worker 'worker-9' in store" P snapshot worker-9
expect_fail "reset with no snapshot" "^pifs: worker-3 has no snapshot to reset to \(use --golden\)$" P reset worker-3
expect_fail "bad revision before any snapshot" "^pifs: 'HEAD' is not a snapshot of worker-3" P show worker-3 HEAD:etc/hostname

# ---- a delta with every type and attribute, and view-level changes
mkdir "$D/etc"
cp -a "$G/etc/hostname" "$G/etc/hosts" "$G/etc/passwd" "$G/etc/fstab" "$D/etc/"
echo worker3 > "$D/etc/hostname"                      # content
chmod 600 "$D/etc/hosts"                              # mode only
chown 1000:1000 "$D/etc/passwd"                       # owner only
setfattr -n user.note -v 0x00ff2c3d "$D/etc/fstab"    # xattr only
mknod "$D/etc/motd" c 0 0                             # whiteout
echo new > "$D/etc/new"                               # added
touch -r "$G/etc" "$D/etc"
chmod --reference="$G/etc" "$D/etc"
X=$D/x
mkdir -p "$X/empty" "$X/opaque" "$X/.git/refs"
printf 'data\n' > "$X/file"
ln "$X/file" "$X/hardlink"
ln -s ../etc/hostname "$X/symlink"
mkfifo "$X/fifo"
mknod "$X/blockdev" b 7 42
mknod "$X/chardev" c 4 64
python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$X/socket" 2>/dev/null || perl -MSocket -e 'socket(S, PF_UNIX, SOCK_STREAM, 0); bind(S, pack_sockaddr_un($ARGV[0]))' "$X/socket"
truncate -s 8M "$X/sparse"; echo tail >> "$X/sparse"
# 8 MiB of mostly zeros in runs under 64 KiB: stored whole (a file whose
# holes are worth a map is stored sparse, overlay/git/sparse.c)
perl -e 'print(("z" . "\0" x 65535) x 128)' > "$X/zeroish"
printf 'odd\n' > "$X/name with spaces"$'\n'"and newline"
echo git > "$X/.git/HEAD"
cp /bin/true "$X/setuid-cap"
chown 1000:1000 "$X/setuid-cap"
chmod 4755 "$X/setuid-cap"
setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 "$X/setuid-cap"
setfattr -n system.posix_acl_access -v 0x0200000001000700ffffffff02000600e803000004000500ffffffff10000700ffffffff20000500ffffffff "$X/file" 2>/dev/null
chmod 1777 "$X/empty"
setfattr -n trusted.overlay.opaque -v y "$X/opaque"
setfattr -h -n trusted.note -v 0x000102ff "$X/symlink"
touch -h -d '2001-02-03 04:05:06.123456789' "$X/symlink" "$X/fifo" "$X/empty"

diff_out=$(P diff worker-3 -- etc)
expect_eq "diff against the golden (exact lines)" "M etc/fstab (xattrs)
M etc/hostname (content, mtime)
M etc/hosts (mode 644->600)
D etc/motd
A etc/new
M etc/passwd (owner 0:0->1000:1000)" "$diff_out"
expect_eq "diff limited to one path" "M etc/hosts (mode 644->600)" "$(P diff worker-3 -- /etc/hosts)"

id1=$(P snapshot worker-3 -m "first snapshot") || fail "snapshot 1"
[[ $id1 =~ ^[0-9a-f]{40}$ ]] && ok "snapshot prints its id ($id1)" || fail "snapshot printed '$id1'"
expect_eq "nothing to snapshot" "nothing to snapshot for worker-3" "$(P snapshot worker-3)"
expect_eq "base recorded on the delta" "$id1" "$(getfattr -h --only-values -n trusted.pifs.base "$D" 2>/dev/null)"
fp1=$(fp "$D")

# ---- exact round trip: change everything, reset
echo changed > "$D/etc/new"
echo abc > "$D/etc/new2"
rm "$X/fifo"
expect_fail "reset refuses unsnapshotted changes" \
	"^pifs: worker-3 has 3 unsnapshotted changes \(12 B\); reset would lose them \(use --force\)$" P reset worker-3
rm -rf "$X/opaque" "$X/hardlink"; chmod 600 "$X/file"; setfattr -x security.capability "$X/setuid-cap"
echo x > "$X/sparse"; touch "$X/empty"
expect_eq "status counts changes" "worker-3 8b07bcc6" "$(P status | awk '$1 == "worker-3" { print $1, $2 }')"
out=$(P reset worker-3 --force) || fail "reset --force"
expect_eq "reset output" "reset worker-3 to ${id1:0:7}" "$out"
expect_eq "round trip restores every byte and attribute" "$fp1" "$(fp "$D")"
[ "$(stat -c %b "$X/sparse")" -lt 1024 ] && ok "holes restored" || fail "sparse file is not sparse: $(stat -c %b "$X/sparse") blocks"
[ "$(stat -c %i "$X/file")" = "$(stat -c %i "$X/hardlink")" ] && ok "hard link restored" || fail "hard link lost"
expect_eq "status after reset" "0 0 B" "$(P status | awk '$1 == "worker-3" { print $3, $4, $5 }')"

# ---- a second snapshot, log, show, diff against a snapshot
echo second > "$D/etc/hostname"
rm "$D/etc/new"
id2=$(P snapshot worker-3 -m "second snapshot") || fail "snapshot 2"
fp2=$(fp "$D")
log=$(P log worker-3)
expect_eq "log has two snapshots" 2 "$(printf '%s\n' "$log" | wc -l)"
printf '%s\n' "$log" | head -1 | grep -Eq "^\* ${id2:0:7}  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} [+-][0-9]{4}  second snapshot  \(2 files, 7 B\)$" \
	&& ok "log line of the newest" || fail "log line: $(printf '%s\n' "$log" | head -1)"
printf '%s\n' "$log" | sed -n 2p | grep -Eq "^  ${id1:0:7}  .*  first snapshot  \([0-9]+ files, " \
	&& ok "log line of the oldest" || fail "log line 2: $(printf '%s\n' "$log" | sed -n 2p)"
expect_eq "show a delta file" "second" "$(P show worker-3 HEAD:etc/hostname)"
expect_eq "show at HEAD~1" "worker3" "$(P show worker-3 HEAD~1:etc/hostname)"
expect_eq "show by short id" "worker3" "$(P show worker-3 "${id1:0:6}:/etc/hostname")"
expect_eq "show a golden file" "$(cat "$G/etc/shadow")" "$(P show worker-3 HEAD:etc/shadow)"
expect_fail "show a deleted file" "^pifs: 'etc/motd' was deleted in worker-3 at ${id2:0:7}$" P show worker-3 HEAD:etc/motd
expect_fail "show a missing file" "^pifs: 'etc/new' does not exist in worker-3 at ${id2:0:7}$" P show worker-3 HEAD:etc/new
expect_fail "show with a bad revision" "^pifs: 'abcdef' is not a snapshot of worker-3$" P show worker-3 abcdef:etc/hostname
expect_fail "show another worker's snapshot" "^pifs: '${id1:0:8}' is not a snapshot of worker-1" P show worker-1 "${id1:0:8}:etc/hostname"
expect_eq "diff against a snapshot" "M etc/hostname (content, mtime)
D etc/new" "$(P diff worker-3 "$id1" -- etc)"
expect_eq "no diff against HEAD" "" "$(P diff worker-3 HEAD)"

# ---- reset --to, --golden
out=$(P reset worker-3 --to HEAD~1) || fail "reset --to HEAD~1"
expect_eq "reset --to restores the first snapshot" "$fp1" "$(fp "$D")"
expect_eq "reset keeps the branch" "$id2" "$(git --git-dir="$T/store/git" rev-parse workers/worker-3 2>/dev/null)"
P reset worker-3 --to "${id2:0:10}" >/dev/null || fail "reset --to id2"
expect_eq "reset --to a short id" "$fp2" "$(fp "$D")"
P reset worker-3 --golden >/dev/null || fail "reset --golden"
expect_eq "reset --golden gives a fresh delta" "$(fp "$T/store/deltas/worker-1")" "$(fp "$D")"
expect_eq "nothing differs from the golden" "" "$(P diff worker-3)"
P reset worker-3 >/dev/null || fail "reset to the last snapshot"
expect_eq "reset to the last snapshot" "$fp2" "$(fp "$D")"
expect_fail "reset to an unknown revision" "^pifs: 'HEAD~9' is not a snapshot of worker-3$" P reset worker-3 --to HEAD~9

# ---- git can read it
expect_eq "git show of a delta file" "second" "$(git --git-dir="$T/store/git" show workers/worker-3:delta/etc/hostname 2>&1)"
git --git-dir="$T/store/git" fsck --strict >/dev/null 2>&1 && ok "git fsck accepts the repository" || fail "git fsck: $(git --git-dir="$T/store/git" fsck --strict 2>&1 | head -3)"

# ---- fsck
expect_eq "fsck of a clean store" "store is consistent" "$(P fsck 2>&1)"
cp -a "$T/store" "$T/bad1"
pack=$(ls -S "$T/bad1/git/objects/pack/"*.pack | head -1)
size=$(stat -c %s "$pack")
# the object the damage lands in, as git verify-pack places it
hit=$(git --git-dir="$T/bad1/git" verify-pack -v "${pack%.pack}.idx" |
	awk -v at=$((size / 2)) 'NF >= 5 && $5 <= at && at < $5 + $4 { print $1 }')
printf '\x55\xaa\x55\xaa\x55\xaa\x55\xaa' | dd of="$pack" bs=1 seek=$((size / 2)) conv=notrunc status=none
out=$("$PIFS" --store "$T/bad1" fsck 2>&1); rc=$?
expect_eq "fsck exit on a corrupted object" 1 "$rc"
printf '%s\n' "$out" | grep -Eq "(cannot read .*\(object $hit\)|^pack 'pack-[0-9a-f]{40}\.pack': object $hit at offset [0-9]+ )" \
	&& ok "fsck names the corrupted object" || fail "fsck output (damage in $hit): $out"
# Damage that reads back whole: in the zlib stream of zeroish's 8 MiB of
# mostly zeros, other back-references give the same zeros, so git and
# libgit2 inflate the object to its id.  Only the pack's checksum and the
# index's CRC-32 of the object's bytes show it (as git fsck reports).
chattr -R -i "$T/bad1" 2>/dev/null; rm -rf "$T/bad1"
cp -a "$T/store" "$T/bad1"
pack=$(ls -S "$T/bad1/git/objects/pack/"*.pack | head -1)
read -r zid zoff zlen < <(git --git-dir="$T/bad1/git" verify-pack -v "${pack%.pack}.idx" |
	awk '$2 == "blob" && $3 == 8388608 { print $1, $5, $4 }')
cp "$pack" "$T/pack.orig"
found=
for ((try = 0; try < 200 && !found; try++)); do
	at=$((zoff + 64 + try * 61))
	[ "$at" -lt $((zoff + zlen - 64)) ] || break
	cp "$T/pack.orig" "$pack"
	printf '\x55\xaa\x55\xaa' | dd of="$pack" bs=1 seek="$at" conv=notrunc status=none
	[ "$(git --git-dir="$T/bad1/git" cat-file blob "$zid" 2>/dev/null | git hash-object --stdin)" = "$zid" ] && found=$at
done
rm -f "$T/pack.orig"
[ -n "$found" ] && ok "damage that git reads back whole (at $found of zeroish's object $zid)" ||
	fail "no damage in zeroish's object that reads back whole"
out=$("$PIFS" --store "$T/bad1" fsck 2>&1); rc=$?
expect_eq "fsck exit on damage that reads back" 1 "$rc"
printf '%s\n' "$out" | grep -q "^pack '$(basename "$pack")': object $zid at offset $zoff does not match its CRC-32 in the index (the pack is damaged)$" \
	&& ok "fsck names the object whose bytes changed" || fail "fsck output: $out"
printf '%s\n' "$out" | grep -q "^pack '$(basename "$pack")': its checksum does not match its contents (the pack is damaged)$" \
	&& ok "fsck names the damaged pack" || fail "fsck output: $out"
chattr -R -i "$T/bad1" 2>/dev/null; rm -rf "$T/bad1"
cp -a "$T/store" "$T/bad1"
idx=$(ls "$T/bad1/git/objects/pack/"*.idx | head -1)
chmod u+w "$idx"; printf 'Z' | dd of="$idx" bs=1 seek=600 conv=notrunc status=none
out=$("$PIFS" --store "$T/bad1" fsck 2>&1); rc=$?
expect_eq "fsck exit on a damaged index" 1 "$rc"
printf '%s\n' "$out" | grep -q "^pack index '$(basename "$idx")': its checksum does not match its contents (the file is damaged)$" \
	&& ok "fsck names the damaged index" || fail "fsck output: $out"
cp -a "$T/store" "$T/bad2"
echo 0123456789012345678901234567890123456789 > "$T/bad2/git/refs/heads/workers/worker-3"
out=$("$PIFS" --store "$T/bad2" fsck 2>&1); rc=$?
expect_eq "fsck exit on a broken ref" 1 "$rc"
printf '%s\n' "$out" | grep -q "^ref 'refs/heads/workers/worker-3' points to missing commit 0123456789012345678901234567890123456789$" \
	&& ok "fsck names the broken ref" || fail "fsck output: $out"
chattr -R -i "$T/bad1" "$T/bad2" 2>/dev/null; rm -rf "$T/bad1" "$T/bad2"

# ---- kill -9 at random points
rand_delay() { awk -v r="$RANDOM" -v m="$1" 'BEGIN { srand(r); printf "%.3f", int(rand() * m) / 1000 }'; }
P reset worker-3 --golden >/dev/null
perl -e 'my ($d) = @ARGV; for my $i (0 .. 3999) { my $s = sprintf "%s/big/d%02d", $d, $i % 40; mkdir "$d/big"; mkdir $s;
	open my $f, ">", "$s/f$i" or die; print $f ("x" x (1000 + $i * 7 % 9000)); close $f }' "$D"
# Kill at a random point of a whole snapshot: within a window that starts
# at 1.5 times its length, measured here, and then follows the outcomes
# (shorter after a kill that came too late, longer after one that came
# early), so that kills land around the branch move however loaded the
# machine is; they go on (at most 40) until both outcomes were seen:
# killed before its branch moved (old) and after (new).  A kill that leaves a pack or a temporary pack behind with
# the branch not moved landed between writing the pack and the ref.
for j in $(seq 3 3 3999); do echo m >> "$D/big/d$(printf %02d $((j % 40)))/f$j"; done
t0=$(date +%s%N)
P snapshot worker-3 -m measured >/dev/null || fail "snapshot to measure"
ms=$(( ($(date +%s%N) - t0) / 1000000 * 3 / 2 + 1 ))
olds=0 news=0 packed=0 i=0
while [ $i -lt 40 ] && { [ $i -lt 20 ] || [ $olds = 0 ] || [ $news = 0 ]; }; do
	i=$((i + 1))
	for j in $(seq $((i * 7 % 40)) 3 3999); do echo "$i" >> "$D/big/d$(printf %02d $((j % 40)))/f$j"; done
	before=$(git --git-dir="$T/store/git" rev-parse workers/worker-3)
	npacks=$(ls "$T/store/git/objects/pack" | wc -l)
	"$PIFS" --store "$T/store" snapshot worker-3 -m "kill $i" >/dev/null 2>&1 &
	pid=$!
	sleep "$(rand_delay "$ms")"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	after=$(git --git-dir="$T/store/git" rev-parse workers/worker-3)
	out=$(P fsck 2>&1) || fail "fsck after killing snapshot $i: $out"
	if [ "$after" != "$before" ]; then
		news=$((news + 1)) ms=$((ms * 2 / 3 + 1))
		[ -z "$(P diff worker-3 HEAD)" ] || fail "snapshot $i: new head differs from the delta"
	else
		olds=$((olds + 1)) ms=$((ms * 3 / 2 + 1))
		[ "$(ls "$T/store/git/objects/pack" | wc -l)" -gt "$npacks" ] && packed=$((packed + 1))
		[ -n "$(P diff worker-3 HEAD)" ] || fail "snapshot $i: old head but no change left ($before; base $(getfattr -h --only-values -n trusted.pifs.base "$D" 2>/dev/null); $(P diff worker-3 HEAD 2>&1 | head -2); $(P log worker-3 | head -3))"
	fi
done
ok "$i killed snapshots: fsck clean, head old or new"
[ $olds -gt 0 ] && [ $news -gt 0 ] && ok "kills landed on both sides of the branch move: old $olds, new $news (pack written, branch not moved: $packed)" ||
	fail "the kills did not land mid-snapshot: old $olds, new $news in $i"
# A kill while libgit2 held the branch's lock file leaves it behind (CI
# met it: every later snapshot failed "failed to lock file ... .lock");
# made here for certain: the next snapshot removes it, and says so.
echo stale >"$T/store/git/refs/heads/workers/worker-3.lock"
[ -d "$T/store/git/logs/refs/heads/workers" ] && echo stale >"$T/store/git/logs/refs/heads/workers/worker-3.lock"
echo s >>"$D/big/d00/f0"
out=$(P snapshot worker-3 -m after-a-stale-lock 2>&1 >/dev/null) || fail "snapshot over a stale branch lock: $out"
grep -q "removed the stale lock file 'git/refs/heads/workers/worker-3.lock'" <<<"$out" &&
	ok "a stale branch lock is removed and named" || fail "stale branch lock: '$out'"
[ -e "$T/store/git/refs/heads/workers/worker-3.lock" ] && fail "the stale lock is still there"
P snapshot worker-3 -m settled >/dev/null || fail "snapshot after the kills"
a=$(git --git-dir="$T/store/git" rev-parse workers/worker-3)
fpa=$(fp "$D")
for j in $(seq 0 5 3999); do echo b >> "$D/big/d$(printf %02d $((j % 40)))/f$j"; done
rm -rf "$D/big/d07"
b=$(P snapshot worker-3 -m other) || fail "snapshot b"
fpb=$(fp "$D")
cur=$b
# Killed resets the same way (the window following the outcomes), both
# outcomes seen: the delta moved to the target, or not.  A reset directory
# left in work/ is a kill that landed while the target was being written.
t0=$(date +%s%N)
P reset worker-3 --to "$a" >/dev/null || fail "reset to measure"
P reset worker-3 --to "$b" >/dev/null || fail "reset back"
ms=$(( ($(date +%s%N) - t0) / 2000000 * 3 / 2 + 1 ))
olds=0 news=0 midway=0 i=0
while [ $i -lt 40 ] && { [ $i -lt 20 ] || [ $olds = 0 ] || [ $news = 0 ]; }; do
	i=$((i + 1))
	if [ "$cur" = "$a" ]; then target=$b; else target=$a; fi
	"$PIFS" --store "$T/store" reset worker-3 --to "$target" >/dev/null 2>&1 &
	pid=$!
	sleep "$(rand_delay "$ms")"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	now=$(fp "$D")
	if [ "$now" = "$fpa" ]; then new=$a
	elif [ "$now" = "$fpb" ]; then new=$b
	else fail "reset $i: the delta is neither the old nor the new state"; break
	fi
	if [ "$new" = "$cur" ]; then
		olds=$((olds + 1)) ms=$((ms * 3 / 2 + 1))
		[ -n "$(ls "$T/store/work")" ] && midway=$((midway + 1))
	else
		news=$((news + 1)) ms=$((ms * 2 / 3 + 1))
	fi
	cur=$new
	out=$(P fsck 2>&1) || fail "fsck after killing reset $i: $out"
done
ok "$i killed resets: fsck clean, delta exactly old or new"
[ $olds -gt 0 ] && [ $news -gt 0 ] && ok "kills landed on both sides of the swap: old $olds (with the target half-written in work/: $midway), new $news" ||
	fail "the kills did not land mid-reset: old $olds, new $news in $i"
P reset worker-3 --to "$a" >/dev/null || fail "reset after the kills"
expect_eq "a reset after the kills is exact" "$fpa" "$(fp "$D")"
[ -z "$(ls "$T/store/work")" ] && ok "stale reset directories cleaned" || fail "work/ not empty: $(ls "$T/store/work")"

finish
