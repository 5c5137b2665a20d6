/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_meta.c - the META codec (overlay/meta.c): a text pinned byte for
 * byte, round trips of every type and of the extreme values of every
 * field (odd paths, odd xattr names, binary values), every malformed line
 * and header refused with its one-line error and nothing left allocated,
 * and damaged text (every truncation, bytes replaced everywhere) refused
 * or read consistently, never a crash (the suite runs under ASan in CI;
 * the parser gets buffers of exactly the text's length).  And the
 * error-message rule of util.h the parser follows: the first message
 * wins, a caller's context goes in front, an exported function clears a
 * stale message on entry.  No root needed.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "util.h"

#define HDR "# pifs delta metadata v1\ngolden 0123456789abcdef\n"

static char err[512];

/* Parse text from a buffer of exactly its length (so ASan sees a read
 * past the end). */
static int parse(struct pifs_meta *m, const char *text, size_t len)
{
	char *buf = malloc(len ? len : 1);
	int ret;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, text, len);
	err[0] = '\0';
	ret = pifs_meta_parse(m, buf, len, err, sizeof(err));
	free(buf);
	return ret;
}

static void assert_refused_n(const char *text, size_t len, const char *msg)
{
	struct pifs_meta m;

	ck_assert_msg(parse(&m, text, len) == -EINVAL, "accepted: %s", text);
	ck_assert_msg(!strcmp(err, msg), "'%s': got '%s', want '%s'", text,
		      err, msg);
	/* nothing is left to release */
	ck_assert_ptr_null(m.entries);
	ck_assert_uint_eq(m.count, 0);
}

static void assert_refused(const char *text, const char *msg)
{
	assert_refused_n(text, strlen(text), msg);
}

static void assert_entry_eq(const struct pifs_meta_entry *a,
			    const struct pifs_meta_entry *b)
{
	size_t i;

	ck_assert_str_eq(a->path, b->path);
	ck_assert_int_eq(a->type, b->type);
	ck_assert_uint_eq(a->mode, b->mode);
	ck_assert_uint_eq(a->uid, b->uid);
	ck_assert_uint_eq(a->gid, b->gid);
	ck_assert_int_eq(a->mtime_sec, b->mtime_sec);
	ck_assert_uint_eq(a->mtime_nsec, b->mtime_nsec);
	ck_assert_uint_eq(a->rdev_major, b->rdev_major);
	ck_assert_uint_eq(a->rdev_minor, b->rdev_minor);
	if (a->link || b->link) {
		ck_assert_ptr_nonnull(a->link);
		ck_assert_ptr_nonnull(b->link);
		ck_assert_str_eq(a->link, b->link);
	}
	ck_assert_uint_eq(a->nxattrs, b->nxattrs);
	for (i = 0; i < a->nxattrs; i++) {
		ck_assert_str_eq(a->xattrs[i].name, b->xattrs[i].name);
		ck_assert_uint_eq(a->xattrs[i].len, b->xattrs[i].len);
		if (a->xattrs[i].len)
			ck_assert_mem_eq(a->xattrs[i].value,
					 b->xattrs[i].value, a->xattrs[i].len);
	}
}

