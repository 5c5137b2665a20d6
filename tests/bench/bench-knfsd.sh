#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-knfsd.sh - section 11 of bench.sh: the NFS boot replay through the
# kernel NFS server, which the test machines' kernel lacks: in the amd64
# master guest of tests/integration/lib-knfsd.sh (TCG; the build's pifs,
# the host's nfs-kernel-server).  In one guest run: a store made from the
# boot set (the files of BENCH_BOOTSET, copied out of BENCH_TREE with
# their owners and modes, shared into the guest read-only over 9p) and
# set up as the README's master (`pifs exports`, the fstab lines,
# `exportfs -ra`), and a plain copy of the same files on the same ext4
# disk exported with the same line (another path and fsid, as
# t-knfsd-posix does).  A worker (a network namespace with its registered
# address) mounts both with the options of its cmdline.txt and reads the
# boot set from each with `benchio readlist LIST 1M` (the time taken
# inside benchio: open, read to the end in 1 MiB read()s, close, every
# file).  Cold: `sync; echo 3 > /proc/sys/vm/drop_caches` in the guest
# first, which empties the server's page cache, pifs's FUSE caches and
# the NFS client's cache at once (one kernel); warm: the same list again
# right after (the NFS client then revalidates: GETATTR/ACCESS, the data
# from its page cache).  Peers in shuffled order, BENCH_RUNS repetitions.
# Then, to see where a difference goes: the NFSv3 calls one cold read of
# each peer made (the client's counters: more round trips, or slower
# ones?), the same cold read on the master without NFS (what FUSE alone
# costs), and with BENCH_PROFILE=1 a perf profile of one cold NFS read
# of each (CPU samples by process, then pifsd's and nfsd's symbols).
#
# Environment: BENCH_TREE, BENCH_BOOTSET (paths relative to the tree),
# BENCH_RUNS (default 3), BENCH_TSV (output: case<TAB>peer<TAB>run<TAB>ms),
# BENCH_DROP (0: no drop_caches, the cold rows are then warm),
# BENCH_PROFILE (1: the perf profile below; the host's perf, over 9p).
# Exit 0; 77 when a package is missing (lib-knfsd.sh names it); 1 when
# something could not run.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib-knfsd.sh"

if ! knfsd_in_guest; then
	: "${BENCH_TREE:?}" "${BENCH_BOOTSET:?}" "${BENCH_TSV:?}"
	knfsd_setup
	mkdir -p "$T/bset/tree"
	(cd "$BENCH_TREE" && cpio -pdm --quiet "$T/bset/tree") <"$BENCH_BOOTSET" ||
		{ fail "cannot copy the boot set out of $BENCH_TREE"; finish; }
	cp "$BENCH_BOOTSET" "$T/bset/bootset.rel"
	KNFSD_QEMU_ARGS=(-virtfs "local,path=$T/bset,mount_tag=bench,security_model=passthrough,readonly=on")
	knfsd_run 2400 "${BENCH_RUNS:-3}" "${BENCH_DROP:-1}" "$PIFS_BUILDDIR/tests/bench/benchio" "${BENCH_PROFILE:-0}"
	rc=$?
	cp "$T/out/knfsd.tsv" "$BENCH_TSV" 2>/dev/null
	exit $rc
fi

# ---- in the guest ----
RUNS=$1 DROP=$2 BENCHIO=$3 PROFILE=$4
knfsd_guest_setup
mkdir -p /run/bench
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 bench /run/bench || { fail "cannot mount the boot set's share"; finish; }
MOUNTS+=(/run/bench)
KNFSD_GOLDEN=/run/bench/tree knfsd_master w001:b0000001 || finish
PLAIN=$T/plain
cp -a /run/bench/tree "$PLAIN" || { fail "cp -a of the boot set"; finish; }
mkdir -p /plainroot/w001
mount --bind "$PLAIN" /plainroot/w001 && MOUNTS+=(/plainroot/w001) || { fail "bind of the plain directory"; finish; }
sed -n 's#^/nfsroot/w001 \(.*\),fsid=[0-9]*,#/plainroot/w001 \1,fsid=2002,#p' /etc/exports.d/pifs.exports >/etc/exports.d/plain.exports
[ -s /etc/exports.d/plain.exports ] || { cat /etc/exports.d/pifs.exports; fail "no export line for w001"; finish; }
exportfs -ra || { fail "exportfs -ra"; finish; }
knfsd_worker w001 /c/pifs || finish
knfsd_mount w001 10.1.1.100:/plainroot/w001 /c/plain "$KNFSD_OPTS" || { fail "mount of the plain export"; finish; }
for p in plain pifs; do sed "s#^#/c/$p/#" /run/bench/bootset.rel >"$T/list.$p"; done
echo "note: the boot set: $(wc -l </run/bench/bootset.rel) files, $(du -sm "$PLAIN" | cut -f1) MiB; both exports mounted with -o $KNFSD_OPTS"

