/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * copy_up.c - bringing a golden entry into the worker's delta before it
 * changes: parents first, the copy built in STORE/work with its data,
 * xattrs, origin, owner, mode and times, and renamed into place; and the
 * golden's hard-link groups, so that the names of one golden inode stay
 * one file in the view after one of them is copied up.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safeio.h"
#include "util.h"
#include "view.h"
#include "internal.h"

/* Keep a directory's times across a change pifs makes for its own
 * reasons (copy-up into it), as overlayfs does. */
struct saved_times {
	struct timespec ts[2];
	int ok;
};

static void times_save(int dirfd, struct saved_times *s)
{
	struct stat st;

	s->ok = pifs_fstat(dirfd, &st) == 0;
	s->ts[0] = st.st_atim;
	s->ts[1] = st.st_mtim;
}

static void times_restore(int dirfd, const struct saved_times *s)
{
	char p[40];

	if (s->ok)
		utimensat(AT_FDCWD, pifs_fd_path(dirfd, p, sizeof(p)), s->ts, 0);
}

static int links_cmp(const void *a, const void *b)
{
	const struct pifs_golden_link *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void links_walk(struct pifs_golden_ref *g, int dirfd,
		       const char *prefix, size_t *cap, unsigned depth)
{
	struct dirent *de;
	DIR *dp;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || depth > 256 || !(dp = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dp))) {
		struct stat st;
		char *path;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		path = join(prefix, de->d_name);
		if (!path)
			break;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(fd, de->d_name,
					 O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				links_walk(g, sub, path, cap, depth + 1);
				close(sub);
			}
			free(path);
			continue;
		}
		if (st.st_nlink < 2) {
			free(path);
			continue;
		}
		if (g->nlinks == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct pifs_golden_link *nl =
				realloc(g->links, nc * sizeof(*nl));

			if (!nl) {
				free(path);
				break;
			}
			g->links = nl;
			*cap = nc;
		}
		g->links[g->nlinks].ino = st.st_ino;
		g->links[g->nlinks].path = path;
		g->nlinks++;
	}
	closedir(dp);
}

static void links_build(struct pifs_golden_ref *g)
{
	size_t cap = 0;

	links_walk(g, g->fd, "", &cap, 0);
	qsort(g->links, g->nlinks, sizeof(*g->links), links_cmp);
	pifs_debug("golden %s has %zu hard-linked names", g->id, g->nlinks);
}

/*
 * N (a golden file with other golden names) was just copied up: give the
 * names of the same golden inode that this view still shows from the
 * golden a hard link to the copy, so they keep being one file.  A name
 * whose directory was renamed in this view is left alone.  The golden is
 * walked once, on the first such copy-up, to find the groups.
 */
static void link_siblings(struct pifs_view *v, struct pifs_node *n, ino_t ino)
{
	struct pifs_fs *fs = v->fs;
	struct pifs_golden_ref *g = v->golden;
	struct pifs_golden_link key = { .ino = ino }, *hit;

	pthread_mutex_lock(&fs->links_lock);
	if (!g->links_built) {
		links_build(g);
		g->links_built = 1;
	}
	pthread_mutex_unlock(&fs->links_lock);
	hit = bsearch(&key, g->links, g->nlinks, sizeof(*g->links), links_cmp);
	if (!hit)
		return;
	while (hit > g->links && hit[-1].ino == ino)
		hit--;
	for (; hit < g->links + g->nlinks && hit->ino == ino; hit++) {
		struct pifs_node *dir = v->root, *next;
		char *buf, *save = NULL, *comp, *last = NULL;
		struct child c;
		int ok = 1;

		if (!strcmp(hit->path, n->lower_path) || !(buf = strdup(hit->path)))
			continue;
		pthread_mutex_lock(&fs->nodes.lock);
		dir->refs++;
		pthread_mutex_unlock(&fs->nodes.lock);
		for (comp = strtok_r(buf, "/", &save); comp;
		     comp = strtok_r(NULL, "/", &save)) {
			if (last) {
				if (find_child(v, dir, last, &c) < 0 ||
				    !S_ISDIR(c.st.st_mode) ||
				    child_node(v, dir, last, &c, &next) < 0) {
					child_release(&c);
					ok = 0;
					break;
				}
				pifs_nodes_put(&fs->nodes, dir);
				dir = next;
			}
			last = comp;
		}
		if (ok && last && find_child(v, dir, last, &c) == 0) {
			int visible = c.id == n->id && c.upper_fd < 0 &&
				      c.lower_path && !strcmp(c.lower_path, hit->path);

			child_release(&c);
			if (visible && copy_up(v, dir, 1) == 0) {
				struct saved_times pt;

				times_save(dir->upper_fd, &pt);
				jn_node(v, dir, last, JF_DIRTY);
				int lr = pifs_do_link(n->upper_fd, "", dir->upper_fd,
						      last, AT_EMPTY_PATH);

				if (lr < 0)
					pifs_warn("cannot keep hard link '%s' in view '%s': %s",
						  hit->path, v->name, strerror(-lr));
				times_restore(dir->upper_fd, &pt);
			}
		}
		pifs_nodes_put(&fs->nodes, dir);
		free(buf);
	}
}

