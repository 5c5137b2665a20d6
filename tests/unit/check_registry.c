/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_registry.c - the worker registry: field validation, the strict
 * parser and its error messages (v1 and v2), format/parse round trip, a
 * v1 file read unchanged and written as v2, models and TFTP prefixes,
 * duplicate detection on add (TFTP directory names included), view ids
 * never reused, and load/save on disk; and the per-model boot facts
 * (models.h): the kernel a config.txt makes each model load.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models.h"
#include "registry.h"
#include "safeio.h"

static const char example[] =
    "# pifs worker registry v1\n"
    "next-id 4\n"
    "worker-1 77b655ec b8:27:eb:b6:55:ec 10.1.1.1 1\n"
    "worker-3 8b07bcc6 b8:27:eb:07:bc:c6 10.1.1.2 3\n";

/* The same registry as written today (v2). */
static const char example_v2[] =
    "# pifs worker registry v2\n"
    "next-id 4\n"
    "worker-1 77b655ec b8:27:eb:b6:55:ec 10.1.1.1 1 pi3b+ serial -\n"
    "worker-3 8b07bcc6 b8:27:eb:07:bc:c6 10.1.1.2 3 pi3b+ serial -\n";

static struct pifs_worker mkworker(const char *name, const char *serial,
				   const char *mac, const char *ip)
{
	struct pifs_worker w;

	memset(&w, 0, sizeof(w));
	snprintf(w.name, sizeof(w.name), "%s", name);
	snprintf(w.serial, sizeof(w.serial), "%s", serial);
	snprintf(w.mac, sizeof(w.mac), "%s", mac);
	snprintf(w.ip, sizeof(w.ip), "%s", ip);
	return w;
}

START_TEST(test_name_valid)
{
	char longname[80];

	ck_assert_int_eq(pifs_worker_name_valid("worker-1"), 0);
	ck_assert_int_eq(pifs_worker_name_valid("0"), 0);
	ck_assert_int_eq(pifs_worker_name_valid("a-"), 0);
	ck_assert_int_eq(pifs_worker_name_valid(""), -EINVAL);
	ck_assert_int_eq(pifs_worker_name_valid("-a"), -EINVAL);
	ck_assert_int_eq(pifs_worker_name_valid("Worker"), -EINVAL);
	ck_assert_int_eq(pifs_worker_name_valid("a_b"), -EINVAL);
	ck_assert_int_eq(pifs_worker_name_valid("a.b"), -EINVAL);
	ck_assert_int_eq(pifs_worker_name_valid("a/b"), -EINVAL);
	ck_assert_int_eq(pifs_worker_name_valid("a b"), -EINVAL);
	memset(longname, 'a', 63);
	longname[63] = '\0';
	ck_assert_int_eq(pifs_worker_name_valid(longname), 0);
	longname[63] = 'a';
	longname[64] = '\0';
	ck_assert_int_eq(pifs_worker_name_valid(longname), -EINVAL);
}
END_TEST

START_TEST(test_serial_mac_ip)
{
	char s[9], m[18];

	ck_assert_int_eq(pifs_serial_norm("77B655EC", s), 0);
	ck_assert_str_eq(s, "77b655ec");
	ck_assert_int_eq(pifs_serial_norm("1234567", s), -EINVAL);
	ck_assert_int_eq(pifs_serial_norm("123456789", s), -EINVAL);
	ck_assert_int_eq(pifs_serial_norm("1234567g", s), -EINVAL);
	ck_assert_int_eq(pifs_serial_norm("", s), -EINVAL);

	ck_assert_int_eq(pifs_mac_norm("B8:27:EB:B6:55:EC", m), 0);
	ck_assert_str_eq(m, "b8:27:eb:b6:55:ec");
	ck_assert_int_eq(pifs_mac_norm("b8-27-eb-b6-55-ec", m), -EINVAL);
	ck_assert_int_eq(pifs_mac_norm("b8:27:eb:b6:55", m), -EINVAL);
	ck_assert_int_eq(pifs_mac_norm("b8:27:eb:b6:55:eg", m), -EINVAL);
	ck_assert_int_eq(pifs_mac_norm("b8:27:eb:b6:55:ec:", m), -EINVAL);

	ck_assert_int_eq(pifs_ipv4_valid("10.1.1.1"), 0);
	ck_assert_int_eq(pifs_ipv4_valid("255.255.255.255"), 0);
	ck_assert_int_eq(pifs_ipv4_valid("256.1.1.1"), -EINVAL);
	ck_assert_int_eq(pifs_ipv4_valid("10.1.1"), -EINVAL);
	ck_assert_int_eq(pifs_ipv4_valid("010.1.1.1"), -EINVAL);
	ck_assert_int_eq(pifs_ipv4_valid("10.1.1.1 "), -EINVAL);
	ck_assert_int_eq(pifs_ipv4_valid("::1"), -EINVAL);
	ck_assert_int_eq(pifs_ipv4_valid(""), -EINVAL);

	pifs_mac_from_serial("77b655ec", m);
	ck_assert_str_eq(m, "b8:27:eb:b6:55:ec");
}
END_TEST

