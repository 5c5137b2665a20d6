#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Versioning on a live mount: snapshot is a point-in-time image (the
# daemon pauses the worker while it is captured); reset swaps the delta
# under the running daemon and the very next read shows the reset state;
# an exact round trip of every file type and attribute; identical content
# across workers stored once; kill -9 of the daemon during snapshot and
# reset leaves the worker old or new and `pifs fsck` clean; a snapshot
# whose pifsd dies under it says so in one line.
. "$(dirname "$0")/lib.sh"
mounted_store

tree_manifest "$W3" > "$T/m0"   # a fresh view: the golden + generated files
# A delta with every kind of entry and attribute.
(cd "$W3" &&
	echo one > root/file && chmod 4750 root/file && chown 1000:42 root/file &&
	setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 root/file &&
	setfattr -n user.k -v 0x00ff00 root/file &&
	ln root/file root/hardlink && ln -s /etc/shadow root/sym && mkdir -p root/empty/dir &&
	mknod root/cdev c 4 64 && mknod root/bdev b 8 1 && mkfifo root/fifo &&
	perl -e 'use Socket; socket(my $s, PF_UNIX, SOCK_STREAM, 0); bind($s, pack_sockaddr_un("root/sock")) or die' &&
	rm etc/motd && rm -r usr/share/doc/pkg1 && mkdir usr/share/doc/pkg1 && echo mine > usr/share/doc/pkg1/x &&
	mv usr/share/doc/pkg2 srv/pkg2-moved && echo changed >> etc/passwd &&
	truncate -s 3G root/sparse && echo tail >> root/sparse &&
	touch -h -d '2021-02-03 04:05:06.789' root/sym root/file) || fail "building the delta"
tree_manifest "$W3" > "$T/m1"
id1=$($P snapshot worker-3 -m "every file type") || fail "snapshot"
[[ $id1 =~ ^[0-9a-f]{7,40}$ ]] && ok "snapshot printed id $id1" || fail "snapshot printed '$id1'"
out=$($P snapshot worker-3 2>&1); rc=$?
expect_eq "second snapshot without changes" "0 nothing to snapshot for worker-3" "$rc $out"

# Arbitrary changes, then reset while mounted; read back at once.
cat "$W3/root/file" >/dev/null               # the kernel caches it now
(cd "$W3" && echo two > root/file && rm root/sym && echo new > etc/motd && rm -r root/empty &&
	mkdir usr/share/doc/pkg3/more && chmod 700 srv && echo x > root/added) || fail "changes"
expect_fail "reset refuses unsnapshotted changes" "worker-3 has [0-9]+ unsnapshotted change" $P reset worker-3
expect_eq "refused reset changed nothing" two "$(cat "$W3/root/file")"
$P reset worker-3 --force >/dev/null || fail "reset --force"
expect_eq "read right after reset shows the snapshot" one "$(cat "$W3/root/file")"
tree_manifest "$W3" > "$T/m2"
if diff -u "$T/m1" "$T/m2" > "$T/d12"; then ok "exact round trip through a live reset ($(wc -l < "$T/m1") entries)"; else head -20 "$T/d12"; fail "reset state differs from the snapshot"; fi

# An open file keeps its old inode across a reset (documented).
{ exec 7<"$W3/root/added"; } 2>/dev/null && fail "root/added should be gone after the reset" || ok "a file created after the snapshot is gone"
exec 8<"$W3/root/file"
echo three > "$W3/root/file"
$P reset worker-3 --force >/dev/null || fail "second reset"
expect_eq "open fd still reads its own file after reset" three "$(cat <&8)"
exec 8<&-
expect_eq "path reads the reset file" one "$(cat "$W3/root/file")"

# Reset to the bare golden, then back to the snapshot.
$P reset worker-3 --golden --force >/dev/null || fail "reset --golden"
tree_manifest "$W3" > "$T/m3"
diff -q "$T/m0" "$T/m3" >/dev/null && ok "reset --golden: view equals a fresh view" || { diff "$T/m0" "$T/m3" | head; fail "reset --golden left changes"; }
$P reset worker-3 --to "$id1" >/dev/null || fail "reset --to"
tree_manifest "$W3" > "$T/m4"
diff -q "$T/m1" "$T/m4" >/dev/null && ok "reset --to the snapshot restores it exactly" || fail "reset --to differs"

