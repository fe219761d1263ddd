#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-server-mock start-up checks: usage errors exit 2 naming the
# option, runtime errors exit 1 naming the file or address, --help
# documents every option and command.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_certs
pki=$NB_TMP/pki
tls=(--cert "$pki/server.crt" --key "$pki/server.key" --ca "$pki/ca.crt")
base=(--listen 127.0.0.1:0 "${tls[@]}")

# usage RC REGEX ARGS...: the mock must exit RC quickly with a message.
usage() {
	local want=$1 re=$2
	shift 2
	nb_expect_fail "mock $*" "$re" timeout 20 "$NB_MOCK" "$@"
	[ "$NB_LAST_RC" = "$want" ] || nb_fail "mock $*: exit $NB_LAST_RC, expected $want"
}

usage 2 "unknown option --frobnicate" "${base[@]}" --frobnicate
usage 2 "option --volume needs an argument" "${base[@]}" --volume
usage 2 "missing required option --cert" --listen 127.0.0.1:0 --key "$pki/server.key" --ca "$pki/ca.crt"
usage 2 "missing required option --ca" --listen 127.0.0.1:0 --cert "$pki/server.crt" --key "$pki/server.key"
usage 2 "--volume v:12X: bad size" "${base[@]}" --volume v:12X
usage 2 "--volume v: expected NAME:SIZE" "${base[@]}" --volume v
usage 2 "--volume a/b:1M: bad name" "${base[@]}" --volume a/b:1M
usage 2 "--volume v: size 1000 is not a multiple of --block-size 512" "${base[@]}" --volume v:1000
usage 2 "--volume v: size 1048064 is not a multiple of --block-size 4096" "${base[@]}" --block-size 4096 --volume v:1048064
usage 2 "--volume v: name given twice" "${base[@]}" --volume v:1M --volume v:2M
usage 2 "--volume v:1M:f:rx: expected \"ro\"" "${base[@]}" --volume v:1M:f:rx
usage 2 "--block-size 1024: must be 512 or 4096" "${base[@]}" --block-size 1024
usage 2 "--max-io-size 100: expected a size" "${base[@]}" --max-io-size 100
usage 2 "--max-io-size 64M: expected a size" "${base[@]}" --max-io-size 64M
usage 2 "--max-inflight 0: expected 1 to" "${base[@]}" --max-inflight 0
usage 2 "--max-discard 4G: expected a size" "${base[@]}" --max-discard 4G
usage 2 "--log-level loud: expected error" "${base[@]}" --log-level loud
usage 2 "--listen 127.0.0.1: expected HOST:PORT" --listen 127.0.0.1 "${tls[@]}"
usage 2 "--listen 127.0.0.1:99999: expected" --listen 127.0.0.1:99999 "${tls[@]}"
usage 2 "unexpected argument \"extra\"" "${base[@]}" extra
usage 2 "--fault \"explode\": unknown command" "${base[@]}" --fault explode
usage 2 "--fault \"error-rate write 101\": bad percentage" "${base[@]}" --fault "error-rate write 101"

usage 1 "--cert $NB_TMP/nosuch.crt: cannot read" --listen 127.0.0.1:0 --cert "$NB_TMP/nosuch.crt" --key "$pki/server.key" --ca "$pki/ca.crt"
usage 1 "--map $NB_TMP/nosuch.map: cannot read" "${base[@]}" --map "$NB_TMP/nosuch.map"
echo "epoch seven" >"$NB_TMP/bad.map"
usage 1 "--map: cannot load map $NB_TMP/bad.map" "${base[@]}" --map "$NB_TMP/bad.map"
usage 1 "cannot load private key --key $pki/ca.crt" --listen 127.0.0.1:0 --cert "$pki/server.crt" --key "$pki/ca.crt" --ca "$pki/ca.crt"
usage 1 "--volume-dir $NB_TMP/nodir: not a directory" "${base[@]}" --volume-dir "$NB_TMP/nodir"
usage 1 "--volume v: cannot create file $NB_TMP/nodir/v.img" "${base[@]}" --volume "v:1M:$NB_TMP/nodir/v.img"
touch "$NB_TMP/plain"
usage 1 "--control $NB_TMP/plain: exists and is not a socket" "${base[@]}" --control "$NB_TMP/plain"

nb_mock_start m
usage 1 "--listen 127.0.0.1:$(nb_mock_port m): cannot listen: Address already in use" \
	--listen "127.0.0.1:$(nb_mock_port m)" "${tls[@]}"

# --help documents every long option the program accepts and every command.
"$NB_MOCK" --help >"$NB_TMP/help.txt" || nb_fail "--help exited non-zero"
for o in listen port-file cert key ca name node map volume block-size allow-create volume-dir \
	max-inflight max-io-size max-discard max-write-zeroes max-connections control fault seed \
	log-level help; do
	grep -q -- "--$o" "$NB_TMP/help.txt" || nb_fail "--help does not document --$o"
	# and the program knows it (a missing argument, not an unknown option)
	out=$("$NB_MOCK" "--$o" 2>&1 </dev/null || true)
	grep -q "unknown option" <<<"$out" && nb_fail "--$o is documented but unknown"
done
for c in error-rate delay drop-every stall reset stats map-reload resize quit; do
	grep -Eq "^    $c( |$)" "$NB_TMP/help.txt" || nb_fail "--help does not document the command $c"
done
nb_info "ok: --help documents all options and commands"

# IPv6 loopback, when the machine has one: the default node address keeps
# the brackets and the bound port.
if [ -e /proc/net/if_inet6 ] && grep -q "^0\{31\}1 " /proc/net/if_inet6; then
	"$NB_MOCK" --listen "[::1]:0" --port-file "$NB_TMP/v6.port" "${tls[@]}" --volume v:1M \
		>"$NB_TMP/v6.log" 2>&1 &
	NB_MOCK_PID[v6]=$!
	for ((i = 0; i < 100; i++)); do [ -s "$NB_TMP/v6.port" ] && break; sleep 0.1; done
	p6=$(cat "$NB_TMP/v6.port")
	timeout 30 "$MOCK_PROBE" --connect "[::1]:$p6" --ca "$pki/ca.crt" --cert "$pki/client.crt" \
		--key "$pki/client.key" "hs" "getmap" "open v" "write 0 512 1" "read 0 512 1" \
		>"$NB_TMP/v6.out" || nb_fail "probe over IPv6 failed"
	grep -q "node0=\[::1\]:$p6" "$NB_TMP/v6.out" || nb_fail "IPv6 node address: $(cat "$NB_TMP/v6.out")"
	nb_info "ok: IPv6 listen"
else
	nb_info "no IPv6 loopback: IPv6 listen not checked"
fi
