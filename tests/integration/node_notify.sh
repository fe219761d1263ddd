#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-node under systemd's eyes (Type=notify, WatchdogSec=, stderr to
# the journal), without systemd: a datagram socket stands in for
# $NOTIFY_SOCKET and the node's log file for the journal stream. The node
# says READY=1 with a STATUS= once it listens, pings WATCHDOG=1 while its
# loop turns, says STOPPING=1 at SIGTERM, and writes "<N>" priorities
# instead of timestamps to the journal stream.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
command -v python3 >/dev/null || nb_skip "python3 missing"

sock=$NB_TMP/notify.sock
python3 - "$sock" "$NB_TMP/notify.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a", buffering=1) as out:
    try:
        while True:
            msg = s.recv(4096).decode()
            out.write(msg.replace("\n", "|") + "\n")
            if "STOPPING=1" in msg:
                break
    except socket.timeout:
        pass
PY
listener=$!
for ((i = 0; i < 50; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || nb_fail "the stand-in notify socket did not appear"

# stderr of the node is $NB_TMP/n0.log (lib.sh); name it as the journal.
: > "$NB_TMP/n0.log"
export NOTIFY_SOCKET=$sock WATCHDOG_USEC=300000
JOURNAL_STREAM=$(stat -c '%d:%i' "$NB_TMP/n0.log")
export JOURNAL_STREAM
nb_node_start n0 --log-level info
unset NOTIFY_SOCKET WATCHDOG_USEC JOURNAL_STREAM
pid=${NB_MOCK_PID[n0]}

wait_for() { # PATTERN COUNT WHAT
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -c "$1" "$NB_TMP/notify.out" 2>/dev/null || true)" -ge "$2" ] && return 0
		sleep 0.1
	done
	nb_fail "$3: got $(tr '\n' ' ' < "$NB_TMP/notify.out" 2>/dev/null)"
}
wait_for '^READY=1|STATUS=serving' 1 "no READY=1 with STATUS= from netblk-node"
wait_for '^STATUS=listening on port [0-9]* as node 127.0.0.1:[0-9]*, map epoch 1, backend file' 1 "no STATUS= naming the address"
wait_for '^WATCHDOG=1$' 3 "fewer than 3 WATCHDOG=1 pings (WATCHDOG_USEC=300000)"
nb_info "ok: $(grep -c . "$NB_TMP/notify.out") notifications: $(sort -u "$NB_TMP/notify.out" | tr '\n' ' ')"
nb_mock_stop n0
wait_for '^STOPPING=1' 1 "no STOPPING=1 at SIGTERM"
wait "$listener" || true

grep -q '^<6>.*listening on ' "$NB_TMP/n0.log" ||
	nb_fail "no '<6>...listening on' line on the journal stream: $(head -n 3 "$NB_TMP/n0.log")"
! grep -qE '^[0-9]{2}:[0-9]{2}:[0-9]{2}' "$NB_TMP/n0.log" ||
	nb_fail "timestamps on the journal stream: $(grep -E '^[0-9]{2}:' "$NB_TMP/n0.log" | head -n 2)"
nb_info "ok: journal lines: $(head -n 2 "$NB_TMP/n0.log" | tr '\n' ' ')"
nb_info "PASS"
