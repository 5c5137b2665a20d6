/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mounts.h - the mount table as the pifs CLI and pifsd need it: which mount is
 * visible at a path, the mounts stacked below it (in an order to unmount
 * them), and whether a pifsd serves a given store.  Read from
 * /proc/<pid>/mountinfo only: nothing here looks into a mount (only
 * store paths are stat'ed), so a hung or dead FUSE daemon cannot block it.
 */
#ifndef PIFS_MOUNTS_H
#define PIFS_MOUNTS_H

#include <stddef.h>
#include <sys/types.h>

/* One line of mountinfo; the strings are unescaped (\040 is a space). */
struct pifs_mount {
	int id;
	int parent;   /* id of the mount it sits on */
	char *point;  /* mount point */
	char *type;   /* file system type, "fuse.pifs" for pifsd */
	char *source; /* pifsd's is its store path (',' made '_') */
};

/* The table, in mountinfo's order (a mount after the one it sits on). */
struct pifs_mounts {
	struct pifs_mount *v;
	size_t n;
};

/* Read /proc/self/mountinfo (pid 0) or /proc/<pid>/mountinfo into *out,
 * which the caller releases.  -ENOENT (no such process), -ENOMEM, -errno;
 * *out is empty on error. */
int pifs_mounts_load(struct pifs_mounts *out, pid_t pid);
void pifs_mounts_release(struct pifs_mounts *m);

/* The mount visible at the absolute, resolved path (the top of what is
 * stacked there), or NULL. */
const struct pifs_mount *pifs_mounts_at(const struct pifs_mounts *m,
					const char *path);

/* Everything mounted on top (its descendants, at any depth) and top itself
 * last, in an order that unmounts each before what it sits on: *out gets a
 * malloc'd array of *n pointers into m.  0 or -ENOMEM. */
int pifs_mounts_below(const struct pifs_mounts *m, const struct pifs_mount *top,
		      const struct pifs_mount ***out, size_t *n);

/* Does the table hold a pifsd mount of the store at store_path (told by
 * the source naming the same directory, or its name)?  1 or 0. */
int pifs_mounts_serve(const struct pifs_mounts *m, const char *store_path);

/* The absolute path of the mount point mnt names, resolved without
 * looking at mnt itself unless it is a symlink (a stat of a FUSE mount's
 * root would wait for its daemon): malloc'd, or NULL when its parent
 * does not resolve. */
char *pifs_mounts_resolve(const char *mnt);

#endif
