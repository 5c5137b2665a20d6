/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * uring.c - FUSE over io_uring (kernel 6.14+): requests queued per CPU,
 * fetched and answered by one io_uring command each.
 *
 * With /dev/fuse, each request costs the daemon a read(2) and a
 * writev(2), and wakes whichever thread the kernel picks.  The kernel's
 * io_uring transport (6.14+) has a queue per CPU: a request is put in the
 * queue of the CPU it was made on and completes the io_uring command of
 * a pifsd thread waiting on that queue, whose next command hands back
 * the reply and waits for the next request in one step.  Measured here
 * (make bench, A/B against -o uring=off): 4 KiB reads of golden files
 * through a view 1.3-2.5x faster, the warm stat walk 2x.
 *
 * The threads of a queue are pinned to its CPU.  Measured both ways
 * (make bench, 2 CPUs, two A/B runs each): pinned, the stat walk is
 * 1.4x (cold) and 2.6-3.4x (warm) faster and the NFS boot replay
 * 1.0-1.2x faster; unpinned, sequential 4 KiB reads of golden files are
 * 1.4x faster.  The NFS replay is what a booting worker does.
 *
 * The protocol (include/uapi/linux/fuse.h, 6.14; not in bookworm's
 * headers, so spelled out here): after INIT, whose reply asks for
 * FUSE_OVER_IO_URING, each thread registers one ring entry (a header
 * buffer and a payload buffer) for its CPU's queue with an
 * IORING_OP_URING_CMD on the /dev/fuse fd.  Once every CPU's queue has an
 * entry, the kernel sends requests there instead of /dev/fuse: it fills
 * an entry's header (the request header, the operation's first argument)
 * and payload (the rest), and completes that thread's command.  The
 * thread rebuilds the request as libfuse expects it, lets libfuse
 * dispatch it (fuse_session_process_buf), catches the reply in the
 * session's writev or splice hook, and hands it back with
 * COMMIT_AND_FETCH, which also waits for the next request.  FORGETs and
 * INTERRUPTs, and the notifications pifsd sends, stay on /dev/fuse, with
 * the usual loop.
 *
 * One entry per thread, so a thread blocked in a slow request (a copy-up,
 * an fsync, a write waiting for a snapshot's pause) holds only its own
 * entry: the kernel gives the next request to another idle entry of the
 * same CPU, or queues it until one is free.
 *
 * Only the top file system (tftpboot/, nfsroot/) is served this way: a
 * ring entry belongs to one FUSE connection and each queue needs its own
 * threads, so rings per worker file system would be threads and payload
 * buffers per worker and CPU (sessions.c serves the workers' file
 * systems from one shared pool over /dev/fuse instead).
 *
 * The kernel offers io_uring only when the fuse module's enable_uring
 * parameter is set (off by default).  Setting it changes nothing for
 * other FUSE file systems (each server asks for it in its own INIT), so
 * pifsd sets it, unless -o uring=off.  If the kernel does not offer it,
 * or a ring cannot be made, pifsd serves /dev/fuse as before.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kabi.h"
#include "pifsd.h"
#include "util.h"

/* The room in front of the payload where a FUSE_WRITE's header and
 * first argument are put back, so libfuse sees one buffer without the
 * data being copied. */
#define PREFIX (sizeof(struct k_in_header) + K_URING_OP_SZ)

enum { UD_CMD = 1, UD_STOP = 2 };

struct pifsd_uthr {
	struct pifsd *d;
	pthread_t th;
	int started;
	unsigned qid;
	struct io_uring ring;
	int ring_ok;
	struct k_req_header *hdr;
	char *area;    /* mmap: PREFIX bytes, then the payload */
	char *payload; /* area + PREFIX */
	char *req;     /* a copy of other requests (names live in them) */
	struct iovec reg[2];
	/* The request being served: its reply, from whichever thread. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t unique; /* 0: none; read unlocked by the hooks */
	int replied;
	uint64_t served; /* this thread's own count */
};

static __thread struct pifsd_uthr *cur;

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

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

int pifsd_uring_prepare(struct pifsd *d)
{
	static const char param[] = "/sys/module/fuse/parameters/enable_uring";
	char c = 0;
	int fd;

	if (!d->uring.want)
		return 0;
	fd = open(param, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fd = open(param, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pifs_info("kernel has no FUSE over io_uring: requests by /dev/fuse");
		d->uring.want = 0;
		return 0;
	}
	if (pread(fd, &c, 1, 0) == 1 && c != 'Y') {
		if (pwrite(fd, "Y", 1, 0) == 1)
			pifs_info("set fuse.enable_uring=Y (FUSE over io_uring; -o uring=off to leave it)");
		else {
			pifs_info("cannot set fuse.enable_uring: requests by /dev/fuse");
			d->uring.want = 0;
		}
	}
	close(fd);
	return 0;
}

void pifsd_uring_note_init(struct pifsd *d, const struct k_init_in *in)
{
	d->uring.offered = d->uring.want && in->major == 7 &&
			   in->minor >= 42 && (in->flags & K_FUSE_INIT_EXT) &&
			   (in->flags2 & K_FUSE_OVER_IO_URING_FLAGS2);
}

static void *uthr_main(void *arg);

static void uthr_free(struct pifsd_uthr *t)
{
	if (t->ring_ok)
		io_uring_queue_exit(&t->ring);
	t->ring_ok = 0;
	if (t->area)
		munmap(t->area, PREFIX + t->d->uring.payload_sz);
	if (t->hdr)
		munmap(t->hdr, sizeof(*t->hdr));
	free(t->req);
	t->area = t->req = NULL;
	t->hdr = NULL;
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
}

static void free_all(struct pifsd_uring *u)
{
	for (unsigned i = 0; i < u->nthr; i++)
		uthr_free(&u->thr[i]);
	free(u->thr);
	u->thr = NULL;
	u->nthr = 0;
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	u->stop_fd = -1;
}

/* Called with libfuse's INIT reply, before it is written: make every
 * ring and buffer now, so that the kernel is only asked for io_uring when
 * each queue will surely get its entries (once asked, it holds every
 * request until they are all there). */
int pifsd_uring_init_reply(struct pifsd *d, struct k_init_out *o)
{
	struct pifsd_uring *u = &d->uring;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), psz;
	uint16_t max_pages = o->max_pages;
	unsigned per;

	if (!u->offered)
		return 0;
	psz = o->max_write;
	if (!(o->flags & K_FUSE_MAX_PAGES))
		max_pages = 32; /* the kernel's default */
	if ((size_t)max_pages * pg > psz)
		psz = (size_t)max_pages * pg;
	if (psz < 8192)
		psz = 8192;
	u->payload_sz = page_round(psz);
	u->nq = possible_cpus();
	per = u->threads / u->nq;
	if (per < 2)
		per = 2;
	u->nthr = u->nq * per;
	u->stop_fd = eventfd(0, EFD_CLOEXEC);
	u->thr = calloc(u->nthr, sizeof(*u->thr));
	if (u->stop_fd < 0 || !u->thr)
		goto fail;
	for (unsigned i = 0; i < u->nthr; i++) {
		struct pifsd_uthr *t = &u->thr[i];
		struct io_uring_params p = { .flags = IORING_SETUP_SQE128 };
		int r;

		t->d = d;
		t->qid = i % u->nq;
		pthread_mutex_init(&t->lock, NULL);
		pthread_cond_init(&t->cond, NULL);
		t->hdr = mmap(NULL, sizeof(*t->hdr), PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		t->area = mmap(NULL, PREFIX + u->payload_sz,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t->hdr == MAP_FAILED || t->area == MAP_FAILED) {
			t->hdr = t->hdr == MAP_FAILED ? NULL : t->hdr;
			t->area = t->area == MAP_FAILED ? NULL : t->area;
			errno = ENOMEM;
			goto fail;
		}
		t->payload = t->area + PREFIX;
		if (!(t->req = malloc(PREFIX + u->payload_sz)))
			goto fail;
		r = io_uring_queue_init_params(4, &t->ring, &p);
		if (r < 0) {
			errno = -r;
			goto fail;
		}
		t->ring_ok = 1;
		t->reg[0] = (struct iovec){ t->hdr, sizeof(*t->hdr) };
		t->reg[1] = (struct iovec){ t->payload, u->payload_sz };
	}
	/* The threads start now, and register their entries as soon as
	 * the kernel has taken the INIT reply (-EAGAIN until then): if one
	 * cannot start, the kernel is not asked. */
	u->enabled = 1;
	for (unsigned i = 0; i < u->nthr; i++) {
		struct pifsd_uthr *t = &u->thr[i];
		int r = pthread_create(&t->th, NULL, uthr_main, t);

		if (r != 0) {
			u->enabled = 0;
			pifsd_uring_stop(d);
			pifs_info("cannot start io_uring threads (%s): requests by /dev/fuse",
				  strerror(r));
			return 0;
		}
		t->started = 1;
	}
	o->flags |= K_FUSE_INIT_EXT;
	o->flags2 |= K_FUSE_OVER_IO_URING_FLAGS2;
	pifs_info("FUSE over io_uring: %u queues, %u threads", u->nq, u->nthr);
	return 0;
fail:
	pifs_info("cannot make io_uring rings (%s): requests by /dev/fuse",
		  strerror(errno));
	free_all(u);
	return 0;
}

/* A zeroed 128-byte SQE (SQE128), or NULL if the ring is full even after
 * submitting what it holds.  (The struct declares 64 bytes and a
 * zero-length cmd[]: the pointer is laundered so that the compiler does
 * not take the second half for out of bounds.) */
static struct io_uring_sqe *sqe_get(struct pifsd_uthr *t)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	void *p;

	if (!sqe) {
		io_uring_submit(&t->ring);
		sqe = io_uring_get_sqe(&t->ring);
	}
	if (!sqe)
		return NULL;
	p = sqe;
	__asm__("" : "+r"(p));
	memset(p, 0, 2 * sizeof(*sqe));
	return p;
}

static int prep_cmd(struct pifsd_uthr *t, unsigned op, uint64_t commit)
{
	struct io_uring_sqe *sqe = sqe_get(t);
	struct k_cmd_req *c;

	if (!sqe)
		return -EBUSY;
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = t->d->top->fd;
	sqe->cmd_op = op;
	sqe->addr = (uint64_t)(uintptr_t)t->reg;
	sqe->len = 2;
	sqe->user_data = UD_CMD;
	c = (struct k_cmd_req *)sqe->cmd;
	c->commit_id = commit;
	c->qid = (uint16_t)t->qid;
	return 0;
}

/* Hand the request in t's entry to libfuse; wait for its reply. */
static void serve(struct pifsd_uthr *t)
{
	const struct k_in_header *ih = (const void *)t->hdr->in_out;
	struct k_in_header h = *ih;
	uint32_t psz = t->hdr->ent.payload_sz;
	struct fuse_buf fb = { 0 };
	size_t arg0;
	char *start;

	if (h.len < sizeof(h) + psz || psz > t->d->uring.payload_sz ||
	    (arg0 = h.len - sizeof(h) - psz) > K_URING_OP_SZ) {
		pifs_err("io_uring: malformed request (opcode %u, len %u, payload %u)",
			 h.opcode, h.len, psz);
		struct k_out_header *oh = (void *)t->hdr->in_out;

		oh->len = sizeof(*oh);
		oh->error = -EIO;
		oh->unique = h.unique;
		t->hdr->ent.payload_sz = 0;
		return;
	}
	if (h.opcode == K_FUSE_WRITE) {
		/* The data is consumed before the reply overwrites it. */
		start = t->payload - arg0 - sizeof(h);
	} else {
		/* Other handlers may still read their names after replying,
		 * and the reply lands in the payload: a copy. */
		start = t->req;
		memcpy(start + sizeof(h) + arg0, t->payload, psz);
	}
	memcpy(start, &h, sizeof(h));
	memcpy(start + sizeof(h), t->hdr->op_in, arg0);
	fb.mem = start;
	fb.size = h.len;

	pthread_mutex_lock(&t->lock);
	t->replied = 0;
	__atomic_store_n(&t->unique, h.unique, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->lock);

	fuse_session_process_buf(t->d->top->se, &fb);

	pthread_mutex_lock(&t->lock);
	while (!t->replied)
		pthread_cond_wait(&t->cond, &t->lock);
	__atomic_store_n(&t->unique, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->lock);
}

static void *uthr_main(void *arg)
{
	struct pifsd_uthr *t = arg;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	cpu_set_t set;
	sigset_t all;
	unsigned tries = 0;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	cur = t;
	CPU_ZERO(&set);
	CPU_SET(t->qid, &set);
	/* Not allowed there (a cpuset): it still works, across CPUs. */
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);

	if (!(sqe = sqe_get(t)))
		return NULL;
	io_uring_prep_poll_add(sqe, t->d->uring.stop_fd, POLLIN);
	sqe->user_data = UD_STOP;
	if (prep_cmd(t, K_CMD_REGISTER, 0) < 0)
		return NULL;
	for (;;) {
		r = io_uring_submit_and_wait(&t->ring, 1);
		if (r < 0 && r != -EINTR) {
			pifs_err("io_uring: submit: %s", strerror(-r));
			break;
		}
		if (io_uring_peek_cqe(&t->ring, &cqe) != 0)
			continue;
		uint64_t ud = cqe->user_data;
		int res = cqe->res;

		io_uring_cqe_seen(&t->ring, cqe);
		if (ud == UD_STOP)
			break;
		if (res == -EAGAIN && tries++ < 5000) {
			/* The kernel has not taken the INIT reply yet. */
			usleep(1000);
			if (prep_cmd(t, K_CMD_REGISTER, 0) < 0)
				break;
			continue;
		}
		if (res < 0) {
			/* -ENOTCONN: unmounted; others: the kernel gave up
			 * on io_uring and uses /dev/fuse. */
			if (res != -ENOTCONN && res != -ECANCELED)
				pifs_err("io_uring: queue %u: %s", t->qid,
					 strerror(-res));
			break;
		}
		serve(t);
		t->served++;
		if (prep_cmd(t, K_CMD_COMMIT_AND_FETCH, t->hdr->ent.commit_id) < 0) {
			pifs_err("io_uring: queue %u: no room to commit", t->qid);
			break;
		}
	}
	return NULL;
}

