#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS: the node refuses a client whose certificate has expired; the cli
# reports the node's "certificate expired" alert.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
"$NB_CERTS" "$NB_TMP/pki" --only client --expired --prefix expired >/dev/null ||
	nb_fail "netblk-certs --expired failed"
nb_mock_start n0 --volume vol0:1M
node=(--cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0)
nb_tls_expect_ok "${node[@]}"
nb_tls_expect_refused "expired client certificate" "expired" \
	"${node[@]}" --cert "$NB_TMP/pki/expired-client.crt" --key "$NB_TMP/pki/expired-client.key"
nb_info "PASS"
