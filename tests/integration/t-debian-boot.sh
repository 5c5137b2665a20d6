#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-debian-boot.sh - `make check-boot`: t-worker-boot's scenario with the
# Debian golden, a real Debian root whose systemd comes up on the NFS
# root pifs serves.  Not part of `make check`: the golden takes ~20 min to
# build (once per version of tools/golden-build.sh, cached in
# $PIFS_CACHE/golden-debian/) and each boot ~1-2 min of TCG.
#
#  1. The Debian golden (golden-build.sh --debian, cached), `pifs init`,
#     worker-3 (8b07bcc6) and worker-1 (77b655ec), mounted.
#  2. worker-3's boot files fetched the way its boot ROM does (the
#     simulator through real dnsmasq serving MNT/tftpboot); QEMU boots
#     exactly those bytes: kernel8.img, initramfs8 and cmdline.txt (plus
#     console=ttyAMA0 panic=-1).
#  3. The initramfs mounts /nfsroot/worker-3 from NFS-Ganesha and runs
#     systemd; systemd reaches multi-user.target, and pifs-local.service
#     (ordered after it) runs the worker's job from /etc/local.d/: it
#     reports PID 1, the target's state, failed units, the hostname, the
#     machine-id and the root mount, writes a marker, creates a user with
#     useradd, and powers off through systemd.  Everything is checked on
#     the console.
#  4. On the master: the marker is in worker-3's view and delta only, the
#     golden verifies clean.  Snapshot; reset --golden: the next boot has
#     no marker and no user; reset --to the snapshot: both are back; fsck.
#
# A guest that does not power off in its time is killed; its console and
# the daemon's log are shown and the test fails.
# Network: TESTBED.md's rules.  The boot ROM talks to dnsmasq only inside
# lib-rom.sh's two namespaces; ganesha and the guests run in lib-boot.sh's
# namespace, whose only interface is its loopback (10.1.1.100 there); the
# guest's traffic is recorded and must be DHCP, ARP and NFS only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-boot.sh"
. "$(dirname "$0")/lib-rom.sh"

# Under TCG a systemd boot takes ~1 min here; the bound is for a loaded
# machine (make -j2, other tests' guests).
BOOT_TIMEOUT=${PIFS_BOOT_TIMEOUT:-900}

boot_setup
trap 'rom_cleanup; boot_cleanup' EXIT
need_boot_tools
for t in debootstrap:debootstrap mke2fs:e2fsprogs e2fsck:e2fsprogs; do
	command -v "${t%%:*}" >/dev/null || skip "${t%%:*} missing (apt-get install ${t#*:})"
done
rom_net_up || finish

t0=$(date +%s)
golden_debian_cached || finish
G=$GOLDEN_CACHED
echo "note: Debian golden ready in $(($(date +%s) - t0)) s ($G)"
[ -x "$G/lib/systemd/systemd" ] && [ -f "$G/etc/systemd/system/pifs-local.service" ] ||
	{ fail "the Debian golden has no systemd or no pifs-local.service"; finish; }
t0=$(date +%s)
"$PIFS" init "$T/store" --golden "$G" >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "pifs init"; finish; }
grep -i warn "$T/init.log" && fail "pifs init warns about the built golden"
echo "note: pifs init in $(($(date +%s) - t0)) s"
"$PIFS" --store "$T/store" worker add worker-3 --serial 8b07bcc6 >/dev/null &&
	"$PIFS" --store "$T/store" worker add worker-1 --serial 77b655ec >/dev/null ||
	{ fail "pifs worker add"; finish; }
M=$T/mnt
mount_pifs "$T/store" "$M"
W3=$M/nfsroot/worker-3
W1=$M/nfsroot/worker-1
chmod 711 "$T" # dnsmasq drops root and must reach the mount

# ---- 2. worker-3's boot files, fetched as its boot ROM fetches them ----
S=8b07bcc6
rom_dnsmasq "$T/store" "$M/tftpboot" || finish
rom_add_pi "$S" || { fail "macvlan for $S"; finish; }
rom_boot "$S"
rom_wait "$!"
expect_eq "boot ROM of worker-3 got as far as kernel8.img" 0 "$?"
O=$T/out-$S/$S
for f in kernel8.img initramfs8 cmdline.txt; do
	cmp -s "$O/$f" "$W3/boot/firmware/$f" || fail "worker-3: the $f fetched over TFTP differs from its view"
done
expect_eq "worker-3's cmdline.txt mounts its own NFS root" \
	"console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=10.1.1.100:/nfsroot/worker-3,vers=3,tcp rw ip=dhcp rootwait" \
	"$(cat "$O/cmdline.txt" 2>/dev/null)"
rom_cleanup # worker-3 has its files; dnsmasq is not needed any more
[ "$NFAIL" -gt 0 ] && finish

