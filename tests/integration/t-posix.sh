#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The POSIX surface a Debian root needs, checked against a plain directory:
# posix-ops.sh runs on a `cp -a` of the golden and on worker-3's view; the
# two trees must then agree in every entry's type, mode, owner, size,
# nanosecond mtime, device number, link count, content and xattrs.  Then
# the things a tree listing cannot show: readdir offsets, "..", st_ino
# stability, statfs, and the golden and worker-1 untouched.
. "$(dirname "$0")/lib.sh"
mounted_store
PLAIN=$T/plain
# The baseline is the view as it starts (the golden plus the generated
# identity files), copied out through the mount with every attribute.
cp -a "$W3" "$PLAIN" || fail "cp -a of the view"
tree_manifest "$T/golden" > "$T/golden.manifest"
sed -e '/^boot\/firmware\/cmdline.txt|/d' -e '/^etc\/\(hostname\|hosts\|fstab\|machine-id\)|/d' "$T/golden.manifest" > "$T/golden.nogen"
tree_manifest "$PLAIN" | sed -e '/^boot\/firmware\/cmdline.txt|/d' -e '/^etc\/\(hostname\|hosts\|fstab\|machine-id\)|/d' > "$T/start.nogen"
diff -q "$T/golden.nogen" "$T/start.nogen" >/dev/null && ok "a fresh view equals the golden (but the generated files)" || { diff "$T/golden.nogen" "$T/start.nogen" | head; fail "fresh view differs from the golden"; }
tree_manifest "$M/nfsroot/worker-1" > "$T/w1.before"
touch "$T/marker"
sleep 0.05

ino_hello=$(stat -c %i "$W3/home/pi/hello.txt")
ino_doc=$(stat -c %i "$W3/usr/share/doc/pkg7/copyright")
(cd "$PLAIN" && bash "$PIFS_SRCDIR/tests/integration/posix-ops.sh") || fail "workload on the plain dir (exit $?)"
(cd "$W3" && bash "$PIFS_SRCDIR/tests/integration/posix-ops.sh") || fail "workload on the pifs view (exit $?)"

# Normalise what the two runs legitimately differ in: the wall-clock
# times of entries the workload touched.
for d in "$PLAIN" "$W3"; do
	find "$d" -newer "$T/marker" -exec touch -h -d '2030-01-01 00:00:00' {} +
done
tree_manifest "$PLAIN" > "$T/plain.manifest"
tree_manifest "$W3" > "$T/view.manifest"
if diff -u "$T/plain.manifest" "$T/view.manifest" > "$T/manifest.diff"; then
	ok "view equals plain dir after the workload ($(wc -l < "$T/view.manifest") entries)"
else
	head -40 "$T/manifest.diff"
	fail "view differs from plain dir"
fi

# identity
expect_eq "st_ino stable across copy-up and chmod/touch" "$ino_hello" "$(stat -c %i "$W3/home/pi/hello.txt")"
expect_eq "st_ino stable across directory rename" "$ino_doc" "$(stat -c %i "$W3/usr/share/doc-moved/pkg7/copyright")"
expect_eq "hard link shares st_ino" "$(stat -c %i "$W3/home/pi/hello.txt")" "$(stat -c %i "$W3/home/pi/hello-link")"
expect_eq "golden link group stays one file" "$(stat -c %i "$W3/usr/bin/perl")" "$(stat -c %i "$W3/usr/bin/perl5.36.0")"
expect_eq "'..' of a moved golden dir" "$(stat -c %i "$W3/usr/share")" "$(stat -c %i "$W3/usr/share/doc-moved/..")"
expect_eq "'..' of a view root" "$(stat -c %i "$M/nfsroot")" "$(stat -c %i "$W3/..")"
expect_eq "file over 4 GiB: size" 6442450944 "$(stat -c %s "$W3/root/big")"
expect_eq "file over 4 GiB: bytes past 4G" past-4G "$(dd if="$W3/root/big" bs=1 skip=$((5 << 30)) count=7 status=none)"
[ "$(stat -c %b "$W3/root/big")" -lt 1024 ] && ok "sparse file stays sparse in the delta view" || fail "sparse file not sparse: $(stat -c %b "$W3/root/big") blocks"
[ "$(du -k "$T/store/deltas/worker-3/var/lib/sparse.img" | cut -f1)" -lt 1024 ] && ok "copy-up kept the golden sparse file sparse" || fail "copy-up filled holes"
expect_eq "capability survives" "security.capability=0x0100000200200000000000000000000000000000" "$(getfattr -n security.capability -e hex --absolute-names "$W3/root/new.txt" 2>/dev/null | grep =)"
expect_eq "golden ping keeps capability in worker-1" "security.capability=0x0100000200200000000000000000000000000000" "$(getfattr -n security.capability -e hex --absolute-names "$M/nfsroot/worker-1/usr/bin/ping" 2>/dev/null | grep =)"

# readdir: stable offsets with telldir/seekdir, and rewinddir sees changes
out=$(perl -e '
	opendir(my $d, $ARGV[0]) or die; my @a; for (1..5) { push @a, scalar readdir($d) }
	my $pos = telldir($d); my $x = readdir($d); my $y = readdir($d);
	seekdir($d, $pos); my $x2 = readdir($d); my $y2 = readdir($d);
	print(($x eq $x2 && $y eq $y2) ? "same" : "differ: $x/$x2 $y/$y2");' "$W3/usr/share/doc-moved")
expect_eq "telldir/seekdir return the same entries" same "$out"
out=$(perl -e '
	opendir(my $d, $ARGV[0]) or die; my @a = readdir($d);
	open(my $f, ">", "$ARGV[0]/late") or die; close $f;
	rewinddir($d); my @b = readdir($d); print scalar(@b) - scalar(@a);' "$W3/srv")
expect_eq "rewinddir shows a file created meanwhile" 1 "$out"
n_plain=$(ls -A "$PLAIN/usr/share/doc-moved" | wc -l)
expect_eq "readdir of a moved golden dir: count" "$n_plain" "$(ls -A "$W3/usr/share/doc-moved" | wc -l)"

# statfs answers with the store's file system
df -P "$W3" >/dev/null 2>&1 && [ "$(stat -f -c %b "$W3")" -gt 0 ] && ok "statfs" || fail "statfs"

# the golden and the other worker saw none of it
"$PIFS" --store "$T/store" verify >/dev/null 2>&1 && ok "pifs verify clean after the workload" || fail "pifs verify reports changes"
tree_manifest "$M/nfsroot/worker-1" > "$T/w1.after"
diff -q "$T/w1.before" "$T/w1.after" >/dev/null && ok "worker-1 unchanged by worker-3's workload" || { diff "$T/w1.before" "$T/w1.after" | head; fail "worker-1 changed"; }
umount_pifs "$M"
finish
