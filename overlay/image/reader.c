/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reader.c - the streamed reader (image.h): the format told by the
 * input's magic bytes, and a forward-only read of the decompressed image
 * from a raw file or block device (read, and lseek to skip), an xz stream
 * (liblzma, multi-threaded where it can be, streams concatenated) or a
 * gzip stream (zlib, members concatenated); and the one-line messages its
 * errors become.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "image.h"
#include "internal.h"

#define IN_SIZE	       ((size_t)1 << 17) /* compressed input buffer */
#define XZ_MT_MEMLIMIT ((uint64_t)256 << 20)

enum pifs_image_format pifs_image_format_detect(const void *buf, size_t len)
{
	static const unsigned char xz[6] = {0xfd, '7', 'z', 'X', 'Z', 0};
	const unsigned char *p = buf;

	if (len >= sizeof(xz) && !memcmp(p, xz, sizeof(xz)))
		return PIFS_IMAGE_XZ;
	if (len >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8)
		return PIFS_IMAGE_GZ;
	return PIFS_IMAGE_RAW;
}

const char *pifs_image_format_name(enum pifs_image_format f)
{
	switch (f) {
	case PIFS_IMAGE_XZ:
		return "xz";
	case PIFS_IMAGE_GZ:
		return "gzip";
	default:
		return "raw";
	}
}

struct pifs_image_reader {
	int fd;
	enum pifs_image_format fmt;
	uint64_t file_size; /* of the file as stored */
	uint64_t consumed;  /* bytes of it read */
	uint64_t pos;	    /* decompressed offset */
	int in_eof, done;
	unsigned char *in;
	lzma_stream xz;
	z_stream gz;
	int xz_init, gz_init;
	char err[256];
};

static int reader_fail(struct pifs_image_reader *r, int err, const char *fmt,
		       ...) __attribute__((format(printf, 3, 4)));

static int reader_fail(struct pifs_image_reader *r, int err, const char *fmt,
		       ...)
{
	va_list ap;

	if (!r->err[0]) {
		va_start(ap, fmt);
		vsnprintf(r->err, sizeof(r->err), fmt, ap);
		va_end(ap);
	}
	return err;
}

int pifs_image_reader_open(struct pifs_image_reader **out, const char *path)
{
	struct pifs_image_reader *r;
	unsigned char magic[8];
	struct stat st;
	ssize_t n;
	int ret;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	*out = r;
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (r->fd < 0)
		return reader_fail(r, -errno, "%s", strerror(errno));
	if (fstat(r->fd, &st) < 0)
		return reader_fail(r, -errno, "%s", strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz = 0;

		if (ioctl(r->fd, BLKGETSIZE64, &sz) < 0)
			return reader_fail(r, -errno, "%s", strerror(errno));
		r->file_size = sz;
	} else if (S_ISREG(st.st_mode)) {
		r->file_size = (uint64_t)st.st_size;
	} else {
		return reader_fail(r, -EINVAL,
				   "not a regular file or block device");
	}
	n = pread(r->fd, magic, sizeof(magic), 0);
	if (n < 0)
		return reader_fail(r, -errno, "%s", strerror(errno));
	r->fmt = pifs_image_format_detect(magic, (size_t)n);
	if (r->fmt == PIFS_IMAGE_RAW)
		return 0;
	r->in = malloc(IN_SIZE);
	if (!r->in)
		return -ENOMEM;
	if (r->fmt == PIFS_IMAGE_XZ) {
		lzma_stream init = LZMA_STREAM_INIT;
		lzma_ret lr;

		r->xz = init;
#ifdef HAVE_LZMA_STREAM_DECODER_MT
		{
			lzma_mt mt = {0};
			long cpus = sysconf(_SC_NPROCESSORS_ONLN);

			mt.flags = LZMA_CONCATENATED;
			mt.threads = cpus < 1	? 1
				     : cpus > 4 ? 4
						: (uint32_t)cpus;
			mt.memlimit_threading = XZ_MT_MEMLIMIT;
			mt.memlimit_stop = UINT64_MAX;
			lr = lzma_stream_decoder_mt(&r->xz, &mt);
		}
#else
		lr = lzma_stream_decoder(&r->xz, UINT64_MAX, LZMA_CONCATENATED);
#endif
		if (lr != LZMA_OK)
			return reader_fail(r, -ENOMEM,
					   "cannot start xz decoder");
		r->xz_init = 1;
	} else {
		ret = inflateInit2(&r->gz, 16 + MAX_WBITS);
		if (ret != Z_OK)
			return reader_fail(r, -ENOMEM,
					   "cannot start gzip decoder");
		r->gz_init = 1;
	}
	return 0;
}

