/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * internal.h - private to overlay/view/: the types its files share (a
 * lookup result, a listing being built, the journal's flags) and the
 * functions one file calls in another, grouped by the file that defines
 * them.  Nothing outside overlay/view/ includes it: the interface is
 * view.h.
 *
 * Everything that changes a view holds view->lock for writing and goes
 * through the helpers below; each change to the delta is atomic on its
 * own (renameat2 with RENAME_NOREPLACE, RENAME_EXCHANGE or RENAME_WHITEOUT,
 * files built in STORE/work and renamed in), so a crash leaves either the
 * old or the new state of that entry.  Copy-up fsyncs the data and the
 * directory before it returns.
 */
#ifndef PIFS_VIEW_INTERNAL_H
#define PIFS_VIEW_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "identity.h"
#include "view.h"

/* renameat2() flags, for C libraries that lack them. */
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

/* What a lookup found, before it becomes a node. */
struct child {
	int upper_fd;     /* O_PATH, or -1 */
	char *lower_path; /* golden path that shows through, or NULL */
	struct stat st;   /* attributes as the client sees them */
	uint64_t id;
	uint32_t gen;
	enum pifs_gen kind; /* a generated file, shown from no delta entry */
};

/* What the journal records for a path (jn_node): it changed
 * (JF_DIRTY); a directory whose whole content is new (JF_FULL). */
#define JF_DIRTY 1u
#define JF_FULL	 2u

/* A small open-addressing set of names, for the merge. */
struct nameset {
	char **slot;
	size_t cap, used;
};

/* A listing being built (readdir.c): the entries, the names seen
 * so far, and the whiteouts that hide golden names. */
struct dirbuf {
	struct pifs_dir *d;
	size_t cap;
	struct nameset seen; /* names (pointers into d->ents or wh) */
	char **wh;           /* whiteout names, owned */
	size_t nwh, capwh;
};

/* super.c */
/* The live (not gone) view of a worker by name, or NULL. */
struct pifs_view *view_by_name(struct pifs_fs *fs, const char *name);
/* The live view with registry id ID, or NULL. */
struct pifs_view *view_by_id(struct pifs_fs *fs, uint32_t id);
/* The view lock (view.h): shared, exclusive, and its release. */
void rdlock(struct pifs_view *v);
void wrlock(struct pifs_view *v);
void unlock(struct pifs_view *v);

/* namei.c */
/* Close and free what a lookup result still owns. */
void child_release(struct child *c);
/* The golden inode a delta entry was copied up from: 1 and *ino,
 * or 0 when it has no origin xattr. */
int get_origin(int fd, uint64_t *ino);
/* Record on dirfd/name the golden inode it was copied up from. */
int set_origin(int dirfd, const char *name, uint64_t ino);
/* lstat of PATH in V's golden, beneath its root (st may be NULL). */
int lower_exists(struct pifs_view *v, const char *path, struct stat *st);
/* Resolve NAME in directory P (namei.c's lookup order); caller holds
 * v->lock.  -ENOENT when nothing is visible. */
int find_child(struct pifs_view *v, struct pifs_node *p, const char *name,
	       struct child *c);
/* A lookup result as a pinned node: the cached one of that id, or a
 * new one under P; revive: a stale cached node takes the entry back
 * (caller holds v->lock for writing). */
int child_node_revive(struct pifs_view *v, struct pifs_node *p,
		      const char *name, struct child *c, struct pifs_node **out,
		      int revive);
/* child_node_revive without the revival. */
int child_node(struct pifs_view *v, struct pifs_node *p, const char *name,
	       struct child *c, struct pifs_node **out);
/* NAME in P as a pinned node, not counted as a kernel lookup. */
int lookup_pinned(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		  struct pifs_node **out, struct stat *st);

/* copy_up.c */
/* Bring N (parents first) into the delta; with_data = 0 leaves a
 * regular file empty.  Caller holds v->lock for writing. */
int copy_up(struct pifs_view *v, struct pifs_node *n, int with_data);

/* readdir.c */
/* Append an entry to the listing being built. */
int dir_add(struct dirbuf *b, const char *name, uint64_t ino,
	    unsigned char type);
/* List merged directory N into b; stop_at_one: 1 at the first
 * visible entry.  Caller holds v->lock. */
int list_merged(struct pifs_view *v, struct pifs_node *n, struct dirbuf *b,
		int stop_at_one);
/* Free b's name set and whiteout names (not the listing). */
void dirbuf_release(struct dirbuf *b);
/* 1 if merged directory N shows an entry, 0 if empty, or -errno. */
int dir_has_entries(struct pifs_view *v, struct pifs_node *n);

/* inode.c */
/* A view node's attributes as the client sees them. */
int node_stat(struct pifs_view *v, struct pifs_node *n, struct stat *st);
/* Count a kernel lookup on pinned N, which that count now keeps
 * alive; *out = N. */
void found(struct pifs_fs *fs, struct pifs_node *n, struct pifs_node **out);
/* One more reference on N (unpinned by pifs_nodes_put). */
void pin(struct pifs_fs *fs, struct pifs_node *n);

/* journal.c */
/* Empty the journal's set (jlock held, or the view going away). */
void journal_clear(struct pifs_view *v);
/* Give up on the set: the next snapshot stats everything (jlock
 * held). */
void journal_drop(struct pifs_view *v);
/* Record n's delta path (+ "/name") with JF_* flags; caller holds
 * the view lock. */
void jn_node(struct pifs_view *v, const struct pifs_node *n, const char *name,
	     unsigned flags);

/* generated.c */
/* The content of generated file KIND in view V, malloc'd. */
int gen_build(struct pifs_view *v, enum pifs_gen kind, const char *golden_path,
	      char **out, size_t *len);
/* The attributes of generated file KIND in view V. */
int gen_stat(struct pifs_view *v, enum pifs_gen kind, const char *golden_path,
	     struct stat *st);
/* Generated file N's content in a sealed memfd (the fd), or -errno. */
int gen_open(struct pifs_view *v, struct pifs_node *n);

/* enroll.c */
/* A board asked tftpboot/ for NAME, a serial or MAC directory no worker
 * has.  With enrolment on and under its cap, register it (registry.h,
 * "enrolled") and reload: 0, and NAME is a worker's directory now (or
 * was registered meanwhile by another request or the CLI).  -ENOENT when
 * enrolment is off (*logged 0: the caller says what to do), the cap is
 * reached or the store is busy (*logged 1: said once here). */
int enroll(struct pifs_fs *fs, const char *name, int *logged);
/* The first request in a freshly enrolled worker's tftpboot/ directory:
 * NAME tells its model (enroll.c), which the registry then records. */
void enroll_first_file(struct pifs_fs *fs, struct pifs_view *v,
		       const char *name);

/* tftpboot.c */
/* Attributes of the static directories: root, nfsroot/, tftpboot/. */
int static_stat(struct pifs_fs *fs, struct pifs_node *n, struct stat *st);
/* The tftpboot/ alias of REAL under PARENT; REAL's pin passes to it. */
int alias_node(struct pifs_fs *fs, struct pifs_node *parent, const char *name,
	       struct pifs_node *real, struct pifs_node **out, struct stat *st);
/* 1 the first time NAME is noted (at most 64 names are), else 0: what
 * is said of a name a board asks for is said once. */
int tftp_note_once(struct pifs_fs *fs, const char *name);
/* The live view whose TFTP directory is NAME (registry.h), or NULL. */
struct pifs_view *view_by_tftp_dir(struct pifs_fs *fs, const char *name);
/* NAME in tftpboot/: a boot ROM file, or a worker's alias directory. */
int tftp_lookup(struct pifs_fs *fs, const char *name, struct pifs_node **out,
		struct stat *st);
/* A node reached through tftpboot/: read-only, never cached. */
int is_tftp(const struct pifs_node *n);
/* 0 if N may change; -EROFS under tftpboot/, -EPERM in the static
 * top. */
int modifiable(struct pifs_fs *fs, const struct pifs_node *n);
/* The listings of tftpboot/ and of an alias directory in it. */
int tftp_list(struct pifs_fs *fs, struct dirbuf *b);
int alias_list(struct pifs_fs *fs, struct pifs_node *n, struct dirbuf *b);

/* util.c */
/* The delta's whiteout: a character device 0:0. */
int is_whiteout(const struct stat *st);
/* DIR + "/" + NAME, or NAME when DIR is "" (malloc'd, NULL on
 * ENOMEM). */
char *join(const char *dir, const char *name);
/* A fresh name for an entry built in STORE/work (in buf). */
char *work_name(char *buf, size_t len);
/* statx of an O_PATH fd on a delta entry; *gen (if set) from its
 * birth time. */
int upper_stat(int fd, struct stat *st, uint32_t *gen);

#endif
