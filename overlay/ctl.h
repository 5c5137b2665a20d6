/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctl.h - the control socket between the pifs CLI and a running pifsd
 * (STORE/lock/ctl.sock, 0600 root).  One request per line, one reply line:
 *
 *   pause WORKER          -> "ok" once WORKER's view is frozen: no write,
 *                            create, rename, setattr... proceeds until
 *                            "resume" or the connection closes
 *   resume WORKER         -> "ok"
 *   swap WORKER TMPNAME   -> "ok" after pifsd atomically exchanged
 *                            deltas/WORKER with work/TMPNAME (a delta the
 *                            CLI built there), removed the old one,
 *                            re-resolved every cached node of the view and
 *                            invalidated the kernel's caches for it
 *   reload                -> "ok" after re-reading the registry and
 *                            pifs.conf (a new master address)
 *   workers               -> "ok" after re-reading the registry (a worker
 *                            added or removed) and telling the kernel
 *                            what it must forget of nfsroot/
 *   journal WORKER        -> under this connection's pause of WORKER:
 *                            "ok VALID TOKEN NEWTOKEN LEN" and LEN bytes,
 *                            what pifsd saw change in its delta
 *                            (gitstore.h, struct pifs_journal); pifsd
 *                            starts a new journal under NEWTOKEN
 *
 * Errors come back as "err <errno> <message>".  A closed connection ends
 * every pause it held.
 */
#ifndef PIFS_CTL_H
#define PIFS_CTL_H

#include "gitstore.h"
#include "store.h"

#define PIFS_CTL_SOCK "lock/ctl.sock"

/* Connect to the daemon serving st.  -ENOTCONN when no daemon listens
 * (the store is not mounted: the caller works on the store directly). */
int pifs_ctl_connect(const struct pifs_store *st, int *fd_out);
/* Send one request and wait for the reply (bounded by timeout_ms, or -1).
 * Returns 0 for "ok", -errno from an "err" reply (msg gets its text), or
 * -ETIMEDOUT / -EPIPE. */
int pifs_ctl_call(int fd, const char *request, int timeout_ms, char *msg,
		  size_t msglen);
int pifs_ctl_pause(int fd, const char *worker);
int pifs_ctl_resume(int fd, const char *worker);
int pifs_ctl_swap(int fd, const char *worker, const char *tmpname,
		  char *msg, size_t msglen);
/* "journal WORKER" (the caller holds its pause): *j filled, j->buf
 * malloc'd.  -EINVAL from a daemon that does not know the request. */
int pifs_ctl_journal(int fd, const char *worker, struct pifs_journal *j);
void pifs_ctl_close(int fd);

#endif
