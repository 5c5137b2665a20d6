/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_bootconf.c - "pifs dnsmasq-conf" and "pifs exports": the exact
 * text printed for a store with worker-3 (8b07bcc6, b8:27:eb:07:bc:c6,
 * 10.1.1.2) and worker-1 (77b655ec, 10.1.1.1) and for each option; a
 * worker without MAC or address and a store with its own range; and every
 * refusal (bad store, values that would inject configuration lines,
 * usage errors): one line "pifs: ..." on stderr, the right exit status,
 * nothing on stdout.  Runs as root under a mkdtemp in /var/tmp.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootconf.h"
#include "safeio.h"
#include "store.h"
#include "util.h"
#include "unit.h"

static char base[] = "/var/tmp/check_bootconf.XXXXXX";

/* The registry of the boot-path issue (ids as in registry.h). */
static const char two_workers[] = "# pifs worker registry v1\n"
				  "next-id 4\n"
				  "worker-1 77b655ec b8:27:eb:b6:55:ec 10.1.1.1 1\n"
				  "worker-3 8b07bcc6 b8:27:eb:07:bc:c6 10.1.1.2 3\n";

/* worker-9 registered without MAC or address, and a range of its own */
static const char odd_workers[] = "# pifs worker registry v1\n"
				  "next-id 10\n"
				  "worker-1 77b655ec b8:27:eb:b6:55:ec 10.1.1.1 1\n"
				  "worker-9 0000beef - - 9\n";

static void make_store(const char *name, const char *workers,
		       const char *range)
{
	char err[512], *golden = pifs_strdupf("%s-golden", name), *sub;
	int fd;

	ck_assert_ptr_nonnull(golden);
	ck_assert_int_eq(mkdir(golden, 0755), 0);
	/* an empty golden is refused: give it the directory a Pi boots from */
	sub = pifs_strdupf("%s/boot", golden);
	ck_assert_ptr_nonnull(sub);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	free(sub);
	ck_assert_int_eq(pifs_store_create(name, golden, NULL, NULL, err,
					   sizeof(err)),
			 0);
	fd = open(name, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pifs_write_file_atomic(fd, "workers", workers,
						strlen(workers), 0600),
			 0);
	if (range) {
		char *conf = NULL, *at, *text;

		ck_assert_int_eq(pifs_read_file(fd, "pifs.conf", 4096, &conf,
						NULL),
				 0);
		at = strstr(conf, "range ");
		ck_assert_ptr_nonnull(at);
		*at = '\0';
		text = pifs_strdupf("%srange %s\n", conf, range);
		ck_assert_int_eq(pifs_write_file_atomic(fd, "pifs.conf", text,
							strlen(text), 0600),
				 0);
		free(text);
		free(conf);
	}
	close(fd);
	free(golden);
}

/* Unchecked fixture (runs once, in the runner): the stores, reached by
 * relative names so the expected text does not depend on mkdtemp. */
static void stores_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(base));
	ck_assert_int_eq(chdir(base), 0);
	make_store("two", two_workers, NULL);
	make_store("odd", odd_workers, "10.1.1.50-10.1.1.60");
	ck_assert_int_eq(mkdir("notastore", 0700), 0);
}

static void stores_teardown(void)
{
	char *slash = strrchr(base, '/');
	int fd;

	ck_assert_int_eq(chdir("/"), 0);
	*slash = '\0';
	fd = open(base, O_PATH | O_DIRECTORY);
	pifs_remove_tree(fd, slash + 1);
	close(fd);
	*slash = '/';
}

struct result {
	int status;
	char *out, *err;
};

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Run cmd with the NULL-terminated options, capturing stdout/stderr. */
static struct result run(const char *store, const char *cmd, ...)
{
	struct result r = {0};
	char *argv[16];
	size_t olen, elen;
	FILE *o, *e;
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)cmd;
	va_start(ap, cmd);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	o = open_memstream(&r.out, &olen);
	e = open_memstream(&r.err, &elen);
	ck_assert(o && e);
	r.status = pifs_bootconf_run(o, e, cmd, store, argc, argv);
	fclose(o);
	fclose(e);
	return r;
}

