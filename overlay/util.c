/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util.c - logging to stderr, syslog or a file (one time-stamped line per
 * message, appended) with a process-wide level, and the small string
 * helpers every module shares.  Logging never changes errno, so a caller
 * may log and then return -errno.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static const char *log_ident = "pifs";
static int log_syslog;
static int log_fd = -1; /* pifs_log_open_file: wins over the others */
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

int pifs_log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		      0640);

	if (fd < 0)
		return -errno;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	return 0;
}

/* One line, written at once (O_APPEND): threads and other writers of the
 * file never interleave within it. */
static void log_to_file(const char *tag, const char *msg)
{
	char stamp[64], line[1200];
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	if (!strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm))
		stamp[0] = '\0';
	n = snprintf(line, sizeof(line), "%s.%03ld", stamp,
		     ts.tv_nsec / 1000000);
	if (n > 0 && (size_t)n < sizeof(line) &&
	    strftime(line + n, sizeof(line) - (size_t)n, "%z", &tm))
		n = (int)strlen(line);
	n += snprintf(line + n, sizeof(line) - (size_t)n, " %s[%ld]: %s%s\n",
		      log_ident, (long)getpid(), tag, msg);
	if (n >= (int)sizeof(line)) { /* cut: keep the line's end */
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)!write(log_fd, line, (size_t)n);
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
	if (log_fd >= 0)
		log_to_file(tag[lvl], msg);
	else if (log_syslog)
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

char *pifs_line_next(char **cur)
{
	char *line = *cur, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cur = nl + 1;
	} else {
		*cur = line + strlen(line);
	}
	return line;
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

int pifs_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- maps keyed by two 64-bit numbers (open addressing) ---- */


static size_t kv_hash(uint64_t a, uint64_t b)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);

	return (size_t)(h ^ (h >> 31));
}

const char *pifs_kv_find(const struct pifs_kvmap *m, uint64_t a, uint64_t b)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = kv_hash(a, b) & (m->cap - 1); m->slots[i].val;
	     i = (i + 1) & (m->cap - 1))
		if (m->slots[i].a == a && m->slots[i].b == b)
			return m->slots[i].val;
	return NULL;
}

int pifs_kv_add(struct pifs_kvmap *m, uint64_t a, uint64_t b, const char *val)
{
	size_t i, j;

	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct pifs_kv *ns = calloc(cap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (j = 0; j < m->cap; j++) {
			if (!m->slots[j].val)
				continue;
			for (i = kv_hash(m->slots[j].a, m->slots[j].b) &
				 (cap - 1);
			     ns[i].val; i = (i + 1) & (cap - 1))
				;
			ns[i] = m->slots[j];
		}
		free(m->slots);
		m->slots = ns;
		m->cap = cap;
	}
	for (i = kv_hash(a, b) & (m->cap - 1); m->slots[i].val;
	     i = (i + 1) & (m->cap - 1))
		;
	m->slots[i].val = strdup(val);
	if (!m->slots[i].val)
		return -ENOMEM;
	m->slots[i].a = a;
	m->slots[i].b = b;
	m->n++;
	return 0;
}

void pifs_kv_free(struct pifs_kvmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->slots[i].val);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

static size_t path_hash(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (len--)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return (size_t)h;
}

static size_t path_slot(const struct pifs_pathmap_ent *t, size_t cap,
			const char *p, size_t len)
{
	size_t i = path_hash(p, len) & (cap - 1);

	while (t[i].path && (strncmp(t[i].path, p, len) || t[i].path[len]))
		i = (i + 1) & (cap - 1);
	return i;
}

int pifs_pathmap_add(struct pifs_pathmap *m, const char *p, size_t len,
		     unsigned flags)
{
	size_t i;

	if (2 * (m->n + 1) > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct pifs_pathmap_ent *t = calloc(cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (i = 0; i < m->cap; i++)
			if (m->t[i].path)
				t[path_slot(t, cap, m->t[i].path,
					    strlen(m->t[i].path))] = m->t[i];
		free(m->t);
		m->t = t;
		m->cap = cap;
	}
	i = path_slot(m->t, m->cap, p, len);
	if (!m->t[i].path) {
		m->t[i].path = strndup(p, len);
		if (!m->t[i].path)
			return -ENOMEM;
		m->n++;
	}
	m->t[i].flags |= flags;
	return 0;
}

unsigned pifs_pathmap_get(const struct pifs_pathmap *m, const char *p)
{
	size_t len = strlen(p), i;

	if (!m || !m->n)
		return 0;
	i = path_slot(m->t, m->cap, p, len);
	return m->t[i].path ? m->t[i].flags : 0;
}

void pifs_pathmap_free(struct pifs_pathmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->t[i].path);
	free(m->t);
	m->t = NULL;
	m->cap = m->n = 0;
}

