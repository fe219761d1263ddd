#!/bin/bash
# Agent mode: 8 spec files -> 8 block devices with by-volume links, each
# passing a write/verify; delete 3 -> those 3 detached, the others keep
# working; restart the agent -> the same 5, none duplicated; a bad spec ->
# its status file says why, the others are unaffected; `status` and the
# metrics endpoint report the volumes (promtool accepts a scrape of the
# real disks; each carries its kernel disk name; every endpoint's status
# code). An io_timeout change is applied without a detach. A disk in use is not detached: a removed spec of a mounted disk
# and a changed spec of an open disk leave them attached, status says
# why; unmounted, the disk goes; NAME.force applies the change.
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
grep -q '^state=bad-spec' $specs/bad.status || fail "bad spec: no bad-spec state: $(cat $specs/bad.status 2>&1)"
grep -q '^message=.*no volume= line' $specs/bad.status || fail "bad spec: message does not say why: $(cat $specs/bad.status)"
for i in 1 3 4 6 8; do check_volume av$i; done
log "bad spec reported: $(grep ^message= $specs/bad.status)"

rc=0
"$DAEMON_BIN" status --spec-dir $specs >/tmp/status.txt || rc=$?
cat /tmp/status.txt
# liveness: the agent runs, whatever one bad spec; readiness: not all attached
[ $rc = 0 ] || fail "status exited $rc with a bad spec declared: a liveness probe would restart the agent"
rc=0
"$DAEMON_BIN" status --ready --spec-dir $specs >/dev/null || rc=$?
[ $rc = 1 ] || fail "status --ready exited $rc with a bad spec declared"
[ "$(grep -c ' attached ' /tmp/status.txt)" = 5 ] || fail "status does not list 5 attached volumes"
grep -q '^bad .*bad-spec.*no volume= line' /tmp/status.txt || fail "status does not show the bad spec's error"
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9477/readyz)" = 503 ] ||
	fail "/readyz is not 503 with a bad spec"
rm $specs/bad.spec
wait_gone $specs/bad.status 10
"$DAEMON_BIN" status --ready --spec-dir $specs >/dev/null || fail "status --ready exits non-zero with every spec attached"

exec 3<>/dev/tcp/127.0.0.1/9477
# a client may connect well before it sends its request (a slow guest
# did): the server must wait for it without closing or blocking the agent
sleep 2
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
sed '1,/^\r$/d' <&3 >/tmp/metrics-slow.txt
exec 3<&-
grep -q '^vduse_netblk_volume_up{' /tmp/metrics-slow.txt || fail "a slow client got no metrics"
sleep 1.5	# a snapshot taken after the last writes
curl -sf http://127.0.0.1:9477/metrics >/tmp/metrics.txt || fail "curl /metrics failed"
promtool check metrics </tmp/metrics.txt >/tmp/promtool.txt 2>&1 ||
	fail "promtool check metrics: $(cat /tmp/promtool.txt)"
# The series of one volume, in the log for whoever reads it.
grep -E 'volume="av1"|build_info' /tmp/metrics.txt | grep -v '_bucket' | sed 's/^/scrape: /'
[ "$(grep -c '^vduse_netblk_volume_up{.*} 1$' /tmp/metrics.txt)" = 5 ] || fail "metrics do not show 5 volumes up: $(grep volume_up /tmp/metrics.txt)"
disk=$(basename "$(readlink -f $run/by-volume/av1)")
grep -qE "^vduse_netblk_written_bytes_total\{volume=\"av1\",name=\"agent1\",device=\"$disk\"\} [1-9]" /tmp/metrics.txt ||
	fail "metrics show no bytes written to av1 on $disk: $(grep written_bytes /tmp/metrics.txt)"
grep -qE "^vduse_netblk_request_duration_seconds_count\{volume=\"av1\",name=\"agent1\",device=\"$disk\",op=\"write\"\} [1-9]" /tmp/metrics.txt ||
	fail "no write latency for av1: $(grep 'av1.*duration_seconds_count' /tmp/metrics.txt)"
grep -qE "^vduse_netblk_connections_up\{volume=\"av1\",.*\} [1-9]" /tmp/metrics.txt ||
	fail "no connection up for av1: $(grep connections_up /tmp/metrics.txt)"
for path in healthz readyz; do
	c=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9477/$path)
	[ "$c" = 200 ] || fail "/$path: $c with every volume attached"
done
c=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9477/other)
[ "$c" = 404 ] || fail "/other: $c"
c=$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:9477/metrics)
[ "$c" = 405 ] || fail "POST /metrics: $c"
log "metrics: $(grep -vc '^#' /tmp/metrics.txt) samples, promtool ok, av1 on $disk: $(grep "duration_seconds_count{volume=\"av1\".*op=\"write\"}" /tmp/metrics.txt)"

