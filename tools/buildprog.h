/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * buildprog.h - the progress bar of `pifs golden build` (cmd-golden.c):
 * golden-build.sh's output read line by line.  Its step lines
 * ("golden-build: [6/7] second stage: ...") name the step; on the
 * progress descriptor it is given (PIFS_PROGRESS_FD) it writes "total N
 * UNIT" when a step's size is known (packages to download, to unpack,
 * debootstrap's steps) and passes on debootstrap's own "I: ..." lines as
 * debootstrap prints them, one per package and phase ("I: Retrieving
 * X", "I: Validating X", "I: Extracting X", "I: Unpacking X...",
 * "I: Configuring X..."): each is one unit done.  The bar
 * (overlay/progress.h) is "[6/7] second stage  [###...]  41%  90 of
 * 220 packages  0.1/s  25:10 left".
 */
#ifndef PIFS_BUILDPROG_H
#define PIFS_BUILDPROG_H

#include "progress.h"

struct buildprog {
	struct pifs_bar bar;
	int fd;		 /* the terminal (stderr), or -1: no bar */
	char step[48];	 /* "[6/7] second stage" */
	char unit[24];	 /* "packages" */
	int counting;	 /* a bar is running */
};

void buildprog_init(struct buildprog *p, int fd);
/* A line of the script's output (no newline); progress: it came on the
 * progress descriptor.  Returns 1 when the line is for the user (a step
 * line or any other output: print it, after buildprog_clear), 0 when
 * it was progress, consumed. */
int buildprog_line(struct buildprog *p, const char *line, int progress);
/* Take the bar off the line, before other output is printed. */
void buildprog_clear(struct buildprog *p);
/* The bar's last state and a newline. */
void buildprog_end(struct buildprog *p);

#endif
