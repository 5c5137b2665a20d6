/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sessions.c - the FUSE file systems pifsd serves, and the one pool of
 * threads that serves them all.
 *
 * Each worker's view is a file system of its own, mounted by pifsd at
 * MOUNTPOINT/nfsroot/<worker>: its own FUSE session and superblock, whose
 * node id 1 is the view's root.  The top file system at MOUNTPOINT holds
 * nfsroot/ (a read-only mount point per worker) and tftpboot/ (read-only,
 * what dnsmasq serves).  Why: an NFS file handle is just bytes a worker
 * sends.  When every view was one file system, a handle with another
 * view's node id, or a small one (the mount root), was a handle of the
 * exported file system, and both NFS servers (the kernel's nfsd with
 * no_subtree_check, and NFS-Ganesha) opened it.  Now a handle names a
 * file of the one file system its export is on: the kernel resolves a
 * node id only within a superblock (its inode cache is per superblock,
 * and a node id it does not hold comes to pifsd as LOOKUP(id, ".") on
 * that session), and pifsd answers a session only with its own view's
 * nodes (pifsd_sb_node, and every reply that names a node:
 * pifsd_sb_owns).  Nothing above a worker's root exists in its file
 * system: ".." of the root is the root.
 *
 * Every session is served by the same threads, whatever their number.
 * Where the kernel has FUSE over io_uring, a session's requests come
 * through the one ring set (uring.c: a ring per CPU queue, shared by
 * every session, a few entries per session and queue), and /dev/fuse
 * carries only its INIT, FORGETs and INTERRUPTs.  The pool here serves
 * /dev/fuse: each thread waits in epoll on every session's /dev/fuse fd
 * (non-blocking, armed one-shot so that one request wakes one thread),
 * reads one request, re-arms the fd for the next thread and processes
 * the request.  So 200 workers cost a few fds each (the session's, its
 * entries' duplicate), not 200 thread pools or rings; a thread is a
 * thread of any view.
 *
 * Lifetime: a session is retired (its requests under way finished, its
 * connection closed, unmounted lazily) when its worker is removed, when
 * it was unmounted behind pifsd's back, and at exit; it is destroyed at
 * exit, after the pool (see pifsd_sb_retire).  A pool thread may still
 * hold a retired session's pointer, taken from epoll just before it left
 * the set, so the struct itself is kept until exit too (d->retired).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "exports.h"
#include "mounts.h"
#include "pifsd.h"
#include "util.h"

/* The most a session reads at once: libfuse's starting buffer size,
 * which its INIT only ever lowers (FUSE_MAX_MAX_PAGES pages + header). */
#define RECV_BUF (256 * 4096 + 4096)

struct pifsd_sb *pifsd_sb_new(struct pifsd *d, struct pifs_view *v)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct pifsd_sb *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return NULL;
	errno = ENOMEM;
	sb->d = d;
	sb->view = v;
	sb->fd = -1;
	sb->state = PIFSD_SB_NEW;
	/* fuse_session_new consumes its arguments: a copy each. */
	for (int i = 0; i < d->sb_args.argc; i++)
		if (fuse_opt_add_arg(&args, d->sb_args.argv[i]) < 0)
			goto fail;
	sb->se = fuse_session_new(&args, &pifsd_ops, sizeof(pifsd_ops), sb);
	if (!sb->se) {
		/* libfuse said why (an unknown -o option, mostly) */
		errno = EINVAL;
		goto fail;
	}
	fuse_opt_free_args(&args);
	return sb;
fail:
	fuse_opt_free_args(&args);
	free(sb);
	return NULL; /* errno: EINVAL or ENOMEM */
}

static int arm(struct pifsd *d, struct pifsd_sb *sb, int op)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT,
				  .data.ptr = sb };

	return epoll_ctl(d->pool.epfd, op, sb->fd, &ev) < 0 ? -errno : 0;
}

/*
 * End a mounted session's connection and detach its mount.  The top's
 * is libfuse's own unmount (its mount point is outside pifs).  A
 * worker's fd number is the session's (fuse_session_destroy closes it at
 * exit), so it is not closed but replaced by /dev/null, which releases
 * the FUSE device all the same; the lazy unmount walks the top, so the
 * helper makes it (selfmount.c).
 */
