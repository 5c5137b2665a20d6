#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Pi 4 and Pi 5 workers (issue 21): on a real mount, tftpboot/ shows each
# worker under the directory its board asks for (a Pi 3B+'s serial, a Pi
# 4's serial, a Pi 5's MAC with dashes, a fixed TFTP_PREFIX_STR), each the
# same bytes as the worker's boot/firmware, read-only; an unknown MAC
# directory is logged once with the --mac hint; worker list shows model
# and directory; a registry written by an older pifs (v1) still loads and
# is rewritten as v2; pifs status warns about missing per-model boot files
# (a golden with and without the Pi 5 files, the kernel config.txt picks)
# and about files bigger than the model's TFTP can fetch (sparse files).
. "$(dirname "$0")/lib.sh"
setup
# The default golden without the Pi 4 and Pi 5 files (mkgolden.sh carries
# stand-ins for the boot-ROM simulator): what a Pi 3-only golden is.
bash "$PIFS_SRCDIR/tools/mkgolden.sh" "$T/golden" || { fail "mkgolden"; finish; }
for f in start4.elf fixup4.dat bcm2711-rpi-4-b.dtb bcm2712-rpi-5-b.dtb \
	kernel_2712.img initramfs_2712 overlays/vc4-kms-v3d-pi5.dtbo; do
	rm -f "$T/golden/boot/firmware/$f"
done
make_store --master 10.1.1.100
S=$T/store
P() { "$PIFS" --store "$S" "$@"; }

# A second golden with stand-in Pi 4 and Pi 5 files, and a config.txt that
# names no kernel (as Raspberry Pi OS's), so each model picks its own.
cp -a "$T/golden" "$T/golden45"
F=$T/golden45/boot/firmware
head -c 2200000 /dev/urandom >"$F/start4.elf"
head -c 5400 /dev/urandom >"$F/fixup4.dat"
head -c 52000 /dev/urandom >"$F/bcm2711-rpi-4-b.dtb"
head -c 78000 /dev/urandom >"$F/bcm2712-rpi-5-b.dtb"
head -c 3000000 /dev/urandom >"$F/kernel_2712.img"
head -c 900000 /dev/urandom >"$F/initramfs_2712"
printf '# all models\narm_64bit=1\nauto_initramfs=1\ndtoverlay=vc4-kms-v3d\n[pi5]\ndtparam=pciex1\n[all]\n' >"$F/config.txt"
G45=$(P golden import "$T/golden45" 2>/dev/null | tail -1)
[[ $G45 =~ ^[0-9a-f]{16}$ ]] || { fail "golden import: '$G45'"; finish; }

M=$T/mnt
mount_pifs "$S" "$M"
TB=$M/tftpboot
out=$(P worker add worker-7 --model pi4 --serial 9ffefdef --mac dc:a6:32:01:36:c2 --golden "$G45" 2>&1) ||
	fail "add a pi4: $out"
expect_eq "worker add prints model and TFTP directory" \
	"added worker-7: pi4 serial 9ffefdef mac dc:a6:32:01:36:c2 ip 10.1.1.3 tftp 9ffefdef/ (id 3)" "$out"
P worker add worker-8 --model pi5 --serial 1a2b3c4d --mac 2c:cf:67:00:11:22 --tftp-prefix mac --golden "$G45" >/dev/null ||
	fail "add a pi5 on its MAC"
# a 16-digit serial with 10000000 is cut; TFTP_PREFIX_STR as written in
# the EEPROM, with its '/'
P worker add worker-9 --model pi5 --serial 10000000ABCD1234 --mac d8:3a:dd:00:00:09 --tftp-prefix str:rack1-n9/ --golden "$G45" >/dev/null ||
	fail "add a pi5 on a fixed string"
# a MAC outside Raspberry Pi's prefixes: taken, with one warning line
err=$(P worker add worker-10 --model pi4 --serial 0a0b0c0d --mac 52:54:00:12:34:56 2>&1 >/dev/null) ||
	fail "add with an unknown MAC prefix"
