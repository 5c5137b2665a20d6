/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ext4.c - the root partition, read with libext2fs: the superblock for
 * the probe (block size, used blocks and inodes; a journal that needs
 * recovery is refused), then, from the scratch, the walk that copies
 * every inode into the golden: directories, regular files (extents, block
 * map or inline data, with holes and unwritten extents left as holes),
 * symlinks, devices, fifos and sockets, hard links, then owner, mode, ns
 * times and xattrs (ACLs converted; pifs's own names left out).  Each
 * file's content digest is computed as it is written, and its blocks are
 * punched out of the scratch once copied.
 */
#include "config.h"

#include <errno.h>
#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "manifest.h"
#include "safeio.h"
#include "util.h"
#include "xattr.h"
#include "internal.h"

static void ext2_init_errors(void)
{
	static int done;

	if (!done) {
		initialize_ext2_error_table();
		done = 1;
	}
}

/* The superblock of the ext4 file system at fd/off: block size, used
 * blocks and inodes; refuses what pifs cannot read. */
int image_ext4_probe(int fd, const char *path, struct pifs_image_layout *lay,
		     char *errbuf, size_t errlen)
{
	char dev[64], opts[64];
	ext2_filsys fs = NULL;
	struct ext2_super_block *sb;
	errcode_t err;

	ext2_init_errors();
	snprintf(dev, sizeof(dev), "/proc/self/fd/%d", fd);
	snprintf(opts, sizeof(opts), "offset=%" PRIu64, lay->root.off);
	err = ext2fs_open2(dev, opts, EXT2_FLAG_64BITS | EXT2_FLAG_SUPER_ONLY,
			   0, 0, unix_io_manager, &fs);
	if (err) {
		pifs_seterr(
		    errbuf, errlen,
		    "cannot read the ext4 file system in partition %d of "
		    "image '%s': %s",
		    lay->root.partno, path, error_message(err));
		return -EINVAL;
	}
	sb = fs->super;
	if (ext2fs_has_feature_journal_needs_recovery(sb)) {
		pifs_seterr(
		    errbuf, errlen,
		    "the ext4 file system in partition %d of image '%s' "
		    "was not cleanly unmounted (its journal needs "
		    "recovery)",
		    lay->root.partno, path);
		ext2fs_close_free(&fs);
		return -EINVAL;
	}
	lay->root_block_size = fs->blocksize;
	lay->root_used =
	    (ext2fs_blocks_count(sb) - ext2fs_free_blocks_count(sb)) *
	    (uint64_t)fs->blocksize;
	lay->root_inodes = sb->s_inodes_count - sb->s_free_inodes_count;
	ext2fs_close_free(&fs);
	return 0;
}

static int ext_fail(struct imp *im, const char *rel, errcode_t err)
{
	pifs_seterr(
	    im->errbuf, im->errlen,
	    "the ext4 file system in image '%s' is corrupt at '%s': %s",
	    im->path, rel, error_message(err));
	return -EIO;
}

static int corrupt(struct imp *im, const char *rel, const char *what)
{
	pifs_seterr(
	    im->errbuf, im->errlen,
	    "the ext4 file system in image '%s' is corrupt at '%s': %s",
	    im->path, rel, what);
	return -EIO;
}

/* ext4 time (seconds, and the extra field when the inode has it). */
static struct timespec ext_time(uint32_t base, uint32_t extra, int has_extra)
{
	struct timespec ts = {.tv_sec = (int32_t)base, .tv_nsec = 0};

	if (has_extra) {
		ts.tv_sec += (time_t)((int64_t)(extra & EXT4_EPOCH_MASK) << 32);
		ts.tv_nsec = (long)(extra >> EXT4_EPOCH_BITS);
		if (ts.tv_nsec > 999999999)
			ts.tv_nsec = 0;
	}
	return ts;
}

static int has_extra(struct imp *im, const struct ext2_inode_large *in,
		     size_t field_end)
{
	return EXT2_INODE_SIZE(im->fs->super) > EXT2_GOOD_OLD_INODE_SIZE &&
	       field_end <=
		   EXT2_GOOD_OLD_INODE_SIZE + (size_t)in->i_extra_isize;
}

struct xattr_set {
	struct ext2_xattr_handle *h;
	struct imp *im;
	int ddir;
	const char *name;
	const char *rel;
	int ret;
};

static int xattr_one(char *name, char *value, size_t len, void *data)
{
	struct xattr_set *x = data;
	void *acl = NULL;
	size_t acl_len = 0;
	errcode_t err;
	int ret;

	/* system.data is how ext4 stores inline data, not an attribute */
	if (!strcmp(name, "system.data"))
		return 0;
	if (pifs_xattr_private(name)) {
		x->im->private_xattrs++;
		return 0;
	}
	/* iterate gives ACLs in ext4's disk format; xattr_get converts them
	 * to the POSIX xattr format setxattr takes */
	if (!strcmp(name, "system.posix_acl_access") ||
	    !strcmp(name, "system.posix_acl_default")) {
		err = ext2fs_xattr_get(x->h, name, &acl, &acl_len);
		if (err) {
			x->ret = ext_fail(x->im, x->rel, err);
			return XATTR_ABORT;
		}
		value = acl;
		len = acl_len;
	}
	ret = pifs_lsetxattr(x->ddir, x->name, name, value, len, 0);
	if (acl)
		ext2fs_free_mem(&acl);
	if (ret < 0) {
		char what[300];

		snprintf(what, sizeof(what), "set xattr '%s' of", name);
		x->ret = image_write_fail(x->im, what, x->rel, ret);
		return XATTR_ABORT;
	}
	return 0;
}

struct inode_xattrs {
	struct imp *im;
	const char *rel;
	ext2_ino_t ino;
};

/* pifs_apply_attrs's xattr step: the inode's, from the image. */
static int inode_xattrs(void *ctx, int ddir, const char *name)
{
	const struct inode_xattrs *ix = ctx;
	struct ext2_xattr_handle *h = NULL;
	struct xattr_set x = {NULL, ix->im, ddir, name, ix->rel, 0};
	errcode_t err;

	/* in holds only the fixed part: xattrs_read reads the whole inode
	 * (in-inode attributes follow i_extra_isize) */
	err = ext2fs_xattrs_open(ix->im->fs, ix->ino, &h);
	if (!err)
		err = ext2fs_xattrs_read(h);
	x.h = h;
	if (!err)
		err = ext2fs_xattrs_iterate(h, xattr_one, &x);
	ext2fs_xattrs_close(&h);
	if (x.ret < 0)
		return x.ret;
	if (err)
		return ext_fail(ix->im, ix->rel, err);
	return 0;
}

/* Owner, mode, times, then xattrs (a capability survives only after the
 * chown), then the mode again if an ACL changed the group bits: all in
 * pifs_apply_attrs. */
static int apply_attrs(struct imp *im, int ddir, const char *name,
		       const char *rel, ext2_ino_t ino,
		       struct ext2_inode_large *in)
{
	struct inode_xattrs ix = {im, rel, ino};
	const char *stage;
	struct stat st = {0};
	int ret;

	st.st_mode = in->i_mode;
	st.st_uid = inode_uid(*in);
	st.st_gid = inode_gid(*in);
	st.st_atim = ext_time(
	    in->i_atime, in->i_atime_extra,
	    has_extra(im, in,
		      offsetof(struct ext2_inode_large, i_atime_extra) + 4));
	st.st_mtim = ext_time(
	    in->i_mtime, in->i_mtime_extra,
	    has_extra(im, in,
		      offsetof(struct ext2_inode_large, i_mtime_extra) + 4));
	ret = pifs_apply_attrs(ddir, name, &st, inode_xattrs, &ix, &stage);
	if (ret < 0 && stage)
		return image_write_fail(im, stage, rel, ret);
	return ret;
}

struct fcopy {
	struct imp *im;
	const char *rel;
	int dfd;
	uint64_t size; /* i_size */
	uint64_t done; /* bytes written (or hashed as a hole) so far */
	uint64_t run_l, run_p, run_n; /* pending run (block-mapped files) */
	int ret;
};

/* Blocks [lblk, +n) of the file at physical block pblk: copy them from the
 * scratch (or leave a hole for an unwritten extent), hash, punch. */
static int put_range(struct fcopy *fc, uint64_t lblk, uint64_t pblk, uint64_t n,
		     int unwritten)
{
	struct imp *im = fc->im;
	uint64_t bs = im->fs->blocksize, loff = lblk * bs, len, x;
	uint64_t src = im->lay.root.off + pblk * bs;
	ssize_t k;
	int ret;

	if (!n || loff >= fc->size)
		return 0;
	if (loff < fc->done)
		return corrupt(im, fc->rel, "overlapping extents");
	if (pblk < im->fs->super->s_first_data_block ||
	    pblk + n > ext2fs_blocks_count(im->fs->super) || pblk + n < pblk)
		return corrupt(im, fc->rel, "block number out of range");
	len = n * bs;
	if (len > fc->size - loff)
		len = fc->size - loff;
	pifs_content_digest_zeros(im->cd, loff - fc->done);
	fc->done = loff;
	if (unwritten) {
		pifs_content_digest_zeros(im->cd, len);
		fc->done += len;
		return 0;
	}
	for (x = 0; x < len; x += (uint64_t)k) {
		size_t want = len - x < CHUNK ? (size_t)(len - x) : CHUNK;

		k = pread(im->scratch, im->buf, want, (off_t)(src + x));
		if (k < 0 && errno == EINTR) {
			k = 0;
			continue;
		}
		if (k < 0)
			return image_write_fail(im, "read the scratch copy for",
						fc->rel, -errno);
		if (k == 0) /* cannot happen: the scratch spans the image */
			return corrupt(im, fc->rel, "data past the image");
		ret = pifs_pwrite_all(fc->dfd, im->buf, (size_t)k,
				      (off_t)(loff + x));
		if (ret < 0)
			return image_write_fail(im, "write", fc->rel, ret);
		pifs_content_digest_update(im->cd, im->buf, (size_t)k);
	}
	fc->done += len;
	if (im->can_punch &&
	    fallocate(im->scratch, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)src, (off_t)(n * bs)) < 0)
		im->can_punch = 0; /* only costs space */
	return 0;
}

