/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sparse.c - a file with holes costs its data, not its apparent size.
 *
 * Which files: one of PIFS_BIGBLOB_MIN bytes or more whose runs of zeros
 * (whole 4 KiB blocks, runs of PIFS_SPARSE_HOLE or more) come to
 * PIFS_SPARSE_MIN or more.  Such a file is stored as the blob of its data
 * extents only (the bytes outside those runs, one after the other) and
 * its META line records its apparent size and the extents (meta.h).
 * Every other file is a whole blob, as before: below 4 MiB a file is read
 * whole in memory and its zeros cost microseconds, and a few scattered
 * zero blocks are not worth a map in META.
 *
 * The runs are found by content, not by allocation: holes are skipped
 * with SEEK_DATA/SEEK_HOLE without being read (they are zeros), and the
 * data is read and its zero blocks counted too.  So the same bytes give
 * the same blob and map whether the file was sparse, written out with
 * zeros, copied by a tool that fills holes, or restored by a reset
 * (which leaves 4 KiB blocks of zeros as holes): a snapshot after a
 * reset finds the tree it was reset to, and diff compares content, not
 * allocation.  The price is one read of the data to find the runs before
 * the pass that hashes and stages it (git's header needs the blob's size
 * first); holes are never read.
 *
 * The blob's id comes from libgit2 (with its SHA-1 collision detection)
 * through an object stream on a private object database whose only
 * backend discards what it is given: the bytes are hashed as they pass.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2/sys/odb_backend.h>
#include <xxhash.h>

#include "internal.h"
#include "safeio.h"

#define BLK   ((uint64_t)4096)
#define CHUNK ((size_t)1 << 20)

static const unsigned char zeros[BLK];

struct mapper {
	struct pifs_extent *ext;
	size_t n, cap;
	uint64_t zstart, zlen; /* the pending run of zero blocks */
	uint64_t holes;	       /* bytes in runs kept as holes */
	int err;
};

static void add_data(struct mapper *m, uint64_t off, uint64_t len)
{
	struct pifs_extent *x;

	if (!len || m->err)
		return;
	if (m->n && m->ext[m->n - 1].off + m->ext[m->n - 1].len == off) {
		m->ext[m->n - 1].len += len;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		x = realloc(m->ext, m->cap * sizeof(*x));
		if (!x) {
			m->err = -ENOMEM;
			return;
		}
		m->ext = x;
	}
	m->ext[m->n++] = (struct pifs_extent){off, len};
}

/* End the pending zero run: a hole if it is long enough, else data. */
static void flush_zeros(struct mapper *m)
{
	if (m->zlen >= PIFS_SPARSE_HOLE)
		m->holes += m->zlen;
	else
		add_data(m, m->zstart, m->zlen);
	m->zlen = 0;
}

static void zero_span(struct mapper *m, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	if (m->zlen && m->zstart + m->zlen != off)
		flush_zeros(m);
	if (!m->zlen)
		m->zstart = off;
	m->zlen += len;
}

static void data_span(struct mapper *m, uint64_t off, uint64_t len)
{
	if (m->zlen)
		flush_zeros(m);
	add_data(m, off, len);
}

/* Read [off, end) of fd (block aligned start) and sort its blocks. */
static int read_span(struct mapper *m, int fd, uint64_t off, uint64_t end,
		     unsigned char *buf)
{
	size_t n, k, b;
	ssize_t r;

	while (off < end && !m->err) {
		n = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
		r = pifs_pread_some(fd, buf, n, off, -ESTALE);
		if (r < 0)
			return (int)r;
		for (k = 0; k < (size_t)r; k += b) {
			b = (size_t)r - k < BLK ? (size_t)r - k : BLK;
			if (!memcmp(buf + k, zeros, b))
				zero_span(m, off + k, b);
			else
				data_span(m, off + k, b);
		}
		off += (uint64_t)r;
	}
	return m->err;
}

