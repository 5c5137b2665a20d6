/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * models.h - what each board model's network boot needs from its TFTP
 * directory (a worker's boot/firmware/), for `pifs status`: the firmware
 * files, the kernel its firmware would load given config.txt, and the
 * largest file its TFTP client can fetch.  Facts from Raspberry Pi's
 * documentation (config.txt boot options and conditional filters,
 * eeprom-bootloader, boot-net) and rpi-eeprom's issues; the README's
 * "Pi boot facts" lists them with their sources.
 */
#ifndef PIFS_MODELS_H
#define PIFS_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"

/* The files model M's firmware needs besides the kernel and cmdline.txt
 * (NULL-terminated): pi3b+ start.elf, fixup.dat, bcm2710-rpi-3-b-plus.dtb;
 * pi4 start4.elf, fixup4.dat, bcm2711-rpi-4-b.dtb; pi5 config.txt (a Pi 5
 * keeps its TFTP prefix only where config.txt and its device tree are)
 * and bcm2712-rpi-5-b.dtb (its firmware is in the EEPROM: no start*.elf). */
const char *const *pifs_model_boot_files(enum pifs_model m);

/* The TFTP block size M's boot loader negotiates, and so the largest file
 * it can fetch: 65535 blocks of it (its block counter does not wrap).
 * pi3b+ 512 (bootcode.bin and start.elf ask for tsize only, no blksize),
 * pi4 1024 (the EEPROM's TFTP_MAX_BLOCKSIZE, rpi-eeprom #25, #375), pi5
 * 1468 (rpi-eeprom #720, fixed by the 2025-09-23 EEPROM; older ones fail). */
unsigned pifs_model_tftp_blksize(enum pifs_model m);
uint64_t pifs_model_tftp_max(enum pifs_model m);

/* The kernels M's firmware would load, given config.txt's text CFG (NULL:
 * none), in its order of preference: an explicit kernel= in a section
 * that applies to M ([all], or a model filter that matches it: pi3b+
 * [pi3] [pi3+], pi4 [pi4], pi5 [pi5]; lines under any other filter, such
 * as [gpio4=1] or [0x12345678], are not followed), else the model's
 * default: pi3b+ kernel8.img with arm_64bit=1 (else kernel7.img), pi4
 * kernel8.img (kernel7l.img with arm_64bit=0), pi5 kernel_2712.img and,
 * where that is missing, kernel8.img.  Fills out[0..n-1], returns n (1 or
 * 2).  os_prefix and include are not followed. */
size_t pifs_model_kernels(enum pifs_model m, const char *cfg, size_t len,
			  char out[2][64]);

#endif
