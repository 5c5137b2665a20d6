/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bootrom.c - a Raspberry Pi network-boot simulator for the boot-path
 * tests: the DHCP exchange and the TFTP requests of a Pi 3B+ (boot ROM,
 * bootcode.bin, start.elf: exactly the order of the real 3B+ boot in the
 * seed's syslog), a Pi 4 and a Pi 5 (EEPROM bootloader), including the
 * firmware's size probes that it aborts with TFTP ERROR 0 "Early
 * terminate".
 *
 *   bootrom --iface IF --mac MAC --serial HEX8 --out DIR [--model M]
 *           [--tftp-prefix DIR] [--server IP] [--log FILE] [--timeout SEC]
 *           [--interval MS] [--tries N] [--gap MS] [--blksize N]
 *           [--assign-address]
 *
 * --model pi3b+ (default), pi4 or pi5.  --tftp-prefix (Pi 4/5 only) is
 * the directory the EEPROM asks for: its TFTP_PREFIX is 0 (the serial,
 * the default here too), 2 (the MAC in dash form, dc-a6-32-01-36-c2) or 1
 * (TFTP_PREFIX_STR, at most 32 characters); the simulator takes the
 * resulting name.
 *
 * It prints one line per event: "offer yiaddr=... siaddr=... server-id=...
 * option66=... menu=\"...\"" (one server gave both the address and the
 * boot menu), or "address-offer yiaddr=... server-id=..." and
 * "boot-offer siaddr=... server-id=... option66=... menu=\"...\"" (two
 * servers: a proxy DHCP), "ack yiaddr=... server-id=..." (Pi 4/5),
 * "tftp-server IP", then per request "sent PATH BYTES", "not-found PATH"
 * or "probe PATH tsize=N", "fallback to the TFTP root", and "boot
 * complete" (also appended to --log FILE).  Received files are written to
 * DIR/PATH.  Exit: 0 the boot got as far as the kernel, 1 network/
 * protocol error or --timeout, 2 usage, 3 no usable OFFER (or no ACK), 4 a
 * file the firmware cannot do without was not found: Pi 3B+ bootcode.bin,
 * start.elf, kernel8.img; Pi 4 start4.elf, kernel8.img; Pi 5
 * bcm2712-rpi-5-b.dtb (its firmware needs a device tree for the board),
 * kernel_2712.img.
 *
 * What the boards do, and where each fact comes from (Raspberry Pi's
 * bootloader documentation: bcm2711_bootloader_config / eeprom-bootloader,
 * boot-net / bootmodes/net; rpi-eeprom release notes and issues; nobodd's
 * docs/explain-pi-netboot.rst; Tinkerbell's docs/technical/RASPBERRY_PI5.md;
 * packet captures and dnsmasq logs posted in public bug reports):
 *  - DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67 out of IF only
 *    (SO_BINDTODEVICE), chaddr MAC, broadcast flag clear, options in the
 *    order the captures show: 53=1, 55, 93=0 (x86 BIOS: what every model
 *    claims, rpi-eeprom #182), 94=1.2.1 (UNDI 2.1), 97 (client GUID, type
 *    0 then 16 bytes), 60 "PXEClient:Arch:00000:UNDI:002001".
 *    Pi 3B+: 55 = 43 60 67 128-135 66 1 3 and 97 = the serial repeated
 *    four times, little-endian (tcpdump in raspberrypi/firmware #1265, the
 *    echo in dnsmasq's proxy reply in #1605).  Pi 4/5: 55 = 1 3 43 60 66
 *    67 128-135 (dnsmasq's "requested options" in cmprovision #16) and 97
 *    = "RPi4" or "RPi5" (the fourcc 0x34695052 little-endian), the board
 *    revision (4 bytes, little-endian; here c03111 for a Pi 4B, d04170
 *    for a Pi 5), the MAC's last 4 bytes and the serial (little-endian)
 *    (DHCP_OPTION97 in the bootloader docs, the 2020-03-11 and 2023-10-30
 *    release notes "R,P,i,5 on Pi5", a dnsmasq proxy log of a Pi 4:
 *    00:52:50:69:34:11:31:a0:00:...).
 *    At most --tries (<= 5) DISCOVERs, --interval ms apart (ROM: 5000).
 *  - The replies are read from a packet socket on IF (the interface has no
 *    address yet; dnsmasq unicasts an OFFER to yiaddr/chaddr, a proxy
 *    broadcasts).  A board needs two things: an address (yiaddr) and an
 *    OFFER whose option 43 holds the PXE menu entry "Raspberry Pi Boot"
 *    (option 60 "PXEClient"); one server may give both, or a LAN's own DHCP
 *    server gives the address and a proxy DHCP (dnsmasq
 *    dhcp-range=NET,proxy) the menu.  The 3B+ documentation lists "receive
 *    DHCP reply, (optional) receive DHCP proxy reply"; an EEPROM boot log
 *    in rpi-eeprom #687 shows a Pi 5 taking the proxy's OFFER (53 54 60 97
 *    43, no address) and then the router's (yiaddr, 1, 3).  So the
 *    simulator waits, within one --interval, until it has both, takes the
 *    address and netmask from the address OFFER and the TFTP server from
 *    the menu OFFER; an OFFER with an address and no menu alone is not
 *    enough (the board retries, then exit 3).
 *  - The TFTP server, from the menu OFFER: Pi 3B+ option 66, else its
 *    server identifier (54): the ROM ignores siaddr (firmware #670); Pi 4/5
 *    option 66, else siaddr, else 54 (openSUSE's write-up of the EEPROM
 *    bootloader; TFTP_IP in the EEPROM would override all, not simulated).
 *  - The 3B+ ROM uses the OFFER as it is, no REQUEST/ACK (firmware #1699).
 *    The Pi 4/5 bootloader sends a DHCPREQUEST for the address (50) to the
 *    server that offered it (54), without option 60 (rpi-eeprom #87), and
 *    waits for its ACK (#687's log: "recv ACK"); a NAK starts over.
 *  - TFTP from yiaddr (with --assign-address it is put on IF first if IF
 *    does not have it; otherwise the test must have done so), each request
 *    from a new port.  ROM requests (bootcode.bin, bootsig.bin) are plain
 *    RFC 1350 512-byte transfers; the firmware's requests ask for
 *    "tsize 0" and "blksize N" (default 1468, the EEPROM's, #857), check
 *    that the received size equals the OACK's tsize, and a probe ACKs the
 *    OACK, takes the first block and sends ERROR 0 "Early terminate"
 *    (dnsmasq then logs "error 0 Early terminate received" and "failed
 *    sending").  A Pi 5 fails on a file over 65535 blocks (rpi-eeprom
 *    #720): the simulator stops there with exit 1.
 *  - The directory: the 3B+'s bootcode.bin probes <serial>/start.elf and
 *    falls back to the TFTP root without it.  A Pi 4 probes
 *    <prefix>/start4.elf, then <prefix>/start.elf, and drops the prefix
 *    when neither is there (TFTP_PREFIX in the bootloader docs; a Pi 4's
 *    dnsmasq log in a public netboot guide shows exactly that).  A Pi 5
 *    has no start*.elf (its firmware is in the EEPROM, nobodd's note): it
 *    keeps the prefix when config.txt and the device tree are there
 *    (Tinkerbell's notes), so it probes both.
 *  - The files after that, in the order of the tables below: the 3B+'s
 *    from the seed's syslog; the Pi 4's from that dnsmasq log of a real Pi
 *    4 (vl805.sig, pieeprom.sig, recover4.elf, recovery.elf absent,
 *    start4.elf, fixup4.dat, then start4.elf's requests as on the 3B+,
 *    bcm2711-rpi-4-b.dtb, armstub8-gic.bin absent) with Raspberry Pi OS's
 *    names (kernel8.img, initramfs8); the Pi 5's set from Tinkerbell's
 *    notes and the rpi-eeprom issues (config.txt, bcm2712-rpi-5-b.dtb,
 *    cmdline.txt, kernel_2712.img and initramfs_2712 as Raspberry Pi OS's
 *    auto_initramfs names them, overlays/vc4-kms-v3d-pi5.dtbo: what
 *    overlay_map makes of Raspberry Pi OS's dtoverlay=vc4-kms-v3d;
 *    pieeprom.sig, overlays/overlay_map.dtb and armstub8-2712.bin may be
 *    absent), in an order of ours: no captured Pi 5 trace was found.  The
 *    simulator does not read config.txt: the names are the defaults.
 *  - --gap ms between requests keeps the server's log in request order.
 *
 * Every loop is bounded: DHCP by --tries, each TFTP packet by 5
 * retransmissions 1 s apart, and everything by --timeout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

static const struct model_info {
	const char *name, *fourcc;
	uint32_t rev; /* board revision in option 97 */
} models[] = {
    [PI3] = {"pi3b+", NULL, 0x00a020d3},
    [PI4] = {"pi4", "RPi4", 0x00c03111},
    [PI5] = {"pi5", "RPi5", 0x00d04170},
};

static struct {
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
} opt = {.timeout_s = 120,
	 .interval_ms = 5000,
	 .tries = 5,
	 .blksize = 1468};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (opt.log) {
		va_start(ap, fmt);
		vfprintf(opt.log, fmt, ap);
		va_end(ap);
		fputc('\n', opt.log);
		fflush(opt.log);
	}
}

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bootrom: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (opt.log) {
		fputs("error: ", opt.log);
		va_start(ap, fmt);
		vfprintf(opt.log, fmt, ap);
		va_end(ap);
		fputc('\n', opt.log);
		fclose(opt.log);
	}
	exit(code);
}

/* ---- time ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long deadline_ms;

/* Milliseconds left until the earlier of until_ms and --timeout. */
static int left_ms(long long until_ms)
{
	long long now = now_ms(), end = until_ms;

	if (now >= deadline_ms)
		die(EXIT_NET, "no boot within --timeout %d s", opt.timeout_s);
	if (end > deadline_ms)
		end = deadline_ms;
	return end > now ? (int)(end - now) : 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- DHCP ---- */

struct bootp {
	uint8_t op, htype, hlen, hops;
	uint32_t xid;
	uint16_t secs, flags;
	uint32_t ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[16];
	char sname[64], file[128];
	uint8_t magic[4];
	uint8_t options[312];
} __attribute__((packed));

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

static const uint8_t cookie[4] = {99, 130, 83, 99};

static size_t put_opt(uint8_t *p, uint8_t code, const void *val, uint8_t len)
{
	p[0] = code;
	p[1] = len;
	memcpy(p + 2, val, len);
	return (size_t)len + 2;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* A DISCOVER (type 1) or, for the Pi 4/5, a REQUEST (type 3) for addr
 * from the server server_id.  Options as the captures show them (see the
 * top of the file). */
static size_t build_dhcp(struct bootp *b, uint32_t xid, uint8_t type,
			 const struct offer *req)
{
	static const uint8_t params3[] = {43,  60,  67,  128, 129, 130, 131,
					  132, 133, 134, 135, 66,  1,   3};
	static const uint8_t params4[] = {1,   3,   43,  60,  66,  67,  128,
					  129, 130, 131, 132, 133, 134, 135};
	const struct model_info *mi = &models[opt.model];
	uint8_t arch[2] = {0, 0}, ndi[3] = {1, 2, 1}, guid[17] = {0};
	uint8_t *p = b->options;
	size_t len;
	int i;

	memset(b, 0, sizeof(*b));
	b->op = 1;
	b->htype = 1;
	b->hlen = 6;
	b->xid = htonl(xid);
	memcpy(b->chaddr, opt.mac, 6);
	memcpy(b->magic, cookie, 4);
	/* option 97: type 0, then the Pi 3's serial x4 or the EEPROM's
	 * fourcc, board revision, MAC's last 4 bytes, serial */
	if (!mi->fourcc) {
		for (i = 0; i < 4; i++)
			put_le32(guid + 1 + 4 * i, opt.serial_num);
	} else {
		memcpy(guid + 1, mi->fourcc, 4);
		put_le32(guid + 5, mi->rev);
		memcpy(guid + 9, opt.mac + 2, 4);
		put_le32(guid + 13, opt.serial_num);
	}
	p += put_opt(p, 53, &type, 1);
	if (type == 3) {
		p += put_opt(p, 50, &req->yiaddr, 4);
		p += put_opt(p, 54, &req->server_id, 4);
	}
	if (opt.model == PI3)
		p += put_opt(p, 55, params3, sizeof(params3));
	else
		p += put_opt(p, 55, params4, sizeof(params4));
	p += put_opt(p, 93, arch, 2);
	p += put_opt(p, 94, ndi, 3);
	p += put_opt(p, 97, guid, 17);
	if (type == 1) /* the EEPROM's REQUEST has no option 60 */
		p += put_opt(p, 60, VENDOR_CLASS,
			     (uint8_t)strlen(VENDOR_CLASS));
	*p++ = 255;
	len = offsetof(struct bootp, options) + (size_t)(p - b->options);
	return len < 300 ? 300 : len; /* BOOTP minimum; b is zeroed */
}

/* Option 43's PXE sub-option 9 (boot menu): entries of type(2) len(1)
 * text.  Copies the first entry whose text is "Raspberry Pi Boot",
 * optionally followed by spaces (a Pi 3B needs three). */
static int find_menu(const uint8_t *v, size_t len, char *menu, size_t mlen)
{
	size_t i = 0;

	while (i < len && v[i] != 255) {
		uint8_t code = v[i], l;

		if (code == 0) {
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + v[i + 1] > len)
			return 0;
		l = v[i + 1];
		if (code == 9) {
			size_t j = 0;
			const uint8_t *m = v + i + 2;

			while (j + 3 <= l && j + 3 + m[j + 2] <= l) {
				size_t tl = m[j + 2], k;
				const char *t = (const char *)m + j + 3;
				size_t base = strlen(PXE_MENU_TEXT);

				if (tl >= base &&
				    !memcmp(t, PXE_MENU_TEXT, base)) {
					for (k = base; k < tl && t[k] == ' ';
					     k++)
						;
					if (k == tl && tl < mlen) {
						memcpy(menu, t, tl);
						menu[tl] = '\0';
						return 1;
					}
				}
				j += 3 + tl;
			}
		}
		i += 2 + (size_t)l;
	}
	return 0;
}

/* Parse one IP datagram from the packet socket; 1 if it is a DHCP reply
 * to xid for our MAC (of->type says which). */
static int parse_reply(const uint8_t *pkt, size_t len, uint32_t xid,
		       struct offer *of)
{
	const struct bootp *b;
	size_t ihl, i, olen;
	const uint8_t *o;
	int vendor = 0, menu = 0;

	if (len < 20 || (pkt[0] >> 4) != 4 || pkt[9] != IPPROTO_UDP)
		return 0;
	ihl = (size_t)(pkt[0] & 0xf) * 4;
	if (ihl < 20 || len < ihl + 8)
		return 0;
	if ((pkt[ihl] << 8 | pkt[ihl + 1]) != 67 ||
	    (pkt[ihl + 2] << 8 | pkt[ihl + 3]) != 68)
		return 0;
	pkt += ihl + 8;
	len -= ihl + 8;
	if (len < offsetof(struct bootp, options))
		return 0;
	b = (const struct bootp *)pkt;
	if (b->op != 2 || ntohl(b->xid) != xid ||
	    memcmp(b->chaddr, opt.mac, 6) || memcmp(b->magic, cookie, 4))
		return 0;
	memset(of, 0, sizeof(*of));
	of->yiaddr.s_addr = b->yiaddr;
	of->siaddr.s_addr = b->siaddr;
	of->netmask.s_addr = htonl(0xffffff00);
	o = pkt + offsetof(struct bootp, options);
	olen = len - offsetof(struct bootp, options);
	for (i = 0; i < olen && o[i] != 255;) {
		uint8_t code = o[i], l;

		if (code == 0) {
			i++;
			continue;
		}
		if (i + 2 > olen || i + 2 + o[i + 1] > olen)
			return 0;
		l = o[i + 1];
		if (code == 53 && l == 1)
			of->type = o[i + 2];
		else if (code == 54 && l == 4)
			memcpy(&of->server_id, o + i + 2, 4);
		else if (code == 1 && l == 4)
			memcpy(&of->netmask, o + i + 2, 4);
		else if (code == 60)
			vendor = l >= 9 && !memcmp(o + i + 2, "PXEClient", 9);
		else if (code == 66) {
			memcpy(of->opt66, o + i + 2, l);
			of->opt66[l] = '\0';
		} else if (code == 43)
			menu = find_menu(o + i + 2, l, of->menu,
					 sizeof(of->menu));
		i += 2 + (size_t)l;
	}
	if (!vendor || !menu)
		of->menu[0] = '\0';
	return of->type != 0;
}

static int open_dhcp(int *ps)
{
	struct sockaddr_in me = {.sin_family = AF_INET,
				 .sin_port = htons(68)};
	struct sockaddr_ll ll = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(ETH_P_IP)};
	int us, one = 1;

	us = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	*ps = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (us < 0 || *ps < 0)
		die(EXIT_NET, "socket: %s", strerror(errno));
	ll.sll_ifindex = (int)opt.ifindex;
	if (setsockopt(us, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(us, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(us, SOL_SOCKET, SO_BINDTODEVICE, opt.iface,
		       (socklen_t)strlen(opt.iface)) < 0 ||
	    bind(us, (struct sockaddr *)&me, sizeof(me)) < 0)
		die(EXIT_NET, "dhcp socket on '%s': %s", opt.iface,
		    strerror(errno));
	if (bind(*ps, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		die(EXIT_NET, "packet socket on '%s': %s", opt.iface,
		    strerror(errno));
	return us;
}

static void send_dhcp(int us, uint32_t xid, uint8_t type,
		      const struct offer *req)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons(67),
				 .sin_addr.s_addr = INADDR_BROADCAST};
	struct bootp b;
	size_t len = build_dhcp(&b, xid, type, req);

	if (sendto(us, &b, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		die(EXIT_NET, "send DHCP%s: %s",
		    type == 1 ? "DISCOVER" : "REQUEST", strerror(errno));
}

/* The next reply to xid before until (ms), or 0 at the end of the
 * window. */
static int next_reply(int ps, uint32_t xid, long long until,
		      struct offer *of)
{
	for (;;) {
		struct pollfd pfd = {.fd = ps, .events = POLLIN};
		uint8_t pkt[2048];
		ssize_t n;
		int ms = left_ms(until);

		if (ms == 0 || poll(&pfd, 1, ms) <= 0)
			return 0;
		n = recv(ps, pkt, sizeof(pkt), 0);
		if (n > 0 && parse_reply(pkt, (size_t)n, xid, of))
			return 1;
	}
}

/* One try: the OFFERs of one DISCOVER until there is an address and a
 * boot menu, then (Pi 4/5) REQUEST and ACK.  0, or -EAGAIN. */
static int dhcp_try(int us, int ps, uint32_t xid, struct lease *l)
{
	long long until = now_ms() + opt.interval_ms;
	int have_addr = 0, have_boot = 0;
	struct offer of;

	memset(l, 0, sizeof(*l));
	send_dhcp(us, xid, 1, NULL);
	while (!(have_addr && have_boot) && next_reply(ps, xid, until, &of)) {
		if (of.type != 2)
			continue;
		if (!of.menu[0] && of.yiaddr.s_addr && !have_addr &&
		    !have_boot)
			say("address offer of %s without a \"" PXE_MENU_TEXT
			    "\" menu entry in option 43: waiting for a proxy "
			    "offer",
			    inet_ntoa(of.yiaddr));
		if (of.menu[0] && !have_boot) {
			l->boot = of;
			have_boot = 1;
		}
		if (of.yiaddr.s_addr && !have_addr) {
			l->addr = of;
			have_addr = 1;
		}
	}
	if (!have_addr || !have_boot) {
		if (have_boot)
			say("boot offer from %s but no address offer",
			    inet_ntoa(l->boot.server_id));
		return -EAGAIN;
	}
	l->separate = memcmp(&l->addr, &l->boot, sizeof(l->addr)) != 0;
	if (opt.model == PI3)
		return 0;
	send_dhcp(us, xid, 3, &l->addr);
	until = now_ms() + opt.interval_ms; /* the ACK gets a window too */
	while (next_reply(ps, xid, until, &of)) {
		if (of.server_id.s_addr != l->addr.server_id.s_addr)
			continue;
		if (of.type == 5 && of.yiaddr.s_addr == l->addr.yiaddr.s_addr)
			return 0;
		if (of.type == 6) {
			say("nak from %s", inet_ntoa(of.server_id));
			return -EAGAIN;
		}
	}
	say("no ack for %s", inet_ntoa(l->addr.yiaddr));
	return -EAGAIN;
}

/* DHCP until a usable lease (at most --tries, --interval apart).
 * Returns 0 or -ETIMEDOUT. */
static int dhcp_lease(struct lease *l)
{
	uint32_t xid = opt.serial_num ^ (uint32_t)getpid() ^
		       (uint32_t)now_ms();
	int us, ps, try, ret = -ETIMEDOUT;

	us = open_dhcp(&ps);
	for (try = 1; try <= opt.tries && ret; try++) {
		long long until = now_ms() + opt.interval_ms;

		if (dhcp_try(us, ps, ++xid, l) == 0)
			ret = 0;
		else if (try < opt.tries)
			sleep_ms(left_ms(until));
	}
	close(ps);
	close(us);
	return ret;
}

static void print_lease(const struct lease *l)
{
	char y[16], s[16], id[16], aid[16];

	inet_ntop(AF_INET, &l->addr.yiaddr, y, sizeof(y));
	inet_ntop(AF_INET, &l->addr.server_id, aid, sizeof(aid));
	inet_ntop(AF_INET, &l->boot.siaddr, s, sizeof(s));
	inet_ntop(AF_INET, &l->boot.server_id, id, sizeof(id));
	if (!l->separate) {
		say("offer yiaddr=%s siaddr=%s server-id=%s option66=%s "
		    "menu=\"%s\"",
		    y, s, id, l->boot.opt66[0] ? l->boot.opt66 : "-",
		    l->boot.menu);
	} else {
		say("address-offer yiaddr=%s server-id=%s", y, aid);
		say("boot-offer siaddr=%s server-id=%s option66=%s menu=\"%s\"",
		    s, id, l->boot.opt66[0] ? l->boot.opt66 : "-",
		    l->boot.menu);
	}
	if (opt.model != PI3)
		say("ack yiaddr=%s server-id=%s", y, aid);
}

/* Put addr/mask on the interface unless it is already there. */
static void assign_address(struct in_addr addr, struct in_addr mask)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		die(EXIT_NET, "socket: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", opt.iface);
	if (ioctl(s, SIOCGIFADDR, &ifr) == 0 &&
	    sin->sin_addr.s_addr == addr.s_addr) {
		close(s);
		return;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", opt.iface);
	sin->sin_family = AF_INET;
	sin->sin_addr = addr;
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		die(EXIT_NET, "cannot put %s on '%s': %s", inet_ntoa(addr),
		    opt.iface, strerror(errno));
	sin->sin_addr = mask;
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		die(EXIT_NET, "cannot set the netmask on '%s': %s", opt.iface,
		    strerror(errno));
	close(s);
}

/* ---- TFTP ---- */

enum kind {
	PLAIN, /* RFC 1350, 512-byte blocks: the ROM */
	GET,   /* tsize + blksize, whole file */
	PROBE, /* tsize + blksize, abort after the first block */
};

struct tftp {
	int fd;
	struct sockaddr_in server; /* port 69, then the server's TID */
	int have_tid;
	uint8_t last[600]; /* last packet sent, for retransmission */
	size_t last_len;
};

static void tftp_send(struct tftp *t, const void *buf, size_t len)
{
	if (len <= sizeof(t->last) && buf != t->last) {
		memcpy(t->last, buf, len);
		t->last_len = len;
	}
	if (sendto(t->fd, buf, len, 0, (struct sockaddr *)&t->server,
		   sizeof(t->server)) < 0)
		die(EXIT_NET, "tftp send to %s: %s",
		    inet_ntoa(t->server.sin_addr), strerror(errno));
}

static void tftp_ack(struct tftp *t, uint16_t block)
{
	uint8_t p[4] = {0, OP_ACK, (uint8_t)(block >> 8), (uint8_t)block};

	tftp_send(t, p, sizeof(p));
}

static void tftp_error(struct tftp *t, uint16_t code, const char *msg)
{
	uint8_t p[64] = {0, OP_ERROR, (uint8_t)(code >> 8), (uint8_t)code};
	size_t l = strlen(msg) + 1;

	memcpy(p + 4, msg, l);
	tftp_send(t, p, 4 + l);
}

/* Receive the next packet of this transfer, retransmitting the last one
 * sent at most TFTP_RETRIES times.  Returns its length. */
static size_t tftp_recv(struct tftp *t, uint8_t *buf, size_t size,
			const char *path)
{
	int tries = 0;

	for (;;) {
		struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
		long long until = now_ms() + TFTP_RETRY_MS;
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		int ms;
		ssize_t n;

		while ((ms = left_ms(until)) > 0) {
			if (poll(&pfd, 1, ms) > 0)
				break;
		}
		if (ms == 0) {
			if (++tries > TFTP_RETRIES)
				die(EXIT_NET, "tftp '%s': no answer from %s",
				    path, inet_ntoa(t->server.sin_addr));
			tftp_send(t, t->last, t->last_len);
			continue;
		}
		n = recvfrom(t->fd, buf, size, 0, (struct sockaddr *)&from,
			     &fl);
		if (n < 4 || from.sin_addr.s_addr != t->server.sin_addr.s_addr)
			continue;
		if (!t->have_tid) {
			t->server.sin_port = from.sin_port;
			t->have_tid = 1;
		} else if (from.sin_port != t->server.sin_port) {
			continue; /* another transfer's stray packet */
		}
		return (size_t)n;
	}
}

/* Parse an OACK's options. */
static void parse_oack(const uint8_t *p, size_t len, long long *tsize,
		       int *blksize, const char *path)
{
	const char *s = (const char *)p + 2, *end = (const char *)p + len;

	while (s < end) {
		const char *name = s, *val;

		val = memchr(s, '\0', (size_t)(end - s));
		if (!val || ++val >= end)
			die(EXIT_NET, "tftp '%s': malformed OACK", path);
		s = memchr(val, '\0', (size_t)(end - val));
		if (!s)
			die(EXIT_NET, "tftp '%s': malformed OACK", path);
		s++;
		if (!strcasecmp(name, "tsize"))
			*tsize = strtoll(val, NULL, 10);
		else if (!strcasecmp(name, "blksize")) {
			int b = atoi(val);

			if (b < 8 || b > opt.blksize)
				die(EXIT_NET, "tftp '%s': bad blksize %s",
				    path, val);
			*blksize = b;
		}
	}
}

/* mkdir -p the parents of out/path and open it for writing. */
static int open_out(const char *path)
{
	char full[PATH_MAX], *sl;
	int fd;

	snprintf(full, sizeof(full), "%s/%s", opt.out, path);
	for (sl = strchr(full + strlen(opt.out) + 1, '/'); sl;
	     sl = strchr(sl + 1, '/')) {
		*sl = '\0';
		if (mkdir(full, 0755) < 0 && errno != EEXIST)
			die(EXIT_NET, "mkdir '%s': %s", full, strerror(errno));
		*sl = '/';
	}
	fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(EXIT_NET, "cannot write '%s': %s", full, strerror(errno));
	return fd;
}

/* One request.  Returns the size received (GET/PLAIN), the OACK's tsize
 * (PROBE) or -ENOENT when the server says "file not found". */
static long long tftp_fetch(struct in_addr from, struct in_addr server,
			    const char *path, enum kind kind)
{
	struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr = from};
	struct tftp t = {.server = {.sin_family = AF_INET,
				    .sin_port = htons(69),
				    .sin_addr = server}};
	uint8_t rrq[512], *buf;
	long long tsize = -1, got = 0;
	int blksize = 512, out = -1;
	uint16_t want = 1;
	size_t n, len;

	t.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t.fd < 0 ||
	    setsockopt(t.fd, SOL_SOCKET, SO_BINDTODEVICE, opt.iface,
		       (socklen_t)strlen(opt.iface)) < 0 ||
	    bind(t.fd, (struct sockaddr *)&me, sizeof(me)) < 0)
		die(EXIT_NET, "tftp socket on %s: %s", inet_ntoa(from),
		    strerror(errno));
	buf = malloc((size_t)opt.blksize + 4);
	if (!buf)
		die(EXIT_NET, "out of memory");
	rrq[0] = 0;
	rrq[1] = OP_RRQ;
	len = 2 + (size_t)snprintf((char *)rrq + 2, sizeof(rrq) - 2, "%s", path) + 1;
	len += (size_t)snprintf((char *)rrq + len, sizeof(rrq) - len, "octet") + 1;
	if (kind != PLAIN) {
		len += (size_t)snprintf((char *)rrq + len, sizeof(rrq) - len,
					"tsize") + 1;
		len += (size_t)snprintf((char *)rrq + len, sizeof(rrq) - len,
					"0") + 1;
		len += (size_t)snprintf((char *)rrq + len, sizeof(rrq) - len,
					"blksize") + 1;
		len += (size_t)snprintf((char *)rrq + len, sizeof(rrq) - len,
					"%d", opt.blksize) + 1;
	}
	tftp_send(&t, rrq, len);
	for (;;) {
		uint16_t op, block;

		n = tftp_recv(&t, buf, (size_t)opt.blksize + 4, path);
		op = (uint16_t)(buf[0] << 8 | buf[1]);
		block = (uint16_t)(buf[2] << 8 | buf[3]);
		if (op == OP_ERROR) {
			if (block == 1) { /* file not found */
				got = -ENOENT;
				break;
			}
			buf[n - 1] = '\0';
			die(EXIT_NET, "tftp '%s': server error %u %s", path,
			    block, (char *)buf + 4);
		}
		if (op == OP_OACK && want == 1 && got == 0) {
			parse_oack(buf, n, &tsize, &blksize, path);
			if (kind == PROBE)
				say("probe %s tsize=%lld", path, tsize);
			if (opt.model == PI5 &&
			    tsize > 65535LL * (long long)blksize)
				die(EXIT_NET,
				    "tftp '%s': %lld bytes are more than 65535 "
				    "blocks of %d: a Pi 5 cannot load it",
				    path, tsize, blksize);
			tftp_ack(&t, 0);
			continue;
		}
		if (op != OP_DATA)
			die(EXIT_NET, "tftp '%s': unexpected opcode %u", path,
			    op);
		if (block != want) {
			if (block == (uint16_t)(want - 1))
				tftp_send(&t, t.last, t.last_len); /* dup */
			continue;
		}
		if (kind == PROBE) {
			/* the firmware only wanted the size */
			tftp_error(&t, 0, "Early terminate");
			got = tsize;
			break;
		}
		if (out < 0)
			out = open_out(path);
		if (n > 4 && write(out, buf + 4, n - 4) != (ssize_t)(n - 4))
			die(EXIT_NET, "write '%s/%s': %s", opt.out, path,
			    strerror(errno));
		got += (long long)(n - 4);
		tftp_ack(&t, block);
		want++;
		if (n - 4 < (size_t)blksize)
			break;
	}
	if (out >= 0 && close(out) < 0)
		die(EXIT_NET, "write '%s/%s': %s", opt.out, path,
		    strerror(errno));
	if (kind == GET && got >= 0 && tsize < 0)
		die(EXIT_NET, "tftp '%s': the server sent no tsize", path);
	if (kind == GET && got >= 0 && got != tsize)
		die(EXIT_NET, "tftp '%s': got %lld bytes, OACK said tsize=%lld",
		    path, got, tsize);
	if (got >= 0 && kind != PROBE)
		say("sent %s %lld", path, got);
	else if (got == -ENOENT)
		say("not-found %s", path);
	close(t.fd);
	free(buf);
	if (opt.gap_ms)
		sleep_ms(opt.gap_ms);
	return got;
}

/* The requests after the directory is known, in the order of the real
 * boot (see the top of the file); "required" files stop the boot when
 * missing.  only: the models a step is for (ONLY bits; 0: all that run
 * the table). */
struct step {
	const char *name;
	enum kind kind;
	int required;
	unsigned only;
};

#define ONLY(m) (1u << (m))

/* bootcode.bin (Pi 3B+) */
static const struct step pi3_steps[] = {
    {"autoboot.txt", GET, 0, 0},
    {"start.elf", PROBE, 0, 0},
    {"config.txt", GET, 0, 0},
    {"recovery.elf", GET, 0, 0},
    {"start.elf", GET, 1, 0},
    {"fixup.dat", GET, 0, 0},
    {NULL, GET, 0, 0},
};

/* the EEPROM bootloader (Pi 4) */
static const struct step pi4_steps[] = {
    {"config.txt", GET, 0, 0},
    {"vl805.sig", GET, 0, 0},
    {"pieeprom.sig", GET, 0, 0},
    {"recover4.elf", GET, 0, 0},
    {"recovery.elf", GET, 0, 0},
    {"start4.elf", GET, 1, 0},
    {"fixup4.dat", GET, 0, 0},
    {NULL, GET, 0, 0},
};

/* start.elf (Pi 3B+) and start4.elf (Pi 4): the same requests but for
 * the Pi 3B+'s extra probes, the device tree and the ARM stub */
static const struct step start_elf_steps[] = {
    {"recovery.elf", GET, 0, 0},
    {"config.txt", PROBE, 0, 0},
    {"config.txt", GET, 0, 0},
    {"dt-blob.bin", GET, 0, 0},
    {"recovery.elf", GET, 0, 0},
    {"config.txt", PROBE, 0, 0},
    {"config.txt", GET, 0, 0},
    {"bootcfg.txt", GET, 0, 0},
    {"recovery8.img", GET, 0, ONLY(PI3)},
    {"kernel8.img", PROBE, 0, 0},
    {"kernel8.img", PROBE, 0, ONLY(PI3)},
    {"initramfs8", PROBE, 0, ONLY(PI3)},
    {"initramfs8", PROBE, 0, ONLY(PI3)},
    {"initramfs8", PROBE, 0, 0},
    {"initramfs8", GET, 0, 0},
    {"bcm2710-rpi-3-b-plus.dtb", PROBE, 0, ONLY(PI3)},
    {"bcm2710-rpi-3-b-plus.dtb", GET, 0, ONLY(PI3)},
    {"bcm2711-rpi-4-b.dtb", PROBE, 0, ONLY(PI4)},
    {"bcm2711-rpi-4-b.dtb", GET, 0, ONLY(PI4)},
    {"overlays/overlay_map.dtb", PROBE, 0, 0},
    {"overlays/overlay_map.dtb", GET, 0, 0},
    {"config.txt", PROBE, 0, 0},
    {"config.txt", GET, 0, 0},
    {"overlays/vc4-kms-v3d.dtbo", PROBE, 0, 0},
    {"overlays/vc4-kms-v3d.dtbo", GET, 0, 0},
    {"cmdline.txt", PROBE, 0, 0},
    {"cmdline.txt", GET, 0, 0},
    {"armstub8.bin", GET, 0, ONLY(PI3)},
    {"armstub8-gic.bin", GET, 0, ONLY(PI4)},
    {"kernel8.img", PROBE, 0, 0},
    {"kernel8.img", GET, 1, 0},
    {NULL, GET, 0, 0},
};

static const struct step pi5_steps[] = {
    /* the EEPROM bootloader (config.txt and the DTB probed already) */
    {"config.txt", GET, 0, 0},
    {"pieeprom.sig", GET, 0, 0},
    /* the firmware embedded in the EEPROM */
    {"config.txt", PROBE, 0, 0},
    {"config.txt", GET, 0, 0},
    {"bcm2712-rpi-5-b.dtb", GET, 1, 0},
    {"overlays/overlay_map.dtb", GET, 0, 0},
    {"overlays/vc4-kms-v3d-pi5.dtbo", PROBE, 0, 0},
    {"overlays/vc4-kms-v3d-pi5.dtbo", GET, 0, 0},
    {"cmdline.txt", PROBE, 0, 0},
    {"cmdline.txt", GET, 0, 0},
    {"armstub8-2712.bin", GET, 0, 0},
    {"kernel_2712.img", PROBE, 0, 0},
    {"kernel_2712.img", GET, 1, 0},
    {"initramfs_2712", PROBE, 0, 0},
    {"initramfs_2712", GET, 0, 0},
    {NULL, GET, 0, 0},
};

/* The TFTP server the board uses, from the menu OFFER (see the top). */
static struct in_addr tftp_server(const struct offer *boot)
{
	struct in_addr server = {0};

	if (opt.server.s_addr)
		server = opt.server;
	else if (boot->opt66[0] &&
		 inet_pton(AF_INET, boot->opt66, &server) == 1)
		;
	else if (opt.model != PI3 && boot->siaddr.s_addr)
		server = boot->siaddr;
	else
		server = boot->server_id;
	return server;
}

static int dhcp(struct lease *l)
{
	if (dhcp_lease(l) < 0) {
		say("no offer after %d tries", opt.tries);
		return EXIT_NO_OFFER;
	}
	print_lease(l);
	return 0;
}

/* Probe dir/name; 1 if it is there. */
static int probe(struct in_addr me, struct in_addr server, const char *dir,
		 const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", dir, name);
	return tftp_fetch(me, server, path, PROBE) != -ENOENT;
}

/* The steps of a table that are for this model, in order. */
static int run_steps(struct in_addr me, struct in_addr server,
		     const char *prefix, const struct step *steps)
{
	char path[PATH_MAX];

	for (; steps->name; steps++) {
		if (steps->only && !(steps->only & ONLY(opt.model)))
			continue;
		snprintf(path, sizeof(path), "%s%s", prefix, steps->name);
		if (tftp_fetch(me, server, path, steps->kind) == -ENOENT &&
		    steps->required) {
			say("boot failed: %s not found", path);
			return EXIT_NOT_FOUND;
		}
	}
	return 0;
}

static int boot(void)
{
	const struct step *steps;
	struct in_addr server, me;
	struct lease l;
	char prefix[48];
	int ret, keep;

	if ((ret = dhcp(&l)))
		return ret;
	server = tftp_server(&l.boot);
	if (!server.s_addr)
		die(EXIT_NET, "the offer names no TFTP server");
	say("tftp-server %s", inet_ntoa(server));
	if (opt.assign)
		assign_address(l.addr.yiaddr, l.addr.netmask);
	me = l.addr.yiaddr;
	snprintf(prefix, sizeof(prefix), "%s/", opt.prefix);

	switch (opt.model) {
	case PI3:
		/* The ROM: bootcode.bin from the TFTP root. */
		if (tftp_fetch(me, server, "bootcode.bin", PLAIN) < 0) {
			say("boot failed: bootcode.bin not found");
			return EXIT_NOT_FOUND;
		}
		tftp_fetch(me, server, "bootsig.bin", PLAIN);
		/* bootcode.bin: DHCP again, then <serial>/ if it has
		 * start.elf */
		if ((ret = dhcp(&l)))
			return ret;
		me = l.addr.yiaddr;
		keep = probe(me, server, prefix, "start.elf");
		steps = pi3_steps;
		break;
	case PI4:
		keep = probe(me, server, prefix, "start4.elf") ||
		       probe(me, server, prefix, "start.elf");
		steps = pi4_steps;
		break;
	default:
		keep = probe(me, server, prefix, "config.txt") &&
		       probe(me, server, prefix, "bcm2712-rpi-5-b.dtb");
		steps = pi5_steps;
		break;
	}
	if (!keep) {
		prefix[0] = '\0';
		say("fallback to the TFTP root");
	}
	if ((ret = run_steps(me, server, prefix, steps)) ||
	    (opt.model != PI5 &&
	     (ret = run_steps(me, server, prefix, start_elf_steps))))
		return ret;
	say("boot complete");
	return 0;
}

/* ---- options ---- */

static const char usage[] =
    "usage: bootrom --iface IF --mac MAC --serial HEX8 --out DIR\n"
    "               [--model pi3b+|pi4|pi5] [--tftp-prefix DIR] [--server "
    "IP]\n"
    "               [--log FILE] [--timeout SEC] [--interval MS] [--tries "
    "N]\n"
    "               [--gap MS] [--blksize N] [--assign-address]\n";

static long num_arg(const char *name, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end || v < lo || v > hi)
		die(EXIT_USAGE, "%s must be %ld..%ld, got '%s'", name, lo, hi,
		    s);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"iface", required_argument, NULL, 'i'},
	    {"mac", required_argument, NULL, 'm'},
	    {"serial", required_argument, NULL, 's'},
	    {"server", required_argument, NULL, 'S'},
	    {"out", required_argument, NULL, 'o'},
	    {"log", required_argument, NULL, 'l'},
	    {"timeout", required_argument, NULL, 't'},
	    {"interval", required_argument, NULL, 'I'},
	    {"tries", required_argument, NULL, 'n'},
	    {"gap", required_argument, NULL, 'g'},
	    {"blksize", required_argument, NULL, 'b'},
	    {"assign-address", no_argument, NULL, 'a'},
	    {"model", required_argument, NULL, 'M'},
	    {"tftp-prefix", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *mac = NULL, *serial = NULL, *prefix = NULL;
	unsigned m[6];
	char *end;
	int c, i, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			opt.iface = optarg;
			break;
		case 'm':
			mac = optarg;
			break;
		case 's':
			serial = optarg;
			break;
		case 'S':
			if (inet_pton(AF_INET, optarg, &opt.server) != 1)
				die(EXIT_USAGE, "bad --server '%s'", optarg);
			break;
		case 'o':
			opt.out = optarg;
			break;
		case 'l':
			opt.logpath = optarg;
			break;
		case 't':
			opt.timeout_s = (int)num_arg("--timeout", optarg, 1,
						     3600);
			break;
		case 'I':
			opt.interval_ms = (int)num_arg("--interval", optarg,
						       100, 60000);
			break;
		case 'n':
			opt.tries = (int)num_arg("--tries", optarg, 1, 5);
			break;
		case 'g':
			opt.gap_ms = (int)num_arg("--gap", optarg, 0, 10000);
			break;
		case 'b':
			opt.blksize = (int)num_arg("--blksize", optarg, 512,
						   1468);
			break;
		case 'a':
			opt.assign = 1;
			break;
		case 'M':
			for (i = 0; i < 3; i++)
				if (!strcmp(optarg, models[i].name))
					break;
			if (i == 3)
				die(EXIT_USAGE,
				    "--model must be pi3b+, pi4 or pi5, got "
				    "'%s'",
				    optarg);
			opt.model = (enum model)i;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || !opt.iface || !mac || !serial || !opt.out) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2],
		   &m[3], &m[4], &m[5], (char[]){0}) != 6)
		die(EXIT_USAGE, "bad --mac '%s'", mac);
	for (i = 0; i < 6; i++)
		opt.mac[i] = (unsigned char)m[i];
	if (strlen(serial) != 8 ||
	    strspn(serial, "0123456789abcdefABCDEF") != 8)
		die(EXIT_USAGE, "--serial must be 8 hex digits, got '%s'",
		    serial);
	for (i = 0; i < 8; i++)
		opt.serial[i] = (char)((serial[i] >= 'A' && serial[i] <= 'F')
					   ? serial[i] - 'A' + 'a'
					   : serial[i]);
	opt.serial_num = (uint32_t)strtoul(opt.serial, &end, 16);
	/* TFTP_PREFIX_STR is at most 32 characters; a name, not a path */
	if (prefix && opt.model == PI3)
		die(EXIT_USAGE, "--tftp-prefix needs --model pi4 or pi5 (a Pi "
				"3B+ always asks for its serial)");
	if (prefix && (!prefix[0] || strlen(prefix) > 32 ||
		       strspn(prefix, "0123456789abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-") !=
			   strlen(prefix) ||
		       !strcmp(prefix, ".") || !strcmp(prefix, "..")))
		die(EXIT_USAGE, "--tftp-prefix must be 1-32 letters, digits, "
				"'.', '_' or '-', got '%s'",
		    prefix);
	snprintf(opt.prefix, sizeof(opt.prefix), "%s",
		 prefix ? prefix : opt.serial);
	opt.ifindex = if_nametoindex(opt.iface);
	if (!opt.ifindex)
		die(EXIT_USAGE, "no interface '%s'", opt.iface);
	if (opt.logpath) {
		opt.log = fopen(opt.logpath, "ae");
		if (!opt.log)
			die(EXIT_USAGE, "cannot open --log '%s': %s",
			    opt.logpath, strerror(errno));
	}
	deadline_ms = now_ms() + (long long)opt.timeout_s * 1000;
	ret = boot();
	if (opt.log)
		fclose(opt.log);
	return ret;
}
