/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * internal.h - what the files of overlay/git/ share and nothing outside
 * them sees: the open repository (struct pifs_git), the stat cache's
 * records, the state of a scan, and the helpers one file exports to the
 * others, grouped by the file that defines them.  overlay/git/ is the
 * only code built with libgit2's flags, and this is where <git2.h> comes
 * in.  Errors are 0 or -errno throughout; a function that takes errbuf
 * puts the first message there.
 */
#ifndef PIFS_GIT_INTERNAL_H
#define PIFS_GIT_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <git2.h>
#include <git2/sys/odb_backend.h>

#include "gitstore.h"
#include "meta.h"
#include "strbuf.h"
#include "util.h"

#define REF_PREFIX "refs/heads/workers/"

static inline int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* qsort comparator of C strings (char *). */
static inline int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline struct pifs_meta_entry *meta_find_mut(struct pifs_meta *m,
						    const char *path)
{
	return (struct pifs_meta_entry *)pifs_meta_find(m, path);
}

/* repo.c */
struct pifs_git {
	struct pifs_store *st;
	git_repository *repo;
	git_odb *odb;
	git_odb_backend *mempack;
	/* objects staged in the mempack, in write order */
	git_oid *staged;
	size_t nstaged, capstaged;
	/* big blobs (bigblob.c), their pack entries in the spill file */
	int spill_fd; /* -1: none yet */
	uint64_t spill_len;
	struct pifs_spilled {
		git_oid oid;
		uint64_t off, len; /* the pack entry in the spill file */
		uint32_t crc;	   /* its CRC-32, for the index */
	} *spilled;
	size_t nspilled, capspilled;
	/* a prepared snapshot */
	int pending;
	char worker[PIFS_NAME_MAX + 1];
	char *message;
	struct pifs_meta meta;
	struct pifs_strbuf newcache;
	char *metatext; /* the META of the prepared snapshot */
	size_t metalen;
	git_oid tree, parent;
	int has_parent;
	/* pifsd's journal for the next snapshot (pifs_git_set_journal) */
	struct pifs_journal jn;
	int has_jn;
	int used_jn;  /* the last scan followed it */
	size_t nstat; /* names the last scan stated */
	/* the rounds of a snapshot read while the worker runs (snapshot.c:
	 * pifs_git_snapshot_preread); their staged objects are kept */
	int rounds;	     /* rounds done (0: prepare starts afresh) */
	int unpaused;	     /* the scan under way may see changes */
	int64_t round_start; /* ns (realtime) when the first round began */
	struct pifs_strbuf roundcache; /* the last round's stat cache */
	uint64_t roundtoken;	       /* ... kept since this journal token */
	/* journal records ('d'/'f', path, NUL) of entries a round saw
	 * change under it: the next round reads them again */
	struct pifs_strbuf redo;
	size_t rounds_nstat; /* names the rounds stated, all told */
	int rounds_full;     /* a round stated everything */
	pifs_progress_fn progress; /* pifs_git_set_progress */
	void *progress_arg;
};

/* Map a libgit2 failure to -errno (errno is looked at for OS errors). */
int pifs_git_errno(int code, int saved_errno);
/* Log a libgit2 failure as "<what>: <libgit2 message>" in errbuf; the
 * -errno of it. */
