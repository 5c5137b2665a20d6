/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * manifest.c - builds and verifies the golden manifest (format in
 * manifest.h; the text's escaping and parser are in manifest_text.c).  The tree is walked with directory fds only and never
 * follows a symlink; each regular file is read once, streaming, holes
 * being hashed as zeros without reading them.  Entries are sorted bytewise
 * by raw path; hard-link groups are found by (dev, ino) among non-directory
 * entries with more than one link.
 *
 * Details the header leaves open: directories record size 0 (a directory's
 * st_size depends on the file system, not on its contents); the xattr
 * digest hashes, per name in sorted order, "name\0", the value length as 8
 * little-endian bytes, then the value, and is all zeros when there are no
 * xattrs; a path that is exactly "-" is escaped as "\x2d" so it cannot be
 * taken for an empty link field.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <xxhash.h>

#include "manifest.h"
#include "progress.h"
#include "safeio.h"
#include "util.h"

#define ZERO_HASH	"00000000000000000000000000000000"

void pifs_manifest_release(struct pifs_manifest *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->e[i].path);
		free(l->e[i].link);
	}
	free(l->e);
	l->e = NULL;
	l->n = l->cap = 0;
}

struct pifs_manifest_entry *pifs_manifest_add(struct pifs_manifest *l)
{
	struct pifs_manifest_entry *ne;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;

		ne = realloc(l->e, cap * sizeof(*ne));
		if (!ne)
			return NULL;
		l->e = ne;
		l->cap = cap;
	}
	ne = &l->e[l->n++];
	memset(ne, 0, sizeof(*ne));
	return ne;
}

static void hash_hex(XXH128_hash_t h, char out[33])
{
	snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, (uint64_t)h.high64,
		 (uint64_t)h.low64);
}

