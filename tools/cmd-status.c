/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd-status.c - looking at a whole store: pifs status (every worker's
 * unsnapshotted changes, last snapshot, rebase conflicts, and whether
 * it can boot: cmdline.txt, its model's boot files, files too big for its
 * firmware's TFTP), pifs fsck (the repository, the deltas and every golden
 * against its manifest) and pifs master (show or change the master's
 * address, a running pifsd reloading it).
 */
#include "config.h"

#include <dirent.h>
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
#include "json.h"
#include "layers.h"
#include "models.h"
#include "rebase.h"
#include "registry.h"
#include "safeio.h"
#include "store.h"
#include "util.h"

static const char usage_status[] =
    "usage: pifs [--store DIR] status [--json]\n"
    "\n"
    "For every worker: serial, changes not in a snapshot (count, bytes),\n"
    "its golden and the last snapshot; then rebase conflicts and warnings.\n"
    "--json prints the same as one JSON document (README: Machine-readable\n"
    "output).\n";

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
 * needs to boot?  The delta's own cmdline.txt if it has one (a regular
 * file), else the generated one in the golden's boot/firmware, if that
 * shows (layers.h). */
static int shows_cmdline(struct pifs_store *st, const char *worker)
{
	int dfd = pifs_store_delta_open(st, worker);
	struct pifs_layers_hit hit;
	char *slash;
	int ok = 0;

	if (dfd < 0)
		return 0;
	if (pifs_layers_resolve("boot/firmware/cmdline.txt",
				pifs_layers_delta_get, &dfd, &hit) == 0) {
		if (hit.in_delta) {
			ok = S_ISREG(hit.mode);
		} else if (hit.golden && (slash = strrchr(hit.golden, '/'))) {
			*slash = '\0';
			ok = golden_dir(st, hit.golden);
		}
		free(hit.golden);
	}
	close(dfd);
	return ok;
}

/* A regular file at the top of a worker's boot/firmware/. */
struct fwfile {
	char *name;
	uint64_t size;
	int in_delta; /* the delta's (else the golden's) */
};

struct fwlist {
	struct fwfile *f;
	size_t n;
	int hidden_n;       /* names the delta hides (whiteouts, non-files) */
	char **hidden;
};

static void fwlist_free(struct fwlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->f[i].name);
	for (int i = 0; i < l->hidden_n; i++)
		free(l->hidden[i]);
	free(l->f);
	free(l->hidden);
	memset(l, 0, sizeof(*l));
}

static const struct fwfile *fw_find(const struct fwlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->f[i].name, name))
			return &l->f[i];
	return NULL;
}

static int fw_hidden(const struct fwlist *l, const char *name)
{
	for (int i = 0; i < l->hidden_n; i++)
		if (!strcmp(l->hidden[i], name))
			return 1;
	return 0;
}

/* Add DIRFD's regular files (and, from the delta, what it hides). */
static void fw_scan(struct fwlist *l, int dirfd, int delta)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((e = readdir(d))) {
		struct stat s;
		void *p;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    fw_find(l, e->d_name) || fw_hidden(l, e->d_name))
			continue;
		if (fstatat(dirfd, e->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(s.st_mode)) {
			if (!(p = realloc(l->f, (l->n + 1) * sizeof(*l->f))))
				die(1, "out of memory");
			l->f = p;
			l->f[l->n].name = strdup(e->d_name);
			l->f[l->n].size = (uint64_t)s.st_size;
			l->f[l->n].in_delta = delta;
			if (!l->f[l->n++].name)
				die(1, "out of memory");
		} else if (delta) {
			/* a whiteout or anything else hides the golden's */
			if (!(p = realloc(l->hidden,
					  (size_t)(l->hidden_n + 1) * sizeof(char *))))
				die(1, "out of memory");
			l->hidden = p;
			if (!(l->hidden[l->hidden_n++] = strdup(e->d_name)))
				die(1, "out of memory");
		}
	}
	closedir(d);
}

/* The regular files at the top of WORKER's boot/firmware/ as its view
 * (and so tftpboot/) shows them: the delta's entries over those of GOLDEN
 * (its golden's tree), walked one name at a time as shows_cmdline does.
 * *cfgfd gets an O_PATH fd of the directory its config.txt is in (or -1). */
static void fw_list(struct pifs_store *st, const char *worker, int golden,
		    struct fwlist *l, int *cfgfd)
{
	int dfd = pifs_store_delta_open(st, worker);
	struct pifs_layers_hit hit;
	int gfd;

