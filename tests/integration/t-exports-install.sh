#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-exports-install.sh - `pifs exports --install FILE`: the exports kept
# applied with no manual step, on the host (whose kernel has no nfsd: the
# real exportfs and mountd are t-knfsd-exports.sh's, in the guest).
# exportfs here is a stand-in first on PATH that records, at each call,
# its arguments, FILE's bytes and which workers' file systems were
# mounted, so the checks see that FILE was complete and the worker's file
# system mounted before exportfs -r ran.
#  1. bad input: a relative path, a missing or unwritable directory, a
#     name exportfs would not read in exports.d/, a file pifs did not
#     write, conflicting options: one line, non-zero, pifs.conf as it was.
#  2. --install: FILE has `pifs exports`'s bytes, exportfs -r ran; a new
#     --install elsewhere removes the old file.
#  3. worker add (not mounted): FILE replaced by a new one (rename: new
#     inode, no temporary left), exportfs -r after it.
#  4. pifsd's mount: exportfs -r once every worker's file system is up.
#  5. worker add while mounted: exportfs -r ran with the new worker's file
#     system mounted, before the command returned.
#  6. an enrolment (a lookup of tftpboot/<new serial>/start4.elf): pifsd
#     rewrites FILE and runs exportfs -r with the new worker mounted.
#  7. exportfs fails: one warning, the worker is added all the same.
#  8. worker remove: its export is gone from FILE.
#  9. --uninstall: FILE removed, exportfs -r, `pifs exports` back to the
#     "Apply with" text.
. "$(dirname "$0")/lib.sh"

setup
make_store
S=$T/store
M=$T/mnt
EX=$T/exports.d/pifs.exports
pifs() { "$PIFS" --store "$S" "$@"; }

mkdir -p "$T/bin" "$T/calls" "$T/exports.d"
cat >"$T/bin/exportfs" <<EOF
#!/bin/bash
# stand-in: one record per call, numbered in call order
n=\$(mktemp "$T/calls/call.XXXXXX") || exit 1
{
	echo "argv \$*"
	for w in "$M"/nfsroot/*; do
		[ -e "\$w" ] && mountpoint -q "\$w" && echo "mounted \${w##*/}"
	done
} >"\$n.info"
cp "$EX" "\$n.file" 2>/dev/null
ls "$T/calls" | grep -c '\.info\$' >"\$n.seq"
if [ -e "$T/exportfs-fail" ]; then
	echo "exportfs: stand-in told to fail" >&2
	exit 1
fi
exit 0
EOF
chmod 755 "$T/bin/exportfs"
export PATH=$T/bin:$PATH

