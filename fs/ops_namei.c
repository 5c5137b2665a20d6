/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops_namei.c - the FUSE operations that turn names into nodes and
 * answer for a node: lookup (also of "." on an id from before a restart,
 * for NFS file handles), forget, getattr, setattr and readlink.  Nothing
 * above a worker's root is reachable from its file system: its ".." is
 * itself.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "ops.h"
#include "util.h"

/* May LOOKUP(id, ".") look for id in sb's file system?  Only an id of
 * its own view (a worker's): the top has nothing to search. */
static int may_search(const struct pifsd_sb *sb, uint64_t id)
{
	return sb->view && PIFS_ID_VIEW(id) == sb->view->id &&
	       !(id & PIFS_ID_ALIAS);
}

static int do_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
		     struct pifs_node **n, struct stat *st)
{
	struct pifsd_sb *sb = SB(req);
	struct pifs_fs *fs = &sb->d->fs;
	struct pifs_node *p = pifsd_sb_node(sb, parent);
	int r;

	if (!p) {
		/* An NFS file handle from before a restart asks for "." of
		 * an id we no longer hold; one of another file system's is
		 * stale here, whether we hold it or not. */
		uint64_t id = pifsd_sb_id(sb, parent);

		if (strcmp(name, ".") || !may_search(sb, id))
			return -ESTALE;
		return pifs_fs_lookup_id(fs, id, n, st);
	}
	/* Nothing is above a worker's root: ".." is the root. */
	if (!strcmp(name, "..") && sb->view && p == sb->view->root)
		name = ".";
	r = pifs_fs_lookup(fs, p, name, n, st);
	pifs_fs_put(fs, p);
	return r;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pifs_node *n = NULL;
	struct stat st;
	int r = do_lookup(req, parent, name, &n, &st);

	reply_entry(req, r, n, &st);
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	pifs_fs_forget(FS(req), pifsd_sb_id(SB(req), ino), nlookup);
	fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		pifs_fs_forget(FS(req), pifsd_sb_id(SB(req), f[i].ino),
			       f[i].nlookup);
	fuse_reply_none(req);
}

/* The attributes of ino (*st, with the file system's id) and how long
 * the kernel may cache them. */
static int do_getattr(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi, struct stat *st,
		      double *timeout)
{
	struct pifs_node *n = req_node(req, ino);
	int r;

	if (!n)
		return -ESTALE;
	r = pifs_fs_getattr(FS(req), n, st);
	if (r == -ESTALE && fi && n->view) {
		/* The name is gone (a reset swapped the delta) but this file
		 * is open: it keeps the inode it had. */
		r = fstat(fh_fd(D(req), FH(fi)), st) < 0 ? -errno : 0;
		st->st_ino = n->id;
	}
	if (r == 0)
		st->st_ino = pifsd_sb_ino(SB(req), st->st_ino);
	*timeout = attr_time(req, n);
	pifs_fs_put(FS(req), n);
	return r;
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	double timeout = 0;
	int r = do_getattr(req, ino, fi, &st, &timeout);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* FUSE's setattr bits as pifs's. */
static unsigned set_bits(int to_set)
{
	static const struct { int fuse; unsigned pifs; } map[] = {
		{ FUSE_SET_ATTR_MODE, PIFS_SET_MODE },
		{ FUSE_SET_ATTR_UID, PIFS_SET_UID },
		{ FUSE_SET_ATTR_GID, PIFS_SET_GID },
		{ FUSE_SET_ATTR_SIZE, PIFS_SET_SIZE },
		{ FUSE_SET_ATTR_ATIME, PIFS_SET_ATIME },
		{ FUSE_SET_ATTR_MTIME, PIFS_SET_MTIME },
		{ FUSE_SET_ATTR_ATIME_NOW, PIFS_SET_ATIME_NOW },
		{ FUSE_SET_ATTR_MTIME_NOW, PIFS_SET_MTIME_NOW },
	};
	unsigned s = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (to_set & map[i].fuse)
			s |= map[i].pifs;
	return s;
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi)
{
	struct pifs_node *n = req_node(req, ino);
	double timeout = D(req)->timeout;
	struct stat st;
	int r;

	r = n ? pifs_fs_setattr(FS(req), n, attr, set_bits(to_set),
				fi ? FH(fi)->fd : -1, &st)
	      : -ESTALE;
	node_put(FS(req), n);
	if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		st.st_ino = pifsd_sb_ino(SB(req), st.st_ino);
		fuse_reply_attr(req, &st, timeout);
	}
}

void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	struct pifs_node *n = req_node(req, ino);
	ssize_t r = n ? pifs_fs_readlink(FS(req), n, buf, sizeof(buf)) : -ESTALE;

	node_put(FS(req), n);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_readlink(req, buf);
}
