/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cli.c - what every pifs command shares: the one-line error exit
 * (die), option parsing for a subcommand, and the store context a
 * command sets up: the store it names (--store, $PIFS_STORE, the
 * default), opened, locked, its registry, a registered worker or a
 * golden named on the command line, the snapshot repository and the
 * control socket of a running pifsd.  Each of these exits with the
 * command's error message when it fails, so a command reads as the
 * list of what it needs.  Also the size formatter and the SIGINT/SIGTERM
 * catcher of the long imports.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "gitstore.h"
#include "json.h"
#include "registry.h"
#include "progress.h"
#include "store.h"

#define LOCK_TIMEOUT_MS 10000

const char *opt_store;
int exit_error = 1;

void die(int code, const char *fmt, ...)
{
	va_list ap;

	if (code == 1)
		code = exit_error;
	fflush(stdout);
	progress_end();
	fputs("pifs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
#ifndef PIFS_LIGHT
	pifs_git_init_wait(); /* never exit under libgit2's start-up */
#endif
	exit(code);
}

const char *store_path(void)
{
	const char *env;

	if (opt_store)
		return opt_store;
	env = getenv("PIFS_STORE");
	if (env && *env)
		return env;
	return DEFAULT_STORE;
}

/* getopt_long over a subcommand's argv (args[0] is the command name);
 * handles --help and unknown options.  Returns the option or -1. */
int sub_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts, const char *usage)
{
	int c = getopt_long(argc, argv, shortopts, longopts, NULL);

	if (c == 'h') {
		fputs(usage, stdout);
		exit(0);
	}
	if (c == '?')
		die(EXIT_USAGE, "unknown option '%s' (see --help)",
		    argv[optind - 1]);
	if (c == ':')
		die(EXIT_USAGE, "option '%s' needs an argument",
		    argv[optind - 1]);
	return c;
}

int sub_json_only(int argc, char **argv, const char *usage)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, json = 0;

	while ((c = sub_getopt(argc, argv, ":h", opts, usage)) != -1)
		if (c == 'j')
			json = 1;
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	return json;
}

int sub_dispatch(int argc, char **argv, const char *group, const char *want,
		 const char *usage, const struct sub_cmd *cmds)
{
	if (argc < 2)
		die(EXIT_USAGE, "%s needs %s", group, want);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, stdout);
		return 0;
	}
	for (; cmds->name; cmds++)
		if (!strcmp(argv[1], cmds->name))
			return cmds->run(argc - 1, argv + 1);
	die(EXIT_USAGE, "unknown %s command '%s'", group, argv[1]);
}

void open_store(struct pifs_store *st, const char *path)
{
	char err[PATH_MAX + 128];

	if (pifs_store_open(st, path, err, sizeof(err)) < 0)
		die(1, "%s", err);
}

void lock_store(struct pifs_store *st)
{
	int ret = pifs_store_lock(st, LOCK_TIMEOUT_MS);

	if (ret == -EAGAIN)
		die(1, "store '%s' is busy: another pifs holds its lock",
		    st->path);
	if (ret < 0)
		die(1, "cannot lock store '%s': %s", st->path, strerror(-ret));
}

void load_registry(struct pifs_store *st, struct pifs_registry *reg)
{
	char err[256];

	pifs_registry_init(reg);
	if (pifs_registry_load(reg, st->fd, err, sizeof(err)) < 0)
		die(1, "store '%s': %s", st->path, err);
}

volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = 1;
}

void interrupts_catch(struct sigaction old[2])
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
}

void interrupts_restore(const struct sigaction old[2])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
}

/* The registry changed: a running pifsd re-reads it and tells the kernel
 * before this command returns, so nfsroot/ lists a new worker and a
 * removed one's name is gone (the kernel caches both).  pifsd also
 * watches the file, so a failure here only warns. */
void tell_pifsd_workers(struct pifs_store *st)
{
	char msg[256] = "";
	int fd, ret = pifs_ctl_connect(st, &fd);

	if (ret == -ENOTCONN)
		return;
	if (ret == 0) {
		ret = pifs_ctl_call(fd, "workers", 10000, msg, sizeof(msg));
		pifs_ctl_close(fd);
	}
	if (ret < 0)
		fprintf(stderr,
			"pifs: warning: the pifsd of '%s' did not confirm the "
			"new registry: %s\n",
			st->path, msg[0] ? msg : strerror(-ret));
}

/* The store of the command line for a command on a worker. */
void open_worker_store(struct pifs_store *st, const char *worker)
{
	open_store(st, store_path());
	need_worker(st, worker);
}

