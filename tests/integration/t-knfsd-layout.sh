#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The seed's master under the kernel NFS server (an amd64 guest:
# lib-knfsd.sh), set up as the README says: `pifs init /var/lib/pifs
# --master 10.1.1.100`, worker-1 and worker-3, `pifs exports >
# /etc/exports.d/pifs.exports`, the README's fstab lines (pifs at
# /srv/pifs through mount.fuse3, /nfsroot an rbind of its nfsroot/,
# /tftpboot a bind), `exportfs -ra`.  Each worker is a network namespace
# in the guest with the address the registry gave it and mounts the
# nfsroot= of its generated cmdline.txt over NFSv3.  Checks:
#  - rpc.mountd logs the seed's "authenticated mount request from
#    10.1.1.2:PORT for /nfsroot/worker-3";
#  - each worker sees only its own writes, which land in
#    deltas/<worker>; the golden verifies clean;
#  - a worker's mount of another worker's export is refused;
#  - `pifs worker add` while everything is mounted, then `exportfs -ra`:
#    the new worker is exported and mounts, nothing else was remounted
#    (same mounts, same pifsd, a held file still reads);
#  - an export whose worker file system is not mounted is refused
#    (`mountpoint`), where without that option nfsd lets the worker mount
#    the mount point under it (which pifs makes ESTALE to list);
#  - the README's way down: systemctl stop nfs-server, umount -R, pifs umount.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-knfsd.sh"

if ! knfsd_in_guest; then
	knfsd_setup
	knfsd_run 1500
	exit $?
fi

# ---- in the guest ----
knfsd_guest_setup
t0=$(date +%s)
knfsd_master worker-1:77b655ec worker-3:8b07bcc6 && ok "the README's master set-up (pifs init, worker add, pifs exports, fstab mount -a, exportfs -ra)" || finish
for w in worker-1 worker-3; do
	expect_eq "/nfsroot/$w is $w's own pifs file system (the rbind carries it)" \
		"fuse.pifs" "$(findmnt -n -o FSTYPE --mountpoint "/nfsroot/$w")"
done
expect_eq "/tftpboot lists the serials" "77b655ec 8b07bcc6" "$(ls /tftpboot | grep -v '\.' | tr '\n' ' ' | sed 's/ $//')"
exportfs -v >"$T/exports.v"
for x in "worker-1 10.1.1.1 1001" "worker-3 10.1.1.2 1002"; do
	set -- $x
	grep -A1 -x "/nfsroot/$1" "$T/exports.v" | grep -q "$2(.*no_subtree_check,fsid=$3,mountpoint,.*rw,.*no_root_squash" &&
		ok "/nfsroot/$1 exported to $2 only, fsid=$3, mountpoint" || { cat "$T/exports.v"; fail "export of /nfsroot/$1"; }
done
echo "note: the master is up in $(($(date +%s) - t0)) s"

# ---- the workers: their registered address, their cmdline.txt ----
expect_eq "registered addresses (README order)" "worker-1 10.1.1.1 worker-3 10.1.1.2" \
	"$(pifs worker list | awk '$1 ~ /^worker-/ { printf "%s%s %s", sep, $1, $4; sep = " " }')"
declare -A OPTS
for w in worker-3 worker-1; do
	knfsd_worker "$w" "/w/$w" || finish
	OPTS[$w]=$KNFSD_OPTS
	expect_eq "$w mounts the nfsroot= of its cmdline.txt" "10.1.1.100:/nfsroot/$w nolock,vers=3,tcp,rw" "$KNFSD_SPEC $KNFSD_OPTS"
	expect_eq "$w's NFS mount" "nfs vers=3 proto=tcp addr=10.1.1.100" \
		"$(findmnt -n -o FSTYPE,OPTIONS --mountpoint "/w/$w" | sed -E 's/^(nfs) .*(vers=3).*(proto=tcp).*(,addr=[0-9.]+).*/\1 \2 \3 \4/; s/,addr=/addr=/')"
	expect_eq "$w sees its own hostname" "$w" "$(cat "/w/$w/etc/hostname")"
done
grep -Eq "^rpc.mountd: authenticated mount request from 10\.1\.1\.2:[0-9]+ for /nfsroot/worker-3 \(/nfsroot/worker-3\)$" "$KNFSD_OUT/mountd.log" &&
	ok "$(grep -m1 'authenticated mount request from 10.1.1.2' "$KNFSD_OUT/mountd.log")" ||
	{ cat "$KNFSD_OUT/mountd.log"; fail "rpc.mountd did not log worker-3's mount as the seed's does"; }
