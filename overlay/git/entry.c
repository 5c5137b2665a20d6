/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * entry.c - one entry of a tree on disk (a delta or a golden) as META
 * records it: its type and attributes from a stat, its xattrs, its
 * content; and the golden's entry at a path (pifs_git_golden_entry),
 * which the diff and rebase compare against.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"
#include "safeio.h"
#include "store.h"

#define FILE_MAX ((size_t)1 << 40)

/* All xattrs of dirfd/name (no follow), sorted; skip_base leaves out
 * trusted.pifs.base, skip_private all names hidden from clients. */
int pifs_entry_xattrs(int dirfd, const char *name, int skip_base,
		      int skip_private, struct pifs_xattr **out, size_t *nout)
{
	char *names = NULL, *p;
	struct pifs_xattr *x = NULL;
	ssize_t len, vlen;
	size_t n = 0, cnt = 0;
	int ret = 0;

	*out = NULL;
	*nout = 0;
	for (;;) {
		len = pifs_llistxattr(dirfd, name, NULL, 0);
		if (len <= 0) {
			return len == -ENOTSUP ? 0 : (int)len;
		}
		free(names);
		names = malloc((size_t)len + 1);
		if (!names)
			return -ENOMEM;
		len = pifs_llistxattr(dirfd, name, names, (size_t)len);
		if (len == -ERANGE)
			continue;
		if (len < 0) {
			free(names);
			return (int)len;
		}
		break;
	}
	for (p = names; p < names + len; p += strlen(p) + 1)
		cnt++;
	x = calloc(cnt ? cnt : 1, sizeof(*x));
	if (!x) {
		free(names);
		return -ENOMEM;
	}
	for (p = names; p < names + len; p += strlen(p) + 1) {
		if (!*p ||
		    (skip_base && (!strcmp(p, PIFS_XATTR_BASE) ||
				   !strcmp(p, PIFS_XATTR_GOLDEN))) ||
		    (skip_private && pifs_xattr_private(p)))
			continue;
		for (;;) {
			vlen = pifs_lgetxattr(dirfd, name, p, NULL, 0);
			if (vlen < 0)
				break;
			x[n].value = malloc((size_t)vlen + 1);
			if (!x[n].value) {
				ret = -ENOMEM;
				goto fail;
			}
			vlen = pifs_lgetxattr(dirfd, name, p, x[n].value,
					      (size_t)vlen);
			if (vlen == -ERANGE) {
				free(x[n].value);
				x[n].value = NULL;
				continue;
			}
			break;
		}
		if (vlen == -ENODATA) {
			free(x[n].value);
			x[n].value = NULL;
			continue;
		}
		if (vlen < 0) {
			ret = (int)vlen;
			goto fail;
		}
		x[n].len = (size_t)vlen;
		x[n].name = strdup(p);
		if (!x[n].name) {
			ret = -ENOMEM;
			goto fail;
		}
		n++;
	}
	free(names);
	qsort(x, n, sizeof(*x), pifs_meta_xattr_cmp);
	*out = x;
	*nout = n;
	return 0;
fail:
	for (cnt = 0; cnt <= n && cnt < n + 1; cnt++) {
		free(x[cnt].name);
		free(x[cnt].value);
	}
	free(x);
	free(names);
	return ret;
}

void pifs_entry_from_stat(struct pifs_meta_entry *e, const struct stat *sb)
{
	e->type = pifs_type_letter(sb->st_mode);
	e->mode = sb->st_mode & 07777;
	e->uid = sb->st_uid;
	e->gid = sb->st_gid;
	e->mtime_sec = sb->st_mtim.tv_sec;
	e->mtime_nsec = (uint32_t)sb->st_mtim.tv_nsec;
	e->rdev_major = major(sb->st_rdev);
	e->rdev_minor = minor(sb->st_rdev);
	e->size = S_ISREG(sb->st_mode) || S_ISLNK(sb->st_mode)
		      ? (uint64_t)sb->st_size
		      : 0;
}

/* Read all of fd (at most FILE_MAX) into a malloc'd buffer. */
int pifs_entry_read_all(int fd, uint64_t hint, char **out, size_t *len_out)
{
	size_t cap = hint + 1, len = 0;
	char *buf, *n;
	ssize_t r;

	if (hint >= FILE_MAX)
		return -EFBIG;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap >= FILE_MAX) {
				free(buf);
				return -EFBIG;
			}
			n = realloc(buf, cap * 2);
			if (!n) {
				free(buf);
				return -ENOMEM;
			}
			buf = n;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			return (int)r;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	*out = buf;
	*len_out = len;
	return 0;
}

/* Open the parent directory of rel beneath root; *name points into rel. */
int pifs_entry_open_parent(int root, const char *rel, char **parent,
			   const char **name)
{
	const char *slash = strrchr(rel, '/');
	int fd;

	*parent = slash ? strndup(rel, (size_t)(slash - rel)) : strdup(".");
	if (!*parent)
		return -ENOMEM;
	*name = slash ? slash + 1 : rel;
	fd = pifs_openat_beneath(root, *parent, O_PATH | O_DIRECTORY, 0);
	if (fd < 0) {
		free(*parent);
		*parent = NULL;
	}
	return fd;
}

int pifs_git_golden_entry(int gfd, const char *gpath,
			  struct pifs_meta_entry *e)
{
	struct stat sb;
	const char *name;
	char *parent;
	int ret, pfd;

	memset(e, 0, sizeof(*e));
	ret = pifs_lstat_beneath(gfd, gpath, &sb);
	if (ret < 0)
		return ret;
	pifs_entry_from_stat(e, &sb);
	if (!strcmp(gpath, ".")) {
		ret =
		    pifs_entry_xattrs(gfd, NULL, 1, 1, &e->xattrs, &e->nxattrs);
	} else {
		pfd = pifs_entry_open_parent(gfd, gpath, &parent, &name);
		if (pfd < 0)
			return pfd;
		ret =
		    pifs_entry_xattrs(pfd, name, 1, 1, &e->xattrs, &e->nxattrs);
		close(pfd);
		free(parent);
	}
	if (ret == 0) {
		e->path = strdup(gpath);
		if (!e->path)
			ret = -ENOMEM;
	}
	if (ret < 0)
		pifs_meta_entry_release(e);
	return ret;
}
