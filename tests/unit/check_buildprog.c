/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_buildprog.c - the progress bar of `pifs golden build`
 * (tools/buildprog.c) fed the lines golden-build.sh really prints: its
 * step lines (from a --debian build's log) and, on the progress
 * descriptor, the console of a real second stage (debootstrap
 * --second-stage in the arm64 guest, tests/unit/data/): every unpacked
 * and configured package is a step, the phase headings are not; a new
 * step ends the bar; other output is for the user; no bar without a
 * size.  The bar is drawn into a pipe, as onto a terminal.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buildprog.h"

#define CONSOLE TOP_SRCDIR "/tests/unit/data/second-stage-console.txt"

/* What the bar wrote into the pipe so far (NUL-terminated, static). */
static const char *drained(int fd)
{
	static char buf[1 << 16];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

START_TEST(test_second_stage)
{
	struct buildprog bp;
	char line[512], *nl;
	unsigned lines = 0;
	int p[2];
	FILE *f;

	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	buildprog_init(&bp, p[1]);
	ck_assert_int_eq(buildprog_line(&bp, "golden-build: [5/7] root tree: "
				       "debootstrap --foreign bookworm arm64 "
				       "minbase + systemd-sysv", 0), 1);
	ck_assert_str_eq(bp.step, "[5/7] root tree");
	ck_assert_int_eq(buildprog_line(&bp, "golden-build: [6/7] second "
				       "stage: debootstrap --second-stage in "
				       "an arm64 QEMU guest (TCG, up to 90 "
				       "min)", 0), 1);
	ck_assert_str_eq(bp.step, "[6/7] second stage");
	/* say 110 .debs in the first stage's archives: 220 steps */
	ck_assert_int_eq(buildprog_line(&bp, "total 220 steps", 1), 0);
	ck_assert(bp.counting);
	f = fopen(CONSOLE, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if ((nl = strchr(line, '\n')))
			*nl = '\0';
		ck_assert_int_eq(buildprog_line(&bp, line, 1), 0);
		lines++;
	}
	fclose(f);
	ck_assert_uint_eq(lines, 226);
	/* 108 "I: Unpacking X...", 110 "I: Configuring X..."; not the six
	 * headings ("I: Unpacking required packages...", "I: Configuring
	 * the base system...") nor pifs-second-stage's own two lines */
	ck_assert_uint_eq(bp.bar.done, 218);
	ck_assert(strstr(drained(p[0]), "\r[6/7] second stage ["));
	/* a message in between: for the user, the bar taken off first */
	ck_assert_int_eq(buildprog_line(&bp, "golden-build:   second stage: "
				       "done in 2027 s; copying the tree back",
				       0), 1);
	buildprog_clear(&bp);
	ck_assert_str_eq(drained(p[0]), "\r\033[K");
	/* the next step ends the bar: its last state and a newline */
	ck_assert_int_eq(buildprog_line(&bp, "golden-build: [7/7] "
				       "boot/firmware: firmware, kernel8.img",
				       0), 1);
	ck_assert(!bp.counting);
	{
		const char *out = drained(p[0]);

		ck_assert(strstr(out, "  99%  218 of 220 steps"));
		ck_assert_int_eq(out[strlen(out) - 1], '\n');
	}
	ck_assert_str_eq(bp.step, "[7/7] boot/firmware");
	buildprog_end(&bp);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_minimal_steps)
{
	struct buildprog bp;
	char buf[256];
	int p[2];

	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	buildprog_init(&bp, p[1]);
	buildprog_line(&bp, "golden-build: [2/6] packages: downloading 7 of 7 "
			    "(raspi-firmware linux-image-6.1.0-57-arm64)", 0);
	ck_assert_str_eq(bp.step, "[2/6] packages");
	buildprog_line(&bp, "total 7 packages", 1);
	buildprog_line(&bp, "I: Retrieving raspi-firmware", 1);
	buildprog_line(&bp, "I: Retrieving linux-image-6.1.0-57-arm64", 1);
	/* debootstrap's first-stage form: name and version */
	buildprog_line(&bp, "I: Validating libacl1 2.3.1-3", 1);
	ck_assert_uint_eq(bp.bar.done, 3);
	pifs_bar_format(&bp.bar, 3.0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[2/6] packages     [############"
			      "..................]  42%  3 of 7 packages  1/s"
			      "  0:04 left");
	/* no size, no bar: the step line alone */
	buildprog_line(&bp, "golden-build: [3/6] unpacking", 0);
	ck_assert_int_eq(buildprog_line(&bp, "total 0 packages", 1), 0);
	ck_assert(!bp.counting);
	buildprog_line(&bp, "I: Extracting libc6", 1);
	ck_assert_uint_eq(bp.bar.done, 0);
	buildprog_end(&bp);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* Without a terminal (fd -1) nothing is drawn, lines still sorted. */
START_TEST(test_no_terminal)
{
	struct buildprog bp;

	buildprog_init(&bp, -1);
	ck_assert_int_eq(buildprog_line(&bp, "golden-build: [1/6] package "
				       "lists: cached", 0), 1);
	ck_assert_int_eq(buildprog_line(&bp, "total 4 packages", 1), 0);
	ck_assert_int_eq(buildprog_line(&bp, "I: Retrieving libc6", 1), 0);
	ck_assert_int_eq(bp.bar.shown, 0);
	buildprog_end(&bp);
}
END_TEST

static Suite *buildprog_suite(void)
{
	Suite *s = suite_create("buildprog");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_second_stage);
	tcase_add_test(tc, test_minimal_steps);
	tcase_add_test(tc, test_no_terminal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(buildprog_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
