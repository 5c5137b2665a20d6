/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry.c - the worker registry (STORE/workers): validation of names,
 * serials, MACs, addresses, models and TFTP prefixes, load and save, and
 * add/remove keeping the array sorted by name, view ids never reused
 * (next-id only grows) and every TFTP directory name unique.  The file's
 * text (parser and formatter) is registry_line.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "registry_internal.h"
#include "safeio.h"
#include "util.h"

#define REGISTRY_FILE	"workers"
#define REGISTRY_MAX	(16 << 20)

int pifs_worker_name_valid(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > PIFS_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (c == '-' && i > 0)
			continue;
		return -EINVAL;
	}
	return 0;
}

int pifs_serial_norm(const char *in, char out[9])
{
	size_t i;

	if (strlen(in) != 8)
		return -EINVAL;
	for (i = 0; i < 8; i++) {
		if (!isxdigit((unsigned char)in[i]))
			return -EINVAL;
		out[i] = (char)tolower((unsigned char)in[i]);
	}
	out[8] = '\0';
	return 0;
}

int pifs_mac_norm(const char *in, char out[18])
{
	size_t i;

	if (strlen(in) != 17)
		return -EINVAL;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (in[i] != ':')
				return -EINVAL;
			out[i] = ':';
		} else {
			if (!isxdigit((unsigned char)in[i]))
				return -EINVAL;
			out[i] = (char)tolower((unsigned char)in[i]);
		}
	}
	out[17] = '\0';
	return 0;
}

int pifs_ipv4_valid(const char *ip)
{
	struct in_addr a;

	/* glibc's inet_pton takes dotted quads only, without leading zeros,
	 * so a valid address has one spelling and strcmp finds duplicates. */
	if (strlen(ip) > 15 || inet_pton(AF_INET, ip, &a) != 1)
		return -EINVAL;
	return 0;
}

void pifs_mac_from_serial(const char serial[9], char out[18])
{
	snprintf(out, 18, "b8:27:eb:%c%c:%c%c:%c%c", serial[2], serial[3],
		 serial[4], serial[5], serial[6], serial[7]);
}

int pifs_serial_parse(const char *in, char out[9])
{
	/* /proc/cpuinfo shows 16 digits; a Pi 3's start with 00000000, some
	 * Pi 4s' with 10000000, which the boot loader drops from its TFTP
	 * directory (nobodd's explain-pi-netboot, rpi-eeprom docs). */
	if (strlen(in) == 16 && (!strncmp(in, "00000000", 8) ||
				 !strncmp(in, "10000000", 8)))
		in += 8;
	return pifs_serial_norm(in, out);
}

int pifs_mac_known(const char mac[18])
{
	/* Raspberry Pi's OUIs: b8:27:eb (Pi 3 and earlier), dc:a6:32 and
	 * e4:5f:01 (Pi 4), d8:3a:dd, 28:cd:c1 and 2c:cf:67 (Pi 4 and 5). */
	static const char *const oui[] = { "b8:27:eb", "dc:a6:32", "e4:5f:01",
					   "d8:3a:dd", "28:cd:c1", "2c:cf:67",
					   NULL };

	for (int i = 0; oui[i]; i++)
		if (!strncmp(mac, oui[i], 8))
			return 1;
	return 0;
}

static const char *const model_names[] = { "pi3b+", "pi4", "pi5" };

const char *pifs_model_name(enum pifs_model m)
{
	return (unsigned)m < 3 ? model_names[m] : "?";
}

int pifs_model_parse(const char *s, enum pifs_model *out)
{
	for (unsigned i = 0; i < 3; i++)
		if (!strcmp(s, model_names[i])) {
			*out = (enum pifs_model)i;
			return 0;
		}
	return -EINVAL;
}

int pifs_tftp_str_valid(const char *s)
{
	size_t i, len = strlen(s);

	/* The name becomes a directory in tftpboot/ and part of every
	 * path dnsmasq opens: no '/', no '.' or '..' (nor any name starting
	 * with '.'), nothing a shell or a TFTP client would mangle. */
	if (len == 0 || len > PIFS_TFTP_STR_MAX || s[0] == '.')
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return -EINVAL;
	}
	if (!strcmp(s, "bootcode.bin") || !strcmp(s, "bootsig.bin"))
		return -EINVAL;
	return 0;
}

