#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS 1.3 cipher suites (--tls-ciphersuites): the suite the client asks
# for first is the one used (the mock honours the client's order), as
# netblk-cli bench prints it; the default order is the measured one; a
# suite the node does not allow fails with a TLS error, without hanging;
# a bad list is refused with exit 2 by netblk-cli, vduse-netblk (daemon
# and agent) and netblk-server-mock, naming the option and the value.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
nb_mock_start n0 --volume vol0:4M
port=$(nb_mock_port n0)

AES128=TLS_AES_128_GCM_SHA256
AES256=TLS_AES_256_GCM_SHA384
CHACHA=TLS_CHACHA20_POLY1305_SHA256

# bench_suite [CLI options]: the suite netblk-cli bench reports.
bench_suite() {
	local out
	out=$(nb_cli --cluster "127.0.0.1:$port" --volume vol0 "$@" \
		bench --pattern randread --seconds 1 --size 1M --iodepth 4 2>&1) ||
		nb_fail "bench $* failed: $out"
	sed -n 's/^bench: tls //p' <<<"$out"
}

# The client's first choice wins, whichever it is.
for list in "$CHACHA" "$CHACHA:$AES128:$AES256" "$AES128:$CHACHA" \
	"$AES256:$CHACHA:$AES128"; do
	got=$(bench_suite --tls-ciphersuites "$list")
	[ "$got" = "${list%%:*}" ] ||
		nb_fail "--tls-ciphersuites $list: bench reports '$got', expected ${list%%:*}"
	nb_info "ok: --tls-ciphersuites $list: negotiated $got"
done

# Default: the measured order (shown with --verbose --verbose), and its first suite is used.
out=$(nb_cli --verbose --verbose --cluster "127.0.0.1:$port" --volume vol0 \
	bench --pattern randread --seconds 1 --size 1M --iodepth 4 2>&1) ||
	nb_fail "bench with the default suites failed: $out"
order=$(sed -n 's/.*TLS 1.3 cipher suites, fastest on this CPU first: \([^ ]*\) .*/\1/p' <<<"$out" | head -1)
[ -n "$order" ] || nb_fail "-vv does not show the measured order: $out"
for s in $AES128 $AES256 $CHACHA; do
	[[ ":$order:" == *":$s:"* ]] || nb_fail "measured order '$order' lacks $s"
done
got=$(sed -n 's/^bench: tls //p' <<<"$out")
[ "$got" = "${order%%:*}" ] || nb_fail "default order $order, but bench reports '$got'"
nb_info "ok: default order $order, negotiated $got; $(grep -m1 'MB/s)' <<<"$out")"

# A node that allows AES-128-GCM only: a client asking for ChaCha20 only
# fails the handshake (exit 1, a TLS message), one that also offers
# AES-128-GCM gets it.
nb_mock_start n1 --volume vol0:4M --tls-ciphersuites "$AES128"
port1=$(nb_mock_port n1)
nb_tls_expect_refused "ChaCha20 only against an AES-128-only node" \
	"TLS handshake failed|handshake failure|no shared cipher" \
	--cluster "127.0.0.1:$port1" --volume vol0 --tls-ciphersuites "$CHACHA"
port=$port1
got=$(bench_suite --tls-ciphersuites "$CHACHA:$AES128")
[ "$got" = "$AES128" ] || nb_fail "AES-128-only node: bench reports '$got', expected $AES128"
nb_info "ok: AES-128-only node, client $CHACHA:$AES128: negotiated $got"

# Bad lists: exit 2, the option and the value named.
expect_usage() {
	local what=$1 value=$2
	shift 2
	nb_expect_fail "$what --tls-ciphersuites '$value'" \
		"--tls-ciphersuites '$value'" "$@"
	[ "$NB_LAST_RC" = 2 ] || nb_fail "$what '$value': exit $NB_LAST_RC, expected 2"
}
for bad in TLS_FOO "$AES128:TLS_FOO" ECDHE-RSA-AES128-GCM-SHA256 "" "$AES128::$CHACHA"; do
	expect_usage netblk-cli "$bad" nb_cli --cluster "127.0.0.1:$port" \
		--volume vol0 --tls-ciphersuites "$bad" info
done
expect_usage vduse-netblk TLS_FOO timeout 20 "$NETBLK_BIN/vduse-netblk" \
	--cluster "127.0.0.1:$port" --volume vol0 --tls-ciphersuites TLS_FOO
expect_usage "vduse-netblk agent" AES128-SHA timeout 20 "$NETBLK_BIN/vduse-netblk" \
	agent --spec-dir "$NB_TMP" --tls-ciphersuites AES128-SHA
expect_usage netblk-server-mock TLS_FOO timeout 20 "$NB_MOCK" --listen 127.0.0.1:0 \
	--cert "$NB_TMP/pki/server.crt" --key "$NB_TMP/pki/server.key" \
	--ca "$NB_TMP/pki/ca.crt" --tls-ciphersuites TLS_FOO
nb_info "PASS"
