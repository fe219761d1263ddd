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

step "starting a storage node on 127.0.0.1:7001 with a 256 MiB volume 'demo'"
start_mock node1 7001 --volume demo:256M
echo "netblk-server-mock running (pid ${MOCK_PIDS[node1]}), TLS 1.3 with client certificates"

step "netblk-cli info / verify / bench against the node"
cli --cluster 127.0.0.1:7001 --volume demo info
cli --cluster 127.0.0.1:7001 --volume demo verify --size 16M
cli --cluster 127.0.0.1:7001 --volume demo bench --pattern randread --bs 4k --iodepth 32 --seconds 3
cli --cluster 127.0.0.1:7001 --volume demo bench --pattern randwrite --bs 4k --iodepth 32 --seconds 3

step "attaching the volume with vduse-netblk"
echo "\$ vduse-netblk --cluster 127.0.0.1:7001 --volume demo --name demo0 --queues 2"
start_daemon demo0 --cluster 127.0.0.1:7001 --volume demo --queues 2
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

step "detaching (SIGTERM) and checking the data in the cluster"
stop_daemon TERM
echo "vduse-netblk exited 0; /dev/vduse/demo0 gone: $([ -e /dev/vduse/demo0 ] && echo no || echo yes)"
cli --cluster 127.0.0.1:7001 --volume demo export /tmp/demo.img >/dev/null
e2fsck -fn /tmp/demo.img >/dev/null && echo "e2fsck on the exported volume image: clean"
echo "node statistics: $(mock_ctl node1 stats)"
step "demo done"