/* Content digest of the regular file fd of the given size. */
static int hash_file(int fd, off_t size, char out[33])
{
	static const char zeros[65536];
	const size_t bufsz = (size_t)1 << 17;
	XXH3_state_t *state;
	off_t off = 0, data, hole, end;
	char *buf;
	ssize_t n;
	int ret = 0;

	state = XXH3_createState();
	buf = malloc(bufsz);
	if (!state || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	XXH3_128bits_reset(state);
	while (off < size) {
		data = lseek(fd, off, SEEK_DATA);
		if (data < 0 && errno != ENXIO)
			data = off; /* no SEEK_DATA: read everything */
		if (data < 0 || data > size)
			data = size;
		/* a hole: hash zeros without reading them */
		while (off < data) {
			size_t k = data - off < (off_t)sizeof(zeros)
				       ? (size_t)(data - off)
				       : sizeof(zeros);

			XXH3_128bits_update(state, zeros, k);
			off += (off_t)k;
		}
		if (off >= size)
			break;
		hole = lseek(fd, off, SEEK_HOLE);
		end = hole < 0 || hole > size ? size : hole;
		while (off < end) {
			size_t want = end - off < (off_t)bufsz
					  ? (size_t)(end - off)
					  : bufsz;

			n = pread(fd, buf, want, off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				ret = -errno;
				goto out;
			}
			if (n == 0) {
				/* shrank under us: the digest will differ */
				size = off;
				break;
			}
			XXH3_128bits_update(state, buf, (size_t)n);
			off += n;
		}
	}
	hash_hex(XXH3_128bits_digest(state), out);
out:
	free(buf);
	XXH3_freeState(state);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Digest of the xattrs of (dirfd, name); all zeros when there are none. */
static int hash_xattrs(int dirfd, const char *name, char out[33])
{
	XXH3_state_t *state = NULL;
	char *list = NULL, **names = NULL, *val = NULL, *p;
	size_t count = 0, i;
	ssize_t len, vlen;
	uint8_t lenbuf[8];
	int ret = 0, k;

	strcpy(out, ZERO_HASH);
	for (;;) {
		len = pifs_llistxattr(dirfd, name, NULL, 0);
		if (len <= 0) {
			ret = len == -ENOTSUP ? 0 : (int)len;
			goto out;
		}
		free(list);
		list = malloc((size_t)len + 1);
		if (!list) {
			ret = -ENOMEM;
			goto out;
		}
		len = pifs_llistxattr(dirfd, name, list, (size_t)len);
		if (len != -ERANGE)
			break;
	}
	if (len <= 0) {
		ret = (int)len;
		goto out;
	}
	list[len] = '\0';
	names = calloc((size_t)len, sizeof(*names));
	if (!names) {
		ret = -ENOMEM;
		goto out;
	}
	for (p = list; p < list + len; p += strlen(p) + 1)
		if (*p)
			names[count++] = p;
	if (!count)
		goto out;
	qsort(names, count, sizeof(*names), name_cmp);
	state = XXH3_createState();
	if (!state) {
		ret = -ENOMEM;
		goto out;
	}
	XXH3_128bits_reset(state);
	for (i = 0; i < count; i++) {
		for (;;) {
			vlen = pifs_lgetxattr(dirfd, name, names[i], NULL, 0);
			if (vlen < 0) {
				ret = (int)vlen;
				goto out;
			}
			free(val);
			val = malloc((size_t)vlen + 1);
			if (!val) {
				ret = -ENOMEM;
				goto out;
			}
			if (vlen == 0)
				break;
			vlen = pifs_lgetxattr(dirfd, name, names[i], val,
					      (size_t)vlen);
			if (vlen != -ERANGE)
				break;
		}
		if (vlen < 0) {
			ret = (int)vlen;
			goto out;
		}
		for (k = 0; k < 8; k++)
			lenbuf[k] = (uint8_t)((uint64_t)vlen >> (8 * k));
		XXH3_128bits_update(state, names[i], strlen(names[i]) + 1);
		XXH3_128bits_update(state, lenbuf, sizeof(lenbuf));
		XXH3_128bits_update(state, val, (size_t)vlen);
	}
	hash_hex(XXH3_128bits_digest(state), out);
out:
	XXH3_freeState(state);
	free(val);
	free(names);
	free(list);
	return ret;
}

/* Content digests a caller already has (an importer that hashed the data
 * while writing it); NULL when every file is read. */
/* The manifest's progress: entries done and bytes read to hash them. */
struct mprog {
	struct pifs_bar bar;
	uint64_t entries, bytes;
};

struct known {
	pifs_manifest_known_fn fn; /* NULL: hash every file */
	void *arg;
	struct mprog *prog;	   /* NULL: no bar */
};

/* Fill e from st and the entry (dirfd, name) (name NULL for dirfd itself,
 * which is then a real directory fd). */
static int entry_fill(struct pifs_manifest_entry *e, int dirfd, const char *name,
		      const struct stat *st, const struct known *k)
{
	char *target = NULL;
	struct stat st2;
	ssize_t n;
	int fd, ret = 0;

	e->type = pifs_type_letter(st->st_mode) ?: '?';
	e->mode = st->st_mode & 07777;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->size = S_ISDIR(st->st_mode) ? 0 : (unsigned long long)st->st_size;
	e->sec = st->st_mtim.tv_sec;
	e->nsec = st->st_mtim.tv_nsec;
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		e->maj = major(st->st_rdev);
		e->min = minor(st->st_rdev);
	}
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->nlink = st->st_nlink;
	strcpy(e->content, ZERO_HASH);
	if (k && k->prog) {
		k->prog->entries++;
		pifs_bar_count(&k->prog->bar, k->prog->entries,
			       k->prog->bytes);
	}
	if (S_ISREG(st->st_mode) && k && k->fn &&
	    k->fn(st, e->content, k->arg) > 0) {
		/* digest computed as the file was written */
	} else if (S_ISREG(st->st_mode)) {
		/* no atime update where we may avoid it */
		fd = openat(dirfd, name,
			    O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
				O_CLOEXEC | O_NOATIME);
		if (fd < 0 && errno == EPERM)
			fd = openat(dirfd, name,
				    O_RDONLY | O_NOFOLLOW | O_NOCTTY |
					O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		ret = pifs_fstat(fd, &st2);
		if (ret == 0 &&
		    (st2.st_ino != st->st_ino || st2.st_dev != st->st_dev))
			ret = -ESTALE; /* replaced under us */
		if (ret == 0)
			ret = hash_file(fd, st->st_size, e->content);
		close(fd);
		if (k && k->prog)
			k->prog->bytes += (uint64_t)st->st_size;
		if (ret < 0)
			return ret;
	} else if (S_ISLNK(st->st_mode)) {
		size_t cap = (size_t)st->st_size + 2;

		target = malloc(cap);
		if (!target)
			return -ENOMEM;
		n = readlinkat(dirfd, name, target, cap);
		if (n < 0 || (size_t)n >= cap) {
			ret = n < 0 ? -errno : -ESTALE;
			free(target);
			return ret;
		}
		hash_hex(XXH3_128bits(target, (size_t)n), e->content);
		free(target);
	}
	return hash_xattrs(dirfd, name, e->xattr);
}

struct walk {
	struct pifs_manifest *l;
	const char *rel;
	const struct known *k;
};

static int walk_dir(struct pifs_manifest *l, int dfd, const char *rel,
		    const struct known *k);

static int walk_one(int dfd, const struct dirent *de, void *arg)
{
	struct walk *w = arg;
	struct stat st;
	struct pifs_manifest_entry *e;
	char *path;
	int cfd, ret;

	if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	path = strcmp(w->rel, ".") ? pifs_strdupf("%s/%s", w->rel, de->d_name)
				   : strdup(de->d_name);
	e = path ? pifs_manifest_add(w->l) : NULL;
	if (!e) {
		free(path);
		return -ENOMEM;
	}
	e->path = path;
	ret = entry_fill(e, dfd, de->d_name, &st, w->k);
	if (ret < 0) {
		pifs_debug("cannot read '%s': %s", path, strerror(-ret));
		return ret;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	cfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0)
		return -errno;
	/* e may move when l grows: path stays valid (owned by l) */
	ret = walk_dir(w->l, cfd, path, w->k);
	close(cfd);
	return ret;
}

static int walk_dir(struct pifs_manifest *l, int dfd, const char *rel,
		    const struct known *k)
{
	struct walk w = {.l = l, .rel = rel, .k = k};

	return pifs_dir_foreach(dfd, walk_one, &w);
}

static int path_cmp(const void *a, const void *b)
{
	const struct pifs_manifest_entry *ea = a, *eb = b;

	return strcmp(ea->path, eb->path);
}

static int inode_cmp(const void *a, const void *b)
{
	const struct pifs_manifest_entry *ea = *(struct pifs_manifest_entry *const *)a;
	const struct pifs_manifest_entry *eb = *(struct pifs_manifest_entry *const *)b;

	if (ea->dev != eb->dev)
		return ea->dev < eb->dev ? -1 : 1;
	if (ea->ino != eb->ino)
		return ea->ino < eb->ino ? -1 : 1;
	return ea < eb ? -1 : ea > eb;
}

/* Sort by path and point every later member of a hard-link group at the
 * first one. */
static int link_groups(struct pifs_manifest *l)
{
	struct pifs_manifest_entry **idx;
	size_t i, n = 0;

	qsort(l->e, l->n, sizeof(*l->e), path_cmp);
	idx = malloc((l->n + 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (i = 0; i < l->n; i++)
		if (l->e[i].type != 'd' && l->e[i].nlink > 1)
			idx[n++] = &l->e[i];
	qsort(idx, n, sizeof(*idx), inode_cmp);
	for (i = 1; i < n; i++) {
		struct pifs_manifest_entry *first = idx[i - 1];

		if (idx[i]->dev != first->dev || idx[i]->ino != first->ino)
			continue;
		/* idx[i-1] is the group's first or already points there */
		idx[i]->link = strdup(first->link ? first->link : first->path);
		if (!idx[i]->link) {
			free(idx);
			return -ENOMEM;
		}
	}
	free(idx);
	return 0;
}

/* Walk the tree at dirfd into l, sorted, links resolved. */
static int collect(int dirfd, struct pifs_manifest *l, const struct known *k)
{
	struct stat st;
	struct pifs_manifest_entry *e;
	int fd, ret;

	fd = pifs_openat_beneath(dirfd, ".", O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	ret = pifs_fstat(fd, &st);
	if (ret < 0)
		goto out_close;
	e = pifs_manifest_add(l);
	if (!e || !(e->path = strdup("."))) {
		ret = -ENOMEM;
		goto out_close;
	}
	ret = entry_fill(e, fd, NULL, &st, k);
	if (ret < 0)
		goto out_close;
	ret = walk_dir(l, fd, ".", k);
	if (ret < 0)
		goto out_close;
	ret = link_groups(l);
out_close:
	close(fd);
	return ret;
}

static int entry_print(FILE *f, const struct pifs_manifest_entry *e)
{
	char *path, *link = NULL;
	int ret = 0;

	path = pifs_path_escape(e->path);
	if (e->link)
		link = pifs_path_escape(e->link);
	if (!path || (e->link && !link)) {
		ret = -ENOMEM;
		goto out;
	}
	if (fprintf(f, "%c %o %lu %lu %llu %lld.%09ld %u:%u %s %s %s %s\n",
		    e->type, e->mode, e->uid, e->gid, e->size, e->sec, e->nsec,
		    e->maj, e->min, e->content, e->xattr, link ? link : "-",
		    path) < 0)
		ret = -EIO;
out:
	free(path);
	free(link);
	return ret;
}

static int manifest_build(int dirfd, const struct known *k, char **out,
			  char id_out[17])
{
	struct pifs_manifest l = {0};
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = NULL;
	uint64_t end;
	int ret;

	*out = NULL;
	ret = collect(dirfd, &l, k);
	if (ret < 0)
		goto out;
	f = open_memstream(&buf, &len);
	if (!f) {
		ret = -ENOMEM;
		goto out;
	}
	fputs(PIFS_MANIFEST_HEADER, f);
	for (i = 0; i < l.n && ret == 0; i++)
		ret = entry_print(f, &l.e[i]);
	if (ret == 0 && fflush(f) != 0)
		ret = -ENOMEM;
	if (ret < 0)
		goto out;
	end = XXH3_64bits(buf, len);
	fprintf(f, "# end %016" PRIx64 "\n", end);
	if (fclose(f) != 0) {
		f = NULL;
		ret = -ENOMEM;
		goto out;
	}
	f = NULL;
	if (id_out)
		snprintf(id_out, 17, "%016" PRIx64, end);
	*out = buf;
	buf = NULL;
out:
	if (f)
		fclose(f);
	free(buf);
	pifs_manifest_release(&l);
	return ret;
}

int pifs_manifest_build(int dirfd, char **out, char id_out[17])
{
	return manifest_build(dirfd, NULL, out, id_out);
}

int pifs_manifest_build_known(int dirfd, pifs_manifest_known_fn known,
			      void *arg, char **out, char id_out[17])
{
	return pifs_manifest_build_progress(dirfd, known, arg, -1, out,
					    id_out);
}

int pifs_manifest_build_progress(int dirfd, pifs_manifest_known_fn known,
				 void *arg, int bar_fd, char **out,
				 char id_out[17])
{
	struct mprog prog = {0};
	struct known k = {.fn = known, .arg = arg};
	int ret;

	if (bar_fd >= 0) {
		pifs_bar_start(&prog.bar, bar_fd, "hashing golden", "entries",
			       0);
		k.prog = &prog;
	}
	ret = manifest_build(dirfd, known || k.prog ? &k : NULL, out, id_out);
	if (k.prog) {
		pifs_bar_count(&prog.bar, prog.entries, prog.bytes);
		pifs_bar_end(&prog.bar); /* draws the final count */
	}
	return ret;
}

/* ---- streaming content digest ---- */

struct pifs_content_digest {
	XXH3_state_t *state;
};

int pifs_content_digest_new(struct pifs_content_digest **out)
{
	struct pifs_content_digest *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d || !(d->state = XXH3_createState())) {
		free(d);
		return -ENOMEM;
	}
	XXH3_128bits_reset(d->state);
	*out = d;
	return 0;
}

void pifs_content_digest_reset(struct pifs_content_digest *d)
{
	XXH3_128bits_reset(d->state);
}

void pifs_content_digest_update(struct pifs_content_digest *d,
				const void *buf, size_t len)
{
	XXH3_128bits_update(d->state, buf, len);
}

void pifs_content_digest_zeros(struct pifs_content_digest *d, uint64_t len)
{
	static const char zeros[65536];

	while (len) {
		size_t k = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);

		XXH3_128bits_update(d->state, zeros, k);
		len -= k;
	}
}

void pifs_content_digest_final(struct pifs_content_digest *d, char out[33])
{
	hash_hex(XXH3_128bits_digest(d->state), out);
}

void pifs_content_digest_free(struct pifs_content_digest *d)
{
	if (!d)
		return;
	XXH3_freeState(d->state);
	free(d);
}

static void report_line(FILE *report, const char *what, const char *path,
			const char *extra)
{
	char *esc;

	if (!report)
		return;
	esc = pifs_path_escape(path);
	fprintf(report, "%s: '%s'%s%s\n", what, esc ? esc : "?",
		extra ? " " : "", extra ? extra : "");
	free(esc);
}

/* Compare one entry present on both sides; returns differences found. */
static int compare_entry(const struct pifs_manifest_entry *m, const struct pifs_manifest_entry *c,
			 FILE *report)
{
	char buf[128];
	int diffs = 0;

	if (m->type != c->type) {
		snprintf(buf, sizeof(buf), "%c -> %c", m->type, c->type);
		report_line(report, "type changed", m->path, buf);
		return 1;
	}
	if (m->size != c->size || strcmp(m->content, c->content)) {
		report_line(report, "modified content", m->path, NULL);
		diffs++;
	}
	if (m->mode != c->mode) {
		snprintf(buf, sizeof(buf), "%o -> %o", m->mode, c->mode);
		report_line(report, "mode changed", m->path, buf);
		diffs++;
	}
	if (m->uid != c->uid || m->gid != c->gid) {
		snprintf(buf, sizeof(buf), "%lu:%lu -> %lu:%lu", m->uid, m->gid,
			 c->uid, c->gid);
		report_line(report, "owner changed", m->path, buf);
		diffs++;
	}
	if (m->sec != c->sec || m->nsec != c->nsec) {
		snprintf(buf, sizeof(buf), "%lld.%09ld -> %lld.%09ld", m->sec,
			 m->nsec, c->sec, c->nsec);
		report_line(report, "mtime changed", m->path, buf);
		diffs++;
	}
	if (m->maj != c->maj || m->min != c->min) {
		snprintf(buf, sizeof(buf), "%u:%u -> %u:%u", m->maj, m->min,
			 c->maj, c->min);
		report_line(report, "device changed", m->path, buf);
		diffs++;
	}
	if (strcmp(m->xattr, c->xattr)) {
		report_line(report, "xattrs changed", m->path, NULL);
		diffs++;
	}
	if ((m->link == NULL) != (c->link == NULL) ||
	    (m->link && strcmp(m->link, c->link))) {
		report_line(report, "hard links changed", m->path, NULL);
		diffs++;
	}
	return diffs;
}

int pifs_manifest_verify(int dirfd, const char *manifest, FILE *report)
{
	struct pifs_manifest want = {0}, have = {0};
	size_t i = 0, j = 0;
	int ret, diffs = 0, cmp;

	ret = pifs_manifest_parse(manifest, &want);
	if (ret == -EINVAL) {
		if (report)
			fprintf(report, "manifest truncated or corrupt\n");
		ret = 1;
		goto out;
	}
	if (ret < 0)
		goto out;
	ret = collect(dirfd, &have, NULL);
	if (ret < 0)
		goto out;
	while (i < want.n || j < have.n) {
		if (i == want.n)
			cmp = 1;
		else if (j == have.n)
			cmp = -1;
		else
			cmp = strcmp(want.e[i].path, have.e[j].path);
		if (cmp < 0) {
			report_line(report, "missing", want.e[i++].path, NULL);
			diffs++;
		} else if (cmp > 0) {
			report_line(report, "extra", have.e[j++].path, NULL);
			diffs++;
		} else {
			diffs +=
			    compare_entry(&want.e[i++], &have.e[j++], report);
		}
	}
	ret = diffs;
out:
	pifs_manifest_release(&want);
	pifs_manifest_release(&have);
	return ret;
}
