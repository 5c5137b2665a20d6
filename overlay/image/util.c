/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util.c - what every file of the importer uses: the error message (the
 * first, innermost, one wins).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "safeio.h"
#include "internal.h"

void image_seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errbuf || !errlen || errbuf[0])
		return; /* the first (innermost) message wins */
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

