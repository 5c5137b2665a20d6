#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# golden-build.sh [--minimal|--debian] [--cache DIR] [--mirror URL] [--force] DIR
#
# Build a Raspberry-Pi-OS-shaped arm64 root tree in DIR from real Debian
# bookworm packages, for `pifs init --golden DIR`: boot/firmware/ as the Pi
# firmware wants it (bootcode.bin, start.elf, fixup.dat from raspi-firmware,
# kernel8.img = the Debian arm64 kernel, the Pi 3B+ device tree under both
# its upstream and its firmware name, config.txt, cmdline.txt, initramfs8),
# the kernel's modules, and a busybox userland with the real libc and
# libcap (setcap/getcap).  The initramfs mounts the NFS root named on the
# kernel command line (root=/dev/nfs nfsroot=SERVER:PATH[,opts] ip=dhcp)
# and switch_roots into it; its /etc/init.d/rcS runs /etc/local.d/*.start.
#
# Nothing of arm64 runs on the host: packages are fetched with apt-get
# using a private state under the cache directory (the system's sources
# and dpkg architectures are left alone) and unpacked with dpkg-deb -x.
# The tree is built in DIR.tmp.XXXXXX and renamed to DIR at the end, so a
# failed build leaves nothing half-built.  Needs root (owners), apt,
# dpkg-deb, depmod (kmod), cpio, gzip, debian-archive-keyring.
set -euo pipefail
umask 022

PROG=golden-build
SUITE=bookworm
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# The NFS-root modules the initramfs loads (their dependencies come from
# modules.dep): virtio for QEMU, the Pi 3B+ USB host and NIC (lan78xx, and
# smsc95xx of the Pi 3B), the Pi's NIC PHY, and a virtio disk with ext4
# (the --debian build's second stage; also root=/dev/... in general).  The golden has these too.
# --debian: debootstrap's minbase and these.
DEBIAN_INCLUDE=systemd-sysv,udev,kmod,libcap2-bin,iproute2,procps
SECOND_STAGE_TIMEOUT=${PIFS_SECOND_STAGE_TIMEOUT:-5400}
INITRD_MODULES_REQUIRED=(virtio_pci virtio_net nfsv3)
INITRD_MODULES_OPTIONAL=(dwc2 lan78xx smsc95xx microchip virtio_blk ext4 crc32c_generic)
GOLDEN_MODULES_EXTRA=(nfsv4 overlay)

say() { echo "$PROG: $*"; }
STEP=0
step() {
	STEP=$((STEP + 1))
	say "[$STEP/$NSTEPS] $*"
}
die() {
	echo "$PROG: error: $*" >&2
	exit 1
}
# progress LINE: for the bar of `pifs golden build` on a terminal, which
# gives the descriptor PIFS_PROGRESS_FD (tools/buildprog.h): "total N
# UNIT" when the step's size is known, then debootstrap's own per-package
# lines ("I: Unpacking X...").  Nothing without it: logs keep the steps.
progress() {
	[ -n "${PIFS_PROGRESS_FD:-}" ] || return 0
	printf '%s\n' "$*" >&"$PIFS_PROGRESS_FD" 2>/dev/null || true
}
# forward LOG SENT PATTERN: LOG's "I: " lines matching PATTERN after the
# first SENT of them, as progress; prints how many there are now
forward() {
	local n
	if [ -z "${PIFS_PROGRESS_FD:-}" ] || [ ! -f "$1" ]; then
		echo "$2"
		return 0
	fi
	n=$(tr -d '\r' <"$1" | grep -cE "^I: ($3) " || true)
	if [ "$n" -gt "$2" ]; then
		tr -d '\r' <"$1" | grep -E "^I: ($3) " | sed -n "$(($2 + 1)),${n}p" |
			while IFS= read -r l; do progress "$l"; done
	fi
	echo "$n"
}
usage() {
	echo "usage: golden-build.sh [--minimal|--debian] [--cache DIR] [--mirror URL] [--force] DIR" >&2
	exit 2
}

FLAVOUR=minimal
CACHE=${PIFS_CACHE:-/var/cache/pifs}/golden
MIRROR=
FORCE=0
DIR=
while [ $# -gt 0 ]; do
	case $1 in
	--minimal) FLAVOUR=minimal ;;
	--debian) FLAVOUR=debian ;;
	--cache) [ $# -ge 2 ] || usage; CACHE=$2; shift ;;
	--cache=*) CACHE=${1#*=} ;;
	--mirror) [ $# -ge 2 ] || usage; MIRROR=$2; shift ;;
	--mirror=*) MIRROR=${1#*=} ;;
	--force) FORCE=1 ;;
	-h | --help)
		sed -n '3,20s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	-*) echo "$PROG: unknown option '$1'" >&2; usage ;;
	*) [ -z "$DIR" ] || usage; DIR=$1 ;;
	esac
	shift
done
[ -n "$DIR" ] || usage
[ -n "$CACHE" ] || usage
NSTEPS=6
[ "$FLAVOUR" = debian ] && NSTEPS=7
DIR=${DIR%/}


[ "$(id -u)" = 0 ] || die "must run as root (the tree's files are owned by root)"
for t in apt-get apt-cache dpkg-deb depmod cpio gzip tar flock sha256sum; do
	command -v "$t" >/dev/null || die "$t missing (apt-get install apt dpkg kmod cpio gzip tar util-linux coreutils)"
done
[ -r "$KEYRING" ] || die "$KEYRING missing (apt-get install debian-archive-keyring)"
if [ -e "$DIR" ] && [ "$FORCE" = 0 ]; then
	die "'$DIR' exists (--force replaces it)"
fi
PARENT=$(dirname -- "$DIR")
[ -d "$PARENT" ] || die "'$PARENT' does not exist"

# ---- the private apt state ----

