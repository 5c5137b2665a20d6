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

/* A getxattr of name, or (name NULL) a listxattr: the value or the list
 * into a buffer of size bytes, or with size 0 the size the caller
 * needs. */
static void get_or_list(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct pifs_node *n = req_node(req, ino);
	char *buf = NULL;
	ssize_t r;

	if (!n)
		r = -ESTALE;
	else if (size && !(buf = malloc(size)))
		r = -ENOMEM;
	else if (name)
		r = pifs_fs_getxattr(FS(req), n, name, buf, size);
	else
		r = pifs_fs_listxattr(FS(req), n, buf, size);
	node_put(FS(req), n);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else if (!size)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 size_t size)
{
	get_or_list(req, ino, name, size);
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	get_or_list(req, ino, NULL, size);
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct pifs_node *n = req_node(req, ino);
	int r = n ? pifs_fs_removexattr(FS(req), n, name) : -ESTALE;

	node_put(FS(req), n);
	fuse_reply_err(req, -r);
}
