/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_safeio.c - overlay/safeio.c, the only code whose syscalls touch
 * the store, against what a hostile worker can leave in its delta: paths
 * with "..", absolute paths, symlinks in the middle or at the end of a
 * path (to a directory or a file outside), /proc magic links, device
 * nodes; and the promises the rest of pifs builds on: atomic replace
 * (never through a symlink at the name, no temporary left), holes kept
 * by the data copy, setuid kept across chown, timestamps to the
 * nanosecond, removal of immutable trees that never follows a symlink,
 * xattr copies that honour the skip rule.  Needs root (chown, mknod,
 * the immutable flag, trusted.* xattrs); runs on /var/tmp (ext4 here:
 * tmpfs has no immutable flag).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "safeio.h"
#include "unit.h"

static char base[64];
static int root = -1;	 /* base/root: what the helpers get as dirfd */
static int outside = -1; /* base/outside: what they must never reach */

static void put(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_write_all(fd, text, strlen(text)), 0);
	close(fd);
}

static void setup(void)
{
	int b;

	snprintf(base, sizeof(base), "/var/tmp/check_safeio.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	b = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(b, 0);
	ck_assert_int_eq(mkdirat(b, "root", 0755), 0);
	ck_assert_int_eq(mkdirat(b, "outside", 0755), 0);
	root = openat(b, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	outside = openat(b, "outside", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(b);
	ck_assert_int_ge(root, 0);
	ck_assert_int_ge(outside, 0);
	put(outside, "secret", "master's secret\n");
	ck_assert_int_eq(mkdirat(root, "d", 0755), 0);
	put(root, "d/f", "inside\n");
	/* what a worker may plant */
	ck_assert_int_eq(symlinkat("../outside", root, "up"), 0);
	ck_assert_int_eq(symlinkat("../outside/secret", root, "to-secret"), 0);
	ck_assert_int_eq(symlinkat("/etc", root, "abs"), 0);
	ck_assert_int_eq(symlinkat("d", root, "to-d"), 0);
	ck_assert_int_eq(symlinkat("/proc/self/root", root, "magic"), 0);
}

static void teardown(void)
{
	int b = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	close(root);
	close(outside);
	if (b >= 0) {
		pifs_remove_tree(b, "root");
		pifs_remove_tree(b, "outside");
		close(b);
	}
	rmdir(base);
}

static const char *slurp(int dirfd, const char *path)
{
	static char buf[256];
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

START_TEST(test_beneath_refuses_escapes)
{
	static const char *const bad[] = {
	    "..", "../outside/secret", "d/../../outside/secret", "/etc/passwd",
	    "up/secret", "to-secret", "abs/passwd", "magic/etc/passwd",
	    "to-d/f",
	};
	struct stat st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int fd = pifs_openat_beneath(root, bad[i], O_RDONLY, 0);

		ck_assert_msg(fd < 0, "opened '%s'", bad[i]);
		ck_assert_msg(fd == -EXDEV || fd == -ELOOP,
			      "'%s': %s, want EXDEV or ELOOP", bad[i],
			      strerror(-fd));
		if (strchr(bad[i], '/') || !strcmp(bad[i], "..")) {
			int r = pifs_lstat_beneath(root, bad[i], &st);

			ck_assert_msg(r == -EXDEV || r == -ELOOP,
				      "lstat '%s': %d", bad[i], r);
		}
	}
	/* creating through a symlinked directory is refused too, and
	 * nothing appears outside */
	ck_assert_int_lt(pifs_openat_beneath(root, "up/planted",
					     O_WRONLY | O_CREAT, 0644), 0);
	ck_assert_int_eq(faccessat(outside, "planted", F_OK, 0), -1);
	ck_assert_int_eq(pifs_read_file(root, "to-secret", 4096, &(char *){0},
					NULL),
			 -ELOOP);
}
END_TEST

START_TEST(test_beneath_allows_inside)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int fd;

	fd = pifs_openat_beneath(root, "d/f", O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
	/* "" and "." are dirfd itself */
	fd = pifs_openat_beneath(root, "", O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	ck_assert_int_eq(pifs_lstat_beneath(root, ".", &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	/* a trailing symlink: an O_PATH fd of the link itself, -ELOOP
	 * otherwise */
	fd = pifs_openat_beneath(root, "to-secret", O_PATH | O_NOFOLLOW, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_fstat(fd, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	close(fd);
	ck_assert_int_eq(pifs_lstat_beneath(root, "to-secret", &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(pifs_read_file(root, "d/f", 4096, &text, &len), 0);
	ck_assert_str_eq(text, "inside\n");
	ck_assert_uint_eq(len, 7);
	free(text);
	ck_assert_int_eq(pifs_read_file(root, "d/f", 3, &text, NULL), -EFBIG);
}
END_TEST

START_TEST(test_write_atomic)
{
	char *text = NULL;
	struct stat st;
	DIR *d;
	struct dirent *e;
	int n = 0;

	ck_assert_int_eq(pifs_write_file_atomic(root, "conf", "one\n", 4, 0600),
			 0);
	ck_assert_int_eq(pifs_write_file_atomic(root, "conf", "two\n", 4, 0640),
			 0);
	ck_assert_int_eq(pifs_read_file(root, "conf", 100, &text, NULL), 0);
	ck_assert_str_eq(text, "two\n");
	free(text);
	ck_assert_int_eq(fstatat(root, "conf", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	/* over a symlink at the name: the link is replaced, its target
	 * outside is untouched */
	ck_assert_int_eq(
	    pifs_write_file_atomic(root, "to-secret", "mine\n", 5, 0644), 0);
	ck_assert_str_eq(slurp(outside, "secret"), "master's secret\n");
	ck_assert_int_eq(fstatat(root, "to-secret", &st, AT_SYMLINK_NOFOLLOW),
			 0);
	ck_assert(S_ISREG(st.st_mode));
	/* no temporary left behind */
	d = fdopendir(dup(root));
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".tmp."))
			n++;
	closedir(d);
	ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(test_copy_data_keeps_holes)
{
	static char block[4096];
	struct stat a, b;
	int s, t;

	memset(block, 'x', sizeof(block));
	s = openat(root, "sparse", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(ftruncate(s, 64 << 20), 0);
	ck_assert_int_eq(pifs_pwrite_all(s, block, sizeof(block), 32 << 20), 0);
	ck_assert_int_eq(pifs_pwrite_all(s, "end", 3, (64 << 20) - 3), 0);
	/* the destination starts longer than the source: it must end at
	 * the source's size */
	t = openat(root, "copy", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(t, 0);
	ck_assert_int_eq(ftruncate(t, 100 << 20), 0);
	ck_assert_int_eq(pifs_copy_data(s, t, 64 << 20), 0);
	ck_assert_int_eq(fstat(s, &a), 0);
	ck_assert_int_eq(fstat(t, &b), 0);
	ck_assert_int_eq(b.st_size, a.st_size);
	/* a copy that filled the holes would take 64 MiB */
	ck_assert_msg(b.st_blocks * 512 < (1 << 20), "copy takes %lld bytes",
		      (long long)b.st_blocks * 512);
	for (off_t off = 0; off < (64 << 20); off += 4 << 20) {
		char x[4096], y[4096];

		ck_assert_int_eq(pread(s, x, sizeof(x), off), sizeof(x));
		ck_assert_int_eq(pread(t, y, sizeof(y), off), sizeof(y));
		ck_assert(!memcmp(x, y, sizeof(x)));
	}
	{
		char x[3];

		ck_assert_int_eq(pread(t, x, 3, (64 << 20) - 3), 3);
		ck_assert(!memcmp(x, "end", 3));
	}
	close(s);
	close(t);
}
END_TEST

/* The read and write loops every chunked reader of the store uses: the
 * caller's errno where the file ends early, a real error as it is. */
START_TEST(test_pread_pwrite_all)
{
	char buf[32];
	int fd, wo, p[2];

	fd = openat(root, "rw", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_pwrite_all(fd, "0123456789", 10, 5), 0);
	ck_assert_int_eq(pifs_pwrite_all(fd, "x", 1, -1), -EINVAL);
	ck_assert_int_eq(pifs_pread_all(fd, buf, 10, 5, -ESTALE), 0);
	ck_assert(!memcmp(buf, "0123456789", 10));
	ck_assert_int_eq(pifs_pread_all(fd, buf, 5, 0, -ESTALE), 0);
	ck_assert(!memcmp(buf, "\0\0\0\0\0", 5));
	ck_assert_int_eq(pifs_pread_all(fd, buf, 11, 5, -ESTALE), -ESTALE);
	ck_assert_int_eq(pifs_pread_some(fd, buf, sizeof(buf), 12, -EIO), 3);
	ck_assert(!memcmp(buf, "789", 3));
	ck_assert_int_eq(pifs_pread_some(fd, buf, 1, 15, -EIO), -EIO);
	ck_assert_int_eq(pifs_pread_some(fd, buf, 1, 15, 0), 0);
	ck_assert_int_eq(pifs_pread_all(fd, buf, 11, 5, 0), -EIO);
	wo = openat(root, "rw", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(wo, 0);
	ck_assert_int_eq(pifs_pread_some(wo, buf, 1, 0, -EIO), -EBADF);
	ck_assert_int_eq(pifs_pread_all(wo, buf, 1, 0, -EIO), -EBADF);
	close(wo);
	close(fd);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pifs_write_all(p[1], "abc", 3), 0);
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 3);
	ck_assert(!memcmp(buf, "abc", 3));
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_set_attrs)
{
	struct stat want = {0}, st;

	put(root, "suid", "#!/bin/sh\n");
	want.st_mode = S_IFREG | 04755;
	want.st_uid = 1000;
	want.st_gid = 1000;
	want.st_atim.tv_sec = 1000000000;
	want.st_atim.tv_nsec = 123456789;
	want.st_mtim.tv_sec = 1200000000;
	want.st_mtim.tv_nsec = 987654321;
	ck_assert_int_eq(pifs_set_attrs(root, "suid", &want), 0);
	ck_assert_int_eq(fstatat(root, "suid", &st, AT_SYMLINK_NOFOLLOW), 0);
	/* chown clears setuid; the mode is applied after it */
	ck_assert_uint_eq(st.st_mode & 07777, 04755);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_gid, 1000);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1200000000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 987654321);
	ck_assert_int_eq(st.st_atim.tv_nsec, 123456789);
	/* on a symlink: owner and times of the link, never its target */
	want.st_mode = S_IFLNK | 0777;
	ck_assert_int_eq(pifs_set_attrs(root, "to-secret", &want), 0);
	ck_assert_int_eq(fstatat(outside, "secret", &st, 0), 0);
	ck_assert_uint_eq(st.st_uid, 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(fstatat(root, "to-secret", &st, AT_SYMLINK_NOFOLLOW),
			 0);
	ck_assert_uint_eq(st.st_uid, 1000);
	/* chmod through a symlink is refused; the target keeps its mode */
	ck_assert_int_lt(pifs_chmod_beneath(root, "to-secret", 0777), 0);
	ck_assert_int_eq(fstatat(outside, "secret", &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(pifs_chmod_beneath(root, "suid", 0700), 0);
	ck_assert_int_eq(fstatat(root, "suid", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_int_lt(pifs_chmod_beneath(root, "up/secret", 0777), 0);
}
END_TEST

static int count_entry(int fd, const struct dirent *de, void *arg)
{
	int *n = arg;

	(void)fd;
	ck_assert(strcmp(de->d_name, ".") && strcmp(de->d_name, ".."));
	return ++*n == 3 ? 42 : 0;
}

START_TEST(test_dir_foreach)
{
	int n = 0, opath;

	/* root holds d, up, to-secret, abs, to-d, magic: stops at the 3rd */
	ck_assert_int_eq(pifs_dir_foreach(root, count_entry, &n), 42);
	ck_assert_int_eq(n, 3);
	n = 0;
	opath = openat(root, "d", O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(opath, 0);
	ck_assert_int_eq(pifs_dir_foreach(opath, count_entry, &n), 0);
	ck_assert_int_eq(n, 1);
	close(opath);
}
END_TEST

START_TEST(test_remove_tree)
{
	struct stat st;

	ck_assert_int_eq(mkdirat(root, "gone", 0755), 0);
	ck_assert_int_eq(mkdirat(root, "gone/sub", 0755), 0);
	put(root, "gone/sub/locked", "immutable\n");
	ck_assert_int_eq(symlinkat("../../../outside", root, "gone/sub/out"),
			 0);
	ck_assert_int_eq(mknodat(root, "gone/null", S_IFCHR | 0666,
				 makedev(1, 3)),
			 0);
	{
		int sub = openat(root, "gone/sub",
				 O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		ck_assert_int_ge(sub, 0);
		ck_assert_int_eq(pifs_set_immutable(sub, "locked", 1), 0);
		/* a symlink is skipped, not followed */
		ck_assert_int_eq(pifs_set_immutable(sub, "out", 1), 0);
		ck_assert_int_eq(unlinkat(sub, "locked", 0), -1);
		ck_assert_int_eq(errno, EPERM);
		close(sub);
	}
	ck_assert_int_eq(pifs_remove_tree(root, "gone"), 0);
	ck_assert_int_eq(fstatat(root, "gone", &st, AT_SYMLINK_NOFOLLOW), -1);
	ck_assert_int_eq(errno, ENOENT);
	/* nothing outside went with it */
	ck_assert_str_eq(slurp(outside, "secret"), "master's secret\n");
	/* a symlink to a directory is removed as a link */
	ck_assert_int_eq(pifs_remove_tree(root, "up"), 0);
	ck_assert_str_eq(slurp(outside, "secret"), "master's secret\n");
	ck_assert_int_eq(pifs_remove_tree(root, "no-such"), -ENOENT);
}
END_TEST

static int skip_trusted(const char *name)
{
	return !strncmp(name, "trusted.", 8);
}

START_TEST(test_xattrs)
{
	char val[64];
	ssize_t n;

	put(root, "src", "x");
	put(root, "dst", "y");
	ck_assert_int_eq(pifs_lsetxattr(root, "src", "user.kept", "v1", 2, 0),
			 0);
	ck_assert_int_eq(
	    pifs_lsetxattr(root, "src", "trusted.pifs.test", "secret", 6, 0), 0);
	ck_assert_int_eq(pifs_copy_xattrs(root, "src", root, "dst",
					  skip_trusted),
			 0);
	n = pifs_lgetxattr(root, "dst", "user.kept", val, sizeof(val));
	ck_assert_int_eq(n, 2);
	ck_assert(!memcmp(val, "v1", 2));
	ck_assert_int_eq(
	    pifs_lgetxattr(root, "dst", "trusted.pifs.test", val, sizeof(val)),
	    -ENODATA);
	ck_assert_int_eq(pifs_lremovexattr(root, "src", "user.kept"), 0);
	ck_assert_int_eq(pifs_lgetxattr(root, "src", "user.kept", val,
					sizeof(val)),
			 -ENODATA);
	/* on a symlink: the link's own attributes, never the target's
	 * (user.* on a symlink is refused by the kernel: EPERM) */
	ck_assert_int_lt(
	    pifs_lsetxattr(root, "to-secret", "user.x", "1", 1, 0), 0);
	ck_assert_int_eq(
	    lgetxattr(base, "user.x", val, sizeof(val)) < 0 ? 0 : 1, 0);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/outside/secret", base);
		ck_assert_int_lt(getxattr(p, "user.x", val, sizeof(val)), 0);
	}
}
END_TEST

static Suite *safeio_suite(void)
{
	Suite *s = suite_create("safeio");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_beneath_refuses_escapes);
	tcase_add_test(tc, test_beneath_allows_inside);
	tcase_add_test(tc, test_write_atomic);
	tcase_add_test(tc, test_copy_data_keeps_holes);
	tcase_add_test(tc, test_pread_pwrite_all);
	tcase_add_test(tc, test_set_attrs);
	tcase_add_test(tc, test_dir_foreach);
	tcase_add_test(tc, test_remove_tree);
	tcase_add_test(tc, test_xattrs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed, ret;

	if ((ret = unit_needs_root("check_safeio",
				   "chown, mknod, the immutable flag")))
		return ret;
	sr = srunner_create(safeio_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
