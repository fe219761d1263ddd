#!/bin/bash
# The daemon under systemd's eyes, without systemd (a datagram socket
# stands in for $NOTIFY_SOCKET, the daemon's log file for the journal
# stream): READY=1 comes only once the kernel made the disk (what the
# units' Type=notify relies on, instead of polling sysfs), with a STATUS=
# naming the volume and the disk; WATCHDOG=1 pings follow; SIGTERM sends
# STOPPING=1; the log carries "<N>" priorities.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

load_modules
start_mock n1 7001 --volume nvol:32M

sock=/tmp/notify.sock
out=$NETBLK_OUT/notify.out
# On READY=1, note which disks the vDPA device has at that very moment.
python3 - "$sock" "$out" <<'PY' &
import glob, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
with open(sys.argv[2], "a", buffering=1) as f:
    try:
        while True:
            msg = s.recv(4096).decode()
            if "READY=1" in msg:
                disks = glob.glob("/sys/bus/vdpa/devices/ndev/virtio*/block/*")
                f.write("disks at READY: " + " ".join(d.rsplit("/", 1)[1] for d in disks) + "\n")
            f.write(msg.replace("\n", "|") + "\n")
            if "STOPPING=1" in msg:
                break
    except socket.timeout:
        pass
PY
listener=$!
on_exit "kill $listener 2>/dev/null"
for ((i = 0; i < 50; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "the stand-in notify socket did not appear"

: > "$NETBLK_OUT/ndev.log"
export NOTIFY_SOCKET=$sock WATCHDOG_USEC=400000
JOURNAL_STREAM=$(stat -c '%d:%i' "$NETBLK_OUT/ndev.log")
export JOURNAL_STREAM
start_daemon ndev --cluster 127.0.0.1:7001 --volume nvol
unset NOTIFY_SOCKET WATCHDOG_USEC JOURNAL_STREAM

wait_for() { # REGEX COUNT WHAT
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -cE "$1" "$out" 2>/dev/null || true)" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "$3: got $(sort "$out" 2>/dev/null | uniq -c | tr -s ' \n' ' ')"
}
wait_for '^READY=1' 1 "no READY=1 from the daemon"
disk=$(sed -n 's/^disks at READY: //p' "$out" | head -n 1)
[ -n "$disk" ] || fail "READY=1 came before the kernel made the disk"
[ "/dev/$disk" = "$BLK" ] || fail "the disk at READY=1 was $disk, the daemon serves $BLK"
grep -q "^READY=1|STATUS=serving volume nvol as $BLK\$" "$out" ||
	fail "READY=1 without 'STATUS=serving volume nvol as $BLK': $(grep READY "$out")"
log "ok: READY=1 with the disk $disk already there: $(grep '^READY' "$out")"
wait_for '^WATCHDOG=1$' 3 "fewer than 3 WATCHDOG=1 pings (WATCHDOG_USEC=400000)"
dd if="$BLK" of=/dev/null bs=1M count=4 iflag=direct status=none || fail "reading $BLK failed"
stop_daemon TERM
wait_for '^STOPPING=1\|STATUS=stopping: detaching the disk$' 1 "no STOPPING=1 at SIGTERM"
log "ok: $(grep -c '^WATCHDOG=1$' "$out") watchdog pings, then $(grep '^STOPPING' "$out")"

grep -q "^<5>ndev: attached as $BLK\$" "$NETBLK_OUT/ndev.log" ||
	fail "no '<5>ndev: attached as $BLK' on the journal stream: $(head -n 5 "$NETBLK_OUT/ndev.log")"
! grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$NETBLK_OUT/ndev.log" ||
	fail "timestamps on the journal stream: $(grep -E '^[0-9]{4}-' "$NETBLK_OUT/ndev.log" | head -n 2)"
log "ok: journal lines: $(head -n 3 "$NETBLK_OUT/ndev.log" | tr '\n' ' ')"
check_dmesg_clean
