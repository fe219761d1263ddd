#!/bin/bash
# The data-safety cases of issue #15 D in one VM boot, each in turn, as
# its own process (its own cleanup); one PASS/FAIL/SKIP line per case and
# a summary; exit 1 if a case failed, 77 if every case skipped, else 0.
#
#   t_data_safety.sh [CASE...]        the cases given, default all, in order
#   t_data_safety.sh --case CASE      one case, in this process (used above)
#
# Cases:
#   fsync_deadline  A file node holding writes acknowledged without FLUSH
#                   is killed for good (kill -9). With --io-timeout 5, a
#                   buffered write + fsync and then a bare fsync (a lone
#                   FLUSH) of the disk fail with EIO within the deadline
#                   (+ 10 s margin: TCG on a loaded host; 8 s was seen); the
#                   daemon logs the FLUSH failure.
#   power_cut       The power cut. A file node's directory is on ext4 over a
#                   device-mapper device over a RAM disk (brd). Method:
#                   write OLD data (8 MiB) through the disk and FLUSH it
#                   (fsync of the disk: the node runs fdatasync); then write
#                   NEW data over half of it and 8 MiB more without FLUSH
#                   (the node holds it in its page cache). The cut: the dm
#                   table becomes dm-flakey with drop_writes for ever, so
#                   nothing written from then on reaches the RAM disk; the
#                   node is killed (kill -9), the file system unmounted
#                   (what it writes back is dropped) and, like a machine
#                   losing power, everything not on the RAM disk at the cut
#                   is gone. Then the table goes back to linear, caches are
#                   dropped, the file system is mounted (journal replay),
#                   the node restarted. Every 4 KiB block the FLUSH covered
#                   must read back OLD; the unflushed ones OLD or NEW. Dirty
#                   page expiry is raised so the kernel does not write the
#                   unflushed data back by itself before the cut; the case
#                   fails if the cut lost nothing (it would have tested
#                   nothing).
#   takeover_flush  Two file nodes owning different chunks (no group). Writes
#                   without FLUSH to both, kill -9 of the daemon, a new
#                   daemon takes the device over; a FLUSH (fsync of the disk)
#                   then reaches both nodes: their flush counts grow.
#   rados_kill      Two netblk-nodes (rados backend) on one pool of a Ceph
#                   cluster started in the guest, one store group in the
#                   map; ext4 on the disk, fio write+verify (crc32c) with
#                   fsyncs on a file; kill -9 of one node (picked at random)
#                   in the middle: no fio error, no guest I/O error, and a
#                   second verify pass after a remount reads every block.
#                   Needs ceph-mon on the host and netblk-node's rados
#                   backend.
#   two_writers     Writer lock and fencing on a file node: a second daemon
#                   on the same volume is refused naming the holder; with
#                   --break-lock it takes over; the first daemon's later
#                   writes fail with EIO and none of them is in the volume
#                   (read through the second disk). Needs the writer lock in
#                   netblk-node and --break-lock in vduse-netblk.
# A case whose prerequisites are missing prints SKIP and the reason.
# Ceph (tests/ceph/ceph-cluster.sh, memstore) is started once, before the
# first case that needs it, under the host name netblk-vm (the guest's
# default "(none)" breaks the OSD's CRUSH location).
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

ALL_CASES=(fsync_deadline power_cut takeover_flush rados_kill two_writers)
CEPH_DIR=/tmp/ceph
SELF=$(realpath "${BASH_SOURCE[0]}")

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# block_sums FILE: the md5 of each 4 KiB block of FILE, one a line.
block_sums() {
	local d
	d=$(mktemp -d)
	split -b 4096 -a 5 -d "$1" "$d/b"
	(cd "$d" && md5sum b* | cut -d' ' -f1)
	rm -rf "$d"
}

# ---- fsync_deadline -------------------------------------------------------

