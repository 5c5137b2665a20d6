/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * uring.c - FUSE over io_uring (kernel 6.14+) for every file system
 * pifsd serves: one ring set, shared by the top and every worker.
 *
 * With /dev/fuse, each request costs the daemon an epoll wake-up, a
 * read(2) and a writev(2), on whichever thread and CPU the kernel
 * picks.  The kernel's io_uring transport has a queue per CPU and FUSE
 * connection: a request is put in the queue of the CPU it was made on
 * and completes the io_uring command of an entry (a header buffer and a
 * payload buffer pifsd registered for that queue); the command that
 * hands back the reply (COMMIT_AND_FETCH) also waits for the next
 * request.  Measured before the split into one file system per worker
 * (make bench, A/B against -o uring=off): the warm stat walk 2x, 4 KiB
 * golden reads 1.3-2.5x faster; threads pinned to their queue's CPU
 * made the stat walk and the NFS boot replay faster again.
 *
 * The ring set.  One io_uring per CPU queue (not per connection), made
 * at start, with -o threads threads spread over the queues (at least 2
 * each) and pinned to that CPU.  A connection's entries for queue q are
 * all on ring q, whatever file system they belong to: an entry is only
 * a command on a /dev/fuse fd, and a ring holds commands on any number
 * of fds.  Each thread of q waits on ring q (io_uring_enter; the kernel
 * wakes one waiter per completion), takes one completion (cq_lock),
 * serves it as its session's request, and submits the entry's
 * COMMIT_AND_FETCH on the same ring (sq_lock), then waits again.  So
 * 200 workers cost 200 x PIFSD_URING_ENTRIES entries per queue, not
 * threads or rings: the threads are the same whatever the number of
 * file systems.
 *
 * Slow requests.  A thread serving a copy-up, an fsync or a write that
 * waits for a snapshot's pause holds one entry of one worker.  Another
 * request (of any worker) completes its own entry on the shared ring,
 * and any other idle thread of that CPU takes it: no completion waits
 * for a busy thread.  What the kernel does need from a thread is the
 * copy of a request into an entry's buffers: it runs as task work of
 * the thread that submitted the entry's last command.  A busy thread
 * runs its task work whenever it enters or leaves the kernel and while
 * it sleeps interruptibly (a lock, a condition: a snapshot's pause), so
 * only an uninterruptible sleep in the kernel (the disk write an fsync
 * waits for) would delay the entries it submitted: FSYNC and FSYNCDIR
 * run on a thread of their own while the ring thread waits
 * interruptibly (pifsd_uring_blocking); what remains is the short
 * uninterruptible waits inside other requests (a read from disk, the
 * fsync at the end of a copy-up).  The threads that submit commands
 * never end before the ring set does
 * (a command's submitter exiting cancels it: the /dev/fuse pool, whose
 * threads are replaced after a retire, submits nothing here; a new
 * connection's registrations are handed to ring q's threads by
 * kick_fd).  A worker's own requests beyond its entries of one queue
 * wait in the kernel for one of them: each worker has
 * PIFSD_URING_ENTRIES per CPU, so its slow requests hold back its own
 * requests on that CPU only.
 *
 * Entries and memory: uring_conn.c.  FORGETs and INTERRUPTs, requests
 * before a connection's entries are registered, and the notifications
 * pifsd sends stay on /dev/fuse, with the pool (sessions.c), which runs
 * 2 threads when the ring set runs and -o threads otherwise.
 *
 * The kernel offers io_uring only when the fuse module's enable_uring
 * parameter is set (off by default).  Setting it changes nothing for
 * other FUSE file systems (each server asks for it in its own INIT), so
 * pifsd sets it, unless -o uring=off.  If the kernel does not have it,
 * or the rings cannot be made (io_uring disabled), every file system is
 * served by /dev/fuse, as with -o uring=off; a session that cannot get
 * its entries (no memory) asks for nothing and uses /dev/fuse.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uring.h"
#include "util.h"

#define SQ_ENTRIES 64
#define CQ_ENTRIES 1024

__thread struct pifsd_uthr *pifsd_uring_cur;

/* The number of queues the kernel makes: one per possible CPU. */
static unsigned possible_cpus(void)
{
	char buf[256];
	int fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	unsigned max = 0;
	char *p;

	if (fd < 0)
		return (unsigned)sysconf(_SC_NPROCESSORS_CONF);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (unsigned)sysconf(_SC_NPROCESSORS_CONF);
	buf[n] = 0;
	/* "0-3", "0,2-5": the highest number plus one. */
	for (p = buf; *p;) {
		char *e;
		unsigned long v = strtoul(p, &e, 10);

		if (e == p)
			break;
		if (v + 1 > max)
			max = (unsigned)v + 1;
		p = *e ? e + 1 : e;
	}
	return max ? max : 1;
}

/* ---- submitting (any thread of the queue, or the stopping one) ---- */

/* Submit what the SQ holds; with sq_lock held. */
static int enter(struct pifsd_uring_q *q, unsigned wait)
{
	struct io_uring_sq *sq = &q->ring.sq;
	unsigned n;
	int r;

	/* The tail other threads' io_uring_enter calls read too. */
	io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
	sq->sqe_head = sq->sqe_tail;
	n = sq->sqe_tail - io_uring_smp_load_acquire(sq->khead);
	if (!n && !wait)
		return 0;
	do
		r = (int)syscall(__NR_io_uring_enter, q->ring.ring_fd, n, wait,
				 wait ? IORING_ENTER_GETEVENTS : 0, NULL, 0);
	while (r < 0 && errno == EINTR && !wait);
	return r < 0 ? -errno : 0;
}

/* A zeroed 128-byte SQE (SQE128), with sq_lock held; NULL if the ring
 * is full even after submitting what it holds.  (The struct declares 64
 * bytes and a zero-length cmd[]: the pointer is laundered so that the
 * compiler does not take the second half for out of bounds.) */
static struct io_uring_sqe *sqe_get(struct pifsd_uring_q *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	void *p;

	if (!sqe) {
		enter(q, 0);
		sqe = io_uring_get_sqe(&q->ring);
	}
	if (!sqe)
		return NULL;
	p = sqe;
	__asm__("" : "+r"(p));
	memset(p, 0, 2 * sizeof(*sqe));
	return p;
}

static int prep_cmd(struct pifsd_uring_q *q, struct pifsd_uent *e,
		    unsigned op, uint64_t commit)
{
	struct io_uring_sqe *sqe = sqe_get(q);
	struct k_cmd_req *c;

	if (!sqe)
		return -EBUSY;
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = e->c->fd;
	sqe->cmd_op = op;
	sqe->addr = (uint64_t)(uintptr_t)e->reg;
	sqe->len = 2;
	sqe->user_data = (uint64_t)(uintptr_t)e;
	c = (struct k_cmd_req *)sqe->cmd;
	c->commit_id = commit;
	c->qid = (uint16_t)e->qid;
	return 0;
}

/* Queue a command for entry e and submit it: called by the threads of
 * e's queue only (see the top comment: submitters live as long as the
 * ring set). */
int pifsd_uring_submit(struct pifsd_uring_q *q, struct pifsd_uent *e,
		       unsigned op, uint64_t commit)
{
	int r;

	pthread_mutex_lock(&q->sq_lock);
	r = prep_cmd(q, e, op, commit);
	if (r == 0)
		r = enter(q, 0);
	pthread_mutex_unlock(&q->sq_lock);
	return r;
}

/* Entries are waiting in q->pending: wake one of q's threads. */
void pifsd_uring_kick(struct pifsd_uring_q *q)
{
	uint64_t one = 1;

	(void)!write(q->kick_fd, &one, sizeof(one));
}

/* (Re)arm the poll on kick_fd; with sq_lock held. */
static void arm_kick(struct pifsd_uring_q *q)
{
	struct io_uring_sqe *sqe = sqe_get(q);

	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, q->kick_fd, POLLIN);
	sqe->user_data = PIFSD_UD_KICK;
}

