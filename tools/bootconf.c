/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bootconf.c - "pifs dnsmasq-conf" and "pifs exports": print the dnsmasq
 * and NFS server configuration that serves a store's registered workers
 * the way the user's hand-made master did (see the pi-network-boot seed):
 * DHCP with a fixed address per worker and the PXE menu entry the Pi boot
 * ROM insists on, TFTP from the tftpboot view, and one NFS export per
 * worker.  It reads pifs.conf and the registry through overlay/ and writes
 * nothing (but with --hosts-dir: that setting, and the reservations file
 * in that directory, which pifs keeps current from then on; and with
 * exports --install FILE: that setting and FILE, overlay/exports.c); the
 * text is
 * built in memory and printed only when complete, so
 * an error never leaves half a configuration on stdout.  Every value that
 * reaches the output is validated first: a name with a newline, comma or
 * quote could otherwise add directives to dnsmasq's configuration.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootconf.h"
#include "exports.h"
#include "safeio.h"
#include "util.h"
#include "registry.h"
#include "store.h"

#define EXIT_USAGE 2

static const char usage_dnsmasq[] =
    "usage: pifs [--store DIR] dnsmasq-conf [--proxy|--no-dhcp] "
    "[--standalone]\n"
    "                                       [--interface IF] "
    "[--tftp-root DIR]\n"
    "                                       [--log-facility FILE|-]\n"
    "                                       [--hosts-dir DIR]\n"
    "\n"
    "Print a dnsmasq configuration that network-boots the store's workers:\n"
    "DHCP as the boot LAN's server (the store's address range, one fixed\n"
    "address per worker, by MAC), the PXE menu entry the Pi boot ROM\n"
    "needs, and TFTP from DIR (default /tftpboot, a bind mount of\n"
    "MOUNTPOINT/tftpboot), on IF only (default eth0).  As a drop-in\n"
    "(/etc/dnsmasq.d/) it leaves dnsmasq's DNS as it is.\n"
    "  --proxy       the LAN already has a DHCP server (a home router):\n"
    "                dnsmasq answers only the boot part (proxy DHCP, it\n"
    "                never hands out an address); that server must give\n"
    "                each worker the address listed (pifs exports opens\n"
    "                each NFS root to that address).\n"
    "  --no-dhcp     the TFTP part only.\n"
    "  --standalone  this dnsmasq does nothing but boot the workers: no\n"
    "                DNS (port=0).\n"
    "  --hosts-dir DIR\n"
    "                the fixed addresses go to DIR/pifs-workers (dnsmasq's\n"
    "                dhcp-hostsdir, created 0755 if missing), which pifs\n"
    "                rewrites whenever a worker is added, enrolled, accepted\n"
    "                or removed; dnsmasq reads a new or changed file at once\n"
    "                (inotify; a removed worker's address stays reserved\n"
    "                until dnsmasq gets SIGHUP).  The store remembers DIR.\n"
    "                Also sets dnsmasq's dhcp-script to STORE/dhcp-event,\n"
    "                which tells pifs the MAC of a board that enrolled by\n"
    "                its serial (pifs dhcp-event --help).\n";

static const char usage_exports[] =
    "usage: pifs [--store DIR] exports [--nfsroot DIR]\n"
    "       pifs [--store DIR] exports --install FILE [--nfsroot DIR]\n"
    "       pifs [--store DIR] exports --uninstall\n"
    "\n"
    "Print /etc/exports lines for the kernel NFS server: each worker's root\n"
    "DIR/<worker> (default /nfsroot, a bind mount of MOUNTPOINT/nfsroot)\n"
    "exported read-write to that worker's address only, with a fixed fsid,\n"
    "and the same exports as a commented NFS-Ganesha configuration.\n"
    "  --install FILE  keep them applied with no manual step: write them to\n"
    "                FILE (e.g. /etc/exports.d/pifs.exports) and run\n"
    "                exportfs -r, and again after every registry change\n"
    "                (worker add, remove, accept, enrolment, pifsd's mount\n"
    "                of a worker).  The store remembers FILE and DIR; pifs\n"
    "                exports then prints FILE's bytes.  A FILE pifs did not\n"
    "                write is not replaced.  When exportfs is missing or\n"
    "                fails, that is one warning and the change stands.\n"
    "  --uninstall   forget FILE, remove it and run exportfs -r.\n";

