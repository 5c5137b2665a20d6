/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store.h - the on-disk store: layout, creation, locking and the golden
 * tree copy.  Layout (every directory 0700 root unless said):
 *
 *   STORE/pifs.conf            key value lines: "format 1", "golden <id>",
 *                              "master <ipv4>", "range <ip>-<ip>", and
 *                              "enroll on|off <max>" only when it is not
 *                              the default (off, 5), so a store that never
 *                              had enrolment on stays readable by an older
 *                              pifs; "hostsdir <dir>" once `pifs
 *                              dnsmasq-conf --hosts-dir` set it;
 *                              "exports <file> <nfsroot>" once `pifs
 *                              exports --install` set it (exports.h)
 *   STORE/workers              the registry (registry.h)
 *   STORE/goldens/<id>/tree/   the golden tree, immutable flag set where the
 *                              file system supports it
 *   STORE/goldens/<id>/manifest
 *   STORE/goldens/<id>/info    source, creation time, size (golden list)
 *   STORE/deltas/<worker>/     a worker's upper layer; its root carries the
 *                              golden root's owner/mode/times
 *   STORE/work/                scratch for atomic copy-up; same file system
 *   STORE/lock/daemon          flock held by the mounted pifsd (and its pid)
 *   STORE/lock/store           flock held briefly by every CLI change
 *
 * Delta format (overlayfs compatible, so `mount -t overlay` with
 * lowerdir=tree,upperdir=delta shows the same view): a whiteout is a char
 * device 0:0; an opaque directory has xattr trusted.overlay.opaque="y"; a
 * directory renamed away from its golden path has trusted.overlay.redirect
 * = "/<golden path>".  pifs adds trusted.pifs.origin (8 bytes, little
 * endian golden inode number) on every entry copied up from the golden,
 * so node ids survive copy-up.  All trusted.overlay.* and trusted.pifs.*
 * names are hidden from clients.
 */
#ifndef PIFS_STORE_H
#define PIFS_STORE_H

#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

#include "manifest.h"
#include "registry.h"
#include "xattr.h" /* the PIFS_XATTR_* names, pifs_xattr_private */

struct pifs_store_conf {
	unsigned format;
	char golden[17];    /* golden id */
	char master[16];    /* master IPv4, default 10.1.1.100 */
	char range_lo[16];  /* default 10.1.1.1 */
	char range_hi[16];  /* default 10.1.1.20 */
	int enroll;         /* pifs enroll on: pifsd registers unknown boards */
	unsigned enroll_max;/* at most this many enrolled, not accepted */
	char hostsdir[256]; /* dnsmasq's dhcp-hostsdir pifs keeps, or "" */
	char exports[256];  /* the exports file pifs keeps, or "" */
	char exports_root[256]; /* its DIR/<worker> (pifs exports --nfsroot) */
};

#define PIFS_ENROLL_MAX_DEFAULT 5
#define PIFS_ENROLL_MAX_LIMIT 1000

struct pifs_store {
	char *path;        /* as given, owned */
	int fd;            /* O_PATH|O_DIRECTORY of STORE */
	struct pifs_store_conf conf;
	int golden_fd;     /* O_PATH|O_DIRECTORY of goldens/<id>/tree */
	int deltas_fd;     /* O_PATH|O_DIRECTORY of deltas */
	int work_fd;       /* O_PATH|O_DIRECTORY of work */
	int lock_fd;       /* lock/store while held, else -1 */
	int daemon_lock_fd;/* lock/daemon while held, else -1 */
};

/* Create a new store at path from the golden directory: copy the tree
 * with every attribute (owner, full mode, ns times, xattrs, hard links,
 * symlinks, devices, fifos, sockets, sparse files), write the manifest,
 * set immutable flags.  path must not exist or be an empty directory.
 * master may be NULL (default).  progress (may be NULL) gets a line now
 * and then.  On failure nothing is left behind (a path we created is
 * removed).  errbuf gets a one-line message. */
int pifs_store_create(const char *path, const char *golden_dir,
		      const char *master, FILE *progress, char *errbuf,
		      size_t errlen);

/* As pifs_store_create, with golden a directory or a disk image file
 * (.img, .img.xz, .img.gz or a block device: image.h), and options. */
struct pifs_store_create_opts {
	const char *master;		/* NULL: 10.1.1.100 */
	FILE *progress;			/* lines now and then, or NULL */
	int bar_fd;			/* a terminal for the import bar, or -1 */
	int warn;			/* log image warnings (pifs_warn) */
	volatile sig_atomic_t *cancel;	/* set: stop, leave nothing behind */
};
int pifs_store_create_opts(const char *path, const char *golden,
			   const struct pifs_store_create_opts *o,
			   char *errbuf, size_t errlen);

