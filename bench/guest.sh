#!/bin/bash
# bench/guest.sh - the in-VM part of bench/run.sh (issue #6): the same fio
# jobs against each block device stack in turn, in one boot.
#
#   run by tests/vm/run-in-vm.sh:  guest.sh          all rows
#                                  guest.sh row ID   one row (used internally)
#
# Rows (IDs):
#   brd          brd RAM disk; the kernel alone
#   qsd-null     qemu-storage-daemon --export vduse-blk over a null-co node
#   qsd-nbd-tls  qemu-storage-daemon --export vduse-blk over QEMU's NBD client
#                with tls-creds-x509 to nbdkit --tls=require memory
#   knbd         kernel NBD client (nbd-client) to nbdkit memory, no TLS
#   netblk-1q    vduse-netblk --queues 1 to netblk-server-mock (TLS 1.3)
#   netblk-2q    the same with --queues 2
# Ceph rows (issue #15 E), all on one Ceph cluster started once in this
# guest, before the first of them (tests/ceph/ceph-cluster.sh: one
# monitor, one memstore OSD, pool "netblk"), each on its own 256 MiB image
# or volume in that one pool:
#   ceph-qsd-rbd qemu-storage-daemon --export vduse-blk over QEMU's rbd
#                driver (librbd; cache.direct=on, so librbd's cache is off)
#   ceph-krbd    the kernel rbd client (rbd.ko; mapped through sysfs)
#   ceph-netblk  vduse-netblk --queues 1 to one netblk-node with the rados
#                backend (TLS 1.3)
# The RBD images have only the layering feature (no exclusive lock or
# object map, which would add RADOS ops that vduse-netblk does not do) and
# 4 MiB objects, as netblk-node's volumes.
# Jobs (IDs): randread-4k-qd1 randwrite-4k-qd1 randread-4k-qd32
#   randwrite-4k-qd32 read-128k-qd8 write-128k-qd8; fio --direct=1
#   --ioengine=libaio, one job, each run as a warm-up of RAMP seconds (not
#   counted) then a measured run of RUNTIME seconds; the write jobs first,
#   so that the reads find written data. One fio run per row.
#
# "daemon" is the user-space process that serves the VDUSE device (qsd in
# rows 2 and 3, vduse-netblk in row 5; none in rows 1 and 4, where the
# kernel does the work); "server" is the storage end (nbdkit in rows 3 and
# 4, netblk-server-mock in row 5). Their CPU time (utime+stime of the whole
# process, all threads, from /proc/PID/stat) is sampled just before and just
# after each measured fio run.
#
# Environment (from run.sh): NETBLK_BENCH_RUNTIME (s, default 10),
# NETBLK_BENCH_RAMP (s, default 2), NETBLK_BENCH_ROWS (space-separated IDs,
# default all), NETBLK_BENCH_DEV_MB (device size, default 256),
# NETBLK_BENCH_REGION_MB (fio region, default 64), NETBLK_BENCH_ROUNDS
# (default 1: the rows run in turn this many times, so that a slow minute
# of the host falls on every row; the report takes the median).
#
# Results under $NETBLK_OUT/results, written as they come (a VM timeout
# keeps the rows done): info.txt, openssl.txt, copy.txt; for round 1 (and
# in rK/ for round K > 1): ROW/status ("ok" or "failed: REASON");
# ROW/fio.json (all jobs of the row), ROW/JOB.cpu (the raw stat lines and
# times before and after the job), ROW/mem (VmHWM/VmRSS after the jobs),
# ROW/info (clock ticks per second); ROW.log; progress.txt.
# Each row runs as its own process under timeout(1) and is cleaned up
# after, whatever happened, before the next one starts.
# shellcheck source=tests/vm/guest-lib.sh
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
# shellcheck source=tests/vm/netblk-lib.sh
. "$NETBLK_SRC/tests/vm/netblk-lib.sh"

