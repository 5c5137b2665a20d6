/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * uring_conn.c - the ring entries of one FUSE connection (a session
 * pifsd serves: the top or a worker's file system), from its INIT to
 * its release, and how a request in an entry is served.
 *
 * The protocol (include/uapi/linux/fuse.h, 6.14; not in bookworm's
 * headers, so spelled out in kabi.h): the INIT request offers
 * FUSE_OVER_IO_URING, and the reply asks for it.  pifsd then registers
 * PIFSD_URING_ENTRIES entries per CPU queue with an IORING_OP_URING_CMD
 * on the session's /dev/fuse fd each (a header buffer, a payload
 * buffer).  The kernel holds the connection's requests until every
 * queue has an entry, then sends each request to an idle entry of its
 * CPU's queue, or queues it there until one is committed again (it
 * never borrows another queue's); FORGETs, INTERRUPTs and pifsd's
 * notifications stay on /dev/fuse.  The thread that takes the
 * completion rebuilds the request as libfuse expects it, lets libfuse
 * dispatch it (fuse_session_process_buf), catches the reply in the
 * session's writev or splice hook, and hands it back with
 * COMMIT_AND_FETCH.
 *
 * Release.  At unmount (or abort) the kernel ends the entries waiting
 * for a request with -ENOTCONN, and refuses the commit of one being
 * served; pifsd serves nothing of a retired session (the reply is
 * ENOTCONN).  A command names the connection by fd, so each connection
 * has its own duplicate of the session's fd, closed only when the last
 * entry is released: a retired session's fd number, reused by a new
 * session, can never receive a stale commit.  A session that is still
 * held after it was detached (an NFS server has a file of a removed
 * worker open) keeps its entries until the kernel lets go of it.
 *
 * Memory.  A payload must hold the biggest request or reply of the
 * connection (max_write, max_pages: 1 MiB with libfuse's defaults), but
 * most requests use a page or two of it.  Payloads are anonymous
 * mappings, MAP_NORESERVE, touched only as far as requests and replies
 * reach, so 200 workers x 2 CPUs x 2 entries (800 MiB of address space)
 * cost what they use.  After a request or reply bigger than KEEP, the
 * pages past KEEP stay (a worker streaming a file reuses them) while
 * all entries together keep at most KEPT_MAX such bytes; past that the
 * entry just served gives them back (MADV_DONTNEED).  A smaller
 * max_write for workers would bound each entry too, but costs every big
 * write (an NFS server's wsize is 1 MiB) 8 requests instead of one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uring.h"
#include "util.h"

#define KEEP (16u << 10)
#define KEPT_MAX ((size_t)16 << 20)

#define PREFIX PIFSD_URING_PREFIX

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

static const char *sb_name(const struct pifsd_sb *sb)
{
	return sb->view ? sb->view->name : "the top";
}

/* ---- the INIT exchange (a pool thread, before the session is served
 * by anything else) ---- */

void pifsd_uring_note_init(struct pifsd_sb *sb, const struct k_init_in *in)
{
	sb->uring_offered = sb->d->uring.enabled && in->major == 7 &&
			    in->minor >= 42 && (in->flags & K_FUSE_INIT_EXT) &&
			    (in->flags2 & K_FUSE_OVER_IO_URING_FLAGS2);
}

/* Free what a connection holds but its struct (kept until stop). */
static void release(struct pifsd_uconn *c)
{
	for (unsigned i = 0; c->ent && i < c->nent; i++)
		if (c->ent[i].area)
			munmap(c->ent[i].area, PREFIX + c->payload_sz);
	free(c->ent);
	free(c->hdrs);
	c->ent = NULL;
	c->hdrs = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Make the connection's entries; with the INIT reply, before it is
 * written: io_uring is asked for only when they exist. */
void pifsd_uring_init_reply(struct pifsd_sb *sb, struct k_init_out *o)
{
	struct pifsd *d = sb->d;
	struct pifsd_uring *u = &d->uring;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), psz;
	uint16_t max_pages = o->max_pages;
	struct pifsd_uconn *c;

	if (!sb->uring_offered || __atomic_load_n(&u->stopping, __ATOMIC_ACQUIRE))
		return;
	/* What the kernel requires (fuse_uring_create): */
	psz = o->max_write;
	if (!(o->flags & K_FUSE_MAX_PAGES))
		max_pages = 32; /* the kernel's default */
	if ((size_t)max_pages * pg > psz)
		psz = (size_t)max_pages * pg;
	if (psz < 8192)
		psz = 8192;
	if (!(c = calloc(1, sizeof(*c))))
		goto fail;
	c->sb = sb;
	c->fd = -1;
	c->payload_sz = page_round(psz);
	c->nent = u->nq * PIFSD_URING_ENTRIES;
	c->ent = calloc(c->nent, sizeof(*c->ent));
	c->hdrs = calloc(c->nent, sizeof(*c->hdrs));
	if (!c->ent || !c->hdrs || (c->fd = fcntl(sb->fd, F_DUPFD_CLOEXEC, 3)) < 0)
		goto fail_c;
	for (unsigned i = 0; i < c->nent; i++) {
		struct pifsd_uent *e = &c->ent[i];

		e->c = c;
		e->qid = i / PIFSD_URING_ENTRIES;
		e->hdr = &c->hdrs[i];
		e->area = mmap(NULL, PREFIX + c->payload_sz,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			       0);
		if (e->area == MAP_FAILED) {
			e->area = NULL;
			goto fail_c;
		}
		e->payload = e->area + PREFIX;
		e->reg[0] = (struct iovec){ e->hdr, sizeof(*e->hdr) };
		e->reg[1] = (struct iovec){ e->payload, c->payload_sz };
	}
	c->live = c->nent;
	sb->uc = c;
	pthread_mutex_lock(&u->conns_lock);
	c->next = u->conns;
	u->conns = c;
	pthread_mutex_unlock(&u->conns_lock);
	o->flags |= K_FUSE_INIT_EXT;
	o->flags2 |= K_FUSE_OVER_IO_URING_FLAGS2;
	return;
fail_c:
	release(c);
	free(c);
fail:
	pifs_warn("%s: no memory for io_uring entries: requests by /dev/fuse",
		  sb_name(sb));
}

/* The kernel has the INIT reply (ok) or not: hand the entries to the
 * threads of their queues, which register them (their submitter must
 * outlive them: not this pool thread). */
void pifsd_uring_init_sent(struct pifsd_sb *sb, int ok)
{
	struct pifsd_uring *u = &sb->d->uring;
	struct pifsd_uconn *c = sb->uc;

	if (!c)
		return;
	if (!ok) {
		/* No INIT, no connection: nothing was registered. */
		__atomic_store_n(&c->live, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&c->retired, 1, __ATOMIC_RELEASE);
		release(c);
		return;
	}
	for (unsigned qi = 0; qi < u->nq; qi++) {
		struct pifsd_uring_q *q = &u->q[qi];

		pthread_mutex_lock(&q->sq_lock);
		for (unsigned i = 0; i < c->nent; i++)
			if (c->ent[i].qid == qi) {
				c->ent[i].next = q->pending;
				q->pending = &c->ent[i];
			}
		pthread_mutex_unlock(&q->sq_lock);
		pifsd_uring_kick(q);
	}
	pifs_info("%s: FUSE over io_uring, %u entries", sb_name(sb), c->nent);
}

/* ---- entries ending ---- */

void pifsd_uconn_ent_done(struct pifsd_uring_q *q, struct pifsd_uent *e,
			  int res)
{
	struct pifsd_uconn *c = e->c;

	if (res == -EAGAIN && e->tries++ < 1000) {
		/* The kernel has not taken the INIT reply yet. */
		usleep(1000);
		pthread_mutex_lock(&q->sq_lock);
		e->next = q->pending;
		q->pending = e;
		pthread_mutex_unlock(&q->sq_lock);
		pifsd_uring_kick(q);
		return;
	}
	if (res != -ENOTCONN && res != -ECONNABORTED && res != -ECANCELED &&
	    !__atomic_load_n(&c->retired, __ATOMIC_ACQUIRE))
		pifs_err("io_uring: %s, queue %u: %s", sb_name(c->sb), e->qid,
			 strerror(-res));
	e->dead = 1;
	/* The last one of a retired session takes its buffers and fd. */
	if (__atomic_sub_fetch(&c->live, 1, __ATOMIC_ACQ_REL) == 0 &&
	    __atomic_load_n(&c->retired, __ATOMIC_ACQUIRE))
		release(c);
}

void pifsd_uring_retire(struct pifsd_sb *sb)
{
	struct pifsd_uconn *c = sb->uc;
	unsigned long long ring = c ? __atomic_load_n(&c->served,
						      __ATOMIC_RELAXED) : 0;

	pifs_info("%s: %llu requests by io_uring, %llu by /dev/fuse",
		  sb_name(sb), ring,
		  (unsigned long long)__atomic_load_n(&sb->dev_served,
						      __ATOMIC_RELAXED));
	if (!c || __atomic_exchange_n(&c->retired, 1, __ATOMIC_ACQ_REL))
		return;
	if (__atomic_load_n(&c->live, __ATOMIC_ACQUIRE) == 0)
		release(c);
}

void pifsd_uconn_free_all(struct pifsd *d)
{
	struct pifsd_uring *u = &d->uring;

	pthread_mutex_lock(&u->conns_lock);
	while (u->conns) {
		struct pifsd_uconn *c = u->conns;

		u->conns = c->next;
		release(c);
		c->sb->uc = NULL;
		free(c);
	}
	pthread_mutex_unlock(&u->conns_lock);
}

/* ---- serving ---- */

static void reply_err(struct pifsd_uent *e, uint64_t unique, int err)
{
	struct k_out_header *oh = (void *)e->hdr->in_out;

	oh->len = sizeof(*oh);
	oh->error = -err;
	oh->unique = unique;
	e->hdr->ent.payload_sz = 0;
}

/* Give back what a big request or reply made resident (see the top). */
static void trim(struct pifsd *d, struct pifsd_uent *e, size_t used)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), was = e->resident, kept;

	if (used <= KEEP && !was)
		return;
	if (used > KEEP)
		used -= KEEP;
	else
		used = 0;
	if (used > was) {
		e->resident = used;
		kept = __atomic_add_fetch(&d->uring.kept, used - was,
					  __ATOMIC_RELAXED);
	} else {
		kept = __atomic_load_n(&d->uring.kept, __ATOMIC_RELAXED);
	}
	if (kept <= KEPT_MAX)
		return;
	{
		char *from = (char *)(((uintptr_t)e->payload + KEEP + pg - 1) /
				      pg * pg);
		char *end = e->payload + e->c->payload_sz;

		if (from < end)
			madvise(from, (size_t)(end - from), MADV_DONTNEED);
	}
	__atomic_sub_fetch(&d->uring.kept, e->resident, __ATOMIC_RELAXED);
	e->resident = 0;
}

