#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The boot path's file view: tftpboot/<serial>/ IS the worker's
# /boot/firmware (same files, same delta, changes visible at once),
# read-only, showing only regular files and directories; bootcode.bin at
# the root; unregistered serials absent and logged once; and the generated
# identity files (cmdline.txt, hostname, hosts, fstab, machine-id), which a
# worker's own edit replaces for good.
. "$(dirname "$0")/lib.sh"
setup
make_store --master 10.1.1.100
M=$T/mnt
mount_pifs "$T/store" "$M"
W3=$M/nfsroot/worker-3
W1=$M/nfsroot/worker-1
TB=$M/tftpboot

expect_eq "tftpboot lists bootcode.bin and the registered serials" "77b655ec 8b07bcc6 bootcode.bin" "$(ls "$TB" | tr '\n' ' ' | sed 's/ $//')"
cmp -s "$T/golden/boot/firmware/bootcode.bin" "$TB/bootcode.bin" && ok "bootcode.bin at the root is the golden's" || fail "bootcode.bin differs"
for f in start.elf fixup.dat kernel8.img initramfs8 config.txt bcm2710-rpi-3-b-plus.dtb overlays/overlay_map.dtb overlays/vc4-kms-v3d.dtbo; do
	cmp -s "$W3/boot/firmware/$f" "$TB/8b07bcc6/$f" || fail "tftpboot/8b07bcc6/$f differs from worker-3's boot/firmware"
done
ok "tftpboot/8b07bcc6 serves worker-3's boot files"

# Generated identity.
expect_eq "cmdline.txt generated for worker-3" \
	"console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=10.1.1.100:/nfsroot/worker-3,vers=3,tcp rw ip=dhcp rootwait" \
	"$(cat "$TB/8b07bcc6/cmdline.txt")"
expect_eq "same file through nfsroot" "$(cat "$TB/8b07bcc6/cmdline.txt")" "$(cat "$W3/boot/firmware/cmdline.txt")"
expect_eq "hostname" worker-3 "$(cat "$W3/etc/hostname")"
expect_eq "hosts names the worker" "127.0.1.1	worker-3" "$(grep '^127.0.1.1' "$W3/etc/hosts")"
grep -q PARTUUID "$W3/etc/fstab" && fail "fstab still mounts SD-card partitions" || ok "fstab has no SD-card lines"
grep -q '^proc' "$W3/etc/fstab" && ok "fstab keeps the other lines" || fail "fstab lost /proc"
m3=$(cat "$W3/etc/machine-id"); m1=$(cat "$W1/etc/machine-id")
[[ $m3 =~ ^[0-9a-f]{32}$ ]] && [ "$m3" != "$m1" ] && ok "machine-id unique per worker ($m3)" || fail "machine-id '$m3' vs '$m1'"
umount_pifs "$M"
mount_pifs "$T/store" "$M"
expect_eq "machine-id stable across remount" "$m3" "$(cat "$W3/etc/machine-id")"
[ -e "$T/store/deltas/worker-3/etc/hostname" ] && fail "generated file written to the delta" || ok "generated files live in no delta"

# A worker's own edit wins, and is kept.
ino=$(stat -c %i "$W3/etc/hostname")
echo my-own-name > "$W3/etc/hostname"
expect_eq "worker edit of a generated file" my-own-name "$(cat "$W3/etc/hostname")"
expect_eq "edit kept in the delta" my-own-name "$(cat "$T/store/deltas/worker-3/etc/hostname")"
expect_eq "st_ino kept through the edit" "$ino" "$(stat -c %i "$W3/etc/hostname")"
expect_eq "worker-1 still generated" worker-1 "$(cat "$W1/etc/hostname")"
echo "console=tty1 root=/dev/nfs custom" > "$W3/boot/firmware/cmdline.txt"
expect_eq "tftpboot shows the edited cmdline.txt at once" "console=tty1 root=/dev/nfs custom" "$(cat "$TB/8b07bcc6/cmdline.txt")"

# A kernel update through the NFS root is what the next TFTP boot gets.
cat "$TB/8b07bcc6/kernel8.img" > /dev/null
head -c 100000 /dev/urandom > "$T/newkernel"
cp "$T/newkernel" "$W3/boot/firmware/kernel8.img.new" && mv "$W3/boot/firmware/kernel8.img.new" "$W3/boot/firmware/kernel8.img"
cmp -s "$T/newkernel" "$TB/8b07bcc6/kernel8.img" && ok "new kernel visible through tftpboot immediately" || fail "tftpboot serves a stale kernel"
expect_eq "tftpboot size is exact at once (tsize)" 100000 "$(stat -c %s "$TB/8b07bcc6/kernel8.img")"
cmp -s "$T/golden/boot/firmware/kernel8.img" "$TB/77b655ec/kernel8.img" && ok "worker-1 still boots the golden kernel" || fail "worker-1's kernel changed"

