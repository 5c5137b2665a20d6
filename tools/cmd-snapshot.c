/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd-snapshot.c - a worker's history in the store's git repository:
 * pifs snapshot (records the delta, pausing the worker on a mounted
 * store and following pifsd's journal), log, diff (against the golden
 * or a snapshot) and show (a file as it was, generated identity files
 * included).  Also what reset and status need of it: a revision
 * resolved, and the changes no snapshot holds yet.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "gitstore.h"
#include "identity.h"
#include "json.h"
#include "registry.h"
#include "safeio.h"
#include "store.h"
#include "util.h"

/* pifsd died (kill -9, a crash) during a snapshot */
#define PIFSD_GONE "pifsd exited during the snapshot of %s: it was not recorded"

static const char usage_snapshot[] =
    "usage: pifs [--store DIR] snapshot WORKER [-m MESSAGE] [--allow-empty]\n"
    "                                  [--stats] [--quiet]\n"
    "       pifs [--store DIR] snapshot --all [-m MESSAGE] [--allow-empty]\n"
    "                                  [--stats] [--quiet]\n"
    "\n"
    "Record WORKER's delta as a new snapshot (a commit on the branch\n"
    "workers/WORKER of STORE/git) and print its id.  If nothing changed\n"
    "since the last snapshot, nothing is recorded unless --allow-empty.\n"
    "On a mounted store only what pifsd saw change is looked at, read\n"
    "while the worker runs; its view is paused only to read again what\n"
    "changed meanwhile (the snapshot is the delta at that pause).\n"
    "--stats adds a\n"
    "line: files and bytes changed, objects written, and whether the scan\n"
    "followed pifsd's journal or looked at every entry.\n"
    "On a terminal, the reading of each big file (4 MiB and more) is shown\n"
    "on stderr (bytes done, rate, time left), and the scan as a count of\n"
    "entries and bytes read; --quiet turns that off.\n"
    "--all: every registered worker in turn, one line each: 'WORKER ID', or\n"
    "'WORKER unchanged' (with --allow-empty all get a snapshot).  A worker\n"
    "that fails is named on stderr and the others are still tried; exit 1\n"
    "if any failed.\n";

static const char usage_log[] =
    "usage: pifs [--store DIR] log WORKER [--json]\n"
    "\n"
    "WORKER's snapshots, newest first: id, date, message, files changed and\n"
    "their size.  The one the delta is based on is marked '*'.  --json\n"
    "prints them as one JSON document (README: Machine-readable output).\n";

static const char usage_diff[] =
    "usage: pifs [--store DIR] diff [--json] [--exit-code] WORKER [REV]\n"
    "                              [-- PATH...]\n"
    "\n"
    "What WORKER's view changed, against the golden (or against snapshot\n"
    "REV): 'A path', 'D path', 'M path (content, mode 644->755, owner\n"
    "0:0->1000:1000, mtime, xattrs, type)'.  Directories whose only change\n"
    "is their mtime are not listed.  PATHs limit the output to those paths\n"
    "and what is below them.\n"
    "REV: a snapshot id (at least 4 hex digits), HEAD (or latest), HEAD~N.\n"
    "--json prints the changes as one JSON document (README: Machine-\n"
    "readable output).\n"
    "--exit-code: exit 1 if there are changes, 0 if there are none; then an\n"
    "error exits 3 (not 1), a usage error 2: above 1 is always trouble.\n";

static const char usage_show[] =
    "usage: pifs [--store DIR] show WORKER REV:PATH\n"
    "\n"
    "Print the file PATH (or a symlink's target) as WORKER's view showed it\n"
    "at snapshot REV.\n";

/* Strip "/" and "./" in front and "/" behind. */
static char *norm_path(const char *p)
{
	char *r;
	size_t n;

	while (*p == '/' || (p[0] == '.' && p[1] == '/'))
		p += *p == '/' ? 1 : 2;
	r = strdup(*p ? p : ".");
	if (!r)
		die(1, "out of memory");
	n = strlen(r);
	while (n > 1 && r[n - 1] == '/')
		r[--n] = '\0';
	return r;
}

