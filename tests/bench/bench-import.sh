#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench-import.sh - image import: time and peak memory of `pifs init
# --golden IMAGE` for a generated ~2 GiB Raspberry Pi OS-shaped image
# (.img.xz and .img), side by side with the loop-mount-and-copy way on
# the same image in the same run: `xz -dk`, `losetup -P`, `mount -o ro`,
# `cp -a` (root, then the boot partition into boot/firmware).  The loop
# way is skipped, and said so, where loop devices do not work.
#
# BENCH_IMPORT_MB (default 1600): MiB of files in the root tree, copied
# from this machine's /usr (real binaries and text: compresses like an
# OS).  BENCH_DIR (default /var/tmp) holds the work directory.
# BENCH_TSV (optional): "case<TAB>way<TAB>value" lines for bench.sh's
# table: import-xz-s / import-xz-rss for pifs and the loop way (plain).
# Measurements only: it fails only when it cannot run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${PIFS_BUILDDIR:=$(cd "$here/../.." && pwd)}"
: "${PIFS_SRCDIR:=$(cd "$here/../.." && pwd)}"
PIFS=$PIFS_BUILDDIR/tools/pifs
MB=${BENCH_IMPORT_MB:-1600}
[ "$(id -u)" = 0 ] || { echo "bench-import: needs root"; exit 1; }
for t in mkfs.ext4 mkfs.vfat mcopy sfdisk xz /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "bench-import: $t missing"; exit 1; }
done
W=$(mktemp -d "${BENCH_DIR:-${PIFS_BENCH_TMP:-/var/tmp}}/pifs-bench-import.XXXXXX")
LOOP= LOOP2= MNT=()
cleanup() {
	local m
	for m in "${MNT[@]}"; do umount "$m" 2>/dev/null; done
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	[ -n "${LOOP2:-}" ] && losetup -d "$LOOP2" 2>/dev/null
	chattr -R -i "$W"/s-* 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the image: /usr files up to MB MiB, a Pi-like boot partition ----
echo "building a ~$((MB + 600)) MiB image from $MB MiB of /usr files..."
mkdir -p "$W/root/boot/firmware" "$W/root/usr" "$W/boot/overlays"
# files in find order (whole directories, like an OS) up to MB MiB
(cd /usr && find lib share bin sbin -xdev \( -type f -o -type l \) -size -64M -printf '%s %p\n' 2>/dev/null) |
	awk -v lim=$((MB << 20)) '{ t += $1; if (t > lim) exit; sub(/^[0-9]+ /, ""); print }' |
	(cd /usr && cpio -pdm --quiet "$W/root/usr" 2>/dev/null)
for f in bootcode.bin start.elf fixup.dat kernel8.img; do head -c 8000000 /dev/urandom | base64 > "$W/boot/$f"; done
for i in $(seq 1 200); do echo "dtoverlay $i" > "$W/boot/overlays/o$i.dtbo"; done
bash "$PIFS_SRCDIR/tests/integration/mkimage.sh" "$W/root" "$W/boot" "$W/pi.img" || exit 1
files=$(find "$W/root" | wc -l)
rm -rf "$W/root" "$W/boot"
echo "compressing (xz -T2 -3)..."
xz -T2 -3 -k "$W/pi.img"
img_mb=$(( $(stat -c %s "$W/pi.img") >> 20 ))
xz_mb=$(( $(stat -c %s "$W/pi.img.xz") >> 20 ))
echo "image: $img_mb MiB ($files entries in the root), .img.xz: $xz_mb MiB"

sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
# run NAME CMD...: wall seconds and peak RSS (KiB) of CMD and its children
run() {
	local name=$1 out
	shift
	out=$(/usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1)
	printf '%-34s %8.1f s  %8d KiB peak RSS\n' "$name" "${out% *}" "${out#* }"
	LAST_S=${out% *}
	LAST_K=${out#* }
}

echo
printf '%-34s %10s  %s\n' "way" "time" "memory"
tsv() { [ -n "${BENCH_TSV:-}" ] && printf '%s\t%s\t%s\n' "$@" >>"$BENCH_TSV"; return 0; }
run "pifs init --golden pi.img.xz" "$PIFS" init "$W/s-xz" --golden "$W/pi.img.xz"
xz_s=$LAST_S
tsv import-xz-s pifs "$LAST_S"
tsv import-xz-rss pifs "$LAST_K"
run "pifs init --golden pi.img" "$PIFS" init "$W/s-raw" --golden "$W/pi.img"
chattr -R -i "$W/s-raw" 2>/dev/null; rm -rf "$W/s-raw"
echo "  (pifs needs no decompressed .img on disk: peak disk use is about the"
echo "   golden plus the metadata of the image, see overlay/image/import.c)"

# ---- the loop way ----
if LOOP=$(losetup -f 2>/dev/null) && [ -n "$LOOP" ] &&
	rm -f "$W/pi.img" && run "xz -dk (decompress to disk)" xz -dk -T2 "$W/pi.img.xz" &&
	d_s=$LAST_S && d_k=$LAST_K && LOOP=$(losetup -f --show -P -r "$W/pi.img" 2>/dev/null); then
	mkdir -p "$W/mnt-root" "$W/mnt-boot" "$W/loop-tree"
	for _ in $(seq 1 50); do [ -b "${LOOP}p2" ] && break; sleep 0.1; done
	P1=${LOOP}p1 P2=${LOOP}p2 LOOP2=
	if [ ! -b "$P2" ]; then
		# no partition device nodes (no udev in a container): one loop
		# device per partition, by offset, is the same thing
		losetup -d "$LOOP"
		# %.0f: mawk's %d stops at 2^31-1, a root partition past 2 GiB
		off() { sfdisk -d "$W/pi.img" | awk -F'[=,]' -v p="pi.img$1" '$0 ~ p {printf "%.0f %.0f\n", ($2 + 0) * 512, ($4 + 0) * 512}'; }
		read -r o1 s1 < <(off 1); read -r o2 s2 < <(off 2)
		LOOP=$(losetup -f --show -r -o "$o1" --sizelimit "$s1" "$W/pi.img") && P1=$LOOP
		LOOP2=$(losetup -f --show -r -o "$o2" --sizelimit "$s2" "$W/pi.img") && P2=$LOOP2
		echo "  (losetup -P made no partition devices here: losetup -o per partition)"
	fi
	if mount -o ro "$P2" "$W/mnt-root" && MNT+=("$W/mnt-root"); then
		run "cp -a (root partition)" cp -a "$W/mnt-root/." "$W/loop-tree/"
		c1_s=$LAST_S c1_k=$LAST_K c2_s=0 c2_k=0 noboot=0
		if mount -o ro "$P1" "$W/mnt-boot" 2>/dev/null && MNT+=("$W/mnt-boot"); then
			run "cp -a (boot partition)" cp -a "$W/mnt-boot/." "$W/loop-tree/boot/firmware/"
			c2_s=$LAST_S c2_k=$LAST_K
		else
			echo "  (this kernel cannot mount vfat: the loop way's boot partition is left out)"
			noboot=1
		fi
		total=$(echo "$d_s + $c1_s + $c2_s" | bc)
		peak=$(printf '%s\n' "$d_k" "$c1_k" "$c2_k" | sort -n | tail -1)
		printf '%-34s %8.1f s  %8d KiB peak RSS\n' "loop way, total (xz -d + cp -a)" "$total" "$peak"
		tsv import-xz-s plain "$total"
		tsv import-xz-rss plain "$peak"
		echo "  (the loop way also needs the full $img_mb MiB .img on disk, and"
		echo "   losetup/mount: root outside containers)"
		g=$(ls -d "$W"/s-xz/goldens/*/tree)
		# the two ways give the same tree (the vfat mount's times and modes
		# are what pifs reproduces; lost+found included)
		if diff <(cd "$g" && find . -printf '%M %U:%G %s %TY-%Tm-%Td %TT %l %p\n' | LC_ALL=C sort |
			{ if [ "$noboot" = 1 ]; then grep -v ' ./boot/firmware/'; else cat; fi; }) \
			<(cd "$W/loop-tree" && find . -printf '%M %U:%G %s %TY-%Tm-%Td %TT %l %p\n' | LC_ALL=C sort) >"$W/ways.diff"; then
			echo "  the loop way's tree and pifs's golden are the same"
		else
			echo "  the trees differ: $(head -5 "$W/ways.diff" | tr '\n' ' ')"
		fi
		echo "pifs speed-up over the loop way: $(echo "scale=2; $total / $xz_s" | bc)x"
	else
		echo "loop way: mounting the partitions failed here; only pifs's numbers above"
	fi
else
	echo "loop way: loop devices do not work on this machine; only pifs's numbers above"
fi
exit 0
