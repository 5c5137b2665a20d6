#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh - `make bench`: runs every benchmark (tests/bench/bench-*.sh, or
# those named as arguments: `run.sh snapshot`).  Measurements only: a
# benchmark never fails on a time; it fails only if it cannot run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${PIFS_BUILDDIR:=$(cd "$here/../.." && pwd)}"
: "${PIFS_SRCDIR:=$(cd "$here/../.." && pwd)}"
export PIFS_BUILDDIR PIFS_SRCDIR
if [ $# -eq 0 ]; then
	set -- $(cd "$here" && ls bench-*.sh | sed 's/^bench-//; s/\.sh$//')
fi
rc=0
for b in "$@"; do
	echo "=== bench $b"
	bash "$here/bench-$b.sh" || { echo "bench $b could not run"; rc=1; }
done
exit $rc
