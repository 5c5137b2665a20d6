#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make check-deb: the Debian package of pifs, as a user gets it.  It is
# built from the release tarball ($PIFS_DIST_TARBALL, made by make dist)
# unpacked in a temporary directory, so the configured tree (sanitizers)
# is left alone; lintian finds no error or warning; apt-get installs it;
# then only the installed binaries run: an fstab line mounted with
# `mount -T` goes through mount.fuse3 to /usr/bin/pifs, which starts
# /usr/sbin/pifsd; a write in a worker's view, a snapshot, a change, a
# reset, and the snapshot's bytes are back; then the package is purged and
# its files are gone.  Not in TESTS (building the package takes minutes).
# It installs and purges the package "pifs" (an EXIT trap purges it on any
# failure), so it refuses to run where pifs is installed already.
. "$(dirname "$0")/lib.sh"
# Nothing may point at the build tree: pifs finds pifsd through
# $PIFS_DAEMON, beside itself, then in its sbindir (tools/cmd-mount.c),
# and mount(8) runs `pifs` from the default path.
unset PIFS_DAEMON PIFS_STORE PIFS_GOLDEN_BUILD
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
PIFS=/usr/bin/pifs
INSTALLED=0

[ "$(id -u)" = 0 ] || skip "needs root (apt-get install, FUSE mounts)"
[ -c /dev/fuse ] || skip "no /dev/fuse"
for t in dpkg-buildpackage dh lintian apt-get mount.fuse3; do
	command -v "$t" >/dev/null || skip "$t missing (apt-get install dpkg-dev debhelper lintian fuse3)"
done
TARBALL=${PIFS_DIST_TARBALL:-}
if [ -z "$TARBALL" ] || [ ! -f "$TARBALL" ]; then
	fail "no release tarball '$TARBALL': run make check-deb, which makes it"
	exit 1
fi
if dpkg-query -W -f='${Status}' pifs 2>/dev/null | grep -Eq 'installed|config-files'; then
	fail "the package pifs is installed already; this scenario would purge it (apt-get purge pifs first)"
	exit 1
fi
# mount(8) runs mount.fuse3 with the default path, on which these come
# before /usr/bin: a `make install` (or t-fstab.sh's link) would be run
# instead of the package's pifs.
for p in /usr/local/sbin/pifs /usr/local/bin/pifs; do
	if [ -e "$p" ] || [ -L "$p" ]; then
		fail "$p exists: mount(8) would run it instead of /usr/bin/pifs (make uninstall first)"
		exit 1
	fi
done

