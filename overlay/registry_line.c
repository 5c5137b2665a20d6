/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry_line.c - the registry's text (STORE/workers): a strict parser
 * of the v1 and v2 formats that rejects the whole file on the first bad
 * line (each line checked as pifs_registry_add checks a new worker), and
 * the formatter (v2).  One spelling per field, flags included, so a file
 * written and read back is the same bytes.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "registry_internal.h"
#include "util.h"

#define REGISTRY_HEADER_V1 "# pifs worker registry v1"
#define REGISTRY_HEADER "# pifs worker registry v2"

/* Copy a field into a fixed buffer; -EINVAL if it does not fit. */
static int field_copy(char *dst, size_t dlen, const char *src)
{
	if (strlen(src) >= dlen)
		return -EINVAL;
	strcpy(dst, src);
	return 0;
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s) || (s[0] == '0' && s[1]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* The flags field: "-" or comma-separated words, each known and given
 * once (so a flags field has one spelling, as every other field). */
static int parse_flags(const char *s, unsigned *out, char *bad, size_t blen)
{
	*out = 0;
	if (!strcmp(s, "-"))
		return 0;
	for (;;) {
		size_t len = strcspn(s, ",");
		unsigned bit = 0;

		if (len == 8 && !strncmp(s, "enrolled", 8))
			bit = PIFS_WORKER_ENROLLED;
		if (!bit || (*out & bit)) {
			snprintf(bad, blen, "%.*s", (int)len, s);
			return -EINVAL;
		}
		*out |= bit;
		if (!s[len])
			return 0;
		s += len + 1;
	}
}

/* Parse one worker line (modified in place) into reg; V is the file's
 * format version (1: five fields, 2: eight). */
static int parse_worker(struct pifs_registry *reg, char *line, unsigned lineno,
			int v, char *errbuf, size_t errlen)
{
	struct pifs_worker w;
	char *f[9], *save = NULL;
	int n = 0, want = v == 1 ? 5 : 8, ret;

	memset(&w, 0, sizeof(w));
	for (char *t = strtok_r(line, " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save)) {
		if (n == 9)
			break;
		f[n++] = t;
	}
	if (n != want) {
		pifs_seterr(errbuf, errlen, "line %u: want %d fields, got %s",
			    lineno, want, n > want ? "more" : "fewer");
		return -EINVAL;
	}
	if (field_copy(w.name, sizeof(w.name), f[0]) < 0 ||
	    pifs_worker_name_valid(w.name) < 0) {
		pifs_seterr(errbuf, errlen, "line %u: bad name '%s'", lineno, f[0]);
		return -EINVAL;
	}
	if (strcmp(f[1], "-") && (pifs_serial_norm(f[1], w.serial) < 0 ||
				  strcmp(w.serial, f[1]))) {
		pifs_seterr(errbuf, errlen, "line %u: bad serial '%s'", lineno,
		       f[1]);
		return -EINVAL;
	}
	if (strcmp(f[2], "-") &&
	    (pifs_mac_norm(f[2], w.mac) < 0 || strcmp(w.mac, f[2]))) {
		pifs_seterr(errbuf, errlen, "line %u: bad mac '%s'", lineno, f[2]);
		return -EINVAL;
	}
	if (strcmp(f[3], "-") && (pifs_ipv4_valid(f[3]) < 0 ||
				  field_copy(w.ip, sizeof(w.ip), f[3]) < 0)) {
		pifs_seterr(errbuf, errlen, "line %u: bad ip '%s'", lineno, f[3]);
		return -EINVAL;
	}
	if (parse_u32(f[4], PIFS_VIEW_ID_MAX, &w.id) < 0 || w.id == 0) {
		pifs_seterr(errbuf, errlen, "line %u: bad id '%s'", lineno, f[4]);
		return -EINVAL;
	}
	if (v >= 2) {
		char pf[40], bad[40];

		if (pifs_model_parse(f[5], &w.model) < 0) {
			pifs_seterr(errbuf, errlen, "line %u: bad model '%s'",
				    lineno, f[5]);
			return -EINVAL;
		}
		if (pifs_tftp_prefix_parse(f[6], &w) < 0) {
			pifs_seterr(errbuf, errlen,
				    "line %u: bad tftp prefix '%s'", lineno,
				    f[6]);
			return -EINVAL;
		}
		/* one spelling only, as for the other fields */
		pifs_tftp_prefix_format(&w, pf, sizeof(pf));
		if (strcmp(pf, f[6])) {
			pifs_seterr(errbuf, errlen,
				    "line %u: bad tftp prefix '%s'", lineno,
				    f[6]);
			return -EINVAL;
		}
		if (parse_flags(f[7], &w.flags, bad, sizeof(bad)) < 0) {
			pifs_seterr(errbuf, errlen,
				    "line %u: unknown flag '%s'", lineno, bad);
			return -EINVAL;
		}
		if (registry_model_check(&w, errbuf, errlen) < 0) {
			pifs_seterr_prefix(errbuf, errlen, 0, "line %u", lineno);
			return -EINVAL;
		}
	}
	if (pifs_registry_find_id(reg, w.id)) {
		pifs_seterr(errbuf, errlen, "line %u: id %u is already %s's", lineno,
		       w.id, pifs_registry_find_id(reg, w.id)->name);
		return -EINVAL;
	}
	ret = registry_worker_clash(reg, &w, errbuf, errlen);
	if (ret < 0) {
		pifs_seterr_prefix(errbuf, errlen, 0, "line %u", lineno);
		return -EINVAL;
	}
	return registry_insert(reg, &w);
}

int pifs_registry_parse(struct pifs_registry *reg, const char *text,
			char *errbuf, size_t errlen)
{
	struct pifs_registry tmp;
	char *copy, *line, *next;
	unsigned lineno = 0;
	int have_next = 0, ret = 0, version = 2;
	size_t i;

	pifs_errclear(errbuf, errlen);
	pifs_registry_init(&tmp);
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (next = copy; (line = pifs_line_next(&next));) {
		lineno++;
		if (lineno == 1) {
			if (!strcmp(line, REGISTRY_HEADER_V1)) {
				version = 1;
			} else if (strcmp(line, REGISTRY_HEADER)) {
				pifs_seterr(errbuf, errlen,
				       "line 1: not a pifs worker registry "
				       "v1 or v2");
				ret = -EINVAL;
				goto out;
			}
			continue;
		}
		if (!*line || line[0] == '#')
			continue;
		if (!strncmp(line, "next-id ", 8)) {
			if (have_next ||
			    parse_u32(line + 8, PIFS_VIEW_ID_MAX + 1,
				      &tmp.next_id) < 0 ||
			    tmp.next_id == 0) {
				pifs_seterr(errbuf, errlen,
				       "line %u: bad next-id '%s'", lineno,
				       line + 8);
				ret = -EINVAL;
				goto out;
			}
			have_next = 1;
			continue;
		}
		ret = parse_worker(&tmp, line, lineno, version, errbuf, errlen);
		if (ret < 0)
			goto out;
	}
	if (lineno > 0 && !have_next) {
		pifs_seterr(errbuf, errlen, "missing next-id line");
		ret = -EINVAL;
		goto out;
	}
	for (i = 0; i < tmp.count; i++) {
		if (tmp.workers[i].id >= tmp.next_id) {
			pifs_seterr(errbuf, errlen,
			       "id %u of %s is not below next-id %u",
			       tmp.workers[i].id, tmp.workers[i].name,
			       tmp.next_id);
			ret = -EINVAL;
			goto out;
		}
	}
	pifs_registry_release(reg);
	*reg = tmp;
	pifs_registry_init(&tmp);
out:
	pifs_registry_release(&tmp);
	free(copy);
	return ret;
}

int pifs_registry_format(const struct pifs_registry *reg, char **out)
{
	char *buf;
	size_t i, cap, len;
	int n;

	/* header + next-id + one line of at most ~170 bytes per worker */
	cap = 64 + reg->count * 192;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	n = snprintf(buf, cap, "%s\nnext-id %u\n", REGISTRY_HEADER,
		     reg->next_id);
	len = (size_t)n;
	for (i = 0; i < reg->count; i++) {
		const struct pifs_worker *w = &reg->workers[i];
		char pf[40];

		pifs_tftp_prefix_format(w, pf, sizeof(pf));
		n = snprintf(buf + len, cap - len, "%s %s %s %s %u %s %s %s\n",
			     w->name, w->serial[0] ? w->serial : "-",
			     w->mac[0] ? w->mac : "-", w->ip[0] ? w->ip : "-",
			     w->id, pifs_model_name(w->model), pf,
			     w->flags & PIFS_WORKER_ENROLLED ? "enrolled" : "-");
		len += (size_t)n;
	}
	*out = buf;
	return 0;
}