void pifsd_uring_stop(struct pifsd *d)
{
	struct pifsd_uring *u = &d->uring;
	uint64_t one = 1, served = 0;

	if (!u->thr)
		return;
	if (u->stop_fd >= 0)
		(void)!write(u->stop_fd, &one, sizeof(one));
	for (unsigned i = 0; i < u->nthr; i++)
		if (u->thr[i].started) {
			pthread_join(u->thr[i].th, NULL);
			served += u->thr[i].served;
		}
	if (u->enabled)
		pifs_info("FUSE over io_uring: %llu requests served",
			  (unsigned long long)served);
	free_all(u);
}

/* The entry whose request has this id, or NULL (a /dev/fuse request, a
 * notification).  Mostly the calling thread's own. */
static struct pifsd_uthr *owner(struct pifsd *d, uint64_t unique)
{
	if (!unique)
		return NULL;
	if (cur && __atomic_load_n(&cur->unique, __ATOMIC_ACQUIRE) == unique)
		return cur;
	for (unsigned i = 0; i < d->uring.nthr; i++)
		if (__atomic_load_n(&d->uring.thr[i].unique, __ATOMIC_ACQUIRE) ==
		    unique)
			return &d->uring.thr[i];
	return NULL;
}

static void done(struct pifsd_uthr *t, int32_t error, uint64_t unique,
		 size_t psz)
{
	struct k_out_header *oh = (void *)t->hdr->in_out;

	oh->len = (uint32_t)(sizeof(*oh) + psz);
	oh->error = error;
	oh->unique = unique;
	t->hdr->ent.payload_sz = (uint32_t)psz;
	t->replied = 1;
	pthread_cond_signal(&t->cond);
}

