/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * progress.c - the terminal progress bar (progress.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "progress.h"

static double secs_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

void pifs_bar_start(struct pifs_bar *b, int fd, const char *what,
		    const char *unit, uint64_t total)
{
	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->what = what;
	b->unit = unit;
	b->total = total;
	clock_gettime(CLOCK_MONOTONIC, &b->start);
}

/* "3.1k" for a count per second */
static void count_rate(double r, char *buf, size_t len)
{
	if (r >= 1e6)
		snprintf(buf, len, "%.1fM", r / 1e6);
	else if (r >= 1e4)
		snprintf(buf, len, "%.0fk", r / 1e3);
	else if (r >= 1e3)
		snprintf(buf, len, "%.1fk", r / 1e3);
	else
		snprintf(buf, len, "%.0f", r);
}

void pifs_bar_format(const struct pifs_bar *b, double secs, char *buf,
		     size_t len)
{
	uint64_t done = b->done > b->total ? b->total : b->done;
	int pct = b->total ? (int)(done * 100 / b->total) : 100;
	int fill = pct * 30 / 100, k;
	char hd[32], ht[32], rate[32], left[32] = "";
	size_t n;

	if (b->count) {
		pifs_human(b->bytes, hd);
		rate[0] = '\0';
		if (secs >= 0.5 && b->done > 0) {
			count_rate((double)b->done / secs, rate,
				   sizeof(rate) - 4);
			strcat(rate, "/s");
		}
		snprintf(buf, len, "%-18s %" PRIu64 " %s  %s read%s%s",
			 b->what, b->done, b->unit ? b->unit : "", hd,
			 rate[0] ? "  " : "", rate);
		return;
	}
	n = (size_t)snprintf(buf, len, "%-18s [", b->what);
	for (k = 0; k < 30 && n + 1 < len; k++)
		buf[n++] = k < fill ? '#' : '.';
	buf[n < len ? n : len - 1] = '\0';
	rate[0] = '\0';
	/* rate and time left once there is something to go by */
	if (secs >= 0.5 && done > 0) {
		double r = (double)done / secs;
		uint64_t s = (uint64_t)((double)(b->total - done) / r + 0.5);

		if (b->unit) {
			count_rate(r, rate, sizeof(rate) - 2);
			strcat(rate, "/s");
		} else {
			pifs_human((uint64_t)r, rate);
			strcat(rate, "/s");
		}
		if (done < b->total && s >= 3600)
			snprintf(left, sizeof(left),
				 "  %" PRIu64 ":%02" PRIu64 ":%02" PRIu64 " left",
				 s / 3600, s / 60 % 60, s % 60);
		else if (done < b->total)
			snprintf(left, sizeof(left),
				 "  %" PRIu64 ":%02" PRIu64 " left", s / 60,
				 s % 60);
	}
	if (n >= len)
		return;
	if (b->unit)
		snprintf(buf + n, len - n,
			 "] %3d%%  %" PRIu64 " of %" PRIu64 " %s  %s%s", pct,
			 done, b->total, b->unit, rate, left);
	else
		snprintf(buf + n, len - n, "] %3d%%  %s of %s  %s%s", pct,
			 pifs_human(done, hd),
			 pifs_human(b->total, ht), rate,
			 left);
}

static void bar_draw(struct pifs_bar *b)
{
	char line[200];
	int n;

	pifs_bar_format(b, secs_since(&b->start), line + 1, sizeof(line) - 8);
	line[0] = '\r';
	/* clear what a longer line before left */
	n = (int)strlen(line);
	memcpy(line + n, "\033[K", 4);
	if (write(b->fd, line, strlen(line)) < 0)
		b->fd = -1;
	b->shown = 1;
}

/* Draw b again, at most every 200 ms after it was first shown. */
static void bar_tick(struct pifs_bar *b)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (b->shown && (now.tv_sec - b->last.tv_sec) * 1000 +
				(now.tv_nsec - b->last.tv_nsec) / 1000000 <
			    200)
		return;
	b->last = now;
	bar_draw(b);
}

void pifs_bar_update(struct pifs_bar *b, uint64_t done)
{
	b->done = done;
	if (b->fd >= 0 && b->total)
		bar_tick(b);
}

void pifs_bar_count(struct pifs_bar *b, uint64_t done, uint64_t bytes)
{
	b->count = 1;
	b->done = done;
	b->bytes = bytes;
	if (b->fd >= 0)
		bar_tick(b);
}

void pifs_bar_end(struct pifs_bar *b)
{
	if (b->fd >= 0 && (b->total || b->count) && (b->shown || b->done)) {
		bar_draw(b);
		if (write(b->fd, "\n", 1) < 0)
			b->fd = -1;
	}
	b->shown = 0;
	b->count = 0;
	b->total = b->done = b->bytes = 0;
}
