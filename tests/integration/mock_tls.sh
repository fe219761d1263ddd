#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-server-mock TLS: clients without a certificate, with a certificate
# from another CA, or offering only TLS 1.2 are refused, the log names the
# reason, and the node keeps serving good clients.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_certs
nb_certs "$NB_TMP/other"   # an independent CA and its client certificate

nb_mock_start m --volume vol0:1M
port=$(nb_mock_port m)
pki=$NB_TMP/pki

# s_client exits non-zero when the server aborts the handshake; the
# "certificate required" alert (116) is what a TLS 1.3 client sees.
sclient() {
	echo ping | timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$pki/ca.crt" \
		-servername localhost "$@" >"$NB_TMP/sclient.out" 2>&1
}

rc=0
sclient -tls1_3 -quiet || rc=$?
[ "$rc" != 0 ] || nb_fail "TLS client without a certificate was accepted: $(cat "$NB_TMP/sclient.out")"
grep -qi "certificate required" "$NB_TMP/sclient.out" ||
	nb_fail "client did not get the certificate-required alert: $(cat "$NB_TMP/sclient.out")"
mock_log_has m "client 127\.0\.0\.1:[0-9]+: TLS handshake failed: peer did not return a certificate" ||
	nb_fail "mock log does not name the missing client certificate"
nb_info "ok: client without certificate refused"

rc=0
sclient -tls1_3 -quiet -cert "$NB_TMP/other/client.crt" -key "$NB_TMP/other/client.key" || rc=$?
[ "$rc" != 0 ] || nb_fail "client certificate of a foreign CA was accepted"
mock_log_has m "TLS handshake failed: certificate verify failed \(client certificate: unable to get local issuer certificate\)" ||
	nb_fail "mock log does not name the failed client certificate verification"
nb_info "ok: client certificate from another CA refused"

rc=0
sclient -tls1_2 -cert "$pki/client.crt" -key "$pki/client.key" || rc=$?
[ "$rc" != 0 ] || nb_fail "TLS 1.2 handshake succeeded"
mock_log_has m "TLS handshake failed: unsupported protocol" ||
	nb_fail "mock log does not name the refused TLS 1.2"
nb_info "ok: TLS 1.2 refused"

# A TCP client that never speaks TLS costs nothing and does not block others.
exec 7<>"/dev/tcp/127.0.0.1/$port"
mock_probe m "hs" "open vol0" "write 0 4096 1" "read 0 4096 1" >/dev/null
exec 7<&-
[ "$(mock_stat m connections)" -ge 5 ] || nb_fail "connections counter did not count the attempts"
nb_info "ok: node still serves a good client"