	memset(l, 0, sizeof(*l));
	*cfgfd = -1;
	if (pifs_layers_resolve("boot/firmware", pifs_layers_delta_get, &dfd,
				&hit) < 0 ||
	    (hit.in_delta && !S_ISDIR(hit.mode))) {
		/* a whiteout or a file: no boot/firmware */
		if (dfd >= 0)
			close(dfd);
		free(hit.golden);
		return;
	}
	if (dfd >= 0) {
		int fd = hit.in_delta ? pifs_openat_beneath(dfd, "boot/firmware",
							    O_RDONLY | O_DIRECTORY, 0)
				      : -1;

		close(dfd);
		dfd = fd;
	}
	if (dfd >= 0) {
		int keep = dup(dfd);

		fw_scan(l, dfd, 1);
		dfd = keep;
	}
	if (hit.merged && (gfd = pifs_openat_beneath(golden, hit.golden,
						      O_RDONLY | O_DIRECTORY, 0)) >= 0) {
		int keep = dup(gfd);

		fw_scan(l, gfd, 0);
		gfd = keep;
		if (!fw_hidden(l, "config.txt") &&
		    !(fw_find(l, "config.txt") &&
		      fw_find(l, "config.txt")->in_delta)) {
			*cfgfd = gfd;
			gfd = -1;
		}
		if (gfd >= 0)
			close(gfd);
	}
	if (fw_find(l, "config.txt") && fw_find(l, "config.txt")->in_delta) {
		if (*cfgfd >= 0)
			close(*cfgfd);
		*cfgfd = dfd;
		dfd = -1;
	}
	if (dfd >= 0)
		close(dfd);
	free(hit.golden);
}

/* What status says of a worker's boot files: the ones its model needs
 * that are missing, and the files too big for its firmware's TFTP. */
struct bootcheck {
	char missing[8][140];
	size_t nmissing;
	char missing_json[8][64]; /* the first name of each */
	struct {
		char *name;
		uint64_t size;
	} big[16];
	size_t nbig;
};

static void boot_check(struct pifs_store *st, const struct pifs_worker *w,
		       const char *golden_id, struct bootcheck *bc)
{
	const char *const *need = pifs_model_boot_files(w->model);
	uint64_t max = pifs_model_tftp_max(w->model);
	struct fwlist l;
	char k[2][64], *cfg = NULL;
	size_t cfglen = 0, nk;
	int golden, cfgfd, own = 0;

	memset(bc, 0, sizeof(*bc));
	golden = st->golden_fd;
	if (golden_id[0] && strcmp(golden_id, st->conf.golden) &&
	    (golden = pifs_store_golden_open(st, golden_id)) >= 0)
		own = 1;
	if (golden < 0)
		golden = st->golden_fd;
	fw_list(st, w->name, golden, &l, &cfgfd);
	if (cfgfd >= 0 && pifs_read_file(cfgfd, "config.txt", 1 << 20, &cfg,
					 &cfglen) < 0)
		cfg = NULL;
	for (; *need && bc->nmissing < 7; need++)
		if (!fw_find(&l, *need)) {
			snprintf(bc->missing[bc->nmissing], 140, "%s", *need);
			snprintf(bc->missing_json[bc->nmissing++], 64, "%s", *need);
		}
	nk = pifs_model_kernels(w->model, cfg, cfglen, k);
	if (!fw_find(&l, k[0]) && (nk < 2 || !fw_find(&l, k[1]))) {
		if (nk == 2)
			snprintf(bc->missing[bc->nmissing], 140,
				 "%s (or %s)", k[0], k[1]);
		else
			snprintf(bc->missing[bc->nmissing], 140, "%s", k[0]);
		snprintf(bc->missing_json[bc->nmissing++], 64, "%s", k[0]);
	}
	for (size_t i = 0; i < l.n && bc->nbig < 16; i++)
		if (l.f[i].size > max) {
			bc->big[bc->nbig].name = strdup(l.f[i].name);
			if (!bc->big[bc->nbig].name)
				die(1, "out of memory");
			bc->big[bc->nbig++].size = l.f[i].size;
		}
	free(cfg);
	if (cfgfd >= 0)
		close(cfgfd);
	fwlist_free(&l);
	if (own)
		close(golden);
}

