#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-golden-versions.sh - several goldens in one store and moving workers
# between them: golden import of a second tree into an existing store,
# golden list/default, worker add --golden, pifs rebase (unmounted and
# mounted, the worker's version kept at conflicts, --theirs, the conflict
# list in pifs status until --resolved), reset --to the snapshot taken
# before the rebase brings the old golden back (also through a mounted
# view), a remount keeps every worker on its own golden, golden remove
# refused while the default / a worker / a kept delta / a snapshot uses
# it, kill -9 of pifs rebase at random points (fsck clean, the worker
# exactly on its old or its new state) and every bad input.
. "$(dirname "$0")/lib.sh"
setup
make_store

P() { "$PIFS" --store "$T/store" "$@"; }
GA=$T/golden
GB=$T/golden-b
M=$T/mnt

# golden B: the next release of golden A
cp -a "$GA" "$GB"
echo "motd of release B" > "$GB/etc/motd"
echo "a new file in B" > "$GB/etc/newfile"
rm "$GB/etc/os-release" && echo "ID=pifs-b" > "$GB/etc/os-release"
echo "b:x:1001:1001::/home/b:/bin/sh" >> "$GB/etc/passwd"
echo "log of B" > "$GB/var/log/new.log"
rm "$GB/etc/apt/sources.list"
chmod 750 "$GB/srv"
echo "console=serial0,115200 console=tty1 release=b root=/dev/mmcblk0p2 rootwait" >"$GB/boot/firmware/cmdline.txt"
A=$(P golden default)
B=$(P golden import "$GB" 2>"$T/import.err") || fail "golden import of a tree: $(cat "$T/import.err")"
[ "${#B}" = 16 ] && [ "$B" != "$A" ] && ok "golden import into a store with a golden prints the new id ($B)" || fail "golden import: '$B'"
expect_eq "the default stays A" "$A" "$(P golden default)"
out=$(P golden list)
echo "$out" | grep -Eq "^$A \\*  .* +2 +0  $GA\$" && echo "$out" | grep -Eq "^$B    .* +0 +0  $GB\$" &&
	ok "golden list: both, A the default with 2 workers" || fail "golden list: $out"
expect_fail "golden import of a missing tree" "^pifs: golden '$T/nope' does not exist$" P golden import "$T/nope"
expect_eq "a failed import leaves no half golden" 2 "$(find "$T/store/goldens" -mindepth 1 -maxdepth 1 | wc -l)"

# the worker's changes over A (through the mount, as a worker makes them)
change_worker() { # VIEW
	echo mine > "$1/etc/motd"           # B changed it too: conflict
	echo mine > "$1/etc/newfile"        # B added it too: conflict
	rm "$1/etc/os-release"              # B changed it: conflict
	rm -r "$1/var/log"                  # B added var/log/new.log: conflict
	rm "$1/etc/apt/sources.list"        # B removed it too: no conflict
	echo w > "$1/srv/wfile"             # srv untouched itself: takes B's mode
	mkdir "$1/mydir" && echo x > "$1/mydir/f"
	echo "hello" > "$1/home/pi/notes"   # only here
}
mount_pifs "$T/store" "$M"
change_worker "$M/nfsroot/worker-3"
change_worker "$M/nfsroot/worker-1"
umount_pifs "$M"

