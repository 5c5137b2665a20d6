/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctl.c - pifsd's side of the control socket (protocol in overlay/ctl.h):
 * STORE/lock/ctl.sock, 0600 in a 0700 root directory, and only peers with
 * uid 0 are served.  One thread accepts; each connection gets a thread,
 * because a pause is the view lock held exclusively, and a lock must be
 * released by the thread that took it.  A connection that closes (a
 * killed `pifs snapshot`) releases every pause it held.
 *
 * Kernel cache invalidation after a swap is sent from here, never from a
 * FUSE request handler and never while a view lock is held: the kernel
 * takes directory locks for it that a blocked request may be holding.
 * So is what a registry change makes it forget (nfsroot/ and the names
 * in it, which it caches): the CLI asks with "workers" after it changed
 * the registry, and the accepting thread also watches the registry file
 * with inotify, for any other writer.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "pifsd.h"
#include "safeio.h"
#include "util.h"

#define MAX_PAUSED 64

struct conn {
	struct pifsd *d;
	int fd;
	struct pifs_view *paused[MAX_PAUSED];
	struct pifs_inval *pending[MAX_PAUSED]; /* invalidations due at resume */
	size_t npending[MAX_PAUSED];
	size_t npaused;
};

static void reply(struct conn *c, int err, const char *msg)
{
	char line[600];

	if (!err)
		snprintf(line, sizeof(line), "ok\n");
	else
		snprintf(line, sizeof(line), "err %d %s\n", -err,
			 msg && *msg ? msg : strerror(-err));
	if (pifs_write_all(c->fd, line, strlen(line)) < 0)
		pifs_debug("control client went away before its reply");
}

static int find_paused(struct conn *c, struct pifs_view *v)
{
	for (size_t i = 0; i < c->npaused; i++)
		if (c->paused[i] == v)
			return (int)i;
	return -1;
}

/* Tell the file system of view v (NULL: the top) to forget inv; its ids
 * are pifs's, translated to that file system's.  A view without a live
 * file system has nothing cached. */
static void notify(struct pifsd *d, const struct pifs_view *v,
		   struct pifs_inval *inv, size_t n)
{
	struct pifsd_sb *sb = pifsd_sb_get(d, v);

	/* Children first, so no dentry is revalidated against a parent the
	 * kernel still caches. */
	for (size_t i = n; sb && i-- > 0;) {
		if (inv[i].parent && inv[i].name)
			fuse_lowlevel_notify_inval_entry(
			    sb->se, pifsd_sb_ino(sb, inv[i].parent),
			    inv[i].name, strlen(inv[i].name));
		fuse_lowlevel_notify_inval_inode(
		    sb->se, pifsd_sb_ino(sb, inv[i].id), 0, 0);
	}
	if (sb)
		pifsd_sb_put(sb);
	pifs_inval_free(inv, n);
}

/* Reload the registry if it changed and tell the kernel what to forget
 * (pifs_fs_registry_inval).  Serialized: two callers must not hand the
 * same removal over twice, nor tell nfsroot/ in the wrong order. */
static int registry_notify(struct pifsd *d)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct pifs_inval *inv;
	size_t n;
	int r, e;

	pthread_mutex_lock(&lock);
	r = pifs_fs_registry_inval(&d->fs, &inv, &n);
	if (r == 0 && n)
		notify(d, NULL, inv, n);
	pthread_mutex_unlock(&lock);
	if (r < 0)
		pifs_warn("cannot tell the kernel of a registry change: %s",
			  strerror(-r));
	/* Each registered worker's file system mounted, each removed one's
	 * gone, before `pifs worker add/remove` return. */
	if ((e = pifsd_sb_sync(d)) < 0 && r == 0)
		r = e;
	return r;
}

/* After a reload (`pifs master`): the kernel forgets the entries and
 * inodes of every view's generated files, which may have a new content
 * and size (pifs_fs_generated_inval). */
static void inval_generated(struct pifsd *d)
{
	struct pifs_view_inval *vi;
	size_t n;

	if (pifs_fs_generated_inval(&d->fs, &vi, &n) < 0) {
		pifs_warn("out of memory: generated files may show their old "
			  "size for the cache timeout");
		return;
	}
	for (size_t i = 0; i < n; i++)
		notify(d, vi[i].view, vi[i].inv, vi[i].n);
	free(vi);
}

/* Resume pause number i: unlock, then tell the kernel what a swap made
 * under that pause changed. */
