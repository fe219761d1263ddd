#!/bin/bash
# The device's bounce buffer (--bounce-size): the daemon sizes it before
# attaching, it holds the daemon's resident size under 64 MiB under a load
# that moves far more data at once than the buffer holds, and a buffer much
# smaller than the data in flight slows requests down without failing or
# corrupting any of them.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

command -v fio >/dev/null || fail "fio is not installed on the host"
load_modules
start_mock n1 7001 --volume bvol:512M

bounce_of() { cat "/sys/class/vduse/$1/bounce_size"; }
# The largest request the disk can send (segments x segment size) must fit
# in half the bounce buffer, or it could never be mapped (a hang).
check_request_cap() {
	local q=/sys/block/${BLK#/dev/}/queue segs seg
	segs=$(cat "$q/max_segments")
	seg=$(cat "$q/max_segment_size")
	[ $((segs * seg)) -le $(($1 / 2)) ] ||
		fail "$BLK takes requests of $segs x $seg bytes, more than half the $1-byte bounce buffer"
	log "$BLK: at most $segs segments of $seg bytes per request, bounce buffer $1 bytes"
}
hwm_kb() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$DAEMON_PID/status"; }

# heavy NAME: two jobs of 1 MiB random writes, 64 deep each (up to 128 MiB
# in flight, 2x the kernel's default bounce buffer), each in its own
# 96 MiB, then read back and checked (crc32c).
heavy() {
	local out=$NETBLK_OUT/fio-$1.txt
	fio --eta=never --name="$1" --filename="$BLK" --direct=1 --ioengine=libaio \
		--rw=randwrite --bs=1M --iodepth=64 --numjobs=2 --size=96M \
		--offset_increment=128M --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--randrepeat=0 --group_reporting --output="$out" ||
		fail "fio $1 failed: $(tail -20 "$out")"
	grep -q 'err= 0' "$out" || fail "fio $1 reported errors: $(grep err= "$out")"
	log "fio $1: $(grep -E '^ +(write|read):' "$out" | tr -s ' ' | paste -sd';')"
}

# 1. The default: 32 MiB, and the resident size stays under 64 MiB.
start_daemon bdef --cluster 127.0.0.1:7001 --volume bvol
[ "$(bounce_of bdef)" = $((32 << 20)) ] ||
	fail "default bounce_size is $(bounce_of bdef), expected 32 MiB"
check_request_cap $((32 << 20))
heavy default
hwm=$(hwm_kb)
log "daemon VmHWM after 1 MiB blocks at depth 128: $hwm KiB ($(grep -E '^Rss' "/proc/$DAEMON_PID/status" | tr -s ' \t' ' ' | paste -sd' '))"
# An ASan build keeps freed memory and shadow pages: its size says nothing.
if grep -q __asan_init "$DAEMON_BIN"; then
	log "resident size not judged: $DAEMON_BIN is built with AddressSanitizer"
else
	[ "$hwm" -lt $((64 * 1024)) ] || fail "daemon resident size peaked at $hwm KiB, over 64 MiB"
fi
stop_daemon TERM
wait_gone /dev/vduse/bdef 10

# 2. A 4 MiB buffer, 32x smaller than the data in flight: same data back.
start_daemon bsmall --cluster 127.0.0.1:7001 --volume bvol --bounce-size 4
[ "$(bounce_of bsmall)" = $((4 << 20)) ] ||
	fail "--bounce-size 4 gave bounce_size $(bounce_of bsmall)"
check_request_cap $((4 << 20))
heavy small
stop_daemon TERM
wait_gone /dev/vduse/bsmall 10

# 3. 0 leaves the kernel's default alone.
default=$(
	"$DAEMON_BIN" --foreground --name bprobe "${TLS_ARGS[@]}" "${MGMTDEV_ARGS[@]}" \
		--cluster 127.0.0.1:7001 --volume bvol --no-attach --bounce-size 0 \
		>>"$NETBLK_OUT/bprobe.log" 2>&1 </dev/null &
	pid=$!
	wait_for /sys/class/vduse/bprobe/bounce_size 10 >&2
	for ((i = 0; i < 50; i++)); do
		grep -q "created, not attached" "$NETBLK_OUT/bprobe.log" && break
		sleep 0.1
	done
	cat /sys/class/vduse/bprobe/bounce_size
	kill "$pid"
	wait "$pid" || true
)
case ${VDPA_MGMTDEV:-vduse} in
vduse) [ "$default" = $((64 << 20)) ] || fail "--bounce-size 0 left bounce_size at $default, not the kernel's 64 MiB" ;;
*) [ "$default" -gt 0 ] || fail "--bounce-size 0: bounce_size '$default'" ;;
esac

# 4. Out of range (above VDUSE's 1 GiB; below 4 MiB, where a request of
# 254 segments of 8 KiB would no longer fit in half): refused before
# anything is created.
# refused VALUE MESSAGE: exit status 2 and MESSAGE on stderr.
refused() {
	local rc=0 out=$NETBLK_OUT/bbad-$1.log
	"$DAEMON_BIN" --foreground --name bbad "${TLS_ARGS[@]}" --cluster 127.0.0.1:7001 \
		--volume bvol --bounce-size "$1" >"$out" 2>&1 </dev/null || rc=$?
	[ "$rc" = 2 ] || fail "--bounce-size $1 exited with $rc, expected 2"
	grep -q -- "$2" "$out" || fail "--bounce-size $1: $(cat "$out")"
}
refused 2048 "--bounce-size '2048' is not a number from 0 to 1024"
refused 2 "--bounce-size '2' is below 4 MiB"
[ ! -e /dev/vduse/bbad ] || fail "a device was created despite the bad --bounce-size"
check_dmesg_clean
log "bounce buffer: default 32 MiB, 4 MiB, 0 and out of range all behave"
