# SPDX-License-Identifier: GPL-2.0-or-later
# lib-boot.sh - real workers for the integration scenarios, sourced after
# lib.sh: a golden built by tools/golden-build.sh (cached between runs),
# NFS-Ganesha exporting directories on 127.0.0.1, and QEMU arm64 guests
# that boot the golden's kernel and initramfs and mount their root from it.
#
# Network: ganesha, rpcbind and the guests run in a network namespace made
# here that has nothing but its loopback.  Each guest has its own QEMU
# user-mode network 10.1.1.0/24 in which the master is 10.1.1.100; QEMU
# turns the guest's connections to 10.1.1.100 into connections to the
# namespace's 127.0.0.1 (ganesha and rpcbind); there is no other address
# a guest could reach.  IPv6 is off; the golden's initramfs only talks
# DHCP to QEMU and NFS to 10.1.1.100.
#
# Or, with start_boot_lan, the seed's boot LAN for real (the demo, and
# t-worker-boot): in that namespace a bridge carrying the master's address
# (pifs master, 10.1.1.100/24), one tap per guest on it, each guest's NIC
# with the MAC it is given (a worker's registered one), real dnsmasq on
# the bridge configured by `pifs dnsmasq-conf` (lib-rom.sh's rom_dnsmasq)
# handing each worker its registered address by MAC, and ganesha with the
# exports `pifs exports` prints, as printed: /nfsroot/<worker>, each open
# to its worker's address only.  Ganesha sees the guests' own addresses:
# a guest not registered gets an address from the pool and is refused.
# The bridge, the taps and everything on them exist only in that
# namespace and go with it; IPv6 is off there.
#
# Everything started here is stopped by PID from boot_cleanup, the EXIT
# trap boot_setup installs (guests, then ganesha, then the rpcbind started
# here, the namespace, then lib.sh's cleanup).  start_nfs holds
# /run/lock/pifs-nfs.lock until stop_nfs: two scenarios of `make -j2
# check` take turns (two TCG guests at once on 2 cores only slow each
# other down).
#
# Functions:
#   boot_setup                 setup (lib.sh) + the EXIT trap above
#   need_boot_tools            skip (exit 77) naming the missing package
#   golden_cached DIR          DIR = a copy of the cached minimal golden
#   golden_debian_cached       GOLDEN_CACHED = the cached Debian golden
#   start_nfs EXPORTDIR...     ganesha exporting each dir as /nfsroot/<name>
#                              in a network namespace of its own
#   start_nfs_exports FILE ADDR...  ganesha with the exports `pifs exports`
#                              printed into FILE, ADDRs on the namespace's lo
#   start_boot_lan STORE MNT   the boot LAN above: bridge, dnsmasq (log
#                              $T/dnsmasq.log) and ganesha for STORE
#                              mounted at MNT; needs lib-rom.sh
#   stop_nfs                   (and the boot LAN's dnsmasq)
#   restart_nfs [CMD...]       NFS down, CMD, NFS up (same netns)
#   boot_guest NAME KERNEL INITRD CMDLINE_FILE LOG [TIMEOUT [MAC]]
#   wait_guest NAME            its exit status; on TIMEOUT kill, tail, fail
#   wait_console NAME PATTERN  until its console has a line matching
#                              PATTERN (0), or it exits or its time is
#                              over (1)
#   stop_guest NAME            stop it now (by PID)
#   guest_destinations NAME    where the guest sent packets

: "${PIFS_CACHE:=/var/cache/pifs}"
NFS_LOCK=${PIFS_NFS_LOCK:-/run/lock/pifs-nfs.lock}
NFS_LOCK_WAIT=${PIFS_NFS_LOCK_WAIT:-1800}
NFS_LOCK_FD=
GANESHA_PID=
RPCBIND_PID=
NFS_DIR=
declare -A GUEST_PID GUEST_LOG GUEST_END GUEST_MAC GUEST_TAP
GUEST_N=0
LAN_BR=
LAN_DNSMASQ_PID=
NFS_KEEP=
NFS_ROOTBIND=

boot_setup() {
	setup
	trap boot_cleanup EXIT
	trap 'exit 130' INT TERM HUP
}

boot_cleanup() {
	local g
	for g in "${!GUEST_PID[@]}"; do
		stop_pid "${GUEST_PID[$g]}"
	done
	stop_nfs
	cleanup
}