void resolve_rev(struct pifs_git *g, const char *worker,
			const char *rev, char id[41])
{
	char err[ERRLEN];

	if (!g)
		die(1, "'%s' is not a snapshot of %s (it has no snapshots)",
		    rev, worker);
	if (pifs_git_resolve(g, worker, rev, id, err, sizeof(err)) < 0)
		die(1, "%s", err);
}

static void load_meta(struct pifs_git *g, const char *worker,
		      const char *id, struct pifs_meta *m)
{
	char err[ERRLEN];

	if (pifs_git_load(g, id, m, err, sizeof(err)) < 0)
		die(1, "%s: %s", worker, err);
}

/* Changes of the live delta against its base: count and bytes; -ENOENT
 * when the worker has no delta. */
int unsnapshotted(struct pifs_store *st, struct pifs_git *g,
			 const char *worker, size_t *count, uint64_t *bytes)
{
	struct pifs_meta cur, base;
	struct pifs_change *ch;
	char err[ERRLEN], id[41];
	size_t n, i;
	int ret, has_base;

	*count = 0;
	*bytes = 0;
	if ((ret = pifs_store_delta_open(st, worker)) < 0)
		return ret;
	close(ret);
	pifs_meta_init(&base);
	ret = pifs_git_base_get(st, worker, id);
	has_base = ret == 0;
	if (ret < 0 && ret != -ENODATA)
		die(1, "%s: bad " PIFS_XATTR_BASE " on its delta: %s", worker,
		    strerror(-ret));
	if (has_base && !g)
		die(1, "%s: its delta's base %.7s is not in the store", worker,
		    id);
	if (has_base)
		load_meta(g, worker, id, &base);
	if (pifs_git_scan(g, st, worker, &cur, err, sizeof(err)) < 0)
		die(1, "%s", err);
	if (pifs_git_diff(g, st, has_base ? &base : NULL, &cur, NULL, 0, &ch,
			  &n, err, sizeof(err)) < 0)
		die(1, "%s: %s", worker, err);
	*count = n;
	for (i = 0; i < n; i++)
		*bytes += ch[i].bytes;
	pifs_changes_free(ch, n);
	pifs_meta_release(&cur);
	pifs_meta_release(&base);
	return 0;
}

/* Pause worker and take pifsd's journal into g.  0; -EINVAL from a
 * pifsd without journals (then the worker stays paused); else -1 with
 * the message in err and the worker resumed (if pifsd still answers). */
static int pause_journal(struct pifs_git *g, int cfd, const char *worker,
			 uint64_t *token, char *err, size_t errlen)
{
	struct pifs_journal jn;
	int ret;

	*token = 0;
	ret = pifs_ctl_pause(cfd, worker);
	if (ret == -EPIPE) {
		pifs_seterr(err, errlen, PIFSD_GONE, worker);
		return -1;
	}
	if (ret < 0) {
		pifs_seterr(err, errlen, "cannot pause %s: %s", worker,
			    strerror(-ret));
		return -1;
	}
	ret = pifs_ctl_journal(cfd, worker, &jn);
	if (ret == 0) {
		pifs_git_set_journal(g, &jn);
		*token = jn.newtoken;
		free(jn.buf);
		return 0;
	}
	if (ret == -EINVAL)
		return ret;
	if (ret == -EPIPE)
		pifs_seterr(err, errlen, PIFSD_GONE, worker);
	else
		pifs_seterr(err, errlen, "cannot read the journal of %s: %s",
			    worker, strerror(-ret));
	if (ret != -EPIPE)
		(void)pifs_ctl_resume(cfd, worker);
	return -1;
}

/* Resume worker after a pause that read nothing; -1 with err set. */
static int resume_or_say(int cfd, const char *worker, char *err,
			 size_t errlen)
{
	int ret = pifs_ctl_resume(cfd, worker);

	if (ret == 0)
		return 0;
	if (ret == -EPIPE)
		pifs_seterr(err, errlen, PIFSD_GONE, worker);
	else
		pifs_seterr(err, errlen, "cannot resume %s: %s", worker,
			    strerror(-ret));
	return -1;
}

