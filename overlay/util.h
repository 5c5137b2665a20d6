/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util.h - logging, small string helpers and the error-message convention
 * shared by every pifs module.  Messages are lower-case, with no final
 * period, and quote their subject: "cannot open upper dir '%s'".
 */
#ifndef PIFS_UTIL_H
#define PIFS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum pifs_log_level { PIFS_LOG_ERR, PIFS_LOG_WARN, PIFS_LOG_INFO, PIFS_LOG_DEBUG };

/* Where log lines go: stderr (default) or syslog (a daemonized pifsd). */
void pifs_log_init(const char *ident, int use_syslog, enum pifs_log_level max);
/* From now on, append every log line to the file at path (created 0640
 * if missing), time-stamped, instead of stderr or syslog.  0 or -errno
 * from open(2); on failure the log goes where it went. */
int pifs_log_open_file(const char *path);
void pifs_log(enum pifs_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define pifs_err(...) pifs_log(PIFS_LOG_ERR, __VA_ARGS__)
#define pifs_warn(...) pifs_log(PIFS_LOG_WARN, __VA_ARGS__)
#define pifs_info(...) pifs_log(PIFS_LOG_INFO, __VA_ARGS__)
#define pifs_debug(...) pifs_log(PIFS_LOG_DEBUG, __VA_ARGS__)
int pifs_log_enabled(enum pifs_log_level lvl);

/*
 * The error message for the user.  A function that can fail with one
 * takes (char *errbuf, size_t errlen) as its last two arguments; errbuf
 * may be NULL or errlen 0, then nothing is written.  The rules:
 *
 *  - An exported function that takes errbuf clears it on entry
 *    (pifs_errclear), so a message an earlier, handled failure left in a
 *    reused buffer never stands for a later one.  File-local helpers do
 *    not: they add to what their exported caller cleared.
 *  - pifs_seterr keeps the first message: the innermost failure names
 *    the thing (file, object, worker, line), which is what the user
 *    needs; the outer callers' pifs_seterr on the way out changes
 *    nothing, so "set it if nothing more precise is there" needs no test.
 *  - A caller that adds context says so: pifs_seterr_prefix turns "x"
 *    into "cannot snapshot worker-3: x".  To replace an inner message,
 *    clear then set.
 *  - On failure errbuf holds a message whenever the function's comment
 *    says so; on success its content means nothing.
 */
void pifs_errclear(char *errbuf, size_t errlen);
/* Format a one-line message into errbuf, unless it holds one already. */
void pifs_seterr(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Put "<fmt>: " before the message errbuf holds (cut at errlen), or, when
 * it holds none, make it "<fmt>: <strerror(-err)>" (err < 0) or "<fmt>"
 * (err >= 0). */
void pifs_seterr_prefix(char *errbuf, size_t errlen, int err,
			const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Returns a malloc'd printf result, or NULL on ENOMEM. */
char *pifs_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The next line of a text split in place: the line at *cur with its
 * '\n' cut off (a blank line is ""), *cur moved past it; NULL once the
 * text is used up.  A last line without '\n' counts. */
char *pifs_line_next(char **cur);

/* A single path component a client may create: not "", ".", "..", no '/',
 * at most NAME_MAX bytes.  Returns 0 or -EINVAL / -ENAMETOOLONG. */
int pifs_check_name(const char *name);

/* The value of hex digit c (either case), or -1. */
int pifs_hexval(char c);
/* The letter find(1) -type uses for a file type (f d l c b p s), as the
 * manifests and META files write it; 0 for anything else. */
char pifs_type_letter(mode_t m);

/* A map from two 64-bit numbers (an inode and its device, say) to a
 * string, for the tree walks: hard-link groups, visited directories,
 * digests.  Zero-initialise; values are copied. */
struct pifs_kv {
	uint64_t a, b;
	char *val; /* NULL: free slot */
};

struct pifs_kvmap {
	struct pifs_kv *slots;
	size_t cap, n; /* cap is a power of two */
};

const char *pifs_kv_find(const struct pifs_kvmap *m, uint64_t a, uint64_t b);
int pifs_kv_add(struct pifs_kvmap *m, uint64_t a, uint64_t b, const char *val);
void pifs_kv_free(struct pifs_kvmap *m);

/* A set of paths, each with flag bits (pifsd's journal, the snapshot scan
 * that reads it).  Zero-initialise. */
struct pifs_pathmap_ent {
	char *path; /* NULL: free slot */
	unsigned flags;
};

struct pifs_pathmap {
	struct pifs_pathmap_ent *t;
	size_t cap, n; /* cap is a power of two */
};

/* OR flags into those of the path p[0..len); -ENOMEM. */
int pifs_pathmap_add(struct pifs_pathmap *m, const char *p, size_t len,
		     unsigned flags);
/* The flags of path p, 0 when absent. */
unsigned pifs_pathmap_get(const struct pifs_pathmap *m, const char *p);
void pifs_pathmap_free(struct pifs_pathmap *m);

/* The bytes a directory tree's files take on disk, as du counts them
 * but without the directories:
 * allocated blocks (a hole costs nothing), a hard-linked file once,
 * symlinks and directories not at all; nothing below another file system
 * is followed.  dirfd may be O_PATH.  0 and *bytes, or -errno. */
int pifs_tree_disk_bytes(int dirfd, unsigned long long *bytes);

/* A size for people: "512 B", "1.5 KiB", "16 MiB", "3.0 GiB" (one
 * decimal below 10), into buf; returns buf. */
const char *pifs_human(uint64_t b, char buf[32]);

#endif