START_TEST(test_round_trip)
{
	struct pifs_registry reg;
	char err[128] = "", *out = NULL;

	pifs_registry_init(&reg);
	ck_assert_int_eq(pifs_registry_parse(&reg, example, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(reg.count, 2);
	ck_assert_uint_eq(reg.next_id, 4);
	ck_assert_str_eq(reg.workers[1].name, "worker-3");
	ck_assert_str_eq(reg.workers[1].mac, "b8:27:eb:07:bc:c6");
	ck_assert_uint_eq(reg.workers[1].id, 3);
	/* a v1 file: every worker a Pi 3B+ on its serial; written as v2 */
	ck_assert_int_eq(reg.workers[1].model, PIFS_MODEL_PI3BPLUS);
	ck_assert_int_eq(reg.workers[1].prefix, PIFS_PREFIX_SERIAL);
	ck_assert_int_eq(pifs_registry_format(&reg, &out), 0);
	ck_assert_str_eq(out, example_v2);
	free(out);
	ck_assert_int_eq(pifs_registry_parse(&reg, example_v2, err,
					     sizeof(err)), 0);
	ck_assert_int_eq(pifs_registry_format(&reg, &out), 0);
	ck_assert_str_eq(out, example_v2);
	free(out);

	/* unset mac/ip round trip as "-"; lines come back sorted */
	ck_assert_int_eq(pifs_registry_parse(&reg,
					     "# pifs worker registry v1\n"
					     "next-id 3\n"
					     "zz 00000001 - - 2\n"
					     "aa 00000002 - 10.1.1.9 1\n",
					     err, sizeof(err)),
			 0);
	ck_assert_str_eq(reg.workers[0].name, "aa");
	ck_assert_str_eq(reg.workers[1].mac, "");
	ck_assert_str_eq(reg.workers[1].ip, "");
	ck_assert_int_eq(pifs_registry_format(&reg, &out), 0);
	ck_assert_str_eq(out, "# pifs worker registry v2\n"
			      "next-id 3\n"
			      "aa 00000002 - 10.1.1.9 1 pi3b+ serial -\n"
			      "zz 00000001 - - 2 pi3b+ serial -\n");
	free(out);

	/* a blank line (an admin's edit) is skipped, not the end of the
	 * file: the workers after it are still registered */
	ck_assert_int_eq(pifs_registry_parse(&reg,
					     "# pifs worker registry v2\n"
					     "next-id 4\n"
					     "\n"
					     "worker-1 77b655ec b8:27:eb:b6:55:ec "
					     "10.1.1.1 1 pi3b+ serial -\n"
					     "\n"
					     "worker-3 8b07bcc6 b8:27:eb:07:bc:c6 "
					     "10.1.1.2 3 pi3b+ serial -",
					     err, sizeof(err)),
			 0);
	ck_assert_uint_eq(reg.count, 2);
	ck_assert_str_eq(reg.workers[1].name, "worker-3");

	/* an empty text is an empty registry */
	ck_assert_int_eq(pifs_registry_parse(&reg, "", err, sizeof(err)), 0);
	ck_assert_uint_eq(reg.count, 0);
	ck_assert_uint_eq(reg.next_id, 1);
	pifs_registry_release(&reg);
}
END_TEST

/* Each bad registry text with the exact message it must give. */
static const struct {
	const char *text;
	const char *msg;
} bad[] = {
    {"# something else\nnext-id 1\n",
     "line 1: not a pifs worker registry v1 or v2"},
    {"# pifs worker registry v3\nnext-id 1\n",
     "line 1: not a pifs worker registry v1 or v2"},
    /* v2: eight fields, each strict */
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec - - 1\n",
     "line 3: want 8 fields, got fewer"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec - - 1 pi3b+ serial - "
     "x\n",
     "line 3: want 8 fields, got more"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec - - 1 pi6 serial -\n",
     "line 3: bad model 'pi6'"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec - - 1 PI4 serial -\n",
     "line 3: bad model 'PI4'"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec dc:a6:32:01:36:c2 - 1 "
     "pi4 sn -\n",
     "line 3: bad tftp prefix 'sn'"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec dc:a6:32:01:36:c2 - 1 "
     "pi4 str:../x -\n",
     "line 3: bad tftp prefix 'str:../x'"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec dc:a6:32:01:36:c2 - 1 "
     "pi4 str:a/b -\n",
     "line 3: bad tftp prefix 'str:a/b'"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec dc:a6:32:01:36:c2 - 1 "
     "pi4 str:.. -\n",
     "line 3: bad tftp prefix 'str:..'"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec dc:a6:32:01:36:c2 - 1 "
     "pi4 str:rack1/ -\n",
     "line 3: bad tftp prefix 'str:rack1/'"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec dc:a6:32:01:36:c2 - 1 "
     "pi4 serial accepted\n",
     "line 3: unknown flag 'accepted'"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec dc:a6:32:01:36:c2 - 1 "
     "pi4 serial enrolled,\n",
     "line 3: unknown flag ''"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec dc:a6:32:01:36:c2 - 1 "
     "pi4 serial enrolled,enrolled\n",
     "line 3: unknown flag 'enrolled'"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec dc:a6:32:01:36:c2 - 1 "
     "pi4 serial Enrolled\n",
     "line 3: unknown flag 'Enrolled'"},
    /* what a boot request cannot tell may be missing only while enrolled */
    {"# pifs worker registry v2\nnext-id 4\nw - dc:a6:32:01:36:c2 - 1 "
     "pi4 mac -\n",
     "line 3: w needs its serial"},
    {"# pifs worker registry v2\nnext-id 4\nw - dc:a6:32:01:36:c2 - 1 "
     "pi4 serial enrolled\n",
     "line 3: w needs its serial"},
    {"# pifs worker registry v2\nnext-id 4\nw - - - 1 pi3b+ serial "
     "enrolled\n",
     "line 3: w needs its serial"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec - - 1 pi4 serial -\n",
     "line 3: a pi4 needs its mac"},
    {"# pifs worker registry v2\nnext-id 4\nw 77b655ec - - 1 pi3b+ mac -\n",
     "line 3: a pi3b+ has no TFTP_PREFIX setting: its TFTP directory is its "
     "serial"},
    {"# pifs worker registry v2\nnext-id 5\n"
     "a 00000001 dc:a6:32:00:00:01 - 1 pi4 str:00000002 -\n"
     "b 00000002 - - 2 pi3b+ serial -\n",
     "line 4: tftp directory '00000002' is already a's"},
    {"# pifs worker registry v2\nnext-id 5\n"
     "a 00000001 dc:a6:32:00:00:01 - 1 pi5 mac -\n"
     "b 00000002 dc:a6:32:00:00:02 - 2 pi5 str:dc-a6-32-00-00-01 -\n",
     "line 4: tftp directory 'dc-a6-32-00-00-01' is already a's"},
    {"# pifs worker registry v1\nnext-id 4\nworker-1 xyz - - 1\n",
     "line 3: bad serial 'xyz'"},
    {"# pifs worker registry v1\nnext-id 4\nworker-1 77B655EC - - 1\n",
     "line 3: bad serial '77B655EC'"},
    {"# pifs worker registry v1\nnext-id 4\nWorker 77b655ec - - 1\n",
     "line 3: bad name 'Worker'"},
    {"# pifs worker registry v1\nnext-id 4\nw 77b655ec b8:27 - 1\n",
     "line 3: bad mac 'b8:27'"},
    {"# pifs worker registry v1\nnext-id 4\nw 77b655ec - 10.1.1.300 1\n",
     "line 3: bad ip '10.1.1.300'"},
    {"# pifs worker registry v1\nnext-id 4\nw 77b655ec - - 0\n",
     "line 3: bad id '0'"},
    {"# pifs worker registry v1\nnext-id 4\nw 77b655ec - - 65536\n",
     "line 3: bad id '65536'"},
    {"# pifs worker registry v1\nnext-id 4\nw 77b655ec - -\n",
     "line 3: want 5 fields, got fewer"},
    {"# pifs worker registry v1\nnext-id 4\nw 77b655ec - - 1 x\n",
     "line 3: want 5 fields, got more"},
    {"# pifs worker registry v1\nnext-id x\n", "line 2: bad next-id 'x'"},
    {"# pifs worker registry v1\nnext-id 2\nnext-id 2\n",
     "line 3: bad next-id '2'"},
    {"# pifs worker registry v1\nw 77b655ec - - 1\n", "missing next-id line"},
    {"# pifs worker registry v1\nnext-id 2\nw 77b655ec - - 2\n",
     "id 2 of w is not below next-id 2"},
    {"# pifs worker registry v1\nnext-id 5\na 00000001 - - 1\na 00000002 - - "
     "2\n",
     "line 4: worker a already exists"},
    {"# pifs worker registry v1\nnext-id 5\na 00000001 - - 1\nb 00000001 - - "
     "2\n",
     "line 4: serial 00000001 is already a's"},
    {"# pifs worker registry v1\nnext-id 5\na 00000001 aa:aa:aa:aa:aa:aa - 1\n"
     "b 00000002 aa:aa:aa:aa:aa:aa - 2\n",
     "line 4: mac aa:aa:aa:aa:aa:aa is already a's"},
    {"# pifs worker registry v1\nnext-id 5\na 00000001 - 10.0.0.1 1\n"
     "b 00000002 - 10.0.0.1 2\n",
     "line 4: ip 10.0.0.1 is already a's"},
    {"# pifs worker registry v1\nnext-id 5\na 00000001 - - 1\nb 00000002 - - "
     "1\n",
     "line 4: id 1 is already a's"},
};

START_TEST(test_parse_errors)
{
	struct pifs_registry reg;
	char err[128];

	pifs_registry_init(&reg);
	ck_assert_int_eq(pifs_registry_parse(&reg, example, err, sizeof(err)),
			 0);
	err[0] = '\0';
	ck_assert_int_eq(
	    pifs_registry_parse(&reg, bad[_i].text, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, bad[_i].msg);
	/* a failed parse leaves the registry as it was */
	ck_assert_uint_eq(reg.count, 2);
	ck_assert_uint_eq(reg.next_id, 4);
	ck_assert_str_eq(reg.workers[0].name, "worker-1");
	pifs_registry_release(&reg);
}
END_TEST

START_TEST(test_add_validation)
{
	struct pifs_registry reg;
	struct pifs_worker w;
	char err[160];

	pifs_registry_init(&reg);
	w = mkworker("Bad", "77b655ec", "", "");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "bad worker name 'Bad' (want [a-z0-9][a-z0-9-]*, "
			      "at most 63 characters)");
	w = mkworker("ok", "77b655e", "", "");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "bad serial '77b655e' (want 8 hex digits)");
	w = mkworker("ok", "77b655ec", "zz:27:eb:b6:55:ec", "");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(
	    err, "bad mac 'zz:27:eb:b6:55:ec' (want aa:bb:cc:dd:ee:ff)");
	w = mkworker("ok", "77b655ec", "", "10.1.1");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "bad ip '10.1.1' (want a dotted IPv4 address)");
	ck_assert_uint_eq(reg.count, 0);
	ck_assert_uint_eq(reg.next_id, 1);

	/* upper case serial and mac are normalised */
	w = mkworker("ok", "77B655EC", "B8:27:EB:B6:55:EC", "10.1.1.1");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	ck_assert_str_eq(reg.workers[0].serial, "77b655ec");
	ck_assert_str_eq(reg.workers[0].mac, "b8:27:eb:b6:55:ec");
	ck_assert_uint_eq(w.id, 1);
	pifs_registry_release(&reg);
}
END_TEST

