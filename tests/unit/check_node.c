/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_node.c - the node table (overlay/node.c) and the id layout
 * (node.h): ids pack and unpack exactly at every field's edges; a second
 * insert of an id returns the first node and frees the new one with the
 * pins it held; a node lives exactly as long as it has pins or kernel
 * lookups, and freeing it drops its parent's pin, so a chain of
 * directories goes when its last leaf is forgotten; a forget larger than
 * the lookup count or of an unknown id is harmless (the kernel may send
 * either after a restart); the table grows past its first size with
 * every node still found; and threads racing on the same ids leave
 * every count right.  ASan (CI) checks that nothing leaks or is used
 * after being freed.  No root needed.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node.h"

static struct pifs_nodes t;

static void setup(void)
{
	ck_assert_int_eq(pifs_nodes_init(&t), 0);
}

static void teardown(void)
{
	pifs_nodes_release(&t);
}

START_TEST(test_id_layout)
{
	static const uint32_t views[] = {0, 1, 2, 0x7fff, 0xffff};
	static const uint64_t inos[] = {0, 1, 2, PIFS_GEN_INO_BASE,
					PIFS_ID_INO_MASK};

	for (size_t v = 0; v < sizeof(views) / sizeof(*views); v++)
		for (size_t i = 0; i < sizeof(inos) / sizeof(*inos); i++)
			for (int up = 0; up < 2; up++) {
				uint64_t id = pifs_make_id(views[v], up, inos[i]);

				ck_assert_uint_eq(PIFS_ID_VIEW(id), views[v]);
				ck_assert_uint_eq(id & PIFS_ID_INO_MASK, inos[i]);
				ck_assert_uint_eq(!!(id & PIFS_ID_UPPER), up);
				ck_assert_uint_eq(id & PIFS_ID_ALIAS, 0);
			}
	/* an inode number wider than 46 bits cannot reach the flag or view
	 * bits */
	ck_assert_uint_eq(PIFS_ID_VIEW(pifs_make_id(3, 0, ~0ULL)), 3);
	ck_assert_uint_eq(pifs_make_id(3, 0, ~0ULL) & PIFS_ID_UPPER, 0);
	ck_assert_uint_eq(pifs_make_id(3, 0, ~0ULL) & PIFS_ID_ALIAS, 0);
	/* the static ids and the mount-point ids are view 0, distinct */
	ck_assert_uint_eq(PIFS_ID_VIEW(PIFS_MNT_ID(0xffff)), 0);
	ck_assert_uint_ne(PIFS_MNT_ID(1), PIFS_ROOT_ID);
	ck_assert_uint_ne(PIFS_MNT_ID(2), PIFS_NFSROOT_ID);
	ck_assert_uint_ne(PIFS_MNT_ID(3), PIFS_TFTPROOT_ID);
}
END_TEST

static struct pifs_node *add(uint64_t id, struct pifs_node *parent,
			     const char *name)
{
	struct pifs_node *n = pifs_node_new(id, 0, NULL, S_IFREG | 0644);

	ck_assert_ptr_nonnull(n);
	if (parent)
		ck_assert_int_eq(pifs_node_move(&t, n, parent, name), 0);
	return pifs_nodes_insert(&t, n);
}

START_TEST(test_insert_dedup)
{
	struct pifs_node *dir = add(10, NULL, NULL);
	struct pifs_node *a = add(11, dir, "a");
	/* a second node for id 11 (two lookups racing): the first wins,
	 * the loser and its pin on dir are gone */
	struct pifs_node *b = add(11, dir, "a");

	ck_assert_ptr_eq(a, b);
	ck_assert_uint_eq(a->refs, 2);
	ck_assert_uint_eq(dir->refs, 2); /* ours and a's */
	ck_assert_uint_eq(pifs_nodes_count(&t), 2);
	ck_assert_uint_eq(a->type, S_IFREG);
	pifs_nodes_put(&t, b);
	pifs_nodes_put(&t, a);
	/* a is gone, and with it its pin on dir */
	ck_assert_ptr_null(pifs_nodes_get(&t, 11));
	ck_assert_uint_eq(dir->refs, 1);
	pifs_nodes_put(&t, dir);
	ck_assert_uint_eq(pifs_nodes_count(&t), 0);
}
END_TEST

