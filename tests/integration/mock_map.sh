#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-server-mock cluster map: NOT_OWNER with the node's epoch for chunks
# it does not serve, map-reload and SIGHUP pick up a new map, a bad map
# file keeps the old one.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_certs
map=$NB_TMP/cluster.map
A=127.0.0.1:7001
B=127.0.0.1:7002

# Chunk 0, 2, 4... on A only; chunk 1, 3, 5... on B only.
nb_map_write "$map" 5 1M "$A $B" "0" "1"
nb_mock_start a --map "$map" --node "$A" --volume vol0:8M
mock_log_has a "map loaded from .*: epoch 5 \(was 0\)" || nb_fail "map load not logged"

mock_probe a "hs" "getmap" "open vol0" \
	"write 0 4096 1" "read 0 4096 1" "write 2M 4096 2" "read 2M 4096 2" \
	"!NOT_OWNER read 1M 4096 0" "!NOT_OWNER write 1M 512 0" \
	"!NOT_OWNER read 1048064 1024 0" "!NOT_OWNER discard 3M 512" \
	"readz 1048064 512" "flush" >/dev/null || nb_fail "ownership steps failed"
grep -q "getmap: map epoch=5 chunk_size=1048576 nodes=2 node0=$A" "$NB_TMP/probe.out" ||
	nb_fail "GET_MAP does not return the map file"
grep -q "map_epoch=5 map_nodes=2" "$NB_TMP/probe.out" || nb_fail "OPEN does not return the map"
grep -q "read 1M 4096 0: NOT_OWNER epoch=5" "$NB_TMP/probe.out" ||
	nb_fail "NOT_OWNER reply does not carry the node's epoch 5"
[ "$(mock_stat a not_owner)" = 4 ] || nb_fail "not_owner counter is $(mock_stat a not_owner), expected 4"
nb_info "ok: NOT_OWNER for foreign chunks with epoch 5"

# New map: both nodes serve everything.
nb_map_write "$map" 6 1M "$A $B" "0 1" "1 0"
mock_ctl a map-reload | grep -q "^ok epoch 6" || nb_fail "map-reload answer"
mock_log_has a "epoch 6 \(was 5\)" || nb_fail "reload not logged with the new epoch"
mock_probe a "hs" "getmap" "open vol0" "write 1M 4096 3" "read 1M 4096 3" >/dev/null
grep -q "map epoch=6" "$NB_TMP/probe.out" || nb_fail "GET_MAP after reload"
nb_info "ok: map-reload"

# A bad map keeps the old one and says why.
echo "chunk_size 3M" >"$map"
nb_expect_fail "bad map reload" "^error cannot load map" "$NB_MOCK" ctl "$NB_TMP/a.sock" map-reload
mock_log_has a "map-reload: cannot load map .*; keeping map epoch 6" || nb_fail "bad map not logged"
mock_probe a "hs" "getmap" >/dev/null
grep -q "map epoch=6" "$NB_TMP/probe.out" || nb_fail "bad map replaced the old map"
nb_info "ok: bad map keeps epoch 6"

# SIGHUP reloads too; a map without this node makes it refuse all data.
nb_map_write "$map" 7 1M "$B"
kill -HUP "${NB_MOCK_PID[a]}"
mock_log_has a "epoch 7 \(was 6\)" || nb_fail "SIGHUP did not reload the map"
mock_log_has a "node $A is not in the cluster map" || nb_fail "absent node not logged"
mock_probe a "hs" "open vol0" "!NOT_OWNER read 0 512 0" "flush" >/dev/null
grep -q "NOT_OWNER epoch=7" "$NB_TMP/probe.out" || nb_fail "epoch 7 not in NOT_OWNER"
nb_info "ok: SIGHUP reload"
