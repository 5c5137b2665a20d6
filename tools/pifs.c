/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pifs.c - the pifs command line: create, verify and destroy a store,
 * manage its worker registry, and mount it by exec()ing pifsd (also as
 * the mount.fuse3 helper for fstab type fuse.pifs).  It links overlay/
 * only, never FUSE.  Every error is one line "pifs: <message>" on stderr;
 * the exit status is 2 for usage errors (including malformed argument
 * values), 1 for everything else, and nothing stored changes on error.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"
#include "registry.h"
#include "safeio.h"
#include "store.h"
#include "util.h"

#ifndef PIFS_SBINDIR /* set by Makefile.am */
#define PIFS_SBINDIR "/usr/local/sbin"
#endif
#define EXIT_USAGE	2
#define DEFAULT_STORE	"/var/lib/pifs"
#define LOCK_TIMEOUT_MS 10000
#define MANIFEST_MAX	((size_t)1 << 30)

static const char *opt_store; /* --store, or NULL */

static void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("pifs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static const char usage_main[] =
    "usage: pifs [--store DIR] COMMAND [ARGS]\n"
    "\n"
    "The store is --store DIR, else $PIFS_STORE, else " DEFAULT_STORE ".\n"
    "\n"
    "commands:\n"
    "  init STORE --golden DIR [--master IPv4]   create a store from a golden "
    "tree\n"
    "  verify                                    check the golden against its "
    "manifest\n"
    "  worker add NAME --serial HEX8 [--mac MAC] [--ip IPv4]\n"
    "  worker list                               list the registered workers\n"
    "  worker remove NAME [--force]              unregister a worker, keeping "
    "its delta\n"
    "  mount [-f] [-o OPTS] [STORE] MOUNTPOINT   start pifsd on MOUNTPOINT\n"
    "  umount MOUNTPOINT                         unmount (fusermount3 -u)\n"
    "  destroy STORE --yes                       remove a store entirely\n"
    "  SOURCE MOUNTPOINT [-o OPTS]               as mount, for mount.fuse3 "
    "(fstab)\n"
    "\n"
    "  pifs COMMAND --help shows the help of a command; pifs --version.\n"
    "Exit status: 0 ok, 1 error, 2 usage error.\n";

static const char usage_init[] =
    "usage: pifs init STORE --golden DIR [--master IPv4]\n"
    "\n"
    "Create a store at STORE (which must not exist or be empty) from the\n"
    "golden root file system tree DIR: the tree is copied with all its\n"
    "attributes, a manifest is written and the copy is made immutable.\n"
    "--master sets the master's address (default 10.1.1.100).\n";

static const char usage_verify[] =
    "usage: pifs [--store DIR] verify\n"
    "\n"
    "Re-check the golden tree against its manifest; every difference is\n"
    "listed on stdout and the exit status is 1 if there is any.\n";

static const char usage_worker[] =
    "usage: pifs [--store DIR] worker add NAME --serial HEX8 [--mac MAC] [--ip "
    "IPv4]\n"
    "       pifs [--store DIR] worker list\n"
    "       pifs [--store DIR] worker remove NAME [--force]\n"
    "\n"
    "NAME is [a-z0-9][a-z0-9-]*, at most 63 characters; HEX8 the Pi's\n"
    "8-digit serial.  The MAC defaults to b8:27:eb: and the serial's last 6\n"
    "digits; the address to the lowest free one in the store's range.\n"
    "remove refuses while the store is mounted unless --force is given; the\n"
    "worker's delta is kept as deltas/.removed-NAME-<time>.\n";

static const char usage_mount[] =
    "usage: pifs [--store DIR] mount [-f] [-o OPTS] [STORE] MOUNTPOINT\n"
    "       pifs SOURCE MOUNTPOINT [-o OPTS]\n"
    "\n"
    "Start pifsd serving STORE on MOUNTPOINT (-f: stay in the foreground).\n"
    "The daemon is $PIFS_DAEMON if set, else the pifsd beside this pifs (in\n"
    "a build tree, ../fs/pifsd), else " PIFS_SBINDIR "/pifsd.\n";

static const char usage_umount[] = "usage: pifs umount MOUNTPOINT\n";

static const char usage_destroy[] =
    "usage: pifs destroy STORE --yes\n"
    "\n"
    "Remove the store STORE and everything in it, deltas included.  Refuses\n"
    "while the store is mounted.\n";

static const char *store_path(void)
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
static int sub_getopt(int argc, char **argv, const char *shortopts,
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

static void open_store(struct pifs_store *st, const char *path)
{
	char err[PATH_MAX + 128];

	if (pifs_store_open(st, path, err, sizeof(err)) < 0)
		die(1, "%s", err);
}

static void lock_store(struct pifs_store *st)
{
	int ret = pifs_store_lock(st, LOCK_TIMEOUT_MS);

	if (ret == -EAGAIN)
		die(1, "store '%s' is busy: another pifs holds its lock",
		    st->path);
	if (ret < 0)
		die(1, "cannot lock store '%s': %s", st->path, strerror(-ret));
}

static void load_registry(struct pifs_store *st, struct pifs_registry *reg)
{
	char err[256];

	pifs_registry_init(reg);
	if (pifs_registry_load(reg, st->fd, err, sizeof(err)) < 0)
		die(1, "store '%s': %s", st->path, err);
}

/* ---- init ---- */

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"golden", required_argument, NULL, 'g'},
	    {"master", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *golden = NULL, *master = NULL, *path;
	struct pifs_store st;
	char err[PATH_MAX * 2 + 256];
	int c;

	while ((c = sub_getopt(argc, argv, ":g:m:h", opts, usage_init)) != -1) {
		if (c == 'g')
			golden = optarg;
		else if (c == 'm')
			master = optarg;
	}
	if (optind < argc)
		path = argv[optind++];
	else if (opt_store)
		path = opt_store;
	else
		die(EXIT_USAGE, "init needs a STORE directory");
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (!golden)
		die(EXIT_USAGE, "init needs --golden DIR");
	if (master && pifs_ipv4_valid(master) < 0)
		die(EXIT_USAGE, "bad master address '%s'", master);
	if (pifs_store_create(path, golden, master, stdout, err, sizeof(err)) <
	    0)
		die(1, "%s", err);
	open_store(&st, path);
	printf("created store '%s' with golden %s\n", path, st.conf.golden);
	pifs_store_close(&st);
	return 0;
}

/* ---- verify ---- */

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_store st;
	char sub[64], *text = NULL;
	int ret;

	while (sub_getopt(argc, argv, ":h", opts, usage_verify) != -1)
		;
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	open_store(&st, store_path());
	snprintf(sub, sizeof(sub), "goldens/%s/manifest", st.conf.golden);
	ret = pifs_read_file(st.fd, sub, MANIFEST_MAX, &text, NULL);
	if (ret < 0)
		die(1, "cannot read '%s/%s': %s", st.path, sub, strerror(-ret));
	ret = pifs_manifest_verify(st.golden_fd, text, stdout);
	free(text);
	if (ret < 0)
		die(1, "cannot verify golden %s: %s", st.conf.golden,
		    strerror(-ret));
	if (ret > 0)
		die(1, "golden %s differs from its manifest (%d difference%s)",
		    st.conf.golden, ret, ret == 1 ? "" : "s");
	printf("golden %s matches its manifest\n", st.conf.golden);
	pifs_store_close(&st);
	return 0;
}

