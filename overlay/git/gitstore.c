/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gitstore.c - versioned deltas on libgit2 (format in gitstore.h): the
 * META codec, the delta scan with its stat cache, snapshot (objects staged
 * in a mempack backend, written as one fsynced pack, then the branch moved
 * with a compare-and-swap), revisions, log, the view-level diff, restoring
 * a snapshot as a new delta in work/, and fsck.
 *
 * The stat cache (git/pifs-cache/<worker>, private binary format,
 * replaced atomically after the pack is durable) maps every entry's path
 * to mode, dev, ino, size, mtime, ctime, its xattrs, the XXH3-64 of the
 * content and the blob id: an entry whose stat matches is neither listed
 * for xattrs nor read (any change of content, mode, owner, xattrs or type
 * moves ctime), a file whose content hash matches is not SHA-1 hashed
 * again, and a directory whose cached subtree is looked up entry for
 * entry with every stat matching keeps its cached tree (scan_dir).  An entry whose times are within RACY_NS of the scan is saved
 * with zeroed times, so a change in the same timestamp tick is never
 * missed.  Cached blob ids are used only if the commit the cache was saved
 * for exists (else each object is checked).  A snapshot counts its changed
 * files looking only at the META lines and blobs that differ from the
 * parent's (fast_count), falling back to the full view-level diff.
 *
 * libgit2's git_mempack_dump packs everything reachable from the staged
 * commits, old objects included; so the objects this module stages are
 * recorded as they are written and packed by write_pack, which writes
 * only those new objects (no deltas) and their index itself, keeping the
 * pack, and the cost, proportional to the change.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <xxhash.h>
#include <zlib.h>

#include "gitstore.h"
#include "manifest.h"
#include "meta.h"
#include "safeio.h"
#include "sha1.h"
#include "strbuf.h"
#include "util.h"

#define CACHE_HEADER  "# pifs stat cache v1"
#define CACHE_DIR     "pifs-cache"
#define METACOPY_DIR  "pifs-meta"
#define REF_PREFIX    "refs/heads/workers/"
#define NAME_ESC      "~pifs~"
#define RACY_NS	      ((int64_t)50 * 1000000)
#define FILE_MAX      ((size_t)1 << 40)
#define META_MAX      ((size_t)1 << 31)
#define HOLE_BLOCK    4096

/* Map a libgit2 failure to -errno (errno is looked at for OS errors). */
static int git_errno(int code, int saved_errno)
{
	const git_error *e = git_error_last();

	if (code == GIT_ENOTFOUND)
		return -ENOENT;
	if (code == GIT_EEXISTS)
		return -EEXIST;
	if (code == GIT_EMODIFIED || code == GIT_ELOCKED)
		return -EBUSY;
	if (e && e->klass == GIT_ERROR_NOMEMORY)
		return -ENOMEM;
	if (e && e->klass == GIT_ERROR_OS && saved_errno)
		return -saved_errno;
	return -EIO;
}

