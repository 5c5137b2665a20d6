/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nfsraw.h - what nfsraw.c (the commands) and nfsraw_rpc.c (XDR, ONC RPC
 * over TCP and the NFSv3/MOUNT calls) share.  Private to the nfsraw test
 * tool; see nfsraw.c for what it does.
 */
#ifndef PIFS_TESTS_NFSRAW_H
#define PIFS_TESTS_NFSRAW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FH_MAX		64
#define XDR_MAX		(70 * 1024)
#define READ_MAX	65536
#define PROBE_READ	4096
#define READDIR_REPLIES 64

#define PROG_NFS     100003
#define PROG_MOUNT   100005
#define NFS3_GETATTR 1
#define NFS3_LOOKUP  3
#define NFS3_READ    6
#define NFS3_WRITE   7
#define NFS3_CREATE  8
#define NFS3_READDIR 16
#define MNT3_MNT     1

struct fh {
	uint8_t b[FH_MAX];
	uint32_t len;
};

struct xdr {
	uint8_t *buf;
	size_t len; /* bytes in buf (decoding) or written (encoding) */
	size_t pos; /* decoding cursor */
	int bad;    /* a put overflowed or a get ran past len */
};

struct conn {
	int fd; /* -1 until the first call */
	int port;
};

struct fattr {
	uint32_t type, mode, nlink, uid;
	uint64_t size, fsid, fileid;
};

/* The client: options (set by main) and the RPC state. */
struct nfsraw {
	const char *server, *src;
	uint32_t uid, gid;
	int timeout;
	uint32_t xid;
	struct conn nfs, mnt;
	char rpcerr[128]; /* why the last call failed, "" if it was NFS */
};
extern struct nfsraw g;

/* NFS3ERR_SERVERFAULT stands for a reply that does not parse. */
#define BAD_REPLY 10006

/* nfsraw_rpc.c: the XDR the MOUNT call needs */
void put_opaque(struct xdr *x, const void *p, size_t n);
const uint8_t *get_opaque(struct xdr *x, uint32_t *n, uint32_t max);

/* nfsraw_rpc.c: the transport */
void conn_close(struct conn *c);
extern uint8_t argbuf[XDR_MAX], resbuf[XDR_MAX];
uint32_t call(struct conn *c, uint32_t prog, uint32_t proc,
	      const struct xdr *args, struct xdr *res);

/* nfsraw_rpc.c: NFSv3 calls: each returns the NFS status, or UINT32_MAX
 * with g.rpcerr set */
uint32_t do_getattr(const struct fh *fh, struct fattr *a);
uint32_t do_lookup(const struct fh *dir, const char *name, struct fh *out,
		   struct fattr *a, int *has_attr);
uint32_t do_read(const struct fh *fh, uint64_t off, uint32_t count,
		 uint8_t *data, uint32_t *n, uint32_t *eof);
uint32_t do_write(const struct fh *fh, uint64_t off, const char *text,
		  uint32_t *n);
uint32_t do_create(const struct fh *dir, const char *name, struct fh *out);
uint32_t do_readdir(const struct fh *dir, FILE *f);

/* nfsraw.c: bytes printed with \xNN for anything but printable ASCII
 * (and for \ and comma) */
void print_esc(FILE *f, const uint8_t *p, size_t n);

#endif
