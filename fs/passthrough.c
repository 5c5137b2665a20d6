/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * passthrough.c - FUSE passthrough for the files of tftpboot/: the
 * kernel reads (and splices) them straight from the golden or delta file,
 * with no request to pifsd and no FUSE page cache, so dnsmasq reads the
 * boot files at the speed of a plain directory, from the one page-cache
 * copy every view shares.
 *
 * The kernel has it since 6.9 (FUSE_PASSTHROUGH, protocol 7.40);
 * bookworm's libfuse (3.14) does not know it, so pifsd speaks those few
 * words itself, through the session's custom I/O hooks:
 *  - read: notes the INIT request's id and whether the kernel offers
 *    FUSE_PASSTHROUGH;
 *  - writev: in libfuse's INIT reply, asks for it (flags2) with a stack
 *    depth of 1 (the store is on a plain file system);
 *  - an open registers the open fd with the kernel
 *    (FUSE_DEV_IOC_BACKING_OPEN) and answers with FOPEN_PASSTHROUGH and
 *    that backing id (fuse_reply_iov: libfuse's reply has no field).
 * If the kernel does not offer it, or refuses an fd, the open is what it
 * was before: direct_io for golden files, page cache for delta files.
 * The same hooks carry FUSE over io_uring (uring.c): its part of the INIT
 * exchange, and the replies that belong to a ring entry.
 *
 * Why only tftpboot/: the kernel wants every open of a FUSE inode that
 * has a passthrough open to pass through to the same backing file (other
 * opens fail, EIO).  A worker's view can open a golden file for reading
 * and then for writing, which copies it up to a different file: with
 * passthrough, that write would fail while the reader is open.  tftpboot/
 * nodes are read-only aliases, so their opens never copy up; what remains
 * is a worker replacing a boot file while dnsmasq serves it: the
 * transfer under way completes with the file it began with, and new opens
 * of that alias name the old backing file too (the kernel wants that) but
 * with direct_io, so their reads come to pifsd, from the new file, until
 * the old transfer closes.
 *
 * Why not a view's golden files as well: besides that rule, the kernel
 * opens each passthrough file's own backing file with the flags of the
 * FUSE open, under pifsd's credentials.  An open for writing of a view's
 * golden file while a reader passes through to it would then have to
 * name the golden file as its backing, opened for writing, and an mmap of
 * it would write the golden image.  Read-only aliases never open for
 * writing.
 *
 * The open files of each node id are counted for that: an alias passes
 * through only while it has no page-cache open, reusing the node's
 * backing id for the same file; the backing id is closed when the node's
 * last passthrough file is released.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kabi.h"
#include "pifsd.h"
#include "util.h"

/* ---- the INIT exchange ---- */

/* The hooks are every session's (its user data is the sb): each
 * session's INIT is seen and amended for io_uring (uring_conn.c), and
 * replies that belong to a ring entry go there; passthrough and
 * FUSE_NO_EXPORT_SUPPORT are the top's only. */
static ssize_t io_read(int fd, void *buf, size_t len, void *ud)
{
	struct pifsd_sb *sb = ud;
	struct pifsd *d = sb->d;
	ssize_t r = read(fd, buf, len);

	if (!sb->init_unique && r >= (ssize_t)(sizeof(struct k_in_header) +
					       sizeof(struct k_init_in))) {
		const struct k_in_header *h = buf;

		if (h->opcode == K_FUSE_INIT) {
			const struct k_init_in *in = (const void *)(h + 1);

			sb->init_unique = h->unique;
			if (!sb->view)
				d->pt.offered =
				    d->pt.want && in->major == 7 &&
				    in->minor >= 40 &&
				    (in->flags & K_FUSE_INIT_EXT) &&
				    (in->flags2 & K_FUSE_PASSTHROUGH_FLAGS2);
			pifsd_uring_note_init(sb, in);
		}
	}
	if (r > 0)
		__atomic_add_fetch(&sb->dev_served, 1, __ATOMIC_RELAXED);
	return r;
}

/* The top's part of its INIT reply. */
static void top_init(struct pifsd *d, struct k_init_out *o)
{
	/* The top is never exported: no handle decodes in it
	 * (FUSE_NO_EXPORT_SUPPORT, 6.9+; older kernels ignore the bit).
	 * So an NFS server that climbs out of a worker's file system with
	 * ".." (the kernel crosses mounts itself) or exports a worker's
	 * mount point while its file system is not mounted cannot open
	 * anything of the top by its handle. */
	o->flags |= K_FUSE_INIT_EXT;
	o->flags2 |= K_FUSE_NO_EXPORT_FLAGS2;
	if (d->pt.offered) {
		o->flags |= K_FUSE_INIT_EXT;
		o->flags2 |= K_FUSE_PASSTHROUGH_FLAGS2;
		o->max_stack_depth = 1;
		d->pt.enabled = 1;
		pifs_info("tftpboot/ files: FUSE passthrough");
	}
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *ud)
{
	struct pifsd_sb *sb = ud;
	ssize_t r;

	if (sb->init_unique && !sb->init_done && count >= 2 &&
	    iov[0].iov_len >= sizeof(struct k_out_header)) {
		const struct k_out_header *h = iov[0].iov_base;

		if (h->unique == sb->init_unique && h->error == 0 &&
		    iov[1].iov_len >= offsetof(struct k_init_out, unused)) {
			struct k_init_out *o = iov[1].iov_base;

			sb->init_done = 1;
			if (!sb->view) {
				sb->d->pt.init_done = 1;
				top_init(sb->d, o);
			}
			pifsd_uring_init_reply(sb, o);
			r = writev(fd, iov, count);
			pifsd_uring_init_sent(sb, r >= 0);
			return r;
		}
	}
	if (pifsd_uring_writev(sb, iov, count, &r))
		return r;
	return writev(fd, iov, count);
}

/* Once custom I/O is set, libfuse splices read replies only through
 * this hook.  (No splice_receive hook: requests are read with read(2);
 * with one, libfuse 3.14's loop did not always end at unmount.) */
static ssize_t io_splice_send(int fdin, off_t *offin, int fdout, off_t *offout,
			      size_t len, unsigned int flags, void *ud)
{
	ssize_t r;

	if (pifsd_uring_splice(ud, fdin, fdout, len, &r))
		return r;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int pifsd_io_hook(struct pifsd_sb *sb)
{
	static const struct fuse_custom_io io = {
	    .read = io_read,
	    .writev = io_writev,
	    .splice_send = io_splice_send,
	};

	/* After fuse_session_mount: this only installs the hooks on the
	 * mounted fd. */
	return fuse_session_custom_io(sb->se, &io, sb->fd) == 0 ? 0 : -EIO;
}

int pifsd_pt_hook(struct pifsd *d)
{
	struct stat st;

	pthread_mutex_init(&d->pt.lock, NULL);
	if (fstat(d->fs.store.golden_fd, &st) < 0)
		return -errno;
	d->pt.golden_dev = st.st_dev;
	return 0;
}

/* ---- open files per node ---- */

struct pt_node {
	uint64_t ino;
	uint32_t backing_id; /* 0: none */
	ino_t backing_ino;   /* the golden or delta file it names */
	uint32_t pt_opens;   /* open files passing through backing_id */
	uint32_t cached;     /* open files using the FUSE page cache */
	uint32_t direct;     /* other open files */
	struct pt_node *next;
};

#define PT_BUCKETS 1024

static struct pt_node **bucket(struct pifsd *d, uint64_t ino)
{
	return &d->pt.buckets[(ino ^ (ino >> 21) ^ (ino >> 48)) % PT_BUCKETS];
}

/* find: the entry of ino, created if create; NULL if absent or no memory.
 * Called with pt.lock held. */
static struct pt_node *find(struct pifsd *d, uint64_t ino, int create)
{
	struct pt_node **b, *e;

	if (!d->pt.buckets) {
		if (!create)
			return NULL;
		d->pt.buckets = calloc(PT_BUCKETS, sizeof(*d->pt.buckets));
		if (!d->pt.buckets)
			return NULL;
	}
	b = bucket(d, ino);
	for (e = *b; e; e = e->next)
		if (e->ino == ino)
			return e;
	if (!create || !(e = calloc(1, sizeof(*e))))
		return NULL;
	e->ino = ino;
	e->next = *b;
	*b = e;
	return e;
}

static void drop_if_unused(struct pifsd *d, struct pt_node *e)
{
	struct pt_node **p;

	if (e->pt_opens || e->cached || e->direct)
		return;
	for (p = bucket(d, e->ino); *p; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			free(e);
			return;
		}
	}
}

int pifsd_pt_open(struct pifsd *d, uint64_t ino, int fd, int golden, int alias,
		  enum pifsd_io *mode, uint32_t *backing_id)
{
	struct pt_node *e;
	struct stat st;
	int r = 0, can_pt;

	/* Generated files are memfds built at each open: never passed
	 * through (a second open would reuse the first one's content). */
	can_pt = alias && d->pt.enabled && fstat(fd, &st) == 0 &&
		 S_ISREG(st.st_mode) && st.st_dev == d->pt.golden_dev;
	pthread_mutex_lock(&d->pt.lock);
	e = find(d, ino, 1);
	if (!e) {
		r = -ENOMEM;
		goto out;
	}
	if (e->pt_opens && !(can_pt && st.st_ino == e->backing_ino)) {
		/* A worker replaced a boot file while the old one is being
		 * served.  The kernel takes no other backing file for this
		 * inode while that open lasts, nor an open without one:
		 * this open names the same backing file, with direct_io,
		 * which sends its reads to pifsd, from the new file (only an
		 * mmap would see the old one).  Read-only: tftpboot/ is. */
		e->pt_opens++;
		*mode = PIFSD_IO_PT_DIRECT;
		*backing_id = e->backing_id;
		goto out;
	}
	if (can_pt && !e->cached && !e->backing_id) {
		struct k_backing_map map = {.fd = fd};
		int id =
		    ioctl(d->top->fd, K_DEV_IOC_BACKING_OPEN, &map);

		if (id > 0) {
			e->backing_id = (uint32_t)id;
			e->backing_ino = st.st_ino;
		} else if (!d->pt.warned) {
			d->pt.warned = 1;
			pifs_warn("kernel refused a passthrough file (%s): "
				  "tftpboot/ falls back to direct_io",
				  strerror(errno));
		}
	}
	if (e->backing_id)
		*mode = PIFSD_IO_PASSTHROUGH;
	else if (golden && d->golden_direct)
		*mode = PIFSD_IO_DIRECT;
	else
		/* pifs is the only writer of a delta: what the kernel
		 * caches stays valid (resets invalidate explicitly). */
		*mode = PIFSD_IO_CACHED;
	if (*mode == PIFSD_IO_PASSTHROUGH) {
		e->pt_opens++;
		*backing_id = e->backing_id;
	} else if (*mode == PIFSD_IO_CACHED) {
		e->cached++;
	} else {
		e->direct++;
	}
out:
	if (e)
		drop_if_unused(d, e);
	pthread_mutex_unlock(&d->pt.lock);
	return r;
}

void pifsd_pt_release(struct pifsd *d, uint64_t ino, enum pifsd_io mode)
{
	struct pt_node *e;
	uint32_t close_id = 0;

	pthread_mutex_lock(&d->pt.lock);
	e = find(d, ino, 0);
	if (e) {
		if ((mode == PIFSD_IO_PASSTHROUGH ||
		     mode == PIFSD_IO_PT_DIRECT) &&
		    e->pt_opens && !--e->pt_opens) {
			close_id = e->backing_id;
			e->backing_id = 0;
		} else if (mode == PIFSD_IO_CACHED && e->cached) {
			e->cached--;
		} else if (mode == PIFSD_IO_DIRECT && e->direct) {
			e->direct--;
		}
		drop_if_unused(d, e);
	}
	/* Closed under the lock: a new open of the node must not find the
	 * id gone from the kernel but still in the table. */
	if (close_id && ioctl(d->top->fd, K_DEV_IOC_BACKING_CLOSE,
			      &close_id) < 0)
		pifs_debug("cannot close backing id %u: %s", close_id,
			   strerror(errno));
	pthread_mutex_unlock(&d->pt.lock);
}

void pifsd_pt_file_info(struct fuse_file_info *fi, enum pifsd_io mode)
{
	fi->direct_io = mode == PIFSD_IO_DIRECT;
	fi->keep_cache = mode == PIFSD_IO_CACHED;
}

int pifsd_pt_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
			enum pifsd_io mode, uint32_t backing_id)
{
	struct k_open_out o;
	struct iovec iov;

	if (mode != PIFSD_IO_PASSTHROUGH && mode != PIFSD_IO_PT_DIRECT) {
		struct fuse_file_info f = *fi;

		pifsd_pt_file_info(&f, mode);
		return fuse_reply_open(req, &f);
	}
	memset(&o, 0, sizeof(o));
	o.fh = fi->fh;
	o.open_flags = K_FOPEN_PASSTHROUGH |
		       (mode == PIFSD_IO_PT_DIRECT ? K_FOPEN_DIRECT_IO : 0);
	o.backing_id = (int32_t)backing_id;
	iov.iov_base = &o;
	iov.iov_len = sizeof(o);
	return fuse_reply_iov(req, &iov, 1);
}

void pifsd_pt_free(struct pifsd *d)
{
	if (d->pt.buckets) {
		for (size_t i = 0; i < PT_BUCKETS; i++) {
			struct pt_node *e = d->pt.buckets[i], *n;

			for (; e; e = n) {
				n = e->next;
				free(e);
			}
		}
		free(d->pt.buckets);
		d->pt.buckets = NULL;
	}
}
