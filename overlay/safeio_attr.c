/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * safeio_attr.c - attributes on (dirfd, name) pairs of the store, never
 * following a symlink: owner, mode and times (pifs_set_attrs), the mode
 * alone (pifs_chmod_beneath), and pifs_apply_attrs, the one attribute
 * applier every copy the store makes goes through (the order is in
 * safeio.h).  chmod has no no-follow variant: the entry is pinned with an
 * O_PATH fd and changed through its /proc/self/fd link.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safeio.h"
#include "util.h"

int pifs_set_attrs(int dirfd, const char *name, const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	char path[PIFS_PROC_PATH_MAX];
	struct stat cur;
	int fd = -1, ret;

	if (!name || !*name) {
		if (fchownat(dirfd, "", st->st_uid, st->st_gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		ret = pifs_fstat(dirfd, &cur);
		if (ret < 0)
			return ret;
		pifs_fd_path(dirfd, path, sizeof(path));
		if (!S_ISLNK(cur.st_mode) &&
		    chmod(path, st->st_mode & 07777) < 0)
			return -errno;
		if (utimensat(AT_FDCWD, path, ts, 0) < 0)
			return -errno;
		return 0;
	}
	if (pifs_check_name(name) < 0)
		return -EINVAL;
	if (fchownat(dirfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) <
	    0)
		return -errno;
	/* chmod has no no-follow variant: pin the entry with an O_PATH fd,
	 * make sure it is no symlink, and chmod through its proc link. */
	fd = pifs_openat_beneath(dirfd, name, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	ret = pifs_fstat(fd, &cur);
	if (ret < 0)
		goto out_close;
	if (!S_ISLNK(cur.st_mode)) {
		pifs_fd_path(fd, path, sizeof(path));
		if (chmod(path, st->st_mode & 07777) < 0) {
			ret = -errno;
			goto out_close;
		}
	}
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		ret = -errno;
out_close:
	close(fd);
	return ret;
}

int pifs_chmod_beneath(int dirfd, const char *name, mode_t mode)
{
	char path[PIFS_PROC_PATH_MAX];
	int fd, ret = 0;

	fd = pifs_openat_beneath(dirfd, name, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	if (chmod(pifs_fd_path(fd, path, sizeof(path)), mode & 07777) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int pifs_apply_attrs(int dirfd, const char *name, const struct stat *st,
		     int (*xattrs)(void *ctx, int dirfd, const char *name),
		     void *ctx, const char **stage)
{
	const char *dummy;
	struct stat cur;
	int ret;

	if (!stage)
		stage = &dummy;
	*stage = "set attributes of";
	if ((ret = pifs_set_attrs(dirfd, name, st)) < 0)
		return ret;
	*stage = NULL;
	if (xattrs && (ret = xattrs(ctx, dirfd, name)) < 0)
		return ret;
	if (S_ISLNK(st->st_mode))
		return 0;
	/* A system.posix_acl_access xattr rewrites the group bits. */
	*stage = "stat";
	if ((ret = name && *name ? pifs_lstat_beneath(dirfd, name, &cur)
				 : pifs_fstat(dirfd, &cur)) < 0)
		return ret;
	*stage = "set the mode of";
	if ((cur.st_mode & 07777) != (st->st_mode & 07777)) {
		if (name && *name)
			ret = pifs_chmod_beneath(dirfd, name, st->st_mode);
		else
			ret = pifs_set_attrs(dirfd, name, st);
		if (ret < 0)
			return ret;
	}
	*stage = NULL;
	return 0;
}
