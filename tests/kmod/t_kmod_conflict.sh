#!/bin/bash
# netblk_vduse.ko refuses to load, saying why, while the in-tree vduse
# module is loaded (both would own /dev/vduse/control), and loads once it is
# gone; its parameters are read-only and range-checked.
# shellcheck source=tests/vm/guest-lib.sh
. "$NETBLK_SRC/tests/vm/guest-lib.sh"

[ "$VDPA_MGMTDEV" = netblk-vduse ] || fail "run with NETBLK_VDUSE=kmod"
ko=${NETBLK_KMOD:-$NETBLK_BUILD/kmod/netblk_vduse.ko}
[ -f "$ko" ] || skip "$ko not built (no kernel headers for the VM kernel?)"
modprobe -d "$NETBLK_MODDIR" -a vdpa vhost_iotlb vduse || fail "modprobe vduse failed"
if insmod "$ko" 2>"$NETBLK_OUT/insmod.err"; then
	fail "netblk_vduse loaded next to the in-tree vduse"
fi
dmesg | grep -q "netblk_vduse: the in-tree vduse module is loaded" ||
	fail "no message naming the in-tree vduse module: $(dmesg | tail -3)"
log "refused next to vduse: $(dmesg | grep -m1 'netblk_vduse: the in-tree')"

rmmod vduse || fail "rmmod vduse failed"
insmod "$ko" bounce_mb=0 2>/dev/null && fail "bounce_mb=0 accepted"
dmesg | grep -q "netblk_vduse: bounce_mb must be" || fail "no message for bounce_mb=0"
load_modules vduse
[ -c /dev/vduse/control ] || fail "/dev/vduse/control missing"
vdpa mgmtdev show | grep -q "^netblk-vduse:" || fail "mgmtdev netblk-vduse not listed: $(vdpa mgmtdev show)"
[ "$(cat /sys/module/netblk_vduse/parameters/msg_timeout)" = 30 ] || fail "msg_timeout default is not 30"
echo 5 >/sys/module/netblk_vduse/parameters/msg_timeout 2>/dev/null &&
	fail "msg_timeout parameter is writable"
rmmod netblk_vduse || fail "rmmod netblk_vduse failed"
check_dmesg_clean
log "conflict test done"
