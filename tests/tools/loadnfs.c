/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loadnfs.c - a data-verifying random load through an NFSv3 server
 * (libnfs, user space), for t-soak.sh and make soak.
 *
 *   loadnfs SERVER EXPORT DIR SEED OPS
 *
 * mounts EXPORT, makes DIR in it (relative to the export, created if
 * missing, emptied of the names it uses), then makes OPS operations on
 * eight files DIR/f0..f7, each chosen by a xorshift generator seeded
 * with SEED: write random bytes at a random offset (creating the file if
 * missing), read a random range, truncate (shorter or longer), rename
 * one name over another, unlink, fsync, and read a whole file.  It keeps
 * every file's bytes in memory (the model) and checks every byte it
 * reads, every size and every ENOENT against it; at the end it reads
 * every file whole and lists DIR.  Files stay under 1 MiB.
 *
 * Prints "ok seed=S ops=N written=B read=B" and exits 0, or on the first
 * difference prints "FAIL seed=S op=N: what" (rerun with the same seed
 * against a fresh tree to repeat it) and exits 1; 2 for usage or a
 * mount that fails.  Every request is bounded (nfs_set_timeout), so a
 * server that stops answering is a failure, not a hang.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nfsc/libnfs.h>

#define NF 8
#define MAXSZ (1 << 20)

struct mfile {
	int exists;
	size_t size;
	unsigned char *data; /* MAXSZ bytes, zero past size */
};

static struct nfs_context *nfs;
static struct mfile model[NF];
static uint64_t rng, seed;
static long opno;
static const char *dir;
static uint64_t nwritten, nread;
static unsigned char buf[MAXSZ];

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t pick(size_t n)
{
	return (size_t)(next() % n);
}

__attribute__((format(printf, 2, 3), noreturn))
static void die(int ret, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL seed=%" PRIu64 " op=%ld: ", seed, opno);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (ret)
		printf(": %s (%s)", strerror(-ret), nfs_get_error(nfs));
	putchar('\n');
	exit(1);
}

static void path(char *p, size_t len, int i)
{
	snprintf(p, len, "%s/f%d", dir, i);
}

/* Compare what was read of file I at OFF with the model. */
static void check(int i, size_t off, size_t n, const unsigned char *got,
		  const char *what)
{
	size_t k;
	char msg[160];

	for (k = 0; k < n; k++) {
		if (got[k] != model[i].data[off + k]) {
			snprintf(msg, sizeof(msg),
				 "%s of f%d: byte %zu is 0x%02x, the model "
				 "has 0x%02x (size %zu)",
				 what, i, off + k, got[k],
				 model[i].data[off + k], model[i].size);
			die(0, "%s", msg);
		}
	}
}

/* Open file I (O_RDWR); a missing file must be missing in the model. */
static struct nfsfh *open_i(int i, int create)
{
	struct nfsfh *fh = NULL;
	char p[256];
	int ret;

	path(p, sizeof(p), i);
	if (create && !model[i].exists)
		ret = nfs_create(nfs, p, O_RDWR | O_EXCL, 0644, &fh);
	else
		ret = nfs_open(nfs, p, O_RDWR, &fh);
	if (ret == -ENOENT && !model[i].exists && !create)
		return NULL;
	if (ret < 0)
		die(ret, model[i].exists ? "open of existing %s"
				    : "create of %s", p);
	if (!model[i].exists && !create)
		die(0, "%s opens, the model has no such file", p);
	if (create && !model[i].exists) {
		model[i].exists = 1;
		model[i].size = 0;
	}
	return fh;
}

static void close_i(struct nfsfh *fh)
{
	if (fh && nfs_close(nfs, fh) < 0)
		die(-EIO, "%s", "close");
}

static void check_size(int i, struct nfsfh *fh)
{
	struct nfs_stat_64 st;
	char msg[96];
	int ret = nfs_fstat64(nfs, fh, &st);

	if (ret < 0)
		die(ret, "%s", "fstat");
	if (st.nfs_size != model[i].size) {
		snprintf(msg, sizeof(msg), "f%d is %" PRIu64 " bytes, the "
			 "model %zu", i, (uint64_t)st.nfs_size, model[i].size);
		die(0, "%s", msg);
	}
}

static void read_range(int i, struct nfsfh *fh, size_t off, size_t len,
		       const char *what)
{
	size_t done = 0, want;
	int ret;

	if (off > model[i].size)
		off = model[i].size;
	if (off + len > model[i].size)
		len = model[i].size - off;
	while (done < len) {
		want = len - done > 256 * 1024 ? 256 * 1024 : len - done;
		ret = nfs_pread(nfs, fh, off + done, want, buf + done);
		if (ret < 0)
			die(ret, "%s", what);
		if (ret == 0)
			die(0, "%s: early end of file", what);
		done += (size_t)ret;
	}
	nread += len;
	check(i, off, len, buf, what);
}

static void op_write(int i)
{
	struct nfsfh *fh = open_i(i, 1);
	size_t off = pick(MAXSZ - 65536), len = 1 + pick(65536), k, done = 0;
	int ret;

	if (pick(2))
		off %= model[i].size + 1; /* often at or below the end */
	for (k = 0; k < len; k++)
		buf[k] = (unsigned char)next();
	while (done < len) {
		ret = nfs_pwrite(nfs, fh, off + done, len - done, buf + done);
		if (ret <= 0)
			die(ret ? ret : -EIO, "%s", "write");
		done += (size_t)ret;
	}
	memcpy(model[i].data + off, buf, len);
	if (off + len > model[i].size)
		model[i].size = off + len;
	nwritten += len;
	if (pick(8) == 0 && (ret = nfs_fsync(nfs, fh)) < 0)
		die(ret, "%s", "fsync");
	check_size(i, fh);
	close_i(fh);
}

