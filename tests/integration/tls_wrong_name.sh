#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS: the node certificate must carry the expected name. Refused with
# --tls-name other.example against a localhost/127.0.0.1 certificate, and
# when the node's certificate was made for another name.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
nb_mock_start n0 --volume vol0:1M
port=$(nb_mock_port n0)

nb_tls_expect_ok --cluster "127.0.0.1:$port" --volume vol0
nb_tls_expect_ok --cluster "127.0.0.1:$port" --volume vol0 --tls-name localhost
nb_tls_expect_refused "--tls-name other.example" "mismatch" \
	--cluster "127.0.0.1:$port" --volume vol0 --tls-name other.example

# Same CA, a server certificate for other.example only.
"$NB_CERTS" "$NB_TMP/pki" --only server --prefix other --server-name other.example >/dev/null ||
	nb_fail "netblk-certs --server-name other.example failed"
NB_MOCK_CERT=$NB_TMP/pki/other-server.crt NB_MOCK_KEY=$NB_TMP/pki/other-server.key \
	nb_mock_start n1 --volume vol0:1M
port1=$(nb_mock_port n1)
nb_tls_expect_refused "certificate made for another name" "mismatch" \
	--cluster "127.0.0.1:$port1" --volume vol0
nb_tls_expect_ok --cluster "127.0.0.1:$port1" --volume vol0 --tls-name other.example
nb_info "PASS"
