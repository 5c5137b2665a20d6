#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A real arm64 worker boots from the kernel NFS server: the seed's master
# in the amd64 guest of lib-knfsd.sh, set up as the README says, with the
# minimal golden of tools/golden-build.sh (the one t-worker-boot boots,
# cached on the host and read by the guest where it is), worker-3
# (8b07bcc6), dnsmasq configured by `pifs dnsmasq-conf` and the exports
# of `pifs exports` applied with `exportfs -ra`.
#
# The boot LAN: the master guest's second NIC (virtio-net) is on its
# bridge knfsd0 (10.1.1.100/24, the master's address); its other end is
# a QEMU stream netdev on a Unix socket in $T, which the worker's QEMU
# (qemu-system-aarch64, on the host) connects to.  So the LAN is a
# cable between two QEMU processes: no host address is used, not even
# loopback, and 10.1.1.x exists only inside the master guest.
#
#  1. The Pi's boot ROM (tests/tools/bootrom, in a network namespace on
#     the bridge, with worker-3's MAC) fetches its boot files from that
#     dnsmasq over TFTP: tftpboot/8b07bcc6/, the bytes of worker-3's view.
#  2. The host boots exactly those bytes (kernel8.img, initramfs8,
#     cmdline.txt plus console=ttyAMA0 panic=-1) in an arm64 guest with
#     worker-3's MAC.  The guest asks for it through a file in the
#     output share; the host's half (worker_poll) starts it, waits for it
#     (bounded) and answers with its exit status; its console is written
#     into the share, where the master reads it.
#  3. Checked in the master: dnsmasq gave it its registered address and
#     sent its boot files from tftpboot/8b07bcc6; rpc.mountd logged the
#     seed's "authenticated mount request from 10.1.1.2:PORT for
#     /nfsroot/worker-3"; the worker's console says it mounted its root
#     over NFS from 10.1.1.100, the golden's init came up as worker-3 and
#     its job ran; the file it wrote is in its view and in
#     deltas/worker-3 on the master, and nowhere else.
# On failure: both consoles' tails, pifsd's, rpc.mountd's and dnsmasq's
# logs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-knfsd.sh"
. "$(dirname "$0")/lib-boot.sh"
. "$(dirname "$0")/lib-rom.sh"

SERIAL=8b07bcc6
MAC=$(pi_mac $SERIAL)
# the master's NIC on the boot LAN
LAN_MAC=52:54:00:0a:01:64

if ! knfsd_in_guest; then
	# ---- on the host ----
	WORKER_PID=
	WORKER_END=
	WORKER_STATE=
	worker_stop() { [ -z "$WORKER_PID" ] || stop_pid "$WORKER_PID"; WORKER_PID=; }
	# worker_poll: knfsd_run's hook.  When the master has written the
	# boot files and $T/out/worker-go: boot them; when the worker has
	# powered off (or its 600 s are over): $T/out/worker-done with its
	# QEMU's exit status (124: killed).
	worker_poll() {
		local o=$T/out rc
		if [ -z "$WORKER_STATE" ] && [ -e "$o/worker-go" ]; then
			WORKER_STATE=running
			echo "note: the master asks for worker-3's boot at $(($(date +%s) - T0)) s"
			qemu-system-aarch64 -M virt -cpu cortex-a53 -m 512 -smp 1 \
				-nographic -no-reboot -monitor none -serial "file:$o/worker-3.console" -name worker-3 \
				-kernel "$o/boot/kernel8.img" -initrd "$o/boot/initramfs8" \
				-append "$(cat "$o/boot/cmdline.txt") console=ttyAMA0 panic=-1" \
				-netdev "stream,id=n0,server=off,addr.type=unix,addr.path=$T/knfsd/lan.sock" \
				-device "virtio-net-pci,netdev=n0,mac=$MAC,romfile=" \
				</dev/null >"$o/worker-3.qemu" 2>&1 &
			WORKER_PID=$!
			WORKER_END=$(($(date +%s) + 600))
		elif [ "$WORKER_STATE" = running ]; then
			if ! kill -0 "$WORKER_PID" 2>/dev/null; then
				wait "$WORKER_PID"
				rc=$?
			elif [ "$(date +%s)" -ge "$WORKER_END" ]; then
				worker_stop
				rc=124
			else
				return 0
			fi
			WORKER_PID=
			WORKER_STATE=over
			echo "note: worker-3's QEMU ended (exit $rc) at $(($(date +%s) - T0)) s"
			echo "$rc" >"$o/worker-done.new" && mv "$o/worker-done.new" "$o/worker-done"
		fi
	}
	knfsd_setup
	trap 'worker_stop; knfsd_cleanup' EXIT
	command -v qemu-system-aarch64 >/dev/null || skip "missing packages: qemu-system-arm (apt-get install qemu-system-arm)"
	[ -x "$BOOTROM" ] || skip "build tests/tools/bootrom first (make check)"
	command -v dnsmasq >/dev/null || skip "missing packages: dnsmasq-base (apt-get install dnsmasq-base)"
	# the golden t-worker-boot boots; its cache's lock stays held (the
	# guest reads the tree where it is) until this script exits
	golden_build_cached minimal 3600 || finish
	T0=$(date +%s)
	KNFSD_QEMU_ARGS=(-netdev "stream,id=lan,server=on,addr.type=unix,addr.path=$T/knfsd/lan.sock"
		-device "virtio-net-pci,netdev=lan,mac=$LAN_MAC,romfile=")
	KNFSD_POLL=worker_poll
	knfsd_run 1200 "$GOLDEN_CACHED"
	rc=$?
	worker_stop
	echo "note: the scenario took $(($(date +%s) - T0)) s"
	if [ $rc != 0 ]; then
		echo "--- the master's console (tail)"
		tail -20 "$T/out/console" 2>/dev/null
		echo "--- worker-3's console (tail)"
		tr -d '\r' <"$T/out/worker-3.console" 2>/dev/null | tail -30
		[ -s "$T/out/worker-3.qemu" ] && { echo "--- worker-3's QEMU"; tail -5 "$T/out/worker-3.qemu"; }
		[ -s "$T/out/dnsmasq.log" ] && { echo "--- dnsmasq.log (tail)"; tail -20 "$T/out/dnsmasq.log"; }
	fi
	exit $rc
