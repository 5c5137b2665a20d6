/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bigblob.c - a big file hashed, or staged as a blob, without ever being
 * whole in memory.
 *
 * A small file is read whole, hashed and written to the mempack, which
 * keeps it until pack.c writes the pack.  For a disk image, a database or
 * a VM's disk in a worker's root that would cost its size twice in memory
 * (the read buffer and the mempack's copy: 6 GiB of RSS for a 3 GiB sparse
 * file).  A file of PIFS_BIGBLOB_MIN bytes or more is read in chunks
 * instead, and each chunk goes at once to
 *  - the zlib stream of its pack entry, appended to the spill file (an
 *    unlinked file in objects/pack: nothing is left behind by a crash),
 *    which pack.c copies into the pack as it is, with its CRC-32;
 *  - a SHA-1 of the blob (Nettle), and the XXH3 the stat cache keeps.
 * Holes (SEEK_DATA/SEEK_HOLE) are fed as zeros without being read.
 *
 * The object id itself comes from libgit2 (git_odb_hashfile, with its
 * collision detection, as for every other object), which reads the file a
 * second time.  The two digests must agree; if they do not, the file
 * changed between the reads (nothing should write it: the worker is paused
 * or the store unmounted) and the snapshot fails rather than record bytes
 * under another id.  An object the repository (or this snapshot) already
 * has is cut off the spill file again.
 *
 * A reset streams such a blob back out of its pack: bigblob_restore.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <zlib.h>

#include "internal.h"
#include "safeio.h"
#include "sha1.h"
#include "store.h"

#define CHUNK ((size_t)1 << 20)

static const unsigned char zeros[65536];

struct feed {
	struct pifs_git *g; /* NULL: hash only */
	struct pifs_git *pg; /* progress told here (may be NULL) */
	const char *path;
	struct pifs_sha1 sha;
	XXH3_state_t *xs;
	z_stream z;
	int zinit;
	uint32_t crc;
	unsigned char out[65536];
	int err;
};

static int spill_open(struct pifs_git *g)
{
	int dfd, fd;

	if (g->spill_fd >= 0)
		return 0;
	dfd = pifs_openat_beneath(g->st->fd, PIFS_GIT_DIR "/objects/pack",
				  O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return dfd;
	/* a name for a moment only: unlinked at once, so a crash leaves
	 * nothing behind */
	pifs_do_unlink(dfd, PIFS_SPILL_TMP, 0);
	fd = pifs_openat_beneath(dfd, PIFS_SPILL_TMP,
				 O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		int r = pifs_do_unlink(dfd, PIFS_SPILL_TMP, 0);

		if (r < 0) {
			close(fd);
			fd = r;
		}
	}
	close(dfd);
	if (fd < 0)
		return fd;
	g->spill_fd = fd;
	g->spill_len = 0;
	return 0;
}

/* Append n bytes of the pack entry to the spill file. */
static void spill_add(struct feed *f, const void *p, size_t n)
{
	if (f->err || !n)
		return;
	f->crc = (uint32_t)crc32(f->crc, p, (uInt)n);
	f->err = pifs_pwrite_all(f->g->spill_fd, p, n, (off_t)f->g->spill_len);
	if (!f->err)
		f->g->spill_len += n;
}

static void deflate_some(struct feed *f, const void *p, size_t n, int flush)
{
	z_stream *z = &f->z;
	int zr;

	z->next_in = (Bytef *)(uintptr_t)p;
	z->avail_in = (uInt)n;
	do {
		z->next_out = f->out;
		z->avail_out = sizeof(f->out);
		zr = deflate(z, flush);
		if (zr == Z_STREAM_ERROR) {
			f->err = -EIO;
			return;
		}
		spill_add(f, f->out, sizeof(f->out) - z->avail_out);
	} while (!f->err && (z->avail_out == 0 ||
			     (flush == Z_FINISH && zr != Z_STREAM_END)));
}

/* n bytes of the blob's content (n <= CHUNK). */
static void feed(struct feed *f, const void *p, size_t n)
{
	pifs_sha1_update(&f->sha, p, n);
	XXH3_64bits_update(f->xs, p, n);
	if (f->g)
		deflate_some(f, p, n, Z_NO_FLUSH);
}

static void feed_zeros(struct feed *f, uint64_t n)
{
	while (n && !f->err) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);

		feed(f, zeros, k);
		n -= k;
	}
}

