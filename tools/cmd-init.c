/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd-init.c - a store's beginning and end: pifs init creates one from a
 * golden tree or a disk image (interruptible, with a progress bar on a
 * terminal), pifs destroy removes one that no pifsd serves.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "registry.h"
#include "safeio.h"
#include "store.h"

static const char usage_init[] =
    "usage: pifs init STORE --golden DIR|IMAGE [--master IPv4]\n"
    "\n"
    "Create a store at STORE (which must not exist or be empty) from the\n"
    "golden root file system tree DIR, or from a Raspberry Pi OS disk\n"
    "IMAGE (.img, .img.xz or .img.gz, told by content; its FAT boot\n"
    "partition becomes boot/firmware/): the tree is copied with all its\n"
    "attributes, a manifest is written and the copy is made immutable.\n"
    "An image is read as a stream, with no loop device or mount; a progress\n"
    "bar shows on a terminal.\n"
    "--master sets the master's address (default 10.1.1.100).\n";

static const char usage_destroy[] =
    "usage: pifs destroy STORE --yes\n"
    "\n"
    "Remove the store STORE and everything in it, deltas included.  Refuses\n"
    "while the store is mounted.\n";

/* Create a store from a directory or an image: an image import can take
 * minutes, so SIGINT/SIGTERM stop it cleanly (nothing is left behind)
 * and a terminal on stderr gets a progress bar. */
void create_store(const char *path, const char *golden,
			 const char *master, FILE *progress)
{
	struct pifs_store_create_opts o = {.master = master,
					   .progress = progress,
					   .bar_fd = isatty(2) ? 2 : -1,
					   .warn = 1,
					   .cancel = &interrupted};
	struct sigaction old[2];
	char err[PATH_MAX * 2 + 256];
	int ret;

	interrupts_catch(old);
	ret = pifs_store_create_opts(path, golden, &o, err, sizeof(err));
	interrupts_restore(old);
	if (ret < 0)
		die(interrupted ? 130 : 1, "%s", err);
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"golden", required_argument, NULL, 'g'},
	    {"master", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *golden = NULL, *master = NULL, *path;
	struct pifs_store st;
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
		die(EXIT_USAGE, "init needs --golden DIR or --golden IMAGE");
	if (master && pifs_ipv4_valid(master) < 0)
		die(EXIT_USAGE, "bad master address '%s'", master);
	create_store(path, golden, master, stdout);
	open_store(&st, path);
	printf("created store '%s' with golden %s\n", path, st.conf.golden);
	pifs_store_close(&st);
	return 0;
}

int cmd_destroy(int argc, char **argv)
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
