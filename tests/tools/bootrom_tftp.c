/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bootrom_tftp.c - the boot-ROM simulator's TFTP requests: the ROM's
 * plain RFC 1350 transfers, the firmware's tsize/blksize ones and its
 * size probes aborted with ERROR 0 "Early terminate", each bounded by
 * retransmissions and --timeout.  See the top of bootrom.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootrom.h"

/* ---- TFTP ---- */

struct tftp {
	int fd;
	struct sockaddr_in server; /* port 69, then the server's TID */
	int have_tid;
	uint8_t last[600]; /* last packet sent, for retransmission */
	size_t last_len;
};

static void tftp_send(struct tftp *t, const void *buf, size_t len)
{
	if (len <= sizeof(t->last) && buf != t->last) {
		memcpy(t->last, buf, len);
		t->last_len = len;
	}
	if (sendto(t->fd, buf, len, 0, (struct sockaddr *)&t->server,
		   sizeof(t->server)) < 0)
		die(EXIT_NET, "tftp send to %s: %s",
		    inet_ntoa(t->server.sin_addr), strerror(errno));
}

static void tftp_ack(struct tftp *t, uint16_t block)
{
	uint8_t p[4] = {0, OP_ACK, (uint8_t)(block >> 8), (uint8_t)block};

	tftp_send(t, p, sizeof(p));
}

static void tftp_error(struct tftp *t, uint16_t code, const char *msg)
{
	uint8_t p[64] = {0, OP_ERROR, (uint8_t)(code >> 8), (uint8_t)code};
	size_t l = strlen(msg) + 1;

	memcpy(p + 4, msg, l);
	tftp_send(t, p, 4 + l);
}

/* Receive the next packet of this transfer, retransmitting the last one
 * sent at most TFTP_RETRIES times.  Returns its length. */
static size_t tftp_recv(struct tftp *t, uint8_t *buf, size_t size,
			const char *path)
{
	int tries = 0;

	for (;;) {
		struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
		long long until = now_ms() + TFTP_RETRY_MS;
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		int ms;
		ssize_t n;

		while ((ms = left_ms(until)) > 0) {
			if (poll(&pfd, 1, ms) > 0)
				break;
		}
		if (ms == 0) {
			if (++tries > TFTP_RETRIES)
				die(EXIT_NET, "tftp '%s': no answer from %s",
				    path, inet_ntoa(t->server.sin_addr));
			tftp_send(t, t->last, t->last_len);
			continue;
		}
		n = recvfrom(t->fd, buf, size, 0, (struct sockaddr *)&from,
			     &fl);
		if (n < 4 || from.sin_addr.s_addr != t->server.sin_addr.s_addr)
			continue;
		if (!t->have_tid) {
			t->server.sin_port = from.sin_port;
			t->have_tid = 1;
		} else if (from.sin_port != t->server.sin_port) {
			continue; /* another transfer's stray packet */
		}
		return (size_t)n;
	}
}

/* Parse an OACK's options. */
static void parse_oack(const uint8_t *p, size_t len, long long *tsize,
		       int *blksize, const char *path)
{
	const char *s = (const char *)p + 2, *end = (const char *)p + len;

	while (s < end) {
		const char *name = s, *val;

		val = memchr(s, '\0', (size_t)(end - s));
		if (!val || ++val >= end)
			die(EXIT_NET, "tftp '%s': malformed OACK", path);
		s = memchr(val, '\0', (size_t)(end - val));
		if (!s)
			die(EXIT_NET, "tftp '%s': malformed OACK", path);
		s++;
		if (!strcasecmp(name, "tsize"))
			*tsize = strtoll(val, NULL, 10);
		else if (!strcasecmp(name, "blksize")) {
			int b = atoi(val);

			if (b < 8 || b > opt.blksize)
				die(EXIT_NET, "tftp '%s': bad blksize %s",
				    path, val);
			*blksize = b;
		}
	}
}

/* mkdir -p the parents of out/path and open it for writing. */
static int open_out(const char *path)
{
	char full[PATH_MAX], *sl;
	int fd;

	snprintf(full, sizeof(full), "%s/%s", opt.out, path);
	for (sl = strchr(full + strlen(opt.out) + 1, '/'); sl;
	     sl = strchr(sl + 1, '/')) {
		*sl = '\0';
		if (mkdir(full, 0755) < 0 && errno != EEXIST)
			die(EXIT_NET, "mkdir '%s': %s", full, strerror(errno));
		*sl = '/';
	}
	fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(EXIT_NET, "cannot write '%s': %s", full, strerror(errno));
	return fd;
}

