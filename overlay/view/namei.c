/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * namei.c - names: NAME in a view directory resolved across the delta and
 * the golden (with the origin, opaque and redirect xattrs that steer it)
 * and turned into a node; lookups by name, by many names in one golden
 * directory (READDIRPLUS), by id (an NFS handle after a restart), and in
 * the static top.  Lookup order for NAME in directory P:
 *
 *   1. P's delta entry NAME: a whiteout hides NAME; a non-directory is
 *      final; an opaque directory is final; a directory with a redirect
 *      merges with the golden directory the redirect names.
 *   2. Else the golden entry at P's golden path + "/" + NAME.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity.h"
#include "layers.h"
#include "safeio.h"
#include "util.h"
#include "view.h"
#include "internal.h"

void child_release(struct child *c)
{
	if (c->upper_fd >= 0)
		close(c->upper_fd);
	free(c->lower_path);
	c->upper_fd = -1;
	c->lower_path = NULL;
}

int get_origin(int fd, uint64_t *ino)
{
	unsigned char b[8];
	ssize_t r = pifs_lgetxattr(fd, NULL, PIFS_XATTR_ORIGIN, b, sizeof(b));

	*ino = 0;
	if (r == 8) {
		for (int i = 7; i >= 0; i--)
			*ino = (*ino << 8) | b[i];
		return 1;
	}
	return 0;
}

int set_origin(int dirfd, const char *name, uint64_t ino)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(ino >> (8 * i));
	return pifs_lsetxattr(dirfd, name, PIFS_XATTR_ORIGIN, b, 8, 0);
}

int lower_exists(struct pifs_view *v, const char *path, struct stat *st)
{
	struct stat tmp;

	return pifs_lstat_beneath(v->lower_root, path, st ? st : &tmp);
}

/* Is LD still P's golden directory?  Caller holds v->lock. */
static int lower_dir_valid(const struct pifs_view *v, const struct pifs_node *p,
			   const struct pifs_lower_dir *ld)
{
	return ld && ld->fd >= 0 && ld->root == v->lower_root &&
	       p->lower_path && !strcmp(p->lower_path, ld->path);
}

/*
 * Resolve NAME in directory P (lookup steps in the header comment); LD is
 * P's golden directory already open (pifs_fs_lower_dir_open), or NULL.
 * Caller holds v->lock (either way).  -ENOENT when nothing is visible.
 */
static int find_child_in(struct pifs_view *v, struct pifs_node *p,
			 const struct pifs_lower_dir *ld, const char *name,
			 struct child *c)
{
	struct pifs_layers_entry le = { 0 };
	struct stat ust, lst;
	int has_upper = 0, r, below;
	uint64_t origin = 0;
	char *lp = NULL;

