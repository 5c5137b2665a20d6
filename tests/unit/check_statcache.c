/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_statcache.c - the stat cache (overlay/git/statcache.c): records
 * built, sealed and parsed back field for field (xattrs with binary
 * values, a directory's subtree count, the commit and journal token);
 * lookups in scan order and out of it; a damaged or foreign cache is an
 * empty one; a record hits only the stat it was made from.  Then on a
 * real store: a scan takes a hit's blob id from the cache without reading
 * the file (shown by a cache whose id was swapped), a changed file
 * misses, and a file written within the racy window of a snapshot is
 * saved without its times, so the next scan reads it again.  Uses the
 * store's internals (internal.h); runs as root under a mkdtemp in
 * /var/tmp (trusted.* xattrs on the store).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "store.h"
#include "unit.h"
#include "unit_store.h"

static char base[] = "/var/tmp/check_statcache.XXXXXX";
static char storepath[256];
static struct pifs_store st;
static struct pifs_git *g;
static char err[1024];
static int nstore;

static void xattrs_free(struct pifs_xattr *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(x[i].name);
		free(x[i].value);
	}
	free(x);
}

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

/* A fresh store with worker-1 and an open repository. */
static void test_setup(void)
{
	unit_store_new(base, &nstore, storepath, sizeof(storepath), &st);
	ck_assert_msg(pifs_git_open(&g, &st, 1, err, sizeof(err)) == 0, "%s",
		      err);
}

static void test_teardown(void)
{
	pifs_git_free(g);
	g = NULL;
	pifs_store_close(&st);
}

/* A record as the scan makes it from a stat. */
static void centry_from(struct centry *ce, const char *path,
			const struct stat *sb)
{
	memset(ce, 0, sizeof(*ce));
	ce->path = path;
	ce->mode = (uint32_t)sb->st_mode;
	ce->uid = sb->st_uid;
	ce->gid = sb->st_gid;
	ce->dev = (uint64_t)sb->st_dev;
	ce->ino = (uint64_t)sb->st_ino;
	ce->size = (uint64_t)sb->st_size;
	ce->mtime = ts_ns(&sb->st_mtim);
	ce->ctime = ts_ns(&sb->st_ctim);
}

/* Three records: a directory over a file with xattrs and a symlink. */
static void build_three(struct pifs_strbuf *sb, const git_oid *commit,
			uint64_t token)
{
	static char n0[] = "user.bin", n1[] = "security.capability";
	static unsigned char v0[] = "\0\377,=\n", v1[] = "";
	struct pifs_xattr x[2] = {
		{.name = n0, .value = v0, .len = 5},
		{.name = n1, .value = v1, .len = 0},
	};
	struct centry d = {0}, f = {0}, l = {0};

	d.path = "etc";
	d.mode = S_IFDIR | 0755;
	d.sub = 2;
	d.ino = 11;
	d.mtime = d.ctime = 1000000001;
	memset(d.oid.id, 0xdd, 20);
	f.path = "etc/motd";
	f.mode = S_IFREG | 04750;
	f.uid = 1000;
	f.gid = 1001;
	f.flags = CE_LINKS;
	f.dev = 0x801;
	f.ino = 12;
	f.size = 6;
	f.mtime = 1234567890123456789LL;
	f.ctime = 1234567890987654321LL;
	f.xxh = 0x0123456789abcdefULL;
	memset(f.oid.id, 0xff, 20);
	l.path = "etc/ln";
	l.mode = S_IFLNK | 0777;
	l.ino = 13;
	l.size = 4;
	l.rdev = 7;
	l.mtime = l.ctime = 5;
	memset(l.oid.id, 0x11, 20);
	pifs_statcache_begin(sb);
	pifs_statcache_put(sb, &d, NULL, 0);
	pifs_statcache_put(sb, &f, x, 2);
	pifs_statcache_put(sb, &l, NULL, 0);
	ck_assert_int_eq(pifs_statcache_seal(sb, commit, token), 0);
}

