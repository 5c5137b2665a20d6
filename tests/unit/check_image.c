/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_image.c - the parts of image import that need no file system
 * tools: format detection by magic bytes, the streamed reader over raw,
 * xz (one stream, concatenated streams) and gzip (one member, two) data,
 * truncated and corrupt streams, skipping, the probe's refusals (no
 * partition table, a partition with no file system, a truncated raw
 * image), the space estimate, and that manifest digests computed while
 * writing give the manifest pifs_manifest_build would.  Files live under
 * a mkdtemp in /var/tmp.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "image.h"
#include "manifest.h"
#include "progress.h"
#include "safeio.h"
#include "util.h"

static char base[] = "/var/tmp/check_image.XXXXXX";
static unsigned char *data; /* DATA_LEN bytes of test "image" */
#define DATA_LEN ((size_t)3 << 20)

static void setup(void)
{
	size_t i;
	uint32_t x = 12345;

	ck_assert_ptr_nonnull(mkdtemp(base));
	data = malloc(DATA_LEN);
	ck_assert_ptr_nonnull(data);
	/* half compressible text, half noise, some zeros */
	for (i = 0; i < DATA_LEN; i++) {
		x = x * 1103515245 + 12345;
		data[i] = i < DATA_LEN / 3 ? (unsigned char)("pifs"[i % 4])
			  : i < 2 * DATA_LEN / 3 ? (unsigned char)(x >> 16)
						 : 0;
	}
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	ck_assert_int_eq(system(cmd), 0);
	free(data);
}

static char *path_of(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", base, name);
	return p;
}

static void write_file(const char *name, const void *buf, size_t len)
{
	int fd = open(path_of(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_write_all(fd, buf, len), 0);
	close(fd);
}

static size_t xz_encode(const void *in, size_t len, unsigned char *out,
			size_t cap)
{
	size_t pos = 0;

	ck_assert_int_eq(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, NULL, in,
						 len, out, &pos, cap),
			 LZMA_OK);
	return pos;
}

static size_t gz_encode(const void *in, size_t len, unsigned char *out,
			size_t cap)
{
	z_stream z = {0};

	ck_assert_int_eq(deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY),
			 Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	len = z.total_out;
	deflateEnd(&z);
	return len;
}

/* Read the whole file through the reader; returns the error or 0 and
 * compares with data[0..want). */
static int read_all(const char *name, size_t want, size_t skip)
{
	struct pifs_image_reader *r;
	unsigned char *buf = malloc(DATA_LEN + 1);
	size_t got = skip;
	ssize_t n;
	int ret;

	ck_assert_ptr_nonnull(buf);
	ret = pifs_image_reader_open(&r, path_of(name));
	ck_assert_int_eq(ret, 0);
	if (skip && (ret = pifs_image_reader_skip(r, skip)) < 0)
		goto out;
	ck_assert_uint_eq(pifs_image_reader_pos(r), skip);
	while ((n = pifs_image_reader_read(r, buf + got,
					   got < DATA_LEN ? 65536 : 1)) > 0)
		got += (size_t)n;
	if (n < 0) {
		ret = (int)n;
		goto out;
	}
	ck_assert_uint_eq(got, want);
	ck_assert_int_eq(memcmp(buf + skip, data + skip, want - skip), 0);
	ck_assert_uint_eq(pifs_image_reader_consumed(r),
			  pifs_image_reader_file_size(r));
out:
	pifs_image_reader_free(r);
	free(buf);
	return ret;
}

START_TEST(test_detect)
{
	static const unsigned char xz[] = {0xfd, '7', 'z', 'X', 'Z', 0, 0};
	static const unsigned char gz[] = {0x1f, 0x8b, 8, 0};
	static const unsigned char mbr[] = {0xeb, 0x3c, 0x90, 'm'};

	ck_assert_int_eq(pifs_image_format_detect(xz, sizeof(xz)),
			 PIFS_IMAGE_XZ);
	ck_assert_int_eq(pifs_image_format_detect(xz, 5), PIFS_IMAGE_RAW);
	ck_assert_int_eq(pifs_image_format_detect(gz, sizeof(gz)),
			 PIFS_IMAGE_GZ);
	ck_assert_int_eq(pifs_image_format_detect(gz, 2), PIFS_IMAGE_RAW);
	ck_assert_int_eq(pifs_image_format_detect(mbr, sizeof(mbr)),
			 PIFS_IMAGE_RAW);
	ck_assert_int_eq(pifs_image_format_detect("", 0), PIFS_IMAGE_RAW);
	ck_assert_str_eq(pifs_image_format_name(PIFS_IMAGE_XZ), "xz");
}
END_TEST

