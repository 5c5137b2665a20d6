#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The manual pages (tools/man/) say what the programs do: each renders
# without a single groff warning, writes its options with \- (so they
# copy and paste as ASCII), pifs(1) has an entry of its own for every
# command `pifs --help` lists and names, within that command's entries,
# every option its `pifs CMD --help` shows, its fstab lines are the
# README's, and pifsd(8) has an entry for every option `pifsd --help`
# shows.  No store and no FUSE mount.
. "$(dirname "$0")/lib.sh"
MANDIR=$PIFS_SRCDIR/tools/man
PAGES=(pifs.1 pifsd.8 pifs-store.5)
command -v groff >/dev/null || skip "groff missing (apt-get install groff-base)"
[ -x "$PIFS" ] && [ -x "$PIFSD" ] || { fail "build pifs and pifsd first"; finish; }
T=$(mktemp -d /var/tmp/pifs-test.XXXXXX)
trap cleanup EXIT

# render PAGE: the page as plain text, each paragraph on one line (a
# very long line length), so a command's entry is the lines from its tag
# (indented 7) to the next line indented 7 or less.
render() {
	groff -man -Tascii -P-cbou -rLL=2000n "$MANDIR/$1" 2>/dev/null
}

# section TEXTFILE NAME: the lines of section NAME (a heading at column 0).
section() {
	awk -v s="$2" '/^[A-Z]/ { on = ($0 == s); next } on' "$1"
}

# options: the options named in the text on stdin, one per line.
options() {
	grep -oE -- '(^|[][ |,(])--?[a-zA-Z][a-zA-Z-]*' | sed 's/^[^-]*//' | sort -u
}

# --- every page renders cleanly
for p in "${PAGES[@]}"; do
	if [ ! -f "$MANDIR/$p" ]; then
		fail "$p: no such page in $MANDIR"
		continue
	fi
	w=$(groff -ww -man -Tutf8 -z "$MANDIR/$p" 2>&1)
	if [ -n "$w" ]; then fail "$p: groff warns: $w"; else ok "$p renders without warnings"; fi
	if command -v man >/dev/null; then
		w=$(MANWIDTH=80 man --warnings -l "$MANDIR/$p" 2>&1 >/dev/null)
		if [ -n "$w" ]; then fail "$p: man --warnings: $w"; else ok "$p: man --warnings is silent"; fi
	fi
	# An option written with a plain '-' renders as a hyphen (U+2010)
	# on a UTF-8 terminal, which no shell takes for a dash.
	bad=$(grep -nE '(^|[][[:space:](|"])--?[a-zA-Z]' "$MANDIR/$p" | grep -v '^[0-9]*:\.\\"')
	if [ -n "$bad" ]; then fail "$p: options written with '-', not '\\-': $bad"; else ok "$p writes options as \\-"; fi
	render "$p" >"$T/$p.txt"
	[ -s "$T/$p.txt" ] || fail "$p renders to nothing"
done

# --- pifs(1): a COMMANDS entry per command of pifs --help
"$PIFS" --help >"$T/help" || fail "pifs --help exits $?"
section "$T/pifs.1.txt" COMMANDS >"$T/commands"
# The lines between "commands:" and the blank line after them, two
# spaces in; the command is the lower-case words before its arguments
# (and before the two spaces that start its description).
awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/' "$T/help" |
	while read -r line; do
		cmd=
		for w in ${line%%  *}; do
			[[ $w =~ ^[a-z][a-z-]*$ ]] || break
			cmd+="${cmd:+ }$w"
		done
		echo "$cmd"
	done >"$T/cmds"
[ "$(wc -l <"$T/cmds")" -ge 20 ] || fail "pifs --help lists only $(wc -l <"$T/cmds") commands: $(tr '\n' ',' <"$T/cmds")"
while read -r cmd; do
	if grep -qE "^       $cmd( |$)" "$T/commands"; then
		ok "pifs(1) has an entry for 'pifs $cmd'"
	else
		fail "pifs(1) has no entry for 'pifs $cmd' (pifs --help lists it)"
	fi
done <"$T/cmds"

