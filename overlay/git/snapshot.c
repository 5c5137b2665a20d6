/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snapshot.c - a snapshot in two steps (gitstore.h): prepare scans the
 * delta and stages every object in memory; finish counts the changes,
 * makes the commit, has the pack written, then moves the branch with a
 * compare-and-swap, records the base on the delta and saves the stat
 * cache.  A snapshot counts its changed files looking only at the META
 * lines and blobs that differ from the parent's (fast_count), falling
 * back to the full view-level diff.  The rounds that read changed data
 * while the worker runs, and their design, are in snapshot_rounds.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "internal.h"
#include "safeio.h"
#include "sha1.h"
#include "store.h"

#define METACOPY_DIR "pifs-meta"
#define META_MAX     ((size_t)1 << 31)

/* A copy of the META of a worker's last snapshot (git/pifs-meta/<worker>),
 * so the next snapshot counts its changes without reading that blob back
 * from the pack (inflate and hash check: ~3 ms for a 10,000-entry delta).
 * Not fsynced: it is used only when its content hashes to the blob id the
 * commit names. */
static void metacopy_save(struct pifs_store *st, const char *worker,
			  const char *text, size_t len)
{
	if (pifs_git_save_nosync(st, METACOPY_DIR, worker, text, len) < 0)
		pifs_debug("cannot keep a copy of the META of %s", worker);
}

/* The META copy of worker if it is blob id, malloc'd; else NULL. */
static char *metacopy_load(struct pifs_store *st, const char *worker,
			   const git_oid *id, size_t *len_out)
{
	char sub[PIFS_NAME_MAX + 64], hdr[40];
	unsigned char md[20];
	struct pifs_sha1 c;
	char *buf = NULL;
	size_t len = 0;
	int hl;

	snprintf(sub, sizeof(sub), PIFS_GIT_DIR "/" METACOPY_DIR "/%s", worker);
	if (pifs_read_file(st->fd, sub, META_MAX, &buf, &len) < 0)
		return NULL;
	hl = snprintf(hdr, sizeof(hdr), "blob %zu", len);
	pifs_sha1_init(&c);
	pifs_sha1_update(&c, hdr, (size_t)hl + 1);
	pifs_sha1_update(&c, buf, len);
	pifs_sha1_final(&c, md);
	if (memcmp(md, id->id, 20)) {
		free(buf);
		return NULL;
	}
	*len_out = len;
	return buf;
}

/* Drop what a prepare or a round built, but not the staged objects. */
void pifs_snapshot_prepared_clear(struct pifs_git *g)
{
	pifs_meta_release(&g->meta);
	free(g->newcache.p);
	memset(&g->newcache, 0, sizeof(g->newcache));
	free(g->metatext);
	g->metatext = NULL;
	g->metalen = 0;
	free(g->message);
	g->message = NULL;
	g->pending = 0;
}

void pifs_git_snapshot_abort(struct pifs_git *g)
{
	if (!g)
		return;
	pifs_git_staged_drop(g);
	pifs_snapshot_prepared_clear(g);
	pifs_snapshot_rounds_clear(g);
}

static int write_blob(struct pifs_git *g, const void *buf, size_t len,
		      git_oid *oid, char *errbuf, size_t errlen)
{
	int ret = git_odb_write(oid, g->odb, buf, len, GIT_OBJECT_BLOB);

	if (ret < 0)
		return pifs_git_error(ret, errbuf, errlen,
				      "cannot store a blob");
	return pifs_git_staged_note(g, oid);
}

