/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * exports.h - the kernel NFS server's exports of a store's workers: the
 * text `pifs exports` prints, and keeping it installed (pifs exports
 * --install FILE, conf.exports): FILE rewritten from the registry and
 * `exportfs -r` run after every registry change, by the CLI that made it
 * and by pifsd once a worker's file system is mounted (exports.c says
 * why both).
 */
#ifndef PIFS_EXPORTS_H
#define PIFS_EXPORTS_H

#include <stddef.h>

#include "registry.h"
#include "store.h"

#define PIFS_EXPORTS_FSID_BASE 1000 /* a worker's fsid: this + view id */
#define PIFS_EXPORTS_NFSROOT "/nfsroot" /* the default DIR/<worker> */
#define PIFS_EXPORTS_RELOAD_MS 30000	/* exportfs -r is killed after */

/* The text of `pifs exports` (malloc'd, NULL when out of memory): one
 * export line per worker with an address, nfsroot/<worker> open to that
 * address only, and the NFS-Ganesha equivalent as comments.  store: the
 * store's absolute path (named in the header); installed: the file pifs
 * keeps it in, or NULL (the header says how to apply it then). */
char *pifs_exports_text(const char *store, const struct pifs_registry *reg,
			const char *nfsroot, const char *installed);

/* Replace file with text atomically (a dot file beside it, which
 * exportfs ignores, renamed over it), mode 0644.  A file that exists
 * and was not written by pifs for this store is left alone: -EEXIST.
 * 0 or -errno. */
int pifs_exports_write(const char *file, const char *store, const char *text);

/* Remove file if pifs wrote it for store (-EEXIST if not); 0 when gone. */
int pifs_exports_remove(const char *file, const char *store);

/* Run `exportfs -r` (PATH, then /usr/sbin and /sbin) in a child that
 * gets none of the caller's fds but a pipe for its output, wait for it
 * (killed after PIFS_EXPORTS_RELOAD_MS) and reap it.  0 when it exited
 * 0; else -errno with msg saying why in one line (not found, its exit
 * status and first line of output, killed). */
int pifs_exports_reload(char *msg, size_t msglen);

/* When st's conf has exports set: write reg's text there and run
 * exportfs -r.  0 (or nothing to do); -errno with err naming the step
 * that failed (the file or exportfs).  The caller holds the store lock
 * (two writers of the file then follow the registry's order). */
int pifs_exports_apply(struct pifs_store *st, const struct pifs_registry *reg,
		       char *err, size_t errlen);

/* pifsd: start starts a thread of its own for the store at store_path;
 * each kick makes it apply the store's exports soon (a lookup or the
 * control thread never waits for exportfs); several kicks while it runs
 * make one more run.  The store lock is taken there, bounded.  stop ends
 * the thread (waits for a running exportfs, bounded as above). */
void pifs_exports_start(const char *store_path);
void pifs_exports_kick(void);
void pifs_exports_stop(void);

#endif