case_fsync_deadline() {
	local deadline=5 margin=10 t0 took writes err
	mkdir -p /tmp/c1
	start_node c1node 9101 --dir /tmp/c1 --allow-create --threads 1
	cli --cluster 127.0.0.1:9101 --volume v1 create 64M >/dev/null || fail "create v1 failed"
	start_daemon c1dev --cluster 127.0.0.1:9101 --volume v1 --io-timeout "$deadline"
	head -c 4M /dev/urandom >/tmp/c1.data
	dd if=/tmp/c1.data of="$BLK" bs=64k oflag=direct status=none || fail "write to $BLK failed"
	writes=$(node_stat c1node writes)
	[ "${writes:-0}" -gt 0 ] || fail "the node saw no write"
	kill -9 "${NODE_PIDS[c1node]}"
	wait "${NODE_PIDS[c1node]}" 2>/dev/null || true
	log "node holding $writes unflushed writes killed for good"

	t0=$(date +%s%N)
	if timeout 120 dd if=/tmp/c1.data of="$BLK" bs=64k count=16 seek=128 conv=fsync \
		status=none 2>/tmp/c1.err; then
		fail "a buffered write + fsync succeeded with the node gone"
	fi
	took=$(ms_since "$t0")
	grep -q 'Input/output error' /tmp/c1.err || fail "dd did not fail with EIO: $(cat /tmp/c1.err)"
	[ "$took" -le $(( (deadline + margin) * 1000 )) ] ||
		fail "write + fsync failed only after $(secs "$took") s (deadline $deadline s)"
	log "buffered write + fsync: EIO after $(secs "$took") s (deadline $deadline s)"

	t0=$(date +%s%N)
	if timeout 120 sync "$BLK" 2>/tmp/c1.err; then
		fail "fsync (a lone FLUSH) succeeded with the node gone"
	fi
	took=$(ms_since "$t0")
	err=$(cat /tmp/c1.err)
	grep -q 'Input/output error' <<<"$err" || fail "fsync did not fail with EIO: $err"
	[ "$took" -le $(( (deadline + margin) * 1000 )) ] ||
		fail "fsync failed only after $(secs "$took") s (deadline $deadline s)"
	grep -q 'FLUSH failed' "$NETBLK_OUT/c1dev.log" ||
		fail "the daemon did not log the FLUSH failure: $(tail -5 "$NETBLK_OUT/c1dev.log")"
	log "fsync (FLUSH only): EIO after $(secs "$took") s; daemon: $(grep -m1 'FLUSH failed' "$NETBLK_OUT/c1dev.log")"
	stop_daemon TERM
}

# ---- power_cut ------------------------------------------------------------

# dm_table KIND: the table of the test's dm device over /dev/ram0.
dm_table() {
	local sectors
	sectors=$(blockdev --getsz /dev/ram0)
	case $1 in
	linear) echo "0 $sectors linear /dev/ram0 0" ;;
	# up 0 s, down for an hour: every write is dropped, reads pass
	cut) echo "0 $sectors flakey /dev/ram0 0 0 3600 1 drop_writes" ;;
	esac
}

# dm_switch KIND: load the table and swap it in. --nolockfs: do not freeze
# (and so sync) the file system on it, which would write back what the cut
# must lose.
dm_switch() {
	dmsetup load nbflk --table "$(dm_table "$1")" || fail "dmsetup load $1 failed"
	dmsetup suspend --nolockfs nbflk || fail "dmsetup suspend failed"
	dmsetup resume nbflk || fail "dmsetup resume failed"
}

