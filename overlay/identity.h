/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * identity.h - the files pifs generates so a new worker boots with no hand
 * edits: boot/firmware/cmdline.txt (NFS root on the master), etc/hostname,
 * etc/hosts, etc/fstab (no SD-card lines) and a unique etc/machine-id.
 * They are computed from the registry and the master's address whenever
 * read, appear in the worker's view as ordinary files, and a worker's own
 * edit of one (a copy in its delta) wins from then on.
 */
#ifndef PIFS_IDENTITY_H
#define PIFS_IDENTITY_H

#include <stddef.h>

enum pifs_gen {
	PIFS_GEN_NONE = 0,
	PIFS_GEN_CMDLINE,
	PIFS_GEN_HOSTNAME,
	PIFS_GEN_HOSTS,
	PIFS_GEN_FSTAB,
	PIFS_GEN_MACHINE_ID,
};

struct pifs_identity {
	const char *worker; /* worker name */
	const char *serial; /* 8 hex digits */
	const char *master; /* the master's IPv4 address */
	const char *tftp_dir; /* its name in tftpboot/ (NULL: the serial) */
};

/*
 * The board model (registry.h) changes none of these files' content but
 * the TFTP directory fstab's comment names, by design: the firmware of
 * every model reads the same cmdline.txt, and config.txt is not generated
 * at all.  Without a kernel= line the firmware picks the kernel by model
 * (Pi 3B+ and Pi 4 in 64-bit mode kernel8.img; Pi 5 kernel_2712.img,
 * else kernel8.img: Raspberry Pi's config.txt documentation) and
 * Raspberry Pi OS's config.txt names none, so one golden config.txt
 * serves all three models as one SD card would; a config.txt that pins a
 * kernel applies to every model, as on a card, and `pifs status` warns
 * when the kernel a worker's model would load is missing (models.h).
 */

/* The generated file at golden directory DIR ("etc", "boot/firmware")
 * and NAME, or PIFS_GEN_NONE. */
enum pifs_gen pifs_gen_kind(const char *dir, const char *name);
/* The names generated in golden directory DIR: a NULL-terminated list
 * (empty for other directories). */
const char *const *pifs_gen_names(const char *dir);

/* The content of generated file KIND for ID; golden/glen is the golden's
 * own file (NULL if it has none), the base for cmdline.txt, hosts and
 * fstab.  *out is malloc'd (NUL-terminated), *len its length.  0 or
 * -ENOMEM. */
int pifs_gen_content(enum pifs_gen kind, const struct pifs_identity *id,
		     const char *golden, size_t glen, char **out, size_t *len);

#endif
