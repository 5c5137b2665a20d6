#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Image import: build a small disk image of the Raspberry Pi OS shape with
# no loop device and nothing mounted (mkimage.sh: MBR, FAT32 bootfs,
# ext4 rootfs from mkfs.ext4 -d) holding every hard case, import it as
# .img, .img.xz (one block and several), .img.gz (one member and two) and
# with block-mapped and inline-data ext4, and compare each golden with
# the source exactly; read it through a mounted view; then every kind of
# bad input: one line naming the file, exit 1, no golden left behind.
. "$(dirname "$0")/lib.sh"
setup
for t in mkfs.ext4 debugfs mkfs.vfat mcopy sfdisk xz gzip setfacl setcap; do
	command -v "$t" >/dev/null || skip "$t missing (apt-get install e2fsprogs dosfstools mtools fdisk xz-utils acl libcap2-bin)"
done
MKIMAGE="bash $PIFS_SRCDIR/tests/integration/mkimage.sh"

# expect_rc WHAT RC ERRTEXT CMD...: as expect_fail, and the exit status is RC
expect_rc() {
	local what=$1 want=$2 pat=$3 out rc
	shift 3
	out=$("$@" 2>&1 >/dev/null); rc=$?
	[ "$rc" = "$want" ] || { fail "$what: exit $rc, expected $want ($out)"; return; }
	printf '%s\n' "$out" | grep -Eq -- "$pat" || { fail "$what: error '$out' does not match '$pat'"; return; }
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || { fail "$what: error is not one line: '$out'"; return; }
	ok "$what (exit $rc: $out)"
}
# nothing_left DIR: a failed import left no store and no half golden
nothing_left() {
	if [ -e "$1" ]; then fail "a failed import left '$1' behind: $(find "$1" | head -5 | tr '\n' ' ')"
	else ok "nothing left behind at $1"; fi
}

# ---- the source trees: every hard case ----
R=$T/root B=$T/boot
mkdir -p "$R"/{boot/firmware,usr/bin,usr/sbin,dev,etc,tmp,home/pi,empty,var/lib/data}
echo raspberrypi > "$R/etc/hostname"
printf 'proc /proc proc defaults 0 0\nPARTUUID=6b4b1d3a-02 / ext4 defaults,noatime 0 1\n' > "$R/etc/fstab"
cp /bin/true "$R/usr/bin/ping" && setcap cap_net_raw+ep "$R/usr/bin/ping"
cp /bin/true "$R/usr/bin/sudo" && chmod 4755 "$R/usr/bin/sudo"
cp /bin/true "$R/usr/bin/wall" && chgrp 5 "$R/usr/bin/wall" && chmod 2755 "$R/usr/bin/wall"
echo linked > "$R/usr/bin/a" && ln "$R/usr/bin/a" "$R/usr/bin/b" && ln "$R/usr/bin/a" "$R/usr/sbin/c"
mknod "$R/dev/null" c 1 3 && mknod "$R/dev/sda" b 8 0 && mknod "$R/dev/big" c 300 70000
mkfifo "$R/dev/initctl"
python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$R/dev/log" 2>/dev/null ||
	perl -MSocket -e 'socket(S, PF_UNIX, SOCK_STREAM, 0); bind(S, pack_sockaddr_un($ARGV[0])) or die' "$R/dev/log"
truncate -s 64M "$R/var/lib/data/sparse"
echo middle | dd of="$R/var/lib/data/sparse" bs=1M seek=32 conv=notrunc status=none
echo start | dd of="$R/var/lib/data/sparse" conv=notrunc status=none
truncate -s 20M "$R/var/lib/data/tailhole" && echo head > "$R/var/lib/data/tailhole.tmp" &&
	dd if="$R/var/lib/data/tailhole.tmp" of="$R/var/lib/data/tailhole" conv=notrunc status=none && rm "$R/var/lib/data/tailhole.tmp"
