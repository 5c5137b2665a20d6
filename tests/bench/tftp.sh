# SPDX-License-Identifier: GPL-2.0-or-later
# tftp.sh - section 6 of bench.sh (sourced): the TFTP boot replay.  Real
# dnsmasq, configured by `pifs dnsmasq-conf`, serves DHCP and TFTP inside
# a network namespace (pifsbench-m-PID, 10.1.1.100/24 on a veth), and the
# Pi 3B+ boot-ROM simulator (tests/tools/bootrom, the recipe of
# t-boot-rom.sh) boots 1 and then N Pis at once from a second namespace
# (pifsbench-w-PID, one macvlan per Pi): once from pifs's tftpboot/, once
# from a plain directory with the same files (bootcode.bin, and per serial
# a copy of the worker's boot/firmware with its generated cmdline.txt;
# the serials' identical files are hard links, so the plain directory is
# served from one page-cache copy, as pifs serves the golden's).
#
# Measured: the firmware phase, from the first Pi's second OFFER (the one
# bootcode.bin asks for; then come start.elf ... kernel8.img from
# <serial>/, 13 MiB of the 15 MiB fetched) to the last Pi's last byte, so
# the DHCP waits are not part of it: the simulator's stdout lines are
# time-stamped as they come.  The generated configuration is used without
# its dhcp-reply-delay=1 (for the real ROM): single-threaded dnsmasq
# stalls every transfer while it delays a reply, which would make the
# concurrent boots measure DHCP timing, not TFTP serving.
# Every server is stopped by PID, the namespaces are removed on exit.
# Processes enter the namespaces with `nsenter --net`, not `ip netns
# exec`: that one also makes a private mount namespace holding a copy of
# every mount of the moment, so a FUSE mount of a test running alongside
# would live on (and its daemon never end) until dnsmasq exits.

