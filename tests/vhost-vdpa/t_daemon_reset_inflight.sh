#!/bin/bash
# vduse-netblk behind vhost_vdpa across device resets: the driver resets the
# device (status 0) in the middle of mixed I/O, renegotiates a different
# feature set (without EVENT_IDX, INDIRECT_DESC, MQ, FLUSH/DISCARD/
# WRITE_ZEROES in turn), different queue counts and sizes, sometimes
# remapped memory, and goes on; here with requests in flight, as a guest
# that crashes or kexecs does. A lost write may or may not have happened,
# nothing else is accepted, later writes must win, and a request from
# before a reset must never show up in the rings set up after it. The
# daemon must follow every time and still stop cleanly.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"
. "$NETBLK_SRC/tests/vhost-vdpa/vhost-lib.sh"

[ -x "$DAEMON_BIN" ] || fail "$DAEMON_BIN not built"
load_modules vdpa vduse vhost_vdpa
start_mock n1 7001 --volume ivol:32M
start_daemon_vhost vbd4 --cluster 127.0.0.1:7001 --volume ivol --queues 2

vbt "$VHOST" reset --seed 42 --size 16M --rounds 5 --inflight
daemon_alive vbd4
# A fresh open after all that: the device starts clean.
vbt "$VHOST" verify --seed 44 --size 8M --offset 16M

vbt "$VHOST" read-file /tmp/dev.bin
cli --cluster 127.0.0.1:7001 --volume ivol export /tmp/cluster.bin >/dev/null || fail "netblk-cli export failed"
cmp /tmp/dev.bin /tmp/cluster.bin || fail "the volume read through $VHOST differs from netblk-cli export"
log "after the resets: device = netblk-cli export"
stop_daemon TERM
check_dmesg_clean
