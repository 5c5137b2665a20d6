/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sha1.c - plain SHA-1 (see sha1.h): the pack and index trailers git
 * requires, computed over bytes the snapshot writes itself.
 */
#include "config.h"

#include <string.h>

#include "sha1.h"

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static void block(uint32_t h[5], const unsigned char *p)
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 80; i++)
		w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = ROL(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = ROL(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void pifs_sha1_init(struct pifs_sha1 *c)
{
	static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe,
				       0x10325476, 0xc3d2e1f0};

	memcpy(c->h, iv, sizeof(iv));
	c->len = 0;
}

void pifs_sha1_update(struct pifs_sha1 *c, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t have = (size_t)(c->len % 64), n;

	c->len += len;
	if (have) {
		n = 64 - have < len ? 64 - have : len;
		memcpy(c->buf + have, p, n);
		p += n;
		len -= n;
		if (have + n < 64)
			return;
		block(c->h, c->buf);
	}
	for (; len >= 64; p += 64, len -= 64)
		block(c->h, p);
	memcpy(c->buf, p, len);
}

void pifs_sha1_final(struct pifs_sha1 *c, unsigned char out[20])
{
	unsigned char pad[72] = {0x80};
	uint64_t bits = c->len * 8;
	size_t have = (size_t)(c->len % 64), padlen;
	int i;

	padlen = (have < 56 ? 56 : 120) - have;
	for (i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
	pifs_sha1_update(c, pad, padlen + 8);
	for (i = 0; i < 20; i++)
		out[i] = (unsigned char)(c->h[i / 4] >> (24 - 8 * (i % 4)));
}