static void resume_at(struct conn *c, size_t i)
{
	struct pifs_view *v = c->paused[i];
	struct pifs_inval *inv = c->pending[i];
	size_t n = c->npending[i];

	c->npaused--;
	c->paused[i] = c->paused[c->npaused];
	c->pending[i] = c->pending[c->npaused];
	c->npending[i] = c->npending[c->npaused];
	pifs_view_resume(v);
	if (inv)
		notify(c->d, v, inv, n);
}

/* A swap under this connection's own pause (how `pifs reset` makes its
 * "no unsnapshotted changes" check and the swap one step) is done under
 * that lock; the kernel is told at resume. */
static void do_swap(struct conn *c, struct pifs_view *v, const char *tmp)
{
	struct pifs_fs *fs = &c->d->fs;
	struct pifs_inval *inv;
	int i = find_paused(c, v);
	size_t n;
	char msg[300];
	int r;

	r = pifs_fs_view_swap(fs, v, tmp, i >= 0, &inv, &n);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "cannot swap delta of '%s': %s", v->name,
			 strerror(-r));
		reply(c, r, msg);
		return;
	}
	if (i >= 0) {
		if (c->pending[i]) /* a second swap: everything is invalid anyway */
			pifs_inval_free(c->pending[i], c->npending[i]);
		c->pending[i] = inv;
		c->npending[i] = n;
	} else {
		notify(c->d, v, inv, n);
	}
	reply(c, 0, NULL);
}

/* "journal WORKER" under this connection's pause of it: "ok VALID TOKEN
 * NEWTOKEN LEN" (tokens in hex) and LEN bytes of records (ctl.h). */
static void do_journal(struct conn *c, struct pifs_view *v)
{
	uint64_t token, newtoken;
	char head[128], *buf = NULL;
	size_t len = 0;
	int valid, r;

	if (find_paused(c, v) < 0) {
		reply(c, -EINVAL, "worker is not paused by this connection");
		return;
	}
	r = pifs_view_journal_take(v, &valid, &token, &newtoken, &buf, &len);
	if (r < 0) {
		reply(c, r, "cannot hand over the journal");
		return;
	}
	snprintf(head, sizeof(head), "ok %d %016llx %016llx %zu\n", valid,
		 (unsigned long long)token, (unsigned long long)newtoken, len);
	if (pifs_write_all(c->fd, head, strlen(head)) < 0 ||
	    pifs_write_all(c->fd, buf, len) < 0)
		pifs_debug("control client went away before its journal");
	pifs_debug("journal of '%s' handed over: %s, %zu bytes", v->name,
		   valid ? "valid" : "not valid", len);
	free(buf);
}

static void handle(struct conn *c, char *line)
{
	char *save = NULL, *cmd = strtok_r(line, " ", &save);
	char *a1 = strtok_r(NULL, " ", &save), *a2 = strtok_r(NULL, " ", &save);
	struct pifs_view *v = NULL;
	char msg[300];
	int i;

	if (!cmd) {
		reply(c, -EINVAL, "empty request");
		return;
	}
	if (!strcmp(cmd, "workers")) {
		int r = registry_notify(c->d);

		reply(c, r, r < 0 ? "cannot tell the kernel of the registry" : NULL);
		return;
	}
	if (!strcmp(cmd, "reload")) {
		const char *why = "cannot re-read pifs.conf";
		int r = pifs_fs_reload(&c->d->fs);

		if (r == 0) {
			inval_generated(c->d);
			if ((r = registry_notify(c->d)) < 0)
				why = "cannot tell the kernel of the registry";
		}
		reply(c, r, r < 0 ? why : NULL);
		return;
	}
	if (!a1 || pifs_worker_name_valid(a1) < 0 || !(v = pifs_fs_view(&c->d->fs, a1))) {
		snprintf(msg, sizeof(msg), "no worker '%s' in the mounted store",
			 a1 ? a1 : "");
		reply(c, -ENOENT, msg);
		return;
	}
	if (!strcmp(cmd, "pause")) {
		if (find_paused(c, v) < 0) {
			if (c->npaused == MAX_PAUSED) {
				reply(c, -EMFILE, "too many paused workers");
				return;
			}
			pifs_view_pause(v);
			c->pending[c->npaused] = NULL;
			c->npending[c->npaused] = 0;
			c->paused[c->npaused++] = v;
			pifs_info("worker '%s' paused", v->name);
		}
		reply(c, 0, NULL);
	} else if (!strcmp(cmd, "resume")) {
		if ((i = find_paused(c, v)) < 0) {
			reply(c, -EINVAL, "worker is not paused by this connection");
			return;
		}
		resume_at(c, (size_t)i);
		pifs_info("worker '%s' resumed", v->name);
		reply(c, 0, NULL);
	} else if (!strcmp(cmd, "journal")) {
		do_journal(c, v);
	} else if (!strcmp(cmd, "swap") && a2) {
		do_swap(c, v, a2);
	} else {
		reply(c, -EINVAL, "unknown request");
	}
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	char line[512];
	size_t len = 0;

	for (;;) {
		ssize_t n = read(c->fd, line + len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (line[len] == '\n' || len + 2 >= sizeof(line)) {
			line[len] = '\0';
			handle(c, line);
			len = 0;
			continue;
		}
		len++;
	}
	while (c->npaused) {
		pifs_warn("control client gone: worker '%s' resumed",
			  c->paused[c->npaused - 1]->name);
		resume_at(c, c->npaused - 1);
	}
	close(c->fd);
	free(c);
	return NULL;
}

/* Drain the registry watch; 1 when an event named the registry file. */
static int registry_event(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int hit = 0;
	ssize_t len;

	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->len && !strcmp(ev->name, "workers"))
				hit = 1;
			if (ev->mask & IN_Q_OVERFLOW)
				hit = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	return hit;
}

