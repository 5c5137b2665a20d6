/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * safeio.h - the only place raw syscalls touch the backing store.
 *
 * Every helper takes a directory fd and either a single validated name or
 * a relative path resolved with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 * RESOLVE_NO_MAGICLINKS), so nothing a worker stores (symlinks, "..",
 * device nodes) can make the master follow it out of the store.  All
 * functions return 0 (or an fd) on success and -errno on failure, with
 * errno captured at the failing call.
 */
#ifndef PIFS_SAFEIO_H
#define PIFS_SAFEIO_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* openat2 beneath dirfd, never following any symlink; O_CLOEXEC is added.
 * A trailing symlink is returned as an O_PATH fd when flags has
 * O_PATH|O_NOFOLLOW, and is -ELOOP otherwise.  path "" or "." is dirfd. */
int pifs_openat_beneath(int dirfd, const char *path, int flags, mode_t mode);

/* lstat of dirfd/path (path relative, resolved beneath, no symlinks); a
 * single name is one fstatat. */
int pifs_lstat_beneath(int dirfd, const char *path, struct stat *st);

/* fstat of an fd of any kind (O_PATH too), never following. */
int pifs_fstat(int fd, struct stat *st);

/* Big enough for "/proc/self/fd/<int>/" + NAME_MAX + NUL. */
#define PIFS_PROC_PATH_MAX (32 + NAME_MAX + 2)

/* "/proc/self/fd/N" for fd, into buf (at least 32 bytes). */
const char *pifs_fd_path(int fd, char *buf, size_t len);

/* Reopen an O_PATH fd of a regular file or directory with real flags. */
int pifs_reopen(int opath_fd, int flags);

/* write/read all of buf (restarting on EINTR/short counts). */
int pifs_write_all(int fd, const void *buf, size_t len);
int pifs_pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* One pread(2) of at most len (> 0) bytes at off, restarted on EINTR: the
 * bytes read, -errno, or eof where the file ends at off (0, or a negative
 * errno of the caller's choosing: -ESTALE for a file that shrank under
 * its reader, -EIO for a damaged one). */
ssize_t pifs_pread_some(int fd, void *buf, size_t len, uint64_t off, int eof);
/* All len bytes at off, as many preads as that takes; errors as above
 * (eof 0 is -EIO here). */
int pifs_pread_all(int fd, void *buf, size_t len, uint64_t off, int eof);

/* fsync the directory dirfd refers to (works for O_PATH dirfds). */
int pifs_fsync_dir(int dirfd);

/* Atomically replace dirfd/name with the given contents: a temporary
 * ".name.tmp.XXXXXX" beside it, fsync, rename, fsync of the directory. */
int pifs_write_file_atomic(int dirfd, const char *name, const void *buf,
			   size_t len, mode_t mode);

/* Read a whole (small) file beneath dirfd into a NUL-terminated malloc'd
 * buffer; *len_out (optional) gets its length.  -EFBIG over max bytes. */
int pifs_read_file(int dirfd, const char *path, size_t max, char **out,
		   size_t *len_out);

/* Copy every extended attribute of src to dst.  Both are given as
 * (dirfd, name) pairs and handled without following symlinks; names for
 * which skip(name) returns nonzero are left out.  -ENOTSUP from the
 * destination for a whole namespace is returned as an error. */
int pifs_copy_xattrs(int sdir, const char *sname, int ddir, const char *dname,
		     int (*skip)(const char *name));

/* Copy file data from sfd to dfd preserving holes (SEEK_DATA/SEEK_HOLE),
 * with copy_file_range where it works; dfd ends at size of sfd. */
int pifs_copy_data(int sfd, int dfd, off_t size);

/* Set owner, mode (incl. setuid/sgid/sticky, applied after chown so chown
 * does not clear it) and ns timestamps of dirfd/name, no symlink follow.
 * For symlinks the mode is skipped. */
int pifs_set_attrs(int dirfd, const char *name, const struct stat *st);

/* chmod dirfd/name (a single component, resolved beneath dirfd, never
 * through a symlink) to mode & 07777: through an O_PATH fd's proc link,
 * since chmod has no no-follow variant.  0 or -errno. */
int pifs_chmod_beneath(int dirfd, const char *name, mode_t mode);

/* The one attribute applier, for every copy the store makes (a golden's
 * tree, an image's, a copy-up): ST's owner, mode and times onto
 * dirfd/name (pifs_set_attrs), then its xattrs through
 * XATTRS(CTX, dirfd, name) (NULL: none) after the chown, which would
 * clear a file capability, then the mode again only where a POSIX ACL
 * changed the group bits.  0 or -errno; *stage (optional) then names
 * the step that failed for the caller's message ("set attributes of",
 * "stat", "set the mode of"), NULL for XATTRS's own error. */
int pifs_apply_attrs(int dirfd, const char *name, const struct stat *st,
		     int (*xattrs)(void *ctx, int dirfd, const char *name),
		     void *ctx, const char **stage);

/* Call fn(fd, entry, arg) for every entry of the directory dirfd refers
 * to ("." and ".." left out), in readdir order, until fn returns nonzero;
 * that value is returned, or -errno when the directory cannot be read.
 * fd is a real descriptor of the directory, for *at() calls; dirfd (O_PATH
 * or not) is not consumed. */
struct dirent;
int pifs_dir_foreach(int dirfd,
		     int (*fn)(int fd, const struct dirent *de, void *arg),
		     void *arg);

/* Remove dirfd/name and, for a directory, everything below it, without
 * following symlinks.  Clears the immutable flag where it finds it. */
int pifs_remove_tree(int dirfd, const char *name);

/* Extended attribute access on dirfd/name without following symlinks.
 * Return the value length (or 0) on success, -errno on failure. */
ssize_t pifs_lgetxattr(int dirfd, const char *name, const char *attr,
		       void *buf, size_t len);
ssize_t pifs_llistxattr(int dirfd, const char *name, char *buf, size_t len);
int pifs_lsetxattr(int dirfd, const char *name, const char *attr,
		   const void *val, size_t len, int flags);
int pifs_lremovexattr(int dirfd, const char *name, const char *attr);

/* Set or clear FS_IMMUTABLE_FL on dirfd/name (regular files and dirs
 * only; others are skipped).  -ENOTTY/-EOPNOTSUPP where unsupported. */
int pifs_set_immutable(int dirfd, const char *name, int on);

/* The store's mutations, as Linux's ovl_do_* helpers: each is the one
 * syscall, logged at debug level (pifs_debug), returning 0 or -errno.
 * Nothing outside safeio.c calls renameat2/renameat/unlinkat on the store
 * (`make check` enforces it).  flags as the syscall's. */
int pifs_do_rename(int olddir, const char *old, int newdir, const char *new,
		   unsigned int flags);
int pifs_do_unlink(int dirfd, const char *name, int flags);
int pifs_do_mkdir(int dirfd, const char *name, mode_t mode);
int pifs_do_mknod(int dirfd, const char *name, mode_t mode, dev_t dev);
/* A whiteout: a char device 0:0 (layers.h). */
int pifs_do_whiteout(int dirfd, const char *name);
int pifs_do_symlink(const char *target, int dirfd, const char *name);
int pifs_do_link(int olddir, const char *old, int newdir, const char *new,
		 int flags);

#endif
