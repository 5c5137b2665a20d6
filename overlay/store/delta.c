/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store/delta.c - the workers' delta directories: creating one (its root
 * carries the golden root's owner, mode and times), the atomic swap a
 * reset ends with, retiring one, and work/: emptying it, removing one
 * build or what dead resets left.  The commands (tools/) come here
 * instead of using the store's directory fds themselves.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
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
#include "store/internal.h"
#include "util.h"

/* ---- deltas ---- */

int pifs_store_delta_init(struct pifs_store *st, int dirfd, const char *name)
{
	return pifs_store_delta_init_on(st, dirfd, name, NULL);
}

int pifs_store_delta_init_on(struct pifs_store *st, int dirfd,
			     const char *name, const char *golden)
{
	struct stat gst;
	uint8_t origin[8];
	int ret, i, gfd;

	ret = pifs_check_name(name);
	if (ret < 0)
		return ret;
	if (!golden)
		golden = st->conf.golden;
	gfd = pifs_store_golden_open(st, golden);
	if (gfd < 0)
		return gfd;
	ret = pifs_fstat(gfd, &gst);
	if (ret < 0)
		goto out_gfd;
	if ((ret = pifs_do_mkdir(dirfd, name, 0700)) < 0)
		goto out_gfd;
	ret = pifs_set_attrs(dirfd, name, &gst);
	if (ret < 0)
		goto out_remove;
	ret = pifs_copy_xattrs(gfd, NULL, dirfd, name, pifs_xattr_private);
	if (ret < 0)
		goto out_remove;
	for (i = 0; i < 8; i++)
		origin[i] = (uint8_t)((uint64_t)gst.st_ino >> (8 * i));
	ret = pifs_lsetxattr(dirfd, name, PIFS_XATTR_ORIGIN, origin,
			     sizeof(origin), 0);
	if (ret == 0)
		ret = pifs_lsetxattr(dirfd, name, PIFS_XATTR_GOLDEN, golden, 16,
				     0);
	if (ret < 0)
		goto out_remove;
	/* an ACL among the xattrs may have rewritten the group bits */
	ret = pifs_chmod_beneath(dirfd, name, gst.st_mode);
	if (ret < 0)
		goto out_remove;
	close(gfd);
	return 0;

out_remove:
	pifs_remove_tree(dirfd, name);
out_gfd:
	close(gfd);
	return ret;
}

int pifs_store_delta_create(struct pifs_store *st, const char *name)
{
	return pifs_store_delta_create_on(st, name, NULL);
}

int pifs_store_delta_create_on(struct pifs_store *st, const char *name,
			       const char *golden)
{
	int ret;

	ret = pifs_store_delta_init_on(st, st->deltas_fd, name, golden);
	if (ret < 0)
		return ret;
	return pifs_fsync_dir(st->deltas_fd);
}

int pifs_store_delta_undo_create(struct pifs_store *st, const char *name)
{
	int ret = pifs_check_name(name);

	if (ret < 0 || (ret = pifs_remove_tree(st->deltas_fd, name)) < 0)
		return ret;
	return pifs_fsync_dir(st->deltas_fd);
}

int pifs_store_delta_empty(struct pifs_store *st, const char *worker)
{
	int fd = pifs_store_delta_dir(st, worker), ret;

	if (fd < 0)
		return fd;
	ret = pifs_store_dir_is_empty(fd);
	close(fd);
	return ret;
}

/* The exchange is the one step that switches a worker's state (and with
 * it the base recorded on the delta root); a crash after it leaves the
 * old delta in work/, which is emptied at the next mount. */