# --- pifs(1): each option of pifs CMD --help, in that command's entries
for grp in $(cut -d' ' -f1 "$T/cmds" | sort -u); do
	"$PIFS" "$grp" --help >"$T/help-$grp" 2>&1 || { fail "pifs $grp --help exits $?"; continue; }
	# Its entries: from each tag line "pifs GRP..." to the next line
	# indented 7 or less (the next entry, a heading).
	awk -v g="$grp" '
		match($0, /[^ ]/) && RSTART <= 8 { on = ($0 ~ ("^       " g "( |$)")) }
		on' "$T/commands" >"$T/entries-$grp"
	# The options of its usage lines (up to the first blank line; the
	# prose after them may name other programs' options), but for the
	# global ones (OPTIONS, below).
	awk '/^$/ { exit } 1' "$T/help-$grp" | options | grep -vxE -- '--help|-h|--store' >"$T/opts-$grp"
	[ -s "$T/opts-$grp" ] || [ "$(wc -l <"$T/entries-$grp")" -gt 0 ] || fail "pifs(1) has no entries for 'pifs $grp'"
	while read -r opt; do
		if grep -qE -- "(^|[][ |,(])$opt([]= |,)]|$)" "$T/entries-$grp"; then
			ok "pifs(1) documents 'pifs $grp $opt'"
		else
			fail "pifs(1) does not document '$opt' of 'pifs $grp' (pifs $grp --help shows it)"
		fi
	done <"$T/opts-$grp"
done
# The global options pifs --help names outside its list of commands.
section "$T/pifs.1.txt" OPTIONS >"$T/options"
awk '/^commands:/ { on = 1 } on && /^$/ { on = 0 } !on' "$T/help" | options >"$T/gopts"
grep -qx -- '--store' "$T/gopts" || fail "pifs --help names no --store: $(tr '\n' ' ' <"$T/gopts")"
while read -r opt; do
	if grep -qE -- "^       (.*[ ,])?$opt([ ,]|$)" "$T/options"; then
		ok "pifs(1) has an OPTIONS entry for '$opt'"
	else
		fail "pifs(1) has no OPTIONS entry for '$opt' (pifs --help names it)"
	fi
done <"$T/gopts"

# --- pifsd(8): an OPTIONS entry per option of pifsd --help
"$PIFSD" --help >"$T/dhelp" || fail "pifsd --help exits $?"
section "$T/pifsd.8.txt" OPTIONS >"$T/doptions"
# Its option lines start "  -"; their tags ("-d, -o debug", "-o
# timeout=SEC") end at two spaces.  Each item, without its value.
grep -E '^  -' "$T/dhelp" | sed -E 's/^  //; s/  .*//' | sed 's/, /\n/g' |
	sed 's/=.*//' | sort -u >"$T/dopts"
[ "$(wc -l <"$T/dopts")" -ge 6 ] || fail "pifsd --help shows only $(wc -l <"$T/dopts") options: $(tr '\n' ',' <"$T/dopts")"
while read -r opt; do
	if grep -qE -- "^       (.*[ ,])?$opt([=, ]|$)" "$T/doptions"; then
		ok "pifsd(8) has an entry for '$opt'"
	else
		fail "pifsd(8) has no entry for '$opt' (pifsd --help shows it)"
	fi
done <"$T/dopts"

# --- pifs(1)'s fstab lines are the README's ("At boot: /etc/fstab")
awk '/^### At boot: \/etc\/fstab/ { on = 1; next } on && /^```/ { if (blk) exit; blk = 1; next } blk' \
	"$PIFS_SRCDIR/README.md" >"$T/fstab-readme"
[ -s "$T/fstab-readme" ] || fail "README.md has no fstab block under '### At boot: /etc/fstab'"
section "$T/pifs.1.txt" 'AT BOOT' | grep -E '^       /[^ ]+ +/[^ ]+ +(fuse\.pifs|none) ' | sed 's/^       //' >"$T/fstab-man"
if cmp -s "$T/fstab-readme" "$T/fstab-man"; then
	ok "pifs(1)'s fstab lines are the README's"
else
	fail "pifs(1)'s fstab lines differ from the README's: $(diff "$T/fstab-readme" "$T/fstab-man" | tr '\n' '|')"
fi

# --- the pages point at each other
for p in "${PAGES[@]}"; do
	for ref in 'pifs(1)' 'pifsd(8)' 'pifs-store(5)'; do
		[ "$ref" = "${p%.*}(${p##*.})" ] && continue
		section "$T/$p.txt" 'SEE ALSO' | grep -qF "$ref" || fail "$p: SEE ALSO does not name $ref"
	done
done
finish
