/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctl.c - the CLI's side of the control socket (protocol in ctl.h).  The
 * socket is reached through /proc/self/fd/<lock dir fd>/ctl.sock, so a
 * store path of any length works within sun_path's 108 bytes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "safeio.h"
#include "util.h"

int pifs_ctl_connect(const struct pifs_store *st, int *fd_out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dfd, fd, r;

	dfd = openat(st->fd, "lock", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/ctl.sock", dfd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		close(dfd);
		return r;
	}
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	close(dfd);
	if (r < 0) {
		close(fd);
		/* No socket, or nobody behind it: not mounted. */
		return r == -ENOENT || r == -ECONNREFUSED ? -ENOTCONN : r;
	}
	*fd_out = fd;
	return 0;
}

/* Read n bytes (timeout_ms for each wait). */
static int read_n(int fd, char *buf, size_t n, int timeout_ms)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r = poll(&p, 1, timeout_ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		if (r == 0)
			return -EPIPE;
		got += (size_t)r;
	}
	return 0;
}

/* Send all of buf.  MSG_NOSIGNAL: when pifsd has died (kill -9, a
 * crash) under a running command, the command gets -EPIPE and says so in
 * one line; a plain write() would kill it with SIGPIPE, silently, in the
 * middle of a snapshot or reset. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t r = send(fd, buf, len, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Send request, read the one-line reply into line (NUL-terminated). */
static int call_line(int fd, const char *request, int timeout_ms,
		     char *line, size_t size)
{
	size_t len = 0;
	int r;

	snprintf(line, size, "%s\n", request);
	if ((r = send_all(fd, line, strlen(line))) < 0)
		return r;
	for (;;) {
		r = read_n(fd, line + len, 1, timeout_ms);
		if (r < 0)
			return r;
		if (line[len] == '\n' || len + 2 >= size)
			break;
		len++;
	}
	line[len] = '\0';
	return 0;
}

/* "err ERRNO TEXT" as -ERRNO (msg gets TEXT), else -EPROTO. */
static int reply_err(const char *line, char *msg, size_t msglen)
{
	if (!strncmp(line, "err ", 4)) {
		char *end;
		long e = strtol(line + 4, &end, 10);

		pifs_seterr(msg, msglen, "%s", *end == ' ' ? end + 1 : end);
		return e > 0 ? (int)-e : -EIO;
	}
	pifs_seterr(msg, msglen, "bad reply '%s'", line);
	return -EPROTO;
}

int pifs_ctl_call(int fd, const char *request, int timeout_ms, char *msg,
		  size_t msglen)
{
	char line[512];
	int r;

	pifs_errclear(msg, msglen);
	r = call_line(fd, request, timeout_ms, line, sizeof(line));
	if (r < 0)
		return r;
	if (!strcmp(line, "ok"))
		return 0;
	return reply_err(line, msg, msglen);
}

int pifs_ctl_journal(int fd, const char *worker, struct pifs_journal *j)
{
	char req[128], line[512];
	unsigned long long t, nt;
	size_t len;
	int valid, r, used = 0;

	memset(j, 0, sizeof(*j));
	snprintf(req, sizeof(req), "journal %s", worker);
	r = call_line(fd, req, 60000, line, sizeof(line));
	if (r < 0)
		return r;
	if (strncmp(line, "ok ", 3))
		return reply_err(line, NULL, 0);
	if (sscanf(line + 3, "%d %llx %llx %zu%n", &valid, &t, &nt, &len,
		   &used) != 4 ||
	    line[3 + used] || len > ((size_t)64 << 20))
		return -EPROTO;
	j->buf = malloc(len ? len : 1);
	if (!j->buf)
		return -ENOMEM;
	r = read_n(fd, j->buf, len, 60000);
	if (r < 0) {
		free(j->buf);
		j->buf = NULL;
		return r;
	}
	j->valid = valid == 1;
	j->token = t;
	j->newtoken = nt;
	j->len = len;
	return 0;
}

int pifs_ctl_pause(int fd, const char *worker)
{
	char req[128];

	snprintf(req, sizeof(req), "pause %s", worker);
	return pifs_ctl_call(fd, req, 60000, NULL, 0);
}

int pifs_ctl_resume(int fd, const char *worker)
{
	char req[128];

	snprintf(req, sizeof(req), "resume %s", worker);
	return pifs_ctl_call(fd, req, 60000, NULL, 0);
}

int pifs_ctl_swap(int fd, const char *worker, const char *tmpname, char *msg,
		  size_t msglen)
{
	char req[512];

	snprintf(req, sizeof(req), "swap %s %s", worker, tmpname);
	return pifs_ctl_call(fd, req, 600000, msg, msglen);
}

void pifs_ctl_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
