/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.c - a worker's history, newest first, with what each commit's
 * message trailers say (files, bytes, golden), and which snapshots of any
 * worker are on a given golden.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store.h"

static uint64_t trailer(const char *msg, const char *key)
{
	const char *p = msg;
	size_t kl = strlen(key);

	while ((p = strstr(p, key))) {
		if ((p == msg || p[-1] == '\n') && p[kl] == ':' &&
		    p[kl + 1] == ' ')
			return strtoull(p + kl + 2, NULL, 10);
		p += kl;
	}
	return 0;
}

/* The golden a snapshot's message names (the last "golden: " trailer,
 * which pifs writes after the user's message). */
static void trailer_golden(const char *msg, char out[17])
{
	const char *p = msg, *hit = NULL;

	out[0] = '\0';
	while ((p = strstr(p, "golden: "))) {
		if (p == msg || p[-1] == '\n')
			hit = p + 8;
		p += 8;
	}
	if (hit && strlen(hit) >= 16) {
		memcpy(out, hit, 16);
		out[16] = '\0';
		if (pifs_golden_id_valid(out) < 0)
			out[0] = '\0';
	}
}

static int push_branch(const char *name, void *arg)
{
	git_revwalk *walk = arg;

	return git_revwalk_push_ref(walk, name) < 0 ? -1 : 0;
}

/* The next commit of walk into *c (the caller frees it) and *oid: 1, 0
 * at the end of the walk, or -errno. */
static int next_commit(struct pifs_git *g, git_revwalk *walk, git_oid *oid,
		       git_commit **c)
{
	int ret = git_revwalk_next(oid, walk);

	if (ret == GIT_ITEROVER)
		return 0;
	if (ret == 0)
		ret = git_commit_lookup(c, g->repo, oid);
	return ret < 0 ? pifs_git_errno(ret, errno) : 1;
}

int pifs_git_golden_users(struct pifs_git *g, const char *golden,
			  char worker[PIFS_NAME_MAX + 1], char id[41])
{
	git_revwalk *walk = NULL;
	git_commit *c;
	git_oid oid;
	char gid[17];
	int ret, n = 0;

	worker[0] = id[0] = '\0';
	if ((ret = git_revwalk_new(&walk, g->repo)) < 0 ||
	    (ret = git_reference_foreach_glob(g->repo, "refs/heads/workers/*",
					      push_branch, walk)) < 0) {
		ret = pifs_git_errno(ret, errno);
		goto out;
	}
	while ((ret = next_commit(g, walk, &oid, &c)) > 0) {
		trailer_golden(git_commit_message(c), gid);
		if (!strcmp(gid, golden)) {
			if (!n++) {
				const char *w = strstr(git_commit_message(c),
						       "\nworker: ");

				git_oid_tostr(id, 41, &oid);
				if (w)
					sscanf(w + 9, "%63s", worker);
			}
		}
		git_commit_free(c);
	}
	if (ret == 0)
		ret = n;
out:
	git_revwalk_free(walk);
	return ret;
}

int pifs_git_log(struct pifs_git *g, const char *worker,
		 struct pifs_log_entry **out, size_t *n_out)
{
	struct pifs_log_entry *log = NULL, *nl;
	git_revwalk *walk = NULL;
	size_t n = 0, cap = 0, sl;
	git_commit *c;
	const char *msg, *eol;
	char head[41];
	git_oid oid;
	int ret;

	*out = NULL;
	*n_out = 0;
	ret = pifs_git_head(g, worker, head);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	git_oid_fromstr(&oid, head);
	if ((ret = git_revwalk_new(&walk, g->repo)) < 0 ||
	    (ret = git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL |
						 GIT_SORT_TIME)) < 0 ||
	    (ret = git_revwalk_push(walk, &oid)) < 0) {
		ret = pifs_git_errno(ret, errno);
		goto out;
	}
	while ((ret = next_commit(g, walk, &oid, &c)) > 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nl = realloc(log, cap * sizeof(*nl));
			if (!nl) {
				git_commit_free(c);
				ret = -ENOMEM;
				goto out;
			}
			log = nl;
		}
		memset(&log[n], 0, sizeof(*log));
		git_oid_tostr(log[n].id, 41, &oid);
		log[n].time = git_commit_time(c);
		log[n].offset = git_commit_time_offset(c);
		msg = git_commit_message(c);
		eol = strchr(msg, '\n');
		sl = eol ? (size_t)(eol - msg) : strlen(msg);
		log[n].subject = strndup(msg, sl);
		log[n].files = (unsigned)trailer(msg, "files");
		trailer_golden(msg, log[n].golden);
		log[n].bytes = trailer(msg, "bytes");
		git_commit_free(c);
		if (!log[n++].subject) {
			ret = -ENOMEM;
			goto out;
		}
	}
out:
	git_revwalk_free(walk);
	if (ret < 0) {
		pifs_git_log_free(log, n);
		return ret;
	}
	*out = log;
	*n_out = n;
	return 0;
}

void pifs_git_log_free(struct pifs_log_entry *log, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(log[i].subject);
	free(log);
}
