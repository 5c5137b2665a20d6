/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store.c - the on-disk store (layout in store.h): creation from a golden
 * directory with a full-fidelity tree copy, pifs.conf, opening, the CLI and
 * daemon locks, and worker delta directories.
 *
 * Creation order matters for crash safety: the golden is copied into
 * goldens/.tmp-XXXXXX, its manifest written there, and only then renamed to
 * goldens/<id>; pifs.conf is written last, after a syncfs, so a store whose
 * creation was interrupted is never taken for a valid one.
 *
 * The tree copy applies attributes in the order the kernel needs: chown
 * (which clears setuid/setgid and security.capability), chmod, timestamps,
 * then the xattrs (so a file capability survives), then chmod again only
 * if a POSIX ACL changed the group bits.  Directory timestamps are set
 * after their children are in place.
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
#include "util.h"

#define CONF_FILE	 "pifs.conf"
#define CONF_MAX	 65536
#define DEFAULT_MASTER	 "10.1.1.100"
#define DEFAULT_RANGE_LO "10.1.1.1"
#define DEFAULT_RANGE_HI "10.1.1.20"
#define PROGRESS_EVERY	 10000

/* ---- tree copy ---- */

struct copy_ctx {
	int droot; /* destination root dir (for hard links) */
	struct pifs_kvmap links; /* (dev, ino) -> first destination path */
	FILE *progress;
	unsigned long count;
	const char *prefix; /* source path for messages, may be NULL */
	char *errbuf;
	size_t errlen;
};

/* Record the failure of rel once (the innermost caller wins). */
static int copy_fail(struct copy_ctx *c, const char *what, const char *rel,
		     int err)
{
	if (c->errbuf && c->errlen && !c->errbuf[0]) {
		if (!strcmp(rel, "."))
			pifs_seterr(c->errbuf, c->errlen, "cannot %s '%s': %s", what,
			       c->prefix ? c->prefix : ".", strerror(-err));
		else
			pifs_seterr(c->errbuf, c->errlen, "cannot %s '%s%s%s': %s",
			       what, c->prefix ? c->prefix : "",
			       c->prefix ? "/" : "", rel, strerror(-err));
	}
	return err;
}

/* Owner, mode, times, then xattrs from (xdir, xname) onto ddir/dname. */
static int copy_attrs(int xdir, const char *xname, int ddir, const char *dname,
		      const struct stat *st)
{
	struct stat cur;
	int ret;

	ret = pifs_set_attrs(ddir, dname, st);
	if (ret < 0)
		return ret;
	ret = pifs_copy_xattrs(xdir, xname, ddir, dname, NULL);
	if (ret < 0)
		return ret;
	if (S_ISLNK(st->st_mode))
		return 0;
	/* A system.posix_acl_access xattr rewrites the group bits. */
	if (fstatat(ddir, dname, &cur, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if ((cur.st_mode & 07777) != (st->st_mode & 07777))
		return pifs_chmod_beneath(ddir, dname, st->st_mode);
	return 0;
}

static int copy_file(int sdir, const char *name, int ddir,
		     const struct stat *st)
{
	struct stat sst;
	int sfd, dfd = -1, ret;

	/* O_NOATIME keeps the source's atimes as they were (owner or
	 * CAP_FOWNER only, hence the retry) */
	sfd = openat(sdir, name,
		     O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NOATIME);
	if (sfd < 0 && errno == EPERM)
		sfd = openat(sdir, name,
			     O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	ret = pifs_fstat(sfd, &sst);
	if (ret < 0)
		goto out;
	if (sst.st_ino != st->st_ino || sst.st_dev != st->st_dev) {
		ret = -ESTALE;
		goto out;
	}
	dfd =
	    openat(ddir, name,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0) {
		ret = -errno;
		goto out;
	}
	ret = pifs_copy_data(sfd, dfd, sst.st_size);
	if (ret == 0 && close(dfd) < 0)
		ret = -errno;
	else if (ret < 0)
		close(dfd);
out:
	close(sfd);
	return ret;
}

static int copy_symlink(int sdir, const char *name, int ddir,
			const struct stat *st)
{
	size_t cap = (size_t)st->st_size + 2;
	char *target;
	ssize_t n;
	int ret = 0;

	target = malloc(cap);
	if (!target)
		return -ENOMEM;
	n = readlinkat(sdir, name, target, cap);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n >= cap)
		ret = -ESTALE; /* grew under us */
	if (ret == 0) {
		target[n] = '\0';
		if (symlinkat(target, ddir, name) < 0)
			ret = -errno;
	}
	free(target);
	return ret;
}

static int copy_dir(struct copy_ctx *c, int sfd, int dfd, const char *rel);

/* Copy one entry sdir/name (stat st, path rel below the root) into ddir. */
static int copy_entry(struct copy_ctx *c, int sdir, const char *name, int ddir,
		      const char *rel, const struct stat *st)
{
	const char *first;
	int sfd, dfd, ret;

	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1 &&
	    (first = pifs_kv_find(&c->links, st->st_dev, st->st_ino))) {
		if (linkat(c->droot, first, ddir, name, 0) < 0)
			return copy_fail(c, "link", rel, -errno);
		c->count++;
		return 0;
	}
	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(ddir, name, 0700) < 0)
			return copy_fail(c, "create", rel, -errno);
		sfd = openat(sdir, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			return copy_fail(c, "open", rel, -errno);
		dfd = pifs_openat_beneath(ddir, name,
					  O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
		if (dfd < 0) {
			close(sfd);
			return copy_fail(c, "open copy of", rel, dfd);
		}
		ret = copy_dir(c, sfd, dfd, rel);
		close(dfd);
		if (ret == 0) {
			ret = copy_attrs(sfd, NULL, ddir, name, st);
			if (ret < 0)
				copy_fail(c, "set attributes of", rel, ret);
		}
		close(sfd);
		return ret;
	case S_IFREG:
		ret = copy_file(sdir, name, ddir, st);
		break;
	case S_IFLNK:
		ret = copy_symlink(sdir, name, ddir, st);
		break;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		ret = mknodat(ddir, name, (st->st_mode & S_IFMT) | 0600,
			      st->st_rdev) < 0
			  ? -errno
			  : 0;
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (ret < 0)
		return copy_fail(c, "copy", rel, ret);
	ret = copy_attrs(sdir, name, ddir, name, st);
	if (ret < 0)
		return copy_fail(c, "set attributes of", rel, ret);
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		ret = pifs_kv_add(&c->links, st->st_dev, st->st_ino, rel);
		if (ret < 0)
			return copy_fail(c, "copy", rel, ret);
	}
	if (++c->count % PROGRESS_EVERY == 0 && c->progress) {
		fprintf(c->progress, "copied %lu entries\n", c->count);
		fflush(c->progress);
	}
	return 0;
}

/* Copy the children of the real directory fd sfd into dfd. */
static int copy_dir(struct copy_ctx *c, int sfd, int dfd, const char *rel)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	char *crel;
	int fd, ret = 0;

	fd = dup(sfd);
	if (fd < 0)
		return copy_fail(c, "read", rel, -errno);
	dir = fdopendir(fd);
	if (!dir) {
		ret = -errno;
		close(fd);
		return copy_fail(c, "read", rel, ret);
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno)
				ret = copy_fail(c, "read", rel, -errno);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		crel = strcmp(rel, ".") ? pifs_strdupf("%s/%s", rel, de->d_name)
					: strdup(de->d_name);
		if (!crel) {
			ret = copy_fail(c, "copy", rel, -ENOMEM);
			break;
		}
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			ret = copy_fail(c, "stat", crel, -errno);
		else
			ret = copy_entry(c, sfd, de->d_name, dfd, crel, &st);
		free(crel);
		if (ret < 0)
			break;
	}
	closedir(dir);
	return ret;
}

