#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-json.sh - the CLI's interfaces for scripts and people: --json of
# status, worker list, golden list, log and diff on a mounted store with
# two workers, a snapshot and changes (a changed and a deleted golden
# file, a new file whose name is not UTF-8, a commit message that is not
# either), each parsed by python3's json and checked field by field
# against the text output and against what the test wrote; diff
# --exit-code (1 changes, 0 none, 3 error, 2 usage); pifs help [COMMAND]
# against COMMAND --help; pifs/pifsd --version against `git describe`.
. "$(dirname "$0")/lib.sh"
setup
command -v python3 >/dev/null || { fail "python3 missing (apt-get install python3)"; exit 1; }

P() { "$PIFS" --store "$T/store" "$@"; }

# jpy WHAT FILE CODE [ARGS...]: run python CODE with d = the JSON document
# of FILE (the whole file must be one document), a = ARGS; it prints what
# it renders, or exits 1 after saying what is wrong.
jpy() {
	local what=$1 file=$2 code=$3
	shift 3
	python3 -c "
import base64, json, sys, time
d = json.load(open(sys.argv[1], encoding='utf-8'))
a = sys.argv[2:]
out = sys.stdout.buffer
def check(cond, msg):
    if not cond:
        sys.stderr.write('$what: ' + msg + '\n')
        sys.exit(1)
def human(b):
    if b < 1024:
        return '%d B' % b
    v, u = float(b), 0
    while v >= 1024 and u < 3:
        v /= 1024
        u += 1
    return ('%.1f %s' if v < 10 else '%.0f %s') % (v, ['B', 'KiB', 'MiB', 'GiB'][u])
def raw(o, k):
    # the exact bytes of member k: its base64 twin, else its UTF-8
    b = o[k + '_base64']
    return base64.b64decode(b) if b is not None else o[k].encode()
def esc(p):
    # pifs_path_escape: what the text output shows
    if p == b'-':
        return b'\\\\x2d'
    return b''.join(b'\\\\x%02x' % c if c < 0x21 or c == 0x5c or c >= 0x7f else bytes([c]) for c in p)
def utc(t, fmt):
    return time.strftime(fmt, time.gmtime(t))
$code
" "$file" "$@"
}

# ---- pifs help [COMMAND] and --version need no store
expect_eq "pifs help is pifs --help" "$("$PIFS" --help)" "$("$PIFS" help)"
"$PIFS" help >/dev/null; expect_eq "pifs help exits 0" 0 $?
"$PIFS" --help | grep -q '^  help \[COMMAND' && ok "pifs --help lists help" || fail "pifs --help does not list help"
for c in init verify worker golden mount umount destroy snapshot log diff show \
	reset status rebase fsck master dnsmasq-conf exports; do
	want=$("$PIFS" $c --help 2>&1)
	got=$("$PIFS" help $c 2>&1); rc=$?
	if [ $rc -eq 0 ] && [ -n "$got" ] && [ "$got" == "$want" ]; then
		ok "pifs help $c"
	else
		fail "pifs help $c (exit $rc) differs from pifs $c --help"
	fi
done
for c in "golden import" "golden list" "worker add" "worker remove"; do
	expect_eq "pifs help $c" "$("$PIFS" $c --help)" "$("$PIFS" help $c)"
done
"$PIFS" help golden import | grep -q 'import reads a Raspberry Pi OS disk image' && ok "help golden import is golden's help" || fail "help golden import"
expect_fail "help of an unknown command" "^pifs: unknown command 'nosuch' \(see 'pifs --help'\)$" "$PIFS" help nosuch
"$PIFS" help nosuch 2>/dev/null; expect_eq "help of an unknown command exits 2" 2 $?
"$PIFS" help log extra 2>/dev/null; expect_eq "help with too many words exits 2" 2 $?
"$PIFS" help golden nosuch 2>/dev/null; expect_eq "help of an unknown golden command exits 2" 2 $?