static int block_cb(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
		    blk64_t ref_blk, int ref_offset, void *priv)
{
	struct fcopy *fc = priv;

	if (blockcnt < 0)
		return 0;
	if (fc->run_n && (uint64_t)blockcnt == fc->run_l + fc->run_n &&
	    *blocknr == fc->run_p + fc->run_n) {
		fc->run_n++;
		return 0;
	}
	if (fc->run_n &&
	    (fc->ret = put_range(fc, fc->run_l, fc->run_p, fc->run_n, 0)) < 0)
		return BLOCK_ABORT;
	fc->run_l = (uint64_t)blockcnt;
	fc->run_p = *blocknr;
	fc->run_n = 1;
	return 0;
}

static int copy_extents(struct fcopy *fc, ext2_ino_t ino,
			struct ext2_inode_large *in)
{
	struct imp *im = fc->im;
	ext2_extent_handle_t h;
	struct ext2fs_extent ext;
	errcode_t err;
	int op = EXT2_EXTENT_ROOT, ret = 0;

	err = ext2fs_extent_open2(im->fs, ino, (struct ext2_inode *)in, &h);
	if (err)
		return ext_fail(im, fc->rel, err);
	for (;;) {
		err = ext2fs_extent_get(h, op, &ext);
		if (err == EXT2_ET_EXTENT_NO_NEXT ||
		    err == EXT2_ET_NO_CURRENT_NODE)
			break;
		if (err) {
			ret = ext_fail(im, fc->rel, err);
			break;
		}
		op = EXT2_EXTENT_NEXT;
		if (!(ext.e_flags & EXT2_EXTENT_FLAGS_LEAF) ||
		    (ext.e_flags & EXT2_EXTENT_FLAGS_SECOND_VISIT))
			continue;
		ret = put_range(fc, ext.e_lblk, ext.e_pblk, ext.e_len,
				!!(ext.e_flags & EXT2_EXTENT_FLAGS_UNINIT));
		if (ret < 0)
			break;
		if (image_cancelled(im)) {
			ret = -EINTR;
			break;
		}
	}
	ext2fs_extent_free(h);
	return ret;
}

