#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-golden-boot.sh - the golden tools/golden-build.sh makes really boots:
# a plain copy of the minimal golden, named worker-3, is exported by
# NFS-Ganesha on 127.0.0.1 and a QEMU arm64 guest boots the golden's
# kernel8.img and initramfs8 with the worker cmdline.  The initramfs loads
# its modules, DHCPs, mounts 10.1.1.100:/nfsroot/worker-3 over NFSv3 and
# switch_roots; busybox init runs rcS, which runs the worker's job from
# /etc/local.d/.  Checked: the console lines of each step, the hostname,
# the job's output; on the host, the files the guest wrote (content,
# owner, mode), the busybox links against the guest's `busybox --list`,
# the dynamic libc/libcap userland (getcap ran).  At the same time a
# second guest is given a path that is not exported: its initramfs must
# say so and power off by itself, within its bound.
#
# Network: ganesha, rpcbind and both guests in a network namespace made
# by lib-boot.sh (nothing but lo); each guest's own QEMU user network
# (10.1.1.0/24, 10.1.1.100 = the namespace's loopback).  The guests'
# traffic is recorded (filter-dump) and must be DHCP to QEMU and NFS to
# 10.1.1.100 only.
# Needs: qemu-system-arm, nfs-ganesha, nfs-ganesha-vfs, rpcbind,
# libnfs-utils, cpio, kmod, debian-archive-keyring, and the Debian
# archive (first run; the golden is cached in $PIFS_CACHE, default
# /var/cache/pifs).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-boot.sh"

boot_setup
need_boot_tools

t0=$(date +%s)
golden_cached "$T/worker-3" || finish
echo "note: golden ready in $(($(date +%s) - t0)) s"
G=$GOLDEN_CACHED
W=$T/worker-3
if [ ! -f "$G/boot/firmware/kernel8.img" ] || [ ! -f "$G/boot/firmware/initramfs8" ]; then
	fail "the golden has no boot/firmware/kernel8.img or initramfs8"
	finish
fi

# The worker: its name, and a job that shows the userland works, writes
# files as root and as pi, and powers off.
echo worker-3 >"$W/etc/hostname"
cat >"$W/etc/local.d/test.start" <<'EOF'
#!/bin/sh
echo "worker-test: hostname $(hostname)"
echo "written by $(hostname)" >/root/from-guest
echo "pi's file" >/home/pi/from-pi
chown 1000:1000 /home/pi/from-pi
chmod 640 /home/pi/from-pi
busybox --list >/root/applets
if getcap /sbin/getcap >/dev/null 2>&1; then echo "worker-test: getcap ran"; fi
echo "worker-test: uname $(uname -m) $(uname -r)"
sync
echo "worker-test: done"
poweroff -f
EOF
chmod 755 "$W/etc/local.d/test.start"
mkdir -p "$T/not-exported"

start_nfs "$W" || finish

echo 'root=/dev/nfs nfsroot=10.1.1.100:/nfsroot/worker-3,vers=3,tcp rw ip=dhcp rootwait' >"$T/cmdline-3"
echo 'root=/dev/nfs nfsroot=10.1.1.100:/nfsroot/nope,vers=3,tcp rw ip=dhcp rootwait' >"$T/cmdline-bad"
t0=$(date +%s)
boot_guest worker-3 "$G/boot/firmware/kernel8.img" "$G/boot/firmware/initramfs8" "$T/cmdline-3" "$T/console-3.log" 400
boot_guest bad "$G/boot/firmware/kernel8.img" "$G/boot/firmware/initramfs8" "$T/cmdline-bad" "$T/console-bad.log" 400
wait_guest worker-3
rc=$?
t3=$(($(date +%s) - t0))
wait_guest bad
rcb=$?
tb=$(($(date +%s) - t0))
echo "note: worker-3 powered off after $t3 s, the bad guest after $tb s"
expect_eq "worker-3: QEMU exit status" 0 "$rc"
expect_eq "bad guest: QEMU exit status" 0 "$rcb"