RUNTIME=${NETBLK_BENCH_RUNTIME:-10}
RAMP=${NETBLK_BENCH_RAMP:-2}
DEV_MB=${NETBLK_BENCH_DEV_MB:-256}
REGION_MB=${NETBLK_BENCH_REGION_MB:-64}
ROUNDS=${NETBLK_BENCH_ROUNDS:-1}
# The default rows (run.sh adds the Ceph rows with --ceph).
ALL_ROWS="brd qsd-null qsd-nbd-tls knbd netblk-1q netblk-2q"
ROWS=${NETBLK_BENCH_ROWS:-$ALL_ROWS}
# Write jobs first, so that the read jobs find written data in the region.
JOBS="write-128k-qd8 randwrite-4k-qd32 randwrite-4k-qd1 read-128k-qd8 randread-4k-qd32 randread-4k-qd1"
RES=$NETBLK_OUT/results
NBDKIT_TLS_PORT=10809
NBDKIT_PLAIN_PORT=10810
NBD_PKI=/tmp/nbd-pki
CLK_TCK=$(getconf CLK_TCK)
# Set by the row mode below: the row's results directory, "round K: ", K.
RD=
ROUND_TAG=
ROUND=1

for v in RUNTIME RAMP DEV_MB REGION_MB ROUNDS; do
	case ${!v} in
	'' | *[!0-9]*) fail "NETBLK_BENCH_$v='${!v}' is not a whole number" ;;
	esac
done
[ "$RUNTIME" -ge 1 ] || fail "NETBLK_BENCH_RUNTIME must be at least 1"
[ "$ROUNDS" -ge 1 ] || fail "NETBLK_BENCH_ROUNDS must be at least 1"
[ "$REGION_MB" -le "$DEV_MB" ] || fail "fio region ($REGION_MB MiB) larger than the devices ($DEV_MB MiB)"

# Set by each row's setup: the processes whose CPU time is reported.
DAEMON_PID=
SERVER_PID=
# Ceph rows: the OSD, whose CPU time is reported too.
OSD_PID=
CEPH_DIR=/tmp/ceph
CEPH_ROWS="ceph-qsd-rbd ceph-krbd ceph-netblk"