int pifs_tftp_prefix_parse(const char *s, struct pifs_worker *w)
{
	char name[PIFS_TFTP_STR_MAX + 2];
	size_t len;

	if (!strcmp(s, "serial") || !strcmp(s, "mac")) {
		w->prefix = s[0] == 's' ? PIFS_PREFIX_SERIAL : PIFS_PREFIX_MAC;
		w->prefix_str[0] = '\0';
		return 0;
	}
	if (strncmp(s, "str:", 4))
		return -EINVAL;
	s += 4;
	len = strlen(s);
	if (len && s[len - 1] == '/')
		len--; /* as written in TFTP_PREFIX_STR */
	if (len == 0 || len >= sizeof(name))
		return -EINVAL;
	memcpy(name, s, len);
	name[len] = '\0';
	if (pifs_tftp_str_valid(name) < 0)
		return -EINVAL;
	w->prefix = PIFS_PREFIX_STR;
	memcpy(w->prefix_str, name, len + 1);
	return 0;
}

void pifs_tftp_prefix_format(const struct pifs_worker *w, char *out,
			     size_t len)
{
	if (w->prefix == PIFS_PREFIX_STR)
		snprintf(out, len, "str:%s", w->prefix_str);
	else
		snprintf(out, len, "%s",
			 w->prefix == PIFS_PREFIX_MAC ? "mac" : "serial");
}

void pifs_worker_tftp_dir(const struct pifs_worker *w, char out[32])
{
	size_t i;

	switch (w->prefix) {
	case PIFS_PREFIX_MAC:
		/* the EEPROM's spelling: dc-a6-32-01-36-c2, lower case */
		for (i = 0; i < 17 && w->mac[i]; i++)
			out[i] = w->mac[i] == ':' ? '-' : w->mac[i];
		out[i] = '\0';
		break;
	case PIFS_PREFIX_STR:
		snprintf(out, 32, "%s", w->prefix_str);
		break;
	default:
		snprintf(out, 32, "%s", w->serial);
		break;
	}
}

void pifs_registry_init(struct pifs_registry *reg)
{
	reg->workers = NULL;
	reg->count = 0;
	reg->next_id = 1;
}

void pifs_registry_release(struct pifs_registry *reg)
{
	free(reg->workers);
	pifs_registry_init(reg);
}

static int worker_cmp(const void *a, const void *b)
{
	const struct pifs_worker *wa = a, *wb = b;

	return strcmp(wa->name, wb->name);
}

const struct pifs_worker *pifs_registry_find(const struct pifs_registry *reg,
					     const char *name)
{
	size_t i;

	for (i = 0; i < reg->count; i++)
		if (!strcmp(reg->workers[i].name, name))
			return &reg->workers[i];
	return NULL;
}

const struct pifs_worker *pifs_registry_find_id(const struct pifs_registry *reg,
						uint32_t id)
{
	size_t i;

	for (i = 0; i < reg->count; i++)
		if (reg->workers[i].id == id)
			return &reg->workers[i];
	return NULL;
}

const struct pifs_worker *
pifs_registry_find_serial(const struct pifs_registry *reg, const char *serial)
{
	size_t i;

	for (i = 0; *serial && i < reg->count; i++)
		if (!strcmp(reg->workers[i].serial, serial))
			return &reg->workers[i];
	return NULL;
}

const struct pifs_worker *
pifs_registry_find_tftp_dir(const struct pifs_registry *reg, const char *dir)
{
	char d[32];
	size_t i;

	for (i = 0; i < reg->count; i++) {
		pifs_worker_tftp_dir(&reg->workers[i], d);
		if (!strcmp(d, dir))
			return &reg->workers[i];
	}
	return NULL;
}

static const struct pifs_worker *find_mac(const struct pifs_registry *reg,
					  const char *mac)
{
	size_t i;

	for (i = 0; *mac && i < reg->count; i++)
		if (!strcmp(reg->workers[i].mac, mac))
			return &reg->workers[i];
	return NULL;
}

static const struct pifs_worker *find_ip(const struct pifs_registry *reg,
					 const char *ip)
{
	size_t i;

	for (i = 0; *ip && i < reg->count; i++)
		if (!strcmp(reg->workers[i].ip, ip))
			return &reg->workers[i];
	return NULL;
}

