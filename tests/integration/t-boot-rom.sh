#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-boot-rom.sh - the seed's network boot, end to end on one machine: real
# dnsmasq configured by `pifs dnsmasq-conf` serves DHCP and TFTP from the
# pifs mount's tftpboot/ view inside a network namespace, and a Pi 3B+
# boot-ROM simulator (tests/tools/bootrom) in a second namespace boots
# worker-3, then worker-3 and worker-1 at once, then an unregistered Pi,
# then a Pi 4 (worker-7) and a Pi 5 (worker-8) at the same time as the Pi
# 3B+ worker-3, then an unregistered Pi 4 and Pi 5, then the Pi 5 with a
# kernel too big for its TFTP.
# Checked: the OFFER (registry address, PXE menu "Raspberry Pi Boot", TFTP
# server 10.1.1.100), every file byte for byte against the worker's view,
# the generated cmdline.txt, the not-found answers, the unregistered Pi's
# fall-back to the TFTP root, and dnsmasq's own log against the seed's
# syslog event by event; for the Pi 4 and Pi 5 their DHCP REQUEST/ACK,
# their request sequence (tftp-prefix directory kept or dropped) and
# every file they got, byte for byte.
#
# Network: only inside two namespaces made here (pifsm-PID: the master,
# 10.1.1.100/24 on a veth; pifsw-PID: the Pis, one macvlan per Pi with its
# MAC on the veth's peer); dnsmasq binds only that veth, port=0 (no DNS).
# Everything is removed on exit.  Needs: iproute2, dnsmasq-base.
#
# PIFS_BOOT_TFTP=plain serves a plain directory laid out like the tftpboot
# view (bootcode.bin + <serial>/ = the worker's boot/firmware with the
# generated cmdline.txt) instead of MNT/tftpboot: for developing the test
# without the view.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/lib-rom.sh"

setup
trap 'rom_cleanup; cleanup' EXIT
trap 'exit 130' INT TERM HUP
rom_net_up || finish

# The seed's addresses (make_store would give worker-3 10.1.1.1)
bash "$PIFS_SRCDIR/tools/mkgolden.sh" "$T/golden" || { fail "mkgolden"; finish; }
"$PIFS" init "$T/store" --golden "$T/golden" >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "pifs init"; finish; }
"$PIFS" --store "$T/store" worker add worker-1 --serial 77b655ec --ip 10.1.1.1 >/dev/null &&
	"$PIFS" --store "$T/store" worker add worker-3 --serial 8b07bcc6 --ip 10.1.1.2 >/dev/null ||
	{ fail "pifs worker add"; finish; }

# The Pi 4 and Pi 5 workers: NAME SERIAL IP MODEL MAC TFTP_PREFIX, each
# board with its own MAC and each TFTP_PREFIX kind: a Pi 4 on its serial,
# a Pi 5 on its MAC, a Pi 4 on a fixed string (TFTP_PREFIX_STR).
EEPROM_BOARDS=(
	"worker-7 9ffefdef 10.1.1.7 pi4 dc:a6:32:01:36:c2 serial"
	"worker-8 1a2b3c4d 10.1.1.8 pi5 2c:cf:67:00:11:22 mac"
	"worker-9 0badcafe 10.1.1.9 pi4 e4:5f:01:00:00:09 str:rack1-n9"
)
# ... and as registered: NAME SERIAL IP MODEL MAC DIRECTORY
EEPROM_PIS=()
for b in "${EEPROM_BOARDS[@]}"; do
	# shellcheck disable=SC2086 # the table's words
	rom_worker "$T/store" $b || { fail "pifs worker add ${b%% *}"; finish; }
	read -r n s ip m _ <<<"$b"
	EEPROM_PIS+=("$n $s $ip $m $ROM_MAC $ROM_DIR")
done
mount_pifs "$T/store" "$T/mnt"
M=$T/mnt
G=$T/golden/boot/firmware
chmod 711 "$T" # dnsmasq drops root and must reach the mount

# expected_cmdline WORKER: the cmdline.txt pifs generates from the golden's
# "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02
# rootfstype=ext4 fsck.repair=yes rootwait" (written out, not computed).
expected_cmdline() {
	printf 'console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=10.1.1.100:/nfsroot/%s,vers=3,tcp rw ip=dhcp rootwait\n' "$1"
}

