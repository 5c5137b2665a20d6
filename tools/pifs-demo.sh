#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pifs-demo.sh - the main job on a built-in default, narrated step by step:
#  1. build the minimal golden from real Debian arm64 packages
#     (tools/golden-build.sh --minimal, downloads cached in /var/cache/pifs);
#  2. a store with worker-1..3 (the seed's serials for 1 and 3), mounted;
#  3. worker-3's boot files fetched the way its boot ROM fetches them, from
#     real dnsmasq serving the mount's tftpboot/ (network namespaces);
#  4. the seed's boot LAN in a network namespace: a bridge with the
#     master's 10.1.1.100, real dnsmasq on it (pifs dnsmasq-conf) and
#     NFS-Ganesha with the exports pifs exports prints (each root open to
#     its worker's address only); worker-3 boots those very bytes in QEMU
#     (arm64, Cortex-A53) on a tap of that bridge, its NIC with its
#     registered MAC: its registered address from dnsmasq, its root over
#     NFS as that address, its own hostname, a file written; its console
#     shown live;
#  5. on the master: the file is in worker-3 only; snapshot, reset to the
#     golden, boot again (the file is gone), reset to the snapshot.
# Then it stops everything it started (dnsmasq, ganesha, rpcbind, QEMU,
# the mount, the namespaces with their bridge and taps); the store stays in
# $PIFS_DEMO_DIR (default /var/tmp/pifs-demo, the mount point is its mnt/)
# to look at.  Uses the binaries of the build tree it sits in and the test
# suite's helpers for the network parts (tests/integration/lib-*.sh), so
# the demo runs exactly what `make check` checks.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export PIFS_BUILDDIR=$top PIFS_SRCDIR=$top
# shellcheck source=../tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
# shellcheck source=../tests/integration/lib-boot.sh
. "$top/tests/integration/lib-boot.sh"
# shellcheck source=../tests/integration/lib-rom.sh
. "$top/tests/integration/lib-rom.sh"
SCENARIO=pifs-demo
D=${PIFS_DEMO_DIR:-/var/tmp/pifs-demo}
S=$D/store
M=$D/mnt
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { echo "pifs-demo: $*" >&2; exit 1; }

[ -x "$PIFS" ] && [ -x "$PIFSD" ] || die "build pifs first (tools/quickstart.sh demo)"
[ -x "$BOOTROM" ] || make -C "$top" tests/tools/bootrom >/dev/null || die "cannot build tests/tools/bootrom"
boot_setup
trap 'rom_cleanup; boot_cleanup' EXIT
need_boot_tools
rom_net_up || die "cannot set up the boot network namespaces"
mkdir -p "$D"
chmod go+x "$D" # dnsmasq drops root and must reach the mount in it
D=$(cd "$D" && pwd) S=$D/store M=$D/mnt
setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$D" 2>/dev/null ||
	die "$D: dnsmasq (user nobody) cannot reach it; choose a PIFS_DEMO_DIR outside private directories"
if mountpoint -q "$M"; then
	"$PIFS" umount "$M" || die "$M: an old demo's mount is still there and cannot be unmounted"
fi
[ -d "$S" ] && { "$PIFS" destroy "$S" --yes >/dev/null || die "cannot remove the old demo store $S"; }

say "1. a golden OS image from real Raspberry Pi packages (arm64, minimal flavour)"
if [ ! -f "$D/golden/usr/lib/pifs-golden-applets" ]; then
	rm -rf "$D/golden"
	run "$PIFS" golden build --minimal "$D/golden" || die "pifs golden build failed"
fi
run ls "$D/golden" "$D/golden/boot/firmware"

say "2. one store, one read-only golden, three workers"
run "$PIFS" init "$S" --golden "$D/golden" || die "pifs init failed"
export PIFS_STORE=$S
run "$PIFS" worker add worker-1 --serial 77b655ec
run "$PIFS" worker add worker-2 --serial 2c0ffee2
run "$PIFS" worker add worker-3 --serial 8b07bcc6
printf '$ pifsd %s %s -o allow_other\n' "$S" "$M"
mount_pifs "$S" "$M"
chmod 711 "$T" # dnsmasq drops root and must reach its log there
run ls "$M/nfsroot" "$M/tftpboot"
run cat "$M/tftpboot/8b07bcc6/cmdline.txt"