/* One request.  Returns the size received (GET/PLAIN), the OACK's tsize
 * (PROBE) or -ENOENT when the server says "file not found". */
long long tftp_fetch(struct in_addr from, struct in_addr server,
		     const char *path, enum kind kind)
{
	struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr = from};
	struct tftp t = {.server = {.sin_family = AF_INET,
				    .sin_port = htons(69),
				    .sin_addr = server}};
	uint8_t rrq[512], *buf;
	long long tsize = -1, got = 0;
	int blksize = 512, out = -1;
	uint16_t want = 1;
	size_t n, len;

	t.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t.fd < 0 ||
	    setsockopt(t.fd, SOL_SOCKET, SO_BINDTODEVICE, opt.iface,
		       (socklen_t)strlen(opt.iface)) < 0 ||
	    bind(t.fd, (struct sockaddr *)&me, sizeof(me)) < 0)
		die(EXIT_NET, "tftp socket on %s: %s", inet_ntoa(from),
		    strerror(errno));
	buf = malloc((size_t)opt.blksize + 4);
	if (!buf)
		die(EXIT_NET, "out of memory");
	rrq[0] = 0;
	rrq[1] = OP_RRQ;
	len = 2 + (size_t)snprintf((char *)rrq + 2, sizeof(rrq) - 2, "%s", path) + 1;
	len += (size_t)snprintf((char *)rrq + len, sizeof(rrq) - len, "octet") + 1;
	if (kind != PLAIN) {
		len += (size_t)snprintf((char *)rrq + len, sizeof(rrq) - len,
					"tsize") + 1;
		len += (size_t)snprintf((char *)rrq + len, sizeof(rrq) - len,
					"0") + 1;
		len += (size_t)snprintf((char *)rrq + len, sizeof(rrq) - len,
					"blksize") + 1;
		len += (size_t)snprintf((char *)rrq + len, sizeof(rrq) - len,
					"%d", opt.blksize) + 1;
	}
	tftp_send(&t, rrq, len);
	for (;;) {
		uint16_t op, block;

		n = tftp_recv(&t, buf, (size_t)opt.blksize + 4, path);
		op = (uint16_t)(buf[0] << 8 | buf[1]);
		block = (uint16_t)(buf[2] << 8 | buf[3]);
		if (op == OP_ERROR) {
			if (block == 1) { /* file not found */
				got = -ENOENT;
				break;
			}
			buf[n - 1] = '\0';
			die(EXIT_NET, "tftp '%s': server error %u %s", path,
			    block, (char *)buf + 4);
		}
		if (op == OP_OACK && want == 1 && got == 0) {
			parse_oack(buf, n, &tsize, &blksize, path);
			if (kind == PROBE)
				say("probe %s tsize=%lld", path, tsize);
			if (opt.model == PI5 &&
			    tsize > 65535LL * (long long)blksize)
				die(EXIT_NET,
				    "tftp '%s': %lld bytes are more than 65535 "
				    "blocks of %d: a Pi 5 cannot load it",
				    path, tsize, blksize);
			tftp_ack(&t, 0);
			continue;
		}
		if (op != OP_DATA)
			die(EXIT_NET, "tftp '%s': unexpected opcode %u", path,
			    op);
		if (block != want) {
			if (block == (uint16_t)(want - 1))
				tftp_send(&t, t.last, t.last_len); /* dup */
			continue;
		}
		if (kind == PROBE) {
			/* the firmware only wanted the size */
			tftp_error(&t, 0, "Early terminate");
			got = tsize;
			break;
		}
		if (out < 0)
			out = open_out(path);
		if (n > 4 && write(out, buf + 4, n - 4) != (ssize_t)(n - 4))
			die(EXIT_NET, "write '%s/%s': %s", opt.out, path,
			    strerror(errno));
		got += (long long)(n - 4);
		tftp_ack(&t, block);
		want++;
		if (n - 4 < (size_t)blksize)
			break;
	}
	if (out >= 0 && close(out) < 0)
		die(EXIT_NET, "write '%s/%s': %s", opt.out, path,
		    strerror(errno));
	if (kind == GET && got >= 0 && tsize < 0)
		die(EXIT_NET, "tftp '%s': the server sent no tsize", path);
	if (kind == GET && got >= 0 && got != tsize)
		die(EXIT_NET, "tftp '%s': got %lld bytes, OACK said tsize=%lld",
		    path, got, tsize);
	if (got >= 0 && kind != PROBE)
		say("sent %s %lld", path, got);
	else if (got == -ENOENT)
		say("not-found %s", path);
	close(t.fd);
	free(buf);
	if (opt.gap_ms)
		sleep_ms(opt.gap_ms);
	return got;
}
