/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sha1.h - plain SHA-1 (FIPS 180-4), for the checksums of the packs and
 * pack indexes the snapshot writes itself.  Not for object ids (libgit2
 * hashes those, with collision detection) and not for anything that has
 * to resist an attacker.
 */
#ifndef PIFS_SHA1_H
#define PIFS_SHA1_H

#include <stddef.h>
#include <stdint.h>

struct pifs_sha1 {
	uint32_t h[5];
	uint64_t len; /* bytes so far */
	unsigned char buf[64];
};

void pifs_sha1_init(struct pifs_sha1 *c);
void pifs_sha1_update(struct pifs_sha1 *c, const void *data, size_t len);
void pifs_sha1_final(struct pifs_sha1 *c, unsigned char out[20]);

#endif
