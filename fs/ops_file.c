/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops_file.c - the FUSE operations on open files: open and create (each
 * makes a struct fh, ops.h, whose I/O mode passthrough.c chooses), read,
 * write, release, fsync, fallocate and lseek.  Reads of a file opened on
 * golden content follow a later copy-up (fh_fd); writes take the view's
 * write lock, so a pause freezes them, and are recorded in its journal.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"
#include "util.h"

static struct fh *fh_new(struct pifsd *d, struct pifs_view *v, int fd,
			 uint64_t ino)
{
	struct fh *h = calloc(1, sizeof(*h));

	if (h) {
		h->fd = fd;
		h->v = v;
		h->old_fd = -1;
		h->ino = ino;
		pthread_mutex_lock(&d->fh_lock);
		h->next = d->fhs;
		if (d->fhs)
			d->fhs->prev = h;
		d->fhs = h;
		pthread_mutex_unlock(&d->fh_lock);
	}
	return h;
}

/* The fd to read: the delta copy once a file opened on the golden has
 * been copied up (by this worker over NFS, or by the master). */
int fh_fd(struct pifsd *d, struct fh *h)
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
	pthread_mutex_lock(&d->fh_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		d->fhs = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&d->fh_lock);
	close(h->fd);
	if (h->old_fd >= 0)
		close(h->old_fd);
	if (h->lower) {
		pthread_mutex_destroy(&h->lock);
		pifs_fs_put(&d->fs, h->lower);
	}
	free(h);
}

void pifsd_fh_free_all(struct pifsd *d)
{
	while (d->fhs)
		fh_free(d, d->fhs);
}

/*
 * Choose the I/O mode of the new open file h (passthrough.c) and make it
 * fi's.  Golden files (golden) are read through the golden's own page
 * cache, shared by all views, instead of one FUSE page cache copy per
 * view: tftpboot/ files (alias) by passthrough when the kernel has it,
 * the rest by direct_io.  pifs is the only writer of a delta, so what the
 * kernel caches of delta files stays valid (resets invalidate
 * explicitly).  On failure h is not counted, and the caller frees it.
 */
static int fh_open(struct pifsd *d, struct fh *h, struct fuse_file_info *fi,
		   int golden, int alias, uint32_t *backing_id)
{
	int r = pifsd_pt_open(d, h->ino, h->fd, golden, alias, &h->mode,
			      backing_id);

	if (r < 0)
		return r;
	fi->fh = (uint64_t)(uintptr_t)h;
	pifsd_pt_file_info(fi, h->mode);
	return 0;
}

/* The kernel has closed h (a release), or never got it (an interrupted
 * open): uncount and free it. */
static void fh_release(struct pifsd *d, struct fh *h)
{
	pifsd_pt_release(d, h->ino, h->mode);
	fh_free(d, h);
}

static int do_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   struct fh **out, uint32_t *backing_id)
{
	struct pifsd *d = D(req);
	struct pifs_node *n = req_node(req, ino);
	int r, fd = -1, golden = 0, alias;
	struct fh *h;

	if (!n)
		return -ESTALE;
	alias = n->real || !n->view; /* tftpboot/: read-only */
	if ((r = pifs_fs_open_file(&d->fs, n, fi->flags, &fd, &golden)) < 0) {
		pifs_fs_put(&d->fs, n);
		return r;
	}
	if (!(h = fh_new(d, n->view, fd, n->id))) {
		pifs_fs_put(&d->fs, n);
		close(fd);
		return -ENOMEM;
	}
	if (golden) {
		/* Keep the pin: reads follow a copy-up (fh_fd). */
		h->lower = n;
		pthread_mutex_init(&h->lock, NULL);
	} else {
		pifs_fs_put(&d->fs, n);
	}
	if ((r = fh_open(d, h, fi, golden, alias, backing_id)) < 0) {
		fh_free(d, h);
		return r;
	}
	*out = h;
	return 0;
}

void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pifsd *d = D(req); /* a reply frees req */
	uint32_t backing_id = 0;
	struct fh *h = NULL;
	int r = do_open(req, ino, fi, &h, &backing_id);

	if (r < 0)
		fuse_reply_err(req, -r);
	else if (pifsd_pt_reply_open(req, fi, h->mode, backing_id) == -ENOENT)
		fh_release(d, h); /* interrupted: no release will come */
}

