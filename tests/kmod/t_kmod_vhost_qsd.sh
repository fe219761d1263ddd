#!/bin/bash
# vhost-vdpa on netblk_vduse.ko: qemu-storage-daemon's vduse-blk export bound
# to vhost_vdpa (no virtio_vdpa), driven by vhost-blk-test: its mappings
# reach the server as VDUSE_UPDATE_IOTLB and are served by
# VDUSE_IOTLB_GET_FD. verify, remap (idle queues), reset, and write-file/
# read-file against the backing file's bytes; clean kernel log.
# shellcheck source=tests/vm/guest-lib.sh
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
# shellcheck source=tests/vhost-vdpa/vhost-lib.sh
. "$NETBLK_SRC/tests/vhost-vdpa/vhost-lib.sh"

[ "$VDPA_MGMTDEV" = netblk-vduse ] || fail "run with NETBLK_VDUSE=kmod"
command -v qemu-storage-daemon >/dev/null || fail "qemu-storage-daemon not installed on the host"
dev=kvh0
img=/tmp/kvh0.img
load_modules vdpa vduse vhost_vdpa
on_exit "vdpa dev del $dev 2>/dev/null"

truncate -s 64M "$img"
bg_start qsd qemu-storage-daemon \
	--blockdev "driver=file,node-name=file0,filename=$img,cache.direct=off" \
	--export "type=vduse-blk,id=e0,node-name=file0,name=$dev,writable=on,num-queues=2,queue-size=128"
qsd_pid=$BG_PID
wait_for "/dev/vduse/$dev" 10
vdpa dev add name "$dev" mgmtdev "$VDPA_MGMTDEV" || fail "vdpa dev add $dev failed"
vhost=$(vhost_wait "$dev")
log "$dev is $vhost"

vbt "$vhost" info
vbt "$vhost" verify --seed 21 --size 8M
vbt "$vhost" verify --seed 22 --size 2M --offset 16M --no-event-idx --no-indirect --seg-align 1 --queues 1
vbt "$vhost" remap --seed 23 --size 4M --rounds 2 --quiesce
vbt "$vhost" reset --seed 24 --size 4M --rounds 3

head -c $((2 << 20)) /dev/urandom >/tmp/in.bin
vbt "$vhost" write-file /tmp/in.bin --offset 40M
dd if="$img" of=/tmp/img.bin bs=1M skip=40 count=2 status=none
cmp /tmp/in.bin /tmp/img.bin || fail "backing file differs from what write-file wrote"
vbt "$vhost" read-file /tmp/out.bin --offset 40M --size 2M
cmp /tmp/in.bin /tmp/out.bin || fail "read-file differs from the backing file"

vdpa dev del "$dev" || fail "vdpa dev del $dev failed"
wait_gone "/sys/bus/vdpa/devices/$dev" 10
bg_stop "$qsd_pid" || fail "qemu-storage-daemon exited with $?"
check_dmesg_clean
log "vhost-vdpa test done"
