/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bootrom_dhcp.c - the boot-ROM simulator's DHCP exchange: the DISCOVER
 * (and the Pi 4/5's REQUEST) with each model's options, the OFFERs read
 * from a packet socket, the address and the boot menu they give, and the
 * address put on the interface.  What each model sends and why: the top
 * of bootrom.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bootrom.h"

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
int dhcp_lease(struct lease *l)
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

void print_lease(const struct lease *l)
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
void assign_address(struct in_addr addr, struct in_addr mask)
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