# ---- rebase, unmounted: the worker's version at conflicts
conflicts="C etc/motd (changed here and in the new golden)
C etc/newfile (added here, a file added by the new golden)
C etc/os-release (deleted here, changed in the new golden)
C var/log (deleted here, changed in the new golden)"
out=$(P rebase worker-3 --golden "${B:0:6}") || fail "rebase worker-3: $out"
expect_eq "rebase lists the conflicts" "$conflicts" "$(echo "$out" | grep '^C ')"
before=$(echo "$out" | sed -n 's/^snapshot before: \([0-9a-f]*\) .*/\1/p')
[ -n "$before" ] && ok "rebase names the snapshot before it ($before)" || fail "rebase output: $out"
expect_eq "worker-3 is on B" "$B" "$(getfattr --absolute-names -h --only-values -n trusted.pifs.golden "$T/store/deltas/worker-3")"
expect_eq "status shows the golden" "worker-3 $B" "$(P status | awk '$1 == "worker-3" { print $1, $6 }')"
expect_eq "status: no unsnapshotted change after a rebase" "0" "$(P status | awk '$1 == "worker-3" { print $3 }')"
expect_eq "status lists the conflicts" "$conflicts" "$(P status | sed -n '/^worker-3: 4 rebase conflicts/,/^[^ ]/p' | grep '^  C ' | sed 's/^  //')"
expect_eq "log: the rebase and the snapshot before it" \
	"rebase onto golden $B (from $A): 4 conflicts|before rebase onto golden $B" \
	"$(P log worker-3 | head -2 | sed 's/^..[0-9a-f]\{7\}  [0-9-]* [0-9:]* +0000  //; s/  ([0-9]* files\?, .*)$//' | paste -sd '|')"
git --git-dir="$T/store/git" log -1 --format=%B workers/worker-3 | grep -q "^golden: $B\$" &&
	ok "the snapshot's commit names its golden" || fail "commit message: $(git --git-dir="$T/store/git" log -1 --format=%B workers/worker-3)"

mount_pifs "$T/store" "$M"
V3=$M/nfsroot/worker-3
V1=$M/nfsroot/worker-1
expect_eq "kept: the worker's motd" "mine" "$(cat "$V3/etc/motd")"
expect_eq "kept: the worker's newfile" "mine" "$(cat "$V3/etc/newfile")"
[ ! -e "$V3/etc/os-release" ] && [ ! -e "$V3/var/log" ] && ok "kept: the worker's deletions" || fail "deletions lost"
expect_eq "B's change the worker did not touch shows" "$(cat "$GB/etc/passwd")" "$(cat "$V3/etc/passwd")"
[ ! -e "$V3/etc/apt/sources.list" ] && ok "deleted by both: gone" || fail "sources.list is back"
expect_eq "an untouched parent takes B's mode" "750" "$(stat -c %a "$V3/srv")"
expect_eq "the worker's own files" "w x hello" "$(cat "$V3/srv/wfile" "$V3/mydir/f" "$V3/home/pi/notes" | paste -sd ' ')"
cmp -s "$V3/boot/firmware/start.elf" "$GB/boot/firmware/start.elf" && ok "boot files from B" || fail "boot files"
grep -q ' release=b ' "$V3/boot/firmware/cmdline.txt" && ok "the generated cmdline.txt keeps B's arguments" ||
	fail "cmdline.txt on B: $(cat "$V3/boot/firmware/cmdline.txt")"
expect_eq "show of the generated cmdline.txt: what the view on B shows" \
	"$(cat "$V3/boot/firmware/cmdline.txt")" "$(P show worker-3 HEAD:boot/firmware/cmdline.txt)"
expect_eq "worker-1 is still on A" "$(cat "$GA/etc/passwd")" "$(cat "$V1/etc/passwd")"
cmp -s "$M/tftpboot/8b07bcc6/start.elf" "$GB/boot/firmware/start.elf" && ok "tftpboot/ of worker-3 serves B" || fail "tftpboot of worker-3"

# ---- rebase, mounted, --theirs: the golden's version at conflicts
exec 7<"$V1/etc/passwd"
out=$(P rebase worker-1 --golden "$B" --theirs) || fail "rebase worker-1 --theirs: $out"
expect_eq "--theirs lists the same conflicts" "$conflicts" "$(echo "$out" | grep '^C ')"
echo "$out" | grep -q "^4 conflicts: the new golden's version was taken$" && ok "--theirs says what it did" || fail "rebase --theirs: $out"
expect_eq "theirs: B's motd, read right after" "motd of release B" "$(cat "$V1/etc/motd")"
expect_eq "theirs: B's newfile" "a new file in B" "$(cat "$V1/etc/newfile")"
expect_eq "theirs: B's os-release" "ID=pifs-b" "$(cat "$V1/etc/os-release")"
expect_eq "theirs: B's var/log" "log of B" "$(cat "$V1/var/log/new.log")"
expect_eq "theirs keeps the rest" "w x hello" "$(cat "$V1/srv/wfile" "$V1/mydir/f" "$V1/home/pi/notes" | paste -sd ' ')"
expect_eq "a file open across the rebase reads as it was" "$(cat "$GA/etc/passwd")" "$(cat <&7)"
exec 7<&-
before1=$(echo "$out" | sed -n 's/^snapshot before: \([0-9a-f]*\) .*/\1/p')

