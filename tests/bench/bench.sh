#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench.sh - pifs side by side with its peers, in one run (`make bench`).
#
# The same golden tree (tests/bench/mktree.sh) is served four ways, all on
# the same disk: "plain" (a copy of it: a directory, no layering),
# "overlayfs" (kernel overlayfs, lowerdir = the tree), "fuse-ovl"
# (fuse-overlayfs, the same three options) and "pifs" (a store made from
# the tree, a view nfsroot/<worker>).  Each repetition mounts a fresh
# instance of every peer (a fresh upper dir; a pristine pifs worker) and
# runs every (workload, peer) pair in shuffled order; the table shows the
# median of the repetitions, and pifs's ratio to each peer (pifs time /
# peer time: below 1 pifs is faster).
#
#   bench.sh [SECTION...]   sections: read random stat write views tftp
#                           nfs snapshot import stall knfsd (default: all;
#                           knfsd with PIFS_BENCH_TINY=1 only when named)
#
# Environment: PIFS_BENCH_REPS (repetitions, default 5; sections 6 and 8
# do PIFS_BENCH_SLOW_REPS, default at most 3),
# PIFS_BENCH_TINY=1 (a small generated tree, small sizes: seconds),
# PIFS_BENCH_DROP=0 (never drop the page cache: "cold" rows are then not
# cold; for the smoke test on a busy machine), PIFS_BENCH_OUT (the
# machine-readable result, default $PIFS_BUILDDIR/bench-results.tsv),
# PIFS_CACHE (where the full tree is cached, default /var/cache/pifs),
# PIFS_BENCH_PIFSD_OPTS (more -o options for pifsd, for A/B runs, e.g.
# uring=off), PIFS_BENCH_TMP (where the runs' directories go, default
# /var/tmp: a disk file system with xattrs, traversable by dnsmasq).
#
# "cold": `sync; echo 3 > /proc/sys/vm/drop_caches` right before the
# timed run; "warm": the same run once untimed right before.  Times are
# measured inside tests/bench/benchio (or fio, dnsmasq's TFTP client) so
# no shell fork is timed.  Measurements only: this never fails on a
# number, only when something cannot run (exit 1, with the table of what
# did run).  Network: only inside the two namespaces made for the TFTP
# replay (pifsbench-m-PID, pifsbench-w-PID), removed on exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${PIFS_BUILDDIR:=$(cd "$here/../.." && pwd)}"
: "${PIFS_SRCDIR:=$(cd "$here/../.." && pwd)}"
PIFS=$PIFS_BUILDDIR/tools/pifs
PIFSD=$PIFS_BUILDDIR/fs/pifsd
BENCHIO=$PIFS_BUILDDIR/tests/bench/benchio
BOOTROM=$PIFS_BUILDDIR/tests/tools/bootrom
export PIFS_DAEMON=$PIFSD
REPS=${PIFS_BENCH_REPS:-5}
# The TFTP replay and the snapshot runs take minutes each: at most 3.
SLOW_REPS=${PIFS_BENCH_SLOW_REPS:-$((REPS < 3 ? REPS : 3))}
TINY=${PIFS_BENCH_TINY:-0}
DROP=${PIFS_BENCH_DROP:-1}
OUT=${PIFS_BENCH_OUT:-$PIFS_BUILDDIR/bench-results.tsv}
PEERS="plain kovl fovl pifs"
if [ "$TINY" = 1 ]; then
	SMALL_FILES=300 COPYUP_FILES=100 VIEWS="1 4" TFTP_PIS="1 2" NWORKERS=24
	RAND_WARM=4M RAND_COLD=1M SNAP_FILES=300
else
	SMALL_FILES=10000 COPYUP_FILES=2000 VIEWS="1 4 16 64" TFTP_PIS="1 20" NWORKERS=200
	RAND_WARM=64M RAND_COLD=16M SNAP_FILES=10000
