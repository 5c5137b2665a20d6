/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * import.c - import a Raspberry Pi OS disk image (.img, .img.xz, .img.gz)
 * into a golden tree without a loop device or a mount: the streamed
 * reader, the probe (libblkid: partition table and file system types;
 * libext2fs: the ext4 superblock), the one streaming pass, the ext4 walk
 * (libext2fs) and the FAT boot partition (mtools).
 *
 * Design.  libext2fs and mtools need random access to their partition,
 * and an .xz or .gz stream has none: seeking backwards means decoding
 * again from the start (or from the last xz block, which only
 * multi-threaded xz writes; gzip has no index at all).  So the image is
 * read once, front to back, and the two partitions' *non-zero* blocks are
 * written at their image offsets into a sparse scratch file beside the
 * golden being built (STORE/goldens/.tmp-X/.image-scratch): free space in
 * the partitions, zero in a Raspberry Pi OS image, costs nothing, and no
 * full-size .img ever exists.  libext2fs (unix_io, "offset=") and mcopy
 * ("-i FILE@@OFFSET") then read their partition from the scratch.  Each
 * regular file's extents are punched out of the scratch as soon as they
 * are copied into the golden, so the scratch shrinks as the golden grows
 * and the disk space needed is about the image's used space, not twice
 * it.  Considered and not chosen: an io_manager decoding the xz stream
 * on demand through its block index (no index in single-threaded xz or
 * any gzip, and libext2fs's scattered metadata reads would decode most of
 * the image many times over); reading ext4 in on-disk order (data blocks
 * come before the directory and extent blocks that say whose they are, so
 * it still needs a spill file, plus a hand-written ext4 parser where
 * libext2fs is the maintained one).
 *
 * Free space must be checked before anything is written, and the ext4
 * superblock (which says how much is used) lies past the boot partition:
 * the probe decodes the image up to that superblock, keeping only the
 * partition table and the first 64 KiB of each partition (in a memfd for
 * libblkid), and the streaming pass starts again from the beginning.
 * That first part of a Raspberry Pi OS image is mostly the boot
 * partition's free space, zeros, which decode fast.
 *
 * Content digests for the manifest are computed while each ext4 file is
 * written (pifs_manifest_build_known takes them), so the golden's data is
 * not read a second time; only the boot partition's files (tens of MB,
 * written by mcopy) are read back to hash them.
 *
 * Memory is bounded by the file count, not the image size: one 1 MiB
 * buffer, the decoder (xz: its dictionary, 8 MiB for -6; the threaded
 * decoder buffers one block per thread within a fixed limit), a map of
 * hard-linked inodes and one digest per regular file.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "manifest.h"
#include "safeio.h"
#include "util.h"
#include "xattr.h"
#include "internal.h"

