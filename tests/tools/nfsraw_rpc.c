/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nfsraw_rpc.c - the wire side of nfsraw: XDR encoding and decoding, ONC
 * RPC over TCP (record marking, AUTH_SYS, a socket bound to the source
 * address nfsraw is told, from a reserved port when allowed) and the few
 * NFSv3 calls the commands in nfsraw.c send.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "nfsraw.h"

/* ---- XDR ---- */

static void put_u32(struct xdr *x, uint32_t v)
{
	if (x->len + 4 > XDR_MAX) {
		x->bad = 1;
		return;
	}
	v = htonl(v);
	memcpy(x->buf + x->len, &v, 4);
	x->len += 4;
}

static void put_u64(struct xdr *x, uint64_t v)
{
	put_u32(x, (uint32_t)(v >> 32));
	put_u32(x, (uint32_t)v);
}

static void put_bytes(struct xdr *x, const void *p, size_t n)
{
	size_t pad = (4 - n % 4) % 4;

	if (x->len + n + pad > XDR_MAX) {
		x->bad = 1;
		return;
	}
	memcpy(x->buf + x->len, p, n);
	memset(x->buf + x->len + n, 0, pad);
	x->len += n + pad;
}

void put_opaque(struct xdr *x, const void *p, size_t n)
{
	put_u32(x, (uint32_t)n);
	put_bytes(x, p, n);
}

static void put_fh(struct xdr *x, const struct fh *fh)
{
	put_opaque(x, fh->b, fh->len);
}

static uint32_t get_u32(struct xdr *x)
{
	uint32_t v;

	if (x->bad || x->pos + 4 > x->len) {
		x->bad = 1;
		return 0;
	}
	memcpy(&v, x->buf + x->pos, 4);
	x->pos += 4;
	return ntohl(v);
}

static uint64_t get_u64(struct xdr *x)
{
	uint64_t hi = get_u32(x);

	return hi << 32 | get_u32(x);
}

/* A variable-length opaque of at most max bytes: a pointer into buf. */
const uint8_t *get_opaque(struct xdr *x, uint32_t *n, uint32_t max)
{
	const uint8_t *p;

	*n = get_u32(x);
	if (x->bad || *n > max || x->pos + *n > x->len) {
		x->bad = 1;
		*n = 0;
		return NULL;
	}
	p = x->buf + x->pos;
	x->pos += *n + (4 - *n % 4) % 4;
	if (x->pos > x->len)
		x->bad = 1;
	return p;
}

static void skip(struct xdr *x, size_t n)
{
	if (x->pos + n > x->len)
		x->bad = 1;
	else
		x->pos += n;
}

static void get_fattr(struct xdr *x, struct fattr *a)
{
	a->type = get_u32(x);
	a->mode = get_u32(x);
	a->nlink = get_u32(x);
	a->uid = get_u32(x);
	get_u32(x); /* gid */
	a->size = get_u64(x);
	get_u64(x); /* used */
	skip(x, 8); /* rdev */
	a->fsid = get_u64(x);
	a->fileid = get_u64(x);
	skip(x, 24); /* atime, mtime, ctime */
}

/* post_op_attr: 1 if attributes followed (into a, if not NULL). */
static int get_post_attr(struct xdr *x, struct fattr *a)
{
	struct fattr dummy;

	if (!get_u32(x))
		return 0;
	get_fattr(x, a ? a : &dummy);
	return !x->bad;
}

static void skip_wcc(struct xdr *x)
{
	if (get_u32(x))
		skip(x, 24); /* pre_op_attr: size, mtime, ctime */
	get_post_attr(x, NULL);
}

/* ---- RPC over TCP ---- */

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* One socket bound to g.src (a reserved port if allowed) and connected;
 * the fd, or -1 with g.rpcerr set. */
