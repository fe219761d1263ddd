#!/bin/bash
# blkdiscard and blkdiscard -z read back as zeroes, neighbouring data is
# untouched, and fsync reaches the storage node as a flush.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

load_modules
start_mock n1 7001 --volume dvol:64M
start_daemon ddev --cluster 127.0.0.1:7001 --volume dvol
q=/sys/block/${BLK#/dev/}/queue
[ "$(cat $q/discard_max_bytes)" -gt 0 ] || fail "$BLK offers no discard"
[ "$(cat $q/write_zeroes_max_bytes)" -gt 0 ] || fail "$BLK offers no write-zeroes"

head -c $((8 << 20)) /dev/urandom >/tmp/data
dd if=/tmp/data of="$BLK" bs=1M oflag=direct status=none || fail "writing 8 MiB failed"
blkdiscard -o $((1 << 20)) -l $((2 << 20)) "$BLK" || fail "blkdiscard failed"
blkdiscard -z -o $((4 << 20)) -l $((1 << 20)) "$BLK" || fail "blkdiscard -z failed"
dd if="$BLK" of=/tmp/back bs=1M count=8 iflag=direct status=none || fail "read back failed"

zeroes() { head -c "$1" /dev/zero; }
cmp <(head -c $((1 << 20)) /tmp/data) <(head -c $((1 << 20)) /tmp/back) || fail "data before the discarded range changed"
cmp <(zeroes $((2 << 20))) <(tail -c +$(((1 << 20) + 1)) /tmp/back | head -c $((2 << 20))) || fail "discarded range does not read back as zeroes"
cmp <(tail -c +$(((3 << 20) + 1)) /tmp/data | head -c $((1 << 20))) <(tail -c +$(((3 << 20) + 1)) /tmp/back | head -c $((1 << 20))) || fail "data between the ranges changed"
cmp <(zeroes $((1 << 20))) <(tail -c +$(((4 << 20) + 1)) /tmp/back | head -c $((1 << 20))) || fail "write-zeroes range does not read back as zeroes"
cmp <(tail -c +$(((5 << 20) + 1)) /tmp/data) <(tail -c +$(((5 << 20) + 1)) /tmp/back) || fail "data after the ranges changed"
log "discard and write-zeroes read back as zeroes, neighbours intact"
[ "$(mock_stat n1 discards)" -gt 0 ] || fail "the node saw no DISCARD"
[ "$(mock_stat n1 write_zeroes)" -gt 0 ] || fail "the node saw no WRITE_ZEROES"

before=$(mock_stat n1 flushes)
mkfs.ext4 -q -F "$BLK" && mkdir -p /tmp/mnt && mount "$BLK" /tmp/mnt || fail "mkfs/mount failed"
on_exit 'umount /tmp/mnt 2>/dev/null'
mid=$(mock_stat n1 flushes)
head -c 100000 /dev/urandom >/tmp/mnt/f
python3 -c 'import os; fd = os.open("/tmp/mnt/f", os.O_RDWR); os.fsync(fd)' 2>/dev/null ||
	dd if=/tmp/mnt/f of=/tmp/mnt/g conv=fsync status=none
after=$(mock_stat n1 flushes)
[ "$after" -gt "$mid" ] || fail "fsync did not reach the node as a flush (flushes $mid -> $after)"
log "flushes seen by the node: $before before mount, $mid after, $after after fsync"
umount /tmp/mnt
stop_daemon TERM
check_dmesg_clean