pv=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$PIFS_BUILDDIR/config.h")
[ -n "$pv" ] || fail "no PACKAGE_VERSION in $PIFS_BUILDDIR/config.h"
if [ -e "$PIFS_SRCDIR/.git" ] && desc=$(git -C "$PIFS_SRCDIR" describe --always --dirty 2>/dev/null); then
	expect_eq "pifs --version names git describe" "pifs $pv (git $desc)" "$("$PIFS" --version)"
	"$PIFSD" --version | grep -qxF "pifsd $pv (git $desc, libfuse $("$PIFSD" --version | sed -n 's/.*libfuse \([^)]*\))$/\1/p'))" &&
		ok "pifsd --version names git describe" || fail "pifsd --version: '$("$PIFSD" --version)', want git $desc"
else
	expect_eq "pifs --version of a tarball" "pifs $pv" "$("$PIFS" --version)"
fi

# ---- a mounted store, two workers
make_store
M=$T/mnt
mount_pifs "$T/store" "$M"
V=$M/nfsroot/worker-3
GID=$(P golden default)

P log worker-3 --json >"$T/log0.json" || fail "log --json with no snapshots"
jpy "empty log" "$T/log0.json" '
check(d == {"version": 1, "worker": "worker-3", "base": None, "snapshots": []}, repr(d))' &&
	ok "log --json with no snapshots" || fail "log --json with no snapshots"
expect_eq "its text" "no snapshots of worker-3" "$(P log worker-3)"

# what the test writes: a changed, a deleted (non-ASCII UTF-8 name) and a
# changed-mode golden file, a new one whose name is not UTF-8
BAD=$'bad-\xff\xfe-\x01name'
echo 'changed motd' >"$V/etc/motd"
rm "$V/home/pi/café ☕.txt"
chmod 600 "$V/etc/fstab"
printf 'abc\n' >"$V/home/pi/$BAD"
[ -f "$V/home/pi/$BAD" ] || fail "cannot create the non-UTF-8 name"
SNAP=$(P snapshot worker-3 -m $'first \xff snapshot')
[[ $SNAP =~ ^[0-9a-f]{40}$ ]] || { fail "snapshot: '$SNAP'"; exit 1; }
# after it: a deleted and a changed golden file
rm "$V/home/pi/hello.txt"
echo more >>"$V/etc/motd"

# ---- worker list
P worker list --json >"$T/wl.json" || fail "worker list --json"
expect_eq "worker list --json = its text" \
	"$(P worker list | awk 'NR > 1 { print $1, $2, $3, $4, $5 }')" \
	"$(jpy "worker list" "$T/wl.json" '
check(d["version"] == 1, "version")
for w in d["workers"]:
    print(w["name"], w["serial"], w["mac"] or "-", w["ip"] or "-", w["id"])')"
jpy "worker list" "$T/wl.json" '
check([w["name"] for w in d["workers"]] == ["worker-1", "worker-3"], "names")
check(d["workers"][1]["serial"] == "8b07bcc6", "serial")
check(all(isinstance(w["id"], int) for w in d["workers"]), "ids are numbers")' &&
	ok "worker list --json fields" || fail "worker list --json fields"

# ---- golden list
P golden list --json >"$T/gl.json" || fail "golden list --json"
expect_eq "golden list --json = its text" \
	"$(P golden list | awk 'NR > 1 { print $1, $2, $3, $4, $(NF-2), $(NF-1), $NF }')" \
	"$(jpy "golden list" "$T/gl.json" '
for g in d["goldens"]:
    print(g["id"], "*" if g["default"] else "", utc(g["created"], "%Y-%m-%d %H:%M:%SZ"),
          g["workers"], g["snapshots"], g["source"])' | sed 's/  / /')"
jpy "golden list" "$T/gl.json" '
check(d["version"] == 1 and d["default"] == a[0], "default")
g, = d["goldens"]
check(g["id"] == a[0] and len(g["id"]) == 16 and g["default"] is True, "id")
check(g["workers"] == 2 and g["snapshots"] == 1, "users")
check(g["source"] == a[1] and g["source_base64"] is None, "source")
check(g["created_utc"] == utc(g["created"], "%Y-%m-%dT%H:%M:%SZ"), "created_utc")
check(abs(g["created"] - time.time()) < 86400, "created is seconds since the epoch")
check(isinstance(g["size"], int) and g["size"] > 1000000 and g["files"] > 50, "size, files")' \
	"$GID" "$T/golden" && ok "golden list --json fields" || fail "golden list --json fields"