/* ---- worker ---- */

static int ip_parse(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

/* The lowest address of the store's range no worker has, into out. */
static int free_ip(const struct pifs_store *st, const struct pifs_registry *reg,
		   char out[16])
{
	uint32_t lo, hi, a;
	struct in_addr ia;
	size_t i;

	if (ip_parse(st->conf.range_lo, &lo) < 0 ||
	    ip_parse(st->conf.range_hi, &hi) < 0 || lo > hi)
		die(1, "store '%s' has a bad range %s-%s", st->path,
		    st->conf.range_lo, st->conf.range_hi);
	for (a = lo;; a++) {
		ia.s_addr = htonl(a);
		inet_ntop(AF_INET, &ia, out, 16);
		for (i = 0; i < reg->count; i++)
			if (!strcmp(reg->workers[i].ip, out))
				break;
		if (i == reg->count)
			return 0;
		if (a == hi)
			break;
	}
	return -ENOSPC;
}

static int worker_add(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"serial", required_argument, NULL, 's'},
	    {"mac", required_argument, NULL, 'm'},
	    {"ip", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *serial = NULL, *mac = NULL, *ip = NULL, *name;
	struct pifs_registry reg;
	struct pifs_worker w;
	struct pifs_store st;
	char err[256];
	int c, ret;

	while ((c = sub_getopt(argc, argv, ":s:m:i:h", opts, usage_worker)) !=
	       -1) {
		if (c == 's')
			serial = optarg;
		else if (c == 'm')
			mac = optarg;
		else if (c == 'i')
			ip = optarg;
	}
	if (optind >= argc)
		die(EXIT_USAGE, "worker add needs a NAME");
	name = argv[optind++];
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (!serial)
		die(EXIT_USAGE, "worker add needs --serial HEX8");

	memset(&w, 0, sizeof(w));
	if (pifs_worker_name_valid(name) < 0)
		die(EXIT_USAGE,
		    "bad worker name '%s' (want [a-z0-9][a-z0-9-]*, at most %d "
		    "characters)",
		    name, PIFS_NAME_MAX);
	strcpy(w.name, name);
	if (pifs_serial_norm(serial, w.serial) < 0)
		die(EXIT_USAGE, "bad serial '%s' (want 8 hex digits)", serial);
	if (mac && pifs_mac_norm(mac, w.mac) < 0)
		die(EXIT_USAGE, "bad mac '%s' (want aa:bb:cc:dd:ee:ff)", mac);
	if (!mac)
		pifs_mac_from_serial(w.serial, w.mac);
	if (ip && pifs_ipv4_valid(ip) < 0)
		die(EXIT_USAGE, "bad ip '%s' (want a dotted IPv4 address)", ip);
	if (ip)
		strcpy(w.ip, ip);

	open_store(&st, store_path());
	lock_store(&st);
	load_registry(&st, &reg);
	if (!ip && free_ip(&st, &reg, w.ip) < 0)
		die(1, "no free address in %s-%s", st.conf.range_lo,
		    st.conf.range_hi);
	if (pifs_registry_add(&reg, &w, err, sizeof(err)) < 0)
		die(1, "%s", err);
	ret = pifs_store_delta_create(&st, w.name);
	if (ret == -EEXIST)
		die(1, "delta '%s/deltas/%s' already exists", st.path, w.name);
	if (ret < 0)
		die(1, "cannot create delta '%s/deltas/%s': %s", st.path,
		    w.name, strerror(-ret));
	ret = pifs_registry_save(&reg, st.fd);
	if (ret < 0) {
		pifs_remove_tree(st.deltas_fd, w.name);
		die(1, "cannot save registry '%s/workers': %s", st.path,
		    strerror(-ret));
	}
	printf("added %s: serial %s mac %s ip %s (id %u)\n", w.name, w.serial,
	       w.mac, w.ip, w.id);
	pifs_registry_release(&reg);
	pifs_store_close(&st);
	return 0;
}

static int worker_list(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_registry reg;
	struct pifs_store st;
	int namew = 4;
	size_t i;

	while (sub_getopt(argc, argv, ":h", opts, usage_worker) != -1)
		;
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	open_store(&st, store_path());
	load_registry(&st, &reg);
	for (i = 0; i < reg.count; i++)
		if ((int)strlen(reg.workers[i].name) > namew)
			namew = (int)strlen(reg.workers[i].name);
	printf("%-*s  %-8s  %-17s  %-15s  %s\n", namew, "NAME", "SERIAL", "MAC",
	       "IP", "ID");
	for (i = 0; i < reg.count; i++) {
		const struct pifs_worker *w = &reg.workers[i];

		printf("%-*s  %-8s  %-17s  %-15s  %u\n", namew, w->name,
		       w->serial, w->mac[0] ? w->mac : "-",
		       w->ip[0] ? w->ip : "-", w->id);
	}
	pifs_registry_release(&reg);
	pifs_store_close(&st);
	return 0;
}

static int worker_remove(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_registry reg;
	struct pifs_store st;
	char *kept = NULL;
	const char *name;
	int c, force = 0, ret;
	pid_t pid;

	while ((c = sub_getopt(argc, argv, ":fh", opts, usage_worker)) != -1)
		if (c == 'f')
			force = 1;
	if (optind >= argc)
		die(EXIT_USAGE, "worker remove needs a NAME");
	name = argv[optind++];
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (pifs_worker_name_valid(name) < 0)
		die(EXIT_USAGE, "bad worker name '%s'", name);

	open_store(&st, store_path());
	lock_store(&st);
	ret = pifs_store_mounted(&st, &pid);
	if (ret < 0)
		die(1, "cannot check whether '%s' is mounted: %s", st.path,
		    strerror(-ret));
	if (ret > 0 && !force)
		die(1,
		    "store '%s' is mounted (pifsd pid %ld); unmount it first "
		    "or use --force",
		    st.path, (long)pid);
	load_registry(&st, &reg);
	if (pifs_registry_remove(&reg, name) < 0)
		die(1, "no worker '%s'", name);
	ret = pifs_store_delta_retire(&st, name, &kept);
	if (ret < 0 && ret != -ENOENT)
		die(1, "cannot move delta '%s/deltas/%s' aside: %s", st.path,
		    name, strerror(-ret));
	ret = pifs_registry_save(&reg, st.fd);
	if (ret < 0) {
		if (kept)
			renameat2(st.deltas_fd, kept, st.deltas_fd, name,
				  RENAME_NOREPLACE);
		die(1, "cannot save registry '%s/workers': %s", st.path,
		    strerror(-ret));
	}
	if (kept)
		printf("removed %s; its delta is kept as '%s/deltas/%s'\n",
		       name, st.path, kept);
	else
		printf("removed %s; it had no delta\n", name);
	free(kept);
	pifs_registry_release(&reg);
	pifs_store_close(&st);
	return 0;
}

static int cmd_worker(int argc, char **argv)
{
	if (argc < 2)
		die(EXIT_USAGE, "worker needs add, list or remove");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_worker, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "add"))
		return worker_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return worker_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "remove"))
		return worker_remove(argc - 1, argv + 1);
	die(EXIT_USAGE, "unknown worker command '%s'", argv[1]);
}