static int copy_regular(struct imp *im, int ddir, const char *name,
			const char *rel, ext2_ino_t ino,
			struct ext2_inode_large *in)
{
	struct fcopy fc = {.im = im, .rel = rel, .size = EXT2_I_SIZE(in)};
	char digest[33];
	struct stat st;
	errcode_t err;
	int ret = 0;

	fc.dfd =
	    openat(ddir, name,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fc.dfd < 0)
		return image_write_fail(im, "create", rel, -errno);
	pifs_content_digest_reset(im->cd);
	if (in->i_flags & EXT4_INLINE_DATA_FL) {
		size_t isz = 0;
		char *data;

		err = ext2fs_inline_data_size(im->fs, ino, &isz);
		if (err) {
			ret = ext_fail(im, rel, err);
			goto out;
		}
		data = malloc(isz + 1);
		if (!data) {
			ret = -ENOMEM;
			goto out;
		}
		err = ext2fs_inline_data_get(
		    im->fs, ino, (struct ext2_inode *)in, data, &isz);
		if (err)
			ret = ext_fail(im, rel, err);
		if (!ret && isz > fc.size)
			isz = (size_t)fc.size;
		if (!ret && (ret = pifs_pwrite_all(fc.dfd, data, isz, 0)) < 0)
			image_write_fail(im, "write", rel, ret);
		if (!ret) {
			pifs_content_digest_update(im->cd, data, isz);
			fc.done = isz;
		}
		free(data);
	} else if (in->i_flags & EXT4_EXTENTS_FL) {
		ret = copy_extents(&fc, ino, in);
	} else {
		err = ext2fs_block_iterate3(
		    im->fs, ino, BLOCK_FLAG_DATA_ONLY | BLOCK_FLAG_READ_ONLY,
		    NULL, block_cb, &fc);
		if (fc.ret < 0)
			ret = fc.ret;
		else if (err)
			ret = ext_fail(im, rel, err);
		else if (fc.run_n)
			ret = put_range(&fc, fc.run_l, fc.run_p, fc.run_n, 0);
	}
	if (ret < 0)
		goto out;
	/* the tail hole, if any */
	pifs_content_digest_zeros(im->cd, fc.size - fc.done);
	if (ftruncate(fc.dfd, (off_t)fc.size) < 0) {
		ret = image_write_fail(im, "write", rel, -errno);
		goto out;
	}
	if (fstat(fc.dfd, &st) < 0) {
		ret = image_write_fail(im, "stat", rel, -errno);
		goto out;
	}
	pifs_content_digest_final(im->cd, digest);
	ret = pifs_kv_add(&im->digests->map, st.st_dev, st.st_ino, digest);
out:
	if (close(fc.dfd) < 0 && ret == 0)
		ret = image_write_fail(im, "write", rel, -errno);
	return ret;
}

