/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_gitstore.c - versioned deltas: the META codec (odd names, every
 * type, binary xattr values), snapshot of a delta with every kind of entry
 * and attribute, restore giving a tree identical in every byte and
 * attribute (compared with pifs_manifest_build), one blob for the same
 * file in two workers, an incremental snapshot writing only what changed,
 * nothing-to-snapshot, bad revisions and the .git name escape.  Runs as
 * root under a mkdtemp in /var/tmp (trusted.* xattrs).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "gitstore.h"
#include "manifest.h"
#include "safeio.h"
#include "store.h"
#include "util.h"
#include "unit.h"

static char base[] = "/var/tmp/check_gitstore.XXXXXX";
static char storepath[128];
static struct pifs_store st;
static struct pifs_git *g;
static char err[1024];
static int nstore;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "command failed: %s", cmd);
}

static void base_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(base));
	sh("mkdir -p %s/golden/etc %s/golden/usr/bin && echo pi > "
	   "%s/golden/etc/hostname && echo golden > %s/golden/usr/bin/tool",
	   base, base, base, base);
}

static void base_teardown(void)
{
	sh("chattr -R -i %s 2>/dev/null; rm -rf %s", base, base);
}

/* A fresh store with worker-1 and worker-3 and an open repository. */
static void test_setup(void)
{
	snprintf(storepath, sizeof(storepath), "%s/store%d", base, nstore++);
	{
		char golden[PATH_MAX];

		snprintf(golden, sizeof(golden), "%s/golden", base);
		ck_assert_msg(pifs_store_create(storepath, golden, NULL, NULL,
						err, sizeof(err)) == 0,
			      "%s", err);
	}
	ck_assert_msg(pifs_store_open(&st, storepath, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(pifs_store_delta_create(&st, "worker-1"), 0);
	ck_assert_int_eq(pifs_store_delta_create(&st, "worker-3"), 0);
	ck_assert_msg(pifs_git_open(&g, &st, 1, err, sizeof(err)) == 0, "%s",
		      err);
}

static void test_teardown(void)
{
	pifs_git_free(g);
	g = NULL;
	pifs_store_close(&st);
}

static int snapshot(const char *worker, const char *msg, int allow_empty,
		    struct pifs_snapshot *s)
{
	int ret;

	ret = pifs_git_snapshot_prepare(g, worker, msg, allow_empty, s, err,
					sizeof(err));
	ck_assert_msg(ret == 0, "prepare: %s", err);
	ret = pifs_git_snapshot_finish(g, s, err, sizeof(err));
	ck_assert_msg(ret == 0, "finish: %s", err);
	return ret;
}

static char *delta_manifest(const char *dir_in_store)
{
	char *text = NULL, path[PATH_MAX];
	int fd;

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", storepath,
				  dir_in_store),
			 (int)sizeof(path));
	fd = open(path, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_manifest_build(fd, &text, NULL), 0);
	close(fd);
	return text;
}

/* Every type and attribute a delta can hold. */
static void fill_delta(const char *worker)
{
	char d[PATH_MAX];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s;

	ck_assert_int_lt(snprintf(d, sizeof(d), "%s/deltas/%s", storepath,
				  worker),
			 (int)sizeof(d));
	sh("cd %s && mkdir -p etc 'odd dir/sub' empty/deeper .git/objects "
	   "&& printf 'hello\\n' > etc/motd && printf 'x' > "
	   "'odd dir/sub/'$'\\t''tab name' && echo g > .git/HEAD && "
	   "printf '\\001\\377' > 'odd dir/bin\\\\back' && "
	   "ln etc/motd etc/motd.link && ln -s ../etc/motd 'odd dir/ln' && "
	   "mknod etc/hostname c 0 0 && mknod blk b 7 3 && mknod chr c 4 5 && "
	   "mkfifo fifo && truncate -s 3M sparse && echo end >> sparse && "
	   "chown 1000:1001 etc/motd && chmod 4750 etc/motd && "
	   "setfattr -n user.bin -v 0x00ff2c3d0a etc/motd && "
	   "setfattr -n 'user.odd,=name' -v x etc/motd && "
	   "setfattr -n security.capability -v "
	   "0x0100000200200000000000000000000000000000 etc/motd && "
	   "setfattr -n trusted.overlay.opaque -v y empty && "
	   "setfattr -n trusted.overlay.redirect -v /usr 'odd dir' && "
	   "chmod 1777 empty/deeper && "
	   "touch -h -d '2001-02-03 04:05:06.123456789' 'odd dir/ln' fifo "
	   "empty/deeper",
	   d);
	ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock",
				  d),
			 (int)sizeof(sa.sun_path));
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
}