int pifs_git_snapshot_prepare(struct pifs_git *g, const char *worker,
			      const char *message, int allow_empty,
			      struct pifs_snapshot *out, char *errbuf,
			      size_t errlen)
{
	git_treebuilder *bld = NULL;
	git_commit *head = NULL;
	git_oid delta_tree, meta_oid;
	char ref[PIFS_NAME_MAX + 32], *text = NULL;
	size_t len;
	int ret;

	pifs_errclear(errbuf, errlen);
	/* after rounds (pifs_git_snapshot_preread) their objects stay */
	if (g->rounds)
		pifs_snapshot_prepared_clear(g);
	else
		pifs_git_snapshot_abort(g);
	memset(out, 0, sizeof(*out));
	snprintf(g->worker, sizeof(g->worker), "%s", worker);
	g->message = strdup(message && *message ? message : "snapshot");
	if (!g->message)
		return -ENOMEM;
	ret = pifs_scan_delta(g, g->st, worker, 1, &g->meta, &g->newcache,
			      &delta_tree, errbuf, errlen);
	if (ret < 0)
		goto fail;
	ret = pifs_meta_format(&g->meta, &text, &len);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot format META of %s: %s", worker,
		       strerror(-ret));
		goto fail;
	}
	ret = write_blob(g, text, len, &meta_oid, errbuf, errlen);
	g->metatext = text;
	g->metalen = len;
	if (ret < 0)
		goto fail;
	if ((ret = git_treebuilder_new(&bld, g->repo, NULL)) < 0 ||
	    (ret = git_treebuilder_insert(NULL, bld, "META", &meta_oid,
					  GIT_FILEMODE_BLOB)) < 0 ||
	    (ret = git_treebuilder_insert(NULL, bld, "delta", &delta_tree,
					  GIT_FILEMODE_TREE)) < 0 ||
	    (ret = git_treebuilder_write(&g->tree, bld)) < 0) {
		ret = pifs_git_error(ret, errbuf, errlen,
				     "cannot build the tree of %s", worker);
		goto fail;
	}
	if ((ret = pifs_git_staged_note(g, &g->tree)) < 0)
		goto fail;
	pifs_git_ref_name(ref, sizeof(ref), worker);
	ret = git_reference_name_to_id(&g->parent, g->repo, ref);
	if (ret == GIT_ENOTFOUND) {
		g->has_parent = 0;
	} else if (ret < 0) {
		ret = pifs_git_error(ret, errbuf, errlen,
				     "cannot read the branch of %s", worker);
		goto fail;
	} else {
		g->has_parent = 1;
		ret = git_commit_lookup(&head, g->repo, &g->parent);
		if (ret < 0) {
			ret = pifs_git_error(
			    ret, errbuf, errlen,
			    "cannot read the last snapshot of %s", worker);
			goto fail;
		}
		git_oid_tostr(out->id, sizeof(out->id), &g->parent);
	}
	out->journal = g->used_jn && !g->rounds_full;
	out->stated = (unsigned)(g->nstat + g->rounds_nstat);
	pifs_snapshot_rounds_clear(g);
	out->created = !(g->has_parent &&
			 git_oid_equal(git_commit_tree_id(head), &g->tree)) ||
		       allow_empty;
	git_commit_free(head);
	git_treebuilder_free(bld);
	g->pending = 1;
	return 0;
fail:
	git_treebuilder_free(bld);
	pifs_git_snapshot_abort(g);
	return ret;
}

struct oline {
	const char *p;
	size_t len;
	uint64_t h;
};

/* Split META text into entry lines (after the header and golden lines). */
static int meta_lines(const char *t, size_t len, struct oline **out,
		      size_t *n_out)
{
	const char *p = t, *end = t + len, *nl;
	struct oline *l = NULL, *nn;
	size_t n = 0, cap = 0, lineno = 0;

	*out = NULL;
	*n_out = 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			goto bad;
		lineno++;
		if (lineno == 1) {
			if (((size_t)(nl - p) != strlen(PIFS_META_HEADER) ||
			     memcmp(p, PIFS_META_HEADER, (size_t)(nl - p))) &&
			    ((size_t)(nl - p) != strlen(PIFS_META_HEADER_V2) ||
			     memcmp(p, PIFS_META_HEADER_V2, (size_t)(nl - p))))
				goto bad;
		} else if (lineno == 2) {
			if (nl - p < 8 || memcmp(p, "golden ", 7))
				goto bad;
		} else {
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				nn = realloc(l, cap * sizeof(*nn));
				if (!nn)
					goto bad;
				l = nn;
			}
			l[n].p = p;
			l[n].len = (size_t)(nl - p);
			l[n].h = XXH3_64bits(p, l[n].len);
			n++;
		}
		p = nl + 1;
	}
	if (lineno < 2)
		goto bad;
	*out = l;
	*n_out = n;
	return 0;
bad:
	free(l);
	return -EAGAIN;
}

/* Add to ps the paths of m's blobs that differ between the trees a (may
 * be NULL) and b; identical subtrees are skipped. */
