/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops.h - the pifsd daemon state and its FUSE low-level operations table.
 */
#ifndef PIFS_OPS_H
#define PIFS_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "view.h"

struct pifsd {
	struct pifs_fs fs;
	double timeout;       /* entry and attribute cache, seconds */
	int golden_direct;    /* golden-backed files bypass the FUSE page
			       * cache so every view shares the golden's */
	struct fuse_session *se;
};

extern const struct fuse_lowlevel_ops pifsd_ops;

#endif
