/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store/golden.c - the store's goldens: what a golden source is, installing
 * one (copy or image import, manifest, info, then one rename into
 * goldens/<id>), the info `golden list` shows, and listing, finding,
 * adding and removing goldens.
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

/* ---- a golden's info ---- */

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
	for (next = text; (line = pifs_line_next(&next));) {
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

/* ---- installing a golden ---- */

/* What a golden source is: a directory (*gfd_out an open fd on it) or a
 * disk image (*is_image, *gfd_out -1). */
int pifs_store_golden_source(const char *src, int *gfd_out, int *is_image,
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
	if (pifs_store_dir_is_empty(*gfd_out) == 1) {
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
int pifs_store_golden_install(int sfd, const char *src, int gfd,
			      int is_image,
			      const struct pifs_store_create_opts *o,
			      char id[17], char *errbuf, size_t errlen)
{
	struct pifs_image_digests *digests = NULL;
	char tmpname[32], msg[PATH_MAX + 256], *manifest = NULL;
	int gsfd = -1, tmpfd = -1, treefd = -1, ret, i, made = 0;
	FILE *progress = o->progress;
	struct stat st;
	uint32_t rnd;

	ret = pifs_store_mkdir_private(sfd, "goldens");
	if (ret == 0 || ret == -EEXIST) {
		gsfd = pifs_openat_beneath(
		    sfd, "goldens", O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
		ret = gsfd < 0 ? gsfd : 0;
	}
	for (i = 0; ret == 0 && i < 100; i++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)getpid() + (uint32_t)i;
		snprintf(tmpname, sizeof(tmpname), ".tmp-%08x", rnd);
		ret = pifs_store_mkdir_private(gsfd, tmpname);
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
		ret = pifs_store_tree_copy(gfd, ".", tmpfd, "tree", progress,
					   o->bar_fd, src, msg, sizeof(msg));
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
			 : pifs_manifest_build_progress(
			       treefd, digests ? pifs_image_digest_known : NULL,
			       digests, o->bar_fd, &manifest, id);
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
	if ((ret = pifs_do_rename(gsfd, tmpname, gsfd, id,
				  RENAME_NOREPLACE)) < 0) {
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
	ret = treefd < 0 ? treefd : pifs_store_set_immutable(treefd, "tree");
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

int pifs_store_golden_manifest_text(struct pifs_store *st, const char *id,
				    size_t max, char **text)
{
	char sub[64];

	*text = NULL;
	if (pifs_golden_id_valid(id) < 0)
		return -EINVAL;
	snprintf(sub, sizeof(sub), "goldens/%s/manifest", id);
	return pifs_read_file(st->fd, sub, max, text, NULL);
}

int pifs_store_golden_manifest(struct pifs_store *st, const char *id,
			       struct pifs_manifest *m)
{
	char *text = NULL;
	int ret;

	memset(m, 0, sizeof(*m));
	ret = pifs_store_golden_manifest_text(st, id, 1L << 30, &text);
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

int pifs_store_delta_pin_golden(struct pifs_store *st, const char *worker)
{
	char g[17];
	int ret = pifs_check_name(worker);

	if (ret < 0)
		return ret;
	if (pifs_lgetxattr(st->deltas_fd, worker, PIFS_XATTR_GOLDEN, g, 16) !=
	    -ENODATA)
		return 0;
	return pifs_lsetxattr(st->deltas_fd, worker, PIFS_XATTR_GOLDEN,
			      st->conf.golden, 16, 0);
}

struct kept_on {
	struct pifs_store *st;
	const char *id;
	char *name;
};

static int kept_on_one(int fd, const struct dirent *de, void *arg)
{
	struct kept_on *k = arg;
	char g[17];

	if (strncmp(de->d_name, ".removed-", 9))
		return 0;
	if (pifs_store_delta_golden(k->st, fd, de->d_name, g) < 0 ||
	    strcmp(g, k->id))
		return 0;
	k->name = strdup(de->d_name);
	return k->name ? 1 : -ENOMEM;
}

int pifs_store_kept_delta_on(struct pifs_store *st, const char *id,
			     char **name)
{
	struct kept_on k = {.st = st, .id = id};
	int ret = pifs_dir_foreach(st->deltas_fd, kept_on_one, &k);

	*name = k.name;
	return ret == -ENOMEM ? ret : k.name != NULL;
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
	pifs_errclear(errbuf, errlen);
	ret = pifs_store_golden_source(src, &gfd, &is_image, errbuf, errlen);
	if (ret < 0)
		return ret;
	if (!is_image && pifs_store_path_inside(st->path, src)) {
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
		ret = pifs_store_golden_install(sfd, src, gfd, is_image, o, id, errbuf,
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
	if ((ret = pifs_do_rename(gsfd, id, gsfd, name, RENAME_NOREPLACE)) < 0) {
		close(gsfd);
		return ret;
	}
	ret = pifs_fsync_dir(gsfd);
	if (ret == 0)
		ret = pifs_remove_tree(gsfd, name);
	close(gsfd);
	return ret;
}
