/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_store_delta.c - a store's worker deltas and work/: a delta made
 * on the golden and what it keeps, work/ cleaning and a store's removal,
 * and what the commands use instead of the store's fds (work/ builds,
 * resets, a delta's emptiness, the undo of a create).  The golden comes
 * from unit_golden.c; the rest of the store is in check_store.c.  Runs
 * as root under a mkdtemp in /var/tmp (ext4: trusted.* xattrs and the
 * immutable flag).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "safeio.h"
#include "store.h"
#include "util.h"
#include "unit.h"
#include "unit_golden.h"

char base[] = "/var/tmp/check_store_delta.XXXXXX";

START_TEST(test_delta)
{
	char *golden = tpath("golden"), *store = tpath("store");
	char err[512], *kept, buf[64];
	struct pifs_store st;
	struct stat g, d;
	uint8_t origin[8];
	uint64_t ino = 0;
	ssize_t n;
	int gfd, i;

	make_golden(golden, 1);
	gfd = open(golden, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(fchown(gfd, 1000, 1001), 0);
	ck_assert_int_eq(fchmod(gfd, 0750), 0);
	ck_assert_int_eq(pifs_lsetxattr(gfd, NULL, "user.root", "r", 1, 0), 0);
	ck_assert_int_eq(
	    pifs_lsetxattr(gfd, NULL, PIFS_XATTR_OPAQUE, "y", 1, 0), 0);
	ck_assert_int_eq(
	    pifs_lsetxattr(gfd, NULL, "trusted.pifs.junk", "j", 1, 0), 0);
	set_times(gfd, ".", 1500000000, 7);
	close(gfd);
	ck_assert_int_eq(
	    pifs_store_create(store, golden, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_store_open(&st, store, err, sizeof(err)), 0);

	ck_assert_int_eq(pifs_store_delta_create(&st, "worker-1"), 0);
	ck_assert_int_eq(pifs_store_delta_create(&st, "worker-1"), -EEXIST);
	ck_assert_int_eq(pifs_store_delta_create(&st, "../x"), -EINVAL);
	ck_assert_int_eq(pifs_fstat(st.golden_fd, &g), 0);
	ck_assert_int_eq(
	    fstatat(st.deltas_fd, "worker-1", &d, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_uint_eq(d.st_mode, S_IFDIR | 0750);
	ck_assert_uint_eq(d.st_mode, g.st_mode);
	ck_assert_uint_eq(d.st_uid, 1000);
	ck_assert_uint_eq(d.st_gid, 1001);
	ck_assert_int_eq(d.st_mtim.tv_sec, 1500000000);
	ck_assert_int_eq(d.st_mtim.tv_nsec, 7);
	ck_assert_int_eq(d.st_atim.tv_sec, g.st_atim.tv_sec);

	n = pifs_lgetxattr(st.deltas_fd, "worker-1", "user.root", buf,
			   sizeof(buf));
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(pifs_lgetxattr(st.deltas_fd, "worker-1",
					PIFS_XATTR_OPAQUE, buf, sizeof(buf)),
			 -ENODATA);
	ck_assert_int_eq(pifs_lgetxattr(st.deltas_fd, "worker-1",
					"trusted.pifs.junk", buf, sizeof(buf)),
			 -ENODATA);
	n = pifs_lgetxattr(st.deltas_fd, "worker-1", PIFS_XATTR_ORIGIN, origin,
			   sizeof(origin));
	ck_assert_int_eq(n, 8);
	for (i = 7; i >= 0; i--)
		ino = ino << 8 | origin[i];
	ck_assert_uint_eq(ino, g.st_ino);

	ck_assert_int_eq(pifs_store_delta_retire(&st, "worker-1", &kept), 0);
	ck_assert_int_eq(strncmp(kept, ".removed-worker-1-", 18), 0);
	ck_assert_int_eq(fstatat(st.deltas_fd, kept, &d, 0), 0);
	ck_assert(S_ISDIR(d.st_mode));
	ck_assert_int_eq(fstatat(st.deltas_fd, "worker-1", &d, 0), -1);
	free(kept);
	/* retiring twice within a second keeps both */
	ck_assert_int_eq(pifs_store_delta_create(&st, "worker-1"), 0);
	ck_assert_int_eq(pifs_store_delta_retire(&st, "worker-1", &kept), 0);
	ck_assert_int_eq(fstatat(st.deltas_fd, kept, &d, 0), 0);
	free(kept);
	ck_assert_int_eq(pifs_store_delta_retire(&st, "worker-1", &kept),
			 -ENOENT);
	ck_assert_ptr_null(kept);
	pifs_store_close(&st);
	free(golden);
	free(store);
}
END_TEST

START_TEST(test_clean_work_and_remove)
{
	char *golden = tpath("golden"), *store = tpath("store"), err[512];
	char *parent;
	struct pifs_store st;
	struct stat s;
	int fd;

	make_golden(golden, 1);
	ck_assert_int_eq(
	    pifs_store_create(store, golden, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_store_open(&st, store, err, sizeof(err)), 0);
	fd = openat(st.work_fd, ".", O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(mkdirat(fd, "copyup.1", 0700), 0);
	put_file(fd, "copyup.1/data", "x", 0600);
	put_file(fd, "copyup.2", "y", 0600);
	ck_assert_int_eq(pifs_set_immutable(fd, "copyup.2", 1), 0);
	ck_assert_int_eq(pifs_store_clean_work(&st), 0);
	ck_assert_int_eq(fstatat(fd, "copyup.1", &s, 0), -1);
	ck_assert_int_eq(fstatat(fd, "copyup.2", &s, 0), -1);
	close(fd);
	pifs_store_close(&st);

	/* the immutable golden goes with pifs_remove_tree */
	parent = strdup(store);
	*strrchr(parent, '/') = '\0';
	fd = open(parent, O_PATH | O_DIRECTORY);
	ck_assert_int_eq(pifs_remove_tree(fd, "store"), 0);
	ck_assert_int_eq(fstatat(fd, "store", &s, 0), -1);
	ck_assert_int_eq(errno, ENOENT);
	close(fd);
	free(parent);
	free(golden);
	free(store);
}
END_TEST

/* What the commands use instead of the store's fds: work/ builds removed
 * and dead resets' reaped (a live pid's kept), a delta created on a
 * golden, its emptiness, and the undo of a create. */
START_TEST(test_work_and_delta_for_commands)
{
	char *golden = tpath("golden"), *store = tpath("store"), err[512];
	char dead[64], live[64], noid[64], gold[17];
	struct pifs_store st;
	struct stat s;
	pid_t pid;
	int fd;

	make_golden(golden, 1);
	ck_assert_int_eq(
	    pifs_store_create(store, golden, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_store_open(&st, store, err, sizeof(err)), 0);
	/* a pid that is gone: a child that exited and was reaped */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	snprintf(dead, sizeof(dead), "reset-w1-%ld", (long)pid);
	snprintf(live, sizeof(live), "reset-w2-%ld", (long)getpid());
	snprintf(noid, sizeof(noid), "copyup-%ld", (long)pid);
	fd = openat(st.work_fd, ".", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mkdirat(fd, dead, 0700), 0);
	ck_assert_int_eq(mkdirat(fd, live, 0700), 0);
	ck_assert_int_eq(mkdirat(fd, noid, 0700), 0);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/data", dead);
		put_file(fd, p, "x", 0600);
	}
	ck_assert_int_eq(pifs_store_work_reap(&st, "reset-"), 0);
	ck_assert_int_eq(fstatat(fd, dead, &s, 0), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(fstatat(fd, live, &s, 0), 0);
	ck_assert_int_eq(fstatat(fd, noid, &s, 0), 0);
	ck_assert_int_eq(pifs_store_work_remove(&st, live), 0);
	ck_assert_int_eq(fstatat(fd, live, &s, 0), -1);
	ck_assert_int_eq(pifs_store_work_remove(&st, "../deltas"), -EINVAL);
	ck_assert_int_eq(pifs_store_work_remove(&st, "gone"), -ENOENT);
	close(fd);

	/* a delta on the default golden (NULL), empty until written */
	ck_assert_int_eq(pifs_store_delta_empty(&st, "w3"), -ENOENT);
	ck_assert_int_eq(pifs_store_delta_create_on(&st, "w3", NULL), 0);
	ck_assert_int_eq(pifs_store_worker_golden(&st, "w3", gold), 0);
	ck_assert_str_eq(gold, st.conf.golden);
	ck_assert_int_eq(pifs_store_delta_create_on(&st, "w3", NULL),
			 -EEXIST);
	ck_assert_int_eq(pifs_store_delta_empty(&st, "w3"), 1);
	fd = pifs_openat_beneath(st.deltas_fd, "w3", O_RDONLY | O_DIRECTORY,
				 0);
	ck_assert_int_ge(fd, 0);
	put_file(fd, "f", "data", 0644);
	close(fd);
	ck_assert_int_eq(pifs_store_delta_empty(&st, "w3"), 0);
	ck_assert_int_eq(pifs_store_delta_empty(&st, "../x"), -EINVAL);
	/* the undo of a create that could not be recorded */
	ck_assert_int_eq(pifs_store_delta_undo_create(&st, "w3"), 0);
	ck_assert_int_eq(fstatat(st.deltas_fd, "w3", &s, AT_SYMLINK_NOFOLLOW),
			 -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(pifs_store_delta_undo_create(&st, ".."), -EINVAL);
	pifs_store_close(&st);
	free(golden);
	free(store);
}
END_TEST

static Suite *store_delta_suite(void)
{
	Suite *s = suite_create("store_delta");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_checked_fixture(tc, test_setup, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_delta);
	tcase_add_test(tc, test_clean_work_and_remove);
	tcase_add_test(tc, test_work_and_delta_for_commands);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed, ret;

	if ((ret = unit_needs_root("check_store_delta",
				   "mknod, chown, xattrs")))
		return ret;
	sr = srunner_create(store_delta_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