START_TEST(test_add_duplicates)
{
	struct pifs_registry reg;
	struct pifs_worker w;
	char err[160];

	pifs_registry_init(&reg);
	ck_assert_int_eq(pifs_registry_parse(&reg, example, err, sizeof(err)),
			 0);
	w = mkworker("worker-1", "00000000", "", "");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EEXIST);
	ck_assert_str_eq(err, "worker worker-1 already exists");
	w = mkworker("worker-4", "8B07BCC6", "", "");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EEXIST);
	ck_assert_str_eq(err, "serial 8b07bcc6 is already worker-3's");
	w = mkworker("worker-4", "00000000", "B8:27:EB:B6:55:EC", "");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EEXIST);
	ck_assert_str_eq(err, "mac b8:27:eb:b6:55:ec is already worker-1's");
	w = mkworker("worker-4", "00000000", "", "10.1.1.2");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EEXIST);
	ck_assert_str_eq(err, "ip 10.1.1.2 is already worker-3's");
	ck_assert_uint_eq(reg.count, 2);
	ck_assert_uint_eq(reg.next_id, 4);

	/* several workers without mac or ip do not clash */
	w = mkworker("a", "00000001", "", "");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	w = mkworker("b", "00000002", "", "");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	ck_assert_uint_eq(reg.count, 4);
	ck_assert_str_eq(reg.workers[0].name, "a");
	ck_assert_str_eq(reg.workers[1].name, "b");
	pifs_registry_release(&reg);
}
END_TEST

