#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A worker is root on its own root and may be hostile.  Nothing it stores
# (symlinks, device nodes, setuid files, odd names, pifs's own xattrs) may
# let it read or change the golden, another worker or the master.
. "$(dirname "$0")/lib.sh"
mounted_store
CANARY=$T/canary
mkdir -p "$CANARY"
echo secret > "$CANARY/secret"

# The store is root's alone; the mount can never honour setuid or devices.
for d in "$T/store" "$T/store/deltas" "$T/store/goldens" "$T/store/work"; do
	expect_eq "store dir ${d#$T/} is 0700 root" "700 0" "$(stat -c '%a %u' "$d")"
done
opts=$(awk -v m="$M" '$2 == m { print $4 }' /proc/mounts)
case ",$opts," in *,nosuid,*) ok "mount is nosuid" ;; *) fail "mount options '$opts' lack nosuid" ;; esac
case ",$opts," in *,nodev,*) ok "mount is nodev" ;; *) fail "mount options '$opts' lack nodev" ;; esac
case ",$opts," in *,default_permissions,*|*) ;; esac

# Symlinks are stored and returned as symlinks, never followed by pifs.
ln -s /etc/shadow "$W3/etc/evil"
ln -s ../../../../../../../../ "$W3/root/up"
expect_eq "absolute symlink returned verbatim" /etc/shadow "$(readlink "$W3/etc/evil")"
expect_eq "dotdot symlink returned verbatim" ../../../../../../../../ "$(readlink "$W3/root/up")"
[ -L "$T/store/deltas/worker-3/etc/evil" ] && ok "delta holds the symlink itself" || fail "delta entry is not a symlink"

# A worker swaps a golden directory for a symlink to a master directory;
# pifs's own walks (here: keeping a golden hard-link group together on
# copy-up) must not follow it.
mv "$W3/usr/bin" "$W3/usr/bin.real"
ln -s "$CANARY" "$W3/usr/bin"
echo x >> "$W3/usr/bin.real/perl"
expect_eq "canary dir untouched by pifs's walks" "secret" "$(ls "$CANARY")"
[ -e "$W1/usr/bin/perl5.36.0" ] && ok "worker-1 unaffected" || fail "worker-1 lost perl5.36.0"

# Device nodes a worker makes are stored, but never open on the master.
mknod "$W3/root/zero" c 1 5
mknod "$W3/root/disk" b 8 0
expect_eq "device node stored as such" "character special file 1:5" "$(stat -c '%F %t:%T' "$W3/root/zero")"
if head -c 4 "$W3/root/zero" >/dev/null 2>&1; then fail "a worker's device node opened on the master"; else ok "worker's char device cannot be opened (nodev)"; fi
if head -c 4 "$W3/root/disk" >/dev/null 2>&1; then fail "a worker's block device opened on the master"; else ok "worker's block device cannot be opened (nodev)"; fi
expect_fail "char device 0:0 (the whiteout spelling) refused" "Operation not permitted" mknod "$W3/root/wh" c 0 0

# pifs's own metadata is invisible and untouchable.
expect_fail "cannot set a redirect xattr" "Operation not permitted" setfattr -n trusted.overlay.redirect -v /etc "$W3/srv"
expect_fail "cannot set an opaque xattr" "Operation not permitted" setfattr -n trusted.overlay.opaque -v y "$W3/srv"
expect_fail "cannot set an origin xattr" "Operation not permitted" setfattr -n trusted.pifs.origin -v 0x0100000000000000 "$W3/srv"
echo x >> "$W3/etc/hostname"
getfattr -d -m - "$W3/etc/hostname" 2>/dev/null | grep -q 'trusted\.\(pifs\|overlay\)' && fail "private xattrs listed" || ok "private xattrs hidden from listxattr"
expect_fail "private xattr not readable" "No such attribute" getfattr -n trusted.pifs.origin "$W3/etc/hostname"

# Views are isolated from each other.
expect_fail "no hard link across views" "Invalid cross-device link" ln "$W1/etc/motd" "$W3/root/stolen"
out=$(perl -e 'rename($ARGV[0], $ARGV[1]) or print "$!"' "$W1/etc/motd" "$W3/root/stolen")
expect_eq "no rename across views" "Invalid cross-device link" "$out"
expect_fail "no new entries in nfsroot/" "Operation not permitted|Permission denied" mkdir "$M/nfsroot/worker-9"
expect_fail "no writes to the mount root" "Operation not permitted|Permission denied" touch "$M/evil"

# The README's way for the master's admin to prepare a worker's root with
# tools that need device nodes (debootstrap, a chroot): a bind mount of
# the view, remounted dev, for the time of the job.  The node works there
# and nowhere else; the view itself stays nodev.
ADMIN=$T/admin-root
mkdir -p "$ADMIN"
if mount --bind "$W3" "$ADMIN" && mount -o remount,bind,dev,nosuid "$ADMIN"; then
	MOUNTS+=("$ADMIN")
	mknod "$ADMIN/root/null" c 1 3 && echo test > "$ADMIN/root/null" &&
		ok "admin's dev bind mount: a device node made there works (debootstrap's check)" ||
		fail "admin's dev bind mount: the device node does not work"
	[ "$(stat -c %t:%T "$W3/root/null")" = 1:3 ] && ok "the node is in worker-3's view" || fail "node not in the view"
	if echo test > "$W3/root/null" 2>/dev/null; then fail "the node opened through the nodev view"; else ok "and is inert through the view itself"; fi
	umount "$ADMIN" && ok "admin's bind mount unmounted" || fail "umount of the admin's bind mount"
	rm -f "$W3/root/null"
else
	fail "bind mount of a view remounted dev"
fi

# Setuid files a worker makes stay in its delta and run without privilege.
cp /bin/true "$W3/root/suid"; chmod 4755 "$W3/root/suid"
expect_eq "setuid bit stored for the worker" 4755 "$(stat -c %a "$W3/root/suid")"

# Odd names are just names.
for n in "$(printf 'a\nb')" "$(printf '\x01\x7f\xff')" "-rf" "$(printf 'x%.0s' $(seq 1 255))"; do
	echo odd > "$W3/root/$n" && [ "$(cat "$W3/root/$n")" = odd ] || fail "odd name $(printf %q "$n")"
done
ok "odd names stored and read back"
expect_fail "name over 255 bytes refused" "File name too long" touch "$W3/root/$(printf 'y%.0s' $(seq 1 256))"

"$PIFS" --store "$T/store" verify >/dev/null 2>&1 && ok "golden verifies clean" || fail "golden changed"
expect_eq "master canary intact" secret "$(cat "$CANARY/secret")"
umount_pifs "$M"
finish