# SIZE counts what a golden's files take on disk: a 1 GiB sparse disk
# image holding 4 KiB is 4 KiB, a hard-linked file counts once; .size
# stays the apparent bytes of file data
mkdir -p "$T/sparse/etc"
echo sparse >"$T/sparse/etc/hostname"
truncate -s 1G "$T/sparse/disk.img"
head -c 4096 /dev/urandom | dd of="$T/sparse/disk.img" bs=4096 seek=1000 conv=notrunc status=none
head -c 200000 /dev/urandom >"$T/sparse/blob"
ln "$T/sparse/blob" "$T/sparse/blob-link"
"$PIFS" init "$T/sp" --golden "$T/sparse" >/dev/null 2>&1 || fail "init of the sparse golden"
"$PIFS" --store "$T/sp" golden list --json >"$T/sp.json" || fail "golden list --json (sparse)"
jpy "sparse golden" "$T/sp.json" '
import os
g, = d["goldens"]
want, seen = 0, set()
for root, dirs, files in os.walk(a[0]):
    for f in files:
        st = os.lstat(os.path.join(root, f))
        if os.path.isfile(os.path.join(root, f)) and not os.path.islink(os.path.join(root, f)) and st.st_ino not in seen:
            seen.add(st.st_ino)
            want += st.st_blocks * 512
check(g["disk"] == want, "disk %r, the tree has %r" % (g["disk"], want))
check(g["disk"] < 1048576, "disk %r counts the holes" % g["disk"])
check(g["size"] >= 1073741824 + 400000, "size %r is the apparent size" % g["size"])
print(human(g["disk"]))' "$(ls -d "$T"/sp/goldens/*/tree)" >"$T/sp.human" &&
	ok "golden list --json: disk counts blocks, size apparent bytes" || fail "golden list --json of a sparse golden"
expect_eq "golden list SIZE is the bytes on disk" "$(cat "$T/sp.human")" \
	"$("$PIFS" --store "$T/sp" golden list | awk 'NR == 2 { print $5, $6 }')"
chattr -R -i "$T/sp" 2>/dev/null
rm -rf "$T/sp"

# ---- log
P log worker-3 --json >"$T/log.json" || fail "log --json"
P log worker-3 >"$T/log.txt"
jpy "log" "$T/log.json" '
for s in d["snapshots"]:
    t = s["time"] + s["utc_offset_minutes"] * 60
    o = s["utc_offset_minutes"]
    out.write(b"%s %s  %s %s%02d%02d  %s  (%d file%s, %s)\n" % (
        b"*" if s["base"] else b" ", s["id"][:7].encode(),
        utc(t, "%Y-%m-%d %H:%M:%S").encode(), b"-" if o < 0 else b"+",
        abs(o) // 60, abs(o) % 60, raw(s, "subject"), s["files"],
        b"" if s["files"] == 1 else b"s", human(s["bytes"]).encode()))' >"$T/log.render" &&
	cmp -s "$T/log.txt" "$T/log.render" && ok "log --json = its text" ||
	fail "log --json renders '$(cat -v "$T/log.render")', text is '$(cat -v "$T/log.txt")'"
jpy "log" "$T/log.json" '
check(d["version"] == 1 and d["worker"] == "worker-3" and d["base"] == a[0], "top")
s, = d["snapshots"]
check(s["id"] == a[0] and s["base"] is True and s["golden"] == a[1], "id, base, golden")
check(s["subject"] == "first \ufffd snapshot", "subject " + repr(s["subject"]))
check(base64.b64decode(s["subject_base64"]) == b"first \xff snapshot", "subject_base64")
check(s["files"] == 4, "files %d" % s["files"])
check(s["time_utc"] == utc(s["time"], "%Y-%m-%dT%H:%M:%SZ"), "time_utc")
check(abs(s["time"] - time.time()) < 3600, "time is now")' "$SNAP" "$GID" &&
	ok "log --json fields" || fail "log --json fields"

