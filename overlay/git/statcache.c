/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * statcache.c - the stat cache of a worker's delta, so that a snapshot
 * reads only what changed since the last one: its format, loading,
 * lookups in scan order, building and saving it, and reading it ahead.
 *
 * The stat cache (git/pifs-cache/<worker>, private binary format,
 * replaced atomically after the pack is durable) maps every entry's path
 * to mode, dev, ino, size, mtime, ctime, its xattrs, the XXH3-64 of the
 * content and the blob id: an entry whose stat matches is neither listed
 * for xattrs nor read (any change of content, mode, owner, xattrs or type
 * moves ctime), a file whose content hash matches is not SHA-1 hashed
 * again, and a directory whose cached subtree is looked up entry for
 * entry with every stat matching keeps its cached tree (scan_dir).  An
 * entry whose times are within RACY_NS of the scan is saved with zeroed
 * times, so a change in the same timestamp tick is never missed.  Cached
 * blob ids are used only if the commit the cache was saved for exists
 * (else each object is checked).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "internal.h"
#include "safeio.h"
#include "store.h"

#define CACHE_DIR "pifs-cache"

/*
 * Private binary format (any other content is ignored and rebuilt):
 *
 *   "PIFSSC5\n", XXH3-64 of everything after these 16 bytes (LE),
 *   the commit the cache was saved for (20 bytes, zero: none), the
 *   journal token of pifsd at the moment of the scan (u64, 0: none; see
 *   scan_journal.c), then one record per scanned entry in scan
 *   order: u32 path length, u32 xattr bytes, u32 st_mode, u32 records
 *   below (a directory: how many of the following records are its
 *   subtree), u32 uid, gid, flags (CE_LINKS: st_nlink > 1; CE_SPARSE: a
 *   file stored sparse, sparse.c), u32 its number of data extents, u64
 *   dev, ino, size, i64 mtime, ctime (ns), u64 XXH3 of the content, u64
 *   rdev, 20-byte blob id (a directory: its tree, zero when it has no
 *   file below), the path and a NUL, the xattrs (u32 count, then per
 *   xattr u32 name length, u32 value length, name, value; nothing when
 *   the entry has none), then a sparse file's extents (u64 offset, u64
 *   length each).  All native endian.  A "PIFSSC4" cache (before sparse
 *   files) is the same without sparse records, and is read as well.
 */

#define CACHE_MAGIC "PIFSSC5\n"
#define CACHE_MAGIC4 "PIFSSC4\n"
#define CACHE_HDR   (8 + 8 + 20 + 8)

void pifs_statcache_release(struct cache *c)
{
	free(c->buf);
	free(c->e);
	free(c->sorted);
	memset(c, 0, sizeof(*c));
}

static int centry_pcmp(const void *a, const void *b)
{
	return strcmp((*(struct centry *const *)a)->path,
		      (*(struct centry *const *)b)->path);
}

/* Lookups come in scan order, which is the order of the file: try the
 * next entry first. */
const struct centry *pifs_statcache_find(struct cache *c, const char *path)
{
	struct centry key = {.path = path}, *kp = &key, **found;
	size_t i;

	if (!c->n)
		return NULL;
	if (c->cursor < c->n && !strcmp(c->e[c->cursor].path, path))
		return &c->e[c->cursor++];
	c->jumps++;
	if (!c->sorted) {
		if (c->sort_failed)
			return NULL;
		c->sorted = malloc(c->n * sizeof(*c->sorted));
		if (!c->sorted) {
			c->sort_failed = 1;
			return NULL;
		}
		for (i = 0; i < c->n; i++)
			c->sorted[i] = &c->e[i];
		qsort(c->sorted, c->n, sizeof(*c->sorted), centry_pcmp);
	}
	found = bsearch(&kp, c->sorted, c->n, sizeof(*c->sorted),
			centry_pcmp);
	if (!found)
		return NULL;
	c->cursor = (size_t)(*found - c->e) + 1;
	return *found;
}

