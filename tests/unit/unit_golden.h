/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unit_golden.h - what check_store and check_store_delta share: the
 * suite's mkdtemp base directory (base, defined by each suite) with a
 * directory of its own for every test, and a golden tree with every
 * attribute store creation must keep.
 */
#ifndef PIFS_TESTS_UNIT_GOLDEN_H
#define PIFS_TESTS_UNIT_GOLDEN_H

#include <sys/types.h>
#include <time.h>

#define GIB (1024LL * 1024 * 1024)

/* the suite's "/var/tmp/NAME.XXXXXX", made by base_setup */
extern char base[];

/* in make_golden's usr/bin/ping and etc/acl */
extern const unsigned char cap_net_raw[20];
extern const unsigned char acl[44];

/* unchecked fixture: make base, remove it with all in it */
void base_setup(void);
void base_teardown(void);
/* checked fixture: a new per-test directory for tpath */
void test_setup(void);
/* base/<pid>-<seq>/<name> (malloc'd) */
char *tpath(const char *name);

void put_file(int dfd, const char *path, const char *data, mode_t mode);
void set_times(int dfd, const char *path, time_t sec, long nsec);
/* A golden tree at path with everything store creation must keep. */
void make_golden(const char *path, int with_firmware);
/* path's manifest (malloc'd) */
char *manifest_of(const char *path);

#endif