static int tree_copy(int sdir, const char *sname, int ddir, const char *dname,
		     FILE *progress, const char *prefix, char *errbuf,
		     size_t errlen)
{
	struct copy_ctx c = {.droot = -1,
			     .progress = progress,
			     .prefix = prefix,
			     .errbuf = errbuf,
			     .errlen = errlen};
	struct stat st;
	int sfd, ret;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	ret = pifs_check_name(dname);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "bad destination name '%s'", dname);
		return ret;
	}
	sfd = pifs_openat_beneath(sdir, sname,
				  O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (sfd < 0)
		return copy_fail(&c, "open", ".", sfd);
	ret = pifs_fstat(sfd, &st);
	if (ret < 0) {
		copy_fail(&c, "stat", ".", ret);
		goto out_sfd;
	}
	if (mkdirat(ddir, dname, 0700) < 0) {
		ret = copy_fail(&c, "create copy of", ".", -errno);
		goto out_sfd;
	}
	c.droot = pifs_openat_beneath(ddir, dname,
				      O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (c.droot < 0) {
		ret = copy_fail(&c, "open copy of", ".", c.droot);
		goto out_sfd;
	}
	ret = copy_dir(&c, sfd, c.droot, ".");
	if (ret == 0) {
		ret = copy_attrs(sfd, NULL, ddir, dname, &st);
		if (ret < 0)
			copy_fail(&c, "set attributes of", ".", ret);
	}
	if (ret == 0 && progress) {
		fprintf(progress, "copied %lu entries\n", c.count + 1);
		fflush(progress);
	}
	close(c.droot);
out_sfd:
	close(sfd);
	pifs_kv_free(&c.links);
	return ret;
}

int pifs_tree_copy(int sdir, const char *sname, int ddir, const char *dname,
		   FILE *progress)
{
	char msg[PATH_MAX + 128];
	int ret;

	ret = tree_copy(sdir, sname, ddir, dname, progress, NULL, msg,
			sizeof(msg));
	if (ret < 0)
		pifs_err("%s", msg);
	return ret;
}

/* ---- immutable golden ---- */

static int immutable_children(int dfd);

static int immutable_one(int dfd, const struct dirent *de, void *arg)
{
	int cfd, ret;

	if (de->d_type == DT_DIR) {
		cfd = openat(dfd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			return -errno;
		ret = immutable_children(cfd);
		close(cfd);
		if (ret < 0)
			return ret;
	}
	/* d_type may be DT_UNKNOWN: set_immutable checks itself */
	return pifs_set_immutable(dfd, de->d_name, 1);
}

/* Set FS_IMMUTABLE_FL on everything below the real dir fd dfd (not on
 * dfd itself). */
static int immutable_children(int dfd)
{
	return pifs_dir_foreach(dfd, immutable_one, NULL);
}

static int set_tree_immutable(int parent, const char *name)
{
	int fd, ret;

	fd = pifs_openat_beneath(parent, name,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	ret = pifs_set_immutable(fd, NULL, 1);
	if (ret == 0) {
		ret = immutable_children(fd);
		if (ret == 0)
			ret = pifs_set_immutable(parent, name, 1);
	}
	close(fd);
	return ret;
}

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
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (line = copy; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
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
	return pifs_strdupf("format %u\ngolden %s\nmaster %s\nrange %s-%s\n",
			    conf->format, conf->golden, conf->master,
			    conf->range_lo, conf->range_hi);
}

/* ---- create ---- */

static int empty_one(int dfd, const struct dirent *de, void *arg)
{
	int *first_err = arg, r = pifs_remove_tree(dfd, de->d_name);

	if (r < 0 && *first_err == 0)
		*first_err = r;
	return 0; /* go on: remove what can be removed */
}

/* Remove every entry inside the directory fd dfd. */
static int empty_dir(int dfd)
{
	int first_err = 0, r = pifs_dir_foreach(dfd, empty_one, &first_err);

	return r < 0 ? r : first_err;
}

static int any_entry(int dfd, const struct dirent *de, void *arg)
{
	return 1;
}

/* 1 if the directory fd has no entries, 0 if it has, -errno. */
static int dir_is_empty(int dfd)
{
	int r = pifs_dir_foreach(dfd, any_entry, NULL);

	return r < 0 ? r : !r;
}

static int mkdir_private(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0700) < 0)
		return -errno;
	/* the umask may have taken bits we do not want anyway; make sure
	 * no setgid parent gave it a group */
	if (fchownat(dirfd, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return pifs_chmod_beneath(dirfd, name, 0700);
}

static int create_file(int dirfd, const char *name)
{
	int fd;

	fd = pifs_openat_beneath(dirfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW,
				 0600);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* Is the resolved store path inside the resolved golden path? */
static int path_inside(const char *store, const char *golden)
{
	char *rs = realpath(store, NULL), *rg = realpath(golden, NULL);
	size_t n;
	int ret = 0;

	if (rs && rg) {
		n = strlen(rg);
		if (!strcmp(rg, "/"))
			ret = 1;
		else if (!strncmp(rs, rg, n) && (rs[n] == '/' || !rs[n]))
			ret = 1;
	}
	free(rs);
	free(rg);
	return ret;
}

/* Bytes of regular-file data a manifest lists. */
static unsigned long long manifest_data_size(const char *manifest,
					     unsigned long *files)
{
	unsigned long long size, total = 0;
	const char *line;

	*files = 0;
	for (line = manifest; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (line[0] == 'f' && line[1] == ' ' &&
		    sscanf(line, "f %*o %*u %*u %llu", &size) == 1) {
			total += size;
			(*files)++;
		}
	}
	return total;
}

/* goldens/<id>/info: where the golden came from, when, and its size (for
 * `pifs golden list`). */
static int write_info(int dirfd, int treefd, const char *source,
		      const char *manifest)
{
	unsigned long files;
	unsigned long long size = manifest_data_size(manifest, &files), disk;
	char *abs, *esc, *text;
	int ret;

	/* what `golden list` shows: the copy's blocks, so a sparse disk
	 * image in the golden counts what it holds, not its length */
	if ((ret = pifs_tree_disk_bytes(treefd, &disk)) < 0)
		return ret;
	abs = realpath(source, NULL);
	esc = pifs_path_escape(abs ? abs : source);
	free(abs);
	if (!esc)
		return -ENOMEM;
	text = pifs_strdupf("source %s\ncreated %lld\nsize %llu\nfiles %lu\n"
			    "disk %llu\n", esc, (long long)time(NULL), size,
			    files, disk);
	free(esc);
	if (!text)
		return -ENOMEM;
	ret = pifs_write_file_atomic(dirfd, "info", text, strlen(text), 0400);
	free(text);
	return ret;
}

int pifs_store_golden_info(struct pifs_store *st, const char *id,
			   struct pifs_golden_info *info)
{
	char sub[64], *text = NULL, *line, *next, *val;
	int ret;

	memset(info, 0, sizeof(*info));
	snprintf(sub, sizeof(sub), "goldens/%s/info", id);
	ret = pifs_read_file(st->fd, sub, 65536, &text, NULL);
	if (ret < 0)
		return ret;
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		val = strchr(line, ' ');
		if (!val)
			continue;
		*val++ = '\0';
		if (!strcmp(line, "source")) {
			free(info->source);
			info->source = pifs_path_unescape(val);
		} else if (!strcmp(line, "created")) {
			info->created = strtoll(val, NULL, 10);
		} else if (!strcmp(line, "size")) {
			info->size = strtoull(val, NULL, 10);
		} else if (!strcmp(line, "files")) {
			info->files = strtoul(val, NULL, 10);
		} else if (!strcmp(line, "disk")) {
			info->disk = strtoull(val, NULL, 10);
			info->have_disk = 1;
		}
	}
	free(text);
	if (!info->have_disk) {
		/* a golden imported before info had "disk": count now */
		int treefd;

		snprintf(sub, sizeof(sub), "goldens/%s/tree", id);
		treefd = pifs_openat_beneath(st->fd, sub, O_PATH | O_DIRECTORY |
							      O_NOFOLLOW, 0);
		if (treefd >= 0) {
			info->have_disk =
			    pifs_tree_disk_bytes(treefd, &info->disk) == 0;
			close(treefd);
		}
	}
	return 0;
}

void pifs_golden_info_release(struct pifs_golden_info *info)
{
	free(info->source);
	info->source = NULL;
}

int pifs_store_create(const char *path, const char *golden_dir,
		      const char *master, FILE *progress, char *errbuf,
		      size_t errlen)
{
	struct pifs_store_create_opts o = {
	    .master = master, .progress = progress, .bar_fd = -1};

	return pifs_store_create_opts(path, golden_dir, &o, errbuf, errlen);
}


/* What a golden source is: a directory (*gfd_out an open fd on it) or a
 * disk image (*is_image, *gfd_out -1). */
static int golden_source(const char *src, int *gfd_out, int *is_image,
			 char *errbuf, size_t errlen)
{
	struct stat st;
	int ret;

	*gfd_out = -1;
	*is_image = 0;
	if (stat(src, &st) < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			pifs_seterr(errbuf, errlen, "golden '%s' does not exist",
			       src);
		else
			pifs_seterr(errbuf, errlen, "cannot access golden '%s': %s",
			       src, strerror(-ret));
		return ret;
	}
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		*is_image = 1; /* a disk image: imported, see image.h */
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		pifs_seterr(errbuf, errlen,
		       "golden '%s' is not a directory or a disk image", src);
		return -ENOTDIR;
	}
	*gfd_out = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*gfd_out < 0) {
		ret = -errno;
		pifs_seterr(errbuf, errlen, "cannot open golden '%s': %s", src,
		       strerror(-ret));
		return ret;
	}
	if (dir_is_empty(*gfd_out) == 1) {
		/* a mistyped path or an unmounted disk, not an OS to serve */
		close(*gfd_out);
		*gfd_out = -1;
		pifs_seterr(errbuf, errlen,
			    "golden '%s' is an empty directory: nothing to "
			    "serve",
			    src);
		return -ENOENT;
	}
	return 0;
}

/*
 * Put a new golden into STORE/goldens (sfd): copy or import it into
 * goldens/.tmp-XXXXXXXX with its manifest and info, then rename that to
 * goldens/<id> and make it immutable.  -EEXIST (id filled) when the store
 * has that golden already; the copy is dropped.  On any failure nothing
 * is left in goldens/.
 */
static int golden_install(int sfd, const char *src, int gfd, int is_image,
			  const struct pifs_store_create_opts *o,
			  char id[17], char *errbuf, size_t errlen)
{
	struct pifs_image_digests *digests = NULL;
	char tmpname[32], msg[PATH_MAX + 256], *manifest = NULL;
	int gsfd = -1, tmpfd = -1, treefd = -1, ret, i, made = 0;
	FILE *progress = o->progress;
	struct stat st;
	uint32_t rnd;

	ret = mkdir_private(sfd, "goldens");
	if (ret == 0 || ret == -EEXIST) {
		gsfd = pifs_openat_beneath(
		    sfd, "goldens", O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
		ret = gsfd < 0 ? gsfd : 0;
	}
	for (i = 0; ret == 0 && i < 100; i++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)getpid() + (uint32_t)i;
		snprintf(tmpname, sizeof(tmpname), ".tmp-%08x", rnd);
		ret = mkdir_private(gsfd, tmpname);
		if (ret != -EEXIST)
			break;
	}
	if (ret == 0) {
		made = 1;
		tmpfd = pifs_openat_beneath(
		    gsfd, tmpname, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
		ret = tmpfd < 0 ? tmpfd : 0;
	}
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot create goldens directory: %s",
		       strerror(-ret));
		goto out;
	}

	if (is_image) {
		/* the importer warns about the image's shape itself */
	} else if (pifs_lstat_beneath(gfd, "boot/firmware", &st) < 0 ||
	    !S_ISDIR(st.st_mode)) {
		if (progress)
			fprintf(progress,
				"warning: golden '%s' has no boot/firmware "
				"directory\n",
				src);
	} else if (pifs_lstat_beneath(gfd, "boot/firmware/bootcode.bin", &st) < 0 ||
		   !S_ISREG(st.st_mode)) {
		/* A Pi 3 boot ROM fetches it first: no network boot without. */
		if (progress)
			fprintf(progress,
				"warning: golden '%s' has no boot/firmware/bootcode.bin: "
				"Pi 3 workers cannot network-boot from it\n",
				src);
	}
	if (is_image) {
		struct pifs_image_opts io = {.bar_fd = o->bar_fd,
					     .warn = o->warn,
					     .cancel = o->cancel};

		if (progress) {
			fprintf(progress, "importing image '%s'\n", src);
			fflush(progress);
		}
		ret = pifs_image_import(src, tmpfd, "tree", &io, &digests, msg,
					sizeof(msg));
	} else {
		if (progress) {
			fprintf(progress, "copying golden '%s'\n", src);
			fflush(progress);
		}
		ret = tree_copy(gfd, ".", tmpfd, "tree", progress, src, msg,
				sizeof(msg));
	}
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "%s", msg);
		goto out;
	}

	if (progress) {
		fprintf(progress, "building manifest\n");
		fflush(progress);
	}
	treefd = pifs_openat_beneath(tmpfd, "tree",
				     O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	/* digests the importer computed as it wrote the files */
	ret = treefd < 0 ? treefd
			 : pifs_manifest_build_known(
			       treefd, digests ? pifs_image_digest_known : NULL,
			       digests, &manifest, id);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot build manifest of the copy: %s",
		       strerror(-ret));
		goto out;
	}
	ret = pifs_write_file_atomic(tmpfd, "manifest", manifest,
				     strlen(manifest), 0400);
	if (ret == 0)
		ret = write_info(tmpfd, treefd, src, manifest);
	if (ret == 0 && syncfs(sfd) < 0)
		ret = -errno;
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot write manifest: %s",
		       strerror(-ret));
		goto out;
	}
	if (renameat2(gsfd, tmpname, gsfd, id, RENAME_NOREPLACE) < 0) {
		ret = -errno;
		if (ret != -EEXIST)
			pifs_seterr(errbuf, errlen,
			       "cannot rename golden to '%s': %s", id,
			       strerror(-ret));
		else
			pifs_seterr(errbuf, errlen, "the store has golden %s already",
			       id);
		goto out;
	}
	made = 0;
	pifs_fsync_dir(gsfd);
	if (progress)
		fprintf(progress, "golden id %s\n", id);

	/* Best effort: many file systems (tmpfs, overlayfs) lack the flag,
	 * and a container may lack CAP_LINUX_IMMUTABLE. */
	close(treefd);
	treefd = pifs_openat_beneath(gsfd, id,
				     O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	ret = treefd < 0 ? treefd : set_tree_immutable(treefd, "tree");
	if (ret == 0)
		ret = pifs_set_immutable(treefd, "manifest", 1);
	if (ret < 0 && progress)
		fprintf(progress,
			"warning: cannot make the golden immutable: %s\n",
			strerror(-ret));
	ret = 0;
out:
	if (made)
		pifs_remove_tree(gsfd, tmpname);
	if (treefd >= 0)
		close(treefd);
	if (tmpfd >= 0)
		close(tmpfd);
	if (gsfd >= 0)
		close(gsfd);
	free(manifest);
	pifs_image_digests_free(digests);
	return ret;
}

