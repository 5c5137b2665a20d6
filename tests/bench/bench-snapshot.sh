#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-snapshot.sh - pifs snapshot against `git add -A && git commit` on
# the same tree: a full snapshot of a 10,000-file delta, and an
# incremental one after changing one file, written straight into the
# unmounted delta (the scan must stat every entry); then `pifs reset
# --golden` of that delta and `pifs reset --to` the full snapshot (the
# 10,000 files back from git).  Then the store is mounted and the one
# file changes through the mount, as a running worker changes it: that
# incremental snapshot follows pifsd's journal.  Median of 5 runs each (BENCH_RUNS), printed as a table
# with the ratio, and as TSV in $BENCH_TSV (default
# $PIFS_BUILDDIR/bench-snapshot.tsv), every run in $BENCH_TSV.runs (case,
# tool, run, ms: what bench.sh's table reads).
# Goal (reported, never enforced): incremental < 50 ms, full faster than
# the git CLI.
set -u
: "${PIFS_BUILDDIR:?}"
: "${PIFS_SRCDIR:?}"
PIFS=$PIFS_BUILDDIR/tools/pifs
FILES=${BENCH_FILES:-10000}
RUNS=${BENCH_RUNS:-5}
TSV=${BENCH_TSV:-$PIFS_BUILDDIR/bench-snapshot.tsv}
[ "$(id -u)" = 0 ] || { echo "bench-snapshot: needs root"; exit 1; }
command -v git >/dev/null || { echo "bench-snapshot: needs git (apt-get install git)"; exit 1; }
[ -x "$PIFS" ] || { echo "bench-snapshot: build pifs first"; exit 1; }
T=$(mktemp -d "${PIFS_BENCH_TMP:-/var/tmp}/pifs-bench.XXXXXX")
trap 'mountpoint -q "$T/mnt" 2>/dev/null && umount -R "$T/mnt"; chattr -R -i "$T" 2>/dev/null; rm -rf "$T"' EXIT

