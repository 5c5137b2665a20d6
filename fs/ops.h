/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops.h - the pifsd daemon state and its FUSE low-level operations table.
 */
#ifndef PIFS_OPS_H
#define PIFS_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>

#include "view.h"

/* How the kernel does I/O on one open file (passthrough.c). */
enum pifsd_io {
	PIFSD_IO_CACHED,      /* FUSE page cache, keep_cache */
	PIFSD_IO_DIRECT,      /* direct_io: every read is a request */
	PIFSD_IO_PASSTHROUGH, /* the kernel reads the backing file itself */
	PIFSD_IO_PT_DIRECT,   /* names the backing file (the kernel wants
			       * one), but reads come to pifsd: direct_io */
};

struct pt_node;

/* FUSE passthrough state (passthrough.c). */
struct pifsd_pt {
	int want;	  /* immutable after start-up */
	dev_t golden_dev; /* immutable: the store's file system */
	/* The INIT exchange (the loop's first request, one thread). */
	uint64_t init_unique;
	int offered, init_done;
	int enabled; /* set once, before any open */
	int warned;
	pthread_mutex_t lock; /* guards buckets and their entries */
	struct pt_node **buckets;
};

/* Directory listings for readdir without opendir (listings.c). */
#define PIFSD_LISTINGS 64
struct pifsd_listing {
	uint64_t ino;
	uint32_t serial; /* 0: one read's own, in no slot (listings.c) */
	unsigned refs;	 /* reads using it; guarded by the lock */
	uint64_t used;
	struct pifs_dir *dir;
};
struct pifsd_listings {
	pthread_mutex_t lock;
	struct pifsd_listing slot[PIFSD_LISTINGS];
	uint32_t next_serial;
	uint64_t tick;
};

/* FUSE over io_uring (uring.c). */
struct pifsd_uthr;
struct pifsd_uring {
	int want;	  /* -o uring=on (default) */
	unsigned threads; /* -o threads: spread over the queues */
	int offered;	  /* the INIT request offered it */
	int enabled;	  /* asked for in the INIT reply; rings made */
	unsigned nq, nthr;
	size_t payload_sz;
	struct pifsd_uthr *thr;
	int stop_fd;
};

struct pifsd {
	struct pifs_fs fs;
	double timeout;       /* entry and attribute cache, seconds */
	int golden_direct;    /* golden-backed files bypass the FUSE page
			       * cache so every view shares the golden's */
	struct pifsd_pt pt;
	struct pifsd_listings listings;
	struct pifsd_uring uring;
	struct fuse_session *se;
	int ctl_fd;             /* the control socket, or -1 */
	int reg_watch;          /* inotify on STORE's registry, or -1 */
	pthread_t ctl_thread;
	int ctl_running;
};

extern const struct fuse_lowlevel_ops pifsd_ops;

/* ctl.c: the control socket (overlay/ctl.h): bound before the mount
 * (threads do not survive daemonizing), served after. */
int pifsd_ctl_listen(struct pifsd *d);
int pifsd_ctl_run(struct pifsd *d);
void pifsd_ctl_stop(struct pifsd *d);

/* passthrough.c: see there.  pt_hook installs the INIT hooks (after
 * fuse_session_mount, before the loop); pt_open decides the I/O mode of a
 * new open file of node ino backed by fd (golden: a read-only golden or
 * generated file; alias: a tftpboot/ node) and counts it (-ENOMEM);
 * pt_reply_open answers the open with that mode; pt_release uncounts it
 * when the file is released. */
int pifsd_pt_hook(struct pifsd *d);
int pifsd_pt_open(struct pifsd *d, uint64_t ino, int fd, int golden, int alias,
		  enum pifsd_io *mode, uint32_t *backing_id);
int pifsd_pt_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
			enum pifsd_io mode, uint32_t backing_id);
void pifsd_pt_release(struct pifsd *d, uint64_t ino, enum pifsd_io mode);
void pifsd_pt_free(struct pifsd *d);

/* uring.c: see there.  prepare (before the mount) sets the kernel's
 * enable_uring; note_init and init_reply see and amend the INIT exchange
 * (the session hooks of passthrough.c; init_reply also starts the
 * threads), stop ends them after the unmount.  writev and
 * splice take a reply that belongs to a ring entry (1, *res: the hook's
 * result) or leave it to /dev/fuse (0); buf is the calling thread's
 * reply payload, for a read to fill in place (or NULL). */
int pifsd_uring_prepare(struct pifsd *d);
struct k_init_in;
struct k_init_out;
void pifsd_uring_note_init(struct pifsd *d, const struct k_init_in *in);
int pifsd_uring_init_reply(struct pifsd *d, struct k_init_out *o);
void pifsd_uring_stop(struct pifsd *d);
int pifsd_uring_writev(struct pifsd *d, const struct iovec *iov, int count,
		       ssize_t *res);
int pifsd_uring_splice(struct pifsd *d, int pipe_fd, int fuse_fd, size_t len,
		       ssize_t *res);
void *pifsd_uring_buf(size_t size);

/* listings.c: see there.  listing_get finds or makes the listing of
 * directory ino that a READDIR at off continues (*start: the index of its
 * next entry); listing_put lets it go (done: the read was past the end,
 * the listing can be dropped); listing_cookie is the offset after
 * the entry at index next-1. */
void pifsd_listings_init(struct pifsd_listings *l);
void pifsd_listings_free(struct pifsd_listings *l);
int pifsd_listing_get(struct pifsd *d, uint64_t ino, uint64_t off,
		      struct pifsd_listing **out, size_t *start);
void pifsd_listing_put(struct pifsd *d, struct pifsd_listing *s, int done);
uint64_t pifsd_listing_cookie(const struct pifsd_listing *s, size_t next);

#endif
