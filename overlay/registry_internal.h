/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry_internal.h - what registry.c (the operations) and
 * registry_line.c (the file's text) share; not for other files.
 */
#ifndef PIFS_REGISTRY_INTERNAL_H
#define PIFS_REGISTRY_INTERNAL_H

#include <stddef.h>

#include "registry.h"

/* registry.c */

/* The model and prefix rules shared by add and the parser; errbuf says
 * which is broken.  0 or -EINVAL. */
int registry_model_check(const struct pifs_worker *w, char *errbuf,
			 size_t errlen);
/* -EEXIST when w clashes with a registered worker (name, serial, MAC,
 * address or TFTP directory); errbuf says how. */
int registry_worker_clash(const struct pifs_registry *reg,
			  const struct pifs_worker *w, char *errbuf,
			  size_t errlen);
/* Append w (already checked), keeping the array sorted by name. */
int registry_insert(struct pifs_registry *reg, const struct pifs_worker *w);

#endif
