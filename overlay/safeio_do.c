/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * safeio_do.c - the pifs_do_* wrappers: each mutation of the store as one
 * call that returns 0 or -errno and logs itself at debug level.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "safeio.h"
#include "util.h"

/*
 * The store's mutations, in the style of Linux's ovl_do_* helpers: every
 * change to a delta, a golden or the store's own directories goes
 * through one of these, so `pifsd -d` shows each one, and nothing else
 * calls renameat2/unlinkat on the store (`make check` greps for it).
 */
int pifs_do_rename(int olddir, const char *old, int newdir, const char *new,
		   unsigned int flags)
{
	int r = renameat2(olddir, old, newdir, new, flags) < 0 ? -errno : 0;

	pifs_debug("rename(%d, '%s', %d, '%s', 0x%x) = %d", olddir, old, newdir,
		   new, flags, r);
	return r;
}

int pifs_do_unlink(int dirfd, const char *name, int flags)
{
	int r = unlinkat(dirfd, name, flags) < 0 ? -errno : 0;

	pifs_debug("unlink(%d, '%s', 0x%x) = %d", dirfd, name, flags, r);
	return r;
}

int pifs_do_mkdir(int dirfd, const char *name, mode_t mode)
{
	int r = mkdirat(dirfd, name, mode) < 0 ? -errno : 0;

	pifs_debug("mkdir(%d, '%s', 0%o) = %d", dirfd, name, (unsigned)mode, r);
	return r;
}

int pifs_do_mknod(int dirfd, const char *name, mode_t mode, dev_t dev)
{
	int r = mknodat(dirfd, name, mode, dev) < 0 ? -errno : 0;

	pifs_debug("mknod(%d, '%s', 0%o, %u:%u) = %d", dirfd, name,
		   (unsigned)mode, major(dev), minor(dev), r);
	return r;
}

int pifs_do_whiteout(int dirfd, const char *name)
{
	return pifs_do_mknod(dirfd, name, S_IFCHR | 0, makedev(0, 0));
}

int pifs_do_symlink(const char *target, int dirfd, const char *name)
{
	int r = symlinkat(target, dirfd, name) < 0 ? -errno : 0;

	pifs_debug("symlink('%s', %d, '%s') = %d", target, dirfd, name, r);
	return r;
}

int pifs_do_link(int olddir, const char *old, int newdir, const char *new,
		 int flags)
{
	int r = linkat(olddir, old, newdir, new, flags) < 0 ? -errno : 0;

	pifs_debug("link(%d, '%s', %d, '%s', 0x%x) = %d", olddir, old, newdir,
		   new, flags, r);
	return r;
}