static int gerr(int code, char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Log a libgit2 failure as "<what>: <libgit2 message>" in errbuf. */
static int gerr(int code, char *errbuf, size_t errlen, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	int saved = errno;
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pifs_seterr(errbuf, errlen, "%s: %s", what,
	       e && e->message ? e->message : "unknown libgit2 error");
	return git_errno(code, saved);
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static const char hexd[] = "0123456789abcdef";

/* ---- tree names ---- */

/* Names libgit2 refuses in a tree (".git" and its NTFS spellings) and our
 * own escape prefix are stored hex-encoded. */
static int name_needs_escape(const char *n)
{
	const char *p;

	if (!strncmp(n, NAME_ESC, strlen(NAME_ESC)))
		return 1;
	if (!strncasecmp(n, "git~", 4))
		return 1;
	if (strncasecmp(n, ".git", 4))
		return 0;
	for (p = n + 4; *p; p++)
		if (*p != ' ' && *p != '.' && *p != ':')
			return strchr(n, ':') != NULL;
	return 1;
}

static char *tree_name(const char *n)
{
	size_t len = strlen(n), i;
	char *out;

	if (!name_needs_escape(n))
		return strdup(n);
	out = malloc(strlen(NAME_ESC) + 2 * len + 1);
	if (!out)
		return NULL;
	strcpy(out, NAME_ESC);
	for (i = 0; i < len; i++) {
		out[strlen(NAME_ESC) + 2 * i] = hexd[(unsigned char)n[i] >> 4];
		out[strlen(NAME_ESC) + 2 * i + 1] = hexd[n[i] & 15];
	}
	out[strlen(NAME_ESC) + 2 * len] = '\0';
	return out;
}

static char *tree_name_decode(const char *n)
{
	size_t len, i, pl = strlen(NAME_ESC);
	int hi, lo;
	char *out;

	if (strncmp(n, NAME_ESC, pl))
		return strdup(n);
	len = strlen(n + pl);
	if (len % 2)
		return NULL;
	out = malloc(len / 2 + 1);
	if (!out)
		return NULL;
	for (i = 0; i < len / 2; i++) {
		hi = pifs_hexval(n[pl + 2 * i]);
		lo = pifs_hexval(n[pl + 2 * i + 1]);
		if (hi < 0 || lo < 0 || (!hi && !lo)) {
			free(out);
			return NULL;
		}
		out[i] = (char)(hi << 4 | lo);
	}
	out[len / 2] = '\0';
	return out;
}

/* ---- stat cache ----
 *
 * Private binary format (any other content is ignored and rebuilt):
 *
 *   "PIFSSC4\n", XXH3-64 of everything after these 16 bytes (LE),
 *   the commit the cache was saved for (20 bytes, zero: none), the
 *   journal token of pifsd at the moment of the scan (u64, 0: none; see
 *   "the journal" below), then one record per scanned entry in scan
 *   order: u32 path length, u32 xattr bytes, u32 st_mode, u32 records
 *   below (a directory: how many of the following records are its
 *   subtree), u32 uid, gid, flags (CE_LINKS: st_nlink > 1), u32 0, u64
 *   dev, ino, size, i64 mtime, ctime (ns), u64 XXH3 of the content, u64
 *   rdev, 20-byte blob id (a directory: its tree, zero when it has no
 *   file below), the path and a NUL, the xattrs (u32 count, then per
 *   xattr u32 name length, u32 value length, name, value; nothing when
 *   the entry has none).  All native endian.
 */

#define CACHE_MAGIC "PIFSSC4\n"
#define CACHE_HDR   (8 + 8 + 20 + 8)
#define CREC_SUB    12 /* offset of the subtree count in a record */
#define CREC_OID    (8 * 4 + 8 * 7)
#define CREC_FIXED  (CREC_OID + 20)
#define CE_LINKS    1u

struct centry {
	const char *path; /* into the cache buffer, NUL-terminated */
	uint32_t mode;
	uint32_t sub; /* directory: records of its subtree */
	uint32_t uid, gid, flags;
	uint64_t dev, ino, size, rdev;
	int64_t mtime, ctime; /* ns; 0 = racy, never matches */
	uint64_t xxh;
	git_oid oid;
	const unsigned char *xa; /* serialized xattrs */
	size_t xalen;
};

struct cache {
	char *buf;
	struct centry *e; /* in file (scan) order */
	size_t n, cursor;
	size_t jumps; /* lookups not at the cursor (misses included) */
	struct centry **sorted; /* built on the first out-of-order lookup */
	int sort_failed;
	git_oid commit;
	int has_commit;
	uint64_t token; /* pifsd's journal token it was saved with, or 0 */
	int trusted; /* every blob id is known to be in the repository */
};

static void cache_release(struct cache *c)
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
static const struct centry *cache_find(struct cache *c, const char *path)
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

static int xattrs_decode(const unsigned char *p, size_t len,
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
static void cache_put(struct pifs_strbuf *sb, const struct centry *ce,
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
	put_u32(sb, 0);
	put_u64(sb, ce->dev);
	put_u64(sb, ce->ino);
	put_u64(sb, ce->size);
	put_u64(sb, (uint64_t)ce->mtime);
	put_u64(sb, (uint64_t)ce->ctime);
	put_u64(sb, ce->xxh);
	put_u64(sb, ce->rdev);
	pifs_strbuf_add(sb, ce->oid.id, 20);
	pifs_strbuf_add(sb, ce->path, pl + 1);
	if (!nx)
		return;
	put_u32(sb, (uint32_t)nx);
	for (i = 0; i < nx; i++) {
		put_u32(sb, (uint32_t)strlen(x[i].name));
		put_u32(sb, (uint32_t)x[i].len);
		pifs_strbuf_addstr(sb, x[i].name);
		pifs_strbuf_add(sb, x[i].value, x[i].len);
	}
}

/* Start a cache being built: room for the header. */
static void cache_begin(struct pifs_strbuf *sb)
{
	static const char zero[CACHE_HDR];

	sb->len = 0;
	pifs_strbuf_add(sb, zero, sizeof(zero));
}

/* A missing, unreadable, old-format or damaged cache is an empty one: it
 * only saves work. */
static void cache_load(struct cache *c, struct pifs_store *st,
		       const char *worker)
{
	char sub[PIFS_NAME_MAX + 64];
	const unsigned char *p, *end;
	struct centry *ce;
	size_t len = 0, cap = 0, pl, xl;
	static const unsigned char zero[20];

	memset(c, 0, sizeof(*c));
	snprintf(sub, sizeof(sub), PIFS_GIT_DIR "/" CACHE_DIR "/%s", worker);
	if (pifs_read_file(st->fd, sub, (size_t)1 << 31, &c->buf, &len) < 0) {
		c->buf = NULL;
		return;
	}
	p = (const unsigned char *)c->buf;
	end = p + len;
	if (len < CACHE_HDR || memcmp(p, CACHE_MAGIC, 8) ||
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
		c->n++;
		p += CREC_FIXED + pl + 1 + xl;
	}
	return;
bad:
	cache_release(c);
}

/* Save a cache built with cache_begin/cache_put, for commit (or NULL).
 * Not fsynced: after a crash the file is a complete cache (this one or an
 * older one, both exact: an entry is used only when its stat matches) or
 * fails its checksum and is rebuilt.  It names only objects of commits
 * already durable, so even an older cache never names a lost object.
 * The store lock makes this process the only writer of the temporary. */
static int save_nosync(struct pifs_store *st, const char *dir,
		       const char *worker, const void *buf, size_t len);

static int cache_save(struct pifs_strbuf *sb, struct pifs_store *st,
		      const char *worker, const git_oid *commit, uint64_t token)
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
	return save_nosync(st, CACHE_DIR, worker, sb->p, sb->len);
}

/* Replace git/DIR/worker with buf: a temporary beside it, renamed; no
 * fsync (see the callers for why that is enough). */
static int save_nosync(struct pifs_store *st, const char *dir,
		       const char *worker, const void *buf, size_t len)
{
	char sub[64], tmp[PIFS_NAME_MAX + 16];
	int dfd, fd, ret;

	snprintf(sub, sizeof(sub), PIFS_GIT_DIR "/%s", dir);
	if (mkdirat(st->fd, sub, 0700) < 0 && errno != EEXIST)
		return -errno;
	dfd = pifs_openat_beneath(st->fd, sub, O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return dfd;
	snprintf(tmp, sizeof(tmp), ".%s.tmp", worker);
	fd = pifs_openat_beneath(dfd, tmp,
				 O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
				 0600);
	if (fd < 0) {
		close(dfd);
		return fd;
	}
	ret = pifs_write_all(fd, buf, len);
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && renameat(dfd, tmp, dfd, worker) < 0)
		ret = -errno;
	if (ret < 0)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return ret;
}

/* syncfs of the file system holding the (possibly O_PATH) dirfd. */
static int sync_fs(int dirfd)
{
	int fd, ret = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syncfs(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* ---- repository ---- */

struct pifs_git {
	struct pifs_store *st;
	git_repository *repo;
	git_odb *odb;
	git_odb_backend *mempack;
	/* objects staged in the mempack, in write order */
	git_oid *staged;
	size_t nstaged, capstaged;
	/* a prepared snapshot */
	int pending;
	char worker[PIFS_NAME_MAX + 1];
	char *message;
	struct pifs_meta meta;
	struct pifs_strbuf newcache;
	char *metatext; /* the META of the prepared snapshot */
	size_t metalen;
	git_oid tree, parent;
	int has_parent;
	/* pifsd's journal for the next snapshot (pifs_git_set_journal) */
	struct pifs_journal jn;
	int has_jn;
	int used_jn;	/* the last scan followed it */
	size_t nstat;	/* names the last scan stated */
};

static int git_inited;

/* libgit2's start-up (Debian's parses the whole system CA bundle: ~7 ms
 * here) on a thread of its own, while the caller does what needs no git:
 * pifs_git_init_async, then pifs_git_open joins it. */
static pthread_t init_thread;
static int init_started, init_result;

static void *init_main(void *arg)
{
	(void)arg;
	init_result = git_libgit2_init();
	return NULL;
}

void pifs_git_init_wait(void)
{
	if (!init_started)
		return;
	pthread_join(init_thread, NULL);
	init_started = 0;
	if (init_result >= 0)
		git_inited = 1; /* that init counts; it is never shut down */
}

void pifs_git_init_async(void)
{
	if (!git_inited && !init_started &&
	    pthread_create(&init_thread, NULL, init_main, NULL) == 0)
		init_started = 1;
}

/* A stat cache read ahead (pifs_git_cache_prefetch) for one worker. */
static struct cache prefetched;
static char prefetched_worker[PIFS_NAME_MAX + 1];

static int staged_note(struct pifs_git *g, const git_oid *oid)
{
	git_oid *n;

	if (!g->mempack->exists(g->mempack, oid))
		return 0; /* was already in the repository */
	if (g->nstaged == g->capstaged) {
		g->capstaged = g->capstaged ? g->capstaged * 2 : 256;
		n = realloc(g->staged, g->capstaged * sizeof(*n));
		if (!n)
			return -ENOMEM;
		g->staged = n;
	}
	g->staged[g->nstaged++] = *oid;
	return 0;
}

static void staged_drop(struct pifs_git *g)
{
	if (g->mempack)
		git_mempack_reset(g->mempack);
	g->nstaged = 0;
}

/* Create STORE/git: initialised in work/ and renamed into place, so a
 * crash never leaves a half-made repository at STORE/git. */
static int repo_create(struct pifs_store *st, char *errbuf, size_t errlen)
{
	git_repository_init_options o = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	char tmpname[64], *path = NULL;
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	int ret;

	snprintf(tmpname, sizeof(tmpname), "git-init-%ld", (long)getpid());
	pifs_remove_tree(st->work_fd, tmpname);
	path = pifs_strdupf("%s/work/%s", st->path, tmpname);
	if (!path)
		return -ENOMEM;
	o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_NO_REINIT |
		  GIT_REPOSITORY_INIT_MKDIR;
	o.mode = 0700;
	if ((ret = git_repository_init_ext(&repo, path, &o)) < 0 ||
	    (ret = git_repository_config(&cfg, repo)) < 0 ||
	    (ret = git_config_set_bool(cfg, "core.protectNTFS", 0)) < 0 ||
	    (ret = git_config_set_bool(cfg, "core.protectHFS", 0)) < 0 ||
	    (ret = git_config_set_bool(cfg, "gc.auto", 0)) < 0) {
		ret = gerr(ret, errbuf, errlen,
			   "cannot create repository '%s/" PIFS_GIT_DIR "'",
			   st->path);
		goto out;
	}
	if (fchmodat(st->work_fd, tmpname, 0700, 0) < 0)
		ret = -errno;
	else
		ret = sync_fs(st->work_fd);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot create '%s': %s", path,
		       strerror(-ret));
		goto out;
	}
	if (renameat2(st->work_fd, tmpname, st->fd, PIFS_GIT_DIR,
		      RENAME_NOREPLACE) < 0) {
		ret = errno == EEXIST ? 0 : -errno;
		if (ret < 0)
			pifs_seterr(errbuf, errlen,
			       "cannot create repository '%s/" PIFS_GIT_DIR
			       "': %s",
			       st->path, strerror(-ret));
		goto out;
	}
	ret = pifs_fsync_dir(st->fd);
out:
	git_config_free(cfg);
	git_repository_free(repo);
	pifs_remove_tree(st->work_fd, tmpname);
	free(path);
	return ret;
}

int pifs_git_open(struct pifs_git **out, struct pifs_store *st, int create,
		  char *errbuf, size_t errlen)
{
	struct pifs_git *g;
	struct stat sb;
	char *path = NULL;
	int ret;

	*out = NULL;
	if (init_started) {
		pifs_git_init_wait();
		if (init_result < 0)
			return -ENOMEM;
		git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
	}
	if (!git_inited) {
		if (git_libgit2_init() < 0)
			return -ENOMEM;
		git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
		/* we check existence ourselves before referencing objects */
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
		git_inited = 1;
	}
	if (fstatat(st->fd, PIFS_GIT_DIR, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		ret = -errno;
		if (ret != -ENOENT || !create) {
			pifs_seterr(errbuf, errlen,
			       "no snapshot repository '%s/" PIFS_GIT_DIR "'",
			       st->path);
			return ret;
		}
		ret = repo_create(st, errbuf, errlen);
		if (ret < 0)
			return ret;
	}
	g = calloc(1, sizeof(*g));
	path = pifs_strdupf("%s/" PIFS_GIT_DIR, st->path);
	if (!g || !path) {
		free(g);
		free(path);
		return -ENOMEM;
	}
	g->st = st;
	if ((ret = git_repository_open_bare(&g->repo, path)) < 0 ||
	    (ret = git_repository_odb(&g->odb, g->repo)) < 0 ||
	    (ret = git_mempack_new(&g->mempack)) < 0) {
		ret = gerr(ret, errbuf, errlen, "cannot open repository '%s'",
			   path);
		goto fail;
	}
	if ((ret = git_odb_add_backend(g->odb, g->mempack, 999)) < 0) {
		g->mempack->free(g->mempack);
		g->mempack = NULL;
		ret = gerr(ret, errbuf, errlen, "cannot open repository '%s'",
			   path);
		goto fail;
	}
	free(path);
	*out = g;
	return 0;
fail:
	free(path);
	pifs_git_free(g);
	return ret;
}

void pifs_git_free(struct pifs_git *g)
{
	if (!g)
		return;
	pifs_git_snapshot_abort(g);
	free(g->jn.buf);
	free(g->staged);
	git_odb_free(g->odb); /* frees the mempack backend too */
	git_repository_free(g->repo);
	free(g);
}

static void ref_name(char *buf, size_t len, const char *worker)
{
	snprintf(buf, len, REF_PREFIX "%s", worker);
}

/* ---- reading a delta ---- */

/* Stating every name is most of an incremental scan (a path walk and a
 * getattr in the kernel per entry).  A helper thread shares the stats of
 * each large directory with the scanning thread: both claim chunks of the
 * sorted names until none is left.  Each name's result (the stat or the
 * errno) lands in its own slot, so the scan sees what one fstatat per
 * name would give and reports the first failure in name order; the
 * helper touches nothing else. */
#define STAT_BATCH 64 /* smaller directories are stated inline */
#define STAT_CHUNK 16

struct statjob {
	int dfd;
	char *const *names;
	struct stat *sb;
	int *err; /* per name: 0 or an errno */
	size_t n;
	size_t next; /* the next name to claim (atomic) */
};

struct statpool {
	pthread_t thr;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct statjob *job; /* mu: posted, not yet taken */
	int busy;	     /* mu: the helper is working on a job */
	int quit;	     /* mu */
};

static void stat_run(struct statjob *j)
{
	size_t i, end;

	for (;;) {
		i = __atomic_fetch_add(&j->next, STAT_CHUNK, __ATOMIC_RELAXED);
		if (i >= j->n)
			return;
		end = i + STAT_CHUNK < j->n ? i + STAT_CHUNK : j->n;
		for (; i < end; i++)
			j->err[i] = fstatat(j->dfd, j->names[i], &j->sb[i],
					    AT_SYMLINK_NOFOLLOW) < 0
					? errno
					: 0;
	}
}

static void *stat_helper(void *arg)
{
	struct statpool *p = arg;
	struct statjob *j;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->job && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->quit)
			break;
		j = p->job;
		p->job = NULL;
		p->busy = 1;
		pthread_mutex_unlock(&p->mu);
		stat_run(j);
		pthread_mutex_lock(&p->mu);
		p->busy = 0;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Start the helper when there is a second CPU; without one (or when it
 * cannot start) every stat is made inline. */
static void statpool_start(struct statpool *p)
{
	memset(p, 0, sizeof(*p));
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	if (pthread_mutex_init(&p->mu, NULL))
		return;
	if (pthread_cond_init(&p->cv, NULL)) {
		pthread_mutex_destroy(&p->mu);
		return;
	}
	if (pthread_create(&p->thr, NULL, stat_helper, p)) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		return;
	}
	p->running = 1;
}

static void statpool_stop(struct statpool *p)
{
	if (!p->running)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thr, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	p->running = 0;
}

/* fstatat(dfd, names[i], AT_SYMLINK_NOFOLLOW) for every i < n into sb[i]
 * and err[i]; returns once all are done, the helper included. */
static void stat_names(struct statpool *p, int dfd, char *const *names,
		       size_t n, struct stat *sb, int *err)
{
	struct statjob j = {.dfd = dfd, .names = names, .sb = sb,
			    .err = err, .n = n};
	int posted = p && p->running && n >= STAT_BATCH;

	if (posted) {
		pthread_mutex_lock(&p->mu);
		p->job = &j;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	stat_run(&j);
	if (!posted)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->job == &j) /* never taken: withdraw it */
		p->job = NULL;
	while (p->busy)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

struct scan {
	struct pifs_git *g; /* NULL: no cache, hash only */
	struct pifs_store *st;
	int write;	    /* stage blobs and trees */
	struct pifs_meta *m;
	size_t cap;
	/* per entry, parallel to m->entries while scanning */
	struct sx {
		uint64_t dev, ino;
		int links;
	} *x;
	struct cache old;
	struct pifs_strbuf *newc;
	size_t nput; /* records put in newc */
	struct statpool *pool; /* NULL: stat inline */
	struct pifs_pathmap *j; /* the journal (scan_dir_j) */
	size_t nstat;	       /* names stated */
	int64_t start;
	char *errbuf;
	size_t errlen;
};

static int scan_fail(struct scan *s, const char *what, const char *path,
		     int err)
{
	if (s->errbuf && s->errlen && !s->errbuf[0])
		pifs_seterr(s->errbuf, s->errlen, "cannot %s '%s': %s", what, path,
		       strerror(-err));
	return err;
}

/* All xattrs of dirfd/name (no follow), sorted; skip_base leaves out
 * trusted.pifs.base, skip_private all names hidden from clients. */
static int read_xattrs(int dirfd, const char *name, int skip_base,
		       int skip_private, struct pifs_xattr **out, size_t *nout)
{
	char *names = NULL, *p;
	struct pifs_xattr *x = NULL;
	ssize_t len, vlen;
	size_t n = 0, cnt = 0;
	int ret = 0;

	*out = NULL;
	*nout = 0;
	for (;;) {
		len = pifs_llistxattr(dirfd, name, NULL, 0);
		if (len <= 0) {
			return len == -ENOTSUP ? 0 : (int)len;
		}
		free(names);
		names = malloc((size_t)len + 1);
		if (!names)
			return -ENOMEM;
		len = pifs_llistxattr(dirfd, name, names, (size_t)len);
		if (len == -ERANGE)
			continue;
		if (len < 0) {
			free(names);
			return (int)len;
		}
		break;
	}
	for (p = names; p < names + len; p += strlen(p) + 1)
		cnt++;
	x = calloc(cnt ? cnt : 1, sizeof(*x));
	if (!x) {
		free(names);
		return -ENOMEM;
	}
	for (p = names; p < names + len; p += strlen(p) + 1) {
		if (!*p ||
		    (skip_base && (!strcmp(p, PIFS_XATTR_BASE) ||
				   !strcmp(p, PIFS_XATTR_GOLDEN))) ||
		    (skip_private && pifs_xattr_private(p)))
			continue;
		for (;;) {
			vlen = pifs_lgetxattr(dirfd, name, p, NULL, 0);
			if (vlen < 0)
				break;
			x[n].value = malloc((size_t)vlen + 1);
			if (!x[n].value) {
				ret = -ENOMEM;
				goto fail;
			}
			vlen = pifs_lgetxattr(dirfd, name, p, x[n].value,
					      (size_t)vlen);
			if (vlen == -ERANGE) {
				free(x[n].value);
				x[n].value = NULL;
				continue;
			}
			break;
		}
		if (vlen == -ENODATA) {
			free(x[n].value);
			x[n].value = NULL;
			continue;
		}
		if (vlen < 0) {
			ret = (int)vlen;
			goto fail;
		}
		x[n].len = (size_t)vlen;
		x[n].name = strdup(p);
		if (!x[n].name) {
			ret = -ENOMEM;
			goto fail;
		}
		n++;
	}
	free(names);
	qsort(x, n, sizeof(*x), pifs_meta_xattr_cmp);
	*out = x;
	*nout = n;
	return 0;
fail:
	for (cnt = 0; cnt <= n && cnt < n + 1; cnt++) {
		free(x[cnt].name);
		free(x[cnt].value);
	}
	free(x);
	free(names);
	return ret;
}

static char type_char(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return 'f';
	case S_IFDIR:
		return 'd';
	case S_IFLNK:
		return 'l';
	case S_IFCHR:
		return 'c';
	case S_IFBLK:
		return 'b';
	case S_IFIFO:
		return 'p';
	case S_IFSOCK:
		return 's';
	}
	return 0;
}

static void entry_from_stat(struct pifs_meta_entry *e, const struct stat *sb)
{
	e->type = type_char(sb->st_mode);
	e->mode = sb->st_mode & 07777;
	e->uid = sb->st_uid;
	e->gid = sb->st_gid;
	e->mtime_sec = sb->st_mtim.tv_sec;
	e->mtime_nsec = (uint32_t)sb->st_mtim.tv_nsec;
	e->rdev_major = major(sb->st_rdev);
	e->rdev_minor = minor(sb->st_rdev);
	e->size = S_ISREG(sb->st_mode) || S_ISLNK(sb->st_mode)
		      ? (uint64_t)sb->st_size
		      : 0;
}

/* Add an entry for path (malloc'd; owned by the entry from here on, freed
 * on failure). */
static int scan_add_take(struct scan *s, char *path, const struct stat *sb,
			 struct pifs_meta_entry **out)
{
	struct pifs_meta_entry *n;
	struct sx *nx;
	size_t i;

	if (!path)
		return -ENOMEM;
	if (s->m->count == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		n = realloc(s->m->entries, s->cap * sizeof(*n));
		if (!n)
			goto nomem;
		s->m->entries = n;
		nx = realloc(s->x, s->cap * sizeof(*nx));
		if (!nx)
			goto nomem;
		s->x = nx;
	}
	i = s->m->count;
	memset(&s->m->entries[i], 0, sizeof(*n));
	s->m->entries[i].path = path;
	s->m->count++;
	entry_from_stat(&s->m->entries[i], sb);
	s->x[i].dev = sb->st_dev;
	s->x[i].ino = sb->st_ino;
	s->x[i].links = !S_ISDIR(sb->st_mode) && sb->st_nlink > 1;
	*out = &s->m->entries[i];
	return 0;
nomem:
	free(path);
	return -ENOMEM;
}

static int scan_add(struct scan *s, const char *path, const struct stat *sb,
		    struct pifs_meta_entry **out)
{
	return scan_add_take(s, strdup(path), sb, out);
}

/* rel/name, or name for the root ("."), malloc'd. */
static char *child_path(const char *rel, const char *name)
{
	size_t rl = strcmp(rel, ".") ? strlen(rel) : 0, nl = strlen(name);
	char *p = malloc(rl + 1 + nl + 1);

	if (!p)
		return NULL;
	if (rl) {
		memcpy(p, rel, rl);
		p[rl++] = '/';
	}
	memcpy(p + rl, name, nl + 1);
	return p;
}

/* Read all of fd (at most FILE_MAX) into a malloc'd buffer. */
static int read_all(int fd, uint64_t hint, char **out, size_t *len_out)
{
	size_t cap = hint + 1, len = 0;
	char *buf, *n;
	ssize_t r;

	if (hint >= FILE_MAX)
		return -EFBIG;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap >= FILE_MAX) {
				free(buf);
				return -EFBIG;
			}
			n = realloc(buf, cap * 2);
			if (!n) {
				free(buf);
				return -ENOMEM;
			}
			buf = n;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			return (int)r;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	*out = buf;
	*len_out = len;
	return 0;
}

/* Stage (write) or hash a blob. */
static int blob_oid(struct scan *s, const void *buf, size_t len, git_oid *oid)
{
	int ret;

	if (!s->write || !s->g)
		return git_odb_hash(oid, buf, len, GIT_OBJECT_BLOB) < 0 ? -EIO
									 : 0;
	ret = git_odb_write(oid, s->g->odb, buf, len, GIT_OBJECT_BLOB);
	if (ret < 0)
		return gerr(ret, s->errbuf, s->errlen, "cannot store a blob");
	return staged_note(s->g, oid);
}

static int cached_usable(struct scan *s, const struct centry *ce)
{
	if (!s->write || s->old.trusted)
		return 1;
	return git_odb_exists(s->g->odb, &ce->oid);
}

/* Does cache record ce match the stat?  Then the entry's xattrs, content
 * and blob id are those cached (any change of content, mode, owner,
 * xattrs or type moves ctime). */
static int ce_hit(const struct centry *ce, const struct stat *sb)
{
	return ce && ce->ctime && ce->mode == (uint32_t)sb->st_mode &&
	       ce->dev == (uint64_t)sb->st_dev &&
	       ce->ino == (uint64_t)sb->st_ino &&
	       ce->size == (uint64_t)sb->st_size &&
	       ce->mtime == ts_ns(&sb->st_mtim) &&
	       ce->ctime == ts_ns(&sb->st_ctim);
}

/* The cache entry of path (or NULL) and whether it matches the stat. */
static const struct centry *cache_match(struct scan *s, const char *path,
					const struct stat *sb, int *hit)
{
	const struct centry *ce = s->g ? cache_find(&s->old, path) : NULL;

	*hit = ce_hit(ce, sb);
	return ce;
}

static int file_oid(struct scan *s, int dirfd, const char *name,
		    const char *path, const struct stat *sb,
		    struct pifs_meta_entry *e, const struct centry *ce,
		    int hit, struct centry *nc)
{
	struct stat fsb;
	char *buf = NULL;
	size_t len;
	git_oid oid;
	int fd, ret;

	if (hit && cached_usable(s, ce)) {
		oid = ce->oid;
		nc->xxh = ce->xxh;
		goto found;
	}
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name,
			    O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return scan_fail(s, "read", path, -errno);
	ret = pifs_fstat(fd, &fsb);
	if (ret == 0 && (fsb.st_ino != sb->st_ino || !S_ISREG(fsb.st_mode)))
		ret = -ESTALE;
	if (ret == 0)
		ret = read_all(fd, (uint64_t)sb->st_size, &buf, &len);
	close(fd);
	if (ret < 0)
		return scan_fail(s, "read", path, ret);
	nc->xxh = XXH3_64bits(buf, len);
	nc->size = len;
	e->size = len;
	if (ce && S_ISREG(ce->mode) && ce->xxh == nc->xxh && ce->size == len &&
	    cached_usable(s, ce)) {
		oid = ce->oid;
	} else {
		ret = blob_oid(s, buf, len, &oid);
		if (ret < 0) {
			free(buf);
			return s->errbuf && s->errbuf[0]
				   ? ret
				   : scan_fail(s, "store", path, ret);
		}
	}
	free(buf);
found:
	memcpy(e->oid, oid.id, 20);
	e->has_oid = 1;
	nc->oid = oid;
	return 0;
}

static int link_oid(struct scan *s, int dirfd, const char *name,
		    const char *path, const struct stat *sb,
		    struct pifs_meta_entry *e, const struct centry *ce,
		    int hit, struct centry *nc)
{
	size_t cap = (size_t)sb->st_size + 2;
	git_oid oid;
	char *t;
	ssize_t n;
	int ret;

	if (hit && cached_usable(s, ce)) {
		oid = ce->oid;
		n = (ssize_t)sb->st_size;
		goto found;
	}
	t = malloc(cap);
	if (!t)
		return -ENOMEM;
	n = readlinkat(dirfd, name, t, cap);
	if (n < 0 || (size_t)n >= cap) {
		ret = n < 0 ? -errno : -ESTALE;
		free(t);
		return scan_fail(s, "read", path, ret);
	}
	ret = blob_oid(s, t, (size_t)n, &oid);
	free(t);
	if (ret < 0)
		return ret;
found:
	memcpy(e->oid, oid.id, 20);
	e->has_oid = 1;
	e->size = (uint64_t)n;
	nc->oid = oid;
	nc->size = (uint64_t)n;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Record an entry in the cache being built. */
static int scan_cache_put(struct scan *s, struct centry *nc,
			  const struct pifs_meta_entry *e)
{
	if (!s->newc)
		return 0;
	if (nc->mtime >= s->start - RACY_NS || nc->ctime >= s->start - RACY_NS)
		nc->mtime = nc->ctime = 0;
	cache_put(s->newc, nc, e->xattrs, e->nxattrs);
	s->nput++;
	return s->newc->err;
}

/* Fill in a directory's record, put at offset off before its subtree:
 * the number of records below it and its tree (zero: none). */
static void scan_cache_dir(struct scan *s, size_t off, size_t nput0,
			   const git_oid *tree, int nonempty)
{
	uint32_t sub = (uint32_t)(s->nput - nput0);
	static const git_oid zero;

	if (!s->newc || s->newc->err || off + CREC_FIXED > s->newc->len)
		return;
	memcpy(s->newc->p + off + CREC_SUB, &sub, 4);
	memcpy(s->newc->p + off + CREC_OID, (nonempty ? tree : &zero)->id, 20);
}

struct tent {
	char *name; /* the tree name: owned when it differs from the entry's */
	int owned;
	git_oid oid;
	git_filemode_t mode;
};

static git_filemode_t tree_mode(mode_t m)
{
	return S_ISDIR(m)    ? GIT_FILEMODE_TREE
	       : S_ISLNK(m)  ? GIT_FILEMODE_LINK
	       : (m & 0111) ? GIT_FILEMODE_BLOB_EXECUTABLE
			     : GIT_FILEMODE_BLOB;
}

/* Append name's tree entry to te[*nt]. */
static int tent_add(struct tent *te, size_t *nt, char *name,
		    const git_oid *oid, mode_t mode)
{
	char *tn = name_needs_escape(name) ? tree_name(name) : name;

	if (!tn)
		return -ENOMEM;
	te[*nt].name = tn;
	te[*nt].owned = tn != name;
	te[*nt].oid = *oid;
	te[*nt].mode = tree_mode(mode);
	(*nt)++;
	return 0;
}

/* Write the tree of te[0..nt) (names in order) into *tree. */
static int tent_write(struct scan *s, const struct tent *te, size_t nt,
		      const char *rel, git_oid *tree)
{
	git_treebuilder *bld = NULL;
	size_t i;
	int ret;

	if ((ret = git_treebuilder_new(&bld, s->g->repo, NULL)) < 0)
		return gerr(ret, s->errbuf, s->errlen, "cannot build a tree");
	for (i = 0; i < nt; i++) {
		ret = git_treebuilder_insert(NULL, bld, te[i].name, &te[i].oid,
					     te[i].mode);
		if (ret < 0) {
			ret = gerr(ret, s->errbuf, s->errlen,
				   "cannot add '%s' to the tree of '%s'",
				   te[i].name, rel);
			goto out;
		}
	}
	ret = git_treebuilder_write(tree, bld);
	if (ret < 0) {
		ret = gerr(ret, s->errbuf, s->errlen,
			   "cannot write the tree of '%s'", rel);
		goto out;
	}
	ret = staged_note(s->g, tree);
out:
	git_treebuilder_free(bld);
	return ret;
}

static void tent_free(struct tent *te, size_t nt)
{
	for (size_t i = 0; i < nt; i++)
		if (te[i].owned)
			free(te[i].name);
	free(te);
}

/* The names in directory fd dfd (path rel), sorted, malloc'd. */
static int read_names(struct scan *s, int dfd, const char *rel,
		      char ***out, size_t *nout)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int fd, ret = 0;

	*out = NULL;
	*nout = 0;
	fd = dup(dfd);
	if (fd < 0)
		return scan_fail(s, "read", rel, -errno);
	dir = fdopendir(fd);
	if (!dir) {
		ret = -errno;
		close(fd);
		return scan_fail(s, "read", rel, ret);
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno)
				ret = scan_fail(s, "read", rel, -errno);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 32;
			nn = realloc(names, cap * sizeof(*nn));
			if (!nn) {
				ret = -ENOMEM;
				break;
			}
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			ret = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(dir);
	if (ret < 0) {
		while (n)
			free(names[--n]);
		free(names);
		return ret;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	*out = names;
	*nout = n;
	return 0;
}

static void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int scan_dir(struct scan *s, int dfd, const char *rel, git_oid *tree,
		    int *nonempty, const struct centry *dce);
static int scan_dir_j(struct scan *s, int dfd, const char *rel,
		      git_oid *tree, int *nonempty);

/*
 * One child of directory dfd (path rel) that was stated: name, its path
 * (taken over by its entry, freed on failure), its stat sb, its cache
 * record ce (or NULL) and whether that matches (hit).  A subdirectory is
 * scanned in journal mode with jmode.  *oid and *sub_nonempty give its
 * part of the tree; *same says that a subdirectory came out with its
 * cached tree.
 */
static int scan_entry(struct scan *s, int dfd, const char *name, char *path,
		      const struct stat *sb, const struct centry *ce, int hit,
		      int jmode, git_oid *oid, int *sub_nonempty, int *same)
{
	struct pifs_meta_entry *e;
	struct centry nc;
	size_t coff, nput0;
	int ret;

	*sub_nonempty = 0;
	*same = 0;
	ret = scan_add_take(s, path, sb, &e);
	if (ret < 0)
		return ret;
	path = e->path; /* stays put when entries move */
	if (!type_char(sb->st_mode))
		return scan_fail(s, "read", path, -EINVAL);
	memset(&nc, 0, sizeof(nc));
	nc.path = path;
	nc.mode = (uint32_t)sb->st_mode;
	nc.uid = (uint32_t)sb->st_uid;
	nc.gid = (uint32_t)sb->st_gid;
	nc.flags = !S_ISDIR(sb->st_mode) && sb->st_nlink > 1 ? CE_LINKS : 0;
	nc.dev = (uint64_t)sb->st_dev;
	nc.ino = (uint64_t)sb->st_ino;
	nc.size = (uint64_t)sb->st_size;
	nc.rdev = (uint64_t)sb->st_rdev;
	nc.mtime = ts_ns(&sb->st_mtim);
	nc.ctime = ts_ns(&sb->st_ctim);
	if (hit)
		ret = xattrs_decode(ce->xa, ce->xalen, &e->xattrs,
				    &e->nxattrs);
	else
		ret = read_xattrs(dfd, name, 0, 0, &e->xattrs, &e->nxattrs);
	if (ret < 0)
		return scan_fail(s, "read xattrs of", path, ret);
	if (S_ISDIR(sb->st_mode)) {
		int cfd;

		/* in scan order: before the children */
		coff = s->newc ? s->newc->len : 0;
		ret = scan_cache_put(s, &nc, e);
		if (ret < 0)
			return ret;
		nput0 = s->nput;
		cfd = openat(dfd, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			return scan_fail(s, "open", path, -errno);
		ret = jmode ? scan_dir_j(s, cfd, path, oid, sub_nonempty)
			    : scan_dir(s, cfd, path, oid, sub_nonempty,
				       hit ? ce : NULL);
		close(cfd);
		if (ret == 0 && s->write) {
			scan_cache_dir(s, coff, nput0, oid, *sub_nonempty);
			*same = hit && (*sub_nonempty
						? git_oid_equal(oid, &ce->oid)
						: git_oid_is_zero(&ce->oid));
		}
		return ret;
	}
	if (S_ISREG(sb->st_mode)) {
		ret = file_oid(s, dfd, name, path, sb, e, ce, hit, &nc);
		memcpy(oid->id, e->oid, 20);
		*sub_nonempty = 1;
	} else if (S_ISLNK(sb->st_mode)) {
		ret = link_oid(s, dfd, name, path, sb, e, ce, hit, &nc);
		memcpy(oid->id, e->oid, 20);
		*sub_nonempty = 1;
	}
	if (ret == 0)
		ret = scan_cache_put(s, &nc, e);
	return ret;
}

/* Scan the children of the directory fd dfd (path rel); with s->write,
 * *tree gets the tree of its files and non-empty subdirectories and
 * *nonempty whether it has any.
 *
 * dce is the directory's cache record (NULL: none, or the root).  Its
 * tree is reused, not rebuilt and hashed, when the cache is trusted and
 * this scan looked up exactly the records of its cached subtree, in
 * order (so the same paths), every child's stat matched (so the same
 * mode and content: the argument of the whole cache) and every
 * subdirectory came out with its cached tree. */
static int scan_dir(struct scan *s, int dfd, const char *rel, git_oid *tree,
		    int *nonempty, const struct centry *dce)
{
	char **names = NULL;
	size_t n = 0, i, nt = 0, jumps0 = s->old.jumps, start = 0;
	struct tent *te = NULL;
	int reuse, same;
	const struct centry *ce;
	struct stat *sbs = NULL;
	int *errs = NULL;
	git_oid oid;
	int ret, sub_nonempty, hit;

	*nonempty = 0;
	ret = read_names(s, dfd, rel, &names, &n);
	if (ret < 0)
		return ret;
	sbs = malloc((n ? n : 1) * sizeof(*sbs));
	errs = malloc((n ? n : 1) * sizeof(*errs));
	if (!sbs || !errs) {
		ret = -ENOMEM;
		goto out;
	}
	stat_names(s->pool, dfd, names, n, sbs, errs);
	s->nstat += n;
	te = s->write ? calloc(n ? n : 1, sizeof(*te)) : NULL;
	if (s->write && !te) {
		ret = -ENOMEM;
		goto out;
	}
	reuse = s->write && dce && s->old.trusted;
	if (reuse) {
		start = (size_t)(dce - s->old.e) + 1;
		reuse = s->old.cursor == start;
	}
	for (i = 0; i < n; i++) {
		char *path = child_path(rel, names[i]);

		if (!path) {
			ret = -ENOMEM;
			goto out;
		}
		if (errs[i]) {
			ret = scan_fail(s, "stat", path, -errs[i]);
			free(path);
			goto out;
		}
		ce = cache_match(s, path, &sbs[i], &hit);
		if (!hit)
			reuse = 0;
		ret = scan_entry(s, dfd, names[i], path, &sbs[i], ce, hit, 0,
				 &oid, &sub_nonempty, &same);
		if (ret < 0)
			goto out;
		if (S_ISDIR(sbs[i].st_mode) && !same)
			reuse = 0;
		if (!s->write || !sub_nonempty)
			continue;
		ret = tent_add(te, &nt, names[i], &oid, sbs[i].st_mode);
		if (ret < 0)
			goto out;
		*nonempty = 1;
	}
	if (reuse && s->old.jumps == jumps0 &&
	    s->old.cursor == start + dce->sub &&
	    *nonempty == !git_oid_is_zero(&dce->oid)) {
		/* the cached tree is in the repository: the cache is
		 * trusted */
		*tree = dce->oid;
		goto out;
	}
	if (s->write)
		ret = tent_write(s, te, nt, rel, tree);
out:
	tent_free(te, nt);
	free(sbs);
	free(errs);
	names_free(names, n);
	return ret;
}

/* ---- the journal ----
 *
 * pifsd records the delta path of everything a worker changes through
 * the mount (ctl "journal", handed over under the snapshot's pause):
 * 'd' a path whose entry was created, changed or removed, 'f' a
 * directory that arrived by a rename (every path below it is new).
 * When the journal covers all changes since the stat cache was saved
 * (the cache carries pifsd's token of that moment), the scan stats only
 * those paths, the directories above them and any entry the cache cannot
 * vouch for (racy times, hard links); every other entry, and whole
 * untouched subtrees with their trees, come from the cache as they were.
 * Without a valid journal (no daemon, a daemon restart, a reset, an
 * overflow) the scan stats everything.
 */
#define JN_DIRTY 1u
#define JN_FULL	 2u
#define JN_ANC	 4u

/* A journal path: relative, no empty, "." or ".." component. */
static int jpath_ok(const char *p, size_t len)
{
	const char *c = p, *end = p + len, *slash;

	if (len == 1 && *p == '.')
		return 1;
	while (c < end) {
		slash = memchr(c, '/', (size_t)(end - c));
		if (!slash)
			slash = end;
		if (slash == c || (slash - c == 1 && c[0] == '.') ||
		    (slash - c == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c = slash + 1;
		if (slash + 1 == end)
			return 0; /* trailing slash */
	}
	return len > 0;
}

/* Parse the records and mark every ancestor; -EINVAL on a bad record. */
static int jset_build(struct pifs_pathmap *j, const struct pifs_journal *jn)
{
	const char *p = jn->buf, *end = jn->buf + jn->len, *z;
	size_t len, k;
	unsigned f;
	int ret;

	while (p < end) {
		z = memchr(p, '\0', (size_t)(end - p));
		if (!z || z - p < 2)
			return -EINVAL;
		f = p[0] == 'd' ? JN_DIRTY : p[0] == 'f' ? JN_FULL : 0;
		len = (size_t)(z - p - 1);
		if (!f || !jpath_ok(p + 1, len))
			return -EINVAL;
		if ((ret = pifs_pathmap_add(j, p + 1, len, f)) < 0)
			return ret;
		for (k = len; k-- > 0;)
			if (p[1 + k] == '/' &&
			    (ret = pifs_pathmap_add(j, p + 1, k, JN_ANC)) < 0)
				return ret;
		if ((ret = pifs_pathmap_add(j, ".", 1, JN_ANC)) < 0)
			return ret;
		p = z + 1;
	}
	return 0;
}

/* Can the cached subtree at record k (the record and, for a directory,
 * its subtree) be taken as it is?  Not when a time was racy or a file has
 * other names (a change through one of them reaches all). */
static int cached_subtree_ok(const struct cache *c, size_t k)
{
	size_t end, i;

	if (k >= c->n || c->e[k].sub > c->n - k - 1)
		return 0;
	end = k + 1 + (S_ISDIR(c->e[k].mode) ? c->e[k].sub : 0);
	for (i = k; i < end; i++)
		if (!c->e[i].ctime || (c->e[i].flags & CE_LINKS) ||
		    !type_char(c->e[i].mode) ||
		    (!S_ISDIR(c->e[i].mode) && c->e[i].sub))
			return 0;
	return 1;
}

/* Take record k and its subtree from the cache, as the last scan saw
 * them: entries, xattrs, blob ids and the directory's tree. */
static int take_cached(struct scan *s, size_t k)
{
	size_t end = k + 1 + (S_ISDIR(s->old.e[k].mode) ? s->old.e[k].sub : 0);
	struct pifs_meta_entry *e;
	struct centry nc;
	struct stat sb;
	int ret;

	for (; k < end; k++) {
		const struct centry *ce = &s->old.e[k];

		memset(&sb, 0, sizeof(sb));
		sb.st_mode = ce->mode;
		sb.st_uid = ce->uid;
		sb.st_gid = ce->gid;
		sb.st_dev = ce->dev;
		sb.st_ino = ce->ino;
		sb.st_nlink = 1;
		sb.st_size = (off_t)ce->size;
		sb.st_rdev = (dev_t)ce->rdev;
		sb.st_mtim.tv_sec = (time_t)(ce->mtime / 1000000000);
		sb.st_mtim.tv_nsec = (long)(ce->mtime % 1000000000);
		if (sb.st_mtim.tv_nsec < 0) {
			sb.st_mtim.tv_sec--;
			sb.st_mtim.tv_nsec += 1000000000;
		}
		ret = scan_add(s, ce->path, &sb, &e);
		if (ret < 0)
			return ret;
		ret = xattrs_decode(ce->xa, ce->xalen, &e->xattrs,
				    &e->nxattrs);
		if (ret < 0)
			return ret;
		if (S_ISREG(ce->mode) || S_ISLNK(ce->mode)) {
			memcpy(e->oid, ce->oid.id, 20);
			e->has_oid = 1;
		}
		nc = *ce;
		nc.path = e->path;
		if ((ret = scan_cache_put(s, &nc, e)) < 0)
			return ret;
	}
	s->old.cursor = end;
	return 0;
}

/* scan_dir guided by the journal: rel is the root, a journaled directory
 * or an ancestor of a journaled path (so stated by the caller). */
static int scan_dir_j(struct scan *s, int dfd, const char *rel,
		      git_oid *tree, int *nonempty)
{
	char **names = NULL;
	size_t n = 0, i, nt = 0;
	struct tent *te = NULL;
	const struct centry *ce;
	struct stat sb;
	git_oid oid;
	unsigned f;
	int ret, sub_nonempty, hit, same;

	*nonempty = 0;
	ret = read_names(s, dfd, rel, &names, &n);
	if (ret < 0)
		return ret;
	te = calloc(n ? n : 1, sizeof(*te));
	if (!te) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		char *path = child_path(rel, names[i]);

		if (!path) {
			ret = -ENOMEM;
			goto out;
		}
		f = pifs_pathmap_get(s->j, path);
		ce = cache_find(&s->old, path);
		if (!f && ce && cached_subtree_ok(&s->old,
						  (size_t)(ce - s->old.e))) {
			ret = take_cached(s, (size_t)(ce - s->old.e));
			free(path);
			if (ret < 0)
				goto out;
			if (S_ISDIR(ce->mode)) {
				oid = ce->oid;
				sub_nonempty = !git_oid_is_zero(&ce->oid);
			} else {
				oid = ce->oid;
				sub_nonempty = S_ISREG(ce->mode) ||
					       S_ISLNK(ce->mode);
			}
			if (sub_nonempty) {
				ret = tent_add(te, &nt, names[i], &oid,
					       ce->mode);
				if (ret < 0)
					goto out;
				*nonempty = 1;
			}
			continue;
		}
		s->nstat++;
		if (fstatat(dfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = scan_fail(s, "stat", path, -errno);
			free(path);
			goto out;
		}
		hit = ce_hit(ce, &sb);
		ret = scan_entry(s, dfd, names[i], path, &sb, ce, hit,
				 !(f & JN_FULL), &oid, &sub_nonempty, &same);
		if (ret < 0)
			goto out;
		if (!sub_nonempty)
			continue;
		ret = tent_add(te, &nt, names[i], &oid, sb.st_mode);
		if (ret < 0)
			goto out;
		*nonempty = 1;
	}
	ret = tent_write(s, te, nt, rel, tree);
out:
	tent_free(te, nt);
	names_free(names, n);
	return ret;
}

struct lkey {
	uint64_t dev, ino;
	const char *path;
};

static int lkey_cmp(const void *a, const void *b)
{
	const struct lkey *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return strcmp(x->path, y->path);
}

static struct pifs_meta_entry *meta_find_mut(struct pifs_meta *m,
					     const char *path)
{
	return (struct pifs_meta_entry *)pifs_meta_find(m, path);
}

/* Sort the entries and fill in hard-link leaders: the first path (sorted)
 * of each (dev, ino) group. */
static int scan_finish(struct scan *s)
{
	struct pifs_meta *m = s->m;
	struct pifs_meta_entry *e;
	struct lkey *k;
	size_t i, n = 0, first;
	int ret = 0;

	k = malloc((m->count ? m->count : 1) * sizeof(*k));
	if (!k)
		return -ENOMEM;
	for (i = 0; i < m->count; i++)
		if (s->x[i].links)
			k[n++] = (struct lkey){s->x[i].dev, s->x[i].ino,
					       m->entries[i].path};
	/* scan order is sorted unless a name has a byte below '/' */
	for (i = 1; i < m->count; i++)
		if (strcmp(m->entries[i - 1].path, m->entries[i].path) >= 0)
			break;
	if (i < m->count)
		pifs_meta_sort(m);
	if (n > 1)
		qsort(k, n, sizeof(*k), lkey_cmp);
	for (i = 0, first = 0; i < n; i++) {
		if (i && (k[i].dev != k[first].dev || k[i].ino != k[first].ino))
			first = i;
		if (i == first)
			continue;
		e = meta_find_mut(m, k[i].path);
		if (!e)
			continue;
		e->link = strdup(k[first].path);
		if (!e->link) {
			ret = -ENOMEM;
			break;
		}
	}
	free(k);
	return ret;
}

static int scan_delta(struct pifs_git *g, struct pifs_store *st,
		      const char *worker, int write, struct pifs_meta *m,
		      struct pifs_strbuf *newc, git_oid *tree, char *errbuf,
		      size_t errlen)
{
	struct scan s = {.g = g, .st = st, .write = write, .m = m,
			 .newc = newc, .errbuf = errbuf, .errlen = errlen};
	struct pifs_meta_entry *root;
	struct statpool pool;
	struct pifs_pathmap jset = {0};
	struct timespec now;
	struct stat sb;
	int fd, ret, nonempty;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	pifs_meta_init(m);
	ret = pifs_store_worker_golden(st, worker, m->golden);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "bad %s on the delta of %s: %s",
		       PIFS_XATTR_GOLDEN, worker, strerror(-ret));
		return ret;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	s.start = ts_ns(&now);
	if (g) {
		if (prefetched_worker[0] && !strcmp(prefetched_worker, worker)) {
			s.old = prefetched;
			memset(&prefetched, 0, sizeof(prefetched));
			prefetched_worker[0] = '\0';
		} else {
			cache_load(&s.old, st, worker);
		}
		/* the cache is saved once its commit is durable: all the
		 * blobs it names are in the repository if that commit is */
		s.old.trusted = write && s.old.has_commit &&
				git_odb_exists(g->odb, &s.old.commit);
	}
	if (newc)
		cache_begin(newc);
	fd = pifs_openat_beneath(st->deltas_fd, worker,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0) {
		pifs_seterr(errbuf, errlen, "cannot open the delta of %s '%s/deltas/%s': %s",
		       worker, st->path, worker, strerror(-fd));
		ret = fd;
		goto out;
	}
	ret = pifs_fstat(fd, &sb);
	if (ret == 0)
		ret = scan_add(&s, ".", &sb, &root);
	if (ret == 0)
		ret = read_xattrs(st->deltas_fd, worker, 1, 0, &root->xattrs,
				  &root->nxattrs);
	if (ret < 0) {
		scan_fail(&s, "read", ".", ret);
		goto out_fd;
	}
	if (g && write && g->has_jn && g->jn.valid && g->jn.token &&
	    s.old.trusted && s.old.token == g->jn.token) {
		ret = jset_build(&jset, &g->jn);
		if (ret == 0)
			s.j = &jset;
		else if (ret == -EINVAL)
			pifs_debug("bad journal from pifsd: stating everything");
		else
			goto out_fd;
	}
	if (s.j) {
		ret = scan_dir_j(&s, fd, ".", tree, &nonempty);
	} else {
		statpool_start(&pool);
		s.pool = &pool;
		ret = scan_dir(&s, fd, ".", tree, &nonempty, NULL);
		statpool_stop(&pool);
	}
	if (g) {
		g->used_jn = s.j != NULL;
		g->nstat = s.nstat;
	}
	if (ret == 0)
		ret = scan_finish(&s);
out_fd:
	close(fd);
out:
	if (ret < 0 && errbuf && errlen && !errbuf[0])
		pifs_seterr(errbuf, errlen, "cannot read the delta of %s: %s",
		       worker, strerror(-ret));
	if (ret < 0)
		pifs_meta_release(m);
	cache_release(&s.old);
	pifs_pathmap_free(&jset);
	free(s.x);
	return ret;
}

void pifs_git_cache_prefetch(struct pifs_store *st, const char *worker)
{
	cache_release(&prefetched);
	cache_load(&prefetched, st, worker);
	snprintf(prefetched_worker, sizeof(prefetched_worker), "%s", worker);
}

void pifs_git_set_journal(struct pifs_git *g, const struct pifs_journal *j)
{
	free(g->jn.buf);
	memset(&g->jn, 0, sizeof(g->jn));
	g->has_jn = 0;
	if (!j)
		return;
	g->jn = *j;
	g->jn.buf = NULL;
	if (j->len) {
		g->jn.buf = malloc(j->len);
		if (!g->jn.buf) {
			g->jn.valid = 0; /* stat everything */
			g->jn.len = 0;
		} else {
			memcpy(g->jn.buf, j->buf, j->len);
		}
	}
	g->has_jn = 1;
}

int pifs_git_scan(struct pifs_git *g, struct pifs_store *st,
		  const char *worker, struct pifs_meta *m, char *errbuf,
		  size_t errlen)
{
	return scan_delta(g, st, worker, 0, m, NULL, NULL, errbuf, errlen);
}

/* ---- reading snapshots ---- */

int pifs_git_head(struct pifs_git *g, const char *worker, char id[41])
{
	char ref[PIFS_NAME_MAX + 32];
	git_oid oid;
	int ret;

	ref_name(ref, sizeof(ref), worker);
	ret = git_reference_name_to_id(&oid, g->repo, ref);
	if (ret < 0)
		return git_errno(ret, errno);
	git_oid_tostr(id, 41, &oid);
	return 0;
}

/* Walk the delta/ tree of a commit: fn(path, oid, filemode, arg) for
 * every blob, with decoded names. */
typedef int (*blob_fn)(const char *path, const git_oid *oid,
		       git_filemode_t mode, void *arg);

static int walk_tree(struct pifs_git *g, const git_tree *tree,
		     const char *prefix, blob_fn fn, void *arg, char *errbuf,
		     size_t errlen)
{
	const git_tree_entry *te;
	git_tree *sub;
	char *name, *path;
	size_t i, n = git_tree_entrycount(tree);
	int ret = 0;

	for (i = 0; i < n && ret == 0; i++) {
		te = git_tree_entry_byindex(tree, i);
		name = tree_name_decode(git_tree_entry_name(te));
		if (!name) {
			pifs_seterr(errbuf, errlen, "bad tree entry name '%s'",
			       git_tree_entry_name(te));
			return -EINVAL;
		}
		path = *prefix ? pifs_strdupf("%s/%s", prefix, name)
			       : strdup(name);
		free(name);
		if (!path)
			return -ENOMEM;
		if (git_tree_entry_type(te) == GIT_OBJECT_TREE) {
			ret = git_tree_lookup(&sub, g->repo,
					      git_tree_entry_id(te));
			if (ret < 0) {
				ret = gerr(ret, errbuf, errlen,
					   "cannot read tree 'delta/%s'", path);
			} else {
				ret = walk_tree(g, sub, path, fn, arg, errbuf,
						errlen);
				git_tree_free(sub);
			}
		} else {
			ret = fn(path, git_tree_entry_id(te),
				 git_tree_entry_filemode(te), arg);
		}
		free(path);
	}
	return ret;
}

static int attach_oid(const char *path, const git_oid *oid,
		      git_filemode_t mode, void *arg)
{
	struct pifs_meta_entry *e = meta_find_mut(arg, path);

	if (!e)
		return -EINVAL;
	if (!((e->type == 'f' && (mode == GIT_FILEMODE_BLOB ||
				  mode == GIT_FILEMODE_BLOB_EXECUTABLE)) ||
	      (e->type == 'l' && mode == GIT_FILEMODE_LINK)))
		return -EINVAL;
	memcpy(e->oid, oid->id, 20);
	e->has_oid = 1;
	return 0;
}

/* META and delta/ of a commit's tree into m. */
static int load_tree(struct pifs_git *g, const git_tree *root,
		     struct pifs_meta *m, char *errbuf, size_t errlen)
{
	const git_tree_entry *te;
	git_tree *delta = NULL;
	git_blob *blob = NULL;
	size_t i;
	int ret;

	pifs_meta_init(m);
	te = git_tree_entry_byname(root, "META");
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
		pifs_seterr(errbuf, errlen, "snapshot has no META");
		return -EINVAL;
	}
	ret = git_blob_lookup(&blob, g->repo, git_tree_entry_id(te));
	if (ret < 0)
		return gerr(ret, errbuf, errlen, "cannot read META");
	ret = pifs_meta_parse(m, git_blob_rawcontent(blob),
			      (size_t)git_blob_rawsize(blob), errbuf, errlen);
	git_blob_free(blob);
	if (ret < 0)
		return ret;
	te = git_tree_entry_byname(root, "delta");
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_TREE) {
		pifs_seterr(errbuf, errlen, "snapshot has no delta/ tree");
		ret = -EINVAL;
		goto fail;
	}
	ret = git_tree_lookup(&delta, g->repo, git_tree_entry_id(te));
	if (ret < 0) {
		ret = gerr(ret, errbuf, errlen, "cannot read delta/");
		goto fail;
	}
	ret = walk_tree(g, delta, "", attach_oid, m, errbuf, errlen);
	git_tree_free(delta);
	if (ret == -EINVAL && errbuf && errlen && !errbuf[0])
		pifs_seterr(errbuf, errlen, "delta/ does not match META");
	if (ret < 0)
		goto fail;
	for (i = 0; i < m->count; i++) {
		if ((m->entries[i].type == 'f' || m->entries[i].type == 'l') &&
		    !m->entries[i].has_oid) {
			pifs_seterr(errbuf, errlen, "no blob for '%s' in delta/",
			       m->entries[i].path);
			ret = -EINVAL;
			goto fail;
		}
	}
	return 0;
fail:
	pifs_meta_release(m);
	return ret;
}

int pifs_git_load(struct pifs_git *g, const char *id, struct pifs_meta *m,
		  char *errbuf, size_t errlen)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	char err[512] = "";
	git_oid oid;
	int ret;

	pifs_meta_init(m);
	if (git_oid_fromstr(&oid, id) < 0) {
		pifs_seterr(errbuf, errlen, "bad commit id '%s'", id);
		return -EINVAL;
	}
	if ((ret = git_commit_lookup(&c, g->repo, &oid)) < 0 ||
	    (ret = git_commit_tree(&t, c)) < 0) {
		ret = gerr(ret, errbuf, errlen, "cannot read snapshot %.7s",
			   id);
		goto out;
	}
	ret = load_tree(g, t, m, err, sizeof(err));
	if (ret < 0)
		pifs_seterr(errbuf, errlen, "snapshot %.7s is damaged: %s", id, err);
out:
	git_tree_free(t);
	git_commit_free(c);
	return ret;
}

int pifs_git_blob(struct pifs_git *g, const unsigned char oid[20],
		  char **out, size_t *len_out)
{
	git_blob *b;
	git_oid o;
	size_t len;
	int ret;

	memcpy(o.id, oid, 20);
	ret = git_blob_lookup(&b, g->repo, &o);
	if (ret < 0)
		return git_errno(ret, errno);
	len = (size_t)git_blob_rawsize(b);
	*out = malloc(len + 1);
	if (!*out) {
		git_blob_free(b);
		return -ENOMEM;
	}
	memcpy(*out, git_blob_rawcontent(b), len);
	(*out)[len] = '\0';
	*len_out = len;
	git_blob_free(b);
	return 0;
}

static int is_hex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s), i;

	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (pifs_hexval(s[i]) < 0)
			return 0;
	return 1;
}