static int copy_symlink(struct imp *im, int ddir, const char *name,
			const char *rel, ext2_ino_t ino,
			struct ext2_inode_large *in)
{
	uint64_t size = EXT2_I_SIZE(in);
	size_t got = 0;
	char *target;
	errcode_t err = 0;
	int ret = 0;

	if (size == 0 || size >= PATH_MAX || size >= im->fs->blocksize)
		return corrupt(im, rel, "bad symlink length");
	target = calloc(1, im->fs->blocksize + 1);
	if (!target)
		return -ENOMEM;
	if (in->i_flags & EXT4_INLINE_DATA_FL) {
		got = im->fs->blocksize;
		err = ext2fs_inline_data_get(
		    im->fs, ino, (struct ext2_inode *)in, target, &got);
	} else if (ext2fs_is_fast_symlink((struct ext2_inode *)in)) {
		if (size > sizeof(in->i_block))
			err = EXT2_ET_INODE_CORRUPTED;
		else
			memcpy(target, in->i_block, (size_t)size);
		got = (size_t)size;
	} else {
		ext2_file_t f;
		unsigned int n = 0;

		err = ext2fs_file_open(im->fs, ino, 0, &f);
		if (!err) {
			err = ext2fs_file_read(f, target, (unsigned)size, &n);
			ext2fs_file_close(f);
		}
		got = n;
	}
	if (err) {
		ret = ext_fail(im, rel, err);
		goto out;
	}
	if (got < size || memchr(target, 0, (size_t)size)) {
		ret = corrupt(im, rel, "bad symlink target");
		goto out;
	}
	target[size] = '\0';
	if ((ret = pifs_do_symlink(target, ddir, name)) < 0)
		ret = image_write_fail(im, "create", rel, ret);
out:
	free(target);
	return ret;
}

static int copy_dir(struct imp *im, ext2_ino_t dino, int dfd, const char *rel);

