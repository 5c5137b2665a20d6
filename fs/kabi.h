/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kabi.h - the parts of the FUSE kernel ABI (include/uapi/linux/fuse.h)
 * pifsd speaks itself: passthrough (7.40, passthrough.c) and FUSE over
 * io_uring (6.14, uring.c).  Both are newer than bookworm's headers and
 * libfuse 3.14; stable kernel ABI, so spelled out here.
 */
#ifndef PIFS_KABI_H
#define PIFS_KABI_H

#include <stdint.h>
#include <sys/ioctl.h>

/* ---- INIT, requests, replies ---- */
#define K_FUSE_WRITE		    16
#define K_FUSE_INIT		    26
#define K_FUSE_MAX_PAGES	    (1u << 22)
#define K_FUSE_INIT_EXT		    (1u << 30)
#define K_FUSE_PASSTHROUGH_FLAGS2   (1u << (37 - 32))
#define K_FUSE_NO_EXPORT_FLAGS2     (1u << (38 - 32))
#define K_FUSE_OVER_IO_URING_FLAGS2 (1u << (41 - 32))

struct k_in_header {
	uint32_t len, opcode;
	uint64_t unique, nodeid;
	uint32_t uid, gid, pid;
	uint16_t total_extlen, padding;
};

struct k_init_in {
	uint32_t major, minor, max_readahead, flags, flags2;
};

struct k_out_header {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};

struct k_init_out {
	uint32_t major, minor, max_readahead, flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2, max_stack_depth;
	uint32_t unused[6];
};

/* ---- passthrough ---- */
#define K_FOPEN_DIRECT_IO   (1u << 0)
#define K_FOPEN_PASSTHROUGH (1u << 7)

struct k_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

struct k_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define K_DEV_IOC_BACKING_OPEN	_IOW(229, 1, struct k_backing_map)
#define K_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

/* ---- FUSE over io_uring ---- */
#define K_CMD_REGISTER	       1
#define K_CMD_COMMIT_AND_FETCH 2
#define K_URING_HDR_SZ	       128
#define K_URING_OP_SZ	       128

struct k_ent_in_out {
	uint64_t flags, commit_id;
	uint32_t payload_sz, padding;
	uint64_t reserved;
};

struct k_req_header {
	char in_out[K_URING_HDR_SZ];
	char op_in[K_URING_OP_SZ];
	struct k_ent_in_out ent;
};

struct k_cmd_req {
	uint64_t flags, commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

#endif