static void expect_ok(struct result r, const char *out)
{
	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, out);
	result_free(&r);
}

/* A refusal: status, nothing on stdout, one line matching the message. */
static void expect_fail(struct result r, int status, const char *msg)
{
	ck_assert_str_eq(r.out, "");
	ck_assert_int_eq(r.status, status);
	ck_assert_str_eq(r.err, msg);
	result_free(&r);
}

#define DNSMASQ_TOP(store)                                                    \
	"# dnsmasq configuration for the pifs store '" store "',\n"           \
	"# printed by 'pifs dnsmasq-conf': network boot of its Raspberry Pi " \
	"workers.\n"
#define DNS_KEPT                                                              \
	"# DNS is left as it is (a dnsmasq that also serves the LAN's DNS "   \
	"keeps doing\n"                                                       \
	"# so); 'pifs dnsmasq-conf --standalone' adds port=0 for one that "   \
	"only boots.\n"
#define DNS_OFF                                                               \
	"# No DNS: dnsmasq only does DHCP and TFTP, on one interface.\n"      \
	"port=0\n"
/* the default: a drop-in that leaves DNS alone */
#define DNSMASQ_HEAD(store) DNSMASQ_TOP(store) DNS_KEPT

#define DHCP_WORKERS_TWO                                                  \
	"# One fixed address per registered worker, by MAC (on a Pi 3, "  \
	"b8:27:eb: and the\n"                                             \
	"# serial's last 6 digits).\n"                                    \
	"# worker-1: serial 77b655ec\n"                                   \
	"dhcp-host=b8:27:eb:b6:55:ec,10.1.1.1,worker-1\n"                 \
	"# worker-3: serial 8b07bcc6\n"                                   \
	"dhcp-host=b8:27:eb:07:bc:c6,10.1.1.2,worker-3\n"                 \
	"# The Pi boot ROM ignores an offer without this PXE menu entry " \
	"(option 43).\n"                                                  \
	"pxe-service=0,\"Raspberry Pi Boot\"\n"                           \
	"# Works around a race in the Pi boot ROM.\n"                     \
	"dhcp-reply-delay=1\n"

#define TFTP_COMMENT                                                        \
	"# The ROM fetches bootcode.bin from the root, then <serial>/... (the " \
	"worker's\n"                                                        \
	"# boot/firmware as pifs serves it).\n"                             \
	"enable-tftp\n"

START_TEST(test_dnsmasq_default)
{
	expect_ok(run("two", "dnsmasq-conf", NULL),
		  DNSMASQ_HEAD("two") "interface=eth0\n"
				      "bind-interfaces\n"
				      "dhcp-range=10.1.1.1,10.1.1.20,"
				      "255.255.255.0,12h\n" DHCP_WORKERS_TWO
					  TFTP_COMMENT "tftp-root=/tftpboot\n"
						       "log-dhcp\n");
}
END_TEST

START_TEST(test_dnsmasq_options)
{
	expect_ok(run("two", "dnsmasq-conf", "--interface", "pifsm0",
		      "--tftp-root", "/srv/pifs/tftpboot", "--log-facility",
		      "/var/log/pifs-dnsmasq.log", NULL),
		  DNSMASQ_HEAD("two") "interface=pifsm0\n"
				      "bind-interfaces\n"
				      "dhcp-range=10.1.1.1,10.1.1.20,"
				      "255.255.255.0,12h\n" DHCP_WORKERS_TWO
					  TFTP_COMMENT
				      "tftp-root=/srv/pifs/tftpboot\n"
				      "log-dhcp\n"
				      "log-facility=/var/log/pifs-dnsmasq.log\n");
	/* TFTP only, log to stderr */
	expect_ok(run("two", "dnsmasq-conf", "--no-dhcp", "--log-facility",
		      "-", NULL),
		  DNSMASQ_HEAD("two") "interface=eth0\n"
				      "bind-interfaces\n" TFTP_COMMENT
				      "tftp-root=/tftpboot\n"
				      "log-facility=-\n");
}
END_TEST

