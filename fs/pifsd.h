/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pifsd.h - the pifsd daemon state, shared by its files, and its FUSE
 * low-level operations table (ops.c).
 *
 * pifsd serves several FUSE file systems from one process (sessions.c):
 * the top (the mount point: nfsroot/, where each worker's file system is
 * mounted, and tftpboot/) and one per worker, whose root is the view's
 * root.  Every request carries its file system (struct pifsd_sb, the
 * session's user data), and only that file system's nodes are answered.
 */
#ifndef PIFS_PIFSD_H
#define PIFS_PIFSD_H

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
	/* The top's INIT exchange (one pool thread). */
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

/* FUSE over io_uring (uring.c, uring_conn.c). */
struct pifsd_uthr;
struct pifsd_uring_q;
struct pifsd_uconn;
struct pifsd_uring {
	int want;	  /* -o uring=on (default) */
	unsigned threads; /* -o threads: spread over the queues */
	int enabled;	  /* the ring set runs: sessions may ask for it */
	unsigned nq, per_q, nthr;
	struct pifsd_uring_q *q;  /* nq */
	struct pifsd_uthr *thr;   /* nthr, per_q for each queue */
	int stopping;
	pthread_mutex_t conns_lock; /* guards conns */
	struct pifsd_uconn *conns;
	size_t kept; /* payload bytes kept past KEEP, all entries (atomic) */
};

/* One FUSE file system pifsd serves (sessions.c). */
enum pifsd_sb_state {
	PIFSD_SB_NEW,  /* made, not mounted yet */
	PIFSD_SB_LIVE, /* mounted and served by the pool */
	PIFSD_SB_GONE, /* unmounted (by anyone) or being retired */
};
struct pifsd_sb {
	struct pifsd *d;         /* immutable */
	struct pifs_view *view;  /* immutable; NULL: the top */
	struct fuse_session *se; /* immutable until retired */
	int fd;                  /* the session's /dev/fuse fd */
	char *mountpoint;        /* immutable: where it is mounted */
	/* Guarded by d->sb_lock. */
	enum pifsd_sb_state state;
	unsigned busy;        /* threads serving one of its requests */
	/* The INIT exchange (one pool thread), then immutable. */
	uint64_t init_unique;
	int init_done;
	int uring_offered;       /* the kernel offered io_uring */
	struct pifsd_uconn *uc;  /* its ring entries, or NULL */
	uint64_t dev_served;     /* requests read from /dev/fuse (atomic) */
	struct pifsd_sb *next; /* d->sbs, or d->retired */
};

/* The threads that serve every session's /dev/fuse (sessions.c). */
struct pifsd_pool {
	unsigned nthreads;
	pthread_t *threads;
	unsigned started;
	int epfd;    /* the sessions' fds (one-shot) and stop_fd */
	int stop_fd; /* eventfd: readable = every thread ends */
};

struct pifsd {
	struct pifs_fs fs;
	double timeout;       /* entry and attribute cache, seconds */
	int golden_direct;    /* golden-backed files bypass the FUSE page
			       * cache so every view shares the golden's */
	struct pifsd_pt pt;
	struct pifsd_listings listings;
	struct pifsd_uring uring;
	struct pifsd_sb *top; /* the top file system (tftpboot/ is there) */
	struct pifsd_pool pool;
	struct fuse_args sb_args; /* the FUSE options every session gets */
	char *mountpoint;         /* absolute */
	/* Every open file (ops_file.c): the kernel sends no RELEASE for
	 * what is open when a connection ends (an NFS server still holding
	 * files at exit, a removed worker), so those are freed at exit. */
	pthread_mutex_t fh_lock;  /* guards fhs */
	struct fh *fhs;
	pthread_mutex_t sb_lock;  /* guards sbs, retired, each sb's state */
	pthread_cond_t sb_idle;   /* an sb's busy count fell to 0 */
	struct pifsd_sb *sbs;     /* every live file system, the top first */
	struct pifsd_sb *retired; /* freed at exit: a pool thread may still
				   * hold one it took from epoll */
	pthread_mutex_t sync_lock; /* serializes pifsd_sb_sync */
	int exit_fd;          /* eventfd: the top is gone, pifsd ends */
	int ctl_fd;             /* the control socket, or -1 */
	int reg_watch;          /* inotify on STORE's registry, or -1 */
	pthread_t ctl_thread;
	int ctl_running;
};

extern const struct fuse_lowlevel_ops pifsd_ops;

/* sessions.c: see there.  sb_new makes a session for the top (v NULL)
 * or a worker's view; sb_mount mounts it (the pool must run for a worker:
 * its mount point is in the top) and hands it to the pool; sb_retire
 * unmounts it (lazily), waits for requests under way, and destroys it.
 * sb_sync mounts a file system for every registered worker that has
 * none and retires those of removed workers.  pool_start/pool_stop: the
 * threads.  sb_id/sb_ino translate between the kernel's node ids of a
 * file system (the worker's root is 1) and pifs's; sb_node pins the node
 * of a kernel id only if it belongs to that file system (NULL: ESTALE);
 * sb_owns says whether a node does.  sb_get: the live file system of a
 * view (NULL: the top), held (busy) until sb_put, or NULL. */
struct pifsd_sb *pifsd_sb_new(struct pifsd *d, struct pifs_view *v);
int pifsd_sb_mount(struct pifsd_sb *sb, const char *mountpoint);
void pifsd_sb_retire(struct pifsd_sb *sb);
int pifsd_sb_sync(struct pifsd *d);
void pifsd_sb_free_all(struct pifsd *d);
/* ops_file.c: free the open files no RELEASE came for (at exit, after
 * the threads). */
void pifsd_fh_free_all(struct pifsd *d);
int pifsd_pool_start(struct pifsd *d, unsigned nthreads);
void pifsd_pool_stop(struct pifsd *d);
uint64_t pifsd_sb_id(const struct pifsd_sb *sb, fuse_ino_t ino);
fuse_ino_t pifsd_sb_ino(const struct pifsd_sb *sb, uint64_t id);
int pifsd_sb_owns(const struct pifsd_sb *sb, const struct pifs_node *n);
struct pifs_node *pifsd_sb_node(struct pifsd_sb *sb, fuse_ino_t ino);
struct pifsd_sb *pifsd_sb_get(struct pifsd *d, const struct pifs_view *v);
void pifsd_sb_put(struct pifsd_sb *sb);

/* ctl.c: the control socket (overlay/ctl.h): bound before the mount
 * (threads do not survive daemonizing), served after. */
int pifsd_ctl_listen(struct pifsd *d);
int pifsd_ctl_run(struct pifsd *d);
void pifsd_ctl_stop(struct pifsd *d);

/* passthrough.c: see there.  pt_hook readies passthrough (after the
 * top's mount, before the pool); io_hook installs the session hooks on
 * a session (after fuse_session_mount, before it is served); pt_open decides the I/O mode of a
 * new open file of node ino backed by fd (golden: a read-only golden or
 * generated file; alias: a tftpboot/ node) and counts it (-ENOMEM);
 * pt_reply_open answers the open with that mode; pt_file_info sets the
 * flags of fi that say a mode other than passthrough (for a reply that
 * is not pt_reply_open's: a create); pt_release uncounts it when the file
 * is released. */
int pifsd_pt_hook(struct pifsd *d);
int pifsd_io_hook(struct pifsd_sb *sb);

/* selfmount.c: a worker's mount point is inside the top, which pifsd
 * serves, so its mount and unmount walk it from a helper process
 * (pifsd itself, /proc/self/exe, in a helper mode): a kill of pifsd
 * mid-walk then leaves nothing waiting.  pifsd_selfmount returns the new
 * /dev/fuse fd, pifsd_selfumount 0 (a lazy unmount); -errno with the
 * cause logged.  pifsd_is_selfmount tells main() it is the helper. */
int pifsd_selfmount(struct pifsd *d, const char *mountpoint);
int pifsd_selfumount(struct pifsd *d, const char *mountpoint);
int pifsd_is_selfmount(int argc, char **argv);
int pifsd_selfmount_main(int argc, char **argv);
int pifsd_pt_open(struct pifsd *d, uint64_t ino, int fd, int golden, int alias,
		  enum pifsd_io *mode, uint32_t *backing_id);
void pifsd_pt_file_info(struct fuse_file_info *fi, enum pifsd_io mode);
int pifsd_pt_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
			enum pifsd_io mode, uint32_t backing_id);
