/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd-golden.c - the store's goldens: pifs golden import (which also
 * creates a store), list, default, remove, build (which runs
 * golden-build.sh), and pifs verify, which checks goldens against their
 * manifests (pifs fsck does too, through verify_golden()).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buildprog.h"
#include "cli.h"
#include "gitstore.h"
#include "image.h"
#include "json.h"
#include "manifest.h"
#include "registry.h"
#include "safeio.h"
#include "store.h"
#include "util.h"

#define MANIFEST_MAX ((size_t)1 << 30)

static const char usage_golden[] =
    "usage: pifs golden build [--minimal|--debian] [--cache DIR] [--mirror "
    "URL] [--force] DIR\n"
    "       pifs [--store DIR] golden import IMAGE|TREE [--default] "
    "[--master IPv4]\n"
    "       pifs [--store DIR] golden list [--json]\n"
    "       pifs [--store DIR] golden default [ID]\n"
    "       pifs [--store DIR] golden remove ID\n"
    "\n"
    "A store keeps any number of goldens, each named by its content hash;\n"
    "every worker and every snapshot records the one it is on.\n"
    "import reads a Raspberry Pi OS disk image (.img, .img.xz, .img.gz) or\n"
    "copies a root tree (as 'pifs golden build' makes) into the store as\n"
    "one more golden and prints its id (the same content twice is one\n"
    "golden).  Without a store it creates one (--master then\n"
    "sets its address).  --default makes it the golden new workers start\n"
    "on; workers already there move with 'pifs rebase'.\n"
    "list shows each golden: id ('*' the default), date imported, size of\n"
    "its file data, the workers and snapshots on it, and its source;\n"
    "--json prints them as one JSON document (README: Machine-readable\n"
    "output).\n"
    "default shows or sets the golden new workers start on.\n"
    "remove deletes a golden; refused while it is the default or any\n"
    "worker, kept delta or snapshot uses it.\n"
    "ID: the id or a unique prefix of at least 4 digits.\n"
    "build makes a Raspberry-Pi-OS-shaped arm64 tree in DIR from Debian\n"
    "packages (raspi-firmware, linux-image-arm64, busybox-static, libc6,\n"
    "libcap2-bin), ready for 'pifs init STORE --golden DIR'; downloads are\n"
    "cached (default /var/cache/pifs/golden).  It runs golden-build.sh:\n"
    "'pifs golden build --help' for the details.  On a terminal a progress\n"
    "bar of each step (packages, debootstrap's steps) follows its lines.\n";

static const char usage_verify[] =
    "usage: pifs [--store DIR] verify [ID]\n"
    "\n"
    "Re-check every golden tree (or golden ID) against its manifest; every\n"
    "difference is listed on stdout and the exit status is 1 if there is\n"
    "any.\n";

/* Check golden id against its manifest: differences (listed on stdout),
 * or -1 after saying why it could not be checked. */
int verify_golden(struct pifs_store *st, const char *id)
{
	char sub[64], *text = NULL;
	int ret, fd;

	snprintf(sub, sizeof(sub), "goldens/%s/manifest", id);
	ret = pifs_store_golden_manifest_text(st, id, MANIFEST_MAX, &text);
	if (ret < 0) {
		printf("cannot read the golden manifest '%s/%s': %s\n", st->path,
		       sub, strerror(-ret));
		return -1;
	}
	fd = pifs_store_golden_open(st, id);
	ret = fd < 0 ? fd : pifs_manifest_verify(fd, text, stdout);
	free(text);
	if (fd >= 0)
		close(fd);
	if (ret < 0) {
		printf("cannot verify golden %s: %s\n", id, strerror(-ret));
		return -1;
	}
	return ret;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char (*ids)[17] = NULL, one[17];
	struct pifs_store st;
	size_t n = 0, bad = 0;
	int ret;

	while (sub_getopt(argc, argv, ":h", opts, usage_verify) != -1)
		;
	open_store(&st, store_path());
	if (optind < argc) {
		need_golden(&st, argv[optind++], one);
		if (optind < argc)
			die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
		ids = malloc(sizeof(*ids));
		if (!ids)
			die(1, "out of memory");
		memcpy(ids[0], one, sizeof(one));
		n = 1;
	} else if ((ret = pifs_store_goldens(&st, &ids, &n)) < 0) {
		die(1, "cannot list '%s/goldens': %s", st.path, strerror(-ret));
	}
	for (size_t i = 0; i < n; i++) {
		ret = verify_golden(&st, ids[i]);
		if (ret == 0) {
			printf("golden %s matches its manifest\n", ids[i]);
			continue;
		}
		bad++;
		if (ret > 0)
			printf("golden %s differs from its manifest (%d "
			       "difference%s)\n", ids[i], ret,
			       ret == 1 ? "" : "s");
	}
	free(ids);
	pifs_store_close(&st);
	if (bad)
		die(1, "%zu of %zu golden%s failed verification", bad, n,
		    n == 1 ? "" : "s");
	return 0;
}

