/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * restore.c - a snapshot made a delta again: every entry of its META
 * created in work/<tmpname> with its content (sparse) and attributes
 * (directories' last, deepest first), its base and golden recorded and
 * the file system synced, for the caller to swap in.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "safeio.h"
#include "store.h"

#define HOLE_BLOCK 4096

struct restore {
	struct pifs_git *g;
	int root;
	char *errbuf;
	size_t errlen;
};

static int rs_fail(struct restore *r, const char *what, const char *path,
		   int err)
{
	pifs_seterr(r->errbuf, r->errlen, "cannot %s '%s': %s", what, path,
		    strerror(-err));
	return err;
}

/* Write data with holes: 4 KiB blocks of zeros are skipped. */
static int write_sparse(int fd, const char *buf, size_t len)
{
	static const char zero[HOLE_BLOCK];
	size_t off, n;
	int ret;

	for (off = 0; off < len; off += n) {
		n = len - off < HOLE_BLOCK ? len - off : HOLE_BLOCK;
		if (n == HOLE_BLOCK && !memcmp(buf + off, zero, HOLE_BLOCK))
			continue;
		ret = pifs_pwrite_all(fd, buf + off, n, (off_t)off);
		if (ret < 0)
			return ret;
	}
	return ftruncate(fd, (off_t)len) < 0 ? -errno : 0;
}

/* A sparse file (meta.h) from the data blob in memory: its extents
 * written at their offsets, the rest left a hole. */
static int write_extents(int fd, const struct pifs_meta_entry *e,
			 const char *data, size_t len)
{
	uint64_t pos = 0;
	size_t i;
	int ret;

	if (pifs_meta_sparse_data(e) != len)
		return -EIO;
	for (i = 0; i < e->next; i++) {
		ret = pifs_pwrite_all(fd, data + pos, e->ext[i].len,
				      (off_t)e->ext[i].off);
		if (ret < 0)
			return ret;
		pos += e->ext[i].len;
	}
	return ftruncate(fd, (off_t)e->size) < 0 ? -errno : 0;
}

/* Is blob oid big enough to be streamed (bigblob_restore.c)?  Its size
 * from the object's header: META does not keep the sizes of files. */
static int big_blob(struct pifs_git *g, const unsigned char oid[20],
		    uint64_t *size)
{
	git_object_t type;
	size_t len;
	git_oid o;

	memcpy(o.id, oid, 20);
	if (git_odb_read_header(&len, &type, g->odb, &o) < 0 ||
	    type != GIT_OBJECT_BLOB || (uint64_t)len < PIFS_BIGBLOB_MIN)
		return 0;
	*size = (uint64_t)len;
	return 1;
}

static int set_xattrs(int dirfd, const char *name,
		      const struct pifs_meta_entry *e)
{
	size_t i;
	int ret;

	for (i = 0; i < e->nxattrs; i++) {
		ret = pifs_lsetxattr(dirfd, name, e->xattrs[i].name,
				     e->xattrs[i].value, e->xattrs[i].len, 0);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* chown, chmod (after chown, which clears setuid), xattrs (after chown,
 * which clears security.capability), chmod again if an ACL changed the
 * group bits, times last (atime = mtime). */
static int set_xattrs_cb(void *ctx, int dirfd, const char *name)
{
	return set_xattrs(dirfd, name, ctx);
}

/* A META entry's owner, mode, times and xattrs, in the one order every
 * copy the store makes uses (pifs_apply_attrs: chown before the xattrs,
 * so a file capability survives). */
static int apply_attrs(int dirfd, const char *name,
		       const struct pifs_meta_entry *e)
{
	struct stat st = {0};

	st.st_uid = e->uid;
	st.st_gid = e->gid;
	st.st_mode = (e->type == 'l' ? S_IFLNK : e->type == 'd' ? S_IFDIR
								: S_IFREG) |
		     e->mode;
	st.st_atim.tv_sec = st.st_mtim.tv_sec = (time_t)e->mtime_sec;
	st.st_atim.tv_nsec = st.st_mtim.tv_nsec = (long)e->mtime_nsec;
	return pifs_apply_attrs(dirfd, name, &st, set_xattrs_cb, (void *)e,
				NULL);
}

static int restore_entry(struct restore *r, const struct pifs_meta_entry *e)
{
	const char *name;
	char *parent = NULL, *data = NULL;
	uint64_t bsize;
	size_t len;
	int pfd, fd, ret;
	dev_t dev = makedev(e->rdev_major, e->rdev_minor);

	pfd = pifs_entry_open_parent(r->root, e->path, &parent, &name);
	if (pfd < 0)
		return rs_fail(r, "create", e->path, pfd);
	if (e->link) {
		int lfd = pifs_openat_beneath(r->root, e->link,
					      O_PATH | O_NOFOLLOW, 0);

		ret = lfd;
		if (lfd >= 0) {
			ret = pifs_do_link(lfd, "", pfd, name, AT_EMPTY_PATH);
			close(lfd);
		}
		if (ret < 0)
			rs_fail(r, "link", e->path, ret);
		goto out;
	}
	switch (e->type) {
	case 'd':
		ret = pifs_do_mkdir(pfd, name, 0700);
		break;
	case 'f':
		if (big_blob(r->g, e->oid, &bsize)) {
			/* streamed from its pack, never whole in memory */
			fd = openat(pfd, name,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					O_CLOEXEC,
				    0600);
			if (fd < 0) {
				ret = -errno;
				break;
			}
			ret = pifs_bigblob_restore(r->g, e->oid, bsize,
						   e->sparse ? e : NULL, fd,
						   e->path, r->errbuf,
						   r->errlen);
			if (ret != -ENOTSUP) {
				if (close(fd) < 0 && ret == 0)
					ret = -errno;
				break;
			}
			close(fd);
			if ((ret = pifs_do_unlink(pfd, name, 0)) < 0)
				break;
		}
		/* fall through */
	case 'l':
		ret = pifs_git_blob(r->g, e->oid, &data, &len);
		if (ret < 0)
			break;
		if (e->type == 'l') {
			ret = memchr(data, '\0', len) ? -EINVAL : 0;
			if (ret == 0)
				ret = pifs_do_symlink(data, pfd, name);
			break;
		}
		fd = openat(pfd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0) {
			ret = -errno;
			break;
		}
		ret = e->sparse ? write_extents(fd, e, data, len)
				: write_sparse(fd, data, len);
		if (close(fd) < 0 && ret == 0)
			ret = -errno;
		break;
	case 'c':
		ret = pifs_do_mknod(pfd, name, S_IFCHR | 0600, dev);
		break;
	case 'b':
		ret = pifs_do_mknod(pfd, name, S_IFBLK | 0600, dev);
		break;
	case 'p':
		ret = pifs_do_mknod(pfd, name, S_IFIFO | 0600, 0);
		break;
	case 's':
		ret = pifs_do_mknod(pfd, name, S_IFSOCK | 0600, 0);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret < 0) {
		rs_fail(r, "restore", e->path, ret);
		goto out;
	}
	if (e->type != 'd') {
		ret = apply_attrs(pfd, name, e);
		if (ret < 0)
			rs_fail(r, "set attributes of", e->path, ret);
	}
out:
	free(data);
	free(parent);
	close(pfd);
	return ret;
}

int pifs_git_materialize_meta(struct pifs_git *g, struct pifs_store *st,
			      const struct pifs_meta *mp, const char *base,
			      const char *tmpname, char *errbuf, size_t errlen)
{
	struct restore r = {.g = g, .root = -1, .errbuf = errbuf,
			    .errlen = errlen};
	const struct pifs_meta m = *mp;
	const char *name;
	char *parent;
	size_t i;
	int ret, pfd;

	pifs_errclear(errbuf, errlen);
	if (!m.count || strcmp(m.entries[0].path, ".")) {
		pifs_seterr(errbuf, errlen, "snapshot %.7s has no root entry",
		       base ? base : "-");
		return -EINVAL;
	}
	if (pifs_golden_id_valid(m.golden) < 0) {
		pifs_seterr(errbuf, errlen, "snapshot %.7s names no valid golden",
		       base ? base : "-");
		return -EINVAL;
	}
	if ((ret = pifs_store_golden_open(st, m.golden)) < 0) {
		pifs_seterr(errbuf, errlen,
		       "snapshot %.7s is on golden %s, which the store does "
		       "not have",
		       base ? base : "-", m.golden);
		return ret == -ENOENT ? -ENOENT : ret;
	}
	close(ret);
	if ((ret = pifs_do_mkdir(st->work_fd, tmpname, 0700)) < 0) {
		pifs_seterr(errbuf, errlen, "cannot create '%s/work/%s': %s",
		       st->path, tmpname, strerror(-ret));
		return ret;
	}
	r.root = pifs_openat_beneath(st->work_fd, tmpname,
				     O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (r.root < 0) {
		ret = r.root;
		goto out_remove;
	}
	for (i = 1; i < m.count; i++)
		if ((ret = restore_entry(&r, &m.entries[i])) < 0)
			goto out_remove;
	/* directory attributes last, deepest first (reverse path order) */
	for (i = m.count; i-- > 1;) {
		if (m.entries[i].type != 'd' || m.entries[i].link)
			continue;
		pfd = pifs_entry_open_parent(r.root, m.entries[i].path, &parent,
					     &name);
		if (pfd < 0) {
			ret = rs_fail(&r, "open", m.entries[i].path, pfd);
			goto out_remove;
		}
		ret = apply_attrs(pfd, name, &m.entries[i]);
		close(pfd);
		free(parent);
		if (ret < 0) {
			rs_fail(&r, "set attributes of", m.entries[i].path,
				ret);
			goto out_remove;
		}
	}
	ret = base ? pifs_lsetxattr(st->work_fd, tmpname, PIFS_XATTR_BASE,
				    base, 40, 0)
		   : 0;
	if (ret == 0)
		ret = pifs_lsetxattr(st->work_fd, tmpname, PIFS_XATTR_GOLDEN,
				     m.golden, 16, 0);
	if (ret == 0)
		ret = apply_attrs(st->work_fd, tmpname, &m.entries[0]);
	if (ret < 0) {
		rs_fail(&r, "set attributes of", ".", ret);
		goto out_remove;
	}
	ret = pifs_git_sync_fs(st->work_fd);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot sync '%s': %s", st->path,
		       strerror(-ret));
		goto out_remove;
	}
	close(r.root);
	return 0;
out_remove:
	if (r.root >= 0)
		close(r.root);
	pifs_remove_tree(st->work_fd, tmpname);
	return ret;
}

int pifs_git_materialize(struct pifs_git *g, struct pifs_store *st,
			 const char *id, const char *golden,
			 const char *tmpname, char *errbuf, size_t errlen)
{
	struct pifs_meta m;
	int ret;

	pifs_errclear(errbuf, errlen);
	if (!id) {
		ret = pifs_store_delta_init_on(st, st->work_fd, tmpname, golden);
		if (ret < 0) {
			pifs_seterr(errbuf, errlen, "cannot create '%s/work/%s': %s",
			       st->path, tmpname, strerror(-ret));
			return ret;
		}
		ret = pifs_git_sync_fs(st->work_fd);
		if (ret < 0) {
			pifs_seterr(errbuf, errlen, "cannot sync '%s': %s", st->path,
			       strerror(-ret));
			pifs_remove_tree(st->work_fd, tmpname);
		}
		return ret;
	}
	pifs_meta_init(&m);
	ret = pifs_git_load(g, id, &m, errbuf, errlen);
	if (ret == 0)
		ret = pifs_git_materialize_meta(g, st, &m, id, tmpname, errbuf,
						errlen);
	pifs_meta_release(&m);
	return ret;
}
