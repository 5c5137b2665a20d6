/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store/super.c - the store as a whole (layout in store.h): pifs.conf,
 * creation from a golden (in an order that is crash safe: the golden is
 * copied into goldens/.tmp-XXXXXX with its manifest, renamed to
 * goldens/<id>, and pifs.conf is written last, after a syncfs, so an
 * interrupted creation is never taken for a store), opening and closing.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "manifest.h"
#include "safeio.h"
#include "store.h"
#include "store/internal.h"
#include "util.h"

#define CONF_FILE	 "pifs.conf"
#define CONF_MAX	 65536
#define DEFAULT_MASTER	 "10.1.1.100"
#define DEFAULT_RANGE_LO "10.1.1.1"
#define DEFAULT_RANGE_HI "10.1.1.20"

/* ---- pifs.conf ---- */

static int conf_parse(struct pifs_store_conf *conf, const char *text)
{
	char *copy, *line, *next, *val;
	int have_format = 0, have_golden = 0, ret = -EINVAL;
	size_t i;

	memset(conf, 0, sizeof(*conf));
	strcpy(conf->master, DEFAULT_MASTER);
	strcpy(conf->range_lo, DEFAULT_RANGE_LO);
	strcpy(conf->range_hi, DEFAULT_RANGE_HI);
	conf->enroll_max = PIFS_ENROLL_MAX_DEFAULT;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (next = copy; (line = pifs_line_next(&next));) {
		if (!*line || *line == '#')
			continue;
		val = strchr(line, ' ');
		if (!val)
			goto out;
		*val++ = '\0';
		if (!strcmp(line, "format")) {
			if (strcmp(val, "1"))
				goto out;
			conf->format = 1;
			have_format = 1;
		} else if (!strcmp(line, "golden")) {
			if (strlen(val) != 16)
				goto out;
			for (i = 0; i < 16; i++)
				if (!strchr("0123456789abcdef", val[i]))
					goto out;
			strcpy(conf->golden, val);
			have_golden = 1;
		} else if (!strcmp(line, "master")) {
			if (pifs_ipv4_valid(val) < 0)
				goto out;
			strcpy(conf->master, val);
		} else if (!strcmp(line, "range")) {
			char *hi = strchr(val, '-');

			if (!hi)
				goto out;
			*hi++ = '\0';
			if (pifs_ipv4_valid(val) < 0 || pifs_ipv4_valid(hi) < 0)
				goto out;
			strcpy(conf->range_lo, val);
			strcpy(conf->range_hi, hi);
		} else if (!strcmp(line, "enroll")) {
			/* "on 5" or "off 5": one spelling, as written below */
			char *max = strchr(val, ' '), *end;
			unsigned long m;

			if (!max)
				goto out;
			*max++ = '\0';
			if (strcmp(val, "on") && strcmp(val, "off"))
				goto out;
			if (*max < '1' || *max > '9')
				goto out;
			errno = 0;
			m = strtoul(max, &end, 10);
			if (errno || *end || m > PIFS_ENROLL_MAX_LIMIT)
				goto out;
			conf->enroll = val[1] == 'n';
			conf->enroll_max = (unsigned)m;
		} else if (!strcmp(line, "hostsdir")) {
			if (val[0] != '/' || strlen(val) >= sizeof(conf->hostsdir) ||
			    strpbrk(val, " \t,#=\"'\\"))
				goto out;
			strcpy(conf->hostsdir, val);
		} else if (!strcmp(line, "exports")) {
			/* "FILE NFSROOT", both absolute (exports.h) */
			char *root = strchr(val, ' ');

			if (!root)
				goto out;
			*root++ = '\0';
			if (val[0] != '/' || root[0] != '/' ||
			    strlen(val) >= sizeof(conf->exports) ||
			    strlen(root) >= sizeof(conf->exports_root) ||
			    strpbrk(val, " \t,#=\"'\\") ||
			    strpbrk(root, " \t,#=\"'\\"))
				goto out;
			strcpy(conf->exports, val);
			strcpy(conf->exports_root, root);
		} else {
			goto out;
		}
	}
	if (have_format && have_golden)
		ret = 0;
out:
	free(copy);
	return ret;
}

