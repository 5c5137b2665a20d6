/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd-reset.c - replacing a worker's delta as one atomic swap: pifs
 * reset (to a snapshot or the golden) and pifs rebase (onto another
 * golden, snapshotted before and after, conflicts recorded).  The new
 * delta is built in work/reset-WORKER-PID and swapped in by pifsd under
 * a pause on a mounted store, by the store itself otherwise.
 *
 * Neither stops a mounted worker for longer than a short pause (a write
 * waits at most that), and neither ever swaps in a delta that is not
 * exactly what it means to be:
 *
 * reset.  Unless --force, the check for unsnapshotted changes reads the
 * delta with the worker running: first a pause only to take pifsd's
 * journal (pifsd begins a new one under a token), then the check, then
 * the target delta is built in work/.  Under the pause of the swap the
 * journal is taken again: valid, under that token and empty, nothing
 * changed since the check, which holds; otherwise the check is made
 * again there, under the pause, as before (and refuses as before).
 *
 * rebase.
 *  1. snapshot "before" (cmd-snapshot.c, snapshot_worker: read with the
 *     worker running, a short final pause); pifsd's journal runs under
 *     token T from that pause on.
 *  2. unpaused: its META onto the new golden (rebase.c), the rebuilt
 *     delta written in work/ (pifs_git_materialize_meta): the expensive
 *     part, proportional to the delta.
 *  3. pause; take the journal.  Valid, under T and empty: the delta is
 *     still the state "before" holds, so the rebuilt one is its rebase:
 *     swap under this pause, resume.  Otherwise the worker changed
 *     something since T:
 *     - much (more than PIFS_SNAP_QUICK bytes of files named, or a
 *       directory renamed in): resume; a new "before" snapshot from that
 *       journal on, read with the worker running as in 1 (its own short
 *       final pause gives the next T); its META rebased and the rebuilt
 *       delta brought to it by rewriting only what differs
 *       (pifs_git_materialize_update), unpaused; back to 3.
 *     - little, or PIFS_SNAP_ROUNDS rounds went by (a worker rewriting
 *       big files all the time; the last resort, so a rebase ends), or
 *       pifsd keeps no journal: under this same pause the new "before"
 *       snapshot follows the journal (reads only what it names), is
 *       committed, rebased and applied to the rebuilt delta, which is
 *       swapped in; resume.
 *  4. the "after" snapshot, read with the worker running as in 1.
 * What the worker waits for: the snapshots' short pauses, the journal
 * hand-over and the swap, and in the last case the reading, committing
 * and rewriting of what changed during the last round.  The last
 * "before" snapshot is always the state the rebased delta was built
 * from, committed before the swap, so `pifs reset --to` it undoes the
 * rebase exactly.  A kill at any moment leaves the worker on its old
 * delta (nothing swapped yet; work/ holds a rebuilt delta or a partial
 * one, removed by the next reset or rebase, or pifsd's start) or on the
 * new one: the swap is one exchange (pifsd's, or the store's unmounted).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "gitstore.h"
#include "rebase.h"
#include "registry.h"
#include "safeio.h"
#include "store.h"
#include "util.h"

static const char usage_reset[] =
    "usage: pifs [--store DIR] reset WORKER [--to REV | --golden] [--force]\n"
    "                                 [--quiet]\n"
    "\n"
    "Replace WORKER's delta by its last snapshot, by snapshot REV, or by an\n"
    "empty delta (--golden), atomically.  Refused when the delta has\n"
    "changes no snapshot holds, unless --force.  The branch is not moved:\n"
    "every snapshot stays reachable.\n"
    "On a terminal, the writing of each big file (4 MiB and more) is shown\n"
    "on stderr; --quiet turns that off.\n";

static const char usage_rebase[] =
    "usage: pifs [--store DIR] rebase WORKER --golden ID [--theirs] [--quiet]\n"
    "       pifs [--store DIR] rebase WORKER --resolved\n"
    "\n"
    "Move WORKER onto golden ID keeping its own changes.  A snapshot is\n"
    "taken first (pifs reset WORKER --to it undoes the rebase) and the\n"
    "rebased state is snapshotted after.  Where the new golden changed a\n"
    "path the worker changed too, the worker's version is kept (--theirs:\n"
    "the golden's) and the path is listed as a conflict, also by\n"
    "'pifs status', until the next reset or rebase, or --resolved.\n"
    "ID: a golden id or a unique prefix (pifs golden list).\n"
    "On a terminal, the reading and writing of each big file is shown on\n"
    "stderr; --quiet turns that off.\n";

/* Could the snapshot read what journal j names (a mounted worker's
 * changes since a pause) under the pause at once: no directory renamed
 * in, at most PIFS_SNAP_QUICK bytes of files?  As the snapshot's own
 * rounds decide (pifs_git_snapshot_cost). */
static int journal_quick(struct pifs_store *st, const char *worker,
			 const struct pifs_journal *j)
{
	const char *p = j->buf, *end = j->buf + j->len, *z;
	uint64_t bytes = 0;
	struct stat sb;
	int dfd, fd, quick = 1;

	if (!j->valid)
		return 0;
	dfd = pifs_store_delta_open(st, worker);
	if (dfd < 0)
		return 0;
	for (; p && p < end && quick; p = z + 1) {
		z = memchr(p, '\0', (size_t)(end - p));
		if (!z || p[0] == 'f') {
			quick = 0;
			break;
		}
		if (z - p < 2 || (z - p == 2 && p[1] == '.'))
			continue;
		fd = pifs_openat_beneath(dfd, p + 1, O_PATH | O_NOFOLLOW, 0);
		if (fd < 0)
			continue; /* gone: nothing to read */
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
			bytes += (uint64_t)sb.st_size;
		close(fd);
		quick = bytes <= PIFS_SNAP_QUICK;
	}
	close(dfd);
	return quick;
}

/* Did nothing change in worker's delta since pifsd began its journal
 * under token (the worker paused on cfd; its journal is taken, so
 * pifsd begins a new one)?  1 if so, 0 if something may have (*j then
 * holds the journal, j->buf malloc'd, or j->valid is 0 for a pifsd
 * without journals), -1 with err set if pifsd failed. */
static int unchanged_since(int cfd, const char *worker, uint64_t token,
			   struct pifs_journal *j, char *err, size_t errlen)
{
	int ret = pifs_ctl_journal(cfd, worker, j);

	if (ret == -EINVAL) {
		memset(j, 0, sizeof(*j));
		return 0;
	}
	if (ret < 0) {
		pifs_errclear(err, errlen); /* not what an earlier call left */
		pifs_seterr(err, errlen, "cannot read the journal of %s: %s",
			    worker, strerror(-ret));
		return -1;
	}
	if (j->valid && token && j->token == token && j->len == 0) {
		free(j->buf);
		j->buf = NULL;
		return 1;
	}
	return 0;
}

/* The delta of snapshot id moved onto golden newid: *out (released
 * first) and its conflicts (freed first); dies on error. */
static void rebased_meta(struct pifs_git *g, struct pifs_store *st,
			 const char *worker, const char *id, const char *newid,
			 int theirs, struct pifs_meta *out,
			 struct pifs_conflict **conf, size_t *nconf,
			 const char *tmp)
{
	char err[ERRLEN];
	struct pifs_meta m;

	pifs_meta_release(out);
	pifs_conflicts_free(*conf, *nconf);
	*conf = NULL;
	*nconf = 0;
	pifs_meta_init(&m);
	if (pifs_git_load(g, id, &m, err, sizeof(err)) < 0 ||
	    pifs_rebase_meta(st, &m, newid, theirs, out, conf, nconf, err,
			     sizeof(err)) < 0) {
		if (tmp)
			pifs_store_work_remove(st, tmp);
		die(1, "cannot rebase %s onto golden %s: %s", worker, newid,
		    err);
	}
	pifs_meta_release(&m);
}

int cmd_reset(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"to", required_argument, NULL, 't'},
	    {"golden", no_argument, NULL, 'g'},
	    {"force", no_argument, NULL, 'f'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *to = NULL, *worker;
	struct pifs_store st;
	struct pifs_git *g;
	char err[ERRLEN], id[41], tmp[PIFS_NAME_MAX + 32], sz[32], gold[17];
	int c, golden = 0, force = 0, quiet = 0, ret, cfd;
	struct pifs_journal jn;
	uint64_t bytes, token = 0;
	size_t count;

	while ((c = sub_getopt(argc, argv, ":fqh", opts, usage_reset)) != -1) {
		if (c == 't')
			to = optarg;
		else if (c == 'g')
			golden = 1;
		else if (c == 'f')
			force = 1;
		else if (c == 'q')
			quiet = 1;
	}
	if (argc - optind != 1)
		die(EXIT_USAGE, "reset needs a WORKER");
	if (to && golden)
		die(EXIT_USAGE, "reset takes --to REV or --golden, not both");
	worker = argv[optind];
	open_worker_store(&st, worker);
	lock_store(&st);
	g = open_git(&st, 0);
	progress_start(g, quiet);
	if (golden) {
		id[0] = '\0';
	} else if (to) {
		resolve_rev(g, worker, to, id);
	} else {
		ret = g ? pifs_git_head(g, worker, id) : -ENOENT;
		if (ret == -ENOENT)
			die(1, "%s has no snapshot to reset to (use --golden)",
			    worker);
		if (ret < 0)
			die(1, "cannot read the branch of %s: %s", worker,
			    strerror(-ret));
	}
	cfd = ctl_connect(&st);
	if (cfd >= 0 && !force) {
		/* Mounted: the check below reads the delta with the worker
		 * running; pifsd's journal, begun here, says at the swap
		 * whether anything changed since. */
		if ((ret = pifs_ctl_pause(cfd, worker)) < 0)
			die(1, "pifsd could not pause %s: %s", worker,
			    strerror(-ret));
		ret = unchanged_since(cfd, worker, 0, &jn, err, sizeof(err));
		if (ret < 0)
			die(1, "%s", err);
		token = jn.valid ? jn.newtoken : 0;
		free(jn.buf);
		if ((ret = pifs_ctl_resume(cfd, worker)) < 0)
			die(1, "pifsd could not resume %s: %s", worker,
			    strerror(-ret));
	}
	ret = unsnapshotted(&st, g, worker, &count, &bytes);
	if (ret < 0 && ret != -ENOENT)
		die(1, "cannot read the delta of %s: %s", worker,
		    strerror(-ret));
	if (count && !force)
		die(1,
		    "%s has %zu unsnapshotted change%s (%s); reset would lose "
		    "them (use --force)",
		    worker, count, count == 1 ? "" : "s", pifs_human(bytes, sz));
	pifs_store_work_reap(&st, "reset-");
	snprintf(tmp, sizeof(tmp), "reset-%s-%ld", worker, (long)getpid());
	ret = pifs_store_worker_golden(&st, worker, gold);
	if (ret == -ENOENT) /* no delta: a new one on the default */
		ret = snprintf(gold, sizeof(gold), "%s", st.conf.golden) < 0;
	if (ret < 0 && !id[0])
		die(1, "cannot tell the golden of %s: %s", worker,
		    strerror(-ret));
	ret = pifs_git_materialize(g, &st, id[0] ? id : NULL, gold, tmp, err,
				   sizeof(err));
	progress_end();
	if (ret < 0)
		die(1, "cannot reset %s to %s: %s", worker,
		    id[0] ? id : "the golden", err);
	if (cfd >= 0) {
		/* Mounted: freeze the worker, make sure nothing was written
		 * since the check above, and swap under that same pause.
		 * The journal says so at once; only when it names a change
		 * (or pifsd keeps none) is the delta checked again here. */
		if ((ret = pifs_ctl_pause(cfd, worker)) < 0) {
			pifs_store_work_remove(&st, tmp);
			die(1, "pifsd could not pause %s: %s", worker, strerror(-ret));
		}
		ret = force ? 1 : unchanged_since(cfd, worker, token, &jn, err,
						  sizeof(err));
		if (ret < 0) {
			pifs_store_work_remove(&st, tmp);
			die(1, "%s", err);
		}
		if (ret == 0)
			free(jn.buf);
		if (ret == 0 && unsnapshotted(&st, g, worker, &count, &bytes) == 0 && count) {
			pifs_ctl_close(cfd);
			pifs_store_work_remove(&st, tmp);
			die(1,
			    "%s has %zu unsnapshotted change%s (%s); reset would lose "
			    "them (use --force)",
			    worker, count, count == 1 ? "" : "s", pifs_human(bytes, sz));
		}
		ret = pifs_ctl_swap(cfd, worker, tmp, err, sizeof(err));
		if (pifs_ctl_resume(cfd, worker) < 0)
			pifs_warn("pifsd did not confirm resuming %s", worker);
		pifs_ctl_close(cfd);
		if (ret < 0) {
			/* swapped or not, tmp holds the state the worker is not in */
			pifs_store_work_remove(&st, tmp);
			if (ret == -EPIPE)
				die(1, "pifsd exited during the reset of %s: "
				       "the worker is as it was or reset (see "
				       "pifs status once it is mounted again)",
				    worker);
			die(1, "pifsd could not swap in the new delta of %s: %s",
			    worker, err[0] ? err : strerror(-ret));
		}
	} else {
		ret = pifs_store_delta_swap(&st, worker, tmp);
		if (ret < 0) {
			pifs_store_work_remove(&st, tmp);
			die(1, "cannot swap in the new delta of %s: %s", worker,
			    strerror(-ret));
		}
	}
	if ((ret = pifs_conflicts_save(&st, worker, NULL, 0)) < 0)
		pifs_warn("cannot clear the rebase conflicts of %s: %s", worker,
			  strerror(-ret));
	if (id[0])
		printf("reset %s to %.7s\n", worker, id);
	else
		printf("reset %s to the golden %s\n", worker, gold);
	close_store(&st, NULL, g);
	return 0;
}

int cmd_rebase(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"golden", required_argument, NULL, 'g'},
	    {"theirs", no_argument, NULL, 't'},
	    {"resolved", no_argument, NULL, 'r'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *worker, *garg = NULL;
	char err[ERRLEN], newid[17], oldid[17], head[41], before[41];
	char tmp[PIFS_NAME_MAX + 32], *msg;
	struct pifs_conflict *conf = NULL;
	struct pifs_snapshot snap;
	struct pifs_meta out, next;
	struct pifs_store st;
	struct pifs_git *g;
	int c, theirs = 0, resolved = 0, quiet = 0, ret, cfd, has_head;
	int round, last = 0;
	uint64_t token = 0;
	size_t nconf = 0;

	while ((c = sub_getopt(argc, argv, ":qh", opts, usage_rebase)) != -1) {
		if (c == 'q')
			quiet = 1;
		else if (c == 'g')
			garg = optarg;
		else if (c == 't')
			theirs = 1;
		else if (c == 'r')
			resolved = 1;
	}
	if (argc - optind != 1)
		die(EXIT_USAGE, "rebase needs a WORKER");
	worker = argv[optind];
	if (resolved && (garg || theirs))
		die(EXIT_USAGE, "rebase --resolved takes no other option");
	if (!resolved && !garg)
		die(EXIT_USAGE, "rebase needs --golden ID");
	open_worker_store(&st, worker);
	if (resolved) {
		lock_store(&st);
		if ((ret = pifs_conflicts_save(&st, worker, NULL, 0)) < 0)
			die(1, "cannot clear the conflicts of %s: %s", worker,
			    strerror(-ret));
		printf("%s: rebase conflicts cleared\n", worker);
		pifs_store_close(&st);
		return 0;
	}
	need_golden(&st, garg, newid);
	lock_store(&st);
	if ((ret = pifs_store_worker_golden(&st, worker, oldid)) < 0)
		die(1, "cannot tell the golden of %s: %s", worker,
		    strerror(-ret));
	if (!strcmp(oldid, newid)) {
		printf("%s is on golden %s already\n", worker, newid);
		pifs_store_close(&st);
		return 0;
	}
	g = open_git(&st, 1);
	progress_start(g, quiet);
	has_head = pifs_git_head(g, worker, head) == 0;
	cfd = ctl_connect(&st);
	/* 1. the state to rebase, and the way back: a snapshot (the last
	 * one when nothing changed since), read with the worker running */
	msg = pifs_strdupf("before rebase onto golden %s", newid);
	if (!msg)
		die(1, "out of memory");
	if (snapshot_worker(g, cfd, worker, msg, !has_head, NULL, &token,
			    &snap, err, sizeof(err)) < 0)
		die(1, "%s", err);
	memcpy(before, snap.created ? snap.id : head, sizeof(before));
	/* 2. its META onto the new golden, 3. built in work/, unpaused */
	pifs_meta_init(&out);
	pifs_meta_init(&next);
	rebased_meta(g, &st, worker, before, newid, theirs, &out, &conf,
		     &nconf, NULL);
	pifs_store_work_reap(&st, "reset-");
	snprintf(tmp, sizeof(tmp), "reset-%s-%ld", worker, (long)getpid());
	ret = pifs_git_materialize_meta(g, &st, &out, NULL, tmp, err,
					sizeof(err));
	progress_end();
	if (ret < 0)
		die(1, "cannot rebase %s onto golden %s: %s", worker, newid,
		    err);
	/* 4. catch up with what the worker changed meanwhile, then one
	 * atomic swap under a short pause (design at the top) */
	for (round = 1; cfd >= 0; round++) {
		struct pifs_journal jn;

		if ((ret = pifs_ctl_pause(cfd, worker)) < 0) {
			pifs_store_work_remove(&st, tmp);
			die(1, "cannot pause %s: %s", worker, strerror(-ret));
		}
		ret = unchanged_since(cfd, worker, token, &jn, err,
				      sizeof(err));
		if (ret < 0) {
			pifs_store_work_remove(&st, tmp);
			die(1, "%s", err);
		}
		if (ret == 1)
			break; /* the delta is what tmp was rebuilt from */
		last = round >= PIFS_SNAP_ROUNDS || !jn.valid ||
		       journal_quick(&st, worker, &jn);
		if (!last) {
			/* much changed: read it with the worker running */
			ret = snapshot_worker(g, cfd, worker, msg, 0, &jn,
					      &token, &snap, err, sizeof(err));
			free(jn.buf);
			if (ret < 0) {
				pifs_store_work_remove(&st, tmp);
				die(1, "%s", err);
			}
		} else {
			/* little (or the last round): read it under this
			 * pause and swap under it too */
			pifs_git_set_journal(g, jn.valid ? &jn : NULL);
			free(jn.buf);
			ret = pifs_git_snapshot_prepare(g, worker, msg, 0, &snap,
							err, sizeof(err));
			if (ret == 0)
				ret = pifs_git_snapshot_finish(g, &snap, err,
							       sizeof(err));
			if (ret < 0) {
				pifs_store_work_remove(&st, tmp);
				die(1, "cannot snapshot %s: %s", worker, err);
			}
		}
		if (!snap.created) {
			if (last)
				break;
			continue;
		}
		memcpy(before, snap.id, sizeof(before));
		rebased_meta(g, &st, worker, before, newid, theirs, &next,
			     &conf, &nconf, tmp);
		ret = pifs_git_materialize_update(g, &st, &out, &next, tmp,
						  err, sizeof(err));
		progress_end();
		if (ret < 0) {
			pifs_store_work_remove(&st, tmp);
			die(1, "cannot rebase %s onto golden %s: %s", worker,
			    newid, err);
		}
		pifs_meta_release(&out);
		out = next;
		pifs_meta_init(&next);
		if (last)
			break; /* paused: swapped under this pause */
	}
	free(msg);
	pifs_meta_release(&out);
	/* 5. one atomic swap, as a reset does */
	if (cfd >= 0) {
		ret = pifs_ctl_swap(cfd, worker, tmp, err, sizeof(err));
		if (pifs_ctl_resume(cfd, worker) < 0)
			pifs_warn("pifsd did not confirm resuming %s", worker);
	} else {
		ret = pifs_store_delta_swap(&st, worker, tmp);
		if (ret < 0) {
			pifs_errclear(err, sizeof(err));
			pifs_seterr(err, sizeof(err), "%s", strerror(-ret));
		}
	}
	if (ret < 0) {
		pifs_store_work_remove(&st, tmp);
		die(1, "cannot swap in the rebased delta of %s (it is still on "
		       "golden %s): %s", worker, oldid, err);
	}
	if ((ret = pifs_conflicts_save(&st, worker, conf, nconf)) < 0)
		pifs_warn("cannot record the conflicts of %s: %s", worker,
			  strerror(-ret));
	/* 6. the rebased state as a snapshot, its base, read unpaused */
	msg = pifs_strdupf("rebase onto golden %s (from %s): %zu conflict%s",
			   newid, oldid, nconf, nconf == 1 ? "" : "s");
	for (size_t i = 0; msg && i < nconf; i++) {
		char *esc = pifs_path_escape(conf[i].path), *t;

		t = esc ? pifs_strdupf("%s%s  C %s (%s)", msg, i ? "\n" : "\n\n",
				       esc, conf[i].what)
			: NULL;
		free(esc);
		free(msg);
		msg = t;
	}
	if (!msg)
		die(1, "out of memory");
	if (snapshot_worker(g, cfd, worker, msg, 1, NULL, NULL, &snap, err,
			    sizeof(err)) < 0)
		die(1, "%s", err);
	progress_end();
	free(msg);
	if (cfd >= 0)
		pifs_ctl_close(cfd);
	printf("rebased %s onto golden %s (was %s)\n", worker, newid, oldid);
	printf("snapshot before: %.7s (pifs reset %s --to %.7s undoes the "
	       "rebase)\n", before, worker, before);
	printf("snapshot after:  %.7s\n", snap.id);
	for (size_t i = 0; i < nconf; i++) {
		char *esc = pifs_path_escape(conf[i].path);

		printf("C %s (%s)\n", esc ? esc : "?", conf[i].what);
		free(esc);
	}
	if (nconf)
		printf("%zu conflict%s: %s\n", nconf, nconf == 1 ? "" : "s",
		       theirs ? "the new golden's version was taken"
			      : "the worker's version was kept (--theirs "
				"takes the golden's)");
	pifs_conflicts_free(conf, nconf);
	close_store(&st, NULL, g);
	return 0;
}