void pifsd_pt_release(struct pifsd *d, uint64_t ino, enum pifsd_io mode);
void pifsd_pt_free(struct pifsd *d);

/* uring.c, uring_conn.c: see there.  prepare (before the first mount)
 * sets the kernel's enable_uring and starts the ring set; note_init and
 * init_reply see and amend a session's INIT exchange (the session hooks
 * of passthrough.c), init_sent registers its entries once the kernel has
 * the reply (ok) or drops them; retire logs what served the session and
 * lets its entries go; stop ends the ring set (after every unmount).
 * writev and splice take a reply that belongs to a ring entry (1, *res:
 * the hook's result) or leave it to /dev/fuse (0); buf is the calling
 * thread's reply payload, for a read to fill in place (or NULL). */
int pifsd_uring_prepare(struct pifsd *d);
struct k_init_in;
struct k_init_out;
void pifsd_uring_note_init(struct pifsd_sb *sb, const struct k_init_in *in);
void pifsd_uring_init_reply(struct pifsd_sb *sb, struct k_init_out *o);
void pifsd_uring_init_sent(struct pifsd_sb *sb, int ok);
void pifsd_uring_retire(struct pifsd_sb *sb);
void pifsd_uring_stop(struct pifsd *d);
int pifsd_uring_writev(struct pifsd_sb *sb, const struct iovec *iov,
		       int count, ssize_t *res);
int pifsd_uring_splice(struct pifsd_sb *sb, int pipe_fd, int fuse_fd,
		       size_t len, ssize_t *res);
void *pifsd_uring_buf(size_t size);
/* fn(arg), off the ring thread when called on one (uring.c). */
int pifsd_uring_blocking(int (*fn)(void *), void *arg);

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
