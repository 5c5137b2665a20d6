#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Workers' file systems over FUSE io_uring (fs/uring.c, fs/uring_conn.c):
# where the kernel has it, every worker's own file system, also one
# added while mounted, is served through the shared ring set, not
# /dev/fuse; pifsd logs per file system what served it when it is
# retired ("<worker>: N requests by io_uring, M by /dev/fuse").  With
# -o uring=off every one is /dev/fuse.  Workers added and removed while
# mounted leave no file descriptor behind (their entries' fds), and a
# worker whose write waits for a snapshot's pause does not hold up
# another worker's requests.
. "$(dirname "$0")/lib.sh"
setup
make_store
M=$T/mnt
S=$T/store
PARAM=/sys/module/fuse/parameters/enable_uring
P() { "$PIFS" --store "$S" "$@"; }

# by_uring NAME: the requests the rings served for NAME's file system
by_uring() { sed -n "s/.*: $1: \([0-9]*\) requests by io_uring, .*/\1/p" "$T/pifsd.log" | tail -1; }
# fds: pifsd's /dev/fuse and anonymous (io_uring, eventfd) fds, what a
# session and its ring entries hold
fds() { find "/proc/$PIFSD_PID/fd" -mindepth 1 -maxdepth 1 \( -lname /dev/fuse -o -lname 'anon_inode:*' \) 2>/dev/null | wc -l; }

# What a worker does: golden reads (direct_io: each a request), a walk,
# writes, a listing.
io() {
	local V=$1 i
	for i in 1 2 3; do cmp -s "$T/golden/usr/bin/bash" "$V/usr/bin/bash" || return 1; done
	find "$V" -xdev >/dev/null || return 1
	head -c 300000 /dev/urandom > "$T/data"
	cp "$T/data" "$V/root/data" && cmp -s "$T/data" "$V/root/data" || return 1
	ls -la "$V/etc" >/dev/null
}

if [ -e "$PARAM" ]; then
	mount_pifs "$S" "$M"
	io "$M/nfsroot/worker-3" && ok "worker-3 answers" || fail "worker-3 I/O"
	# added while mounted: its own file system, on the rings too
	P worker add worker-5 --serial 5555aaaa >/dev/null || fail "worker add worker-5"
	io "$M/nfsroot/worker-5" && ok "worker-5 (added while mounted) answers" || fail "worker-5 I/O"
	P worker remove worker-5 --force >/dev/null || fail "worker remove worker-5"
	n=$(by_uring worker-5)
	[ -n "$n" ] && [ "$n" -gt 100 ] && ok "worker-5 was served by io_uring ($n requests)" ||
		{ grep worker-5 "$T/pifsd.log"; fail "worker-5: '${n:-no line}' requests by io_uring"; }

	# add/remove cycles with I/O: the fd count comes back
	base=$(fds)
	for c in 1 2 3 4 5; do
		P worker add "cyc-$c" --serial "$(printf 'cc%06x' "$c")" >/dev/null || fail "worker add cyc-$c"
		io "$M/nfsroot/cyc-$c" || fail "cyc-$c I/O"
		P worker remove "cyc-$c" --force >/dev/null || fail "worker remove cyc-$c"
	done
	after=$(fds)
	[ "$after" -le "$base" ] && ok "5 add/remove cycles: $base session fds before, $after after" ||
		{ ls -l "/proc/$PIFSD_PID/fd"; fail "session fds grew over add/remove cycles: $base -> $after"; }

	# A write of worker-1 waits for a snapshot's pause (the view lock,
	# held by the control connection of `pifs snapshot` below, which we
	# stop while it holds the pause); worker-3 keeps being served.
	if command -v python3 >/dev/null; then
		python3 - "$S/lock/ctl.sock" <<-'EOF' > "$T/pause.out" 2>&1 &
		import socket, sys, time
		s = socket.socket(socket.AF_UNIX)
		s.connect(sys.argv[1])
		s.sendall(b"pause worker-1\n")
		print(s.recv(100).decode().strip(), flush=True)
		time.sleep(600)
		EOF
		PAUSER=$!
		PIDS+=("$PAUSER")
		for _ in $(seq 1 100); do grep -q . "$T/pause.out" && break; sleep 0.1; done
		if grep -q '^ok' "$T/pause.out"; then
			( echo blocked > "$M/nfsroot/worker-1/root/paused" ) &
			W1=$!
			# many of worker-3's requests on every CPU while worker-1's
			# write waits
			for c in $(seq 0 $(( $(nproc) - 1 ))); do
				taskset -c "$c" bash -c 'for i in 1 2 3 4 5; do cmp -s "$1" "$2" || exit 1; ls -R "$3" >/dev/null || exit 1; done' _ \
					"$T/golden/usr/bin/bash" "$M/nfsroot/worker-3/usr/bin/bash" "$M/nfsroot/worker-3/etc" ||
					fail "worker-3 I/O on CPU $c during worker-1's pause"
			done
			ok "worker-3 served while a write of worker-1 waits for a pause"
			kill -0 "$W1" 2>/dev/null && ok "worker-1's write was still waiting" ||
				fail "worker-1's write did not wait for the pause"
			kill "$PAUSER"; wait "$PAUSER" 2>/dev/null
			wait "$W1" && expect_eq "worker-1's write done after the pause" blocked "$(cat "$M/nfsroot/worker-1/root/paused")"
		else
			cat "$T/pause.out"
			fail "could not pause worker-1"
			kill "$PAUSER" 2>/dev/null
		fi
	fi
	umount_pifs "$M"
	n=$(by_uring worker-3)
	[ -n "$n" ] && [ "$n" -gt 100 ] && ok "worker-3 was served by io_uring ($n requests)" ||
		{ grep worker-3 "$T/pifsd.log"; fail "worker-3: '${n:-no line}' requests by io_uring"; }
	n=$(by_uring cyc-5)
	[ -n "$n" ] && [ "$n" -gt 100 ] && ok "cyc-5 was served by io_uring ($n requests)" || fail "cyc-5: '${n:-no line}' by io_uring"
else
	echo "no FUSE over io_uring in this kernel: checking the /dev/fuse side only"
fi

# ---- -o uring=off: /dev/fuse for every worker ----
: > "$T/pifsd.log"
mount_pifs "$S" "$M" -o uring=off
io "$M/nfsroot/worker-3" && ok "uring=off: worker-3 answers" || fail "uring=off: worker-3 I/O"
umount_pifs "$M"
expect_eq "uring=off: worker-3 by io_uring" 0 "$(by_uring worker-3)"
grep -q "FUSE over io_uring" "$T/pifsd.log" && fail "uring=off still started the ring set"
check_daemon_log
finish