if [ "${PIFS_BOOT_TFTP:-pifs}" = plain ]; then
	echo "note: PIFS_BOOT_TFTP=plain: serving a plain directory, not $M/tftpboot"
	TFTP=$T/tftp
	mkdir -p "$TFTP"
	cp "$G/bootcode.bin" "$TFTP/"
	for wk in worker-3:8b07bcc6 worker-1:77b655ec; do
		src=$M/nfsroot/${wk%%:*}/boot/firmware
		dst=$TFTP/${wk#*:}
		(cd "$src" && find . -type d) | while read -r d; do mkdir -p "$dst/$d"; done
		(cd "$src" && find . -type f) | while read -r f; do cp "$src/$f" "$dst/$f"; done
		expected_cmdline "${wk%%:*}" >"$dst/cmdline.txt"
	done
else
	TFTP=$M/tftpboot
	if [ ! -d "$TFTP" ]; then
		fail "$TFTP does not exist: pifsd has no tftpboot view (PIFS_BOOT_TFTP=plain tests the rest)"
		finish
	fi
fi

# ---- dnsmasq in the master namespace ----
rom_dnsmasq "$T/store" "$TFTP" || finish
grep -qx "dhcp-host=b8:27:eb:07:bc:c6,10.1.1.2,worker-3" "$T/dnsmasq.conf" ||
	{ cat "$T/dnsmasq.conf"; fail "dnsmasq-conf: no dhcp-host line for worker-3"; finish; }

# The seed's syslog of the worker-3 boot (pi-network-boot.md), up to the
# kernel: the sequence dnsmasq must log again.  The seed logs bootsig.bin
# before bootcode.bin: the ROM's last ACK of bootcode.bin and its request
# for bootsig.bin reached dnsmasq in the same poll round; the simulator
# waits --gap between requests, so here they come in request order (the
# only change, made below by the swap).
seed_log() {
	cat <<'EOF'
2025-09-26T16:25:02.962460+01:00 pi-master dnsmasq-dhcp[5629]: DHCPDISCOVER(eth0) b8:27:eb:07:bc:c6 
2025-09-26T16:25:02.963269+01:00 pi-master dnsmasq-dhcp[5629]: DHCPOFFER(eth0) 10.1.1.2 b8:27:eb:07:bc:c6 
2025-09-26T16:25:03.015438+01:00 pi-master dnsmasq-tftp[5629]: file /tftpboot/bootsig.bin not found for 10.1.1.2
2025-09-26T16:25:03.015777+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/bootcode.bin to 10.1.1.2
2025-09-26T16:25:03.119617+01:00 pi-master dnsmasq-dhcp[5629]: DHCPDISCOVER(eth0) b8:27:eb:07:bc:c6 
2025-09-26T16:25:03.120397+01:00 pi-master dnsmasq-dhcp[5629]: DHCPOFFER(eth0) 10.1.1.2 b8:27:eb:07:bc:c6 
2025-09-26T16:25:03.122503+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:03.122936+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/start.elf to 10.1.1.2
2025-09-26T16:25:03.130490+01:00 pi-master dnsmasq-tftp[5629]: file /tftpboot/8b07bcc6/autoboot.txt not found for 10.1.1.2
2025-09-26T16:25:03.131108+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:03.131453+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/start.elf to 10.1.1.2
2025-09-26T16:25:03.133801+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/config.txt to 10.1.1.2
2025-09-26T16:25:03.137479+01:00 pi-master dnsmasq-tftp[5629]: file /tftpboot/8b07bcc6/recovery.elf not found for 10.1.1.2
2025-09-26T16:25:05.850161+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/start.elf to 10.1.1.2
2025-09-26T16:25:05.856889+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/fixup.dat to 10.1.1.2
2025-09-26T16:25:06.008035+01:00 pi-master dnsmasq-tftp[5629]: file /tftpboot/8b07bcc6/recovery.elf not found for 10.1.1.2
2025-09-26T16:25:06.010302+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:06.010759+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/config.txt to 10.1.1.2
2025-09-26T16:25:06.013097+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/config.txt to 10.1.1.2
2025-09-26T16:25:06.014533+01:00 pi-master dnsmasq-tftp[5629]: file /tftpboot/8b07bcc6/dt-blob.bin not found for 10.1.1.2
2025-09-26T16:25:06.076082+01:00 pi-master dnsmasq-tftp[5629]: file /tftpboot/8b07bcc6/recovery.elf not found for 10.1.1.2
2025-09-26T16:25:06.078446+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:06.078948+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/config.txt to 10.1.1.2
2025-09-26T16:25:06.080730+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/config.txt to 10.1.1.2
2025-09-26T16:25:06.620640+01:00 pi-master dnsmasq-tftp[5629]: file /tftpboot/8b07bcc6/bootcfg.txt not found for 10.1.1.2
2025-09-26T16:25:06.660114+01:00 pi-master dnsmasq-tftp[5629]: file /tftpboot/8b07bcc6/recovery8.img not found for 10.1.1.2
2025-09-26T16:25:06.662407+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:06.662882+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/kernel8.img to 10.1.1.2
2025-09-26T16:25:06.663969+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:06.664358+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/kernel8.img to 10.1.1.2
2025-09-26T16:25:06.665512+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:06.666016+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/initramfs8 to 10.1.1.2
2025-09-26T16:25:06.667160+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:06.667576+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/initramfs8 to 10.1.1.2
2025-09-26T16:25:06.668517+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:06.668944+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/initramfs8 to 10.1.1.2
2025-09-26T16:25:12.426097+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/initramfs8 to 10.1.1.2
2025-09-26T16:25:12.445076+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:12.445434+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/bcm2710-rpi-3-b-plus.dtb to 10.1.1.2
2025-09-26T16:25:12.472706+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/bcm2710-rpi-3-b-plus.dtb to 10.1.1.2
2025-09-26T16:25:12.489836+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:12.490216+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/overlays/overlay_map.dtb to 10.1.1.2
2025-09-26T16:25:12.495919+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/overlays/overlay_map.dtb to 10.1.1.2
2025-09-26T16:25:12.529482+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:12.529754+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/config.txt to 10.1.1.2
2025-09-26T16:25:12.531638+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/config.txt to 10.1.1.2
2025-09-26T16:25:12.540609+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:12.540887+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/overlays/vc4-kms-v3d.dtbo to 10.1.1.2
2025-09-26T16:25:12.543957+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/overlays/vc4-kms-v3d.dtbo to 10.1.1.2
2025-09-26T16:25:12.702545+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:12.703077+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/cmdline.txt to 10.1.1.2
2025-09-26T16:25:12.703331+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/cmdline.txt to 10.1.1.2
2025-09-26T16:25:12.894988+01:00 pi-master dnsmasq-tftp[5629]: file /tftpboot/8b07bcc6/armstub8.bin not found for 10.1.1.2
2025-09-26T16:25:12.897311+01:00 pi-master dnsmasq-tftp[5629]: error 0 Early terminate received from 10.1.1.2
2025-09-26T16:25:12.897634+01:00 pi-master dnsmasq-tftp[5629]: failed sending /tftpboot/8b07bcc6/kernel8.img to 10.1.1.2
2025-09-26T16:25:20.351041+01:00 pi-master dnsmasq-tftp[5629]: sent /tftpboot/8b07bcc6/kernel8.img to 10.1.1.2
EOF
}

# events: dnsmasq log lines (stdin) reduced to the DHCP/TFTP events, with
# time stamps, pids, transaction ids, the interface and the TFTP root
# normalised to the seed's.
events() {
	sed -E -n 's/^.*dnsmasq-(dhcp|tftp)\[[0-9]+\]: (.*)$/\2/p' |
		sed -E -e 's/^[0-9]+ //' -e 's/ +$//' -e "s/\($VM\)/(eth0)/" -e "s#$TFTP/#/tftpboot/#g" |
		grep -E '^DHCP(DISCOVER|OFFER|REQUEST|ACK)\(|^sent |^failed sending |^error [0-9]+ .* received from |^file .* not found for '
}

# client_events IP MAC: the events of one client, from its IP or MAC; a
# DISCOVER/OFFER pair repeated at once is the ROM retrying (it does not
# wait out dhcp-reply-delay and dnsmasq's ping of a new address): one event
client_events() {
	grep -E "( (to|for|from) $1\$)|( $2\$)" |
		awk '/^DHCPDISCOVER/ && $0 == d && prev == o { skip = 1; next }
			skip && /^DHCPOFFER/ && $0 == o { skip = 0; next }
			{ skip = 0 } /^DHCPDISCOVER/ { d = $0 } /^DHCPOFFER/ { o = $0 } { prev = $0; print }'
}

# expected_events SERIAL IP VIEW: the seed's sequence for this Pi.  After
# an "Early terminate" dnsmasq logs "failed sending" when it was waiting
# for the ACK of a full block and "sent" when the file fits in one block
# (the seed's cmdline.txt); its config.txt was bigger than ours, so that
# line follows the size of the file served (blksize 1468, the simulator's).
expected_events() {
	local mac line f
	mac=$(pi_mac "$1")
	seed_log | events | sed -e 's/8b07bcc6/'"$1"'/g' -e 's/10\.1\.1\.2/'"$2"'/g' \
		-e 's/b8:27:eb:07:bc:c6/'"$mac"'/g' |
		awk 'NR == 3 { held = $0; next } NR == 4 { print; print held; next } { print }' |
		while IFS= read -r line; do
			case $line in
			"failed sending /tftpboot/$1/"*)
				f=${line#"failed sending /tftpboot/$1/"}
				f=${f% to *}
				[ "$(stat -c %s "$3/$f")" -lt 1468 ] && line="sent ${line#failed sending }"
				;;
			esac
			printf '%s\n' "$line"
		done
}

# expected_rom SERIAL: the simulator's lines for a registered Pi, sizes
# from the worker's view
expected_rom() {
	local s=$1 v=$2 step name
	size() { stat -c %s "$v/$1"; }
	echo "sent bootcode.bin $(stat -c %s "$G/bootcode.bin")"
	echo "not-found bootsig.bin"
	echo "probe $s/start.elf tsize=$(size start.elf)"
	for step in autoboot.txt:get start.elf:probe config.txt:get recovery.elf:get start.elf:get \
		fixup.dat:get recovery.elf:get config.txt:probe config.txt:get dt-blob.bin:get \
		recovery.elf:get config.txt:probe config.txt:get bootcfg.txt:get recovery8.img:get \
		kernel8.img:probe kernel8.img:probe initramfs8:probe initramfs8:probe initramfs8:probe \
		initramfs8:get bcm2710-rpi-3-b-plus.dtb:probe bcm2710-rpi-3-b-plus.dtb:get \
		overlays/overlay_map.dtb:probe overlays/overlay_map.dtb:get config.txt:probe \
		config.txt:get overlays/vc4-kms-v3d.dtbo:probe overlays/vc4-kms-v3d.dtbo:get \
		cmdline.txt:probe cmdline.txt:get armstub8.bin:get kernel8.img:probe kernel8.img:get; do
		name=${step%%:*}
		if [ ! -e "$v/$name" ]; then
			echo "not-found $s/$name"
		elif [ "${step#*:}" = probe ]; then
			echo "probe $s/$name tsize=$(size "$name")"
		else
			echo "sent $s/$name $(size "$name")"
		fi
	done
}

# check_pi SERIAL WORKER IP RC LOG: everything a registered Pi's boot
# shows; LOG holds dnsmasq's log lines of this boot
check_pi() {
	local s=$1 w=$2 ip=$3 rc=$4 log=$5 view=$M/nfsroot/$2/boot/firmware out=$T/out-$1 f bad=0
	expect_eq "$w: bootrom exit status" 0 "$rc"
	expect_eq "$w: offer" "offer yiaddr=$ip siaddr=10.1.1.100 server-id=10.1.1.100 option66=- menu=\"Raspberry Pi Boot\"" \
		"$(grep -m1 '^offer ' "$T/rom-$s.out")"
	expect_eq "$w: TFTP server" "tftp-server 10.1.1.100" "$(grep '^tftp-server ' "$T/rom-$s.out")"
	expect_eq "$w: requests and answers in the seed's order" "$(expected_rom "$s" "$view")" \
		"$(grep -E '^(sent|not-found|probe) ' "$T/rom-$s.out")"
	cmp -s "$G/bootcode.bin" "$out/bootcode.bin" || { bad=1; fail "$w: bootcode.bin differs from the golden's"; }
	for f in start.elf fixup.dat config.txt initramfs8 bcm2710-rpi-3-b-plus.dtb overlays/overlay_map.dtb \
		overlays/vc4-kms-v3d.dtbo cmdline.txt kernel8.img; do
		cmp -s "$view/$f" "$out/$s/$f" || { bad=1; fail "$w: $f differs from $view/$f"; }
	done
	[ $bad = 0 ] && ok "$w: every file byte for byte as in the worker's view"
	expect_eq "$w: generated cmdline.txt" "$(expected_cmdline "$w")" "$(cat "$out/$s/cmdline.txt")"
	expect_eq "$w: cmdline.txt ends with one newline" "$(expected_cmdline "$w" | od -c | tail -2)" \
		"$(od -c <"$out/$s/cmdline.txt" | tail -2)"
	for f in bootsig.bin "$s/autoboot.txt" "$s/dt-blob.bin" "$s/bootcfg.txt" "$s/recovery8.img" "$s/armstub8.bin"; do
		[ ! -e "$out/$f" ] || fail "$w: $f was served"
	done
	expect_eq "$w: dnsmasq's log follows the seed's, event by event" "$(expected_events "$s" "$ip" "$view")" \
		"$(events <"$log" | client_events "$ip" "$(pi_mac "$s")")"
}

# log_since N OUT: dnsmasq's log after its first N lines, into OUT
log_since() { tail -n +"$(($1 + 1))" "$T/dnsmasq.log" >"$2"; }

rom_add_pi 8b07bcc6 || { fail "macvlan for 8b07bcc6"; finish; }
rom_add_pi 77b655ec || { fail "macvlan for 77b655ec"; finish; }
rom_add_pi 0badc0de || { fail "macvlan for 0badc0de"; finish; }

# ---- 1. worker-3 boots, as in the seed ----
n0=$(wc -l <"$T/dnsmasq.log")
rom_boot 8b07bcc6
rom_wait "$!"
rc=$?
[ $rc = 0 ] || cat "$T/rom-8b07bcc6.out"
log_since "$n0" "$T/dnsmasq-1.log"
check_pi 8b07bcc6 worker-3 10.1.1.2 $rc "$T/dnsmasq-1.log"

# ---- 2. worker-3 and worker-1 at once ----
n0=$(wc -l <"$T/dnsmasq.log")
rm -rf "$T/out-8b07bcc6"
rom_boot 8b07bcc6
p3=$!
rom_boot 77b655ec
p1=$!
rom_wait "$p3"
rc3=$?
rom_wait "$p1"
rc1=$?
log_since "$n0" "$T/dnsmasq-2.log"
check_pi 8b07bcc6 worker-3 10.1.1.2 $rc3 "$T/dnsmasq-2.log"
check_pi 77b655ec worker-1 10.1.1.1 $rc1 "$T/dnsmasq-2.log"
if grep -q 'b8:27:eb:b6:55:ec' <(events <"$T/dnsmasq-2.log" | grep -F 10.1.1.2) ||
	grep -q 'b8:27:eb:07:bc:c6' <(events <"$T/dnsmasq-2.log" | grep -F 10.1.1.1); then
	fail "a Pi was offered the other's address"
fi

# ---- 3. an unregistered Pi: bootcode.bin, then nothing under its serial,
# so the firmware falls back to the TFTP root, where there is no start.elf
n0=$(wc -l <"$T/dnsmasq.log")
rom_boot 0badc0de
rom_wait "$!"
rc=$?
log_since "$n0" "$T/dnsmasq-3.log"
expect_eq "unregistered: bootrom stops for want of start.elf (exit 4)" 4 "$rc"
ip=$(sed -n 's/^offer yiaddr=\([0-9.]*\) .*/\1/p' "$T/rom-0badc0de.out" | head -1)
case $ip in
10.1.1.1 | 10.1.1.2 | 10.1.1.7 | 10.1.1.8 | "") fail "unregistered: offered '$ip', not a free address of the range" ;;
10.1.1.[1-9] | 10.1.1.1[0-9] | 10.1.1.20) ok "unregistered: offered $ip from the range" ;;
*) fail "unregistered: offered $ip, outside 10.1.1.1-10.1.1.20" ;;
esac
expect_eq "unregistered: requests and answers" "sent bootcode.bin $(stat -c %s "$G/bootcode.bin")
not-found bootsig.bin
not-found 0badc0de/start.elf
fallback to the TFTP root
not-found autoboot.txt
not-found start.elf
not-found config.txt
not-found recovery.elf
not-found start.elf
boot failed: start.elf not found" \
	"$(grep -E '^(sent|not-found|probe|fallback|boot) ' "$T/rom-0badc0de.out")"