static int tree_changed(struct pifs_git *g, const git_tree *a,
			const git_tree *b, const char *prefix,
			const struct pifs_meta *m, struct pathset *ps)
{
	const git_tree_entry *eb, *ea;
	git_tree *sa = NULL, *sb = NULL;
	size_t i, n = git_tree_entrycount(b);
	char *name, *path;
	int ret = 0;

	for (i = 0; i < n && ret == 0; i++) {
		eb = git_tree_entry_byindex(b, i);
		ea = a ? git_tree_entry_byname(a, git_tree_entry_name(eb))
		       : NULL;
		if (ea && git_tree_entry_filemode(ea) ==
			      git_tree_entry_filemode(eb) &&
		    git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb)))
			continue;
		name = pifs_tree_name_decode(git_tree_entry_name(eb));
		if (!name)
			return -EAGAIN;
		path = *prefix ? pifs_strdupf("%s/%s", prefix, name)
			       : strdup(name);
		free(name);
		if (!path)
			return -ENOMEM;
		if (git_tree_entry_type(eb) == GIT_OBJECT_TREE) {
			sa = sb = NULL;
			if (git_tree_lookup(&sb, g->repo,
					    git_tree_entry_id(eb)) < 0 ||
			    (ea && git_tree_entry_type(ea) == GIT_OBJECT_TREE &&
			     git_tree_lookup(&sa, g->repo,
					     git_tree_entry_id(ea)) < 0))
				ret = -EAGAIN;
			else
				ret = tree_changed(g, sa, sb, path, m, ps);
			git_tree_free(sa);
			git_tree_free(sb);
		} else if (pifs_meta_find(m, path)) {
			ret = pifs_diff_pathset_add(ps, path);
		}
		free(path);
	}
	return ret;
}

/* The blob id of path in the delta/ tree t into e (a file or symlink). */
static int attach_old_oid(const git_tree *t, struct pifs_meta_entry *e)
{
	struct pifs_strbuf sb = {0};
	const char *p = e->path, *slash;
	git_tree_entry *te = NULL;
	git_filemode_t mode;
	char *comp, *tn;
	int ret = 0;

	while (*p && !sb.err) {
		slash = strchr(p, '/');
		comp = slash ? strndup(p, (size_t)(slash - p)) : strdup(p);
		tn = comp ? pifs_tree_name(comp) : NULL;
		free(comp);
		if (!tn) {
			free(sb.p);
			return -ENOMEM;
		}
		if (sb.len)
			pifs_strbuf_addstr(&sb, "/");
		pifs_strbuf_addstr(&sb, tn);
		free(tn);
		p = slash ? slash + 1 : p + strlen(p);
	}
	if (sb.err || !sb.p) {
		free(sb.p);
		return -EAGAIN;
	}
	if (git_tree_entry_bypath(&te, t, sb.p) < 0) {
		free(sb.p);
		return -EAGAIN;
	}
	free(sb.p);
	mode = git_tree_entry_filemode(te);
	if ((e->type == 'f' && (mode == GIT_FILEMODE_BLOB ||
				mode == GIT_FILEMODE_BLOB_EXECUTABLE)) ||
	    (e->type == 'l' && mode == GIT_FILEMODE_LINK)) {
		memcpy(e->oid, git_tree_entry_id(te)->id, 20);
		e->has_oid = 1;
	} else {
		ret = -EAGAIN;
	}
	git_tree_entry_free(te);
	return ret;
}

