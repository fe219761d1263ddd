#!/bin/bash
# SPDX-License-Identifier: MIT
#
# netblk-node with the rados backend on the test cluster (fixture "ceph"):
#   1. two nodes on one pool, one group in the map: netblk-cli create,
#      info, verify and bench through both;
#   2. kill -9 one node during a netblk-cli verify: the client fails over
#      to the other node of the group and the verify passes while the
#      killed node stays down;
#   3. the writer lock across nodes: a client of node A is refused while
#      another owner holds the lock, then fenced after a break through node
#      B; writes it had in flight at the break either finished before it
#      or were refused, none lands after B's writes;
#   4. a node started later sees the holder (it is in the pool); UNLOCK
#      through it; an open without an owner then works;
#   5. a paused node misses a break's notify: the breaker blocklists it,
#      none of the writes it takes after the break lands, and it
#      reconnects with a new Ceph client.
# Prints the bench figures (1 node, 2 nodes). Skips (77) without the
# cluster's env file.
NETBLK_SRC=${NETBLK_SRC:?}
. "$NETBLK_SRC/tests/integration/mock_lib.sh"
[ -r "${NETBLK_CEPH_ENV:-}" ] || nb_skip "no Ceph cluster (NETBLK_CEPH_ENV unset or unreadable)"
# shellcheck disable=SC1090
. "$NETBLK_CEPH_ENV"
mock_require
nb_require_programs
nb_certs
pki=$NB_TMP/pki
vol=t$$-$RANDOM
rados_opts=(--backend rados --rados-pool "$CEPH_POOL" --rados-conf "$CEPH_CONF"
	--rados-user "$CEPH_CLIENT_ID" --rados-keyring "$CEPH_CLIENT_KEYRING" --allow-create)
map=$NB_TMP/cluster.map
has() { grep -Eq -- "$1" "$NB_TMP/probe.out" || nb_fail "probe output lacks /$1/: $(cat "$NB_TMP/probe.out")"; }

# Two nodes; their ports are known once they listen: a placeholder map
# first, then the real one (SIGHUP reloads it).
printf 'epoch 1\nchunk_size 1M\nnode 127.0.0.1:1\n' >"$map"
nb_node_start a "${rados_opts[@]}" --map "$map" --threads 2
nb_node_start b "${rados_opts[@]}" --map "$map" --threads 2
pa=$(nb_mock_port a) pb=$(nb_mock_port b)
printf 'epoch 2\nchunk_size 1M\nnode 127.0.0.1:%s group 1\nnode 127.0.0.1:%s group 1\nchunk 0 1\nchunk 1 0\n' \
	"$pa" "$pb" >"$map"
kill -HUP "${NB_MOCK_PID[a]}" "${NB_MOCK_PID[b]}"
for n in a b; do
	mock_log_has "$n" "epoch 2" || nb_fail "node $n did not load map epoch 2"
done
grep -q "backend rados pool $CEPH_POOL.*writes durable when acknowledged" "$NB_TMP/a.log" ||
	nb_fail "node a does not announce its backend: $(head -n 3 "$NB_TMP/a.log")"
c=(--cluster "127.0.0.1:$pa,127.0.0.1:$pb" --volume "$vol")

# 1. create, info, verify, bench through both nodes.
# Both nodes given: they are one store group, so CREATE goes to one.
out=$(nb_cli "${c[@]}" create 64M 2>&1) || nb_fail "create through both nodes of a group failed: $out"
[ "$(grep -c "created on" <<<"$out")" = 1 ] || nb_fail "create did not create exactly once: $out"
grep -q "127.0.0.1:$pb shares its store with 127.0.0.1:$pa" <<<"$out" ||
	nb_fail "create does not say node b shares node a's store: $out"
out=$(nb_cli "${c[@]}" create 64M 2>&1) && nb_fail "a second create succeeded: $out"
[ "$(grep -c "already exists" <<<"$out")" = 1 ] || nb_fail "a second create did not say once that it exists: $out"
out=$(nb_cli "${c[@]}" info 2>&1) || nb_fail "info failed: $out"
grep -q 67108864 <<<"$out" || nb_fail "info does not show the size: $out"
rados --id "$CEPH_CLIENT_ID" -p "$CEPH_POOL" stat "netblk.$vol.header" >/dev/null ||
	nb_fail "no header object netblk.$vol.header in pool $CEPH_POOL"
