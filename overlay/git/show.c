/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * show.c - a file's content as a snapshot's view showed it (pifs show):
 * the delta's blob, or the golden's file where the view showed the
 * golden's (looked up by diff.c's view rules), a sparse file's data put
 * back between its holes, streamed to an fd so a big file is never whole
 * in memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "safeio.h"
#include "store.h"

#define SHOW_MEM_MAX ((uint64_t)1 << 30)

/* The data blob of the sparse file e (a small one), in memory: -EIO if
 * it is not as long as e's extents. */
static int sparse_data(struct pifs_git *g, const struct pifs_meta_entry *e,
		       char **data)
{
	size_t len;
	int ret = pifs_git_blob(g, e->oid, data, &len);

	if (ret == 0 && len != pifs_meta_sparse_data(e)) {
		free(*data);
		*data = NULL;
		ret = -EIO;
	}
	return ret;
}

/* A sparse file's content (meta.h) in memory, holes as zeros. */
static int sparse_expand(struct pifs_git *g, const struct pifs_meta_entry *e,
			 char **out, size_t *len_out)
{
	char *data = NULL, *buf;
	uint64_t pos = 0;
	size_t i;
	int ret;

	if (e->size >= SHOW_MEM_MAX)
		return -EFBIG;
	ret = sparse_data(g, e, &data);
	if (ret < 0)
		return ret;
	buf = calloc(1, (size_t)e->size + 1);
	if (!buf) {
		free(data);
		return -ENOMEM;
	}
	for (i = 0; i < e->next; i++) {
		memcpy(buf + e->ext[i].off, data + pos, e->ext[i].len);
		pos += e->ext[i].len;
	}
	free(data);
	*out = buf;
	*len_out = (size_t)e->size;
	return 0;
}

/* A sparse file's content written to out, holes as zeros, from its data
 * blob in memory (a small one). */
static int sparse_cat(struct pifs_git *g, const struct pifs_meta_entry *e,
		      int out, int *wfail)
{
	static const char zeros[65536];
	char *data = NULL;
	uint64_t pos = 0, fpos = 0, to;
	size_t i, n;
	int ret;

	ret = sparse_data(g, e, &data);
	if (ret < 0)
		return ret;
	for (i = 0; i <= e->next && ret == 0; i++) {
		to = i < e->next ? e->ext[i].off : e->size;
		for (; fpos < to && ret == 0; fpos += n) {
			n = to - fpos < sizeof(zeros) ? (size_t)(to - fpos)
						      : sizeof(zeros);
			ret = pifs_write_all(out, zeros, n);
		}
		if (ret == 0 && i < e->next) {
			ret = pifs_write_all(out, data + pos, e->ext[i].len);
			pos += e->ext[i].len;
			fpos += e->ext[i].len;
		}
	}
	if (ret < 0)
		*wfail = 1;
	free(data);
	return ret;
}

/* What the view of m (NULL: the bare golden) shows at path, in *v, and
 * its golden in *gfd (the caller closes it and releases v). */
static int show_lookup(struct pifs_store *st, const struct pifs_meta *m,
		       const char *path, int *gfd, struct vent *v)
{
	int ret;

	*gfd = pifs_store_golden_open(st, pifs_diff_side_golden(st, m, NULL));
	if (*gfd < 0)
		return *gfd;
	ret = pifs_diff_view_lookup(*gfd, m, path, v);
	if (ret < 0)
		close(*gfd);
	return ret;
}