int pifs_store_delta_swap(struct pifs_store *st, const char *worker,
			  const char *tmpname)
{
	struct stat sb;
	int ret;

	if ((ret = pifs_check_name(worker)) < 0 ||
	    (ret = pifs_check_name(tmpname)) < 0)
		return ret;
	if (fstatat(st->work_fd, tmpname, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	if ((ret = pifs_do_rename(st->work_fd, tmpname, st->deltas_fd, worker,
				  RENAME_EXCHANGE)) < 0) {
		if (ret != -ENOENT)
			return ret;
		/* no delta to replace: just move the new one in */
		if ((ret = pifs_do_rename(st->work_fd, tmpname, st->deltas_fd,
					  worker, RENAME_NOREPLACE)) < 0)
			return ret;
		if ((ret = pifs_fsync_dir(st->deltas_fd)) < 0 ||
		    (ret = pifs_fsync_dir(st->work_fd)) < 0)
			return ret;
		return 0;
	}
	if ((ret = pifs_fsync_dir(st->deltas_fd)) < 0 ||
	    (ret = pifs_fsync_dir(st->work_fd)) < 0)
		return ret;
	return pifs_remove_tree(st->work_fd, tmpname);
}

int pifs_store_delta_retire(struct pifs_store *st, const char *name,
			    char **kept_as)
{
	char stamp[32], *newname = NULL;
	struct tm tm;
	time_t now;
	int ret, i;

	*kept_as = NULL;
	ret = pifs_check_name(name);
	if (ret < 0)
		return ret;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (i = 0; i < 100; i++) {
		free(newname);
		newname = i ? pifs_strdupf(".removed-%s-%s-%d", name, stamp, i)
			    : pifs_strdupf(".removed-%s-%s", name, stamp);
		if (!newname)
			return -ENOMEM;
		if ((ret = pifs_do_rename(st->deltas_fd, name, st->deltas_fd,
					  newname, RENAME_NOREPLACE)) == 0) {
			*kept_as = newname;
			return pifs_fsync_dir(st->deltas_fd);
		}
		if (ret != -EEXIST)
			break;
	}
	free(newname);
	return ret;
}

int pifs_store_clean_work(struct pifs_store *st)
{
	return pifs_store_empty_dir(st->work_fd);
}

int pifs_store_work_remove(struct pifs_store *st, const char *name)
{
	int ret = pifs_check_name(name);

	return ret < 0 ? ret : pifs_remove_tree(st->work_fd, name);
}

struct reap {
	const char *prefix;
	size_t plen;
};

static int reap_one(int dfd, const struct dirent *de, void *arg)
{
	const struct reap *r = arg;
	const char *dash;
	long pid;

	if (strncmp(de->d_name, r->prefix, r->plen))
		return 0;
	dash = strrchr(de->d_name, '-');
	pid = dash ? strtol(dash + 1, NULL, 10) : 0;
	/* kill(pid, 0) says ESRCH only for a pid nobody has: a live or
	 * reused pid keeps the directory, which the next mount empties */
	if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		pifs_remove_tree(dfd, de->d_name);
	return 0;
}

int pifs_store_work_reap(struct pifs_store *st, const char *prefix)
{
	struct reap r = {.prefix = prefix, .plen = strlen(prefix)};

	return pifs_dir_foreach(st->work_fd, reap_one, &r);
}

int pifs_store_delta_unretire(struct pifs_store *st, const char *kept_as,
			      const char *name)
{
	int ret;

	if ((ret = pifs_check_name(name)) < 0 ||
	    (ret = pifs_do_rename(st->deltas_fd, kept_as, st->deltas_fd, name,
				  RENAME_NOREPLACE)) < 0)
		return ret;
	return pifs_fsync_dir(st->deltas_fd);
}

static int delta_openat(struct pifs_store *st, const char *worker, int how)
{
	int ret = pifs_check_name(worker);

	return ret < 0 ? ret
		       : pifs_openat_beneath(st->deltas_fd, worker,
					     how | O_DIRECTORY | O_NOFOLLOW, 0);
}

int pifs_store_delta_open(struct pifs_store *st, const char *worker)
{
	return delta_openat(st, worker, O_PATH);
}

int pifs_store_delta_dir(struct pifs_store *st, const char *worker)
{
	return delta_openat(st, worker, O_RDONLY);
}
