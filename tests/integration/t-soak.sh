#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-soak.sh - a run under NFS load: PIFS_SOAK_WORKERS workers (3 here, 8
# in make soak) exported by NFS-Ganesha (as start_nfs starts it, in a
# network namespace of its own), each with a user-space NFSv3 client
# (tests/tools/loadnfs) making PIFS_SOAK_OPS seeded random writes, reads,
# truncates, renames and unlinks and checking every byte it reads
# against its own model.  Meanwhile the master snapshots the loaded
# workers one after the other, resets worker-1 and rebases worker-3 back
# and forth between two goldens (checking what each shows), and adds a
# worker, writes into it and removes it again.  At the end every client's
# model matches its files, the loaded workers' files come back byte for
# byte from a snapshot after a reset, `pifs fsck` and `pifs verify` are
# clean, and pifsd's RSS and open file descriptors, sampled every round
# (the curve is in the log), came back to their level: a generous bound
# on growth, never a time.  A client failure prints its seed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-boot.sh"
boot_setup
for t in ganesha.nfsd:nfs-ganesha rpcbind:rpcbind rpcinfo:rpcbind nfs-ls:libnfs-utils ip:iproute2 flock:util-linux; do
	command -v "${t%%:*}" >/dev/null || skip "${t%%:*} missing (apt-get install ${t#*:})"
done
compgen -G '/usr/lib/*/ganesha/libfsalvfs.so' >/dev/null || compgen -G /usr/lib/ganesha/libfsalvfs.so >/dev/null ||
	skip "NFS-Ganesha's FSAL VFS missing (apt-get install nfs-ganesha-vfs)"
LOAD=$PIFS_BUILDDIR/tests/tools/loadnfs
[ -x "$LOAD" ] || skip "tests/tools/loadnfs not built: libnfs-dev missing at configure time"
NW=${PIFS_SOAK_WORKERS:-3}
OPS=${PIFS_SOAK_OPS:-250}
SEED0=${PIFS_SOAK_SEED:-$(( $$ % 10000 ))}
make_store
S=$T/store
P() { "$PIFS" --store "$S" "$@"; }
for i in $(seq 1 "$NW"); do
	P worker add "load-$i" --serial "$(printf '1000%04x' "$i")" >/dev/null || { fail "worker add load-$i"; exit 1; }