case_power_cut() {
	local dm mnt=/tmp/c2 args expire old_n new_n bad
	command -v dmsetup >/dev/null || skip "dmsetup is not installed on the host (tests/vm/fetch.sh installs it)"
	# one 128 MiB RAM disk (rd_size is in KiB)
	modprobe -d "$NETBLK_MODDIR" brd rd_nr=1 rd_size=131072 || fail "modprobe brd failed"
	for m in dm_mod dm_flakey ext4; do
		modprobe -d "$NETBLK_MODDIR" "$m" || fail "modprobe $m failed"
	done
	wait_for /dev/ram0 10
	dmsetup create --noudevsync nbflk --table "$(dm_table linear)" || fail "dmsetup create failed"
	on_exit "umount $mnt 2>/dev/null; dmsetup remove --noudevsync nbflk 2>/dev/null"
	dm=/dev/$(dmsetup info -c --noheadings -o blkdevname nbflk | tr -d ' ')
	wait_for "$dm" 10
	mkfs.ext4 -q -F "$dm" || fail "mkfs.ext4 $dm failed"
	mkdir -p "$mnt"
	mount -t ext4 "$dm" "$mnt" || fail "mount $dm failed"
	mkdir "$mnt/vols"
	sync -f "$mnt"
	expire=$(cat /proc/sys/vm/dirty_expire_centisecs)
	echo 360000 >/proc/sys/vm/dirty_expire_centisecs
	on_exit "echo $expire >/proc/sys/vm/dirty_expire_centisecs"

	start_node c2node 9201 --dir "$mnt/vols" --allow-create --threads 1
	cli --cluster 127.0.0.1:9201 --volume v2 create 32M >/dev/null || fail "create v2 failed"
	args=(--cluster 127.0.0.1:9201 --volume v2)
	start_daemon c2dev "${args[@]}"
	# OLD: 8 MiB of data, then zeroes; NEW: 16 MiB of other data
	{ head -c 8M /dev/urandom; head -c 8M /dev/zero; } >/tmp/c2.old
	head -c 16M /dev/urandom >/tmp/c2.new

	dd if=/tmp/c2.old of="$BLK" bs=64k count=128 oflag=direct status=none || fail "writing OLD failed"
	sync "$BLK" || fail "FLUSH after OLD failed"
	log "OLD [0, 8M) written and flushed: node: $(node_stats c2node)"
	dd if=/tmp/c2.new of="$BLK" bs=64k skip=64 seek=64 count=192 oflag=direct status=none ||
		fail "writing NEW failed"
	log "NEW [4M, 16M) written without FLUSH: node: $(node_stats c2node)"

	dm_switch cut
	kill -9 "${NODE_PIDS[c2node]}"
	wait "${NODE_PIDS[c2node]}" 2>/dev/null || true
	umount "$mnt" || fail "umount after the cut failed"
	dm_switch linear
	echo 3 >/proc/sys/vm/drop_caches
	mount -t ext4 "$dm" "$mnt" || fail "mount after the cut failed: $(dmesg | tail -n 5)"
	log "power cut: writes dropped from the cut on, node killed, file system remounted"

	start_node c2node 9201 --dir "$mnt/vols" --threads 1
	dd if="$BLK" of=/tmp/c2.back bs=64k count=256 iflag=direct status=none ||
		fail "reading back after the restart failed"
	block_sums /tmp/c2.old >/tmp/c2.old.sums
	block_sums /tmp/c2.new >/tmp/c2.new.sums
	block_sums /tmp/c2.back >/tmp/c2.back.sums
	# blocks 0..1023: flushed, must be OLD; 1024..4095: OLD or NEW
	# (no process substitution: the guest has no /dev/fd)
	paste /tmp/c2.back.sums /tmp/c2.old.sums /tmp/c2.new.sums | awk '
		NR <= 1024 { if ($1 != $2) { bad++; if (!first) first = NR - 1 } ; next }
		$1 == $2 { old++; next }
		$1 == $3 { new++; next }
		{ bad++; if (!first) first = NR - 1 }
		END { print bad + 0, old + 0, new + 0 }' >/tmp/c2.verdict
	read -r bad old_n new_n </tmp/c2.verdict
	[ "$bad" = 0 ] || fail "$bad blocks read back wrong (flushed ones not OLD, or neither OLD nor NEW)"
	[ "$old_n" -gt 0 ] || fail "the cut lost none of the 3072 unflushed blocks: the emulation tested nothing"
	log "all 1024 flushed blocks intact; of the 3072 unflushed: $old_n old, $new_n new"
	stop_daemon TERM
}

# ---- takeover_flush -------------------------------------------------------

