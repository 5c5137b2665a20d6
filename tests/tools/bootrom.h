/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bootrom.h - what the boot-ROM simulator's parts share: bootrom.c (the
 * options, the per-model request tables and the boot sequence),
 * bootrom_dhcp.c (the DHCP exchange) and bootrom_tftp.c (the TFTP
 * requests).  Private to the bootrom test tool; see bootrom.c.
 */
#ifndef PIFS_TESTS_BOOTROM_H
#define PIFS_TESTS_BOOTROM_H

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_NET	1
#define EXIT_USAGE	2
#define EXIT_NO_OFFER	3
#define EXIT_NOT_FOUND	4

#define TFTP_RETRIES	5
#define TFTP_RETRY_MS	1000
#define PXE_MENU_TEXT	"Raspberry Pi Boot"
#define VENDOR_CLASS	"PXEClient:Arch:00000:UNDI:002001"

enum { OP_RRQ = 1, OP_DATA = 3, OP_ACK = 4, OP_ERROR = 5, OP_OACK = 6 };

enum model { PI3, PI4, PI5 };

struct model_info {
	const char *name, *fourcc;
	uint32_t rev; /* board revision in option 97 */
};
extern const struct model_info models[];

/* The command line (bootrom.c) */
struct bootrom_opt {
	const char *iface, *out, *logpath;
	enum model model;
	unsigned char mac[6];
	char serial[9];
	char prefix[40]; /* the TFTP directory, without the '/' */
	uint32_t serial_num;
	struct in_addr server; /* --server, or 0 */
	int timeout_s, interval_ms, tries, gap_ms, blksize, assign;
	unsigned ifindex;
	FILE *log;
};
extern struct bootrom_opt opt;

/* bootrom.c: one event line on stdout (and --log); die exits with code */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* bootrom.c: time, bounded by --timeout (deadline_ms) */
extern long long deadline_ms;
long long now_ms(void);
int left_ms(long long until_ms);
void sleep_ms(int ms);

/* bootrom_dhcp.c */
struct offer {
	int type; /* DHCP message type: 2 OFFER, 5 ACK, 6 NAK */
	struct in_addr yiaddr, siaddr, server_id, netmask;
	char opt66[256];
	char menu[256]; /* "" when option 43 has no "Raspberry Pi Boot" */
};

/* What one DHCP exchange gave: the address and the boot menu, from one
 * OFFER or from two (a LAN's DHCP server and a proxy). */
struct lease {
	struct offer addr, boot;
	int separate;
};
int dhcp_lease(struct lease *l);
void print_lease(const struct lease *l);
void assign_address(struct in_addr addr, struct in_addr mask);

/* bootrom_tftp.c */
enum kind {
	PLAIN, /* RFC 1350, 512-byte blocks: the ROM */
	GET,   /* tsize + blksize, whole file */
	PROBE, /* tsize + blksize, abort after the first block */
};

long long tftp_fetch(struct in_addr from, struct in_addr server,
		     const char *path, enum kind kind);

#endif
