/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * read.c - reading a snapshot back: its delta/ tree walked blob by blob,
 * its META loaded with the blob ids attached (and checked against the
 * tree), and a blob's content.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util.h"

int pifs_git_walk_tree(struct pifs_git *g, const git_tree *tree,
		       const char *prefix, blob_fn fn, void *arg, char *errbuf,
		       size_t errlen)
{
	const git_tree_entry *te;
	git_tree *sub;
	char *name, *path;
	size_t i, n = git_tree_entrycount(tree);
	int ret = 0;

	for (i = 0; i < n && ret == 0; i++) {
		te = git_tree_entry_byindex(tree, i);
		name = pifs_tree_name_decode(git_tree_entry_name(te));
		if (!name) {
			pifs_seterr(errbuf, errlen, "bad tree entry name '%s'",
			       git_tree_entry_name(te));
			return -EINVAL;
		}
		path = *prefix ? pifs_strdupf("%s/%s", prefix, name)
			       : strdup(name);
		free(name);
		if (!path)
			return -ENOMEM;
		if (git_tree_entry_type(te) == GIT_OBJECT_TREE) {
			ret = git_tree_lookup(&sub, g->repo,
					      git_tree_entry_id(te));
			if (ret < 0) {
				ret = pifs_git_error(
				    ret, errbuf, errlen,
				    "cannot read tree 'delta/%s'", path);
			} else {
				ret = pifs_git_walk_tree(g, sub, path, fn, arg,
							 errbuf, errlen);
				git_tree_free(sub);
			}
		} else {
			ret = fn(path, git_tree_entry_id(te),
				 git_tree_entry_filemode(te), arg);
		}
		free(path);
	}
	return ret;
}

static int attach_oid(const char *path, const git_oid *oid,
		      git_filemode_t mode, void *arg)
{
	struct pifs_meta_entry *e = meta_find_mut(arg, path);

	if (!e)
		return -EINVAL;
	if (!((e->type == 'f' && (mode == GIT_FILEMODE_BLOB ||
				  mode == GIT_FILEMODE_BLOB_EXECUTABLE)) ||
	      (e->type == 'l' && mode == GIT_FILEMODE_LINK)))
		return -EINVAL;
	memcpy(e->oid, oid->id, 20);
	e->has_oid = 1;
	return 0;
}

/* META and delta/ of a commit's tree into m. */
static int load_tree(struct pifs_git *g, const git_tree *root,
		     struct pifs_meta *m, char *errbuf, size_t errlen)
{
	const git_tree_entry *te;
	git_tree *delta = NULL;
	git_blob *blob = NULL;
	size_t i;
	int ret;

	pifs_meta_init(m);
	te = git_tree_entry_byname(root, "META");
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
		pifs_seterr(errbuf, errlen, "snapshot has no META");
		return -EINVAL;
	}
	ret = git_blob_lookup(&blob, g->repo, git_tree_entry_id(te));
	if (ret < 0)
		return pifs_git_error(ret, errbuf, errlen, "cannot read META");
	ret = pifs_meta_parse(m, git_blob_rawcontent(blob),
			      (size_t)git_blob_rawsize(blob), errbuf, errlen);
	git_blob_free(blob);
	if (ret < 0)
		return ret;
	te = git_tree_entry_byname(root, "delta");
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_TREE) {
		pifs_seterr(errbuf, errlen, "snapshot has no delta/ tree");
		ret = -EINVAL;
		goto fail;
	}
	ret = git_tree_lookup(&delta, g->repo, git_tree_entry_id(te));
	if (ret < 0) {
		ret = pifs_git_error(ret, errbuf, errlen, "cannot read delta/");
		goto fail;
	}
	ret = pifs_git_walk_tree(g, delta, "", attach_oid, m, errbuf, errlen);
	git_tree_free(delta);
	if (ret == -EINVAL)
		pifs_seterr(errbuf, errlen, "delta/ does not match META");
	if (ret < 0)
		goto fail;
	for (i = 0; i < m->count; i++) {
		if ((m->entries[i].type == 'f' || m->entries[i].type == 'l') &&
		    !m->entries[i].has_oid) {
			pifs_seterr(errbuf, errlen, "no blob for '%s' in delta/",
			       m->entries[i].path);
			ret = -EINVAL;
			goto fail;
		}
	}
	return 0;
fail:
	pifs_meta_release(m);
	return ret;
}

int pifs_git_load(struct pifs_git *g, const char *id, struct pifs_meta *m,
		  char *errbuf, size_t errlen)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_oid oid;
	int ret;

	pifs_errclear(errbuf, errlen);
	pifs_meta_init(m);
	if (git_oid_fromstr(&oid, id) < 0) {
		pifs_seterr(errbuf, errlen, "bad commit id '%s'", id);
		return -EINVAL;
	}
	if ((ret = git_commit_lookup(&c, g->repo, &oid)) < 0 ||
	    (ret = git_commit_tree(&t, c)) < 0) {
		ret = pifs_git_error(ret, errbuf, errlen,
				     "cannot read snapshot %.7s", id);
		goto out;
	}
	ret = load_tree(g, t, m, errbuf, errlen);
	if (ret < 0)
		pifs_seterr_prefix(errbuf, errlen, ret,
				   "snapshot %.7s is damaged", id);
out:
	git_tree_free(t);
	git_commit_free(c);
	return ret;
}

int pifs_git_blob(struct pifs_git *g, const unsigned char oid[20],
		  char **out, size_t *len_out)
{
	git_blob *b;
	git_oid o;
	size_t len;
	int ret;

	memcpy(o.id, oid, 20);
	ret = git_blob_lookup(&b, g->repo, &o);
	if (ret < 0)
		return pifs_git_errno(ret, errno);
	len = (size_t)git_blob_rawsize(b);
	*out = malloc(len + 1);
	if (!*out) {
		git_blob_free(b);
		return -ENOMEM;
	}
	memcpy(*out, git_blob_rawcontent(b), len);
	(*out)[len] = '\0';
	*len_out = len;
	git_blob_free(b);
	return 0;
}