static void sb_unmount(struct pifsd_sb *sb)
{
	int nul;

	if (!sb->view) {
		fuse_session_unmount(sb->se);
		sb->fd = -1;
		return;
	}
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0 || dup3(nul, sb->fd, O_CLOEXEC) < 0)
		pifs_err("cannot end the connection of worker '%s': %s",
			 sb->view->name, strerror(errno));
	if (nul >= 0)
		close(nul);
	sb->fd = -1;
	pifsd_selfumount(sb->d, sb->mountpoint);
}

/* On failure sb is unmounted and kept with the retired (freed at exit). */
int pifsd_sb_mount(struct pifsd_sb *sb, const char *mountpoint)
{
	struct pifsd *d = sb->d;
	int fl, r = -ENOMEM;

	if (!(sb->mountpoint = strdup(mountpoint)))
		goto fail;
	if (!sb->view) {
		/* The top: its mount point is outside pifs. */
		if (fuse_session_mount(sb->se, mountpoint) != 0) {
			r = -EIO; /* libfuse said why (stderr, or the log) */
			goto fail;
		}
		sb->fd = fuse_session_fd(sb->se);
	} else {
		/* A worker: its mount point is in the top (selfmount.c). */
		if ((r = pifsd_selfmount(d, mountpoint)) < 0)
			goto fail;
		sb->fd = r;
	}
	/* The hooks see its INIT (io_uring) and catch ring replies; for a
	 * worker this also gives the session its fd. */
	if ((r = pifsd_io_hook(sb)) < 0) {
		if (sb->view) {
			close(sb->fd);
			pifsd_selfumount(d, mountpoint);
		} else {
			fuse_session_unmount(sb->se);
		}
		sb->fd = -1;
		goto fail;
	}
	/* One request per wake-up: a thread woken for a request another
	 * one took (an interrupted request vanishes) must not block. */
	fl = fcntl(sb->fd, F_GETFL);
	if (fl < 0 || fcntl(sb->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = -errno;
		sb_unmount(sb);
		goto fail;
	}
	pthread_mutex_lock(&d->sb_lock);
	sb->state = PIFSD_SB_LIVE;
	if (!sb->view || !d->sbs) {
		sb->next = d->sbs;
		d->sbs = sb;
	} else { /* the top stays first */
		sb->next = d->sbs->next;
		d->sbs->next = sb;
	}
	pthread_mutex_unlock(&d->sb_lock);
	/* Armed last: from here on a pool thread may serve it. */
	if (d->pool.epfd >= 0 && (r = arm(d, sb, EPOLL_CTL_ADD)) < 0) {
		pifsd_sb_retire(sb);
		return r;
	}
	return 0;
fail:
	pthread_mutex_lock(&d->sb_lock);
	sb->state = PIFSD_SB_GONE;
	sb->next = d->retired;
	d->retired = sb;
	pthread_mutex_unlock(&d->sb_lock);
	return r;
}

/* The pool was started after the top was mounted (threads do not
 * survive daemonizing): arm what is already mounted. */
static int arm_mounted(struct pifsd *d)
{
	int r = 0;

	pthread_mutex_lock(&d->sb_lock);
	for (struct pifsd_sb *sb = d->sbs; sb && r == 0; sb = sb->next)
		if (sb->state == PIFSD_SB_LIVE)
			r = arm(d, sb, EPOLL_CTL_ADD);
	pthread_mutex_unlock(&d->sb_lock);
	return r;
}

void pifsd_sb_retire(struct pifsd_sb *sb)
{
	struct pifsd *d = sb->d;

	pthread_mutex_lock(&d->sb_lock);
	sb->state = PIFSD_SB_GONE;
	for (struct pifsd_sb **p = &d->sbs; *p; p = &(*p)->next)
		if (*p == sb) {
			*p = sb->next;
			sb->next = d->retired;
			d->retired = sb;
			break;
		}
	while (sb->busy)
		pthread_cond_wait(&d->sb_idle, &d->sb_lock);
	pthread_mutex_unlock(&d->sb_lock);
	if (sb->fd >= 0 && d->pool.epfd >= 0)
		epoll_ctl(d->pool.epfd, EPOLL_CTL_DEL, sb->fd, NULL);
	if (sb->se && sb->fd >= 0) {
		/* Closes the fd (the kernel ends the connection, so an NFS
		 * server still holding files of a removed worker gets
		 * ENOTCONN), then detaches the mount if it is still there. */
		sb_unmount(sb);
		if (sb->view)
			pifs_info("worker '%s' unmounted", sb->view->name);
		/* What served it; its ring entries go once the kernel
		 * has released them (the unmount ends the connection). */
		pifsd_uring_retire(sb);
	}
	/* The session itself is destroyed at exit, after the threads:
	 * libfuse keeps a reply pipe per thread and session (splice) in a
	 * thread-specific key that only a thread's exit frees, and for the
	 * top after the io_uring threads that may still use it
	 * (pifsd_sb_free_all).  Until then a removed worker costs its
	 * session struct; its pipes go when pifsd_sb_sync replaces the
	 * pool's threads (pool_recycle). */
}

void pifsd_sb_free_all(struct pifsd *d)
{
	while (d->sbs)
		pifsd_sb_retire(d->sbs);
	while (d->retired) {
		struct pifsd_sb *sb = d->retired;

		d->retired = sb->next;
		if (sb->se)
			fuse_session_destroy(sb->se);
		free(sb->mountpoint);
		free(sb);
	}
}

struct pifsd_sb *pifsd_sb_get(struct pifsd *d, const struct pifs_view *v)
{
	struct pifsd_sb *sb;

	pthread_mutex_lock(&d->sb_lock);
	for (sb = d->sbs; sb; sb = sb->next)
		if (sb->view == v && sb->state == PIFSD_SB_LIVE) {
			sb->busy++;
			break;
		}
	pthread_mutex_unlock(&d->sb_lock);
	return sb;
}

void pifsd_sb_put(struct pifsd_sb *sb)
{
	struct pifsd *d = sb->d;

	pthread_mutex_lock(&d->sb_lock);
	if (!--sb->busy)
		pthread_cond_broadcast(&d->sb_idle);
	pthread_mutex_unlock(&d->sb_lock);
}

/* ---- node ids ---- */

uint64_t pifsd_sb_id(const struct pifsd_sb *sb, fuse_ino_t ino)
{
	if (sb->view && ino == FUSE_ROOT_ID)
		return sb->view->root->id;
	return ino;
}

fuse_ino_t pifsd_sb_ino(const struct pifsd_sb *sb, uint64_t id)
{
	if (sb->view && id == sb->view->root->id)
		return FUSE_ROOT_ID;
	return id;
}

int pifsd_sb_owns(const struct pifsd_sb *sb, const struct pifs_node *n)
{
	if (sb->view)
		return n->view == sb->view && !n->real;
	/* the static top, the nfsroot/ mount points, tftpboot/ */
	return !n->view || n->real;
}

struct pifs_node *pifsd_sb_node(struct pifsd_sb *sb, fuse_ino_t ino)
{
	struct pifs_fs *fs = &sb->d->fs;
	struct pifs_node *n = pifs_fs_node(fs, pifsd_sb_id(sb, ino));

	if (n && !pifsd_sb_owns(sb, n)) {
		pifs_debug("node %#llx is not in %s's file system",
			   (unsigned long long)ino,
			   sb->view ? sb->view->name : "the top");
		pifs_fs_put(fs, n);
		return NULL;
	}
	return n;
}

/* ---- keeping the mounts in step with the registry ---- */

static int mount_worker(struct pifsd *d, struct pifs_view *v)
{
	struct pifsd_sb *sb;
	char *mp = pifs_strdupf("%s/nfsroot/%s", d->mountpoint, v->name);
	int r;

	if (!mp || !(sb = pifsd_sb_new(d, v))) {
		free(mp);
		pifs_err("cannot make the file system of worker '%s': %s",
			 v->name, strerror(ENOMEM));
		return -ENOMEM;
	}
	r = pifsd_sb_mount(sb, mp);
	if (r < 0)
		pifs_err("cannot mount worker '%s' at '%s': %s", v->name, mp,
			 strerror(-r));
	else
		pifs_info("worker '%s' mounted at '%s'", v->name, mp);
	free(mp);
	return r;
}

/* Does the mount table hold a fuse.pifs mount at path (anywhere in what
 * is stacked there: an admin's mount over a worker's hides it but does
 * not end it)? */
static int mounted_at(const struct pifs_mounts *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].point, path) &&
		    !strcmp(m->v[i].type, "fuse.pifs"))
			return 1;
	return 0;
}

