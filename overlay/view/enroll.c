/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * enroll.c - zero-touch enrolment (pifs enroll on): a board that asks
 * tftpboot/ for a serial- or MAC-shaped directory no worker has is
 * registered as the next free worker-N, marked "enrolled" until an admin
 * accepts it, on a fresh delta over the store's default golden, with the
 * lowest free address of the store's range; the lookup that asked then
 * finds its directory, so the board is served at once.
 *
 * Races and bounds:
 * - One enrolment at a time (fs->enroll_lock): a board asking again, or
 *   a second request of the same boot, waits for the first and finds the
 *   worker it made: one name, one worker.
 * - The CLI changes the registry under lock/store; so does this, so
 *   neither loses the other's change (the registry is re-read under the
 *   lock).  The lock is waited for a short, bounded time only: a lookup
 *   holds a pool thread and dnsmasq (single-threaded) waits for it.  A
 *   miss backs off for ENROLL_BACKOFF_S, in which requests fail at once
 *   (the board retries its boot).
 * - At most conf.enroll_max workers are enrolled and not accepted: past
 *   that, nothing is registered and the cap is logged once (again only
 *   after it was below the cap).  The check runs before the lock, on the
 *   registry file as it is (replaced atomically, so read whole), so a
 *   flood of made-up names costs a small read each and never waits.
 * - Crash safety: the delta is made in work/ and renamed into deltas/
 *   whole, synced, then the registry is replaced atomically
 *   (pifs_write_file_atomic).  A kill -9 in between leaves a delta no
 *   worker owns (fsck does not mind), which the next enrolment skips:
 *   it never takes a name whose delta exists.
 * pifsd's control thread sees the new registry through its inotify watch
 * and mounts the worker's own file system (fs/ctl.c, fs/sessions.c), as
 * after `pifs worker add`; with the exports installed (pifs exports
 * --install) that mount then has pifsd's exports thread rewrite them and
 * run exportfs -r (exports.c), never this lookup.
 *
 * The model a name implies: a MAC directory is a Pi 4 or Pi 5 with
 * TFTP_PREFIX=2 (a Pi 5 when its MAC is 2c:cf:67, the Pi 5's own prefix;
 * else a Pi 4); a serial directory is a Pi 4 (the EEPROM's default
 * TFTP_PREFIX=0) or a Pi 3B+.  The first file a board asks for in its
 * directory tells them apart, and is recorded (enroll_first_file): a Pi
 * 3B+'s bootcode.bin asks for start.elf first, a Pi 4's EEPROM for
 * start4.elf, a Pi 5's (no start*.elf: its firmware is in the EEPROM)
 * for config.txt (PI-BOOT.md; tests/tools/bootrom.c follows the same
 * sources).  A Pi 3B+ then gets its MAC (b8:27:eb: and the serial's last
 * six digits), and with it a fixed address from dnsmasq.  Only the first
 * of those three names counts, and only for a worker this pifsd enrolled
 * and has not seen a request for yet; an admin who looks into the
 * directory first (ls -l: a lookup of config.txt) may make a Pi 4 a pi5
 * in the registry, which changes what `pifs status` checks, not what is
 * served (every model reads the same files: identity.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "safeio.h"
#include "store.h"
#include "util.h"
#include "view.h"
#include "internal.h"

#define ENROLL_LOCK_MS 500
#define ENROLL_BACKOFF_S 5

static int enroll_conf(struct pifs_fs *fs, unsigned *max)
{
	int on;

	pthread_mutex_lock(&fs->views_lock);
	on = fs->store.conf.enroll;
	*max = fs->store.conf.enroll_max;
	pthread_mutex_unlock(&fs->views_lock);
	return on;
}

/* The worker NAME asks for, as far as its name tells (see above). */
static void worker_from_dir(const char *name, struct pifs_worker *w)
{
	memset(w, 0, sizeof(*w));
	w->flags = PIFS_WORKER_ENROLLED;
	if (strlen(name) == 8) {
		memcpy(w->serial, name, 9);
		w->model = PIFS_MODEL_PI4;
		w->prefix = PIFS_PREFIX_SERIAL;
		return;
	}
	for (int i = 0; i < 17; i++)
		w->mac[i] = name[i] == '-' ? ':' : name[i];
	w->mac[17] = '\0';
	w->model = strncmp(w->mac, "2c:cf:67", 8) ? PIFS_MODEL_PI4
						  : PIFS_MODEL_PI5;
	w->prefix = PIFS_PREFIX_MAC;
}

static int backing_off(struct pifs_fs *fs)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < fs->enroll_busy.tv_sec;
}

