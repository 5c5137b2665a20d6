/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pifs.c - the pifs command line: its global options (--store, --help,
 * --version) and the table that hands each command to the file that
 * owns it (cli.h lists them), or a "pifs SOURCE MOUNTPOINT" to the
 * mount.fuse3 form.  It links overlay/ only, never FUSE.  Every error is
 * one line "pifs: <message>" on stderr; the exit status is 2 for usage
 * errors (including malformed argument values), 1 for everything else,
 * and nothing stored changes on error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootconf.h"
#include "cli.h"
#include "pifs-describe.h"
#include "util.h"

static const char usage_main[] =
    "usage: pifs [--store DIR] COMMAND [ARGS]\n"
    "\n"
    "The store is --store DIR, else $PIFS_STORE, else " DEFAULT_STORE ".\n"
    "\n"
    "commands:\n"
    "  init STORE --golden DIR|IMAGE [--master IPv4]\n"
    "                                            create a store from a golden "
    "tree or\n"
    "                                            a disk image (.img, .img.xz, "
    ".img.gz)\n"
    "  golden import IMAGE|DIR [--default]       add a golden from an image "
    "or a\n"
    "                                            tree (or create the store "
    "with it)\n"
    "  golden list                               the store's goldens\n"
    "  golden default [ID]                       show or set the golden new "
    "workers\n"
    "                                            start on\n"
    "  golden remove ID                          delete a golden nothing uses\n"
    "  golden build [--minimal] DIR              build a golden tree from "
    "Debian's\n"
    "                                            Pi packages\n"
    "  verify [ID]                               check the goldens against "
    "their\n"
    "                                            manifests\n"
    "  worker add NAME --serial SERIAL [--model pi3b+|pi4|pi5] [--mac MAC]\n"
    "             [--tftp-prefix serial|mac|str:NAME] [--ip IPv4] [--golden ID]\n"
    "  worker list                               list the registered workers\n"
    "  worker accept NAME [--mac MAC] [--serial SERIAL]\n"
    "                                            accept an enrolled worker\n"
    "  worker remove NAME [--force]              unregister a worker, keeping "
    "its delta\n"
    "  enroll [on [--max N] | off]               show or set zero-touch "
    "enrolment\n"
    "  mount [-f] [-o OPTS] [STORE] MOUNTPOINT   start pifsd on MOUNTPOINT\n"
    "  umount MOUNTPOINT                         unmount it and the mounts "
    "below it;\n"
    "                                            returns once pifsd has "
    "exited\n"
    "  destroy STORE --yes                       remove a store entirely\n"
    "  snapshot WORKER|--all [-m MSG] [--allow-empty]\n"
    "                                            record the worker's delta\n"
    "                                            (--all: each worker's)\n"
    "  log WORKER                                list its snapshots, newest "
    "first\n"
    "  diff WORKER [REV] [-- PATH...]            changes against the golden "
    "or REV\n"
    "  show WORKER REV:PATH                      a file as it was at REV\n"
    "  reset WORKER [--to REV | --golden] [--force]\n"
    "                                            restore a snapshot (default: "
    "the last)\n"
    "  rebase WORKER --golden ID [--theirs]      move a worker onto another "
    "golden\n"
    "  status                                    unsnapshotted changes of "
    "every worker\n"
    "  fsck                                      check snapshots, deltas and "
    "the golden\n"
    "  master [IPv4]                             show or change the master's "
    "address\n"
    "  dnsmasq-conf [--proxy] [--interface IF] [--tftp-root DIR]\n"
    "               [--hosts-dir DIR]\n"
    "                                            print a dnsmasq.conf for the "
    "workers\n"
    "  exports [--nfsroot DIR] [--install FILE|--uninstall]\n"
    "                                            print /etc/exports lines for "
    "the workers\n"
    "  dhcp-event ACTION ARGS...                 dnsmasq's dhcp-script (set up "
    "by\n"
    "                                            dnsmasq-conf --hosts-dir)\n"
    "  SOURCE MOUNTPOINT [-o OPTS]               as mount, for mount.fuse3 "
    "(fstab)\n"
    "\n"
    "  help [COMMAND [SUBCOMMAND]]               what pifs COMMAND --help "
    "prints\n"
    "\n"
    "  pifs COMMAND --help shows the help of a command; pifs --version.\n"
    "  status, worker list, golden list, log and diff take --json.\n"
    "Exit status: 0 ok, 1 error, 2 usage error (diff --exit-code: 1 changes,\n"
    "3 error).\n";

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

static int cmd_dnsmasq_conf(int argc, char **argv)
{
	return pifs_bootconf_main("dnsmasq-conf", store_path(), argc, argv);
}

static int cmd_exports(int argc, char **argv)
{
	return pifs_bootconf_main("exports", store_path(), argc, argv);
}

static int cmd_help(int argc, char **argv);

