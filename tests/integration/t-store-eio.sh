#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# t-store-eio.sh - the store's disk returns I/O errors: an LD_PRELOAD shim
# (tests/tools/eioshim.c) makes pifsd's, or the pifs CLI's, reads or
# writes of files under the store fail with EIO while a control file says
# so.  A client reading a golden or a delta file, writing a file, and
# copying up a golden file gets EIO (not a hang, not a crash, not other
# bytes); a snapshot and a reset fail with one `pifs: ...` line, exit 1;
# pifsd keeps serving, nothing acknowledged is lost, work/ and the delta
# hold no half-written file, `pifs fsck` is clean, and once the disk
# "heals" everything works again.  pifsd runs with -o uring=off: the shim
# sees libc calls, not io_uring requests.
. "$(dirname "$0")/lib.sh"
setup
SHIM=$PIFS_BUILDDIR/tests/tools/eioshim.so
[ -f "$SHIM" ] || { fail "tests/tools/eioshim.so not built (make check builds it)"; exit 1; }
make_store
S=$T/store
P() { "$PIFS" --store "$S" "$@"; }
CTL_D=$T/eio.pifsd
CTL_C=$T/eio.cli
ASAN_SHIM=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
# E ARGS: pifs under the shim (control file CTL_C)
E() {
	LD_PRELOAD=$SHIM PIFS_EIO_DIR=$S PIFS_EIO_CTL=$CTL_C ASAN_OPTIONS=$ASAN_SHIM \
		timeout 120 "$PIFS" --store "$S" "$@"
}
M=$T/mnt
LD_PRELOAD=$SHIM PIFS_EIO_DIR=$S PIFS_EIO_CTL=$CTL_D ASAN_OPTIONS=$ASAN_SHIM \
	mount_pifs "$S" "$M" -o uring=off
W3=$M/nfsroot/worker-3
D3=$S/deltas/worker-3

# eio WHO WHAT: switch the fault on (WHO pifsd or cli; WHAT as eioshim.c
# reads it, e.g. "r", "w /work/"); eio_off: every fault off
eio() {
	if [ "$1" = pifsd ]; then echo "$2" >"$CTL_D"; else echo "$2" >"$CTL_C"; fi
}
eio_off() { rm -f "$CTL_D" "$CTL_C"; }
# hit WHAT: the shim really failed a call since the last hit check
hit() {
	if [ -s "$CTL_D.hits" ] || [ -s "$CTL_C.hits" ]; then
		ok "$1: the shim failed $(cat "$CTL_D.hits" "$CTL_C.hits" 2>/dev/null | wc -l) store call(s)"
	else
		fail "$1: the fault was never met (no call failed)"
	fi
	rm -f "$CTL_D.hits" "$CTL_C.hits"
}
serving() {
	if kill -0 "$PIFSD_PID" 2>/dev/null && [ "$(cat "$W3/etc/hostname" 2>/dev/null)" = worker-3 ]; then
		ok "$1: pifsd keeps serving"
	else
		fail "$1: pifsd no longer serves"
	fi
}
no_garbage() {
	local g
	g=$(find "$S/work" -mindepth 1 2>/dev/null | head -5)
	[ -z "$g" ] && ok "$1: work/ is empty" || fail "$1: garbage in work/: $g"
	g=$(find "$S/git" \( -name 'tmp_*' -o -name '*.lock' -o -name 'pack_git2_*' \) 2>/dev/null | head -5)
	[ -z "$g" ] && ok "$1: no temporary file in git/" || fail "$1: temporary files in git/: $g"
}
fsck_clean() {
	local out
	out=$(P fsck 2>&1) && ok "$1: pifs fsck clean" || fail "$1: pifs fsck: $out"
}
# eio_cli WHAT CMD...: exit 1, one 'pifs: ' line naming the I/O error
eio_cli() {
	local what=$1 out rc
	shift
	out=$("$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne 1 ]; then fail "$what: exit $rc, expected 1 ($out)"; return; fi
	if [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ] || [[ $out != "pifs: "* ]]; then
		fail "$what: not one 'pifs: ' line: '$out'"; return
	fi
	[[ $out =~ ${EIO_PAT:-Input/output error} ]] || { fail "$what: the error does not say EIO: '$out'"; return; }
	ok "$what: exit 1, '$out'"
}
# client_eio WHAT CMD...: the client's command fails with EIO, in time
client_eio() {
	local what=$1 out rc
	shift
	out=$(timeout 60 "$@" 2>&1 >/dev/null); rc=$?
	if [ $rc = 124 ]; then fail "$what: the client hangs"; return; fi
	if [ $rc = 0 ] || [[ $out != *"Input/output error"* ]]; then
		fail "$what: expected EIO, got exit $rc: '$out'"; return
	fi
	ok "$what: the client gets EIO"
}
# uncached FILE: drop FILE's pages from the kernel's cache, so the next
# read reaches pifsd
uncached() { dd if="$1" iflag=nocache count=0 status=none 2>/dev/null; }

# acknowledged data
head -c $((1 << 20)) /dev/urandom >"$T/acked"
dd if="$T/acked" of="$W3/root/acked" bs=64K conv=fsync status=none || fail "write acked"
head -c $((2 << 20)) /dev/urandom >"$T/data"
dd if="$T/data" of="$W3/root/data" bs=64K conv=fsync status=none || fail "write data"
S1=$(P snapshot worker-3 -m acked) || fail "snapshot S1"
golden_kernel=$(sha256sum <"$T/golden/boot/firmware/kernel8.img")

# ---- 1. pifsd's reads fail: a golden file and a delta file
uncached "$W3/root/data"
eio pifsd r
client_eio "read of a golden file" cat "$W3/usr/share/doc/pkg5/copyright"
client_eio "read of a delta file" cat "$W3/root/data"
hit "reads"
eio_off
serving "reads"
cmp -s "$W3/usr/share/doc/pkg5/copyright" "$T/golden/usr/share/doc/pkg5/copyright" && cmp -s "$W3/root/data" "$T/data" &&
	ok "reads: the same bytes once the disk heals" || fail "reads: other bytes after the fault"

# ---- 2. pifsd's writes fail
eio pifsd w
client_eio "write of a delta file" dd if=/dev/urandom of="$W3/root/data" bs=64K count=4 conv=notrunc,fsync status=none
client_eio "create of a new file" dd if=/dev/urandom of="$W3/root/new" bs=64K count=4 conv=fsync status=none
hit "writes"
eio_off
serving "writes"
uncached "$W3/root/acked"
cmp -s "$W3/root/acked" "$T/acked" && ok "writes: the fsync'd file is intact" || fail "writes: the fsync'd file changed"
dd if="$T/data" of="$W3/root/data" bs=64K conv=fsync status=none && cmp -s "$W3/root/data" "$T/data" &&
	ok "writes: a write works again" || fail "writes: write after the fault"
rm -f "$W3/root/new"

# ---- 3. copy-up of an 8 MiB golden file: its read fails, then its write
for f in r w; do
	eio pifsd "$f"
	client_eio "copy-up ($f fails)" dd of="$W3/boot/firmware/kernel8.img" conv=notrunc,fsync status=none <<<X
	hit "copy-up ($f)"
	eio_off
	serving "copy-up ($f)"
	uncached "$W3/boot/firmware/kernel8.img"
	expect_eq "copy-up ($f): the view shows the golden's bytes" "$golden_kernel" "$(sha256sum <"$W3/boot/firmware/kernel8.img")"
	[ ! -e "$D3/boot/firmware/kernel8.img" ] && ok "copy-up ($f): no half copy in the delta" ||
		fail "copy-up ($f): $(stat -c %s "$D3/boot/firmware/kernel8.img") bytes of kernel8.img in the delta"
	no_garbage "copy-up ($f)"
done

# ---- 4. snapshot: its reads of the delta fail, then its writes to git/
head -c $((3 << 20)) /dev/urandom >"$T/new"
cp "$T/new" "$W3/root/new" && sync "$W3/root/new" || fail "write new"
for f in "r /deltas/" "w /git/"; do
	eio cli "$f"
	eio_cli "snapshot (${f%% *} fails)" E snapshot worker-3 -m "disk fails"
	hit "snapshot (${f%% *})"
	eio_off
	serving "snapshot (${f%% *})"
	expect_eq "snapshot (${f%% *}): the last snapshot is still S1" "$S1" \
		"$(P log worker-3 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshots"][0]["id"])')"
	no_garbage "snapshot (${f%% *})"
	fsck_clean "snapshot (${f%% *})"
