#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS: a node whose certificate has expired is refused by the client
# ("certificate has expired"); the mock warns about it at start.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
"$NB_CERTS" "$NB_TMP/pki" --only server --expired --prefix expired >/dev/null ||
	nb_fail "netblk-certs --expired failed"
NB_MOCK_CERT=$NB_TMP/pki/expired-server.crt NB_MOCK_KEY=$NB_TMP/pki/expired-server.key \
	nb_mock_start n0 --volume vol0:1M
# The mock says so at start, naming the file and the date.
grep -Eq "expired-server\.crt expired on [0-9]{4}-[0-9]{2}-[0-9]{2} " "$NB_TMP/n0.log" ||
	nb_fail "no warning about the expired certificate at start: $(head -n 5 "$NB_TMP/n0.log")"
nb_info "start warning: $(grep -m1 'expired on' "$NB_TMP/n0.log")"
nb_tls_expect_refused "expired server certificate" "expired" \
	--cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0
nb_info "PASS"
