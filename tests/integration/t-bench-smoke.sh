#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-bench-smoke.sh - `make bench` still runs: the harness on a tiny
# generated tree, one repetition, the page cache left alone.  Checked: it
# exits 0 and its machine-readable file has a median for every workload
# on every peer that workload compares.  Never a timing: the numbers are not looked at.
. "$(dirname "$0")/lib.sh"

setup
command -v fio >/dev/null || skip "fio missing (apt-get install fio)"
command -v fuse-overlayfs >/dev/null || skip "fuse-overlayfs missing (apt-get install fuse-overlayfs)"
command -v dnsmasq >/dev/null || skip "dnsmasq missing (apt-get install dnsmasq-base)"
command -v ip >/dev/null || skip "ip missing (apt-get install iproute2)"
command -v ganesha.nfsd >/dev/null || skip "ganesha.nfsd missing (apt-get install nfs-ganesha nfs-ganesha-vfs)"
[ -x "$PIFS_BUILDDIR/tests/tools/nfsclient" ] || skip "tests/tools/nfsclient not built: libnfs-dev missing at configure time"
[ -x "$PIFS_BUILDDIR/tests/bench/benchio" ] && [ -x "$PIFS_BUILDDIR/tests/tools/bootrom" ] ||
	skip "build tests/bench/benchio and tests/tools/bootrom first (make check)"
ip netns add "pifsbench-probe-$$" 2>/dev/null || skip "cannot make a network namespace"
ip netns del "pifsbench-probe-$$"

OUT=$T/results.tsv
# The run's directories go under $B and its namespaces carry its pid, so
# what is checked below is this run's, whatever else runs a bench.
B=$T/bench
mkdir "$B" && chmod 711 "$T" "$B" # dnsmasq drops root
PIFS_BENCH_TMP=$B PIFS_BENCH_TINY=1 PIFS_BENCH_REPS=1 PIFS_BENCH_DROP=0 PIFS_BENCH_OUT=$OUT \
	bash "$PIFS_SRCDIR/tests/bench/run.sh" >"$T/bench.out" 2>&1 &
bpid=$! # run.sh execs bench.sh: the pid its namespaces are named by
wait "$bpid"
rc=$?
expect_eq "bench exit status" 0 "$rc"
[ $rc = 0 ] || tail -40 "$T/bench.out"
[ -s "$OUT" ] || { fail "no $OUT"; finish; }

# has CASE PEER...: a numeric median for each PEER
has() {
	local c=$1 p m
	shift
	for p in "$@"; do
		m=$(awk -F'\t' -v c="$c" -v p="$p" '$2 == c && $5 == p { print $7 }' "$OUT")
		[[ $m =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || { fail "no median for $c on $p (got '$m')"; return; }
	done
	ok "$c: $*"
}
all="plain kovl fovl pifs"
for c in seq256-cold-4k seq256-cold-1m seq256-warm-4k seq256-warm-1m kernel8-cold-4k kernel8-cold-1m \
	kernel8-warm-4k kernel8-warm-1m rand4k-cold rand4k-warm walk-cold walk-warm readdir-cold readdir-warm \
	smallfiles smallfiles-create smallfiles-rename smallfiles-unlink copyup-files copyup-big \
	views-1 views-1-cache views-4 views-4-cache views-per-view; do
	has "$c" $all
done
for c in seq256-warm-4k walk-cold smallfiles; do
	has "$c" pifs/kovl pifs/fovl pifs/plain
done
has rss-run pifs
has rss-idle pifs
has rss-touched pifs
has rss-touched-hwm pifs
has tftp-1 plain pifs
has tftp-2 plain pifs
has snapshot-full plain pifs
has snapshot-incremental plain pifs
has snapshot-incr-mounted plain pifs
has reset-golden pifs
has reset-snapshot pifs
has import-xz-s pifs
has stall-sparse pifs
has stall-dense pifs
has import-xz-rss pifs
has nfs-replay-cold plain pifs
has nfs-replay-warm plain pifs
grep -q '^# machine: ' "$OUT" && ok "machine line" || fail "no machine line in $OUT"
grep -q '^| workload | unit | plain | overlayfs | fuse-ovl | pifs |' "$T/bench.out" && ok "printed table" ||
	fail "no printed table"
# Nothing of the run is left mounted.
if grep -qF " $B/" /proc/mounts; then fail "bench left mounts: $(grep -F " $B/" /proc/mounts)"; else ok "no mount left"; fi
if ip netns list | grep -Eq "^pifsbench-[mw]-$bpid( |\$)"; then fail "bench left a network namespace"; else ok "no namespace left"; fi
[ -z "$(ls -A "$B")" ] && ok "no directory left" || fail "bench left $(ls -A "$B")"
finish