static int old_add(struct pifs_meta *m, size_t *cap, const struct oline *l)
{
	struct pifs_meta_entry *n;
	int ret;

	if (m->count == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		n = realloc(m->entries, *cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		m->entries = n;
	}
	memset(&m->entries[m->count], 0, sizeof(*n));
	ret = pifs_meta_entry_parse(&m->entries[m->count], l->p, l->p + l->len);
	m->count++; /* released with m, even half-parsed */
	return ret < 0 ? -EAGAIN : 0;
}

/* Does META text name golden id? */
static int meta_same_golden(const void *text, size_t len, const char *id)
{
	const char *t = text, *p = memmem(t, len, "\ngolden ", 8);

	return p && (size_t)(p - t) + 8 + 16 <= len && !memcmp(p + 8, id, 16);
}

/* files and bytes of the prepared snapshot against its parent exactly as
 * pifs_git_diff(parent, new) counts them, looking only at the paths whose
 * META line or blob differs (an entry with the same line and blob is the
 * same in both views, whatever its ancestors), their ancestors and the
 * golden children of changed opaque directories.  Anything unexpected
 * gives -EAGAIN: the caller then does the full diff. */
static int fast_count(struct pifs_git *g, unsigned *files, uint64_t *bytes)
{
	git_commit *pc = NULL;
	git_tree *oroot = NULL, *nroot = NULL, *otree = NULL, *ntree = NULL;
	git_blob *blob = NULL;
	const git_tree_entry *te;
	const char *otext;
	char *ocopy = NULL;
	size_t olen;
	struct oline *ol = NULL, *nl = NULL;
	size_t nol = 0, nnl = 0, i, j, tsize, slot, ocap = 0, ninit, n = 0,
	       cap = 0;
	uint32_t *tab = NULL;
	long *match = NULL;
	unsigned char *oused = NULL;
	struct pathset cand = {0}, need = {0};
	struct pifs_meta old;
	struct pifs_change *ch = NULL;
	const struct pifs_meta_entry *ne;
	char *q, *slash;
	int ret, gfd;

	pifs_meta_init(&old);
	if (!g->metatext)
		return -EAGAIN;
	ret = -EAGAIN;
	if (git_commit_lookup(&pc, g->repo, &g->parent) < 0 ||
	    git_commit_tree(&oroot, pc) < 0 ||
	    git_tree_lookup(&nroot, g->repo, &g->tree) < 0)
		goto out;
	te = git_tree_entry_byname(oroot, "META");
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_BLOB)
		goto out;
	ocopy = metacopy_load(g->st, g->worker, git_tree_entry_id(te), &olen);
	if (ocopy) {
		otext = ocopy;
	} else {
		if (git_blob_lookup(&blob, g->repo, git_tree_entry_id(te)) < 0)
			goto out;
		otext = git_blob_rawcontent(blob);
		olen = (size_t)git_blob_rawsize(blob);
	}
	te = git_tree_entry_byname(oroot, "delta");
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_TREE ||
	    git_tree_lookup(&otree, g->repo, git_tree_entry_id(te)) < 0)
		goto out;
	te = git_tree_entry_byname(nroot, "delta");
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_TREE ||
	    git_tree_lookup(&ntree, g->repo, git_tree_entry_id(te)) < 0)
		goto out;
	/* a parent on another golden (a rebase): the full diff */
	if (!meta_same_golden(otext, olen, g->meta.golden))
		goto out;
	if (meta_lines(otext, olen, &ol, &nol) < 0 ||
	    meta_lines(g->metatext, g->metalen, &nl, &nnl) < 0 ||
	    nnl != g->meta.count || nol >= UINT32_MAX)
		goto out;
	/* old lines by hash */
	for (tsize = 64; tsize < 2 * nol + 2; tsize *= 2)
		;
	tab = calloc(tsize, sizeof(*tab));
	match = malloc((nnl ? nnl : 1) * sizeof(*match));
	oused = calloc(nol ? nol : 1, 1);
	if (!tab || !match || !oused)
		goto out;
	for (i = 0; i < nol; i++) {
		for (slot = ol[i].h & (tsize - 1); tab[slot];
		     slot = (slot + 1) & (tsize - 1))
			;
		tab[slot] = (uint32_t)i + 1;
	}
	for (i = 0; i < nnl; i++) {
		match[i] = -1;
		for (slot = nl[i].h & (tsize - 1); tab[slot];
		     slot = (slot + 1) & (tsize - 1)) {
			j = tab[slot] - 1;
			if (ol[j].h == nl[i].h && ol[j].len == nl[i].len &&
			    !oused[j] && !memcmp(ol[j].p, nl[i].p, nl[i].len)) {
				match[i] = (long)j;
				oused[j] = 1;
				break;
			}
		}
		if (match[i] < 0 && (ret = pifs_diff_pathset_add(
					 &cand, g->meta.entries[i].path)) < 0)
			goto out;
	}
	ret = 0;
	/* entries gone or changed: their old lines */
	for (i = 0; i < nol && ret == 0; i++) {
		if (oused[i])
			continue;
		ret = old_add(&old, &ocap, &ol[i]);
		if (ret == 0)
			ret = pifs_diff_pathset_add(
			    &cand, old.entries[old.count - 1].path);
	}
	/* same line, other content */
	if (ret == 0)
		ret = tree_changed(g, otree, ntree, "", &g->meta, &cand);
	ninit = cand.n;
	gfd = pifs_store_golden_open(g->st, g->meta.golden);
	if (gfd < 0) {
		ret = gfd;
		goto out;
	}
	for (i = 0; i < ninit && ret == 0; i++) {
		ne = pifs_meta_find(&g->meta, cand.p[i]);
		if (ne && pifs_meta_is_opaque(ne))
			ret = pifs_diff_opaque_children(gfd, cand.p[i], &cand);
	}
	for (i = 0; i < old.count && ret == 0; i++)
		if (pifs_meta_is_opaque(&old.entries[i]))
			ret = pifs_diff_opaque_children(
			    gfd, old.entries[i].path, &cand);
	close(gfd);
	/* the old entries view_lookup may need: candidates and ancestors
	 * whose line did not change (the others are parsed above) */
	for (i = 0; i < cand.n && ret == 0; i++) {
		q = strdup(cand.p[i]);
		if (!q) {
			ret = -ENOMEM;
			break;
		}
		for (;;) {
			ret = pifs_diff_pathset_add(&need, q);
			if (ret < 0 || !strcmp(q, "."))
				break;
			slash = strrchr(q, '/');
			if (slash)
				*slash = '\0';
			else
				strcpy(q, ".");
		}
		free(q);
	}
	if (ret < 0)
		goto out;
	if (need.n > 1)
		qsort(need.p, need.n, sizeof(*need.p), name_cmp);
	for (i = 0; i < need.n && ret == 0; i++) {
		if (i && !strcmp(need.p[i], need.p[i - 1]))
			continue;
		ne = pifs_meta_find(&g->meta, need.p[i]);
		if (ne && match[ne - g->meta.entries] >= 0)
			ret = old_add(&old, &ocap,
				      &ol[match[ne - g->meta.entries]]);
	}
	if (ret < 0)
		goto out;
	pifs_meta_sort(&old);
	for (i = 0; i < old.count; i++) {
		if (i && !strcmp(old.entries[i].path,
				 old.entries[i - 1].path)) {
			ret = -EAGAIN;
			goto out;
		}
		if ((old.entries[i].type == 'f' ||
		     old.entries[i].type == 'l') &&
		    (ret = attach_old_oid(otree, &old.entries[i])) < 0)
			goto out;
	}
	ret = pifs_diff_paths(g, g->st, &old, &g->meta, &cand, NULL, 0, &ch,
			      &n, &cap);
	if (ret == 0) {
		*files = (unsigned)n;
		*bytes = 0;
		for (i = 0; i < n; i++)
			*bytes += ch[i].bytes;
	}
	pifs_changes_free(ch, n);
