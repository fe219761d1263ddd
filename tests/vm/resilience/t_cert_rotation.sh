#!/bin/bash
# Certificate rotation: the client certificate and key files are replaced
# and the daemon gets SIGHUP while fio runs: no I/O or verify error, and
# connections made afterwards present the new certificate. A bad new key
# file keeps the old certificates and the log says why.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"
. "$NETBLK_SRC/tests/vm/resilience/resil-lib.sh"

load_modules
make_pki
# The daemon reads its client certificate from files we can replace.
mkdir -p /tmp/live
cp "$PKI/client.crt" "$PKI/client.key" /tmp/live/
TLS_ARGS=(--ca "$PKI/ca.crt" --cert /tmp/live/client.crt --key /tmp/live/client.key)
"$NETBLK_SRC/scripts/netblk-certs" "$PKI" --only client --client-name rotated-client --prefix rotated >/dev/null ||
	fail "making the second client certificate failed"
start_mock n1 7001 --volume cvol:128M
start_daemon cdev --cluster 127.0.0.1:7001 --volume cvol --queues 2
grep -q 'CN=netblk-client' "$NETBLK_OUT/n1.log" || fail "the first connections do not show the first certificate"

fio_verify_bg rot 48M
for ((i = 0; i < 300; i++)); do [ "$(mock_stat n1 writes)" -gt 500 ] && break; sleep 0.1; done
# a bad key first: the daemon keeps its certificates
echo "not a key" >/tmp/live/client.key
kill -HUP $DAEMON_PID
for ((i = 0; i < 50; i++)); do grep -q 'certificates not reloaded' "$NETBLK_OUT/cdev.log" && break; sleep 0.1; done
grep -q 'certificates not reloaded' "$NETBLK_OUT/cdev.log" || fail "a bad key file was not reported"
log "bad key refused: $(grep 'certificates not reloaded' "$NETBLK_OUT/cdev.log" | sed 's/.*SIGHUP: //')"
# now the real rotation
install -m 600 "$PKI/rotated-client.key" /tmp/live/client.key
cp "$PKI/rotated-client.crt" /tmp/live/client.crt
kill -HUP $DAEMON_PID
for ((i = 0; i < 50; i++)); do grep -q 'certificates reloaded' "$NETBLK_OUT/cdev.log" && break; sleep 0.1; done
grep -q 'certificates reloaded' "$NETBLK_OUT/cdev.log" || fail "SIGHUP did not reload the certificates"
# make the daemon open new connections: the node drops some
mock_ctl n1 drop-every 300 >/dev/null
for ((i = 0; i < 300; i++)); do grep -q 'CN=rotated-client' "$NETBLK_OUT/n1.log" && break; sleep 0.1; done
mock_ctl n1 drop-every 0 >/dev/null
grep -q 'CN=rotated-client' "$NETBLK_OUT/n1.log" || fail "new connections do not use the new certificate"
log "new connections present CN=rotated-client after $(mock_stat n1 drops) drops"
fio_verify_wait rot
errs=$(guest_io_errors)
[ "$errs" = 0 ] || fail "the guest logged $errs I/O errors"
stop_daemon TERM
check_dmesg_clean