static void accept_one(struct pifsd *d)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct conn *c;
	pthread_t t;
	/* The listening socket does not block (a client gone between poll
	 * and here); the connection does, for its thread. */
	int fd = accept4(d->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    cred.uid != 0) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->d = d;
	c->fd = fd;
	if (pthread_create(&t, NULL, conn_main, c) != 0) {
		close(fd);
		free(c);
		return;
	}
	pthread_detach(t);
}

static void *accept_main(void *arg)
{
	struct pifsd *d = arg;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = d->ctl_fd, .events = POLLIN },
			{ .fd = d->reg_watch, .events = POLLIN },
		};

		if (poll(p, d->reg_watch >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
			break; /* shut down */
		if (p[0].revents & POLLIN)
			accept_one(d);
		if (d->reg_watch >= 0 && (p[1].revents & POLLIN) &&
		    registry_event(d->reg_watch))
			registry_notify(d);
	}
	return NULL;
}

/* Watch STORE for a new registry file (written beside and renamed in, or
 * rewritten in place).  Without inotify the CLI's "workers" request is
 * the only way the kernel hears of a removed worker. */
static void watch_registry(struct pifsd *d)
{
	char path[64];

	d->reg_watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", d->fs.store.fd);
	if (d->reg_watch < 0 ||
	    inotify_add_watch(d->reg_watch, path, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		pifs_warn("cannot watch the worker registry (%s): only pifs "
			  "worker add/remove update nfsroot/ at once",
			  strerror(errno));
		if (d->reg_watch >= 0)
			close(d->reg_watch);
		d->reg_watch = -1;
	}
}

int pifsd_ctl_listen(struct pifsd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dfd, r;

	d->ctl_fd = -1;
	dfd = openat(d->fs.store.fd, "lock", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	pifs_do_unlink(dfd, "ctl.sock", 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/ctl.sock", dfd);
	d->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->ctl_fd < 0 ||
	    bind(d->ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fchmodat(dfd, "ctl.sock", 0600, 0) < 0 || listen(d->ctl_fd, 16) < 0) {
		r = -errno;
		if (d->ctl_fd >= 0)
			close(d->ctl_fd);
		d->ctl_fd = -1;
		close(dfd);
		return r;
	}
	close(dfd);
	watch_registry(d);
	return 0;
}

int pifsd_ctl_run(struct pifsd *d)
{
	int r = pthread_create(&d->ctl_thread, NULL, accept_main, d);

	if (r != 0) {
		close(d->ctl_fd);
		d->ctl_fd = -1;
		return -r;
	}
	d->ctl_running = 1;
	return 0;
}

void pifsd_ctl_stop(struct pifsd *d)
{
	if (d->ctl_fd < 0)
		return;
	shutdown(d->ctl_fd, SHUT_RDWR);
	if (d->ctl_running)
		pthread_join(d->ctl_thread, NULL);
	close(d->ctl_fd);
	d->ctl_fd = -1;
	if (d->reg_watch >= 0)
		close(d->reg_watch);
	d->reg_watch = -1;
	pifs_do_unlink(d->fs.store.fd, "lock/ctl.sock", 0);
}