# host_uri SUFFIX: the first http(s) URI of the host's Debian sources whose
# path ends in SUFFIX ("/debian" or "/debian-security")
host_uri() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		grep -v '^[[:space:]]*#' "$f" | grep -oE 'https?://[^][ "]+' | sed 's#/*$##' | grep -E "$1\$" | sed -n 1p
	done | sed -n 1p
	return 0
}
if [ -z "$MIRROR" ]; then
	MIRROR=$(host_uri /debian)
	MIRROR=${MIRROR:-http://deb.debian.org/debian}
	SECURITY=$(host_uri /debian-security)
	SECURITY=${SECURITY:-${MIRROR}-security}
else
	MIRROR=${MIRROR%/}
	SECURITY=${MIRROR}-security
fi
case $MIRROR in
http://* | https://* | file:/*) ;;
*) die "--mirror '$MIRROR' is not an http://, https:// or file:/ URL" ;;
esac

A=$CACHE/apt
mkdir -p "$A/state/lists/partial" "$A/cache/archives/partial" "$CACHE/debs" "$CACHE/x"
exec {LOCK}>"$CACHE/lock"
if ! flock -n "$LOCK"; then
	say "waiting for another build using $CACHE"
	flock -w 3600 "$LOCK" || die "$CACHE is locked by another build for an hour"
fi

SOURCES="deb [arch=arm64 signed-by=$KEYRING] $MIRROR $SUITE main non-free-firmware
deb [arch=arm64 signed-by=$KEYRING] $MIRROR $SUITE-updates main non-free-firmware
deb [arch=arm64 signed-by=$KEYRING] $SECURITY $SUITE-security main non-free-firmware"
if [ "$(cat "$A/sources.list" 2>/dev/null)" != "$SOURCES" ]; then
	printf '%s\n' "$SOURCES" >"$A/sources.list"
	rm -f "$A/updated" # other sources: the lists must be fetched again
fi
[ -e "$A/status" ] || : >"$A/status"
APT_OPTS=(-o "Dir::State=$A/state" -o "Dir::State::status=$A/status"
	-o "Dir::Cache=$A/cache" -o "Dir::Etc::SourceList=$A/sources.list"
	-o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::Preferences=/dev/null
	-o Dir::Etc::PreferencesParts=/dev/null -o Dir::Etc::Trusted=/dev/null
	-o Dir::Etc::TrustedParts=/dev/null -o APT::Architecture=arm64
	-o APT::Architectures=arm64 -o APT::Sandbox::User=root
	-o Acquire::Languages=none -o Acquire::Retries=2
	-o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30
	-o "Dir::Cache::pkgcache=$A/cache/pkgcache.bin"
	-o "Dir::Cache::srcpkgcache=$A/cache/srcpkgcache.bin"
	-o Debug::NoLocking=1)
apt_get() { apt-get -q "${APT_OPTS[@]}" "$@"; }
apt_cache() { apt-cache "${APT_OPTS[@]}" "$@"; }

have_lists() { ls "$A/state/lists/"*"_${SUITE}_main_binary-arm64_Packages"* >/dev/null 2>&1; }
if [ -e "$A/updated" ] && [ -n "$(find "$A/updated" -mmin -1440)" ] && have_lists; then
	step "package lists: cached ($SUITE arm64, from $MIRROR, $(stat -c %y "$A/updated" | cut -d. -f1))"
else
	step "package lists: fetching $SUITE arm64 main non-free-firmware from $MIRROR"
	if timeout 600 apt-get -q "${APT_OPTS[@]}" update >"$A/update.log" 2>&1 &&
		! grep -Eq '^(E:|Err:)' "$A/update.log" && have_lists; then
		touch "$A/updated"
	elif grep -Eq "^Err:.*-security" "$A/update.log" && ! grep -Eq "^Err:.* $SUITE(-updates)? " "$A/update.log" && have_lists; then
		say "warning: $SECURITY is not reachable: building without security updates"
		touch "$A/updated"
	elif have_lists; then
		say "warning: cannot refresh the package lists (see $A/update.log): using the cached ones"
	else
		tail -5 "$A/update.log" >&2
		die "cannot fetch the package lists from $MIRROR (see $A/update.log)"
	fi
fi

# ---- the packages ----

