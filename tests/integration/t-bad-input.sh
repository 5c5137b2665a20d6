#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Bad input: every mistake gets one clear line naming the thing, a
# non-zero exit, and nothing already stored changes.
. "$(dirname "$0")/lib.sh"
setup
make_store
S=$T/store
snap() { (cd "$S" && cat workers pifs.conf; ls -la --time-style=full-iso deltas goldens) | sha256sum; }
before=$(snap)

# stores
expect_fail "unknown store" "no store at '/nonexistent-store'" "$PIFS" --store /nonexistent-store worker list
expect_fail "not a store" "'$T/golden' is not a pifs store" "$PIFS" --store "$T/golden" worker list
expect_fail "golden dir missing" "golden '$T/nope' does not exist" "$PIFS" init "$T/new" --golden "$T/nope"
[ -e "$T/new" ] && fail "a failed init left '$T/new' behind" || ok "failed init leaves nothing"
echo file > "$T/afile"
expect_fail "golden is a file but no disk image" "image '$T/afile' has no partition table" "$PIFS" init "$T/new" --golden "$T/afile"
[ -e "$T/new" ] && fail "a failed image init left '$T/new' behind" || ok "failed image init leaves nothing"
mkfifo "$T/afifo"
expect_fail "golden is a fifo" "'$T/afifo' is not a directory or a disk image" "$PIFS" init "$T/new" --golden "$T/afifo"
expect_fail "store exists" "store '$S' exists and is not empty" "$PIFS" init "$S" --golden "$T/golden"
expect_fail "init without --golden" "golden" "$PIFS" init "$T/new"
mkdir "$T/emptydir"
expect_fail "golden is an empty directory (init)" "golden '$T/emptydir' is an empty directory: nothing to serve" "$PIFS" init "$T/new" --golden "$T/emptydir"
[ -e "$T/new" ] && fail "init of an empty golden left '$T/new' behind" || ok "init of an empty golden left nothing behind"
expect_fail "golden is an empty directory (import)" "golden '$T/emptydir' is an empty directory: nothing to serve" "$PIFS" --store "$S" golden import "$T/emptydir"

# workers
W="$PIFS --store $S worker"
expect_fail "bad name (upper case)" "bad worker name 'Worker_1'" $W add Worker_1 --serial 12345678
expect_fail "bad name (leading dash)" "unknown option '-x'" $W add -x --serial 12345678
expect_fail "bad serial (not hex)" "bad serial 'xyz1234z'" $W add w9 --serial xyz1234z
expect_fail "bad serial (9 digits)" "bad serial '123456789'" $W add w9 --serial 123456789
expect_fail "duplicate name" "worker-3.*already" $W add worker-3 --serial 12345678
expect_fail "duplicate serial (any case)" "serial 8b07bcc6 is already worker-3's" $W add w9 --serial 8B07BCC6
expect_fail "duplicate ip" "10.1.1.1 is already" $W add w9 --serial 12345678 --ip 10.1.1.1
expect_fail "bad ip" "bad ip '10.1.1.300'" $W add w9 --serial 12345678 --ip 10.1.1.300
expect_fail "ip outside the workers' network" "ip 192.168.7.9 is outside the workers' network 10.1.1.0/24 \(the store's DHCP range is 10.1.1.1-10.1.1.20\)" \
	$W add w9 --serial 12345678 --ip 192.168.7.9
expect_fail "ip is the broadcast address" "ip 10.1.1.255 is the network's broadcast address" $W add w9 --serial 12345678 --ip 10.1.1.255
expect_fail "ip is the master's" "ip 10.1.1.100 is the master's address" $W add w9 --serial 12345678 --ip 10.1.1.100
expect_fail "bad mac" "bad mac 'zz'" $W add w9 --serial 12345678 --mac zz
expect_fail "missing serial" "serial" $W add w9
expect_fail "remove unknown" "no worker 'nope'" $W remove nope
expect_fail "unknown command" "unknown command 'bogus'" "$PIFS" --store "$S" bogus
expect_eq "nothing changed by the bad commands" "$before" "$(snap)"

# models and TFTP directories (issue 21): each mistake one line, exit
# non-zero, the registry unchanged
expect_fail "bad model" "bad model 'pi6' \(want pi3b\+, pi4 or pi5\)" $W add w9 --model pi6 --serial 12345678 --mac dc:a6:32:00:00:09
expect_fail "pi4 without --mac" "a pi4 needs --mac: its MAC is not derived from its serial" $W add w9 --model pi4 --serial 12345678
expect_fail "pi5 without --mac" "a pi5 needs --mac" $W add w9 --model pi5 --serial 12345678
expect_fail "bad tftp prefix kind" "bad tftp prefix 'serials'" $W add w9 --model pi4 --serial 12345678 --mac dc:a6:32:00:00:09 --tftp-prefix serials
expect_fail "33-character prefix string" "bad tftp prefix 'str:$(printf 'a%.0s' $(seq 33))'" \
	$W add w9 --model pi4 --serial 12345678 --mac dc:a6:32:00:00:09 --tftp-prefix "str:$(printf 'a%.0s' $(seq 33))"