static char *conf_format(const struct pifs_store_conf *conf)
{
	char enroll[40] = "", hosts[sizeof(conf->hostsdir) + 16] = "";
	char exports[sizeof(conf->exports) + sizeof(conf->exports_root) + 16] =
	    "";

	/* Written only when set: an older pifs refuses a key it does not
	 * know, and should, once boards may register themselves. */
	if (conf->enroll || conf->enroll_max != PIFS_ENROLL_MAX_DEFAULT)
		snprintf(enroll, sizeof(enroll), "enroll %s %u\n",
			 conf->enroll ? "on" : "off", conf->enroll_max);
	if (conf->hostsdir[0])
		snprintf(hosts, sizeof(hosts), "hostsdir %s\n", conf->hostsdir);
	if (conf->exports[0])
		snprintf(exports, sizeof(exports), "exports %s %s\n",
			 conf->exports, conf->exports_root);
	return pifs_strdupf("format %u\ngolden %s\nmaster %s\nrange %s-%s\n"
			    "%s%s%s", conf->format, conf->golden, conf->master,
			    conf->range_lo, conf->range_hi, enroll, hosts,
			    exports);
}

/* ---- create ---- */

int pifs_store_create(const char *path, const char *golden_dir,
		      const char *master, FILE *progress, char *errbuf,
		      size_t errlen)
{
	struct pifs_store_create_opts o = {
	    .master = master, .progress = progress, .bar_fd = -1};

	return pifs_store_create_opts(path, golden_dir, &o, errbuf, errlen);
}

int pifs_store_create_opts(const char *path, const char *golden_dir,
			   const struct pifs_store_create_opts *o,
			   char *errbuf, size_t errlen)
{
	struct pifs_store_conf conf = {.format = 1,
					.enroll_max = PIFS_ENROLL_MAX_DEFAULT};
	struct pifs_registry reg;
	char *text = NULL, *base = NULL;
	char *ppath = NULL, *slash;
	int gfd = -1, sfd = -1, pfd = -1;
	int created_root = 0, cleanup = 0, is_image = 0, ret, i;
	const char *master = o->master;
	struct stat st;

	pifs_errclear(errbuf, errlen);
	pifs_registry_init(&reg);
	if (!master)
		master = DEFAULT_MASTER;
	if (pifs_ipv4_valid(master) < 0) {
		pifs_seterr(errbuf, errlen, "bad master address '%s'", master);
		return -EINVAL;
	}
	strcpy(conf.master, master);
	strcpy(conf.range_lo, DEFAULT_RANGE_LO);
	strcpy(conf.range_hi, DEFAULT_RANGE_HI);

	ret = pifs_store_golden_source(golden_dir, &gfd, &is_image, errbuf, errlen);
	if (ret < 0)
		return ret;
	/* The store directory: new, or existing and empty. */
	ppath = strdup(path);
	if (!ppath) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = (int)strlen(ppath) - 1; i > 0 && ppath[i] == '/'; i--)
		ppath[i] = '\0';
	if (stat(ppath, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			pifs_seterr(errbuf, errlen,
			       "store '%s' exists and is not a directory",
			       path);
			ret = -EEXIST;
			goto out;
		}
		sfd = open(ppath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0) {
			ret = -errno;
			pifs_seterr(errbuf, errlen, "cannot open store '%s': %s",
			       path, strerror(-ret));
			goto out;
		}
		ret = pifs_store_dir_is_empty(sfd);
		if (ret <= 0) {
			ret = ret < 0 ? ret : -ENOTEMPTY;
			pifs_seterr(errbuf, errlen,
			       "store '%s' exists and is not empty", path);
			goto out;
		}
		/* empty: from here on a failure empties it again */
		cleanup = 1;
	} else if (errno == ENOENT) {
		slash = strrchr(ppath, '/');
		base = strdup(slash ? slash + 1 : ppath);
		if (!base) {
			ret = -ENOMEM;
			goto out;
		}
		if (slash)
			slash[slash == ppath ? 1 : 0] = '\0';
		pfd =
		    open(slash ? ppath : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0 || (ret = pifs_do_mkdir(pfd, base, 0700)) < 0) {
			if (pfd < 0)
				ret = -errno;
			pifs_seterr(errbuf, errlen, "cannot create store '%s': %s",
			       path, strerror(-ret));
			goto out;
		}
		created_root = cleanup = 1;
		sfd = pifs_openat_beneath(
		    pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
		if (sfd < 0) {
			ret = sfd;
			pifs_seterr(errbuf, errlen, "cannot open store '%s': %s",
			       path, strerror(-ret));
			goto out;
		}
	} else {
		ret = -errno;
		pifs_seterr(errbuf, errlen, "cannot access store '%s': %s", path,
		       strerror(-ret));
		goto out;
	}
	if (fchown(sfd, 0, 0) < 0 || fchmod(sfd, 0700) < 0) {
		ret = -errno;
		pifs_seterr(errbuf, errlen, "cannot set owner of store '%s': %s",
		       path, strerror(-ret));
		goto out;
	}
	if (!is_image && pifs_store_path_inside(path, golden_dir)) {
		pifs_seterr(errbuf, errlen, "store '%s' is inside the golden '%s'",
		       path, golden_dir);
		ret = -EINVAL;
		goto out;
	}

	ret = pifs_store_golden_install(sfd, golden_dir, gfd, is_image, o, conf.golden,
			     errbuf, errlen);
	if (ret < 0)
		goto out;

	ret = pifs_store_mkdir_private(sfd, "deltas");
	if (ret == 0)
		ret = pifs_store_mkdir_private(sfd, "work");
	if (ret == 0)
		ret = pifs_store_mkdir_private(sfd, "lock");
	if (ret == 0)
		ret = pifs_openat_beneath(sfd, "lock", O_PATH | O_DIRECTORY, 0);
	if (ret >= 0) {
		int lfd = ret;

		ret = pifs_store_create_file(lfd, "store");
		if (ret == 0)
			ret = pifs_store_create_file(lfd, "daemon");
		close(lfd);
	}
	if (ret == 0)
		ret = pifs_registry_format(&reg, &text);
	if (ret == 0)
		ret = pifs_write_file_atomic(sfd, "workers", text, strlen(text),
					     0600);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot create store layout in '%s': %s",
		       path, strerror(-ret));
		goto out;
	}

	/* pifs.conf last: it is what makes the directory a store. */
	if (syncfs(sfd) < 0) {
		ret = -errno;
		pifs_seterr(errbuf, errlen, "cannot sync store '%s': %s", path,
		       strerror(-ret));
		goto out;
	}
	free(text);
	text = conf_format(&conf);
	ret = text ? pifs_write_file_atomic(sfd, CONF_FILE, text, strlen(text),
					    0600)
		   : -ENOMEM;
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot write '%s/%s': %s", path,
		       CONF_FILE, strerror(-ret));
		goto out;
	}
	ret = 0;