# A change the volume can take live: io_timeout, without a detach.
blk4=$(readlink -f $run/by-volume/av4)
printf 'cluster=127.0.0.1:7001\nvolume=av4\nname=agent4\nio_timeout=45\n' >$specs/vol4.spec
for ((i = 0; i < 100; i++)); do grep -q 'io_timeout 45 s applied live' $specs/vol4.status 2>/dev/null && break; sleep 0.1; done
grep -q '^message=.*io_timeout 45 s applied live' $specs/vol4.status || fail "io_timeout change: $(cat $specs/vol4.status)"
[ "$(readlink -f $run/by-volume/av4)" = "$blk4" ] || fail "io_timeout change moved av4 from $blk4"
grep -q 'agent4: io_timeout now 45 s' "$NETBLK_OUT/agent.log" || fail "the workers did not take io_timeout 45"
grep -q 'vol4: spec changed, re-attaching' "$NETBLK_OUT/agent.log" && fail "io_timeout change re-attached av4"
check_volume av4
log "io_timeout changed live on $blk4: $(grep ^message= $specs/vol4.status)"

# A disk in use is not detached. av1 mounted: its spec removed -> stays.
blk1=$(readlink -f $run/by-volume/av1)
mkfs.ext4 -q -F "$blk1" || fail "mkfs.ext4 $blk1"
mkdir -p /tmp/mnt1
mount "$blk1" /tmp/mnt1 || fail "mount $blk1"
echo kept >/tmp/mnt1/file
rm $specs/vol1.spec
for ((i = 0; i < 100; i++)); do grep -q '^state=in-use' $specs/vol1.status 2>/dev/null && break; sleep 0.1; done
grep -q '^state=in-use' $specs/vol1.status || fail "removed spec of a mounted disk: $(cat $specs/vol1.status 2>&1)"
grep -q "^message=spec removed, but $blk1 is mounted at /tmp/mnt1" $specs/vol1.status ||
	fail "in-use message: $(grep ^message= $specs/vol1.status)"
[ -b "$blk1" ] && [ -e /dev/vduse/agent1 ] || fail "the mounted disk was detached"
"$DAEMON_BIN" status --spec-dir $specs >/tmp/status.txt || fail "status exits $? with a disk in use"
grep -q '^vol1 .*in-use.*mounted at /tmp/mnt1' /tmp/status.txt || fail "status does not list vol1 in use: $(cat /tmp/status.txt)"
[ "$(cat /tmp/mnt1/file)" = kept ] || fail "the file system on the held disk lost its file"
log "removed spec of a mounted disk: $(grep ^message= $specs/vol1.status)"
umount /tmp/mnt1
wait_gone /dev/vduse/agent1 30	# the agent tries again every 10 s
wait_gone $specs/vol1.status 10
log "unmounted: the disk went"

# av3 open by a process: a spec change that needs a re-attach waits; a
# force file applies it.
blk3=$(readlink -f $run/by-volume/av3)
# A force file made while nothing waits is removed at once: left there, it
# would let some later change detach the disk in use unasked.
touch $specs/vol3.force
for ((i = 0; i < 50; i++)); do [ -e $specs/vol3.force ] || break; sleep 0.1; done
[ -e $specs/vol3.force ] && fail "a force file made while nothing waited was left in place"
exec 4<"$blk3"
printf 'cluster=127.0.0.1:7001\nvolume=av3\nname=agent3\nqueues=2\n' >$specs/vol3.spec
for ((i = 0; i < 100; i++)); do grep -q '^state=in-use' $specs/vol3.status 2>/dev/null && break; sleep 0.1; done
grep -q "^message=spec changed, but $blk3 is open by process $$" $specs/vol3.status ||
	fail "changed spec of an open disk: $(cat $specs/vol3.status)"
[ "$(ls /sys/block/"$(basename "$blk3")"/mq | wc -l)" = 1 ] || fail "av3 was re-attached while open"
touch $specs/vol3.force
for ((i = 0; i < 200; i++)); do grep -q '^state=attached' $specs/vol3.status 2>/dev/null && break; sleep 0.1; done
grep -q '^state=attached' $specs/vol3.status || fail "force file: av3 not re-attached: $(cat $specs/vol3.status)"
exec 4<&-
[ -e $specs/vol3.force ] && fail "the force file was not consumed"
check_volume av3
log "changed spec of an open disk waited; forced: $(grep ^message= $specs/vol3.status)"

# A loop device over the disk (as the CSI driver's read-only block
# publication makes) keeps it attached when its spec goes; without it the
# disk goes.
if modprobe loop 2>/dev/null; then
	blk3=$(readlink -f $run/by-volume/av3)
	lo=$(losetup -r -f --show "$blk3") || fail "losetup over $blk3"
	rm $specs/vol3.spec
	for ((i = 0; i < 100; i++)); do grep -q '^state=in-use' $specs/vol3.status 2>/dev/null && break; sleep 0.1; done
	grep -q "^message=spec removed, but $blk3 is the backing device of $lo" $specs/vol3.status ||
		fail "a disk under a loop device: $(cat $specs/vol3.status 2>&1)"
	log "a disk under a loop device stays: $(grep ^message= $specs/vol3.status)"
	losetup -d "$lo"
	wait_gone /dev/vduse/agent3 30	# the agent tries again every 10 s
else
	log "SKIP the loop device case: no loop module"
	rm $specs/vol3.spec
fi
kill -TERM $AGENT_PID
wait $AGENT_PID || true
for n in 4 6 8; do rm $specs/vol$n.spec; done
check_dmesg_clean
