/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * safeio.c - the safe syscall wrappers for the backing store: openat2
 * beneath a directory without following symlinks, xattrs and attributes on
 * (dirfd, name) pairs without following, hole-preserving data copy, atomic
 * file replacement, recursive removal and the immutable flag.  Everything
 * returns 0 (or a count, or an fd) or -errno captured at the failing call.
 *
 * Single names are turned into "/proc/self/fd/<dirfd>/<name>" for the xattr
 * calls: the magic link resolves to the directory dirfd refers
 * to, and the l* variants then act on <name> itself, so O_PATH dirfds work
 * and nothing is followed.  Owner, mode and times are in safeio_attr.c,
 * the pifs_do_* wrappers of every mutation in safeio_do.c.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#else
struct open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS   0x04
#define RESOLVE_BENEATH	      0x08
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#include "safeio.h"
#include "util.h"

int pifs_openat_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {0};
	int fd, tries = 0;

	if (!path || !*path)
		path = ".";
	how.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC);
	if (flags & (O_CREAT | __O_TMPFILE))
		how.mode = mode & 07777;
	how.resolve =
	    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	/* EAGAIN: a concurrent rename raced the ".." checks; retry a bit */
	do
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && (errno == EINTR || errno == EAGAIN) && ++tries < 32);
	if (fd < 0)
		return -errno;
	return fd;
}

