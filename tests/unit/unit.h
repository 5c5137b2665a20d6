/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unit.h - what the Check suites share: the rule for a suite that needs
 * root (mknod, chown, trusted.* xattrs).  Without root it is skipped
 * (exit 77), as a developer running `make check` as a user expects; but
 * where the run must be complete (CI sets PIFS_REQUIRE_FUSE=1, or
 * PIFS_REQUIRE_ROOT=1 for the unit suites alone) a skip would hide that
 * the suite never ran, so it is a hard error (exit 99), as the
 * integration scenarios' skips are.
 */
#ifndef PIFS_TESTS_UNIT_H
#define PIFS_TESTS_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int unit_required(const char *var)
{
	const char *v = getenv(var);

	return v && !strcmp(v, "1");
}

/* 0 when running as root; else the exit status the suite returns at once,
 * having said why on stderr. */
static inline int unit_needs_root(const char *suite, const char *why)
{
	if (geteuid() == 0)
		return 0;
	if (unit_required("PIFS_REQUIRE_ROOT") ||
	    unit_required("PIFS_REQUIRE_FUSE")) {
		fprintf(stderr,
			"%s: needs root (%s), and PIFS_REQUIRE_ROOT or "
			"PIFS_REQUIRE_FUSE is set: failed, not skipped\n",
			suite, why);
		return 99;
	}
	fprintf(stderr, "%s: needs root (%s), skipped\n", suite, why);
	return 77;
}

#endif
