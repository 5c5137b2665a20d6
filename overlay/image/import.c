/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * import.c - import a Raspberry Pi OS disk image (.img, .img.xz, .img.gz)
 * into a golden tree without a loop device or a mount: pifs_image_import
 * runs the probe (probe.c), checks the free space, makes the one
 * streaming pass into the scratch, then has ext4.c copy the root and
 * fat.c the boot partition; it owns the scratch, the content digests and
 * the cleanup of a failed import.  The streamed reader is reader.c.
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

#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "image.h"
#include "manifest.h"
#include "safeio.h"
#include "util.h"
#include "internal.h"

#define ZERO_GRAIN 4096 /* zero blocks are not written */
#define SCRATCH	   ".image-scratch"

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
		pifs_seterr(im->errbuf, im->errlen,
			    "import of image '%s' interrupted", im->path);
		return 1;
	}
	return 0;
}

int image_write_fail(struct imp *im, const char *what, const char *rel, int err)
{
	pifs_seterr(im->errbuf, im->errlen,
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
		pifs_seterr(im->errbuf, im->errlen,
			    "cannot open image '%s': %s", im->path,
			    image_reader_open_error(r, ret));
		goto out;
	}
	pifs_bar_start(&im->bar, im->bar.fd, "reading image", NULL,
		       pifs_image_reader_file_size(r));
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
				pifs_seterr(
				    im->errbuf, im->errlen,
				    "cannot write the scratch copy of image "
				    "'%s': %s",
				    im->path, strerror(-ret));
				goto out;
			}
			pifs_bar_update(&im->bar,
					 pifs_image_reader_consumed(r));
		}
	}
	if (pifs_image_reader_format(r) != PIFS_IMAGE_RAW) {
		while ((n = pifs_image_reader_read(r, im->buf, CHUNK)) > 0) {
			if (image_cancelled(im)) {
				ret = -EINTR;
				goto out;
			}
			pifs_bar_update(&im->bar,
					 pifs_image_reader_consumed(r));
		}
		if (n < 0) {
			ret = (int)n;
			goto out_reader;
		}
	}
	pifs_bar_update(&im->bar, pifs_image_reader_consumed(r));
	pifs_bar_end(&im->bar);
	/* every offset inside the partitions reads (zeros past the data) */
	if (ftruncate(im->scratch, (off_t)im->lay.end) < 0) {
		ret = -errno;
		pifs_seterr(im->errbuf, im->errlen,
			    "cannot write the scratch copy of image '%s': %s",
			    im->path, strerror(-ret));
	}
	goto out;
out_reader:
	pifs_bar_end(&im->bar);
	image_reader_error(r, im->path, ret, im->errbuf, im->errlen);
out:
	pifs_bar_end(&im->bar);
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
	pifs_errclear(errbuf, errlen);
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
		pifs_seterr(errbuf, errlen,
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
		pifs_seterr(errbuf, errlen, "cannot check free space: %s",
			    strerror(-ret));
		goto out;
	}
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < need) {
		pifs_seterr(
		    errbuf, errlen,
		    "not enough space to import image '%s': it needs %s, "
		    "%s is free",
		    path, pifs_human(need, h1),
		    pifs_human(avail, h2));
		ret = -ENOSPC;
		goto out;
	}
	if (vfs.f_files && vfs.f_favail < need_inodes) {
		pifs_seterr(errbuf, errlen,
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
		pifs_seterr(errbuf, errlen,
			    "out of memory importing image '%s'", path);
	else if (ret < 0)
		pifs_seterr(errbuf, errlen, "cannot import image '%s': %s",
			    path, strerror(-ret));
	if (im.fs)
		ext2fs_close_free(&im.fs);
	if (im.droot >= 0)
		close(im.droot);
	if (im.scratch >= 0) {
		close(im.scratch);
		pifs_do_unlink(ddir, SCRATCH, 0);
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