# time_ms CMD...: run CMD (quiet), print elapsed ms (bash's own clock:
# no process of the timing inside the time)
time_ms() {
	local t0 t1
	t0=$EPOCHREALTIME
	"$@" >/dev/null 2>&1 || { echo "bench-snapshot: '$*' failed" >&2; return 1; }
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# a delta-like tree: FILES files of 1-8 KiB in 100 directories
make_tree() {
	local dir=$1
	mkdir -p "$dir"
	perl -e '
		my ($dir, $n) = @ARGV;
		for my $i (0 .. $n - 1) {
			my $d = sprintf "%s/d%03d", $dir, $i % 100;
			mkdir $d;
			open my $f, ">", "$d/f$i" or die;
			print $f (("line $i of a config or a library\n") x (30 + $i % 200));
			close $f;
		}' "$dir" "$FILES"
}

mkdir -p "$T/golden/etc"
echo pi > "$T/golden/etc/hostname"
"$PIFS" init "$T/store" --golden "$T/golden" >/dev/null || exit 1
S=(--store "$T/store")
full_p=(); incr_p=(); full_g=(); incr_g=(); rg=(); rs=(); objs=
for r in $(seq 1 "$RUNS"); do
	w=bench-$r
	"$PIFS" "${S[@]}" worker add "$w" --serial "$(printf '%08x' $((0xbe000000 + r)))" >/dev/null || exit 1
	make_tree "$T/store/deltas/$w"
	# the same content in a git work tree
	make_tree "$T/git-$r"
	git -C "$T/git-$r" init -q && git -C "$T/git-$r" config user.email b@b && git -C "$T/git-$r" config user.name b
	sync; sleep 1
	full_p+=("$(time_ms "$PIFS" "${S[@]}" snapshot "$w" -m full)") || exit 1
	full_g+=("$(time_ms bash -c "cd '$T/git-$r' && git add -A && git commit -qm full")") || exit 1
	echo "changed $r" >> "$T/store/deltas/$w/d042/f42"
	echo "changed $r" >> "$T/git-$r/d042/f42"
	incr_p+=("$(time_ms "$PIFS" "${S[@]}" snapshot "$w" -m one)") || exit 1
	incr_g+=("$(time_ms bash -c "cd '$T/git-$r' && git add -A && git commit -qm one")") || exit 1
	echo "changed again $r" >> "$T/store/deltas/$w/d042/f42"
	objs=$("$PIFS" "${S[@]}" snapshot "$w" -m two --stats | awk '/objects/ { print $6 }')
	full_id=$("$PIFS" "${S[@]}" log "$w" | awk '$0 ~ / full( |$)/ { print $1; exit }')
	[ -n "$full_id" ] || { echo "bench-snapshot: no 'full' snapshot in pifs log $w" >&2; exit 1; }
	sync
	rg+=("$(time_ms "$PIFS" "${S[@]}" reset "$w" --golden --force)") || exit 1
	rs+=("$(time_ms "$PIFS" "${S[@]}" reset "$w" --to "$full_id" --force)") || exit 1
	[ -f "$T/store/deltas/$w/d042/f42" ] || { echo "bench-snapshot: reset --to $full_id did not restore the files" >&2; exit 1; }
done

# Mounted: each worker's delta is back at its full snapshot; a first
# snapshot under pifsd saves the cache under the journal's token, then
# one file changes through the mount.
PIFSD=$PIFS_BUILDDIR/fs/pifsd
mkdir -p "$T/mnt"
"$PIFSD" "$T/store" "$T/mnt" -f >"$T/pifsd.log" 2>&1 &
dpid=$!
for _ in $(seq 1 200); do mountpoint -q "$T/mnt" && [ -d "$T/mnt/nfsroot" ] && break; sleep 0.05; done
mountpoint -q "$T/mnt" || { cat "$T/pifsd.log"; echo "bench-snapshot: pifsd did not mount" >&2; exit 1; }
incr_m=(); scan_m=
sync; sleep 1
for r in $(seq 1 "$RUNS"); do
	"$PIFS" "${S[@]}" snapshot "bench-$r" -m arm >/dev/null || exit 1
done
sleep 1
for r in $(seq 1 "$RUNS"); do
	echo "mounted $r" >> "$T/mnt/nfsroot/bench-$r/d042/f42"
	incr_m+=("$(time_ms "$PIFS" "${S[@]}" snapshot "bench-$r" -m mounted)") || exit 1
	echo "mounted again $r" >> "$T/mnt/nfsroot/bench-$r/d042/f42"
	scan_m=$("$PIFS" "${S[@]}" snapshot "bench-$r" -m check --stats | sed -n 's/.* scan \([a-z]*\) stated \([0-9]*\)$/\1, \2 names stated/p')
done
umount -R "$T/mnt"
for _ in $(seq 1 600); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.05; done
wait "$dpid" 2>/dev/null

mf=$(printf '%s\n' "${full_p[@]}" | median); gf=$(printf '%s\n' "${full_g[@]}" | median)
mim=$(printf '%s\n' "${incr_m[@]}" | median)
mi=$(printf '%s\n' "${incr_p[@]}" | median); gi=$(printf '%s\n' "${incr_g[@]}" | median)
mrg=$(printf '%s\n' "${rg[@]}" | median); mrs=$(printf '%s\n' "${rs[@]}" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf '\nsnapshot of a %d-file delta, median of %d runs (ms)\n' "$FILES" "$RUNS"
printf '%-28s %10s %10s %8s\n' case "pifs" "git CLI" "pifs/git"
printf '%-28s %10s %10s %8s\n' "full snapshot" "$mf" "$gf" "$(ratio "$mf" "$gf")"
printf '%-28s %10s %10s %8s\n' "incremental (1 file)" "$mi" "$gi" "$(ratio "$mi" "$gi")"
printf '%-28s %10s %10s %8s\n' "incremental, mounted" "$mim" "$gi" "$(ratio "$mim" "$gi")"
printf '%-28s %10s\n' "reset --golden" "$mrg"
printf '%-28s %10s\n' "reset --to the full snapshot" "$mrs"
printf 'objects written by an incremental snapshot: %s\n' "$objs"
printf 'runs: pifs full %s | git full %s | pifs incr %s | git incr %s\n' \
	"${full_p[*]}" "${full_g[*]}" "${incr_p[*]}" "${incr_g[*]}"
printf 'runs: reset --golden %s | reset --to %s | pifs incr mounted %s\n' "${rg[*]}" "${rs[*]}" "${incr_m[*]}"
printf 'mounted incremental scan: %s\n' "${scan_m:-unknown}"
printf 'goal (not enforced): incremental < 50 ms, full faster than git CLI\n'
{
	printf 'case\tfiles\truns\tpifs_ms\tgit_ms\tratio\n'
	printf 'full\t%d\t%d\t%s\t%s\t%s\n' "$FILES" "$RUNS" "$mf" "$gf" "$(ratio "$mf" "$gf")"
	printf 'incremental\t%d\t%d\t%s\t%s\t%s\n' "$FILES" "$RUNS" "$mi" "$gi" "$(ratio "$mi" "$gi")"
	printf 'incremental-mounted\t%d\t%d\t%s\t%s\t%s\n' "$FILES" "$RUNS" "$mim" "$gi" "$(ratio "$mim" "$gi")"
	printf 'reset-golden\t%d\t%d\t%s\t-\t-\n' "$FILES" "$RUNS" "$mrg"
	printf 'reset-snapshot\t%d\t%d\t%s\t-\t-\n' "$FILES" "$RUNS" "$mrs"
} > "$TSV"
{
	for i in "${!full_p[@]}"; do
		r=$((i + 1))
		printf 'snapshot-full\tpifs\t%d\t%s\nsnapshot-full\tgit\t%d\t%s\n' $r "${full_p[i]}" $r "${full_g[i]}"
		printf 'snapshot-incremental\tpifs\t%d\t%s\nsnapshot-incremental\tgit\t%d\t%s\n' $r "${incr_p[i]}" $r "${incr_g[i]}"
		printf 'snapshot-incr-mounted\tpifs\t%d\t%s\nsnapshot-incr-mounted\tgit\t%d\t%s\n' $r "${incr_m[i]}" $r "${incr_g[i]}"
		printf 'reset-golden\tpifs\t%d\t%s\nreset-snapshot\tpifs\t%d\t%s\n' $r "${rg[i]}" $r "${rs[i]}"
	done
} > "$TSV.runs"
echo "TSV: $TSV"