/* Register the entries handed to q (init_sent), on q's own thread. */
static void register_pending(struct pifsd_uring_q *q, int rearm)
{
	struct pifsd_uent *list;
	uint64_t v;

	(void)!read(q->kick_fd, &v, sizeof(v));
	pthread_mutex_lock(&q->sq_lock);
	if (rearm)
		arm_kick(q);
	list = q->pending;
	q->pending = NULL;
	for (struct pifsd_uent *e = list, *next; e; e = next) {
		next = e->next;
		e->next = NULL;
		if (prep_cmd(q, e, K_CMD_REGISTER, 0) < 0) {
			pthread_mutex_unlock(&q->sq_lock);
			pifsd_uconn_ent_done(q, e, -EBUSY);
			pthread_mutex_lock(&q->sq_lock);
		}
	}
	enter(q, 0);
	pthread_mutex_unlock(&q->sq_lock);
}

/* ---- the threads ---- */

/* Take one completion of q's ring: 1, or 0 if there is none. */
static int take(struct pifsd_uring_q *q, uint64_t *ud, int *res,
		unsigned *flags)
{
	struct io_uring_cqe *cqe;
	int got = 0;

	pthread_mutex_lock(&q->cq_lock);
	if (io_uring_peek_cqe(&q->ring, &cqe) == 0 && cqe) {
		*ud = cqe->user_data;
		*res = cqe->res;
		*flags = cqe->flags;
		io_uring_cqe_seen(&q->ring, cqe);
		got = 1;
	}
	pthread_mutex_unlock(&q->cq_lock);
	return got;
}

