#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-cli command line: bad options exit 2 naming the option, --help
# exits 0, an unknown volume is "not found", an unreachable cluster fails
# with a clear error after a bounded wait.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs

usage_expect() { # EXPECTED_RC REGEX ARGS...
	local want=$1 re=$2 rc=0 out
	shift 2
	out=$(timeout 30 "$NB_CLI_BIN" "$@" 2>&1) || rc=$?
	[ "$rc" = "$want" ] || nb_fail "netblk-cli $*: exit $rc, expected $want; output: $out"
	grep -Eq -- "$re" <<<"$out" || nb_fail "netblk-cli $*: output does not match /$re/: $out"
	nb_info "ok: netblk-cli $* -> exit $rc: $(head -n 1 <<<"$out")"
}

# --help reads like a man page, for the tool and every command.
usage_expect 0 'SYNOPSIS' --help
for cmd in create info import export verify bench; do
	usage_expect 0 "netblk-cli $cmd" "$cmd" --help
done

common=(--cluster 127.0.0.1:9 --volume vol0 --ca "$NB_TMP/pki/ca.crt")
usage_expect 2 "'--bogus'" --bogus
usage_expect 2 "'--frobnicate'" "${common[@]}" verify --frobnicate
usage_expect 2 "--io-timeout" --io-timeout
usage_expect 2 "'12Q'.*--size" "${common[@]}" verify --size 12Q
usage_expect 2 "--pass" "${common[@]}" verify --pass sideways
usage_expect 2 "--pattern" "${common[@]}" bench --pattern sideways
usage_expect 2 "--pattern" "${common[@]}" bench
usage_expect 2 "--iodepth" "${common[@]}" bench --pattern read --iodepth 0
usage_expect 2 "--io-timeout" "${common[@]}" --io-timeout -1 verify
usage_expect 2 "MiB of buffers" "${common[@]}" verify --queue-depth 4096 --block-size 16M
usage_expect 2 "unknown command 'frobnicate'" "${common[@]}" frobnicate
usage_expect 2 "missing COMMAND" "${common[@]}"
usage_expect 2 "missing --cluster" --volume vol0 --ca "$NB_TMP/pki/ca.crt" verify
usage_expect 2 "missing --volume" --cluster 127.0.0.1:9 --ca "$NB_TMP/pki/ca.crt" verify
usage_expect 2 "missing --ca" --cluster 127.0.0.1:9 --volume vol0 verify
usage_expect 2 "--cert and --key" "${common[@]}" --cert "$NB_TMP/pki/client.crt" verify
usage_expect 2 "missing FILE" "${common[@]}" import
usage_expect 2 "SIZE" "${common[@]}" create 1000
usage_expect 2 "read-only" "${common[@]}" --read-only import /dev/null

# Bad addresses are bad command lines (exit 2) like a missing port, so a
# unit's RestartPreventExitStatus=2 does not restart on a typo.
usage_expect 2 "'127.0.0.1:99999' is not host:port" --cluster 127.0.0.1:99999 --volume vol0 \
	--ca "$NB_TMP/pki/ca.crt" info
usage_expect 2 "'\[::1' is not host:port" --cluster '[::1' --volume vol0 --ca "$NB_TMP/pki/ca.crt" info
usage_expect 2 "'nohost' is not host:port" --cluster nohost --volume vol0 --ca "$NB_TMP/pki/ca.crt" info
# An unreadable CA file is named as such, not as a missing volume.
out=$(timeout 30 "$NB_CLI_BIN" --cluster 127.0.0.1:9 --volume vol1 --ca /nonexistent info 2>&1) && rc=0 || rc=$?
[ "$rc" = 2 ] || nb_fail "--ca /nonexistent: exit $rc, expected 2: $out"
grep -q "cannot read the CA file --ca '/nonexistent': No such file or directory" <<<"$out" ||
	nb_fail "--ca /nonexistent: message does not name the CA file: $out"
! grep -q "not found" <<<"$out" || nb_fail "--ca /nonexistent: says 'not found': $out"
usage_expect 2 "cannot read the private key file --key '/nonexistent'" "${common[@]}" \
	--cert "$NB_TMP/pki/client.crt" --key /nonexistent info
# verify --size 0 would check nothing: refused.
usage_expect 2 "--size must be more than 0" "${common[@]}" verify --size 0
# The short options are vduse-netblk's; the old -v (verbose) is refused
# with a hint rather than taken as a volume called 'v'.
usage_expect 2 "-v is --volume.*--verbose" -vv "${common[@]}" info
usage_expect 2 "unknown option '-q'" -q "${common[@]}" info
# Without --ca: the daemon's default, named when it is missing.
NETBLK_TLS_DIR=$NB_TMP/none usage_expect 2 "missing --ca FILE.*$NB_TMP/none/ca.crt does not exist" \
	--cluster 127.0.0.1:9 --volume vol0 info

# Runtime errors exit 1 with the cause.
nb_mock_start n0 --volume vol0:1M
port=$(nb_mock_port n0)
nb_expect_fail "unknown volume (verify)" "not found" \
	nb_cli --cluster "127.0.0.1:$port" --volume nosuchvol verify --size 64K
[ "$NB_LAST_RC" = 1 ] || nb_fail "unknown volume: exit $NB_LAST_RC, expected 1"
nb_expect_fail "unknown volume (info)" "not found" \
	nb_cli --cluster "127.0.0.1:$port" --volume nosuchvol info
[ "$NB_LAST_RC" = 1 ] || nb_fail "unknown volume info: exit $NB_LAST_RC, expected 1"
nb_expect_fail "range beyond the volume" "beyond the end" \
	nb_cli --cluster "127.0.0.1:$port" --volume vol0 export --offset 2M /dev/null
nb_expect_fail "verify from the end of the volume" "nothing to check" \
	nb_cli --cluster "127.0.0.1:$port" --volume vol0 verify --offset 1M
[ "$NB_LAST_RC" = 2 ] || nb_fail "verify --offset END: exit $NB_LAST_RC, expected 2"

# Short options and the default TLS files (the daemon's, here from
# NETBLK_TLS_DIR): no --ca, --cert, --key given.
out=$(NETBLK_TLS_DIR=$NB_TMP/pki timeout 30 "$NB_CLI_BIN" -c "127.0.0.1:$port" -v vol0 -r info 2>&1) ||
	nb_fail "info with short options and the default TLS files: $out"
grep -q "^volume: *vol0" <<<"$out" || nb_fail "info -c -v -r: $out"
nb_info "ok: -c -v -r with the default TLS files: $(head -n 1 <<<"$out")"

# Nothing listens on the port of a stopped node: refused.
nb_mock_start gone --volume vol0:1M
gone=$(nb_mock_port gone)
nb_mock_stop gone
nb_expect_fail "unreachable cluster (connection refused)" "refused|cannot connect" \
	nb_cli --connect-timeout 5 --cluster "127.0.0.1:$gone" --volume vol0 verify --size 64K
[ "$NB_LAST_RC" = 1 ] || nb_fail "refused: exit $NB_LAST_RC, expected 1"

# A node that accepts TCP but never answers (stopped process): time out.
kill -STOP "${NB_MOCK_PID[n0]}"
nb_expect_fail "unresponsive cluster (connect timeout)" "timed out|timeout" \
	nb_cli --connect-timeout 2 --cluster "127.0.0.1:$port" --volume vol0 verify --size 64K
rc=$NB_LAST_RC
kill -CONT "${NB_MOCK_PID[n0]}"
[ "$rc" = 1 ] || nb_fail "timeout: exit $rc, expected 1"
nb_info "PASS"
