/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unit_golden.c - the golden tree and the per-test directories of the
 * store suites (check_store.c, check_store_delta.c); see unit_golden.h.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "manifest.h"
#include "safeio.h"
#include "util.h"
#include "unit_golden.h"

/* cap_net_raw+ep as a VFS_CAP_REVISION_2 security.capability value */
/* clang-format off */
const unsigned char cap_net_raw[20] = {
	0x01, 0x00, 0x00, 0x02,	/* magic_etc: revision 2, effective */
	0x00, 0x20, 0x00, 0x00,	/* permitted[0]: CAP_NET_RAW (13) */
	0, 0, 0, 0,		/* inheritable[0] */
	0, 0, 0, 0,		/* permitted[1] */
	0, 0, 0, 0,		/* inheritable[1] */
};
/* clang-format on */

/* system.posix_acl_access: user::rwx user:1000:rw- group::r-x mask::rwx
 * other::r-x (version 2, entries of tag u16, perm u16, id u32, LE) */
/* clang-format off */
const unsigned char acl[44] = {
	2, 0, 0, 0,
	0x01, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
	0x02, 0, 6, 0, 0xe8, 0x03, 0, 0,
	0x04, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
	0x10, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
	0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
};
/* clang-format on */

void base_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(base));
}

void base_teardown(void)
{
	char *slash = strrchr(base, '/');
	int fd;

	*slash = '\0';
	fd = open(base, O_PATH | O_DIRECTORY);
	pifs_remove_tree(fd, slash + 1);
	close(fd);
	*slash = '/';
}

static int seq;

/* a checked fixture: runs before each test, in its child under CK_FORK */
void test_setup(void)
{
	seq++;
}

/* base/<pid>-<seq>/<name>: a directory of its own for every test, with
 * and without CK_FORK */
char *tpath(const char *name)
{
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/%ld-%d", base, (long)getpid(), seq);
	mkdir(dir, 0755);
	return pifs_strdupf("%s/%s", dir, name);
}

void put_file(int dfd, const char *path, const char *data, mode_t mode)
{
	int fd = openat(dfd, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_write_all(fd, data, strlen(data)), 0);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

void set_times(int dfd, const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = {{sec - 100, nsec}, {sec, nsec}};

	ck_assert_int_eq(utimensat(dfd, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void make_socket(int dfd, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd,
		 name);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
}

/* A golden tree at path with everything store creation must keep. */
void make_golden(const char *path, int with_firmware)
{
	int g, fd;

	ck_assert_int_eq(mkdir(path, 0755), 0);
	g = open(path, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(g, 0);
	if (with_firmware) {
		ck_assert_int_eq(mkdirat(g, "boot", 0755), 0);
		ck_assert_int_eq(mkdirat(g, "boot/firmware", 0755), 0);
		put_file(g, "boot/firmware/config.txt", "arm_64bit=1\n", 0755);
		put_file(g, "boot/firmware/bootcode.bin", "bootcode\n", 0644);
	}
	ck_assert_int_eq(mkdirat(g, "usr", 0755), 0);
	ck_assert_int_eq(mkdirat(g, "usr/bin", 0755), 0);
	ck_assert_int_eq(mkdirat(g, "etc", 0755), 0);
	ck_assert_int_eq(mkdirat(g, "dev", 0755), 0);
	ck_assert_int_eq(mkdirat(g, "var", 0755), 0);
	ck_assert_int_eq(mkdirat(g, "var/mail", 0755), 0);
	ck_assert_int_eq(mkdirat(g, "tmp", 0755), 0);

	/* setuid, owned by someone else, with a file capability */
	put_file(g, "usr/bin/ping", "\177ELF ping", 0755);
	ck_assert_int_eq(fchownat(g, "usr/bin/ping", 1000, 1000, 0), 0);
	ck_assert_int_eq(fchmodat(g, "usr/bin/ping", 04755, 0), 0);
	fd = openat(g, "usr/bin", O_PATH | O_DIRECTORY);
	ck_assert_int_eq(pifs_lsetxattr(fd, "ping", "security.capability",
					cap_net_raw, sizeof(cap_net_raw), 0),
			 0);
	close(fd);
	ck_assert_int_eq(fchownat(g, "var/mail", 0, 8, 0), 0);
	ck_assert_int_eq(fchmodat(g, "var/mail", 02775, 0), 0);
	ck_assert_int_eq(fchmodat(g, "tmp", 01777, 0), 0);

	/* hard links, symlinks that point outside */
	put_file(g, "etc/hostname", "pi\n", 0644);
	ck_assert_int_eq(linkat(g, "etc/hostname", g, "etc/hn2", 0), 0);
	ck_assert_int_eq(linkat(g, "etc/hostname", g, "hn3", 0), 0);
	ck_assert_int_eq(symlinkat("../../../../../../outside", g, "etc/out"),
			 0);
	ck_assert_int_eq(symlinkat("/etc/shadow", g, "etc/abs"), 0);
	ck_assert_int_eq(symlinkat("..", g, "etc/up"), 0);
	/* xattrs of several namespaces, a POSIX ACL */
	fd = openat(g, "etc", O_PATH | O_DIRECTORY);
	ck_assert_int_eq(
	    pifs_lsetxattr(fd, "hostname", "user.note", "hi", 2, 0), 0);
	ck_assert_int_eq(pifs_lsetxattr(fd, "abs", "trusted.t", "sym", 3, 0),
			 0);
	close(fd);
	put_file(g, "etc/acl", "acl\n", 0644);
	fd = openat(g, "etc", O_PATH | O_DIRECTORY);
	ck_assert_int_eq(pifs_lsetxattr(fd, "acl", "system.posix_acl_access",
					acl, sizeof(acl), 0),
			 0);
	close(fd);
	ck_assert_int_eq(pifs_lsetxattr(g, "var", "trusted.dir", "d", 1, 0), 0);

	/* special files */
	ck_assert_int_eq(mknodat(g, "dev/null", S_IFCHR | 0666, makedev(1, 3)),
			 0);
	ck_assert_int_eq(fchmodat(g, "dev/null", 0666, 0), 0);
	ck_assert_int_eq(mknodat(g, "dev/sda", S_IFBLK | 0660, makedev(8, 0)),
			 0);
	ck_assert_int_eq(mkfifoat(g, "dev/initctl", 0600), 0);
	fd = openat(g, "dev", O_PATH | O_DIRECTORY);
	make_socket(fd, "log");
	close(fd);

	/* 5 GiB with 4 bytes of data at 1 GiB, the rest holes */
	fd = openat(g, "var/big", O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_pwrite_all(fd, "data", 4, GIB), 0);
	ck_assert_int_eq(ftruncate(fd, 5 * GIB), 0);
	close(fd);

	/* ns timestamps; directories after their contents */
	set_times(g, "usr/bin/ping", 1234567890, 123456789);
	set_times(g, "etc/out", 1111111111, 111111111);
	set_times(g, "var/big", 1300000000, 999999999);
	set_times(g, "dev/initctl", 1222222222, 5);
	set_times(g, "dev", 1400000000, 0);
	set_times(g, "etc", 1400000000, 1);
	set_times(g, "usr/bin", 1400000000, 2);
	set_times(g, "var", 1400000000, 3);
	set_times(g, ".", 1500000000, 42);
	close(g);
}

char *manifest_of(const char *path)
{
	char *m;
	int fd = open(path, O_RDONLY | O_DIRECTORY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_manifest_build(fd, &m, NULL), 0);
	close(fd);
	return m;
}
