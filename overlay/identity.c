/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * identity.c - content of the generated identity files (identity.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "identity.h"

static const char *const etc_names[] = { "hostname", "hosts", "fstab",
					 "machine-id", NULL };
static const char *const boot_names[] = { "cmdline.txt", NULL };
static const char *const no_names[] = { NULL };

enum pifs_gen pifs_gen_kind(const char *dir, const char *name)
{
	if (!strcmp(dir, "boot/firmware"))
		return !strcmp(name, "cmdline.txt") ? PIFS_GEN_CMDLINE : PIFS_GEN_NONE;
	if (strcmp(dir, "etc"))
		return PIFS_GEN_NONE;
	if (!strcmp(name, "hostname"))
		return PIFS_GEN_HOSTNAME;
	if (!strcmp(name, "hosts"))
		return PIFS_GEN_HOSTS;
	if (!strcmp(name, "fstab"))
		return PIFS_GEN_FSTAB;
	if (!strcmp(name, "machine-id"))
		return PIFS_GEN_MACHINE_ID;
	return PIFS_GEN_NONE;
}

const char *const *pifs_gen_names(const char *dir)
{
	if (!strcmp(dir, "etc"))
		return etc_names;
	if (!strcmp(dir, "boot/firmware"))
		return boot_names;
	return no_names;
}

/* A growing output buffer. */
struct out {
	char *buf;
	size_t len, cap;
	int err;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->err)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *b = realloc(o->buf, cap);

		if (!b) {
			o->err = -ENOMEM;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* cmdline.txt arguments pifs owns (or that only make sense on an SD card). */
static int sd_arg(const char *a, size_t n)
{
	static const char *const keyed[] = { "root=", "rootfstype=", "init=",
					     "fsck.repair=", "nfsroot=", "ip=",
					     "rootflags=", NULL };
	static const char *const plain[] = { "rw", "ro", "rootwait", NULL };

	for (int i = 0; keyed[i]; i++)
		if (n >= strlen(keyed[i]) && !strncmp(a, keyed[i], strlen(keyed[i])))
			return 1;
	for (int i = 0; plain[i]; i++)
		if (n == strlen(plain[i]) && !strncmp(a, plain[i], n))
			return 1;
	return 0;
}

static void gen_cmdline(struct out *o, const struct pifs_identity *id,
			const char *g, size_t glen)
{
	const char *p = g, *end = g ? g + glen : NULL;
	int first = 1;
	char tail[256];

	if (!g) {
		p = "console=serial0,115200 console=tty1";
		end = p + strlen(p);
	}
	/* Only the first line counts (the firmware reads one line). */
	for (const char *nl = p; nl < end; nl++)
		if (*nl == '\n') {
			end = nl;
			break;
		}
	while (p < end) {
		const char *s;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		s = p;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
		if (p > s && !sd_arg(s, (size_t)(p - s))) {
			if (!first)
				put(o, " ", 1);
			put(o, s, (size_t)(p - s));
			first = 0;
		}
	}
	snprintf(tail, sizeof(tail),
		 "%sroot=/dev/nfs nfsroot=%s:/nfsroot/%s,vers=3,tcp rw ip=dhcp rootwait\n",
		 first ? "" : " ", id->master, id->worker);
	puts_(o, tail);
}

static void gen_hosts(struct out *o, const struct pifs_identity *id,
		      const char *g, size_t glen)
{
	const char *p = g, *end = g ? g + glen : NULL;
	int named = 0;
	char line[300];

	if (!g) {
		puts_(o, "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n"
			 "ff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n");
		p = end = NULL;
	}
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		/* The image's own name for itself becomes the worker's. */
		if (n >= 9 && !strncmp(p, "127.0.1.1", 9) && (n == 9 || p[9] == ' ' || p[9] == '\t')) {
			snprintf(line, sizeof(line), "127.0.1.1\t%s\n", id->worker);
			puts_(o, line);
			named = 1;
		} else {
			put(o, p, n);
			put(o, "\n", 1);
		}
		p += n + (nl ? 1 : 0);
	}
	if (!named) {
		snprintf(line, sizeof(line), "127.0.1.1\t%s\n", id->worker);
		puts_(o, line);
	}
	snprintf(line, sizeof(line), "%s\tpifs-master\n", id->master);
	puts_(o, line);
}

static void gen_fstab(struct out *o, const struct pifs_identity *id,
		      const char *g, size_t glen)
{
	const char *p = g, *end = g ? g + glen : NULL;
	char line[400];

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *f = p;

		while (f < p + n && (*f == ' ' || *f == '\t'))
			f++;
		/* SD-card partitions: they do not exist on a netbooted Pi. */
		if (!strncmp(f, "PARTUUID=", 9) || !strncmp(f, "UUID=", 5) ||
		    !strncmp(f, "LABEL=", 6) || !strncmp(f, "/dev/mmcblk", 11)) {
			p += n + (nl ? 1 : 0);
			continue;
		}
		put(o, p, n);
		put(o, "\n", 1);
		p += n + (nl ? 1 : 0);
	}
	if (!g)
		puts_(o, "proc            /proc           proc    defaults          0       0\n");
	snprintf(line, sizeof(line),
		 "# pifs: / is NFS from %s:/nfsroot/%s; /boot/firmware is part of it and\n"
		 "# is what the master serves this Pi over TFTP as /tftpboot/%s/.\n",
		 id->master, id->worker,
		 id->tftp_dir ? id->tftp_dir : id->serial);
	puts_(o, line);
}

int pifs_gen_content(enum pifs_gen kind, const struct pifs_identity *id,
		     const char *golden, size_t glen, char **out, size_t *len)
{
	struct out o = { 0 };
	char line[128];

	switch (kind) {
	case PIFS_GEN_CMDLINE:
		gen_cmdline(&o, id, golden, glen);
		break;
	case PIFS_GEN_HOSTNAME:
		snprintf(line, sizeof(line), "%s\n", id->worker);
		puts_(&o, line);
		break;
	case PIFS_GEN_HOSTS:
		gen_hosts(&o, id, golden, glen);
		break;
	case PIFS_GEN_FSTAB:
		gen_fstab(&o, id, golden, glen);
		break;
	case PIFS_GEN_MACHINE_ID: {
		/* Unique per worker and stable: a hash of its identity,
		 * shaped like systemd's (32 lower-case hex digits). */
		char seed[200];
		XXH128_hash_t h;

		snprintf(seed, sizeof(seed), "pifs machine-id %s %s", id->serial,
			 id->worker);
		h = XXH3_128bits(seed, strlen(seed));
		snprintf(line, sizeof(line), "%016llx%016llx\n",
			 (unsigned long long)h.high64, (unsigned long long)h.low64);
		puts_(&o, line);
		break;
	}
	default:
		return -EINVAL;
	}
	if (o.err || !o.buf) {
		free(o.buf);
		return -ENOMEM;
	}
	*out = o.buf;
	*len = o.len;
	return 0;
}