# ---- diff against the golden and against the snapshot
P diff --json worker-3 >"$T/diff.json" || fail "diff --json"
P diff worker-3 >"$T/diff.txt"
render_diff='
for c in d["changes"]:
    line = c["kind"].encode() + b" " + esc(raw(c, "path"))
    if c["kind"] == "M":
        line += b" (" + ", ".join(c["what"]).encode() + b")"
    out.write(line + b"\n")'
jpy "diff" "$T/diff.json" "$render_diff" >"$T/diff.render" &&
	cmp -s "$T/diff.txt" "$T/diff.render" && ok "diff --json = its text" ||
	fail "diff --json renders '$(cat -v "$T/diff.render")', text is '$(cat -v "$T/diff.txt")'"
jpy "diff" "$T/diff.json" '
check(d["version"] == 1 and d["worker"] == "worker-3" and d["rev"] is None, "top")
check(d["paths"] is None, "no PATH: paths is null, not %r" % d.get("paths", "missing"))
ch = {raw(c, "path"): c for c in d["changes"]}
bad = ch.get(a[0].encode("utf-8", "surrogateescape"))
check(bad is not None, "no change for the non-UTF-8 name: %r" % list(ch))
check(bad["kind"] == "A" and bad["bytes"] == 4 and bad["what"] == [], "added " + repr(bad))
check(bad["path"] == "home/pi/bad-\ufffd\ufffd-\x01name", "path " + repr(bad["path"]))
check(base64.b64decode(bad["path_base64"]) == b"home/pi/bad-\xff\xfe-\x01name", "path_base64")
caf = ch.get("home/pi/café ☕.txt".encode())
check(caf is not None and caf["kind"] == "D" and caf["path_base64"] is None, "deleted utf-8 name")
check(ch[b"home/pi/hello.txt"]["kind"] == "D", "deleted hello.txt")
motd = ch[b"etc/motd"]
check(motd["kind"] == "M" and "content" in motd["what"] and motd["bytes"] == 18, "motd " + repr(motd))
check("mode 644->600" in ch[b"etc/fstab"]["what"], "fstab " + repr(ch[b"etc/fstab"]))' \
	"home/pi/$BAD" && ok "diff --json fields" || fail "diff --json fields"
# the raw JSON text: one line; each invalid byte as U+FFFD (UTF-8), the
# control byte as \u0001
[ "$(wc -l <"$T/diff.json")" = 1 ] &&
	grep -qF $'"home/pi/bad-\xef\xbf\xbd\xef\xbf\xbd-\\u0001name"' "$T/diff.json" &&
	ok "diff --json: one line, U+FFFD and \\u0001 in the raw text" ||
	fail "diff --json raw text: $(cat -v "$T/diff.json")"

P diff worker-3 HEAD --json >"$T/diffh.json" || fail "diff REV --json (option after the operands)"
jpy "diff HEAD" "$T/diffh.json" '
check(d["rev"] == a[0], "rev " + repr(d["rev"]))
got = sorted((c["kind"], c["path"]) for c in d["changes"])
check(got == [("D", "home/pi/hello.txt"), ("M", "etc/motd")], repr(got))' "$SNAP" &&
	ok "diff HEAD --json: what changed since the snapshot" || fail "diff HEAD --json"
P diff --json worker-3 -- /home/pi/ ./etc/motd "home/pi/$BAD" >"$T/diffp.json" || fail "diff --json -- PATH"
jpy "diff PATH" "$T/diffp.json" '
check(sorted(c["kind"] for c in d["changes"]) == ["A", "D", "D", "M"], repr(d["changes"]))
p = d.get("paths")
check(isinstance(p, list) and len(p) == 3, "paths " + repr(p))
check([x["path"] for x in p[:2]] == ["home/pi", "etc/motd"], "paths as diff took them: " + repr(p))
check(p[0]["path_base64"] is None and raw(p[2], "path") == a[0].encode("utf-8", "surrogateescape"), "a non-UTF-8 PATH " + repr(p[2]))' \
	"home/pi/$BAD" && ok "diff --json -- PATH limits, and paths names them" || fail "diff --json -- PATH"

# ---- status
P status --json >"$T/st.json" || fail "status --json"
P status >"$T/st.txt"
expect_eq "status --json = its text" "$(sed -n 2,3p "$T/st.txt" | tr -s ' ')" \
	"$(jpy "status" "$T/st.json" '