struct ctx {
	FILE *err;
	int status; /* exit status of the first error, 0 if none */
};

static int fail(struct ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, int code, const char *fmt, ...)
{
	va_list ap;

	fputs("pifs: ", c->err);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
	c->status = code;
	return code;
}

/* getopt's answer ch that is none of a command's own options: 'h', its
 * usage on o (-1); else the usage error it stands for (':' or an unknown
 * option, argv[optind - 1]). */
static int other_option(struct ctx *c, int ch, char **argv,
			const char *usage, FILE *o)
{
	if (ch == 'h') {
		fputs(usage, o);
		return -1;
	}
	if (ch == ':')
		return fail(c, EXIT_USAGE, "option '%s' needs an argument",
			    argv[optind - 1]);
	return fail(c, EXIT_USAGE, "unknown option '%s' (see --help)",
		    argv[optind - 1]);
}

/* Nonzero if s holds a character that would end or split a configuration
 * value: control characters (newline!), space, quotes, ',' '#' '=' '\'. */
static int unsafe_chars(const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch <= ' ' || ch == 0x7f || strchr("\"'#,=\\", ch))
			return 1;
	}
	return 0;
}

static int check_path(struct ctx *c, const char *opt, const char *path)
{
	if (path[0] != '/' || unsafe_chars(path) || strlen(path) >= PATH_MAX)
		return fail(c, EXIT_USAGE,
			    "%s needs an absolute path without spaces, quotes, "
			    "',', '#', '=' or '\\', got '%s'",
			    opt, path);
	return 0;
}

static int load(struct ctx *c, const char *store_path, struct pifs_store *st,
		struct pifs_registry *reg)
{
	char err[PATH_MAX + 256];

	if (pifs_store_open(st, store_path, err, sizeof(err)) < 0)
		return fail(c, 1, "%s", err);
	pifs_registry_init(reg);
	if (pifs_registry_load(reg, st->fd, err, sizeof(err)) < 0) {
		fail(c, 1, "store '%s': %s", store_path, err);
		pifs_store_close(st);
		return 1;
	}
	return 0;
}

/* The MAC dnsmasq matches: the registered one, else the Pi 3 rule;
 * 0, or -1 for a Pi 4 or 5 that enrolled by its serial (its MAC is not
 * known until it is accepted). */
static int worker_mac(const struct pifs_worker *w, char out[18])
{
	if (w->mac[0])
		memcpy(out, w->mac, 18);
	else if (w->model == PIFS_MODEL_PI3BPLUS && w->serial[0])
		pifs_mac_from_serial(w->serial, out);
	else
		return -1;
	return 0;
}

static const char *serial_of(const struct pifs_worker *w)
{
	return w->serial[0] ? w->serial : "-";
}

/* ---- dnsmasq-conf ---- */

enum dhcp_mode { DHCP_OFF, DHCP_SERVER, DHCP_PROXY };

struct dnsmasq_opts {
	const char *iface, *tftp_root, *log_facility, *hosts_dir;
	char script[PATH_MAX + 16]; /* STORE/dhcp-event, with hosts_dir */
	enum dhcp_mode dhcp;
	int no_dns; /* --standalone: port=0 */
};

/* The workers' /24, as dnsmasq-conf serves the range (see check_ip in
 * cmd-worker.c): "a.b.c.0". */
static void range_net(const struct pifs_store_conf *conf, char out[16])
{
	unsigned a, b, c, d;

	if (sscanf(conf->range_lo, "%u.%u.%u.%u", &a, &b, &c, &d) != 4 ||
	    a > 255 || b > 255 || c > 255)
		a = 10, b = 1, c = 1; /* pifs.conf's default range */
	snprintf(out, 16, "%u.%u.%u.0", a, b, c);
}

