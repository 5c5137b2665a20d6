#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-enroll.sh - zero-touch enrolment (pifs enroll on) end to end, on the
# boot network of lib-rom.sh: real dnsmasq configured by `pifs
# dnsmasq-conf --hosts-dir`, serving the pifs mount's tftpboot/, and the
# boot-ROM simulator.
#  1. enrolment off (the default): an unknown Pi 4 finds nothing, the
#     registry is unchanged and pifsd logs the `pifs worker add` line.
#  2. on: an unknown Pi 4 and an unknown Pi 3B+ boot at the same time;
#     each becomes its own worker-N (the Pi 3B+ a pi3b+ with its MAC, the
#     Pi 4 a pi4: the first file each asked for), every file byte for byte
#     as in the new worker's view, `worker list` (and --json) marks both
#     enrolled, dnsmasq's reservations file and `pifs exports` cover them.
#  3. the Pi 3B+ boots again: dnsmasq offers it its registered address
#     (the reservations file, read by dnsmasq without a signal).
#     dnsmasq's dhcp-script (pifs dhcp-event) gives the Pi 4 its MAC: its
#     lease and the files it fetched.
#  4. the Pi 4 is accepted and boots again: its registered address too.
#  5. 20 concurrent requests for one new name: one worker.
#  6. a flood of 100 made-up serials (raw TFTP requests) registers only
#     up to the cap, which is logged once.
#  7. pifsd killed (-9) while boards enrol, five times: the store is
#     consistent (fsck, the registry parses, every worker has its delta)
#     and every enrolled worker is served after the remount.
#
# Network: only inside the namespaces lib-rom.sh makes (and an address of
# the Pis' namespace, 10.1.1.99, for the raw TFTP sender); everything is
# removed on exit.  Needs: iproute2, dnsmasq-base.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/lib-rom.sh"

setup
trap 'rom_cleanup; cleanup' EXIT
trap 'exit 130' INT TERM HUP
rom_net_up || finish

S=$T/store
pifs() { "$PIFS" --store "$S" "$@"; }
bash "$PIFS_SRCDIR/tools/mkgolden.sh" "$T/golden" || { fail "mkgolden"; finish; }
"$PIFS" init "$S" --golden "$T/golden" >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "pifs init"; finish; }
pifs worker add worker-1 --serial 77b655ec --ip 10.1.1.1 >/dev/null || { fail "worker add worker-1"; finish; }
mount_pifs "$S" "$T/mnt"
M=$T/mnt
chmod 711 "$T" # dnsmasq drops root and must reach the mount

HOSTS=$T/hosts
rom_dnsmasq "$S" "$M/tftpboot" --hosts-dir "$HOSTS" || finish
grep -qx "dhcp-hostsdir=$HOSTS" "$T/dnsmasq.conf" && ! grep -q '^dhcp-host=' "$T/dnsmasq.conf" &&
	grep -qx "dhcp-script=$S/dhcp-event" "$T/dnsmasq.conf" && [ -x "$S/dhcp-event" ] &&
	ok "dnsmasq-conf --hosts-dir: dhcp-hostsdir and dhcp-script, no inline dhcp-host lines" ||
	{ cat "$T/dnsmasq.conf"; fail "dnsmasq-conf --hosts-dir output"; }
expect_eq "reservations file as dnsmasq-conf wrote it" "b8:27:eb:b6:55:ec,10.1.1.1,worker-1" \
	"$(grep -v '^#' "$HOSTS/pifs-workers" 2>/dev/null)"

# row NAME FIELD: a field of `pifs worker list` (1 NAME, 2 SERIAL, 3 MAC,
# 4 IP, 5 ID, 6 MODEL, 7 TFTP-DIR, 8 STATE)
row() { pifs worker list | awk -v n="$1" -v f="$2" '$1 == n { print $f }'; }
# by_dir DIR: the worker whose TFTP directory is DIR
by_dir() { pifs worker list | awk -v d="$1" '$7 == d { print $1 }'; }
enrolled_count() { pifs worker list | awk 'NR > 1 && $8 == "enrolled"' | wc -l; }

