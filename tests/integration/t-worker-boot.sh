#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-worker-boot.sh - the proof that pifs does its job: Pi workers boot from
# one golden with no copies, each keeps its own state, and snapshot/reset
# move a real worker between states.
#
#  1. The minimal golden (tools/golden-build.sh, cached), `pifs init`,
#     worker-3 (8b07bcc6) and worker-1 (77b655ec), mounted.
#  2. Each Pi's boot files are fetched the way its boot ROM does (the
#     simulator through real dnsmasq serving MNT/tftpboot), and QEMU boots
#     exactly those bytes: the fetched kernel8.img, initramfs8 and
#     cmdline.txt (plus console=ttyAMA0 panic=-1).
#  3. The guests boot on the seed's boot LAN (lib-boot.sh start_boot_lan):
#     a bridge with the master's 10.1.1.100, a tap per guest, each
#     worker's NIC with its registered MAC, real dnsmasq configured by
#     `pifs dnsmasq-conf` and NFS-Ganesha with the exports `pifs exports`
#     prints, each root open to its worker's address only.  worker-3 gets
#     its registered address by MAC (its console and dnsmasq's log say
#     so), mounts /nfsroot/worker-3 as that address, runs the golden's
#     init, checks its hostname, writes a marker, creates a user, tries to
#     give a file a capability, and powers off.  Everything it printed is
#     checked.  Beside it a stranger (a MAC that is not registered) boots
#     worker-3's very bytes: dnsmasq gives it a pool address and ganesha
#     refuses it worker-3's root.
#  4. On the master: the marker is in worker-3's view and delta only, the
#     golden verifies clean.  Snapshot; worker-1 and worker-3 boot at the
#     same time and each sees only its own state; reset --golden: the
#     marker is gone at the next boot; reset --to the snapshot: it is back.
#
# File capabilities: the Linux NFS client carries no security.* xattrs
# (NFSv3 has none; NFSv4.2 only user.*), so `setcap` on any NFS root fails
# with "Operation not supported", pifs or not.  The test checks that the
# guest gets exactly that error and that nothing half-written is left, then
# gives the file its capability from the master (the README's way) and
# checks it survives snapshot and reset.
#
# Network: TESTBED.md's rules.  The boot ROM talks to dnsmasq only inside
# lib-rom.sh's two namespaces; the boot LAN (bridge, taps, dnsmasq,
# ganesha, the guests) exists only inside lib-boot.sh's namespace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-boot.sh"
. "$(dirname "$0")/lib-rom.sh"

boot_setup
trap 'rom_cleanup; boot_cleanup' EXIT
need_boot_tools
rom_net_up || finish

t0=$(date +%s)
golden_cached "$T/golden" || finish
echo "note: golden ready in $(($(date +%s) - t0)) s"
"$PIFS" init "$T/store" --golden "$T/golden" >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "pifs init"; finish; }
grep -i warn "$T/init.log" && fail "pifs init warns about the built golden"
"$PIFS" --store "$T/store" worker add worker-3 --serial 8b07bcc6 >/dev/null &&
	"$PIFS" --store "$T/store" worker add worker-1 --serial 77b655ec >/dev/null ||
	{ fail "pifs worker add"; finish; }
M=$T/mnt
mount_pifs "$T/store" "$M"
W3=$M/nfsroot/worker-3
W1=$M/nfsroot/worker-1
chmod 711 "$T" # dnsmasq drops root and must reach the mount

