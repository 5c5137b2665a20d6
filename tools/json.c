/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * json.c - the CLI's JSON writer (json.h): a growable buffer, the comma
 * and nesting bookkeeping, string escaping with the rule for bytes that
 * are not UTF-8 (each becomes U+FFFD; json_member_bytes() keeps the exact
 * bytes beside it in base64), and the time members every schema shares.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

void json_init(struct json *j)
{
	memset(j, 0, sizeof(*j));
}

void json_release(struct json *j)
{
	free(j->buf);
	json_init(j);
}

static void put(struct json *j, const char *s, size_t n)
{
	char *nb;
	size_t cap;

	if (j->err)
		return;
	if (j->len + n + 1 > j->cap) {
		cap = j->cap ? j->cap : 256;
		while (cap < j->len + n + 1)
			cap *= 2;
		nb = realloc(j->buf, cap);
		if (!nb) {
			j->err = -ENOMEM;
			return;
		}
		j->buf = nb;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void puts_(struct json *j, const char *s)
{
	put(j, s, strlen(s));
}

/* Before any value or key: the comma that separates it from the one
 * before at this level (none right after a key). */
static void sep(struct json *j)
{
	if (j->after_key) {
		j->after_key = 0;
		return;
	}
	if (j->depth && j->filled[j->depth - 1])
		put(j, ",", 1);
	if (j->depth)
		j->filled[j->depth - 1] = 1;
}

static void open_(struct json *j, char c)
{
	sep(j);
	put(j, &c, 1);
	if (j->depth >= JSON_DEPTH_MAX) {
		j->err = -EOVERFLOW;
		return;
	}
	j->filled[j->depth++] = 0;
}

static void close_(struct json *j, char c)
{
	put(j, &c, 1);
	if (j->depth)
		j->depth--;
}

void json_object_begin(struct json *j)
{
	open_(j, '{');
}

void json_object_end(struct json *j)
{
	close_(j, '}');
}

void json_array_begin(struct json *j)
{
	open_(j, '[');
}

void json_array_end(struct json *j)
{
	close_(j, ']');
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629, table 3-7 of
 * Unicode), 0 if the byte at p does not start one. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0; /* continuation byte, C0, C1, F5..FF */
	if (p[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (p[0] == 0xed)
		hi = 0x9f; /* surrogates */
	else if (p[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (p[0] == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

int json_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p) {
		n = utf8_len(p);
		if (!n)
			return 0;
		p += n;
	}
	return 1;
}

static void put_escaped(struct json *j, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	char u[7];
	size_t n;

	put(j, "\"", 1);
	while (*p) {
		n = utf8_len(p);
		if (!n) {
			put(j, "\xef\xbf\xbd", 3); /* U+FFFD */
			p++;
			continue;
		}
		if (n > 1) {
			put(j, (const char *)p, n);
		} else if (*p == '"' || *p == '\\') {
			put(j, "\\", 1);
			put(j, (const char *)p, 1);
		} else if (*p == '\n') {
			put(j, "\\n", 2);
		} else if (*p == '\t') {
			put(j, "\\t", 2);
		} else if (*p == '\r') {
			put(j, "\\r", 2);
		} else if (*p < 0x20) {
			memcpy(u, "\\u00", 4);
			u[4] = hex[*p >> 4];
			u[5] = hex[*p & 15];
			put(j, u, 6);
		} else {
			put(j, (const char *)p, 1);
		}
		p += n;
	}
	put(j, "\"", 1);
}

void json_key(struct json *j, const char *key)
{
	sep(j);
	put_escaped(j, key);
	put(j, ":", 1);
	j->after_key = 1;
}

void json_string(struct json *j, const char *s)
{
	if (!s) {
		json_null(j);
		return;
	}
	sep(j);
	put_escaped(j, s);
}

void json_int(struct json *j, int64_t v)
{
	char b[32];

	sep(j);
	snprintf(b, sizeof(b), "%" PRId64, v);
	puts_(j, b);
}

void json_uint(struct json *j, uint64_t v)
{
	char b[32];

	sep(j);
	snprintf(b, sizeof(b), "%" PRIu64, v);
	puts_(j, b);
}

void json_bool(struct json *j, int v)
{
	sep(j);
	puts_(j, v ? "true" : "false");
}

void json_null(struct json *j)
{
	sep(j);
	puts_(j, "null");
}

void json_member_string(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_string(j, s);
}

void json_member_int(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	json_int(j, v);
}

void json_member_uint(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	json_uint(j, v);
}

void json_member_bool(struct json *j, const char *key, int v)
{
	json_key(j, key);
	json_bool(j, v);
}

void json_member_null(struct json *j, const char *key)
{
	json_key(j, key);
	json_null(j);
}

/* s's bytes as a base64 JSON string (RFC 4648 alphabet, padded). */
static void put_base64(struct json *j, const char *s)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i;
	char q[4];

	put(j, "\"", 1);
	for (i = 0; i + 2 < n; i += 3) {
		q[0] = b64[p[i] >> 2];
		q[1] = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		q[2] = b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		q[3] = b64[p[i + 2] & 63];
		put(j, q, 4);
	}
	if (n - i == 1) {
		q[0] = b64[p[i] >> 2];
		q[1] = b64[(p[i] & 3) << 4];
		q[2] = q[3] = '=';
		put(j, q, 4);
	} else if (n - i == 2) {
		q[0] = b64[p[i] >> 2];
		q[1] = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		q[2] = b64[(p[i + 1] & 15) << 2];
		q[3] = '=';
		put(j, q, 4);
	}
	put(j, "\"", 1);
}

void json_member_bytes(struct json *j, const char *key, const char *s)
{
	size_t kl = strlen(key);
	char *k2 = malloc(kl + sizeof("_base64"));

	if (!k2) {
		j->err = -ENOMEM;
		return;
	}
	memcpy(k2, key, kl);
	memcpy(k2 + kl, "_base64", sizeof("_base64"));
	json_member_string(j, key, s);
	json_key(j, k2);
	if (s && !json_utf8_valid(s)) {
		sep(j);
		put_base64(j, s);
	} else {
		json_null(j);
	}
	free(k2);
}

void json_member_time(struct json *j, const char *key, int64_t t)
{
	size_t kl = strlen(key);
	char *k2 = malloc(kl + sizeof("_utc")), iso[64] = "";
	time_t tt = (time_t)t;
	struct tm tm;

	if (!k2) {
		j->err = -ENOMEM;
		return;
	}
	memcpy(k2, key, kl);
	memcpy(k2 + kl, "_utc", sizeof("_utc"));
	json_member_int(j, key, t);
	if (gmtime_r(&tt, &tm))
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_member_string(j, k2, iso[0] ? iso : NULL);
	free(k2);
}

int json_print(struct json *j, FILE *f)
{
	int ret = j->err;

	if (!ret && (j->depth || !j->buf))
		ret = -EINVAL; /* an unclosed container: a bug of the caller */
	if (!ret) {
		put(j, "\n", 1);
		ret = j->err;
	}
	errno = 0;
	if (!ret && (fwrite(j->buf, 1, j->len, f) != j->len || fflush(f)))
		ret = errno ? -errno : -EIO;
	json_release(j);
	return ret;
}
