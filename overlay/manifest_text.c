/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * manifest_text.c - the manifest as text (format in manifest.h): the
 * escaping of its paths both ways, the strict parser (every field, the
 * order of the paths, the end digest), and lookups in a parsed manifest.
 * Building one from a tree and verifying a tree are in manifest.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "manifest.h"
#include "util.h"

char *pifs_path_escape(const char *path)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	char *out, *o;

	out = malloc(strlen(path) * 4 + 5);
	if (!out)
		return NULL;
	if (!strcmp(path, "-")) {
		strcpy(out, "\\x2d");
		return out;
	}
	for (p = (const unsigned char *)path, o = out; *p; p++) {
		if (*p < 0x21 || *p == '\\' || *p >= 0x7f) {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

char *pifs_path_unescape(const char *esc)
{
	char *out, *o;
	int hi, lo;

	out = malloc(strlen(esc) + 1);
	if (!out)
		return NULL;
	for (o = out; *esc; esc++) {
		if (*esc != '\\') {
			*o++ = *esc;
			continue;
		}
		if (esc[1] != 'x' || (hi = pifs_hexval(esc[2])) < 0 ||
		    (lo = pifs_hexval(esc[3])) < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		esc += 3;
	}
	*o = '\0';
	return out;
}

/* Strict decimal parsers for manifest fields. */
static int parse_ull(const char *s, unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

static int is_hash(const char *s)
{
	size_t i;

	for (i = 0; i < 32; i++)
		if (pifs_hexval(s[i]) < 0 || (s[i] >= 'A' && s[i] <= 'F'))
			return 0;
	return s[32] == '\0';
}

/* Parse one entry line (modified in place). */
static int parse_line(char *line, struct pifs_manifest_entry *e)
{
	char *f[12], *save = NULL, *t, *dot, *colon, *end;
	unsigned long long v, w;
	int n = 0;

	for (t = strtok_r(line, " ", &save); t && n < 12;
	     t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	if (n != 11 || strlen(f[0]) != 1 || !strchr("fdlcbps", f[0][0]))
		return -EINVAL;
	e->type = f[0][0];
	errno = 0;
	v = strtoull(f[1], &end, 8);
	if (errno || *end || *f[1] < '0' || *f[1] > '7' || v > 07777)
		return -EINVAL;
	e->mode = (unsigned)v;
	if (parse_ull(f[2], &v) < 0 || parse_ull(f[3], &w) < 0)
		return -EINVAL;
	e->uid = (unsigned long)v;
	e->gid = (unsigned long)w;
	if (parse_ull(f[4], &e->size) < 0)
		return -EINVAL;
	dot = strchr(f[5], '.');
	if (!dot || strlen(dot + 1) != 9)
		return -EINVAL;
	*dot = '\0';
	errno = 0;
	e->sec = strtoll(f[5], &end, 10);
	if (errno || *end || end == f[5] || parse_ull(dot + 1, &v) < 0)
		return -EINVAL;
	e->nsec = (long)v;
	colon = strchr(f[6], ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (parse_ull(f[6], &v) < 0 || parse_ull(colon + 1, &w) < 0 ||
	    v > UINT32_MAX || w > UINT32_MAX)
		return -EINVAL;
	e->maj = (unsigned)v;
	e->min = (unsigned)w;
	if (!is_hash(f[7]) || !is_hash(f[8]))
		return -EINVAL;
	strcpy(e->content, f[7]);
	strcpy(e->xattr, f[8]);
	if (strcmp(f[9], "-")) {
		e->link = pifs_path_unescape(f[9]);
		if (!e->link)
			return -EINVAL;
	}
	e->path = pifs_path_unescape(f[10]);
	if (!e->path)
		return -EINVAL;
	return 0;
}

/* Parse manifest text into l; -EINVAL when truncated, tampered with or
 * malformed. */
static int parse_manifest(const char *text, struct pifs_manifest *l)
{
	const char *endline;
	char *copy = NULL, *line, *next;
	unsigned long long digest;
	size_t len = strlen(text), hlen = strlen(PIFS_MANIFEST_HEADER);
	struct pifs_manifest_entry *e;
	char want[32];
	int ret = -EINVAL;

	if (len < hlen || strncmp(text, PIFS_MANIFEST_HEADER, hlen))
		return -EINVAL;
	/* The end line is the last line and covers everything before it. */
	if (len < 2 || text[len - 1] != '\n')
		return -EINVAL;
	endline = text + len - 1;
	while (endline > text && endline[-1] != '\n')
		endline--;
	if (strncmp(endline, "# end ", 6))
		return -EINVAL;
	digest = XXH3_64bits(text, (size_t)(endline - text));
	snprintf(want, sizeof(want), "# end %016llx\n", digest);
	if (strcmp(endline, want))
		return -EINVAL;
	copy = strndup(text + hlen, (size_t)(endline - text) - hlen);
	if (!copy)
		return -ENOMEM;
	for (line = copy; *line; line = next) {
		next = strchr(line, '\n');
		if (!next)
			goto out;
		*next++ = '\0';
		if (line[0] == '#')
			continue;
		e = pifs_manifest_add(l);
		if (!e) {
			ret = -ENOMEM;
			goto out;
		}
		if (parse_line(line, e) < 0)
			goto out;
		if (l->n > 1 && strcmp(l->e[l->n - 2].path, e->path) >= 0)
			goto out; /* not sorted, or a duplicate */
	}
	ret = l->n && !strcmp(l->e[0].path, ".") ? 0 : -EINVAL;
out:
	free(copy);
	return ret;
}

int pifs_manifest_parse(const char *text, struct pifs_manifest *m)
{
	int ret;

	memset(m, 0, sizeof(*m));
	ret = parse_manifest(text, m);
	if (ret < 0)
		pifs_manifest_release(m);
	return ret;
}

static int mentry_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct pifs_manifest_entry *)elem)->path);
}

const struct pifs_manifest_entry *
pifs_manifest_find(const struct pifs_manifest *m, const char *path)
{
	return m->n ? bsearch(path, m->e, m->n, sizeof(*m->e), mentry_key_cmp)
		    : NULL;
}

size_t pifs_manifest_lower_bound(const struct pifs_manifest *m,
				 const char *path)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(m->e[mid].path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int pifs_manifest_entry_differs(const struct pifs_manifest_entry *a,
				const struct pifs_manifest_entry *b)
{
	if (!a || !b)
		return a != b;
	if (a->type != b->type || a->mode != b->mode || a->uid != b->uid ||
	    a->gid != b->gid || a->maj != b->maj || a->min != b->min ||
	    strcmp(a->xattr, b->xattr))
		return 1;
	if (a->type == 'd')
		return 0;
	return a->size != b->size || strcmp(a->content, b->content);
}
