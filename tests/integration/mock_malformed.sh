#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-server-mock and bad input: frames breaking the framing close their
# connection with a log line naming the peer and the fault, other
# connections keep working, random bytes never bring the node down.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_certs
nb_mock_start m --volume vol0:4M --max-io-size 64K
pki=$NB_TMP/pki
peer_re="client 127\.0\.0\.1:[0-9]+: malformed frame"

mock_probe m "use 1" "hs" "open vol0" "write 0 4096 1" \
	"use 0" "hs" "badmagic" \
	"use 1" "read 0 4096 1" \
	"use 2" "hs" "open vol0" "badlen" \
	"use 1" "write 4096 4096 1" \
	"use 3" "hs" "bigread" \
	"use 0" "hs" "bighdr" "use 2" "hs" "junkhdr" \
	"use 1" "read 0 8192 1" "ping" >/dev/null
mock_log_has m "$peer_re: bad frame header \(magic, version or kind\); closing the connection" ||
	nb_fail "bad magic not logged"
mock_log_has m "$peer_re: WRITE request [0-9]+ carries 100 data bytes for length 4096" ||
	nb_fail "length mismatch not logged"
mock_log_has m "$peer_re: READ request [0-9]+ of 66048 bytes exceeds max_io_size 65536" ||
	nb_fail "oversized read not logged"
mock_log_has m "$peer_re: request header of 8192 bytes \(limit 4096\)" ||
	nb_fail "oversized header not logged"
mock_log_has m "$peer_re: undecodable request header \(10 bytes\)" ||
	nb_fail "undecodable header not logged"
nb_info "ok: malformed frames close only their connection"

# Before HANDSHAKE, only HANDSHAKE; a bad version is refused politely.
mock_probe m "!BAD_STATE ping" "!BAD_STATE open vol0" "!UNSUPPORTED hsver 0" "hs" "ping" >/dev/null

# Random bytes over an authenticated TLS session (bounded loop).
for ((i = 0; i < 10; i++)); do
	head -c $((RANDOM % 20000 + 1)) /dev/urandom |
		timeout 10 openssl s_client -quiet -connect "127.0.0.1:$(nb_mock_port m)" \
			-CAfile "$pki/ca.crt" -cert "$pki/client.crt" -key "$pki/client.key" \
			>/dev/null 2>&1 || true
done
mock_probe m "hs" "open vol0" "read 0 8192 1" >/dev/null
[ "$(mock_stat m open_connections)" -le 1 ] || nb_fail "connections leaked"
kill -0 "${NB_MOCK_PID[m]}" || nb_fail "mock died"
nb_info "ok: random input survived, node serves"
