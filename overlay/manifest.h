/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * manifest.h - the golden image manifest: an XXH3-128 digest of every
 * entry's content and metadata, so `pifs verify` can prove the golden has
 * not changed, and the golden id (a hash of the manifest) names it.
 *
 * File format (STORE/goldens/<id>/manifest), text, one entry per line,
 * sorted by path (bytewise), paths escaped (see pifs_path_escape):
 *
 *   # pifs manifest v1
 *   <type> <mode-octal> <uid> <gid> <size> <mtime-sec>.<nsec 9 digits>
 *       <rdev-major>:<rdev-minor> <content-xxh3-128-hex> <xattr-xxh3-128-hex>
 *       <link> <path>
 *
 * (one line; wrapped here).  type is one of f d l c b p s.  content is the
 * file data digest (f), the symlink target digest (l), else 32 zeros.
 * xattr digest covers sorted "name\0value" pairs.  link is "-" or the
 * escaped path of the first (sorted) entry of the same hard-link group.
 * The root is path ".".  atime and ctime are not recorded (they change on
 * reads and on copies).  The last line is "# end <xxh3-64-hex of all
 * previous bytes>" so a truncated manifest is detected.  The golden id is
 * the first 16 hex digits of that end digest.
 */
#ifndef PIFS_MANIFEST_H
#define PIFS_MANIFEST_H

#include <stddef.h>
#include <stdio.h>

/* Build the manifest of the tree at dirfd into a malloc'd string; *id_out
 * (optional, 17 bytes) gets the golden id.  Never follows symlinks. */
int pifs_manifest_build(int dirfd, char **out, char id_out[17]);

/* Compare the tree at dirfd with manifest text.  Every difference is
 * written to report (one line each: "modified content: 'usr/bin/x'",
 * "missing: 'etc/y'", "extra: 'tmp/z'", "mode changed: 'bin/ping' 4755 ->
 * 755", "manifest truncated or corrupt").  Returns the number of
 * differences (0 = clean) or -errno. */
int pifs_manifest_verify(int dirfd, const char *manifest, FILE *report);

/* Escape a path for a manifest line: bytes < 0x21, '\\', and >= 0x7f as
 * \xHH.  Returns malloc'd string or NULL. */
char *pifs_path_escape(const char *path);
/* Inverse; returns malloc'd string or NULL on bad escapes. */
char *pifs_path_unescape(const char *esc);

#endif
