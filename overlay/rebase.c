/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rebase.c - a worker's META moved from one golden onto another; the
 * rules are in rebase.h.  Works on the META of a snapshot (the CLI takes
 * one first), never on a live delta, so an interrupted rebase changes
 * nothing: the result is materialized in work/ and swapped in like a
 * reset.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitstore.h"
#include "layers.h"
#include "manifest.h"
#include "rebase.h"
#include "safeio.h"
#include "util.h"

#define CONFLICTS_DIR "conflicts"

/* The parent of path ("." for a top-level name) into buf. */
static void parent_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(buf, len, ".");
	else
		snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

/* The golden path under entry path (malloc'd into *lp), or *lp NULL when
 * nothing of the golden shows there (below an opaque directory or a
 * non-directory of the delta). */
static int lower_path(const struct pifs_meta *m, const char *path, char **lp)
{
	struct pifs_layers_hit hit;
	int r = pifs_layers_resolve(path, pifs_meta_layers_get, (void *)m, &hit);

	*lp = r < 0 ? NULL : hit.golden;
	return r;
}

/* Did anything below lp (not lp itself) change between the goldens? */
static int subtree_changed(const struct pifs_manifest *a,
			   const struct pifs_manifest *b, const char *lp)
{
	char *prefix = strcmp(lp, ".") ? pifs_strdupf("%s/", lp) : strdup("");
	size_t i, j, pl;
	int changed = 0, c;

	if (!prefix)
		return 1; /* out of memory: say changed, never lose anything */
	pl = strlen(prefix);
	i = pifs_manifest_lower_bound(a, prefix);
	j = pifs_manifest_lower_bound(b, prefix);
	for (;;) {
		int ina = i < a->n && !strncmp(a->e[i].path, prefix, pl) &&
			  strcmp(a->e[i].path, ".");
		int inb = j < b->n && !strncmp(b->e[j].path, prefix, pl) &&
			  strcmp(b->e[j].path, ".");

		if (!ina && !inb)
			break;
		c = !ina ? 1 : !inb ? -1 : strcmp(a->e[i].path, b->e[j].path);
		if (c) {
			changed = 1;
			break;
		}
		if (pifs_manifest_entry_differs(&a->e[i], &b->e[j])) {
			changed = 1;
			break;
		}
		i++;
		j++;
	}
	free(prefix);
	return changed;
}

/* Mode, owner and the xattrs a client sees (private ones left out). */
static int attrs_equal(const struct pifs_meta_entry *x,
		       const struct pifs_meta_entry *y)
{
	size_t i = 0, j = 0;

	if (x->mode != y->mode || x->uid != y->uid || x->gid != y->gid)
		return 0;
	for (;;) {
		while (i < x->nxattrs && pifs_xattr_private(x->xattrs[i].name))
			i++;
		while (j < y->nxattrs && pifs_xattr_private(y->xattrs[j].name))
			j++;
		if (i == x->nxattrs || j == y->nxattrs)
			return i == x->nxattrs && j == y->nxattrs;
		if (strcmp(x->xattrs[i].name, y->xattrs[j].name) ||
		    x->xattrs[i].len != y->xattrs[j].len ||
		    memcmp(x->xattrs[i].value, y->xattrs[j].value,
			   x->xattrs[i].len))
			return 0;
		i++;
		j++;
	}
}

static int xattr_dup(struct pifs_xattr *d, const struct pifs_xattr *s)
{
	d->name = strdup(s->name);
	d->value = malloc(s->len + 1);
	d->len = s->len;
	if (!d->name || !d->value)
		return -ENOMEM;
	memcpy(d->value, s->value, s->len);
	return 0;
}

static int xattr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pifs_xattr *)a)->name,
		      ((const struct pifs_xattr *)b)->name);
}