cmp -s "$G/bootcode.bin" "$T/out-0badc0de/bootcode.bin" && ok "unregistered: bootcode.bin as in the golden" ||
	fail "unregistered: bootcode.bin differs from the golden's"
expect_eq "unregistered: dnsmasq's log" "DHCPDISCOVER(eth0) b8:27:eb:ad:c0:de
DHCPOFFER(eth0) $ip b8:27:eb:ad:c0:de
sent /tftpboot/bootcode.bin to $ip
file /tftpboot/bootsig.bin not found for $ip
DHCPDISCOVER(eth0) b8:27:eb:ad:c0:de
DHCPOFFER(eth0) $ip b8:27:eb:ad:c0:de
file /tftpboot/0badc0de/start.elf not found for $ip
file /tftpboot/autoboot.txt not found for $ip
file /tftpboot/start.elf not found for $ip
file /tftpboot/config.txt not found for $ip
file /tftpboot/recovery.elf not found for $ip
file /tftpboot/start.elf not found for $ip" \
	"$(events <"$T/dnsmasq-3.log" | client_events "$ip" b8:27:eb:ad:c0:de)"

# ---- 4. a Pi 4 and a Pi 5 at the same time beside the Pi 3B+ ----

# eeprom_steps MODEL: the requests after the directory probe, as
# NAME:get|probe (the simulator's tables; the sources are at its top)
eeprom_steps() {
	case $1 in
	pi4) echo config.txt:get vl805.sig:get pieeprom.sig:get recover4.elf:get recovery.elf:get \
		start4.elf:get fixup4.dat:get recovery.elf:get config.txt:probe config.txt:get \
		dt-blob.bin:get recovery.elf:get config.txt:probe config.txt:get bootcfg.txt:get \
		kernel8.img:probe initramfs8:probe initramfs8:get bcm2711-rpi-4-b.dtb:probe \
		bcm2711-rpi-4-b.dtb:get overlays/overlay_map.dtb:probe overlays/overlay_map.dtb:get \
		config.txt:probe config.txt:get overlays/vc4-kms-v3d.dtbo:probe \
		overlays/vc4-kms-v3d.dtbo:get cmdline.txt:probe cmdline.txt:get armstub8-gic.bin:get \
		kernel8.img:probe kernel8.img:get ;;
	pi5) echo config.txt:get pieeprom.sig:get config.txt:probe config.txt:get \
		bcm2712-rpi-5-b.dtb:get overlays/overlay_map.dtb:get overlays/vc4-kms-v3d-pi5.dtbo:probe \
		overlays/vc4-kms-v3d-pi5.dtbo:get cmdline.txt:probe cmdline.txt:get armstub8-2712.bin:get \
		kernel_2712.img:probe kernel_2712.img:get initramfs_2712:probe initramfs_2712:get ;;
	esac
}