/* Proxy DHCP: the reservations the LAN's own DHCP server must make. */
static void print_proxy_hosts(FILE *o, const struct pifs_registry *reg)
{
	size_t i;

	fputs("# The LAN's DHCP server gives the addresses, not this dnsmasq "
	      "(a proxy never\n"
	      "# does).  Reserve these there, MAC -> address, so that each "
	      "worker gets the\n"
	      "# address its NFS export is open to ('pifs exports'):\n",
	      o);
	for (i = 0; i < reg->count; i++) {
		const struct pifs_worker *w = &reg->workers[i];
		char mac[18];

		if (worker_mac(w, mac) < 0)
			snprintf(mac, sizeof(mac), "(MAC unknown)");
		fprintf(o, "#   %s %s %s (serial %s)\n", w->name, mac,
			w->ip[0] ? w->ip : "(no address registered)",
			serial_of(w));
	}
	if (reg->count == 0)
		fputs("#   (no workers registered: pifs worker add)\n", o);
}

static void print_dnsmasq(FILE *o, const char *store_path,
			  const struct pifs_store_conf *conf,
			  const struct pifs_registry *reg,
			  const struct dnsmasq_opts *op)
{
	char net[16];
	size_t i;

	fprintf(o, "# dnsmasq configuration for the pifs store '%s',\n",
		store_path);
	fputs("# printed by 'pifs dnsmasq-conf': network boot of its "
	      "Raspberry Pi workers.\n",
	      o);
	if (op->dhcp == DHCP_PROXY)
		fputs("# Proxy DHCP beside the LAN's own DHCP server: only "
		      "the boot menu and TFTP.\n",
		      o);
	if (op->no_dns) {
		fputs("# No DNS: dnsmasq only does DHCP and TFTP, on one "
		      "interface.\n",
		      o);
		fputs("port=0\n", o);
	} else {
		fputs("# DNS is left as it is (a dnsmasq that also serves the "
		      "LAN's DNS keeps doing\n"
		      "# so); 'pifs dnsmasq-conf --standalone' adds port=0 "
		      "for one that only boots.\n",
		      o);
	}
	fprintf(o, "interface=%s\n", op->iface);
	fputs("bind-interfaces\n", o);
	if (op->dhcp == DHCP_SERVER) {
		fprintf(o, "dhcp-range=%s,%s,255.255.255.0,12h\n",
			conf->range_lo, conf->range_hi);
		fputs("# One fixed address per registered worker, by MAC "
		      "(on a Pi 3, b8:27:eb: and the\n"
		      "# serial's last 6 digits).\n",
		      o);
		if (op->hosts_dir)
			fprintf(o, "# Kept by pifs in %s/pifs-workers (a new "
				"or changed file is read at once):\n"
				"dhcp-hostsdir=%s\n"
				"# Tells pifs the MAC of a board that enrolled "
				"by its serial (its lease\n# and the "
				"files it fetched): pifs dhcp-event --help.\n"
				"dhcp-script=%s\n", op->hosts_dir,
				op->hosts_dir, op->script);
		for (i = 0; i < reg->count; i++) {
			const struct pifs_worker *w = &reg->workers[i];
			char mac[18];

			fprintf(o, "# %s: serial %s\n", w->name, serial_of(w));
			if (worker_mac(w, mac) < 0)
				fprintf(o, "# (enrolled by its serial, MAC "
					"unknown: pifs worker accept %s "
					"--mac MAC)\n", w->name);
			else if (op->hosts_dir)
				continue;
			else if (w->ip[0])
				fprintf(o, "dhcp-host=%s,%s,%s\n", mac, w->ip,
					w->name);
			else
				fprintf(o, "dhcp-host=%s,%s\n", mac, w->name);
		}
		if (reg->count == 0)
			fputs("# (no workers registered: pifs worker add)\n",
			      o);
	} else if (op->dhcp == DHCP_PROXY) {
		range_net(conf, net);
		fputs("# Answer DHCP requests on the workers' network with the "
		      "boot part only: a\n"
		      "# proxy offer carries no address (the Pi takes its "
		      "address from the LAN's\n"
		      "# server and the TFTP server from this offer).\n",
		      o);
		fprintf(o, "dhcp-range=%s,proxy,255.255.255.0\n", net);
		print_proxy_hosts(o, reg);
	}
	if (op->dhcp != DHCP_OFF) {
		fputs("# The Pi boot ROM ignores an offer without this PXE "
		      "menu entry (option 43).\n",
		      o);
		fputs("pxe-service=0,\"Raspberry Pi Boot\"\n", o);
		fputs("# Works around a race in the Pi boot ROM.\n", o);
		fputs("dhcp-reply-delay=1\n", o);
	}
	fprintf(o, "# The ROM fetches bootcode.bin from the root, then "
		   "<serial>/... (the worker's\n"
		   "# boot/firmware as pifs serves it).\n");
	fputs("enable-tftp\n", o);
	fprintf(o, "tftp-root=%s\n", op->tftp_root);
	if (op->dhcp != DHCP_OFF)
		fputs("log-dhcp\n", o);
	if (op->log_facility)
		fprintf(o, "log-facility=%s\n", op->log_facility);
}