START_TEST(test_read_formats)
{
	size_t cap = DATA_LEN * 2, n, m;
	unsigned char *out = malloc(cap);

	ck_assert_ptr_nonnull(out);
	write_file("raw", data, DATA_LEN);
	ck_assert_int_eq(read_all("raw", DATA_LEN, 0), 0);
	ck_assert_int_eq(read_all("raw", DATA_LEN, 1000000), 0);

	n = xz_encode(data, DATA_LEN, out, cap);
	write_file("one.xz", out, n);
	ck_assert_int_eq(read_all("one.xz", DATA_LEN, 0), 0);
	ck_assert_int_eq(read_all("one.xz", DATA_LEN, 2000000), 0);
	/* two concatenated streams read as one image */
	n = xz_encode(data, DATA_LEN / 2, out, cap);
	m = xz_encode(data + DATA_LEN / 2, DATA_LEN / 2, out + n, cap - n);
	write_file("two.xz", out, n + m);
	ck_assert_int_eq(read_all("two.xz", DATA_LEN, 0), 0);

	n = gz_encode(data, DATA_LEN, out, cap);
	write_file("one.gz", out, n);
	ck_assert_int_eq(read_all("one.gz", DATA_LEN, 0), 0);
	ck_assert_int_eq(read_all("one.gz", DATA_LEN, 123457), 0);
	n = gz_encode(data, DATA_LEN / 3, out, cap);
	m = gz_encode(data + DATA_LEN / 3, DATA_LEN - DATA_LEN / 3, out + n,
		      cap - n);
	write_file("two.gz", out, n + m);
	ck_assert_int_eq(read_all("two.gz", DATA_LEN, 0), 0);
	free(out);
}
END_TEST

START_TEST(test_read_bad)
{
	size_t cap = DATA_LEN * 2, n;
	unsigned char *out = malloc(cap);
	struct pifs_image_reader *r;

	ck_assert_ptr_nonnull(out);
	n = xz_encode(data, DATA_LEN, out, cap);
	write_file("trunc.xz", out, n - 100);
	ck_assert_int_eq(read_all("trunc.xz", DATA_LEN, 0), -ENODATA);
	write_file("trunc2.xz", out, n / 2);
	ck_assert_int_eq(read_all("trunc2.xz", DATA_LEN, 0), -ENODATA);
	memcpy(out + n / 2, "\xde\xad\xbe\xef", 4);
	write_file("bad.xz", out, n);
	ck_assert_int_eq(read_all("bad.xz", DATA_LEN, 0), -EIO);

	n = gz_encode(data, DATA_LEN, out, cap);
	write_file("trunc.gz", out, n - 4); /* the length trailer cut */
	ck_assert_int_eq(read_all("trunc.gz", DATA_LEN, 0), -ENODATA);
	memcpy(out + n / 2, "\xde\xad\xbe\xef", 4);
	write_file("bad.gz", out, n);
	ck_assert_int_eq(read_all("bad.gz", DATA_LEN, 0), -EIO);

	/* skipping past the end of a raw file */
	write_file("short", data, 1000);
	ck_assert_int_eq(pifs_image_reader_open(&r, path_of("short")), 0);
	ck_assert_int_eq(pifs_image_reader_skip(r, 2000), -ENODATA);
	ck_assert_str_eq(pifs_image_reader_error(r), "truncated");
	pifs_image_reader_free(r);
	ck_assert_int_eq(pifs_image_reader_open(&r, path_of("missing")),
			 -ENOENT);
	pifs_image_reader_free(r);
	free(out);
}
END_TEST

/* A one-sector MBR with the given partitions (start, count in sectors). */
static void put_mbr(unsigned char *img, int n, const uint32_t *start,
		    const uint32_t *count, const unsigned char *type)
{
	int i, k;

	memset(img, 0, 512);
	img[440] = 0x3a; /* disk id */
	img[441] = 0x1d;
	for (i = 0; i < n; i++) {
		unsigned char *e = img + 446 + 16 * i;

		e[4] = type[i];
		for (k = 0; k < 4; k++) {
			e[8 + k] = (unsigned char)(start[i] >> (8 * k));
			e[12 + k] = (unsigned char)(count[i] >> (8 * k));
		}
	}
	img[510] = 0x55;
	img[511] = 0xaa;
}

