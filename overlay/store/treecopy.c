/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store/treecopy.c - the full-fidelity tree copy that brings a golden
 * into the store, and the immutable flag on the copy.  Attributes are
 * applied in the order the kernel needs: chown (which clears setuid/setgid
 * and security.capability), chmod, timestamps, then the xattrs (so a file
 * capability survives), then chmod again only if a POSIX ACL changed the
 * group bits.  Directory timestamps are set after their children are in
 * place.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "manifest.h"
#include "safeio.h"
#include "store.h"
#include "progress.h"
#include "store/internal.h"
#include "util.h"

#define PROGRESS_EVERY 10000

/* ---- tree copy ---- */

struct copy_ctx {
	int droot; /* destination root dir (for hard links) */
	struct pifs_bar bar; /* on a terminal: entries copied of all */
	struct pifs_kvmap links; /* (dev, ino) -> first destination path */
	FILE *progress;
	unsigned long count;
	const char *prefix; /* source path for messages, may be NULL */
	char *errbuf;
	size_t errlen;
};

/* Record the failure of rel once (the innermost caller wins). */
static int copy_fail(struct copy_ctx *c, const char *what, const char *rel,
		     int err)
{
	if (!strcmp(rel, "."))
		pifs_seterr(c->errbuf, c->errlen, "cannot %s '%s': %s", what,
			    c->prefix ? c->prefix : ".", strerror(-err));
	else
		pifs_seterr(c->errbuf, c->errlen, "cannot %s '%s%s%s': %s",
			    what, c->prefix ? c->prefix : "",
			    c->prefix ? "/" : "", rel, strerror(-err));
	return err;
}

struct xsrc {
	int dir;
	const char *name;
};

static int copy_xattrs_from(void *ctx, int ddir, const char *dname)
{
	const struct xsrc *x = ctx;

	return pifs_copy_xattrs(x->dir, x->name, ddir, dname, NULL);
}

/* Owner, mode, times, then xattrs from (xdir, xname) onto ddir/dname
 * (pifs_apply_attrs). */
static int copy_attrs(int xdir, const char *xname, int ddir, const char *dname,
		      const struct stat *st)
{
	struct xsrc x = { xdir, xname };

	return pifs_apply_attrs(ddir, dname, st, copy_xattrs_from, &x, NULL);
}

static int copy_file(int sdir, const char *name, int ddir,
		     const struct stat *st)
{
	struct stat sst;
	int sfd, dfd = -1, ret;

	/* O_NOATIME keeps the source's atimes as they were (owner or
	 * CAP_FOWNER only, hence the retry) */
	sfd = openat(sdir, name,
		     O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NOATIME);
	if (sfd < 0 && errno == EPERM)
		sfd = openat(sdir, name,
			     O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	ret = pifs_fstat(sfd, &sst);
	if (ret < 0)
		goto out;
	if (sst.st_ino != st->st_ino || sst.st_dev != st->st_dev) {
		ret = -ESTALE;
		goto out;
	}
	dfd =
	    openat(ddir, name,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0) {
		ret = -errno;
		goto out;
	}
	ret = pifs_copy_data(sfd, dfd, sst.st_size);
	if (ret == 0 && close(dfd) < 0)
		ret = -errno;
	else if (ret < 0)
		close(dfd);
out:
	close(sfd);
	return ret;
}

static int copy_symlink(int sdir, const char *name, int ddir,
			const struct stat *st)
{
	size_t cap = (size_t)st->st_size + 2;
	char *target;
	ssize_t n;
	int ret = 0;

	target = malloc(cap);
	if (!target)
		return -ENOMEM;
	n = readlinkat(sdir, name, target, cap);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n >= cap)
		ret = -ESTALE; /* grew under us */
	if (ret == 0) {
		target[n] = '\0';
		ret = pifs_do_symlink(target, ddir, name);
	}
	free(target);
	return ret;
}

static int copy_dir(struct copy_ctx *c, int sfd, int dfd, const char *rel);

