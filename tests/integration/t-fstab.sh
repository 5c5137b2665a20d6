#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Mounting at boot: an /etc/fstab line of type fuse.pifs goes through
# mount(8) -> mount.fuse3 -> `pifs STORE MOUNTPOINT -o ...` -> pifsd.  Also
# `mount -t fuse.pifs`, and `pifs mount` / `pifs umount`.
. "$(dirname "$0")/lib.sh"
setup
command -v mount.fuse3 >/dev/null || skip "mount.fuse3 missing (apt-get install fuse3)"
make_store
M=$T/fmnt
mkdir -p "$M"
# mount(8) drops PATH, so mount.fuse3's shell finds "pifs" on the default
# path, where `make install` puts it.  Put the build's pifs first on that
# path for the length of the test (removed by the EXIT trap).
LINK=/usr/local/sbin/pifs
if [ -e "$LINK" ] || [ -L "$LINK" ]; then
	fail "$LINK exists: it would shadow the pifs under test; remove it to run this scenario"
	finish
fi
mkdir -p /usr/local/sbin
ln -s "$PIFS" "$LINK"
trap 'rm -f "$LINK"; cleanup' EXIT
export PATH=$PIFS_BUILDDIR/tools:$PATH
daemon_pid() { pgrep -f "pifsd $T/store $M" | head -1; }

printf '%s %s fuse.pifs allow_other,default_permissions,nofail 0 0\n' "$T/store" "$M" > "$T/fstab"
if mount -T "$T/fstab" "$M" 2>"$T/mount.err"; then ok "mount -T fstab"; else cat "$T/mount.err"; fail "mount -T fstab failed"; finish; fi
MOUNTS+=("$M")
pid=$(daemon_pid); [ -n "$pid" ] && PIDS+=("$pid")
expect_eq "fstab mount serves the views" "worker-1 worker-3" "$(ls "$M/nfsroot" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "fstab mount type" "fuse.pifs" "$(awk -v m="$M" '$2 == m { print $3 }' /proc/mounts)"
case ",$(awk -v m="$M" '$2 == m { print $4 }' /proc/mounts)," in *,allow_other,*) ok "allow_other passed through" ;; *) fail "allow_other missing" ;; esac
expect_eq "pifsd daemonized (a pid file in the store lock)" "$pid" "$(tr -d '\n' < "$T/store/lock/daemon")"
expect_fail "a second mount of the same store is refused" "already mounted.*$pid" "$PIFS" mount "$T/store" "$T/other"
# The workers' file systems are mounted below: a plain umount is busy,
# umount -R (or pifs umount) unmounts them all.
expect_fail "plain umount with the workers mounted below" "busy" umount "$M"
umount -R "$M" || fail "umount -R"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "pifsd still running after umount" || ok "pifsd exits on umount"

mount -t fuse.pifs "$T/store" "$M" -o allow_other 2>"$T/mount.err" && ok "mount -t fuse.pifs" || { cat "$T/mount.err"; fail "mount -t fuse.pifs"; }
pid=$(daemon_pid); [ -n "$pid" ] && PIDS+=("$pid")
[ -d "$M/nfsroot/worker-3/etc" ] && ok "mount -t fuse.pifs serves" || fail "mount -t fuse.pifs serves nothing"
"$PIFS" umount "$M" && ok "pifs umount" || fail "pifs umount"
mountpoint -q "$M" && fail "still mounted after pifs umount"

"$PIFS" --store "$T/store" mount "$M" -o allow_other && ok "pifs --store S mount MNT" || fail "pifs mount"
pid=$(daemon_pid); [ -n "$pid" ] && PIDS+=("$pid")
expect_eq "pifs mount serves" "$(cat "$T/golden/etc/motd")" "$(cat "$M/nfsroot/worker-1/etc/motd" 2>&1)"
"$PIFS" umount "$M" || fail "pifs umount"

# The README's fstab: the pifs line, then nfsroot/ rbind-mounted where the
# NFS server expects it (the seed's /nfsroot; a directory here).  The
# workers mounted at start come with the rbind; one added later shows
# through it too (pifsd makes its mount shared), and a removed one goes.
B=$T/nfsroot
mkdir -p "$B"
printf '%s %s fuse.pifs allow_other,default_permissions 0 0\n%s %s none rbind 0 0\n' \
	"$T/store" "$M" "$M/nfsroot" "$B" > "$T/fstab2"
mount -T "$T/fstab2" "$M" 2>"$T/mount.err" && mount -T "$T/fstab2" "$B" 2>>"$T/mount.err" || { cat "$T/mount.err"; fail "the README's fstab lines"; }
MOUNTS+=("$B")
pid=$(daemon_pid); [ -n "$pid" ] && PIDS+=("$pid")
expect_eq "rbind carries the workers" "$(cat "$T/golden/etc/motd")" "$(cat "$B/worker-3/etc/motd" 2>&1)"
echo only3 > "$B/worker-3/root/via-bind"
expect_eq "a write through the bind lands in worker-3's delta" only3 "$(cat "$T/store/deltas/worker-3/root/via-bind" 2>&1)"
"$PIFS" --store "$T/store" worker add worker-5 --serial 5a5a5a5a >/dev/null || fail "worker add while mounted"
mountpoint -q "$B/worker-5" && ok "a worker added later is mounted under the bind too" || fail "worker-5 not mounted under the rbind"
expect_eq "worker-5 serves through the bind" "$(cat "$T/golden/etc/motd")" "$(cat "$B/worker-5/etc/motd" 2>&1)"
"$PIFS" --store "$T/store" worker remove worker-5 --force >/dev/null || fail "worker remove while mounted"
mountpoint -q "$B/worker-5" 2>/dev/null && fail "removed worker-5 still mounted under the bind" || ok "a removed worker goes from the bind too"
umount -R "$B" || fail "umount -R of the bind"
"$PIFS" umount "$M" || fail "pifs umount after the bind"
mountpoint -q "$M" && fail "still mounted after pifs umount"
finish