/*
 * Two builds of this program.  tools/pifs-git has every command; it is
 * the only one linked with the git layer, libgit2 and the fifteen
 * libraries libgit2 needs, whose loading alone took 4.7 ms of CPU of the
 * 6 ms `pifs --help` took (measured; README "Performance").  pifs
 * (PIFS_LIGHT) has the commands that do not read snapshots: init,
 * worker, mount and the fstab form, umount, destroy, dnsmasq-conf,
 * exports and help, and runs pifs-git with the same arguments for the
 * others.
 */
#ifdef PIFS_LIGHT
#define GIT(fn) NULL
#else
#define GIT(fn) fn
#endif

/* The commands; group: its first argument names a subcommand (worker
 * add, golden import), which has a --help of its own. */
static const struct {
	const char *name;
	int (*fn)(int, char **);
	int group;
} cmds[] = {
    {"init", cmd_init, 0},
    {"verify", GIT(cmd_verify), 0},
    {"worker", cmd_worker, 1},
    {"enroll", cmd_enroll, 0},
    {"dhcp-event", cmd_dhcp_event, 0},
    {"golden", GIT(cmd_golden), 1},
    {"mount", cmd_mount, 0},
    {"umount", cmd_umount, 0},
    {"destroy", cmd_destroy, 0},
    {"snapshot", GIT(cmd_snapshot), 0},
    {"log", GIT(cmd_log), 0},
    {"diff", GIT(cmd_diff), 0},
    {"show", GIT(cmd_show), 0},
    {"reset", GIT(cmd_reset), 0},
    {"status", GIT(cmd_status), 0},
    {"rebase", GIT(cmd_rebase), 0},
    {"fsck", GIT(cmd_fsck), 0},
    {"master", GIT(cmd_master), 0},
    {"dnsmasq-conf", cmd_dnsmasq_conf, 0},
    {"exports", cmd_exports, 0},
    {"help", cmd_help, 0},
};

#ifdef PIFS_LIGHT
/*
 * pifs-git, for a command this pifs does not have: beside this pifs (a
 * build tree's tools/, or wherever the two were copied together), else
 * where `make install` puts it.  Beside, not a path from the
 * environment or the build: what sits next to the binary is as
 * trustworthy as the binary.
 */
static char **main_argv;

static void run_full(void)
{
	char self[PATH_MAX], *slash, *path = NULL;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/'))) {
			*slash = '\0';
			path = pifs_strdupf("%s/pifs-git", self);
			if (path && access(path, X_OK) < 0) {
				free(path);
				path = NULL;
			}
		}
	}
	if (!path)
		path = strdup(PIFS_PKGLIBEXECDIR "/pifs-git");
	if (!path)
		die(1, "out of memory");
	fflush(stdout);
	execv(path, main_argv);
	die(1, "cannot run '%s' (the snapshot commands): %s", path,
	    strerror(errno));
}
#endif

/* The index of command name in cmds, or -1. */
static int find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(name, cmds[i].name))
			return (int)i;
	return -1;
}

/* help [COMMAND [SUBCOMMAND]]: what "pifs --help", "pifs COMMAND --help"
 * or "pifs COMMAND SUBCOMMAND --help" prints, by running just that. */
static int cmd_help(int argc, char **argv)
{
	char *args[4];
	int c, n;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		argc = 1;
	if (argc == 1 || !strcmp(argv[1], "help")) {
		if (argc > 2)
			die(EXIT_USAGE, "unexpected argument '%s'", argv[2]);
		fputs(usage_main, stdout);
		return 0;
	}
	c = find_cmd(argv[1]);
	if (c < 0)
		die(EXIT_USAGE, "unknown command '%s' (see 'pifs --help')",
		    argv[1]);
	n = cmds[c].group ? 3 : 2;
	if (argc > n)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[n]);
	args[0] = argv[1];
	args[1] = argc == 3 ? argv[2] : (char *)"--help";
	args[2] = argc == 3 ? (char *)"--help" : NULL;
	args[3] = NULL;
	optind = 0;
#ifdef PIFS_LIGHT
	if (!cmds[c].fn)
		run_full();
#endif
	return cmds[c].fn(argc, args);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"store", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd;
	int c;

#ifdef PIFS_LIGHT
	main_argv = argv;
#endif
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
			if (PIFS_DESCRIBE[0])
				printf("pifs %s (git %s)\n", PACKAGE_VERSION,
				       PIFS_DESCRIBE);
			else
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
	if ((c = find_cmd(cmd)) >= 0) {
#ifdef PIFS_LIGHT
		if (!cmds[c].fn)
			run_full();
#endif
		return cmds[c].fn(argc, argv);
	}
	/* mount.fuse3 runs "pifs SOURCE MOUNTPOINT -o OPTS"; a path (no
	 * command has a '/') that is no store is that form too, so a wrong
	 * store path in fstab is named as such, not an unknown command */
	if (argc >= 2 && (strchr(cmd, '/') || looks_like_store(cmd)))
		return cmd_mount_fuse3(argc, argv);
	die(EXIT_USAGE, "unknown command '%s' (see 'pifs --help')", cmd);
}