	memset(c, 0, sizeof(*c));
	c->upper_fd = -1;
	if (!S_ISDIR(p->type))
		return -ENOTDIR;
	if ((r = pifs_check_name(name)) < 0)
		return r;
	if (p->upper_fd >= 0) {
		int fd = openat(p->upper_fd, name,
				O_PATH | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0) {
			if (errno != ENOENT)
				return -errno;
		} else {
			uint32_t gen;

			if ((r = upper_stat(fd, &ust, &gen)) < 0) {
				close(fd);
				return r;
			}
			le.mode = ust.st_mode;
			le.rdev = ust.st_rdev;
			if (pifs_layers_is_whiteout(le.mode, le.rdev)) {
				close(fd);
				return -ENOENT;
			}
			has_upper = 1;
			c->upper_fd = fd;
			c->gen = gen;
			get_origin(fd, &origin);
			if (S_ISDIR(ust.st_mode) &&
			    (r = pifs_layers_entry_xattrs(fd, &le)) < 0) {
				child_release(c);
				return r;
			}
		}
	}
	below = pifs_layers_below(p->lower_path, name, has_upper ? &le : NULL,
				  &lp);
	pifs_layers_entry_release(&le);
	if (below < 0) {
		child_release(c);
		return below;
	}
	if (lp) {
		if (below == PIFS_LAYERS_JOINED && lower_dir_valid(v, p, ld))
			r = pifs_lstat_beneath(ld->fd, name, &lst);
		else
			r = lower_exists(v, lp, &lst);
		if (r == 0 && (!has_upper || S_ISDIR(lst.st_mode))) {
			c->lower_path = lp;
			lp = NULL;
		} else if (r < 0 && r != -ENOENT && r != -ENOTDIR &&
			   r != -ELOOP) {
			free(lp);
			child_release(c);
			return r;
		}
		free(lp);
	}
	if (!has_upper && p->lower_path &&
	    (c->kind = pifs_gen_kind(p->lower_path, name)) != PIFS_GEN_NONE) {
		/* A generated identity file (over the golden's, if any). */
		if (c->lower_path && !S_ISREG(lst.st_mode)) {
			c->kind = PIFS_GEN_NONE;
		} else {
			char *gp = c->lower_path ? c->lower_path : join(p->lower_path, name);

			r = gp ? gen_stat(v, c->kind, c->lower_path ? gp : NULL, &c->st) : -ENOMEM;
			if (!c->lower_path)
				free(gp);
			if (r < 0) {
				child_release(c);
				return r;
			}
			c->id = pifs_make_id(v->id, 0, c->st.st_ino);
			c->gen = 0;
			c->st.st_ino = c->id;
			return 0;
		}
	}
	if (!has_upper && !c->lower_path)
		return -ENOENT;
	if (has_upper) {
		c->st = ust;
		c->id = pifs_make_id(v->id, !origin, origin ? origin : ust.st_ino);
		if (origin)
			c->gen = 0;
		if (S_ISDIR(ust.st_mode) && c->lower_path)
			c->st.st_nlink = 1; /* merged: not knowable cheaply */
		if ((origin ? origin : ust.st_ino) > PIFS_ID_INO_MASK)
			goto overflow;
	} else {
		c->st = lst;
		if (S_ISDIR(lst.st_mode))
			c->st.st_nlink = 1; /* as merged ones: node_stat */
		c->id = pifs_make_id(v->id, 0, lst.st_ino);
		c->gen = 0;
		if (lst.st_ino > PIFS_ID_INO_MASK)
			goto overflow;
	}
	c->st.st_ino = c->id;
	return 0;
overflow:
	pifs_err("inode number of '%s' does not fit a node id", name);
	child_release(c);
	return -EOVERFLOW;
}

int find_child(struct pifs_view *v, struct pifs_node *p, const char *name,
	       struct child *c)
{
	return find_child_in(v, p, NULL, name, c);
}

/* Turn a lookup result into a pinned node: the cached one if the id is
 * known, else a new one under P. */
int child_node_revive(struct pifs_view *v, struct pifs_node *p,
		      const char *name, struct child *c, struct pifs_node **out,
		      int revive)
{
	struct pifs_fs *fs = v->fs;
	struct pifs_node *n = pifs_nodes_get(&fs->nodes, c->id);

	if (n && n->unlinked && revive && pifs_node_move(&fs->nodes, n, p, name) == 0) {
		/* A stale node (its name went away, e.g. in a reset) whose
		 * entry is back: it is the same file again.  Caller holds
		 * v->lock for writing. */
		if (n->upper_fd >= 0)
			close(n->upper_fd);
		free(n->lower_path);
		n->upper_fd = c->upper_fd;
		n->lower_path = c->lower_path;
		n->type = c->st.st_mode & S_IFMT;
		n->gen_kind = c->kind;
		n->unlinked = 0;
		c->upper_fd = -1;
		c->lower_path = NULL;
	}
	if (n) {
		child_release(c);
		*out = n;
		return 0;
	}
	n = pifs_node_new(c->id, c->gen, v, c->st.st_mode);
	if (!n)
		return -ENOMEM;
	n->name = strdup(name);
	if (!n->name) {
		pifs_nodes_put(&fs->nodes, n);
		return -ENOMEM;
	}
	n->upper_fd = c->upper_fd;
	n->lower_path = c->lower_path;
	n->gen_kind = c->kind;
	c->upper_fd = -1;
	c->lower_path = NULL;
	pthread_mutex_lock(&fs->nodes.lock);
	p->refs++;
	pthread_mutex_unlock(&fs->nodes.lock);
	n->parent = p;
	*out = pifs_nodes_insert(&fs->nodes, n);
	return 0;
}

