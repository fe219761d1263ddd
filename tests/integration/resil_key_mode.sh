#!/bin/bash
# SPDX-License-Identifier: MIT
# Private keys readable by group or others are refused, with a message
# naming the file and its mode: the client's (netblk-cli) and the node's
# (netblk-server-mock). With mode 0600 both work.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resil_lib.sh"
resil_require
nb_certs
pki=$NB_TMP/pki
install -m 0644 "$pki/server.key" "$NB_TMP/open-server.key"
nb_expect_fail "mock with a server key of mode 0644" \
	"--key $NB_TMP/open-server.key is accessible by group or others \(mode 0644\)" \
	timeout 30 "$NB_MOCK" --listen 127.0.0.1:0 --cert "$pki/server.crt" \
	--key "$NB_TMP/open-server.key" --ca "$pki/ca.crt" --volume vol0:1M
[ "$NB_LAST_RC" = 1 ] || nb_fail "mock: exit $NB_LAST_RC, expected 1"

nb_mock_start n0 --volume vol0:4M
install -m 0640 "$pki/client.key" "$NB_TMP/open-client.key"
nb_expect_fail "cli with a client key of mode 0640" \
	"client key '$NB_TMP/open-client.key' is accessible by group or others \(mode 0640\)" \
	nb_cli --cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0 \
	--key "$NB_TMP/open-client.key" verify --size 64K
chmod 0600 "$NB_TMP/open-client.key"
out=$(nb_cli --cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0 \
	--key "$NB_TMP/open-client.key" verify --size 64K 2>&1) || nb_fail "mode 0600: $out"
nb_info "ok: mode 0600 works: $(grep -m1 "verify: OK" <<<"$out")"
nb_info "PASS"
