#!/bin/bash
# Proves the VM harness and the guest's VDUSE stack with a known-good VDUSE
# server: qemu-storage-daemon exports a file as a vduse-blk device, vdpa
# attaches it as a virtio-blk disk, and an ext4 filesystem written through it
# keeps its files' contents across an unmount/remount, across detaching and
# re-attaching the disk, and across a restart of the daemon on the same
# backing file. Ends with a clean kernel log.
# shellcheck source=tests/vm/guest-lib.sh
. "$NETBLK_SRC/tests/vm/guest-lib.sh"

dev=smoke0
img=/tmp/smoke0.img
mnt=/tmp/mnt

command -v qemu-storage-daemon >/dev/null || fail "qemu-storage-daemon not installed on the host"
load_modules

start_qsd() {
	bg_start qsd qemu-storage-daemon \
		--blockdev "driver=file,node-name=file0,filename=$img,cache.direct=off" \
		--export "type=vduse-blk,id=e0,node-name=file0,name=$dev,writable=on,num-queues=2"
	qsd_pid=$BG_PID
}

stop_qsd() {
	bg_stop "$qsd_pid" || fail "qemu-storage-daemon exited with status $? on SIGTERM"
	wait_gone "/dev/vduse/$dev" 10
}

on_exit "umount $mnt 2>/dev/null; vdpa dev del $dev 2>/dev/null"

truncate -s 128M "$img"
start_qsd
blk=$(vdpa_attach $dev)
log "vduse device $dev is $blk ($(cat "/sys/block/${blk#/dev/}/size") sectors)"
[ "$(blockdev --getsize64 "$blk")" = $((128 << 20)) ] || fail "$blk has the wrong size"

mkfs.ext4 -q -F "$blk" || fail "mkfs.ext4 on $blk failed"
mkdir -p "$mnt"
mount "$blk" "$mnt" || fail "mount $blk failed"
for i in 1 2 3 4; do
	head -c $((i << 20)) /dev/urandom >"$mnt/file$i"
done
mkdir "$mnt/dir"
seq 1 100000 >"$mnt/dir/numbers"
(cd "$mnt" && find . -type f | sort | xargs sha256sum) >/tmp/sums
umount "$mnt"
log "wrote $(wc -l </tmp/sums) files"

check_sums() {
	mount "$blk" "$mnt" || fail "mount $blk failed ($1)"
	(cd "$mnt" && sha256sum --quiet -c /tmp/sums) || fail "file contents differ $1"
	umount "$mnt"
	log "contents intact $1"
}

check_sums "after remount"
vdpa_detach $dev
blk=$(vdpa_attach $dev)
check_sums "after vdpa del/add"
vdpa_detach $dev
stop_qsd
start_qsd
blk=$(vdpa_attach $dev)
check_sums "after restarting qemu-storage-daemon"
vdpa_detach $dev
stop_qsd
check_dmesg_clean
log "smoke test done"
