#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What the kernel caches for pifs, checked as a user sees it.
# Directory listings without OPENDIR (fs/listings.c): the kernel caches
# each listing and opens directories without asking pifsd:
#  - nfsroot/ and tftpboot/, which change under the kernel, list a worker
#    added or removed at once, and tftpboot/ a worker's new boot files;
#    the kernel also caches nfsroot/'s attributes and the names in it,
#    and a removed worker's name goes at once (pifs worker remove) or
#    within moments (any other writer of the registry: pifsd watches it);
#  - a view's directory shows every change at the next listing
#    (rewinddir), through the kernel's cache;
#  - one directory stream is stable while the directory changes: every
#    entry that is there throughout is seen exactly once, and
#    telldir/seekdir go back to the same entry;
#  - more directory streams at once than pifsd keeps listings for still
#    list every entry exactly once.
# Symlink targets (FUSE_CAP_CACHE_SYMLINKS): a symlink replaced, removed
# and brought back by a reset reads its own target each time.
. "$(dirname "$0")/lib.sh"
setup
make_store
M=$T/mnt
mount_pifs "$T/store" "$M"
W="$PIFS --store $T/store worker"
W1=$M/nfsroot/worker-1

lsj() { ls -a "$1" | tr '\n' ' ' | sed 's/ $//'; }

# --- the static directories ------------------------------------------
expect_eq "nfsroot lists the workers" ". .. worker-1 worker-3" "$(lsj "$M/nfsroot")"
expect_eq "tftpboot lists the serials" ". .. 77b655ec 8b07bcc6 bootcode.bin" "$(lsj "$M/tftpboot")"
stat "$M/nfsroot" >/dev/null; lsj "$M/nfsroot" >/dev/null # surely from the cache now
$W add worker-7 --serial 7777aaaa >/dev/null || fail "worker add worker-7"
expect_eq "a worker added shows in nfsroot at once" ". .. worker-1 worker-3 worker-7" "$(lsj "$M/nfsroot")"
expect_eq "and in tftpboot" ". .. 7777aaaa 77b655ec 8b07bcc6 bootcode.bin" "$(lsj "$M/tftpboot")"
# The kernel caches the names in nfsroot/ (and nfsroot/'s attributes):
# a removed worker's name must go at once all the same.
echo seven > "$M/nfsroot/worker-7/etc/hostname" || fail "write through worker-7"
expect_eq "worker-7 reads back through its cached name" seven "$(cat "$M/nfsroot/worker-7/etc/hostname")"
$W remove worker-7 --force >/dev/null || fail "worker remove worker-7"
expect_eq "a worker removed leaves nfsroot at once" ". .. worker-1 worker-3" "$(lsj "$M/nfsroot")"
if [ -e "$M/nfsroot/worker-7" ]; then fail "nfsroot/worker-7 still resolves after worker remove"
else ok "nfsroot/worker-7 no longer resolves"; fi
expect_eq "and tftpboot" ". .. 77b655ec 8b07bcc6 bootcode.bin" "$(lsj "$M/tftpboot")"
expect_eq "nfsroot's link count follows" 4 "$(stat -c %h "$M/nfsroot")"
# Any other writer of the registry (here a hand edit renamed into place):
# pifsd watches the file and tells the kernel within moments.
$W add worker-8 --serial 8888aaaa >/dev/null || fail "worker add worker-8"
cat "$M/nfsroot/worker-8/etc/hostname" >/dev/null || fail "read through worker-8"
grep -v '^worker-8 ' "$T/store/workers" > "$T/store/workers.edit" &&
	mv "$T/store/workers.edit" "$T/store/workers" || fail "hand edit of the registry"
for _ in $(seq 1 100); do [ -e "$M/nfsroot/worker-8" ] || break; sleep 0.05; done
if [ -e "$M/nfsroot/worker-8" ]; then fail "nfsroot/worker-8 still resolves 5 s after the registry lost it"
else ok "a worker removed by hand from the registry leaves nfsroot"; fi
expect_eq "and its listing" ". .. worker-1 worker-3" "$(lsj "$M/nfsroot")"
before=$(lsj "$M/tftpboot/77b655ec")
echo 'dtoverlay=x' > "$W1/boot/firmware/extra.txt"
expect_eq "tftpboot/<serial> lists a boot file the worker wrote" "$(ls -a "$W1/boot/firmware" | tr '\n' ' ' | sed 's/ $//')" "$(lsj "$M/tftpboot/77b655ec")"
case " $(lsj "$M/tftpboot/77b655ec") " in
*" extra.txt "*) ok "extra.txt listed in tftpboot/77b655ec" ;;
*) fail "tftpboot/77b655ec still lists '$before'" ;;
esac
rm "$W1/boot/firmware/extra.txt"
case " $(lsj "$M/tftpboot/77b655ec") " in
*" extra.txt "*) fail "tftpboot/77b655ec lists a removed file" ;;
*) ok "a removed boot file leaves tftpboot/77b655ec" ;;
esac

# --- a view's directory ------------------------------------------------
D=$W1/big
mkdir "$D"
for i in $(seq 1 1500); do : > "$D/file-$i"; done
expect_eq "1500 files listed" 1502 "$(ls -a "$D" | wc -l)"
expect_eq "listed again (from the kernel's cache)" 1502 "$(ls -a "$D" | sort -u | wc -l)"
rm "$D/file-7"
: > "$D/new-one"
out=$(ls -a "$D")
grep -qx file-7 <<<"$out" && fail "a removed file is still listed"
grep -qx new-one <<<"$out" && ok "the next listing shows a create and a remove" || fail "new file not listed"
expect_eq "the golden's etc listed the same through two workers" "$(ls -a "$M/nfsroot/worker-3/etc" | sort)" "$(ls -a "$W1/etc" | sort)"

