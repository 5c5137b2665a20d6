#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Crash safety: kill -9 the daemon in the middle of writes and copy-ups, at
# several points; after a remount no file is torn (a copied-up file is the
# whole golden file plus whole appended lines), nothing acknowledged by
# fsync is lost, the work dir is cleaned and the golden verifies clean.
. "$(dirname "$0")/lib.sh"
setup
make_store
M=$T/mnt
W3=$M/nfsroot/worker-3
ACK=$T/acked
: > "$ACK"
GOLD_KSIZE=$(stat -c %s "$T/golden/boot/firmware/kernel8.img")

# The load: copy-ups of golden files (big and small), appends, new files
# written with fsync (their names logged only after fsync returned).
load() {
	local round=$1 i
	for i in $(seq 1 400); do
		{ echo "line $round.$i" >> "$W3/usr/share/doc/pkg$(( (i % 40) + 1 ))/copyright"; } 2>/dev/null || return
		if [ $((i % 25)) = 0 ]; then
			{ echo "k $round.$i" >> "$W3/boot/firmware/kernel8.img"; } 2>/dev/null || return
			chmod 600 "$W3/usr/bin/perl" 2>/dev/null || return
		fi
		printf 'file %s.%s\n' "$round" "$i" | dd of="$W3/root/f.$round.$i" conv=fsync status=none 2>/dev/null || return
		echo "root/f.$round.$i" >> "$ACK"
	done
}

# A kill lands mid-load when the round acknowledged some of its 400 files
# but not all; a copy-up staged in work/ when the daemon died is a kill in
# the middle of a copy-up (counted, not required: that window is short).
midload=0 midcopy=0
for round in 1 2 3 4 5; do
	mount_pifs "$T/store" "$M"
	acked0=$(wc -l < "$ACK")
	load "$round" &
	LOAD=$!
	sleep "0.$(( (round * 37) % 9 + 1 ))"
	kill -9 "$PIFSD_PID"
	wait "$LOAD" 2>/dev/null
	wait "$PIFSD_PID" 2>/dev/null
	umount -l "$M" 2>/dev/null || fusermount3 -uz "$M" 2>/dev/null
	n=$(( $(wc -l < "$ACK") - acked0 ))
	[ "$n" -gt 0 ] && [ "$n" -lt 400 ] && midload=$((midload + 1))
	[ -n "$(ls -A "$T/store/work")" ] && midcopy=$((midcopy + 1))
	ok "round $round: daemon killed after $n of this round's 400 files were acknowledged"
done
[ "$midload" -gt 0 ] && ok "$midload of 5 kills landed mid-load ($midcopy with a copy-up staged in work/)" ||
	fail "no kill landed mid-load"

mount_pifs "$T/store" "$M"
left=$(ls -A "$T/store/work" | wc -l)
expect_eq "work dir cleaned at start" 0 "$left"
lost=0
while read -r f; do
	n=${f#root/f.}
	[ "$(cat "$W3/$f" 2>/dev/null)" = "file $n" ] || { lost=$((lost + 1)); echo "lost or torn: $f"; }
done < "$ACK"
expect_eq "fsync-acknowledged files intact" 0 "$lost"
torn=0
for i in $(seq 1 40); do
	f=usr/share/doc/pkg$i/copyright
	g=$(cat "$T/golden/$f")
	v=$(cat "$W3/$f")
	case $v in
	"$g"*) rest=${v#"$g"}; printf '%s\n' "$rest" | grep -Evq '^(line [0-9]+\.[0-9]+)?$' && { torn=$((torn + 1)); echo "bad tail in $f"; } ;;
	*) torn=$((torn + 1)); echo "torn copy-up: $f" ;;
	esac
done
expect_eq "copied-up small files whole" 0 "$torn"
ksize=$(stat -c %s "$W3/boot/firmware/kernel8.img")
cmp -s -n "$GOLD_KSIZE" "$T/golden/boot/firmware/kernel8.img" "$W3/boot/firmware/kernel8.img" \
	&& ok "kernel8.img: golden prefix whole ($ksize bytes)" || fail "kernel8.img copy-up torn"
tail -c $((ksize - GOLD_KSIZE)) "$W3/boot/firmware/kernel8.img" | grep -Evq '^(k [0-9]+\.[0-9]+)?$' \
	&& fail "kernel8.img: partial appended line" || ok "kernel8.img: appended lines whole"
expect_eq "perl still one file with its link" "$(stat -c %i "$W3/usr/bin/perl")" "$(stat -c %i "$W3/usr/bin/perl5.36.0")"
"$PIFS" --store "$T/store" verify >/dev/null 2>&1 && ok "golden verifies clean" || fail "golden changed"
umount_pifs "$M"
finish