int pifs_sparse_map(int fd, uint64_t size, struct pifs_extent **ext,
		    size_t *n)
{
	struct mapper m = {0};
	unsigned char *buf;
	uint64_t off = 0, d, h;
	off_t r;
	int ret = 0;

	*ext = NULL;
	*n = 0;
	if (size < PIFS_BIGBLOB_MIN)
		return 0;
	buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	while (off < size && ret == 0) {
		r = lseek(fd, (off_t)off, SEEK_DATA);
		if (r < 0 && errno == ENXIO)
			d = size; /* a hole to the end */
		else if (r < 0)
			d = off; /* no SEEK_DATA: read it all */
		else
			d = (uint64_t)r;
		if (d > size)
			d = size;
		/* whole blocks of the hole; a partial one is read */
		if (d < size)
			d &= ~(BLK - 1);
		if (d > off) {
			zero_span(&m, off, d - off);
			off = d;
			continue;
		}
		r = lseek(fd, (off_t)off, SEEK_HOLE);
		h = r < 0 || (uint64_t)r > size ? size : (uint64_t)r;
		if (h < size)
			h = (h + BLK - 1) & ~(BLK - 1);
		if (h <= off)
			h = off + BLK < size ? off + BLK : size;
		if (h > size)
			h = size;
		ret = read_span(&m, fd, off, h, buf);
		off = h;
	}
	free(buf);
	if (ret == 0) {
		flush_zeros(&m);
		ret = m.err;
	}
	if (ret < 0 || m.holes < PIFS_SPARSE_MIN) {
		free(m.ext);
		return ret;
	}
	*ext = m.ext;
	*n = m.n;
	return 1;
}

/* ---- a git object id of a stream, with libgit2's SHA-1 ---- */

static int discard_write(git_odb_stream *s, const char *buf, size_t len)
{
	(void)s;
	(void)buf;
	(void)len;
	return 0;
}

static int discard_finalize(git_odb_stream *s, const git_oid *oid)
{
	(void)s;
	(void)oid;
	return 0;
}

static void discard_free(git_odb_stream *s)
{
	free(s);
}

static int discard_writestream(git_odb_stream **out, git_odb_backend *b,
			       git_object_size_t size, git_object_t type)
{
	git_odb_stream *s = calloc(1, sizeof(*s));

	(void)size;
	(void)type;
	if (!s)
		return -1;
	s->backend = b;
	s->mode = GIT_STREAM_WRONLY;
	s->write = discard_write;
	s->finalize_write = discard_finalize;
	s->free = discard_free;
	*out = s;
	return 0;
}

static void discard_backend_free(git_odb_backend *b)
{
	free(b);
}

int pifs_sparse_hasher(git_odb **out)
{
	git_odb_backend *b;
	git_odb *odb;

	*out = NULL;
	if (git_odb_new(&odb) < 0)
		return -ENOMEM;
	b = calloc(1, sizeof(*b));
	if (!b) {
		git_odb_free(odb);
		return -ENOMEM;
	}
	b->version = GIT_ODB_BACKEND_VERSION;
	b->writestream = discard_writestream;
	b->free = discard_backend_free;
	if (git_odb_add_backend(odb, b, 1) < 0) {
		free(b);
		git_odb_free(odb);
		return -ENOMEM;
	}
	*out = odb;
	return 0;
}

/* Read the data extents of fd into one buffer (small data only). */
static int read_extents(int fd, const struct pifs_extent *ext, size_t n,
			uint64_t total, char **out)
{
	char *buf = malloc(total ? total : 1);
	uint64_t pos = 0;
	size_t i;
	int ret;

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ret = pifs_pread_all(fd, buf + pos, (size_t)ext[i].len,
				     ext[i].off, -ESTALE);
		if (ret < 0) {
			free(buf);
			return ret;
		}
		pos += ext[i].len;
	}
	*out = buf;
	return 0;
}

int pifs_sparse_blob(struct pifs_git *g, struct pifs_git *pg, int fd,
		     uint64_t size, const struct pifs_extent *ext, size_t n,
		     const char *path, git_oid *oid, uint64_t *xxh,
		     char *errbuf, size_t errlen)
{
	uint64_t total = 0;
	char *buf = NULL;
	size_t i;
	int ret;

	for (i = 0; i < n; i++)
		total += ext[i].len;
	if (total >= PIFS_BIGBLOB_MIN)
		return pifs_bigblob_extents(g, pg, fd, size, ext, n, total,
					    path, oid, xxh, errbuf, errlen);
	ret = read_extents(fd, ext, n, total, &buf);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot read '%s': %s", path,
			    strerror(-ret));
		return ret;
	}
	*xxh = XXH3_64bits(buf, total);
	if (!g) {
		ret = git_odb_hash(oid, buf, total, GIT_OBJECT_BLOB) < 0 ? -EIO
									 : 0;
	} else {
		ret = git_odb_write(oid, g->odb, buf, total, GIT_OBJECT_BLOB);
		if (ret < 0)
			ret = pifs_git_error(ret, errbuf, errlen,
					     "cannot store a blob");
		else
			ret = pifs_git_staged_note(g, oid);
	}
	free(buf);
	return ret;
}
