/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fsck.c - checking the repository (every branch's history, each commit's
 * META, trees and blobs read back once; the packs byte by byte in
 * verify_pack.c), the workers' deltas and their bases, and leftovers in
 * work/; one line per problem.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "registry.h"
#include "store.h"

struct oidset {
	git_oid *v;
	size_t cap, n; /* cap is a power of two; zero oid = free */
};

static size_t oid_hash(const git_oid *o)
{
	size_t h;

	memcpy(&h, o->id, sizeof(h));
	return h;
}

/* 1 if added, 0 if present, -ENOMEM. */
static int oidset_add(struct oidset *s, const git_oid *o)
{
	size_t i, j;

	if (s->n * 2 >= s->cap) {
		struct oidset n = {.cap = s->cap ? s->cap * 2 : 1024};

		n.v = calloc(n.cap, sizeof(*n.v));
		if (!n.v)
			return -ENOMEM;
		for (i = 0; i < s->cap; i++) {
			if (git_oid_is_zero(&s->v[i]))
				continue;
			for (j = oid_hash(&s->v[i]) & (n.cap - 1);
			     !git_oid_is_zero(&n.v[j]); j = (j + 1) & (n.cap - 1))
				;
			n.v[j] = s->v[i];
			n.n++;
		}
		free(s->v);
		*s = n;
	}
	for (i = oid_hash(o) & (s->cap - 1); !git_oid_is_zero(&s->v[i]);
	     i = (i + 1) & (s->cap - 1))
		if (git_oid_equal(&s->v[i], o))
			return 0;
	s->v[i] = *o;
	s->n++;
	return 1;
}

struct fsck {
	struct pifs_git *g;
	FILE *out;
	int problems;
	struct oidset seen;
	const char *worker;
	char commit[41];
};

static void problem(struct fsck *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(f->out, fmt, ap);
	va_end(ap);
	fputc('\n', f->out);
	f->problems++;
}

static const char *gmsg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown error";
}

/* Read (and so hash-verify) an object once. */
static int fsck_read(struct fsck *f, const git_oid *oid, git_object_t want,
		     const char *what)
{
	git_odb_object *o;
	char hex[41];
	int ret;

	ret = oidset_add(&f->seen, oid);
	if (ret <= 0)
		return ret;
	git_oid_tostr(hex, sizeof(hex), oid);
	ret = git_odb_read(&o, f->g->odb, oid);
	if (ret < 0) {
		problem(f, "snapshot %.7s of %s: cannot read %s (object %s): %s",
			f->commit, f->worker, what, hex, gmsg());
		return 0;
	}
	if (git_odb_object_type(o) != want)
		problem(f, "snapshot %.7s of %s: %s (object %s) is a %s, not "
			   "a %s",
			f->commit, f->worker, what, hex,
			git_object_type2string(git_odb_object_type(o)),
			git_object_type2string(want));
	git_odb_object_free(o);
	return 0;
}

struct fsck_walk {
	struct fsck *f;
	struct pifs_meta *m;
	unsigned char *found; /* per META entry */
};

/* A sparse file's blob holds exactly the data its map in META names. */
static void fsck_sparse(struct fsck *f, const git_oid *oid,
			const struct pifs_meta_entry *e, const char *what)
{
	git_object_t type;
	size_t len;

	if (git_odb_read_header(&len, &type, f->g->odb, oid) < 0)
		return; /* fsck_read says so */
	if ((uint64_t)len != pifs_meta_sparse_data(e))
		problem(f,
			"snapshot %.7s of %s: %s holds %zu bytes but its "
			"sparse map in META names %" PRIu64,
			f->commit, f->worker, what, len,
			pifs_meta_sparse_data(e));
}

static int fsck_blob(const char *path, const git_oid *oid,
		     git_filemode_t mode, void *arg)
{
	struct fsck_walk *w = arg;
	const struct pifs_meta_entry *e = pifs_meta_find(w->m, path);
	char what[PATH_MAX + 16];

	snprintf(what, sizeof(what), "'delta/%s'", path);
	if (!e) {
		problem(w->f, "snapshot %.7s of %s: %s is not in META",
			w->f->commit, w->f->worker, what);
	} else if (!((e->type == 'f' && (mode == GIT_FILEMODE_BLOB ||
					 mode == GIT_FILEMODE_BLOB_EXECUTABLE)) ||
		     (e->type == 'l' && mode == GIT_FILEMODE_LINK))) {
		problem(w->f,
			"snapshot %.7s of %s: %s has git mode %o but META "
			"type %c",
			w->f->commit, w->f->worker, what, (unsigned)mode,
			e->type);
	} else {
		w->found[e - w->m->entries] = 1;
		if (e->sparse)
			fsck_sparse(w->f, oid, e, what);
	}
	return fsck_read(w->f, oid, GIT_OBJECT_BLOB, what);
}