case_takeover_flush() {
	local dev=c3dev args map=/tmp/c3.map n before i f0a f0b f1a f1b s1a s1b
	mkdir -p /tmp/c3a /tmp/c3b
	cat >"$map" <<MAP
epoch 1
chunk_size 1M
node 127.0.0.1:9301
node 127.0.0.1:9302
chunk 0
chunk 1
MAP
	start_node c3a 9301 --dir /tmp/c3a --allow-create --map "$map" --node 127.0.0.1:9301 --threads 1
	start_node c3b 9302 --dir /tmp/c3b --allow-create --map "$map" --node 127.0.0.1:9302 --threads 1
	cli --cluster 127.0.0.1:9301,127.0.0.1:9302 --volume v3 create 32M >/dev/null ||
		fail "create v3 failed"
	args=(--cluster 127.0.0.1:9301,127.0.0.1:9302 --volume v3 --queues 2 --io-timeout 30)
	start_daemon "$dev" "${args[@]}"
	head -c 4M /dev/urandom >/tmp/c3.data
	dd if=/tmp/c3.data of="$BLK" bs=64k oflag=direct status=none || fail "write failed"
	f0a=$(node_stat c3a flushes) f0b=$(node_stat c3b flushes)
	for n in c3a c3b; do
		[ "$(node_stat $n writes)" -gt 0 ] || fail "node $n saw no write (the map gives it every other chunk)"
	done
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	[ -b "$BLK" ] || fail "$BLK went away with its daemon"
	before=$(grep -c 'took over' "$NETBLK_OUT/$dev.log" || true)
	"$DAEMON_BIN" --foreground --name "$dev" "${TLS_ARGS[@]}" "${MGMTDEV_ARGS[@]}" "${args[@]}" \
		>>"$NETBLK_OUT/$dev.log" 2>&1 </dev/null &
	DAEMON_PID=$!
	on_exit "kill $DAEMON_PID 2>/dev/null"
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -c 'took over' "$NETBLK_OUT/$dev.log" || true)" -gt "$before" ] && break
		kill -0 "$DAEMON_PID" 2>/dev/null || fail "new daemon exited: $(tail -5 "$NETBLK_OUT/$dev.log")"
		sleep 0.1
	done
	[ "$i" -lt 300 ] || fail "the new daemon did not take over within 30 s"
	f1a=$(node_stat c3a flushes) f1b=$(node_stat c3b flushes)
	log "writes without FLUSH, daemon killed (-9) and taken over; flushes so far: c3a $f0a -> $f1a, c3b $f0b -> $f1b"
	timeout 60 sync "$BLK" || fail "fsync after the takeover failed"
	s1a=$(node_stats c3a) s1b=$(node_stats c3b)
	f1a=$(tr ' ' '\n' <<<"$s1a" | sed -n 's/^flushes=//p')
	f1b=$(tr ' ' '\n' <<<"$s1b" | sed -n 's/^flushes=//p')
	[ "$f1a" -gt "$f0a" ] || fail "the FLUSH after the takeover did not reach c3a (flushes $f0a -> $f1a)"
	[ "$f1b" -gt "$f0b" ] || fail "the FLUSH after the takeover did not reach c3b (flushes $f0b -> $f1b)"
	log "fsync after the takeover: flushes c3a $f0a -> $f1a, c3b $f0b -> $f1b; fdatasyncs c3a $(tr ' ' '\n' <<<"$s1a" | sed -n 's/^fdatasyncs=//p'), c3b $(tr ' ' '\n' <<<"$s1b" | sed -n 's/^fdatasyncs=//p')"
	dd if="$BLK" of=/tmp/c3.back bs=64k count=64 iflag=direct status=none || fail "read back failed"
	cmp -s /tmp/c3.data /tmp/c3.back || fail "data read back after the takeover differs"
	stop_daemon TERM
}

# ---- rados_kill -----------------------------------------------------------

# The reason netblk-node has no usable rados backend, or nothing.
rados_node_missing() {
	local out
	make_pki
	out=$(timeout 20 "$NODE_BIN" --listen 127.0.0.1:0 --ca "$PKI/ca.crt" --cert "$PKI/server.crt" \
		--key "$PKI/server.key" --backend rados --rados-pool probe --rados-conf /dev/null 2>&1 </dev/null)
	if grep -qi 'not built' <<<"$out"; then
		echo "netblk-node: $(grep -i -m1 'not built' <<<"$out" | sed 's/^.*netblk-node[^:]*: //')"
	fi
}

