/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * view.c - the merged namespace (see view.h and store.h for the on-disk
 * rules).  Lookup order for NAME in directory P:
 *
 *   1. P's delta entry NAME: a whiteout hides NAME; a non-directory is
 *      final; an opaque directory is final; a directory with a redirect
 *      merges with the golden directory the redirect names.
 *   2. Else the golden entry at P's golden path + "/" + NAME.
 *
 * Everything that changes a view holds view->lock for writing and goes
 * through the helpers below; each change to the delta is atomic on its
 * own (renameat2 with RENAME_NOREPLACE, RENAME_EXCHANGE or RENAME_WHITEOUT,
 * files built in STORE/work and renamed in), so a crash leaves either the
 * old or the new state of that entry.  Copy-up fsyncs the data and the
 * directory before it returns.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "identity.h"
#include "safeio.h"
#include "util.h"
#include "view.h"

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

static void child_release(struct child *c)
{
	if (c->upper_fd >= 0)
		close(c->upper_fd);
	free(c->lower_path);
	c->upper_fd = -1;
	c->lower_path = NULL;
}

static int is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static char *join(const char *dir, const char *name)
{
	if (!dir[0])
		return strdup(name);
	return pifs_strdupf("%s/%s", dir, name);
}

static char *work_name(char *buf, size_t len)
{
	static atomic_ulong counter;

	snprintf(buf, len, "t%ld-%lu", (long)getpid(),
		 atomic_fetch_add(&counter, 1));
	return buf;
}

/* statx of an O_PATH fd; the generation hashes the birth time. */
/* ---- the journal (view.h) ---- */

#define JOURNAL_MAX_PATHS 200000
#define JOURNAL_MAX_BYTES ((size_t)32 << 20)
#define JF_DIRTY 1u
#define JF_FULL	 2u

static void journal_clear(struct pifs_view *v)
{
	pifs_pathmap_free(&v->journal);
	v->jbytes = 0;
}

/* Give up on the set: the next snapshot stats everything. */
static void journal_drop(struct pifs_view *v)
{
	journal_clear(v);
	v->jvalid = 0;
}

/* Record path (len bytes) with flags; caller holds jlock. */
static void journal_put(struct pifs_view *v, const char *p, size_t len,
			unsigned flags)
{
	if (!v->jvalid)
		return;
	if (v->journal.n >= JOURNAL_MAX_PATHS ||
	    v->jbytes >= JOURNAL_MAX_BYTES) {
		pifs_info("journal of worker '%s' full: its next snapshot "
			  "reads the whole delta", v->name);
		journal_drop(v);
		return;
	}
	if (pifs_pathmap_add(&v->journal, p, len, flags) < 0)
		journal_drop(v);
	else
		v->jbytes += len + 2;
}

/* Record n's delta path (plus "/name" when name is set); the caller
 * holds the view lock, so the names above n stay put. */
static void jn_node(struct pifs_view *v, const struct pifs_node *n,
		    const char *name, unsigned flags)
{
	const struct pifs_node *q;
	size_t len = 0, l;
	char *buf, *end;

	if (n->real)
		n = n->real;
	if (n->view != v || n->unlinked)
		return;
	for (q = n; q && q != v->root; q = q->parent) {
		if (!q->name || q->unlinked)
			return;
		len += strlen(q->name) + 1;
	}
	if (!q)
		return;
	if (name)
		len += strlen(name) + 1;
	if (!len) {
		pthread_mutex_lock(&v->jlock);
		journal_put(v, ".", 1, flags);
		pthread_mutex_unlock(&v->jlock);
		return;
	}
	buf = malloc(len);
	if (!buf) {
		pthread_mutex_lock(&v->jlock);
		journal_drop(v);
		pthread_mutex_unlock(&v->jlock);
		return;
	}
	end = buf + len - 1; /* the last byte: the separator not needed */
	if (name) {
		l = strlen(name);
		end -= l;
		memcpy(end + 1, name, l);
		*end-- = '/';
	}
	for (q = n; q != v->root; q = q->parent) {
		l = strlen(q->name);
		end -= l;
		memcpy(end + 1, q->name, l);
		*end-- = '/';
	}
	pthread_mutex_lock(&v->jlock);
	journal_put(v, buf + 1, len - 1, flags);
	pthread_mutex_unlock(&v->jlock);
	free(buf);
}

void pifs_view_journal_node(struct pifs_view *v, struct pifs_node *n)
{
	jn_node(v, n, NULL, JF_DIRTY);
}

uint64_t pifs_view_journal_epoch(struct pifs_view *v)
{
	uint64_t e;

	pthread_mutex_lock(&v->jlock);
	e = v->jepoch;
	pthread_mutex_unlock(&v->jlock);
	return e;
}

int pifs_view_journal_take(struct pifs_view *v, int *valid, uint64_t *token,
			   uint64_t *newtoken, char **buf, size_t *len)
{
	size_t need = 0, off = 0, i, l;
	uint64_t t = 0;
	char *b;

	while (!t)
		if (getrandom(&t, sizeof(t), 0) != sizeof(t))
			return -errno;
	pthread_mutex_lock(&v->jlock);
	for (i = 0; i < v->journal.cap; i++)
		if (v->journal.t[i].path)
			need += (strlen(v->journal.t[i].path) + 2) *
				(v->journal.t[i].flags == (JF_DIRTY | JF_FULL)
					 ? 2
					 : 1);
	b = malloc(need ? need : 1);
	if (!b) {
		pthread_mutex_unlock(&v->jlock);
		return -ENOMEM;
	}
	for (i = 0; i < v->journal.cap; i++) {
		const struct pifs_pathmap_ent *e = &v->journal.t[i];

		if (!e->path)
			continue;
		l = strlen(e->path) + 1;
		if (e->flags & JF_DIRTY) {
			b[off++] = 'd';
			memcpy(b + off, e->path, l);
			off += l;
		}
		if (e->flags & JF_FULL) {
			b[off++] = 'f';
			memcpy(b + off, e->path, l);
			off += l;
		}
	}
	*valid = v->jvalid;
	*token = v->jtoken;
	*newtoken = t;
	journal_clear(v);
	v->jtoken = t;
	v->jvalid = 1;
	v->jepoch++;
	pthread_mutex_unlock(&v->jlock);
	*buf = b;
	*len = off;
	return 0;
}

static int upper_stat(int fd, struct stat *st, uint32_t *gen)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
		return -errno;
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	st->st_ino = sx.stx_ino;
	st->st_mode = sx.stx_mode;
	st->st_nlink = sx.stx_nlink;
	st->st_uid = sx.stx_uid;
	st->st_gid = sx.stx_gid;
	st->st_rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
	st->st_size = (off_t)sx.stx_size;
	st->st_blksize = sx.stx_blksize;
	st->st_blocks = (blkcnt_t)sx.stx_blocks;
	st->st_atim.tv_sec = sx.stx_atime.tv_sec;
	st->st_atim.tv_nsec = sx.stx_atime.tv_nsec;
	st->st_mtim.tv_sec = sx.stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = sx.stx_mtime.tv_nsec;
	st->st_ctim.tv_sec = sx.stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = sx.stx_ctime.tv_nsec;
	if (gen) {
		uint64_t b = (uint64_t)sx.stx_btime.tv_sec * 1000000007ULL ^
			     sx.stx_btime.tv_nsec;

		*gen = (sx.stx_mask & STATX_BTIME) ? (uint32_t)(b ^ (b >> 32)) : 0;
	}
	return 0;
}

static int get_origin(int fd, uint64_t *ino)
{
	unsigned char b[8];
	ssize_t r = pifs_lgetxattr(fd, NULL, PIFS_XATTR_ORIGIN, b, sizeof(b));

	*ino = 0;
	if (r == 8) {
		for (int i = 7; i >= 0; i--)
			*ino = (*ino << 8) | b[i];
		return 1;
	}
	return 0;
}

static int set_origin(int dirfd, const char *name, uint64_t ino)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(ino >> (8 * i));
	return pifs_lsetxattr(dirfd, name, PIFS_XATTR_ORIGIN, b, 8, 0);
}

static int xattr_is(int dirfd, const char *name, const char *attr,
		    const char *want)
{
	char buf[8];
	ssize_t r = pifs_lgetxattr(dirfd, name, attr, buf, sizeof(buf));

	return r == (ssize_t)strlen(want) && !memcmp(buf, want, (size_t)r);
}

/* The golden redirect of an upper directory, malloc'd without its leading
 * '/', or NULL. */
static char *get_redirect(int fd)
{
	char buf[PATH_MAX];
	ssize_t r = pifs_lgetxattr(fd, NULL, PIFS_XATTR_REDIRECT, buf,
				   sizeof(buf) - 1);
	char *p;

	if (r <= 1 || buf[0] != '/')
		return NULL;
	buf[r] = '\0';
	p = buf + 1;
	if (strstr(p, "..") || strstr(p, "//"))
		return NULL;
	return strdup(p);
}

static int lower_exists(struct pifs_view *v, const char *path, struct stat *st)
{
	struct stat tmp;

	return pifs_lstat_beneath(v->lower_root, path, st ? st : &tmp);
}

/* ---- generated identity files (identity.h) ----------------------------- */

/* The content of generated file KIND in view V; GOLDEN_PATH is the
 * golden's own file at that place, or NULL. */
static int gen_build(struct pifs_view *v, enum pifs_gen kind,
		     const char *golden_path, char **out, size_t *len)
{
	char master[sizeof(v->fs->store.conf.master)];
	struct pifs_identity id = { .worker = v->name, .serial = v->serial,
				    .master = master };
	char *golden = NULL;
	size_t glen = 0;
	int r;

	pthread_mutex_lock(&v->fs->views_lock); /* pifs master may change it */
	memcpy(master, v->fs->store.conf.master, sizeof(master));
	pthread_mutex_unlock(&v->fs->views_lock);

	if (golden_path &&
	    pifs_read_file(v->lower_root, golden_path, 1 << 20, &golden, &glen) < 0)
		golden = NULL;
	r = pifs_gen_content(kind, &id, golden, glen, out, len);
	free(golden);
	return r;
}

/* Attributes of a generated file: the golden file's (owner, mode, times)
 * where it has one, else root's 0644 (0444 for machine-id); the size is
 * the generated content's. */
static int gen_stat(struct pifs_view *v, enum pifs_gen kind,
		    const char *golden_path, struct stat *st)
{
	char *buf;
	size_t len;
	int r;

	if (!golden_path || lower_exists(v, golden_path, st) < 0 ||
	    !S_ISREG(st->st_mode)) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFREG | (kind == PIFS_GEN_MACHINE_ID ? 0444 : 0644);
		st->st_nlink = 1;
		st->st_blksize = 4096;
		st->st_ino = PIFS_GEN_INO_BASE + kind;
		st->st_mtim = st->st_ctim = st->st_atim = v->fs->reg_mtime;
	}
	if ((r = gen_build(v, kind, golden_path, &buf, &len)) < 0)
		return r;
	free(buf);
	st->st_size = (off_t)len;
	st->st_blocks = (blkcnt_t)((len + 511) / 512);
	return 0;
}

/* Is LD still P's golden directory?  Caller holds v->lock. */
static int lower_dir_valid(const struct pifs_view *v, const struct pifs_node *p,
			   const struct pifs_lower_dir *ld)
{
	return ld && ld->fd >= 0 && ld->root == v->lower_root &&
	       p->lower_path && !strcmp(p->lower_path, ld->path);
}

/*
 * Resolve NAME in directory P (lookup steps in the header comment); LD is
 * P's golden directory already open (pifs_fs_lower_dir_open), or NULL.
 * Caller holds v->lock (either way).  -ENOENT when nothing is visible.
 */
static int find_child_in(struct pifs_view *v, struct pifs_node *p,
			 const struct pifs_lower_dir *ld, const char *name,
			 struct child *c)
{
	struct stat ust, lst;
	int has_upper = 0, opaque = 0, r, joined = 0;
	uint64_t origin = 0;
	char *lp = NULL;