/* Trees of delta/ must all read back; pifs_git_walk_tree reads them. */
static int fsck_trees(struct fsck *f, const git_oid *oid, const char *path)
{
	git_tree *t;
	size_t i;
	int ret;

	ret = fsck_read(f, oid, GIT_OBJECT_TREE, path);
	if (ret < 0)
		return ret;
	if (git_tree_lookup(&t, f->g->repo, oid) < 0)
		return 1;
	for (i = 0; i < git_tree_entrycount(t); i++) {
		const git_tree_entry *te = git_tree_entry_byindex(t, i);
		char *sub;

		if (git_tree_entry_type(te) != GIT_OBJECT_TREE)
			continue;
		sub = pifs_strdupf("%s/%s", path, git_tree_entry_name(te));
		if (!sub) {
			git_tree_free(t);
			return -ENOMEM;
		}
		ret = fsck_trees(f, git_tree_entry_id(te), sub);
		free(sub);
		if (ret != 0) {
			git_tree_free(t);
			return ret;
		}
	}
	git_tree_free(t);
	return 0;
}

static int fsck_commit(struct fsck *f, const git_oid *oid)
{
	const git_tree_entry *meta_te, *delta_te;
	struct fsck_walk w = {.f = f};
	struct pifs_meta m;
	git_commit *c = NULL;
	git_tree *root = NULL, *delta = NULL;
	git_blob *blob = NULL;
	char err[256];
	size_t i;
	int ret;

	git_oid_tostr(f->commit, sizeof(f->commit), oid);
	pifs_meta_init(&m);
	if ((ret = fsck_read(f, oid, GIT_OBJECT_COMMIT, "the commit")) < 0)
		return ret;
	if (git_commit_lookup(&c, f->g->repo, oid) < 0)
		return 0; /* reported by fsck_read */
	if ((ret = fsck_read(f, git_commit_tree_id(c), GIT_OBJECT_TREE,
			     "the root tree")) < 0)
		goto out;
	if (git_tree_lookup(&root, f->g->repo, git_commit_tree_id(c)) < 0)
		goto out;
	meta_te = git_tree_entry_byname(root, "META");
	delta_te = git_tree_entry_byname(root, "delta");
	if (!meta_te || git_tree_entry_type(meta_te) != GIT_OBJECT_BLOB) {
		problem(f, "snapshot %.7s of %s: no META", f->commit,
			f->worker);
		goto out;
	}
	if (!delta_te || git_tree_entry_type(delta_te) != GIT_OBJECT_TREE) {
		problem(f, "snapshot %.7s of %s: no delta/ tree", f->commit,
			f->worker);
		goto out;
	}
	/* META is re-read for every commit: its parse is the check */
	if (git_blob_lookup(&blob, f->g->repo, git_tree_entry_id(meta_te)) <
	    0) {
		problem(f, "snapshot %.7s of %s: cannot read META: %s",
			f->commit, f->worker, gmsg());
		goto out;
	}
	oidset_add(&f->seen, git_tree_entry_id(meta_te));
	if (pifs_meta_parse(&m, git_blob_rawcontent(blob),
			    (size_t)git_blob_rawsize(blob), err,
			    sizeof(err)) < 0) {
		problem(f, "snapshot %.7s of %s: META does not parse: %s",
			f->commit, f->worker, err);
		goto out;
	}
	{
		/* reset --to it needs its golden */
		int gfd = pifs_store_golden_open(f->g->st, m.golden);

		if (gfd < 0)
			problem(f, "snapshot %.7s of %s: it is on golden %s, "
				   "which the store does not have",
				f->commit, f->worker, m.golden);
		else
			close(gfd);
	}
	ret = fsck_trees(f, git_tree_entry_id(delta_te), "delta");
	if (ret < 0)
		goto out;
	ret = 0;
	if (git_tree_lookup(&delta, f->g->repo, git_tree_entry_id(delta_te)) <
	    0)
		goto out;
	w.m = &m;
	w.found = calloc(m.count ? m.count : 1, 1);
	if (!w.found) {
		ret = -ENOMEM;
		goto out;
	}
	err[0] = '\0';
	if (pifs_git_walk_tree(f->g, delta, "", fsck_blob, &w, err,
			       sizeof(err)) < 0 &&
	    err[0])
		problem(f, "snapshot %.7s of %s: %s", f->commit, f->worker,
			err);
	for (i = 0; i < m.count; i++)
		if ((m.entries[i].type == 'f' || m.entries[i].type == 'l') &&
		    !w.found[i])
			problem(f,
				"snapshot %.7s of %s: no blob for '%s' in "
				"delta/",
				f->commit, f->worker, m.entries[i].path);
	free(w.found);
out:
	pifs_meta_release(&m);
	git_blob_free(blob);
	git_tree_free(delta);
	git_tree_free(root);
	git_commit_free(c);
	return ret;
}

