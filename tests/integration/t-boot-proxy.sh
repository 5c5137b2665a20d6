#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-boot-proxy.sh - `pifs dnsmasq-conf --proxy` on a LAN that already has
# a DHCP server (issue 20): real dnsmasq configured by pifs as proxy DHCP
# in the master namespace, a second, plain dnsmasq as the LAN's router in
# a third namespace on the same segment (handing out the addresses the
# admin reserved there, from the list --proxy prints), and the boot-ROM
# simulator taking its address from the router's OFFER and the boot menu
# and TFTP server from the proxy's, as a real Pi does.
# 1. The proxy alone never hands out an address: a Pi gets the boot menu
#    but no address (and gives up, exit 3), a plain DHCP client (busybox
#    udhcpc) gets nothing, dnsmasq logs no DHCPOFFER/ACK and leases
#    nothing.
# 2. With the router: a Pi 3B+ (worker-3) and a Pi 4 (worker-7, which also
#    REQUESTs its address from the router) boot at once; every file byte
#    for byte against the worker's view; the address each got is the one
#    `pifs exports` opens its NFS root to.
#
# Network: only inside the namespaces lib-rom.sh makes (master, Pis,
# router); every server stopped by PID on exit.  Needs: iproute2,
# dnsmasq-base; busybox for the plain client (that check is skipped
# without it).
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/lib-rom.sh"

setup
trap 'rom_cleanup; cleanup' EXIT
trap 'exit 130' INT TERM HUP
rom_net_up || finish

bash "$PIFS_SRCDIR/tools/mkgolden.sh" "$T/golden" || { fail "mkgolden"; finish; }
"$PIFS" init "$T/store" --golden "$T/golden" >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "pifs init"; finish; }
"$PIFS" --store "$T/store" worker add worker-3 --serial 8b07bcc6 --ip 10.1.1.2 >/dev/null ||
	{ fail "pifs worker add worker-3"; finish; }
# The Pi 4, as in t-boot-rom: its own MAC, its serial's directory
P4=9ffefdef
rom_worker "$T/store" worker-7 $P4 10.1.1.7 pi4 dc:a6:32:01:36:c2 serial ||
	{ fail "pifs worker add worker-7"; finish; }
P4_MAC=$ROM_MAC
P4_DIR=$ROM_DIR
mount_pifs "$T/store" "$T/mnt"
M=$T/mnt
chmod 711 "$T" # dnsmasq drops root and must reach the mount

rom_dnsmasq "$T/store" "$M/tftpboot" --proxy || finish
C=$T/dnsmasq.conf
grep -qx 'dhcp-range=10.1.1.0,proxy,255.255.255.0' "$C" && ok "--proxy: dhcp-range=10.1.1.0,proxy" ||
	{ cat "$C"; fail "--proxy: no proxy dhcp-range"; }
expect_eq "--proxy: no other dhcp-range, no dhcp-host (a proxy gives no address)" "" \
	"$(grep -E '^dhcp-(host|range)=' "$C" | grep -v ',proxy,')"
expect_eq "--proxy: DNS left on (no port=0)" "" "$(grep -x 'port=0' "$C")"
grep -qx 'pxe-service=0,"Raspberry Pi Boot"' "$C" && ok "--proxy: the PXE menu entry" || fail "--proxy: no pxe-service"
# What the admin reserves on the LAN's DHCP server, as --proxy lists it
mapfile -t HOSTS < <(sed -n 's/^#   worker-[0-9]* \([0-9a-f:]*\) \([0-9.]*\) .*/\1,\2/p' "$C")
expect_eq "--proxy lists each worker's MAC and address for the LAN's server" \
	"b8:27:eb:07:bc:c6,10.1.1.2 $P4_MAC,10.1.1.7" "${HOSTS[*]}"

# ---- 1. the proxy alone: no address for anyone ----
rom_add_pi 8b07bcc6 || { fail "macvlan for 8b07bcc6"; finish; }
rom_add_pi $P4 "$P4_MAC" || { fail "macvlan for $P4"; finish; }
rom_boot 8b07bcc6 --tries 2
rom_wait "$!"
rc=$?
expect_eq "proxy alone: the Pi finds no usable offer (exit 3)" 3 "$rc"
expect_eq "proxy alone: a boot menu each try, never an address" "boot offer from 10.1.1.100 but no address offer
boot offer from 10.1.1.100 but no address offer" \
	"$(grep -E '^(boot offer|offer|address-offer|boot-offer|ack) ' "$T/rom-8b07bcc6.out")"
