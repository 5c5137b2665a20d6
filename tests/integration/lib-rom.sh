# SPDX-License-Identifier: GPL-2.0-or-later
# lib-rom.sh - the seed's boot network on one machine, sourced after
# lib.sh: a master namespace (10.1.1.100/24 on a veth) running real dnsmasq
# configured by `pifs dnsmasq-conf`, and a Pis' namespace with one macvlan
# per Pi (its Pi 3 MAC) where tests/tools/bootrom plays the Pi's boot ROM.
#
# Network: only inside the namespaces made here (pifsm-PID, pifsw-PID and
# for rom_router pifsr-PID); the veth is created directly inside them, the
# host never sees it; dnsmasq binds only that veth, port=0 (no DNS;
# --proxy leaves DNS on, inside the namespace).  rom_cleanup stops every
# process started here by PID and deletes the namespaces; a scenario calls
# it from its EXIT trap (before lib.sh's cleanup, which unmounts).
# Processes enter a namespace with nsenter --net, not `ip netns exec`:
# that one also gives them a mount namespace holding a copy of every mount
# on the machine, and a copy of another test's FUSE mount keeps its daemon
# alive after that test unmounts it.
#
#   rom_net_up                  the two namespaces; skips (77) without ip
#                               netns, dnsmasq or bootrom
#   rom_dnsmasq STORE TFTPROOT [ARGS]
#                               dnsmasq in the master namespace, its config
#                               from `pifs dnsmasq-conf ARGS` (e.g.
#                               --proxy), log $T/dnsmasq.log
#   rom_router HOST...          a LAN's own DHCP server (a home router): a
#                               third namespace (pifsr-PID) on the Pis'
#                               segment, 10.1.1.254, plain dnsmasq DHCP
#                               (range 10.1.1.50-60, each HOST a dhcp-host
#                               MAC,IP reservation), log $T/router.log;
#                               stopped by rom_cleanup like the rest
#   rom_add_pi SERIAL [MAC]     a macvlan pi<SERIAL> with the Pi's MAC
#                               (default: the Pi 3 one of SERIAL)
#   rom_boot SERIAL [ARGS]      the ROM simulator in the background ($! is
#                               its pid), files to $T/out-SERIAL/, ARGS
#                               passed on (--model pi4, --tftp-prefix ...)
#   rom_wait PID                its exit status, bounded
#   pi_mac SERIAL               the Pi 3 MAC of SERIAL (b8:27:eb:...)
#   rom_worker STORE NAME SERIAL IP MODEL MAC PREFIX
#                               `pifs worker add` for a board of MODEL
#                               (pi3b+|pi4|pi5) with its MAC and TFTP_PREFIX
#                               (serial|mac|STRING); sets ROM_MAC and
#                               ROM_DIR to the MAC the board must have and
#                               the directory it asks for

BOOTROM=$PIFS_BUILDDIR/tests/tools/bootrom
NSM=pifsm-$$
NSW=pifsw-$$
NSR=pifsr-$$
VM=pifsm$$
VW=pifsw$$
NETNS=()
NET_PIDS=()
DNSMASQ_PID=
ROUTER_PID=
declare -A PI_MAC=()

rom_cleanup() {
	local p ns
	for p in "${NET_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${NET_PIDS[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	NET_PIDS=()
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	NETNS=()
}

rom_net_up() {
	command -v ip >/dev/null || skip "ip missing (apt-get install iproute2)"
	command -v dnsmasq >/dev/null || skip "dnsmasq missing (apt-get install dnsmasq-base)"
	[ -x "$BOOTROM" ] || skip "build tests/tools/bootrom first (make check)"
	ip netns add "$NSM" 2>"$T/netns.err" || skip "cannot make a network namespace: $(cat "$T/netns.err")"
	NETNS+=("$NSM")
	ip netns add "$NSW" || { fail "ip netns add $NSW"; return 1; }
	NETNS+=("$NSW")
	ip link add "$VM" netns "$NSM" type veth peer name "$VW" netns "$NSW" ||
		skip "cannot make a veth pair between namespaces"
	ip -n "$NSM" addr add 10.1.1.100/24 dev "$VM"
	ip -n "$NSM" link set lo up
	ip -n "$NSM" link set "$VM" up
	ip -n "$NSW" link set lo up
	ip -n "$NSW" link set "$VW" up
	# Several Pis share one namespace: each answers ARP only for its own
	# address, or replies for 10.1.1.1 could land on worker-3's interface.
	local k
	for k in all default; do
		nsenter --net="/run/netns/$NSW" sysctl -qw "net.ipv4.conf.$k.arp_ignore=1" "net.ipv4.conf.$k.arp_announce=2" \
			"net.ipv4.conf.$k.rp_filter=0" || { fail "sysctl in $NSW"; return 1; }
	done
}