prereq_rados_kill() {
	command -v ceph-mon >/dev/null ||
		{ echo "ceph-mon is not installed on the host (run tests/ceph/ceph-cluster.sh install)"; return; }
	rados_node_missing
}

case_rados_kill() {
	local map=/tmp/c4.map rados_opts victim w i rc=0 fio_args errs errs0
	[ -r "$CEPH_DIR/env" ] || fail "no Ceph cluster in $CEPH_DIR"
	# shellcheck disable=SC1091
	. "$CEPH_DIR/env"
	rados_opts=(--backend rados --rados-pool "$CEPH_POOL" --rados-conf "$CEPH_CONF"
		--rados-user "$CEPH_CLIENT_ID" --allow-create --threads 2)
	grep -q -- rados-keyring <<<"$("$NODE_BIN" --help 2>&1)" && rados_opts+=(--rados-keyring "$CEPH_CLIENT_KEYRING")
	cat >"$map" <<MAP
epoch 1
chunk_size 1M
node 127.0.0.1:9401 group 1
node 127.0.0.1:9402 group 1
chunk 0 1
chunk 1 0
MAP
	start_node c4a 9401 "${rados_opts[@]}" --map "$map" --node 127.0.0.1:9401
	start_node c4b 9402 "${rados_opts[@]}" --map "$map" --node 127.0.0.1:9402
	cli --cluster 127.0.0.1:9401 --volume v4 create 128M >/dev/null || fail "create v4 failed"
	start_daemon c4dev --cluster 127.0.0.1:9401,127.0.0.1:9402 --volume v4 --queues 2 --io-timeout 60
	# earlier cases' disks had the same name and their own I/O errors
	errs0=$(dmesg | grep -c "I/O error, dev ${BLK#/dev/}" || true)
	mkfs.ext4 -q -F "$BLK" || fail "mkfs.ext4 $BLK failed"
	mkdir -p /tmp/c4m
	mount -t ext4 "$BLK" /tmp/c4m || fail "mount $BLK failed"
	on_exit "umount /tmp/c4m 2>/dev/null"
	fio_args=(--eta=never --name=c4 --filename=/tmp/c4m/f --size=16M --rw=randwrite --bs=16k
		--direct=1 --ioengine=libaio --iodepth=8 --fsync=16 --verify=crc32c --verify_fatal=1)
	fio "${fio_args[@]}" --do_verify=1 --output="$NETBLK_OUT/fio-c4.txt" >/dev/null 2>&1 &
	FIO_PID=$!
	on_exit "kill $FIO_PID 2>/dev/null"
	for ((i = 0; i < 600; i++)); do
		w=$(( $(node_stat c4a writes) + $(node_stat c4b writes) ))
		[ "$w" -gt 300 ] && break
		kill -0 "$FIO_PID" 2>/dev/null || fail "fio ended before the kill: $(tail -n 20 "$NETBLK_OUT/fio-c4.txt")"
		sleep 1
	done
	victim=c4a
	[ $((RANDOM % 2)) = 0 ] || victim=c4b
	kill -9 "${NODE_PIDS[$victim]}"
	wait "${NODE_PIDS[$victim]}" 2>/dev/null || true
	log "killed node $victim (-9) after $w writes to the pool"
	wait "$FIO_PID" || rc=$?
	[ "$rc" = 0 ] || fail "fio exited $rc: $(grep -iE 'err|verify' "$NETBLK_OUT/fio-c4.txt" | head -5)"
	grep -q 'err= 0' "$NETBLK_OUT/fio-c4.txt" || fail "fio reported errors: $(grep 'err=' "$NETBLK_OUT/fio-c4.txt")"
	log "fio write+verify across the kill: $(grep -E '^ +(write|read):' "$NETBLK_OUT/fio-c4.txt" | tr -s ' ' | paste -sd';'), 0 errors"
	umount /tmp/c4m
	echo 3 >/proc/sys/vm/drop_caches
	mount -t ext4 "$BLK" /tmp/c4m || fail "remount failed"
	fio "${fio_args[@]}" --verify_only --output="$NETBLK_OUT/fio-c4-verify.txt" >/dev/null 2>&1 ||
		fail "second verify pass failed: $(grep -iE 'err|verify' "$NETBLK_OUT/fio-c4-verify.txt" | head -5)"
	grep -q 'err= 0' "$NETBLK_OUT/fio-c4-verify.txt" ||
		fail "second verify pass reported errors: $(grep 'err=' "$NETBLK_OUT/fio-c4-verify.txt")"
	errs=$(( $(dmesg | grep -c "I/O error, dev ${BLK#/dev/}" || true) - errs0 ))
	[ "$errs" = 0 ] || fail "the guest logged $errs I/O errors: $(dmesg | grep "I/O error, dev ${BLK#/dev/}" | tail -n "$errs")"
	log "after a remount every block of the 16M file verified again through the surviving node"
	umount /tmp/c4m
	stop_daemon TERM
}

# ---- two_writers ----------------------------------------------------------

prereq_two_writers() {
	local help
	# (the whole text first: under pipefail, grep -q closing the pipe early
	# would fail the pipeline with SIGPIPE)
	help=$("$DAEMON_BIN" --help 2>&1)
	grep -q -- --break-lock <<<"$help" ||
		{ echo "vduse-netblk has no --break-lock (client side of the writer lock, branch clilock, is not on main)"; return; }
	help=$("$NODE_BIN" --help 2>&1)
	grep -qi fenced <<<"$help" ||
		echo "netblk-node has no writer lock (branch srvlock is not on main)"
}

case_two_writers() {
	local args blk1 pid1 rc=0 out marker_off=$((2 << 20))
	mkdir -p /tmp/c5
	start_node c5node 9501 --dir /tmp/c5 --allow-create --threads 1
	cli --cluster 127.0.0.1:9501 --volume v5 create 32M >/dev/null || fail "create v5 failed"
	args=(--cluster 127.0.0.1:9501 --volume v5 --io-timeout 30)
	start_daemon w1 "${args[@]}"
	blk1=$BLK pid1=$DAEMON_PID
	head -c 1M /dev/urandom >/tmp/c5.first
	dd if=/tmp/c5.first of="$blk1" bs=64k oflag=direct status=none || fail "first writer's write failed"
	sync "$blk1" || fail "first writer's FLUSH failed"

	timeout 60 "$DAEMON_BIN" --foreground --name w2 "${TLS_ARGS[@]}" "${MGMTDEV_ARGS[@]}" "${args[@]}" \
		>"$NETBLK_OUT/w2-refused.log" 2>&1 </dev/null || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] ||
		fail "a second writer was not refused (exit $rc): $(tail -5 "$NETBLK_OUT/w2-refused.log")"
	grep -q "w1@" "$NETBLK_OUT/w2-refused.log" ||
		fail "the refusal does not name the holder w1@...: $(tail -5 "$NETBLK_OUT/w2-refused.log")"
	log "second writer refused: $(grep -m1 'w1@' "$NETBLK_OUT/w2-refused.log")"

	start_daemon w2 "${args[@]}" --break-lock
	log "second writer took the lock with --break-lock: $BLK"
	head -c 1M /dev/urandom | tr '\0' '\1' >/tmp/c5.marker
	if timeout 60 dd if=/tmp/c5.marker of="$blk1" bs=64k seek=$((marker_off / 65536)) \
		oflag=direct status=none 2>/tmp/c5.err; then
		fail "the first writer's write after the break succeeded"
	fi
	grep -q 'Input/output error' /tmp/c5.err || fail "the fenced write did not fail with EIO: $(cat /tmp/c5.err)"
	timeout 60 sync "$blk1" 2>/dev/null && fail "the first writer's FLUSH after the break succeeded"
	grep -q 'writer lock lost' "$NETBLK_OUT/w1.log" || fail "the first daemon did not log that it was fenced"
	log "first writer fenced: $(grep -m1 'writer lock lost' "$NETBLK_OUT/w1.log")"

	dd if="$BLK" of=/tmp/c5.back bs=64k count=16 skip=$((marker_off / 65536)) iflag=direct status=none ||
		fail "reading through the second disk failed"
	cmp -s /tmp/c5.back /tmp/c5.marker && fail "the fenced writer's marker is in the volume"
	cmp -s -n 4096 /tmp/c5.back /tmp/c5.marker &&
		fail "the first block of the fenced writer's marker is in the volume"
	dd if="$BLK" of=/tmp/c5.back bs=64k count=16 iflag=direct status=none || fail "read of the old data failed"
	cmp -s /tmp/c5.back /tmp/c5.first || fail "the data written before the break is not in the volume"
	log "the volume holds the data from before the break and none of the fenced writer's marker"
	DAEMON_PID=$pid1
	kill -TERM "$pid1" 2>/dev/null
	wait "$pid1" 2>/dev/null || true
}

