# SPDX-License-Identifier: GPL-2.0-or-later
# posix-ops.sh - the POSIX workload t-posix.sh runs, in the current
# directory, once on a plain copy of the golden and once on a pifs view.
# Every step must behave the same on both; the resulting trees are then
# compared entry by entry.  Runs under `set -e`: any step failing on one
# side only is a test failure.
set -eu
# read / write / create flavours
echo "new file" > root/new.txt
echo "appended" >> etc/motd                       # O_APPEND on a golden file
: > var/log/syslog                                 # O_TRUNC on a golden file
( set -C; echo x > etc/hostname ) 2>/dev/null && exit 91 || true   # O_EXCL on an existing file
( set -C; echo excl > root/excl.txt )              # O_EXCL on a new file
printf 'abc' | dd of=home/pi/hello.txt bs=1 seek=6 conv=notrunc status=none  # overwrite in place
# directories
mkdir -p srv/a/b/c
rmdir srv/empty
rm -r usr/share/doc/pkg3
mkdir usr/share/doc/pkg3                           # re-created golden dir: opaque
echo mine > usr/share/doc/pkg3/README
# unlink
rm etc/apt/sources.list root/excl.txt
# renames: files, over an existing target, and golden directories (no EXDEV)
mv etc/hosts etc/hosts.orig
mv etc/hostname etc/os-release                     # over an existing (symlink) target
mv usr/share/doc usr/share/doc-moved               # a golden directory with 40 subdirs
echo changed >> usr/share/doc-moved/pkg7/copyright # write inside the moved dir
mv usr/share/doc-moved/pkg9 srv/pkg9               # a golden subdir to another parent
mkdir usr/share/doc                                # a new dir where the old one was
mv srv/a srv/renamed-new-dir
mkdir srv/target-empty; mv srv/renamed-new-dir srv/target-empty  # dir over an empty dir (mv moves into)
mv -T srv/pkg9 usr/share/doc                       # dir over an empty dir (rename(2) over it)
# hard links, to golden files too, and the golden's own link group
ln home/pi/hello.txt home/pi/hello-link
ln etc/motd root/motd-link
echo more >> usr/bin/perl                          # perl5.36.0 is the same inode
# symlinks, including ones pointing out of the tree
ln -s /etc/shadow root/evil
ln -s ../../../../../../ root/up
ln -s dangling root/dangling
# hard links to symlinks (dpkg and maintainer scripts make them): a new
# one, and a golden one (usr/bin/sh -> bash), which copies it up
ln -s t root/sl && ln -P root/sl root/sl-hard
ln -P usr/bin/sh root/sh-hard
# attributes
chmod 4755 root/new.txt
chmod 1777 srv/renamed-new-dir 2>/dev/null || chmod 1777 srv/target-empty
chown 1000:1000 etc/motd
chown -h 1000:1000 usr/bin/sh
touch -d '2024-02-29 12:34:56.123456789' home/pi/hello.txt
touch -h -d '2023-01-01 00:00:00.5' root/evil
touch -a -d '2020-01-01' etc/passwd
# truncate / ftruncate / fallocate
truncate -s 100 usr/bin/bash
truncate -s 0 usr/bin/ping
fallocate -l 1M root/falloc
fallocate -p -o 4096 -l 8192 usr/bin/perl5.36.0 2>/dev/null || true
# device nodes, fifos, sockets
mknod dev/sda b 8 0
mknod dev/ttyS0 c 4 64
mkfifo run/fifo
perl -e 'use Socket; socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die; bind($s, pack_sockaddr_un("run/sock")) or die "$!"'
rm dev/null; mknod dev/null c 1 3; chmod 666 dev/null
# extended attributes, including the file capability ping needs
setfattr -n user.note -v hello root/new.txt
setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 root/new.txt
setfattr -x user.pifs-demo usr/bin/perl
setfattr -n user.dir -v d srv
# sparse files and files over 4 GiB
truncate -s 6G root/big
printf 'past-4G' | dd of=root/big bs=1 seek=$((5 << 30)) conv=notrunc status=none
printf 'tail' | dd of=var/lib/sparse.img bs=1 seek=$((3 << 30)) conv=notrunc status=none
# fsync and fdatasync
dd if=/dev/zero of=root/synced bs=4k count=4 conv=fsync status=none
dd if=/dev/zero of=root/dsynced bs=4k count=4 conv=fdatasync status=none
sync root/new.txt
# odd names
echo nl > "root/$(printf 'new\nline')"
echo sp > "root/ space -dash"
echo bin > "root/$(printf '\x01\xff\xfe')"