static int conn_socket(int port)
{
	struct timeval tv = {.tv_sec = g.timeout};
	struct sockaddr_in dst = {.sin_family = AF_INET}, src = dst;
	int fd = -1, p, tries = 0, one = 1;

	if (inet_pton(AF_INET, g.server, &dst.sin_addr) != 1) {
		snprintf(g.rpcerr, sizeof(g.rpcerr),
			 "rpc transport: bad server '%s'", g.server);
		return -1;
	}
	dst.sin_port = htons((uint16_t)port);
	if (g.src && inet_pton(AF_INET, g.src, &src.sin_addr) != 1) {
		snprintf(g.rpcerr, sizeof(g.rpcerr),
			 "rpc transport: bad source address '%s'", g.src);
		return -1;
	}
	/* Reserved ports 1023 down to 600 (bounded), then any port. */
	for (p = 1023;; p--) {
		if (p < 600)
			p = 0;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		/* one request, one reply: no Nagle wait on the reply's ack */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		src.sin_port = htons((uint16_t)p);
		if ((g.src || p) &&
		    bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			if ((errno == EADDRINUSE || errno == EACCES) && p &&
			    ++tries < 500) {
				close(fd);
				continue;
			}
			break;
		}
		if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0)
			return fd;
		if ((errno == EADDRINUSE || errno == EADDRNOTAVAIL) && p &&
		    ++tries < 500) {
			close(fd);
			continue;
		}
		break;
	}
	snprintf(g.rpcerr, sizeof(g.rpcerr),
		 "rpc transport: cannot connect %s:%d%s%s: %s", g.server, port,
		 g.src ? " from " : "", g.src ? g.src : "", strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int read_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = recv(fd, b, n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -EPIPE : -errno;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The call's header and arguments in one write: one TCP segment. */
static int send_call(int fd, uint8_t *hdr, size_t hlen, const struct xdr *args)
{
	struct iovec iov[2] = {{hdr, hlen}, {args->buf, args->len}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};

	while (m.msg_iovlen) {
		ssize_t r = sendmsg(fd, &m, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -EPIPE : -errno;
		/* a short write: skip what went */
		while (m.msg_iovlen && (size_t)r >= m.msg_iov->iov_len) {
			r -= (ssize_t)m.msg_iov->iov_len;
			m.msg_iov++;
			m.msg_iovlen--;
		}
		if (m.msg_iovlen) {
			m.msg_iov->iov_base =
			    (uint8_t *)m.msg_iov->iov_base + r;
			m.msg_iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

static const char *auth_name(uint32_t s)
{
	static const char *n[] = {"AUTH_OK",	       "AUTH_BADCRED",
				  "AUTH_REJECTEDCRED", "AUTH_BADVERF",
				  "AUTH_REJECTEDVERF", "AUTH_TOOWEAK"};

	return s < sizeof(n) / sizeof(n[0]) ? n[s] : "AUTH_ERROR";
}

static const char *accept_name(uint32_t s)
{
	static const char *n[] = {"SUCCESS",	   "PROG_UNAVAIL",
				  "PROG_MISMATCH", "PROC_UNAVAIL",
				  "GARBAGE_ARGS",  "SYSTEM_ERR"};

	return s < sizeof(n) / sizeof(n[0]) ? n[s] : "?";
}

/* Call prog/proc (version 3) with the encoded args; the reply's results
 * are left in *res (res->buf must hold XDR_MAX).  0, or -1 with
 * g.rpcerr set (the connection is closed: the next call reconnects). */
static int rpc_call(struct conn *c, uint32_t prog, uint32_t proc,
		    const struct xdr *args, struct xdr *res)
{
	uint8_t hdr[512];
	struct xdr h = {.buf = hdr};
	uint32_t mark, n, xid = ++g.xid, stat;
	size_t got = 0;
	int last = 0, ret;
	uint8_t cred[64];
	struct xdr cr = {.buf = cred};

	g.rpcerr[0] = 0;
	if (c->fd < 0 && (c->fd = conn_socket(c->port)) < 0)
		return -1;
	put_u32(&cr, 0); /* stamp */
	put_opaque(&cr, "nfsraw", 6);
	put_u32(&cr, g.uid);
	put_u32(&cr, g.gid);
	put_u32(&cr, 0); /* no supplementary groups */

	put_u32(&h, 0); /* record mark, filled below */
	put_u32(&h, xid);
	put_u32(&h, 0); /* CALL */
	put_u32(&h, 2); /* RPC version */
	put_u32(&h, prog);
	put_u32(&h, 3);
	put_u32(&h, proc);
	put_u32(&h, 1); /* AUTH_SYS */
	put_opaque(&h, cred, cr.len);
	put_u32(&h, 0); /* verifier AUTH_NONE */
	put_u32(&h, 0);
	mark = htonl(0x80000000u | (uint32_t)(h.len - 4 + args->len));
	memcpy(hdr, &mark, 4);
	if ((ret = send_call(c->fd, hdr, h.len, args)) < 0)
		goto broken;
	/* The reply, fragment by fragment. */
	while (!last) {
		if ((ret = read_full(c->fd, &mark, 4)) < 0)
			goto broken;
		mark = ntohl(mark);
		last = !!(mark & 0x80000000u);
		n = mark & 0x7fffffffu;
		if (got + n > XDR_MAX) {
			ret = -EMSGSIZE;
			goto broken;
		}
		if ((ret = read_full(c->fd, res->buf + got, n)) < 0)
			goto broken;
		got += n;
	}
	res->len = got;
	res->pos = 0;
	res->bad = 0;
	if (get_u32(res) != xid || get_u32(res) != 1) {
		ret = -EPROTO;
		goto broken;
	}
	if (get_u32(res) != 0) { /* MSG_DENIED: the server refuses */
		stat = get_u32(res);
		n = get_u32(res);
		if (stat == 0)
			snprintf(g.rpcerr, sizeof(g.rpcerr), "RPC_MISMATCH");
		else
			snprintf(g.rpcerr, sizeof(g.rpcerr), "RPC_%s",
				 auth_name(n));
		return -1;
	}
	get_u32(res); /* verifier */
	get_opaque(res, &n, 400);
	stat = get_u32(res);
	if (res->bad) {
		ret = -EPROTO;
		goto broken;
	}
	if (stat != 0) {
		snprintf(g.rpcerr, sizeof(g.rpcerr), "RPC_%s",
			 accept_name(stat));
		return -1;
	}
	return 0;
broken:
	snprintf(g.rpcerr, sizeof(g.rpcerr), "rpc transport: %s:%d: %s",
		 g.server, c->port, strerror(-ret));
	conn_close(c);
	return -1;
}

/* ---- NFSv3 calls: each returns the NFS status, or UINT32_MAX with
 * g.rpcerr set ---- */

uint8_t argbuf[XDR_MAX], resbuf[XDR_MAX];

/* One call: its NFS (or MOUNT) status, UINT32_MAX with g.rpcerr set. */
uint32_t call(struct conn *c, uint32_t prog, uint32_t proc,
	      const struct xdr *args, struct xdr *res)
{
	if (args->bad) {
		snprintf(g.rpcerr, sizeof(g.rpcerr),
			 "rpc transport: request too long");
		return UINT32_MAX;
	}
	if (rpc_call(c, prog, proc, args, res) < 0)
		return UINT32_MAX;
	return get_u32(res);
}

uint32_t do_getattr(const struct fh *fh, struct fattr *a)
{
	struct xdr x = {.buf = argbuf}, r = {.buf = resbuf};
	uint32_t st;

	put_fh(&x, fh);
	st = call(&g.nfs, PROG_NFS, NFS3_GETATTR, &x, &r);
	if (st == 0)
		get_fattr(&r, a);
	return st == 0 && r.bad ? BAD_REPLY : st;
}

uint32_t do_lookup(const struct fh *dir, const char *name,
		   struct fh *out, struct fattr *a, int *has_attr)
{
	struct xdr x = {.buf = argbuf}, r = {.buf = resbuf};
	const uint8_t *p;
	uint32_t st, n;

	put_fh(&x, dir);
	put_opaque(&x, name, strlen(name));
	st = call(&g.nfs, PROG_NFS, NFS3_LOOKUP, &x, &r);
	if (st != 0)
		return st;
	p = get_opaque(&r, &n, FH_MAX);
	if (p) {
		memcpy(out->b, p, n);
		out->len = n;
	}
	*has_attr = get_post_attr(&r, a);
	return r.bad ? BAD_REPLY : 0;
}

uint32_t do_read(const struct fh *fh, uint64_t off, uint32_t count,
		 uint8_t *data, uint32_t *n, uint32_t *eof)
{
	struct xdr x = {.buf = argbuf}, r = {.buf = resbuf};
	const uint8_t *p;
	uint32_t st;

	put_fh(&x, fh);
	put_u64(&x, off);
	put_u32(&x, count);
	st = call(&g.nfs, PROG_NFS, NFS3_READ, &x, &r);
	if (st != 0)
		return st;
	get_post_attr(&r, NULL);
	get_u32(&r); /* count */
	*eof = get_u32(&r);
	p = get_opaque(&r, n, count);
	if (r.bad || !p)
		return BAD_REPLY;
	memcpy(data, p, *n);
	return 0;
}

uint32_t do_write(const struct fh *fh, uint64_t off, const char *text,
		  uint32_t *n)
{
	struct xdr x = {.buf = argbuf}, r = {.buf = resbuf};
	uint32_t st;
	size_t len = strlen(text);

	put_fh(&x, fh);
	put_u64(&x, off);
	put_u32(&x, (uint32_t)len);
	put_u32(&x, 2); /* FILE_SYNC */
	put_opaque(&x, text, len);
	st = call(&g.nfs, PROG_NFS, NFS3_WRITE, &x, &r);
	if (st != 0)
		return st;
	skip_wcc(&r);
	*n = get_u32(&r);
	return r.bad ? BAD_REPLY : 0;
}

uint32_t do_create(const struct fh *dir, const char *name,
		   struct fh *out)
{
	struct xdr x = {.buf = argbuf}, r = {.buf = resbuf};
	const uint8_t *p;
	uint32_t st, n;

	put_fh(&x, dir);
	put_opaque(&x, name, strlen(name));
	put_u32(&x, 0); /* UNCHECKED */
	put_u32(&x, 1); /* set mode */
	put_u32(&x, 0644);
	put_u32(&x, 0); /* uid, gid, size: not set */
	put_u32(&x, 0);
	put_u32(&x, 0);
	put_u32(&x, 0); /* atime, mtime: DONT_CHANGE */
	put_u32(&x, 0);
	st = call(&g.nfs, PROG_NFS, NFS3_CREATE, &x, &r);
	out->len = 0;
	if (st != 0)
		return st;
	if (get_u32(&r)) {
		p = get_opaque(&r, &n, FH_MAX);
		if (p) {
			memcpy(out->b, p, n);
			out->len = n;
		}
	}
	return r.bad ? BAD_REPLY : 0;
}

/* READDIR to the end; the names (escaped, comma-separated, without . and
 * ..) are printed to f. */
uint32_t do_readdir(const struct fh *dir, FILE *f)
{
	uint8_t verf[8] = {0};
	uint64_t cookie = 0;
	uint32_t st, n, eof = 0;
	const uint8_t *name, *v;
	int replies, first = 1;

	for (replies = 0; !eof && replies < READDIR_REPLIES; replies++) {
		struct xdr x = {.buf = argbuf}, r = {.buf = resbuf};

		put_fh(&x, dir);
		put_u64(&x, cookie);
		put_bytes(&x, verf, 8);
		put_u32(&x, 8192);
		st = call(&g.nfs, PROG_NFS, NFS3_READDIR, &x, &r);
		if (st != 0)
			return st;
		get_post_attr(&r, NULL);
		v = r.pos + 8 <= r.len ? r.buf + r.pos : NULL;
		skip(&r, 8);
		if (v)
			memcpy(verf, v, 8);
		while (!r.bad && get_u32(&r)) {
			get_u64(&r); /* fileid */
			name = get_opaque(&r, &n, 1024);
			cookie = get_u64(&r);
			if (!name || (n == 1 && name[0] == '.') ||
			    (n == 2 && name[0] == '.' && name[1] == '.'))
				continue;
			if (!first)
				fputc(',', f);
			first = 0;
			print_esc(f, name, n);
		}
		eof = get_u32(&r);
		if (r.bad)
			return BAD_REPLY;
	}
	return 0;
}