# Snapshots during a concurrent writer are never torn.
writer() {
	local i=0 deadline=$((SECONDS + 6))
	while [ $SECONDS -lt $deadline ]; do
		i=$((i + 1))
		head -c 65536 /dev/zero | tr '\0' "$(printf "\\$(printf %o $((65 + i % 26)))")" > "$W3/srv/w.tmp" 2>/dev/null || return
		mv "$W3/srv/w.tmp" "$W3/srv/w.dat" 2>/dev/null || return
		# in place: one 64 KiB write of one letter
		head -c 65536 /dev/zero | tr '\0' "$(printf "\\$(printf %o $((97 + i % 26)))")" |
			dd of="$W3/srv/inplace.dat" bs=65536 count=1 iflag=fullblock conv=notrunc status=none 2>/dev/null || return
	done
}
head -c 65536 /dev/zero | tr '\0' a > "$W3/srv/inplace.dat"
writer & WPID=$!
ids=()
for k in 1 2 3 4 5 6; do
	sleep 0.4
	id=$($P snapshot worker-3 -m "during writer $k" 2>/dev/null) && ids+=("$id")
done
wait $WPID
torn=0
for id in "${ids[@]}"; do
	for f in srv/w.dat srv/inplace.dat; do
		# one letter throughout, or nothing
		c=$($P show worker-3 "$id:$f" 2>/dev/null | fold -w1 | sort -u | tr -d '\n')
		case $c in ""|[A-Za-z]) ;; *) torn=$((torn + 1)); echo "torn $f in $id: letters '$c'" ;; esac
		sz=$($P show worker-3 "$id:$f" 2>/dev/null | wc -c)
		[ "$sz" = 65536 ] || [ "$sz" = 0 ] || { torn=$((torn + 1)); echo "$f in $id has $sz bytes"; }
	done