/*
 * One worker's snapshot into snap, pausing it on pifsd's control
 * connection cfd when the store is mounted (cfd -1: it is not).  The
 * caller holds the store lock.  0, or -1 with the message in err (the
 * worker named): nothing is recorded then, and the worker is not left
 * paused (if pifsd still answers).  taken: the caller paused the worker
 * on cfd and took its journal into *taken (the snapshot goes on from
 * there); else NULL.  *token (may be NULL): the journal token pifsd runs
 * under since the snapshot's final pause, 0 when it followed none.
 *
 * On a mounted store the changed data is read while the worker runs and
 * the pause at the end only reads what changed meanwhile (the rounds of
 * overlay/git/snapshot_rounds.c): a write waits for the journal hand-overs and
 * that last short scan, not for the whole read.
 */
int snapshot_worker(struct pifs_git *g, int cfd, const char *worker,
		    const char *msg, int allow_empty,
		    const struct pifs_journal *taken, uint64_t *token,
		    struct pifs_snapshot *snap, char *err, size_t errlen)
{
	uint64_t cost, tok = 0;
	int ret, round;

	pifs_errclear(err, errlen);
	pifs_git_set_journal(g, NULL); /* none left from another worker */
	pifs_git_snapshot_abort(g);
	if (token)
		*token = 0;
	if (cfd >= 0) {
		if (taken) {
			pifs_git_set_journal(g, taken);
			tok = taken->newtoken;
			ret = 0;
		} else {
			ret = pause_journal(g, cfd, worker, &tok, err, errlen);
		}
		if (ret == -1)
			return -1;
		/* An older pifsd (no journal): everything under the pause. */
		for (round = 1; ret == 0; round++) {
			if (resume_or_say(cfd, worker, err, errlen) < 0)
				goto fail;
			ret = pifs_git_snapshot_preread(g, worker, err, errlen);
			if (ret < 0) {
				pifs_seterr_prefix(err, errlen, ret,
						   "cannot snapshot %s", worker);
				goto fail;
			}
			pifs_errclear(err, errlen); /* a success tells nothing */
			ret = pause_journal(g, cfd, worker, &tok, err, errlen);
			if (ret == -1)
				goto fail;
			if (ret == 0 && round + 1 < PIFS_SNAP_ROUNDS &&
			    pifs_git_snapshot_cost(g, worker, &cost) == 0 &&
			    cost > PIFS_SNAP_QUICK)
				continue;
			break;
		}
	}
	ret = pifs_git_snapshot_prepare(g, worker, msg, allow_empty, snap, err,
					errlen);
	if (ret == 0)
		pifs_errclear(err, errlen);
	if (cfd >= 0) {
		int r2 = pifs_ctl_resume(cfd, worker);

		/* pifsd gone under the pause (-EPIPE): what was read may be
		 * whole, but nothing says so; the snapshot is dropped. */
		if (r2 < 0 && ret == 0) {
			pifs_git_snapshot_abort(g);
			if (r2 == -EPIPE)
				pifs_seterr(err, errlen, PIFSD_GONE, worker);
			else
				pifs_seterr(err, errlen, "cannot resume %s: %s",
					    worker, strerror(-r2));
			return -1;
		}
	}
	if (ret < 0 ||
	    (ret = pifs_git_snapshot_finish(g, snap, err, errlen)) < 0) {
		pifs_seterr_prefix(err, errlen, ret, "cannot snapshot %s",
				   worker);
		return -1;
	}
	if (token)
		*token = tok;
	return 0;
fail:
	pifs_git_snapshot_abort(g);
	return -1;
}

static void print_stats(const struct pifs_snapshot *snap)
{
	printf("files %u bytes %llu objects %u scan %s stated %u\n",
	       snap->files, (unsigned long long)snap->bytes, snap->objects,
	       snap->journal ? "journal" : "full", snap->stated);
}

