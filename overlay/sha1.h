/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sha1.h - SHA-1 for the checksums of the packs and pack indexes the
 * snapshot writes itself (git requires them), from Nettle: a small,
 * well-kept library in Debian.  Not for object ids (libgit2 hashes those,
 * with collision detection) and not for anything that has to resist an
 * attacker.
 */
#ifndef PIFS_SHA1_H
#define PIFS_SHA1_H

#include <stddef.h>

#include <nettle/sha1.h>

struct pifs_sha1 {
	struct sha1_ctx ctx;
};

static inline void pifs_sha1_init(struct pifs_sha1 *c)
{
	sha1_init(&c->ctx);
}

static inline void pifs_sha1_update(struct pifs_sha1 *c, const void *data,
				    size_t len)
{
	sha1_update(&c->ctx, len, data);
}

static inline void pifs_sha1_final(struct pifs_sha1 *c, unsigned char out[20])
{
	sha1_digest(&c->ctx, SHA1_DIGEST_SIZE, out);
}

#endif