START_TEST(test_pinned_text)
{
	static const char text[] =
	    HDR "d 755 0 0 1700000000.000000001 0:0 - - .\n"
		"c 0 0 0 1700000000.000000000 0:0 - - etc/gone\n"
		"f 4750 1000 1001 1700000001.123456789 0:0 - "
		"user.a=00ff,user.b\\x2cc\\x3d= etc/motd\n"
		"f 644 0 0 -5.000000000 0:0 etc/motd - etc/motd.link\n"
		"l 777 0 0 2.000000000 0:0 - - odd\\x20dir/ln\\x5c\n"
		"d 755 0 0 1.000000000 0:0 - trusted.overlay.opaque=79 opq\n";
	const struct pifs_meta_entry *e;
	const struct pifs_xattr *x;
	struct pifs_meta m;
	size_t len;
	char *out;

	ck_assert_msg(parse(&m, text, strlen(text)) == 0, "%s", err);
	ck_assert_str_eq(m.golden, "0123456789abcdef");
	ck_assert_uint_eq(m.count, 6);
	e = pifs_meta_find(&m, "etc/motd");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->type, 'f');
	ck_assert_uint_eq(e->mode, 04750);
	ck_assert_uint_eq(e->uid, 1000);
	ck_assert_uint_eq(e->gid, 1001);
	ck_assert_uint_eq(e->mtime_nsec, 123456789);
	ck_assert_uint_eq(e->size, UINT64_MAX); /* not in META */
	ck_assert_uint_eq(e->nxattrs, 2);
	x = pifs_meta_xattr(e, "user.b,c=");
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(x->len, 0);
	x = pifs_meta_xattr(e, "user.a");
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(x->len, 2);
	ck_assert_mem_eq(x->value, "\x00\xff", 2);
	ck_assert_ptr_null(pifs_meta_xattr(e, "user.c"));
	e = pifs_meta_find(&m, "etc/motd.link");
	ck_assert_str_eq(e->link, "etc/motd");
	ck_assert_int_eq(e->mtime_sec, -5);
	ck_assert(pifs_meta_is_whiteout(pifs_meta_find(&m, "etc/gone")));
	ck_assert(!pifs_meta_is_whiteout(pifs_meta_find(&m, "etc/motd")));
	ck_assert(pifs_meta_is_opaque(pifs_meta_find(&m, "opq")));
	ck_assert(!pifs_meta_is_opaque(pifs_meta_find(&m, ".")));
	ck_assert_ptr_nonnull(pifs_meta_find(&m, "odd dir/ln\\"));
	ck_assert_ptr_null(pifs_meta_find(&m, "odd"));
	ck_assert_ptr_null(pifs_meta_find(NULL, "."));
	/* and back, byte for byte */
	ck_assert_int_eq(pifs_meta_format(&m, &out, &len), 0);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert_mem_eq(out, text, len);
	ck_assert_int_eq(out[len], '\0');
	free(out);
	pifs_meta_release(&m);
	ck_assert_uint_eq(m.count, 0);
	ck_assert_ptr_null(m.entries);
}
END_TEST

/* Every type, the extremes of every number and names that need escaping
 * survive format and parse. */
START_TEST(test_round_trip_extremes)
{
	static const unsigned char bin[] = {0, 0xff, ',', '=', '\n', ' ',
					    '\\', '-'};
	struct pifs_xattr x[4] = {
	    {(char *)"-", (unsigned char *)"-", 1},
	    {(char *)"user.\\ \t\x7f\xfe", (unsigned char *)bin, sizeof(bin)},
	    {(char *)"user.a,b=c", (unsigned char *)"", 0},
	    {(char *)"user.z", (unsigned char *)bin, 1},
	};
	/* sorted bytewise */
	static const char *const paths[] = {
	    "-", ".", "a\x01\x7f\xff", "a b\\c\n", "a,b=c", "dir",
	    "dir/-", "dir/sub", "wh", "x\\x41"};
	static const char types[] = "fdlpsdcbcl";
	struct pifs_meta_entry e[10];
	struct pifs_meta m, p, q;
	char *text, *text2;
	size_t len, len2, i;

	memset(e, 0, sizeof(e));
	pifs_meta_init(&m);
	strcpy(m.golden, "fedcba9876543210");
	for (i = 0; i < 10; i++) {
		e[i].path = (char *)paths[i];
		e[i].type = types[i];
		e[i].mode = i & 1 ? 07777 : 0;
		e[i].uid = i & 1 ? UINT32_MAX : 0;
		e[i].gid = i & 2 ? UINT32_MAX : 0;
		e[i].mtime_sec = i == 1   ? INT64_MAX
				 : i == 2 ? -INT64_MAX
				 : i == 3 ? -1
					  : (int64_t)i;
		e[i].mtime_nsec = i & 1 ? 999999999 : 0;
	}
	e[7].rdev_major = UINT32_MAX;
	e[7].rdev_minor = UINT32_MAX;
	e[6].rdev_major = 259;
	e[6].rdev_minor = 1048575;
	e[1].xattrs = x;
	e[1].nxattrs = 4;
	e[4].link = (char *)"-";
	e[6].link = (char *)"a b\\c\n";
	m.entries = e;
	m.count = 10;
	ck_assert_int_eq(pifs_meta_format(&m, &text, &len), 0);
	ck_assert_uint_eq(strlen(text), len); /* no NUL, no raw newline */
	ck_assert_ptr_nonnull(strstr(text, " \\x2d\n"));
	ck_assert_ptr_nonnull(strstr(text, " a\\x20b\\x5cc\\x0a\n"));
	ck_assert_ptr_nonnull(strstr(text, " a,b=c\n"));
	ck_assert_ptr_nonnull(strstr(text, "user.a\\x2cb\\x3dc=,"));
	ck_assert_msg(parse(&p, text, len) == 0, "%s", err);
	ck_assert_str_eq(p.golden, m.golden);
	ck_assert_uint_eq(p.count, m.count);
	for (i = 0; i < m.count; i++)
		assert_entry_eq(&p.entries[i], &m.entries[i]);
	ck_assert_int_eq(pifs_meta_format(&p, &text2, &len2), 0);
	ck_assert_uint_eq(len, len2);
	ck_assert_mem_eq(text, text2, len);
	/* a META without entries is a META too */
	m.count = 0;
	free(text2);
	ck_assert_int_eq(pifs_meta_format(&m, &text2, &len2), 0);
	ck_assert_str_eq(text2, "# pifs delta metadata v1\n"
				"golden fedcba9876543210\n");
	ck_assert_int_eq(parse(&q, text2, len2), 0);
	ck_assert_uint_eq(q.count, 0);
	pifs_meta_release(&q);
	pifs_meta_release(&p);
	free(text);
	free(text2);
}
END_TEST