int pifs_git_resolve(struct pifs_git *g, const char *worker, const char *rev,
		     char id[41], char *errbuf, size_t errlen)
{
	char head[41], hex[41], found[41] = "", lower[41];
	git_revwalk *walk = NULL;
	git_commit *c = NULL, *p;
	unsigned long steps = 0;
	git_oid oid;
	size_t i;
	int ret, matches = 0;

	ret = pifs_git_head(g, worker, head);
	if (ret == -ENOENT) {
		pifs_seterr(errbuf, errlen,
		       "'%s' is not a snapshot of %s (it has no snapshots)",
		       rev, worker);
		return -ENOENT;
	}
	if (ret < 0)
		return gerr(ret, errbuf, errlen, "cannot read the branch of %s",
			    worker);
	if (!strcmp(rev, "HEAD") || !strcmp(rev, "latest")) {
		memcpy(id, head, 41);
		return 0;
	}
	if (!strncmp(rev, "HEAD~", 5) || !strncmp(rev, "latest~", 7)) {
		const char *num = strchr(rev, '~') + 1;
		char *end;

		errno = 0;
		steps = strtoul(num, &end, 10);
		if (!*num || *end || errno || *num == '-')
			goto not_found;
		git_oid_fromstr(&oid, head);
		if ((ret = git_commit_lookup(&c, g->repo, &oid)) < 0)
			return gerr(ret, errbuf, errlen,
				    "cannot read snapshot %.7s of %s", head,
				    worker);
		while (steps--) {
			if (git_commit_parentcount(c) == 0) {
				git_commit_free(c);
				goto not_found;
			}
			ret = git_commit_parent(&p, c, 0);
			git_commit_free(c);
			if (ret < 0)
				return gerr(ret, errbuf, errlen,
					    "cannot read the history of %s",
					    worker);
			c = p;
		}
		git_oid_tostr(id, 41, git_commit_id(c));
		git_commit_free(c);
		return 0;
	}
	if (!is_hex(rev, 4, 40))
		goto not_found;
	for (i = 0; rev[i]; i++)
		lower[i] = (char)(rev[i] >= 'A' && rev[i] <= 'F'
				      ? rev[i] - 'A' + 'a'
				      : rev[i]);
	lower[i] = '\0';
	if ((ret = git_revwalk_new(&walk, g->repo)) < 0 ||
	    (ret = git_oid_fromstr(&oid, head)) < 0 ||
	    (ret = git_revwalk_push(walk, &oid)) < 0) {
		ret = gerr(ret, errbuf, errlen, "cannot read the history of %s",
			   worker);
		goto out;
	}
	while ((ret = git_revwalk_next(&oid, walk)) == 0) {
		git_oid_tostr(hex, sizeof(hex), &oid);
		if (!strncmp(hex, lower, strlen(lower)) &&
		    strcmp(found, hex)) {
			memcpy(found, hex, sizeof(found));
			matches++;
		}
	}
	if (ret != GIT_ITEROVER) {
		ret = gerr(ret, errbuf, errlen, "cannot read the history of %s",
			   worker);
		goto out;
	}
	ret = 0;
	if (matches > 1) {
		pifs_seterr(errbuf, errlen,
		       "'%s' is ambiguous among the snapshots of %s", rev,
		       worker);
		ret = -EINVAL;
	} else if (!matches) {
		git_revwalk_free(walk);
		goto not_found;
	} else {
		memcpy(id, found, 41);
	}
out:
	git_revwalk_free(walk);
	return ret;
not_found:
	pifs_seterr(errbuf, errlen, "'%s' is not a snapshot of %s", rev, worker);
	return -ENOENT;
}