START_TEST(test_dnsmasq_odd_registry)
{
	/* worker-9: the Pi 3 MAC from its serial, an address from the range */
	expect_ok(run("odd", "dnsmasq-conf", NULL),
		  DNSMASQ_HEAD("odd") "interface=eth0\n"
				      "bind-interfaces\n"
				      "dhcp-range=10.1.1.50,10.1.1.60,"
				      "255.255.255.0,12h\n"
				      "# One fixed address per registered "
				      "worker, by MAC (on a Pi 3, b8:27:eb: "
				      "and the\n"
				      "# serial's last 6 digits).\n"
				      "# worker-1: serial 77b655ec\n"
				      "dhcp-host=b8:27:eb:b6:55:ec,10.1.1.1,"
				      "worker-1\n"
				      "# worker-9: serial 0000beef\n"
				      "dhcp-host=b8:27:eb:00:be:ef,worker-9\n"
				      "# The Pi boot ROM ignores an offer "
				      "without this PXE menu entry (option "
				      "43).\n"
				      "pxe-service=0,\"Raspberry Pi Boot\"\n"
				      "# Works around a race in the Pi boot "
				      "ROM.\n"
				      "dhcp-reply-delay=1\n" TFTP_COMMENT
				      "tftp-root=/tftpboot\n"
				      "log-dhcp\n");
}
END_TEST

#define EXPORTS_HEAD(store)                                                   \
	"# /etc/exports for the pifs store '" store                           \
	"', printed by 'pifs exports'.\n"                                     \
	"#\n"                                                                 \
	"# One export per worker, open to that worker's address only: a "     \
	"worker is root\n"                                                    \
	"# on its own root file system (no_root_squash) and must not reach "  \
	"another's.\n"                                                        \
	"# fsid: the mount is FUSE, which has no stable device number, so "   \
	"each export\n"                                                       \
	"# gets a fixed one, 1000 + the worker's view id (ids are never "     \
	"reused), and NFS\n"                                                  \
	"# file handles stay valid across restarts; keep other exports "      \
	"clear of 1001-66535.\n"                                              \
	"# sync: a write is in the worker's delta before the reply.  "        \
	"no_subtree_check:\n"                                                 \
	"# handles stay valid when a file is renamed (each export is the "   \
	"worker's own\n"                                                      \
	"# file system, so a handle cannot name anything else).  "           \
	"mountpoint: refused\n"                                               \
	"# while that file system is not mounted, never the empty directory " \
	"under it.\n"                                                         \
	"# The worker mounts with vers=3,tcp (its generated cmdline.txt).\n"  \
	"# Apply with: exportfs -ra (again after pifs worker add), or let "  \
	"pifs keep\n# it applied: pifs exports --install "                   \
	"/etc/exports.d/pifs.exports\n"

#define GANESHA_HEAD                                                       \
	"#\n"                                                              \
	"# Without a kernel NFS server: the same exports for NFS-Ganesha " \
	"(FSAL VFS,\n"                                                     \
	"# rpcbind running for NFSv3), to copy into ganesha.conf "         \
	"uncommented.\n"                                                    \
	"# Attr_Expiration_Time = 0: pifs changes views under the server " \
	"(reset, the\n"                                                     \
	"# master's writes); Ganesha must not answer from a stale cache.\n" \
	"# Ganesha's file handles carry the file system's device number "   \
	"(FUSE has no\n"                                                    \
	"# other id), which a restart of pifs may change: workers then "    \
	"remount (reboot\n"                                                 \
	"# them).  fsid_type = Major64 would drop it, but gives every FUSE " \
	"file system\n"                                                     \
	"# the same id, and Ganesha refuses a second export of one.  The "  \
	"kernel NFS\n"                                                      \
	"# server (above) keeps handles across a restart.  Start Ganesha "  \
	"after pifs has\n"                                                  \
	"# mounted, stop it before pifs is unmounted.\n"                    \
	"# NFS_CORE_PARAM { Mount_Path_Pseudo = true; }\n"

