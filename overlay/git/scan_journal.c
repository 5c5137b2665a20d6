/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * scan_journal.c - the scan of a delta guided by pifsd's journal of what
 * a mounted worker changed: only the journaled paths and their
 * ancestors are stated, everything else is taken from the stat cache.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

/*
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
int pifs_scan_journal_build(struct pifs_pathmap *j,
			    const struct pifs_journal *jn)
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
		    !pifs_type_letter(c->e[i].mode) ||
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
		ret = pifs_scan_add(s, ce->path, &sb, &e);
		if (ret < 0)
			return ret;
		ret = pifs_statcache_xattrs(ce->xa, ce->xalen, &e->xattrs,
					    &e->nxattrs);
		if (ret < 0)
			return ret;
		if (S_ISREG(ce->mode) || S_ISLNK(ce->mode)) {
			memcpy(e->oid, ce->oid.id, 20);
			e->has_oid = 1;
		}
		if (ce->flags & CE_SPARSE &&
		    (ret = pifs_statcache_sparse(ce, e)) < 0)
			return ret;
		nc = *ce;
		nc.path = e->path;
		if ((ret = pifs_scan_cache_put(s, &nc, e)) < 0)
			return ret;
	}
	s->old.cursor = end;
	pifs_scan_tell(s);
	return 0;
}

/* scan_dir guided by the journal: rel is the root, a journaled directory
 * or an ancestor of a journaled path (so stated by the caller). */
int pifs_scan_journal_dir(struct scan *s, int dfd, const char *rel,
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
	ret = pifs_scan_names(s, dfd, rel, &names, &n);
	if (ret < 0)
		return ret;
	te = calloc(n ? n : 1, sizeof(*te));
	if (!te) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		char *path = pifs_scan_child_path(rel, names[i]);

		if (!path) {
			ret = -ENOMEM;
			goto out;
		}
		f = pifs_pathmap_get(s->j, path);
		ce = pifs_statcache_find(&s->old, path);
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
				ret = pifs_tree_add(te, &nt, names[i], &oid,
						    ce->mode);
				if (ret < 0)
					goto out;
				*nonempty = 1;
			}
			continue;
		}
		s->nstat++;
		if (fstatat(dfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = -errno;
			if (!pifs_scan_unstable(s, path, ret, 0)) {
				pifs_scan_fail(s, "stat", path, ret);
				free(path);
				goto out;
			}
			free(path);
			ret = 0;
			continue;
		}
		hit = pifs_statcache_hit(ce, &sb);
		/* A round's cache keeps racy times (scan.c): what the
		 * journal names is read again. */
		if (s->distrust && (f & (JN_DIRTY | JN_FULL)))
			hit = 0;
		ret =
		    pifs_scan_entry(s, dfd, names[i], path, &sb, ce, hit,
				    !(f & JN_FULL), &oid, &sub_nonempty, &same);
		if (ret < 0)
			goto out;
		if (!sub_nonempty)
			continue;
		ret = pifs_tree_add(te, &nt, names[i], &oid, sb.st_mode);
		if (ret < 0)
			goto out;
		*nonempty = 1;
	}
	ret = pifs_tree_write(s, te, nt, rel, tree);
out:
	pifs_tree_free(te, nt);
	pifs_scan_names_free(names, n);
	return ret;
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