# ... also while the old file is being served: the transfer under way
# ends with the file it began with, and a Pi that asks now gets the new
# one (with passthrough the kernel takes one backing file per inode, so
# this is the case where pifsd reads the new file for it; it was EBUSY).
cp "$TB/8b07bcc6/start.elf" "$T/old-start.elf"
exec 5<"$TB/8b07bcc6/start.elf"
head -c 4096 <&5 >"$T/served-part"
head -c 50000 /dev/urandom >"$T/new-start.elf"
# Written in place: the golden file is copied up under the same inode.
cat "$T/new-start.elf" >"$W3/boot/firmware/start.elf"
cmp -s "$T/new-start.elf" "$TB/8b07bcc6/start.elf" && ok "a new open during the old transfer reads the new start.elf" || fail "tftpboot/8b07bcc6/start.elf during a transfer: $(cmp "$T/new-start.elf" "$TB/8b07bcc6/start.elf" 2>&1)"
exec 6<"$TB/8b07bcc6/start.elf"
cat <&5 >>"$T/served-part"
cmp -s "$T/old-start.elf" "$T/served-part" && ok "the transfer under way ends with the old start.elf" || fail "the transfer under way changed file"
exec 5<&-
cmp -s "$T/new-start.elf" - <&6 && ok "an open from during the transfer still reads the new file after it" || fail "second open: stale start.elf"
exec 6<&-
cmp -s "$T/new-start.elf" "$TB/8b07bcc6/start.elf" && ok "after the transfer: the new start.elf" || fail "after the transfer: stale start.elf"

# Read-only, and nothing but regular files and directories.
expect_fail "tftpboot is read-only (write)" "Read-only file system" sh -c "echo x >> '$TB/8b07bcc6/config.txt'"
expect_fail "tftpboot is read-only (create)" "Read-only file system" touch "$TB/8b07bcc6/new"
expect_fail "tftpboot is read-only (root)" "Read-only file system" touch "$TB/new"
ln -s /etc/shadow "$W3/boot/firmware/shadow.txt"
mkfifo "$W3/boot/firmware/pipe.txt"
[ -e "$TB/8b07bcc6/shadow.txt" ] || [ -L "$TB/8b07bcc6/shadow.txt" ] && fail "symlink visible in tftpboot" || ok "a worker's symlink is not in tftpboot (dnsmasq would follow it)"
[ -e "$TB/8b07bcc6/pipe.txt" ] && fail "fifo visible in tftpboot" || ok "a worker's fifo is not in tftpboot"
ls "$TB/8b07bcc6" | grep -q 'shadow.txt\|pipe.txt' && fail "readdir lists hidden entries" || ok "readdir hides them too"

# Deleting cmdline.txt: the view has none (that worker will not boot).
"$PIFS" --store "$T/store" status | grep -q 'warning' && fail "status warns before anything is wrong" || ok "status: no boot warning while cmdline.txt is there"
rm "$W3/boot/firmware/cmdline.txt"
[ -e "$TB/8b07bcc6/cmdline.txt" ] && fail "cmdline.txt still served" || ok "deleted cmdline.txt is gone from tftpboot"
expect_eq "status warns that worker-3 will not boot" \
	"warning: worker-3 has no boot/firmware/cmdline.txt: it will not boot" \
	"$("$PIFS" --store "$T/store" status | grep '^warning')"

# A golden without bootcode.bin: init and status say so.
cp -a "$T/golden" "$T/golden2" && rm "$T/golden2/boot/firmware/bootcode.bin"
out=$("$PIFS" init "$T/store2" --golden "$T/golden2" 2>&1) || fail "init of a golden without bootcode.bin"
printf '%s\n' "$out" | grep -q "warning: golden '$T/golden2' has no boot/firmware/bootcode.bin" && ok "init warns: no bootcode.bin" || fail "init did not warn: $out"
"$PIFS" --store "$T/store2" status | grep -q "warning: the golden has no boot/firmware/bootcode.bin" && ok "status warns: no bootcode.bin" || fail "status did not warn about bootcode.bin"

# The master's address is changeable, also while mounted.
expect_eq "pifs master shows the address" 10.1.1.100 "$("$PIFS" --store "$T/store" master)"
expect_fail "bad master address refused" "bad master address '10.1.1.999'" "$PIFS" --store "$T/store" master 10.1.1.999
"$PIFS" --store "$T/store" master 10.1.1.200 >/dev/null || fail "pifs master 10.1.1.200"
expect_eq "generated cmdline.txt follows the new master at once" \
	"console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=10.1.1.200:/nfsroot/worker-1,vers=3,tcp rw ip=dhcp rootwait" \
	"$(cat "$TB/77b655ec/cmdline.txt")"
expect_eq "hosts names the new master" "10.1.1.200	pifs-master" "$(grep pifs-master "$W1/etc/hosts")"

# Unregistered serials: absent, logged once with the serial.
ls "$TB/deadbeef" >/dev/null 2>&1 && fail "unregistered serial exists"
ls "$TB/deadbeef/start.elf" >/dev/null 2>&1
expect_eq "unregistered serial logged once" 1 "$(grep -c 'unregistered serial deadbeef' "$T/pifsd.log")"
"$PIFS" --store "$T/store" worker add worker-7 --serial deadbeef >/dev/null || fail "add worker-7"
expect_eq "a newly registered serial is served" "$(cat "$W3/boot/firmware/config.txt")" "$(cat "$TB/deadbeef/config.txt" 2>&1)"
umount_pifs "$M"
finish
