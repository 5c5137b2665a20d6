/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * update.c - a delta built in work/ (pifs_git_materialize_meta) brought
 * from one META to another at the cost of what differs between them, for
 * a rebase that catches up with what its worker changed while the
 * rebuilt delta was being written (design: tools/cmd-reset.c).
 *
 * The entries that differ (content, type, attributes, hard-link group:
 * a changed member takes its whole group) are made by the one restorer,
 * pifs_git_materialize_meta, as a partial delta beside it (the changed
 * entries and their directories); then in the delta, deepest first,
 * what went or changed is removed; in path order the new entries are
 * renamed in from the partial delta (a new directory with its subtree);
 * the directories whose attributes changed or whose entries did get
 * their attributes again, deepest first (times last, as a restore sets
 * them); the file system is synced.  On failure the delta is half
 * updated: the caller drops it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "safeio.h"
#include "store.h"

/* Does a entry record the same thing as b (META line and blob)? */
static int entry_same(const struct pifs_meta_entry *a,
		      const struct pifs_meta_entry *b)
{
	size_t i;

	if (a->type != b->type || a->mode != b->mode || a->uid != b->uid ||
	    a->gid != b->gid || a->mtime_sec != b->mtime_sec ||
	    a->mtime_nsec != b->mtime_nsec || a->rdev_major != b->rdev_major ||
	    a->rdev_minor != b->rdev_minor || !a->link != !b->link ||
	    (a->link && strcmp(a->link, b->link)) ||
	    a->nxattrs != b->nxattrs || a->has_oid != b->has_oid ||
	    (a->has_oid && memcmp(a->oid, b->oid, 20)))
		return 0;
	for (i = 0; i < a->nxattrs; i++)
		if (strcmp(a->xattrs[i].name, b->xattrs[i].name) ||
		    a->xattrs[i].len != b->xattrs[i].len ||
		    memcmp(a->xattrs[i].value, b->xattrs[i].value,
			   a->xattrs[i].len))
			return 0;
	return 1;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The leader of e's hard-link group (its own path when it leads one). */
static const char *leader(const struct pifs_meta_entry *e)
{
	return e->link ? e->link : e->path;
}

static int is_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strcmp(dir, ".") ||
	       (!strncmp(path, dir, n) && path[n] == '/');
}