cold() { sync; [ "$DROP" = 1 ] && echo 3 >/proc/sys/vm/drop_caches; return 0; }
TSV=$KNFSD_OUT/knfsd.tsv
: >"$TSV"
# replay PEER MODE RUN: one timed read of the boot set
replay() {
	local out ms
	out=$("$BENCHIO" readlist "$T/list.$1" 1048576 2>&1) || { fail "benchio readlist on $1 ($2): $out"; return 1; }
	ms=${out#ms=}
	ms=${ms%% *}
	printf 'nfs-knfsd-%s\t%s\t%s\t%s\n' "$2" "$1" "$3" "$ms" >>"$TSV"
	echo "note: run $3, $1, $2: $out"
}
for r in $(seq 1 "$RUNS"); do
	for p in $(printf '%s\n' plain pifs | shuf); do
		cold
		replay "$p" cold "$r"
		replay "$p" warm "$r"
	done
done

# Each repetition's own ratio (pifs / plain, the two read back to back):
# on a shared machine the load moves both peers' times by 2x between
# repetitions, less so a ratio taken within one.
for m in cold warm; do
	echo "note: run ratios pifs/plain, $m, repetition by repetition: $(awk -F'\t' -v c="nfs-knfsd-$m" '
		$1 == c { t[$3, $2] = $4; if ($3 > n) n = $3 }
		END { for (r = 1; r <= n; r++) if (t[r, "plain"] > 0) printf "%s%.2f", (r > 1 ? " " : ""), t[r, "pifs"] / t[r, "plain"] }' "$TSV")"
done

# Where the time goes: the NFSv3 calls of one cold read of each peer, as
# the worker's client counts them (its network namespace's
# /proc/net/rpc/nfs): the same on both when pifs adds no round trip.
V3OPS="null getattr setattr lookup access readlink read write create mkdir symlink mknod remove rmdir rename link readdir readdirplus fsstat fsinfo pathconf commit"
v3calls() { nsenter --net=/run/netns/w001 awk '$1 == "proc3" { for (i = 3; i <= NF; i++) print $i }' /proc/net/rpc/nfs; }
# With them, the guest's context switches (/proc/stat ctxt): under TCG
# each switch to another process's address space flushes QEMU's software
# TLB, which every process then pays for.
ctxt() { awk '$1 == "ctxt" { print $2 }' /proc/stat; }
for p in plain pifs; do
	cold
	v3calls >"$T/c0"
	x0=$(ctxt)
	"$BENCHIO" readlist "$T/list.$p" 1048576 >/dev/null
	x1=$(ctxt)
	v3calls >"$T/c1"
	echo "note: NFSv3 calls of one cold read, $p: $(paste <(tr ' ' '\n' <<<"$V3OPS") "$T/c0" "$T/c1" |
		awk '$3 > $2 { printf "%s%s %d", s, $1, $3 - $2; s = ", " }'); context switches $((x1 - x0))"
done

# The FUSE READ requests pifsd answers during one cold NFS read of the
# view, by size (strace of pifsd: the reply's splice from the file, or
# the pread of a reply bigger than a pipe): how nfsd's reads reach FUSE.
if command -v strace >/dev/null; then
	cold
	strace -f -e trace=splice,pread64 -o "$T/strace.pifsd" -p "$PIFSD_PID" 2>"$T/strace.err" &
	spid=$!
	for _ in $(seq 1 50); do grep -q attached "$T/strace.err" 2>/dev/null && break; sleep 0.1; done
	sleep 1
	"$BENCHIO" readlist "$T/list.pifs" 1048576 >/dev/null
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	echo "note: FUSE READs pifsd answered in one cold NFS read of the view, count x size: $(
		awk '/ splice\([0-9]+, \[/ || / pread64\(/ { s = $0; sub(/.*\) = /, "", s); n[s + 0]++ }
			END { for (k in n) printf "%d x %d\n", n[k], k }' "$T/strace.pifsd" | sort -rn | head -8 | paste -sd ' ')"
fi

# The same cold read on the master, no NFS: the pifs view (FUSE) against
# the plain directory (ext4), so that what FUSE costs can be told apart
# from what NFS over FUSE costs.
sed "s#^#/nfsroot/w001/#" /run/bench/bootset.rel >"$T/list.local-pifs"
sed "s#^#$PLAIN/#" /run/bench/bootset.rel >"$T/list.local-plain"
for p in plain pifs; do
	cold
	echo "note: local cold read on the master (no NFS), $p: $("$BENCHIO" readlist "$T/list.local-$p" 1048576 2>&1)"
done

# BENCH_PROFILE=1: where the guest's CPU goes during one cold read of
# each peer over NFS (perf, the host's, software clock: TCG has no PMU),
# the top symbols of every process, kernel and pifsd alike.
if [ "$PROFILE" = 1 ]; then
	for p in plain pifs; do
		cold
		perf record -q -e cpu-clock -F 1000 -a -o "$T/perf.$p" -- \
			"$BENCHIO" readlist "$T/list.$p" 1048576 >/dev/null 2>"$T/perf.err" ||
			{ cat "$T/perf.err"; continue; }
		echo "--- profile of one cold NFS read, $p: samples (1 ms each) by process, then pifsd's and nfsd's top symbols"
		perf report -q -n -i "$T/perf.$p" --sort comm --percent-limit 1 2>&1 | head -12
		perf report -q -n -i "$T/perf.$p" --comms pifsd,nfsd --sort comm,dso,sym --percent-limit 0.7 2>&1 | head -30
		echo "--- $p: pifsd's own samples by symbol (percent of pifsd's)"
		perf report -q -n -i "$T/perf.$p" --comms pifsd --percentage relative --sort sym --percent-limit 1 2>&1 | head -30
	done
fi
finish
