#!/bin/bash
# The disk survives its daemon: SIGUSR1 (leave the device for an upgrade)
# then a new daemon takes over; and kill -9 of the daemon under fio, then a
# restart, $1 times (default 20). fio write+verify (crc32c) runs throughout
# and must see no I/O error and no verify error.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

rounds=${1:-20}
dev=rsdev
args=(--cluster 127.0.0.1:7001 --volume rsvol --queues 2)
load_modules
start_mock n1 7001 --volume rsvol:128M
start_daemon $dev "${args[@]}"
blk=$BLK

# restart_daemon: start a new daemon for $dev and wait until it took over.
restart_daemon() {
	local before=$(grep -c 'took over' "$NETBLK_OUT/$dev.log" || true) i
	"$DAEMON_BIN" --foreground --name $dev "${TLS_ARGS[@]}" "${args[@]}" \
		>>"$NETBLK_OUT/$dev.log" 2>&1 </dev/null &
	DAEMON_PID=$!
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -c 'took over' "$NETBLK_OUT/$dev.log" || true)" -gt "$before" ] && return 0
		kill -0 $DAEMON_PID 2>/dev/null || fail "restarted daemon exited: $(tail -5 "$NETBLK_OUT/$dev.log")"
		sleep 0.1
	done
	fail "restarted daemon did not take over within 30 s"
}

# fio rounds of write+verify, until /tmp/stop exists; each must pass.
fio_loop() {
	local n=0
	while [ ! -e /tmp/stop ]; do
		n=$((n + 1))
		fio --eta=never --name=v$n --filename="$blk" --direct=1 --ioengine=libaio \
			--rw=randwrite --bs=4k --iodepth=16 --size=16M --offset=$(( (n % 4) * 16 ))M \
			--verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 \
			--output="$NETBLK_OUT/fio-$n.txt" || { echo "fio round $n failed" >/tmp/fio-failed; return 1; }
		grep -q 'err= 0' "$NETBLK_OUT/fio-$n.txt" || { echo "fio round $n: errors" >/tmp/fio-failed; return 1; }
	done
	echo $n >/tmp/fio-rounds
}

# Phase 1: leave with SIGUSR1 (upgrade), take over, under fio.
fio_loop &
fio_pid=$!
on_exit "touch /tmp/stop; kill $fio_pid 2>/dev/null"
sleep 3
kill -USR1 $DAEMON_PID
wait $DAEMON_PID || fail "daemon exited $? after SIGUSR1"
[ -e /dev/vduse/$dev ] || fail "SIGUSR1 destroyed the device"
[ -b "$blk" ] || fail "SIGUSR1 detached $blk"
restart_daemon
log "SIGUSR1: device left in place and taken over"

# Phase 2: kill -9 under load, restart, $rounds times.
for ((r = 1; r <= rounds; r++)); do
	sleep "0.$((RANDOM % 9 + 1))"
	kill -9 $DAEMON_PID
	wait $DAEMON_PID 2>/dev/null || true
	[ -e /tmp/fio-failed ] && fail "$(cat /tmp/fio-failed) before kill $r"
	restart_daemon
done
log "killed and restarted the daemon $rounds times; $(grep -c 'request(s) that were in flight' "$NETBLK_OUT/$dev.log") queue resumptions, $(grep -o 'with [1-9][0-9]* request' "$NETBLK_OUT/$dev.log" | awk '{s+=$2} END {print s+0}') requests replayed"
touch /tmp/stop
wait $fio_pid || fail "$(cat /tmp/fio-failed 2>/dev/null || echo fio failed)"
log "fio: $(cat /tmp/fio-rounds) write+verify rounds, 0 errors"
dmesg | grep -i 'i/o error' && fail "the kernel logged I/O errors"
stop_daemon TERM
[ -e /dev/vduse/$dev ] && fail "device left after SIGTERM"
[ -e /run/vduse-netblk/$dev.state ] && fail "state file left after SIGTERM"
check_dmesg_clean
