/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * file.c - opening regular files: the delta copy (copied up first when the
 * file is opened for writing), else read-only the golden's own file or a
 * generated file's content; and, for a file opened before it was copied
 * up, an fd on the copy.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "safeio.h"
#include "view.h"
#include "internal.h"

int pifs_fs_open_file(struct pifs_fs *fs, struct pifs_node *n, int flags,
		      int *fd_out, int *golden_out)
{
	struct pifs_view *v = n->view;
	int write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	int r, fd;

	*golden_out = 0;
	if (is_tftp(n)) {
		/* tftpboot/ serves; it is never written through. */
		if (write)
			return -EROFS;
		*golden_out = 1;
		if (n->real)
			return pifs_fs_open_file(fs, n->real, flags, fd_out, &r);
		fd = pifs_openat_beneath(fs->store.golden_fd, n->lower_path,
					 O_RDONLY | O_NOFOLLOW, 0);
		if (fd < 0)
			return fd;
		*fd_out = fd;
		return 0;
	}
	if (!v)
		return -EISDIR;
	if (!S_ISREG(n->type))
		return S_ISDIR(n->type) ? -EISDIR : -EINVAL;
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW);
	if (write) {
		wrlock(v);
		r = copy_up(v, n, !(flags & O_TRUNC));
	} else {
		rdlock(v);
		r = 0;
	}
	if (r < 0)
		goto out;
	if (n->upper_fd >= 0) {
		fd = pifs_reopen(n->upper_fd, flags);
	} else if (n->gen_kind && !n->unlinked) {
		fd = gen_open(v, n);
		*golden_out = 1; /* not cached by the kernel: it may change */
	} else if (n->lower_path) {
		fd = pifs_openat_beneath(v->lower_root, n->lower_path,
					 O_RDONLY | (flags & O_DIRECT) | O_NOFOLLOW, 0);
		*golden_out = 1;
	} else {
		fd = -ESTALE;
	}
	r = fd < 0 ? fd : 0;
	if (r == 0)
		*fd_out = fd;
out:
	if (write)
		jn_node(v, n, NULL, JF_DIRTY); /* O_TRUNC, a copy-up */
	unlock(v);
	return r;
}

/* A file opened while it showed the golden (or a generated file) and
 * copied up since: an fd on its delta copy, so whoever holds the old open
 * (an NFS server keeps one fd per file for all its clients) reads what
 * every later opener reads, as on any one file system.  -EAGAIN while it
 * has no delta copy. */
int pifs_fs_reopen_copied(struct pifs_fs *fs, struct pifs_node *n, int *fd_out)
{
	struct pifs_view *v;
	int fd = -EAGAIN;

	(void)fs;
	if (n->real)
		n = n->real;
	v = n->view;
	if (!v || __atomic_load_n(&n->upper_fd, __ATOMIC_RELAXED) < 0)
		return -EAGAIN;
	rdlock(v);
	if (n->upper_fd >= 0)
		fd = pifs_reopen(n->upper_fd, O_RDONLY);
	unlock(v);
	if (fd < 0)
		return fd;
	*fd_out = fd;
	return 0;
}
