/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * benchio.c - the timed inner loops of `make bench`, so that what is
 * measured is the file system and not a shell forking per file.  Each
 * command does one workload and prints "ms=<elapsed milliseconds>"
 * (monotonic clock, from the first system call on the tree to the last)
 * followed by what it did, e.g. "ms=12.345 files=1000 bytes=4096000".
 *
 *   benchio read FILE BS          read FILE to its end in BS-byte read()s
 *   benchio readlist LIST BS      read every file named in LIST (one path
 *                                 a line) to its end
 *   benchio walk DIR              lstat() every entry under DIR (no
 *                                 symlink followed), like `find -ls`
 *   benchio readdir DIR...        list each DIR (getdents only, no stat)
 *   benchio smallfiles DIR N      in DIR (created, must not exist): N files
 *                                 of 512 B-4 KiB each created, written,
 *                                 fsync()ed and closed; then each renamed;
 *                                 then each unlinked; then DIR removed.
 *                                 Also prints create_ms, rename_ms,
 *                                 unlink_ms.
 *   benchio copyup LIST           open every file named in LIST for
 *                                 writing (O_WRONLY|O_APPEND, which makes
 *                                 an overlay copy it up) and close it
 *
 * Exit 0, or 1 with a one-line message on the first failure: a benchmark
 * never hides an error in a time.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "benchio: %s '%s': %s\n", what, path, strerror(errno));
	exit(1);
}

static char *buf;
static size_t bufsize;

static void alloc_buf(size_t bs)
{
	if (posix_memalign((void **)&buf, 4096, bs) != 0) {
		fprintf(stderr, "benchio: cannot allocate %zu bytes\n", bs);
		exit(1);
	}
	memset(buf, 0, bs);
	bufsize = bs;
}

/* read_file: read path to its end; the byte count */
static long long read_file(const char *path)
{
	long long total = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("cannot open", path);
	while ((r = read(fd, buf, bufsize)) > 0)
		total += r;
	if (r < 0)
		die("cannot read", path);
	close(fd);
	return total;
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end || v == 0 || v > (64ULL << 20)) {
		fprintf(stderr, "benchio: bad block size '%s'\n", s);
		exit(2);
	}
	return (size_t)v;
}

/* The lines of a list file; a NULL-terminated array. */
static char **read_list(const char *path, size_t *count)
{
	FILE *f = fopen(path, "re");
	char **v = NULL, *line = NULL;
	size_t n = 0, cap = 0, lcap = 0;
	ssize_t l;

	if (!f)
		die("cannot open list", path);
	while ((l = getline(&line, &lcap, f)) > 0) {
		if (line[l - 1] == '\n')
			line[--l] = '\0';
		if (!l)
			continue;
		if (n + 2 > cap) {
			cap = cap ? 2 * cap : 1024;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				die("out of memory reading", path);
		}
		v[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	if (!v)
		v = calloc(1, sizeof(*v));
	v[n] = NULL;
	*count = n;
	return v;
}

static void free_list(char **v)
{
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

static long long walk_count;

static int walk_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)path, (void)st, (void)ftw;
	if (flag == FTW_NS || flag == FTW_DNR) {
		fprintf(stderr, "benchio: cannot stat or list '%s'\n", path);
		return 1;
	}
	walk_count++;
	return 0;
}

static int cmd_smallfiles(const char *dir, long n)
{
	char a[4096], b[4096];
	double t0, t1, t2, t3;
	long i;

	memset(buf, 'x', bufsize);
	t0 = now_ms();
	if (mkdir(dir, 0755) < 0)
		die("cannot mkdir", dir);
	for (i = 0; i < n; i++) {
		size_t len = 512 + (size_t)(i * 2654435761u % 3585);
		int fd;

		snprintf(a, sizeof(a), "%s/f%06ld.dpkg-new", dir, i);
		fd = open(a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			die("cannot create", a);
		if (write(fd, buf, len) != (ssize_t)len)
			die("cannot write", a);
		if (fsync(fd) < 0)
			die("cannot fsync", a);
		if (close(fd) < 0)
			die("cannot close", a);
	}
	t1 = now_ms();
	for (i = 0; i < n; i++) {
		snprintf(a, sizeof(a), "%s/f%06ld.dpkg-new", dir, i);
		snprintf(b, sizeof(b), "%s/f%06ld", dir, i);
		if (rename(a, b) < 0)
			die("cannot rename", a);
	}
	t2 = now_ms();
	for (i = 0; i < n; i++) {
		snprintf(b, sizeof(b), "%s/f%06ld", dir, i);
		if (unlink(b) < 0)
			die("cannot unlink", b);
	}
	if (rmdir(dir) < 0)
		die("cannot rmdir", dir);
	t3 = now_ms();
	printf(
	    "ms=%.3f files=%ld create_ms=%.3f rename_ms=%.3f unlink_ms=%.3f\n",
	    t3 - t0, n, t1 - t0, t2 - t1, t3 - t2);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: benchio read FILE BS | readlist LIST BS | walk DIR |\n"
		"       readdir DIR... | smallfiles DIR N | copyup LIST\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	double t0;

	if (!strcmp(cmd, "read") && argc == 4) {
		long long n;

		alloc_buf(parse_size(argv[3]));
		t0 = now_ms();
		n = read_file(argv[2]);
		printf("ms=%.3f bytes=%lld\n", now_ms() - t0, n);
	} else if (!strcmp(cmd, "readlist") && argc == 4) {
		size_t count;
		char **v = read_list(argv[2], &count);
		long long n = 0;

		alloc_buf(parse_size(argv[3]));
		t0 = now_ms();
		for (size_t i = 0; i < count; i++)
			n += read_file(v[i]);
		printf("ms=%.3f files=%zu bytes=%lld\n", now_ms() - t0, count,
		       n);
		free_list(v);
	} else if (!strcmp(cmd, "walk") && argc == 3) {
		t0 = now_ms();
		if (nftw(argv[2], walk_one, 64, FTW_PHYS) != 0)
			die("cannot walk", argv[2]);
		printf("ms=%.3f entries=%lld\n", now_ms() - t0, walk_count);
	} else if (!strcmp(cmd, "readdir") && argc >= 3) {
		long long n = 0;

		t0 = now_ms();
		for (int i = 2; i < argc; i++) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;

			if (!d)
				die("cannot open directory", argv[i]);
			errno = 0;
			while ((e = readdir(d)))
				n++;
			if (errno)
				die("cannot list", argv[i]);
			closedir(d);
		}
		printf("ms=%.3f entries=%lld\n", now_ms() - t0, n);
	} else if (!strcmp(cmd, "smallfiles") && argc == 4) {
		alloc_buf(4096);
		return cmd_smallfiles(argv[2], strtol(argv[3], NULL, 10));
	} else if (!strcmp(cmd, "copyup") && argc == 3) {
		size_t count;
		char **v = read_list(argv[2], &count);

		t0 = now_ms();
		for (size_t i = 0; i < count; i++) {
			int fd = open(v[i], O_WRONLY | O_APPEND | O_CLOEXEC);

			if (fd < 0)
				die("cannot open for writing", v[i]);
			if (close(fd) < 0)
				die("cannot close", v[i]);
		}
		printf("ms=%.3f files=%zu\n", now_ms() - t0, count);
		free_list(v);
	} else {
		usage();
	}
	free(buf);
	return 0;
}
