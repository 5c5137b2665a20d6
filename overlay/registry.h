/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry.h - the worker registry: which workers exist, their Pi serial,
 * MAC, IPv4 address, board model, the TFTP directory their boot loader
 * asks for, and the numeric view id that is part of every node id pifsd
 * hands out (so it must never be reused).
 *
 * On disk (STORE/workers), one text file replaced atomically:
 *
 *   # pifs worker registry v2
 *   next-id 5
 *   worker-1 77b655ec b8:27:eb:b6:55:ec 10.1.1.1 1 pi3b+ serial -
 *   worker-7 9ffefdef dc:a6:32:01:36:c2 10.1.1.2 2 pi4 serial -
 *   worker-8 1a2b3c4d 2c:cf:67:00:11:22 10.1.1.3 3 pi5 mac -
 *   worker-9 5e6f7a8b d8:3a:dd:00:00:09 10.1.1.4 4 pi4 str:rack1-n9 -
 *
 * Fields: name serial mac ip id model prefix flags; "-" for an unset mac
 * or ip.  model is pi3b+, pi4 or pi5.  prefix is what the board's EEPROM
 * TFTP_PREFIX says: "serial" (0, the default), "mac" (2: the directory is
 * the MAC with dashes) or "str:NAME" (1: TFTP_PREFIX_STR is "NAME/").
 * flags is "-" or a comma-separated list of words.  One is defined:
 * "enrolled", a worker pifsd registered from a board's boot request
 * (pifs enroll on) that no admin has accepted yet (pifs worker accept).
 * A pifs that does not know a flag refuses the file (strict, below)
 * rather than serve such a worker as an accepted one.  An enrolled worker
 * may lack what its boot request could not tell: the MAC of a Pi 4 or 5
 * that asked by its serial, the serial of one that asked by its MAC
 * ("-" in those fields); accepting it needs them.
 *
 * A v1 file ("# pifs worker registry v1", lines of the first five fields)
 * is read as it is: every worker a pi3b+ with the serial prefix.  Saving
 * always writes v2.  Lines are kept sorted by name.  Parsing is strict:
 * any malformed line is an error naming the line number, so a damaged
 * registry is never half-read.
 */
#ifndef PIFS_REGISTRY_H
#define PIFS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define PIFS_NAME_MAX 63
#define PIFS_VIEW_ID_MAX 65535
/* TFTP_PREFIX_STR holds at most 32 characters, the trailing '/' the
 * firmware needs to make it a directory included. */
#define PIFS_TFTP_STR_MAX 31

enum pifs_model {
	PIFS_MODEL_PI3BPLUS = 0, /* "pi3b+": bootcode.bin, serial directory */
	PIFS_MODEL_PI4,          /* "pi4": EEPROM bootloader, start4.elf */
	PIFS_MODEL_PI5,          /* "pi5": EEPROM bootloader, no start*.elf */
};

enum pifs_tftp_prefix {
	PIFS_PREFIX_SERIAL = 0, /* TFTP_PREFIX=0: "<serial>/" */
	PIFS_PREFIX_STR = 1,    /* TFTP_PREFIX=1: TFTP_PREFIX_STR */
	PIFS_PREFIX_MAC = 2,    /* TFTP_PREFIX=2: "dc-a6-32-01-36-c2/" */
};

struct pifs_worker {
	char name[PIFS_NAME_MAX + 1]; /* [a-z0-9][a-z0-9-]*, <= 63 chars */
	char serial[9];               /* exactly 8 lower-case hex digits */
	char mac[18];                 /* "aa:bb:cc:dd:ee:ff" or "" */
	char ip[16];                  /* dotted IPv4 or "" */
	uint32_t id;                  /* view id, 1..65535, never reused */
	enum pifs_model model;
	enum pifs_tftp_prefix prefix;
	char prefix_str[PIFS_TFTP_STR_MAX + 1]; /* PIFS_PREFIX_STR's NAME */
	unsigned flags;               /* PIFS_WORKER_* (see above) */
};

/* flags: registered by pifsd from a boot request, not accepted yet */
#define PIFS_WORKER_ENROLLED 1u

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
/* A serial as a user may copy it: 8 hex digits, or the 16 of
 * /proc/cpuinfo when they start with 00000000 or 10000000 (which the
 * boot loader drops).  0 or -EINVAL. */
int pifs_serial_parse(const char *in, char out[9]);
/* Is MAC (normalised) one of Raspberry Pi's known prefixes? 1 or 0. */
int pifs_mac_known(const char mac[18]);

/* "pi3b+", "pi4", "pi5" <-> the enum; parse returns 0 or -EINVAL. */
const char *pifs_model_name(enum pifs_model m);
int pifs_model_parse(const char *s, enum pifs_model *out);
/* A TFTP_PREFIX_STR directory name: 1..31 characters of [A-Za-z0-9._-],
 * not starting with '.' (so never "." or ".."), no '/', and not a file of
 * the TFTP root (bootcode.bin, bootsig.bin).  0 or -EINVAL. */
int pifs_tftp_str_valid(const char *s);
/* Parse a prefix field ("serial", "mac", "str:NAME", a trailing '/'
 * after NAME allowed) into w->prefix and w->prefix_str.  0 or -EINVAL. */
int pifs_tftp_prefix_parse(const char *s, struct pifs_worker *w);
/* The registry's spelling of w's prefix ("serial", "mac", "str:NAME")
 * into out (at least 40 bytes). */
void pifs_tftp_prefix_format(const struct pifs_worker *w, char *out,
			     size_t len);
/* The directory name w's boot loader asks for in the TFTP root: its
 * serial, its MAC with dashes, or the fixed string (out: 32 bytes). */
void pifs_worker_tftp_dir(const struct pifs_worker *w, char out[32]);

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

/* The worker whose TFTP directory is DIR, or NULL. */
const struct pifs_worker *
pifs_registry_find_tftp_dir(const struct pifs_registry *reg, const char *dir);

/* Add a worker (w->id is assigned from next_id).  -EEXIST for a duplicate
 * name, serial, mac, ip or TFTP directory (errbuf says which), -EINVAL for
 * bad fields (a Pi 4 or 5 without a mac, a Pi 3B+ with a prefix other than
 * its serial), -ENOSPC when no view id is left. */
int pifs_registry_add(struct pifs_registry *reg, struct pifs_worker *w,
		      char *errbuf, size_t errlen);
/* -ENOENT if absent. */
int pifs_registry_remove(struct pifs_registry *reg, const char *name);

/* How many workers carry PIFS_WORKER_ENROLLED. */
size_t pifs_registry_enrolled(const struct pifs_registry *reg);
/* The lowest "worker-N" (N >= from, and >= 1) no worker is called,
 * into out. */
void pifs_registry_next_name(const struct pifs_registry *reg,
			     char out[PIFS_NAME_MAX + 1], unsigned from);
/* The lowest address from lo to hi (dotted IPv4) no worker has, into
 * out.  -EINVAL for a bad range, -ENOSPC when all are taken. */
int pifs_registry_free_ip(const struct pifs_registry *reg, const char *lo,
			  const char *hi, char out[16]);
/* Validate a worker as pifs_registry_add does, without adding it (what
 * `pifs worker accept` checks after filling in the missing fields). */
int pifs_worker_check(struct pifs_worker *w, char *errbuf, size_t errlen);

#endif
