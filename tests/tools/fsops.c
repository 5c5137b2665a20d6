/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fsops.c - a seeded random metadata-operation generator in the manner of
 * fsstress, for comparing a file system against a plain directory errno by
 * errno (t-fsstress.sh).
 *
 *   fsops SEED NOPS DIR
 *
 * lists DIR once (sorted, so two equal trees give the same list), then makes
 * NOPS operations inside it, each chosen by a xorshift generator seeded with
 * SEED from that list, the names it made itself and a small fixed set of new
 * names: create, mkdir, rmdir, unlink, rename (plain, RENAME_NOREPLACE,
 * RENAME_EXCHANGE), link, symlink, readlink, chmod, truncate, write at an
 * offset, read back, mknod of a fifo, setxattr, getxattr, removexattr,
 * utimens, stat, and an open for writing.  Nothing
 * follows a symbolic link (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, l*xattr): a
 * golden's absolute link must not lead out of DIR.  Opens are O_NONBLOCK
 * (fifos).  The choices never depend on what the file system answers, so the
 * same SEED makes the same calls on any tree that started equal.  One line
 * per operation on stdout:
 *
 *   N OP ARGS = 0|ERRNO-NAME [what it read: type, mode, size, links,
 *                             bytes' checksum, target, xattr value]
 *
 * and nothing that differs between two correct file systems (inode numbers,
 * times, readdir order, and a directory's size and link count: pifs reports
 * one link for a directory the golden has a part of, the "not counted"
 * convention, overlay/view/inode.c).  Exit 0 when all NOPS ran, 2 on usage
 * or if DIR cannot be listed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAXPATHS 4096

static char *paths[MAXPATHS];
static int npaths;
static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned int pick(unsigned int n)
{
	return (unsigned int)(next() % n);
}

static void add_path(const char *p)
{
	int i;

	if (npaths >= MAXPATHS)
		return;
	for (i = 0; i < npaths; i++)
		if (!strcmp(paths[i], p))
			return;
	paths[npaths] = strdup(p);
	if (paths[npaths])
		npaths++;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything below DIR (relative, no "./"), depth-first. */
static void list(const char *rel)
{
	char sub[4096];
	struct dirent *e;
	DIR *d = opendir(*rel ? rel : ".");

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
			 e->d_name);
		if (npaths < MAXPATHS)
			paths[npaths++] = strdup(sub);
		if (e->d_type == DT_DIR)
			list(sub);
	}
	closedir(d);
}

static const char *const names[] = {"a", "b", "c", "dir1", "dir2",
				    "f.txt", "link", "x y"};

/* A path: one the tree had or the run made (2 in 3), or a new name in
 * one of their directories or the top. */
static const char *any_path(char *buf, size_t len)
{
	const char *base;

	if (npaths && pick(3) != 0)
		return paths[pick((unsigned int)npaths)];
	base = npaths && pick(2) ? paths[pick((unsigned int)npaths)] : "";
	snprintf(buf, len, "%s%s%s", base, *base ? "/" : "",
		 names[pick(sizeof(names) / sizeof(names[0]))]);
	return buf;
}

static const char *errname(int e)
{
	static char num[16];

	switch (e) {
	case 0: return "0";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case ENOTEMPTY: return "ENOTEMPTY";
	case EINVAL: return "EINVAL";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EXDEV: return "EXDEV";
	case EBUSY: return "EBUSY";
	case EMLINK: return "EMLINK";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENODATA: return "ENODATA";
	case ELOOP: return "ELOOP";
	case ERANGE: return "ERANGE";
	case ENOTSUP: return "ENOTSUP";
	case EIO: return "EIO";
	case ENOSPC: return "ENOSPC";
	case EROFS: return "EROFS";
	case ETXTBSY: return "ETXTBSY";
	case ENXIO: return "ENXIO";
	default:
		snprintf(num, sizeof(num), "E%d", e);
		return num;
	}
}

static char type(mode_t m)
{
	return S_ISREG(m) ? 'f' : S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l'
		: S_ISFIFO(m) ? 'p' : S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b'
		: S_ISSOCK(m) ? 's' : '?';
}

static int res(int r)
{
	return r < 0 ? errno : 0;
}

/* FNV-1a of the file's bytes. */
static uint64_t sum_fd(int fd, off_t *len)
{
	uint64_t h = 1469598103934665603ULL;
	char buf[65536];
	ssize_t n, i;

	*len = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
		*len += n;
	}
	return n < 0 ? 0 : h;
}