/* goldens/<id>/info, written when a golden is created: "source <escaped
 * absolute path>", "created <unix time>", "size <bytes of file data>",
 * "files <regular files>".  -ENOENT for a golden made before it existed. */
struct pifs_golden_info {
	char *source; /* owned */
	long long created;
	unsigned long long size; /* bytes of file data (apparent sizes) */
	unsigned long files;
	unsigned long long disk; /* bytes on disk: holes free, links once */
	int have_disk;		 /* disk is known */
};
int pifs_store_golden_info(struct pifs_store *st, const char *id,
			   struct pifs_golden_info *info);
void pifs_golden_info_release(struct pifs_golden_info *info);

/* Open an existing store; -ENOENT "no store at", -EINVAL "not a pifs
 * store" (errbuf says which). */
int pifs_store_open(struct pifs_store *st, const char *path, char *errbuf,
		    size_t errlen);
void pifs_store_close(struct pifs_store *st);

/* Re-read pifs.conf into st->conf (-EINVAL if it does not parse, and
 * st->conf is kept), or replace it atomically with conf (caller holds the
 * store lock). */
int pifs_store_conf_reload(struct pifs_store *st);
/* The dnsmasq reservations of reg (one "MAC,IP,NAME" line per worker
 * whose MAC and address are known) into HOSTSDIR/pifs-workers, replaced
 * atomically (a temporary dot file, which dnsmasq ignores, renamed in:
 * dnsmasq reads it at once through inotify, no SIGHUP).  Nothing when
 * conf.hostsdir is unset.  0 or -errno. */
int pifs_store_hosts_write(struct pifs_store *st,
			   const struct pifs_registry *reg);
/* Parse pifs.conf into *out, leaving st->conf as it is. */
int pifs_store_conf_read(struct pifs_store *st, struct pifs_store_conf *out);
int pifs_store_conf_save(struct pifs_store *st, const struct pifs_store_conf *conf);

/* Exclusive CLI lock (blocking, bounded by timeout_ms; -EAGAIN on
 * timeout) and the daemon lock (non-blocking; -EBUSY if held; *pid_out
 * gets the holder's pid when known). */
int pifs_store_lock(struct pifs_store *st, int timeout_ms);
void pifs_store_unlock(struct pifs_store *st);
int pifs_store_lock_daemon(struct pifs_store *st, pid_t *pid_out);
/* 1 if a daemon holds the store (pid in *pid_out), 0 if not, -errno. */
int pifs_store_mounted(struct pifs_store *st, pid_t *pid_out);
/* Wait, polling and bounded by timeout_ms, until the store's daemon has
 * let go of it: lock/daemon is free and the process that last held it has
 * exited (a zombie counts as exited).  0 once it has; -ETIMEDOUT if not
 * in time (*pid_out: the daemon's pid, when known); -errno.  Meant for
 * just after the daemon was seen holding the store (an unmount): the pid
 * a daemon long dead left behind may by now be another process's. */
int pifs_store_wait_released(struct pifs_store *st, int timeout_ms,
			     pid_t *pid_out);

/* Create deltas/<name> for a new worker with the golden root's attributes
 * and origin; -EEXIST if it exists. */
int pifs_store_delta_create(struct pifs_store *st, const char *name);
/* The same on golden (an id; NULL: the default), fsync'd. */
int pifs_store_delta_create_on(struct pifs_store *st, const char *name,
			       const char *golden);
/* Remove deltas/<name> again, fsync'd: only for the undo of a create
 * that could not be recorded (a worker that never existed), never for a
 * worker's data (pifs_store_delta_retire keeps that). */
int pifs_store_delta_undo_create(struct pifs_store *st, const char *name);
/* 1 when deltas/<worker> has no entry (no file, no whiteout), 0 when it
 * has, -errno (-ENOENT: no delta). */
int pifs_store_delta_empty(struct pifs_store *st, const char *worker);
/* Create dirfd/name as an empty delta root exactly as
 * pifs_store_delta_create does (no fsync): on the default golden, or on
 * golden (an id) with the _on form. */
int pifs_store_delta_init(struct pifs_store *st, int dirfd, const char *name);
int pifs_store_delta_init_on(struct pifs_store *st, int dirfd,
			     const char *name, const char *golden);

