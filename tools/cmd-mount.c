/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd-mount.c - pifs mount, which exec()s pifsd on a mount point once no
 * pifsd holds the store (also as the mount.fuse3 helper for fstab type
 * fuse.pifs: "pifs SOURCE MOUNTPOINT -o OPTS"), and pifs umount, which
 * unmounts what sits on a pifs mount, deepest first, then the mount,
 * and returns once its pifsd has exited.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mounts.h"
#include "store.h"
#include "util.h"

#ifndef PIFS_SBINDIR /* set by Makefile.am */
#define PIFS_SBINDIR "/usr/local/sbin"
#endif
/* How long pifs umount waits for pifsd to exit (with the sanitizers its
 * exit scan alone takes seconds on a loaded machine), and pifs mount for
 * a pifsd that no longer serves the store to let go of it. */
#define UMOUNT_WAIT_MS	30000
#define MOUNT_WAIT_MS	5000

static const char usage_mount[] =
    "usage: pifs [--store DIR] mount [-f] [-o OPTS] [STORE] MOUNTPOINT\n"
    "       pifs SOURCE MOUNTPOINT [-o OPTS]\n"
    "\n"
    "Start pifsd serving STORE on MOUNTPOINT (-f: stay in the foreground).\n"
    "The daemon is $PIFS_DAEMON if set, else the pifsd beside this pifs (in\n"
    "a build tree, ../fs/pifsd), else " PIFS_SBINDIR "/pifsd.\n"
    "A store a pifsd serves is refused.  One whose pifsd was just unmounted\n"
    "and is still exiting is waited for, at most 5 s.\n";

static const char usage_umount[] =
    "usage: pifs umount MOUNTPOINT\n"
    "\n"
    "Unmount the pifs mount at MOUNTPOINT: first everything mounted below\n"
    "it (pifsd's per-worker mounts, bind mounts), deepest first, then\n"
    "MOUNTPOINT itself (umount2 as root, else fusermount3 -u).  Returns once\n"
    "its pifsd has let go of the store and exited, so the store can be\n"
    "mounted again at once; exit 1 if pifsd has not exited within 30 s.\n"
    "A busy mount (open files, a working directory, an NFS export) is\n"
    "named, exit 1, and what it sits on stays mounted.  A directory that is\n"
    "not a pifs mount is refused.\n";

static int is_exec(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       access(path, X_OK) == 0;
}

/* The pifsd to run, malloc'd: $PIFS_DAEMON, else the one beside this pifs
 * in a build tree (tools/pifs, fs/pifsd) or an install (same dir), else
 * the installed one. */
static char *daemon_path(void)
{
	const char *env = getenv("PIFS_DAEMON");
	const char *beside[] = { "/../fs/pifsd", "/pifsd" };
	char self[PATH_MAX], *slash, *p;
	ssize_t n;

	if (env && *env)
		return strdup(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			for (size_t i = 0; i < sizeof(beside) / sizeof(*beside); i++) {
				p = pifs_strdupf("%s%s", self, beside[i]);
				if (p && is_exec(p))
					return p;
				free(p);
			}
		}
	}
	if (is_exec(PIFS_SBINDIR "/pifsd"))
		return strdup(PIFS_SBINDIR "/pifsd");
	return NULL;
}

/* Absolute form of path when it resolves, else path itself. */
static char *absolute(const char *path)
{
	char *r = realpath(path, NULL);

	return r ? r : strdup(path);
}

/* Does the pifsd pid serve a mount of the store?  Asked of its own mount
 * table (it may run in another mount namespace), else of ours; when
 * neither can be read, it is taken to serve. */
static int store_served(const char *store, pid_t pid)
{
	struct pifs_mounts mi;
	int ret;

	if ((pid <= 0 || pifs_mounts_load(&mi, pid) < 0) &&
	    pifs_mounts_load(&mi, 0) < 0)
		return 1;
	ret = pifs_mounts_serve(&mi, store);
	pifs_mounts_release(&mi);
	return ret;
}

/* Return once no pifsd holds the store.  One that serves it refuses the
 * mount at once; one that holds it serving no mount is exiting (just
 * unmounted: `pifs umount X && pifs mount S X` without the wait, a
 * restart by mount(8)) or starting, so it is waited for, bounded.  An
 * error reading the lock is left to pifsd, which takes it. */
