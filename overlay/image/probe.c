/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * probe.c - what an image holds, found before anything is written: the
 * partition table and each partition's file system type (libblkid, on a
 * memfd holding the first MiB of the image and the first 64 KiB of each
 * partition, captured as the stream passes them), the refusals (no
 * table, overlapping or too many partitions, not exactly one FAT and one
 * ext4 partition, a raw image shorter than its partitions), the sizes the
 * space check needs (the ext4 superblock read by ext4.c, the FSInfo
 * sector by fat.c) and the space an import needs.
 */
#include "config.h"

#include <blkid.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "image.h"
#include "safeio.h"
#include "internal.h"

#define PROBE_PREFIX ((size_t)1 << 20)	/* partition table area */
#define PART_HEAD    ((size_t)64 << 10) /* start of each partition */
#define PROBE_SIZE   ((off_t)1 << 40)	/* apparent size of the probe memfd */

/* Copy the next len bytes of the stream to fd at the stream offset. */
static int capture(struct pifs_image_reader *r, int fd, size_t len,
		   int *short_read)
{
	char *buf = malloc(len ? len : 1);
	uint64_t off = pifs_image_reader_pos(r);
	size_t got = 0;
	ssize_t n;
	int ret = 0;

	*short_read = 0;
	if (!buf)
		return -ENOMEM;
	while (got < len) {
		n = pifs_image_reader_read(r, buf + got, len - got);
		if (n < 0) {
			ret = (int)n;
			goto out;
		}
		if (n == 0) {
			*short_read = 1;
			break;
		}
		got += (size_t)n;
	}
	ret = pifs_pwrite_all(fd, buf, got, (off_t)off);
out:
	free(buf);
	return ret;
}

int image_part_cmp(const void *a, const void *b)
{
	const struct pifs_image_part *pa = a, *pb = b;

	return pa->off < pb->off ? -1 : pa->off > pb->off;
}

/* The file system type blkid finds in fd at [off, off+size), into type. */
static int probe_fstype(int fd, uint64_t off, uint64_t size, char *type,
			size_t len)
{
	const char *v = NULL;
	blkid_probe pr;
	int ret;

	type[0] = '\0';
	pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)off,
				   (blkid_loff_t)size) < 0) {
		blkid_free_probe(pr);
		return -EIO;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 0);
	ret = blkid_do_safeprobe(pr);
	if (ret == 0 && blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0 &&
	    v)
		snprintf(type, len, "%s", v);
	else if (ret == -2)
		snprintf(type, len, "ambivalent");
	blkid_free_probe(pr);
	return 0;
}

static int is_ext(const char *t)
{
	return !strcmp(t, "ext2") || !strcmp(t, "ext3") || !strcmp(t, "ext4");
}

/* The probe on an open reader, with the memfd it fills. */
static int probe(struct pifs_image_reader *r, int mfd, const char *path,
		 struct pifs_image_layout *lay, char *errbuf, size_t errlen)
{
	struct pifs_image_part parts[16];
	blkid_probe pr = NULL;
	blkid_partlist ls;
	blkid_parttable tab;
	int nparts = 0, i, n, ret, short_read;
	const char *ttype;

	memset(lay, 0, sizeof(*lay));
	if (ftruncate(mfd, PROBE_SIZE) < 0)
		return -errno;
	ret = capture(r, mfd, PROBE_PREFIX, &short_read);
	if (ret < 0)
		return image_reader_error(r, path, ret, errbuf, errlen);

	pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	if (blkid_probe_set_device(pr, mfd, 0, 0) < 0) {
		ret = -EIO;
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 0);
	blkid_probe_enable_partitions(pr, 1);
	ls = blkid_probe_get_partitions(pr);
	tab = ls ? blkid_partlist_get_table(ls) : NULL;
	n = ls ? blkid_partlist_numof_partitions(ls) : 0;
	if (!tab || n <= 0) {
		pifs_seterr(errbuf, errlen,
			    "image '%s' has no partition table", path);
		ret = -EINVAL;
		goto out;
	}
	ttype = blkid_parttable_get_type(tab);
	snprintf(lay->table, sizeof(lay->table), "%s", ttype ? ttype : "?");
	for (i = 0; i < n; i++) {
		blkid_partition p = blkid_partlist_get_partition(ls, i);

		if (!p || blkid_partition_is_extended(p))
			continue;
		if (nparts == (int)(sizeof(parts) / sizeof(parts[0]))) {
			pifs_seterr(errbuf, errlen,
				    "image '%s' has too many partitions",
				    path);
			ret = -EINVAL;
			goto out;
		}
		memset(&parts[nparts], 0, sizeof(parts[0]));
		parts[nparts].partno = blkid_partition_get_partno(p);
		parts[nparts].off =
		    (uint64_t)blkid_partition_get_start(p) * 512;
		parts[nparts].size =
		    (uint64_t)blkid_partition_get_size(p) * 512;
		if (!parts[nparts].size)
			continue;
		nparts++;
	}
	if (!nparts) {
		pifs_seterr(errbuf, errlen,
			    "image '%s' has no partition table", path);
		ret = -EINVAL;
		goto out;
	}
	qsort(parts, (size_t)nparts, sizeof(parts[0]), image_part_cmp);
	for (i = 0; i < nparts; i++) {
		uint64_t end = parts[i].off + parts[i].size;

		if (i && parts[i].off < parts[i - 1].off + parts[i - 1].size) {
			pifs_seterr(
			    errbuf, errlen,
			    "image '%s' is corrupt: partitions %d and %d "
			    "overlap",
			    path, parts[i - 1].partno, parts[i].partno);
			ret = -EINVAL;
			goto out;
		}
		if (end > lay->end)
			lay->end = end;
	}
	if (pifs_image_reader_format(r) == PIFS_IMAGE_RAW &&
	    lay->end > pifs_image_reader_file_size(r)) {
		pifs_seterr(
		    errbuf, errlen,
		    "image '%s' is truncated: its partitions end at byte "
		    "%" PRIu64 ", the file at byte %" PRIu64,
		    path, lay->end, pifs_image_reader_file_size(r));
		ret = -EINVAL;
		goto out;
	}