/* Does worker's delta hold nothing (not a file, not a whiteout)?  One
 * that cannot be read is not empty: its snapshot tells why. */
static int empty_delta(struct pifs_store *st, const char *worker)
{
	return pifs_store_delta_empty(st, worker) == 1;
}

/* pifs snapshot --all: every registered worker in turn, under one lock
 * and one control connection; a failure is told and the rest tried. */
static int snapshot_all(const char *msg, int allow_empty, int stats,
			int quiet)
{
	struct pifs_snapshot snap;
	struct pifs_registry reg;
	struct pifs_store st;
	struct pifs_git *g;
	char err[ERRLEN];
	int cfd, failed = 0, ret;

	open_store(&st, store_path());
	lock_store(&st);
	load_registry(&st, &reg);
	pifs_git_init_async(); /* meanwhile: pifsd */
	cfd = ctl_connect(&st);
	g = open_git(&st, 1);
	progress_start(g, quiet);
	for (size_t i = 0; i < reg.count; i++) {
		const char *worker = reg.workers[i].name;
		char base[41];

		/* A first snapshot is made even of nothing (the golden as it
		 * is); a nightly run leaves a worker that never changed be. */
		if (!allow_empty &&
		    pifs_git_base_get(&st, worker, base) == -ENODATA &&
		    empty_delta(&st, worker)) {
			printf("%s unchanged\n", worker);
			continue;
		}
		pifs_git_cache_prefetch(&st, worker);
		ret = snapshot_worker(g, cfd, worker, msg, allow_empty, NULL,
				      NULL, &snap, err, sizeof(err));
		progress_end();
		if (ret < 0) {
			fflush(stdout);
			fprintf(stderr, "pifs: %s\n", err);
			failed = 1;
			continue;
		}
		if (!snap.created) {
			printf("%s unchanged\n", worker);
			continue;
		}
		printf("%s %s\n", worker, snap.id);
		if (stats)
			print_stats(&snap);
	}
	if (cfd >= 0)
		pifs_ctl_close(cfd);
	close_store(&st, &reg, g);
	return failed;
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"message", required_argument, NULL, 'm'},
	    {"allow-empty", no_argument, NULL, 'e'},
	    {"stats", no_argument, NULL, 'S'},
	    {"all", no_argument, NULL, 'a'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *msg = NULL, *worker;
	struct pifs_snapshot snap;
	struct pifs_store st;
	struct pifs_git *g;
	char err[ERRLEN];
	int c, allow_empty = 0, stats = 0, all = 0, quiet = 0, ret, cfd;

	while ((c = sub_getopt(argc, argv, ":m:qh", opts, usage_snapshot)) !=
	       -1) {
		if (c == 'm')
			msg = optarg;
		else if (c == 'e')
			allow_empty = 1;
		else if (c == 'S')
			stats = 1;
		else if (c == 'a')
			all = 1;
		else if (c == 'q')
			quiet = 1;
	}
	if (all) {
		if (argc - optind != 0)
			die(EXIT_USAGE, "snapshot --all takes no WORKER");
		return snapshot_all(msg, allow_empty, stats, quiet);
	}
	if (argc - optind != 1)
		die(EXIT_USAGE, "snapshot needs a WORKER (or --all)");
	worker = argv[optind];
	open_worker_store(&st, worker);
	lock_store(&st);
	pifs_git_init_async(); /* meanwhile: the cache, pifsd */
	pifs_git_cache_prefetch(&st, worker);
	cfd = ctl_connect(&st);
	g = open_git(&st, 1);
	progress_start(g, quiet);
	ret = snapshot_worker(g, cfd, worker, msg, allow_empty, NULL, NULL,
			      &snap, err, sizeof(err));
	progress_end();
	if (cfd >= 0)
		pifs_ctl_close(cfd);
	if (ret < 0)
		die(1, "%s", err);
	if (!snap.created) {
		printf("nothing to snapshot for %s\n", worker);
	} else {
		printf("%s\n", snap.id);
		if (stats)
			print_stats(&snap);
	}
	close_store(&st, NULL, g);
	return 0;
}