int child_node(struct pifs_view *v, struct pifs_node *p, const char *name,
	       struct child *c, struct pifs_node **out)
{
	return child_node_revive(v, p, name, c, out, 0);
}

static int lookup_pinned_in(struct pifs_fs *fs, struct pifs_node *p,
			    const struct pifs_lower_dir *ld, const char *name,
			    struct pifs_node **out, struct stat *st)
{
	struct pifs_view *v = p->view;
	struct pifs_node *n;
	struct child c;
	int r;

	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		n = !strcmp(name, ".") ? p : (p->parent ? p->parent : p);
		pin(fs, n);
		r = pifs_fs_getattr(fs, n, st);
		if (r < 0) {
			pifs_nodes_put(&fs->nodes, n);
			return r;
		}
		*out = n;
		return 0;
	}
	if (p->real) {
		struct pifs_node *rn;

		if (!S_ISDIR(p->type))
			return -ENOTDIR;
		if (p->parent == fs->tftproot && p->view &&
		    __atomic_load_n(&fs->nfresh, __ATOMIC_ACQUIRE))
			enroll_first_file(fs, p->view, name);
		if ((r = lookup_pinned(fs, p->real, name, &rn, st)) < 0)
			return r;
		return alias_node(fs, p, name, rn, out, st);
	}
	if (!v) {
		if (p == fs->root) {
			if (!strcmp(name, "nfsroot"))
				n = fs->nfsroot;
			else if (!strcmp(name, "tftpboot"))
				n = fs->tftproot;
			else
				return -ENOENT;
			pin(fs, n);
			static_stat(fs, n, st);
			*out = n;
			return 0;
		}
		if (p == fs->tftproot)
			return tftp_lookup(fs, name, out, st);
		if (p->parent == fs->nfsroot)
			return -ESTALE; /* see pifs_fs_opendir */
		if (p != fs->nfsroot)
			return -ENOTDIR;
		pifs_fs_refresh(fs);
		v = view_by_name(fs, name);
		if (!v)
			return -ENOENT;
		/* The worker's own file system is mounted on it: nothing
		 * of the view is reached from the top. */
		n = v->mnt;
		pin(fs, n);
		static_stat(fs, n, st);
		*out = n;
		return 0;
	}
	rdlock(v);
	r = find_child_in(v, p, ld, name, &c);
	if (r == 0) {
		*st = c.st;
		r = child_node(v, p, name, &c, &n);
	}
	unlock(v);
	if (r == 0 && n->unlinked) {
		/* The cached node is stale but the entry is live: revive it
		 * under the write lock. */
		pifs_nodes_put(&fs->nodes, n);
		wrlock(v);
		r = find_child(v, p, name, &c);
		if (r == 0) {
			*st = c.st;
			r = child_node_revive(v, p, name, &c, &n, 1);
		}
		unlock(v);
	}
	if (r < 0)
		return r;
	*out = n;
	return 0;
}

int lookup_pinned(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		  struct pifs_node **out, struct stat *st)
{
	return lookup_pinned_in(fs, p, NULL, name, out, st);
}

int pifs_fs_lookup(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		   struct pifs_node **out, struct stat *st)
{
	int r = lookup_pinned(fs, p, name, out, st);

	if (r == 0)
		found(fs, *out, out);
	return r;
}

