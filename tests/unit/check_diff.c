/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_diff.c - the view-level diff (overlay/git/diff.c) on a real
 * store: a worker's live delta against the bare golden, and one snapshot
 * against the next, give exactly one line per path a view shows
 * differently: an added file, changed content, a whiteout (deleted), a
 * type change, a mode, owner, xattr or mtime-only change, a symlink's new
 * target, an opaque directory and the golden children it hides, a
 * copy-up removed (the golden shows again) and the bytes of new content;
 * a path filter keeps only its subtree.  Runs as root under a mkdtemp in
 * /var/tmp (mknod, chown, trusted.* xattrs).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gitstore.h"
#include "store.h"
#include "util.h"
#include "unit.h"
#include "unit_store.h"

static char base[] = "/var/tmp/check_diff.XXXXXX";
static char storepath[256];
static char delta[320], gtree[320];
static struct pifs_store st;
static struct pifs_git *g;
static char err[1024];
static int nstore;

static void base_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(base));
	unit_sh("umask 022 && cd %s && mkdir -p golden/etc golden/usr/bin "
	   "golden/opq && cd golden && echo pi > etc/hostname && "
	   "echo Raspbian > etc/issue && echo m > etc/mode && "
	   "echo o > etc/owned && echo x > etc/xa && echo t > etc/touched && "
	   "ln -s hostname etc/link && echo golden > usr/bin/tool && "
	   "echo x > opq/x && echo y > opq/y",
	   base);
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
	snprintf(delta, sizeof(delta), "%s/deltas/worker-1", storepath);
	snprintf(gtree, sizeof(gtree), "%s/goldens/%s/tree", storepath,
		 st.conf.golden);
}

static void test_teardown(void)
{
	pifs_git_free(g);
	g = NULL;
	pifs_store_close(&st);
}

/* The diff as text, a line a change: "K path [what] [bytes]"; bytes "?"
 * when not known (a META loaded from a commit has no file sizes). */
static char *diff_text(const struct pifs_meta *old,
		       const struct pifs_meta *new, char *const *paths,
		       size_t npaths)
{
	struct pifs_change *c;
	size_t n, i, len = 0;
	char *text = NULL;
	FILE *f;

	ck_assert_msg(pifs_git_diff(g, &st, old, new, paths, npaths, &c, &n,
				    err, sizeof(err)) == 0, "diff: %s", err);
	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	for (i = 0; i < n; i++) {
		fprintf(f, "%c %s", c[i].kind, c[i].path);
		if (c[i].what[0])
			fprintf(f, " [%s]", c[i].what);
		if (c[i].bytes == UINT64_MAX)
			fputs(" ?", f);
		else if (c[i].bytes)
			fprintf(f, " %" PRIu64, c[i].bytes);
		fputc('\n', f);
	}
	fclose(f);
	pifs_changes_free(c, n);
	return text;
}

static void scan(struct pifs_meta *m)
{
	ck_assert_msg(pifs_git_scan(g, &st, "worker-1", m, err,
				    sizeof(err)) == 0, "scan: %s", err);
}

/* A snapshot of worker-1 that holds something new: its id. */
static void snapshot(char id[41])
{
	struct pifs_snapshot s;

	unit_snapshot(g, 0, &s);
	ck_assert_int_eq(s.created, 1);
	memcpy(id, s.id, 41);
}

/* One change of each kind against the golden. */
static void fill_delta(void)
{
	unit_sh("umask 022 && cd %s && G=%s && mkdir -p etc usr/bin opq && "
	   "echo new > etc/hostname && mknod etc/issue c 0 0 && "
	   "echo n > etc/new && echo gone > etc/gone && "
	   "ln -s issue etc/link && "
	   "cp -a $G/etc/mode etc/mode && chmod 755 etc/mode && "
	   "cp -a $G/etc/owned etc/owned && chown 1000:1001 etc/owned && "
	   "cp -a $G/etc/xa etc/xa && setfattr -n user.k -v v etc/xa && "
	   "cp -a $G/etc/touched etc/touched && "
	   "touch -d '2001-02-03 04:05:06' etc/touched && "
	   "ln -s /bin/true usr/bin/tool && "
	   "setfattr -n trusted.overlay.opaque -v y opq && "
	   "touch -r $G/opq opq",
	   delta, gtree);
}

