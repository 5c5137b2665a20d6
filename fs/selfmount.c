/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * selfmount.c - mounting and unmounting a worker's file system inside
 * pifsd's own top mount, done by a helper process.
 *
 * A worker's mount point, MOUNTPOINT/nfsroot/<worker>, is a directory of
 * the top file system, which pifsd itself serves: the path walks of
 * mount(2) (and libfuse's stat before it) and of umount2(2) send LOOKUPs
 * to pifsd.  Done by a thread of pifsd, such a walk deadlocks when pifsd
 * is killed (kill -9, a crash) at that moment: the kernel waits without
 * interruption for the answer to a request that a pifsd thread had
 * already read, and the top's connection, whose abort would end that
 * wait, is aborted only when the last holder of its /dev/fuse fd goes:
 * pifsd, kept alive by that very thread.  pifsd then never exits, and
 * everything that touches the mount hangs until `umount -f` (found by
 * t-enroll's kill rounds: enrolment mounts workers often).
 *
 * So the walks are made by another process, which holds none of pifsd's
 * FUSE or io_uring fds: pifsd runs itself (/proc/self/exe, so an upgrade
 * of the binary under a running pifsd changes nothing) in a helper mode
 * with posix_spawn (no fork of a threaded process, nothing allocated in
 * the child before exec) and a socket as its only fd above stderr.  The
 * helper mounts with libfuse's own fuse_session_mount and the session's
 * own options (the same mount data as any session), sends the new
 * /dev/fuse fd back over the socket (SCM_RIGHTS) and exits; pifsd's
 * session takes the fd as its own (fuse_session_custom_io).  If pifsd
 * dies meanwhile, its fds close, the kernel aborts the top's connection,
 * the helper's walk fails with ENOTCONN and the helper exits: nothing
 * is left waiting, and the next `pifs mount` detaches what is dead.
 *
 * The helper reports failure as one line of text on the socket (what
 * libfuse said, or the errno), which pifsd logs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pifsd.h"
#include "util.h"

extern char **environ;

#define HELPER_MOUNT "--pifsd-self-mount"
#define HELPER_UMOUNT "--pifsd-self-umount"
#define HELPER_FD 3

/* ---- the helper (a process of its own) ---- */

static char helper_msg[512];

/* libfuse's messages become the helper's report (the first one wins:
 * it is the cause). */
static void helper_log(enum fuse_log_level level, const char *fmt,
		       va_list ap)
{
	size_t n;

	(void)level;
	if (helper_msg[0])
		return;
	vsnprintf(helper_msg, sizeof(helper_msg), fmt, ap);
	n = strlen(helper_msg);
	while (n && helper_msg[n - 1] == '\n')
		helper_msg[--n] = '\0';
}

/* msg NULL: success, with fd (>= 0) passed along; else the failure. */
static int helper_report(int fd, const char *msg)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char ok = 0;
	struct iovec iov = { .iov_base = msg ? (void *)msg : &ok,
			     .iov_len = msg ? strlen(msg) + 1 : 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (!msg && fd >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(HELPER_FD, &mh, MSG_NOSIGNAL) < 0 ? 1 : 0;
}

int pifsd_selfmount_main(int argc, char **argv)
{
	static const struct fuse_lowlevel_ops none;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	int i;

	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], HELPER_UMOUNT)) {
		/* Lazy, as libfuse's own unmount: an NFS server may still
		 * hold files of the file system. */
		if (umount2(argv[2], MNT_DETACH | UMOUNT_NOFOLLOW) < 0 &&
		    errno != EINVAL && errno != ENOENT) {
			snprintf(helper_msg, sizeof(helper_msg), "%s",
				 strerror(errno));
			_exit(helper_report(-1, helper_msg));
		}
		_exit(helper_report(-1, NULL) ? 1 : 0);
	}
	fuse_set_log_func(helper_log);
	/* The session's arguments, argv[0] included, as pifsd_sb_new
	 * gives them to fuse_session_new. */
	for (i = 3; i < argc; i++)
		if (fuse_opt_add_arg(&args, argv[i]) < 0)
			_exit(helper_report(-1, strerror(ENOMEM)));
	se = fuse_session_new(&args, &none, sizeof(none), NULL);
	if (!se)
		_exit(helper_report(-1, helper_msg[0] ? helper_msg
						      : "bad mount options"));
	if (fuse_session_mount(se, argv[2]) != 0)
		_exit(helper_report(-1, helper_msg[0] ? helper_msg
						      : "mount failed"));
	/* _exit: the fd goes with the process once sent; no exit handlers
	 * (nothing here needs freeing, and a leak check of a helper that
	 * exits at once would only report libfuse's session). */
	_exit(helper_report(fuse_session_fd(se), NULL));
}

/* ---- pifsd's side ---- */

/* Run the helper: mode, mountpoint, then the session's arguments.
 * Returns the fd it sent (mount), 0 (unmount), or -errno with what it
 * said logged. */
static int run_helper(struct pifsd *d, const char *mode,
		      const char *mountpoint)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char msg[sizeof(helper_msg)] = "";
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char **av = NULL;
	int sv[2], n = 0, fd = -1, r, status;
	ssize_t got;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	av = calloc((size_t)d->sb_args.argc + 4, sizeof(*av));
	if (!av) {
		r = -ENOMEM;
		goto out_sock;
	}
	av[n++] = (char *)"pifsd";
	av[n++] = (char *)mode;
	av[n++] = (char *)mountpoint;
	if (!strcmp(mode, HELPER_MOUNT))
		for (int i = 0; i < d->sb_args.argc; i++)
			av[n++] = d->sb_args.argv[i];
	av[n] = NULL;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* Only the socket: none of pifsd's FUSE, io_uring or store fds
	 * (the point of the helper), and the caller's blocked signals
	 * (pool threads block them) are not the helper's. */
	r = posix_spawn_file_actions_adddup2(&fa, sv[1], HELPER_FD);
	if (!r)
		r = posix_spawn_file_actions_addclosefrom_np(&fa,
							     HELPER_FD + 1);
	if (!r)
		r = posix_spawnattr_setsigmask(&attr, &none);
	if (!r)
		r = posix_spawnattr_setsigdefault(&attr, &all);
	if (!r)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
							    POSIX_SPAWN_SETSIGDEF);
	if (!r)
		r = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, av,
				environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(sv[1]);
	sv[1] = -1;
	if (r) {
		r = -r;
		goto out_sock;
	}
	do
		got = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC);
	while (got < 0 && errno == EINTR);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got > 0) {
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		if (cm && cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	}
	if (got > 0 && !msg[0]) {
		r = fd >= 0 ? fd : 0;
		if (!strcmp(mode, HELPER_MOUNT) && fd < 0)
			r = -EIO;
	} else {
		if (fd >= 0)
			close(fd);
		pifs_err("cannot %s '%s': %s",
			 strcmp(mode, HELPER_MOUNT) ? "unmount" : "mount",
			 mountpoint, msg[0] ? msg : "the helper died");
		r = -EIO;
	}
out_sock:
	free(av);
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return r;
}

int pifsd_selfmount(struct pifsd *d, const char *mountpoint)
{
	return run_helper(d, HELPER_MOUNT, mountpoint);
}

int pifsd_selfumount(struct pifsd *d, const char *mountpoint)
{
	return run_helper(d, HELPER_UMOUNT, mountpoint);
}

int pifsd_is_selfmount(int argc, char **argv)
{
	return argc >= 3 && (!strcmp(argv[1], HELPER_MOUNT) ||
			     !strcmp(argv[1], HELPER_UMOUNT));
}
