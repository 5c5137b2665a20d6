/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * meta.c - the META codec (format in meta.h): entries in memory, their
 * text, and the strict parse that refuses anything else with a one-line
 * error.  No libgit2: the snapshot code (overlay/git/) and rebase both
 * use it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "layers.h"
#include "manifest.h"
#include "meta.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

static const char hexd[] = "0123456789abcdef";

void pifs_meta_init(struct pifs_meta *m)
{
	memset(m, 0, sizeof(*m));
}

static void entry_release(struct pifs_meta_entry *e)
{
	size_t i;

	free(e->path);
	free(e->link);
	for (i = 0; i < e->nxattrs; i++) {
		free(e->xattrs[i].name);
		free(e->xattrs[i].value);
	}
	free(e->xattrs);
	free(e->ext);
	memset(e, 0, sizeof(*e));
}

void pifs_meta_entry_release(struct pifs_meta_entry *e)
{
	entry_release(e);
}

void pifs_meta_release(struct pifs_meta *m)
{
	size_t i;

	for (i = 0; i < m->count; i++)
		entry_release(&m->entries[i]);
	free(m->entries);
	pifs_meta_init(m);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pifs_meta_entry *)a)->path,
		      ((const struct pifs_meta_entry *)b)->path);
}

void pifs_meta_sort(struct pifs_meta *m)
{
	if (m->count > 1)
		qsort(m->entries, m->count, sizeof(*m->entries), entry_cmp);
}

const struct pifs_meta_entry *pifs_meta_find(const struct pifs_meta *m,
					     const char *path)
{
	size_t lo = 0, hi = m ? m->count : 0, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(path, m->entries[mid].path);
		if (!c)
			return &m->entries[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int pifs_meta_xattr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pifs_xattr *)a)->name,
		      ((const struct pifs_xattr *)b)->name);
}

