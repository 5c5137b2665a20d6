/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * uring.h - what the two halves of FUSE over io_uring share: the ring
 * set (uring.c: one io_uring per CPU queue and the threads that serve
 * it) and the connections' ring entries (uring_conn.c: registered on a
 * session's /dev/fuse, served, released).  See uring.c for the design.
 *
 * Ownership: the ring set owns the rings and threads; a connection
 * (struct pifsd_uconn, one per FUSE session that asked for io_uring)
 * owns its entries, their buffers and a duplicate of the session's fd,
 * which the entries' commands name, so that the fd number cannot be
 * reused while a command may still name it.  A connection is freed when
 * the ring set stops; its buffers and fd go as soon as its session is
 * retired and the kernel has released every entry.
 */
#ifndef PIFS_URING_H
#define PIFS_URING_H

#include <liburing.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kabi.h"
#include "pifsd.h"

/* Entries per connection and CPU queue (see uring.c, "Entries"). */
#define PIFSD_URING_ENTRIES 2

/* The room in front of the payload where a FUSE_WRITE's header and
 * first argument are put back, so libfuse sees one buffer without the
 * data being copied. */
#define PIFSD_URING_PREFIX (sizeof(struct k_in_header) + K_URING_OP_SZ)

enum { PIFSD_UD_KICK = 1, PIFSD_UD_STOP = 2 };

struct pifsd_uconn;

/* One ring entry: a header and a payload buffer the kernel fills with a
 * request of its connection, on queue qid.  Between its command's
 * completion and the next command it is one thread's only. */
struct pifsd_uent {
	struct pifsd_uconn *c;
	unsigned qid;
	struct k_req_header *hdr; /* in c->hdrs */
	char *area;		  /* mmap: PREFIX room, then the payload */
	char *payload;		  /* area + PREFIX */
	struct iovec reg[2];
	size_t resident;	  /* payload bytes kept beyond KEEP */
	unsigned tries;		  /* REGISTER refused with -EAGAIN */
	int dead;		  /* the kernel released it */
	struct pifsd_uent *next;  /* a ring's pending registrations */
};

struct pifsd_uconn {
	struct pifsd_sb *sb;
	int fd;		   /* dup of the session's fd; -1 once released */
	size_t payload_sz;
	unsigned nent;
	struct pifsd_uent *ent;
	struct k_req_header *hdrs;
	unsigned live;	   /* entries not released (atomic) */
	int retired;	   /* the session is retired (atomic) */
	int ready;	   /* every entry registered once (atomic) */
	uint64_t served;   /* requests answered (atomic) */
	struct pifsd_uconn *next; /* u->conns */
};

/* One CPU queue's ring, shared by its threads: any of them reaps any
 * completion (cq_lock) and submits (sq_lock). */
struct pifsd_uring_q {
	struct pifsd *d;
	unsigned qid;
	struct io_uring ring;
	int ring_ok;
	pthread_mutex_t sq_lock; /* the submission queue */
	pthread_mutex_t cq_lock; /* the completion queue */
	int kick_fd;		 /* eventfd: pending registrations */
	struct pifsd_uent *pending; /* under sq_lock */
};

/* A thread of the ring set, and the request it serves. */
struct pifsd_uthr {
	struct pifsd *d;
	struct pifsd_uring_q *q;
	pthread_t th;
	int started;
	struct pifsd_uent *e; /* the entry being served */
	char *req;	      /* a copy of a request (names live in it) */
	size_t req_cap;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t unique; /* 0: none; read unlocked by the hooks */
	int replied;
	uint64_t served;
};

/* uring.c */
int pifsd_uring_submit(struct pifsd_uring_q *q, struct pifsd_uent *e,
		       unsigned op, uint64_t commit);
void pifsd_uring_kick(struct pifsd_uring_q *q);

/* uring_conn.c: serve the request in e (called by a ring thread);
 * e_done: its command ended with res < 0; conns_free: at stop. */
void pifsd_uconn_serve(struct pifsd_uthr *t, struct pifsd_uent *e);
void pifsd_uconn_ent_done(struct pifsd_uring_q *q, struct pifsd_uent *e,
			  int res);
void pifsd_uconn_free_all(struct pifsd *d);

extern __thread struct pifsd_uthr *pifsd_uring_cur;

#endif
