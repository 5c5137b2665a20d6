/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * repo.c - the snapshot repository STORE/git: made atomically, opened
 * with a mempack backend in front that stages new objects in memory
 * until the pack writer makes them durable, libgit2's start-up on a
 * thread of its own, and what every file here shares: libgit2 failures
 * mapped to -errno with their message, the list of staged objects,
 * branch names, and the small files kept beside the repository.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/mempack.h>

#include "internal.h"
#include "safeio.h"
#include "store.h"
#include "util.h"

/* The store of the repository opened last (pifs_git_open), for
 * odb_unreadable: one per process. */
static const struct pifs_store *last_store;

/*
 * libgit2 says "object not found - no match for id (X)" also when the
 * object is there but its pack's index or the pack could not be read (an
 * I/O error): it then skips the pack as if it had none.  Ask the packs
 * directly: -errno (into *hex the id) when reading them fails or one
 * lists X; 0 when X is truly not in a pack (the message stands).
 */
static int odb_unreadable(const git_error *e, char hex[41])
{
	const char *p;
	git_oid oid;
	int ret;

	if (!e || e->klass != GIT_ERROR_ODB || !e->message || !last_store ||
	    !(p = strstr(e->message, "no match for id (")) ||
	    git_oid_fromstrn(&oid, p + 17, 40) < 0)
		return 0;
	ret = pifs_git_pack_probe(last_store, &oid);
	if (ret == -ENOENT || ret == 0)
		return 0;
	git_oid_tostr(hex, 41, &oid);
	return ret;
}

/* Map a libgit2 failure to -errno (errno is looked at for OS errors). */
int pifs_git_errno(int code, int saved_errno)
{
	const git_error *e = git_error_last();
	char hex[41];
	int ret;

	if (code == GIT_ENOTFOUND) {
		ret = odb_unreadable(e, hex);
		return ret < 0 ? ret : -ENOENT;
	}
	if (code == GIT_EEXISTS)
		return -EEXIST;
	if (code == GIT_EMODIFIED || code == GIT_ELOCKED)
		return -EBUSY;
	if (e && e->klass == GIT_ERROR_NOMEMORY)
		return -ENOMEM;
	if (e && e->klass == GIT_ERROR_OS && saved_errno)
		return -saved_errno;
	return -EIO;
}

/* Log a libgit2 failure as "<what>: <libgit2 message>" in errbuf. */
int pifs_git_error(int code, char *errbuf, size_t errlen, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	int saved = errno, ret;
	char what[512], hex[41];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (code == GIT_ENOTFOUND && (ret = odb_unreadable(e, hex)) < 0) {
		pifs_seterr(errbuf, errlen, "%s: cannot read object %s: %s",
			    what, hex, strerror(-ret));
		return ret;
	}
	pifs_seterr(errbuf, errlen, "%s: %s", what,
	       e && e->message ? e->message : "unknown libgit2 error");
	return pifs_git_errno(code, saved);
}

/* Replace git/DIR/worker with buf: a temporary beside it, renamed; no
 * fsync (see the callers for why that is enough). */
int pifs_git_save_nosync(struct pifs_store *st, const char *dir,
			 const char *worker, const void *buf, size_t len)
{
	char sub[64], tmp[PIFS_NAME_MAX + 16];
	int dfd, fd, ret;

	snprintf(sub, sizeof(sub), PIFS_GIT_DIR "/%s", dir);
	if ((ret = pifs_do_mkdir(st->fd, sub, 0700)) < 0 && ret != -EEXIST)
		return ret;
	dfd = pifs_openat_beneath(st->fd, sub, O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return dfd;
	snprintf(tmp, sizeof(tmp), ".%s.tmp", worker);
	fd = pifs_openat_beneath(dfd, tmp,
				 O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
				 0600);
	if (fd < 0) {
		close(dfd);
		return fd;
	}
	ret = pifs_write_all(fd, buf, len);
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0)
		ret = pifs_do_rename(dfd, tmp, dfd, worker, 0);
	if (ret < 0)
		pifs_do_unlink(dfd, tmp, 0);
	close(dfd);
	return ret;
}

