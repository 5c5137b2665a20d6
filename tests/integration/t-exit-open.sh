#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pifsd told to exit (SIGTERM, as systemd stops it) while files of a
# worker's view and of tftpboot/ are still open (an NFS server or dnsmasq
# stopped after pifs): the kernel sends no RELEASE for them once the
# connections end, so pifsd frees those open files itself at exit.  With
# the sanitizers on, a leak of them is a LeakSanitizer report in the
# daemon's log, which fails the test (check_daemon_log).
. "$(dirname "$0")/lib.sh"
setup
make_store
M=$T/mnt
mount_pifs "$T/store" "$M"

exec 7<"$M/nfsroot/worker-3/etc/os-release" || fail "open a golden file in worker-3"
echo hello >"$M/nfsroot/worker-3/root/new.txt" || fail "write a file in worker-3"
exec 8<"$M/nfsroot/worker-3/root/new.txt" || fail "open a delta file in worker-3"
exec 9<"$M/tftpboot/8b07bcc6/config.txt" || fail "open a tftpboot/ file"
kill -TERM "$PIFSD_PID"
# bounded: with the sanitizers a loaded machine takes seconds to exit
for _ in $(seq 1 600); do kill -0 "$PIFSD_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$PIFSD_PID" 2>/dev/null && fail "pifsd still running 30 s after SIGTERM"
wait "$PIFSD_PID"
st=$?
exec 7<&- 8<&- 9<&-
expect_eq "pifsd's exit status after SIGTERM with files open" 0 "$st"
mountpoint -q "$M" && fail "'$M' still mounted after pifsd exited" || ok "nothing left mounted"
grep -q "LeakSanitizer" "$T/pifsd.log" || ok "no leak report at exit with 3 files open"
finish
