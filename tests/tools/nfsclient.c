/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nfsclient.c - an NFSv3 client that holds file handles while the test
 * restarts the servers under it (libnfs, user space: the test machines
 * have no kernel NFS client).
 *
 *   nfsclient SERVER EXPORT
 *
 * mounts EXPORT from SERVER, then reads one command per line on stdin and
 * answers with one line on stdout ("ok ...", or "err ERRNO-NAME message"):
 *
 *   open SLOT PATH r|w|rw|c   nfs_open (c: create 0644) into SLOT 0..15;
 *                             the slot keeps the file handle from then on
 *   write SLOT OFFSET TEXT    nfs_pwrite of TEXT (rest of the line)
 *   read SLOT OFFSET COUNT    nfs_pread; "ok <bytes read> <text>"
 *   fsync SLOT                nfs_fsync
 *   fstat SLOT                "ok size=N mode=0OOO uid=N ino=N nlink=N"
 *   list PATH                 READDIRPLUS: "ok name,name,..." sorted as
 *                             the server returned them, . and .. left out
 *   cat PATH                  whole small file by path: "ok <text>"
 *   replay LISTFILE           for each path in LISTFILE (a local file, one
 *                             path per line, relative to the export): stat
 *                             it, open it, read it to the end in 1 MiB
 *                             requests, close it (what a booting worker
 *                             does to its files); "ok files=N bytes=B
 *                             ms=T" with T measured here, around the
 *                             whole list only
 *   remount                   drop every slot and the mount, mount the
 *                             export again (what a client does when its
 *                             handles went stale): "ok mounted"
 *   quit
 *
 * Every request is bounded (nfs_set_timeout); after a server restart the
 * next request reconnects (nfs_set_autoreconnect).  Exit 0 after quit or
 * end of input, 1 if the mount fails, 2 for usage.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <nfsc/libnfs.h>

#define NSLOTS 16

static struct nfs_context *nfs;
static struct nfsfh *slot[NSLOTS];

static const char *errname(int e)
{
	switch (e) {
	case ESTALE:
		return "ESTALE";
	case ENOENT:
		return "ENOENT";
	case EACCES:
		return "EACCES";
	case EPERM:
		return "EPERM";
	case EIO:
		return "EIO";
	case EROFS:
		return "EROFS";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EBADF:
		return "EBADF";
	case EINVAL:
		return "EINVAL";
	default: {
		static char num[32];

		snprintf(num, sizeof(num), "E%d", e);
		return num;
	}
	}
}

static void fail(int ret)
{
	printf("err %s %s\n", errname(-ret), nfs_get_error(nfs));
}

static struct nfsfh *get_slot(const char *s)
{
	char *end;
	long i = strtol(s ? s : "", &end, 10);

	if (!s || *end || i < 0 || i >= NSLOTS || !slot[i]) {
		printf("err EBADF no open file in slot '%s'\n", s ? s : "");
		return NULL;
	}
	return slot[i];
}

static void cmd_open(char *args)
{
	char *s = strtok(args, " "), *path = strtok(NULL, " "),
	     *how = strtok(NULL, " ");
	long i = s ? strtol(s, NULL, 10) : -1;
	struct nfsfh *fh = NULL;
	int flags, ret;

	if (i < 0 || i >= NSLOTS || !path || !how) {
		puts("err EINVAL usage: open SLOT PATH r|w|rw|c");
		return;
	}
	if (!strcmp(how, "c")) {
		ret = nfs_creat(nfs, path, 0644, &fh);
	} else {
		flags = !strcmp(how, "r")   ? O_RDONLY
			: !strcmp(how, "w") ? O_WRONLY
					    : O_RDWR;
		ret = nfs_open(nfs, path, flags, &fh);
	}
	if (ret < 0) {
		fail(ret);
		return;
	}
	if (slot[i])
		nfs_close(nfs, slot[i]);
	slot[i] = fh;
	puts("ok");
}

static void cmd_write(char *args)
{
	char *s = strtok(args, " "), *off = strtok(NULL, " "),
	     *text = strtok(NULL, "");
	struct nfsfh *fh = get_slot(s);
	int ret;

	if (!fh)
		return;
	if (!off || !text) {
		puts("err EINVAL usage: write SLOT OFFSET TEXT");
		return;
	}
	ret = nfs_pwrite(nfs, fh, strtoull(off, NULL, 10), strlen(text), text);
	if (ret < 0)
		fail(ret);
	else
		printf("ok %d\n", ret);
}

static void cmd_read(char *args)
{
	char *s = strtok(args, " "), *off = strtok(NULL, " "),
	     *cnt = strtok(NULL, " ");
	struct nfsfh *fh = get_slot(s);
	char buf[4096];
	size_t n;
	int ret;

	if (!fh)
		return;
	n = cnt ? strtoul(cnt, NULL, 10) : 0;
	if (!off || !n || n >= sizeof(buf)) {
		puts("err EINVAL usage: read SLOT OFFSET COUNT (COUNT < 4096)");
		return;
	}
	ret = nfs_pread(nfs, fh, strtoull(off, NULL, 10), n, buf);
	if (ret < 0) {
		fail(ret);
		return;
	}
	buf[ret] = 0;
	buf[strcspn(buf, "\n")] = 0;
	printf("ok %d %s\n", ret, buf);
}