/* log --json: {"version": 1, "worker": ..., "base": ..., "snapshots"}. */
static void log_json(const char *worker, const char *base,
		     const struct pifs_log_entry *log, size_t n)
{
	struct json j;

	json_init(&j);
	json_object_begin(&j);
	json_member_int(&j, "version", 1);
	json_member_string(&j, "worker", worker);
	json_member_string(&j, "base", base[0] ? base : NULL);
	json_key(&j, "snapshots");
	json_array_begin(&j);
	for (size_t i = 0; i < n; i++) {
		json_object_begin(&j);
		json_member_string(&j, "id", log[i].id);
		json_member_time(&j, "time", log[i].time);
		json_member_int(&j, "utc_offset_minutes", log[i].offset);
		json_member_bytes(&j, "subject", log[i].subject);
		json_member_uint(&j, "files", log[i].files);
		json_member_uint(&j, "bytes", log[i].bytes);
		json_member_string(&j, "golden",
				   log[i].golden[0] ? log[i].golden : NULL);
		json_member_bool(&j, "base", !strcmp(base, log[i].id));
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	print_json(&j);
}

int cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_log_entry *log = NULL;
	struct pifs_store st;
	struct pifs_git *g;
	char date[64], sz[32], base[41] = "";
	const char *worker;
	size_t n = 0, i;
	struct tm tm;
	time_t t;
	int ret, c, json = 0;

	while ((c = sub_getopt(argc, argv, ":h", opts, usage_log)) != -1)
		if (c == 'j')
			json = 1;
	if (argc - optind != 1)
		die(EXIT_USAGE, "log needs a WORKER");
	worker = argv[optind];
	open_worker_store(&st, worker);
	g = open_git(&st, 0);
	if (g && (ret = pifs_git_log(g, worker, &log, &n)) < 0)
		die(1, "cannot read the snapshots of %s: %s", worker,
		    strerror(-ret));
	if (n && pifs_git_base_get(&st, worker, base) < 0)
		base[0] = '\0';
	if (json) {
		log_json(worker, base, log, n);
		goto out;
	}
	if (!n) {
		printf("no snapshots of %s\n", worker);
		goto out;
	}
	for (i = 0; i < n; i++) {
		t = (time_t)(log[i].time + (int64_t)log[i].offset * 60);
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%c %.7s  %s %c%02d%02d  %s  (%u file%s, %s)\n",
		       strcmp(base, log[i].id) ? ' ' : '*', log[i].id, date,
		       log[i].offset < 0 ? '-' : '+', abs(log[i].offset) / 60,
		       abs(log[i].offset) % 60, log[i].subject, log[i].files,
		       log[i].files == 1 ? "" : "s", pifs_human(log[i].bytes, sz));
	}
out:
	pifs_git_log_free(log, n);
	close_store(&st, NULL, g);
	return 0;
}

/* diff --json: {"version": 1, "worker": ..., "rev": ..., "paths": ...,
 * "changes"}; the M details ("content, mode 644->755") as a list of
 * those items.  paths: the PATH limits as diff understood them
 * (relative to the root), null when there are none. */
