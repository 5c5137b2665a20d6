/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store/lock.c - the store's locks: lock/store, held briefly by every CLI
 * change, and lock/daemon, held by the mounted pifsd (with its pid), and
 * waiting for a pifsd that is exiting to let go.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "manifest.h"
#include "safeio.h"
#include "store.h"
#include "store/internal.h"
#include "util.h"

/* ---- locks ---- */

static int open_lock(struct pifs_store *st, const char *name, int flags)
{
	char sub[32];

	snprintf(sub, sizeof(sub), "lock/%s", name);
	return pifs_openat_beneath(st->fd, sub, flags | O_NOFOLLOW, 0600);
}

/* The daemon's lock file for reading, *pid_out (may be NULL) cleared;
 * -ENOENT when there is none (the store was never mounted). */
static int open_daemon_lock(struct pifs_store *st, pid_t *pid_out)
{
	if (pid_out)
		*pid_out = 0;
	return open_lock(st, "daemon", O_RDONLY);
}

int pifs_store_lock(struct pifs_store *st, int timeout_ms)
{
	struct timespec start, now;
	long waited;
	int fd;

	if (st->lock_fd >= 0)
		return 0;
	fd = open_lock(st, "store", O_RDWR | O_CREAT);
	if (fd < 0)
		return fd;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int ret = -errno;

			close(fd);
			return ret;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 +
			 (now.tv_nsec - start.tv_nsec) / 1000000;
		if (timeout_ms >= 0 && waited >= timeout_ms) {
			close(fd);
			return -EAGAIN;
		}
		poll(NULL, 0, 20);
	}
	st->lock_fd = fd;
	return 0;
}

void pifs_store_unlock(struct pifs_store *st)
{
	if (st->lock_fd < 0)
		return;
	flock(st->lock_fd, LOCK_UN);
	close(st->lock_fd);
	st->lock_fd = -1;
}

/* The pid written in lock/daemon, or 0. */
static pid_t read_pid(int fd)
{
	char buf[32];
	ssize_t n;
	long v;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 && v <= INT32_MAX ? (pid_t)v : 0;
}

int pifs_store_lock_daemon(struct pifs_store *st, pid_t *pid_out)
{
	char buf[32];
	int fd, ret, tries;

	if (pid_out)
		*pid_out = 0;
	if (st->daemon_lock_fd >= 0)
		return 0;
	fd = open_lock(st, "daemon", O_RDWR | O_CREAT);
	if (fd < 0)
		return fd;
	/* pifs_store_mounted takes a shared lock for a moment: retry a
	 * little before calling the store busy. */
	for (tries = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; tries++) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			ret = -errno;
			goto fail;
		}
		if (tries == 10) {
			if (pid_out)
				*pid_out = read_pid(fd);
			ret = -EBUSY;
			goto fail;
		}
		poll(NULL, 0, 20);
	}
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = pifs_pwrite_all(fd, buf, strlen(buf), 0);
	if (ret < 0)
		goto fail;
	st->daemon_lock_fd = fd;
	return 0;
fail:
	close(fd);
	return ret;
}

int pifs_store_mounted(struct pifs_store *st, pid_t *pid_out)
{
	int fd, ret = 0;

	if ((fd = open_daemon_lock(st, pid_out)) < 0)
		return fd == -ENOENT ? 0 : fd;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
	} else if (errno == EWOULDBLOCK) {
		if (pid_out)
			*pid_out = read_pid(fd);
		ret = 1;
	} else {
		ret = -errno;
	}
	close(fd);
	return ret;
}

/* Is pid a live process (not gone, not a zombie)?  *start gets its start
 * time (clock ticks after boot), which tells a reused pid. */
static int proc_alive(pid_t pid, unsigned long long *start)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	*start = 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) state ...": comm may hold spaces and ')' */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return 0;
	/* state is field 3, starttime field 22 */
	for (int field = 3; p && field < 22; field++)
		if ((p = strchr(p, ' ')))
			p++;
	if (p)
		*start = strtoull(p, NULL, 10);
	return 1;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Two steps: first lock/daemon is free (the daemon closed the store), then
 * the process that last held it is gone (it wrote its pid there before it
 * served, so the pid left behind is the daemon's, never that of the
 * parent it daemonized from).  Once the lock was seen free, only that
 * process is waited for: a new daemon taking the store meanwhile is not
 * the one unmounted. */
int pifs_store_wait_released(struct pifs_store *st, int timeout_ms,
			     pid_t *pid_out)
{
	unsigned long long start0 = 0, start;
	struct timespec t0;
	pid_t pid = 0;
	int fd, ret, held = 1;

	if ((fd = open_daemon_lock(st, pid_out)) < 0)
		return fd == -ENOENT ? 0 : fd;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (held && flock(fd, LOCK_SH | LOCK_NB) == 0) {
			flock(fd, LOCK_UN);
			held = 0;
			pid = read_pid(fd);
			if (!pid || !proc_alive(pid, &start0)) {
				ret = 0;
				break;
			}
		} else if (held && errno != EWOULDBLOCK && errno != EINTR) {
			ret = -errno;
			break;
		} else if (!held &&
			   (!proc_alive(pid, &start) || start != start0)) {
			ret = 0;
			break;
		}
		if (ms_since(&t0) >= timeout_ms) {
			if (pid_out)
				*pid_out = held ? read_pid(fd) : pid;
			ret = -ETIMEDOUT;
			break;
		}
		poll(NULL, 0, 20);
	}
	close(fd);
	return ret;
}
