/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * statpool.c - the stats of a full scan made by two threads: a helper
 * thread shares the fstatat calls of each large directory with the
 * scanning thread (small directories, and every directory without a
 * second CPU, are stated inline).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Stating every name is most of an incremental scan (a path walk and a
 * getattr in the kernel per entry).  A helper thread shares the stats of
 * each large directory with the scanning thread: both claim chunks of the
 * sorted names until none is left.  Each name's result (the stat or the
 * errno) lands in its own slot, so the scan sees what one fstatat per
 * name would give and reports the first failure in name order; the
 * helper touches nothing else. */
#define STAT_BATCH 64 /* smaller directories are stated inline */
#define STAT_CHUNK 16

struct statjob {
	int dfd;
	char *const *names;
	struct stat *sb;
	int *err; /* per name: 0 or an errno */
	size_t n;
	size_t next; /* the next name to claim (atomic) */
};

static void stat_run(struct statjob *j)
{
	size_t i, end;

	for (;;) {
		i = __atomic_fetch_add(&j->next, STAT_CHUNK, __ATOMIC_RELAXED);
		if (i >= j->n)
			return;
		end = i + STAT_CHUNK < j->n ? i + STAT_CHUNK : j->n;
		for (; i < end; i++)
			j->err[i] = fstatat(j->dfd, j->names[i], &j->sb[i],
					    AT_SYMLINK_NOFOLLOW) < 0
					? errno
					: 0;
	}
}

static void *stat_helper(void *arg)
{
	struct statpool *p = arg;
	struct statjob *j;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->job && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->quit)
			break;
		j = p->job;
		p->job = NULL;
		p->busy = 1;
		pthread_mutex_unlock(&p->mu);
		stat_run(j);
		pthread_mutex_lock(&p->mu);
		p->busy = 0;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Start the helper when there is a second CPU; without one (or when it
 * cannot start) every stat is made inline. */
void pifs_statpool_start(struct statpool *p)
{
	memset(p, 0, sizeof(*p));
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	if (pthread_mutex_init(&p->mu, NULL))
		return;
	if (pthread_cond_init(&p->cv, NULL)) {
		pthread_mutex_destroy(&p->mu);
		return;
	}
	if (pthread_create(&p->thr, NULL, stat_helper, p)) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		return;
	}
	p->running = 1;
}

void pifs_statpool_stop(struct statpool *p)
{
	if (!p->running)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thr, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	p->running = 0;
}

/* fstatat(dfd, names[i], AT_SYMLINK_NOFOLLOW) for every i < n into sb[i]
 * and err[i]; returns once all are done, the helper included. */
void pifs_statpool_stat(struct statpool *p, int dfd, char *const *names,
			size_t n, struct stat *sb, int *err)
{
	struct statjob j = {.dfd = dfd, .names = names, .sb = sb,
			    .err = err, .n = n};
	int posted = p && p->running && n >= STAT_BATCH;

	if (posted) {
		pthread_mutex_lock(&p->mu);
		p->job = &j;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	stat_run(&j);
	if (!posted)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->job == &j) /* never taken: withdraw it */
		p->job = NULL;
	while (p->busy)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