/* pifs_path_escape plus "," and "=" (separators in the xattr field). */
static char *escape_xname(const char *name)
{
	char *e = pifs_path_escape(name), *out, *o;
	const char *p;

	if (!e)
		return NULL;
	out = malloc(strlen(e) * 4 + 1);
	if (!out) {
		free(e);
		return NULL;
	}
	for (o = out, p = e; *p; p++) {
		if (*p == ',' || *p == '=') {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hexd[(unsigned char)*p >> 4];
			*o++ = hexd[*p & 15];
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	free(e);
	return out;
}

/* Digits of v in base (8 or 10), at least min of them, ending at end. */
static char *fmt_u64(char *end, uint64_t v, unsigned base, int min)
{
	char *p = end;

	do {
		*--p = (char)('0' + v % base);
		v /= base;
	} while (v);
	while (end - p < min)
		*--p = '0';
	return p;
}

/* s as pifs_path_escape writes it. */
static void sb_path(struct pifs_strbuf *sb, const char *s)
{
	const unsigned char *p;
	char *e;

	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x21 || *p == '\\' || *p >= 0x7f)
			break;
	if (!*p && strcmp(s, "-")) {
		pifs_strbuf_add(sb, s, (size_t)((const char *)p - s));
		return;
	}
	e = pifs_path_escape(s);
	if (!e) {
		sb->err = -ENOMEM;
		return;
	}
	pifs_strbuf_addstr(sb, e);
	free(e);
}

static void entry_format(struct pifs_strbuf *sb,
			 const struct pifs_meta_entry *e)
{
	char num[160], *end = num + sizeof(num), *p = end, *xn;
	size_t i, j;

	/* built backwards: "T MODE UID GID SEC.NSEC MAJ:MIN " */
	*--p = ' ';
	p = fmt_u64(p, e->rdev_minor, 10, 1);
	*--p = ':';
	p = fmt_u64(p, e->rdev_major, 10, 1);
	*--p = ' ';
	p = fmt_u64(p, e->mtime_nsec, 10, 9);
	*--p = '.';
	if (e->mtime_sec < 0) {
		p = fmt_u64(p, (uint64_t)0 - (uint64_t)e->mtime_sec, 10, 1);
		*--p = '-';
	} else {
		p = fmt_u64(p, (uint64_t)e->mtime_sec, 10, 1);
	}
	*--p = ' ';
	p = fmt_u64(p, e->gid, 10, 1);
	*--p = ' ';
	p = fmt_u64(p, e->uid, 10, 1);
	*--p = ' ';
	p = fmt_u64(p, e->mode & 07777, 8, 1);
	*--p = ' ';
	*--p = e->type;
	pifs_strbuf_add(sb, p, (size_t)(end - p));
	if (e->link)
		sb_path(sb, e->link);
	else
		pifs_strbuf_addstr(sb, "-");
	pifs_strbuf_addstr(sb, " ");
	if (!e->nxattrs)
		pifs_strbuf_addstr(sb, "-");
	for (i = 0; i < e->nxattrs; i++) {
		xn = escape_xname(e->xattrs[i].name);
		if (!xn) {
			sb->err = -ENOMEM;
			goto out;
		}
		if (i)
			pifs_strbuf_addstr(sb, ",");
		pifs_strbuf_addstr(sb, xn);
		pifs_strbuf_addstr(sb, "=");
		free(xn);
		for (j = 0; j < e->xattrs[i].len; j++) {
			char h[2] = {hexd[e->xattrs[i].value[j] >> 4],
				     hexd[e->xattrs[i].value[j] & 15]};
			pifs_strbuf_add(sb, h, 2);
		}
	}
	pifs_strbuf_addstr(sb, " ");
	if (e->sparse) {
		pifs_strbuf_addf(sb, "@%" PRIu64 ":", e->size);
		if (!e->next)
			pifs_strbuf_addstr(sb, "-");
		for (i = 0; i < e->next; i++)
			pifs_strbuf_addf(sb, "%s%" PRIu64 "+%" PRIu64,
					 i ? "," : "", e->ext[i].off,
					 e->ext[i].len);
		pifs_strbuf_addstr(sb, " ");
	}
	sb_path(sb, e->path);
	pifs_strbuf_addstr(sb, "\n");
out:
	return;
}

int pifs_meta_format(const struct pifs_meta *m, char **out, size_t *len_out)
{
	struct pifs_strbuf sb = {0};
	const struct pifs_meta_entry *e;
	size_t i;
	int v2 = 0;

	*out = NULL;
	for (i = 0; i < m->count; i++) {
		e = &m->entries[i];
		if (!e->sparse)
			continue;
		if (e->type != 'f' ||
		    pifs_meta_sparse_check(e->size, e->ext, e->next) < 0)
			return -EINVAL;
		v2 = 1;
	}
	pifs_strbuf_addstr(&sb, v2 ? PIFS_META_HEADER_V2 "\n"
				   : PIFS_META_HEADER "\n");
	pifs_strbuf_addf(&sb, "golden %s\n", m->golden);
	for (i = 0; i < m->count && !sb.err; i++) {
		if (!strchr("fdlcbps", m->entries[i].type) ||
		    !m->entries[i].type) {
			free(sb.p);
			return -EINVAL;
		}
		entry_format(&sb, &m->entries[i]);
	}
	if (sb.err) {
		free(sb.p);
		return sb.err;
	}
	*out = sb.p;
	if (len_out)
		*len_out = sb.len;
	return 0;
}

static int parse_u64(const char *s, const char *end, int base, uint64_t *out)
{
	uint64_t v = 0;
	int d;

	if (s == end)
		return -EINVAL;
	for (; s < end; s++) {
		d = pifs_hexval(*s);
		if (d < 0 || d >= base || v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return -EINVAL;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	*out = v;
	return 0;
}

static int parse_u32(const char *s, const char *end, int base, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, end, base, &v) < 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static char *unescape_n(const char *s, const char *end)
{
	char *tmp = strndup(s, (size_t)(end - s)), *r;

	if (!tmp)
		return NULL;
	r = pifs_path_unescape(tmp);
	free(tmp);
	return r;
}

static int parse_xattrs(struct pifs_meta_entry *e, const char *s,
			const char *end)
{
	const char *p, *comma, *eq;
	struct pifs_xattr *x;
	size_t n = 1, i, vlen;
	int hi, lo;

	if (end - s == 1 && *s == '-')
		return 0;
	for (p = s; p < end; p++)
		if (*p == ',')
			n++;
	e->xattrs = calloc(n, sizeof(*e->xattrs));
	if (!e->xattrs)
		return -ENOMEM;
	for (p = s; p < end; p = comma + 1) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (!comma)
			comma = end;
		eq = memchr(p, '=', (size_t)(comma - p));
		if (!eq || eq == p || (comma - eq - 1) % 2)
			return -EINVAL;
		x = &e->xattrs[e->nxattrs];
		x->name = unescape_n(p, eq);
		if (!x->name)
			return -EINVAL;
		vlen = (size_t)(comma - eq - 1) / 2;
		x->value = malloc(vlen ? vlen : 1);
		if (!x->value) {
			free(x->name);
			return -ENOMEM;
		}
		x->len = vlen;
		e->nxattrs++;
		for (i = 0; i < vlen; i++) {
			hi = pifs_hexval(eq[1 + 2 * i]);
			lo = pifs_hexval(eq[2 + 2 * i]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			x->value[i] = (unsigned char)(hi << 4 | lo);
		}
		if (e->nxattrs > 1 &&
		    strcmp(e->xattrs[e->nxattrs - 2].name, x->name) >= 0)
			return -EINVAL;
		if (comma == end)
			break;
	}
	return 0;
}

int pifs_meta_sparse_check(uint64_t size, const struct pifs_extent *ext,
			   size_t n)
{
	uint64_t end = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!ext[i].len || ext[i].off > size ||
		    ext[i].len > size - ext[i].off || (i && ext[i].off <= end))
			return -EINVAL;
		end = ext[i].off + ext[i].len;
	}
	return 0;
}

uint64_t pifs_meta_sparse_data(const struct pifs_meta_entry *e)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < e->next; i++)
		n += e->ext[i].len;
	return n;
}