status_kb() {
	[ -n "$1" ] || return 0
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# run_jobs ROW DEV: every job against DEV, in one fio run (starting fio
# in this VM takes seconds): per job a warm-up of RAMP s, then the measured
# run, between whose exec_prerun and exec_postrun hooks the CPU time of the
# daemon and server is sampled. fio goes on to the next job after a failed
# one.
run_jobs() {
	local row=$1 dev=$2 job rw bs qd rc=0 jobfile=/tmp/$1.fio sampler=/tmp/$1-sample.sh
	# The hook: the raw /proc/PID/stat lines and the time, into ROW/JOB.cpu.
	cat >"$sampler" <<-SAMPLER
		#!/bin/sh
		{
		  echo "\$2_ns=\$(date +%s%N)"
		  [ -n "$DAEMON_PID" ] && echo "\$2_daemon_stat=\$(cat /proc/$DAEMON_PID/stat)"
		  [ -n "$SERVER_PID" ] && echo "\$2_server_stat=\$(cat /proc/$SERVER_PID/stat)"
		  [ -n "$OSD_PID" ] && echo "\$2_osd_stat=\$(cat /proc/$OSD_PID/stat)"
		  [ "\$2" = after ] && echo "loadavg=\$(cut -d' ' -f1-3 /proc/loadavg)"
		} >>"$RD/\$1.cpu" 2>/dev/null
		[ "\$2" = after ] && echo "[\$(cut -d' ' -f1 /proc/uptime)] $ROUND_TAG$row \$1 done" >>"$RES/progress.txt"
		exit 0
	SAMPLER
	chmod +x "$sampler"
	{
		echo "[global]"
		echo "filename=$dev"
		echo "direct=1"
		echo "ioengine=libaio"
		echo "numjobs=1"
		echo "size=${REGION_MB}M"
		echo "norandommap"
		echo "randrepeat=0"
		echo "time_based"
		echo "lat_percentiles=1"
		echo "stonewall"
		for job in $JOBS; do
			IFS=- read -r rw bs qd <<<"$job"
			if [ "$RAMP" -gt 0 ]; then
				printf '[warm-%s]\nrw=%s\nbs=%s\niodepth=%s\nruntime=%s\n' \
					"$job" "$rw" "$bs" "${qd#qd}" "$RAMP"
			fi
			printf '[%s]\nrw=%s\nbs=%s\niodepth=%s\nruntime=%s\n' \
				"$job" "$rw" "$bs" "${qd#qd}" "$RUNTIME"
			printf 'exec_prerun=%s %s before\nexec_postrun=%s %s after\n' \
				"$sampler" "$job" "$sampler" "$job"
		done
	} >"$jobfile"
	cp "$jobfile" "$RD/jobs.fio"
	echo "clk_tck=$CLK_TCK" >"$RD/info"
	[ -z "$OSD_PID" ] || osd_perf "$RD/osd-perf-before.json"
	fio --output-format=json --output="$RD/fio.json" "$jobfile" \
		>"$RD/fio.out" 2>&1 || rc=$?
	[ -z "$OSD_PID" ] || osd_perf "$RD/osd-perf-after.json"
	progress "$ROUND_TAG$row: fio exit $rc; $(job_summary "$RD/fio.json")"
	{
		echo "daemon_hwm_kb=$(status_kb "$DAEMON_PID" VmHWM)"
		echo "daemon_rss_kb=$(status_kb "$DAEMON_PID" VmRSS)"
		echo "server_hwm_kb=$(status_kb "$SERVER_PID" VmHWM)"
		echo "osd_hwm_kb=$(status_kb "$OSD_PID" VmHWM)"
	} >"$RD/mem"
	[ "$rc" = 0 ] || fail "fio exited with $rc: $(grep -m1 -i error "$RD/fio.out")"
}

# osd_perf FILE: the OSD's op counters (RADOS ops it served: op_r, op_w,
# ...), from its admin socket, as JSON.
osd_perf() {
	timeout 60 ceph --admin-daemon "$CEPH_DIR/run/osd.0.asok" perf dump osd >"$1" 2>/dev/null || true
}

# A line in the row's log and in results/progress.txt, which run.sh shows
# while the VM runs.
progress() {
	log "$*" | tee -a "$RES/progress.txt"
}

# IOPS (read + write) of each measured job in fio's JSON, on one line.
job_summary() {
	awk '/"jobname" :/ { gsub(/[",]/, "", $3); job = $3; order[++n] = job }
	     /"iops" :/ { gsub(",", "", $3); iops[job] += $3 }
	     END { for (i = 1; i <= n; i++) if (order[i] !~ /^warm-/) printf "%s %.0f  ", order[i], iops[order[i]] }' \
		"$1" 2>/dev/null || true
}

nbd_pki() {
	make_pki
	mkdir -p "$NBD_PKI/server" "$NBD_PKI/client"
	cp "$PKI/ca.crt" "$NBD_PKI/server/ca-cert.pem"
	cp "$PKI/server.crt" "$NBD_PKI/server/server-cert.pem"
	cp "$PKI/server.key" "$NBD_PKI/server/server-key.pem"
	cp "$PKI/ca.crt" "$NBD_PKI/client/ca-cert.pem"
	cp "$PKI/client.crt" "$NBD_PKI/client/client-cert.pem"
	cp "$PKI/client.key" "$NBD_PKI/client/client-key.pem"
}

# start_nbdkit LOG PORT [TLS-ARGS...]: nbdkit memory in the foreground of a
# background job; returns once it listens (it writes its pid file then).
start_nbdkit() {
	local name=$1 port=$2 pidfile=/tmp/$1.pid
	shift 2
	rm -f "$pidfile"
	bg_start "$name" nbdkit -f -P "$pidfile" -i 127.0.0.1 -p "$port" "$@" memory "${DEV_MB}M"
	SERVER_PID=$BG_PID
	echo "$SERVER_PID" >>"$RES/pids"
	for ((i = 0; i < 100; i++)); do
		[ -s "$pidfile" ] && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || fail "nbdkit exited at start: $(tail -3 "$NETBLK_OUT/$name.log")"
		sleep 0.1
	done
	fail "nbdkit did not listen within 10 s"
}

# start_qsd LOG VDUSE-NAME QSD-ARGS...: the daemon, then vdpa attach.
start_qsd() {
	local name=$1 dev=$2
	shift 2
	bg_start "$name" qemu-storage-daemon "$@"
	DAEMON_PID=$BG_PID
	echo "$DAEMON_PID" >>"$RES/pids"
	sleep 0.2
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "qemu-storage-daemon exited at start: $(tail -3 "$NETBLK_OUT/$name.log")"
	QSD_BLK=$(vdpa_attach "$dev" 30)
}

qsd_export() {
	echo "type=vduse-blk,id=e0,node-name=$1,name=$2,writable=on,num-queues=1,queue-size=256"
}

row_brd() {
	[ -d /sys/module/brd ] && { rmmod brd || fail "brd already loaded and busy"; }
	modprobe brd rd_nr=1 rd_size=$((DEV_MB * 1024)) max_part=0 || fail "modprobe brd failed"
	wait_for /dev/ram0 10
	run_jobs brd /dev/ram0
	rmmod brd || fail "rmmod brd failed"
}

row_qsd-null() {
	load_modules
	start_qsd qsd-null bnull \
		--blockdev "driver=null-co,node-name=null0,size=$((DEV_MB << 20)),read-zeroes=on" \
		--export "$(qsd_export null0 bnull)"
	run_jobs qsd-null "$QSD_BLK"
	vdpa_detach bnull
	bg_stop "$DAEMON_PID" || fail "qemu-storage-daemon exited with $? on SIGTERM"
}

row_qsd-nbd-tls() {
	load_modules
	nbd_pki
	start_nbdkit nbdkit-tls "$NBDKIT_TLS_PORT" --tls=require \
		--tls-certificates="$NBD_PKI/server" --tls-verify-peer
	start_qsd qsd-nbd bnbd \
		--object "tls-creds-x509,id=tls0,dir=$NBD_PKI/client,endpoint=client,verify-peer=on" \
		--blockdev "driver=nbd,node-name=nbd0,server.type=inet,server.host=127.0.0.1,server.port=$NBDKIT_TLS_PORT,tls-creds=tls0" \
		--export "$(qsd_export nbd0 bnbd)"
	run_jobs qsd-nbd-tls "$QSD_BLK"
	vdpa_detach bnbd
	bg_stop "$DAEMON_PID" || fail "qemu-storage-daemon exited with $? on SIGTERM"
	bg_stop "$SERVER_PID" || true
}

row_knbd() {
	local i
	modprobe nbd nbds_max=2 || fail "modprobe nbd failed"
	ip link set lo up
	start_nbdkit nbdkit-plain "$NBDKIT_PLAIN_PORT"
	nbd-client -N bench 127.0.0.1 "$NBDKIT_PLAIN_PORT" /dev/nbd0 -b 4096 -t 60 \
		</dev/null >>"$NETBLK_OUT/nbd-client.log" 2>&1 ||
		fail "nbd-client failed: $(tail -3 "$NETBLK_OUT/nbd-client.log")"
	for ((i = 0; i < 100; i++)); do
		[ "$(cat /sys/block/nbd0/size 2>/dev/null || echo 0)" -gt 0 ] && break
		sleep 0.1
	done
	[ "$i" -lt 100 ] || fail "/dev/nbd0 has no size 10 s after nbd-client"
	run_jobs knbd /dev/nbd0
	nbd-client -d /dev/nbd0 >>"$NETBLK_OUT/nbd-client.log" 2>&1 || fail "nbd-client -d failed"
	bg_stop "$SERVER_PID" || true
}

row_netblk() {
	local row=$1 queues=$2
	load_modules
	start_mock node1 7001 --volume "bench:${DEV_MB}M"
	SERVER_PID=${MOCK_PIDS[node1]}
	echo "$SERVER_PID" >>"$RES/pids"
	# Info level: the daemon logs its measured cipher-suite order and
	# each connection's suite (no per-request messages).
	start_daemon "nb${queues}q" --cluster 127.0.0.1:7001 --volume bench \
		--queues "$queues" --queue-size 256 --log-level info
	echo "$DAEMON_PID" >>"$RES/pids"
	run_jobs "$row" "$BLK"
	stop_daemon TERM
	stop_mock node1
	# The TLS suite used, for the report's header.
	{
		echo "suite=$(sed -n 's/.*: TLS up (TLSv1\.3, \([A-Z0-9_]*\)).*/\1/p' \
			"$NETBLK_OUT/nb${queues}q.log" | sort -u | paste -sd,)"
		echo "order=$(sed -n 's/.*fastest on this CPU first: //p' \
			"$NETBLK_OUT/nb${queues}q.log" | head -1)"
	} >"$RD/tls.txt"
}

row_netblk-1q() { row_netblk netblk-1q 1; }
row_netblk-2q() { row_netblk netblk-2q 2; }

# ---- Ceph rows ---------------------------------------------------------

# The cluster's env (CEPH_CONF, CEPH_POOL, CEPH_CLIENT_ID, keyrings) and
# the OSD's pid, in a row's process.
ceph_env() {
	[ -r "$CEPH_DIR/env" ] || fail "no Ceph cluster in $CEPH_DIR (it did not start: see ceph-start.log)"
	# shellcheck disable=SC1091
	. "$CEPH_DIR/env"
	OSD_PID=$(cat "$CEPH_DIR/run/osd.0.pid" 2>/dev/null)
	kill -0 "$OSD_PID" 2>/dev/null || fail "the Ceph OSD is not running (pid file $CEPH_DIR/run/osd.0.pid)"
}

# rbd_image NAME: a new RBD image of DEV_MB MiB in the pool, layering
# only (NAME-rK in round K: each round writes a fresh image).
rbd_image() {
	timeout 120 rbd --conf "$CEPH_CONF" --id "$CEPH_CLIENT_ID" create "$CEPH_POOL/$1-r$ROUND" \
		--size "${DEV_MB}M" --image-feature layering --object-size 4M \
		>>"$NETBLK_OUT/rbd.log" 2>&1 || fail "rbd create $1-r$ROUND failed: $(tail -3 "$NETBLK_OUT/rbd.log")"
}

# rbd_image_rm NAME: remove it after the row, so that the OSD's memory
# (memstore) holds one row's data at a time.
rbd_image_rm() {
	timeout 300 rbd --conf "$CEPH_CONF" --id "$CEPH_CLIENT_ID" rm --no-progress "$CEPH_POOL/$1-r$ROUND" \
		>>"$NETBLK_OUT/rbd.log" 2>&1 || log "rbd rm $1-r$ROUND failed (ignored)"
}

row_ceph-qsd-rbd() {
	ceph_env
	load_modules
	rbd_image bench-qsd
	start_qsd ceph-qsd-rbd brbd \
		--blockdev "driver=rbd,node-name=rbd0,pool=$CEPH_POOL,image=bench-qsd-r$ROUND,conf=$CEPH_CONF,user=$CEPH_CLIENT_ID,cache.direct=on" \
		--export "$(qsd_export rbd0 brbd)"
	run_jobs ceph-qsd-rbd "$QSD_BLK"
	vdpa_detach brbd
	bg_stop "$DAEMON_PID" || fail "qemu-storage-daemon exited with $? on SIGTERM"
	rbd_image_rm bench-qsd
}

row_ceph-krbd() {
	local mon key id d add=/sys/bus/rbd/add_single_major
	ceph_env
	rbd_image bench-krbd
	modprobe -d "$NETBLK_MODDIR" rbd || fail "modprobe rbd failed (kernel $(uname -r))"
	[ -e "$add" ] || add=/sys/bus/rbd/add
	# The monitor's msgr v1 address, from "mon host = [v2:A:P,v1:A:P]".
	mon=$(sed -n 's/^mon host = .*v1:\([0-9.]*:[0-9]*\).*/\1/p' "$CEPH_CONF")
	[ -n "$mon" ] || fail "no v1 monitor address in $CEPH_CONF"
	key=$(ceph-authtool -p -n "client.$CEPH_CLIENT_ID" "$CEPH_CLIENT_KEYRING") ||
		fail "no key of client.$CEPH_CLIENT_ID in $CEPH_CLIENT_KEYRING"
	echo "$mon name=$CEPH_CLIENT_ID,secret=$key $CEPH_POOL bench-krbd-r$ROUND" >"$add" ||
		fail "mapping the image through $add failed: $(dmesg | grep -E 'rbd|libceph' | tail -3)"
	id=
	for d in /sys/bus/rbd/devices/*; do
		[ -e "$d" ] && id=${d##*/}
	done
	[ -n "$id" ] || fail "no rbd device after the map"
	wait_for "/dev/rbd$id" 10
	run_jobs ceph-krbd "/dev/rbd$id"
	if [ -e /sys/bus/rbd/remove_single_major ]; then
		echo "$id" >/sys/bus/rbd/remove_single_major
	else
		echo "$id" >/sys/bus/rbd/remove
	fi || fail "unmapping rbd$id failed"
	rbd_image_rm bench-krbd
}

