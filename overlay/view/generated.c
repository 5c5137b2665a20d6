/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * generated.c - the identity files a view shows without a delta entry
 * (identity.h: cmdline.txt, hostname, hosts, fstab, machine-id), generated
 * per worker over the golden's own file where it has one: their content,
 * their attributes, and a sealed copy to read.  A worker's own edit of one
 * is copied up like any other file (copy_up.c) and wins from then on.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity.h"
#include "safeio.h"
#include "view.h"
#include "internal.h"

/* The content of generated file KIND in view V; GOLDEN_PATH is the
 * golden's own file at that place, or NULL. */
int gen_build(struct pifs_view *v, enum pifs_gen kind, const char *golden_path,
	      char **out, size_t *len)
{
	char master[sizeof(v->fs->store.conf.master)];
	struct pifs_identity id = { .worker = v->name, .serial = v->serial,
				    .master = master, .tftp_dir = v->tftp_dir };
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
int gen_stat(struct pifs_view *v, enum pifs_gen kind, const char *golden_path,
	     struct stat *st)
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

/* A generated file opened for reading: its content in a sealed memfd. */
int gen_open(struct pifs_view *v, struct pifs_node *n)
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

/* The golden directories that hold generated files. */
static const char *const gen_dirs[] = {"etc", "boot/firmware"};

/* What the kernel must forget of view V's generated files, over the
 * golden tree LOWER: for each, its name in its directory and its inode. */
static int gen_inval(struct pifs_view *v, int lower, struct pifs_inval **inv,
		     size_t *n)
{
	const size_t ndirs = sizeof(gen_dirs) / sizeof(gen_dirs[0]);
	struct pifs_inval *a;
	size_t k = 0, want = 0;

	for (size_t i = 0; i < ndirs; i++)
		for (const char *const *g = pifs_gen_names(gen_dirs[i]); g && *g; g++)
			want++;
	if (!(a = calloc(want ? want : 1, sizeof(*a))))
		return -ENOMEM;
	for (size_t i = 0; i < ndirs; i++) {
		const char *const *g = pifs_gen_names(gen_dirs[i]);
		struct stat dst;

		if (pifs_lstat_beneath(lower, gen_dirs[i], &dst) < 0)
			continue;
		for (; g && *g; g++) {
			uint64_t gino = PIFS_GEN_INO_BASE +
					pifs_gen_kind(gen_dirs[i], *g);
			char path[64];
			struct stat st;

			snprintf(path, sizeof(path), "%s/%s", gen_dirs[i], *g);
			if (pifs_lstat_beneath(lower, path, &st) == 0)
				gino = st.st_ino;
			if (!(a[k].name = strdup(*g))) {
				pifs_inval_free(a, k);
				return -ENOMEM;
			}
			a[k].parent = pifs_make_id(v->id, 0, dst.st_ino);
			a[k++].id = pifs_make_id(v->id, 0, gino);
		}
	}
	*inv = a;
	*n = k;
	return 0;
}

int pifs_fs_generated_inval(struct pifs_fs *fs, struct pifs_view_inval **out,
			    size_t *n)
{
	struct pifs_view_inval *a;
	size_t k = 0, cap;
	int *lower, r = 0;

	*out = NULL;
	*n = 0;
	/* The lower fds stay valid outside the lock: goldens are kept open
	 * until close. */
	pthread_mutex_lock(&fs->views_lock);
	cap = fs->nviews ? fs->nviews : 1;
	a = calloc(cap, sizeof(*a));
	lower = calloc(cap, sizeof(*lower));
	for (size_t i = 0; a && lower && i < fs->nviews; i++)
		if (!fs->views[i]->gone) {
			a[k].view = fs->views[i];
			lower[k++] = fs->views[i]->lower_root;
		}
	pthread_mutex_unlock(&fs->views_lock);
	if (!a || !lower) {
		free(a);
		free(lower);
		return -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < k; i++)
		r = gen_inval(a[i].view, lower[i], &a[i].inv, &a[i].n);
	free(lower);
	if (r < 0) {
		for (size_t i = 0; i < k; i++)
			pifs_inval_free(a[i].inv, a[i].n);
		free(a);
		return r;
	}
	*out = a;
	*n = k;
	return 0;
}
