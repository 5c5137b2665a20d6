#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A rebase does not freeze the worker while it rebuilds the delta, the
# rebased delta is exact and never torn, and a reset checks for
# unsnapshotted changes with the worker running (design: tools/cmd-reset.c).
#  1. `pifs rebase` is stopped (SIGSTOP) while it writes a big file of
#     the rebuilt delta in work/: writes into the same view still
#     complete (a rewrite of that big file, a new directory, a removal,
#     a chmod, a hard link, an xattr).  Before, the worker was paused for
#     the whole rebase, so no write could finish while it was stopped.
#     The rebase then catches up: the worker is on the new golden with
#     every one of those writes, the "snapshot before" holds them, and
#     the rebased delta is byte for byte, time and xattr the delta an
#     unmounted rebase of that snapshot builds.
#  2. A writer rewrites a small file over and over (a generation number
#     in every block, fsync after each) while the worker is rebased back
#     and forth: the snapshot each rebase takes before (the state it
#     rebased, part 1 shows the delta is exactly that one rebased) and
#     after hold a state the file had (no block of an older generation
#     after a newer one, none mixed).
#  3. `pifs reset` is stopped each time it reads the delta for its check
#     of unsnapshotted changes (a big file rewritten with the same bytes
#     and times: nothing to snapshot, but it must be read): the worker
#     answers a lookup every time, and the reset succeeds.  Before, the
#     check was made again under the swap's pause, which held the
#     lookup.  A write made during the check is found (pifsd's journal
#     names it under the pause) and the reset refuses, as it did.
#  4. pifs fsck stays clean.
. "$(dirname "$0")/lib.sh"
setup
make_store
GA=$T/golden
GB=$T/golden-b
cp -a "$GA" "$GB"
echo "motd of release B" > "$GB/etc/motd"
echo "a new file in B" > "$GB/etc/newfile"
A=$("$PIFS" --store "$T/store" golden default)
B=$("$PIFS" --store "$T/store" golden import "$GB" 2>"$T/import.err") || { cat "$T/import.err"; fail "golden import"; }
mount_store
golden_of() {
	$P status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print([w for w in d["workers"] if w["name"]==sys.argv[1]][0]["golden"])' "$1"
}
# ---- 1. writes complete while the rebase rebuilds the delta
gen_file 1 160 > "$W3/root/big" || fail "writing root/big"
echo before > "$W3/root/small"
echo gone > "$W3/root/gone"
mkdir -p "$W3/srv/data" && echo d > "$W3/srv/data/f"
gen_file 2 160 > "$T/big.2"
$P snapshot worker-3 -m start >/dev/null || fail "first snapshot"
$P rebase worker-3 --golden "$B" >"$T/rb.out" 2>"$T/rb.err" &
CLI=$!
# (a generous bound: the rebase may take long on a loaded machine to get
# there)
if stop_when_open "$CLI" "$T/store/work/reset-worker-3-*/root/big" 100000; then
	ok "pifs rebase stopped while it writes root/big of the rebuilt delta"
else
	fail "pifs rebase never wrote root/big in work/"
fi

(echo during > "$W3/root/small") & WR=$!
if finishes "$WR"; then
	ok "a write into the view completes while the rebase rebuilds"
	(dd if="$T/big.2" of="$W3/root/big" bs=1M conv=notrunc,fsync status=none &&
		mkdir "$W3/root/newdir" && echo n > "$W3/root/newdir/f" &&
		rm "$W3/root/gone" && chmod 700 "$W3/srv/data" &&
		ln "$W3/root/small" "$W3/root/small.link" &&
		ln -s newdir/f "$W3/root/sym" && echo top > "$W3/newtop" &&
		setfattr -n user.k -v v "$W3/srv/data/f") & WR=$!
	finishes "$WR" && ok "a rewrite of root/big and metadata changes complete too" ||
		fail "the writes waited for the rebase"
else
	fail "a write into the view waited for the rebase"