# The one kernel the meta-package points at (never a glob: the archive
# holds several).
KPKG=$(apt_cache depends linux-image-arm64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$KPKG" ] || die "package 'linux-image-arm64' is not available for arm64 in $SUITE"
KVER=${KPKG#linux-image-}
PACKAGES=(raspi-firmware "$KPKG" busybox-static libc6 libgcc-s1 libcap2 libcap2-bin)

# The candidate of each package: its pool file name and SHA256.
declare -A FILE SUM
while IFS=' ' read -r p f h; do
	FILE[$p]=$f
	SUM[$p]=$h
done < <(apt_cache show --no-all-versions "${PACKAGES[@]}" 2>/dev/null |
	awk '/^Package: /{p=$2} /^Filename: /{f=$2} /^SHA256: /{h=$2} /^$/{ if (p) print p, f, h; p="" } END { if (p) print p, f, h }')

# fetch PKG: print the path of PKG's candidate .deb in the cache,
# downloading it (checked by apt against the signed lists) when missing.
# Cached files are checked against the lists' SHA256.
fetch() {
	local pkg=$1 file=${FILE[$1]:-} sum=${SUM[$1]:-} deb tmp got
	if [ -z "$file" ] || [ -z "$sum" ]; then
		die "package '$pkg' is not available for arm64 in $SUITE ($MIRROR)"
	fi
	deb=$CACHE/debs/${file##*/}
	if [ -f "$deb" ] && [ "$(sha256sum <"$deb" | cut -d' ' -f1)" = "$sum" ]; then
		echo "$deb"
		return
	fi
	tmp=$(mktemp -d "$CACHE/debs/.get.XXXXXX")
	if ! (cd "$tmp" && timeout 1200 apt-get -q "${APT_OPTS[@]}" download "$pkg" >"$tmp/log" 2>&1); then
		sed 's/^/  /' "$tmp/log" | tail -3 >&2
		rm -rf "$tmp"
		die "cannot download package '$pkg' from $MIRROR"
	fi
	got=$(find "$tmp" -maxdepth 1 -name '*.deb' | sed -n 1p)
	if [ -z "$got" ] || [ "$(sha256sum <"$got" | cut -d' ' -f1)" != "$sum" ]; then
		rm -rf "$tmp"
		die "package '$pkg': the download does not match the package lists"
	fi
	mv -f "$got" "$deb"
	rm -rf "$tmp"
	echo "$deb"
}

declare -A DEB
n_get=0
for p in "${PACKAGES[@]}"; do
	f=${FILE[$p]:-}
	[ -n "$f" ] || die "package '$p' is not available for arm64 in $SUITE ($MIRROR)"
	[ -f "$CACHE/debs/${f##*/}" ] || n_get=$((n_get + 1))
done
if [ $n_get = 0 ]; then
	step "packages: cached (${PACKAGES[*]})"
else
	step "packages: downloading $n_get of ${#PACKAGES[@]} (${PACKAGES[*]})"
fi
progress "total ${#PACKAGES[@]} packages"
for p in "${PACKAGES[@]}"; do
	DEB[$p]=$(fetch "$p")
	progress "I: Retrieving $p"
done

# unpacked PKG: the directory holding PKG's .deb unpacked (cached next to
# the .deb, made once; the kernel's also gets its modules.dep).
unpacked() {
	local deb=${DEB[$1]} x tmp
	x=$CACHE/x/$(basename "$deb" .deb)
	if [ ! -d "$x" ]; then
		tmp=$(mktemp -d "$CACHE/x/.unpack.XXXXXX")
		dpkg-deb -x "$deb" "$tmp/root" || die "cannot unpack $deb"
		if [ "$1" = "$KPKG" ]; then
			[ -d "$tmp/root/lib/modules/$KVER" ] || die "package '$KPKG' has no lib/modules/$KVER"
			depmod -b "$tmp/root" "$KVER" || die "depmod failed for $KVER"
		fi
		mv "$tmp/root" "$x"
		rmdir "$tmp"
	fi
	echo "$x"
}

step "unpacking"
declare -A X
progress "total ${#PACKAGES[@]} packages"
for p in "${PACKAGES[@]}"; do
	X[$p]=$(unpacked "$p")
	progress "I: Extracting $p"
done
KX=${X[$KPKG]}
# The cache is only added to from here on (and debootstrap's below takes
# the lock again): other builds may use it while this one goes on.
flock -u "$LOCK"
MODDIR=lib/modules/$KVER

# ---- the tree ----

TMP=$(mktemp -d "$DIR.tmp.XXXXXX")
cleanup_tmp() { if [ -n "${TMP:-}" ]; then rm -rf "$TMP"; fi; }
trap cleanup_tmp EXIT
trap 'exit 130' INT TERM HUP
chmod 755 "$TMP"
R=$TMP/root
IRD=$TMP/initramfs
mkdir -m 755 "$R" "$IRD"

# The busybox applets.  `busybox --list` cannot run here (arm64), so the
# names come from the binary's own table: the sorted, NUL-separated applet
# names that start "[", "[[".  The test boot compares the links with what
# the guest's busybox --list says.
BB=${X[busybox-static]}/bin/busybox
[ -x "$BB" ] || die "package 'busybox-static' has no /bin/busybox"
off=$(grep -obUaP '\x00\[\x00\[\[\x00' "$BB" | sed -n 1p | cut -d: -f1)
[ -n "$off" ] || die "cannot find the applet table in $BB"
mapfile -t APPLETS < <(tail -c +$((off + 2)) "$BB" | tr '\0' '\n' | sed '/^$/q' | sed '/^$/d')
declare -A IS_APPLET
for a in "${APPLETS[@]}"; do
	[[ $a =~ ^[][a-z0-9_.-]+$ ]] || die "busybox applet table: odd name '$a'"
	IS_APPLET[$a]=1
done
for a in sh mount switch_root udhcpc poweroff insmod init getty ip hostname; do
	[ -n "${IS_APPLET[$a]:-}" ] || die "busybox has no '$a' applet (applet table misread?)"
done
# merge SRC [tar exclude options]: copy an unpacked package into the tree,
# keeping the tree's /bin, /sbin and /lib links.
merge() {
	local src=$1
	shift
	tar -C "$src" "$@" -cf - . | tar -C "$R" --keep-directory-symlink --same-owner -xpf -
}

# minimal_root: the busybox root: merged /usr, the packages, the applet
# links, /etc (users, inittab, rcS running /etc/local.d/*.start).
minimal_root() {
	# Raspberry Pi OS bookworm is merged-/usr: /bin, /sbin and /lib are links
	# into /usr, and packages that ship files in /lib land in /usr/lib.
	(
		cd "$R"
		mkdir -p usr/bin usr/sbin usr/lib boot/firmware etc/init.d etc/local.d \
			dev proc sys run tmp var/tmp var/log var/cache var/lib mnt media \
			opt srv home root
		ln -s usr/bin bin
		ln -s usr/sbin sbin
		ln -s usr/lib lib
		ln -s ../run var/run
		chmod 1777 tmp var/tmp
		chmod 700 root
	)

	for p in "${PACKAGES[@]}"; do
		[ "$p" = "$KPKG" ] && continue
		merge "${X[$p]}"
	done
	# The kernel package without its modules (the chosen ones come below) and
	# without the copy of the Image (it is boot/firmware/kernel8.img).
	merge "$KX" --exclude="./$MODDIR" --exclude="./usr/lib/linux-image-$KVER" \
		--exclude="./boot/vmlinuz-$KVER"
	mkdir -p "$R/usr/lib/linux-image-$KVER"
	cp -a "$KX/usr/lib/linux-image-$KVER/broadcom" "$R/usr/lib/linux-image-$KVER/"

	# Where busybox installs them (its applets' BB_DIR_*SBIN); the rest go to
	# /usr/bin.  A file a package ships (setcap, getcap, ...) is kept.
	SBIN_APPLETS=" acpid adjtimex arp blkdiscard blockdev brctl chroot crond depmod devmem fdisk findfs
	 freeramdisk fsfreeze fstrim getty halt hwclock i2cdetect i2cdump i2cget i2cset i2ctransfer ifconfig
	 ifdown ifup init insmod klogd loadkmap logread losetup lsmod mdev mkdosfs mke2fs mkswap modinfo
	 modprobe nameif partprobe pivot_root poweroff rdate reboot rmmod route run-init setkeycodes
	 start-stop-daemon sulogin swapoff swapon switch_root sysctl syslogd telnetd tunctl ubirename
	 udhcpc udhcpd vconfig watchdog"
	SBIN_APPLETS=" ${SBIN_APPLETS//$'\n'/ } "
	BB=$R/usr/bin/busybox
	for a in "${APPLETS[@]}"; do
		case $a in busybox | linuxrc) continue ;; esac
		if [[ $SBIN_APPLETS == *" $a "* ]]; then
			[ -e "$R/usr/sbin/$a" ] || [ -L "$R/usr/sbin/$a" ] || ln -s ../bin/busybox "$R/usr/sbin/$a"
		else
			[ -e "$R/usr/bin/$a" ] || [ -L "$R/usr/bin/$a" ] || ln -s busybox "$R/usr/bin/$a"
		fi
	done
	printf '%s\n' "${APPLETS[@]}" >"$R/usr/lib/pifs-golden-applets"

	cat >"$R/etc/hostname" <<'EOF'
raspberrypi
EOF
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\traspberrypi\n' >"$R/etc/hosts"
	cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
pi:x:1000:1000:,,,:/home/pi:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
	cat >"$R/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
adm:x:4:pi
tty:x:5:
disk:x:6:
shadow:x:42:
sudo:x:27:pi
video:x:44:pi
users:x:100:pi
pi:x:1000:
nogroup:x:65534:
EOF
	# Locked passwords, as Raspberry Pi OS ships (set one with passwd).
	cat >"$R/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
pi:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
	chown 0:42 "$R/etc/shadow"
	chmod 640 "$R/etc/shadow"
	mkdir -m 755 "$R/home/pi"
	chown 1000:1000 "$R/home/pi"
	cat >"$R/etc/fstab" <<'EOF'
# The root is the worker's NFS root (mounted by the initramfs) and
# /boot/firmware is part of it: no SD-card partitions here.
proc            /proc           proc    defaults          0       0
EOF
	cat >"$R/usr/lib/os-release" <<EOF
PRETTY_NAME="pifs minimal golden (Debian 12 bookworm arm64 packages, busybox userland)"
NAME="pifs golden"
VARIANT="minimal"
VARIANT_ID=minimal
ID=pifs-golden
ID_LIKE=debian
VERSION_CODENAME=$SUITE
BUILD_ID="kernel $KVER, $(printf '%s ' "${PACKAGES[@]}" | sed 's/ $//')"
EOF
	ln -s ../usr/lib/os-release "$R/etc/os-release"
	{
		echo "# package version sha256: the Debian $SUITE arm64 packages this golden was built from"
		for p in "${PACKAGES[@]}"; do
			echo "$p $(dpkg-deb -f "${DEB[$p]}" Version) ${SUM[$p]}"
		done
	} >"$R/usr/lib/pifs-golden-packages"
	printf 'Welcome to the pifs minimal golden: a busybox userland on the Debian %s kernel %s.\n' "$SUITE" "$KVER" >"$R/etc/motd"
	echo /bin/sh >"$R/etc/shells"

	cat >"$R/etc/inittab" <<'EOF'
# busybox init: bring the system up, then a shell on the console
::sysinit:/etc/init.d/rcS
console::askfirst:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
::shutdown:/bin/umount -a -r
::restart:/sbin/init
EOF
	cat >"$R/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# /etc/init.d/rcS of the pifs golden (busybox init's sysinit): the kernel
# file systems, the hostname, loopback, then every executable
# /etc/local.d/*.start in order (Alpine's convention: how a worker is given
# a job).  The network and the NFS root were set up by the initramfs.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
# mounted DIR: DIR is a mount point (the initramfs moved /dev, /proc,
# /sys and /run here already)
mounted() { [ -r /proc/mounts ] && awk -v d="$1" '$2 == d { f = 1 } END { exit !f }' /proc/mounts; }
mounted /proc || mount -t proc -o nosuid,nodev,noexec proc /proc
mounted /sys || mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mounted /dev || mount -t devtmpfs -o nosuid devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mounted /dev/pts || mount -t devpts -o nosuid,noexec,gid=5,mode=620 devpts /dev/pts
mounted /run || mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs /run
mounted /tmp || mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
[ -s /etc/hostname ] && hostname -F /etc/hostname
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
echo "pifs-golden: up as $(hostname)"
for f in /etc/local.d/*.start; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	echo "pifs-golden: running $f"
	"$f" || echo "pifs-golden: $f exited with status $?"
done
EOF
	chmod 755 "$R/etc/init.d/rcS"
	cat >"$R/etc/local.d/README" <<'EOF'
Every executable *.start file here is run in order, as root, at the end of
boot by /etc/init.d/rcS (its output goes to the console).
EOF
}

# debian_root: debootstrap's first stage (downloads and unpacks, runs
# nothing).  second_stage completes it; the firmware and the kernel
# package are unpacked over it after that (debian_finish).
debian_root() {
	rmdir "$R"
	mkdir -p "$CACHE/debootstrap"
	flock -w 3600 "$LOCK" || die "$CACHE is locked by another build for an hour"
	# the bar's size: as many packages as the last build validated (its
	# downloads are cached), unknown for the first
	progress "total $(find "$CACHE/debootstrap" -maxdepth 1 -name '*.deb' | wc -l) packages"
	timeout 3600 debootstrap --foreign --arch=arm64 --variant=minbase --merged-usr \
		--keyring="$KEYRING" --cache-dir="$CACHE/debootstrap" \
		--components=main,non-free-firmware --include="$DEBIAN_INCLUDE" \
		"$SUITE" "$R" "$MIRROR" >"$TMP/debootstrap.log" 2>&1 &
	local pid=$! sent=0 rc=0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		sent=$(forward "$TMP/debootstrap.log" "$sent" Validating)
	done
	wait "$pid" || rc=$?
	if [ $rc != 0 ]; then
		tail -5 "$TMP/debootstrap.log" >&2
		cp "$TMP/debootstrap.log" "$CACHE/debootstrap.log"
		die "debootstrap --foreign failed (see $CACHE/debootstrap.log)"
	fi
	flock -u "$LOCK"
	# the first stage leaves proc -> /proc (for a chroot): the second
	# stage boots with /proc mounted there
	if [ -L "$R/proc" ]; then
		rm "$R/proc"
		mkdir -m 555 "$R/proc"
	fi
}

# second_stage: debootstrap --second-stage inside an arm64 QEMU guest
# (TCG, no network) booting the golden's kernel and initramfs with the
# tree as its root on a virtio disk: an ext4 image made from the tree by
# mke2fs -d (owners, modes, xattrs, links), copied back from a read-only
# loop mount afterwards.  (A virtio 9p root was tried first: dpkg over 9p
# under TCG managed two packages a minute.)  Then the pi user.
second_stage() {
	local log=$TMP/second-stage.log img=$TMP/root.img mnt=$TMP/mnt pid t0 rc n sent
	cat >"$R/pifs-second-stage" <<'EOF'
#!/bin/sh
# run once by golden-build.sh --debian under QEMU, then removed
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
# /dev is the kernel's devtmpfs here (moved in by the initramfs): let
# debootstrap skip making its own device nodes, as in a container.
container=lxc
export container
echo "pifs-second-stage: debootstrap --second-stage"
if /debootstrap/debootstrap --second-stage; then
	useradd -m -u 1000 -U -s /bin/bash -c ,,, pi &&
		passwd -l pi >/dev/null && passwd -l root >/dev/null &&
		echo "pifs-second-stage: ok"
else
	echo "pifs-second-stage: failed"
	tail -40 /debootstrap/debootstrap.log
fi
sync
mount -o remount,ro / 2>/dev/null
# No poweroff without systemd running: the kernel's own, through /proc.
# debootstrap unmounts /proc on its way out: mount it again, or the
# echo makes a file in the tree and the exit below panics the guest.
[ -r /proc/self/stat ] || mount -t proc proc /proc
echo o >/proc/sysrq-trigger
sleep 10
echo "pifs-second-stage: no power-off"
exit 1
EOF
	chmod 755 "$R/pifs-second-stage"
	# dpkg writes fewer, larger files than it unpacks: 3 GiB is room enough
	mke2fs -q -t ext4 -d "$R" -L pifsroot -E root_owner=0:0 "$img" 3G >/dev/null ||
		die "mke2fs -d $R failed"
	# two steps per package: unpacked, configured
	progress "total $((2 * $(find "$R/var/cache/apt/archives" -maxdepth 1 -name '*.deb' 2>/dev/null | wc -l))) steps"
	t0=$(date +%s)
	qemu-system-aarch64 -M virt -cpu cortex-a53 -smp 2 -m 1024 -nographic -no-reboot \
		-monitor none -serial "file:$log" -nic none \
		-kernel "$KX/boot/vmlinuz-$KVER" -initrd "$TMP/initramfs8" \
		-append "root=/dev/vda rootfstype=ext4 rw init=/pifs-second-stage console=ttyAMA0 panic=-1" \
		-drive "file=$img,format=raw,if=virtio,cache=unsafe" \
		</dev/null >"$log.qemu" 2>&1 &
	pid=$!
	n=0 sent=0
	while kill -0 "$pid" 2>/dev/null; do
		if [ $(($(date +%s) - t0)) -ge "$SECOND_STAGE_TIMEOUT" ]; then
			kill "$pid"
			wait "$pid"
			cp "$log" "$CACHE/second-stage.log"
			die "the second stage did not finish in $SECOND_STAGE_TIMEOUT s (console: $CACHE/second-stage.log)"
		fi
		sleep 5
		sent=$(forward "$log" "$sent" 'Unpacking|Configuring')
		n=$((n + 1))
		if [ $((n % 24)) = 0 ]; then
			say "  second stage: $((($(date +%s) - t0) / 60)) min, $(tr -d '\r' <"$log" | grep -c '^I: ') debootstrap steps"
		fi
	done
	rc=0
	wait "$pid" || rc=$?
	cp "$log" "$CACHE/second-stage.log"
	# A panic is a failure too: QEMU exits 0 after one (-no-reboot).
	if [ $rc != 0 ] || ! tr -d '\r' <"$log" | grep -qx 'pifs-second-stage: ok' ||
		tr -d '\r' <"$log" | grep -q 'Kernel panic'; then
		tr -d '\r' <"$log" | grep -vE '^\[ *[0-9]' | tail -15 >&2
		die "the second stage failed (QEMU exit $rc; console: $CACHE/second-stage.log)"
	fi
	say "  second stage: done in $(($(date +%s) - t0)) s; copying the tree back"
	# the guest cannot unmount its root: replay the journal here
	rc=0
	e2fsck -fy "$img" >"$TMP/e2fsck.log" 2>&1 || rc=$?
	[ $rc -lt 4 ] || { cat "$TMP/e2fsck.log" >&2; die "the second stage's disk is damaged (e2fsck exit $rc)"; }
	mkdir "$mnt"
	mount -o loop,ro "$img" "$mnt" || die "cannot loop-mount $img"
	rm -rf "$R"
	mkdir -m 755 "$R"
	rc=0
	cp -a "$mnt/." "$R/" || rc=$?
	umount "$mnt"
	rm -f "$img"
	[ $rc = 0 ] || die "cannot copy the tree back from the second stage's disk"
	rm -rf "$R/lost+found"
	[ ! -e "$R/debootstrap" ] || die "the second stage left /debootstrap behind"
	[ -z "$(ls -A "$R/proc")" ] || die "the second stage left files in /proc: $(ls -A "$R/proc" | head -3 | tr '\n' ' ')"
	rm -f "$R/pifs-second-stage"
}

# debian_finish: the firmware and the whole kernel package unpacked over
# the Debian root (dpkg does not know them), and the golden's settings.
debian_finish() {
	merge "${X[raspi-firmware]}"
	merge "$KX"
	mkdir -p "$R/boot/firmware" "$R/etc/local.d"

	# The golden's settings, as the minimal one's: its name, no SD card in
	# fstab, and /etc/local.d/*.start run at boot by a unit.
	echo raspberrypi >"$R/etc/hostname"
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\traspberrypi\n' >"$R/etc/hosts"
	cat >"$R/etc/fstab" <<'EOF'
# The root is the worker's NFS root (mounted by the initramfs) and
# /boot/firmware is part of it: no SD-card partitions here.
proc            /proc           proc    defaults          0       0
EOF
	cat >"$R/etc/systemd/system/pifs-local.service" <<'EOF'
[Unit]
Description=pifs: run /etc/local.d/*.start (a worker's job)
After=multi-user.target

[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/sh -c 'echo "pifs-golden: up as $$(hostname)"; for f in /etc/local.d/*.start; do [ -f "$$f" ] && [ -x "$$f" ] || continue; echo "pifs-golden: running $$f"; "$$f" || echo "pifs-golden: $$f exited with status $$?"; done'

[Install]
WantedBy=multi-user.target
EOF
	mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
	ln -sf ../pifs-local.service "$R/etc/systemd/system/multi-user.target.wants/pifs-local.service"
	cat >"$R/etc/local.d/README" <<'EOF'
Every executable *.start file here is run in order, as root, at the end of
boot by pifs-local.service (its output goes to the console).
EOF
	{
		echo "# package version sha256: the Debian $SUITE arm64 packages unpacked over debootstrap's root"
		for p in raspi-firmware "$KPKG"; do
			echo "$p $(dpkg-deb -f "${DEB[$p]}" Version) ${SUM[$p]}"
		done
	} >"$R/usr/lib/pifs-golden-packages"
}
# The kernel's modules: the initramfs's, and the minimal golden's.
# Module names as modules.dep spells them (path), for one name with - or _.
declare -A MODPATH MODDEPS
while IFS= read -r line; do
	p=${line%%:*}
	n=${p##*/}
	n=${n%%.ko*}
	MODPATH[${n//-/_}]=$p
	MODDEPS[$p]=${line#*:}
done <"$KX/$MODDIR/modules.dep"
builtin_mod() { sed 's#.*/##; s#\.ko.*##; s#-#_#g' "$KX/$MODDIR/modules.builtin" | grep -x -- "${1//-/_}" >/dev/null; }
# closure VAR NAME...: append to array VAR the module paths of NAME... and
# their dependencies, dependencies first (a load order for insmod).
declare -A SEEN
visit() {
	local -n out=$1
	local p=$2 deps i
	[ -n "${SEEN[$1:$p]:-}" ] && return
	SEEN[$1:$p]=1
	read -ra deps <<<"${MODDEPS[$p]}"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do visit "$1" "${deps[i]}"; done
	out+=("$p")
}
closure() {
	local var=$1 required=$2 m
	shift 2
	for m in "$@"; do
		if [ -n "${MODPATH[${m//-/_}]:-}" ]; then
			visit "$var" "${MODPATH[${m//-/_}]}"
		elif builtin_mod "$m"; then
			:
		elif [ "$required" = 1 ]; then
			die "kernel $KVER has no module '$m'"
		else
			say "warning: kernel $KVER has no module '$m'"
		fi
	done
}
INITRD_ORDER=()
closure INITRD_ORDER 1 "${INITRD_MODULES_REQUIRED[@]}"
closure INITRD_ORDER 0 "${INITRD_MODULES_OPTIONAL[@]}"
GOLDEN_MODS=("${INITRD_ORDER[@]}")
closure GOLDEN_MODS 0 "${GOLDEN_MODULES_EXTRA[@]}"

# copy_modules ROOT PATH...: the modules, the kernel's module lists and a
# fresh modules.dep (depmod reads the arm64 ELF files; nothing runs).
copy_modules() {
	local root=$1 p
	shift
	mkdir -p "$root/$MODDIR"
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		cp -a "$KX/$MODDIR/$f" "$root/$MODDIR/"
	done
	for p in "$@"; do
		mkdir -p "$root/$MODDIR/${p%/*}"
		cp -a "$KX/$MODDIR/$p" "$root/$MODDIR/$p"
	done
	depmod -b "$root" "$KVER" || die "depmod failed in $root"
}
step "initramfs8: busybox, ${#INITRD_ORDER[@]} modules, /init"
(
	cd "$IRD"
	mkdir -p bin dev etc proc sys run tmp newroot lib
	ln -s bin sbin
	chmod 1777 tmp
	mknod -m 600 dev/console c 5 1
	mknod -m 666 dev/null c 1 3
)
cp -a "$BB" "$IRD/bin/busybox"
for a in "${APPLETS[@]}"; do
	case $a in busybox | linuxrc) continue ;; esac
	ln -s busybox "$IRD/bin/$a"
done
copy_modules "$IRD" "${INITRD_ORDER[@]}"
printf '%s\n' "${INITRD_ORDER[@]}" >"$IRD/etc/modules.load"
cat >"$IRD/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc hook of the pifs initramfs: set the address and the default route,
# and keep the lease's values in /run/dhcp/ (one file each) for /init.
# No DNS: nothing here resolves names.
case $1 in
deconfig)
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound | renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface" || exit 1
	if [ -n "$router" ]; then
		set -- $router
		ip route replace default via "$1" dev "$interface"
	fi
	mkdir -p /run/dhcp
	for v in ip mask router siaddr serverid hostname; do
		eval "printf '%s\n' \"\$$v\"" >/run/dhcp/$v
	done
	;;
esac
exit 0
EOF
chmod 755 "$IRD/etc/udhcpc.script"
cat >"$IRD/init" <<'EOF'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the pifs golden's initramfs8: mount the NFS root named on the
# kernel command line and switch to it (or a local root=/dev/...).
#   root=/dev/nfs nfsroot=[SERVER:]PATH[,OPTIONS] ip=dhcp|CLIENT:SERVER:GW:MASK:HOST:DEV:off
#   (or root=/dev/...|UUID=...|LABEL=... [rootfstype=ext4])
#   [rw|ro] [init=/sbin/init] [pifs.onerror=poweroff|reboot|shell]
# One line per step, "pifs-initramfs: ...".  On any failure it says why
# and powers the machine off (a test guest exits instead of hanging).
PATH=/sbin:/bin
export PATH
say() { echo "pifs-initramfs: $*"; }
onerror=poweroff
die() {
	say "error: $*"
	case $onerror in
	shell) say "starting a shell"; sh ;;
	reboot) say "rebooting"; sync; reboot -f ;;
	*) say "powering off"; sync; poweroff -f ;;
	esac
	sleep 5
	exit 1 # the kernel panics (panic= then reboots)
}