tftp_replay() {
	local nsm=pifsbench-m-$$ nsw=pifsbench-w-$$ vm=pbm$$ vw=pbw$$ nmax=0 n k s r p dp
	local net_pids=()
	for n in $TFTP_PIS; do
		[ "$n" -gt "$nmax" ] && nmax=$n
		declare_case "tftp-$n" "6 tftp" ms "<=1.1x plain" "TFTP boot replay (dnsmasq), firmware phase, $n Pi(s) at once"
	done
	echo "bench: section 6, TFTP boot replay"
	ip netns add "$nsm" || { warn "cannot make a network namespace"; return; }
	NETNS+=("$nsm")
	ip netns add "$nsw" || { warn "ip netns add $nsw"; return; }
	NETNS+=("$nsw")
	ip link add "$vm" netns "$nsm" type veth peer name "$vw" netns "$nsw" || { warn "cannot make a veth pair"; return; }
	ip -n "$nsm" addr add 10.1.1.100/24 dev "$vm"
	ip -n "$nsm" link set lo up
	ip -n "$nsm" link set "$vm" up
	ip -n "$nsw" link set lo up
	ip -n "$nsw" link set "$vw" up
	for k in all default; do
		nsenter --net="/run/netns/$nsw" sysctl -qw "net.ipv4.conf.$k.arp_ignore=1" "net.ipv4.conf.$k.arp_announce=2" \
			"net.ipv4.conf.$k.rp_filter=0" >/dev/null
	done
	serial() { printf 'b0%06x' "$1"; }
	pi_mac() { echo "b8:27:eb:${1:2:2}:${1:4:2}:${1:6:2}"; }
	for k in $(seq 1 "$nmax"); do
		s=$(serial "$k")
		ip -n "$nsw" link add link "$vw" name "pi$s" type macvlan mode bridge &&
			ip -n "$nsw" link set "pi$s" address "$(pi_mac "$s")" &&
			ip -n "$nsw" link set "pi$s" up || { warn "macvlan for $s"; return; }
	done

	# The plain directory: what the tftpboot view shows, copied once.
	local plain=$T/tftp-plain first
	mkdir -p "$plain"
	cp "$T/pifs/tftpboot/bootcode.bin" "$plain/" || { warn "no bootcode.bin in tftpboot/"; return; }
	first=$(serial 1)
	cp -r "$T/pifs/tftpboot/$first" "$plain/$first" || { warn "cannot copy tftpboot/$first"; return; }
	for k in $(seq 2 "$nmax"); do
		s=$(serial "$k")
		cp -al "$plain/$first" "$plain/$s"
		rm -f "$plain/$s/cmdline.txt"
		cp "$T/pifs/tftpboot/$s/cmdline.txt" "$plain/$s/cmdline.txt"
	done
	chmod -R a+rX "$plain"

	# tftp_root PEER
	tftp_root() { [ "$1" = plain ] && echo "$plain" || echo "$T/pifs/tftpboot"; }

	for r in $(seq 1 "$SLOW_REPS"); do
		for p in $(printf '%s\n' plain pifs | shuf); do
			"$PIFS" --store "$T/store" dnsmasq-conf --interface "$vm" --tftp-root "$(tftp_root "$p")" \
				--log-facility "$T/dnsmasq.log" 2>"$T/conf.err" | grep -v '^dhcp-reply-delay=' >"$T/dnsmasq.conf"
			[ -s "$T/dnsmasq.conf" ] || { cat "$T/conf.err"; warn "pifs dnsmasq-conf"; return; }
			: >"$T/dnsmasq.log"
			rm -f "$T/dnsmasq.leases"
			nsenter --net="/run/netns/$nsm" dnsmasq --conf-file="$T/dnsmasq.conf" --keep-in-foreground \
				--pid-file="$T/dnsmasq.pid" --dhcp-leasefile="$T/dnsmasq.leases" >"$T/dnsmasq.out" 2>&1 &
			dp=$!
			PIDS+=("$dp")
			for _ in $(seq 1 100); do
				grep -q 'TFTP root is' "$T/dnsmasq.log" 2>/dev/null && break
				kill -0 "$dp" 2>/dev/null || break
				sleep 0.05
			done
			grep -q 'TFTP root is' "$T/dnsmasq.log" 2>/dev/null ||
				{ cat "$T/dnsmasq.out" "$T/dnsmasq.log"; warn "dnsmasq did not start"; return; }
			for n in $(printf '%s\n' $TFTP_PIS | shuf); do
				local pids=()
				for k in $(seq 1 "$n"); do
					s=$(serial "$k")
					rm -rf "$T/rom/$s"
					mkdir -p "$T/rom/$s"
					(nsenter --net="/run/netns/$nsw" "$BOOTROM" --iface "pi$s" --mac "$(pi_mac "$s")" --serial "$s" \
						--out "$T/rom/$s" --timeout 120 --interval 1500 --tries 5 --gap 0 --assign-address |
						perl -MTime::HiRes=time -ne '$| = 1; printf "%.6f %s", time, $_' >"$T/rom/$s.out") &
					pids+=("$!")
				done
				PIDS+=("${pids[@]}")
				for k in "${pids[@]}"; do
					for _ in $(seq 1 1300); do kill -0 "$k" 2>/dev/null || break; sleep 0.1; done
					wait "$k" 2>/dev/null
				done
				local ok=1
				for k in $(seq 1 "$n"); do
					s=$(serial "$k")
					grep -q ' boot complete$' "$T/rom/$s.out" && cmp -s "$T/rom/$s/$s/kernel8.img" "$plain/$s/kernel8.img" ||
						{ ok=0; tail -3 "$T/rom/$s.out" >&2; }
				done
				if [ $ok = 1 ]; then
					record "tftp-$n" "$p" "$r" "$(for k in $(seq 1 "$n"); do echo "$T/rom/$(serial "$k").out"; done |
						xargs awk 'FNR == 1 { o = 0 } $2 == "offer" { o++ }
						     $2 == "offer" && o == 2 && (s == "" || $1 < s) { s = $1 }
						     $2 == "boot" && $3 == "complete" && $1 > e { e = $1 }
						     END { printf "%.1f", (e - s) * 1000 }')"
				else
					warn "tftp-$n on $p: a Pi did not boot"
				fi
			done
			kill "$dp" 2>/dev/null
			for _ in $(seq 1 50); do kill -0 "$dp" 2>/dev/null || break; sleep 0.1; done
			wait "$dp" 2>/dev/null
		done
	done
}