static int pool_spawn(struct pifsd *d);
static void pool_stop_locked(struct pifsd *d);

/*
 * Replace every pool thread after sessions were retired.  libfuse keeps
 * a splice pipe per thread and session in thread-specific data that only
 * the thread's exit frees (fuse_session_destroy frees the caller's
 * alone), and a retired session is destroyed only at exit (the ring
 * set's threads never splice a reply: theirs go into the entry's
 * payload, uring_conn.c): without this,
 * each worker removed (or unmounted and mounted again) left up to two
 * fds per pool thread open for good (t-soak: 34 fds, 316 after eight
 * add/remove cycles).  The threads end as they do at exit (stop_fd,
 * level-triggered: each finishes the request it serves first), the
 * sessions stay armed in epfd, and new threads take over; requests wait
 * in the kernel meanwhile.  Called with sync_lock held, which no request
 * takes.
 */
static void pool_recycle(struct pifsd *d)
{
	struct pifsd_pool *p = &d->pool;
	uint64_t one = 1, v;

	if (!p->started || p->stop_fd < 0)
		return;
	(void)!write(p->stop_fd, &one, sizeof(one));
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	p->started = 0;
	(void)!read(p->stop_fd, &v, sizeof(v));
	if (pool_spawn(d) != 0 && !p->started)
		pifs_err("no pool thread could be started again: workers' "
			 "file systems are not served");
}

