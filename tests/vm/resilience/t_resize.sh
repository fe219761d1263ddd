#!/bin/bash
# The volume grows on the node: the guest's /sys/block/vdX/size follows
# without re-attaching, and resize2fs grows a mounted ext4; files intact.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

load_modules
start_mock n1 7001 --volume gvol:128M
start_daemon gdev --cluster 127.0.0.1:7001 --volume gvol --queues 2 --resize-check 1
sys=/sys/block/${BLK#/dev/}/size
[ "$(cat $sys)" = $((128 << 11)) ] || fail "$BLK starts with $(cat $sys) sectors"
mkfs.ext4 -q -F "$BLK" && mkdir -p /tmp/mnt && mount "$BLK" /tmp/mnt || fail "mkfs/mount failed"
on_exit 'umount /tmp/mnt 2>/dev/null'
head -c $((20 << 20)) /dev/urandom >/tmp/mnt/f1
sha256sum /tmp/mnt/f1 >/tmp/sums
before=$(df -k --output=size /tmp/mnt | tail -1)

mock_ctl n1 resize gvol 512M >/dev/null || fail "resize on the node failed"
for ((i = 0; i < 300; i++)); do [ "$(cat $sys)" = $((512 << 11)) ] && break; sleep 0.1; done
[ "$(cat $sys)" = $((512 << 11)) ] || fail "$BLK still has $(cat $sys) sectors 30 s after the volume grew"
log "$BLK grew to $(cat $sys) sectors without re-attaching"
resize2fs "$BLK" >"$NETBLK_OUT/resize2fs.txt" 2>&1 || fail "resize2fs failed: $(tail -3 "$NETBLK_OUT/resize2fs.txt")"
after=$(df -k --output=size /tmp/mnt | tail -1)
[ "$after" -gt $((before * 3)) ] || fail "ext4 did not grow: $before KiB -> $after KiB"
head -c $((300 << 20)) /dev/zero >/tmp/mnt/f2 || fail "cannot use the new space"
sync
sha256sum -c --quiet /tmp/sums || fail "f1 changed"
log "mounted ext4 grew from $before to $after KiB and holds a 300 MiB file"
umount /tmp/mnt
grep -q 'volume resized from 134217728 to 536870912' "$NETBLK_OUT/gdev.log" || fail "the daemon did not log the resize"
stop_daemon TERM
check_dmesg_clean
