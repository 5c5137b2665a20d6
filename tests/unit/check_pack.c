/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_pack.c - the pack writer (overlay/git/pack.c): objects staged in
 * the mempack (every type, empty, larger than the writer's and zlib's
 * buffers, incompressible, one staged twice, enough to fill every fanout
 * slot) are written as one pack whose index `git verify-pack` accepts
 * object for object, and which a fresh libgit2 repository reads back
 * byte for byte; nothing staged writes nothing; a missing pack
 * directory is an error with its message and leaves no temporary.  Uses
 * the store's internals (internal.h) on a bare repository, so no root.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "internal.h"
#include "store.h"

#define NSMALL 600 /* small blobs: every first byte of an id, most likely */

static char base[] = "/var/tmp/check_pack.XXXXXX";
static char packdir[128];
static struct pifs_store st;
static struct pifs_git *g;
static char err[1024];

struct obj {
	git_oid oid;
	git_object_t type;
	unsigned char *data;
	size_t len;
};

static struct obj *objs;
static size_t nobjs;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "command failed: %s", cmd);
}

/* A bare repository in a directory laid out as far as the git code
 * looks: STORE/work and STORE/git. */
static void setup(void)
{
	char work[PATH_MAX];

	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(work, sizeof(work), "%s/work", base);
	ck_assert_int_eq(mkdir(work, 0700), 0);
	memset(&st, 0, sizeof(st));
	st.golden_fd = st.deltas_fd = st.lock_fd = st.daemon_lock_fd = -1;
	st.path = strdup(base);
	st.fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	st.work_fd = open(work, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_ptr_nonnull(st.path);
	ck_assert_int_ge(st.fd, 0);
	ck_assert_int_ge(st.work_fd, 0);
	ck_assert_msg(pifs_git_open(&g, &st, 1, err, sizeof(err)) == 0, "%s",
		      err);
	snprintf(packdir, sizeof(packdir), "%s/git/objects/pack", base);
}

static void teardown(void)
{
	size_t i;

	pifs_git_free(g);
	g = NULL;
	close(st.fd);
	close(st.work_fd);
	free(st.path);
	for (i = 0; i < nobjs; i++)
		free(objs[i].data);
	free(objs);
	objs = NULL;
	nobjs = 0;
	sh("rm -rf %s", base);
	strcpy(base + strlen(base) - 6, "XXXXXX");
}

/* Write an object into the mempack (where a snapshot stages it) and note
 * it for the pack; remember what it should read back as. */
static const git_oid *stage(git_object_t type, const void *data, size_t len)
{
	struct obj *o;

	objs = realloc(objs, (nobjs + 1) * sizeof(*objs));
	ck_assert_ptr_nonnull(objs);
	o = &objs[nobjs++];
	o->type = type;
	o->len = len;
	o->data = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(o->data);
	memcpy(o->data, data, len);
	ck_assert_int_eq(git_odb_write(&o->oid, g->odb, data, len, type), 0);
	ck_assert_int_eq(pifs_git_staged_note(g, &o->oid), 0);
	return &o->oid;
}

/* Distinct objects staged (the same content may be staged twice). */
static size_t distinct(void)
{
	size_t i, j, n = 0;

	for (i = 0; i < nobjs; i++) {
		for (j = 0; j < i; j++)
			if (git_oid_equal(&objs[i].oid, &objs[j].oid))
				break;
		n += j == i;
	}
	return n;
}

/* The files in objects/pack: the pack's name (without extension) into
 * name, how many .pack, .idx and other files there are. */
static void pack_files(char name[PATH_MAX], int *npack, int *nidx,
		       int *nother)
{
	struct dirent *de;
	size_t l;
	DIR *d;

	*npack = *nidx = *nother = 0;
	name[0] = '\0';
	d = opendir(packdir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		l = strlen(de->d_name);
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (l == 50 && !strncmp(de->d_name, "pack-", 5) &&
		    !strcmp(de->d_name + 45, ".pack")) {
			(*npack)++;
			snprintf(name, PATH_MAX, "%s/%.45s", packdir,
				 de->d_name);
		} else if (l == 49 && !strncmp(de->d_name, "pack-", 5) &&
			   !strcmp(de->d_name + 45, ".idx")) {
			(*nidx)++;
		} else {
			(*nother)++;
		}
	}
	closedir(d);
}

static void stage_everything(void)
{
	static const char hello[] = "hello\n";
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	unsigned char *big;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	git_oid tree, commit;
	const git_oid *h;
	git_tree *t = NULL;
	char small[32];
	size_t i;

	stage(GIT_OBJECT_BLOB, "", 0);
	h = stage(GIT_OBJECT_BLOB, hello, 6);
	stage(GIT_OBJECT_BLOB, hello, 6); /* staged twice, packed once */
	/* larger than the writer's 64 KiB buffer and zlib's 16 KiB output
	 * chunks: compressible, then not at all */
	big = malloc(3 << 20);
	ck_assert_ptr_nonnull(big);
	for (i = 0; i < (size_t)(3 << 20); i++)
		big[i] =
		    (unsigned char)"pifs"[i % 4] ^ (unsigned char)(i >> 16);
	stage(GIT_OBJECT_BLOB, big, 3 << 20);
	for (i = 0; i < 300000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		big[i] = (unsigned char)x;
	}
	stage(GIT_OBJECT_BLOB, big, 300000);
	free(big);
	for (i = 0; i < NSMALL; i++) {
		snprintf(small, sizeof(small), "blob %zu\n", i);
		stage(GIT_OBJECT_BLOB, small, strlen(small));
	}
	/* a tree and a commit, as a snapshot makes them */
	ck_assert_int_eq(git_treebuilder_new(&tb, g->repo, NULL), 0);
	ck_assert_int_eq(git_treebuilder_insert(NULL, tb, "hello", h,
						GIT_FILEMODE_BLOB),
			 0);
	ck_assert_int_eq(git_treebuilder_write(&tree, tb), 0);
	git_treebuilder_free(tb);
	ck_assert_int_eq(pifs_git_staged_note(g, &tree), 0);
	ck_assert_int_eq(git_tree_lookup(&t, g->repo, &tree), 0);
	ck_assert_int_eq(git_signature_new(&sig, "pifs", "pifs@test", 1, 0), 0);
	ck_assert_int_eq(git_commit_create(&commit, g->repo, NULL, sig, sig,
					   NULL, "snapshot\n", t, 0, NULL),
			 0);
	ck_assert_int_eq(pifs_git_staged_note(g, &commit), 0);
	git_signature_free(sig);
	git_tree_free(t);
	/* remember their content as git serialised them */
	{
		git_odb_object *o;
		const git_oid *ids[2] = {&tree, &commit};
		git_object_t types[2] = {GIT_OBJECT_TREE, GIT_OBJECT_COMMIT};

		for (i = 0; i < 2; i++) {
			ck_assert_int_eq(git_odb_read(&o, g->odb, ids[i]), 0);
			stage(types[i], git_odb_object_data(o),
			      git_odb_object_size(o));
			ck_assert(git_oid_equal(&objs[nobjs - 1].oid, ids[i]));
			git_odb_object_free(o);
		}
	}
}

START_TEST(test_pack_verifies)
{
	char name[PATH_MAX], line[512], hex[41], type[16], cmd[PATH_MAX + 64];
	unsigned count = 0, listed = 0, size;
	int npack, nidx, nother, found, status;
	size_t i;
	FILE *f;

	stage_everything();
	ck_assert_msg(pifs_pack_write(g, &count, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_uint_eq(count, distinct());
	ck_assert_uint_eq(count, NSMALL + 6);
	pack_files(name, &npack, &nidx, &nother);
	ck_assert_int_eq(npack, 1);
	ck_assert_int_eq(nidx, 1);
	ck_assert_int_eq(nother, 0); /* no temporaries left */
	/* git's own reader checks the index (fanout, CRCs, offsets, both
	 * checksums) against the pack */
	snprintf(cmd, sizeof(cmd), "git verify-pack -v '%s.idx' 2>&1", name);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		/* object lines only: "<40 hex> <type> <size> ..."; the last
		 * line ("<path>.pack: ok") can scan too, with a path in hex */
		if (sscanf(line, "%40s %15s %u", hex, type, &size) != 3 ||
		    strlen(hex) != 40 ||
		    strspn(hex, "0123456789abcdef") != 40 || line[40] != ' ')
			continue;
		listed++;
		found = 0;
		for (i = 0; i < nobjs && !found; i++) {
			char h[41];

			git_oid_tostr(h, sizeof(h), &objs[i].oid);
			if (strcmp(h, hex))
				continue;
			found = 1;
			ck_assert_str_eq(type,
					 git_object_type2string(objs[i].type));
			ck_assert_uint_eq(size, objs[i].len);
		}
		ck_assert_msg(found, "unexpected object %s", hex);
	}
	status = pclose(f);
	ck_assert_msg(status == 0, "git verify-pack failed (%d)", status);
	ck_assert_uint_eq(listed, count);
}
END_TEST

START_TEST(test_pack_reads_back)
{
	git_repository *repo = NULL;
	git_odb_object *o;
	git_odb *odb = NULL;
	unsigned count;
	char path[PATH_MAX];
	size_t i;

	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
	stage_everything();
	ck_assert_msg(pifs_pack_write(g, &count, err, sizeof(err)) == 0, "%s",
		      err);
	/* nothing left in memory: what reads back comes from the pack */
	pifs_git_staged_drop(g);
	snprintf(path, sizeof(path), "%s/git", base);
	ck_assert_int_eq(git_repository_open_bare(&repo, path), 0);
	ck_assert_int_eq(git_repository_odb(&odb, repo), 0);
	for (i = 0; i < nobjs; i++) {
		ck_assert_int_eq(git_odb_read(&o, odb, &objs[i].oid), 0);
		ck_assert_int_eq(git_odb_object_type(o), objs[i].type);
		ck_assert_uint_eq(git_odb_object_size(o), objs[i].len);
		if (objs[i].len)
			ck_assert_mem_eq(git_odb_object_data(o), objs[i].data,
					 objs[i].len);
		git_odb_object_free(o);
	}
	git_odb_free(odb);
	git_repository_free(repo);
	/* and so does the handle that wrote it */
	ck_assert_int_eq(git_odb_read(&o, g->odb, &objs[nobjs - 1].oid), 0);
	git_odb_object_free(o);
}
END_TEST

START_TEST(test_nothing_staged)
{
	char name[PATH_MAX];
	unsigned count = 7;
	int npack, nidx, nother;

	ck_assert_int_eq(pifs_pack_write(g, &count, err, sizeof(err)), 0);
	ck_assert_uint_eq(count, 0);
	pack_files(name, &npack, &nidx, &nother);
	ck_assert_int_eq(npack + nidx + nother, 0);
}
END_TEST

START_TEST(test_no_pack_dir)
{
	unsigned count = 7;

	stage(GIT_OBJECT_BLOB, "x", 1);
	sh("rmdir %s", packdir);
	err[0] = '\0';
	ck_assert_int_eq(pifs_pack_write(g, &count, err, sizeof(err)),
			 -ENOENT);
	ck_assert_uint_eq(count, 0);
	ck_assert_msg(strstr(err, "cannot open '") &&
			  strstr(err, "/git/objects/pack'"),
		      "%s", err);
	ck_assert_int_eq(access(packdir, F_OK), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pack");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	if (system("git --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "check_pack: needs git (verify-pack)\n");
		return 1;
	}
	pifs_log_init("check_pack", 0, PIFS_LOG_WARN);
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pack_verifies);
	tcase_add_test(tc, test_pack_reads_back);
	tcase_add_test(tc, test_nothing_staged);
	tcase_add_test(tc, test_no_pack_dir);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