static void wait_store_free(struct pifs_store *st, const char *store)
{
	struct timespec t0, now;
	long waited;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (pifs_store_mounted(st, &pid) > 0) {
		if (store_served(store, pid))
			die(1, "store '%s' is already mounted (pifsd pid %ld)",
			    store, (long)pid);
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - t0.tv_sec) * 1000 +
			 (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (waited >= MOUNT_WAIT_MS)
			die(1,
			    "store '%s' is held by pifsd pid %ld, which "
			    "serves no mount of it but has not let go "
			    "within %d s",
			    store, (long)pid, MOUNT_WAIT_MS / 1000);
		poll(NULL, 0, 50);
	}
}

static int do_mount(const char *store, const char *mnt, int foreground,
		    const char *opts)
{
	struct pifs_store st;
	char *daemon, *astore, *amnt, *args[8];
	struct stat sb;
	int n = 0;

	open_store(&st, store);
	wait_store_free(&st, store);
	pifs_store_close(&st);
	if (stat(mnt, &sb) < 0)
		die(1, "cannot use mount point '%s': %s", mnt, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		die(1, "mount point '%s' is not a directory", mnt);
	daemon = daemon_path();
	if (!daemon)
		die(1, "cannot find pifsd (set PIFS_DAEMON)");
	astore = absolute(store);
	amnt = absolute(mnt);
	if (!astore || !amnt)
		die(1, "out of memory");
	args[n++] = daemon;
	args[n++] = astore;
	args[n++] = amnt;
	if (foreground)
		args[n++] = (char *)"-f";
	if (opts && *opts) {
		args[n++] = (char *)"-o";
		args[n++] = (char *)opts;
	}
	args[n] = NULL;
	fflush(stdout);
	/* pifsd's start-up errors then begin "pifs: ", as every error of
	 * a pifs command does (fs/pifsd.c). */
	if (setenv("PIFS_CALLER", "pifs", 1) < 0)
		die(1, "out of memory");
	execv(daemon, args);
	die(1, "cannot run '%s': %s", daemon, strerror(errno));
}

/* Append one -o argument to the comma-separated list *opts. */
static void add_opts(char **opts, const char *more)
{
	char *n = *opts ? pifs_strdupf("%s,%s", *opts, more) : strdup(more);

	if (!n)
		die(1, "out of memory");
	free(*opts);
	*opts = n;
}

int cmd_mount(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"foreground", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *store, *mnt;
	char *o = NULL;
	int c, fg = 0;

	while ((c = sub_getopt(argc, argv, ":fo:h", opts, usage_mount)) != -1) {
		if (c == 'f')
			fg = 1;
		else if (c == 'o')
			add_opts(&o, optarg);
	}
	if (argc - optind == 2) {
		store = argv[optind];
		mnt = argv[optind + 1];
	} else if (argc - optind == 1) {
		store = store_path();
		mnt = argv[optind];
	} else {
		die(EXIT_USAGE, "mount needs [STORE] MOUNTPOINT");
	}
	return do_mount(store, mnt, fg, o);
}

/* mount.fuse3 runs "pifs SOURCE MOUNTPOINT -o OPTS": argv[0] is SOURCE
 * and plays the program name. */
int cmd_mount_fuse3(int argc, char **argv)
{
	static const struct option mopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *o = NULL;
	int c, fg = 0;

	while ((c = sub_getopt(argc, argv, ":fo:h", mopts, usage_mount)) !=
	       -1) {
		if (c == 'o')
			add_opts(&o, optarg);
		else if (c == 'f')
			fg = 1;
	}
	if (argc - optind != 1)
		die(EXIT_USAGE, "usage: pifs SOURCE MOUNTPOINT [-o OPTS]");
	return do_mount(argv[0], argv[optind], fg, o);
}

/* fusermount3 -u path, its message kept in msg (without the
 * "fusermount3: " prefix).  0, or the errno its message names (EBUSY,
 * EINVAL: not mounted), else EIO. */
static int fusermount_u(const char *path, char *msg, size_t len)
{
	static const char prefix[] = "fusermount3: ";
	char scratch[256];
	size_t got = 0;
	int p[2], status;
	ssize_t r;
	pid_t pid;

	msg[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0)
		return errno;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		return e;
	}
	if (pid == 0) {
		if (dup2(p[1], 2) < 0)
			_exit(127);
		execlp("fusermount3", "fusermount3", "-u", path, (char *)NULL);
		dprintf(2, "cannot run 'fusermount3': %s", strerror(errno));
		_exit(127);
	}
	close(p[1]);
	/* all of it, so fusermount3 never blocks on a full pipe */
	for (;;) {
		char *to = got + 1 < len ? msg + got : scratch;
		size_t room = got + 1 < len ? len - 1 - got : sizeof(scratch);

		r = read(p[0], to, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (to != scratch)
			got += (size_t)r;
	}
	msg[got] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	while (got && (msg[got - 1] == '\n' || msg[got - 1] == ' '))
		msg[--got] = '\0';
	if (!strncmp(msg, prefix, sizeof(prefix) - 1))
		memmove(msg, msg + sizeof(prefix) - 1,
			strlen(msg) - (sizeof(prefix) - 1) + 1);
	if (strstr(msg, strerror(EBUSY)))
		return EBUSY;
	if (strstr(msg, strerror(EINVAL)))
		return EINVAL;
	if (!msg[0])
		snprintf(msg, len, "fusermount3 failed");
	return EIO;
}

/* Unmount the mount at path: umount2() as root, else fusermount3 -u, the
 * only way for a user to unmount a FUSE mount.  One that is already gone
 * is no failure (0); any other failure is a one-line message in why. */
static int unmount_one(const char *path, char *why, size_t len)
{
	char msg[512];
	int err;

	if (geteuid() == 0) {
		err = umount2(path, UMOUNT_NOFOLLOW) < 0 ? errno : 0;
		snprintf(msg, sizeof(msg), "%s", strerror(err));
	} else {
		err = fusermount_u(path, msg, sizeof(msg));
	}
	if (!err || err == EINVAL || err == ENOENT)
		return 0;
	if (err == EBUSY)
		snprintf(why, len,
			 "cannot unmount '%s': it is busy (a process has a "
			 "file or its working directory there, or an NFS "
			 "server exports it)",
			 path);
	else
		snprintf(why, len, "cannot unmount '%s': %s", path, msg);
	return -err;
}

/* Unmount what sits on the pifs mount, deepest first (pifsd's own
 * per-worker mounts, an admin's bind mounts), then the mount itself, and
 * return only once its pifsd has let go of the store and exited, so the
 * next mount of the store (a restart) succeeds at once.  The pifsd is
 * found from the mount's source, its store's path: the store's
 * lock/daemon is held by it and names its pid. */
int cmd_umount(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const struct pifs_mount **order, *top;
	char err[PATH_MAX + 128], *path;
	struct pifs_mounts mi;
	struct pifs_store st;
	const char *mnt;
	int ret, held = 0;
	size_t n;
	pid_t pid;

	while (sub_getopt(argc, argv, ":h", opts, usage_umount) != -1)
		;
	if (argc - optind != 1)
		die(EXIT_USAGE, "umount needs a MOUNTPOINT");
	mnt = argv[optind];
	path = pifs_mounts_resolve(mnt);
	if ((ret = pifs_mounts_load(&mi, 0)) < 0)
		die(1, "cannot read /proc/self/mountinfo: %s", strerror(-ret));
	top = path ? pifs_mounts_at(&mi, path) : NULL;
	if (!top || strcmp(top->type, "fuse.pifs"))
		die(1, "'%s' is not a pifs mount", mnt);
	/* A mount whose store cannot be opened is unmounted all the same.  A
	 * store no daemon holds (it died) leaves nothing to wait for, and
	 * the pid it names may since be another process's. */
	if (pifs_store_open(&st, top->source, err, sizeof(err)) == 0)
		held = pifs_store_mounted(&st, NULL) != 0;
	else
		held = -1;
	if (pifs_mounts_below(&mi, top, &order, &n) < 0)
		die(1, "out of memory");
	for (size_t i = 0; i < n; i++) {
		char why[PATH_MAX + 200];

		if (unmount_one(order[i]->point, why, sizeof(why)) == 0)
			continue;
		/* Not unmounted after all: what this took away (the
		 * workers' file systems, which pifsd mounted below) is
		 * mounted again by the pifsd that still serves. */
		if (i > 0 && held > 0)
			tell_pifsd_workers(&st);
		die(1, "%s", why);
	}
	if (held < 0)
		die(1, "unmounted '%s', but cannot wait for its pifsd: %s", mnt,
		    err);
	ret = held ? pifs_store_wait_released(&st, UMOUNT_WAIT_MS, &pid) : 0;
	if (ret == -ETIMEDOUT)
		die(1,
		    "unmounted '%s', but its pifsd (pid %ld) has not exited "
		    "within %d s",
		    mnt, (long)pid, UMOUNT_WAIT_MS / 1000);
	if (ret < 0)
		die(1,
		    "unmounted '%s', but cannot tell whether its pifsd has "
		    "exited: %s",
		    mnt, strerror(-ret));
	free(order);
	free(path);
	pifs_mounts_release(&mi);
	pifs_store_close(&st);
	return 0;
}
