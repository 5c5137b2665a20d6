#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh - `make bench`: tests/bench/bench.sh, every section (or those named
# as arguments: `run.sh read stat`, `run.sh snapshot`; see bench.sh for
# the sections and the PIFS_BENCH_* settings).  Measurements only: a
# benchmark never fails on a time; it fails only if it cannot run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${PIFS_BUILDDIR:=$(cd "$here/../.." && pwd)}"
: "${PIFS_SRCDIR:=$(cd "$here/../.." && pwd)}"
export PIFS_BUILDDIR PIFS_SRCDIR
exec bash "$here/bench.sh" "$@"
