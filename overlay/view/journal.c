/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal.c - the journal: the delta paths a worker changed through the
 * mount, recorded as they change (view lock held, under jlock) and handed
 * to `pifs snapshot` under the pause, so that it reads those instead of
 * the whole delta (view.h, pifs_view_journal_take).  A set that grows too
 * large, or a delta swapped under it, is dropped: the next snapshot reads
 * everything.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util.h"
#include "view.h"
#include "internal.h"

#define JOURNAL_MAX_PATHS 200000
#define JOURNAL_MAX_BYTES ((size_t)32 << 20)

void journal_clear(struct pifs_view *v)
{
	pifs_pathmap_free(&v->journal);
	v->jbytes = 0;
}

/* Give up on the set: the next snapshot stats everything. */
void journal_drop(struct pifs_view *v)
{
	journal_clear(v);
	v->jvalid = 0;
}

/* Record path (len bytes) with flags; caller holds jlock. */
static void journal_put(struct pifs_view *v, const char *p, size_t len,
			unsigned flags)
{
	if (!v->jvalid)
		return;
	if (v->journal.n >= JOURNAL_MAX_PATHS ||
	    v->jbytes >= JOURNAL_MAX_BYTES) {
		pifs_info("journal of worker '%s' full: its next snapshot "
			  "reads the whole delta", v->name);
		journal_drop(v);
		return;
	}
	if (pifs_pathmap_add(&v->journal, p, len, flags) < 0)
		journal_drop(v);
	else
		v->jbytes += len + 2;
}

/* Record n's delta path (plus "/name" when name is set); the caller
 * holds the view lock, so the names above n stay put. */
void jn_node(struct pifs_view *v, const struct pifs_node *n, const char *name,
	     unsigned flags)
{
	const struct pifs_node *q;
	size_t len = 0, l;
	char *buf, *end;

	if (n->real)
		n = n->real;
	if (n->view != v || n->unlinked)
		return;
	for (q = n; q && q != v->root; q = q->parent) {
		if (!q->name || q->unlinked)
			return;
		len += strlen(q->name) + 1;
	}
	if (!q)
		return;
	if (name)
		len += strlen(name) + 1;
	if (!len) {
		pthread_mutex_lock(&v->jlock);
		journal_put(v, ".", 1, flags);
		pthread_mutex_unlock(&v->jlock);
		return;
	}
	buf = malloc(len);
	if (!buf) {
		pthread_mutex_lock(&v->jlock);
		journal_drop(v);
		pthread_mutex_unlock(&v->jlock);
		return;
	}
	end = buf + len - 1; /* the last byte: the separator not needed */
	if (name) {
		l = strlen(name);
		end -= l;
		memcpy(end + 1, name, l);
		*end-- = '/';
	}
	for (q = n; q != v->root; q = q->parent) {
		l = strlen(q->name);
		end -= l;
		memcpy(end + 1, q->name, l);
		*end-- = '/';
	}
	pthread_mutex_lock(&v->jlock);
	journal_put(v, buf + 1, len - 1, flags);
	pthread_mutex_unlock(&v->jlock);
	free(buf);
}

void pifs_view_journal_node(struct pifs_view *v, struct pifs_node *n)
{
	jn_node(v, n, NULL, JF_DIRTY);
}

uint64_t pifs_view_journal_epoch(struct pifs_view *v)
{
	uint64_t e;

	pthread_mutex_lock(&v->jlock);
	e = v->jepoch;
	pthread_mutex_unlock(&v->jlock);
	return e;
}

int pifs_view_journal_take(struct pifs_view *v, int *valid, uint64_t *token,
			   uint64_t *newtoken, char **buf, size_t *len)
{
	size_t need = 0, off = 0, i, l;
	uint64_t t = 0;
	char *b;

	while (!t)
		if (getrandom(&t, sizeof(t), 0) != sizeof(t))
			return -errno;
	pthread_mutex_lock(&v->jlock);
	for (i = 0; i < v->journal.cap; i++)
		if (v->journal.t[i].path)
			need += (strlen(v->journal.t[i].path) + 2) *
				(v->journal.t[i].flags == (JF_DIRTY | JF_FULL)
					 ? 2
					 : 1);
	b = malloc(need ? need : 1);
	if (!b) {
		pthread_mutex_unlock(&v->jlock);
		return -ENOMEM;
	}
	for (i = 0; i < v->journal.cap; i++) {
		const struct pifs_pathmap_ent *e = &v->journal.t[i];

		if (!e->path)
			continue;
		l = strlen(e->path) + 1;
		if (e->flags & JF_DIRTY) {
			b[off++] = 'd';
			memcpy(b + off, e->path, l);
			off += l;
		}
		if (e->flags & JF_FULL) {
			b[off++] = 'f';
			memcpy(b + off, e->path, l);
			off += l;
		}
	}
	*valid = v->jvalid;
	*token = v->jtoken;
	*newtoken = t;
	journal_clear(v);
	v->jtoken = t;
	v->jvalid = 1;
	v->jepoch++;
	pthread_mutex_unlock(&v->jlock);
	*buf = b;
	*len = off;
	return 0;
}