deb_cleanup() {
	cleanup
	if [ "$INSTALLED" = 1 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q pifs >/dev/null 2>&1 ||
			echo "t-deb: apt-get purge pifs failed"
	fi
}
T=$(mktemp -d /var/tmp/pifs-deb.XXXXXX)
trap deb_cleanup EXIT
trap 'exit 130' INT TERM

# The package, from the tarball.  The environment of the make that runs
# this scenario (its jobserver, the tree's paths) stays out of the build.
VERSION=$(basename "$TARBALL" .tar.xz)
VERSION=${VERSION#pifs-}
tar -xJf "$TARBALL" -C "$T" || { fail "cannot unpack '$TARBALL'"; exit 1; }
SRC=$T/pifs-$VERSION
[ -x "$SRC/debian/rules" ] || { fail "the tarball has no executable debian/rules (EXTRA_DIST)"; exit 1; }
expect_eq "debian/changelog's version is configure's (a native package)" \
	"$VERSION" "$(cd "$SRC" && dpkg-parsechangelog -SVersion)"
(cd "$SRC" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PIFS_BUILDDIR -u PIFS_SRCDIR \
	dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$T/build.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	tail -60 "$T/build.log"
	fail "dpkg-buildpackage -us -uc -b: exit $rc"
	exit 1
fi
ok "dpkg-buildpackage -us -uc -b"
grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS|# )' "$T/build.log" | sed 's/^/  build: /'
DEB=$(ls "$T"/pifs_"$VERSION"_*.deb 2>/dev/null)
DBG=$(ls "$T"/pifs-dbgsym_"$VERSION"_*.deb 2>/dev/null)
[ -n "$DEB" ] && ok "built $(basename "$DEB")" || { fail "no pifs_${VERSION}_*.deb"; exit 1; }
if [ -n "$DBG" ] && [ "$(dpkg-deb -c "$DBG" | grep -c '/usr/lib/debug/\.build-id/.*\.debug$')" -ge 2 ]; then
	ok "the debug symbols of pifs and pifsd are in $(basename "$DBG")"
else
	fail "no pifs-dbgsym package with both binaries' symbols"
fi

# lintian: no errors, no warnings (those that are right for pifs are
# overridden, with the reason, in debian/pifs.lintian-overrides).
lintian --fail-on error,warning "$DEB" >"$T/lintian.log" 2>&1
rc=$?
grep -v 'running with root privileges' "$T/lintian.log" | sed 's/^/  lintian: /'
expect_eq "lintian $(basename "$DEB"): no error or warning (exit status)" 0 "$rc"

DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$DEB" >"$T/apt.log" 2>&1
rc=$?
INSTALLED=1
if [ $rc -ne 0 ]; then
	tail -20 "$T/apt.log"
	fail "apt-get install $DEB: exit $rc"
	exit 1
fi
ok "apt-get install ./$(basename "$DEB")"
LIST=$(dpkg -L pifs)
want=(/usr/bin/pifs /usr/sbin/pifsd /usr/libexec/pifs/golden-build.sh
      /usr/libexec/pifs/pifs-git
      /usr/share/doc/pifs/copyright /usr/share/doc/pifs/changelog.gz
      /usr/share/doc/pifs/README.md.gz)
# Every man page of the source, installed and compressed.
while read -r m; do
	m=$(basename "$m" .in)
	want+=("/usr/share/man/man${m##*.}/$m.gz")
done < <(tar -tJf "$TARBALL" | grep -E '\.[1-8](\.in)?$')
# Every systemd unit of pifs's, in bookworm's unit directory.
units=()
while read -r u; do
	u=$(basename "$u" .in)
	units+=("$u")
	want+=("/lib/systemd/system/$u")
done < <(tar -tJf "$TARBALL" | grep -E '/pifs[^/]*\.(service|timer|socket|path)(\.in)?$')
for f in "${want[@]}"; do
	if grep -qxF "$f" <<<"$LIST" && [ -e "$f" ]; then ok "dpkg -L pifs: $f"; else fail "dpkg -L pifs lacks $f"; fi
done
if grep -q '^/usr/local' <<<"$LIST"; then fail "the package installs under /usr/local"; fi
# Installing enables and starts nothing (debian/rules: --no-enable
# --no-start); an enabled unit would have a link in a .wants directory.
for u in "${units[@]}"; do
	if compgen -G "/etc/systemd/system/*.wants/$u" >/dev/null; then
		fail "$u was enabled on install"
	else
		ok "$u installed, not enabled"
	fi
done
for b in /usr/bin/pifs /usr/libexec/pifs/pifs-git /usr/sbin/pifsd; do
	if readelf -S --wide "$b" 2>/dev/null | grep -Eq '\.debug_info|\.symtab'; then
		fail "$b is not stripped"
	else
		ok "$b stripped"
	fi
done
# Reproducible, and nothing to fall back on in a directory that is gone:
# no path of the build in the binaries.
for b in /usr/bin/pifs /usr/libexec/pifs/pifs-git /usr/sbin/pifsd; do
	if grep -qF "$T" "$b"; then fail "$b names the build directory $T"; else ok "$b names no build directory"; fi
done
expect_eq "pifs on the default path is the package's" /usr/bin/pifs "$(command -v pifs)"
expect_eq "pifs --version" "pifs $VERSION" "$(pifs --version 2>&1)"

# The installed binaries at work: a store, one worker, the fstab way.
bash "$SRC/tools/mkgolden.sh" "$T/golden" >"$T/golden.log" 2>&1 || { cat "$T/golden.log"; fail "mkgolden"; exit 1; }
pifs init "$T/store" --golden "$T/golden" >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "pifs init"; exit 1; }
pifs --store "$T/store" worker add worker-1 --serial 77b655ec >/dev/null || { fail "pifs worker add"; exit 1; }
M=$T/mnt
mkdir -p "$M"
printf '%s %s fuse.pifs allow_other,default_permissions 0 0\n' "$T/store" "$M" >"$T/fstab"
mount -T "$T/fstab" "$M" 2>"$T/mount.err"
rc=$?
if [ $rc -ne 0 ]; then
	cat "$T/mount.err"
	fail "mount -T fstab $M: exit $rc"
	exit 1
fi
ok "mount -T fstab $M (mount.fuse3 -> /usr/bin/pifs)"
MOUNTS+=("$M")
for _ in $(seq 1 100); do mounted_all "$M" && break; sleep 0.05; done
mounted_all "$M" && ok "the top and worker-1's file system are mounted" || fail "not all mounted"
pid=$(pgrep -f "pifsd $T/store $M" | head -1)
[ -n "$pid" ] && PIDS+=("$pid")
expect_eq "the daemon is the package's pifsd" /usr/sbin/pifsd "$(readlink "/proc/$pid/exe" 2>&1)"
W=$M/nfsroot/worker-1
expect_eq "worker-1 sees the golden" "$(cat "$T/golden/etc/motd")" "$(cat "$W/etc/motd" 2>&1)"

printf 'written through the package\n\0binary \xff tail\n' >"$T/v1"
printf 'changed after the snapshot\n' >"$T/v2"
cp "$T/v1" "$W/root/deb-check" || fail "write in worker-1's view"
pifs --store "$T/store" snapshot worker-1 -m "t-deb" >"$T/snap.log" 2>&1
expect_eq "pifs snapshot worker-1 (exit status)" 0 "$?"
cp "$T/v2" "$W/root/deb-check" || fail "change in worker-1's view"
cmp -s "$T/v2" "$W/root/deb-check" && ok "the change reads back" || fail "the change does not read back"
expect_fail "reset refuses unsnapshotted changes" "unsnapshotted change" pifs --store "$T/store" reset worker-1
pifs --store "$T/store" reset worker-1 --force >"$T/reset.log" 2>&1
expect_eq "pifs reset worker-1 --force (exit status)" 0 "$?"
cmp "$T/v1" "$W/root/deb-check" && ok "reset: the snapshot's bytes are back" || fail "reset: wrong bytes"
compgen -G "$T/store/goldens/*/tree/root/deb-check" >/dev/null && fail "the write reached the golden"
pifs umount "$M"
expect_eq "pifs umount (exit status)" 0 "$?"
mountpoint -q "$M" && fail "$M still mounted after pifs umount"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "pifsd still running after pifs umount" || ok "pifsd exited"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -q pifs >"$T/purge.log" 2>&1
rc=$?
expect_eq "apt-get purge -y pifs (exit status)" 0 "$rc"
[ $rc -eq 0 ] && INSTALLED=0
for f in "${want[@]}" /usr/libexec/pifs /usr/share/doc/pifs; do
	[ -e "$f" ] && fail "$f left after the purge"
done
dpkg-query -W -f='${Status}' pifs 2>/dev/null | grep -Eq 'installed|config-files' &&
	fail "dpkg still lists pifs after the purge" || ok "purged: its files and its dpkg entry are gone"
finish
