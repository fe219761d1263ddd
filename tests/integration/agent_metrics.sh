#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The agent's metrics server and probes, and vduse-netblk status, without
# VDUSE (no root needed): specs that cannot attach (cluster unreachable,
# bad spec, a volume name with a quote) and an empty spec directory.
#  - /metrics answers 200 with an exposition promtool accepts, every
#    declared volume in it; /healthz 200; /readyz 503 naming the states,
#    200 once nothing is declared; another path 404; POST 405.
#  - --metrics 127.0.0.1:99999, nohost, nohost:PORT: exit 2 with the
#    reason, on the agent and the single daemon; a port in use: exit 1.
#  - status: exit 0 while the agent runs whatever its specs, --ready 1;
#    --json parses and says the same; once the agent is gone, exit 1;
#    status --bogus points to 'vduse-netblk status --help'.
. "$(dirname "$0")/lib.sh"

bin=$NETBLK_BIN/vduse-netblk
[ -x "$bin" ] || nb_fail "$bin is not built"
command -v curl >/dev/null || nb_skip "curl is not installed (scripts/install-deps)"
command -v promtool >/dev/null || nb_skip "promtool is not installed (Debian package prometheus, scripts/install-deps)"

specs=$NB_TMP/specs run=$NB_TMP/run
mkdir -p "$specs" "$run"
printf 'cluster=127.0.0.1:1\nvolume=vol1\nca=/nonexistent/ca.crt\n' > "$specs/good.spec"
printf 'cluster=127.0.0.1:1\nvolume=bad"vol\n' > "$specs/quote.spec"
printf 'this is not a spec\n' > "$specs/broken.spec"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port

code() { curl -s -o "$NB_TMP/body" -w '%{http_code}' "$@"; }

# Bad addresses: usage errors, said plainly, for both programs.
for prog in "agent" ""; do
	# shellcheck disable=SC2086
	nb_expect_fail "${prog:-daemon} --metrics 127.0.0.1:99999" 'port from 1 to 65535' \
		"$bin" $prog --metrics 127.0.0.1:99999 --help
	# shellcheck disable=SC2086
	nb_expect_fail "${prog:-daemon} --metrics nohost" "'nohost' is not ADDR:PORT" \
		"$bin" $prog --metrics nohost --help
	# shellcheck disable=SC2086
	nb_expect_fail "${prog:-daemon} --metrics nohost:9477" "'nohost' is not a numeric IP address" \
		"$bin" $prog --metrics nohost:9477 --help
	rc=0
	# shellcheck disable=SC2086
	"$bin" $prog --metrics 127.0.0.1:99999 --help >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ] || nb_fail "${prog:-daemon} --metrics 127.0.0.1:99999: exit $rc, expected 2 (usage)"
done
nb_expect_fail "status --bogus" "Try 'vduse-netblk status --help'" "$bin" status --bogus

"$bin" agent --spec-dir "$specs" --run-dir "$run" --metrics "127.0.0.1:$port" \
	--connect-timeout 1 > "$NB_TMP/agent.log" 2>&1 &
NB_MOCK_PID[agent]=$!
for _ in $(seq 100); do
	[ -e "$run/agent.heartbeat" ] && [ "$(code "$url/healthz")" = 200 ] && break
	kill -0 "${NB_MOCK_PID[agent]}" 2>/dev/null || nb_fail "the agent exited: $(cat "$NB_TMP/agent.log")"
	sleep 0.1
done
[ "$(code "$url/healthz")" = 200 ] || nb_fail "/healthz: $(cat "$NB_TMP/body")"

# A second agent on the same port: a true message, exit 1.
rc=0
"$bin" agent --spec-dir "$NB_TMP" --run-dir "$NB_TMP/run2" --metrics "127.0.0.1:$port" \
	> "$NB_TMP/agent2.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || nb_fail "a second agent on port $port: exit $rc, expected 1"
grep -q "cannot listen on 127.0.0.1:$port: Address already in use" "$NB_TMP/agent2.log" ||
	nb_fail "a second agent on port $port says: $(cat "$NB_TMP/agent2.log")"

c=$(code "$url/metrics"); [ "$c" = 200 ] || nb_fail "/metrics: $c"
promtool check metrics < "$NB_TMP/body" > "$NB_TMP/promtool.out" 2>&1 ||
	nb_fail "promtool check metrics: $(cat "$NB_TMP/promtool.out")"
