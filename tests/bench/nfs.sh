# SPDX-License-Identifier: GPL-2.0-or-later
# nfs.sh - section 7 of bench.sh (sourced): the NFS boot replay.
# NFS-Ganesha (FSAL VFS, NFSv3, as the tests run it: lib-boot.sh's
# start_nfs, in a network namespace of its own with only loopback)
# exports the plain peer's tree and a pifs worker view side by side; the
# libnfs client (tests/tools/nfsclient, `replay`) reads the boot set (what
# a worker reads first: systemd and its libraries, its boot files) the way
# a booting worker does: LOOKUP/GETATTR, open, READ in 1 MiB requests to
# the end.  The time is taken inside the client around the whole list, so
# no process start is timed.  Cold: the master's page cache dropped first
# (the client has no cache); warm: right after a cold run.  Shuffled
# order, SLOW_REPS repetitions.  Everything started is stopped again
# (stop_nfs), also when bench.sh is interrupted (its cleanup).

nfs_replay() {
	local nc=$PIFS_BUILDDIR/tests/tools/nfsclient w v r p mode out ms name order
	declare_case nfs-replay-cold "7 nfs" ms "<=1.3x plain" "NFS boot replay (NFS-Ganesha, NFSv3), boot set, cold"
	declare_case nfs-replay-warm "7 nfs" ms "<=1.3x plain" "NFS boot replay, warm"
	echo "bench: section 7, NFS boot replay through NFS-Ganesha"
	[ -x "$nc" ] || { warn "tests/tools/nfsclient not built (libnfs-dev missing at configure time)"; return; }
	command -v ganesha.nfsd >/dev/null && command -v rpcbind >/dev/null ||
		{ warn "needs nfs-ganesha, nfs-ganesha-vfs and rpcbind"; return; }
	# lib-boot.sh's NFS helpers report through fail(): here a warning
	declare -F fail >/dev/null || fail() { warn "$*"; }
	# The tests' lock keeps two QEMU guests from sharing the 2 cores;
	# no guest here, and the namespace is our own: not theirs to wait on.
	PIFS_NFS_LOCK=$T/nfs.lock
	# shellcheck source=../integration/lib-boot.sh
	. "$PIFS_SRCDIR/tests/integration/lib-boot.sh"
	w=$(printf 'w%03d' "$NWORKERS")
	v=$T/pifs/nfsroot/$w
	[ -d "$v" ] || { warn "no view $v"; return; }
	start_nfs "$T/plain" "$v" || { warn "cannot start NFS-Ganesha"; return; }
	for r in $(seq 1 "$SLOW_REPS"); do
		order=$(printf '%s\n' plain pifs | shuf)
		for p in $order; do
			if [ "$p" = plain ]; then name=plain; else name=$w; fi
			for mode in cold warm; do
				[ "$mode" = cold ] && drop_caches
				out=$(printf 'replay %s\nquit\n' "$T/bootset.rel" |
					timeout 600 nsenter --net="/run/netns/$NFS_NS" "$nc" 127.0.0.1 "/nfsroot/$name" 2>&1 | grep '^ok files=\|^err')
				ms=$(printf '%s\n' "$out" | sed -n 's/^ok files=[0-9]* bytes=[0-9]* ms=\([0-9.]*\)$/\1/p')
				if [ -z "$ms" ]; then
					warn "NFS replay on $p ($mode): ${out:-no answer}"
					continue
				fi
				record "nfs-replay-$mode" "$p" "$r" "$ms"
			done
		done
	done
	stop_nfs
}
