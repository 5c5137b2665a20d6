#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A snapshot does not freeze the worker while it reads changed data, and
# is never torn (design: overlay/git/snapshot.c).
#  1. `pifs snapshot` is stopped (SIGSTOP) while it reads a big changed
#     file: a write into the same view still completes, and a rewrite of
#     that very file completes too.  Before, the worker was paused for the
#     whole read, so neither write could finish while the command was
#     stopped.  The snapshot then holds the rewritten file whole (the
#     state at its final pause), not the mix of the two versions the
#     interrupted read saw, and the other write.
#  2. A writer rewrites a file in place over and over (a generation
#     number in every block, fsync after each block, so the delta's own
#     states are "generation g+1 up to some block, g after"), while
#     snapshots are taken: every snapshot holds such a state, no block
#     from an older generation after a newer one, no block mixed.
#  3. A sparse file snapshotted and reset comes back with the same disk
#     use (du) and bytes.
#  4. Progress of big files on a terminal only (script(1)), none with
#     --quiet or on a pipe.
#  5. pifs fsck stays clean.
. "$(dirname "$0")/lib.sh"
mounted_store

# ---- 1. a write completes while the snapshot reads ----
gen_file 1 192 > "$W3/root/big" || fail "writing root/big"
echo before > "$W3/root/small"
gen_file 2 192 > "$T/big.2"
$P snapshot worker-3 -m "stopped in its read" >"$T/snap.out" 2>"$T/snap.err" &
CLI=$!
if stop_when_open "$CLI" "$D3/root/big"; then
	ok "pifs snapshot stopped while it reads root/big"
else
	fail "pifs snapshot never opened root/big"
fi
# While the command is stopped nothing it holds can be let go: a write
# that finishes proves the worker is not paused.  A write the pause holds
# cannot even be killed (it waits in the kernel for pifsd's answer), so
# each runs in the background and is given up on after a bound
# (finishes, lib.sh).
(echo during > "$W3/root/small") & WR=$!
if finishes "$WR"; then
	ok "a write into the view completes while the snapshot reads"
	dd if="$T/big.2" of="$W3/root/big" bs=1M conv=notrunc,fsync status=none & WR=$!
	finishes "$WR" && ok "a rewrite of the file being read completes too" ||
		fail "a rewrite of the file being read waited for the snapshot"
else
	fail "a write into the view waited for the snapshot's read"
fi
kill -CONT "$CLI"
wait "$WR"
wait "$CLI"; rc=$?
expect_eq "the snapshot succeeds" "0 " "$rc $(cat "$T/snap.err")"
id=$(cat "$T/snap.out")
$P show worker-3 "$id:root/big" > "$T/big.snap" || fail "show root/big"
if cmp -s "$T/big.snap" "$T/big.2"; then
	ok "the snapshot holds root/big as rewritten, whole"
else
	fail "root/big in the snapshot is not the rewritten file (generations: $(gens < "$T/big.snap" | uniq -c | tr '\n' ' '))"
fi
expect_eq "the snapshot holds the write made during it" during "$($P show worker-3 "$id:root/small")"
rm -f "$T/big.2" "$T/big.snap"

# ---- 2. a writer rewriting a file in place during snapshots ----
gen_file 0 24 > "$W3/srv/db" || fail "writing srv/db"
# each pass: generation g into every block, in order, fsync after each
perl -e 'use IO::Handle; my ($f, $stop, $n) = @ARGV;
	open(my $h, "+<", $f) or die "open: $!";
	for my $g (1 .. 100000) {
		last if -e $stop;
		for my $b (0 .. $n - 1) {
			my $l = sprintf("gen %08d block %08d ...\n", $g, $b);
			sysseek($h, $b * 1048576, 0);
			syswrite($h, $l x (1048576 / length $l)) == 1048576 or die "write: $!";
			$h->sync or die "fsync: $!";
		}
	}' "$W3/srv/db" "$T/stop" 24 &
