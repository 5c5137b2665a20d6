/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_restore.c - a snapshot made a delta again (overlay/git/restore.c)
 * into work/<tmp> of a real store, each file type checked by itself
 * against the delta it was taken from: a file's bytes, mode with setuid,
 * owner, nanosecond mtime and xattrs (a binary value, a file capability
 * that a chown would clear), hard links as one inode, a sparse file's
 * holes, a file big enough to be streamed, a symlink's target and time,
 * a fifo, a socket, character and block devices, a whiteout, a sticky
 * directory's mode and time set after its children, an opaque directory;
 * the root's base and golden.  The bare golden's empty delta; a snapshot
 * that does not exist and a name already in work/ fail with their
 * message and leave work/ as it was.  Runs as root under a mkdtemp in
 * /var/tmp (mknod, chown, trusted.* xattrs).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "store.h"
#include "util.h"
#include "xattr.h"
#include "unit.h"
#include "unit_store.h"

static char base[] = "/var/tmp/check_restore.XXXXXX";
static char storepath[256];
static char delta[320], work[320];
static struct pifs_store st;
static struct pifs_git *g;
static char err[1024];
static int nstore;

static void base_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(base));
	unit_sh("mkdir -p %s/golden/etc && echo pi > %s/golden/etc/hostname",
	   base, base);
}

static void base_teardown(void)
{
	unit_base_remove(base);
}

static void test_setup(void)
{
	unit_store_new(base, &nstore, storepath, sizeof(storepath), &st);
	ck_assert_msg(pifs_git_open(&g, &st, 1, err, sizeof(err)) == 0, "%s",
		      err);
	snprintf(delta, sizeof(delta), "%s/deltas/worker-1", storepath);
	snprintf(work, sizeof(work), "%s/work", storepath);
}

static void test_teardown(void)
{
	pifs_git_free(g);
	g = NULL;
	pifs_store_close(&st);
}

/* A snapshot of worker-1 that holds something new: its id. */
static void snapshot(char id[41])
{
	struct pifs_snapshot s;

	unit_snapshot(g, 0, &s);
	ck_assert_int_eq(s.created, 1);
	memcpy(id, s.id, 41);
}

/* lstat of rel below dir; -errno. */
static int lst(const char *dir, const char *rel, struct stat *sb)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, sb) < 0 ? -errno : 0;
}

/* An xattr of rel below dir into v (NUL-terminated); its length or
 * -errno. */
static ssize_t xget(const char *dir, const char *rel, const char *name,
		    char *v, size_t len)
{
	char p[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	n = lgetxattr(p, name, v, len - 1);
	if (n < 0)
		return -errno;
	v[n] = '\0';
	return n;
}

/* Restored rel has the source's type, mode, owner, rdev, size and (but
 * for a directory's, which its children move) mtime to the ns. */
static void same_stat(const char *restored, const char *rel)
{
	struct stat a, b;

	ck_assert_msg(lst(delta, rel, &a) == 0, "%s", rel);
	ck_assert_msg(lst(restored, rel, &b) == 0, "%s not restored", rel);
	ck_assert_msg(a.st_mode == b.st_mode, "%s: mode %o, restored %o",
		      rel, a.st_mode, b.st_mode);
	ck_assert_msg(a.st_uid == b.st_uid && a.st_gid == b.st_gid,
		      "%s: owner", rel);
	ck_assert_msg(a.st_rdev == b.st_rdev, "%s: rdev", rel);
	if (!S_ISDIR(a.st_mode))
		ck_assert_msg(a.st_size == b.st_size, "%s: size %lld, "
			      "restored %lld", rel, (long long)a.st_size,
			      (long long)b.st_size);
	ck_assert_msg(a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
		      a.st_mtim.tv_nsec == b.st_mtim.tv_nsec,
		      "%s: mtime %lld.%09ld, restored %lld.%09ld", rel,
		      (long long)a.st_mtim.tv_sec, a.st_mtim.tv_nsec,
		      (long long)b.st_mtim.tv_sec, b.st_mtim.tv_nsec);
}

/* Every kind of entry a delta holds. */
static void fill_delta(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s;

	unit_sh("cd %s && mkdir -p etc sticky/sub opq && "
	   "printf 'hello\\n' > etc/motd && : > etc/empty && "
	   "ln etc/motd etc/motd.link && ln -s ../etc/motd etc/ln && "
	   "mknod etc/hostname c 0 0 && mknod blk b 7 3 && "
	   "mknod chr c 4 5 && mkfifo fifo && chmod 640 fifo && "
	   "truncate -s 3M sparse && echo end >> sparse && "
	   "head -c 5242880 /dev/urandom > big && "
	   "chown 1000:1001 etc/motd && chmod 4750 etc/motd && "
	   "setfattr -n user.bin -v 0x00ff2c3d0a etc/motd && "
	   "setfattr -n security.capability -v "
	   "0x0100000200200000000000000000000000000000 etc/motd && "
	   "echo x > opq/x && "
	   "setfattr -n trusted.overlay.opaque -v y opq && "
	   "echo s > sticky/sub/f && chmod 1777 sticky && "
	   "touch -d '2001-02-03 04:05:06.123456789' etc/motd && "
	   "touch -h -d '2002-03-04 05:06:07.5' etc/ln fifo && "
	   "touch -d '2003-04-05 06:07:08.25' sticky/sub sticky",
	   delta);
	ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock",
				  delta),
			 (int)sizeof(sa.sun_path));
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
}