int pifs_lstat_beneath(int dirfd, const char *path, struct stat *st)
{
	int fd, ret;

	/* One name in dirfd: nothing to resolve, so one fstatat, never
	 * following (a lookup in a directory already open). */
	if (*path && strcmp(path, ".") && strcmp(path, "..") && !strchr(path, '/'))
		return fstatat(dirfd, path, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	fd = pifs_openat_beneath(dirfd, path, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	ret = pifs_fstat(fd, st);
	close(fd);
	return ret;
}

int pifs_fstat(int fd, struct stat *st)
{
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

const char *pifs_fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
	return buf;
}

/* "/proc/self/fd/<dirfd>/<name>", or the fd itself for NULL/"" names.
 * Returns 0 or -EINVAL for a name that is not a single component. */
static int proc_path(int dirfd, const char *name, char *buf, size_t len)
{
	int n;

	if (!name || !*name)
		n = snprintf(buf, len, "/proc/self/fd/%d", dirfd);
	else if (pifs_check_name(name) < 0)
		return -EINVAL;
	else
		n = snprintf(buf, len, "/proc/self/fd/%d/%s", dirfd, name);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int pifs_reopen(int opath_fd, int flags)
{
	char path[32];
	struct stat st;
	int fd, ret;

	ret = pifs_fstat(opath_fd, &st);
	if (ret < 0)
		return ret;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return S_ISLNK(st.st_mode) ? -ELOOP : -EINVAL;
	flags &= ~(O_NOFOLLOW | O_CREAT | O_EXCL);
	pifs_fd_path(opath_fd, path, sizeof(path));
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

/* write(2) (off < 0) or pwrite(2) at off all of buf. */
static int write_loop(int fd, const char *p, size_t len, off_t off)
{
	ssize_t n;

	while (len) {
		n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		if (off >= 0)
			off += n;
		len -= (size_t)n;
	}
	return 0;
}

int pifs_write_all(int fd, const void *buf, size_t len)
{
	return write_loop(fd, buf, len, -1);
}

int pifs_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	return off < 0 ? -EINVAL : write_loop(fd, buf, len, off);
}

ssize_t pifs_pread_some(int fd, void *buf, size_t len, uint64_t off, int eof)
{
	ssize_t n;

	do
		n = pread(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n ? n : eof;
}

int pifs_pread_all(int fd, void *buf, size_t len, uint64_t off, int eof)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = pifs_pread_some(fd, p, len, off, eof);
		if (n <= 0)
			return n < 0 ? (int)n : -EIO; /* eof 0: short is -EIO */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int pifs_fsync_dir(int dirfd)
{
	int fd, ret = 0;

	/* O_PATH fds cannot be fsync'ed: open the directory for real. */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int pifs_write_file_atomic(int dirfd, const char *name, const void *buf,
			   size_t len, mode_t mode)
{
	char tmp[NAME_MAX + 1];
	uint32_t rnd;
	int fd = -1, ret, tries;
	size_t nlen;

	ret = pifs_check_name(name);
	if (ret < 0)
		return ret;
	nlen = strlen(name);
	if (nlen + sizeof(".tmp.XXXXXX") + 1 > sizeof(tmp))
		return -ENAMETOOLONG;
	for (tries = 0; tries < 100; tries++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd =
			    (uint32_t)getpid() * 2654435761u + (uint32_t)tries;
		snprintf(tmp, sizeof(tmp), ".%s.tmp.%06x", name,
			 rnd & 0xffffff);
		fd = pifs_openat_beneath(
		    dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
		if (fd != -EEXIST)
			break;
	}
	if (fd < 0)
		return fd;
	ret = pifs_write_all(fd, buf, len);
	if (ret < 0)
		goto out_unlink;
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = -errno;
		goto out_unlink;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	return pifs_fsync_dir(dirfd);

out_unlink:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	return ret;
}

int pifs_read_file(int dirfd, const char *path, size_t max, char **out,
		   size_t *len_out)
{
	struct stat st;
	char *buf = NULL, *nbuf;
	size_t len = 0, cap;
	ssize_t n;
	int fd, ret;

	*out = NULL;
	fd = pifs_openat_beneath(dirfd, path, O_RDONLY | O_NOFOLLOW | O_NOCTTY,
				 0);
	if (fd < 0)
		return fd;
	ret = pifs_fstat(fd, &st);
	if (ret < 0)
		goto out_close;
	if (!S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out_close;
	}
	cap = st.st_size > 0 && (size_t)st.st_size < max ? (size_t)st.st_size
							 : 4096;
	for (;;) {
		if (len + 1 >= cap || !buf) {
			if (buf)
				cap *= 2;
			nbuf = realloc(buf, cap + 1);
			if (!nbuf) {
				ret = -ENOMEM;
				goto out_close;
			}
			buf = nbuf;
		}
		n = pifs_pread_some(fd, buf + len, cap - len, len, 0);
		if (n < 0) {
			ret = (int)n;
			goto out_close;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			ret = -EFBIG;
			goto out_close;
		}
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	if (len_out)
		*len_out = len;
	ret = 0;
out_close:
	free(buf);
	close(fd);
	return ret;
}

enum xattr_call { X_GET, X_LIST, X_SET, X_REMOVE };

/* One xattr call on dirfd/name through its /proc path: on dirfd itself
 * (name NULL or "", an O_PATH fd too) the plain call, else the l- call,
 * so that a symlink at name is not followed.  buf is the value (X_GET,
 * X_SET) or the list (X_LIST); what the call returns, or -errno. */
static ssize_t xattr_call(enum xattr_call op, int dirfd, const char *name,
			  const char *attr, void *buf, size_t len, int flags)
{
	char path[PIFS_PROC_PATH_MAX];
	int self = !name || !*name;
	ssize_t n;

	n = proc_path(dirfd, name, path, sizeof(path));
	if (n < 0)
		return n;
	switch (op) {
	case X_GET:
		n = self ? getxattr(path, attr, buf, len)
			 : lgetxattr(path, attr, buf, len);
		break;
	case X_LIST:
		n = self ? listxattr(path, buf, len)
			 : llistxattr(path, buf, len);
		break;
	case X_SET:
		n = self ? setxattr(path, attr, buf, len, flags)
			 : lsetxattr(path, attr, buf, len, flags);
		break;
	default:
		n = self ? removexattr(path, attr) : lremovexattr(path, attr);
		break;
	}
	return n < 0 ? -errno : n;
}

ssize_t pifs_lgetxattr(int dirfd, const char *name, const char *attr, void *buf,
		       size_t len)
{
	return xattr_call(X_GET, dirfd, name, attr, buf, len, 0);
}

ssize_t pifs_llistxattr(int dirfd, const char *name, char *buf, size_t len)
{
	return xattr_call(X_LIST, dirfd, name, NULL, buf, len, 0);
}

int pifs_lsetxattr(int dirfd, const char *name, const char *attr,
		   const void *val, size_t len, int flags)
{
	pifs_debug("setxattr(%d, '%s', '%s', %zu bytes, %d)", dirfd,
		   name ? name : "", attr, len, flags);
	return (int)xattr_call(X_SET, dirfd, name, attr,
			       (void *)(uintptr_t)val, len, flags);
}

int pifs_lremovexattr(int dirfd, const char *name, const char *attr)
{
	pifs_debug("removexattr(%d, '%s', '%s')", dirfd, name ? name : "", attr);
	return (int)xattr_call(X_REMOVE, dirfd, name, attr, NULL, 0, 0);
}

/* The value of attr, or (attr NULL) the list of xattr names, of (dirfd,
 * name) in a malloc'd NUL-terminated buffer *out: its length (an empty
 * list is 0 with *out NULL), or -errno.  The value or the list may
 * change between the size query and the read, hence the loop. */
static ssize_t xattr_alloc(int dirfd, const char *name, const char *attr,
			   char **out)
{
	enum xattr_call op = attr ? X_GET : X_LIST;
	char *buf = NULL, *nbuf;
	ssize_t n;

	*out = NULL;
	for (;;) {
		n = xattr_call(op, dirfd, name, attr, NULL, 0, 0);
		if (n < 0 || (n == 0 && !attr)) {
			free(buf);
			return n;
		}
		nbuf = realloc(buf, (size_t)n + 1);
		if (!nbuf) {
			free(buf);
			return -ENOMEM;
		}
		buf = nbuf;
		if (n > 0)
			n = xattr_call(op, dirfd, name, attr, buf, (size_t)n, 0);
		if (n == -ERANGE)
			continue;
		if (n < 0) {
			free(buf);
			return n;
		}
		buf[n] = '\0';
		*out = buf;
		return n;
	}
}

int pifs_copy_xattrs(int sdir, const char *sname, int ddir, const char *dname,
		     int (*skip)(const char *name))
{
	char *names = NULL, *val = NULL, *p;
	ssize_t len, vlen;
	int ret = 0;

	len = xattr_alloc(sdir, sname, NULL, &names);
	if (len <= 0)
		return (int)len;
	for (p = names; p < names + len; p += strlen(p) + 1) {
		if (!*p || (skip && skip(p)))
			continue;
		vlen = xattr_alloc(sdir, sname, p, &val);
		if (vlen == -ENODATA)
			continue; /* removed meanwhile */
		if (vlen < 0) {
			ret = (int)vlen;
			goto out;
		}
		ret = pifs_lsetxattr(ddir, dname, p, val, (size_t)vlen, 0);
		free(val);
		val = NULL;
		if (ret < 0)
			goto out;
	}
out:
	free(val);
	free(names);
	return ret;
}

/* Copy [off, off+len) with copy_file_range, falling back to read/write
 * when the kernel or file system cannot do it. */
static int copy_range(int sfd, int dfd, off_t off, off_t len, int *use_cfr)
{
	const size_t bufsz = (size_t)1 << 17;
	off_t in = off, out = off;
	char *buf = NULL;
	ssize_t n;
	int ret = 0;

	while (len > 0) {
		size_t chunk =
		    len > (off_t)(1 << 30) ? (size_t)1 << 30 : (size_t)len;

		if (*use_cfr) {
			n = copy_file_range(sfd, &in, dfd, &out, chunk, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
				      errno == ENOSYS || errno == EOPNOTSUPP ||
				      errno == EBADF)) {
				*use_cfr = 0;
				continue;
			}
			if (n < 0) {
				if (errno == EINTR)
					continue;
				ret = -errno;
				goto out;
			}
			if (n == 0)
				goto out; /* source shrank */
			len -= n;
			continue;
		}
		if (!buf) {
			buf = malloc(bufsz);
			if (!buf)
				return -ENOMEM;
		}
		if (chunk > bufsz)
			chunk = bufsz;
		n = pifs_pread_some(sfd, buf, chunk, (uint64_t)in, 0);
		if (n <= 0) {
			ret = (int)n; /* 0: the source shrank */
			goto out;
		}
		ret = pifs_pwrite_all(dfd, buf, (size_t)n, out);
		if (ret < 0)
			goto out;
		in += n;
		out += n;
		len -= n;
	}
out:
	free(buf);
	return ret;
}

int pifs_copy_data(int sfd, int dfd, off_t size)
{
	off_t off = 0, data, hole;
	int use_cfr = 1, ret;

	while (off < size) {
		data = lseek(sfd, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* only a hole is left */
		if (data < 0) {
			/* No SEEK_DATA: copy everything as data. */
			ret = copy_range(sfd, dfd, off, size - off, &use_cfr);
			if (ret < 0)
				return ret;
			break;
		}
		if (data >= size)
			break;
		hole = lseek(sfd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if (hole > size)
			hole = size;
		ret = copy_range(sfd, dfd, data, hole - data, &use_cfr);
		if (ret < 0)
			return ret;
		off = hole;
	}
	/* A trailing hole has no data to copy: the length makes it. */
	if (ftruncate(dfd, size) < 0)
		return -errno;
	return 0;
}

/* Change the inode flags in mask of a regular file or directory to
 * (set ? mask : 0); other types are left alone. */
static int change_flags(int dirfd, const char *name, int mask, int set)
{
	struct stat st;
	int fd, flags, nflags, ret = 0;

	if (!name || !*name)
		ret = pifs_fstat(dirfd, &st);
	else if (pifs_check_name(name) < 0)
		return -EINVAL;
	else if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		ret = -errno;
	if (ret < 0)
		return ret;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return 0;
	if (!name || !*name)
		fd = pifs_reopen(dirfd, O_RDONLY | O_NONBLOCK);
	else
		fd = pifs_openat_beneath(
		    dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY,
		    0);
	if (fd < 0)
		return fd;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) {
		ret = -errno;
		goto out_close;
	}
	nflags = set ? flags | mask : flags & ~mask;
	if (nflags != flags && ioctl(fd, FS_IOC_SETFLAGS, &nflags) < 0)
		ret = -errno;
out_close:
	close(fd);
	return ret;
}

int pifs_set_immutable(int dirfd, const char *name, int on)
{
	return change_flags(dirfd, name, FS_IMMUTABLE_FL, on);
}

/* Clear immutable and append-only (either forbids unlink) where the file
 * system has such flags at all. */
static int clear_flags(int dirfd, const char *name)
{
	int ret = change_flags(dirfd, name, FS_IMMUTABLE_FL | FS_APPEND_FL, 0);

	if (ret == -ENOTTY || ret == -EOPNOTSUPP || ret == -EINVAL ||
	    ret == -ENOSYS)
		ret = 0;
	return ret;
}

int pifs_dir_foreach(int dirfd,
		     int (*fn)(int fd, const struct dirent *de, void *arg),
		     void *arg)
{
	struct dirent *de;
	DIR *dir;
	int fd, ret = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		ret = -errno;
		close(fd);
		return ret;
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno)
				ret = -errno;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((ret = fn(fd, de, arg)) != 0)
			break;
	}
	closedir(dir);
	return ret;
}

static int remove_one(int fd, const struct dirent *de, void *arg)
{
	int ret = pifs_remove_tree(fd, de->d_name);

	return ret == -ENOENT ? 0 : ret;
}

static int remove_children(int dfd)
{
	return pifs_dir_foreach(dfd, remove_one, NULL);
}

int pifs_remove_tree(int dirfd, const char *name)
{
	struct stat st;
	int fd, ret;

	ret = pifs_check_name(name);
	if (ret < 0)
		return ret;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* A directory is cleared before its children are unlinked. */
	ret = clear_flags(dirfd, name);
	if (ret < 0)
		return ret;
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0)
			return -errno;
		return 0;
	}
	fd = pifs_openat_beneath(dirfd, name,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	ret = remove_children(fd);
	close(fd);
	if (ret < 0)
		return ret;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		return -errno;
	return 0;
}
