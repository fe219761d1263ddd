#!/bin/bash
# SPDX-License-Identifier: MIT
# scripts/netblk-certs: the files it makes verify against their CA, carry
# the expected names, keys are private, --expired certificates are
# expired, a second DIR is an independent CA, an existing CA is reused.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || nb_skip "the openssl command is not installed"
pki=$NB_TMP/pki

nb_certs "$pki"
for f in ca.crt ca.key server.crt server.key client.crt client.key; do
	[ -s "$pki/$f" ] || nb_fail "$f missing"
done
for f in ca.key server.key client.key; do
	[ "$(stat -c %a "$pki/$f")" = 600 ] || nb_fail "$f has mode $(stat -c %a "$pki/$f"), expected 600"
done
openssl verify -CAfile "$pki/ca.crt" "$pki/server.crt" "$pki/client.crt" >/dev/null ||
	nb_fail "server/client certificates do not verify against ca.crt"
san=$(openssl x509 -in "$pki/server.crt" -noout -ext subjectAltName)
for want in DNS:localhost "IP Address:127.0.0.1" "IP Address:0:0:0:0:0:0:0:1"; do
	grep -q "$want" <<<"$san" || nb_fail "server SAN lacks $want: $san"
done
openssl verify -CAfile "$pki/ca.crt" -purpose sslserver "$pki/server.crt" >/dev/null ||
	nb_fail "server.crt is not usable as a TLS server certificate"
openssl verify -CAfile "$pki/ca.crt" -purpose sslclient "$pki/client.crt" >/dev/null ||
	nb_fail "client.crt is not usable as a TLS client certificate"
nb_info "ok: CA, server (localhost, 127.0.0.1, ::1) and client certificates verify; keys are 0600"

ca_before=$(openssl x509 -in "$pki/ca.crt" -noout -fingerprint)
"$NB_CERTS" "$pki" --only server --prefix two --server-name node2.example --server-ip 127.0.0.2 \
	--key-type rsa >/dev/null || nb_fail "second server certificate failed"
[ "$(openssl x509 -in "$pki/ca.crt" -noout -fingerprint)" = "$ca_before" ] || nb_fail "the CA was replaced"
openssl verify -CAfile "$pki/ca.crt" "$pki/two-server.crt" >/dev/null || nb_fail "two-server.crt does not verify"
san=$(openssl x509 -in "$pki/two-server.crt" -noout -ext subjectAltName)
if ! grep -q "DNS:node2.example" <<<"$san" || ! grep -q "IP Address:127.0.0.2" <<<"$san" ||
	grep -q localhost <<<"$san"; then
	nb_fail "two-server.crt has the wrong names: $san"
fi
openssl x509 -in "$pki/two-server.crt" -noout -text | grep -q "rsaEncryption" || nb_fail "--key-type rsa ignored"
nb_info "ok: existing CA reused for an RSA server certificate with only the names given"

if "$NB_CERTS" "$pki" --only server >/dev/null 2>&1; then
	nb_fail "overwrote server.crt without --force"
fi
"$NB_CERTS" "$pki" --only client --expired --prefix old >/dev/null || nb_fail "--expired failed"
out=$(openssl verify -CAfile "$pki/ca.crt" "$pki/old-client.crt" 2>&1) && nb_fail "expired certificate verifies: $out"
grep -q "certificate has expired" <<<"$out" || nb_fail "old-client.crt fails for another reason: $out"
nb_info "ok: --expired certificate is refused as expired; no overwrite without --force"

nb_certs "$NB_TMP/other"
out=$(openssl verify -CAfile "$NB_TMP/other/ca.crt" "$pki/server.crt" 2>&1) && nb_fail "another DIR trusts the first CA"
nb_info "ok: a second DIR is an independent CA"

rc=0
"$NB_CERTS" "$pki" --days abc >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || nb_fail "--days abc: exit $rc, expected 2"
"$NB_CERTS" --help | grep -q SYNOPSIS || nb_fail "--help lacks a synopsis"
nb_info "PASS"
