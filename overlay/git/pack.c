/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pack.c - the pack writer: the objects a snapshot staged, written as one
 * pack and its v2 index, durable before the branch moves.
 *
 * libgit2's git_mempack_dump packs everything reachable from the staged
 * commits, old objects included; so the objects this module stages are
 * recorded as they are written and packed by pifs_pack_write, which writes
 * only those new objects (no deltas) and their index itself, keeping the
 * pack, and the cost, proportional to the change.  Big blobs are not in
 * the mempack: bigblob.c deflated them into a spill file as it read
 * them, and their entries are copied from there.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
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

/* Write the staged objects as one pack and its index, here rather than
 * through a packbuilder and libgit2's indexer: those deflate at the
 * default level, then inflate and hash every object again to index what
 * we already know, which for a big delta's META (~50 bytes an entry)
 * was most of an incremental snapshot's pack time.  Objects are deflated
 * at the fastest level, without deltas; the pack and index (v2) are
 * written to temporaries in objects/pack, fsynced, renamed to
 * pack-<checksum> (the index last: readers find a pack by its index) and
 * the directory fsynced before the branch may move. */
#define PACK_DIR PIFS_GIT_DIR "/objects/pack"
#define PACK_TMP "tmp_pifs_pack"
#define IDX_TMP	 "tmp_pifs_idx"

struct packw {
	int fd;
	int err;
	z_stream z; /* reset for each object */
	int zinit;
	struct pifs_sha1 sha;
	uint64_t off;
	size_t len;
	unsigned char buf[65536]; /* last: not cleared */
};

static void pw_flush(struct packw *w)
{
	if (!w->err && w->len)
		w->err = pifs_write_all(w->fd, w->buf, w->len);
	w->len = 0;
}

