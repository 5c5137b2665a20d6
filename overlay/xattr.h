/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xattr.h - the extended attribute names pifs keeps for itself on the
 * store: overlayfs's trusted.overlay.* (opaque, redirect) and pifs's
 * trusted.pifs.*, all hidden from clients and never taken from a golden
 * or an image.  A leaf: it includes nothing of pifs, so the store and
 * image import both use it without depending on each other.  Their
 * meaning is in store.h; trusted.pifs.base is the git store's
 * (gitstore.h).
 */
#ifndef PIFS_XATTR_H
#define PIFS_XATTR_H

#define PIFS_XATTR_OPAQUE "trusted.overlay.opaque"
#define PIFS_XATTR_REDIRECT "trusted.overlay.redirect"
#define PIFS_XATTR_ORIGIN "trusted.pifs.origin"
#define PIFS_XATTR_GOLDEN "trusted.pifs.golden"

/* Nonzero for names the store reserves and hides from clients. */
int pifs_xattr_private(const char *name);

#endif