# ---- the runner -----------------------------------------------------------

case_needs_ceph() { [ "$1" = rados_kill ]; }

ceph_start() {
	local t0 rc=0
	[ -r "$CEPH_DIR/env" ] && return 0
	t0=$(date +%s%N)
	timeout 600 "$NETBLK_SRC/tests/ceph/ceph-cluster.sh" start "$CEPH_DIR" --no-install \
		--memstore-mb 512 --timeout 400 >"$NETBLK_OUT/ceph-start.log" 2>&1 || rc=$?
	CEPH_START_MS=$(ms_since "$t0")
	if [ "$rc" != 0 ]; then
		tail -n 30 "$NETBLK_OUT/ceph-start.log"
		echo "ceph-cluster.sh start exited $rc after $(secs "$CEPH_START_MS") s (log: $NETBLK_OUT/ceph-start.log)"
		return 1
	fi
	log "Ceph cluster (1 mon, 1 osd, memstore) ready in $(secs "$CEPH_START_MS") s"
	on_exit "timeout 60 $NETBLK_SRC/tests/ceph/ceph-cluster.sh stop $CEPH_DIR >/dev/null 2>&1"
}

if [ "${1:-}" = --case ]; then
	declare -F "case_$2" >/dev/null || fail "no case $2"
	"case_$2"
	exit 0
