/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * layers.h - the one statement of what a view shows: a worker's delta over
 * its golden, in the overlayfs on-disk format.  For NAME in a directory:
 *
 *   - a delta entry that is a char device 0:0 (a whiteout) hides the
 *     golden entry and shows nothing;
 *   - a delta entry that is not a directory is shown alone;
 *   - a delta directory with trusted.overlay.opaque "y" is shown alone:
 *     nothing of the golden below it shows;
 *   - any other delta directory merges with a golden directory: the one
 *     its trusted.overlay.redirect "/PATH" names, else the golden one at
 *     its parent's golden path + "/" + NAME;
 *   - with no delta entry, the golden entry at the parent's golden path +
 *     "/" + NAME shows (if the parent has a golden path).
 *
 * The view (namei.c) applies it name by name as the kernel does, the CLI
 * and the snapshot code walk a whole path with pifs_layers_resolve() over
 * the delta on disk (pifs_layers_delta_get) or a snapshot's META
 * (pifs_meta_layers_get in meta.h).  No FUSE, no libgit2.  Golden paths
 * are relative, without a leading '/'; "" (or ".") is the golden's root.
 */
#ifndef PIFS_LAYERS_H
#define PIFS_LAYERS_H

#include <stddef.h>
#include <sys/types.h>

/* Is a delta entry of this type and device number a whiteout? */
int pifs_layers_is_whiteout(mode_t mode, dev_t rdev);

/* Does an opaque xattr value (LEN bytes) make a directory opaque? */
int pifs_layers_is_opaque(const void *value, size_t len);

/* The golden path a redirect xattr value (LEN bytes) names, malloc'd into
 * *out without its leading '/'; *out NULL (and 0) when the value is not a
 * redirect pifs follows: not absolute, "/" alone, or with ".." or "//" in
 * it.  -ENOMEM. */
int pifs_layers_redirect(const void *value, size_t len, char **out);

/* One delta entry, as much as the rule needs. */
struct pifs_layers_entry {
	mode_t mode;	/* its S_IFMT type (permission bits unused) */
	dev_t rdev;
	int opaque;	/* a directory with the opaque xattr */
	char *redirect; /* a directory's redirect (pifs_layers_redirect), owned */
};

void pifs_layers_entry_release(struct pifs_layers_entry *e);

/* Fill E's opaque and redirect from the xattrs of the delta directory FD
 * (an O_PATH fd will do); E's mode and rdev are the caller's.  -ENOMEM. */
int pifs_layers_entry_xattrs(int fd, struct pifs_layers_entry *e);

/* Where the golden below a delta entry comes from. */
enum pifs_layers_below {
	PIFS_LAYERS_NONE,     /* nothing of the golden shows */
	PIFS_LAYERS_JOINED,   /* PARENT_GOLDEN + "/" + NAME */
	PIFS_LAYERS_REDIRECT, /* the entry's redirect */
};

/* The golden path that shows at NAME in a directory whose golden path is
 * PARENT_GOLDEN (NULL: none), given the delta entry E there (NULL: none).
 * Returns the enum above with the path malloc'd into *golden (NULL with
 * PIFS_LAYERS_NONE), -ENOENT when E is a whiteout, -ENOMEM. */
int pifs_layers_below(const char *parent_golden, const char *name,
		      const struct pifs_layers_entry *e, char **golden);

/* A source of delta entries by path ("a/b", never "." or ""): fill *E and
 * return 1 when the delta has an entry at PATH, 0 when not, or -errno. */
typedef int (*pifs_layers_get_fn)(void *ctx, const char *path,
				  struct pifs_layers_entry *e);

/* What a view shows at a path (pifs_layers_resolve). */
struct pifs_layers_hit {
	int in_delta;  /* the delta has an entry at PATH (maybe a whiteout) */
	int whiteout;  /* ... and it is a whiteout */
	mode_t mode;   /* the delta entry's type, when in_delta */
	char *golden;  /* the golden path at PATH's place (a delta directory's
			* redirect applied), or NULL when an ancestor in the
			* delta hides the golden there; malloc'd, caller frees */
	int merged;    /* the golden at ->golden shows at PATH: no delta entry,
			* or a delta directory neither opaque nor a whiteout */
};

/* Walk PATH ("." or "" is the root) one name at a time through the delta
 * entries GET gives, from the root down.  -ENOMEM or GET's error; *hit is
 * zeroed on error. */
int pifs_layers_resolve(const char *path, pifs_layers_get_fn get, void *ctx,
			struct pifs_layers_hit *hit);

/* A pifs_layers_get_fn over a delta on disk: CTX points to an int, an fd
 * of the delta's root directory (-1: no delta, no entries).  Never follows
 * a symlink. */
int pifs_layers_delta_get(void *ctx, const char *path,
			  struct pifs_layers_entry *e);

#endif
