/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fhandle.c - what an NFS server does with a file on pifs, for the tests:
 *
 *   fhandle save PATH HANDLEFILE    name_to_handle_at, write the handle
 *   fhandle cat MOUNT HANDLEFILE    open_by_handle_at, print the contents
 *   fhandle ino MOUNT HANDLEFILE    open_by_handle_at, print st_ino
 *
 * Errors: one line "fhandle: ...: <strerror>" and exit 1.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int die(const char *what, const char *arg)
{
	fprintf(stderr, "fhandle: %s '%s': %s\n", what, arg, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	static union {
		struct file_handle fh;
		char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	struct file_handle *fh = &h.fh;
	int mount_id, mfd, fd;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: fhandle save PATH FILE | cat MOUNT FILE | ino MOUNT FILE\n");
		return 2;
	}
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (!strcmp(argv[1], "save")) {
		if (name_to_handle_at(AT_FDCWD, argv[2], fh, &mount_id, 0) < 0)
			return die("name_to_handle_at", argv[2]);
		f = fopen(argv[3], "w");
		if (!f || fwrite(fh, sizeof(*fh) + fh->handle_bytes, 1, f) != 1 || fclose(f))
			return die("cannot write", argv[3]);
		return 0;
	}
	f = fopen(argv[3], "r");
	if (!f || fread(fh, 1, sizeof(*fh) + MAX_HANDLE_SZ, f) < sizeof(*fh))
		return die("cannot read", argv[3]);
	fclose(f);
	mfd = open(argv[2], O_RDONLY | O_DIRECTORY);
	if (mfd < 0)
		return die("cannot open mount", argv[2]);
	fd = open_by_handle_at(mfd, fh, O_RDONLY);
	if (fd < 0)
		return die("open_by_handle_at", argv[3]);
	if (!strcmp(argv[1], "ino")) {
		struct stat st;

		if (fstat(fd, &st) < 0)
			return die("fstat", argv[3]);
		printf("%llu\n", (unsigned long long)st.st_ino);
		return 0;
	}
	for (;;) {
		char buf[65536];
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0)
			return die("read", argv[3]);
		if (n == 0)
			break;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return 1;
	}
	return 0;
}
