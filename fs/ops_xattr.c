/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops_xattr.c - the FUSE operations on extended attributes: set, get,
 * list and remove, each one call of overlay/view/inode.c.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "ops.h"

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 const char *value, size_t size, int flags)
{
	struct pifs_node *n = req_node(req, ino);
	int r = n ? pifs_fs_setxattr(FS(req), n, name, value, size, flags)
		  : -ESTALE;

	node_put(FS(req), n);
	fuse_reply_err(req, -r);
}

/* Answer a getxattr or listxattr: r is the length of what buf holds, or
 * with size 0 the size the caller needs, or -errno. */
static void reply_xattr(fuse_req_t req, ssize_t r, size_t size,
			const char *buf)
{
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else if (!size)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 size_t size)
{
	struct pifs_node *n = req_node(req, ino);
	char *buf = NULL;
	ssize_t r;

	if (!n)
		r = -ESTALE;
	else if (size && !(buf = malloc(size)))
		r = -ENOMEM;
	else
		r = pifs_fs_getxattr(FS(req), n, name, buf, size);
	node_put(FS(req), n);
	reply_xattr(req, r, size, buf);
	free(buf);
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct pifs_node *n = req_node(req, ino);
	char *buf = NULL;
	ssize_t r;

	if (!n)
		r = -ESTALE;
	else if (size && !(buf = malloc(size)))
		r = -ENOMEM;
	else
		r = pifs_fs_listxattr(FS(req), n, buf, size);
	node_put(FS(req), n);
	reply_xattr(req, r, size, buf);
	free(buf);
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct pifs_node *n = req_node(req, ino);
	int r = n ? pifs_fs_removexattr(FS(req), n, name) : -ESTALE;

	node_put(FS(req), n);
	fuse_reply_err(req, -r);
}
