#!/bin/bash
# /sys/class/vduse/NAME/bounce_size of netblk_vduse.ko, as the in-tree vduse:
# a new device starts at bounce_mb MiB (here bounce_mb=48); writes of
# 1 MiB..1 GiB before the attach are taken, rounded down to whole pages;
# values out of range or not a number are refused (EINVAL, ERANGE); once
# attached every write is refused (EPERM) and the value stays. A daemon's
# device attached with a 4 MiB bounce buffer then passes fio write+verify
# with 1 MiB blocks at queue depth 16 (up to 16 MiB in flight: requests
# that find the buffer full must wait, not fail).
# shellcheck source=tests/vm/guest-lib.sh
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
# shellcheck source=tests/vm/netblk-lib.sh
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

[ "$VDPA_MGMTDEV" = netblk-vduse ] || fail "run with NETBLK_VDUSE=kmod"
hostile=$NETBLK_BIN/kmod_hostile
[ -x "$hostile" ] || fail "$hostile not built"
command -v fio >/dev/null || fail "fio is not installed on the host"
export NETBLK_KMOD_ARGS="bounce_mb=48"
load_modules

# write_attr FILE VALUE: "ok", or the shell's error message for the write.
write_attr() {
	local out
	if out=$( { printf '%s\n' "$2" >"$1"; } 2>&1); then
		echo ok
	else
		echo "$out"
	fi
}

# expect_refused FILE VALUE ERRNO_TEXT
expect_refused() {
	local res
	res=$(write_attr "$1" "$2")
	case $res in
	*"$3"*) ;;
	*) fail "writing '$2' to $1: expected '$3', got '$res'" ;;
	esac
}

# expect_value FILE VALUE
expect_value() {
	local got
	got=$(cat "$1")
	[ "$got" = "$2" ] || fail "$1 reads $got, expected $2"
}

# 1. Without a server: default, range, rounding.
"$hostile" create bnc0 1 || fail "create bnc0 failed"
attr=/sys/class/vduse/bnc0/bounce_size
[ -f "$attr" ] || fail "$attr missing"
expect_value "$attr" $((48 << 20))
[ "$(write_attr "$attr" 4194304)" = ok ] || fail "writing 4 MiB to $attr failed"
expect_value "$attr" 4194304
[ "$(write_attr "$attr" 5000000)" = ok ] || fail "writing 5000000 to $attr failed"
expect_value "$attr" $((5000000 / 4096 * 4096))
[ "$(write_attr "$attr" $((1 << 20)))" = ok ] || fail "writing 1 MiB to $attr failed"
expect_value "$attr" $((1 << 20))
[ "$(write_attr "$attr" $((1 << 30)))" = ok ] || fail "writing 1 GiB to $attr failed"
expect_value "$attr" $((1 << 30))
expect_refused "$attr" $(((1 << 20) - 1)) "Invalid argument"
expect_refused "$attr" $(((1 << 30) + 1)) "Invalid argument"
expect_refused "$attr" 0 "Invalid argument"
expect_refused "$attr" 4M "Invalid argument"
expect_refused "$attr" -4194304 "Invalid argument"
expect_refused "$attr" 99999999999999999999999 "Numerical result out of range"
expect_value "$attr" $((1 << 30))
"$hostile" destroy bnc0 || fail "destroy bnc0 failed"
wait_gone /dev/vduse/bnc0 5
log "bounce_size: default, range and rounding as expected"

# 2. The daemon creates its device (and may size it), we set 4 MiB, attach.
make_pki
start_mock n1 7001 --volume bncvol:128M
"$DAEMON_BIN" --foreground --name bnc1 "${TLS_ARGS[@]}" "${MGMTDEV_ARGS[@]}" \
	--cluster 127.0.0.1:7001 --volume bncvol --no-attach \
	>>"$NETBLK_OUT/bnc1.log" 2>&1 </dev/null &
DAEMON_PID=$!
on_exit "kill $DAEMON_PID 2>/dev/null"
for ((i = 0; i < 300; i++)); do
	grep -q "not attached" "$NETBLK_OUT/bnc1.log" && break
	kill -0 "$DAEMON_PID" 2>/dev/null ||
		fail "vduse-netblk exited at start: $(tail -5 "$NETBLK_OUT/bnc1.log")"
	sleep 0.1
done
[ "$i" -lt 300 ] || fail "daemon did not create bnc1 within 30 s: $(tail -5 "$NETBLK_OUT/bnc1.log")"
attr=/sys/class/vduse/bnc1/bounce_size
log "bnc1 created; bounce_size as the daemon left it: $(cat "$attr")"
[ "$(write_attr "$attr" 4194304)" = ok ] || fail "writing 4 MiB to $attr failed"
expect_value "$attr" 4194304
BLK=$(vdpa_attach bnc1 30)
log "bnc1 attached as $BLK"
expect_refused "$attr" 8388608 "Operation not permitted"
expect_refused "$attr" 4194304 "Operation not permitted"
expect_refused "$attr" 0 "Operation not permitted"
expect_value "$attr" 4194304

out="$NETBLK_OUT/fio-bounce.txt"
fio --eta=never --name=bounce4m --filename="$BLK" --direct=1 \
	--ioengine=libaio --rw=randwrite --bs=1M --iodepth=16 --size=96M \
	--numjobs=1 --verify=crc32c --do_verify=1 --verify_fatal=1 \
	--verify_backlog=0 --randrepeat=0 --output="$out" ||
	fail "fio 1M qd16 with a 4 MiB bounce buffer failed: $(tail -20 "$out")"
grep -q 'err= 0' "$out" || fail "fio reported errors: $(grep err= "$out")"
log "fio 1M qd16, 4 MiB bounce: $(grep -E '^ +(write|read):' "$out" | tr -s ' ' | paste -sd';')"
dmesg | grep -E "I/O error|blk_update_request|critical" | grep -w "${BLK#/dev/}" &&
	fail "the kernel logged I/O errors on $BLK"

# 3. Detached, the size applies to the next attach: writable again.
vdpa_detach bnc1
[ "$(write_attr "$attr" 2097152)" = ok ] || fail "writing 2 MiB to $attr after the detach failed"
expect_value "$attr" 2097152
stop_daemon TERM
wait_gone /dev/vduse/bnc1 10
check_dmesg_clean
log "bounce test done"
