/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * scan.c - reading a worker's live delta into a META: every entry with
 * its attributes and, for files and symlinks, its blob id (hashed, or
 * staged for a snapshot together with the trees), taking what the stat
 * cache vouches for from it and building the next cache as it goes.
 * The full walk states every name (with statpool.c); scan_journal.c
 * walks only what pifsd's journal names.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "internal.h"
#include "safeio.h"
#include "store.h"

#define RACY_NS ((int64_t)PIFS_STATCACHE_RACY_MS * 1000000)

int pifs_scan_fail(struct scan *s, const char *what, const char *path, int err)
{
	pifs_seterr(s->errbuf, s->errlen, "cannot %s '%s': %s", what, path,
		    strerror(-err));
	return err;
}

void pifs_scan_tell(struct scan *s)
{
	if (s->g && s->g->progress && s->write)
		s->g->progress(s->g->progress_arg, NULL, 0, s->m->count,
			       s->bytes);
}

/* In a round read while the worker runs (s->unpaused), an entry that
 * changes under the scan (gone, replaced, shorter than its stat said, a
 * big file whose two reads differ) is no failure: it is left out and
 * noted in g->redo, so that the next round reads it again (its change is
 * in pifsd's journal too).  1 when err was such a change. */
int pifs_scan_unstable(struct scan *s, const char *path, int err, int dir)
{
	struct pifs_strbuf *r;

	if (!s->unpaused || !s->g)
		return 0;
	if (err != -ENOENT && err != -ESTALE && err != -ENOTDIR &&
	    err != -ELOOP && err != -EINVAL && err != -ENODATA &&
	    err != -EISDIR && err != -ENXIO)
		return 0;
	r = &s->g->redo;
	pifs_strbuf_add(r, "d", 1);
	pifs_strbuf_add(r, path, strlen(path) + 1);
	if (dir) {
		pifs_strbuf_add(r, "f", 1);
		pifs_strbuf_add(r, path, strlen(path) + 1);
	}
	if (r->err)
		return 0;
	pifs_errclear(s->errbuf, s->errlen);
	pifs_debug("'%s' changed while a snapshot read it: read again", path);
	return 1;
}

/* Drop the last entry added (one pifs_scan_unstable left out). */
static void scan_pop(struct scan *s)
{
	s->m->count--;
	pifs_meta_entry_release(&s->m->entries[s->m->count]);
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
	pifs_entry_from_stat(&s->m->entries[i], sb);
	s->x[i].dev = sb->st_dev;
	s->x[i].ino = sb->st_ino;
	s->x[i].links = !S_ISDIR(sb->st_mode) && sb->st_nlink > 1;
	*out = &s->m->entries[i];
	return 0;
nomem:
	free(path);
	return -ENOMEM;
}

int pifs_scan_add(struct scan *s, const char *path, const struct stat *sb,
		  struct pifs_meta_entry **out)
{
	return scan_add_take(s, strdup(path), sb, out);
}

/* rel/name, or name for the root ("."), malloc'd. */
char *pifs_scan_child_path(const char *rel, const char *name)
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

/* Stage (write) or hash a blob. */
static int blob_oid(struct scan *s, const void *buf, size_t len, git_oid *oid)
{
	int ret;

	if (!s->write || !s->g)
		return git_odb_hash(oid, buf, len, GIT_OBJECT_BLOB) < 0 ? -EIO
									 : 0;
	ret = git_odb_write(oid, s->g->odb, buf, len, GIT_OBJECT_BLOB);
	if (ret < 0)
		return pifs_git_error(ret, s->errbuf, s->errlen,
				      "cannot store a blob");
	return pifs_git_staged_note(s->g, oid);
}

static int cached_usable(struct scan *s, const struct centry *ce)
{
	if (!s->write || s->old.trusted)
		return 1;
	return git_odb_exists(s->g->odb, &ce->oid);
}

