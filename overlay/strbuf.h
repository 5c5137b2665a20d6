/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strbuf.h - a growable string (after git's strbuf.h), for text and
 * binary records built in memory: the META of a snapshot, the stat cache,
 * a pack index.
 *
 * Invariants: zero-initialise ({0}); p is NULL until the first append,
 * then holds len bytes followed by a NUL (so p is a C string when no NUL
 * was appended) in cap bytes.  The first failure sets err (-ENOMEM, or
 * -EINVAL when a formatted append does not fit its 255 bytes) and every
 * later append does nothing, so a caller appends freely and checks err
 * once at the end.  Resetting len to 0 keeps the buffer for reuse.  The
 * caller owns p and frees it with free().
 */
#ifndef PIFS_STRBUF_H
#define PIFS_STRBUF_H

#include <stddef.h>

struct pifs_strbuf {
	char *p;
	size_t len, cap;
	int err; /* 0, or the first failure: -ENOMEM, -EINVAL */
};

/* Append len bytes of data. */
void pifs_strbuf_add(struct pifs_strbuf *sb, const void *data, size_t len);
/* Append a C string (without its NUL). */
void pifs_strbuf_addstr(struct pifs_strbuf *sb, const char *s);
/* Append at most 255 formatted bytes; more sets err to -EINVAL. */
void pifs_strbuf_addf(struct pifs_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
