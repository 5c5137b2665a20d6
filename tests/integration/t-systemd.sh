#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The nightly snapshot units (tools/systemd/): both pass systemd-analyze
# verify with the service's ExecStart on this build's pifs; the timer is
# nightly, persistent, randomized and not enabled by anything shipped;
# the service's ExecStart, run as written (its pifs the build's) against
# a test store given by PIFS_STORE, snapshots the changed worker only.
. "$(dirname "$0")/lib.sh"
setup
command -v systemd-analyze >/dev/null || skip "systemd-analyze missing (apt-get install systemd)"
make_store
S=$PIFS_SRCDIR/tools/systemd
BUILT=$PIFS_BUILDDIR/tools/systemd/pifs-snapshot.service
[ -f "$BUILT" ] || { fail "$BUILT not built"; finish; }

# ---- systemd-analyze verify, ExecStart on the build's pifs
U=$T/units
mkdir -p "$U"
sed "s|@bindir@|$PIFS_BUILDDIR/tools|g" "$S/pifs-snapshot.service.in" > "$U/pifs-snapshot.service"
cp "$S/pifs-snapshot.timer" "$U/"
out=$(cd "$U" && systemd-analyze verify ./pifs-snapshot.service ./pifs-snapshot.timer 2>&1); rc=$?
expect_eq "systemd-analyze verify: exit 0" 0 "$rc"
if printf '%s\n' "$out" | grep -q 'pifs-snapshot'; then
	fail "systemd-analyze verify complains: $out"
else
	ok "systemd-analyze verify: nothing said of the units"
fi

# ---- what the units say
key() { sed -n "s/^$2=//p" "$1"; }
expect_eq "service is Type=oneshot" oneshot "$(key "$BUILT" Type)"
expect_eq "timer: Persistent=true" true "$(key "$S/pifs-snapshot.timer" Persistent)"
[ -n "$(key "$S/pifs-snapshot.timer" RandomizedDelaySec)" ] && ok "timer has a randomized delay" ||
	fail "timer has no RandomizedDelaySec"
cal=$(key "$S/pifs-snapshot.timer" OnCalendar)
next=$(systemd-analyze calendar --iterations=2 "$cal" 2>&1 | sed -n 's/.*Next elapse: *[A-Za-z]* \([0-9-]*\) .*/\1/p; s/.*Iter. #2: *[A-Za-z]* \([0-9-]*\) .*/\1/p' | tr '\n' ' ')
set -- $next
if [ $# = 2 ] && [ $(( ($(date -d "$2" +%s) - $(date -d "$1" +%s)) / 86400 )) = 1 ]; then
	ok "timer fires nightly ($cal: $1, then $2)"
else
	fail "timer '$cal' is not once a day: '$next'"
fi
expect_eq "timer installs into timers.target" timers.target "$(key "$S/pifs-snapshot.timer" WantedBy)"

# ---- the installed ExecStart names $(bindir)/pifs; run it as written
cmd=$(key "$BUILT" ExecStart)
case $cmd in
/*/pifs\ *) ok "ExecStart runs an installed pifs (${cmd%% *})" ;;
*) fail "ExecStart is '$cmd'" ;;
esac
echo changed > "$T/store/deltas/worker-1/hostname-note"
out=$(eval "PIFS_STORE='$T/store' '$PIFS' ${cmd#* }" 2>&1); rc=$?
expect_eq "ExecStart as written: exit 0" 0 "$rc"
[[ $out =~ ^worker-1\ [0-9a-f]{40}$'\n'worker-3\ unchanged$ ]] &&
	ok "ExecStart snapshots the changed worker only" || fail "ExecStart printed '$out'"
[[ $("$PIFS" --store "$T/store" log worker-1 | head -1) =~ \ scheduled\ snapshot\ \ \( ]] &&
	ok "pifs log: the scheduled snapshot" || fail "pifs log worker-1: $("$PIFS" --store "$T/store" log worker-1)"
expect_eq "worker-3 has no snapshot" "no snapshots of worker-3" "$("$PIFS" --store "$T/store" log worker-3)"

# ---- README's fstab lines through systemd-fstab-generator: the pifs
# mount is local (before local-fs.target, no network wait), the bind
# mounts require it and come before (and are required by) the services.
GEN=/lib/systemd/system-generators/systemd-fstab-generator
if [ -x "$GEN" ]; then
	awk '/^### At boot: \/etc\/fstab/ { f = 1; next } f && /^```/ { if (in_block) exit; in_block = 1; next }
		in_block { print }' "$PIFS_SRCDIR/README.md" > "$T/fstab"
	expect_eq "README has three fstab lines" 3 "$(grep -c . "$T/fstab")"
	mkdir -p "$T/gen"
	SYSTEMD_FSTAB=$T/fstab SYSTEMD_PROC_CMDLINE= "$GEN" "$T/gen" "$T/gen" "$T/gen" 2>"$T/gen.err" ||
		fail "systemd-fstab-generator: $(cat "$T/gen.err")"
	expect_eq "srv-pifs.mount: type" "fuse.pifs" "$(key "$T/gen/srv-pifs.mount" Type)"
	expect_eq "srv-pifs.mount: a local mount" "local-fs.target" "$(key "$T/gen/srv-pifs.mount" Before)"
	[ -e "$T/gen/local-fs.target.requires/srv-pifs.mount" ] && ok "local-fs.target requires srv-pifs.mount" ||
		fail "local-fs.target does not require srv-pifs.mount"
	for m in nfsroot:nfs-server tftpboot:dnsmasq; do
		u=${m%%:*}.mount svc=${m#*:}.service
		expect_eq "$u requires srv-pifs.mount" "srv-pifs.mount" "$(key "$T/gen/$u" Requires)"
		expect_eq "$u comes after srv-pifs.mount" "srv-pifs.mount" "$(key "$T/gen/$u" After)"
		key "$T/gen/$u" Before | grep -qx "$svc" && ok "$u comes before $svc" || fail "$u is not before $svc"
		[ -e "$T/gen/$svc.requires/$u" ] && ok "$svc requires $u" || fail "$svc does not require $u"
	done
else
	fail "$GEN missing (apt-get install systemd)"
fi
finish
