#!/bin/bash
# Each start-up failure gives its message and a non-zero exit: bad options
# (2), VDUSE module not loaded, device name in use, no permission, volume
# not found, cluster unreachable (1). In the background mode the daemon
# prints its block device and its start command exits 0.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

# expect CODE PATTERN CMD...: CMD exits with CODE and prints PATTERN.
expect() {
	local code=$1 pattern=$2 rc=0
	shift 2
	timeout 60 "$@" >/tmp/out 2>&1 || rc=$?
	[ "$rc" = "$code" ] || fail "'$*' exited $rc, expected $code: $(tail -3 /tmp/out)"
	grep -qiE -e "$pattern" /tmp/out || fail "'$*' did not say '$pattern': $(tail -3 /tmp/out)"
	log "ok ($rc): $(grep -iE -e "$pattern" /tmp/out | head -1)"
}

load_modules vdpa
start_mock n1 7001 --volume evol:16M
base=(--cluster 127.0.0.1:7001 "${TLS_ARGS[@]}" --foreground)

expect 2 "unknown option '--bogus'" "$DAEMON_BIN" --bogus
expect 2 "--volume is required" "$DAEMON_BIN" --cluster 127.0.0.1:7001
expect 2 "--queues '0'" "$DAEMON_BIN" "${base[@]}" --volume evol --queues 0
expect 2 "not a power of two" "$DAEMON_BIN" "${base[@]}" --volume evol --queue-size 100
expect 1 "modprobe vduse" "$DAEMON_BIN" "${base[@]}" --volume evol --name e0

load_modules vduse virtio_vdpa virtio_blk
expect 1 "evol2.*not found|not found.*evol2" "$DAEMON_BIN" "${base[@]}" --volume evol2 --name e1
expect 1 "127.0.0.1:7999" "$DAEMON_BIN" --cluster 127.0.0.1:7999 "${TLS_ARGS[@]}" --foreground --volume evol --connect-timeout 3

start_daemon e2 --cluster 127.0.0.1:7001 --volume evol
expect 1 "in use by another process" "$DAEMON_BIN" "${base[@]}" --volume evol --name e2
stop_daemon TERM

# no permission: an unprivileged user who can read the certificates
cp -r "$PKI" /tmp/pki-nobody && chown -R nobody /tmp/pki-nobody
expect 1 "permission" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	--inh-caps=-all "$DAEMON_BIN" --cluster 127.0.0.1:7001 --foreground \
	--ca /tmp/pki-nobody/ca.crt --cert /tmp/pki-nobody/client.crt \
	--key /tmp/pki-nobody/client.key --volume evol --name e3

# background mode: prints the device, returns 0, keeps serving
out=$("$DAEMON_BIN" "${TLS_ARGS[@]}" "${MGMTDEV_ARGS[@]}" --cluster 127.0.0.1:7001 --volume evol --name e4 --pid-file /tmp/e4.pid </dev/null 2>/tmp/bg.err) ||
	fail "background start failed: $(cat /tmp/bg.err)"
[ -b "$out" ] || fail "background start printed '$out', not a block device"
[ "$out" = "$(blk_of e4)" ] || fail "printed $out, sysfs says $(blk_of e4)"
pid=$(cat /tmp/e4.pid)
dd if="$out" of=/dev/null bs=4k count=16 iflag=direct status=none || fail "reading $out failed"
kill -TERM "$pid"
for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "background daemon did not stop on SIGTERM"
wait_gone /dev/vduse/e4 5
log "background mode: printed $out, stopped on SIGTERM"
check_dmesg_clean
