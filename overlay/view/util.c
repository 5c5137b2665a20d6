/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util.c - small helpers every file of the view uses: the attributes of a
 * delta entry (statx), the whiteout test, path joining and fresh names in
 * STORE/work.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "layers.h"
#include "util.h"
#include "view.h"
#include "internal.h"

int is_whiteout(const struct stat *st)
{
	return pifs_layers_is_whiteout(st->st_mode, st->st_rdev);
}

char *join(const char *dir, const char *name)
{
	if (!dir[0])
		return strdup(name);
	return pifs_strdupf("%s/%s", dir, name);
}

char *work_name(char *buf, size_t len)
{
	static atomic_ulong counter;

	snprintf(buf, len, "t%ld-%lu", (long)getpid(),
		 atomic_fetch_add(&counter, 1));
	return buf;
}

/* statx of an O_PATH fd; the generation hashes the birth time. */
int upper_stat(int fd, struct stat *st, uint32_t *gen)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
		return -errno;
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	st->st_ino = sx.stx_ino;
	st->st_mode = sx.stx_mode;
	st->st_nlink = sx.stx_nlink;
	st->st_uid = sx.stx_uid;
	st->st_gid = sx.stx_gid;
	st->st_rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
	st->st_size = (off_t)sx.stx_size;
	st->st_blksize = sx.stx_blksize;
	st->st_blocks = (blkcnt_t)sx.stx_blocks;
	st->st_atim.tv_sec = sx.stx_atime.tv_sec;
	st->st_atim.tv_nsec = sx.stx_atime.tv_nsec;
	st->st_mtim.tv_sec = sx.stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = sx.stx_mtime.tv_nsec;
	st->st_ctim.tv_sec = sx.stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = sx.stx_ctime.tv_nsec;
	if (gen) {
		uint64_t b = (uint64_t)sx.stx_btime.tv_sec * 1000000007ULL ^
			     sx.stx_btime.tv_nsec;

		*gen = (sx.stx_mask & STATX_BTIME) ? (uint32_t)(b ^ (b >> 32)) : 0;
	}
	return 0;
}
