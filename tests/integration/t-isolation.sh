#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Worker isolation (issue 16), tried as a hostile worker would: NFS-Ganesha
# serves worker-1 and worker-3 with the exports `pifs exports` prints, each
# export open to its worker's address only, and client B (worker-3's
# address, root on its own export) sends raw NFSv3 requests with handle
# bytes of its own making (tests/tools/nfsraw).  Whatever it does, it must
# never read, write, create, list or look up anything of worker-1's, nor
# anything outside its own view:
#   (a) worker-1's handles, as client A got them, sent by B
#   (b) the FUSE part of worker-1's handles behind B's own header
#   (c) every byte of the node id and generation of B's own handles swept
#       over a set of values (the view id is the node id's top 16 bits
#       today)
#   (d) node ids 1, 2, 3 with generation 0 forged behind B's header
#   (e) LOOKUP ".." from its export root (e1), and from other encodings of
#       that root (e2: FUSE's handle type 0x82 with a parent, 0x81 with a
#       word more, node id 1): it stays at its root, lists nothing else,
#       reaches neither the store nor the master's /.  Client A climbs
#       too: where ".." leaves an export, Ganesha hands the file system
#       above to whichever export meets it first.
#   (f) locally, open_by_handle_at with worker-1's handles through a
#       directory fd of worker-3's view, and with worker-3's handle whose
#       view bits are edited
# One line per attack: "ok:" when refused, "FAIL:" with what got through;
# then the first findings of each attack that got through.  After every
# attack, as a user would check: the victim's files have their bytes,
# nothing new is in its delta (STORE/deltas/worker-N) or in the mount's
# parent directory.  The network: ganesha, rpcbind and both clients are in
# a namespace of lib-boot.sh that has only lo (10.1.1.100 the server,
# 10.1.1.11 worker-1's address, 10.1.1.13 worker-3's).  Every batch of
# requests is bounded; the whole takes about 25 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-boot.sh"
boot_setup
for t in ganesha.nfsd:nfs-ganesha rpcbind:rpcbind rpcinfo:rpcbind ip:iproute2 nsenter:util-linux \
	flock:util-linux timeout:coreutils findmnt:util-linux; do
	command -v "${t%%:*}" >/dev/null || skip "${t%%:*} missing (apt-get install ${t#*:})"
done
compgen -G '/usr/lib/*/ganesha/libfsalvfs.so' >/dev/null || compgen -G /usr/lib/ganesha/libfsalvfs.so >/dev/null ||
	skip "NFS-Ganesha's FSAL VFS missing (apt-get install nfs-ganesha-vfs)"
RAW=$PIFS_BUILDDIR/tests/tools/nfsraw
FH=$PIFS_BUILDDIR/tests/tools/fhandle
if [ ! -x "$RAW" ] || [ ! -x "$FH" ]; then
	fail "tests/tools/nfsraw or fhandle not built (make check builds them)"
	finish
fi
A=10.1.1.11 # worker-1's address
B=10.1.1.13 # worker-3's address: the attacker

bash "$PIFS_SRCDIR/tools/mkgolden.sh" "$T/golden" || { fail mkgolden; finish; }
"$PIFS" init "$T/store" --golden "$T/golden" >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "pifs init"; finish; }
"$PIFS" --store "$T/store" worker add worker-3 --serial 8b07bcc6 --ip "$B" >/dev/null || { fail "worker add 3"; finish; }
"$PIFS" --store "$T/store" worker add worker-1 --serial 77b655ec --ip "$A" >/dev/null || { fail "worker add 1"; finish; }
M=$T/pifs-mnt
mount_pifs "$T/store" "$M"
W1=$M/nfsroot/worker-1
W3=$M/nfsroot/worker-3
WORK=$T/work
mkdir -p "$WORK"

