/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * diff.c - the view-level diff: what two views (a delta over its golden,
 * or the bare golden) show differently at every path either delta holds,
 * the golden children an opaque directory hides and every path where the
 * two goldens differ (show.c reads a file as a view showed it).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "manifest.h"
#include "layers.h"
#include "safeio.h"
#include "store.h"

void pifs_diff_vent_release(struct vent *v)
{
	if (v->e == &v->gold)
		pifs_meta_entry_release(&v->gold);
	free(v->gpath);
	memset(v, 0, sizeof(*v));
}

/* The blob id of a golden file or symlink as a snapshot would store it:
 * a file of holes (sparse.c) as the blob of its data, its map into e. */
static int golden_oid(int gfd, const char *gpath, char type,
		      struct pifs_meta_entry *e)
{
	char target[PATH_MAX + 1], proc[32];
	unsigned char *oid = e->oid;
	uint64_t xxh;
	struct stat sb;
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
		/* streamed by libgit2, never whole in memory */
		fd = pifs_openat_beneath(gfd, gpath, O_RDONLY | O_NOFOLLOW, 0);
		if (fd < 0)
			return fd;
		ret = pifs_fstat(fd, &sb);
		if (ret == 0)
			ret = pifs_sparse_map(fd, (uint64_t)sb.st_size, &e->ext,
					      &e->next);
		if (ret > 0) {
			e->sparse = 1;
			ret = pifs_sparse_blob(NULL, NULL, fd,
					       (uint64_t)sb.st_size, e->ext,
					       e->next, gpath, &o, &xxh, NULL,
					       0);
		} else if (ret == 0) {
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			ret = git_odb_hashfile(&o, proc, GIT_OBJECT_BLOB) < 0
				  ? -EIO
				  : 0;
		}
		close(fd);
		if (ret < 0)
			return ret;
	}
	memcpy(oid, o.id, 20);
	return 0;
}

int pifs_diff_view_lookup(int gfd, const struct pifs_meta *m,
		       const char *path, struct vent *v)
{
	struct pifs_layers_hit hit = {0};
	const char *gp = path;
	char *g;
	int ret;

	memset(v, 0, sizeof(*v));
	v->gfd = gfd;
	/* what the view shows (overlay/layers.c, the rule lookups follow):
	 * the delta's entry, or the golden's at the path its ancestors'
	 * redirects give, unless one of them hides it */
	if (m) {
		ret = pifs_layers_resolve(path, pifs_meta_layers_get, (void *)m,
					  &hit);
		if (ret < 0)
			return ret;
		if (hit.in_delta) {
			free(hit.golden);
			if (!hit.whiteout) {
				v->e = pifs_meta_find(m, path);
				v->present = v->e != NULL;
			}
			return 0;
		}
		if (!hit.merged || !hit.golden) {
			free(hit.golden);
			return 0;
		}
		gp = hit.golden[0] ? hit.golden : ".";
	}
	g = strdup(gp);
	free(hit.golden);
	if (!g)
		return -ENOMEM;
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
	ret = golden_oid(v->gfd, v->gpath, v->e->type, &v->gold);
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

/* Is the content of a and b (files, one stored sparse, the other whole)
 * the same?  A whole blob of a file with holes is what an older pifs
 * stored: it is read through and compared.  A golden file's form is
 * worked out as a snapshot's (golden_oid), so one whole there and sparse
 * here is another content. */
static int same_mixed(struct pifs_git *g, struct vent *a, struct vent *b)
{
	struct vent *w = a->e->sparse ? b : a, *sv = a->e->sparse ? a : b;

	if (!g || w->e == &w->gold)
		return 0;
	return pifs_bigblob_same_sparse(g, w->e->oid, sv->e->size, sv->e) == 1;
}

/* Describe how b differs from a into what ("" = same); *content_changed
 * says whether the data differs. */
static int vent_compare(struct pifs_git *g, struct vent *a, struct vent *b,
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
			/* a sparse file's blob is its data: the same
			 * blob and map */
			if (a->e->sparse != b->e->sparse)
				*content_changed = !same_mixed(g, a, b);
			else
				*content_changed =
				    memcmp(a->e->oid, b->e->oid, 20) != 0 ||
				    !pifs_meta_sparse_equal(a->e, b->e);
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

int pifs_diff_pathset_add(struct pathset *ps, const char *path)
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
int pifs_diff_opaque_children(int gfd, const char *path, struct pathset *ps)
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
			ret = pifs_diff_pathset_add(ps, child);
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
const char *pifs_diff_side_golden(struct pifs_store *st,
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
	*gold = pifs_store_golden_open(st, pifs_diff_side_golden(st, old, new));
	if (*gold < 0)
		return *gold;
	*gnew = pifs_store_golden_open(st, pifs_diff_side_golden(st, new, old));
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
			ret = pifs_diff_pathset_add(ps, a.e[i++].path);
		else if (c > 0)
			ret = pifs_diff_pathset_add(ps, b.e[j++].path);
		else {
			if (pifs_manifest_entry_differs(&a.e[i], &b.e[j]) ||
			    a.e[i].sec != b.e[j].sec || a.e[i].nsec != b.e[j].nsec)
				ret = pifs_diff_pathset_add(ps, a.e[i].path);
			i++;
			j++;
		}
	}
	pifs_manifest_release(&a);
	pifs_manifest_release(&b);
	return ret;
}

/* The changes at the paths of ps (sorted in place; duplicates allowed). */
int pifs_diff_paths(struct pifs_git *g, struct pifs_store *st,
		    const struct pifs_meta *old,
		    const struct pifs_meta *new, struct pathset *ps,
		    char *const *paths, size_t npaths, struct pifs_change **out,
		    size_t *n_out, size_t *cap_out)
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
		if ((ret = pifs_diff_view_lookup(gold, old, ps->p[i], &a)) < 0)
			goto out;
		if ((ret = pifs_diff_view_lookup(gnew, new, ps->p[i], &b)) < 0) {
			pifs_diff_vent_release(&a);
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
			ret = vent_compare(g, &a, &b, what, sizeof(what), &cc,
					   &om);
			if (ret == 0 && what[0] && !(om && b.e->type == 'd'))
				ret = changes_add(
				    out, &n, &cap, 'M', ps->p[i], what,
				    cc && b.e->size != UINT64_MAX ? b.e->size
								   : 0);
		}
		pifs_diff_vent_release(&a);
		pifs_diff_vent_release(&b);
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

void pifs_diff_pathset_free(struct pathset *ps)
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

	pifs_errclear(errbuf, errlen);
	*out = NULL;
	*n_out = 0;
	for (k = 0; k < 2 && ret == 0; k++) {
		const struct pifs_meta *m = sides[k];
		int gfd = pifs_store_golden_open(
		    st, pifs_diff_side_golden(st, m, sides[1 - k]));

		if (gfd < 0) {
			ret = gfd;
			break;
		}
		for (i = 0; m && i < m->count && ret == 0; i++) {
			ret = pifs_diff_pathset_add(&ps, m->entries[i].path);
			if (ret == 0 && pifs_meta_is_opaque(&m->entries[i]))
				ret = pifs_diff_opaque_children(
				    gfd, m->entries[i].path, &ps);
		}
		close(gfd);
	}
	if (ret == 0)
		ret = add_golden_changes(st, pifs_diff_side_golden(st, old, new),
					 pifs_diff_side_golden(st, new, old), &ps);
	if (ret == 0)
		ret = pifs_diff_paths(g, st, old, new, &ps, paths, npaths, out,
				      &n, &cap);
	pifs_diff_pathset_free(&ps);
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