START_TEST(test_format_refuses_bad_type)
{
	struct pifs_meta_entry e[2];
	struct pifs_meta m;
	char *out = (char *)"untouched";
	size_t len = 7;

	memset(e, 0, sizeof(e));
	pifs_meta_init(&m);
	e[0].path = (char *)".";
	e[0].type = 'd';
	e[1].path = (char *)"x";
	e[1].type = 'x';
	m.entries = e;
	m.count = 2;
	ck_assert_int_eq(pifs_meta_format(&m, &out, &len), -EINVAL);
	ck_assert_ptr_null(out);
	e[1].type = '\0';
	ck_assert_int_eq(pifs_meta_format(&m, &out, &len), -EINVAL);
	ck_assert_ptr_null(out);
}
END_TEST

/* One bad field at a time: the line is refused, the META with it. */
START_TEST(test_refused_lines)
{
	static const char *const bad[] = {
	    "",
	    " ",
	    "f 644 0 0 1.000000000 0:0 - -",
	    "f 644 0 0 1.000000000 0:0 - - a b",
	    "f 644 0 0 1.000000000 0:0 - - a ",
	    "f  644 0 0 1.000000000 0:0 - - a",
	    "x 644 0 0 1.000000000 0:0 - - a",
	    "ff 644 0 0 1.000000000 0:0 - - a",
	    "- 644 0 0 1.000000000 0:0 - - a",
	    "f 648 0 0 1.000000000 0:0 - - a",
	    "f 17777 0 0 1.000000000 0:0 - - a",
	    "f -1 0 0 1.000000000 0:0 - - a",
	    "f 0x1 0 0 1.000000000 0:0 - - a",
	    "f 644 4294967296 0 1.000000000 0:0 - - a",
	    "f 644 0 18446744073709551616 1.000000000 0:0 - - a",
	    "f 644 a 0 1.000000000 0:0 - - a",
	    "f 644 0 0 1 0:0 - - a",
	    "f 644 0 0 1.00000000 0:0 - - a",
	    "f 644 0 0 1.0000000000 0:0 - - a",
	    "f 644 0 0 .000000000 0:0 - - a",
	    "f 644 0 0 -.000000000 0:0 - - a",
	    "f 644 0 0 1.00000000a 0:0 - - a",
	    "f 644 0 0 1.-00000001 0:0 - - a",
	    "f 644 0 0 9223372036854775808.000000000 0:0 - - a",
	    "f 644 0 0 --1.000000000 0:0 - - a",
	    "f 644 0 0 1.000000000 0 - - a",
	    "f 644 0 0 1.000000000 0: - - a",
	    "f 644 0 0 1.000000000 :0 - - a",
	    "f 644 0 0 1.000000000 0:0:0 - - a",
	    "f 644 0 0 1.000000000 0:4294967296 - - a",
	    "f 644 0 0 1.000000000 0:0 \\x0 - a",
	    "f 644 0 0 1.000000000 0:0 \\x00 - a",
	    "f 644 0 0 1.000000000 0:0 \\y41 - a",
	    "f 644 0 0 1.000000000 0:0 - user.a a",
	    "f 644 0 0 1.000000000 0:0 - =00 a",
	    "f 644 0 0 1.000000000 0:0 - user.a=0 a",
	    "f 644 0 0 1.000000000 0:0 - user.a=zz a",
	    "f 644 0 0 1.000000000 0:0 - user.a==00 a",
	    "f 644 0 0 1.000000000 0:0 - user.b=00,user.a=00 a",
	    "f 644 0 0 1.000000000 0:0 - user.a=00,user.a=01 a",
	    "f 644 0 0 1.000000000 0:0 - ,user.a=00 a",
	    "f 644 0 0 1.000000000 0:0 - user.a=00,,user.b=00 a",
	    "f 644 0 0 1.000000000 0:0 - user.\\x00=00 a",
	    "f 644 0 0 1.000000000 0:0 - - a\\",
	    "f 644 0 0 1.000000000 0:0 - - a\\x",
	    "f 644 0 0 1.000000000 0:0 - - a\\x4",
	    "f 644 0 0 1.000000000 0:0 - - a\\x00b",
	    "f 644 0 0 1.000000000 0:0 - - a\tb c",
	};
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
			 HDR "d 755 0 0 1.000000000 0:0 - - .\n%s\n", bad[i]);
		assert_refused(text, "line 4: bad entry");
	}
}
END_TEST

