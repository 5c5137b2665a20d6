#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NFS-Ganesha exports worker-3's view over NFSv3 on loopback and a real NFS
# client (libnfs, tests/tools/nfsclient) holds file handles while the
# master works under it: a copy-up by the master of a file the client has
# open, a snapshot, a restart of the NFS server.  The client goes on with
# its old handles: no ESTALE, no lost write, the same listing.  Then a
# restart of pifs itself (unmount, mount) under a stopped ganesha, with
# pifs's device number forced to change: Ganesha's handles carry it (each
# worker is a FUSE file system of its own, and Major64 cannot tell them
# apart: README, NFS), so the held handles are ESTALE, never another
# file's bytes, and a remount finds everything written.  The kernel nfsd
# keeps handles across that restart (fsid=): make check-knfsd.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-boot.sh"
boot_setup
need_boot_tools
NC=$PIFS_BUILDDIR/tests/tools/nfsclient
[ -x "$NC" ] || skip "tests/tools/nfsclient not built: libnfs-dev missing at configure time"
make_store
M=$T/mnt
mount_pifs "$T/store" "$M"
W3=$M/nfsroot/worker-3
start_nfs "$W3"

LOG=$T/nfsclient.log
coproc NFSC { timeout 600 nsenter --net="/run/netns/$NFS_NS" "$NC" 127.0.0.1 /nfsroot/worker-3 2>&1; }
NC_PID=$NFSC_PID
PIDS+=("$NC_PID")
# q CMD: one request, its one-line answer in $A (also in $LOG).
q() {
	A=
	echo "$1" >&"${NFSC[1]}"
	IFS= read -r -t 120 A <&"${NFSC[0]}" || A="(no answer within 120 s)"
	printf '%s => %s\n' "$1" "$A" >>"$LOG"
}
IFS= read -r -t 60 A <&"${NFSC[0]}" || A="(no answer)"
expect_eq "libnfs mounts the export" "ok mounted" "$A"

q "open 1 /etc/passwd r"; expect_eq "open a golden file" ok "$A"
q "read 1 0 9"; expect_eq "read it" "ok 9 root:x:0:" "$A"
q "open 2 /root/held.txt c"; expect_eq "create a file" ok "$A"
q "write 2 0 before"; expect_eq "write it" "ok 6" "$A"
q "open 3 /etc/motd rw"; expect_eq "open a golden file for writing" ok "$A"
q "write 3 0 NFS"; expect_eq "write into it (copy-up by Ganesha's write)" "ok 3" "$A"
q "open 4 /usr/share/doc/pkg2/copyright r"; q "read 4 0 11"
expect_eq "read a golden file the master will change" "ok 11 Copyright 2" "$A"
q "list /etc"; LIST_BEFORE=$A
case $LIST_BEFORE in "ok "*passwd*) ;; *) fail "list /etc: $LIST_BEFORE" ;; esac

# The master copies up the file the client holds open.
printf 'MASTER' | dd of="$W3/usr/share/doc/pkg2/copyright" conv=notrunc status=none
q "read 4 0 11"
expect_eq "the held handle reads the master's copy-up" "ok 11 MASTERght 2" "$A"

# A snapshot under the held handles.
"$PIFS" --store "$T/store" snapshot worker-3 -m "under NFS" >/dev/null || fail "snapshot under NFS"
q "write 2 6 +snap"; expect_eq "write after the snapshot" "ok 5" "$A"
q "fstat 2"; expect_eq "size after the snapshot" "ok size=11" "${A%% mode=*}"

# Restart the NFS server under the client (pifs stays mounted).
q "fstat 3"; INO3=${A##*ino=}; INO3=${INO3%% *}
restart_nfs || fail "restart of ganesha"

q "read 1 0 9"; expect_eq "golden handle after NFS restart" "ok 9 root:x:0:" "$A"
# A pifs restart under ganesha: ganesha stops (it holds the mount busy),
# pifs unmounts and mounts again, ganesha starts.  A tmpfs mounted in
# between takes the anonymous device number pifs had, so the new mount
# surely gets another one, as it may on any master.
DEV_BEFORE=$(stat -c %d "$W3")
remount() {
	umount_pifs "$M" || return 1
	mkdir -p "$T/devhold" && mount -t tmpfs -o size=64k pifs-devhold "$T/devhold" && MOUNTS+=("$T/devhold")
	mount_pifs "$T/store" "$M"
}
grep -q ESTALE "$LOG" && fail "ESTALE seen by the client before the pifs restart: $(grep ESTALE "$LOG" | head -3)"
restart_nfs remount || fail "remount of pifs under ganesha"
DEV_AFTER=$(stat -c %d "$W3")
[ "$DEV_BEFORE" != "$DEV_AFTER" ] || fail "the remount kept device number $DEV_BEFORE: the test proves nothing"
echo "pifs device number: $DEV_BEFORE before the remount, $DEV_AFTER after"
for s in 1 2 3 4; do
	# GETATTR gives the server's error as it is (libnfs turns a failed
	# read into EFAULT); a read must fail too, never give bytes
	q "fstat $s"
	case $A in "err ESTALE"*) ;; *) fail "held handle (fstat $s) after a restart that changed the device number: '$A', expected ESTALE" ;; esac
	q "read $s 0 9"
	case $A in err*) ;; *) fail "held handle (read $s) after a restart that changed the device number: '$A', expected an error" ;; esac
done
q "remount"; expect_eq "the worker mounts again" "ok mounted" "$A"
q "open 2 /root/held.txt rw"; expect_eq "reopen the client's file" ok "$A"
q "read 2 0 64"; expect_eq "nothing written before the restart was lost" "ok 11 before+snap" "$A"
q "write 2 11 +after"; expect_eq "write after the restart" "ok 6" "$A"
q "fsync 2"; expect_eq "fsync after restart" ok "$A"
q "read 2 0 64"; expect_eq "read back after the restart" "ok 17 before+snap+after" "$A"
q "open 3 /etc/motd r"; q "read 3 0 9"; expect_eq "copied-up file after restart" "ok 9 NFScome t" "$A"
q "fstat 3"; expect_eq "same inode number after restart" "$INO3" "$(x=${A##*ino=}; echo "${x%% *}")"
q "open 4 /usr/share/doc/pkg2/copyright r"; q "read 4 0 11"; expect_eq "master's copy-up after restart" "ok 11 MASTERght 2" "$A"
q "list /etc"; expect_eq "same listing after restart" "$LIST_BEFORE" "$A"
q "cat /etc/hostname"; expect_eq "generated hostname over NFS" "ok worker-3" "$A"
q quit
wait "$NC_PID" 2>/dev/null

# The master sees the client's writes, in worker-3 only.
expect_eq "client's file on the master" "before+snap+after" "$(cat "$W3/root/held.txt")"
[ -e "$M/nfsroot/worker-1/root/held.txt" ] && fail "client's file leaked into worker-1"
"$PIFS" --store "$T/store" verify >/dev/null || fail "golden changed under NFS"
stop_nfs
[ "$NFAIL" -gt 0 ] && { echo "--- nfsclient transcript"; cat "$LOG"; }
finish