/* Hand the request in e to libfuse, on thread t; wait for its reply
 * (made in the hooks, by t or another thread); commit it. */
void pifsd_uconn_serve(struct pifsd_uthr *t, struct pifsd_uent *e)
{
	struct pifsd_uconn *c = e->c;
	struct pifsd_sb *sb = c->sb;
	struct pifsd *d = t->d;
	const struct k_in_header *ih = (const void *)e->hdr->in_out;
	struct k_in_header h = *ih;
	uint32_t psz = e->hdr->ent.payload_sz;
	struct fuse_buf fb = { 0 };
	size_t arg0;
	char *start;
	int live;

	pthread_mutex_lock(&d->sb_lock);
	live = sb->state == PIFSD_SB_LIVE;
	if (live)
		sb->busy++;
	pthread_mutex_unlock(&d->sb_lock);
	if (!live) {
		reply_err(e, h.unique, ENOTCONN);
		goto commit;
	}
	if (h.len < sizeof(h) + psz || psz > c->payload_sz ||
	    (arg0 = h.len - sizeof(h) - psz) > K_URING_OP_SZ) {
		pifs_err("io_uring: malformed request (opcode %u, len %u, payload %u)",
			 h.opcode, h.len, psz);
		reply_err(e, h.unique, EIO);
		goto put;
	}
	if (h.opcode == K_FUSE_WRITE) {
		/* The data is consumed before the reply overwrites it. */
		start = e->payload - arg0 - sizeof(h);
	} else {
		/* Other handlers may still read their names after replying,
		 * and the reply lands in the payload: a copy. */
		if (t->req_cap < h.len) {
			char *n = realloc(t->req, h.len);

			if (!n) {
				reply_err(e, h.unique, ENOMEM);
				goto put;
			}
			t->req = n;
			t->req_cap = h.len;
		}
		start = t->req;
		memcpy(start + sizeof(h) + arg0, e->payload, psz);
	}
	memcpy(start, &h, sizeof(h));
	memcpy(start + sizeof(h), e->hdr->op_in, arg0);
	fb.mem = start;
	fb.size = h.len;

	pthread_mutex_lock(&t->lock);
	t->e = e;
	t->replied = 0;
	__atomic_store_n(&t->unique, h.unique, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->lock);

	fuse_session_process_buf(sb->se, &fb);

	pthread_mutex_lock(&t->lock);
	while (!t->replied)
		pthread_cond_wait(&t->cond, &t->lock);
	__atomic_store_n(&t->unique, 0, __ATOMIC_RELEASE);
	t->e = NULL;
	pthread_mutex_unlock(&t->lock);
	__atomic_add_fetch(&c->served, 1, __ATOMIC_RELAXED);
put:
	pthread_mutex_lock(&d->sb_lock);
	if (!--sb->busy)
		pthread_cond_broadcast(&d->sb_idle);
	pthread_mutex_unlock(&d->sb_lock);
commit:
	trim(d, e, psz > e->hdr->ent.payload_sz ? psz : e->hdr->ent.payload_sz);
	if (pifsd_uring_submit(t->q, e, K_CMD_COMMIT_AND_FETCH,
			       e->hdr->ent.commit_id) < 0)
		pifsd_uconn_ent_done(t->q, e, -EBUSY);
}

