/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tree.c - the delta/ tree of a snapshot: names git refuses stored
 * escaped (and decoded again), and trees written from sorted entries
 * and staged for the pack.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "internal.h"

#define NAME_ESC "~pifs~"

static const char hexd[] = "0123456789abcdef";

/* Names libgit2 refuses in a tree (".git" and its NTFS spellings) and our
 * own escape prefix are stored hex-encoded. */
static int name_needs_escape(const char *n)
{
	const char *p;

	if (!strncmp(n, NAME_ESC, strlen(NAME_ESC)))
		return 1;
	if (!strncasecmp(n, "git~", 4))
		return 1;
	if (strncasecmp(n, ".git", 4))
		return 0;
	for (p = n + 4; *p; p++)
		if (*p != ' ' && *p != '.' && *p != ':')
			return strchr(n, ':') != NULL;
	return 1;
}

char *pifs_tree_name(const char *n)
{
	size_t len = strlen(n), i;
	char *out;

	if (!name_needs_escape(n))
		return strdup(n);
	out = malloc(strlen(NAME_ESC) + 2 * len + 1);
	if (!out)
		return NULL;
	strcpy(out, NAME_ESC);
	for (i = 0; i < len; i++) {
		out[strlen(NAME_ESC) + 2 * i] = hexd[(unsigned char)n[i] >> 4];
		out[strlen(NAME_ESC) + 2 * i + 1] = hexd[n[i] & 15];
	}
	out[strlen(NAME_ESC) + 2 * len] = '\0';
	return out;
}

char *pifs_tree_name_decode(const char *n)
{
	size_t len, i, pl = strlen(NAME_ESC);
	int hi, lo;
	char *out;

	if (strncmp(n, NAME_ESC, pl))
		return strdup(n);
	len = strlen(n + pl);
	if (len % 2)
		return NULL;
	out = malloc(len / 2 + 1);
	if (!out)
		return NULL;
	for (i = 0; i < len / 2; i++) {
		hi = pifs_hexval(n[pl + 2 * i]);
		lo = pifs_hexval(n[pl + 2 * i + 1]);
		if (hi < 0 || lo < 0 || (!hi && !lo)) {
			free(out);
			return NULL;
		}
		out[i] = (char)(hi << 4 | lo);
	}
	out[len / 2] = '\0';
	return out;
}

static git_filemode_t tree_mode(mode_t m)
{
	return S_ISDIR(m)    ? GIT_FILEMODE_TREE
	       : S_ISLNK(m)  ? GIT_FILEMODE_LINK
	       : (m & 0111) ? GIT_FILEMODE_BLOB_EXECUTABLE
			     : GIT_FILEMODE_BLOB;
}

/* Append name's tree entry to te[*nt]. */
int pifs_tree_add(struct tent *te, size_t *nt, char *name, const git_oid *oid,
		  mode_t mode)
{
	char *tn = name_needs_escape(name) ? pifs_tree_name(name) : name;

	if (!tn)
		return -ENOMEM;
	te[*nt].name = tn;
	te[*nt].owned = tn != name;
	te[*nt].oid = *oid;
	te[*nt].mode = tree_mode(mode);
	(*nt)++;
	return 0;
}

/* Write the tree of te[0..nt) (names in order) into *tree. */
int pifs_tree_write(struct scan *s, const struct tent *te, size_t nt,
		    const char *rel, git_oid *tree)
{
	git_treebuilder *bld = NULL;
	size_t i;
	int ret;

	if ((ret = git_treebuilder_new(&bld, s->g->repo, NULL)) < 0)
		return pifs_git_error(ret, s->errbuf, s->errlen,
				      "cannot build a tree");
	for (i = 0; i < nt; i++) {
		ret = git_treebuilder_insert(NULL, bld, te[i].name, &te[i].oid,
					     te[i].mode);
		if (ret < 0) {
			ret = pifs_git_error(
			    ret, s->errbuf, s->errlen,
			    "cannot add '%s' to the tree of '%s'", te[i].name,
			    rel);
			goto out;
		}
	}
	ret = git_treebuilder_write(tree, bld);
	if (ret < 0) {
		ret = pifs_git_error(ret, s->errbuf, s->errlen,
				     "cannot write the tree of '%s'", rel);
		goto out;
	}
	ret = pifs_git_staged_note(s->g, tree);
out:
	git_treebuilder_free(bld);
	return ret;
}

void pifs_tree_free(struct tent *te, size_t nt)
{
	for (size_t i = 0; i < nt; i++)
		if (te[i].owned)
			free(te[i].name);
	free(te);
}
