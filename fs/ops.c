/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops.c - the FUSE low-level operations of pifsd.  Each handler is thin:
 * it pins the node, calls one pifs_fs_*() function (overlay/view.c), and
 * replies exactly once.  Nothing here exits or asserts on input: every
 * failure is an errno reply and the daemon keeps serving.
 *
 * Every request belongs to one file system (SB(req): the top, or one
 * worker's view) and names nodes by that file system's ids
 * (pifsd_sb_id: a worker's root is 1).  A node is used only if it is
 * that file system's (pifsd_sb_node), and every node a reply names is
 * checked the same way (reply_entry), so no id a client makes up reaches
 * another worker's view or the top from a worker's file system.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pifsd.h"
#include "util.h"

/* An open file: the backing fd and the view whose pause must stop its
 * writes. */
struct fh {
	int fd;
	struct pifs_view *v;
	/* Opened on golden or generated content: the node, pinned until
	 * release, so reads follow a later copy-up (fh_fd); the golden fd is
	 * kept open in old_fd, as a read may still be using it. */
	struct pifs_node *lower;
	int old_fd;
	pthread_mutex_t lock;
	uint64_t ino;
	enum pifsd_io mode; /* as counted by pifsd_pt_open() */
	uint64_t jepoch;    /* journal epoch of its last recorded write */
};

#define FH(fi) ((struct fh *)(uintptr_t)(fi)->fh)

static struct pifsd_sb *SB(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct pifsd *D(fuse_req_t req)
{
	return SB(req)->d;
}

/* How long the kernel may cache N's entry and its attributes: the
 * mount's timeout where pifs tells the kernel of every change (it is the
 * only writer: view.h says which nodes), else not at all. */
static double cache_time(fuse_req_t req, const struct pifs_node *n)
{
	return pifs_node_entry_cacheable(&D(req)->fs, n) ? D(req)->timeout : 0;
}

static double attr_time(fuse_req_t req, const struct pifs_node *n)
{
	return pifs_node_attr_cacheable(&D(req)->fs, n) ? D(req)->timeout : 0;
}

/* The entry of n, whose lookup the caller counted (dropped again when
 * the reply does not reach the kernel, or n is not this file system's). */
static void reply_entry(fuse_req_t req, struct pifs_node *n,
			const struct stat *st)
{
	struct pifsd *d = D(req); /* a reply frees req */
	struct pifsd_sb *sb = SB(req);
	struct fuse_entry_param e;
	double t = cache_time(req, n);

	if (!pifsd_sb_owns(sb, n)) {
		pifs_warn("a lookup in %s's file system found node %#llx of "
			  "another: refused",
			  sb->view ? sb->view->name : "the top",
			  (unsigned long long)n->id);
		pifs_fs_forget(&d->fs, n->id, 1);
		fuse_reply_err(req, ESTALE);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = pifsd_sb_ino(sb, n->id);
	/* the kernel's root inode has generation 0 */
	e.generation = e.ino == FUSE_ROOT_ID ? 0 : n->gen;
	e.attr = *st;
	e.attr.st_ino = pifsd_sb_ino(sb, st->st_ino);
	e.attr_timeout = attr_time(req, n);
	e.entry_timeout = t;
	if (fuse_reply_entry(req, &e) == -ENOENT)
		pifs_fs_forget(&d->fs, n->id, 1); /* interrupted */
}

#define GET_NODE(req, ino, n)                                          \
	do {                                                           \
		n = pifsd_sb_node(SB(req), ino);                       \
		if (!n) {                                              \
			fuse_reply_err(req, ESTALE);                   \
			return;                                        \
		}                                                      \
	} while (0)

static struct fh *fh_new(struct pifs_view *v, int fd)
{
	struct fh *h = calloc(1, sizeof(*h));

	if (h) {
		h->fd = fd;
		h->v = v;
		h->old_fd = -1;
	}
	return h;
}

/* The fd to read: the delta copy once a file opened on the golden has
 * been copied up (by this worker over NFS, or by the master). */
static int fh_fd(struct pifsd *d, struct fh *h)
{
	int fd, nfd;

	if (!h->lower)
		return h->fd;
	pthread_mutex_lock(&h->lock);
	fd = h->fd;
	if (h->old_fd < 0 && pifs_fs_reopen_copied(&d->fs, h->lower, &nfd) == 0) {
		h->old_fd = h->fd;
		h->fd = fd = nfd;
	}
	pthread_mutex_unlock(&h->lock);
	return fd;
}

static void fh_free(struct pifsd *d, struct fh *h)
{
	close(h->fd);
	if (h->old_fd >= 0)
		close(h->old_fd);
	if (h->lower) {
		pthread_mutex_destroy(&h->lock);
		pifs_fs_put(&d->fs, h->lower);
	}
	free(h);
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

/* May LOOKUP(id, ".") look for id in sb's file system?  Only an id of
 * its own view (a worker's): the top has nothing to search. */
static int may_search(const struct pifsd_sb *sb, uint64_t id)
{
	return sb->view && PIFS_ID_VIEW(id) == sb->view->id &&
	       !(id & PIFS_ID_ALIAS);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pifsd_sb *sb = SB(req);
	struct pifs_fs *fs = &sb->d->fs;
	struct pifs_node *p = pifsd_sb_node(sb, parent), *n;
	uint64_t id = pifsd_sb_id(sb, parent);
	struct stat st;
	int r;

	if (!p) {
		/* An NFS file handle from before a restart asks for "." of
		 * an id we no longer hold; one of another file system's is
		 * stale here, whether we hold it or not. */
		if (strcmp(name, ".") || !may_search(sb, id))
			r = -ESTALE;
		else
			r = pifs_fs_lookup_id(fs, id, &n, &st);
	} else {
		/* Nothing is above a worker's root: ".." is the root. */
		if (!strcmp(name, "..") && sb->view && p == sb->view->root)
			name = ".";
		r = pifs_fs_lookup(fs, p, name, &n, &st);
		pifs_fs_put(fs, p);
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	reply_entry(req, n, &st);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	pifs_fs_forget(&D(req)->fs, pifsd_sb_id(SB(req), ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		pifs_fs_forget(&D(req)->fs, pifsd_sb_id(SB(req), f[i].ino),
			       f[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pifs_node *n;
	struct stat st;
	int r;

	GET_NODE(req, ino, n);
	r = pifs_fs_getattr(&D(req)->fs, n, &st);
	pifs_fs_put(&D(req)->fs, n);
	if (r == -ESTALE && fi && n->view) {
		/* The name is gone (a reset swapped the delta) but this file
		 * is open: it keeps the inode it had. */
		r = fstat(fh_fd(D(req), FH(fi)), &st) < 0 ? -errno : 0;
		st.st_ino = n->id;
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		st.st_ino = pifsd_sb_ino(SB(req), st.st_ino);
		fuse_reply_attr(req, &st, attr_time(req, n));
	}
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct pifs_node *n;
	unsigned s = 0;
	struct stat st;
	int r;

	GET_NODE(req, ino, n);
	if (to_set & FUSE_SET_ATTR_MODE)
		s |= PIFS_SET_MODE;
	if (to_set & FUSE_SET_ATTR_UID)
		s |= PIFS_SET_UID;
	if (to_set & FUSE_SET_ATTR_GID)
		s |= PIFS_SET_GID;
	if (to_set & FUSE_SET_ATTR_SIZE)
		s |= PIFS_SET_SIZE;
	if (to_set & FUSE_SET_ATTR_ATIME)
		s |= PIFS_SET_ATIME;
	if (to_set & FUSE_SET_ATTR_MTIME)
		s |= PIFS_SET_MTIME;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		s |= PIFS_SET_ATIME_NOW;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		s |= PIFS_SET_MTIME_NOW;
	r = pifs_fs_setattr(&D(req)->fs, n, attr, s, fi ? FH(fi)->fd : -1, &st);
	pifs_fs_put(&D(req)->fs, n);
	st.st_ino = pifsd_sb_ino(SB(req), st.st_ino);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, D(req)->timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	struct pifs_node *n;
	ssize_t r;

	GET_NODE(req, ino, n);
	r = pifs_fs_readlink(&D(req)->fs, n, buf, sizeof(buf));
	pifs_fs_put(&D(req)->fs, n);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_readlink(req, buf);
}

static struct pifs_ctx req_ctx(fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct pifs_ctx x = { .uid = c->uid, .gid = c->gid };

	return x;
}

static void reply_new(fuse_req_t req, int r, struct pifs_node *n,
		      const struct stat *st)
{
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, n, st);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct pifs_ctx ctx = req_ctx(req);
	struct pifs_node *p, *n = NULL;
	struct stat st;
	int r;

	GET_NODE(req, parent, p);
	r = pifs_fs_mknod(&D(req)->fs, p, name, mode, rdev, &ctx, &n, &st);
	pifs_fs_put(&D(req)->fs, p);
	reply_new(req, r, n, &st);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct pifs_ctx ctx = req_ctx(req);
	struct pifs_node *p, *n = NULL;
	struct stat st;
	int r;

	GET_NODE(req, parent, p);
	r = pifs_fs_mkdir(&D(req)->fs, p, name, mode, &ctx, &n, &st);
	pifs_fs_put(&D(req)->fs, p);
	reply_new(req, r, n, &st);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct pifs_ctx ctx = req_ctx(req);
	struct pifs_node *p, *n = NULL;
	struct stat st;
	int r;

	GET_NODE(req, parent, p);
	r = pifs_fs_symlink(&D(req)->fs, p, name, link, &ctx, &n, &st);
	pifs_fs_put(&D(req)->fs, p);
	reply_new(req, r, n, &st);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct pifs_node *src, *p, *n = NULL;
	struct stat st;
	int r;

	GET_NODE(req, ino, src);
	p = pifsd_sb_node(SB(req), newparent);
	if (!p) {
		pifs_fs_put(&D(req)->fs, src);
		fuse_reply_err(req, ESTALE);
		return;
	}
	r = pifs_fs_link(&D(req)->fs, src, p, newname, &n, &st);
	pifs_fs_put(&D(req)->fs, p);
	pifs_fs_put(&D(req)->fs, src);
	reply_new(req, r, n, &st);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pifs_node *p;
	int r;

	GET_NODE(req, parent, p);
	r = pifs_fs_unlink(&D(req)->fs, p, name);
	pifs_fs_put(&D(req)->fs, p);
	fuse_reply_err(req, -r);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pifs_node *p;
	int r;

	GET_NODE(req, parent, p);
	r = pifs_fs_rmdir(&D(req)->fs, p, name);
	pifs_fs_put(&D(req)->fs, p);
	fuse_reply_err(req, -r);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct pifs_node *p, *q;
	int r;

	GET_NODE(req, parent, p);
	q = pifsd_sb_node(SB(req), newparent);
	if (!q) {
		pifs_fs_put(&D(req)->fs, p);
		fuse_reply_err(req, ESTALE);
		return;
	}
	r = pifs_fs_rename(&D(req)->fs, p, name, q, newname, flags);
	pifs_fs_put(&D(req)->fs, q);
	pifs_fs_put(&D(req)->fs, p);
	fuse_reply_err(req, -r);
}

/* reply_open: choose the I/O mode of the new open file h and answer
 * (passthrough.c).  Golden files (golden) are read through the golden's
 * own page cache, shared by all views, instead of one FUSE page cache
 * copy per view: tftpboot/ files (alias) by passthrough when the kernel
 * has it, the rest by direct_io.  pifs is the only writer of a delta, so
 * what the kernel caches of delta files stays valid (resets invalidate
 * explicitly).  On failure the file is not open for the kernel, and the
 * caller cleans up h. */
static int reply_open(fuse_req_t req, struct fuse_file_info *fi, struct fh *h,
		      int golden, int alias)
{
	struct pifsd *d = D(req);
	uint32_t backing_id = 0;
	int r;

	if ((r = pifsd_pt_open(d, h->ino, h->fd, golden, alias, &h->mode,
			       &backing_id)) < 0) {
		fuse_reply_err(req, -r);
		return r;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	if (pifsd_pt_reply_open(req, fi, h->mode, backing_id) == -ENOENT) {
		/* interrupted: no release will come */
		pifsd_pt_release(d, h->ino, h->mode);
		return -ENOENT;
	}
	return 0;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pifsd *d = D(req);
	struct pifs_node *n;
	int r, fd = -1, golden = 0, alias;
	struct fh *h;

	GET_NODE(req, ino, n);
	alias = n->real || !n->view; /* tftpboot/: read-only */
	r = pifs_fs_open_file(&D(req)->fs, n, fi->flags, &fd, &golden);
	h = r < 0 ? NULL : fh_new(n->view, fd);
	if (!h) {
		pifs_fs_put(&D(req)->fs, n);
		if (r == 0)
			close(fd);
		fuse_reply_err(req, r < 0 ? -r : ENOMEM);
		return;
	}
	h->ino = n->id;
	if (golden) {
		/* Keep the pin: reads follow a copy-up (fh_fd). */
		h->lower = n;
		pthread_mutex_init(&h->lock, NULL);
	} else {
		pifs_fs_put(&D(req)->fs, n);
	}
	if (reply_open(req, fi, h, golden, alias) < 0)
		fh_free(d, h); /* not D(req): the reply freed req */
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct pifsd *d = D(req);
	struct pifs_ctx ctx = req_ctx(req);
	struct pifs_node *p, *n = NULL;
	struct fuse_entry_param e;
	struct stat st;
	int r, fd = -1;
	struct fh *h;

	GET_NODE(req, parent, p);
	r = pifs_fs_create(&D(req)->fs, p, name, mode, fi->flags, &ctx, &n, &st,
			   &fd);
	pifs_fs_put(&D(req)->fs, p);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	h = fh_new(n->view, fd);
	if (!h) {
		close(fd);
		pifs_fs_forget(&D(req)->fs, n->id, 1);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->ino = n->id;
	memset(&e, 0, sizeof(e));
	e.ino = pifsd_sb_ino(SB(req), n->id);
	e.generation = n->gen;
	e.attr = st;
	e.attr_timeout = e.entry_timeout = D(req)->timeout;
	r = pifsd_pt_open(D(req), h->ino, fd, 0, 0, &h->mode, &(uint32_t){0});
	if (r < 0) {
		fh_free(D(req), h);
		pifs_fs_forget(&D(req)->fs, n->id, 1);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = h->mode == PIFSD_IO_DIRECT;
	fi->keep_cache = h->mode == PIFSD_IO_CACHED;
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		/* interrupted; the reply freed req */
		pifsd_pt_release(d, h->ino, h->mode);
		fh_free(d, h);
		pifs_fs_forget(&d->fs, n->id, 1);
	}
}

/* One page-aligned read buffer per thread for big reads, freed when the
 * thread ends. */
static pthread_key_t rbuf_key;
static pthread_once_t rbuf_once = PTHREAD_ONCE_INIT;

struct rbuf {
	size_t cap;
	void *data;
};

static void rbuf_free(void *p)
{
	struct rbuf *b = p;

	free(b->data);
	free(b);
}

static void rbuf_key_init(void)
{
	if (pthread_key_create(&rbuf_key, rbuf_free) != 0)
		pifs_warn("no per-thread read buffers: big reads fail");
}

static void *rbuf_get(size_t size)
{
	struct rbuf *b;

	pthread_once(&rbuf_once, rbuf_key_init);
	b = pthread_getspecific(rbuf_key);
	if (b && b->cap >= size)
		return b->data;
	if (!b) {
		if (!(b = calloc(1, sizeof(*b))))
			return NULL;
		if (pthread_setspecific(rbuf_key, b) != 0) {
			free(b);
			return NULL;
		}
	}
	free(b->data);
	b->cap = 0;
	if (posix_memalign(&b->data, 4096, size) != 0) {
		b->data = NULL;
		return NULL;
	}
	b->cap = size;
	return b->data;
}

#define SPLICE_READ_MAX (512 << 10)

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	void *mem;
	ssize_t r;

	int fd = fh_fd(D(req), FH(fi));

	/* Served from an io_uring entry: straight into its reply buffer. */
	if ((mem = pifsd_uring_buf(size))) {
		r = pread(fd, mem, size, off);
		if (r < 0)
			fuse_reply_err(req, errno);
		else
			fuse_reply_buf(req, mem, (size_t)r);
		return;
	}
	if (size <= SPLICE_READ_MAX) {
		/* Spliced from the file into the reply by libfuse (no copy
		 * in pifsd); tiny ones are copied through a small buffer. */
		buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		buf.buf[0].fd = fd;
		buf.buf[0].pos = off;
		fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	/* Bigger than a pipe holds, libfuse would malloc and free a buffer
	 * per read, which glibc keeps in every thread's arena (tens of MiB
	 * of daemon RSS): one buffer per thread instead. */
	if (!(mem = rbuf_get(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = pread(fd, mem, size, off);
	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, mem, (size_t)r);
}

/* Record a write through f in its view's journal: once per open file
 * and journal epoch (each snapshot starts one), not per write.  The
 * caller holds pifs_view_write_begin. */
static void fh_journal(struct pifsd *d, struct fh *f, uint64_t id)
{
	uint64_t e;
	struct pifs_node *n;

	if (!f->v)
		return;
	e = pifs_view_journal_epoch(f->v);
	if (__atomic_load_n(&f->jepoch, __ATOMIC_RELAXED) == e)
		return;
	n = pifs_fs_node(&d->fs, id);
	if (n) {
		if (n->view == f->v)
			pifs_view_journal_node(f->v, n);
		pifs_fs_put(&d->fs, n);
	}
	__atomic_store_n(&f->jepoch, e, __ATOMIC_RELAXED);
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	ssize_t r;

	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = FH(fi)->fd;
	out.buf[0].pos = off;
	pifs_view_write_begin(FH(fi)->v);
	fh_journal(D(req), FH(fi), FH(fi)->ino);
	r = fuse_buf_copy(&out, in, 0);
	pifs_view_write_end(FH(fi)->v);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_write(req, (size_t)r);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	pifsd_pt_release(D(req), FH(fi)->ino, FH(fi)->mode);
	fh_free(D(req), FH(fi));
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	int fd = FH(fi)->fd;
	int r = datasync ? fdatasync(fd) : fsync(fd);

	fuse_reply_err(req, r < 0 ? errno : 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			 off_t len, struct fuse_file_info *fi)
{
	int r;

	pifs_view_write_begin(FH(fi)->v);
	fh_journal(D(req), FH(fi), FH(fi)->ino);
	r = fallocate(FH(fi)->fd, mode, off, len) < 0 ? errno : 0;
	pifs_view_write_end(FH(fi)->v);
	fuse_reply_err(req, r);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	off_t r = lseek(fh_fd(D(req), FH(fi)), off, whence);

	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}

/*
 * No OPENDIR: the kernel then opens directories without asking and caches
 * their listings (listings.c).  A view's directories change only through
 * this mount (the kernel drops its cached listing on every change it
 * makes) or by a reset, which invalidates every inode of the view
 * (ctl.c); tftpboot/ and nfsroot/ change under the kernel (a worker's
 * boot files, the registry), so their mtime moves with their listing and
 * the kernel lists again when it moved: tftpboot/'s attributes are never
 * cached, nfsroot/'s are and ctl.c tells the kernel when the registry
 * changed.
 */
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       int plus)
{
	struct pifsd *d = D(req);
	struct pifsd_sb *sb = SB(req);
	struct pifs_fs *fs = &d->fs;
	struct pifsd_listing *ls = NULL;
	struct pifs_node *dn = pifsd_sb_node(sb, ino);
	struct pifs_lower_dir ld = { .fd = -1 };
	int ld_open = 0, is_root = sb->view && dn == sb->view->root;
	char *buf = NULL;
	size_t used = 0, start;
	int r;

	if (!dn) {
		r = -ESTALE;
		goto out;
	}
	if ((r = pifsd_listing_get(d, dn->id, (uint64_t)off, &ls, &start)) < 0)
		goto out;
	buf = malloc(size);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = start; i < ls->dir->count; i++) {
		struct pifs_dirent *e = &ls->dir->ents[i];
		off_t next = (off_t)pifsd_listing_cookie(ls, i + 1);
		/* nothing above a worker's root: its ".." is itself */
		uint64_t eino = pifsd_sb_ino(
		    sb, i == 1 && is_root ? dn->id : e->ino);
		size_t l;

		if (plus) {
			struct fuse_entry_param ep;
			struct pifs_node *n = NULL;
			struct stat st;

			memset(&ep, 0, sizeof(ep));
			if (i >= 2 && !ld_open) {
				/* once per request, and only when a name
				 * needs it */
				pifs_fs_lower_dir_open(fs, dn, &ld);
				ld_open = 1;
			}
			if (i < 2 ||
			    pifs_fs_lookup_in(fs, dn, &ld, e->name, &n, &st) < 0) {
				/* "." and "..", or an entry that just went:
				 * name only, no lookup counted. */
				ep.attr.st_ino = eino;
				ep.attr.st_mode = (mode_t)e->type << 12;
				n = NULL;
			} else if (!pifsd_sb_owns(sb, n)) {
				pifs_fs_forget(fs, n->id, 1);
				n = NULL;
				ep.attr.st_ino = eino;
				ep.attr.st_mode = (mode_t)e->type << 12;
			} else {
				ep.ino = pifsd_sb_ino(sb, n->id);
				ep.generation = n->gen;
				ep.attr = st;
				ep.attr.st_ino = pifsd_sb_ino(sb, st.st_ino);
				ep.entry_timeout = cache_time(req, n);
				ep.attr_timeout = attr_time(req, n);
			}
			l = fuse_add_direntry_plus(req, buf + used, size - used,
						   e->name, &ep, next);
			if (l > size - used) {
				if (n)
					pifs_fs_forget(fs, n->id, 1);
				break;
			}
		} else {
			struct stat st = { .st_ino = eino,
					   .st_mode = (mode_t)e->type << 12 };

			l = fuse_add_direntry(req, buf + used, size - used,
					      e->name, &st, next);
			if (l > size - used)
				break;
		}
		used += l;
	}
out:
	if (ld_open)
		pifs_fs_lower_dir_close(&ld);
	if (dn)
		pifs_fs_put(fs, dn);
	if (ls)
		pifsd_listing_put(d, ls, r == 0 && start >= ls->dir->count);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, 1);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, -pifs_fs_syncfs(&D(req)->fs));
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

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct pifs_node *n;
	int r;

	GET_NODE(req, ino, n);
	r = pifs_fs_setxattr(&D(req)->fs, n, name, value, size, flags);
	pifs_fs_put(&D(req)->fs, n);
	fuse_reply_err(req, -r);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct pifs_node *n;
	char *buf = NULL;
	ssize_t r;

	GET_NODE(req, ino, n);
	if (size && !(buf = malloc(size))) {
		pifs_fs_put(&D(req)->fs, n);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = pifs_fs_getxattr(&D(req)->fs, n, name, buf, size);
	pifs_fs_put(&D(req)->fs, n);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else if (!size)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct pifs_node *n;
	char *buf = NULL;
	ssize_t r;

	GET_NODE(req, ino, n);
	if (size && !(buf = malloc(size))) {
		pifs_fs_put(&D(req)->fs, n);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = pifs_fs_listxattr(&D(req)->fs, n, buf, size);
	pifs_fs_put(&D(req)->fs, n);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else if (!size)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct pifs_node *n;
	int r;

	GET_NODE(req, ino, n);
	r = pifs_fs_removexattr(&D(req)->fs, n, name);
	pifs_fs_put(&D(req)->fs, n);
	fuse_reply_err(req, -r);
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
