#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A hostile worker at the kernel NFS server (the amd64 master guest of
# lib-knfsd.sh, set up as the README says): worker-3 (10.1.1.2, root on
# its own export) sends raw NFSv3 requests with handle bytes of its own
# making (tests/tools/nfsraw, from its network namespace and address) to
# reach worker-1's files (10.1.1.1), as t-isolation does at NFS-Ganesha.
# The kernel's NFSv3 handle (fs/nfsd/nfsfh.h, version 1): 01, auth type
# 00, fsid type, fileid type, the fsid (type 1, FSID_NUM: the export's
# fsid= as a host-endian u32), then the file system's handle (FUSE's: type
# 0x81, node id high and low u32 and generation, host-endian; an export's
# root has fileid type 0 and nothing after the fsid).  Attacks:
#   (a) worker-1's handles (its export root, its secret, etc/motd, etc,
#       root), as worker-1 got them, sent by worker-3
#   (b) worker-1's FUSE handles behind worker-3's own header (fsid 1002)
#   (c) worker-3's own handle with the node id's top 16 bits (the view id
#       today) set to every view id 0..4
#   (d) node ids 1..3, generation 0, behind worker-3's header
#   (e) LOOKUP ".." from worker-3's export root, four times up
# Each must be refused, or answer with nothing of worker-1's: its secret's
# bytes, its names, the master's / or the store.  Then, as a user checks:
# worker-1's files and delta are as they were.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-knfsd.sh"

if ! knfsd_in_guest; then
	knfsd_setup
	[ -x "$PIFS_BUILDDIR/tests/tools/nfsraw" ] || { fail "tests/tools/nfsraw not built (make check builds it)"; finish; }
	knfsd_run 1500
	exit $?
fi

# ---- in the guest ----
knfsd_guest_setup
t0=$(date +%s)
RAW=$PIFS_BUILDDIR/tests/tools/nfsraw
knfsd_master worker-1:77b655ec worker-3:8b07bcc6 || finish
W1=/srv/pifs/nfsroot/worker-1
LEAK=W1LEAK-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
printf '%s: secret of worker-1\n' "$LEAK" >"$W1/root/secret.txt"
printf '%s: motd of worker-1\n' "$LEAK" >"$W1/etc/motd"
knfsd_client worker-1 10.1.1.1 && knfsd_client worker-3 10.1.1.2 || finish
MP=$(rpcinfo -p 127.0.0.1 | awk '$5 == "mountd" && $3 == "tcp" && $2 == 3 { print $4; exit }')
[ -n "$MP" ] || { fail "rpc.mountd's TCP port"; finish; }
# raw NAME IP: nfsraw as that worker, commands on stdin, one answer each
raw() { timeout 300 nsenter --net="/run/netns/$1" "$RAW" -t 10 -b "$2" -m "$MP" 10.1.1.100; }
A() { raw worker-1 10.1.1.1; }
B() { raw worker-3 10.1.1.2; }
fh_of() { local w h; read -r w h _ <<<"$1"; if [ "$w" = ok ] && [[ $h =~ ^[0-9a-f]+$ ]]; then echo "$h"; else echo -; fi; }
state() {
	sha256sum "$W1/etc/motd" "$W1/root/secret.txt"
	(cd /var/lib/pifs/deltas/worker-1 && find . -printf '%y %P %s\n' | LC_ALL=C sort)
}
state >"$T/state.before"

# ---- controls: the handles are what the comment above says ----
R1=$(fh_of "$(echo "mount /nfsroot/worker-1" | A)")
R3=$(fh_of "$(echo "mount /nfsroot/worker-3" | B)")
[ "$R1" != - ] && [ "$R3" != - ] && ok "each worker mounts its export with nfsraw" || { fail "nfsraw mounts: $R1 $R3"; finish; }
expect_eq "worker-1's export refuses worker-3" "err MNT3ERR_ACCES" "$(echo "mount /nfsroot/worker-1" | B)"
mapfile -t H1 < <(printf 'lookup %s %s\n' "$R1" root/secret.txt "$R1" etc/motd "$R1" etc "$R1" root | A)
mapfile -t H3 < <(printf 'lookup %s %s\n' "$R3" etc/motd "$R3" etc | B)
for i in 0 1 2 3; do H1[i]=$(fh_of "${H1[i]:-}"); done
for i in 0 1; do H3[i]=$(fh_of "${H3[i]:-}"); done
[[ " ${H1[*]} ${H3[*]} " != *" - "* ]] && ok "both look up their files" || { fail "lookups: ${H1[*]} / ${H3[*]}"; finish; }
ans=$(echo "read ${H1[0]} 0 200" | A)
[[ $ans == *"$LEAK"* ]] && ok "worker-1 reads its secret through its handle" || { fail "worker-1's own read: $ans"; finish; }
echo "note: worker-3's root handle $R3, its etc/motd ${H3[0]}"
[[ $R3 == 01000100ea030000 ]] && ok "worker-3's root: version 1, FSID_NUM 1002 (0x3ea), FILEID_ROOT" ||
	fail "worker-3's root handle is not laid out as expected: $R3"
