#!/bin/bash
# A VDUSE device whose server never answers cannot hang the kernel: with
# msg_timeout=2, attaching it (virtio_blk probes, so messages go out) returns
# within the bound, the kernel names the device and the message that timed
# out, no disk appears, and the device can still be detached and destroyed;
# a new device of the same name then works with a real server.
# shellcheck source=tests/vm/guest-lib.sh
. "$NETBLK_SRC/tests/vm/guest-lib.sh"

[ "$VDPA_MGMTDEV" = netblk-vduse ] || fail "run with NETBLK_VDUSE=kmod"
hostile=$NETBLK_BIN/kmod_hostile
[ -x "$hostile" ] || fail "$hostile not built"
command -v qemu-storage-daemon >/dev/null || fail "qemu-storage-daemon not installed on the host"
export NETBLK_KMOD_ARGS="msg_timeout=2"
load_modules

"$hostile" create mute0 1 || fail "create mute0 failed"
[ "$(cat /sys/class/vduse/mute0/msg_timeout)" = 2 ] || fail "msg_timeout attribute is not 2"
t0=$(date +%s)
timeout 60 vdpa dev add name mute0 mgmtdev "$VDPA_MGMTDEV" || log "vdpa dev add mute0 returned $?"
t1=$(date +%s)
log "attach with a silent server returned after $((t1 - t0)) s"
[ $((t1 - t0)) -lt 60 ] || fail "vdpa dev add hung"
dmesg | grep -q "mute0: no answer to .* within 2 s" || fail "no timeout message in the kernel log"
ls /sys/bus/vdpa/devices/mute0/virtio*/block >/dev/null 2>&1 && fail "a disk appeared without a server"
timeout 60 vdpa dev del mute0 || fail "vdpa dev del of a timed-out device failed or hung"
wait_gone /sys/bus/vdpa/devices/mute0 10
"$hostile" destroy mute0 || fail "destroying the timed-out device failed"
wait_gone /dev/vduse/mute0 5

# Same name, a server that answers: a working disk.
truncate -s 16M /tmp/mute0.img
bg_start qsd qemu-storage-daemon \
	--blockdev "driver=file,node-name=file0,filename=/tmp/mute0.img,cache.direct=off" \
	--export "type=vduse-blk,id=e0,node-name=file0,name=mute0,writable=on,num-queues=1"
qsd_pid=$BG_PID
blk=$(vdpa_attach mute0)
head -c 1M /dev/urandom >/tmp/in.bin
dd if=/tmp/in.bin of="$blk" bs=64k oflag=direct status=none || fail "write to $blk failed"
cmp -n $((1 << 20)) /tmp/in.bin /tmp/mute0.img || fail "backing file differs from what was written"
vdpa_detach mute0
bg_stop "$qsd_pid" || fail "qemu-storage-daemon exited with $?"
# The timeout message is expected; nothing worse.
check_dmesg_clean
log "timeout test done"
