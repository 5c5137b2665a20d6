/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * internal.h - private to overlay/image/: the state of one import (struct
 * imp), the progress bar and the digest map it fills, and the functions
 * one file calls in another, grouped by the file that defines them.
 * Nothing outside overlay/image/ includes it: the interface is image.h.
 *
 * An import runs through the files in this order: probe.c reads the
 * start of the stream (reader.c) for the partition table and asks ext4.c
 * and fat.c how much of each partition is used; import.c checks the free
 * space and streams both partitions into the scratch; ext4.c copies the
 * root from it and fat.c the boot partition.  Every message goes into the
 * caller's errbuf, where the first (innermost) one wins (pifs_seterr).
 */
#ifndef PIFS_IMAGE_INTERNAL_H
#define PIFS_IMAGE_INTERNAL_H

#include <ext2fs/ext2fs.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "image.h"
#include "manifest.h"
#include "progress.h"
#include "util.h"

#define CHUNK ((size_t)1 << 20) /* stream and copy buffer */

/* The digests import.c fills (image.h hands them out). */

struct pifs_image_digests {
	struct pifs_kvmap map; /* (st_dev, st_ino) -> 32 hex digits */
};

/* One import (import.c), which ext4.c and fat.c carry on. */
struct imp {
	const char *path; /* the image, for messages */
	const struct pifs_image_opts *opts;
	struct pifs_image_layout lay;
	int ddir;    /* where the tree and scratch go */
	int scratch; /* the scratch file, O_RDWR */
	int can_punch;
	int droot; /* the tree root, O_PATH */
	ext2_filsys fs;
	char *buf;		 /* CHUNK bytes */
	struct pifs_kvmap links; /* ext4 inode -> first path (nlink > 1) */
	struct pifs_kvmap dirs;	 /* ext4 directory inodes on the walk */
	struct pifs_image_digests *digests;
	struct pifs_content_digest *cd;
	int made_tree; /* ddir/dname is ours to remove on failure */
	uint64_t files_done;
	unsigned long private_xattrs; /* dropped trusted.overlay/pifs */
	struct pifs_bar bar;
	char *errbuf;
	size_t errlen;
};

/* reader.c */
/* The message for err, a reader error, into errbuf: "image 'x' is
 * truncated", "... is corrupt: ...", "cannot read image ..."; returns
 * err. */
int image_reader_error(struct pifs_image_reader *r, const char *path, int err,
		       char *errbuf, size_t errlen);
/* Why pifs_image_reader_open failed with err: the reader's message, or
 * strerror(-err) when it left none (r may be NULL). */
const char *image_reader_open_error(const struct pifs_image_reader *r, int err);

/* probe.c */
/* qsort order of struct pifs_image_part: by offset. */
int image_part_cmp(const void *a, const void *b);

/* ext4.c */
/* Read the superblock of the ext4 file system at fd/lay->root.off into
 * lay (block size, bytes and inodes used); -EINVAL, with the message,
 * for what pifs cannot read. */
int image_ext4_probe(int fd, const char *path, struct pifs_image_layout *lay,
		     char *errbuf, size_t errlen);
/* Copy the ext4 root from the scratch into im->ddir/dname. */
int image_ext4_import(struct imp *im, const char *dname);

/* fat.c */
/* Bytes in use in the FAT at fd/off, or part_size when unknown. */
uint64_t image_fat_used(int fd, uint64_t off, uint64_t part_size);
/* Copy the FAT boot partition from the scratch into boot/firmware/ of
 * the tree at im->droot. */
int image_fat_import(struct imp *im);

/* import.c */
/* 1, with the message, when the caller's cancel flag is set. */
int image_cancelled(struct imp *im);
/* "cannot WHAT 'REL' from image '...': ..." for err; returns err. */
int image_write_fail(struct imp *im, const char *what, const char *rel,
		     int err);

#endif