int pifsd_sb_sync(struct pifsd *d)
{
	struct pifs_fs *fs = &d->fs;
	struct pifsd_sb **old = NULL;
	struct pifs_view **vs = NULL;
	size_t nv = 0, nold = 0;
	struct pifs_mounts mi = {0};
	int r = 0, top_live, have_mi, changed = 0;

	pthread_mutex_lock(&d->sync_lock);
	pifs_fs_refresh(fs);
	if ((r = pifs_fs_live_views(fs, &vs, &nv)) < 0)
		goto out;
	/* A worker's file system unmounted a moment ago (`pifs umount`
	 * that met a busy mount after unmounting siblings, then asks for
	 * them back) may not have reached its pool thread yet: the kernel's
	 * mount table decides, not the session's state. */
	have_mi = pifs_mounts_load(&mi, 0) == 0;
	/* Retire first: a worker removed and added again under its name
	 * is mounted where the old one was. */
	pthread_mutex_lock(&d->sb_lock);
	top_live = d->top && d->top->state == PIFSD_SB_LIVE;
	for (struct pifsd_sb *sb = d->sbs; sb; sb = sb->next)
		nold++;
	old = calloc(nold + 1, sizeof(*old));
	nold = 0;
	for (struct pifsd_sb *sb = d->sbs; old && sb; sb = sb->next) {
		int keep = !sb->view;

		for (size_t i = 0; !keep && i < nv; i++)
			keep = vs[i] == sb->view && sb->state == PIFSD_SB_LIVE;
		if (keep && sb->view && have_mi &&
		    !mounted_at(&mi, sb->mountpoint))
			keep = 0;
		if (!keep)
			old[nold++] = sb;
	}
	pthread_mutex_unlock(&d->sb_lock);
	if (!old) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nold; i++)
		pifsd_sb_retire(old[i]);
	if (nold)
		pool_recycle(d);
	/* No thread serves them now, and a removed worker's view is never
	 * mounted again: the nodes its kernel connection had are dropped
	 * (else each removed worker kept them, and their fds, until exit:
	 * 38 -> 186 fds after 20 add/remove cycles with I/O). */
	for (size_t i = 0; i < nold; i++)
		if (old[i]->view && old[i]->view->gone &&
		    pifs_nodes_forget_view(&fs->nodes, old[i]->view) < 0)
			pifs_warn("out of memory: the nodes of removed worker "
				  "'%s' stay until exit", old[i]->view->name);
	/* A top that is gone (being unmounted) gets no new worker. */
	for (size_t i = 0; top_live && i < nv; i++) {
		struct pifsd_sb *sb = pifsd_sb_get(d, vs[i]);
		int e;

		if (sb) {
			pifsd_sb_put(sb);
			continue;
		}
		if ((e = mount_worker(d, vs[i])) < 0 && r == 0)
			r = e;
		changed = 1;
	}
	/* The NFS exports (pifs exports --install) once the workers' file
	 * systems are mounted: a new worker's export (mountpoint) is
	 * refused until then (overlay/exports.c). */
	if (top_live && (changed || nold))
		pifs_exports_kick();
out:
	pthread_mutex_unlock(&d->sync_lock);
	pifs_mounts_release(&mi);
	free(old);
	free(vs);
	return r;
}

/* ---- the pool ---- */

