/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * eioshim.c - an LD_PRELOAD library that makes reads and writes of files
 * under one directory fail with EIO, as a failing disk would, while a
 * control file says so (t-store-eio.sh: pifsd and the pifs CLI over a
 * store whose disk goes bad).
 *
 *   PIFS_EIO_DIR=/path/to/store PIFS_EIO_CTL=/path/to/ctl \
 *   LD_PRELOAD=tests/tools/.libs/eioshim.so pifsd ...
 *
 * While PIFS_EIO_CTL exists, its first line says what fails: "r" (reads),
 * "w" (writes, fsync and fallocate), "rw" (both); an optional path suffix
 * after a space narrows it to files whose path contains that text
 * ("r kernel8.img").  Reads are read, pread, readv, preadv, and the file
 * side of copy_file_range, sendfile and splice; writes are write, pwrite,
 * writev, pwritev, the other side of those, fsync, fdatasync and
 * fallocate.  A file counts as under PIFS_EIO_DIR by its path as
 * /proc/self/fd shows it (so a file renamed out of the directory is no
 * longer hit).  Every injected error is counted in PIFS_EIO_CTL.hits
 * (one line per error: "r|w PATH"), so the test can tell its fault was
 * really met.  Without the control file every call goes straight
 * through, at the cost of one access(2).
 *
 * io_uring requests are not seen here: run pifsd with -o uring=off.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

enum { FAIL_R = 1, FAIL_W = 2 };

/* What fails for fd now: a FAIL_ mask, 0 for nothing. */
static int failing(int fd, int kind)
{
	static const char *dir, *ctl;
	char link[64], path[4096], line[512], hits[4200], *sub;
	size_t dlen;
	ssize_t n;
	int mask = 0, saved = errno, cfd;

	if (!dir) {
		dir = getenv("PIFS_EIO_DIR");
		ctl = getenv("PIFS_EIO_CTL");
		if (!dir || !ctl)
			dir = ctl = "";
	}
	if (!*dir || fd < 0 || access(ctl, F_OK) != 0)
		goto out;
	cfd = open(ctl, O_RDONLY | O_CLOEXEC);
	if (cfd < 0)
		goto out;
	/* Raw system calls here: the wrappers below are ours. */
	n = syscall(SYS_pread64, cfd, line, sizeof(line) - 1, (off_t)0);
	close(cfd);
	if (n <= 0)
		goto out;
	line[n] = 0;
	line[strcspn(line, "\n")] = 0;
	sub = strchr(line, ' ');
	if (sub)
		*sub++ = 0;
	if (strchr(line, 'r'))
		mask |= FAIL_R;
	if (strchr(line, 'w'))
		mask |= FAIL_W;
	if (!(mask & kind))
		goto none;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		goto none;
	path[n] = 0;
	dlen = strlen(dir);
	if (strncmp(path, dir, dlen) != 0 ||
	    (path[dlen] != '/' && path[dlen] != 0) ||
	    (sub && *sub && !strstr(path, sub)))
		goto none;
	snprintf(hits, sizeof(hits), "%s.hits", ctl);
	cfd = open(hits, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (cfd >= 0) {
		n = snprintf(hits, sizeof(hits), "%c %s\n",
			     kind == FAIL_R ? 'r' : 'w', path);
		if (n > 0 && syscall(SYS_write, cfd, hits, (size_t)n) < 0)
			n = 0;
		close(cfd);
	}
	errno = saved;
	return 1;
none:
	mask = 0;
out:
	errno = saved;
	return mask;
}

#define NEXT(name)                                                     \
	static __typeof__(name) *next_##name;                          \
	if (!next_##name)                                              \
		next_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

#define EIO_IF(fd, kind)                                               \
	do {                                                           \
		if (failing(fd, kind)) {                               \
			errno = EIO;                                   \
			return -1;                                     \
		}                                                      \
	} while (0)

ssize_t read(int fd, void *buf, size_t len)
{
	NEXT(read);
	EIO_IF(fd, FAIL_R);
	return next_read(fd, buf, len);
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	NEXT(pread);
	EIO_IF(fd, FAIL_R);
	return next_pread(fd, buf, len, off);
}

ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	NEXT(pread64);
	EIO_IF(fd, FAIL_R);
	return next_pread64(fd, buf, len, off);
}

ssize_t readv(int fd, const struct iovec *iov, int n)
{
	NEXT(readv);
	EIO_IF(fd, FAIL_R);
	return next_readv(fd, iov, n);
}

ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	NEXT(preadv);
	EIO_IF(fd, FAIL_R);
	return next_preadv(fd, iov, n, off);
}

ssize_t preadv64(int fd, const struct iovec *iov, int n, off_t off)
{
	NEXT(preadv64);
	EIO_IF(fd, FAIL_R);
	return next_preadv64(fd, iov, n, off);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	NEXT(write);
	EIO_IF(fd, FAIL_W);
	return next_write(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	NEXT(pwrite);
	EIO_IF(fd, FAIL_W);
	return next_pwrite(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	NEXT(pwrite64);
	EIO_IF(fd, FAIL_W);
	return next_pwrite64(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	NEXT(writev);
	EIO_IF(fd, FAIL_W);
	return next_writev(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	NEXT(pwritev);
	EIO_IF(fd, FAIL_W);
	return next_pwritev(fd, iov, n, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int n, off_t off)
{
	NEXT(pwritev64);
	EIO_IF(fd, FAIL_W);
	return next_pwritev64(fd, iov, n, off);
}

ssize_t copy_file_range(int in, off_t *inoff, int out, off_t *outoff,
			size_t len, unsigned int flags)
{
	NEXT(copy_file_range);
	EIO_IF(in, FAIL_R);
	EIO_IF(out, FAIL_W);
	return next_copy_file_range(in, inoff, out, outoff, len, flags);
}

ssize_t sendfile(int out, int in, off_t *off, size_t len)
{
	NEXT(sendfile);
	EIO_IF(in, FAIL_R);
	EIO_IF(out, FAIL_W);
	return next_sendfile(out, in, off, len);
}

ssize_t sendfile64(int out, int in, off_t *off, size_t len)
{
	NEXT(sendfile64);
	EIO_IF(in, FAIL_R);
	EIO_IF(out, FAIL_W);
	return next_sendfile64(out, in, off, len);
}

ssize_t splice(int in, off_t *inoff, int out, off_t *outoff, size_t len,
	       unsigned int flags)
{
	NEXT(splice);
	EIO_IF(in, FAIL_R);
	EIO_IF(out, FAIL_W);
	return next_splice(in, inoff, out, outoff, len, flags);
}

int fsync(int fd)
{
	NEXT(fsync);
	EIO_IF(fd, FAIL_W);
	return next_fsync(fd);
}

int fdatasync(int fd)
{
	NEXT(fdatasync);
	EIO_IF(fd, FAIL_W);
	return next_fdatasync(fd);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	NEXT(fallocate);
	EIO_IF(fd, FAIL_W);
	return next_fallocate(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
	NEXT(fallocate64);
	EIO_IF(fd, FAIL_W);
	return next_fallocate64(fd, mode, off, len);
}
