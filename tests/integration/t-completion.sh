#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion of pifs (tools/completion/pifs), sourced into this bash
# and called as bash calls it (COMP_WORDS, COMP_CWORD) against real
# stores: commands, options, worker names, golden ids, snapshot ids for
# reset --to / diff / show, --to offered after `reset WORKER`, and the
# store of --store DIR (or --store=DIR) on the line, not the default.
. "$(dirname "$0")/lib.sh"
setup
make_store
export PATH=$PIFS_BUILDDIR/tools:$PATH
unset PIFS_STORE
P() { "$PIFS" --store "$T/store" "$@"; }
echo x > "$T/store/deltas/worker-3/note"
id=$(P snapshot worker-3 -m one) || fail "snapshot"
golden=$(P golden list | awk 'NR == 2 { print $1 }')
"$PIFS" init "$T/other" --golden "$T/golden" >/dev/null 2>&1 || fail "init other store"
"$PIFS" --store "$T/other" worker add elsewhere --serial 0badcafe >/dev/null || fail "worker add elsewhere"

. "$PIFS_SRCDIR/tools/completion/pifs" || { fail "sourcing the completion"; finish; }
expect_eq "complete -p pifs" "complete -F _pifs pifs" "$(complete -p pifs)"
# comp WORD...: the replies for the last word, sorted, on one line
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_pifs
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}
S=$T/store
expect_eq "commands starting with 'sn'" "snapshot" "$(comp pifs sn)"
expect_eq "worker subcommands" "accept add list remove" "$(comp pifs worker "")"
expect_eq "options of snapshot" "--all --allow-empty" "$(comp pifs snapshot --al)"
expect_eq "worker names" "worker-1 worker-3" "$(comp pifs --store "$S" snapshot "")"
expect_eq "worker names for worker remove" "worker-3" "$(comp pifs --store "$S" worker remove worker-3)"
expect_eq "golden id" "$golden" "$(comp pifs --store "$S" golden default "")"
expect_eq "golden id after rebase --golden" "$golden" "$(comp pifs --store "$S" rebase worker-3 --golden "")"
expect_eq "--to after reset WORKER" "--to" "$(comp pifs --store "$S" reset worker-3 --t)"
expect_eq "snapshot id after reset WORKER --to" "${id:0:7}" "$(comp pifs --store "$S" reset worker-3 --to "${id:0:2}")"
expect_eq "snapshot ids and names after --force ... --to" \
	"$(printf '%s\n' "${id:0:7}" HEAD latest | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" \
	"$(comp pifs --store "$S" reset --force worker-3 --to "")"
expect_eq "snapshot id for diff WORKER" "${id:0:7}" "$(comp pifs --store "$S" diff worker-3 "${id:0:1}")"
expect_eq "REV: for show WORKER" "${id:0:7}:" "$(comp pifs --store "$S" show worker-3 "${id:0:3}")"
expect_eq "no snapshot ids of a worker without any" "HEAD latest" "$(comp pifs --store "$S" diff worker-1 "")"
expect_eq "--store DIR names the store" "elsewhere" "$(comp pifs --store "$T/other" log "")"
# bash splits --store=DIR at the '=' (COMP_WORDBREAKS)
expect_eq "--store=DIR names the store" "elsewhere" "$(comp pifs --store = "$T/other" log "")"
expect_eq "no store: no worker names" "" "$(PIFS_STORE=$T/nowhere comp pifs log "")"
expect_eq "PIFS_STORE names the store without --store" "worker-1 worker-3" "$(PIFS_STORE=$S comp pifs log "")"
# models (issue 21): worker add's --model and --tftp-prefix values
expect_eq "worker add --model values" "pi3b+ pi4 pi5" "$(comp pifs worker add w --model "")"
expect_eq "worker add --tftp-prefix values" "mac serial str:" "$(comp pifs worker add w --tftp-prefix "")"
expect_eq "worker add options" "--model" "$(comp pifs worker add w --mo)"
# enrolment (issue 21): enroll's words and option, accept's options and
# the enrolled workers it takes (an enrolled line written as pifsd would)
expect_eq "enroll words" "off on" "$(comp pifs enroll "")"
expect_eq "enroll on options" "--max" "$(comp pifs enroll on --m)"
expect_eq "no value offered for --max" "" "$(comp pifs enroll on --max "")"
expect_eq "worker accept options" "--mac --serial" "$(comp pifs worker accept w --m) $(comp pifs worker accept w --s)"
expect_eq "dnsmasq-conf --hosts-dir" "--hosts-dir" "$(comp pifs dnsmasq-conf --ho)"
# exports --install FILE / --uninstall (issue 21)
expect_eq "exports options" "--install" "$(comp pifs exports --in)"
expect_eq "exports --uninstall" "--uninstall" "$(comp pifs exports --un)"
mkdir -p "$T/exd" && : >"$T/exd/pifs.exports"
expect_eq "exports --install completes a file" "$T/exd/pifs.exports" "$(comp pifs exports --install "$T/exd/")"
expect_eq "worker accept: no enrolled worker, no name" "" "$(comp pifs --store "$S" worker accept "")"
mkdir -p "$T/store/deltas/worker-9" && sed -i '$a worker-9 9ffefdef - 10.1.1.9 9 pi4 serial enrolled' "$S/workers" &&
	sed -i 's/^next-id .*/next-id 10/' "$S/workers" || fail "an enrolled line"
expect_eq "worker accept: the enrolled worker" "worker-9" "$(comp pifs --store "$S" worker accept "")"
expect_eq "commands starting with 'en'" "enroll" "$(comp pifs en)"
finish