row_ceph-netblk() {
	local opts
	ceph_env
	load_modules
	opts=(--backend rados --rados-pool "$CEPH_POOL" --rados-conf "$CEPH_CONF"
		--rados-user "$CEPH_CLIENT_ID" --rados-keyring "$CEPH_CLIENT_KEYRING" --allow-create)
	start_node cnode 7101 "${opts[@]}"
	SERVER_PID=${NODE_PIDS[cnode]}
	echo "$SERVER_PID" >>"$RES/pids"
	# (netblk-cli cannot remove a volume: one per round, bench-netblk-rK)
	cli --cluster 127.0.0.1:7101 --volume "bench-netblk-r$ROUND" create "${DEV_MB}M" >/dev/null ||
		fail "creating volume bench-netblk-r$ROUND on the rados node failed"
	start_daemon nbceph --cluster 127.0.0.1:7101 --volume "bench-netblk-r$ROUND" \
		--queues 1 --queue-size 256 --log-level info
	echo "$DAEMON_PID" >>"$RES/pids"
	run_jobs ceph-netblk "$BLK"
	# The node's counters (requests, bytes, RADOS ops) after the jobs.
	# (a subshell: node_stats exits through fail when it gets no answer)
	(node_stats cnode) >"$RD/node-stats.txt" 2>/dev/null || true
	stop_daemon TERM
	{
		echo "suite=$(sed -n 's/.*: TLS up (TLSv1\.3, \([A-Z0-9_]*\)).*/\1/p' \
			"$NETBLK_OUT/nbceph.log" | sort -u | paste -sd,)"
		echo "threads=$(grep -c '^processor' /proc/cpuinfo)"
	} >"$RD/tls.txt"
}

