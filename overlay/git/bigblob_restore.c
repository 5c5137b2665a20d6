/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bigblob_restore.c - a big blob (bigblob.c) streamed back out of its
 * pack, never whole in memory.
 *
 * A reset restores such a blob the same way round as it was staged:
 * found through the packs' indexes, inflated in chunks straight into the
 * file (4 KiB blocks of zeros left as holes) and checked against its id
 * as it goes.  `pifs show` streams it into a pipe the same way, and a
 * sparse file (sparse.c) is compared with an older whole blob without
 * writing anything.  An object stored otherwise (a delta, after a git gc
 * by hand; a loose object) is read by libgit2, whole.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "internal.h"
#include "safeio.h"
#include "sha1.h"
#include "store.h"

#define CHUNK ((size_t)1 << 20)

static const unsigned char zeros[65536];

/* A pack or index is damaged where it ends early. */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	return pifs_pread_all(fd, buf, len, off, -EIO);
}

/* The offset of oid in the pack of the v2 index ifd: 0, -ENOENT if the
 * index does not have it, or -errno. */
static int idx_find(int ifd, const git_oid *oid, uint64_t *off)
{
	unsigned char hdr[8 + 1024], id[20], b[8];
	uint32_t n, lo, hi, mid, o;
	int ret, c;

	ret = pread_all(ifd, hdr, sizeof(hdr), 0);
	if (ret < 0)
		return ret;
	if (memcmp(hdr, "\377tOc\0\0\0\2", 8))
		return -ENOENT; /* not a v2 index: leave it to libgit2 */
	n = pifs_be32(hdr + 8 + 255 * 4);
	lo = oid->id[0] ? pifs_be32(hdr + 8 + (oid->id[0] - 1) * 4) : 0;
	hi = pifs_be32(hdr + 8 + oid->id[0] * 4);
	if (hi > n || lo > hi)
		return -EIO;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		ret = pread_all(ifd, id, 20, sizeof(hdr) + (uint64_t)mid * 20);
		if (ret < 0)
			return ret;
		c = memcmp(oid->id, id, 20);
		if (!c) {
			ret = pread_all(ifd, b, 4,
					sizeof(hdr) + (uint64_t)n * 24 +
					    (uint64_t)mid * 4);
			if (ret < 0)
				return ret;
			o = pifs_be32(b);
			if (!(o & 0x80000000u)) {
				*off = o;
				return 0;
			}
			ret = pread_all(ifd, b, 8,
					sizeof(hdr) + (uint64_t)n * 28 +
					    (uint64_t)(o & 0x7fffffffu) * 8);
			if (ret < 0)
				return ret;
			*off = (uint64_t)pifs_be32(b) << 32 | pifs_be32(b + 4);
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENOENT;
}

/* Open the pack whose index lists oid; *off gets the object's offset in
 * it.  The pack's fd, -ENOENT if no index lists it, or -errno.  An index
 * that cannot be opened is passed over, or (strict) its error. */
static int pack_open(const struct pifs_store *st, const git_oid *oid,
		     uint64_t *off, int strict)
{
	char name[NAME_MAX + 1];
	struct dirent *de;
	DIR *d;
	int dfd, fd = -1, ret = -ENOENT;
	size_t l;

	dfd = pifs_openat_beneath(st->fd, PIFS_GIT_DIR "/objects/pack",
				  O_RDONLY | O_DIRECTORY, 0);
	if (dfd < 0)
		return dfd;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -ENOMEM;
	}
	while (ret == -ENOENT && (de = readdir(d))) {
		l = strlen(de->d_name);
		if (l < 5 || l > NAME_MAX || strcmp(de->d_name + l - 4, ".idx"))
			continue;
		fd = pifs_openat_beneath(dirfd(d), de->d_name, O_RDONLY, 0);
		if (fd < 0) {
			if (strict)
				ret = fd;
			continue;
		}
		ret = idx_find(fd, oid, off);
		close(fd);
		if (ret == 0) {
			/* listed: then the pack is what cannot be read */
			memcpy(name, de->d_name, l - 4);
			memcpy(name + l - 4, ".pack", 6);
			fd = pifs_openat_beneath(dirfd(d), name, O_RDONLY, 0);
			ret = fd < 0 ? fd : 0;
		}
	}
	closedir(d);
	return ret < 0 ? ret : fd;
}

int pifs_git_pack_probe(const struct pifs_store *st, const git_oid *oid)
{
	unsigned char b;
	uint64_t off;
	int fd, ret;

	fd = pack_open(st, oid, &off, 1);
	if (fd < 0)
		return fd;
	ret = pread_all(fd, &b, 1, off);
	close(fd);
	return ret < 0 ? ret : -EIO;
}

/* Append out[0..n) of the blob at *pos of fd (a new file: a hole reads
 * as zeros), leaving zeros as holes.  The windows follow the file's 4 KiB
 * blocks, not the chunks inflate hands out: those end anywhere, and a
 * window across two blocks with one data byte would allocate both (a
 * 6 GiB file of one byte came back with 2 MiB of blocks). */
