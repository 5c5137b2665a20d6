#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# mkimage.sh ROOT BOOT OUT.img [mkfs.ext4 options...]
#
# Build a disk image of the Raspberry Pi OS shape from two directory
# trees, with no loop device and nothing mounted: an MBR (sfdisk on the
# image file) with partition 1 FAT32 LBA (type 0c) at sector 8192 labelled
# "bootfs" holding BOOT (mkfs.vfat + mcopy), and partition 2 Linux (83)
# ext4 labelled "rootfs" holding ROOT (mkfs.ext4 -d), sized to fit.
# MKIMAGE_DEBUGFS=FILE runs `debugfs -w -f FILE` on the ext4 file system
# before it goes into the image (to set what mkfs.ext4 -d cannot, such as
# nanosecond times).  Used by t-image-import.sh and bench-import.sh.
set -eu
root=$1 boot=$2 out=$3
shift 3
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/pifs-mkimage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# sizes in MiB: room for the data plus metadata
boot_mb=$(( $(du -sm --apparent-size "$boot" | cut -f1) * 12 / 10 + 40 ))
[ "$boot_mb" -lt 64 ] && boot_mb=64
root_mb=$(( $(du -sm "$root" | cut -f1) * 13 / 10 + 48 ))

truncate -s "${boot_mb}M" "$tmp/boot.fat"
mkfs.vfat -F 32 -n bootfs "$tmp/boot.fat" >/dev/null 2>&1
if [ -n "$(ls -A "$boot")" ]; then
	# -m keeps the times; TZ=UTC0 as the importer reads them
	(cd "$boot" && TZ=UTC0 LC_ALL=C.UTF-8 MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null \
		mcopy -s -p -m -Q -i "$tmp/boot.fat" ./* ::/)
fi

truncate -s "${root_mb}M" "$tmp/root.ext4"
mkfs.ext4 -q -F -L rootfs -b 4096 -d "$root" "$@" "$tmp/root.ext4"
if [ -n "${MKIMAGE_DEBUGFS:-}" ]; then
	debugfs -w -f "$MKIMAGE_DEBUGFS" "$tmp/root.ext4" >/dev/null 2>&1
fi

boot_sect=$((boot_mb * 2048))
root_start=$((8192 + boot_sect))
root_sect=$((root_mb * 2048))
total=$(( (root_start + root_sect) * 512 ))
rm -f "$out"
truncate -s "$total" "$out"
sfdisk -q "$out" >/dev/null <<EOF
label: dos
label-id: 0x6b4b1d3a
start=8192, size=$boot_sect, type=c
start=$root_start, size=$root_sect, type=83
EOF
dd if="$tmp/boot.fat" of="$out" bs=1M seek=4 conv=notrunc,sparse status=none
dd if="$tmp/root.ext4" of="$out" bs=512 seek="$root_start" conv=notrunc,sparse status=none
