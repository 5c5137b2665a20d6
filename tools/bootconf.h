/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bootconf.h - the boot-path configuration commands of the pifs CLI:
 * "pifs dnsmasq-conf" (DHCP + TFTP for the Pi boot ROM, one dhcp-host per
 * registered worker) and "pifs exports" (/etc/exports lines, each worker's
 * NFS root open only to that worker's address, plus an NFS-Ganesha
 * equivalent).  Both read the store (pifs.conf and the registry) and
 * print; only dnsmasq-conf --hosts-dir and exports --install/--uninstall
 * write: their setting, and the file pifs keeps from then on.
 */
#ifndef PIFS_BOOTCONF_H
#define PIFS_BOOTCONF_H

#include <stdio.h>

/* Run "dnsmasq-conf" or "exports" (cmd; argv[0] is cmd too, options after
 * it) for the store at store_path.  The configuration goes to out only
 * when complete; errors are one line "pifs: ..." on err.  Returns the exit
 * status: 0, 1 (bad store, unusable registry) or 2 (usage).  --help prints
 * the usage on out and returns 0.  Resets getopt (optind) itself. */
int pifs_bootconf_run(FILE *out, FILE *err, const char *cmd,
		      const char *store_path, int argc, char **argv);

/* pifs_bootconf_run(stdout, stderr, ...), for tools/pifs.c's dispatch. */
int pifs_bootconf_main(const char *cmd, const char *store_path, int argc,
		       char **argv);

#endif