static void tell(const struct feed *f, uint64_t done, uint64_t total)
{
	if (f->pg && f->pg->progress)
		f->pg->progress(f->pg->progress_arg, f->path, 0, done, total);
}

/* Read fd's size bytes into f, holes as zeros.  -ESTALE if the file is
 * shorter than size now. */
static int feed_file(struct feed *f, int fd, uint64_t size, unsigned char *buf)
{
	uint64_t off = 0, data_end = 0; /* [off, data_end): known data */
	off_t d, h;
	ssize_t r;
	size_t n;

	while (off < size && !f->err) {
		if (off >= data_end) {
			d = lseek(fd, (off_t)off, SEEK_DATA);
			if (d < 0 && errno == ENXIO) {
				d = (off_t)size; /* a hole to the end */
			} else if (d < 0) {
				d = (off_t)off; /* no SEEK_DATA: all data */
				data_end = size;
			}
			if ((uint64_t)d > size)
				d = (off_t)size;
			if ((uint64_t)d > off) {
				/* a chunk of the hole at a time, for progress */
				n = (uint64_t)d - off < CHUNK
					? (size_t)((uint64_t)d - off)
					: CHUNK;
				feed_zeros(f, n);
				off += n;
				tell(f, off, size);
				continue;
			}
			if (data_end <= off) {
				h = lseek(fd, (off_t)off, SEEK_HOLE);
				data_end = h < 0 || (uint64_t)h > size
					       ? size
					       : (uint64_t)h;
				if (data_end <= off)
					data_end = size;
			}
		}
		n = data_end - off < CHUNK ? (size_t)(data_end - off) : CHUNK;
		r = pifs_pread_some(fd, buf, n, off, -ESTALE);
		if (r < 0)
			return (int)r;
		feed(f, buf, (size_t)r);
		off += (uint64_t)r;
		tell(f, off, size);
	}
	return f->err;
}

/* Read the data extents ext[0..next) of fd in chunks into buf, each
 * handed to put(arg, buf, bytes, the file offset read up to) until it
 * fails; -ESTALE if the file is shorter than the extents now. */
static int extents_read(int fd, const struct pifs_extent *ext, size_t next,
			unsigned char *buf,
			int (*put)(void *arg, const unsigned char *p,
				   size_t n, uint64_t end),
			void *arg)
{
	uint64_t off, end;
	ssize_t r;
	size_t i, n;
	int ret = 0;

	for (i = 0; i < next && ret == 0; i++) {
		for (off = ext[i].off, end = off + ext[i].len;
		     off < end && ret == 0; off += (uint64_t)r) {
			n = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
			r = pifs_pread_some(fd, buf, n, off, -ESTALE);
			if (r < 0)
				return (int)r;
			ret = put(arg, buf, (size_t)r, off + (uint64_t)r);
		}
	}
	return ret;
}

struct feed_at {
	struct feed *f;
	uint64_t size;
};

static int feed_put(void *arg, const unsigned char *p, size_t n,
		    uint64_t end)
{
	struct feed_at *a = arg;

	feed(a->f, p, n);
	tell(a->f, end, a->size);
	return a->f->err;
}

static int stream_put(void *arg, const unsigned char *p, size_t n,
		      uint64_t end)
{
	(void)end;
	/* more than the stream was opened for: the file grew */
	return git_odb_stream_write(arg, (const char *)p, n) < 0 ? -ESTALE
								 : 0;
}

