/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snapshot_rounds.c - the rounds of a snapshot that read changed data
 * while the worker runs (pifs_git_snapshot_preread), and the cost of the
 * final scan under the pause (pifs_git_snapshot_cost); snapshot.c does
 * the rest.
 *
 * Reading while the worker runs.  On a mounted store the worker is paused
 * (its view lock held exclusively: every write, create, rename, setattr
 * waits) only for short moments, never for reading changed data:
 *
 *  1. pause; take pifsd's journal J1 (what changed since the last
 *     snapshot; pifsd starts a new journal); resume.
 *  2. a round, unpaused (pifs_git_snapshot_preread): scan as J1 says,
 *     reading, hashing and staging every changed file, however big.  An
 *     entry that changes under it (gone, replaced, short, a big file
 *     whose two reads differ) is left out and noted (g->redo).  The
 *     round's stat cache is kept in memory (g->roundcache).
 *  3. pause; take the journal Jk: exactly what pifsd changed since the
 *     last hand-over, so during the round (a data write is journaled
 *     under the view lock, at the first write of each open file in each
 *     journal epoch, and a hand-over starts a new epoch).
 *     If what Jk and the redo list name is small (a few MiB of files,
 *     no directory renamed in), or this is the last allowed round, or
 *     Jk is not valid: the final scan runs now, under this pause, and
 *     the worker resumes after it.  Else resume and go to 2 with Jk.
 *  4. finish, unpaused.
 *
 * What the snapshot is: the delta exactly as it was at the moment of the
 * final pause.  The final scan follows Jk over the last round's cache:
 * a path Jk or the redo list names is read again under the pause (its
 * cached stat is not trusted: a round's cache keeps times within the
 * racy window, s->distrust); any other path did not change since the
 * round began (pifsd journals every change it makes to the delta, and
 * nothing else may write a delta), so what the round read of it (the
 * content, or the cache entry before that) is its state at the final
 * pause too.  A file being rewritten during a round is therefore either
 * untouched since the round read it or read again under the pause: never
 * a mix of two moments.  Without a valid journal (an older pifsd, a
 * journal that overflowed or was dropped by a swap), the final scan
 * stats everything under the pause, against the saved stat cache, as
 * before.  The saved cache drops times within the racy window of the
 * first round's start.
 *
 * What a write may wait: the two journal hand-overs, and the final scan
 * of what changed during the last round (at most PIFS_SNAP_QUICK bytes of
 * files, unless a worker rewrote big files through PIFS_SNAP_ROUNDS
 * rounds in a row: then those are read under the last pause, the last
 * resort, so the snapshot still ends).  A file read in a round and again
 * later is staged twice; the pack holds both (one unreferenced).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "safeio.h"
#include "store.h"

void pifs_snapshot_rounds_clear(struct pifs_git *g)
{
	free(g->roundcache.p);
	memset(&g->roundcache, 0, sizeof(g->roundcache));
	free(g->redo.p);
	memset(&g->redo, 0, sizeof(g->redo));
	g->rounds = 0;
	g->unpaused = 0;
	g->roundtoken = 0;
	g->rounds_nstat = 0;
	g->rounds_full = 0;
}

int pifs_git_snapshot_preread(struct pifs_git *g, const char *worker,
			      char *errbuf, size_t errlen)
{
	struct pifs_strbuf keep;
	struct timespec now;
	git_oid tree;
	int ret;

	pifs_errclear(errbuf, errlen);
	if (!g->rounds) {
		pifs_git_snapshot_abort(g);
		clock_gettime(CLOCK_REALTIME, &now);
		g->round_start = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	}
	pifs_snapshot_prepared_clear(g);
	snprintf(g->worker, sizeof(g->worker), "%s", worker);
	g->unpaused = 1;
	ret = pifs_scan_delta(g, g->st, worker, 1, &g->meta, &g->newcache,
			      &tree, errbuf, errlen);
	g->unpaused = 0;
	if (ret == 0)
		ret = pifs_statcache_seal(&g->newcache, NULL,
					  g->has_jn ? g->jn.newtoken : 0);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot read the delta of %s: %s",
			    worker, strerror(-ret));
		pifs_git_snapshot_abort(g);
		return ret;
	}
	keep = g->roundcache;
	g->roundcache = g->newcache;
	memset(&g->newcache, 0, sizeof(g->newcache));
	free(keep.p);
	g->roundtoken = g->has_jn ? g->jn.newtoken : 0;
	g->rounds++;
	g->rounds_nstat += g->nstat;
	g->rounds_full |= !g->used_jn;
	pifs_snapshot_prepared_clear(g);
	return 0;
}

int pifs_git_snapshot_cost(struct pifs_git *g, const char *worker,
			   uint64_t *bytes)
{
	const struct pifs_journal *j = &g->jn;
	const char *p, *end, *z;
	struct stat sb;
	int dfd, fd, pass;

	*bytes = UINT64_MAX;
	if (!g->rounds || !g->has_jn || !j->valid ||
	    j->token != g->roundtoken)
		return 0; /* the final scan stats everything */
	dfd = pifs_store_delta_dir(g->st, worker);
	if (dfd < 0)
		return dfd;
	*bytes = 0;
	for (pass = 0; pass < 2; pass++) {
		p = pass ? g->redo.p : j->buf;
		end = p ? p + (pass ? g->redo.len : j->len) : p;
		for (; p && p < end; p = z + 1) {
			z = memchr(p, '\0', (size_t)(end - p));
			if (!z)
				break;
			if (p[0] == 'f') {
				/* a directory renamed in: its whole subtree */
				*bytes = UINT64_MAX;
				goto out;
			}
			if (z - p < 2 || (z - p == 2 && p[1] == '.'))
				continue;
			fd = pifs_openat_beneath(dfd, p + 1,
						 O_PATH | O_NOFOLLOW, 0);
			if (fd < 0)
				continue; /* gone: nothing to read */
			if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
			    *bytes < UINT64_MAX - (uint64_t)sb.st_size)
				*bytes += (uint64_t)sb.st_size;
			close(fd);
		}
	}
out:
	close(dfd);
	return 0;
}