static uint64_t trailer(const char *msg, const char *key)
{
	const char *p = msg;
	size_t kl = strlen(key);

	while ((p = strstr(p, key))) {
		if ((p == msg || p[-1] == '\n') && p[kl] == ':' &&
		    p[kl + 1] == ' ')
			return strtoull(p + kl + 2, NULL, 10);
		p += kl;
	}
	return 0;
}

/* The golden a snapshot's message names (the last "golden: " trailer,
 * which pifs writes after the user's message). */
static void trailer_golden(const char *msg, char out[17])
{
	const char *p = msg, *hit = NULL;

	out[0] = '\0';
	while ((p = strstr(p, "golden: "))) {
		if (p == msg || p[-1] == '\n')
			hit = p + 8;
		p += 8;
	}
	if (hit && strlen(hit) >= 16) {
		memcpy(out, hit, 16);
		out[16] = '\0';
		if (pifs_golden_id_valid(out) < 0)
			out[0] = '\0';
	}
}

static int push_branch(const char *name, void *arg)
{
	git_revwalk *walk = arg;

	return git_revwalk_push_ref(walk, name) < 0 ? -1 : 0;
}

int pifs_git_golden_users(struct pifs_git *g, const char *golden,
			  char worker[PIFS_NAME_MAX + 1], char id[41])
{
	git_revwalk *walk = NULL;
	git_commit *c;
	git_oid oid;
	char gid[17];
	int ret, n = 0;

	worker[0] = id[0] = '\0';
	if ((ret = git_revwalk_new(&walk, g->repo)) < 0 ||
	    (ret = git_reference_foreach_glob(g->repo, "refs/heads/workers/*",
					      push_branch, walk)) < 0) {
		ret = git_errno(ret, errno);
		goto out;
	}
	while ((ret = git_revwalk_next(&oid, walk)) == 0) {
		if ((ret = git_commit_lookup(&c, g->repo, &oid)) < 0) {
			ret = git_errno(ret, errno);
			goto out;
		}
		trailer_golden(git_commit_message(c), gid);
		if (!strcmp(gid, golden)) {
			if (!n++) {
				const char *w = strstr(git_commit_message(c),
						       "\nworker: ");

				git_oid_tostr(id, 41, &oid);
				if (w)
					sscanf(w + 9, "%63s", worker);
			}
		}
		git_commit_free(c);
	}
	ret = ret == GIT_ITEROVER ? n : git_errno(ret, errno);
out:
	git_revwalk_free(walk);
	return ret;
}

int pifs_git_log(struct pifs_git *g, const char *worker,
		 struct pifs_log_entry **out, size_t *n_out)
{
	struct pifs_log_entry *log = NULL, *nl;
	git_revwalk *walk = NULL;
	size_t n = 0, cap = 0, sl;
	git_commit *c;
	const char *msg, *eol;
	char head[41];
	git_oid oid;
	int ret;

	*out = NULL;
	*n_out = 0;
	ret = pifs_git_head(g, worker, head);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	git_oid_fromstr(&oid, head);
	if ((ret = git_revwalk_new(&walk, g->repo)) < 0 ||
	    (ret = git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL |
						 GIT_SORT_TIME)) < 0 ||
	    (ret = git_revwalk_push(walk, &oid)) < 0) {
		ret = git_errno(ret, errno);
		goto out;
	}
	while ((ret = git_revwalk_next(&oid, walk)) == 0) {
		if ((ret = git_commit_lookup(&c, g->repo, &oid)) < 0) {
			ret = git_errno(ret, errno);
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nl = realloc(log, cap * sizeof(*nl));
			if (!nl) {
				git_commit_free(c);
				ret = -ENOMEM;
				goto out;
			}
			log = nl;
		}
		memset(&log[n], 0, sizeof(*log));
		git_oid_tostr(log[n].id, 41, &oid);
		log[n].time = git_commit_time(c);
		log[n].offset = git_commit_time_offset(c);
		msg = git_commit_message(c);
		eol = strchr(msg, '\n');
		sl = eol ? (size_t)(eol - msg) : strlen(msg);
		log[n].subject = strndup(msg, sl);
		log[n].files = (unsigned)trailer(msg, "files");
		trailer_golden(msg, log[n].golden);
		log[n].bytes = trailer(msg, "bytes");
		git_commit_free(c);
		if (!log[n++].subject) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = ret == GIT_ITEROVER ? 0 : git_errno(ret, errno);
out:
	git_revwalk_free(walk);
	if (ret < 0) {
		pifs_git_log_free(log, n);
		return ret;
	}
	*out = log;
	*n_out = n;
	return 0;
}

void pifs_git_log_free(struct pifs_log_entry *log, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(log[i].subject);
	free(log);
}

int pifs_git_base_get(struct pifs_store *st, const char *worker,
		      char id[41])
{
	ssize_t n;

	n = pifs_lgetxattr(st->deltas_fd, worker, PIFS_XATTR_BASE, id, 40);
	if (n == -ERANGE)
		return -EINVAL;
	if (n < 0)
		return (int)n;
	id[n] = '\0';
	if (!is_hex(id, 40, 40))
		return -EINVAL;
	return 0;
}