# stop_pid PID: TERM, up to 5 s, then KILL; reaps it if it is our child
stop_pid() {
	local p=$1
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
	for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

# need_boot_tools: everything below, or skip naming the Debian package
need_boot_tools() {
	local t
	for t in qemu-system-aarch64:qemu-system-arm ganesha.nfsd:nfs-ganesha rpcbind:rpcbind \
		rpcinfo:rpcbind nfs-ls:libnfs-utils ip:iproute2 cpio:cpio gzip:gzip flock:util-linux \
		dpkg-deb:dpkg apt-get:apt depmod:kmod timeout:coreutils findmnt:util-linux; do
		command -v "${t%%:*}" >/dev/null || skip "${t%%:*} missing (apt-get install ${t#*:})"
	done
	compgen -G '/usr/lib/*/ganesha/libfsalvfs.so' >/dev/null || compgen -G /usr/lib/ganesha/libfsalvfs.so >/dev/null ||
		skip "NFS-Ganesha's FSAL VFS missing (apt-get install nfs-ganesha-vfs)"
	[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] ||
		skip "Debian's archive keys missing (apt-get install debian-archive-keyring)"
}

# golden_cached DIR: build the minimal golden once per version of
# tools/golden-build.sh (kept in $PIFS_CACHE/golden-minimal/<hash>/, the
# packages in $PIFS_CACHE/golden) and copy it to DIR.  GOLDEN_CACHED is
# the cached tree (read it, never write it).
GOLDEN_CACHED=
golden_cached() {
	local dst=$1 rc
	golden_build_cached minimal 3600 || return 1
	cp -a --reflink=auto "$GOLDEN_CACHED" "$dst"
	rc=$?
	exec {GOLDEN_LOCK}>&-
	[ $rc = 0 ] || { fail "cannot copy the golden to $dst"; return 1; }
}

# golden_debian_cached: the same for the Debian flavour (--debian, about
# 20 min to build and 735 MB: $PIFS_CACHE/golden-debian/<hash>/), with no
# copy: GOLDEN_CACHED is the cached tree, read it (pifs init copies it
# into the store), never write it.  The build's log is build.log next to
# the tree.
golden_debian_cached() {
	golden_build_cached debian 7200 || return 1
	exec {GOLDEN_LOCK}>&-
	return 0
}

# golden_build_cached FLAVOUR WAIT: $PIFS_CACHE/golden-FLAVOUR/<hash>/tree
# built if missing (older versions' trees removed), GOLDEN_CACHED set,
# the cache's lock (waited for up to WAIT s) left held in GOLDEN_LOCK.
GOLDEN_LOCK=
golden_build_cached() {
	local flavour=$1 wait=$2 script=$PIFS_SRCDIR/tools/golden-build.sh base key rc
	base=$PIFS_CACHE/golden-$flavour
	key=$(sha256sum <"$script" | cut -c1-16)
	mkdir -p "$base"
	exec {GOLDEN_LOCK}>"$base/lock"
	flock -w "$wait" "$GOLDEN_LOCK" ||
		{ fail "golden cache $base: locked for $wait s"; exec {GOLDEN_LOCK}>&-; return 1; }
	if [ ! -d "$base/$key/tree" ]; then
		rm -rf "${base:?}/$key"
		mkdir -p "$base/$key"
		echo "note: building the $flavour golden into $base/$key (once per golden-build.sh version)"
		bash "$script" "--$flavour" --cache "$PIFS_CACHE/golden" "$base/$key/tree" >"$base/$key/build.log" 2>&1
		rc=$?
		if [ $rc != 0 ]; then
			tail -20 "$base/$key/build.log"
			rm -rf "${base:?}/$key/tree"
			exec {GOLDEN_LOCK}>&-
			fail "golden-build.sh --$flavour failed (exit $rc; log: $base/$key/build.log)"
			return 1
		fi
		# older versions' trees
		find "$base" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
	fi
	GOLDEN_CACHED=$base/$key/tree
}

# start_nfs EXPORTDIR...: NFS-Ganesha (NFSv3 and v4, port 2049, mountd
# 20048) and rpcbind in a network namespace made here (pifsnfs-PID,
# loopback only) with a private /run (rpcbind's socket and lock: ganesha
# registers through that socket), so neither meets the machine's own
# rpcbind or NFS server; the guests run in that namespace too
# (boot_guest).  One export per directory: Path = the directory, Pseudo =
# /nfsroot/<basename>, which is also its NFSv3 mount path.  Waits
# (bounded) until the first export answers; on failure everything it
# started is stopped again.  A FUSE mount must be mounted with -o
# allow_other, or it is refused here: without it ganesha still reads
# everything (as root, the mount's owner) and root's writes work, but a
# worker's other users cannot create files (ganesha creates with the
# client's uid: NFS3ERR_ACCES for pi creating a file in its own home; tried
# on a pifs mount).  Holds /run/lock/pifs-nfs.lock until stop_nfs
# (bounded wait): one NFS server and its guests at a time on the machine.
NFS_NS=
start_nfs() {
	local d i=0 conf log name fstype opts ns_failed=
	nfs_lock || return 1
	conf=$NFS_DIR/ganesha.conf
	log=$NFS_DIR/ganesha.log
	cat >"$conf" <<EOF
NFS_CORE_PARAM {
	Protocols = 3, 4;
	Bind_addr = 0.0.0.0;
	NFS_Port = 2049;
	MNT_Port = 20048;
	NLM_Port = 32803;
	Rquota_Port = 875;
	Enable_RQUOTA = false;
	Mount_Path_Pseudo = true;
}
NFSV4 { Graceless = true; }
NFS_KRB5 { Active_krb5 = false; }
EOF
	for d in "$@"; do
		i=$((i + 1))
		name=$(basename "$d")
		fstype=$(findmnt -n -o FSTYPE --target "$d")
		if [[ $fstype == fuse* ]]; then
			opts=$(findmnt -n -o FS-OPTIONS --target "$d")
			[[ ,$opts, == *,allow_other,* ]] ||
				{ stop_nfs; fail "$d is on a FUSE mount without -o allow_other: ganesha cannot read it"; return 1; }
		fi
		cat >>"$conf" <<EOF
EXPORT {
	Export_Id = $i;
	Path = "$d";
	Pseudo = "/nfsroot/$name";
	Access_Type = RW;
	Squash = No_Root_Squash;
	Protocols = 3, 4;
	Transports = TCP;
	SecType = sys;
	Filesystem_id = 101.$i;
	# pifs changes a view under ganesha (reset, writes from the master):
	# no attribute or dirent cache that outlives the next request.
	Attr_Expiration_Time = 0;
	# As pifs exports prints it: no fsid_type (Major64 gives every FUSE
	# file system, each worker's, the same id: README, NFS).
	FSAL { Name = VFS; }
}
EOF
	done
	nfs_netns || return 1
	NFS_FIRST=$(basename "$1")
	nfs_daemons_up
}

# nfs_lock: NFS_DIR made, /run/lock/pifs-nfs.lock held (bounded wait).
nfs_lock() {
	NFS_DIR=$T/nfs
	mkdir -p "$NFS_DIR"
	exec {NFS_LOCK_FD}>"$NFS_LOCK"
	if ! flock -n "$NFS_LOCK_FD"; then
		echo "note: waiting for $NFS_LOCK (another test runs an NFS server)"
		flock -w "$NFS_LOCK_WAIT" "$NFS_LOCK_FD" || { exec {NFS_LOCK_FD}>&-; NFS_LOCK_FD=; fail "$NFS_LOCK held for $NFS_LOCK_WAIT s"; return 1; }
	fi
}

# nfs_netns [lan]: the namespace (pifsnfs-PID) with lo up and 10.1.1.100
# on it (with "lan": lo only, the caller puts the master's address on its
# bridge); on failure everything is stopped again.
nfs_netns() {
	NFS_NS=pifsnfs-$$
	ip netns add "$NFS_NS" 2>"$NFS_DIR/netns.err" ||
		{ cat "$NFS_DIR/netns.err"; NFS_NS=; stop_nfs; fail "cannot make a network namespace"; return 1; }
	if [ "${1:-}" = lan ]; then
		ip -n "$NFS_NS" link set lo up
		return
	fi
	# 10.1.1.100 on lo: glibc resolves no IPv4 address (AI_ADDRCONFIG)
	# where 127.0.0.1 is the only one.  Ganesha binds the wildcard: a
	# guest asks rpcbind for the ports with 10.1.1.100 as the server's
	# address, and rpcbind answers only for services bound to that
	# address or to the wildcard.  The namespace has nothing but lo.
	ip -n "$NFS_NS" link set lo up
	ip -n "$NFS_NS" addr add 10.1.1.100/32 dev lo
}

# start_nfs_exports FILE ADDR...: ganesha as start_nfs starts it (same
# namespace, ports and lock), but with the NFS-Ganesha part of FILE, the
# output of `pifs exports`: its blocks, commented out there, taken as
# written (nfs_exports_conf); each ADDR (IPv4) is put on the namespace's
# lo for the clients to bind (a worker's address decides which export it
# may use).  Ready when rpcbind has NFS and MOUNT version 3 over TCP: the
# exports admit no address to probe a listing with.
start_nfs_exports() {
	local file=$1 a
	shift
	nfs_lock || return 1
	nfs_exports_conf "$file" >"$NFS_DIR/ganesha.conf" ||
		{ stop_nfs; fail "no NFS-Ganesha EXPORT block in $file"; return 1; }
	nfs_netns || return 1
	for a in "$@"; do
		ip -n "$NFS_NS" addr add "$a/32" dev lo ||
			{ stop_nfs; fail "cannot put $a on lo in $NFS_NS"; return 1; }
	done
	NFS_FIRST=
	nfs_daemons_up
}

# start_boot_lan STORE MNT: the seed's boot LAN (the header), for the
# store STORE mounted at MNT (with -o allow_other): in the namespace of
# start_nfs (same ports and lock) a bridge (LAN_BR) with the master's
# address from `pifs master` as /24, dnsmasq on it as lib-rom.sh's
# rom_dnsmasq runs it (config from `pifs dnsmasq-conf --interface
# LAN_BR --tftp-root MNT/tftpboot`, log $T/dnsmasq.log, leases
# $T/dnsmasq.leases), and ganesha with the exports of `pifs exports`
# (nfsroot /nfsroot, as the README's master has it), used as printed:
# ganesha runs in a root of its own where MNT/nfsroot is bound at
# /nfsroot (nfs_daemons_up), as the README's fstab binds it on a master.
# Guests started afterwards (boot_guest) get a tap on the bridge.  Ready
# when dnsmasq has started and rpcbind has NFS and MOUNT version 3.
# stop_nfs stops it all.  Needs lib-rom.sh (rom_dnsmasq).
start_boot_lan() {
	local store=$1 mnt=$2 master opts
	declare -F rom_dnsmasq >/dev/null || { fail "start_boot_lan: source lib-rom.sh first"; return 1; }
	command -v dnsmasq >/dev/null || skip "dnsmasq missing (apt-get install dnsmasq-base)"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun (QEMU's tap)"
	opts=$(findmnt -n -o FS-OPTIONS --mountpoint "$mnt")
	[[ ,$opts, == *,allow_other,* ]] ||
		{ fail "$mnt is not a FUSE mount with -o allow_other: dnsmasq and ganesha cannot read it"; return 1; }
	master=$("$PIFS" --store "$store" master)
	[[ $master =~ ^[0-9]+(\.[0-9]+){3}$ ]] || { fail "pifs master: '$master'"; return 1; }
	nfs_lock || return 1
	"$PIFS" --store "$store" exports >"$NFS_DIR/exports" 2>"$NFS_DIR/exports.err" ||
		{ cat "$NFS_DIR/exports.err"; stop_nfs; fail "pifs exports"; return 1; }
	nfs_exports_conf "$NFS_DIR/exports" >"$NFS_DIR/ganesha.conf" ||
		{ stop_nfs; fail "no NFS-Ganesha EXPORT block in pifs exports"; return 1; }
	nfs_netns lan || return 1
	LAN_BR=pifsbr0
	# No IPv6 on the LAN (nothing here speaks it); a bridge without STP
	# forwards on a new port at once.
	nsenter --net="/run/netns/$NFS_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
	if ! ip -n "$NFS_NS" link add "$LAN_BR" type bridge stp_state 0 ||
		! ip -n "$NFS_NS" addr add "$master/24" dev "$LAN_BR" ||
		! ip -n "$NFS_NS" link set "$LAN_BR" up; then
		stop_nfs
		fail "cannot make the bridge $LAN_BR with $master in $NFS_NS"
		return 1
	fi
	# rom_dnsmasq runs dnsmasq in lib-rom.sh's master namespace on its
	# interface: here they are ours.  Its PID is also in lib-rom.sh's
	# NET_PIDS; stop_nfs stops it and takes it out of there.
	NSM=$NFS_NS VM=$LAN_BR rom_dnsmasq "$store" "$mnt/tftpboot" || { stop_nfs; return 1; }
	LAN_DNSMASQ_PID=$DNSMASQ_PID
	NFS_KEEP=$mnt NFS_ROOTBIND=$mnt/nfsroot NFS_FIRST=
	nfs_daemons_up
}

# nfs_exports_conf FILE: ganesha.conf from the NFS-Ganesha part of `pifs
# exports` (the lines after "# Without a kernel NFS server"): every block
# there, from "# NAME {" to its closing brace, uncommented; the settings
# of its NFS_CORE_PARAM go over start_nfs's (same ports, same namespace).
# Fails if there is no EXPORT block.
nfs_exports_conf() {
	local blocks kv k
	local -A core=([Protocols]="3, 4" [Bind_addr]=0.0.0.0 [NFS_Port]=2049 [MNT_Port]=20048
		[NLM_Port]=32803 [Rquota_Port]=875 [Enable_RQUOTA]=false)
	# shellcheck disable=SC2016 # awk
	blocks=$(awk '
		/^# Without a kernel NFS server/ { g = 1; next }
		!g { next }
		!in_block && /^# [A-Za-z_0-9]+ *\{/ { in_block = 1; d = 0 }
		in_block {
			line = substr($0, 3)
			print line
			d += gsub(/\{/, "{", line) - gsub(/\}/, "}", line)
			if (d <= 0) in_block = 0
		}' "$1")
	grep -q '^EXPORT *{' <<<"$blocks" || return 1
	while IFS= read -r kv; do
		[[ $kv == *=* ]] || continue
		k=${kv%%=*}
		k=${k// /}
		kv=${kv#*=}
		kv=${kv# }
		core[$k]=${kv% }
	done < <(awk '/^NFS_CORE_PARAM *\{/ { c = 1 } c { print } c && /\}/ { c = 0 }' <<<"$blocks" |
		sed 's/^NFS_CORE_PARAM *{//; s/}.*//' | tr ';' '\n' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
	echo "NFS_CORE_PARAM {"
	for k in "${!core[@]}"; do
		printf '\t%s = %s;\n' "$k" "${core[$k]}"
	done
	echo "}"
	echo "NFSV4 { Graceless = true; }"
	echo "NFS_KRB5 { Active_krb5 = false; }"
	awk '/^NFS_CORE_PARAM *\{/ { c = 1 } c { if (/\}/) c = 0; next } 1' <<<"$blocks"
}

# nfs_daemons_up: rpcbind and ganesha in the namespace of start_nfs.  One
# shell there (ip netns exec gives it a mount namespace of its own) mounts
# the private /run and starts both daemons, in their foreground, leaving
# their PIDs; then wait (bounded) until the first export answers (with
# no NFS_FIRST: until NFS and MOUNT are registered).  That
# mount namespace holds a copy of every mount, the pifs mount included,
# for as long as a process lives in it: restart_nfs stops both daemons
# before pifs is unmounted, so the old daemon can exit.
#
# With NFS_ROOTBIND (start_boot_lan), both daemons run chrooted in a root
# made there: a tmpfs with every top-level directory of / bound in (so
# every path is the same), its own empty /run, and NFS_ROOTBIND bound at
# /nfsroot, where `pifs exports` has the workers; the pifs mount
# (NFS_KEEP) is then unmounted at its own path in that root, so that each
# of its file systems shows once in ganesha's mount table (FSAL VFS keeps
# one path per file system, the first it meets).  Nothing is made on the
# machine's own /.
NFS_FIRST=
nfs_daemons_up() {
	# shellcheck disable=SC2016 # expanded by that shell
	ip netns exec "$NFS_NS" bash -c '
		d=$1 keep=$2 nfsroot=$3 r=
		[ -d "$d" ] || exit 1
		mount -t tmpfs -o mode=755 pifs-run /run || exit 1
		mkdir -p /run/rpcbind /run/lock
		# This mount namespace copied every mount on the machine; let go
		# of the FUSE mounts of other tests, or their daemons could not
		# exit when those tests unmount (ours stay: ganesha exports them).
		awk -v t="$keep/" '\''$3 ~ /^fuse/ && index($2 "/", t) != 1 { print $2 }'\'' /proc/self/mounts |
			while read -r m; do umount -l "$(printf "%b" "$m")" 2>/dev/null; done
		if [ -n "$nfsroot" ]; then
			r=/run/root
			mkdir "$r" && mount -t tmpfs -o mode=755 pifs-root "$r" || exit 1
			for e in /*; do
				n=${e#/}
				if [ -L "$e" ]; then
					ln -s "$(readlink "$e")" "$r/$n" || exit 1
				elif [ "$n" = run ]; then
					mkdir -p "$r/run/rpcbind" "$r/run/lock" || exit 1
				elif [ -d "$e" ]; then
					mkdir "$r/$n" && mount --rbind "$e" "$r/$n" || exit 1
				fi
			done
			mkdir "$r/nfsroot" && mount --rbind "$nfsroot" "$r/nfsroot" || exit 1
			if mountpoint -q "$r$keep"; then umount -l "$r$keep" || exit 1; fi
			cd "$r" || exit 1
		fi
		${r:+chroot "$r"} rpcbind -f -w >>"$d/rpcbind.log" 2>&1 </dev/null &
		echo $! >"$d/rpcbind.pid"
		for _ in $(seq 1 50); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.1; done
		${r:+chroot "$r"} ganesha.nfsd -F -f "$d/ganesha.conf" -L "$d/ganesha.log" -p "$d/ganesha.pid" -N NIV_EVENT \
			>>"$d/ganesha.out" 2>&1 </dev/null &
		echo $! >"$d/ganesha.pid.sh"
	' nfs-ns "$NFS_DIR" "${NFS_KEEP:-$T}" "$NFS_ROOTBIND" >"$NFS_DIR/ns.out" 2>&1 ||
		{ cat "$NFS_DIR/ns.out"; stop_nfs; fail "cannot start rpcbind and ganesha in $NFS_NS"; return 1; }
	RPCBIND_PID=$(cat "$NFS_DIR/rpcbind.pid" 2>/dev/null)
	GANESHA_PID=$(cat "$NFS_DIR/ganesha.pid.sh" 2>/dev/null)
	for _ in $(seq 1 120); do
		if [ -n "$NFS_FIRST" ]; then
			nsenter --net="/run/netns/$NFS_NS" timeout 5 nfs-ls "nfs://127.0.0.1/nfsroot/$NFS_FIRST/" >/dev/null 2>&1 && return 0
		elif nsenter --net="/run/netns/$NFS_NS" timeout 5 rpcinfo -T tcp 127.0.0.1 nfs 3 >/dev/null 2>&1 &&
			nsenter --net="/run/netns/$NFS_NS" timeout 5 rpcinfo -T tcp 127.0.0.1 mountd 3 >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$GANESHA_PID" 2>/dev/null || break
		sleep 0.5
	done
	tail -20 "$NFS_DIR/ganesha.log" "$NFS_DIR/ganesha.out" "$NFS_DIR/rpcbind.log" 2>/dev/null
	fail "ganesha does not serve ${NFS_FIRST:+nfs://127.0.0.1/nfsroot/$NFS_FIRST/}${NFS_FIRST:-NFSv3 and MOUNT v3} in $NFS_NS"
	stop_nfs
	return 1
}

# restart_nfs [CMD...]: stop ganesha and rpcbind, run CMD (e.g. a remount
# of pifs), start both again in the same network namespace with the same
# config.  A client there (nsenter --net: no mount namespace of its own)
# keeps its file handles across the restart, as a real NFS client does.
restart_nfs() {
	local rc=0
	[ -n "$NFS_NS" ] || { fail "restart_nfs: start_nfs first"; return 1; }
	stop_pid "$GANESHA_PID"
	stop_pid "$RPCBIND_PID"
	GANESHA_PID= RPCBIND_PID=
	if [ $# -gt 0 ]; then "$@" || rc=$?; fi
	nfs_daemons_up || return 1
	return $rc
}

stop_nfs() {
	local p keep=()
	if [ -n "$GANESHA_PID" ]; then
		stop_pid "$GANESHA_PID"
		GANESHA_PID=
	fi
	if [ -n "$RPCBIND_PID" ]; then
		stop_pid "$RPCBIND_PID"
		RPCBIND_PID=
	fi
	if [ -n "$LAN_DNSMASQ_PID" ]; then
		stop_pid "$LAN_DNSMASQ_PID"
		# gone: lib-rom.sh's rom_cleanup must not signal its PID again
		for p in "${NET_PIDS[@]}"; do [ "$p" = "$LAN_DNSMASQ_PID" ] || keep+=("$p"); done
		NET_PIDS=("${keep[@]}")
		LAN_DNSMASQ_PID=
	fi
	LAN_BR='' NFS_KEEP='' NFS_ROOTBIND=''
	if [ -n "$NFS_NS" ]; then
		ip netns del "$NFS_NS" 2>/dev/null
		NFS_NS=
	fi
	if [ -n "$NFS_LOCK_FD" ]; then
		flock -u "$NFS_LOCK_FD"
		exec {NFS_LOCK_FD}>&-
		NFS_LOCK_FD=
	fi
	return 0
}

# boot_guest NAME KERNEL INITRD CMDLINE_FILE LOG [TIMEOUT [MAC]]: start an
# arm64 guest (QEMU virt, Cortex-A53, 512 MiB, TCG) in the background, in
# the namespace of start_nfs, with the serial console in LOG; the kernel
# command line is CMDLINE_FILE's plus console=ttyAMA0 panic=-1 (a panic
# ends the guest: -no-reboot).  Its NIC has MAC (default: a made-up
# 52:54:00 one of its own).  Its network: QEMU's user network, DHCP from
# QEMU (10.1.1.150 up), 10.1.1.100 = the namespace's loopback, where
# ganesha is and nothing else; or, after start_boot_lan, a tap of its own
# (pifstapN) on the boot LAN's bridge: DHCP from dnsmasq, by MAC.  Its
# network traffic is recorded in LOG.pcap (guest_destinations).
# wait_guest NAME gives it TIMEOUT s (default 300) from now.
boot_guest() {
	local name=$1 kernel=$2 initrd=$3 cmdline=$4 log=$5 timeout=${6:-300} mac=${7:-} netdev tap=
	[ -n "$NFS_NS" ] || { fail "boot_guest $name: start_nfs first"; return 1; }
	GUEST_N=$((GUEST_N + 1))
	[ -n "$mac" ] || mac=$(printf '52:54:00:%02x:%02x:%02x' $(($$ & 255)) $((GUEST_N >> 8 & 255)) $((GUEST_N & 255)))
	if [ -n "$LAN_BR" ]; then
		tap=pifstap$GUEST_N
		if ! ip -n "$NFS_NS" tuntap add dev "$tap" mode tap ||
			! ip -n "$NFS_NS" link set "$tap" master "$LAN_BR" ||
			! ip -n "$NFS_NS" link set "$tap" up; then
			fail "boot_guest $name: cannot put a tap $tap on $LAN_BR"
			return 1
		fi
		# vnet_hdr=off: QEMU 7.2's filter-dump writes the virtio-net
		# header in front of every frame otherwise
		netdev="tap,id=n0,ifname=$tap,script=no,downscript=no,vnet_hdr=off"
	else
		netdev="user,id=n0,ipv6=off,net=10.1.1.0/24,host=10.1.1.100,dhcpstart=10.1.1.150"
	fi
	nsenter --net="/run/netns/$NFS_NS" qemu-system-aarch64 -M virt -cpu cortex-a53 -m 512 -smp 1 \
		-nographic -no-reboot -monitor none -serial "file:$log" -name "$name" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "$(cat "$cmdline") console=ttyAMA0 panic=-1" \
		-netdev "$netdev" \
		-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=" \
		-object "filter-dump,id=dump0,netdev=n0,file=$log.pcap" \
		</dev/null >"$log.qemu" 2>&1 &
	GUEST_PID[$name]=$!
	GUEST_MAC[$name]=$mac
	GUEST_TAP[$name]=$tap
	GUEST_LOG[$name]=$log
	GUEST_END[$name]=$(($(date +%s) + timeout))
}

# guest_gone NAME: forget a guest that has exited; its tap goes
guest_gone() {
	unset "GUEST_PID[$1]"
	if [ -n "${GUEST_TAP[$1]:-}" ] && [ -n "$NFS_NS" ]; then
		ip -n "$NFS_NS" link del "${GUEST_TAP[$1]}" 2>/dev/null
	fi
	GUEST_TAP[$1]=
}

# wait_guest NAME: wait until the guest exits; its exit status (QEMU's:
# 0 after a poweroff or a panic).  Past its time: kill it, show the
# console's tail, fail and return 124.
wait_guest() {
	local name=$1 pid=${GUEST_PID[$1]} rc
	while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "${GUEST_END[$name]}" ]; do
		sleep 1
	done
	if kill -0 "$pid" 2>/dev/null; then
		stop_pid "$pid"
		guest_gone "$name"
		echo "--- $name: console (tail)"
		tail -25 "${GUEST_LOG[$name]}"
		fail "$name did not power off within its time"
		return 124
	fi
	wait "$pid"
	rc=$?
	guest_gone "$name"
	[ $rc = 0 ] || { echo "--- $name: QEMU exit $rc"; tail -5 "${GUEST_LOG[$name]}.qemu"; }
	return $rc
}

# wait_console NAME PATTERN: 0 as soon as the guest's console has a line
# matching PATTERN (grep -E, CRs dropped); 1 if the guest exits first or
# its time (boot_guest's TIMEOUT) is over.  The guest runs on.
wait_console() {
	local name=$1 pat=$2 pid=${GUEST_PID[$1]}
	while :; do
		tr -d '\r' 2>/dev/null <"${GUEST_LOG[$name]}" | grep -Eq -- "$pat" && return 0
		kill -0 "$pid" 2>/dev/null || break
		[ "$(date +%s)" -lt "${GUEST_END[$name]}" ] || break
		sleep 1
	done
	tr -d '\r' 2>/dev/null <"${GUEST_LOG[$name]}" | grep -Eq -- "$pat"
}

# stop_guest NAME: stop the guest now (TERM, then KILL), by its PID
stop_guest() {
	stop_pid "${GUEST_PID[$1]}"
	guest_gone "$1"
}

# guest_destinations NAME: what the guest sent, from the dump of its
# network device (QEMU filter-dump): one line per distinct destination,
# "ipv4 ADDR PROTO[/PORT]", "arp", "ipv6 ADDR" or "other ETHERTYPE".
guest_destinations() {
	# shellcheck disable=SC2016 # perl
	perl -e '
		use strict; use warnings;
		my ($file, $mac) = @ARGV;
		$mac =~ s/://g;
		open(my $fh, "<:raw", $file) or die "$file: $!\n";
		read($fh, my $gh, 24) == 24 or exit 0;
		my $le = unpack("V", $gh) == 0xa1b2c3d4;
		my %seen;
		while (read($fh, my $rh, 16) == 16) {
			my $len = $le ? (unpack("V4", $rh))[2] : (unpack("N4", $rh))[2];
			read($fh, my $f, $len) == $len or last;
			next if $len < 14 || unpack("H12", substr($f, 6, 6)) ne $mac;
			my $type = unpack("n", substr($f, 12, 2));
			my $what;
			if ($type == 0x0800 && $len >= 34) {
				my $ihl = (unpack("C", substr($f, 14, 1)) & 15) * 4;
				my $proto = unpack("C", substr($f, 23, 1));
				$what = "ipv4 " . join(".", unpack("C4", substr($f, 30, 4))) . " " .
					($proto == 6 ? "tcp" : $proto == 17 ? "udp" : $proto == 1 ? "icmp" : "proto$proto");
				$what .= "/" . unpack("n", substr($f, 16 + $ihl, 2))
					if ($proto == 6 || $proto == 17) && $len >= 18 + $ihl;
				# ICMP: its type (0 echo reply, 3 unreachable, 8 echo)
				$what .= "/" . unpack("C", substr($f, 14 + $ihl, 1))
					if $proto == 1 && $len >= 15 + $ihl;
			} elsif ($type == 0x0806) {
				$what = "arp";
			} elsif ($type == 0x86dd && $len >= 54) {
				$what = "ipv6 " . join(":", unpack("H4" x 8, substr($f, 38, 16)));
			} else {
				$what = sprintf("other 0x%04x", $type);
			}
			print "$what\n" unless $seen{$what}++;
		}
	' "${GUEST_LOG[$1]}.pcap" "${GUEST_MAC[$1]}"
}