/* The model and prefix rules shared by add and the parser. */
int registry_model_check(const struct pifs_worker *w, char *errbuf,
			 size_t errlen)
{
	if ((unsigned)w->model > PIFS_MODEL_PI5) {
		pifs_seterr(errbuf, errlen, "bad model %d", (int)w->model);
		return -EINVAL;
	}
	if (w->prefix != PIFS_PREFIX_SERIAL && w->prefix != PIFS_PREFIX_MAC &&
	    w->prefix != PIFS_PREFIX_STR) {
		pifs_seterr(errbuf, errlen, "bad tftp prefix %d", (int)w->prefix);
		return -EINVAL;
	}
	if (w->prefix == PIFS_PREFIX_STR &&
	    (memchr(w->prefix_str, '\0', sizeof(w->prefix_str)) == NULL ||
	     pifs_tftp_str_valid(w->prefix_str) < 0)) {
		pifs_seterr(errbuf, errlen,
			    "bad tftp prefix string '%.*s' (want 1 to %d of "
			    "[A-Za-z0-9._-], not starting with '.')",
			    (int)sizeof(w->prefix_str), w->prefix_str,
			    PIFS_TFTP_STR_MAX);
		return -EINVAL;
	}
	/* A Pi 3B+ has no EEPROM: bootcode.bin always asks for <serial>/. */
	if (w->model == PIFS_MODEL_PI3BPLUS && w->prefix != PIFS_PREFIX_SERIAL) {
		pifs_seterr(errbuf, errlen,
			    "a pi3b+ has no TFTP_PREFIX setting: its TFTP "
			    "directory is its serial");
		return -EINVAL;
	}
	if (w->flags & ~PIFS_WORKER_ENROLLED) {
		pifs_seterr(errbuf, errlen, "unknown flags 0x%x", w->flags);
		return -EINVAL;
	}
	/* A Pi 4 or 5 MAC is not derived from its serial: it must be given,
	 * unless the board enrolled by its serial and no admin has added it
	 * yet (registry.h). */
	if (w->model != PIFS_MODEL_PI3BPLUS && !w->mac[0] &&
	    !(w->flags & PIFS_WORKER_ENROLLED)) {
		pifs_seterr(errbuf, errlen, "a %s needs its mac",
			    pifs_model_name(w->model));
		return -EINVAL;
	}
	/* Likewise the serial of a board that enrolled by its MAC. */
	if (!w->serial[0] && !((w->flags & PIFS_WORKER_ENROLLED) &&
			       w->prefix == PIFS_PREFIX_MAC && w->mac[0])) {
		pifs_seterr(errbuf, errlen, "%s needs its serial",
			    w->name[0] ? w->name : "a worker");
		return -EINVAL;
	}
	return 0;
}

/* Validate and normalise w in place; errbuf names the bad field. */
static int worker_check(struct pifs_worker *w, char *errbuf, size_t errlen)
{
	char buf[18];

	if (memchr(w->name, '\0', sizeof(w->name)) == NULL ||
	    pifs_worker_name_valid(w->name) < 0) {
		pifs_seterr(errbuf, errlen,
		       "bad worker name '%.*s' (want [a-z0-9][a-z0-9-]*, at "
		       "most %d characters)",
		       PIFS_NAME_MAX + 1, w->name, PIFS_NAME_MAX);
		return -EINVAL;
	}
	if (memchr(w->serial, '\0', sizeof(w->serial)) == NULL ||
	    (w->serial[0] && pifs_serial_norm(w->serial, buf) < 0)) {
		pifs_seterr(errbuf, errlen, "bad serial '%.*s' (want 8 hex digits)",
		       (int)sizeof(w->serial), w->serial);
		return -EINVAL;
	}
	if (w->serial[0])
		memcpy(w->serial, buf, sizeof(w->serial));
	if (memchr(w->mac, '\0', sizeof(w->mac)) == NULL ||
	    (w->mac[0] && pifs_mac_norm(w->mac, buf) < 0)) {
		pifs_seterr(errbuf, errlen,
		       "bad mac '%.*s' (want aa:bb:cc:dd:ee:ff)",
		       (int)sizeof(w->mac), w->mac);
		return -EINVAL;
	}
	if (w->mac[0])
		memcpy(w->mac, buf, sizeof(w->mac));
	if (memchr(w->ip, '\0', sizeof(w->ip)) == NULL ||
	    (w->ip[0] && pifs_ipv4_valid(w->ip) < 0)) {
		pifs_seterr(errbuf, errlen,
		       "bad ip '%.*s' (want a dotted IPv4 address)",
		       (int)sizeof(w->ip), w->ip);
		return -EINVAL;
	}
	return registry_model_check(w, errbuf, errlen);
}

/* -EEXIST when w clashes with a registered worker; errbuf says how. */
int registry_worker_clash(const struct pifs_registry *reg,
			  const struct pifs_worker *w, char *errbuf,
			  size_t errlen)
{
	const struct pifs_worker *o;
	char dir[32];

	if (pifs_registry_find(reg, w->name)) {
		pifs_seterr(errbuf, errlen, "worker %s already exists", w->name);
		return -EEXIST;
	}
	if ((o = pifs_registry_find_serial(reg, w->serial))) {
		pifs_seterr(errbuf, errlen, "serial %s is already %s's", w->serial,
		       o->name);
		return -EEXIST;
	}
	if ((o = find_mac(reg, w->mac))) {
		pifs_seterr(errbuf, errlen, "mac %s is already %s's", w->mac,
		       o->name);
		return -EEXIST;
	}
	if ((o = find_ip(reg, w->ip))) {
		pifs_seterr(errbuf, errlen, "ip %s is already %s's", w->ip, o->name);
		return -EEXIST;
	}
	/* Two workers under one name in tftpboot/ would boot one's files on
	 * the other's board: worker A's fixed string equal to B's serial,
	 * A's MAC directory equal to B's fixed string, ... */
	pifs_worker_tftp_dir(w, dir);
	if ((o = pifs_registry_find_tftp_dir(reg, dir))) {
		pifs_seterr(errbuf, errlen,
			    "tftp directory '%s' is already %s's", dir, o->name);
		return -EEXIST;
	}
	return 0;
}

