/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * buildprog.c - golden-build.sh's output into a progress bar
 * (buildprog.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buildprog.h"

void buildprog_init(struct buildprog *p, int fd)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->bar.fd = -1;
}

static void bar_stop(struct buildprog *p)
{
	if (p->counting)
		pifs_bar_end(&p->bar);
	p->counting = 0;
}

/* "golden-build: [N/M] what: ..." -> "[N/M] what" into p->step. */
static int step_line(struct buildprog *p, const char *line)
{
	const char *s = strstr(line, ": [");
	size_t n;

	if (strncmp(line, "golden-build", 12) || !s)
		return 0;
	s += 2;
	if (!strchr(s, ']'))
		return 0;
	n = strcspn(s, ":(");
	while (n && s[n - 1] == ' ')
		n--;
	if (n >= sizeof(p->step))
		n = sizeof(p->step) - 1;
	memcpy(p->step, s, n);
	p->step[n] = '\0';
	return 1;
}

/* One of debootstrap's per-package lines? */
static int unit_line(const char *line)
{
	static const char *const verbs[] = {
	    "I: Retrieving ", "I: Validating ", "I: Extracting ",
	    "I: Unpacking ", "I: Configuring "};

	const char *rest;
	size_t n;

	for (size_t i = 0; i < sizeof(verbs) / sizeof(*verbs); i++) {
		if (strncmp(line, verbs[i], strlen(verbs[i])))
			continue;
		/* "adduser...", "adduser 3.134"; not the headings "required
		 * packages...", "the base system..." */
		rest = line + strlen(verbs[i]);
		n = strlen(rest);
		return n && *rest != ' ' &&
		       (!strchr(rest, ' ') ||
			n < 3 || strcmp(rest + n - 3, "..."));
	}
	return 0;
}

int buildprog_line(struct buildprog *p, const char *line, int progress)
{
	unsigned long long n;
	char unit[24];

	if (!progress) {
		if (step_line(p, line))
			bar_stop(p);
		return 1;
	}
	if (sscanf(line, "total %llu %23s", &n, unit) == 2) {
		bar_stop(p);
		if (!n)
			return 0;
		snprintf(p->unit, sizeof(p->unit), "%s", unit);
		pifs_bar_start(&p->bar, p->fd,
			       p->step[0] ? p->step : "golden build", p->unit,
			       n);
		p->counting = 1;
		return 0;
	}
	if (p->counting && unit_line(line))
		pifs_bar_update(&p->bar, p->bar.done + 1);
	return 0;
}

void buildprog_clear(struct buildprog *p)
{
	static const char clear[] = "\r\033[K";

	if (p->fd >= 0 && p->counting && p->bar.shown &&
	    write(p->fd, clear, sizeof(clear) - 1) < 0)
		p->fd = -1;
	p->bar.shown = 0;
}

void buildprog_end(struct buildprog *p)
{
	bar_stop(p);
}