/* One more entry copied: the bar on a terminal, a line now and then in
 * a log.  0. */
static int counted(struct copy_ctx *c)
{
	++c->count;
	pifs_bar_update(&c->bar, c->count);
	if (c->count % PROGRESS_EVERY == 0 && c->progress && c->bar.fd < 0) {
		fprintf(c->progress, "copied %lu entries\n", c->count);
		fflush(c->progress);
	}
	return 0;
}

/* Copy one entry sdir/name (stat st, path rel below the root) into ddir. */
static int copy_entry(struct copy_ctx *c, int sdir, const char *name, int ddir,
		      const char *rel, const struct stat *st)
{
	const char *first;
	int sfd, dfd, ret;

	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1 &&
	    (first = pifs_kv_find(&c->links, st->st_dev, st->st_ino))) {
		if ((ret = pifs_do_link(c->droot, first, ddir, name, 0)) < 0)
			return copy_fail(c, "link", rel, ret);
		return counted(c);
	}
	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		if ((ret = pifs_do_mkdir(ddir, name, 0700)) < 0)
			return copy_fail(c, "create", rel, ret);
		sfd = openat(sdir, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			return copy_fail(c, "open", rel, -errno);
		dfd = pifs_openat_beneath(ddir, name,
					  O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
		if (dfd < 0) {
			close(sfd);
			return copy_fail(c, "open copy of", rel, dfd);
		}
		ret = copy_dir(c, sfd, dfd, rel);
		close(dfd);
		if (ret == 0) {
			ret = copy_attrs(sfd, NULL, ddir, name, st);
			if (ret < 0)
				copy_fail(c, "set attributes of", rel, ret);
		}
		close(sfd);
		return ret < 0 ? ret : counted(c);
	case S_IFREG:
		ret = copy_file(sdir, name, ddir, st);
		break;
	case S_IFLNK:
		ret = copy_symlink(sdir, name, ddir, st);
		break;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		ret = pifs_do_mknod(ddir, name, (st->st_mode & S_IFMT) | 0600,
				    st->st_rdev);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (ret < 0)
		return copy_fail(c, "copy", rel, ret);
	ret = copy_attrs(sdir, name, ddir, name, st);
	if (ret < 0)
		return copy_fail(c, "set attributes of", rel, ret);
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		ret = pifs_kv_add(&c->links, st->st_dev, st->st_ino, rel);
		if (ret < 0)
			return copy_fail(c, "copy", rel, ret);
	}
	return counted(c);
}

/* Copy the children of the real directory fd sfd into dfd. */
static int copy_dir(struct copy_ctx *c, int sfd, int dfd, const char *rel)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	char *crel;
	int fd, ret = 0;

	fd = dup(sfd);
	if (fd < 0)
		return copy_fail(c, "read", rel, -errno);
	dir = fdopendir(fd);
	if (!dir) {
		ret = -errno;
		close(fd);
		return copy_fail(c, "read", rel, ret);
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno)
				ret = copy_fail(c, "read", rel, -errno);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		crel = strcmp(rel, ".") ? pifs_strdupf("%s/%s", rel, de->d_name)
					: strdup(de->d_name);
		if (!crel) {
			ret = copy_fail(c, "copy", rel, -ENOMEM);
			break;
		}
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			ret = copy_fail(c, "stat", crel, -errno);
		else
			ret = copy_entry(c, sfd, de->d_name, dfd, crel, &st);
		free(crel);
		if (ret < 0)
			break;
	}
	closedir(dir);
	return ret;
}

/* The entries below the directory fd dfd (consumed), for the bar's
 * total: names and d_type only, no stat; 0 where it cannot tell. */