START_TEST(test_lookup_lifetime)
{
	struct pifs_node *root = add(1, NULL, NULL);
	struct pifs_node *d1 = add(20, root, "d1");
	struct pifs_node *d2 = add(21, d1, "d2");
	struct pifs_node *f = add(22, d2, "f");

	/* the kernel holds each once; our pins go */
	pifs_nodes_lookup_inc(&t, d1);
	pifs_nodes_lookup_inc(&t, d2);
	pifs_nodes_lookup_inc(&t, f);
	pifs_nodes_lookup_inc(&t, f);
	pifs_nodes_put(&t, f);
	pifs_nodes_put(&t, d2);
	pifs_nodes_put(&t, d1);
	ck_assert_uint_eq(pifs_nodes_count(&t), 4);
	/* forgetting the directories first keeps them: f pins d2, d2 d1 */
	pifs_nodes_forget(&t, 21, 1);
	pifs_nodes_forget(&t, 20, 1);
	ck_assert_uint_eq(pifs_nodes_count(&t), 4);
	/* an unknown id, and a count larger than the lookups: harmless */
	pifs_nodes_forget(&t, 999, 5);
	pifs_nodes_forget(&t, 22, 1);
	ck_assert_uint_eq(pifs_nodes_count(&t), 4);
	pifs_nodes_forget(&t, 22, 100);
	/* f went, and the chain above it with it; root stays (our pin) */
	ck_assert_uint_eq(pifs_nodes_count(&t), 1);
	ck_assert_ptr_null(pifs_nodes_get(&t, 20));
	ck_assert_uint_eq(root->refs, 1);
	pifs_nodes_put(&t, root);
	ck_assert_uint_eq(pifs_nodes_count(&t), 0);
}
END_TEST

START_TEST(test_move)
{
	struct pifs_node *p1 = add(30, NULL, NULL);
	struct pifs_node *p2 = add(31, NULL, NULL);
	struct pifs_node *n = add(32, p1, "old");

	ck_assert_uint_eq(p1->refs, 2);
	ck_assert_int_eq(pifs_node_move(&t, n, p2, "new"), 0);
	ck_assert_str_eq(n->name, "new");
	ck_assert_ptr_eq(n->parent, p2);
	ck_assert_uint_eq(p1->refs, 1);
	ck_assert_uint_eq(p2->refs, 2);
	/* moving p1 away (its last pin) frees it */
	pifs_nodes_put(&t, p1);
	ck_assert_ptr_null(pifs_nodes_get(&t, 30));
	pifs_nodes_put(&t, n);
	pifs_nodes_put(&t, p2);
	ck_assert_uint_eq(pifs_nodes_count(&t), 0);
}
END_TEST

START_TEST(test_growth)
{
	enum { N = 20000 };
	struct pifs_node **ns = calloc(N, sizeof(*ns));

	ck_assert_ptr_nonnull(ns);
	for (uint64_t i = 0; i < N; i++)
		ns[i] = add(pifs_make_id((uint32_t)(i % 7), (int)(i & 1), i),
			    NULL, NULL);
	ck_assert_uint_eq(pifs_nodes_count(&t), N);
	ck_assert_uint_gt(t.nbuckets, 1024);
	for (uint64_t i = 0; i < N; i++) {
		struct pifs_node *n = pifs_nodes_get(
		    &t, pifs_make_id((uint32_t)(i % 7), (int)(i & 1), i));

		ck_assert_ptr_eq(n, ns[i]);
		pifs_nodes_put(&t, n);
	}
	for (uint64_t i = 0; i < N; i++)
		pifs_nodes_put(&t, ns[i]);
	ck_assert_uint_eq(pifs_nodes_count(&t), 0);
	free(ns);
}
END_TEST

/* Threads that look up, insert and forget the same few ids at once, as
 * the pool's threads do for one hot directory. */
static struct pifs_node *race_dir;

static void *racer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (int i = 0; i < 20000; i++) {
		uint64_t id = 100 + rand_r(&seed) % 8;
		struct pifs_node *n = pifs_nodes_get(&t, id);

		if (!n) {
			n = pifs_node_new(id, 0, NULL, S_IFREG);
			if (!n)
				return (void *)1;
			if (pifs_node_move(&t, n, race_dir, "f") < 0)
				return (void *)1;
			n = pifs_nodes_insert(&t, n);
		}
		pifs_nodes_lookup_inc(&t, n);
		pifs_nodes_put(&t, n);
		pifs_nodes_forget(&t, id, 1);
	}
	return NULL;
}

START_TEST(test_threads)
{
	pthread_t th[4];

	race_dir = add(99, NULL, NULL);
	for (uintptr_t i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, racer,
						(void *)(i + 1)),
				 0);
	for (int i = 0; i < 4; i++) {
		void *r;

		ck_assert_int_eq(pthread_join(th[i], &r), 0);
		ck_assert_ptr_null(r);
	}
	/* every lookup was forgotten: only the directory is left, with
	 * only our pin */
	ck_assert_uint_eq(pifs_nodes_count(&t), 1);
	ck_assert_uint_eq(race_dir->refs, 1);
	pifs_nodes_put(&t, race_dir);
	ck_assert_uint_eq(pifs_nodes_count(&t), 0);
}
END_TEST

static Suite *node_suite(void)
{
	Suite *s = suite_create("node");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_id_layout);
	tcase_add_test(tc, test_insert_dedup);
	tcase_add_test(tc, test_lookup_lifetime);
	tcase_add_test(tc, test_move);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(node_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