#define ZERO_GRAIN 4096 /* zero blocks are not written */
#define SCRATCH	   ".image-scratch"

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
		image_seterr(
		    errbuf, errlen,
		    "cannot read the ext4 file system in partition %d of "
		    "image '%s': %s",
		    lay->root.partno, path, error_message(err));
		return -EINVAL;
	}
	sb = fs->super;
	if (ext2fs_has_feature_journal_needs_recovery(sb)) {
		image_seterr(
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
	image_seterr(
	    im->errbuf, im->errlen,
	    "the ext4 file system in image '%s' is corrupt at '%s': %s",
	    im->path, rel, error_message(err));
	return -EIO;
}

static int corrupt(struct imp *im, const char *rel, const char *what)
{
	image_seterr(
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

/* Owner, mode, times, then xattrs (a capability survives only after the
 * chown), then the mode again if an ACL changed the group bits. */
static int apply_attrs(struct imp *im, int ddir, const char *name,
		       const char *rel, ext2_ino_t ino,
		       struct ext2_inode_large *in)
{
	struct ext2_xattr_handle *h = NULL;
	struct xattr_set x = {NULL, im, ddir, name, rel, 0};
	struct stat st = {0}, cur;
	errcode_t err;
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
	ret = pifs_set_attrs(ddir, name, &st);
	if (ret < 0)
		return image_write_fail(im, "set attributes of", rel, ret);
	/* in holds only the fixed part: xattrs_read reads the whole inode
	 * (in-inode attributes follow i_extra_isize) */
	err = ext2fs_xattrs_open(im->fs, ino, &h);
	if (!err)
		err = ext2fs_xattrs_read(h);
	x.h = h;
	if (!err)
		err = ext2fs_xattrs_iterate(h, xattr_one, &x);
	ext2fs_xattrs_close(&h);
	if (x.ret < 0)
		return x.ret;
	if (err)
		return ext_fail(im, rel, err);
	if (LINUX_S_ISLNK(in->i_mode))
		return 0;
	if (fstatat(ddir, name, &cur, AT_SYMLINK_NOFOLLOW) < 0)
		return image_write_fail(im, "stat", rel, -errno);
	if ((cur.st_mode & 07777) != (st.st_mode & 07777)) {
		ret = image_chmod_entry(ddir, name, st.st_mode);
		if (ret < 0)
			return image_write_fail(im, "set the mode of", rel,
						ret);
	}
	return 0;
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
	if (symlinkat(target, ddir, name) < 0)
		ret = image_write_fail(im, "create", rel, -errno);
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
		if (linkat(im->droot, first, ddir, name, 0) < 0)
			return image_write_fail(im, "link", rel, -errno);
		return 0;
	}
	switch (in.i_mode & LINUX_S_IFMT) {
	case LINUX_S_IFDIR:
		if (pifs_kv_find(&im->dirs, ino, 0))
			return corrupt(im, rel, "directory loop");
		if (mkdirat(ddir, name, 0700) < 0)
			return image_write_fail(im, "create", rel, -errno);
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
		ret = mknodat(ddir, name, (in.i_mode & S_IFMT) | 0600,
			      makedev(maj, min)) < 0
			  ? image_write_fail(im, "create", rel, -errno)
			  : 0;
		break;
	case LINUX_S_IFIFO:
	case LINUX_S_IFSOCK:
		ret = mknodat(ddir, name, (in.i_mode & S_IFMT) | 0600, 0) < 0
			  ? image_write_fail(im, "create", rel, -errno)
			  : 0;
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
	image_bar_update(&im->bar, im->files_done);
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
		image_seterr(
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
	if (mkdirat(im->ddir, dname, 0700) < 0)
		return image_write_fail(im, "create", "/", -errno);
	im->made_tree = 1;
	im->droot = pifs_openat_beneath(im->ddir, dname,
					O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (im->droot < 0)
		return image_write_fail(im, "open", "/", im->droot);
	ret = pifs_kv_add(&im->dirs, EXT2_ROOT_INO, 0, "d");
	if (ret < 0)
		return ret;
	im->bar.what = "copying root files";
	im->bar.unit = "files";
	im->bar.total = im->lay.root_inodes;
	ret = copy_dir(im, EXT2_ROOT_INO, im->droot, ".");
	if (ret == 0)
		im->bar.done =
		    im->bar.total; /* the count includes reserved ones */
	image_bar_end(&im->bar);
	if (ret < 0)
		return ret;
	return apply_attrs(im, im->ddir, dname, "/", EXT2_ROOT_INO, &in);
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Bytes in use in the FAT file system at fd/off (of size part_size): from
 * the FAT32 FSInfo free-cluster count when it is there and plausible,
 * else the partition size. */
uint64_t image_fat_used(int fd, uint64_t off, uint64_t part_size)
{
	unsigned char bs[512], fsi[512];
	uint32_t bps, spc, total, fatsz, rsvd, nfats, clusters, freec, data;

	if (pread(fd, bs, sizeof(bs), (off_t)off) != sizeof(bs))
		return part_size;
	bps = le16(bs + 11);
	spc = bs[13];
	rsvd = le16(bs + 14);
	nfats = bs[16];
	total = le16(bs + 19) ? le16(bs + 19) : le32(bs + 32);
	fatsz = le16(bs + 22) ? le16(bs + 22) : le32(bs + 36);
	if (le16(bs + 22) || bps < 512 || bps > 4096 || !spc || !nfats)
		return part_size; /* FAT12/16 or not sane: no FSInfo */
	data = rsvd + nfats * fatsz;
	if (total <= data)
		return part_size;
	clusters = (total - data) / spc;
	if (pread(fd, fsi, sizeof(fsi),
		  (off_t)(off + (uint64_t)le16(bs + 48) * bps)) !=
		sizeof(fsi) ||
	    le32(fsi) != 0x41615252 || le32(fsi + 484) != 0x61417272)
		return part_size;
	freec = le32(fsi + 488);
	if (freec > clusters)
		return part_size; /* 0xffffffff: unknown */
	return ((uint64_t)data + (uint64_t)(clusters - freec) * spc) * bps;
}

/* Run mcopy to copy the whole FAT at the scratch's boot offset into the
 * directory dfd (O_PATH).  Its stderr's last line goes into the error. */
static int run_mcopy(struct imp *im, int dfd)
{
	char img[64], dst[64], errtext[4096] = "", *last, *nl;
	/* writable copies: exec takes char *const[] */
	char a0[] = "mcopy", a1[] = "-s", a2[] = "-p", a3[] = "-m", a4[] = "-n",
	     a5[] = "-Q", a6[] = "-i", a8[] = "::/";
	char *argv[] = {a0, a1, a2, a3, a4, a5, a6, img, a8, dst, NULL};
	char e1[] = "TZ=UTC0", e2[] = "LC_ALL=C.UTF-8",
	     e3[] = "MTOOLS_SKIP_CHECK=1", e4[] = "MTOOLSRC=/dev/null",
	     e5[] = "HOME=/nonexistent";
	char *envp[8];
	char envpath[PATH_MAX + 8];
	const char *path = getenv("PATH");
	posix_spawn_file_actions_t fa;
	int sfd = -1, ofd = -1, pipefd[2] = {-1, -1}, status, ret = 0;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	/* descriptors the child inherits: the scratch and the target dir */
	sfd = fcntl(im->scratch, F_DUPFD, 10);
	ofd = fcntl(dfd, F_DUPFD, 10);
	if (sfd < 0 || ofd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out;
	}
	snprintf(img, sizeof(img), "/proc/self/fd/%d@@%" PRIu64, sfd,
		 im->lay.boot.off);
	snprintf(dst, sizeof(dst), "/proc/self/fd/%d/", ofd);
	snprintf(envpath, sizeof(envpath), "PATH=%s",
		 path && *path ? path : "/usr/bin:/bin");
	envp[0] = envpath;
	envp[1] = e1; /* FAT times are local: a Pi runs in UTC */
	envp[2] = e2; /* long names as UTF-8 */
	envp[3] = e3;
	envp[4] = e4;
	envp[5] = e5;
	envp[6] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	ret = posix_spawnp(&pid, "mcopy", &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	pipefd[1] = -1;
	if (ret) {
		image_seterr(im->errbuf, im->errlen,
			     "cannot run mcopy for the boot partition of image "
			     "'%s': %s (install mtools)",
			     im->path, strerror(ret));
		ret = -ret;
		goto out;
	}
	for (;;) {
		n = read(pipefd[0], errtext + got, sizeof(errtext) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(errtext) - 1)
			got = 0; /* keep the end, roughly */
	}
	errtext[got] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			ret = -errno;
			goto out;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		while (got && errtext[got - 1] == '\n')
			errtext[--got] = '\0';
		last = strrchr(errtext, '\n');
		last = last ? last + 1 : errtext;
		if ((nl = strchr(last, '\n')))
			*nl = '\0';
		image_seterr(
		    im->errbuf, im->errlen,
		    "cannot copy the FAT boot partition of image '%s': "
		    "mcopy %s%s%s",
		    im->path, WIFEXITED(status) ? "failed" : "was killed",
		    *last ? ": " : "", last);
		ret = -EIO;
	}
out:
	if (sfd >= 0)
		close(sfd);
	if (ofd >= 0)
		close(ofd);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return ret;
}

/* What a Raspberry Pi OS vfat mount (defaults: umask 022) shows: root
 * owns everything, directories and files are 0755. */
static int fat_normalize(int fd, const struct dirent *de, void *arg)
{
	struct imp *im = arg;
	struct stat st;
	int cfd, ret;

	if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return -EINVAL; /* mcopy makes nothing else */
	if (fchownat(fd, de->d_name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	ret = image_chmod_entry(fd, de->d_name, 0755);
	if (ret < 0 || !S_ISDIR(st.st_mode))
		return ret;
	cfd = pifs_openat_beneath(fd, de->d_name,
				  O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (cfd < 0)
		return cfd;
	ret = pifs_dir_foreach(cfd, fat_normalize, im);
	close(cfd);
	return ret;
}

/* Make dirfd/name a directory if it is not one (root, 0755), keeping the
 * parent's times; *created says whether it did. */
static int ensure_dir(int dirfd, const char *name, int *created)
{
	struct stat pst, st;
	struct timespec ts[2];
	int ret;

	*created = 0;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (errno != ENOENT)
		return -errno;
	ret = pifs_fstat(dirfd, &pst);
	if (ret < 0)
		return ret;
	if (mkdirat(dirfd, name, 0755) < 0)
		return -errno;
	*created = 1;
	if (fchownat(dirfd, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 ||
	    image_chmod_entry(dirfd, name, 0755) < 0)
		return -errno;
	ts[0] = pst.st_atim;
	ts[1] = pst.st_mtim;
	{
		char p[32];

		if (utimensat(AT_FDCWD, pifs_fd_path(dirfd, p, sizeof(p)), ts,
			      0) < 0)
			return -errno;
	}
	return 0;
}

static int any_entry(int fd, const struct dirent *de, void *arg)
{
	return 1;
}

int image_fat_import(struct imp *im)
{
	struct timespec ts[2];
	struct stat st;
	int bootfd = -1, fwfd = -1, created, ret;
	char p[32];
	int w = im->opts && im->opts->warn;

	ret = ensure_dir(im->droot, "boot", &created);
	if (ret == 0) {
		bootfd = pifs_openat_beneath(
		    im->droot, "boot", O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
		ret = bootfd < 0 ? bootfd : 0;
	}
	if (ret == 0)
		ret = ensure_dir(bootfd, "firmware", &created);
	if (ret < 0) {
		if (ret == -ENOTDIR)
			image_seterr(
			    im->errbuf, im->errlen,
			    "'boot/firmware' in the root partition of image "
			    "'%s' is not a directory",
			    im->path);
		else
			image_write_fail(im, "create", "boot/firmware", ret);
		goto out;
	}
	if (created && w)
		pifs_warn("the root partition of image '%s' has no "
			  "boot/firmware directory (not Raspberry Pi OS "
			  "bookworm or later?): the boot partition is put "
			  "there anyway",
			  im->path);
	fwfd = pifs_openat_beneath(bootfd, "firmware",
				   O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fwfd < 0) {
		ret = image_write_fail(im, "open", "boot/firmware", fwfd);
		goto out;
	}
	ret = pifs_dir_foreach(fwfd, any_entry, NULL);
	if (ret != 0) {
		if (ret > 0) {
			image_seterr(
			    im->errbuf, im->errlen,
			    "'boot/firmware' in the root partition of image "
			    "'%s' is not empty: the boot partition is "
			    "mounted there",
			    im->path);
			ret = -ENOTEMPTY;
		} else {
			image_write_fail(im, "read", "boot/firmware", ret);
		}
		goto out;
	}
	ret = pifs_fstat(fwfd, &st);
	if (ret < 0)
		goto out;
	ret = run_mcopy(im, fwfd);
	if (ret < 0)
		goto out;
	ret = pifs_dir_foreach(fwfd, fat_normalize, im);
	if (ret < 0) {
		image_write_fail(im, "set attributes in", "boot/firmware", ret);
		goto out;
	}
	/* the mount point shows the FAT root: root, 0755; the FAT root has
	 * no times of its own, so the ext4 directory's are kept */
	if (fchown(fwfd, 0, 0) < 0 || fchmod(fwfd, 0755) < 0) {
		ret = image_write_fail(im, "set attributes of", "boot/firmware",
				       -errno);
		goto out;
	}
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (utimensat(AT_FDCWD, pifs_fd_path(fwfd, p, sizeof(p)), ts, 0) < 0) {
		ret = image_write_fail(im, "set times of", "boot/firmware",
				       -errno);
		goto out;
	}
	/* Raspberry Pi shape: the firmware a Pi 3 boot ROM asks for */
	if (w) {
		int nb = fstatat(fwfd, "bootcode.bin", &st,
				 AT_SYMLINK_NOFOLLOW) < 0 ||
			 !S_ISREG(st.st_mode);
		int ns =
		    fstatat(fwfd, "start.elf", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode);

		if (nb || ns)
			pifs_warn("image '%s' does not look like "
				  "Raspberry Pi OS: its boot partition has no "
				  "%s%s%s",
				  im->path, nb ? "bootcode.bin" : "",
				  nb && ns ? " and no " : "",
				  ns ? "start.elf" : "");
	}
	ret = 0;
out:
	if (fwfd >= 0)
		close(fwfd);
	if (bootfd >= 0)
		close(bootfd);
	return ret;
}

int pifs_image_digest_known(const struct stat *st, char digest[33], void *arg)
{
	struct pifs_image_digests *d = arg;
	const char *v =
	    d ? pifs_kv_find(&d->map, st->st_dev, st->st_ino) : NULL;

	if (!v)
		return 0;
	memcpy(digest, v, 33);
	return 1;
}

void pifs_image_digests_free(struct pifs_image_digests *d)
{
	if (!d)
		return;
	pifs_kv_free(&d->map);
	free(d);
}

int image_cancelled(struct imp *im)
{
	if (im->opts && im->opts->cancel && *im->opts->cancel) {
		image_seterr(im->errbuf, im->errlen,
			     "import of image '%s' interrupted", im->path);
		return 1;
	}
	return 0;
}

int image_write_fail(struct imp *im, const char *what, const char *rel, int err)
{
	image_seterr(im->errbuf, im->errlen,
		     "cannot %s '%s' from image '%s': %s", what, rel, im->path,
		     strerror(-err));
	return err;
}

static int is_zero(const char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

/* Write the non-zero ZERO_GRAIN pieces of buf (image offset off). */
static int write_nonzero(struct imp *im, const char *buf, size_t len,
			 uint64_t off)
{
	size_t i = 0, start, piece;
	int ret;

	while (i < len) {
		piece = ZERO_GRAIN - (size_t)((off + i) % ZERO_GRAIN);
		if (piece > len - i)
			piece = len - i;
		if (is_zero(buf + i, piece)) {
			i += piece;
			continue;
		}
		start = i;
		for (i += piece; i < len; i += piece) {
			piece = ZERO_GRAIN;
			if (piece > len - i)
				piece = len - i;
			if (is_zero(buf + i, piece))
				break;
		}
		ret = pifs_pwrite_all(im->scratch, buf + start, i - start,
				      (off_t)(off + start));
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The streaming pass: both partitions' non-zero blocks into the scratch,
 * then the rest of a compressed stream read through, so its checksums are
 * verified. */
static int stream_pass(struct imp *im)
{
	struct pifs_image_part regions[2];
	struct pifs_image_reader *r = NULL;
	int i, ret;
	ssize_t n;

	regions[0] = im->lay.boot;
	regions[1] = im->lay.root;
	qsort(regions, 2, sizeof(regions[0]), image_part_cmp);
	ret = pifs_image_reader_open(&r, im->path);
	if (ret < 0) {
		image_seterr(im->errbuf, im->errlen,
			     "cannot open image '%s': %s", im->path,
			     image_reader_open_error(r, ret));
		goto out;
	}
	im->bar.what = "reading image";
	im->bar.unit = NULL;
	im->bar.total = pifs_image_reader_file_size(r);
	for (i = 0; i < 2; i++) {
		uint64_t end = regions[i].off + regions[i].size, pos;

		pos = pifs_image_reader_pos(r);
		if (pos < regions[i].off) {
			ret = pifs_image_reader_skip(r, regions[i].off - pos);
			if (ret < 0)
				goto out_reader;
		}
		while ((pos = pifs_image_reader_pos(r)) < end) {
			size_t want =
			    end - pos < CHUNK ? (size_t)(end - pos) : CHUNK;

			if (image_cancelled(im)) {
				ret = -EINTR;
				goto out;
			}
			n = pifs_image_reader_read(r, im->buf, want);
			if (n < 0) {
				ret = (int)n;
				goto out_reader;
			}
			if (n == 0) {
				ret = -ENODATA;
				goto out_reader;
			}
			ret = write_nonzero(im, im->buf, (size_t)n, pos);
			if (ret < 0) {
				image_seterr(
				    im->errbuf, im->errlen,
				    "cannot write the scratch copy of image "
				    "'%s': %s",
				    im->path, strerror(-ret));
				goto out;
			}
			image_bar_update(&im->bar,
					 pifs_image_reader_consumed(r));
		}
	}
	if (pifs_image_reader_format(r) != PIFS_IMAGE_RAW) {
		while ((n = pifs_image_reader_read(r, im->buf, CHUNK)) > 0) {
			if (image_cancelled(im)) {
				ret = -EINTR;
				goto out;
			}
			image_bar_update(&im->bar,
					 pifs_image_reader_consumed(r));
		}
		if (n < 0) {
			ret = (int)n;
			goto out_reader;
		}
	}
	image_bar_update(&im->bar, pifs_image_reader_consumed(r));
	image_bar_end(&im->bar);
	/* every offset inside the partitions reads (zeros past the data) */
	if (ftruncate(im->scratch, (off_t)im->lay.end) < 0) {
		ret = -errno;
		image_seterr(im->errbuf, im->errlen,
			     "cannot write the scratch copy of image '%s': %s",
			     im->path, strerror(-ret));
	}
	goto out;
out_reader:
	image_bar_end(&im->bar);
	image_reader_error(r, im->path, ret, im->errbuf, im->errlen);
out:
	image_bar_end(&im->bar);
	pifs_image_reader_free(r);
	return ret;
}

int pifs_image_import(const char *path, int ddir, const char *dname,
		      const struct pifs_image_opts *opts,
		      struct pifs_image_digests **digests, char *errbuf,
		      size_t errlen)
{
	struct imp im = {.path = path,
			 .opts = opts,
			 .ddir = ddir,
			 .scratch = -1,
			 .droot = -1,
			 .errbuf = errbuf,
			 .errlen = errlen};
	struct statvfs vfs;
	uint64_t need, need_inodes, avail;
	char h1[32], h2[32];
	int ret;

	*digests = NULL;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	im.bar.fd = opts ? opts->bar_fd : -1;
	ret = pifs_check_name(dname);
	if (ret < 0)
		return ret;
	ret = pifs_image_probe(path, &im.lay, errbuf, errlen);
	if (ret < 0)
		return ret;
	im.buf = malloc(CHUNK);
	im.digests = calloc(1, sizeof(*im.digests));
	if (!im.buf || !im.digests || pifs_content_digest_new(&im.cd) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	im.scratch =
	    openat(ddir, SCRATCH,
		   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (im.scratch < 0) {
		ret = -errno;
		image_seterr(errbuf, errlen,
			     "cannot create a scratch file for image "
			     "'%s': %s",
			     path, strerror(-ret));
		goto out;
	}
	im.can_punch =
	    fallocate(im.scratch, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      65536) == 0;

	/* before anything is written */
	pifs_image_space_needed(&im.lay, im.can_punch, &need, &need_inodes);
	if (fstatvfs(im.scratch, &vfs) < 0) {
		ret = -errno;
		image_seterr(errbuf, errlen, "cannot check free space: %s",
			     strerror(-ret));
		goto out;
	}
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < need) {
		image_seterr(
		    errbuf, errlen,
		    "not enough space to import image '%s': it needs %s, "
		    "%s is free",
		    path, pifs_image_human(need, h1, sizeof(h1)),
		    pifs_image_human(avail, h2, sizeof(h2)));
		ret = -ENOSPC;
		goto out;
	}
	if (vfs.f_files && vfs.f_favail < need_inodes) {
		image_seterr(errbuf, errlen,
			     "not enough inodes to import image '%s': it needs "
			     "%" PRIu64 ", %llu are free",
			     path, need_inodes,
			     (unsigned long long)vfs.f_favail);
		ret = -ENOSPC;
		goto out;
	}

	ret = stream_pass(&im);
	if (ret < 0)
		goto out;
	ret = image_ext4_import(&im, dname);
	if (ret < 0)
		goto out;
	ret = image_fat_import(&im);
	if (ret < 0)
		goto out;
	if (im.private_xattrs && opts && opts->warn)
		pifs_warn("image '%s': %lu trusted.overlay.*/trusted.pifs.* "
			  "attributes left out (pifs's own)",
			  path, im.private_xattrs);
	*digests = im.digests;
	im.digests = NULL;
	ret = 0;
out:
	if (ret == -ENOMEM)
		image_seterr(errbuf, errlen,
			     "out of memory importing image '%s'", path);
	else if (ret < 0)
		image_seterr(errbuf, errlen, "cannot import image '%s': %s",
			     path, strerror(-ret));
	if (im.fs)
		ext2fs_close_free(&im.fs);
	if (im.droot >= 0)
		close(im.droot);
	if (im.scratch >= 0) {
		close(im.scratch);
		unlinkat(ddir, SCRATCH, 0);
	}
	if (ret < 0 && im.made_tree)
		pifs_remove_tree(ddir, dname);
	pifs_kv_free(&im.links);
	pifs_kv_free(&im.dirs);
	pifs_image_digests_free(im.digests);
	pifs_content_digest_free(im.cd);
	free(im.buf);
	return ret;
}
