/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_layers.c - overlay/layers.c, the rule of what a view shows: the
 * whiteout, opaque and redirect tests on their own, one name at a time
 * (pifs_layers_below, as the view's lookup uses it), and whole paths
 * walked (pifs_layers_resolve) over a snapshot's META and over the same
 * delta on disk, which must agree.  The disk half needs root (mknod of a
 * whiteout, trusted.* xattrs) under a mkdtemp in /var/tmp.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "layers.h"
#include "meta.h"
#include "unit.h"

/* A delta: a/ opaque with a/b/ under it, c/ redirected to /x, d a
 * whiteout, e a file, r/ with a redirect pifs does not follow (".."). */
static const char meta_text[] =
    "# pifs delta metadata v1\n"
    "golden 0123456789abcdef\n"
    "d 755 0 0 1.000000000 0:0 - - .\n"
    "d 755 0 0 1.000000000 0:0 - trusted.overlay.opaque=79 a\n"
    "d 755 0 0 1.000000000 0:0 - - a/b\n"
    "d 755 0 0 1.000000000 0:0 - trusted.overlay.redirect=2f78 c\n"
    "c 0 0 0 1.000000000 0:0 - - d\n"
    "f 644 0 0 1.000000000 0:0 - - e\n"
    "d 755 0 0 1.000000000 0:0 - trusted.overlay.redirect=2f2e2e2f78 r\n";

/* path, in_delta, whiteout, golden (NULL: hidden), merged */
static const struct want {
	const char *path;
	int in_delta, whiteout;
	const char *golden;
	int merged;
} wants[] = {
	{ ".", 0, 0, ".", 1 },
	{ "f/g", 0, 0, "f/g", 1 },
	{ "a", 1, 0, "a", 0 },
	{ "a/b", 1, 0, NULL, 0 },
	{ "a/b/c", 0, 0, NULL, 0 },
	{ "a/z", 0, 0, NULL, 0 },
	{ "c", 1, 0, "x", 1 },
	{ "c/y/z", 0, 0, "x/y/z", 1 },
	{ "d", 1, 1, "d", 0 },
	{ "d/z", 0, 0, NULL, 0 },
	{ "e", 1, 0, "e", 0 },
	{ "e/z", 0, 0, NULL, 0 },
	{ "r/q", 0, 0, "r/q", 1 },
};

static void check_wants(pifs_layers_get_fn get, void *ctx, const char *how)
{
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		const struct want *w = &wants[i];
		struct pifs_layers_hit h;

		ck_assert_int_eq(pifs_layers_resolve(w->path, get, ctx, &h), 0);
		ck_assert_msg(h.in_delta == w->in_delta &&
				      h.whiteout == w->whiteout &&
				      h.merged == w->merged,
			      "%s '%s': in_delta %d whiteout %d merged %d", how,
			      w->path, h.in_delta, h.whiteout, h.merged);
		if (w->golden)
			ck_assert_msg(h.golden && !strcmp(h.golden, w->golden),
				      "%s '%s': golden '%s', want '%s'", how,
				      w->path, h.golden ? h.golden : "(null)",
				      w->golden);
		else
			ck_assert_msg(!h.golden, "%s '%s': golden '%s' shows",
				      how, w->path, h.golden);
		free(h.golden);
	}
}

START_TEST(test_rules)
{
	struct pifs_layers_entry e = { 0 };
	char *out;

	ck_assert(pifs_layers_is_whiteout(S_IFCHR, makedev(0, 0)));
	ck_assert(!pifs_layers_is_whiteout(S_IFCHR, makedev(4, 5)));
	ck_assert(!pifs_layers_is_whiteout(S_IFBLK, makedev(0, 0)));
	ck_assert(pifs_layers_is_opaque("y", 1));
	ck_assert(!pifs_layers_is_opaque("n", 1));
	ck_assert(!pifs_layers_is_opaque("yy", 2));
	ck_assert_int_eq(pifs_layers_redirect("/usr/lib", 8, &out), 0);
	ck_assert_str_eq(out, "usr/lib");
	free(out);
	static const char *const bad[] = { "/", "usr", "/a//b", "/a/../b",
					   "/..", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(pifs_layers_redirect(bad[i], strlen(bad[i]),
						      &out), 0);
		ck_assert_msg(!out, "redirect '%s' followed", bad[i]);
	}
	ck_assert_int_eq(pifs_layers_redirect("/a\0b", 4, &out), 0);
	ck_assert_ptr_null(out);

	/* One name: no entry joins the parent's golden path. */
	ck_assert_int_eq(pifs_layers_below("etc", "motd", NULL, &out),
			 PIFS_LAYERS_JOINED);
	ck_assert_str_eq(out, "etc/motd");
	free(out);
	ck_assert_int_eq(pifs_layers_below("", "etc", NULL, &out),
			 PIFS_LAYERS_JOINED);
	ck_assert_str_eq(out, "etc");
	free(out);
	ck_assert_int_eq(pifs_layers_below(NULL, "etc", NULL, &out),
			 PIFS_LAYERS_NONE);
	ck_assert_ptr_null(out);
	e.mode = S_IFCHR;
	ck_assert_int_eq(pifs_layers_below("", "x", &e, &out), -ENOENT);
	e.mode = S_IFREG;
	ck_assert_int_eq(pifs_layers_below("", "x", &e, &out), PIFS_LAYERS_NONE);
	e.mode = S_IFDIR;
	e.opaque = 1;
	ck_assert_int_eq(pifs_layers_below("", "x", &e, &out), PIFS_LAYERS_NONE);
	e.opaque = 0;
	char redir[] = "usr/lib";

	e.redirect = redir;
	ck_assert_int_eq(pifs_layers_below(NULL, "x", &e, &out),
			 PIFS_LAYERS_REDIRECT);
	ck_assert_str_eq(out, "usr/lib");
	free(out);
}
END_TEST

START_TEST(test_resolve_meta)
{
	struct pifs_meta m;
	char err[256];

	pifs_meta_init(&m);
	ck_assert_msg(pifs_meta_parse(&m, meta_text, strlen(meta_text), err,
				      sizeof(err)) == 0, "%s", err);
	check_wants(pifs_meta_layers_get, &m, "META");
	pifs_meta_release(&m);
}
END_TEST

START_TEST(test_resolve_disk)
{
	char dir[] = "/var/tmp/check_layers.XXXXXX", cmd[1024];
	int fd;

	if (geteuid() != 0) {
		ck_assert_msg(!unit_required("PIFS_REQUIRE_FUSE") &&
				      !unit_required("PIFS_REQUIRE_ROOT"),
			      "the delta on disk needs root");
		return;
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p a/b c r && setfattr -n trusted.overlay.opaque "
		 "-v y a && setfattr -n trusted.overlay.redirect -v /x c && "
		 "setfattr -n trusted.overlay.redirect -v /../x r && "
		 "mknod d c 0 0 && echo e > e",
		 dir);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
	fd = open(dir, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	check_wants(pifs_layers_delta_get, &fd, "disk");
	close(fd);
	fd = -1; /* no delta: the golden shows everywhere */
	{
		struct pifs_layers_hit h;

		ck_assert_int_eq(pifs_layers_resolve("a/b", pifs_layers_delta_get,
						     &fd, &h), 0);
		ck_assert(!h.in_delta && h.merged);
		ck_assert_str_eq(h.golden, "a/b");
		free(h.golden);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("layers");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_rules);
	tcase_add_test(tc, test_resolve_meta);
	tcase_add_test(tc, test_resolve_disk);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
