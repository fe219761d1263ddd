#!/bin/bash
# fio write-then-verify (crc32c) through vduse-netblk: 4k and 128k blocks at
# queue depth 1 and 32, with the number of queues given as $1 (default 1).
# Every job must finish with no error and no verify failure.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

queues=${1:-1}
command -v fio >/dev/null || fail "fio is not installed on the host"
load_modules
start_mock n1 7001 --volume fiovol:256M
start_daemon fiodev --cluster 127.0.0.1:7001 --volume fiovol --queues "$queues"
nq=$(ls "/sys/block/${BLK#/dev/}/mq" | wc -l)
[ "$nq" = "$queues" ] || fail "$BLK has $nq hardware queues, asked for $queues"

for bs in 4k 128k; do
	for qd in 1 32; do
		size=16M
		[ "$bs" = 4k ] && [ "$qd" = 1 ] && size=4M
		out="$NETBLK_OUT/fio-$bs-qd$qd.txt"
		fio --eta=never --name="verify-$bs-qd$qd" --filename="$BLK" --direct=1 \
			--ioengine=libaio --rw=randwrite --bs="$bs" --iodepth="$qd" \
			--size="$size" --numjobs=1 --verify=crc32c --do_verify=1 \
			--verify_fatal=1 --verify_backlog=0 --randrepeat=0 \
			--output="$out" || fail "fio $bs qd$qd failed: $(tail -20 "$out")"
		grep -q 'err= 0' "$out" || fail "fio $bs qd$qd reported errors: $(grep err= "$out")"
		log "fio $bs qd$qd on $queues queue(s): $(grep -E '^ +(write|read):' "$out" | tr -s ' ' | paste -sd';')"
	done
done
stop_daemon TERM
check_dmesg_clean