static int base_set(struct pifs_store *st, const char *worker,
		    const char *id)
{
	int ret, fd;

	ret = pifs_lsetxattr(st->deltas_fd, worker, PIFS_XATTR_BASE, id, 40,
			     0);
	if (ret < 0)
		return ret;
	fd = pifs_openat_beneath(st->deltas_fd, worker,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	ret = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/* ---- the view-level diff ---- */

/* What a view shows at one path: nothing, a delta entry, or the golden's
 * entry (metadata read here, content hashed only when needed). */
struct vent {
	int gfd; /* the golden it was looked up in */
	int present;
	const struct pifs_meta_entry *e;
	struct pifs_meta_entry gold;
	char *gpath;
};

static void vent_release(struct vent *v)
{
	if (v->e == &v->gold)
		pifs_meta_entry_release(&v->gold);
	free(v->gpath);
	memset(v, 0, sizeof(*v));
}

/* Open the parent directory of rel beneath root; *name points into rel. */
static int open_parent(int root, const char *rel, char **parent,
		       const char **name)
{
	const char *slash = strrchr(rel, '/');
	int fd;

	*parent = slash ? strndup(rel, (size_t)(slash - rel)) : strdup(".");
	if (!*parent)
		return -ENOMEM;
	*name = slash ? slash + 1 : rel;
	fd = pifs_openat_beneath(root, *parent, O_PATH | O_DIRECTORY, 0);
	if (fd < 0) {
		free(*parent);
		*parent = NULL;
	}
	return fd;
}

int pifs_git_golden_entry(int gfd, const char *gpath,
			  struct pifs_meta_entry *e)
{
	struct stat sb;
	const char *name;
	char *parent;
	int ret, pfd;

	memset(e, 0, sizeof(*e));
	ret = pifs_lstat_beneath(gfd, gpath, &sb);
	if (ret < 0)
		return ret;
	entry_from_stat(e, &sb);
	if (!strcmp(gpath, ".")) {
		ret = read_xattrs(gfd, NULL, 1, 1, &e->xattrs, &e->nxattrs);
	} else {
		pfd = open_parent(gfd, gpath, &parent, &name);
		if (pfd < 0)
			return pfd;
		ret = read_xattrs(pfd, name, 1, 1, &e->xattrs, &e->nxattrs);
		close(pfd);
		free(parent);
	}
	if (ret == 0) {
		e->path = strdup(gpath);
		if (!e->path)
			ret = -ENOMEM;
	}
	if (ret < 0)
		pifs_meta_entry_release(e);
	return ret;
}

static int golden_oid(int gfd, const char *gpath, char type,
		      unsigned char oid[20])
{
	char *buf = NULL, target[PATH_MAX + 1];
	size_t len;
	git_oid o;
	ssize_t n;
	int fd, ret;

	if (type == 'l') {
		fd = pifs_openat_beneath(gfd, gpath, O_PATH | O_NOFOLLOW, 0);
		if (fd < 0)
			return fd;
		n = readlinkat(fd, "", target, sizeof(target));
		ret = n < 0 ? -errno : 0;
		close(fd);
		if (ret < 0)
			return ret;
		if (git_odb_hash(&o, target, (size_t)n, GIT_OBJECT_BLOB) < 0)
			return -EIO;
	} else {
		fd = pifs_openat_beneath(gfd, gpath, O_RDONLY | O_NOFOLLOW, 0);
		if (fd < 0)
			return fd;
		ret = read_all(fd, 0, &buf, &len);
		close(fd);
		if (ret < 0)
			return ret;
		ret = git_odb_hash(&o, buf, len, GIT_OBJECT_BLOB) < 0 ? -EIO
								       : 0;
		free(buf);
		if (ret < 0)
			return ret;
	}
	memcpy(oid, o.id, 20);
	return 0;
}

static int view_lookup(int gfd, const struct pifs_meta *m,
		       const char *path, struct vent *v)
{
	const struct pifs_meta_entry *e, *a;
	const struct pifs_xattr *rx;
	char *buf, *slash, *g;
	int ret;

	memset(v, 0, sizeof(*v));
	v->gfd = gfd;
	if (m && (e = pifs_meta_find(m, path))) {
		if (!pifs_meta_is_whiteout(e)) {
			v->present = 1;
			v->e = e;
		}
		return 0;
	}
	g = strdup(path);
	buf = strdup(path);
	if (!g || !buf) {
		free(g);
		free(buf);
		return -ENOMEM;
	}
	while (m && strcmp(buf, ".")) {
		slash = strrchr(buf, '/');
		if (slash)
			*slash = '\0';
		else
			strcpy(buf, ".");
		a = pifs_meta_find(m, buf);
		if (!a)
			continue;
		if (a->type != 'd' || pifs_meta_is_opaque(a))
			goto absent;
		rx = pifs_meta_xattr(a, PIFS_XATTR_REDIRECT);
		if (rx && rx->len > 1 && rx->value[0] == '/') {
			size_t rest = strcmp(buf, ".") ? strlen(buf) : 0;

			free(g);
			g = pifs_strdupf("%.*s%s", (int)rx->len - 1,
					 (const char *)rx->value + 1,
					 path + rest);
			if (!g) {
				free(buf);
				return -ENOMEM;
			}
			break;
		}
	}
	free(buf);
	ret = pifs_git_golden_entry(gfd, g, &v->gold);
	if (ret == -ENOENT || ret == -ENOTDIR || ret == -ELOOP ||
	    ret == -EXDEV) {
		free(g);
		return 0;
	}
	if (ret < 0) {
		free(g);
		return ret;
	}
	v->present = 1;
	v->e = &v->gold;
	v->gpath = g;
	return 0;
absent:
	free(buf);
	free(g);
	return 0;
}

static int xattrs_equal(const struct pifs_meta_entry *a,
			const struct pifs_meta_entry *b)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < a->nxattrs && pifs_xattr_private(a->xattrs[i].name))
			i++;
		while (j < b->nxattrs && pifs_xattr_private(b->xattrs[j].name))
			j++;
		if (i == a->nxattrs || j == b->nxattrs)
			return i == a->nxattrs && j == b->nxattrs;
		if (strcmp(a->xattrs[i].name, b->xattrs[j].name) ||
		    a->xattrs[i].len != b->xattrs[j].len ||
		    memcmp(a->xattrs[i].value, b->xattrs[j].value,
			   a->xattrs[i].len))
			return 0;
		i++;
		j++;
	}
}

static int vent_oid(struct vent *v)
{
	int ret;

	if (v->e->has_oid)
		return 0;
	ret = golden_oid(v->gfd, v->gpath, v->e->type, v->gold.oid);
	if (ret == 0)
		v->gold.has_oid = 1;
	return ret;
}

static void what_add(char *what, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void what_add(char *what, size_t len, const char *fmt, ...)
{
	size_t used = strlen(what);
	va_list ap;

	if (used && used + 2 < len) {
		strcat(what, ", ");
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(what + used, len - used, fmt, ap);
	va_end(ap);
}

/* Describe how b differs from a into what ("" = same); *content_changed
 * says whether the data differs. */
static int vent_compare(struct vent *a, struct vent *b,
			char *what, size_t len, int *content_changed,
			int *only_mtime)
{
	const struct pifs_meta_entry *x = a->e, *y = b->e;
	int ret, n = 0, mt = 0;

	what[0] = '\0';
	*content_changed = 0;
	if (x->type != y->type) {
		what_add(what, len, "type %c->%c", x->type, y->type);
		*content_changed = y->type == 'f' || y->type == 'l';
		*only_mtime = 0;
		return 0;
	}
	if (x->type == 'f' || x->type == 'l') {
		if (x->size != UINT64_MAX && y->size != UINT64_MAX &&
		    x->size != y->size) {
			*content_changed = 1;
		} else {
			if ((ret = vent_oid(a)) < 0 ||
			    (ret = vent_oid(b)) < 0)
				return ret;
			*content_changed = memcmp(a->e->oid, b->e->oid, 20) != 0;
		}
		if (*content_changed) {
			what_add(what, len, "content");
			n++;
		}
	}
	if (x->mode != y->mode) {
		what_add(what, len, "mode %o->%o", x->mode, y->mode);
		n++;
	}
	if (x->uid != y->uid || x->gid != y->gid) {
		what_add(what, len,
			 "owner %" PRIu32 ":%" PRIu32 "->%" PRIu32 ":%" PRIu32,
			 x->uid, x->gid, y->uid, y->gid);
		n++;
	}
	if ((x->type == 'c' || x->type == 'b') &&
	    (x->rdev_major != y->rdev_major || x->rdev_minor != y->rdev_minor)) {
		what_add(what, len, "rdev");
		n++;
	}
	if (x->mtime_sec != y->mtime_sec || x->mtime_nsec != y->mtime_nsec) {
		what_add(what, len, "mtime");
		mt = 1;
	}
	if (!xattrs_equal(x, y)) {
		what_add(what, len, "xattrs");
		n++;
	}
	if ((x->type == 'd') && pifs_meta_is_opaque(y) != pifs_meta_is_opaque(x)) {
		what_add(what, len, "opaque");
		n++;
	}
	*only_mtime = mt && !n;
	return 0;
}

static int path_selected(const char *path, char *const *paths, size_t n)
{
	size_t i, l;

	if (!n)
		return 1;
	for (i = 0; i < n; i++) {
		l = strlen(paths[i]);
		if (!strcmp(paths[i], ".") ||
		    (!strncmp(path, paths[i], l) &&
		     (path[l] == '\0' || path[l] == '/')))
			return 1;
	}
	return 0;
}

struct pathset {
	char **p;
	size_t n, cap;
};

static int pathset_add(struct pathset *ps, const char *path)
{
	char **n;

	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 1024;
		n = realloc(ps->p, ps->cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		ps->p = n;
	}
	ps->p[ps->n] = strdup(path);
	if (!ps->p[ps->n])
		return -ENOMEM;
	ps->n++;
	return 0;
}

/* Golden children of an opaque directory are hidden: list them. */
static int add_opaque_children(int gfd, const char *path,
			       struct pathset *ps)
{
	struct dirent *de;
	char *child;
	DIR *dir;
	int fd, ret = 0;

	fd = pifs_openat_beneath(gfd, path,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return 0;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dir)) && ret == 0) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child = strcmp(path, ".") ? pifs_strdupf("%s/%s", path,
							 de->d_name)
					  : strdup(de->d_name);
		if (!child)
			ret = -ENOMEM;
		else
			ret = pathset_add(ps, child);
		free(child);
	}
	closedir(dir);
	return ret;
}

static int changes_add(struct pifs_change **out, size_t *n, size_t *cap,
		       char kind, const char *path, const char *what,
		       uint64_t bytes)
{
	struct pifs_change *c;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		c = realloc(*out, *cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		*out = c;
	}
	c = &(*out)[*n];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->path = strdup(path);
	if (!c->path)
		return -ENOMEM;
	snprintf(c->what, sizeof(c->what), "%s", what);
	c->bytes = bytes;
	(*n)++;
	return 0;
}

/* The golden id of a side of a diff: a meta's own, or for the bare golden
 * (NULL) the other side's. */
static const char *side_golden(struct pifs_store *st,
			       const struct pifs_meta *m,
			       const struct pifs_meta *other)
{
	if (m && m->golden[0])
		return m->golden;
	if (other && other->golden[0])
		return other->golden;
	return st->conf.golden;
}

/* Open the goldens of both sides of a diff (the caller closes both). */
static int meta_goldens(struct pifs_store *st, const struct pifs_meta *old,
			const struct pifs_meta *new, int *gold, int *gnew)
{
	*gold = pifs_store_golden_open(st, side_golden(st, old, new));
	if (*gold < 0)
		return *gold;
	*gnew = pifs_store_golden_open(st, side_golden(st, new, old));
	if (*gnew < 0) {
		close(*gold);
		return *gnew;
	}
	return 0;
}

/* Two sides on different goldens: every path where the goldens differ
 * (by their manifests) may show as a change too. */
static int add_golden_changes(struct pifs_store *st, const char *ida,
			      const char *idb, struct pathset *ps)
{
	struct pifs_manifest a, b;
	size_t i = 0, j = 0;
	int ret, c;

	if (!strcmp(ida, idb))
		return 0;
	if ((ret = pifs_store_golden_manifest(st, ida, &a)) < 0)
		return ret;
	if ((ret = pifs_store_golden_manifest(st, idb, &b)) < 0) {
		pifs_manifest_release(&a);
		return ret;
	}
	while (ret == 0 && (i < a.n || j < b.n)) {
		c = i == a.n ? 1 : j == b.n ? -1 : strcmp(a.e[i].path, b.e[j].path);
		if (c < 0)
			ret = pathset_add(ps, a.e[i++].path);
		else if (c > 0)
			ret = pathset_add(ps, b.e[j++].path);
		else {
			if (pifs_manifest_entry_differs(&a.e[i], &b.e[j]) ||
			    a.e[i].sec != b.e[j].sec || a.e[i].nsec != b.e[j].nsec)
				ret = pathset_add(ps, a.e[i].path);
			i++;
			j++;
		}
	}
	pifs_manifest_release(&a);
	pifs_manifest_release(&b);
	return ret;
}

/* The changes at the paths of ps (sorted in place; duplicates allowed). */
static int diff_paths(struct pifs_store *st, const struct pifs_meta *old,
		      const struct pifs_meta *new, struct pathset *ps,
		      char *const *paths, size_t npaths,
		      struct pifs_change **out, size_t *n_out, size_t *cap_out)
{
	struct vent a, b;
	size_t i, n = *n_out, cap = *cap_out;
	int ret = 0, cc, om, gold = -1, gnew = -1;
	char what[160];

	if ((ret = meta_goldens(st, old, new, &gold, &gnew)) < 0)
		return ret;
	if (ps->n > 1)
		qsort(ps->p, ps->n, sizeof(*ps->p), name_cmp);
	for (i = 0; i < ps->n; i++) {
		if (i && !strcmp(ps->p[i], ps->p[i - 1]))
			continue;
		if (!path_selected(ps->p[i], paths, npaths))
			continue;
		if ((ret = view_lookup(gold, old, ps->p[i], &a)) < 0)
			goto out;
		if ((ret = view_lookup(gnew, new, ps->p[i], &b)) < 0) {
			vent_release(&a);
			goto out;
		}
		if (!a.present && b.present) {
			ret = changes_add(out, &n, &cap, 'A', ps->p[i], "",
					  b.e->type == 'f' || b.e->type == 'l'
					      ? b.e->size
					      : 0);
		} else if (a.present && !b.present) {
			ret = changes_add(out, &n, &cap, 'D', ps->p[i], "", 0);
		} else if (a.present && b.present) {
			ret = vent_compare(&a, &b, what, sizeof(what), &cc,
					   &om);
			if (ret == 0 && what[0] && !(om && b.e->type == 'd'))
				ret = changes_add(
				    out, &n, &cap, 'M', ps->p[i], what,
				    cc && b.e->size != UINT64_MAX ? b.e->size
								   : 0);
		}
		vent_release(&a);
		vent_release(&b);
		if (ret < 0)
			goto out;
	}
out:
	close(gold);
	close(gnew);
	*n_out = n;
	*cap_out = cap;
	return ret;
}

static void pathset_free(struct pathset *ps)
{
	size_t j;

	for (j = 0; j < ps->n; j++)
		free(ps->p[j]);
	free(ps->p);
	memset(ps, 0, sizeof(*ps));
}

int pifs_git_diff(struct pifs_git *g, struct pifs_store *st,
		  const struct pifs_meta *old, const struct pifs_meta *new,
		  char *const *paths, size_t npaths, struct pifs_change **out,
		  size_t *n_out, char *errbuf, size_t errlen)
{
	struct pathset ps = {0};
	const struct pifs_meta *sides[2] = {old, new};
	size_t i, n = 0, cap = 0;
	int ret = 0, k;

	(void)g;
	*out = NULL;
	*n_out = 0;
	for (k = 0; k < 2 && ret == 0; k++) {
		const struct pifs_meta *m = sides[k];
		int gfd = pifs_store_golden_open(
		    st, side_golden(st, m, sides[1 - k]));

		if (gfd < 0) {
			ret = gfd;
			break;
		}
		for (i = 0; m && i < m->count && ret == 0; i++) {
			ret = pathset_add(&ps, m->entries[i].path);
			if (ret == 0 && pifs_meta_is_opaque(&m->entries[i]))
				ret = add_opaque_children(
				    gfd, m->entries[i].path, &ps);
		}
		close(gfd);
	}
	if (ret == 0)
		ret = add_golden_changes(st, side_golden(st, old, new),
					 side_golden(st, new, old), &ps);
	if (ret == 0)
		ret = diff_paths(st, old, new, &ps, paths, npaths, out, &n,
				 &cap);
	pathset_free(&ps);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot compare: %s", strerror(-ret));
		pifs_changes_free(*out, n);
		*out = NULL;
		return ret;
	}
	*n_out = n;
	return 0;
}


void pifs_changes_free(struct pifs_change *c, size_t n)
{
	size_t i;

	for (i = 0; c && i < n; i++)
		free(c[i].path);
	free(c);
}

/* ---- snapshot ---- */

/* A copy of the META of a worker's last snapshot (git/pifs-meta/<worker>),
 * so the next snapshot counts its changes without reading that blob back
 * from the pack (inflate and hash check: ~3 ms for a 10,000-entry delta).
 * Not fsynced: it is used only when its content hashes to the blob id the
 * commit names. */
static void metacopy_save(struct pifs_store *st, const char *worker,
			  const char *text, size_t len)
{
	if (save_nosync(st, METACOPY_DIR, worker, text, len) < 0)
		pifs_debug("cannot keep a copy of the META of %s", worker);
}

/* The META copy of worker if it is blob id, malloc'd; else NULL. */
static char *metacopy_load(struct pifs_store *st, const char *worker,
			   const git_oid *id, size_t *len_out)
{
	char sub[PIFS_NAME_MAX + 64], hdr[40];
	unsigned char md[20];
	struct pifs_sha1 c;
	char *buf = NULL;
	size_t len = 0;
	int hl;

	snprintf(sub, sizeof(sub), PIFS_GIT_DIR "/" METACOPY_DIR "/%s", worker);
	if (pifs_read_file(st->fd, sub, META_MAX, &buf, &len) < 0)
		return NULL;
	hl = snprintf(hdr, sizeof(hdr), "blob %zu", len);
	pifs_sha1_init(&c);
	pifs_sha1_update(&c, hdr, (size_t)hl + 1);
	pifs_sha1_update(&c, buf, len);
	pifs_sha1_final(&c, md);
	if (memcmp(md, id->id, 20)) {
		free(buf);
		return NULL;
	}
	*len_out = len;
	return buf;
}

void pifs_git_snapshot_abort(struct pifs_git *g)
{
	if (!g)
		return;
	staged_drop(g);
	pifs_meta_release(&g->meta);
	free(g->newcache.p);
	memset(&g->newcache, 0, sizeof(g->newcache));
	free(g->metatext);
	g->metatext = NULL;
	g->metalen = 0;
	free(g->message);
	g->message = NULL;
	g->pending = 0;
}

