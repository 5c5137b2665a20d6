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

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bootconf.h"
#include "cli.h"
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
    "  worker add NAME --serial HEX8 [--mac MAC] [--ip IPv4] [--golden ID]\n"
    "  worker list                               list the registered workers\n"
    "  worker remove NAME [--force]              unregister a worker, keeping "
    "its delta\n"
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
    "  dnsmasq-conf [--interface IF] [--tftp-root DIR]\n"
    "                                            print a dnsmasq.conf for the "
    "workers\n"
    "  exports [--nfsroot DIR]                   print /etc/exports lines for "
    "the workers\n"
    "  SOURCE MOUNTPOINT [-o OPTS]               as mount, for mount.fuse3 "
    "(fstab)\n"
    "\n"
    "  pifs COMMAND --help shows the help of a command; pifs --version.\n"
    "Exit status: 0 ok, 1 error, 2 usage error.\n";

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
	} cmds[] = {
	    {"init", cmd_init},
	    {"verify", cmd_verify},
	    {"worker", cmd_worker},
	    {"golden", cmd_golden},
	    {"mount", cmd_mount},
	    {"umount", cmd_umount},
	    {"destroy", cmd_destroy},
	    {"snapshot", cmd_snapshot},
	    {"log", cmd_log},
	    {"diff", cmd_diff},
	    {"show", cmd_show},
	    {"reset", cmd_reset},
	    {"status", cmd_status},
	    {"rebase", cmd_rebase},
	    {"fsck", cmd_fsck},
	    {"master", cmd_master},
	    {"dnsmasq-conf", cmd_dnsmasq_conf},
	    {"exports", cmd_exports},
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
	if (argc >= 2 && looks_like_store(cmd))
		return cmd_mount_fuse3(argc, argv);
	die(EXIT_USAGE, "unknown command '%s' (see 'pifs --help')", cmd);
}