head -c 3000000 /dev/urandom > "$R/var/lib/data/random"
: > "$R/var/lib/data/empty-file"
long=$(printf 'L%.0s' $(seq 1 255))
echo long > "$R/home/pi/$long"
echo utf8 > "$R/home/pi/ünïcödé-ñame-日本語"
mkdir "$R/home/pi/dïr with spaces"
chown -R 1000:1000 "$R/home/pi" && chmod 0700 "$R/home/pi"
chmod 1777 "$R/tmp"
ln -s ../etc/hostname "$R/usr/fast-link"
ln -s "$(printf '/a/rather/long/symlink/target/%.0s' {1..8})" "$R/usr/slow-link"
echo secret > "$R/etc/shadow" && chmod 0640 "$R/etc/shadow" && chgrp 42 "$R/etc/shadow"
setfacl -m u:1000:rw "$R/etc/shadow"
setfacl -d -m g:100:rx "$R/var/lib/data"
setfattr -n user.comment -v "from the image" "$R/etc/hostname"
setfattr -n trusted.pi -v 0x00ff10 "$R/etc/fstab"
# whole-second times (mkfs.ext4 -d of e2fsprogs 1.47.0 drops nanoseconds:
# debugfs sets them below), directories last
i=0
while IFS= read -r -d '' p; do
	i=$((i + 1)); touch -h -d "@$((1700000000 + i * 3600))" "$p"
done < <(find "$R" -mindepth 1 -depth -print0)

mkdir -p "$B/overlays" "$B/empty"
echo bootcode > "$B/bootcode.bin"; echo start > "$B/start.elf"; echo fixup > "$B/fixup.dat"
printf 'arm_64bit=1\ndtoverlay=vc4-kms-v3d\n' > "$B/config.txt"
echo 'console=serial0,115200 console=tty1 root=PARTUUID=6b4b1d3a-02 rootfstype=ext4 fsck.repair=yes rootwait' > "$B/cmdline.txt"
head -c 200000 /dev/urandom > "$B/kernel8.img"
echo dtbo > "$B/overlays/vc4-kms-v3d.dtbo"
echo readme > "$B/A Long File Name.txt"
# FAT keeps times in 2-second steps: even seconds only
i=0
while IFS= read -r -d '' p; do
	i=$((i + 1)); touch -d "@$((1747130000 + i * 7200))" "$p"
done < <(find "$B" -mindepth 1 -depth -print0)

# nanoseconds and a post-2038 time (epoch bits), set with debugfs
cat > "$T/debugfs.cmds" <<EOF
sif /etc/hostname mtime_extra $((123456789 << 2))
sif /usr/bin mtime_extra $((987654321 << 2))
sif /usr/bin/ping mtime_extra $(((5 << 2) | 1))
EOF
ping_mtime=$(stat -c %Y "$R/usr/bin/ping")

# ---- images ----
MKIMAGE_DEBUGFS=$T/debugfs.cmds $MKIMAGE "$R" "$B" "$T/pi.img" || { fail "mkimage"; finish; }
MKIMAGE_DEBUGFS=$T/debugfs.cmds $MKIMAGE "$R" "$B" "$T/old.img" -O ^extents,^64bit,inline_data || { fail "mkimage (old ext4)"; finish; }
xz -T1 -k -c "$T/pi.img" > "$T/pi.img.xz"
xz -T2 --block-size=4MiB -c "$T/pi.img" > "$T/pi-blocks.img.xz"
gzip -c "$T/pi.img" > "$T/pi.img.gz"
half=$(( $(stat -c %s "$T/pi.img") / 2 ))
{ head -c "$half" "$T/pi.img" | gzip -c; tail -c +$((half + 1)) "$T/pi.img" | gzip -c; } > "$T/pi-members.img.gz"
cp "$T/pi.img.xz" "$T/pi-no-suffix"  # told by content, not by name

# ---- the expected tree: the source with the boot partition in
# boot/firmware as a vfat mount shows it (root, 0755) and the times set
# with debugfs ----
E=$T/expected
cp -a --sparse=always "$R" "$E"
cp -a "$B/." "$E/boot/firmware/"
chown -R 0:0 "$E/boot/firmware" && find "$E/boot/firmware" -mindepth 1 -exec chmod 0755 {} +
touch -h -r "$R/boot/firmware" "$E/boot/firmware"
touch -h -d "$(date -u -d "@$(stat -c %Y "$R/etc/hostname")" '+%F %T').123456789 UTC" "$E/etc/hostname"
touch -h -d "$(date -u -d "@$(stat -c %Y "$R/usr/bin")" '+%F %T').987654321 UTC" "$E/usr/bin"
touch -h -d "@$((ping_mtime + (1 << 32))).000000005" "$E/usr/bin/ping"
tree_manifest "$E" > "$T/expected.m"
grep -q 'security.capability' "$T/expected.m" && grep -q 'system.posix_acl_default' "$T/expected.m" &&
	grep -q '12c:11170' "$T/expected.m" || fail "the expected tree lacks a hard case"

