#!/bin/bash
# The test VM boots the chosen 6.12 kernel, sees the host root and the
# results share, and the VDUSE stack loads: the vduse control device and the
# vduse vdpa management device appear; module loading, by hand and by the
# kernel, uses the guest kernel's modules.
# shellcheck source=tests/vm/guest-lib.sh
. "$NETBLK_SRC/tests/vm/guest-lib.sh"

log "kernel $(uname -r)"
[ "$(uname -r)" = "$NETBLK_KVER" ] || fail "running $(uname -r), expected $NETBLK_KVER"
[ -f "$NETBLK_SRC/tests/vm/guest-lib.sh" ] || fail "host root not visible"
echo ok >"$NETBLK_OUT/written-by-guest" || fail "results share $NETBLK_OUT not writable"
touch /tmp/x || fail "/tmp not writable"

load_modules
wait_for /dev/vduse/control 5
vdpa mgmtdev show | grep -q '^vduse' || fail "vdpa mgmtdev show lists no vduse: $(vdpa mgmtdev show 2>&1)"
# A plain modprobe finds the guest kernel's modules, and so does the kernel's
# own autoloading (mount -t ext4 needs the ext4 module).
modprobe brd rd_nr=1 rd_size=8192 || fail "plain modprobe does not find the modules"
wait_for /dev/ram0 5
mkfs.ext4 -q /dev/ram0 || fail "mkfs.ext4 /dev/ram0 failed"
mkdir /tmp/m
mount -t ext4 /dev/ram0 /tmp/m || fail "mounting ext4 (module autoload) failed"
echo hello >/tmp/m/f
umount /tmp/m
check_dmesg_clean
log "boot test done"