static void op(int n)
{
	char a[4096], b[4096], buf[8192], extra[256] = "";
	const char *p = any_path(a, sizeof(a)), *q = NULL;
	struct stat st;
	int e = 0, fd, k = (int)pick(24);
	off_t off, len;
	ssize_t r;
	unsigned int i;

	switch (k) {
	case 0:
	case 1:
		e = res(fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644));
		if (fd >= 0)
			close(fd);
		printf("%d create %s", n, p);
		break;
	case 2:
		e = res(mkdir(p, 0755));
		printf("%d mkdir %s", n, p);
		break;
	case 3:
		e = res(rmdir(p));
		printf("%d rmdir %s", n, p);
		break;
	case 4:
		e = res(unlink(p));
		printf("%d unlink %s", n, p);
		break;
	case 5:
	case 6: {
		static const unsigned int fl[] = {0, 0, RENAME_NOREPLACE,
						  RENAME_EXCHANGE};
		unsigned int f = fl[pick(4)];

		q = any_path(b, sizeof(b));
		e = res(renameat2(AT_FDCWD, p, AT_FDCWD, q, f));
		printf("%d rename%s %s -> %s", n,
		       f == RENAME_NOREPLACE ? "-noreplace"
		       : f == RENAME_EXCHANGE ? "-exchange" : "", p, q);
		break;
	}
	case 7:
		q = any_path(b, sizeof(b));
		e = res(link(p, q));
		printf("%d link %s -> %s", n, p, q);
		break;
	case 8:
		q = any_path(b, sizeof(b));
		e = res(symlink(q, p));
		printf("%d symlink %s -> %s", n, p, q);
		break;
	case 9:
		r = readlink(p, buf, sizeof(buf) - 1);
		e = res((int)(r < 0 ? -1 : 0));
		if (r >= 0)
			snprintf(extra, sizeof(extra), " %.*s", (int)r, buf);
		printf("%d readlink %s", n, p);
		break;
	case 10: {
		static const mode_t modes[] = {0644, 0600, 0755, 0700, 04755,
					       01777, 0};
		mode_t m = modes[pick(7)];

		e = res(fchmodat(AT_FDCWD, p, m, AT_SYMLINK_NOFOLLOW));
		printf("%d chmod %s %o", n, p, (unsigned int)m);
		break;
	}
	case 11:
		off = (off_t)pick(3) * 4096 + pick(5000);
		fd = open(p, O_WRONLY | O_NONBLOCK | O_NOFOLLOW);
		e = res(fd);
		if (fd >= 0) {
			e = res(ftruncate(fd, off));
			close(fd);
		}
		printf("%d truncate %s %jd", n, p, (intmax_t)off);
		break;
	case 12:
	case 13:
		off = (off_t)pick(4) * 3000 + pick(100);
		len = 1 + pick(6000);
		for (i = 0; i < (unsigned int)len && i < sizeof(buf); i++)
			buf[i] = (char)next();
		fd = open(p, O_WRONLY | O_NONBLOCK | O_NOFOLLOW |
			  (pick(2) ? O_CREAT : 0),
			  0640);
		e = res(fd);
		if (fd >= 0) {
			r = pwrite(fd, buf, (size_t)len, off);
			e = r < 0 ? errno : 0;
			close(fd);
		}
		printf("%d write %s %jd+%jd", n, p, (intmax_t)off,
		       (intmax_t)len);
		break;
	case 14:
	case 15:
		fd = open(p, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
		e = res(fd);
		if (fd >= 0) {
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
				uint64_t h = sum_fd(fd, &len);

				snprintf(extra, sizeof(extra),
					 " %jd:%016" PRIx64, (intmax_t)len, h);
			}
			close(fd);
		}
		printf("%d read %s", n, p);
		break;
	case 16:
		e = res(mknod(p, S_IFIFO | 0640, 0));
		printf("%d mkfifo %s", n, p);
		break;
	case 17:
		snprintf(buf, sizeof(buf), "v%u", pick(1000));
		e = res(lsetxattr(p, "user.fsops", buf, strlen(buf),
				  pick(3) == 0 ? XATTR_CREATE : 0));
		printf("%d setxattr %s %s", n, p, buf);
		break;
	case 18:
		r = lgetxattr(p, "user.fsops", buf, sizeof(buf) - 1);
		e = r < 0 ? errno : 0;
		if (r >= 0)
			snprintf(extra, sizeof(extra), " %.*s", (int)r, buf);
		printf("%d getxattr %s", n, p);
		break;
	case 19:
		e = res(lremovexattr(p, "user.fsops"));
		printf("%d removexattr %s", n, p);
		break;
	case 20: {
		struct timespec ts[2] = {{1700000000 + pick(1000), 0},
					 {1600000000 + pick(1000), 0}};

		e = res(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW));
		printf("%d utimens %s", n, p);
		break;
	}
	case 21:
		fd = open(p, O_WRONLY | O_NONBLOCK | O_NOFOLLOW);
		e = res(fd);
		if (fd >= 0)
			close(fd);
		printf("%d open-w %s", n, p);
		break;
	default:
		e = res(lstat(p, &st));
		if (!e)
			snprintf(extra, sizeof(extra), " %c %04o %jd %jd",
				 type(st.st_mode),
				 (unsigned int)(st.st_mode & 07777),
				 S_ISDIR(st.st_mode) ? (intmax_t)-1
						     : (intmax_t)st.st_size,
				 S_ISDIR(st.st_mode) ? (intmax_t)-1
						     : (intmax_t)st.st_nlink);
		printf("%d stat %s", n, p);
		break;
	}
	printf(" = %s%s\n", errname(e), extra);
	/* Names it made become candidates (a success only: both runs
	 * must grow the same list). */
	if (!e && k != 3 && k != 4)
		add_path(p);
	if (!e && q && (k == 5 || k == 6 || k == 7))
		add_path(q);
}

int main(int argc, char **argv)
{
	int i, nops;

	if (argc != 4) {
		fprintf(stderr, "usage: fsops SEED NOPS DIR\n");
		return 2;
	}
	rng = strtoull(argv[1], NULL, 0) * 2654435761ULL + 88172645463325252ULL;
	nops = atoi(argv[2]);
	if (chdir(argv[3]) < 0) {
		perror(argv[3]);
		return 2;
	}
	list("");
	if (!npaths) {
		fprintf(stderr, "fsops: '%s' is empty or unreadable\n",
			argv[3]);
		return 2;
	}
	qsort(paths, (size_t)npaths, sizeof(paths[0]), cmp);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < nops; i++)
		op(i);
	return 0;
}