golden_of() { echo "$1/goldens/$(awk '$1 == "golden" {print $2}' "$1/pifs.conf")/tree"; }

# check_import WHAT IMAGE [EXCLUDE-REGEX]
check_import() {
	local what=$1 img=$2 skip=${3:-^lost+found\|} s=$T/s-$1 g out
	out=$("$PIFS" init "$s" --golden "$img" 2>"$T/$what.err") || { fail "$what: init failed: $(cat "$T/$what.err")"; return; }
	[ -s "$T/$what.err" ] && fail "$what: unexpected stderr: $(cat "$T/$what.err")"
	g=$(golden_of "$s")
	tree_manifest "$g" | grep -Ev "^lost\+found\||$skip" > "$T/$what.m"
	if grep -Ev "$skip" "$T/expected.m" | diff - "$T/$what.m" > "$T/$what.diff"; then
		ok "$what: golden equals the source tree (type, mode, owner, size, ns mtime, rdev, links, content, xattrs)"
	else
		fail "$what: golden differs from the source: $(head -20 "$T/$what.diff" | tr "\n" " ")"
	fi
	# lost+found is mkfs.ext4's own, kept as the image has it
	[ "$(stat -c '%F %a %u' "$g/lost+found")" = "directory 700 0" ] && ok "$what: lost+found kept" || fail "$what: lost+found"
	[ "$(stat -c '%a %u:%g' "$g")" = "$(stat -c '%a %u:%g' "$R")" ] && ok "$what: root attributes" || fail "$what: root attributes"
	[ "$(stat -c %i "$g/usr/bin/a")" = "$(stat -c %i "$g/usr/bin/b")" ] && [ "$(stat -c %i "$g/usr/bin/a")" = "$(stat -c %i "$g/usr/sbin/c")" ] &&
		ok "$what: hard links are one inode" || fail "$what: hard links split"
	[ "$(du -k "$g/var/lib/data/sparse" | cut -f1)" -lt 1024 ] && ok "$what: sparse file stays sparse" || fail "$what: sparse file filled in"
	"$PIFS" --store "$s" verify >/dev/null && ok "$what: manifest written during import verifies" || fail "$what: pifs verify"
	echo "$out" | grep -q "created store '$s' with golden [0-9a-f]\{16\}" || fail "$what: init output: $out"
	ls -A "$s/goldens" | grep -q '^\.' && fail "$what: temporary files left in goldens/"
}

first=
for v in "raw:$T/pi.img" "xz:$T/pi.img.xz" "xz-blocks:$T/pi-blocks.img.xz" "gz:$T/pi.img.gz" \
	"gz-members:$T/pi-members.img.gz" "no-suffix:$T/pi-no-suffix"; do
	check_import "${v%%:*}" "${v#*:}"
	id=$(awk '$1 == "golden" {print $2}' "$T/s-${v%%:*}/pifs.conf" 2>/dev/null)
	if [ -z "$first" ]; then first=$id
	else expect_eq "${v%%:*}: same golden id as the raw image" "$first" "$id"; fi
done
# Block-mapped files and inline data.  mkfs.ext4 -d of e2fsprogs 1.47.0
# writes a file ending in a hole with i_size at its last block when the
# file system has no extents, so those two files are compared with what
# the file system holds (debugfs) instead of the source.
check_import old-ext4 "$T/old.img" '^var/lib/data/(sparse|tailhole)\|'
dd if="$T/old.img" of="$T/old.ext4" bs=512 skip=$(sfdisk -d "$T/old.img" | awk -F'[=,]' '/img2/ {print $2 + 0}') status=none
for f in sparse tailhole; do
	debugfs -R "dump /var/lib/data/$f $T/old-$f" "$T/old.ext4" 2>/dev/null
	cmp -s "$T/old-$f" "$(golden_of "$T/s-old-ext4")/var/lib/data/$f" && ok "old-ext4: $f as the file system holds it" ||
		fail "old-ext4: $f differs from debugfs's dump"
done
debugfs -R "stat /var/lib/data/random" "$T/old.ext4" 2>/dev/null | grep -q 'Flags: 0x0$' || fail "old-ext4: random is not block-mapped"
debugfs -R "stat /etc/hostname" "$T/old.ext4" 2>/dev/null | grep -q 'Flags: 0x10000000' || fail "old-ext4: hostname is not inline"
S=$T/s-xz