	/* the start of each partition, for blkid and the ext4 superblock */
	for (i = 0; i < nparts; i++) {
		uint64_t pos = pifs_image_reader_pos(r);
		size_t want = parts[i].size < PART_HEAD ? (size_t)parts[i].size
							: PART_HEAD;

		if (pos < parts[i].off) {
			ret = pifs_image_reader_skip(r, parts[i].off - pos);
			if (ret < 0) {
				image_reader_error(r, path, ret, errbuf,
						   errlen);
				goto out;
			}
		} else if (pos > parts[i].off) {
			/* inside the prefix already captured */
			uint64_t have = pos - parts[i].off;

			want = have >= want ? 0 : want - (size_t)have;
		}
		ret = capture(r, mfd, want, &short_read);
		if (ret == 0 && short_read)
			ret = -ENODATA;
		if (ret < 0) {
			image_reader_error(r, path, ret, errbuf, errlen);
			goto out;
		}
		ret = probe_fstype(mfd, parts[i].off, parts[i].size,
				   parts[i].fstype, sizeof(parts[i].fstype));
		if (ret < 0)
			goto out;
		if (!strcmp(parts[i].fstype, "vfat")) {
			if (lay->boot.partno) {
				pifs_seterr(errbuf, errlen,
					    "image '%s' has more than one FAT "
					    "partition (%d and %d)",
					    path, lay->boot.partno,
					    parts[i].partno);
				ret = -EINVAL;
				goto out;
			}
			lay->boot = parts[i];
		} else if (is_ext(parts[i].fstype)) {
			if (lay->root.partno) {
				pifs_seterr(
				    errbuf, errlen,
				    "image '%s' has more than one ext4 "
				    "partition (%d and %d)",
				    path, lay->root.partno, parts[i].partno);
				ret = -EINVAL;
				goto out;
			}
			lay->root = parts[i];
		} else if (parts[i].fstype[0]) {
			pifs_seterr(
			    errbuf, errlen,
			    "partition %d of image '%s' is %s, not FAT or "
			    "ext4",
			    parts[i].partno, path, parts[i].fstype);
			ret = -EINVAL;
			goto out;
		} else {
			pifs_seterr(
			    errbuf, errlen,
			    "partition %d of image '%s' has no file system "
			    "pifs can read (not FAT or ext4)",
			    parts[i].partno, path);
			ret = -EINVAL;
			goto out;
		}
	}
	if (!lay->root.partno) {
		pifs_seterr(errbuf, errlen,
			    "image '%s' has no ext4 root partition", path);
		ret = -EINVAL;
		goto out;
	}
	if (!lay->boot.partno) {
		pifs_seterr(errbuf, errlen,
			    "image '%s' has no FAT boot partition", path);
		ret = -EINVAL;
		goto out;
	}
	ret = image_ext4_probe(mfd, path, lay, errbuf, errlen);
	if (ret < 0)
		goto out;
	lay->boot_used = image_fat_used(mfd, lay->boot.off, lay->boot.size);
	if (lay->boot_used > lay->boot.size)
		lay->boot_used = lay->boot.size;
	ret = 0;
out:
	blkid_free_probe(pr);
	return ret;
}

int pifs_image_probe(const char *path, struct pifs_image_layout *lay,
		     char *errbuf, size_t errlen)
{
	struct pifs_image_reader *r = NULL;
	int mfd, ret;

	pifs_errclear(errbuf, errlen);
	ret = pifs_image_reader_open(&r, path);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot open image '%s': %s", path,
			    image_reader_open_error(r, ret));
		pifs_image_reader_free(r);
		return ret;
	}
	mfd = memfd_create("pifs-probe", MFD_CLOEXEC);
	if (mfd < 0) {
		ret = -errno;
		pifs_seterr(errbuf, errlen, "cannot probe image '%s': %s",
			    path, strerror(-ret));
	} else {
		ret = probe(r, mfd, path, lay, errbuf, errlen);
		if (ret < 0)
			pifs_seterr(errbuf, errlen,
				    "cannot probe image '%s': %s", path,
				    strerror(-ret));
		close(mfd);
	}
	pifs_image_reader_free(r);
	return ret;
}

void pifs_image_space_needed(const struct pifs_image_layout *lay, int can_punch,
			     uint64_t *bytes, uint64_t *inodes)
{
	/* The golden holds the ext4 data and the boot files; the scratch
	 * holds what is not yet copied (all of it, again, when holes cannot
	 * be punched) and the metadata until the end; plus directories and
	 * inodes of the store's own file system: 2% and 64 MiB. */
	uint64_t data = lay->root_used + lay->boot_used;

	*bytes = data + data / 50 + ((uint64_t)64 << 20);
	if (!can_punch)
		*bytes += lay->root_used;
	*bytes += lay->boot_used; /* the boot files: scratch and golden */
	*inodes = lay->root_inodes + 4096;
}
