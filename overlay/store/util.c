/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store/util.c - directory helpers the store's files share: empty a
 * directory, ask whether one is empty, make a private one, create an empty
 * file, and whether a path lies inside another.
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
#include "store/internal.h"
#include "util.h"

/* ---- directory helpers ---- */

static int empty_one(int dfd, const struct dirent *de, void *arg)
{
	int *first_err = arg, r = pifs_remove_tree(dfd, de->d_name);

	if (r < 0 && *first_err == 0)
		*first_err = r;
	return 0; /* go on: remove what can be removed */
}

/* Remove every entry inside the directory fd dfd. */
int pifs_store_empty_dir(int dfd)
{
	int first_err = 0, r = pifs_dir_foreach(dfd, empty_one, &first_err);

	return r < 0 ? r : first_err;
}

static int any_entry(int dfd, const struct dirent *de, void *arg)
{
	return 1;
}

/* 1 if the directory fd has no entries, 0 if it has, -errno. */
int pifs_store_dir_is_empty(int dfd)
{
	int r = pifs_dir_foreach(dfd, any_entry, NULL);

	return r < 0 ? r : !r;
}

int pifs_store_mkdir_private(int dirfd, const char *name)
{
	int r;

	if ((r = pifs_do_mkdir(dirfd, name, 0700)) < 0)
		return r;
	/* the umask may have taken bits we do not want anyway; make sure
	 * no setgid parent gave it a group */
	if (fchownat(dirfd, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return pifs_chmod_beneath(dirfd, name, 0700);
}

int pifs_store_create_file(int dirfd, const char *name)
{
	int fd;

	fd = pifs_openat_beneath(dirfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW,
				 0600);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* Is the resolved store path inside the resolved golden path? */
int pifs_store_path_inside(const char *store, const char *golden)
{
	char *rs = realpath(store, NULL), *rg = realpath(golden, NULL);
	size_t n;
	int ret = 0;

	if (rs && rg) {
		n = strlen(rg);
		if (!strcmp(rg, "/"))
			ret = 1;
		else if (!strncmp(rs, rg, n) && (rs[n] == '/' || !rs[n]))
			ret = 1;
	}
	free(rs);
	free(rg);
	return ret;
}