	memset(c, 0, sizeof(*c));
	c->upper_fd = -1;
	if (!S_ISDIR(p->type))
		return -ENOTDIR;
	if ((r = pifs_check_name(name)) < 0)
		return r;
	if (p->upper_fd >= 0) {
		int fd = openat(p->upper_fd, name,
				O_PATH | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0) {
			if (errno != ENOENT)
				return -errno;
		} else {
			uint32_t gen;

			if ((r = upper_stat(fd, &ust, &gen)) < 0) {
				close(fd);
				return r;
			}
			if (is_whiteout(&ust)) {
				close(fd);
				return -ENOENT;
			}
			has_upper = 1;
			c->upper_fd = fd;
			c->gen = gen;
			get_origin(fd, &origin);
			if (S_ISDIR(ust.st_mode)) {
				opaque = xattr_is(fd, NULL, PIFS_XATTR_OPAQUE, "y");
				if (!opaque)
					lp = get_redirect(fd);
			}
		}
	}
	if (!has_upper || (S_ISDIR(ust.st_mode) && !opaque)) {
		if (!lp && p->lower_path && (!has_upper || !opaque)) {
			lp = join(p->lower_path, name);
			joined = 1;
		}
		if (lp) {
			if (joined && lower_dir_valid(v, p, ld))
				r = pifs_lstat_beneath(ld->fd, name, &lst);
			else
				r = lower_exists(v, lp, &lst);
			if (r == 0 && (!has_upper || S_ISDIR(lst.st_mode))) {
				c->lower_path = lp;
				lp = NULL;
			} else if (r < 0 && r != -ENOENT && r != -ENOTDIR &&
				   r != -ELOOP) {
				free(lp);
				child_release(c);
				return r;
			}
			free(lp);
		}
	}
	if (!has_upper && p->lower_path &&
	    (c->kind = pifs_gen_kind(p->lower_path, name)) != PIFS_GEN_NONE) {
		/* A generated identity file (over the golden's, if any). */
		if (c->lower_path && !S_ISREG(lst.st_mode)) {
			c->kind = PIFS_GEN_NONE;
		} else {
			char *gp = c->lower_path ? c->lower_path : join(p->lower_path, name);

			r = gp ? gen_stat(v, c->kind, c->lower_path ? gp : NULL, &c->st) : -ENOMEM;
			if (!c->lower_path)
				free(gp);
			if (r < 0) {
				child_release(c);
				return r;
			}
			c->id = pifs_make_id(v->id, 0, c->st.st_ino);
			c->gen = 0;
			c->st.st_ino = c->id;
			return 0;
		}
	}
	if (!has_upper && !c->lower_path)
		return -ENOENT;
	if (has_upper) {
		c->st = ust;
		c->id = pifs_make_id(v->id, !origin, origin ? origin : ust.st_ino);
		if (origin)
			c->gen = 0;
		if (S_ISDIR(ust.st_mode) && c->lower_path)
			c->st.st_nlink = 1; /* merged: not knowable cheaply */
		if ((origin ? origin : ust.st_ino) > PIFS_ID_INO_MASK)
			goto overflow;
	} else {
		c->st = lst;
		c->id = pifs_make_id(v->id, 0, lst.st_ino);
		c->gen = 0;
		if (lst.st_ino > PIFS_ID_INO_MASK)
			goto overflow;
	}
	c->st.st_ino = c->id;
	return 0;
overflow:
	pifs_err("inode number of '%s' does not fit a node id", name);
	child_release(c);
	return -EOVERFLOW;
}

static int find_child(struct pifs_view *v, struct pifs_node *p,
		      const char *name, struct child *c)
{
	return find_child_in(v, p, NULL, name, c);
}

/* Turn a lookup result into a pinned node: the cached one if the id is
 * known, else a new one under P. */
static int child_node_revive(struct pifs_view *v, struct pifs_node *p,
			     const char *name, struct child *c,
			     struct pifs_node **out, int revive)
{
	struct pifs_fs *fs = v->fs;
	struct pifs_node *n = pifs_nodes_get(&fs->nodes, c->id);

	if (n && n->unlinked && revive && pifs_node_move(&fs->nodes, n, p, name) == 0) {
		/* A stale node (its name went away, e.g. in a reset) whose
		 * entry is back: it is the same file again.  Caller holds
		 * v->lock for writing. */
		if (n->upper_fd >= 0)
			close(n->upper_fd);
		free(n->lower_path);
		n->upper_fd = c->upper_fd;
		n->lower_path = c->lower_path;
		n->type = c->st.st_mode & S_IFMT;
		n->gen_kind = c->kind;
		n->unlinked = 0;
		c->upper_fd = -1;
		c->lower_path = NULL;
	}
	if (n) {
		child_release(c);
		*out = n;
		return 0;
	}
	n = pifs_node_new(c->id, c->gen, v, c->st.st_mode);
	if (!n)
		return -ENOMEM;
	n->name = strdup(name);
	if (!n->name) {
		pifs_nodes_put(&fs->nodes, n);
		return -ENOMEM;
	}
	n->upper_fd = c->upper_fd;
	n->lower_path = c->lower_path;
	n->gen_kind = c->kind;
	c->upper_fd = -1;
	c->lower_path = NULL;
	pthread_mutex_lock(&fs->nodes.lock);
	p->refs++;
	pthread_mutex_unlock(&fs->nodes.lock);
	n->parent = p;
	*out = pifs_nodes_insert(&fs->nodes, n);
	return 0;
}

static int child_node(struct pifs_view *v, struct pifs_node *p,
		      const char *name, struct child *c, struct pifs_node **out)
{
	return child_node_revive(v, p, name, c, out, 0);
}

/* Attributes of a view node as the client sees them. */
static int node_stat(struct pifs_view *v, struct pifs_node *n, struct stat *st)
{
	int r;

	if (n->upper_fd >= 0) {
		r = upper_stat(n->upper_fd, st, NULL);
		if (r == 0 && S_ISDIR(st->st_mode) && n->lower_path)
			st->st_nlink = 1;
	} else if (n->gen_kind && !n->unlinked) {
		r = gen_stat(v, n->gen_kind, n->lower_path, st);
	} else if (n->lower_path) {
		r = lower_exists(v, n->lower_path, st);
	} else {
		r = -ESTALE;
	}
	if (r == 0)
		st->st_ino = n->id;
	return r;
}

/* Keep a directory's times across a change pifs makes for its own
 * reasons (copy-up into it), as overlayfs does. */
struct saved_times {
	struct timespec ts[2];
	int ok;
};

static void times_save(int dirfd, struct saved_times *s)
{
	struct stat st;

	s->ok = pifs_fstat(dirfd, &st) == 0;
	s->ts[0] = st.st_atim;
	s->ts[1] = st.st_mtim;
}

static void times_restore(int dirfd, const struct saved_times *s)
{
	char p[40];

	if (s->ok)
		utimensat(AT_FDCWD, pifs_fd_path(dirfd, p, sizeof(p)), s->ts, 0);
}

/* ---- golden hard-link groups ------------------------------------------ */

static int links_cmp(const void *a, const void *b)
{
	const struct pifs_golden_link *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void links_walk(struct pifs_golden_ref *g, int dirfd,
		       const char *prefix, size_t *cap, unsigned depth)
{
	struct dirent *de;
	DIR *dp;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || depth > 256 || !(dp = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dp))) {
		struct stat st;
		char *path;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		path = join(prefix, de->d_name);
		if (!path)
			break;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(fd, de->d_name,
					 O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				links_walk(g, sub, path, cap, depth + 1);
				close(sub);
			}
			free(path);
			continue;
		}
		if (st.st_nlink < 2) {
			free(path);
			continue;
		}
		if (g->nlinks == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct pifs_golden_link *nl =
				realloc(g->links, nc * sizeof(*nl));

			if (!nl) {
				free(path);
				break;
			}
			g->links = nl;
			*cap = nc;
		}
		g->links[g->nlinks].ino = st.st_ino;
		g->links[g->nlinks].path = path;
		g->nlinks++;
	}
	closedir(dp);
}

static void links_build(struct pifs_golden_ref *g)
{
	size_t cap = 0;

	links_walk(g, g->fd, "", &cap, 0);
	qsort(g->links, g->nlinks, sizeof(*g->links), links_cmp);
	pifs_debug("golden %s has %zu hard-linked names", g->id, g->nlinks);
}

static int copy_up(struct pifs_view *v, struct pifs_node *n, int with_data);

/*
 * N (a golden file with other golden names) was just copied up: give the
 * names of the same golden inode that this view still shows from the
 * golden a hard link to the copy, so they keep being one file.  A name
 * whose directory was renamed in this view is left alone.  The golden is
 * walked once, on the first such copy-up, to find the groups.
 */
static void link_siblings(struct pifs_view *v, struct pifs_node *n, ino_t ino)
{
	struct pifs_fs *fs = v->fs;
	struct pifs_golden_ref *g = v->golden;
	struct pifs_golden_link key = { .ino = ino }, *hit;

	pthread_mutex_lock(&fs->links_lock);
	if (!g->links_built) {
		links_build(g);
		g->links_built = 1;
	}
	pthread_mutex_unlock(&fs->links_lock);
	hit = bsearch(&key, g->links, g->nlinks, sizeof(*g->links), links_cmp);
	if (!hit)
		return;
	while (hit > g->links && hit[-1].ino == ino)
		hit--;
	for (; hit < g->links + g->nlinks && hit->ino == ino; hit++) {
		struct pifs_node *dir = v->root, *next;
		char *buf, *save = NULL, *comp, *last = NULL;
		struct child c;
		int ok = 1;

		if (!strcmp(hit->path, n->lower_path) || !(buf = strdup(hit->path)))
			continue;
		pthread_mutex_lock(&fs->nodes.lock);
		dir->refs++;
		pthread_mutex_unlock(&fs->nodes.lock);
		for (comp = strtok_r(buf, "/", &save); comp;
		     comp = strtok_r(NULL, "/", &save)) {
			if (last) {
				if (find_child(v, dir, last, &c) < 0 ||
				    !S_ISDIR(c.st.st_mode) ||
				    child_node(v, dir, last, &c, &next) < 0) {
					child_release(&c);
					ok = 0;
					break;
				}
				pifs_nodes_put(&fs->nodes, dir);
				dir = next;
			}
			last = comp;
		}
		if (ok && last && find_child(v, dir, last, &c) == 0) {
			int visible = c.id == n->id && c.upper_fd < 0 &&
				      c.lower_path && !strcmp(c.lower_path, hit->path);

			child_release(&c);
			if (visible && copy_up(v, dir, 1) == 0) {
				struct saved_times pt;

				times_save(dir->upper_fd, &pt);
				jn_node(v, dir, last, JF_DIRTY);
				if (linkat(n->upper_fd, "", dir->upper_fd, last,
					   AT_EMPTY_PATH) < 0)
					pifs_warn("cannot keep hard link '%s' in view '%s': %s",
						  hit->path, v->name, strerror(errno));
				times_restore(dir->upper_fd, &pt);
			}
		}
		pifs_nodes_put(&fs->nodes, dir);
		free(buf);
	}
}

/*
 * Copy N up from the golden into its parent's delta directory (parents
 * first).  The copy is built in STORE/work with data, xattrs, origin,
 * owner, mode and times, fsynced, and renamed into place with
 * RENAME_NOREPLACE; then the directory is fsynced.  with_data = 0 makes
 * an empty file (the caller truncates anyway).  Caller holds v->lock for
 * writing.
 */
static int copy_up(struct pifs_view *v, struct pifs_node *n, int with_data)
{
	struct pifs_node *p = n->parent;
	struct saved_times pt;
	struct stat st;
	char tmp[64];
	int lfd = -1, sfd = -1, dfd = -1, r, made = 0;

	if (n->upper_fd >= 0)
		return 0;
	if (n->unlinked || !p || (!n->lower_path && !n->gen_kind))
		return -ESTALE;
	if ((r = copy_up(v, p, 1)) < 0)
		return r;
	if (n->lower_path) {
		lfd = pifs_openat_beneath(v->lower_root, n->lower_path,
					  O_PATH | O_NOFOLLOW, 0);
		if (lfd < 0)
			return lfd;
	}
	if (n->gen_kind)
		r = gen_stat(v, n->gen_kind, n->lower_path, &st);
	else
		r = pifs_fstat(lfd, &st);
	if (r < 0)
		goto out;
	work_name(tmp, sizeof(tmp));
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		r = mkdirat(v->work_fd, tmp, 0700) < 0 ? -errno : 0;
		break;
	case S_IFREG:
		dfd = openat(v->work_fd, tmp,
			     O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
			     0600);
		if (dfd < 0) {
			r = -errno;
			break;
		}
		made = 1;
		r = 0;
		if (with_data && n->gen_kind) {
			/* The worker's own copy starts as what it was shown. */
			char *buf;
			size_t len;

			if ((r = gen_build(v, n->gen_kind, n->lower_path, &buf, &len)) == 0) {
				r = pifs_write_all(dfd, buf, len);
				free(buf);
			}
		} else if (with_data) {
			sfd = pifs_reopen(lfd, O_RDONLY);
			if (sfd < 0)
				r = sfd;
			else
				r = pifs_copy_data(sfd, dfd, st.st_size);
		}
		if (r == 0 && fsync(dfd) < 0)
			r = -errno;
		break;
	case S_IFLNK: {
		char target[PATH_MAX + 1];
		ssize_t len = readlinkat(lfd, "", target, sizeof(target) - 1);

		if (len < 0) {
			r = -errno;
			break;
		}
		target[len] = '\0';
		r = symlinkat(target, v->work_fd, tmp) < 0 ? -errno : 0;
		break;
	}
	default:
		r = mknodat(v->work_fd, tmp, (st.st_mode & S_IFMT) | 0600,
			    st.st_rdev) < 0 ? -errno : 0;
		break;
	}
	if (r < 0)
		goto out;
	made = 1;
	if ((lfd >= 0 && (r = pifs_copy_xattrs(lfd, NULL, v->work_fd, tmp,
					       pifs_xattr_private)) < 0) ||
	    (r = set_origin(v->work_fd, tmp, st.st_ino)) < 0 ||
	    (r = pifs_set_attrs(v->work_fd, tmp, &st)) < 0)
		goto out;
	times_save(p->upper_fd, &pt);
	if (renameat2(v->work_fd, tmp, p->upper_fd, n->name, RENAME_NOREPLACE) < 0) {
		r = -errno;
		goto out;
	}
	made = 0;
	jn_node(v, n, NULL, JF_DIRTY);
	times_restore(p->upper_fd, &pt);
	if ((r = pifs_fsync_dir(p->upper_fd)) < 0)
		pifs_warn("cannot fsync delta dir of '%s': %s", n->name,
			  strerror(-r));
	n->upper_fd = openat(p->upper_fd, n->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	r = n->upper_fd < 0 ? -errno : 0;
	if (r == 0) {
		pifs_debug("copy-up '%s' in view '%s'", n->lower_path, v->name);
		if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
			link_siblings(v, n, st.st_ino);
	}
out:
	if (made)
		pifs_remove_tree(v->work_fd, tmp);
	if (dfd >= 0)
		close(dfd);
	if (sfd >= 0)
		close(sfd);
	if (lfd >= 0)
		close(lfd);
	return r;
}

