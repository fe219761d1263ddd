# SPDX-License-Identifier: MIT
#
# Helpers for the vduse-netblk integration tests. Source it first thing:
#
#   . "$(dirname "$0")/lib.sh"
#
# It makes a private temporary directory ($NB_TMP), removes it and stops
# every process the test started when the script exits, and offers:
#
#   nb_certs [DIR [netblk-certs options]]  test PKI (default $NB_TMP/pki)
#   nb_mock_start NAME [mock options]      start a mock node, wait until it
#                                          listens; sets NB_PORT_<NAME>
#   nb_mock_stop NAME                      stop it (SIGTERM, bounded wait)
#   nb_mock_port NAME                      print its port
#   nb_node_start NAME [node options]      start a netblk-node (file backend
#                                          in $NB_TMP/NAME.vols unless --dir,
#                                          --config or --backend rados is
#                                          given); sets NB_PORT_<NAME>;
#                                          nb_mock_stop/nb_mock_port work on it
#   nb_node_stats NAME                     its counters (SIGUSR1, from its log)
#   mock_ctl NAME COMMAND...               send a control command
#   nb_cli [cli options] COMMAND...        run netblk-cli with the default
#                                          TLS files and a hang guard
#   nb_expect_fail WHAT REGEX CMD...       CMD must exit non-zero and print
#                                          something matching REGEX
#   nb_info/nb_fail/nb_skip MESSAGE        report; fail exits 1, skip 77
#
# Environment: NETBLK_BIN (our programs), NETBLK_SRC (source tree). When
# run by hand they default to the build dir next to the sources.
# NETBLK_VALGRIND=1 runs every mock node and netblk-cli under valgrind
# (memcheck, full leak check; logs $NB_TMP/valgrind-*.log); the test fails
# at exit if any log reports an error or a definite/indirect leak. Skips
# when the programs are built with the sanitizers (they cannot be mixed).

set -eu -o pipefail

