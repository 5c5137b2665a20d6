/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_store.c - the store: creating one copies the golden with every
 * attribute (setuid, file capabilities, ACLs, hard links, symlinks pointing
 * outside, devices, fifos, sockets, a sparse 5 GiB file, ns timestamps) and
 * makes it immutable; refusals and failures leave nothing behind; the tree
 * copy; open, locks and pifs.conf.  Worker deltas and work/ are in
 * check_store_delta.c, the golden both start from in unit_golden.c.  Runs
 * as root under a mkdtemp in /var/tmp (ext4: trusted.* xattrs and the
 * immutable flag).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "manifest.h"
#include "safeio.h"
#include "store.h"
#include "util.h"
#include "unit.h"
#include "unit_golden.h"

char base[] = "/var/tmp/check_store.XXXXXX";

static int get_flags(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
	int flags = 0;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ioctl(fd, FS_IOC_GETFLAGS, &flags), 0);
	close(fd);
	return flags;
}

START_TEST(test_create_copies_everything)
{
	char *golden = tpath("golden"), *store = tpath("store"), *tree;
	char err[512] = "", *progress = NULL, *want, *have, *text, buf[64];
	struct pifs_store st;
	struct stat a, b;
	size_t plen;
	ssize_t n;
	FILE *pf;
	int t, fd;

	make_golden(golden, 1);
	want = manifest_of(golden);
	pf = open_memstream(&progress, &plen);
	ck_assert_int_eq(
	    pifs_store_create(store, golden, NULL, pf, err, sizeof(err)), 0);
	fclose(pf);
	ck_assert_ptr_null(strstr(progress, "warning"));
	ck_assert_int_eq(pifs_store_open(&st, store, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(progress, st.conf.golden));
	tree = pifs_strdupf("%s/goldens/%s/tree", store, st.conf.golden);

	/* the manifest covers type, mode, owner, size, mtime, rdev, data,
	 * xattrs and hard links of every entry: the copy must match */
	have = manifest_of(tree);
	ck_assert_str_eq(have, want);

	t = open(tree, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(t, 0);
	ck_assert_int_eq(fstatat(t, "usr/bin/ping", &a, AT_SYMLINK_NOFOLLOW),
			 0);
	ck_assert_uint_eq(a.st_mode, S_IFREG | 04755);
	ck_assert_uint_eq(a.st_uid, 1000);
	ck_assert_int_eq(a.st_mtim.tv_sec, 1234567890);
	ck_assert_int_eq(a.st_mtim.tv_nsec, 123456789);
	fd = openat(t, "usr/bin", O_PATH | O_DIRECTORY);
	n = pifs_lgetxattr(fd, "ping", "security.capability", buf, sizeof(buf));
	close(fd);
	ck_assert_int_eq(n, sizeof(cap_net_raw));
	ck_assert_int_eq(memcmp(buf, cap_net_raw, sizeof(cap_net_raw)), 0);
	ck_assert_int_eq(fstatat(t, "var/mail", &a, 0), 0);
	ck_assert_uint_eq(a.st_mode, S_IFDIR | 02775);
	ck_assert_uint_eq(a.st_gid, 8);
	ck_assert_int_eq(fstatat(t, "tmp", &a, 0), 0);
	ck_assert_uint_eq(a.st_mode, S_IFDIR | 01777);

	/* ACL bytes and the group bits they imply */
	fd = openat(t, "etc", O_PATH | O_DIRECTORY);
	n = pifs_lgetxattr(fd, "acl", "system.posix_acl_access", buf,
			   sizeof(buf));
	ck_assert_int_eq(n, sizeof(acl));
	ck_assert_int_eq(memcmp(buf, acl, sizeof(acl)), 0);
	close(fd);
	ck_assert_int_eq(fstatat(t, "etc/acl", &a, 0), 0);
	ck_assert_uint_eq(a.st_mode & 07777, 0775);

	/* one inode for the three names */
	ck_assert_int_eq(fstatat(t, "etc/hostname", &a, 0), 0);
	ck_assert_int_eq(fstatat(t, "etc/hn2", &b, 0), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	ck_assert_int_eq(fstatat(t, "hn3", &b, 0), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	ck_assert_uint_eq(a.st_nlink, 3);

	/* symlink targets verbatim, never followed; symlink times kept */
	n = readlinkat(t, "etc/out", buf, sizeof(buf));
	ck_assert_int_eq(n, 25);
	ck_assert_int_eq(memcmp(buf, "../../../../../../outside", 25), 0);
	n = readlinkat(t, "etc/abs", buf, sizeof(buf));
	ck_assert_int_eq(n, 11);
	ck_assert_int_eq(memcmp(buf, "/etc/shadow", 11), 0);
	ck_assert_int_eq(fstatat(t, "etc/out", &a, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(a.st_mtim.tv_sec, 1111111111);
	ck_assert_int_eq(a.st_mtim.tv_nsec, 111111111);

	/* devices, fifo, socket */
	ck_assert_int_eq(fstatat(t, "dev/null", &a, 0), 0);
	ck_assert(S_ISCHR(a.st_mode));
	ck_assert_uint_eq(a.st_rdev, makedev(1, 3));
	ck_assert_int_eq(fstatat(t, "dev/sda", &a, 0), 0);
	ck_assert(S_ISBLK(a.st_mode));
	ck_assert_uint_eq(a.st_rdev, makedev(8, 0));
	ck_assert_int_eq(fstatat(t, "dev/initctl", &a, 0), 0);
	ck_assert(S_ISFIFO(a.st_mode));
	/* nothing reads a fifo: its atime is still the copied one */
	ck_assert_int_eq(a.st_atim.tv_sec, 1222222222 - 100);
	ck_assert_int_eq(a.st_atim.tv_nsec, 5);
	ck_assert_int_eq(a.st_mtim.tv_nsec, 5);
	ck_assert_int_eq(fstatat(t, "dev/log", &a, 0), 0);
	ck_assert(S_ISSOCK(a.st_mode));

	/* the sparse file stays sparse */
	ck_assert_int_eq(fstatat(t, "var/big", &a, 0), 0);
	ck_assert_int_eq(a.st_size, 5 * GIB);
	ck_assert_int_lt(a.st_blocks * 512, 1024 * 1024);
	fd = openat(t, "var/big", O_RDONLY);
	ck_assert_int_eq(pread(fd, buf, 4, GIB), 4);
	ck_assert_int_eq(memcmp(buf, "data", 4), 0);
	close(fd);

	/* ns times of directories survive their children being copied */
	ck_assert_int_eq(fstat(t, &a), 0);
	ck_assert_int_eq(a.st_mtim.tv_sec, 1500000000);
	ck_assert_int_eq(a.st_mtim.tv_nsec, 42);
	ck_assert_int_eq(fstatat(t, "etc", &a, 0), 0);
	ck_assert_int_eq(a.st_mtim.tv_nsec, 1);

	/* immutable golden, mutable store */
	ck_assert_int_ne(get_flags(t, ".") & FS_IMMUTABLE_FL, 0);
	ck_assert_int_ne(get_flags(t, "usr/bin/ping") & FS_IMMUTABLE_FL, 0);
	ck_assert_int_ne(get_flags(t, "var") & FS_IMMUTABLE_FL, 0);
	ck_assert_int_eq(unlinkat(t, "etc/hostname", 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(get_flags(st.fd, ".") & FS_IMMUTABLE_FL, 0);

	/* layout */
	ck_assert_int_eq(pifs_read_file(st.fd, "pifs.conf", 4096, &text, NULL),
			 0);
	snprintf(buf, sizeof(buf), "golden %s\n", st.conf.golden);
	ck_assert_ptr_nonnull(strstr(text, "format 1\n"));
	ck_assert_ptr_nonnull(strstr(text, buf));
	ck_assert_ptr_nonnull(strstr(text, "master 10.1.1.100\n"));
	ck_assert_ptr_nonnull(strstr(text, "range 10.1.1.1-10.1.1.20\n"));
	free(text);
	ck_assert_str_eq(st.conf.master, "10.1.1.100");
	ck_assert_str_eq(st.conf.range_lo, "10.1.1.1");
	ck_assert_str_eq(st.conf.range_hi, "10.1.1.20");
	ck_assert_int_eq(fstat(st.deltas_fd, &a), 0);
	ck_assert_uint_eq(a.st_mode, S_IFDIR | 0700);
	ck_assert_uint_eq(a.st_uid, 0);
	ck_assert_int_eq(fstat(st.work_fd, &a), 0);
	ck_assert_uint_eq(a.st_mode, S_IFDIR | 0700);
	ck_assert_int_eq(fstatat(st.fd, "lock", &a, 0), 0);
	ck_assert_uint_eq(a.st_mode, S_IFDIR | 0700);
	ck_assert_int_eq(fstatat(st.fd, "", &a, AT_EMPTY_PATH), 0);
	ck_assert_uint_eq(a.st_mode, S_IFDIR | 0700);
	ck_assert_int_eq(pifs_read_file(st.fd, "workers", 4096, &text, NULL),
			 0);
	ck_assert_str_eq(text, "# pifs worker registry v2\nnext-id 1\n");
	free(text);

	/* the stored manifest is the copy's, and verify is clean */
	snprintf(buf, sizeof(buf), "goldens/%s/manifest", st.conf.golden);
	ck_assert_int_eq(pifs_read_file(st.fd, buf, 1 << 20, &text, NULL), 0);
	ck_assert_int_eq(pifs_manifest_verify(st.golden_fd, text, NULL), 0);
	free(text);

	close(t);
	pifs_store_close(&st);
	free(want);
	free(have);
	free(tree);
	free(progress);
	free(golden);
	free(store);
}
END_TEST

START_TEST(test_create_refusals)
{
	char *golden = tpath("golden"), *store = tpath("store");
	char *file = tpath("file"), *full = tpath("full");
	char *inside, err[512], want[600];
	struct stat st;
	int fd;

	/* missing golden */
	ck_assert_int_eq(
	    pifs_store_create(store, golden, NULL, NULL, err, sizeof(err)),
	    -ENOENT);
	snprintf(want, sizeof(want), "golden '%s' does not exist", golden);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(access(store, F_OK), -1);

	/* golden is a file but not a disk image (check_image has more) */
	fd = open(file, O_WRONLY | O_CREAT, 0644);
	close(fd);
	ck_assert_int_eq(
	    pifs_store_create(store, file, NULL, NULL, err, sizeof(err)),
	    -EINVAL);
	snprintf(want, sizeof(want), "image '%s' has no partition table",
		 file);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(access(store, F_OK), -1);

	/* golden is neither a directory nor a file */
	ck_assert_int_eq(
	    pifs_store_create(store, "/dev/null", NULL, NULL, err, sizeof(err)),
	    -ENOTDIR);
	ck_assert_str_eq(err,
			 "golden '/dev/null' is not a directory or a disk image");
	ck_assert_int_eq(access(store, F_OK), -1);

	make_golden(golden, 1);

	/* bad master */
	ck_assert_int_eq(
	    pifs_store_create(store, golden, "10.1.1", NULL, err, sizeof(err)),
	    -EINVAL);
	ck_assert_str_eq(err, "bad master address '10.1.1'");
	ck_assert_int_eq(access(store, F_OK), -1);

	/* a non-empty store directory is left as it was */
	ck_assert_int_eq(mkdir(full, 0755), 0);
	fd = open(full, O_PATH | O_DIRECTORY);
	put_file(fd, "precious", "keep me", 0644);
	ck_assert_int_eq(
	    pifs_store_create(full, golden, NULL, NULL, err, sizeof(err)),
	    -ENOTEMPTY);
	snprintf(want, sizeof(want), "store '%s' exists and is not empty",
		 full);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(fstatat(fd, "precious", &st, 0), 0);
	ck_assert_int_eq(st.st_size, 7);
	ck_assert_int_eq(fstatat(fd, "goldens", &st, 0), -1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	close(fd);

	/* a file where the store should go */
	ck_assert_int_eq(
	    pifs_store_create(file, golden, NULL, NULL, err, sizeof(err)),
	    -EEXIST);
	snprintf(want, sizeof(want), "store '%s' exists and is not a directory",
		 file);
	ck_assert_str_eq(err, want);

	/* a store inside its own golden would copy itself forever */
	inside = pifs_strdupf("%s/store", golden);
	ck_assert_int_eq(
	    pifs_store_create(inside, golden, NULL, NULL, err, sizeof(err)),
	    -EINVAL);
	snprintf(want, sizeof(want), "store '%s' is inside the golden '%s'",
		 inside, golden);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(access(inside, F_OK), -1);

	/* a store whose parent does not exist */
	free(inside);
	inside = pifs_strdupf("%s/no/such", store);
	ck_assert_int_eq(
	    pifs_store_create(inside, golden, NULL, NULL, err, sizeof(err)),
	    -ENOENT);
	snprintf(want, sizeof(want), "cannot create store '%s': %s", inside,
		 strerror(ENOENT));
	ck_assert_str_eq(err, want);
	free(inside);
	free(golden);
	free(store);
	free(file);
	free(full);
}
END_TEST

START_TEST(test_create_failure_leaves_nothing)
{
	char *golden = tpath("golden"), *store = tpath("store");
	char *empty = tpath("empty"), err[512];
	struct rlimit rl, old;
	struct stat st;
	int g, fd;
	DIR *d;
	struct dirent *de;
	int entries = 0;

	/* a golden with a 1 MiB file; the copy hits RLIMIT_FSIZE mid-way */
	make_golden(golden, 1);
	g = open(golden, O_PATH | O_DIRECTORY);
	fd = openat(g, "usr/lib.so", O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 256; i++) {
		char page[4096];

		memset(page, 'a' + i % 26, sizeof(page));
		ck_assert_int_eq(pifs_write_all(fd, page, sizeof(page)), 0);
	}
	close(fd);
	close(g);
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl.rlim_cur = 256 * 1024; /* the soft limit only: it comes back */
	rl.rlim_max = old.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);

	ck_assert_int_eq(
	    pifs_store_create(store, golden, NULL, NULL, err, sizeof(err)),
	    -EFBIG);
	ck_assert_int_eq(strncmp(err, "cannot copy '", 13), 0);
	ck_assert_ptr_nonnull(strstr(err, strerror(EFBIG)));
	ck_assert_int_eq(stat(store, &st), -1);
	ck_assert_int_eq(errno, ENOENT);

	/* an existing empty directory stays, and stays empty */
	ck_assert_int_eq(mkdir(empty, 0755), 0);
	ck_assert_int_eq(
	    pifs_store_create(empty, golden, NULL, NULL, err, sizeof(err)),
	    -EFBIG);
	d = opendir(empty);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			entries++;
	closedir(d);
	ck_assert_int_eq(entries, 0);
	/* for CK_FORK=no: the next tests write big files */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	free(golden);
	free(store);
	free(empty);
}
END_TEST

START_TEST(test_firmware_warning)
{
	char *golden = tpath("golden"), *store = tpath("store");
	char err[512], *progress = NULL, want[600];
	size_t plen;
	FILE *pf;

	make_golden(golden, 0);
	pf = open_memstream(&progress, &plen);
	ck_assert_int_eq(pifs_store_create(store, golden, "192.168.0.1", pf,
					   err, sizeof(err)),
			 0);
	fclose(pf);
	snprintf(want, sizeof(want),
		 "warning: golden '%s' has no boot/firmware directory\n",
		 golden);
	ck_assert_ptr_nonnull(strstr(progress, want));
	free(progress);
	free(golden);
	free(store);
}
END_TEST

START_TEST(test_open_errors)
{
	char *golden = tpath("golden"), *store = tpath("store");
	char *nothing = tpath("nothing"), err[512], want[600];
	struct pifs_store st;
	int fd;

	ck_assert_int_eq(pifs_store_open(&st, nothing, err, sizeof(err)),
			 -ENOENT);
	snprintf(want, sizeof(want), "no store at '%s'", nothing);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(st.fd, -1);

	ck_assert_int_eq(mkdir(nothing, 0755), 0);
	ck_assert_int_eq(pifs_store_open(&st, nothing, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "'%s' is not a pifs store", nothing);
	ck_assert_str_eq(err, want);

	make_golden(golden, 1);
	ck_assert_int_eq(pifs_store_create(store, golden, "10.0.0.1", NULL, err,
					   sizeof(err)),
			 0);
	ck_assert_int_eq(pifs_store_open(&st, store, err, sizeof(err)), 0);
	ck_assert_str_eq(st.conf.master, "10.0.0.1");
	ck_assert_uint_eq(st.conf.format, 1);
	ck_assert_int_eq(st.lock_fd, -1);
	fd = st.fd;
	st.fd = -1;
	pifs_store_close(&st);

	/* a future format is not ours */
	ck_assert_int_eq(pifs_write_file_atomic(
			     fd, "pifs.conf",
			     "format 2\ngolden 0123456789abcdef\n", 33, 0600),
			 0);
	ck_assert_int_eq(pifs_store_open(&st, store, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "'%s' is not a pifs store", store);
	ck_assert_str_eq(err, want);
	/* format right, golden missing */
	ck_assert_int_eq(pifs_write_file_atomic(
			     fd, "pifs.conf",
			     "format 1\ngolden 0123456789abcdef\n", 33, 0600),
			 0);
	ck_assert_int_eq(pifs_store_open(&st, store, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "is damaged"));
	close(fd);
	free(golden);
	free(store);
	free(nothing);
}
END_TEST

START_TEST(test_locks)
{
	char *golden = tpath("golden"), *store = tpath("store"), err[512];
	struct pifs_store a, b;
	char *text;
	pid_t pid;

	make_golden(golden, 1);
	ck_assert_int_eq(
	    pifs_store_create(store, golden, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_store_open(&a, store, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_store_open(&b, store, err, sizeof(err)), 0);

	ck_assert_int_eq(pifs_store_lock(&a, 1000), 0);
	ck_assert_int_eq(pifs_store_lock(&b, 100), -EAGAIN);
	ck_assert_int_eq(b.lock_fd, -1);
	pifs_store_unlock(&a);
	ck_assert_int_eq(pifs_store_lock(&b, 100), 0);
	pifs_store_unlock(&b);

	ck_assert_int_eq(pifs_store_mounted(&b, &pid), 0);
	ck_assert_int_eq(pifs_store_lock_daemon(&a, &pid), 0);
	ck_assert_int_eq(pifs_read_file(a.fd, "lock/daemon", 64, &text, NULL),
			 0);
	ck_assert_int_eq(atoi(text), getpid());
	free(text);
	ck_assert_int_eq(pifs_store_mounted(&b, &pid), 1);
	ck_assert_int_eq(pid, getpid());
	pid = 0;
	ck_assert_int_eq(pifs_store_lock_daemon(&b, &pid), -EBUSY);
	ck_assert_int_eq(pid, getpid());
	pifs_store_close(&a);
	ck_assert_int_eq(pifs_store_mounted(&b, &pid), 0);
	ck_assert_int_eq(pifs_store_lock_daemon(&b, &pid), 0);
	pifs_store_close(&b);
	free(golden);
	free(store);
}
END_TEST

/* pifs_store_wait_released: the lock first, then the process that held
 * it; a zombie has let go. */
START_TEST(test_wait_released)
{
	char *golden = tpath("golden"), *store = tpath("store"), err[512];
	int go[2], ready[2];
	struct pifs_store st;
	pid_t child, pid;
	char c;

	make_golden(golden, 1);
	ck_assert_int_eq(
	    pifs_store_create(store, golden, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_store_open(&st, store, err, sizeof(err)), 0);
	/* never mounted */
	ck_assert_int_eq(pifs_store_wait_released(&st, 100, &pid), 0);
	ck_assert_int_eq(pid, 0);

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ready), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		/* a daemon: takes the lock, lets go of it on the first byte,
		 * exits on the second */
		struct pifs_store d;

		if (pifs_store_open(&d, store, err, sizeof(err)) < 0 ||
		    pifs_store_lock_daemon(&d, NULL) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		pifs_store_close(&d);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(pifs_store_wait_released(&st, 100, &pid), -ETIMEDOUT);
	ck_assert_int_eq(pid, child);
	/* the lock is free, the process still there */
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(pifs_store_mounted(&st, NULL), 0);
	pid = 0;
	ck_assert_int_eq(pifs_store_wait_released(&st, 100, &pid), -ETIMEDOUT);
	ck_assert_int_eq(pid, child);
	/* exited, not yet reaped: a zombie */
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(pifs_store_wait_released(&st, 30000, &pid), 0);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	ck_assert_int_eq(pifs_store_wait_released(&st, 100, &pid), 0);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
	pifs_store_close(&st);
	free(golden);
	free(store);
}
END_TEST

/* pifs.conf's enrolment and hosts-dir settings: absent by default (so an
 * older pifs reads the file), one spelling when set, anything else
 * refused; the reservations file dnsmasq reads. */
START_TEST(test_conf_enroll)
{
	char *golden = tpath("golden"), *store = tpath("store"), err[512];
	char *hosts = tpath("hosts"), *text, want[1024];
	struct pifs_store_conf conf;
	struct pifs_registry reg;
	struct pifs_worker w;
	struct pifs_store st;
	int fd;
	static const char *const bad[] = {
	    "enroll on", "enroll yes 5", "enroll on 0", "enroll on -1",
	    "enroll on 05", "enroll on 1001", "enroll on 5x", "enroll on 5 6",
	    "hostsdir relative", "hostsdir /a b", "hostsdir /a,b",
	    "exports /e.exports", "exports e.exports /nfsroot",
	    "exports /e.exports nfsroot", "exports /e.exports /n /m",
	    "exports /e,x /nfsroot",
	};

	make_golden(golden, 1);
	ck_assert_int_eq(
	    pifs_store_create(store, golden, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_store_open(&st, store, err, sizeof(err)), 0);
	ck_assert_int_eq(st.conf.enroll, 0);
	ck_assert_uint_eq(st.conf.enroll_max, PIFS_ENROLL_MAX_DEFAULT);
	ck_assert_str_eq(st.conf.hostsdir, "");
	ck_assert_int_eq(pifs_read_file(st.fd, "pifs.conf", 4096, &text, NULL),
			 0);
	ck_assert_ptr_null(strstr(text, "enroll"));
	ck_assert_ptr_null(strstr(text, "hostsdir"));
	free(text);

	conf = st.conf;
	conf.enroll = 1;
	conf.enroll_max = 12;
	snprintf(conf.hostsdir, sizeof(conf.hostsdir), "%s", hosts);
	snprintf(conf.exports, sizeof(conf.exports), "/etc/x/pifs.exports");
	snprintf(conf.exports_root, sizeof(conf.exports_root), "/nfsroot");
	ck_assert_int_eq(pifs_store_conf_save(&st, &conf), 0);
	memset(&conf, 0, sizeof(conf));
	ck_assert_int_eq(pifs_store_conf_read(&st, &conf), 0);
	ck_assert_int_eq(conf.enroll, 1);
	ck_assert_uint_eq(conf.enroll_max, 12);
	ck_assert_str_eq(conf.hostsdir, hosts);
	ck_assert_str_eq(conf.exports, "/etc/x/pifs.exports");
	ck_assert_str_eq(conf.exports_root, "/nfsroot");
	/* off with the default cap: the line goes away again */
	conf.enroll = 0;
	conf.enroll_max = PIFS_ENROLL_MAX_DEFAULT;
	conf.hostsdir[0] = '\0';
	conf.exports[0] = '\0';
	ck_assert_int_eq(pifs_store_conf_save(&st, &conf), 0);
	ck_assert_int_eq(pifs_read_file(st.fd, "pifs.conf", 4096, &text, NULL),
			 0);
	ck_assert_ptr_null(strstr(text, "enroll"));
	ck_assert_ptr_null(strstr(text, "exports"));
	free(text);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *t = pifs_strdupf("format 1\ngolden %s\n%s\n",
				       st.conf.golden, bad[i]);

		ck_assert_int_eq(pifs_write_file_atomic(st.fd, "pifs.conf", t,
							strlen(t), 0600), 0);
		ck_assert_msg(pifs_store_conf_read(&st, &conf) == -EINVAL,
			      "'%s' accepted", bad[i]);
		free(t);
	}

	/* the reservations: MAC, address, name; none for a MAC not known */
	snprintf(st.conf.hostsdir, sizeof(st.conf.hostsdir), "%s", hosts);
	ck_assert_int_eq(mkdir(hosts, 0755), 0);
	pifs_registry_init(&reg);
	memset(&w, 0, sizeof(w));
	snprintf(w.name, sizeof(w.name), "worker-1");
	snprintf(w.serial, sizeof(w.serial), "77b655ec");
	snprintf(w.mac, sizeof(w.mac), "b8:27:eb:b6:55:ec");
	snprintf(w.ip, sizeof(w.ip), "10.1.1.1");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	memset(&w, 0, sizeof(w));
	snprintf(w.name, sizeof(w.name), "worker-2");
	snprintf(w.serial, sizeof(w.serial), "9ffefdef");
	snprintf(w.ip, sizeof(w.ip), "10.1.1.2");
	w.model = PIFS_MODEL_PI4;
	w.flags = PIFS_WORKER_ENROLLED;
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_store_hosts_write(&st, &reg), 0);
	fd = open(hosts, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_read_file(fd, "pifs-workers", 4096, &text, NULL),
			 0);
	snprintf(want, sizeof(want),
		 "# dnsmasq dhcp-hostsdir file of the pifs store '%s': one "
		 "fixed\n# address per worker; pifs rewrites it when the "
		 "registry changes.\nb8:27:eb:b6:55:ec,10.1.1.1,worker-1\n",
		 store);
	ck_assert_str_eq(text, want);
	free(text);
	close(fd);
	pifs_registry_release(&reg);
	pifs_store_close(&st);
	free(golden);
	free(store);
	free(hosts);
}
END_TEST

START_TEST(test_tree_copy)
{
	char *golden = tpath("golden"), *dst = tpath("dst");
	char *want, *have, *copy;
	int d, g;

	make_golden(golden, 1);
	ck_assert_int_eq(mkdir(dst, 0700), 0);
	d = open(dst, O_PATH | O_DIRECTORY);
	g = open(golden, O_PATH | O_DIRECTORY);
	ck_assert_int_eq(pifs_tree_copy(g, ".", d, "copy", NULL), 0);
	want = manifest_of(golden);
	copy = pifs_strdupf("%s/copy", dst);
	have = manifest_of(copy);
	ck_assert_str_eq(have, want);
	/* no overwriting */
	ck_assert_int_eq(pifs_tree_copy(g, ".", d, "copy", NULL), -EEXIST);
	ck_assert_int_eq(pifs_tree_copy(g, ".", d, "a/b", NULL), -EINVAL);
	close(d);
	close(g);
	free(want);
	free(have);
	free(copy);
	free(golden);
	free(dst);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_checked_fixture(tc, test_setup, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_create_copies_everything);
	tcase_add_test(tc, test_create_refusals);
	tcase_add_test(tc, test_create_failure_leaves_nothing);
	tcase_add_test(tc, test_firmware_warning);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_locks);
	tcase_add_test(tc, test_wait_released);
	tcase_add_test(tc, test_tree_copy);
	tcase_add_test(tc, test_conf_enroll);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed, ret;

	if ((ret = unit_needs_root("check_store", "mknod, chown, xattrs")))
		return ret;
	sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