static void *uthr_main(void *arg)
{
	struct pifsd_uthr *t = arg;
	struct pifsd_uring_q *q = t->q;
	cpu_set_t set;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pifsd_uring_cur = t;
	CPU_ZERO(&set);
	CPU_SET(q->qid, &set);
	/* Not allowed there (a cpuset): it still works, across CPUs. */
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	/* Each thread polls kick_fd itself: a poll's wake-up runs as task
	 * work of its submitter, which must be a thread of the ring set
	 * (not the main thread, which may wait uninterruptibly in a mount
	 * of a worker whose requests need these entries). */
	pthread_mutex_lock(&q->sq_lock);
	arm_kick(q);
	enter(q, 0);
	pthread_mutex_unlock(&q->sq_lock);

	for (;;) {
		uint64_t ud;
		unsigned flags;
		int res;

		if (!take(q, &ud, &res, &flags)) {
			int r;

			pthread_mutex_lock(&q->sq_lock);
			/* Waits without the lock: enter() only needs it to
			 * publish the tail, done before the wait. */
			io_uring_smp_store_release(q->ring.sq.ktail,
						   q->ring.sq.sqe_tail);
			q->ring.sq.sqe_head = q->ring.sq.sqe_tail;
			pthread_mutex_unlock(&q->sq_lock);
			r = (int)syscall(__NR_io_uring_enter, q->ring.ring_fd,
					 0, 1, IORING_ENTER_GETEVENTS, NULL, 0);
			if (r < 0 && errno != EINTR && errno != EAGAIN &&
			    errno != EBUSY) {
				pifs_err("io_uring: queue %u: wait: %s", q->qid,
					 strerror(errno));
				break;
			}
			continue;
		}
		if (ud == PIFSD_UD_STOP)
			break;
		if (ud == PIFSD_UD_KICK) {
			register_pending(q, !(flags & IORING_CQE_F_MORE));
			continue;
		}
		if (res < 0) {
			pifs_debug("io_uring: queue %u: entry %d", q->qid, res);
			pifsd_uconn_ent_done(q, (struct pifsd_uent *)ud, res);
			continue;
		}
		pifsd_uconn_serve(t, (struct pifsd_uent *)ud);
		t->served++;
	}
	return NULL;
}

/* ---- uninterruptible waits ---- */

struct blocking {
	int (*fn)(void *);
	void *arg;
	int r;
};

static void *blocking_main(void *p)
{
	struct blocking *b = p;

	b->r = b->fn(b->arg);
	return NULL;
}

/*
 * fn(arg) on a thread of its own while the calling ring thread waits
 * interruptibly (pthread_join), so that the task work of the entries it
 * submitted runs meanwhile (see the top comment): for an fsync, whose
 * disk wait is uninterruptible.  Elsewhere, or without a thread, fn is
 * called here.
 */
int pifsd_uring_blocking(int (*fn)(void *), void *arg)
{
	struct blocking b = { fn, arg, 0 };
	pthread_t th;

	if (!pifsd_uring_cur ||
	    pthread_create(&th, NULL, blocking_main, &b) != 0)
		return fn(arg);
	pthread_join(th, NULL);
	return b.r;
}

/* ---- start and stop ---- */

static int set_enable_uring(struct pifsd *d)
{
	static const char param[] = "/sys/module/fuse/parameters/enable_uring";
	char c = 0;
	int fd = open(param, O_RDWR | O_CLOEXEC);

	(void)d;
	if (fd < 0)
		fd = open(param, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pifs_info("kernel has no FUSE over io_uring: requests by /dev/fuse");
		return -EOPNOTSUPP;
	}
	if (pread(fd, &c, 1, 0) == 1 && c != 'Y') {
		if (pwrite(fd, "Y", 1, 0) == 1) {
			pifs_info("set fuse.enable_uring=Y (FUSE over io_uring; -o uring=off to leave it)");
		} else {
			pifs_info("cannot set fuse.enable_uring: requests by /dev/fuse");
			close(fd);
			return -EPERM;
		}
	}
	close(fd);
	return 0;
}