int pifs_git_show(struct pifs_git *g, struct pifs_store *st,
		  const struct pifs_meta *m, const char *path, char **out,
		  size_t *len_out, int *deleted)
{
	const struct pifs_meta_entry *e;
	struct pifs_meta_entry ge;
	char target[PATH_MAX + 1];
	struct vent v;
	ssize_t n;
	int ret, fd, gfd;

	*out = NULL;
	*deleted = 0;
	if ((ret = show_lookup(st, m, path, &gfd, &v)) < 0)
		return ret;
	if (!v.present) {
		if (pifs_git_golden_entry(gfd, path, &ge) == 0) {
			*deleted = 1;
			pifs_meta_entry_release(&ge);
		}
		close(gfd);
		return -ENOENT;
	}
	e = v.e;
	if (e->type == 'd') {
		ret = -EISDIR;
	} else if (e->type != 'f' && e->type != 'l') {
		ret = -EINVAL;
	} else if (e != &v.gold && e->sparse) {
		ret = sparse_expand(g, e, out, len_out);
	} else if (e != &v.gold) {
		ret = pifs_git_blob(g, e->oid, out, len_out);
	} else if (e->type == 'l') {
		fd = pifs_openat_beneath(gfd, v.gpath, O_PATH | O_NOFOLLOW, 0);
		ret = fd;
		if (fd >= 0) {
			n = readlinkat(fd, "", target, sizeof(target) - 1);
			ret = n < 0 ? -errno : 0;
			close(fd);
			if (ret == 0) {
				*out = strndup(target, (size_t)n);
				*len_out = (size_t)n;
				ret = *out ? 0 : -ENOMEM;
			}
		}
	} else {
		fd = pifs_openat_beneath(gfd, v.gpath, O_RDONLY | O_NOFOLLOW, 0);
		ret = fd;
		if (fd >= 0) {
			ret = pifs_entry_read_all(fd, e->size, out, len_out);
			close(fd);
		}
	}
	pifs_diff_vent_release(&v);
	close(gfd);
	return ret;
}

/* A blob's size from its header (0 if unknown). */
static uint64_t blob_size(struct pifs_git *g, const unsigned char oid[20])
{
	git_object_t type;
	size_t len;
	git_oid o;

	memcpy(o.id, oid, 20);
	if (git_odb_read_header(&len, &type, g->odb, &o) < 0 ||
	    type != GIT_OBJECT_BLOB)
		return 0;
	return (uint64_t)len;
}

/* Copy fd to out in chunks; a failed write sets *wfail. */
static int copy_fd(int fd, int out, int *wfail)
{
	char *buf = malloc(1 << 20);
	ssize_t n;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		n = read(fd, buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : 0;
			break;
		}
		ret = pifs_write_all(out, buf, (size_t)n);
		if (ret < 0) {
			*wfail = 1;
			break;
		}
	}
	free(buf);
	return ret;
}

int pifs_git_show_fd(struct pifs_git *g, struct pifs_store *st,
		     const struct pifs_meta *m, const char *path, int out,
		     int *deleted, int *wfail, char *errbuf, size_t errlen)
{
	const struct pifs_meta_entry *e;
	char *data = NULL;
	struct vent v;
	size_t len = 0;
	int ret, fd, gfd;

	pifs_errclear(errbuf, errlen);
	*wfail = 0;
	*deleted = 0;
	if ((ret = show_lookup(st, m, path, &gfd, &v)) < 0)
		return ret;
	e = v.present ? v.e : NULL;
	if (e && e->type == 'f' && e != &v.gold && g &&
	    blob_size(g, e->oid) >= PIFS_BIGBLOB_MIN) {
		/* streamed from its pack, never whole in memory */
		ret = pifs_bigblob_cat(g, e->oid, blob_size(g, e->oid),
				       e->sparse ? e : NULL, out, errbuf,
				       errlen);
		if (ret != -ENOTSUP) {
			*wfail = ret < 0 && !(errbuf && errbuf[0]);
			goto out;
		}
	} else if (e && e->type == 'f' && e != &v.gold && g && e->sparse) {
		ret = sparse_cat(g, e, out, wfail);
		goto out;
	} else if (e && e->type == 'f' && e == &v.gold) {
		fd = pifs_openat_beneath(gfd, v.gpath, O_RDONLY | O_NOFOLLOW,
					 0);
		ret = fd < 0 ? fd : copy_fd(fd, out, wfail);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	ret = pifs_git_show(g, st, m, path, &data, &len, deleted);
	if (ret == 0 && (ret = pifs_write_all(out, data, len)) < 0)
		*wfail = 1;
	free(data);
out:
	pifs_diff_vent_release(&v);
	close(gfd);
	return ret;
}