int pifs_meta_sparse_copy(struct pifs_meta_entry *d,
			  const struct pifs_meta_entry *s)
{
	struct pifs_extent *x = NULL;

	if (s->sparse && s->next) {
		x = malloc(s->next * sizeof(*x));
		if (!x)
			return -ENOMEM;
		memcpy(x, s->ext, s->next * sizeof(*x));
	}
	if (d->ext != s->ext)
		free(d->ext);
	d->ext = x;
	d->next = s->sparse ? s->next : 0;
	d->sparse = s->sparse;
	return 0;
}

int pifs_meta_sparse_equal(const struct pifs_meta_entry *a,
			   const struct pifs_meta_entry *b)
{
	if (a->sparse != b->sparse)
		return 0;
	if (!a->sparse)
		return 1;
	return a->size == b->size && a->next == b->next &&
	       (!a->next ||
		!memcmp(a->ext, b->ext, a->next * sizeof(*a->ext)));
}

/* "@<size>:<off>+<len>,..." or "@<size>:-" [s, end) into e. */
static int parse_sparse(struct pifs_meta_entry *e, const char *s,
			const char *end)
{
	const char *colon, *p, *comma, *plus;
	size_t n = 1;

	if (end - s < 4 || *s != '@')
		return -EINVAL;
	colon = memchr(s, ':', (size_t)(end - s));
	if (!colon || parse_u64(s + 1, colon, 10, &e->size) < 0)
		return -EINVAL;
	e->sparse = 1;
	p = colon + 1;
	if (end - p == 1 && *p == '-')
		return 0;
	for (comma = p; comma < end; comma++)
		if (*comma == ',')
			n++;
	e->ext = calloc(n, sizeof(*e->ext));
	if (!e->ext)
		return -ENOMEM;
	for (; p < end; p = comma + 1) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (!comma)
			comma = end;
		plus = memchr(p, '+', (size_t)(comma - p));
		if (!plus ||
		    parse_u64(p, plus, 10, &e->ext[e->next].off) < 0 ||
		    parse_u64(plus + 1, comma, 10, &e->ext[e->next].len) < 0)
			return -EINVAL;
		e->next++;
		if (comma == end)
			break;
	}
	if (e->next != n)
		return -EINVAL; /* an empty extent ("a,,b" or a final ",") */
	return pifs_meta_sparse_check(e->size, e->ext, e->next);
}

