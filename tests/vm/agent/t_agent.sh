#!/bin/bash
# Agent mode: 8 spec files -> 8 block devices with by-volume links, each
# passing a write/verify; delete 3 -> those 3 detached, the others keep
# working; restart the agent -> the same 5, none duplicated; a bad spec ->
# its status file says why, the others are unaffected; `status` and the
# metrics endpoint report the volumes (metrics parse as Prometheus text).
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

specs=/tmp/specs
run=/run/vduse-netblk
mkdir -p $specs
load_modules
vols=()
for i in 1 2 3 4 5 6 7 8; do vols+=(--volume "av$i:64M"); done
start_mock n1 7001 "${vols[@]}"

start_agent() {
	"$DAEMON_BIN" agent --spec-dir $specs --metrics 127.0.0.1:9477 \
		"${TLS_ARGS[@]}" --log-level info >>"$NETBLK_OUT/agent.log" 2>&1 </dev/null &
	AGENT_PID=$!
	on_exit "kill $AGENT_PID 2>/dev/null"
}

# attached_count: status files that say attached
attached_count() {
	grep -l '^state=attached' $specs/*.status 2>/dev/null | wc -l
}

wait_attached() {
	local want=$1 i
	for ((i = 0; i < 600; i++)); do
		[ "$(attached_count)" = "$want" ] && return 0
		sleep 0.2
	done
	fail "$(attached_count) volumes attached after 120 s, expected $want: $(tail -5 "$NETBLK_OUT/agent.log")"
}

# check_volume ID: the by-volume link leads to a block device that keeps data
check_volume() {
	local link=$run/by-volume/$1
	[ -L "$link" ] || fail "no link $link"
	[ -b "$(readlink -f "$link")" ] || fail "$link -> $(readlink "$link") is not a block device"
	head -c $((1 << 20)) /dev/urandom >/tmp/d.$1
	dd if=/tmp/d.$1 of="$link" bs=64k oflag=direct status=none || fail "write to $1 failed"
	dd if="$link" of=/tmp/b.$1 bs=64k count=16 iflag=direct status=none || fail "read from $1 failed"
	cmp -s /tmp/d.$1 /tmp/b.$1 || fail "$1: data read back differs"
}

blockdevs() { ls -d /sys/bus/vdpa/devices/*/virtio*/block/* 2>/dev/null | wc -l; }

start_agent
for i in 1 2 3 4 5 6 7 8; do
	printf 'cluster=127.0.0.1:7001\nvolume=av%d\nname=agent%d\n' $i $i >$specs/vol$i.spec
done
wait_attached 8
for i in 1 2 3 4 5 6 7 8; do check_volume av$i; done
[ "$(blockdevs)" = 8 ] || fail "$(blockdevs) block devices for 8 specs"
log "8 specs: 8 devices with by-volume links, each wrote and read back 1 MiB"

rm $specs/vol2.spec $specs/vol5.spec $specs/vol7.spec
for n in 2 5 7; do
	wait_gone /dev/vduse/agent$n 30
	[ -e $run/by-volume/av$n ] && fail "link for av$n left after its spec was deleted"
	# the agent removes the status file once the detach has finished,
	# a moment after the device node goes
	wait_gone $specs/vol$n.status 10
done
for i in 1 3 4 6 8; do check_volume av$i; done
[ "$(blockdevs)" = 5 ] || fail "$(blockdevs) block devices after deleting 3 specs"
log "deleted 3 specs: 3 detached, 5 still work"

kill -TERM $AGENT_PID
wait $AGENT_PID || fail "the agent exited $? on SIGTERM"
[ "$(ls /dev/vduse | grep -vc '^control$')" = 5 ] || fail "devices after stopping the agent: $(ls /dev/vduse)"
start_agent
# the status files still say attached from the first agent: wait for the
# new agent's own word on each volume (one "volume avN took over" line)
for ((i = 0; i < 300; i++)); do
	[ "$(grep -c ': volume av[0-9]* took over' "$NETBLK_OUT/agent.log")" -ge 5 ] && break
	sleep 0.2
done
[ "$i" -lt 300 ] || fail "the restarted agent took over $(grep -c ': volume av[0-9]* took over' "$NETBLK_OUT/agent.log") of 5 volumes in 60 s: $(grep -E 'error|took over' "$NETBLK_OUT/agent.log" | tail -8)"
grep -q 'worker did not answer' "$NETBLK_OUT/agent.log" &&
	fail "a worker missed a command during the takeover: $(grep -B2 'worker did not answer' "$NETBLK_OUT/agent.log" | head -6)"
wait_attached 5
[ "$(ls /dev/vduse | grep -vc '^control$')" = 5 ] || fail "after restarting the agent: $(ls /dev/vduse)"
[ "$(blockdevs)" = 5 ] || fail "$(blockdevs) block devices after restarting the agent (duplicates?)"
for i in 1 3 4 6 8; do check_volume av$i; done
log "restarted the agent: the same 5 devices taken over, none duplicated"

printf 'cluster=127.0.0.1:7001\nname=broken\n' >$specs/bad.spec
for ((i = 0; i < 100; i++)); do [ -e $specs/bad.status ] && break; sleep 0.1; done
grep -q '^state=error' $specs/bad.status || fail "bad spec: no error state: $(cat $specs/bad.status 2>&1)"
grep -q '^message=.*no volume= line' $specs/bad.status || fail "bad spec: message does not say why: $(cat $specs/bad.status)"
for i in 1 3 4 6 8; do check_volume av$i; done
log "bad spec reported: $(grep ^message= $specs/bad.status)"

rc=0
"$DAEMON_BIN" status --spec-dir $specs >/tmp/status.txt || rc=$?
cat /tmp/status.txt
[ $rc = 1 ] || fail "status exited $rc with a bad spec declared"
[ "$(grep -c ' attached ' /tmp/status.txt)" = 5 ] || fail "status does not list 5 attached volumes"
grep -q '^bad .*error.*no volume= line' /tmp/status.txt || fail "status does not show the bad spec's error"
rm $specs/bad.spec
wait_gone $specs/bad.status 10
"$DAEMON_BIN" status --spec-dir $specs >/dev/null || fail "status exits non-zero with every spec attached"

exec 3<>/dev/tcp/127.0.0.1/9477
# a client may connect well before it sends its request (a slow guest
# did): the agent must wait for it without closing or blocking
sleep 2
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
sed '1,/^\r$/d' <&3 >/tmp/metrics.txt
exec 3<&-
bad=$(grep -vE '^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? [0-9.eE+-]+$' /tmp/metrics.txt || true)
[ -z "$bad" ] || fail "metrics lines that are not Prometheus text: $bad"
[ "$(grep -c '^vduse_netblk_volume_up{.*} 1$' /tmp/metrics.txt)" = 5 ] || fail "metrics do not show 5 volumes up: $(grep volume_up /tmp/metrics.txt)"
grep -qE '^vduse_netblk_written_bytes_total\{volume="av1",device="agent1"\} [1-9]' /tmp/metrics.txt ||
	fail "metrics show no bytes written to av1"
log "metrics: $(grep -vc '^#' /tmp/metrics.txt) samples, all valid Prometheus text"
kill -TERM $AGENT_PID
wait $AGENT_PID || true
for n in 1 3 4 6 8; do rm $specs/vol$n.spec; done
check_dmesg_clean
