/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unit_store.h - what the Check suites on a real store share: a shell
 * command that fails the test when it fails, and a fresh store under a
 * suite's mkdtemp directory (base/golden its golden source, base/storeN
 * the store, worker-1's delta made, the store open), a snapshot that
 * must succeed, and the test case and runner of such a suite.
 */
#ifndef PIFS_TESTS_UNIT_STORE_H
#define PIFS_TESTS_UNIT_STORE_H

#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gitstore.h"
#include "store.h"
#include "util.h"

static inline void unit_sh(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static inline void unit_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "command failed: %s", cmd);
}

/* Remove a suite's base directory (immutable goldens included). */
static inline void unit_base_remove(const char *base)
{
	unit_sh("chattr -R -i %s 2>/dev/null; rm -rf %s", base, base);
}

/* A new store base/store<(*n)++> over base/golden with worker-1's delta,
 * open in *st; its path in path (len bytes). */
static inline void unit_store_new(const char *base, int *n, char *path,
				  size_t len, struct pifs_store *st)
{
	char golden[PATH_MAX], err[1024];

	ck_assert_int_lt(snprintf(path, len, "%s/store%d", base, (*n)++),
			 (int)len);
	snprintf(golden, sizeof(golden), "%s/golden", base);
	ck_assert_msg(pifs_store_create(path, golden, NULL, NULL, err,
					sizeof(err)) == 0, "%s", err);
	ck_assert_msg(pifs_store_open(st, path, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(pifs_store_delta_create(st, "worker-1"), 0);
}

/* Snapshot worker-1 (prepare and finish) into *s. */
static inline void unit_snapshot(struct pifs_git *g, int allow_empty,
				 struct pifs_snapshot *s)
{
	char err[1024];

	ck_assert_msg(pifs_git_snapshot_prepare(g, "worker-1", NULL,
						allow_empty, s, err,
						sizeof(err)) == 0,
		      "prepare: %s", err);
	ck_assert_msg(pifs_git_snapshot_finish(g, s, err, sizeof(err)) == 0,
		      "finish: %s", err);
}

/* A suite's one test case: base_setup/base_teardown once around it,
 * setup/teardown around each test, two minutes a test. */
static inline TCase *unit_store_tcase(void (*base_setup)(void),
				      void (*base_teardown)(void),
				      void (*setup)(void),
				      void (*teardown)(void))
{
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	return tc;
}

/* Run the suite of tc in this process (its tests share the stores); the
 * exit status of the suite's main. */
static inline int unit_run(const char *name, TCase *tc)
{
	Suite *s = suite_create(name);
	SRunner *sr;
	int failed;

	pifs_log_init(name, 0, PIFS_LOG_WARN);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

#endif