mount -t proc -o nosuid,nodev,noexec proc /proc || die "cannot mount /proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || die "cannot mount /sys"
mount -t devtmpfs -o nosuid devtmpfs /dev || die "cannot mount /dev"
mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs /run

root='' nfsroot='' ipconf=dhcp init=/sbin/init mode=ro rootfstype='' blk=''
read -r cmdline </proc/cmdline
set -f
for arg in $cmdline; do
	case $arg in
	root=*) root=${arg#root=} ;;
	nfsroot=*) nfsroot=${arg#nfsroot=} ;;
	ip=*) ipconf=${arg#ip=} ;;
	init=*) init=${arg#init=} ;;
	rootfstype=*) rootfstype=${arg#rootfstype=} ;;
	rw) mode=rw ;;
	ro) mode=ro ;;
	pifs.onerror=*) onerror=${arg#pifs.onerror=} ;;
	esac
done
set +f
say "kernel $(uname -r), command line: $cmdline"
case $root in
/dev/nfs) [ -n "$nfsroot" ] || die "root=/dev/nfs without nfsroot=SERVER:PATH" ;;
/dev/?* | UUID=?* | LABEL=?*) ;;
*) die "root=$root: this initramfs mounts root=/dev/nfs (or a local root=/dev/..., UUID=, LABEL=)" ;;
esac

