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
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bootrom.h"

const struct model_info models[] = {
    [PI3] = {"pi3b+", NULL, 0x00a020d3},
    [PI4] = {"pi4", "RPi4", 0x00c03111},
    [PI5] = {"pi5", "RPi5", 0x00d04170},
};

struct bootrom_opt opt = {.timeout_s = 120,
			  .interval_ms = 5000,
			  .tries = 5,
			  .blksize = 1468};

void say(const char *fmt, ...)
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

void die(int code, const char *fmt, ...)
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

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long deadline_ms;

/* Milliseconds left until the earlier of until_ms and --timeout. */
int left_ms(long long until_ms)
{
	long long now = now_ms(), end = until_ms;

	if (now >= deadline_ms)
		die(EXIT_NET, "no boot within --timeout %d s", opt.timeout_s);
	if (end > deadline_ms)
		end = deadline_ms;
	return end > now ? (int)(end - now) : 0;
}

void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- boot ---- */

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
