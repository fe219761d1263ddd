#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-node configuration: the file and the options (which win), errors
# that name the option or FILE:LINE with exit 2, the rados backend with
# no cluster or no ceph.conf (exit 1), a directory owned by another node
# (exit 1), --help.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
[ -x "$NB_NODE" ] || nb_fail "$NB_NODE is not built"
pki=$NB_TMP/pki
mkdir -p "$NB_TMP/vols"
conf=$NB_TMP/node.conf
cat >"$conf" <<CONF
# a node
listen = 127.0.0.1:0
cert = $pki/server.crt
key = $pki/server.key
ca = $pki/ca.crt

backend = file
dir = $NB_TMP/vols
threads = 3
allow-create = yes
CONF

out=$("$NB_NODE" --config "$conf" --check-config) || nb_fail "--check-config failed: $out"
grep -qx "threads = 3" <<<"$out" || nb_fail "threads from the file not applied: $out"
grep -qx "allow-create = yes" <<<"$out" || nb_fail "allow-create from the file not applied: $out"
out=$("$NB_NODE" --config "$conf" --threads 1 --max-io-size 64K --check-config) ||
	nb_fail "--check-config with options failed: $out"
grep -qx "threads = 1" <<<"$out" || nb_fail "--threads did not override the file: $out"
grep -qx "max-io-size = 65536" <<<"$out" || nb_fail "--max-io-size not applied: $out"
nb_info "ok: file settings, options override them"

# bad_conf LINE REGEX: the file with LINE added must fail with exit 2.
bad_conf() {
	local line=$1 re=$2
	{ cat "$conf"; printf '%s\n' "$line"; } >"$NB_TMP/bad.conf"
	nb_expect_fail "config line '$line'" "$re" "$NB_NODE" --config "$NB_TMP/bad.conf" --check-config
	[ "$NB_LAST_RC" = 2 ] || nb_fail "config line '$line': exit $NB_LAST_RC, expected 2"
}
n=$(($(wc -l <"$conf") + 1))
bad_conf "thread = 2" "bad.conf:$n: unknown key \"thread\""
bad_conf "threads 2" "bad.conf:$n: expected \"key = value\""
bad_conf "threads = 0" "bad.conf:$n: threads: expected a number from 1 to 256"
bad_conf "backend = nfs" "bad.conf:$n: backend: unknown backend \"nfs\""
bad_conf "max-io-size = 1" "bad.conf:$n: max-io-size: expected a size"
bad_conf "allow-create = maybe" "bad.conf:$n: allow-create: expected yes or no"
bad_conf "listen = nowhere" "bad.conf:$n: listen: expected HOST:PORT"
bad_conf "cert =" "bad.conf:$n: cert: empty value"

# bad_opt REGEX ARGS...: the command line must fail with exit 2.
bad_opt() {
	local re=$1
	shift
	nb_expect_fail "options $*" "$re" "$NB_NODE" "$@"
	[ "$NB_LAST_RC" = 2 ] || nb_fail "options $*: exit $NB_LAST_RC, expected 2"
}
bad_opt "unknown option --bogus" --config "$conf" --bogus 1
bad_opt "--threads 999: expected a number from 1 to 256" --config "$conf" --threads 999
bad_opt "--log-level loud: expected error, warn, info or debug" --config "$conf" --log-level loud
bad_opt "unexpected argument \"extra\"" --config "$conf" extra
bad_opt "--dir: needs a value" --config "$conf" --dir
bad_opt "--config $NB_TMP/nosuch.conf: cannot read" --config "$NB_TMP/nosuch.conf"
bad_opt "missing setting cert" --key "$pki/server.key" --ca "$pki/ca.crt" --dir "$NB_TMP/vols"
bad_opt "the file backend needs a directory" --cert "$pki/server.crt" --key "$pki/server.key" --ca "$pki/ca.crt"
bad_opt "the rados backend needs a pool" --config "$conf" --backend rados
nb_info "ok: bad lines and options are named, exit 2"

# rados: an unreadable ceph.conf is named; an unreachable cluster is
# named after rados-connect-timeout (or, without librados at build time,
# "not built").
sed '/^dir = /d' "$conf" >"$NB_TMP/rados.conf"
printf 'backend = rados\nrados-pool = rbd\nrados-user = admin\nrados-conf = %s\nrados-connect-timeout = 2\n' \
	"$NB_TMP/ceph.conf" >>"$NB_TMP/rados.conf"
printf '[global]\nmon host = 127.0.0.1:1\n' >"$NB_TMP/ceph.conf"
out=$("$NB_NODE" --config "$NB_TMP/rados.conf" --check-config) || nb_fail "rados settings refused: $out"
grep -qx "rados-pool = rbd" <<<"$out" || nb_fail "rados-pool not shown: $out"
grep -qx "rados-connect-timeout = 2" <<<"$out" || nb_fail "rados-connect-timeout not shown: $out"
nb_expect_fail "the rados backend without a cluster" \
	"no monitor of .*ceph.conf answered within 2 s|rados backend not built" \
	"$NB_NODE" --config "$NB_TMP/rados.conf"
[ "$NB_LAST_RC" = 1 ] || nb_fail "rados: exit $NB_LAST_RC, expected 1"
nb_expect_fail "the rados backend with a missing ceph.conf" "rados-conf .*: cannot read" \
	"$NB_NODE" --config "$NB_TMP/rados.conf" --rados-conf "$NB_TMP/nosuch.conf"
[ "$NB_LAST_RC" = 1 ] || nb_fail "rados: exit $NB_LAST_RC, expected 1"

# A directory belongs to one node.
nb_node_start n0 --dir "$NB_TMP/vols" --threads 1
nb_expect_fail "a second node on the same directory" "in use by another node \(pid ${NB_MOCK_PID[n0]}" \
	"$NB_NODE" --config "$conf" --port-file "$NB_TMP/x.port"
[ "$NB_LAST_RC" = 1 ] || nb_fail "second node: exit $NB_LAST_RC, expected 1"
nb_expect_fail "an unreadable certificate" "cert $NB_TMP/nosuch.crt: cannot read" \
	"$NB_NODE" --config "$conf" --cert "$NB_TMP/nosuch.crt"

out=$("$NB_NODE" --help) || nb_fail "--help failed"
for w in CONFIGURATION allow-create sync-threads rados-pool "EXIT STATUS" SIGHUP; do
	grep -q -- "$w" <<<"$out" || nb_fail "--help does not mention $w"
done
nb_info "PASS"