/* Create name in parent and open it: its entry (a lookup counted) and
 * its open file. */
static int do_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, struct fuse_file_info *fi,
		     struct fuse_entry_param *e, struct fh **out)
{
	struct pifsd *d = D(req);
	struct pifs_ctx ctx = req_ctx(req);
	struct pifs_node *p = req_node(req, parent), *n = NULL;
	struct stat st;
	int r, fd = -1;
	struct fh *h;

	if (!p)
		return -ESTALE;
	r = pifs_fs_create(&d->fs, p, name, mode, fi->flags, &ctx, &n, &st,
			   &fd);
	pifs_fs_put(&d->fs, p);
	if (r < 0)
		return r;
	if (!(h = fh_new(d, n->view, fd, n->id))) {
		close(fd);
		pifs_fs_forget(&d->fs, n->id, 1);
		return -ENOMEM;
	}
	if ((r = entry_param(req, n, &st, e)) < 0) { /* n forgotten */
		fh_free(d, h);
		return r;
	}
	if ((r = fh_open(d, h, fi, 0, 0, &(uint32_t){0})) < 0) {
		fh_free(d, h);
		pifs_fs_forget(&d->fs, n->id, 1);
		return r;
	}
	*out = h;
	return 0;
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, struct fuse_file_info *fi)
{
	struct pifsd *d = D(req); /* a reply frees req */
	struct fuse_entry_param e;
	struct fh *h = NULL;
	int r = do_create(req, parent, name, mode, fi, &e, &h);

	if (r < 0) {
		fuse_reply_err(req, -r);
	} else if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		/* interrupted: no release nor forget will come */
		uint64_t id = h->ino;

		fh_release(d, h);
		pifs_fs_forget(&d->fs, id, 1);
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

/* Read size bytes at off into a buffer of the calling thread's: its
 * io_uring entry's reply payload (straight into the reply), or for reads
 * bigger than a pipe holds its own buffer.  *mem NULL: neither, the
 * reply splices from fd. */
static ssize_t read_mem(int fd, size_t size, off_t off, void **mem)
{
	ssize_t r;

	if (!(*mem = pifsd_uring_buf(size))) {
		/* Spliced from the file into the reply by libfuse (no copy
		 * in pifsd); tiny ones are copied through a small buffer. */
		if (size <= SPLICE_READ_MAX)
			return 0;
		/* Bigger than a pipe holds, libfuse would malloc and free a
		 * buffer per read, which glibc keeps in every thread's arena
		 * (tens of MiB of daemon RSS): one buffer per thread
		 * instead. */
		if (!(*mem = rbuf_get(size)))
			return -ENOMEM;
	}
	r = pread(fd, *mem, size, off);
	return r < 0 ? -errno : r;
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	int fd = fh_fd(D(req), FH(fi));
	void *mem = NULL;
	ssize_t r = read_mem(fd, size, off, &mem);

	if (r < 0) {
		fuse_reply_err(req, (int)-r);
	} else if (mem) {
		fuse_reply_buf(req, mem, (size_t)r);
	} else {
		buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		buf.buf[0].fd = fd;
		buf.buf[0].pos = off;
		fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
	}
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

void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
		  off_t off, struct fuse_file_info *fi)
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

void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fh_release(D(req), FH(fi));
	fuse_reply_err(req, 0);
}

struct fsync_args {
	int fd, datasync;
};

static int do_fsync(void *arg)
{
	const struct fsync_args *a = arg;
	int r = a->datasync ? fdatasync(a->fd) : fsync(a->fd);

	return r < 0 ? -errno : 0;
}

/* Off the ring thread (pifsd_uring_blocking): the disk wait is
 * uninterruptible. */
void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi)
{
	struct fsync_args a = { FH(fi)->fd, datasync };

	fuse_reply_err(req, -pifsd_uring_blocking(do_fsync, &a));
}

void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		  off_t len, struct fuse_file_info *fi)
{
	int r;

	pifs_view_write_begin(FH(fi)->v);
	fh_journal(D(req), FH(fi), FH(fi)->ino);
	r = fallocate(FH(fi)->fd, mode, off, len) < 0 ? errno : 0;
	pifs_view_write_end(FH(fi)->v);
	fuse_reply_err(req, r);
}

void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	      struct fuse_file_info *fi)
{
	off_t r = lseek(fh_fd(D(req), FH(fi)), off, whence);

	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}