# One stream while the directory changes (perl: opendir/readdir/
# telldir/seekdir/rewinddir).  The change just before makes the kernel
# drop its cached listing, so the stream reads from pifsd, which must keep
# the listing it began with.
: > "$D/new-two"
perl -e '
	my ($d) = @ARGV;
	my %seen; my $n = 0; my ($pos, $at);
	opendir(my $h, $d) or die "opendir: $!";
	while (defined(my $e = readdir($h))) {
		$seen{$e}++;
		$n++;
		if ($n == 300) {
			# Change the directory mid-stream: remove names not yet
			# read and already read, add new ones.
			for my $i (1000 .. 1100, 2 .. 40) { unlink "$d/file-$i" }
			for my $i (1 .. 200) { open(my $f, ">", "$d/added-$i") or die; close $f }
			$pos = telldir($h);
			$at = readdir($h);
			$seen{$at}++;
		}
	}
	my @twice = grep { $seen{$_} > 1 } keys %seen;
	die "seen twice: @twice[0..(@twice > 5 ? 4 : $#twice)]\n" if @twice;
	# Every name there from start to end, exactly once.
	for my $i (1 .. 1500) {
		next if $i == 7 || ($i >= 1000 && $i <= 1100) || ($i >= 2 && $i <= 40);
		die "file-$i lost\n" unless $seen{"file-$i"};
	}
	die "new-one lost\n" unless $seen{"new-one"} && $seen{"new-two"};
	seekdir($h, $pos);
	my $again = readdir($h);
	die "seekdir went to \"$again\", not \"$at\"\n" unless $again eq $at;
	rewinddir($h);
	my %now; while (defined(my $e = readdir($h))) { $now{$e}++ }
	die "rewinddir: removed file-1050 still listed\n" if $now{"file-1050"};
	die "rewinddir: added-200 not listed\n" unless $now{"added-200"};
	my $c = keys %now;
	# 1500 files, "." and "..", less file-7 and plus new-one and new-two
	# before the stream; less 101 + 38 (file-7 went before), plus 200
	# during it.
	my $want = 1503 - 101 - 38 + 200;
	die "rewinddir: $c names, expected $want\n" if $c != $want;
	print "ok\n";
' "$D" >"$T/stream.out" 2>&1
expect_eq "one stream stays whole while its directory changes" ok "$(cat "$T/stream.out")"

# More streams at once than listings kept (64): 80 directories never
# listed before (so not in the kernel's cache), each read part way, then
# all to the end.
for i in $(seq 1 80); do
	mkdir "$W1/many-$i"
	for j in $(seq 1 150); do : > "$W1/many-$i/entry-name-$j"; done
done
perl -e '
	my ($base) = @ARGV;
	my (@h, @seen);
	for my $i (1 .. 80) {
		opendir($h[$i], "$base/many-$i") or die "opendir many-$i: $!";
		$seen[$i] = {};
		for (1 .. 20) { my $e = readdir($h[$i]); $seen[$i]{$e}++ }
	}
	for my $i (1 .. 80) {
		while (defined(my $e = readdir($h[$i]))) { $seen[$i]{$e}++ }
		my @twice = grep { $seen[$i]{$_} > 1 } keys %{$seen[$i]};
		die "many-$i: seen twice: @twice\n" if @twice;
		my $c = keys %{$seen[$i]};
		die "many-$i: $c names, expected 152\n" if $c != 152;
	}
	print "ok\n";
' "$W1" >"$T/many.out" 2>&1
expect_eq "80 directory streams at once each list 152 names once" ok "$(cat "$T/many.out")"

# Symlinks: cached by the kernel, never stale.
ln -s target-one "$W1/link"
expect_eq "readlink" target-one "$(readlink "$W1/link")"
expect_eq "readlink again (cached)" target-one "$(readlink "$W1/link")"
ln -s target-two "$W1/link.new" && mv -T "$W1/link.new" "$W1/link"
expect_eq "a symlink replaced by rename reads its new target" target-two "$(readlink "$W1/link")"
rm "$W1/link" && ln -s target-three "$W1/link"
expect_eq "removed and made again" target-three "$(readlink "$W1/link")"
gl=$(cd "$T/golden" && find . -type l | sort | head -1)
[ -n "$gl" ] || fail "the test golden has no symlink"
expect_eq "a golden symlink ($gl)" "$(readlink "$T/golden/$gl")" "$(readlink "$W1/$gl")"
"$PIFS" --store "$T/store" snapshot worker-1 >/dev/null || fail "snapshot worker-1"
rm "$W1/link" && ln -s target-four "$W1/link"
expect_eq "before the reset" target-four "$(readlink "$W1/link")"
out=$("$PIFS" --store "$T/store" reset worker-1 --force 2>&1) || fail "reset worker-1 to its snapshot: $out"
expect_eq "a reset brings back the snapshot's target" target-three "$(readlink "$W1/link")"

# A listing survives a reset: the kernel's cached one is dropped.
out=$("$PIFS" --store "$T/store" reset worker-1 --golden --force 2>&1) || fail "reset worker-1: $out"
[ -e "$W1/big" ] && fail "big/ still there after reset" || ok "reset: big/ gone"
case " $(lsj "$W1") " in
*" big "* | *" many-1 "*) fail "the view root still lists big/ after reset" ;;
*) ok "the view root's listing follows the reset" ;;
esac
expect_eq "the view root lists the golden's" "$(ls -a "$T/golden" | sort | tr '\n' ' ')" "$(ls -a "$W1" | sort | tr '\n' ' ')"

umount_pifs "$M"
finish