out:
	if (ret == -ENOMEM)
		pifs_seterr(errbuf, errlen, "out of memory");
	if (ret < 0 && cleanup) {
		if (created_root) {
			close(sfd);
			sfd = -1;
			pifs_remove_tree(pfd, base);
		} else {
			pifs_store_empty_dir(sfd);
		}
	}
	if (sfd >= 0)
		close(sfd);
	if (pfd >= 0)
		close(pfd);
	if (gfd >= 0)
		close(gfd);
	free(text);
	free(base);
	free(ppath);
	pifs_registry_release(&reg);
	return ret;
}

static void store_reset(struct pifs_store *st)
{
	memset(st, 0, sizeof(*st));
	st->fd = st->golden_fd = st->deltas_fd = st->work_fd = -1;
	st->lock_fd = st->daemon_lock_fd = -1;
}

void pifs_store_close(struct pifs_store *st)
{
	int *fds[] = {&st->fd,	    &st->golden_fd, &st->deltas_fd,
		      &st->work_fd, &st->lock_fd,   &st->daemon_lock_fd};
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	free(st->path);
	store_reset(st);
}

int pifs_store_conf_reload(struct pifs_store *st)
{
	struct pifs_store_conf conf;
	char *text = NULL;
	int ret;

	if ((ret = pifs_read_file(st->fd, CONF_FILE, 65536, &text, NULL)) < 0)
		return ret;
	ret = conf_parse(&conf, text);
	free(text);
	if (ret == 0)
		st->conf = conf;
	return ret;
}

