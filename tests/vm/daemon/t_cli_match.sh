#!/bin/bash
# What is written through the disk is what netblk-cli export reads from the
# cluster, and what netblk-cli import writes is what the disk reads.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

load_modules
start_mock n1 7001 --volume xvol:64M
start_daemon xdev --cluster 127.0.0.1:7001 --volume xvol

head -c $((64 << 20)) /dev/urandom >/tmp/a
dd if=/tmp/a of="$BLK" bs=1M oflag=direct status=none || fail "writing through $BLK failed"
cli --cluster 127.0.0.1:7001 --volume xvol export /tmp/a.out >/dev/null || fail "netblk-cli export failed"
cmp /tmp/a /tmp/a.out || fail "netblk-cli export differs from what was written through $BLK"
log "64 MiB written through $BLK = netblk-cli export"

# While the daemon holds the volume's writer lock, a writing netblk-cli
# is refused and told who holds it; after a clean stop (which releases
# the lock) it writes, and a new daemon's disk reads what it wrote.
head -c $((64 << 20)) /dev/urandom >/tmp/b
if cli --cluster 127.0.0.1:7001 --volume xvol import /tmp/b >/dev/null 2>/tmp/import.err; then
	fail "netblk-cli import was not refused while the daemon holds the volume"
fi
grep -q "locked by 'xdev@" /tmp/import.err ||
	fail "the refusal does not name the daemon: $(cat /tmp/import.err)"
log "import refused while attached: $(grep -o "locked by 'xdev@[^']*'" /tmp/import.err | head -1)"
stop_daemon TERM
cli --cluster 127.0.0.1:7001 --volume xvol import /tmp/b >/dev/null || fail "netblk-cli import failed"
start_daemon xdev --cluster 127.0.0.1:7001 --volume xvol
dd if="$BLK" of=/tmp/b.out bs=1M iflag=direct status=none || fail "reading $BLK failed"
cmp /tmp/b /tmp/b.out || fail "$BLK differs from what netblk-cli import wrote"
log "64 MiB imported with netblk-cli = read through $BLK"
stop_daemon TERM
check_dmesg_clean
