#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Where a daemonized pifsd's log goes: `pifs mount -o log=FILE` appends
# time-stamped lines to FILE (start-up, a refused request, the end); a log
# path that cannot be opened refuses the mount in one line and leaves
# nothing mounted; without log= and with no /dev/log, the mount says once
# on stderr that the log is lost.
. "$(dirname "$0")/lib.sh"
setup
make_store
M=$T/mnt
mkdir -p "$M"
daemon_pid() { pgrep -f "pifsd $T/store $M" | head -1; }
# A stamp as pifsd writes it: 2026-12-06T23:55:50.123+0000
STAMP='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{4} pifsd\[[0-9]+\]: '

"$PIFSD" --help | grep -q -- '-o log=FILE' && ok "pifsd --help lists -o log=FILE" ||
	fail "pifsd --help does not list -o log=FILE"

# In the background, the log in a file (an existing line is kept: append).
LOG=$T/pifsd-bg.log
echo "an earlier line" > "$LOG"
if "$PIFS" --store "$T/store" mount "$M" -o allow_other,log="$LOG" 2>"$T/mount.err"; then
	ok "pifs mount -o log=FILE"
else
	cat "$T/mount.err"; fail "pifs mount -o log=FILE"; finish
fi
MOUNTS+=("$M")
pid=$(daemon_pid); [ -n "$pid" ] && PIDS+=("$pid")
expect_eq "mount prints nothing on stderr" "" "$(cat "$T/mount.err")"
# What an fstab mount unit relies on (README, "At boot"): pifs mount
# returns only with every worker's own file system mounted, no waiting.
mounted_all "$M" && ok "every worker's file system is mounted when pifs mount returns" ||
	fail "pifs mount returned before every worker's file system was mounted"
# A request pifsd refuses and logs: a char device 0:0 (an overlay
# whiteout's form) made in a worker's view.
mknod "$M/nfsroot/worker-3/wh" c 0 0 2>/dev/null && fail "mknod c 0 0 in a view succeeded"
"$PIFS" umount "$M" || fail "pifs umount"
for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
cat "$LOG" >> "$T/pifsd.log" # the sanitizers' reports are looked for there
expect_eq "the earlier line is kept" "an earlier line" "$(head -1 "$LOG")"
for want in "mounted store '$T/store' \(2 workers\)" \
	"worker 'worker-3' mounted at '$M/nfsroot/worker-3'" \
	"warning: refused mknod of char device 0:0 'wh' in view 'worker-3'" \
	"unmounted '$M'"; do
	if grep -Eq "${STAMP}${want}\$" "$LOG"; then
		ok "log has a time-stamped line: $want"
	else
		fail "log lacks a time-stamped line '$want': $(tail -n +2 "$LOG" | tr '\n' '|')"
	fi
done
expect_eq "every line but the earlier one is time-stamped" "0" \
	"$(tail -n +2 "$LOG" | grep -Evc "$STAMP")"

# A log path that cannot be opened: one line, non-zero exit, no mount.
expect_fail "a log file in a missing directory refuses the mount" \
	"^pifs: cannot open log file '$T/no/such/dir/x\.log': No such file or directory\$" \
	"$PIFS" --store "$T/store" mount "$M" -o log="$T/no/such/dir/x.log"
mountpoint -q "$M" && fail "mounted despite the bad log path" || ok "nothing mounted after the bad log path"
[ -z "$(daemon_pid)" ] && ok "no pifsd left running" || fail "a pifsd runs after the bad log path"

# No log=: in the background the log goes to syslog; without /dev/log
# that is said once before the mount returns.
if "$PIFS" --store "$T/store" mount "$M" -o allow_other 2>"$T/mount.err"; then
	pid=$(daemon_pid); [ -n "$pid" ] && PIDS+=("$pid")
	if [ -e /dev/log ]; then
		expect_eq "with /dev/log the mount is silent" "" "$(cat "$T/mount.err")"
	else
		expect_eq "without /dev/log the mount says the log is lost, once" \
			"pifs: no syslog here ('/dev/log' is missing): the log of this pifsd is lost; mount with -o log=FILE to keep it" \
			"$(cat "$T/mount.err")"
	fi
	"$PIFS" umount "$M" || fail "pifs umount"
else
	cat "$T/mount.err"; fail "pifs mount without log="
fi
finish
