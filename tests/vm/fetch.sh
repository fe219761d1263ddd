#!/bin/bash
# fetch.sh - prepare everything the in-kernel VM tests need, once.
#
#   tests/vm/fetch.sh [--headers]
#
# Installs the host packages the VM and its guest scripts use (the guest runs
# host binaries over 9p), picks the newest Debian 6.12 kernel whose headers
# package of the same version is also available, downloads and unpacks it,
# extracts an ELF vmlinux that QEMU boots directly (PVH), and builds a small
# busybox initramfs around tests/vm/init.sh.
#
# Everything lands in ${NETBLK_VM_CACHE:-$NETBLK_BUILD/vm-cache}. A second run
# only checks that the cache is complete and returns. The chosen kernel is
# recorded in $CACHE/kernel.env (NETBLK_VM_KVER, NETBLK_VM_PKGVER, paths), so
# later steps (an out-of-tree module build against linux-headers-$KVER) can
# source it. --headers also installs linux-headers-$KVER on the host.
#
# Never reads stdin; safe to run concurrently (flock on the cache).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${NETBLK_SRC:-$(cd "$here/../.." && pwd)}
build=${NETBLK_BUILD:-$src/build}
cache=${NETBLK_VM_CACHE:-$build/vm-cache}
want_headers=0

for arg in "$@"; do
	case $arg in
	--headers) want_headers=1 ;;
	-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "fetch.sh: unknown argument '$arg'" >&2; exit 2 ;;
	esac
done

