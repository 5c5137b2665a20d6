#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-store-enospc.sh - the store on a small file system (a loop-mounted
# 128 MiB ext4 image, no blocks reserved for root) that a filler file
# fills up to a few hundred KiB: a write through a view, the copy-up of a
# large golden file (8 MiB kernel8.img), a snapshot, a reset and a rebase
# each fail with ENOSPC cleanly: the client sees ENOSPC, the CLI prints
# one `pifs: ...` line and exits 1, pifsd keeps serving, `pifs fsck` is
# clean, nothing acknowledged (fsync'd data, a completed snapshot) is
# lost, work/ and the delta hold no half-written file, and once the
# filler is gone every one of them works.
. "$(dirname "$0")/lib.sh"
setup
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 missing (apt-get install e2fsprogs)"
truncate -s 128M "$T/fs.img"
mkfs.ext4 -q -m 0 -F "$T/fs.img" || skip "mkfs.ext4 failed"
FS=$T/fs
mkdir -p "$FS"
mount -o loop "$T/fs.img" "$FS" 2>"$T/loop.err" || skip "cannot loop-mount an ext4 image: $(cat "$T/loop.err")"
MOUNTS+=("$FS")
# cleanup() unmounts MOUNTS in order: the pifs mount (added later) must go
# before the loop file system, so that one is unmounted in our own trap.
fs_cleanup() {
	local m
	for m in "${MOUNTS[@]}"; do
		[ "$m" = "$FS" ] && continue
		mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
	done
	for _ in $(seq 1 100); do [ -z "$PIFSD_PID" ] || ! kill -0 "$PIFSD_PID" 2>/dev/null && break; sleep 0.1; done
	umount "$FS" 2>/dev/null || umount -l "$FS"
	cleanup
}
trap fs_cleanup EXIT

S=$FS/store
P() { "$PIFS" --store "$S" "$@"; }
bash "$PIFS_SRCDIR/tools/mkgolden.sh" "$T/golden" || { fail mkgolden; exit 1; }
P init "$S" --golden "$T/golden" >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "pifs init"; exit 1; }
P worker add worker-3 --serial 8b07bcc6 >/dev/null || { fail "worker add"; exit 1; }
# golden B for the rebase: one changed file
cp -a "$T/golden" "$T/golden-b"
echo "motd of release B" >"$T/golden-b/etc/motd"
GB=$(P golden import "$T/golden-b" 2>"$T/import.err") || { cat "$T/import.err"; fail "golden import"; exit 1; }
GA=$(P golden default)

M=$T/mnt
mount_pifs "$S" "$M"
W3=$M/nfsroot/worker-3
D3=$S/deltas/worker-3

FILLER=$FS/filler
# fill LEAVE_KB: grow the filler until LEAVE_KB KiB are free on $FS
fill() {
	local avail
	sync -f "$FS"
	avail=$(df -B1K --output=avail "$FS" | tail -1 | tr -d ' ')
	if [ "$avail" -gt "$1" ]; then
		fallocate -o "$(stat -c %s "$FILLER" 2>/dev/null || echo 0)" \
			-l "$(((avail - $1) * 1024))" "$FILLER" 2>/dev/null ||
			dd if=/dev/zero of="$FILLER" bs=1K count=$((avail - $1)) oflag=append conv=notrunc status=none 2>/dev/null
	fi
	sync -f "$FS"
}
unfill() { rm -f "$FILLER"; sync -f "$FS"; }

