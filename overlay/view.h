/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * view.h - the merged file system pifsd serves, without FUSE: the static
 * top (mount root, nfsroot/), one view per registered worker (its delta
 * over the golden), and every namespace operation on them (lookup, copy-up,
 * whiteouts, opaque and redirected directories, merged readdir).
 *
 * Callers (fs/ops_*.c) pin a node with pifs_fs_node() and call one function
 * per request; each returns 0 or -errno and takes the view lock itself:
 * shared for lookups and reads, exclusive for anything that changes the
 * namespace or copies up.  Open file descriptors are used without the
 * lock.  A function that returns a node (out parameter) has counted one
 * kernel lookup on it.
 */
#ifndef PIFS_VIEW_H
#define PIFS_VIEW_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "node.h"
#include "store.h"
#include "util.h"

/* A golden a view lies over (STORE/goldens/<id>/tree), shared by the
 * views on it; its hard-link groups are built on first need. */
struct pifs_golden_link;
struct pifs_golden_ref {
	char id[17];
	int fd;                         /* O_PATH of its tree */
	int links_built;                /* guarded by pifs_fs.links_lock */
	struct pifs_golden_link *links; /* sorted by inode */
	size_t nlinks;
};

struct pifs_view {
	uint32_t id;            /* immutable: registry id */
	char name[PIFS_NAME_MAX + 1];
	char serial[9];         /* immutable: the Pi's serial */
	char tftp_dir[32];      /* immutable: its name in tftpboot/ (the
				 * serial, MAC or fixed string its boot
				 * loader asks for: registry.h) */
	enum pifs_model model;  /* immutable */
	struct pifs_golden_ref *golden; /* changed by a swap (view lock) */
	int lower_root;         /* golden->fd; shared, not owned */
	int work_fd;            /* O_PATH of STORE/work; shared, not owned */
	pthread_rwlock_t lock;  /* the namespace lock (see above) */
	struct pifs_fs *fs;
	struct pifs_node *root; /* pinned for the view's life */
	struct pifs_node *mnt;  /* nfsroot/<name> in the top: the empty
				 * directory the view's own file system is
				 * mounted on; pinned for the view's life */
	int gone;               /* removed from the registry while mounted */
	int gone_told;          /* ...and the kernel told (views_lock) */
	/* The journal: the delta paths changed through the mount since
	 * jtoken was set (handed to `pifs snapshot`, see
	 * pifs_view_journal_take).  Guarded by jlock; a writer records under
	 * the view lock (shared or exclusive), the hand-over happens under
	 * the pause, so nothing is recorded between it and the scan. */
	pthread_mutex_t jlock;
	int jvalid;             /* the set lists every change since jtoken */
	uint64_t jtoken;        /* 0: never handed over */
	uint64_t jepoch;        /* bumped at each hand-over (from 1) */
	struct pifs_pathmap journal; /* path -> JF_* flags (view/journal.c) */
	size_t jbytes;
};

struct pifs_fs {
	struct pifs_store store;
	struct pifs_nodes nodes;
	struct pifs_node *root;    /* static: id 1 */
	struct pifs_node *nfsroot; /* static: id 2 */
	struct pifs_node *tftproot; /* static: id 3 */
	pthread_mutex_t unknown_lock; /* guards unknown[] */
	char unknown[64][32]; /* unregistered names already logged */
	unsigned nunknown;
	/* Enrolment (view/enroll.c): one board registered at a time. */
	pthread_mutex_t enroll_lock;
	int enroll_capped;          /* the cap was logged (enroll_lock) */
	struct timespec enroll_busy; /* store lock missed: retry after */
	uint32_t enroll_fresh[16];  /* enrolled, model not yet confirmed by
				     * the first file asked (enroll_lock) */
	unsigned nfresh;            /* atomic read without the lock */
	pthread_mutex_t views_lock; /* guards views, nviews, reg_* */
	struct pifs_view **views;
	size_t nviews;
	struct timespec reg_mtime;
	struct timespec reg_loaded; /* when: nfsroot/'s mtime (views_lock) */
	struct timespec reg_told;   /* reg_loaded the kernel last heard of */
	ino_t reg_ino;
	time_t start_time;
	/* The goldens views are on, opened as needed, kept until close;
	 * links_lock guards the array and their link groups. */
	pthread_mutex_t links_lock;
	struct pifs_golden_ref **goldens;
	size_t ngoldens;
};