/* Append to the pack (and its checksum). */
static void pw_add(struct packw *w, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t n;

	pifs_sha1_update(&w->sha, p, len);
	w->off += len;
	while (len && !w->err) {
		if (w->len == sizeof(w->buf))
			pw_flush(w);
		n = sizeof(w->buf) - w->len < len ? sizeof(w->buf) - w->len
						  : len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
	}
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

size_t pifs_pack_entry_header(unsigned char hdr[16], git_object_t type,
			      uint64_t size)
{
	unsigned c = (unsigned)type << 4 | (unsigned)(size & 15);
	size_t n = 0;

	size >>= 4;
	while (size) {
		hdr[n++] = (unsigned char)(c | 0x80);
		c = (unsigned)(size & 0x7f);
		size >>= 7;
	}
	hdr[n++] = (unsigned char)c;
	return n;
}

/* One object: the type-and-size header and the zlib stream; *crc gets
 * the CRC-32 of both (what the index records). */
static int pw_object(struct packw *w, git_object_t type, const void *data,
		     size_t len, uint32_t *crc)
{
	unsigned char hdr[16], out[16384];
	size_t n = pifs_pack_entry_header(hdr, type, len);
	z_stream *z = &w->z;
	int zr;

	pw_add(w, hdr, n);
	*crc = (uint32_t)crc32(0, hdr, (uInt)n);
	if (!w->zinit) {
		memset(z, 0, sizeof(*z));
		if (deflateInit(z, Z_BEST_SPEED) != Z_OK)
			return -ENOMEM;
		w->zinit = 1;
	} else if (deflateReset(z) != Z_OK) {
		return -EIO;
	}
	z->next_in = (Bytef *)(uintptr_t)data;
	z->avail_in = 0;
	do {
		/* avail_in is 32 bits: feed at most 1 GiB at a time */
		if (!z->avail_in && len) {
			z->avail_in = len > ((size_t)1 << 30) ? 1u << 30
							      : (uInt)len;
			len -= z->avail_in;
		}
		z->next_out = out;
		z->avail_out = sizeof(out);
		zr = deflate(z, len || z->avail_in ? Z_NO_FLUSH : Z_FINISH);
		if (zr == Z_STREAM_ERROR)
			break;
		n = sizeof(out) - z->avail_out;
		pw_add(w, out, n);
		*crc = (uint32_t)crc32(*crc, out, (uInt)n);
	} while (zr != Z_STREAM_END);
	if (zr != Z_STREAM_END)
		return -EIO;
	return w->err;
}

/* A big blob's pack entry, as bigblob.c deflated it into the spill file. */
static int pw_spilled(struct packw *w, struct pifs_git *g,
		      const struct pifs_spilled *sp)
{
	unsigned char b[65536];
	uint64_t done = 0;
	ssize_t r;

	while (done < sp->len && !w->err) {
		size_t n = sp->len - done < sizeof(b) ? (size_t)(sp->len - done)
						      : sizeof(b);

		r = pifs_pread_some(g->spill_fd, b, n, sp->off + done, -EIO);
		if (r < 0)
			return (int)r;
		pw_add(w, b, (size_t)r);
		done += (uint64_t)r;
	}
	return w->err;
}

struct pobj {
	git_oid oid;
	uint64_t off;
	uint32_t crc;
	long spill; /* index in g->spilled, or -1: in the mempack */
};

static int pobj_cmp(const void *a, const void *b)
{
	return git_oid_cmp(&((const struct pobj *)a)->oid,
			   &((const struct pobj *)b)->oid);
}

/* The v2 index of the sorted objects o[0..n) of the pack with checksum
 * packsum, its own checksum at the end. */
static int idx_build(const struct pobj *o, size_t n,
		     const unsigned char packsum[20], struct pifs_strbuf *sb)
{
	static const unsigned char magic[8] = {0xff, 't', 'O', 'c', 0, 0, 0, 2};
	unsigned char b[8], sum[20];
	struct pifs_sha1 sha;
	size_t i, j, nlarge = 0;

	pifs_strbuf_add(sb, magic, sizeof(magic));
	for (i = 0, j = 0; i < 256; i++) {
		while (j < n && o[j].oid.id[0] <= i)
			j++;
		put_be32(b, (uint32_t)j);
		pifs_strbuf_add(sb, b, 4);
	}
	for (i = 0; i < n; i++)
		pifs_strbuf_add(sb, o[i].oid.id, 20);
	for (i = 0; i < n; i++) {
		put_be32(b, o[i].crc);
		pifs_strbuf_add(sb, b, 4);
	}
	for (i = 0; i < n; i++) {
		if (o[i].off < 0x80000000u)
			put_be32(b, (uint32_t)o[i].off);
		else
			put_be32(b, 0x80000000u | (uint32_t)nlarge++);
		pifs_strbuf_add(sb, b, 4);
	}
	for (i = 0; i < n; i++) {
		if (o[i].off < 0x80000000u)
			continue;
		put_be32(b, (uint32_t)(o[i].off >> 32));
		put_be32(b + 4, (uint32_t)o[i].off);
		pifs_strbuf_add(sb, b, 8);
	}
	pifs_strbuf_add(sb, packsum, 20);
	if (sb->err)
		return sb->err;
	pifs_sha1_init(&sha);
	pifs_sha1_update(&sha, sb->p, sb->len);
	pifs_sha1_final(&sha, sum);
	pifs_strbuf_add(sb, sum, 20);
	return sb->err;
}

int pifs_pack_write(struct pifs_git *g, unsigned *count, char *errbuf,
		    size_t errlen)
{
	struct packw *w = NULL;
	struct pobj *o = NULL;
	struct pifs_strbuf idx = {0};
	unsigned char hdr[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2}, sum[20];
	char name[64], hex[41];
	git_object_t type;
	size_t i, n = 0, len;
	void *data;
	int dfd, ifd = -1, ret;

	*count = 0;
	if (!g->nstaged && !g->nspilled)
		return 0;
	pifs_errclear(errbuf, errlen);
	o = malloc((g->nstaged + g->nspilled) * sizeof(*o));
	w = malloc(sizeof(*w));
	if (!o || !w) {
		free(o);
		free(w);
		return -ENOMEM;
	}
	/* one entry per object (the same content may be staged twice) */
	for (i = 0; i < g->nstaged; i++) {
		o[i].oid = g->staged[i];
		o[i].spill = -1;
	}
	for (i = 0; i < g->nspilled; i++) {
		o[g->nstaged + i].oid = g->spilled[i].oid;
		o[g->nstaged + i].spill = (long)i;
	}
	qsort(o, g->nstaged + g->nspilled, sizeof(*o), pobj_cmp);
	for (i = 0; i < g->nstaged + g->nspilled; i++)
		if (!n || !git_oid_equal(&o[i].oid, &o[n - 1].oid))
			o[n++] = o[i];
	dfd = pifs_openat_beneath(g->st->fd, PACK_DIR, O_PATH | O_DIRECTORY,
				  0);
	if (dfd < 0) {
		free(o);
		free(w);
		pifs_seterr(errbuf, errlen, "cannot open '%s/" PACK_DIR "': %s",
		       g->st->path, strerror(-dfd));
		return dfd;
	}
	pifs_do_unlink(dfd, PACK_TMP, 0);
	pifs_do_unlink(dfd, IDX_TMP, 0);
	memset(w, 0, offsetof(struct packw, buf));
	pifs_sha1_init(&w->sha);
	w->fd = pifs_openat_beneath(dfd, PACK_TMP,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
				    0444);
	if (w->fd < 0) {
		ret = w->fd;
		w->fd = -1;
		goto fail;
	}
	put_be32(hdr + 8, (uint32_t)n);
	pw_add(w, hdr, sizeof(hdr));
	for (i = 0, ret = 0; i < n && ret == 0; i++) {
		o[i].off = w->off;
		if (o[i].spill >= 0) {
			ret = pw_spilled(w, g, &g->spilled[o[i].spill]);
			o[i].crc = g->spilled[o[i].spill].crc;
			continue;
		}
		ret = g->mempack->read(&data, &len, &type, g->mempack,
				       &o[i].oid);
		if (ret < 0) {
			ret = pifs_git_error(ret, errbuf, errlen,
					     "cannot read a staged object");
			goto fail;
		}
		ret = pw_object(w, type, data, len, &o[i].crc);
		git_odb_backend_data_free(g->mempack, data);
	}
	pifs_sha1_final(&w->sha, sum);
	if (ret == 0) {
		pw_flush(w);
		ret = w->err ? w->err : pifs_write_all(w->fd, sum, 20);
	}
	if (ret == 0 && fsync(w->fd) < 0)
		ret = -errno;
	if (ret == 0)
		ret = idx_build(o, n, sum, &idx);
	if (ret == 0) {
		ifd = pifs_openat_beneath(
		    dfd, IDX_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
		    0444);
		ret = ifd < 0 ? ifd : pifs_write_all(ifd, idx.p, idx.len);
	}
	if (ret == 0 && fsync(ifd) < 0)
		ret = -errno;
	if (ret < 0)
		goto fail;
	git_oid_tostr(hex, sizeof(hex), (const git_oid *)(const void *)sum);
	snprintf(name, sizeof(name), "pack-%s.pack", hex);
	if ((ret = pifs_do_rename(dfd, PACK_TMP, dfd, name, 0)) < 0)
		goto fail;
	snprintf(name, sizeof(name), "pack-%s.idx", hex);
	if ((ret = pifs_do_rename(dfd, IDX_TMP, dfd, name, 0)) < 0)
		goto fail;
	ret = pifs_fsync_dir(dfd);
	if (ret < 0)
		goto fail;
	*count = (unsigned)n;
	git_odb_refresh(g->odb);
	goto out;
fail:
	pifs_do_unlink(dfd, PACK_TMP, 0);
	pifs_do_unlink(dfd, IDX_TMP, 0);
	pifs_seterr(errbuf, errlen, "cannot write snapshot objects: %s",
		    strerror(-ret));
out:
	if (w->zinit)
		deflateEnd(&w->z);
	if (w->fd >= 0)
		close(w->fd);
	if (ifd >= 0)
		close(ifd);
	close(dfd);
	free(idx.p);
	free(o);
	free(w);
	return ret;
}
