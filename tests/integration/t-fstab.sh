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
umount "$M" || fail "umount"
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
finish