/* Walk the history of one worker branch; *history gets every commit. */
static int fsck_branch(struct fsck *f, const char *refname,
		       struct oidset *history)
{
	git_reference *ref = NULL;
	git_revwalk *walk = NULL;
	git_oid oid;
	char hex[41];
	int ret;

	ret = git_reference_lookup(&ref, f->g->repo, refname);
	if (ret < 0) {
		problem(f, "ref '%s' cannot be read: %s", refname, gmsg());
		return 0;
	}
	if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
		problem(f, "ref '%s' is not a direct reference", refname);
		goto out;
	}
	oid = *git_reference_target(ref);
	git_oid_tostr(hex, sizeof(hex), &oid);
	if (!git_odb_exists(f->g->odb, &oid)) {
		problem(f, "ref '%s' points to missing commit %s", refname,
			hex);
		goto out;
	}
	if ((ret = git_revwalk_new(&walk, f->g->repo)) < 0 ||
	    (ret = git_revwalk_push(walk, &oid)) < 0) {
		problem(f, "ref '%s' (%s) is not a readable commit: %s",
			refname, hex, gmsg());
		ret = 0;
		goto out;
	}
	while ((ret = git_revwalk_next(&oid, walk)) == 0) {
		if ((ret = oidset_add(history, &oid)) < 0)
			goto out;
		if ((ret = fsck_commit(f, &oid)) < 0)
			goto out;
	}
	if (ret != GIT_ITEROVER)
		problem(f, "history of '%s' cannot be walked: %s", refname,
			gmsg());
	ret = 0;
out:
	git_revwalk_free(walk);
	git_reference_free(ref);
	return ret;
}

int pifs_git_fsck(struct pifs_store *st, const struct pifs_registry *reg,
		  FILE *out)
{
	struct fsck f = {.out = out};
	git_reference_iterator *it = NULL;
	struct oidset *hist = NULL;
	const char *refname;
	char err[512], base[41];
	struct dirent *de;
	struct stat sb;
	size_t i;
	DIR *dir;
	int ret, fd;

	ret = pifs_git_open(&f.g, st, 0, err, sizeof(err));
	if (ret < 0 && ret != -ENOENT) {
		problem(&f, "%s", err);
		f.g = NULL;
	}
	hist = calloc(reg->count ? reg->count : 1, sizeof(*hist));
	if (!hist) {
		ret = -ENOMEM;
		goto out;
	}
	if (f.g) {
		ret = pifs_git_verify_packs(st, out);
		if (ret < 0)
			goto out;
		f.problems += ret;
		ret = git_reference_iterator_glob_new(&it, f.g->repo,
						      REF_PREFIX "*");
		if (ret < 0) {
			problem(&f, "cannot list the branches: %s", gmsg());
		} else {
			while (git_reference_next_name(&refname, it) == 0) {
				const char *w = refname + strlen(REF_PREFIX);
				struct oidset tmp = {0}, *h = &tmp;

				for (i = 0; i < reg->count; i++)
					if (!strcmp(reg->workers[i].name, w))
						h = &hist[i];
				if (h == &tmp)
					fprintf(out,
						"note: branch '%s' belongs to "
						"no registered worker\n",
						refname);
				f.worker = w;
				ret = fsck_branch(&f, refname, h);
				free(tmp.v);
				if (ret < 0)
					goto out;
			}
		}
	}
	for (i = 0; i < reg->count; i++) {
		const char *w = reg->workers[i].name;

		if (fstatat(st->deltas_fd, w, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(sb.st_mode)) {
			problem(&f, "worker %s has no delta '%s/deltas/%s'", w,
				st->path, w);
			continue;
		}
		ret = pifs_git_base_get(st, w, base);
		if (ret == -ENODATA)
			continue;
		if (ret < 0) {
			problem(&f, "worker %s: bad " PIFS_XATTR_BASE
				    " on its delta: %s",
				w, strerror(-ret));
			continue;
		}
		{
			git_oid o;

			git_oid_fromstr(&o, base);
			if (!hist[i].n || oidset_add(&hist[i], &o) == 1)
				problem(&f,
					"worker %s: its delta's base %.7s is "
					"not a snapshot of %s",
					w, base, w);
		}
	}
	fd = openat(st->work_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (dir) {
		while ((de = readdir(dir)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				fprintf(out,
					"note: leftover '%s/work/%s' from an "
					"interrupted operation (removed at the "
					"next mount or reset)\n",
					st->path, de->d_name);
		closedir(dir);
	} else if (fd >= 0) {
		close(fd);
	}
	ret = f.problems;
out:
	git_reference_iterator_free(it);
	if (hist)
		for (i = 0; i < reg->count; i++)
			free(hist[i].v);
	free(hist);
	free(f.seen.v);
	pifs_git_free(f.g);
	return ret;
}