START_TEST(test_format_round_trip)
{
	struct pifs_strbuf sb = {0};
	struct pifs_xattr *x;
	struct cache c;
	git_oid commit;
	size_t nx;

	memset(commit.id, 0xc0, 20);
	build_three(&sb, &commit, 42);
	ck_assert_int_eq(pifs_statcache_load_mem(&c, &sb), 0);
	ck_assert_uint_eq(c.n, 3);
	ck_assert_int_eq(c.has_commit, 1);
	ck_assert_mem_eq(c.commit.id, commit.id, 20);
	ck_assert_uint_eq(c.token, 42);
	ck_assert_str_eq(c.e[0].path, "etc");
	ck_assert_uint_eq(c.e[0].sub, 2);
	ck_assert_uint_eq(c.e[0].mode, S_IFDIR | 0755);
	ck_assert_uint_eq(c.e[0].xalen, 0);
	ck_assert_str_eq(c.e[1].path, "etc/motd");
	ck_assert_uint_eq(c.e[1].mode, S_IFREG | 04750);
	ck_assert_uint_eq(c.e[1].uid, 1000);
	ck_assert_uint_eq(c.e[1].gid, 1001);
	ck_assert_uint_eq(c.e[1].flags, CE_LINKS);
	ck_assert_uint_eq(c.e[1].dev, 0x801);
	ck_assert_uint_eq(c.e[1].ino, 12);
	ck_assert_uint_eq(c.e[1].size, 6);
	ck_assert(c.e[1].mtime == 1234567890123456789LL);
	ck_assert(c.e[1].ctime == 1234567890987654321LL);
	ck_assert(c.e[1].xxh == 0x0123456789abcdefULL);
	ck_assert_uint_eq(c.e[1].oid.id[0], 0xff);
	ck_assert_uint_eq(c.e[1].oid.id[19], 0xff);
	ck_assert_int_eq(pifs_statcache_xattrs(c.e[1].xa, c.e[1].xalen, &x,
					       &nx), 0);
	ck_assert_uint_eq(nx, 2);
	ck_assert_str_eq(x[0].name, "user.bin");
	ck_assert_uint_eq(x[0].len, 5);
	ck_assert_mem_eq(x[0].value, "\0\377,=\n", 5);
	ck_assert_str_eq(x[1].name, "security.capability");
	ck_assert_uint_eq(x[1].len, 0);
	xattrs_free(x, nx);
	ck_assert_str_eq(c.e[2].path, "etc/ln");
	ck_assert_uint_eq(c.e[2].rdev, 7);
	ck_assert_uint_eq(c.e[2].oid.id[0], 0x11);
	pifs_statcache_release(&c);
	/* no commit: none recorded */
	build_three(&sb, NULL, 0);
	ck_assert_int_eq(pifs_statcache_load_mem(&c, &sb), 0);
	ck_assert_int_eq(c.has_commit, 0);
	ck_assert_uint_eq(c.token, 0);
	pifs_statcache_release(&c);
	free(sb.p);
}
END_TEST