# ---- undo: reset --to the snapshot before, mounted
out=$(P reset worker-1 --to "$before1") || fail "reset to before the rebase: $out"
expect_eq "undone: worker-1 on A again" "$(cat "$GA/etc/passwd")" "$(cat "$V1/etc/passwd")"
expect_eq "undone: its own motd" "mine" "$(cat "$V1/etc/motd")"
[ ! -e "$V1/etc/os-release" ] && ok "undone: its deletion" || fail "undone: os-release is back"
expect_eq "status after the undo: golden A" "worker-1 $A" "$(P status | awk '$1 == "worker-1" { print $1, $6 }')"
P status | grep -q '^worker-1: .*rebase conflict' && fail "a reset keeps the conflict list" || ok "a reset clears the conflict list"
out=$(P rebase worker-3 --resolved) || fail "rebase --resolved: $out"
P status | grep -q 'rebase conflict' && fail "--resolved kept the list" || ok "--resolved clears the list"

# ---- a remount keeps every worker on its golden
umount_pifs "$M"
mount_pifs "$T/store" "$M"
expect_eq "after a remount worker-3 is on B" "$(cat "$GB/etc/passwd")" "$(cat "$V3/etc/passwd")"
expect_eq "after a remount worker-1 is on A" "$(cat "$GA/etc/passwd")" "$(cat "$V1/etc/passwd")"
umount_pifs "$M"
expect_eq "the diff of worker-3 over its new golden" \
"A home/pi/notes
A mydir
A mydir/f
A srv/wfile
D etc/os-release
D var/log
M etc/motd (content, mtime)
M etc/newfile (content, mtime)" "$(P diff worker-3 | grep -v '^M srv ' | sort)"

# ---- worker add --golden, golden default, golden remove
out=$(P worker add worker-5 --serial 11223344 --golden "$B") || fail "worker add --golden: $out"
expect_eq "worker add --golden" "$B" "$(getfattr --absolute-names -h --only-values -n trusted.pifs.golden "$T/store/deltas/worker-5")"
expect_fail "remove the default golden" "^pifs: golden $A is the store's default \(new workers start on it\); make another the default first" P golden remove "$A"
expect_eq "golden default B" "new workers now start on golden $B" "$(P golden default "$B")"
expect_fail "remove a golden a worker is on" "^pifs: golden $A is in use by 1 worker \(worker-1\)" P golden remove "$A"
P rebase worker-1 --golden "$B" >/dev/null || fail "rebase worker-1 onto B"
expect_fail "remove a golden snapshots are on" "^pifs: golden $A is in use by [0-9]+ snapshots \(worker-[13]'s [0-9a-f]{7}\); pifs reset --to would need it$" P golden remove "$A"
mkdir "$T/golden-c" && cp -a "$GA/boot" "$T/golden-c/" && echo c > "$T/golden-c/c"
C=$(P golden import "$T/golden-c" 2>/dev/null) || fail "import C"
P worker add worker-6 --serial 55667788 --golden "$C" >/dev/null || fail "worker add on C"
P worker remove worker-6 >/dev/null || fail "worker remove worker-6"
expect_fail "remove a golden a kept delta is on" "^pifs: golden $C is in use by the kept delta '$T/store/deltas/\.removed-worker-6-" P golden remove "$C"
rm -rf "$T/store/deltas/".removed-worker-6-*
expect_eq "golden remove" "removed golden $C" "$(P golden remove "${C:0:8}")"
[ ! -e "$T/store/goldens/$C" ] && [ -z "$(ls -A "$T/store/goldens" | grep -v -e "^$A\$" -e "^$B\$")" ] && ok "golden $C is gone, nothing left" || fail "goldens/: $(ls -A "$T/store/goldens")"
expect_eq "verify checks every golden" "$(printf 'golden %s matches its manifest\n' "$A" "$B" | sort | paste -sd '|')" "$(P verify | paste -sd '|')"

