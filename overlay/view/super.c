/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * super.c - the whole mount and its views: opening and closing the store;
 * the worker registry (reloaded when it changes: a view per worker, a
 * removed one marked gone, what the kernel must then forget); the goldens
 * views lie on; the view lock and what the control socket does with it:
 * pause and resume, a reload of pifs.conf, and the swap of a worker's
 * delta for the one `pifs reset` built (maybe on another golden), with
 * its cached nodes resolved again.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "safeio.h"
#include "util.h"
#include "view.h"
#include "internal.h"

struct pifs_view *view_by_name(struct pifs_fs *fs, const char *name)
{
	struct pifs_view *v = NULL;

	pthread_mutex_lock(&fs->views_lock);
	for (size_t i = 0; i < fs->nviews; i++)
		if (!fs->views[i]->gone && !strcmp(fs->views[i]->name, name))
			v = fs->views[i];
	pthread_mutex_unlock(&fs->views_lock);
	return v;
}

struct pifs_view *view_by_id(struct pifs_fs *fs, uint32_t id)
{
	struct pifs_view *v = NULL;

	pthread_mutex_lock(&fs->views_lock);
	for (size_t i = 0; i < fs->nviews; i++)
		if (!fs->views[i]->gone && fs->views[i]->id == id)
			v = fs->views[i];
	pthread_mutex_unlock(&fs->views_lock);
	return v;
}

/*
 * The golden a delta (its root fd) lies over, opened once per daemon and
 * kept: goldens are immutable and `pifs golden remove` refuses one a
 * worker is on.  A golden removed and imported again is a new directory,
 * so an entry is checked against goldens/<id>/tree before it is reused.
 */
static int golden_of(struct pifs_fs *fs, int deltafd, const char *worker,
		     struct pifs_golden_ref **out)
{
	struct pifs_golden_ref *g = NULL, **ng;
	struct stat a, b;
	char id[17];
	int r, fd;

