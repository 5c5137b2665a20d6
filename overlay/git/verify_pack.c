/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * verify_pack.c - the byte-level check of the repository's packs, for
 * `pifs fsck`: what reading every object back cannot see.
 *
 * Reading an object inflates and hashes it, but a damaged pack can still
 * give every object back whole: inflate stops at the object's size, so
 * damage to the end of a zlib stream is never read, and in a long run of
 * equal bytes (a file's holes) other back-references decode to the same
 * output.  git fsck and git verify-pack catch those through the pack's
 * own checksum and the index's CRC-32 of each object's bytes; so does
 * this, in one sequential read of each pack (SHA-1 of all of it, CRC-32 of
 * each object's span), so a damaged pack is found before it is copied to
 * a backup or a second master.  One line per problem, naming the file and
 * the object.
 *
 * Layout (git's pack-format.txt): a pack is "PACK", version 2, the object
 * count, the objects, then the SHA-1 of everything before it.  Its v2
 * index is a magic and version, a 256-entry fan-out, the sorted object
 * ids, their CRC-32s, their 31-bit offsets (the high bit naming an entry
 * of the 64-bit table that follows), the pack's checksum and the SHA-1 of
 * the index before it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"
#include "safeio.h"
#include "sha1.h"
#include "store.h"

#define PACK_DIR PIFS_GIT_DIR "/objects/pack"

struct span {
	uint64_t off;
	uint32_t crc; /* as the index records it */
	uint32_t pos; /* in the index's sorted id table */
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

struct idx {
	unsigned char *p;
	size_t len;
	uint32_t n;
	struct span *spans; /* by offset */
	const unsigned char *packsum;
};

static void idx_free(struct idx *x)
{
	free(x->p);
	free(x->spans);
}

static int read_file(int dfd, const char *name, unsigned char **out,
		     size_t *len)
{
	struct stat sb;
	unsigned char *p;
	size_t got = 0;
	ssize_t r;
	int fd, err = 0;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		err = S_ISREG(sb.st_mode) ? -errno : -EINVAL;
		close(fd);
		return err;
	}
	p = malloc(sb.st_size ? (size_t)sb.st_size : 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)sb.st_size) {
		r = read(fd, p + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	if (err) {
		free(p);
		return err;
	}
	*out = p;
	*len = got;
	return 0;
}

/* Parse and check an index; problems are printed (return 1), -errno only
 * for what stops the check itself. */
static int idx_load(int dfd, const char *name, struct idx *x, FILE *out)
{
	static const unsigned char magic[8] = {0xff, 't', 'O', 'c', 0, 0, 0, 2};
	unsigned char sum[20];
	struct pifs_sha1 sha;
	const unsigned char *crc, *off, *big;
	size_t need, nbig = 0;
	uint32_t i, prev = 0;
	int ret;

	memset(x, 0, sizeof(*x));
	ret = read_file(dfd, name, &x->p, &x->len);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0) {
		fprintf(out, "pack index '%s': cannot read it: %s\n", name,
			strerror(-ret));
		return 1;
	}
	if (x->len < 8 + 1024 + 40 || memcmp(x->p, magic, 8)) {
		fprintf(out, "pack index '%s': not a version 2 pack index\n",
			name);
		return 1;
	}
	pifs_sha1_init(&sha);
	pifs_sha1_update(&sha, x->p, x->len - 20);
	pifs_sha1_final(&sha, sum);
	if (memcmp(sum, x->p + x->len - 20, 20)) {
		fprintf(out,
			"pack index '%s': its checksum does not match its "
			"contents (the file is damaged)\n",
			name);
		return 1;
	}
	for (i = 0; i < 256; i++) {
		uint32_t f = pifs_be32(x->p + 8 + 4 * i);

		if (f < prev) {
			fprintf(out,
				"pack index '%s': its fan-out table is "
				"not sorted\n",
				name);
			return 1;
		}
		prev = f;
	}
	x->n = prev;
	need = 8 + 1024 + (size_t)x->n * 28 + 40;
	if (x->len < need) {
		fprintf(out, "pack index '%s': too short for %u objects\n",
			name, x->n);
		return 1;
	}
	crc = x->p + 8 + 1024 + (size_t)x->n * 20;
	off = crc + (size_t)x->n * 4;
	big = off + (size_t)x->n * 4;
	x->spans = calloc(x->n ? x->n : 1, sizeof(*x->spans));
	if (!x->spans)
		return -ENOMEM;
	for (i = 0; i < x->n; i++) {
		uint32_t o = pifs_be32(off + 4 * (size_t)i);

		x->spans[i].pos = i;
		x->spans[i].crc = pifs_be32(crc + 4 * (size_t)i);
		if (o & 0x80000000u) {
			size_t k = o & 0x7fffffffu;

			if (big + 8 * (k + 1) + 40 > x->p + x->len) {
				fprintf(out,
					"pack index '%s': a large offset "
					"is out of its table\n",
					name);
				return 1;
			}
			x->spans[i].off = (uint64_t)pifs_be32(big + 8 * k) << 32 |
					  pifs_be32(big + 8 * k + 4);
			if (k + 1 > nbig)
				nbig = k + 1;
		} else {
			x->spans[i].off = o;
		}
	}
	if (need + 8 * nbig != x->len) {
		fprintf(out,
			"pack index '%s': %zu bytes, not the %zu its %u "
			"objects take\n",
			name, x->len, need + 8 * nbig, x->n);
		return 1;
	}
	x->packsum = x->p + x->len - 40;
	qsort(x->spans, x->n, sizeof(*x->spans), span_cmp);
	return 0;
}

static void oid_hex(const struct idx *x, uint32_t pos, char hex[41])
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *id = x->p + 8 + 1024 + (size_t)pos * 20;
	int i;

	for (i = 0; i < 20; i++) {
		hex[2 * i] = digits[id[i] >> 4];
		hex[2 * i + 1] = digits[id[i] & 15];
	}
	hex[40] = '\0';
}

/* One pass over the pack: its checksum, each object's CRC-32 against the
 * index.  Returns the number of problems printed, or -errno. */
static int pack_check(int dfd, const char *name, const struct idx *x, FILE *out)
{
	unsigned char *buf, hdr[12], sum[20], trailer[20];
	struct pifs_sha1 sha;
	struct stat sb;
	uint64_t pos = 0, end;
	uint32_t k = 0, crc = 0;
	size_t have = 0, bad_crc = 0;
	char hex[41];
	ssize_t r;
	int fd, problems = 0;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		fprintf(out, "pack '%s': cannot read it: %s\n", name,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	end = (uint64_t)sb.st_size;
	if (!S_ISREG(sb.st_mode) || end < 32) {
		fprintf(out, "pack '%s': not a pack (%s)\n", name,
			S_ISREG(sb.st_mode) ? "too short" : "not a file");
		close(fd);
		return 1;
	}
	end -= 20;
	if (pread(fd, hdr, 12, 0) != 12 || memcmp(hdr, "PACK", 4) ||
	    pifs_be32(hdr + 4) != 2) {
		fprintf(out, "pack '%s': no version 2 pack header\n", name);
		close(fd);
		return 1;
	}
	if (pifs_be32(hdr + 8) != x->n) {
		fprintf(out, "pack '%s': holds %u objects, its index %u\n",
			name, pifs_be32(hdr + 8), x->n);
		problems++;
	}
	if (x->n && (x->spans[0].off < 12 || x->spans[x->n - 1].off >= end)) {
		fprintf(out,
			"pack '%s': its index places objects outside "
			"it\n",
			name);
		close(fd);
		return problems + 1;
	}
	buf = malloc(1 << 20);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	pifs_sha1_init(&sha);
	while (pos < end) {
		size_t want = end - pos < (1 << 20) ? (size_t)(end - pos)
						    : (size_t)1 << 20;
		size_t i = 0;

		r = pread(fd, buf, want, (off_t)pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(out, "pack '%s': cannot read it at %llu: %s\n",
				name, (unsigned long long)pos,
				r < 0 ? strerror(errno) : "unexpected end");
			free(buf);
			close(fd);
			return problems + 1;
		}
		pifs_sha1_update(&sha, buf, (size_t)r);
		/* the CRC-32 of each object's bytes, up to the next one */
		while (i < (size_t)r) {
			uint64_t at = pos + i, stop;
			size_t n;

			if (k < x->n && at == x->spans[k].off) {
				if (have) { /* close the previous object */
					if (crc != x->spans[k - 1].crc) {
						if (!bad_crc++) {
							oid_hex(
							    x,
							    x->spans[k - 1].pos,
							    hex);
							fprintf(
							    out,
							    "pack '%s': object "
							    "%s at offset %llu "
							    "does not match "
							    "its CRC-32 in the "
							    "index (the pack "
							    "is damaged)\n",
							    name, hex,
							    (unsigned long long)
								x->spans[k - 1]
								    .off);
						}
					}
				}
				crc = (uint32_t)crc32(0, NULL, 0);
				have = 1;
				k++;
			}
			stop = k < x->n ? x->spans[k].off : end;
			n = (size_t)((stop - at) < (uint64_t)r - i
					 ? stop - at
					 : (uint64_t)r - i);
			if (have)
				crc = (uint32_t)crc32(crc, buf + i, (uInt)n);
			i += n;
		}
		pos += (uint64_t)r;
	}
	if (have && crc != x->spans[k - 1].crc && !bad_crc++) {
		oid_hex(x, x->spans[k - 1].pos, hex);
		fprintf(out,
			"pack '%s': object %s at offset %llu does not match "
			"its CRC-32 in the index (the pack is damaged)\n",
			name, hex, (unsigned long long)x->spans[k - 1].off);
	}
	free(buf);
	if (bad_crc > 1)
		fprintf(out,
			"pack '%s': %zu more objects do not match their "
			"CRC-32\n",
			name, bad_crc - 1);
	problems += bad_crc ? 1 : 0;
	pifs_sha1_final(&sha, sum);
	if (pread(fd, trailer, 20, (off_t)end) != 20 ||
	    memcmp(sum, trailer, 20)) {
		fprintf(out,
			"pack '%s': its checksum does not match its "
			"contents (the pack is damaged)\n",
			name);
		problems++;
	} else if (memcmp(sum, x->packsum, 20)) {
		fprintf(out,
			"pack '%s': its index was written for another "
			"pack\n",
			name);
		problems++;
	}
	close(fd);
	return problems;
}

int pifs_git_verify_packs(struct pifs_store *st, FILE *out)
{
	struct dirent *de;
	int dfd, fd, ret, problems = 0;
	DIR *dir;

	dfd = pifs_openat_beneath(st->fd, PACK_DIR, O_RDONLY | O_DIRECTORY, 0);
	if (dfd == -ENOENT)
		return 0; /* no snapshot yet */
	if (dfd < 0) {
		fprintf(out, "cannot open '%s/" PACK_DIR "': %s\n", st->path,
			strerror(-dfd));
		return 1;
	}
	fd = dup(dfd);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		close(dfd);
		return ret;
	}
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char pack[NAME_MAX + 1];
		struct idx x;
		struct stat sb;

		if (len < 5 || strncmp(de->d_name, "pack-", 5))
			continue;
		if (len > 5 && !strcmp(de->d_name + len - 5, ".pack")) {
			/* a pack without its index: git never reads it */
			memcpy(pack, de->d_name, len - 5);
			strcpy(pack + len - 5, ".idx");
			if (fstatat(dfd, pack, &sb, AT_SYMLINK_NOFOLLOW) < 0)
				fprintf(out,
					"note: pack '%s' has no index; no "
					"snapshot can use it\n",
					de->d_name);
			continue;
		}
		if (len <= 4 || strcmp(de->d_name + len - 4, ".idx") ||
		    len - 4 + 5 > NAME_MAX)
			continue;
		ret = idx_load(dfd, de->d_name, &x, out);
		if (ret == 0) {
			memcpy(pack, de->d_name, len - 4);
			strcpy(pack + len - 4, ".pack");
			ret = pack_check(dfd, pack, &x, out);
		}
		idx_free(&x);
		if (ret < 0) {
			problems = ret;
			break;
		}
		problems += ret;
	}
	closedir(dir);
	close(dfd);
	return problems;
}