static void free_rings(struct pifsd_uring *u)
{
	for (unsigned i = 0; u->q && i < u->nq; i++) {
		struct pifsd_uring_q *q = &u->q[i];

		if (q->ring_ok)
			io_uring_queue_exit(&q->ring);
		q->ring_ok = 0;
		if (q->kick_fd >= 0)
			close(q->kick_fd);
		pthread_mutex_destroy(&q->sq_lock);
		pthread_mutex_destroy(&q->cq_lock);
	}
	for (unsigned i = 0; u->thr && i < u->nthr; i++) {
		free(u->thr[i].req);
		pthread_mutex_destroy(&u->thr[i].lock);
		pthread_cond_destroy(&u->thr[i].cond);
	}
	free(u->q);
	free(u->thr);
	u->q = NULL;
	u->thr = NULL;
	u->nq = u->nthr = 0;
}

static int make_rings(struct pifsd *d)
{
	struct pifsd_uring *u = &d->uring;

	u->nq = possible_cpus();
	u->per_q = u->threads / u->nq;
	if (u->per_q < 2)
		u->per_q = 2;
	u->nthr = u->nq * u->per_q;
	u->q = calloc(u->nq, sizeof(*u->q));
	u->thr = calloc(u->nthr, sizeof(*u->thr));
	if (!u->q || !u->thr) {
		free(u->q);
		free(u->thr);
		u->q = NULL;
		u->thr = NULL;
		return -ENOMEM;
	}
	for (unsigned i = 0; i < u->nq; i++) {
		struct pifsd_uring_q *q = &u->q[i];

		q->d = d;
		q->qid = i;
		q->kick_fd = -1;
		pthread_mutex_init(&q->sq_lock, NULL);
		pthread_mutex_init(&q->cq_lock, NULL);
	}
	for (unsigned i = 0; i < u->nthr; i++) {
		struct pifsd_uthr *t = &u->thr[i];

		t->d = d;
		t->q = &u->q[i / u->per_q];
		pthread_mutex_init(&t->lock, NULL);
		pthread_cond_init(&t->cond, NULL);
	}
	for (unsigned i = 0; i < u->nq; i++) {
		struct pifsd_uring_q *q = &u->q[i];
		struct io_uring_params p = {
			.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE,
			.cq_entries = CQ_ENTRIES,
		};
		int r = io_uring_queue_init_params(SQ_ENTRIES, &q->ring, &p);

		if (r < 0)
			return r;
		q->ring_ok = 1;
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick_fd < 0)
			return -errno;
	}
	return 0;
}

/* Post n STOP completions on q (each ends one of its threads). */
static void post_stop(struct pifsd_uring_q *q, unsigned n)
{
	pthread_mutex_lock(&q->sq_lock);
	for (unsigned i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = sqe_get(q);

		if (!sqe)
			break;
		io_uring_prep_nop(sqe);
		sqe->user_data = PIFSD_UD_STOP;
	}
	enter(q, 0);
	pthread_mutex_unlock(&q->sq_lock);
}

int pifsd_uring_prepare(struct pifsd *d)
{
	struct pifsd_uring *u = &d->uring;
	sigset_t all, old;
	int r;

	if (!u->want || set_enable_uring(d) < 0)
		return 0;
	if ((r = make_rings(d)) < 0) {
		pifs_info("cannot make io_uring rings (%s): requests by /dev/fuse",
			  strerror(-r));
		free_rings(u);
		return 0;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < u->nthr; i++) {
		r = pthread_create(&u->thr[i].th, NULL, uthr_main, &u->thr[i]);
		if (r != 0)
			break;
		u->thr[i].started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pifs_info("cannot start io_uring threads (%s): requests by /dev/fuse",
			  strerror(r));
		pifsd_uring_stop(d);
		return 0;
	}
	u->enabled = 1;
	pifs_info("FUSE over io_uring: %u queues, %u threads, %u entries per "
		  "file system and queue", u->nq, u->nthr, PIFSD_URING_ENTRIES);
	return 0;
}

void pifsd_uring_stop(struct pifsd *d)
{
	struct pifsd_uring *u = &d->uring;
	uint64_t served = 0;

	if (!u->thr) {
		pifsd_uconn_free_all(d);
		return;
	}
	__atomic_store_n(&u->stopping, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < u->nq; i++)
		post_stop(&u->q[i], u->per_q);
	for (unsigned i = 0; i < u->nthr; i++)
		if (u->thr[i].started) {
			pthread_join(u->thr[i].th, NULL);
			served += u->thr[i].served;
		}
	if (u->enabled)
		pifs_info("FUSE over io_uring: %llu requests served",
			  (unsigned long long)served);
	u->enabled = 0;
	/* Closing the rings cancels the entries' commands. */
	for (unsigned i = 0; i < u->nq; i++)
		if (u->q[i].ring_ok) {
			io_uring_queue_exit(&u->q[i].ring);
			u->q[i].ring_ok = 0;
		}
	pifsd_uconn_free_all(d);
	free_rings(u);
}