/* A session's connection ended: it was unmounted (or aborted).  pifsd
 * ends when the top and every worker's file system have: after `pifs
 * umount` (the workers first, then the top) at once; after a lazy
 * `umount -l` of the top only when the last file a process (an NFS
 * server) still held in a worker's file system is closed, as for any
 * lazily unmounted file system.  A worker's file system unmounted on its
 * own is retired by the next sync (which mounts it again) or at exit. */
static void gone(struct pifsd *d, struct pifsd_sb *sb)
{
	uint64_t one = 1;
	int live = 0;

	pthread_mutex_lock(&d->sb_lock);
	if (sb->state == PIFSD_SB_LIVE)
		sb->state = PIFSD_SB_GONE;
	for (struct pifsd_sb *s = d->sbs; s; s = s->next)
		live += s->state == PIFSD_SB_LIVE; /* the top is one */
	pthread_mutex_unlock(&d->sb_lock);
	if (sb->view)
		pifs_info("the file system of worker '%s' was unmounted",
			  sb->view->name);
	if (!live)
		(void)!write(d->exit_fd, &one, sizeof(one));
}

static void *pool_main(void *arg)
{
	struct pifsd *d = arg;
	struct fuse_buf fbuf = { .mem = malloc(RECV_BUF) };

	if (!fbuf.mem) {
		pifs_err("a pool thread has no request buffer: %s",
			 strerror(ENOMEM));
		return NULL;
	}
	for (;;) {
		struct epoll_event ev;
		struct pifsd_sb *sb;
		int n = epoll_wait(d->pool.epfd, &ev, 1, -1), live, r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pifs_err("epoll_wait: %s", strerror(errno));
			break;
		}
		if (n == 0)
			continue;
		if (!ev.data.ptr)
			break; /* stop_fd */
		sb = ev.data.ptr;
		pthread_mutex_lock(&d->sb_lock);
		live = sb->state == PIFSD_SB_LIVE;
		if (live)
			sb->busy++;
		pthread_mutex_unlock(&d->sb_lock);
		if (!live)
			continue;
		fbuf.size = RECV_BUF;
		fbuf.flags = 0;
		r = fuse_session_receive_buf(sb->se, &fbuf);
		if (r > 0) {
			/* the next request is another thread's */
			if (arm(d, sb, EPOLL_CTL_MOD) < 0)
				pifs_err("cannot wait for requests: %s",
					 strerror(errno));
			fuse_session_process_buf(sb->se, &fbuf);
		} else if (r == -EAGAIN || r == -EINTR) {
			arm(d, sb, EPOLL_CTL_MOD);
		} else {
			/* 0: unmounted; else the device failed */
			if (r < 0)
				pifs_err("reading requests: %s", strerror(-r));
			gone(d, sb);
		}
		pifsd_sb_put(sb);
	}
	free(fbuf.mem);
	return NULL;
}

int pifsd_pool_start(struct pifsd *d, unsigned nthreads)
{
	struct pifsd_pool *p = &d->pool;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int r;

	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->epfd < 0 || p->stop_fd < 0 ||
	    epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->stop_fd, &ev) < 0)
		return -errno;
	if ((r = arm_mounted(d)) < 0)
		return r;
	if (!(p->threads = calloc(nthreads, sizeof(*p->threads))))
		return -ENOMEM;
	p->nthreads = nthreads;
	r = pool_spawn(d);
	return p->started ? 0 : -r;
}

/* Start the pool's threads (up to nthreads); 0 or a pthread error. */
static int pool_spawn(struct pifsd *d)
{
	struct pifsd_pool *p = &d->pool;
	sigset_t all, old;
	int r;

	/* Signals are the main thread's (it waits for them). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (r = 0; p->started < p->nthreads; p->started++)
		if ((r = pthread_create(&p->threads[p->started], NULL,
					pool_main, d)) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

void pifsd_pool_stop(struct pifsd *d)
{
	/* A control request's sync may be replacing the threads right now
	 * (pool_recycle, under sync_lock); a later one finds no pool. */
	pthread_mutex_lock(&d->sync_lock);
	pool_stop_locked(d);
	pthread_mutex_unlock(&d->sync_lock);
}

static void pool_stop_locked(struct pifsd *d)
{
	struct pifsd_pool *p = &d->pool;
	uint64_t one = 1;

	if (p->stop_fd >= 0)
		(void)!write(p->stop_fd, &one, sizeof(one));
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	p->threads = NULL;
	p->started = 0;
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	if (p->epfd >= 0)
		close(p->epfd);
	p->stop_fd = p->epfd = -1;
}
