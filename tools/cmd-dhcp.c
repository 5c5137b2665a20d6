/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd-dhcp.c - pifs dhcp-event, dnsmasq's dhcp-script: joins an enrolled
 * board's MAC (from dnsmasq's lease events) to the worker whose TFTP
 * directory its address fetched from, through STORE/dhcp-seen.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "registry.h"
#include "safeio.h"
#include "store.h"

/*
 * pifs dhcp-event: dnsmasq's dhcp-script (pifs dnsmasq-conf --hosts-dir
 * writes STORE/dhcp-event, which runs this), to learn the MAC of a Pi 4
 * or 5 that enrolled by its serial.  pifsd sees the directory a board
 * asks for, never its address; dnsmasq sees the address and the MAC, not
 * the serial.  dnsmasq tells this script both halves: "add"/"old" MAC IP
 * when it acknowledges a lease (an EEPROM asks for one: REQUEST/ACK), and
 * "tftp" SIZE IP FILE when a transfer ends.  So an address that fetched
 * a file of an enrolled worker's directory joins that worker to the MAC
 * that holds the address's lease.  What was seen is kept in
 * STORE/dhcp-seen (at most SEEN_MAX lines of checked values: a MAC or
 * directory per address); the join writes the MAC into the registry and
 * the reservations file, so the board keeps its registered address from
 * its next DHCP on.  Only for enrolled workers whose MAC is missing, and
 * never a MAC another worker has: an admin still accepts the worker.
 * Unknown actions are ignored; any failure is one line on stderr (which
 * dnsmasq logs) and exit 0, so dnsmasq never stops calling it.
 */
#define SEEN_FILE "dhcp-seen"
#define SEEN_MAX 256

struct seen {
	char kind[4]; /* "mac" or "dir" */
	char ip[16];
	char val[32];
};

static size_t seen_load(struct pifs_store *st, struct seen *s)
{
	char *text = NULL, *line, *save = NULL;
	size_t n = 0;

	if (pifs_read_file(st->fd, SEEN_FILE, 65536, &text, NULL) < 0)
		return 0;
	for (line = strtok_r(text, "\n", &save); line && n < SEEN_MAX;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%3s %15s %31s", s[n].kind, s[n].ip,
			   s[n].val) == 3)
			n++;
	}
	free(text);
	return n;
}

/* Record (kind, ip) = val, newest last, the oldest dropped past SEEN_MAX. */
static size_t seen_put(struct seen *s, size_t n, const char *kind,
		       const char *ip, const char *val)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s[i].kind, kind) && !strcmp(s[i].ip, ip)) {
			memmove(&s[i], &s[i + 1], (n - i - 1) * sizeof(*s));
			n--;
			break;
		}
	if (n == SEEN_MAX) {
		memmove(&s[0], &s[1], (n - 1) * sizeof(*s));
		n--;
	}
	snprintf(s[n].kind, sizeof(s[n].kind), "%s", kind);
	snprintf(s[n].ip, sizeof(s[n].ip), "%s", ip);
	snprintf(s[n].val, sizeof(s[n].val), "%s", val);
	return n + 1;
}

static const char *seen_get(const struct seen *s, size_t n, const char *kind,
			    const char *ip)
{
	for (size_t i = n; i-- > 0;)
		if (!strcmp(s[i].kind, kind) && !strcmp(s[i].ip, ip))
			return s[i].val;
	return NULL;
}

static int seen_save(struct pifs_store *st, const struct seen *s, size_t n)
{
	char *text = malloc(n * 64 + 1);
	size_t len = 0;
	int ret;

	if (!text)
		return -ENOMEM;
	text[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, 64, "%s %s %s\n", s[i].kind,
					s[i].ip, s[i].val);
	ret = pifs_write_file_atomic(st->fd, SEEN_FILE, text, len, 0600);
	free(text);
	return ret;
}

/* The enrolled worker without a MAC whose TFTP directory is a component
 * of path, or NULL. */
static struct pifs_worker *macless_by_path(struct pifs_registry *reg,
					   const char *path)
{
	for (size_t i = 0; i < reg->count; i++) {
		struct pifs_worker *w = &reg->workers[i];
		const char *p = path;
		char dir[32];
		size_t len;

		if (!(w->flags & PIFS_WORKER_ENROLLED) || w->mac[0])
			continue;
		pifs_worker_tftp_dir(w, dir);
		len = strlen(dir);
		while ((p = strstr(p, dir)))
			if ((p == path || p[-1] == '/') && p[len] == '/')
				return w;
			else
				p++;
	}
	return NULL;
}

