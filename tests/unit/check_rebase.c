/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_rebase.c - pifs_rebase_meta's rules on a delta with the hard
 * cases: a changed file the golden changed too, one it did not, a
 * directory renamed in the view (redirect) whose golden contents changed,
 * an opaque directory over a golden directory that gained a file, a
 * directory whose mode both sides changed, a golden hard-link group copied
 * up with an extra link made in the view, a whiteout of a path the new
 * golden no longer has, and --theirs for each.  Runs as root under a
 * mkdtemp in /var/tmp (trusted.* xattrs).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gitstore.h"
#include "rebase.h"
#include "safeio.h"
#include "store.h"
#include "util.h"
#include "unit.h"

static char base[] = "/var/tmp/check_rebase.XXXXXX";
static char storepath[PATH_MAX];
static struct pifs_store st;
static struct pifs_git *g;
static char err[1024], idb[17];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "command failed: %s", cmd);
}

/* Golden A, golden B (its next release), a store on A with worker-1
 * whose delta holds every case. */
static void setup(void)
{
	struct pifs_store_create_opts o = {.bar_fd = -1};
	char a[PATH_MAX], b[PATH_MAX];

	strcpy(base, "/var/tmp/check_rebase.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(a, sizeof(a), "%s/a", base);
	snprintf(b, sizeof(b), "%s/b", base);
	snprintf(storepath, sizeof(storepath), "%s/store", base);
	sh("mkdir -p %s/etc %s/ren %s/opq %s/dattr %s/lib %s/old && cd %s && "
	   "echo 1 > etc/both && echo 1 > etc/mine && echo 1 > etc/theirs && "
	   "echo 1 > ren/k && echo 1 > opq/o1 && echo 1 > lib/l1 && "
	   "ln lib/l1 lib/l2 && echo 1 > old/f && chmod 755 dattr",
	   a, a, a, a, a, a, a);
	sh("cp -a %s %s && cd %s && echo 2 > etc/both && echo 2 > etc/theirs && "
	   "echo 2 > ren/k && echo 2 > opq/o2 && echo 2 >> lib/l1 && "
	   "rm -r old && chmod 700 dattr",
	   a, b, b);
	ck_assert_msg(pifs_store_create(storepath, a, NULL, NULL, err,
					sizeof(err)) == 0, "%s", err);
	ck_assert_msg(pifs_store_open(&st, storepath, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(pifs_store_golden_add(&st, b, &o, idb, err,
					    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(pifs_store_delta_create(&st, "worker-1"), 0);
	ck_assert_msg(pifs_git_open(&g, &st, 1, err, sizeof(err)) == 0, "%s",
		      err);
	/* the worker: etc/both and etc/mine changed; ren renamed to moved
	 * (a redirect) with a file of its own; opq replaced (opaque); dattr
	 * chmod 750 with a file in it; lib/l1 changed through its group
	 * (both names) plus a third name; old/f deleted (a whiteout) */
	sh("cd %s/deltas/worker-1 && mkdir etc moved opq dattr lib old && "
	   "echo w > etc/both && echo w > etc/mine && "
	   "setfattr -n trusted.overlay.redirect -v /ren moved && "
	   "echo w > moved/new && "
	   "setfattr -n trusted.overlay.opaque -v y opq && echo w > opq/mine && "
	   "mknod ren c 0 0 && chmod 750 dattr && echo w > dattr/f && "
	   "printf '1\\nw\\n' > lib/l1 && ln lib/l1 lib/l2 && ln lib/l1 lib/l3 && "
	   "mknod old/f c 0 0",
	   storepath);
}

static void teardown(void)
{
	pifs_git_free(g);
	g = NULL;
	pifs_store_close(&st);
	sh("chattr -R -i %s 2>/dev/null; rm -rf %s", base, base);
}

/* Snapshot worker-1 and rebase its META onto B. */
static void rebase(int theirs, struct pifs_meta *out,
		   struct pifs_conflict **c, size_t *n)
{
	struct pifs_snapshot s;
	struct pifs_meta m;

	ck_assert_msg(pifs_git_snapshot_prepare(g, "worker-1", NULL, 0, &s, err,
						sizeof(err)) == 0, "%s", err);
	ck_assert_msg(pifs_git_snapshot_finish(g, &s, err, sizeof(err)) == 0,
		      "%s", err);
	pifs_meta_init(&m);
	ck_assert_msg(pifs_git_load(g, s.id, &m, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_msg(pifs_rebase_meta(&st, &m, idb, theirs, out, c, n, err,
				       sizeof(err)) == 0, "%s", err);
	pifs_meta_release(&m);
}

static const char *conflict_of(struct pifs_conflict *c, size_t n,
			       const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c[i].path, path))
			return c[i].what;
	return NULL;
}

static const char *const expected[][2] = {
    {"dattr", "attributes changed here and in the new golden"},
    {"etc/both", "changed here and in the new golden"},
    {"lib/l1", "changed here and in the new golden"},
    {"lib/l2", "changed here and in the new golden"},
    {"opq", "replaced here, changed in the new golden"},
};

START_TEST(test_ours)
{
	struct pifs_conflict *c;
	const struct pifs_meta_entry *e;
	struct pifs_meta out;
	size_t n, i;

	rebase(0, &out, &c, &n);
	ck_assert_str_eq(out.golden, idb);
	for (i = 0; i < n; i++)
		fprintf(stderr, "conflict: %s (%s)\n", c[i].path, c[i].what);
	ck_assert_uint_eq(n, sizeof(expected) / sizeof(expected[0]));
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(c[i].path, expected[i][0]);
		ck_assert_str_eq(c[i].what, expected[i][1]);
	}
	/* the worker's versions, all kept */
	for (i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		ck_assert_ptr_nonnull(pifs_meta_find(&out, expected[i][0]));
	ck_assert_uint_eq(pifs_meta_find(&out, "dattr")->mode, 0750);
	ck_assert_ptr_nonnull(pifs_meta_find(&out, "etc/mine"));
	ck_assert_ptr_nonnull(pifs_meta_find(&out, "lib/l3"));
	ck_assert_ptr_nonnull(pifs_meta_find(&out, "opq/mine"));
	/* no conflict: the renamed directory (B's ren/k shows as moved/k),
	 * its whiteout at the old name, the untouched etc/ */
	ck_assert_ptr_null(conflict_of(c, n, "moved"));
	ck_assert_ptr_null(conflict_of(c, n, "ren"));
	ck_assert_ptr_null(conflict_of(c, n, "etc"));
	e = pifs_meta_find(&out, "moved");
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(pifs_meta_find(&out, "moved/new"));
	ck_assert_ptr_nonnull(pifs_meta_find(&out, "ren"));
	/* deleted by both: the whiteout goes, and so does the directory
	 * the delta held only for it (no empty old/ over B) */
	ck_assert_ptr_null(pifs_meta_find(&out, "old/f"));
	ck_assert_ptr_null(pifs_meta_find(&out, "old"));
	ck_assert_ptr_null(conflict_of(c, n, "old/f"));
	ck_assert_ptr_null(conflict_of(c, n, "old"));
	pifs_conflicts_free(c, n);
	pifs_meta_release(&out);
}
END_TEST

START_TEST(test_theirs)
{
	struct pifs_conflict *c;
	struct pifs_meta out;
	size_t n;

	rebase(1, &out, &c, &n);
	/* conflicts are listed the same way, and the golden's version wins */
	ck_assert_ptr_nonnull(conflict_of(c, n, "etc/both"));
	ck_assert_ptr_null(pifs_meta_find(&out, "etc/both"));
	ck_assert_ptr_null(pifs_meta_find(&out, "opq"));
	ck_assert_ptr_null(pifs_meta_find(&out, "opq/mine"));
	ck_assert_uint_eq(pifs_meta_find(&out, "dattr")->mode, 0700);
	ck_assert_ptr_nonnull(pifs_meta_find(&out, "dattr/f"));
	/* one file: its third name goes with the two the golden changed */
	ck_assert_ptr_null(pifs_meta_find(&out, "lib/l1"));
	ck_assert_ptr_null(pifs_meta_find(&out, "lib/l2"));
	ck_assert_ptr_null(pifs_meta_find(&out, "lib/l3"));
	/* what only the worker changed stays */
	ck_assert_ptr_nonnull(pifs_meta_find(&out, "etc/mine"));
	ck_assert_ptr_nonnull(pifs_meta_find(&out, "moved/new"));
	ck_assert_ptr_null(pifs_meta_find(&out, "old"));
	pifs_conflicts_free(c, n);
	pifs_meta_release(&out);
}
END_TEST

START_TEST(test_conflicts_file)
{
	struct pifs_conflict in[2] = {{.path = (char *)"etc/a b", .what = "x y"},
				      {.path = (char *)"z\n", .what = "w"}};
	struct pifs_conflict *c;
	size_t n;

	ck_assert_int_eq(pifs_conflicts_save(&st, "worker-1", in, 2), 0);
	ck_assert_int_eq(pifs_conflicts_load(&st, "worker-1", &c, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(c[0].path, "etc/a b");
	ck_assert_str_eq(c[0].what, "x y");
	ck_assert_str_eq(c[1].path, "z\n");
	pifs_conflicts_free(c, n);
	ck_assert_int_eq(pifs_conflicts_save(&st, "worker-1", NULL, 0), 0);
	ck_assert_int_eq(pifs_conflicts_load(&st, "worker-1", &c, &n), 0);
	ck_assert_uint_eq(n, 0);
	pifs_conflicts_free(c, n);
	ck_assert_int_eq(pifs_conflicts_save(&st, "../x", NULL, 0), -EINVAL);
}
END_TEST

static Suite *rebase_suite(void)
{
	Suite *s = suite_create("rebase");
	TCase *tc = tcase_create("rebase");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ours);
	tcase_add_test(tc, test_theirs);
	tcase_add_test(tc, test_conflicts_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed, ret;

	if ((ret = unit_needs_root("check_rebase", "mknod, chown, xattrs")))
		return ret;
	pifs_log_init("check_rebase", 0, PIFS_LOG_WARN);
	sr = srunner_create(rebase_suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