/* Copy the inode ino, named name in ddir (path rel below the root). */
static int copy_inode(struct imp *im, int ddir, const char *name,
		      const char *rel, ext2_ino_t ino)
{
	struct ext2_inode_large in;
	const char *first;
	unsigned maj, min;
	errcode_t err;
	int fd, ret;

	if (ino < EXT2_FIRST_INODE(im->fs->super) && ino != EXT2_ROOT_INO)
		return corrupt(im, rel, "reserved inode in a directory");
	memset(&in, 0, sizeof(in));
	err = ext2fs_read_inode_full(im->fs, ino, (struct ext2_inode *)&in,
				     sizeof(in));
	if (err)
		return ext_fail(im, rel, err);
	if (in.i_flags & EXT4_ENCRYPT_FL)
		return corrupt(im, rel, "encrypted files are not supported");
	if (!LINUX_S_ISDIR(in.i_mode) && in.i_links_count > 1 &&
	    (first = pifs_kv_find(&im->links, ino, 0))) {
		if ((ret = pifs_do_link(im->droot, first, ddir, name, 0)) < 0)
			return image_write_fail(im, "link", rel, ret);
		return 0;
	}
	switch (in.i_mode & LINUX_S_IFMT) {
	case LINUX_S_IFDIR:
		if (pifs_kv_find(&im->dirs, ino, 0))
			return corrupt(im, rel, "directory loop");
		if ((ret = pifs_do_mkdir(ddir, name, 0700)) < 0)
			return image_write_fail(im, "create", rel, ret);
		fd = pifs_openat_beneath(ddir, name,
					 O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
		if (fd < 0)
			return image_write_fail(im, "open", rel, fd);
		ret = pifs_kv_add(&im->dirs, ino, 0, "d");
		if (ret == 0)
			ret = copy_dir(im, ino, fd, rel);
		close(fd);
		break;
	case LINUX_S_IFREG:
		ret = copy_regular(im, ddir, name, rel, ino, &in);
		break;
	case LINUX_S_IFLNK:
		ret = copy_symlink(im, ddir, name, rel, ino, &in);
		break;
	case LINUX_S_IFCHR:
	case LINUX_S_IFBLK:
		/* old (i_block[0]) and new (i_block[1]) encodings, as the
		 * kernel and fuse2fs read them */
		if (in.i_block[0]) {
			maj = (in.i_block[0] >> 8) & 255;
			min = in.i_block[0] & 255;
		} else {
			maj = (in.i_block[1] >> 8) & 4095;
			min = ((in.i_block[1] >> 12) & 0xfff00) |
			      (in.i_block[1] & 255);
		}
		ret = pifs_do_mknod(ddir, name, (in.i_mode & S_IFMT) | 0600,
				    makedev(maj, min));
		if (ret < 0)
			ret = image_write_fail(im, "create", rel, ret);
		break;
	case LINUX_S_IFIFO:
	case LINUX_S_IFSOCK:
		ret = pifs_do_mknod(ddir, name, (in.i_mode & S_IFMT) | 0600, 0);
		if (ret < 0)
			ret = image_write_fail(im, "create", rel, ret);
		break;
	default:
		return corrupt(im, rel, "unknown file type");
	}
	if (ret < 0)
		return ret;
	ret = apply_attrs(im, ddir, name, rel, ino, &in);
	if (ret < 0)
		return ret;
	if (!LINUX_S_ISDIR(in.i_mode) && in.i_links_count > 1) {
		ret = pifs_kv_add(&im->links, ino, 0, rel);
		if (ret < 0)
			return ret;
	}
	im->files_done++;
	pifs_bar_update(&im->bar, im->files_done);
	return image_cancelled(im) ? -EINTR : 0;
}

struct dent {
	char *name;
	ext2_ino_t ino;
};

struct dlist {
	struct dent *e;
	size_t n, cap;
	int bad; /* a name with a NUL or a slash */
};

static int dir_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *de,
		  int offset, int blocksize, char *buf, void *priv)
{
	struct dlist *l = priv;
	int len = ext2fs_dirent_name_len(de);
	char *name;

	if (!de->inode || entry == DIRENT_DOT_FILE ||
	    entry == DIRENT_DOT_DOT_FILE)
		return 0;
	/* an inline-data directory shows its . and .. as other entries */
	if ((len == 1 && de->name[0] == '.') ||
	    (len == 2 && de->name[0] == '.' && de->name[1] == '.'))
		return 0;
	if (len <= 0 || memchr(de->name, 0, (size_t)len) ||
	    memchr(de->name, '/', (size_t)len)) {
		l->bad = 1;
		return DIRENT_ABORT;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct dent *ne = realloc(l->e, cap * sizeof(*ne));

		if (!ne)
			return DIRENT_ABORT;
		l->e = ne;
		l->cap = cap;
	}
	name = strndup(de->name, (size_t)len);
	if (!name)
		return DIRENT_ABORT;
	l->e[l->n].name = name;
	l->e[l->n].ino = de->inode;
	l->n++;
	return 0;
}

