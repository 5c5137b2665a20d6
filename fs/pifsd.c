/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pifsd.c - the pifs daemon: parses "pifsd STORE MOUNTPOINT [-f] [-d]
 * [-o OPTIONS]" (the form mount.fuse3 and `pifs mount` use), goes into
 * the background, opens and locks the store, mounts the top file system
 * and one per worker (sessions.c), and serves them until the top is
 * unmounted or a signal asks it to end.
 *
 * The mount is always nosuid, nodev and default_permissions: the kernel
 * checks modes, and nothing a worker stores can become a setuid binary
 * or a device node on the master.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "exports.h"
#include "pifs-describe.h"
#include "pifsd.h"
#include "util.h"

/*
 * The name before each message on stderr.  "pifsd", or "pifs" when
 * `pifs mount` (also an fstab line, through mount.fuse3 and pifs)
 * started this pifsd: the user ran pifs, and pifs's errors are one line
 * starting "pifs: " (README).  cmd-mount.c sets PIFS_CALLER=pifs; no
 * other value is taken, so the environment cannot make pifsd print text
 * of its choosing.  The log (stderr in the foreground, syslog, log=) is
 * pifsd's own and keeps its name.
 */
static const char *prog = "pifsd";

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", prog, msg);
}

/* Set once every file system is mounted: libfuse's messages go to the
 * log from then on, stderr being /dev/null in the background. */
static volatile int serving;

/* While the first session is made from the mount options, libfuse's
 * complaint is kept here and said as one line with ours. */
static int capturing;
static char captured[1024];

/*
 * libfuse's own messages ("fuse: ..."), which it would print bare on
 * stderr: one line with our name before it while starting, so a mount
 * error from libfuse reads like ours; the log afterwards.  Its debug
 * output (-d) stays as libfuse prints it.
 */
static void fuse_log_cb(enum fuse_log_level level, const char *fmt,
			va_list ap)
{
	/* libfuse writes some lines in pieces (its option parser: three
	 * calls for "unknown option(s): `-o x'\n"): gather up to the
	 * newline.  Start-up runs on one thread; later messages are rare,
	 * and the lock keeps two threads' pieces apart. */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char line[1024];
	static size_t len;
	size_t n;

	if (level >= FUSE_LOG_DEBUG) {
		vfprintf(stderr, fmt, ap);
		return;
	}
	pthread_mutex_lock(&lock);
	vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] != '\n' && n < sizeof(line) - 1) {
		len = n;
		pthread_mutex_unlock(&lock);
		return;
	}
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (capturing && !captured[0])
		snprintf(captured, sizeof(captured), "%s",
			 strncmp(line, "fuse: ", 6) ? line : line + 6);
	else if (!serving)
		say("%s", line);
	else if (level <= FUSE_LOG_ERR)
		pifs_warn("%s", line);
	else
		pifs_info("%s", line);
	len = 0;
	line[0] = '\0';
	pthread_mutex_unlock(&lock);
}

struct cli {
	char *store;
	char *mountpoint;
	int foreground;
	int debug;
	int help;
	int version;
	char *golden_cache;
	char *uring;
	char *log;
	double timeout;
	unsigned threads;
};