# What worker-1 has that worker-3 must never see: LEAK in every byte it
# owns, a file only it has.
LEAK=W1LEAK-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
SECRET=secret-${LEAK#W1LEAK-}.txt
printf '%s: secret of worker-1\n' "$LEAK" >"$W1/root/$SECRET"
printf '%s: motd of worker-1\n' "$LEAK" >"$W1/etc/motd"
printf '# %s: worker-1 config\n' "$LEAK" >>"$W1/boot/firmware/config.txt"
echo "worker-3's own file" >"$W3/root/mine.txt"

"$PIFS" --store "$T/store" exports --nfsroot "$M/nfsroot" >"$T/exports" || { fail "pifs exports"; finish; }
if ! grep -q "Clients = $A;" "$T/exports" || ! grep -q "Clients = $B;" "$T/exports"; then
	grep -i clients "$T/exports"
	fail "pifs exports does not admit $A and $B by name"
	finish
fi
start_nfs_exports "$T/exports" "$A" "$B" || finish

# raw SRC: nfsraw as the client at SRC, the commands on stdin, one answer
# line each; the whole batch bounded.
raw() {
	nsenter --net="/run/netns/$NFS_NS" timeout 300 "$RAW" -t 10 -b "$1" 10.1.1.100
}
# one SRC COMMAND: its answer line
one() { printf '%s\n' "$2" | raw "$1"; }
# off COMMAND...: offline commands (handle surgery): no network is used
off() { printf '%s\n' "$@" | "$RAW" 127.0.0.1; }
# fh_of ANSWER: the handle of "ok FH ...", or "-"
fh_of() {
	local w h
	read -r w h _ <<<"$1"
	if [ "$w" = ok ] && [[ $h =~ ^[0-9a-f]+$ ]]; then echo "$h"; else echo -; fi
}
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1; }

# Names nothing of worker-3's may show: the mount's parent, the store, the
# mount's root, nfsroot/ and tftpboot/, the master's /, and worker-1's
# secret; less any name the golden has (worker-3 has those too).
FORBID=$( {
	find "$T" "$T/store" "$M" "$M/nfsroot" "$M/tftpboot" / -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null
	echo "$SECRET"
} | LC_ALL=C sort -u | LC_ALL=C comm -23 - <(find "$T/golden" -printf '%f\n' | LC_ALL=C sort -u) | paste -sd,)

