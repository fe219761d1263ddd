#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-node (file backend): the writer lock kept in DIR/NAME.lock. A
# second owner gets LOCKED naming the holder; a break fences the first
# connection (FENCED, data unchanged); UNLOCK; the lock survives a clean
# restart and a kill -9; netblk-cli is refused while the
# lock is held and works once it is free.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_require_programs
nb_certs
dir=$NB_TMP/vols
mkdir -p "$dir"
has() { grep -Eq -- "$1" "$NB_TMP/probe.out" || nb_fail "probe output lacks /$1/: $(cat "$NB_TMP/probe.out")"; }

nb_node_start n --dir "$dir" --threads 2 --allow-create
mock_probe n "hs" "create v 16M" "open v owner=alice@h1" \
	"write 0 64K 1 fua" \
	"use 1" "hs" "!LOCKED open v owner=bob@h2" "open v ro" "read 0 64K 1" \
	"open v owner=bob@h2 break" "write 0 4096 2" \
	"use 0" "!FENCED write 0 4096 3" "!FENCED flush" "read 0 4096 2" "read 4096 4096 1" \
	"use 2" "hs" "info v" >/dev/null
has "LOCKED open v owner=bob@h2: LOCKED .*locked by 'alice@h1' since .*generation 1"
has "open v owner=bob@h2 break: .*lock_owner=bob@h2 lock_gen=2"
has "info v: .*lock_owner=bob@h2 lock_gen=2"
grep -q "^owner bob@h2$" "$dir/v.lock" || nb_fail "v.lock: $(cat "$dir/v.lock")"
nb_info "ok: LOCKED, break, FENCED with the data unchanged"

out=$(nb_cli --cluster "127.0.0.1:$(nb_mock_port n)" --volume v verify --size 1M 2>&1) &&
	nb_fail "netblk-cli wrote to a volume locked by bob: $out"
grep -q "LOCKED\|locked by 'bob@h2'" "$NB_TMP/n.log" || nb_fail "the refused open was not logged"
nb_info "ok: an open without an owner is refused while the lock is held"

# A clean restart keeps the lock.
nb_mock_stop n
nb_node_start n --dir "$dir" --threads 1
mock_probe n "hs" "info v" "!LOCKED open v owner=alice@h1" "!FENCED open v owner=bob@h2 gen=1" \
	"open v owner=bob@h2 gen=2" "write 0 4096 4" >/dev/null
has "info v: .*lock_owner=bob@h2 lock_gen=2"
has "open v owner=bob@h2 gen=2: .*lock_gen=2"
nb_info "ok: the lock survived a restart"

# kill -9 right after a break: the new holder is on disk.
mock_probe n "hs" "open v owner=carol@h3 break" >/dev/null
kill -9 "${NB_MOCK_PID[n]}"
wait "${NB_MOCK_PID[n]}" 2>/dev/null || true
unset "NB_MOCK_PID[n]"
nb_node_start n --dir "$dir" --threads 1
mock_probe n "hs" "info v" "!FENCED open v owner=bob@h2 gen=2" "unlock v by=admin" >/dev/null
has "info v: .*lock_owner=carol@h3 lock_gen=3"
has "unlock v by=admin: .*lock_owner=- lock_gen=4"
nb_info "ok: the lock survived kill -9; UNLOCK"

out=$(nb_cli --cluster "127.0.0.1:$(nb_mock_port n)" --volume v verify --size 1M 2>&1) ||
	nb_fail "netblk-cli verify on the free volume failed: $out"
nb_info "ok: netblk-cli works on the unlocked volume"

# Two netblk-cli writers at once: each process is its own owner, so the
# second is refused, naming the first; the first releases at exit.
c=(--cluster "127.0.0.1:$(nb_mock_port n)" --volume v)
nb_cli "${c[@]}" bench --pattern randwrite --seconds 3 --size 1M >"$NB_TMP/bench.out" 2>&1 &
bpid=$!
holder=
for i in $(seq 50); do
	holder=$(nb_cli "${c[@]}" info 2>/dev/null | sed -n 's/^writer lock: *\(netblk-cli:[0-9]*@.*\)$/\1/p')
	[ -n "$holder" ] && break
	sleep 0.1
done
[ -n "$holder" ] || nb_fail "the writing netblk-cli does not hold the lock as netblk-cli:PID@HOST: $(nb_cli "${c[@]}" info)"
out=$(nb_cli "${c[@]}" verify --size 1M 2>&1) &&
	nb_fail "a second netblk-cli wrote while the first held the lock: $out"
grep -qF "locked by '$holder'" <<<"$out" || nb_fail "the refusal does not name the holder $holder: $out"
wait "$bpid" || nb_fail "the first writer failed: $(cat "$NB_TMP/bench.out")"
nb_cli "${c[@]}" info | grep -q "^writer lock: *unlocked" ||
	nb_fail "the lock was not released at exit: $(nb_cli "${c[@]}" info)"
nb_info "ok: a second netblk-cli writer is refused naming the first; released at exit"
nb_info "PASS"
