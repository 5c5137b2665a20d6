#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# mkgolden.sh DIR - write a small Raspberry-Pi-OS-shaped tree into DIR: the
# boot files the Pi firmware asks for under boot/firmware/, a root with
# every hard case a real image has (setuid su, ping with a file capability,
# hard links, symlinks, device nodes, a fifo, a sticky dir, a sparse file,
# long and non-ASCII names, an empty directory).  Used by the demo and the
# tests; the real image builder comes with the golden-image issue.
set -eu
d=${1:?usage: mkgolden.sh DIR}
[ "$(id -u)" = 0 ] || { echo "mkgolden.sh: must run as root (device nodes, owners)" >&2; exit 1; }
mkdir -p "$d"
cd "$d"
mkdir -p boot/firmware/overlays etc/apt usr/bin usr/sbin usr/lib/os usr/share/doc \
	var/lib/dpkg var/log home/pi root dev run tmp var/tmp srv/empty
chmod 1777 tmp var/tmp
chmod 700 root
chown 1000:1000 home/pi

# Boot files and binaries: random content of realistic sizes.
blob() { head -c "$2" /dev/urandom > "$3"; }
blob bootcode 52480 boot/firmware/bootcode.bin
blob start 2975744 boot/firmware/start.elf
blob fixup 7314 boot/firmware/fixup.dat
blob kernel 8388608 boot/firmware/kernel8.img
blob initramfs 1048576 boot/firmware/initramfs8
blob dtb 32742 boot/firmware/bcm2710-rpi-3-b-plus.dtb
blob omap 5340 boot/firmware/overlays/overlay_map.dtb
blob vc4 3913 boot/firmware/overlays/vc4-kms-v3d.dtbo
# Stand-ins (random bytes, realistic names and sizes) for the Pi 4 and Pi 5
# boot files a Raspberry Pi OS image carries, so the boot-ROM simulator's
# Pi 4 and Pi 5 find what they ask for: the Pi 4's firmware and device
# tree; the Pi 5's device tree, kernel, initramfs and display overlay (its
# firmware is in its EEPROM).  Nothing here boots a real board.
blob start4 2252800 boot/firmware/start4.elf
blob fixup4 5399 boot/firmware/fixup4.dat
blob dtb4 56393 boot/firmware/bcm2711-rpi-4-b.dtb
blob dtb5 79045 boot/firmware/bcm2712-rpi-5-b.dtb
blob kernel5 9437184 boot/firmware/kernel_2712.img
blob initramfs5 1179648 boot/firmware/initramfs_2712
blob vc4p5 4210 boot/firmware/overlays/vc4-kms-v3d-pi5.dtbo
cat > boot/firmware/config.txt <<'CFG'
# pifs demo golden
arm_64bit=1
kernel=kernel8.img
initramfs initramfs8 followkernel
dtoverlay=vc4-kms-v3d
CFG
echo 'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait' \
	> boot/firmware/cmdline.txt

echo raspberrypi > etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n' > etc/hosts
cat > etc/fstab <<'FST'
proc            /proc           proc    defaults          0       0
PARTUUID=4e639091-01  /boot/firmware  vfat    defaults          0       2
PARTUUID=4e639091-02  /               ext4    defaults,noatime  0       1
FST
printf 'root:x:0:0:root:/root:/bin/bash\npi:x:1000:1000:,,,:/home/pi:/bin/bash\n' > etc/passwd
printf 'root:*:19000:0:99999:7:::\npi:$y$j9T$demo:19000:0:99999:7:::\n' > etc/shadow
chmod 640 etc/shadow; chown 0:42 etc/shadow
echo 'Welcome to the pifs demo golden image.' > etc/motd
echo 'deb http://deb.debian.org/debian bookworm main' > etc/apt/sources.list
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n' > usr/lib/os/os-release
ln -s ../usr/lib/os/os-release etc/os-release

blob bash 1234567 usr/bin/bash
blob su 72000 usr/bin/su; chmod 4755 usr/bin/su
blob ping 90000 usr/bin/ping; chmod 755 usr/bin/ping
setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 usr/bin/ping
blob perl 3600000 usr/bin/perl; ln usr/bin/perl usr/bin/perl5.36.0
setfattr -n user.pifs-demo -v golden usr/bin/perl
ln -s bash usr/bin/sh
ln -s usr/bin bin; ln -s usr/lib lib; ln -s usr/sbin sbin
for i in $(seq 1 40); do
	mkdir -p "usr/share/doc/pkg$i"
	printf 'Copyright %d The pkg%d authors\nLicense: GPL-2+\n' "$i" "$i" > "usr/share/doc/pkg$i/copyright"
done
printf 'Package: pifs-demo\nStatus: install ok installed\n' > var/lib/dpkg/status
: > var/log/syslog; chmod 640 var/log/syslog
mknod dev/null c 1 3; chmod 666 dev/null
mknod dev/console c 5 1; chmod 600 dev/console
mknod dev/mmcblk0 b 179 0; chmod 660 dev/mmcblk0; chown 0:6 dev/mmcblk0
mkfifo run/initctl; chmod 600 run/initctl
truncate -s 5G var/lib/sparse.img
printf 'middle' | dd of=var/lib/sparse.img bs=1 seek=$((1 << 30)) conv=notrunc status=none
echo 'non-ascii name' > "home/pi/$(printf 'caf\xc3\xa9 \xe2\x98\x95.txt')"
echo 'long name' > "home/pi/$(printf 'n%.0s' $(seq 1 255))"
echo 'hello from the golden image' > home/pi/hello.txt; chown 1000:1000 home/pi/hello.txt
touch -d '2025-05-13 10:00:00.123456789' etc/motd boot/firmware/config.txt