START_TEST(test_refused_texts)
{
	assert_refused("", "truncated META");
	assert_refused("# pifs delta metadata v1\n", "truncated META");
	assert_refused("# pifs delta metadata v1", "line 1: no final newline");
	assert_refused("# pifs delta metadata v3\ngolden 0123456789abcdef\n",
		       "line 1: not a pifs META header");
	assert_refused(" # pifs delta metadata v1\ngolden 0123456789abcdef\n",
		       "line 1: not a pifs META header");
	assert_refused("# pifs delta metadata v1\ngolden\n",
		       "line 2: bad golden line");
	assert_refused("# pifs delta metadata v1\ngolden \n",
		       "line 2: bad golden line");
	assert_refused("# pifs delta metadata v1\ngolden 0123456789abcdef0\n",
		       "line 2: bad golden line");
	assert_refused("# pifs delta metadata v1\nGolden 0123456789abcdef\n",
		       "line 2: bad golden line");
	assert_refused(HDR "d 755 0 0 1.000000000 0:0 - - .",
		       "line 3: no final newline");
	assert_refused(HDR "d 755 0 0 1.000000000 0:0 - - b\n"
			   "d 755 0 0 1.000000000 0:0 - - a\n",
		       "line 4: entries not sorted");
	assert_refused(HDR "d 755 0 0 1.000000000 0:0 - - a\n"
			   "f 644 0 0 1.000000000 0:0 - - a\n",
		       "line 4: entries not sorted");
	/* a NUL is refused, not taken for the end of a field */
	{
		static const char type[] =
		    HDR "\0 644 0 0 1.000000000 0:0 - - a\n";
		static const char path[] =
		    HDR "f 644 0 0 1.000000000 0:0 - - a\0b\n";
		static const char gold[] = "# pifs delta metadata v1\n"
					   "golden 0123\0\n";

		assert_refused_n(type, sizeof(type) - 1, "line 3: bad entry");
		assert_refused_n(path, sizeof(path) - 1, "line 3: bad entry");
		assert_refused_n(gold, sizeof(gold) - 1,
				 "line 2: bad golden line");
	}
	/* a later bad line after good ones: all of it is released */
	assert_refused(HDR "d 755 0 0 1.000000000 0:0 - user.a=00 .\n"
			   "f 644 0 0 1.000000000 0:0 . user.b=01 a\n"
			   "f 644 0 0 1.000000000 0:0 - user.b=0 b\n",
		       "line 5: bad entry");
}
END_TEST

