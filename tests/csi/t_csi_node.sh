#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-csi's Node service with real VDUSE disks, in one VM boot: a mock
# node, the vduse-netblk agent and the driver (all services) run here; the
# Python client (node_test.py) plays the sidecars and the kubelet: the
# life cycles of a block and an ext4 volume with data verified across a
# detach, every call repeated, online growth of the mounted ext4, a second
# node refused while the first holds the volume read-write (by the same
# controller and by a fresh one that only sees the writer lock), wrong
# input for each call. The transcript of the calls and of what the node
# showed (disk, mounts, data) is in script.log.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

py=$NETBLK_BUILD/client/csi/py
[ -x "$NETBLK_BIN/netblk-csi" ] || fail "netblk-csi not built"
[ -f "$py/csi_pb2_grpc.py" ] || skip "no Python CSI stubs (python3-grpcio, python3-grpc-tools)"
command -v mkfs.ext4 >/dev/null && command -v resize2fs >/dev/null || skip "e2fsprogs missing"

specs=/tmp/specs kubelet=/tmp/kubelet
mkdir -p $specs $kubelet
load_modules
# read-only block publications are read-only loop devices over the disk;
# with max_part, /dev/loopN is not minor N (the driver must not guess)
rmmod loop 2>/dev/null || true
modprobe loop max_part=15 || modprobe loop || fail "cannot load the loop module"
log "loop max_part: $(cat /sys/module/loop/parameters/max_part 2>/dev/null || echo built-in)"
start_mock n1 7001 --allow-create
"$DAEMON_BIN" agent --spec-dir $specs "${TLS_ARGS[@]}" --log-level info \
	>>"$NETBLK_OUT/agent.log" 2>&1 </dev/null &
agent_pid=$!
on_exit "kill $agent_pid 2>/dev/null"

# DeleteVolume and ControllerExpandVolume use the cluster's DELETE and
# RESIZE (the mock allows them with --allow-create)
csi=("$NETBLK_BIN/netblk-csi" --cluster 127.0.0.1:7001 "${TLS_ARGS[@]}")
"${csi[@]}" --mode all --node-id nodeA --endpoint unix:///tmp/csi.sock --spec-dir $specs \
	--kubelet-dir $kubelet --attach-timeout 60 >>"$NETBLK_OUT/csi.log" 2>&1 </dev/null &
csi_pid=$!
on_exit "kill $csi_pid 2>/dev/null"
# a second controller that never saw the first one's publications
"${csi[@]}" --mode controller --endpoint unix:///tmp/csi2.sock \
	>>"$NETBLK_OUT/csi2.log" 2>&1 </dev/null &
csi2_pid=$!
on_exit "kill $csi2_pid 2>/dev/null"
# a node plugin whose spec directory no agent watches: the test writes the
# status files (stale ones, as a reboot leaves them)
mkdir -p /tmp/specs3
"${csi[@]}" --mode node --node-id nodeC --endpoint unix:///tmp/csi3.sock --spec-dir /tmp/specs3 \
	--kubelet-dir $kubelet --attach-timeout 2 >>"$NETBLK_OUT/csi3.log" 2>&1 </dev/null &
csi3_pid=$!
on_exit "kill $csi3_pid 2>/dev/null"
wait_for /tmp/csi.sock 10
wait_for /tmp/csi2.sock 10
wait_for /tmp/csi3.sock 10

rc=0
NETBLK_CSI_PY=$py /usr/bin/python3 "$NETBLK_SRC/tests/csi/node_test.py" \
	/tmp/csi.sock $kubelet $specs /tmp/csi2.sock /tmp/csi3.sock /tmp/specs3 || rc=$?
[ $rc = 0 ] || fail "node checks failed; netblk-csi log: $(tail -8 "$NETBLK_OUT/csi.log")"

kill -TERM $csi_pid
wait $csi_pid || fail "netblk-csi exited $? on SIGTERM"
[ -z "$(ls $specs/*.spec 2>/dev/null)" ] || fail "specs left behind: $(ls $specs)"
[ "$(ls /dev/vduse | grep -vc '^control$')" = 0 ] || fail "devices left: $(ls /dev/vduse)"
check_dmesg_clean
log "PASS"
