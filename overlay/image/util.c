/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util.c - what every file of the importer uses: the error message (the
 * first, innermost, one wins), sizes for messages, the chmod of an entry
 * through an O_PATH descriptor, and the progress bar on a terminal.
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

const char *pifs_image_human(uint64_t bytes, char *buf, size_t len)
{
	static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

static void bar_draw(struct bar *b)
{
	char line[160], hd[32], ht[32];
	uint64_t done = b->done > b->total ? b->total : b->done;
	int pct = (int)(done * 100 / b->total), fill = pct * 30 / 100, k, n;

	n = snprintf(line, sizeof(line), "\r%-18s [", b->what);
	for (k = 0; k < 30 && n < (int)sizeof(line) - 1; k++)
		line[n++] = k < fill ? '#' : '.';
	if (b->unit)
		snprintf(line + n, sizeof(line) - (size_t)n,
			 "] %3d%%  %" PRIu64 " of %" PRIu64 " %s   ", pct, done,
			 b->total, b->unit);
	else
		snprintf(line + n, sizeof(line) - (size_t)n,
			 "] %3d%%  %s of %s   ", pct,
			 pifs_image_human(done, hd, sizeof(hd)),
			 pifs_image_human(b->total, ht, sizeof(ht)));
	if (write(b->fd, line, strlen(line)) < 0)
		b->fd = -1;
	b->shown = 1;
}

/* At most five redraws a second. */
void image_bar_update(struct bar *b, uint64_t done)
{
	struct timespec now;

	b->done = done;
	if (b->fd < 0 || !b->total)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (b->shown && (now.tv_sec - b->last.tv_sec) * 1000 +
				(now.tv_nsec - b->last.tv_nsec) / 1000000 <
			    200)
		return;
	b->last = now;
	bar_draw(b);
}

/* The final state and a newline. */
void image_bar_end(struct bar *b)
{
	if (b->fd >= 0 && b->total && (b->shown || b->done)) {
		bar_draw(b);
		if (write(b->fd, "\n", 1) < 0)
			b->fd = -1;
	}
	b->shown = 0;
	b->total = b->done = 0;
}