struct pifs_golden_link {
	ino_t ino;
	char *path;
};

/* Who asks: new entries are owned by uid and (unless the directory is
 * setgid) gid. */
struct pifs_ctx {
	uid_t uid;
	gid_t gid;
};

/* What setattr changes (a subset of these bits). */
enum {
	PIFS_SET_MODE = 1 << 0,
	PIFS_SET_UID = 1 << 1,
	PIFS_SET_GID = 1 << 2,
	PIFS_SET_SIZE = 1 << 3,
	PIFS_SET_ATIME = 1 << 4,
	PIFS_SET_MTIME = 1 << 5,
	PIFS_SET_ATIME_NOW = 1 << 6,
	PIFS_SET_MTIME_NOW = 1 << 7,
	PIFS_SET_CTIME = 1 << 8,
};

/* A merged directory listing, taken at opendir (and again at offset 0),
 * so offsets stay stable for telldir/seekdir. */
struct pifs_dirent {
	uint64_t ino;
	unsigned char type; /* DT_* */
	char *name;
};
struct pifs_dir {
	struct pifs_dirent *ents; /* "." and ".." first */
	size_t count;
};

/* Open the store at path, load the registry and create a view per worker;
 * cleans the work directory.  errbuf gets a one-line message. */
int pifs_fs_open(struct pifs_fs *fs, const char *path, char *errbuf,
		 size_t errlen);
void pifs_fs_close(struct pifs_fs *fs);

/* May the kernel cache N's entry (its name in its parent) for the mount's
 * timeout?  Not the tftpboot/ aliases nor the boot files at its top (the
 * same files change through nfsroot/).  The names of the static
 * directories never change; a worker's mount point in nfsroot/ goes when
 * its worker is removed, and pifsd tells the kernel
 * (pifs_fs_registry_inval), which also detaches what is mounted on it. */
static inline int pifs_node_entry_cacheable(const struct pifs_fs *fs,
					    const struct pifs_node *n)
{
	if (!n->view)
		return n == fs->nfsroot || n == fs->tftproot ||
		       n->parent == fs->nfsroot;
	return !n->real;
}

/* ...and its attributes: also the root's, which never change, and
 * nfsroot/'s, which change with the registry (pifsd tells the kernel);
 * not tftpboot/'s, whose mtime is always now (the kernel lists it again
 * at each open: fs/listings.c). */
static inline int pifs_node_attr_cacheable(const struct pifs_fs *fs,
					   const struct pifs_node *n)
{
	if (!n->view)
		return n == fs->root || n == fs->nfsroot ||
		       n->parent == fs->nfsroot;
	return !n->real;
}

struct pifs_inval;

/* Reload the worker registry if it changed (pifs_fs_refresh), and hand
 * over what the kernel must forget since the last call: the name of each
 * removed worker in nfsroot/, and nfsroot/'s attributes and listing when
 * the registry was reloaded (whoever reloaded it: a request reloads a
 * changed registry too, but must not tell the kernel, which takes
 * nfsroot/'s lock for it).  The caller sends them (fs/ctl.c) and frees
 * them with pifs_inval_free; *n is 0 when nothing changed.  -ENOMEM
 * leaves them due for the next call. */
int pifs_fs_registry_inval(struct pifs_fs *fs, struct pifs_inval **inv,
			   size_t *n);

/* After a reload (pifs_fs_reload) the generated files of every view may
 * have a new content and size, while the kernel caches their entries and
 * inodes (pifs is their only writer).  *out gets one record per live
 * view: what its file system must forget, the name of each generated
 * file in its directory and its inode.  Their ids are derived (the view,
 * and the golden file's inode, or PIFS_GEN_INO_BASE + kind where the
 * golden has none), so some may be ids the kernel does not hold.  The
 * caller sends them (fs/ctl.c), frees each record's inv with
 * pifs_inval_free and then *out.  0 or -ENOMEM (nothing handed over). */