# golden import / list
# the same image again: the same golden, not a second copy
out=$("$PIFS" --store "$S" golden import "$T/pi.img" 2>"$T/again.err"); rc=$?
expect_eq "golden import of an image the store has: exit" 0 "$rc"
expect_eq "golden import of an image the store has: id" "$first" "$out"
expect_eq "golden import of an image the store has: says so" "pifs: store '$S' has golden $first already" "$(cat "$T/again.err")"
expect_eq "golden import of an image the store has: one golden" 1 "$(find "$S/goldens" -mindepth 1 -maxdepth 1 | wc -l)"
out=$("$PIFS" --store "$T/s-new" golden import "$T/pi.img.gz" 2>&1) && [ "$out" = "$first" ] &&
	ok "golden import prints the id ($out)" || fail "golden import: '$out'"
"$PIFS" --store "$S" worker add worker-3 --serial 8b07bcc6 >/dev/null || fail "worker add"
out=$("$PIFS" --store "$S" golden list)
echo "$out" | grep -Eq "^$first \\*  [0-9-]+ [0-9:]+Z  +[0-9.]+ MiB +1 +0  $T/pi.img.xz\$" &&
	ok "golden list: id (default), date, size, workers, snapshots, source" || fail "golden list: $out"

# ---- through a mounted view ----
M=$T/mnt
mount_pifs "$S" "$M"
V=$M/nfsroot/worker-3
expect_eq "view: a file's content" linked "$(cat "$V/usr/sbin/c")"
expect_eq "view: capability" "cap_net_raw=ep" "$(getcap "$V/usr/bin/ping" | awk '{print $2}')"
expect_eq "view: setuid" 4755 "$(stat -c %a "$V/usr/bin/sudo")"
expect_eq "view: device" "b 8:0" "$(stat -c '%F' "$V/dev/sda" | cut -c1) $(stat -c '%t:%T' "$V/dev/sda")"
expect_eq "view: ns mtime" "$(stat -c %y "$E/usr/bin")" "$(stat -c %y "$V/usr/bin")"
expect_eq "view: non-ASCII name" utf8 "$(cat "$V/home/pi/ünïcödé-ñame-日本語")"
expect_eq "view: sparse file content" "$(sha256sum < "$E/var/lib/data/sparse")" "$(sha256sum < "$V/var/lib/data/sparse")"
expect_eq "view: boot partition file" "$(cat "$B/config.txt")" "$(cat "$V/boot/firmware/config.txt")"
expect_eq "tftp: bootcode.bin from the image" bootcode "$(cat "$M/tftpboot/bootcode.bin")"
grep -q "nfsroot=10.1.1.100:/nfsroot/worker-3" "$M/tftpboot/8b07bcc6/cmdline.txt" &&
	ok "tftp: the worker's cmdline.txt generated from the image's" || fail "tftp cmdline.txt: $(cat "$M/tftpboot/8b07bcc6/cmdline.txt")"
umount_pifs "$M"

# ---- bad input ----
img_size=$(stat -c %s "$T/pi.img")
head -c $((img_size - 1048576)) "$T/pi.img" > "$T/trunc.img"
expect_rc "truncated image" 1 "image '$T/trunc.img' is truncated: its partitions end at byte $img_size, the file at byte $((img_size - 1048576))\$" \
	"$PIFS" init "$T/bad" --golden "$T/trunc.img"
