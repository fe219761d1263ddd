#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS 1.3 only, client side: netblk-cli refuses a node that offers only
# TLS 1.2 (with a valid certificate from the trusted CA): no session, and
# the message names the node's "protocol version" alert. The
# same node offering TLS 1.3 gets past TLS (control case). The node side
# (mock refusing a TLS 1.2 client) is in mock_tls.sh.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
pki=$NB_TMP/pki

# free port: bind 0 through the mock's port file logic is not available for
# s_server, so pick one from the kernel's ephemeral range and retry.
# s_server quits at end of its stdin: give it a FIFO held open by us.
mkfifo "$NB_TMP/sserver.in"
exec 3<>"$NB_TMP/sserver.in"
start_sserver() {
	local i j
	for ((i = 0; i < 20; i++)); do
		port=$((20000 + RANDOM % 20000))
		openssl s_server -accept "127.0.0.1:$port" -cert "$pki/server.crt" \
			-key "$pki/server.key" -CAfile "$pki/ca.crt" -Verify 1 "$@" \
			>"$NB_TMP/sserver.out" 2>&1 <&3 &
		spid=$!
		for ((j = 0; j < 50; j++)); do
			grep -q ACCEPT "$NB_TMP/sserver.out" && return 0
			kill -0 "$spid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
	done
	nb_fail "openssl s_server did not start: $(cat "$NB_TMP/sserver.out")"
}
stop_sserver() {
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
}
trap 'rc=$?; stop_sserver; (exit $rc); nb_cleanup' EXIT

start_sserver -tls1_2
nb_expect_fail "node offering only TLS 1.2" \
	"alert protocol version" \
	nb_cli --connect-timeout 10 --cluster "127.0.0.1:$port" --volume vol0 info
[ "$NB_LAST_RC" = 1 ] || nb_fail "exit $NB_LAST_RC, expected 1"
if grep -aq "CIPHER is\|Protocol *: TLSv1.2" "$NB_TMP/sserver.out"; then
	nb_fail "a TLS 1.2 session was established: $(cat "$NB_TMP/sserver.out")"
fi
stop_sserver

# Control: the same server with TLS 1.3 completes the TLS handshake (the
# protocol then fails: s_server is no storage node). It only shows that
# the refusal above is about the version, so a loaded machine gets three
# tries; each failure is printed.
start_sserver -tls1_3
for ((try = 1; try <= 3; try++)); do
	rc=0
	out=$(nb_cli --connect-timeout 5 --cluster "127.0.0.1:$port" --volume vol0 info 2>&1) || rc=$?
	[ "$rc" != 0 ] || nb_fail "control: s_server answered like a node?"
	grep -Eqi "protocol version|unsupported protocol|certificate" <<<"$out" &&
		nb_fail "control: TLS 1.3 refused: $out"
	for ((i = 0; i < 50; i++)); do
		grep -aq "CIPHER is TLS_" "$NB_TMP/sserver.out" && break 2
		sleep 0.1
	done
	nb_info "control try $try: no TLS 1.3 session seen by s_server; client said: $out"
done
grep -aq "CIPHER is TLS_" "$NB_TMP/sserver.out" ||
	nb_fail "control: no TLS 1.3 session on the server: $(cat "$NB_TMP/sserver.out")"
nb_info "ok: control case: TLS 1.3 session established ($(grep -a -m1 'CIPHER is' "$NB_TMP/sserver.out")), then: $(head -n1 <<<"$out")"
nb_info "PASS"