int pifs_store_create_opts(const char *path, const char *golden_dir,
			   const struct pifs_store_create_opts *o,
			   char *errbuf, size_t errlen)
{
	struct pifs_store_conf conf = {.format = 1};
	struct pifs_registry reg;
	char *text = NULL, *base = NULL;
	char *ppath = NULL, *slash;
	int gfd = -1, sfd = -1, pfd = -1;
	int created_root = 0, cleanup = 0, is_image = 0, ret, i;
	const char *master = o->master;
	struct stat st;

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

	ret = golden_source(golden_dir, &gfd, &is_image, errbuf, errlen);
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
		ret = dir_is_empty(sfd);
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
		if (pfd < 0 || mkdirat(pfd, base, 0700) < 0) {
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
	if (!is_image && path_inside(path, golden_dir)) {
		pifs_seterr(errbuf, errlen, "store '%s' is inside the golden '%s'",
		       path, golden_dir);
		ret = -EINVAL;
		goto out;
	}

	ret = golden_install(sfd, golden_dir, gfd, is_image, o, conf.golden,
			     errbuf, errlen);
	if (ret < 0)
		goto out;

	ret = mkdir_private(sfd, "deltas");
	if (ret == 0)
		ret = mkdir_private(sfd, "work");
	if (ret == 0)
		ret = mkdir_private(sfd, "lock");
	if (ret == 0)
		ret = pifs_openat_beneath(sfd, "lock", O_PATH | O_DIRECTORY, 0);
	if (ret >= 0) {
		int lfd = ret;

		ret = create_file(lfd, "store");
		if (ret == 0)
			ret = create_file(lfd, "daemon");
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
	if (ret < 0 && ret == -ENOMEM && errbuf && !errbuf[0])
		pifs_seterr(errbuf, errlen, "out of memory");
	if (ret < 0 && cleanup) {
		if (created_root) {
			close(sfd);
			sfd = -1;
			pifs_remove_tree(pfd, base);
		} else {
			empty_dir(sfd);
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

int pifs_store_open(struct pifs_store *st, const char *path, char *errbuf,
		    size_t errlen)
{
	char *text = NULL, sub[64];
	int ret;

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
	st->golden_fd = pifs_openat_beneath(
	    st->fd, sub, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (st->golden_fd < 0) {
		ret = st->golden_fd;
		goto damaged;
	}
	snprintf(sub, sizeof(sub), "deltas");
	st->deltas_fd = pifs_openat_beneath(
	    st->fd, sub, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (st->deltas_fd < 0) {
		ret = st->deltas_fd;
		goto damaged;
	}
	snprintf(sub, sizeof(sub), "work");
	st->work_fd = pifs_openat_beneath(st->fd, sub,
					  O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (st->work_fd < 0) {
		ret = st->work_fd;
		goto damaged;
	}
	return 0;

damaged:
	pifs_seterr(errbuf, errlen, "store '%s' is damaged: cannot open '%s': %s",
	       path, sub, strerror(-ret));
fail:
	pifs_store_close(st);
	return ret;
}

/* ---- locks ---- */

static int open_lock(struct pifs_store *st, const char *name, int flags)
{
	char sub[32];

	snprintf(sub, sizeof(sub), "lock/%s", name);
	return pifs_openat_beneath(st->fd, sub, flags | O_NOFOLLOW, 0600);
}

int pifs_store_lock(struct pifs_store *st, int timeout_ms)
{
	struct timespec start, now;
	long waited;
	int fd;

	if (st->lock_fd >= 0)
		return 0;
	fd = open_lock(st, "store", O_RDWR | O_CREAT);
	if (fd < 0)
		return fd;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int ret = -errno;

			close(fd);
			return ret;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 +
			 (now.tv_nsec - start.tv_nsec) / 1000000;
		if (timeout_ms >= 0 && waited >= timeout_ms) {
			close(fd);
			return -EAGAIN;
		}
		poll(NULL, 0, 20);
	}
	st->lock_fd = fd;
	return 0;
}

void pifs_store_unlock(struct pifs_store *st)
{
	if (st->lock_fd < 0)
		return;
	flock(st->lock_fd, LOCK_UN);
	close(st->lock_fd);
	st->lock_fd = -1;
}

/* The pid written in lock/daemon, or 0. */
static pid_t read_pid(int fd)
{
	char buf[32];
	ssize_t n;
	long v;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 && v <= INT32_MAX ? (pid_t)v : 0;
}

int pifs_store_lock_daemon(struct pifs_store *st, pid_t *pid_out)
{
	char buf[32];
	int fd, ret, tries;

	if (pid_out)
		*pid_out = 0;
	if (st->daemon_lock_fd >= 0)
		return 0;
	fd = open_lock(st, "daemon", O_RDWR | O_CREAT);
	if (fd < 0)
		return fd;
	/* pifs_store_mounted takes a shared lock for a moment: retry a
	 * little before calling the store busy. */
	for (tries = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; tries++) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			ret = -errno;
			goto fail;
		}
		if (tries == 10) {
			if (pid_out)
				*pid_out = read_pid(fd);
			ret = -EBUSY;
			goto fail;
		}
		poll(NULL, 0, 20);
	}
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = pifs_pwrite_all(fd, buf, strlen(buf), 0);
	if (ret < 0)
		goto fail;
	st->daemon_lock_fd = fd;
	return 0;
fail:
	close(fd);
	return ret;
}

int pifs_store_mounted(struct pifs_store *st, pid_t *pid_out)
{
	int fd, ret = 0;

	if (pid_out)
		*pid_out = 0;
	fd = open_lock(st, "daemon", O_RDONLY);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
	} else if (errno == EWOULDBLOCK) {
		if (pid_out)
			*pid_out = read_pid(fd);
		ret = 1;
	} else {
		ret = -errno;
	}
	close(fd);
	return ret;
}

/* Is pid a live process (not gone, not a zombie)?  *start gets its start
 * time (clock ticks after boot), which tells a reused pid. */
static int proc_alive(pid_t pid, unsigned long long *start)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	*start = 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) state ...": comm may hold spaces and ')' */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return 0;
	/* state is field 3, starttime field 22 */
	for (int field = 3; p && field < 22; field++)
		if ((p = strchr(p, ' ')))
			p++;
	if (p)
		*start = strtoull(p, NULL, 10);
	return 1;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Two steps: first lock/daemon is free (the daemon closed the store), then
 * the process that last held it is gone (it wrote its pid there before it
 * served, so the pid left behind is the daemon's, never that of the
 * parent it daemonized from).  Once the lock was seen free, only that
 * process is waited for: a new daemon taking the store meanwhile is not
 * the one unmounted. */
int pifs_store_wait_released(struct pifs_store *st, int timeout_ms,
			     pid_t *pid_out)
{
	unsigned long long start0 = 0, start;
	struct timespec t0;
	pid_t pid = 0;
	int fd, ret, held = 1;

	if (pid_out)
		*pid_out = 0;
	fd = open_lock(st, "daemon", O_RDONLY);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (held && flock(fd, LOCK_SH | LOCK_NB) == 0) {
			flock(fd, LOCK_UN);
			held = 0;
			pid = read_pid(fd);
			if (!pid || !proc_alive(pid, &start0)) {
				ret = 0;
				break;
			}
		} else if (held && errno != EWOULDBLOCK && errno != EINTR) {
			ret = -errno;
			break;
		} else if (!held &&
			   (!proc_alive(pid, &start) || start != start0)) {
			ret = 0;
			break;
		}
		if (ms_since(&t0) >= timeout_ms) {
			if (pid_out)
				*pid_out = held ? read_pid(fd) : pid;
			ret = -ETIMEDOUT;
			break;
		}
		poll(NULL, 0, 20);
	}
	close(fd);
	return ret;
}

/* ---- deltas ---- */

int pifs_store_delta_init(struct pifs_store *st, int dirfd, const char *name)
{
	return pifs_store_delta_init_on(st, dirfd, name, NULL);
}

int pifs_store_delta_init_on(struct pifs_store *st, int dirfd,
			     const char *name, const char *golden)
{
	struct stat gst;
	uint8_t origin[8];
	int ret, i, gfd;

	ret = pifs_check_name(name);
	if (ret < 0)
		return ret;
	if (!golden)
		golden = st->conf.golden;
	gfd = pifs_store_golden_open(st, golden);
	if (gfd < 0)
		return gfd;
	ret = pifs_fstat(gfd, &gst);
	if (ret < 0)
		goto out_gfd;
	if (mkdirat(dirfd, name, 0700) < 0) {
		ret = -errno;
		goto out_gfd;
	}
	ret = pifs_set_attrs(dirfd, name, &gst);
	if (ret < 0)
		goto out_remove;
	ret = pifs_copy_xattrs(gfd, NULL, dirfd, name, pifs_xattr_private);
	if (ret < 0)
		goto out_remove;
	for (i = 0; i < 8; i++)
		origin[i] = (uint8_t)((uint64_t)gst.st_ino >> (8 * i));
	ret = pifs_lsetxattr(dirfd, name, PIFS_XATTR_ORIGIN, origin,
			     sizeof(origin), 0);
	if (ret == 0)
		ret = pifs_lsetxattr(dirfd, name, PIFS_XATTR_GOLDEN, golden, 16,
				     0);
	if (ret < 0)
		goto out_remove;
	/* an ACL among the xattrs may have rewritten the group bits */
	ret = pifs_chmod_beneath(dirfd, name, gst.st_mode);
	if (ret < 0)
		goto out_remove;
	close(gfd);
	return 0;

out_remove:
	pifs_remove_tree(dirfd, name);
out_gfd:
	close(gfd);
	return ret;
}

int pifs_store_delta_create(struct pifs_store *st, const char *name)
{
	int ret;

	ret = pifs_store_delta_init(st, st->deltas_fd, name);
	if (ret < 0)
		return ret;
	return pifs_fsync_dir(st->deltas_fd);
}

/* The exchange is the one step that switches a worker's state (and with
 * it the base recorded on the delta root); a crash after it leaves the
 * old delta in work/, which is emptied at the next mount. */
int pifs_store_delta_swap(struct pifs_store *st, const char *worker,
			  const char *tmpname)
{
	struct stat sb;
	int ret;

	if ((ret = pifs_check_name(worker)) < 0 ||
	    (ret = pifs_check_name(tmpname)) < 0)
		return ret;
	if (fstatat(st->work_fd, tmpname, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	if (renameat2(st->work_fd, tmpname, st->deltas_fd, worker,
		      RENAME_EXCHANGE) < 0) {
		if (errno != ENOENT)
			return -errno;
		/* no delta to replace: just move the new one in */
		if (renameat2(st->work_fd, tmpname, st->deltas_fd, worker,
			      RENAME_NOREPLACE) < 0)
			return -errno;
		if ((ret = pifs_fsync_dir(st->deltas_fd)) < 0 ||
		    (ret = pifs_fsync_dir(st->work_fd)) < 0)
			return ret;
		return 0;
	}
	if ((ret = pifs_fsync_dir(st->deltas_fd)) < 0 ||
	    (ret = pifs_fsync_dir(st->work_fd)) < 0)
		return ret;
	return pifs_remove_tree(st->work_fd, tmpname);
}

int pifs_store_delta_retire(struct pifs_store *st, const char *name,
			    char **kept_as)
{
	char stamp[32], *newname = NULL;
	struct tm tm;
	time_t now;
	int ret, i;

	*kept_as = NULL;
	ret = pifs_check_name(name);
	if (ret < 0)
		return ret;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (i = 0; i < 100; i++) {
		free(newname);
		newname = i ? pifs_strdupf(".removed-%s-%s-%d", name, stamp, i)
			    : pifs_strdupf(".removed-%s-%s", name, stamp);
		if (!newname)
			return -ENOMEM;
		if (renameat2(st->deltas_fd, name, st->deltas_fd, newname,
			      RENAME_NOREPLACE) == 0) {
			*kept_as = newname;
			return pifs_fsync_dir(st->deltas_fd);
		}
		ret = -errno;
		if (ret != -EEXIST)
			break;
	}
	free(newname);
	return ret;
}

int pifs_store_clean_work(struct pifs_store *st)
{
	return empty_dir(st->work_fd);
}

/* ---- several goldens ---- */

int pifs_golden_id_valid(const char *id)
{
	size_t i;

	for (i = 0; i < 16; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return -EINVAL;
	return id[16] == '\0' ? 0 : -EINVAL;
}

int pifs_store_golden_open(struct pifs_store *st, const char *id)
{
	char sub[64];

	if (pifs_golden_id_valid(id) < 0)
		return -EINVAL;
	snprintf(sub, sizeof(sub), "goldens/%s/tree", id);
	return pifs_openat_beneath(st->fd, sub,
				   O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
}

int pifs_store_golden_manifest(struct pifs_store *st, const char *id,
			       struct pifs_manifest *m)
{
	char sub[64], *text = NULL;
	int ret;

	memset(m, 0, sizeof(*m));
	if (pifs_golden_id_valid(id) < 0)
		return -EINVAL;
	snprintf(sub, sizeof(sub), "goldens/%s/manifest", id);
	ret = pifs_read_file(st->fd, sub, 1L << 30, &text, NULL);
	if (ret < 0)
		return ret;
	ret = pifs_manifest_parse(text, m);
	free(text);
	return ret;
}

int pifs_store_delta_golden(struct pifs_store *st, int dirfd,
			    const char *name, char id[17])
{
	ssize_t n;

	n = pifs_lgetxattr(dirfd, name, PIFS_XATTR_GOLDEN, id, 16);
	if (n == -ENODATA) {
		/* a delta made before stores had several goldens */
		memcpy(id, st->conf.golden, 17);
		return 0;
	}
	if (n < 0)
		return (int)n;
	id[n < 16 ? n : 16] = '\0';
	return n == 16 && pifs_golden_id_valid(id) == 0 ? 0 : -EINVAL;
}

int pifs_store_worker_golden(struct pifs_store *st, const char *worker,
			     char id[17])
{
	int ret = pifs_check_name(worker);

	return ret < 0 ? ret
		       : pifs_store_delta_golden(st, st->deltas_fd, worker, id);
}

struct golden_ids {
	char (*ids)[17];
	size_t n, cap;
};

static int golden_id_one(int fd, const struct dirent *de, void *arg)
{
	struct golden_ids *g = arg;

	(void)fd;
	if (pifs_golden_id_valid(de->d_name) < 0)
		return 0; /* .tmp-*, .removing-* */
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		char(*n)[17] = realloc(g->ids, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		g->ids = n;
		g->cap = cap;
	}
	memcpy(g->ids[g->n++], de->d_name, 17);
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int pifs_store_goldens(struct pifs_store *st, char (**ids)[17], size_t *n)
{
	struct golden_ids g = {0};
	int fd, ret;

	*ids = NULL;
	*n = 0;
	fd = pifs_openat_beneath(st->fd, "goldens",
				 O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	ret = pifs_dir_foreach(fd, golden_id_one, &g);
	close(fd);
	if (ret < 0) {
		free(g.ids);
		return ret;
	}
	if (g.n > 1)
		qsort(g.ids, g.n, sizeof(*g.ids), id_cmp);
	*ids = g.ids;
	*n = g.n;
	return 0;
}

int pifs_store_golden_add(struct pifs_store *st, const char *src,
			  const struct pifs_store_create_opts *o, char id[17],
			  char *errbuf, size_t errlen)
{
	int gfd, is_image, ret, sfd;

	id[0] = '\0';
	if (errbuf && errlen)
		errbuf[0] = '\0';
	ret = golden_source(src, &gfd, &is_image, errbuf, errlen);
	if (ret < 0)
		return ret;
	if (!is_image && path_inside(st->path, src)) {
		pifs_seterr(errbuf, errlen, "store '%s' is inside the golden '%s'",
		       st->path, src);
		close(gfd);
		return -EINVAL;
	}
	sfd = openat(st->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0) {
		ret = -errno;
		pifs_seterr(errbuf, errlen, "cannot open store '%s': %s", st->path,
		       strerror(-ret));
	} else {
		ret = golden_install(sfd, src, gfd, is_image, o, id, errbuf,
				     errlen);
		close(sfd);
	}
	if (gfd >= 0)
		close(gfd);
	return ret;
}

/*
 * The golden is first renamed to goldens/.removing-<id> (one atomic step:
 * from then on it is not a golden of the store), then deleted; a crash in
 * between leaves only that name, which the next removal or `pifs fsck`
 * names.  The caller checked nothing uses it.
 */
int pifs_store_golden_remove(struct pifs_store *st, const char *id)
{
	char name[32];
	int gsfd, ret;

	if (pifs_golden_id_valid(id) < 0)
		return -EINVAL;
	if (!strcmp(id, st->conf.golden))
		return -EBUSY;
	gsfd = pifs_openat_beneath(st->fd, "goldens",
				   O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (gsfd < 0)
		return gsfd;
	snprintf(name, sizeof(name), ".removing-%s", id);
	pifs_remove_tree(gsfd, name); /* an earlier removal's leftover */
	if (renameat2(gsfd, id, gsfd, name, RENAME_NOREPLACE) < 0) {
		ret = -errno;
		close(gsfd);
		return ret;
	}
	ret = pifs_fsync_dir(gsfd);
	if (ret == 0)
		ret = pifs_remove_tree(gsfd, name);
	close(gsfd);
	return ret;
}
