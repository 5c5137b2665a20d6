/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * inode.c - one node at a time: its pins and the kernel's lookup count,
 * the attributes the client sees (getattr, setattr), readlink, extended
 * attributes (pifs's own are hidden and refused) and statfs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "safeio.h"
#include "view.h"
#include "internal.h"

/*
 * Attributes of a view node as the client sees them.  A directory the
 * golden has a part of reports one link, whether or not the delta has
 * it too (the convention for "not counted": find and fts then do not
 * use it to skip subdirectories): its real count needs the merged
 * listing, and a count that changed when an open for writing below it
 * copied it up into the delta would be one the kernel has cached.  A
 * directory only the delta has reports its own count.
 */
int node_stat(struct pifs_view *v, struct pifs_node *n, struct stat *st)
{
	int r;

	if (n->upper_fd >= 0) {
		r = upper_stat(n->upper_fd, st, NULL);
		if (r == 0 && S_ISDIR(st->st_mode) && n->lower_path)
			st->st_nlink = 1;
	} else if (n->gen_kind && !n->unlinked) {
		r = gen_stat(v, n->gen_kind, n->lower_path, st);
	} else if (n->lower_path) {
		r = lower_exists(v, n->lower_path, st);
		if (r == 0 && S_ISDIR(st->st_mode))
			st->st_nlink = 1;
	} else {
		r = -ESTALE;
	}
	if (r == 0)
		st->st_ino = n->id;
	return r;
}

struct pifs_node *pifs_fs_node(struct pifs_fs *fs, uint64_t id)
{
	return pifs_nodes_get(&fs->nodes, id);
}

void pifs_fs_put(struct pifs_fs *fs, struct pifs_node *n)
{
	if (n)
		pifs_nodes_put(&fs->nodes, n);
}

void pifs_fs_forget(struct pifs_fs *fs, uint64_t id, uint64_t nlookup)
{
	if (id == PIFS_ROOT_ID)
		return;
	pifs_nodes_forget(&fs->nodes, id, nlookup);
}

/* Reply data for a node found: count the lookup. */
void found(struct pifs_fs *fs, struct pifs_node *n, struct pifs_node **out)
{
	pifs_nodes_lookup_inc(&fs->nodes, n);
	*out = n;
	pifs_nodes_put(&fs->nodes, n); /* the lookup count keeps it alive */
}

void pin(struct pifs_fs *fs, struct pifs_node *n)
{
	pthread_mutex_lock(&fs->nodes.lock);
	n->refs++;
	pthread_mutex_unlock(&fs->nodes.lock);
}

int pifs_fs_getattr(struct pifs_fs *fs, struct pifs_node *n, struct stat *st)
{
	int r;

	if (n->real) {
		if ((r = pifs_fs_getattr(fs, n->real, st)) == 0)
			st->st_ino = n->id;
		return r;
	}
	if (!n->view && n->lower_path) {
		if ((r = pifs_lstat_beneath(fs->store.golden_fd, n->lower_path, st)) == 0)
			st->st_ino = n->id;
		return r;
	}
	if (!n->view)
		return static_stat(fs, n, st);
	rdlock(n->view);
	r = node_stat(n->view, n, st);
	unlock(n->view);
	return r;
}

int pifs_fs_setattr(struct pifs_fs *fs, struct pifs_node *n,
		    const struct stat *a, unsigned to_set, int fd,
		    struct stat *st)
{
	struct pifs_view *v = n->view;
	char p[40];
	int r;

	if ((r = modifiable(fs, n)) < 0)
		return r;
	wrlock(v);
	r = copy_up(v, n, !((to_set & PIFS_SET_SIZE) && a->st_size == 0));
	if (r < 0)
		goto out;
	pifs_fd_path(n->upper_fd, p, sizeof(p));
	if ((to_set & PIFS_SET_MODE) && !S_ISLNK(n->type) &&
	    fchmodat(AT_FDCWD, p, a->st_mode & 07777, 0) < 0) {
		r = -errno;
		goto out;
	}
	if ((to_set & (PIFS_SET_UID | PIFS_SET_GID)) &&
	    fchownat(n->upper_fd, "", (to_set & PIFS_SET_UID) ? a->st_uid : (uid_t)-1,
		     (to_set & PIFS_SET_GID) ? a->st_gid : (gid_t)-1,
		     AT_EMPTY_PATH) < 0) {
		r = -errno;
		goto out;
	}
	if (to_set & PIFS_SET_SIZE) {
		if (!S_ISREG(n->type)) {
			r = -EINVAL;
			goto out;
		}
		r = fd >= 0 ? ftruncate(fd, a->st_size) : truncate(p, a->st_size);
		if (r < 0) {
			r = -errno;
			goto out;
		}
	}
	if (to_set & (PIFS_SET_ATIME | PIFS_SET_MTIME | PIFS_SET_ATIME_NOW |
		      PIFS_SET_MTIME_NOW)) {
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT },
					  { .tv_nsec = UTIME_OMIT } };

		if (to_set & PIFS_SET_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (to_set & PIFS_SET_ATIME)
			ts[0] = a->st_atim;
		if (to_set & PIFS_SET_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (to_set & PIFS_SET_MTIME)
			ts[1] = a->st_mtim;
		if (S_ISLNK(n->type)) {
			if (!n->parent || n->parent->upper_fd < 0)
				r = -ESTALE;
			else if (utimensat(n->parent->upper_fd, n->name, ts,
					   AT_SYMLINK_NOFOLLOW) < 0)
				r = -errno;
		} else if (utimensat(AT_FDCWD, p, ts, 0) < 0) {
			r = -errno;
		}
		if (r < 0)
			goto out;
	}
	r = node_stat(v, n, st);
out:
	jn_node(v, n, NULL, JF_DIRTY);
	unlock(v);
	return r;
}

ssize_t pifs_fs_readlink(struct pifs_fs *fs, struct pifs_node *n, char *buf,
			 size_t size)
{
	struct pifs_view *v = n->view;
	ssize_t r;
	int fd;

	if (!v || !S_ISLNK(n->type))
		return -EINVAL;
	rdlock(v);
	if (n->upper_fd >= 0)
		fd = dup(n->upper_fd);
	else if (n->lower_path)
		fd = pifs_openat_beneath(v->lower_root, n->lower_path,
					 O_PATH | O_NOFOLLOW, 0);
	else
		fd = -ESTALE;
	unlock(v);
	if (fd < 0)
		return fd == -1 ? -errno : fd;
	r = readlinkat(fd, "", buf, size - 1);
	if (r < 0)
		r = -errno;
	else
		buf[r] = '\0';
	close(fd);
	return r;
}

/* An fd to run xattr calls on: the delta entry, or the golden one;
 * -ENODATA for a generated file the golden does not have. */
static int xattr_fd(struct pifs_view *v, struct pifs_node *n)
{
	if (n->upper_fd < 0 && !n->lower_path && n->gen_kind && !n->unlinked)
		return -ENODATA;
	if (n->upper_fd >= 0) {
		int fd = fcntl(n->upper_fd, F_DUPFD_CLOEXEC, 0);

		return fd < 0 ? -errno : fd;
	}
	if (n->lower_path)
		return pifs_openat_beneath(v->lower_root, n->lower_path,
					   O_PATH | O_NOFOLLOW, 0);
	return -ESTALE;
}

ssize_t pifs_fs_getxattr(struct pifs_fs *fs, struct pifs_node *n,
			 const char *name, void *buf, size_t size)
{
	ssize_t r;
	int fd;

	if (n->real)
		n = n->real;
	if (!n->view)
		return -ENODATA;
	if (pifs_xattr_private(name))
		return -ENODATA;
	rdlock(n->view);
	fd = xattr_fd(n->view, n);
	unlock(n->view);
	if (fd < 0)
		return fd;
	r = pifs_lgetxattr(fd, NULL, name, buf, size);
	close(fd);
	return r;
}

ssize_t pifs_fs_listxattr(struct pifs_fs *fs, struct pifs_node *n, char *buf,
			  size_t size)
{
	char *raw = NULL;
	ssize_t len, out = 0;
	int fd;

	if (n->real)
		n = n->real;
	if (!n->view)
		return 0;
	rdlock(n->view);
	fd = xattr_fd(n->view, n);
	unlock(n->view);
	if (fd == -ENODATA)
		return 0;
	if (fd < 0)
		return fd;
	for (int tries = 0; tries < 4; tries++) {
		len = pifs_llistxattr(fd, NULL, NULL, 0);
		if (len <= 0)
			break;
		free(raw);
		raw = malloc((size_t)len);
		if (!raw) {
			len = -ENOMEM;
			break;
		}
		len = pifs_llistxattr(fd, NULL, raw, (size_t)len);
		if (len != -ERANGE)
			break;
	}
	close(fd);
	if (len < 0) {
		free(raw);
		return len;
	}
	for (ssize_t i = 0; i < len;) {
		size_t l = strlen(raw + i) + 1;

		if (!pifs_xattr_private(raw + i)) {
			if (size) {
				if ((size_t)out + l > size) {
					free(raw);
					return -ERANGE;
				}
				memcpy(buf + out, raw + i, l);
			}
			out += (ssize_t)l;
		}
		i += (ssize_t)l;
	}
	free(raw);
	return out;
}

/* Set name to val (size bytes), or remove it, in n's copy up. */
static int xattr_change(struct pifs_fs *fs, struct pifs_node *n,
			const char *name, int remove, const void *val,
			size_t size, int flags)
{
	int r;

	if ((r = modifiable(fs, n)) < 0)
		return r;
	if (pifs_xattr_private(name))
		return -EPERM;
	wrlock(n->view);
	r = copy_up(n->view, n, 1);
	if (r == 0)
		r = remove ? pifs_lremovexattr(n->upper_fd, NULL, name)
			   : pifs_lsetxattr(n->upper_fd, NULL, name, val,
					    size, flags);
	jn_node(n->view, n, NULL, JF_DIRTY);
	unlock(n->view);
	return r;
}

int pifs_fs_setxattr(struct pifs_fs *fs, struct pifs_node *n, const char *name,
		     const void *val, size_t size, int flags)
{
	return xattr_change(fs, n, name, 0, val, size, flags);
}

int pifs_fs_removexattr(struct pifs_fs *fs, struct pifs_node *n,
			const char *name)
{
	return xattr_change(fs, n, name, 1, NULL, 0, 0);
}

int pifs_fs_statfs(struct pifs_fs *fs, struct pifs_node *n, struct statvfs *sv)
{
	char p[40];

	if (statvfs(pifs_fd_path(fs->store.deltas_fd, p, sizeof(p)), sv) < 0)
		return -errno;
	return 0;
}

int pifs_fs_syncfs(struct pifs_fs *fs)
{
	int fd = openat(fs->store.deltas_fd, ".",
			O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0 || syncfs(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	return r;
}
