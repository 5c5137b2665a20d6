#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pifs-demo.sh - the main job on a built-in default: a small Pi-shaped
# golden tree, a store with worker-1..3, mounted, a write that lands in one
# worker only, the TFTP boot view with its generated cmdline.txt, and a
# snapshot / break / reset round.  Leaves the mount up for you to explore and prints how
# to stop it.  Uses the binaries of the build tree it sits in.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PIFS=$top/tools/pifs
export PIFS_DAEMON=$top/fs/pifsd
D=${PIFS_DEMO_DIR:-/var/tmp/pifs-demo}
S=$D/store
M=$D/mnt
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

[ -x "$PIFS" ] && [ -x "$PIFS_DAEMON" ] || { echo "pifs-demo: build pifs first (tools/quickstart.sh demo)" >&2; exit 1; }
if mountpoint -q "$M" 2>/dev/null; then "$PIFS" umount "$M"; sleep 0.5; fi
[ -d "$S" ] && "$PIFS" destroy "$S" --yes >/dev/null
mkdir -p "$D" "$M"

say "a golden OS image (Raspberry Pi OS shaped, generated)"
[ -d "$D/golden" ] || bash "$top/tools/mkgolden.sh" "$D/golden"
run ls "$D/golden" "$D/golden/boot/firmware"

say "one store, one read-only golden copy"
run "$PIFS" init "$S" --golden "$D/golden"
export PIFS_STORE=$S
run "$PIFS" worker add worker-1 --serial 77b655ec
run "$PIFS" worker add worker-2 --serial 2c0ffee2
run "$PIFS" worker add worker-3 --serial 8b07bcc6
run "$PIFS" worker list

say "mount: every worker gets a copy-on-write view"
run "$PIFS" mount "$M" -o allow_other
run ls "$M/nfsroot"
run cat "$M/nfsroot/worker-3/etc/motd"

say "worker-3 writes; the others do not see it"
printf '$ echo "hello from worker-3" > %s\n' "$M/nfsroot/worker-3/etc/motd"
echo "hello from worker-3" > "$M/nfsroot/worker-3/etc/motd"
for w in worker-1 worker-2 worker-3; do
	printf '%-9s etc/motd: %s\n' "$w" "$(cat "$M/nfsroot/$w/etc/motd")"
done

say "the write is in worker-3's delta only; the golden is untouched"
run find "$S/deltas" -mindepth 1 -not -type d
run "$PIFS" verify

say "the boot view: what dnsmasq serves worker-3 (serial 8b07bcc6) over TFTP"
run ls "$M/tftpboot" "$M/tftpboot/8b07bcc6"
run cat "$M/tftpboot/8b07bcc6/cmdline.txt"
run cat "$M/nfsroot/worker-3/etc/hostname"

say "snapshot worker-3, break it, reset it"
run "$PIFS" snapshot worker-3 -m "demo: motd"
printf '$ rm -r %s\n' "$M/nfsroot/worker-3/usr/bin"
rm -r "$M/nfsroot/worker-3/usr/bin"
run ls "$M/nfsroot/worker-3/usr"
run "$PIFS" status
run "$PIFS" reset worker-3 --force
run ls "$M/nfsroot/worker-3/usr/bin"
run "$PIFS" log worker-3

say "done: the demo store stays mounted"
cat <<MSG
  views:     $M/nfsroot/<worker>/
  store:     $S
  explore:   ls $M/nfsroot/worker-1/boot/firmware
  stop:      $PIFS umount $M
MSG
