#!/bin/bash
# Read-only: a volume the node serves read-only, and a writable volume
# served with --read-only, both appear as read-only disks; writes fail with
# an error, reads return the volume's data.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

load_modules
truncate -s 32M /tmp/ro.img
head -c $((4 << 20)) /dev/urandom >/tmp/seed
dd if=/tmp/seed of=/tmp/ro.img conv=notrunc status=none
start_mock n1 7001 --volume rovol:32M:/tmp/ro.img:ro --volume rwvol:32M

check_ro() {
	local what=$1
	[ "$(cat /sys/block/${BLK#/dev/}/ro)" = 1 ] || fail "$what: $BLK is not read-only"
	if dd if=/dev/zero of="$BLK" bs=4k count=1 oflag=direct status=none 2>/tmp/dd.err; then
		fail "$what: a write to $BLK succeeded"
	fi
	log "$what: write refused: $(head -1 /tmp/dd.err)"
}

start_daemon rodev --cluster 127.0.0.1:7001 --volume rovol
check_ro "read-only volume"
dd if="$BLK" of=/tmp/back bs=1M count=4 iflag=direct status=none || fail "read-only volume: reading failed"
cmp /tmp/back /tmp/seed || fail "read-only volume: reads differ from the volume"
stop_daemon TERM

cli --cluster 127.0.0.1:7001 --volume rwvol import /tmp/seed >/dev/null || fail "netblk-cli import failed"
start_daemon rwdev --cluster 127.0.0.1:7001 --volume rwvol --read-only
check_ro "--read-only"
dd if="$BLK" of=/tmp/back bs=1M count=4 iflag=direct status=none || fail "--read-only: reading failed"
cmp /tmp/back /tmp/seed || fail "--read-only: reads differ from the volume"
stop_daemon TERM
check_dmesg_clean