/* pifs_apply_attrs's xattr step: the golden's (CTX: its O_PATH fd),
 * without the names pifs keeps for itself. */
static int copy_golden_xattrs(void *ctx, int dirfd, const char *name)
{
	return pifs_copy_xattrs(*(const int *)ctx, NULL, dirfd, name,
				pifs_xattr_private);
}

/*
 * Copy N up from the golden into its parent's delta directory (parents
 * first).  The copy is built in STORE/work with data, xattrs, origin,
 * owner, mode and times, fsynced, and renamed into place with
 * RENAME_NOREPLACE; then the directory is fsynced.  with_data = 0 makes
 * an empty file (the caller truncates anyway).  Caller holds v->lock for
 * writing.
 */
int copy_up(struct pifs_view *v, struct pifs_node *n, int with_data)
{
	struct pifs_node *p = n->parent;
	struct saved_times pt;
	struct stat st;
	char tmp[64];
	int lfd = -1, sfd = -1, dfd = -1, r, made = 0;

	if (n->upper_fd >= 0)
		return 0;
	if (n->unlinked || !p || (!n->lower_path && !n->gen_kind))
		return -ESTALE;
	if ((r = copy_up(v, p, 1)) < 0)
		return r;
	if (n->lower_path) {
		lfd = pifs_openat_beneath(v->lower_root, n->lower_path,
					  O_PATH | O_NOFOLLOW, 0);
		if (lfd < 0)
			return lfd;
	}
	if (n->gen_kind)
		r = gen_stat(v, n->gen_kind, n->lower_path, &st);
	else
		r = pifs_fstat(lfd, &st);
	if (r < 0)
		goto out;
	work_name(tmp, sizeof(tmp));
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		r = pifs_do_mkdir(v->work_fd, tmp, 0700);
		break;
	case S_IFREG:
		dfd = openat(v->work_fd, tmp,
			     O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
			     0600);
		if (dfd < 0) {
			r = -errno;
			break;
		}
		made = 1;
		r = 0;
		if (with_data && n->gen_kind) {
			/* The worker's own copy starts as what it was shown. */
			char *buf;
			size_t len;

			if ((r = gen_build(v, n->gen_kind, n->lower_path, &buf, &len)) == 0) {
				r = pifs_write_all(dfd, buf, len);
				free(buf);
			}
		} else if (with_data) {
			sfd = pifs_reopen(lfd, O_RDONLY);
			if (sfd < 0)
				r = sfd;
			else
				r = pifs_copy_data(sfd, dfd, st.st_size);
		}
		if (r == 0 && fsync(dfd) < 0)
			r = -errno;
		break;
	case S_IFLNK: {
		char target[PATH_MAX + 1];
		ssize_t len = readlinkat(lfd, "", target, sizeof(target) - 1);

		if (len < 0) {
			r = -errno;
			break;
		}
		target[len] = '\0';
		r = pifs_do_symlink(target, v->work_fd, tmp);
		break;
	}
	default:
		r = pifs_do_mknod(v->work_fd, tmp, (st.st_mode & S_IFMT) | 0600,
				  st.st_rdev);
		break;
	}
	if (r < 0)
		goto out;
	made = 1;
	/* Owner and mode before the golden's xattrs: a chown would clear
	 * a file capability (security.capability) set before it. */
	if ((r = set_origin(v->work_fd, tmp, st.st_ino)) < 0 ||
	    (r = pifs_apply_attrs(v->work_fd, tmp, &st,
				  lfd >= 0 ? copy_golden_xattrs : NULL, &lfd,
				  NULL)) < 0)
		goto out;
	times_save(p->upper_fd, &pt);
	if ((r = pifs_do_rename(v->work_fd, tmp, p->upper_fd, n->name,
				RENAME_NOREPLACE)) < 0)
		goto out;
	made = 0;
	jn_node(v, n, NULL, JF_DIRTY);
	times_restore(p->upper_fd, &pt);
	if ((r = pifs_fsync_dir(p->upper_fd)) < 0)
		pifs_warn("cannot fsync delta dir of '%s': %s", n->name,
			  strerror(-r));
	n->upper_fd = openat(p->upper_fd, n->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	r = n->upper_fd < 0 ? -errno : 0;
	if (r == 0) {
		pifs_debug("copy-up '%s' in view '%s'", n->lower_path, v->name);
		if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
			link_siblings(v, n, st.st_ino);
	}
out:
	if (made)
		pifs_remove_tree(v->work_fd, tmp);
	if (dfd >= 0)
		close(dfd);
	if (sfd >= 0)
		close(sfd);
	if (lfd >= 0)
		close(lfd);
	return r;
}
