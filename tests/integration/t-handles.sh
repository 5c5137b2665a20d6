#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Built for NFS: file handles taken with name_to_handle_at (what nfsd and
# NFS-Ganesha hand to clients) stay valid across copy-up, rename, unmount
# and a daemon restart; a deleted file's handle is stale, not another file.
# A handle is opened through its worker's own file system (what its export
# is); through another worker's, or the top, it is stale.
. "$(dirname "$0")/lib.sh"
setup
FH=$PIFS_BUILDDIR/tests/tools/fhandle
[ -x "$FH" ] || { fail "tests/tools/fhandle not built (make check builds it)"; finish; }
make_store
M=$T/mnt
mount_pifs "$T/store" "$M"
W3=$M/nfsroot/worker-3
H=$T/handles
mkdir -p "$H"

echo "upper file" > "$W3/root/new.txt"
mkdir -p "$W3/srv/newdir"
echo gone > "$W3/root/gone.txt"
for p in etc/passwd etc/motd root/new.txt usr/share/doc usr/share/doc/pkg5/copyright srv/newdir boot/firmware/config.txt root/gone.txt; do
	"$FH" save "$W3/$p" "$H/$(echo "$p" | tr / _)" || fail "name_to_handle_at $p"
done
"$FH" save "$W3" "$H/root" || fail "handle of the view root"

# An open of a golden file follows its copy-up: an NFS server keeps one
# fd per file for all its clients, so the next read through that fd must
# show what was written (the golden fd would show the old bytes forever).
exec 7< "$W3/usr/share/doc/pkg3/copyright"
expect_eq "read before copy-up" "Copyright 3" "$(dd bs=11 count=1 status=none <&7)"
printf 'WRITTEN' | dd of="$W3/usr/share/doc/pkg3/copyright" conv=notrunc status=none
expect_eq "an fd opened before copy-up reads the copy" "WRITTEN" "$(perl -e 'sysseek(STDIN,0,0); sysread(STDIN,$b,7); print $b' <&7)"
exec 7<&-
expect_eq "the golden keeps its bytes" "Copyright 3" "$(head -c 11 "$T/golden/usr/share/doc/pkg3/copyright")"

# copy-up under a live handle
echo "after copy-up" >> "$W3/etc/motd"
expect_eq "handle follows copy-up" "$(cat "$W3/etc/motd")" "$("$FH" cat "$W3" "$H/etc_motd")"
# rename under a live handle
mv "$W3/usr/share/doc" "$W3/usr/share/doc-moved"
expect_eq "handle follows a golden dir rename" "$(stat -c %i "$W3/usr/share/doc-moved")" "$("$FH" ino "$W3" "$H/usr_share_doc")"
rm "$W3/root/gone.txt"

# restart the daemon: a new process, a new kernel superblock, no cache
umount_pifs "$M"
mount_pifs "$T/store" "$M"
expect_eq "golden file after restart" "$(cat "$T/golden/etc/passwd")" "$("$FH" cat "$W3" "$H/etc_passwd" 2>&1)"
expect_eq "copied-up file after restart" "$(cat "$W3/etc/motd")" "$("$FH" cat "$W3" "$H/etc_motd" 2>&1)"
expect_eq "upper-only file after restart" "upper file" "$("$FH" cat "$W3" "$H/root_new.txt" 2>&1)"
expect_eq "file inside a renamed golden dir after restart" "$(cat "$W3/usr/share/doc-moved/pkg5/copyright")" "$("$FH" cat "$W3" "$H/usr_share_doc_pkg5_copyright" 2>&1)"
expect_eq "renamed golden dir after restart" "$(stat -c %i "$W3/usr/share/doc-moved")" "$("$FH" ino "$W3" "$H/usr_share_doc" 2>&1)"
expect_eq "upper-only dir after restart" "$(stat -c %i "$W3/srv/newdir")" "$("$FH" ino "$W3" "$H/srv_newdir" 2>&1)"
expect_eq "view root after restart" "$(stat -c %i "$W3")" "$("$FH" ino "$W3" "$H/root" 2>&1)"
expect_eq "boot file after restart" "$(cat "$T/golden/boot/firmware/config.txt")" "$("$FH" cat "$W3" "$H/boot_firmware_config.txt" 2>&1)"
expect_fail "deleted file's handle is stale" "Stale file handle" "$FH" cat "$W3" "$H/root_gone.txt"
# a new file that may reuse the deleted file's inode number must not answer
# the old handle
for i in $(seq 1 20); do echo "reuse $i" > "$W3/root/reuse$i"; done
expect_fail "old handle never names a new file" "Stale file handle" "$FH" cat "$W3" "$H/root_gone.txt"
# Each worker is a file system of its own: worker-3's handles name
# nothing in worker-1's or in the top (t-isolation forges them).
expect_fail "worker-3's handle through worker-1's file system" "Stale file handle" "$FH" cat "$M/nfsroot/worker-1" "$H/etc_passwd"
expect_fail "worker-3's handle through the top" "Stale file handle" "$FH" cat "$M" "$H/etc_passwd"
expect_eq "the view root is node 1 of its file system" 1 "$(stat -c %i "$W3")"
umount_pifs "$M"
finish
