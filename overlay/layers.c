/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * layers.c - what a view shows: whiteouts, opaque directories and
 * redirects, the rule layers.h states, written once for the view's lookup,
 * the CLI's walks of a delta and the snapshot code's walks of META.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "layers.h"
#include "safeio.h"
#include "util.h"
#include "xattr.h"

int pifs_layers_is_whiteout(mode_t mode, dev_t rdev)
{
	return S_ISCHR(mode) && rdev == makedev(0, 0);
}

int pifs_layers_is_opaque(const void *value, size_t len)
{
	return len == 1 && ((const char *)value)[0] == 'y';
}

int pifs_layers_redirect(const void *value, size_t len, char **out)
{
	const char *v = value;

	*out = NULL;
	if (len <= 1 || v[0] != '/' || memchr(v, '\0', len))
		return 0;
	if (!(*out = strndup(v + 1, len - 1)))
		return -ENOMEM;
	if (strstr(*out, "..") || strstr(*out, "//")) {
		free(*out);
		*out = NULL;
	}
	return 0;
}

void pifs_layers_entry_release(struct pifs_layers_entry *e)
{
	free(e->redirect);
	e->redirect = NULL;
}

int pifs_layers_entry_xattrs(int fd, struct pifs_layers_entry *e)
{
	char buf[PATH_MAX];
	ssize_t r;

	e->opaque = 0;
	e->redirect = NULL;
	r = pifs_lgetxattr(fd, NULL, PIFS_XATTR_OPAQUE, buf, 8);
	e->opaque = r > 0 && pifs_layers_is_opaque(buf, (size_t)r);
	r = pifs_lgetxattr(fd, NULL, PIFS_XATTR_REDIRECT, buf, sizeof(buf));
	return r > 0 ? pifs_layers_redirect(buf, (size_t)r, &e->redirect) : 0;
}

static char *join(const char *dir, const char *name)
{
	if (!dir[0] || !strcmp(dir, "."))
		return strdup(name);
	return pifs_strdupf("%s/%s", dir, name);
}

int pifs_layers_below(const char *parent_golden, const char *name,
		      const struct pifs_layers_entry *e, char **golden)
{
	*golden = NULL;
	if (e && pifs_layers_is_whiteout(e->mode, e->rdev))
		return -ENOENT;
	if (e && (!S_ISDIR(e->mode) || e->opaque))
		return PIFS_LAYERS_NONE;
	if (e && e->redirect) {
		*golden = strdup(e->redirect);
		return *golden ? PIFS_LAYERS_REDIRECT : -ENOMEM;
	}
	if (!parent_golden)
		return PIFS_LAYERS_NONE;
	*golden = join(parent_golden, name);
	return *golden ? PIFS_LAYERS_JOINED : -ENOMEM;
}

int pifs_layers_resolve(const char *path, pifs_layers_get_fn get, void *ctx,
			struct pifs_layers_hit *hit)
{
	char *pre = strdup(path), *gold = strdup(path), *next;
	size_t end = 0, len = strlen(path);
	int r = 0;

	memset(hit, 0, sizeof(*hit));
	if (!pre || !gold) {
		r = -ENOMEM;
		goto out;
	}
	if (!path[0] || !strcmp(path, ".")) {
		hit->merged = 1;
		hit->golden = gold;
		gold = NULL;
		goto out;
	}
	free(gold);
	gold = strdup("");
	if (!gold) {
		r = -ENOMEM;
		goto out;
	}
	/* From the root down: GOLD is the golden path of the directory
	 * holding the name at END, NULL once the delta hid the golden. */
	while (end < len) {
		struct pifs_layers_entry e = { 0 };
		const char *name = path + end;
		size_t nlen = strcspn(name, "/");
		int last = end + nlen >= len, found;

		memcpy(pre, path, end + nlen);
		pre[end + nlen] = '\0';
		if ((found = get(ctx, pre, &e)) < 0) {
			r = found;
			goto out;
		}
		pre[end + nlen] = '\0';
		name = pre + end;
		if (last) {
			hit->in_delta = found;
			if (found) {
				hit->mode = e.mode & S_IFMT;
				hit->whiteout = pifs_layers_is_whiteout(e.mode, e.rdev);
			}
			hit->merged = !found || (S_ISDIR(e.mode) && !e.opaque);
			/* The golden at this place, shown or hidden. */
			if (found && S_ISDIR(e.mode) && e.redirect) {
				next = e.redirect;
				e.redirect = NULL;
			} else {
				next = gold ? join(gold, name) : NULL;
				if (gold && !next) {
					pifs_layers_entry_release(&e);
					r = -ENOMEM;
					goto out;
				}
			}
			hit->golden = next;
			hit->merged = hit->merged && next;
			pifs_layers_entry_release(&e);
			break;
		}
		r = pifs_layers_below(gold, name, found ? &e : NULL, &next);
		pifs_layers_entry_release(&e);
		if (r == -ENOENT)
			r = PIFS_LAYERS_NONE; /* a whiteout: nothing below */
		if (r < 0)
			goto out;
		r = 0;
		free(gold);
		gold = next;
		end += nlen + 1;
		while (end < len && path[end] == '/')
			end++;
	}
out:
	free(pre);
	free(gold);
	if (r < 0) {
		free(hit->golden);
		memset(hit, 0, sizeof(*hit));
	}
	return r;
}

int pifs_layers_delta_get(void *ctx, const char *path,
			  struct pifs_layers_entry *e)
{
	int root = *(const int *)ctx, fd, r;
	struct stat st;

	memset(e, 0, sizeof(*e));
	if (root < 0)
		return 0;
	/* Below a non-directory (a symlink too) of the delta: no entry. */
	r = pifs_lstat_beneath(root, path, &st);
	if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP)
		return 0;
	if (r < 0)
		return r;
	e->mode = st.st_mode & S_IFMT;
	e->rdev = st.st_rdev;
	if (!S_ISDIR(st.st_mode))
		return 1;
	fd = pifs_openat_beneath(root, path, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	r = pifs_layers_entry_xattrs(fd, e);
	close(fd);
	return r < 0 ? r : 1;
}
