#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-knfsd-exports.sh - the exports applied with no manual step, under the
# kernel NFS server (an amd64 guest: lib-knfsd.sh).  The master is set up
# as the README says, but with `pifs exports --install
# /etc/exports.d/pifs.exports` instead of `pifs exports >`; from then on
# this scenario never types exportfs.  Each worker is a network namespace
# in the guest with its registered address, mounting the nfsroot= of its
# generated cmdline.txt over NFSv3.  Checks:
#  - `pifs worker add` while everything is mounted and served: the new
#    worker mounts its root at once;
#  - an enrolment (pifs enroll on; an unknown Pi 4's first request,
#    tftpboot/<serial>/start4.elf): pifsd registers and mounts it and
#    runs exportfs -r, and the board's NFS mount succeeds;
#  - `pifs worker remove`: its export is gone from the kernel's table;
#  - the file's bytes are what `pifs exports` prints, after each step.
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
EX=/etc/exports.d/pifs.exports
KNFSD_INSTALL=1 knfsd_master worker-1:77b655ec &&
	ok "the README's master, with pifs exports --install $EX" || finish
same_as_exports() {
	pifs exports >"$T/printed" || { fail "$1: pifs exports"; return; }
	cmp -s "$T/printed" "$EX" && ok "$1: $EX has the bytes pifs exports prints" ||
		{ diff "$T/printed" "$EX" | head; fail "$1: $EX differs from pifs exports"; }
}
same_as_exports "installed"
# exported: the kernel's table (exportfs -v only reads it)
exported() { exportfs -v | grep -A1 -x "/nfsroot/$1" | grep -q "$2(.*mountpoint"; }
knfsd_worker worker-1 /w/worker-1 && ok "worker-1 mounts $KNFSD_SPEC" || finish

# ---- a worker added while everything is mounted and served ----
pifs worker add worker-4 --serial 4a5b6c7d >"$T/add.log" 2>&1 && ! grep -q warning "$T/add.log" &&
	ok "pifs worker add worker-4, no warning" || { cat "$T/add.log"; fail "worker add worker-4"; }
same_as_exports "worker add"
exported worker-4 10.1.1.2 && ok "/nfsroot/worker-4 exported to 10.1.1.2 when worker add returned" ||
	{ exportfs -v; fail "worker-4 not exported"; }
knfsd_worker worker-4 /w/worker-4 && ok "worker-4 (10.1.1.2) mounts $KNFSD_SPEC, no exportfs typed"
expect_eq "worker-4 sees its own hostname" worker-4 "$(cat /w/worker-4/etc/hostname 2>&1)"

# ---- an unknown Pi 4 enrols ----
pifs enroll on >/dev/null || fail "pifs enroll on"
stat /tftpboot/1a2b3c4d/start4.elf >/dev/null 2>&1 &&
	ok "an unknown Pi 4's first request (tftpboot/1a2b3c4d/start4.elf) is served" || fail "no enrolment"
new=$(pifs worker list | awk '$2 == "1a2b3c4d" { print $1 }')
nip=$(pifs worker list | awk '$2 == "1a2b3c4d" { print $4 }')
[ -n "$new" ] && ok "1a2b3c4d enrolled as $new, $nip" || finish
# pifsd runs exportfs -r itself, in its own thread once the worker's file
# system is mounted; the board asks for its root seconds later (its
# firmware and kernel first): wait until the export is there, bounded
for _ in $(seq 1 600); do exported "$new" "$nip" && break; sleep 0.1; done
exported "$new" "$nip" && ok "/nfsroot/$new exported to $nip by pifsd" ||
	{ exportfs -v; fail "$new not exported"; }
same_as_exports "enrolment"
knfsd_worker "$new" "/w/$new" && ok "$new ($nip) mounts $KNFSD_SPEC, no exportfs typed"
expect_eq "$new sees its own hostname" "$new" "$(cat "/w/$new/etc/hostname" 2>&1)"
for w in worker-4 "$new"; do
	grep -Eq "authenticated mount request from [0-9.]+:[0-9]+ for /nfsroot/$w " "$KNFSD_OUT/mountd.log" &&
		ok "rpc.mountd: $w's mount" || fail "rpc.mountd did not log $w's mount"
done

# ---- a worker removed ----
knfsd_umount worker-4 /w/worker-4 || fail "worker-4 unmounts"
pifs worker remove worker-4 --force >"$T/rm.log" 2>&1 && ok "pifs worker remove worker-4" ||
	{ cat "$T/rm.log"; fail "worker remove"; }
exportfs -v | grep -qx /nfsroot/worker-4 && { exportfs -v; fail "worker-4 still exported"; } ||
	ok "/nfsroot/worker-4 no longer exported"
same_as_exports "worker remove"
expect_fail "worker-4's address cannot mount its old root" "access denied by server|No such file or directory" \
	knfsd_mount worker-4 10.1.1.100:/nfsroot/worker-4 /w/w4-gone "$KNFSD_OPTS"

# ---- the README's way down ----
for w in worker-1 "$new"; do knfsd_umount "$w" "/w/$w" || fail "$w unmounts"; done
knfsd_server_stop && ok "systemctl stop nfs-server"
knfsd_pifs_down && ok "umount -R /nfsroot /tftpboot; pifs umount /srv/pifs: pifsd has exited"
knfsd_sanitizer_reports
echo "note: the scenario took $(($(date +%s) - t0)) s in the guest"
finish