static void op_read(int i, int whole)
{
	struct nfsfh *fh = open_i(i, 0);
	size_t off, len;

	if (!fh)
		return;
	check_size(i, fh);
	off = whole ? 0 : pick(model[i].size + 1);
	len = whole ? model[i].size : pick(200000);
	read_range(i, fh, off, len, whole ? "whole read" : "read");
	close_i(fh);
}

static void op_truncate(int i)
{
	struct nfsfh *fh = open_i(i, 0);
	size_t len = pick(MAXSZ);
	int ret;

	if (!fh)
		return;
	if (pick(2))
		len %= model[i].size + 1;
	if ((ret = nfs_ftruncate(nfs, fh, len)) < 0)
		die(ret, "%s", "truncate");
	if (len < model[i].size)
		memset(model[i].data + len, 0, model[i].size - len);
	model[i].size = len;
	check_size(i, fh);
	close_i(fh);
}

static void op_rename(int i, int j)
{
	char a[256], b[256];
	unsigned char *t;
	int ret;

	path(a, sizeof(a), i);
	path(b, sizeof(b), j);
	ret = nfs_rename(nfs, a, b);
	if (!model[i].exists) {
		if (ret != -ENOENT)
			die(ret, "rename of missing %s: not ENOENT", a);
		return;
	}
	if (ret < 0)
		die(ret, "rename of %s", a);
	if (i == j)
		return;
	t = model[j].data;
	model[j] = model[i];
	model[i].data = t;
	memset(t, 0, MAXSZ);
	model[i].exists = 0;
	model[i].size = 0;
}

static void op_unlink(int i)
{
	char p[256];
	int ret;

	path(p, sizeof(p), i);
	ret = nfs_unlink(nfs, p);
	if (!model[i].exists) {
		if (ret != -ENOENT)
			die(ret, "unlink of missing %s: not ENOENT", p);
		return;
	}
	if (ret < 0)
		die(ret, "unlink of %s", p);
	memset(model[i].data, 0, model[i].size);
	model[i].exists = 0;
	model[i].size = 0;
}

/* The listing of DIR holds exactly the model's files. */
static void check_list(void)
{
	struct nfsdir *d;
	struct nfsdirent *e;
	int seen[NF] = {0}, i, ret;

	if ((ret = nfs_opendir(nfs, dir, &d)) < 0)
		die(ret, "opendir %s", dir);
	while ((e = nfs_readdir(nfs, d))) {
		if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
			continue;
		if (e->name[0] != 'f' || e->name[1] < '0' ||
		    e->name[1] >= '0' + NF || e->name[2]) {
			nfs_closedir(nfs, d);
			die(0, "stray entry '%s' in the directory", e->name);
		}
		seen[e->name[1] - '0'] = 1;
	}
	nfs_closedir(nfs, d);
	for (i = 0; i < NF; i++) {
		char p[256];

		path(p, sizeof(p), i);
		if (seen[i] != model[i].exists)
			die(0, seen[i] ? "%s is listed, not in the model"
				       : "%s is not listed", p);
	}
}

int main(int argc, char **argv)
{
	long ops, k;
	int i, ret;
	char p[256];

	if (argc != 6) {
		fprintf(stderr, "usage: loadnfs SERVER EXPORT DIR SEED OPS\n");
		return 2;
	}
	dir = argv[3];
	seed = strtoull(argv[4], NULL, 0);
	rng = seed * 2654435761ULL + 88172645463325252ULL;
	ops = atol(argv[5]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < NF; i++)
		if (!(model[i].data = calloc(1, MAXSZ))) {
			fprintf(stderr, "loadnfs: out of memory\n");
			return 2;
		}
	if (!(nfs = nfs_init_context())) {
		fprintf(stderr, "loadnfs: no libnfs context\n");
		return 2;
	}
	nfs_set_timeout(nfs, 60000);
	nfs_set_autoreconnect(nfs, 10);
	if ((ret = nfs_mount(nfs, argv[1], argv[2])) < 0) {
		fprintf(stderr, "loadnfs: cannot mount %s:%s: %s\n", argv[1],
			argv[2], nfs_get_error(nfs));
		return 2;
	}
	ret = nfs_mkdir(nfs, dir);
	if (ret < 0 && ret != -EEXIST)
		die(ret, "mkdir %s", dir);
	for (i = 0; i < NF; i++) {
		path(p, sizeof(p), i);
		ret = nfs_unlink(nfs, p);
		if (ret < 0 && ret != -ENOENT)
			die(ret, "unlink of old %s", p);
	}
	for (k = 0; k < ops; k++) {
		opno = k;
		i = (int)pick(NF);
		switch (pick(16)) {
		case 0: case 1: case 2: case 3: case 4: case 5:
			op_write(i);
			break;
		case 6: case 7: case 8: case 9:
			op_read(i, 0);
			break;
		case 10: case 11:
			op_truncate(i);
			break;
		case 12:
			op_rename(i, (int)pick(NF));
			break;
		case 13:
			if (pick(3) == 0)
				op_unlink(i);
			break;
		default:
			op_read(i, 1);
			break;
		}
	}
	opno = ops;
	check_list();
	for (i = 0; i < NF; i++)
		op_read(i, 1);
	printf("ok seed=%" PRIu64 " ops=%ld written=%" PRIu64
	       " read=%" PRIu64 "\n", seed, ops, nwritten, nread);
	nfs_destroy_context(nfs);
	for (i = 0; i < NF; i++)
		free(model[i].data);
	return 0;
}