fi

cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=("${ALL_CASES[@]}")
for c in "${cases[@]}"; do
	declare -F "case_$c" >/dev/null || fail "unknown case '$c' (cases: ${ALL_CASES[*]})"
done

hostname netblk-vm
load_modules
make_pki
t_all=$(date +%s%N)
results=()
npass=0 nfail=0 nskip=0
for c in "${cases[@]}"; do
	echo "==== case $c"
	t0=$(date +%s%N)
	why=
	rc=0
	if declare -F "prereq_$c" >/dev/null; then
		why=$("prereq_$c")
	fi
	if [ -n "$why" ]; then
		rc=77
	elif case_needs_ceph "$c" && ! ceph_start; then
		rc=1
		why="the Ceph cluster did not start (see $NETBLK_OUT/ceph-start.log)"
	fi
	if [ "$rc" = 0 ]; then
		timeout -k 10 600 bash "$SELF" --case "$c" 2>&1 | tee "$NETBLK_OUT/case-$c.log" || rc=$?
		why=$(grep -E '^(FAIL|SKIP): ' "$NETBLK_OUT/case-$c.log" | tail -n 1 | sed -E 's/^(FAIL|SKIP): //' || true)
		[ "$rc" != 124 ] || why="timed out after 600 s"
		[ -n "$why" ] || [ "$rc" = 0 ] || why=$(tail -n 1 "$NETBLK_OUT/case-$c.log")
	fi
	took=$(secs "$(ms_since "$t0")")
	case $rc in
	0) line="PASS $c (${took} s)"; npass=$((npass + 1)) ;;
	77) line="SKIP $c: $why"; nskip=$((nskip + 1)) ;;
	*) line="FAIL $c (${took} s, exit $rc): $why"; nfail=$((nfail + 1)) ;;
	esac
	echo "$line"
	results+=("$line")
done
echo "==== summary (${#cases[@]} cases in $(secs "$(ms_since "$t_all")") s${CEPH_START_MS:+; Ceph start $(secs "$CEPH_START_MS") s})"
printf '%s\n' "${results[@]}"
echo "$npass passed, $nfail failed, $nskip skipped"
check_dmesg_clean
[ "$nfail" = 0 ] || exit 1
[ "$npass" -gt 0 ] || exit 77
exit 0