/* ---- replies (the session hooks) ---- */

/* The thread serving the request of sb with this id, or NULL (a
 * /dev/fuse request, a notification).  Mostly the calling thread. */
static struct pifsd_uthr *owner(struct pifsd_sb *sb, uint64_t unique)
{
	struct pifsd_uring *u = &sb->d->uring;
	struct pifsd_uthr *t = pifsd_uring_cur;

	if (!unique || !sb->uc)
		return NULL;
	if (t && __atomic_load_n(&t->unique, __ATOMIC_ACQUIRE) == unique &&
	    t->e && t->e->c->sb == sb)
		return t;
	for (unsigned i = 0; i < u->nthr; i++) {
		t = &u->thr[i];
		if (__atomic_load_n(&t->unique, __ATOMIC_ACQUIRE) != unique)
			continue;
		pthread_mutex_lock(&t->lock);
		if (t->unique == unique && t->e && t->e->c->sb == sb &&
		    !t->replied) {
			pthread_mutex_unlock(&t->lock);
			return t;
		}
		pthread_mutex_unlock(&t->lock);
	}
	return NULL;
}

/* With t->lock held. */
static void done(struct pifsd_uthr *t, int32_t error, uint64_t unique,
		 size_t psz)
{
	struct k_out_header *oh = (void *)t->e->hdr->in_out;

	oh->len = (uint32_t)(sizeof(*oh) + psz);
	oh->error = error;
	oh->unique = unique;
	t->e->hdr->ent.payload_sz = (uint32_t)psz;
	t->replied = 1;
	pthread_cond_signal(&t->cond);
}

