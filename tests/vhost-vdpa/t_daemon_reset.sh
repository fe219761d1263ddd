#!/bin/bash
# vduse-netblk behind vhost_vdpa across device resets: the driver resets the
# device (status 0) in the middle of mixed I/O, renegotiates a different
# feature set (without EVENT_IDX, INDIRECT_DESC, MQ, FLUSH/DISCARD/
# WRITE_ZEROES in turn), different queue counts and sizes, sometimes
# remapped memory, and goes on; here after quiescing the queues (the
# driver waits for its requests before resetting). The daemon must follow
# every time, serve a fresh open afterwards and still stop cleanly.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"
. "$NETBLK_SRC/tests/vhost-vdpa/vhost-lib.sh"

[ -x "$DAEMON_BIN" ] || fail "$DAEMON_BIN not built"
load_modules vdpa vduse vhost_vdpa
start_mock n1 7001 --volume svol:32M
start_daemon_vhost vbd2 --cluster 127.0.0.1:7001 --volume svol --queues 2

vbt "$VHOST" reset --seed 41 --size 16M --rounds 5
daemon_alive vbd2
# A fresh open after all that: the device starts clean.
vbt "$VHOST" verify --seed 43 --size 8M --offset 16M

vbt "$VHOST" read-file /tmp/dev.bin
cli --cluster 127.0.0.1:7001 --volume svol export /tmp/cluster.bin >/dev/null || fail "netblk-cli export failed"
cmp /tmp/dev.bin /tmp/cluster.bin || fail "the volume read through $VHOST differs from netblk-cli export"
log "after the resets: device = netblk-cli export"
stop_daemon TERM
check_dmesg_clean
