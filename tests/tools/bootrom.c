/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bootrom.c - a Raspberry Pi 3B+ network-boot simulator for the boot-path
 * tests: the boot ROM's DHCP DISCOVER and its use of the OFFER (no
 * REQUEST/ACK), then the TFTP requests of the ROM, bootcode.bin and
 * start.elf in exactly the order of the real 3B+ boot in the seed's
 * syslog, including the firmware's size probes that it aborts with TFTP
 * ERROR 0 "Early terminate".
 *
 *   bootrom --iface IF --mac MAC --serial HEX8 --out DIR [--server IP]
 *           [--log FILE] [--timeout SEC] [--interval MS] [--tries N]
 *           [--gap MS] [--blksize N] [--assign-address]
 *
 * It prints one line per event: "offer yiaddr=... siaddr=... server-id=...
 * option66=... menu=\"...\"", "tftp-server IP", then per request "sent PATH
 * BYTES", "not-found PATH" or "probe PATH tsize=N", "fallback to the TFTP
 * root", and "boot complete" (also appended to --log FILE).  Received files
 * are written to DIR/PATH.  Exit: 0 the boot got as far as kernel8.img, 1
 * network/protocol error or --timeout, 2 usage, 3 no usable OFFER, 4 a file
 * the firmware cannot do without (bootcode.bin, start.elf, kernel8.img)
 * was not found.
 *
 * What it sends:
 *  - DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67 out of IF only
 *    (SO_BINDTODEVICE), chaddr MAC, broadcast flag clear (as the ROM), with
 *    options 53=1, 93=0 (x86 BIOS: what the ROM claims), 97 (client GUID:
 *    type 0, then 16 bytes "RPi3" 00*8 and the serial as 4 big-endian
 *    bytes - our choice; the ROM's layout is not documented), 60
 *    "PXEClient:Arch:00000:UNDI:002001" and 55 (1 3 43 54 60 66 67 128-135).
 *    At most --tries (<= 5) DISCOVERs, --interval ms apart (ROM: 5000).
 *    The OFFER is unicast to yiaddr/chaddr by dnsmasq, so it is read from
 *    a packet socket on IF: the interface has no address yet.  An OFFER
 *    without the PXE menu entry "Raspberry Pi Boot" in option 43 is
 *    ignored, as the ROM does.
 *  - TFTP from yiaddr (with --assign-address it is put on IF first if IF
 *    does not have it; otherwise the test must have done so), each request
 *    from a new port.  ROM requests (bootcode.bin, bootsig.bin) are plain
 *    RFC 1350 512-byte transfers; the firmware's requests ask for
 *    "tsize 0" and "blksize N" (default 1468), check that the received
 *    size equals the OACK's tsize, and a probe ACKs the OACK, takes the
 *    first block and sends ERROR 0 "Early terminate" (dnsmasq then logs
 *    "error 0 Early terminate received" and "failed sending").
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

static struct {
	const char *iface, *out, *logpath;
	unsigned char mac[6];
	char serial[9];
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
	struct in_addr yiaddr, siaddr, server_id, netmask;
	char opt66[256];
	char menu[256];
};

static const uint8_t cookie[4] = {99, 130, 83, 99};

static size_t put_opt(uint8_t *p, uint8_t code, const void *val, uint8_t len)
{
	p[0] = code;
	p[1] = len;
	memcpy(p + 2, val, len);
	return (size_t)len + 2;
}

static size_t build_discover(struct bootp *b, uint32_t xid)
{
	static const uint8_t params[] = {1,   3,   43,	54,  60,  66,  67,
					 128, 129, 130, 131, 132, 133, 134,
					 135};
	uint8_t type = 1, arch[2] = {0, 0}, guid[17] = {0};
	uint8_t *p = b->options;
	size_t len;

	memset(b, 0, sizeof(*b));
	b->op = 1;
	b->htype = 1;
	b->hlen = 6;
	b->xid = htonl(xid);
	memcpy(b->chaddr, opt.mac, 6);
	memcpy(b->magic, cookie, 4);
	/* option 97: type 0 + GUID "RPi3", 8 zero bytes, serial (BE) */
	memcpy(guid + 1, "RPi3", 4);
	guid[13] = (uint8_t)(opt.serial_num >> 24);
	guid[14] = (uint8_t)(opt.serial_num >> 16);
	guid[15] = (uint8_t)(opt.serial_num >> 8);
	guid[16] = (uint8_t)opt.serial_num;
	p += put_opt(p, 53, &type, 1);
	p += put_opt(p, 93, arch, 2);
	p += put_opt(p, 97, guid, 17);
	p += put_opt(p, 60, VENDOR_CLASS, (uint8_t)strlen(VENDOR_CLASS));
	p += put_opt(p, 55, params, sizeof(params));
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

/* Parse one IP datagram from the packet socket; 1 if it is our OFFER. */
static int parse_offer(const uint8_t *pkt, size_t len, uint32_t xid,
		       struct offer *of)
{
	const struct bootp *b;
	size_t ihl, i, olen;
	const uint8_t *o;
	int type = 0, menu = 0;

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
			type = o[i + 2];
		else if (code == 54 && l == 4)
			memcpy(&of->server_id, o + i + 2, 4);
		else if (code == 1 && l == 4)
			memcpy(&of->netmask, o + i + 2, 4);
		else if (code == 66) {
			memcpy(of->opt66, o + i + 2, l);
			of->opt66[l] = '\0';
		} else if (code == 43)
			menu = find_menu(o + i + 2, l, of->menu,
					 sizeof(of->menu));
		i += 2 + (size_t)l;
	}
	if (type != 2)
		return 0;
	if (!menu) {
		say("ignored offer of %s: no \"" PXE_MENU_TEXT
		    "\" menu entry in option 43",
		    inet_ntoa(of->yiaddr));
		return 0;
	}
	return 1;
}

/* DISCOVER until an acceptable OFFER (at most --tries, --interval apart).
 * Returns 0 or -ETIMEDOUT. */
static int dhcp_discover(struct offer *of)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons(67),
				 .sin_addr.s_addr = INADDR_BROADCAST};
	struct sockaddr_in me = {.sin_family = AF_INET,
				 .sin_port = htons(68)};
	struct sockaddr_ll ll = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(ETH_P_IP)};
	uint32_t xid = opt.serial_num ^ (uint32_t)getpid() ^
		       (uint32_t)now_ms();
	int us, ps, one = 1, try, ret = -ETIMEDOUT;
	struct bootp b;
	size_t len;

	us = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ps = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (us < 0 || ps < 0)
		die(EXIT_NET, "socket: %s", strerror(errno));
	ll.sll_ifindex = (int)opt.ifindex;
	if (setsockopt(us, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(us, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(us, SOL_SOCKET, SO_BINDTODEVICE, opt.iface,
		       (socklen_t)strlen(opt.iface)) < 0 ||
	    bind(us, (struct sockaddr *)&me, sizeof(me)) < 0)
		die(EXIT_NET, "dhcp socket on '%s': %s", opt.iface,
		    strerror(errno));
	if (bind(ps, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		die(EXIT_NET, "packet socket on '%s': %s", opt.iface,
		    strerror(errno));
	for (try = 1; try <= opt.tries && ret; try++) {
		long long until = now_ms() + opt.interval_ms;

		xid++;
		len = build_discover(&b, xid);
		if (sendto(us, &b, len, 0, (struct sockaddr *)&to,
			   sizeof(to)) < 0)
			die(EXIT_NET, "send DHCPDISCOVER: %s", strerror(errno));
		for (;;) {
			struct pollfd pfd = {.fd = ps, .events = POLLIN};
			uint8_t pkt[2048];
			ssize_t n;
			int ms = left_ms(until);

			if (ms == 0 || poll(&pfd, 1, ms) <= 0)
				break;
			n = recv(ps, pkt, sizeof(pkt), 0);
			if (n > 0 && parse_offer(pkt, (size_t)n, xid, of)) {
				ret = 0;
				break;
			}
		}
		if (ret && try < opt.tries)
			sleep_ms(left_ms(until));
	}
	close(ps);
	close(us);
	return ret;
}

static void print_offer(const struct offer *of)
{
	char y[16], s[16], id[16];

	inet_ntop(AF_INET, &of->yiaddr, y, sizeof(y));
	inet_ntop(AF_INET, &of->siaddr, s, sizeof(s));
	inet_ntop(AF_INET, &of->server_id, id, sizeof(id));
	say("offer yiaddr=%s siaddr=%s server-id=%s option66=%s menu=\"%s\"",
	    y, s, id, of->opt66[0] ? of->opt66 : "-", of->menu);
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

/* The firmware's requests after bootcode.bin found start.elf's directory,
 * in the order of the real 3B+ boot (seed syslog); "required" files stop
 * the boot when missing. */
static const struct step {
	const char *name;
	enum kind kind;
	int required;
} firmware_steps[] = {
    /* bootcode.bin */
    {"autoboot.txt", GET, 0},
    {"start.elf", PROBE, 0},
    {"config.txt", GET, 0},
    {"recovery.elf", GET, 0},
    {"start.elf", GET, 1},
    {"fixup.dat", GET, 0},
    /* start.elf */
    {"recovery.elf", GET, 0},
    {"config.txt", PROBE, 0},
    {"config.txt", GET, 0},
    {"dt-blob.bin", GET, 0},
    {"recovery.elf", GET, 0},
    {"config.txt", PROBE, 0},
    {"config.txt", GET, 0},
    {"bootcfg.txt", GET, 0},
    {"recovery8.img", GET, 0},
    {"kernel8.img", PROBE, 0},
    {"kernel8.img", PROBE, 0},
    {"initramfs8", PROBE, 0},
    {"initramfs8", PROBE, 0},
    {"initramfs8", PROBE, 0},
    {"initramfs8", GET, 0},
    {"bcm2710-rpi-3-b-plus.dtb", PROBE, 0},
    {"bcm2710-rpi-3-b-plus.dtb", GET, 0},
    {"overlays/overlay_map.dtb", PROBE, 0},
    {"overlays/overlay_map.dtb", GET, 0},
    {"config.txt", PROBE, 0},
    {"config.txt", GET, 0},
    {"overlays/vc4-kms-v3d.dtbo", PROBE, 0},
    {"overlays/vc4-kms-v3d.dtbo", GET, 0},
    {"cmdline.txt", PROBE, 0},
    {"cmdline.txt", GET, 0},
    {"armstub8.bin", GET, 0},
    {"kernel8.img", PROBE, 0},
    {"kernel8.img", GET, 1},
};

static int boot(void)
{
	struct in_addr server;
	struct offer of;
	char prefix[16], path[PATH_MAX];
	size_t i;

	/* The ROM: DHCP, then bootcode.bin from the TFTP root. */
	if (dhcp_discover(&of) < 0) {
		say("no offer after %d tries", opt.tries);
		return EXIT_NO_OFFER;
	}
	print_offer(&of);
	if (opt.server.s_addr)
		server = opt.server;
	else if (of.opt66[0] && inet_pton(AF_INET, of.opt66, &server) == 1)
		;
	else if (of.siaddr.s_addr)
		server = of.siaddr;
	else
		server = of.server_id;
	if (!server.s_addr)
		die(EXIT_NET, "the offer names no TFTP server");
	say("tftp-server %s", inet_ntoa(server));
	if (opt.assign)
		assign_address(of.yiaddr, of.netmask);
	if (tftp_fetch(of.yiaddr, server, "bootcode.bin", PLAIN) < 0) {
		say("boot failed: bootcode.bin not found");
		return EXIT_NOT_FOUND;
	}
	tftp_fetch(of.yiaddr, server, "bootsig.bin", PLAIN);

	/* bootcode.bin: DHCP again, then <serial>/ if it has start.elf */
	if (dhcp_discover(&of) < 0) {
		say("no offer after %d tries", opt.tries);
		return EXIT_NO_OFFER;
	}
	print_offer(&of);
	snprintf(prefix, sizeof(prefix), "%s/", opt.serial);
	snprintf(path, sizeof(path), "%sstart.elf", prefix);
	if (tftp_fetch(of.yiaddr, server, path, PROBE) == -ENOENT) {
		prefix[0] = '\0';
		say("fallback to the TFTP root");
	}
	for (i = 0; i < sizeof(firmware_steps) / sizeof(firmware_steps[0]);
	     i++) {
		const struct step *s = &firmware_steps[i];

		snprintf(path, sizeof(path), "%s%s", prefix, s->name);
		if (tftp_fetch(of.yiaddr, server, path, s->kind) == -ENOENT &&
		    s->required) {
			say("boot failed: %s not found", path);
			return EXIT_NOT_FOUND;
		}
	}
	say("boot complete");
	return 0;
}

/* ---- options ---- */

static const char usage[] =
    "usage: bootrom --iface IF --mac MAC --serial HEX8 --out DIR [--server "
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
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *mac = NULL, *serial = NULL;
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