static int golden_import(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"master", required_argument, NULL, 'm'},
	    {"default", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *master = NULL, *image, *path = store_path();
	struct pifs_store_create_opts o = {.bar_fd = isatty(2) ? 2 : -1,
					   .warn = 1,
					   .cancel = &interrupted};
	struct sigaction old[2];
	struct pifs_store_conf conf;
	struct pifs_store st;
	char err[PATH_MAX * 2 + 256], id[17];
	int c, ret, make_default = 0;

	while ((c = sub_getopt(argc, argv, ":m:h", opts, usage_golden)) != -1)
		if (c == 'm')
			master = optarg;
		else if (c == 'd')
			make_default = 1;
	if (optind >= argc)
		die(EXIT_USAGE, "golden import needs an IMAGE file or a DIR");
	image = argv[optind++];
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (master && pifs_ipv4_valid(master) < 0)
		die(EXIT_USAGE, "bad master address '%s'", master);
	if (pifs_store_open(&st, path, err, sizeof(err)) < 0) {
		/* no store yet: this golden makes one */
		create_store(path, image, master, NULL);
		open_store(&st, path);
		printf("%s\n", st.conf.golden);
		pifs_store_close(&st);
		return 0;
	}
	if (master)
		die(EXIT_USAGE, "--master is for a new store; '%s' has one "
				"(pifs master IPv4 changes it)", path);
	lock_store(&st);
	interrupts_catch(old);
	ret = pifs_store_golden_add(&st, image, &o, id, err, sizeof(err));
	interrupts_restore(old);
	if (ret == -EEXIST)
		fprintf(stderr, "pifs: store '%s' has golden %s already\n",
			path, id);
	else if (ret < 0)
		die(interrupted ? 130 : 1, "%s", err);
	if (make_default && strcmp(st.conf.golden, id)) {
		conf = st.conf;
		memcpy(conf.golden, id, sizeof(conf.golden));
		if ((ret = pifs_store_conf_save(&st, &conf)) < 0)
			die(1, "cannot save '%s/pifs.conf': %s", path,
			    strerror(-ret));
	}
	printf("%s\n", id);
	pifs_store_close(&st);
	return 0;
}

/* Registered workers on golden id (a delta that cannot be read counts
 * for the default, as the daemon would use it). */
static size_t workers_on(struct pifs_store *st, const struct pifs_registry *reg,
			 const char *id, const char **first)
{
	size_t n = 0;
	char g[17];

	if (first)
		*first = NULL;
	for (size_t i = 0; i < reg->count; i++) {
		if (pifs_store_worker_golden(st, reg->workers[i].name, g) < 0)
			continue;
		if (!strcmp(g, id)) {
			if (first && !n)
				*first = reg->workers[i].name;
			n++;
		}
	}
	return n;
}

