/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cli.h - what the files of the pifs command line share, grouped by the
 * file that defines it.  Every error is one line "pifs: <message>" on
 * stderr; the exit status is 2 for usage errors (including malformed
 * argument values), 1 for everything else.  The functions below that
 * "exit" do so through die() with the command's message: a command
 * reads as the list of what it needs, and nothing stored changes before
 * the checks that can fail.  Each cmd_* runs one command: argv[0] is
 * its name (optind reset for getopt), the result is its exit status.
 */
#ifndef PIFS_CLI_H
#define PIFS_CLI_H

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

struct json;
struct option;
struct pifs_git;
struct pifs_journal;
struct pifs_registry;
struct pifs_snapshot;
struct pifs_store;

#define EXIT_USAGE    2
#define DEFAULT_STORE "/var/lib/pifs"
/* Room for an error message naming a path or two. */
#define ERRLEN (PATH_MAX + 512)

/* cli.c */

/* --store DIR of the command line, or NULL; set by main. */
extern const char *opt_store;
/* The exit status die() uses for what would be 1 (an error): a command
 * whose 1 means something else (diff --exit-code) sets EXIT_ERROR_ALT. */
extern int exit_error;
#define EXIT_ERROR_ALT 3
/* Set once SIGINT or SIGTERM arrived between interrupts_catch() and
 * interrupts_restore(); the store's long operations poll it. */
extern volatile sig_atomic_t interrupted;

/* Print "pifs: <message>" on stderr (stdout flushed first) and exit with
 * code, after any libgit2 start-up in flight has finished. */
void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
/* The store a command works on: --store, else $PIFS_STORE, else
 * DEFAULT_STORE. */
const char *store_path(void);
/* getopt_long over a subcommand's argv (argv[0] is the command name);
 * --help prints usage on stdout and exits 0, an unknown option or a
 * missing argument exits EXIT_USAGE.  Returns the option or -1. */
int sub_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts, const char *usage);

/* The options of a listing that takes --json and nothing else (worker
 * list, golden list, status): 1 for --json, else 0; --help prints usage,
 * anything else exits EXIT_USAGE. */
int sub_json_only(int argc, char **argv, const char *usage);

/* A command group's subcommands (pifs worker add, pifs golden list...). */
struct sub_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
};

/* Run GROUP's subcommand argv[1] from cmds (ended by a NULL name), with
 * argv from argv[1] on; --help/-h prints usage.  No subcommand: "GROUP
 * needs WANT", an unknown one: "unknown GROUP command 'X'" (EXIT_USAGE). */
int sub_dispatch(int argc, char **argv, const char *group, const char *want,
		 const char *usage, const struct sub_cmd *cmds);

/* Open the store at path into st (pifs_store_close() releases it), else
 * exit. */
void open_store(struct pifs_store *st, const char *path);
/* Take the store's lock, waiting up to 10 s for another pifs, else
 * exit. */
void lock_store(struct pifs_store *st);
/* Load the store's registry into reg (pifs_registry_release() releases
 * it), else exit. */
void load_registry(struct pifs_store *st, struct pifs_registry *reg);
/* Check that name is a valid, registered worker, else exit. */
void need_worker(struct pifs_store *st, const char *name);
/* open_store() of store_path(), then need_worker(): how a command on one
 * worker starts. */
void open_worker_store(struct pifs_store *st, const char *worker);
/* Release what a command set up: the repository g and the registry reg
 * (each may be NULL), then the store. */
void close_store(struct pifs_store *st, struct pifs_registry *reg,
		 struct pifs_git *g);
/* The golden named by its id or a unique prefix of at least 4 hex
 * digits, into out, else exit. */
void need_golden(struct pifs_store *st, const char *arg, char out[17]);
/* The snapshot repository (the caller frees it with pifs_git_free()),
 * created when create; NULL when it does not exist and !create; else
 * exit. */
struct pifs_git *open_git(struct pifs_store *st, int create);
/* The control connection of the store's running pifsd (closed with
 * pifs_ctl_close()), -1 when the store is not mounted, else exit. */
