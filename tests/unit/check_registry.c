/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_registry.c - the worker registry: field validation, the strict
 * parser and its error messages, format/parse round trip, duplicate
 * detection on add, view ids never reused, and load/save on disk.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry.h"
#include "safeio.h"

static const char example[] =
    "# pifs worker registry v1\n"
    "next-id 4\n"
    "worker-1 77b655ec b8:27:eb:b6:55:ec 10.1.1.1 1\n"
    "worker-3 8b07bcc6 b8:27:eb:07:bc:c6 10.1.1.2 3\n";

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
	ck_assert_int_eq(pifs_registry_format(&reg, &out), 0);
	ck_assert_str_eq(out, example);
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
	ck_assert_str_eq(out, "# pifs worker registry v1\n"
			      "next-id 3\n"
			      "aa 00000002 - 10.1.1.9 1\n"
			      "zz 00000001 - - 2\n");
	free(out);

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
    {"# something else\nnext-id 1\n", "line 1: not a pifs worker registry v1"},
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
			 "# pifs worker registry v1\nnext-id 2\n"
			 "worker-1 77b655ec b8:27:eb:b6:55:ec 10.1.1.1 1\n");
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
