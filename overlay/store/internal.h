/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store/internal.h - what the store's files share and nothing outside
 * overlay/store/ uses (the store's interface is store.h), grouped by the
 * file that defines it.  Every function returns 0 (or a count) or -errno.
 */
#ifndef PIFS_STORE_INTERNAL_H
#define PIFS_STORE_INTERNAL_H

#include <stdio.h>

#include "store.h"

/* util.c */
/* Remove every entry inside the directory fd dfd (first error returned,
 * the rest still removed). */
int pifs_store_empty_dir(int dfd);
/* 1 if the directory fd has no entries, 0 if it has, -errno. */
int pifs_store_dir_is_empty(int dfd);
/* mkdir dirfd/name 0700, root:root whatever the parent's setgid says. */
int pifs_store_mkdir_private(int dirfd, const char *name);
/* An empty 0600 file dirfd/name (no symlink followed). */
int pifs_store_create_file(int dirfd, const char *name);
/* 1 when the resolved path store lies inside the resolved golden. */
int pifs_store_path_inside(const char *store, const char *golden);

/* treecopy.c */
/* Copy sdir/sname to ddir/dname with every attribute (pifs_tree_copy);
 * prefix names the source in messages (may be NULL); a progress bar on
 * bar_fd (-1: none), else a line per 10,000 entries to progress (may be
 * NULL). */
int pifs_store_tree_copy(int sdir, const char *sname, int ddir,
			 const char *dname, FILE *progress, int bar_fd,
			 const char *prefix, char *errbuf, size_t errlen);
/* Set the immutable flag on parent/name and everything below it. */
int pifs_store_set_immutable(int parent, const char *name);

/* golden.c */
/* What a golden source is: a directory (*gfd_out an open fd on it) or a
 * disk image (*is_image, *gfd_out -1); refused with errbuf set when it is
 * neither, missing or an empty directory. */
int pifs_store_golden_source(const char *src, int *gfd_out, int *is_image,
			     char *errbuf, size_t errlen);
/* Copy or import a golden into STORE/goldens (sfd) as goldens/<id>;
 * -EEXIST (id filled) when the store has it already. */
int pifs_store_golden_install(int sfd, const char *src, int gfd,
			      int is_image,
			      const struct pifs_store_create_opts *o,
			      char id[17], char *errbuf, size_t errlen);

#endif