# expected_eeprom MODEL DIR VIEW: the simulator's lines for a board whose
# directory DIR is VIEW (sizes and absences from the view)
expected_eeprom() {
	local m=$1 d=$2 v=$3 step name
	if [ "$m" = pi4 ]; then
		echo "probe $d/start4.elf tsize=$(stat -c %s "$v/start4.elf")"
	else
		echo "probe $d/config.txt tsize=$(stat -c %s "$v/config.txt")"
		echo "probe $d/bcm2712-rpi-5-b.dtb tsize=$(stat -c %s "$v/bcm2712-rpi-5-b.dtb")"
	fi
	for step in $(eeprom_steps "$m"); do
		name=${step%%:*}
		if [ ! -e "$v/$name" ]; then
			echo "not-found $d/$name"
		elif [ "${step#*:}" = probe ]; then
			echo "probe $d/$name tsize=$(stat -c %s "$v/$name")"
		else
			echo "sent $d/$name $(stat -c %s "$v/$name")"
		fi
	done
}

# check_eeprom NAME SERIAL IP MODEL MAC DIR RC LOG: a registered Pi 4/5
check_eeprom() {
	local w=$1 s=$2 ip=$3 m=$4 mac=$5 d=$6 rc=$7 log=$8 view=$M/nfsroot/$1/boot/firmware
	local out=$T/out-$2 f n bad=0 got
	expect_eq "$w ($m): bootrom exit status" 0 "$rc"
	[ "$rc" = 0 ] || cat "$T/rom-$s.out"
	expect_eq "$w ($m): offer, then its REQUEST acknowledged" \
		"offer yiaddr=$ip siaddr=10.1.1.100 server-id=10.1.1.100 option66=- menu=\"Raspberry Pi Boot\"
ack yiaddr=$ip server-id=10.1.1.100
tftp-server 10.1.1.100" "$(grep -E '^(offer|ack|tftp-server) ' "$T/rom-$s.out")"
	expect_eq "$w ($m): requests and answers, in its directory $d/" "$(expected_eeprom "$m" "$d" "$view")" \
		"$(grep -E '^(sent|not-found|probe|fallback) ' "$T/rom-$s.out")"
	n=0
	while read -r _ f _; do
		n=$((n + 1))
		cmp -s "$view/${f#"$d"/}" "$out/$f" || { bad=1; fail "$w: $f differs from the view's ${f#"$d"/}"; }
	done < <(grep '^sent ' "$T/rom-$s.out")
	if [ $bad = 0 ] && [ $n -ge 8 ]; then
		ok "$w ($m): all $n files byte for byte as in the worker's view"
	elif [ $bad = 0 ]; then
		fail "$w ($m): only $n files received"
	fi
	expect_eq "$w ($m): its generated cmdline.txt" "$(expected_cmdline "$w")" "$(cat "$out/$d/cmdline.txt" 2>/dev/null)"
	got=$(events <"$log" | grep -E "^DHCP[A-Z]+\(eth0\) $ip $mac" | sed 's/ worker-[0-9]*$//' | uniq)
	expect_eq "$w ($m): dnsmasq's DHCP log (an EEPROM asks for its address)" "DHCPOFFER(eth0) $ip $mac
DHCPREQUEST(eth0) $ip $mac
DHCPACK(eth0) $ip $mac" "$got"
	for f in $([ "$m" = pi4 ] && echo start4.elf fixup4.dat bcm2711-rpi-4-b.dtb kernel8.img ||
		echo bcm2712-rpi-5-b.dtb kernel_2712.img initramfs_2712); do
		grep -q "sent $TFTP/$d/$f to $ip\$" "$log" || fail "$w: dnsmasq did not log sending $d/$f to $ip"
	done
}

