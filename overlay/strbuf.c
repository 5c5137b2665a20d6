/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strbuf.c - the growable string of the snapshot code (META text, the
 * stat cache being built, pack indexes): appends that double the buffer
 * and remember the first failure instead of returning it (strbuf.h).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

void pifs_strbuf_add(struct pifs_strbuf *sb, const void *data, size_t len)
{
	char *n;
	size_t cap;

	if (sb->err)
		return;
	if (sb->len + len + 1 > sb->cap) {
		cap = sb->cap ? sb->cap : 4096;
		while (cap < sb->len + len + 1)
			cap *= 2;
		n = realloc(sb->p, cap);
		if (!n) {
			sb->err = -ENOMEM;
			return;
		}
		sb->p = n;
		sb->cap = cap;
	}
	memcpy(sb->p + sb->len, data, len);
	sb->len += len;
	sb->p[sb->len] = '\0';
}

void pifs_strbuf_addstr(struct pifs_strbuf *sb, const char *s)
{
	pifs_strbuf_add(sb, s, strlen(s));
}

void pifs_strbuf_addf(struct pifs_strbuf *sb, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		sb->err = -EINVAL;
		return;
	}
	pifs_strbuf_add(sb, buf, (size_t)n);
}