int pifsd_uring_writev(struct pifsd_sb *sb, const struct iovec *iov,
		       int count, ssize_t *res)
{
	const struct k_out_header *oh;
	struct pifsd_uthr *t;
	size_t total = 0, off = 0;

	if (!sb->uc || count < 1 || iov[0].iov_len < sizeof(*oh))
		return 0;
	oh = iov[0].iov_base;
	if (!(t = owner(sb, oh->unique)))
		return 0;
	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	pthread_mutex_lock(&t->lock);
	if (total - sizeof(*oh) > sb->uc->payload_sz) {
		done(t, -EIO, oh->unique, 0);
	} else {
		char *payload = t->e->payload;

		/* The header's first iov may carry data after it. */
		for (int i = 0; i < count; i++) {
			const char *b = iov[i].iov_base;
			size_t l = iov[i].iov_len;

			if (i == 0) {
				b += sizeof(*oh);
				l -= sizeof(*oh);
			}
			if (l && b != payload + off)
				memcpy(payload + off, b, l);
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

int pifsd_uring_splice(struct pifsd_sb *sb, int pipe_fd, int fuse_fd,
		       size_t len, ssize_t *res)
{
	struct k_out_header oh;
	struct pifsd_uthr *t = pifsd_uring_cur;
	int ok;

	/* libfuse splices a reply only from the request's own thread. */
	if (!sb->uc || !t || !t->e || t->e->c->sb != sb ||
	    !__atomic_load_n(&t->unique, __ATOMIC_ACQUIRE) || len < sizeof(oh))
		return 0;
	if (read_full(pipe_fd, &oh, sizeof(oh)) < 0)
		return 0; /* an empty pipe: libfuse's own error path */
	if (oh.unique != t->unique || len - sizeof(oh) > sb->uc->payload_sz) {
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
	ok = read_full(pipe_fd, t->e->payload, len - sizeof(oh)) == 0;
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
	struct pifsd_uthr *t = pifsd_uring_cur;

	if (!t || !t->e || !__atomic_load_n(&t->unique, __ATOMIC_RELAXED) ||
	    size > t->e->c->payload_sz)
		return NULL;
	return t->e->payload;
}
