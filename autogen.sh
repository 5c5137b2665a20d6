#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# autogen.sh - make the configure script of a git checkout (the release
# tarball ships one): `./autogen.sh && ./configure && make`.  Needs
# autoconf, automake, libtool and pkg-config (for its PKG_CHECK_MODULES).
set -e
cd "$(dirname "$0")"
exec autoreconf -fi "$@"
