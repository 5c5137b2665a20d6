/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * revparse.c - which commit: a worker's branch head, a revision the user
 * names (HEAD, HEAD~N, a hex prefix) resolved within that worker's
 * history, and the base recorded on a delta (the commit it corresponds
 * to).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "safeio.h"
#include "store.h"

int pifs_git_head(struct pifs_git *g, const char *worker, char id[41])
{
	char ref[PIFS_NAME_MAX + 32];
	git_oid oid;
	int ret;

	pifs_git_ref_name(ref, sizeof(ref), worker);
	ret = git_reference_name_to_id(&oid, g->repo, ref);
	if (ret < 0)
		return pifs_git_errno(ret, errno);
	git_oid_tostr(id, 41, &oid);
	return 0;
}

static int is_hex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s), i;

	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (pifs_hexval(s[i]) < 0)
			return 0;
	return 1;
}

int pifs_git_resolve(struct pifs_git *g, const char *worker, const char *rev,
		     char id[41], char *errbuf, size_t errlen)
{
	char head[41], hex[41], found[41] = "", lower[41];
	git_revwalk *walk = NULL;
	git_commit *c = NULL, *p;
	unsigned long steps = 0;
	git_oid oid;
	size_t i;
	int ret, matches = 0;

	pifs_errclear(errbuf, errlen);
	ret = pifs_git_head(g, worker, head);
	if (ret == -ENOENT) {
		pifs_seterr(errbuf, errlen,
		       "'%s' is not a snapshot of %s (it has no snapshots)",
		       rev, worker);
		return -ENOENT;
	}
	if (ret < 0)
		return pifs_git_error(ret, errbuf, errlen,
				      "cannot read the branch of %s", worker);
	if (!strcmp(rev, "HEAD") || !strcmp(rev, "latest")) {
		memcpy(id, head, 41);
		return 0;
	}
	if (!strncmp(rev, "HEAD~", 5) || !strncmp(rev, "latest~", 7)) {
		const char *num = strchr(rev, '~') + 1;
		char *end;

		errno = 0;
		steps = strtoul(num, &end, 10);
		if (!*num || *end || errno || *num == '-')
			goto not_found;
		git_oid_fromstr(&oid, head);
		if ((ret = git_commit_lookup(&c, g->repo, &oid)) < 0)
			return pifs_git_error(ret, errbuf, errlen,
					      "cannot read snapshot %.7s of %s",
					      head, worker);
		while (steps--) {
			if (git_commit_parentcount(c) == 0) {
				git_commit_free(c);
				goto not_found;
			}
			ret = git_commit_parent(&p, c, 0);
			git_commit_free(c);
			if (ret < 0)
				return pifs_git_error(
				    ret, errbuf, errlen,
				    "cannot read the history of %s", worker);
			c = p;
		}
		git_oid_tostr(id, 41, git_commit_id(c));
		git_commit_free(c);
		return 0;
	}
	if (!is_hex(rev, 4, 40))
		goto not_found;
	for (i = 0; rev[i]; i++)
		lower[i] = (char)(rev[i] >= 'A' && rev[i] <= 'F'
				      ? rev[i] - 'A' + 'a'
				      : rev[i]);
	lower[i] = '\0';
	if ((ret = git_revwalk_new(&walk, g->repo)) < 0 ||
	    (ret = git_oid_fromstr(&oid, head)) < 0 ||
	    (ret = git_revwalk_push(walk, &oid)) < 0) {
		ret = pifs_git_error(ret, errbuf, errlen,
				     "cannot read the history of %s", worker);
		goto out;
	}
	while ((ret = git_revwalk_next(&oid, walk)) == 0) {
		git_oid_tostr(hex, sizeof(hex), &oid);
		if (!strncmp(hex, lower, strlen(lower)) &&
		    strcmp(found, hex)) {
			memcpy(found, hex, sizeof(found));
			matches++;
		}
	}
	if (ret != GIT_ITEROVER) {
		ret = pifs_git_error(ret, errbuf, errlen,
				     "cannot read the history of %s", worker);
		goto out;
	}
	ret = 0;
	if (matches > 1) {
		pifs_seterr(errbuf, errlen,
		       "'%s' is ambiguous among the snapshots of %s", rev,
		       worker);
		ret = -EINVAL;
	} else if (!matches) {
		git_revwalk_free(walk);
		goto not_found;
	} else {
		memcpy(id, found, 41);
	}
out:
	git_revwalk_free(walk);
	return ret;
not_found:
	pifs_seterr(errbuf, errlen, "'%s' is not a snapshot of %s", rev, worker);
	return -ENOENT;
}

int pifs_git_base_get(struct pifs_store *st, const char *worker,
		      char id[41])
{
	ssize_t n;

	n = pifs_lgetxattr(st->deltas_fd, worker, PIFS_XATTR_BASE, id, 40);
	if (n == -ERANGE)
		return -EINVAL;
	if (n < 0)
		return (int)n;
	id[n] = '\0';
	if (!is_hex(id, 40, 40))
		return -EINVAL;
	return 0;
}

int pifs_git_base_set(struct pifs_store *st, const char *worker, const char *id)
{
	int ret, fd;

	ret = pifs_lsetxattr(st->deltas_fd, worker, PIFS_XATTR_BASE, id, 40,
			     0);
	if (ret < 0)
		return ret;
	fd = pifs_store_delta_dir(st, worker);
	if (fd < 0)
		return fd;
	ret = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return ret;
}