/* ---- several goldens ----
 * A store holds any number of goldens (goldens/<id>); pifs.conf's
 * "golden" is the default one, which new workers start on.  Every delta
 * root records the golden it lies over in trusted.pifs.golden (16 hex
 * digits); a delta without it (made by an older pifs) is on the
 * default.  Snapshots record theirs in META. */
/* 0 for 16 lower-case hex digits, else -EINVAL. */
int pifs_golden_id_valid(const char *id);
/* A new O_PATH fd on goldens/<id>/tree (the caller closes it). */
int pifs_store_golden_open(struct pifs_store *st, const char *id);
/* Read and parse goldens/<id>/manifest; or only read it (malloc'd,
 * at most max bytes). */
int pifs_store_golden_manifest(struct pifs_store *st, const char *id,
			       struct pifs_manifest *m);
int pifs_store_golden_manifest_text(struct pifs_store *st, const char *id,
				    size_t max, char **text);
/* The golden of the delta dirfd/name, or of a worker's live delta. */
int pifs_store_delta_golden(struct pifs_store *st, int dirfd,
			    const char *name, char id[17]);
int pifs_store_worker_golden(struct pifs_store *st, const char *worker,
			     char id[17]);
/* Before the default golden changes: a worker's delta that records no
 * golden (it means the default) gets the current default written on it;
 * one that records one, or is missing, is left alone. */
int pifs_store_delta_pin_golden(struct pifs_store *st, const char *worker);
/* Is a kept delta of a removed worker (deltas/.removed-*) on golden id?
 * 1 with its name in *name (malloc'd), 0 (none, or deltas/ unreadable),
 * -ENOMEM. */
int pifs_store_kept_delta_on(struct pifs_store *st, const char *id,
			     char **name);
/* Every golden id of the store, sorted (malloc'd array). */
int pifs_store_goldens(struct pifs_store *st, char (**ids)[17], size_t *n);
/* Import a directory or image as one more golden of an open store (the
 * caller holds the store lock); id gets its id.  -EEXIST (id filled)
 * when the store has it already.  Nothing is left behind on failure. */
int pifs_store_golden_add(struct pifs_store *st, const char *src,
			  const struct pifs_store_create_opts *o, char id[17],
			  char *errbuf, size_t errlen);
/* Delete a golden nobody uses (the caller checks): -EBUSY for the
 * default, -ENOENT when there is none. */
int pifs_store_golden_remove(struct pifs_store *st, const char *id);
/* Atomically replace deltas/<worker> with work/<tmpname> (a complete
 * delta built there): renameat2(RENAME_EXCHANGE), fsync of both
 * directories, then removal of the old delta now at work/<tmpname>.  If
 * the worker has no delta the new one is just moved in.  Used by the CLI
 * on an unmounted store and by pifsd for "swap". */
int pifs_store_delta_swap(struct pifs_store *st, const char *worker,
			  const char *tmpname);
/* Move deltas/<name> aside to deltas/.removed-<name>-<time> (never
 * deleted silently); returns the new name in a malloc'd *kept_as. */
int pifs_store_delta_retire(struct pifs_store *st, const char *name,
			    char **kept_as);
/* Undo pifs_store_delta_retire: move deltas/<kept_as> back to
 * deltas/<name> (never over an existing one); 0 or -errno. */
int pifs_store_delta_unretire(struct pifs_store *st, const char *kept_as,
			      const char *name);

/* An O_PATH fd of deltas/<worker> (the caller closes it), or -errno. */
int pifs_store_delta_open(struct pifs_store *st, const char *worker);
/* The same, open for reading (readdir, fsync). */
int pifs_store_delta_dir(struct pifs_store *st, const char *worker);
/* syncfs of the file system the store is on. */
int pifs_store_sync(struct pifs_store *st);

/* Remove everything left in work/ by an interrupted copy-up. */
int pifs_store_clean_work(struct pifs_store *st);
/* Remove work/<name> and all below it: a reset's or rebase's build that
 * is given up.  0 or -errno. */
int pifs_store_work_remove(struct pifs_store *st, const char *name);
/* Remove the work/<prefix>*-<pid> directories whose process is gone (a
 * reset killed while it built); a live pid's stay.  0 or -errno. */
int pifs_store_work_reap(struct pifs_store *st, const char *prefix);

/* Copy one directory tree (sdir/sname) to (ddir/dname) with all
 * attributes, as pifs_store_create does.  Exposed for tests and import. */
int pifs_tree_copy(int sdir, const char *sname, int ddir, const char *dname,
		   FILE *progress);

#endif