START_TEST(test_ids_never_reused)
{
	struct pifs_registry reg, back;
	struct pifs_worker w;
	char err[160], *text;

	pifs_registry_init(&reg);
	pifs_registry_init(&back);
	w = mkworker("a", "00000001", "", "");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	ck_assert_uint_eq(w.id, 1);
	w = mkworker("b", "00000002", "", "");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	ck_assert_uint_eq(w.id, 2);
	ck_assert_int_eq(pifs_registry_remove(&reg, "b"), 0);
	ck_assert_int_eq(pifs_registry_remove(&reg, "b"), -ENOENT);
	ck_assert_ptr_null(pifs_registry_find(&reg, "b"));
	w = mkworker("b", "00000002", "", "");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	ck_assert_uint_eq(w.id, 3);

	/* next-id survives a format/parse even when the top id is gone */
	ck_assert_int_eq(pifs_registry_remove(&reg, "b"), 0);
	ck_assert_int_eq(pifs_registry_format(&reg, &text), 0);
	ck_assert_int_eq(pifs_registry_parse(&back, text, err, sizeof(err)), 0);
	free(text);
	w = mkworker("c", "00000003", "", "");
	ck_assert_int_eq(pifs_registry_add(&back, &w, err, sizeof(err)), 0);
	ck_assert_uint_eq(w.id, 4);
	ck_assert_ptr_nonnull(pifs_registry_find_id(&back, 4));
	ck_assert_ptr_null(pifs_registry_find_id(&back, 2));
	ck_assert_str_eq(pifs_registry_find_serial(&back, "00000003")->name,
			 "c");

	/* ids run out at 65535 */
	back.next_id = PIFS_VIEW_ID_MAX;
	w = mkworker("d", "00000004", "", "");
	ck_assert_int_eq(pifs_registry_add(&back, &w, err, sizeof(err)), 0);
	ck_assert_uint_eq(w.id, PIFS_VIEW_ID_MAX);
	w = mkworker("e", "00000005", "", "");
	ck_assert_int_eq(pifs_registry_add(&back, &w, err, sizeof(err)),
			 -ENOSPC);
	ck_assert_str_eq(err, "no view id left (all 65535 used)");
	pifs_registry_release(&reg);
	pifs_registry_release(&back);
}
END_TEST