# ---- 2. the boot files, fetched as the boot ROM fetches them ----
rom_dnsmasq "$T/store" "$M/tftpboot" || finish
for s in 8b07bcc6 77b655ec; do rom_add_pi "$s" || { fail "macvlan for $s"; finish; }; done
rom_boot 8b07bcc6; p3=$!
rom_boot 77b655ec; p1=$!
rom_wait "$p3"; r3=$?
rom_wait "$p1"; r1=$?
expect_eq "boot ROM of worker-3 got as far as kernel8.img" 0 "$r3"
expect_eq "boot ROM of worker-1 got as far as kernel8.img" 0 "$r1"
for wk in worker-3:8b07bcc6 worker-1:77b655ec; do
	w=${wk%%:*} s=${wk#*:}
	for f in kernel8.img initramfs8 cmdline.txt; do
		cmp -s "$T/out-$s/$s/$f" "$M/nfsroot/$w/boot/firmware/$f" ||
			fail "$w: the $f fetched over TFTP differs from its view"
	done
done
expect_eq "worker-3's cmdline.txt mounts its own NFS root" \
	"console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=10.1.1.100:/nfsroot/worker-3,vers=3,tcp rw ip=dhcp rootwait" \
	"$(cat "$T/out-8b07bcc6/8b07bcc6/cmdline.txt")"
rom_cleanup # the Pis have their files; the ROM's network is not needed any more
mv "$T/dnsmasq.log" "$T/dnsmasq-rom.log" # the boot LAN's dnsmasq logs anew
[ "$NFAIL" -gt 0 ] && finish
# the addresses the registry gives them (dnsmasq-conf, exports)
IP3=$("$PIFS" --store "$T/store" worker list | awk '$1 == "worker-3" { print $4 }')
IP1=$("$PIFS" --store "$T/store" worker list | awk '$1 == "worker-1" { print $4 }')
[[ $IP3 =~ ^10\.1\.1\.[0-9]+$ && $IP1 =~ ^10\.1\.1\.[0-9]+$ ]] || { fail "worker list: addresses '$IP3' '$IP1'"; finish; }

# boot NAME SERIAL [MAC]: boot the bytes fetched for SERIAL (in the
# background), the NIC with MAC (default: the Pi's, as registered)
boot() {
	local o=$T/out-$2/$2
	boot_guest "$1" "$o/kernel8.img" "$o/initramfs8" "$o/cmdline.txt" "$T/console-$1-$ROUND.log" 400 \
		"${3:-$(pi_mac "$2")}"
}
# console NAME: the guest's console of this round without CRs
console() { tr -d '\r' <"$T/console-$1-$ROUND.log"; }
# said NAME WHAT PATTERN: the console of NAME has a line matching PATTERN
said() {
	if console "$1" | grep -Eq -- "$3"; then ok "$1: $2"; else fail "$1: $2: no line matching '$3' on the console"; fi
}
# clean NAME: no error, panic or oops on the console
clean() {
	if console "$1" | grep -Eq 'pifs-initramfs: error|Kernel panic|Oops|BUG:|Stale file handle|Input/output error'; then
		console "$1" | grep -E 'pifs-initramfs: error|Kernel panic|Oops|BUG:|Stale file handle|Input/output error' | head -5
		fail "$1: the console shows an error (round $ROUND)"
	fi
}
# job WORKER SCRIPT: give WORKER's next boot a job (/etc/local.d/, as the
# golden's rcS runs it), written from the master into its view
job() {
	mkdir -p "$M/nfsroot/$1/etc/local.d"
	cat >"$M/nfsroot/$1/etc/local.d/pifs-test.start"
	chmod 755 "$M/nfsroot/$1/etc/local.d/pifs-test.start"
}
# A job that reports what the worker sees, then powers off.
REPORT='#!/bin/sh
echo "pifs-test: hostname $(hostname)"
echo "pifs-test: addr $(ip -4 -o addr show scope global | awk "{ print \$2, \$4 }")"
echo "pifs-test: root $(grep " / " /proc/mounts | cut -d" " -f1,3)"
echo "pifs-test: marker $(cat /root/marker 2>/dev/null || echo none)"
echo "pifs-test: alice $(grep -c "^alice:" /etc/passwd)"
echo "pifs-test: done"
poweroff -f
'

start_boot_lan "$T/store" "$M" || finish

# ---- 3. worker-3's first boot: its job ----
ROUND=1
job worker-3 <<'EOF'
#!/bin/sh
echo "pifs-test: hostname $(hostname)"
echo "pifs-test: addr $(ip -4 -o addr show scope global | awk '{ print $2, $4 }')"
echo "pifs-test: root $(grep " / " /proc/mounts | cut -d" " -f1,3)"
echo "booted $(hostname) from pifs" >/root/marker && echo "pifs-test: marker written"
# a user, as useradd makes one (the busybox of Debian has no adduser)
echo "alice:x:1001:1001:Alice:/home/alice:/bin/sh" >>/etc/passwd
echo "alice:x:1001:" >>/etc/group
echo "alice:!:20000:0:99999:7:::" >>/etc/shadow
mkdir -m 750 /home/alice && chown 1001:1001 /home/alice
echo "pifs-test: user alice uid $(id -u alice) home $(ls -d /home/alice)"
mkdir -p /usr/local/bin
cp /bin/busybox /usr/local/bin/pinger
if msg=$(setcap cap_net_raw+ep /usr/local/bin/pinger 2>&1); then
	echo "pifs-test: setcap ok"
else
	echo "pifs-test: setcap failed: $msg"
fi
echo "pifs-test: pinger $(stat -c '%s %a' /usr/local/bin/pinger)"
sync
echo "pifs-test: done"
poweroff -f
EOF
t0=$(date +%s)
boot worker-3 8b07bcc6
# A stranger on the LAN: a Pi whose MAC is not registered (serial
# 0badc0de) boots worker-3's very bytes.  Stopped once refused.
SMAC=$(pi_mac 0badc0de)
boot stranger 8b07bcc6 "$SMAC"
if wait_console stranger 'pifs-initramfs: (mount .* failed, try 1 of|mounted |error: )'; then
	said stranger "got an address from dnsmasq" '^pifs-initramfs: eth0: 10\.1\.1\.[0-9]+/24, .*DHCP server 10\.1\.1\.100$'
	SIP=$(console stranger | sed -n 's|^pifs-initramfs: eth0: \([0-9.]*\)/24, .*|\1|p' | head -1)
	[ -n "$SIP" ] && [ "$SIP" != "$IP3" ] && [ "$SIP" != "$IP1" ] &&
		ok "stranger: a pool address ($SIP), no worker's" || fail "stranger: address '$SIP' (worker-3 $IP3, worker-1 $IP1)"
	said stranger "worker-3's root refused by the export" \
		'^pifs-initramfs: mount 10\.1\.1\.100:/nfsroot/worker-3 .* failed, try 1 of [0-9]+: .*(Permission denied|ermission denied|ccess denied)'
	console stranger | grep -q '^pifs-initramfs: mounted ' && fail "stranger: mounted worker-3's root"
else
	fail "stranger: no NFS mount attempt on its console"
fi
console stranger | grep -E '^pifs-initramfs: (eth0: [0-9]|mount .* failed, try 1 )' | sed 's/^/note: stranger: /'
stop_guest stranger
grep -Eq "DHCPACK\($LAN_BR\) ${SIP//./\\.} $SMAC( |\$)" "$T/dnsmasq.log" &&
	ok "dnsmasq's log: the stranger's lease ($SIP $SMAC)" || fail "dnsmasq's log: no lease of $SIP to $SMAC"
wait_guest worker-3; rc=$?
echo "note: worker-3 (and the stranger) booted and powered off in $(($(date +%s) - t0)) s"
expect_eq "worker-3 powered off by itself" 0 "$rc"
said worker-3 "DHCP gave it its registered address" \
	"^pifs-initramfs: eth0: ${IP3//./\\.}/24, .*DHCP server 10\\.1\\.1\\.100\$"
said worker-3 "its NIC has that address" "^pifs-test: addr eth0 ${IP3//./\\.}/24\$"
M3=$(pi_mac 8b07bcc6)
grep -Eq "DHCPACK\($LAN_BR\) ${IP3//./\\.} $M3 worker-3$" "$T/dnsmasq.log" &&
	ok "dnsmasq's log: worker-3's lease ($IP3 $M3)" || fail "dnsmasq's log: no lease of $IP3 to $M3 (worker-3)"
# On the LAN, as the network rules have it: DHCP, ARP, NFS to 10.1.1.100,
# IPv6 link-local multicast (the kernel's solicitations), nothing else.
# ICMP to the master only as an answer: an echo reply (dnsmasq pings an
# address before it offers it, RFC 2131 4.4.1, and a guest that holds it
# answers) or an unreachable (a packet to a port it has closed); never an
# echo request of its own.
guest_destinations worker-3 >"$T/dest" || fail "cannot read worker-3's traffic dump"
echo "note: worker-3 sent to: $(tr '\n' ',' <"$T/dest")"
grep -q '^ipv4 10\.1\.1\.100 tcp/2049$' "$T/dest" || fail "worker-3: no NFS traffic in its dump"
expect_eq "worker-3 sent nothing but DHCP, ARP and NFS to 10.1.1.100" "" \
	"$(grep -vE '^(arp|ipv4 255\.255\.255\.255 udp/67|ipv4 10\.1\.1\.100 (icmp/(0|3)|udp/67|(udp|tcp)/(111|2049|20048))|ipv6 ff02:.*)$' "$T/dest")"
said worker-3 "initramfs mounts its own root" '^pifs-initramfs: mounting 10\.1\.1\.100:/nfsroot/worker-3$'
said worker-3 "the golden's init came up as worker-3" '^pifs-golden: up as worker-3$'
said worker-3 "hostname from the generated /etc/hostname" '^pifs-test: hostname worker-3$'
said worker-3 "root is NFS from the master" '^pifs-test: root 10\.1\.1\.100:/nfsroot/worker-3 nfs$'
said worker-3 "marker written" '^pifs-test: marker written$'
said worker-3 "user created" '^pifs-test: user alice uid 1001 home /home/alice$'
said worker-3 "setcap fails as on any NFS root" '^pifs-test: setcap failed: .*(Operation not supported|Not supported)'
said worker-3 "the file itself was installed whole" "^pifs-test: pinger $(stat -c %s "$T/golden/bin/busybox") 755\$"
said worker-3 "job finished" '^pifs-test: done$'
clean worker-3

# ---- 4. on the master ----
expect_eq "marker in worker-3's view" "booted worker-3 from pifs" "$(cat "$W3/root/marker" 2>/dev/null)"
expect_eq "marker in worker-3's delta" "booted worker-3 from pifs" "$(cat "$T/store/deltas/worker-3/root/marker" 2>/dev/null)"
[ -e "$W1/root/marker" ] && fail "worker-3's marker shows in worker-1"
[ -e "$T/golden/root/marker" ] && fail "worker-3's marker in the golden"
expect_eq "alice in worker-3's passwd" "alice:x:1001:1001:Alice:/home/alice:/bin/sh" "$(grep '^alice:' "$W3/etc/passwd")"
expect_eq "alice's home, owned by alice" "1001:1001 directory" "$(stat -c '%u:%g %F' "$W3/home/alice" 2>/dev/null)"
grep -q '^alice:' "$W1/etc/passwd" && fail "alice shows in worker-1's passwd"
expect_eq "no capability was half-set" "" "$(getfattr -n security.capability --only-values "$W3/usr/local/bin/pinger" 2>/dev/null)"
"$PIFS" --store "$T/store" verify >"$T/verify.log" 2>&1 || { cat "$T/verify.log"; fail "golden changed by a booted worker"; }
# What NFS cannot carry, the master can: the capability, set through the
# mount, lands in worker-3's delta and goes into the snapshot.
setcap cap_net_raw+ep "$W3/usr/local/bin/pinger" || fail "setcap on the master through the view"
expect_eq "capability in worker-3's delta" "$T/store/deltas/worker-3/usr/local/bin/pinger cap_net_raw=ep" \
	"$(getcap "$T/store/deltas/worker-3/usr/local/bin/pinger")"

# snapshot, then both workers boot at once with a job that reports
job worker-3 <<<"$REPORT"
job worker-1 <<<"$REPORT"
SNAP=$("$PIFS" --store "$T/store" snapshot worker-3 -m "after first boot" 2>&1) || fail "snapshot worker-3: $SNAP"
SNAP=$(echo "$SNAP" | tail -1)
ROUND=2
t0=$(date +%s)
boot worker-3 8b07bcc6
boot worker-1 77b655ec
wait_guest worker-3; rc3=$?
wait_guest worker-1; rc1=$?
echo "note: two workers at once in $(($(date +%s) - t0)) s"
expect_eq "worker-3 (with worker-1) powered off" 0 "$rc3"
expect_eq "worker-1 (with worker-3) powered off" 0 "$rc1"
said worker-3 "sees its marker" '^pifs-test: marker booted worker-3 from pifs$'
said worker-3 "sees its user" '^pifs-test: alice 1$'
said worker-1 "is worker-1" '^pifs-test: hostname worker-1$'
said worker-1 "has its registered address" "^pifs-test: addr eth0 ${IP1//./\\.}/24\$"
said worker-3 "has its registered address" "^pifs-test: addr eth0 ${IP3//./\\.}/24\$"
said worker-1 "root is its own NFS root" '^pifs-test: root 10\.1\.1\.100:/nfsroot/worker-1 nfs$'
said worker-1 "does not see worker-3's marker" '^pifs-test: marker none$'
said worker-1 "does not see worker-3's user" '^pifs-test: alice 0$'
clean worker-3
clean worker-1

# reset to the bare golden: the marker is gone at the next boot
"$PIFS" --store "$T/store" reset worker-3 --golden --force >"$T/reset.log" 2>&1 || { cat "$T/reset.log"; fail "reset worker-3 --golden"; }
[ -e "$W3/root/marker" ] && fail "marker still in the view after reset --golden"
job worker-3 <<<"$REPORT"
ROUND=3
boot worker-3 8b07bcc6
wait_guest worker-3; rc=$?
expect_eq "worker-3 after reset --golden powered off" 0 "$rc"
said worker-3 "after reset --golden: still worker-3" '^pifs-test: hostname worker-3$'
said worker-3 "after reset --golden: marker gone" '^pifs-test: marker none$'
said worker-3 "after reset --golden: user gone" '^pifs-test: alice 0$'
clean worker-3

# back to the snapshot: the marker is back
"$PIFS" --store "$T/store" reset worker-3 --to "$SNAP" --force >"$T/reset.log" 2>&1 || { cat "$T/reset.log"; fail "reset worker-3 --to $SNAP"; }
ROUND=4
boot worker-3 8b07bcc6
wait_guest worker-3; rc=$?
expect_eq "worker-3 after reset --to powered off" 0 "$rc"
said worker-3 "after reset --to: marker back" '^pifs-test: marker booted worker-3 from pifs$'
said worker-3 "after reset --to: user back" '^pifs-test: alice 1$'
expect_eq "after reset --to: the capability is back" "$W3/usr/local/bin/pinger cap_net_raw=ep" "$(getcap "$W3/usr/local/bin/pinger")"
clean worker-3
"$PIFS" --store "$T/store" verify >/dev/null 2>&1 || fail "golden changed after four boots"
"$PIFS" --store "$T/store" fsck >"$T/fsck.log" 2>&1 || { cat "$T/fsck.log"; fail "pifs fsck after the boots"; }

stop_nfs
if [ "$NFAIL" -gt 0 ]; then
	for f in "$T"/console-*.log; do echo "--- $(basename "$f") (tail)"; tr -d '\r' <"$f" | tail -25; done
fi
finish
