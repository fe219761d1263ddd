#!/bin/bash
# What is written through the disk is what netblk-cli export reads from the
# cluster, and what netblk-cli import writes is what the disk reads.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

load_modules
start_mock n1 7001 --volume xvol:64M
start_daemon xdev --cluster 127.0.0.1:7001 --volume xvol

head -c $((64 << 20)) /dev/urandom >/tmp/a
dd if=/tmp/a of="$BLK" bs=1M oflag=direct status=none || fail "writing through $BLK failed"
cli --cluster 127.0.0.1:7001 --volume xvol export /tmp/a.out >/dev/null || fail "netblk-cli export failed"
cmp /tmp/a /tmp/a.out || fail "netblk-cli export differs from what was written through $BLK"
log "64 MiB written through $BLK = netblk-cli export"

head -c $((64 << 20)) /dev/urandom >/tmp/b
cli --cluster 127.0.0.1:7001 --volume xvol import /tmp/b >/dev/null || fail "netblk-cli import failed"
dd if="$BLK" of=/tmp/b.out bs=1M iflag=direct status=none || fail "reading $BLK failed"
cmp /tmp/b /tmp/b.out || fail "$BLK differs from what netblk-cli import wrote"
log "64 MiB imported with netblk-cli = read through $BLK"
stop_daemon TERM
check_dmesg_clean