static void cmd_fstat(char *args)
{
	struct nfsfh *fh = get_slot(strtok(args, " "));
	struct nfs_stat_64 st;
	int ret;

	if (!fh)
		return;
	ret = nfs_fstat64(nfs, fh, &st);
	if (ret < 0) {
		fail(ret);
		return;
	}
	printf("ok size=%" PRIu64 " mode=0%" PRIo64 " uid=%" PRIu64
	       " ino=%" PRIu64 " nlink=%" PRIu64 "\n",
	       (uint64_t)st.nfs_size, (uint64_t)(st.nfs_mode & 07777),
	       (uint64_t)st.nfs_uid, (uint64_t)st.nfs_ino,
	       (uint64_t)st.nfs_nlink);
}

static void cmd_list(char *path)
{
	struct nfsdir *dir;
	struct nfsdirent *e;
	const char *sep = " ";
	int ret;

	ret = nfs_opendir(nfs, path, &dir);
	if (ret < 0) {
		fail(ret);
		return;
	}
	fputs("ok", stdout);
	while ((e = nfs_readdir(nfs, dir))) {
		if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
			continue;
		printf("%s%s", sep, e->name);
		sep = ",";
	}
	putchar('\n');
	nfs_closedir(nfs, dir);
}

static void cmd_cat(char *path)
{
	struct nfsfh *fh;
	char buf[4096];
	int ret;

	ret = nfs_open(nfs, path, O_RDONLY, &fh);
	if (ret < 0) {
		fail(ret);
		return;
	}
	ret = nfs_pread(nfs, fh, 0, sizeof(buf) - 1, buf);
	nfs_close(nfs, fh);
	if (ret < 0) {
		fail(ret);
		return;
	}
	buf[ret] = 0;
	buf[strcspn(buf, "\n")] = 0;
	printf("ok %s\n", buf);
}

static void cmd_replay(char *listfile)
{
	static char buf[1 << 20];
	char path[4096 + 2];
	struct nfs_stat_64 st;
	struct timespec t0, t1;
	uint64_t bytes = 0, off;
	unsigned long files = 0;
	struct nfsfh *fh;
	FILE *list;
	int ret;

	list = fopen(listfile, "r");
	if (!list) {
		printf("err ENOENT cannot open '%s'\n", listfile);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	path[0] = '/';
	while (fgets(path + 1, sizeof(path) - 1, list)) {
		path[strcspn(path, "\n")] = 0;
		if (!path[1])
			continue;
		if ((ret = nfs_stat64(nfs, path, &st)) < 0 ||
		    (ret = nfs_open(nfs, path, O_RDONLY, &fh)) < 0) {
			fclose(list);
			fail(ret);
			return;
		}
		for (off = 0;; off += (uint64_t)ret) {
			ret = nfs_pread(nfs, fh, off, sizeof(buf), buf);
			if (ret <= 0)
				break;
		}
		nfs_close(nfs, fh);
		if (ret < 0) {
			fclose(list);
			fail(ret);
			return;
		}
		bytes += off;
		files++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fclose(list);
	printf("ok files=%lu bytes=%" PRIu64 " ms=%.3f\n", files, bytes,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		   (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
}

/* A fresh context and mount of server:export (the slots are dropped:
 * their handles belong to the old one). */
static int mount_export(const char *server, const char *export)
{
	int ret;

	for (int i = 0; i < NSLOTS; i++)
		if (slot[i]) {
			nfs_close(nfs, slot[i]);
			slot[i] = NULL;
		}
	if (nfs)
		nfs_destroy_context(nfs);
	nfs = nfs_init_context();
	if (!nfs) {
		fputs("nfsclient: cannot create an NFS context\n", stderr);
		return -ENOMEM;
	}
	nfs_set_timeout(nfs, 20000);
	nfs_set_autoreconnect(nfs, 10);
	ret = nfs_mount(nfs, server, export);
	if (ret < 0)
		fprintf(stderr, "nfsclient: cannot mount %s:%s: %s\n", server,
			export, nfs_get_error(nfs));
	return ret;
}

int main(int argc, char **argv)
{
	char line[8192], *cmd, *args;
	struct nfsfh *fh;
	int ret;

	if (argc != 3) {
		fputs("usage: nfsclient SERVER EXPORT\n", stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (mount_export(argv[1], argv[2]) < 0) {
		if (nfs)
			nfs_destroy_context(nfs);
		return 1;
	}
	puts("ok mounted");
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		cmd = strtok(line, " ");
		args = strtok(NULL, "");
		if (!args)
			args = (char *)"";
		if (!cmd)
			continue;
		if (!strcmp(cmd, "quit"))
			break;
		if (!strcmp(cmd, "open"))
			cmd_open(args);
		else if (!strcmp(cmd, "write"))
			cmd_write(args);
		else if (!strcmp(cmd, "read"))
			cmd_read(args);
		else if (!strcmp(cmd, "fstat"))
			cmd_fstat(args);
		else if (!strcmp(cmd, "fsync")) {
			fh = get_slot(strtok(args, " "));
			if (fh) {
				ret = nfs_fsync(nfs, fh);
				if (ret < 0)
					fail(ret);
				else
					puts("ok");
			}
		} else if (!strcmp(cmd, "list"))
			cmd_list(args);
		else if (!strcmp(cmd, "cat"))
			cmd_cat(args);
		else if (!strcmp(cmd, "replay"))
			cmd_replay(args);
		else if (!strcmp(cmd, "remount")) {
			if (mount_export(argv[1], argv[2]) < 0) {
				puts("err EIO cannot mount again");
				if (!nfs)
					return 1;
			} else {
				puts("ok mounted");
			}
		}
		else
			printf("err EINVAL unknown command '%s'\n", cmd);
	}
	for (int i = 0; i < NSLOTS; i++)
		if (slot[i])
			nfs_close(nfs, slot[i]);
	nfs_destroy_context(nfs);
	return 0;
}
