/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd-status.c - looking at a whole store: pifs status (every worker's
 * unsnapshotted changes, last snapshot, rebase conflicts, and whether
 * it can boot), pifs fsck (the repository, the deltas and every golden
 * against its manifest) and pifs master (show or change the master's
 * address, a running pifsd reloading it).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "rebase.h"
#include "registry.h"
#include "safeio.h"
#include "store.h"
#include "util.h"

static const char usage_status[] =
    "usage: pifs [--store DIR] status\n"
    "\n"
    "For every worker: serial, changes not in a snapshot (count, bytes) and\n"
    "the last snapshot.\n";

static const char usage_fsck[] =
    "usage: pifs [--store DIR] fsck\n"
    "\n"
    "Check the snapshot repository (refs, every reachable object, META),\n"
    "the workers' deltas and their bases, leftovers in work/ and the golden\n"
    "against its manifest.  One line per problem, exit 1 if there is any.\n";

static const char usage_master[] =
    "usage: pifs [--store DIR] master [IPv4]\n"
    "\n"
    "Print the master's address, or change it.  Workers' generated\n"
    "cmdline.txt (nfsroot=IPv4:/nfsroot/<worker>) and /etc/hosts follow at\n"
    "once, also on a mounted store.\n";

/* Is there a golden directory at PATH? */
static int golden_dir(struct pifs_store *st, const char *path)
{
	struct stat s;

	return pifs_lstat_beneath(st->golden_fd, path, &s) == 0 && S_ISDIR(s.st_mode);
}

/* Does WORKER's view show boot/firmware/cmdline.txt, which its firmware
 * needs to boot?  Walks the delta one name at a time (never following a
 * worker's symlink): a whiteout or a non-directory on the way hides it; an
 * opaque directory stops the golden (and so the generated file) showing
 * through; where the delta has nothing, the golden's boot/firmware (with
 * its generated cmdline.txt) shows. */