START_TEST(test_load_save)
{
	struct pifs_registry reg;
	struct pifs_worker w;
	char dir[] = "/var/tmp/check_registry.XXXXXX", err[160];
	const char *broken = "# pifs worker registry v1\nnext-id 2\nbroken\n";
	char *text;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	fd = open(dir, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	pifs_registry_init(&reg);
	/* a missing file is an empty registry */
	ck_assert_int_eq(pifs_registry_load(&reg, fd, err, sizeof(err)), 0);
	ck_assert_uint_eq(reg.count, 0);
	w = mkworker("worker-1", "77b655ec", "b8:27:eb:b6:55:ec", "10.1.1.1");
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	ck_assert_int_eq(pifs_registry_save(&reg, fd), 0);
	ck_assert_int_eq(pifs_read_file(fd, "workers", 4096, &text, NULL), 0);
	ck_assert_str_eq(text,
			 "# pifs worker registry v2\nnext-id 2\n"
			 "worker-1 77b655ec b8:27:eb:b6:55:ec 10.1.1.1 1 pi3b+ "
			 "serial -\n");
	free(text);
	pifs_registry_release(&reg);
	ck_assert_int_eq(pifs_registry_load(&reg, fd, err, sizeof(err)), 0);
	ck_assert_uint_eq(reg.count, 1);
	ck_assert_str_eq(reg.workers[0].ip, "10.1.1.1");

	/* a damaged file is an error naming the line, registry untouched */
	ck_assert_int_eq(
	    pifs_write_file_atomic(fd, "workers", broken, strlen(broken), 0600),
	    0);
	ck_assert_int_eq(pifs_registry_load(&reg, fd, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(
	    err, "bad registry 'workers': line 3: want 5 fields, got fewer");
	ck_assert_uint_eq(reg.count, 1);
	pifs_registry_release(&reg);
	ck_assert_int_eq(unlinkat(fd, "workers", 0), 0);
	close(fd);
	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_int_eq(access(dir, F_OK), -1);
}
END_TEST

START_TEST(test_models_prefixes)
{
	struct pifs_worker w;
	enum pifs_model m;
	char s[9], d[32], pf[40], s33[40];

	/* serials as /proc/cpuinfo shows them */
	ck_assert_int_eq(pifs_serial_parse("10000000ABCD1234", s), 0);
	ck_assert_str_eq(s, "abcd1234");
	ck_assert_int_eq(pifs_serial_parse("000000008b07bcc6", s), 0);
	ck_assert_str_eq(s, "8b07bcc6");
	ck_assert_int_eq(pifs_serial_parse("9ffefdef", s), 0);
	ck_assert_int_eq(pifs_serial_parse("20000000abcd1234", s), -EINVAL);
	ck_assert_int_eq(pifs_serial_parse("10000000abcd123", s), -EINVAL);

	ck_assert_int_eq(pifs_model_parse("pi3b+", &m), 0);
	ck_assert_int_eq(m, PIFS_MODEL_PI3BPLUS);
	ck_assert_int_eq(pifs_model_parse("pi5", &m), 0);
	ck_assert_int_eq(m, PIFS_MODEL_PI5);
	ck_assert_str_eq(pifs_model_name(PIFS_MODEL_PI4), "pi4");
	ck_assert_int_eq(pifs_model_parse("pi3", &m), -EINVAL);
	ck_assert_int_eq(pifs_model_parse("", &m), -EINVAL);

	ck_assert_int_eq(pifs_mac_known("2c:cf:67:00:11:22"), 1);
	ck_assert_int_eq(pifs_mac_known("b8:27:eb:07:bc:c6"), 1);
	ck_assert_int_eq(pifs_mac_known("52:54:00:12:34:56"), 0);

	/* the fixed string: safe characters, no path tricks, <= 31 */
	ck_assert_int_eq(pifs_tftp_str_valid("rack1-n9"), 0);
	ck_assert_int_eq(pifs_tftp_str_valid("A.b_c-9"), 0);
	ck_assert_int_eq(pifs_tftp_str_valid("."), -EINVAL);
	ck_assert_int_eq(pifs_tftp_str_valid(".."), -EINVAL);
	ck_assert_int_eq(pifs_tftp_str_valid(".hidden"), -EINVAL);
	ck_assert_int_eq(pifs_tftp_str_valid("a/b"), -EINVAL);
	ck_assert_int_eq(pifs_tftp_str_valid("a b"), -EINVAL);
	ck_assert_int_eq(pifs_tftp_str_valid("a\\b"), -EINVAL);
	ck_assert_int_eq(pifs_tftp_str_valid(""), -EINVAL);
	ck_assert_int_eq(pifs_tftp_str_valid("bootcode.bin"), -EINVAL);
	memset(s33, 'x', 31);
	s33[31] = '\0';
	ck_assert_int_eq(pifs_tftp_str_valid(s33), 0);
	s33[31] = 'x';
	s33[32] = '\0';
	ck_assert_int_eq(pifs_tftp_str_valid(s33), -EINVAL);

	memset(&w, 0, sizeof(w));
	snprintf(w.serial, sizeof(w.serial), "9ffefdef");
	snprintf(w.mac, sizeof(w.mac), "dc:a6:32:01:36:c2");
	pifs_worker_tftp_dir(&w, d);
	ck_assert_str_eq(d, "9ffefdef");
	ck_assert_int_eq(pifs_tftp_prefix_parse("mac", &w), 0);
	pifs_worker_tftp_dir(&w, d);
	ck_assert_str_eq(d, "dc-a6-32-01-36-c2");
	pifs_tftp_prefix_format(&w, pf, sizeof(pf));
	ck_assert_str_eq(pf, "mac");
	/* TFTP_PREFIX_STR as written in the EEPROM, its '/' dropped */
	ck_assert_int_eq(pifs_tftp_prefix_parse("str:tftp_test/", &w), 0);
	pifs_worker_tftp_dir(&w, d);
	ck_assert_str_eq(d, "tftp_test");
	pifs_tftp_prefix_format(&w, pf, sizeof(pf));
	ck_assert_str_eq(pf, "str:tftp_test");
	ck_assert_int_eq(pifs_tftp_prefix_parse("str:", &w), -EINVAL);
	ck_assert_int_eq(pifs_tftp_prefix_parse("str:/", &w), -EINVAL);
	ck_assert_int_eq(pifs_tftp_prefix_parse("str:a//", &w), -EINVAL);
	ck_assert_int_eq(pifs_tftp_prefix_parse("string", &w), -EINVAL);
	ck_assert_int_eq(pifs_tftp_prefix_parse("str:..", &w), -EINVAL);
	ck_assert_int_eq(pifs_tftp_prefix_parse("serial", &w), 0);
	ck_assert_int_eq(w.prefix, PIFS_PREFIX_SERIAL);
}
END_TEST

START_TEST(test_add_models)
{
	struct pifs_registry reg, back;
	struct pifs_worker w;
	char err[160], *text;

	pifs_registry_init(&reg);
	pifs_registry_init(&back);
	/* a Pi 4 or 5 needs its MAC; a Pi 3B+ cannot use another prefix */
	w = mkworker("w7", "9ffefdef", "", "");
	w.model = PIFS_MODEL_PI4;
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "a pi4 needs its mac");
	w = mkworker("w3", "8b07bcc6", "", "");
	w.prefix = PIFS_PREFIX_MAC;
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EINVAL);
	ck_assert_uint_eq(reg.count, 0);

	w = mkworker("w7", "9ffefdef", "DC:A6:32:01:36:C2", "10.1.1.2");
	w.model = PIFS_MODEL_PI4;
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	w = mkworker("w8", "1a2b3c4d", "2c:cf:67:00:11:22", "10.1.1.3");
	w.model = PIFS_MODEL_PI5;
	w.prefix = PIFS_PREFIX_MAC;
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	w = mkworker("w9", "5e6f7a8b", "d8:3a:dd:00:00:09", "10.1.1.4");
	w.model = PIFS_MODEL_PI5;
	ck_assert_int_eq(pifs_tftp_prefix_parse("str:rack1-n9", &w), 0);
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);

	/* clashes of the TFTP directory, whichever way round */
	w = mkworker("x", "00000001", "e4:5f:01:00:00:01", "");
	w.model = PIFS_MODEL_PI4;
	ck_assert_int_eq(pifs_tftp_prefix_parse("str:9ffefdef", &w), 0);
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EEXIST);
	ck_assert_str_eq(err, "tftp directory '9ffefdef' is already w7's");
	w = mkworker("x", "00000001", "e4:5f:01:00:00:01", "");
	w.model = PIFS_MODEL_PI4;
	ck_assert_int_eq(pifs_tftp_prefix_parse("str:2c-cf-67-00-11-22", &w),
			 0);
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EEXIST);
	ck_assert_str_eq(err,
			 "tftp directory '2c-cf-67-00-11-22' is already w8's");
	w = mkworker("x", "72616b31", "", ""); /* a Pi 3B+ */
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	w = mkworker("y", "00000002", "e4:5f:01:00:00:02", "");
	w.model = PIFS_MODEL_PI5;
	ck_assert_int_eq(pifs_tftp_prefix_parse("str:72616b31", &w), 0);
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EEXIST);
	ck_assert_str_eq(err, "tftp directory '72616b31' is already x's");
	w = mkworker("y", "00000002", "2c:cf:67:00:11:22", "");
	w.model = PIFS_MODEL_PI5;
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EEXIST);
	ck_assert_str_eq(err, "mac 2c:cf:67:00:11:22 is already w8's");
	ck_assert_uint_eq(reg.count, 4);

	/* found by directory name; a format/parse round trip keeps all */
	ck_assert_str_eq(
	    pifs_registry_find_tftp_dir(&reg, "2c-cf-67-00-11-22")->name, "w8");
	ck_assert_str_eq(pifs_registry_find_tftp_dir(&reg, "rack1-n9")->name,
			 "w9");
	ck_assert_ptr_null(pifs_registry_find_tftp_dir(&reg, "1a2b3c4d"));
	ck_assert_int_eq(pifs_registry_format(&reg, &text), 0);
	ck_assert_str_eq(text,
			 "# pifs worker registry v2\nnext-id 5\n"
			 "w7 9ffefdef dc:a6:32:01:36:c2 10.1.1.2 1 pi4 serial -\n"
			 "w8 1a2b3c4d 2c:cf:67:00:11:22 10.1.1.3 2 pi5 mac -\n"
			 "w9 5e6f7a8b d8:3a:dd:00:00:09 10.1.1.4 3 pi5 "
			 "str:rack1-n9 -\n"
			 "x 72616b31 - - 4 pi3b+ serial -\n");
	ck_assert_int_eq(pifs_registry_parse(&back, text, err, sizeof(err)), 0);
	free(text);
	ck_assert_uint_eq(back.count, 4);
	ck_assert_int_eq(back.workers[1].model, PIFS_MODEL_PI5);
	ck_assert_int_eq(back.workers[1].prefix, PIFS_PREFIX_MAC);
	ck_assert_str_eq(back.workers[2].prefix_str, "rack1-n9");
	pifs_registry_release(&reg);
	pifs_registry_release(&back);
}
END_TEST

