/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops_dir.c - the FUSE operations on the namespace (mknod, mkdir,
 * symlink, link, unlink, rmdir, rename) and on directories as such:
 * listings (readdir, readdirplus, from the cached listings of
 * listings.c; no opendir) and fsyncdir.  Every node a reply names goes
 * through reply_entry or the same ownership check (pifsd_sb_owns).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode, dev_t rdev)
{
	struct pifs_ctx ctx = req_ctx(req);
	struct pifs_node *p = req_node(req, parent), *n = NULL;
	struct stat st;
	int r = p ? pifs_fs_mknod(FS(req), p, name, mode, rdev, &ctx, &n, &st)
		  : -ESTALE;

	node_put(FS(req), p);
	reply_entry(req, r, n, &st);
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode)
{
	struct pifs_ctx ctx = req_ctx(req);
	struct pifs_node *p = req_node(req, parent), *n = NULL;
	struct stat st;
	int r = p ? pifs_fs_mkdir(FS(req), p, name, mode, &ctx, &n, &st)
		  : -ESTALE;

	node_put(FS(req), p);
	reply_entry(req, r, n, &st);
}

void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		const char *name)
{
	struct pifs_ctx ctx = req_ctx(req);
	struct pifs_node *p = req_node(req, parent), *n = NULL;
	struct stat st;
	int r = p ? pifs_fs_symlink(FS(req), p, name, link, &ctx, &n, &st)
		  : -ESTALE;

	node_put(FS(req), p);
	reply_entry(req, r, n, &st);
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	     const char *newname)
{
	struct pifs_node *src = req_node(req, ino), *n = NULL;
	struct pifs_node *p = src ? req_node(req, newparent) : NULL;
	struct stat st;
	int r = p ? pifs_fs_link(FS(req), src, p, newname, &n, &st) : -ESTALE;

	node_put(FS(req), p);
	node_put(FS(req), src);
	reply_entry(req, r, n, &st);
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pifs_node *p = req_node(req, parent);
	int r = p ? pifs_fs_unlink(FS(req), p, name) : -ESTALE;

	node_put(FS(req), p);
	fuse_reply_err(req, -r);
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pifs_node *p = req_node(req, parent);
	int r = p ? pifs_fs_rmdir(FS(req), p, name) : -ESTALE;

	node_put(FS(req), p);
	fuse_reply_err(req, -r);
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct pifs_node *p = req_node(req, parent);
	struct pifs_node *q = p ? req_node(req, newparent) : NULL;
	int r = q ? pifs_fs_rename(FS(req), p, name, q, newname, flags)
		  : -ESTALE;

	node_put(FS(req), q);
	node_put(FS(req), p);
	fuse_reply_err(req, -r);
}

/*
 * No OPENDIR: the kernel then opens directories without asking and caches
 * their listings (listings.c).  A view's directories change only through
 * this mount (the kernel drops its cached listing on every change it
 * makes) or by a reset, which invalidates every inode of the view
 * (ctl.c); tftpboot/ and nfsroot/ change under the kernel (a worker's
 * boot files, the registry), so their mtime moves with their listing and
 * the kernel lists again when it moved: tftpboot/'s attributes are never
 * cached, nfsroot/'s are and ctl.c tells the kernel when the registry
 * changed.
 */
void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

/* The entries of directory ino from off on, as many as fit in size
 * bytes (with their attributes, a lookup counted for each: plus): a
 * malloc'd *out of *len bytes. */
static int do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      int plus, char **out, size_t *len)
{
	struct pifsd *d = D(req);
	struct pifsd_sb *sb = SB(req);
	struct pifs_fs *fs = &d->fs;
	struct pifsd_listing *ls = NULL;
	struct pifs_node *dn = pifsd_sb_node(sb, ino);
	struct pifs_lower_dir ld = { .fd = -1 };
	int ld_open = 0, is_root = sb->view && dn == sb->view->root;
	char *buf = NULL;
	size_t used = 0, start;
	int r;

	if (!dn) {
		r = -ESTALE;
		goto out;
	}
	if ((r = pifsd_listing_get(d, dn->id, (uint64_t)off, &ls, &start)) < 0)
		goto out;
	buf = malloc(size);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = start; i < ls->dir->count; i++) {
		struct pifs_dirent *e = &ls->dir->ents[i];
		off_t next = (off_t)pifsd_listing_cookie(ls, i + 1);
		/* nothing above a worker's root: its ".." is itself */
		uint64_t eino = pifsd_sb_ino(
		    sb, i == 1 && is_root ? dn->id : e->ino);
		size_t l;

		if (plus) {
			struct fuse_entry_param ep;
			struct pifs_node *n = NULL;
			struct stat st;

			memset(&ep, 0, sizeof(ep));
			if (i >= 2 && !ld_open) {
				/* once per request, and only when a name
				 * needs it */
				pifs_fs_lower_dir_open(fs, dn, &ld);
				ld_open = 1;
			}
			if (i < 2 ||
			    pifs_fs_lookup_in(fs, dn, &ld, e->name, &n, &st) < 0) {
				/* "." and "..", or an entry that just went:
				 * name only, no lookup counted. */
				ep.attr.st_ino = eino;
				ep.attr.st_mode = (mode_t)e->type << 12;
				n = NULL;
			} else if (!pifsd_sb_owns(sb, n)) {
				pifs_fs_forget(fs, n->id, 1);
				n = NULL;
				ep.attr.st_ino = eino;
				ep.attr.st_mode = (mode_t)e->type << 12;
			} else {
				ep.ino = pifsd_sb_ino(sb, n->id);
				ep.generation = n->gen;
				ep.attr = st;
				ep.attr.st_ino = pifsd_sb_ino(sb, st.st_ino);
				ep.entry_timeout = entry_time(req, n);
				ep.attr_timeout = attr_time(req, n);
			}
			l = fuse_add_direntry_plus(req, buf + used, size - used,
						   e->name, &ep, next);
			if (l > size - used) {
				if (n)
					pifs_fs_forget(fs, n->id, 1);
				break;
			}
		} else {
			struct stat st = { .st_ino = eino,
					   .st_mode = (mode_t)e->type << 12 };

			l = fuse_add_direntry(req, buf + used, size - used,
					      e->name, &st, next);
			if (l > size - used)
				break;
		}
		used += l;
	}
out:
	if (ld_open)
		pifs_fs_lower_dir_close(&ld);
	if (dn)
		pifs_fs_put(fs, dn);
	if (ls)
		pifsd_listing_put(d, ls, r == 0 && start >= ls->dir->count);
	if (r < 0) {
		free(buf);
		buf = NULL;
	}
	*out = buf;
	*len = used;
	return r;
}

static void reply_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, int plus)
{
	char *buf = NULL;
	size_t used = 0;
	int r = do_readdir(req, ino, size, off, plus, &buf, &used);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	(void)fi;
	reply_readdir(req, ino, size, off, 0);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	reply_readdir(req, ino, size, off, 1);
}

/* Every namespace change pifs makes is already on disk in the delta
 * directory: sync the store's file system for the rest. */
static int do_syncfs(void *fs)
{
	return pifs_fs_syncfs(fs);
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	fuse_reply_err(req, -pifsd_uring_blocking(do_syncfs, FS(req)));
}
