/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * node.c - the node table (see node.h): a chained hash map from node id
 * to node, reference counted by kernel lookups and internal pins.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node.h"

/* The bucket of id among nbuckets (a power of two): Fibonacci hashing,
 * so ids that differ only in their high (view) bits spread too. */
static size_t hash_bucket(uint64_t id, size_t nbuckets)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 32) & (nbuckets - 1);
}

static size_t bucket_of(const struct pifs_nodes *t, uint64_t id)
{
	return hash_bucket(id, t->nbuckets);
}

int pifs_nodes_init(struct pifs_nodes *t)
{
	memset(t, 0, sizeof(*t));
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

static void node_free(struct pifs_node *n)
{
	/* n->real is unpinned by pifs_nodes_put before this. */
	if (n->upper_fd >= 0)
		close(n->upper_fd);
	free(n->name);
	free(n->lower_path);
	free(n);
}

void pifs_nodes_release(struct pifs_nodes *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct pifs_node *n = t->buckets[i];

		while (n) {
			struct pifs_node *next = n->hnext;

			node_free(n);
			n = next;
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	pthread_mutex_destroy(&t->lock);
}

struct pifs_node *pifs_node_new(uint64_t id, uint32_t gen,
				struct pifs_view *view, mode_t type)
{
	struct pifs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->id = id;
	n->gen = gen;
	n->view = view;
	n->type = type & S_IFMT;
	n->upper_fd = -1;
	n->refs = 1;
	return n;
}

static struct pifs_node *find_locked(struct pifs_nodes *t, uint64_t id)
{
	struct pifs_node *n = t->buckets[bucket_of(t, id)];

	while (n && n->id != id)
		n = n->hnext;
	return n;
}

struct pifs_node *pifs_nodes_get(struct pifs_nodes *t, uint64_t id)
{
	struct pifs_node *n;

	pthread_mutex_lock(&t->lock);
	n = find_locked(t, id);
	if (n)
		n->refs++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* Double the bucket array when the table gets crowded; failure to grow
 * only costs speed. */
static void maybe_grow(struct pifs_nodes *t)
{
	size_t nb = t->nbuckets * 2;
	struct pifs_node **b;

	if (t->count < t->nbuckets)
		return;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct pifs_node *n = t->buckets[i];

		while (n) {
			struct pifs_node *next = n->hnext;
			size_t h = hash_bucket(n->id, nb);

			n->hnext = b[h];
			b[h] = n;
			n = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

struct pifs_node *pifs_nodes_insert(struct pifs_nodes *t, struct pifs_node *n)
{
	struct pifs_node *old;

	pthread_mutex_lock(&t->lock);
	old = find_locked(t, n->id);
	if (old) {
		old->refs++;
		pthread_mutex_unlock(&t->lock);
		if (n->parent)
			pifs_nodes_put(t, n->parent);
		if (n->real)
			pifs_nodes_put(t, n->real);
		node_free(n);
		return old;
	}
	maybe_grow(t);
	size_t b = bucket_of(t, n->id);
	n->hnext = t->buckets[b];
	t->buckets[b] = n;
	t->count++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* Unlink n from its bucket if it is unused; returns 1 when the caller must
 * free it (outside the lock). */
static int release_locked(struct pifs_nodes *t, struct pifs_node *n)
{
	struct pifs_node **pp;

	if (n->refs || n->nlookup)
		return 0;
	pp = &t->buckets[bucket_of(t, n->id)];
	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = n->hnext;
		t->count--;
	}
	return 1;
}

void pifs_nodes_put(struct pifs_nodes *t, struct pifs_node *n)
{
	/* Iterative: freeing a node drops the pin it held on its parent. */
	while (n) {
		struct pifs_node *parent = NULL;
		int dead;

		pthread_mutex_lock(&t->lock);
		n->refs--;
		dead = release_locked(t, n);
		pthread_mutex_unlock(&t->lock);
		if (!dead)
			return;
		parent = n->parent;
		if (n->real)
			pifs_nodes_put(t, n->real);
		node_free(n);
		n = parent;
	}
}

void pifs_nodes_lookup_inc(struct pifs_nodes *t, struct pifs_node *n)
{
	pthread_mutex_lock(&t->lock);
	n->nlookup++;
	pthread_mutex_unlock(&t->lock);
}

void pifs_nodes_forget(struct pifs_nodes *t, uint64_t id, uint64_t count)
{
	struct pifs_node *n;

	pthread_mutex_lock(&t->lock);
	n = find_locked(t, id);
	if (!n) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	n->nlookup = count > n->nlookup ? 0 : n->nlookup - count;
	n->refs++; /* so put() below does the freeing */
	pthread_mutex_unlock(&t->lock);
	pifs_nodes_put(t, n);
}

int pifs_node_move(struct pifs_nodes *t, struct pifs_node *n,
		   struct pifs_node *parent, const char *name)
{
	char *nn = strdup(name);
	struct pifs_node *old = n->parent;

	if (!nn)
		return -ENOMEM;
	if (parent) {
		pthread_mutex_lock(&t->lock);
		parent->refs++;
		pthread_mutex_unlock(&t->lock);
	}
	n->parent = parent;
	free(n->name);
	n->name = nn;
	if (old)
		pifs_nodes_put(t, old);
	return 0;
}

size_t pifs_nodes_count(struct pifs_nodes *t)
{
	size_t c;

	pthread_mutex_lock(&t->lock);
	c = t->count;
	pthread_mutex_unlock(&t->lock);
	return c;
}

int pifs_nodes_forget_view(struct pifs_nodes *t, const struct pifs_view *v)
{
	struct pifs_node **list = NULL, *n;
	size_t k = 0, want = 0, i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nbuckets; i++)
		for (n = t->buckets[i]; n; n = n->hnext)
			want += n->view == v && n->nlookup;
	if (want && !(list = calloc(want, sizeof(*list)))) {
		pthread_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	for (i = 0; i < t->nbuckets && k < want; i++)
		for (n = t->buckets[i]; n && k < want; n = n->hnext)
			if (n->view == v && n->nlookup) {
				n->nlookup = 0;
				n->refs++; /* so put() below does the freeing */
				list[k++] = n;
			}
	pthread_mutex_unlock(&t->lock);
	for (i = 0; i < k; i++)
		pifs_nodes_put(t, list[i]);
	free(list);
	return 0;
}
