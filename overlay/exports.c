/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * exports.c - the kernel NFS server's exports of a store's workers, and
 * keeping them installed with no manual step (pifs exports --install).
 *
 * Who applies them, and when:
 * - The CLI command that changed the registry (worker add, remove,
 *   accept, dhcp-event) rewrites FILE and runs `exportfs -r` itself,
 *   under the store lock and after a mounted pifsd confirmed the change
 *   (which means the new worker's file system is mounted): when the
 *   command returns the export is live, and a worker can mount at once.
 * - pifsd, whenever the set of workers' file systems it has mounted
 *   changed (at mount time, after an enrolment, a worker added or removed
 *   behind its back), kicks a thread of its own that does the same.  The
 *   `mountpoint` export option makes mountd refuse a worker whose file
 *   system is not mounted yet, and the kernel may cache that refusal:
 *   exportfs -r after the mount flushes it.  An enrolment registers the
 *   worker inside a TFTP lookup; the lookup never waits for exportfs, and
 *   the board asks for its root seconds later, after its firmware and
 *   kernel are loaded.
 * A failure (no exportfs, it fails, FILE cannot be written) is one line
 * (stderr or the log); the registry change stands, and the next change,
 * mount or `exportfs -r` by hand applies it.
 * exportfs runs in a child that gets no fd of ours (pifsd's /dev/fuse
 * fds, the store's) and is reaped here, bounded by
 * PIFS_EXPORTS_RELOAD_MS.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exports.h"
#include "safeio.h"
#include "util.h"

#define HEADER "# /etc/exports for the pifs store '"

char *pifs_exports_text(const char *store, const struct pifs_registry *reg,
			const char *nfsroot, const char *installed)
{
	char root[PATH_MAX], *text = NULL;
	size_t len = 0, rl = strlen(nfsroot);
	FILE *o;

	/* "/nfsroot/" and "/nfsroot" name the same directory; "/" gives
	 * "/<worker>" */
	while (rl > 1 && nfsroot[rl - 1] == '/')
		rl--;
	if (rl == 1 || rl >= sizeof(root))
		rl = 0;
	memcpy(root, nfsroot, rl);
	root[rl] = '\0';
	if (!(o = open_memstream(&text, &len)))
		return NULL;
	fprintf(o,
		HEADER "%s', printed by 'pifs exports'.\n"
		"#\n"
		"# One export per worker, open to that worker's address only: "
		"a worker is root\n"
		"# on its own root file system (no_root_squash) and must not "
		"reach another's.\n"
		"# fsid: the mount is FUSE, which has no stable device number, "
		"so each export\n"
		"# gets a fixed one, %d + the worker's view id (ids are never "
		"reused), and NFS\n"
		"# file handles stay valid across restarts; keep other exports "
		"clear of %d-%d.\n"
		"# sync: a write is in the worker's delta before the reply.  "
		"no_subtree_check:\n"
		"# handles stay valid when a file is renamed (each export is "
		"the worker's own\n"
		"# file system, so a handle cannot name anything else).  "
		"mountpoint: refused\n"
		"# while that file system is not mounted, never the empty "
		"directory under it.\n"
		"# The worker mounts with vers=3,tcp (its generated "
		"cmdline.txt).\n",
		store, PIFS_EXPORTS_FSID_BASE, PIFS_EXPORTS_FSID_BASE + 1,
		PIFS_EXPORTS_FSID_BASE + PIFS_VIEW_ID_MAX);
	if (installed)
		fprintf(o, "# Kept by pifs in %s\n# (pifs exports --install): "
			"rewritten, and exportfs -r run, after every registry\n"
			"# change; do not edit it.\n", installed);
	else
		fputs("# Apply with: exportfs -ra (again after pifs worker "
		      "add), or let pifs keep\n# it applied: pifs exports "
		      "--install /etc/exports.d/pifs.exports\n", o);
	for (size_t i = 0; i < reg->count; i++) {
		const struct pifs_worker *w = &reg->workers[i];

		fprintf(o, "# %s: serial %s\n", w->name,
			w->serial[0] ? w->serial : "-");
		if (!w->ip[0]) {
			fprintf(o,
				"# not exported: no address registered "
				"(pifs worker add %s --ip ...)\n",
				w->name);
			continue;
		}
		fprintf(o,
			"%s/%s %s(rw,sync,no_subtree_check,no_root_squash,"
			"fsid=%u,mountpoint)\n",
			root, w->name, w->ip, PIFS_EXPORTS_FSID_BASE + w->id);
	}
	if (reg->count == 0)
		fputs("# (no workers registered: pifs worker add)\n", o);

	fputs("#\n"
	      "# Without a kernel NFS server: the same exports for "
	      "NFS-Ganesha (FSAL VFS,\n"
	      "# rpcbind running for NFSv3), to copy into ganesha.conf "
	      "uncommented.\n"
	      "# Attr_Expiration_Time = 0: pifs changes views under the "
	      "server (reset, the\n"
	      "# master's writes); Ganesha must not answer from a stale "
	      "cache.\n"
	      "# Ganesha's file handles carry the file system's device "
	      "number (FUSE has no\n"
	      "# other id), which a restart of pifs may change: workers "
	      "then remount (reboot\n"
	      "# them).  fsid_type = Major64 would drop it, but gives every "
	      "FUSE file system\n"
	      "# the same id, and Ganesha refuses a second export of one.  "
	      "The kernel NFS\n"
	      "# server (above) keeps handles across a restart.  Start "
	      "Ganesha after pifs has\n"
	      "# mounted, stop it before pifs is unmounted.\n"
	      "# NFS_CORE_PARAM { Mount_Path_Pseudo = true; }\n",
	      o);
	for (size_t i = 0; i < reg->count; i++) {
		const struct pifs_worker *w = &reg->workers[i];

		if (!w->ip[0])
			continue;
		fprintf(o,
			"# EXPORT {\n"
			"#     Export_Id = %u; Path = %s/%s; Pseudo = %s/%s;\n"
			"#     Access_Type = None; Squash = No_Root_Squash; "
			"Protocols = 3, 4;\n"
			"#     SecType = sys; Filesystem_id = %u.1;\n"
			"#     Attr_Expiration_Time = 0;\n"
			"#     CLIENT { Clients = %s; Access_Type = RW; }\n"
			"#     FSAL { Name = VFS; }\n"
			"# }\n",
			PIFS_EXPORTS_FSID_BASE + w->id, root, w->name, root,
			w->name, PIFS_EXPORTS_FSID_BASE + w->id, w->ip);
	}
	if (fclose(o) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Split file into its directory (opened into *dfd) and name. */
static int open_dir_of(const char *file, int *dfd, const char **name)
{
	const char *slash = strrchr(file, '/');
	char dir[PATH_MAX];
	size_t dl;

	if (!slash || !slash[1] || file[0] != '/')
		return -EINVAL;
	dl = slash == file ? 1 : (size_t)(slash - file);
	if (dl >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, file, dl);
	dir[dl] = '\0';
	*dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dfd < 0)
		return -errno;
	*name = slash + 1;
	return 0;
}

/* 0 when dfd/name is absent or pifs wrote it for store; -EEXIST if not. */
static int ours(int dfd, const char *name, const char *store)
{
	char *text = NULL, *want;
	int r = pifs_read_file(dfd, name, 1 << 20, &text, NULL);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	want = pifs_strdupf(HEADER "%s',", store);
	r = want && !strncmp(text, want, strlen(want)) ? 0 : -EEXIST;
	free(want);
	free(text);
	return r;
}

int pifs_exports_write(const char *file, const char *store, const char *text)
{
	const char *name;
	int dfd, r;

	if ((r = open_dir_of(file, &dfd, &name)) < 0)
		return r;
	if ((r = ours(dfd, name, store)) == 0)
		r = pifs_write_file_atomic(dfd, name, text, strlen(text), 0644);
	close(dfd);
	return r;
}

int pifs_exports_remove(const char *file, const char *store)
{
	const char *name;
	int dfd, r;

	if ((r = open_dir_of(file, &dfd, &name)) < 0)
		return r;
	if ((r = ours(dfd, name, store)) == 0)
		r = pifs_do_unlink(dfd, name, 0);
	if (r == -ENOENT)
		r = 0;
	close(dfd);
	return r;
}

/* In the child, after fork (async-signal-safe calls only): no fd of the
 * parent's but the output pipe, default signals, then exportfs. */
static void child(int out)
{
	static char a0[] = "exportfs", a1[] = "-r";
	char *const argv[] = {a0, a1, NULL};
	sigset_t none;
	int null = open("/dev/null", O_RDONLY);

	if (null >= 0 && null != 0) {
		dup2(null, 0);
		close(null);
	}
	dup2(out, 1);
	dup2(out, 2);
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	if (errno == ENOENT) {
		execv("/usr/sbin/exportfs", argv);
		execv("/sbin/exportfs", argv);
	}
	_exit(errno == ENOENT ? 127 : 126);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

int pifs_exports_reload(char *msg, size_t msglen)
{
	char out[512];
	size_t n = 0;
	struct timespec t0;
	int p[2], status = 0, killed = 0;
	pid_t pid;

	pifs_errclear(msg, msglen);
	if (pipe2(p, O_CLOEXEC) < 0) {
		pifs_seterr(msg, msglen, "cannot run exportfs -r: %s",
			 strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		pifs_seterr(msg, msglen, "cannot run exportfs -r: %s",
			 strerror(e));
		return -e;
	}
	if (pid == 0)
		child(p[1]);
	close(p[1]);
	/* Its output (the first 511 bytes kept) until it closes the pipe,
	 * bounded: a hung exportfs is killed. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left = PIFS_EXPORTS_RELOAD_MS - ms_since(&t0);
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		char buf[256];
		ssize_t got;

		if (left <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
			break;
		got = read(p[0], buf, sizeof(buf));
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			break;
		if (n < sizeof(out) - 1) {
			size_t take = (size_t)got < sizeof(out) - 1 - n
					  ? (size_t)got
					  : sizeof(out) - 1 - n;

			memcpy(out + n, buf, take);
			n += take;
		}
	}
	close(p[0]);
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			pifs_seterr(msg, msglen, "exportfs -r: %s",
				 strerror(errno));
			return -ECHILD;
		}
	}
	if (killed) {
		pifs_seterr(msg, msglen, "exportfs -r did not finish in %d s: "
			 "killed", PIFS_EXPORTS_RELOAD_MS / 1000);
		return -ETIMEDOUT;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		pifs_seterr(msg, msglen, "exportfs not found (install "
			 "nfs-kernel-server, or reload your NFS server's "
			 "exports yourself)");
		return -ENOENT;
	}
	if (WIFEXITED(status))
		pifs_seterr(msg, msglen, "exportfs -r failed (exit status %d)%s%s",
			 WEXITSTATUS(status), out[0] ? ": " : "", out);
	else
		pifs_seterr(msg, msglen, "exportfs -r was killed by signal %d",
			 WTERMSIG(status));
	return -EIO;
}

/* apply's first half: the file, under the caller's store lock. */
static int write_for(struct pifs_store *st, const struct pifs_registry *reg,
		     char *err, size_t errlen)
{
	char store[PATH_MAX], *text;
	int r;

	if (!st->conf.exports[0])
		return 0;
	if (!realpath(st->path, store))
		snprintf(store, sizeof(store), "%s", st->path);
	text = pifs_exports_text(store, reg, st->conf.exports_root,
				 st->conf.exports);
	if (!text) {
		pifs_seterr(err, errlen, "cannot write the exports '%s': %s",
			 st->conf.exports, strerror(ENOMEM));
		return -ENOMEM;
	}
	r = pifs_exports_write(st->conf.exports, store, text);
	free(text);
	if (r == -EEXIST) {
		pifs_seterr(err, errlen, "'%s' was not written by pifs for this "
			 "store: not replaced", st->conf.exports);
		return r;
	}
	if (r < 0) {
		pifs_seterr(err, errlen, "cannot write the exports '%s': %s",
			 st->conf.exports, strerror(-r));
		return r;
	}
	return 0;
}

int pifs_exports_apply(struct pifs_store *st, const struct pifs_registry *reg,
		       char *err, size_t errlen)
{
	int r;

	pifs_errclear(err, errlen);
	if (!st->conf.exports[0])
		return 0;
	if ((r = write_for(st, reg, err, errlen)) < 0)
		return r;
	return pifs_exports_reload(err, errlen);
}

/* ---- pifsd's thread ---- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int started, pending, stop;
	char *store;
} ex = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void apply_once(const char *path)
{
	struct pifs_registry reg;
	struct pifs_store st;
	char err[PATH_MAX + 256];
	int r;

	if (pifs_store_open(&st, path, err, sizeof(err)) < 0) {
		pifs_warn("exports not applied: %s", err);
		return;
	}
	pifs_registry_init(&reg);
	if (!st.conf.exports[0])
		goto out;
	if ((r = pifs_store_lock(&st, PIFS_EXPORTS_RELOAD_MS)) < 0) {
		pifs_warn("exports '%s' not rewritten: a pifs command holds "
			  "the store's lock", st.conf.exports);
		goto out;
	}
	if (pifs_registry_load(&reg, st.fd, err, sizeof(err)) < 0) {
		pifs_store_unlock(&st);
		pifs_warn("exports '%s' not rewritten: %s", st.conf.exports,
			  err);
		goto out;
	}
	/* exportfs outside the lock: an enrolment waits for the lock only
	 * half a second (enroll.c) */
	r = write_for(&st, &reg, err, sizeof(err));
	pifs_store_unlock(&st);
	if (r == 0)
		r = pifs_exports_reload(err, sizeof(err));
	if (r < 0)
		pifs_warn("exports of the workers: %s", err);
	else
		pifs_info("exports '%s' rewritten, exportfs -r done",
			  st.conf.exports);
out:
	pifs_registry_release(&reg);
	pifs_store_close(&st);
}

static void *run(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ex.lock);
	for (;;) {
		while (!ex.pending && !ex.stop)
			pthread_cond_wait(&ex.cond, &ex.lock);
		if (ex.stop)
			break;
		ex.pending = 0;
		pthread_mutex_unlock(&ex.lock);
		apply_once(ex.store);
		pthread_mutex_lock(&ex.lock);
	}
	pthread_mutex_unlock(&ex.lock);
	return NULL;
}

void pifs_exports_start(const char *store_path)
{
	char real[PATH_MAX];
	sigset_t all, old;

	pthread_mutex_lock(&ex.lock);
	if (ex.started)
		goto out;
	/* absolute: pifsd leaves its working directory later */
	if (!(ex.store = strdup(realpath(store_path, real) ? real
							    : store_path))) {
		pifs_warn("exports will not be applied: %s", strerror(ENOMEM));
		goto out;
	}
	/* Signals stay the main thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&ex.thread, NULL, run, NULL) != 0) {
		pifs_warn("exports will not be applied: no thread");
		free(ex.store);
		ex.store = NULL;
	} else {
		ex.started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
	pthread_mutex_unlock(&ex.lock);
}

void pifs_exports_kick(void)
{
	pthread_mutex_lock(&ex.lock);
	ex.pending = 1;
	pthread_cond_signal(&ex.cond);
	pthread_mutex_unlock(&ex.lock);
}

void pifs_exports_stop(void)
{
	int started;

	pthread_mutex_lock(&ex.lock);
	ex.stop = 1;
	started = ex.started;
	pthread_cond_signal(&ex.cond);
	pthread_mutex_unlock(&ex.lock);
	if (started)
		pthread_join(ex.thread, NULL);
	free(ex.store);
	ex.store = NULL;
	ex.started = 0;
}