int cmd_dhcp_event(int argc, char **argv)
{
	struct pifs_registry reg;
	struct pifs_store st;
	struct pifs_worker *w = NULL;
	char mac[18], dir[32], ip[16], err[PATH_MAX + 128];
	struct seen *s;
	const char *act = argc > 1 ? argv[1] : "", *m;
	size_t n;
	int ret;

	if (argc > 1 && (!strcmp(act, "--help") || !strcmp(act, "-h"))) {
		fputs("usage: pifs [--store DIR] dhcp-event ACTION ARGS...\n"
		      "\n"
		      "dnsmasq's dhcp-script (pifs dnsmasq-conf --hosts-dir "
		      "sets it up): learns\n"
		      "the MAC of a Pi 4 or 5 that enrolled by its serial "
		      "from dnsmasq's lease\n"
		      "(add|old MAC IP) and TFTP (tftp SIZE IP FILE) events."
		      "  Other actions\n"
		      "are ignored.\n", stdout);
		return 0;
	}
	if (strcmp(act, "add") && strcmp(act, "old") && strcmp(act, "tftp"))
		return 0;
	if (argc < 4 || pifs_ipv4_valid(argv[3]) < 0)
		return 0;
	snprintf(ip, sizeof(ip), "%s", argv[3]);
	if (strcmp(act, "tftp") && (argc < 4 || pifs_mac_norm(argv[2], mac) < 0))
		return 0; /* not an Ethernet MAC (a DUID, a token ring) */
	if (!strcmp(act, "tftp") && argc < 5)
		return 0;
	if (pifs_store_open(&st, store_path(), err, sizeof(err)) < 0) {
		fprintf(stderr, "pifs: dhcp-event: %s\n", err);
		return 0;
	}
	if ((ret = pifs_store_lock(&st, 10000)) < 0) {
		fprintf(stderr, "pifs: dhcp-event: store '%s' is busy: event "
			"dropped\n", st.path);
		pifs_store_close(&st);
		return 0;
	}
	pifs_registry_init(&reg);
	if (pifs_registry_load(&reg, st.fd, err, sizeof(err)) < 0 ||
	    !(s = calloc(SEEN_MAX, sizeof(*s)))) {
		fprintf(stderr, "pifs: dhcp-event: %s\n", err);
		close_store(&st, &reg, NULL);
		return 0;
	}
	n = seen_load(&st, s);
	if (strcmp(act, "tftp")) {
		n = seen_put(s, n, "mac", ip, mac);
	} else if ((w = macless_by_path(&reg, argv[4]))) {
		pifs_worker_tftp_dir(w, dir);
		n = seen_put(s, n, "dir", ip, dir);
	}
	if ((ret = seen_save(&st, s, n)) < 0)
		fprintf(stderr, "pifs: dhcp-event: cannot write '%s/%s': %s\n",
			st.path, SEEN_FILE, strerror(-ret));
	/* the join: this address's MAC and its enrolled directory */
	m = seen_get(s, n, "mac", ip);
	if (!w && m) {
		const char *d = seen_get(s, n, "dir", ip);

		for (size_t i = 0; d && i < reg.count; i++) {
			pifs_worker_tftp_dir(&reg.workers[i], dir);
			if (!strcmp(dir, d) &&
			    (reg.workers[i].flags & PIFS_WORKER_ENROLLED) &&
			    !reg.workers[i].mac[0])
				w = &reg.workers[i];
		}
	}
	if (w && m) {
		for (size_t i = 0; i < reg.count; i++)
			if (!strcmp(reg.workers[i].mac, m)) {
				fprintf(stderr, "pifs: dhcp-event: %s asked "
					"from %s, whose mac %s is already "
					"%s's: not taken\n", w->name, ip, m,
					reg.workers[i].name);
				w = NULL;
				break;
			}
	}
	if (w && m && pifs_mac_norm(m, w->mac) == 0) {
		if ((ret = pifs_registry_save(&reg, st.fd)) < 0) {
			fprintf(stderr, "pifs: dhcp-event: cannot save "
				"registry '%s/workers': %s\n", st.path,
				strerror(-ret));
		} else {
			fprintf(stderr, "pifs: enrolled %s has mac %s (its "
				"files went to %s)\n", w->name, m, ip);
			hosts_update(&st, &reg);
			tell_pifsd(&st, "workers");
			exports_update(&st, &reg);
		}
	}
	free(s);
	close_store(&st, &reg, NULL);
	return 0;
}
