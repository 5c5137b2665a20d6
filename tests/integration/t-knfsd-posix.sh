#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-posix's workload (posix-ops.sh) run by a worker through its kernel
# NFS mount (the amd64 master guest of lib-knfsd.sh, set up as the README
# says), compared with the same workload on a plain directory exported
# the same way (the pifs export line with another path and fsid; a bind
# mount, so `mountpoint` holds) and mounted by the same worker with the
# same options.  The plain directory starts as a `cp -a` of worker-3's
# view, as in t-posix.
#
# What NFSv3 cannot carry, whatever the server exports: the workload's
# steps below fail on both mounts with EOPNOTSUPP and are
# taken out of the run (each is checked to be in posix-ops.sh, so the
# list follows the workload, and to fail the same way on both):
#   - extended attributes of any namespace (user.*, security.* such as
#     the file capability ping needs): NFSv3 has no xattr operations;
#   - fallocate: NFSv3 has no ALLOCATE (the file is still created);
#   - punching a hole (fallocate -p): no DEALLOCATE either (the workload
#     already tolerates its failure).
# Everything else must give the same result on both: the trees are then
# compared entry by entry as the worker sees them (over NFS) and as they
# are stored on the master (the pifs view and the plain directory, where
# the golden's xattrs must have survived; one known difference, a file
# capability after a truncate, is asserted both ways and let through),
# then the checks a listing
# cannot show, over NFS: inode numbers, readdir offsets, big sparse files.
# The trees are listed by knfsd_manifest (tree_manifest's fields in one
# process: tree_manifest's process per entry takes minutes under TCG).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-knfsd.sh"

if ! knfsd_in_guest; then
	knfsd_setup
	knfsd_run 2400
	exit $?
fi

# ---- in the guest ----
knfsd_guest_setup
t0=$(date +%s)
knfsd_master worker-1:77b655ec worker-3:8b07bcc6 || finish
V=/srv/pifs/nfsroot/worker-3
PLAIN=$T/plain
cp -a "$V" "$PLAIN" || fail "cp -a of worker-3's view"
mkdir -p /plainroot/worker-3
mount --bind "$PLAIN" /plainroot/worker-3 && MOUNTS+=(/plainroot/worker-3) || { fail "bind of the plain directory"; finish; }
sed -n 's#^/nfsroot/worker-3 \(.*\),fsid=[0-9]*,#/plainroot/worker-3 \1,fsid=2002,#p' /etc/exports.d/pifs.exports >/etc/exports.d/plain.exports
expect_eq "the plain directory's export line" \
	"/plainroot/worker-3 10.1.1.2(rw,sync,no_subtree_check,no_root_squash,fsid=2002,mountpoint)" "$(cat /etc/exports.d/plain.exports)"
exportfs -ra || fail "exportfs -ra"
knfsd_worker worker-3 /w/worker-3 && ok "worker-3 mounts $KNFSD_SPEC (-o $KNFSD_OPTS)" || finish
knfsd_mount worker-3 10.1.1.100:/plainroot/worker-3 /w/plain "$KNFSD_OPTS" && ok "worker-3 mounts the plain export with the same options" ||
	{ fail "mount of the plain export"; finish; }
W=/w/worker-3
P=/w/plain
echo "note: the master and both mounts are up in $(($(date +%s) - t0)) s"
knfsd_manifest /srv/pifs/nfsroot/worker-1 >"$T/w1.before"

# ---- what NFSv3 cannot carry ----
NFSV3_CANNOT=(
	'setfattr -n user.note -v hello root/new.txt'
	'setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 root/new.txt'
	'setfattr -x user.pifs-demo usr/bin/perl'
	'setfattr -n user.dir -v d srv'
	'fallocate -l 1M root/falloc'
	'fallocate -p -o 4096 -l 8192 usr/bin/perl5.36.0 2>/dev/null || true'
)
cp "$PIFS_SRCDIR/tests/integration/posix-ops.sh" "$T/ops.sh"
for l in "${NFSV3_CANNOT[@]}"; do
	grep -qxF -- "$l" "$T/ops.sh" || fail "posix-ops.sh has no step '$l': update NFSV3_CANNOT"
	grep -vxF -- "$l" "$T/ops.sh" >"$T/ops.tmp" && mv "$T/ops.tmp" "$T/ops.sh"
done

