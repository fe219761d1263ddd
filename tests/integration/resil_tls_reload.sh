#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS reload while I/O runs (the node drops a connection every 300
# requests, so new connections are made all the time):
#  1. a key file that does not load: the reload fails with a message, the
#     old context stays in use;
#  2. the right key but readable by others (0644): refused, naming the
#     file and mode; old context kept;
#  3. a new client certificate signed by the same CA, key mode 0600: the
#     reload succeeds and new connections present it (the node logs its
#     CN).
# Throughout: 0 I/O errors, every block reads back as last written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resil_lib.sh"
resil_require
nb_certs
pki=$NB_TMP/pki
"$NB_CERTS" "$pki" --only client --prefix new --client-name resil-new-client \
	>"$NB_TMP/certs2.log" 2>&1 || nb_fail "netblk-certs: $(cat "$NB_TMP/certs2.log")"
cur=$NB_TMP/cur
mkdir "$cur"
cp "$pki/client.crt" "$cur/client.crt"
install -m 0600 "$pki/client.key" "$cur/client.key"
nb_mock_start n0 --volume vol0:32M
mock_ctl n0 drop-every 300 >/dev/null

resil_io_start io --cluster "127.0.0.1:$(nb_mock_port n0)" --cert "$cur/client.crt" \
	--key "$cur/client.key" --size 16M --block-size 64K --queue-depth 8
sleep 1

# 1: new certificate, key file that is not a key
cp "$pki/new-client.crt" "$cur/client.crt"
echo "not a key" >"$cur/client.key"
kill -HUP "${RESIL_PID[io]}"
resil_wait_for "the failed reload" 20 grep -q "TLS reload" "$NB_TMP/io.out"
grep -q "TLS reload failed: cannot load client key '$cur/client.key'.*keeping the old context" \
	"$NB_TMP/io.out" || nb_fail "bad key: $(grep "TLS reload" "$NB_TMP/io.out")"
nb_info "ok: $(grep "TLS reload" "$NB_TMP/io.out")"
drops=$(mock_stat n0 drops)
resil_wait_for "reconnects with the old context" 30 resil_stat_gt n0 drops $((drops + 2))

# 2: the right key, mode 0644
cp "$pki/new-client.key" "$cur/client.key"
chmod 0644 "$cur/client.key"
kill -HUP "${RESIL_PID[io]}"
resil_wait_for "the refused reload" 20 resil_lines_ge "$NB_TMP/io.out" "TLS reload" 2
grep -q "TLS reload failed: client key '$cur/client.key' is accessible by group or others (mode 0644).*keeping the old context" \
	"$NB_TMP/io.out" || nb_fail "open key: $(grep "TLS reload" "$NB_TMP/io.out" | tail -n 1)"
nb_info "ok: $(grep "TLS reload" "$NB_TMP/io.out" | tail -n 1)"
grep -q "resil-new-client" "$NB_TMP/n0.log" && nb_fail "the new certificate was used before a good reload"

# 3: mode 0600: reload works, new connections use the new certificate
chmod 0600 "$cur/client.key"
kill -HUP "${RESIL_PID[io]}"
resil_wait_for "the reload" 20 grep -q "TLS reload ok" "$NB_TMP/io.out"
resil_wait_for "a connection with the new certificate" 60 \
	grep -q "client certificate .*CN *= *resil-new-client" "$NB_TMP/n0.log"
nb_info "ok: node log: $(grep -m1 "CN *= *resil-new-client" "$NB_TMP/n0.log")"
sleep 1
resil_io_stop io
resil_check_clean io
[ "$(resil_sum io tls_reloads)" = 1 ] || nb_fail "expected 1 TLS reload, got $(resil_sum io tls_reloads)"
nb_info "ok: $(mock_stat n0 drops) connections dropped, $(resil_sum io reconnects) reconnects, 0 errors, 0 mismatches"
nb_info "PASS"