grep -Eq "authenticated mount request from 10\.1\.1\.1:[0-9]+ for /nfsroot/worker-1 " "$KNFSD_OUT/mountd.log" &&
	ok "rpc.mountd: worker-1's mount from 10.1.1.1" || fail "rpc.mountd did not log worker-1's mount"

# ---- each worker sees only its own writes ----
echo "worker-3 was here" >/w/worker-3/root/w3.txt || fail "worker-3 writes a new file"
echo "worker-3 appends" >>/w/worker-3/etc/motd || fail "worker-3 appends to a golden file"
echo "worker-1 was here" >/w/worker-1/root/w1.txt || fail "worker-1 writes a new file"
expect_eq "worker-3 reads its file" "worker-3 was here" "$(cat /w/worker-3/root/w3.txt)"
expect_eq "worker-1 reads its file" "worker-1 was here" "$(cat /w/worker-1/root/w1.txt)"
[ ! -e /w/worker-1/root/w3.txt ] && [ ! -e /w/worker-3/root/w1.txt ] &&
	ok "neither sees the other's new file" || fail "a worker sees the other's file"
expect_eq "worker-1's motd is still the golden's" "$(cat "$T/golden/etc/motd")" "$(cat /w/worker-1/etc/motd)"
expect_eq "worker-3's motd has its append" "$(cat "$T/golden/etc/motd")
worker-3 appends" "$(cat /w/worker-3/etc/motd)"
expect_eq "worker-3's write is in deltas/worker-3" "worker-3 was here" "$(cat /var/lib/pifs/deltas/worker-3/root/w3.txt 2>&1)"
expect_eq "worker-3's copy-up is in deltas/worker-3" "worker-3 appends" "$(tail -1 /var/lib/pifs/deltas/worker-3/etc/motd 2>&1)"
expect_eq "worker-1's write is in deltas/worker-1" "worker-1 was here" "$(cat /var/lib/pifs/deltas/worker-1/root/w1.txt 2>&1)"
[ ! -e /var/lib/pifs/deltas/worker-1/root/w3.txt ] && [ ! -e /var/lib/pifs/deltas/worker-1/etc/motd ] &&
	ok "nothing of worker-3's in deltas/worker-1" || fail "worker-3's writes leaked into deltas/worker-1"
expect_eq "the master's view of worker-3 (/nfsroot)" "worker-3 was here" "$(cat /nfsroot/worker-3/root/w3.txt 2>&1)"
pifs verify >/dev/null 2>&1 && ok "pifs verify: the golden is untouched" || fail "pifs verify reports changes"

# ---- another worker's export is refused ----
expect_fail "worker-1 (10.1.1.1) cannot mount worker-3's export" "access denied by server" \
	knfsd_mount worker-1 10.1.1.100:/nfsroot/worker-3 /w/stolen "${OPTS[worker-1]}"
grep -q "refused mount request from 10.1.1.1 for /nfsroot/worker-3 " "$KNFSD_OUT/mountd.log" &&
	ok "$(grep -m1 'refused mount request from 10.1.1.1 for /nfsroot/worker-3' "$KNFSD_OUT/mountd.log")" ||
	fail "rpc.mountd did not log the refusal"
expect_fail "the master's own address cannot mount worker-3's export either" "access denied by server" \
	mount -t nfs -o "${OPTS[worker-3]}" 10.1.1.100:/nfsroot/worker-3 /w/stolen

# ---- a worker added while everything is mounted and served ----
mount_ids() { awk '$5 == "/srv/pifs" || $5 == "/nfsroot" || $5 ~ /^\/(srv\/pifs\/)?nfsroot\/worker-[13]$/ || $5 ~ /^\/w\/worker-[13]$/ { print $1, $5 }' /proc/self/mountinfo | sort -k2; }
IDS_BEFORE=$(mount_ids)
exec {held}</w/worker-3/root/w3.txt
pifs worker add worker-4 --serial 4a5b6c7d >"$T/add.log" 2>&1 && ok "pifs worker add worker-4 while mounted and exported" || { cat "$T/add.log"; fail "worker add worker-4"; }
expect_eq "/nfsroot/worker-4 appears through the rbind" "fuse.pifs" "$(findmnt -n -o FSTYPE --mountpoint /nfsroot/worker-4)"
pifs exports >/etc/exports.d/pifs.exports && exportfs -ra && ok "pifs exports > /etc/exports.d/pifs.exports; exportfs -ra" || fail "re-export"
exportfs -v | grep -A1 -x /nfsroot/worker-4 | grep -q '10.1.1.3(.*fsid=1003,mountpoint' &&
	ok "/nfsroot/worker-4 exported to 10.1.1.3" || { exportfs -v; fail "worker-4 not exported"; }
