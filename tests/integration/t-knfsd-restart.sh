#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pifs restarted under the kernel NFS server (the amd64 master guest of
# lib-knfsd.sh, set up as the README says) while worker-3's kernel NFS
# client holds what a running worker holds: open files (read, written,
# copied up by nfsd's write, copied up by the master), an open directory
# and its cwd (knfsd-holder.pl).  The same checks as t-nfs-handles does
# under NFS-Ganesha: no ESTALE, no lost write, the same inode numbers and
# listings, first across a restart of the NFS server alone, then across
# a restart of pifs, which needs the NFS server stopped around it:
#
#   systemctl stop nfs-server     rpc.nfsd 0; exportfs -au; exportfs -f
#   umount -R /nfsroot /tftpboot; pifs umount /srv/pifs
#   mount -a                      the fstab lines: pifs, the binds
#   systemctl start nfs-server    exportfs -r; rpc.nfsd
#
# Without the exportfs -au the views stay busy (nfsd's export holds them)
# and cannot be unmounted; with the exports dropped but nfsd still
# serving, a worker's request in between fails with EACCES.  With nfsd
# stopped, the worker's hard mount waits: a read it issues while pifs is
# down returns the right bytes once the server is back, and is checked.
# A tmpfs mounted in between takes the device number pifs had, so the
# new mount surely has another: the handles must not depend on it (the
# exports' fsid= stands in).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-knfsd.sh"

if ! knfsd_in_guest; then
	knfsd_setup
	knfsd_run 1500
	exit $?
fi

# ---- in the guest ----
knfsd_guest_setup
t0=$(date +%s)
knfsd_master worker-1:77b655ec worker-3:8b07bcc6 || finish
knfsd_worker worker-3 /w/worker-3 && ok "worker-3 mounts $KNFSD_SPEC (-o $KNFSD_OPTS)" || finish
W=/w/worker-3
V=/srv/pifs/nfsroot/worker-3
echo "note: the master is up in $(($(date +%s) - t0)) s"

LOG=$T/holder.log
coproc H { cd "$W/usr/share/doc" && exec timeout 1200 perl "$PIFS_SRCDIR/tests/integration/knfsd-holder.pl" 2>&1; }
PIDS+=("$H_PID")
# q CMD: one request to the holder, its one-line answer in $A (and $LOG)
q() {
	A=
	echo "$1" >&"${H[1]}"
	IFS= read -r -t 300 A <&"${H[0]}" || A="(no answer within 300 s)"
	printf '%s => %s\n' "$1" "$A" >>"$LOG"
}
# uncached: the client's page cache and the guest's dentries dropped, so
# what follows goes to the server with the handles the client holds
uncached() { sync; echo 3 >/proc/sys/vm/drop_caches; }

q "open 1 $W/etc/passwd r"; expect_eq "open a golden file" ok "$A"
q "read 1 0 9"; expect_eq "read it" "ok 9 root:x:0:" "$A"
q "open 2 $W/root/held.txt c"; expect_eq "create a file" ok "$A"
q "write 2 0 before"; expect_eq "write it" "ok 6" "$A"
q "fsync 2"; expect_eq "fsync it" ok "$A"
q "open 3 $W/etc/motd rw"; expect_eq "open a golden file for writing" ok "$A"
q "write 3 0 NFS"; q "fsync 3"; expect_eq "write into it (copy-up by nfsd's write)" ok "$A"
q "open 4 $W/usr/share/doc/pkg2/copyright r"; q "read 4 0 11"
expect_eq "read a golden file the master will change" "ok 11 Copyright 2" "$A"
q "opendir 1 $W/etc"; q "readdir 1"; LIST_BEFORE=$A
case $LIST_BEFORE in "ok "*passwd*) ok "an open directory: $LIST_BEFORE" ;; *) fail "readdir of $W/etc: $LIST_BEFORE" ;; esac
q ls; LS_BEFORE=$A
case $LS_BEFORE in "ok pkg1 pkg10 "*) ok "the cwd ($W/usr/share/doc) lists" ;; *) fail "ls in the cwd: $LS_BEFORE" ;; esac