for w in d["workers"]:
    s = w["last_snapshot"]
    last = "%s %s" % (s["id"][:7], utc(s["time"] + s["utc_offset_minutes"] * 60, "%Y-%m-%d %H:%M")) if s else "-"
    print(w["name"], w["serial"], w["changes"], human(w["bytes"]), w["golden"] or "-", last)')"
jpy "status" "$T/st.json" '
check(d["version"] == 1 and d["store"] == a[0] and d["store_base64"] is None, "top")
check(d["golden_bootcode"] is True, "bootcode")
w1, w3 = d["workers"]
check(w1 == {"name": "worker-1", "serial": "77b655ec", "delta": True, "changes": 0,
             "bytes": 0, "golden": a[1], "last_snapshot": None, "boots": True,
             "model": "pi3b+", "tftp_dir": "77b655ec", "missing_boot_files": [],
             "oversized_boot_files": [], "conflicts": []}, repr(w1))
check(w3["changes"] == int(a[3]) == 2 and w3["bytes"] == 18, "worker-3 changes " + repr(w3))
check(w3["last_snapshot"]["id"] == a[2], "last snapshot")
check(w3["last_snapshot"]["time_utc"] == utc(w3["last_snapshot"]["time"], "%Y-%m-%dT%H:%M:%SZ"), "time_utc")' \
	"$T/store" "$GID" "$SNAP" "$(P diff worker-3 HEAD | wc -l)" &&
	ok "status --json fields" || fail "status --json fields"

# ---- diff --exit-code
P diff --exit-code worker-3 >"$T/x.txt"; rc=$?
expect_eq "diff --exit-code with changes exits 1" 1 $rc
cmp -s "$T/x.txt" "$T/diff.txt" && ok "diff --exit-code prints the same" || fail "diff --exit-code output differs"
P diff --exit-code worker-1 >"$T/x.txt"; rc=$?
expect_eq "diff --exit-code without changes exits 0" "0:0" "$rc:$(wc -c <"$T/x.txt")"
P diff --exit-code --json worker-1 >"$T/x.json"; rc=$?
expect_eq "diff --exit-code --json without changes exits 0" 0 $rc
jpy "diff no changes" "$T/x.json" 'check(d["changes"] == [], repr(d))' && ok "no changes in JSON" || fail "no changes in JSON"
P diff --json worker-3 --exit-code >/dev/null; expect_eq "diff --json --exit-code with changes exits 1" 1 $?
P diff --exit-code worker-3 -- usr >/dev/null; expect_eq "diff --exit-code of an unchanged PATH exits 0" 0 $?
expect_fail "diff --exit-code of an unknown worker" "^pifs: no worker 'worker-9' in store" P diff --exit-code worker-9
P diff --exit-code worker-9 2>/dev/null; expect_eq "diff --exit-code error exits 3" 3 $?
P diff --exit-code worker-3 ffffffff 2>/dev/null; expect_eq "diff --exit-code of a bad REV exits 3" 3 $?
P diff --exit-code 2>/dev/null; expect_eq "diff --exit-code usage error exits 2" 2 $?
P diff worker-9 2>/dev/null; expect_eq "diff without --exit-code: an error exits 1" 1 $?
P diff --help | grep -q -- '--exit-code: exit 1 if there are changes' && ok "diff --help documents --exit-code" || fail "diff --help"

# ---- errors: nothing on stdout, one line on stderr
for cmd in "diff --json worker-9" "log --json worker-9" "status --json extra"; do
	out=$(P $cmd 2>"$T/err"); rc=$?
	if [ $rc -ne 0 ] && [ -z "$out" ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q '^pifs: ' "$T/err"; then
		ok "$cmd: exit $rc, stdout empty, $(cat "$T/err")"
	else
		fail "$cmd: exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
	fi
done
out=$("$PIFS" --store "$T/nostore" status --json 2>/dev/null); rc=$?
expect_eq "status --json of no store: exit 1, nothing on stdout" "1:" "$rc:$out"

umount_pifs "$M"
[ "$NFAIL" -eq 0 ] || exit 1