/* The kernel each model loads, from config.txt. */
static const char *kern(enum pifs_model m, const char *cfg, char out[2][64],
			size_t *n)
{
	*n = pifs_model_kernels(m, cfg, cfg ? strlen(cfg) : 0, out);
	return out[0];
}

START_TEST(test_models_kernels)
{
	/* Raspberry Pi OS: no kernel=, the firmware's defaults per model */
	const char *rpios = "dtparam=audio=on\nauto_initramfs=1\n"
			    "arm_64bit=1\n[cm4]\notg_mode=1\n[cm5]\n"
			    "dtoverlay=dwc2,dr_mode=host\n[all]\n";
	char k[2][64];
	size_t n;

	ck_assert_str_eq(kern(PIFS_MODEL_PI5, rpios, k, &n), "kernel_2712.img");
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(k[1], "kernel8.img");
	ck_assert_str_eq(kern(PIFS_MODEL_PI4, rpios, k, &n), "kernel8.img");
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(kern(PIFS_MODEL_PI3BPLUS, rpios, k, &n), "kernel8.img");
	ck_assert_str_eq(kern(PIFS_MODEL_PI3BPLUS, NULL, k, &n), "kernel7.img");
	ck_assert_str_eq(kern(PIFS_MODEL_PI4, "arm_64bit=0\n", k, &n),
			 "kernel7l.img");
	/* pifs golden build / mkgolden: one kernel for every model */
	ck_assert_str_eq(kern(PIFS_MODEL_PI5, "# x\narm_64bit=1\n"
					     "kernel=kernel8.img\n", k, &n),
			 "kernel8.img");
	ck_assert_uint_eq(n, 1);
	/* model sections: only the model's own; other filters not followed */
	const char *mixed = "kernel=common.img\n[pi4]\nkernel=k4.img\n"
			    "[pi5]\nkernel=/k5.img\n[pi3+]\nkernel=k3.img\n"
			    "[gpio4=1]\nkernel=gpio.img\n[none]\n"
			    "kernel=none.img\n[all]\n";

	ck_assert_str_eq(kern(PIFS_MODEL_PI4, mixed, k, &n), "k4.img");
	ck_assert_str_eq(kern(PIFS_MODEL_PI5, mixed, k, &n), "k5.img");
	ck_assert_str_eq(kern(PIFS_MODEL_PI3BPLUS, mixed, k, &n), "k3.img");
	ck_assert_str_eq(kern(PIFS_MODEL_PI5, "[pi4]\nkernel=k4.img\n", k, &n),
			 "kernel_2712.img");
	ck_assert_str_eq(kern(PIFS_MODEL_PI5, "[cm5]\nkernel=cm.img\n[all]\n"
					     "  kernel=late.img  \r\n", k, &n),
			 "late.img");

	ck_assert_uint_eq(pifs_model_tftp_max(PIFS_MODEL_PI5),
			  (uint64_t)65535 * 1468);
	ck_assert_uint_eq(pifs_model_tftp_max(PIFS_MODEL_PI4),
			  (uint64_t)65535 * 1024);
	ck_assert_uint_eq(pifs_model_tftp_max(PIFS_MODEL_PI3BPLUS),
			  (uint64_t)65535 * 512);
	ck_assert_str_eq(pifs_model_boot_files(PIFS_MODEL_PI4)[0], "start4.elf");
	ck_assert_str_eq(pifs_model_boot_files(PIFS_MODEL_PI5)[1],
			 "bcm2712-rpi-5-b.dtb");
}
END_TEST

