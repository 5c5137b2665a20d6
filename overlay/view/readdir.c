/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * readdir.c - directory listings: the merged listing of a view directory
 * (its delta entries, the golden's entries no whiteout hides, generated
 * files the golden lacks), taken whole at opendir; the listings of the
 * static directories; and the emptiness test rmdir and rename use.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity.h"
#include "safeio.h"
#include "view.h"
#include "internal.h"

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

int dir_add(struct dirbuf *b, const char *name, uint64_t ino,
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
int list_merged(struct pifs_view *v, struct pifs_node *n, struct dirbuf *b,
		int stop_at_one)
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

void dirbuf_release(struct dirbuf *b)
{
	free(b->seen.slot);
	for (size_t i = 0; i < b->nwh; i++)
		free(b->wh[i]);
	free(b->wh);
}

/* 1 if the merged directory N has any visible entry, 0 if empty. */
int dir_has_entries(struct pifs_view *v, struct pifs_node *n)
{
	struct pifs_dir d = { 0 };
	struct dirbuf b = { .d = &d };
	int r = list_merged(v, n, &b, 1);

	dirbuf_release(&b);
	free(d.ents);
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