/* Is there a golden entry at P's golden path + NAME (hidden or not)? */
static int lower_at(struct pifs_view *v, struct pifs_node *p, const char *name)
{
	char *lp;
	int r;

	if (!p->lower_path)
		return 0;
	lp = join(p->lower_path, name);
	if (!lp)
		return -ENOMEM;
	r = lower_exists(v, lp, NULL);
	free(lp);
	return r == 0;
}

static int make_whiteout(int dirfd, const char *name)
{
	return mknodat(dirfd, name, S_IFCHR | 0, makedev(0, 0)) < 0 ? -errno : 0;
}

/* Is the delta entry at P/NAME a whiteout?  1, 0 (nothing there) or
 * -EEXIST (a real entry). */
static int upper_whiteout(struct pifs_node *p, const char *name)
{
	struct stat st;

	if (fstatat(p->upper_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	return is_whiteout(&st) ? 1 : -EEXIST;
}

/* Kinds of new entry place_new() can make. */
struct newent {
	mode_t mode;          /* type and permission bits */
	dev_t rdev;
	const char *target;   /* symlink */
	int link_fd;          /* hard link: O_PATH fd of the existing inode */
	int open_flags;       /* regular file: flags for the returned fd */
	int fd;               /* out: open fd for a regular file */
	uid_t uid;
	gid_t gid;
};

static int make_entry(int dirfd, const char *name, struct newent *ne)
{
	int r = 0;

	switch (ne->mode & S_IFMT) {
	case S_IFDIR:
		r = mkdirat(dirfd, name, ne->mode & 07777);
		break;
	case S_IFLNK:
		r = symlinkat(ne->target, dirfd, name);
		break;
	case S_IFREG:
		if (ne->link_fd >= 0) {
			r = linkat(ne->link_fd, "", dirfd, name, AT_EMPTY_PATH);
			break;
		}
		ne->fd = openat(dirfd, name,
				(ne->open_flags & ~(O_CREAT | O_EXCL | O_TRUNC |
						    O_NOFOLLOW | O_NOCTTY)) |
					O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				ne->mode & 07777);
		r = ne->fd < 0 ? -1 : 0;
		break;
	default:
		if (ne->link_fd >= 0)
			r = linkat(ne->link_fd, "", dirfd, name, AT_EMPTY_PATH);
		else
			r = mknodat(dirfd, name, ne->mode, ne->rdev);
		break;
	}
	if (r < 0)
		return -errno;
	if (ne->link_fd >= 0)
		return 0;
	if (fchownat(dirfd, name, ne->uid, ne->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* chown clears setuid/setgid: put them back. */
	if (!S_ISLNK(ne->mode) && (ne->mode & (S_ISUID | S_ISGID))) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", dirfd, name);
		if (fchmodat(AT_FDCWD, p, ne->mode & 07777, 0) < 0)
			return -errno;
	}
	return 0;
}

/*
 * Create NAME in P's delta (copying P up first).  Where NAME is a
 * whiteout, the entry is built in work/ and swapped in atomically (a
 * directory made there is opaque, so the golden one stays hidden).
 * Returns the new entry's O_PATH fd.  Caller holds v->lock for writing.
 */
static int place_new(struct pifs_view *v, struct pifs_node *p,
		     const char *name, struct newent *ne)
{
	char tmp[64];
	int wh, r, fd;

	ne->fd = -1;
	if ((r = copy_up(v, p, 1)) < 0)
		return r;
	wh = upper_whiteout(p, name);
	if (wh < 0)
		return wh;
	if (!wh) {
		if ((r = make_entry(p->upper_fd, name, ne)) < 0) {
			if (r != -EEXIST)
				unlinkat(p->upper_fd, name,
					 S_ISDIR(ne->mode) ? AT_REMOVEDIR : 0);
			goto fail;
		}
	} else {
		work_name(tmp, sizeof(tmp));
		if ((r = make_entry(v->work_fd, tmp, ne)) < 0)
			goto fail_tmp;
		if (S_ISDIR(ne->mode)) {
			if ((r = pifs_lsetxattr(v->work_fd, tmp, PIFS_XATTR_OPAQUE,
						"y", 1, 0)) < 0)
				goto fail_tmp;
			if (renameat2(v->work_fd, tmp, p->upper_fd, name,
				      RENAME_EXCHANGE) < 0) {
				r = -errno;
				goto fail_tmp;
			}
			unlinkat(v->work_fd, tmp, 0); /* the old whiteout */
		} else if (renameat(v->work_fd, tmp, p->upper_fd, name) < 0) {
			r = -errno;
			goto fail_tmp;
		}
	}
	fd = openat(p->upper_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	return fd;
fail_tmp:
	pifs_remove_tree(v->work_fd, tmp);
fail:
	if (ne->fd >= 0)
		close(ne->fd);
	ne->fd = -1;
	return r;
}

/* A node for an entry place_new() just made. */
static int new_node(struct pifs_view *v, struct pifs_node *p,
		    const char *name, int fd, struct pifs_node **out,
		    struct stat *st)
{
	struct child c = { .upper_fd = fd };
	uint64_t origin;
	int r;

	if ((r = upper_stat(fd, &c.st, &c.gen)) < 0) {
		close(fd);
		return r;
	}
	if (get_origin(fd, &origin)) {
		c.id = pifs_make_id(v->id, 0, origin);
		c.gen = 0;
	} else {
		c.id = pifs_make_id(v->id, 1, c.st.st_ino);
	}
	c.st.st_ino = c.id;
	*st = c.st;
	if ((r = child_node(v, p, name, &c, out)) < 0) {
		child_release(&c);
		return r;
	}
	pifs_nodes_lookup_inc(&v->fs->nodes, *out);
	pifs_nodes_put(&v->fs->nodes, *out);
	return 0;
}

/* ---- directory listing ---------------------------------------------- */

/* A small open-addressing set of names, for the merge. */
struct nameset {
	char **slot;
	size_t cap, used;
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int nameset_add(struct nameset *s, char *name)
{
	if (s->used * 2 >= s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		char **ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->slot[i])
				continue;
			size_t j = name_hash(s->slot[i]) & (ncap - 1);
			while (ns[j])
				j = (j + 1) & (ncap - 1);
			ns[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = ns;
		s->cap = ncap;
	}
	size_t j = name_hash(name) & (s->cap - 1);
	while (s->slot[j]) {
		if (!strcmp(s->slot[j], name))
			return 0;
		j = (j + 1) & (s->cap - 1);
	}
	s->slot[j] = name;
	s->used++;
	return 0;
}

static int nameset_has(const struct nameset *s, const char *name)
{
	if (!s->cap)
		return 0;
	size_t j = name_hash(name) & (s->cap - 1);
	while (s->slot[j]) {
		if (!strcmp(s->slot[j], name))
			return 1;
		j = (j + 1) & (s->cap - 1);
	}
	return 0;
}

struct dirbuf {
	struct pifs_dir *d;
	size_t cap;
	struct nameset seen; /* names (pointers into d->ents or wh) */
	char **wh;           /* whiteout names, owned */
	size_t nwh, capwh;
};

static int dir_add(struct dirbuf *b, const char *name, uint64_t ino,
		   unsigned char type)
{
	struct pifs_dir *d = b->d;
	char *nm;

	if (d->count == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 32;
		struct pifs_dirent *ne = realloc(d->ents, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		d->ents = ne;
		b->cap = ncap;
	}
	nm = strdup(name);
	if (!nm)
		return -ENOMEM;
	d->ents[d->count].ino = ino;
	d->ents[d->count].type = type;
	d->ents[d->count].name = nm;
	d->count++;
	return 0;
}

void pifs_dir_free(struct pifs_dir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->count; i++)
		free(d->ents[i].name);
	free(d->ents);
	free(d);
}

static unsigned char dtype_of(mode_t m)
{
	return (unsigned char)((m & S_IFMT) >> 12);
}

/*
 * List the merged directory N into b (entries other than "." and "..").
 * With stop_at_one, return 1 as soon as one visible entry is found (the
 * emptiness test of rmdir and rename).  Caller holds v->lock.
 */
static int list_merged(struct pifs_view *v, struct pifs_node *n,
		       struct dirbuf *b, int stop_at_one)
{
	struct dirent *de;
	DIR *dp;
	int fd, r = 0;

	if (n->upper_fd >= 0) {
		fd = pifs_reopen(n->upper_fd, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			return fd;
		dp = fdopendir(fd);
		if (!dp) {
			close(fd);
			return -errno;
		}
		while ((errno = 0, de = readdir(dp))) {
			struct stat st;
			unsigned char type = de->d_type;
			unsigned char ob[8];
			uint64_t id;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (type == DT_CHR || type == DT_UNKNOWN) {
				if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
					continue;
				type = dtype_of(st.st_mode);
				if (is_whiteout(&st)) {
					char *w;

					if (!n->lower_path)
						continue;
					if (b->nwh == b->capwh) {
						size_t nc = b->capwh ? b->capwh * 2 : 16;
						char **nw = realloc(b->wh, nc * sizeof(*nw));

						if (!nw) {
							r = -ENOMEM;
							break;
						}
						b->wh = nw;
						b->capwh = nc;
					}
					w = strdup(de->d_name);
					if (!w) {
						r = -ENOMEM;
						break;
					}
					b->wh[b->nwh++] = w;
					if ((r = nameset_add(&b->seen, w)) < 0)
						break;
					continue;
				}
			}
			if (stop_at_one) {
				r = 1;
				break;
			}
			if (pifs_lgetxattr(fd, de->d_name, PIFS_XATTR_ORIGIN, ob, 8) == 8) {
				uint64_t o = 0;

				for (int i = 7; i >= 0; i--)
					o = (o << 8) | ob[i];
				id = pifs_make_id(v->id, 0, o);
			} else {
				id = pifs_make_id(v->id, 1, de->d_ino);
			}
			if ((r = dir_add(b, de->d_name, id, type)) < 0 ||
			    (r = nameset_add(&b->seen, b->d->ents[b->d->count - 1].name)) < 0)
				break;
		}
		if (!de && errno && r == 0)
			r = -errno;
		closedir(dp);
		if (r != 0)
			return r;
	}
	if (!n->lower_path)
		return 0;
	fd = pifs_openat_beneath(v->lower_root, n->lower_path,
				 O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd == -ENOENT || fd == -ENOTDIR ? 0 : fd;
	dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return -errno;
	}
	while ((errno = 0, de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (nameset_has(&b->seen, de->d_name))
			continue;
		if (stop_at_one) {
			r = 1;
			break;
		}
		if ((r = dir_add(b, de->d_name, pifs_make_id(v->id, 0, de->d_ino),
				 de->d_type)) < 0)
			break;
	}
	if (!de && errno && r == 0)
		r = -errno;
	closedir(dp);
	/* Generated identity files the golden does not have. */
	for (const char *const *g = pifs_gen_names(n->lower_path); r == 0 && *g; g++) {
		char *gp;
		int there;

		if (nameset_has(&b->seen, *g))
			continue;
		if (!(gp = join(n->lower_path, *g)))
			return -ENOMEM;
		there = lower_exists(v, gp, NULL) == 0;
		free(gp);
		if (there)
			continue;
		if (stop_at_one)
			return 1;
		r = dir_add(b, *g, pifs_make_id(v->id, 0,
						PIFS_GEN_INO_BASE + pifs_gen_kind(n->lower_path, *g)),
			    DT_REG);
	}
	return r;
}

static void dirbuf_release(struct dirbuf *b)
{
	free(b->seen.slot);
	for (size_t i = 0; i < b->nwh; i++)
		free(b->wh[i]);
	free(b->wh);
}

/* 1 if the merged directory N has any visible entry, 0 if empty. */
static int dir_has_entries(struct pifs_view *v, struct pifs_node *n)
{
	struct pifs_dir d = { 0 };
	struct dirbuf b = { .d = &d };
	int r = list_merged(v, n, &b, 1);

	dirbuf_release(&b);
	free(d.ents);
	return r;
}

/* ---- the static top -------------------------------------------------- */

/* The static directories.  The kernel caches listings and compares the
 * directory's mtime at the start of each (fs/listings.c), so the mtime
 * moves with the listing: the root's never changes; nfsroot/ changes with
 * the registry (the time it was loaded); tftpboot/ also with each
 * worker's boot/firmware/, so it is always now. */
static int static_stat(struct pifs_fs *fs, struct pifs_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->id;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec =
		fs->start_time;
	if (n == fs->root) {
		st->st_nlink = 4;
	} else if (n->parent == fs->nfsroot) {
		/* a worker's mount point: empty, and the same for ever */
	} else {
		pifs_fs_refresh(fs);
		pthread_mutex_lock(&fs->views_lock);
		for (size_t i = 0; i < fs->nviews; i++)
			if (!fs->views[i]->gone)
				st->st_nlink++;
		if (n == fs->nfsroot)
			st->st_mtim = fs->reg_loaded;
		pthread_mutex_unlock(&fs->views_lock);
		if (n != fs->nfsroot)
			clock_gettime(CLOCK_REALTIME, &st->st_mtim);
		st->st_ctim = st->st_mtim;
	}
	st->st_blksize = 4096;
	return 0;
}

static struct pifs_view *view_by_name(struct pifs_fs *fs, const char *name)
{
	struct pifs_view *v = NULL;

	pthread_mutex_lock(&fs->views_lock);
	for (size_t i = 0; i < fs->nviews; i++)
		if (!fs->views[i]->gone && !strcmp(fs->views[i]->name, name))
			v = fs->views[i];
	pthread_mutex_unlock(&fs->views_lock);
	return v;
}

static struct pifs_view *view_by_id(struct pifs_fs *fs, uint32_t id)
{
	struct pifs_view *v = NULL;

	pthread_mutex_lock(&fs->views_lock);
	for (size_t i = 0; i < fs->nviews; i++)
		if (!fs->views[i]->gone && fs->views[i]->id == id)
			v = fs->views[i];
	pthread_mutex_unlock(&fs->views_lock);
	return v;
}

/*
 * The golden a delta (its root fd) lies over, opened once per daemon and
 * kept: goldens are immutable and `pifs golden remove` refuses one a
 * worker is on.  A golden removed and imported again is a new directory,
 * so an entry is checked against goldens/<id>/tree before it is reused.
 */
static int golden_of(struct pifs_fs *fs, int deltafd, const char *worker,
		     struct pifs_golden_ref **out)
{
	struct pifs_golden_ref *g = NULL, **ng;
	struct stat a, b;
	char id[17];
	int r, fd;

	if ((r = pifs_store_delta_golden(&fs->store, deltafd, NULL, id)) < 0) {
		pifs_err("bad %s on the delta of worker '%s': %s",
			 PIFS_XATTR_GOLDEN, worker, strerror(-r));
		return r;
	}
	fd = pifs_store_golden_open(&fs->store, id);
	if (fd < 0) {
		pifs_err("worker '%s' is on golden %s, which the store does "
			 "not have: %s", worker, id, strerror(-fd));
		return fd;
	}
	pthread_mutex_lock(&fs->links_lock);
	for (size_t i = 0; i < fs->ngoldens; i++)
		if (!strcmp(fs->goldens[i]->id, id) &&
		    fstat(fs->goldens[i]->fd, &a) == 0 && fstat(fd, &b) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			g = fs->goldens[i];
	if (!g) {
		ng = realloc(fs->goldens, (fs->ngoldens + 1) * sizeof(*ng));
		if (ng)
			fs->goldens = ng;
		g = ng ? calloc(1, sizeof(*g)) : NULL;
		if (g) {
			memcpy(g->id, id, sizeof(g->id));
			g->fd = fd;
			fd = -1;
			fs->goldens[fs->ngoldens++] = g;
		}
	}
	pthread_mutex_unlock(&fs->links_lock);
	if (fd >= 0)
		close(fd);
	if (!g)
		return -ENOMEM;
	*out = g;
	return 0;
}

/* Make a view for worker w (views_lock held). */
static int view_add(struct pifs_fs *fs, const struct pifs_worker *w)
{
	struct pifs_golden_ref *g;
	struct pifs_view *v, **nv;
	struct pifs_node *root, *mnt;
	struct stat st;
	uint64_t origin;
	uint32_t gen;
	int fd, r;

	fd = openat(fs->store.deltas_fd, w->name,
		    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		pifs_err("cannot open delta of worker '%s': %s", w->name,
			 strerror(errno));
		return r;
	}
	if ((r = upper_stat(fd, &st, &gen)) < 0 ||
	    (r = golden_of(fs, fd, w->name, &g)) < 0) {
		close(fd);
		return r;
	}
	nv = realloc(fs->views, (fs->nviews + 1) * sizeof(*nv));
	if (!nv) {
		close(fd);
		return -ENOMEM;
	}
	fs->views = nv;
	v = calloc(1, sizeof(*v));
	if (!v) {
		close(fd);
		return -ENOMEM;
	}
	v->id = w->id;
	snprintf(v->name, sizeof(v->name), "%s", w->name);
	snprintf(v->serial, sizeof(v->serial), "%s", w->serial);
	v->golden = g;
	v->lower_root = g->fd;
	v->work_fd = fs->store.work_fd;
	v->fs = fs;
	pthread_rwlock_init(&v->lock, NULL);
	pthread_mutex_init(&v->jlock, NULL);
	v->jepoch = 1;
	if (get_origin(fd, &origin))
		root = pifs_node_new(pifs_make_id(v->id, 0, origin), 0, v, S_IFDIR);
	else
		root = pifs_node_new(pifs_make_id(v->id, 1, st.st_ino), gen, v, S_IFDIR);
	if (!root || !(root->name = strdup(w->name)) ||
	    !(root->lower_path = strdup(""))) {
		if (root)
			pifs_nodes_put(&fs->nodes, root);
		close(fd);
		free(v);
		return -ENOMEM;
	}
	root->upper_fd = fd;
	mnt = pifs_node_new(PIFS_MNT_ID(v->id), 0, NULL, S_IFDIR);
	if (!mnt || !(mnt->name = strdup(w->name))) {
		if (mnt)
			pifs_nodes_put(&fs->nodes, mnt);
		pifs_nodes_put(&fs->nodes, root); /* closes fd */
		free(v);
		return -ENOMEM;
	}
	/* The root has no parent: nothing is above it in its own file
	 * system.  Its mount point is in nfsroot/. */
	pthread_mutex_lock(&fs->nodes.lock);
	fs->nfsroot->refs++;
	pthread_mutex_unlock(&fs->nodes.lock);
	mnt->parent = fs->nfsroot;
	v->root = pifs_nodes_insert(&fs->nodes, root);
	v->mnt = pifs_nodes_insert(&fs->nodes, mnt);
	fs->views[fs->nviews++] = v;
	return 0;
}

void pifs_fs_refresh(struct pifs_fs *fs)
{
	struct pifs_registry reg;
	char err[256];
	struct stat st;

	if (fstatat(fs->store.fd, "workers", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	pthread_mutex_lock(&fs->views_lock);
	if (st.st_ino == fs->reg_ino && st.st_mtim.tv_sec == fs->reg_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == fs->reg_mtime.tv_nsec)
		goto out;
	pifs_registry_init(&reg);
	if (pifs_registry_load(&reg, fs->store.fd, err, sizeof(err)) < 0) {
		pifs_err("cannot reload worker registry: %s", err);
		goto out;
	}
	int first = fs->reg_ino == 0; /* the load at start: nothing to report */

	fs->reg_ino = st.st_ino;
	fs->reg_mtime = st.st_mtim;
	clock_gettime(CLOCK_REALTIME, &fs->reg_loaded);
	for (size_t i = 0; i < fs->nviews; i++) {
		const struct pifs_worker *w =
			pifs_registry_find_id(&reg, fs->views[i]->id);

		if (!w && !fs->views[i]->gone) {
			fs->views[i]->gone = 1;
			pifs_info("worker '%s' removed", fs->views[i]->name);
		}
	}
	for (size_t i = 0; i < reg.count; i++) {
		int found = 0;

		for (size_t j = 0; j < fs->nviews; j++)
			if (fs->views[j]->id == reg.workers[i].id && !fs->views[j]->gone)
				found = 1;
		if (!found && view_add(fs, &reg.workers[i]) == 0 && !first)
			pifs_info("worker '%s' added", reg.workers[i].name);
	}
	pifs_registry_release(&reg);
out:
	pthread_mutex_unlock(&fs->views_lock);
}

int pifs_fs_registry_inval(struct pifs_fs *fs, struct pifs_inval **inv,
			   size_t *n)
{
	struct pifs_inval *a = NULL;
	size_t k = 0, want = 0;
	int r = 0, reloaded;

	*inv = NULL;
	*n = 0;
	pifs_fs_refresh(fs);
	pthread_mutex_lock(&fs->views_lock);
	reloaded = fs->reg_told.tv_sec != fs->reg_loaded.tv_sec ||
		   fs->reg_told.tv_nsec != fs->reg_loaded.tv_nsec;
	for (size_t i = 0; i < fs->nviews; i++)
		if (fs->views[i]->gone && !fs->views[i]->gone_told)
			want++;
	if (!reloaded && !want)
		goto out;
	/* nfsroot/ first: notified last, after the names in it */
	if (!(a = calloc(want + 1, sizeof(*a)))) {
		r = -ENOMEM;
		goto out;
	}
	a[k++].id = PIFS_NFSROOT_ID;
	for (size_t i = 0; i < fs->nviews; i++) {
		struct pifs_view *v = fs->views[i];

		if (!v->gone || v->gone_told)
			continue;
		if (!(a[k].name = strdup(v->name))) {
			pifs_inval_free(a, k);
			a = NULL;
			k = 0;
			r = -ENOMEM;
			goto out;
		}
		a[k].parent = PIFS_NFSROOT_ID;
		a[k++].id = v->mnt->id;
	}
	/* handed over: marked told only now, so -ENOMEM leaves it all due */
	for (size_t i = 0; i < fs->nviews; i++)
		if (fs->views[i]->gone)
			fs->views[i]->gone_told = 1;
	fs->reg_told = fs->reg_loaded;
out:
	pthread_mutex_unlock(&fs->views_lock);
	*inv = a;
	*n = k;
	return r;
}

int pifs_fs_open(struct pifs_fs *fs, const char *path, char *errbuf,
		 size_t errlen)
{
	pid_t pid = 0;
	int r;

	memset(fs, 0, sizeof(*fs));
	if ((r = pifs_store_open(&fs->store, path, errbuf, errlen)) < 0)
		return r;
	if ((r = pifs_store_lock_daemon(&fs->store, &pid)) < 0) {
		if (r == -EBUSY)
			snprintf(errbuf, errlen,
				 "store '%s' is already mounted by pid %ld", path,
				 (long)pid);
		else
			snprintf(errbuf, errlen, "cannot lock store '%s': %s",
				 path, strerror(-r));
		pifs_store_close(&fs->store);
		return r;
	}
	if ((r = pifs_store_clean_work(&fs->store)) < 0)
		pifs_warn("cannot clean work dir of '%s': %s", path, strerror(-r));
	if ((r = pifs_nodes_init(&fs->nodes)) < 0)
		goto fail;
	fs->start_time = time(NULL);
	pthread_mutex_init(&fs->links_lock, NULL);
	pthread_mutex_init(&fs->views_lock, NULL);
	pthread_mutex_init(&fs->unknown_lock, NULL);
	fs->root = pifs_node_new(PIFS_ROOT_ID, 0, NULL, S_IFDIR);
	fs->nfsroot = pifs_node_new(PIFS_NFSROOT_ID, 0, NULL, S_IFDIR);
	fs->tftproot = pifs_node_new(PIFS_TFTPROOT_ID, 0, NULL, S_IFDIR);
	if (!fs->root || !fs->nfsroot || !fs->tftproot ||
	    !(fs->nfsroot->name = strdup("nfsroot")) ||
	    !(fs->tftproot->name = strdup("tftpboot"))) {
		r = -ENOMEM;
		goto fail;
	}
	fs->root = pifs_nodes_insert(&fs->nodes, fs->root);
	fs->nfsroot->parent = fs->root;
	fs->tftproot->parent = fs->root;
	fs->root->refs += 2;
	fs->nfsroot = pifs_nodes_insert(&fs->nodes, fs->nfsroot);
	fs->tftproot = pifs_nodes_insert(&fs->nodes, fs->tftproot);
	pifs_fs_refresh(fs);
	fs->reg_told = fs->reg_loaded; /* the kernel holds nothing yet */
	return 0;
fail:
	snprintf(errbuf, errlen, "cannot start: %s", strerror(-r));
	pifs_store_close(&fs->store);
	return r;
}

void pifs_fs_close(struct pifs_fs *fs)
{
	for (size_t i = 0; i < fs->nviews; i++) {
		journal_clear(fs->views[i]);
		pthread_mutex_destroy(&fs->views[i]->jlock);
		pthread_rwlock_destroy(&fs->views[i]->lock);
		free(fs->views[i]);
	}
	free(fs->views);
	for (size_t i = 0; i < fs->ngoldens; i++) {
		struct pifs_golden_ref *g = fs->goldens[i];

		for (size_t j = 0; j < g->nlinks; j++)
			free(g->links[j].path);
		free(g->links);
		close(g->fd);
		free(g);
	}
	free(fs->goldens);
	pthread_mutex_destroy(&fs->links_lock);
	pifs_nodes_release(&fs->nodes);
	pthread_mutex_destroy(&fs->views_lock);
	pthread_mutex_destroy(&fs->unknown_lock);
	pifs_store_close(&fs->store);
}

/* ---- requests -------------------------------------------------------- */

struct pifs_node *pifs_fs_node(struct pifs_fs *fs, uint64_t id)
{
	return pifs_nodes_get(&fs->nodes, id);
}

void pifs_fs_put(struct pifs_fs *fs, struct pifs_node *n)
{
	if (n)
		pifs_nodes_put(&fs->nodes, n);
}

void pifs_fs_forget(struct pifs_fs *fs, uint64_t id, uint64_t nlookup)
{
	if (id == PIFS_ROOT_ID)
		return;
	pifs_nodes_forget(&fs->nodes, id, nlookup);
}

static void rdlock(struct pifs_view *v)
{
	pthread_rwlock_rdlock(&v->lock);
}

static void wrlock(struct pifs_view *v)
{
	pthread_rwlock_wrlock(&v->lock);
}

static void unlock(struct pifs_view *v)
{
	pthread_rwlock_unlock(&v->lock);
}

/* Reply data for a node found: count the lookup. */
static void found(struct pifs_fs *fs, struct pifs_node *n, struct pifs_node **out)
{
	pifs_nodes_lookup_inc(&fs->nodes, n);
	*out = n;
	pifs_nodes_put(&fs->nodes, n); /* the lookup count keeps it alive */
}

static void pin(struct pifs_fs *fs, struct pifs_node *n)
{
	pthread_mutex_lock(&fs->nodes.lock);
	n->refs++;
	pthread_mutex_unlock(&fs->nodes.lock);
}

static int lookup_pinned(struct pifs_fs *fs, struct pifs_node *p,
			 const char *name, struct pifs_node **out,
			 struct stat *st);

/* ---- tftpboot/ -------------------------------------------------------- */

static struct pifs_view *view_by_serial(struct pifs_fs *fs, const char *serial)
{
	struct pifs_view *v = NULL;

	pthread_mutex_lock(&fs->views_lock);
	for (size_t i = 0; i < fs->nviews; i++)
		if (!fs->views[i]->gone && !strcmp(fs->views[i]->serial, serial))
			v = fs->views[i];
	pthread_mutex_unlock(&fs->views_lock);
	return v;
}

static int is_serial(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 8;
}

/* Say once per serial that a Pi asked for a directory pifs does not have,
 * so the user can register it. */
static void log_unknown(struct pifs_fs *fs, const char *serial)
{
	unsigned i;

	pthread_mutex_lock(&fs->unknown_lock);
	for (i = 0; i < fs->nunknown; i++)
		if (!strcmp(fs->unknown[i], serial))
			break;
	if (i == fs->nunknown && i < sizeof(fs->unknown) / sizeof(*fs->unknown)) {
		memcpy(fs->unknown[fs->nunknown++], serial, 9);
		pifs_warn("boot request for unregistered serial %s: register it with "
			  "'pifs worker add NAME --serial %s'", serial, serial);
	}
	pthread_mutex_unlock(&fs->unknown_lock);
}

/* The tftpboot/ alias of REAL (pinned; the pin passes to the alias). */
static int alias_node(struct pifs_fs *fs, struct pifs_node *parent,
		      const char *name, struct pifs_node *real,
		      struct pifs_node **out, struct stat *st)
{
	struct pifs_node *n;
	int r = pifs_fs_getattr(fs, real, st);

	if (r == 0 && !S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		r = -ENOENT; /* never a symlink, device or fifo for dnsmasq */
	if (r < 0) {
		pifs_nodes_put(&fs->nodes, real);
		return r;
	}
	st->st_ino = real->id | PIFS_ID_ALIAS;
	n = pifs_nodes_get(&fs->nodes, real->id | PIFS_ID_ALIAS);
	if (n) {
		pifs_nodes_put(&fs->nodes, real);
		*out = n;
		return 0;
	}
	n = pifs_node_new(real->id | PIFS_ID_ALIAS, real->gen, real->view, real->type);
	if (!n || !(n->name = strdup(name))) {
		if (n)
			pifs_nodes_put(&fs->nodes, n);
		pifs_nodes_put(&fs->nodes, real);
		return -ENOMEM;
	}
	pin(fs, parent);
	n->parent = parent;
	n->real = real;
	*out = pifs_nodes_insert(&fs->nodes, n);
	return 0;
}

/* A worker's boot/firmware directory node, pinned. */
static int firmware_node(struct pifs_fs *fs, struct pifs_view *v,
			 struct pifs_node **out)
{
	struct pifs_node *boot, *fw;
	struct stat st;
	int r;

	if ((r = lookup_pinned(fs, v->root, "boot", &boot, &st)) < 0)
		return r;
	r = lookup_pinned(fs, boot, "firmware", &fw, &st);
	pifs_nodes_put(&fs->nodes, boot);
	if (r < 0)
		return r;
	if (!S_ISDIR(fw->type)) {
		pifs_nodes_put(&fs->nodes, fw);
		return -ENOENT;
	}
	*out = fw;
	return 0;
}

/* Files the boot ROM fetches from the TFTP root, before any serial. */
static int is_root_boot_file(const char *name)
{
	return !strcmp(name, "bootcode.bin") || !strcmp(name, "bootsig.bin");
}

static int tftp_lookup(struct pifs_fs *fs, const char *name,
		       struct pifs_node **out, struct stat *st)
{
	struct pifs_node *n, *fw;
	struct pifs_view *v;
	int r;

	if (is_root_boot_file(name)) {
		char *gp = pifs_strdupf("boot/firmware/%s", name);
		uint64_t id;

		if (!gp)
			return -ENOMEM;
		r = pifs_lstat_beneath(fs->store.golden_fd, gp, st);
		if (r == 0 && !S_ISREG(st->st_mode))
			r = -ENOENT;
		if (r < 0) {
			free(gp);
			return r;
		}
		id = pifs_make_id(0, 1, st->st_ino);
		st->st_ino = id;
		if ((n = pifs_nodes_get(&fs->nodes, id))) {
			free(gp);
			*out = n;
			return 0;
		}
		n = pifs_node_new(id, 0, NULL, S_IFREG);
		if (!n || !(n->name = strdup(name))) {
			if (n)
				pifs_nodes_put(&fs->nodes, n);
			free(gp);
			return -ENOMEM;
		}
		n->lower_path = gp;
		pin(fs, fs->tftproot);
		n->parent = fs->tftproot;
		*out = pifs_nodes_insert(&fs->nodes, n);
		return 0;
	}
	if (!is_serial(name))
		return -ENOENT;
	pifs_fs_refresh(fs);
	if (!(v = view_by_serial(fs, name))) {
		log_unknown(fs, name);
		return -ENOENT;
	}
	if ((r = firmware_node(fs, v, &fw)) < 0)
		return r;
	return alias_node(fs, fs->tftproot, name, fw, out, st);
}

/* A node reached through tftpboot/: read-only, never cached. */
static int is_tftp(const struct pifs_node *n)
{
	return n->real || (!n->view && n->lower_path);
}

static int modifiable(struct pifs_fs *fs, const struct pifs_node *n)
{
	if (is_tftp(n) || n == fs->tftproot)
		return -EROFS;
	return n->view ? 0 : -EPERM;
}

static int lookup_pinned_in(struct pifs_fs *fs, struct pifs_node *p,
			    const struct pifs_lower_dir *ld, const char *name,
			    struct pifs_node **out, struct stat *st)
{
	struct pifs_view *v = p->view;
	struct pifs_node *n;
	struct child c;
	int r;

	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		n = !strcmp(name, ".") ? p : (p->parent ? p->parent : p);
		pin(fs, n);
		r = pifs_fs_getattr(fs, n, st);
		if (r < 0) {
			pifs_nodes_put(&fs->nodes, n);
			return r;
		}
		*out = n;
		return 0;
	}
	if (p->real) {
		struct pifs_node *rn;

		if (!S_ISDIR(p->type))
			return -ENOTDIR;
		if ((r = lookup_pinned(fs, p->real, name, &rn, st)) < 0)
			return r;
		return alias_node(fs, p, name, rn, out, st);
	}
	if (!v) {
		if (p == fs->root) {
			if (!strcmp(name, "nfsroot"))
				n = fs->nfsroot;
			else if (!strcmp(name, "tftpboot"))
				n = fs->tftproot;
			else
				return -ENOENT;
			pin(fs, n);
			static_stat(fs, n, st);
			*out = n;
			return 0;
		}
		if (p == fs->tftproot)
			return tftp_lookup(fs, name, out, st);
		if (p->parent == fs->nfsroot)
			return -ESTALE; /* see pifs_fs_opendir */
		if (p != fs->nfsroot)
			return -ENOTDIR;
		pifs_fs_refresh(fs);
		v = view_by_name(fs, name);
		if (!v)
			return -ENOENT;
		/* The worker's own file system is mounted on it: nothing
		 * of the view is reached from the top. */
		n = v->mnt;
		pin(fs, n);
		static_stat(fs, n, st);
		*out = n;
		return 0;
	}
	rdlock(v);
	r = find_child_in(v, p, ld, name, &c);
	if (r == 0) {
		*st = c.st;
		r = child_node(v, p, name, &c, &n);
	}
	unlock(v);
	if (r == 0 && n->unlinked) {
		/* The cached node is stale but the entry is live: revive it
		 * under the write lock. */
		pifs_nodes_put(&fs->nodes, n);
		wrlock(v);
		r = find_child(v, p, name, &c);
		if (r == 0) {
			*st = c.st;
			r = child_node_revive(v, p, name, &c, &n, 1);
		}
		unlock(v);
	}
	if (r < 0)
		return r;
	*out = n;
	return 0;
}

static int lookup_pinned(struct pifs_fs *fs, struct pifs_node *p,
			 const char *name, struct pifs_node **out,
			 struct stat *st)
{
	return lookup_pinned_in(fs, p, NULL, name, out, st);
}

int pifs_fs_lookup(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		   struct pifs_node **out, struct stat *st)
{
	int r = lookup_pinned(fs, p, name, out, st);

	if (r == 0)
		found(fs, *out, out);
	return r;
}

void pifs_fs_lower_dir_open(struct pifs_fs *fs, struct pifs_node *dir,
			    struct pifs_lower_dir *ld)
{
	struct pifs_view *v = dir->view;

	(void)fs;
	ld->fd = -1;
	ld->root = -1;
	ld->path = NULL;
	if (!v || dir->real || !S_ISDIR(dir->type))
		return;
	rdlock(v);
	if (dir->lower_path && (ld->path = strdup(dir->lower_path))) {
		ld->root = v->lower_root;
		ld->fd = pifs_openat_beneath(ld->root, ld->path,
					     O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	}
	unlock(v);
	if (ld->fd < 0) { /* the walk per name, as without it */
		free(ld->path);
		ld->path = NULL;
		ld->fd = -1;
	}
}

void pifs_fs_lower_dir_close(struct pifs_lower_dir *ld)
{
	if (ld->fd >= 0)
		close(ld->fd);
	free(ld->path);
	ld->fd = -1;
	ld->path = NULL;
}

int pifs_fs_lookup_in(struct pifs_fs *fs, struct pifs_node *dir,
		      const struct pifs_lower_dir *ld, const char *name,
		      struct pifs_node **out, struct stat *st)
{
	int r = lookup_pinned_in(fs, dir, ld, name, out, st);

	if (r == 0)
		found(fs, *out, out);
	return r;
}

/* Depth-first search of view V for the entry with id ID (an NFS handle
 * that outlived the daemon).  On success *out is pinned.  Caller holds
 * v->lock. */
static int search_id(struct pifs_view *v, struct pifs_node *dir, uint64_t id,
		     struct pifs_node **out, unsigned depth)
{
	struct pifs_dir d = { 0 };
	struct dirbuf b = { .d = &d };
	int r;

	if (depth > 256)
		return -ENOENT;
	r = list_merged(v, dir, &b, 0);
	dirbuf_release(&b);
	for (size_t i = 0; r >= 0 && i < d.count; i++) {
		struct pifs_dirent *e = &d.ents[i];
		struct pifs_node *n;
		struct child c;

		if (e->ino != id && e->type != DT_DIR)
			continue;
		if (find_child(v, dir, e->name, &c) < 0)
			continue;
		if ((r = child_node(v, dir, e->name, &c, &n)) < 0)
			break;
		if (n->id == id) {
			*out = n;
			r = 1;
			break;
		}
		if (S_ISDIR(n->type))
			r = search_id(v, n, id, out, depth + 1);
		pifs_nodes_put(&v->fs->nodes, n);
		if (r == 1)
			break;
		r = 0;
	}
	for (size_t i = 0; i < d.count; i++)
		free(d.ents[i].name);
	free(d.ents);
	return r;
}

int pifs_fs_lookup_id(struct pifs_fs *fs, uint64_t id, struct pifs_node **out,
		      struct stat *st)
{
	struct pifs_node *n = pifs_nodes_get(&fs->nodes, id);
	struct pifs_view *v;
	int r;

	if (n) {
		r = pifs_fs_getattr(fs, n, st);
		if (r < 0) {
			pifs_nodes_put(&fs->nodes, n);
			return r;
		}
		found(fs, n, out);
		return 0;
	}
	pifs_fs_refresh(fs);
	v = view_by_id(fs, PIFS_ID_VIEW(id));
	if (!v)
		return -ESTALE;
	rdlock(v);
	r = search_id(v, v->root, id, &n, 0);
	if (r == 1)
		r = node_stat(v, n, st);
	else if (r == 0)
		r = -ESTALE;
	unlock(v);
	if (r < 0) {
		if (n && r != -ESTALE)
			pifs_nodes_put(&fs->nodes, n);
		return r;
	}
	/* a node this daemon no longer holds: the kernel forgot it, or it
	 * is from before a restart; a debug line, as an NFS server with
	 * many handles makes this common */
	pifs_debug("resolved handle %#llx in view '%s' by a search",
		   (unsigned long long)id, v->name);
	found(fs, n, out);
	return 0;
}

int pifs_fs_getattr(struct pifs_fs *fs, struct pifs_node *n, struct stat *st)
{
	int r;

	if (n->real) {
		if ((r = pifs_fs_getattr(fs, n->real, st)) == 0)
			st->st_ino = n->id;
		return r;
	}
	if (!n->view && n->lower_path) {
		if ((r = pifs_lstat_beneath(fs->store.golden_fd, n->lower_path, st)) == 0)
			st->st_ino = n->id;
		return r;
	}
	if (!n->view)
		return static_stat(fs, n, st);
	rdlock(n->view);
	r = node_stat(n->view, n, st);
	unlock(n->view);
	return r;
}

int pifs_fs_setattr(struct pifs_fs *fs, struct pifs_node *n,
		    const struct stat *a, unsigned to_set, int fd,
		    struct stat *st)
{
	struct pifs_view *v = n->view;
	char p[40];
	int r;

	if ((r = modifiable(fs, n)) < 0)
		return r;
	wrlock(v);
	r = copy_up(v, n, !((to_set & PIFS_SET_SIZE) && a->st_size == 0));
	if (r < 0)
		goto out;
	pifs_fd_path(n->upper_fd, p, sizeof(p));
	if ((to_set & PIFS_SET_MODE) && !S_ISLNK(n->type) &&
	    fchmodat(AT_FDCWD, p, a->st_mode & 07777, 0) < 0) {
		r = -errno;
		goto out;
	}
	if ((to_set & (PIFS_SET_UID | PIFS_SET_GID)) &&
	    fchownat(n->upper_fd, "", (to_set & PIFS_SET_UID) ? a->st_uid : (uid_t)-1,
		     (to_set & PIFS_SET_GID) ? a->st_gid : (gid_t)-1,
		     AT_EMPTY_PATH) < 0) {
		r = -errno;
		goto out;
	}
	if (to_set & PIFS_SET_SIZE) {
		if (!S_ISREG(n->type)) {
			r = -EINVAL;
			goto out;
		}
		r = fd >= 0 ? ftruncate(fd, a->st_size) : truncate(p, a->st_size);
		if (r < 0) {
			r = -errno;
			goto out;
		}
	}
	if (to_set & (PIFS_SET_ATIME | PIFS_SET_MTIME | PIFS_SET_ATIME_NOW |
		      PIFS_SET_MTIME_NOW)) {
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT },
					  { .tv_nsec = UTIME_OMIT } };

		if (to_set & PIFS_SET_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (to_set & PIFS_SET_ATIME)
			ts[0] = a->st_atim;
		if (to_set & PIFS_SET_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (to_set & PIFS_SET_MTIME)
			ts[1] = a->st_mtim;
		if (S_ISLNK(n->type)) {
			if (!n->parent || n->parent->upper_fd < 0)
				r = -ESTALE;
			else if (utimensat(n->parent->upper_fd, n->name, ts,
					   AT_SYMLINK_NOFOLLOW) < 0)
				r = -errno;
		} else if (utimensat(AT_FDCWD, p, ts, 0) < 0) {
			r = -errno;
		}
		if (r < 0)
			goto out;
	}
	r = node_stat(v, n, st);
out:
	jn_node(v, n, NULL, JF_DIRTY);
	unlock(v);
	return r;
}

ssize_t pifs_fs_readlink(struct pifs_fs *fs, struct pifs_node *n, char *buf,
			 size_t size)
{
	struct pifs_view *v = n->view;
	ssize_t r;
	int fd;

	if (!v || !S_ISLNK(n->type))
		return -EINVAL;
	rdlock(v);
	if (n->upper_fd >= 0)
		fd = dup(n->upper_fd);
	else if (n->lower_path)
		fd = pifs_openat_beneath(v->lower_root, n->lower_path,
					 O_PATH | O_NOFOLLOW, 0);
	else
		fd = -ESTALE;
	unlock(v);
	if (fd < 0)
		return fd == -1 ? -errno : fd;
	r = readlinkat(fd, "", buf, size - 1);
	if (r < 0)
		r = -errno;
	else
		buf[r] = '\0';
	close(fd);
	return r;
}

/* Group and owner for a new entry in P, and the setgid inheritance. */
static int new_owner(struct pifs_view *v, struct pifs_node *p,
		     const struct pifs_ctx *ctx, struct newent *ne)
{
	struct stat pst;
	int r = node_stat(v, p, &pst);

	if (r < 0)
		return r;
	ne->uid = ctx->uid;
	ne->gid = ctx->gid;
	if (pst.st_mode & S_ISGID) {
		ne->gid = pst.st_gid;
		if (S_ISDIR(ne->mode))
			ne->mode |= S_ISGID;
	}
	return 0;
}

static int create_common(struct pifs_fs *fs, struct pifs_node *p,
			 const char *name, struct newent *ne,
			 const struct pifs_ctx *ctx, struct pifs_node **out,
			 struct stat *st)
{
	struct pifs_view *v = p->view;
	struct child c;
	int r, fd;

	if ((r = modifiable(fs, p)) < 0)
		return r;
	if ((r = pifs_check_name(name)) < 0)
		return r;
	if (S_ISCHR(ne->mode) && ne->rdev == makedev(0, 0)) {
		/* That is how the delta spells a whiteout. */
		pifs_warn("refused mknod of char device 0:0 '%s' in view '%s'",
			  name, v->name);
		return -EPERM;
	}
	wrlock(v);
	r = find_child(v, p, name, &c);
	if (r == 0) {
		child_release(&c);
		r = -EEXIST;
		goto out;
	}
	if (r != -ENOENT)
		goto out;
	if (ctx && (r = new_owner(v, p, ctx, ne)) < 0)
		goto out;
	fd = place_new(v, p, name, ne);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	r = new_node(v, p, name, fd, out, st);
	if (r < 0 && ne->fd >= 0) {
		close(ne->fd);
		ne->fd = -1;
	}
out:
	jn_node(v, p, name, JF_DIRTY);
	unlock(v);
	return r;
}

int pifs_fs_mknod(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		  mode_t mode, dev_t rdev, const struct pifs_ctx *ctx,
		  struct pifs_node **out, struct stat *st)
{
	struct newent ne = { .mode = mode, .rdev = rdev, .link_fd = -1 };

	if (S_ISDIR(mode) || S_ISLNK(mode))
		return -EINVAL;
	if (S_ISREG(mode)) {
		ne.open_flags = O_WRONLY;
		int r = create_common(fs, p, name, &ne, ctx, out, st);

		if (ne.fd >= 0)
			close(ne.fd);
		return r;
	}
	return create_common(fs, p, name, &ne, ctx, out, st);
}

int pifs_fs_mkdir(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		  mode_t mode, const struct pifs_ctx *ctx,
		  struct pifs_node **out, struct stat *st)
{
	struct newent ne = { .mode = S_IFDIR | (mode & 07777), .link_fd = -1 };

	return create_common(fs, p, name, &ne, ctx, out, st);
}

int pifs_fs_symlink(struct pifs_fs *fs, struct pifs_node *p,
		    const char *name, const char *target,
		    const struct pifs_ctx *ctx, struct pifs_node **out,
		    struct stat *st)
{
	struct newent ne = { .mode = S_IFLNK | 0777, .target = target,
			     .link_fd = -1 };

	return create_common(fs, p, name, &ne, ctx, out, st);
}

int pifs_fs_create(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		   mode_t mode, int flags, const struct pifs_ctx *ctx,
		   struct pifs_node **out, struct stat *st, int *fd_out)
{
	struct newent ne = { .mode = S_IFREG | (mode & 07777), .link_fd = -1,
			     .open_flags = flags };
	int r = create_common(fs, p, name, &ne, ctx, out, st);

	*fd_out = ne.fd;
	return r;
}

int pifs_fs_link(struct pifs_fs *fs, struct pifs_node *n, struct pifs_node *p,
		 const char *name, struct pifs_node **out, struct stat *st)
{
	struct pifs_view *v = p->view;
	struct newent ne = { 0 };
	struct child c;
	int r, fd;

	if ((r = modifiable(fs, p)) < 0 || (r = modifiable(fs, n)) < 0)
		return r;
	if (n->view != v)
		return -EXDEV;
	if (S_ISDIR(n->type))
		return -EPERM;
	if ((r = pifs_check_name(name)) < 0)
		return r;
	wrlock(v);
	r = find_child(v, p, name, &c);
	if (r == 0) {
		child_release(&c);
		r = -EEXIST;
		goto out;
	}
	if (r != -ENOENT || (r = copy_up(v, n, 1)) < 0)
		goto out;
	ne.mode = n->type;
	ne.link_fd = n->upper_fd;
	fd = place_new(v, p, name, &ne);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	close(fd);
	r = upper_stat(n->upper_fd, st, NULL);
	if (r == 0) {
		st->st_ino = n->id;
		pthread_mutex_lock(&fs->nodes.lock);
		n->refs++;
		pthread_mutex_unlock(&fs->nodes.lock);
		found(fs, n, out);
	}
out:
	jn_node(v, n, NULL, JF_DIRTY);
	jn_node(v, p, name, JF_DIRTY);
	unlock(v);
	return r;
}

/* Mark the cached node (if any) that was reachable as P/NAME as gone. */
static void mark_unlinked(struct pifs_fs *fs, uint64_t id, struct pifs_node *p,
			  const char *name)
{
	struct pifs_node *n = pifs_nodes_get(&fs->nodes, id);

	if (!n)
		return;
	if (n->parent == p && n->name && !strcmp(n->name, name))
		n->unlinked = 1;
	pifs_nodes_put(&fs->nodes, n);
}

/* Remove the delta entry P/NAME (a directory with whatever whiteouts it
 * holds) by moving it to work/ and deleting it there. */
static int remove_upper(struct pifs_view *v, struct pifs_node *p,
			const char *name, int isdir)
{
	char tmp[64];

	if (!isdir)
		return unlinkat(p->upper_fd, name, 0) < 0 ? -errno : 0;
	if (unlinkat(p->upper_fd, name, AT_REMOVEDIR) == 0)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST)
		return -errno;
	work_name(tmp, sizeof(tmp));
	if (renameat(p->upper_fd, name, v->work_fd, tmp) < 0)
		return -errno;
	return pifs_remove_tree(v->work_fd, tmp);
}

/* Hide P/NAME whose delta entry (if has_upper) is replaced by a whiteout
 * atomically (RENAME_EXCHANGE for a directory). */
static int whiteout_over(struct pifs_view *v, struct pifs_node *p,
			 const char *name, int has_upper, int isdir)
{
	char tmp[64];
	int r;

	if (!has_upper)
		return make_whiteout(p->upper_fd, name);
	work_name(tmp, sizeof(tmp));
	if ((r = make_whiteout(v->work_fd, tmp)) < 0)
		return r;
	if (!isdir) {
		if (renameat(v->work_fd, tmp, p->upper_fd, name) < 0) {
			r = -errno;
			unlinkat(v->work_fd, tmp, 0);
		}
		return r;
	}
	if (renameat2(v->work_fd, tmp, p->upper_fd, name, RENAME_EXCHANGE) < 0) {
		r = -errno;
		unlinkat(v->work_fd, tmp, 0);
		return r;
	}
	return pifs_remove_tree(v->work_fd, tmp);
}

static int remove_common(struct pifs_fs *fs, struct pifs_node *p,
			 const char *name, int isdir)
{
	struct pifs_view *v = p->view;
	struct pifs_node *n = NULL;
	struct child c;
	int r, low;

	if ((r = modifiable(fs, p)) < 0)
		return r;
	wrlock(v);
	if ((r = find_child(v, p, name, &c)) < 0)
		goto out;
	if (isdir != !!S_ISDIR(c.st.st_mode)) {
		child_release(&c);
		r = isdir ? -ENOTDIR : -EISDIR;
		goto out;
	}
	uint64_t id = c.id;
	int has_upper = c.upper_fd >= 0;

	if (isdir) {
		if ((r = child_node_revive(v, p, name, &c, &n, 1)) < 0)
			goto out;
		if ((r = dir_has_entries(v, n)) != 0) {
			r = r > 0 ? -ENOTEMPTY : r;
			goto out;
		}
	} else {
		child_release(&c);
	}
	if ((low = lower_at(v, p, name)) < 0) {
		r = low;
		goto out;
	}
	if (low) {
		if ((r = copy_up(v, p, 1)) < 0)
			goto out;
		r = whiteout_over(v, p, name, has_upper, isdir);
	} else {
		r = remove_upper(v, p, name, isdir);
	}
	if (r == 0)
		mark_unlinked(fs, id, p, name);
out:
	jn_node(v, p, name, JF_DIRTY);
	if (n)
		pifs_nodes_put(&fs->nodes, n);
	unlock(v);
	return r;
}

int pifs_fs_unlink(struct pifs_fs *fs, struct pifs_node *p, const char *name)
{
	return remove_common(fs, p, name, 0);
}

int pifs_fs_rmdir(struct pifs_fs *fs, struct pifs_node *p, const char *name)
{
	return remove_common(fs, p, name, 1);
}

/*
 * Before directory N (already in the delta) moves to Q/NAME: make sure the
 * golden it merges with stays the same (a redirect to its own golden
 * path) and that no other golden directory shows through at the new
 * place (opaque).  Both are harmless where N is now.
 */
static int prepare_dir_move(struct pifs_view *v, struct pifs_node *n,
			    struct pifs_node *q, const char *name)
{
	char *natural = NULL;
	int r = 0, low;

	if (!S_ISDIR(n->type))
		return 0;
	if (n->lower_path) {
		if (q->lower_path && !(natural = join(q->lower_path, name)))
			return -ENOMEM;
		if (!natural || strcmp(natural, n->lower_path)) {
			char *red = pifs_strdupf("/%s", n->lower_path);

			if (!red)
				r = -ENOMEM;
			else
				r = pifs_lsetxattr(n->upper_fd, NULL,
						   PIFS_XATTR_REDIRECT, red,
						   strlen(red), 0);
			free(red);
		}
		free(natural);
		return r;
	}
	low = lower_at(v, q, name);
	if (low <= 0)
		return low;
	return pifs_lsetxattr(n->upper_fd, NULL, PIFS_XATTR_OPAQUE, "y", 1, 0);
}

/* Replace the delta directory of empty merged dir D (at Q/NAME) with an
 * empty opaque one, atomically, so a rename can go over it. */
static int clear_empty_dir(struct pifs_view *v, struct pifs_node *q,
			   const char *name, struct pifs_node *d)
{
	struct stat st;
	char tmp[64];
	int r;

	if ((r = pifs_fstat(d->upper_fd, &st)) < 0)
		return r;
	work_name(tmp, sizeof(tmp));
	if (mkdirat(v->work_fd, tmp, 0700) < 0)
		return -errno;
	if ((r = pifs_lsetxattr(v->work_fd, tmp, PIFS_XATTR_OPAQUE, "y", 1, 0)) < 0 ||
	    (r = pifs_set_attrs(v->work_fd, tmp, &st)) < 0)
		goto fail;
	if (renameat2(v->work_fd, tmp, q->upper_fd, name, RENAME_EXCHANGE) < 0) {
		r = -errno;
		goto fail;
	}
	return pifs_remove_tree(v->work_fd, tmp);
fail:
	pifs_remove_tree(v->work_fd, tmp);
	return r;
}

int pifs_fs_rename(struct pifs_fs *fs, struct pifs_node *p, const char *name,
		   struct pifs_node *q, const char *newname, unsigned flags)
{
	struct pifs_view *v = p->view;
	struct pifs_node *src = NULL, *dst = NULL;
	struct child c;
	int r, src_low, wh;

	if ((r = modifiable(fs, p)) < 0 || (r = modifiable(fs, q)) < 0)
		return r;
	if (q->view != v)
		return -EXDEV;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((r = pifs_check_name(newname)) < 0)
		return r;
	wrlock(v);
	if ((r = find_child(v, p, name, &c)) < 0 ||
	    (r = child_node_revive(v, p, name, &c, &src, 1)) < 0)
		goto out;
	r = find_child(v, q, newname, &c);
	if (r == 0) {
		if ((r = child_node_revive(v, q, newname, &c, &dst, 1)) < 0)
			goto out;
	} else if (r != -ENOENT) {
		goto out;
	}
	r = 0;
	if (dst && dst == src)
		goto out; /* same file: nothing to do */
	if (flags & RENAME_NOREPLACE && dst) {
		r = -EEXIST;
		goto out;
	}
	if (flags & RENAME_EXCHANGE && !dst) {
		r = -ENOENT;
		goto out;
	}
	/* Moving a directory into itself is refused by the kernel before
	 * it reaches us (it knows the whole dentry chain). */
	if (dst && !(flags & RENAME_EXCHANGE)) {
		if (S_ISDIR(src->type) && !S_ISDIR(dst->type)) {
			r = -ENOTDIR;
			goto out;
		}
		if (!S_ISDIR(src->type) && S_ISDIR(dst->type)) {
			r = -EISDIR;
			goto out;
		}
		if (S_ISDIR(dst->type) && (r = dir_has_entries(v, dst)) != 0) {
			r = r > 0 ? -ENOTEMPTY : r;
			goto out;
		}
	}
	if ((r = copy_up(v, p, 1)) < 0 || (r = copy_up(v, q, 1)) < 0 ||
	    (r = copy_up(v, src, 1)) < 0)
		goto out;
	if (flags & RENAME_EXCHANGE) {
		if ((r = copy_up(v, dst, 1)) < 0 ||
		    (r = prepare_dir_move(v, src, q, newname)) < 0 ||
		    (r = prepare_dir_move(v, dst, p, name)) < 0)
			goto out;
		if (renameat2(p->upper_fd, name, q->upper_fd, newname,
			      RENAME_EXCHANGE) < 0) {
			r = -errno;
			goto out;
		}
		if ((r = pifs_node_move(&fs->nodes, src, q, newname)) == 0)
			r = pifs_node_move(&fs->nodes, dst, p, name);
		goto out;
	}
	if ((src_low = lower_at(v, p, name)) < 0) {
		r = src_low;
		goto out;
	}
	if ((r = prepare_dir_move(v, src, q, newname)) < 0)
		goto out;
	if (dst && S_ISDIR(dst->type) && dst->upper_fd >= 0 &&
	    (r = clear_empty_dir(v, q, newname, dst)) < 0)
		goto out;
	wh = dst ? 0 : upper_whiteout(q, newname);
	if (wh < 0) {
		r = wh;
		goto out;
	}
	if (wh && S_ISDIR(src->type)) {
		/* A directory cannot replace the whiteout (a char device):
		 * swap them, then drop the whiteout unless the source
		 * position needs one. */
		if (renameat2(p->upper_fd, name, q->upper_fd, newname,
			      RENAME_EXCHANGE) < 0) {
			r = -errno;
			goto out;
		}
		if (!src_low && unlinkat(p->upper_fd, name, 0) < 0)
			pifs_warn("cannot drop whiteout '%s': %s", name,
				  strerror(errno));
	} else if (renameat2(p->upper_fd, name, q->upper_fd, newname,
			     src_low ? RENAME_WHITEOUT : 0) < 0) {
		r = -errno;
		goto out;
	}
	if (dst)
		dst->unlinked = 1;
	r = pifs_node_move(&fs->nodes, src, q, newname);
out:
	/* A directory that arrived by a rename brings paths the journal
	 * never saw: all of it is read again (JF_FULL). */
	jn_node(v, p, name,
		JF_DIRTY | ((flags & RENAME_EXCHANGE) && dst &&
				    S_ISDIR(dst->type)
				? JF_FULL
				: 0));
	jn_node(v, q, newname,
		JF_DIRTY | (src && S_ISDIR(src->type) ? JF_FULL : 0));
	if (src)
		pifs_nodes_put(&fs->nodes, src);
	if (dst)
		pifs_nodes_put(&fs->nodes, dst);
	unlock(v);
	return r;
}

/* A generated file opened for reading: its content in a sealed memfd. */
static int gen_open(struct pifs_view *v, struct pifs_node *n)
{
	char *buf;
	size_t len;
	int fd, r;

	if ((r = gen_build(v, n->gen_kind, n->lower_path, &buf, &len)) < 0)
		return r;
	fd = memfd_create("pifs-generated", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		r = -errno;
	} else if ((r = pifs_write_all(fd, buf, len)) < 0 ||
		   fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) < 0) {
		r = r < 0 ? r : -errno;
		close(fd);
	}
	free(buf);
	return r < 0 ? r : fd;
}

int pifs_fs_open_file(struct pifs_fs *fs, struct pifs_node *n, int flags,
		      int *fd_out, int *golden_out)
{
	struct pifs_view *v = n->view;
	int write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	int r, fd;

	*golden_out = 0;
	if (is_tftp(n)) {
		/* tftpboot/ serves; it is never written through. */
		if (write)
			return -EROFS;
		*golden_out = 1;
		if (n->real)
			return pifs_fs_open_file(fs, n->real, flags, fd_out, &r);
		fd = pifs_openat_beneath(fs->store.golden_fd, n->lower_path,
					 O_RDONLY | O_NOFOLLOW, 0);
		if (fd < 0)
			return fd;
		*fd_out = fd;
		return 0;
	}
	if (!v)
		return -EISDIR;
	if (!S_ISREG(n->type))
		return S_ISDIR(n->type) ? -EISDIR : -EINVAL;
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW);
	if (write) {
		wrlock(v);
		r = copy_up(v, n, !(flags & O_TRUNC));
	} else {
		rdlock(v);
		r = 0;
	}
	if (r < 0)
		goto out;
	if (n->upper_fd >= 0) {
		fd = pifs_reopen(n->upper_fd, flags);
	} else if (n->gen_kind && !n->unlinked) {
		fd = gen_open(v, n);
		*golden_out = 1; /* not cached by the kernel: it may change */
	} else if (n->lower_path) {
		fd = pifs_openat_beneath(v->lower_root, n->lower_path,
					 O_RDONLY | (flags & O_DIRECT) | O_NOFOLLOW, 0);
		*golden_out = 1;
	} else {
		fd = -ESTALE;
	}
	r = fd < 0 ? fd : 0;
	if (r == 0)
		*fd_out = fd;
out:
	if (write)
		jn_node(v, n, NULL, JF_DIRTY); /* O_TRUNC, a copy-up */
	unlock(v);
	return r;
}

/* A file opened while it showed the golden (or a generated file) and
 * copied up since: an fd on its delta copy, so whoever holds the old open
 * (an NFS server keeps one fd per file for all its clients) reads what
 * every later opener reads, as on any one file system.  -EAGAIN while it
 * has no delta copy. */
int pifs_fs_reopen_copied(struct pifs_fs *fs, struct pifs_node *n, int *fd_out)
{
	struct pifs_view *v;
	int fd = -EAGAIN;

	(void)fs;
	if (n->real)
		n = n->real;
	v = n->view;
	if (!v || __atomic_load_n(&n->upper_fd, __ATOMIC_RELAXED) < 0)
		return -EAGAIN;
	rdlock(v);
	if (n->upper_fd >= 0)
		fd = pifs_reopen(n->upper_fd, O_RDONLY);
	unlock(v);
	if (fd < 0)
		return fd;
	*fd_out = fd;
	return 0;
}

/* tftpboot/: the root boot files the golden has, and a directory per
 * registered serial whose worker has a boot/firmware directory. */
static int tftp_list(struct pifs_fs *fs, struct dirbuf *b)
{
	static const char *const files[] = { "bootcode.bin", "bootsig.bin" };
	struct pifs_view **vs = NULL;
	size_t nv = 0;
	int r = 0;

	for (size_t i = 0; r == 0 && i < 2; i++) {
		char gp[64];
		struct stat st;

		snprintf(gp, sizeof(gp), "boot/firmware/%s", files[i]);
		if (pifs_lstat_beneath(fs->store.golden_fd, gp, &st) == 0 &&
		    S_ISREG(st.st_mode))
			r = dir_add(b, files[i], pifs_make_id(0, 1, st.st_ino), DT_REG);
	}
	pifs_fs_refresh(fs);
	pthread_mutex_lock(&fs->views_lock);
	vs = calloc(fs->nviews ? fs->nviews : 1, sizeof(*vs));
	for (size_t i = 0; vs && i < fs->nviews; i++)
		if (!fs->views[i]->gone)
			vs[nv++] = fs->views[i];
	pthread_mutex_unlock(&fs->views_lock);
	if (!vs)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < nv; i++) {
		struct pifs_node *fw;

		if (firmware_node(fs, vs[i], &fw) < 0)
			continue;
		r = dir_add(b, vs[i]->serial, fw->id | PIFS_ID_ALIAS, DT_DIR);
		pifs_nodes_put(&fs->nodes, fw);
	}
	free(vs);
	return r;
}

/* A tftpboot/ alias directory: its real directory's regular files and
 * subdirectories, nothing else. */
static int alias_list(struct pifs_fs *fs, struct pifs_node *n, struct dirbuf *b)
{
	struct pifs_dir *rd;
	int r;

	if (!S_ISDIR(n->type))
		return -ENOTDIR;
	if ((r = pifs_fs_opendir(fs, n->real, &rd)) < 0)
		return r;
	for (size_t i = 2; r == 0 && i < rd->count; i++) {
		struct pifs_dirent *e = &rd->ents[i];

		if (e->type == DT_REG || e->type == DT_DIR)
			r = dir_add(b, e->name, e->ino | PIFS_ID_ALIAS, e->type);
	}
	pifs_dir_free(rd);
	return r;
}

int pifs_fs_opendir(struct pifs_fs *fs, struct pifs_node *n,
		    struct pifs_dir **out)
{
	struct pifs_dir *d = calloc(1, sizeof(*d));
	struct dirbuf b = { .d = d };
	struct pifs_node *up = n->parent ? n->parent : n;
	int r;

	if (!d)
		return -ENOMEM;
	if ((r = dir_add(&b, ".", n->id, DT_DIR)) < 0 ||
	    (r = dir_add(&b, "..", up->id, DT_DIR)) < 0)
		goto fail;
	if (n->real) {
		r = alias_list(fs, n, &b);
	} else if (!n->view) {
		if (n == fs->root) {
			if ((r = dir_add(&b, "nfsroot", PIFS_NFSROOT_ID, DT_DIR)) == 0)
				r = dir_add(&b, "tftpboot", PIFS_TFTPROOT_ID, DT_DIR);
		} else if (n == fs->tftproot) {
			r = tftp_list(fs, &b);
		} else if (n->parent == fs->nfsroot) {
			/* A worker's mount point, its file system not (yet,
			 * or any more) mounted on it: an NFS export of the
			 * path must not serve it as an empty root, so
			 * listing it, like a lookup in it, is ESTALE. */
			r = -ESTALE;
		} else if (n == fs->nfsroot) {
			pifs_fs_refresh(fs);
			pthread_mutex_lock(&fs->views_lock);
			for (size_t i = 0; r == 0 && i < fs->nviews; i++)
				if (!fs->views[i]->gone)
					r = dir_add(&b, fs->views[i]->name,
						    fs->views[i]->mnt->id, DT_DIR);
			pthread_mutex_unlock(&fs->views_lock);
		}
	} else {
		rdlock(n->view);
		r = S_ISDIR(n->type) ? list_merged(n->view, n, &b, 0) : -ENOTDIR;
		unlock(n->view);
	}
	if (r < 0)
		goto fail;
	dirbuf_release(&b);
	*out = d;
	return 0;
fail:
	dirbuf_release(&b);
	pifs_dir_free(d);
	return r;
}

/* An fd to run xattr calls on: the delta entry, or the golden one;
 * -ENODATA for a generated file the golden does not have. */
static int xattr_fd(struct pifs_view *v, struct pifs_node *n)
{
	if (n->upper_fd < 0 && !n->lower_path && n->gen_kind && !n->unlinked)
		return -ENODATA;
	if (n->upper_fd >= 0) {
		int fd = fcntl(n->upper_fd, F_DUPFD_CLOEXEC, 0);

		return fd < 0 ? -errno : fd;
	}
	if (n->lower_path)
		return pifs_openat_beneath(v->lower_root, n->lower_path,
					   O_PATH | O_NOFOLLOW, 0);
	return -ESTALE;
}

ssize_t pifs_fs_getxattr(struct pifs_fs *fs, struct pifs_node *n,
			 const char *name, void *buf, size_t size)
{
	ssize_t r;
	int fd;

	if (n->real)
		n = n->real;
	if (!n->view)
		return -ENODATA;
	if (pifs_xattr_private(name))
		return -ENODATA;
	rdlock(n->view);
	fd = xattr_fd(n->view, n);
	unlock(n->view);
	if (fd < 0)
		return fd;
	r = pifs_lgetxattr(fd, NULL, name, buf, size);
	close(fd);
	return r;
}

ssize_t pifs_fs_listxattr(struct pifs_fs *fs, struct pifs_node *n, char *buf,
			  size_t size)
{
	char *raw = NULL;
	ssize_t len, out = 0;
	int fd;

	if (n->real)
		n = n->real;
	if (!n->view)
		return 0;
	rdlock(n->view);
	fd = xattr_fd(n->view, n);
	unlock(n->view);
	if (fd == -ENODATA)
		return 0;
	if (fd < 0)
		return fd;
	for (int tries = 0; tries < 4; tries++) {
		len = pifs_llistxattr(fd, NULL, NULL, 0);
		if (len <= 0)
			break;
		free(raw);
		raw = malloc((size_t)len);
		if (!raw) {
			len = -ENOMEM;
			break;
		}
		len = pifs_llistxattr(fd, NULL, raw, (size_t)len);
		if (len != -ERANGE)
			break;
	}
	close(fd);
	if (len < 0) {
		free(raw);
		return len;
	}
	for (ssize_t i = 0; i < len;) {
		size_t l = strlen(raw + i) + 1;

		if (!pifs_xattr_private(raw + i)) {
			if (size) {
				if ((size_t)out + l > size) {
					free(raw);
					return -ERANGE;
				}
				memcpy(buf + out, raw + i, l);
			}
			out += (ssize_t)l;
		}
		i += (ssize_t)l;
	}
	free(raw);
	return out;
}

int pifs_fs_setxattr(struct pifs_fs *fs, struct pifs_node *n, const char *name,
		     const void *val, size_t size, int flags)
{
	int r;

	if ((r = modifiable(fs, n)) < 0)
		return r;
	if (pifs_xattr_private(name))
		return -EPERM;
	wrlock(n->view);
	r = copy_up(n->view, n, 1);
	if (r == 0)
		r = pifs_lsetxattr(n->upper_fd, NULL, name, val, size, flags);
	jn_node(n->view, n, NULL, JF_DIRTY);
	unlock(n->view);
	return r;
}

int pifs_fs_removexattr(struct pifs_fs *fs, struct pifs_node *n,
			const char *name)
{
	int r;

	if ((r = modifiable(fs, n)) < 0)
		return r;
	if (pifs_xattr_private(name))
		return -EPERM;
	wrlock(n->view);
	r = copy_up(n->view, n, 1);
	if (r == 0)
		r = pifs_lremovexattr(n->upper_fd, NULL, name);
	jn_node(n->view, n, NULL, JF_DIRTY);
	unlock(n->view);
	return r;
}

int pifs_fs_statfs(struct pifs_fs *fs, struct pifs_node *n, struct statvfs *sv)
{
	char p[40];

	if (statvfs(pifs_fd_path(fs->store.deltas_fd, p, sizeof(p)), sv) < 0)
		return -errno;
	return 0;
}

/* ---- pause and swap (the control socket) ------------------------------ */

int pifs_fs_reload(struct pifs_fs *fs)
{
	struct pifs_store_conf old;
	int r;

	pifs_fs_refresh(fs);
	pthread_mutex_lock(&fs->views_lock);
	old = fs->store.conf;
	r = pifs_store_conf_reload(&fs->store);
	if (r == 0 && strcmp(old.master, fs->store.conf.master))
		pifs_info("master address now %s", fs->store.conf.master);
	if (r == 0 && strcmp(old.golden, fs->store.conf.golden)) {
		/* Views follow their deltas' goldens; only the files served
		 * at the tftpboot/ root (bootcode.bin for Pis not registered
		 * yet) come from the default, opened at mount. */
		pifs_info("default golden now %s; the tftpboot/ root files "
			  "follow at the next mount", fs->store.conf.golden);
		memcpy(fs->store.conf.golden, old.golden, sizeof(old.golden));
	}
	pthread_mutex_unlock(&fs->views_lock);
	return r;
}

struct pifs_view *pifs_fs_view(struct pifs_fs *fs, const char *worker)
{
	pifs_fs_refresh(fs);
	return view_by_name(fs, worker);
}

void pifs_view_pause(struct pifs_view *v)
{
	wrlock(v);
}

void pifs_view_resume(struct pifs_view *v)
{
	unlock(v);
}

void pifs_view_write_begin(struct pifs_view *v)
{
	if (v)
		rdlock(v);
}

void pifs_view_write_end(struct pifs_view *v)
{
	if (v)
		unlock(v);
}

void pifs_inval_free(struct pifs_inval *inv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(inv[i].name);
	free(inv);
}

static size_t node_depth(const struct pifs_node *n)
{
	size_t d = 0;

	while ((n = n->parent))
		d++;
	return d;
}

static int depth_cmp(const void *a, const void *b)
{
	size_t x = node_depth(*(struct pifs_node *const *)a);
	size_t y = node_depth(*(struct pifs_node *const *)b);

	return x < y ? -1 : x > y;
}

/* Bring a cached node in line with the (new) delta; caller holds
 * v->lock for writing and has refreshed N's parent already. */
static void refresh_node(struct pifs_view *v, struct pifs_node *n)
{
	struct pifs_node *p = n->parent;
	struct child c;

	if (p && p->view == v && !p->unlinked && S_ISDIR(p->type) &&
	    find_child(v, p, n->name, &c) == 0) {
		if (c.id == n->id) {
			if (n->upper_fd >= 0)
				close(n->upper_fd);
			free(n->lower_path);
			n->upper_fd = c.upper_fd;
			n->lower_path = c.lower_path;
			n->type = c.st.st_mode & S_IFMT;
			n->unlinked = 0;
			return;
		}
		child_release(&c);
	}
	/* Its name is gone.  Like an unlinked file that is still open, it
	 * keeps its old inode (the fd into the old delta, or its golden
	 * path) for whoever holds it open; it is never copied up again and
	 * a lookup of the name finds the new entry. */
	n->unlinked = 1;
}

int pifs_fs_view_swap(struct pifs_fs *fs, struct pifs_view *v,
		      const char *tmpname, int locked, struct pifs_inval **inv,
		      size_t *ninv)
{
	struct pifs_node **list = NULL;
	struct pifs_inval *out = NULL;
	size_t count = 0, i;
	int r, rootfd;

	*inv = NULL;
	*ninv = 0;
	if ((r = pifs_check_name(tmpname)) < 0)
		return r;
	if (!locked)
		wrlock(v);
	/* Whatever happens below, the delta is not what the journal
	 * describes any more. */
	pthread_mutex_lock(&v->jlock);
	journal_drop(v);
	pthread_mutex_unlock(&v->jlock);
	if ((r = pifs_store_delta_swap(&fs->store, v->name, tmpname)) < 0)
		goto out;
	rootfd = openat(fs->store.deltas_fd, v->name,
			O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0) {
		r = -errno;
		pifs_err("cannot open the new delta of '%s': %s", v->name,
			 strerror(errno));
		goto out;
	}
	/* A snapshot on another golden, or a rebase: the view's lower layer
	 * changes with the delta (under the view lock, like everything the
	 * nodes are re-resolved against below). */
	{
		struct pifs_golden_ref *g;

		if (golden_of(fs, rootfd, v->name, &g) == 0 && g != v->golden) {
			pifs_info("worker '%s' now on golden %s", v->name, g->id);
			v->golden = g;
			v->lower_root = g->fd;
		}
	}
	/* Pin every node of the view, then refresh parents before children. */
	pthread_mutex_lock(&fs->nodes.lock);
	for (i = 0; i < fs->nodes.nbuckets; i++)
		for (struct pifs_node *n = fs->nodes.buckets[i]; n; n = n->hnext)
			if (n->view == v)
				count++;
	list = calloc(count ? count : 1, sizeof(*list));
	out = calloc(count ? count : 1, sizeof(*out));
	if (!list || !out) {
		pthread_mutex_unlock(&fs->nodes.lock);
		close(rootfd);
		r = -ENOMEM;
		goto out;
	}
	count = 0;
	for (i = 0; i < fs->nodes.nbuckets; i++)
		for (struct pifs_node *n = fs->nodes.buckets[i]; n; n = n->hnext)
			if (n->view == v) {
				n->refs++;
				list[count++] = n;
			}
	pthread_mutex_unlock(&fs->nodes.lock);
	qsort(list, count, sizeof(*list), depth_cmp);
	for (i = 0; i < count; i++) {
		struct pifs_node *n = list[i];

		out[i].id = n->id;
		out[i].parent = n == v->root ? 0 : (n->parent ? n->parent->id : 0);
		out[i].name = n->name ? strdup(n->name) : NULL;
		if (n == v->root) {
			close(n->upper_fd);
			n->upper_fd = rootfd;
			continue;
		}
		if (!n->real) /* aliases show their real node */
			refresh_node(v, n);
	}
	*inv = out;
	*ninv = count;
	out = NULL;
	pifs_info("worker '%s' reset: %zu cached nodes re-resolved", v->name, count);
out:
	if (!locked)
		unlock(v);
	for (i = 0; list && i < count; i++)
		pifs_nodes_put(&fs->nodes, list[i]);
	free(list);
	free(out);
	return r;
}