done
cp -a "$T/golden" "$T/golden-b"
echo "motd of release B" >"$T/golden-b/etc/motd"
GA=$(P golden default)
GB=$(P golden import "$T/golden-b" 2>"$T/import.err") || { cat "$T/import.err"; fail "golden import"; exit 1; }
M=$T/mnt
mount_pifs "$S" "$M"
W1=$M/nfsroot/worker-1
W3=$M/nfsroot/worker-3
SAMPLES=$T/samples
# sample WHAT: pifsd's RSS (KiB), open fds and, of those, pipes (libfuse's
# splice pipes, one pair per pool thread and session), a line in $SAMPLES
sample() {
	local rss fds pipes
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PIFSD_PID/status" 2>/dev/null)
	fds=$(find "/proc/$PIFSD_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	pipes=$(find "/proc/$PIFSD_PID/fd" -mindepth 1 -maxdepth 1 -lname 'pipe:*' 2>/dev/null | wc -l)
	echo "$1 rss_kib=${rss:-?} fds=$fds pipes=$pipes" >>"$SAMPLES"
	LAST_RSS=${rss:-0} LAST_FDS=$((fds - pipes)) LAST_PIPES=$pipes
}
sample "mounted"
BASE_FDS=$LAST_FDS BASE_PIPES=$LAST_PIPES

EXPORTS=()
for i in $(seq 1 "$NW"); do EXPORTS+=("$M/nfsroot/load-$i"); done
start_nfs "${EXPORTS[@]}" || exit 1
sample "nfs started"

CPIDS=()
for i in $(seq 1 "$NW"); do
	nsenter --net="/run/netns/$NFS_NS" timeout 3600 "$LOAD" 127.0.0.1 "/nfsroot/load-$i" /load \
		$((SEED0 + i)) "$OPS" >"$T/load-$i.out" 2>&1 &
	CPIDS+=($!)
	PIDS+=($!)
done

# The master's work while the clients run, round after round.
round=0 last1= extra_ok=0 rebases=0 resets=0 snaps=0 base_rss=
on_b=0
MINROUNDS=${PIFS_SOAK_ROUNDS:-4}
while [ $round -lt 5000 ]; do
	alive=0
	for p in "${CPIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
	[ $alive = 1 ] || [ $round -lt "$MINROUNDS" ] || break
	round=$((round + 1))
	# a snapshot of a loaded worker, under its load
	w=load-$(( (round - 1) % NW + 1 ))
	out=$(P snapshot "$w" -m "round $round" 2>&1) || fail "round $round: snapshot $w: $out"
	snaps=$((snaps + 1))
	# worker-1: a change, a snapshot, back to the one before
	echo "round $round" >"$W1/root/round" || fail "round $round: write worker-1"
	id=$(P snapshot worker-1 -m "round $round" 2>&1) || fail "round $round: snapshot worker-1: $id"
	if [ -n "$last1" ]; then
		P reset worker-1 --to "$last1" --force >/dev/null 2>&1 || fail "round $round: reset worker-1"
		expect_eq_quiet=$(cat "$W1/root/round" 2>&1)
		[ "$expect_eq_quiet" = "round $((round - 1))" ] || fail "round $round: worker-1 after reset shows '$expect_eq_quiet'"
		resets=$((resets + 1))
	fi
	last1=$id
	# worker-3: onto the other golden, its change kept
	if [ $((round % 2)) = 1 ]; then
		echo "mine $round" >"$W3/home/pi/mine"
		if [ $on_b = 0 ]; then to=$GB want="motd of release B"; else to=$GA want=$(cat "$T/golden/etc/motd"); fi
		out=$(P rebase worker-3 --golden "$to" 2>&1) || fail "round $round: rebase worker-3: $out"
		[ "$(cat "$W3/etc/motd")" = "$want" ] && [ "$(cat "$W3/home/pi/mine")" = "mine $round" ] ||
			fail "round $round: worker-3 after the rebase: motd '$(cat "$W3/etc/motd")', mine '$(cat "$W3/home/pi/mine")'"
		on_b=$((1 - on_b))
		rebases=$((rebases + 1))
	fi
	# a worker added and removed while everything runs
	if [ $((round % 3)) = 2 ]; then
		P worker add extra --serial 0000ee01 >/dev/null 2>&1 || fail "round $round: worker add extra"
		for _ in $(seq 1 100); do mountpoint -q "$M/nfsroot/extra" && break; sleep 0.1; done
		if echo "extra $round" >"$M/nfsroot/extra/root/x" 2>/dev/null &&
			[ "$(cat "$M/nfsroot/extra/root/x")" = "extra $round" ]; then
			extra_ok=$((extra_ok + 1))
		else
			fail "round $round: the added worker does not serve"
		fi
		P snapshot extra -m added >/dev/null 2>&1 || fail "round $round: snapshot extra"
		out=$(P worker remove extra --force 2>&1) || fail "round $round: worker remove extra: $out"
		for _ in $(seq 1 100); do mountpoint -q "$M/nfsroot/extra" || break; sleep 0.1; done
		[ -e "$M/nfsroot/extra" ] && fail "round $round: the removed worker is still there"
	fi
	sample "round $round"
	[ -z "$base_rss" ] && base_rss=$LAST_RSS
	kill -0 "$PIFSD_PID" 2>/dev/null || { fail "pifsd died in round $round"; break; }
done
for i in $(seq 1 "$NW"); do
	wait "${CPIDS[$((i - 1))]}"
	rc=$?
	out=$(tail -1 "$T/load-$i.out")
	if [ $rc = 0 ] && [[ $out == "ok seed="* ]]; then
		ok "client of load-$i: every byte as its model ($out)"
	else
		cat "$T/load-$i.out" | tail -5
		fail "client of load-$i: exit $rc: $out (rerun: loadnfs 127.0.0.1 /nfsroot/load-$i /load $((SEED0 + i)) $OPS)"
	fi
done
ok "master: $round rounds, $snaps snapshots under load, $resets resets, $rebases rebases, $extra_ok workers added and removed"
stop_nfs
sample "nfs stopped"

# Workers added, used by several processes at once and removed: each
# cycle may leave one fd (the removed view keeps its delta directory open
# until exit), but not the splice pipes of every pool thread that served
# it (up to two per thread: 34 -> 316 fds after eight cycles, before
# pool_recycle in fs/sessions.c) nor the fds of the nodes its kernel had
# looked up (8 a cycle, before pifs_nodes_forget_view).
CYCLES=6
for c in $(seq 1 $CYCLES); do
	P worker add extra --serial 0000ee02 >/dev/null 2>&1 || fail "cycle $c: worker add"
	for _ in $(seq 1 100); do mountpoint -q "$M/nfsroot/extra" && break; sleep 0.1; done
	bg=()
	for k in 1 2 3 4 5 6; do
		{ dd if=/dev/urandom of="$M/nfsroot/extra/root/x$k" bs=64K count=16 status=none &&
			cat "$M/nfsroot/extra/boot/firmware/kernel8.img" "$M/nfsroot/extra/root/x$k" >/dev/null; } &
		bg+=($!)
	done
	for b in "${bg[@]}"; do wait "$b" || fail "cycle $c: I/O in the added worker"; done
	P worker remove extra --force >/dev/null 2>&1 || fail "cycle $c: worker remove"
	for _ in $(seq 1 100); do mountpoint -q "$M/nfsroot/extra" || break; sleep 0.1; done
	sample "add/remove cycle $c"
	# from the first cycle on (it may free what the load left)
	[ "$c" = 1 ] && before=$((LAST_FDS + LAST_PIPES))
done
after=$((LAST_FDS + LAST_PIPES))
[ $after -le $((before + 2 * (CYCLES - 1) + 4)) ] &&
	ok "pifsd's fds over $((CYCLES - 1)) more worker add/remove cycles with I/O: $before -> $after" ||
	fail "pifsd's fds grew by $((after - before)) in $((CYCLES - 1)) worker add/remove cycles ($before -> $after)"

# Every loaded worker's files come back from a snapshot, byte for byte.
for i in $(seq 1 "$NW"); do
	L=$M/nfsroot/load-$i
	before=$(cd "$L/load" && sha256sum f* 2>/dev/null)
	id=$(P snapshot "load-$i" -m final --allow-empty) || fail "final snapshot load-$i"
	P reset "load-$i" --golden --force >/dev/null || fail "reset load-$i --golden"
	[ ! -e "$L/load" ] || fail "load-$i: /load still there after reset --golden"
	P reset "load-$i" --to "$id" --force >/dev/null || fail "reset load-$i --to $id"
	expect_eq "load-$i: its files through a snapshot and back" "$before" "$(cd "$L/load" && sha256sum f* 2>/dev/null)"
done
out=$(P fsck 2>&1) && ok "pifs fsck clean" || fail "pifs fsck: $out"
out=$(P verify 2>&1) && ok "pifs verify clean" || fail "pifs verify: $out"
sample "end"
echo "--- pifsd RSS and fds"
cat "$SAMPLES"
# Bounds.  Files: back to where they were before NFS, but for the node
# cache (an O_PATH fd per node the kernel still caches: the clients' files
# and their directories) and each removed worker's delta directory.
# Pipes: counted in the cycles above.  RSS: within twice the
# first loaded round plus 256 MiB (the sanitizers' quarantine alone may
# hold 256 MiB).
[ "$LAST_FDS" -le $((BASE_FDS + 16 + 12 * NW + 2 * CYCLES)) ] &&
	ok "pifsd's open files back to their level ($BASE_FDS -> $LAST_FDS, pipes not counted)" ||
	fail "pifsd's open files grew: $BASE_FDS before the load, $LAST_FDS after (pipes not counted)"
[ "$LAST_RSS" -le $((2 * ${base_rss:-0} + 262144)) ] && ok "pifsd's RSS bounded (${base_rss:-?} KiB in round 1, $LAST_RSS KiB at the end)" ||
	fail "pifsd's RSS grew: ${base_rss:-?} KiB in round 1, $LAST_RSS KiB at the end"
umount_pifs "$M"
finish