START_TEST(test_entry_parse)
{
	static const char line[] = "b 600 7 8 3.000000004 8:1 - - dev/sda1";
	struct pifs_meta_entry e;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(
	    pifs_meta_entry_parse(&e, line, line + strlen(line)), 0);
	ck_assert_str_eq(e.path, "dev/sda1");
	ck_assert_int_eq(e.type, 'b');
	ck_assert_uint_eq(e.mode, 0600);
	ck_assert_uint_eq(e.rdev_major, 8);
	ck_assert_uint_eq(e.rdev_minor, 1);
	ck_assert_ptr_null(e.link);
	ck_assert_uint_eq(e.nxattrs, 0);
	pifs_meta_entry_release(&e);
	/* only [line, end) is read: a prefix is a bad line */
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(pifs_meta_entry_parse(&e, line, line + 20), -EINVAL);
	pifs_meta_entry_release(&e);
	ck_assert_ptr_null(e.path);
}
END_TEST

START_TEST(test_sort_find)
{
	static const char *const paths[] = {"b", "a/b", ".", "a", "a-b", "a/a"};
	static const char *const sorted[] = {".", "a", "a-b", "a/a", "a/b",
					     "b"};
	struct pifs_meta_entry e[6];
	struct pifs_meta m;
	size_t i;

	memset(e, 0, sizeof(e));
	pifs_meta_init(&m);
	for (i = 0; i < 6; i++)
		e[i].path = (char *)paths[i];
	m.entries = e;
	m.count = 6;
	pifs_meta_sort(&m);
	for (i = 0; i < 6; i++) {
		ck_assert_str_eq(m.entries[i].path, sorted[i]);
		ck_assert_ptr_eq(pifs_meta_find(&m, sorted[i]), &m.entries[i]);
	}
	ck_assert_ptr_null(pifs_meta_find(&m, "a/"));
	ck_assert_ptr_null(pifs_meta_find(&m, "c"));
	ck_assert_ptr_null(pifs_meta_find(&m, ""));
	m.count = 0;
	ck_assert_ptr_null(pifs_meta_find(&m, "."));
}
END_TEST

/* Parse damaged text: refused with a message, or read so that formatting
 * and parsing it again gives the same text. */
static void damaged(const char *text, size_t len)
{
	struct pifs_meta m, m2;
	char *out, *out2;
	size_t olen, olen2, i;
	int ret;

	ret = parse(&m, text, len);
	ck_assert_msg(ret == 0 || ret == -EINVAL, "parse gave %d", ret);
	if (ret < 0) {
		ck_assert_msg(err[0], "refused without a message");
		ck_assert_ptr_null(m.entries);
		return;
	}
	for (i = 1; i < m.count; i++)
		ck_assert_int_lt(strcmp(m.entries[i - 1].path,
					m.entries[i].path),
				 0);
	ck_assert_int_eq(pifs_meta_format(&m, &out, &olen), 0);
	ck_assert_msg(parse(&m2, out, olen) == 0, "%s", err);
	ck_assert_int_eq(pifs_meta_format(&m2, &out2, &olen2), 0);
	ck_assert_uint_eq(olen, olen2);
	ck_assert_mem_eq(out, out2, olen);
	free(out);
	free(out2);
	pifs_meta_release(&m2);
	pifs_meta_release(&m);
}

START_TEST(test_damage_never_crashes)
{
	static const char text[] =
	    HDR "d 755 0 0 1700000000.000000001 0:0 - user.a=00ff .\n"
		"c 0 0 0 1.000000000 0:0 - - a\\x20b\n"
		"f 4750 1000 1001 -1.123456789 0:0 - "
		"user.a=00,user.b\\x2cc\\x3d=7a etc/motd\n"
		"f 644 0 0 5.000000000 259:1048575 etc/motd - etc/x\n";
	static const char repl[] = {' ', '\n', '\\', 'x', '0', '9', '-', ',',
				    '=', '.', ':', 'f', '\0', '\xff'};
	size_t len = strlen(text), i, j;
	char *buf = malloc(len);

	ck_assert_ptr_nonnull(buf);
	for (i = 0; i <= len; i++)
		damaged(text, i);
	for (i = 0; i < len; i++) {
		for (j = 0; j < sizeof(repl); j++) {
			memcpy(buf, text, len);
			buf[i] = repl[j];
			damaged(buf, len);
		}
		/* a byte dropped */
		memcpy(buf, text, i);
		memcpy(buf + i, text + i + 1, len - i - 1);
		damaged(buf, len - 1);
	}
	free(buf);
}
END_TEST