/* STORE/dhcp-event, dnsmasq's dhcp-script: this pifs, on this store,
 * `dhcp-event` (cmd-dhcp.c).  Absolute paths, quoted for sh; a path
 * that sh or dnsmasq's configuration could not take as it is, refused. */
static int write_script(struct ctx *c, struct pifs_store *st)
{
	char self[PATH_MAX], store[PATH_MAX], *text;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int r;

	if (n <= 0 || !realpath(st->path, store))
		return fail(c, 1, "cannot find the paths of pifs and its store");
	self[n] = '\0';
	if (unsafe_chars(self) || unsafe_chars(store))
		return fail(c, 1, "'%s' or '%s' has a character dnsmasq's "
			    "dhcp-script cannot take", self, store);
	text = pifs_strdupf("#!/bin/sh\n# dnsmasq's dhcp-script for the "
			    "pifs store '%s', written by\n# 'pifs "
			    "dnsmasq-conf --hosts-dir': see 'pifs dhcp-event "
			    "--help'.\nexec '%s' --store '%s' dhcp-event "
			    "\"$@\"\n", store, self, store);
	if (!text)
		return fail(c, 1, "out of memory");
	r = pifs_write_file_atomic(st->fd, "dhcp-event", text, strlen(text),
				   0700);
	free(text);
	if (r < 0)
		return fail(c, 1, "cannot write '%s/dhcp-event': %s", store,
			    strerror(-r));
	return 0;
}

/* --hosts-dir: remember dir in pifs.conf and write the reservations
 * there, under the store's lock (the registry re-read under it). */
/* Take the store's lock and read pifs.conf again under it: 0, or the
 * failure said (and the lock released). */
static int lock_conf(struct ctx *c, struct pifs_store *st)
{
	int r = pifs_store_lock(st, 10000);

	if (r < 0)
		return fail(c, 1, "cannot lock store '%s': %s", st->path,
			    r == -EAGAIN ? "another pifs holds its lock"
					 : strerror(-r));
	if ((r = pifs_store_conf_reload(st)) < 0) {
		pifs_store_unlock(st);
		return fail(c, 1, "cannot read '%s/pifs.conf': %s", st->path,
			    strerror(-r));
	}
	return 0;
}

static int set_hosts_dir(struct ctx *c, struct pifs_store *st,
			 struct pifs_registry *reg, const char *dir)
{
	struct pifs_store_conf conf;
	char err[256];
	int r;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return fail(c, 1, "cannot create '%s': %s", dir,
			    strerror(errno));
	if (lock_conf(c, st))
		return c->status;
	if (pifs_registry_load(reg, st->fd, err, sizeof(err)) < 0) {
		pifs_store_unlock(st);
		return fail(c, 1, "store '%s': %s", st->path, err);
	}
	conf = st->conf;
	snprintf(conf.hostsdir, sizeof(conf.hostsdir), "%s", dir);
	if (strcmp(conf.hostsdir, st->conf.hostsdir) &&
	    (r = pifs_store_conf_save(st, &conf)) < 0) {
		pifs_store_unlock(st);
		return fail(c, 1, "cannot write '%s/pifs.conf': %s", st->path,
			    strerror(-r));
	}
	r = pifs_store_hosts_write(st, reg);
	if (r < 0) {
		pifs_store_unlock(st);
		return fail(c, 1, "cannot write '%s/pifs-workers': %s", dir,
			    strerror(-r));
	}
	r = write_script(c, st);
	pifs_store_unlock(st);
	return r;
}