int pifs_store_hosts_write(struct pifs_store *st,
			   const struct pifs_registry *reg)
{
	char *text, *t;
	int dfd, r;

	if (!st->conf.hostsdir[0])
		return 0;
	text = pifs_strdupf("# dnsmasq dhcp-hostsdir file of the pifs store "
			    "'%s': one fixed\n# address per worker; pifs "
			    "rewrites it when the registry changes.\n",
			    st->path);
	for (size_t i = 0; text && i < reg->count; i++) {
		const struct pifs_worker *w = &reg->workers[i];
		char mac[18];

		if (w->mac[0])
			memcpy(mac, w->mac, sizeof(mac));
		else if (w->model == PIFS_MODEL_PI3BPLUS && w->serial[0])
			pifs_mac_from_serial(w->serial, mac);
		else
			continue; /* enrolled by its serial, MAC unknown */
		if (!w->ip[0])
			continue;
		t = pifs_strdupf("%s%s,%s,%s\n", text, mac, w->ip, w->name);
		free(text);
		text = t;
	}
	if (!text)
		return -ENOMEM;
	dfd = open(st->conf.hostsdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		free(text);
		return r;
	}
	r = pifs_write_file_atomic(dfd, "pifs-workers", text, strlen(text),
				   0644);
	close(dfd);
	free(text);
	return r;
}

int pifs_store_conf_read(struct pifs_store *st, struct pifs_store_conf *out)
{
	char *text = NULL;
	int ret;

	if ((ret = pifs_read_file(st->fd, CONF_FILE, CONF_MAX, &text, NULL)) < 0)
		return ret;
	ret = conf_parse(out, text);
	free(text);
	return ret;
}

int pifs_store_conf_save(struct pifs_store *st, const struct pifs_store_conf *conf)
{
	char *text = conf_format(conf);
	int ret;

	if (!text)
		return -ENOMEM;
	ret = pifs_write_file_atomic(st->fd, CONF_FILE, text, strlen(text), 0600);
	free(text);
	if (ret == 0)
		st->conf = *conf;
	return ret;
}

/* An O_PATH fd of the store's directory sub in *fd (-errno there too). */
static int open_subdir(struct pifs_store *st, const char *sub, int *fd)
{
	*fd = pifs_openat_beneath(st->fd, sub,
				  O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	return *fd < 0 ? *fd : 0;
}

int pifs_store_open(struct pifs_store *st, const char *path, char *errbuf,
		    size_t errlen)
{
	char *text = NULL, sub[64];
	int ret;

	pifs_errclear(errbuf, errlen);
	store_reset(st);
	st->path = strdup(path);
	if (!st->path) {
		pifs_seterr(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	st->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (st->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			pifs_seterr(errbuf, errlen, "no store at '%s'", path);
		else if (ret == -ENOTDIR)
			pifs_seterr(errbuf, errlen, "'%s' is not a pifs store",
			       path);
		else
			pifs_seterr(errbuf, errlen, "cannot open store '%s': %s",
			       path, strerror(-ret));
		if (ret == -ENOTDIR)
			ret = -EINVAL;
		goto fail;
	}
	ret = pifs_read_file(st->fd, CONF_FILE, CONF_MAX, &text, NULL);
	if (ret == -ENOENT || ret == -EFBIG || ret == -EISDIR ||
	    ret == -EINVAL || ret == -ELOOP) {
		pifs_seterr(errbuf, errlen, "'%s' is not a pifs store", path);
		ret = -EINVAL;
		goto fail;
	}
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot read '%s/%s': %s", path,
		       CONF_FILE, strerror(-ret));
		goto fail;
	}
	ret = conf_parse(&st->conf, text);
	free(text);
	if (ret < 0) {
		if (ret == -EINVAL)
			pifs_seterr(errbuf, errlen, "'%s' is not a pifs store",
			       path);
		goto fail;
	}
	snprintf(sub, sizeof(sub), "goldens/%s/tree", st->conf.golden);
	if ((ret = open_subdir(st, sub, &st->golden_fd)) < 0)
		goto damaged;
	snprintf(sub, sizeof(sub), "deltas");
	if ((ret = open_subdir(st, sub, &st->deltas_fd)) < 0)
		goto damaged;
	snprintf(sub, sizeof(sub), "work");
	if ((ret = open_subdir(st, sub, &st->work_fd)) < 0)
		goto damaged;
	return 0;

damaged:
	pifs_seterr(errbuf, errlen, "store '%s' is damaged: cannot open '%s': %s",
	       path, sub, strerror(-ret));
fail:
	pifs_store_close(st);
	return ret;
}

int pifs_store_sync(struct pifs_store *st)
{
	int fd = openat(st->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0 || syncfs(fd) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	return ret;
}