expect_fail "32-character prefix string (TFTP_PREFIX_STR holds its '/' too)" "bad tftp prefix" \
	$W add w9 --model pi4 --serial 12345678 --mac dc:a6:32:00:00:09 --tftp-prefix "str:$(printf 'a%.0s' $(seq 32))"
expect_fail "prefix string with a slash" "bad tftp prefix 'str:a/b'" $W add w9 --model pi4 --serial 12345678 --mac dc:a6:32:00:00:09 --tftp-prefix str:a/b
expect_fail "prefix string '..'" "bad tftp prefix 'str:..'" $W add w9 --model pi4 --serial 12345678 --mac dc:a6:32:00:00:09 --tftp-prefix str:..
expect_fail "prefix string '.'" "bad tftp prefix 'str:.'" $W add w9 --model pi4 --serial 12345678 --mac dc:a6:32:00:00:09 --tftp-prefix str:.
expect_fail "prefix string with a space" "bad tftp prefix 'str:a b'" $W add w9 --model pi4 --serial 12345678 --mac dc:a6:32:00:00:09 --tftp-prefix "str:a b"
expect_fail "prefix string bootcode.bin (a root file)" "bad tftp prefix 'str:bootcode.bin'" $W add w9 --model pi4 --serial 12345678 --mac dc:a6:32:00:00:09 --tftp-prefix str:bootcode.bin
expect_fail "prefix clash: a fixed string equal to another worker's serial" "tftp directory '8b07bcc6' is already worker-3's" \
	$W add w9 --model pi4 --serial 12345678 --mac dc:a6:32:00:00:09 --tftp-prefix str:8b07bcc6
expect_fail "same mac twice" "mac b8:27:eb:07:bc:c6 is already worker-3's" $W add w9 --model pi5 --serial 12345678 --mac b8:27:eb:07:bc:c6
expect_fail "pi3b+ with a mac prefix" "a pi3b\+ has no TFTP_PREFIX setting" $W add w9 --serial 12345678 --tftp-prefix mac
expect_fail "pi3b+ with a mac that is not its serial's" "mac dc:a6:32:00:00:09 is not serial 12345678's: a pi3b\+'s MAC is b8:27:eb:34:56:78" \
	$W add w9 --serial 12345678 --mac dc:a6:32:00:00:09
expect_fail "16-digit serial not starting 00000000 or 10000000" "bad serial '2000000012345678'" $W add w9 --serial 2000000012345678
expect_eq "nothing changed by the bad model and prefix commands" "$before" "$(snap)"

# a full address range
for i in $(seq 3 20); do $W add "w$i" --serial "$(printf '%08x' $((0x1000 + i)))" >/dev/null || fail "add w$i"; done
expect_fail "full range" "no free address in 10.1.1.1-10.1.1.20" $W add w21 --serial 0000ffff
for i in $(seq 3 20); do $W remove "w$i" --force >/dev/null || fail "remove w$i"; done
before=$(snap)

# mounting
M=$T/mnt
expect_fail "mountpoint missing" "mountpoint '$T/nomnt'" "$PIFSD" "$S" "$T/nomnt" -f
# the fstab form (mount.fuse3 runs "pifs SOURCE MOUNTPOINT -o OPTS") with
# a wrong store path names the store, not an unknown command
mkdir -p "$T/fmnt"
expect_fail "fstab form, no store at the path" "no store at '$T/nostore'" "$PIFS" "$T/nostore" "$T/fmnt" -o allow_other
expect_fail "fstab form, a directory that is no store" "'$T/golden' is not a pifs store" "$PIFS" "$T/golden" "$T/fmnt" -o allow_other
mountpoint -q "$T/fmnt" && fail "a refused fstab mount left '$T/fmnt' mounted" || ok "a refused fstab mount mounts nothing"
mount_pifs "$S" "$M"
mkdir -p "$T/mnt2"
expect_fail "store already mounted by another daemon" "already mounted.*$PIFSD_PID" "$PIFSD" "$S" "$T/mnt2" -f
expect_fail "store already mounted (pifs mount)" "already mounted" "$PIFS" mount "$S" "$T/mnt2"
expect_fail "mountpoint busy" "mountpoint '$M' is busy" "$PIFSD" "$T/store" "$M" -f
# What the pifsd that `pifs mount` (and so an fstab line) starts says
# begins "pifs: ", as every pifs error does, and libfuse's complaint
# about an option is one line of it (log= keeps a machine without
# /dev/log from adding its own line about the log).
"$PIFS" init "$T/store2" --golden "$T/golden" >/dev/null 2>&1 || fail "init store2"
expect_fail "mountpoint busy (pifs mount)" "^pifs: mountpoint '$M' is busy \(already mounted\)\$" \
	"$PIFS" --store "$T/store2" mount "$M" -o log="$T/store2.log"
expect_fail "mountpoint busy (fstab form)" "^pifs: mountpoint '$M' is busy \(already mounted\)\$" \
	"$PIFS" "$T/store2" "$M" -o allow_other,log="$T/store2.log"