done

# ---- 5. reset: its writes of the rebuilt delta fail, then its reads of git/
tree_manifest "$W3" >"$T/before-reset"
for f in "w /work/" "r /git/objects/"; do
	eio cli "$f"
	# An object libgit2 cannot read is "object not found - no match
	# for id" in libgit2's words (it skips a pack it cannot read): pifs
	# asks the packs itself and names the I/O error and the object.
	EIO_PAT='Input/output error'
	[ "${f%% *}" = r ] && EIO_PAT="^pifs: cannot read the history of worker-3: cannot read object $S1: Input/output error\$"
	eio_cli "reset --to S1 (${f%% *} fails)" E reset worker-3 --to "$S1" --force
	EIO_PAT='Input/output error'
	hit "reset (${f%% *})"
	eio_off
	serving "reset (${f%% *})"
	tree_manifest "$W3" >"$T/now"
	diff -u "$T/before-reset" "$T/now" >"$T/reset.diff" && ok "reset (${f%% *}): the view is as before" ||
		{ head -20 "$T/reset.diff"; fail "reset (${f%% *}): the view changed"; }
	no_garbage "reset (${f%% *})"
	fsck_clean "reset (${f%% *})"
done

# ---- 6. the disk heals: everything works
printf X | dd of="$W3/boot/firmware/kernel8.img" conv=notrunc status=none && ok "after: copy-up works" || fail "after: copy-up"
S2=$(P snapshot worker-3 -m healed) && ok "after: snapshot works" || fail "after: snapshot"
P reset worker-3 --to "$S1" --force >/dev/null && ok "after: reset --to S1 works" || fail "after: reset"
cmp -s "$W3/root/acked" "$T/acked" && cmp -s "$W3/root/data" "$T/data" && [ ! -e "$W3/root/new" ] &&
	ok "after: S1 restored byte for byte" || fail "after: S1 differs"
P reset worker-3 --to "$S2" --force >/dev/null || fail "after: reset --to S2"
cmp -s "$W3/root/new" "$T/new" && ok "after: S2 (taken after the faults) holds the new file" || fail "after: S2 lost the new file"
no_garbage "after"
fsck_clean "after"
P verify >/dev/null 2>&1 && ok "after: pifs verify clean" || fail "after: pifs verify"
umount_pifs "$M"
finish