knfsd_worker worker-4 /w/worker-4 && ok "worker-4 (10.1.1.3) mounts $KNFSD_SPEC"
expect_eq "worker-4 sees its own hostname" worker-4 "$(cat /w/worker-4/etc/hostname 2>&1)"
[ ! -e /w/worker-4/root/w3.txt ] && ok "worker-4 does not see worker-3's file" || fail "worker-4 sees worker-3's file"
expect_eq "nothing was remounted (mount ids of /srv/pifs, /nfsroot, the views, the clients)" "$IDS_BEFORE" "$(mount_ids)"
expect_eq "the same pifsd serves" "$PIFSD_PID" "$(tr -d '\n' </var/lib/pifs/lock/daemon)"
expect_eq "worker-3's file held open across it reads" "worker-3 was here" "$(cat <&$held)"
exec {held}<&-
echo more >>/w/worker-3/root/w3.txt && expect_eq "worker-3 still writes" more "$(tail -1 /var/lib/pifs/deltas/worker-3/root/w3.txt)"

# ---- an export whose worker file system is not mounted ----
knfsd_umount worker-1 /w/worker-1 || fail "worker-1 unmounts"
exportfs -u 10.1.1.1:/nfsroot/worker-1 || fail "exportfs -u worker-1"
umount /srv/pifs/nfsroot/worker-1 2>"$T/u.err" && ok "worker-1's file system unmounted (under pifsd)" || { cat "$T/u.err"; fail "umount worker-1's file system"; }
mountpoint -q /nfsroot/worker-1 && fail "/nfsroot/worker-1 is still mounted (the unmount did not propagate)"
expect_eq "/nfsroot/worker-1 is now the top's mount point, which cannot be listed" \
	"ls: reading directory '/nfsroot/worker-1': Stale file handle" "$(ls -A /nfsroot/worker-1 2>&1)"
exportfs -ra 2>/dev/null
expect_fail "worker-1's mount of its unmounted root is refused" "reason given by server: No such file or directory" \
	knfsd_mount worker-1 10.1.1.100:/nfsroot/worker-1 /w/w1-unmounted "${OPTS[worker-1]}"
grep -q "request to export an unmounted filesystem: /nfsroot/worker-1" "$KNFSD_OUT/mountd.log" &&
	ok "rpc.mountd: request to export an unmounted filesystem: /nfsroot/worker-1" || fail "rpc.mountd did not say why"
# what the mountpoint option prevents: the same export without it
exportfs -u 10.1.1.1:/nfsroot/worker-1
exportfs -i -o rw,sync,no_subtree_check,no_root_squash,fsid=1001 10.1.1.1:/nfsroot/worker-1 || fail "exportfs without mountpoint"
if knfsd_mount worker-1 10.1.1.100:/nfsroot/worker-1 /w/w1-empty "${OPTS[worker-1]}" 2>"$T/m.err"; then
	ok "without mountpoint, nfsd lets worker-1 mount the top's mount point (the control)"
	expect_eq "a root that serves nothing" "ls: reading directory '/w/w1-empty': Stale file handle" "$(ls -A /w/w1-empty 2>&1)"
	knfsd_umount worker-1 /w/w1-empty
else
	cat "$T/m.err"
	fail "the control (an export without mountpoint) was refused too: the check above proves nothing"
fi
exportfs -u 10.1.1.1:/nfsroot/worker-1

# ---- the README's way down ----
for w in worker-3 worker-4; do knfsd_umount "$w" "/w/$w" || fail "$w unmounts"; done
# exportfs -ua alone is not the way down: nfsd keeps the files it served
# open in its file cache for a few seconds more, and umount -R /nfsroot
# is refused as busy meanwhile (seen here once)
knfsd_server_stop && ok "systemctl stop nfs-server (rpc.nfsd 0; exportfs -au; exportfs -f)"
knfsd_pifs_down && ok "umount -R /nfsroot /tftpboot; pifs umount /srv/pifs: pifsd has exited"
knfsd_sanitizer_reports
echo "note: the scenario took $(($(date +%s) - t0)) s in the guest"
finish