/* What status says of one worker. */
struct wstatus {
	const char *name, *serial;
	int has_delta;	   /* else: the "has no delta" warning */
	size_t count;	   /* unsnapshotted changes (if has_delta) */
	uint64_t bytes;	   /* and their bytes */
	char golden[17];   /* "" when its delta does not say */
	char last[41];	   /* last snapshot, "" for none */
	int64_t last_time; /* its committer time, seconds since the epoch */
	int last_offset;   /* and time zone, minutes east of UTC */
	int boots;	   /* its view shows boot/firmware/cmdline.txt */
	struct pifs_conflict *cf;
	size_t ncf;
	const struct pifs_worker *w;
	char tftp_dir[32];
	struct bootcheck bc;
};

static void status_text(const struct pifs_store *st, const struct wstatus *ws,
			size_t n, int bootcode)
{
	char sz[32], last[64], chg[32];
	int namew = 6;
	size_t i;

	for (i = 0; i < n; i++)
		if ((int)strlen(ws[i].name) > namew)
			namew = (int)strlen(ws[i].name);
	printf("%-*s  %-8s  %7s  %10s  %-16s  %s\n", namew, "WORKER", "SERIAL",
	       "CHANGES", "BYTES", "GOLDEN", "LAST-SNAPSHOT");
	for (i = 0; i < n; i++) {
		const struct wstatus *w = &ws[i];

		strcpy(last, "-");
		if (w->last[0]) {
			/* the committer's local time, as log shows it */
			time_t t = (time_t)(w->last_time +
					    (int64_t)w->last_offset * 60);
			char date[32];
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
			snprintf(last, sizeof(last), "%.7s %s", w->last, date);
		}
		snprintf(chg, sizeof(chg), "%zu", w->count);
		printf("%-*s  %-8s  %7s  %10s  %-16s  %s\n", namew, w->name,
		       w->serial[0] ? w->serial : "-", w->has_delta ? chg : "-",
		       w->has_delta ? pifs_human(w->bytes, sz) : "-",
		       w->golden[0] ? w->golden : "-", last);
	}
	for (i = 0; i < n; i++) {
		if (!ws[i].ncf)
			continue;
		printf("%s: %zu rebase conflict%s (pifs rebase %s --resolved "
		       "clears the list):\n",
		       ws[i].name, ws[i].ncf, ws[i].ncf == 1 ? "" : "s",
		       ws[i].name);
		for (size_t j = 0; j < ws[i].ncf; j++) {
			char *esc = pifs_path_escape(ws[i].cf[j].path);

			printf("  C %s (%s)\n", esc ? esc : "?",
			       ws[i].cf[j].what);
			free(esc);
		}
	}
	for (i = 0; i < n; i++)
		if (!ws[i].has_delta)
			printf("warning: %s has no delta '%s/deltas/%s'\n",
			       ws[i].name, st->path, ws[i].name);
	for (i = 0; i < n; i++)
		if (!ws[i].boots)
			printf("warning: %s has no boot/firmware/cmdline.txt: "
			       "it will "
			       "not boot\n",
			       ws[i].name);
	for (i = 0; i < n; i++) {
		const struct wstatus *w = &ws[i];
		enum pifs_model m = w->w->model;
		char list[1200] = "";

		for (size_t k = 0; k < w->bc.nmissing; k++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
				 "%s%s", k ? ", " : "", w->bc.missing[k]);
		if (w->bc.nmissing)
			printf("warning: %s is a %s and its boot/firmware has "
			       "no %s: it will not boot\n",
			       w->name, pifs_model_name(m), list);
		for (size_t k = 0; k < w->bc.nbig; k++) {
			char *esc = pifs_path_escape(w->bc.big[k].name);

			printf("warning: %s's boot/firmware/%s is %llu bytes, "
			       "more than a %s's firmware fetches over TFTP "
			       "(65535 blocks of %u bytes: %llu)\n",
			       w->name, esc ? esc : "?",
			       (unsigned long long)w->bc.big[k].size,
			       pifs_model_name(m), pifs_model_tftp_blksize(m),
			       (unsigned long long)pifs_model_tftp_max(m));
			free(esc);
		}
	}
	if (!bootcode)
		printf("warning: the golden has no boot/firmware/bootcode.bin: "
		       "Pi 3 workers cannot network-boot\n");
}

