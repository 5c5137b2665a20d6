/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dir.c - the operations that change a directory: mknod, mkdir, symlink,
 * create, link, unlink, rmdir and rename, with the whiteouts, opaque
 * directories and redirects that keep the golden's entries hidden or
 * merged as the worker expects after the change.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "layers.h"
#include "safeio.h"
#include "util.h"
#include "view.h"
#include "internal.h"

/* Is there a golden entry at P's golden path + NAME (hidden or not)?
 * A generated identity file (etc/machine-id ...) counts as one even
 * where the golden has no file: it shows unless a whiteout hides it, so
 * removing or renaming it away must leave one (else unlink of a
 * generated file failed with EBADF, or succeeded and the file came
 * back). */
static int lower_at(struct pifs_view *v, struct pifs_node *p, const char *name)
{
	char *lp;
	int r;

	if (!p->lower_path)
		return 0;
	lp = join(p->lower_path, name);
	if (!lp)
		return -ENOMEM;
	r = lower_exists(v, lp, NULL);
	free(lp);
	return r == 0 || pifs_gen_kind(p->lower_path, name) != PIFS_GEN_NONE;
}

/* Is the delta entry at P/NAME a whiteout?  1, 0 (nothing there) or
 * -EEXIST (a real entry). */
static int upper_whiteout(struct pifs_node *p, const char *name)
{
	struct stat st;

	if (fstatat(p->upper_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	return is_whiteout(&st) ? 1 : -EEXIST;
}

/* Kinds of new entry place_new() can make. */
struct newent {
	mode_t mode;          /* type and permission bits */
	dev_t rdev;
	const char *target;   /* symlink */
	int link_fd;          /* hard link: O_PATH fd of the existing inode */
	int open_flags;       /* regular file: flags for the returned fd */
	int fd;               /* out: open fd for a regular file */
	uid_t uid;
	gid_t gid;
};

static int make_entry(int dirfd, const char *name, struct newent *ne)
{
	int r = 0;

	/* A hard link, of any type but a directory: a symlink too (dpkg
	 * makes those), whose target is the linked inode's own. */
	if (ne->link_fd >= 0 && !S_ISDIR(ne->mode)) {
		return pifs_do_link(ne->link_fd, "", dirfd, name, AT_EMPTY_PATH);
	}
	switch (ne->mode & S_IFMT) {
	case S_IFDIR:
		r = pifs_do_mkdir(dirfd, name, ne->mode & 07777);
		break;
	case S_IFLNK:
		r = pifs_do_symlink(ne->target, dirfd, name);
		break;
	case S_IFREG:
		ne->fd = openat(dirfd, name,
				(ne->open_flags & ~(O_CREAT | O_EXCL | O_TRUNC |
						    O_NOFOLLOW | O_NOCTTY)) |
					O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				ne->mode & 07777);
		r = ne->fd < 0 ? -errno : 0;
		break;
	default:
		r = pifs_do_mknod(dirfd, name, ne->mode, ne->rdev);
		break;
	}
	if (r < 0)
		return r;
	if (fchownat(dirfd, name, ne->uid, ne->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* chown clears setuid/setgid: put them back. */
	if (!S_ISLNK(ne->mode) && (ne->mode & (S_ISUID | S_ISGID))) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", dirfd, name);
		if (fchmodat(AT_FDCWD, p, ne->mode & 07777, 0) < 0)
			return -errno;
	}
	return 0;
}

/*
 * Create NAME in P's delta (copying P up first).  Where NAME is a
 * whiteout, the entry is built in work/ and swapped in atomically (a
 * directory made there is opaque, so the golden one stays hidden).
 * Returns the new entry's O_PATH fd.  Caller holds v->lock for writing.
 */
static int place_new(struct pifs_view *v, struct pifs_node *p,
		     const char *name, struct newent *ne)
{
	char tmp[64];
	int wh, r, fd;

	ne->fd = -1;
	if ((r = copy_up(v, p, 1)) < 0)
		return r;
	wh = upper_whiteout(p, name);
	if (wh < 0)
		return wh;
	if (!wh) {
		if ((r = make_entry(p->upper_fd, name, ne)) < 0) {
			if (r != -EEXIST)
				pifs_do_unlink(p->upper_fd, name,
					       S_ISDIR(ne->mode) ? AT_REMOVEDIR : 0);
			goto fail;
		}
	} else {
		work_name(tmp, sizeof(tmp));
		if ((r = make_entry(v->work_fd, tmp, ne)) < 0)
			goto fail_tmp;
		if (S_ISDIR(ne->mode)) {
			if ((r = pifs_lsetxattr(v->work_fd, tmp, PIFS_XATTR_OPAQUE,
						"y", 1, 0)) < 0)
				goto fail_tmp;
			if ((r = pifs_do_rename(v->work_fd, tmp, p->upper_fd,
						name, RENAME_EXCHANGE)) < 0)
				goto fail_tmp;
			pifs_do_unlink(v->work_fd, tmp, 0); /* the old whiteout */
		} else if ((r = pifs_do_rename(v->work_fd, tmp, p->upper_fd,
					       name, 0)) < 0) {
			goto fail_tmp;
		}
	}
	fd = openat(p->upper_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	return fd;
fail_tmp:
	pifs_remove_tree(v->work_fd, tmp);
fail:
	if (ne->fd >= 0)
		close(ne->fd);
	ne->fd = -1;
	return r;
}

/* A node for an entry place_new() just made. */
static int new_node(struct pifs_view *v, struct pifs_node *p,
		    const char *name, int fd, struct pifs_node **out,
		    struct stat *st)
{
	struct child c = { .upper_fd = fd };
	uint64_t origin;
	int r;

	if ((r = upper_stat(fd, &c.st, &c.gen)) < 0) {
		close(fd);
		return r;
	}
	if (get_origin(fd, &origin)) {
		c.id = pifs_make_id(v->id, 0, origin);
		c.gen = 0;
	} else {
		c.id = pifs_make_id(v->id, 1, c.st.st_ino);
	}
	c.st.st_ino = c.id;
	*st = c.st;
	if ((r = child_node(v, p, name, &c, out)) < 0) {
		child_release(&c);
		return r;
	}
	pifs_nodes_lookup_inc(&v->fs->nodes, *out);
	pifs_nodes_put(&v->fs->nodes, *out);
	return 0;
}

/* Group and owner for a new entry in P, and the setgid inheritance. */
static int new_owner(struct pifs_view *v, struct pifs_node *p,
		     const struct pifs_ctx *ctx, struct newent *ne)
{
	struct stat pst;
	int r = node_stat(v, p, &pst);

	if (r < 0)
		return r;
	ne->uid = ctx->uid;
	ne->gid = ctx->gid;
	if (pst.st_mode & S_ISGID) {
		ne->gid = pst.st_gid;
		if (S_ISDIR(ne->mode))
			ne->mode |= S_ISGID;
	}
	return 0;
}

/* 0 if p has no child name (its view write-locked), -EEXIST if it has,
 * or -errno. */
static int name_free(struct pifs_view *v, struct pifs_node *p,
		     const char *name)
{
	struct child c;
	int r = find_child(v, p, name, &c);

	if (r == 0) {
		child_release(&c);
		return -EEXIST;
	}
	return r == -ENOENT ? 0 : r;
}

static int create_common(struct pifs_fs *fs, struct pifs_node *p,
			 const char *name, struct newent *ne,
			 const struct pifs_ctx *ctx, struct pifs_node **out,
			 struct stat *st)
{
	struct pifs_view *v = p->view;
	int r, fd;

	if ((r = modifiable(fs, p)) < 0)
		return r;
	if ((r = pifs_check_name(name)) < 0)
		return r;
	if (pifs_layers_is_whiteout(ne->mode, ne->rdev)) {
		/* That is how the delta spells a whiteout. */
		pifs_warn("refused mknod of char device 0:0 '%s' in view '%s'",
			  name, v->name);
		return -EPERM;
	}
	wrlock(v);
	if ((r = name_free(v, p, name)) < 0 ||
	    (ctx && (r = new_owner(v, p, ctx, ne)) < 0))
		goto out;
	fd = place_new(v, p, name, ne);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	r = new_node(v, p, name, fd, out, st);
	if (r < 0 && ne->fd >= 0) {
		close(ne->fd);
		ne->fd = -1;
	}
out:
	jn_node(v, p, name, JF_DIRTY);
	unlock(v);
	return r;
}

int pifs_fs_mknod(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		  mode_t mode, dev_t rdev, const struct pifs_ctx *ctx,
		  struct pifs_node **out, struct stat *st)
{
	struct newent ne = { .mode = mode, .rdev = rdev, .link_fd = -1 };

	if (S_ISDIR(mode) || S_ISLNK(mode))
		return -EINVAL;
	if (S_ISREG(mode)) {
		ne.open_flags = O_WRONLY;
		int r = create_common(fs, p, name, &ne, ctx, out, st);

		if (ne.fd >= 0)
			close(ne.fd);
		return r;
	}
	return create_common(fs, p, name, &ne, ctx, out, st);
}

int pifs_fs_mkdir(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		  mode_t mode, const struct pifs_ctx *ctx,
		  struct pifs_node **out, struct stat *st)
{
	struct newent ne = { .mode = S_IFDIR | (mode & 07777), .link_fd = -1 };

	return create_common(fs, p, name, &ne, ctx, out, st);
}

int pifs_fs_symlink(struct pifs_fs *fs, struct pifs_node *p,
		    const char *name, const char *target,
		    const struct pifs_ctx *ctx, struct pifs_node **out,
		    struct stat *st)
{
	struct newent ne = { .mode = S_IFLNK | 0777, .target = target,
			     .link_fd = -1 };

	return create_common(fs, p, name, &ne, ctx, out, st);
}

int pifs_fs_create(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		   mode_t mode, int flags, const struct pifs_ctx *ctx,
		   struct pifs_node **out, struct stat *st, int *fd_out)
{
	struct newent ne = { .mode = S_IFREG | (mode & 07777), .link_fd = -1,
			     .open_flags = flags };
	int r = create_common(fs, p, name, &ne, ctx, out, st);

	*fd_out = ne.fd;
	return r;
}

int pifs_fs_link(struct pifs_fs *fs, struct pifs_node *n, struct pifs_node *p,
		 const char *name, struct pifs_node **out, struct stat *st)
{
	struct pifs_view *v = p->view;
	struct newent ne = { 0 };
	int r, fd;

	if ((r = modifiable(fs, p)) < 0 || (r = modifiable(fs, n)) < 0)
		return r;
	if (n->view != v)
		return -EXDEV;
	if (S_ISDIR(n->type))
		return -EPERM;
	if ((r = pifs_check_name(name)) < 0)
		return r;
	wrlock(v);
	if ((r = name_free(v, p, name)) < 0 || (r = copy_up(v, n, 1)) < 0)
		goto out;
	ne.mode = n->type;
	ne.link_fd = n->upper_fd;
	fd = place_new(v, p, name, &ne);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	close(fd);
	r = upper_stat(n->upper_fd, st, NULL);
	if (r == 0) {
		st->st_ino = n->id;
		pthread_mutex_lock(&fs->nodes.lock);
		n->refs++;
		pthread_mutex_unlock(&fs->nodes.lock);
		found(fs, n, out);
	}
out:
	jn_node(v, n, NULL, JF_DIRTY);
	jn_node(v, p, name, JF_DIRTY);
	unlock(v);
	return r;
}

/* Mark the cached node (if any) that was reachable as P/NAME as gone. */
static void mark_unlinked(struct pifs_fs *fs, uint64_t id, struct pifs_node *p,
			  const char *name)
{
	struct pifs_node *n = pifs_nodes_get(&fs->nodes, id);

	if (!n)
		return;
	if (n->parent == p && n->name && !strcmp(n->name, name))
		n->unlinked = 1;
	pifs_nodes_put(&fs->nodes, n);
}

/* Remove the delta entry P/NAME (a directory with whatever whiteouts it
 * holds) by moving it to work/ and deleting it there. */
static int remove_upper(struct pifs_view *v, struct pifs_node *p,
			const char *name, int isdir)
{
	char tmp[64];
	int r;

	if (!isdir)
		return pifs_do_unlink(p->upper_fd, name, 0);
	if ((r = pifs_do_unlink(p->upper_fd, name, AT_REMOVEDIR)) == 0)
		return 0;
	if (r != -ENOTEMPTY && r != -EEXIST)
		return r;
	work_name(tmp, sizeof(tmp));
	if ((r = pifs_do_rename(p->upper_fd, name, v->work_fd, tmp, 0)) < 0)
		return r;
	return pifs_remove_tree(v->work_fd, tmp);
}

/* Hide P/NAME whose delta entry (if has_upper) is replaced by a whiteout
 * atomically (RENAME_EXCHANGE for a directory). */
static int whiteout_over(struct pifs_view *v, struct pifs_node *p,
			 const char *name, int has_upper, int isdir)
{
	char tmp[64];
	int r;

	if (!has_upper)
		return pifs_do_whiteout(p->upper_fd, name);
	work_name(tmp, sizeof(tmp));
	if ((r = pifs_do_whiteout(v->work_fd, tmp)) < 0)
		return r;
	if (!isdir) {
		if ((r = pifs_do_rename(v->work_fd, tmp, p->upper_fd, name,
					0)) < 0)
			pifs_do_unlink(v->work_fd, tmp, 0);
		return r;
	}
	if ((r = pifs_do_rename(v->work_fd, tmp, p->upper_fd, name,
				RENAME_EXCHANGE)) < 0) {
		pifs_do_unlink(v->work_fd, tmp, 0);
		return r;
	}
	return pifs_remove_tree(v->work_fd, tmp);
}

static int remove_common(struct pifs_fs *fs, struct pifs_node *p,
			 const char *name, int isdir)
{
	struct pifs_view *v = p->view;
	struct pifs_node *n = NULL;
	struct child c;
	int r, low;

	if ((r = modifiable(fs, p)) < 0)
		return r;
	wrlock(v);
	if ((r = find_child(v, p, name, &c)) < 0)
		goto out;
	if (isdir != !!S_ISDIR(c.st.st_mode)) {
		child_release(&c);
		r = isdir ? -ENOTDIR : -EISDIR;
		goto out;
	}
	uint64_t id = c.id;
	int has_upper = c.upper_fd >= 0;

	if (isdir) {
		if ((r = child_node_revive(v, p, name, &c, &n, 1)) < 0)
			goto out;
		if ((r = dir_has_entries(v, n)) != 0) {
			r = r > 0 ? -ENOTEMPTY : r;
			goto out;
		}
	} else {
		child_release(&c);
	}
	if ((low = lower_at(v, p, name)) < 0) {
		r = low;
		goto out;
	}
	if (low) {
		if ((r = copy_up(v, p, 1)) < 0)
			goto out;
		r = whiteout_over(v, p, name, has_upper, isdir);
	} else {
		r = remove_upper(v, p, name, isdir);
	}
	if (r == 0)
		mark_unlinked(fs, id, p, name);
out:
	jn_node(v, p, name, JF_DIRTY);
	if (n)
		pifs_nodes_put(&fs->nodes, n);
	unlock(v);
	return r;
}

int pifs_fs_unlink(struct pifs_fs *fs, struct pifs_node *p, const char *name)
{
	return remove_common(fs, p, name, 0);
}

int pifs_fs_rmdir(struct pifs_fs *fs, struct pifs_node *p, const char *name)
{
	return remove_common(fs, p, name, 1);
}

/*
 * Before directory N (already in the delta) moves to Q/NAME: make sure the
 * golden it merges with stays the same (a redirect to its own golden
 * path) and that no other golden directory shows through at the new
 * place (opaque).  Both are harmless where N is now.
 */
static int prepare_dir_move(struct pifs_view *v, struct pifs_node *n,
			    struct pifs_node *q, const char *name)
{
	char *natural = NULL;
	int r = 0, low;

	if (!S_ISDIR(n->type))
		return 0;
	if (n->lower_path) {
		if (q->lower_path && !(natural = join(q->lower_path, name)))
			return -ENOMEM;
		if (!natural || strcmp(natural, n->lower_path)) {
			char *red = pifs_strdupf("/%s", n->lower_path);

			if (!red)
				r = -ENOMEM;
			else
				r = pifs_lsetxattr(n->upper_fd, NULL,
						   PIFS_XATTR_REDIRECT, red,
						   strlen(red), 0);
			free(red);
		}
		free(natural);
		return r;
	}
	low = lower_at(v, q, name);
	if (low <= 0)
		return low;
	return pifs_lsetxattr(n->upper_fd, NULL, PIFS_XATTR_OPAQUE, "y", 1, 0);
}

/* Replace the delta directory of empty merged dir D (at Q/NAME) with an
 * empty opaque one, atomically, so a rename can go over it. */
static int clear_empty_dir(struct pifs_view *v, struct pifs_node *q,
			   const char *name, struct pifs_node *d)
{
	struct stat st;
	char tmp[64];
	int r;

	if ((r = pifs_fstat(d->upper_fd, &st)) < 0)
		return r;
	work_name(tmp, sizeof(tmp));
	if ((r = pifs_do_mkdir(v->work_fd, tmp, 0700)) < 0)
		return r;
	if ((r = pifs_lsetxattr(v->work_fd, tmp, PIFS_XATTR_OPAQUE, "y", 1, 0)) < 0 ||
	    (r = pifs_set_attrs(v->work_fd, tmp, &st)) < 0)
		goto fail;
	if ((r = pifs_do_rename(v->work_fd, tmp, q->upper_fd, name,
				RENAME_EXCHANGE)) < 0)
		goto fail;
	return pifs_remove_tree(v->work_fd, tmp);
fail:
	pifs_remove_tree(v->work_fd, tmp);
	return r;
}

int pifs_fs_rename(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		   struct pifs_node *q, const char *newname, unsigned flags)
{
	struct pifs_view *v = p->view;
	struct pifs_node *src = NULL, *dst = NULL;
	struct child c;
	int r, src_low, wh;

	if ((r = modifiable(fs, p)) < 0 || (r = modifiable(fs, q)) < 0)
		return r;
	if (q->view != v)
		return -EXDEV;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((r = pifs_check_name(newname)) < 0)
		return r;
	wrlock(v);
	if ((r = find_child(v, p, name, &c)) < 0 ||
	    (r = child_node_revive(v, p, name, &c, &src, 1)) < 0)
		goto out;
	r = find_child(v, q, newname, &c);
	if (r == 0) {
		if ((r = child_node_revive(v, q, newname, &c, &dst, 1)) < 0)
			goto out;
	} else if (r != -ENOENT) {
		goto out;
	}
	r = 0;
	if (dst && dst == src)
		goto out; /* same file: nothing to do */
	if (flags & RENAME_NOREPLACE && dst) {
		r = -EEXIST;
		goto out;
	}
	if (flags & RENAME_EXCHANGE && !dst) {
		r = -ENOENT;
		goto out;
	}
	/* Moving a directory into itself is refused by the kernel before
	 * it reaches us (it knows the whole dentry chain). */
	if (dst && !(flags & RENAME_EXCHANGE)) {
		if (S_ISDIR(src->type) && !S_ISDIR(dst->type)) {
			r = -ENOTDIR;
			goto out;
		}
		if (!S_ISDIR(src->type) && S_ISDIR(dst->type)) {
			r = -EISDIR;
			goto out;
		}
		if (S_ISDIR(dst->type) && (r = dir_has_entries(v, dst)) != 0) {
			r = r > 0 ? -ENOTEMPTY : r;
			goto out;
		}
	}
	if ((r = copy_up(v, p, 1)) < 0 || (r = copy_up(v, q, 1)) < 0 ||
	    (r = copy_up(v, src, 1)) < 0)
		goto out;
	if (flags & RENAME_EXCHANGE) {
		if ((r = copy_up(v, dst, 1)) < 0 ||
		    (r = prepare_dir_move(v, src, q, newname)) < 0 ||
		    (r = prepare_dir_move(v, dst, p, name)) < 0)
			goto out;
		if ((r = pifs_do_rename(p->upper_fd, name, q->upper_fd,
					newname, RENAME_EXCHANGE)) < 0)
			goto out;
		if ((r = pifs_node_move(&fs->nodes, src, q, newname)) == 0)
			r = pifs_node_move(&fs->nodes, dst, p, name);
		goto out;
	}
	if ((src_low = lower_at(v, p, name)) < 0) {
		r = src_low;
		goto out;
	}
	if ((r = prepare_dir_move(v, src, q, newname)) < 0)
		goto out;
	if (dst && S_ISDIR(dst->type) && dst->upper_fd >= 0 &&
	    (r = clear_empty_dir(v, q, newname, dst)) < 0)
		goto out;
	wh = dst ? 0 : upper_whiteout(q, newname);
	if (wh < 0) {
		r = wh;
		goto out;
	}
	if (wh && S_ISDIR(src->type)) {
		/* A directory cannot replace the whiteout (a char device):
		 * swap them, then drop the whiteout unless the source
		 * position needs one. */
		if ((r = pifs_do_rename(p->upper_fd, name, q->upper_fd,
					newname, RENAME_EXCHANGE)) < 0)
			goto out;
		if (!src_low && (r = pifs_do_unlink(p->upper_fd, name, 0)) < 0)
			pifs_warn("cannot drop whiteout '%s': %s", name,
				  strerror(-r));
	} else if ((r = pifs_do_rename(p->upper_fd, name, q->upper_fd, newname,
				       src_low ? RENAME_WHITEOUT : 0)) < 0) {
		goto out;
	}
	if (dst)
		dst->unlinked = 1;
	r = pifs_node_move(&fs->nodes, src, q, newname);
out:
	/* A directory that arrived by a rename brings paths the journal
	 * never saw: all of it is read again (JF_FULL). */
	jn_node(v, p, name,
		JF_DIRTY | ((flags & RENAME_EXCHANGE) && dst &&
				    S_ISDIR(dst->type)
				? JF_FULL
				: 0));
	jn_node(v, q, newname,
		JF_DIRTY | (src && S_ISDIR(src->type) ? JF_FULL : 0));
	if (src)
		pifs_nodes_put(&fs->nodes, src);
	if (dst)
		pifs_nodes_put(&fs->nodes, dst);
	unlock(v);
	return r;
}