static int write_blob(struct pifs_git *g, const void *buf, size_t len,
		      git_oid *oid, char *errbuf, size_t errlen)
{
	int ret = git_odb_write(oid, g->odb, buf, len, GIT_OBJECT_BLOB);

	if (ret < 0)
		return gerr(ret, errbuf, errlen, "cannot store a blob");
	return staged_note(g, oid);
}

int pifs_git_snapshot_prepare(struct pifs_git *g, const char *worker,
			      const char *message, int allow_empty,
			      struct pifs_snapshot *out, char *errbuf,
			      size_t errlen)
{
	git_treebuilder *bld = NULL;
	git_commit *head = NULL;
	git_oid delta_tree, meta_oid;
	char ref[PIFS_NAME_MAX + 32], *text = NULL;
	size_t len;
	int ret;

	pifs_git_snapshot_abort(g);
	memset(out, 0, sizeof(*out));
	snprintf(g->worker, sizeof(g->worker), "%s", worker);
	g->message = strdup(message && *message ? message : "snapshot");
	if (!g->message)
		return -ENOMEM;
	ret = scan_delta(g, g->st, worker, 1, &g->meta, &g->newcache,
			 &delta_tree, errbuf, errlen);
	if (ret < 0)
		goto fail;
	ret = pifs_meta_format(&g->meta, &text, &len);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot format META of %s: %s", worker,
		       strerror(-ret));
		goto fail;
	}
	ret = write_blob(g, text, len, &meta_oid, errbuf, errlen);
	g->metatext = text;
	g->metalen = len;
	if (ret < 0)
		goto fail;
	if ((ret = git_treebuilder_new(&bld, g->repo, NULL)) < 0 ||
	    (ret = git_treebuilder_insert(NULL, bld, "META", &meta_oid,
					  GIT_FILEMODE_BLOB)) < 0 ||
	    (ret = git_treebuilder_insert(NULL, bld, "delta", &delta_tree,
					  GIT_FILEMODE_TREE)) < 0 ||
	    (ret = git_treebuilder_write(&g->tree, bld)) < 0) {
		ret = gerr(ret, errbuf, errlen, "cannot build the tree of %s",
			   worker);
		goto fail;
	}
	if ((ret = staged_note(g, &g->tree)) < 0)
		goto fail;
	ref_name(ref, sizeof(ref), worker);
	ret = git_reference_name_to_id(&g->parent, g->repo, ref);
	if (ret == GIT_ENOTFOUND) {
		g->has_parent = 0;
	} else if (ret < 0) {
		ret = gerr(ret, errbuf, errlen, "cannot read the branch of %s",
			   worker);
		goto fail;
	} else {
		g->has_parent = 1;
		ret = git_commit_lookup(&head, g->repo, &g->parent);
		if (ret < 0) {
			ret = gerr(ret, errbuf, errlen,
				   "cannot read the last snapshot of %s",
				   worker);
			goto fail;
		}
		git_oid_tostr(out->id, sizeof(out->id), &g->parent);
	}
	out->journal = g->used_jn;
	out->stated = (unsigned)g->nstat;
	out->created = !(g->has_parent &&
			 git_oid_equal(git_commit_tree_id(head), &g->tree)) ||
		       allow_empty;
	git_commit_free(head);
	git_treebuilder_free(bld);
	g->pending = 1;
	return 0;
fail:
	git_treebuilder_free(bld);
	pifs_git_snapshot_abort(g);
	return ret;
}

/* Write the staged objects as one pack and its index, here rather than
 * through a packbuilder and libgit2's indexer: those deflate at the
 * default level, then inflate and hash every object again to index what
 * we already know, which for a big delta's META (~50 bytes an entry)
 * was most of an incremental snapshot's pack time.  Objects are deflated
 * at the fastest level, without deltas; the pack and index (v2) are
 * written to temporaries in objects/pack, fsynced, renamed to
 * pack-<checksum> (the index last: readers find a pack by its index) and
 * the directory fsynced before the branch may move. */
#define PACK_DIR PIFS_GIT_DIR "/objects/pack"
#define PACK_TMP "tmp_pifs_pack"
#define IDX_TMP	 "tmp_pifs_idx"

struct packw {
	int fd;
	int err;
	z_stream z; /* reset for each object */
	int zinit;
	struct pifs_sha1 sha;
	uint64_t off;
	size_t len;
	unsigned char buf[65536]; /* last: not cleared */
};

static void pw_flush(struct packw *w)
{
	if (!w->err && w->len)
		w->err = pifs_write_all(w->fd, w->buf, w->len);
	w->len = 0;
}

/* Append to the pack (and its checksum). */
static void pw_add(struct packw *w, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t n;

	pifs_sha1_update(&w->sha, p, len);
	w->off += len;
	while (len && !w->err) {
		if (w->len == sizeof(w->buf))
			pw_flush(w);
		n = sizeof(w->buf) - w->len < len ? sizeof(w->buf) - w->len
						  : len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
	}
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* One object: the type-and-size header and the zlib stream; *crc gets
 * the CRC-32 of both (what the index records). */
static int pw_object(struct packw *w, git_object_t type, const void *data,
		     size_t len, uint32_t *crc)
{
	unsigned char hdr[16], out[16384];
	size_t n = 0, size = len;
	z_stream *z = &w->z;
	unsigned c;
	int zr;

	c = (unsigned)type << 4 | (unsigned)(size & 15);
	size >>= 4;
	while (size) {
		hdr[n++] = (unsigned char)(c | 0x80);
		c = (unsigned)(size & 0x7f);
		size >>= 7;
	}
	hdr[n++] = (unsigned char)c;
	pw_add(w, hdr, n);
	*crc = (uint32_t)crc32(0, hdr, (uInt)n);
	if (!w->zinit) {
		memset(z, 0, sizeof(*z));
		if (deflateInit(z, Z_BEST_SPEED) != Z_OK)
			return -ENOMEM;
		w->zinit = 1;
	} else if (deflateReset(z) != Z_OK) {
		return -EIO;
	}
	z->next_in = (Bytef *)(uintptr_t)data;
	z->avail_in = 0;
	do {
		/* avail_in is 32 bits: feed at most 1 GiB at a time */
		if (!z->avail_in && len) {
			z->avail_in = len > ((size_t)1 << 30) ? 1u << 30
							      : (uInt)len;
			len -= z->avail_in;
		}
		z->next_out = out;
		z->avail_out = sizeof(out);
		zr = deflate(z, len || z->avail_in ? Z_NO_FLUSH : Z_FINISH);
		if (zr == Z_STREAM_ERROR)
			break;
		n = sizeof(out) - z->avail_out;
		pw_add(w, out, n);
		*crc = (uint32_t)crc32(*crc, out, (uInt)n);
	} while (zr != Z_STREAM_END);
	if (zr != Z_STREAM_END)
		return -EIO;
	return w->err;
}

struct pobj {
	git_oid oid;
	uint64_t off;
	uint32_t crc;
};

static int pobj_cmp(const void *a, const void *b)
{
	return git_oid_cmp(&((const struct pobj *)a)->oid,
			   &((const struct pobj *)b)->oid);
}

/* The v2 index of the sorted objects o[0..n) of the pack with checksum
 * packsum, its own checksum at the end. */
static int idx_build(const struct pobj *o, size_t n,
		     const unsigned char packsum[20], struct pifs_strbuf *sb)
{
	static const unsigned char magic[8] = {0xff, 't', 'O', 'c', 0, 0, 0, 2};
	unsigned char b[8], sum[20];
	struct pifs_sha1 sha;
	size_t i, j, nlarge = 0;

	pifs_strbuf_add(sb, magic, sizeof(magic));
	for (i = 0, j = 0; i < 256; i++) {
		while (j < n && o[j].oid.id[0] <= i)
			j++;
		put_be32(b, (uint32_t)j);
		pifs_strbuf_add(sb, b, 4);
	}
	for (i = 0; i < n; i++)
		pifs_strbuf_add(sb, o[i].oid.id, 20);
	for (i = 0; i < n; i++) {
		put_be32(b, o[i].crc);
		pifs_strbuf_add(sb, b, 4);
	}
	for (i = 0; i < n; i++) {
		if (o[i].off < 0x80000000u)
			put_be32(b, (uint32_t)o[i].off);
		else
			put_be32(b, 0x80000000u | (uint32_t)nlarge++);
		pifs_strbuf_add(sb, b, 4);
	}
	for (i = 0; i < n; i++) {
		if (o[i].off < 0x80000000u)
			continue;
		put_be32(b, (uint32_t)(o[i].off >> 32));
		put_be32(b + 4, (uint32_t)o[i].off);
		pifs_strbuf_add(sb, b, 8);
	}
	pifs_strbuf_add(sb, packsum, 20);
	if (sb->err)
		return sb->err;
	pifs_sha1_init(&sha);
	pifs_sha1_update(&sha, sb->p, sb->len);
	pifs_sha1_final(&sha, sum);
	pifs_strbuf_add(sb, sum, 20);
	return sb->err;
}

static int write_pack(struct pifs_git *g, unsigned *count, char *errbuf,
		      size_t errlen)
{
	struct packw *w = NULL;
	struct pobj *o = NULL;
	struct pifs_strbuf idx = {0};
	unsigned char hdr[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2}, sum[20];
	char name[64], hex[41];
	git_object_t type;
	size_t i, n = 0, len;
	void *data;
	int dfd, ifd = -1, ret;

	*count = 0;
	if (!g->nstaged)
		return 0;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	o = malloc(g->nstaged * sizeof(*o));
	w = malloc(sizeof(*w));
	if (!o || !w) {
		free(o);
		free(w);
		return -ENOMEM;
	}
	/* one entry per object (the same content may be staged twice) */
	for (i = 0; i < g->nstaged; i++)
		o[i].oid = g->staged[i];
	qsort(o, g->nstaged, sizeof(*o), pobj_cmp);
	for (i = 0; i < g->nstaged; i++)
		if (!n || !git_oid_equal(&o[i].oid, &o[n - 1].oid))
			o[n++] = o[i];
	dfd = pifs_openat_beneath(g->st->fd, PACK_DIR, O_PATH | O_DIRECTORY,
				  0);
	if (dfd < 0) {
		free(o);
		free(w);
		pifs_seterr(errbuf, errlen, "cannot open '%s/" PACK_DIR "': %s",
		       g->st->path, strerror(-dfd));
		return dfd;
	}
	unlinkat(dfd, PACK_TMP, 0);
	unlinkat(dfd, IDX_TMP, 0);
	memset(w, 0, offsetof(struct packw, buf));
	pifs_sha1_init(&w->sha);
	w->fd = pifs_openat_beneath(dfd, PACK_TMP,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
				    0444);
	if (w->fd < 0) {
		ret = w->fd;
		w->fd = -1;
		goto fail;
	}
	put_be32(hdr + 8, (uint32_t)n);
	pw_add(w, hdr, sizeof(hdr));
	for (i = 0, ret = 0; i < n && ret == 0; i++) {
		o[i].off = w->off;
		ret = g->mempack->read(&data, &len, &type, g->mempack,
				       &o[i].oid);
		if (ret < 0) {
			ret = gerr(ret, errbuf, errlen,
				   "cannot read a staged object");
			goto fail;
		}
		ret = pw_object(w, type, data, len, &o[i].crc);
		git_odb_backend_data_free(g->mempack, data);
	}
	pifs_sha1_final(&w->sha, sum);
	if (ret == 0) {
		pw_flush(w);
		ret = w->err ? w->err : pifs_write_all(w->fd, sum, 20);
	}
	if (ret == 0 && fsync(w->fd) < 0)
		ret = -errno;
	if (ret == 0)
		ret = idx_build(o, n, sum, &idx);
	if (ret == 0) {
		ifd = pifs_openat_beneath(
		    dfd, IDX_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
		    0444);
		ret = ifd < 0 ? ifd : pifs_write_all(ifd, idx.p, idx.len);
	}
	if (ret == 0 && fsync(ifd) < 0)
		ret = -errno;
	if (ret < 0)
		goto fail;
	git_oid_tostr(hex, sizeof(hex), (const git_oid *)(const void *)sum);
	snprintf(name, sizeof(name), "pack-%s.pack", hex);
	if (renameat(dfd, PACK_TMP, dfd, name) < 0) {
		ret = -errno;
		goto fail;
	}
	snprintf(name, sizeof(name), "pack-%s.idx", hex);
	if (renameat(dfd, IDX_TMP, dfd, name) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = pifs_fsync_dir(dfd);
	if (ret < 0)
		goto fail;
	*count = (unsigned)n;
	git_odb_refresh(g->odb);
	goto out;
fail:
	unlinkat(dfd, PACK_TMP, 0);
	unlinkat(dfd, IDX_TMP, 0);
	if (errbuf && errlen && !errbuf[0])
		pifs_seterr(errbuf, errlen, "cannot write snapshot objects: %s",
		       strerror(-ret));
out:
	if (w->zinit)
		deflateEnd(&w->z);
	if (w->fd >= 0)
		close(w->fd);
	if (ifd >= 0)
		close(ifd);
	close(dfd);
	free(idx.p);
	free(o);
	free(w);
	return ret;
}

/* ---- counting the changes of a snapshot ---- */

struct oline {
	const char *p;
	size_t len;
	uint64_t h;
};

/* Split META text into entry lines (after the header and golden lines). */
static int meta_lines(const char *t, size_t len, struct oline **out,
		      size_t *n_out)
{
	const char *p = t, *end = t + len, *nl;
	struct oline *l = NULL, *nn;
	size_t n = 0, cap = 0, lineno = 0;

	*out = NULL;
	*n_out = 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			goto bad;
		lineno++;
		if (lineno == 1) {
			if ((size_t)(nl - p) != strlen(PIFS_META_HEADER) ||
			    memcmp(p, PIFS_META_HEADER, (size_t)(nl - p)))
				goto bad;
		} else if (lineno == 2) {
			if (nl - p < 8 || memcmp(p, "golden ", 7))
				goto bad;
		} else {
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				nn = realloc(l, cap * sizeof(*nn));
				if (!nn)
					goto bad;
				l = nn;
			}
			l[n].p = p;
			l[n].len = (size_t)(nl - p);
			l[n].h = XXH3_64bits(p, l[n].len);
			n++;
		}
		p = nl + 1;
	}
	if (lineno < 2)
		goto bad;
	*out = l;
	*n_out = n;
	return 0;
bad:
	free(l);
	return -EAGAIN;
}

/* Add to ps the paths of m's blobs that differ between the trees a (may
 * be NULL) and b; identical subtrees are skipped. */
static int tree_changed(struct pifs_git *g, const git_tree *a,
			const git_tree *b, const char *prefix,
			const struct pifs_meta *m, struct pathset *ps)
{
	const git_tree_entry *eb, *ea;
	git_tree *sa = NULL, *sb = NULL;
	size_t i, n = git_tree_entrycount(b);
	char *name, *path;
	int ret = 0;

	for (i = 0; i < n && ret == 0; i++) {
		eb = git_tree_entry_byindex(b, i);
		ea = a ? git_tree_entry_byname(a, git_tree_entry_name(eb))
		       : NULL;
		if (ea && git_tree_entry_filemode(ea) ==
			      git_tree_entry_filemode(eb) &&
		    git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb)))
			continue;
		name = tree_name_decode(git_tree_entry_name(eb));
		if (!name)
			return -EAGAIN;
		path = *prefix ? pifs_strdupf("%s/%s", prefix, name)
			       : strdup(name);
		free(name);
		if (!path)
			return -ENOMEM;
		if (git_tree_entry_type(eb) == GIT_OBJECT_TREE) {
			sa = sb = NULL;
			if (git_tree_lookup(&sb, g->repo,
					    git_tree_entry_id(eb)) < 0 ||
			    (ea && git_tree_entry_type(ea) == GIT_OBJECT_TREE &&
			     git_tree_lookup(&sa, g->repo,
					     git_tree_entry_id(ea)) < 0))
				ret = -EAGAIN;
			else
				ret = tree_changed(g, sa, sb, path, m, ps);
			git_tree_free(sa);
			git_tree_free(sb);
		} else if (pifs_meta_find(m, path)) {
			ret = pathset_add(ps, path);
		}
		free(path);
	}
	return ret;
}

/* The blob id of path in the delta/ tree t into e (a file or symlink). */
static int attach_old_oid(const git_tree *t, struct pifs_meta_entry *e)
{
	struct pifs_strbuf sb = {0};
	const char *p = e->path, *slash;
	git_tree_entry *te = NULL;
	git_filemode_t mode;
	char *comp, *tn;
	int ret = 0;

	while (*p && !sb.err) {
		slash = strchr(p, '/');
		comp = slash ? strndup(p, (size_t)(slash - p)) : strdup(p);
		tn = comp ? tree_name(comp) : NULL;
		free(comp);
		if (!tn) {
			free(sb.p);
			return -ENOMEM;
		}
		if (sb.len)
			pifs_strbuf_addstr(&sb, "/");
		pifs_strbuf_addstr(&sb, tn);
		free(tn);
		p = slash ? slash + 1 : p + strlen(p);
	}
	if (sb.err || !sb.p) {
		free(sb.p);
		return -EAGAIN;
	}
	if (git_tree_entry_bypath(&te, t, sb.p) < 0) {
		free(sb.p);
		return -EAGAIN;
	}
	free(sb.p);
	mode = git_tree_entry_filemode(te);
	if ((e->type == 'f' && (mode == GIT_FILEMODE_BLOB ||
				mode == GIT_FILEMODE_BLOB_EXECUTABLE)) ||
	    (e->type == 'l' && mode == GIT_FILEMODE_LINK)) {
		memcpy(e->oid, git_tree_entry_id(te)->id, 20);
		e->has_oid = 1;
	} else {
		ret = -EAGAIN;
	}
	git_tree_entry_free(te);
	return ret;
}