fi
kill -CONT "$CLI"
wait "$WR"
wait "$CLI"; rc=$?
expect_eq "the rebase succeeds" "0 " "$rc $(cat "$T/rb.err")"
expect_eq "the worker is on golden B" "$B" "$(golden_of worker-3)"
before=$(sed -n 's/^snapshot before: \([0-9a-f]*\) .*/\1/p' "$T/rb.out")
cmp -s "$W3/root/big" "$T/big.2" && ok "the view holds root/big as rewritten during the rebase" ||
	fail "root/big in the view is not the rewrite (generations: $(gens < "$W3/root/big" | uniq -c | tr '\n' ' '))"
expect_eq "the view: the write made during the rebase" during "$(cat "$W3/root/small")"
expect_eq "the view: the new golden's file" "a new file in B" "$(cat "$W3/etc/newfile")"
expect_eq "the view: the new directory, the link, the symlink" "n 2 newdir/f" \
	"$(cat "$W3/root/newdir/f") $(stat -c %h "$W3/root/small.link") $(readlink "$W3/root/sym")"
[ ! -e "$W3/root/gone" ] && ok "the view: the file removed during the rebase is gone" || fail "root/gone is back"
expect_eq "the view: a file made at the top during the rebase" top "$(cat "$W3/newtop" 2>&1)"
expect_eq "the view: mode and xattr set during the rebase" "700 v" \
	"$(stat -c %a "$W3/srv/data") $(getfattr --only-values -n user.k "$W3/srv/data/f" 2>/dev/null)"
expect_eq "the snapshot before holds the writes made during the rebase" during \
	"$($P show worker-3 "$before:root/small" 2>&1)"
# the reference: the same snapshot rebased unmounted, in one go
fpd() { tree_fp "$1" trusted.pifs.base; }
fp_live=$(fpd "$D3")
umount_pifs "$M"
$P reset worker-3 --to "$before" --force >/dev/null || fail "reset to the snapshot before"
expect_eq "reset --to the snapshot before: back on golden A" "$A" "$(golden_of worker-3)"
$P rebase worker-3 --golden "$B" >/dev/null 2>"$T/rb2.err" || { cat "$T/rb2.err"; fail "reference rebase"; }
expect_eq "the rebased delta is exactly what an unmounted rebase of that snapshot builds" \
	"$(fpd "$D3")" "$fp_live"
out=$($P fsck 2>&1) && ok "fsck clean after the rebase" || { echo "$out"; fail "fsck"; }
rm -f "$T/big.2"

# ---- 2. a writer stamping generations, rebased back and forth
mount_pifs "$T/store" "$M"
gen_file 0 4 > "$W3/srv/db" || fail "writing srv/db"
# each generation: the file opened, every block written in order with an
# fsync after each, closed (a swap leaves an open file on the old delta)
perl -e 'use IO::Handle; my ($f, $stop, $n) = @ARGV;
	for my $g (1 .. 1000000) {
		last if -e $stop;
		open(my $h, "+<", $f) or die "open: $!";
		for my $b (0 .. $n - 1) {
			my $l = sprintf("gen %08d block %08d ...\n", $g, $b);
			sysseek($h, $b * 1048576, 0);
			syswrite($h, $l x (1048576 / length $l)) == 1048576 or die "write: $!";
			$h->sync or die "fsync: $!";
		}
		close($h);
	}' "$W3/srv/db" "$T/stop" 4 2>"$T/writer.err" &
WP=$!
bad=0 n=0
for target in "$A" "$B" "$A" "$B"; do
	out=$($P rebase worker-3 --golden "$target" 2>&1) || { echo "$out"; fail "rebase onto $target during the writer"; break; }
	n=$((n + 1))
	b=$(echo "$out" | sed -n 's/^snapshot before: \([0-9a-f]*\) .*/\1/p')
	a=$(echo "$out" | sed -n 's/^snapshot after: *\([0-9a-f]*\)$/\1/p')
	gb=$($P show worker-3 "$b:srv/db" | gens | tr '\n' ' ')
	g=$($P show worker-3 "$a:srv/db" | gens | tr '\n' ' ')
	echo "rebase $n onto ${target:0:6}: srv/db generations in the snapshot before: $gb; after: $g"
	for s in "$g" "$gb"; do
		untorn 4 "$s" || bad=$((bad + 1))
	done
