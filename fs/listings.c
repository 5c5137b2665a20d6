/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * listings.c - the merged directory listings readdir pages through, kept
 * without OPENDIR.
 *
 * pifsd answers OPENDIR with ENOSYS (the kernel has understood that since
 * 5.1, FUSE_NO_OPENDIR_SUPPORT): from then on the kernel opens and closes
 * directories without a request, which was two round trips per directory
 * for every `find`, every `ls` and every NFS-Ganesha lookup, and keeps
 * each listing in its readdir cache (FOPEN_CACHE_DIR|FOPEN_KEEP_CACHE is
 * its default for a directory with no opendir) until the directory
 * changes: at every start of a listing it compares the directory's mtime
 * with the one it cached the listing at, so a directory the kernel does
 * not see change (tftpboot/, nfsroot/) reports an mtime that moves with
 * its listing (view.c, static_stat).
 *
 * What opendir kept, a listing stable across the reads of one directory
 * stream (telldir/seekdir, entries neither lost nor repeated while the
 * directory changes), is kept here: a READDIR at offset 0 makes a fresh
 * listing, with a serial number, and every entry's offset cookie carries
 * that serial (high 31 bits) and the entry's index (low 32 bits).  A read
 * at a later offset finds its listing by serial among the last few made;
 * if that one has been dropped since (more directories read at once than
 * slots, or it was read to its end), it gets a fresh listing at the
 * same index, which is what the kernel's own cache gives after it drops a
 * listing.  A listing is dropped when its stream reads past the end, so
 * only streams under way hold memory.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "pifsd.h"

#define SERIAL_MAX 0x7fffffffu

void pifsd_listings_init(struct pifsd_listings *l)
{
	pthread_mutex_init(&l->lock, NULL);
	l->next_serial = 1;
}

void pifsd_listings_free(struct pifsd_listings *l)
{
	for (size_t i = 0; i < PIFSD_LISTINGS; i++)
		if (l->slot[i].dir)
			pifs_dir_free(l->slot[i].dir);
	pthread_mutex_destroy(&l->lock);
}

uint64_t pifsd_listing_cookie(const struct pifsd_listing *s, size_t next)
{
	return (uint64_t)s->serial << 32 | (uint32_t)next;
}

/* Under the lock: the slot to fill, an empty one or the least recently
 * used that no read holds; NULL when every slot is held. */
static struct pifsd_listing *free_slot(struct pifsd_listings *l)
{
	struct pifsd_listing *best = NULL;

	for (size_t i = 0; i < PIFSD_LISTINGS; i++) {
		struct pifsd_listing *s = &l->slot[i];

		if (s->refs)
			continue;
		if (!s->dir)
			return s;
		if (!best || s->used < best->used)
			best = s;
	}
	return best;
}

int pifsd_listing_get(struct pifsd *d, uint64_t ino, uint64_t off,
		      struct pifsd_listing **out, size_t *start)
{
	struct pifsd_listings *l = &d->listings;
	uint32_t serial = (uint32_t)(off >> 32);
	struct pifsd_listing *s;
	struct pifs_node *n;
	struct pifs_dir *dir;
	int r;

	*start = (size_t)(uint32_t)off;
	if (off) {
		pthread_mutex_lock(&l->lock);
		for (size_t i = 0; i < PIFSD_LISTINGS; i++) {
			s = &l->slot[i];
			if (s->dir && s->ino == ino && s->serial == serial) {
				s->refs++;
				s->used = ++l->tick;
				pthread_mutex_unlock(&l->lock);
				*out = s;
				return 0;
			}
		}
		pthread_mutex_unlock(&l->lock);
	}
	/* Offset 0 (a new listing, or rewinddir) or a listing dropped:
	 * list what is there now. */
	if (!(n = pifs_fs_node(&d->fs, ino)))
		return -ESTALE;
	r = pifs_fs_opendir(&d->fs, n, &dir);
	pifs_fs_put(&d->fs, n);
	if (r < 0)
		return r;
	pthread_mutex_lock(&l->lock);
	s = free_slot(l);
	if (!s) {
		/* Every slot held by a read (more threads than slots): this
		 * read gets a listing of its own, dropped after it. */
		pthread_mutex_unlock(&l->lock);
		if (!(s = calloc(1, sizeof(*s)))) {
			pifs_dir_free(dir);
			return -ENOMEM;
		}
		s->dir = dir;
		s->ino = ino;
		*out = s;
		return 0;
	}
	if (s->dir)
		pifs_dir_free(s->dir);
	s->dir = dir;
	s->ino = ino;
	s->serial = l->next_serial;
	l->next_serial = l->next_serial == SERIAL_MAX ? 1 : l->next_serial + 1;
	s->refs = 1;
	s->used = ++l->tick;
	pthread_mutex_unlock(&l->lock);
	*out = s;
	return 0;
}

void pifsd_listing_put(struct pifsd *d, struct pifsd_listing *s, int done)
{
	struct pifs_dir *drop = NULL;

	if (!s->serial) {
		pifs_dir_free(s->dir);
		free(s);
		return;
	}
	pthread_mutex_lock(&d->listings.lock);
	s->refs--;
	if (done && !s->refs) {
		/* The stream read past its end: nothing keeps this
		 * listing but memory.  (A stream that seeks back after
		 * that gets a fresh listing at the same index.) */
		drop = s->dir;
		s->dir = NULL;
	}
	pthread_mutex_unlock(&d->listings.lock);
	if (drop)
		pifs_dir_free(drop);
}
