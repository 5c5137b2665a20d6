/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry.h - the worker registry: which workers exist, their Pi serial,
 * MAC, IPv4 address and the numeric view id that is part of every node id
 * pifsd hands out (so it must never be reused).
 *
 * On disk (STORE/workers), one text file replaced atomically:
 *
 *   # pifs worker registry v1
 *   next-id 4
 *   worker-1 77b655ec b8:27:eb:b6:55:ec 10.1.1.1 1
 *   worker-3 8b07bcc6 b8:27:eb:07:bc:c6 10.1.1.2 3
 *
 * Fields: name serial mac ip id; "-" for an unset mac or ip.  Lines are
 * kept sorted by name.  Parsing is strict: any malformed line is an error
 * naming the line number, so a damaged registry is never half-read.
 */
#ifndef PIFS_REGISTRY_H
#define PIFS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define PIFS_NAME_MAX 63
#define PIFS_VIEW_ID_MAX 65535

struct pifs_worker {
	char name[PIFS_NAME_MAX + 1]; /* [a-z0-9][a-z0-9-]*, <= 63 chars */
	char serial[9];               /* exactly 8 lower-case hex digits */
	char mac[18];                 /* "aa:bb:cc:dd:ee:ff" or "" */
	char ip[16];                  /* dotted IPv4 or "" */
	uint32_t id;                  /* view id, 1..65535, never reused */
};

struct pifs_registry {
	struct pifs_worker *workers; /* sorted by name; owned */
	size_t count;
	uint32_t next_id;
};

/* Validation: 0 or -EINVAL.  serial_norm lower-cases into out[9];
 * mac_norm lower-cases and checks six ':'-separated hex pairs. */
int pifs_worker_name_valid(const char *name);
int pifs_serial_norm(const char *in, char out[9]);
int pifs_mac_norm(const char *in, char out[18]);
int pifs_ipv4_valid(const char *ip);
/* A Pi 3 MAC from its serial: b8:27:eb: + last 6 hex digits. */
void pifs_mac_from_serial(const char serial[9], char out[18]);

void pifs_registry_init(struct pifs_registry *reg);
void pifs_registry_release(struct pifs_registry *reg);

/* Parse text (NUL-terminated).  On error returns -EINVAL and, when errbuf
 * is given, a one-line message like "line 3: bad serial 'xyz'". */
int pifs_registry_parse(struct pifs_registry *reg, const char *text,
			char *errbuf, size_t errlen);
/* Format into a malloc'd string (*out); -ENOMEM. */
int pifs_registry_format(const struct pifs_registry *reg, char **out);

/* Load/save STORE/workers relative to the store dir fd.  A missing file
 * is an empty registry.  Save is atomic (pifs_write_file_atomic). */
int pifs_registry_load(struct pifs_registry *reg, int storefd, char *errbuf,
		       size_t errlen);
int pifs_registry_save(const struct pifs_registry *reg, int storefd);

const struct pifs_worker *pifs_registry_find(const struct pifs_registry *reg,
					     const char *name);
const struct pifs_worker *pifs_registry_find_id(const struct pifs_registry *reg,
						uint32_t id);
const struct pifs_worker *
pifs_registry_find_serial(const struct pifs_registry *reg, const char *serial);

/* Add a worker (w->id is assigned from next_id).  -EEXIST for a duplicate
 * name, serial, mac or ip (errbuf says which), -EINVAL for bad fields,
 * -ENOSPC when no view id is left. */
int pifs_registry_add(struct pifs_registry *reg, struct pifs_worker *w,
		      char *errbuf, size_t errlen);
/* -ENOENT if absent. */
int pifs_registry_remove(struct pifs_registry *reg, const char *name);

#endif