void pifs_fs_lower_dir_open(struct pifs_fs *fs, struct pifs_node *dir,
			    struct pifs_lower_dir *ld)
{
	struct pifs_view *v = dir->view;

	(void)fs;
	ld->fd = -1;
	ld->root = -1;
	ld->path = NULL;
	if (!v || dir->real || !S_ISDIR(dir->type))
		return;
	rdlock(v);
	if (dir->lower_path && (ld->path = strdup(dir->lower_path))) {
		ld->root = v->lower_root;
		ld->fd = pifs_openat_beneath(ld->root, ld->path,
					     O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	}
	unlock(v);
	if (ld->fd < 0) { /* the walk per name, as without it */
		free(ld->path);
		ld->path = NULL;
		ld->fd = -1;
	}
}

void pifs_fs_lower_dir_close(struct pifs_lower_dir *ld)
{
	if (ld->fd >= 0)
		close(ld->fd);
	free(ld->path);
	ld->fd = -1;
	ld->path = NULL;
}

int pifs_fs_lookup_in(struct pifs_fs *fs, struct pifs_node *dir,
		      const struct pifs_lower_dir *ld, const char *name,
		      struct pifs_node **out, struct stat *st)
{
	int r = lookup_pinned_in(fs, dir, ld, name, out, st);

	if (r == 0)
		found(fs, *out, out);
	return r;
}

/* Depth-first search of view V for the entry with id ID (an NFS handle
 * that outlived the daemon).  On success *out is pinned.  Caller holds
 * v->lock. */
static int search_id(struct pifs_view *v, struct pifs_node *dir, uint64_t id,
		     struct pifs_node **out, unsigned depth)
{
	struct pifs_dir d = { 0 };
	struct dirbuf b = { .d = &d };
	int r;

	if (depth > 256)
		return -ENOENT;
	r = list_merged(v, dir, &b, 0);
	dirbuf_release(&b);
	for (size_t i = 0; r >= 0 && i < d.count; i++) {
		struct pifs_dirent *e = &d.ents[i];
		struct pifs_node *n;
		struct child c;

		if (e->ino != id && e->type != DT_DIR)
			continue;
		if (find_child(v, dir, e->name, &c) < 0)
			continue;
		if ((r = child_node(v, dir, e->name, &c, &n)) < 0)
			break;
		if (n->id == id) {
			*out = n;
			r = 1;
			break;
		}
		if (S_ISDIR(n->type))
			r = search_id(v, n, id, out, depth + 1);
		pifs_nodes_put(&v->fs->nodes, n);
		if (r == 1)
			break;
		r = 0;
	}
	for (size_t i = 0; i < d.count; i++)
		free(d.ents[i].name);
	free(d.ents);
	return r;
}

int pifs_fs_lookup_id(struct pifs_fs *fs, uint64_t id, struct pifs_node **out,
		      struct stat *st)
{
	struct pifs_node *n = pifs_nodes_get(&fs->nodes, id);
	struct pifs_view *v;
	int r;

	if (n) {
		r = pifs_fs_getattr(fs, n, st);
		if (r < 0) {
			pifs_nodes_put(&fs->nodes, n);
			return r;
		}
		found(fs, n, out);
		return 0;
	}
	pifs_fs_refresh(fs);
	v = view_by_id(fs, PIFS_ID_VIEW(id));
	if (!v)
		return -ESTALE;
	rdlock(v);
	r = search_id(v, v->root, id, &n, 0);
	if (r == 1)
		r = node_stat(v, n, st);
	else if (r == 0)
		r = -ESTALE;
	unlock(v);
	if (r < 0) {
		if (n && r != -ESTALE)
			pifs_nodes_put(&fs->nodes, n);
		return r;
	}
	/* a node this daemon no longer holds: the kernel forgot it, or it
	 * is from before a restart; a debug line, as an NFS server with
	 * many handles makes this common */
	pifs_debug("resolved handle %#llx in view '%s' by a search",
		   (unsigned long long)id, v->name);
	found(fs, n, out);
	return 0;
}
