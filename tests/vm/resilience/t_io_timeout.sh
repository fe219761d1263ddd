#!/bin/bash
# 100% injected errors with --io-timeout 5: the guest gets EIO (bounded, no
# hang); once the fault is removed the same device works again without
# being re-attached.
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"
. "$NETBLK_SRC/tests/vm/resilience/resil-lib.sh"

load_modules
start_mock n1 7001 --volume tvol:64M
start_daemon tdev --cluster 127.0.0.1:7001 --volume tvol --io-timeout 5
head -c $((1 << 20)) /dev/urandom >/tmp/data
dd if=/tmp/data of="$BLK" bs=64k oflag=direct status=none || fail "write before the fault failed"

mock_ctl n1 error-rate all 100 >/dev/null
start=$(date +%s)
if timeout 60 dd if="$BLK" of=/dev/null bs=4k count=1 skip=100 iflag=direct 2>/tmp/dd.err; then
	fail "a read succeeded with 100% injected errors"
fi
took=$(( $(date +%s) - start ))
grep -q 'Input/output error' /tmp/dd.err || fail "dd did not see EIO: $(cat /tmp/dd.err)"
log "with 100% errors the read failed with EIO after ${took} s ($(mock_stat n1 errors_injected) errors injected)"

mock_ctl n1 reset >/dev/null
dd if="$BLK" of=/tmp/back bs=64k count=16 iflag=direct status=none || fail "the device did not recover after the fault was removed"
cmp /tmp/data /tmp/back || fail "data read after recovery differs"
log "after 'reset' the same device reads the data written before the fault"
stop_daemon TERM
check_dmesg_clean