/* The cache entry of path (or NULL) and whether it matches the stat. */
static const struct centry *cache_match(struct scan *s, const char *path,
					const struct stat *sb, int *hit)
{
	const struct centry *ce =
	    s->g ? pifs_statcache_find(&s->old, path) : NULL;

	*hit = pifs_statcache_hit(ce, sb);
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
		if (ce->flags & CE_SPARSE) {
			ret = pifs_statcache_sparse(ce, e);
			if (ret < 0)
				return ret;
			nc->flags |= CE_SPARSE;
			nc->sp = ce->sp;
			nc->nsparse = ce->nsparse;
		}
		goto found;
	}
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name,
			    O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return pifs_scan_fail(s, "read", path, -errno);
	ret = pifs_fstat(fd, &fsb);
	if (ret == 0 && (fsb.st_ino != sb->st_ino || !S_ISREG(fsb.st_mode)))
		ret = -ESTALE;
	if (ret == 0 && (uint64_t)fsb.st_size >= PIFS_BIGBLOB_MIN) {
		ret = pifs_sparse_map(fd, (uint64_t)fsb.st_size, &e->ext,
				      &e->next);
		if (ret > 0) {
			/* only its data (sparse.c) */
			e->sparse = 1;
			ret = pifs_sparse_blob(s->write ? s->g : NULL, s->g, fd,
					       (uint64_t)fsb.st_size, e->ext,
					       e->next, path, &oid, &nc->xxh,
					       s->errbuf, s->errlen);
			close(fd);
			if (ret < 0)
				return pifs_scan_fail(s, "read", path, ret);
			if (e->next >= UINT32_MAX / 16)
				return pifs_scan_fail(s, "read", path, -EFBIG);
			nc->size = e->size = (uint64_t)fsb.st_size;
			s->bytes += pifs_meta_sparse_data(e);
			nc->flags |= CE_SPARSE;
			nc->sp = e->ext;
			nc->nsparse = (uint32_t)e->next;
			goto found;
		}
	}
	if (ret == 0 && (uint64_t)fsb.st_size >= PIFS_BIGBLOB_MIN) {
		/* in chunks, never whole in memory (bigblob.c) */
		ret = pifs_bigblob_progress(s->write ? s->g : NULL, s->g, fd,
					    (uint64_t)fsb.st_size, path, &oid,
					    &nc->xxh, s->errbuf, s->errlen);
		close(fd);
		if (ret < 0)
			return pifs_scan_fail(s, "read", path, ret);
		nc->size = e->size = (uint64_t)fsb.st_size;
		s->bytes += e->size;
		goto found;
	}
	if (ret == 0)
		ret =
		    pifs_entry_read_all(fd, (uint64_t)sb->st_size, &buf, &len);
	close(fd);
	if (ret < 0)
		return pifs_scan_fail(s, "read", path, ret);
	nc->xxh = XXH3_64bits(buf, len);
	nc->size = len;
	e->size = len;
	s->bytes += len;
	if (ce && S_ISREG(ce->mode) && ce->xxh == nc->xxh && ce->size == len &&
	    cached_usable(s, ce)) {
		oid = ce->oid;
	} else {
		ret = blob_oid(s, buf, len, &oid);
		if (ret < 0) {
			free(buf);
			return s->errbuf && s->errbuf[0]
				   ? ret
				   : pifs_scan_fail(s, "store", path, ret);
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
		return pifs_scan_fail(s, "read", path, ret);
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

/* Record an entry in the cache being built. */
int pifs_scan_cache_put(struct scan *s, struct centry *nc,
			const struct pifs_meta_entry *e)
{
	if (!s->newc)
		return 0;
	/* Racy times are dropped from a cache that is saved; a round's cache
	 * keeps them, as pifsd's journal names whatever changes after the
	 * round, except a file with other names (written through one the
	 * journal names, not this one). */
	if ((nc->mtime >= s->start - RACY_NS ||
	     nc->ctime >= s->start - RACY_NS) &&
	    (!s->unpaused || (nc->flags & CE_LINKS)))
		nc->mtime = nc->ctime = 0;
	pifs_statcache_put(s->newc, nc, e->xattrs, e->nxattrs);
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

/* The names in directory fd dfd (path rel), sorted, malloc'd. */
int pifs_scan_names(struct scan *s, int dfd, const char *rel, char ***out,
		    size_t *nout)
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
		return pifs_scan_fail(s, "read", rel, -errno);
	dir = fdopendir(fd);
	if (!dir) {
		ret = -errno;
		close(fd);
		return pifs_scan_fail(s, "read", rel, ret);
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno)
				ret = pifs_scan_fail(s, "read", rel, -errno);
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

void pifs_scan_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int scan_dir(struct scan *s, int dfd, const char *rel, git_oid *tree,
		    int *nonempty, const struct centry *dce);

/*
 * One child of directory dfd (path rel) that was stated: name, its path
 * (taken over by its entry, freed on failure), its stat sb, its cache
 * record ce (or NULL) and whether that matches (hit).  A subdirectory is
 * scanned in journal mode with jmode.  *oid and *sub_nonempty give its
 * part of the tree; *same says that a subdirectory came out with its
 * cached tree.
 */
int pifs_scan_entry(struct scan *s, int dfd, const char *name, char *path,
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
	if (!pifs_type_letter(sb->st_mode))
		return pifs_scan_fail(s, "read", path, -EINVAL);
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
		ret = pifs_statcache_xattrs(ce->xa, ce->xalen, &e->xattrs,
					    &e->nxattrs);
	else
		ret =
		    pifs_entry_xattrs(dfd, name, 0, 0, &e->xattrs, &e->nxattrs);
	if (ret < 0 && pifs_scan_unstable(s, path, ret, S_ISDIR(sb->st_mode))) {
		scan_pop(s);
		return 0;
	}
	if (ret < 0)
		return pifs_scan_fail(s, "read xattrs of", path, ret);
	if (S_ISDIR(sb->st_mode)) {
		int cfd;

		/* in scan order: before the children */
		coff = s->newc ? s->newc->len : 0;
		ret = pifs_scan_cache_put(s, &nc, e);
		if (ret < 0)
			return ret;
		nput0 = s->nput;
		cfd = openat(dfd, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0 && pifs_scan_unstable(s, path, -errno, 1)) {
			if (s->newc)
				s->newc->len = coff;
			s->nput--;
			scan_pop(s);
			return 0;
		}
		if (cfd < 0)
			return pifs_scan_fail(s, "open", path, -errno);
		ret = jmode ? pifs_scan_journal_dir(s, cfd, path, oid,
						    sub_nonempty)
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
	if (S_ISREG(sb->st_mode) || S_ISLNK(sb->st_mode)) {
		ret = S_ISREG(sb->st_mode)
			  ? file_oid(s, dfd, name, path, sb, e, ce, hit, &nc)
			  : link_oid(s, dfd, name, path, sb, e, ce, hit, &nc);
		if (ret < 0 && pifs_scan_unstable(s, path, ret, 0)) {
			scan_pop(s);
			return 0;
		}
		memcpy(oid->id, e->oid, 20);
		*sub_nonempty = 1;
	}
	if (ret == 0)
		ret = pifs_scan_cache_put(s, &nc, e);
	pifs_scan_tell(s);
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
	ret = pifs_scan_names(s, dfd, rel, &names, &n);
	if (ret < 0)
		return ret;
	sbs = malloc((n ? n : 1) * sizeof(*sbs));
	errs = malloc((n ? n : 1) * sizeof(*errs));
	if (!sbs || !errs) {
		ret = -ENOMEM;
		goto out;
	}
	pifs_statpool_stat(s->pool, dfd, names, n, sbs, errs);
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
		char *path = pifs_scan_child_path(rel, names[i]);

		if (!path) {
			ret = -ENOMEM;
			goto out;
		}
		if (errs[i] && pifs_scan_unstable(s, path, -errs[i], 0)) {
			free(path);
			reuse = 0;
			continue;
		}
		if (errs[i]) {
			ret = pifs_scan_fail(s, "stat", path, -errs[i]);
			free(path);
			goto out;
		}
		ce = cache_match(s, path, &sbs[i], &hit);
		/* below a directory renamed in (the only way here with a
		 * round's cache): its stat may hide a change */
		if (s->distrust)
			hit = 0;
		if (!hit)
			reuse = 0;
		ret = pifs_scan_entry(s, dfd, names[i], path, &sbs[i], ce, hit,
				      0, &oid, &sub_nonempty, &same);
		if (ret < 0)
			goto out;
		if (S_ISDIR(sbs[i].st_mode) && !same)
			reuse = 0;
		if (!s->write || !sub_nonempty)
			continue;
		ret = pifs_tree_add(te, &nt, names[i], &oid, sbs[i].st_mode);
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
		ret = pifs_tree_write(s, te, nt, rel, tree);
out:
	pifs_tree_free(te, nt);
	free(sbs);
	free(errs);
	pifs_scan_names_free(names, n);
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

int pifs_scan_delta(struct pifs_git *g, struct pifs_store *st,
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

	pifs_errclear(errbuf, errlen);
	pifs_meta_init(m);
	ret = pifs_store_worker_golden(st, worker, m->golden);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "bad %s on the delta of %s: %s",
		       PIFS_XATTR_GOLDEN, worker, strerror(-ret));
		return ret;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	s.start = ts_ns(&now);
	if (g && write && g->rounds) {
		/* a later round of a snapshot (snapshot.c): racy as of the
		 * first, and the last round's cache if the journal goes on
		 * from it (every blob in it is staged) */
		s.start = g->round_start;
		if (g->has_jn && g->jn.valid && g->jn.token &&
		    g->jn.token == g->roundtoken &&
		    pifs_statcache_load_mem(&s.old, &g->roundcache) == 0) {
			s.old.token = g->roundtoken;
			s.old.trusted = 1;
			s.distrust = 1;
		}
	}
	s.unpaused = g && write && g->unpaused;
	if (g && !s.distrust) {
		pifs_statcache_open(&s.old, st, worker);
		/* the cache is saved once its commit is durable: all the
		 * blobs it names are in the repository if that commit is */
		s.old.trusted = write && s.old.has_commit &&
				git_odb_exists(g->odb, &s.old.commit);
	}
	if (newc)
		pifs_statcache_begin(newc);
	fd = pifs_store_delta_dir(st, worker);
	if (fd < 0) {
		pifs_seterr(errbuf, errlen, "cannot open the delta of %s '%s/deltas/%s': %s",
		       worker, st->path, worker, strerror(-fd));
		ret = fd;
		goto out;
	}
	ret = pifs_fstat(fd, &sb);
	if (ret == 0)
		ret = pifs_scan_add(&s, ".", &sb, &root);
	if (ret == 0)
		ret = pifs_entry_xattrs(st->deltas_fd, worker, 1, 0,
					&root->xattrs, &root->nxattrs);
	if (ret < 0) {
		pifs_scan_fail(&s, "read", ".", ret);
		goto out_fd;
	}
	if (g && write && g->has_jn && g->jn.valid && g->jn.token &&
	    s.old.trusted && s.old.token == g->jn.token) {
		ret = pifs_scan_journal_build(&jset, &g->jn);
		if (ret == 0 && s.distrust && g->redo.len) {
			/* what the last round saw change under it */
			struct pifs_journal rj = {.buf = g->redo.p,
						  .len = g->redo.len};

			ret = pifs_scan_journal_build(&jset, &rj);
		}
		if (ret == 0)
			s.j = &jset;
		else if (ret == -EINVAL)
			pifs_debug("bad journal from pifsd: stating everything");
		else
			goto out_fd;
	}
	if (g)
		g->redo.len = 0; /* taken in above, or moot in a full scan */
	if (s.j) {
		ret = pifs_scan_journal_dir(&s, fd, ".", tree, &nonempty);
	} else {
		pifs_statpool_start(&pool);
		s.pool = &pool;
		ret = scan_dir(&s, fd, ".", tree, &nonempty, NULL);
		pifs_statpool_stop(&pool);
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
	if (ret < 0)
		pifs_seterr(errbuf, errlen, "cannot read the delta of %s: %s",
			    worker, strerror(-ret));
	if (ret < 0)
		pifs_meta_release(m);
	pifs_statcache_release(&s.old);
	pifs_pathmap_free(&jset);
	free(s.x);
	return ret;
}

int pifs_git_scan(struct pifs_git *g, struct pifs_store *st,
		  const char *worker, struct pifs_meta *m, char *errbuf,
		  size_t errlen)
{
	return pifs_scan_delta(g, st, worker, 0, m, NULL, NULL, errbuf, errlen);
}
