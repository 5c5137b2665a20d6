#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copy-on-write and isolation: a write through worker-3's view lands in
# worker-3's delta only; worker-1 and the golden are untouched; a delete is
# a whiteout; all of it survives a remount.
. "$(dirname "$0")/lib.sh"
mounted_store
D1=$T/store/deltas/worker-1

expect_eq "nfsroot lists the workers" "worker-1 worker-3" "$(ls "$M/nfsroot" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "mount root lists nfsroot and tftpboot" "nfsroot tftpboot" "$(ls "$M" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "golden motd through worker-1" "$(cat "$T/golden/etc/motd")" "$(cat "$W1/etc/motd")"
cmp -s "$T/golden/boot/firmware/kernel8.img" "$W3/boot/firmware/kernel8.img" && ok "kernel8.img bytes through worker-3" || fail "kernel8.img differs"

ino_before=$(stat -c %i "$W3/etc/motd")
echo hi > "$W3/etc/motd"
expect_eq "worker-3 sees its write" "hi" "$(cat "$W3/etc/motd")"
expect_eq "worker-1 still sees the golden" "$(cat "$T/golden/etc/motd")" "$(cat "$W1/etc/motd")"
expect_eq "write landed in worker-3's delta" "hi" "$(cat "$D3/etc/motd" 2>&1)"
[ -e "$D1/etc/motd" ] && fail "worker-1's delta got etc/motd" || ok "worker-1's delta untouched"
expect_eq "golden file unchanged" "Welcome to the pifs demo golden image." "$(cat "$T/golden/etc/motd")"
expect_eq "st_ino stable across copy-up" "$ino_before" "$(stat -c %i "$W3/etc/motd")"
expect_eq "copy-up kept the mode" "644" "$(stat -c %a "$W3/etc/motd")"
[ "$(stat -c %i "$W3/etc/motd")" != "$(stat -c %i "$W1/etc/motd")" ] && ok "views have distinct inode numbers" || fail "same st_ino in two views"

echo only-one > "$W1/root/new.txt"
[ -e "$W3/root/new.txt" ] && fail "worker-3 sees worker-1's new file" || ok "new file only in worker-1"

rm "$W3/usr/bin/perl5.36.0"
[ -e "$W3/usr/bin/perl5.36.0" ] && fail "deleted file still visible" || ok "delete visible in worker-3"
[ -e "$W1/usr/bin/perl5.36.0" ] && ok "worker-1 keeps the file" || fail "worker-1 lost the file"
expect_eq "delete is a whiteout (char 0:0) in the delta" "character special file 0:0" "$(stat -c '%F %t:%T' "$D3/usr/bin/perl5.36.0" 2>&1)"
ls "$W3/usr/bin" | grep -qx perl5.36.0 && fail "readdir shows the whited-out file" || ok "readdir hides the whiteout"

# A golden directory's link count is the same whichever way it got into
# the delta: an open for writing of a file in it (an implicit copy-up),
# a create in it, a reset (it is one, "not counted", for every directory
# the golden has a part of); a directory only the delta has counts.
d=usr/share/doc/pkg5
n0=$(stat -c %h "$W3/$d")
exec 8>>"$W3/$d/copyright"
exec 8>&-
[ -d "$D3/$d" ] || fail "an open for writing did not copy '$d' up"
n1=$(stat -c %h "$W3/$d")
touch "$W3/$d/new"
n2=$(stat -c %h "$W3/$d")
expect_eq "a golden dir's link count: before, after an implicit copy-up, after a create" "1 1 1" "$n0 $n1 $n2"
mkdir -p "$W3/srv/own/a" "$W3/srv/own/b"
expect_eq "a directory only the delta has counts its subdirectories" 4 "$(stat -c %h "$W3/srv/own")"

out=$("$PIFS" --store "$T/store" verify 2>&1); rc=$?
expect_eq "pifs verify after writes (exit)" 0 "$rc"

umount_pifs "$M"
mount_pifs "$T/store" "$M"
expect_eq "write survives remount" "hi" "$(cat "$W3/etc/motd")"
[ -e "$W3/usr/bin/perl5.36.0" ] && fail "delete lost on remount" || ok "delete survives remount"
expect_eq "st_ino stable across remount" "$ino_before" "$(stat -c %i "$W3/etc/motd")"
umount_pifs "$M"
finish