static int old_add(struct pifs_meta *m, size_t *cap, const struct oline *l)
{
	struct pifs_meta_entry *n;
	int ret;

	if (m->count == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		n = realloc(m->entries, *cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		m->entries = n;
	}
	memset(&m->entries[m->count], 0, sizeof(*n));
	ret = pifs_meta_entry_parse(&m->entries[m->count], l->p, l->p + l->len);
	m->count++; /* released with m, even half-parsed */
	return ret < 0 ? -EAGAIN : 0;
}

/* files and bytes of the prepared snapshot against its parent exactly as
 * pifs_git_diff(parent, new) counts them, looking only at the paths whose
 * META line or blob differs (an entry with the same line and blob is the
 * same in both views, whatever its ancestors), their ancestors and the
 * golden children of changed opaque directories.  Anything unexpected
 * gives -EAGAIN: the caller then does the full diff. */
/* Does META text name golden id? */
static int meta_same_golden(const void *text, size_t len, const char *id)
{
	const char *t = text, *p = memmem(t, len, "\ngolden ", 8);

	return p && (size_t)(p - t) + 8 + 16 <= len && !memcmp(p + 8, id, 16);
}

static int fast_count(struct pifs_git *g, unsigned *files, uint64_t *bytes)
{
	git_commit *pc = NULL;
	git_tree *oroot = NULL, *nroot = NULL, *otree = NULL, *ntree = NULL;
	git_blob *blob = NULL;
	const git_tree_entry *te;
	const char *otext;
	char *ocopy = NULL;
	size_t olen;
	struct oline *ol = NULL, *nl = NULL;
	size_t nol = 0, nnl = 0, i, j, tsize, slot, ocap = 0, ninit, n = 0,
	       cap = 0;
	uint32_t *tab = NULL;
	long *match = NULL;
	unsigned char *oused = NULL;
	struct pathset cand = {0}, need = {0};
	struct pifs_meta old;
	struct pifs_change *ch = NULL;
	const struct pifs_meta_entry *ne;
	char *q, *slash;
	int ret, gfd;

	pifs_meta_init(&old);
	if (!g->metatext)
		return -EAGAIN;
	ret = -EAGAIN;
	if (git_commit_lookup(&pc, g->repo, &g->parent) < 0 ||
	    git_commit_tree(&oroot, pc) < 0 ||
	    git_tree_lookup(&nroot, g->repo, &g->tree) < 0)
		goto out;
	te = git_tree_entry_byname(oroot, "META");
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_BLOB)
		goto out;
	ocopy = metacopy_load(g->st, g->worker, git_tree_entry_id(te), &olen);
	if (ocopy) {
		otext = ocopy;
	} else {
		if (git_blob_lookup(&blob, g->repo, git_tree_entry_id(te)) < 0)
			goto out;
		otext = git_blob_rawcontent(blob);
		olen = (size_t)git_blob_rawsize(blob);
	}
	te = git_tree_entry_byname(oroot, "delta");
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_TREE ||
	    git_tree_lookup(&otree, g->repo, git_tree_entry_id(te)) < 0)
		goto out;
	te = git_tree_entry_byname(nroot, "delta");
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_TREE ||
	    git_tree_lookup(&ntree, g->repo, git_tree_entry_id(te)) < 0)
		goto out;
	/* a parent on another golden (a rebase): the full diff */
	if (!meta_same_golden(otext, olen, g->meta.golden))
		goto out;
	if (meta_lines(otext, olen, &ol, &nol) < 0 ||
	    meta_lines(g->metatext, g->metalen, &nl, &nnl) < 0 ||
	    nnl != g->meta.count || nol >= UINT32_MAX)
		goto out;
	/* old lines by hash */
	for (tsize = 64; tsize < 2 * nol + 2; tsize *= 2)
		;
	tab = calloc(tsize, sizeof(*tab));
	match = malloc((nnl ? nnl : 1) * sizeof(*match));
	oused = calloc(nol ? nol : 1, 1);
	if (!tab || !match || !oused)
		goto out;
	for (i = 0; i < nol; i++) {
		for (slot = ol[i].h & (tsize - 1); tab[slot];
		     slot = (slot + 1) & (tsize - 1))
			;
		tab[slot] = (uint32_t)i + 1;
	}
	for (i = 0; i < nnl; i++) {
		match[i] = -1;
		for (slot = nl[i].h & (tsize - 1); tab[slot];
		     slot = (slot + 1) & (tsize - 1)) {
			j = tab[slot] - 1;
			if (ol[j].h == nl[i].h && ol[j].len == nl[i].len &&
			    !oused[j] && !memcmp(ol[j].p, nl[i].p, nl[i].len)) {
				match[i] = (long)j;
				oused[j] = 1;
				break;
			}
		}
		if (match[i] < 0 &&
		    (ret = pathset_add(&cand, g->meta.entries[i].path)) < 0)
			goto out;
	}
	ret = 0;
	/* entries gone or changed: their old lines */
	for (i = 0; i < nol && ret == 0; i++) {
		if (oused[i])
			continue;
		ret = old_add(&old, &ocap, &ol[i]);
		if (ret == 0)
			ret = pathset_add(&cand,
					  old.entries[old.count - 1].path);
	}
	/* same line, other content */
	if (ret == 0)
		ret = tree_changed(g, otree, ntree, "", &g->meta, &cand);
	ninit = cand.n;
	gfd = pifs_store_golden_open(g->st, g->meta.golden);
	if (gfd < 0) {
		ret = gfd;
		goto out;
	}
	for (i = 0; i < ninit && ret == 0; i++) {
		ne = pifs_meta_find(&g->meta, cand.p[i]);
		if (ne && pifs_meta_is_opaque(ne))
			ret = add_opaque_children(gfd, cand.p[i], &cand);
	}
	for (i = 0; i < old.count && ret == 0; i++)
		if (pifs_meta_is_opaque(&old.entries[i]))
			ret = add_opaque_children(gfd, old.entries[i].path,
						  &cand);
	close(gfd);
	/* the old entries view_lookup may need: candidates and ancestors
	 * whose line did not change (the others are parsed above) */
	for (i = 0; i < cand.n && ret == 0; i++) {
		q = strdup(cand.p[i]);
		if (!q) {
			ret = -ENOMEM;
			break;
		}
		for (;;) {
			ret = pathset_add(&need, q);
			if (ret < 0 || !strcmp(q, "."))
				break;
			slash = strrchr(q, '/');
			if (slash)
				*slash = '\0';
			else
				strcpy(q, ".");
		}
		free(q);
	}
	if (ret < 0)
		goto out;
	if (need.n > 1)
		qsort(need.p, need.n, sizeof(*need.p), name_cmp);
	for (i = 0; i < need.n && ret == 0; i++) {
		if (i && !strcmp(need.p[i], need.p[i - 1]))
			continue;
		ne = pifs_meta_find(&g->meta, need.p[i]);
		if (ne && match[ne - g->meta.entries] >= 0)
			ret = old_add(&old, &ocap,
				      &ol[match[ne - g->meta.entries]]);
	}
	if (ret < 0)
		goto out;
	pifs_meta_sort(&old);
	for (i = 0; i < old.count; i++) {
		if (i && !strcmp(old.entries[i].path,
				 old.entries[i - 1].path)) {
			ret = -EAGAIN;
			goto out;
		}
		if ((old.entries[i].type == 'f' ||
		     old.entries[i].type == 'l') &&
		    (ret = attach_old_oid(otree, &old.entries[i])) < 0)
			goto out;
	}
	ret = diff_paths(g->st, &old, &g->meta, &cand, NULL, 0, &ch, &n,
			 &cap);
	if (ret == 0) {
		*files = (unsigned)n;
		*bytes = 0;
		for (i = 0; i < n; i++)
			*bytes += ch[i].bytes;
	}
	pifs_changes_free(ch, n);
out:
	pathset_free(&cand);
	pathset_free(&need);
	pifs_meta_release(&old);
	free(tab);
	free(match);
	free(oused);
	free(ol);
	free(nl);
	free(ocopy);
	git_blob_free(blob);
	git_tree_free(otree);
	git_tree_free(ntree);
	git_tree_free(oroot);
	git_tree_free(nroot);
	git_commit_free(pc);
	return ret;
}

int pifs_git_snapshot_finish(struct pifs_git *g, struct pifs_snapshot *snap,
			     char *errbuf, size_t errlen)
{
	struct pifs_meta parent;
	struct pifs_change *ch = NULL;
	git_signature *sig = NULL;
	git_reference *refp = NULL;
	git_commit *pc = NULL;
	git_tree *tree = NULL;
	char ref[PIFS_NAME_MAX + 32], host[128], email[200], base[41], *msg;
	const git_commit *parents[1];
	size_t nch = 0, i;
	git_oid cid;
	int ret;

	if (!g->pending)
		return -EINVAL;
	pifs_meta_init(&parent);
	ref_name(ref, sizeof(ref), g->worker);
	if (!snap->created) {
		/* nothing new; make sure the delta records its base */
		if (pifs_git_base_get(g->st, g->worker, base) < 0 ||
		    strcmp(base, snap->id))
			base_set(g->st, g->worker, snap->id);
		cache_save(&g->newcache, g->st, g->worker,
			   g->has_parent ? &g->parent : NULL,
			   g->has_jn ? g->jn.newtoken : 0);
		pifs_git_snapshot_abort(g);
		return 0;
	}
	if (!g->has_parent ||
	    fast_count(g, &snap->files, &snap->bytes) < 0) {
		snap->files = 0;
		snap->bytes = 0;
		if (g->has_parent) {
			char pid[41];

			git_oid_tostr(pid, sizeof(pid), &g->parent);
			ret = pifs_git_load(g, pid, &parent, errbuf, errlen);
			if (ret < 0)
				goto out;
		}
		ret = pifs_git_diff(g, g->st, g->has_parent ? &parent : NULL,
				    &g->meta, NULL, 0, &ch, &nch, errbuf,
				    errlen);
		if (ret < 0)
			goto out;
		snap->files = (unsigned)nch;
		for (i = 0; i < nch; i++)
			snap->bytes += ch[i].bytes;
		pifs_changes_free(ch, nch);
	}
	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(email, sizeof(email), "pifs@%s", host);
	msg = pifs_strdupf("%s\n\nworker: %s\ngolden: %s\nfiles: %u\n"
			   "bytes: %" PRIu64 "\n",
			   g->message, g->worker, g->meta.golden, snap->files,
			   snap->bytes);
	if (!msg) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = git_signature_now(&sig, "pifs", email)) < 0 ||
	    (ret = git_tree_lookup(&tree, g->repo, &g->tree)) < 0 ||
	    (g->has_parent &&
	     (ret = git_commit_lookup(&pc, g->repo, &g->parent)) < 0)) {
		free(msg);
		ret = gerr(ret, errbuf, errlen, "cannot make the commit");
		goto out;
	}
	parents[0] = pc;
	ret = git_commit_create(&cid, g->repo, NULL, sig, sig, NULL, msg, tree,
				g->has_parent ? 1 : 0, parents);
	free(msg);
	if (ret < 0 || (ret = staged_note(g, &cid)) < 0) {
		ret = gerr(ret, errbuf, errlen, "cannot make the commit");
		goto out;
	}
	ret = write_pack(g, &snap->objects, errbuf, errlen);
	if (ret < 0)
		goto out;
	staged_drop(g);
	if (g->has_parent)
		ret = git_reference_create_matching(&refp, g->repo, ref, &cid,
						    1, &g->parent,
						    "pifs snapshot");
	else
		ret = git_reference_create(&refp, g->repo, ref, &cid, 0,
					   "pifs snapshot");
	if (ret < 0) {
		ret = gerr(ret, errbuf, errlen,
			   "cannot move the branch of %s", g->worker);
		goto out;
	}
	git_oid_tostr(snap->id, sizeof(snap->id), &cid);
	ret = base_set(g->st, g->worker, snap->id);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen,
		       "snapshot %.7s made, but cannot record it on the delta "
		       "of %s: %s",
		       snap->id, g->worker, strerror(-ret));
		goto out;
	}
	/* the cache only names objects now durable in the pack */
	cache_save(&g->newcache, g->st, g->worker, &cid,
		   g->has_jn ? g->jn.newtoken : 0);
	metacopy_save(g->st, g->worker, g->metatext, g->metalen);
out:
	git_reference_free(refp);
	git_tree_free(tree);
	git_commit_free(pc);
	git_signature_free(sig);
	pifs_meta_release(&parent);
	pifs_git_snapshot_abort(g);
	return ret;
}

/* ---- restoring a delta ---- */

struct restore {
	struct pifs_git *g;
	int root;
	char *errbuf;
	size_t errlen;
};

static int rs_fail(struct restore *r, const char *what, const char *path,
		   int err)
{
	if (r->errbuf && r->errlen && !r->errbuf[0])
		pifs_seterr(r->errbuf, r->errlen, "cannot %s '%s': %s", what, path,
		       strerror(-err));
	return err;
}

/* Write data with holes: 4 KiB blocks of zeros are skipped. */
static int write_sparse(int fd, const char *buf, size_t len)
{
	static const char zero[HOLE_BLOCK];
	size_t off, n;
	int ret;

	for (off = 0; off < len; off += n) {
		n = len - off < HOLE_BLOCK ? len - off : HOLE_BLOCK;
		if (n == HOLE_BLOCK && !memcmp(buf + off, zero, HOLE_BLOCK))
			continue;
		ret = pifs_pwrite_all(fd, buf + off, n, (off_t)off);
		if (ret < 0)
			return ret;
	}
	return ftruncate(fd, (off_t)len) < 0 ? -errno : 0;
}

