/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_sha1.c - the plain SHA-1 of the pack trailers: the FIPS 180
 * vectors, every length around the padding boundaries fed whole and in
 * odd pieces (against the whole-buffer digest).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "sha1.h"

static void hex(const void *data, size_t len, size_t piece, char out[41])
{
	const unsigned char *p = data;
	unsigned char d[20];
	struct pifs_sha1 c;
	size_t n;
	int i;

	pifs_sha1_init(&c);
	while (len) {
		n = piece && piece < len ? piece : len;
		pifs_sha1_update(&c, p, n);
		p += n;
		len -= n;
	}
	pifs_sha1_final(&c, d);
	for (i = 0; i < 20; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

START_TEST(test_vectors)
{
	static char million[1000000];
	char h[41];

	hex("", 0, 0, h);
	ck_assert_str_eq(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	hex("abc", 3, 0, h);
	ck_assert_str_eq(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
	hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, 0,
	    h);
	ck_assert_str_eq(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	memset(million, 'a', sizeof(million));
	hex(million, sizeof(million), 0, h);
	ck_assert_str_eq(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	hex(million, sizeof(million), 4097, h);
	ck_assert_str_eq(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}
END_TEST

START_TEST(test_pieces)
{
	unsigned char buf[200];
	char whole[41], bits[41];
	size_t len, piece;

	for (len = 0; len < sizeof(buf); len++)
		buf[len] = (unsigned char)(len * 7 + 3);
	for (len = 0; len <= sizeof(buf); len++) {
		hex(buf, len, 0, whole);
		for (piece = 1; piece < 70; piece += 13) {
			hex(buf, len, piece, bits);
			ck_assert_str_eq(bits, whole);
		}
	}
	/* distinct lengths around the 55/56/64-byte boundaries differ */
	hex(buf, 55, 0, whole);
	hex(buf, 56, 0, bits);
	ck_assert_str_ne(whole, bits);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sha1");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_pieces);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