	if ((r = pifs_store_delta_golden(&fs->store, deltafd, NULL, id)) < 0) {
		pifs_err("bad %s on the delta of worker '%s': %s",
			 PIFS_XATTR_GOLDEN, worker, strerror(-r));
		return r;
	}
	fd = pifs_store_golden_open(&fs->store, id);
	if (fd < 0) {
		pifs_err("worker '%s' is on golden %s, which the store does "
			 "not have: %s", worker, id, strerror(-fd));
		return fd;
	}
	pthread_mutex_lock(&fs->links_lock);
	for (size_t i = 0; i < fs->ngoldens; i++)
		if (!strcmp(fs->goldens[i]->id, id) &&
		    fstat(fs->goldens[i]->fd, &a) == 0 && fstat(fd, &b) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			g = fs->goldens[i];
	if (!g) {
		ng = realloc(fs->goldens, (fs->ngoldens + 1) * sizeof(*ng));
		if (ng)
			fs->goldens = ng;
		g = ng ? calloc(1, sizeof(*g)) : NULL;
		if (g) {
			memcpy(g->id, id, sizeof(g->id));
			g->fd = fd;
			fd = -1;
			fs->goldens[fs->ngoldens++] = g;
		}
	}
	pthread_mutex_unlock(&fs->links_lock);
	if (fd >= 0)
		close(fd);
	if (!g)
		return -ENOMEM;
	*out = g;
	return 0;
}

/* Make a view for worker w (views_lock held). */
/* An O_PATH fd of worker name's delta, or -errno, logged as "cannot
 * open <what> '<name>'". */
static int delta_open(struct pifs_fs *fs, const char *name, const char *what)
{
	int fd = openat(fs->store.deltas_fd, name,
			O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		fd = -errno;
		pifs_err("cannot open %s '%s': %s", what, name,
			 strerror(-fd));
	}
	return fd;
}

static int view_add(struct pifs_fs *fs, const struct pifs_worker *w)
{
	struct pifs_golden_ref *g;
	struct pifs_view *v, **nv;
	struct pifs_node *root, *mnt;
	struct stat st;
	uint64_t origin;
	uint32_t gen;
	int fd, r;

	fd = delta_open(fs, w->name, "delta of worker");
	if (fd < 0)
		return fd;
	if ((r = upper_stat(fd, &st, &gen)) < 0 ||
	    (r = golden_of(fs, fd, w->name, &g)) < 0) {
		close(fd);
		return r;
	}
	nv = realloc(fs->views, (fs->nviews + 1) * sizeof(*nv));
	if (!nv) {
		close(fd);
		return -ENOMEM;
	}
	fs->views = nv;
	v = calloc(1, sizeof(*v));
	if (!v) {
		close(fd);
		return -ENOMEM;
	}
	v->id = w->id;
	snprintf(v->name, sizeof(v->name), "%s", w->name);
	snprintf(v->serial, sizeof(v->serial), "%s", w->serial);
	pifs_worker_tftp_dir(w, v->tftp_dir);
	v->model = w->model;
	v->golden = g;
	v->lower_root = g->fd;
	v->work_fd = fs->store.work_fd;
	v->fs = fs;
	pthread_rwlock_init(&v->lock, NULL);
	pthread_mutex_init(&v->jlock, NULL);
	v->jepoch = 1;
	if (get_origin(fd, &origin))
		root = pifs_node_new(pifs_make_id(v->id, 0, origin), 0, v, S_IFDIR);
	else
		root = pifs_node_new(pifs_make_id(v->id, 1, st.st_ino), gen, v, S_IFDIR);
	if (!root || !(root->name = strdup(w->name)) ||
	    !(root->lower_path = strdup(""))) {
		if (root)
			pifs_nodes_put(&fs->nodes, root);
		close(fd);
		free(v);
		return -ENOMEM;
	}
	root->upper_fd = fd;
	mnt = pifs_node_new(PIFS_MNT_ID(v->id), 0, NULL, S_IFDIR);
	if (!mnt || !(mnt->name = strdup(w->name))) {
		if (mnt)
			pifs_nodes_put(&fs->nodes, mnt);
		pifs_nodes_put(&fs->nodes, root); /* closes fd */
		free(v);
		return -ENOMEM;
	}
	/* The root has no parent: nothing is above it in its own file
	 * system.  Its mount point is in nfsroot/. */
	pthread_mutex_lock(&fs->nodes.lock);
	fs->nfsroot->refs++;
	pthread_mutex_unlock(&fs->nodes.lock);
	mnt->parent = fs->nfsroot;
	v->root = pifs_nodes_insert(&fs->nodes, root);
	v->mnt = pifs_nodes_insert(&fs->nodes, mnt);
	fs->views[fs->nviews++] = v;
	return 0;
}

int pifs_fs_live_views(struct pifs_fs *fs, struct pifs_view ***out,
		       size_t *n)
{
	struct pifs_view **vs;
	size_t nv = 0;

	pthread_mutex_lock(&fs->views_lock);
	vs = calloc(fs->nviews + 1, sizeof(*vs));
	for (size_t i = 0; vs && i < fs->nviews; i++)
		if (!fs->views[i]->gone)
			vs[nv++] = fs->views[i];
	pthread_mutex_unlock(&fs->views_lock);
	*out = vs;
	*n = nv;
	return vs ? 0 : -ENOMEM;
}

void pifs_fs_refresh(struct pifs_fs *fs)
{
	struct pifs_registry reg;
	char err[256];
	struct stat st;

	if (fstatat(fs->store.fd, "workers", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	pthread_mutex_lock(&fs->views_lock);
	if (st.st_ino == fs->reg_ino && st.st_mtim.tv_sec == fs->reg_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == fs->reg_mtime.tv_nsec)
		goto out;
	pifs_registry_init(&reg);
	if (pifs_registry_load(&reg, fs->store.fd, err, sizeof(err)) < 0) {
		pifs_err("cannot reload worker registry: %s", err);
		goto out;
	}
	int first = fs->reg_ino == 0; /* the load at start: nothing to report */

	fs->reg_ino = st.st_ino;
	fs->reg_mtime = st.st_mtim;
	clock_gettime(CLOCK_REALTIME, &fs->reg_loaded);
	for (size_t i = 0; i < fs->nviews; i++) {
		const struct pifs_worker *w =
			pifs_registry_find_id(&reg, fs->views[i]->id);

		if (!w && !fs->views[i]->gone) {
			fs->views[i]->gone = 1;
			pifs_info("worker '%s' removed", fs->views[i]->name);
		}
	}
	for (size_t i = 0; i < reg.count; i++) {
		int found = 0;

		for (size_t j = 0; j < fs->nviews; j++)
			if (fs->views[j]->id == reg.workers[i].id && !fs->views[j]->gone)
				found = 1;
		if (!found && view_add(fs, &reg.workers[i]) == 0 && !first)
			pifs_info("worker '%s' added", reg.workers[i].name);
	}
	pifs_registry_release(&reg);
out:
	pthread_mutex_unlock(&fs->views_lock);
}

int pifs_fs_registry_inval(struct pifs_fs *fs, struct pifs_inval **inv,
			   size_t *n)
{
	struct pifs_inval *a = NULL;
	size_t k = 0, want = 0;
	int r = 0, reloaded;

	*inv = NULL;
	*n = 0;
	pifs_fs_refresh(fs);
	pthread_mutex_lock(&fs->views_lock);
	reloaded = fs->reg_told.tv_sec != fs->reg_loaded.tv_sec ||
		   fs->reg_told.tv_nsec != fs->reg_loaded.tv_nsec;
	for (size_t i = 0; i < fs->nviews; i++)
		if (fs->views[i]->gone && !fs->views[i]->gone_told)
			want++;
	if (!reloaded && !want)
		goto out;
	/* nfsroot/ first: notified last, after the names in it */
	if (!(a = calloc(want + 1, sizeof(*a)))) {
		r = -ENOMEM;
		goto out;
	}
	a[k++].id = PIFS_NFSROOT_ID;
	for (size_t i = 0; i < fs->nviews; i++) {
		struct pifs_view *v = fs->views[i];

		if (!v->gone || v->gone_told)
			continue;
		if (!(a[k].name = strdup(v->name))) {
			pifs_inval_free(a, k);
			a = NULL;
			k = 0;
			r = -ENOMEM;
			goto out;
		}
		a[k].parent = PIFS_NFSROOT_ID;
		a[k++].id = v->mnt->id;
	}
	/* handed over: marked told only now, so -ENOMEM leaves it all due */
	for (size_t i = 0; i < fs->nviews; i++)
		if (fs->views[i]->gone)
			fs->views[i]->gone_told = 1;
	fs->reg_told = fs->reg_loaded;
out:
	pthread_mutex_unlock(&fs->views_lock);
	*inv = a;
	*n = k;
	return r;
}

int pifs_fs_open(struct pifs_fs *fs, const char *path, char *errbuf,
		 size_t errlen)
{
	pid_t pid = 0;
	int r;

	pifs_errclear(errbuf, errlen);
	memset(fs, 0, sizeof(*fs));
	if ((r = pifs_store_open(&fs->store, path, errbuf, errlen)) < 0)
		return r;
	if ((r = pifs_store_lock_daemon(&fs->store, &pid)) < 0) {
		if (r == -EBUSY)
			pifs_seterr(errbuf, errlen,
				    "store '%s' is already mounted by pid %ld",
				    path, (long)pid);
		else
			pifs_seterr(errbuf, errlen, "cannot lock store '%s': %s",
				    path, strerror(-r));
		pifs_store_close(&fs->store);
		return r;
	}
	if ((r = pifs_store_clean_work(&fs->store)) < 0)
		pifs_warn("cannot clean work dir of '%s': %s", path, strerror(-r));
	if ((r = pifs_nodes_init(&fs->nodes)) < 0)
		goto fail;
	fs->start_time = time(NULL);
	pthread_mutex_init(&fs->links_lock, NULL);
	pthread_mutex_init(&fs->views_lock, NULL);
	pthread_mutex_init(&fs->unknown_lock, NULL);
	pthread_mutex_init(&fs->enroll_lock, NULL);
	fs->root = pifs_node_new(PIFS_ROOT_ID, 0, NULL, S_IFDIR);
	fs->nfsroot = pifs_node_new(PIFS_NFSROOT_ID, 0, NULL, S_IFDIR);
	fs->tftproot = pifs_node_new(PIFS_TFTPROOT_ID, 0, NULL, S_IFDIR);
	if (!fs->root || !fs->nfsroot || !fs->tftproot ||
	    !(fs->nfsroot->name = strdup("nfsroot")) ||
	    !(fs->tftproot->name = strdup("tftpboot"))) {
		r = -ENOMEM;
		goto fail;
	}
	fs->root = pifs_nodes_insert(&fs->nodes, fs->root);
	fs->nfsroot->parent = fs->root;
	fs->tftproot->parent = fs->root;
	fs->root->refs += 2;
	fs->nfsroot = pifs_nodes_insert(&fs->nodes, fs->nfsroot);
	fs->tftproot = pifs_nodes_insert(&fs->nodes, fs->tftproot);
	pifs_fs_refresh(fs);
	fs->reg_told = fs->reg_loaded; /* the kernel holds nothing yet */
	return 0;
fail:
	pifs_seterr(errbuf, errlen, "cannot start: %s", strerror(-r));
	pifs_store_close(&fs->store);
	return r;
}

void pifs_fs_close(struct pifs_fs *fs)
{
	for (size_t i = 0; i < fs->nviews; i++) {
		journal_clear(fs->views[i]);
		pthread_mutex_destroy(&fs->views[i]->jlock);
		pthread_rwlock_destroy(&fs->views[i]->lock);
		free(fs->views[i]);
	}
	free(fs->views);
	for (size_t i = 0; i < fs->ngoldens; i++) {
		struct pifs_golden_ref *g = fs->goldens[i];

		for (size_t j = 0; j < g->nlinks; j++)
			free(g->links[j].path);
		free(g->links);
		close(g->fd);
		free(g);
	}
	free(fs->goldens);
	pthread_mutex_destroy(&fs->links_lock);
	pifs_nodes_release(&fs->nodes);
	pthread_mutex_destroy(&fs->views_lock);
	pthread_mutex_destroy(&fs->unknown_lock);
	pthread_mutex_destroy(&fs->enroll_lock);
	pifs_store_close(&fs->store);
}

void rdlock(struct pifs_view *v)
{
	pthread_rwlock_rdlock(&v->lock);
}

void wrlock(struct pifs_view *v)
{
	pthread_rwlock_wrlock(&v->lock);
}

void unlock(struct pifs_view *v)
{
	pthread_rwlock_unlock(&v->lock);
}

int pifs_fs_reload(struct pifs_fs *fs)
{
	struct pifs_store_conf old;
	int r;

	pifs_fs_refresh(fs);
	pthread_mutex_lock(&fs->views_lock);
	old = fs->store.conf;
	r = pifs_store_conf_reload(&fs->store);
	if (r == 0 && strcmp(old.master, fs->store.conf.master))
		pifs_info("master address now %s", fs->store.conf.master);
	if (r == 0 && strcmp(old.golden, fs->store.conf.golden)) {
		/* Views follow their deltas' goldens; only the files served
		 * at the tftpboot/ root (bootcode.bin for Pis not registered
		 * yet) come from the default, opened at mount. */
		pifs_info("default golden now %s; the tftpboot/ root files "
			  "follow at the next mount", fs->store.conf.golden);
		memcpy(fs->store.conf.golden, old.golden, sizeof(old.golden));
	}
	pthread_mutex_unlock(&fs->views_lock);
	return r;
}

struct pifs_view *pifs_fs_view(struct pifs_fs *fs, const char *worker)
{
	pifs_fs_refresh(fs);
	return view_by_name(fs, worker);
}

void pifs_view_pause(struct pifs_view *v)
{
	wrlock(v);
}

void pifs_view_resume(struct pifs_view *v)
{
	unlock(v);
}

void pifs_view_write_begin(struct pifs_view *v)
{
	if (v)
		rdlock(v);
}

void pifs_view_write_end(struct pifs_view *v)
{
	if (v)
		unlock(v);
}

void pifs_inval_free(struct pifs_inval *inv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(inv[i].name);
	free(inv);
}

static size_t node_depth(const struct pifs_node *n)
{
	size_t d = 0;

	while ((n = n->parent))
		d++;
	return d;
}

static int depth_cmp(const void *a, const void *b)
{
	size_t x = node_depth(*(struct pifs_node *const *)a);
	size_t y = node_depth(*(struct pifs_node *const *)b);

	return x < y ? -1 : x > y;
}

/* Bring a cached node in line with the (new) delta; caller holds
 * v->lock for writing and has refreshed N's parent already. */
static void refresh_node(struct pifs_view *v, struct pifs_node *n)
{
	struct pifs_node *p = n->parent;
	struct child c;

	if (p && p->view == v && !p->unlinked && S_ISDIR(p->type) &&
	    find_child(v, p, n->name, &c) == 0) {
		if (c.id == n->id) {
			if (n->upper_fd >= 0)
				close(n->upper_fd);
			free(n->lower_path);
			n->upper_fd = c.upper_fd;
			n->lower_path = c.lower_path;
			n->type = c.st.st_mode & S_IFMT;
			n->unlinked = 0;
			return;
		}
		child_release(&c);
	}
	/* Its name is gone.  Like an unlinked file that is still open, it
	 * keeps its old inode (the fd into the old delta, or its golden
	 * path) for whoever holds it open; it is never copied up again and
	 * a lookup of the name finds the new entry. */
	n->unlinked = 1;
}

int pifs_fs_view_swap(struct pifs_fs *fs, struct pifs_view *v,
		      const char *tmpname, int locked, struct pifs_inval **inv,
		      size_t *ninv)
{
	struct pifs_node **list = NULL;
	struct pifs_inval *out = NULL;
	size_t count = 0, i;
	int r, rootfd;

	*inv = NULL;
	*ninv = 0;
	if ((r = pifs_check_name(tmpname)) < 0)
		return r;
	if (!locked)
		wrlock(v);
	/* Whatever happens below, the delta is not what the journal
	 * describes any more. */
	pthread_mutex_lock(&v->jlock);
	journal_drop(v);
	pthread_mutex_unlock(&v->jlock);
	if ((r = pifs_store_delta_swap(&fs->store, v->name, tmpname)) < 0)
		goto out;
	rootfd = delta_open(fs, v->name, "the new delta of");
	if (rootfd < 0) {
		r = rootfd;
		goto out;
	}
	/* A snapshot on another golden, or a rebase: the view's lower layer
	 * changes with the delta (under the view lock, like everything the
	 * nodes are re-resolved against below). */
	{
		struct pifs_golden_ref *g;

		if (golden_of(fs, rootfd, v->name, &g) == 0 && g != v->golden) {
			pifs_info("worker '%s' now on golden %s", v->name, g->id);
			v->golden = g;
			v->lower_root = g->fd;
		}
	}
	/* Pin every node of the view, then refresh parents before children. */
	pthread_mutex_lock(&fs->nodes.lock);
	for (i = 0; i < fs->nodes.nbuckets; i++)
		for (struct pifs_node *n = fs->nodes.buckets[i]; n; n = n->hnext)
			if (n->view == v)
				count++;
	list = calloc(count ? count : 1, sizeof(*list));
	out = calloc(count ? count : 1, sizeof(*out));
	if (!list || !out) {
		pthread_mutex_unlock(&fs->nodes.lock);
		close(rootfd);
		r = -ENOMEM;
		goto out;
	}
	count = 0;
	for (i = 0; i < fs->nodes.nbuckets; i++)
		for (struct pifs_node *n = fs->nodes.buckets[i]; n; n = n->hnext)
			if (n->view == v) {
				n->refs++;
				list[count++] = n;
			}
	pthread_mutex_unlock(&fs->nodes.lock);
	qsort(list, count, sizeof(*list), depth_cmp);
	for (i = 0; i < count; i++) {
		struct pifs_node *n = list[i];

		out[i].id = n->id;
		out[i].parent = n == v->root ? 0 : (n->parent ? n->parent->id : 0);
		out[i].name = n->name ? strdup(n->name) : NULL;
		if (n == v->root) {
			close(n->upper_fd);
			n->upper_fd = rootfd;
			continue;
		}
		if (!n->real) /* aliases show their real node */
			refresh_node(v, n);
	}
	*inv = out;
	*ninv = count;
	out = NULL;
	pifs_info("worker '%s' reset: %zu cached nodes re-resolved", v->name, count);
out:
	if (!locked)
		unlock(v);
	for (i = 0; list && i < count; i++)
		pifs_nodes_put(&fs->nodes, list[i]);
	free(list);
	free(out);
	return r;
}