static int set_xattrs(int dirfd, const char *name,
		      const struct pifs_meta_entry *e)
{
	size_t i;
	int ret;

	for (i = 0; i < e->nxattrs; i++) {
		ret = pifs_lsetxattr(dirfd, name, e->xattrs[i].name,
				     e->xattrs[i].value, e->xattrs[i].len, 0);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* chown, chmod (after chown, which clears setuid), xattrs (after chown,
 * which clears security.capability), chmod again if an ACL changed the
 * group bits, times last (atime = mtime). */
static int apply_attrs(int dirfd, const char *name,
		       const struct pifs_meta_entry *e)
{
	struct timespec ts[2];
	struct stat sb;
	char p[64];
	int fd, ret = 0;

	if (fchownat(dirfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	fd = -1;
	if (e->type != 'l') {
		fd = pifs_openat_beneath(dirfd, name, O_PATH | O_NOFOLLOW, 0);
		if (fd < 0)
			return fd;
		if (chmod(pifs_fd_path(fd, p, sizeof(p)), e->mode) < 0) {
			ret = -errno;
			goto out;
		}
	}
	ret = set_xattrs(dirfd, name, e);
	if (ret < 0)
		goto out;
	if (fd >= 0) {
		if (fstat(fd, &sb) < 0) {
			ret = -errno;
			goto out;
		}
		if ((sb.st_mode & 07777) != e->mode &&
		    chmod(pifs_fd_path(fd, p, sizeof(p)), e->mode) < 0) {
			ret = -errno;
			goto out;
		}
	}
	ts[0].tv_sec = ts[1].tv_sec = (time_t)e->mtime_sec;
	ts[0].tv_nsec = ts[1].tv_nsec = (long)e->mtime_nsec;
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		ret = -errno;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static int restore_entry(struct restore *r, const struct pifs_meta_entry *e)
{
	const char *name;
	char *parent = NULL, *data = NULL;
	size_t len;
	int pfd, fd, ret;
	dev_t dev = makedev(e->rdev_major, e->rdev_minor);

	pfd = open_parent(r->root, e->path, &parent, &name);
	if (pfd < 0)
		return rs_fail(r, "create", e->path, pfd);
	if (e->link) {
		int lfd = pifs_openat_beneath(r->root, e->link,
					      O_PATH | O_NOFOLLOW, 0);

		ret = lfd;
		if (lfd >= 0) {
			ret = linkat(lfd, "", pfd, name, AT_EMPTY_PATH) < 0
				  ? -errno
				  : 0;
			close(lfd);
		}
		if (ret < 0)
			rs_fail(r, "link", e->path, ret);
		goto out;
	}
	switch (e->type) {
	case 'd':
		ret = mkdirat(pfd, name, 0700) < 0 ? -errno : 0;
		break;
	case 'f':
	case 'l':
		ret = pifs_git_blob(r->g, e->oid, &data, &len);
		if (ret < 0)
			break;
		if (e->type == 'l') {
			ret = memchr(data, '\0', len) ? -EINVAL : 0;
			if (ret == 0 && symlinkat(data, pfd, name) < 0)
				ret = -errno;
			break;
		}
		fd = openat(pfd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0) {
			ret = -errno;
			break;
		}
		ret = write_sparse(fd, data, len);
		if (close(fd) < 0 && ret == 0)
			ret = -errno;
		break;
	case 'c':
		ret = mknodat(pfd, name, S_IFCHR | 0600, dev) < 0 ? -errno : 0;
		break;
	case 'b':
		ret = mknodat(pfd, name, S_IFBLK | 0600, dev) < 0 ? -errno : 0;
		break;
	case 'p':
		ret = mknodat(pfd, name, S_IFIFO | 0600, 0) < 0 ? -errno : 0;
		break;
	case 's':
		ret = mknodat(pfd, name, S_IFSOCK | 0600, 0) < 0 ? -errno : 0;
		break;
	default:
		ret = -EINVAL;
	}
	if (ret < 0) {
		rs_fail(r, "restore", e->path, ret);
		goto out;
	}
	if (e->type != 'd') {
		ret = apply_attrs(pfd, name, e);
		if (ret < 0)
			rs_fail(r, "set attributes of", e->path, ret);
	}
out:
	free(data);
	free(parent);
	close(pfd);
	return ret;
}

int pifs_git_materialize_meta(struct pifs_git *g, struct pifs_store *st,
			      const struct pifs_meta *mp, const char *base,
			      const char *tmpname, char *errbuf, size_t errlen)
{
	struct restore r = {.g = g, .root = -1, .errbuf = errbuf,
			    .errlen = errlen};
	const struct pifs_meta m = *mp;
	const char *name;
	char *parent;
	size_t i;
	int ret, pfd;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!m.count || strcmp(m.entries[0].path, ".")) {
		pifs_seterr(errbuf, errlen, "snapshot %.7s has no root entry",
		       base ? base : "-");
		return -EINVAL;
	}
	if (pifs_golden_id_valid(m.golden) < 0) {
		pifs_seterr(errbuf, errlen, "snapshot %.7s names no valid golden",
		       base ? base : "-");
		return -EINVAL;
	}
	if ((ret = pifs_store_golden_open(st, m.golden)) < 0) {
		pifs_seterr(errbuf, errlen,
		       "snapshot %.7s is on golden %s, which the store does "
		       "not have",
		       base ? base : "-", m.golden);
		return ret == -ENOENT ? -ENOENT : ret;
	}
	close(ret);
	if (mkdirat(st->work_fd, tmpname, 0700) < 0) {
		ret = -errno;
		pifs_seterr(errbuf, errlen, "cannot create '%s/work/%s': %s",
		       st->path, tmpname, strerror(-ret));
		return ret;
	}
	r.root = pifs_openat_beneath(st->work_fd, tmpname,
				     O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (r.root < 0) {
		ret = r.root;
		goto out_remove;
	}
	for (i = 1; i < m.count; i++)
		if ((ret = restore_entry(&r, &m.entries[i])) < 0)
			goto out_remove;
	/* directory attributes last, deepest first (reverse path order) */
	for (i = m.count; i-- > 1;) {
		if (m.entries[i].type != 'd' || m.entries[i].link)
			continue;
		pfd = open_parent(r.root, m.entries[i].path, &parent, &name);
		if (pfd < 0) {
			ret = rs_fail(&r, "open", m.entries[i].path, pfd);
			goto out_remove;
		}
		ret = apply_attrs(pfd, name, &m.entries[i]);
		close(pfd);
		free(parent);
		if (ret < 0) {
			rs_fail(&r, "set attributes of", m.entries[i].path,
				ret);
			goto out_remove;
		}
	}
	ret = base ? pifs_lsetxattr(st->work_fd, tmpname, PIFS_XATTR_BASE,
				    base, 40, 0)
		   : 0;
	if (ret == 0)
		ret = pifs_lsetxattr(st->work_fd, tmpname, PIFS_XATTR_GOLDEN,
				     m.golden, 16, 0);
	if (ret == 0)
		ret = apply_attrs(st->work_fd, tmpname, &m.entries[0]);
	if (ret < 0) {
		rs_fail(&r, "set attributes of", ".", ret);
		goto out_remove;
	}
	ret = sync_fs(st->work_fd);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot sync '%s': %s", st->path,
		       strerror(-ret));
		goto out_remove;
	}
	close(r.root);
	return 0;
out_remove:
	if (r.root >= 0)
		close(r.root);
	pifs_remove_tree(st->work_fd, tmpname);
	return ret;
}

int pifs_git_materialize(struct pifs_git *g, struct pifs_store *st,
			 const char *id, const char *golden,
			 const char *tmpname, char *errbuf, size_t errlen)
{
	struct pifs_meta m;
	int ret;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!id) {
		ret = pifs_store_delta_init_on(st, st->work_fd, tmpname, golden);
		if (ret < 0) {
			pifs_seterr(errbuf, errlen, "cannot create '%s/work/%s': %s",
			       st->path, tmpname, strerror(-ret));
			return ret;
		}
		ret = sync_fs(st->work_fd);
		if (ret < 0) {
			pifs_seterr(errbuf, errlen, "cannot sync '%s': %s", st->path,
			       strerror(-ret));
			pifs_remove_tree(st->work_fd, tmpname);
		}
		return ret;
	}
	pifs_meta_init(&m);
	ret = pifs_git_load(g, id, &m, errbuf, errlen);
	if (ret == 0)
		ret = pifs_git_materialize_meta(g, st, &m, id, tmpname, errbuf,
						errlen);
	pifs_meta_release(&m);
	return ret;
}

/* ---- fsck ---- */

struct oidset {
	git_oid *v;
	size_t cap, n; /* cap is a power of two; zero oid = free */
};

static size_t oid_hash(const git_oid *o)
{
	size_t h;

	memcpy(&h, o->id, sizeof(h));
	return h;
}

/* 1 if added, 0 if present, -ENOMEM. */
static int oidset_add(struct oidset *s, const git_oid *o)
{
	size_t i, j;

	if (s->n * 2 >= s->cap) {
		struct oidset n = {.cap = s->cap ? s->cap * 2 : 1024};

		n.v = calloc(n.cap, sizeof(*n.v));
		if (!n.v)
			return -ENOMEM;
		for (i = 0; i < s->cap; i++) {
			if (git_oid_is_zero(&s->v[i]))
				continue;
			for (j = oid_hash(&s->v[i]) & (n.cap - 1);
			     !git_oid_is_zero(&n.v[j]); j = (j + 1) & (n.cap - 1))
				;
			n.v[j] = s->v[i];
			n.n++;
		}
		free(s->v);
		*s = n;
	}
	for (i = oid_hash(o) & (s->cap - 1); !git_oid_is_zero(&s->v[i]);
	     i = (i + 1) & (s->cap - 1))
		if (git_oid_equal(&s->v[i], o))
			return 0;
	s->v[i] = *o;
	s->n++;
	return 1;
}

struct fsck {
	struct pifs_git *g;
	FILE *out;
	int problems;
	struct oidset seen;
	const char *worker;
	char commit[41];
};

static void problem(struct fsck *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(f->out, fmt, ap);
	va_end(ap);
	fputc('\n', f->out);
	f->problems++;
}

static const char *gmsg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown error";
}

/* Read (and so hash-verify) an object once. */
static int fsck_read(struct fsck *f, const git_oid *oid, git_object_t want,
		     const char *what)
{
	git_odb_object *o;
	char hex[41];
	int ret;

	ret = oidset_add(&f->seen, oid);
	if (ret <= 0)
		return ret;
	git_oid_tostr(hex, sizeof(hex), oid);
	ret = git_odb_read(&o, f->g->odb, oid);
	if (ret < 0) {
		problem(f, "snapshot %.7s of %s: cannot read %s (object %s): %s",
			f->commit, f->worker, what, hex, gmsg());
		return 0;
	}
	if (git_odb_object_type(o) != want)
		problem(f, "snapshot %.7s of %s: %s (object %s) is a %s, not "
			   "a %s",
			f->commit, f->worker, what, hex,
			git_object_type2string(git_odb_object_type(o)),
			git_object_type2string(want));
	git_odb_object_free(o);
	return 0;
}

struct fsck_walk {
	struct fsck *f;
	struct pifs_meta *m;
	unsigned char *found; /* per META entry */
};

static int fsck_blob(const char *path, const git_oid *oid,
		     git_filemode_t mode, void *arg)
{
	struct fsck_walk *w = arg;
	const struct pifs_meta_entry *e = pifs_meta_find(w->m, path);
	char what[PATH_MAX + 16];

	snprintf(what, sizeof(what), "'delta/%s'", path);
	if (!e) {
		problem(w->f, "snapshot %.7s of %s: %s is not in META",
			w->f->commit, w->f->worker, what);
	} else if (!((e->type == 'f' && (mode == GIT_FILEMODE_BLOB ||
					 mode == GIT_FILEMODE_BLOB_EXECUTABLE)) ||
		     (e->type == 'l' && mode == GIT_FILEMODE_LINK))) {
		problem(w->f,
			"snapshot %.7s of %s: %s has git mode %o but META "
			"type %c",
			w->f->commit, w->f->worker, what, (unsigned)mode,
			e->type);
	} else {
		w->found[e - w->m->entries] = 1;
	}
	return fsck_read(w->f, oid, GIT_OBJECT_BLOB, what);
}

/* Trees of delta/ must all read back; walk_tree reads them. */
static int fsck_trees(struct fsck *f, const git_oid *oid, const char *path)
{
	git_tree *t;
	size_t i;
	int ret;

	ret = fsck_read(f, oid, GIT_OBJECT_TREE, path);
	if (ret < 0)
		return ret;
	if (git_tree_lookup(&t, f->g->repo, oid) < 0)
		return 1;
	for (i = 0; i < git_tree_entrycount(t); i++) {
		const git_tree_entry *te = git_tree_entry_byindex(t, i);
		char *sub;

		if (git_tree_entry_type(te) != GIT_OBJECT_TREE)
			continue;
		sub = pifs_strdupf("%s/%s", path, git_tree_entry_name(te));
		if (!sub) {
			git_tree_free(t);
			return -ENOMEM;
		}
		ret = fsck_trees(f, git_tree_entry_id(te), sub);
		free(sub);
		if (ret != 0) {
			git_tree_free(t);
			return ret;
		}
	}
	git_tree_free(t);
	return 0;
}

static int fsck_commit(struct fsck *f, const git_oid *oid)
{
	const git_tree_entry *meta_te, *delta_te;
	struct fsck_walk w = {.f = f};
	struct pifs_meta m;
	git_commit *c = NULL;
	git_tree *root = NULL, *delta = NULL;
	git_blob *blob = NULL;
	char err[256];
	size_t i;
	int ret;

	git_oid_tostr(f->commit, sizeof(f->commit), oid);
	pifs_meta_init(&m);
	if ((ret = fsck_read(f, oid, GIT_OBJECT_COMMIT, "the commit")) < 0)
		return ret;
	if (git_commit_lookup(&c, f->g->repo, oid) < 0)
		return 0; /* reported by fsck_read */
	if ((ret = fsck_read(f, git_commit_tree_id(c), GIT_OBJECT_TREE,
			     "the root tree")) < 0)
		goto out;
	if (git_tree_lookup(&root, f->g->repo, git_commit_tree_id(c)) < 0)
		goto out;
	meta_te = git_tree_entry_byname(root, "META");
	delta_te = git_tree_entry_byname(root, "delta");
	if (!meta_te || git_tree_entry_type(meta_te) != GIT_OBJECT_BLOB) {
		problem(f, "snapshot %.7s of %s: no META", f->commit,
			f->worker);
		goto out;
	}
	if (!delta_te || git_tree_entry_type(delta_te) != GIT_OBJECT_TREE) {
		problem(f, "snapshot %.7s of %s: no delta/ tree", f->commit,
			f->worker);
		goto out;
	}
	/* META is re-read for every commit: its parse is the check */
	if (git_blob_lookup(&blob, f->g->repo, git_tree_entry_id(meta_te)) <
	    0) {
		problem(f, "snapshot %.7s of %s: cannot read META: %s",
			f->commit, f->worker, gmsg());
		goto out;
	}
	oidset_add(&f->seen, git_tree_entry_id(meta_te));
	if (pifs_meta_parse(&m, git_blob_rawcontent(blob),
			    (size_t)git_blob_rawsize(blob), err,
			    sizeof(err)) < 0) {
		problem(f, "snapshot %.7s of %s: META does not parse: %s",
			f->commit, f->worker, err);
		goto out;
	}
	{
		/* reset --to it needs its golden */
		int gfd = pifs_store_golden_open(f->g->st, m.golden);

		if (gfd < 0)
			problem(f, "snapshot %.7s of %s: it is on golden %s, "
				   "which the store does not have",
				f->commit, f->worker, m.golden);
		else
			close(gfd);
	}
	ret = fsck_trees(f, git_tree_entry_id(delta_te), "delta");
	if (ret < 0)
		goto out;
	ret = 0;
	if (git_tree_lookup(&delta, f->g->repo, git_tree_entry_id(delta_te)) <
	    0)
		goto out;
	w.m = &m;
	w.found = calloc(m.count ? m.count : 1, 1);
	if (!w.found) {
		ret = -ENOMEM;
		goto out;
	}
	err[0] = '\0';
	if (walk_tree(f->g, delta, "", fsck_blob, &w, err, sizeof(err)) < 0 &&
	    err[0])
		problem(f, "snapshot %.7s of %s: %s", f->commit, f->worker,
			err);
	for (i = 0; i < m.count; i++)
		if ((m.entries[i].type == 'f' || m.entries[i].type == 'l') &&
		    !w.found[i])
			problem(f,
				"snapshot %.7s of %s: no blob for '%s' in "
				"delta/",
				f->commit, f->worker, m.entries[i].path);
	free(w.found);
out:
	pifs_meta_release(&m);
	git_blob_free(blob);
	git_tree_free(delta);
	git_tree_free(root);
	git_commit_free(c);
	return ret;
}

/* Walk the history of one worker branch; *history gets every commit. */
static int fsck_branch(struct fsck *f, const char *refname,
		       struct oidset *history)
{
	git_reference *ref = NULL;
	git_revwalk *walk = NULL;
	git_oid oid;
	char hex[41];
	int ret;

	ret = git_reference_lookup(&ref, f->g->repo, refname);
	if (ret < 0) {
		problem(f, "ref '%s' cannot be read: %s", refname, gmsg());
		return 0;
	}
	if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
		problem(f, "ref '%s' is not a direct reference", refname);
		goto out;
	}
	oid = *git_reference_target(ref);
	git_oid_tostr(hex, sizeof(hex), &oid);
	if (!git_odb_exists(f->g->odb, &oid)) {
		problem(f, "ref '%s' points to missing commit %s", refname,
			hex);
		goto out;
	}
	if ((ret = git_revwalk_new(&walk, f->g->repo)) < 0 ||
	    (ret = git_revwalk_push(walk, &oid)) < 0) {
		problem(f, "ref '%s' (%s) is not a readable commit: %s",
			refname, hex, gmsg());
		ret = 0;
		goto out;
	}
	while ((ret = git_revwalk_next(&oid, walk)) == 0) {
		if ((ret = oidset_add(history, &oid)) < 0)
			goto out;
		if ((ret = fsck_commit(f, &oid)) < 0)
			goto out;
	}
	if (ret != GIT_ITEROVER)
		problem(f, "history of '%s' cannot be walked: %s", refname,
			gmsg());
	ret = 0;
out:
	git_revwalk_free(walk);
	git_reference_free(ref);
	return ret;
}

int pifs_git_fsck(struct pifs_store *st, const struct pifs_registry *reg,
		  FILE *out)
{
	struct fsck f = {.out = out};
	git_reference_iterator *it = NULL;
	struct oidset *hist = NULL;
	const char *refname;
	char err[512], base[41];
	struct dirent *de;
	struct stat sb;
	size_t i;
	DIR *dir;
	int ret, fd;

	ret = pifs_git_open(&f.g, st, 0, err, sizeof(err));
	if (ret < 0 && ret != -ENOENT) {
		problem(&f, "%s", err);
		f.g = NULL;
	}
	hist = calloc(reg->count ? reg->count : 1, sizeof(*hist));
	if (!hist) {
		ret = -ENOMEM;
		goto out;
	}
	if (f.g) {
		ret = git_reference_iterator_glob_new(&it, f.g->repo,
						      REF_PREFIX "*");
		if (ret < 0) {
			problem(&f, "cannot list the branches: %s", gmsg());
		} else {
			while (git_reference_next_name(&refname, it) == 0) {
				const char *w = refname + strlen(REF_PREFIX);
				struct oidset tmp = {0}, *h = &tmp;

				for (i = 0; i < reg->count; i++)
					if (!strcmp(reg->workers[i].name, w))
						h = &hist[i];
				if (h == &tmp)
					fprintf(out,
						"note: branch '%s' belongs to "
						"no registered worker\n",
						refname);
				f.worker = w;
				ret = fsck_branch(&f, refname, h);
				free(tmp.v);
				if (ret < 0)
					goto out;
			}
		}
	}
	for (i = 0; i < reg->count; i++) {
		const char *w = reg->workers[i].name;

		if (fstatat(st->deltas_fd, w, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(sb.st_mode)) {
			problem(&f, "worker %s has no delta '%s/deltas/%s'", w,
				st->path, w);
			continue;
		}
		ret = pifs_git_base_get(st, w, base);
		if (ret == -ENODATA)
			continue;
		if (ret < 0) {
			problem(&f, "worker %s: bad " PIFS_XATTR_BASE
				    " on its delta: %s",
				w, strerror(-ret));
			continue;
		}
		{
			git_oid o;

			git_oid_fromstr(&o, base);
			if (!hist[i].n || oidset_add(&hist[i], &o) == 1)
				problem(&f,
					"worker %s: its delta's base %.7s is "
					"not a snapshot of %s",
					w, base, w);
		}
	}
	fd = openat(st->work_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (dir) {
		while ((de = readdir(dir)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				fprintf(out,
					"note: leftover '%s/work/%s' from an "
					"interrupted operation (removed at the "
					"next mount or reset)\n",
					st->path, de->d_name);
		closedir(dir);
	} else if (fd >= 0) {
		close(fd);
	}
	ret = f.problems;
out:
	git_reference_iterator_free(it);
	if (hist)
		for (i = 0; i < reg->count; i++)
			free(hist[i].v);
	free(hist);
	free(f.seen.v);
	pifs_git_free(f.g);
	return ret;
}

int pifs_git_show(struct pifs_git *g, struct pifs_store *st,
		  const struct pifs_meta *m, const char *path, char **out,
		  size_t *len_out, int *deleted)
{
	const struct pifs_meta_entry *e;
	struct pifs_meta_entry ge;
	char target[PATH_MAX + 1];
	struct vent v;
	ssize_t n;
	int ret, fd, gfd;

	*out = NULL;
	*deleted = 0;
	gfd = pifs_store_golden_open(st, side_golden(st, m, NULL));
	if (gfd < 0)
		return gfd;
	ret = view_lookup(gfd, m, path, &v);
	if (ret < 0) {
		close(gfd);
		return ret;
	}
	if (!v.present) {
		if (pifs_git_golden_entry(gfd, path, &ge) == 0) {
			*deleted = 1;
			pifs_meta_entry_release(&ge);
		}
		close(gfd);
		return -ENOENT;
	}
	e = v.e;
	if (e->type == 'd') {
		ret = -EISDIR;
	} else if (e->type != 'f' && e->type != 'l') {
		ret = -EINVAL;
	} else if (e != &v.gold) {
		ret = pifs_git_blob(g, e->oid, out, len_out);
	} else if (e->type == 'l') {
		fd = pifs_openat_beneath(gfd, v.gpath, O_PATH | O_NOFOLLOW, 0);
		ret = fd;
		if (fd >= 0) {
			n = readlinkat(fd, "", target, sizeof(target) - 1);
			ret = n < 0 ? -errno : 0;
			close(fd);
			if (ret == 0) {
				*out = strndup(target, (size_t)n);
				*len_out = (size_t)n;
				ret = *out ? 0 : -ENOMEM;
			}
		}
	} else {
		fd = pifs_openat_beneath(gfd, v.gpath, O_RDONLY | O_NOFOLLOW, 0);
		ret = fd;
		if (fd >= 0) {
			ret = read_all(fd, e->size, out, len_out);
			close(fd);
		}
	}
	vent_release(&v);
	close(gfd);
	return ret;
}