START_TEST(test_find_order)
{
	struct pifs_strbuf sb = {0};
	const struct centry *ce;
	struct cache c;

	build_three(&sb, NULL, 0);
	ck_assert_int_eq(pifs_statcache_load_mem(&c, &sb), 0);
	/* in scan order: each at the cursor */
	ce = pifs_statcache_find(&c, "etc");
	ck_assert_ptr_eq(ce, &c.e[0]);
	ck_assert_ptr_eq(pifs_statcache_find(&c, "etc/motd"), &c.e[1]);
	ck_assert_ptr_eq(pifs_statcache_find(&c, "etc/ln"), &c.e[2]);
	ck_assert_uint_eq(c.jumps, 0);
	/* out of order: found by search, and the cursor follows it */
	ck_assert_ptr_eq(pifs_statcache_find(&c, "etc/motd"), &c.e[1]);
	ck_assert_uint_eq(c.jumps, 1);
	ck_assert_ptr_eq(pifs_statcache_find(&c, "etc/ln"), &c.e[2]);
	ck_assert_uint_eq(c.jumps, 1);
	ck_assert_ptr_eq(pifs_statcache_find(&c, "etc"), &c.e[0]);
	ck_assert_uint_eq(c.jumps, 2);
	/* not there: a miss */
	ck_assert_ptr_null(pifs_statcache_find(&c, "etc/mot"));
	ck_assert_ptr_null(pifs_statcache_find(&c, "zzz"));
	ck_assert_ptr_null(pifs_statcache_find(&c, ""));
	pifs_statcache_release(&c);
	/* an empty cache finds nothing */
	memset(&c, 0, sizeof(c));
	ck_assert_ptr_null(pifs_statcache_find(&c, "etc"));
	free(sb.p);
}
END_TEST

/* Each kind of damage: the cache loads as an empty one. */
START_TEST(test_damaged)
{
	struct pifs_strbuf sb = {0};
	struct cache c;
	size_t len;

	build_three(&sb, NULL, 0);
	len = sb.len;
	/* a byte of a record flipped: the checksum fails */
	sb.p[len - 3] ^= 0x40;
	ck_assert_int_eq(pifs_statcache_load_mem(&c, &sb), -EINVAL);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_ptr_null(c.e);
	pifs_statcache_release(&c);
	/* another format (the magic of an older one) */
	build_three(&sb, NULL, 0);
	memcpy(sb.p, "PIFSSC3\n", 8);
	ck_assert_int_eq(pifs_statcache_load_mem(&c, &sb), -EINVAL);
	ck_assert_uint_eq(c.n, 0);
	/* cut short, resealed: the checksum holds, the record does not */
	build_three(&sb, NULL, 0);
	sb.len -= 2;
	ck_assert_int_eq(pifs_statcache_seal(&sb, NULL, 0), 0);
	ck_assert_int_eq(pifs_statcache_load_mem(&c, &sb), -EINVAL);
	ck_assert_uint_eq(c.n, 0);
	/* shorter than the header */
	sb.len = 10;
	ck_assert_int_eq(pifs_statcache_seal(&sb, NULL, 0), -EINVAL);
	ck_assert_int_eq(pifs_statcache_load_mem(&c, &sb), -EINVAL);
	/* a failed append is not sealed */
	build_three(&sb, NULL, 0);
	sb.err = -ENOMEM;
	ck_assert_int_eq(pifs_statcache_seal(&sb, NULL, 0), -ENOMEM);
	free(sb.p);
}
END_TEST

START_TEST(test_hit_miss)
{
	struct centry ce, m;
	struct stat sb;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/golden/etc/hostname", base);
	ck_assert_int_eq(lstat(path, &sb), 0);
	centry_from(&ce, "etc/hostname", &sb);
	ck_assert_int_eq(pifs_statcache_hit(&ce, &sb), 1);
	ck_assert_int_eq(pifs_statcache_hit(NULL, &sb), 0);
	/* every field of the stat that a change moves */
	m = ce;
	m.mode ^= 0100;
	ck_assert_int_eq(pifs_statcache_hit(&m, &sb), 0);
	m = ce;
	m.dev++;
	ck_assert_int_eq(pifs_statcache_hit(&m, &sb), 0);
	m = ce;
	m.ino++;
	ck_assert_int_eq(pifs_statcache_hit(&m, &sb), 0);
	m = ce;
	m.size++;
	ck_assert_int_eq(pifs_statcache_hit(&m, &sb), 0);
	m = ce;
	m.mtime++;
	ck_assert_int_eq(pifs_statcache_hit(&m, &sb), 0);
	m = ce;
	m.ctime++;
	ck_assert_int_eq(pifs_statcache_hit(&m, &sb), 0);
	/* a racy record (times zeroed) never hits, not even a stat of 0 */
	m = ce;
	m.mtime = m.ctime = 0;
	ck_assert_int_eq(pifs_statcache_hit(&m, &sb), 0);
	sb.st_mtim.tv_sec = sb.st_mtim.tv_nsec = 0;
	sb.st_ctim.tv_sec = sb.st_ctim.tv_nsec = 0;
	ck_assert_int_eq(pifs_statcache_hit(&m, &sb), 0);
	/* a real change: chmod moves ctime */
	ck_assert_int_eq(lstat(path, &sb), 0);
	usleep(20000);
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert_int_eq(pifs_statcache_hit(&ce, &sb), 0);
	ck_assert_int_eq(chmod(path, 0644), 0);
}
END_TEST

