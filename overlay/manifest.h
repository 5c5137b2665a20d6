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
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

/* The first line of every manifest. */
#define PIFS_MANIFEST_HEADER "# pifs manifest v1\n"

/* Build the manifest of the tree at dirfd into a malloc'd string; *id_out
 * (optional, 17 bytes) gets the golden id.  Never follows symlinks. */
int pifs_manifest_build(int dirfd, char **out, char id_out[17]);

/* Asked for every regular file while building: return 1 and fill digest
 * (32 hex digits, as the manifest writes them) when the content digest of
 * the file (st_dev, st_ino) is already known, 0 to have it read. */
typedef int (*pifs_manifest_known_fn)(const struct stat *st, char digest[33],
				      void *arg);

/* As pifs_manifest_build, taking the content digests known() has instead
 * of reading those files again (an importer that hashed the data as it
 * wrote it).  The result is byte for byte what pifs_manifest_build gives
 * as long as those digests are right. */
int pifs_manifest_build_known(int dirfd, pifs_manifest_known_fn known,
			      void *arg, char **out, char id_out[17]);
/* The same, with a progress count of the entries hashed and the bytes
 * read on bar_fd (progress.h; -1: none). */
int pifs_manifest_build_progress(int dirfd, pifs_manifest_known_fn known,
				 void *arg, int bar_fd, char **out,
				 char id_out[17]);

/* The content digest the manifest records (XXH3-128 of the data, holes as
 * zeros), fed as the data goes by.  new: 0 or -ENOMEM. */
struct pifs_content_digest;
int pifs_content_digest_new(struct pifs_content_digest **out);
void pifs_content_digest_reset(struct pifs_content_digest *d);
void pifs_content_digest_update(struct pifs_content_digest *d,
				const void *buf, size_t len);
void pifs_content_digest_zeros(struct pifs_content_digest *d, uint64_t len);
/* 32 hex digits and a NUL; d can be reset and used again. */
void pifs_content_digest_final(struct pifs_content_digest *d, char out[33]);
void pifs_content_digest_free(struct pifs_content_digest *d);

/* Compare the tree at dirfd with manifest text.  Every difference is
 * written to report (one line each: "modified content: 'usr/bin/x'",
 * "missing: 'etc/y'", "extra: 'tmp/z'", "mode changed: 'bin/ping' 4755 ->
 * 755", "manifest truncated or corrupt").  Returns the number of
 * differences (0 = clean) or -errno. */
int pifs_manifest_verify(int dirfd, const char *manifest, FILE *report);

/* A parsed manifest: entries sorted by path (bytewise), the root "."
 * first. */
struct pifs_manifest_entry {
	char *path; /* raw (unescaped), "." for the root; owned */
	char *link; /* raw path of the group's first entry or NULL; owned */
	char type;
	unsigned mode;
	unsigned long uid, gid;
	unsigned long long size;
	long long sec;
	long nsec;
	unsigned maj, min;
	char content[33];
	char xattr[33];
	/* only while building: */
	dev_t dev;
	ino_t ino;
	nlink_t nlink;
};

struct pifs_manifest {
	struct pifs_manifest_entry *e;
	size_t n, cap;
};

/* Strict parse (the end digest is checked); -EINVAL when truncated or
 * malformed, -ENOMEM. */
int pifs_manifest_parse(const char *text, struct pifs_manifest *m);
void pifs_manifest_release(struct pifs_manifest *m);
/* Append a zeroed entry to m (for the builder and the parser); NULL when
 * out of memory. */
struct pifs_manifest_entry *pifs_manifest_add(struct pifs_manifest *m);
/* The entry at path, or NULL. */
const struct pifs_manifest_entry *
pifs_manifest_find(const struct pifs_manifest *m, const char *path);
/* Index of the first entry whose path is >= path (bytewise). */
size_t pifs_manifest_lower_bound(const struct pifs_manifest *m,
				 const char *path);
/* 1 when two entries (either may be NULL: absent) differ in what a
 * golden update changes: type, mode, owner, device, xattrs and, for
 * non-directories, content; mtimes are not compared. */
int pifs_manifest_entry_differs(const struct pifs_manifest_entry *a,
				const struct pifs_manifest_entry *b);

/* Escape a path for a manifest line: bytes < 0x21, '\\', and >= 0x7f as
 * \xHH.  Returns malloc'd string or NULL. */
char *pifs_path_escape(const char *path);
/* Inverse; returns malloc'd string or NULL on bad escapes. */
char *pifs_path_unescape(const char *esc);

#endif
