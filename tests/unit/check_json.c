/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_json.c - the CLI's JSON writer (tools/json.c): the exact bytes of
 * documents with nesting and every value type, string escaping ('"',
 * '\\', control characters), the UTF-8 rule (valid multi-byte sequences
 * copied; overlong forms, surrogates, code points above U+10FFFF, stray
 * and truncated bytes each one U+FFFD) with the base64 twin at each
 * padding length, the time members, and an unclosed document refused.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* j printed into a string (freed by the caller). */
static char *printed(struct json *j, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	*ret = json_print(j, f);
	fclose(f);
	return buf;
}

static void expect_doc(struct json *j, const char *want)
{
	int ret;
	char *got = printed(j, &ret);

	ck_assert_int_eq(ret, 0);
	ck_assert_str_eq(got, want);
	free(got);
}

/* {"s": s, "s_base64": ...} */
static void expect_bytes(const char *s, const char *want)
{
	struct json j;

	json_init(&j);
	json_object_begin(&j);
	json_member_bytes(&j, "s", s);
	json_object_end(&j);
	expect_doc(&j, want);
}

START_TEST(test_document)
{
	struct json j;

	json_init(&j);
	json_object_begin(&j);
	json_member_int(&j, "version", 1);
	json_member_int(&j, "neg", -42);
	json_member_uint(&j, "big", 18446744073709551615ull);
	json_member_bool(&j, "t", 1);
	json_member_bool(&j, "f", 0);
	json_member_null(&j, "n");
	json_member_string(&j, "null", NULL);
	json_key(&j, "a");
	json_array_begin(&j);
	json_array_end(&j);
	json_key(&j, "o");
	json_array_begin(&j);
	json_object_begin(&j);
	json_object_end(&j);
	json_object_begin(&j);
	json_member_string(&j, "k", "v");
	json_object_end(&j);
	json_string(&j, "x");
	json_int(&j, 0);
	json_array_end(&j);
	json_object_end(&j);
	expect_doc(&j,
		   "{\"version\":1,\"neg\":-42,\"big\":18446744073709551615,"
		   "\"t\":true,\"f\":false,\"n\":null,\"null\":null,"
		   "\"a\":[],\"o\":[{},{\"k\":\"v\"},\"x\",0]}\n");
}
END_TEST

START_TEST(test_escaping)
{
	struct json j;

	json_init(&j);
	json_array_begin(&j);
	json_string(&j, "q\"b\\s/n\nt\tr\r\x01\x1f\x7f");
	json_string(&j, "");
	json_array_end(&j);
	expect_doc(&j,
		   "[\"q\\\"b\\\\s/n\\nt\\tr\\r\\u0001\\u001f\x7f\",\"\"]\n");
}
END_TEST

START_TEST(test_utf8)
{
	/* valid: 2, 3 and 4 bytes, the edges of each range */
	expect_bytes("caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80 \xed\x9f\xbf "
		     "\xee\x80\x80 \xf4\x8f\xbf\xbf",
		     "{\"s\":\"caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80 "
		     "\xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf\","
		     "\"s_base64\":null}\n");
	ck_assert_int_eq(json_utf8_valid("caf\xc3\xa9"), 1);
	/* a stray byte: U+FFFD, and the exact bytes ("a\xff" -> Yf8=) */
	expect_bytes("a\xff",
		     "{\"s\":\"a\xef\xbf\xbd\",\"s_base64\":\"Yf8=\"}\n");
	/* padding lengths: 1, 2 and 0 bytes left over */
	expect_bytes("\xfe",
		     "{\"s\":\"\xef\xbf\xbd\",\"s_base64\":\"/g==\"}\n");
	expect_bytes("ab\x80",
		     "{\"s\":\"ab\xef\xbf\xbd\",\"s_base64\":\"YWKA\"}\n");
	expect_bytes("ab\x80x", "{\"s\":\"ab\xef\xbf\xbdx\","
				"\"s_base64\":\"YWKAeA==\"}\n");
	/* overlong, surrogate, above U+10FFFF, C0/C1, truncated: one
	 * U+FFFD per byte */
	ck_assert_int_eq(json_utf8_valid("\xc0\xaf"), 0);
	ck_assert_int_eq(json_utf8_valid("\xe0\x80\xaf"), 0);
	ck_assert_int_eq(json_utf8_valid("\xed\xa0\x80"), 0);
	ck_assert_int_eq(json_utf8_valid("\xf0\x8f\xbf\xbf"), 0);
	ck_assert_int_eq(json_utf8_valid("\xf4\x90\x80\x80"), 0);
	ck_assert_int_eq(json_utf8_valid("\xf5\x80\x80\x80"), 0);
	ck_assert_int_eq(json_utf8_valid("\xe2\x98"), 0);
	ck_assert_int_eq(json_utf8_valid("\xf0\x9f\x98"), 0);
	expect_bytes("\xed\xa0\x80",
		     "{\"s\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
		     "\"s_base64\":\"7aCA\"}\n");
	expect_bytes("\xe2\x98.", "{\"s\":\"\xef\xbf\xbd\xef\xbf\xbd.\","
				  "\"s_base64\":\"4pgu\"}\n");
	expect_bytes(NULL, "{\"s\":null,\"s_base64\":null}\n");
}
END_TEST

START_TEST(test_time)
{
	struct json j;

	json_init(&j);
	json_object_begin(&j);
	json_member_time(&j, "time", 1796601583);
	json_member_time(&j, "epoch", 0);
	json_object_end(&j);
	expect_doc(&j,
		   "{\"time\":1796601583,\"time_utc\":\"2026-12-06T23:59:43Z\","
		   "\"epoch\":0,\"epoch_utc\":\"1970-01-01T00:00:00Z\"}\n");
}
END_TEST

START_TEST(test_unclosed)
{
	struct json j;
	char *out;
	int ret;

	json_init(&j);
	json_object_begin(&j);
	json_member_int(&j, "version", 1);
	out = printed(&j, &ret);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_str_eq(out, "");
	free(out);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_document);
	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_time);
	tcase_add_test(tc, test_unclosed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(json_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