static int golden_list(int argc, char **argv)
{
	struct pifs_registry reg;
	struct pifs_store st;
	struct pifs_git *g;
	char (*ids)[17] = NULL, w[PIFS_NAME_MAX + 1], cid[41];
	size_t n = 0;
	struct json j;
	int ret, json;

	json = sub_json_only(argc, argv, usage_golden);
	open_store(&st, store_path());
	load_registry(&st, &reg);
	if ((ret = pifs_store_goldens(&st, &ids, &n)) < 0)
		die(1, "cannot list '%s/goldens': %s", st.path, strerror(-ret));
	g = open_git(&st, 0);
	json_init(&j);
	if (json) {
		json_object_begin(&j);
		json_member_int(&j, "version", 1);
		json_member_string(&j, "default", st.conf.golden);
		json_key(&j, "goldens");
		json_array_begin(&j);
	} else {
		printf("%-16s    %-20s  %-10s  %7s  %9s  %s\n", "ID", "DATE",
		       "SIZE", "WORKERS", "SNAPSHOTS", "SOURCE");
	}
	for (size_t i = 0; i < n; i++) {
		struct pifs_golden_info info = {0};
		char date[32] = "-", size[32] = "-", snaps[16] = "0";
		int have_info, nsnaps = 0, isdef;
		size_t nworkers;

		have_info = pifs_store_golden_info(&st, ids[i], &info) == 0;
		if (have_info) {
			time_t t = (time_t)info.created;
			struct tm tm;

			if (info.created && gmtime_r(&t, &tm))
				strftime(date, sizeof(date),
					 "%Y-%m-%d %H:%M:%SZ", &tm);
			if (info.have_disk)
				pifs_human(info.disk, size);
		}
		if (g) {
			nsnaps = pifs_git_golden_users(g, ids[i], w, cid);
			if (nsnaps >= 0)
				snprintf(snaps, sizeof(snaps), "%d", nsnaps);
			else
				snprintf(snaps, sizeof(snaps), "?");
		}
		nworkers = workers_on(&st, &reg, ids[i], NULL);
		isdef = !strcmp(ids[i], st.conf.golden);
		if (!json) {
			printf("%-16s %c  %-20s  %-10s  %7zu  %9s  %s\n",
			       ids[i], isdef ? '*' : ' ', date, size, nworkers,
			       snaps, info.source ? info.source : "-");
			pifs_golden_info_release(&info);
			continue;
		}
		json_object_begin(&j);
		json_member_string(&j, "id", ids[i]);
		json_member_bool(&j, "default", isdef);
		if (have_info && info.created) {
			json_member_time(&j, "created", info.created);
		} else {
			json_member_null(&j, "created");
			json_member_null(&j, "created_utc");
		}
		if (have_info) {
			json_member_uint(&j, "size", info.size);
			json_member_uint(&j, "files", info.files);
		} else {
			json_member_null(&j, "size");
			json_member_null(&j, "files");
		}
		if (have_info && info.have_disk)
			json_member_uint(&j, "disk", info.disk);
		else
			json_member_null(&j, "disk");
		json_member_uint(&j, "workers", nworkers);
		if (nsnaps >= 0)
			json_member_int(&j, "snapshots", nsnaps);
		else
			json_member_null(&j, "snapshots");
		json_member_bytes(&j, "source", info.source);
		json_object_end(&j);
		pifs_golden_info_release(&info);
	}
	if (json) {
		json_array_end(&j);
		json_object_end(&j);
		print_json(&j);
	} else if (n > 1) {
		printf("* the default: new workers start on it\n");
	}
	free(ids);
	close_store(&st, &reg, g);
	return 0;
}

/* golden default [ID]: show or set the golden new workers start on. */
static int golden_default(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_store_conf conf;
	struct pifs_registry reg;
	struct pifs_store st;
	char id[17];
	const char *arg;
	int ret;

	while (sub_getopt(argc, argv, ":h", opts, usage_golden) != -1)
		;
	open_store(&st, store_path());
	if (optind >= argc) {
		printf("%s\n", st.conf.golden);
		pifs_store_close(&st);
		return 0;
	}
	arg = argv[optind++];
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	need_golden(&st, arg, id);
	lock_store(&st);
	load_registry(&st, &reg);
	/* deltas made before a store had several goldens say nothing and
	 * mean the default: write down which one before it changes */
	for (size_t i = 0; i < reg.count; i++) {
		const char *name = reg.workers[i].name;

		ret = pifs_store_delta_pin_golden(&st, name);
		if (ret < 0)
			die(1, "cannot record the golden of %s: %s", name,
			    strerror(-ret));
	}
	if ((ret = pifs_store_sync(&st)) < 0)
		die(1, "cannot sync '%s': %s", st.path, strerror(-ret));
	conf = st.conf;
	snprintf(conf.golden, sizeof(conf.golden), "%s", id);
	if ((ret = pifs_store_conf_save(&st, &conf)) < 0)
		die(1, "cannot save '%s/pifs.conf': %s", st.path,
		    strerror(-ret));
	printf("new workers now start on golden %s\n", id);
	close_store(&st, &reg, NULL);
	return 0;
}