fi

# ---- in the guest: the master ----
knfsd_guest_setup
GOLDEN=$1
t0=$(date +%s)
KNFSD_GOLDEN=$GOLDEN knfsd_master worker-3:$SERIAL &&
	ok "the README's master with the minimal golden (pifs init, worker add, fstab mount -a, exportfs -ra)" || finish
echo "note: the master is up in $(($(date +%s) - t0)) s"
IP3=$(pifs worker list | awk '$1 == "worker-3" { print $4 }')
[[ $IP3 =~ ^10\.1\.1\.[0-9]+$ ]] || { fail "worker list: worker-3's address '$IP3'"; finish; }

# the boot LAN: the NIC whose other end is the worker's, on the bridge
LAN=
for d in /sys/class/net/*; do
	[ "$(cat "$d/address" 2>/dev/null)" = "$LAN_MAC" ] && LAN=${d##*/}
done
[ -n "$LAN" ] || { ip link; fail "no NIC with $LAN_MAC in the master"; finish; }
ip link set "$LAN" master knfsd0 && ip link set "$LAN" up || { fail "cannot put $LAN on knfsd0"; finish; }

# dnsmasq as the README's master runs it: `pifs dnsmasq-conf`
DLOG=$KNFSD_OUT/dnsmasq.log
pifs dnsmasq-conf --interface knfsd0 --tftp-root /tftpboot --log-facility "$DLOG" --standalone \
	>"$T/dnsmasq.conf" 2>"$T/conf.err" || { cat "$T/conf.err"; fail "pifs dnsmasq-conf"; finish; }
dnsmasq --conf-file="$T/dnsmasq.conf" --keep-in-foreground --pid-file="$T/dnsmasq.pid" \
	--dhcp-leasefile="$T/dnsmasq.leases" >"$T/dnsmasq.out" 2>&1 </dev/null &
DNSMASQ_PID=$!
PIDS+=("$DNSMASQ_PID")
for _ in $(seq 1 100); do grep -q 'TFTP root is' "$DLOG" 2>/dev/null && break; sleep 0.1; done
grep -q 'TFTP root is /tftpboot' "$DLOG" 2>/dev/null || { cat "$T/dnsmasq.out" "$DLOG"; fail "dnsmasq did not start"; finish; }

# ---- 1. the boot ROM fetches worker-3's boot files ----
ip netns add pirom && KNFSD_NETNS+=(pirom) &&
	ip link add v-pirom type veth peer name eth0 netns pirom &&
	ip link set v-pirom master knfsd0 up &&
	ip -n pirom link set lo up && ip -n pirom link set eth0 address "$MAC" && ip -n pirom link set eth0 up ||
	{ fail "the boot ROM's namespace"; finish; }
mkdir -p "$T/rom"
t1=$(date +%s)
nsenter --net=/run/netns/pirom "$BOOTROM" --iface eth0 --mac "$MAC" --serial $SERIAL --out "$T/rom" \
	--timeout 400 --interval 3000 --gap 50 --assign-address >"$T/rom.out" 2>&1 </dev/null
rc=$?
echo "note: the boot ROM's TFTP took $(($(date +%s) - t1)) s"
[ $rc = 0 ] || { tail -20 "$T/rom.out"; fail "the boot ROM stopped (exit $rc) before kernel8.img"; finish; }
ok "the boot ROM got as far as kernel8.img"
ip netns del pirom
mkdir -p "$KNFSD_OUT/boot"
for f in kernel8.img initramfs8 cmdline.txt; do
	cmp -s "$T/rom/$SERIAL/$f" "/nfsroot/worker-3/boot/firmware/$f" &&
		ok "TFTP's $SERIAL/$f is worker-3's boot/firmware/$f" || fail "the $f fetched over TFTP differs from worker-3's view"
	grep -Eq "sent /tftpboot/$SERIAL/$f to $IP3\$" "$DLOG" &&
		ok "dnsmasq: sent /tftpboot/$SERIAL/$f to $IP3" || fail "dnsmasq's log has no 'sent /tftpboot/$SERIAL/$f to $IP3'"
	cp "$T/rom/$SERIAL/$f" "$KNFSD_OUT/boot/$f"
