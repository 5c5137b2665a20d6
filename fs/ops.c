/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops.c - the FUSE low-level operations table of pifsd, the INIT
 * exchange and statfs, and what every handler shares: the entry reply and
 * how long the kernel may cache what it names.  The handlers are in
 * ops_namei.c (lookup, attributes), ops_dir.c (the namespace, listings),
 * ops_file.c (open files) and ops_xattr.c; ops.h says what they share.
 * Nothing here exits or asserts on input: every failure is an errno reply
 * and the daemon keeps serving.
 *
 * Every request belongs to one file system (SB(req): the top, or one
 * worker's view) and names nodes by that file system's ids
 * (pifsd_sb_id: a worker's root is 1).  A node is used only if it is
 * that file system's (pifsd_sb_node), and every node a reply names is
 * checked the same way (entry_param), so no id a client makes up reaches
 * another worker's view or the top from a worker's file system.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ops.h"
#include "util.h"

/* How long the kernel may cache N's entry and its attributes: the
 * mount's timeout where pifs tells the kernel of every change (it is the
 * only writer: view.h says which nodes), else not at all. */
double entry_time(fuse_req_t req, const struct pifs_node *n)
{
	return pifs_node_entry_cacheable(&D(req)->fs, n) ? D(req)->timeout : 0;
}

double attr_time(fuse_req_t req, const struct pifs_node *n)
{
	return pifs_node_attr_cacheable(&D(req)->fs, n) ? D(req)->timeout : 0;
}

int entry_param(fuse_req_t req, struct pifs_node *n, const struct stat *st,
		struct fuse_entry_param *e)
{
	struct pifsd_sb *sb = SB(req);

	if (!pifsd_sb_owns(sb, n)) {
		pifs_warn("a lookup in %s's file system found node %#llx of "
			  "another: refused",
			  sb->view ? sb->view->name : "the top",
			  (unsigned long long)n->id);
		pifs_fs_forget(&sb->d->fs, n->id, 1);
		return -ESTALE;
	}
	memset(e, 0, sizeof(*e));
	e->ino = pifsd_sb_ino(sb, n->id);
	/* the kernel's root inode has generation 0 */
	e->generation = e->ino == FUSE_ROOT_ID ? 0 : n->gen;
	e->attr = *st;
	e->attr.st_ino = pifsd_sb_ino(sb, st->st_ino);
	e->attr_timeout = attr_time(req, n);
	e->entry_timeout = entry_time(req, n);
	return 0;
}

/* The lookup the caller counted on n is dropped again when the reply
 * does not reach the kernel, or n is not this file system's. */
void reply_entry(fuse_req_t req, int r, struct pifs_node *n,
		 const struct stat *st)
{
	struct pifs_fs *fs = FS(req); /* a reply frees req */
	struct fuse_entry_param e;

	if (r == 0)
		r = entry_param(req, n, st, &e);
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (fuse_reply_entry(req, &e) == -ENOENT)
		pifs_fs_forget(fs, n->id, 1); /* interrupted */
}

/* Who asks: the owner of what the request makes. */
struct pifs_ctx req_ctx(fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct pifs_ctx x = { .uid = c->uid, .gid = c->gid };

	return x;
}

static void op_init(void *ud, struct fuse_conn_info *conn)
{
	struct pifsd_sb *sb = ud;
	struct pifsd *d = sb->d;

	/* A worker's file system is exported; the top never (it also
	 * refuses to decode handles: passthrough.c). */
	if (!sb->view)
		conn->want &= ~FUSE_CAP_EXPORT_SUPPORT;
	else if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	else
		pifs_warn("kernel lacks FUSE export support: NFS handles will not survive a restart");
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* No SPLICE_READ: libfuse would keep a pipe per thread and per
	 * session (file system) to read requests into; writes are copied
	 * once from the request buffer instead. */
	conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ);
	/* Read replies of 8 KiB and more go file -> pipe -> /dev/fuse: one
	 * copy fewer (2x faster for 128 KiB reads of golden files; replies
	 * bigger than the pipe, 1 MiB, are copied as before). */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	/* Symlink targets in the kernel's page cache: a symlink never
	 * changes in place, and a reset drops every inode of its view.
	 * Without it every readlink (a walk, an NFS server resolving
	 * /lib -> usr/lib) is a request, and it also makes the next stat
	 * one (the kernel forgets the atime). */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (!(conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT))
		pifs_warn("kernel cannot open directories without pifsd (before 5.1): listings will fail");
	/* The kernel drops a cached listing or page when the attributes
	 * pifs reports show a new mtime (the directories of listings.c). */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	conn->max_write = 1 << 20;
	conn->max_readahead = 1 << 20;
	if (!sb->view)
		pifs_info("mounted store '%s' (%zu workers)", d->fs.store.path,
			  d->fs.nviews);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int r = pifs_fs_statfs(&D(req)->fs, NULL, &sv);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops pifsd_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.link = op_link,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write_buf = op_write_buf,
	/* No .flush: libfuse answers ENOSYS once and the kernel sends no
	 * more.  pifs keeps no locks (the kernel's own POSIX locks apply)
	 * and writes are synchronous; the kernel still writes back mmap'd
	 * pages at close and reports their errors itself. */
	.release = op_release,
	.fsync = op_fsync,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
};