#define GANESHA(id, root, name, ip)                                          \
	"# EXPORT {\n"                                                       \
	"#     Export_Id = " id "; Path = " root "/" name "; Pseudo = " root \
	"/" name ";\n"                                                       \
	"#     Access_Type = None; Squash = No_Root_Squash; Protocols = 3, " \
	"4;\n"                                                               \
	"#     SecType = sys; Filesystem_id = " id ".1;\n"                   \
	"#     Attr_Expiration_Time = 0;\n"                                \
	"#     CLIENT { Clients = " ip "; Access_Type = RW; }\n"             \
	"#     FSAL { Name = VFS; }\n"                                       \
	"# }\n"

/* --standalone: the default with DNS off (port=0), word for word */
START_TEST(test_dnsmasq_standalone)
{
	expect_ok(run("two", "dnsmasq-conf", "--standalone", NULL),
		  DNSMASQ_TOP("two") DNS_OFF "interface=eth0\n"
				     "bind-interfaces\n"
				     "dhcp-range=10.1.1.1,10.1.1.20,"
				     "255.255.255.0,12h\n" DHCP_WORKERS_TWO
					 TFTP_COMMENT "tftp-root=/tftpboot\n"
						      "log-dhcp\n");
	/* and with the TFTP part only */
	expect_ok(run("two", "dnsmasq-conf", "--no-dhcp", "--standalone",
		      NULL),
		  DNSMASQ_TOP("two") DNS_OFF "interface=eth0\n"
				     "bind-interfaces\n" TFTP_COMMENT
				     "tftp-root=/tftpboot\n");
}
END_TEST

#define PROXY_HEAD(store)                                                     \
	"# dnsmasq configuration for the pifs store '" store "',\n"           \
	"# printed by 'pifs dnsmasq-conf': network boot of its Raspberry Pi " \
	"workers.\n"                                                          \
	"# Proxy DHCP beside the LAN's own DHCP server: only the boot menu "  \
	"and TFTP.\n" DNS_KEPT                                                \
	"interface=eth0\n"                                                    \
	"bind-interfaces\n"                                                   \
	"# Answer DHCP requests on the workers' network with the boot part "  \
	"only: a\n"                                                           \
	"# proxy offer carries no address (the Pi takes its address from "    \
	"the LAN's\n"                                                         \
	"# server and the TFTP server from this offer).\n"                    \
	"dhcp-range=10.1.1.0,proxy,255.255.255.0\n"                           \
	"# The LAN's DHCP server gives the addresses, not this dnsmasq (a "   \
	"proxy never\n"                                                       \
	"# does).  Reserve these there, MAC -> address, so that each worker " \
	"gets the\n"                                                          \
	"# address its NFS export is open to ('pifs exports'):\n"

#define PROXY_TAIL                                                        \
	"# The Pi boot ROM ignores an offer without this PXE menu entry " \
	"(option 43).\n"                                                  \
	"pxe-service=0,\"Raspberry Pi Boot\"\n"                           \
	"# Works around a race in the Pi boot ROM.\n"                     \
	"dhcp-reply-delay=1\n" TFTP_COMMENT "tftp-root=/tftpboot\n"       \
	"log-dhcp\n"

/* --proxy: no address of its own (no dhcp-host, a proxy range of the
 * workers' /24), no port=0, the reservations for the LAN's server */
