/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * models.c - per-model boot facts (models.h): the firmware files, the TFTP
 * block size, and the kernel a config.txt makes each model load.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "models.h"

static const char *const pi3_files[] = { "start.elf", "fixup.dat",
					 "bcm2710-rpi-3-b-plus.dtb", NULL };
static const char *const pi4_files[] = { "start4.elf", "fixup4.dat",
					 "bcm2711-rpi-4-b.dtb", NULL };
static const char *const pi5_files[] = { "config.txt", "bcm2712-rpi-5-b.dtb",
					 NULL };

const char *const *pifs_model_boot_files(enum pifs_model m)
{
	switch (m) {
	case PIFS_MODEL_PI4:
		return pi4_files;
	case PIFS_MODEL_PI5:
		return pi5_files;
	default:
		return pi3_files;
	}
}

unsigned pifs_model_tftp_blksize(enum pifs_model m)
{
	switch (m) {
	case PIFS_MODEL_PI4:
		return 1024;
	case PIFS_MODEL_PI5:
		return 1468;
	default:
		return 512;
	}
}

uint64_t pifs_model_tftp_max(enum pifs_model m)
{
	return (uint64_t)65535 * pifs_model_tftp_blksize(m);
}

/* Does the model filter F (without brackets, N bytes) select model M?
 * -1: F is not a model filter. */
static int model_filter(enum pifs_model m, const char *f, size_t n)
{
	static const char *const known[] = { "pi1", "pi2", "pi3", "pi3+",
					     "pi4", "pi400", "cm4", "cm4s",
					     "pi0", "pi0w", "pi02", "pi5",
					     "cm5", "pi500", NULL };
	const char *const mine[3][3] = { { "pi3", "pi3+", NULL },
					 { "pi4", NULL, NULL },
					 { "pi5", NULL, NULL } };

	for (int i = 0; mine[m][i]; i++)
		if (strlen(mine[m][i]) == n && !strncmp(f, mine[m][i], n))
			return 1;
	for (int i = 0; known[i]; i++)
		if (strlen(known[i]) == n && !strncmp(f, known[i], n))
			return 0;
	return -1;
}

size_t pifs_model_kernels(enum pifs_model m, const char *cfg, size_t len,
			  char out[2][64])
{
	const char *p = cfg, *end = cfg ? cfg + len : NULL;
	int model_ok = 1, other = 0, arm64 = -1;
	char kernel[64] = "";

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *s = p;

		p = nl ? nl + 1 : end;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (s == e || *s == '#')
			continue;
		if (*s == '[') {
			const char *f = s + 1, *c = memchr(f, ']', (size_t)(e - f));
			size_t n = c ? (size_t)(c - f) : 0;
			int r;

			if (!c)
				continue;
			if (n == 3 && !strncmp(f, "all", 3)) {
				model_ok = 1;
				other = 0;
			} else if (n == 4 && !strncmp(f, "none", 4)) {
				model_ok = 0;
			} else if ((r = model_filter(m, f, n)) >= 0) {
				model_ok = r;
			} else {
				other = 1; /* gpio, EDID, serial: not known here */
			}
			continue;
		}
		if (!model_ok || other)
			continue;
		if ((size_t)(e - s) > 7 && !strncmp(s, "kernel=", 7)) {
			s += 7;
			if (*s == '/')
				s++; /* absolute: past any os_prefix */
			snprintf(kernel, sizeof(kernel), "%.*s", (int)(e - s), s);
		} else if ((size_t)(e - s) > 10 && !strncmp(s, "arm_64bit=", 10)) {
			arm64 = s[10] != '0';
		}
	}
	if (kernel[0]) {
		snprintf(out[0], 64, "%s", kernel);
		return 1;
	}
	switch (m) {
	case PIFS_MODEL_PI5:
		snprintf(out[0], 64, "kernel_2712.img");
		snprintf(out[1], 64, "kernel8.img");
		return 2;
	case PIFS_MODEL_PI4:
		snprintf(out[0], 64, "%s", arm64 == 0 ? "kernel7l.img" : "kernel8.img");
		return 1;
	default:
		snprintf(out[0], 64, "%s", arm64 == 1 ? "kernel8.img" : "kernel7.img");
		return 1;
	}
}