START_TEST(test_probe_refusals)
{
	static const uint32_t start[] = {8192}, count[] = {4096};
	static const unsigned char type[] = {0x83};
	struct pifs_image_layout lay;
	unsigned char *img = calloc(1, (8192 + 4096) * 512);
	char err[512];

	ck_assert_ptr_nonnull(img);
	/* zeros: no partition table */
	write_file("zeros.img", img, 1 << 20);
	ck_assert_int_eq(
	    pifs_image_probe(path_of("zeros.img"), &lay, err, sizeof(err)),
	    -EINVAL);
	ck_assert_msg(strstr(err, "has no partition table"), "%s", err);
	/* a partition holding nothing */
	put_mbr(img, 1, start, count, type);
	write_file("empty-part.img", img, (8192 + 4096) * 512);
	ck_assert_int_eq(
	    pifs_image_probe(path_of("empty-part.img"), &lay, err, sizeof(err)),
	    -EINVAL);
	ck_assert_msg(strstr(err, "partition 1 of image '") &&
			  strstr(err, "has no file system pifs can read"),
		      "%s", err);
	/* the same, cut short: truncated before anything is read */
	write_file("short.img", img, 8192 * 512);
	ck_assert_int_eq(
	    pifs_image_probe(path_of("short.img"), &lay, err, sizeof(err)),
	    -EINVAL);
	ck_assert_msg(strstr(err, "is truncated: its partitions end at byte "
				  "6291456, the file at byte 4194304"),
		      "%s", err);
	free(img);
}
END_TEST

START_TEST(test_space_and_human)
{
	struct pifs_image_layout lay = {0};
	uint64_t bytes, inodes, punched;
	char buf[32];

	lay.root_used = (uint64_t)2 << 30;
	lay.boot_used = (uint64_t)60 << 20;
	lay.root_inodes = 50000;
	pifs_image_space_needed(&lay, 1, &punched, &inodes);
	pifs_image_space_needed(&lay, 0, &bytes, &inodes);
	/* about the used space, never the image size; double without
	 * hole punching */
	ck_assert_uint_gt(punched, lay.root_used + lay.boot_used);
	ck_assert_uint_lt(punched, lay.root_used + lay.root_used / 5);
	ck_assert_uint_eq(bytes, punched + lay.root_used);
	ck_assert_uint_eq(inodes, 50000 + 4096);
	ck_assert_str_eq(pifs_human(512, buf), "512 B");
	ck_assert_str_eq(pifs_human(1536, buf), "1.5 KiB");
	ck_assert_str_eq(pifs_human(16 << 20, buf), "16 MiB");
	ck_assert_str_eq(pifs_human((uint64_t)3 << 30, buf),
			 "3.0 GiB");
}
END_TEST

/* The progress bar's line: share, counts or sizes, rate and time left
 * once half a second has passed, no time left at the end. */
START_TEST(test_bar_format)
{
	struct pifs_bar b;
	char line[200];

	pifs_bar_start(&b, -1, "copying golden", "entries", 1000);
	b.done = 250;
	pifs_bar_format(&b, 5.0, line, sizeof(line));
	ck_assert_str_eq(line, "copying golden     [#######......................."
			       "] " " 25%  250 of 1000 entries  50/s  0:15 left");
	/* too early to say a rate */
	pifs_bar_format(&b, 0.1, line, sizeof(line));
	ck_assert_str_eq(line, "copying golden     [#######......................."
			       "]  25%  250 of 1000 entries  ");
	b.done = 1000;
	pifs_bar_format(&b, 20.0, line, sizeof(line));
	ck_assert_str_eq(line, "copying golden     [##############################"
			       "] 100%  1000 of 1000 entries  50/s");
	/* bytes, and a count over the total is the total */
	pifs_bar_start(&b, -1, "reading image", NULL, (uint64_t)4 << 30);
	b.done = (uint64_t)1 << 30;
	pifs_bar_format(&b, 10.0, line, sizeof(line));
	ck_assert_str_eq(line, "reading image      [#######......................."
			       "]  25%  1.0 GiB of 4.0 GiB  102 MiB/s  0:30 "
			       "left");
	b.done = (uint64_t)5 << 30;
	pifs_bar_format(&b, 3600.0, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "] 100%  4.0 GiB of 4.0 GiB  "));
	ck_assert_ptr_null(strstr(line, "left"));
	/* a long job: hours, minutes, seconds */
	pifs_bar_start(&b, -1, "copying golden", "entries", 100000);
	b.done = 1000;
	pifs_bar_format(&b, 100.0, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "  10/s  2:45:00 left"));
	/* nothing is written without a terminal */
	pifs_bar_update(&b, 2000);
	pifs_bar_end(&b);
}
END_TEST

