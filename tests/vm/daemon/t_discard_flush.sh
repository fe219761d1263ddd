#!/bin/bash
# blkdiscard and blkdiscard -z read back as zeroes, neighbouring data is
# untouched, and fsync reaches the storage node as a flush. The daemon's
# --metrics shows each operation in its latency histogram, under the
# kernel's disk name; promtool accepts the scrape; /healthz, /readyz 200.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

load_modules
start_mock n1 7001 --volume dvol:64M
start_daemon ddev --cluster 127.0.0.1:7001 --volume dvol --metrics 127.0.0.1:9478
q=/sys/block/${BLK#/dev/}/queue
[ "$(cat $q/discard_max_bytes)" -gt 0 ] || fail "$BLK offers no discard"
[ "$(cat $q/write_zeroes_max_bytes)" -gt 0 ] || fail "$BLK offers no write-zeroes"

head -c $((8 << 20)) /dev/urandom >/tmp/data
dd if=/tmp/data of="$BLK" bs=1M oflag=direct status=none || fail "writing 8 MiB failed"
blkdiscard -o $((1 << 20)) -l $((2 << 20)) "$BLK" || fail "blkdiscard failed"
blkdiscard -z -o $((4 << 20)) -l $((1 << 20)) "$BLK" || fail "blkdiscard -z failed"
dd if="$BLK" of=/tmp/back bs=1M count=8 iflag=direct status=none || fail "read back failed"

# part FILE OFFSET_MIB LENGTH_MIB: that slice of FILE on stdout
part() { dd if="$1" bs=1M skip="$2" count="$3" status=none; }
same() { # same FILE_A FILE_B OFFSET_MIB LENGTH_MIB WHAT
	part "$1" "$3" "$4" >/tmp/pa; part "$2" "$3" "$4" >/tmp/pb
	cmp -s /tmp/pa /tmp/pb || fail "$5"
}
head -c $((8 << 20)) /dev/zero >/tmp/zero
same /tmp/data /tmp/back 0 1 "data before the discarded range changed"
same /tmp/zero /tmp/back 1 2 "discarded range does not read back as zeroes"
same /tmp/data /tmp/back 3 1 "data between the ranges changed"
same /tmp/zero /tmp/back 4 1 "write-zeroes range does not read back as zeroes"
same /tmp/data /tmp/back 5 3 "data after the ranges changed"
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

sleep 1.5	# the next snapshot holds every request above
curl -sf http://127.0.0.1:9478/metrics >/tmp/metrics.txt || fail "curl /metrics failed"
promtool check metrics </tmp/metrics.txt >/tmp/promtool.txt 2>&1 ||
	fail "promtool check metrics: $(cat /tmp/promtool.txt)"
labels="volume=\"dvol\",name=\"ddev\",device=\"${BLK#/dev/}\""
grep -q "^vduse_netblk_build_info{program=\"daemon\"," /tmp/metrics.txt || fail "no build info"
grep -q "^vduse_netblk_volume_up{$labels} 1$" /tmp/metrics.txt ||
	fail "no volume_up for $labels: $(grep volume_up /tmp/metrics.txt)"
for op in read write flush discard write-zeroes; do
	grep -qE "^vduse_netblk_request_duration_seconds_count\{$labels,op=\"$op\"\} [1-9]" /tmp/metrics.txt ||
		fail "no $op in the latency histogram: $(grep duration_seconds_count /tmp/metrics.txt)"
done
for path in healthz readyz; do
	c=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9478/$path)
	[ "$c" = 200 ] || fail "/$path: $c"
done
log "daemon metrics: promtool ok; $(grep -c "duration_seconds_count{$labels" /tmp/metrics.txt) operations timed on ${BLK#/dev/}"
stop_daemon TERM
check_dmesg_clean