int ctl_connect(struct pifs_store *st);
/* The registry changed: have a running pifsd re-read it before the
 * command returns; a failure only warns (pifsd watches the file too). */
void tell_pifsd_workers(struct pifs_store *st);

/* Catch SIGINT and SIGTERM into interrupted, the old actions into old;
 * interrupts_restore() puts them back. */
void interrupts_catch(struct sigaction old[2]);
void interrupts_restore(const struct sigaction old[2]);

/* Print the JSON document j on stdout (json_print()), else exit. */
void print_json(struct json *j);


/* Progress of big files read or written through g on stderr, when it is
 * a terminal and not quiet (snapshot, reset, rebase --quiet turn it
 * off); progress_end clears the line. */
void progress_start(struct pifs_git *g, int quiet);
void progress_end(void);

/* cmd-init.c */

/* Create a store at path from golden (a tree or a disk image), with the
 * master address master (NULL: the default); progress (or NULL) gets
 * the copy's messages.  SIGINT/SIGTERM stop it, nothing left behind;
 * exits on error (130 when interrupted). */
void create_store(const char *path, const char *golden, const char *master,
		  FILE *progress);
int cmd_init(int argc, char **argv);
int cmd_destroy(int argc, char **argv);

/* cmd-worker.c */

int cmd_worker(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
/* After a registry change: dnsmasq's reservations (dnsmasq-conf
 * --hosts-dir), a warning on failure. */
void hosts_update(struct pifs_store *st, const struct pifs_registry *reg);
/* After a registry change: the NFS exports (exports --install), a
 * warning on failure. */
void exports_update(struct pifs_store *st, const struct pifs_registry *reg);
/* A running pifsd re-reads what changed ("workers", "reload"). */
void tell_pifsd(struct pifs_store *st, const char *what);

/* cmd-dhcp.c */

int cmd_dhcp_event(int argc, char **argv);

/* cmd-golden.c */

/* Check golden id against its manifest: the number of differences
 * (each listed on stdout), or -1 after saying on stdout why it could not
 * be checked. */
int verify_golden(struct pifs_store *st, const char *id);
int cmd_verify(int argc, char **argv);
int cmd_golden(int argc, char **argv);

/* cmd-mount.c */

int cmd_mount(int argc, char **argv);
/* The mount.fuse3 form "pifs SOURCE MOUNTPOINT [-o OPTS]", argv[0] being
 * SOURCE, a store directory. */
int cmd_mount_fuse3(int argc, char **argv);
int cmd_umount(int argc, char **argv);

/* cmd-snapshot.c */

/* The snapshot of worker that rev names, its full id into id, else
 * exit; g NULL means the worker has no snapshots. */
void resolve_rev(struct pifs_git *g, const char *worker, const char *rev,
		 char id[41]);
/* The changes of worker's delta against its base snapshot (or the
 * golden): their count and bytes.  0, or -ENOENT when the worker has no
 * delta; exits on any other error. */
int unsnapshotted(struct pifs_store *st, struct pifs_git *g, const char *worker,
		  size_t *count, uint64_t *bytes);
/* One worker's snapshot, reading with the worker running on a mounted
 * store (cfd: pifsd's control connection, or -1).  taken: the caller
 * paused the worker and took its journal into *taken, else NULL;
 * *token (or NULL): the journal token pifsd runs under since the final
 * pause, 0 if none.  0, or -1 with the message in err; the worker is
 * never left paused. */
int snapshot_worker(struct pifs_git *g, int cfd, const char *worker,
		    const char *msg, int allow_empty,
		    const struct pifs_journal *taken, uint64_t *token,
		    struct pifs_snapshot *snap, char *err, size_t errlen);
int cmd_snapshot(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_show(int argc, char **argv);

/* cmd-reset.c */

int cmd_reset(int argc, char **argv);
int cmd_rebase(int argc, char **argv);

/* cmd-status.c */

int cmd_status(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_master(int argc, char **argv);

#endif /* PIFS_CLI_H */
