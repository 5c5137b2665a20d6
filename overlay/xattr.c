/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xattr.c - which extended attribute names pifs reserves for itself
 * (xattr.h): every trusted.overlay.* and trusted.pifs.* name.
 */
#include "config.h"

#include <string.h>

#include "xattr.h"

int pifs_xattr_private(const char *name)
{
	return !strncmp(name, "trusted.overlay.", 16) ||
	       !strncmp(name, "trusted.pifs.", 13);
}