fi
SECTIONS=${*:-read random stat write views tftp nfs snapshot import stall knfsd}
# the kernel nfsd's replay boots a TCG guest (minutes): with the tiny
# tree only when named
[ "$TINY" = 1 ] && [ $# = 0 ] && SECTIONS=${SECTIONS% knfsd}
VMAX=0
for n in $VIEWS; do [ "$n" -gt "$VMAX" ] && VMAX=$n; done
VBASE=$((20 + REPS)) # views use workers VBASE+1..VBASE+VMAX
[ "$NWORKERS" -lt $((VBASE + VMAX)) ] && NWORKERS=$((VBASE + VMAX))
want() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (mounts, drop_caches)"
for x in "$PIFS" "$PIFSD" "$BENCHIO"; do [ -x "$x" ] || die "build $x first (make bench builds it)"; done
for c in fio fuse-overlayfs fusermount3 shuf perl; do
	command -v $c >/dev/null || die "needs $c (apt-get install fio fuse-overlayfs fuse3 coreutils perl)"
done
if want tftp; then
	[ -x "$BOOTROM" ] || die "build $BOOTROM first"
	command -v dnsmasq >/dev/null && command -v ip >/dev/null || die "needs dnsmasq and ip (apt-get install dnsmasq-base iproute2)"
fi

# ---- state and cleanup ----
T=$(mktemp -d "${PIFS_BENCH_TMP:-/var/tmp}/pifs-bench.XXXXXX")
chmod 711 "$T" # dnsmasq drops root and must reach the mounts
MOUNTS=()  # unmounted in reverse order
PIDS=()    # stopped after the unmounts
NETNS=()
NFAIL=0
cleanup() {
	local i p ns
	declare -F stop_nfs >/dev/null && stop_nfs # section 7
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		mountpoint -q "${MOUNTS[i]}" 2>/dev/null &&
			{ umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null; }
	done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	chattr -R -i "$T" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

RAW=$T/raw.tsv      # case peer rep value
CASES=$T/cases.tsv  # case section unit target label (table order)
: >"$RAW"
: >"$CASES"
# declare CASE SECTION UNIT TARGET LABEL
declare_case() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$CASES"; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }
warn() { echo "bench: $*" >&2; NFAIL=$((NFAIL + 1)); }

drop_caches() {
	sync
	[ "$DROP" = 1 ] && echo 3 >/proc/sys/vm/drop_caches
	return 0
}
# ms OUTPUT: the ms= field of a benchio line
ms_of() { sed -n 's/^ms=\([0-9.]*\).*/\1/p' <<<"$1"; }
field_of() { sed -n "s/.* $2=\\([0-9.]*\\).*/\\1/p" <<<"$1"; }
cached_kib() { awk '/^Cached:/ { print $2 }' /proc/meminfo; }

# wait_mount MNT PID: bounded wait until MNT is a mount point
wait_mount() {
	for _ in $(seq 1 200); do
		mountpoint -q "$1" && return 0
		[ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && return 1
		sleep 0.05
	done
	return 1
}

# ---- the tree ----
echo "bench: preparing the golden tree"
if [ "$TINY" = 1 ]; then
	TREE=$(bash "$here/mktree.sh" tiny "$T/tree") || die "cannot make the tiny tree"
else
	TREE=$(bash "$here/mktree.sh" full) || die "cannot make the bench tree"
fi
NENTRIES=$(find "$TREE" | wc -l)
TREE_MIB=$(du -sm "$TREE" | cut -f1)
SEQF=opt/pifs-bench/seq-256M
BIGF=opt/pifs-bench/copyup-100M
KERNEL=boot/firmware/kernel8.img
# The copy-up set: COPYUP_FILES regular files spread over usr/share and
# usr/lib (what a package upgrade rewrites), the same in every peer.
(cd "$TREE" && find usr/share usr/lib -type f -links 1 -size -1024k | LC_ALL=C sort |
	awk -v n="$COPYUP_FILES" '{ v[NR] = $0 } END { s = NR / n; if (s < 1) s = 1;
		for (i = 0; i < n && int(i * s) + 1 <= NR; i++) print v[int(i * s) + 1] }') >"$T/copyup.rel"
# The three largest directories, for readdir.
LARGEDIRS=$(cd "$TREE" && find . -mindepth 1 -printf '%h\n' | sort | uniq -c | sort -rn | head -3 | awk '{ print $2 }' | sed 's#^\./##')
# The boot set: what a worker reads first (its boot files over TFTP, then
# systemd and its libraries over NFS).
(cd "$TREE" && {
	find boot/firmware -type f
	find usr/lib/systemd lib/systemd -maxdepth 1 -type f 2>/dev/null
	find lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu -maxdepth 1 -type f \( -name 'libc.so*' \
		-o -name 'ld-linux*' -o -name 'libm.so*' -o -name 'libselinux*' -o -name 'libmount*' \
		-o -name 'libblkid*' -o -name 'libcap.so*' -o -name 'libcrypt.so*' -o -name 'libgcrypt*' \
		-o -name 'libzstd*' -o -name 'liblzma*' -o -name 'liblz4*' -o -name 'libkmod*' \
		-o -name 'libseccomp*' -o -name 'libacl*' -o -name 'libpam.so*' -o -name 'libaudit*' \) 2>/dev/null
	find usr/lib/aarch64-linux-gnu/systemd lib/aarch64-linux-gnu/systemd usr/lib/systemd -type f -name 'libsystemd-shared*' 2>/dev/null
} | LC_ALL=C sort -u) >"$T/bootset.rel"
BOOTSET_BYTES=$(cd "$TREE" && tr '\n' '\0' <"$T/bootset.rel" | xargs -0 stat -c %s | awk '{ t += $1 } END { print t }')
echo "bench: tree $TREE: $NENTRIES entries, $TREE_MIB MiB; boot set $(wc -l <"$T/bootset.rel") files, $((BOOTSET_BYTES >> 20)) MiB"

# ---- the peers ----
echo "bench: copying the tree for the plain peer and into a pifs store"
cp -a "$TREE" "$T/plain" || die "cannot copy the tree"
"$PIFS" init "$T/store" --golden "$TREE" >"$T/init.log" 2>&1 || { cat "$T/init.log"; die "pifs init failed"; }
# Worker names: w001-w020 (TFTP replay, the store's address range), w021..
# (one per repetition), then VMAX for the views, the rest up to NWORKERS.
for i in $(seq 1 "$NWORKERS"); do
	# past the range, fixed addresses of its /24 (not .100, the master's)
	if [ "$i" -le 20 ]; then ipopt=(); else ipopt=(--ip "10.1.1.$((i < 100 ? i : i + 1))"); fi
	"$PIFS" --store "$T/store" worker add "$(printf 'w%03d' "$i")" --serial "$(printf 'b0%06x' "$i")" "${ipopt[@]}" \
		>/dev/null || die "pifs worker add $i failed"
done
PIFSD_PID=
mount_pifs() {
	mkdir -p "$T/pifs"
	"$PIFSD" "$T/store" "$T/pifs" -f -o allow_other${PIFS_BENCH_PIFSD_OPTS:+,$PIFS_BENCH_PIFSD_OPTS} >>"$T/pifsd.log" 2>&1 &
	PIFSD_PID=$!
	PIDS+=("$PIFSD_PID")
	MOUNTS+=("$T/pifs")
	wait_mount "$T/pifs" "$PIFSD_PID" && [ -d "$T/pifs/nfsroot" ] || { cat "$T/pifsd.log"; die "pifsd did not mount"; }
	# each worker's own file system, mounted by pifsd right after
	local w
	for w in "$T"/pifs/nfsroot/*; do
		wait_mount "$w" "$PIFSD_PID" || { cat "$T/pifsd.log"; die "pifsd did not mount $w"; }
	done
}
umount_pifs() {
	umount -R "$T/pifs" || warn "cannot unmount $T/pifs"
	for _ in $(seq 1 100); do kill -0 "$PIFSD_PID" 2>/dev/null || break; sleep 0.05; done
	wait "$PIFSD_PID" 2>/dev/null
}
mount_pifs

# mount_kovl DIR / mount_fovl DIR: a fresh overlay of the tree at DIR/mnt
mount_kovl() {
	mkdir -p "$1/up" "$1/work" "$1/mnt"
	mount -t overlay overlay -o "lowerdir=$TREE,upperdir=$1/up,workdir=$1/work" "$1/mnt" ||
		die "cannot mount kernel overlayfs at $1/mnt"
	MOUNTS+=("$1/mnt")
}
mount_fovl() {
	mkdir -p "$1/up" "$1/work" "$1/mnt"
	fuse-overlayfs -f -o "lowerdir=$TREE,upperdir=$1/up,workdir=$1/work" "$1/mnt" >>"$T/fovl.log" 2>&1 &
	PIDS+=("$!")
	MOUNTS+=("$1/mnt")
	wait_mount "$1/mnt" "$!" || { tail "$T/fovl.log"; die "fuse-overlayfs did not mount $1/mnt"; }
	echo "$!" >"$1/pid"
}
umount_any() {
	local pid=
	[ -f "$1/pid" ] && pid=$(cat "$1/pid")
	umount -R "$1/mnt" || warn "cannot unmount $1/mnt"
	if [ -n "$pid" ]; then
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		wait "$pid" 2>/dev/null
	fi
}
# root PEER REP: where the tree is in that peer's instance REP
root() {
	case $1 in
	plain) echo "$T/plain" ;;
	kovl) echo "$T/kovl-$2/mnt" ;;
	fovl) echo "$T/fovl-$2/mnt" ;;
	pifs) printf '%s/pifs/nfsroot/w%03d\n' "$T" $((20 + $2)) ;;
	esac
}

# ---- sections 1-4: one case on one peer ----
# run_case CASE PEER REP: measure, record, or warn
run_case() {
	local c=$1 p=$2 r=$3 R out f bs
	R=$(root "$p" "$r")
	case $c in
	seq256-* | kernel8-*)
		case $c in seq256-*) f=$R/$SEQF ;; *) f=$R/$KERNEL ;; esac
		bs=${c##*-}
		case $c in
		*-cold-*) drop_caches ;;
		*) sync; "$BENCHIO" read "$f" "$bs" >/dev/null ;;
		esac
		out=$("$BENCHIO" read "$f" "$bs") || { warn "$c on $p failed"; return; }
		record "$c" "$p" "$r" "$(ms_of "$out")"
		;;
	rand4k-*)
		local size
		case $c in
		*-cold) drop_caches; size=$RAND_COLD ;;
		*) sync; "$BENCHIO" read "$R/$SEQF" 1m >/dev/null; size=$RAND_WARM ;;
		esac
		out=$(fio --name=rand --filename="$R/$SEQF" --readonly --rw=randread --bs=4k --ioengine=psync \
			--invalidate=0 --io_size="$size" --randrepeat=1 --norandommap --output-format=json 2>"$T/fio.err") ||
			{ cat "$T/fio.err" >&2; warn "$c on $p failed"; return; }
		record "$c" "$p" "$r" "$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
			printf "%.3f", $j->{jobs}[0]{read}{runtime}' <<<"$out")"
		;;
	walk-*)
		case $c in *-cold) drop_caches ;; *) sync; "$BENCHIO" walk "$R" >/dev/null ;; esac
		out=$("$BENCHIO" walk "$R") || { warn "$c on $p failed"; return; }
		record "$c" "$p" "$r" "$(ms_of "$out")"
		;;
	readdir-*)
		local dirs=()
		for f in $LARGEDIRS; do dirs+=("$R/$f"); done
		case $c in *-cold) drop_caches ;; *) sync; "$BENCHIO" readdir "${dirs[@]}" >/dev/null ;; esac
		out=$("$BENCHIO" readdir "${dirs[@]}") || { warn "$c on $p failed"; return; }
		record "$c" "$p" "$r" "$(ms_of "$out")"
		;;
	smallfiles)
		sync
		out=$("$BENCHIO" smallfiles "$R/bench-small-$r" "$SMALL_FILES") || { warn "$c on $p failed"; return; }
		record smallfiles "$p" "$r" "$(ms_of "$out")"
		record smallfiles-create "$p" "$r" "$(field_of "$out" create_ms)"
		record smallfiles-rename "$p" "$r" "$(field_of "$out" rename_ms)"
		record smallfiles-unlink "$p" "$r" "$(field_of "$out" unlink_ms)"
		;;
	copyup-files)
		sed "s#^#$R/#" "$T/copyup.rel" >"$T/copyup.list"
		drop_caches
		out=$("$BENCHIO" copyup "$T/copyup.list") || { warn "$c on $p failed"; return; }
		record "$c" "$p" "$r" "$(ms_of "$out")"
		;;
	copyup-big)
		echo "$R/$BIGF" >"$T/copyup.list"
		drop_caches
		out=$("$BENCHIO" copyup "$T/copyup.list") || { warn "$c on $p failed"; return; }
		record "$c" "$p" "$r" "$(ms_of "$out")"
		;;
	esac
}

SEQ_MIB=$(($(stat -c %s "$TREE/$SEQF") >> 20))
KERNEL_MIB=$(awk -v b="$(stat -c %s "$TREE/$KERNEL")" 'BEGIN { printf "%.1f", b / 1048576 }')
BIG_MIB=$(($(stat -c %s "$TREE/$BIGF") >> 20))
W="target: within"
MAIN=()
if want read; then
	for t in cold warm; do
		[ $t = warm ] && tg="<=1.3x ovl" || tg="<=1.5x ovl"
		for bs in 4k 1m; do
			declare_case "seq256-$t-$bs" "1 read" ms "$tg" "seq read $SEQ_MIB MiB, $t, $bs reads"
			declare_case "kernel8-$t-$bs" "1 read" ms "$tg" "seq read kernel8.img ($KERNEL_MIB MiB), $t, $bs"
			MAIN+=("seq256-$t-$bs" "kernel8-$t-$bs")
		done
	done
fi
if want random; then
	declare_case rand4k-cold "2 random" ms "<=1.5x ovl" "random 4k reads (fio psync), cold, $RAND_COLD"
	declare_case rand4k-warm "2 random" ms "<=1.3x ovl" "random 4k reads (fio psync), warm, $RAND_WARM"
	MAIN+=(rand4k-cold rand4k-warm)
fi
if want stat; then
	declare_case walk-cold "3 stat" ms "<=0.67x fovl" "stat walk of the root ($NENTRIES entries), cold"
	declare_case walk-warm "3 stat" ms "<=0.67x fovl" "stat walk of the root, warm"
	declare_case readdir-cold "3 stat" ms "-" "readdir of the 3 largest dirs, cold"
	declare_case readdir-warm "3 stat" ms "-" "readdir of the 3 largest dirs, warm"
	MAIN+=(walk-cold walk-warm readdir-cold readdir-warm)
fi
if want write; then
	declare_case smallfiles "4 write" ms "<=0.67x fovl" "$SMALL_FILES small files: create+write+fsync, rename, unlink"
	declare_case smallfiles-create "4 write" ms "-" "  of which create+write+fsync+close"
	declare_case smallfiles-rename "4 write" ms "-" "  of which rename"
	declare_case smallfiles-unlink "4 write" ms "-" "  of which unlink"
	declare_case copyup-files "4 write" ms "-" "copy-up of $(wc -l <"$T/copyup.rel") golden files (open for write), cold"
	declare_case copyup-big "4 write" ms "-" "copy-up of one $BIG_MIB MiB file, cold"
	MAIN+=(smallfiles copyup-files copyup-big)
fi

if [ ${#MAIN[@]} -gt 0 ]; then
	for r in $(seq 1 "$REPS"); do
		echo "bench: sections 1-4, repetition $r of $REPS"
		mount_kovl "$T/kovl-$r"
		mount_fovl "$T/fovl-$r"
		for c in "${MAIN[@]}"; do for p in $PEERS; do echo "$c $p"; done; done | shuf >"$T/order"
		while read -r c p; do run_case "$c" "$p" "$r"; done <"$T/order"
		umount_any "$T/fovl-$r"
		umount_any "$T/kovl-$r"
	done
fi

# ---- section 5: views scale ----
if want views; then
	vmax=$VMAX
	echo "bench: section 5, $vmax views of each peer"
	for i in $(seq 1 "$vmax"); do
		mount_kovl "$T/kv-$i"
		mount_fovl "$T/fv-$i"
	done
	# vroot PEER I: the I-th view of PEER (plain: the one directory)
	vroot() {
		case $1 in
		plain) echo "$T/plain" ;;
		kovl) echo "$T/kv-$2/mnt" ;;
		fovl) echo "$T/fv-$2/mnt" ;;
		pifs) printf '%s/pifs/nfsroot/w%03d\n' "$T" $((VBASE + $2)) ;;
		esac
	}
	for n in $VIEWS; do
		declare_case "views-$n" "5 views" ms "-" "boot set read through $n view(s), cold"
		declare_case "views-$n-cache" "5 views" MiB "-" "  page cache growth"
	done
	declare_case views-per-view "5 views" "%" "<5% pifs" "  growth per extra view, % of the $((BOOTSET_BYTES >> 20)) MiB set"
	for r in $(seq 1 "$REPS"); do
		for n in $VIEWS; do for p in $PEERS; do echo "$n $p"; done; done | shuf >"$T/order"
		while read -r n p; do
			: >"$T/views.list"
			for i in $(seq 1 "$n"); do sed "s#^#$(vroot "$p" "$i")/#" "$T/bootset.rel" >>"$T/views.list"; done
			drop_caches
			c0=$(cached_kib)
			out=$("$BENCHIO" readlist "$T/views.list" 1m) || { warn "views-$n on $p failed"; continue; }
			c1=$(cached_kib)
			record "views-$n" "$p" "$r" "$(ms_of "$out")"
			record "views-$n-cache" "$p" "$r" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f", (b - a) / 1024 }')"
		done <"$T/order"
	done
	for i in $(seq 1 "$vmax"); do
		umount_any "$T/fv-$i"
		umount_any "$T/kv-$i"
	done
fi

# pifsd's memory: after everything above, then in a fresh daemon once
# every one of the NWORKERS views was walked (etc/, boot/) and its boot
# set read.
rss_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
declare_case rss-run "5 views" MiB "-" "pifsd VmHWM after the run above"
record rss-run pifs 1 "$(awk -v k="$(rss_kib "$PIFSD_PID" VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')"
if want views; then
	echo "bench: section 5, pifsd memory with $NWORKERS workers"
	umount_pifs
	t0=$(date +%s%N)
	mount_pifs
	t1=$(date +%s%N)
	# each worker a FUSE file system of its own: what that costs
	declare_case mount-all "5 views" ms "-" "mount of the top and $NWORKERS workers' file systems"
	record mount-all pifs 1 "$(( (t1 - t0) / 1000000 ))"
	declare_case threads "5 views" n "<64" "pifsd threads, $NWORKERS workers mounted"
	declare_case fds "5 views" n "-" "pifsd open fds, $NWORKERS workers mounted"
	record threads pifs 1 "$(ls "/proc/$PIFSD_PID/task" | wc -l)"
	record fds pifs 1 "$(ls "/proc/$PIFSD_PID/fd" | wc -l)"
	declare_case rss-idle "5 views" MiB "-" "pifsd VmRSS, fresh, $NWORKERS workers registered"
	declare_case rss-touched "5 views" MiB "<64 MiB" "pifsd VmRSS, every view walked+boot set read"
	declare_case rss-touched-hwm "5 views" MiB "<64 MiB" "  VmHWM"
	record rss-idle pifs 1 "$(awk -v k="$(rss_kib "$PIFSD_PID" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"
	for i in $(seq 1 "$NWORKERS"); do
		v=$(printf '%s/pifs/nfsroot/w%03d' "$T" "$i")
		"$BENCHIO" walk "$v/etc" >/dev/null && "$BENCHIO" walk "$v/boot" >/dev/null &&
			sed "s#^#$v/#" "$T/bootset.rel" >"$T/views.list" &&
			"$BENCHIO" readlist "$T/views.list" 1m >/dev/null || { warn "touching view $v failed"; break; }
	done
	record rss-touched pifs 1 "$(awk -v k="$(rss_kib "$PIFSD_PID" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"
	declare_case threads-touched "5 views" n "<64" "  threads after that"
	declare_case fds-touched "5 views" n "-" "  open fds after that (reply pipes: per thread and worker served)"
	record threads-touched pifs 1 "$(ls "/proc/$PIFSD_PID/task" | wc -l)"
	record fds-touched pifs 1 "$(ls "/proc/$PIFSD_PID/fd" | wc -l)"
	record rss-touched-hwm pifs 1 "$(awk -v k="$(rss_kib "$PIFSD_PID" VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')"
fi

# ---- section 6: TFTP boot replay ----
if want tftp; then
	. "$here/tftp.sh"
	tftp_replay
fi

# ---- section 7: NFS boot replay ----
if want nfs; then
	. "$here/nfs.sh"
	nfs_replay
fi

# ---- section 8: snapshot and reset ----
if want snapshot; then
	echo "bench: section 8, snapshot and reset (tests/bench/bench-snapshot.sh)"
	BENCH_FILES=$SNAP_FILES BENCH_RUNS=$SLOW_REPS BENCH_TSV=$T/snapshot.tsv \
		bash "$here/bench-snapshot.sh" >"$T/snapshot.out" 2>&1 ||
		{ cat "$T/snapshot.out"; warn "bench-snapshot.sh failed"; }
	declare_case snapshot-full "8 snapshot" ms "-" "full snapshot of a $SNAP_FILES-file delta (plain column: git add+commit)"
	declare_case snapshot-incremental "8 snapshot" ms "<50 ms" "incremental snapshot, 1 file changed in the unmounted delta (plain: git)"
	declare_case snapshot-incr-mounted "8 snapshot" ms "<50 ms" "incremental snapshot, 1 file changed through the mount (plain: git)"
	declare_case reset-golden "8 snapshot" ms "-" "reset --golden of a $SNAP_FILES-file delta"
	declare_case reset-snapshot "8 snapshot" ms "-" "reset --to the full snapshot ($SNAP_FILES files back)"
	# runs.tsv of bench-snapshot.sh: case tool run ms
	[ -f "$T/snapshot.tsv.runs" ] && while IFS=$'\t' read -r c tool r v; do
		[ "$tool" = git ] && tool=plain
		record "$c" "$tool" "$r" "$v"
	done <"$T/snapshot.tsv.runs"
fi

# ---- section 9: image import ----
if want import; then
	echo "bench: section 9, image import (tests/bench/bench-import.sh)"
	imb=${BENCH_IMPORT_MB:-1600}
	[ "$TINY" = 1 ] && imb=${BENCH_IMPORT_MB:-24}
	BENCH_IMPORT_MB=$imb BENCH_TSV=$T/import.tsv bash "$here/bench-import.sh" >"$T/import.out" 2>&1 ||
		{ cat "$T/import.out"; warn "bench-import.sh failed"; }
	sed -n '/^way /,$p' "$T/import.out"
	declare_case import-xz-s "9 import" s "<1x plain" "import a ~$((imb + 600)) MiB .img.xz (plain: xz -d + losetup + cp -a)"
	declare_case import-xz-rss "9 import" KiB "-" "peak RSS of that import (plain: the largest of its steps)"
	[ -f "$T/import.tsv" ] && while IFS=$'\t' read -r c way v; do
		record "$c" "$way" 1 "$v"
	done <"$T/import.tsv"
fi

# ---- section 10: the longest write stall during a snapshot ----
if want stall; then
	echo "bench: section 10, write stall during a snapshot (tests/bench/bench-stall.sh)"
	sgb=${BENCH_STALL_SPARSE_GB:-6} dmb=${BENCH_STALL_DENSE_MB:-1024}
	[ "$TINY" = 1 ] && sgb=${BENCH_STALL_SPARSE_GB:-1} dmb=${BENCH_STALL_DENSE_MB:-64}
	BENCH_STALL_SPARSE_GB=$sgb BENCH_STALL_DENSE_MB=$dmb BENCH_TSV=$T/stall.tsv \
		bash "$here/bench-stall.sh" >"$T/stall.out" 2>&1 ||
		{ cat "$T/stall.out"; warn "bench-stall.sh failed"; }
	sed -n '/^longest write stall/,$p' "$T/stall.out"
	declare_case stall-sparse "10 stall" ms "<1000 ms" "longest 4 KiB write into the view during a snapshot of a $sgb GiB one-byte sparse file"
	declare_case stall-dense "10 stall" ms "<1000 ms" "the same during a snapshot of $dmb MiB of fresh data"
	declare_case stall-snap-sparse "10 stall" ms "-" "that snapshot of the sparse file"
	declare_case stall-reset-sparse "10 stall" ms "-" "reset --to it (the file restored, sparse)"
	[ -f "$T/stall.tsv" ] && while IFS=$'\t' read -r c st n sm rm d0 d1; do
		case $c in
		sparse-*) record stall-sparse pifs 1 "$st"
			record stall-snap-sparse pifs 1 "$sm"
			record stall-reset-sparse pifs 1 "$rm" ;;
		dense-*) record stall-dense pifs 1 "$st" ;;
		esac
	done <"$T/stall.tsv"
fi

# ---- section 11: the NFS boot replay through the kernel nfsd ----
if want knfsd; then
	echo "bench: section 11, NFS boot replay through the kernel nfsd (tests/bench/bench-knfsd.sh, an amd64 guest)"
	declare_case nfs-knfsd-cold "11 knfsd" ms "<=1.1x plain" "NFS boot replay (kernel nfsd, NFSv3, kernel client), boot set, cold"
	declare_case nfs-knfsd-warm "11 knfsd" ms "<=1.1x plain" "NFS boot replay through the kernel nfsd, warm"
	BENCH_TREE=$TREE BENCH_BOOTSET=$T/bootset.rel BENCH_RUNS=$SLOW_REPS BENCH_DROP=$DROP BENCH_TSV=$T/knfsd.tsv \
		bash "$here/bench-knfsd.sh" >"$T/knfsd.out" 2>&1
	rc=$?
	grep '^note: \(run\|NFSv3\|local\|FUSE\)' "$T/knfsd.out"
	[ $rc = 0 ] || { tail -40 "$T/knfsd.out"; warn "bench-knfsd.sh failed (exit $rc)"; }
	[ -f "$T/knfsd.tsv" ] && while IFS=$'\t' read -r c p r v; do
		record "$c" "$p" "$r" "$v"
	done <"$T/knfsd.tsv"
fi

# pifsd ends here, so that a sanitizer build's exit report (leaks) is in
# its log: a report is a failure of the run, as in the tests.
mountpoint -q "$T/pifs" && umount_pifs
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/pifsd.log" 2>/dev/null; then
	grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/pifsd.log" | head -60 >&2
	warn "sanitizer report in pifsd's log"
fi

# ---- the table ----
. "$here/report.sh"
report
[ "$NFAIL" -eq 0 ] || { echo "bench: $NFAIL measurement(s) could not run"; exit 1; }
exit 0
