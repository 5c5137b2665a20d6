#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The two builds of the command line (tools/pifs.c): pifs has no git
# layer, so neither libgit2 nor one of the libraries libgit2 needs is
# loaded for `worker list`, `dnsmasq-conf`, `mount` or `--help`; the
# snapshot commands run pifs-git, found beside pifs.  Each command gives
# the same bytes and exit status through pifs as pifs-git gives itself.
. "$(dirname "$0")/lib.sh"
setup
PIFSGIT=$PIFS_BUILDDIR/tools/pifs-git
[ -x "$PIFSGIT" ] || fail "no $PIFSGIT (make)"
command -v readelf >/dev/null || skip "readelf missing (binutils)"

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
n=$(needed "$PIFS")
if grep -Eq '^lib(git2|ssh2|mbed|http_parser|pcre2|krb5|gssapi|crypto)' <<<"$n"; then
	fail "pifs loads the git layer's libraries: $(tr '\n' ' ' <<<"$n")"
else
	ok "pifs needs no libgit2 ($(wc -l <<<"$n") libraries)"
fi
grep -q '^libgit2' <<<"$(needed "$PIFSGIT")" && ok "pifs-git is the one with libgit2" ||
	fail "pifs-git does not need libgit2: $(needed "$PIFSGIT" | tr '\n' ' ')"
# the light pifs is as good as its word: it may hold no git code at all
if nm "$PIFS" 2>/dev/null | grep -q ' T pifs_git_'; then
	fail "pifs holds git code: $(nm "$PIFS" | grep ' T pifs_git_' | head -3 | tr '\n' ' ')"
else
	ok "pifs holds no pifs_git_* code"
fi

make_store
S=$T/store
# same output, same status, whichever binary runs the command
same() {
	local what=$1 a b ra rb
	shift
	a=$("$PIFS" --store "$S" "$@" 2>&1); ra=$?
	b=$("$PIFSGIT" --store "$S" "$@" 2>&1); rb=$?
	if [ "$a" = "$b" ] && [ "$ra" = "$rb" ]; then
		ok "$what: pifs = pifs-git (exit $ra)"
	else
		fail "$what: pifs gave ($ra) '$a', pifs-git ($rb) '$b'"
	fi
}
same "worker list" worker list
same "log (via pifs-git)" log worker-3
same "diff (via pifs-git)" diff worker-3
same "golden list (via pifs-git)" golden list
same "help snapshot (via pifs-git)" help snapshot
same "snapshot --help (via pifs-git)" snapshot --help
same "unknown worker (via pifs-git)" log nosuch
same "status (via pifs-git)" status
same "dnsmasq-conf" dnsmasq-conf
same "--help" --help
# the snapshot commands through pifs really reach the store
id=$("$PIFS" --store "$S" snapshot worker-3 -m via-pifs --allow-empty) || fail "snapshot through pifs"
expect_eq "the snapshot is in the log" "* ${id:0:7}" "$("$PIFS" --store "$S" log worker-3 | awk 'NR == 1 { print $1, $2 }')"

# pifs copied alone: its own commands work; a snapshot command names what
# it cannot run, in one line (unless a pifs-git is installed there)
mkdir "$T/alone"
cp "$PIFS" "$T/alone/pifs"
expect_eq "pifs alone: worker list" "$("$PIFS" --store "$S" worker list)" "$("$T/alone/pifs" --store "$S" worker list)"
out=$("$T/alone/pifs" --store "$S" log worker-3 2>&1); rc=$?
inst=$(sed -n "s/^pifs: cannot run '\(.*\)' (the snapshot commands): No such file or directory\$/\1/p" <<<"$out")
if [ $rc = 1 ] && [ -n "$inst" ] && [ ! -e "$inst" ] && [ "$(wc -l <<<"$out")" = 1 ]; then
	ok "pifs alone: log says it cannot run $inst (exit 1)"
elif [ $rc = 0 ] && strings "$T/alone/pifs" | grep -q '/pifs-git$' && [ -x "$(strings "$T/alone/pifs" | grep '/libexec/.*/pifs-git$' | head -1)" ]; then
	ok "pifs alone: log ran the installed pifs-git"
else
	fail "pifs alone: log gave ($rc) '$out'"
fi
finish