static int write_holey(int fd, const unsigned char *p, size_t n, uint64_t *pos)
{
	size_t k, kk, run;
	int ret;

	while (n) {
		k = 4096 - (size_t)(*pos % 4096);
		if (k > n)
			k = n;
		if (!memcmp(p, zeros, k)) {
			p += k;
			n -= k;
			*pos += k;
			continue;
		}
		/* a run of windows with data, written at once */
		for (run = k; run < n && run < CHUNK; run += kk) {
			kk = n - run < 4096 ? n - run : 4096;
			if (!memcmp(p + run, zeros, kk))
				break;
		}
		ret = pifs_pwrite_all(fd, p, run, (off_t)*pos);
		if (ret < 0)
			return ret;
		p += run;
		n -= run;
		*pos += run;
	}
	return 0;
}

/* Where the bytes of a blob go: in order (seq: a pipe, `pifs show`) or
 * at their offsets with holes (restore); a sparse file's blob (sp) to
 * its extents, with zeros (seq) or holes between them. */
struct sink {
	int fd, seq;
	git_odb_stream *cmp; /* compare with sp: its data is hashed here */
	const struct pifs_meta_entry *sp;
	size_t x;	  /* sp: the extent being filled */
	uint64_t xdone;	  /* sp: its bytes already out */
	uint64_t fpos;	  /* the file offset written up to (seq) */
};

static int zeros_out(struct sink *k, uint64_t to)
{
	size_t n;
	int ret;

	while (k->fpos < to) {
		n = to - k->fpos < sizeof(zeros) ? (size_t)(to - k->fpos)
						 : sizeof(zeros);
		ret = pifs_write_all(k->fd, zeros, n);
		if (ret < 0)
			return ret;
		k->fpos += n;
	}
	return 0;
}

/* n bytes of a whole blob at *got, compared with the sparse file sp: zeros
 * outside its extents, its data (hashed into k->cmp) inside; -ECANCELED
 * at the first byte that differs. */
static int cmp_put(struct sink *k, const unsigned char *p, size_t n,
		   uint64_t *got)
{
	const struct pifs_extent *x;
	uint64_t to;
	size_t m, i;

	while (n) {
		x = k->x < k->sp->next ? &k->sp->ext[k->x] : NULL;
		if (x && *got >= x->off) {
			to = x->off + x->len;
			m = to - *got < n ? (size_t)(to - *got) : n;
			if (git_odb_stream_write(k->cmp, (const char *)p,
						 m) < 0)
				return -ECANCELED;
			if (*got + m == to)
				k->x++;
		} else {
			to = x ? x->off : k->sp->size;
			m = to - *got < n ? (size_t)(to - *got) : n;
			if (!m)
				return -ECANCELED; /* past the size */
			for (i = 0; i < m; i += sizeof(zeros)) {
				size_t z = m - i < sizeof(zeros)
					       ? m - i
					       : sizeof(zeros);

				if (memcmp(p + i, zeros, z))
					return -ECANCELED;
			}
		}
		p += m;
		n -= m;
		*got += m;
	}
	return 0;
}

/* n bytes of the blob, the next after got. */
static int sink_put(struct sink *k, const unsigned char *p, size_t n,
		    uint64_t *got)
{
	const struct pifs_extent *x;
	uint64_t pos;
	size_t m;
	int ret;

	if (k->cmp)
		return cmp_put(k, p, n, got);
	if (!k->sp) {
		if (!k->seq)
			return write_holey(k->fd, p, n, got);
		*got += n;
		return pifs_write_all(k->fd, p, n);
	}
	while (n) {
		if (k->x >= k->sp->next)
			return -EIO; /* more data than the map has room for */
		x = &k->sp->ext[k->x];
		m = x->len - k->xdone < n ? (size_t)(x->len - k->xdone) : n;
		pos = x->off + k->xdone;
		if (k->seq) {
			if ((ret = zeros_out(k, pos)) < 0 ||
			    (ret = pifs_write_all(k->fd, p, m)) < 0)
				return ret;
			k->fpos += m;
		} else if ((ret = write_holey(k->fd, p, m, &pos)) < 0) {
			return ret;
		}
		p += m;
		n -= m;
		*got += m;
		k->xdone += m;
		if (k->xdone == x->len) {
			k->x++;
			k->xdone = 0;
		}
	}
	return 0;
}

static int stream_blob(struct pifs_git *g, const unsigned char oid[20],
		       uint64_t size, struct sink *k, const char *path,
		       char *errbuf, size_t errlen);

int pifs_bigblob_restore(struct pifs_git *g, const unsigned char oid[20],
			 uint64_t size, const struct pifs_meta_entry *sp,
			 int fd, const char *path, char *errbuf,
			 size_t errlen)
{
	struct sink k = {.fd = fd, .sp = sp};
	int ret = stream_blob(g, oid, size, &k, path, errbuf, errlen);

	if (ret == 0 &&
	    ftruncate(fd, (off_t)(sp ? sp->size : size)) < 0)
		ret = -errno;
	return ret;
}