WP=$!
ids=()
for k in 1 2 3 4 5; do
	id=$($P snapshot worker-3 -m "writer $k" 2>"$T/w.err") ||
		{ cat "$T/w.err"; fail "snapshot $k during the writer"; }
	[[ $id =~ ^[0-9a-f]{40}$ ]] && ids+=("$id") || fail "snapshot $k during the writer printed '$id'"
done
touch "$T/stop"
wait "$WP" || fail "the writer failed"
bad=0
for id in "${ids[@]}"; do
	g=$($P show worker-3 "$id:srv/db" | gens | tr '\n' ' ')
	echo "snapshot ${id:0:7}: srv/db generations $(echo $g | tr ' ' '\n' | uniq -c | tr '\n' ' ')"
	# a state the file had: non-increasing generations, at most two
	if ! untorn 24 "$g"; then
		bad=$((bad + 1))
		echo "snapshot $id: srv/db generations $g"
	fi
done
expect_eq "${#ids[@]} snapshots during the writer: none torn" 0 "$bad"

# ---- 3. a sparse file comes back as sparse as it was ----
# (the reset wrote a block wherever the inflated chunks ended: a 6 GiB
# file of one byte came back with 2 MiB of blocks)
truncate -s 64M "$W3/root/sparse" &&
	printf x | dd of="$W3/root/sparse" bs=1 seek=$((32 << 20 | 5)) conv=notrunc status=none || fail "writing root/sparse"
du0=$(du -k "$D3/root/sparse" | cut -f1)
id=$($P snapshot worker-3 -m sparse) || fail "snapshot of root/sparse"
$P reset worker-3 --golden --force >/dev/null && $P reset worker-3 --to "$id" --force >/dev/null || fail "reset to the sparse snapshot"
expect_eq "root/sparse restored with the same disk use" "$du0 KiB" "$(du -k "$D3/root/sparse" | cut -f1) KiB"
cmp -s "$W3/root/sparse" <(head -c $((32 << 20 | 5)) /dev/zero; printf x; head -c $(((32 << 20) - 6)) /dev/zero) &&
	ok "root/sparse restored byte for byte" || fail "root/sparse differs after the reset"

# ---- 4. progress: on a terminal only, and not with --quiet ----
if command -v script >/dev/null; then
	head -c 16M /dev/urandom > "$W3/root/prog"
	script -qfec "$P snapshot worker-3 -m progress" /dev/null > "$T/tty.out" 2>&1
	pid=$(tr '\r' '\n' < "$T/tty.out" | sed 's/\x1b\[K//g' | grep -E '^[0-9a-f]{40}$')
	tr '\r' '\n' < "$T/tty.out" | grep -q '^reading root/prog  *\[#*\] 100%  16 MiB of 16 MiB' &&
		ok "snapshot on a terminal shows the big file read" ||
		{ cat -v "$T/tty.out"; fail "no progress from snapshot on a terminal"; }
	echo more >> "$W3/root/prog"
	$P snapshot worker-3 -m quiet >/dev/null 2>"$T/err"
	expect_eq "snapshot not on a terminal: nothing on stderr" "" "$(cat "$T/err")"
	echo again >> "$W3/root/prog"
	script -qfec "$P snapshot worker-3 -m quiet --quiet" /dev/null > "$T/tty.out" 2>&1
	grep -q 'reading root/prog' "$T/tty.out" && fail "snapshot --quiet showed progress" ||
		ok "snapshot --quiet on a terminal shows none"
	script -qfec "$P reset worker-3 --to $pid --force" /dev/null > "$T/tty.out" 2>&1
	tr '\r' '\n' < "$T/tty.out" | grep -q '^writing root/prog  *\[#*\] 100%  16 MiB of 16 MiB' &&
		ok "reset on a terminal shows the big file written" ||
		{ cat -v "$T/tty.out"; fail "no progress from reset on a terminal"; }
else
	fail "needs script (apt-get install bsdutils)"
fi

out=$($P fsck 2>&1) && ok "fsck clean" || { echo "$out"; fail "fsck"; }
umount_pifs "$M"
finish
