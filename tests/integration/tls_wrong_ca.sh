#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS: a client that trusts another CA refuses the node ("certificate
# verify failed"), and a node refuses a client whose certificate comes
# from a CA it does not trust ("unknown ca").
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
nb_certs "$NB_TMP/other"
nb_mock_start n0 --volume vol0:1M
node=(--cluster "127.0.0.1:$(nb_mock_port n0)" --volume vol0)

nb_tls_expect_ok "${node[@]}"
nb_tls_expect_refused "client trusts another CA" "certificate verify failed|unable to get local issuer" \
	"${node[@]}" --ca "$NB_TMP/other/ca.crt"
nb_tls_expect_refused "client certificate from another CA" "unknown ca|certificate verify failed|refused" \
	"${node[@]}" --cert "$NB_TMP/other/client.crt" --key "$NB_TMP/other/client.key"
nb_info "PASS"