int pifsd_uring_writev(struct pifsd *d, const struct iovec *iov, int count,
		       ssize_t *res)
{
	const struct k_out_header *oh;
	struct pifsd_uthr *t;
	size_t total = 0, off = 0;

	if (!d->uring.enabled || count < 1 ||
	    iov[0].iov_len < sizeof(struct k_out_header))
		return 0;
	oh = iov[0].iov_base;
	if (!(t = owner(d, oh->unique)))
		return 0;
	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	pthread_mutex_lock(&t->lock);
	if (total - sizeof(*oh) > d->uring.payload_sz) {
		done(t, -EIO, oh->unique, 0);
	} else {
		/* The header's first iov may carry data after it. */
		for (int i = 0; i < count; i++) {
			const char *b = iov[i].iov_base;
			size_t l = iov[i].iov_len;

			if (i == 0) {
				b += sizeof(*oh);
				l -= sizeof(*oh);
			}
			if (l && b != t->payload + off)
				memcpy(t->payload + off, b, l);
			off += l;
		}
		done(t, oh->error, oh->unique, off);
	}
	pthread_mutex_unlock(&t->lock);
	*res = (ssize_t)total;
	return 1;
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, (char *)buf + got, len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

int pifsd_uring_splice(struct pifsd *d, int pipe_fd, int fuse_fd, size_t len,
		       ssize_t *res)
{
	struct k_out_header oh;
	struct pifsd_uthr *t = cur;
	int ok;

	/* libfuse splices a reply only from the request's own thread. */
	if (!d->uring.enabled || !t ||
	    !__atomic_load_n(&t->unique, __ATOMIC_ACQUIRE) || len < sizeof(oh))
		return 0;
	if (read_full(pipe_fd, &oh, sizeof(oh)) < 0)
		return 0; /* an empty pipe: libfuse's own error path */
	if (oh.unique != t->unique || len - sizeof(oh) > d->uring.payload_sz) {
		/* A notification, or too big: to /dev/fuse, as it was. */
		char *b = malloc(len);

		if (!b || read_full(pipe_fd, b + sizeof(oh), len - sizeof(oh)) < 0) {
			free(b);
			errno = EIO;
			*res = -1;
			return 1;
		}
		memcpy(b, &oh, sizeof(oh));
		*res = write(fuse_fd, b, len);
		free(b);
		return 1;
	}
	ok = read_full(pipe_fd, t->payload, len - sizeof(oh)) == 0;
	pthread_mutex_lock(&t->lock);
	if (ok)
		done(t, oh.error, oh.unique, len - sizeof(oh));
	else
		done(t, -EIO, oh.unique, 0);
	pthread_mutex_unlock(&t->lock);
	*res = (ssize_t)len;
	return 1;
}

void *pifsd_uring_buf(size_t size)
{
	struct pifsd_uthr *t = cur;

	if (!t || !__atomic_load_n(&t->unique, __ATOMIC_RELAXED) ||
	    size > t->d->uring.payload_sz)
		return NULL;
	return t->payload;
}