struct pifs_view_inval {
	struct pifs_view *view;
	struct pifs_inval *inv;
	size_t n;
};
int pifs_fs_generated_inval(struct pifs_fs *fs, struct pifs_view_inval **out,
			    size_t *n);

/* The node for an id, pinned, or NULL.  pifs_fs_put unpins. */
struct pifs_node *pifs_fs_node(struct pifs_fs *fs, uint64_t id);
void pifs_fs_put(struct pifs_fs *fs, struct pifs_node *n);
void pifs_fs_forget(struct pifs_fs *fs, uint64_t id, uint64_t nlookup);

int pifs_fs_lookup(struct pifs_fs *fs, struct pifs_node *parent,
		   const char *name, struct pifs_node **out, struct stat *st);

/* Many lookups in one directory (a READDIRPLUS): its golden directory is
 * opened once, and each name is one fstatat in it instead of a walk from
 * the golden's root.  A lookup uses it only while the directory still
 * lies where it did at the open (a rename or a reset in between: the
 * walk, as pifs_fs_lookup). */
struct pifs_lower_dir {
	int fd;     /* O_PATH of the golden directory, or -1 */
	int root;   /* the golden's tree it was opened in */
	char *path; /* its path in there */
};
void pifs_fs_lower_dir_open(struct pifs_fs *fs, struct pifs_node *dir,
			    struct pifs_lower_dir *ld);
void pifs_fs_lower_dir_close(struct pifs_lower_dir *ld);
int pifs_fs_lookup_in(struct pifs_fs *fs, struct pifs_node *dir,
		      const struct pifs_lower_dir *ld, const char *name,
		      struct pifs_node **out, struct stat *st);
/* LOOKUP of "." on an id the table no longer has (an NFS file handle
 * after a restart): find it in its view.  -ESTALE when it is gone. */
int pifs_fs_lookup_id(struct pifs_fs *fs, uint64_t id, struct pifs_node **out,
		      struct stat *st);
int pifs_fs_getattr(struct pifs_fs *fs, struct pifs_node *n, struct stat *st);
/* fd: the open file the change came through, or -1. */
int pifs_fs_setattr(struct pifs_fs *fs, struct pifs_node *n,
		    const struct stat *attr, unsigned to_set, int fd,
		    struct stat *st);
/* Returns the target length (NUL-terminated in buf). */
ssize_t pifs_fs_readlink(struct pifs_fs *fs, struct pifs_node *n, char *buf,
			 size_t size);

int pifs_fs_mknod(struct pifs_fs *fs, struct pifs_node *parent,
		  const char *name, mode_t mode, dev_t rdev,
		  const struct pifs_ctx *ctx, struct pifs_node **out,
		  struct stat *st);
int pifs_fs_mkdir(struct pifs_fs *fs, struct pifs_node *parent,
		  const char *name, mode_t mode, const struct pifs_ctx *ctx,
		  struct pifs_node **out, struct stat *st);
int pifs_fs_symlink(struct pifs_fs *fs, struct pifs_node *parent,
		    const char *name, const char *target,
		    const struct pifs_ctx *ctx, struct pifs_node **out,
		    struct stat *st);
int pifs_fs_link(struct pifs_fs *fs, struct pifs_node *n,
		 struct pifs_node *parent, const char *name,
		 struct pifs_node **out, struct stat *st);
int pifs_fs_unlink(struct pifs_fs *fs, struct pifs_node *parent,
		   const char *name);
int pifs_fs_rmdir(struct pifs_fs *fs, struct pifs_node *parent,
		  const char *name);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE. */
int pifs_fs_rename(struct pifs_fs *fs, struct pifs_node *parent,
		   const char *name, struct pifs_node *newparent,
		   const char *newname, unsigned flags);

/* Open a regular file; copies up when flags ask for writing.  *fd_out is
 * a real fd the caller owns; *golden_out is 1 when it is the golden's own
 * file (read-only, shared by every view). */
int pifs_fs_open_file(struct pifs_fs *fs, struct pifs_node *n, int flags,
		      int *fd_out, int *golden_out);
/* For a file opened on its golden (or generated) content: an fd on its
 * delta copy once it has one (0), else -EAGAIN. */
