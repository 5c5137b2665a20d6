/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * image.h - importing a Raspberry Pi OS disk image file (.img, .img.xz,
 * .img.gz) as a golden tree, with no loop device and nothing mounted.
 *
 * The input is read once, front to back, as a stream (a compressed image
 * is never decompressed to a full-size file); the format is told by its
 * magic bytes, not its name.  The partition table and the file system of
 * each partition are identified with libblkid; the ext4 root is read with
 * libext2fs and the FAT boot partition with mtools (mcopy), which becomes
 * boot/firmware/ in the tree.  Design and trade-offs: image/import.c.
 *
 * Errors are one line in errbuf naming the image ("image 'x.img.xz' is
 * truncated", "... is corrupt: ...", "... has no partition table",
 * "partition 3 of image '...' is swap, not FAT or ext4", "not enough space
 * ..."), with -errno returned; a failed import removes everything it
 * created.
 */
#ifndef PIFS_IMAGE_H
#define PIFS_IMAGE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

enum pifs_image_format {
	PIFS_IMAGE_RAW, /* anything else: read as the disk itself */
	PIFS_IMAGE_XZ,	/* FD 37 7A 58 5A 00 */
	PIFS_IMAGE_GZ,	/* 1F 8B 08 */
};

/* The format the first len bytes of a file announce. */
enum pifs_image_format pifs_image_format_detect(const void *buf, size_t len);
const char *pifs_image_format_name(enum pifs_image_format f);

/* ---- the streamed reader ---- */

/* A forward-only reader of the decompressed image.  Errors (-EIO corrupt,
 * -ENODATA truncated compressed stream, -errno from read) leave a message
 * in pifs_image_reader_error(). */
struct pifs_image_reader;
int pifs_image_reader_open(struct pifs_image_reader **out, const char *path);
/* Up to len bytes; 0 only at the end of the image. */
ssize_t pifs_image_reader_read(struct pifs_image_reader *r, void *buf,
			       size_t len);
/* Advance by n bytes (seek for a raw image); -ENODATA when it ends first. */
int pifs_image_reader_skip(struct pifs_image_reader *r, uint64_t n);
uint64_t pifs_image_reader_pos(const struct pifs_image_reader *r);
/* Bytes of the file consumed so far and its size (for progress). */
uint64_t pifs_image_reader_consumed(const struct pifs_image_reader *r);
uint64_t pifs_image_reader_file_size(const struct pifs_image_reader *r);
enum pifs_image_format
pifs_image_reader_format(const struct pifs_image_reader *r);
const char *pifs_image_reader_error(const struct pifs_image_reader *r);
void pifs_image_reader_free(struct pifs_image_reader *r);

/* ---- layout (what the probe found) ---- */

struct pifs_image_part {
	int partno;	    /* 1-based, as the partition table numbers it */
	uint64_t off, size; /* bytes */
	char fstype[16];    /* blkid TYPE ("vfat", "ext4", ...) or "" */
};

struct pifs_image_layout {
	char table[8]; /* "dos" or "gpt" */
	struct pifs_image_part boot, root;
	uint64_t end; /* end of the last partition (bytes) */
	unsigned root_block_size;
	uint64_t root_used;   /* bytes in use in the ext4 file system */
	uint64_t root_inodes; /* inodes in use */
	uint64_t boot_used;   /* bytes in use in the FAT (or its size) */
};

/* Probe the image: partition table, file systems, sizes.  Reads only the
 * first part of the image (up to the ext4 superblock). */
int pifs_image_probe(const char *path, struct pifs_image_layout *lay,
		     char *errbuf, size_t errlen);

/* Bytes and inodes a store needs free to import the image. */
void pifs_image_space_needed(const struct pifs_image_layout *lay, int can_punch,
			     uint64_t *bytes, uint64_t *inodes);

/* ---- content digests computed while importing ---- */

/* Map (st_dev, st_ino) of a written golden file -> its content digest, for
 * pifs_manifest_build_known. */
struct pifs_image_digests;
int pifs_image_digest_known(const struct stat *st, char digest[33],
			    void *digests);
void pifs_image_digests_free(struct pifs_image_digests *d);

/* ---- import ---- */

struct pifs_image_opts {
	int bar_fd; /* a terminal for the progress bar, or -1 */
	int warn; /* log warnings (pifs_warn) */
	volatile sig_atomic_t *cancel; /* set by a signal handler: stop */
};

/* Import the image at path into ddir/dname (which must not exist), with
 * every attribute; a scratch file ".image-scratch" is used in ddir and
 * removed.  Free space in ddir's file system is checked before anything
 * is written.  *digests gets the content digests of the files written
 * (free with pifs_image_digests_free).  On failure ddir/dname and the
 * scratch are removed. */
int pifs_image_import(const char *path, int ddir, const char *dname,
		      const struct pifs_image_opts *opts,
		      struct pifs_image_digests **digests, char *errbuf,
		      size_t errlen);

/* 1 if path names something pifs imports as an image (a regular file or
 * a block device), 0 if not (a directory, missing, ...). */
int pifs_image_is_image(const char *path);

#endif