# console: this round's console without CRs; the job's lines (journald
# forwards them to the console as "[  88.78] sh[249]: pifs-test: ...")
# without that prefix, or what came before it on the line (the serial
# getty's "worker-3 login: " prompt has no newline)
console() {
	tr -d '\r' <"$T/console-$ROUND.log" |
		sed -E 's/^.*\[ *[0-9]+\.[0-9]+\] [A-Za-z0-9_.@-]+\[[0-9]+\]: (pifs-(golden|test): )/\1/'
}
# said WHAT PATTERN: the console has a line matching PATTERN
said() {
	if console | grep -Eq -- "$2"; then ok "round $ROUND: $1"; else fail "round $ROUND: $1: no line matching '$2' on the console"; fi
}
# show_console: the console of this round (what a user would look at)
show_console() {
	echo "--- console of round $ROUND: the boot's steps and errors"
	console | grep -aE 'pifs-|Reached target|FAILED|Failed|rror|panic|Welcome' | head -150
	echo "--- console of round $ROUND (last 40 lines)"
	console | tail -40
}
# clean: no error, panic, oops or failed unit on the console
BAD='pifs-initramfs: error|Kernel panic|Oops|BUG:|Stale file handle|Input/output error|\[FAILED\]|Failed to start'
clean() {
	if console | grep -Eq "$BAD"; then
		console | grep -E "$BAD" | head -5
		fail "round $ROUND: the console shows an error"
	fi
}
# job SCRIPT: give worker-3's next boot a job (/etc/local.d/, run by
# pifs-local.service), written from the master into its view
job() {
	mkdir -p "$W3/etc/local.d"
	cat >"$W3/etc/local.d/pifs-test.start"
	chmod 755 "$W3/etc/local.d/pifs-test.start"
}
# boot_worker3: boot the bytes fetched for worker-3 and wait; on failure
# the console is shown.  Its exit status is QEMU's (124: killed in time).
boot_worker3() {
	local rc t up
	t=$(date +%s)
	boot_guest worker-3 "$O/kernel8.img" "$O/initramfs8" "$O/cmdline.txt" "$T/console-$ROUND.log" "$BOOT_TIMEOUT"
	wait_guest worker-3
	rc=$?
	up=$(console | sed -n 's/^pifs-test: multi-user.target reached at \([0-9]*\)[0-9]\{6\} us$/\1/p')
	up=${up:+after $up s of guest time}
	echo "note: round $ROUND: worker-3 ran for $(($(date +%s) - t)) s, QEMU exit $rc" \
		"(multi-user.target ${up:-not reached})"
	if [ $rc != 0 ] || ! console | grep -q '^pifs-test: done$'; then
		show_console
		fail "round $ROUND: worker-3 did not boot and run its job (QEMU exit $rc)"
		finish
	fi
	return 0
}
# The common part of every job: what the worker is, as systemd sees it.
# pifs-local.service is ordered after multi-user.target, so the target
# is active when this runs (is-system-running says "starting" until the
# job itself ends).
# shellcheck disable=SC2016 # expanded by the worker's shell
SYSTEMD_REPORT='echo "pifs-test: pid 1 $(cat /proc/1/comm)"
echo "pifs-test: multi-user.target $(systemctl is-active multi-user.target)"
echo "pifs-test: multi-user.target reached at $(systemctl show -P ActiveEnterTimestampMonotonic multi-user.target) us"
echo "pifs-test: journal: $(journalctl -b -o cat _PID=1 --no-pager | grep -m1 "Reached target.*multi-user")"
echo "pifs-test: failed units [$(systemctl list-units --failed --plain --no-legend | awk "{ print \$1 }" | tr "\n" " " | sed "s/ $//")]"
echo "pifs-test: hostname $(hostname)"
echo "pifs-test: machine-id $(cat /etc/machine-id)"
echo "pifs-test: root $(awk "\$2 == \"/\" { r = \$1 \" \" \$3 } END { print r }" /proc/mounts)"'
# A job that reports what the worker sees, then powers off.
# shellcheck disable=SC2016 # expanded by the worker's shell
REPORT="#!/bin/sh
$SYSTEMD_REPORT"'
echo "pifs-test: marker $(cat /root/marker 2>/dev/null || echo none)"
echo "pifs-test: alice $(grep -c "^alice:" /etc/passwd) $(id -u alice 2>/dev/null || echo none)"
echo "pifs-test: done"
systemctl --no-block poweroff
'
# systemd_checks: what every round's console must show
systemd_checks() {
	said "initramfs mounts worker-3's own root" '^pifs-initramfs: mounting 10\.1\.1\.100:/nfsroot/worker-3$'
	said "initramfs hands over to systemd" '^pifs-initramfs: switching to the NFS root, running /sbin/init$'
	said "systemd starts" '^systemd\[1\]: |Welcome to .*Debian'
	said "systemd reaches multi-user.target (its journal)" '^pifs-test: journal: Reached target multi-user\.target'
	said "pifs-local.service runs the job" '^pifs-golden: running /etc/local\.d/pifs-test\.start$'
	said "PID 1 is systemd" '^pifs-test: pid 1 systemd$'
	said "multi-user.target is active" '^pifs-test: multi-user\.target active$'
	said "multi-user.target was reached in this boot" '^pifs-test: multi-user\.target reached at [1-9][0-9]* us$'
	said "no failed units" '^pifs-test: failed units \[\]$'
	said "hostname worker-3 (the generated /etc/hostname)" '^pifs-test: hostname worker-3$'
	said "its own machine-id" "^pifs-test: machine-id $(cat "$W3/etc/machine-id")\$"
	said "the root is the NFS export" '^pifs-test: root 10\.1\.1\.100:/nfsroot/worker-3 nfs$'
	said "systemd powers it off" 'reboot: Power down'
	clean
}