# ceph_start: the cluster of the Ceph rows, once, in this (the main)
# process; its start time goes to results/ceph.txt.
ceph_start() {
	local t0 rc=0
	[ -r "$CEPH_DIR/env" ] && return 0
	command -v ceph-mon >/dev/null || { echo "ceph-mon is not installed on the host" >"$RES/ceph.txt"; return 1; }
	# Under the default host name "(none)" the OSD's CRUSH location is
	# invalid and it never comes up.
	hostname netblk-bench
	ip link set lo up
	t0=$(date +%s)
	progress "ceph: starting a cluster (1 mon, 1 memstore osd) in $CEPH_DIR"
	timeout 600 "$NETBLK_SRC/tests/ceph/ceph-cluster.sh" start "$CEPH_DIR" --no-install \
		--memstore-mb 1024 --timeout 450 >"$NETBLK_OUT/ceph-start.log" 2>&1 || rc=$?
	{
		echo "start_rc=$rc"
		echo "start_s=$(($(date +%s) - t0))"
		echo "ceph=$(ceph --version 2>/dev/null)"
	} >"$RES/ceph.txt"
	progress "ceph: start exited $rc after $(($(date +%s) - t0)) s"
	[ "$rc" = 0 ]
}

# Whatever a row left behind (after a failure or a timeout): devices,
# modules, then the processes it recorded.
cleanup_row() {
	local d pid
	for d in bnull bnbd nb1q nb2q brbd nbceph; do
		[ -e "/sys/bus/vdpa/devices/$d" ] && timeout 40 vdpa dev del "$d" 2>/dev/null
	done
	[ -e /sys/block/nbd0 ] && timeout 20 nbd-client -d /dev/nbd0 >/dev/null 2>&1
	for d in /sys/bus/rbd/devices/*; do
		[ -e "$d" ] || continue
		if [ -e /sys/bus/rbd/remove_single_major ]; then
			echo "${d##*/} force" >/sys/bus/rbd/remove_single_major
		else
			echo "${d##*/} force" >/sys/bus/rbd/remove
		fi 2>/dev/null
	done
	if [ -f "$RES/pids" ]; then
		while read -r pid; do
			kill -KILL "$pid" 2>/dev/null
		done <"$RES/pids"
		rm -f "$RES/pids"
	fi
	sleep 0.5
	for d in brd nbd; do
		[ -d "/sys/module/$d" ] && rmmod "$d" 2>/dev/null
	done
	rm -rf /tmp/nbd-pki /tmp/*.pid /tmp/node1.ctl /tmp/cnode.port
	return 0
}

if [ "${1:-}" = row ]; then
	row=$2
	RD=$3
	ROUND_TAG=${4:+round $4: }
	ROUND=${4:-1}
	declare -F "row_$row" >/dev/null || fail "unknown row '$row'"
	mkdir -p "$RD"
	"row_$row"
	echo ok >"$RD/status"
	exit 0
fi

# The loop below goes on after a failed row, and cleans up whatever it left.
set +e
mkdir -p "$RES"
{
	echo "kernel=$(uname -r)"
	echo "nproc=$(nproc)"
	echo "uptime=$(uptime)"
	echo "mem_total_kb=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)"
	echo "fio=$(fio --version)"
	echo "qsd=$(qemu-storage-daemon --version | head -1)"
	echo "nbdkit=$(nbdkit --version | head -1)"
	echo "runtime_s=$RUNTIME"
	echo "ramp_s=$RAMP"
	echo "dev_mb=$DEV_MB"
	echo "region_mb=$REGION_MB"
	echo "rows=$ROWS"
	echo "rounds=$ROUNDS"
} >"$RES/info.txt"
# The crypto limit of one vCPU (TCG emulates AES-NI and the vector units):
# every byte the daemon moves is encrypted or decrypted by it and by the
# node, inside this VM.
for c in aes-128-gcm aes-256-gcm chacha20-poly1305; do
	timeout 30 openssl speed -evp "$c" -bytes 16384 -seconds 1 2>/dev/null | tail -1
done >"$RES/openssl.txt"
# The kernel's copy speed (copy_to_user from the page cache of a tmpfs
# file, 128 KiB at a time): every byte also crosses the guest's memory in
# socket sends and receives and in VDUSE's bounce buffers, in every row.
dd if=/dev/zero of=/tmp/copy-probe bs=1M count=64 status=none &&
	dd if=/tmp/copy-probe of=/dev/null bs=128k 2>&1 | tail -1 >"$RES/copy.txt"
rm -f /tmp/copy-probe
# Would kernel TLS pay here? The same record stream over loopback TCP,
# sealed and opened by OpenSSL in user space or by the kernel's tls module
# (with the AES-NI glue loaded, as a distribution would have it).
# The rows bring lo up as they start; the probe runs before them.
ip link set lo up
modprobe tls >/dev/null 2>&1 || true
modprobe aesni_intel >/dev/null 2>&1 || true
for probe in "--mib 16" "--mib 4 --size 4096"; do
	# shellcheck disable=SC2086 # two options
	timeout 120 "$NETBLK_BIN/netblk-tls-probe" $probe 2>&1 ||
		echo "netblk-tls-probe $probe failed (exit $?)"
done >"$RES/tls-probe.txt"
progress "bench: rows '$ROWS', $ROUNDS round(s), $RUNTIME s per job after a $RAMP s warm-up, fio region $REGION_MB MiB, $(nproc) vCPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# Upper bound of one row: setup, six jobs, teardown.
row_limit=$((6 * (RUNTIME + RAMP + 30) + 90))
ceph_tried=0
for ((round = 1; round <= ROUNDS; round++)); do
	for row in $ROWS; do
		# Round 1 in results/ROW (as with one round), round K in results/rK/ROW.
		rd=$RES/$row
		tag=
		if [ "$ROUNDS" -gt 1 ]; then
			tag="round $round: "
			[ "$round" = 1 ] || rd=$RES/r$round/$row
		fi
		mkdir -p "$rd"
		case " $CEPH_ROWS " in
		*" $row "*)
			if [ "$ceph_tried" = 0 ]; then
				ceph_tried=1
				ceph_start || progress "ceph: the cluster did not start; the Ceph rows fail (see ceph-start.log)"
			fi
			;;
		esac
		progress "${tag}row $row: starting (limit $row_limit s)"
		rc=0
		timeout -k 10 "$row_limit" bash "$0" row "$row" "$rd" ${tag:+"$round"} >"$rd.log" 2>&1 || rc=$?
		if [ ! -f "$rd/status" ]; then
			reason=$(sed -n 's/^FAIL: //p' "$rd.log" | tail -1)
			[ "$rc" = 124 ] && reason="timed out after $row_limit s${reason:+ ($reason)}"
			echo "failed: ${reason:-exit code $rc, see $rd.log}" >"$rd/status"
		fi
		progress "${tag}row $row: $(cat "$rd/status")"
		cleanup_row
	done
done
[ "$ceph_tried" = 1 ] && timeout 60 "$NETBLK_SRC/tests/ceph/ceph-cluster.sh" stop "$CEPH_DIR" >/dev/null 2>&1
progress "bench: done"