#define OPT(t, p) { t, offsetof(struct cli, p), 1 }
static const struct fuse_opt cli_opts[] = {
	OPT("-f", foreground),
	OPT("-d", debug),
	OPT("debug", debug),
	OPT("-h", help),
	OPT("--help", help),
	OPT("-V", version),
	OPT("--version", version),
	{ "golden_cache=%s", offsetof(struct cli, golden_cache), 0 },
	{ "timeout=%lf", offsetof(struct cli, timeout), 0 },
	{ "threads=%u", offsetof(struct cli, threads), 0 },
	{ "uring=%s", offsetof(struct cli, uring), 0 },
	{ "log=%s", offsetof(struct cli, log), 0 },
	/* Never honoured on a pifs mount (see the top comment). */
	FUSE_OPT_KEY("suid", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("dev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nosuid", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nodev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("rw", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("exec", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noexec", FUSE_OPT_KEY_KEEP),
	FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END
};

static int cli_proc(void *data, const char *arg, int key,
		    struct fuse_args *out)
{
	struct cli *c = data;

	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	if (!c->store) {
		c->store = strdup(arg);
		return 0;
	}
	if (!c->mountpoint) {
		c->mountpoint = strdup(arg);
		return 0;
	}
	say("unexpected argument '%s'", arg);
	return -1;
}

static void usage(void)
{
	printf("usage: pifsd STORE MOUNTPOINT [-f] [-d] [-o OPTIONS]\n"
	       "\n"
	       "Serve the pifs store STORE at MOUNTPOINT: MOUNTPOINT/nfsroot/<worker>/\n"
	       "is the golden image with that worker's delta over it, a FUSE file\n"
	       "system of its own that pifsd mounts there; MOUNTPOINT/tftpboot/ has\n"
	       "each worker's boot files.  Returns (in the background) once all are\n"
	       "mounted.\n"
	       "\n"
	       "  -f                     stay in the foreground, log to stderr\n"
	       "                         (in the background the log goes to syslog,\n"
	       "                         the journal on systemd machines)\n"
	       "  -d, -o debug           log every request (implies -f)\n"
	       "  -o log=FILE            append the log to FILE instead, each line\n"
	       "                         time-stamped (opened before going into the\n"
	       "                         background: a bad path fails the mount)\n"
	       "  -o allow_other         let other users (dnsmasq, the NFS server) in\n"
	       "  -o timeout=SEC         kernel entry/attribute cache time (default 3600)\n"
	       "  -o golden_cache=shared|direct|kernel\n"
	       "                         shared (default): golden files bypass the FUSE\n"
	       "                         page cache, so N views hold one cached copy:\n"
	       "                         direct_io, and tftpboot/ by FUSE passthrough\n"
	       "                         (kernel 6.9+); direct: direct_io only;\n"
	       "                         kernel: cache per view (N copies)\n"
	       "  -o threads=N           N threads serve every file system (default 16)\n"
	       "  -o uring=on|off        on (default): FUSE over io_uring where the\n"
	       "                         kernel has it (6.14+; sets fuse.enable_uring)\n"
	       "                         for every file system: requests queued per\n"
	       "                         CPU, one shared ring per CPU; off: /dev/fuse\n"
	       "Other -o options go to FUSE (see mount.fuse3(8)); suid and dev are\n"
	       "ignored: a pifs mount is always nosuid,nodev,default_permissions.\n");
}

/* Is path already a mount point (an entry of /proc/self/mountinfo)? */
static int is_mountpoint(const char *path)
{
	char real[PATH_MAX], line[4096];
	FILE *f;
	int found = 0;

	if (!realpath(path, real))
		return 0;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX];

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
		    !strcmp(mp, real))
			found = 1;
	}
	fclose(f);
	return found;
}

/*
 * A pifs mount whose pifsd died (kill -9, a crash) answers ENOTCONN, and
 * the worker mounts below it too.  The next mount at the same place
 * detaches the dead tree (lazily: an NFS server may still hold it) and
 * says so; anything else that fails to stat is the caller's error.
 */
static int detach_dead(const char *path)
{
	char abs[PATH_MAX], line[4096], mp[PATH_MAX], type[64];
	int found = 0;
	FILE *f;

	if (path[0] == '/') {
		snprintf(abs, sizeof(abs), "%s", path);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		if (strlen(cwd) + strlen(path) + 2 > sizeof(abs))
			return -ENAMETOOLONG;
		memcpy(abs, cwd, strlen(cwd));
		abs[strlen(cwd)] = '/';
		strcpy(abs + strlen(cwd) + 1, path);
	}
	/* mountinfo has no trailing slash */
	for (size_t l = strlen(abs); l > 1 && abs[l - 1] == '/'; l--)
		abs[l - 1] = '\0';
	if (!(f = fopen("/proc/self/mountinfo", "re")))
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (sep && sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
		    sscanf(sep + 3, "%63s", type) == 1 && !strcmp(mp, abs) &&
		    !strcmp(type, "fuse.pifs"))
			found = 1;
	}
	fclose(f);
	if (!found) {
		errno = ENOTCONN; /* another file system's: not ours to drop */
		return -errno;
	}
	if (umount2(abs, MNT_DETACH) < 0)
		return -errno;
	say("detached the dead pifs mount at '%s' "
		"(its pifsd had died)", abs);
	return 0;
}

/* Is path a mount whose file system no longer answers (ENOTCONN)? */
static int dead_mount(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) < 0 && errno == ENOTCONN;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void write_pid(struct pifsd *d)
{
	char buf[32];
	int fd = d->fs.store.daemon_lock_fd;
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (fd >= 0 && ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, buf, (size_t)n, 0);
}