START_TEST(test_meta_round_trip)
{
	static const unsigned char bin[] = {0, 0xff, ',', '=', '\n', ' '};
	struct pifs_meta m, p;
	struct pifs_xattr x[2] = {
	    {(char *)"user.a,b=c d", (unsigned char *)bin, sizeof(bin)},
	    {(char *)"user.empty", (unsigned char *)"", 0},
	};
	struct pifs_meta_entry e[8];
	const char types[] = "dfflcbps";
	char *text, *text2;
	size_t len, len2, i;

	memset(e, 0, sizeof(e));
	pifs_meta_init(&m);
	strcpy(m.golden, "0123456789abcdef");
	e[0].path = (char *)".";
	e[1].path = (char *)"a b\\c";
	e[2].path = (char *)"a\xff\x01z";
	e[3].path = (char *)"ln";
	e[4].path = (char *)"wh";
	e[5].path = (char *)"x/blk";
	e[6].path = (char *)"x/p";
	e[7].path = (char *)"x/s";
	for (i = 0; i < 8; i++) {
		e[i].type = types[i];
		e[i].mode = 07777 & (unsigned)(0755 + i * 01001);
		e[i].uid = (uint32_t)(i * 1000);
		e[i].gid = 4294967294u;
		e[i].mtime_sec = i == 3 ? -5 : 1700000000 + (int64_t)i;
		e[i].mtime_nsec = i == 1 ? 999999999 : (uint32_t)i;
	}
	e[5].rdev_major = 259;
	e[5].rdev_minor = 1048575;
	e[2].link = (char *)"a b\\c";
	e[1].xattrs = x;
	e[1].nxattrs = 2;
	m.entries = e;
	m.count = 8;
	ck_assert_int_eq(pifs_meta_format(&m, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "# pifs delta metadata v1\n"
					   "golden 0123456789abcdef\n"));
	ck_assert_ptr_nonnull(strstr(text, " a\\x20b\\x5cc\n"));
	ck_assert_msg(pifs_meta_parse(&p, text, len, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(p.count, 8);
	ck_assert_str_eq(p.entries[2].path, "a\xff\x01z");
	ck_assert_str_eq(p.entries[2].link, "a b\\c");
	ck_assert_uint_eq(p.entries[1].nxattrs, 2);
	ck_assert_str_eq(p.entries[1].xattrs[0].name, "user.a,b=c d");
	ck_assert_uint_eq(p.entries[1].xattrs[0].len, sizeof(bin));
	ck_assert_mem_eq(p.entries[1].xattrs[0].value, bin, sizeof(bin));
	ck_assert_int_eq(p.entries[3].mtime_sec, -5);
	ck_assert_uint_eq(p.entries[5].rdev_minor, 1048575);
	ck_assert_int_eq(pifs_meta_format(&p, &text2, &len2), 0);
	ck_assert_uint_eq(len, len2);
	ck_assert_mem_eq(text, text2, len);
	pifs_meta_release(&p);
	/* damage is a one-line error */
	text[len - 3] = ' ';
	ck_assert_int_eq(pifs_meta_parse(&p, text, len, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "line 10: bad entry");
	ck_assert_int_eq(pifs_meta_parse(&p, "# nope\n", 7, err, sizeof(err)),
			 -EINVAL);
	free(text);
	free(text2);
}
END_TEST

START_TEST(test_round_trip_exact)
{
	struct pifs_snapshot s;
	char *before, *after, *tmp;

	fill_delta("worker-3");
	snapshot("worker-3", "everything", 0, &s);
	ck_assert_int_eq(s.created, 1);
	before = delta_manifest("deltas/worker-3");
	/* arbitrary changes, then back */
	sh("cd %s/deltas/worker-3 && rm -rf 'odd dir' etc/motd.link && "
	   "echo changed > etc/motd && setfattr -x user.bin etc/motd && "
	   "mkdir new && echo n > new/f && chmod 600 sparse && rm fifo",
	   storepath);
	ck_assert_int_eq(pifs_git_materialize(g, &st, s.id, NULL, "restore", err,
					      sizeof(err)),
			 0);
	ck_assert_int_eq(pifs_store_delta_swap(&st, "worker-3", "restore"), 0);
	after = delta_manifest("deltas/worker-3");
	ck_assert_str_eq(before, after);
	/* and the old delta is gone from work/ */
	ck_assert_int_eq(faccessat(st.work_fd, "restore", F_OK, 0), -1);
	/* holes are kept */
	{
		struct stat sb;
		char p[PATH_MAX];

		ck_assert_int_lt(snprintf(p, sizeof(p),
					  "%s/deltas/worker-3/sparse",
					  storepath),
				 (int)sizeof(p));
		ck_assert_int_eq(stat(p, &sb), 0);
		ck_assert_int_lt(sb.st_blocks * 512, 64 * 1024);
	}
	/* the empty golden delta is what delta_create makes */
	tmp = delta_manifest("deltas/worker-1");
	ck_assert_int_eq(pifs_git_materialize(g, &st, NULL, NULL, "gold", err,
					      sizeof(err)),
			 0);
	free(after);
	after = delta_manifest("work/gold");
	ck_assert_str_eq(tmp, after);
	free(tmp);
	free(before);
	free(after);
}
END_TEST

START_TEST(test_same_file_one_blob)
{
	struct pifs_snapshot s1, s3;
	struct pifs_meta m1, m3;

	sh("head -c 100000 /dev/urandom > %s/deltas/worker-1/big && cp -a "
	   "%s/deltas/worker-1/big %s/deltas/worker-3/big",
	   storepath, storepath, storepath);
	snapshot("worker-1", NULL, 0, &s1);
	snapshot("worker-3", NULL, 0, &s3);
	ck_assert_int_eq(pifs_git_load(g, s1.id, &m1, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_git_load(g, s3.id, &m3, err, sizeof(err)), 0);
	ck_assert_mem_eq(pifs_meta_find(&m1, "big")->oid,
			 pifs_meta_find(&m3, "big")->oid, 20);
	/* worker-3's pack holds no copy of the blob, nor of the delta/ tree
	 * (the same as worker-1's): only commit, root tree and META */
	ck_assert_uint_eq(s3.objects, 3);
	pifs_meta_release(&m1);
	pifs_meta_release(&m3);
}
END_TEST

START_TEST(test_incremental_and_empty)
{
	struct pifs_snapshot s;
	char log[64];
	int i;

	for (i = 0; i < 200; i++)
		sh("mkdir -p %s/deltas/worker-3/d%d && echo %d > "
		   "%s/deltas/worker-3/d%d/f",
		   storepath, i % 10, i, storepath, i % 10);
	usleep(4 * PIFS_STATCACHE_RACY_MS * 1000); /* past the racy window */
	snapshot("worker-3", "full", 0, &s);
	ck_assert_uint_ge(s.objects, 10 + 4);
	sh("echo changed > %s/deltas/worker-3/d3/f", storepath);
	snapshot("worker-3", "one", 0, &s);
	/* blob, d3 tree, delta tree, META, root tree, commit */
	ck_assert_uint_eq(s.objects, 6);
	ck_assert_uint_eq(s.files, 1);
	/* nothing changed */
	ck_assert_int_eq(pifs_git_snapshot_prepare(g, "worker-3", NULL, 0, &s,
						   err, sizeof(err)),
			 0);
	ck_assert_int_eq(s.created, 0);
	ck_assert_int_eq(pifs_git_snapshot_finish(g, &s, err, sizeof(err)),
			 0);
	snapshot("worker-3", "empty", 1, &s);
	ck_assert_int_eq(s.created, 1);
	ck_assert_uint_eq(s.files, 0);
	/* a touched but unchanged file is still nothing to snapshot */
	sh("touch %s/deltas/worker-3/d4/f", storepath);
	snapshot("worker-3", NULL, 0, &s);
	ck_assert_int_eq(s.created, 1); /* mtime is metadata */
	ck_assert_int_eq(pifs_git_base_get(&st, "worker-3", log), 0);
	ck_assert_str_eq(log, s.id);
}
END_TEST

START_TEST(test_revisions)
{
	struct pifs_snapshot a, b;
	char id[41], shortid[8];

	ck_assert_int_eq(pifs_git_resolve(g, "worker-3", "HEAD", id, err,
					  sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err,
			 "'HEAD' is not a snapshot of worker-3 (it has no "
			 "snapshots)");
	sh("echo 1 > %s/deltas/worker-3/f", storepath);
	snapshot("worker-3", "a", 0, &a);
	sh("echo 2 > %s/deltas/worker-3/f", storepath);
	snapshot("worker-3", "b", 0, &b);
	ck_assert_int_eq(pifs_git_resolve(g, "worker-3", "HEAD", id, err,
					  sizeof(err)),
			 0);
	ck_assert_str_eq(id, b.id);
	ck_assert_int_eq(pifs_git_resolve(g, "worker-3", "HEAD~1", id, err,
					  sizeof(err)),
			 0);
	ck_assert_str_eq(id, a.id);
	memcpy(shortid, a.id, 7);
	shortid[7] = '\0';
	ck_assert_int_eq(pifs_git_resolve(g, "worker-3", shortid, id, err,
					  sizeof(err)),
			 0);
	ck_assert_str_eq(id, a.id);
	ck_assert_int_eq(pifs_git_resolve(g, "worker-3", "HEAD~2", id, err,
					  sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err, "'HEAD~2' is not a snapshot of worker-3");
	ck_assert_int_eq(pifs_git_resolve(g, "worker-1", shortid, id, err,
					  sizeof(err)),
			 -ENOENT);
	ck_assert_int_eq(pifs_git_resolve(g, "worker-3", "zzzz", id, err,
					  sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err, "'zzzz' is not a snapshot of worker-3");
}
END_TEST

static Suite *gitstore_suite(void)
{
	Suite *s = suite_create("gitstore");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_add_test(tc, test_meta_round_trip);
	tcase_add_test(tc, test_round_trip_exact);
	tcase_add_test(tc, test_same_file_one_blob);
	tcase_add_test(tc, test_incremental_and_empty);
	tcase_add_test(tc, test_revisions);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed, ret;

	if ((ret = unit_needs_root("check_gitstore", "mknod, chown, xattrs")))
		return ret;
	pifs_log_init("check_gitstore", 0, PIFS_LOG_WARN);
	sr = srunner_create(gitstore_suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