#define HDR2 "# pifs delta metadata v2\ngolden 0123456789abcdef\n"

/* A sparse file's @ field (meta.h): a v2 META, pinned byte for byte, read
 * back to the same map; a META without one stays v1, unchanged. */
START_TEST(test_sparse_round_trip)
{
	static const char text[] =
	    HDR2 "d 755 0 0 1.000000000 0:0 - - .\n"
		 "f 644 0 0 2.000000000 0:0 - - @6442450944:0+4096 disk.img\n"
		 "f 600 1 2 3.000000000 0:0 - user.a=01 "
		 "@8388608:0+65536,1048576+8192,8384512+4096 multi\n"
		 "f 644 0 0 5.000000000 0:0 - - plain\n"
		 "f 644 0 0 4.000000000 0:0 - - @5242880:- zeros\n";
	struct pifs_meta m, m2;
	const struct pifs_meta_entry *e;
	char *out = NULL;
	size_t len;

	ck_assert_int_eq(parse(&m, text, strlen(text)), 0);
	ck_assert_uint_eq(m.count, 5);
	e = pifs_meta_find(&m, "disk.img");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->sparse, 1);
	ck_assert_uint_eq(e->size, 6442450944ULL);
	ck_assert_uint_eq(e->next, 1);
	ck_assert_uint_eq(e->ext[0].off, 0);
	ck_assert_uint_eq(e->ext[0].len, 4096);
	ck_assert_uint_eq(pifs_meta_sparse_data(e), 4096);
	e = pifs_meta_find(&m, "multi");
	ck_assert_uint_eq(e->next, 3);
	ck_assert_uint_eq(e->ext[2].off, 8384512);
	ck_assert_uint_eq(pifs_meta_sparse_data(e), 65536 + 8192 + 4096);
	ck_assert_uint_eq(e->nxattrs, 1);
	e = pifs_meta_find(&m, "zeros");
	ck_assert_int_eq(e->sparse, 1);
	ck_assert_uint_eq(e->next, 0);
	ck_assert_uint_eq(e->size, 5242880);
	e = pifs_meta_find(&m, "plain");
	ck_assert_int_eq(e->sparse, 0);
	ck_assert_uint_eq(e->size, UINT64_MAX);
	ck_assert_int_eq(pifs_meta_format(&m, &out, &len), 0);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert_mem_eq(out, text, len);
	ck_assert_int_eq(parse(&m2, out, len), 0);
	ck_assert(pifs_meta_sparse_equal(pifs_meta_find(&m, "multi"),
					 pifs_meta_find(&m2, "multi")));
	ck_assert(!pifs_meta_sparse_equal(pifs_meta_find(&m, "multi"),
					  pifs_meta_find(&m2, "disk.img")));
	ck_assert(!pifs_meta_sparse_equal(pifs_meta_find(&m, "plain"),
					  pifs_meta_find(&m2, "zeros")));
	free(out);
	pifs_meta_release(&m2);
	/* without its sparse entries the META is v1 again */
	pifs_meta_entry_release(&m.entries[1]);
	pifs_meta_entry_release(&m.entries[2]);
	pifs_meta_entry_release(&m.entries[4]);
	m.entries[1] = m.entries[3];
	m.count = 2;
	ck_assert_int_eq(pifs_meta_format(&m, &out, &len), 0);
	ck_assert_str_eq(out, HDR "d 755 0 0 1.000000000 0:0 - - .\n"
				  "f 644 0 0 5.000000000 0:0 - - plain\n");
	free(out);
	pifs_meta_release(&m);
}
END_TEST