START_TEST(test_dnsmasq_proxy)
{
	expect_ok(run("two", "dnsmasq-conf", "--proxy", NULL),
		  PROXY_HEAD("two") "#   worker-1 b8:27:eb:b6:55:ec 10.1.1.1 "
				    "(serial 77b655ec)\n"
				    "#   worker-3 b8:27:eb:07:bc:c6 10.1.1.2 "
				    "(serial 8b07bcc6)\n" PROXY_TAIL);
	/* a range of its own is the same /24; a worker without address */
	expect_ok(run("odd", "dnsmasq-conf", "--proxy", NULL),
		  PROXY_HEAD("odd") "#   worker-1 b8:27:eb:b6:55:ec 10.1.1.1 "
				    "(serial 77b655ec)\n"
				    "#   worker-9 b8:27:eb:00:be:ef (no address "
				    "registered) (serial 0000beef)\n" PROXY_TAIL);
	/* the same option twice is fine, two modes are not */
	expect_ok(run("two", "dnsmasq-conf", "--proxy", "--proxy", NULL),
		  PROXY_HEAD("two") "#   worker-1 b8:27:eb:b6:55:ec 10.1.1.1 "
				    "(serial 77b655ec)\n"
				    "#   worker-3 b8:27:eb:07:bc:c6 10.1.1.2 "
				    "(serial 8b07bcc6)\n" PROXY_TAIL);
	/* a proxy that only boots: DNS off too */
	{
		struct result a = run("two", "dnsmasq-conf", "--proxy", NULL);
		struct result b = run("two", "dnsmasq-conf", "--proxy",
				      "--standalone", NULL);
		const char *p = strstr(a.out, DNS_KEPT);

		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(b.status, 0);
		ck_assert_int_eq(strncmp(a.out, b.out, (size_t)(p - a.out)), 0);
		ck_assert_str_eq(b.out + (p - a.out) + strlen(DNS_OFF),
				 p + strlen(DNS_KEPT));
		ck_assert_int_eq(strncmp(b.out + (p - a.out), DNS_OFF,
					 strlen(DNS_OFF)),
				 0);
		result_free(&a);
		result_free(&b);
	}
	expect_fail(run("two", "dnsmasq-conf", "--no-dhcp", "--proxy", NULL),
		    2, "pifs: --no-dhcp and --proxy exclude each other\n");
}
END_TEST

START_TEST(test_exports)
{
	expect_ok(
	    run("two", "exports", NULL),
	    EXPORTS_HEAD("two") "# worker-1: serial 77b655ec\n"
				"/nfsroot/worker-1 10.1.1.1(rw,sync,no_subtree_"
				"check,no_root_squash,fsid=1001,mountpoint)\n"
				"# worker-3: serial 8b07bcc6\n"
				"/nfsroot/worker-3 10.1.1.2(rw,sync,no_subtree_"
				"check,no_root_squash,fsid=1003,mountpoint)\n" GANESHA_HEAD
				    GANESHA("1001", "/nfsroot", "worker-1",
					    "10.1.1.1")
					GANESHA("1003", "/nfsroot", "worker-3",
						"10.1.1.2"));
	/* a trailing slash names the same directory */
	expect_ok(
	    run("two", "exports", "--nfsroot", "/srv/pifs/nfsroot/", NULL),
	    EXPORTS_HEAD("two") "# worker-1: serial 77b655ec\n"
				"/srv/pifs/nfsroot/worker-1 10.1.1.1(rw,sync,"
				"no_subtree_check,no_root_squash,fsid=1001,mountpoint)\n"
				"# worker-3: serial 8b07bcc6\n"
				"/srv/pifs/nfsroot/worker-3 10.1.1.2(rw,sync,"
				"no_subtree_check,no_root_squash,fsid=1003,mountpoint)\n"
		GANESHA_HEAD GANESHA("1001", "/srv/pifs/nfsroot", "worker-1",
				     "10.1.1.1")
		    GANESHA("1003", "/srv/pifs/nfsroot", "worker-3",
			    "10.1.1.2"));
	/* a worker without an address is named but not exported */
	expect_ok(
	    run("odd", "exports", NULL),
	    EXPORTS_HEAD("odd") "# worker-1: serial 77b655ec\n"
				"/nfsroot/worker-1 10.1.1.1(rw,sync,no_subtree_"
				"check,no_root_squash,fsid=1001,mountpoint)\n"
				"# worker-9: serial 0000beef\n"
				"# not exported: no address registered (pifs "
				"worker add worker-9 --ip ...)\n" GANESHA_HEAD
				    GANESHA("1001", "/nfsroot", "worker-1",
					    "10.1.1.1"));
}
END_TEST

START_TEST(test_help)
{
	struct result r = run("two", "dnsmasq-conf", "--help", NULL);

	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_ptr_nonnull(strstr(r.out, "usage: pifs [--store DIR] "
					    "dnsmasq-conf"));
	result_free(&r);
	/* --help works even without a store */
	r = run("missing", "exports", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "usage: pifs [--store DIR] "
					    "exports [--nfsroot DIR]\n"));
	result_free(&r);
}
END_TEST