start_nfs "$W3" "$W1" || finish

# ---- 3. worker-3's first boot: its job ----
ROUND=1
job <<EOF
#!/bin/sh
$SYSTEMD_REPORT
echo "booted \$(hostname) from pifs" >/root/marker && echo "pifs-test: marker written"
useradd -m -u 1001 -U -s /bin/bash -c Alice alice &&
	echo "pifs-test: user alice uid \$(id -u alice) home \$(stat -c '%U:%G %a' /home/alice)"
sync
echo "pifs-test: done"
systemctl --no-block poweroff
EOF
boot_worker3
systemd_checks
said "marker written" '^pifs-test: marker written$'
said "user created by useradd" '^pifs-test: user alice uid 1001 home alice:alice 7[0-5][05]$'

# ---- 4. on the master ----
expect_eq "marker in worker-3's view" "booted worker-3 from pifs" "$(cat "$W3/root/marker" 2>/dev/null)"
expect_eq "marker in worker-3's delta" "booted worker-3 from pifs" "$(cat "$T/store/deltas/worker-3/root/marker" 2>/dev/null)"
[ -e "$W1/root/marker" ] && fail "worker-3's marker shows in worker-1"
expect_eq "alice in worker-3's passwd" "alice:x:1001:1001:Alice:/home/alice:/bin/bash" "$(grep '^alice:' "$W3/etc/passwd")"
expect_eq "alice's home, owned by alice" "1001:1001 directory" "$(stat -c '%u:%g %F' "$W3/home/alice" 2>/dev/null)"
grep -q '^alice:' "$W1/etc/passwd" && fail "alice shows in worker-1's passwd"
"$PIFS" --store "$T/store" verify >"$T/verify.log" 2>&1 || { cat "$T/verify.log"; fail "golden changed by a booted worker"; }

job <<<"$REPORT"
SNAP=$("$PIFS" --store "$T/store" snapshot worker-3 -m "after the first systemd boot" 2>&1) || fail "snapshot worker-3: $SNAP"
SNAP=$(echo "$SNAP" | tail -1)

# reset to the bare golden: the marker and the user are gone at the next boot
"$PIFS" --store "$T/store" reset worker-3 --golden --force >"$T/reset.log" 2>&1 || { cat "$T/reset.log"; fail "reset worker-3 --golden"; }
[ -e "$W3/root/marker" ] && fail "marker still in the view after reset --golden"
job <<<"$REPORT"
ROUND=2
boot_worker3
systemd_checks
said "after reset --golden: marker gone" '^pifs-test: marker none$'
said "after reset --golden: user gone" '^pifs-test: alice 0 none$'

# back to the snapshot: the marker and the user are back (and the
# snapshot's job runs)
"$PIFS" --store "$T/store" reset worker-3 --to "$SNAP" --force >"$T/reset.log" 2>&1 || { cat "$T/reset.log"; fail "reset worker-3 --to $SNAP"; }
expect_eq "after reset --to: the snapshot's job" "${REPORT%$'\n'}" "$(cat "$W3/etc/local.d/pifs-test.start" 2>/dev/null)"
ROUND=3
boot_worker3
systemd_checks
said "after reset --to: marker back" '^pifs-test: marker booted worker-3 from pifs$'
said "after reset --to: user back" '^pifs-test: alice 1 1001$'

"$PIFS" --store "$T/store" verify >/dev/null 2>&1 || fail "golden changed after three boots"
"$PIFS" --store "$T/store" fsck >"$T/fsck.log" 2>&1 || { cat "$T/fsck.log"; fail "pifs fsck after the boots"; }

# The network rules: DHCP (to QEMU), ARP, NFS to 10.1.1.100, IPv6
# link-local multicast (the kernel's solicitations), nothing else.
guest_destinations worker-3 >"$T/dest" || fail "cannot read worker-3's traffic dump"
echo "note: worker-3 (round 3) sent to: $(tr '\n' ',' <"$T/dest")"
grep -q '^ipv4 10\.1\.1\.100 tcp/2049$' "$T/dest" || fail "worker-3: no NFS traffic in its dump"
expect_eq "worker-3 sent nothing but DHCP, ARP and NFS to 10.1.1.100" "" \
	"$(grep -vE '^(arp|ipv4 255\.255\.255\.255 udp/67|ipv4 10\.1\.1\.100 (udp/67|tcp/(111|2049|20048))|ipv6 ff02:.*)$' "$T/dest")"

stop_nfs
if [ "$NFAIL" -gt 0 ]; then
	for ROUND in 1 2 3; do [ -f "$T/console-$ROUND.log" ] && show_console; done
fi
finish