static int set_xattrs_cb(void *ctx, int dirfd, const char *name)
{
	const struct pifs_meta_entry *e = ctx;
	int ret;

	for (size_t i = 0; i < e->nxattrs; i++) {
		ret = pifs_lsetxattr(dirfd, name, e->xattrs[i].name,
				     e->xattrs[i].value, e->xattrs[i].len, 0);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* A directory's attributes from b, the xattrs a had and b has not
 * removed first (a may be NULL); the root's through work/ (workfd) and
 * its name there, as a restore sets them. */
static int dir_attrs(int root, int workfd, const char *tmpname,
		     const struct pifs_meta_entry *a,
		     const struct pifs_meta_entry *b)
{
	struct stat st = {0};
	const char *name;
	char *parent = NULL;
	int pfd, ret = 0;

	if (strcmp(b->path, ".")) {
		pfd = pifs_entry_open_parent(root, b->path, &parent, &name);
		if (pfd < 0)
			return pfd;
	} else {
		pfd = dup(workfd);
		name = tmpname;
		if (pfd < 0)
			return -errno;
	}
	for (size_t i = 0; a && i < a->nxattrs && ret == 0; i++)
		if (!pifs_meta_xattr(b, a->xattrs[i].name)) {
			ret = pifs_lremovexattr(pfd, name, a->xattrs[i].name);
			if (ret == -ENODATA)
				ret = 0;
		}
	st.st_uid = b->uid;
	st.st_gid = b->gid;
	st.st_mode = S_IFDIR | b->mode;
	st.st_atim.tv_sec = st.st_mtim.tv_sec = (time_t)b->mtime_sec;
	st.st_atim.tv_nsec = st.st_mtim.tv_nsec = (long)b->mtime_nsec;
	if (ret == 0)
		ret = pifs_apply_attrs(pfd, name, &st, set_xattrs_cb, (void *)b,
				       NULL);
	close(pfd);
	free(parent);
	return ret;
}

struct upd {
	const struct pifs_meta *a, *b;
	/* per entry of b: 0 the same, 1 to make (renamed in from the
	 * partial delta), 2 a directory whose attributes changed, 3 made
	 * with an ancestor that is made */
	unsigned char *bst;
	/* per entry of a: 1 to remove */
	unsigned char *ast;
	/* directories of b whose entries change: attributes again */
	unsigned char *touched;
	char **dirty; /* leaders of changed hard-link groups, sorted */
	size_t ndirty;
};

static int dirty_add(struct upd *u, size_t *cap, const char *path)
{
	char **n;

	if (u->ndirty == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		n = realloc(u->dirty, *cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		u->dirty = n;
	}
	u->dirty[u->ndirty++] = (char *)path;
	return 0;
}

static int dirty_has(const struct upd *u, const char *path)
{
	return u->ndirty && bsearch(&path, u->dirty, u->ndirty,
				    sizeof(*u->dirty), str_cmp);
}

/* Mark the directory above path touched (its entry in b). */
static void touch_parent(struct upd *u, const char *path)
{
	const struct pifs_meta_entry *p;
	char *dir = strdup(path), *slash;

	if (!dir)
		return; /* the sync still makes it whole; only a time left */
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	p = pifs_meta_find(u->b, slash ? dir : ".");
	if (p && p->type == 'd')
		u->touched[p - u->b->entries] = 1;
	free(dir);
}

/* What differs between a and b, into u. */
static int classify(struct upd *u)
{
	const struct pifs_meta *a = u->a, *b = u->b;
	const struct pifs_meta_entry *ea, *eb;
	size_t i, cap = 0;
	int ret;

	/* groups with a member that changed, went or came */
	for (i = 0; i < b->count; i++) {
		eb = &b->entries[i];
		ea = pifs_meta_find(a, eb->path);
		if (eb->type != 'd' && (!ea || !entry_same(ea, eb)) &&
		    (ret = dirty_add(u, &cap, leader(eb))) < 0)
			return ret;
		if (ea && ea->type != 'd' && !entry_same(ea, eb) &&
		    (ret = dirty_add(u, &cap, leader(ea))) < 0)
			return ret;
	}
	for (i = 0; i < a->count; i++) {
		ea = &a->entries[i];
		if (ea->type != 'd' && !pifs_meta_find(b, ea->path) &&
		    (ret = dirty_add(u, &cap, leader(ea))) < 0)
			return ret;
	}
	if (u->ndirty > 1)
		qsort(u->dirty, u->ndirty, sizeof(*u->dirty), str_cmp);
	for (i = 1; i < b->count; i++) {
		eb = &b->entries[i];
		ea = pifs_meta_find(a, eb->path);
		if (eb->type == 'd') {
			if (!ea || ea->type != 'd')
				u->bst[i] = 1;
			else if (!entry_same(ea, eb))
				u->bst[i] = 2;
		} else if (!ea || !entry_same(ea, eb) ||
			   dirty_has(u, leader(eb))) {
			u->bst[i] = 1;
		}
		if (u->bst[i] == 1)
			touch_parent(u, eb->path);
	}
	for (i = 1; i < a->count; i++) {
		ea = &a->entries[i];
		eb = pifs_meta_find(b, ea->path);
		if (!eb || (eb->type == 'd') != (ea->type == 'd') ||
		    (ea->type != 'd' &&
		     (!entry_same(ea, eb) || dirty_has(u, leader(ea))))) {
			u->ast[i] = 1;
			touch_parent(u, ea->path);
		}
	}
	/* below a directory that is made: made with it */
	for (i = 1; i < b->count; i++) {
		size_t j;

		if (u->bst[i] != 1 || b->entries[i].type != 'd')
			continue;
		for (j = i + 1; j < b->count &&
				is_below(b->entries[j].path, b->entries[i].path);
		     j++)
			u->bst[j] = 3;
	}
	return 0;
}

/* The partial META: b's root, what is made and the directories above. */
static int partial_meta(const struct upd *u, struct pifs_meta *p)
{
	const struct pifs_meta *b = u->b;
	unsigned char *in = calloc(b->count ? b->count : 1, 1);
	const struct pifs_meta_entry *d;
	size_t i, n = 0;
	char *q, *slash;

	if (!in)
		return -ENOMEM;
	in[0] = 1;
	for (i = 1; i < b->count; i++) {
		if (!u->bst[i] || u->bst[i] == 2)
			continue;
		in[i] = 1;
		q = strdup(b->entries[i].path);
		if (!q) {
			free(in);
			return -ENOMEM;
		}
		while ((slash = strrchr(q, '/'))) {
			*slash = '\0';
			d = pifs_meta_find(b, q);
			if (d)
				in[d - b->entries] = 1;
		}
		free(q);
	}
	p->entries = malloc(b->count * sizeof(*p->entries));
	if (!p->entries) {
		free(in);
		return -ENOMEM;
	}
	for (i = 0; i < b->count; i++)
		if (in[i])
			p->entries[n++] = b->entries[i]; /* shallow */
	p->count = n;
	memcpy(p->golden, b->golden, sizeof(p->golden));
	free(in);
	return 0;
}

static int upd_fail(char *errbuf, size_t errlen, const char *what,
		    const char *path, int err)
{
	pifs_seterr(errbuf, errlen, "cannot %s '%s': %s", what, path,
		    strerror(-err));
	return err;
}

int pifs_git_materialize_update(struct pifs_git *g, struct pifs_store *st,
				const struct pifs_meta *a,
				const struct pifs_meta *b, const char *tmpname,
				char *errbuf, size_t errlen)
{
	struct upd u = {.a = a, .b = b};
	struct pifs_meta p = {{0}};
	char part[PIFS_NAME_MAX + 48], *pparent = NULL, *tparent = NULL;
	const char *pname, *tname;
	int ret, root = -1, proot = -1, pfd, tfd;
	size_t i, made = 0;

	pifs_errclear(errbuf, errlen);
	if (!a->count || !b->count || strcmp(a->entries[0].path, ".") ||
	    strcmp(b->entries[0].path, ".")) {
		pifs_seterr(errbuf, errlen, "a delta without its root entry");
		return -EINVAL;
	}
	u.bst = calloc(b->count, 1);
	u.touched = calloc(b->count, 1);
	u.ast = calloc(a->count, 1);
	ret = !u.bst || !u.touched || !u.ast ? -ENOMEM : classify(&u);
	if (ret == 0)
		ret = partial_meta(&u, &p);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "out of memory");
		goto out;
	}
	root = pifs_openat_beneath(st->work_fd, tmpname,
				   O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (root < 0) {
		ret = upd_fail(errbuf, errlen, "open", tmpname, root);
		goto out;
	}
	for (i = 1; i < b->count; i++)
		made += u.bst[i] == 1;
	if (made) {
		snprintf(part, sizeof(part), "%s.part", tmpname);
		pifs_remove_tree(st->work_fd, part); /* of a failed update */
		ret = pifs_git_materialize_meta(g, st, &p, NULL, part, errbuf,
						errlen);
		if (ret < 0)
			goto out;
		proot = pifs_openat_beneath(st->work_fd, part,
					    O_PATH | O_DIRECTORY | O_NOFOLLOW,
					    0);
		if (proot < 0) {
			ret = upd_fail(errbuf, errlen, "open", part, proot);
			goto out;
		}
	}
	/* what went or changed, deepest first */
	for (i = a->count; i-- > 1;) {
		if (!u.ast[i])
			continue;
		pfd = pifs_entry_open_parent(root, a->entries[i].path,
					     &tparent, &tname);
		ret = pfd < 0 ? pfd : pifs_remove_tree(pfd, tname);
		if (pfd >= 0)
			close(pfd);
		free(tparent);
		tparent = NULL;
		if (ret == -ENOENT)
			ret = 0;
		if (ret < 0) {
			upd_fail(errbuf, errlen, "remove", a->entries[i].path,
				 ret);
			goto out;
		}
	}
	/* what came or changed, in path order (parents first) */
	for (i = 1; i < b->count; i++) {
		if (u.bst[i] != 1)
			continue;
		pfd = pifs_entry_open_parent(proot, b->entries[i].path,
					     &pparent, &pname);
		tfd = pfd < 0 ? pfd
			      : pifs_entry_open_parent(root, b->entries[i].path,
						       &tparent, &tname);
		ret = tfd < 0 ? tfd
			      : pifs_do_rename(pfd, pname, tfd, tname,
					       RENAME_NOREPLACE);
		if (pfd >= 0)
			close(pfd);
		if (tfd >= 0)
			close(tfd);
		free(pparent);
		free(tparent);
		pparent = tparent = NULL;
		if (ret < 0) {
			upd_fail(errbuf, errlen, "move in", b->entries[i].path,
				 ret);
			goto out;
		}
	}
	/* directories' attributes, deepest first */
	for (i = b->count; i-- > 0;) {
		const struct pifs_meta_entry *eb = &b->entries[i];

		if (eb->type != 'd' || u.bst[i] == 3 ||
		    (!u.bst[i] && !u.touched[i] &&
		     (i || entry_same(&a->entries[0], eb))))
			continue;
		ret = dir_attrs(root, st->work_fd, tmpname,
				pifs_meta_find(a, eb->path), eb);
		if (ret < 0) {
			upd_fail(errbuf, errlen, "set attributes of", eb->path,
				 ret);
			goto out;
		}
	}
	ret = pifs_git_sync_fs(st->work_fd);
	if (ret < 0)
		pifs_seterr(errbuf, errlen, "cannot sync '%s': %s", st->path,
			    strerror(-ret));
out:
	if (proot >= 0)
		close(proot);
	if (made)
		pifs_remove_tree(st->work_fd, part);
	if (root >= 0)
		close(root);
	free(p.entries);
	free(u.bst);
	free(u.ast);
	free(u.touched);
	free(u.dirty);
	return ret;
}