grep -q '^vduse_netblk_volume_up{volume="vol1",name="good",device=""} 0$' "$NB_TMP/body" ||
	nb_fail "/metrics has no volume_up 0 for vol1"
grep -q '^vduse_netblk_build_info{program="agent",version="' "$NB_TMP/body" ||
	nb_fail "/metrics has no build info"
for s in request_duration_seconds_bucket retries_total reconnects_total timeouts_total \
	 map_refreshes_total connections_up inflight read_bytes_total; do
	grep -q "^vduse_netblk_$s{" "$NB_TMP/body" || nb_fail "/metrics has no vduse_netblk_$s"
done
c=$(code "$url/readyz"); [ "$c" = 503 ] || nb_fail "/readyz with nothing attached: $c"
grep -q '^good error ' "$NB_TMP/body" && grep -q '^quote bad-spec ' "$NB_TMP/body" &&
	grep -q '^broken bad-spec ' "$NB_TMP/body" || nb_fail "/readyz body: $(cat "$NB_TMP/body")"
c=$(code "$url/nothing"); [ "$c" = 404 ] || nb_fail "/nothing: $c, expected 404"
c=$(code -X POST "$url/metrics"); [ "$c" = 405 ] || nb_fail "POST /metrics: $c, expected 405"
c=$(code -X DELETE "$url/healthz"); [ "$c" = 405 ] || nb_fail "DELETE /healthz: $c, expected 405"
c=$(code -I "$url/metrics"); [ "$c" = 200 ] || nb_fail "HEAD /metrics: $c"
nb_info "endpoints: /metrics 200 (promtool ok), /healthz 200, /readyz 503, 404, 405"

# status: alive whatever the specs; --ready says not ready; JSON agrees.
"$bin" status --spec-dir "$specs" --run-dir "$run" > "$NB_TMP/status.out" ||
	nb_fail "status exits $? while the agent runs: $(cat "$NB_TMP/status.out")"
grep -q '^quote .*bad-spec' "$NB_TMP/status.out" || nb_fail "status: $(cat "$NB_TMP/status.out")"
rc=0
"$bin" status --ready --spec-dir "$specs" --run-dir "$run" > /dev/null || rc=$?
[ "$rc" = 1 ] || nb_fail "status --ready with nothing attached: exit $rc, expected 1"
"$bin" status --json --spec-dir "$specs" --run-dir "$run" > "$NB_TMP/status.json" ||
	nb_fail "status --json exits $?"
python3 - "$NB_TMP/status.json" "${NB_MOCK_PID[agent]}" <<'PY' || nb_fail "status --json: $(cat "$NB_TMP/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["agent"]["running"] is True and d["agent"]["pid"] == int(sys.argv[2]), d["agent"]
states = {v["name"]: v["state"] for v in d["volumes"]}
assert states == {"good": "error", "quote": "bad-spec", "broken": "bad-spec"}, states
assert d["declared"] == 3 and d["attached"] == 0 and d["ready"] is False, d
good = [v for v in d["volumes"] if v["name"] == "good"][0]
assert good["volume"] == "vol1" and good["device"] is None, good
assert "/nonexistent/ca.crt" in good["message"], good
PY

# Nothing declared: ready.
rm -f "$specs"/*.spec
for _ in $(seq 50); do
	[ "$(code "$url/readyz")" = 200 ] && break
	sleep 0.1
done
[ "$(code "$url/readyz")" = 200 ] || nb_fail "/readyz with no spec: $(cat "$NB_TMP/body")"
"$bin" status --ready --spec-dir "$specs" --run-dir "$run" > /dev/null ||
	nb_fail "status --ready with no spec: exit $?"

# The agent gone: not alive.
kill -TERM "${NB_MOCK_PID[agent]}"
wait "${NB_MOCK_PID[agent]}" || true
rc=0
"$bin" status --spec-dir "$specs" --run-dir "$run" > "$NB_TMP/status.out" || rc=$?
[ "$rc" = 1 ] || nb_fail "status with no agent: exit $rc, expected 1"
grep -q 'no agent' "$NB_TMP/status.out" || nb_fail "status with no agent says: $(cat "$NB_TMP/status.out")"
nb_info "status: 0 while the agent runs with bad specs, --ready 1, --json parsed, 1 once it is gone"