START_TEST(test_each_type)
{
	static const char *const all[] = {
		"etc", "etc/motd", "etc/empty", "etc/motd.link", "etc/ln",
		"etc/hostname", "blk", "chr", "fifo", "sock", "sparse", "big",
		"opq", "opq/x", "sticky", "sticky/sub", "sticky/sub/f",
	};
	char id[41], r[400], v[256];
	struct stat a, b;
	size_t i;

	fill_delta();
	snapshot(id);
	ck_assert_msg(pifs_git_materialize(g, &st, id, NULL, "r", err,
					   sizeof(err)) == 0, "%s", err);
	snprintf(r, sizeof(r), "%s/r", work);
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		same_stat(r, all[i]);
	/* a file: bytes, the setuid mode chown would clear, owner, time */
	ck_assert_int_eq(lst(r, "etc/motd", &b), 0);
	ck_assert_uint_eq(b.st_mode, S_IFREG | 04750);
	ck_assert_uint_eq(b.st_uid, 1000);
	ck_assert_uint_eq(b.st_gid, 1001);
	ck_assert_int_eq(b.st_mtim.tv_nsec, 123456789);
	unit_sh("cmp %s/etc/motd %s/etc/motd && cmp %s/big %s/big && "
	   "cmp %s/sparse %s/sparse && test ! -s %s/etc/empty",
	   delta, r, delta, r, delta, r, r);
	/* its xattrs, the capability too (set after the chown) */
	ck_assert_int_eq(xget(r, "etc/motd", "user.bin", v, sizeof(v)), 5);
	ck_assert_mem_eq(v, "\0\377,=\n", 5);
	ck_assert_int_eq(xget(r, "etc/motd", "security.capability", v,
			      sizeof(v)), 20);
	ck_assert_int_eq(v[0], 1);
	/* hard links: one inode, two names */
	ck_assert_int_eq(lst(r, "etc/motd.link", &a), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	ck_assert_uint_eq(b.st_nlink, 2);
	/* a symlink: its target and its own time */
	{
		char p[PATH_MAX], t[64];
		ssize_t n;

		snprintf(p, sizeof(p), "%s/etc/ln", r);
		n = readlink(p, t, sizeof(t) - 1);
		ck_assert_int_eq(n, 11);
		t[n] = '\0';
		ck_assert_str_eq(t, "../etc/motd");
	}
	ck_assert_int_eq(lst(r, "etc/ln", &a), 0);
	ck_assert_int_eq(a.st_mtim.tv_nsec, 500000000);
	/* special files */
	ck_assert_int_eq(lst(r, "fifo", &a), 0);
	ck_assert_uint_eq(a.st_mode, S_IFIFO | 0640);
	ck_assert_int_eq(lst(r, "sock", &a), 0);
	ck_assert(S_ISSOCK(a.st_mode));
	ck_assert_int_eq(lst(r, "chr", &a), 0);
	ck_assert(S_ISCHR(a.st_mode));
	ck_assert_uint_eq(major(a.st_rdev), 4);
	ck_assert_uint_eq(minor(a.st_rdev), 5);
	ck_assert_int_eq(lst(r, "blk", &a), 0);
	ck_assert(S_ISBLK(a.st_mode));
	ck_assert_uint_eq(major(a.st_rdev), 7);
	ck_assert_uint_eq(minor(a.st_rdev), 3);
	ck_assert_int_eq(lst(r, "etc/hostname", &a), 0); /* a whiteout */
	ck_assert(S_ISCHR(a.st_mode) && a.st_rdev == 0);
	/* holes kept: 3 MiB of file in a few blocks */
	ck_assert_int_eq(lst(r, "sparse", &a), 0);
	ck_assert_int_eq(a.st_size, 3 * 1024 * 1024 + 4);
	ck_assert_int_lt(a.st_blocks * 512, 64 * 1024);
	/* directories: mode and time set after their children */
	ck_assert_int_eq(lst(r, "sticky", &a), 0);
	ck_assert_uint_eq(a.st_mode, S_IFDIR | 01777);
	ck_assert_int_eq(a.st_mtim.tv_nsec, 250000000);
	ck_assert_int_eq(lst(r, "sticky/sub", &a), 0);
	ck_assert_int_eq(a.st_mtim.tv_nsec, 250000000);
	ck_assert_int_eq(xget(r, "opq", "trusted.overlay.opaque", v,
			      sizeof(v)), 1);
	ck_assert_str_eq(v, "y");
	/* the root: its base is the snapshot, its golden the store's */
	ck_assert_int_eq(xget(work, "r", PIFS_XATTR_BASE, v, sizeof(v)), 40);
	ck_assert_str_eq(v, id);
	ck_assert_int_eq(xget(work, "r", PIFS_XATTR_GOLDEN, v, sizeof(v)),
			 16);
	ck_assert_str_eq(v, st.conf.golden);
	ck_assert_int_eq(lst(work, "r", &a), 0);
	ck_assert_int_eq(lst(storepath, "deltas/worker-1", &b), 0);
	ck_assert_uint_eq(a.st_mode, b.st_mode);
}
END_TEST

/* No snapshot: the empty delta of the golden, no base. */
START_TEST(test_bare_golden)
{
	char r[400], v[64];
	struct stat a;

	ck_assert_msg(pifs_git_materialize(g, &st, NULL, NULL, "e", err,
					   sizeof(err)) == 0, "%s", err);
	snprintf(r, sizeof(r), "%s/e", work);
	ck_assert_int_eq(lst(work, "e", &a), 0);
	ck_assert(S_ISDIR(a.st_mode));
	ck_assert_uint_eq(a.st_nlink, 2); /* nothing in it */
	unit_sh("test -z \"$(ls -A %s)\"", r);
	ck_assert_int_eq(xget(work, "e", PIFS_XATTR_BASE, v, sizeof(v)),
			 -ENODATA);
	ck_assert_int_eq(xget(work, "e", PIFS_XATTR_GOLDEN, v, sizeof(v)),
			 16);
	ck_assert_str_eq(v, st.conf.golden);
}
END_TEST

START_TEST(test_errors)
{
	char id[41], msg[300];
	struct stat a;

	unit_sh("echo a > %s/a", delta);
	snapshot(id);
	/* a commit that is not there */
	ck_assert_int_lt(pifs_git_materialize(
			     g, &st, "1111111111111111111111111111111111111111",
			     NULL, "x", err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "1111111") != NULL, "said: %s", err);
	ck_assert_int_eq(lst(work, "x", &a), -ENOENT);
	/* a name taken in work/: refused, the one there untouched */
	unit_sh("mkdir %s/taken && echo keep > %s/taken/f", work, work);
	ck_assert_int_eq(pifs_git_materialize(g, &st, id, NULL, "taken", err,
					      sizeof(err)), -EEXIST);
	snprintf(msg, sizeof(msg), "cannot create '%s/work/taken': %s",
		 storepath, strerror(EEXIST));
	ck_assert_str_eq(err, msg);
	unit_sh("test \"$(cat %s/taken/f)\" = keep && test ! -e %s/taken/a", work,
	   work);
	/* and it works under another name */
	ck_assert_msg(pifs_git_materialize(g, &st, id, NULL, "y", err,
					   sizeof(err)) == 0, "%s", err);
	unit_sh("test \"$(cat %s/y/a)\" = a", work);
}
END_TEST

int main(void)
{
	TCase *tc;
	int r;

	if ((r = unit_needs_root("check_restore", "mknod, chown, trusted.* "
				 "xattrs")))
		return r;
	tc = unit_store_tcase(base_setup, base_teardown, test_setup,
			      test_teardown);
	tcase_add_test(tc, test_each_type);
	tcase_add_test(tc, test_bare_golden);
	tcase_add_test(tc, test_errors);
	return unit_run("check_restore", tc);
}