/* Append w (already checked) and keep the array sorted. */
int registry_insert(struct pifs_registry *reg, const struct pifs_worker *w)
{
	struct pifs_worker *nw;

	nw = realloc(reg->workers, (reg->count + 1) * sizeof(*nw));
	if (!nw)
		return -ENOMEM;
	reg->workers = nw;
	reg->workers[reg->count++] = *w;
	qsort(reg->workers, reg->count, sizeof(*nw), worker_cmp);
	return 0;
}

int pifs_registry_load(struct pifs_registry *reg, int storefd, char *errbuf,
		       size_t errlen)
{
	char *text = NULL, msg[200];
	int ret;

	pifs_errclear(errbuf, errlen);
	ret = pifs_read_file(storefd, REGISTRY_FILE, REGISTRY_MAX, &text, NULL);
	if (ret == -ENOENT) {
		pifs_registry_release(reg);
		return 0;
	}
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot read '%s': %s", REGISTRY_FILE,
		       strerror(-ret));
		return ret;
	}
	ret = pifs_registry_parse(reg, text, msg, sizeof(msg));
	if (ret < 0)
		pifs_seterr(errbuf, errlen, "bad registry '%s': %s", REGISTRY_FILE,
		       msg);
	free(text);
	return ret;
}

int pifs_registry_save(const struct pifs_registry *reg, int storefd)
{
	char *text;
	int ret;

	ret = pifs_registry_format(reg, &text);
	if (ret < 0)
		return ret;
	ret = pifs_write_file_atomic(storefd, REGISTRY_FILE, text, strlen(text),
				     0600);
	free(text);
	return ret;
}

int pifs_registry_add(struct pifs_registry *reg, struct pifs_worker *w,
		      char *errbuf, size_t errlen)
{
	int ret;

	pifs_errclear(errbuf, errlen);
	ret = worker_check(w, errbuf, errlen);
	if (ret < 0)
		return ret;
	ret = registry_worker_clash(reg, w, errbuf, errlen);
	if (ret < 0)
		return ret;
	if (reg->next_id > PIFS_VIEW_ID_MAX) {
		pifs_seterr(errbuf, errlen, "no view id left (all %d used)",
		       PIFS_VIEW_ID_MAX);
		return -ENOSPC;
	}
	w->id = reg->next_id;
	ret = registry_insert(reg, w);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "out of memory");
		return ret;
	}
	reg->next_id++;
	return 0;
}

int pifs_registry_remove(struct pifs_registry *reg, const char *name)
{
	size_t i;

	for (i = 0; i < reg->count; i++) {
		if (strcmp(reg->workers[i].name, name))
			continue;
		memmove(&reg->workers[i], &reg->workers[i + 1],
			(reg->count - i - 1) * sizeof(reg->workers[0]));
		reg->count--;
		return 0;
	}
	return -ENOENT;
}

size_t pifs_registry_enrolled(const struct pifs_registry *reg)
{
	size_t i, n = 0;

	for (i = 0; i < reg->count; i++)
		n += !!(reg->workers[i].flags & PIFS_WORKER_ENROLLED);
	return n;
}

void pifs_registry_next_name(const struct pifs_registry *reg,
			     char out[PIFS_NAME_MAX + 1], unsigned from)
{
	unsigned n;

	for (n = from ? from : 1;; n++) {
		snprintf(out, PIFS_NAME_MAX + 1, "worker-%u", n);
		if (!pifs_registry_find(reg, out))
			return;
	}
}

int pifs_registry_free_ip(const struct pifs_registry *reg, const char *lo,
			  const char *hi, char out[16])
{
	struct in_addr a, b;
	uint32_t i, l, h;

	if (inet_pton(AF_INET, lo, &a) != 1 || inet_pton(AF_INET, hi, &b) != 1)
		return -EINVAL;
	l = ntohl(a.s_addr);
	h = ntohl(b.s_addr);
	if (l > h)
		return -EINVAL;
	for (i = l;; i++) {
		a.s_addr = htonl(i);
		inet_ntop(AF_INET, &a, out, 16);
		if (!find_ip(reg, out))
			return 0;
		if (i == h)
			return -ENOSPC;
	}
}

int pifs_worker_check(struct pifs_worker *w, char *errbuf, size_t errlen)
{
	pifs_errclear(errbuf, errlen);
	return worker_check(w, errbuf, errlen);
}