ncalls() { ls "$T/calls" | grep -c '\.info$'; }
# a call (its record's base name) whose file has a line for WORKER and
# during which WORKER's file system was mounted
call_with() {
	local f
	for f in "$T"/calls/*.info; do
		[ -e "$f" ] || continue
		grep -qx "mounted $1" "$f" && grep -q "^/nfsroot/$1 " "${f%.info}.file" 2>/dev/null &&
			{ echo "${f%.info}"; return 0; }
	done
	return 1
}
same_as_exports() {
	pifs exports >"$T/printed" || { fail "$1: pifs exports"; return; }
	cmp -s "$T/printed" "$EX" && ok "$1: $EX has the bytes pifs exports prints" ||
		{ diff "$T/printed" "$EX" | head; fail "$1: $EX differs from pifs exports"; }
}

# 1. bad input
cp "$S/pifs.conf" "$T/conf.before"
expect_fail "relative --install" "--install needs an absolute path" pifs exports --install exports.d/pifs.exports
expect_fail "missing directory" "cannot write '$T/nodir/pifs.exports': No such file or directory" \
	pifs exports --install "$T/nodir/pifs.exports"
mkdir "$T/ro" && chattr +i "$T/ro" || fail "chattr +i"
expect_fail "unwritable directory" "cannot write '$T/ro/pifs.exports': Operation not permitted" \
	pifs exports --install "$T/ro/pifs.exports"
chattr -i "$T/ro"
expect_fail "a name exportfs ignores in exports.d/" "exportfs reads only files named \*\.exports" \
	pifs exports --install "$T/exports.d/pifs.conf"
echo "/srv *(ro)" >"$T/exports.d/admin.exports"
expect_fail "a file pifs did not write" "'$T/exports.d/admin.exports' exists and was not written by pifs" \
	pifs exports --install "$T/exports.d/admin.exports"
expect_eq "the admin's file is left as it was" "/srv *(ro)" "$(cat "$T/exports.d/admin.exports")"
expect_fail "--uninstall with --install" "--uninstall takes no other option" \
	pifs exports --uninstall --install "$EX"
cmp -s "$S/pifs.conf" "$T/conf.before" && ok "pifs.conf unchanged by the refused commands" ||
	fail "pifs.conf changed by a refused command"
expect_eq "no exportfs run by a refused command" 0 "$(ncalls)"

# 2. --install
pifs exports --install "$EX" >"$T/install.out" 2>"$T/install.err" &&
	ok "exports --install $EX" || { cat "$T/install.err"; fail "exports --install"; }
[ ! -s "$T/install.err" ] || { cat "$T/install.err"; fail "--install warned"; }
same_as_exports "--install"
grep -qx "exports $EX /nfsroot" "$S/pifs.conf" && ok "pifs.conf remembers the file" ||
	{ cat "$S/pifs.conf"; fail "pifs.conf has no exports line"; }
grep -q "^/nfsroot/worker-1 10.1.1.2(rw,sync,no_subtree_check,no_root_squash,fsid=1002,mountpoint)$" "$EX" &&
	ok "worker-1's export line" || { cat "$EX"; fail "no export line for worker-1"; }
expect_eq "exportfs ran once" 1 "$(ncalls)"
grep -qx "argv -r" "$T"/calls/*.info && ok "with -r" || fail "exportfs not run with -r"
expect_eq "file mode" 644 "$(stat -c %a "$EX")"
pifs exports --install "$T/exports.d/moved.exports" >/dev/null 2>&1 && [ -f "$T/exports.d/moved.exports" ] &&
	[ ! -e "$EX" ] && ok "installed elsewhere: the old file goes" || fail "--install elsewhere"
pifs exports --install "$EX" >/dev/null 2>&1 && [ -f "$EX" ] && [ ! -e "$T/exports.d/moved.exports" ] &&
	ok "and back" || fail "--install back"

# 3. worker add, not mounted
ino=$(stat -c %i "$EX")
n=$(ncalls)
pifs worker add worker-5 --serial 5a5a5a5a >/dev/null 2>"$T/add5.err" && [ ! -s "$T/add5.err" ] &&
	ok "worker add worker-5, no warning" || { cat "$T/add5.err"; fail "worker add worker-5"; }
same_as_exports "worker add"
[ "$(stat -c %i "$EX")" != "$ino" ] && ok "$EX replaced by rename (new inode)" || fail "$EX rewritten in place"
expect_eq "no temporary file left beside it" "admin.exports pifs.exports" "$(ls -A "$T/exports.d" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "exportfs ran again" $((n + 1)) "$(ncalls)"
last=$(grep -lx "$((n + 1))" "$T"/calls/*.seq); last=${last%.seq}
grep -q "^/nfsroot/worker-5 " "$last.file" && ok "exportfs -r ran after the file had worker-5" ||
	fail "exportfs -r ran before worker-5 was in the file"

# 4. pifsd's mount
mount_pifs "$S" "$M"
for _ in $(seq 1 200); do call_with worker-5 >/dev/null && call_with worker-1 >/dev/null && break; sleep 0.05; done
c=$(call_with worker-5) && grep -qx "mounted worker-1" "$c.info" && grep -qx "mounted worker-3" "$c.info" &&
	ok "pifsd ran exportfs -r with every worker's file system mounted" ||
	{ cat "$T"/calls/*.info; fail "no exportfs -r by pifsd after its mount"; }
grep -q "exports '$EX' rewritten, exportfs -r done" "$T/pifsd.log" && ok "pifsd logged it" ||
	fail "pifsd did not log the exports"

# 5. worker add, mounted
pifs worker add worker-6 --serial 6b6b6b6b >/dev/null 2>"$T/add6.err" && [ ! -s "$T/add6.err" ] &&
	ok "worker add worker-6 while mounted" || { cat "$T/add6.err"; fail "worker add worker-6"; }
call_with worker-6 >/dev/null && ok "exportfs -r ran with worker-6 in the file and its file system mounted, before worker add returned" ||
	{ cat "$T"/calls/*.info; fail "no exportfs -r with worker-6 mounted"; }
same_as_exports "worker add while mounted"

# 6. enrolment
pifs enroll on >/dev/null || fail "enroll on"
stat "$M/tftpboot/1a2b3c4d/start4.elf" >/dev/null 2>&1 && ok "tftpboot/1a2b3c4d/start4.elf found: enrolled" ||
	fail "the enrolment lookup found nothing"
new=$(pifs worker list | awk '$2 == "1a2b3c4d" { print $1 }')
[ -n "$new" ] && ok "1a2b3c4d enrolled as $new" || fail "1a2b3c4d not in the registry"
for _ in $(seq 1 200); do call_with "$new" >/dev/null && break; sleep 0.05; done
call_with "$new" >/dev/null && ok "pifsd ran exportfs -r with $new in the file and its file system mounted" ||
	{ cat "$T"/calls/*.info; fail "no exportfs -r for the enrolled $new"; }
same_as_exports "enrolment"

# 7. exportfs fails
touch "$T/exportfs-fail"
pifs worker add worker-7 --serial 7c7c7c7c >/dev/null 2>"$T/add7.err"; rc=$?
expect_eq "worker add with a failing exportfs exits 0" 0 $rc
grep -qx "pifs: warning: exportfs -r failed (exit status 1): exportfs: stand-in told to fail; the registry change stands" "$T/add7.err" &&
	[ "$(wc -l <"$T/add7.err")" = 1 ] && ok "one warning line: $(cat "$T/add7.err")" ||
	{ cat "$T/add7.err"; fail "the exportfs failure is not one clear line"; }
pifs worker list | grep -q '^worker-7 ' && ok "worker-7 added all the same" || fail "worker-7 missing"
same_as_exports "failing exportfs"
rm -f "$T/exportfs-fail"

# 8. worker remove
n=$(ncalls)
pifs worker remove worker-6 --force >/dev/null 2>"$T/rm6.err" && ok "worker remove worker-6" ||
	{ cat "$T/rm6.err"; fail "worker remove"; }
grep -q "^/nfsroot/worker-6 " "$EX" && fail "worker-6's export still in $EX" || ok "worker-6's export gone"
same_as_exports "worker remove"
[ "$(ncalls)" -gt "$n" ] && ok "exportfs -r ran after the removal" || fail "no exportfs -r after the removal"

# 9. --uninstall
n=$(ncalls)
pifs exports --uninstall >/dev/null 2>"$T/un.err" && [ ! -s "$T/un.err" ] && ok "exports --uninstall" ||
	{ cat "$T/un.err"; fail "exports --uninstall"; }
[ ! -e "$EX" ] && ok "$EX removed" || fail "$EX still there"
grep -q '^exports ' "$S/pifs.conf" && fail "pifs.conf still has the setting" || ok "pifs.conf forgot it"
[ "$(ncalls)" -gt "$n" ] && ok "exportfs -r ran" || fail "no exportfs -r after --uninstall"
pifs exports | grep -q '^# Apply with: exportfs -ra' && ok "pifs exports says how to apply again" ||
	fail "pifs exports still says installed"
n=$(ncalls)
pifs worker add worker-8 --serial 8d8d8d8d >/dev/null || fail "worker add worker-8"
[ ! -e "$EX" ] && ok "not written again once uninstalled" || fail "$EX written after --uninstall"

umount_pifs "$M"
finish
