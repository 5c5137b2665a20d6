/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_manifest.c - the golden manifest: building it over a tree holding
 * every file type, its format (sorting, escaping, hard-link groups, the end
 * digest and golden id), and verify detecting each kind of change with the
 * exact line it reports.  Trees live under a mkdtemp in /var/tmp (ext4 for
 * trusted.* xattrs); the tests need root for mknod and chown.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "manifest.h"
#include "safeio.h"
#include "util.h"
#include "unit.h"

static char base[] = "/var/tmp/check_manifest.XXXXXX";

/* One test tree: t->fd is its root, t->manifest its manifest. */
struct tree {
	char path[256];
	int fd;
	char *manifest;
	char id[17];
};

static void base_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(base));
}

static void base_teardown(void)
{
	char *slash = strrchr(base, '/');
	int fd;

	*slash = '\0';
	fd = open(base, O_PATH | O_DIRECTORY);
	pifs_remove_tree(fd, slash + 1);
	close(fd);
	*slash = '/';
}

static void put_file(int dfd, const char *path, const char *data, mode_t mode)
{
	int fd = openat(dfd, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_write_all(fd, data, strlen(data)), 0);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void set_mtime(int dfd, const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};

	ck_assert_int_eq(utimensat(dfd, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* Restore the times st had on dfd/path. */
static void restore_times(int dfd, const char *path, const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};

	ck_assert_int_eq(utimensat(dfd, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void make_socket(int dfd, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[64];
	int s;

	/* bind() takes a path: go through the directory's proc link */
	snprintf(dir, sizeof(dir), "/proc/self/fd/%d/%s", dfd, name);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dir);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
}

/* A small tree with every file type, then its manifest. */
static void tree_setup(struct tree *t)
{
	int fd, run;

	static int seq;

	/* pid and sequence: unique with and without CK_FORK */
	snprintf(t->path, sizeof(t->path), "%s/t%ld-%d", base, (long)getpid(),
		 seq++);
	ck_assert_int_eq(mkdir(t->path, 0755), 0);
	t->fd = open(t->path, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(t->fd, 0);
	ck_assert_int_eq(mkdirat(t->fd, "bin", 0755), 0);
	ck_assert_int_eq(mkdirat(t->fd, "etc", 0755), 0);
	ck_assert_int_eq(mkdirat(t->fd, "dev", 0755), 0);
	ck_assert_int_eq(mkdirat(t->fd, "run", 0755), 0);
	ck_assert_int_eq(mkdirat(t->fd, "var", 0755), 0);
	put_file(t->fd, "bin/ping", "ping-binary", 04755);
	put_file(t->fd, "etc/hostname", "pi\n", 0644);
	ck_assert_int_eq(linkat(t->fd, "etc/hostname", t->fd, "etc/hn2", 0), 0);
	ck_assert_int_eq(symlinkat("/etc/passwd", t->fd, "etc/pw"), 0);
	ck_assert_int_eq(symlinkat("..", t->fd, "etc/up"), 0);
	put_file(t->fd, "empty", "", 0600);
	put_file(t->fd, "odd name\\x", "odd", 0644);
	ck_assert_int_eq(
	    mknodat(t->fd, "dev/null", S_IFCHR | 0666, makedev(1, 3)), 0);
	ck_assert_int_eq(
	    mknodat(t->fd, "dev/loop0", S_IFBLK | 0660, makedev(7, 0)), 0);
	ck_assert_int_eq(fchmodat(t->fd, "dev/null", 0666, 0), 0);
	ck_assert_int_eq(fchmodat(t->fd, "dev/loop0", 0660, 0), 0);
	ck_assert_int_eq(mkfifoat(t->fd, "run/fifo", 0644), 0);
	run = openat(t->fd, "run", O_PATH | O_DIRECTORY);
	make_socket(run, "sock");
	close(run);
	fd = openat(t->fd, "var/sparse", O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_pwrite_all(fd, "data", 4, 512 * 1024), 0);
	ck_assert_int_eq(ftruncate(fd, 1024 * 1024), 0);
	close(fd);
	ck_assert_int_eq(
	    pifs_lsetxattr(t->fd, "bin", "trusted.test", "v", 1, 0), 0);
	fd = openat(t->fd, "etc", O_PATH | O_DIRECTORY);
	ck_assert_int_eq(
	    pifs_lsetxattr(fd, "hostname", "user.test", "abc", 3, 0), 0);
	ck_assert_int_eq(pifs_lsetxattr(fd, "pw", "trusted.link", "l", 1, 0),
			 0);
	close(fd);
	ck_assert_int_eq(fchownat(t->fd, "etc/hostname", 1000, 1000, 0), 0);
	ck_assert_int_eq(fchmodat(t->fd, "etc/hostname", 0644, 0), 0);
	set_mtime(t->fd, "etc/hostname", 1000000000, 123456789);
	set_mtime(t->fd, "var/sparse", 1500000000, 1);
	set_mtime(t->fd, "etc", 1600000000, 999999999);
	ck_assert_int_eq(pifs_manifest_build(t->fd, &t->manifest, t->id), 0);
}

static void tree_release(struct tree *t)
{
	free(t->manifest);
	close(t->fd);
}

/* Verify t against its manifest; *report gets the lines. */
static int verify(struct tree *t, const char *manifest, char **report)
{
	size_t len;
	FILE *f = open_memstream(report, &len);
	int ret;

	ck_assert_ptr_nonnull(f);
	ret = pifs_manifest_verify(t->fd, manifest ? manifest : t->manifest, f);
	fclose(f);
	return ret;
}

/* The manifest line for path (escaped), or NULL. */
static char *line_of(const char *manifest, const char *esc)
{
	static char buf[512];
	const char *p = manifest, *nl;
	size_t plen = strlen(esc);

	while ((nl = strchr(p, '\n'))) {
		size_t len = (size_t)(nl - p);

		if (len > plen + 1 && p[len - plen - 1] == ' ' &&
		    !strncmp(p + len - plen, esc, plen) && p[0] != '#') {
			snprintf(buf, sizeof(buf), "%.*s", (int)len, p);
			return buf;
		}
		p = nl + 1;
	}
	return NULL;
}

START_TEST(test_build_format)
{
	struct tree t;
	char *again, id2[17], *report, *l, end[40];
	const char *p, *last;
	int lines = 0;
	struct stat st;

	tree_setup(&t);
	ck_assert_int_eq(strncmp(t.manifest, "# pifs manifest v1\n", 19), 0);
	ck_assert_uint_eq(strlen(t.id), 16);
	snprintf(end, sizeof(end), "# end %s\n", t.id);
	last = t.manifest + strlen(t.manifest) - strlen(end);
	ck_assert_str_eq(last, end);

	/* every type, with its fields */
	ck_assert_int_eq(fstatat(t.fd, "etc/hostname", &st, 0), 0);
	l = line_of(t.manifest, "etc/hostname");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(
	    strncmp(l, "f 644 1000 1000 3 1000000000.123456789 0:0 ", 43), 0);
	/* etc/hn2 sorts first, so hostname points at it */
	ck_assert_ptr_nonnull(strstr(l, " etc/hn2 etc/hostname"));
	l = line_of(t.manifest, "etc/hn2");
	ck_assert_ptr_nonnull(strstr(l, " - etc/hn2"));
	l = line_of(t.manifest, "bin/ping");
	ck_assert_int_eq(strncmp(l, "f 4755 0 0 11 ", 14), 0);
	l = line_of(t.manifest, "bin");
	ck_assert_int_eq(strncmp(l, "d 755 0 0 0 ", 12), 0);
	ck_assert_ptr_null(
	    strstr(l, " 00000000000000000000000000000000 - bin"));
	l = line_of(t.manifest, "etc/pw");
	ck_assert_int_eq(strncmp(l, "l 777 0 0 11 ", 13), 0);
	l = line_of(t.manifest, "dev/null");
	ck_assert_int_eq(strncmp(l, "c 666 0 0 0 ", 12), 0);
	ck_assert_ptr_nonnull(
	    strstr(l, " 1:3 00000000000000000000000000000000 "
		      "00000000000000000000000000000000 - dev/null"));
	l = line_of(t.manifest, "dev/loop0");
	ck_assert_int_eq(strncmp(l, "b 660 ", 6), 0);
	ck_assert_ptr_nonnull(strstr(l, " 7:0 "));
	ck_assert_int_eq(strncmp(line_of(t.manifest, "run/fifo"), "p 644 ", 6),
			 0);
	ck_assert_int_eq(strncmp(line_of(t.manifest, "run/sock"), "s ", 2), 0);
	l = line_of(t.manifest, "var/sparse");
	ck_assert_int_eq(
	    strncmp(l, "f 644 0 0 1048576 1500000000.000000001 ", 39), 0);
	ck_assert_ptr_nonnull(line_of(t.manifest, "odd\\x20name\\x5cx"));
	ck_assert_ptr_nonnull(line_of(t.manifest, "."));
	ck_assert_int_eq(strncmp(line_of(t.manifest, "etc"),
				 "d 755 0 0 0 1600000000.999999999 ", 33),
			 0);
	/* the symlink to ".." was not followed */
	ck_assert_ptr_null(strstr(t.manifest, "etc/up/"));

	/* one line per entry, sorted bytewise */
	p = strchr(t.manifest, '\n') + 1;
	last = NULL;
	while (*p != '#') {
		const char *nl = strchr(p, '\n'), *sp = nl;

		while (sp[-1] != ' ')
			sp--;
		if (last)
			ck_assert_int_lt(strncmp(last, sp, 64), 0);
		last = sp;
		lines++;
		p = nl + 1;
	}
	/* . bin bin/ping dev dev/loop0 dev/null empty etc etc/hn2
	 * etc/hostname etc/pw etc/up odd-name run run/fifo run/sock var
	 * var/sparse */
	ck_assert_int_eq(lines, 18);

	/* deterministic, and clean against itself */
	ck_assert_int_eq(pifs_manifest_build(t.fd, &again, id2), 0);
	ck_assert_str_eq(again, t.manifest);
	ck_assert_str_eq(id2, t.id);
	free(again);
	ck_assert_int_eq(verify(&t, NULL, &report), 0);
	ck_assert_str_eq(report, "");
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_content)
{
	struct tree t;
	struct stat st;
	char *report;
	int fd;

	tree_setup(&t);
	ck_assert_int_eq(fstatat(t.fd, "bin/ping", &st, 0), 0);
	fd = openat(t.fd, "bin/ping", O_WRONLY);
	ck_assert_int_eq(pifs_pwrite_all(fd, "P", 1, 0), 0);
	close(fd);
	restore_times(t.fd, "bin/ping", &st);
	ck_assert_int_eq(verify(&t, NULL, &report), 1);
	ck_assert_str_eq(report, "modified content: 'bin/ping'\n");
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_sparse_content)
{
	struct tree t;
	struct stat st;
	char *report;
	int fd;

	/* data written into what was a hole changes the digest */
	tree_setup(&t);
	ck_assert_int_eq(fstatat(t.fd, "var/sparse", &st, 0), 0);
	fd = openat(t.fd, "var/sparse", O_WRONLY);
	ck_assert_int_eq(pifs_pwrite_all(fd, "x", 1, 900 * 1024), 0);
	close(fd);
	restore_times(t.fd, "var/sparse", &st);
	ck_assert_int_eq(verify(&t, NULL, &report), 1);
	ck_assert_str_eq(report, "modified content: 'var/sparse'\n");
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_mode)
{
	struct tree t;
	char *report;

	tree_setup(&t);
	ck_assert_int_eq(fchmodat(t.fd, "bin/ping", 0755, 0), 0);
	ck_assert_int_eq(verify(&t, NULL, &report), 1);
	ck_assert_str_eq(report, "mode changed: 'bin/ping' 4755 -> 755\n");
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_owner)
{
	struct tree t;
	char *report;

	tree_setup(&t);
	ck_assert_int_eq(
	    fchownat(t.fd, "etc/pw", 1000, 1001, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(verify(&t, NULL, &report), 1);
	ck_assert_str_eq(report, "owner changed: 'etc/pw' 0:0 -> 1000:1001\n");
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_mtime)
{
	struct tree t;
	char *report;

	tree_setup(&t);
	set_mtime(t.fd, "var/sparse", 1500000000, 2);
	ck_assert_int_eq(verify(&t, NULL, &report), 1);
	ck_assert_str_eq(report,
			 "mtime changed: 'var/sparse' "
			 "1500000000.000000001 -> 1500000000.000000002\n");
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_xattr)
{
	struct tree t;
	char *report;
	int fd;

	tree_setup(&t);
	/* a new xattr on one entry, a changed value on another */
	ck_assert_int_eq(pifs_lsetxattr(t.fd, "empty", "user.new", "1", 1, 0),
			 0);
	fd = openat(t.fd, "etc", O_PATH | O_DIRECTORY);
	ck_assert_int_eq(pifs_lsetxattr(fd, "pw", "trusted.link", "m", 1, 0),
			 0);
	close(fd);
	ck_assert_int_eq(verify(&t, NULL, &report), 2);
	ck_assert_str_eq(report, "xattrs changed: 'empty'\n"
				 "xattrs changed: 'etc/pw'\n");
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_added_removed)
{
	struct tree t;
	struct stat var, run;
	char *report;

	tree_setup(&t);
	ck_assert_int_eq(fstatat(t.fd, "var", &var, 0), 0);
	ck_assert_int_eq(fstatat(t.fd, "run", &run, 0), 0);
	put_file(t.fd, "var/new", "x", 0644);
	ck_assert_int_eq(unlinkat(t.fd, "run/fifo", 0), 0);
	restore_times(t.fd, "var", &var);
	restore_times(t.fd, "run", &run);
	ck_assert_int_eq(verify(&t, NULL, &report), 2);
	ck_assert_str_eq(report, "missing: 'run/fifo'\nextra: 'var/new'\n");
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_symlink_target)
{
	struct tree t;
	struct stat st, etc;
	char *report;

	tree_setup(&t);
	ck_assert_int_eq(fstatat(t.fd, "etc", &etc, 0), 0);
	ck_assert_int_eq(fstatat(t.fd, "etc/up", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(unlinkat(t.fd, "etc/up", 0), 0);
	ck_assert_int_eq(symlinkat("./", t.fd, "etc/up"), 0);
	restore_times(t.fd, "etc/up", &st);
	restore_times(t.fd, "etc", &etc);
	ck_assert_int_eq(verify(&t, NULL, &report), 1);
	ck_assert_str_eq(report, "modified content: 'etc/up'\n");
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_device_and_type)
{
	struct tree t;
	struct stat st, dev, root;
	char *report;

	tree_setup(&t);
	ck_assert_int_eq(fstatat(t.fd, "dev", &dev, 0), 0);
	ck_assert_int_eq(fstat(t.fd, &root), 0);
	ck_assert_int_eq(fstatat(t.fd, "dev/null", &st, 0), 0);
	ck_assert_int_eq(unlinkat(t.fd, "dev/null", 0), 0);
	ck_assert_int_eq(
	    mknodat(t.fd, "dev/null", S_IFCHR | 0666, makedev(1, 5)), 0);
	ck_assert_int_eq(fchmodat(t.fd, "dev/null", 0666, 0), 0);
	restore_times(t.fd, "dev/null", &st);
	restore_times(t.fd, "dev", &dev);
	ck_assert_int_eq(fstatat(t.fd, "empty", &st, 0), 0);
	ck_assert_int_eq(unlinkat(t.fd, "empty", 0), 0);
	ck_assert_int_eq(mkfifoat(t.fd, "empty", 0600), 0);
	ck_assert_int_eq(fchmodat(t.fd, "empty", 0600, 0), 0);
	restore_times(t.fd, "empty", &st);
	restore_times(t.fd, ".", &root);
	ck_assert_int_eq(verify(&t, NULL, &report), 2);
	ck_assert_str_eq(report, "device changed: 'dev/null' 1:3 -> 1:5\n"
				 "type changed: 'empty' f -> p\n");
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_hard_link_broken)
{
	struct tree t;
	struct stat st, etc;
	char *report;
	int fd;

	/* replace etc/hn2 by an identical but separate file */
	tree_setup(&t);
	ck_assert_int_eq(fstatat(t.fd, "etc", &etc, 0), 0);
	ck_assert_int_eq(fstatat(t.fd, "etc/hn2", &st, 0), 0);
	ck_assert_int_eq(unlinkat(t.fd, "etc/hn2", 0), 0);
	put_file(t.fd, "etc/hn2", "pi\n", 0644);
	ck_assert_int_eq(fchownat(t.fd, "etc/hn2", 1000, 1000, 0), 0);
	fd = openat(t.fd, "etc", O_PATH | O_DIRECTORY);
	ck_assert_int_eq(pifs_lsetxattr(fd, "hn2", "user.test", "abc", 3, 0),
			 0);
	close(fd);
	restore_times(t.fd, "etc/hn2", &st);
	restore_times(t.fd, "etc", &etc);
	ck_assert_int_eq(verify(&t, NULL, &report), 1);
	ck_assert_str_eq(report, "hard links changed: 'etc/hostname'\n");
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_truncated_or_corrupt)
{
	struct tree t;
	char *report, *bad;
	size_t len;

	tree_setup(&t);
	len = strlen(t.manifest);
	/* cut at a line end: every remaining line is well formed */
	bad = strndup(t.manifest, (size_t)(strchr(t.manifest + len / 2, '\n') -
					   t.manifest + 1));
	ck_assert_int_eq(verify(&t, bad, &report), 1);
	ck_assert_str_eq(report, "manifest truncated or corrupt\n");
	free(report);
	free(bad);
	/* cut inside the end line */
	bad = strndup(t.manifest, len - 3);
	ck_assert_int_eq(verify(&t, bad, &report), 1);
	ck_assert_str_eq(report, "manifest truncated or corrupt\n");
	free(report);
	free(bad);
	/* one changed byte in the middle */
	bad = strdup(t.manifest);
	bad[len / 2] = bad[len / 2] == '0' ? '1' : '0';
	ck_assert_int_eq(verify(&t, bad, &report), 1);
	ck_assert_str_eq(report, "manifest truncated or corrupt\n");
	free(report);
	free(bad);
	ck_assert_int_eq(verify(&t, "", &report), 1);
	free(report);
	tree_release(&t);
}
END_TEST

START_TEST(test_escape)
{
	char *e, *u;

	e = pifs_path_escape("a b\\c\x7f\xff\n-x");
	ck_assert_str_eq(e, "a\\x20b\\x5cc\\x7f\\xff\\x0a-x");
	u = pifs_path_unescape(e);
	ck_assert_str_eq(u, "a b\\c\x7f\xff\n-x");
	free(e);
	free(u);
	e = pifs_path_escape("-");
	ck_assert_str_eq(e, "\\x2d");
	u = pifs_path_unescape(e);
	ck_assert_str_eq(u, "-");
	free(e);
	free(u);
	ck_assert_ptr_null(pifs_path_unescape("a\\x"));
	ck_assert_ptr_null(pifs_path_unescape("a\\xg0"));
	ck_assert_ptr_null(pifs_path_unescape("a\\y20"));
	ck_assert_ptr_null(pifs_path_unescape("a\\x00"));
}
END_TEST

static Suite *manifest_suite(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_build_format);
	tcase_add_test(tc, test_content);
	tcase_add_test(tc, test_sparse_content);
	tcase_add_test(tc, test_mode);
	tcase_add_test(tc, test_owner);
	tcase_add_test(tc, test_mtime);
	tcase_add_test(tc, test_xattr);
	tcase_add_test(tc, test_added_removed);
	tcase_add_test(tc, test_symlink_target);
	tcase_add_test(tc, test_device_and_type);
	tcase_add_test(tc, test_hard_link_broken);
	tcase_add_test(tc, test_truncated_or_corrupt);
	tcase_add_test(tc, test_escape);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed, ret;

	if ((ret = unit_needs_root("check_manifest", "mknod, chown")))
		return ret;
	sr = srunner_create(manifest_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