# ---- controls: the setup is what it claims, or nothing below proves anything
# CONDITION; control WHAT: ok if the condition held, else fail (showing
# $ANS) and stop
control() {
	# shellcheck disable=SC2181 # the caller's condition
	if [ $? = 0 ]; then ok "$1"; else fail "$1: $ANS"; finish; fi
}
ANS=$(one "$A" "mount $W1")
R1=$(fh_of "$ANS")
[ "$R1" != - ]; control "client A mounts worker-1's export"
ANS=$(one "$B" "mount $W3")
R3=$(fh_of "$ANS")
[ "$R3" != - ]; control "client B mounts worker-3's export"
expect_eq "worker-1's export refuses client B" "err MNT3ERR_ACCES" "$(one "$B" "mount $W1")"
# worker-1's handles, as A legitimately gets them
P1=(. root "root/$SECRET" etc etc/motd boot/firmware boot/firmware/config.txt)
ANS=$(for p in "${P1[@]:1}"; do echo "lookup $R1 $p"; done | raw "$A")
H1=("$R1")
while IFS= read -r l; do H1+=("$(fh_of "$l")"); done <<<"$ANS"
[[ " ${H1[*]} " != *" - "* && ${#H1[@]} = "${#P1[@]}" ]]; control "client A looks up its files"
ANS=$(one "$A" "read ${H1[2]} 0 200")
[[ $ANS == *"$LEAK"* ]]; control "client A reads worker-1's secret through its handle"
# worker-3's own handles
P3=(. root etc etc/motd root/mine.txt boot/firmware)
ANS=$(for p in "${P3[@]:1}"; do echo "lookup $R3 $p"; done | raw "$B")
H3=("$R3")
while IFS= read -r l; do H3+=("$(fh_of "$l")"); done <<<"$ANS"
[[ " ${H3[*]} " != *" - "* && ${#H3[@]} = "${#P3[@]}" ]]; control "client B looks up its files"
ROOT_ID=$(field fileid "$(one "$B" "getattr $R3")")
ANS=$(one "$B" "readdir $R3")
[[ $ANS == "ok "*etc* && -n $ROOT_ID ]]; control "client B lists its own root"
# The handles' layout: the FUSE handle inside each must be found.
ANS=$(for h in "${H1[@]}" "${H3[@]}"; do echo "fhinfo $h"; done | "$RAW" 127.0.0.1 | grep -v '^ok ')
[ -z "$ANS" ]; control "the FUSE handle found in each of worker-1's and worker-3's handles"
echo "handle layout: ${H3[3]} (worker-3's etc/motd): $(off "fhinfo ${H3[3]}")"

# ---- a worker's state as a user checks it.  state VICTIM: the files
# planted in VICTIM (worker-N) as its view shows them, its delta, and the
# mount's parent directory.
state() {
	local f files=(etc/motd root/mine.txt)
	[ "$1" = worker-1 ] && files=(etc/motd "root/$SECRET" boot/firmware/config.txt)
	for f in "${files[@]}"; do
		echo "file $f: $(sha256sum <"$M/nfsroot/$1/$f" | cut -c1-16)"
	done
	(cd "$T/store/deltas/$1" && find . -mindepth 1 -printf 'delta %y %P\n' &&
		find . -type f -exec sha256sum {} + | sed 's/^/delta content /') | LC_ALL=C sort
	find "$T" -mindepth 1 -maxdepth 1 -printf 'parent of the mount: %f\n' | LC_ALL=C sort
}
state worker-1 >"$WORK/state-worker-1"

# Findings are lines "KIND<tab>TAG<tab>DETAIL"; none = the attack was
# refused.  judge STRICT < ANSWERS: the findings in nfsraw's answers:
# worker-1's bytes, a forbidden name listed or looked up; STRICT=1: any
# answer at all (the handle is worker-1's own).  A transport error is a
# finding too: a refusal it is not.
judge() {
	# shellcheck disable=SC2016 # awk
	awk -v strict="$1" -v leak="$LEAK" -v forbid="$FORBID" -v OFS='\t' '
		BEGIN { n = split(forbid, f, ","); for (i = 1; i <= n; i++) bad[f[i]] = 1 }
		/rpc transport/ { print "transport", $2, substr($0, 1, 150); next }
		/^err / { next }
		{
			if (strict) print "answered", $2, substr($0, 1, 150)
			if (index($0, leak)) print "bytes", $2, substr($0, index($0, leak), 60)
			for (i = 3; i <= NF; i++) {
				if ($i ~ /names=/) {
					s = $i; sub(/.*names=/, "", s); sub(/:create=.*/, "", s)
					m = split(s, nm, ",")
					for (j = 1; j <= m; j++) if (nm[j] in bad) print "listed", $2, nm[j]
				} else if ($i ~ /^lookup:/) {
					s = substr($i, 8); split(s, kv, "=")
					if ((kv[1] in bad) && kv[2] ~ /^[0-9?]/) print "lookup", $2, kv[1]
				}
			}
		}'
}

# changes VICTIM: findings for what changed in VICTIM's state since the
# last call (the first: state above).
changes() {
	state "$1" >"$WORK/state.after"
	diff "$WORK/state-$1" "$WORK/state.after" | awk -v v="$1" -v OFS='\t' '
		/^[<>] file / { sub(/:$/, "", $3); c[v "'\''s " $3 " changed"] = 1 }
		/^> delta [^c]/ { c["new in " v "'\''s delta: " $4] = 1 }
		/^< delta [^c]/ { c["gone from " v "'\''s delta: " $4] = 1 }
		/^[<>] delta content/ { p = $5; sub(/^\.\//, "", p); content[p] = 1 }
		/^> parent of the mount: / { c["new in the mount'\''s parent: " $6] = 1 }
		/^< parent of the mount: / { c["gone from the mount'\''s parent: " $6] = 1 }
		END {
			for (k in c) print "changed", "-", k
			for (p in content)
				if (!((v "'\''s " p " changed") in c) && !(("new in " v "'\''s delta: " p) in c))
					print "changed", "-", v "'\''s delta: " p " changed"
		}' | LC_ALL=C sort
	mv "$WORK/state.after" "$WORK/state-$1"
}

# report ATTACK WHAT N FINDINGS: the attack's one line, "ok:" when there
# is no finding (nor a change in worker-1's state since the last report),
# else "FAIL:" with a summary of what leaked; the findings in full go to
# $WORK/findings-ATTACK.
report() {
	local id=$1 what=$2 n=$3 findings
	findings=$( { printf '%s\n' "$4"; changes worker-1; } | grep -v '^$')
	if [ -z "$findings" ]; then
		ok "($id) $what: refused ($n handles): nothing of the other worker's or outside its own view reached, nothing changed"
		return
	fi
	printf '%s\n' "$findings" >"$WORK/findings-$id"
	# shellcheck disable=SC2016 # awk
	fail "($id) $what: $(awk -F'\t' '
		function add(k, v) { if (!((k, v) in seen)) { seen[k, v] = 1; cnt[k]++; if (cnt[k] <= 8) list[k] = list[k] (cnt[k] > 1 ? ", " : "") v } }
		{ n[$1]++; if (!first[$1]) first[$1] = $2 ": " $3 }
		$1 == "changed" || $1 == "listed" || $1 == "lookup" || $1 == "found" { add($1, $3) }
		END {
			if (n["changed"]) out = out "; CHANGED " list["changed"] (cnt["changed"] > 8 ? ", ..." : "")
			if (n["bytes"]) out = out "; READ worker-1'\''s bytes " n["bytes"] "x (" first["bytes"] ")"
			if (n["opened"]) out = out "; OPENED " n["opened"] "x (" first["opened"] ")"
			if (n["found"]) out = out "; FOUND " list["found"]
			if (n["climb"]) out = out "; .. LEFT THE ROOT " n["climb"] "x (" first["climb"] ")"
			if (n["listed"]) out = out "; LISTED " list["listed"] (cnt["listed"] > 8 ? ", ..." : "")
			if (n["lookup"]) out = out "; LOOKED UP " list["lookup"]
			if (n["answered"]) out = out "; ANSWERED " n["answered"] "x (" first["answered"] ")"
			if (n["transport"]) out = out "; TRANSPORT ERRORS " n["transport"] "x, proves nothing (" first["transport"] ")"
			print substr(out, 3)
		}' "$WORK/findings-$id" | cut -c1-900)"
}

# The attacking client: B, but for the climbs of (e), which both make.
BY=$B
# probes TAG HANDLE...: one probe per handle (directories: look up the
# names B must not reach), answers in $WORK/TAG
probes() {
	local tag=$1 i=0 h
	shift
	for h in "$@"; do
		i=$((i + 1))
		echo "probe $h $tag-$i worker-1 nfsroot tftpboot 77b655ec $SECRET"
	done | raw "$BY" >"$WORK/$tag"
}

# reach HANDLE... -- PATH...: findings for each PATH (".." components
# too) that BY can look up from a HANDLE, with its first bytes, and for
# worker-1's bytes among them.
reach() {
	local h p hs=()
	while [ "$1" != -- ]; do hs+=("$1"); shift; done
	shift
	for h in "${hs[@]}"; do for p in "$@"; do echo "lookup $h $p"; done; done >"$WORK/reach.cmd"
	raw "$BY" <"$WORK/reach.cmd" >"$WORK/reach.ans"
	paste -d' ' "$WORK/reach.cmd" "$WORK/reach.ans" | awk '$4 == "ok"' >"$WORK/reach.found"
	awk '{ print "read " $5 " 0 200" }' "$WORK/reach.found" | raw "$BY" |
		paste -d' ' <(awk '{ print $3 }' "$WORK/reach.found") - >"$WORK/reach.read"
	awk '{ $2 = $1; $1 = "ok"; print }' "$WORK/reach.read" | judge 0
	# shellcheck disable=SC2016 # awk
	awk -v OFS='\t' '{ d = $2 == "ok" ? substr($0, index($0, " eof=") + 7, 40) : $3; print "found", "-", $1 " (" d ")" }' "$WORK/reach.read"
}

# (a) worker-1's handles, whole, sent by B
probes a "${H1[@]}"
report a "worker-1's handles transplanted into B's requests" "${#H1[@]}" "$(judge 1 <"$WORK/a")"

# (b) the FUSE part of worker-1's handles behind B's header
mapfile -t SP < <(for h in "${H1[@]}"; do echo "splice $R3 $h"; done | "$RAW" 127.0.0.1 | awk '{ print $2 }')
probes b "${SP[@]}"
report b "worker-1's FUSE handles spliced behind worker-3's header" "${#SP[@]}" "$(judge 0 <"$WORK/b")"

# (c) every node id / generation byte of B's handles over a set of values
# (the view id's 16 bits are bytes 2-3 of the first word)
VALS="00 01 02 03 04 05 06 07 08 0f 10 40 7f 80 fe ff"
mapfile -t SW < <(for h in "${H3[@]:0:5}"; do
	k=$(off "fhinfo $h")
	koff=$(field koff "$k")
	for pos in $(seq 0 11); do
		orig=${h:$(( (koff + pos) * 2 )):2}
		for v in $VALS $(printf '%02x %02x' $((0x$orig ^ 1)) $((0x$orig ^ 0x80))); do
			[ "$v" = "$orig" ] || echo "kset $h $pos $v"
		done
	done
done | sort -u | "$RAW" 127.0.0.1 | awk '$1 == "ok" { print $2 }' | sort -u)
START=$(date +%s)
probes c "${SW[@]}"
report c "node id / generation bytes of worker-3's handles swept ($(($(date +%s) - START)) s)" "${#SW[@]}" "$(judge 0 <"$WORK/c")"

# (d) small node ids, generation 0, behind B's header (FUSE's handle:
# node id high word, low word, generation, each a host-endian u32)
mapfile -t FG < <(for n in 1 2 3; do printf 'kput %s 81 00000000%02x00000000000000\n' "$R3" "$n"; done |
	"$RAW" 127.0.0.1 | awk '{ print $2 }')
probes d "${FG[@]}"
# and through them, worker-1's secret and boot files
reach "${FG[@]}" -- "worker-1/root/$SECRET" "nfsroot/worker-1/root/$SECRET" "77b655ec/config.txt" \
	"tftpboot/77b655ec/config.txt" >"$WORK/d-reach"
report d "node ids 1, 2, 3 (generation 0) forged behind worker-3's header" "${#FG[@]}" \
	"$(judge 0 <"$WORK/d"; cat "$WORK/d-reach")"

# (e) ".." from the export root, and from other encodings of that root
# (FUSE's handle type 0x82 with a parent, 0x81 with a word more, node id
# 1): every level must be the root (its fileid, its names but the ones the
# climb itself creates), nothing else.  Both clients climb: where ".."
# leaves an export, Ganesha may give the file system above to whichever
# export it met first.  judge_climb ROOTID ROOTNAMES < ANSWERS
judge_climb() {
	# shellcheck disable=SC2016 # awk
	awk -v rootid="$1" -v rootnames="$2" -v OFS='\t' '
		# the names the attacks create (e1w3-1, e2pw3-1, ...) are left
		# out on both sides: a level may be listed from a cache that
		# predates them
		BEGIN {
			k = split(rootnames, r, ","); n = 0
			for (i = 1; i <= k; i++)
				if (r[i] !~ /^e[12]p?w[13]-[0-9]+$/) { root[r[i]] = 1; n++ }
		}
		/^err |rpc transport/ { next }
		{
			for (i = 3; i <= NF; i++) {
				if (split($i, p, ":") < 3 || p[2] !~ /^fileid=/) continue
				id = substr(p[2], 8)
				s = $i; sub(/^[0-9]+:fileid=[0-9]+:names=/, "", s); sub(/:create=.*/, "", s)
				m = split(s, nm, ","); extra = ""; seen = 0
				for (j = 1; j <= m; j++) {
					if (nm[j] ~ /^e[12]p?w[13]-[0-9]+$/) continue
					if (nm[j] in root) seen++; else extra = extra " " nm[j]
				}
				if (id != rootid || extra != "" || seen != n)
					print "climb", $2, "level " p[1] " fileid " id " (root " rootid "), " \
						(extra != "" ? "names not the root'\''s:" substr(extra, 1, 100) : seen " of the root'\''s " n " names")
			}
		}'
}
# Creates (to show one can land outside the view) only in the first 3
# levels up from an export root (1 from the mount's root): from
# MNT/nfsroot/worker-N, level 3 is the mount's parent, this test's own
# directory; nothing above it is ever written.
up() { printf '../%.0s' $(seq 1 "$1"); }
DEPTH=$(tr -cd / <<<"$T" | wc -c)
E1='' E2='' NV=0
# BY SRC, W worker-N (the climber), ROOT its root, OTHER the other's
# name and one of its files
for c in "$B worker-3 $R3 worker-1 root/$SECRET" "$A worker-1 $R1 worker-3 root/mine.txt"; do
	read -r BY W ROOT OTHER OFILE <<<"$c"
	w=w${W#worker-}
	state "$OTHER" >"$WORK/state-$OTHER"
	# worker-1's secret is no secret to worker-1
	[ "$W" = worker-1 ] && SAVED=$FORBID && FORBID=$(tr , '\n' <<<"$FORBID" | grep -vxF "$SECRET" | paste -sd,)
	rid=$(field fileid "$(one "$BY" "getattr $ROOT")")
	rn=$(one "$BY" "readdir $ROOT" | sed 's/^ok //')
	one "$BY" "climb $ROOT 6 e1$w 3" >"$WORK/e1$w"
	E1+=$(judge 0 <"$WORK/e1$w"; judge_climb "$rid" "$rn" <"$WORK/e1$w"; changes "$OTHER")$'\n'

	k=$(off "fhinfo $ROOT")
	k=${ROOT:$(($(field koff "$k") * 2)):24}
	mapfile -t VR < <(off "kput $ROOT 82 $k$k" "kput $ROOT 81 ${k}00000000" \
		"kput $ROOT 81 000000000100000000000000" | awk '{ print $2 }')
	NV=$((NV + ${#VR[@]}))
	i=0
	for h in "${VR[@]}"; do i=$((i + 1)); echo "probe $h e2p$w-$i $OTHER nfsroot"; done | raw "$BY" >"$WORK/e2$w"
	rn=$(one "$BY" "readdir $ROOT" | sed 's/^ok //')
	# node id 1 is the mount's root today: its level 1 is the mount's parent
	{ for h in "${VR[@]::2}"; do echo "climb $h 6 e2$w 3"; done; echo "climb ${VR[2]} 6 e2$w 1"; } |
		raw "$BY" >>"$WORK/e2$w"
	# and from there the store and the master's own /, read only
	reach "${VR[@]}" -- "$(up 3)store/workers" "$(up 3)store/deltas/$OTHER/$OFILE" \
		"$(up 1)store/workers" "$(up 1)store/deltas/$OTHER/$OFILE" \
		"$(up $((3 + DEPTH)))${T#/}/store/workers" "$(up $((1 + DEPTH)))${T#/}/store/workers" >"$WORK/e2$w-reach"
	E2+=$(judge 0 <"$WORK/e2$w"; grep "^ok e2$w " "$WORK/e2$w" | judge_climb "$rid" "$rn"; cat "$WORK/e2$w-reach"
		changes "$OTHER")$'\n'
	[ "$W" = worker-1 ] && FORBID=$SAVED
done
BY=$B
# worker-1's own climbs changed its delta: the attacks below start from here
state worker-1 >"$WORK/state-worker-1"
report e1 "LOOKUP .. from the export roots (worker-3's, worker-1's; 6 levels)" 2 "$E1"
report e2 "LOOKUP .. from other encodings of the export roots (a parent, a word more, node id 1)" "$NV" "$E2"

# (f) locally: open_by_handle_at through a directory fd of worker-3's view
# fopen DIR HANDLEFILE: its contents (400 bytes at most, one line) in
# FOUT; the status of fhandle cat
fopen() {
	FOUT=$("$FH" cat "$1" "$2" 2>&1 | head -c 400 | tr '\n' ' '; exit "${PIPESTATUS[0]}")
}
F=()
for h in "$W1/root/$SECRET":h1-secret "$W1/etc/motd":h1-motd "$W3/etc/motd":h3-motd; do
	"$FH" save "${h%:*}" "$WORK/${h##*:}" || fail "(f) name_to_handle_at ${h%:*}"
done
fopen "$W1" "$WORK/h1-secret"
[[ $FOUT == *"$LEAK"* ]] || fail "(f) worker-1's own handle does not open through its view: $FOUT"
for h in h1-secret h1-motd; do
	fopen "$W3" "$WORK/$h" && F+=("$(printf 'opened\t%s\tworker-1'\''s %s through worker-3'\''s view: %s' "$h" "${h#h1-}" "${FOUT:0:80}")")
done
# worker-3's motd with its view bits (bytes 2-3 of the handle's first word:
# file offset 10-11) set to each value 0-16: never worker-1's bytes
for v in $(seq 0 16); do
	cp "$WORK/h3-motd" "$WORK/h3-edit"
	printf '%b' "\\x$(printf %02x "$v")\\x00" | dd of="$WORK/h3-edit" bs=1 seek=10 conv=notrunc status=none
	fopen "$W3" "$WORK/h3-edit" && [[ $FOUT == *"$LEAK"* ]] &&
		F+=("$(printf 'opened\th3-view%d\tworker-3'\''s motd handle with view %d: %s' "$v" "$v" "${FOUT:0:80}")")
done
report f "open_by_handle_at through worker-3's view with worker-1's handles, or view bits edited" 19 \
	"$(printf '%s\n' "${F[@]}")"

stop_nfs
# what each attack that got through reached (the lines above are
# trimmed): the first findings of each kind and client
for f in "$WORK"/findings-*; do
	[ -e "$f" ] || continue
	echo "--- findings of (${f##*findings-}), $(wc -l <"$f") in all; the first of each kind:"
	awk -F'\t' '{ k = $1 " " ($2 ~ /w1/ ? "w1" : "") } n[k]++ < 3' "$f" | tr '\t' ' ' | cut -c1-200
done
finish
