#!/bin/bash
# Hostile userspace against netblk_vduse.ko: every VDUSE ioctl with bad
# arguments (sizes, queue indexes, unmapped IOVA, API version, names, duplicate,
# destroy while open or attached, config_size, vq_num, vq size, features
# without ACCESS_PLATFORM, short read, bogus response) gets its documented
# errno, the good path still works afterwards, and the kernel log stays clean.
# No vDPA driver is loaded, so attaching sends no control message.
# shellcheck source=tests/vm/guest-lib.sh
. "$NETBLK_SRC/tests/vm/guest-lib.sh"

[ "$VDPA_MGMTDEV" = netblk-vduse ] || fail "run with NETBLK_VDUSE=kmod"
hostile=$NETBLK_BIN/kmod_hostile
[ -x "$hostile" ] || fail "$hostile not built"
load_modules vdpa vduse

"$hostile" >"$NETBLK_OUT/hostile.log" 2>&1 || {
	grep FAIL "$NETBLK_OUT/hostile.log" >&2 || tail -5 "$NETBLK_OUT/hostile.log" >&2
	fail "kmod_hostile found unexpected results"
}
log "$(tail -1 "$NETBLK_OUT/hostile.log")"

# The module is not left holding anything: it unloads, and loads again.
rmmod netblk_vduse || fail "rmmod netblk_vduse failed after the hostile run"
[ ! -e /dev/vduse/control ] || fail "/dev/vduse/control left behind"
load_modules vduse
"$hostile" create again0 1 || fail "create after reload failed"
"$hostile" destroy again0 || fail "destroy after reload failed"
rmmod netblk_vduse || fail "second rmmod failed"
check_dmesg_clean
log "hostile test done"