kver=$(uname -r)
[ -d "/lib/modules/$kver" ] || die "no modules for kernel $kver in this initramfs (it was built for $(ls /lib/modules))"
mods=
while read -r m; do
	insmod "/lib/modules/$kver/$m" || die "cannot load module $m"
	m=${m##*/}
	mods="$mods ${m%%.ko*}"
done </etc/modules.load
say "loaded modules:$mods"

# nfs_root: the network (ip=), then server:path (nfsroot=) on /newroot
nfs_root() {
	# nfsroot=[SERVER:]PATH[,OPTIONS]
	spec=${nfsroot%%,*}
	nfsopts=
	[ "$spec" = "$nfsroot" ] || nfsopts=${nfsroot#*,}
	server=
	path=$spec
	case $spec in *:*) server=${spec%%:*} path=${spec#*:} ;; esac
	case $path in /*) ;; *) die "nfsroot=$nfsroot: the path must be absolute" ;; esac

	# ip=dhcp (or on/any/both/bootp) or the kernel's static form
	# CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF
	dev='' client='' gw='' netmask='' dhcp=1
	case $ipconf in
	"" | dhcp | on | any | both | bootp) ;;
	off | none) die "ip=$ipconf: an NFS root needs the network" ;;
	*:*)
		IFS=: read -r client ipserver gw netmask _host dev auto <<IPCONF
$ipconf
IPCONF
		case ${auto:-off} in
		off | none | static) [ -n "$client" ] || die "ip=$ipconf: no client address"; dhcp= ;;
		*) ;;
		esac
		[ -z "$server" ] && server=$ipserver
		;;
	*) die "ip=$ipconf: not understood (ip=dhcp or CLIENT:SERVER:GW:MASK:HOST:DEV:off)" ;;
	esac

	# the first ethernet interface (a USB NIC may take a few seconds to appear)
	first_ether() {
		local n
		for n in /sys/class/net/eth* /sys/class/net/en* /sys/class/net/*; do
			[ -e "$n/type" ] || continue
			[ "${n##*/}" = lo ] && continue
			[ "$(cat "$n/type")" = 1 ] && { echo "${n##*/}"; return 0; }
		done
		return 1
	}
	i=0
	while :; do
		if [ -n "$dev" ]; then
			[ -e "/sys/class/net/$dev" ] && break
		elif dev=$(first_ether); then
			break
		fi
		i=$((i + 1))
		[ $i -ge 30 ] && die "no ethernet interface${dev:+ $dev} after 30 s"
		sleep 1
	done
	ip link set lo up
	ip link set "$dev" up || die "cannot bring $dev up"
	if [ -n "$dhcp" ]; then
		say "$dev: DHCP"
		udhcpc -i "$dev" -f -q -n -t 10 -T 3 -s /etc/udhcpc.script >/run/udhcpc.log 2>&1 ||
			{ cat /run/udhcpc.log; die "$dev: no DHCP lease after 10 tries"; }
		read -r addr </run/dhcp/ip
		read -r mask </run/dhcp/mask
		read -r router </run/dhcp/router
		read -r siaddr </run/dhcp/siaddr
		read -r serverid </run/dhcp/serverid
		say "$dev: $addr/$mask, gateway ${router:-none}, DHCP server $serverid"
		if [ -z "$server" ]; then
			server=$siaddr
			[ -n "$server" ] && [ "$server" != 0.0.0.0 ] || server=$serverid
		fi
	else
		ip addr add "$client/${netmask:-255.255.255.0}" dev "$dev" || die "ip=$ipconf: cannot set $client on $dev"
		[ -n "$gw" ] && { ip route add default via "$gw" dev "$dev" || die "ip=$ipconf: cannot route via $gw"; }
		addr=$client
		say "$dev: $client (static)"
	fi
	# An address, never a name: there is no DNS here.
	case $server in
	"" | *[!0-9.]*) die "nfsroot=$nfsroot: the server must be an IPv4 address (got '$server')" ;;
	esac
	path=$(echo "$path" | sed "s/%s/$addr/g")

	opts="vers=3,nolock,tcp${nfsopts:+,$nfsopts},$mode"
	tries=10
	n=1
	say "mounting $server:$path"
	until err=$(mount -t nfs -o "$opts" "$server:$path" /newroot 2>&1); do
		say "mount $server:$path ($opts) failed, try $n of $tries: $err"
		[ $n -ge $tries ] && die "cannot mount $server:$path: $err"
		n=$((n + 1))
		sleep 3
	done
	say "mounted $server:$path ($mode)"
}

