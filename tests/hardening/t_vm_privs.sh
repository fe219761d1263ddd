#!/bin/bash
# Privileges: started as root with --user nobody, the daemon keeps only
# CAP_NET_ADMIN once its disk is up, runs as nobody, still serves I/O (the
# bytes written read back, before and after a node reconnect), and on
# SIGTERM still detaches and removes its device.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

"$DAEMON_BIN" --help 2>&1 | grep -q -- '--user' ||
	skip "vduse-netblk has no --user option yet (privs_drop not wired into main.c)"
getent passwd nobody >/dev/null || skip "no user 'nobody' in this system"
load_modules
start_mock n1 7001 --volume v0:64M

start_daemon pdev --cluster 127.0.0.1:7001 --volume v0 --user nobody
status=/proc/$DAEMON_PID/status
# the drop happens right after the disk appears: give it a moment
for ((i = 0; i < 50; i++)); do
	[ "$(awk '/^Uid:/ {print $2}' "$status")" != 0 ] && break
	sleep 0.1
done
uid=$(awk '/^Uid:/ {print $2 $3 $4 $5}' "$status")
eff=$(awk '/^CapEff:/ {print $2}' "$status")
prm=$(awk '/^CapPrm:/ {print $2}' "$status")
bnd=$(awk '/^CapBnd:/ {print $2}' "$status")
nnp=$(awk '/^NoNewPrivs:/ {print $2}' "$status")
want=$(printf '%016x' $((1 << 12)))	# CAP_NET_ADMIN
log "daemon $DAEMON_PID: uids $uid CapEff $eff CapPrm $prm CapBnd $bnd NoNewPrivs $nnp"
nobody=$(id -u nobody)
[ "$uid" = "$nobody$nobody$nobody$nobody" ] || fail "daemon uids are $uid, want $nobody (nobody) x4"
[ "$eff" = "$want" ] || fail "daemon CapEff $eff, want $want (CAP_NET_ADMIN only)"
[ "$prm" = "$want" ] || fail "daemon CapPrm $prm, want $want"
[ "$bnd" = "$want" ] || fail "daemon CapBnd $bnd, want $want"
[ "$nnp" = 1 ] || fail "daemon NoNewPrivs is '$nnp'"
for t in "/proc/$DAEMON_PID/task/"*; do
	teff=$(awk '/^CapEff:/ {print $2}' "$t/status")
	[ "$teff" = "$want" ] || [ "$teff" = 0000000000000000 ] ||
		fail "thread ${t##*/} ($(cat "$t/comm")) kept capabilities $teff"
done

head -c $((8 << 20)) /dev/urandom >/tmp/data
dd if=/tmp/data of="$BLK" bs=1M oflag=direct status=none || fail "write to $BLK failed after the drop"
dd if="$BLK" of=/tmp/back bs=1M count=8 iflag=direct status=none || fail "read from $BLK failed after the drop"
cmp /tmp/data /tmp/back || fail "data read back differs after the drop"
log "8 MiB written and read back as nobody"

# a new TCP+TLS connection as nobody: restart the node, read again
stop_mock n1
start_mock n1 7001 --volume v0:64M
dd if=/tmp/data of="$BLK" bs=1M oflag=direct status=none || fail "write after the node came back failed"
dd if="$BLK" of=/tmp/back bs=1M count=8 iflag=direct status=none || fail "read after the node came back failed"
cmp /tmp/data /tmp/back || fail "data differs after the node came back"
log "reconnected and served I/O as nobody"

stop_daemon TERM
[ -z "$(blk_of pdev)" ] || fail "block device still present after SIGTERM"
[ ! -e /dev/vduse/pdev ] || fail "/dev/vduse/pdev still exists after SIGTERM (VDUSE_DESTROY_DEV needs the control descriptor opened before the drop)"
check_dmesg_clean
