#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-stall.sh - how long a worker's write waits for `pifs snapshot`
# (issue 19 item 2), on a mounted store: a probe writes 4 KiB into the
# worker's view every 5 ms and keeps the longest time one write took,
# while a snapshot records
#   sparse: a file of BENCH_STALL_SPARSE_GB GiB (default 6) holding one
#           byte, written through the view;
#   dense:  BENCH_STALL_DENSE_MB MiB (default 1024) of fresh random data.
# Then the snapshot is restored (`reset --golden`, then `reset --to` it)
# and the file's disk use (du) compared with the original's.  Last,
#   rebase: BENCH_STALL_DENSE_MB MiB of fresh data, `pifs rebase` onto a
#           second golden (its time in the snapshot column).  Printed as
# a table and as TSV in $BENCH_TSV (default $PIFS_BUILDDIR/bench-stall.tsv:
# case, longest stall ms, probe writes, snapshot ms, reset ms, du KiB
# before and after).  Measurements only; it fails only if it cannot run.
# PIFS_BUILDDIR may name another build (an older one, for before/after).
set -u
: "${PIFS_BUILDDIR:?}"
PIFS=$PIFS_BUILDDIR/tools/pifs
PIFSD=$PIFS_BUILDDIR/fs/pifsd
SPARSE_GB=${BENCH_STALL_SPARSE_GB:-6}
DENSE_MB=${BENCH_STALL_DENSE_MB:-1024}
TSV=${BENCH_TSV:-$PIFS_BUILDDIR/bench-stall.tsv}
[ "$(id -u)" = 0 ] || { echo "bench-stall: needs root"; exit 1; }
[ -x "$PIFS" ] && [ -x "$PIFSD" ] || { echo "bench-stall: build pifs first"; exit 1; }
perl -MTime::HiRes -e 1 2>/dev/null || { echo "bench-stall: needs perl's Time::HiRes"; exit 1; }
T=$(mktemp -d "${PIFS_BENCH_TMP:-/var/tmp}/pifs-bench-stall.XXXXXX")
dpid=
trap 'mountpoint -q "$T/mnt" 2>/dev/null && umount -R "$T/mnt"; [ -n "$dpid" ] && wait "$dpid" 2>/dev/null; chattr -R -i "$T" 2>/dev/null; rm -rf "$T"' EXIT

ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

mkdir -p "$T/golden/etc" "$T/golden/root"
echo pi > "$T/golden/etc/hostname"
"$PIFS" init "$T/store" --golden "$T/golden" >/dev/null || exit 1
S=(--store "$T/store")
"$PIFS" "${S[@]}" worker add w --serial be570001 >/dev/null || exit 1
mkdir -p "$T/mnt"
"$PIFSD" "$T/store" "$T/mnt" -f >"$T/pifsd.log" 2>&1 &
dpid=$!
for _ in $(seq 1 200); do mountpoint -q "$T/mnt" && [ -d "$T/mnt/nfsroot/w/root" ] && break; sleep 0.05; done
[ -d "$T/mnt/nfsroot/w/root" ] || { cat "$T/pifsd.log"; echo "bench-stall: pifsd did not mount" >&2; exit 1; }
V=$T/mnt/nfsroot/w
"$PIFS" "${S[@]}" snapshot w -m empty >/dev/null || exit 1

# probe FILE STOP READY: 4 KiB writes until STOP exists (at most 10
# minutes of them); prints "longest-ms writes"
probe() {
	perl -MTime::HiRes=time,sleep -e '
		my ($f, $stop, $ready) = @ARGV;
		open(my $h, ">", $f) or die "probe: $f: $!";
		my ($max, $n, $buf) = (0, 0, "p" x 4096);
		for (1 .. 120000) {
			my $t0 = time;
			sysseek($h, 0, 0);
			syswrite($h, $buf) == 4096 or die "probe: write: $!";
			my $d = time - $t0;
			$max = $d if $d > $max;
			$n++;
			if ($n == 1) { open(my $r, ">", $ready); close $r }
			last if -e $stop;
			sleep 0.005;
		}
		printf "%.0f %d\n", $max * 1000, $n;' "$@"
}

