/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd-worker.c - pifs worker add, list, accept and remove, and pifs
 * enroll (zero-touch enrolment, its setting): the store's registry
 * of workers (name, serial, MAC, address, id, board model, TFTP directory)
 * and each worker's delta,
 * created on a golden when it is added and kept aside when it is
 * removed.  A running pifsd is told before the command returns.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"
#include "ctl.h"
#include "exports.h"
#include "json.h"
#include "registry.h"
#include "safeio.h"
#include "store.h"

static const char usage_worker[] =
    "usage: pifs [--store DIR] worker add NAME --serial SERIAL\n"
    "                                     [--model MODEL] [--mac MAC]\n"
    "                                     [--tftp-prefix PREFIX]\n"
    "                                     [--ip IPv4] [--golden ID]\n"
    "       pifs [--store DIR] worker list [--json]\n"
    "       pifs [--store DIR] worker accept NAME [--mac MAC] [--serial "
    "SERIAL]\n"
    "       pifs [--store DIR] worker remove NAME [--force]\n"
    "\n"
    "NAME is [a-z0-9][a-z0-9-]*, at most 63 characters; SERIAL the Pi's\n"
    "serial: 8 hex digits, or the 16 of /proc/cpuinfo when they start with\n"
    "00000000 or 10000000.  MODEL is pi3b+ (the default), pi4 or pi5.  A\n"
    "pi3b+'s MAC is b8:27:eb: and the serial's last 6 digits (a --mac must\n"
    "be that); a pi4 or pi5 needs --mac (a MAC outside Raspberry Pi's\n"
    "prefixes is taken with a warning).  PREFIX is what the board's EEPROM\n"
    "TFTP_PREFIX says, and so the directory it asks for in tftpboot/:\n"
    "serial (0, the default: the serial), mac (2: the MAC with dashes,\n"
    "dc-a6-32-01-36-c2) or str:NAME (1: TFTP_PREFIX_STR=NAME/, NAME 1 to 31\n"
    "of [A-Za-z0-9._-], not starting with '.'); a pi3b+ has only serial.\n"
    "Two workers cannot have the same directory.  The address defaults to\n"
    "the lowest free one in the store's range (an --ip must be in the\n"
    "range's /24, and not the master's); the golden to the store's default\n"
    "(pifs golden default).  A pi5 needs a golden with its files: import a\n"
    "Raspberry Pi OS image (Debian has no Pi 5 kernel).\n"
    "list shows each worker's model and TFTP directory, and marks a worker\n"
    "that registered itself (pifs enroll on) and no admin accepted yet:\n"
    "STATE enrolled.  accept takes such a worker as a regular one; a pi4\n"
    "or pi5 that enrolled by its serial needs --mac, one that enrolled by\n"
    "its MAC needs --serial (what its boot request could not tell).\n"
    "remove refuses while the store is mounted unless --force is given; the\n"
    "worker's delta is kept as deltas/.removed-NAME-<time>.\n"
    "list --json prints the list as one JSON document (README: Machine-\n"
    "readable output).\n"
    "With the store mounted, add and remove return once pifsd shows the\n"
    "change in nfsroot/ and tftpboot/.\n";

/* dnsmasq's reservations follow the registry (dnsmasq-conf --hosts-dir). */
void hosts_update(struct pifs_store *st, const struct pifs_registry *reg)
{
	int ret = pifs_store_hosts_write(st, reg);

	if (ret < 0)
		fprintf(stderr, "pifs: warning: cannot write dnsmasq's "
			"reservations '%s/pifs-workers': %s\n",
			st->conf.hostsdir, strerror(-ret));
}

/* The NFS exports follow the registry (exports --install): after a
 * running pifsd confirmed the change, so a new worker's file system is
 * mounted when exportfs -r runs (exports.c). */
void exports_update(struct pifs_store *st, const struct pifs_registry *reg)
{
	char err[PATH_MAX + 256];

	if (pifs_exports_apply(st, reg, err, sizeof(err)) < 0)
		fprintf(stderr, "pifs: warning: %s; the registry change "
			"stands\n", err);
}

