#!/bin/bash
# Load and unload netblk_vduse.ko ${1:-50} times; each time create a device
# (qemu-storage-daemon's vduse-blk export), attach it, write and read back
# 1 MiB through the disk, detach, stop the server (which destroys the
# device) and rmmod. Afterwards: a clean kernel log, the reference counts of
# the modules ours uses back where they started, and no steady growth of
# unreclaimable kernel memory. (kmemleak is not enabled in the Debian
# kernel, so a leak is judged from free memory: the drop between iteration 5
# and the last must stay under 4 MiB; one leaked attachment costs at least
# the 256 KiB bounce table plus its bounce pages, so 45 of them would show.
# Free memory here counts the pages parked on the per-CPU free lists too:
# MemFree alone swings by 30 MiB from one reading to the next as those
# lists fill and drain, which no leak check can see through.)
# shellcheck source=tests/vm/guest-lib.sh
. "$NETBLK_SRC/tests/vm/guest-lib.sh"

rounds=${1:-50}
[ "$VDPA_MGMTDEV" = netblk-vduse ] || fail "run with NETBLK_VDUSE=kmod"
command -v qemu-storage-daemon >/dev/null || fail "qemu-storage-daemon not installed on the host"
load_modules vdpa virtio_vdpa virtio_blk vhost_iotlb
refs0="$(cat /sys/module/vdpa/refcnt) $(cat /sys/module/vhost_iotlb/refcnt)"
head -c 1M /dev/urandom >/tmp/in.bin
truncate -s 8M /tmp/loop.img

mem_kib() {
	# page cache comes and goes with the dd traffic: measure without it
	local pcp
	sync
	echo 3 >/proc/sys/vm/drop_caches
	pcp=$(awk '$1 == "count:" { n += $2 } END { print n }' /proc/zoneinfo)
	awk -v pcp="$pcp" -v pg="$(getconf PAGESIZE)" \
		'/^MemFree:/ { print $2 + pcp * pg / 1024 }' /proc/meminfo
}

for ((i = 1; i <= rounds; i++)); do
	load_modules vduse
	bg_start qsd qemu-storage-daemon \
		--blockdev "driver=file,node-name=file0,filename=/tmp/loop.img,cache.direct=off" \
		--export "type=vduse-blk,id=e0,node-name=file0,name=loop0,writable=on,num-queues=1"
	qsd_pid=$BG_PID
	blk=$(vdpa_attach loop0)
	dd if=/tmp/in.bin of="$blk" bs=64k seek=$((i % 7)) oflag=direct status=none ||
		fail "round $i: write to $blk failed"
	dd if="$blk" of=/tmp/out.bin bs=64k skip=$((i % 7)) count=16 iflag=direct status=none ||
		fail "round $i: read from $blk failed"
	cmp /tmp/in.bin /tmp/out.bin || fail "round $i: read back differs from what was written"
	vdpa_detach loop0
	bg_stop "$qsd_pid" || fail "round $i: qemu-storage-daemon exited with $?"
	wait_gone /dev/vduse/loop0 10
	rmmod netblk_vduse || fail "round $i: rmmod netblk_vduse failed"
	[ ! -e /dev/vduse/control ] || fail "round $i: /dev/vduse/control left after rmmod"
	refs="$(cat /sys/module/vdpa/refcnt) $(cat /sys/module/vhost_iotlb/refcnt)"
	[ "$refs" = "$refs0" ] || fail "round $i: vdpa/vhost_iotlb refcounts $refs, were $refs0"
	[ "$i" != 5 ] || mem5=$(mem_kib)
	[ $((i % 10)) != 0 ] || log "round $i done, free memory $(mem_kib) KiB"
	check_dmesg_clean
done
mem_end=$(mem_kib)
if [ "$rounds" -gt 5 ]; then
	log "free memory after round 5: $mem5 KiB, after round $rounds: $mem_end KiB"
	[ $((mem5 - mem_end)) -lt 4096 ] ||
		fail "free memory fell by $((mem5 - mem_end)) KiB over $((rounds - 5)) rounds (leak?)"
fi
check_dmesg_clean
log "$rounds load/use/unload rounds done"