out:
	pifs_diff_pathset_free(&cand);
	pifs_diff_pathset_free(&need);
	pifs_meta_release(&old);
	free(tab);
	free(match);
	free(oused);
	free(ol);
	free(nl);
	free(ocopy);
	git_blob_free(blob);
	git_tree_free(otree);
	git_tree_free(ntree);
	git_tree_free(oroot);
	git_tree_free(nroot);
	git_commit_free(pc);
	return ret;
}

/*
 * A pifs killed with kill -9 while libgit2 held the branch's lock file
 * (refs/heads/workers/W.lock, and the reflog's beside it) leaves that
 * file behind, and libgit2 then refuses every later update of the branch.
 * The caller holds the store lock and pifsd never writes refs, so no live
 * writer can own such a file here: it is stale, and removed.
 */
static void clear_stale_ref_locks(struct pifs_git *g, const char *ref)
{
	static const char *const dirs[] = {PIFS_GIT_DIR "/", PIFS_GIT_DIR
					   "/logs/"};
	char path[PIFS_NAME_MAX + 64], *slash;
	int dfd;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		snprintf(path, sizeof(path), "%s%s", dirs[i], ref);
		slash = strrchr(path, '/');
		*slash = '\0';
		dfd = pifs_openat_beneath(g->st->fd, path,
					  O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
		if (dfd < 0)
			continue;
		snprintf(path, sizeof(path), "%s.lock", strrchr(ref, '/') + 1);
		if (pifs_do_unlink(dfd, path, 0) == 0)
			pifs_warn("removed the stale lock file '%s%s.lock' of "
				  "%s, left by a snapshot that was killed",
				  dirs[i], ref, g->worker);
		close(dfd);
	}
}