static void diff_json(const char *worker, const char *rev_id,
		      char *const *paths, size_t np,
		      const struct pifs_change *ch, size_t n)
{
	struct json j;

	json_init(&j);
	json_object_begin(&j);
	json_member_int(&j, "version", 1);
	json_member_string(&j, "worker", worker);
	json_member_string(&j, "rev", rev_id);
	if (paths) {
		json_key(&j, "paths");
		json_array_begin(&j);
		for (size_t i = 0; i < np; i++) {
			json_object_begin(&j);
			json_member_bytes(&j, "path", paths[i]);
			json_object_end(&j);
		}
		json_array_end(&j);
	} else {
		json_member_null(&j, "paths");
	}
	json_key(&j, "changes");
	json_array_begin(&j);
	for (size_t i = 0; i < n; i++) {
		char kind[2] = {ch[i].kind, '\0'};
		const char *p = ch[i].what, *e;

		json_object_begin(&j);
		json_member_string(&j, "kind", kind);
		json_member_bytes(&j, "path", ch[i].path);
		json_key(&j, "what");
		json_array_begin(&j);
		while (ch[i].kind == 'M' && *p) {
			char item[sizeof(ch[i].what)];

			e = strstr(p, ", ");
			if (!e)
				e = p + strlen(p);
			snprintf(item, sizeof(item), "%.*s", (int)(e - p), p);
			json_string(&j, item);
			p = *e ? e + 2 : e;
		}
		json_array_end(&j);
		json_member_uint(&j, "bytes", ch[i].bytes);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	print_json(&j);
}

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"exit-code", no_argument, NULL, 'x'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_meta cur, old;
	struct pifs_change *ch = NULL;
	struct pifs_store st;
	struct pifs_git *g;
	char err[ERRLEN], id[41], **paths = NULL;
	const char *worker, *rev = NULL;
	size_t n = 0, np = 0, i;
	int a, c, dd, json = 0, exit_code = 0;

	/* options anywhere before "--" (diff WORKER --json works too);
	 * after it only PATHs */
	for (dd = 1; dd < argc && strcmp(argv[dd], "--"); dd++)
		;
	while ((c = sub_getopt(dd, argv, ":h", opts, usage_diff)) != -1)
		if (c == 'j')
			json = 1;
		else if (c == 'x')
			exit_code = 1;
	/* 1 now means "changes": errors move to EXIT_ERROR_ALT */
	if (exit_code)
		exit_error = EXIT_ERROR_ALT;
	if (optind >= dd)
		die(EXIT_USAGE, "diff needs a WORKER");
	worker = argv[optind];
	a = optind + 1;
	if (a < dd)
		rev = argv[a++];
	if (a < dd)
		die(EXIT_USAGE,
		    "unexpected argument '%s' (paths go after '--')", argv[a]);
	if (dd < argc) {
		paths = calloc((size_t)(argc - dd), sizeof(*paths));
		if (!paths)
			die(1, "out of memory");
		for (a = dd + 1; a < argc; a++)
			paths[np++] = norm_path(argv[a]);
	}
	open_worker_store(&st, worker);
	g = open_git(&st, 0);
	pifs_meta_init(&old);
	if (rev) {
		resolve_rev(g, worker, rev, id);
		load_meta(g, worker, id, &old);
	}
	if (pifs_git_scan(g, &st, worker, &cur, err, sizeof(err)) < 0)
		die(1, "%s", err);
	if (pifs_git_diff(g, &st, rev ? &old : NULL, &cur, paths, np, &ch, &n,
			  err, sizeof(err)) < 0)
		die(1, "%s: %s", worker, err);
	if (json)
		diff_json(worker, rev ? id : NULL, np ? paths : NULL, np, ch, n);
	for (i = 0; !json && i < n; i++) {
		char *esc = pifs_path_escape(ch[i].path);

		if (ch[i].kind == 'M')
			printf("M %s (%s)\n", esc ? esc : ch[i].path,
			       ch[i].what);
		else
			printf("%c %s\n", ch[i].kind, esc ? esc : ch[i].path);
		free(esc);
	}
	pifs_changes_free(ch, n);
	pifs_meta_release(&cur);
	pifs_meta_release(&old);
	for (i = 0; i < np; i++)
		free(paths[i]);
	free(paths);
	close_store(&st, NULL, g);
	return exit_code && n ? 1 : 0;
}

/* A generated identity file (cmdline.txt, hostname, ...) the snapshot's
 * delta has no copy of: what the view showed was generated, so show that
 * (with today's master address).  -ENOENT when PATH is not one. */
