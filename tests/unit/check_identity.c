/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check_identity.c - the generated identity files: exact content for the
 * seed's worker-3 from a Raspberry Pi OS image's own files.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

static const struct pifs_identity w3 = { "worker-3", "8b07bcc6", "10.1.1.100" };

static char *gen(enum pifs_gen k, const char *golden)
{
	char *out;
	size_t len;

	ck_assert_int_eq(pifs_gen_content(k, &w3, golden, golden ? strlen(golden) : 0,
					  &out, &len), 0);
	ck_assert_uint_eq(len, strlen(out));
	return out;
}

START_TEST(test_cmdline)
{
	char *s = gen(PIFS_GEN_CMDLINE,
		      "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 "
		      "rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n");
	ck_assert_str_eq(s, "console=serial0,115200 console=tty1 quiet root=/dev/nfs "
			    "nfsroot=10.1.1.100:/nfsroot/worker-3,vers=3,tcp rw ip=dhcp rootwait\n");
	free(s);
	/* an image already set up for NFS: its own nfsroot/ip/rw are replaced */
	s = gen(PIFS_GEN_CMDLINE, "console=tty1 root=/dev/nfs nfsroot=1.2.3.4:/x ip=dhcp rw rootwait\nsecond line\n");
	ck_assert_str_eq(s, "console=tty1 root=/dev/nfs nfsroot=10.1.1.100:/nfsroot/worker-3,vers=3,tcp rw ip=dhcp rootwait\n");
	free(s);
	/* no golden cmdline.txt */
	s = gen(PIFS_GEN_CMDLINE, NULL);
	ck_assert_str_eq(s, "console=serial0,115200 console=tty1 root=/dev/nfs "
			    "nfsroot=10.1.1.100:/nfsroot/worker-3,vers=3,tcp rw ip=dhcp rootwait\n");
	free(s);
}
END_TEST

START_TEST(test_etc_files)
{
	char *s = gen(PIFS_GEN_HOSTNAME, "raspberrypi\n");

	ck_assert_str_eq(s, "worker-3\n");
	free(s);
	s = gen(PIFS_GEN_HOSTS, "127.0.0.1\tlocalhost\n::1\t\tlocalhost\n\n127.0.1.1\t\traspberrypi\n");
	ck_assert_str_eq(s, "127.0.0.1\tlocalhost\n::1\t\tlocalhost\n\n127.0.1.1\tworker-3\n"
			    "10.1.1.100\tpifs-master\n");
	free(s);
	s = gen(PIFS_GEN_FSTAB, "proc /proc proc defaults 0 0\n"
				"PARTUUID=4e639091-01  /boot/firmware  vfat    defaults 0 2\n"
				"  UUID=abcd / ext4 defaults 0 1\n"
				"tmpfs /tmp tmpfs defaults 0 0\n");
	ck_assert_str_eq(s, "proc /proc proc defaults 0 0\ntmpfs /tmp tmpfs defaults 0 0\n"
			    "# pifs: / is NFS from 10.1.1.100:/nfsroot/worker-3; /boot/firmware is part of it and\n"
			    "# is what the master serves this Pi over TFTP as /tftpboot/8b07bcc6/.\n");
	free(s);

	/* a Pi 4 or 5 on TFTP_PREFIX=2: fstab names its MAC directory */
	{
		struct pifs_identity w8 = { "worker-8", "1a2b3c4d", "10.1.1.100",
					    "2c-cf-67-00-11-22" };
		size_t len;

		ck_assert_int_eq(pifs_gen_content(PIFS_GEN_FSTAB, &w8, NULL, 0,
						  &s, &len), 0);
		ck_assert_ptr_nonnull(strstr(s, "over TFTP as "
						"/tftpboot/2c-cf-67-00-11-22/.\n"));
		free(s);
	}
}
END_TEST

START_TEST(test_machine_id)
{
	struct pifs_identity w1 = { "worker-1", "77b655ec", "10.1.1.100" };
	char *a = gen(PIFS_GEN_MACHINE_ID, NULL), *b = gen(PIFS_GEN_MACHINE_ID, NULL), *c;
	size_t len;

	ck_assert_uint_eq(strlen(a), 33);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 32);
	ck_assert_str_eq(a, b); /* stable */
	ck_assert_int_eq(pifs_gen_content(PIFS_GEN_MACHINE_ID, &w1, NULL, 0, &c, &len), 0);
	ck_assert_str_ne(a, c); /* unique */
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_kinds)
{
	ck_assert_int_eq(pifs_gen_kind("boot/firmware", "cmdline.txt"), PIFS_GEN_CMDLINE);
	ck_assert_int_eq(pifs_gen_kind("etc", "machine-id"), PIFS_GEN_MACHINE_ID);
	ck_assert_int_eq(pifs_gen_kind("etc", "passwd"), PIFS_GEN_NONE);
	ck_assert_int_eq(pifs_gen_kind("boot", "cmdline.txt"), PIFS_GEN_NONE);
	ck_assert_ptr_null(pifs_gen_names("usr")[0]);
	ck_assert_str_eq(pifs_gen_names("boot/firmware")[0], "cmdline.txt");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_cmdline);
	tcase_add_test(tc, test_etc_files);
	tcase_add_test(tc, test_machine_id);
	tcase_add_test(tc, test_kinds);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