/* dnsmasq's reservations follow the registry (pifs dnsmasq-conf
 * --hosts-dir): a board whose MAC is known keeps its address. */
static void hosts_write(struct pifs_fs *fs, const struct pifs_store_conf *conf,
			const struct pifs_registry *reg)
{
	struct pifs_store st = fs->store; /* borrowed fds, the new conf */
	int r;

	st.conf = *conf;
	if ((r = pifs_store_hosts_write(&st, reg)) < 0)
		pifs_warn("cannot write dnsmasq's reservations '%s/pifs-workers'"
			  ": %s", conf->hostsdir, strerror(-r));
}

/* Has deltas/ a delta of NAME, or a removed one's (.removed-NAME-<time>)? */
static int name_used(struct pifs_fs *fs, const char *name)
{
	size_t len = strlen(name);
	struct dirent *de;
	struct stat st;
	int fd, used = 0;
	DIR *d;

	if (fstatat(fs->store.deltas_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	fd = openat(fs->store.deltas_fd, ".", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 1; /* cannot tell: take the next */
	}
	while (!used && (de = readdir(d)))
		used = !strncmp(de->d_name, ".removed-", 9) &&
		       !strncmp(de->d_name + 9, name, len) &&
		       de->d_name[9 + len] == '-';
	closedir(d);
	return used;
}

/* Register w (its name, address and id chosen here) under the store
 * lock; reg is the registry as on disk.  0 or -errno, logged. */
static int enroll_locked(struct pifs_fs *fs, struct pifs_registry *reg,
			 struct pifs_worker *w, const char *dir)
{
	struct pifs_store_conf conf;
	char err[256], tmp[PIFS_NAME_MAX + 8];
	unsigned n = 1;
	int r;

	if ((r = pifs_store_conf_read(&fs->store, &conf)) < 0) {
		pifs_err("enrolment of %s: cannot read pifs.conf: %s", dir,
			 strerror(-r));
		return r;
	}
	/* worker-N: the lowest N with neither a worker nor a delta (one a
	 * crash left behind), nor a removed worker's kept delta: its
	 * snapshots are still under the name, and a board must not come
	 * into another's history */
	for (;; n++) {
		pifs_registry_next_name(reg, w->name, n);
		if (!name_used(fs, w->name))
			break;
		if (sscanf(w->name, "worker-%u", &n) != 1 ||
		    n > PIFS_VIEW_ID_MAX) {
			pifs_warn("enrolment of %s: no worker-N name left",
				  dir);
			return -ENOSPC;
		}
	}
	if ((r = pifs_registry_free_ip(reg, conf.range_lo, conf.range_hi,
				       w->ip)) < 0) {
		pifs_warn("enrolment of %s: no free address in %s-%s", dir,
			  conf.range_lo, conf.range_hi);
		return r;
	}
	if ((r = pifs_registry_add(reg, w, err, sizeof(err))) < 0) {
		/* e.g. a serial a worker on its MAC has: said once, a
		 * board asks again and again */
		if (tftp_note_once(fs, dir))
			pifs_warn("boot request for %s not enrolled: %s", dir,
				  err);
		return r;
	}
	/* Built in work/ (emptied at every mount) and renamed in whole: a
	 * crash leaves no half-made delta under the name. */
	snprintf(tmp, sizeof(tmp), "enroll-%s", w->name);
	pifs_remove_tree(fs->store.work_fd, tmp);
	r = pifs_store_delta_init_on(&fs->store, fs->store.work_fd, tmp,
				     conf.golden);
	if (r == 0)
		r = pifs_fsync_dir(fs->store.work_fd);
	if (r == 0)
		r = pifs_do_rename(fs->store.work_fd, tmp, fs->store.deltas_fd,
				   w->name, RENAME_NOREPLACE);
	if (r == 0)
		r = pifs_fsync_dir(fs->store.deltas_fd);
	if (r < 0) {
		pifs_remove_tree(fs->store.work_fd, tmp);
		pifs_err("enrolment of %s: cannot create delta '%s': %s", dir,
			 w->name, strerror(-r));
		return r;
	}
	if ((r = pifs_registry_save(reg, fs->store.fd)) < 0) {
		pifs_remove_tree(fs->store.deltas_fd, w->name);
		pifs_err("enrolment of %s: cannot save the registry: %s", dir,
			 strerror(-r));
		return r;
	}
	hosts_write(fs, &conf, reg);
	return 0;
}

int enroll(struct pifs_fs *fs, const char *name, int *logged)
{
	struct pifs_registry reg;
	struct pifs_worker w;
	char err[256];
	unsigned max;
	int r = -ENOENT;

	*logged = 0;
	if (!enroll_conf(fs, &max))
		return -ENOENT;
	*logged = 1;
	pifs_registry_init(&reg);
	pthread_mutex_lock(&fs->enroll_lock);
	/* Registered while this request waited: the same worker. */
	pifs_fs_refresh(fs);
	if (view_by_tftp_dir(fs, name)) {
		r = 0;
		goto out;
	}
	if (backing_off(fs))
		goto out;
	if (pifs_registry_load(&reg, fs->store.fd, err, sizeof(err)) < 0) {
		pifs_err("enrolment of %s: %s", name, err);
		goto out;
	}
	if (pifs_registry_enrolled(&reg) >= max)
		goto capped;
	if (pifs_store_lock(&fs->store, ENROLL_LOCK_MS) < 0) {
		clock_gettime(CLOCK_MONOTONIC, &fs->enroll_busy);
		fs->enroll_busy.tv_sec += ENROLL_BACKOFF_S;
		pifs_warn("boot request for %s not enrolled: a pifs command "
			  "holds the store's lock; the board's next boot "
			  "tries again", name);
		goto out;
	}
	/* What the registry is now, under the lock: the CLI may have
	 * added this very board, or other workers. */
	if (pifs_registry_load(&reg, fs->store.fd, err, sizeof(err)) < 0) {
		pifs_err("enrolment of %s: %s", name, err);
		goto unlock;
	}
	if (pifs_registry_find_tftp_dir(&reg, name)) {
		r = 0;
		goto unlock;
	}
	if (pifs_registry_enrolled(&reg) >= max) {
		pifs_store_unlock(&fs->store);
		goto capped;
	}
	fs->enroll_capped = 0;
	worker_from_dir(name, &w);
	if (enroll_locked(fs, &reg, &w, name) == 0) {
		r = 0;
		if (fs->nfresh < sizeof(fs->enroll_fresh) /
				     sizeof(fs->enroll_fresh[0])) {
			fs->enroll_fresh[fs->nfresh] = w.id;
			__atomic_store_n(&fs->nfresh, fs->nfresh + 1,
					 __ATOMIC_RELEASE);
		}
		pifs_info("enrolled %s as %s: %s, %s %s, ip %s (pifs worker "
			  "accept %s)", name, w.name, pifs_model_name(w.model),
			  w.serial[0] ? "serial" : "mac",
			  w.serial[0] ? w.serial : w.mac, w.ip, w.name);
	}
unlock:
	pifs_store_unlock(&fs->store);
	pifs_fs_refresh(fs);
	goto out;
capped:
	if (!fs->enroll_capped)
		pifs_warn("boot request for %s not enrolled: %u workers are "
			  "enrolled and not accepted, the most 'pifs enroll "
			  "on --max %u' allows (pifs worker accept NAME); "
			  "further requests are not logged", name, max, max);
	fs->enroll_capped = 1;
out:
	pthread_mutex_unlock(&fs->enroll_lock);
	pifs_registry_release(&reg);
	return r;
}

/* The model whose boot loader asks for NAME first in its directory, or
 * -1 for any other name. */
static int first_file_model(const char *name)
{
	if (!strcmp(name, "start.elf"))
		return PIFS_MODEL_PI3BPLUS;
	if (!strcmp(name, "start4.elf"))
		return PIFS_MODEL_PI4;
	if (!strcmp(name, "config.txt"))
		return PIFS_MODEL_PI5;
	return -1;
}

/* Record model m for the enrolled worker with view id (store locked). */
static void set_model(struct pifs_fs *fs, uint32_t id, enum pifs_model m,
		      const char *asked)
{
	struct pifs_registry reg;
	struct pifs_worker *w = NULL, nw;
	struct pifs_store_conf conf;
	char err[256];
	int r;

	pifs_registry_init(&reg);
	if (pifs_registry_load(&reg, fs->store.fd, err, sizeof(err)) < 0) {
		pifs_err("enrolment: %s", err);
		goto out;
	}
	for (size_t i = 0; i < reg.count; i++)
		if (reg.workers[i].id == id)
			w = &reg.workers[i];
	/* accepted or removed meanwhile: the admin's word stands */
	if (!w || !(w->flags & PIFS_WORKER_ENROLLED) || w->model == m)
		goto out;
	nw = *w;
	nw.model = m;
	if (m == PIFS_MODEL_PI3BPLUS) {
		if (nw.prefix != PIFS_PREFIX_SERIAL || !nw.serial[0])
			goto out; /* a Pi 4 without start4.elf: not a 3B+ */
		pifs_mac_from_serial(nw.serial, nw.mac);
		for (size_t i = 0; i < reg.count; i++)
			if (&reg.workers[i] != w &&
			    !strcmp(reg.workers[i].mac, nw.mac)) {
				pifs_warn("enrolled %s asked for %s first, a "
					  "pi3b+, but its mac %s is already "
					  "%s's: left a %s", w->name, asked,
					  nw.mac, reg.workers[i].name,
					  pifs_model_name(w->model));
				goto out;
			}
	}
	if (pifs_worker_check(&nw, err, sizeof(err)) < 0) {
		pifs_warn("enrolled %s: cannot make it a %s: %s", w->name,
			  pifs_model_name(m), err);
		goto out;
	}
	*w = nw;
	if ((r = pifs_registry_save(&reg, fs->store.fd)) < 0) {
		pifs_err("enrolled %s: cannot save the registry: %s", nw.name,
			 strerror(-r));
		goto out;
	}
	if (pifs_store_conf_read(&fs->store, &conf) == 0)
		hosts_write(fs, &conf, &reg);
	if (m == PIFS_MODEL_PI3BPLUS)
		pifs_info("enrolled %s asked for %s first: a %s, mac %s",
			  nw.name, asked, pifs_model_name(m), nw.mac);
	else
		pifs_info("enrolled %s asked for %s first: a %s", nw.name,
			  asked, pifs_model_name(m));
out:
	pifs_registry_release(&reg);
}

void enroll_first_file(struct pifs_fs *fs, struct pifs_view *v,
		       const char *name)
{
	int m = first_file_model(name);
	unsigned i;

	if (m < 0)
		return;
	pthread_mutex_lock(&fs->enroll_lock);
	for (i = 0; i < fs->nfresh; i++)
		if (fs->enroll_fresh[i] == v->id)
			break;
	if (i == fs->nfresh)
		goto out;
	fs->enroll_fresh[i] = fs->enroll_fresh[fs->nfresh - 1];
	__atomic_store_n(&fs->nfresh, fs->nfresh - 1, __ATOMIC_RELEASE);
	if (pifs_store_lock(&fs->store, ENROLL_LOCK_MS) < 0) {
		pifs_warn("enrolled %s asked for %s first, but a pifs command "
			  "holds the store's lock: its model is left as it "
			  "was", v->name, name);
		goto out;
	}
	set_model(fs, v->id, (enum pifs_model)m, name);
	pifs_store_unlock(&fs->store);
	pifs_fs_refresh(fs);
out:
	pthread_mutex_unlock(&fs->enroll_lock);
}