rom_dnsmasq() {
	local store=$1 tftp=$2 dns=port=0 mode=--standalone
	shift 2
	# a dnsmasq of its own that only boots: --standalone (no DNS); the
	# proxy scenario leaves DNS as a drop-in does
	case " $* " in *" --proxy "*) mode= ;; esac
	"$PIFS" --store "$store" dnsmasq-conf --interface "$VM" --tftp-root "$tftp" \
		--log-facility "$T/dnsmasq.log" $mode "$@" >"$T/dnsmasq.conf" 2>"$T/conf.err" ||
		{ cat "$T/conf.err"; fail "pifs dnsmasq-conf"; return 1; }
	# --proxy leaves DNS alone: here nothing asks it, in the namespace
	case " $* " in *" --proxy "*) dns="interface=$VM" ;; esac
	grep -qx "$dns" "$T/dnsmasq.conf" && grep -qx "interface=$VM" "$T/dnsmasq.conf" &&
		grep -qx "bind-interfaces" "$T/dnsmasq.conf" ||
		{ cat "$T/dnsmasq.conf"; fail "dnsmasq-conf output"; return 1; }
	run_dnsmasq "$NSM" dnsmasq 'TFTP root is' || { fail "dnsmasq did not start"; return 1; }
	DNSMASQ_PID=$RUN_PID
}

# run_dnsmasq NS NAME READY: dnsmasq in namespace NS with $T/NAME.conf
# (its pid, leases and output in $T/NAME.*), its PID in RUN_PID and
# NET_PIDS; 0 once its log ($T/NAME.log) says READY (at most 5 s), else
# its output and log shown and 1.
RUN_PID=
run_dnsmasq() {
	local ns=$1 name=$2 ready=$3
	nsenter --net="/run/netns/$ns" dnsmasq --conf-file="$T/$name.conf" --keep-in-foreground \
		--pid-file="$T/$name.pid" --dhcp-leasefile="$T/$name.leases" >"$T/$name.out" 2>&1 &
	RUN_PID=$!
	NET_PIDS+=("$RUN_PID")
	for _ in $(seq 1 100); do
		grep -q "$ready" "$T/$name.log" 2>/dev/null && return 0
		kill -0 "$RUN_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/$name.out" "$T/$name.log" 2>/dev/null
	return 1
}

pi_mac() { echo "b8:27:eb:${1:2:2}:${1:4:2}:${1:6:2}"; }

rom_add_pi() {
	PI_MAC[$1]=${2:-$(pi_mac "$1")}
	ip -n "$NSW" link add link "$VW" name "pi$1" type macvlan mode bridge &&
		ip -n "$NSW" link set "pi$1" address "${PI_MAC[$1]}" &&
		ip -n "$NSW" link set "pi$1" up
}

rom_boot() {
	local s=$1
	shift
	mkdir -p "$T/out-$s"
	nsenter --net="/run/netns/$NSW" "$BOOTROM" --iface "pi$s" --mac "${PI_MAC[$s]:-$(pi_mac "$s")}" --serial "$s" \
		--out "$T/out-$s" --timeout 120 --interval 3000 --gap 50 --assign-address "$@" \
		>"$T/rom-$s.out" 2>&1 &
	NET_PIDS+=("$!")
}

rom_worker() {
	local store=$1 name=$2 s=$3 ip=$4 model=$5 mac=$6 prefix=$7
	"$PIFS" --store "$store" worker add "$name" --serial "$s" --ip "$ip" --model "$model" \
		--mac "$mac" --tftp-prefix "$prefix" >/dev/null || return 1
	ROM_MAC=$mac
	case $prefix in
	serial) ROM_DIR=$s ;;
	mac) ROM_DIR=${mac//:/-} ;;
	str:*) ROM_DIR=${prefix#str:} ;;
	*) return 1 ;;
	esac
}

# The router's interface is a macvlan of the Pis' veth end moved into its
# own namespace: it shares their segment (bridge mode), but an address a
# Pi puts on its interface is never local to the router's stack.
rom_router() {
	local h
	ip netns add "$NSR" || { fail "ip netns add $NSR"; return 1; }
	NETNS+=("$NSR")
	ip -n "$NSW" link add link "$VW" name rtr$$ type macvlan mode bridge &&
		ip -n "$NSW" link set rtr$$ netns "$NSR" &&
		ip -n "$NSR" addr add 10.1.1.254/24 dev rtr$$ &&
		ip -n "$NSR" link set lo up && ip -n "$NSR" link set rtr$$ up ||
		{ fail "the router's interface"; return 1; }
	{
		echo "port=0"
		echo "interface=rtr$$"
		echo "bind-interfaces"
		echo "dhcp-range=10.1.1.50,10.1.1.60,255.255.255.0,12h"
		for h in "$@"; do echo "dhcp-host=$h"; done
		echo "log-dhcp"
		echo "log-facility=$T/router.log"
	} >"$T/router.conf"
	run_dnsmasq "$NSR" router 'DHCP, IP range' || { fail "the router's dnsmasq did not start"; return 1; }
	ROUTER_PID=$RUN_PID
}

# the simulator's own --timeout ends it first
rom_wait() {
	local pid=$1
	for _ in $(seq 1 1300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	wait "$pid"
}