void close_store(struct pifs_store *st, struct pifs_registry *reg,
		 struct pifs_git *g)
{
#ifndef PIFS_LIGHT
	pifs_git_free(g);
#else
	(void)g; /* always NULL: no command of the light pifs opens git */
#endif
	if (reg)
		pifs_registry_release(reg);
	pifs_store_close(st);
}

/* A registered worker, else exit. */
void need_worker(struct pifs_store *st, const char *name)
{
	struct pifs_registry reg;

	if (pifs_worker_name_valid(name) < 0)
		die(EXIT_USAGE, "bad worker name '%s'", name);
	load_registry(st, &reg);
	if (!pifs_registry_find(&reg, name))
		die(1, "no worker '%s' in store '%s'", name, st->path);
	pifs_registry_release(&reg);
}

/* A golden named by its id or a unique prefix of at least 4 hex digits,
 * into out. */
void need_golden(struct pifs_store *st, const char *arg, char out[17])
{
	char (*ids)[17] = NULL;
	size_t n = 0, len = strlen(arg), hits = 0;
	int ret;

	if (len < 4 || len > 16 || strspn(arg, "0123456789abcdef") != len)
		die(EXIT_USAGE, "bad golden id '%s' (want 4 to 16 hex digits, "
				"as pifs golden list shows)", arg);
	if ((ret = pifs_store_goldens(st, &ids, &n)) < 0)
		die(1, "cannot list '%s/goldens': %s", st->path, strerror(-ret));
	for (size_t i = 0; i < n; i++)
		if (!strncmp(ids[i], arg, len)) {
			memcpy(out, ids[i], 17);
			hits++;
		}
	free(ids);
	if (!hits)
		die(1, "no golden %s in store '%s'", arg, st->path);
	if (hits > 1)
		die(1, "golden id '%s' is ambiguous in store '%s'", arg,
		    st->path);
}

#ifndef PIFS_LIGHT
/* The repository, or NULL when it does not exist yet and !create. */
struct pifs_git *open_git(struct pifs_store *st, int create)
{
	struct pifs_git *g;
	char err[ERRLEN];
	int ret;

	ret = pifs_git_open(&g, st, create, err, sizeof(err));
	if (ret == -ENOENT && !create)
		return NULL;
	if (ret < 0)
		die(1, "%s", err);
	return g;
}
#endif

/* The control connection of a running pifsd, or -1 when not mounted. */
int ctl_connect(struct pifs_store *st)
{
	int fd, ret;

	ret = pifs_ctl_connect(st, &fd);
	if (ret == -ENOTCONN)
		return -1;
	if (ret < 0)
		die(1, "cannot reach the pifsd of '%s': %s", st->path,
		    strerror(-ret));
	return fd;
}


/* The line of bytes done for big files, on a terminal only: redrawn at
 * most every 200 ms (and at each file's start and end), with rate and
 * what is left of the file at that rate. */
/* The progress of one big file at a time (overlay/progress.h): a bar per
 * file, its last state left on the screen. */
static struct pifs_bar bar = {.fd = -1};
static char bar_path[PATH_MAX];

#ifndef PIFS_LIGHT
static char bar_what[64];
static int bar_write;

static void progress_show(void *arg, const char *path, int write,
			  uint64_t done, uint64_t total)
{
	size_t pl = path ? strlen(path) : 0;

	(void)arg;
	if (!path) {
		/* a snapshot's scan: entries and bytes read, no total */
		if (bar_path[0] || !bar.count) {
			pifs_bar_end(&bar);
			bar_path[0] = '\0';
			pifs_bar_start(&bar, STDERR_FILENO, "scanning delta",
				       "entries", 0);
		}
		pifs_bar_count(&bar, done, total);
		return;
	}
	if (strcmp(bar_path, path) || write != bar_write || !done) {
		pifs_bar_end(&bar);
		snprintf(bar_path, sizeof(bar_path), "%s", path);
		bar_write = write;
		/* the end of a long path: the file's own name */
		snprintf(bar_what, sizeof(bar_what), "%s %s%s",
			 write ? "writing" : "reading", pl > 32 ? "..." : "",
			 pl > 32 ? path + pl - 32 : path);
		pifs_bar_start(&bar, STDERR_FILENO, bar_what, NULL, total);
	}
	pifs_bar_update(&bar, done);
}

void progress_start(struct pifs_git *g, int quiet)
{
	if (g && !quiet && isatty(STDERR_FILENO))
		pifs_git_set_progress(g, progress_show, NULL);
}
#endif

void progress_end(void)
{
	pifs_bar_end(&bar);
	bar_path[0] = '\0';
}

void print_json(struct json *j)
{
	int ret = json_print(j, stdout);

	if (ret == -ENOMEM)
		die(1, "out of memory");
	if (ret < 0)
		die(1, "cannot write the output: %s", strerror(-ret));
}