/* Rewrite worker-1's saved cache with path's blob id and content hash
 * set to those of other (both must be in it): what the scan takes from
 * the cache is then told apart from what it reads. */
static void cache_swap_oid(const char *path, const char *other)
{
	struct pifs_strbuf sb = {0};
	const struct centry *src;
	struct pifs_xattr *x;
	struct cache c;
	git_oid oid;
	uint64_t xxh;
	size_t i, nx;

	pifs_statcache_open(&c, &st, "worker-1");
	ck_assert_uint_gt(c.n, 0);
	src = pifs_statcache_find(&c, other);
	ck_assert_ptr_nonnull(src);
	oid = src->oid;
	xxh = src->xxh;
	pifs_statcache_begin(&sb);
	for (i = 0; i < c.n; i++) {
		struct centry ce = c.e[i];

		if (!strcmp(ce.path, path)) {
			ce.oid = oid;
			ce.xxh = xxh;
		}
		ck_assert_int_eq(pifs_statcache_xattrs(ce.xa, ce.xalen, &x,
						       &nx), 0);
		pifs_statcache_put(&sb, &ce, x, nx);
		xattrs_free(x, nx);
	}
	ck_assert_int_eq(pifs_statcache_save(&sb, &st, "worker-1",
					     c.has_commit ? &c.commit : NULL,
					     c.token), 0);
	pifs_statcache_release(&c);
	free(sb.p);
}

/* The blob id pifs_git_scan gives path in worker-1's live delta. */
static void scan_oid(const char *path, unsigned char oid[20])
{
	const struct pifs_meta_entry *e;
	struct pifs_meta m;

	ck_assert_msg(pifs_git_scan(g, &st, "worker-1", &m, err,
				    sizeof(err)) == 0, "scan: %s", err);
	e = pifs_meta_find(&m, path);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->has_oid, 1);
	memcpy(oid, e->oid, 20);
	pifs_meta_release(&m);
}

static void cached_entry(const char *path, struct centry *out)
{
	const struct centry *ce;
	struct cache c;

	pifs_statcache_open(&c, &st, "worker-1");
	ce = pifs_statcache_find(&c, path);
	ck_assert_msg(ce != NULL, "%s not in the cache", path);
	*out = *ce;
	out->path = NULL;
	out->xa = NULL;
	pifs_statcache_release(&c);
}

static void delta_stat(const char *path, struct stat *sb)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/deltas/worker-1/%s", storepath, path);
	ck_assert_int_eq(lstat(p, sb), 0);
}