static int cmd_dnsmasq(struct ctx *c, FILE *o, const char *store_path,
		       int argc, char **argv)
{
	static const struct option opts[] = {
	    {"interface", required_argument, NULL, 'i'},
	    {"tftp-root", required_argument, NULL, 't'},
	    {"log-facility", required_argument, NULL, 'l'},
	    {"no-dhcp", no_argument, NULL, 'n'},
	    {"standalone", no_argument, NULL, 'S'},
	    {"proxy", no_argument, NULL, 'P'},
	    {"hosts-dir", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct dnsmasq_opts op = {.iface = "eth0",
				  .tftp_root = "/tftpboot",
				  .dhcp = DHCP_SERVER};
	const char *mode = NULL; /* the mode option given, if any */
	struct pifs_registry reg;
	struct pifs_store st;
	int ch;

	while ((ch = getopt_long(argc, argv, ":i:t:l:nSPH:h", opts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'H':
			op.hosts_dir = optarg;
			break;
		case 'i':
			op.iface = optarg;
			break;
		case 't':
			op.tftp_root = optarg;
			break;
		case 'l':
			op.log_facility = optarg;
			break;
		case 'S':
			op.no_dns = 1;
			break;
		case 'n':
		case 'P':
			if (mode && strcmp(mode, argv[optind - 1]))
				return fail(c, EXIT_USAGE,
					    "%s and %s exclude each other",
					    mode, argv[optind - 1]);
			mode = argv[optind - 1];
			op.dhcp = ch == 'n' ? DHCP_OFF : DHCP_PROXY;
			break;
		default:
			return other_option(c, ch, argv, usage_dnsmasq, o);
		}
	}
	if (optind < argc)
		return fail(c, EXIT_USAGE, "unexpected argument '%s'",
			    argv[optind]);
	if (!op.iface[0] || strlen(op.iface) >= IFNAMSIZ ||
	    unsafe_chars(op.iface) || strchr(op.iface, '/'))
		return fail(c, EXIT_USAGE, "bad interface name '%s'",
			    op.iface);
	if (check_path(c, "--tftp-root", op.tftp_root))
		return c->status;
	if (op.log_facility && strcmp(op.log_facility, "-") &&
	    check_path(c, "--log-facility", op.log_facility))
		return c->status;
	if (op.hosts_dir &&
	    (check_path(c, "--hosts-dir", op.hosts_dir) ||
	     strlen(op.hosts_dir) >= sizeof(st.conf.hostsdir)))
		return c->status ? c->status
				 : fail(c, EXIT_USAGE, "--hosts-dir '%s' is too "
					"long", op.hosts_dir);
	if (op.hosts_dir && op.dhcp != DHCP_SERVER)
		return fail(c, EXIT_USAGE, "--hosts-dir needs dnsmasq as the "
			    "DHCP server (not --proxy or --no-dhcp)");
	if (load(c, store_path, &st, &reg))
		return c->status;
	if (op.hosts_dir && set_hosts_dir(c, &st, &reg, op.hosts_dir)) {
		pifs_registry_release(&reg);
		pifs_store_close(&st);
		return c->status;
	}
	if (op.hosts_dir) {
		char abs[PATH_MAX];

		if (!realpath(st.path, abs))
			abs[0] = '\0';
		snprintf(op.script, sizeof(op.script), "%s/dhcp-event", abs);
	}
	print_dnsmasq(o, store_path, &st.conf, &reg, &op);
	pifs_registry_release(&reg);
	pifs_store_close(&st);
	return 0;
}

/* ---- exports ---- */

/* --install FILE: write FILE, then remember it (so a FILE that cannot be
 * written changes nothing), under the store's lock; then exportfs -r. */
static int install(struct ctx *c, FILE *o, struct pifs_store *st,
		   const char *store, const char *file, const char *root)
{
	struct pifs_store_conf conf;
	struct pifs_registry reg;
	char err[PATH_MAX + 256], *text = NULL, old[sizeof(conf.exports)];
	int r;

	pifs_registry_init(&reg);
	if (lock_conf(c, st))
		return c->status;
	if (pifs_registry_load(&reg, st->fd, err, sizeof(err)) < 0) {
		fail(c, 1, "store '%s': %s", st->path, err);
		goto out;
	}
	if (!(text = pifs_exports_text(store, &reg, root, file))) {
		fail(c, 1, "out of memory");
		goto out;
	}
	r = pifs_exports_write(file, store, text);
	if (r == -EEXIST) {
		fail(c, 1, "'%s' exists and was not written by pifs for this "
		     "store: not replaced", file);
		goto out;
	}
	if (r < 0) {
		fail(c, 1, "cannot write '%s': %s", file, strerror(-r));
		goto out;
	}
	conf = st->conf;
	snprintf(conf.exports, sizeof(conf.exports), "%s", file);
	snprintf(conf.exports_root, sizeof(conf.exports_root), "%s", root);
	memcpy(old, st->conf.exports, sizeof(old));
	if ((r = pifs_store_conf_save(st, &conf)) < 0) {
		fail(c, 1, "cannot write '%s/pifs.conf': %s", st->path,
		     strerror(-r));
		goto out;
	}
	/* installed elsewhere before: that file goes (if still ours) */
	if (old[0] && strcmp(old, file) &&
	    (r = pifs_exports_remove(old, store)) < 0)
		fprintf(c->err, "pifs: warning: '%s', where the exports were "
			"installed before, %s\n", old, r == -EEXIST ?
			"was not written by pifs: left as it is" :
			"cannot be removed");
	fprintf(o, "exports of '%s' installed in %s: pifs rewrites it and "
		"runs exportfs -r after every registry change\n", store, file);
	if (pifs_exports_reload(err, sizeof(err)) < 0)
		fprintf(c->err, "pifs: warning: %s; the exports apply at the "
			"next change or 'exportfs -r'\n", err);
out:
	free(text);
	pifs_registry_release(&reg);
	pifs_store_unlock(st);
	return c->status;
}

/* --uninstall: forget FILE, remove it (if pifs wrote it), exportfs -r. */
static int uninstall(struct ctx *c, FILE *o, struct pifs_store *st,
		     const char *store)
{
	struct pifs_store_conf conf;
	char err[256], file[sizeof(conf.exports)];
	int r;

	if (lock_conf(c, st))
		return c->status;
	if (!st->conf.exports[0]) {
		fprintf(o, "exports of '%s' are not installed\n", store);
		goto out;
	}
	conf = st->conf;
	memcpy(file, conf.exports, sizeof(file));
	conf.exports[0] = conf.exports_root[0] = '\0';
	if ((r = pifs_store_conf_save(st, &conf)) < 0) {
		fail(c, 1, "cannot write '%s/pifs.conf': %s", st->path,
		     strerror(-r));
		goto out;
	}
	r = pifs_exports_remove(file, store);
	if (r == -EEXIST)
		fprintf(c->err, "pifs: warning: '%s' was not written by pifs "
			"for this store: left as it is\n", file);
	else if (r < 0)
		fprintf(c->err, "pifs: warning: cannot remove '%s': %s\n",
			file, strerror(-r));
	fprintf(o, "exports of '%s' uninstalled: %s removed, pifs no longer "
		"runs exportfs\n", store, file);
	if (pifs_exports_reload(err, sizeof(err)) < 0)
		fprintf(c->err, "pifs: warning: %s\n", err);
out:
	pifs_store_unlock(st);
	return c->status;
}

static int cmd_exports(struct ctx *c, FILE *o, const char *store_path,
		       int argc, char **argv)
{
	static const struct option opts[] = {
	    {"nfsroot", required_argument, NULL, 'r'},
	    {"install", required_argument, NULL, 'I'},
	    {"uninstall", no_argument, NULL, 'U'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *nfsroot = NULL, *file = NULL, *base;
	struct pifs_registry reg;
	struct pifs_store st;
	char store[PATH_MAX], *text;
	int ch, uninst = 0;

	while ((ch = getopt_long(argc, argv, ":r:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			nfsroot = optarg;
			break;
		case 'I':
			file = optarg;
			break;
		case 'U':
			uninst = 1;
			break;
		default:
			return other_option(c, ch, argv, usage_exports, o);
		}
	}
	if (optind < argc)
		return fail(c, EXIT_USAGE, "unexpected argument '%s'",
			    argv[optind]);
	if (nfsroot && check_path(c, "--nfsroot", nfsroot))
		return c->status;
	if (nfsroot && strlen(nfsroot) >= sizeof(st.conf.exports_root))
		return fail(c, EXIT_USAGE, "--nfsroot '%s' is too long",
			    nfsroot);
	if (uninst && (file || nfsroot))
		return fail(c, EXIT_USAGE, "--uninstall takes no other option");
	if (file) {
		if (check_path(c, "--install", file))
			return c->status;
		base = strrchr(file, '/') + 1;
		if (strlen(file) >= sizeof(st.conf.exports) || !*base)
			return fail(c, EXIT_USAGE, "--install needs a file name "
				    "of at most %zu characters, got '%s'",
				    sizeof(st.conf.exports) - 1, file);
		/* exportfs reads only *.exports there: a silent no-op */
		if (strstr(file, "/exports.d/") && (strlen(base) < 9 ||
		    strcmp(base + strlen(base) - 8, ".exports")))
			return fail(c, EXIT_USAGE, "--install '%s': exportfs "
				    "reads only files named *.exports in "
				    "exports.d/", file);
	}
	if (load(c, store_path, &st, &reg))
		return c->status;
	if (!realpath(st.path, store))
		snprintf(store, sizeof(store), "%s", st.path);
	if (file || uninst) {
		pifs_registry_release(&reg);
		if (file)
			install(c, o, &st, store, file,
				nfsroot ? nfsroot : PIFS_EXPORTS_NFSROOT);
		else
			uninstall(c, o, &st, store);
		pifs_store_close(&st);
		return c->status;
	}
	/* Installed: the bytes of the file pifs keeps (which names the
	 * store by its absolute path); else the store as given. */
	if (!nfsroot)
		nfsroot = st.conf.exports[0] ? st.conf.exports_root
					     : PIFS_EXPORTS_NFSROOT;
	text = pifs_exports_text(st.conf.exports[0] ? store : store_path,
				 &reg, nfsroot,
				 st.conf.exports[0] ? st.conf.exports : NULL);
	pifs_registry_release(&reg);
	pifs_store_close(&st);
	if (!text)
		return fail(c, 1, "out of memory");
	fputs(text, o);
	free(text);
	return 0;
}

int pifs_bootconf_run(FILE *out, FILE *err, const char *cmd,
		      const char *store_path, int argc, char **argv)
{
	struct ctx c = {.err = err};
	char *text = NULL;
	size_t len = 0;
	FILE *o;
	int ret;

	optind = 0; /* a fresh getopt scan of argv[1..] */
	opterr = 0;
	o = open_memstream(&text, &len);
	if (!o)
		return fail(&c, 1, "out of memory");
	if (!strcmp(cmd, "dnsmasq-conf"))
		ret = cmd_dnsmasq(&c, o, store_path, argc, argv);
	else if (!strcmp(cmd, "exports"))
		ret = cmd_exports(&c, o, store_path, argc, argv);
	else
		ret = fail(&c, EXIT_USAGE, "unknown command '%s'", cmd);
	if (fclose(o) != 0 && ret <= 0)
		ret = fail(&c, 1, "out of memory");
	if (ret <= 0) { /* 0: configuration, -1: --help */
		fwrite(text, 1, len, out);
		ret = 0;
		if (fflush(out) != 0 || ferror(out))
			ret = fail(&c, 1, "cannot write the output: %s",
				   strerror(errno));
	}
	free(text);
	return ret;
}

int pifs_bootconf_main(const char *cmd, const char *store_path, int argc,
		       char **argv)
{
	return pifs_bootconf_run(stdout, stderr, cmd, store_path, argc, argv);
}