static int show_generated(struct pifs_store *st, const struct pifs_meta *m,
			  const char *worker, const char *path, char **out,
			  size_t *len)
{
	const char *slash = strrchr(path, '/');
	const struct pifs_worker *w;
	struct pifs_registry reg;
	struct pifs_identity id;
	enum pifs_gen kind;
	char dir[64], tdir[32], *golden = NULL;
	size_t glen = 0;
	int ret, gfd;

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return -ENOENT;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	kind = pifs_gen_kind(dir, slash + 1);
	/* The delta had its own copy, or a whiteout, or replaced the
	 * directory: then the snapshot's own content decides. */
	if (kind == PIFS_GEN_NONE || pifs_meta_find(m, path) ||
	    (pifs_meta_find(m, dir) && pifs_meta_find(m, dir)->type != 'd'))
		return -ENOENT;
	load_registry(st, &reg);
	w = pifs_registry_find(&reg, worker);
	if (!w) {
		pifs_registry_release(&reg);
		return -ENOENT;
	}
	id.worker = w->name;
	id.serial = w->serial;
	id.master = st->conf.master;
	pifs_worker_tftp_dir(w, tdir);
	id.tftp_dir = tdir;
	/* The golden the snapshot was on (META), which the view then read
	 * the file's arguments from; the default if it names none. */
	gfd = st->golden_fd;
	if (m->golden[0] && strcmp(m->golden, st->conf.golden) &&
	    (gfd = pifs_store_golden_open(st, m->golden)) < 0) {
		pifs_registry_release(&reg);
		return gfd;
	}
	if (pifs_read_file(gfd, path, 1 << 20, &golden, &glen) < 0)
		golden = NULL;
	if (gfd != st->golden_fd)
		close(gfd);
	ret = pifs_gen_content(kind, &id, golden, glen, out, len);
	free(golden);
	pifs_registry_release(&reg);
	return ret;
}

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_meta m;
	struct pifs_store st;
	struct pifs_git *g;
	char id[41], *rev, *colon, *path, *data = NULL, err[ERRLEN] = "";
	const char *worker;
	size_t len = 0;
	int ret, deleted = 0, wfail = 0;

	while (sub_getopt(argc, argv, ":h", opts, usage_show) != -1)
		;
	if (argc - optind != 2)
		die(EXIT_USAGE, "show needs WORKER REV:PATH");
	worker = argv[optind];
	rev = strdup(argv[optind + 1]);
	if (!rev)
		die(1, "out of memory");
	colon = strchr(rev, ':');
	if (!colon || colon == rev || !colon[1])
		die(EXIT_USAGE, "show needs REV:PATH, not '%s'", rev);
	*colon = '\0';
	path = norm_path(colon + 1);
	open_worker_store(&st, worker);
	g = open_git(&st, 0);
	resolve_rev(g, worker, rev, id);
	load_meta(g, worker, id, &m);
	ret = show_generated(&st, &m, worker, path, &data, &len);
	if (ret == 0 && (wfail = pifs_write_all(STDOUT_FILENO, data, len)) < 0)
		die(1, "cannot write: %s", strerror(-wfail));
	/* anything else streamed: a big file is never whole in memory */
	if (ret == -ENOENT)
		ret = pifs_git_show_fd(g, &st, &m, path, STDOUT_FILENO,
				       &deleted, &wfail, err, sizeof(err));
	if (ret < 0 && wfail)
		die(1, "cannot write: %s", strerror(-ret));
	if (ret == -ENOENT && deleted)
		die(1, "'%s' was deleted in %s at %.7s", path, worker, id);
	if (ret == -ENOENT)
		die(1, "'%s' does not exist in %s at %.7s", path, worker, id);
	if (ret == -EISDIR)
		die(1, "'%s' is a directory in %s at %.7s", path, worker, id);
	if (ret == -EINVAL)
		die(1, "'%s' is a special file in %s at %.7s", path, worker,
		    id);
	if (ret < 0)
		die(1, "cannot read '%s' of %s at %.7s: %s", path, worker, id,
		    err[0] ? err : strerror(-ret));
	free(data);
	free(path);
	free(rev);
	pifs_meta_release(&m);
	close_store(&st, NULL, g);
	return 0;
}
