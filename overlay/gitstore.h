/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gitstore.h - versioned deltas: snapshots of a worker's delta in one bare
 * git repository per store (STORE/git, 0700), a branch per worker
 * (refs/heads/workers/<worker>), and everything built on it: restoring a
 * snapshot as a new delta, the view-level diff, log, and fsck.  Built in
 * overlay/git/, one file per concern, the only code that includes
 * <git2.h>.
 *
 * A snapshot commit's tree holds
 *
 *   delta/   the delta's regular files (blobs 100644 or 100755), symlinks
 *            (120000 blobs of the target) and non-empty directories
 *            (trees); a name git refuses (".git" and its variants, or one
 *            starting with "~pifs~") is stored as "~pifs~<hex of name>"
 *   META     every entry's metadata, in the text format of meta.h
 *
 * and its message is "<message>\n\nworker: <w>\ngolden: <id>\nfiles: <N>\n
 * bytes: <B>\n" (N changed paths and B bytes of changed content against
 * the parent snapshot, or the golden for the first).
 *
 * The commit a delta corresponds to (its base) is the xattr
 * trusted.pifs.base (40 hex digits) on the delta root; absent means the
 * bare golden.
 *
 * Writes are crash safe: new objects are collected in memory and written
 * as one pack (fsynced) before the branch moves (fsynced, atomic), so an
 * interrupted snapshot leaves nothing referenced half-written.
 */
#ifndef PIFS_GITSTORE_H
#define PIFS_GITSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "meta.h"
#include "registry.h"
#include "store.h"

#define PIFS_XATTR_BASE "trusted.pifs.base"
#define PIFS_GIT_DIR	"git"

/* The stat cache's racy window: an entry whose mtime or ctime is within
 * this of a scan's start is saved without its times, so the next scan
 * reads it again (a write in the same clock tick as the scan would
 * otherwise look unchanged).  Tests that need entries cached with their
 * times wait past it: tests/integration/lib.sh's racy_wait and
 * check_gitstore read it here. */
#define PIFS_STATCACHE_RACY_MS 50

struct pifs_git; /* an open repository, opaque */

/* Open STORE/git; with create, make it (atomically) when missing.
 * -ENOENT when it does not exist and create is 0. */
int pifs_git_open(struct pifs_git **out, struct pifs_store *st, int create,
		  char *errbuf, size_t errlen);
void pifs_git_free(struct pifs_git *g);

/* Read the live delta deltas/<worker> into m: every entry with its
 * metadata and, for files and symlinks, its blob id and size (from the
 * stat cache when the file is unchanged).  g may be NULL (no cache). */
int pifs_git_scan(struct pifs_git *g, struct pifs_store *st,
		  const char *worker, struct pifs_meta *m, char *errbuf,
		  size_t errlen);

struct pifs_snapshot {
	char id[41];	  /* the new commit (or the head if none made) */
	int created;	  /* 0: nothing to snapshot */
	unsigned files;	  /* changed paths against the parent */
	uint64_t bytes;	  /* changed content bytes */
	unsigned objects; /* objects in the new pack */
	int journal;	  /* the scan followed pifsd's journal */
	unsigned stated;  /* names the scan stated */
};

/* What pifsd saw change in a mounted worker's delta (ctl "journal",
 * asked under the snapshot's pause).  valid: buf lists every change since
 * pifsd set token; a stat cache saved with that token then needs only
 * those paths stated.  newtoken: pifsd's token from this pause on, saved
 * with the new cache.  buf: records of a flag byte ('d' a changed path,
 * 'f' a directory that arrived by a rename), the path relative to the
 * delta ("." the root) and a NUL. */
struct pifs_journal {
	int valid;
	uint64_t token, newtoken;
	char *buf;
	size_t len;
};

/* Progress of a long read or write of one big file (PIFS_BIGBLOB_MIN
 * bytes or more) by a snapshot or a restore: fn(arg, path, done, total)
 * after each chunk; write says it is a restore.  And of a snapshot's scan
 * of a delta, whatever its files: fn(arg, NULL, 0, entries, bytes read)
 * after each entry.  NULL: none. */
