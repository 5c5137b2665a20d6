/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * json.h - a small JSON writer for the CLI's --json output.  A document
 * is built in memory (so a command that fails half-way prints nothing on
 * stdout) and written in one go by json_print(): one line, compact.
 * Strings are C strings of arbitrary bytes: valid UTF-8 is copied,
 * each byte that is not part of a well-formed UTF-8 sequence becomes
 * U+FFFD, '"', '\\' and control characters are escaped.  A name or a
 * message that may be any bytes goes out with json_member_bytes(), which
 * adds a companion "<key>_base64" member holding the exact bytes when
 * the string is not valid UTF-8 (null when it is).  Allocation failures
 * are remembered and reported by json_print() as -ENOMEM; the calls in
 * between need no checks.
 */
#ifndef PIFS_JSON_H
#define PIFS_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 16

struct json {
	char *buf;
	size_t len, cap;
	int err; /* 0, or -ENOMEM once an append failed */
	unsigned depth;
	/* at each open level: has a value been written yet (a comma due)? */
	unsigned char filled[JSON_DEPTH_MAX];
	int after_key; /* a key was written, its value comes next */
};

void json_init(struct json *j);
void json_release(struct json *j);

/* Containers; a member of an object is json_key() then one value. */
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
void json_key(struct json *j, const char *key);

/* Values; json_string(j, NULL) writes null. */
void json_string(struct json *j, const char *s);
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, int v);
void json_null(struct json *j);

/* key and value in one call. */
void json_member_string(struct json *j, const char *key, const char *s);
void json_member_int(struct json *j, const char *key, int64_t v);
void json_member_uint(struct json *j, const char *key, uint64_t v);
void json_member_bool(struct json *j, const char *key, int v);
void json_member_null(struct json *j, const char *key);
/* "key": s (invalid bytes as U+FFFD) and "key_base64": the bytes of s in
 * base64 (RFC 4648, padded) when s is not valid UTF-8, else null.  s NULL
 * writes null for both. */
void json_member_bytes(struct json *j, const char *key, const char *s);
/* "key": t as seconds since the epoch and "key_utc": the same as ISO 8601
 * UTC ("2026-12-06T23:55:50Z"). */
void json_member_time(struct json *j, const char *key, int64_t t);

/* 1 if s is valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), else 0. */
int json_utf8_valid(const char *s);

/* Write the document and a newline to f and flush it; releases j.  0, or
 * -ENOMEM (building failed) or -errno of the write. */
int json_print(struct json *j, FILE *f);

#endif /* PIFS_JSON_H */