START_TEST(test_delta_against_golden)
{
	struct pifs_meta m, s;
	char id[41], *text;

	fill_delta();
	scan(&m);
	text = diff_text(NULL, &m, NULL, 0);
	ck_assert_str_eq(text,
			 "A etc/gone 5\n"
			 "M etc/hostname [content, mtime] 4\n"
			 "D etc/issue\n"
			 "M etc/link [content, mtime] 5\n"
			 "M etc/mode [mode 644->755]\n"
			 "A etc/new 2\n"
			 "M etc/owned [owner 0:0->1000:1001]\n"
			 "M etc/touched [mtime]\n"
			 "M etc/xa [xattrs]\n"
			 "M opq [opaque]\n"
			 "D opq/x\n"
			 "D opq/y\n"
			 "M usr/bin/tool [type f->l] 9\n");
	free(text);
	/* the same from the snapshot of it (sizes unknown there) */
	snapshot(id);
	ck_assert_int_eq(pifs_git_load(g, id, &s, err, sizeof(err)), 0);
	text = diff_text(NULL, &s, NULL, 0);
	ck_assert_str_eq(text,
			 "A etc/gone ?\n"
			 "M etc/hostname [content, mtime]\n"
			 "D etc/issue\n"
			 "M etc/link [content, mtime]\n"
			 "M etc/mode [mode 644->755]\n"
			 "A etc/new ?\n"
			 "M etc/owned [owner 0:0->1000:1001]\n"
			 "M etc/touched [mtime]\n"
			 "M etc/xa [xattrs]\n"
			 "M opq [opaque]\n"
			 "D opq/x\n"
			 "D opq/y\n"
			 "M usr/bin/tool [type f->l]\n");
	free(text);
	/* and nothing between the snapshot and the live delta */
	text = diff_text(&s, &m, NULL, 0);
	ck_assert_str_eq(text, "");
	free(text);
	pifs_meta_release(&s);
	pifs_meta_release(&m);
}
END_TEST

START_TEST(test_snapshot_to_snapshot)
{
	struct pifs_meta a, b;
	char ida[41], idb[41], *text;

	fill_delta();
	snapshot(ida);
	unit_sh("umask 022 && cd %s && echo newer > etc/new && rm etc/gone && "
	   "rm etc/mode && rm etc/issue && rm etc/link && "
	   "ln -s hostname etc/link && rm usr/bin/tool && "
	   "mkdir usr/bin/tool && echo z > etc/added && "
	   "setfattr -x trusted.overlay.opaque opq && chmod 700 opq",
	   delta);
	snapshot(idb);
	ck_assert_int_eq(pifs_git_load(g, ida, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_git_load(g, idb, &b, err, sizeof(err)), 0);
	text = diff_text(&a, &b, NULL, 0);
	ck_assert_str_eq(text,
			 "A etc/added ?\n"
			 "D etc/gone\n"
			 "A etc/issue 9\n"
			 "M etc/link [content, mtime]\n"
			 "M etc/mode [mode 755->644]\n"
			 "M etc/new [content, mtime]\n"
			 "M opq [mode 755->700, opaque]\n"
			 "A opq/x 2\n"
			 "A opq/y 2\n"
			 "M usr/bin/tool [type l->d]\n");
	free(text);
	/* and back: the reverse of each */
	text = diff_text(&b, &a, NULL, 0);
	ck_assert_str_eq(text,
			 "D etc/added\n"
			 "A etc/gone ?\n"
			 "D etc/issue\n"
			 "M etc/link [content, mtime]\n"
			 "M etc/mode [mode 644->755]\n"
			 "M etc/new [content, mtime]\n"
			 "M opq [mode 700->755, opaque]\n"
			 "D opq/x\n"
			 "D opq/y\n"
			 "M usr/bin/tool [type d->l]\n");
	free(text);
	pifs_meta_release(&a);
	pifs_meta_release(&b);
}
END_TEST

START_TEST(test_paths)
{
	static char p0[] = "opq", p1[] = "usr/bin/tool", p2[] = "etc/issue";
	static char p3[] = ".", p4[] = "nothing/here";
	char *paths[] = {p0, p1}, *one[] = {p2}, *dot[] = {p3};
	char *none[] = {p4}, *text, *all;
	struct pifs_meta m;

	fill_delta();
	scan(&m);
	text = diff_text(NULL, &m, paths, 2);
	ck_assert_str_eq(text,
			 "M opq [opaque]\n"
			 "D opq/x\n"
			 "D opq/y\n"
			 "M usr/bin/tool [type f->l] 9\n");
	free(text);
	text = diff_text(NULL, &m, one, 1);
	ck_assert_str_eq(text, "D etc/issue\n");
	free(text);
	text = diff_text(NULL, &m, none, 1);
	ck_assert_str_eq(text, "");
	free(text);
	text = diff_text(NULL, &m, dot, 1);
	all = diff_text(NULL, &m, NULL, 0);
	ck_assert_str_eq(text, all);
	free(text);
	free(all);
	pifs_meta_release(&m);
}
END_TEST

/* An empty delta shows the golden: no change at all. */
START_TEST(test_nothing)
{
	struct pifs_meta m;
	char *text;

	scan(&m);
	text = diff_text(NULL, &m, NULL, 0);
	ck_assert_str_eq(text, "");
	free(text);
	text = diff_text(NULL, NULL, NULL, 0);
	ck_assert_str_eq(text, "");
	free(text);
	pifs_meta_release(&m);
}
END_TEST

int main(void)
{
	TCase *tc;
	int r;

	if ((r = unit_needs_root("check_diff", "mknod, chown, trusted.* "
				 "xattrs")))
		return r;
	tc = unit_store_tcase(base_setup, base_teardown, test_setup,
			      test_teardown);
	tcase_add_test(tc, test_delta_against_golden);
	tcase_add_test(tc, test_snapshot_to_snapshot);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_nothing);
	return unit_run("check_diff", tc);
}