typedef void (*pifs_progress_fn)(void *arg, const char *path, int write,
				 uint64_t done, uint64_t total);
void pifs_git_set_progress(struct pifs_git *g, pifs_progress_fn fn,
			   void *arg);

/* Start libgit2 on a thread while the caller does other work;
 * pifs_git_open waits for it.  Optional. */
void pifs_git_init_async(void);
/* Wait for that start-up, if one runs (before exit()). */
void pifs_git_init_wait(void);
/* Read worker's stat cache ahead, for the next scan of that worker (the
 * caller holds the store lock from before this until that scan). */
void pifs_git_cache_prefetch(struct pifs_store *st, const char *worker);

/* Use j (copied; NULL: none) for the next snapshot_prepare of g.  Without
 * one the scan stats everything and the cache is saved with token 0. */
void pifs_git_set_journal(struct pifs_git *g, const struct pifs_journal *j);

/* Snapshot in two steps so a mounted worker is paused only for the
 * first: prepare reads the delta and builds every object in memory;
 * finish writes them as one pack, moves the branch (compare-and-swap
 * against the head prepare saw, -EBUSY if it moved), sets the base on the
 * delta and saves the stat cache.  abort drops a prepared snapshot.
 * message may be NULL ("snapshot"). */
int pifs_git_snapshot_prepare(struct pifs_git *g, const char *worker,
			      const char *message, int allow_empty,
			      struct pifs_snapshot *out, char *errbuf,
			      size_t errlen);
int pifs_git_snapshot_finish(struct pifs_git *g, struct pifs_snapshot *snap,
			     char *errbuf, size_t errlen);
void pifs_git_snapshot_abort(struct pifs_git *g);

/* Reading while a mounted worker runs (design: overlay/git/snapshot_rounds.c).
 * preread: one round of the snapshot with the journal set (the caller
 * took it under a pause and resumed): reads, hashes and stages what
 * changed, tolerating changes under it, and keeps its stat cache for the
 * next round or the final prepare, which follow the journal taken at
 * their own pause.  cost: under that pause, how many bytes of files the
 * next scan would read again (UINT64_MAX: a directory renamed in, or the
 * journal does not go on from the round: everything); 0 or -errno.
 * abort drops the rounds too. */
int pifs_git_snapshot_preread(struct pifs_git *g, const char *worker,
			      char *errbuf, size_t errlen);
int pifs_git_snapshot_cost(struct pifs_git *g, const char *worker,
			   uint64_t *bytes);
/* The CLI's bounds (snapshot.c): a final scan under the pause reads at
 * most this many bytes of files, unless PIFS_SNAP_ROUNDS rounds found
 * more changing each time. */
#define PIFS_SNAP_QUICK	 ((uint64_t)8 << 20)
#define PIFS_SNAP_ROUNDS 4

/* The entry of a golden tree (gfd) at path as META would record it: type,
 * mode, owner, mtime, rdev and its xattrs (private ones left out); no
 * blob id. */
int pifs_git_golden_entry(int gfd, const char *path,
			  struct pifs_meta_entry *e);

/* How many snapshots (of any worker, removed ones included) are on
 * golden; the first found is named in worker and id.  -errno. */
int pifs_git_golden_users(struct pifs_git *g, const char *golden,
			  char worker[PIFS_NAME_MAX + 1], char id[41]);

/* The branch head of worker; -ENOENT when it has no snapshot. */
int pifs_git_head(struct pifs_git *g, const char *worker, char id[41]);
/* Resolve REV (full or >= 4 hex digits, HEAD/latest, HEAD~N) to a commit
 * of worker's history; -ENOENT "'REV' is not a snapshot of W", -EINVAL
 * "ambiguous" (errbuf has the message). */
int pifs_git_resolve(struct pifs_git *g, const char *worker, const char *rev,
		     char id[41], char *errbuf, size_t errlen);
/* The META of a commit with blob ids attached. */
int pifs_git_load(struct pifs_git *g, const char *id, struct pifs_meta *m,
		  char *errbuf, size_t errlen);