int pifs_meta_entry_parse(struct pifs_meta_entry *e, const char *line,
			  const char *end)
{
	const char *f[10], *fe[10], *p = line, *dot, *colon;
	uint64_t v;
	int i, nf = 9;

	/* fields are copied as C strings: a NUL would end one early (and a
	 * NUL type byte is in "fdlcbps" for strchr) */
	if (memchr(line, '\0', (size_t)(end - line)))
		return -EINVAL;
	/* a sparse file's line has ten fields (meta.h) */
	for (i = 0, p = line; (p = memchr(p, ' ', (size_t)(end - p))); p++)
		i++;
	if (i == 9)
		nf = 10;
	p = line;
	for (i = 0; i < nf; i++) {
		f[i] = p;
		if (i < nf - 1) {
			p = memchr(p, ' ', (size_t)(end - p));
			if (!p)
				return -EINVAL;
			fe[i] = p++;
		} else {
			fe[i] = end;
			if (memchr(f[i], ' ', (size_t)(end - f[i])))
				return -EINVAL;
		}
		if (fe[i] == f[i])
			return -EINVAL;
	}
	if (fe[0] - f[0] != 1 || !strchr("fdlcbps", *f[0]))
		return -EINVAL;
	e->type = *f[0];
	if (parse_u64(f[1], fe[1], 8, &v) < 0 || v > 07777)
		return -EINVAL;
	e->mode = (unsigned)v;
	if (parse_u32(f[2], fe[2], 10, &e->uid) < 0 ||
	    parse_u32(f[3], fe[3], 10, &e->gid) < 0)
		return -EINVAL;
	dot = memchr(f[4], '.', (size_t)(fe[4] - f[4]));
	if (!dot || fe[4] - dot != 10)
		return -EINVAL;
	if (*f[4] == '-') {
		if (parse_u64(f[4] + 1, dot, 10, &v) < 0 || v > INT64_MAX)
			return -EINVAL;
		e->mtime_sec = -(int64_t)v;
	} else {
		if (parse_u64(f[4], dot, 10, &v) < 0 || v > INT64_MAX)
			return -EINVAL;
		e->mtime_sec = (int64_t)v;
	}
	if (parse_u32(dot + 1, fe[4], 10, &e->mtime_nsec) < 0 ||
	    e->mtime_nsec > 999999999)
		return -EINVAL;
	colon = memchr(f[5], ':', (size_t)(fe[5] - f[5]));
	if (!colon || parse_u32(f[5], colon, 10, &e->rdev_major) < 0 ||
	    parse_u32(colon + 1, fe[5], 10, &e->rdev_minor) < 0)
		return -EINVAL;
	if (!(fe[6] - f[6] == 1 && *f[6] == '-')) {
		e->link = unescape_n(f[6], fe[6]);
		if (!e->link)
			return -EINVAL;
	}
	if (parse_xattrs(e, f[7], fe[7]) < 0)
		return -EINVAL;
	if (nf == 10) {
		if (e->type != 'f' || parse_sparse(e, f[8], fe[8]) < 0)
			return -EINVAL;
		e->path = unescape_n(f[9], fe[9]);
		return e->path && *e->path ? 0 : -EINVAL;
	}
	e->path = unescape_n(f[8], fe[8]);
	if (!e->path || !*e->path)
		return -EINVAL;
	e->size = UINT64_MAX;
	return 0;
}