/* Does cache record ce match the stat?  Then the entry's xattrs, content
 * and blob id are those cached (any change of content, mode, owner,
 * xattrs or type moves ctime). */
int pifs_statcache_hit(const struct centry *ce, const struct stat *sb)
{
	return ce && ce->ctime && ce->mode == (uint32_t)sb->st_mode &&
	       ce->dev == (uint64_t)sb->st_dev &&
	       ce->ino == (uint64_t)sb->st_ino &&
	       ce->size == (uint64_t)sb->st_size &&
	       ce->mtime == ts_ns(&sb->st_mtim) &&
	       ce->ctime == ts_ns(&sb->st_ctim);
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Check a serialized xattr list; the count, or -1. */
static long xattrs_check(const unsigned char *p, size_t len)
{
	size_t off = 4, i, nl, vl;
	uint32_t cnt;

	if (!len)
		return 0;
	if (len < 4)
		return -1;
	cnt = get_u32(p);
	if (!cnt || cnt > len / 8)
		return -1;
	for (i = 0; i < cnt; i++) {
		if (len - off < 8)
			return -1;
		nl = get_u32(p + off);
		vl = get_u32(p + off + 4);
		off += 8;
		if (!nl || nl > len - off || vl > len - off - nl ||
		    memchr(p + off, '\0', nl))
			return -1;
		off += nl + vl;
	}
	return off == len ? (long)cnt : -1;
}

int pifs_statcache_xattrs(const unsigned char *p, size_t len,
			  struct pifs_xattr **out, size_t *nout)
{
	struct pifs_xattr *x;
	size_t off = 4, i, nl, vl, cnt;

	*out = NULL;
	*nout = 0;
	if (!len)
		return 0;
	cnt = get_u32(p);
	x = calloc(cnt, sizeof(*x));
	if (!x)
		return -ENOMEM;
	for (i = 0; i < cnt; i++) {
		nl = get_u32(p + off);
		vl = get_u32(p + off + 4);
		off += 8;
		x[i].name = malloc(nl + 1);
		x[i].value = malloc(vl ? vl : 1);
		if (!x[i].name || !x[i].value) {
			free(x[i].name);
			free(x[i].value);
			while (i--) {
				free(x[i].name);
				free(x[i].value);
			}
			free(x);
			return -ENOMEM;
		}
		memcpy(x[i].name, p + off, nl);
		x[i].name[nl] = '\0';
		memcpy(x[i].value, p + off + nl, vl);
		x[i].len = vl;
		off += nl + vl;
	}
	*out = x;
	*nout = cnt;
	return 0;
}

static void put_u32(struct pifs_strbuf *sb, uint32_t v)
{
	pifs_strbuf_add(sb, &v, sizeof(v));
}

static void put_u64(struct pifs_strbuf *sb, uint64_t v)
{
	pifs_strbuf_add(sb, &v, sizeof(v));
}

/* Append one record to a cache being built. */
void pifs_statcache_put(struct pifs_strbuf *sb, const struct centry *ce,
			const struct pifs_xattr *x, size_t nx)
{
	size_t xalen = 0, i, pl = strlen(ce->path);

	if (nx) {
		xalen = 4;
		for (i = 0; i < nx; i++)
			xalen += 8 + strlen(x[i].name) + x[i].len;
	}
	if (pl > UINT32_MAX || xalen > UINT32_MAX) {
		sb->err = -EFBIG;
		return;
	}
	put_u32(sb, (uint32_t)pl);
	put_u32(sb, (uint32_t)xalen);
	put_u32(sb, ce->mode);
	put_u32(sb, ce->sub);
	put_u32(sb, ce->uid);
	put_u32(sb, ce->gid);
	put_u32(sb, ce->flags);
	put_u32(sb, ce->flags & CE_SPARSE ? ce->nsparse : 0);
	put_u64(sb, ce->dev);
	put_u64(sb, ce->ino);
	put_u64(sb, ce->size);
	put_u64(sb, (uint64_t)ce->mtime);
	put_u64(sb, (uint64_t)ce->ctime);
	put_u64(sb, ce->xxh);
	put_u64(sb, ce->rdev);
	pifs_strbuf_add(sb, ce->oid.id, 20);
	pifs_strbuf_add(sb, ce->path, pl + 1);
	if (nx)
		put_u32(sb, (uint32_t)nx);
	for (i = 0; i < nx; i++) {
		put_u32(sb, (uint32_t)strlen(x[i].name));
		put_u32(sb, (uint32_t)x[i].len);
		pifs_strbuf_addstr(sb, x[i].name);
		pifs_strbuf_add(sb, x[i].value, x[i].len);
	}
	if (ce->flags & CE_SPARSE && ce->nsparse)
		pifs_strbuf_add(sb, ce->sp, (size_t)ce->nsparse * 16);
}

int pifs_statcache_sparse(const struct centry *ce,
			  struct pifs_meta_entry *e)
{
	const unsigned char *p = ce->sp;
	uint32_t i;

	free(e->ext);
	e->ext = NULL;
	e->next = 0;
	e->sparse = 1;
	e->size = ce->size;
	if (!ce->nsparse)
		return 0;
	e->ext = malloc((size_t)ce->nsparse * sizeof(*e->ext));
	if (!e->ext)
		return -ENOMEM;
	for (i = 0; i < ce->nsparse; i++) {
		e->ext[i].off = get_u64(p + 16 * (size_t)i);
		e->ext[i].len = get_u64(p + 16 * (size_t)i + 8);
	}
	e->next = ce->nsparse;
	return 0;
}

/* Start a cache being built: room for the header. */
void pifs_statcache_begin(struct pifs_strbuf *sb)
{
	static const char zero[CACHE_HDR];

	sb->len = 0;
	pifs_strbuf_add(sb, zero, sizeof(zero));
}

/* A missing, unreadable, old-format or damaged cache is an empty one: it
 * only saves work. */
static void cache_parse(struct cache *c, size_t len);

static void cache_load(struct cache *c, struct pifs_store *st,
		       const char *worker)
{
	char sub[PIFS_NAME_MAX + 64];
	size_t len = 0;

	memset(c, 0, sizeof(*c));
	snprintf(sub, sizeof(sub), PIFS_GIT_DIR "/" CACHE_DIR "/%s", worker);
	if (pifs_read_file(st->fd, sub, (size_t)1 << 31, &c->buf, &len) < 0) {
		c->buf = NULL;
		return;
	}
	cache_parse(c, len);
}

/* Parse the len bytes of c->buf (owned by c). */
static void cache_parse(struct cache *c, size_t len)
{
	const unsigned char *p, *end;
	struct centry *ce;
	size_t cap = 0, pl, xl;
	static const unsigned char zero[20];

	p = (const unsigned char *)c->buf;
	end = p + len;
	if (len < CACHE_HDR ||
	    (memcmp(p, CACHE_MAGIC, 8) && memcmp(p, CACHE_MAGIC4, 8)) ||
	    get_u64(p + 8) != XXH3_64bits(p + 16, len - 16))
		goto bad;
	if (memcmp(p + 16, zero, 20)) {
		memcpy(c->commit.id, p + 16, 20);
		c->has_commit = 1;
	}
	c->token = get_u64(p + 36);
	for (p += CACHE_HDR; p < end;) {
		if ((size_t)(end - p) < CREC_FIXED)
			goto bad;
		pl = get_u32(p);
		xl = get_u32(p + 4);
		if (!pl || pl >= (size_t)(end - p) - CREC_FIXED ||
		    xl > (size_t)(end - p) - CREC_FIXED - pl - 1)
			goto bad;
		if (c->n == cap) {
			cap = cap ? cap * 2 : 1024;
			ce = realloc(c->e, cap * sizeof(*ce));
			if (!ce)
				goto bad;
			c->e = ce;
		}
		ce = &c->e[c->n];
		ce->mode = get_u32(p + 8);
		ce->sub = get_u32(p + CREC_SUB);
		ce->uid = get_u32(p + 16);
		ce->gid = get_u32(p + 20);
		ce->flags = get_u32(p + 24);
		ce->dev = get_u64(p + 32);
		ce->ino = get_u64(p + 40);
		ce->size = get_u64(p + 48);
		ce->mtime = (int64_t)get_u64(p + 56);
		ce->ctime = (int64_t)get_u64(p + 64);
		ce->xxh = get_u64(p + 72);
		ce->rdev = get_u64(p + 80);
		memcpy(ce->oid.id, p + CREC_OID, 20);
		ce->path = (const char *)p + CREC_FIXED;
		if (ce->path[pl] || strlen(ce->path) != pl)
			goto bad;
		ce->xa = p + CREC_FIXED + pl + 1;
		ce->xalen = xl;
		if (xattrs_check(ce->xa, xl) < 0)
			goto bad;
		ce->nsparse = get_u32(p + 28);
		ce->sp = ce->xa + xl;
		if (!(ce->flags & CE_SPARSE))
			ce->nsparse = 0;
		else if (!S_ISREG(ce->mode) ||
			 (size_t)ce->nsparse * 16 >
			     (size_t)(end - p) - CREC_FIXED - pl - 1 - xl)
			goto bad;
		c->n++;
		p += CREC_FIXED + pl + 1 + xl + (size_t)ce->nsparse * 16;
	}
	return;
bad:
	pifs_statcache_release(c);
}

/* Save a cache built with pifs_statcache_begin/pifs_statcache_put, for
 * commit (or NULL).  Not fsynced: after a crash the file is a complete
 * cache (this one or an older one, both exact: an entry is used only when
 * its stat matches) or fails its checksum and is rebuilt.  It names only
 * objects of commits already durable, so even an older cache never names
 * a lost object.  The store lock makes this process the only writer of
 * the temporary. */
int pifs_statcache_save(struct pifs_strbuf *sb, struct pifs_store *st,
			const char *worker, const git_oid *commit,
			uint64_t token)
{
	int ret = pifs_statcache_seal(sb, commit, token);

	if (ret < 0)
		return ret;
	return pifs_git_save_nosync(st, CACHE_DIR, worker, sb->p, sb->len);
}

int pifs_statcache_seal(struct pifs_strbuf *sb, const git_oid *commit,
			uint64_t token)
{
	uint64_t h;

	if (sb->err)
		return sb->err;
	if (sb->len < CACHE_HDR)
		return -EINVAL;
	memcpy(sb->p, CACHE_MAGIC, 8);
	if (commit)
		memcpy(sb->p + 16, commit->id, 20);
	else
		memset(sb->p + 16, 0, 20);
	memcpy(sb->p + 36, &token, 8);
	h = XXH3_64bits(sb->p + 16, sb->len - 16);
	memcpy(sb->p + 8, &h, 8);
	return 0;
}

int pifs_statcache_load_mem(struct cache *c, const struct pifs_strbuf *sb)
{
	memset(c, 0, sizeof(*c));
	c->buf = malloc(sb->len ? sb->len : 1);
	if (!c->buf)
		return -ENOMEM;
	memcpy(c->buf, sb->p, sb->len);
	cache_parse(c, sb->len);
	return c->buf ? 0 : -EINVAL;
}

/* A stat cache read ahead (pifs_git_cache_prefetch) for one worker. */
static struct cache prefetched;
static char prefetched_worker[PIFS_NAME_MAX + 1];

/* The stat cache of worker for a scan: the one read ahead for it, if
 * any, else read now. */
void pifs_statcache_open(struct cache *c, struct pifs_store *st,
			 const char *worker)
{
	if (prefetched_worker[0] && !strcmp(prefetched_worker, worker)) {
		*c = prefetched;
		memset(&prefetched, 0, sizeof(prefetched));
		prefetched_worker[0] = '\0';
	} else {
		cache_load(c, st, worker);
	}
}

void pifs_git_cache_prefetch(struct pifs_store *st, const char *worker)
{
	pifs_statcache_release(&prefetched);
	cache_load(&prefetched, st, worker);
	snprintf(prefetched_worker, sizeof(prefetched_worker), "%s", worker);
}