/* status --json: {"version": 1, "store": ..., "workers": [...], ...}. */
static void status_json(const struct pifs_store *st, const struct wstatus *ws,
			size_t n, int bootcode)
{
	struct json j;

	json_init(&j);
	json_object_begin(&j);
	json_member_int(&j, "version", 1);
	json_member_bytes(&j, "store", st->path);
	json_key(&j, "workers");
	json_array_begin(&j);
	for (size_t i = 0; i < n; i++) {
		const struct wstatus *w = &ws[i];

		json_object_begin(&j);
		json_member_string(&j, "name", w->name);
		/* null: a board enrolled by its MAC (worker list) */
		json_member_string(&j, "serial", w->serial[0] ? w->serial : NULL);
		json_member_bool(&j, "delta", w->has_delta);
		if (w->has_delta) {
			json_member_uint(&j, "changes", w->count);
			json_member_uint(&j, "bytes", w->bytes);
		} else {
			json_member_null(&j, "changes");
			json_member_null(&j, "bytes");
		}
		json_member_string(&j, "golden",
				   w->golden[0] ? w->golden : NULL);
		json_key(&j, "last_snapshot");
		if (w->last[0]) {
			json_object_begin(&j);
			json_member_string(&j, "id", w->last);
			json_member_time(&j, "time", w->last_time);
			json_member_int(&j, "utc_offset_minutes",
					w->last_offset);
			json_object_end(&j);
		} else {
			json_null(&j);
		}
		json_member_bool(&j, "boots", w->boots);
		json_member_string(&j, "model", pifs_model_name(w->w->model));
		json_member_string(&j, "tftp_dir", w->tftp_dir);
		json_key(&j, "missing_boot_files");
		json_array_begin(&j);
		for (size_t k = 0; k < w->bc.nmissing; k++)
			json_string(&j, w->bc.missing_json[k]);
		json_array_end(&j);
		json_key(&j, "oversized_boot_files");
		json_array_begin(&j);
		for (size_t k = 0; k < w->bc.nbig; k++) {
			char path[300];

			snprintf(path, sizeof(path), "boot/firmware/%s",
				 w->bc.big[k].name);
			json_object_begin(&j);
			json_member_bytes(&j, "path", path);
			json_member_uint(&j, "size", w->bc.big[k].size);
			json_member_uint(&j, "limit",
					 pifs_model_tftp_max(w->w->model));
			json_object_end(&j);
		}
		json_array_end(&j);
		json_key(&j, "conflicts");
		json_array_begin(&j);
		for (size_t k = 0; k < w->ncf; k++) {
			json_object_begin(&j);
			json_member_bytes(&j, "path", w->cf[k].path);
			json_member_string(&j, "what", w->cf[k].what);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_member_bool(&j, "golden_bootcode", bootcode);
	json_object_end(&j);
	print_json(&j);
}

int cmd_status(int argc, char **argv)
{
	struct pifs_registry reg;
	struct pifs_store st;
	struct wstatus *ws;
	struct pifs_git *g;
	struct stat bs;
	int json, bootcode;
	size_t i;

	json = sub_json_only(argc, argv, usage_status);
	open_store(&st, store_path());
	load_registry(&st, &reg);
	g = open_git(&st, 0);
	ws = calloc(reg.count + 1, sizeof(*ws));
	if (!ws)
		die(1, "out of memory");
	for (i = 0; i < reg.count; i++) {
		struct wstatus *w = &ws[i];
		struct pifs_log_entry *log = NULL;
		size_t nlog = 0;

		w->name = reg.workers[i].name;
		w->serial = reg.workers[i].serial;
		if (g && pifs_git_head(g, w->name, w->last) == 0 &&
		    pifs_git_log(g, w->name, &log, &nlog) == 0 && nlog) {
			w->last_time = log[0].time;
			w->last_offset = log[0].offset;
		} else {
			w->last[0] = '\0';
		}
		pifs_git_log_free(log, nlog);
		if (pifs_store_worker_golden(&st, w->name, w->golden) < 0)
			w->golden[0] = '\0';
		w->has_delta =
		    unsnapshotted(&st, g, w->name, &w->count, &w->bytes) == 0;
		if (pifs_conflicts_load(&st, w->name, &w->cf, &w->ncf) < 0) {
			w->cf = NULL;
			w->ncf = 0;
		}
		w->boots = shows_cmdline(&st, w->name);
		w->w = &reg.workers[i];
		pifs_worker_tftp_dir(w->w, w->tftp_dir);
		boot_check(&st, w->w, w->golden, &w->bc);
	}
	bootcode = pifs_lstat_beneath(st.golden_fd,
				      "boot/firmware/bootcode.bin", &bs) == 0;
	if (json)
		status_json(&st, ws, reg.count, bootcode);
	else
		status_text(&st, ws, reg.count, bootcode);
	for (i = 0; i < reg.count; i++) {
		pifs_conflicts_free(ws[i].cf, ws[i].ncf);
		for (size_t k = 0; k < ws[i].bc.nbig; k++)
			free(ws[i].bc.big[k].name);
	}
	free(ws);
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
