/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd-reset.c - replacing a worker's delta as one atomic swap: pifs
 * reset (to a snapshot or the golden) and pifs rebase (onto another
 * golden, snapshotted before and after, conflicts recorded).  The new
 * delta is built in work/reset-WORKER-PID and swapped in by pifsd under
 * a pause on a mounted store, by the store itself otherwise.
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

/* Remove work/reset-* directories of resets that died (their pid is
 * gone); the daemon empties work/ at start anyway. */
static void clean_stale_resets(struct pifs_store *st)
{
	struct dirent *de;
	DIR *dir;
	long pid;
	int fd;
	char *dash;

	fd = openat(st->work_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "reset-", 6))
			continue;
		dash = strrchr(de->d_name, '-');
		pid = dash ? strtol(dash + 1, NULL, 10) : 0;
		if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			pifs_remove_tree(st->work_fd, de->d_name);
	}
	closedir(dir);
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
	uint64_t bytes;
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
	ret = unsnapshotted(&st, g, worker, &count, &bytes);
	if (ret < 0 && ret != -ENOENT)
		die(1, "cannot read the delta of %s: %s", worker,
		    strerror(-ret));
	if (count && !force)
		die(1,
		    "%s has %zu unsnapshotted change%s (%s); reset would lose "
		    "them (use --force)",
		    worker, count, count == 1 ? "" : "s", pifs_human(bytes, sz));
	clean_stale_resets(&st);
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
	cfd = ctl_connect(&st);
	if (cfd >= 0) {
		/* Mounted: freeze the worker, make sure nothing was written
		 * since the check above, and swap under that same pause. */
		if ((ret = pifs_ctl_pause(cfd, worker)) < 0) {
			pifs_remove_tree(st.work_fd, tmp);
			die(1, "pifsd could not pause %s: %s", worker, strerror(-ret));
		}
		if (!force && unsnapshotted(&st, g, worker, &count, &bytes) == 0 && count) {
			pifs_ctl_close(cfd);
			pifs_remove_tree(st.work_fd, tmp);
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
			pifs_remove_tree(st.work_fd, tmp);
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
			pifs_remove_tree(st.work_fd, tmp);
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

/* Snapshot worker, pausing it through cfd (a pifsd connection, or -1)
 * unless the caller holds the pause (held); dies on error.  Returns 1
 * when a snapshot was made (its id in snap->id). */
static int snapshot_now(struct pifs_git *g, const char *worker, int cfd,
			int held, const char *msg, int allow_empty,
			struct pifs_snapshot *snap)
{
	char err[ERRLEN];
	int ret;

	if (cfd >= 0 && !held && (ret = pifs_ctl_pause(cfd, worker)) < 0)
		die(1, "cannot pause %s: %s", worker, strerror(-ret));
	ret = pifs_git_snapshot_prepare(g, worker, msg, allow_empty, snap, err,
					sizeof(err));
	if (cfd >= 0 && !held && pifs_ctl_resume(cfd, worker) < 0 && ret == 0) {
		pifs_git_snapshot_abort(g);
		die(1, "cannot resume %s", worker);
	}
	if (ret == 0)
		ret = pifs_git_snapshot_finish(g, snap, err, sizeof(err));
	if (ret < 0) {
		if (cfd >= 0 && held)
			pifs_ctl_resume(cfd, worker);
		die(1, "cannot snapshot %s: %s", worker, err);
	}
	return snap->created;
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
	struct pifs_meta m, out;
	struct pifs_store st;
	struct pifs_git *g;
	int c, theirs = 0, resolved = 0, quiet = 0, ret, cfd, has_head;
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
	if (cfd >= 0 && (ret = pifs_ctl_pause(cfd, worker)) < 0)
		die(1, "cannot pause %s: %s", worker, strerror(-ret));
	/* 1. the state to rebase, and the way back: a snapshot (the last
	 * one when nothing changed since) */
	msg = pifs_strdupf("before rebase onto golden %s", newid);
	if (!msg)
		die(1, "out of memory");
	if (snapshot_now(g, worker, cfd, 1, msg, !has_head, &snap))
		memcpy(before, snap.id, sizeof(before));
	else
		memcpy(before, head, sizeof(before));
	free(msg);
	/* 2. its META onto the new golden, 3. built in work/ */
	pifs_meta_init(&m);
	if (pifs_git_load(g, before, &m, err, sizeof(err)) < 0 ||
	    pifs_rebase_meta(&st, &m, newid, theirs, &out, &conf, &nconf, err,
			     sizeof(err)) < 0) {
		if (cfd >= 0)
			pifs_ctl_resume(cfd, worker);
		die(1, "cannot rebase %s onto golden %s: %s", worker, newid,
		    err);
	}
	pifs_meta_release(&m);
	clean_stale_resets(&st);
	snprintf(tmp, sizeof(tmp), "reset-%s-%ld", worker, (long)getpid());
	ret = pifs_git_materialize_meta(g, &st, &out, NULL, tmp, err,
					sizeof(err));
	progress_end();
	if (ret < 0) {
		if (cfd >= 0)
			pifs_ctl_resume(cfd, worker);
		die(1, "cannot rebase %s onto golden %s: %s", worker, newid,
		    err);
	}
	pifs_meta_release(&out);
	/* 4. one atomic swap, as a reset does */
	if (cfd >= 0) {
		ret = pifs_ctl_swap(cfd, worker, tmp, err, sizeof(err));
		if (pifs_ctl_resume(cfd, worker) < 0)
			pifs_warn("pifsd did not confirm resuming %s", worker);
	} else {
		ret = pifs_store_delta_swap(&st, worker, tmp);
		if (ret < 0)
			snprintf(err, sizeof(err), "%s", strerror(-ret));
	}
	if (ret < 0) {
		pifs_remove_tree(st.work_fd, tmp);
		die(1, "cannot swap in the rebased delta of %s (it is still on "
		       "golden %s): %s", worker, oldid, err);
	}
	if ((ret = pifs_conflicts_save(&st, worker, conf, nconf)) < 0)
		pifs_warn("cannot record the conflicts of %s: %s", worker,
			  strerror(-ret));
	/* 5. the rebased state as a snapshot, its base */
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
	snapshot_now(g, worker, cfd, 0, msg, 1, &snap);
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