out=$(nb_cli "${c[@]}" verify --size 16M --seed 3 --queue-depth 32 2>&1) || nb_fail "verify failed: $out"
grep -q "verify: OK" <<<"$out" || nb_fail "verify did not say OK: $out"
nb_info "ok: two nodes, one pool: $(grep -m1 "verify: OK" <<<"$out")"
for p in randwrite randread; do
	out=$(nb_cli "${c[@]}" bench --pattern $p --seconds 3 --size 64M 2>&1) ||
		nb_fail "bench $p (2 nodes) failed: $out"
	nb_info "figure: bench $p, 2 nodes: $(grep -m1 IOPS <<<"$out")"
	out=$(nb_cli --cluster "127.0.0.1:$pa" --volume "$vol" bench --pattern $p --seconds 3 --size 64M 2>&1) ||
		nb_fail "bench $p (1 node) failed: $out"
	nb_info "figure: bench $p, 1 node: $(grep -m1 IOPS <<<"$out")"
done
for n in a b; do
	grep -Eq "requests=[1-9]" <<<"$(nb_node_stats "$n")" || nb_fail "node $n served nothing"
done

# 2. kill -9 node a during a verify: failover within the group.
nb_cli "${c[@]}" --verbose --io-timeout 60 verify --size 64M --block-size 4K --seed 4 --queue-depth 16 \
	>"$NB_TMP/verify.out" 2>&1 &
vpid=$!
sleep 1
kill -0 "$vpid" 2>/dev/null || nb_fail "verify ended before the kill: $(cat "$NB_TMP/verify.out")"
kill -9 "${NB_MOCK_PID[a]}"
wait "${NB_MOCK_PID[a]}" 2>/dev/null || true
unset "NB_MOCK_PID[a]"
# Node a stays down until the verify ends: the writes fail over to node
# b, and the writes a acknowledged owe it no FLUSH (rados nodes say
# writes_durable).
rc=0
wait "$vpid" || rc=$?
[ "$rc" = 0 ] || nb_fail "verify failed after node a was killed (exit $rc): $(tail -n 20 "$NB_TMP/verify.out")"
grep -q "verify: OK" "$NB_TMP/verify.out" || nb_fail "verify: $(tail -n 5 "$NB_TMP/verify.out")"
grep -q "127.0.0.1:$pa: connection closed\|127.0.0.1:$pa: .*lost\|cannot connect" "$NB_TMP/verify.out" ||
	nb_fail "the verify did not notice the kill: $(cat "$NB_TMP/verify.out")"
nb_info "ok: kill -9 of a node during verify: $(grep -m1 "verify: OK" "$NB_TMP/verify.out"); $(grep -m1 "engine:" "$NB_TMP/verify.out")"
out=$(nb_cli --cluster "127.0.0.1:$pb" --volume "$vol" verify --pass read --size 64M --block-size 4K --seed 4 2>&1) ||
	nb_fail "the data written during the kill does not read back through node b: $out"
b_writes=$(nb_stat_of "$(nb_node_stats b)" writes)
nb_info "node b served $b_writes writes in all"
# Node a back on its port, for the lock tests.
NB_MOCK_LISTEN_PORT=$pa nb_node_start a "${rados_opts[@]}" --map "$map" --threads 2

# 3. The lock across nodes. probe_b: a mock_probe command line against b.
probe_b() {
	local s q=""
	for s in "$@"; do q+=" '$s'"; done
	echo "$MOCK_PROBE --connect 127.0.0.1:$pb --ca $pki/ca.crt --cert $pki/client.crt --key $pki/client.key$q >>$NB_TMP/probe_b.out"
}
rm -f "$NB_TMP/probe_b.out"
mock_probe a "hs" "open $vol owner=alice@h1" "write 0 64K 1" \
	"run $(probe_b hs "!LOCKED open $vol owner=bob@h2" "open $vol ro" 'read 0 64K 1')" \
	"run $(probe_b hs "open $vol owner=bob@h2 break" 'write 0 64K 2')" \
	"!FENCED write 0 64K 3" "!FENCED flush" "!FENCED discard 0 64K" "read 0 64K 2" >/dev/null
grep -q "LOCKED .*locked by 'alice@h1'" "$NB_TMP/probe_b.out" ||
	nb_fail "bob was not refused naming alice: $(cat "$NB_TMP/probe_b.out")"
has "!FENCED write 0 64K 3: FENCED"
mock_log_has a "writer lock generation [0-9]+ was broken: this connection is fenced" ||
	nb_fail "node a did not log the fencing"
nb_info "ok: LOCKED through node b naming the holder on node a; break through b fences a"

