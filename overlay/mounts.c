/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mounts.c - the mount table for the pifs CLI and pifsd (see mounts.h): parses
 * /proc/<pid>/mountinfo, finds the mount visible at a path and what is
 * mounted on top of it, and tells whether a store is served.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mounts.h"
#include "util.h"

/* Undo mountinfo's octal escapes (\040 space, \011 tab, \012 newline,
 * \134 backslash) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

static void mount_clear(struct pifs_mount *m)
{
	free(m->point);
	free(m->type);
	free(m->source);
}

/* "36 35 98:0 /root /point opts [optional...] - type source superopts" */
static int parse_line(char *line, struct pifs_mount *m)
{
	char *save = NULL, *tok, *point = NULL, *type = NULL, *source = NULL;
	int field = 0, dash = 0;

	memset(m, 0, sizeof(*m));
	for (tok = strtok_r(line, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save), field++) {
		if (field == 0)
			m->id = atoi(tok);
		else if (field == 1)
			m->parent = atoi(tok);
		else if (field == 4)
			point = tok;
		else if (field > 5 && !dash && !strcmp(tok, "-"))
			dash = field;
		else if (dash && field == dash + 1)
			type = tok;
		else if (dash && field == dash + 2)
			source = tok;
	}
	if (!point || !type)
		return -EINVAL;
	unescape(point);
	unescape(type);
	if (source)
		unescape(source);
	m->point = strdup(point);
	m->type = strdup(type);
	m->source = strdup(source ? source : "");
	if (!m->point || !m->type || !m->source) {
		mount_clear(m);
		return -ENOMEM;
	}
	return 0;
}

int pifs_mounts_load(struct pifs_mounts *out, pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0, alloc = 0;
	FILE *f;
	int ret = 0;

	out->v = NULL;
	out->n = 0;
	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%ld/mountinfo", (long)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/mountinfo");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		struct pifs_mount m;

		if (parse_line(line, &m) < 0)
			continue; /* not a line we understand: not ours */
		if (out->n == alloc) {
			size_t na = alloc ? alloc * 2 : 64;
			struct pifs_mount *nv =
			    realloc(out->v, na * sizeof(*nv));

			if (!nv) {
				mount_clear(&m);
				ret = -ENOMEM;
				break;
			}
			out->v = nv;
			alloc = na;
		}
		out->v[out->n++] = m;
	}
	if (!ret && ferror(f))
		ret = -EIO;
	free(line);
	fclose(f);
	if (ret < 0)
		pifs_mounts_release(out);
	return ret;
}

void pifs_mounts_release(struct pifs_mounts *m)
{
	for (size_t i = 0; i < m->n; i++)
		mount_clear(&m->v[i]);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const struct pifs_mount *pifs_mounts_at(const struct pifs_mounts *m,
					const char *path)
{
	const struct pifs_mount *top = NULL;

	/* Stacked mounts share a path and each sits on the one before: the
	 * visible one has nothing at the same path on top of it. */
	for (size_t i = 0; i < m->n; i++) {
		int covered = 0;

		if (strcmp(m->v[i].point, path))
			continue;
		for (size_t j = 0; j < m->n && !covered; j++)
			covered = j != i && m->v[j].parent == m->v[i].id &&
				  !strcmp(m->v[j].point, path);
		if (!covered)
			top = &m->v[i];
	}
	return top;
}

/* Append the mounts sitting on x, and theirs, before x itself; the ones
 * mounted last first.  depth bounds a (never seen) cycle. */
static void post_order(const struct pifs_mounts *m, const struct pifs_mount *x,
		       const struct pifs_mount **out, size_t *n, size_t depth)
{
	if (depth > m->n || *n >= m->n)
		return;
	for (size_t i = m->n; i-- > 0;)
		if (m->v[i].parent == x->id && &m->v[i] != x)
			post_order(m, &m->v[i], out, n, depth + 1);
	if (*n < m->n)
		out[(*n)++] = x;
}

int pifs_mounts_below(const struct pifs_mounts *m, const struct pifs_mount *top,
		      const struct pifs_mount ***out, size_t *n)
{
	const struct pifs_mount **v = calloc(m->n ? m->n : 1, sizeof(*v));

	*out = NULL;
	*n = 0;
	if (!v)
		return -ENOMEM;
	post_order(m, top, v, n, 0);
	*out = v;
	return 0;
}

int pifs_mounts_serve(const struct pifs_mounts *m, const char *store_path)
{
	char *real = realpath(store_path, NULL);
	struct stat want, s;
	int have = stat(store_path, &want) == 0, found = 0;

	/* pifsd names its mount after the store path it was given, with
	 * ',' made '_' (fs/pifsd.c) */
	for (char *p = real; p && *p; p++)
		if (*p == ',')
			*p = '_';
	for (size_t i = 0; i < m->n && !found; i++) {
		const char *src = m->v[i].source;

		if (strcmp(m->v[i].type, "fuse.pifs"))
			continue;
		found = (real && !strcmp(src, real)) ||
			(have && src[0] == '/' && stat(src, &s) == 0 &&
			 s.st_dev == want.st_dev && s.st_ino == want.st_ino);
	}
	free(real);
	return found;
}

char *pifs_mounts_resolve(const char *mnt)
{
	char *copy = strdup(mnt), *slash, *r, *base, link[2];
	const char *dir;
	size_t len;

	if (!copy)
		return NULL;
	len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	slash = strrchr(copy, '/');
	base = slash ? slash + 1 : copy;
	/* ".", "..", "/" and symlinks: resolve the whole path */
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..") ||
	    readlink(copy, link, sizeof(link)) >= 0) {
		r = realpath(copy, NULL);
		free(copy);
		return r;
	}
	if (slash == copy)
		dir = "/";
	else if (slash) {
		*slash = '\0';
		dir = copy;
	} else {
		dir = ".";
	}
	r = realpath(dir, NULL);
	if (r) {
		char *full =
		    pifs_strdupf("%s%s%s", r, strcmp(r, "/") ? "/" : "", base);

		free(r);
		r = full;
	}
	free(copy);
	return r;
}