done
[ ${#ids[@]} -ge 3 ] && ok "${#ids[@]} snapshots taken during the writer" || fail "only ${#ids[@]} snapshots during the writer"
expect_eq "no torn file in any snapshot" 0 "$torn"

# The same file in two workers is one object.
echo "same bytes in two workers" > "$W3/root/same"
echo "same bytes in two workers" > "$M/nfsroot/worker-1/root/same"
$P snapshot worker-3 -m same >/dev/null && $P snapshot worker-1 -m same >/dev/null || fail "snapshots of both"
expect_eq "show gives a generated file as the view showed it" worker-1 "$($P show worker-1 HEAD:etc/hostname)"
expect_eq "show gives the worker's own copy once it has one" my-name "$(echo my-name > "$M/nfsroot/worker-1/etc/hostname"; $P snapshot worker-1 -m name >/dev/null; $P show worker-1 HEAD:etc/hostname)"
if command -v git >/dev/null; then
	o3=$(git --git-dir="$T/store/git" rev-parse "workers/worker-3:delta/root/same")
	o1=$(git --git-dir="$T/store/git" rev-parse "workers/worker-1:delta/root/same")
	expect_eq "one git object for identical content" "$o3" "$o1"
	expect_eq "git log reads as a person expects" "name same" "$(git --git-dir="$T/store/git" log -2 --format=%s workers/worker-1 | tr '\n' ' ' | sed 's/ $//')"
fi

# kill -9 of the daemon in the middle of snapshot and reset: the worker is
# its state from before the command (pre) or the reset target (base).
base=$($P snapshot worker-3 -m base 2>/dev/null) || base=$($P log worker-3 | awk 'NR==2{print $1}')
tree_manifest "$W3" > "$T/basem"
for round in 1 2 3 4 5 6; do
	for i in $(seq 1 30); do echo "r$round $i" > "$W3/root/k$i"; done
	tree_manifest "$W3" > "$T/pre"
	if [ $((round % 2)) = 1 ]; then
		$P snapshot worker-3 -m "round $round" >/dev/null 2>&1 &
	else
		$P reset worker-3 --to "$base" --force >/dev/null 2>&1 &
	fi
	CLI=$!
	sleep "0.0$((round * 13 % 9))"
	kill -9 "$PIFSD_PID"
	wait "$CLI" 2>/dev/null
	wait "$PIFSD_PID" 2>/dev/null
	umount -l "$M" 2>/dev/null || fusermount3 -uz "$M" 2>/dev/null
	mount_pifs "$T/store" "$M"
	out=$($P fsck 2>&1) && ok "round $round: fsck clean after kill -9 of the daemon" || { echo "$out"; fail "round $round: fsck"; }
	tree_manifest "$W3" > "$T/now"
	if diff -q "$T/now" "$T/pre" >/dev/null || { [ $((round % 2)) = 0 ] && diff -q "$T/now" "$T/basem" >/dev/null; }; then
		ok "round $round: worker is old or new"
	else
		diff "$T/now" "$T/pre" | head -5
		fail "round $round: worker is neither old nor new"
	fi
done

# pifsd dies while `pifs snapshot` holds the pause and reads the delta:
# the command is stopped while it has the big file open (so the kill lands
# mid-snapshot, every time), pifsd is killed, the command goes on.  It
# must say so in one line and exit 1, not die of SIGPIPE (exit 141, no
# message) on its next request; the snapshot is absent.
head -c $((96 << 20)) /dev/urandom > "$W3/root/big" || fail "writing root/big"
head_before=$(git --git-dir="$T/store/git" rev-parse workers/worker-3)
$P snapshot worker-3 -m "pifsd dies" >"$T/dies.out" 2>"$T/dies.err" &
CLI=$!
if stop_when_open "$CLI" "$T/store/deltas/worker-3/root/big"; then
	ok "pifs snapshot stopped while reading root/big"
	kill -9 "$PIFSD_PID"; wait "$PIFSD_PID" 2>/dev/null
	kill -CONT "$CLI"
else
	fail "pifs snapshot never opened root/big"
fi
wait "$CLI"; rc=$?
expect_eq "pifsd died under pifs snapshot: exit status" 1 "$rc"
expect_eq "pifsd died under pifs snapshot: one line" \
	"pifs: pifsd exited during the snapshot of worker-3: it was not recorded" "$(cat "$T/dies.err")"
expect_eq "pifsd died under pifs snapshot: no output" "" "$(cat "$T/dies.out")"
expect_eq "pifsd died under pifs snapshot: no snapshot" "$head_before" \
	"$(git --git-dir="$T/store/git" rev-parse workers/worker-3)"
umount -l "$M" 2>/dev/null || fusermount3 -uz "$M" 2>/dev/null
mount_pifs "$T/store" "$M"
out=$($P fsck 2>&1) && ok "fsck clean after pifsd died under pifs snapshot" || { echo "$out"; fail "fsck after pifsd died under snapshot"; }
cmp -s <(head -c 16 "$W3/root/big") <(head -c 16 "$T/store/deltas/worker-3/root/big") &&
	ok "root/big still in the view" || fail "root/big lost"
rm -f "$W3/root/big"

# kill -9 of `pifs snapshot` while it holds the pause: the daemon resumes
# the worker when the control connection drops.
for i in $(seq 1 200); do echo "$i" > "$W3/root/many$i"; done
for round in 1 2 3; do
	$P snapshot worker-3 -m "killed $round" >/dev/null 2>&1 &
	CLI=$!
	sleep "0.0$round"
	kill -9 "$CLI"; wait "$CLI" 2>/dev/null
	if timeout 10 sh -c "echo alive > '$W3/root/alive$round'"; then ok "worker writable after a killed snapshot ($round)"; else fail "worker left paused by a killed snapshot"; fi
done
out=$($P fsck 2>&1) && ok "fsck clean after killed snapshots" || { echo "$out"; fail "fsck after killed snapshots"; }
umount_pifs "$M"
finish
