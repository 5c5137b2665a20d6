#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Progress on a terminal, silence in a log: `pifs init` from a directory
# and `pifs golden import` of a disk image, run under a pseudo-terminal
# (script(1)), draw their bars in place (carriage returns) and end at
# 100% of the real count; the same commands with stderr not a terminal
# print no bar and no carriage return.  A snapshot of many small files
# counts its entries the same way (not with --quiet).  (The bar's arithmetic, rate and
# time left: check_image's test_bar_format.)
. "$(dirname "$0")/lib.sh"
setup
command -v script >/dev/null || skip "script missing (bsdutils)"
bash "$PIFS_SRCDIR/tools/mkgolden.sh" "$T/golden" >/dev/null || { fail "mkgolden"; finish; }
for i in $(seq 1 2000); do echo "$i" >"$T/golden/etc/f$i"; done
n=$(find "$T/golden" -mindepth 1 | wc -l)

# under a terminal: the bar, redrawn, ending at every entry
script -qec "'$PIFS' init '$T/s1' --golden '$T/golden'" /dev/null >"$T/tty.out" 2>&1 ||
	{ cat "$T/tty.out"; fail "pifs init under a terminal"; finish; }
last=$(tr '\r' '\n' <"$T/tty.out" | grep -a '^copying golden ' | tail -1 | sed 's/\x1b\[K//g')
case $last in
"copying golden     [##############################] 100%  $n of $n entries"*)
	ok "init on a terminal: the bar ends at $n of $n entries" ;;
*) fail "init on a terminal: last bar line '$last' (want $n of $n entries)" ;;
esac
[ "$(tr '\r' '\n' <"$T/tty.out" | grep -ac '^copying golden ')" -ge 2 ] &&
	ok "the bar is redrawn in place" || fail "the bar was drawn once: $(cat -v "$T/tty.out" | head -5)"
# then the manifest's hashing: a count of every entry and the root
last=$(tr '\r' '\n' <"$T/tty.out" | grep -a '^hashing golden ' | tail -1 | sed 's/\x1b\[K//g')
case $last in
"hashing golden     $((n + 1)) entries  "*" read"*)
	ok "init on a terminal: the manifest's count ends at $((n + 1)) entries" ;;
*) fail "init on a terminal: last hashing line '$last' (want $((n + 1)) entries)" ;;
esac

# not a terminal: no bar, no carriage return, the plain lines
"$PIFS" init "$T/s2" --golden "$T/golden" >"$T/log.out" 2>&1 || fail "pifs init into a log"
if grep -q $'\r' "$T/log.out" || grep -Eq '(copying|hashing) golden  ' "$T/log.out"; then
	fail "init into a log drew a bar: $(cat -v "$T/log.out")"
else
	ok "init into a log: no bar ($(wc -l <"$T/log.out") plain lines)"
fi
grep -qx "created store '$T/s2' with golden [0-9a-f]*" "$T/log.out" && ok "init into a log says what it made" ||
	fail "init into a log: $(cat "$T/log.out")"

# a disk image: the reading bar (bytes) and the root files bar
R=$T/root B=$T/boot
mkdir -p "$R/etc" "$B"
for i in $(seq 1 300); do echo "$i" >"$R/etc/f$i"; done
echo console=serial0 >"$B/cmdline.txt"
bash "$PIFS_SRCDIR/tests/integration/mkimage.sh" "$R" "$B" "$T/pi.img" >/dev/null 2>&1 || { fail "mkimage"; finish; }
script -qec "'$PIFS' --store '$T/s1' golden import '$T/pi.img'" /dev/null >"$T/img.out" 2>&1 ||
	{ cat "$T/img.out"; fail "golden import under a terminal"; finish; }
tr '\r' '\n' <"$T/img.out" | grep -aq '^reading image      \[##############################\] 100%  ' &&
	ok "image import on a terminal: the reading bar ends at 100%" ||
	fail "image import: no reading bar: $(cat -v "$T/img.out" | head -5)"
tr '\r' '\n' <"$T/img.out" | grep -aq '^copying root files \[##############################\] 100%  .* files' &&
	ok "image import on a terminal: the root files bar ends at 100%" ||
	fail "image import: no root files bar: $(cat -v "$T/img.out" | head -5)"
"$PIFS" --store "$T/s2" golden import "$T/pi.img" >"$T/img.log" 2>&1 || fail "golden import into a log"
grep -q $'\r' "$T/img.log" && fail "image import into a log drew a bar" || ok "image import into a log: no bar"

# a snapshot of a delta of many small files (unmounted: the same scan):
# the count of entries and bytes read, ending at every entry of its META
"$PIFS" --store "$T/s2" worker add w --serial be570002 >/dev/null || fail "worker add"
mkdir -p "$T/s2/deltas/w/many"
for i in $(seq 1 1500); do echo "file $i" >"$T/s2/deltas/w/many/f$i"; done
script -qec "'$PIFS' --store '$T/s2' snapshot w" /dev/null >"$T/snap.out" 2>&1 ||
	{ cat "$T/snap.out"; fail "snapshot under a terminal"; }
