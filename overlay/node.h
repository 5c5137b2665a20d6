/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * node.h - the node table: every node id pifsd has handed to the kernel,
 * and the ids' layout.
 *
 * A node id is derived from the backing store, never from a counter, so
 * the same file gets the same id after copy-up, rename, unmount and a
 * daemon restart (what an NFS client's file handle needs):
 *
 *   bits 63..48  view id (the worker's registry id; 0 = static nodes)
 *   bit  47      1 = upper-only entry (id from the delta inode),
 *                0 = entry that exists in, or was copied up from, the golden
 *                    (id from the golden inode; copy-up keeps it through the
 *                    trusted.pifs.origin xattr)
 *   bit  46      1 = the tftpboot/ alias of the node with this bit clear
 *   bits 45..0   backing inode number (generated files that the golden
 *                lacks use the top 16 values, PIFS_GEN_INO_BASE + kind)
 *
 * Static nodes: 1 = mount root, 2 = nfsroot/, 3 = tftpboot/; golden files
 * at the tftpboot/ root are view 0 with bit 47 set; nfsroot/<worker>, the
 * empty directory the worker's own file system is mounted on, is view 0
 * with bit 46 set and the worker's registry id (PIFS_MNT_ID).
 * The generation is 0 for golden-derived ids (the golden never changes,
 * so such an id never names another file) and a hash of the delta inode's
 * birth time for upper-only ids (so a reused inode number is ESTALE).
 */
#ifndef PIFS_NODE_H
#define PIFS_NODE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#define PIFS_ROOT_ID 1ULL
#define PIFS_NFSROOT_ID 2ULL
#define PIFS_TFTPROOT_ID 3ULL
#define PIFS_ID_UPPER (1ULL << 47)
#define PIFS_ID_ALIAS (1ULL << 46)
#define PIFS_ID_INO_MASK ((1ULL << 46) - 1)
#define PIFS_GEN_INO_BASE (PIFS_ID_INO_MASK - 15)
#define PIFS_ID_VIEW(id) ((uint32_t)((id) >> 48))
#define PIFS_MNT_ID(view) (PIFS_ID_ALIAS | (uint64_t)(view))

static inline uint64_t pifs_make_id(uint32_t view, int upper, uint64_t ino)
{
	return ((uint64_t)view << 48) | (upper ? PIFS_ID_UPPER : 0) |
	       (ino & PIFS_ID_INO_MASK);
}

struct pifs_view;

struct pifs_node {
	uint64_t id;            /* immutable */
	uint32_t gen;           /* immutable */
	struct pifs_view *view; /* immutable; NULL for static nodes */

	/* Guarded by view->lock (held for writing to change them). */
	struct pifs_node *parent; /* holds a ref on it; NULL for roots */
	char *name;               /* last name it was reached by */
	char *lower_path;         /* golden-relative path ("" = golden root),
				   * NULL when nothing below shows through */
	int upper_fd;             /* O_PATH fd of the delta entry, or -1 */
	mode_t type;              /* S_IFMT of the entry */
	unsigned unlinked : 1;    /* its last name is gone: never copy up */
	unsigned gen_kind : 3;    /* a generated file (enum pifs_gen), shown
				   * until the worker has its own copy */
	struct pifs_node *real;   /* tftpboot/ alias: the node it shows
				   * (pinned, immutable); else NULL */

	/* Guarded by the table mutex. */
	uint64_t nlookup;       /* kernel lookup count */
	uint32_t refs;          /* pins: children, requests in flight */
	struct pifs_node *hnext;
};

struct pifs_nodes {
	pthread_mutex_t lock;
	struct pifs_node **buckets; /* guarded by lock */
	size_t nbuckets;            /* power of two */
	size_t count;
};

int pifs_nodes_init(struct pifs_nodes *t);
/* Frees every node that is left (daemon exit). */
void pifs_nodes_release(struct pifs_nodes *t);

/* The node with this id, pinned (refs + 1), or NULL. */
struct pifs_node *pifs_nodes_get(struct pifs_nodes *t, uint64_t id);

/* Insert n (refs must be 1, the caller's pin) unless a node with the same
 * id exists: then n is freed and the existing node is returned pinned. */
struct pifs_node *pifs_nodes_insert(struct pifs_nodes *t, struct pifs_node *n);

/* Drop one pin; the node is freed (and its parent unpinned) when neither
 * pins nor kernel lookups remain. */
void pifs_nodes_put(struct pifs_nodes *t, struct pifs_node *n);

/* Kernel lookup accounting: +1 on every entry reply, -n on forget. */
void pifs_nodes_lookup_inc(struct pifs_nodes *t, struct pifs_node *n);
void pifs_nodes_forget(struct pifs_nodes *t, uint64_t id, uint64_t n);
/* Every kernel lookup of view v's nodes forgotten at once: for a removed
 * worker whose file system's connection has ended (the kernel sends no
 * FORGET then), so its nodes and their fds are freed as soon as nothing
 * pins them.  0 or -ENOMEM. */
int pifs_nodes_forget_view(struct pifs_nodes *t, const struct pifs_view *v);

/* Allocate a node (refs = 1, nlookup = 0); NULL on ENOMEM. */
struct pifs_node *pifs_node_new(uint64_t id, uint32_t gen,
				struct pifs_view *view, mode_t type);
/* Replace n's parent (taking a pin on the new one, dropping the old) and
 * name; caller holds view->lock for writing.  -ENOMEM leaves n as it was. */
int pifs_node_move(struct pifs_nodes *t, struct pifs_node *n,
		   struct pifs_node *parent, const char *name);

size_t pifs_nodes_count(struct pifs_nodes *t);

#endif