say "3. worker-3's boot ROM: DHCP and TFTP from real dnsmasq (in network namespaces)"
rom_dnsmasq "$S" "$M/tftpboot" || die "dnsmasq did not start"
rom_add_pi 8b07bcc6 || die "cannot add worker-3's interface"
rom_boot 8b07bcc6
rom_wait "$!" || { cat "$T/rom-8b07bcc6.out"; die "the boot ROM simulation failed"; }
grep -E '^(offer|sent|boot complete)' "$T/rom-8b07bcc6.out" | sed 's/^/  rom: /'
O=$T/out-8b07bcc6/8b07bcc6
rom_cleanup

# boot_and_show ROUND: boot the fetched bytes, show the console live
boot_and_show() {
	local log=$T/console-$1.log
	: >"$log"
	boot_guest "worker-3-$1" "$O/kernel8.img" "$O/initramfs8" "$O/cmdline.txt" "$log" 400 "$MAC3"
	tail -n +1 -f --pid="${GUEST_PID[worker-3-$1]}" "$log" 2>/dev/null | tr -d '\r' |
		grep --line-buffered -E 'pifs-|demo:|Linux version|Run /init|NFS|nfs' | sed 's/^/  worker-3| /'
	wait_guest "worker-3-$1" || die "worker-3 did not boot (console: $log)"
}
job() {
	mkdir -p "$M/nfsroot/worker-3/etc/local.d"
	cat >"$M/nfsroot/worker-3/etc/local.d/demo.start"
	chmod 755 "$M/nfsroot/worker-3/etc/local.d/demo.start"
}

say "4. the boot LAN: dnsmasq and NFS-Ganesha as pifs configures them; worker-3 boots those bytes in QEMU"
MAC3=$("$PIFS" worker list | awk '$1 == "worker-3" { print $3 }')
IP3=$("$PIFS" worker list | awk '$1 == "worker-3" { print $4 }')
[ -n "$MAC3" ] && [ -n "$IP3" ] || die "worker-3 is not in pifs worker list"
printf '$ %s\n' "$PIFS dnsmasq-conf | grep ',worker-3\$'"
"$PIFS" dnsmasq-conf | grep ',worker-3$'
printf '$ %s\n' "$PIFS exports | grep -E '^/nfsroot/worker-3 |Clients = $IP3;'"
"$PIFS" exports | grep -E "^/nfsroot/worker-3 |Clients = $IP3;"
start_boot_lan "$S" "$M" || die "the boot LAN (dnsmasq, NFS-Ganesha) did not start"
echo "  a bridge with $("$PIFS" master)/24, dnsmasq and NFS-Ganesha on it, worker-3's NIC $MAC3 on a tap"
job <<'EOF'
#!/bin/sh
echo "demo: I am $(hostname), address $(ip -4 -o addr show scope global | awk '{ print $4 }'), root $(grep ' / ' /proc/mounts | cut -d' ' -f1)"
echo "demo: hello from $(hostname) $(uname -m)" >/root/hello
echo "demo: wrote /root/hello: $(cat /root/hello)"
poweroff -f
EOF
boot_and_show 1
tr -d '\r' <"$T/console-1.log" | grep -q "^pifs-initramfs: eth0: ${IP3//./\\.}/" ||
	die "worker-3 did not get its registered address $IP3"
echo "  dnsmasq's log (its lease, by MAC):"
grep -E "DHCP(DISCOVER|OFFER|REQUEST|ACK)\($LAN_BR\).* $MAC3" "$T/dnsmasq.log" | sed 's/^/  dnsmasq| /'

say "5. on the master: the file is in worker-3's view and delta only"
run cat "$M/nfsroot/worker-3/root/hello"
run ls "$M/nfsroot/worker-1/root"
run find "$S/deltas/worker-3" -name hello
run "$PIFS" verify
printf '$ %s\n' "$PIFS snapshot worker-3 -m \"demo: first boot\""
snap=$("$PIFS" snapshot worker-3 -m "demo: first boot") || die "snapshot failed"
echo "$snap"
run "$PIFS" reset worker-3 --golden --force || die "reset --golden failed"
job <<'EOF'
#!/bin/sh
echo "demo: after reset --golden: /root/hello $(cat /root/hello 2>/dev/null || echo 'is gone')"
poweroff -f
EOF
boot_and_show 2
run "$PIFS" reset worker-3 --to "$snap" --force || die "reset --to failed"
run cat "$M/nfsroot/worker-3/root/hello" || die "the snapshot did not bring /root/hello back"
run "$PIFS" status
run "$PIFS" log worker-3
stop_nfs
umount_pifs "$M"

say "done: everything the demo started is stopped"
cat <<MSG
  the store stays:  $S   (pifs --store $S status)
  mount it again:   $PIFS --store $S mount $M -o allow_other
  remove it:        $PIFS destroy $S --yes
MSG