n0=$(wc -l <"$T/dnsmasq.log")
rm -rf "$T/out-8b07bcc6"
pids=()
for pi in "${EEPROM_PIS[@]}"; do
	read -r _ s _ m mac d <<<"$pi"
	rom_add_pi "$s" "$mac" || { fail "macvlan for $s"; finish; }
	rom_boot "$s" --model "$m" --tftp-prefix "$d"
	pids+=("$!")
done
rom_boot 8b07bcc6
p3=$!
rcs=()
for p in "${pids[@]}"; do
	rom_wait "$p"
	rcs+=("$?")
done
rom_wait "$p3"
rc3=$?
log_since "$n0" "$T/dnsmasq-4.log"
check_pi 8b07bcc6 worker-3 10.1.1.2 $rc3 "$T/dnsmasq-4.log"
i=0
for pi in "${EEPROM_PIS[@]}"; do
	# shellcheck disable=SC2086 # the table's words
	check_eeprom $pi "${rcs[$i]}" "$T/dnsmasq-4.log"
	i=$((i + 1))
done

# ---- 5. an unregistered Pi 4 and Pi 5: no directory of theirs, so the Pi
# 4 drops the prefix (neither start4.elf nor start.elf in it) and the Pi 5
# too (no config.txt); the TFTP root has only bootcode.bin: each stops for
# the file it cannot do without (exit 4)
n0=$(wc -l <"$T/dnsmasq.log")
rom_add_pi 0badf00d dc:a6:32:ba:df:0d || { fail "macvlan for 0badf00d"; finish; }
rom_add_pi 0badbeef 2c:cf:67:ad:be:ef || { fail "macvlan for 0badbeef"; finish; }
rom_boot 0badf00d --model pi4
p4=$!
rom_boot 0badbeef --model pi5
p5=$!
rom_wait "$p4"
rc4=$?
rom_wait "$p5"
rc5=$?
expect_eq "unregistered Pi 4: stops for want of start4.elf (exit 4)" 4 "$rc4"
expect_eq "unregistered Pi 4: requests and answers" "not-found 0badf00d/start4.elf
not-found 0badf00d/start.elf
fallback to the TFTP root
not-found config.txt
not-found vl805.sig
not-found pieeprom.sig
not-found recover4.elf
not-found recovery.elf
not-found start4.elf
boot failed: start4.elf not found" "$(grep -E '^(sent|not-found|probe|fallback|boot) ' "$T/rom-0badf00d.out")"
expect_eq "unregistered Pi 5: stops for want of its device tree (exit 4)" 4 "$rc5"
expect_eq "unregistered Pi 5: requests and answers" "not-found 0badbeef/config.txt
fallback to the TFTP root
not-found config.txt
not-found pieeprom.sig
not-found config.txt
not-found config.txt
not-found bcm2712-rpi-5-b.dtb
boot failed: bcm2712-rpi-5-b.dtb not found" "$(grep -E '^(sent|not-found|probe|fallback|boot) ' "$T/rom-0badbeef.out")"
for s in 0badf00d 0badbeef; do
	ip=$(sed -n 's/^ack yiaddr=\([0-9.]*\) .*/\1/p' "$T/rom-$s.out")
	case $ip in
	10.1.1.[1-9] | 10.1.1.1[0-9] | 10.1.1.20) ;;
	*) fail "unregistered $s: acknowledged '$ip', not an address of the range" ;;
	esac