n=$(git --git-dir="$T/s2/git" cat-file blob workers/w:META | tail -n +3 | wc -l)
last=$(tr '\r' '\n' <"$T/snap.out" | grep -a '^scanning delta ' | tail -1 | sed 's/\x1b\[K//g')
case $last in
"scanning delta     $n entries  "*" read"*)
	ok "snapshot on a terminal: the scan's count ends at $n entries ($last)" ;;
*) fail "snapshot on a terminal: last scan line '$last' (want $n entries): $(cat -v "$T/snap.out" | head -5)" ;;
esac
echo "file again" >"$T/s2/deltas/w/many/f1"
script -qec "'$PIFS' --store '$T/s2' snapshot --quiet w" /dev/null >"$T/snapq.out" 2>&1 || fail "snapshot --quiet"
grep -aq 'scanning' "$T/snapq.out" && fail "snapshot --quiet drew a bar: $(cat -v "$T/snapq.out")" ||
	ok "snapshot --quiet on a terminal: no bar"
echo "file once more" >"$T/s2/deltas/w/many/f1"
"$PIFS" --store "$T/s2" snapshot w >"$T/snap.log" 2>&1 || fail "snapshot into a log"
grep -q $'\r' "$T/snap.log" && fail "snapshot into a log drew a bar" || ok "snapshot into a log: no bar"
chattr -R -i "$T/s1" "$T/s2" 2>/dev/null

# pifs golden build: the script's step lines and, on the descriptor pifs
# gives it (PIFS_PROGRESS_FD), the size of a step and debootstrap's own
# lines.  The real build runs for half an hour (make check-boot): here a
# stand-in prints a --debian build's step lines and replays the console
# of a real second stage (tests/unit/data/, check_buildprog) the way
# golden-build.sh's forward() passes it on.
cat >"$T/fake-build.sh" <<'FAKE'
progress() { [ -n "${PIFS_PROGRESS_FD:-}" ] && printf '%s\n' "$*" >&"$PIFS_PROGRESS_FD"; return 0; }
echo "golden-build: [6/7] second stage: debootstrap --second-stage in an arm64 QEMU guest"
progress "total 218 steps"
n=0
while IFS= read -r l; do
	case $l in "I: Unpacking "*|"I: Configuring "*) progress "$l" ;; esac
	n=$((n + 1)); [ $((n % 20)) = 0 ] && sleep 0.1
done <"$CONSOLE"
echo "golden-build:   second stage: done"
echo "golden-build: error: something to say" >&2
echo "golden-build: [7/7] boot/firmware: firmware, kernel8.img"
exit 3
FAKE
export CONSOLE=$PIFS_SRCDIR/tests/unit/data/second-stage-console.txt
script -qec "PIFS_GOLDEN_BUILD='$T/fake-build.sh' '$PIFS' golden build '$T/gb'; echo \"exit \$?\"" /dev/null >"$T/gb.out" 2>&1
last=$(tr '\r' '\n' <"$T/gb.out" | grep -a '^\[6/7\] second stage ' | tail -1 | sed 's/\x1b\[K//g')
case $last in
"[6/7] second stage [##############################] 100%  218 of 218 steps"*)
	ok "golden build on a terminal: the bar ends at 218 of 218 steps" ;;
*) cat -v "$T/gb.out" | head -20; fail "golden build on a terminal: last bar line '$last'" ;;
esac
[ "$(tr '\r' '\n' <"$T/gb.out" | grep -ac '^\[6/7\] second stage \[')" -ge 3 ] &&
	ok "golden build: the bar is redrawn in place" || fail "golden build: the bar was not redrawn"
for l in "golden-build: [6/7] second stage: debootstrap --second-stage in an arm64 QEMU guest" \
	"golden-build:   second stage: done" "golden-build: error: something to say" \
	"golden-build: [7/7] boot/firmware: firmware, kernel8.img" "exit 3"; do
	tr '\r' '\n' <"$T/gb.out" | sed 's/\x1b\[K//g' | grep -aqxF -- "$l" &&
		ok "golden build on a terminal prints '$l'" || fail "golden build on a terminal: no line '$l'"
done
PIFS_GOLDEN_BUILD=$T/fake-build.sh "$PIFS" golden build "$T/gb" >"$T/gb.log" 2>&1
expect_eq "golden build into a log: the script's exit status" 3 "$?"
grep -q $'\r' "$T/gb.log" && fail "golden build into a log drew a bar" || ok "golden build into a log: no bar"
expect_eq "golden build into a log: the step lines, nothing else" \
	"golden-build: [6/7] second stage: debootstrap --second-stage in an arm64 QEMU guest|golden-build:   second stage: done|golden-build: error: something to say|golden-build: [7/7] boot/firmware: firmware, kernel8.img" \
	"$(paste -sd'|' "$T/gb.log")"
finish
