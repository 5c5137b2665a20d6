/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tftpboot.c - the static top and tftpboot/: the attributes of the static
 * directories (the root, nfsroot/, tftpboot/); tftpboot/'s lookups and
 * listing: the boot ROM's files from the default golden and, per
 * registered worker, a read-only alias directory onto its worker's
 * boot/firmware/ under the name its boot loader asks for (its serial, its
 * MAC with dashes or a fixed string: registry.h; an unregistered serial
 * or MAC is logged once); and the rule that nothing is changed through
 * tftpboot/ or the static top.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "safeio.h"
#include "util.h"
#include "view.h"
#include "internal.h"

/* The static directories.  The kernel caches listings and compares the
 * directory's mtime at the start of each (fs/listings.c), so the mtime
 * moves with the listing: the root's never changes; nfsroot/ changes with
 * the registry (the time it was loaded); tftpboot/ also with each
 * worker's boot/firmware/, so it is always now. */
int static_stat(struct pifs_fs *fs, struct pifs_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->id;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec =
		fs->start_time;
	if (n == fs->root) {
		st->st_nlink = 4;
	} else if (n->parent == fs->nfsroot) {
		/* a worker's mount point: the same for ever */
	} else {
		pifs_fs_refresh(fs);
		pthread_mutex_lock(&fs->views_lock);
		for (size_t i = 0; i < fs->nviews; i++)
			if (!fs->views[i]->gone)
				st->st_nlink++;
		if (n == fs->nfsroot)
			st->st_mtim = fs->reg_loaded;
		pthread_mutex_unlock(&fs->views_lock);
		if (n != fs->nfsroot)
			clock_gettime(CLOCK_REALTIME, &st->st_mtim);
		st->st_ctim = st->st_mtim;
	}
	st->st_blksize = 4096;
	return 0;
}

struct pifs_view *view_by_tftp_dir(struct pifs_fs *fs, const char *name)
{
	struct pifs_view *v = NULL;

	pthread_mutex_lock(&fs->views_lock);
	for (size_t i = 0; i < fs->nviews; i++)
		if (!fs->views[i]->gone && !strcmp(fs->views[i]->tftp_dir, name))
			v = fs->views[i];
	pthread_mutex_unlock(&fs->views_lock);
	return v;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* What a board asks for by default: 8 lower-case hex digits. */
static int is_serial(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!is_hex(s[i]))
			return 0;
	return i == 8;
}

/* What an EEPROM with TFTP_PREFIX=2 asks for: dc-a6-32-01-36-c2. */
static int is_mac_dir(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i % 3 == 2 ? s[i] != '-' : !is_hex(s[i]))
			return 0;
	return i == 17;
}

/* Say once per name that a Pi asked for a directory pifs does not have,
 * with the command that registers it.  Only serial- and MAC-shaped names:
 * anything else asked for at the top is a root file (a Pi 4 that found
 * no start4.elf in its directory asks for start4.elf here), and a fixed
 * TFTP_PREFIX_STR cannot be told from one. */
int tftp_note_once(struct pifs_fs *fs, const char *name)
{
	unsigned i;
	int first = 0;

	pthread_mutex_lock(&fs->unknown_lock);
	for (i = 0; i < fs->nunknown; i++)
		if (!strcmp(fs->unknown[i], name))
			break;
	if (i == fs->nunknown && i < sizeof(fs->unknown) / sizeof(*fs->unknown)) {
		snprintf(fs->unknown[fs->nunknown++], sizeof(*fs->unknown),
			 "%s", name);
		first = 1;
	}
	pthread_mutex_unlock(&fs->unknown_lock);
	return first;
}