expect_eq "an unknown MAC prefix: one warning line" \
	"pifs: warning: mac 52:54:00:12:34:56 is not one of Raspberry Pi's prefixes (b8:27:eb, dc:a6:32, e4:5f:01, d8:3a:dd, 28:cd:c1, 2c:cf:67)" "$err"

expect_eq "tftpboot lists each worker under the directory its board asks for" \
	"0a0b0c0d 2c-cf-67-00-11-22 77b655ec 8b07bcc6 9ffefdef bootcode.bin rack1-n9" \
	"$(ls "$TB" | tr '\n' ' ' | sed 's/ $//')"
[ -e "$TB/1a2b3c4d" ] && fail "a pi5 on TFTP_PREFIX=2 is also under its serial" || ok "a pi5 on its MAC is not under its serial"
[ -e "$TB/abcd1234" ] && fail "a pi5 on a fixed string is also under its serial" || ok "a fixed string replaces the serial"

# Every file byte for byte the worker's boot/firmware (generated
# cmdline.txt included), for each model and naming.
for pair in worker-3:8b07bcc6 worker-7:9ffefdef worker-8:2c-cf-67-00-11-22 worker-9:rack1-n9; do
	w=${pair%%:*} d=${pair#*:} n=0 bad=
	while IFS= read -r -d '' f; do
		n=$((n + 1))
		cmp -s "$M/nfsroot/$w/boot/firmware/$f" "$TB/$d/$f" || bad="$bad $f"
	done < <(cd "$M/nfsroot/$w/boot/firmware" && find . -type f -printf '%P\0')
	[ -z "$bad" ] && [ "$n" -gt 8 ] && ok "tftpboot/$d/ = $w's boot/firmware ($n files)" ||
		fail "tftpboot/$d/ differs from $w's boot/firmware:$bad ($n files)"
done
cmp -s "$F/kernel_2712.img" "$TB/2c-cf-67-00-11-22/kernel_2712.img" && ok "the pi5 gets kernel_2712.img of its golden" ||
	fail "kernel_2712.img of worker-8"
expect_eq "generated cmdline.txt of the pi5 on its MAC" \
	"console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=10.1.1.100:/nfsroot/worker-8,vers=3,tcp rw ip=dhcp rootwait" \
	"$(cat "$TB/2c-cf-67-00-11-22/cmdline.txt")"
grep -q "over TFTP as /tftpboot/2c-cf-67-00-11-22/\.$" "$M/nfsroot/worker-8/etc/fstab" &&
	ok "fstab names the MAC directory" || fail "fstab: $(tail -1 "$M/nfsroot/worker-8/etc/fstab")"
grep -q "over TFTP as /tftpboot/rack1-n9/\.$" "$M/nfsroot/worker-9/etc/fstab" &&
	ok "fstab names the fixed directory" || fail "fstab: $(tail -1 "$M/nfsroot/worker-9/etc/fstab")"
echo "console=tty1 root=/dev/nfs mine" >"$M/nfsroot/worker-9/boot/firmware/cmdline.txt"
expect_eq "a change through nfsroot/ is in tftpboot/rack1-n9/ at once" \
	"console=tty1 root=/dev/nfs mine" "$(cat "$TB/rack1-n9/cmdline.txt")"

# Read-only aliases, nothing else reachable by a name.
expect_fail "tftpboot/<mac>/ is read-only" "Read-only file system" touch "$TB/2c-cf-67-00-11-22/new"
expect_fail "tftpboot/<string>/ is read-only" "Read-only file system" sh -c "echo x >>'$TB/rack1-n9/config.txt'"
for name in .hidden rack1-n9x RACK1-N9 2C-CF-67-00-11-22 a..b; do
	[ -e "$TB/$name" ] && fail "tftpboot/$name exists"
done
ok "no other spelling of a directory exists"

# An unregistered MAC directory: absent, logged once with the --mac hint;
# a root file a Pi 4 asks for after dropping its prefix is not logged.
for _ in 1 2; do ls "$TB/dc-a6-32-99-88-77/start4.elf" >/dev/null 2>&1 && fail "unknown MAC directory exists"; done
ls "$TB/start4.elf" >/dev/null 2>&1
expect_eq "an unknown MAC directory is logged once, naming --mac" 1 \
	"$(grep -cF "boot request for unregistered MAC directory dc-a6-32-99-88-77: register it with 'pifs worker add NAME --model pi4|pi5 --serial SERIAL --mac dc:a6:32:99:88:77 --tftp-prefix mac'" "$T/pifsd.log")"
expect_eq "a root file name is not logged as a directory" 0 "$(grep -c 'start4.elf' "$T/pifsd.log")"

# worker list: model and TFTP directory, text and JSON
expect_eq "worker list shows model and directory" \
	"worker-10 pi4 0a0b0c0d|worker-3 pi3b+ 8b07bcc6|worker-7 pi4 9ffefdef|worker-8 pi5 2c-cf-67-00-11-22|worker-9 pi5 rack1-n9" \
	"$(P worker list | awk 'NR > 1 && $1 != "worker-1" { printf "%s%s %s %s", s, $1, $6, $7; s = "|" }')"
P worker list --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
w = {x["name"]: x for x in d["workers"]}
assert w["worker-8"]["model"] == "pi5" and w["worker-8"]["tftp_prefix"] == "mac", w["worker-8"]
assert w["worker-8"]["tftp_dir"] == "2c-cf-67-00-11-22", w["worker-8"]
assert w["worker-9"]["tftp_prefix"] == "str:rack1-n9" and w["worker-9"]["serial"] == "abcd1234", w["worker-9"]
assert w["worker-1"]["model"] == "pi3b+" and w["worker-1"]["tftp_dir"] == "77b655ec", w["worker-1"]
' && ok "worker list --json: model, tftp_prefix, tftp_dir" || fail "worker list --json"
expect_eq "the registry file is v2" \
	"worker-8 1a2b3c4d 2c:cf:67:00:11:22 10.1.1.4 4 pi5 mac -|worker-9 abcd1234 d8:3a:dd:00:00:09 10.1.1.5 5 pi5 str:rack1-n9 -" \
	"$(grep -E '^worker-(8|9) ' "$S/workers" | tr '\n' '|' | sed 's/|$//')"

# ---- pifs status: per-model boot files and TFTP sizes
st() { P status | grep '^warning' | tr '\n' '|' | sed 's/|$//'; }
expect_eq "status: a pi4 on a golden without Pi 4 files" \
	"warning: worker-10 is a pi4 and its boot/firmware has no start4.elf, fixup4.dat, bcm2711-rpi-4-b.dtb: it will not boot" "$(st)"
P worker remove worker-10 --force >/dev/null || fail "remove worker-10"
P worker add worker-11 --model pi5 --serial 0b0c0d0e --mac 2c:cf:67:00:00:11 >/dev/null || fail "a pi5 on the default golden"
# its config.txt says kernel=kernel8.img, which it has: only the dtb lacks
expect_eq "status: a pi5 on a golden without the Pi 5 files" \
	"warning: worker-11 is a pi5 and its boot/firmware has no bcm2712-rpi-5-b.dtb: it will not boot" "$(st)"
P worker remove worker-11 --force >/dev/null || fail "remove worker-11"
expect_eq "status: no warning with every model's files" "" "$(st)"
# the kernel a pi5 loads: kernel_2712.img, else kernel8.img (through the
# worker's own view: its delta over the golden)
rm "$M/nfsroot/worker-9/boot/firmware/kernel_2712.img"
expect_eq "status: kernel8.img is the pi5's fallback" "" "$(st)"
rm "$M/nfsroot/worker-9/boot/firmware/kernel8.img"
expect_eq "status: a pi5 without either kernel" \
	"warning: worker-9 is a pi5 and its boot/firmware has no kernel_2712.img (or kernel8.img): it will not boot" "$(st)"
cp "$F/kernel_2712.img" "$M/nfsroot/worker-9/boot/firmware/kernel_2712.img"
# sizes: 65535 blocks of 1024 bytes (pi4), of 1468 (pi5)
truncate -s 70M "$M/nfsroot/worker-7/boot/firmware/initramfs8"
truncate -s 70M "$M/nfsroot/worker-8/boot/firmware/initramfs_2712"
expect_eq "status: 70 MiB is too big for a pi4, not for a pi5" \
	"warning: worker-7's boot/firmware/initramfs8 is 73400320 bytes, more than a pi4's firmware fetches over TFTP (65535 blocks of 1024 bytes: 67107840)" "$(st)"
truncate -s 100M "$M/nfsroot/worker-8/boot/firmware/initramfs_2712"
expect_eq "status: 100 MiB is too big for a pi5" \
	"warning: worker-7's boot/firmware/initramfs8 is 73400320 bytes, more than a pi4's firmware fetches over TFTP (65535 blocks of 1024 bytes: 67107840)|warning: worker-8's boot/firmware/initramfs_2712 is 104857600 bytes, more than a pi5's firmware fetches over TFTP (65535 blocks of 1468 bytes: 96205380)" "$(st)"
[ "$(du -k "$S/deltas/worker-8/boot/firmware/initramfs_2712" | cut -f1)" -lt 1024 ] && ok "the big file is sparse" || fail "the big file is not sparse"
rm "$M/nfsroot/worker-9/boot/firmware/bcm2712-rpi-5-b.dtb"
P status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
w = {x["name"]: x for x in d["workers"]}
assert w["worker-8"]["model"] == "pi5" and w["worker-8"]["tftp_dir"] == "2c-cf-67-00-11-22", w["worker-8"]
assert w["worker-8"]["oversized_boot_files"] == [{"path": "boot/firmware/initramfs_2712", "path_base64": None,
	"size": 104857600, "limit": 96205380}], w["worker-8"]["oversized_boot_files"]
assert w["worker-8"]["missing_boot_files"] == [], w["worker-8"]
assert w["worker-9"]["missing_boot_files"] == ["bcm2712-rpi-5-b.dtb"], w["worker-9"]
assert w["worker-7"]["oversized_boot_files"][0]["limit"] == 67107840, w["worker-7"]
assert w["worker-3"]["missing_boot_files"] == [] and w["worker-3"]["oversized_boot_files"] == [], w["worker-3"]
' && ok "status --json: model, tftp_dir, missing and oversized boot files" || fail "status --json"
umount_pifs "$M"

# ---- a registry written by an older pifs (v1) loads unchanged
S1=$T/store1
"$PIFS" init "$S1" --golden "$T/golden" >/dev/null 2>&1 || fail "init store1"
"$PIFS" --store "$S1" worker add worker-3 --serial 8b07bcc6 >/dev/null || fail "add to store1"
printf '# pifs worker registry v1\nnext-id 2\nworker-3 8b07bcc6 b8:27:eb:07:bc:c6 10.1.1.1 1\n' >"$S1/workers"
expect_eq "worker list of a v1 registry" \
	"worker-3 8b07bcc6 b8:27:eb:07:bc:c6 10.1.1.1 1 pi3b+ 8b07bcc6" \
	"$("$PIFS" --store "$S1" worker list | awk 'NR > 1 { print $1, $2, $3, $4, $5, $6, $7 }')"
mount_pifs "$S1" "$T/mnt1"
cmp -s "$T/mnt1/nfsroot/worker-3/boot/firmware/start.elf" "$T/mnt1/tftpboot/8b07bcc6/start.elf" &&
	ok "a v1 registry's worker is served in tftpboot/<serial>/" || fail "v1 worker not served"
"$PIFS" --store "$S1" worker add worker-4 --model pi4 --serial 4a5b6c7d --mac e4:5f:01:00:00:04 >/dev/null || fail "add to a v1 store"
expect_eq "the next change writes it as v2, the v1 worker kept" \
	"# pifs worker registry v2|next-id 3|worker-3 8b07bcc6 b8:27:eb:07:bc:c6 10.1.1.1 1 pi3b+ serial -|worker-4 4a5b6c7d e4:5f:01:00:00:04 10.1.1.2 2 pi4 serial -" \
	"$(tr '\n' '|' <"$S1/workers" | sed 's/|$//')"
[ -d "$T/mnt1/tftpboot/4a5b6c7d" ] && ok "the new pi4 shows at once" || fail "pi4 added to a v1 store not served"
umount_pifs "$T/mnt1"
finish