/* Copy the entries of ext4 directory dino into dfd (O_PATH). */
static int copy_dir(struct imp *im, ext2_ino_t dino, int dfd, const char *rel)
{
	struct dlist l = {0};
	errcode_t err;
	size_t i;
	char *crel;
	int ret = 0;

	err = ext2fs_dir_iterate2(im->fs, dino, 0, NULL, dir_cb, &l);
	if (l.bad) {
		ret = corrupt(im, rel, "bad file name in directory");
		goto out;
	}
	if (err) {
		ret = ext_fail(im, rel, err);
		goto out;
	}
	if (l.n && !l.e[l.n - 1].name) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		crel = strcmp(rel, ".")
			   ? pifs_strdupf("%s/%s", rel, l.e[i].name)
			   : strdup(l.e[i].name);
		if (!crel) {
			ret = -ENOMEM;
			break;
		}
		if (strlen(l.e[i].name) > NAME_MAX)
			ret = corrupt(im, crel, "name too long");
		else
			ret =
			    copy_inode(im, dfd, l.e[i].name, crel, l.e[i].ino);
		free(crel);
		if (ret < 0)
			break;
	}
out:
	for (i = 0; i < l.n; i++)
		free(l.e[i].name);
	free(l.e);
	return ret;
}

int image_ext4_import(struct imp *im, const char *dname)
{
	struct ext2_inode_large in;
	char dev[64], opts[64];
	errcode_t err;
	int ret;

	ext2_init_errors();
	snprintf(dev, sizeof(dev), "/proc/self/fd/%d", im->scratch);
	snprintf(opts, sizeof(opts), "offset=%" PRIu64, im->lay.root.off);
	err = ext2fs_open2(dev, opts, EXT2_FLAG_64BITS, 0, 0, unix_io_manager,
			   &im->fs);
	if (err) {
		pifs_seterr(
		    im->errbuf, im->errlen,
		    "cannot read the ext4 file system in partition %d of "
		    "image '%s': %s",
		    im->lay.root.partno, im->path, error_message(err));
		im->fs = NULL;
		return -EIO;
	}
	if (ext2fs_has_feature_shared_blocks(im->fs->super))
		im->can_punch = 0; /* a block may belong to two files */
	memset(&in, 0, sizeof(in));
	err = ext2fs_read_inode_full(im->fs, EXT2_ROOT_INO,
				     (struct ext2_inode *)&in, sizeof(in));
	if (err)
		return ext_fail(im, "/", err);
	if (!LINUX_S_ISDIR(in.i_mode))
		return corrupt(im, "/", "the root is not a directory");
	if ((ret = pifs_do_mkdir(im->ddir, dname, 0700)) < 0)
		return image_write_fail(im, "create", "/", ret);
	im->made_tree = 1;
	im->droot = pifs_openat_beneath(im->ddir, dname,
					O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (im->droot < 0)
		return image_write_fail(im, "open", "/", im->droot);
	ret = pifs_kv_add(&im->dirs, EXT2_ROOT_INO, 0, "d");
	if (ret < 0)
		return ret;
	pifs_bar_start(&im->bar, im->bar.fd, "copying root files", "files",
		       im->lay.root_inodes);
	ret = copy_dir(im, EXT2_ROOT_INO, im->droot, ".");
	if (ret == 0)
		im->bar.done =
		    im->bar.total; /* the count includes reserved ones */
	pifs_bar_end(&im->bar);
	if (ret < 0)
		return ret;
	return apply_attrs(im, im->ddir, dname, "/", EXT2_ROOT_INO, &in);
}