static int shows_cmdline(struct pifs_store *st, const char *worker)
{
	static const char *const comps[] = { "boot", "firmware", "cmdline.txt" };
	int dfd = openat(st->deltas_fd, worker, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int lower = 1, ok = 0;
	struct stat s;
	char c;

	for (size_t i = 0; dfd >= 0 && i < 3; i++) {
		int next;

		if (fstatat(dfd, comps[i], &s, AT_SYMLINK_NOFOLLOW) < 0) {
			/* Not in the delta: the golden's shows, if anything. */
			ok = lower && golden_dir(st, "boot/firmware");
			break;
		}
		if (S_ISCHR(s.st_mode) && s.st_rdev == 0)
			break; /* whiteout */
		if (i == 2) {
			ok = S_ISREG(s.st_mode);
			break;
		}
		if (!S_ISDIR(s.st_mode))
			break;
		if (pifs_lgetxattr(dfd, comps[i], PIFS_XATTR_OPAQUE, &c, 1) == 1)
			lower = 0;
		next = openat(dfd, comps[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		dfd = next;
	}
	if (dfd >= 0)
		close(dfd);
	return ok;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_registry reg;
	struct pifs_store st;
	struct pifs_git *g;
	char **missing, sz[32], last[64], id[41], chg[32], gold[17];
	size_t i, nmiss = 0, count;
	uint64_t bytes;
	int namew = 6, ret;

	while (sub_getopt(argc, argv, ":h", opts, usage_status) != -1)
		;
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	open_store(&st, store_path());
	load_registry(&st, &reg);
	g = open_git(&st, 0);
	missing = calloc(reg.count + 1, sizeof(*missing));
	if (!missing)
		die(1, "out of memory");
	for (i = 0; i < reg.count; i++)
		if ((int)strlen(reg.workers[i].name) > namew)
			namew = (int)strlen(reg.workers[i].name);
	printf("%-*s  %-8s  %7s  %10s  %-16s  %s\n", namew, "WORKER", "SERIAL",
	       "CHANGES", "BYTES", "GOLDEN", "LAST-SNAPSHOT");
	for (i = 0; i < reg.count; i++) {
		const struct pifs_worker *w = &reg.workers[i];
		struct pifs_log_entry *log = NULL;
		size_t nlog = 0;

		strcpy(last, "-");
		if (g && pifs_git_head(g, w->name, id) == 0 &&
		    pifs_git_log(g, w->name, &log, &nlog) == 0 && nlog) {
			char date[32];
			time_t t = (time_t)(log[0].time +
					    (int64_t)log[0].offset * 60);
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
			snprintf(last, sizeof(last), "%.7s %s", id, date);
		}
		pifs_git_log_free(log, nlog);
		if (pifs_store_worker_golden(&st, w->name, gold) < 0)
			strcpy(gold, "-");
		ret = unsnapshotted(&st, g, w->name, &count, &bytes);
		if (ret < 0) {
			missing[nmiss++] = (char *)w->name;
			printf("%-*s  %-8s  %7s  %10s  %-16s  %s\n", namew,
			       w->name, w->serial, "-", "-", gold, last);
			continue;
		}
		snprintf(chg, sizeof(chg), "%zu", count);
		printf("%-*s  %-8s  %7s  %10s  %-16s  %s\n", namew, w->name,
		       w->serial, chg, human(bytes, sz), gold, last);
	}
	for (i = 0; i < reg.count; i++) {
		struct pifs_conflict *cf = NULL;
		size_t ncf = 0;

		if (pifs_conflicts_load(&st, reg.workers[i].name, &cf, &ncf) < 0 ||
		    !ncf)
			continue;
		printf("%s: %zu rebase conflict%s (pifs rebase %s --resolved "
		       "clears the list):\n", reg.workers[i].name, ncf,
		       ncf == 1 ? "" : "s", reg.workers[i].name);
		for (size_t j = 0; j < ncf; j++) {
			char *esc = pifs_path_escape(cf[j].path);

			printf("  C %s (%s)\n", esc ? esc : "?", cf[j].what);
			free(esc);
		}
		pifs_conflicts_free(cf, ncf);
	}
	for (i = 0; i < nmiss; i++)
		printf("warning: %s has no delta '%s/deltas/%s'\n", missing[i],
		       st.path, missing[i]);
	for (i = 0; i < reg.count; i++)
		if (!shows_cmdline(&st, reg.workers[i].name))
			printf("warning: %s has no boot/firmware/cmdline.txt: it will "
			       "not boot\n", reg.workers[i].name);
	{
		struct stat bs;

		if (pifs_lstat_beneath(st.golden_fd, "boot/firmware/bootcode.bin", &bs) < 0)
			printf("warning: the golden has no boot/firmware/bootcode.bin: "
			       "Pi 3 workers cannot network-boot\n");
	}
	free(missing);
	close_store(&st, &reg, g);
	return 0;
}

int cmd_fsck(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_registry reg;
	struct pifs_store st;
	char (*ids)[17] = NULL;
	size_t n = 0;
	int ret, problems;

	while (sub_getopt(argc, argv, ":h", opts, usage_fsck) != -1)
		;
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	open_store(&st, store_path());
	load_registry(&st, &reg);
	problems = pifs_git_fsck(&st, &reg, stdout);
	if (problems < 0)
		die(1, "cannot check store '%s': %s", st.path,
		    strerror(-problems));
	if ((ret = pifs_store_goldens(&st, &ids, &n)) < 0) {
		printf("cannot list '%s/goldens': %s\n", st.path, strerror(-ret));
		problems++;
	}
	for (size_t i = 0; i < n; i++) {
		ret = verify_golden(&st, ids[i]);
		problems += ret < 0 ? 1 : ret;
	}
	free(ids);
	/* every worker's golden is there */
	for (size_t i = 0; i < reg.count; i++) {
		char g[17];
		int fd;

		ret = pifs_store_worker_golden(&st, reg.workers[i].name, g);
		if (ret == -ENOENT)
			continue; /* a missing delta: the repository check says so */
		if (ret < 0) {
			printf("worker %s: bad %s on its delta: %s\n",
			       reg.workers[i].name, PIFS_XATTR_GOLDEN,
			       strerror(-ret));
			problems++;
			continue;
		}
		fd = pifs_store_golden_open(&st, g);
		if (fd < 0) {
			printf("worker %s: it is on golden %s, which the store "
			       "does not have\n", reg.workers[i].name, g);
			problems++;
		} else {
			close(fd);
		}
	}
	if (problems)
		die(1, "store '%s' has %d problem%s", st.path, problems,
		    problems == 1 ? "" : "s");
	printf("store is consistent\n");
	close_store(&st, &reg, NULL);
	return 0;
}

int cmd_master(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_store_conf conf;
	struct pifs_store st;
	int ret, cfd;

	while (sub_getopt(argc, argv, ":h", opts, usage_master) != -1)
		;
	if (argc - optind > 1)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
	if (optind < argc && pifs_ipv4_valid(argv[optind]) < 0)
		die(EXIT_USAGE, "bad master address '%s' (want a dotted IPv4 address)",
		    argv[optind]);
	open_store(&st, store_path());
	if (optind == argc) {
		printf("%s\n", st.conf.master);
		pifs_store_close(&st);
		return 0;
	}
	lock_store(&st);
	if ((ret = pifs_store_conf_reload(&st)) < 0)
		die(1, "cannot read '%s/pifs.conf': %s", st.path, strerror(-ret));
	conf = st.conf;
	snprintf(conf.master, sizeof(conf.master), "%s", argv[optind]);
	if ((ret = pifs_store_conf_save(&st, &conf)) < 0)
		die(1, "cannot write '%s/pifs.conf': %s", st.path, strerror(-ret));
	cfd = ctl_connect(&st);
	if (cfd >= 0) {
		char msg[256];

		ret = pifs_ctl_call(cfd, "reload", 10000, msg, sizeof(msg));
		pifs_ctl_close(cfd);
		if (ret < 0)
			die(1, "master set to %s, but pifsd did not reload: %s",
			    conf.master, msg[0] ? msg : strerror(-ret));
	}
	printf("master %s\n", conf.master);
	pifs_store_close(&st);
	return 0;
}