START_TEST(test_sparse_refused)
{
	static const char *const bad[] = {
	    "@10:8+4",			    /* past the size */
	    "@10:5+6",			    /* past the size */
	    "@10:0+0",			    /* an empty extent */
	    "@10:4+2,0+2",		    /* not ascending */
	    "@10:0+2,2+2",		    /* touching */
	    "@10:0+4,2+2",		    /* overlapping */
	    "@10:",			    /* no map */
	    "@:0+1",			    /* no size */
	    "@10:0+1,",			    /* a final comma */
	    "@10:0+1,,4+1",		    /* an empty item */
	    "@10:01",			    /* no + */
	    "@10:0+x",			    /* not a number */
	    "@18446744073709551616:-",	    /* too big */
	    "10:0+1",			    /* no @ */
	    "@10:-,0+1",		    /* "-" with extents */
	    "@18446744073709551615:18446744073709551614+2", /* overflow */
	};
	static const char *const lines[] = {
	    /* an @ field on what is not a file */
	    "d 755 0 0 1.000000000 0:0 - - @10:- dir\n",
	    "l 777 0 0 1.000000000 0:0 - - @10:- sym\n",
	    /* eleven fields */
	    "f 644 0 0 1.000000000 0:0 - - @10:- x y\n",
	};
	char text[512], want[64];
	struct pifs_meta m;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(text, sizeof(text),
			 HDR2 "d 755 0 0 1.000000000 0:0 - - .\n"
			      "f 644 0 0 1.000000000 0:0 - - %s f\n",
			 bad[i]);
		assert_refused(text, "line 4: bad entry");
	}
	for (i = 0; i < sizeof(lines) / sizeof(*lines); i++) {
		snprintf(text, sizeof(text),
			 HDR2 "d 755 0 0 1.000000000 0:0 - - .\n%s",
			 lines[i]);
		assert_refused(text, "line 4: bad entry");
	}
	/* a v1 META cannot hold one: an older pifs wrote it */
	snprintf(text, sizeof(text),
		 HDR "d 755 0 0 1.000000000 0:0 - - .\n"
		     "f 644 0 0 1.000000000 0:0 - - @10:0+1 f\n");
	snprintf(want, sizeof(want), "line 4: a sparse file in a v1 META");
	assert_refused(text, want);
	/* an unknown version is not read */
	assert_refused("# pifs delta metadata v3\ngolden 0123456789abcdef\n",
		       "line 1: not a pifs META header");
	/* format refuses a bad map rather than write it */
	{
		struct pifs_extent x[2] = {{0, 8}, {4, 8}};
		struct pifs_meta_entry e[2] = {{0}};
		char root[] = ".", name[] = "f", *out = NULL;

		pifs_meta_init(&m);
		e[0].path = root;
		e[0].type = 'd';
		e[1].path = name;
		e[1].type = 'f';
		e[1].sparse = 1;
		e[1].size = 100;
		e[1].ext = x;
		e[1].next = 2;
		memcpy(m.golden, "0123456789abcdef", 17);
		m.entries = e;
		m.count = 2;
		ck_assert_int_eq(pifs_meta_format(&m, &out, NULL), -EINVAL);
		ck_assert_ptr_null(out);
		x[1].off = 8;
		ck_assert_int_eq(pifs_meta_format(&m, &out, NULL), -EINVAL);
		x[1].off = 9;
		ck_assert_int_eq(pifs_meta_format(&m, &out, NULL), 0);
		ck_assert_ptr_nonnull(strstr(out, " @100:0+8,9+8 f\n"));
		free(out);
		e[1].type = 'l';
		ck_assert_int_eq(pifs_meta_format(&m, &out, NULL), -EINVAL);
	}
}
END_TEST

START_TEST(test_sparse_damage_never_crashes)
{
	static const char text[] =
	    HDR2 "d 755 0 0 1.000000000 0:0 - - .\n"
		 "f 644 0 0 2.000000000 0:0 - - @8388608:0+65536,1048576+8192 "
		 "a\n";
	static const char repl[] = {' ', '\n', '@', ':', '+', ',', '-',
				    '0', '9', '\0'};
	size_t len = strlen(text), i, j;
	char *buf = malloc(len);

	ck_assert_ptr_nonnull(buf);
	for (i = 0; i <= len; i++)
		damaged(text, i);
	for (i = 0; i < len; i++) {
		for (j = 0; j < sizeof(repl); j++) {
			memcpy(buf, text, len);
			buf[i] = repl[j];
			damaged(buf, len);
		}
	}
	free(buf);
}
END_TEST

