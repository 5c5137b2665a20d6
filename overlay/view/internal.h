/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * internal.h - private to overlay/view/: the types its files share (a
 * lookup result, a listing being built, the journal's flags) and the
 * functions one file calls in another, grouped by the file that defines
 * them.  Nothing outside overlay/view/ includes it: the interface is
 * view.h.
 */
#ifndef PIFS_VIEW_INTERNAL_H
#define PIFS_VIEW_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "identity.h"
#include "view.h"

/* What the journal records for a path (jn_node): it changed
 * (JF_DIRTY); a directory whose whole content is new (JF_FULL). */
#define JF_DIRTY 1u
#define JF_FULL	 2u

/* view.c */
/* lstat of PATH in V's golden, beneath its root (st may be NULL). */
int lower_exists(struct pifs_view *v, const char *path, struct stat *st);

/* journal.c */
/* Empty the journal's set (jlock held, or the view going away). */
void journal_clear(struct pifs_view *v);
/* Give up on the set: the next snapshot stats everything (jlock
 * held). */
void journal_drop(struct pifs_view *v);
/* Record n's delta path (+ "/name") with JF_* flags; caller holds
 * the view lock. */
void jn_node(struct pifs_view *v, const struct pifs_node *n, const char *name,
	     unsigned flags);

/* generated.c */
/* The content of generated file KIND in view V, malloc'd. */
int gen_build(struct pifs_view *v, enum pifs_gen kind, const char *golden_path,
	      char **out, size_t *len);
/* The attributes of generated file KIND in view V. */
int gen_stat(struct pifs_view *v, enum pifs_gen kind, const char *golden_path,
	     struct stat *st);
/* Generated file N's content in a sealed memfd (the fd), or -errno. */
int gen_open(struct pifs_view *v, struct pifs_node *n);

#endif
