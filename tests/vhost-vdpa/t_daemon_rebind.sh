#!/bin/bash
# One volume, two kinds of driver: what vhost-blk-test writes through
# vhost_vdpa is what the guest-style /dev/vdX shows after the same vDPA
# device moves to virtio_vdpa (sysfs unbind, driver_override, bind, daemon
# still running); what is written through /dev/vdX is what vhost-blk-test
# reads after moving back; and after stopping the daemon, unloading
# vhost_vdpa and starting the daemon again, /dev/vdX still shows it all.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"
. "$NETBLK_SRC/tests/vhost-vdpa/vhost-lib.sh"

[ -x "$DAEMON_BIN" ] || fail "$DAEMON_BIN not built"
dev=vbd3
load_modules vdpa vduse vhost_vdpa
start_mock n1 7001 --volume bvol:32M
start_daemon_vhost "$dev" --cluster 127.0.0.1:7001 --volume bvol --queues 2

head -c $((16 << 20)) /dev/urandom >/tmp/a
head -c $((16 << 20)) /dev/urandom >/tmp/b
vbt "$VHOST" write-file /tmp/a

# vhost_vdpa -> virtio_vdpa with the daemon running.
load_modules virtio_vdpa virtio_blk
rebind "$dev" virtio_vdpa
for ((i = 0; i < 100; i++)); do
	BLK=$(blk_of "$dev" || true)
	[ -n "$BLK" ] && [ -b "$BLK" ] && break
	sleep 0.1
done
if [ -z "$BLK" ] || [ ! -b "$BLK" ]; then
	fail "no /dev/vdX after binding $dev to virtio_vdpa"
fi
[ "$(blockdev --getsize64 "$BLK")" = $((32 << 20)) ] || fail "$BLK has the wrong size"
dd if="$BLK" of=/tmp/a.out bs=1M count=16 iflag=direct status=none || fail "reading $BLK failed"
cmp /tmp/a /tmp/a.out || fail "$BLK differs from what vhost-blk-test wrote through vhost-vdpa"
log "16 MiB written through vhost-vdpa = read through $BLK"
dd if=/tmp/b of="$BLK" bs=1M seek=16 oflag=direct status=none || fail "writing $BLK failed"
daemon_alive "$dev"

# And back to vhost_vdpa.
rebind "$dev" vhost_vdpa
VHOST=$(vhost_wait "$dev" 10)
cat /tmp/a /tmp/b >/tmp/ab
vbt "$VHOST" read-file /tmp/ab.out
cmp /tmp/ab /tmp/ab.out || fail "$VHOST differs from what was written through vhost-vdpa and $BLK"
log "32 MiB read back through $VHOST after the round trip"
vbt "$VHOST" verify --seed 51 --size 4M --offset 28M
dd if=/tmp/ab of=/tmp/ab.head bs=1M count=28 status=none
daemon_alive "$dev"

# Stop the daemon; restart it with only virtio_vdpa available.
stop_daemon TERM
wait_gone "/sys/bus/vdpa/devices/$dev" 10
modprobe -r vhost_vdpa || fail "cannot unload vhost_vdpa"
start_daemon "$dev" --cluster 127.0.0.1:7001 --volume bvol
dd if="$BLK" of=/tmp/ab.out bs=1M count=28 iflag=direct status=none || fail "reading $BLK failed"
cmp /tmp/ab.head /tmp/ab.out || fail "$BLK after a daemon restart differs from the data written before"
log "after restarting the daemon on virtio_vdpa, $BLK shows the same data"
stop_daemon TERM
check_dmesg_clean
