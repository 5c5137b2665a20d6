/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_fsck.c - pifs_git_fsck (overlay/git/fsck.c) against a real
 * repository: a store with one snapshot is clean; then, each in a fresh
 * store, one kind of damage and the one line that names it: a ref to a
 * missing commit, a byte flipped in the pack, an object gone, a META that
 * does not parse, a file in the snapshot's delta/ tree that META does not
 * know.  The damaged commits are made with git(1), as a hand edit or a
 * bad tool would.  Runs as root under a mkdtemp in /var/tmp (trusted.*
 * xattrs).
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
#include <sys/stat.h>
#include <unistd.h>

#include "gitstore.h"
#include "registry.h"
#include "store.h"
#include "unit.h"

static char base[] = "/var/tmp/check_fsck.XXXXXX";
static char storepath[PATH_MAX];
static struct pifs_store st;
static struct pifs_registry reg;
static char commit[41];
static char err[1024];
static int nstore;

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

/* git(1) on the store's repository, with a scratch index. */
#define GIT "GIT_INDEX_FILE=%s/index GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t " \
	    "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t git --git-dir=%s/git"

static void base_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(base));
	sh("mkdir -p %s/golden/etc && echo pi > %s/golden/etc/hostname",
	   base, base);
}

static void base_teardown(void)
{
	sh("chattr -R -i %s 2>/dev/null; rm -rf %s", base, base);
}