int pifs_bigblob_cat(struct pifs_git *g, const unsigned char oid[20],
		     uint64_t size, const struct pifs_meta_entry *sp, int fd,
		     char *errbuf, size_t errlen)
{
	struct sink k = {.fd = fd, .seq = 1, .sp = sp};
	int ret = stream_blob(g, oid, size, &k, NULL, errbuf, errlen);

	if (ret == 0 && sp)
		ret = zeros_out(&k, sp->size);
	return ret;
}

int pifs_bigblob_same_sparse(struct pifs_git *g, const unsigned char oid[20],
			     uint64_t size, const struct pifs_meta_entry *sp)
{
	struct sink k = {.fd = -1, .sp = sp};
	git_odb *odb = NULL;
	git_oid id;
	int ret;

	if (size != sp->size)
		return 0;
	ret = pifs_sparse_hasher(&odb);
	if (ret < 0)
		return ret;
	if (git_odb_open_wstream(&k.cmp, odb, pifs_meta_sparse_data(sp),
				 GIT_OBJECT_BLOB) < 0) {
		git_odb_free(odb);
		return -ENOMEM;
	}
	ret = stream_blob(g, oid, size, &k, "", NULL, 0);
	if (ret == 0)
		ret = k.x == sp->next &&
		      git_odb_stream_finalize_write(&id, k.cmp) == 0 &&
		      !memcmp(id.id, sp->oid, 20);
	else if (ret == -ECANCELED)
		ret = 0;
	git_odb_stream_free(k.cmp);
	git_odb_free(odb);
	return ret;
}

/* The blob oid (size bytes) from its pack into k. */
static int stream_blob(struct pifs_git *g, const unsigned char oid[20],
		       uint64_t size, struct sink *k, const char *path,
		       char *errbuf, size_t errlen)
{
	unsigned char hdr[32], md[20], *in = NULL, *out = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	uint64_t off = 0, got = 0, bsize;
	struct pifs_sha1 sha;
	z_stream z = {0};
	int pfd, ret, n, zr = Z_OK, zinit = 0;
	unsigned c, shift;
	git_oid o;
	size_t kk;

	memcpy(o.id, oid, 20);
	pfd = pack_open(g->st, &o, &off, 0);
	if (pfd < 0)
		return pfd == -ENOENT ? -ENOTSUP : pfd;
	ret = pread_all(pfd, hdr, 16, off); /* the pack's trailer follows */
	if (ret < 0)
		goto out;
	/* the entry's type and size; a delta (after a git gc) or anything
	 * unexpected is left to libgit2 */
	c = hdr[0];
	bsize = c & 15;
	for (kk = 1, shift = 4; c & 0x80 && kk < 11; kk++, shift += 7) {
		c = hdr[kk];
		bsize |= (uint64_t)(c & 0x7f) << shift;
	}
	ret = -ENOTSUP;
	if ((hdr[0] >> 4 & 7) != 3 || c & 0x80 || bsize != size)
		goto out;
	off += kk;
	in = malloc(65536);
	out = malloc(CHUNK);
	if (!in || !out || inflateInit(&z) != Z_OK) {
		ret = -ENOMEM;
		goto out;
	}
	zinit = 1;
	pifs_sha1_init(&sha);
	n = snprintf((char *)hdr, sizeof(hdr), "blob %llu",
		     (unsigned long long)size);
	pifs_sha1_update(&sha, hdr, (size_t)n + 1);
	ret = 0;
	while (zr != Z_STREAM_END && ret == 0) {
		if (!z.avail_in) {
			ssize_t r = pifs_pread_some(pfd, in, 65536, off, -EIO);

			if (r < 0) {
				ret = (int)r;
				break;
			}
			off += (uint64_t)r;
			z.next_in = in;
			z.avail_in = (uInt)r;
		}
		z.next_out = out;
		z.avail_out = CHUNK;
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END) {
			ret = -EIO;
			break;
		}
		kk = CHUNK - z.avail_out;
		if (got + kk > size) {
			ret = -EIO;
			break;
		}
		pifs_sha1_update(&sha, out, kk);
		ret = sink_put(k, out, kk, &got);
		if (!k->seq && !k->cmp && g->progress)
			g->progress(g->progress_arg, path, 1, got, size);
	}
	if (ret == 0 && got != size)
		ret = -EIO;
	if (ret == 0) {
		pifs_sha1_final(&sha, md);
		if (memcmp(md, oid, 20))
			ret = -EIO;
	}
	if (ret == -EIO)
		pifs_seterr(errbuf, errlen,
			    "the object %s in the packs is damaged (pifs fsck "
			    "says more)",
			    git_oid_tostr(hex, sizeof(hex), &o));
out:
	if (zinit)
		inflateEnd(&z);
	free(in);
	free(out);
	close(pfd);
	return ret;
}