START_TEST(test_bad_store)
{
	expect_fail(run("missing", "dnsmasq-conf", NULL), 1,
		    "pifs: no store at 'missing'\n");
	expect_fail(run("notastore", "exports", NULL), 1,
		    "pifs: 'notastore' is not a pifs store\n");
}
END_TEST

START_TEST(test_damaged_registry)
{
	const char *text;
	int fd;

	make_store("damaged", two_workers, NULL);
	fd = open("damaged", O_PATH | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	text = "# pifs worker registry v1\nnext-id 2\nworker-1 zz - - 1\n";
	ck_assert_int_eq(pifs_write_file_atomic(fd, "workers", text,
						strlen(text), 0600),
			 0);
	close(fd);
	expect_fail(run("damaged", "dnsmasq-conf", NULL), 1,
		    "pifs: store 'damaged': bad registry 'workers': line 3: "
		    "bad serial 'zz'\n");
}
END_TEST

/* Values that would end a configuration line and add directives. */
START_TEST(test_injection_refused)
{
	expect_fail(run("two", "dnsmasq-conf", "--interface",
			"eth0\ndhcp-script=/tmp/x", NULL),
		    2, "pifs: bad interface name 'eth0\ndhcp-script=/tmp/x'\n");
	expect_fail(run("two", "dnsmasq-conf", "--interface", "", NULL), 2,
		    "pifs: bad interface name ''\n");
	expect_fail(run("two", "dnsmasq-conf", "--interface",
			"averyveryverylongname", NULL),
		    2, "pifs: bad interface name 'averyveryverylongname'\n");
	expect_fail(run("two", "dnsmasq-conf", "--tftp-root", "tftpboot",
			NULL),
		    2,
		    "pifs: --tftp-root needs an absolute path without spaces, "
		    "quotes, ',', '#', '=' or '\\', got 'tftpboot'\n");
	expect_fail(run("two", "dnsmasq-conf", "--tftp-root", "/a b", NULL), 2,
		    "pifs: --tftp-root needs an absolute path without spaces, "
		    "quotes, ',', '#', '=' or '\\', got '/a b'\n");
	expect_fail(run("two", "dnsmasq-conf", "--log-facility", "log", NULL),
		    2,
		    "pifs: --log-facility needs an absolute path without "
		    "spaces, quotes, ',', '#', '=' or '\\', got 'log'\n");
	expect_fail(run("two", "exports", "--nfsroot", "/x\n/ *(rw)", NULL), 2,
		    "pifs: --nfsroot needs an absolute path without spaces, "
		    "quotes, ',', '#', '=' or '\\', got '/x\n/ *(rw)'\n");
}
END_TEST

START_TEST(test_usage_errors)
{
	expect_fail(run("two", "dnsmasq-conf", "--bogus", NULL), 2,
		    "pifs: unknown option '--bogus' (see --help)\n");
	expect_fail(run("two", "dnsmasq-conf", "--interface", NULL), 2,
		    "pifs: option '--interface' needs an argument\n");
	expect_fail(run("two", "exports", "extra", NULL), 2,
		    "pifs: unexpected argument 'extra'\n");
	expect_fail(run("two", "exports", "--nfsroot", NULL), 2,
		    "pifs: option '--nfsroot' needs an argument\n");
	expect_fail(run("two", "boot", NULL), 2,
		    "pifs: unknown command 'boot'\n");
}
END_TEST

static Suite *bootconf_suite(void)
{
	Suite *s = suite_create("bootconf");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, stores_setup, stores_teardown);
	tcase_add_test(tc, test_dnsmasq_default);
	tcase_add_test(tc, test_dnsmasq_options);
	tcase_add_test(tc, test_dnsmasq_odd_registry);
	tcase_add_test(tc, test_dnsmasq_standalone);
	tcase_add_test(tc, test_dnsmasq_proxy);
	tcase_add_test(tc, test_exports);
	tcase_add_test(tc, test_help);
	tcase_add_test(tc, test_bad_store);
	tcase_add_test(tc, test_damaged_registry);
	tcase_add_test(tc, test_injection_refused);
	tcase_add_test(tc, test_usage_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed, ret;

	if ((ret = unit_needs_root("check_bootconf", "store creation")))
		return ret;
	sr = srunner_create(bootconf_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