/* A store whose worker-1 has one snapshot of a delta with a file. */
static void test_setup(void)
{
	struct pifs_worker w = {0};
	struct pifs_snapshot s;
	struct pifs_git *g;
	char golden[PATH_MAX];

	snprintf(storepath, sizeof(storepath), "%s/store%d", base, nstore++);
	snprintf(golden, sizeof(golden), "%s/golden", base);
	ck_assert_msg(pifs_store_create(storepath, golden, NULL, NULL, err,
					sizeof(err)) == 0, "%s", err);
	ck_assert_msg(pifs_store_open(&st, storepath, err, sizeof(err)) == 0,
		      "%s", err);
	pifs_registry_init(&reg);
	snprintf(w.name, sizeof(w.name), "worker-1");
	snprintf(w.serial, sizeof(w.serial), "8b07bcc6");
	ck_assert_msg(pifs_registry_add(&reg, &w, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(pifs_registry_save(&reg, st.fd), 0);
	ck_assert_int_eq(pifs_store_delta_create(&st, "worker-1"), 0);
	sh("mkdir %s/deltas/worker-1/etc && echo hello > "
	   "%s/deltas/worker-1/etc/motd", storepath, storepath);
	ck_assert_msg(pifs_git_open(&g, &st, 1, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_msg(pifs_git_snapshot_prepare(g, "worker-1", "first", 0, &s,
						err, sizeof(err)) == 0,
		      "prepare: %s", err);
	ck_assert_msg(pifs_git_snapshot_finish(g, &s, err, sizeof(err)) == 0,
		      "finish: %s", err);
	ck_assert_int_eq(s.created, 1);
	memcpy(commit, s.id, sizeof(commit));
	pifs_git_free(g);
}

static void test_teardown(void)
{
	pifs_registry_release(&reg);
	pifs_store_close(&st);
}

/* Run fsck: its count of problems, and its output in *text (malloc'd). */
static int fsck(char **text)
{
	size_t len = 0;
	FILE *f;
	int n;

	*text = NULL;
	f = open_memstream(text, &len);
	ck_assert_ptr_nonnull(f);
	n = pifs_git_fsck(&st, &reg, f);
	fclose(f);
	return n;
}

/* Does a line of TEXT (not a note) contain every one of the strings? */
static int has_line(const char *text, const char *a, const char *b)
{
	const char *l = text;

	while (l && *l) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		char line[2048];

		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		if (strncmp(line, "note: ", 6) && strstr(line, a) &&
		    (!b || strstr(line, b)))
			return 1;
		l = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* Commit on worker-1's branch: its tree with PATH set to a new blob of
 * CONTENT (a shell word), parent the snapshot; prints the blob id into
 * BLOB (may be NULL). */
static void commit_with(const char *path, const char *content, char *blob)
{
	char f[PATH_MAX + 16];
	FILE *p;

	sh(GIT " read-tree %s", base, storepath, commit);
	snprintf(f, sizeof(f), "%s/blob", base);
	sh("printf %%s %s | " GIT " hash-object -w --stdin > %s", content,
	   base, storepath, f);
	sh(GIT " update-index --add --cacheinfo 100644,$(cat %s),%s", base,
	   storepath, f, path);
	sh("t=$(" GIT " write-tree) && c=$(" GIT " commit-tree $t -p %s -m "
	   "damaged) && " GIT " update-ref refs/heads/workers/worker-1 $c",
	   base, storepath, base, storepath, commit, base, storepath);
	if (blob) {
		p = fopen(f, "r");
		ck_assert_ptr_nonnull(p);
		ck_assert_ptr_nonnull(fgets(blob, 41, p));
		fclose(p);
	}
}

START_TEST(test_clean)
{
	char *out;
	int n = fsck(&out);

	ck_assert_msg(n == 0, "%d problems in a clean store:\n%s", n, out);
	ck_assert_msg(!has_line(out, "", NULL), "fsck said:\n%s", out);
	free(out);
}
END_TEST

START_TEST(test_bad_ref)
{
	char *out;
	int n;

	sh("mkdir -p %s/git/refs/heads/workers && echo "
	   "1111111111111111111111111111111111111111 > "
	   "%s/git/refs/heads/workers/worker-1", storepath, storepath);
	n = fsck(&out);
	ck_assert_int_ge(n, 1);
	ck_assert_msg(has_line(out, "ref 'refs/heads/workers/worker-1' points "
			       "to missing commit 1111111", NULL),
		      "fsck said:\n%s", out);
	free(out);
}
END_TEST

START_TEST(test_corrupt_pack)
{
	char *out;
	int n;

	/* One byte in the middle of the (only) pack, inverted. */
	sh("p=$(ls %s/git/objects/pack/*.pack) && s=$(stat -c %%s $p) && "
	   "o=$((s / 2)) && b=$(od -An -tu1 -j$o -N1 $p | tr -d ' ') && "
	   "printf \"\\\\$(printf %%03o $((255 - b)))\" | "
	   "dd of=$p bs=1 seek=$o conv=notrunc status=none", storepath);
	n = fsck(&out);
	ck_assert_int_ge(n, 1);
	ck_assert_msg(has_line(out, "pack '", ".pack"), "fsck said:\n%s", out);
	free(out);
}
END_TEST

START_TEST(test_missing_object)
{
	char blob[41] = "", *out;
	int n;

	commit_with("delta/etc/motd", "changed", blob);
	ck_assert_int_eq(strlen(blob), 40);
	sh("rm %s/git/objects/%.2s/%s", storepath, blob, blob + 2);
	n = fsck(&out);
	ck_assert_int_ge(n, 1);
	ck_assert_msg(has_line(out, "'delta/etc/motd'", blob),
		      "fsck said:\n%s", out);
	free(out);
}
END_TEST

START_TEST(test_bad_meta)
{
	char *out;
	int n;

	commit_with("META", "'not META\\n'", NULL);
	n = fsck(&out);
	ck_assert_int_ge(n, 1);
	ck_assert_msg(has_line(out, "META does not parse", NULL),
		      "fsck said:\n%s", out);
	free(out);
}
END_TEST

START_TEST(test_entry_not_in_meta)
{
	char *out;
	int n;

	commit_with("delta/etc/stray", "stray", NULL);
	n = fsck(&out);
	ck_assert_int_eq(n, 1);
	ck_assert_msg(has_line(out, "'delta/etc/stray' is not in META", NULL),
		      "fsck said:\n%s", out);
	free(out);
}
END_TEST

static Suite *fsck_suite(void)
{
	Suite *s = suite_create("fsck");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_clean);
	tcase_add_test(tc, test_bad_ref);
	tcase_add_test(tc, test_corrupt_pack);
	tcase_add_test(tc, test_missing_object);
	tcase_add_test(tc, test_bad_meta);
	tcase_add_test(tc, test_entry_not_in_meta);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed, r;

	if ((r = unit_needs_root("check_fsck", "trusted.* xattrs")))
		return r;
	if (system("git --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "check_fsck: needs git(1)\n");
		return unit_required("PIFS_REQUIRE_ROOT") ||
			       unit_required("PIFS_REQUIRE_FUSE")
			   ? 99
			   : 77;
	}
	sr = srunner_create(fsck_suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
