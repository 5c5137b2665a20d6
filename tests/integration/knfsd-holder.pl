# SPDX-License-Identifier: GPL-2.0-or-later
# knfsd-holder.pl - a process on a worker's kernel NFS mount that holds
# what a running worker holds: open files, open directories and its cwd,
# for t-knfsd-restart.sh.  One command a line on stdin, one answer a line
# on stdout: "ok ..." or "err ENAME" (ESTALE, EIO, ...).
#   open N PATH r|rw|c   c: create/truncate, read-write
#   read N OFF LEN       ok LEN BYTES
#   write N OFF DATA     ok LEN
#   fsync N | fstat N    ok | ok size=S ino=I
#   opendir N PATH       hold a directory open
#   readdir N            rewinddir and read it: ok NAME... (sorted)
#   chdir PATH | ls      ls: readdir of ".": ok NAME... (sorted)
#   cat PATH             ok FIRST-LINE (relative to the cwd)
#   quit
use strict;
use warnings;
use Errno;
use Fcntl qw(O_RDONLY O_RDWR O_CREAT O_TRUNC SEEK_SET);
use IO::Handle;

$| = 1;
my (%fh, %dh);
sub err { my ($n) = grep { $!{$_} } keys %!; return "err " . ($n // "E?($!)"); }
sub names { return join(" ", sort grep { $_ ne "." && $_ ne ".." } @_); }

while (my $line = <STDIN>) {
	chomp $line;
	my ($cmd, @a) = split / /, $line, 4;
	my $r;
	if ($cmd eq "open") {
		my %m = (r => O_RDONLY, rw => O_RDWR, c => O_RDWR | O_CREAT | O_TRUNC);
		$r = sysopen($fh{$a[0]}, $a[1], $m{$a[2]}, 0644) ? "ok" : err();
	} elsif ($cmd eq "read") {
		my $buf = "";
		my $n = sysseek($fh{$a[0]}, $a[1], SEEK_SET) ? sysread($fh{$a[0]}, $buf, $a[2]) : undef;
		$buf =~ s/\n/\\n/g;
		$r = defined $n ? "ok $n $buf" : err();
	} elsif ($cmd eq "write") {
		my $n = sysseek($fh{$a[0]}, $a[1], SEEK_SET) ? syswrite($fh{$a[0]}, $a[2]) : undef;
		$r = defined $n ? "ok $n" : err();
	} elsif ($cmd eq "fsync") {
		$r = $fh{$a[0]}->sync ? "ok" : err();
	} elsif ($cmd eq "fstat") {
		my @st = stat($fh{$a[0]});
		$r = @st ? "ok size=$st[7] ino=$st[1]" : err();
	} elsif ($cmd eq "opendir") {
		$r = opendir($dh{$a[0]}, $a[1]) ? "ok" : err();
	} elsif ($cmd eq "readdir") {
		$! = 0;
		rewinddir($dh{$a[0]});
		my @n = readdir($dh{$a[0]});
		$r = $! ? err() : "ok " . names(@n);
	} elsif ($cmd eq "chdir") {
		$r = chdir($a[0]) ? "ok" : err();
	} elsif ($cmd eq "ls") {
		my $d;
		$r = opendir($d, ".") ? "ok " . names(readdir($d)) : err();
	} elsif ($cmd eq "cat") {
		my $f;
		if (open($f, "<", $a[0])) {
			my $l = <$f> // "";
			chomp $l;
			$r = "ok $l";
		} else {
			$r = err();
		}
	} elsif ($cmd eq "quit") {
		print "ok\n";
		last;
	} else {
		$r = "err unknown command '$cmd'";
	}
	print "$r\n";
}