nothing_left "$T/bad"
head -c $(( $(stat -c %s "$T/pi.img.xz") * 2 / 3 )) "$T/pi.img.xz" > "$T/trunc.img.xz"
expect_rc "truncated xz" 1 "^pifs: image '$T/trunc.img.xz' is truncated\$" "$PIFS" init "$T/bad" --golden "$T/trunc.img.xz"
nothing_left "$T/bad"
head -c $(( $(stat -c %s "$T/pi.img.gz") * 2 / 3 )) "$T/pi.img.gz" > "$T/trunc.img.gz"
expect_rc "truncated gz" 1 "^pifs: image '$T/trunc.img.gz' is truncated\$" "$PIFS" init "$T/bad" --golden "$T/trunc.img.gz"
nothing_left "$T/bad"
# flip bytes in the compressed data (past the headers, before the index)
corrupt() { cp "$1" "$2"; printf '\xde\xad\xbe\xef' | dd of="$2" bs=1 seek=$(( $(stat -c %s "$1") / 2 )) conv=notrunc status=none; }
corrupt "$T/pi.img.xz" "$T/bad.img.xz"
expect_rc "corrupt xz" 1 "^pifs: image '$T/bad.img.xz' is corrupt: xz data is corrupt" "$PIFS" init "$T/bad" --golden "$T/bad.img.xz"
nothing_left "$T/bad"
corrupt "$T/pi.img.gz" "$T/bad.img.gz"
expect_rc "corrupt gz" 1 "^pifs: image '$T/bad.img.gz' is corrupt: gzip data is corrupt" "$PIFS" init "$T/bad" --golden "$T/bad.img.gz"
nothing_left "$T/bad"
# no partition table: a bare ext4 file system
root_start=$(sfdisk -d "$T/pi.img" | awk -F'[=,]' '/img2/ {print $2 + 0}')
dd if="$T/pi.img" of="$T/bare.ext4" bs=512 skip="$root_start" status=none
expect_rc "no partition table" 1 "^pifs: image '$T/bare.ext4' has no partition table\$" "$PIFS" init "$T/bad" --golden "$T/bare.ext4"
nothing_left "$T/bad"
xz -T1 -c "$T/bare.ext4" > "$T/bare.ext4.xz"
expect_rc "no partition table (xz)" 1 "^pifs: image '$T/bare.ext4.xz' has no partition table\$" "$PIFS" init "$T/bad" --golden "$T/bare.ext4.xz"
# partition 2 is swap, then nothing at all
cp --sparse=always "$T/pi.img" "$T/swap.img"
root_sect=$(sfdisk -d "$T/pi.img" | awk -F'[=,]' '/img2/ {print $4 + 0}')
truncate -s $((root_sect * 512)) "$T/p2" && mkswap "$T/p2" >/dev/null 2>&1
dd if="$T/p2" of="$T/swap.img" bs=512 seek="$root_start" conv=notrunc status=none
expect_rc "partition not FAT or ext4" 1 "^pifs: partition 2 of image '$T/swap.img' is swap, not FAT or ext4\$" "$PIFS" init "$T/bad" --golden "$T/swap.img"
nothing_left "$T/bad"
dd if=/dev/zero of="$T/swap.img" bs=512 seek="$root_start" count=2048 conv=notrunc status=none
expect_rc "partition with no file system" 1 "^pifs: partition 2 of image '$T/swap.img' has no file system pifs can read \(not FAT or ext4\)\$" \
	"$PIFS" init "$T/bad" --golden "$T/swap.img"
# a directory block of the ext4 root zeroed: found while copying, and
# the half-made golden is removed
blk=$(debugfs -R "blocks /usr/bin" "$T/bare.ext4" 2>/dev/null | awk '{print $1}')
cp --sparse=always "$T/pi.img" "$T/baddir.img"
dd if=/dev/zero of="$T/baddir.img" bs=4096 seek=$((root_start / 8 + blk)) count=1 conv=notrunc status=none
expect_rc "corrupt ext4 directory" 1 "^pifs: the ext4 file system in image '$T/baddir.img' is corrupt at 'usr/bin': " "$PIFS" init "$T/bad" --golden "$T/baddir.img"
nothing_left "$T/bad"
# not enough space: checked before anything is written
mkdir -p "$T/small"
if mount -t tmpfs -o size=4m pifs-test-small "$T/small" 2>/dev/null; then
	MOUNTS+=("$T/small")
	expect_rc "not enough space" 1 "^pifs: not enough space to import image '$T/pi.img.xz': it needs [0-9.]+ MiB, [0-9.]+ (KiB|MiB) is free\$" \
		"$PIFS" init "$T/small/store" --golden "$T/pi.img.xz"
	nothing_left "$T/small/store"
	expect_eq "not enough space: nothing written" 0 "$(df --output=used -k "$T/small" | tail -1 | tr -d ' ')"
	umount "$T/small"
else
	fail "cannot mount a small tmpfs for the space check"
fi
# not Raspberry Pi shaped: a warning, not an error
mkdir -p "$T/boot2" && echo x > "$T/boot2/readme.txt"
$MKIMAGE "$R" "$T/boot2" "$T/nopi.img" || fail "mkimage nopi"
out=$("$PIFS" init "$T/s-nopi" --golden "$T/nopi.img" 2>&1 >/dev/null); rc=$?
expect_eq "not Pi-shaped: imported" 0 "$rc"
expect_eq "not Pi-shaped: warning" "pifs: warning: image '$T/nopi.img' does not look like Raspberry Pi OS: its boot partition has no bootcode.bin and no start.elf" "$out"
expect_rc "golden import of a missing file" 1 "golden '$T/no-such.img' does not exist" "$PIFS" --store "$T/bad" golden import "$T/no-such.img"
nothing_left "$T/bad"
finish
