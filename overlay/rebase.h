/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rebase.h - move a worker's changes from one golden onto another
 * (`pifs rebase`), on the level of a snapshot's META: what the worker
 * changed stays, what the new golden changed shows through, and where
 * both changed the same path the worker's version is kept (or, with
 * theirs, the golden's) and the path is listed as a conflict.
 *
 * "Changed by the golden" compares the two goldens' manifests: type,
 * mode, owner, device numbers, xattrs and (not for directories) content;
 * mtimes alone are not a change.  What the worker changed is what its
 * delta holds, with one refinement for directories: a directory the delta
 * holds only because something below it changed (its mode, owner and
 * xattrs are still the old golden's) takes the new golden's attributes.
 *
 * The cases, for a delta entry at path P over golden path L (L follows a
 * renamed parent's redirect; nothing under an opaque directory has an L):
 *   whiteout      L gone from the new golden: dropped (both deleted it);
 *                 L renamed in the view (a redirect names it): kept, no
 *                 conflict (its contents live on there);
 *                 L or anything below it changed: conflict.
 *   opaque dir    L or anything below it changed: conflict.
 *   directory     L a directory in both: attributes as above (conflict if
 *                 the worker and the golden both changed them); L removed
 *                 or no longer a directory in the new golden: dropped
 *                 quietly when nothing of the worker's is left below it
 *                 and its attributes are the old golden's, else conflict.
 *   anything else L changed (or removed) by the golden, or added by the
 *                 golden where the worker added P: conflict.
 * theirs drops the worker's entry at a conflict (and everything below it,
 * and the other names of its hard-link group) so the new golden's shows;
 * for a directory's attributes it takes the golden's.  Copy-up origins
 * (trusted.pifs.origin) are re-pointed at the new golden's inodes, so node
 * ids stay derived from the golden the worker is on.
 */
#ifndef PIFS_REBASE_H
#define PIFS_REBASE_H

#include <stddef.h>

#include "meta.h"
#include "store.h"

struct pifs_conflict {
	char *path;
	char what[96];
};

/* Rebuild m (a worker's META, on golden m->golden) onto golden new_id into
 * *out (blob ids carried over).  conflicts gets the list (sorted by
 * path).  errbuf says what went wrong. */
int pifs_rebase_meta(struct pifs_store *st, const struct pifs_meta *m,
		     const char *new_id, int theirs, struct pifs_meta *out,
		     struct pifs_conflict **conflicts, size_t *nconflicts,
		     char *errbuf, size_t errlen);
void pifs_conflicts_free(struct pifs_conflict *c, size_t n);

/* STORE/conflicts/<worker>: the conflicts of the worker's last rebase,
 * one "<escaped path> <what>" per line, until its next reset or rebase or
 * `pifs rebase --resolved`.  save with n == 0 removes the file. */
int pifs_conflicts_save(struct pifs_store *st, const char *worker,
			const struct pifs_conflict *c, size_t n);
int pifs_conflicts_load(struct pifs_store *st, const char *worker,
			struct pifs_conflict **c, size_t *n);

#endif
