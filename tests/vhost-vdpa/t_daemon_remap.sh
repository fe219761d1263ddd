#!/bin/bash
# vduse-netblk behind vhost_vdpa while the driver moves its buffers: data
# buffers of idle requests get new memory at new IOVAs (IOTLB UPDATE +
# INVALIDATE, batched and one message at a time) while other requests are
# in flight on two queues, and freed IOVAs are reused for other memory.
# With batching the rings' mapping is also replaced in place (INVALIDATE +
# UPDATE in one batch). No request may fail and every byte read must be
# current: a daemon that keeps a stale translation reads or writes the
# wrong memory.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"
. "$NETBLK_SRC/tests/vhost-vdpa/vhost-lib.sh"

[ -x "$DAEMON_BIN" ] || fail "$DAEMON_BIN not built"
load_modules vdpa vduse vhost_vdpa
start_mock n1 7001 --volume rvol:32M
start_daemon_vhost vbd1 --cluster 127.0.0.1:7001 --volume rvol --queues 2

vbt "$VHOST" remap --seed 31 --size 8M --rounds 3
vbt "$VHOST" remap --seed 32 --size 8M --offset 16M --rounds 2 --no-batch --depth 16
vbt "$VHOST" remap --seed 33 --size 8M --rounds 2 --quiesce
daemon_alive vbd1

vbt "$VHOST" read-file /tmp/dev.bin
cli --cluster 127.0.0.1:7001 --volume rvol export /tmp/cluster.bin >/dev/null || fail "netblk-cli export failed"
cmp /tmp/dev.bin /tmp/cluster.bin || fail "the volume read through $VHOST differs from netblk-cli export"
log "after the remaps: device = netblk-cli export"
stop_daemon TERM
check_dmesg_clean
