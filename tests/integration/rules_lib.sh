# SPDX-License-Identifier: MIT
#
# Helpers for the tests of the client's failover and flush rules
# (rules_*.sh), sourced after lib.sh:
#
#   rules_require                  programs present (else fail)
#   step_io [options] STEP...      run step_io (see step_io.c) with the
#                                  default TLS files under the hang guard
#   step_io_bg NAME [opts] STEP... the same in the background; output in
#                                  $NB_TMP/NAME.out, pid in STEP_PID[NAME]
#   step_io_wait NAME              wait for it; sets STEP_RC
#   rules_wait_file FILE SECS      wait (bounded) until FILE exists
#   rules_kill9 NAME               kill -9 a mock node for good
#   rules_step_field NAME N KEY    a value of step N's line ("result", ...)

NB_STEP_IO=${NETBLK_BUILD:-$NETBLK_SRC/build}/tests/integration/step_io
declare -A STEP_PID=()

rules_cleanup() {
	local rc=$? name
	set +e
	for name in "${!STEP_PID[@]}"; do
		kill -KILL "${STEP_PID[$name]}" 2>/dev/null
		wait "${STEP_PID[$name]}" 2>/dev/null
	done
	(exit "$rc")
	nb_cleanup
}
trap rules_cleanup EXIT

rules_require() {
	nb_require_programs
	[ -x "$NB_STEP_IO" ] || nb_fail "$NB_STEP_IO is not built (set NETBLK_BUILD)"
}

step_io() {
	local pki=$NB_TMP/pki
	timeout --kill-after=5 "$NB_HANG_GUARD" "$NB_STEP_IO" --ca "$pki/ca.crt" \
		--cert "$pki/client.crt" --key "$pki/client.key" "$@"
}

step_io_bg() {
	local name=$1 pki=$NB_TMP/pki
	shift
	"$NB_STEP_IO" --ca "$pki/ca.crt" --cert "$pki/client.crt" \
		--key "$pki/client.key" "$@" >"$NB_TMP/$name.out" 2>"$NB_TMP/$name.log" &
	STEP_PID[$name]=$!
}

step_io_wait() {
	STEP_RC=0
	wait "${STEP_PID[$1]}" || STEP_RC=$?
	unset "STEP_PID[$1]"
}

rules_wait_file() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	nb_fail "$(basename "$1") did not appear within $2 s"
}

rules_kill9() {
	local pid=${NB_MOCK_PID[$1]}
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	unset "NB_MOCK_PID[$1]"
}

rules_step_field() {
	sed -n "s/^step $2 [a-z]* .*$3 \([-0-9.a-z]*\).*/\1/p" "$NB_TMP/$1.out"
}