# check_files SERIAL WORKER DIR: every file the simulator got is the
# worker's view's, byte for byte
check_files() {
	local s=$1 w=$2 d=$3 view=$M/nfsroot/$2/boot/firmware f n=0 bad=0
	while read -r _ f _; do
		case $f in */*) ;; *) continue ;; esac # bootcode.bin: the root's
		n=$((n + 1))
		cmp -s "$view/${f#"$d"/}" "$T/out-$s/$f" || { bad=1; fail "$w: $f differs from its view's ${f#"$d"/}"; }
	done < <(grep '^sent ' "$T/rom-$s.out")
	if [ $bad = 0 ] && [ $n -ge 8 ]; then
		ok "$w: all $n files of its directory byte for byte as in its view"
	elif [ $bad = 0 ]; then
		fail "$w: only $n files received"
	fi
	grep -q "nfsroot=10.1.1.100:/nfsroot/$w," "$T/out-$s/$d/cmdline.txt" 2>/dev/null &&
		ok "$w: its generated cmdline.txt mounts /nfsroot/$w" || fail "$w: cmdline.txt does not name /nfsroot/$w"
}

# ---- 1. enrolment off: today's behaviour ----
expect_eq "pifs enroll: off by default" "enroll off (at most 5 enrolled and not accepted; 0 now)" "$(pifs enroll)"
cp "$S/workers" "$T/workers.before"
rom_add_pi 9ffefdef dc:a6:32:01:36:c2 || { fail "macvlan for 9ffefdef"; finish; }
rom_boot 9ffefdef --model pi4
rom_wait "$!"
expect_eq "off: the unknown Pi 4 stops for want of start4.elf (exit 4)" 4 $?
cmp -s "$T/workers.before" "$S/workers" && ok "off: registry unchanged" || fail "off: the registry changed"
grep -q "boot request for unregistered serial 9ffefdef: register it with 'pifs worker add NAME --serial 9ffefdef'" \
	"$T/pifsd.log" && ok "off: pifsd logs the worker add line" || fail "off: no 'worker add' line in pifsd's log"
[ ! -e "$M/nfsroot/worker-2" ] && ok "off: no worker-2 in nfsroot/" || fail "off: nfsroot/worker-2 exists"

# ---- 2. on: a Pi 4 and a Pi 3B+, unknown, at the same time ----
expect_eq "pifs enroll on" "enroll on (at most 5 enrolled and not accepted)" "$(pifs enroll on)"
grep -qx "enroll on 5" "$S/pifs.conf" && ok "pifs.conf records the setting" || fail "pifs.conf: $(cat "$S/pifs.conf")"
rm -rf "$T/out-9ffefdef"
rom_add_pi 0badc0de || { fail "macvlan for 0badc0de"; finish; }
rom_boot 9ffefdef --model pi4
p4=$!
rom_boot 0badc0de
p3=$!
rom_wait "$p4"
rc4=$?
rom_wait "$p3"
rc3=$?
expect_eq "on: the unknown Pi 4 boots (exit 0)" 0 "$rc4"
[ "$rc4" = 0 ] || cat "$T/rom-9ffefdef.out"
expect_eq "on: the unknown Pi 3B+ boots (exit 0)" 0 "$rc3"
[ "$rc3" = 0 ] || cat "$T/rom-0badc0de.out"
W4=$(by_dir 9ffefdef)
W3=$(by_dir 0badc0de)
expect_eq "on: the two boards are worker-2 and worker-3" "worker-2 worker-3" "$(printf '%s\n' "$W4" "$W3" | sort | tr '\n' ' ' | sed 's/ $//')"
IP4=$(row "$W4" 4)
IP3=$(row "$W3" 4)
# dnsmasq runs its dhcp-script (STORE/dhcp-event) after the fact, one
# event at a time: its lease and its files join the Pi 4 to its MAC
# (the registry first, then the reservations file)
for _ in $(seq 1 100); do
	[ "$(row "$W4" 3)" != - ] && grep -q "$W4\$" "$HOSTS/pifs-workers" && break
	sleep 0.1
done
expect_eq "on: the Pi 4 ($W4) as listed, its MAC from dnsmasq's events" "9ffefdef dc:a6:32:01:36:c2 pi4 9ffefdef enrolled" \
	"$(row "$W4" 2) $(row "$W4" 3) $(row "$W4" 6) $(row "$W4" 7) $(row "$W4" 8)"
grep -q "enrolled $W4 has mac dc:a6:32:01:36:c2 (its files went to " "$T/dnsmasq.log" &&
	ok "on: dnsmasq logs the script's line" || fail "on: no dhcp-event line in dnsmasq's log"
expect_eq "on: the Pi 3B+ ($W3) as listed: its first file made it a pi3b+ with its MAC" \
	"0badc0de b8:27:eb:ad:c0:de pi3b+ 0badc0de enrolled" \
	"$(row "$W3" 2) $(row "$W3" 3) $(row "$W3" 6) $(row "$W3" 7) $(row "$W3" 8)"
expect_eq "on: worker-1 is not marked" "-" "$(row worker-1 8)"
case "$IP4 $IP3" in
"10.1.1.2 10.1.1.3" | "10.1.1.3 10.1.1.2") ok "on: the next free addresses ($IP4, $IP3)" ;;
*) fail "on: addresses '$IP4' '$IP3', not 10.1.1.2 and 10.1.1.3" ;;
esac
json=$(pifs worker list --json)
for w in "$W4" "$W3"; do
	grep -q "\"name\":\"$w\",[^}]*\"enrolled\":true" <<<"$json" && ok "--json: $w enrolled" ||
		fail "--json: $w not enrolled: $json"
done
grep -q '"name":"worker-1",[^}]*"enrolled":false' <<<"$json" && ok "--json: worker-1 not enrolled" ||
	fail "--json: worker-1: $json"
check_files 9ffefdef "$W4" 9ffefdef
check_files 0badc0de "$W3" 0badc0de
expect_eq "on: one log line per enrolment" "1 1" \
	"$(grep -c "enrolled 9ffefdef as $W4: pi4, serial 9ffefdef, ip $IP4" "$T/pifsd.log") $(grep -c "enrolled 0badc0de as $W3: pi4, serial 0badc0de" "$T/pifsd.log")"
mountpoint -q "$M/nfsroot/$W4" && mountpoint -q "$M/nfsroot/$W3" &&
	ok "on: both new workers' file systems are mounted" || fail "on: nfsroot/$W4 or $W3 not mounted"
grep -qx "b8:27:eb:ad:c0:de,$IP3,$W3" "$HOSTS/pifs-workers" && ok "on: the Pi 3B+'s reservation is in $HOSTS/pifs-workers" ||
	fail "on: reservations: $(cat "$HOSTS/pifs-workers")"
grep -qx "dc:a6:32:01:36:c2,$IP4,$W4" "$HOSTS/pifs-workers" && ok "on: the Pi 4's reservation too" ||
	fail "on: reservations: $(cat "$HOSTS/pifs-workers")"
pifs exports >"$T/exports" || fail "pifs exports"
for wi in "$W4:$IP4" "$W3:$IP3"; do
	grep -q "^/nfsroot/${wi%%:*} ${wi#*:}(rw," "$T/exports" && ok "exports: ${wi%%:*} open to ${wi#*:}" ||
		fail "exports: no line for ${wi%%:*}"
done

# ---- 3. the Pi 3B+ again: its registered address ----
rm -rf "$T/out-0badc0de"
rom_boot 0badc0de
rom_wait "$!"
expect_eq "again: the Pi 3B+ boots" 0 $?
expect_eq "again: dnsmasq offers the Pi 3B+ its registered address" "offer yiaddr=$IP3" \
	"$(grep -m1 -o '^offer yiaddr=[0-9.]*' "$T/rom-0badc0de.out")"
expect_eq "again: no new worker" 3 "$(($(pifs worker list | wc -l) - 1))"

# ---- 4. accept the Pi 4 (its MAC as dnsmasq's events told): its address ----
expect_eq "accept" "accepted $W4: pi4 serial 9ffefdef mac dc:a6:32:01:36:c2 ip $IP4" \
	"$(pifs worker accept "$W4" --mac DC:A6:32:01:36:C2)"
expect_eq "accept: no longer marked" "dc:a6:32:01:36:c2 -" "$(row "$W4" 3) $(row "$W4" 8)"
rm -rf "$T/out-9ffefdef"
rom_boot 9ffefdef --model pi4
rom_wait "$!"
expect_eq "accepted Pi 4 boots" 0 $?
expect_eq "accepted Pi 4: dnsmasq acknowledges its registered address" "ack yiaddr=$IP4" \
	"$(grep -m1 -o '^ack yiaddr=[0-9.]*' "$T/rom-9ffefdef.out")"

# ---- 5. one new name asked for by 20 requests at once: one worker ----
pids=()
for i in $(seq 1 20); do
	cat "$M/tftpboot/1234abcd/config.txt" >"$T/cat-$i" 2>&1 &
	pids+=("$!")
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
expect_eq "20 concurrent requests for 1234abcd: all served" 0 "$bad"
expect_eq "20 concurrent requests for 1234abcd: one worker" 1 "$(pifs worker list | awk '$7 == "1234abcd"' | wc -l)"
W5=$(by_dir 1234abcd)
cmp -s "$T/cat-1" "$M/nfsroot/$W5/boot/firmware/config.txt" && ok "1234abcd: served its worker's config.txt" ||
	fail "1234abcd: config.txt differs from $W5's"
expect_eq "1234abcd: asked for config.txt first, so taken for a pi5" pi5 "$(row "$W5" 6)"

# ---- 5b. what reaches dnsmasq's script from the LAN is checked ----
cp "$S/workers" "$T/workers.5b"
rcs=
for ev in "add not-a-mac 10.1.1.51" "old dc:a6:32:99:99:99 10.1.1.300" "bogus x y" "tftp" \
	"tftp 10 10.1.1.52 /x/../1234abcd" "arp-add dc:a6:32:99:99:98 10.1.1.53" \
	"add b8:27:eb:b6:55:ec 10.1.1.50" "tftp 10 10.1.1.50 $M/tftpboot/1234abcd/config.txt"; do
	# shellcheck disable=SC2086 # the event's words
	pifs dhcp-event $ev 2>>"$T/events.err"
	rcs+="$? "
done
expect_eq "dhcp-event: every event exits 0 (dnsmasq keeps calling it)" "0 0 0 0 0 0 0 0 " "$rcs"
cmp -s "$T/workers.5b" "$S/workers" && ok "dhcp-event: nothing taken from bad events, nor worker-1's MAC for 1234abcd" ||
	fail "dhcp-event: the registry changed: $(diff "$T/workers.5b" "$S/workers" | tr '\n' '|')"
grep -q "$W5 asked from 10.1.1.50, whose mac b8:27:eb:b6:55:ec is already worker-1's: not taken" "$T/events.err" &&
	ok "dhcp-event: says why it took no MAC" || fail "dhcp-event: $(cat "$T/events.err")"
grep -Eq '10\.1\.1\.(51|52|53)|300|not-a-mac' "$S/dhcp-seen" && fail "dhcp-event kept a bad event: $(cat "$S/dhcp-seen")" ||
	ok "dhcp-event: keeps nothing of the bad events"

# ---- 6. a flood of 100 made-up serials, raw TFTP requests ----
# enrolled now: the Pi 3B+ and 1234abcd; the cap (5) leaves room for 3
expect_eq "enrolled before the flood" 2 "$(enrolled_count)"
ip -n "$NSW" addr add 10.1.1.99/24 dev "$VW" || { fail "address for the TFTP sender"; finish; }
FLOOD=$(for i in $(seq 1 100); do printf 'f%07x\n' "$i"; done)
# shellcheck disable=SC2016 # expanded by the inner bash
nsenter --net="/run/netns/$NSW" bash -c 'for s in '"$(tr '\n' ' ' <<<"$FLOOD")"'; do
	printf "\0\001%s/start4.elf\0octet\0" "$s" >/dev/udp/10.1.1.100/69; done' ||
	fail "the raw TFTP sender"
# done when every request got its answer: dnsmasq's "not found", or a
# worker registered for it (dnsmasq then sends its start4.elf to a port
# nobody listens on); bounded
flood_reg() { pifs worker list | awk '$7 ~ /^f[0-9a-f]+$/ && length($7) == 8' | wc -l; }
flood_nf() { grep -Ec "file $M/tftpboot/f[0-9a-f]+/start4.elf not found" "$T/dnsmasq.log"; }
for _ in $(seq 1 600); do
	[ $(($(flood_nf) + $(flood_reg))) -ge 100 ] && break
	sleep 0.1
done
nf=$(flood_nf)
nreg=$(flood_reg)
expect_eq "flood: every request answered" 100 $((nf + nreg))
expect_eq "flood: only the cap's 3 registered" 3 "$nreg"
expect_eq "flood: the others not found" 97 "$nf"
expect_eq "flood: enrolled now, the cap" 5 "$(enrolled_count)"
expect_eq "flood: the cap logged once" 1 "$(grep -c 'enrolled and not accepted, the most' "$T/pifsd.log")"
expect_eq "flood: no 'worker add' line per made-up name" 0 "$(grep -c 'unregistered serial f' "$T/pifsd.log")"

# ---- 7. kill -9 while boards enrol, then remount ----
kill "$DNSMASQ_PID" 2>/dev/null
wait "$DNSMASQ_PID" 2>/dev/null
pifs enroll on --max 200 >/dev/null || fail "enroll on --max 200"
n=0
for round in 1 2 3 4 5; do
	pids=()
	for i in $(seq 1 8); do
		n=$((n + 1))
		stat "$M/tftpboot/$(printf 'c%07x' "$n")" >/dev/null 2>&1 &
		pids+=("$!")
	done
	sleep "0.0$round"
	kill -9 "$PIFSD_PID"
	# A pifsd killed while it mounted a new worker's file system (the
	# enrolment's registry change starts that) once kept a thread in
	# the kernel on its own top mount; the walk is now a helper's
	# (fs/selfmount.c, t-kill-mount).  umount -f stays as the admin's
	# first step after a crash: it aborts whatever is left.
	umount -f "$M" 2>/dev/null
	wait "$PIFSD_PID" 2>/dev/null
	for p in "${pids[@]}"; do wait "$p"; done
	for mp in $(awk -v m="$M" '$2 == m || index($2, m "/") == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount -l "$mp" 2>/dev/null
	done
	if ! pifs worker list >"$T/list-$round" 2>&1; then
		fail "kill $round: the registry does not parse: $(cat "$T/list-$round")"
		continue
	fi
	pifs fsck >"$T/fsck-$round" 2>&1 && ok "kill $round: fsck clean ($(($(wc -l <"$T/list-$round") - 1)) workers)" ||
		fail "kill $round: fsck: $(cat "$T/fsck-$round")"
	mount_pifs "$S" "$M"
	bad=0
	k=0
	for d in $(awk 'NR > 1 && $7 ~ /^c[0-9a-f]+$/ { print $7 }' "$T/list-$round"); do
		k=$((k + 1))
		[ -f "$M/tftpboot/$d/start4.elf" ] || { bad=1; fail "kill $round: $d not served after the remount"; }
	done
	[ $bad = 0 ] && ok "kill $round: all $k workers enrolled so far served after the remount"
done
expect_eq "after the kills: no half-made delta left in work/" "" "$(ls -A "$S/work" 2>/dev/null | grep enroll)"

umount_pifs "$M"
finish
