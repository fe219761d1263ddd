#!/bin/bash
# SPDX-License-Identifier: MIT
# The writer lock on netblk-server-mock (docs/protocol.md, "The writer
# lock"), driven with mock_probe: two mock nodes over one file share one
# lock (NAME.lock next to it). A second owner is refused with LOCKED naming
# the holder; the same owner keeps the generation; a break through the
# other node bumps it and fences the first connection (its WRITE, FLUSH,
# DISCARD get FENCED and the data stays as it was), also for a write held
# back by a stall before the break; read-only opens work while locked;
# UNLOCK; OPEN with a stale generation; opens without an owner.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_certs
img=$NB_TMP/shared.img
pki=$NB_TMP/pki

nb_mock_start a --volume "d:16M:$img"
nb_mock_start b --volume "d:16M:$img" --volume "m:4M"
# probe_b STEP...: a command line for mock_probe's "run" step, against b.
probe_b() {
	local s q=""
	for s in "$@"; do q+=" '$s'"; done
	echo "$MOCK_PROBE --connect 127.0.0.1:$(nb_mock_port b) --ca $pki/ca.crt --cert $pki/client.crt --key $pki/client.key$q >>$NB_TMP/probe_b.out"
}
has() { grep -Eq -- "$1" "$NB_TMP/probe.out" || nb_fail "probe output lacks /$1/: $(cat "$NB_TMP/probe.out")"; }

# Take, refuse, keep, read-only.
mock_probe a "use 0" "hs" "open d owner=alice@h1" "write 0 64K 1 fua" \
	"use 1" "hs" "!LOCKED open d owner=bob@h2" "!LOCKED open d" \
	"open d owner=alice@h1" "write 64K 4096 1" \
	"use 2" "hs" "open d ro" "read 0 64K 1" "!READ_ONLY write 0 512 9" \
	"info d" >/dev/null
has "open d owner=alice@h1: volume=d .* lock_owner=alice@h1 lock_gen=1 "
has "!LOCKED open d owner=bob@h2: LOCKED .*locked by 'alice@h1' since [0-9T:-]+Z \\(generation 1\\).*break the lock"
has "^open d owner=alice@h1: volume=d .* lock_gen=1 "
has "open d ro: volume=d .*read_only=1 .*lock_owner=alice@h1 lock_gen=1"
has "info d: volume=d .*lock_owner=alice@h1 lock_gen=1"
grep -q "^owner alice@h1$" "$img.lock" && grep -q "^gen 1$" "$img.lock" ||
	nb_fail "lock file: $(cat "$img.lock")"
nb_info "ok: take, LOCKED naming the holder, same owner keeps generation 1, read-only open"

# A break through node b fences alice's connection on node a.
rm -f "$NB_TMP/probe_b.out"
mock_probe a "hs" "open d owner=alice@h1" "write 0 4096 1" \
	"run $(probe_b hs 'open d owner=bob@h2 break' 'write 0 4096 2 fua')" \
	"!FENCED write 0 4096 3" "!FENCED flush" "!FENCED discard 0 4096" "!FENCED wz 0 4096" \
	"read 0 4096 2" "!FENCED write 4096 4096 3" >/dev/null
grep -q "open d owner=bob@h2 break: volume=d .*lock_owner=bob@h2 lock_gen=2" "$NB_TMP/probe_b.out" ||
	nb_fail "break did not hand the lock to bob at generation 2: $(cat "$NB_TMP/probe_b.out")"
has "!FENCED write 0 4096 3: FENCED .*generation 1 was broken"
mock_probe b "hs" "open d ro" "read 0 4096 2" "read 4096 4096 1" >/dev/null
mock_log_has a "volume d: writer lock generation 1 was broken: this connection is fenced" ||
	nb_fail "node a did not log the fencing"
[ "$(grep -c "this connection is fenced" "$NB_TMP/a.log")" = 1 ] ||
	nb_fail "fencing logged more than once per connection"
nb_info "ok: break through another node: FENCED, data unchanged, logged once"

# A write held back (stall) before the break executes after it: FENCED.
mock_probe a "hs" "open d owner=bob@h2" "run $NB_MOCK ctl $NB_TMP/a.sock stall on >/dev/null" \
	"send write 1M 4096 5" "sleep 200" \
	"run $(probe_b hs 'open d owner=carol@h3 break')" \
	"run $NB_MOCK ctl $NB_TMP/a.sock stall off >/dev/null" "!FENCED recv 1" >/dev/null
mock_probe b "hs" "open d ro" "readz 1M 4096" >/dev/null
nb_info "ok: a write stalled before the break is FENCED, not executed"

# UNLOCK; a stale generation; a generation that is current.
mock_probe b "hs" "!FENCED unlock d by=admin gen=2" "unlock d by=admin" "info d" \
	"!FENCED open d owner=carol@h3 gen=3" "open d owner=carol@h3 gen=4" \
	"open d owner=carol@h3 gen=last" "write 0 512 6" >/dev/null
has "^unlock d by=admin: volume=d .*lock_owner=- lock_gen=4"
has "info d: .*lock_owner=- lock_gen=4"
has "!FENCED open d owner=carol@h3 gen=3: FENCED .*generation 3 was broken \\(now generation 4"
has "^open d owner=carol@h3 gen=4: volume=d .*lock_owner=carol@h3 lock_gen=5"
has "^open d owner=carol@h3 gen=last: volume=d .*lock_gen=5"
mock_log_has b "volume d: writer lock broken \\(was 'carol@h3', generation 3; now no owner, generation 4\\)" ||
	nb_fail "node b did not log the UNLOCK"
nb_info "ok: UNLOCK, OPEN with a stale generation FENCED, with the current one granted"

# Opens without an owner (clients older than the lock): refused while held,
# else bound to the current generation and fenced by a later take.
mock_probe a "hs" "unlock d" "open d" "write 0 512 7" \
	"run $(probe_b hs 'open d owner=dave@h4')" "!FENCED write 0 512 8" "read 0 512 7" \
	"!MALFORMED open d break" >/dev/null
has "^open d: volume=d .*lock_owner=- lock_gen=6"
nb_info "ok: opens without an owner"

# The memory volume of node b has its own lock.
mock_probe b "use 0" "hs" "open m owner=x" "use 1" "hs" "!LOCKED open m owner=y" \
	"open m owner=y break" "write 0 4096 1" "use 0" "!FENCED write 0 4096 2" "read 0 4096 1" >/dev/null
st=$(mock_ctl b stats)
grep -q "fenced=1" <<<"$st" || nb_fail "node b stats: $st"
nb_info "ok: memory volume: LOCKED, break, FENCED; $st"
nb_info "PASS"