log() { echo "fetch.sh: $*" >&2; }
die() { echo "fetch.sh: error: $*" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
exec </dev/null

# command -> Debian package providing it, for everything used on the host or
# inside the guest.
host_tools=(
	qemu-system-x86_64:qemu-system-x86
	qemu-storage-daemon:qemu-system-common
	qemu-img:qemu-utils
	zstd:zstd
	xz:xz-utils
	fio:fio
	mkfs.ext4:e2fsprogs
	dmsetup:dmsetup
	vdpa:iproute2
	ip:iproute2
	modprobe:kmod
	depmod:kmod
	cpio:cpio
	timeout:coreutils
	flock:util-linux
	sha256sum:coreutils
)

apt_updated=0
apt_update_once() {
	if [ "$apt_updated" = 0 ]; then
		log "running apt-get update"
		apt-get update -q >&2 || die "apt-get update failed"
		apt_updated=1
	fi
}

apt_install() {
	log "installing: $*"
	if ! apt-get install -y -q --no-install-recommends "$@" >&2; then
		apt_update_once
		apt-get install -y -q --no-install-recommends "$@" >&2 ||
			die "apt-get install $* failed"
	fi
}

busybox_is_static() {
	[ -x /bin/busybox ] && ! LC_ALL=C ldd /bin/busybox >/dev/null 2>&1
}

ensure_host_tools() {
	local missing=() t cmd pkg
	for t in "${host_tools[@]}"; do
		cmd=${t%%:*}
		pkg=${t#*:}
		if ! PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1; then
			missing+=("$pkg")
		fi
	done
	busybox_is_static || missing+=(busybox-static)
	if [ ${#missing[@]} -gt 0 ]; then
		[ "$(id -u)" = 0 ] || die "missing packages ${missing[*]} and not root to install them"
		mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
		apt_install "${missing[@]}"
	fi
	busybox_is_static || die "/bin/busybox is not a static binary (install busybox-static)"
}

# Candidate version of a package, empty if apt has none.
apt_candidate() {
	apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2 }'
}

# Prints "KVER PKGVER" for the newest linux-image-6.12.*+deb12-amd64-unsigned
# whose linux-headers-KVER has the same package version.
choose_kernel() {
	local pkg kver iv hv
	for pkg in $(apt-cache pkgnames linux-image-6.12. 2>/dev/null |
		grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' | sort -rV); do
		kver=${pkg#linux-image-}
		kver=${kver%-unsigned}
		iv=$(apt_candidate "$pkg")
		hv=$(apt_candidate "linux-headers-$kver")
		if [ -n "$iv" ] && [ "$iv" = "$hv" ]; then
			echo "$kver $iv"
			return 0
		fi
	done
	return 1
}

# The kernel decompressor payload in vmlinuz is one zstd frame; find its magic
# (28 b5 2f fd) and decompress from there. Trailing bytes after the frame make
# zstd complain, so judge success by the ELF header of the result.
extract_vmlinux() {
	local vmlinuz=$1 out=$2 off
	while read -r off; do
		tail -c +"$((off + 1))" "$vmlinuz" | zstd -dcq 2>/dev/null >"$out.tmp" || true
		if [ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
			mv "$out.tmp" "$out"
			return 0
		fi
	done < <(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$vmlinuz" | cut -d: -f1)
	rm -f "$out.tmp"
	return 1
}

# Modules (in load order) the initramfs needs to mount the host root over
# virtio 9p; built-in ones are skipped.
initramfs_modules() {
	local root=$1 kver=$2 m
	for m in virtio_pci netfs 9pnet 9pnet_virtio 9p; do
		/usr/sbin/modprobe -d "$root" -S "$kver" --show-depends "$m" ||
			die "module $m not found in $root"
	done | while read -r cmd path _; do
		[ "$cmd" = insmod ] && echo "$path"
	done | awk '!seen[$0]++'
}

build_initramfs() {
	local root=$1 kver=$2 out=$3 dir ko name
	dir=$(mktemp -d "$cache/initramfs.XXXXXX")
	mkdir -p "$dir/bin" "$dir/lib/modules" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/newroot"
	cp /bin/busybox "$dir/bin/busybox"
	install -m 0755 "$here/init.sh" "$dir/init"
	: >"$dir/modules.list"
	for ko in $(initramfs_modules "$root" "$kver"); do
		name=$(basename "$ko")
		case $name in
		*.xz) xz -dc "$ko" >"$dir/lib/modules/${name%.xz}"; name=${name%.xz} ;;
		*.zst) zstd -dcq "$ko" >"$dir/lib/modules/${name%.zst}"; name=${name%.zst} ;;
		*) cp "$ko" "$dir/lib/modules/$name" ;;
		esac
		echo "$name" >>"$dir/modules.list"
	done
	(cd "$dir" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$out.tmp"
	rm -rf "$dir"
	mv "$out.tmp" "$out"
}

cache_complete() {
	[ -f "$cache/kernel.env" ] || return 1
	# shellcheck source=/dev/null
	. "$cache/kernel.env"
	[ -s "$NETBLK_VM_VMLINUX" ] && [ -s "$NETBLK_VM_INITRAMFS" ] &&
		[ -f "$NETBLK_VM_MODDIR/lib/modules/$NETBLK_VM_KVER/modules.dep" ] &&
		[ "$(cat "$cache/initramfs.sum" 2>/dev/null)" = "$(initramfs_sum)" ]
}

# The initramfs depends on init.sh and on this script.
initramfs_sum() {
	cat "$here/init.sh" "$here/fetch.sh" | sha256sum | cut -d' ' -f1
}

ensure_host_tools
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if ! cache_complete; then
	t0=$(date +%s)
	if [ -f "$cache/kernel.env" ]; then
		# Keep an earlier choice: image and headers must stay matched.
		# shellcheck source=/dev/null
		. "$cache/kernel.env"
		kver=$NETBLK_VM_KVER
		pkgver=$NETBLK_VM_PKGVER
	else
		choice=$(choose_kernel) || { apt_update_once; choice=$(choose_kernel); } ||
			die "no linux-image-6.12.*+deb12-amd64-unsigned with matching linux-headers in apt"
		kver=${choice% *}
		pkgver=${choice#* }
	fi
	log "kernel $kver (package version $pkgver)"

	kdir=$cache/$kver
	root=$kdir/root
	mkdir -p "$cache/debs" "$kdir"
	debs=("$cache/debs/linux-image-${kver}-unsigned_"*.deb)
	deb=${debs[0]}
	if [ ! -f "$deb" ]; then
		log "downloading linux-image-$kver-unsigned=$pkgver"
		(cd "$cache/debs" &&
			{ apt-get download -q "linux-image-$kver-unsigned=$pkgver" >&2 ||
			  { apt_update_once && apt-get download -q "linux-image-$kver-unsigned=$pkgver" >&2; }; }) ||
			die "apt-get download linux-image-$kver-unsigned=$pkgver failed"
		debs=("$cache/debs/linux-image-${kver}-unsigned_"*.deb)
		deb=${debs[0]}
		[ -f "$deb" ] || die "apt-get download left no .deb in $cache/debs"
	fi
	if [ ! -f "$root/lib/modules/$kver/modules.dep" ]; then
		log "unpacking $(basename "$deb")"
		rm -rf "$root"
		dpkg -x "$deb" "$root.tmp"
		# Debian's postinst would run depmod; do it here for modprobe -d.
		/usr/sbin/depmod -b "$root.tmp" "$kver"
		mv "$root.tmp" "$root"
	fi
	if [ ! -s "$kdir/vmlinux" ]; then
		extract_vmlinux "$root/boot/vmlinuz-$kver" "$kdir/vmlinux" ||
			die "no zstd-compressed ELF kernel found in $root/boot/vmlinuz-$kver"
	fi
	build_initramfs "$root" "$kver" "$kdir/initramfs.cpio"
	initramfs_sum >"$cache/initramfs.sum"

	{
		echo "# Written by tests/vm/fetch.sh; image and headers of one version."
		printf 'NETBLK_VM_KVER=%q\n' "$kver"
		printf 'NETBLK_VM_PKGVER=%q\n' "$pkgver"
		printf 'NETBLK_VM_HEADERS_PKG=%q\n' "linux-headers-$kver"
		printf 'NETBLK_VM_VMLINUX=%q\n' "$kdir/vmlinux"
		printf 'NETBLK_VM_INITRAMFS=%q\n' "$kdir/initramfs.cpio"
		printf 'NETBLK_VM_MODDIR=%q\n' "$root"
	} >"$cache/kernel.env.tmp"
	mv "$cache/kernel.env.tmp" "$cache/kernel.env"
	log "cache ready in $(( $(date +%s) - t0 )) s: $cache"
fi

# shellcheck source=/dev/null
. "$cache/kernel.env"
if [ "$want_headers" = 1 ] && ! dpkg -s "$NETBLK_VM_HEADERS_PKG" >/dev/null 2>&1; then
	apt_install "$NETBLK_VM_HEADERS_PKG=$NETBLK_VM_PKGVER"
fi
exit 0
