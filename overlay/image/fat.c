/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fat.c - the FAT boot partition: its used size for the probe (from the
 * FAT32 FSInfo sector), and its files, copied by mtools' mcopy from the
 * scratch into boot/firmware/ of the root (Debian has no maintained FAT
 * reading library), shown as Raspberry Pi OS's vfat mount shows them:
 * owned by root, 0755, with the ext4 directory's times.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "safeio.h"
#include "util.h"
#include "internal.h"

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
		pifs_seterr(im->errbuf, im->errlen,
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
		pifs_seterr(
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
	ret = pifs_chmod_beneath(fd, de->d_name, 0755);
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
	if ((ret = pifs_do_mkdir(dirfd, name, 0755)) < 0)
		return ret;
	*created = 1;
	if (fchownat(dirfd, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 ||
	    pifs_chmod_beneath(dirfd, name, 0755) < 0)
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
			pifs_seterr(
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
			pifs_seterr(
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