done

# ---- 6. a Pi 5 kernel over 65535 blocks of 1468 bytes: the Pi 5's
# bootloader does not roll the TFTP block number over (rpi-eeprom #720),
# so worker-8 cannot boot it; the simulator stops at the size probe
K5=$M/nfsroot/worker-8/boot/firmware/kernel_2712.img
truncate -s $((65535 * 1468 + 1)) "$K5" || fail "cannot grow worker-8's kernel"
rm -rf "$T/out-1a2b3c4d"
read -r _ s _ m _ d <<<"${EEPROM_PIS[1]}"
rom_boot "$s" --model "$m" --tftp-prefix "$d"
rom_wait "$!"
rc=$?
expect_eq "Pi 5 with a kernel of 65535 blocks + 1 byte: no boot (exit 1)" 1 "$rc"
grep -q "tftp '$d/kernel_2712.img': $((65535 * 1468 + 1)) bytes are more than 65535 blocks of 1468: a Pi 5 cannot load it" \
	"$T/rom-$s.out" && ok "Pi 5: says the kernel is too big for its TFTP" ||
	{ cat "$T/rom-$s.out"; fail "Pi 5: no word about the kernel's size"; }

# dnsmasq served only inside the master namespace, and is still up
kill -0 "$DNSMASQ_PID" 2>/dev/null && ok "dnsmasq still running" || fail "dnsmasq died"
nsenter --net="/run/netns/$NSM" ss -H -lunp 2>/dev/null | grep -q ':69 ' && ok "TFTP listens in $NSM" ||
	fail "no TFTP socket in $NSM"
finish