# console_has NAME LOG PATTERN: the console shows a line matching PATTERN
console_has() {
	if grep -Eq -- "$3" "$2"; then ok "$1"; else fail "$1: no line matching '$3' on the console"; fi
}
C=$T/console-3.log
tr -d '\r' <"$C" >"$C.txt"
C=$C.txt
console_has "initramfs: modules loaded" "$C" '^pifs-initramfs: loaded modules: virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci .* nfsv3( |$)'
console_has "initramfs: DHCP lease from QEMU" "$C" '^pifs-initramfs: eth0: 10\.1\.1\.15[0-9]/24, gateway 10\.1\.1\.100, DHCP server 10\.1\.1\.100$'
console_has "initramfs: mounting the worker's root" "$C" '^pifs-initramfs: mounting 10\.1\.1\.100:/nfsroot/worker-3$'
console_has "initramfs: switch_root" "$C" '^pifs-initramfs: switching to the NFS root, running /sbin/init$'
console_has "rcS: up with the worker's hostname" "$C" '^pifs-golden: up as worker-3$'
console_has "rcS ran the job" "$C" '^pifs-golden: running /etc/local.d/test.start$'
console_has "the job saw its hostname" "$C" '^worker-test: hostname worker-3$'
console_has "the dynamic userland works (getcap)" "$C" '^worker-test: getcap ran$'
console_has "an arm64 guest on the golden's kernel" "$C" "^worker-test: uname aarch64 $(ls "$G/lib/modules")\$"
console_has "the job finished" "$C" '^worker-test: done$'
if grep -Eq 'pifs-initramfs: error|Kernel panic|Oops|BUG:' "$C"; then
	grep -E 'pifs-initramfs: error|Kernel panic|Oops|BUG:' "$C" | head -5
	fail "worker-3's console shows an error"
fi

# What the guest wrote, seen on the host in the exported directory
expect_eq "guest's file as root: content" "written by worker-3" "$(cat "$W/root/from-guest" 2>/dev/null)"
expect_eq "guest's file as root: owner, mode" "0:0 644" "$(stat -c '%u:%g %a' "$W/root/from-guest" 2>/dev/null)"
expect_eq "pi's file: content" "pi's file" "$(cat "$W/home/pi/from-pi" 2>/dev/null)"
expect_eq "pi's file: owner, mode" "1000:1000 640" "$(stat -c '%u:%g %a' "$W/home/pi/from-pi" 2>/dev/null)"
# the applet links the build derived without running busybox, against
# what the guest's busybox says (less busybox and linuxrc, not linked)
expect_eq "busybox links = the guest's busybox --list" \
	"$(grep -vxE 'busybox|linuxrc' "$W/root/applets" 2>/dev/null | LC_ALL=C sort)" \
	"$(cd "$W" && while read -r a; do
		if { [ -L "usr/bin/$a" ] && [ "$(readlink "usr/bin/$a")" = busybox ]; } ||
			{ [ -L "usr/sbin/$a" ] && [ "$(readlink "usr/sbin/$a")" = ../bin/busybox ]; }; then
			echo "$a"
		fi
	done <usr/lib/pifs-golden-applets | LC_ALL=C sort)"

# The guest given a path that is not exported
B=$T/console-bad.log
tr -d '\r' <"$B" >"$B.txt"
B=$B.txt
console_has "bad path: mount attempted" "$B" '^pifs-initramfs: mounting 10\.1\.1\.100:/nfsroot/nope$'
console_has "bad path: a clear error" "$B" '^pifs-initramfs: error: cannot mount 10\.1\.1\.100:/nfsroot/nope: '
console_has "bad path: powered off" "$B" '^pifs-initramfs: powering off$'
if grep -q 'pifs-golden: up' "$B"; then fail "bad path: the guest came up"; fi
if [ "$tb" -lt 400 ]; then ok "bad path: the guest ended by itself ($tb s)"; else fail "bad path: guest needed $tb s"; fi

# The network rules: the guests sent only DHCP (to QEMU), ARP, and NFS
# (rpcbind, NFS, mountd over TCP) to 10.1.1.100; IPv6 is link-local
# multicast only (the guest kernel's router and listener solicitations).
for g in worker-3 bad; do
	guest_destinations "$g" >"$T/dest-$g" || fail "$g: cannot read its traffic dump"
	echo "note: $g sent to: $(tr '\n' ',' <"$T/dest-$g")"
	grep -q '^ipv4 10\.1\.1\.100 tcp/2049$' "$T/dest-$g" || [ "$g" = bad ] || fail "$g: no NFS traffic in its dump"
	bad=$(grep -vE '^(arp|ipv4 255\.255\.255\.255 udp/67|ipv4 10\.1\.1\.100 (udp/67|tcp/(111|2049|20048))|ipv6 ff02:.*)$' "$T/dest-$g")
	expect_eq "$g: sent nothing but DHCP, ARP and NFS to 10.1.1.100" "" "$bad"
done

stop_nfs
finish