# ---- bad input
expect_fail "rebase without --golden" "^pifs: rebase needs --golden ID$" P rebase worker-3
expect_fail "rebase onto a bad id" "^pifs: bad golden id 'zz' \(want 4 to 16 hex digits, as pifs golden list shows\)$" P rebase worker-3 --golden zz
expect_fail "rebase onto an unknown golden" "^pifs: no golden 0000 in store '$T/store'$" P rebase worker-3 --golden 0000
expect_fail "rebase of an unknown worker" "^pifs: no worker 'worker-9' in store" P rebase worker-9 --golden "$A"
expect_fail "golden remove of an unknown golden" "^pifs: no golden abcdef in store" P golden remove abcdef
expect_eq "rebase onto the golden it is on" "worker-3 is on golden $B already" "$(P rebase worker-3 --golden "$B")"
out=$(P fsck 2>&1) && ok "fsck clean after all of it" || fail "fsck: $out"

# ---- kill -9 of pifs rebase: the worker is exactly old or new
# fpd DELTA: the delta's fingerprint without its base (a snapshot moves it)
fpd() { tree_fp "$1" trusted.pifs.base; }
rand_delay() { awk -v r="$RANDOM" -v m="$1" 'BEGIN { srand(r); printf "%.3f", int(rand() * m) / 1000 }'; }
D3=$T/store/deltas/worker-3
P reset worker-3 --to "$before" >/dev/null || fail "reset worker-3 to A"
fp_old=$(fpd "$D3")
t0=$(date +%s%N)
P rebase worker-3 --golden "$B" >/dev/null || fail "rebase for the fingerprint"
ms=$(( ($(date +%s%N) - t0) / 1000000 * 3 / 2 + 1 ))
fp_new=$(fpd "$D3")
[ "$fp_old" != "$fp_new" ] || fail "old and new fingerprints are the same"
# Kills at random within a window that starts at 1.5 times a whole rebase,
# measured here, and follows the outcomes (shorter after a kill that came
# too late, longer after one that came early), so that they land around
# the swap however loaded the machine is; they go on (at most 30) until
# both outcomes were seen.  A rebase directory left
# in work/ is a kill that landed while the new delta was being written.
olds=0 news=0 midway=0 i=0
while [ $i -lt 30 ] && { [ $i -lt 12 ] || [ $olds = 0 ] || [ $news = 0 ]; }; do
	i=$((i + 1))
	P reset worker-3 --force --to "$before" >/dev/null || { fail "reset before kill $i"; break; }
	"$PIFS" --store "$T/store" rebase worker-3 --golden "$B" >/dev/null 2>&1 &
	pid=$!
	sleep "$(rand_delay "$ms")"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	now=$(fpd "$D3")
	if [ "$now" = "$fp_old" ]; then
		olds=$((olds + 1)) ms=$((ms * 3 / 2 + 1))
		[ -n "$(ls "$T/store/work")" ] && midway=$((midway + 1))
	elif [ "$now" = "$fp_new" ]; then news=$((news + 1)) ms=$((ms * 2 / 3 + 1))
	else fail "rebase killed ($i): the delta is neither old nor new"; break
	fi
	out=$(P fsck 2>&1) || fail "fsck after killing rebase $i: $out"
done
ok "$i rebases killed: fsck clean, worker old ($olds) or new ($news)"
[ $olds -gt 0 ] && [ $news -gt 0 ] && ok "kills landed on both sides of the swap: old $olds (new delta half-written in work/: $midway), new $news" ||
	fail "the kills did not land mid-rebase: old $olds, new $news in $i"
[ -z "$(ls "$T/store/work")" ] || P reset worker-3 --force --to "$before" >/dev/null
[ -z "$(ls -A "$T/store/work")" ] && ok "nothing left in work/" || fail "work/: $(ls -A "$T/store/work")"
finish