NB_TEST=$(basename "$0" .sh)
NETBLK_SRC=${NETBLK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NETBLK_BIN=${NETBLK_BIN:-$NETBLK_SRC/build/bin}
NB_CERTS=$NETBLK_SRC/scripts/netblk-certs
NB_MOCK=$NETBLK_BIN/netblk-server-mock
NB_CLI_BIN=$NETBLK_BIN/netblk-cli
NB_NODE=$NETBLK_BIN/netblk-node
NB_HANG_GUARD=${NB_HANG_GUARD:-120}   # seconds any single command may take
NB_START_WAIT=${NB_START_WAIT:-10}    # seconds a mock may take to listen
NB_STOP_WAIT=${NB_STOP_WAIT:-5}       # seconds a mock may take to exit

nb_info() { echo "[$NB_TEST] $*"; }
nb_fail() {
	echo "[$NB_TEST] FAIL: $*" >&2
	exit 1
}
nb_skip() {
	echo "[$NB_TEST] SKIP: $*" >&2
	exit 77
}

declare -A NB_MOCK_PID=()
NB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/netblk-$NB_TEST.XXXXXX") || nb_fail "mktemp failed"

# NB_WRAP: command prefix for the mock and netblk-cli (valgrind, or none).
NB_WRAP=()
NB_CLI_EXTRA=()
NB_MOCK_EXTRA=()
NB_TLS_TIMEOUT=10
if [ -n "${NETBLK_VALGRIND:-}" ]; then
	command -v valgrind >/dev/null || nb_skip "NETBLK_VALGRIND set but valgrind is not installed"
	if nm -D "$NB_MOCK" 2>/dev/null | grep -q __asan_ ||
	   nm "$NB_MOCK" 2>/dev/null | grep -q __asan_init; then
		nb_skip "NETBLK_VALGRIND: $NB_MOCK is built with the sanitizers"
	fi
	# shellcheck disable=SC2054 # the commas belong to valgrind options
	NB_WRAP=(valgrind --error-exitcode=99 --leak-check=full
		--show-leak-kinds=definite,indirect
		--errors-for-leak-kinds=definite,indirect
		--log-file="$NB_TMP/valgrind-%p.log")
	# valgrind slows TLS handshakes down to seconds: longer defaults
	# (a test's own --connect-timeout/--io-timeout come later and win)
	NB_CLI_EXTRA=(--connect-timeout 120)
	NB_MOCK_EXTRA=(--hello-timeout 300)
	NB_TLS_TIMEOUT=120
	NB_HANG_GUARD=$((NB_HANG_GUARD * 4))
	NB_START_WAIT=$((NB_START_WAIT * 6))
	NB_STOP_WAIT=$((NB_STOP_WAIT * 6))
fi

# Valgrind's verdict: 0 when no log reports an error or a leak.
nb_valgrind_check() {
	local f bad=0
	for f in "$NB_TMP"/valgrind-*.log; do
		[ -e "$f" ] || continue
		if grep -Eq 'ERROR SUMMARY: [1-9]|(definitely|indirectly) lost: [1-9]' "$f"; then
			echo "[$NB_TEST] valgrind reports in $(basename "$f"):" >&2
			head -n 80 "$f" >&2
			bad=1
		elif ! grep -q 'ERROR SUMMARY: 0' "$f"; then
			echo "[$NB_TEST] valgrind: $(basename "$f") has no summary (killed?):" >&2
			tail -n 20 "$f" >&2
			bad=1
		fi
	done
	return $bad
}

nb_cleanup() {
	local rc=$? name pid i
	set +e
	for name in "${!NB_MOCK_PID[@]}"; do
		pid=${NB_MOCK_PID[$name]}
		kill -TERM "$pid" 2>/dev/null
	done
	for name in "${!NB_MOCK_PID[@]}"; do
		pid=${NB_MOCK_PID[$name]}
		for ((i = 0; i < NB_STOP_WAIT * 10; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -n "${NETBLK_VALGRIND:-}" ] && [ "$rc" != 77 ]; then
		if nb_valgrind_check; then
			echo "[$NB_TEST] valgrind: no errors, no leaks ($(ls "$NB_TMP"/valgrind-*.log 2>/dev/null | wc -l) processes)"
		else
			rc=1
		fi
	fi
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		for f in "$NB_TMP"/*.log; do
			[ -e "$f" ] || continue
			echo "--- last lines of $(basename "$f") ---" >&2
			tail -n 20 "$f" >&2
		done
	fi
	if [ -n "${NB_KEEP_TMP:-}" ]; then
		echo "[$NB_TEST] kept $NB_TMP" >&2
	else
		rm -rf "$NB_TMP"
	fi
	exit "$rc"
}
trap nb_cleanup EXIT
trap 'exit 130' INT TERM

nb_require_programs() {
	[ -x "$NB_MOCK" ] || nb_fail "$NB_MOCK is not built (set NETBLK_BIN)"
	[ -x "$NB_CLI_BIN" ] || nb_fail "$NB_CLI_BIN is not built (set NETBLK_BIN)"
	[ -x "$NB_CERTS" ] || nb_fail "$NB_CERTS is missing"
	command -v openssl >/dev/null || nb_skip "the openssl command is not installed"
	command -v timeout >/dev/null || nb_skip "the timeout command is not installed"
}

# nb_certs [DIR [netblk-certs options...]]
nb_certs() {
	local dir=${1:-$NB_TMP/pki}
	[ $# -gt 0 ] && shift
	"$NB_CERTS" "$dir" "$@" >"$NB_TMP/certs.log" 2>&1 ||
		nb_fail "netblk-certs $dir $*: $(cat "$NB_TMP/certs.log")"
}

# nb_mock_start NAME [options]: --listen, --port-file, --control and the
# default TLS files are added unless NB_MOCK_CERT/KEY/CA override them.
# Extra options are passed as given. Sets NB_PORT_<NAME>.
nb_mock_start() {
	local name=$1 pki=$NB_TMP/pki i pid port
	shift
	local portfile=$NB_TMP/$name.port
	rm -f "$portfile" "$NB_TMP/$name.sock"
	"${NB_WRAP[@]}" "$NB_MOCK" --listen "127.0.0.1:${NB_MOCK_LISTEN_PORT:-0}" --port-file "$portfile" \
		--cert "${NB_MOCK_CERT:-$pki/server.crt}" --key "${NB_MOCK_KEY:-$pki/server.key}" \
		--ca "${NB_MOCK_CA:-$pki/ca.crt}" --control "$NB_TMP/$name.sock" \
		"${NB_MOCK_EXTRA[@]}" "$@" >>"$NB_TMP/$name.log" 2>&1 &
	pid=$!
	NB_MOCK_PID[$name]=$pid
	for ((i = 0; i < NB_START_WAIT * 10; i++)); do
		if [ -s "$portfile" ] && [ -S "$NB_TMP/$name.sock" ]; then
			port=$(tr -dc 0-9 <"$portfile")
			[ -n "$port" ] && break
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			unset "NB_MOCK_PID[$name]"
			nb_fail "mock $name exited at start: $(tail -n 5 "$NB_TMP/$name.log")"
		fi
		sleep 0.1
	done
	[ -n "${port:-}" ] || nb_fail "mock $name did not listen within ${NB_START_WAIT}s"
	printf -v "NB_PORT_$name" '%s' "$port"
}

# nb_node_start NAME [options]: --listen (loopback), --port-file and the
# default TLS files come first; a --dir of its own unless options give one.
nb_node_start() {
	local name=$1 pki=$NB_TMP/pki i pid port dir=()
	shift
	local portfile=$NB_TMP/$name.port
	[ -x "$NB_NODE" ] || nb_fail "$NB_NODE is not built (set NETBLK_BIN)"
	[[ " $* " == *" --dir "* || " $* " == *" --config "* || " $* " == *" --backend rados "* ]] || {
		mkdir -p "$NB_TMP/$name.vols"
		dir=(--dir "$NB_TMP/$name.vols")
	}
	rm -f "$portfile"
	"${NB_WRAP[@]}" "$NB_NODE" --listen "127.0.0.1:${NB_MOCK_LISTEN_PORT:-0}" --port-file "$portfile" \
		--cert "$pki/server.crt" --key "$pki/server.key" --ca "$pki/ca.crt" \
		"${dir[@]}" "${NB_MOCK_EXTRA[@]}" "$@" >>"$NB_TMP/$name.log" 2>&1 &
	pid=$!
	NB_MOCK_PID[$name]=$pid
	for ((i = 0; i < NB_START_WAIT * 10; i++)); do
		if [ -s "$portfile" ]; then
			port=$(tr -dc 0-9 <"$portfile")
			[ -n "$port" ] && break
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			unset "NB_MOCK_PID[$name]"
			nb_fail "node $name exited at start: $(tail -n 5 "$NB_TMP/$name.log")"
		fi
		sleep 0.1
	done
	[ -n "${port:-}" ] || nb_fail "node $name did not listen within ${NB_START_WAIT}s"
	printf -v "NB_PORT_$name" '%s' "$port"
}

# nb_node_stats NAME: the "stats:" line the node logs on SIGUSR1.
nb_node_stats() {
	local name=$1 pid=${NB_MOCK_PID[$1]} n i
	n=$(grep -c " stats: " "$NB_TMP/$name.log" || true)
	kill -USR1 "$pid"
	for ((i = 0; i < 50; i++)); do
		[ "$(grep -c " stats: " "$NB_TMP/$name.log" || true)" -gt "$n" ] && break
		sleep 0.1
	done
	grep " stats: " "$NB_TMP/$name.log" | tail -n 1 | sed 's/.* stats: //'
}

# nb_stat_of "k=v k=v..." KEY: one number of a stats line.
nb_stat_of() {
	tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}

nb_mock_port() {
	local v=NB_PORT_$1
	echo "${!v}"
}

nb_mock_stop() {
	local name=$1 pid=${NB_MOCK_PID[$1]:-} i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < NB_STOP_WAIT * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "NB_MOCK_PID[$name]"
}

# mock_ctl NAME COMMAND...: prints the reply; fails the test on error.
mock_ctl() {
	local name=$1 out
	shift
	out=$(timeout 30 "$NB_MOCK" ctl "$NB_TMP/$name.sock" "$@" 2>&1) ||
		nb_fail "mock_ctl $name $*: $out"
	printf '%s\n' "$out"
}

# mock_stat NAME KEY: one number from 'stats' (lines "key value" or
# "key=value"); prints 0 when the key is absent.
mock_stat() {
	mock_ctl "$1" stats | awk -v k="$2" '
		{ gsub(/[=:]/, " ") }
		{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); found = 1; exit } }
		END { if (!found) print 0 }'
}

# nb_cli [options] COMMAND...: netblk-cli with the default client TLS
# files (override with NB_CLI_CA/CERT/KEY, or pass the options: later
# options win) under a hang guard.
nb_cli() {
	local pki=$NB_TMP/pki
	timeout --kill-after=5 "$NB_HANG_GUARD" "${NB_WRAP[@]}" "$NB_CLI_BIN" \
		--ca "${NB_CLI_CA:-$pki/ca.crt}" --cert "${NB_CLI_CERT:-$pki/client.crt}" \
		--key "${NB_CLI_KEY:-$pki/client.key}" "${NB_CLI_EXTRA[@]}" "$@"
}

# nb_expect_fail WHAT REGEX CMD...: CMD must exit non-zero (not by the
# hang guard) and its output must match the extended REGEX.
nb_expect_fail() {
	local what=$1 re=$2 rc=0 out
	shift 2
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" != 0 ] || nb_fail "$what: expected failure, got exit 0; output: $out"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		nb_fail "$what: command hung (killed by the hang guard)"
	fi
	grep -Eqi -- "$re" <<<"$out" || nb_fail "$what: exit $rc but output does not match /$re/: $out"
	nb_info "ok: $what (exit $rc): $(head -n 1 <<<"$out")"
	NB_LAST_RC=$rc
	# shellcheck disable=SC2034 # for the calling test
	NB_LAST_OUT=$out
}

# nb_pattern_file FILE SIZE [SEED]: deterministic pseudo-random bytes.
nb_pattern_file() {
	openssl enc -aes-128-ctr -nosalt -pass "pass:${3:-netblk}" -pbkdf2 -iter 1 \
		-in <(head -c "$2" /dev/zero) -out "$1" 2>/dev/null ||
		nb_fail "cannot make pattern file $1"
	[ "$(stat -c %s "$1")" = "$2" ] || nb_fail "pattern file $1 has the wrong size"
}

# nb_map_write FILE EPOCH CHUNK_SIZE "ADDR ADDR..." [PLACEMENT...]
# PLACEMENT is a list of node indexes like "0" or "1 0"; without any, one
# placement per node (the map's default). With NB_MAP_GROUP set (a number
# >= 1), every node is written in that store group: set it when the nodes
# share one backing file, so that the client may fail over between them;
# nodes with volumes of their own must have no group.
nb_map_write() {
	local file=$1 epoch=$2 chunk=$3 addrs=$4 a p
	shift 4
	{
		echo "# written by $NB_TEST"
		echo "epoch $epoch"
		echo "chunk_size $chunk"
		for a in $addrs; do echo "node $a${NB_MAP_GROUP:+ group $NB_MAP_GROUP}"; done
		for p in "$@"; do echo "chunk $p"; done
	} >"$file.tmp"
	mv -f "$file.tmp" "$file"
}

# nb_cluster_start N MAPFILE CHUNK_SIZE [mock options] -- [PLACEMENT...]
# Start mock nodes n0..n(N-1) on free ports, all with --map MAPFILE, then
# write the real map (epoch 2, the nodes in order, the placements given,
# groups as NB_MAP_GROUP says) and make every node load it. Sets
# NB_CLUSTER (comma-separated addresses).
nb_cluster_start() {
	local n=$1 map=$2 chunk=$3 i addrs='' opts=() placements=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	placements=("$@")
	# The ports are known only once the nodes listen: start them with a
	# map that names none of them, then load the real one.
	nb_map_write "$map" 1 "$chunk" "127.0.0.1:1"
	for ((i = 0; i < n; i++)); do
		nb_mock_start "n$i" --map "$map" "${opts[@]}"
		addrs+="${addrs:+ }127.0.0.1:$(nb_mock_port "n$i")"
	done
	nb_map_write "$map" 2 "$chunk" "$addrs" "${placements[@]}"
	for ((i = 0; i < n; i++)); do
		mock_ctl "n$i" map-reload >/dev/null
	done
	# shellcheck disable=SC2034 # for the calling test
	NB_CLUSTER=${addrs// /,}
}

# nb_tls_expect_refused WHAT REGEX CLI_OPTIONS...: both the data path
# (verify) and the admin path (info) must fail with exit 1 and print
# something matching REGEX. The options go before the command.
nb_tls_expect_refused() {
	local what=$1 re=$2
	shift 2
	nb_expect_fail "$what (verify)" "$re" nb_cli --connect-timeout "$NB_TLS_TIMEOUT" "$@" verify --size 64K
	[ "$NB_LAST_RC" = 1 ] || nb_fail "$what (verify): exit $NB_LAST_RC, expected 1"
	nb_expect_fail "$what (info)" "$re" nb_cli --connect-timeout "$NB_TLS_TIMEOUT" "$@" info
	[ "$NB_LAST_RC" = 1 ] || nb_fail "$what (info): exit $NB_LAST_RC, expected 1"
}

# nb_tls_expect_ok CLI_OPTIONS...: the same setup with the right files works.
nb_tls_expect_ok() {
	local out
	out=$(nb_cli "$@" verify --size 64K 2>&1) || nb_fail "control case failed: $out"
	nb_info "ok: control case with matching certificates: $(grep -m1 "verify: OK\|bench: .*IOPS" <<<"$out")"
}
