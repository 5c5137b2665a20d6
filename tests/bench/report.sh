# SPDX-License-Identifier: GPL-2.0-or-later
# report.sh - the table of bench.sh (sourced): medians of the repetitions
# per workload and peer, pifs's ratio to each peer (pifs / peer: below 1
# pifs is faster or smaller), and each issue target with "met"/"MISSED"
# (a note, never a failure).  Printed as a Markdown table (pasted into the
# README as it is) and written as TSV to $OUT:
#   # comment lines: the machine, versions, tree, date
#   section  case  label  unit  peer  n  median  min  max  runs(comma)
# where peer is plain, kovl, fovl, pifs (snapshot rows: plain = git CLI),
# or pifs/plain, pifs/kovl, pifs/fovl for the ratios of the medians.

machine_lines() {
	local cpu fs
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	fs=$(findmnt -no FSTYPE -T "$T" 2>/dev/null)
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(nproc) cores ($cpu), $(awk '/^MemTotal/ { printf "%d GiB", $2 / 1048576 + 0.5 }' /proc/meminfo), kernel $(uname -r), $fs on $(findmnt -no SOURCE -T "$T" 2>/dev/null)"
	echo "versions: $("$PIFSD" --version 2>/dev/null | head -1) ($(git -C "$PIFS_SRCDIR" describe --always --dirty 2>/dev/null || echo '?')); $(fuse-overlayfs --version 2>&1 | sed -n "s/^fuse-overlayfs: version /fuse-overlayfs /p"); $(fio --version 2>/dev/null); $(dnsmasq --version 2>/dev/null | head -1 | awk '{ print $1, $3 }')"
	echo "tree: $NENTRIES entries, $TREE_MIB MiB ($([ "$TINY" = 1 ] && echo "tiny, generated" || echo "Debian bookworm arm64, tests/bench/mktree.sh")); repetitions: $REPS (TFTP, snapshot: $SLOW_REPS), shuffled; cold = drop_caches$([ "$DROP" = 1 ] || echo ' DISABLED (PIFS_BENCH_DROP=0)')"
}

report() {
	machine_lines >"$T/machine"
	perl -e '
use strict; use warnings;
my ($cases, $raw, $machine, $out, $setmib, $vmax) = @ARGV;
my @peers = qw(plain kovl fovl pifs);
my (%v, @order, %c);
open my $fh, "<", $raw or die; while (<$fh>) { chomp; my ($k, $p, $r, $x) = split /\t/;
	next unless defined $x && $x =~ /^-?[0-9.]+$/; push @{$v{$k}{$p}}, $x } close $fh;
open $fh, "<", $cases or die; while (<$fh>) { chomp; my ($k, $s, $u, $t, $l) = split /\t/;
	next if $c{$k}; push @order, $k; $c{$k} = { s => $s, u => $u, t => $t, l => $l } } close $fh;
sub median { my @a = sort { $a <=> $b } @_; return undef unless @a; my $n = @a;
	return $n % 2 ? $a[$n / 2] : ($a[$n / 2 - 1] + $a[$n / 2]) / 2 }
my %m;
for my $k (keys %v) { for my $p (keys %{$v{$k}}) { $m{$k}{$p} = median(@{$v{$k}{$p}}) } }
# derived: page-cache growth per extra view, % of the boot set
if ($c{"views-per-view"} && $vmax > 1) {
	for my $p (@peers) {
		my ($a, $b) = ($m{"views-$vmax-cache"}{$p}, $m{"views-1-cache"}{$p});
		next unless defined $a && defined $b && $setmib > 0;
		$m{"views-per-view"}{$p} = ($a - $b) / ($vmax - 1) / $setmib * 100;
		$v{"views-per-view"}{$p} = [ $m{"views-per-view"}{$p} ];
	}
}
sub fmt { my $x = shift; return "-" unless defined $x;
	return sprintf(abs($x) >= 100 ? "%.0f" : abs($x) >= 10 ? "%.1f" : "%.2f", $x) }
sub ratio { my ($k, $p) = @_; my ($a, $b) = ($m{$k}{pifs}, $m{$k}{$p});
	return undef unless defined $a && defined $b && $b > 0; return $a / $b }
sub verdict { my $k = shift; my $t = $c{$k}{t}; my $x;
	if ($t =~ /^(<=?)([0-9.]+)x (ovl|fovl|plain)$/) {
		my %p = (ovl => "kovl", fovl => "fovl", plain => "plain");
		$x = ratio($k, $p{$3}); return "" unless defined $x;
		return ($1 eq "<" ? $x < $2 : $x <= $2) ? "met" : "MISSED" }
	if ($t =~ /^<([0-9.]+)/) { $x = $m{$k}{pifs}; return "" unless defined $x; return $x < $1 ? "met" : "MISSED" }
	return "" }
open my $o, ">", $out or die "cannot write $out: $!";
open $fh, "<", $machine or die; my @mach = <$fh>; close $fh;
print $o "# $_" for @mach;
print $o join("\t", qw(section case label unit peer n median min max runs)), "\n";
print "\n";
print "$_" for @mach;
print "\n| workload | unit | plain | overlayfs | fuse-ovl | pifs | pifs/plain | pifs/ovl | pifs/fovl | target |\n";
print "|---|---|--:|--:|--:|--:|--:|--:|--:|---|\n";
my $sec = "";
for my $k (@order) {
	my $c = $c{$k};
	my @row = ($c->{l}, $c->{u});
	push @row, map { fmt($m{$k}{$_}) } @peers;
	push @row, map { my $x = ratio($k, $_); defined $x ? sprintf("%.2f", $x) : "-" } qw(plain kovl fovl);
	my $t = $c->{t} eq "-" ? "" : $c->{t}; my $vd = verdict($k);
	push @row, $t . ($vd ne "" ? " $vd" : "");
	if ($c->{s} ne $sec) { $sec = $c->{s}; }
	print "| ", join(" | ", map { s/\|/\\|/gr } @row), " |\n";
	for my $p (@peers) {
		my @x = @{$v{$k}{$p} // []};
		next unless @x;
		my @s = sort { $a <=> $b } @x;
		print $o join("\t", $c->{s}, $k, $c->{l}, $c->{u}, $p, scalar(@x), $m{$k}{$p}, $s[0], $s[-1], join(",", @x)), "\n";
	}
	for my $p (qw(plain kovl fovl)) {
		my $x = ratio($k, $p); next unless defined $x;
		print $o join("\t", $c->{s}, $k, $c->{l}, "ratio", "pifs/$p", 1, sprintf("%.4f", $x), "", "", ""), "\n";
	}
}
close $o;
print "\nTimes are medians; pifs/X = pifs time / X time (below 1: pifs faster).\n";
' "$CASES" "$RAW" "$T/machine" "$OUT" "$(awk -v b="$BOOTSET_BYTES" 'BEGIN { print b / 1048576 }')" "$VMAX"
	echo "TSV: $OUT"
}