expect_fail "unknown mount option (pifs mount)" "^pifs: bad mount options: unknown option\(s\): \`-o bogus'\$" \
	"$PIFS" --store "$T/store2" mount "$T/mnt2" -o bogus,log="$T/store2.log"
expect_fail "unknown mount option (pifsd)" "^pifsd: bad mount options: unknown option\(s\): \`-o bogus'\$" \
	"$PIFSD" "$T/store2" "$T/mnt2" -o bogus,log="$T/store2.log"
mountpoint -q "$T/mnt2" && fail "a refused mount left '$T/mnt2' mounted" || ok "the refused mounts mount nothing"
expect_fail "remove while mounted" "mounted" $W remove worker-1
[ -d "$M/nfsroot/worker-1" ] && ok "worker-1 still served" || fail "worker-1 gone after a refused remove"
expect_eq "nothing changed by the refused mounts" "$before" "$(snap)"

# a forced remove keeps the delta, and says where
echo precious > "$M/nfsroot/worker-1/root/precious"
out=$($W remove worker-1 --force 2>&1) || fail "forced remove"
kept=$(ls -d "$S"/deltas/.removed-worker-1-* 2>/dev/null | head -1)
[ -n "$kept" ] && [ "$(cat "$kept/root/precious")" = precious ] && ok "forced remove kept the delta ($out)" || fail "forced remove lost the delta: $out"
for _ in $(seq 1 20); do [ -e "$M/nfsroot/worker-1" ] || break; sleep 0.1; done
[ -e "$M/nfsroot/worker-1" ] && fail "removed worker still served" || ok "removed worker disappears from the mount"
$W add worker-5 --serial 5555aaaa >/dev/null && [ -d "$M/nfsroot/worker-5/etc" ] && ok "worker added while mounted is served" || fail "new worker not served"

# enrolment (issue 21): pifs enroll and worker accept; a board enrolled
# by its serial first, so that accept has an enrolled worker to refuse
E="$PIFS --store $S enroll"
"$PIFS" --store "$S" enroll on >/dev/null || fail "enroll on"
[ -d "$M/tftpboot/9ffefdef" ] && ok "an unknown serial enrolled" || fail "9ffefdef not enrolled"
EN=$($W list | awk '$7 == "9ffefdef" { print $1 }')
expect_eq "enrolment takes no removed worker's name (its kept delta, its snapshots)" worker-2 "$EN"
before=$(snap)
expect_fail "enroll on --max 0" "bad --max '0' \(want 1 to 1000\)" $E on --max 0
expect_fail "enroll on --max -1" "bad --max '-1' \(want 1 to 1000\)" $E on --max -1
expect_fail "enroll on --max abc" "bad --max 'abc' \(want 1 to 1000\)" $E on --max abc
expect_fail "enroll on --max 1001" "bad --max '1001' \(want 1 to 1000\)" $E on --max 1001
expect_fail "enroll on --max without N" "option '--max' needs an argument" $E on --max
expect_fail "enroll bogus" "unknown enroll setting 'bogus' \(want on or off\)" $E bogus
expect_fail "enroll off --max 3" "--max goes with 'enroll on'" $E off --max 3
expect_fail "enroll on on" "unexpected argument 'on'" $E on on
expect_fail "accept of an unknown worker" "no worker 'nosuch' in store '$S'" $W accept nosuch
expect_fail "accept without a name" "worker accept needs a NAME" $W accept
expect_fail "accept of a worker not enrolled" "worker 'worker-5' is not enrolled \(it was added or accepted already\)" $W accept worker-5
expect_fail "accept of a Pi 4 whose MAC is unknown" "worker '$EN' is a pi4 that enrolled by its serial: its MAC is not known, accept it with --mac MAC" \
	$W accept "$EN"
expect_fail "accept with a bad mac" "bad mac 'zz'" $W accept "$EN" --mac zz
expect_fail "accept with another worker's mac" "mac b8:27:eb:07:bc:c6 is already worker-3's" $W accept "$EN" --mac b8:27:eb:07:bc:c6
expect_fail "accept with another serial" "worker '$EN' has serial 9ffefdef, not 12345678" $W accept "$EN" --mac dc:a6:32:00:00:09 --serial 12345678
expect_fail "dnsmasq-conf --hosts-dir relative" "--hosts-dir needs an absolute path" "$PIFS" --store "$S" dnsmasq-conf --hosts-dir hosts
expect_fail "dnsmasq-conf --hosts-dir with --proxy" "--hosts-dir needs dnsmasq as the DHCP server" \
	"$PIFS" --store "$S" dnsmasq-conf --proxy --hosts-dir "$T/hosts"
[ -e "$T/hosts" ] && fail "a refused --hosts-dir created '$T/hosts'" || ok "a refused --hosts-dir creates nothing"
expect_eq "nothing changed by the bad enroll and accept commands" "$before" "$(snap)"
expect_eq "the enrolled worker is still marked" enrolled "$($W list | awk -v n="$EN" '$1 == n { print $8 }')"
umount_pifs "$M"
finish
