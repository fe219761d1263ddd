# resil-lib.sh - fio under faults, for the resilience VM tests (source
# after netblk-lib.sh).
#
#   fio_verify_bg NAME SIZE [FIO-ARGS...]   start fio write+verify (crc32c)
#                                           in the background on $BLK
#   fio_verify_wait NAME                    wait for it; fail unless it ended
#                                           with no I/O and no verify error
fio_verify_bg() {
	local name=$1 size=$2
	shift 2
	fio --eta=never --name="$name" --filename="$BLK" --direct=1 --ioengine=libaio \
		--rw=randwrite --bs=4k --iodepth=32 --size="$size" \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 \
		"$@" --output="$NETBLK_OUT/fio-$name.txt" >/dev/null 2>&1 &
	FIO_PID=$!
	on_exit "kill $FIO_PID 2>/dev/null"
}

fio_verify_wait() {
	local name=$1 rc=0
	wait "$FIO_PID" || rc=$?
	[ $rc -eq 0 ] || fail "fio $name exited $rc: $(grep -iE 'err|verify' "$NETBLK_OUT/fio-$name.txt" | head -5)"
	grep -q 'err= 0' "$NETBLK_OUT/fio-$name.txt" ||
		fail "fio $name reported errors: $(grep 'err=' "$NETBLK_OUT/fio-$name.txt")"
	log "fio $name: $(grep -E '^ +(write|read):' "$NETBLK_OUT/fio-$name.txt" | tr -s ' ' | paste -sd';'), 0 errors"
}

# guest_io_errors: I/O errors the kernel logged for $BLK
guest_io_errors() {
	dmesg | grep -c "I/O error, dev ${BLK#/dev/}" || true
}

# two_nodes VOL SIZE: nodes n1 (127.0.0.1:7001, preferred) and n2
# (127.0.0.1:7002) serving volume VOL from one shared file, as two paths
# to one disk (one store group, so the client may fail over between
# them); every chunk lists n1 then n2.
two_nodes() {
	local vol=$1:$2:/tmp/shared.img
	truncate -s "$2" /tmp/shared.img
	cat >/tmp/cluster.map <<MAP
epoch 1
chunk_size 1M
node 127.0.0.1:7001 group 1
node 127.0.0.1:7002 group 1
chunk 0 1
MAP
	start_mock n1 7001 --volume "$vol" --map /tmp/cluster.map --node 127.0.0.1:7001
	start_mock n2 7002 --volume "$vol" --map /tmp/cluster.map --node 127.0.0.1:7002
	TWO_NODES_VOL=$vol
}