static void log_unknown(struct pifs_fs *fs, const char *name)
{
	if (tftp_note_once(fs, name)) {
		char mac[18];

		if (is_serial(name)) {
			pifs_warn("boot request for unregistered serial %s: "
				  "register it with 'pifs worker add NAME "
				  "--serial %s'", name, name);
		} else {
			for (int k = 0; k < 17; k++)
				mac[k] = name[k] == '-' ? ':' : name[k];
			mac[17] = '\0';
			pifs_warn("boot request for unregistered MAC directory "
				  "%s: register it with 'pifs worker add NAME "
				  "--model pi4|pi5 --serial SERIAL --mac %s "
				  "--tftp-prefix mac'", name, mac);
		}
	}
}

/* The tftpboot/ alias of REAL (pinned; the pin passes to the alias). */
int alias_node(struct pifs_fs *fs, struct pifs_node *parent, const char *name,
	       struct pifs_node *real, struct pifs_node **out, struct stat *st)
{
	struct pifs_node *n;
	int r = pifs_fs_getattr(fs, real, st);

	if (r == 0 && !S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		r = -ENOENT; /* never a symlink, device or fifo for dnsmasq */
	if (r < 0) {
		pifs_nodes_put(&fs->nodes, real);
		return r;
	}
	st->st_ino = real->id | PIFS_ID_ALIAS;
	n = pifs_nodes_get(&fs->nodes, real->id | PIFS_ID_ALIAS);
	if (n) {
		pifs_nodes_put(&fs->nodes, real);
		*out = n;
		return 0;
	}
	n = pifs_node_new(real->id | PIFS_ID_ALIAS, real->gen, real->view, real->type);
	if (!n || !(n->name = strdup(name))) {
		if (n)
			pifs_nodes_put(&fs->nodes, n);
		pifs_nodes_put(&fs->nodes, real);
		return -ENOMEM;
	}
	pin(fs, parent);
	n->parent = parent;
	n->real = real;
	*out = pifs_nodes_insert(&fs->nodes, n);
	return 0;
}

/* A worker's boot/firmware directory node, pinned. */
static int firmware_node(struct pifs_fs *fs, struct pifs_view *v,
			 struct pifs_node **out)
{
	struct pifs_node *boot, *fw;
	struct stat st;
	int r;

	if ((r = lookup_pinned(fs, v->root, "boot", &boot, &st)) < 0)
		return r;
	r = lookup_pinned(fs, boot, "firmware", &fw, &st);
	pifs_nodes_put(&fs->nodes, boot);
	if (r < 0)
		return r;
	if (!S_ISDIR(fw->type)) {
		pifs_nodes_put(&fs->nodes, fw);
		return -ENOENT;
	}
	*out = fw;
	return 0;
}

/* Files the boot ROM fetches from the TFTP root, before any serial. */
static int is_root_boot_file(const char *name)
{
	return !strcmp(name, "bootcode.bin") || !strcmp(name, "bootsig.bin");
}

int tftp_lookup(struct pifs_fs *fs, const char *name, struct pifs_node **out,
		struct stat *st)
{
	struct pifs_node *n, *fw;
	struct pifs_view *v;
	int r;

