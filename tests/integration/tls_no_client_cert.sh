#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS: a client without a certificate is refused by the node; the cli
# says the node required a certificate.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
nb_mock_start n0 --volume vol0:1M
port=$(nb_mock_port n0)

nb_tls_expect_ok --cluster "127.0.0.1:$port" --volume vol0
# Call the program directly: nb_cli would add the default --cert/--key.
nocert() {
	timeout --kill-after=5 "$NB_HANG_GUARD" "$NB_CLI_BIN" --ca "$NB_TMP/pki/ca.crt" \
		--cluster "127.0.0.1:$port" --volume vol0 --connect-timeout 10 "$@"
}
nb_expect_fail "no client certificate (verify)" "certificate required|no certificate|peer did not return a certificate" \
	nocert verify --size 64K
[ "$NB_LAST_RC" = 1 ] || nb_fail "no client certificate: exit $NB_LAST_RC, expected 1"
nb_expect_fail "no client certificate (info)" "certificate required|no certificate|peer did not return a certificate" \
	nocert info
[ "$NB_LAST_RC" = 1 ] || nb_fail "no client certificate (info): exit $NB_LAST_RC, expected 1"
re='did not return a certificate|certificate required|no certificate'
grep -Eqi "$re" "$NB_TMP/n0.log" || nb_fail "the node log does not mention the missing certificate"
nb_info "ok: node log: $(grep -Ei -m1 "$re" "$NB_TMP/n0.log")"
nb_info "PASS"
