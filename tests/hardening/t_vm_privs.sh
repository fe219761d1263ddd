#!/bin/bash
# Privileges: started as root with --user nobody, the daemon keeps only
# CAP_NET_ADMIN once its disk is up, runs as nobody, still serves I/O (the
# bytes written read back, before and after a node reconnect), reloads its
# certificates on SIGHUP when nobody may read them (and keeps the old ones
# when not), follows an online resize, and on SIGTERM still detaches and
# removes its device, its state file and its pid file. An unknown --user
# fails at once, naming the user, and leaves no device behind.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

"$DAEMON_BIN" --help 2>&1 | grep -- '--user' >/dev/null ||
	skip "vduse-netblk has no --user option yet (privs_drop not wired into main.c)"
getent passwd nobody >/dev/null || skip "no user 'nobody' in this system"
load_modules
start_mock n1 7001 --volume v0:64M

# an unknown user: refused before any device work
rc=0
"$DAEMON_BIN" --foreground --name baddev "${TLS_ARGS[@]}" "${MGMTDEV_ARGS[@]}" \
	--cluster 127.0.0.1:7001 --volume v0 --user nosuchuser \
	>"$NETBLK_OUT/baddev.log" 2>&1 </dev/null || rc=$?
[ "$rc" = 2 ] || fail "--user nosuchuser exited with $rc, want 2 (bad option): $(cat "$NETBLK_OUT/baddev.log")"
grep -q "nosuchuser" "$NETBLK_OUT/baddev.log" ||
	fail "the error for --user nosuchuser does not name the user: $(cat "$NETBLK_OUT/baddev.log")"
[ ! -e /dev/vduse/baddev ] && [ ! -e /sys/bus/vdpa/devices/baddev ] ||
	fail "--user nosuchuser left a device behind"
log "--user nosuchuser refused: $(head -1 "$NETBLK_OUT/baddev.log")"

# certificates nobody may read (for SIGHUP after the switch), the state
# directory and pid file where nobody can manage them after the switch
make_pki
upki=/tmp/upki
mkdir -p $upki
cp "$PKI/ca.crt" "$PKI/client.crt" "$PKI/client.key" $upki/
chown -R nobody $upki
chmod 0400 $upki/client.key
sdir=/tmp/nbstate
start_daemon pdev --cluster 127.0.0.1:7001 --volume v0 --user nobody \
	--ca $upki/ca.crt --cert $upki/client.crt --key $upki/client.key \
	--state-dir $sdir --pid-file $sdir/pdev.pid --resize-check 1
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

[ "$(stat -c %U $sdir/pdev.state)" = nobody ] || fail "state file owned by $(stat -c %U $sdir/pdev.state), want nobody"
[ "$(stat -c %U $sdir)" = nobody ] || fail "state directory owned by $(stat -c %U $sdir), want nobody"

# SIGHUP as nobody: a key nobody cannot read is refused, the old
# certificates stay; once readable, the reload works
chown root $upki/client.key
kill -HUP "$DAEMON_PID"
for ((i = 0; i < 50; i++)); do
	grep -q 'certificates not reloaded' "$NETBLK_OUT/pdev.log" && break
	sleep 0.1
done
grep -q 'certificates not reloaded' "$NETBLK_OUT/pdev.log" ||
	fail "SIGHUP with a key nobody cannot read was not refused"
chown nobody $upki/client.key
kill -HUP "$DAEMON_PID"
for ((i = 0; i < 50; i++)); do
	grep -q 'certificates reloaded' "$NETBLK_OUT/pdev.log" && break
	sleep 0.1
done
grep -q 'certificates reloaded' "$NETBLK_OUT/pdev.log" ||
	fail "SIGHUP did not reload the certificates as nobody"
kill -0 "$DAEMON_PID" || fail "the daemon died at SIGHUP"
# new connections use the reloaded certificates
stop_mock n1
start_mock n1 7001 --volume v0:64M
dd if=/tmp/data of="$BLK" bs=1M oflag=direct status=none || fail "write after the reload failed"
dd if="$BLK" of=/tmp/back bs=1M count=8 iflag=direct status=none || fail "read after the reload failed"
cmp /tmp/data /tmp/back || fail "data differs after the reload"
log "certificates reloaded as nobody, I/O over new connections"

# online resize as nobody: the config space changes through the open fd
sys=/sys/block/${BLK#/dev/}/size
mock_ctl n1 resize v0 128M >/dev/null || fail "resize on the node failed"
for ((i = 0; i < 300; i++)); do [ "$(cat $sys)" = $((128 << 11)) ] && break; sleep 0.1; done
[ "$(cat $sys)" = $((128 << 11)) ] || fail "$BLK still has $(cat $sys) sectors after the volume grew"
log "$BLK grew to 128 MiB as nobody"

grep -q 'privileges dropped, running as nobody' "$NETBLK_OUT/pdev.log" ||
	fail "the daemon did not log the drop"

# SIGUSR1 leaves the device; a new daemon (root, then nobody again) takes
# it over from the state file nobody owns, and serves the same bytes
stop_daemon USR1
[ -e /dev/vduse/pdev ] || fail "SIGUSR1 removed the device"
[ -e $sdir/pdev.state ] || fail "SIGUSR1 removed the state file"
start_daemon pdev --cluster 127.0.0.1:7001 --volume v0 --user nobody \
	--ca $upki/ca.crt --cert $upki/client.crt --key $upki/client.key \
	--state-dir $sdir --pid-file $sdir/pdev.pid --resize-check 1
for ((i = 0; i < 50; i++)); do
	[ "$(grep -c 'privileges dropped, running as nobody' "$NETBLK_OUT/pdev.log")" = 2 ] && break
	sleep 0.1
done
grep -q 'took over' "$NETBLK_OUT/pdev.log" || fail "the new daemon did not take the device over"
[ "$(grep -c 'privileges dropped, running as nobody' "$NETBLK_OUT/pdev.log")" = 2 ] ||
	fail "the new daemon did not drop to nobody"
dd if="$BLK" of=/tmp/back bs=1M count=8 iflag=direct status=none || fail "read after the takeover failed"
cmp /tmp/data /tmp/back || fail "data differs after the takeover"
log "taken over by a new daemon, which runs as nobody too"
stop_daemon TERM
[ ! -e $sdir/pdev.state ] || fail "state file left behind after SIGTERM"
[ ! -e $sdir/pdev.pid ] || fail "pid file left behind after SIGTERM"
[ ! -e /sys/bus/vdpa/devices/pdev ] || fail "vDPA device pdev still there after SIGTERM"
[ -z "$(blk_of pdev)" ] || fail "block device still present after SIGTERM"
[ ! -e /dev/vduse/pdev ] || fail "/dev/vduse/pdev still exists after SIGTERM (VDUSE_DESTROY_DEV needs the control descriptor opened before the drop)"
check_dmesg_clean