/* A blob's content (malloc'd). */
int pifs_git_blob(struct pifs_git *g, const unsigned char oid[20],
		  char **out, size_t *len_out);

struct pifs_log_entry {
	char id[41];
	int64_t time; /* committer time, seconds */
	int offset;   /* minutes east of UTC */
	char *subject;
	unsigned files;
	uint64_t bytes;
	char golden[17]; /* the golden it is on ("" if unknown) */
};
/* worker's snapshots, newest first. */
int pifs_git_log(struct pifs_git *g, const char *worker,
		 struct pifs_log_entry **out, size_t *n_out);
void pifs_git_log_free(struct pifs_log_entry *log, size_t n);

/* The base recorded on deltas/<worker> (0), -ENODATA for none. */
int pifs_git_base_get(struct pifs_store *st, const char *worker,
		      char id[41]);

struct pifs_change {
	char kind;	/* 'A', 'M', 'D' */
	char *path;
	char what[160]; /* for M: "content, mode 644->755, ..." */
	uint64_t bytes; /* new content bytes (A, M with content) */
};

/* View-level diff of two deltas over the golden: old NULL means the bare
 * golden.  paths (may be NULL) limits to those paths and their children.
 * g is needed only when old comes from a commit (may be NULL). */
int pifs_git_diff(struct pifs_git *g, struct pifs_store *st,
		  const struct pifs_meta *old, const struct pifs_meta *new,
		  char *const *paths, size_t npaths, struct pifs_change **out,
		  size_t *n_out, char *errbuf, size_t errlen);
void pifs_changes_free(struct pifs_change *c, size_t n);

/* The content of path (a file's data, a symlink's target) as the view of
 * m (NULL: the bare golden) showed it, malloc'd.  -ENOENT when the view
 * has nothing there (*deleted = 1 when the golden has it but the delta
 * deleted it), -EISDIR for a directory, -EINVAL for a special file. */
int pifs_git_show(struct pifs_git *g, struct pifs_store *st,
		  const struct pifs_meta *m, const char *path, char **out,
		  size_t *len_out, int *deleted);

/* The same written to out, a big file streamed (never whole in memory);
 * *wfail = 1 when the error is out's (a closed pipe).  Other errors as
 * pifs_git_show's, errbuf set for a damaged object. */
int pifs_git_show_fd(struct pifs_git *g, struct pifs_store *st,
		     const struct pifs_meta *m, const char *path, int out,
		     int *deleted, int *wfail, char *errbuf, size_t errlen);

/* Build the delta of commit id (NULL: the empty delta of the bare golden
 * golden, NULL meaning the store's default) as work/<tmpname> with every
 * attribute restored, its golden and base set, and syncfs it.  The
 * caller swaps it in. */
int pifs_git_materialize(struct pifs_git *g, struct pifs_store *st,
			 const char *id, const char *golden,
			 const char *tmpname, char *errbuf, size_t errlen);
/* The same from a META already in memory (blob ids attached, all in the
 * repository); base (40 hex digits or NULL) is recorded as the delta's
 * base. */
int pifs_git_materialize_meta(struct pifs_git *g, struct pifs_store *st,
			      const struct pifs_meta *m, const char *base,
			      const char *tmpname, char *errbuf, size_t errlen);
/* Bring work/<tmpname>, made from META a by the above, to META b (the
 * same golden), rewriting only what differs (overlay/git/update.c), and
 * syncfs it.  On failure work/<tmpname> is half updated: remove it. */
int pifs_git_materialize_update(struct pifs_git *g, struct pifs_store *st,
				const struct pifs_meta *a,
				const struct pifs_meta *b, const char *tmpname,
				char *errbuf, size_t errlen);

/* Check the repository, the workers' deltas and bases and work/ (not
 * the golden).  Problems are one line each on out; notes are prefixed
 * "note: " and not counted.  Returns the number of problems or -errno. */
int pifs_git_fsck(struct pifs_store *st, const struct pifs_registry *reg,
		  FILE *out);

#endif