static int entry_copy(struct pifs_meta_entry *d,
		      const struct pifs_meta_entry *s)
{
	*d = *s;
	d->path = strdup(s->path);
	d->link = s->link ? strdup(s->link) : NULL;
	d->xattrs = calloc(s->nxattrs ? s->nxattrs : 1, sizeof(*d->xattrs));
	d->nxattrs = 0;
	d->ext = NULL;
	if (!d->path || (s->link && !d->link) || !d->xattrs ||
	    pifs_meta_sparse_copy(d, s) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < s->nxattrs; i++, d->nxattrs++)
		if (xattr_dup(&d->xattrs[i], &s->xattrs[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* e takes g's mode, owner and client xattrs, keeping its private ones. */
static int take_attrs(struct pifs_meta_entry *e,
		      const struct pifs_meta_entry *g)
{
	struct pifs_xattr *x;
	size_t n = 0, i;

	x = calloc(e->nxattrs + g->nxattrs + 1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	for (i = 0; i < e->nxattrs; i++) {
		if (pifs_xattr_private(e->xattrs[i].name)) {
			x[n++] = e->xattrs[i];
		} else {
			free(e->xattrs[i].name);
			free(e->xattrs[i].value);
		}
	}
	free(e->xattrs);
	e->xattrs = x;
	e->nxattrs = n;
	for (i = 0; i < g->nxattrs; i++) {
		if (pifs_xattr_private(g->xattrs[i].name))
			continue;
		if (xattr_dup(&x[e->nxattrs], &g->xattrs[i]) < 0)
			return -ENOMEM;
		e->nxattrs++;
	}
	qsort(e->xattrs, e->nxattrs, sizeof(*e->xattrs), xattr_cmp);
	e->mode = g->mode;
	e->uid = g->uid;
	e->gid = g->gid;
	return 0;
}

/* Point e's copy-up origin at inode ino (0: remove it). */
static int set_origin(struct pifs_meta_entry *e, uint64_t ino)
{
	struct pifs_xattr *x =
	    (struct pifs_xattr *)pifs_meta_xattr(e, PIFS_XATTR_ORIGIN);
	size_t i;

	if (!x)
		return 0;
	if (ino) {
		if (x->len < 8) {
			unsigned char *v = realloc(x->value, 9);

			if (!v)
				return -ENOMEM;
			x->value = v;
			x->len = 8;
		}
		for (i = 0; i < 8; i++)
			x->value[i] = (unsigned char)(ino >> (8 * i));
		return 0;
	}
	i = (size_t)(x - e->xattrs);
	free(x->name);
	free(x->value);
	memmove(&e->xattrs[i], &e->xattrs[i + 1],
		(e->nxattrs - i - 1) * sizeof(*x));
	e->nxattrs--;
	return 0;
}

struct rebase {
	struct pifs_store *st;
	const struct pifs_meta *m;
	struct pifs_manifest a, b; /* old and new golden */
	int gold, gnew;
	int theirs;
	unsigned char *drop; /* per entry of m */
	unsigned char *gone; /* per entry: a directory the new golden lacks
			      * (1: removed, 2: replaced), 4: with the
			      * worker's own attributes */
	char **moved;	     /* golden paths renamed in the view (redirect
			      * targets), sorted */
	size_t nmoved;
	char **dropped_dirs; /* in path order */
	size_t ndropped;
	struct pifs_conflict *c;
	size_t nc, cap;
};

static int conflict(struct rebase *r, const char *path, const char *what)
{
	if (r->nc == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct pifs_conflict *n = realloc(r->c, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->c = n;
		r->cap = cap;
	}
	r->c[r->nc].path = strdup(path);
	if (!r->c[r->nc].path)
		return -ENOMEM;
	snprintf(r->c[r->nc].what, sizeof(r->c[r->nc].what), "%s", what);
	r->nc++;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int under_dropped(const struct rebase *r, const char *path)
{
	char buf[PATH_MAX], up[PATH_MAX];
	char *key = buf;

	snprintf(buf, sizeof(buf), "%s", path);
	while (strcmp(buf, ".")) {
		parent_of(buf, up, sizeof(up));
		snprintf(buf, sizeof(buf), "%s", up);
		if (r->ndropped && bsearch(&key, r->dropped_dirs, r->ndropped,
					   sizeof(char *), str_cmp))
			return 1;
	}
	return 0;
}

static int drop_entry(struct rebase *r, size_t i)
{
	const struct pifs_meta_entry *e = &r->m->entries[i];
	char **n;

	r->drop[i] = 1;
	if (e->type != 'd')
		return 0;
	n = realloc(r->dropped_dirs, (r->ndropped + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->dropped_dirs = n;
	n[r->ndropped] = strdup(e->path);
	if (!n[r->ndropped])
		return -ENOMEM;
	r->ndropped++;
	return 0;
}

/* A conflict at entry i: listed; with theirs the entry goes. */
static int at_conflict(struct rebase *r, size_t i, const char *what)
{
	int ret = conflict(r, r->m->entries[i].path, what);

	if (ret == 0 && r->theirs)
		ret = drop_entry(r, i);
	return ret;
}

static const char *tname(char t)
{
	switch (t) {
	case 'f': return "file";
	case 'd': return "directory";
	case 'l': return "symlink";
	case 'p': return "fifo";
	case 's': return "socket";
	default: return "device";
	}
}

/* Decide entry i (not the root); e is its copy in the result. */
static int decide(struct rebase *r, size_t i, struct pifs_meta_entry *e)
{
	const struct pifs_meta_entry *src = &r->m->entries[i];
	const struct pifs_manifest_entry *ga, *gb;
	char *lp = NULL, what[96];
	struct stat sb;
	int ret, sub;

	if ((ret = lower_path(r->m, src->path, &lp)) < 0)
		return ret;
	if (!lp)
		return 0; /* only the worker's: kept as it is */
	ga = pifs_manifest_find(&r->a, lp);
	gb = pifs_manifest_find(&r->b, lp);
	sub = (ga && ga->type == 'd') || (gb && gb->type == 'd')
		  ? subtree_changed(&r->a, &r->b, lp)
		  : 0;
	if (pifs_meta_is_whiteout(src)) {
		char *key = lp;

		if (r->nmoved && bsearch(&key, r->moved, r->nmoved,
					 sizeof(char *), str_cmp))
			goto out; /* renamed away: it lives on (redirect) */
		if (!gb)
			ret = drop_entry(r, i); /* the golden deleted it too */
		else if (pifs_manifest_entry_differs(ga, gb) || sub)
			ret = at_conflict(r, i, ga ? "deleted here, changed in "
						     "the new golden"
						   : "deleted here, added by "
						     "the new golden");
		goto out;
	}
	if (src->type == 'd' && pifs_meta_is_opaque(src)) {
		if ((ga || gb) && (pifs_manifest_entry_differs(ga, gb) || sub))
			ret = at_conflict(r, i, "replaced here, changed in the "
						"new golden");
		goto out;
	}
	if (src->type == 'd') {
		struct pifs_meta_entry oa, ob;

		if (!ga || ga->type != 'd') {
			/* made here (or over a non-directory of the old) */
			if (gb && gb->type != 'd') {
				snprintf(what, sizeof(what),
					 "a directory here, a %s in the new "
					 "golden",
					 tname(gb->type));
				ret = at_conflict(r, i, what);
			}
			goto out;
		}
		if (!gb || gb->type != 'd') {
			/* decided once its children are (settle_gone) */
			r->gone[i] = gb ? 2 : 1;
			if ((ret = pifs_git_golden_entry(r->gold, lp, &oa)) < 0)
				goto out;
			if (!attrs_equal(src, &oa))
				r->gone[i] |= 4;
			pifs_meta_entry_release(&oa);
			ret = set_origin(e, 0);
			goto out;
		}
		if ((ret = pifs_git_golden_entry(r->gold, lp, &oa)) < 0)
			goto out;
		if ((ret = pifs_git_golden_entry(r->gnew, lp, &ob)) < 0) {
			pifs_meta_entry_release(&oa);
			goto out;
		}
		if (attrs_equal(src, &oa)) {
			ret = take_attrs(e, &ob);
		} else if (!attrs_equal(&oa, &ob)) {
			ret = conflict(r, src->path, "attributes changed here "
						     "and in the new golden");
			if (ret == 0 && r->theirs)
				ret = take_attrs(e, &ob);
		}
		pifs_meta_entry_release(&oa);
		pifs_meta_entry_release(&ob);
		if (ret == 0 && pifs_lstat_beneath(r->gnew, lp, &sb) == 0)
			ret = set_origin(e, (uint64_t)sb.st_ino);
		goto out;
	}
	/* a file, symlink, device, fifo or socket */
	if (!ga) {
		if (gb) {
			snprintf(what, sizeof(what),
				 "added here, a %s added by the new golden",
				 tname(gb->type));
			ret = at_conflict(r, i, what);
		}
	} else if (pifs_manifest_entry_differs(ga, gb) || sub) {
		ret = at_conflict(r, i, gb ? "changed here and in the new "
					     "golden"
					   : "changed here, removed in the "
					     "new golden");
	}
	if (ret == 0 && !r->drop[i]) {
		if (gb && ga && gb->type == src->type &&
		    pifs_lstat_beneath(r->gnew, lp, &sb) == 0)
			ret = set_origin(e, (uint64_t)sb.st_ino);
		else
			ret = set_origin(e, 0);
	}
out:
	free(lp);
	return ret;
}

static int below(const char *path, const char *dir)
{
	size_t l = strlen(dir);

	return !strncmp(path, dir, l) && path[l] == '/';
}

/*
 * Directories the new golden removed (or replaced by a non-directory),
 * deepest first: one the worker holds only as the way to something that
 * is gone now (no entry left below it, its attributes the old golden's)
 * goes quietly, as the golden wants; one with the worker's files or
 * attributes is a conflict (theirs: it goes, with everything below).
 */
static int settle_gone(struct rebase *r)
{
	const struct pifs_meta *m = r->m;
	int ret = 0;

	for (size_t i = m->count; i-- > 1 && ret == 0;) {
		int kept = 0;

		if (!r->gone[i] || r->drop[i])
			continue;
		for (size_t j = i + 1; j < m->count && !kept; j++)
			kept = !r->drop[j] && below(m->entries[j].path,
						    m->entries[i].path);
		if (!kept && !(r->gone[i] & 4)) {
			r->drop[i] = 1;
			continue;
		}
		ret = conflict(r, m->entries[i].path,
			       r->gone[i] & 2 ? "the new golden replaced this "
						"directory"
					      : "the new golden removed this "
						"directory");
		if (ret == 0 && r->theirs) {
			r->drop[i] = 1;
			for (size_t j = i + 1; j < m->count; j++)
				if (below(m->entries[j].path,
					  m->entries[i].path))
					r->drop[j] = 1;
		}
	}
	return ret;
}

/* theirs: a dropped name takes the other names of its hard-link group
 * with it (they are one file). */
static void drop_link_groups(struct rebase *r)
{
	const struct pifs_meta *m = r->m;

	for (size_t i = 0; i < m->count; i++) {
		const struct pifs_meta_entry *e = &m->entries[i];
		const char *key;

		if (!r->drop[i] || e->type == 'd')
			continue;
		key = e->link ? e->link : e->path;
		for (size_t j = 0; j < m->count; j++) {
			const struct pifs_meta_entry *o = &m->entries[j];

			if (!r->drop[j] && o->type != 'd' &&
			    ((o->link && !strcmp(o->link, key)) ||
			     !strcmp(o->path, key)))
				r->drop[j] = 1;
		}
	}
}

static int conflict_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pifs_conflict *)a)->path,
		      ((const struct pifs_conflict *)b)->path);
}

int pifs_rebase_meta(struct pifs_store *st, const struct pifs_meta *m,
		     const char *new_id, int theirs, struct pifs_meta *out,
		     struct pifs_conflict **conflicts, size_t *nconflicts,
		     char *errbuf, size_t errlen)
{
	struct rebase r = {.st = st, .m = m, .theirs = theirs, .gold = -1,
			   .gnew = -1};
	struct pifs_meta_entry *res = NULL;
	size_t i, n = 0;
	int ret;

	pifs_errclear(errbuf, errlen);
	pifs_meta_init(out);
	*conflicts = NULL;
	*nconflicts = 0;
	if (!m->count || strcmp(m->entries[0].path, ".")) {
		pifs_seterr(errbuf, errlen, "the snapshot has no root entry");
		return -EINVAL;
	}
	if ((ret = pifs_store_golden_manifest(st, m->golden, &r.a)) < 0) {
		pifs_seterr(errbuf, errlen, "cannot read the manifest of golden %s: %s",
		       m->golden, strerror(-ret));
		return ret;
	}
	if ((ret = pifs_store_golden_manifest(st, new_id, &r.b)) < 0) {
		pifs_seterr(errbuf, errlen, "cannot read the manifest of golden %s: %s",
		       new_id, strerror(-ret));
		goto out;
	}
	r.gold = pifs_store_golden_open(st, m->golden);
	r.gnew = pifs_store_golden_open(st, new_id);
	r.drop = calloc(m->count, 1);
	r.gone = calloc(m->count, 1);
	res = calloc(m->count, sizeof(*res));
	if (r.gold < 0 || r.gnew < 0) {
		ret = r.gold < 0 ? r.gold : r.gnew;
		pifs_seterr(errbuf, errlen, "cannot open golden %s: %s",
		       r.gold < 0 ? m->golden : new_id, strerror(-ret));
		goto out;
	}
	if (!r.drop || !r.gone || !res) {
		ret = -ENOMEM;
		goto out;
	}
	r.moved = calloc(m->count, sizeof(*r.moved));
	if (!r.moved) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < m->count; i++) {
		if ((ret = pifs_meta_redirect(&m->entries[i],
					      &r.moved[r.nmoved])) < 0)
			goto out;
		if (r.moved[r.nmoved])
			r.nmoved++;
	}
	if (r.nmoved > 1)
		qsort(r.moved, r.nmoved, sizeof(*r.moved), str_cmp);
	for (i = 0; i < m->count; i++) {
		if (i && under_dropped(&r, m->entries[i].path)) {
			r.drop[i] = 1;
			if (m->entries[i].type == 'd' &&
			    (ret = drop_entry(&r, i)) < 0)
				goto out;
			continue;
		}
		if ((ret = entry_copy(&res[i], &m->entries[i])) < 0)
			goto out;
		ret = i ? decide(&r, i, &res[i]) : 0;
		if (ret < 0) {
			pifs_seterr(errbuf, errlen, "cannot rebase '%s': %s",
			       m->entries[i].path, strerror(-ret));
			goto out;
		}
	}
	/* the root: a directory that is always there */
	{
		struct pifs_meta_entry oa, ob;
		struct stat sb;

		if ((ret = pifs_git_golden_entry(r.gold, ".", &oa)) < 0)
			goto out;
		if ((ret = pifs_git_golden_entry(r.gnew, ".", &ob)) < 0) {
			pifs_meta_entry_release(&oa);
			goto out;
		}
		if (attrs_equal(&m->entries[0], &oa))
			ret = take_attrs(&res[0], &ob);
		else if (!attrs_equal(&oa, &ob) &&
			 (ret = conflict(&r, ".", "attributes changed here "
						  "and in the new golden")) == 0 &&
			 theirs)
			ret = take_attrs(&res[0], &ob);
		pifs_meta_entry_release(&oa);
		pifs_meta_entry_release(&ob);
		if (ret == 0 && pifs_fstat(r.gnew, &sb) == 0)
			ret = set_origin(&res[0], (uint64_t)sb.st_ino);
		if (ret < 0)
			goto out;
	}
	if ((ret = settle_gone(&r)) < 0)
		goto out;
	if (theirs)
		drop_link_groups(&r);
	out->entries = calloc(m->count, sizeof(*out->entries));
	if (!out->entries) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < m->count; i++) {
		if (r.drop[i]) {
			pifs_meta_entry_release(&res[i]);
			continue;
		}
		out->entries[n++] = res[i];
		memset(&res[i], 0, sizeof(res[i]));
	}
	out->count = n;
	memcpy(out->golden, new_id, 17);
	if (r.nc > 1)
		qsort(r.c, r.nc, sizeof(*r.c), conflict_cmp);
	*conflicts = r.c;
	*nconflicts = r.nc;
	r.c = NULL;
	r.nc = 0;
	ret = 0;
out:
	if (ret == -ENOMEM)
		pifs_seterr(errbuf, errlen, "out of memory");
	for (i = 0; res && i < m->count; i++)
		pifs_meta_entry_release(&res[i]);
	free(res);
	if (ret < 0)
		pifs_meta_release(out);
	pifs_conflicts_free(r.c, r.nc);
	for (i = 0; i < r.ndropped; i++)
		free(r.dropped_dirs[i]);
	free(r.dropped_dirs);
	for (i = 0; r.moved && i < r.nmoved; i++)
		free(r.moved[i]);
	free(r.moved);
	free(r.drop);
	free(r.gone);
	if (r.gold >= 0)
		close(r.gold);
	if (r.gnew >= 0)
		close(r.gnew);
	pifs_manifest_release(&r.a);
	pifs_manifest_release(&r.b);
	return ret;
}

void pifs_conflicts_free(struct pifs_conflict *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		free(c[i].path);
	free(c);
}

int pifs_conflicts_save(struct pifs_store *st, const char *worker,
			const struct pifs_conflict *c, size_t n)
{
	char *text = NULL, *esc, *t;
	size_t len = 0;
	int ret, dfd;

	if ((ret = pifs_check_name(worker)) < 0)
		return ret;
	if ((ret = pifs_do_mkdir(st->fd, CONFLICTS_DIR, 0700)) < 0 &&
	    ret != -EEXIST)
		return ret;
	dfd = pifs_openat_beneath(st->fd, CONFLICTS_DIR,
				  O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (dfd < 0)
		return dfd;
	if (!n) {
		ret = pifs_do_unlink(dfd, worker, 0);
		if (ret == -ENOENT)
			ret = 0;
		if (ret == 0)
			ret = pifs_fsync_dir(dfd);
		close(dfd);
		return ret;
	}
	text = strdup("");
	for (size_t i = 0; text && i < n; i++) {
		esc = pifs_path_escape(c[i].path);
		t = esc ? pifs_strdupf("%s%s %s\n", text, esc, c[i].what) : NULL;
		free(esc);
		free(text);
		text = t;
	}
	if (!text) {
		close(dfd);
		return -ENOMEM;
	}
	len = strlen(text);
	ret = pifs_write_file_atomic(dfd, worker, text, len, 0600);
	free(text);
	close(dfd);
	return ret;
}

int pifs_conflicts_load(struct pifs_store *st, const char *worker,
			struct pifs_conflict **c, size_t *n)
{
	char sub[PIFS_NAME_MAX + 32], *text = NULL, *line, *next, *sp;
	struct pifs_conflict *v = NULL;
	size_t cnt = 0;
	int ret;

	*c = NULL;
	*n = 0;
	if ((ret = pifs_check_name(worker)) < 0)
		return ret;
	snprintf(sub, sizeof(sub), CONFLICTS_DIR "/%s", worker);
	ret = pifs_read_file(st->fd, sub, 64 << 20, &text, NULL);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	for (line = text; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		cnt++;
	}
	v = calloc(cnt ? cnt : 1, sizeof(*v));
	if (!v) {
		free(text);
		return -ENOMEM;
	}
	cnt = 0;
	for (next = text; (line = pifs_line_next(&next));) {
		sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		v[cnt].path = pifs_path_unescape(line);
		if (!v[cnt].path)
			continue;
		snprintf(v[cnt].what, sizeof(v[cnt].what), "%s", sp + 1);
		cnt++;
	}
	free(text);
	*c = v;
	*n = cnt;
	return 0;
}
