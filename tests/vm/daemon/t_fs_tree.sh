#!/bin/bash
# A file system on a vduse-netblk disk survives detach and re-attach:
# attach, mkfs.ext4, mount, write a tree of files, unmount, detach (daemon
# stopped with SIGTERM), re-attach with a new daemon, e2fsck -fn clean,
# every file's checksum identical.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

load_modules
start_mock n1 7001 --volume fsvol:256M
start_daemon fsdev --cluster 127.0.0.1:7001 --volume fsvol
[ "$(blockdev --getsize64 "$BLK")" = $((256 << 20)) ] ||
	fail "$BLK has $(blockdev --getsize64 "$BLK") bytes, the volume 256 MiB"

mkfs.ext4 -q -F "$BLK" || fail "mkfs.ext4 $BLK failed"
mkdir -p /tmp/mnt
mount "$BLK" /tmp/mnt || fail "mount $BLK failed"
on_exit 'umount /tmp/mnt 2>/dev/null'
for d in a a/b a/b/c d e; do mkdir -p "/tmp/mnt/$d"; done
for i in $(seq 1 40); do
	head -c $(( (i * 7919) % 300000 + 1 )) /dev/urandom >"/tmp/mnt/a/small$i"
done
for i in 1 2 3; do head -c $((i * 3 << 20)) /dev/urandom >"/tmp/mnt/a/b/c/big$i"; done
seq 1 200000 >/tmp/mnt/d/numbers
ln -s ../d/numbers /tmp/mnt/e/link
(cd /tmp/mnt && find . -type f | sort | xargs sha256sum) >/tmp/sums
umount /tmp/mnt
log "wrote $(wc -l </tmp/sums) files"

stop_daemon TERM
[ -e /sys/bus/vdpa/devices/fsdev ] && fail "vDPA device still there after SIGTERM"
[ -e /dev/vduse/fsdev ] && fail "VDUSE device still there after SIGTERM"

start_daemon fsdev --cluster 127.0.0.1:7001 --volume fsvol
e2fsck -fn "$BLK" >"$NETBLK_OUT/e2fsck.txt" 2>&1 ||
	fail "e2fsck -fn found problems: $(tail -5 "$NETBLK_OUT/e2fsck.txt")"
mount "$BLK" /tmp/mnt || fail "mount after re-attach failed"
(cd /tmp/mnt && sha256sum --quiet -c /tmp/sums) || fail "file contents differ after re-attach"
[ "$(readlink /tmp/mnt/e/link)" = ../d/numbers ] || fail "symlink lost"
umount /tmp/mnt
log "$(wc -l </tmp/sums) files identical after detach/re-attach, e2fsck clean"
stop_daemon TERM
check_dmesg_clean