# The master copies up the file the worker holds open.
printf 'MASTER' | dd of="$V/usr/share/doc/pkg2/copyright" conv=notrunc status=none
uncached
q "read 4 0 11"; expect_eq "the held file reads the master's copy-up" "ok 11 MASTERght 2" "$A"
# A snapshot under the held files.
pifs snapshot worker-3 -m "under NFS" >/dev/null || fail "snapshot under NFS"
q "write 2 6 +snap"; q "fsync 2"; expect_eq "write after the snapshot" ok "$A"
q "fstat 2"; expect_eq "size after the snapshot" "ok size=11" "${A%% ino=*}"
q "fstat 1"; INO1=${A##*ino=}
q "fstat 3"; INO3=${A##*ino=}

# ---- the NFS server restarted alone (pifs stays mounted) ----
knfsd_server_stop && knfsd_server_start && ok "systemctl restart nfs-server (its commands)"
uncached
q "read 1 0 9"; expect_eq "a golden file after the NFS server's restart" "ok 9 root:x:0:" "$A"
q "read 2 0 64"; expect_eq "the written file after the NFS server's restart" "ok 11 before+snap" "$A"

# ---- pifs restarted under the stopped NFS server ----
DEV_BEFORE=$(stat -c %d "$V")
PIFSD_BEFORE=$PIFSD_PID
knfsd_server_stop && ok "systemctl stop nfs-server: the worker's requests wait"
uncached
# a read the worker issues while pifs is down: answered after the restart
echo "read 1 0 9" >&"${H[1]}"
knfsd_pifs_down && ok "umount -R /nfsroot /tftpboot; pifs umount /srv/pifs (pifsd $PIFSD_BEFORE exited)"
mkdir -p "$T/devhold" && mount -t tmpfs -o size=64k pifs-devhold "$T/devhold" && MOUNTS+=("$T/devhold")
knfsd_pifs_up && ok "mount -a: pifs and the binds again (pifsd $PIFSD_PID)"
knfsd_server_start && ok "systemctl start nfs-server"
IFS= read -r -t 300 A <&"${H[0]}" || A="(no answer within 300 s)"
printf '%s => %s\n' "read 1 0 9 (issued while pifs was down)" "$A" >>"$LOG"
expect_eq "a read issued while pifs was down returns once it is back" "ok 9 root:x:0:" "$A"
DEV_AFTER=$(stat -c %d "$V")
[ "$DEV_BEFORE" != "$DEV_AFTER" ] || fail "the remount kept device number $DEV_BEFORE: the test proves nothing"
echo "note: worker-3's device number: $DEV_BEFORE before the restart, $DEV_AFTER after"

uncached
q "read 1 0 9"; expect_eq "a golden file through the held handle" "ok 9 root:x:0:" "$A"
q "fstat 1"; expect_eq "its inode number" "$INO1" "${A##*ino=}"
q "write 2 11 +after"; expect_eq "write through a held handle" "ok 6" "$A"
q "fsync 2"; expect_eq "fsync through it" ok "$A"
uncached
q "read 2 0 64"; expect_eq "nothing written was lost" "ok 17 before+snap+after" "$A"
q "read 3 0 9"; expect_eq "the file nfsd's write copied up" "ok 9 NFScome t" "$A"
q "fstat 3"; expect_eq "its inode number" "$INO3" "${A##*ino=}"
q "read 4 0 11"; expect_eq "the master's copy-up" "ok 11 MASTERght 2" "$A"
q "readdir 1"; expect_eq "the open directory lists the same" "$LIST_BEFORE" "$A"
q ls; expect_eq "the cwd lists the same" "$LS_BEFORE" "$A"
q "cat pkg1/copyright"; expect_eq "a lookup relative to the cwd" "ok Copyright 1 The pkg1 authors" "$A"
q "cat $W/etc/hostname"; expect_eq "a lookup from the root: the generated hostname" "ok worker-3" "$A"
q quit
wait "$H_PID" 2>/dev/null
grep -q 'err ' "$LOG" && fail "errors seen by the worker: $(grep 'err ' "$LOG" | head -3 | tr '\n' ';')"
grep -q ESTALE "$LOG" || ok "no ESTALE"

# The master sees the worker's writes, in worker-3 only.
expect_eq "the worker's file on the master" "before+snap+after" "$(cat "$V/root/held.txt")"
expect_eq "in deltas/worker-3" "before+snap+after" "$(cat /var/lib/pifs/deltas/worker-3/root/held.txt)"
[ -e /srv/pifs/nfsroot/worker-1/root/held.txt ] && fail "the worker's file leaked into worker-1"
pifs verify >/dev/null 2>&1 && ok "pifs verify: the golden is untouched" || fail "golden changed under NFS"
[ "$NFAIL" -gt 0 ] && { echo "--- holder transcript"; cat "$LOG"; }

knfsd_umount worker-3 "$W" || fail "worker-3 unmounts"
knfsd_server_stop
knfsd_pifs_down
knfsd_sanitizer_reports
echo "note: the scenario took $(($(date +%s) - t0)) s in the guest"
finish