[[ ${H3[0]} == 01000181ea030000* && ${#H3[0]} = 40 ]] && ok "worker-3's files: FSID_NUM 1002, FUSE's handle type 0x81, 12 bytes" ||
	fail "worker-3's file handle is not laid out as expected: ${H3[0]}"
HDR3=${H3[0]:0:16}
# FUSE's handle of a handle, and one with node id HI:LO (hex u32) and
# generation GEN behind worker-3's header
fuse_of() { echo "${1:16}"; }
le32() { printf '%08x' "$1" | sed -E 's/(..)(..)(..)(..)/\4\3\2\1/'; }
forge() { echo "$HDR3$(le32 "$1")$(le32 "$2")$(le32 "$3")"; }

# ---- the attacks; any answer is judged ----
{
	for h in "${H1[@]}" "$R1"; do echo "probe $h a"; done
	for h in "${H1[@]}"; do echo "probe $HDR3$(fuse_of "$h") b"; done
	hi=$(( 0x${H3[0]:22:2}${H3[0]:20:2}${H3[0]:18:2}${H3[0]:16:2} ))
	lo=$(( 0x${H3[0]:30:2}${H3[0]:28:2}${H3[0]:26:2}${H3[0]:24:2} ))
	gen=$(( 0x${H3[0]:38:2}${H3[0]:36:2}${H3[0]:34:2}${H3[0]:32:2} ))
	for v in 0 1 2 3 4; do echo "probe $(forge $(( (hi & 0xffff) | (v << 16) )) "$lo" "$gen") c"; done
	for n in 1 2 3; do echo "probe $(forge 0 "$n" 0) d"; done
	echo "climb $R3 4 e"
} | B >"$T/attacks.out"
cat "$T/attacks.out"
FORBID=$( (ls -A /; ls -A /var/lib/pifs; ls -A /srv/pifs; echo secret.txt) | LC_ALL=C sort -u |
	LC_ALL=C comm -23 - <(find "$T/golden" -printf '%f\n' | LC_ALL=C sort -u) | paste -sd'|')
for tag in a b c d e; do
	got=$(awk -v t="$tag" '$2 == t' "$T/attacks.out")
	n=$(grep -c . <<<"$got")
	if grep -qF "$LEAK" <<<"$got"; then
		fail "($tag) worker-3 read worker-1's bytes: $(grep -F "$LEAK" <<<"$got" | head -1 | cut -c1-120)"
	elif grep -Eq "(names=|,)($FORBID)(,|:| |$)" <<<"$got"; then
		fail "($tag) worker-3 listed names that are not its own: $(grep -Eo "(names=|,)($FORBID)(,|:| |$)" <<<"$got" | head -3 | tr '\n' ' ')"
	elif grep -q 'rpc transport' <<<"$got"; then
		fail "($tag) no answer (not a refusal): $(grep 'rpc transport' <<<"$got" | head -1)"
	else
		ok "($tag) refused or nothing of worker-1's ($n answers: $(awk '{ print $1 == "ok" ? "ok" : $3 }' <<<"$got" | sort | uniq -c | tr -s ' ' | tr '\n' ',' | sed 's/,$//'))"
	fi
done
# (a): worker-1's own handles from worker-3 are refused outright
grep -E '^ok a ' "$T/attacks.out" && fail "(a) the kernel nfsd answered worker-3 with worker-1's handles"
# (e) the climb stays at worker-3's root
root_id=$(echo "getattr $R3" | B | tr ' ' '\n' | sed -n 's/^fileid=//p')
for f in $(grep '^ok e ' "$T/attacks.out" | tr ' ' '\n' | sed -n 's/^[0-9]*:fileid=\([0-9]*\).*/\1/p'); do
	[ "$f" = "$root_id" ] || fail "(e) '..' of worker-3's root left it: fileid $f, the root is $root_id"
done
state >"$T/state.after"
diff "$T/state.before" "$T/state.after" >/dev/null && ok "worker-1's files and delta are as they were" ||
	{ diff "$T/state.before" "$T/state.after" | head; fail "worker-1 changed under the attacks"; }
exportfs -ua
knfsd_server_stop
knfsd_pifs_down
knfsd_sanitizer_reports
echo "note: the scenario took $(($(date +%s) - t0)) s in the guest"
finish
