/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops.h - what the FUSE operation files of pifsd (ops*.c) share, private
 * to them: the request's file system, the open file, the entry reply, and
 * the handlers the table in ops.c lists, grouped by the file that has
 * them.  The daemon's state is pifsd.h.
 *
 * Every handler is thin: it pins what it needs, calls one pifs_fs_*()
 * function (overlay/view.h) or a helper of its file that returns 0 or
 * -errno, and replies exactly once, at its end.  A reply frees the
 * request: nothing reached through it (SB, D, FS) is used after one.
 */
#ifndef PIFS_FS_OPS_H
#define PIFS_FS_OPS_H

#include "pifsd.h"

/* The file system a request belongs to (the session's user data), its
 * daemon, and the daemon's merged file system. */
static inline struct pifsd_sb *SB(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct pifsd *D(fuse_req_t req)
{
	return SB(req)->d;
}

static inline struct pifs_fs *FS(fuse_req_t req)
{
	return &D(req)->fs;
}

/* The node of the request's file system's id ino, pinned, or NULL when
 * it is not that file system's (the caller answers ESTALE). */
static inline struct pifs_node *req_node(fuse_req_t req, fuse_ino_t ino)
{
	return pifsd_sb_node(SB(req), ino);
}

/* Unpin n, if there is one. */
static inline void node_put(struct pifs_fs *fs, struct pifs_node *n)
{
	if (n)
		pifs_fs_put(fs, n);
}

/* An open file (fi->fh): the backing fd and the view whose pause must
 * stop its writes. */
struct fh {
	int fd;
	struct pifs_view *v;
	/* Opened on golden or generated content: the node, pinned until
	 * release, so reads follow a later copy-up (fh_fd); the golden fd is
	 * kept open in old_fd, as a read may still be using it.  fh_fd
	 * makes that switch under lock. */
	struct pifs_node *lower;
	int old_fd;
	pthread_mutex_t lock;
	uint64_t ino;
	enum pifsd_io mode; /* as counted by pifsd_pt_open() */
	uint64_t jepoch;    /* journal epoch of its last recorded write */
	struct fh *prev, *next; /* d->fhs, under d->fh_lock */
};

#define FH(fi) ((struct fh *)(uintptr_t)(fi)->fh)

/* ops.c: how long the kernel may cache a node's entry and attributes;
 * entry_param fills the entry of node n, whose lookup the caller counted,
 * or drops that lookup and returns -ESTALE when n is not the request's
 * file system's; reply_entry answers an operation that found or made n:
 * the error r, or n's entry. */
double entry_time(fuse_req_t req, const struct pifs_node *n);
double attr_time(fuse_req_t req, const struct pifs_node *n);
int entry_param(fuse_req_t req, struct pifs_node *n, const struct stat *st,
		struct fuse_entry_param *e);
void reply_entry(fuse_req_t req, int r, struct pifs_node *n,
		 const struct stat *st);
struct pifs_ctx req_ctx(fuse_req_t req);

/* ops_namei.c: names to nodes, and a node's attributes. */
void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void op_forget_multi(fuse_req_t req, size_t count,
		     struct fuse_forget_data *f);
void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi);
void op_readlink(fuse_req_t req, fuse_ino_t ino);

/* ops_dir.c: the namespace, and directory listings. */
void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode, dev_t rdev);
void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode);
void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		const char *name);
void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	     const char *newname);
void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags);
void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);

/* ops_file.c: open files and their I/O.  fh_fd is the fd to read h
 * through (it follows a copy-up of a file opened on the golden). */
int fh_fd(struct pifsd *d, struct fh *h);
void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, struct fuse_file_info *fi);
void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi);
void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
		  off_t off, struct fuse_file_info *fi);
void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi);
void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		  off_t len, struct fuse_file_info *fi);
void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	      struct fuse_file_info *fi);

/* ops_xattr.c: extended attributes. */
void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 const char *value, size_t size, int flags);
void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 size_t size);
void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