static int golden_remove(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char w[PIFS_NAME_MAX + 1], cid[41], id[17], *kept;
	struct pifs_registry reg;
	struct pifs_store st;
	struct pifs_git *git;
	const char *arg, *first;
	size_t n;
	int ret;

	while (sub_getopt(argc, argv, ":h", opts, usage_golden) != -1)
		;
	if (optind >= argc)
		die(EXIT_USAGE, "golden remove needs a golden ID");
	arg = argv[optind++];
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	open_store(&st, store_path());
	need_golden(&st, arg, id);
	lock_store(&st);
	if (!strcmp(id, st.conf.golden))
		die(1, "golden %s is the store's default (new workers start "
		       "on it); make another the default first (pifs golden "
		       "default ID)", id);
	load_registry(&st, &reg);
	n = workers_on(&st, &reg, id, &first);
	if (n)
		die(1, "golden %s is in use by %zu worker%s (%s); rebase or "
		       "remove them first", id, n, n == 1 ? "" : "s", first);
	/* the kept deltas of removed workers count too */
	ret = pifs_store_kept_delta_on(&st, id, &kept);
	if (ret < 0)
		die(1, "cannot read '%s/deltas': %s", st.path, strerror(-ret));
	if (ret > 0)
		die(1, "golden %s is in use by the kept delta '%s/deltas/%s' "
		       "of a removed worker", id, st.path, kept);
	git = open_git(&st, 0);
	if (git) {
		ret = pifs_git_golden_users(git, id, w, cid);
		pifs_git_free(git);
		if (ret < 0)
			die(1, "cannot read the snapshots of '%s': %s", st.path,
			    strerror(-ret));
		if (ret > 0)
			die(1, "golden %s is in use by %d snapshot%s (%s's %.7s); "
			       "pifs reset --to would need it",
			    id, ret, ret == 1 ? "" : "s", w[0] ? w : "?", cid);
	}
	ret = pifs_store_golden_remove(&st, id);
	if (ret < 0)
		die(1, "cannot remove golden %s: %s", id, strerror(-ret));
	printf("removed golden %s\n", id);
	close_store(&st, &reg, NULL);
	return 0;
}

/* A line buffer of one of the script's outputs. */
struct outbuf {
	int fd;
	char buf[4096];
	size_t len;
};

/* Hand each complete line of ob (one whole if too long) to the bar and,
 * unless it was progress, to out; at eof also a last partial one. */
static void out_lines(struct outbuf *ob, struct buildprog *bp, FILE *out,
		      int progress, int eof)
{
	char *nl;
	size_t n;

	while (ob->len) {
		nl = memchr(ob->buf, '\n', ob->len);
		if (!nl && !eof && ob->len < sizeof(ob->buf))
			return;
		n = nl ? (size_t)(nl - ob->buf) : ob->len;
		ob->buf[n < sizeof(ob->buf) ? n : n - 1] = '\0';
		if (buildprog_line(bp, ob->buf, progress)) {
			buildprog_clear(bp);
			fprintf(out, "%s\n", ob->buf);
			fflush(out);
			if (bp->counting)
				pifs_bar_update(&bp->bar, bp->bar.done);
		}
		n += nl ? 1 : 0;
		memmove(ob->buf, ob->buf + n, ob->len - n);
		ob->len -= n;
	}
}