/* Read more compressed input; *avail and *next are the decoder's. */
static int fill_input(struct pifs_image_reader *r, const unsigned char **next,
		      size_t *avail)
{
	ssize_t n;

	do
		n = read(r->fd, r->in, IN_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return reader_fail(r, -errno, "%s", strerror(errno));
	if (n == 0)
		r->in_eof = 1;
	r->consumed += (uint64_t)n;
	*next = r->in;
	*avail = (size_t)n;
	return 0;
}

static ssize_t read_xz(struct pifs_image_reader *r, void *buf, size_t len)
{
	lzma_ret lr;
	int ret;

	r->xz.next_out = buf;
	r->xz.avail_out = len;
	while (r->xz.avail_out == len) {
		if (r->xz.avail_in == 0 && !r->in_eof) {
			ret = fill_input(r, &r->xz.next_in, &r->xz.avail_in);
			if (ret < 0)
				return ret;
		}
		lr = lzma_code(&r->xz, r->in_eof ? LZMA_FINISH : LZMA_RUN);
		if (lr == LZMA_STREAM_END) {
			r->done = 1;
			break;
		}
		switch (lr) {
		case LZMA_OK:
			continue;
		case LZMA_BUF_ERROR:
			if (r->in_eof)
				return reader_fail(r, -ENODATA, "truncated");
			continue;
		case LZMA_MEM_ERROR:
		case LZMA_MEMLIMIT_ERROR:
			return reader_fail(r, -ENOMEM, "out of memory");
		case LZMA_FORMAT_ERROR:
			return reader_fail(r, -EIO, "not valid xz data");
		case LZMA_OPTIONS_ERROR:
			return reader_fail(
			    r, -EIO, "unsupported xz compression options");
		case LZMA_DATA_ERROR:
			return reader_fail(r, -EIO,
					   "xz data is corrupt (checksum or "
					   "format error)");
		default:
			return reader_fail(r, -EIO, "xz decoder error %d",
					   (int)lr);
		}
	}
	return (ssize_t)(len - r->xz.avail_out);
}

/* More input for the gzip stream once it has used what it had. */
static int gz_fill(struct pifs_image_reader *r)
{
	const unsigned char *next;
	size_t avail;
	int ret;

	if (r->gz.avail_in || r->in_eof)
		return 0;
	ret = fill_input(r, &next, &avail);
	if (ret < 0)
		return ret;
	r->gz.next_in = (Bytef *)next;
	r->gz.avail_in = (uInt)avail;
	return 0;
}

static ssize_t read_gz(struct pifs_image_reader *r, void *buf, size_t len)
{
	int zr, ret;

	r->gz.next_out = buf;
	r->gz.avail_out = (uInt)len;
	while (r->gz.avail_out == len && !r->done) {
		if ((ret = gz_fill(r)) < 0)
			return ret;
		zr = inflate(&r->gz, Z_NO_FLUSH);
		switch (zr) {
		case Z_OK:
			continue;
		case Z_STREAM_END:
			/* another gzip member may follow (pigz, cat) */
			if ((ret = gz_fill(r)) < 0)
				return ret;
			if (r->gz.avail_in > 0 && r->gz.next_in[0] == 0x1f) {
				inflateReset(&r->gz);
				continue;
			}
			r->done = 1; /* trailing padding is ignored */
			break;
		case Z_BUF_ERROR:
			if (r->in_eof && r->gz.avail_in == 0)
				return reader_fail(r, -ENODATA, "truncated");
			continue;
		case Z_MEM_ERROR:
			return reader_fail(r, -ENOMEM, "out of memory");
		default:
			return reader_fail(r, -EIO, "gzip data is corrupt (%s)",
					   r->gz.msg ? r->gz.msg : "bad data");
		}
	}
	return (ssize_t)(len - r->gz.avail_out);
}

ssize_t pifs_image_reader_read(struct pifs_image_reader *r, void *buf,
			       size_t len)
{
	ssize_t n;

	if (r->err[0])
		return -EIO;
	if (!len || r->done)
		return 0;
	switch (r->fmt) {
	case PIFS_IMAGE_XZ:
		n = read_xz(r, buf, len);
		break;
	case PIFS_IMAGE_GZ:
		n = read_gz(r, buf, len);
		break;
	default:
		do
			n = read(r->fd, buf, len);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return reader_fail(r, -errno, "%s", strerror(errno));
		if (n == 0)
			r->done = 1;
		r->consumed += (uint64_t)n;
		break;
	}
	if (n > 0)
		r->pos += (uint64_t)n;
	return n;
}

int pifs_image_reader_skip(struct pifs_image_reader *r, uint64_t n)
{
	char *buf;
	ssize_t k;

	if (r->fmt == PIFS_IMAGE_RAW) {
		if (r->pos + n > r->file_size)
			return reader_fail(r, -ENODATA, "truncated");
		if (lseek(r->fd, (off_t)(r->pos + n), SEEK_SET) < 0)
			return reader_fail(r, -errno, "%s", strerror(errno));
		r->pos += n;
		r->consumed = r->pos;
		return 0;
	}
	buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	while (n) {
		k = pifs_image_reader_read(r, buf,
					   n < CHUNK ? (size_t)n : CHUNK);
		if (k <= 0) {
			free(buf);
			return k < 0 ? (int)k
				     : reader_fail(r, -ENODATA, "truncated");
		}
		n -= (uint64_t)k;
	}
	free(buf);
	return 0;
}

uint64_t pifs_image_reader_pos(const struct pifs_image_reader *r)
{
	return r->pos;
}

uint64_t pifs_image_reader_consumed(const struct pifs_image_reader *r)
{
	return r->consumed;
}

uint64_t pifs_image_reader_file_size(const struct pifs_image_reader *r)
{
	return r->file_size;
}

enum pifs_image_format
pifs_image_reader_format(const struct pifs_image_reader *r)
{
	return r->fmt;
}

const char *pifs_image_reader_error(const struct pifs_image_reader *r)
{
	return r->err[0] ? r->err : "unknown error";
}

void pifs_image_reader_free(struct pifs_image_reader *r)
{
	if (!r)
		return;
	if (r->xz_init)
		lzma_end(&r->xz);
	if (r->gz_init)
		inflateEnd(&r->gz);
	if (r->fd >= 0)
		close(r->fd);
	free(r->in);
	free(r);
}

int pifs_image_is_image(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return 0;
	return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
}

/* "image 'x' is truncated" / "is corrupt: ..." / "cannot read ..." for a
 * reader error. */
int image_reader_error(struct pifs_image_reader *r, const char *path, int err,
		       char *errbuf, size_t errlen)
{
	if (err == -ENODATA)
		pifs_seterr(errbuf, errlen, "image '%s' is truncated", path);
	else if (err == -EIO)
		pifs_seterr(errbuf, errlen, "image '%s' is corrupt: %s", path,
			    pifs_image_reader_error(r));
	else
		pifs_seterr(errbuf, errlen, "cannot read image '%s': %s", path,
			    strerror(-err));
	return err;
}

const char *image_reader_open_error(const struct pifs_image_reader *r, int err)
{
	return r && r->err[0] ? r->err : strerror(-err);
}