static uint64_t count_entries(int dfd, unsigned depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	uint64_t n = 0;

	if (!d) {
		close(dfd);
		return 0;
	}
	while ((e = readdir(d))) {
		int fd;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (e->d_type != DT_DIR || depth > 256)
			continue;
		fd = openat(dirfd(d), e->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			n += count_entries(fd, depth + 1);
	}
	closedir(d);
	return n;
}

int pifs_store_tree_copy(int sdir, const char *sname, int ddir,
			 const char *dname, FILE *progress, int bar_fd,
			 const char *prefix, char *errbuf, size_t errlen)
{
	struct copy_ctx c = {.droot = -1,
			     .bar = {.fd = -1},
			     .progress = progress,
			     .prefix = prefix,
			     .errbuf = errbuf,
			     .errlen = errlen};
	struct stat st;
	int sfd, ret;

	pifs_errclear(errbuf, errlen);
	ret = pifs_check_name(dname);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "bad destination name '%s'", dname);
		return ret;
	}
	sfd = pifs_openat_beneath(sdir, sname,
				  O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (sfd < 0)
		return copy_fail(&c, "open", ".", sfd);
	ret = pifs_fstat(sfd, &st);
	if (ret < 0) {
		copy_fail(&c, "stat", ".", ret);
		goto out_sfd;
	}
	if ((ret = pifs_do_mkdir(ddir, dname, 0700)) < 0) {
		ret = copy_fail(&c, "create copy of", ".", ret);
		goto out_sfd;
	}
	c.droot = pifs_openat_beneath(ddir, dname,
				      O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (c.droot < 0) {
		ret = copy_fail(&c, "open copy of", ".", c.droot);
		goto out_sfd;
	}
	pifs_bar_start(&c.bar, -1, "copying golden", "entries", 0);
	if (bar_fd >= 0) {
		int fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		pifs_bar_start(&c.bar, bar_fd, "copying golden", "entries",
			       fd >= 0 ? count_entries(fd, 0) : 0);
	}
	ret = copy_dir(&c, sfd, c.droot, ".");
	if (ret == 0)
		pifs_bar_update(&c.bar, c.bar.total);
	pifs_bar_end(&c.bar);
	if (ret == 0) {
		ret = copy_attrs(sfd, NULL, ddir, dname, &st);
		if (ret < 0)
			copy_fail(&c, "set attributes of", ".", ret);
	}
	if (ret == 0 && progress) {
		fprintf(progress, "copied %lu entries\n", c.count + 1);
		fflush(progress);
	}
	close(c.droot);
out_sfd:
	close(sfd);
	pifs_kv_free(&c.links);
	return ret;
}

int pifs_tree_copy(int sdir, const char *sname, int ddir, const char *dname,
		   FILE *progress)
{
	char msg[PATH_MAX + 128];
	int ret;

	ret = pifs_store_tree_copy(sdir, sname, ddir, dname, progress, -1, NULL,
				   msg, sizeof(msg));
	if (ret < 0)
		pifs_err("%s", msg);
	return ret;
}

/* ---- immutable golden ---- */

static int immutable_children(int dfd);

static int immutable_one(int dfd, const struct dirent *de, void *arg)
{
	int cfd, ret;

	if (de->d_type == DT_DIR) {
		cfd = openat(dfd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			return -errno;
		ret = immutable_children(cfd);
		close(cfd);
		if (ret < 0)
			return ret;
	}
	/* d_type may be DT_UNKNOWN: set_immutable checks itself */
	return pifs_set_immutable(dfd, de->d_name, 1);
}

/* Set FS_IMMUTABLE_FL on everything below the real dir fd dfd (not on
 * dfd itself). */
static int immutable_children(int dfd)
{
	return pifs_dir_foreach(dfd, immutable_one, NULL);
}

int pifs_store_set_immutable(int parent, const char *name)
{
	int fd, ret;

	fd = pifs_openat_beneath(parent, name,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	ret = pifs_set_immutable(fd, NULL, 1);
	if (ret == 0) {
		ret = immutable_children(fd);
		if (ret == 0)
			ret = pifs_set_immutable(parent, name, 1);
	}
	close(fd);
	return ret;
}