touch "$T/marker"
sleep 1
ino_hello=$(stat -c %i "$W/home/pi/hello.txt")
ino_doc=$(stat -c %i "$W/usr/share/doc/pkg7/copyright")
t1=$(date +%s)
(cd "$P" && bash "$T/ops.sh") && ok "the workload, less what NFSv3 cannot carry, on the plain export" || fail "workload on the plain export (exit $?)"
(cd "$W" && bash "$T/ops.sh") && ok "the same on worker-3's pifs export" || fail "workload on the pifs export (exit $?)"
echo "note: the workload took $(($(date +%s) - t1)) s on both"
for l in "${NFSV3_CANNOT[@]}"; do
	l=${l% 2>/dev/null || true}
	for d in "$P" "$W"; do
		out=$(cd "$d" && eval "$l" 2>&1) && { fail "'$l' worked over NFSv3 in $d: not expected"; continue; }
		case $out in
		*"Operation not supported"* | *"mode is unsupported"*) ;;
		*) fail "'$l' in $d: '$out', not EOPNOTSUPP" ;;
		esac
	done
	ok "not over NFSv3 (both exports): $l"
done

# Normalise what the two runs legitimately differ in: the wall-clock times
# of entries the workload touched (on the master, then as the worker sees).
for d in "$PLAIN" "$V"; do
	find "$d" -newer "$T/marker" -exec touch -h -d '2030-01-01 00:00:00' {} +
done
uncached() { sync; echo 3 >/proc/sys/vm/drop_caches; }
uncached
knfsd_manifest "$P" >"$T/plain.nfs"
knfsd_manifest "$W" >"$T/view.nfs"
if diff -u "$T/plain.nfs" "$T/view.nfs" >"$T/nfs.diff"; then
	ok "as the worker sees them over NFS, the pifs export equals the plain one ($(wc -l <"$T/view.nfs") entries)"
else
	head -40 "$T/nfs.diff"
	fail "over NFS, the pifs export differs from the plain one"
fi
knfsd_manifest "$PLAIN" >"$T/plain.manifest"
knfsd_manifest "$V" >"$T/view.manifest"
# The one difference, asserted both ways (README, "NFS": file
# capabilities): the workload truncates usr/bin/ping, which has a file
# capability.  nfsd's SETATTR of the size calls notify_change() with
# ATTR_SIZE alone, never asking for the privilege drop a local truncate
# asks for (do_truncate: ATTR_KILL_PRIV whenever the file has
# security.capability), so ext4 under the plain export keeps it; pifsd
# truncates the copied-up file in the delta with truncate(2), which
# drops it, as every local truncate and every write does (checked
# below).  Only that, on that entry, is then let through.
CAP=security.capability=0x0100000200200000000000000000000000000000
grep -q "^usr/bin/ping|.*|$CAP\$" "$T/plain.manifest" &&
	ok "plain export: worker-3's truncate of usr/bin/ping kept its file capability (nfsd's size change)" ||
	fail "plain export: usr/bin/ping's capability after worker-3's truncate: $(grep '^usr/bin/ping|' "$T/plain.manifest")"
grep -q '^usr/bin/ping|.*|$' "$T/view.manifest" &&
	ok "pifs: worker-3's truncate of usr/bin/ping dropped its file capability (a truncate(2) in the delta)" ||
	fail "pifs: usr/bin/ping's xattrs after worker-3's truncate: $(grep '^usr/bin/ping|' "$T/view.manifest")"
sed -i "s/^\(usr\/bin\/ping|.*|\)$CAP\$/\1/" "$T/plain.manifest"
if diff -u "$T/plain.manifest" "$T/view.manifest" >"$T/manifest.diff"; then
	ok "on the master, worker-3's view equals the plain directory ($(wc -l <"$T/view.manifest") entries, xattrs included)"
else
	head -40 "$T/manifest.diff"
	fail "on the master, worker-3's view differs from the plain directory"
fi
grep -q 'user.pifs-demo=' "$T/view.manifest" && ok "usr/bin/perl keeps the golden's user.pifs-demo (the worker could not remove it)" ||
	fail "user.pifs-demo gone from worker-3's perl"