done
touch "$T/stop"
wait "$WP"
expect_eq "$n rebases during the writer: no torn srv/db in a delta or a snapshot" 0 "$bad"

# ---- 3. reset: its check for unsnapshotted changes reads unpaused
# same_again: root/big written again with the same bytes and times:
# nothing to snapshot, but a new stat, so a check reads the whole file
same_again() {
	touch -r "$W3/root/big" "$T/ref"
	gen_file 3 160 | dd of="$W3/root/big" bs=1M conv=notrunc,fsync status=none
	touch -r "$T/ref" "$W3/root/big"
}
# stop_reset ACTION ARGS...: run pifs reset ARGS; every time it has
# root/big open (reading it for its check), stop it, run ACTION N in the
# background and see it finish (else $waited is set); sets $stops, $rc
stop_reset() {
	local action=$1
	shift
	$P reset "$@" >"$T/rs.out" 2>"$T/rs.err" &
	CLI=$!
	stops=0 waited=
	for ((k = 0; k < 100000 && !waited; k++)); do
		kill -0 "$CLI" 2>/dev/null || break
		if ! has_open "$CLI" "$D3/root/big"; then sleep 0.01; continue; fi
		kill -STOP "$CLI"
		stops=$((stops + 1))
		$action "$stops" & WR=$!
		finishes "$WR" || waited=1
		kill -CONT "$CLI"
		[ -n "$waited" ] && { wait "$WR"; break; }
		# until it lets go of it
		while kill -0 "$CLI" 2>/dev/null && has_open "$CLI" "$D3/root/big"; do
			sleep 0.01
		done
	done
	wait "$CLI"; rc=$?
}
# a lookup of a name never seen: pifsd's lookup, which the pause holds
# too, and no change to the delta
look() { stat "$W3/root/nothing-$1" >/dev/null 2>&1; return 0; }
gen_file 3 160 > "$W3/root/big" || fail "writing root/big"
$P snapshot worker-3 -m "big 3" >/dev/null || fail "snapshot big 3"
same_again
stop_reset look worker-3 --to "$before"
[ $stops -gt 0 ] && [ -z "$waited" ] &&
	ok "reset stopped $stops time(s) reading the delta for its check: the worker answered each time" ||
	fail "reset: the worker was paused while it read the delta for its check (stopped $stops time(s))"
expect_eq "the reset succeeds" "0 " "$rc $(cat "$T/rs.err")"
cmp -s "$W3/root/big" <($P show worker-3 "$before:root/big") && ok "the view is the snapshot reset to" || fail "root/big is not the snapshot's"
# a write during the check: the journal names it under the swap's
# pause, the check is made again there and refuses, as it always did
gen_file 3 160 > "$W3/root/big" || fail "writing root/big"
$P snapshot worker-3 -m "big 3 again" >/dev/null || fail "snapshot big 3 again"
same_again
wr() { [ "$1" = 1 ] && echo "write $1" >> "$W3/root/log"; return 0; }
stop_reset wr worker-3 --to "$before"
[ -z "$waited" ] && ok "a write during the reset's check completes" || fail "a write waited for the reset's check"
expect_eq "reset refuses the change made during its check" \
	"1 pifs: worker-3 has 1 unsnapshotted change (8 B); reset would lose them (use --force)" \
	"$rc $(cat "$T/rs.err")"
expect_eq "the view keeps that write" "write 1" "$(cat "$W3/root/log")"
[ -z "$(ls -A "$T/store/work")" ] && ok "nothing left in work/" || fail "work/: $(ls -A "$T/store/work")"
out=$($P fsck 2>&1) && ok "fsck clean" || { echo "$out"; fail "fsck"; }
umount_pifs "$M"
finish