/*
 * golden build on a terminal: the script runs with its stdout, stderr
 * and a progress descriptor (PIFS_PROGRESS_FD) on pipes; every line it
 * prints is printed as it was, above a progress bar of the step it is in
 * (buildprog.h).  Its exit status is returned.
 */
static int build_with_bar(char **args)
{
	struct outbuf ob[3];
	struct pollfd pfd[3];
	struct buildprog bp;
	int p[3][2], st, open_fds = 3, i;
	char env[32];
	ssize_t r;
	pid_t pid;

	for (i = 0; i < 3; i++)
		if (pipe(p[i]) < 0)
			die(1, "cannot make a pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die(1, "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(p[0][1], 1);
		dup2(p[1][1], 2);
		for (i = 0; i < 3; i++) {
			close(p[i][0]);
			if (i < 2)
				close(p[i][1]);
		}
		snprintf(env, sizeof(env), "%d", p[2][1]);
		setenv("PIFS_PROGRESS_FD", env, 1);
		execvp("bash", args);
		fprintf(stderr, "pifs: cannot run bash %s: %s\n", args[1],
			strerror(errno));
		_exit(1);
	}
	buildprog_init(&bp, 2);
	for (i = 0; i < 3; i++) {
		close(p[i][1]);
		ob[i].fd = p[i][0];
		ob[i].len = 0;
	}
	while (open_fds) {
		for (i = 0; i < 3; i++) {
			pfd[i].fd = ob[i].fd;
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 3; i++) {
			if (ob[i].fd < 0 || !pfd[i].revents)
				continue;
			r = read(ob[i].fd, ob[i].buf + ob[i].len,
				 sizeof(ob[i].buf) - ob[i].len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0) {
				ob[i].len += (size_t)r;
				out_lines(&ob[i], &bp, i == 1 ? stderr : stdout,
					  i == 2, 0);
				continue;
			}
			out_lines(&ob[i], &bp, i == 1 ? stderr : stdout, i == 2,
				  1);
			close(ob[i].fd);
			ob[i].fd = -1;
			open_fds--;
		}
	}
	buildprog_end(&bp);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die(1, "cannot wait for golden-build.sh: %s",
			    strerror(errno));
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* golden build: run golden-build.sh ($PIFS_GOLDEN_BUILD, else the
 * installed one, else the one of the source tree unless PIFS_SRCDIR is
 * empty, as in a package build) with the arguments; on a terminal with a
 * progress bar (build_with_bar), else exec'd as it is. */
static int golden_build(int argc, char **argv)
{
	const char *env = getenv("PIFS_GOLDEN_BUILD");
	const char *cands[] = { env, PIFS_PKGLIBEXECDIR "/golden-build.sh",
				*PIFS_SRCDIR ? PIFS_SRCDIR "/tools/golden-build.sh"
					     : NULL };
	char **args;

	for (size_t i = 0; i < sizeof(cands) / sizeof(*cands); i++) {
		if (!cands[i] || !*cands[i] || access(cands[i], R_OK) != 0)
			continue;
		args = calloc((size_t)argc + 2, sizeof(*args));
		if (!args)
			die(1, "out of memory");
		args[0] = (char *)"bash";
		args[1] = (char *)cands[i];
		for (int a = 1; a < argc; a++)
			args[a + 1] = argv[a];
		if (isatty(2) && !getenv("PIFS_PROGRESS_FD")) {
			int rc = build_with_bar(args);

			free(args);
			return rc;
		}
		execvp("bash", args);
		die(1, "cannot run bash %s: %s", cands[i], strerror(errno));
	}
	die(1, "golden-build.sh not found (not in %s; set PIFS_GOLDEN_BUILD)",
	    PIFS_PKGLIBEXECDIR);
}

int cmd_golden(int argc, char **argv)
{
	static const struct sub_cmd cmds[] = {
	    {"build", golden_build},     {"import", golden_import},
	    {"list", golden_list},       {"default", golden_default},
	    {"remove", golden_remove},   {NULL, NULL},
	};

	return sub_dispatch(argc, argv, "golden",
			    "build, import, list, default or remove",
			    usage_golden, cmds);
}
