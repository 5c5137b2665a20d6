/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * meta.h - META, the text that records every entry's metadata in a
 * snapshot (a delta's content lives in its delta/ tree, gitstore.h): the
 * entries in memory, and the codec between them and the text.  No
 * libgit2 here: rebase works on these too.
 *
 * META, one entry per line, sorted by path bytewise, the root included:
 *
 *   # pifs delta metadata v1
 *   golden <golden-id>
 *   <type> <mode> <uid> <gid> <mtime-sec>.<nsec> <major>:<minor> <link>
 *       <xattrs> <path>
 *
 * (one line; wrapped here).  type is f d l c b p s (a whiteout is "c" with
 * rdev 0:0); mode is the octal permission bits including setuid, setgid
 * and sticky; nsec has 9 digits; link is "-" or the path of the first
 * (sorted) entry of the same hard-link group; xattrs is "-" or a
 * comma-separated list "name=hexvalue" sorted by name, of every xattr of
 * the entry except trusted.pifs.base; paths and xattr names are escaped as
 * pifs_path_escape does, plus "," and "=" in names as \x2c and \x3d.  The
 * root is ".".
 *
 * A sparse file (overlay/git/sparse.c decides which: one of at least
 * PIFS_BIGBLOB_MIN bytes whose runs of zeros come to PIFS_SPARSE_MIN or
 * more) has one more field before its path:
 *
 *   @<size>:<offset>+<length>,<offset>+<length>,...
 *
 * its apparent size and its data extents (decimal, ascending, not
 * touching, inside the size; "@<size>:-" for a file of zeros only); its
 * blob in delta/ holds only those extents' bytes, one after the other,
 * and the rest of the file reads as zeros (holes).  A META with such a
 * line starts with PIFS_META_HEADER_V2 instead, so that a pifs that does
 * not know the field refuses the whole META ("not a pifs META header")
 * rather than take the blob for the file; a META without one is v1, byte
 * for byte as before sparse files were known.
 */
#ifndef PIFS_META_H
#define PIFS_META_H

#include <stddef.h>
#include <stdint.h>

#define PIFS_META_HEADER "# pifs delta metadata v1"
#define PIFS_META_HEADER_V2 "# pifs delta metadata v2"

/* One data extent of a sparse file. */
struct pifs_extent {
	uint64_t off, len;
};

struct pifs_xattr {
	char *name;
	unsigned char *value;
	size_t len;
};

struct pifs_meta_entry {
	char *path;		   /* relative, unescaped; "." is the root */
	char type;		   /* f d l c b p s */
	unsigned mode;		   /* permission bits, 07777 */
	uint32_t uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t rdev_major, rdev_minor;
	char *link;		   /* hard-link leader, or NULL */
	struct pifs_xattr *xattrs; /* sorted by name */
	size_t nxattrs;
	/* f: a sparse file (the @ field): size is its apparent size, its
	 * data the next extents ext (owned); 0 and NULL otherwise */
	int sparse;
	struct pifs_extent *ext;
	size_t next;
	/* not stored in META: */
	uint64_t size;		/* f, l: bytes (UINT64_MAX: unknown) */
	unsigned char oid[20];	/* f, l: blob id */
	int has_oid;
};

struct pifs_meta {
	char golden[17];
	struct pifs_meta_entry *entries; /* owned, sorted by path */
	size_t count;
};

void pifs_meta_init(struct pifs_meta *m);
void pifs_meta_release(struct pifs_meta *m);
/* Free what an entry holds (not the entry itself). */
void pifs_meta_entry_release(struct pifs_meta_entry *e);
/* Sort entries by path (bytewise). */
void pifs_meta_sort(struct pifs_meta *m);
/* An entry's xattr by name, or NULL; a whiteout (char device 0:0); an
 * opaque directory (trusted.overlay.opaque "y"). */
const struct pifs_xattr *pifs_meta_xattr(const struct pifs_meta_entry *e,
				        const char *name);
int pifs_meta_is_whiteout(const struct pifs_meta_entry *e);
int pifs_meta_is_opaque(const struct pifs_meta_entry *e);
/* A directory entry's redirect as the view follows it (layers.h:
 * pifs_layers_redirect), malloc'd into *out, or *out NULL; -ENOMEM. */
int pifs_meta_redirect(const struct pifs_meta_entry *e, char **out);
/* A pifs_layers_get_fn (layers.h) over a snapshot's META: CTX is a const
 * struct pifs_meta * (NULL: no entries). */
struct pifs_layers_entry;
int pifs_meta_layers_get(void *ctx, const char *path,
			 struct pifs_layers_entry *le);
/* qsort comparator of struct pifs_xattr by name (the order META keeps). */
int pifs_meta_xattr_cmp(const void *a, const void *b);
/* META text into a malloc'd *out; -ENOMEM, -EINVAL for a bad entry. */
int pifs_meta_format(const struct pifs_meta *m, char **out, size_t *len_out);
/* Strict parse (a NUL byte anywhere is refused); -EINVAL with "line N:
 * ..." in errbuf. */
int pifs_meta_parse(struct pifs_meta *m, const char *text, size_t len,
		    char *errbuf, size_t errlen);
/* One entry line [line, end) (no newline, no NUL) into e, which the
 * caller zeroed; -EINVAL for a bad line (or when memory ran out).  On failure e
 * may hold what was parsed so far: release it. */
int pifs_meta_entry_parse(struct pifs_meta_entry *e, const char *line,
			  const char *end);
/* Bytes of data in a sparse entry's extents (its blob's size). */
uint64_t pifs_meta_sparse_data(const struct pifs_meta_entry *e);
/* Copy the sparse map of s into d (d's own is dropped); -ENOMEM. */
int pifs_meta_sparse_copy(struct pifs_meta_entry *d,
			  const struct pifs_meta_entry *s);
/* Do a and b (files) have the same sparse map (both none included)? */
int pifs_meta_sparse_equal(const struct pifs_meta_entry *a,
			   const struct pifs_meta_entry *b);
/* Check a map: ascending, not touching, non-empty extents inside size;
 * 0 or -EINVAL. */
int pifs_meta_sparse_check(uint64_t size, const struct pifs_extent *ext,
			   size_t n);

/* The entry of path by binary search, or NULL (m may be NULL). */
const struct pifs_meta_entry *pifs_meta_find(const struct pifs_meta *m,
					     const char *path);

#endif