# serving: pifsd alive and answering through the view
serving() {
	if kill -0 "$PIFSD_PID" 2>/dev/null && [ "$(cat "$W3/etc/hostname" 2>/dev/null)" = worker-3 ]; then
		ok "$1: pifsd keeps serving"
	else
		fail "$1: pifsd no longer serves (alive: $(kill -0 "$PIFSD_PID" 2>/dev/null && echo yes || echo no))"
	fi
}
# no_garbage WHAT: work/ is empty and the delta holds no temporary file
no_garbage() {
	local g
	g=$(find "$S/work" -mindepth 1 2>/dev/null | head -5)
	[ -z "$g" ] && ok "$1: work/ is empty" || fail "$1: garbage in work/: $g"
	g=$(find "$D3" -mindepth 1 -name '.pifs*' -newer "$T/golden" 2>/dev/null | grep -v '/\.pifs-meta$' | head -5)
	g+=$(find "$D3" -mindepth 1 -name '*.tmp*' 2>/dev/null | head -5)
	[ -z "$g" ] && ok "$1: no temporary file in the delta" || fail "$1: temporary files in the delta: $g"
}
fsck_clean() {
	local out
	out=$(P fsck 2>&1) && ok "$1: pifs fsck clean" || fail "$1: pifs fsck: $out"
}
# same_tree WHAT MANIFEST: worker-3's view is MANIFEST (tree_manifest)
same_tree() {
	tree_manifest "$W3" >"$T/now.manifest"
	if diff -u "$2" "$T/now.manifest" >"$T/tree.diff"; then
		ok "$1"
	else
		head -20 "$T/tree.diff"
		fail "$1: the view differs"
	fi
}
# enospc_cli WHAT CMD...: exit 1, one line 'pifs: ...' naming the lack of space
enospc_cli() {
	local what=$1 out rc
	shift
	out=$("$@" 2>&1 >/dev/null); rc=$?
	printf '%s: exit %s: %s\n' "$what" "$rc" "$out" >>"$T/cli.log"
	if [ $rc -ne 1 ]; then fail "$what: exit $rc, expected 1 ($out)"; return; fi
	if [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ] || [[ $out != "pifs: "* ]]; then
		fail "$what: not one 'pifs: ' line: '$out'"; return
	fi
	if [[ $out != *"No space left on device"* ]]; then
		fail "$what: the error does not say ENOSPC: '$out'"; return
	fi
	if [ -n "${EXACT:-}" ] && [ "$out" != "$EXACT" ]; then
		fail "$what: expected '$EXACT', got '$out'"; return
	fi
	ok "$what: exit 1, '$out'"
}

# Acknowledged data: a fsync'd file and a completed snapshot.
head -c $((1 << 20)) /dev/urandom >"$T/acked"
dd if="$T/acked" of="$W3/root/acked" bs=64K conv=fsync status=none || fail "write acked"
head -c $((4 << 20)) /dev/urandom >"$T/big"
cp "$T/big" "$W3/root/big" && sync "$W3/root/big" || fail "write big"
S1=$(P snapshot worker-3 -m "acked") || fail "snapshot S1"
rm "$W3/root/big"
S2=$(P snapshot worker-3 -m "big removed") || fail "snapshot S2"
tree_manifest "$W3" >"$T/fp.S2"
golden_kernel=$(sha256sum <"$T/golden/boot/firmware/kernel8.img")

# ---- 1. writes through the view
fill 512
out=$(dd if=/dev/urandom of="$W3/root/fill" bs=64K count=64 conv=fsync 2>&1)
case $out in
*"No space left on device"*) ok "write through the view: the client sees ENOSPC" ;;
*) fail "write through the view: no ENOSPC: $out" ;;
esac
serving "write"
rm -f "$W3/root/fill"
cmp -s "$T/acked" "$W3/root/acked" && ok "write: the fsync'd file is intact" || fail "write: the fsync'd file changed"

# ---- 2. copy-up of a large golden file
fill 512
out=$(printf X | dd of="$W3/boot/firmware/kernel8.img" conv=notrunc status=none 2>&1)
case $out in
*"No space left on device"*) ok "copy-up of an 8 MiB golden file: ENOSPC" ;;
*) fail "copy-up of an 8 MiB golden file: no ENOSPC: '$out'" ;;
esac
serving "copy-up"
expect_eq "copy-up: the view still shows the golden's bytes" "$golden_kernel" "$(sha256sum <"$W3/boot/firmware/kernel8.img")"
[ ! -e "$D3/boot/firmware/kernel8.img" ] && ok "copy-up: no half copy in the delta" ||
	fail "copy-up: $(stat -c %s "$D3/boot/firmware/kernel8.img") bytes of kernel8.img in the delta"
no_garbage "copy-up"

# ---- 2b. metadata changes on a store with no block left: each either
# works or fails with ENOSPC, nothing else, and leaves no garbage; the
# view is then as it was
tree_manifest "$W3" >"$T/before-meta"
meta_worked=
fill 0
for op in "mkdir $W3/usr/share/doc/pkg9/newdir" "touch $W3/usr/share/doc/pkg8/newfile" \
	"chmod 600 $W3/boot/firmware/start.elf" "setfattr -n user.k -v v $W3/usr/share/doc/pkg7/copyright" \
	"ln $W3/usr/share/doc/pkg6/copyright $W3/usr/share/doc/pkg6/hard" "mv $W3/usr/share/doc/pkg5 $W3/usr/share/doc/pkg5-moved" \
	"rm -r $W3/usr/share/doc/pkg4" "ln -s target $W3/usr/share/doc/pkg3/sym"; do
	out=$($op 2>&1)
	case $out in
	"") ok "full store: '${op%% *} ...' works (no block needed)"; meta_worked=1 ;;
	*"No space left on device"*) ok "full store: '${op%% *} ...': ENOSPC" ;;
	*) fail "full store: '$op': $out" ;;
	esac