int pifs_git_snapshot_finish(struct pifs_git *g, struct pifs_snapshot *snap,
			     char *errbuf, size_t errlen)
{
	struct pifs_meta parent;
	struct pifs_change *ch = NULL;
	git_signature *sig = NULL;
	git_reference *refp = NULL;
	git_commit *pc = NULL;
	git_tree *tree = NULL;
	char ref[PIFS_NAME_MAX + 32], host[128], email[200], base[41], *msg;
	const git_commit *parents[1];
	size_t nch = 0, i;
	git_oid cid;
	int ret;

	pifs_errclear(errbuf, errlen);
	if (!g->pending)
		return -EINVAL;
	pifs_meta_init(&parent);
	pifs_git_ref_name(ref, sizeof(ref), g->worker);
	if (!snap->created) {
		/* nothing new; make sure the delta records its base */
		if (pifs_git_base_get(g->st, g->worker, base) < 0 ||
		    strcmp(base, snap->id))
			pifs_git_base_set(g->st, g->worker, snap->id);
		pifs_statcache_save(&g->newcache, g->st, g->worker,
				    g->has_parent ? &g->parent : NULL,
				    g->has_jn ? g->jn.newtoken : 0);
		pifs_git_snapshot_abort(g);
		return 0;
	}
	if (!g->has_parent ||
	    fast_count(g, &snap->files, &snap->bytes) < 0) {
		snap->files = 0;
		snap->bytes = 0;
		if (g->has_parent) {
			char pid[41];

			git_oid_tostr(pid, sizeof(pid), &g->parent);
			ret = pifs_git_load(g, pid, &parent, errbuf, errlen);
			if (ret < 0)
				goto out;
		}
		ret = pifs_git_diff(g, g->st, g->has_parent ? &parent : NULL,
				    &g->meta, NULL, 0, &ch, &nch, errbuf,
				    errlen);
		if (ret < 0)
			goto out;
		snap->files = (unsigned)nch;
		for (i = 0; i < nch; i++)
			snap->bytes += ch[i].bytes;
		pifs_changes_free(ch, nch);
	}
	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(email, sizeof(email), "pifs@%s", host);
	msg = pifs_strdupf("%s\n\nworker: %s\ngolden: %s\nfiles: %u\n"
			   "bytes: %" PRIu64 "\n",
			   g->message, g->worker, g->meta.golden, snap->files,
			   snap->bytes);
	if (!msg) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = git_signature_now(&sig, "pifs", email)) < 0 ||
	    (ret = git_tree_lookup(&tree, g->repo, &g->tree)) < 0 ||
	    (g->has_parent &&
	     (ret = git_commit_lookup(&pc, g->repo, &g->parent)) < 0)) {
		free(msg);
		ret = pifs_git_error(ret, errbuf, errlen,
				     "cannot make the commit");
		goto out;
	}
	parents[0] = pc;
	ret = git_commit_create(&cid, g->repo, NULL, sig, sig, NULL, msg, tree,
				g->has_parent ? 1 : 0, parents);
	free(msg);
	if (ret < 0 || (ret = pifs_git_staged_note(g, &cid)) < 0) {
		ret = pifs_git_error(ret, errbuf, errlen,
				     "cannot make the commit");
		goto out;
	}
	ret = pifs_pack_write(g, &snap->objects, errbuf, errlen);
	if (ret < 0)
		goto out;
	pifs_git_staged_drop(g);
	clear_stale_ref_locks(g, ref);
	if (g->has_parent)
		ret = git_reference_create_matching(&refp, g->repo, ref, &cid,
						    1, &g->parent,
						    "pifs snapshot");
	else
		ret = git_reference_create(&refp, g->repo, ref, &cid, 0,
					   "pifs snapshot");
	if (ret < 0) {
		ret = pifs_git_error(ret, errbuf, errlen,
				     "cannot move the branch of %s", g->worker);
		goto out;
	}
	git_oid_tostr(snap->id, sizeof(snap->id), &cid);
	ret = pifs_git_base_set(g->st, g->worker, snap->id);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen,
		       "snapshot %.7s made, but cannot record it on the delta "
		       "of %s: %s",
		       snap->id, g->worker, strerror(-ret));
		goto out;
	}
	/* the cache only names objects now durable in the pack */
	pifs_statcache_save(&g->newcache, g->st, g->worker, &cid,
			    g->has_jn ? g->jn.newtoken : 0);
	metacopy_save(g->st, g->worker, g->metatext, g->metalen);
out:
	git_reference_free(refp);
	git_tree_free(tree);
	git_commit_free(pc);
	git_signature_free(sig);
	pifs_meta_release(&parent);
	pifs_git_snapshot_abort(g);
	return ret;
}
