#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-node --threads 2: two I/O threads with their own loops, and
# several clients at once all read back what was written: one writer per
# volume (each netblk-cli is its own writer-lock owner: a second writer
# of one volume would be refused), and two more readers of one of them.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs

nb_node_start n0 --threads 2 --allow-create --sync-threads 2
pid=${NB_MOCK_PID[n0]}
c=(--cluster "127.0.0.1:$(nb_mock_port n0)")
for v in a b c; do
	out=$(nb_cli "${c[@]}" --volume "$v" create 16M) || nb_fail "create $v failed: $out"
done
grep -qx "netblk-io1" /proc/"$pid"/task/*/comm || nb_fail "no second I/O thread (netblk-io1)"
nb_info "ok: threads: $(cat /proc/"$pid"/task/*/comm | sort | uniq -c | tr -s ' \n' ' ')"

# What the extra readers of volume a read, written first (8M..16M).
for off in 8M 12M; do
	out=$(nb_cli "${c[@]}" --volume a verify --pass write --offset $off --size 4M --block-size 4K \
		--seed 12) || nb_fail "write pass at $off failed: $out"
done

pids=()
for v in a b c; do
	nb_cli "${c[@]}" --volume "$v" verify --size 8M --queue-depth 32 --seed 11 >"$NB_TMP/v-$v.out" 2>&1 &
	pids+=($!)
done
# Two more clients on volume a, reading other regions meanwhile.
for off in 8M 12M; do
	nb_cli "${c[@]}" --volume a verify --pass read --offset $off --size 4M --block-size 4K \
		--seed 12 --queue-depth 16 >"$NB_TMP/a-$off.out" 2>&1 &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
for f in "$NB_TMP"/v-*.out "$NB_TMP"/a-*.out; do
	grep -q "verify: OK" "$f" || { echo "--- $f"; cat "$f"; bad=$((bad + 1)); }
done
[ "$bad" = 0 ] || nb_fail "$bad of ${#pids[@]} concurrent clients failed"
st=$(nb_node_stats n0)
nb_info "ok: ${#pids[@]} clients at once verified OK ($st)"
[ "$(nb_stat_of "$st" inflight)" = 0 ] || nb_fail "requests left in flight: $st"
nb_info "PASS"
