#!/bin/bash
# The test VM boots the chosen 6.12 kernel, sees the host root and the
# results share, and the VDUSE stack loads: the vduse control device and the
# vduse vdpa management device appear.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"

log "kernel $(uname -r)"
[ "$(uname -r)" = "$NETBLK_KVER" ] || fail "running $(uname -r), expected $NETBLK_KVER"
[ -f "$NETBLK_SRC/tests/vm/guest-lib.sh" ] || fail "host root not visible"
echo ok >"$NETBLK_OUT/written-by-guest" || fail "results share $NETBLK_OUT not writable"
touch /tmp/x || fail "/tmp not writable"

load_modules
wait_for /dev/vduse/control 5
vdpa mgmtdev show | grep -q '^vduse' || fail "vdpa mgmtdev show lists no vduse: $(vdpa mgmtdev show 2>&1)"
# Kernel module autoloading goes through the guest's modprobe wrapper.
modprobe null_blk nr_devices=1 || fail "plain modprobe does not find the modules"
wait_for /dev/nullb0 5
check_dmesg_clean
log "boot test done"
