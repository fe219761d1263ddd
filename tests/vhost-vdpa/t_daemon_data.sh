#!/bin/bash
# vduse-netblk behind vhost_vdpa: vhost-blk-test's verify passes (pattern
# read back, flush, write-zeroes, discard, mixed requests, error paths) on
# one and two queues, with and without EVENT_IDX/INDIRECT_DESC and with
# segments split anywhere; and the bytes on the device are the cluster's:
# the whole volume read through vhost-vdpa equals netblk-cli export,
# a file written with write-file is what export returns, and what
# netblk-cli import writes is what read-file returns. Served --read-only,
# the device offers RO, refuses writes with IOERR and reads the same bytes.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"
. "$NETBLK_SRC/tests/vhost-vdpa/vhost-lib.sh"

[ -x "$DAEMON_BIN" ] || fail "$DAEMON_BIN not built"
load_modules vdpa vduse vhost_vdpa
start_mock n1 7001 --volume vvol:32M
start_daemon_vhost vbd0 --cluster 127.0.0.1:7001 --volume vvol --queues 2

vbt "$VHOST" info
vbt "$VHOST" verify --seed 21 --size 16M --offset 8M
vbt "$VHOST" verify --seed 22 --size 4M --offset 4M --queues 1 --no-event-idx --no-indirect --seg-align 1
daemon_alive vbd0

vbt "$VHOST" read-file /tmp/dev.bin
cli --cluster 127.0.0.1:7001 --volume vvol export /tmp/cluster.bin >/dev/null || fail "netblk-cli export failed"
cmp /tmp/dev.bin /tmp/cluster.bin || fail "the volume read through $VHOST differs from netblk-cli export"
log "32 MiB read through $VHOST after verify = netblk-cli export"

head -c $((12 << 20)) /dev/urandom >/tmp/a
vbt "$VHOST" write-file /tmp/a --offset 6M
cli --cluster 127.0.0.1:7001 --volume vvol export /tmp/cluster.bin >/dev/null || fail "netblk-cli export failed"
dd if=/tmp/cluster.bin of=/tmp/a.out bs=1M skip=6 count=12 status=none
cmp /tmp/a /tmp/a.out || fail "netblk-cli export differs from what write-file wrote at 6M"
log "12 MiB written through $VHOST = netblk-cli export"

stop_daemon TERM
wait_gone /sys/bus/vdpa/devices/vbd0 10

# netblk-cli writes once the daemon released the volume's writer lock
# (a clean stop does); the read-only device below reads what it wrote.
head -c $((32 << 20)) /dev/urandom >/tmp/b
cli --cluster 127.0.0.1:7001 --volume vvol import /tmp/b >/dev/null || fail "netblk-cli import failed"

# Read-only: the device offers VIRTIO_BLK_F_RO, writes get IOERR, reads
# still return the volume's bytes.
start_daemon_vhost vbd0 --cluster 127.0.0.1:7001 --volume vvol --read-only
"$VBT_BIN" "$VHOST" info >/tmp/info.txt || fail "vhost-blk-test info failed"
grep -q '^read-only: *yes' /tmp/info.txt || fail "--read-only device does not offer VIRTIO_BLK_F_RO: $(cat /tmp/info.txt)"
vbt "$VHOST" verify --seed 23 --size 8M
vbt "$VHOST" read-file /tmp/b.ro
cmp /tmp/b /tmp/b.ro || fail "read-file through $VHOST differs from what netblk-cli import wrote"
log "32 MiB imported with netblk-cli = read through $VHOST"
log "read-only: RO offered, writes refused with IOERR, data intact"
stop_daemon TERM
wait_gone /sys/bus/vdpa/devices/vbd0 10
check_dmesg_clean