if command -v busybox >/dev/null && busybox udhcpc --help >/dev/null 2>&1; then
	ip -n "$NSW" link add link "$VW" name plain$$ type macvlan mode bridge &&
		ip -n "$NSW" link set plain$$ address 02:00:00:00:00:01 && ip -n "$NSW" link set plain$$ up ||
		{ fail "macvlan for the plain client"; finish; }
	# -n: exit 1 without a lease; -t 3 -T 1: three DISCOVERs, 1 s apart
	timeout 30 nsenter --net="/run/netns/$NSW" busybox udhcpc -f -q -n -t 3 -T 1 -A 1 -i plain$$ \
		-s /bin/true >"$T/udhcpc.out" 2>&1
	rc=$?
	[ $rc != 0 ] && ! grep -q 'lease of' "$T/udhcpc.out" && ok "proxy alone: a plain DHCP client gets no lease" ||
		{ cat "$T/udhcpc.out"; fail "proxy alone: udhcpc exit $rc"; }
else
	echo "note: busybox udhcpc missing: the plain-client check is skipped"
fi
grep -q "PXE($VM) b8:27:eb:07:bc:c6 proxy" "$T/dnsmasq.log" && ok "proxy alone: dnsmasq answered as a proxy" ||
	fail "proxy alone: no proxy answer in dnsmasq's log"
# A proxy echoes the client GUID (option 97); dnsmasq logs its first 14
# bytes.  A real Pi 3B+'s reads as its serial four times, little-endian
# (raspberrypi/firmware #1605: 00:16:4c:6c:b6:16:4c:6c:b6:...)
grep -q "option: 97 client-machine-id  00:c6:bc:07:8b:c6:bc:07:8b:c6:bc:07:8b:c6\.\.\.$" "$T/dnsmasq.log" &&
	ok "proxy alone: dnsmasq reads the Pi 3B+'s GUID as a real one's" ||
	{ grep 'option: 97' "$T/dnsmasq.log"; fail "proxy alone: the Pi 3B+'s option 97"; }
expect_eq "proxy alone: dnsmasq offered and acknowledged nothing" "" \
	"$(grep -E 'DHCP(OFFER|ACK)' "$T/dnsmasq.log")"
expect_eq "proxy alone: dnsmasq leased nothing" "" "$(cat "$T/dnsmasq.leases" 2>/dev/null)"

# ---- 2. the LAN's router gives the addresses, the proxy the boot ----
rom_router "${HOSTS[@]}" || finish
n0=$(wc -l <"$T/dnsmasq.log")
rm -rf "$T/out-8b07bcc6"
rom_boot 8b07bcc6
p3=$!
rom_boot $P4 --model pi4 --tftp-prefix "$P4_DIR"
p4=$!
rom_wait "$p3"
rc3=$?
rom_wait "$p4"
rc4=$?