/* known(): digests computed by streaming, keyed by inode */
struct known_set {
	ino_t ino[4];
	char digest[4][33];
	int n, asked;
};

static int known_fn(const struct stat *st, char digest[33], void *arg)
{
	struct known_set *k = arg;
	int i;

	k->asked++;
	for (i = 0; i < k->n; i++)
		if (k->ino[i] == st->st_ino) {
			memcpy(digest, k->digest[i], 33);
			return 1;
		}
	return 0;
}

START_TEST(test_streamed_digests)
{
	struct pifs_content_digest *d;
	struct known_set k = {0};
	char *m1 = NULL, *m2 = NULL, id1[17], id2[17];
	struct stat st;
	int dfd, fd;

	ck_assert_int_eq(mkdir(path_of("tree"), 0755), 0);
	dfd = open(path_of("tree"), O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	/* a file with a hole in the middle and at the end */
	fd = openat(dfd, "holes", O_WRONLY | O_CREAT, 0644);
	ck_assert_int_eq(pifs_pwrite_all(fd, data, 5000, 0), 0);
	ck_assert_int_eq(pifs_pwrite_all(fd, data + 100000, 7000, 1 << 20), 0);
	ck_assert_int_eq(ftruncate(fd, 3 << 20), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	ck_assert_int_eq(pifs_content_digest_new(&d), 0);
	pifs_content_digest_update(d, data, 5000);
	pifs_content_digest_zeros(d, (1 << 20) - 5000);
	pifs_content_digest_update(d, data + 100000, 7000);
	pifs_content_digest_zeros(d, (3 << 20) - (1 << 20) - 7000);
	k.ino[0] = st.st_ino;
	pifs_content_digest_final(d, k.digest[0]);
	fd = openat(dfd, "plain", O_WRONLY | O_CREAT, 0644);
	ck_assert_int_eq(pifs_write_all(fd, data, 4096), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	pifs_content_digest_reset(d);
	pifs_content_digest_update(d, data, 4096);
	k.ino[1] = st.st_ino;
	pifs_content_digest_final(d, k.digest[1]);
	k.n = 2;
	fd = openat(dfd, "unknown", O_WRONLY | O_CREAT, 0644);
	close(fd);
	pifs_content_digest_free(d);

	ck_assert_int_eq(pifs_manifest_build(dfd, &m1, id1), 0);
	ck_assert_int_eq(pifs_manifest_build_known(dfd, known_fn, &k, &m2, id2),
			 0);
	ck_assert_int_eq(k.asked, 3); /* every regular file, only those */
	ck_assert_str_eq(m1, m2);
	ck_assert_str_eq(id1, id2);
	free(m2);
	/* a wrong digest shows in the manifest (pifs verify catches it) */
	k.digest[1][0] = k.digest[1][0] == '0' ? '1' : '0';
	ck_assert_int_eq(pifs_manifest_build_known(dfd, known_fn, &k, &m2, id2),
			 0);
	ck_assert_str_ne(id1, id2);
	ck_assert_int_eq(pifs_manifest_verify(dfd, m2, NULL), 1);
	free(m1);
	free(m2);
	close(dfd);
}
END_TEST

static Suite *image_suite(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_detect);
	tcase_add_test(tc, test_read_formats);
	tcase_add_test(tc, test_read_bad);
	tcase_add_test(tc, test_probe_refusals);
	tcase_add_test(tc, test_space_and_human);
	tcase_add_test(tc, test_bar_format);
	tcase_add_test(tc, test_streamed_digests);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(image_suite());
	int failed;

	pifs_log_init("check_image", 0, PIFS_LOG_WARN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