int pifs_meta_parse(struct pifs_meta *m, const char *text, size_t len,
		    char *errbuf, size_t errlen)
{
	const char *p = text, *end = text + len, *nl;
	size_t lineno = 0, cap = 0;
	struct pifs_meta_entry *n;
	int ret, v2 = 0;

	pifs_errclear(errbuf, errlen);
	pifs_meta_init(m);
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			pifs_seterr(errbuf, errlen, "line %zu: no final newline",
			       lineno);
			ret = -EINVAL;
			goto fail;
		}
		if (lineno == 1) {
			v2 = (size_t)(nl - p) == strlen(PIFS_META_HEADER_V2) &&
			     !memcmp(p, PIFS_META_HEADER_V2, (size_t)(nl - p));
			if (!v2 &&
			    ((size_t)(nl - p) != strlen(PIFS_META_HEADER) ||
			     memcmp(p, PIFS_META_HEADER, (size_t)(nl - p)))) {
				pifs_seterr(errbuf, errlen,
				       "line 1: not a pifs META header");
				ret = -EINVAL;
				goto fail;
			}
		} else if (lineno == 2) {
			if (nl - p < 8 || nl - p > 23 || memcmp(p, "golden ", 7) ||
			    memchr(p, '\0', (size_t)(nl - p))) {
				pifs_seterr(errbuf, errlen,
				       "line 2: bad golden line");
				ret = -EINVAL;
				goto fail;
			}
			memcpy(m->golden, p + 7, (size_t)(nl - p - 7));
			m->golden[nl - p - 7] = '\0';
		} else {
			if (m->count == cap) {
				cap = cap ? cap * 2 : 256;
				n = realloc(m->entries, cap * sizeof(*n));
				if (!n) {
					ret = -ENOMEM;
					goto fail;
				}
				m->entries = n;
			}
			memset(&m->entries[m->count], 0, sizeof(*n));
			ret = pifs_meta_entry_parse(&m->entries[m->count++], p,
						    nl);
			if (ret < 0) {
				pifs_seterr(errbuf, errlen, "line %zu: bad entry",
				       lineno);
				goto fail;
			}
			if (m->entries[m->count - 1].sparse && !v2) {
				pifs_seterr(errbuf, errlen,
					    "line %zu: a sparse file in a v1 "
					    "META", lineno);
				ret = -EINVAL;
				goto fail;
			}
			if (m->count > 1 &&
			    strcmp(m->entries[m->count - 2].path,
				   m->entries[m->count - 1].path) >= 0) {
				pifs_seterr(errbuf, errlen,
				       "line %zu: entries not sorted", lineno);
				ret = -EINVAL;
				goto fail;
			}
		}
		p = nl + 1;
	}
	if (lineno < 2) {
		pifs_seterr(errbuf, errlen, "truncated META");
		ret = -EINVAL;
		goto fail;
	}
	return 0;
fail:
	pifs_meta_release(m);
	return ret;
}

const struct pifs_xattr *pifs_meta_xattr(const struct pifs_meta_entry *e,
				        const char *name)
{
	size_t i;

	for (i = 0; i < e->nxattrs; i++)
		if (!strcmp(e->xattrs[i].name, name))
			return &e->xattrs[i];
	return NULL;
}

static mode_t type_mode(char type)
{
	switch (type) {
	case 'f': return S_IFREG;
	case 'd': return S_IFDIR;
	case 'l': return S_IFLNK;
	case 'c': return S_IFCHR;
	case 'b': return S_IFBLK;
	case 'p': return S_IFIFO;
	case 's': return S_IFSOCK;
	}
	return 0;
}

int pifs_meta_is_whiteout(const struct pifs_meta_entry *e)
{
	return pifs_layers_is_whiteout(type_mode(e->type),
				       makedev(e->rdev_major, e->rdev_minor));
}

int pifs_meta_is_opaque(const struct pifs_meta_entry *e)
{
	const struct pifs_xattr *x = pifs_meta_xattr(e, PIFS_XATTR_OPAQUE);

	return e->type == 'd' && x && pifs_layers_is_opaque(x->value, x->len);
}

int pifs_meta_redirect(const struct pifs_meta_entry *e, char **out)
{
	const struct pifs_xattr *x = pifs_meta_xattr(e, PIFS_XATTR_REDIRECT);

	*out = NULL;
	if (e->type != 'd' || !x)
		return 0;
	return pifs_layers_redirect(x->value, x->len, out);
}

int pifs_meta_layers_get(void *ctx, const char *path,
			 struct pifs_layers_entry *le)
{
	const struct pifs_meta_entry *e = pifs_meta_find(ctx, path);

	memset(le, 0, sizeof(*le));
	if (!e)
		return 0;
	le->mode = type_mode(e->type);
	le->rdev = makedev(e->rdev_major, e->rdev_minor);
	le->opaque = pifs_meta_is_opaque(e);
	return pifs_meta_redirect(e, &le->redirect) < 0 ? -ENOMEM : 1;
}