int pifs_fs_reopen_copied(struct pifs_fs *fs, struct pifs_node *n, int *fd_out);
int pifs_fs_create(struct pifs_fs *fs, struct pifs_node *parent,
		   const char *name, mode_t mode, int flags,
		   const struct pifs_ctx *ctx, struct pifs_node **out,
		   struct stat *st, int *fd_out);

int pifs_fs_opendir(struct pifs_fs *fs, struct pifs_node *n,
		    struct pifs_dir **out);
void pifs_dir_free(struct pifs_dir *d);

ssize_t pifs_fs_getxattr(struct pifs_fs *fs, struct pifs_node *n,
			 const char *name, void *buf, size_t size);
ssize_t pifs_fs_listxattr(struct pifs_fs *fs, struct pifs_node *n, char *buf,
			  size_t size);
int pifs_fs_setxattr(struct pifs_fs *fs, struct pifs_node *n,
		     const char *name, const void *val, size_t size,
		     int flags);
int pifs_fs_removexattr(struct pifs_fs *fs, struct pifs_node *n,
			const char *name);
int pifs_fs_statfs(struct pifs_fs *fs, struct pifs_node *n,
		   struct statvfs *sv);
/* Flush the store's file system (syncfs) to disk: what an fsync of a
 * directory asks for, as every namespace change is already there in the
 * delta directory. */
int pifs_fs_syncfs(struct pifs_fs *fs);

/* Re-read the registry if it changed: new workers get a view, removed
 * ones are marked gone. */
void pifs_fs_refresh(struct pifs_fs *fs);
/* The views of the registered workers (none gone), for pifsd to mount
 * each: a malloc'd array of *n pointers, which stay valid (a view is
 * only marked gone, never freed, before pifs_fs_close).  0 or
 * -ENOMEM. */
int pifs_fs_live_views(struct pifs_fs *fs, struct pifs_view ***out,
		       size_t *n);

/* Re-read the registry and pifs.conf (the master address changed). */
int pifs_fs_reload(struct pifs_fs *fs);

/* The live view of a worker, or NULL. */
struct pifs_view *pifs_fs_view(struct pifs_fs *fs, const char *worker);

/* Data writes through an open file take the view lock shared, so that a
 * pause (the lock held exclusively by the control socket for a snapshot)
 * really freezes the worker. */
void pifs_view_pause(struct pifs_view *v);
void pifs_view_resume(struct pifs_view *v);
void pifs_view_write_begin(struct pifs_view *v);
void pifs_view_write_end(struct pifs_view *v);

/* Record a data write to n's delta file in the journal; the caller holds
 * pifs_view_write_begin.  An open file records once per epoch
 * (pifs_view_journal_epoch), not per write. */
void pifs_view_journal_node(struct pifs_view *v, struct pifs_node *n);
uint64_t pifs_view_journal_epoch(struct pifs_view *v);
/* Hand the journal over (the caller holds the pause): *valid, the token
 * it was kept since, a new token from now on, and the records ('d' or
 * 'f', the delta-relative path, NUL; malloc'd).  The set starts empty
 * and valid under the new token. */
int pifs_view_journal_take(struct pifs_view *v, int *valid, uint64_t *token,
			   uint64_t *newtoken, char **buf, size_t *len);

/* What the kernel must forget after a swap: the entry (parent, name) and
 * the inode id.  parent is 0 for the view root. */
struct pifs_inval {
	uint64_t parent;
	uint64_t id;
	char *name;
};

/*
 * Replace V's delta with work/TMPNAME (built by `pifs reset`) atomically,
 * then re-resolve every cached node of the view against the new delta:
 * a node whose path still shows the same id is updated, others lose
 * their name (as unlinked files do) but keep their old inode for open
 * files.  *inv gets what the caller must invalidate in the
 * kernel, after this returns (never while holding the view lock).
 * locked: the caller already holds V paused (pifs_view_pause).  Open
 * files keep their old (now unlinked) file: a worker still running sees
 * its open files as they were, and writes to them are lost.
 */
int pifs_fs_view_swap(struct pifs_fs *fs, struct pifs_view *v,
		      const char *tmpname, int locked, struct pifs_inval **inv,
		      size_t *ninv);
void pifs_inval_free(struct pifs_inval *inv, size_t n);

#endif
