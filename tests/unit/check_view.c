/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_view.c - the merged namespace without FUSE: lookup across layers,
 * copy-up, whiteouts, opaque and redirected directories, node ids that
 * survive copy-up, rename and a restart, and the golden left untouched.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "registry.h"
#include "safeio.h"
#include "store.h"
#include "unit.h"
#include "view.h"

static char tmpdir[] = "/var/tmp/pifs-check-view.XXXXXX";
static char store[4200], golden_dir[4200];
static struct pifs_fs fs;
static const struct pifs_ctx root_ctx = { 0, 0 };

/* A file capability as setcap cap_net_raw+ep writes it (v2, little
 * endian: magic with the effective flag, permitted, inheritable, and the
 * upper 32 bits of both). */
static const unsigned char cap_net_raw[20] = {
	0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static int cap_ok; /* the file system under /var/tmp took it */

static void put_file(const char *rel, const char *content, mode_t mode)
{
	char p[4400];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", golden_dir, rel);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
	ck_assert_int_eq(chmod(p, mode), 0);
}

static void setup(void)
{
	struct pifs_registry reg;
	struct pifs_worker w = { 0 };
	struct pifs_store st;
	char err[256], p[4400];

	umask(0);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(golden_dir, sizeof(golden_dir), "%s/golden", tmpdir);
	snprintf(store, sizeof(store), "%s/store", tmpdir);
	ck_assert_int_eq(mkdir(golden_dir, 0755), 0);
	snprintf(p, sizeof(p), "%s/a", golden_dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/b", golden_dir);
	ck_assert_int_eq(mkdir(p, 0750), 0);
	snprintf(p, sizeof(p), "%s/boot", golden_dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	put_file("a/f", "golden f\n", 0644);
	put_file("a/b/g", "golden g\n", 0600);
	put_file("boot/config.txt", "arm_64bit=1\n", 0644);
	snprintf(p, sizeof(p), "%s/a/link", golden_dir);
	ck_assert_int_eq(symlink("/etc/shadow", p), 0);
	snprintf(p, sizeof(p), "%s/sbin", golden_dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	put_file("sbin/ping", "golden ping\n", 04755);
	snprintf(p, sizeof(p), "%s/sbin/ping", golden_dir);
	cap_ok = lsetxattr(p, "security.capability", cap_net_raw,
			   sizeof(cap_net_raw), 0) == 0;

	ck_assert_int_eq(pifs_store_create(store, golden_dir, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_store_open(&st, store, err, sizeof(err)), 0);
	pifs_registry_init(&reg);
	ck_assert_int_eq(pifs_registry_load(&reg, st.fd, err, sizeof(err)), 0);
	snprintf(w.name, sizeof(w.name), "w1");
	snprintf(w.serial, sizeof(w.serial), "8b07bcc6");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	snprintf(w.name, sizeof(w.name), "w2");
	snprintf(w.serial, sizeof(w.serial), "77b655ec");
	w.mac[0] = w.ip[0] = '\0';
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_store_delta_create(&st, "w1"), 0);
	ck_assert_int_eq(pifs_store_delta_create(&st, "w2"), 0);
	ck_assert_int_eq(pifs_registry_save(&reg, st.fd), 0);
	pifs_registry_release(&reg);
	pifs_store_close(&st);
	ck_assert_msg(pifs_fs_open(&fs, store, err, sizeof(err)) == 0, "%s", err);
}

static void teardown(void)
{
	char cmd[4400];

	pifs_fs_close(&fs);
	snprintf(cmd, sizeof(cmd), "chattr -R -i %s 2>/dev/null; rm -rf %s", tmpdir, tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir, "/var/tmp/pifs-check-view.XXXXXX");
}

/* Walk a slash-separated path; returns the node (one lookup counted) or
 * NULL with *err set.  "nfsroot/W/..." is walked as worker W's own file
 * system sees it, from its view's root (what its NFS client sees, and
 * what pifsd mounts on nfsroot/W); other paths from the top. */
static struct pifs_node *walk(const char *path, struct stat *st, int *err)
{
	struct pifs_node *n = fs.root, *next;
	char buf[1024], dot[] = ".", *save = NULL, *c;
	struct stat tmp;

	snprintf(buf, sizeof(buf), "%s", path);
	*err = 0;
	c = strtok_r(buf, "/", &save);
	if (c && !strcmp(c, "nfsroot")) {
		struct pifs_view *v;

		c = strtok_r(NULL, "/", &save);
		if (!c) {
			n = fs.nfsroot;
			pifs_nodes_lookup_inc(&fs.nodes, n);
			if (st)
				pifs_fs_getattr(&fs, n, st);
			return n;
		}
		if (!(v = pifs_fs_view(&fs, c))) {
			*err = -ENOENT;
			return NULL;
		}
		n = v->root;
		c = dot;
	}
	for (; c; c = strtok_r(NULL, "/", &save)) {
		int r = pifs_fs_lookup(&fs, n, c, &next, st ? st : &tmp);

		if (r < 0) {
			*err = r;
			return NULL;
		}
		n = next;
	}
	return n;
}

static char *read_all(struct pifs_node *n)
{
	static char buf[256];
	int fd, is_golden;
	ssize_t len;

	ck_assert_int_eq(pifs_fs_open_file(&fs, n, O_RDONLY, &fd, &is_golden), 0);
	len = pread(fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_ge(len, 0);
	buf[len] = '\0';
	close(fd);
	return buf;
}

static int dir_has(struct pifs_node *d, const char *name)
{
	struct pifs_dir *dir;
	int found = 0;

	ck_assert_int_eq(pifs_fs_opendir(&fs, d, &dir), 0);
	for (size_t i = 0; i < dir->count; i++)
		if (!strcmp(dir->ents[i].name, name))
			found = 1;
	pifs_dir_free(dir);
	return found;
}

static void delta_path(char *out, size_t len, const char *worker, const char *rel)
{
	snprintf(out, len, "%s/deltas/%s/%s", store, worker, rel);
}

START_TEST(test_lookup_layers)
{
	struct pifs_node *n;
	struct stat st;
	int err;

	n = walk("nfsroot/w1/a/f", &st, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(read_all(n), "golden f\n");
	ck_assert_uint_eq(st.st_ino, n->id);
	ck_assert_uint_eq(PIFS_ID_VIEW(n->id), 1);
	ck_assert(!(n->id & PIFS_ID_UPPER));
	ck_assert_int_eq(st.st_mode & 07777, 0644);
	ck_assert_ptr_null(walk("nfsroot/w1/a/nope", NULL, &err));
	ck_assert_int_eq(err, -ENOENT);
	ck_assert_ptr_null(walk("nfsroot/w9", NULL, &err));
	ck_assert_int_eq(err, -ENOENT);
	n = walk("nfsroot/w1/a/link", &st, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert(S_ISLNK(st.st_mode));
	char target[64];
	ck_assert_int_eq(pifs_fs_readlink(&fs, n, target, sizeof(target)), 11);
	ck_assert_str_eq(target, "/etc/shadow");
	/* the same golden file in two views: two ids, same bytes */
	struct pifs_node *m = walk("nfsroot/w2/a/f", NULL, &err);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_ne(m->id, walk("nfsroot/w1/a/f", NULL, &err)->id);
}
END_TEST

START_TEST(test_copy_up)
{
	struct pifs_node *n;
	struct stat st, gst;
	char p[4400];
	int fd, is_golden, err;
	uint64_t id;

	n = walk("nfsroot/w1/a/b/g", &st, &err);
	ck_assert_ptr_nonnull(n);
	id = n->id;
	ck_assert_int_eq(pifs_fs_open_file(&fs, n, O_WRONLY | O_APPEND, &fd, &is_golden), 0);
	ck_assert_int_eq(is_golden, 0);
	ck_assert_int_eq(write(fd, "more\n", 5), 5);
	close(fd);
	ck_assert_str_eq(read_all(n), "golden g\nmore\n");
	/* the delta has the copy, with parents and the original mode */
	delta_path(p, sizeof(p), "w1", "a/b/g");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	delta_path(p, sizeof(p), "w1", "a/b");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0750);
	/* the golden and the other view are untouched */
	char *gc = NULL;
	ck_assert_int_eq(pifs_read_file(fs.store.golden_fd, "a/b/g", 4096, &gc, NULL), 0);
	ck_assert_str_eq(gc, "golden g\n");
	free(gc);
	ck_assert_int_eq(pifs_lstat_beneath(fs.store.golden_fd, "a/b/g", &gst), 0);
	ck_assert_int_eq(gst.st_mode & 07777, 0600);
	ck_assert_str_eq(read_all(walk("nfsroot/w2/a/b/g", NULL, &err)), "golden g\n");
	/* the id did not change */
	n = walk("nfsroot/w1/a/b/g", &st, &err);
	ck_assert_uint_eq(n->id, id);
	ck_assert_uint_eq(st.st_ino, id);
	/* setattr copies up too and keeps ids */
	n = walk("nfsroot/w1/a/f", &st, &err);
	id = n->id;
	struct stat a = { .st_mode = 0604 };
	ck_assert_int_eq(pifs_fs_setattr(&fs, n, &a, PIFS_SET_MODE, -1, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0604);
	ck_assert_uint_eq(st.st_ino, id);
	ck_assert_str_eq(read_all(n), "golden f\n");
}
END_TEST

/* A copy-up keeps a setuid file's mode and its file capability: the
 * owner is set before the golden's xattrs (a chown clears
 * security.capability), the mode after the chown (which clears setuid). */
START_TEST(test_copy_up_keeps_capability)
{
	struct stat st, a = { .st_mode = 04755 };
	unsigned char got[64];
	struct pifs_node *n;
	char p[4400];
	ssize_t len;
	int err;

	if (!cap_ok) {
		ck_assert_msg(!unit_required("PIFS_REQUIRE_FUSE") &&
				      !unit_required("PIFS_REQUIRE_ROOT"),
			      "cannot set security.capability under /var/tmp");
		return;
	}
	n = walk("nfsroot/w1/sbin/ping", &st, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(pifs_fs_setattr(&fs, n, &a, PIFS_SET_MODE, -1, &st), 0);
	delta_path(p, sizeof(p), "w1", "sbin/ping");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 04755);
	len = lgetxattr(p, "security.capability", got, sizeof(got));
	ck_assert_msg(len == (ssize_t)sizeof(cap_net_raw),
		      "copy-up lost the file capability (%zd)", len);
	ck_assert_mem_eq(got, cap_net_raw, sizeof(cap_net_raw));
	ck_assert_str_eq(read_all(n), "golden ping\n");
}
END_TEST

START_TEST(test_whiteout_and_opaque)
{
	struct pifs_node *a, *n;
	struct stat st;
	char p[4400];
	int err;

	a = walk("nfsroot/w1/a", NULL, &err);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(pifs_fs_unlink(&fs, a, "f"), 0);
	ck_assert_ptr_null(walk("nfsroot/w1/a/f", NULL, &err));
	ck_assert_int_eq(err, -ENOENT);
	ck_assert(!dir_has(a, "f"));
	ck_assert(dir_has(a, "b"));
	delta_path(p, sizeof(p), "w1", "a/f");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	/* other view unaffected */
	ck_assert_ptr_nonnull(walk("nfsroot/w2/a/f", NULL, &err));

	/* rmdir of a non-empty golden dir, then of the emptied one */
	ck_assert_int_eq(pifs_fs_rmdir(&fs, a, "b"), -ENOTEMPTY);
	n = walk("nfsroot/w1/a/b", NULL, &err);
	ck_assert_int_eq(pifs_fs_unlink(&fs, n, "g"), 0);
	ck_assert_int_eq(pifs_fs_rmdir(&fs, a, "b"), 0);
	ck_assert_ptr_null(walk("nfsroot/w1/a/b", NULL, &err));
	/* re-create: opaque, so the golden's a/b/g stays hidden */
	ck_assert_int_eq(pifs_fs_mkdir(&fs, a, "b", 0700, &root_ctx, &n, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_ptr_null(walk("nfsroot/w1/a/b/g", NULL, &err));
	ck_assert(!dir_has(n, "g"));
	delta_path(p, sizeof(p), "w1", "a/b");
	char v[4];
	ck_assert_int_eq(lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)), 1);
	/* a file over the whiteout of a/f */
	int fd;
	ck_assert_int_eq(pifs_fs_create(&fs, a, "f", 0640, O_WRONLY, &root_ctx, &n, &st, &fd), 0);
	ck_assert_int_eq(write(fd, "new\n", 4), 4);
	close(fd);
	ck_assert_str_eq(read_all(n), "new\n");
	ck_assert(n->id & PIFS_ID_UPPER);
	/* private xattrs never show */
	char list[256];
	ssize_t l = pifs_fs_listxattr(&fs, walk("nfsroot/w1/a", NULL, &err), list, sizeof(list));
	ck_assert_int_ge(l, 0);
	for (ssize_t i = 0; i < l; i += (ssize_t)strlen(list + i) + 1)
		ck_assert_msg(!pifs_xattr_private(list + i), "%s leaked", list + i);
	ck_assert_int_eq(pifs_fs_setxattr(&fs, a, "trusted.overlay.opaque", "y", 1, 0), -EPERM);
	ck_assert_int_eq(pifs_fs_mknod(&fs, a, "wh", S_IFCHR | 0600, makedev(0, 0), &root_ctx, &n, &st), -EPERM);
}
END_TEST

START_TEST(test_dir_rename)
{
	struct pifs_node *w, *z, *n;
	struct stat st;
	char p[4400], red[64];
	int err;
	uint64_t gid;

	w = walk("nfsroot/w1", NULL, &err);
	gid = walk("nfsroot/w1/a/b/g", NULL, &err)->id;
	ck_assert_int_eq(pifs_fs_rename(&fs, w, "a", w, "z", 0), 0);
	ck_assert_ptr_null(walk("nfsroot/w1/a", NULL, &err));
	z = walk("nfsroot/w1/z", NULL, &err);
	ck_assert_ptr_nonnull(z);
	n = walk("nfsroot/w1/z/b/g", &st, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(read_all(n), "golden g\n");
	ck_assert_uint_eq(n->id, gid);
	delta_path(p, sizeof(p), "w1", "z");
	ssize_t l = lgetxattr(p, "trusted.overlay.redirect", red, sizeof(red) - 1);
	ck_assert_int_eq(l, 2);
	red[l] = '\0';
	ck_assert_str_eq(red, "/a");
	/* a write inside the moved dir copies up under its new name */
	int fd, is_golden;
	ck_assert_int_eq(pifs_fs_open_file(&fs, n, O_RDWR, &fd, &is_golden), 0);
	ck_assert_int_eq(pwrite(fd, "G", 1, 0), 1);
	close(fd);
	delta_path(p, sizeof(p), "w1", "z/b/g");
	ck_assert_int_eq(access(p, F_OK), 0);
	ck_assert_str_eq(read_all(n), "Golden g\n");
	/* rename a file over another, and back over the now-missing name */
	ck_assert_int_eq(pifs_fs_rename(&fs, z, "f", z, "link", 0), 0);
	n = walk("nfsroot/w1/z/link", &st, &err);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_str_eq(read_all(n), "golden f\n");
	ck_assert_ptr_null(walk("nfsroot/w1/z/f", NULL, &err));
	/* a new directory moved onto a whited-out golden dir name is opaque */
	ck_assert_int_eq(pifs_fs_mkdir(&fs, w, "fresh", 0755, &root_ctx, &n, &st), 0);
	ck_assert_int_eq(pifs_fs_rename(&fs, w, "fresh", w, "a", 0), 0);
	ck_assert_ptr_nonnull(walk("nfsroot/w1/a", NULL, &err));
	ck_assert_ptr_null(walk("nfsroot/w1/a/b", NULL, &err));
	/* NOREPLACE and EXCHANGE */
	ck_assert_int_eq(pifs_fs_rename(&fs, w, "a", w, "z", RENAME_NOREPLACE), -EEXIST);
	ck_assert_int_eq(pifs_fs_rename(&fs, w, "a", w, "boot", RENAME_EXCHANGE), 0);
	ck_assert_ptr_nonnull(walk("nfsroot/w1/a/config.txt", NULL, &err));
	ck_assert_ptr_null(walk("nfsroot/w1/boot/config.txt", NULL, &err));
	/* the other view saw none of it */
	ck_assert_ptr_nonnull(walk("nfsroot/w2/a/b/g", NULL, &err));
	ck_assert_ptr_null(walk("nfsroot/w2/z", NULL, &err));
}
END_TEST

START_TEST(test_ids_survive_restart)
{
	struct pifs_node *n, *m;
	struct stat st;
	char err_s[256];
	int err, fd;
	uint64_t gold_id, new_id, dir_id;
	uint32_t gen;

	n = walk("nfsroot/w1/a/b/g", NULL, &err);
	gold_id = n->id;
	ck_assert_int_eq(pifs_fs_create(&fs, walk("nfsroot/w1/a", NULL, &err), "new", 0644,
					O_WRONLY, &root_ctx, &m, &st, &fd), 0);
	close(fd);
	new_id = m->id;
	gen = m->gen;
	ck_assert_int_eq(pifs_fs_rename(&fs, walk("nfsroot/w1", NULL, &err), "a", walk("nfsroot/w1", NULL, &err), "moved", 0), 0);
	dir_id = walk("nfsroot/w1/moved", NULL, &err)->id;

	pifs_fs_close(&fs);
	ck_assert_msg(pifs_fs_open(&fs, store, err_s, sizeof(err_s)) == 0, "%s", err_s);
	/* an NFS handle's LOOKUP "." on ids the new daemon never saw */
	ck_assert_int_eq(pifs_fs_lookup_id(&fs, gold_id, &n, &st), 0);
	ck_assert_str_eq(n->name, "g");
	ck_assert_str_eq(read_all(n), "golden g\n");
	ck_assert_int_eq(pifs_fs_lookup_id(&fs, new_id, &n, &st), 0);
	ck_assert_uint_eq(n->gen, gen);
	ck_assert_str_eq(n->name, "new");
	ck_assert_int_eq(pifs_fs_lookup_id(&fs, dir_id, &n, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_str_eq(n->name, "moved");
	/* ".." of it is the view root */
	struct pifs_node *up;
	ck_assert_int_eq(pifs_fs_lookup(&fs, n, "..", &up, &st), 0);
	ck_assert_str_eq(up->name, "w1");
	/* gone files are stale */
	ck_assert_int_eq(pifs_fs_unlink(&fs, walk("nfsroot/w1/moved", NULL, &err), "new"), 0);
	pifs_fs_forget(&fs, new_id, 1000);
	ck_assert_int_eq(pifs_fs_lookup_id(&fs, new_id, &n, &st), -ESTALE);
	ck_assert_int_eq(pifs_fs_lookup_id(&fs, pifs_make_id(77, 0, 5), &n, &st), -ESTALE);
}
END_TEST

START_TEST(test_hard_link_and_names)
{
	struct pifs_node *a, *n, *l;
	struct stat st;
	int err;

	a = walk("nfsroot/w1/a", NULL, &err);
	n = walk("nfsroot/w1/a/f", NULL, &err);
	ck_assert_int_eq(pifs_fs_link(&fs, n, a, "f2", &l, &st), 0);
	ck_assert_uint_eq(l->id, n->id);
	ck_assert_int_eq(st.st_nlink, 2);
	ck_assert_int_eq(pifs_fs_getattr(&fs, walk("nfsroot/w1/a/f2", NULL, &err), &st), 0);
	ck_assert_int_eq(st.st_nlink, 2);
	ck_assert_uint_eq(st.st_ino, n->id);
	ck_assert_int_eq(pifs_fs_link(&fs, n, a, "..", &l, &st), -EINVAL);
	ck_assert_int_eq(pifs_fs_mkdir(&fs, a, "x/y", 0755, &root_ctx, &l, &st), -EINVAL);
	ck_assert_int_eq(pifs_fs_mkdir(&fs, a, "f", 0755, &root_ctx, &l, &st), -EEXIST);
	ck_assert_int_eq(pifs_fs_mkdir(&fs, fs.nfsroot, "evil", 0755, &root_ctx, &l, &st), -EPERM);
	ck_assert_int_eq(pifs_fs_rename(&fs, a, "f", walk("nfsroot/w2", NULL, &err), "f", 0), -EXDEV);
}
END_TEST

/* What the kernel must forget after a registry change, handed over once:
 * nfsroot/ (its listing and link count) and the removed worker's name,
 * with the id of its mount point the kernel holds there (invalidating
 * it also detaches the worker's file system mounted on it). */
START_TEST(test_registry_inval)
{
	struct pifs_registry reg;
	struct pifs_inval *inv;
	struct pifs_node *w1;
	struct stat st;
	char err[256];
	size_t n;
	int e;

	ck_assert_int_eq(pifs_fs_registry_inval(&fs, &inv, &n), 0);
	ck_assert_uint_eq(n, 0); /* nothing changed since the mount */
	w1 = walk("nfsroot/w1", &st, &e);
	ck_assert_ptr_nonnull(w1);
	pifs_registry_init(&reg);
	ck_assert_int_eq(pifs_registry_load(&reg, fs.store.fd, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_registry_remove(&reg, "w1"), 0);
	ck_assert_int_eq(pifs_registry_save(&reg, fs.store.fd), 0);
	pifs_registry_release(&reg);

	ck_assert_int_eq(pifs_fs_registry_inval(&fs, &inv, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(inv[0].id, PIFS_NFSROOT_ID);
	ck_assert_ptr_null(inv[0].name);
	ck_assert_uint_eq(inv[1].parent, PIFS_NFSROOT_ID);
	ck_assert_str_eq(inv[1].name, "w1");
	ck_assert_uint_eq(inv[1].id, PIFS_MNT_ID(w1->view->id));
	pifs_inval_free(inv, n);
	ck_assert_ptr_null(walk("nfsroot/w1", &st, &e));
	ck_assert_int_eq(e, -ENOENT);
	/* handed over once */
	ck_assert_int_eq(pifs_fs_registry_inval(&fs, &inv, &n), 0);
	ck_assert_uint_eq(n, 0);
	pifs_fs_forget(&fs, w1->id, 1);
}
END_TEST

/* The top shows each worker as an unwritable mount point that cannot be
 * listed or looked into (ESTALE): nothing of a view is reached from it
 * (the view is its own file system), and an export of it while the
 * view's file system is not mounted serves nothing; and nothing is above
 * a view's root: its ".." is itself. */
START_TEST(test_top_isolation)
{
	struct pifs_ctx ctx = { 0, 0 };
	struct pifs_node *nr, *mp, *x, *root;
	struct pifs_view *v = pifs_fs_view(&fs, "w1");
	struct pifs_dir *dir;
	struct stat st;

	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(pifs_fs_lookup(&fs, fs.root, "nfsroot", &nr, &st), 0);
	ck_assert_int_eq(pifs_fs_lookup(&fs, nr, "w1", &mp, &st), 0);
	ck_assert_uint_eq(mp->id, PIFS_MNT_ID(v->id));
	ck_assert_ptr_null(mp->view);
	ck_assert_ptr_ne(mp, v->root);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_nlink, 2);
	/* what an NFS server exporting it unmounted would serve: nothing */
	ck_assert_int_eq(pifs_fs_lookup(&fs, mp, "a", &x, &st), -ESTALE);
	ck_assert_int_eq(pifs_fs_lookup(&fs, mp, "boot", &x, &st), -ESTALE);
	ck_assert_int_eq(pifs_fs_mkdir(&fs, mp, "new", 0755, &ctx, &x, &st), -EPERM);
	ck_assert_int_eq(pifs_fs_opendir(&fs, mp, &dir), -ESTALE);
	ck_assert_int_eq(pifs_fs_opendir(&fs, nr, &dir), 0);
	for (size_t i = 2; i < dir->count; i++)
		if (!strcmp(dir->ents[i].name, "w1"))
			ck_assert_uint_eq(dir->ents[i].ino, PIFS_MNT_ID(v->id));
	pifs_dir_free(dir);
	/* the view's root has no parent */
	ck_assert_int_eq(pifs_fs_lookup(&fs, v->root, "..", &root, &st), 0);
	ck_assert_ptr_eq(root, v->root);
	ck_assert_int_eq(pifs_fs_opendir(&fs, v->root, &dir), 0);
	ck_assert_str_eq(dir->ents[1].name, "..");
	ck_assert_uint_eq(dir->ents[1].ino, v->root->id);
	pifs_dir_free(dir);
	pifs_fs_forget(&fs, root->id, 1);
	pifs_fs_forget(&fs, mp->id, 1);
	pifs_fs_forget(&fs, nr->id, 1);
}
END_TEST

static Suite *view_suite(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_lookup_layers);
	tcase_add_test(tc, test_copy_up);
	tcase_add_test(tc, test_copy_up_keeps_capability);
	tcase_add_test(tc, test_whiteout_and_opaque);
	tcase_add_test(tc, test_dir_rename);
	tcase_add_test(tc, test_ids_survive_restart);
	tcase_add_test(tc, test_hard_link_and_names);
	tcase_add_test(tc, test_registry_inval);
	tcase_add_test(tc, test_top_isolation);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed, ret;

	if ((ret = unit_needs_root("check_view", "store creation")))
		return ret;
	sr = srunner_create(view_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