/* util.h's error-message rule, and pifs_meta_parse following it. */
START_TEST(test_errbuf_rule)
{
	static const char good[] = HDR "d 755 0 0 1.000000000 0:0 - - .\n";
	static const char bad[] = HDR "d 755 0 0 1.000000000 0:0 - - .\n"
				      "f 644 0 0 1.000000000 0:0 - - a\tb c\n";
	char buf[128], small[16];
	struct pifs_meta m;

	/* the first (innermost) message wins */
	pifs_errclear(buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	pifs_seterr(buf, sizeof(buf), "cannot open '%s': %s", "a/b",
		    strerror(EIO));
	pifs_seterr(buf, sizeof(buf), "cannot read the delta of %s", "w3");
	ck_assert_str_eq(buf, "cannot open 'a/b': Input/output error");
	/* context goes in front, explicitly */
	pifs_seterr_prefix(buf, sizeof(buf), -EIO, "cannot snapshot %s",
			   "worker-3");
	ck_assert_str_eq(buf, "cannot snapshot worker-3: cannot open 'a/b': "
			      "Input/output error");
	/* no inner message: the errno says why, or the context alone */
	pifs_errclear(buf, sizeof(buf));
	pifs_seterr_prefix(buf, sizeof(buf), -ENOENT, "cannot snapshot %s",
			   "worker-3");
	ck_assert_str_eq(buf,
			 "cannot snapshot worker-3: No such file or directory");
	pifs_errclear(buf, sizeof(buf));
	pifs_seterr_prefix(buf, sizeof(buf), 0, "cannot snapshot %s", "w");
	ck_assert_str_eq(buf, "cannot snapshot w");
	/* cut at the buffer, always terminated */
	pifs_errclear(small, sizeof(small));
	pifs_seterr(small, sizeof(small), "%s", "inner message here");
	ck_assert_str_eq(small, "inner message h");
	pifs_seterr_prefix(small, sizeof(small), -EIO, "ctx");
	ck_assert_str_eq(small, "ctx: inner mess");
	pifs_errclear(small, sizeof(small));
	pifs_seterr_prefix(small, sizeof(small), 0, "%s",
			   "a context longer than the buffer");
	ck_assert_str_eq(small, "a context longe");
	/* no buffer: nothing written, no crash */
	pifs_errclear(NULL, 10);
	pifs_seterr(NULL, 10, "x");
	pifs_seterr_prefix(NULL, 10, -EIO, "x");
	small[0] = 'z';
	pifs_errclear(small, 0);
	pifs_seterr(small, 0, "x");
	pifs_seterr_prefix(small, 0, -EIO, "x");
	ck_assert_int_eq(small[0], 'z');

	/* an exported function clears what a reused buffer held: the
	 * message is its own, not the stale one kept by "first wins" */
	snprintf(err, sizeof(err), "stale message of an earlier call");
	ck_assert_int_eq(pifs_meta_parse(&m, bad, strlen(bad), err,
					 sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "line 4: bad entry");
	snprintf(err, sizeof(err), "stale message of an earlier call");
	ck_assert_int_eq(pifs_meta_parse(&m, good, strlen(good), err,
					 sizeof(err)),
			 0);
	ck_assert_str_eq(err, "");
	pifs_meta_release(&m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("meta");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_pinned_text);
	tcase_add_test(tc, test_round_trip_extremes);
	tcase_add_test(tc, test_format_refuses_bad_type);
	tcase_add_test(tc, test_refused_lines);
	tcase_add_test(tc, test_refused_texts);
	tcase_add_test(tc, test_entry_parse);
	tcase_add_test(tc, test_sort_find);
	tcase_add_test(tc, test_damage_never_crashes);
	tcase_add_test(tc, test_sparse_round_trip);
	tcase_add_test(tc, test_sparse_refused);
	tcase_add_test(tc, test_sparse_damage_never_crashes);
	tcase_add_test(tc, test_errbuf_rule);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