/* syncfs of the file system holding the (possibly O_PATH) dirfd. */
int pifs_git_sync_fs(int dirfd)
{
	int fd, ret = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syncfs(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int git_inited;

/* libgit2's start-up (Debian's parses the whole system CA bundle: ~7 ms
 * here) on a thread of its own, while the caller does what needs no git:
 * pifs_git_init_async, then pifs_git_open joins it. */
static pthread_t init_thread;
static int init_started, init_result;

static void *init_main(void *arg)
{
	(void)arg;
	init_result = git_libgit2_init();
	return NULL;
}

void pifs_git_init_wait(void)
{
	if (!init_started)
		return;
	pthread_join(init_thread, NULL);
	init_started = 0;
	if (init_result >= 0)
		git_inited = 1; /* that init counts; it is never shut down */
}

void pifs_git_init_async(void)
{
	if (!git_inited && !init_started &&
	    pthread_create(&init_thread, NULL, init_main, NULL) == 0)
		init_started = 1;
}

int pifs_git_staged_note(struct pifs_git *g, const git_oid *oid)
{
	git_oid *n;

	if (!g->mempack->exists(g->mempack, oid))
		return 0; /* was already in the repository */
	if (g->nstaged == g->capstaged) {
		g->capstaged = g->capstaged ? g->capstaged * 2 : 256;
		n = realloc(g->staged, g->capstaged * sizeof(*n));
		if (!n)
			return -ENOMEM;
		g->staged = n;
	}
	g->staged[g->nstaged++] = *oid;
	return 0;
}

void pifs_git_staged_drop(struct pifs_git *g)
{
	if (g->mempack)
		git_mempack_reset(g->mempack);
	g->nstaged = 0;
	pifs_bigblob_drop(g);
}

/* Create STORE/git: initialised in work/ and renamed into place, so a
 * crash never leaves a half-made repository at STORE/git. */
static int repo_create(struct pifs_store *st, char *errbuf, size_t errlen)
{
	git_repository_init_options o = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	char tmpname[64], *path = NULL;
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	int ret;

	snprintf(tmpname, sizeof(tmpname), "git-init-%ld", (long)getpid());
	pifs_remove_tree(st->work_fd, tmpname);
	path = pifs_strdupf("%s/work/%s", st->path, tmpname);
	if (!path)
		return -ENOMEM;
	o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_NO_REINIT |
		  GIT_REPOSITORY_INIT_MKDIR;
	o.mode = 0700;
	if ((ret = git_repository_init_ext(&repo, path, &o)) < 0 ||
	    (ret = git_repository_config(&cfg, repo)) < 0 ||
	    (ret = git_config_set_bool(cfg, "core.protectNTFS", 0)) < 0 ||
	    (ret = git_config_set_bool(cfg, "core.protectHFS", 0)) < 0 ||
	    (ret = git_config_set_bool(cfg, "gc.auto", 0)) < 0) {
		ret = pifs_git_error(
		    ret, errbuf, errlen,
		    "cannot create repository '%s/" PIFS_GIT_DIR "'", st->path);
		goto out;
	}
	if (fchmodat(st->work_fd, tmpname, 0700, 0) < 0)
		ret = -errno;
	else
		ret = pifs_git_sync_fs(st->work_fd);
	if (ret < 0) {
		pifs_seterr(errbuf, errlen, "cannot create '%s': %s", path,
		       strerror(-ret));
		goto out;
	}
	if ((ret = pifs_do_rename(st->work_fd, tmpname, st->fd, PIFS_GIT_DIR,
				  RENAME_NOREPLACE)) < 0) {
		ret = ret == -EEXIST ? 0 : ret;
		if (ret < 0)
			pifs_seterr(errbuf, errlen,
			       "cannot create repository '%s/" PIFS_GIT_DIR
			       "': %s",
			       st->path, strerror(-ret));
		goto out;
	}
	ret = pifs_fsync_dir(st->fd);
out:
	git_config_free(cfg);
	git_repository_free(repo);
	pifs_remove_tree(st->work_fd, tmpname);
	free(path);
	return ret;
}

int pifs_git_open(struct pifs_git **out, struct pifs_store *st, int create,
		  char *errbuf, size_t errlen)
{
	struct pifs_git *g;
	struct stat sb;
	char *path = NULL;
	int ret;

	pifs_errclear(errbuf, errlen);
	*out = NULL;
	if (init_started) {
		pifs_git_init_wait();
		if (init_result < 0)
			return -ENOMEM;
		git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
	}
	if (!git_inited) {
		if (git_libgit2_init() < 0)
			return -ENOMEM;
		git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
		/* we check existence ourselves before referencing objects */
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
		git_inited = 1;
	}
	if (fstatat(st->fd, PIFS_GIT_DIR, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		ret = -errno;
		if (ret != -ENOENT || !create) {
			pifs_seterr(errbuf, errlen,
			       "no snapshot repository '%s/" PIFS_GIT_DIR "'",
			       st->path);
			return ret;
		}
		ret = repo_create(st, errbuf, errlen);
		if (ret < 0)
			return ret;
	}
	g = calloc(1, sizeof(*g));
	path = pifs_strdupf("%s/" PIFS_GIT_DIR, st->path);
	if (!g || !path) {
		free(g);
		free(path);
		return -ENOMEM;
	}
	g->st = st;
	g->spill_fd = -1;
	if ((ret = git_repository_open_bare(&g->repo, path)) < 0 ||
	    (ret = git_repository_odb(&g->odb, g->repo)) < 0 ||
	    (ret = git_mempack_new(&g->mempack)) < 0) {
		ret = pifs_git_error(ret, errbuf, errlen,
				     "cannot open repository '%s'", path);
		goto fail;
	}
	if ((ret = git_odb_add_backend(g->odb, g->mempack, 999)) < 0) {
		g->mempack->free(g->mempack);
		g->mempack = NULL;
		ret = pifs_git_error(ret, errbuf, errlen,
				     "cannot open repository '%s'", path);
		goto fail;
	}
	free(path);
	last_store = st;
	*out = g;
	return 0;
fail:
	free(path);
	pifs_git_free(g);
	return ret;
}

void pifs_git_free(struct pifs_git *g)
{
	if (!g)
		return;
	if (last_store == g->st)
		last_store = NULL;
	pifs_git_snapshot_abort(g);
	free(g->jn.buf);
	free(g->staged);
	free(g->spilled);
	git_odb_free(g->odb); /* frees the mempack backend too */
	git_repository_free(g->repo);
	free(g);
}

void pifs_git_ref_name(char *buf, size_t len, const char *worker)
{
	snprintf(buf, len, REF_PREFIX "%s", worker);
}