# ---- what a listing cannot show, over NFS ----
expect_eq "st_ino stable across copy-up and chmod/touch" "$ino_hello" "$(stat -c %i "$W/home/pi/hello.txt")"
expect_eq "st_ino stable across directory rename" "$ino_doc" "$(stat -c %i "$W/usr/share/doc-moved/pkg7/copyright")"
expect_eq "hard link shares st_ino" "$(stat -c %i "$W/home/pi/hello.txt")" "$(stat -c %i "$W/home/pi/hello-link")"
expect_eq "golden link group stays one file" "$(stat -c %i "$W/usr/bin/perl")" "$(stat -c %i "$W/usr/bin/perl5.36.0")"
expect_eq "file over 4 GiB: size" 6442450944 "$(stat -c %s "$W/root/big")"
expect_eq "file over 4 GiB: bytes past 4G" past-4G "$(dd if="$W/root/big" bs=1 skip=$((5 << 30)) count=7 status=none)"
[ "$(stat -c %b "$W/root/big")" -lt 1024 ] && ok "sparse file stays sparse" || fail "sparse file not sparse: $(stat -c %b "$W/root/big") blocks"
[ "$(du -k /var/lib/pifs/deltas/worker-3/var/lib/sparse.img | cut -f1)" -lt 1024 ] && ok "copy-up by nfsd's write kept the golden sparse file sparse" ||
	fail "copy-up filled holes"
out=$(perl -e '
	opendir(my $d, $ARGV[0]) or die; my @a; for (1..5) { push @a, scalar readdir($d) }
	my $pos = telldir($d); my $x = readdir($d); my $y = readdir($d);
	seekdir($d, $pos); my $x2 = readdir($d); my $y2 = readdir($d);
	print(($x eq $x2 && $y eq $y2) ? "same" : "differ: $x/$x2 $y/$y2");' "$W/usr/share/doc-moved")
expect_eq "telldir/seekdir (NFS cookies) return the same entries" same "$out"
out=$(perl -e '
	opendir(my $d, $ARGV[0]) or die; my @a = readdir($d);
	open(my $f, ">", "$ARGV[0]/late") or die; close $f;
	rewinddir($d); my @b = readdir($d); print scalar(@b) - scalar(@a);' "$W/srv")
expect_eq "rewinddir shows a file created meanwhile" 1 "$out"
expect_eq "readdir of a moved golden dir: count" "$(ls -A "$P/usr/share/doc-moved" | wc -l)" "$(ls -A "$W/usr/share/doc-moved" | wc -l)"
[ "$(stat -f -c %b "$W")" -gt 0 ] && ok "statfs over NFS" || fail "statfs over NFS"

# The kernel's own rule for the capability (the decision above): on the
# same plain directory, a WRITE through nfsd drops it (ext4's write path:
# file_remove_privs) and so does a truncate on the master by root; pifs
# drops it for both too.  Only nfsd's SETATTR of the size keeps it.
for d in "$PLAIN:$P" "$V:$W"; do
	m=${d%%:*} c=${d#*:}
	cp /usr/bin/true "$m/root/capw" && cp /usr/bin/true "$m/root/capt" &&
		setcap cap_net_raw+ep "$m/root/capw" && setcap cap_net_raw+ep "$m/root/capt" ||
		{ fail "setcap on the master in $m"; continue; }
	echo appended >>"$c/root/capw" || fail "worker-3 appends to root/capw in $c"
	expect_eq "a WRITE through nfsd drops the capability ($m)" "" "$(getcap "$m/root/capw")"
	truncate -s 100 "$m/root/capt" || fail "truncate on the master in $m"
	expect_eq "a truncate on the master drops the capability ($m)" "" "$(getcap "$m/root/capt")"
done

# the golden and the other worker saw none of it
pifs verify >/dev/null 2>&1 && ok "pifs verify: the golden is untouched" || fail "pifs verify reports changes"
knfsd_manifest /srv/pifs/nfsroot/worker-1 >"$T/w1.after"
diff -q "$T/w1.before" "$T/w1.after" >/dev/null && ok "worker-1 unchanged by worker-3's workload" ||
	{ diff "$T/w1.before" "$T/w1.after" | head; fail "worker-1 changed"; }

knfsd_umount worker-3 "$W" || fail "worker-3 unmounts"
knfsd_umount worker-3 "$P" || fail "worker-3 unmounts the plain export"
knfsd_server_stop
knfsd_pifs_down
knfsd_sanitizer_reports
echo "note: the scenario took $(($(date +%s) - t0)) s in the guest"
finish