rows=()
one_case() {
	local name=$1 t0 snap_ms reset_ms du0 du1 id stall
	rm -f "$T/stop" "$T/ready"
	probe "$V/probe" "$T/stop" "$T/ready" >"$T/probe.out" &
	local pp=$!
	for _ in $(seq 1 400); do [ -e "$T/ready" ] && break; sleep 0.05; done
	t0=$EPOCHREALTIME
	id=$("$PIFS" "${S[@]}" snapshot w -m "$name") || { echo "bench-stall: snapshot ($name) failed" >&2; exit 1; }
	snap_ms=$(ms_since "$t0")
	touch "$T/stop"
	wait "$pp"
	stall=$(cat "$T/probe.out")
	du0=$(du -k "$T/store/deltas/w/root/f" | cut -f1)
	"$PIFS" "${S[@]}" reset w --golden --force >/dev/null || exit 1
	t0=$EPOCHREALTIME
	"$PIFS" "${S[@]}" reset w --to "$id" --force >/dev/null || { echo "bench-stall: reset ($name) failed" >&2; exit 1; }
	reset_ms=$(ms_since "$t0")
	du1=$(du -k "$T/store/deltas/w/root/f" | cut -f1)
	rows+=("$name	${stall% *}	${stall#* }	$snap_ms	$reset_ms	$du0	$du1")
	rm -f "$V/root/f" "$V/probe"
	"$PIFS" "${S[@]}" snapshot w -m "after $name" >/dev/null || exit 1
}

truncate -s "${SPARSE_GB}G" "$V/root/f" &&
	printf x | dd of="$V/root/f" bs=1 seek=$((SPARSE_GB << 29)) conv=notrunc status=none || exit 1
one_case "sparse-${SPARSE_GB}g-1byte"
head -c "${DENSE_MB}M" /dev/urandom > "$T/dense" || exit 1
cp "$T/dense" "$V/root/f" || exit 1
rm -f "$T/dense"
one_case "dense-${DENSE_MB}m-fresh"

# rebase: DENSE_MB MiB of fresh data in the delta, rebased onto a second
# golden (its snapshot before, the rebuilt delta, the snapshot after);
# the rebase's time in the snapshot column
rebase_case() {
	local name=$1 t0 rb_ms stall
	rm -f "$T/stop" "$T/ready"
	probe "$V/probe" "$T/stop" "$T/ready" >"$T/probe.out" &
	local pp=$!
	for _ in $(seq 1 400); do [ -e "$T/ready" ] && break; sleep 0.05; done
	t0=$EPOCHREALTIME
	"$PIFS" "${S[@]}" rebase w --golden "$2" >/dev/null || { echo "bench-stall: rebase ($name) failed" >&2; exit 1; }
	rb_ms=$(ms_since "$t0")
	touch "$T/stop"
	wait "$pp"
	stall=$(cat "$T/probe.out")
	rows+=("$name	${stall% *}	${stall#* }	$rb_ms	-	-	-")
}
cp -a "$T/golden" "$T/golden-b" && echo b > "$T/golden-b/etc/motd" || exit 1
GB=$("$PIFS" "${S[@]}" golden import "$T/golden-b" 2>/dev/null) || { echo "bench-stall: golden import failed" >&2; exit 1; }
head -c "${DENSE_MB}M" /dev/urandom > "$T/dense" || exit 1
cp "$T/dense" "$V/root/f" || exit 1
rm -f "$T/dense"
rebase_case "rebase-${DENSE_MB}m-fresh" "$GB"

umount -R "$T/mnt"
for _ in $(seq 1 600); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.05; done

printf '\nlongest write stall during a snapshot or a rebase (%s)\n' "$PIFS_BUILDDIR"
printf '%-22s %10s %7s %11s %9s %10s %10s\n' case "stall ms" writes "snapshot ms" "reset ms" "du KiB" "du after"
{
	printf 'case\tstall_ms\twrites\tsnapshot_ms\treset_ms\tdu_kib\tdu_after_kib\n'
	printf '%s\n' "${rows[@]}"
} > "$TSV"
for r in "${rows[@]}"; do
	IFS=$'\t' read -r c s n sm rm d0 d1 <<<"$r"
	printf '%-22s %10s %7s %11s %9s %10s %10s\n' "$c" "$s" "$n" "$sm" "$rm" "$d0" "$d1"
done
echo "TSV: $TSV"