case $root in
/dev/nfs) nfs_root ;;
*)
	# a local root (/dev/..., UUID=, LABEL=): a disk, or the --debian
	# build's second stage on QEMU's virtio disk
	i=0
	while :; do
		case $root in
		/dev/*) blk=$root ;;
		*) blk=$(findfs "$root" 2>/dev/null) ;;
		esac
		[ -n "$blk" ] && [ -b "$blk" ] && break
		i=$((i + 1))
		[ $i -ge 30 ] && die "root=$root: no such block device after 30 s"
		sleep 1
	done
	say "mounting $blk (${rootfstype:-ext4})"
	mount -t "${rootfstype:-ext4}" -o "$mode" "$blk" /newroot || die "cannot mount $blk"
	server=$blk path=
	;;
esac
# in_root PATH: PATH exists and is executable in /newroot, its symlinks
# followed there (Debian's /sbin/init -> /lib/systemd/systemd is absolute)
in_root() {
	p=$1 n=0
	while [ $n -lt 20 ]; do
		if [ -L "/newroot$p" ]; then
			l=$(readlink "/newroot$p")
			case $l in /*) p=$l ;; *) p=${p%/*}/$l ;; esac
			n=$((n + 1))
		else
			[ -f "/newroot$p" ] && [ -x "/newroot$p" ]
			return
		fi
	done
	return 1
}
in_root "$init" || die "$init is missing or not executable on $server:$path"
for m in dev proc sys run; do
	if [ -d "/newroot/$m" ] && [ ! -L "/newroot/$m" ]; then
		mount -o move "/$m" "/newroot/$m" || die "cannot move /$m to the new root"
	else
		umount "/$m"
	fi
done
say "switching to the ${nfsroot:+NFS }root, running $init"
exec switch_root /newroot "$init"
die "switch_root to $server:$path failed"
EOF
chmod 755 "$IRD/init"
# Reproducible: fixed times (the kernel's), owners root, sorted entries.
epoch=$(stat -c %Y "$KX/boot/vmlinuz-$KVER")
find "$IRD" -exec touch -h -d "@$epoch" {} +
(cd "$IRD" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -6n >"$TMP/initramfs8"
rm -rf "$IRD"

case $FLAVOUR in
minimal)
	step "root tree: merged /usr, packages, busybox, /etc"
	minimal_root
	;;
debian)
	command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install debootstrap)"
	command -v qemu-system-aarch64 >/dev/null || die "qemu-system-aarch64 missing (apt-get install qemu-system-arm)"
	step "root tree: debootstrap --foreign $SUITE arm64 minbase + $DEBIAN_INCLUDE"
	debian_root
	step "second stage: debootstrap --second-stage in an arm64 QEMU guest (TCG, up to $((SECOND_STAGE_TIMEOUT / 60)) min)"
	second_stage
	debian_finish
	;;
esac

if [ "$FLAVOUR" = minimal ]; then
	copy_modules "$R" "${GOLDEN_MODS[@]}"
fi # debian: all of them, with the kernel package

step "boot/firmware: firmware, kernel8.img, device trees, config.txt, cmdline.txt"
FW=$R/boot/firmware
RPF=$R/usr/lib/raspi-firmware
for f in bootcode.bin start.elf fixup.dat; do
	[ -f "$RPF/$f" ] || die "package 'raspi-firmware' has no $f"
done
cp -a "$RPF"/*.bin "$RPF"/*.elf "$RPF"/*.dat "$FW/"
cp -a "$KX/boot/vmlinuz-$KVER" "$FW/kernel8.img"
DTB=$KX/usr/lib/linux-image-$KVER/broadcom
[ -f "$DTB/bcm2837-rpi-3-b-plus.dtb" ] || die "package '$KPKG' has no broadcom/bcm2837-rpi-3-b-plus.dtb"
cp -a "$DTB"/bcm27*-rpi-*.dtb "$DTB"/bcm2837-rpi-*.dtb "$FW/"
# The Pi firmware asks for the downstream names (the seed's TFTP log:
# bcm2710-rpi-3-b-plus.dtb); Debian ships the upstream ones.
cp -a "$DTB/bcm2837-rpi-3-b-plus.dtb" "$FW/bcm2710-rpi-3-b-plus.dtb"
cp -a "$DTB/bcm2837-rpi-3-b.dtb" "$FW/bcm2710-rpi-3-b.dtb"
cp "$TMP/initramfs8" "$FW/initramfs8"
cat >"$FW/config.txt" <<'EOF'
# pifs golden: Raspberry Pi 3B/3B+/4 in 64-bit mode, network boot.
# The kernel is Debian's arm64 kernel; the initramfs mounts the NFS root
# named in cmdline.txt.
arm_64bit=1
kernel=kernel8.img
initramfs initramfs8 followkernel
enable_uart=1
EOF
echo 'console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=10.1.1.100:/nfsroot/pi,vers=3,tcp rw ip=dhcp rootwait' \
	>"$FW/cmdline.txt"

chown 0:0 "$R"
chmod 755 "$R"
if [ -e "$DIR" ]; then
	mv "$DIR" "$TMP/old"
fi
mv "$R" "$DIR"
rm -rf "$TMP"
TMP=
say "done: $DIR ($FLAVOUR, kernel $KVER, $(du -sh "$DIR" | cut -f1))"
