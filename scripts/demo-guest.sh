#!/usr/bin/env bash
# The demo itself, run by scripts/demo.sh inside the VM (or on a host with
# VDUSE). Prints each step and what it found.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

step() { echo; echo "### $*"; }

step "loading the kernel modules: vdpa vduse virtio_vdpa virtio_blk"
load_modules
make_pki
echo "certificates (CA, node, client) in $PKI"

# netblk-node NAME PORT ARGS...: start a storage node in the background
# (log $NETBLK_OUT/NAME.log) and wait until it listens.
declare -A NODE_PIDS=()
start_node() {
	local name=$1 port=$2 i
	shift 2
	rm -f "/tmp/$name.port"
	"$NETBLK_BIN/netblk-node" --listen "127.0.0.1:$port" --name "$name" \
		--ca "$PKI/ca.crt" --cert "$PKI/server.crt" --key "$PKI/server.key" \
		--port-file "/tmp/$name.port" --allow-create "$@" \
		>>"$NETBLK_OUT/$name.log" 2>&1 </dev/null &
	NODE_PIDS[$name]=$!
	on_exit "kill ${NODE_PIDS[$name]} 2>/dev/null"
	for ((i = 0; i < 300; i++)); do
		[ -s "/tmp/$name.port" ] && return 0
		kill -0 "${NODE_PIDS[$name]}" 2>/dev/null ||
			fail "netblk-node $name exited at start: $(tail -5 "$NETBLK_OUT/$name.log")"
		sleep 0.1
	done
	fail "netblk-node $name did not listen within 30 s"
}

if [ "${NETBLK_DEMO_CEPH:-}" = 1 ]; then
	step "starting a Ceph cluster (one monitor, one OSD, pool 'netblk')"
	hostname netblk-demo	# Ceph's CRUSH map needs a real host name
	bash "$NETBLK_SRC/tests/ceph/ceph-cluster.sh" start /tmp/ceph --no-install \
		--memstore-mb 512 --timeout 300 || fail "the Ceph cluster did not start"
	on_exit "bash $NETBLK_SRC/tests/ceph/ceph-cluster.sh stop /tmp/ceph >/dev/null 2>&1"
	# shellcheck disable=SC1091
	. /tmp/ceph/env
	step "starting two storage nodes on 127.0.0.1:7001 and :7002, both on pool $CEPH_POOL"
	printf 'epoch 1\nchunk_size 4M\nnode 127.0.0.1:7001 group 1\nnode 127.0.0.1:7002 group 1\nchunk 0 1\nchunk 1 0\n' \
		>/tmp/cluster.map
	cat /tmp/cluster.map
	for n in 1 2; do
		start_node "node$n" "700$n" --map /tmp/cluster.map --backend rados \
			--rados-pool "$CEPH_POOL" --rados-conf "$CEPH_CONF" \
			--rados-user "$CEPH_CLIENT_ID" --rados-keyring "$CEPH_CLIENT_KEYRING"
	done
	CLUSTER=127.0.0.1:7001,127.0.0.1:7002
	echo "netblk-node running (pids ${NODE_PIDS[node1]} ${NODE_PIDS[node2]}), rados backend, TLS 1.3 with client certificates"
else
	step "starting a storage node on 127.0.0.1:7001 (file backend in /tmp/volumes)"
	mkdir -p /tmp/volumes
	start_node node1 7001 --dir /tmp/volumes
	CLUSTER=127.0.0.1:7001
	echo "netblk-node running (pid ${NODE_PIDS[node1]}), TLS 1.3 with client certificates"
fi
cli --cluster "${CLUSTER%%,*}" --volume demo create 256M

step "netblk-cli info / verify / bench against the node"
cli --cluster "$CLUSTER" --volume demo info
cli --cluster "$CLUSTER" --volume demo verify --size 16M
cli --cluster "$CLUSTER" --volume demo bench --pattern randread --bs 4k --iodepth 32 --seconds 3
cli --cluster "$CLUSTER" --volume demo bench --pattern randwrite --bs 4k --iodepth 32 --seconds 3

step "attaching the volume with vduse-netblk"
echo "\$ vduse-netblk --cluster $CLUSTER --volume demo --name demo0 --queues 2"
start_daemon demo0 --cluster "$CLUSTER" --volume demo --queues 2
echo "the kernel made $BLK of it: $(cat /sys/block/${BLK#/dev/}/size) sectors, $(ls /sys/block/${BLK#/dev/}/mq | wc -l) queues"

step "ext4 on $BLK: write files, read them back"
mkfs.ext4 -q -F "$BLK"
mkdir -p /tmp/mnt && mount "$BLK" /tmp/mnt
on_exit 'umount /tmp/mnt 2>/dev/null'
for i in 1 2 3; do head -c $((i << 20)) /dev/urandom >/tmp/mnt/file$i; done
cp -r "$NETBLK_SRC/proto" /tmp/mnt/proto
(cd /tmp/mnt && find . -type f | sort | xargs sha256sum) | tee /tmp/sums
df -h /tmp/mnt | tail -1
umount /tmp/mnt
echo 3 >/proc/sys/vm/drop_caches
mount "$BLK" /tmp/mnt
(cd /tmp/mnt && sha256sum -c --quiet /tmp/sums) && echo "all $(wc -l </tmp/sums) files read back identical after remount"
umount /tmp/mnt

if [ "${NETBLK_DEMO_CEPH:-}" = 1 ]; then
	step "kill -9 node1: the disk keeps working through node2 (same pool)"
	kill -9 "${NODE_PIDS[node1]}"
	mount "$BLK" /tmp/mnt
	(cd /tmp/mnt && sha256sum -c --quiet /tmp/sums) &&
		echo "all $(wc -l </tmp/sums) files read back identical through node2"
	head -c 4M /dev/urandom >/tmp/mnt/after-kill && sync
	echo "wrote and synced a file after the kill"
	(cd /tmp/mnt && find . -type f | sort | xargs sha256sum) >/tmp/sums
	umount /tmp/mnt
	CLUSTER=127.0.0.1:7002
fi

step "detaching (SIGTERM) and checking the data in the cluster"
stop_daemon TERM
echo "vduse-netblk exited 0; /dev/vduse/demo0 gone: $([ -e /dev/vduse/demo0 ] && echo no || echo yes)"
cli --cluster "$CLUSTER" --volume demo export /tmp/demo.img >/dev/null
e2fsck -fn /tmp/demo.img >/dev/null && echo "e2fsck on the exported volume image: clean"
last=node1
[ "${NETBLK_DEMO_CEPH:-}" = 1 ] && last=node2
kill -USR1 "${NODE_PIDS[$last]}"
sleep 0.5
echo "$last counters: $(grep -h 'stats:' "$NETBLK_OUT/$last.log" | tail -1 | sed 's/.*stats: //')"
step "demo done"