int pifs_git_error(int code, char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Record an object just written to the mempack (nothing if it was in the
 * repository already), for the pack writer; drop them all. */
int pifs_git_staged_note(struct pifs_git *g, const git_oid *oid);
void pifs_git_staged_drop(struct pifs_git *g);
/* refs/heads/workers/<worker> */
void pifs_git_ref_name(char *buf, size_t len, const char *worker);
/* Replace git/<dir>/<worker> with buf, without fsync. */
int pifs_git_save_nosync(struct pifs_store *st, const char *dir,
			 const char *worker, const void *buf, size_t len);
/* syncfs of the file system holding dirfd. */
int pifs_git_sync_fs(int dirfd);

/* statcache.c: one record of the cache (layout there) */
#define CREC_SUB   12 /* offset of the subtree count in a record */
#define CREC_OID   (8 * 4 + 8 * 7)
#define CREC_FIXED (CREC_OID + 20)
#define CE_LINKS   1u
#define CE_SPARSE  2u

struct centry {
	const char *path; /* into the cache buffer, NUL-terminated */
	uint32_t mode;
	uint32_t sub; /* directory: records of its subtree */
	uint32_t uid, gid, flags;
	uint64_t dev, ino, size, rdev;
	int64_t mtime, ctime; /* ns; 0 = racy, never matches */
	uint64_t xxh;
	git_oid oid;
	const unsigned char *xa; /* serialized xattrs */
	size_t xalen;
	/* CE_SPARSE: a sparse file's data extents (u64 offset, length
	 * pairs, native endian, possibly unaligned) */
	const void *sp;
	uint32_t nsparse;
};

struct cache {
	char *buf;
	struct centry *e; /* in file (scan) order */
	size_t n, cursor;
	size_t jumps; /* lookups not at the cursor (misses included) */
	struct centry **sorted; /* built on the first out-of-order lookup */
	int sort_failed;
	git_oid commit;
	int has_commit;
	uint64_t token; /* pifsd's journal token it was saved with, or 0 */
	int trusted;	/* every blob id is known to be in the repository */
};

void pifs_statcache_release(struct cache *c);
/* The stat cache of worker for a scan: read ahead, or read now (a
 * missing or damaged one is empty). */
void pifs_statcache_open(struct cache *c, struct pifs_store *st,
			 const char *worker);
const struct centry *pifs_statcache_find(struct cache *c, const char *path);
int pifs_statcache_hit(const struct centry *ce, const struct stat *sb);
int pifs_statcache_xattrs(const unsigned char *p, size_t len,
			  struct pifs_xattr **out, size_t *nout);
/* A sparse record's map into e (sparse, size from the record). */
int pifs_statcache_sparse(const struct centry *ce,
			  struct pifs_meta_entry *e);
void pifs_statcache_begin(struct pifs_strbuf *sb);
void pifs_statcache_put(struct pifs_strbuf *sb, const struct centry *ce,
			const struct pifs_xattr *x, size_t nx);
int pifs_statcache_save(struct pifs_strbuf *sb, struct pifs_store *st,
			const char *worker, const git_oid *commit,
			uint64_t token);
/* Fill in the header of a cache built in sb (as save does); load a
 * sealed cache from memory (copied) into c: -EINVAL if it is damaged. */
int pifs_statcache_seal(struct pifs_strbuf *sb, const git_oid *commit,
			uint64_t token);
int pifs_statcache_load_mem(struct cache *c, const struct pifs_strbuf *sb);

/* statpool.c */
struct statjob;
struct statpool {
	pthread_t thr;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct statjob *job; /* mu: posted, not yet taken */
	int busy;	     /* mu: the helper is working on a job */
	int quit;	     /* mu */
};

void pifs_statpool_start(struct statpool *p);
void pifs_statpool_stop(struct statpool *p);
void pifs_statpool_stat(struct statpool *p, int dfd, char *const *names,
			size_t n, struct stat *sb, int *err);

/* entry.c */
int pifs_entry_xattrs(int dirfd, const char *name, int skip_base,
		      int skip_private, struct pifs_xattr **out, size_t *nout);
void pifs_entry_from_stat(struct pifs_meta_entry *e, const struct stat *sb);
int pifs_entry_read_all(int fd, uint64_t hint, char **out, size_t *len_out);
int pifs_entry_open_parent(int root, const char *rel, char **parent,
			   const char **name);

/* tree.c: the entries of a tree being built */
struct tent {
	char *name; /* the tree name: owned when it differs from the entry's */
	int owned;
	git_oid oid;
	git_filemode_t mode;
};

/* A name as it is stored in a tree (malloc'd), and back (NULL: bad). */
char *pifs_tree_name(const char *n);
char *pifs_tree_name_decode(const char *n);
struct scan;
int pifs_tree_add(struct tent *te, size_t *nt, char *name, const git_oid *oid,
		  mode_t mode);
int pifs_tree_write(struct scan *s, const struct tent *te, size_t nt,
		    const char *rel, git_oid *tree);
void pifs_tree_free(struct tent *te, size_t nt);

/* scan.c */
struct scan {
	struct pifs_git *g; /* NULL: no cache, hash only */
	struct pifs_store *st;
	int write; /* stage blobs and trees */
	struct pifs_meta *m;
	size_t cap;
	/* per entry, parallel to m->entries while scanning */
	struct sx {
		uint64_t dev, ino;
		int links;
	} *x;
	struct cache old;
	struct pifs_strbuf *newc;
	size_t nput;		/* records put in newc */
	struct statpool *pool;	/* NULL: stat inline */
	struct pifs_pathmap *j; /* the journal (pifs_scan_journal_dir) */
	size_t nstat;		/* names stated */
	int unpaused;		/* the worker runs: changes under the scan
				 * are noted in g->redo, not failures */
	int distrust;		/* the cache is a round's: a journaled path
				 * is read again whatever its stat says */
	int64_t start;
	uint64_t bytes; /* of files read (for progress) */
	char *errbuf;
	size_t errlen;
};

int pifs_scan_fail(struct scan *s, const char *what, const char *path, int err);
/* Tell the progress callback (gitstore.h) how far the scan is. */
void pifs_scan_tell(struct scan *s);
int pifs_scan_unstable(struct scan *s, const char *path, int err, int dir);
int pifs_scan_add(struct scan *s, const char *path, const struct stat *sb,
		  struct pifs_meta_entry **out);
char *pifs_scan_child_path(const char *rel, const char *name);
int pifs_scan_cache_put(struct scan *s, struct centry *nc,
			const struct pifs_meta_entry *e);
int pifs_scan_names(struct scan *s, int dfd, const char *rel, char ***out,
		    size_t *nout);
void pifs_scan_names_free(char **names, size_t n);
int pifs_scan_entry(struct scan *s, int dfd, const char *name, char *path,
		    const struct stat *sb, const struct centry *ce, int hit,
		    int jmode, git_oid *oid, int *sub_nonempty, int *same);
/* Read deltas/<worker> into m; with write, stage its blobs and trees
 * (*tree: delta/) and build the new stat cache in newc. */
int pifs_scan_delta(struct pifs_git *g, struct pifs_store *st,
		    const char *worker, int write, struct pifs_meta *m,
		    struct pifs_strbuf *newc, git_oid *tree, char *errbuf,
		    size_t errlen);

/* scan_journal.c */
int pifs_scan_journal_build(struct pifs_pathmap *j,
			    const struct pifs_journal *jn);
int pifs_scan_journal_dir(struct scan *s, int dfd, const char *rel,
			  git_oid *tree, int *nonempty);

/* read.c */
/* Walk the delta/ tree of a commit: fn(path, oid, filemode, arg) for
 * every blob, with decoded names. */
typedef int (*blob_fn)(const char *path, const git_oid *oid,
		       git_filemode_t mode, void *arg);

int pifs_git_walk_tree(struct pifs_git *g, const git_tree *tree,
		       const char *prefix, blob_fn fn, void *arg, char *errbuf,
		       size_t errlen);

/* revparse.c: record id as the base of deltas/<worker> (fsynced). */
int pifs_git_base_set(struct pifs_store *st, const char *worker,
		      const char *id);

/* diff.c */
/* What a view shows at one path: nothing, a delta entry, or the golden's
 * entry (metadata read here, content hashed only when needed). */
struct vent {
	int gfd; /* the golden it was looked up in */
	int present;
	const struct pifs_meta_entry *e;
	struct pifs_meta_entry gold;
	char *gpath;
};
/* The vent's golden entry and path go. */
void pifs_diff_vent_release(struct vent *v);
/* What the view of m (NULL: the bare golden gfd) shows at path. */
int pifs_diff_view_lookup(int gfd, const struct pifs_meta *m,
			  const char *path, struct vent *v);
/* The golden id of a side of a diff: m's own, or for the bare golden
 * (m NULL) the other side's, else the store's default. */
const char *pifs_diff_side_golden(struct pifs_store *st,
				  const struct pifs_meta *m,
				  const struct pifs_meta *other);
struct pathset {
	char **p;
	size_t n, cap;
};

int pifs_diff_pathset_add(struct pathset *ps, const char *path);
void pifs_diff_pathset_free(struct pathset *ps);
int pifs_diff_opaque_children(int gfd, const char *path, struct pathset *ps);
int pifs_diff_paths(struct pifs_git *g, struct pifs_store *st,
		    const struct pifs_meta *old, const struct pifs_meta *new, struct pathset *ps,
		    char *const *paths, size_t npaths, struct pifs_change **out,
		    size_t *n_out, size_t *cap_out);

/* bigblob.c: a file of PIFS_BIGBLOB_MIN bytes or more is read in chunks,
 * never whole.  Hash fd's size bytes as a blob into *oid and *xxh; with
 * g, also stage it (its pack entry goes to the spill file unless the
 * repository has the object).  path is for messages.  0 or -errno, with
 * errbuf set; -ESTALE if the file changed while it was read. */
#define PIFS_BIGBLOB_MIN ((uint64_t)4 << 20)
#define PIFS_SPILL_TMP	 "tmp_pifs_spill"
int pifs_bigblob(struct pifs_git *g, int fd, uint64_t size, const char *path,
		 git_oid *oid, uint64_t *xxh, char *errbuf, size_t errlen);
/* The same, progress told through pg (may be NULL; g NULL hashes only). */
int pifs_bigblob_progress(struct pifs_git *g, struct pifs_git *pg, int fd,
			  uint64_t size, const char *path, git_oid *oid,
			  uint64_t *xxh, char *errbuf, size_t errlen);
/* The same for the next data extents ext of a sparse file of size bytes
 * (total bytes of data): the blob of those bytes (sparse.c). */
int pifs_bigblob_extents(struct pifs_git *g, struct pifs_git *pg, int fd,
			 uint64_t size, const struct pifs_extent *ext,
			 size_t next, uint64_t total, const char *path,
			 git_oid *oid, uint64_t *xxh, char *errbuf,
			 size_t errlen);
/* Forget the spilled blobs (pifs_git_staged_drop). */
void pifs_bigblob_drop(struct pifs_git *g);
/* bigblob_restore.c: write the blob oid (size bytes) into fd, streamed
 * from its pack, holes for blocks of zeros; sp (or NULL) is the sparse
 * entry whose data the blob is (meta.h): its bytes go to sp's extents,
 * the file is sp->size long.  0, -ENOTSUP if it is not a whole blob in
 * a pack (read it with pifs_git_blob then; nothing was written), -EIO
 * with errbuf set if it is damaged, or -errno. */
int pifs_bigblob_restore(struct pifs_git *g, const unsigned char oid[20],
			 uint64_t size, const struct pifs_meta_entry *sp,
			 int fd, const char *path, char *errbuf,
			 size_t errlen);
/* The same in order into fd (a pipe: no holes, no truncate); a failed
 * write is its -errno (errbuf not set). */
int pifs_bigblob_cat(struct pifs_git *g, const unsigned char oid[20],
		     uint64_t size, const struct pifs_meta_entry *sp, int fd,
		     char *errbuf, size_t errlen);
/* Is the whole blob oid (size bytes, in a pack) the content of the
 * sparse entry sp (an older pifs stored files with holes whole)?  1 or 0;
 * -ENOTSUP if the blob is not a whole blob in a pack, or -errno. */
int pifs_bigblob_same_sparse(struct pifs_git *g, const unsigned char oid[20],
			     uint64_t size, const struct pifs_meta_entry *sp);
/* Is oid in a pack of st's repository, read with plain reads of the
 * indexes (not libgit2's, which skips a pack it cannot read)?  -ENOENT:
 * no pack lists it; -EIO when one does (libgit2 could not read it), or
 * the -errno of a failed read; 0 never. */
int pifs_git_pack_probe(const struct pifs_store *st, const git_oid *oid);

/* snapshot.c: drop what a prepare or a round built, but not the staged
 * objects; snapshot_rounds.c: drop the rounds' state. */
void pifs_snapshot_prepared_clear(struct pifs_git *g);
void pifs_snapshot_rounds_clear(struct pifs_git *g);

/* sparse.c: which files are stored sparse, and how (design there).
 * A run of zero blocks shorter than PIFS_SPARSE_HOLE is data; a file
 * with fewer than PIFS_SPARSE_MIN bytes in longer runs is whole. */
#define PIFS_SPARSE_HOLE ((uint64_t)64 << 10)
#define PIFS_SPARSE_MIN	 ((uint64_t)1 << 20)
/* The data extents of fd (size bytes) into *ext (malloc'd) and *n: 1 if
 * it is to be stored sparse, 0 if whole (*ext NULL), or -errno (-ESTALE:
 * it shrank while read). */
int pifs_sparse_map(int fd, uint64_t size, struct pifs_extent **ext,
		    size_t *n);
/* Hash (g NULL) or stage the blob of those extents; progress told
 * through pg (may be NULL).  0 or -errno with errbuf set. */
int pifs_sparse_blob(struct pifs_git *g, struct pifs_git *pg, int fd,
		     uint64_t size, const struct pifs_extent *ext, size_t n,
		     const char *path, git_oid *oid, uint64_t *xxh,
		     char *errbuf, size_t errlen);
/* A private object database that hashes what is streamed to it
 * (git_odb_open_wstream) and keeps nothing. */
int pifs_sparse_hasher(git_odb **out);

/* pack.c: a pack entry's type-and-size header into hdr; its length. */
size_t pifs_pack_entry_header(unsigned char hdr[16], git_object_t type,
			      uint64_t size);
/* A big-endian 32-bit number of a pack or its index. */
static inline uint32_t pifs_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}
/* pack.c: write the staged objects as one pack; *count gets how many. */
int pifs_pack_write(struct pifs_git *g, unsigned *count, char *errbuf,
		    size_t errlen);

/* verify_pack.c: every pack's checksum and each object's CRC-32 against
 * its index, one line per problem on out; the problem count or -errno. */
int pifs_git_verify_packs(struct pifs_store *st, FILE *out);

#endif
