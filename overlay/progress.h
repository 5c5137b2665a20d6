/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * progress.h - the progress bar of a long operation on a terminal (image
 * import, golden copy): one line redrawn in place, at most five times a
 * second, with the rate and the time left:
 *
 *   copying golden     [############..................]  41%  13412 of 32653 entries  3.1k/s  0:06 left
 *
 * or, when the total is not known ahead (a snapshot's scan of a delta), a
 * count of what was done:
 *
 *   scanning worker-3  12000 entries  48.2 MiB read  3.1k/s
 *
 * Nothing at all when fd is -1 (the caller passes -1 unless its stderr
 * is a terminal), so scripts and logs get no carriage returns.
 */
#ifndef PIFS_PROGRESS_H
#define PIFS_PROGRESS_H

#include <stdint.h>
#include <time.h>

struct pifs_bar {
	int fd;		  /* -1: no bar */
	const char *what; /* "reading image" */
	const char *unit; /* "entries"; NULL: bytes */
	uint64_t total, done;
	int count;	  /* pifs_bar_count's: no total */
	uint64_t bytes;	  /* count: bytes read */
	struct timespec start, last;
	int shown;
};

/* Begin a bar (fd -1: none) of total units; done starts at 0. */
void pifs_bar_start(struct pifs_bar *b, int fd, const char *what,
		    const char *unit, uint64_t total);
/* done units so far; redrawn at most every 200 ms. */
void pifs_bar_update(struct pifs_bar *b, uint64_t done);
/* A bar with no total (begun with total 0): done units and bytes so far,
 * redrawn as pifs_bar_update does. */
void pifs_bar_count(struct pifs_bar *b, uint64_t done, uint64_t bytes);
/* The final state and a newline, if the bar was shown; the bar is then
 * off until the next start. */
void pifs_bar_end(struct pifs_bar *b);
/* The line for done of total after secs seconds (for tests), into buf. */
void pifs_bar_format(const struct pifs_bar *b, double secs, char *buf,
		     size_t len);

#endif