void pifs_errclear(char *errbuf, size_t errlen)
{
	if (errbuf && errlen)
		errbuf[0] = '\0';
}

void pifs_seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errbuf || !errlen || errbuf[0])
		return; /* the first (innermost) message wins */
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

void pifs_seterr_prefix(char *errbuf, size_t errlen, int err,
			const char *fmt, ...)
{
	size_t len, room;
	va_list ap, aq;
	int n;

	if (!errbuf || !errlen)
		return;
	if (!errbuf[0] && err < 0)
		snprintf(errbuf, errlen, "%s", strerror(-err));
	va_start(ap, fmt);
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	len = strlen(errbuf);
	if (n >= 0 && len && (size_t)n + 3 < errlen) {
		/* no allocation: the message moves right, cut to what fits,
		 * and the context is written in front of it */
		room = errlen - (size_t)n - 3;
		if (len > room)
			len = room;
		memmove(errbuf + n + 2, errbuf, len);
		errbuf[n + 2 + len] = '\0';
		vsnprintf(errbuf, (size_t)n + 1, fmt, ap);
		errbuf[n] = ':';
		errbuf[n + 1] = ' ';
	} else if (n >= 0) {
		vsnprintf(errbuf, errlen, fmt, ap); /* the context alone */
	}
	va_end(ap);
}

char pifs_type_letter(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return 'f';
	case S_IFDIR:
		return 'd';
	case S_IFLNK:
		return 'l';
	case S_IFCHR:
		return 'c';
	case S_IFBLK:
		return 'b';
	case S_IFIFO:
		return 'p';
	case S_IFSOCK:
		return 's';
	}
	return 0;
}

/* A file with more than one link: counted once, after the walk. */
struct disk_link {
	ino_t ino;
	unsigned long long bytes;
};

struct disk_walk {
	dev_t dev;
	unsigned long long bytes;
	struct disk_link *links;
	size_t nlinks, cap;
	unsigned depth;
};

static int disk_walk_dir(struct disk_walk *w, int dirfd)
{
	DIR *d;
	struct dirent *e;
	int ret = 0;

	if (++w->depth > 4096) /* PATH_MAX bounds a real tree's depth */
		return -ELOOP;
	if (!(d = fdopendir(dirfd))) {
		close(dirfd);
		return -errno;
	}
	while (ret == 0 && (errno = 0, e = readdir(d))) {
		struct stat sb;
		int fd;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = -errno;
			break;
		}
		if (sb.st_dev != w->dev)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY |
						O_NOFOLLOW | O_CLOEXEC);
			ret = fd < 0 ? -errno : disk_walk_dir(w, fd);
		} else if (S_ISREG(sb.st_mode) && sb.st_nlink > 1) {
			if (w->nlinks == w->cap) {
				size_t cap = w->cap ? w->cap * 2 : 64;
				struct disk_link *n =
				    realloc(w->links, cap * sizeof(*n));

				if (!n) {
					ret = -ENOMEM;
					break;
				}
				w->links = n;
				w->cap = cap;
			}
			w->links[w->nlinks].ino = sb.st_ino;
			w->links[w->nlinks++].bytes =
			    (unsigned long long)sb.st_blocks * 512;
		} else if (S_ISREG(sb.st_mode)) {
			w->bytes += (unsigned long long)sb.st_blocks * 512;
		}
	}
	if (ret == 0 && errno)
		ret = -errno;
	closedir(d);
	w->depth--;
	return ret;
}

static int disk_link_cmp(const void *a, const void *b)
{
	ino_t x = ((const struct disk_link *)a)->ino;
	ino_t y = ((const struct disk_link *)b)->ino;

	return x < y ? -1 : x > y;
}

int pifs_tree_disk_bytes(int dirfd, unsigned long long *bytes)
{
	struct disk_walk w = {0};
	struct stat sb;
	int fd, ret;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	w.dev = sb.st_dev;
	ret = disk_walk_dir(&w, fd);
	if (ret == 0 && w.nlinks) {
		qsort(w.links, w.nlinks, sizeof(*w.links), disk_link_cmp);
		for (size_t i = 0; i < w.nlinks; i++)
			if (i == 0 || w.links[i].ino != w.links[i - 1].ino)
				w.bytes += w.links[i].bytes;
	}
	free(w.links);
	if (ret == 0)
		*bytes = w.bytes;
	return ret;
}

const char *pifs_human(uint64_t b, char buf[32])
{
	static const char *unit[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int u = -1;

	if (b < 1024) {
		snprintf(buf, 32, "%llu B", (unsigned long long)b);
		return buf;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 32, v < 10 ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}
