/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util.c - logging to stderr or syslog with a process-wide level, and the
 * small string helpers every module shares.  Logging never changes errno,
 * so a caller may log and then return -errno.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "util.h"

static const char *log_ident = "pifs";
static int log_syslog;
static enum pifs_log_level log_max = PIFS_LOG_INFO;

void pifs_log_init(const char *ident, int use_syslog, enum pifs_log_level max)
{
	if (ident)
		log_ident = ident;
	log_max = max;
	if (use_syslog && !log_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!use_syslog && log_syslog)
		closelog();
	log_syslog = use_syslog;
}

int pifs_log_enabled(enum pifs_log_level lvl)
{
	return lvl <= log_max;
}

void pifs_log(enum pifs_log_level lvl, const char *fmt, ...)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	static const char *const tag[] = {"", "warning: ", "", "debug: "};
	char msg[1024];
	int saved = errno;
	va_list ap;

	if (lvl > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_syslog)
		syslog(prio[lvl], "%s", msg);
	else
		fprintf(stderr, "%s: %s%s\n", log_ident, tag[lvl], msg);
	errno = saved;
}

char *pifs_strdupf(const char *fmt, ...)
{
	char *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

int pifs_check_name(const char *name)
{
	size_t len;

	if (!name || !*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (strchr(name, '/'))
		return -EINVAL;
	len = strlen(name);
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}