done
serving "metadata"
no_garbage "metadata"
fsck_clean "metadata"
unfill
[ -n "$meta_worked" ] || same_tree "metadata: the view is as before the failed changes" "$T/before-meta"

# ---- 3. snapshot
unfill
head -c $((3 << 20)) /dev/urandom >"$T/new"
cp "$T/new" "$W3/root/new" && sync "$W3/root/new" || fail "write new"
fill 256
enospc_cli "snapshot on a full store" P snapshot worker-3 -m "no room"
# a big file is deflated into a spill file as it is read: the write of
# that file is what fails, and the message says so (not "cannot read")
unfill
head -c $((5 << 20)) /dev/urandom >"$W3/root/new5" && sync "$W3/root/new5" || fail "write new5"
fill 256
EXACT="pifs: cannot snapshot worker-3: cannot write 'root/new5' into git/objects/pack: No space left on device" \
	enospc_cli "snapshot of a big file on a full store" P snapshot worker-3 -m "no room"
rm -f "$W3/root/new5"
serving "snapshot"
expect_eq "snapshot: the last snapshot is still S2" "$S2" "$(P log worker-3 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshots"][0]["id"])' 2>/dev/null || P log worker-3 | awk 'NR==1{print $1}')"
no_garbage "snapshot"
fsck_clean "snapshot"

# ---- 4. reset to a snapshot with 4 MiB the full store cannot hold
rm "$W3/root/new"
fill 256
tree_manifest "$W3" >"$T/fp.before-reset"
enospc_cli "reset --to S1 on a full store" P reset worker-3 --to "$S1" --force
serving "reset"
same_tree "reset: the view is as before" "$T/fp.before-reset"
no_garbage "reset"
fsck_clean "reset"

# ---- 5. rebase onto golden B (its way-back snapshot, its rebuilt delta)
unfill
cp "$T/big" "$W3/root/big2" && sync "$W3/root/big2" || fail "write big2"
fill 256
tree_manifest "$W3" >"$T/fp.before-rebase"
EXACT="pifs: cannot snapshot worker-3: cannot write 'root/big2' into git/objects/pack: No space left on device" \
	enospc_cli "rebase on a full store" P rebase worker-3 --golden "$GB"
serving "rebase"
same_tree "rebase: the view is as before" "$T/fp.before-rebase"
expect_eq "rebase: the worker stays on golden A" "$GA" "$(P status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print([w for w in d["workers"] if w["name"]=="worker-3"][0]["golden"])' 2>/dev/null)"
no_garbage "rebase"
fsck_clean "rebase"

# ---- 6. space freed: everything works again
unfill
dd if=/dev/urandom of="$W3/root/fill" bs=64K count=64 conv=fsync status=none && ok "after: a 4 MiB write works" || fail "after: write"
printf X | dd of="$W3/boot/firmware/kernel8.img" conv=notrunc status=none && ok "after: copy-up works" || fail "after: copy-up"
expect_eq "after: the copy-up holds the golden's bytes but the first" "$(tail -c +2 "$T/golden/boot/firmware/kernel8.img" | sha256sum)" "$(tail -c +2 "$W3/boot/firmware/kernel8.img" | sha256sum)"
S3=$(P snapshot worker-3 -m after) && ok "after: snapshot works ($S3)" || fail "after: snapshot"
P reset worker-3 --to "$S1" --force >/dev/null && ok "after: reset --to S1 works" || fail "after: reset"
cmp -s "$T/big" "$W3/root/big" && cmp -s "$T/acked" "$W3/root/acked" && ok "after: S1's files are back, byte for byte" || fail "after: S1's files differ"
P reset worker-3 --to "$S2" --force >/dev/null || fail "after: reset --to S2"
same_tree "after: S2 restored exactly" "$T/fp.S2"
P rebase worker-3 --golden "$GB" >"$T/rebase.out" 2>&1 && ok "after: rebase works" || fail "after: rebase: $(cat "$T/rebase.out")"
expect_eq "after: the rebased view shows golden B" "motd of release B" "$(cat "$W3/etc/motd")"
cmp -s "$T/acked" "$W3/root/acked" && ok "after: the fsync'd file survived it all" || fail "after: acked file lost"
no_garbage "after"
fsck_clean "after"
P verify >/dev/null 2>&1 && ok "after: pifs verify clean" || fail "after: pifs verify"
umount_pifs "$M"
finish