/* The git id of the data extents of fd (total bytes), read again and
 * hashed by libgit2 (sparse.c). */
static int extents_git_id(int fd, const struct pifs_extent *ext, size_t next,
			  uint64_t total, unsigned char *buf, git_oid *oid)
{
	git_odb_stream *s = NULL;
	git_odb *odb = NULL;
	int ret;

	ret = pifs_sparse_hasher(&odb);
	if (ret < 0)
		return ret;
	if (git_odb_open_wstream(&s, odb, total, GIT_OBJECT_BLOB) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	ret = extents_read(fd, ext, next, buf, stream_put, s);
	if (ret == 0 && git_odb_stream_finalize_write(oid, s) < 0)
		ret = -ESTALE;
out:
	git_odb_stream_free(s);
	git_odb_free(odb);
	return ret;
}

static int spilled_has(const struct pifs_git *g, const git_oid *oid)
{
	size_t i;

	for (i = 0; i < g->nspilled; i++)
		if (git_oid_equal(&g->spilled[i].oid, oid))
			return 1;
	return 0;
}

static int spilled_add(struct pifs_git *g, const git_oid *oid, uint64_t off,
		       uint64_t len, uint32_t crc)
{
	struct pifs_spilled *n;

	if (g->nspilled == g->capspilled) {
		size_t cap = g->capspilled ? g->capspilled * 2 : 16;

		n = realloc(g->spilled, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		g->spilled = n;
		g->capspilled = cap;
	}
	n = &g->spilled[g->nspilled++];
	n->oid = *oid;
	n->off = off;
	n->len = len;
	n->crc = crc;
	return 0;
}

void pifs_git_set_progress(struct pifs_git *g, pifs_progress_fn fn,
			   void *arg)
{
	g->progress = fn;
	g->progress_arg = arg;
}

int pifs_bigblob(struct pifs_git *g, int fd, uint64_t size, const char *path,
		 git_oid *oid, uint64_t *xxh, char *errbuf, size_t errlen)
{
	return pifs_bigblob_progress(g, g, fd, size, path, oid, xxh, errbuf,
				     errlen);
}

static int bigblob(struct pifs_git *g, struct pifs_git *pg, int fd,
		   uint64_t size, const struct pifs_extent *ext, size_t next,
		   uint64_t total, const char *path, git_oid *oid,
		   uint64_t *xxh, char *errbuf, size_t errlen);

int pifs_bigblob_progress(struct pifs_git *g, struct pifs_git *pg, int fd,
			  uint64_t size, const char *path, git_oid *oid,
			  uint64_t *xxh, char *errbuf, size_t errlen)
{
	return bigblob(g, pg, fd, size, NULL, 0, size, path, oid, xxh, errbuf,
		       errlen);
}

int pifs_bigblob_extents(struct pifs_git *g, struct pifs_git *pg, int fd,
			 uint64_t size, const struct pifs_extent *ext,
			 size_t next, uint64_t total, const char *path,
			 git_oid *oid, uint64_t *xxh, char *errbuf,
			 size_t errlen)
{
	return bigblob(g, pg, fd, size, ext, next, total, path, oid, xxh,
		       errbuf, errlen);
}

/* size bytes of fd (ext NULL), or the next data extents ext of a sparse
 * file of size bytes (total bytes of data): the blob of those bytes. */
static int bigblob(struct pifs_git *g, struct pifs_git *pg, int fd,
		   uint64_t size, const struct pifs_extent *ext, size_t next,
		   uint64_t total, const char *path, git_oid *oid,
		   uint64_t *xxh, char *errbuf, size_t errlen)
{
	unsigned char *buf = NULL, hdr[32], md[20];
	char proc[32];
	uint64_t start = 0;
	struct feed *f;
	int n, ret;

	f = calloc(1, sizeof(*f));
	buf = malloc(CHUNK);
	if (!f || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	f->pg = pg;
	f->path = path;
	f->xs = XXH3_createState();
	if (!f->xs || XXH3_64bits_reset(f->xs) != XXH_OK) {
		ret = -ENOMEM;
		goto out;
	}
	pifs_sha1_init(&f->sha);
	n = snprintf((char *)hdr, sizeof(hdr), "blob %llu",
		     (unsigned long long)total);
	pifs_sha1_update(&f->sha, hdr, (size_t)n + 1);
	if (g) {
		ret = spill_open(g);
		if (ret < 0) {
			pifs_seterr(errbuf, errlen,
				    "cannot stage '%s': cannot make a spill "
				    "file in objects/pack: %s",
				    path, strerror(-ret));
			goto out;
		}
		f->g = g;
		start = g->spill_len;
		if (deflateInit(&f->z, Z_BEST_SPEED) != Z_OK) {
			ret = -ENOMEM;
			goto out;
		}
		f->zinit = 1;
		f->crc = (uint32_t)crc32(0, NULL, 0);
		spill_add(f, hdr + 16,
			  pifs_pack_entry_header(hdr + 16, GIT_OBJECT_BLOB,
						 total));
	}
	if (ext) {
		struct feed_at a = {f, size};

		ret = extents_read(fd, ext, next, buf, feed_put, &a);
	} else {
		ret = feed_file(f, fd, size, buf);
	}
	if (ret == 0 && g) {
		deflate_some(f, NULL, 0, Z_FINISH);
		ret = f->err;
	}
	if (ret == -ESTALE)
		goto changed;
	if (ret < 0) {
		/* f->err: the spill file's write failed, not the read */
		pifs_seterr(errbuf, errlen,
			    f->err ? "cannot write '%s' into git/objects/pack: "
				     "%s"
				   : "cannot read '%s': %s",
			    path, strerror(-ret));
		goto out;
	}
	pifs_sha1_final(&f->sha, md);
	*xxh = XXH3_64bits_digest(f->xs);
	/* the id as libgit2 computes every other one (collision detection) */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (ext) {
		ret = extents_git_id(fd, ext, next, total, buf, oid);
		if (ret == -ESTALE)
			goto changed;
		if (ret < 0) {
			pifs_seterr(errbuf, errlen, "cannot hash '%s': %s",
				    path, strerror(-ret));
			goto out;
		}
	} else {
		ret = git_odb_hashfile(oid, proc, GIT_OBJECT_BLOB);
	}
	if (ret < 0) {
		ret = pifs_git_error(ret, errbuf, errlen, "cannot hash '%s'",
				     path);
		goto out;
	}
	if (memcmp(md, oid->id, 20)) {
changed:
		pifs_seterr(errbuf, errlen,
			    "'%s' changed while it was read: nothing may "
			    "write a worker's delta but pifsd",
			    path);
		ret = -ESTALE;
		goto out;
	}
	if (!g)
		goto out;
	if (git_odb_exists(g->odb, oid) || spilled_has(g, oid)) {
		ret = 0; /* have it: cut it off again below */
		goto out;
	}
	ret = spilled_add(g, oid, start, g->spill_len - start, f->crc);
	if (ret == 0)
		start = g->spill_len; /* keep it */
out:
	if (g && g->spill_fd >= 0 && g->spill_len > start) {
		/* an object dropped (or half-written): give the space back */
		if (ftruncate(g->spill_fd, (off_t)start) == 0)
			g->spill_len = start;
		else if (ret == 0)
			ret = -errno;
	}
	if (f && f->zinit)
		deflateEnd(&f->z);
	if (f && f->xs)
		XXH3_freeState(f->xs);
	free(f);
	free(buf);
	return ret;
}

void pifs_bigblob_drop(struct pifs_git *g)
{
	if (g->spill_fd >= 0)
		close(g->spill_fd);
	g->spill_fd = -1;
	g->spill_len = 0;
	g->nspilled = 0;
}