/* ---- mount / umount ---- */

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

static int do_mount(const char *store, const char *mnt, int foreground,
		    const char *opts)
{
	struct pifs_store st;
	char *daemon, *astore, *amnt, *args[8];
	struct stat sb;
	pid_t pid;
	int n = 0, ret;

	open_store(&st, store);
	ret = pifs_store_mounted(&st, &pid);
	if (ret > 0)
		die(1, "store '%s' is already mounted (pifsd pid %ld)", store,
		    (long)pid);
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

static int cmd_mount(int argc, char **argv)
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

static int cmd_umount(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};

	while (sub_getopt(argc, argv, ":h", opts, usage_umount) != -1)
		;
	if (argc - optind != 1)
		die(EXIT_USAGE, "umount needs a MOUNTPOINT");
	fflush(stdout);
	execlp("fusermount3", "fusermount3", "-u", argv[optind], (char *)NULL);
	die(1, "cannot run 'fusermount3': %s", strerror(errno));
}

/* ---- destroy ---- */

static int cmd_destroy(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"yes", no_argument, NULL, 'y'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_store st;
	char *real, *slash;
	const char *path;
	int c, yes = 0, ret, pfd;
	pid_t pid;

	while ((c = sub_getopt(argc, argv, ":h", opts, usage_destroy)) != -1)
		if (c == 'y')
			yes = 1;
	if (optind < argc)
		path = argv[optind++];
	else if (opt_store)
		path = opt_store;
	else
		die(EXIT_USAGE, "destroy needs a STORE directory");
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (!yes)
		die(EXIT_USAGE,
		    "destroy removes '%s' and all its deltas: add --yes", path);

	open_store(&st, path);
	lock_store(&st);
	ret = pifs_store_mounted(&st, &pid);
	if (ret < 0)
		die(1, "cannot check whether '%s' is mounted: %s", path,
		    strerror(-ret));
	if (ret > 0)
		die(1,
		    "store '%s' is mounted (pifsd pid %ld); unmount it first",
		    path, (long)pid);
	real = realpath(path, NULL);
	if (!real)
		die(1, "cannot resolve '%s': %s", path, strerror(errno));
	slash = strrchr(real, '/');
	if (!slash || !slash[1])
		die(1, "refusing to destroy '%s'", real);
	*slash = '\0';
	pfd =
	    open(slash == real ? "/" : real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		die(1, "cannot open the parent of '%s': %s", path,
		    strerror(errno));
	ret = pifs_remove_tree(pfd, slash + 1);
	if (ret < 0)
		die(1, "cannot remove store '%s': %s", path, strerror(-ret));
	close(pfd);
	free(real);
	pifs_store_close(&st);
	printf("destroyed store '%s'\n", path);
	return 0;
}

/* ---- main ---- */

/* Is path a directory holding a pifs.conf (the mount.fuse3 form)? */
static int looks_like_store(const char *path)
{
	struct stat st;
	char *conf;
	int ret;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	conf = pifs_strdupf("%s/pifs.conf", path);
	ret = conf && stat(conf, &st) == 0;
	free(conf);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"store", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	static const struct {
		const char *name;
		int (*fn)(int, char **);
		const char *usage;
	} cmds[] = {
	    {"init", cmd_init, usage_init},
	    {"verify", cmd_verify, usage_verify},
	    {"worker", cmd_worker, usage_worker},
	    {"mount", cmd_mount, usage_mount},
	    {"umount", cmd_umount, usage_umount},
	    {"destroy", cmd_destroy, usage_destroy},
	};
	const char *cmd;
	size_t i;
	int c;

	pifs_log_init("pifs", 0, PIFS_LOG_WARN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:s:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt_store = optarg;
			break;
		case 'h':
			fputs(usage_main, stdout);
			return 0;
		case 'V':
			printf("pifs %s\n", PACKAGE_VERSION);
			return 0;
		case ':':
			die(EXIT_USAGE, "option '%s' needs an argument",
			    argv[optind - 1]);
		default:
			die(EXIT_USAGE,
			    "unknown option '%s' (see 'pifs --help')",
			    argv[optind - 1]);
		}
	}
	if (optind >= argc)
		die(EXIT_USAGE, "no command given (see 'pifs --help')");
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0; /* re-initialise getopt for the subcommand */
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmd, cmds[i].name))
			return cmds[i].fn(argc, argv);
	/* mount.fuse3 runs "pifs SOURCE MOUNTPOINT -o OPTS" */
	if (argc >= 2 && looks_like_store(cmd)) {
		static const struct option mopts[] = {
		    {"help", no_argument, NULL, 'h'},
		    {NULL, 0, NULL, 0},
		};
		char *o = NULL;
		int fg = 0;

		/* argv[0] is SOURCE and plays the program name */
		while ((c = sub_getopt(argc, argv, ":fo:h", mopts,
				       usage_mount)) != -1) {
			if (c == 'o')
				add_opts(&o, optarg);
			else if (c == 'f')
				fg = 1;
		}
		if (argc - optind != 1)
			die(EXIT_USAGE,
			    "usage: pifs SOURCE MOUNTPOINT [-o OPTS]");
		return do_mount(cmd, argv[optind], fg, o);
	}
	die(EXIT_USAGE, "unknown command '%s' (see 'pifs --help')", cmd);
}