# check_sent SERIAL WORKER [DIR]: every file the simulator got, against
# the worker's view (its directory DIR, default SERIAL) or the golden
# (bootcode.bin at the root)
check_sent() {
	local s=$1 w=$2 d=${3:-$1} f n=0 bad=0 src
	while read -r _ f _; do
		n=$((n + 1))
		case $f in
		"$d"/*) src=$M/nfsroot/$w/boot/firmware/${f#"$d"/} ;;
		*) src=$T/golden/boot/firmware/$f ;;
		esac
		cmp -s "$src" "$T/out-$s/$f" || { bad=1; fail "$w: $f differs from $src"; }
	done < <(grep '^sent ' "$T/rom-$s.out")
	if [ $bad = 0 ] && [ $n -ge 10 ]; then
		ok "$w: all $n files byte for byte as in its view"
	elif [ $bad = 0 ]; then
		fail "$w: only $n files received"
	fi
}

expect_eq "worker-3 (Pi 3B+) through the proxy: exit status" 0 "$rc3"
[ "$rc3" = 0 ] || cat "$T/rom-8b07bcc6.out"
expect_eq "worker-3: its address from the router, its boot from the proxy (both DHCP rounds)" \
	"address-offer yiaddr=10.1.1.2 server-id=10.1.1.254
boot-offer siaddr=0.0.0.0 server-id=10.1.1.100 option66=- menu=\"Raspberry Pi Boot\"
tftp-server 10.1.1.100
address-offer yiaddr=10.1.1.2 server-id=10.1.1.254
boot-offer siaddr=0.0.0.0 server-id=10.1.1.100 option66=- menu=\"Raspberry Pi Boot\"" \
	"$(grep -E '^(offer|address-offer|boot-offer|ack|tftp-server) ' "$T/rom-8b07bcc6.out")"
grep -q '^boot complete$' "$T/rom-8b07bcc6.out" && ok "worker-3: boot complete" || fail "worker-3: no boot complete"
check_sent 8b07bcc6 worker-3
grep -q '^sent 8b07bcc6/kernel8.img ' "$T/rom-8b07bcc6.out" && grep -q '^sent 8b07bcc6/start.elf ' "$T/rom-8b07bcc6.out" &&
	ok "worker-3: start.elf and kernel8.img from its own directory" || fail "worker-3: not served from 8b07bcc6/"

expect_eq "worker-7 (Pi 4) through the proxy: exit status" 0 "$rc4"
[ "$rc4" = 0 ] || cat "$T/rom-$P4.out"
expect_eq "worker-7: address from the router, REQUESTed and acknowledged there; boot from the proxy" \
	"address-offer yiaddr=10.1.1.7 server-id=10.1.1.254
boot-offer siaddr=0.0.0.0 server-id=10.1.1.100 option66=- menu=\"Raspberry Pi Boot\"
ack yiaddr=10.1.1.7 server-id=10.1.1.254
tftp-server 10.1.1.100" \
	"$(grep -E '^(offer|address-offer|boot-offer|ack|tftp-server) ' "$T/rom-$P4.out")"
check_sent $P4 worker-7 "$P4_DIR"
# A real Pi 4's GUID in a dnsmasq proxy log (a public netboot guide):
# 00:52:50:69:34 ("RPi4"), 11:31:a0:00 (revision a03111), the MAC's last
# 4 bytes, the serial little-endian; the simulator's board is a c03111
m=$P4_MAC
grep -q "option: 97 client-machine-id  00:52:50:69:34:11:31:c0:00:${m:6:2}:${m:9:2}:${m:12:2}:${m:15:2}:ef\.\.\.$" \
	"$T/dnsmasq.log" && ok "worker-7: dnsmasq reads the Pi 4's GUID as a real one's" ||
	{ grep 'option: 97' "$T/dnsmasq.log"; fail "worker-7: the Pi 4's option 97"; }
grep -q "^sent $P4_DIR/start4.elf " "$T/rom-$P4.out" && grep -q "^sent $P4_DIR/kernel8.img " "$T/rom-$P4.out" &&
	ok "worker-7: start4.elf and kernel8.img from its own directory" || fail "worker-7: not served from $P4_DIR/"

# The two servers' logs: the router handed out the reserved addresses,
# the proxy only the boot (and TFTP), still nothing leased
grep -q "DHCPOFFER(rtr$$) 10.1.1.2 b8:27:eb:07:bc:c6" "$T/router.log" &&
	grep -q "DHCPACK(rtr$$) 10.1.1.7 $P4_MAC" "$T/router.log" &&
	ok "the router offered 10.1.1.2 to worker-3 and acknowledged 10.1.1.7 for worker-7" ||
	{ grep DHCP "$T/router.log"; fail "the router's log"; }
expect_eq "the proxy still offered and acknowledged nothing" "" \
	"$(grep -E 'DHCP(OFFER|ACK)' "$T/dnsmasq.log")"
expect_eq "the proxy still leased nothing" "" "$(cat "$T/dnsmasq.leases" 2>/dev/null)"
tail -n +"$((n0 + 1))" "$T/dnsmasq.log" | grep -q "sent $M/tftpboot/8b07bcc6/kernel8.img to 10.1.1.2\$" &&
	tail -n +"$((n0 + 1))" "$T/dnsmasq.log" | grep -q "sent $M/tftpboot/$P4_DIR/kernel8.img to 10.1.1.7\$" &&
	ok "the proxy's TFTP sent each kernel to the router's address" || fail "the proxy's TFTP log"

# pifs exports opens each NFS root to the address the router gave
"$PIFS" --store "$T/store" exports >"$T/exports" || fail "pifs exports"
grep -q '^/nfsroot/worker-3 10\.1\.1\.2(' "$T/exports" && grep -q '^/nfsroot/worker-7 10\.1\.1\.7(' "$T/exports" &&
	ok "pifs exports: worker-3 and worker-7 open to the addresses the router gave" ||
	{ cat "$T/exports"; fail "pifs exports"; }

kill -0 "$DNSMASQ_PID" 2>/dev/null && kill -0 "$ROUTER_PID" 2>/dev/null && ok "both DHCP servers still running" ||
	fail "a DHCP server died"
finish