# Writes in flight on node a during a break through node b: after the
# break returns, b writes the whole range; nothing of a's lands after it.
sends=()
for ((i = 0; i < 400; i++)); do sends+=("send write $((i * 4096)) 4096 5"); done
mock_probe a "hs" "open $vol owner=carol@h3 break" \
	"run ($(probe_b hs "open $vol owner=dave@h4 break" 'pipeline 64 64K 6'); touch $NB_TMP/dave.done) &" \
	"${sends[@]}" "tally 400" \
	"run for i in \$(seq 300); do [ -e $NB_TMP/dave.done ] && exit 0; sleep 0.1; done; exit 1" >/dev/null
tally=$(grep "^tally 400:" "$NB_TMP/probe.out")
grep -q "pipeline 64 64K 6: OK" "$NB_TMP/probe_b.out" || nb_fail "dave's writes failed: $(tail -n 3 "$NB_TMP/probe_b.out")"
mock_probe b "hs" "open $vol ro" "read 0 1M 6" "read 1M 1M 6" "read 2M 1M 6" "read 3M 1M 6" >/dev/null ||
	nb_fail "a write of carol's landed after dave's (tally: $tally)"
nb_info "ok: 400 writes sent during a break through the other node: ${tally#*: }; none landed after the new holder's"

# 4. A node started now sees the holder; UNLOCK through it.
nb_node_start c "${rados_opts[@]}" --map "$map" --threads 1
mock_probe c "hs" "info $vol" "!FENCED open $vol owner=carol@h3 gen=1" "unlock $vol by=admin" \
	"open $vol" >/dev/null
has "info $vol: .*lock_owner=dave@h4 "
has "unlock $vol by=admin: .*lock_owner=- "
nb_info "ok: a new node sees the holder; UNLOCK"

# 5. Node a is paused (SIGSTOP) while it holds writes of erin's: frank
# breaks the lock through b, whose notify gets no ack from a within 5 s:
# b blocklists a's Ceph client, then frank writes 1M. a resumes and
# takes erin's writes, which it had in its socket: none may land.
pid_a=${NB_MOCK_PID[a]}
sends=()
for ((i = 0; i < 64; i++)); do sends+=("send write $((i * 16384)) 16384 8"); done
rm -f "$NB_TMP/frank.done"
mock_probe a "hs" "open $vol owner=erin@h5" "write 0 1M 9" "run kill -STOP $pid_a" \
	"run ($(probe_b hs "open $vol owner=frank@h6 break" 'write 0 1M 7'); kill -CONT $pid_a; touch $NB_TMP/frank.done) &" \
	"${sends[@]}" "tally 64" \
	"run for i in \$(seq 300); do [ -e $NB_TMP/frank.done ] && exit 0; sleep 0.1; done; exit 1" >/dev/null ||
	{ kill -CONT "$pid_a"; nb_fail "the probe of node a failed: $(tail -n 5 "$NB_TMP/probe.out")"; }
tally=$(grep "^tally 64:" "$NB_TMP/probe.out")
grep -q "write 0 1M 7: OK" "$NB_TMP/probe_b.out" || nb_fail "frank's write failed: $(tail -n 3 "$NB_TMP/probe_b.out")"
grep -q " OK=" <<<"$tally" && nb_fail "node a acknowledged writes of erin's after the break: $tally"
mock_probe b "hs" "open $vol ro" "read 0 1M 7" >/dev/null ||
	nb_fail "a write of erin's landed after frank's (tally: $tally): $(tail -n 2 "$NB_TMP/probe.out")"
mock_log_has b "did not acknowledge the fence within 5 s: blocklisted it" ||
	nb_fail "node b did not blocklist node a: $(grep -i fence "$NB_TMP/b.log" | tail -n 3)"
# a recovers: its first Ceph op meets the blocklist, it reconnects.
ok=0
for ((i = 0; i < 30; i++)); do
	if mock_probe a "hs" "open $vol ro" "read 0 1M 7" >/dev/null 2>&1; then ok=1; break; fi
	sleep 0.5
done
[ "$ok" = 1 ] || nb_fail "node a did not recover from the blocklist: $(tail -n 5 "$NB_TMP/a.log")"
mock_log_has a "Ceph blocklisted this node's client" || nb_fail "node a did not say it was blocklisted"
mock_log_has a "reconnected to Ceph with a new client" || nb_fail "node a did not say it reconnected"
nb_info "ok: a paused node was blocklisted at the break (${tally#*: }), none of its writes landed, it reconnected"
nb_info "PASS"