/*
 * Into the background: fork at once, and the parent exits only when the
 * child says every file system is mounted (its exit status is the
 * child's: 0 once mounted, 1 if it failed before).  So `pifs mount`,
 * mount.fuse3 and a boot's `mount -a` return with the workers' views
 * there, and a start-up error reaches the caller.  (libfuse's
 * fuse_daemonize forks after the mount, which has to come after the
 * threads here: the workers' mount points are in the top, served by
 * the pool.)  Returns the fd to tell the parent on, -1 in the
 * foreground; exits in the parent.
 */
static int go_background(void)
{
	int p[2];
	char c = 1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		say("cannot daemonize: %s", strerror(errno));
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		say("cannot daemonize: %s", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(c);
	}
	close(p[0]);
	if (setsid() < 0)
		pifs_warn("setsid: %s", strerror(errno));
	return p[1];
}

/* Tell the parent (go_background) how the start went, and leave the
 * terminal. */
static void started(int *ready_fd, int ok)
{
	char c = ok ? 0 : 1;
	int nul;

	if (*ready_fd < 0)
		return;
	if (ok && (nul = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	(void)!write(*ready_fd, &c, 1);
	close(*ready_fd);
	*ready_fd = -1;
	if (chdir("/") < 0)
		pifs_debug("chdir /: %s", strerror(errno));
}

/* Wait until the top file system is unmounted (a pool thread says so)
 * or a signal asks to end (libfuse's handlers mark the top exited). */
static void wait_for_exit(struct pifsd *d)
{
	for (;;) {
		struct pollfd p = { .fd = d->exit_fd, .events = POLLIN };

		if (fuse_session_exited(d->top->se))
			return;
		if (poll(&p, 1, -1) > 0)
			return;
		if (errno != EINTR)
			return;
	}
}

/* For the early exits: what option parsing allocated. */
static int cli_free(struct cli *c, struct fuse_args *args, int ret)
{
	fuse_opt_free_args(args);
	free(c->store);
	free(c->mountpoint);
	free(c->golden_cache);
	free(c->uring);
	free(c->log);
	return ret;
}

/*
 * Where the log goes: -o log=FILE, opened here, before the background,
 * so a bad path fails the mount in one line; else stderr in the
 * foreground and syslog in the background.  A syslog nobody reads
 * (no /dev/log: a container, a rescue system) would lose every line
 * unseen, so the admin is told once, while stderr still reaches them.
 */
static int log_setup(const struct cli *c)
{
	enum pifs_log_level max = c->debug || getenv("PIFS_DEBUG") ?
		PIFS_LOG_DEBUG : PIFS_LOG_INFO;
	int r;

	if (c->log) {
		if (!*c->log) {
			say("log= needs a file name");
			return -EINVAL;
		}
		if ((r = pifs_log_open_file(c->log)) < 0) {
			say("cannot open log file '%s': %s",
				c->log, strerror(-r));
			return r;
		}
		pifs_log_init("pifsd", 0, max);
		return 0;
	}
	pifs_log_init("pifsd", !c->foreground, max);
	if (!c->foreground && access("/dev/log", F_OK) < 0)
		say("no syslog here ('/dev/log' is missing): "
			"the log of this pifsd is lost; mount with -o "
			"log=FILE to keep it");
	return 0;
}

/* The FUSE options every file system gets: the user's, and ours. */
static int session_args(struct pifsd *d, struct fuse_args *args,
			const struct cli *c)
{
	char *fsname = pifs_strdupf("-ofsname=%s", c->store);

	for (int i = 0; i < args->argc; i++)
		if (fuse_opt_add_arg(&d->sb_args, args->argv[i]) < 0)
			goto fail;
	/* A comma would split the option; the name is cosmetic. */
	for (char *p = fsname ? fsname + 9 : NULL; p && *p; p++)
		if (*p == ',')
			*p = '_';
	if (!fsname || fuse_opt_add_arg(&d->sb_args, "-odefault_permissions") < 0 ||
	    fuse_opt_add_arg(&d->sb_args, "-osubtype=pifs") < 0 ||
	    fuse_opt_add_arg(&d->sb_args, fsname) < 0 ||
	    (c->debug && fuse_opt_add_arg(&d->sb_args, "-odebug") < 0))
		goto fail;
	free(fsname);
	return 0;
fail:
	free(fsname);
	return -ENOMEM;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	/* The kernel may cache entries and attributes for long: pifs is
	 * the only writer of a view, changes made through the mount keep the
	 * kernel's caches right, and what changes otherwise (a reset, the
	 * generated files after `pifs master`) is invalidated explicitly
	 * (ctl.c).  tftpboot/ and the static directories are never cached. */
	struct cli c = { .timeout = 3600.0, .threads = 16 };
	static struct pifsd d = { .ctl_fd = -1, .reg_watch = -1, .exit_fd = -1,
				  .pool = { .epfd = -1, .stop_fd = -1 },
				  .fh_lock = PTHREAD_MUTEX_INITIALIZER };
	char err[512], real[PATH_MAX];
	struct stat st;
	int r, ret = 1, opened = 0, ready_fd = -1, handlers = 0;

	if (pifsd_is_selfmount(argc, argv))
		return pifsd_selfmount_main(argc, argv);
	{
		const char *caller = getenv("PIFS_CALLER");

		if (caller && !strcmp(caller, "pifs"))
			prog = "pifs";
		unsetenv("PIFS_CALLER");
	}
	fuse_set_log_func(fuse_log_cb);
	if (fuse_opt_parse(&args, &c, cli_opts, cli_proc) < 0)
		return 2;
	if (c.help) {
		usage();
		return cli_free(&c, &args, 0);
	}
	if (c.version) {
		if (PIFS_DESCRIBE[0])
			printf("pifsd %s (git %s, libfuse %s)\n",
			       PACKAGE_VERSION, PIFS_DESCRIBE,
			       fuse_pkgversion());
		else
			printf("pifsd %s (libfuse %s)\n", PACKAGE_VERSION,
			       fuse_pkgversion());
		return cli_free(&c, &args, 0);
	}
	if (!c.store || !c.mountpoint) {
		say("usage: pifsd STORE MOUNTPOINT [-f] [-o OPTIONS]");
		return cli_free(&c, &args, 2);
	}
	if (c.debug)
		c.foreground = 1;
	if (c.threads < 1)
		c.threads = 1;
	d.timeout = c.timeout;
	d.golden_direct = 1;
	d.pt.want = 1;
	if (c.golden_cache) {
		if (!strcmp(c.golden_cache, "kernel")) {
			d.golden_direct = 0;
			d.pt.want = 0;
		} else if (!strcmp(c.golden_cache, "direct")) {
			d.pt.want = 0;
		} else if (strcmp(c.golden_cache, "shared")) {
			say("bad golden_cache '%s' (shared, direct or kernel)",
				c.golden_cache);
			return cli_free(&c, &args, 2);
		}
	}
	d.uring.want = 1;
	/* -o threads: the ring set's threads (uring.c) when it runs, else
	 * the /dev/fuse pool's (sessions.c). */
	d.uring.threads = c.threads;
	if (c.uring) {
		if (!strcmp(c.uring, "off"))
			d.uring.want = 0;
		else if (strcmp(c.uring, "on")) {
			say("bad uring '%s' (on or off)", c.uring);
			return cli_free(&c, &args, 2);
		}
	}
	pifsd_listings_init(&d.listings);
	pthread_mutex_init(&d.sb_lock, NULL);
	pthread_cond_init(&d.sb_idle, NULL);
	pthread_mutex_init(&d.sync_lock, NULL);
	pthread_mutex_init(&d.uring.conns_lock, NULL);
	if (log_setup(&c) < 0)
		goto out;
	umask(0);
	raise_nofile();

	if (dead_mount(c.mountpoint) && detach_dead(c.mountpoint) < 0) {
		say("mountpoint '%s' is a dead mount that "
			"cannot be detached: %s", c.mountpoint, strerror(errno));
		goto out;
	}
	if (stat(c.mountpoint, &st) < 0) {
		say("cannot use mountpoint '%s': %s",
			c.mountpoint, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		say("mountpoint '%s' is not a directory",
			c.mountpoint);
		goto out;
	}
	if (is_mountpoint(c.mountpoint)) {
		say("mountpoint '%s' is busy (already mounted)",
			c.mountpoint);
		goto out;
	}
	if (!realpath(c.mountpoint, real) || !(d.mountpoint = strdup(real))) {
		say("cannot use mountpoint '%s': %s",
			c.mountpoint, strerror(errno));
		goto out;
	}
	if (!c.foreground)
		ready_fd = go_background();
	if ((r = pifs_fs_open(&d.fs, c.store, err, sizeof(err))) < 0) {
		say("%s", err);
		goto out;
	}
	opened = 1;
	pifs_exports_start(c.store); /* after the fork: a thread */
	d.exit_fd = eventfd(0, EFD_CLOEXEC);
	if (d.exit_fd < 0 || session_args(&d, &args, &c) < 0) {
		say("cannot start: %s", strerror(ENOMEM));
		goto out;
	}
	capturing = 1;
	d.top = pifsd_sb_new(&d, NULL);
	capturing = 0;
	if (!d.top) {
		if (errno == EINVAL)
			say("bad mount options: %s",
			    captured[0] ? captured : "refused by libfuse");
		else
			say("cannot start: %s", strerror(errno));
		goto out;
	}
	if (fuse_set_signal_handlers(d.top->se) != 0)
		goto out;
	handlers = 1;
	/* Snapshots and resets of a mounted store must go through us. */
	if ((r = pifsd_ctl_listen(&d)) < 0) {
		say("cannot create control socket in '%s/lock': %s",
			c.store, strerror(-r));
		goto out;
	}
	pifsd_uring_prepare(&d);
	if ((r = pifsd_sb_mount(d.top, d.mountpoint)) < 0) {
		say("cannot mount at '%s'", c.mountpoint);
		goto out;
	}
	/* Shared propagation: a bind mount of nfsroot/ (the seed's /nfsroot,
	 * an fstab rbind line) is a peer, so a worker mounted later (pifs
	 * worker add) shows there too, and an unmount goes there too. */
	if (mount(NULL, d.mountpoint, NULL, MS_SHARED, NULL) < 0)
		pifs_warn("cannot make '%s' a shared mount (%s): bind mounts "
			  "of nfsroot/ will not see workers added later",
			  d.mountpoint, strerror(errno));
	if ((r = pifsd_pt_hook(&d)) < 0) {
		say("cannot hook the FUSE session: %s",
			strerror(-r));
		goto out;
	}
	write_pid(&d);
	/* With the ring set, /dev/fuse carries INITs, FORGETs and
	 * INTERRUPTs (and sessions that could not get entries). */
	if ((r = pifsd_pool_start(&d, d.uring.enabled && c.threads > 2 ?
					  2 : c.threads)) < 0) {
		say("cannot start threads: %s", strerror(-r));
		goto out;
	}
	{
		/* Signals are the main thread's (wait_for_exit). */
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		r = pifsd_ctl_run(&d);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (r < 0) {
		say("cannot serve the control socket: %s",
			strerror(-r));
		goto out;
	}
	/* Each worker's own file system, on its mount point in the top;
	 * one that cannot be mounted is logged, the others are served. */
	pifsd_sb_sync(&d);
	serving = 1;
	started(&ready_fd, 1);
	wait_for_exit(&d);
	ret = 0;
	pifs_info("unmounted '%s'", c.mountpoint);
out:
	started(&ready_fd, 0);
	pifsd_ctl_stop(&d);
	pifs_exports_stop(); /* no exportfs -r past here */
	/* The workers' file systems first (their mount points are in the
	 * top, which the pool still serves), then the top. */
	pthread_mutex_lock(&d.sb_lock);
	while (d.sbs && d.sbs->next) {
		struct pifsd_sb *sb = d.sbs->next;

		pthread_mutex_unlock(&d.sb_lock);
		pifsd_sb_retire(sb);
		pthread_mutex_lock(&d.sb_lock);
	}
	pthread_mutex_unlock(&d.sb_lock);
	if (d.top)
		pifsd_sb_retire(d.top);
	pifsd_uring_stop(&d);
	pifsd_pool_stop(&d);
	if (handlers)
		fuse_remove_signal_handlers(d.top->se);
	pifsd_fh_free_all(&d);
	pifsd_sb_free_all(&d);
	pifsd_pt_free(&d);
	pifsd_listings_free(&d.listings);
	fuse_opt_free_args(&d.sb_args);
	free(d.mountpoint);
	if (d.exit_fd >= 0)
		close(d.exit_fd);
	if (opened)
		pifs_fs_close(&d.fs);
	return cli_free(&c, &args, ret);
}