/* A hit is taken from the cache, the file unread; a change misses. */
START_TEST(test_scan_hit_and_miss)
{
	unsigned char a[20], b[20], got[20];
	struct pifs_snapshot s;
	struct centry ce;
	struct stat sb;

	unit_sh("cd %s/deltas/worker-1 && mkdir d && echo aaa > d/a && "
	   "echo bbbb > d/b", storepath);
	usleep(4 * PIFS_STATCACHE_RACY_MS * 1000); /* past the racy window */
	unit_snapshot(g, 0, &s);
	ck_assert_int_eq(s.created, 1);
	scan_oid("d/a", a);
	scan_oid("d/b", b);
	ck_assert(memcmp(a, b, 20) != 0);
	/* saved with the times of the stat: a hit */
	cached_entry("d/a", &ce);
	delta_stat("d/a", &sb);
	ck_assert(ce.mtime != 0 && ce.ctime != 0);
	ck_assert_int_eq(pifs_statcache_hit(&ce, &sb), 1);
	ck_assert_mem_eq(ce.oid.id, a, 20);
	/* the scan believes the cache: d/a's id is now what it says */
	cache_swap_oid("d/a", "d/b");
	scan_oid("d/a", got);
	ck_assert_mem_eq(got, b, 20);
	/* a changed file misses and is read: its real id */
	unit_sh("echo ccc > %s/deltas/worker-1/d/a", storepath);
	scan_oid("d/a", got);
	ck_assert(memcmp(got, b, 20) != 0);
	ck_assert(memcmp(got, a, 20) != 0);
	/* and a chmod (content the same) misses too */
	unit_snapshot(g, 0, &s);
	usleep(4 * PIFS_STATCACHE_RACY_MS * 1000);
	unit_snapshot(g, 1, &s);
	cache_swap_oid("d/b", "d/a");
	scan_oid("d/b", got);
	ck_assert(memcmp(got, b, 20) != 0);
	unit_sh("chmod 600 %s/deltas/worker-1/d/b", storepath);
	scan_oid("d/b", got);
	ck_assert_mem_eq(got, b, 20);
}
END_TEST

/* Written just before the snapshot: saved without its times, so the next
 * scan reads it (a swapped id is not believed); past the window, the
 * next snapshot saves its times. */
START_TEST(test_racy_window)
{
	unsigned char a[20], b[20], got[20];
	struct pifs_snapshot s;
	struct centry ce;
	struct stat sb;

	unit_sh("cd %s/deltas/worker-1 && echo aaa > a && echo bbbb > b",
	   storepath);
	unit_snapshot(g, 0, &s);
	ck_assert_int_eq(s.created, 1);
	cached_entry("a", &ce);
	ck_assert(ce.mtime == 0 && ce.ctime == 0);
	delta_stat("a", &sb);
	ck_assert_int_eq(pifs_statcache_hit(&ce, &sb), 0);
	/* the rest of the record is there */
	ck_assert_uint_eq(ce.ino, sb.st_ino);
	ck_assert_uint_eq(ce.size, 4);
	scan_oid("a", a);
	scan_oid("b", b);
	cache_swap_oid("a", "b");
	scan_oid("a", got);
	ck_assert_mem_eq(got, a, 20);
	/* past the window: the times are kept, the record hits */
	usleep(4 * PIFS_STATCACHE_RACY_MS * 1000);
	unit_snapshot(g, 1, &s);
	cached_entry("a", &ce);
	delta_stat("a", &sb);
	ck_assert(ce.mtime == ts_ns(&sb.st_mtim));
	ck_assert(ce.ctime == ts_ns(&sb.st_ctim));
	ck_assert_int_eq(pifs_statcache_hit(&ce, &sb), 1);
	cache_swap_oid("a", "b");
	scan_oid("a", got);
	ck_assert_mem_eq(got, b, 20);
}
END_TEST

int main(void)
{
	TCase *tc;
	int r;

	if ((r = unit_needs_root("check_statcache", "trusted.* xattrs")))
		return r;
	tc = unit_store_tcase(base_setup, base_teardown, test_setup,
			      test_teardown);
	tcase_add_test(tc, test_format_round_trip);
	tcase_add_test(tc, test_find_order);
	tcase_add_test(tc, test_damaged);
	tcase_add_test(tc, test_hit_miss);
	tcase_add_test(tc, test_scan_hit_and_miss);
	tcase_add_test(tc, test_racy_window);
	return unit_run("check_statcache", tc);
}
