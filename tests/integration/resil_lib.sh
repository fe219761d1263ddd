# SPDX-License-Identifier: MIT
#
# Helpers for the resilience tests (resil_*.sh), sourced after lib.sh:
#
#   resil_require                      programs present (else fail)
#   resil_shared_pair FILE SIZE        nodes n0, n1 on one backing FILE,
#                                      one store group (NB_MAP_GROUP=1),
#                                      map: every chunk on n0, then n1
#   resil_io_start NAME [options]      start resil_io in the background
#                                      (default TLS files, --until-file);
#                                      waits until it is ready
#   resil_io_stop NAME                 tell it to stop, wait (bounded) and
#                                      set RESIL_RC; output in $NB_TMP/NAME.out
#   resil_sum NAME KEY                 a number from its summary line
#   resil_wait_for WHAT SECS CMD...    poll CMD (every 0.2 s) until it
#                                      succeeds, or fail naming WHAT
#   resil_stat_gt NODE KEY N           node counter KEY > N (for polling)
#   resil_lines_ge FILE REGEX N        at least N lines match (for polling)
# (poll with these functions: a $(...) in the arguments of resil_wait_for
# would be evaluated only once)
#
# resil_io stops by itself (failing) --max-seconds after its start, and
# exits within another 60 s however stuck; it is killed when the test
# exits. It is not run under timeout(1), which would take the signals
# meant for it.

NB_RESIL_IO=${NETBLK_BUILD:-$NETBLK_SRC/build}/tests/integration/resil_io
declare -A RESIL_PID=()

resil_cleanup() {
	local rc=$? name
	set +e
	for name in "${!RESIL_PID[@]}"; do
		kill -TERM "${RESIL_PID[$name]}" 2>/dev/null
		wait "${RESIL_PID[$name]}" 2>/dev/null
	done
	(exit "$rc")
	nb_cleanup
}
trap resil_cleanup EXIT

resil_require() {
	nb_require_programs
	[ -x "$NB_RESIL_IO" ] || nb_fail "$NB_RESIL_IO is not built (set NETBLK_BUILD)"
}

resil_shared_pair() {
	local file=$1 size=$2
	NB_MAP_GROUP=1
	nb_cluster_start 2 "$NB_TMP/cluster.map" 1M --volume "vol0:$size:$file" -- "0 1"
}

resil_io_start() {
	local name=$1 pki=$NB_TMP/pki i
	shift
	rm -f "$NB_TMP/$name.stop" "$NB_TMP/$name.ready"
	"$NB_RESIL_IO" --max-seconds "${RESIL_MAX_SECONDS:-200}" \
		--ca "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key" \
		--volume vol0 --until-file "$NB_TMP/$name.stop" \
		--ready-file "$NB_TMP/$name.ready" "$@" \
		>"$NB_TMP/$name.out" 2>"$NB_TMP/$name.log" &
	RESIL_PID[$name]=$!
	for ((i = 0; i < 300; i++)); do
		[ -e "$NB_TMP/$name.ready" ] && return 0
		kill -0 "${RESIL_PID[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	nb_fail "resil_io $name did not get ready: $(cat "$NB_TMP/$name.out") $(tail -n 5 "$NB_TMP/$name.log")"
}

resil_io_stop() {
	local name=$1
	touch "$NB_TMP/$name.stop"
	RESIL_RC=0
	wait "${RESIL_PID[$name]}" || RESIL_RC=$?
	unset "RESIL_PID[$name]"
	nb_info "resil_io $name (exit $RESIL_RC): $(grep summary "$NB_TMP/$name.out")"
}

resil_sum() {
	sed -n "s/.*summary.* $2 \([0-9][0-9]*\).*/\1/p" "$NB_TMP/$1.out"
}

resil_wait_for() {
	local what=$1 secs=$2 i name rc
	shift 2
	for ((i = 0; i < secs * 5; i++)); do
		"$@" && return 0
		for name in "${!RESIL_PID[@]}"; do
			kill -0 "${RESIL_PID[$name]}" 2>/dev/null && continue
			rc=0
			wait "${RESIL_PID[$name]}" || rc=$?
			unset "RESIL_PID[$name]"
			nb_fail "waiting for $what: resil_io $name exited with status $rc: $(tail -n 3 "$NB_TMP/$name.out")"
		done
		sleep 0.2
	done
	if [ -n "${RESIL_DEBUG:-}" ] && command -v gdb >/dev/null; then
		for name in "${!RESIL_PID[@]}"; do
			gdb -p "${RESIL_PID[$name]}" -batch -ex "thread apply all bt" \
				>"$NB_TMP/$name.gdb.log" 2>&1
		done
	fi
	nb_fail "$what: not within $secs s"
}

# resil_stat_gt NODE KEY N: is the node's counter KEY above N (now)?
resil_stat_gt() {
	[ "$(mock_stat "$1" "$2")" -gt "$3" ]
}

# resil_lines_ge FILE REGEX N: does FILE hold at least N lines matching?
resil_lines_ge() {
	[ "$(grep -c -- "$2" "$1")" -ge "$3" ]
}

# resil_check_clean NAME: exit 0, no error, no mismatch, data checked.
resil_check_clean() {
	local name=$1 k
	[ "$RESIL_RC" = 0 ] || nb_fail "resil_io $name failed: $(grep -v '^$' "$NB_TMP/$name.out" | tail -n 8)"
	for k in errors mismatches final_mismatches; do
		[ "$(resil_sum "$name" $k)" = 0 ] || nb_fail "resil_io $name: $k $(resil_sum "$name" $k)"
	done
	[ "$(resil_sum "$name" final_checked)" -gt 0 ] || nb_fail "resil_io $name checked no block at the end"
	[ "$(resil_sum "$name" writes)" -gt 0 ] || nb_fail "resil_io $name wrote nothing"
}