/* The "enrolled" flag (pifs enroll): parsed, written back, counted, and
 * the fields a boot request cannot tell allowed missing only with it. */
START_TEST(test_enrolled)
{
	static const char text[] =
	    "# pifs worker registry v2\n"
	    "next-id 5\n"
	    "worker-1 77b655ec b8:27:eb:b6:55:ec 10.1.1.1 1 pi3b+ serial -\n"
	    "worker-2 9ffefdef - 10.1.1.2 2 pi4 serial enrolled\n"
	    "worker-3 - dc:a6:32:01:36:c2 10.1.1.3 3 pi4 mac enrolled\n"
	    "worker-4 - 2c:cf:67:00:00:04 10.1.1.4 4 pi5 mac enrolled\n";
	struct pifs_registry reg;
	struct pifs_worker w;
	char err[160] = "", *out = NULL, name[PIFS_NAME_MAX + 1], ip[16];

	pifs_registry_init(&reg);
	ck_assert_int_eq(pifs_registry_parse(&reg, text, err, sizeof(err)), 0);
	ck_assert_uint_eq(reg.count, 4);
	ck_assert_uint_eq(reg.workers[0].flags, 0);
	ck_assert_uint_eq(reg.workers[1].flags, PIFS_WORKER_ENROLLED);
	ck_assert_str_eq(reg.workers[1].mac, "");
	ck_assert_str_eq(reg.workers[2].serial, "");
	ck_assert_uint_eq(pifs_registry_enrolled(&reg), 3);
	ck_assert_int_eq(pifs_registry_format(&reg, &out), 0);
	ck_assert_str_eq(out, text);
	free(out);
	/* two boards that enrolled by their MAC: no serial clash */
	ck_assert_ptr_null(pifs_registry_find_serial(&reg, ""));
	ck_assert_str_eq(pifs_registry_find_tftp_dir(&reg, "dc-a6-32-01-36-c2")
			     ->name, "worker-3");

	/* enrolment's choices: the lowest free name and address */
	pifs_registry_next_name(&reg, name, 1);
	ck_assert_str_eq(name, "worker-5");
	pifs_registry_next_name(&reg, name, 7);
	ck_assert_str_eq(name, "worker-7");
	ck_assert_int_eq(pifs_registry_free_ip(&reg, "10.1.1.1", "10.1.1.20",
					       ip), 0);
	ck_assert_str_eq(ip, "10.1.1.5");
	ck_assert_int_eq(pifs_registry_free_ip(&reg, "10.1.1.1", "10.1.1.4",
					       ip), -ENOSPC);
	ck_assert_int_eq(pifs_registry_free_ip(&reg, "10.1.1.9", "10.1.1.1",
					       ip), -EINVAL);

	/* accepting: the flag goes, and then the MAC is needed */
	w = reg.workers[1];
	w.flags = 0;
	ck_assert_int_eq(pifs_worker_check(&w, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "a pi4 needs its mac");
	snprintf(w.mac, sizeof(w.mac), "DC:A6:32:00:00:02");
	ck_assert_int_eq(pifs_worker_check(&w, err, sizeof(err)), 0);
	ck_assert_str_eq(w.mac, "dc:a6:32:00:00:02");
	/* an unknown flag bit is refused as the parser refuses its word */
	w.flags = 2;
	ck_assert_int_eq(pifs_worker_check(&w, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown flags 0x2");

	/* add keeps the flag and the missing serial of a MAC enrolment */
	w = mkworker("worker-5", "", "d8:3a:dd:00:00:05", "10.1.1.5");
	w.model = PIFS_MODEL_PI4;
	w.prefix = PIFS_PREFIX_MAC;
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "worker-5 needs its serial");
	w.flags = PIFS_WORKER_ENROLLED;
	ck_assert_int_eq(pifs_registry_add(&reg, &w, err, sizeof(err)), 0);
	ck_assert_uint_eq(pifs_registry_enrolled(&reg), 4);
	pifs_registry_release(&reg);
}
END_TEST

static Suite *registry_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_name_valid);
	tcase_add_test(tc, test_serial_mac_ip);
	tcase_add_test(tc, test_round_trip);
	tcase_add_loop_test(tc, test_parse_errors, 0,
			    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_add_validation);
	tcase_add_test(tc, test_add_duplicates);
	tcase_add_test(tc, test_ids_never_reused);
	tcase_add_test(tc, test_load_save);
	tcase_add_test(tc, test_models_prefixes);
	tcase_add_test(tc, test_add_models);
	tcase_add_test(tc, test_models_kernels);
	tcase_add_test(tc, test_enrolled);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(registry_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