done
expect_eq "worker-3's cmdline.txt mounts its own NFS root" \
	"console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=10.1.1.100:/nfsroot/worker-3,vers=3,tcp rw ip=dhcp rootwait" \
	"$(cat "$KNFSD_OUT/boot/cmdline.txt")"
[ "$NFAIL" -gt 0 ] && finish

# its job at this boot (the golden's rcS runs /etc/local.d/*.start),
# written from the master into its view
mkdir -p /nfsroot/worker-3/etc/local.d
cat >/nfsroot/worker-3/etc/local.d/pifs-test.start <<'EOF'
#!/bin/sh
echo "pifs-test: hostname $(hostname)"
echo "pifs-test: addr $(ip -4 -o addr show scope global | awk '{ print $2, $4 }')"
echo "pifs-test: root $(grep " / " /proc/mounts | cut -d" " -f1,3)"
echo "booted $(hostname) from the kernel nfsd" >/root/marker && echo "pifs-test: marker written"
sync
echo "pifs-test: done"
poweroff -f
EOF
chmod 755 /nfsroot/worker-3/etc/local.d/pifs-test.start

# ---- 2. the host boots those bytes ----
t1=$(date +%s)
touch "$KNFSD_OUT/worker-go"
for _ in $(seq 1 700); do [ -e "$KNFSD_OUT/worker-done" ] && break; sleep 1; done
WRC=$(cat "$KNFSD_OUT/worker-done" 2>/dev/null)
echo "note: worker-3 booted and powered off in $(($(date +%s) - t1)) s"
expect_eq "worker-3 powered off by itself (its QEMU's exit status)" 0 "${WRC:-no answer from the host}"

# ---- 3. what a user checks ----
con() { tr -d '\r' <"$KNFSD_OUT/worker-3.console"; }
said() {
	if con | grep -Eq -- "$2"; then ok "worker-3: $1"; else fail "worker-3: $1: no line matching '$2' on its console"; fi
}
grep -Eq "DHCPACK\(knfsd0\) ${IP3//./\\.} $MAC worker-3$" "$DLOG" &&
	ok "dnsmasq: worker-3's lease ($IP3 $MAC)" || fail "dnsmasq's log: no DHCPACK of $IP3 to $MAC worker-3"
said "DHCP gave it its registered address" "^pifs-initramfs: eth0: ${IP3//./\\.}/24, .*DHCP server 10\\.1\\.1\\.100\$"
said "its NIC has that address" "^pifs-test: addr eth0 ${IP3//./\\.}/24\$"
said "initramfs mounts its own root" '^pifs-initramfs: mounting 10\.1\.1\.100:/nfsroot/worker-3$'
grep -Eq "^rpc.mountd: authenticated mount request from ${IP3//./\\.}:[0-9]+ for /nfsroot/worker-3 \(/nfsroot/worker-3\)$" "$KNFSD_OUT/mountd.log" &&
	ok "$(grep -m1 "authenticated mount request from $IP3" "$KNFSD_OUT/mountd.log")" ||
	fail "rpc.mountd did not log worker-3's mount from $IP3"
said "root is NFS from the master" '^pifs-test: root 10\.1\.1\.100:/nfsroot/worker-3 nfs$'
said "the golden's init came up as worker-3" '^pifs-golden: up as worker-3$'
said "hostname from the generated /etc/hostname" '^pifs-test: hostname worker-3$'
said "marker written" '^pifs-test: marker written$'
said "job finished" '^pifs-test: done$'
if con | grep -Eq 'pifs-initramfs: error|Kernel panic|Oops|BUG:|Stale file handle|Input/output error'; then
	con | grep -E 'pifs-initramfs: error|Kernel panic|Oops|BUG:|Stale file handle|Input/output error' | head -5
	fail "worker-3: its console shows an error"
fi
expect_eq "the marker in worker-3's view on the master" "booted worker-3 from the kernel nfsd" \
	"$(cat /nfsroot/worker-3/root/marker 2>&1)"
expect_eq "the marker in deltas/worker-3" "booted worker-3 from the kernel nfsd" \
	"$(cat /var/lib/pifs/deltas/worker-3/root/marker 2>&1)"
[ ! -e "$GOLDEN/root/marker" ] &&
	ok "the golden has no marker" || fail "worker-3's marker is in the golden"
pifs verify >"$T/verify.log" 2>&1 && ok "pifs verify: the golden is untouched" || { cat "$T/verify.log"; fail "pifs verify"; }

# the README's way down: the servers first (dnsmasq holds /tftpboot)
knfsd_stop_pid "$DNSMASQ_PID"
knfsd_server_stop
knfsd_pifs_down
knfsd_sanitizer_reports
finish
