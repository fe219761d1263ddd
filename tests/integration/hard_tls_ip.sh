#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS identity by IP address: a node reached at 127.0.0.1 whose
# certificate names only another address (10.11.12.13) is refused with a
# message naming the mismatch; the same CA's certificate naming 127.0.0.1
# (and no DNS name) is accepted. (Names: tls_wrong_name.sh.)
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
pki=$NB_TMP/pki
"$NB_CERTS" "$pki" --only server --prefix other --server-ip 10.11.12.13 >/dev/null ||
	nb_fail "netblk-certs --server-ip 10.11.12.13 failed"
"$NB_CERTS" "$pki" --only server --prefix ip --server-ip 127.0.0.1 >/dev/null ||
	nb_fail "netblk-certs --server-ip 127.0.0.1 failed"

NB_MOCK_CERT=$pki/other-server.crt NB_MOCK_KEY=$pki/other-server.key \
	nb_mock_start wrong --volume vol0:1M
nb_tls_expect_refused "certificate for 10.11.12.13 at 127.0.0.1" \
	"IP address mismatch" \
	--cluster "127.0.0.1:$(nb_mock_port wrong)" --volume vol0

NB_MOCK_CERT=$pki/ip-server.crt NB_MOCK_KEY=$pki/ip-server.key \
	nb_mock_start right --volume vol0:1M
nb_tls_expect_ok --cluster "127.0.0.1:$(nb_mock_port right)" --volume vol0
nb_info "PASS"