	if (is_root_boot_file(name)) {
		char *gp = pifs_strdupf("boot/firmware/%s", name);
		uint64_t id;

		if (!gp)
			return -ENOMEM;
		r = pifs_lstat_beneath(fs->store.golden_fd, gp, st);
		if (r == 0 && !S_ISREG(st->st_mode))
			r = -ENOENT;
		if (r < 0) {
			free(gp);
			return r;
		}
		id = pifs_make_id(0, 1, st->st_ino);
		st->st_ino = id;
		if ((n = pifs_nodes_get(&fs->nodes, id))) {
			free(gp);
			*out = n;
			return 0;
		}
		n = pifs_node_new(id, 0, NULL, S_IFREG);
		if (!n || !(n->name = strdup(name))) {
			if (n)
				pifs_nodes_put(&fs->nodes, n);
			free(gp);
			return -ENOMEM;
		}
		n->lower_path = gp;
		pin(fs, fs->tftproot);
		n->parent = fs->tftproot;
		*out = pifs_nodes_insert(&fs->nodes, n);
		return 0;
	}
	/* Only names a registered directory can have (registry.h): never
	 * '.', '..', a '/' or anything longer than TFTP_PREFIX_STR. */
	if (pifs_tftp_str_valid(name) < 0)
		return -ENOENT;
	pifs_fs_refresh(fs);
	if (!(v = view_by_tftp_dir(fs, name))) {
		int logged;

		/* Only the two shapes a board's EEPROM or bootcode.bin makes
		 * by itself are registered or logged: a fixed string is an
		 * admin's choice, and anything else a root file. */
		if (!is_serial(name) && !is_mac_dir(name))
			return -ENOENT;
		if (enroll(fs, name, &logged) < 0 ||
		    !(v = view_by_tftp_dir(fs, name))) {
			if (!logged)
				log_unknown(fs, name);
			return -ENOENT;
		}
	}
	if ((r = firmware_node(fs, v, &fw)) < 0)
		return r;
	return alias_node(fs, fs->tftproot, name, fw, out, st);
}

/* A node reached through tftpboot/: read-only, never cached. */
int is_tftp(const struct pifs_node *n)
{
	return n->real || (!n->view && n->lower_path);
}

int modifiable(struct pifs_fs *fs, const struct pifs_node *n)
{
	if (is_tftp(n) || n == fs->tftproot)
		return -EROFS;
	return n->view ? 0 : -EPERM;
}

/* tftpboot/: the root boot files the golden has, and a directory per
 * registered worker that has a boot/firmware directory, under the name its
 * boot loader asks for. */
int tftp_list(struct pifs_fs *fs, struct dirbuf *b)
{
	static const char *const files[] = { "bootcode.bin", "bootsig.bin" };
	struct pifs_view **vs = NULL;
	size_t nv = 0;
	int r = 0;

	for (size_t i = 0; r == 0 && i < 2; i++) {
		char gp[64];
		struct stat st;

		snprintf(gp, sizeof(gp), "boot/firmware/%s", files[i]);
		if (pifs_lstat_beneath(fs->store.golden_fd, gp, &st) == 0 &&
		    S_ISREG(st.st_mode))
			r = dir_add(b, files[i], pifs_make_id(0, 1, st.st_ino), DT_REG);
	}
	pifs_fs_refresh(fs);
	pthread_mutex_lock(&fs->views_lock);
	vs = calloc(fs->nviews ? fs->nviews : 1, sizeof(*vs));
	for (size_t i = 0; vs && i < fs->nviews; i++)
		if (!fs->views[i]->gone)
			vs[nv++] = fs->views[i];
	pthread_mutex_unlock(&fs->views_lock);
	if (!vs)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < nv; i++) {
		struct pifs_node *fw;

		if (firmware_node(fs, vs[i], &fw) < 0)
			continue;
		r = dir_add(b, vs[i]->tftp_dir, fw->id | PIFS_ID_ALIAS, DT_DIR);
		pifs_nodes_put(&fs->nodes, fw);
	}
	free(vs);
	return r;
}

/* A tftpboot/ alias directory: its real directory's regular files and
 * subdirectories, nothing else. */
int alias_list(struct pifs_fs *fs, struct pifs_node *n, struct dirbuf *b)
{
	struct pifs_dir *rd;
	int r;

	if (!S_ISDIR(n->type))
		return -ENOTDIR;
	if ((r = pifs_fs_opendir(fs, n->real, &rd)) < 0)
		return r;
	for (size_t i = 2; r == 0 && i < rd->count; i++) {
		struct pifs_dirent *e = &rd->ents[i];

		if (e->type == DT_REG || e->type == DT_DIR)
			r = dir_add(b, e->name, e->ino | PIFS_ID_ALIAS, e->type);
	}
	pifs_dir_free(rd);
	return r;
}