static int ip_parse(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

/* The lowest address of the store's range no worker has, into out. */
static int free_ip(const struct pifs_store *st, const struct pifs_registry *reg,
		   char out[16])
{
	uint32_t lo, hi, a;
	struct in_addr ia;
	size_t i;

	if (ip_parse(st->conf.range_lo, &lo) < 0 ||
	    ip_parse(st->conf.range_hi, &hi) < 0 || lo > hi)
		die(1, "store '%s' has a bad range %s-%s", st->path,
		    st->conf.range_lo, st->conf.range_hi);
	for (a = lo;; a++) {
		ia.s_addr = htonl(a);
		inet_ntop(AF_INET, &ia, out, 16);
		for (i = 0; i < reg->count; i++)
			if (!strcmp(reg->workers[i].ip, out))
				break;
		if (i == reg->count)
			return 0;
		if (a == hi)
			break;
	}
	return -ENOSPC;
}

/* An address the worker can really get: dnsmasq-conf serves the store's
 * range as one /24 (dhcp-range=LO,HI,255.255.255.0), and dnsmasq gives a
 * dhcp-host address only inside the network of a dhcp-range.  Outside the
 * range but inside that network is fine (the usual place for fixed
 * addresses); the network and broadcast addresses and the master's own
 * are not. */
static void check_ip(const struct pifs_store *st, const char *ip)
{
	uint32_t a, lo, m;

	if (ip_parse(ip, &a) < 0 || ip_parse(st->conf.range_lo, &lo) < 0)
		die(EXIT_USAGE, "bad ip '%s' (want a dotted IPv4 address)", ip);
	if ((a & 0xffffff00u) != (lo & 0xffffff00u))
		die(1,
		    "ip %s is outside the workers' network %u.%u.%u.0/24 (the "
		    "store's DHCP range is %s-%s): dnsmasq would not give it "
		    "to the worker",
		    ip, lo >> 24, lo >> 16 & 255, lo >> 8 & 255,
		    st->conf.range_lo, st->conf.range_hi);
	if ((a & 255) == 0 || (a & 255) == 255)
		die(1, "ip %s is the network's %s address", ip,
		    (a & 255) ? "broadcast" : "own");
	if (ip_parse(st->conf.master, &m) == 0 && m == a)
		die(1, "ip %s is the master's address", ip);
}

static int worker_add(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"serial", required_argument, NULL, 's'},
	    {"mac", required_argument, NULL, 'm'},
	    {"ip", required_argument, NULL, 'i'},
	    {"golden", required_argument, NULL, 'g'},
	    {"model", required_argument, NULL, 'M'},
	    {"tftp-prefix", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *serial = NULL, *mac = NULL, *ip = NULL, *name, *garg = NULL;
	const char *model = NULL, *prefix = NULL;
	char dir[32], pi3mac[18];
	char gold[17];
	struct pifs_registry reg;
	struct pifs_worker w;
	struct pifs_store st;
	char err[256];
	int c, ret;

	while ((c = sub_getopt(argc, argv, ":s:m:i:h", opts, usage_worker)) !=
	       -1) {
		if (c == 's')
			serial = optarg;
		else if (c == 'm')
			mac = optarg;
		else if (c == 'i')
			ip = optarg;
		else if (c == 'g')
			garg = optarg;
		else if (c == 'M')
			model = optarg;
		else if (c == 'p')
			prefix = optarg;
	}
	if (optind >= argc)
		die(EXIT_USAGE, "worker add needs a NAME");
	name = argv[optind++];
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (!serial)
		die(EXIT_USAGE, "worker add needs --serial SERIAL");

	memset(&w, 0, sizeof(w));
	if (pifs_worker_name_valid(name) < 0)
		die(EXIT_USAGE,
		    "bad worker name '%s' (want [a-z0-9][a-z0-9-]*, at most %d "
		    "characters)",
		    name, PIFS_NAME_MAX);
	strcpy(w.name, name);
	if (model && pifs_model_parse(model, &w.model) < 0)
		die(EXIT_USAGE, "bad model '%s' (want pi3b+, pi4 or pi5)", model);
	if (pifs_serial_parse(serial, w.serial) < 0)
		die(EXIT_USAGE,
		    "bad serial '%s' (want 8 hex digits, or 16 starting with "
		    "00000000 or 10000000)",
		    serial);
	if (mac && pifs_mac_norm(mac, w.mac) < 0)
		die(EXIT_USAGE, "bad mac '%s' (want aa:bb:cc:dd:ee:ff)", mac);
	if (prefix && pifs_tftp_prefix_parse(prefix, &w) < 0)
		die(EXIT_USAGE,
		    "bad tftp prefix '%s' (want serial, mac or str:NAME, NAME "
		    "1 to %d of [A-Za-z0-9._-] not starting with '.')",
		    prefix, PIFS_TFTP_STR_MAX);
	if (w.model == PIFS_MODEL_PI3BPLUS) {
		/* The 3B+'s MAC is in its OTP, from its serial: another one
		 * is a typo in one of the two. */
		pifs_mac_from_serial(w.serial, pi3mac);
		if (mac && strcmp(w.mac, pi3mac))
			die(1,
			    "mac %s is not serial %s's: a pi3b+'s MAC is %s "
			    "(another board: --model pi4 or pi5)",
			    w.mac, w.serial, pi3mac);
		memcpy(w.mac, pi3mac, sizeof(w.mac));
		if (w.prefix != PIFS_PREFIX_SERIAL)
			die(1, "a pi3b+ has no TFTP_PREFIX setting: its TFTP "
			       "directory is its serial (--tftp-prefix serial)");
	} else if (!mac) {
		die(1, "a %s needs --mac: its MAC is not derived from its serial",
		    pifs_model_name(w.model));
	}
	if (ip && pifs_ipv4_valid(ip) < 0)
		die(EXIT_USAGE, "bad ip '%s' (want a dotted IPv4 address)", ip);
	if (ip)
		strcpy(w.ip, ip);

	open_store(&st, store_path());
	if (garg)
		need_golden(&st, garg, gold);
	else
		memcpy(gold, st.conf.golden, sizeof(gold));
	lock_store(&st);
	load_registry(&st, &reg);
	if (!ip && free_ip(&st, &reg, w.ip) < 0)
		die(1, "no free address in %s-%s", st.conf.range_lo,
		    st.conf.range_hi);
	if (ip)
		check_ip(&st, ip);
	if (pifs_registry_add(&reg, &w, err, sizeof(err)) < 0)
		die(1, "%s", err);
	if (!pifs_mac_known(w.mac))
		fprintf(stderr,
			"pifs: warning: mac %s is not one of Raspberry Pi's "
			"prefixes (b8:27:eb, dc:a6:32, e4:5f:01, d8:3a:dd, "
			"28:cd:c1, 2c:cf:67)\n",
			w.mac);
	ret = pifs_store_delta_create_on(&st, w.name, gold);
	if (ret == -EEXIST)
		die(1, "delta '%s/deltas/%s' already exists", st.path, w.name);
	if (ret < 0)
		die(1, "cannot create delta '%s/deltas/%s': %s", st.path,
		    w.name, strerror(-ret));
	ret = pifs_registry_save(&reg, st.fd);
	if (ret < 0) {
		pifs_store_delta_undo_create(&st, w.name);
		die(1, "cannot save registry '%s/workers': %s", st.path,
		    strerror(-ret));
	}
	hosts_update(&st, &reg);
	tell_pifsd_workers(&st);
	exports_update(&st, &reg);
	pifs_worker_tftp_dir(&w, dir);
	printf("added %s: %s serial %s mac %s ip %s tftp %s/ (id %u)\n", w.name,
	       pifs_model_name(w.model), w.serial, w.mac, w.ip, dir, w.id);
	close_store(&st, &reg, NULL);
	return 0;
}

/* worker list --json: {"version": 1, "workers": [...]}. */
static void worker_list_json(const struct pifs_registry *reg)
{
	struct json j;

	json_init(&j);
	json_object_begin(&j);
	json_member_int(&j, "version", 1);
	json_key(&j, "workers");
	json_array_begin(&j);
	for (size_t i = 0; i < reg->count; i++) {
		const struct pifs_worker *w = &reg->workers[i];
		char dir[32], pf[40];

		pifs_worker_tftp_dir(w, dir);
		pifs_tftp_prefix_format(w, pf, sizeof(pf));
		json_object_begin(&j);
		json_member_string(&j, "name", w->name);
		json_member_string(&j, "serial",
				   w->serial[0] ? w->serial : NULL);
		json_member_string(&j, "mac", w->mac[0] ? w->mac : NULL);
		json_member_string(&j, "ip", w->ip[0] ? w->ip : NULL);
		json_member_uint(&j, "id", w->id);
		json_member_string(&j, "model", pifs_model_name(w->model));
		json_member_string(&j, "tftp_prefix", pf);
		json_member_string(&j, "tftp_dir", dir);
		json_member_bool(&j, "enrolled",
				 !!(w->flags & PIFS_WORKER_ENROLLED));
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	print_json(&j);
}

static int worker_list(int argc, char **argv)
{
	struct pifs_registry reg;
	struct pifs_store st;
	int namew = 4, json;
	size_t i;

	json = sub_json_only(argc, argv, usage_worker);
	open_store(&st, store_path());
	load_registry(&st, &reg);
	if (json) {
		worker_list_json(&reg);
		close_store(&st, &reg, NULL);
		return 0;
	}
	for (i = 0; i < reg.count; i++)
		if ((int)strlen(reg.workers[i].name) > namew)
			namew = (int)strlen(reg.workers[i].name);
	/* New columns go last: scripts read the first five by position. */
	printf("%-*s  %-8s  %-17s  %-15s  %-5s  %-5s  %-17s  %s\n", namew,
	       "NAME", "SERIAL", "MAC", "IP", "ID", "MODEL", "TFTP-DIR",
	       "STATE");
	for (i = 0; i < reg.count; i++) {
		const struct pifs_worker *w = &reg.workers[i];
		char dir[32];

		pifs_worker_tftp_dir(w, dir);
		printf("%-*s  %-8s  %-17s  %-15s  %-5u  %-5s  %-17s  %s\n",
		       namew, w->name, w->serial[0] ? w->serial : "-",
		       w->mac[0] ? w->mac : "-", w->ip[0] ? w->ip : "-", w->id,
		       pifs_model_name(w->model), dir,
		       w->flags & PIFS_WORKER_ENROLLED ? "enrolled" : "-");
	}
	close_store(&st, &reg, NULL);
	return 0;
}

static int worker_remove(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_registry reg;
	struct pifs_store st;
	char *kept = NULL;
	const char *name;
	int c, force = 0, ret;
	pid_t pid;

	while ((c = sub_getopt(argc, argv, ":fh", opts, usage_worker)) != -1)
		if (c == 'f')
			force = 1;
	if (optind >= argc)
		die(EXIT_USAGE, "worker remove needs a NAME");
	name = argv[optind++];
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (pifs_worker_name_valid(name) < 0)
		die(EXIT_USAGE, "bad worker name '%s'", name);

	open_store(&st, store_path());
	lock_store(&st);
	ret = pifs_store_mounted(&st, &pid);
	if (ret < 0)
		die(1, "cannot check whether '%s' is mounted: %s", st.path,
		    strerror(-ret));
	if (ret > 0 && !force)
		die(1,
		    "store '%s' is mounted (pifsd pid %ld); unmount it first "
		    "or use --force",
		    st.path, (long)pid);
	load_registry(&st, &reg);
	if (pifs_registry_remove(&reg, name) < 0)
		die(1, "no worker '%s'", name);
	ret = pifs_store_delta_retire(&st, name, &kept);
	if (ret < 0 && ret != -ENOENT)
		die(1, "cannot move delta '%s/deltas/%s' aside: %s", st.path,
		    name, strerror(-ret));
	ret = pifs_registry_save(&reg, st.fd);
	if (ret < 0) {
		if (kept)
			pifs_store_delta_unretire(&st, kept, name);
		die(1, "cannot save registry '%s/workers': %s", st.path,
		    strerror(-ret));
	}
	hosts_update(&st, &reg);
	tell_pifsd_workers(&st);
	exports_update(&st, &reg);
	if (kept)
		printf("removed %s; its delta is kept as '%s/deltas/%s'\n",
		       name, st.path, kept);
	else
		printf("removed %s; it had no delta\n", name);
	free(kept);
	close_store(&st, &reg, NULL);
	return 0;
}

/* A running pifsd re-reads what changed ("workers", "reload"). */
void tell_pifsd(struct pifs_store *st, const char *what)
{
	char msg[256] = "";
	int fd = ctl_connect(st), ret;

	if (fd < 0)
		return;
	ret = pifs_ctl_call(fd, what, 10000, msg, sizeof(msg));
	pifs_ctl_close(fd);
	if (ret < 0)
		fprintf(stderr, "pifs: warning: the pifsd of '%s' did not "
			"confirm the change: %s\n", st->path,
			msg[0] ? msg : strerror(-ret));
}

static int worker_accept(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"mac", required_argument, NULL, 'm'},
	    {"serial", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *name, *mac = NULL, *serial = NULL;
	char nmac[18] = "", nserial[9] = "", err[256];
	struct pifs_registry reg;
	struct pifs_worker *w = NULL, nw;
	struct pifs_store st;
	int c, ret;

	while ((c = sub_getopt(argc, argv, ":m:s:h", opts, usage_worker)) !=
	       -1) {
		if (c == 'm')
			mac = optarg;
		else if (c == 's')
			serial = optarg;
	}
	if (optind >= argc)
		die(EXIT_USAGE, "worker accept needs a NAME");
	name = argv[optind++];
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (pifs_worker_name_valid(name) < 0)
		die(EXIT_USAGE, "bad worker name '%s'", name);
	if (mac && pifs_mac_norm(mac, nmac) < 0)
		die(EXIT_USAGE, "bad mac '%s' (want aa:bb:cc:dd:ee:ff)", mac);
	if (serial && pifs_serial_parse(serial, nserial) < 0)
		die(EXIT_USAGE,
		    "bad serial '%s' (want 8 hex digits, or 16 starting with "
		    "00000000 or 10000000)",
		    serial);

	open_store(&st, store_path());
	lock_store(&st);
	load_registry(&st, &reg);
	for (size_t i = 0; i < reg.count; i++)
		if (!strcmp(reg.workers[i].name, name))
			w = &reg.workers[i];
	if (!w)
		die(1, "no worker '%s' in store '%s'", name, st.path);
	if (!(w->flags & PIFS_WORKER_ENROLLED))
		die(1, "worker '%s' is not enrolled (it was added or accepted "
		       "already)", name);
	nw = *w;
	if (mac && nw.mac[0] && strcmp(nw.mac, nmac))
		die(1, "worker '%s' has mac %s, not %s", name, nw.mac, nmac);
	if (serial && nw.serial[0] && strcmp(nw.serial, nserial))
		die(1, "worker '%s' has serial %s, not %s", name, nw.serial,
		    nserial);
	if (mac)
		memcpy(nw.mac, nmac, sizeof(nw.mac));
	if (serial)
		memcpy(nw.serial, nserial, sizeof(nw.serial));
	if (!nw.mac[0])
		die(1, "worker '%s' is a %s that enrolled by its serial: its "
		       "MAC is not known, accept it with --mac MAC", name,
		    pifs_model_name(nw.model));
	if (!nw.serial[0])
		die(1, "worker '%s' enrolled by its MAC: its serial is not "
		       "known, accept it with --serial SERIAL", name);
	for (size_t i = 0; i < reg.count; i++) {
		const struct pifs_worker *o = &reg.workers[i];

		if (o == w)
			continue;
		if (!strcmp(o->mac, nw.mac))
			die(1, "mac %s is already %s's", nw.mac, o->name);
		if (!strcmp(o->serial, nw.serial))
			die(1, "serial %s is already %s's", nw.serial, o->name);
	}
	nw.flags &= ~PIFS_WORKER_ENROLLED;
	if (pifs_worker_check(&nw, err, sizeof(err)) < 0)
		die(1, "%s", err);
	*w = nw;
	ret = pifs_registry_save(&reg, st.fd);
	if (ret < 0)
		die(1, "cannot save registry '%s/workers': %s", st.path,
		    strerror(-ret));
	hosts_update(&st, &reg);
	tell_pifsd_workers(&st);
	exports_update(&st, &reg);
	printf("accepted %s: %s serial %s mac %s ip %s\n", nw.name,
	       pifs_model_name(nw.model), nw.serial, nw.mac, nw.ip);
	close_store(&st, &reg, NULL);
	return 0;
}

int cmd_worker(int argc, char **argv)
{
	static const struct sub_cmd cmds[] = {
	    {"add", worker_add},       {"list", worker_list},
	    {"remove", worker_remove}, {"accept", worker_accept},
	    {NULL, NULL},
	};

	return sub_dispatch(argc, argv, "worker",
			    "add, list, accept or remove", usage_worker, cmds);
}

static const char usage_enroll[] =
    "usage: pifs [--store DIR] enroll [on [--max N] | off]\n"
    "\n"
    "Zero-touch enrolment, a store setting (off by default).  With it on, a\n"
    "board that asks tftpboot/ for a directory no worker has, named like a\n"
    "serial (8 hex digits) or a MAC (dc-a6-32-01-36-c2), is registered by\n"
    "pifsd as the next free worker-N, on a new delta over the default\n"
    "golden, with the lowest free address of the store's range, and served\n"
    "at once; pifs worker list shows it as enrolled until pifs worker\n"
    "accept NAME.  At most N workers (default 5, 1 to 1000) are enrolled\n"
    "and not accepted at a time: past that nothing is registered, and that\n"
    "is logged once.  A serial directory is taken for a pi4, a MAC\n"
    "directory for a pi4 (a pi5 for 2c:cf:67).  Without an argument: show\n"
    "the setting.  A mounted pifsd follows at once.\n";

int cmd_enroll(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"max", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pifs_store_conf conf;
	struct pifs_registry reg;
	struct pifs_store st;
	const char *max = NULL, *what = NULL;
	unsigned long m = 0;
	char *end;
	int c, ret;

	while ((c = sub_getopt(argc, argv, ":h", opts, usage_enroll)) != -1)
		if (c == 'M')
			max = optarg;
	if (optind < argc)
		what = argv[optind++];
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (what && strcmp(what, "on") && strcmp(what, "off"))
		die(EXIT_USAGE, "unknown enroll setting '%s' (want on or off)",
		    what);
	if (max && (!what || strcmp(what, "on")))
		die(EXIT_USAGE, "--max goes with 'enroll on'");
	if (max) {
		errno = 0;
		m = strtoul(max, &end, 10);
		if (*max < '0' || *max > '9' || *end || errno || m < 1 ||
		    m > PIFS_ENROLL_MAX_LIMIT)
			die(EXIT_USAGE, "bad --max '%s' (want 1 to %d)", max,
			    PIFS_ENROLL_MAX_LIMIT);
	}
	open_store(&st, store_path());
	if (!what) {
		load_registry(&st, &reg);
		printf("enroll %s (at most %u enrolled and not accepted; %zu "
		       "now)\n", st.conf.enroll ? "on" : "off",
		       st.conf.enroll_max, pifs_registry_enrolled(&reg));
		close_store(&st, &reg, NULL);
		return 0;
	}
	lock_store(&st);
	if ((ret = pifs_store_conf_reload(&st)) < 0)
		die(1, "cannot read '%s/pifs.conf': %s", st.path, strerror(-ret));
	conf = st.conf;
	conf.enroll = !strcmp(what, "on");
	if (max)
		conf.enroll_max = (unsigned)m;
	if ((ret = pifs_store_conf_save(&st, &conf)) < 0)
		die(1, "cannot write '%s/pifs.conf': %s", st.path, strerror(-ret));
	tell_pifsd(&st, "reload");
	printf("enroll %s (at most %u enrolled and not accepted)\n",
	       conf.enroll ? "on" : "off", conf.enroll_max);
	pifs_store_close(&st);
	return 0;
}
