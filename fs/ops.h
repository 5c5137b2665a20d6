/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops.h - the pifsd daemon state and its FUSE low-level operations table.
 */
#ifndef PIFS_OPS_H
#define PIFS_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>

#include "view.h"

struct pifsd {
	struct pifs_fs fs;
	double timeout;       /* entry and attribute cache, seconds */
	int golden_direct;    /* golden-backed files bypass the FUSE page
			       * cache so every view shares the golden's */
	struct fuse_session *se;
	int ctl_fd;             /* the control socket, or -1 */
	pthread_t ctl_thread;
	int ctl_running;
};

extern const struct fuse_lowlevel_ops pifsd_ops;

/* ctl.c: the control socket (overlay/ctl.h): bound before the mount
 * (threads do not survive daemonizing), served after. */
int pifsd_ctl_listen(struct pifsd *d);
int pifsd_ctl_run(struct pifsd *d);
void pifsd_ctl_stop(struct pifsd *d);

#endif
