# SPDX-License-Identifier: GPL-2.0-or-later
# lib.sh - shared by the integration scenarios (one scenario per t-*.sh).
# Each scenario makes its own temporary store and mount, and an EXIT trap
# unmounts, stops every process it started (by PID) and removes the tree.
# Exit 0 = pass, 77 = skip (a failure when PIFS_REQUIRE_FUSE=1), else fail.
set -u
: "${PIFS_BUILDDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${PIFS_SRCDIR:=$PIFS_BUILDDIR}"
PIFS=$PIFS_BUILDDIR/tools/pifs
PIFSD=$PIFS_BUILDDIR/fs/pifsd
export PIFS_DAEMON=$PIFSD
T=
PIDS=()
MOUNTS=()
NFAIL=0
SCENARIO=$(basename "$0" .sh)

skip() {
	if [ "${PIFS_REQUIRE_FUSE:-0}" = 1 ]; then
		echo "FAIL: $SCENARIO cannot run: $* (PIFS_REQUIRE_FUSE=1)"
		exit 1
	fi
	echo "SKIP: $SCENARIO: $*"
	exit 77
}

fail() {
	echo "FAIL: $*"
	NFAIL=$((NFAIL + 1))
}

ok() { echo "ok: $*"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

# expect_fail WHAT ERRTEXT CMD...: CMD must exit non-zero and print ERRTEXT
# (a grep -E pattern) on stderr, in one line.
expect_fail() {
	local what=$1 pat=$2 out rc
	shift 2
	out=$("$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -eq 0 ]; then fail "$what: exit 0, expected failure"; return; fi
	if ! printf '%s\n' "$out" | grep -Eq -- "$pat"; then
		fail "$what: error '$out' does not match '$pat'"; return
	fi
	if [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then
		fail "$what: error is not one line: '$out'"; return
	fi
	ok "$what (exit $rc: $out)"
}

require_root_fuse() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip "fusermount3 missing (apt-get install fuse3)"
	[ -x "$PIFS" ] && [ -x "$PIFSD" ] || skip "build pifs first"
}

cleanup() {
	local m p
	for m in "${MOUNTS[@]}"; do
		mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
	done
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	if [ -n "$T" ] && [ -d "$T" ]; then
		chattr -R -i "$T" 2>/dev/null
		rm -rf "$T"
	fi
}

# setup: a temporary dir on a real disk file system (xattrs, immutable).
setup() {
	require_root_fuse
	T=$(mktemp -d /var/tmp/pifs-test.XXXXXX)
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

# make_store [extra init args]: golden from tools/mkgolden.sh, store at
# $T/store with worker-1 (77b655ec) and worker-3 (8b07bcc6).
make_store() {
	if [ ! -d "$T/golden" ]; then
		bash "$PIFS_SRCDIR/tools/mkgolden.sh" "$T/golden" || { fail "mkgolden"; exit 1; }
	fi
	"$PIFS" init "$T/store" --golden "$T/golden" "$@" >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "pifs init"; exit 1; }
	"$PIFS" --store "$T/store" worker add worker-3 --serial 8b07bcc6 >/dev/null || { fail "worker add 3"; exit 1; }
	"$PIFS" --store "$T/store" worker add worker-1 --serial 77b655ec >/dev/null || { fail "worker add 1"; exit 1; }
}

# mounted_all MNT: the top is mounted and so is every worker's own file
# system in its nfsroot/ (pifsd mounts them right after the top).
mounted_all() {
	local w
	mountpoint -q "$1" && [ -d "$1/nfsroot" ] || return 1
	for w in "$1"/nfsroot/*; do
		[ -e "$w" ] || continue
		mountpoint -q "$w" || return 1
	done
}

# racy_wait: sleep past the stat cache's racy window (4 times
# PIFS_STATCACHE_RACY_MS in overlay/gitstore.h), so that what changed
# before the next snapshot is cached with its times.
racy_wait() {
	local s
	s=$(awk '$1 == "#define" && $2 == "PIFS_STATCACHE_RACY_MS" { printf "%.3f", 4 * $3 / 1000 }' \
		"$PIFS_SRCDIR/overlay/gitstore.h")
	[ -n "$s" ] || { fail "no PIFS_STATCACHE_RACY_MS in $PIFS_SRCDIR/overlay/gitstore.h"; exit 1; }
	sleep "$s"
}

# mount_pifs STORE MNT [options]: start pifsd in the foreground (its log in
# $T/pifsd.log) and wait, bounded, until the mount and every worker's
# file system answer.
PIFSD_PID=
mount_pifs() {
	local store=$1 mnt=$2
	shift 2
	mkdir -p "$mnt"
	"$PIFSD" "$store" "$mnt" -f -o allow_other "$@" >>"$T/pifsd.log" 2>&1 &
	PIFSD_PID=$!
	PIDS+=("$PIFSD_PID")
	MOUNTS+=("$mnt")
	for _ in $(seq 1 100); do
		if mounted_all "$mnt"; then return 0; fi
		kill -0 "$PIFSD_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/pifsd.log"
	fail "pifsd did not mount $mnt"
	exit 1
}

umount_pifs() {
	local mnt=$1
	"$PIFS" umount "$mnt" || fail "pifs umount $mnt"
	if [ -n "$PIFSD_PID" ]; then
		# Bounded, but generous: with the sanitizers, the exit (the leak
		# scan) of a daemon on a loaded 2-core machine takes seconds.
		for _ in $(seq 1 600); do kill -0 "$PIFSD_PID" 2>/dev/null || break; sleep 0.05; done
		kill -0 "$PIFSD_PID" 2>/dev/null && fail "pifsd did not exit within 30 s after unmount"
		wait "$PIFSD_PID" 2>/dev/null
	fi
}

# The daemon must never report memory errors or undefined behaviour.
check_daemon_log() {
	if [ -f "$T/pifsd.log" ] && grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:|SUMMARY: UndefinedBehavior' "$T/pifsd.log"; then
		grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/pifsd.log" | head -60
		fail "sanitizer report in the daemon log"
	fi
}

# tree_manifest DIR: one line per entry with everything a user checks:
# type, mode, owner, size, mtime (ns), rdev, link count (not for dirs),
# content hash and xattrs (all but pifs's hidden ones), symlink target.
tree_manifest() {
	(cd "$1" && find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z | while IFS= read -r -d '' p; do
		local line type sum
		line=$(stat -c '%F|%a|%u:%g|%s|%y|%t:%T' -- "$p")
		type=$(stat -c %F -- "$p")
		case $type in
		directory) line=${line/|$(stat -c %s -- "$p")|/|-|} ;;
		"regular file"|"regular empty file")
			if [ "$(stat -c %s -- "$p")" -gt $((64 << 20)) ]; then
				# Huge sparse files: sample 1 MiB at every GiB.
				sum=$(for g in $(seq 0 $(( $(stat -c %s -- "$p") >> 30 ))); do
					dd if="$p" bs=1M skip=$((g * 1024)) count=1 status=none; done | sha256sum | cut -c1-16)
			else
				sum=$(sha256sum < "$p" | cut -c1-16)
			fi
			line="$line|$(stat -c %h -- "$p")|$sum" ;;
		"symbolic link") line="$line|$(readlink -- "$p")" ;;
		esac
		line="$line|$(getfattr -h -d -m - --absolute-names -e hex -- "$p" 2>/dev/null | grep -v '^#' | grep -v '^$' | LC_ALL=C sort | tr '\n' ' ')"
		printf '%q|%s\n' "$p" "$line"
	done)
}

# round_trip NAME ID MANIFEST: reset worker-3 of $T/store to the golden
# and back to snapshot ID; its view $W3 must then equal MANIFEST exactly.
round_trip() {
	"$PIFS" --store "$T/store" reset worker-3 --golden --force >/dev/null || { fail "$1: reset --golden"; return; }
	"$PIFS" --store "$T/store" reset worker-3 --to "$2" --force >/dev/null || { fail "$1: reset --to $2"; return; }
	tree_manifest "$W3" > "$T/rt"
	if diff -u "$3" "$T/rt" > "$T/rt.diff"; then
		ok "$1: reset --to $2 gives the view as it was ($(wc -l < "$3") entries)"
	else
		head -20 "$T/rt.diff"
		fail "$1: snapshot $2 missed a change"
	fi
}

# tree_fp DIR [XATTR]: a fingerprint of everything a restore must keep:
# type, mode, owner, size (not of directories), mtime (ns), links, symlink
# target, content and every xattr (but XATTR), the root included.
tree_fp() {
	(cd "$1" && {
		find . -printf '%P|%y|%m|%U:%G|%s|%T@|%n|%l\n' | awk -F'|' -v OFS='|' '$2 == "d" { $5 = "-" } 1' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
		getfattr -R -h -d -m - -e hex . 2>/dev/null | awk -v skip="${2:-}" '/^# file: / { f = substr($0, 9); next }
			NF && (skip == "" || index($0, skip "=") != 1) { print f "|" $0 }' | LC_ALL=C sort
	} | sha256sum | cut -c1-32)
}

finish() {
	check_daemon_log
	if [ "$NFAIL" -gt 0 ]; then
		echo "$SCENARIO: $NFAIL check(s) failed"
		[ -f "$T/pifsd.log" ] && { echo "--- pifsd log (tail)"; tail -30 "$T/pifsd.log"; }
		exit 1
	fi
	echo "$SCENARIO: all checks passed"
	exit 0
}

# mounted_store [make_store args]: the start the scenarios on a mounted
# store share: setup, make_store (the golden, worker-3 and worker-1), and
# mount_store.
mounted_store() {
	setup
	make_store "$@"
	mount_store
}

# mount_store: pifsd mounted on $T/store at M=$T/mnt with every worker's
# file system up (mounted_store's second half, for a scenario that
# changes the store first).  Sets M, W3 and W1 (the two views), D3
# (worker-3's delta in the store) and P (pifs on the store, as a command
# prefix: $P snapshot worker-3).
mount_store() {
	M=$T/mnt
	mount_pifs "$T/store" "$M"
	W3=$M/nfsroot/worker-3
	W1=$M/nfsroot/worker-1
	D3=$T/store/deltas/worker-3
	P="$PIFS --store $T/store"
}

# has_open PID PATTERN: process PID has a file open whose path matches
# the glob PATTERN (a plain path matches itself).
has_open() {
	local fd
	for fd in /proc/$1/fd/*; do
		# shellcheck disable=SC2254 # $2 is a pattern
		case $(readlink "$fd" 2>/dev/null) in
		$2) return 0 ;;
		esac
	done
	return 1
}

# stop_when_open PID PATTERN [TRIES]: wait (bounded: TRIES rounds of
# 10 ms, 3000 unless given) until process PID has a file matching
# PATTERN open (has_open), then stop it (SIGSTOP) there, so what the test
# does next lands in the middle of its work on that file; 1 when it
# never opened one (or exited).
stop_when_open() {
	local i
	for ((i = 0; i < ${3:-3000}; i++)); do
		if has_open "$1" "$2"; then
			kill -STOP "$1"
			return 0
		fi
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

# finishes PID: 0 once PID exited with status 0, 1 if it did not within
# a bound (60 s).  For a write a stopped command must not hold up: the
# bound is only there so that a frozen worker fails the test instead of
# hanging it (a write held by a pause cannot even be killed).
finishes() {
	local i
	for ((i = 0; i < 6000; i++)); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return; }
		sleep 0.01
	done
	return 1
}

# gen_file GEN MIB: MIB blocks of 1 MiB, each "gen GEN block B" padded,
# on stdout: a file whose every block says which rewrite it is from.
gen_file() {
	perl -e 'my ($g, $n) = @ARGV;
		for my $b (0 .. $n - 1) {
			my $l = sprintf("gen %08d block %08d ...\n", $g, $b);
			print $l x (1048576 / length $l);
		}' "$1" "$2"
}

# gens: the generation of each 1 MiB block (gen_file's) on stdin, one
# line each; "mixed" for a block that is not one generation throughout.
gens() {
	perl -e 'binmode STDIN; my $b = 0;
		while (read(STDIN, my $buf, 1048576)) {
			my %g = map { $_ => 1 } ($buf =~ /^gen (\d+) block/mg);
			my $want = sprintf("gen %08d block %08d ...\n", (keys %g)[0] // 0, $b);
			print keys(%g) == 1 && $buf eq $want x (1048576 / length $want)
				? (keys %g)[0] + 0 : "mixed", "\n";
			$b++;
		}'
}

# untorn N "G1 G2 ...": 0 when the generations (gens, on one line) are a
# state a file of N blocks rewritten in order, block by block, had: no
# block mixed, none of an older generation before a newer one, at most
# two generations.
untorn() {
	awk -v n="$1" -v s="$2" 'BEGIN { k = split(s, a, " "); if (k != n) exit 1;
		for (i = 1; i <= k; i++) { if (a[i] !~ /^[0-9]+$/) exit 1;
			if (i > 1 && a[i] > a[i - 1]) exit 1 }
		exit (a[1] - a[k] > 1) }'
}
