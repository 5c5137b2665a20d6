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
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "manifest.h"
#include "safeio.h"
#include "util.h"
#include "internal.h"

#define ZERO_GRAIN 4096 /* zero blocks are not written */
#define SCRATCH	   ".image-scratch"

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
