# netblk-lib.sh - helpers for VM tests of vduse-netblk (source after
# guest-lib.sh). Everything runs inside the VM: mock nodes on 127.0.0.1,
# certificates under /tmp, the daemon from $NETBLK_BIN.
#
#   make_pki                         certificates in $PKI (once)
#   start_mock NAME PORT ARGS...     netblk-server-mock in the background,
#                                    control socket /tmp/NAME.ctl, log
#                                    $NETBLK_OUT/NAME.log; waits until it listens
#   mock_ctl NAME CMD...             send a control command, print the answer
#   mock_stat NAME KEY               one counter from 'stats'
#   start_daemon DEV ARGS...         vduse-netblk --foreground in the
#                                    background (log $NETBLK_OUT/DEV.log);
#                                    waits for its block device and sets
#                                    BLK (e.g. /dev/vda) and DAEMON_PID;
#                                    passes MGMTDEV_ARGS (below)
#   stop_daemon [SIGNAL]             signal the daemon (TERM) and wait; fails
#                                    unless it exits 0 and the device is gone
#   cli ARGS...                      netblk-cli with the cluster TLS options
#   start_node NAME PORT ARGS...     netblk-node on 127.0.0.1:PORT in the
#                                    background (log $NETBLK_OUT/NAME.log,
#                                    pid in NODE_PIDS[NAME]); waits until it
#                                    listens (30 s: a rados node connects
#                                    to Ceph first)
#   node_stats NAME                  SIGUSR1, then print the node's new
#                                    "stats:" line
#   node_stat NAME KEY               one counter of node_stats
#   MGMTDEV_ARGS                     (array) --mgmtdev $VDPA_MGMTDEV, or
#                                    nothing for the default (vduse); for
#                                    tests that run the daemon themselves
PKI=/tmp/pki
MOCK_BIN=$NETBLK_BIN/netblk-server-mock
DAEMON_BIN=$NETBLK_BIN/vduse-netblk
CLI_BIN=$NETBLK_BIN/netblk-cli
NODE_BIN=$NETBLK_BIN/netblk-node
DAEMON_PID=
BLK=
declare -A MOCK_PIDS=()
declare -A NODE_PIDS=()
MGMTDEV_ARGS=()
[ "${VDPA_MGMTDEV:-vduse}" = vduse ] || MGMTDEV_ARGS=(--mgmtdev "$VDPA_MGMTDEV")

TLS_ARGS=(--ca "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key")

make_pki() {
	[ -f "$PKI/ca.crt" ] && return 0
	"$NETBLK_SRC/scripts/netblk-certs" "$PKI" >/dev/null ||
		fail "netblk-certs failed"
}

start_mock() {
	local name=$1 port=$2 i
	shift 2
	make_pki
	"$MOCK_BIN" --listen "127.0.0.1:$port" --name "$name" \
		--ca "$PKI/ca.crt" --cert "$PKI/server.crt" --key "$PKI/server.key" \
		--control "/tmp/$name.ctl" "$@" >>"$NETBLK_OUT/$name.log" 2>&1 &
	MOCK_PIDS[$name]=$!
	on_exit "kill ${MOCK_PIDS[$name]} 2>/dev/null"
	for ((i = 0; i < 100; i++)); do
		[ -S "/tmp/$name.ctl" ] && mock_ctl "$name" stats >/dev/null 2>&1 && return 0
		kill -0 "${MOCK_PIDS[$name]}" 2>/dev/null ||
			fail "mock $name exited at start: $(tail -5 "$NETBLK_OUT/$name.log")"
		sleep 0.1
	done
	fail "mock $name did not come up within 10 s"
}

stop_mock() {
	local name=$1
	kill "${MOCK_PIDS[$name]}" 2>/dev/null || true
	wait "${MOCK_PIDS[$name]}" 2>/dev/null || true
}

mock_ctl() {
	local name=$1
	shift
	"$MOCK_BIN" ctl "/tmp/$name.ctl" "$@"
}

mock_stat() {
	mock_ctl "$1" stats | tr ' ' '\n' | sed -n "s/^$2=//p"
}

cli() {
	"$CLI_BIN" "${TLS_ARGS[@]}" "$@"
}

start_node() {
	local name=$1 port=$2 i
	shift 2
	make_pki
	rm -f "/tmp/$name.port"
	"$NODE_BIN" --listen "127.0.0.1:$port" --name "$name" --port-file "/tmp/$name.port" \
		--ca "$PKI/ca.crt" --cert "$PKI/server.crt" --key "$PKI/server.key" "$@" \
		>>"$NETBLK_OUT/$name.log" 2>&1 </dev/null &
	NODE_PIDS[$name]=$!
	on_exit "kill -9 ${NODE_PIDS[$name]} 2>/dev/null; wait ${NODE_PIDS[$name]} 2>/dev/null"
	for ((i = 0; i < 300; i++)); do
		[ -s "/tmp/$name.port" ] && return 0
		kill -0 "${NODE_PIDS[$name]}" 2>/dev/null ||
			fail "node $name exited at start: $(tail -5 "$NETBLK_OUT/$name.log")"
		sleep 0.1
	done
	fail "node $name did not listen within 30 s: $(tail -5 "$NETBLK_OUT/$name.log")"
}

node_stats() {
	local log=$NETBLK_OUT/$1.log n i
	n=$(grep -c 'stats: ' "$log" || true)
	kill -USR1 "${NODE_PIDS[$1]}" || fail "node $1 is not running"
	for ((i = 0; i < 100; i++)); do
		if [ "$(grep -c 'stats: ' "$log" || true)" -gt "$n" ]; then
			grep 'stats: ' "$log" | tail -n 1 | sed 's/.*stats: //'
			return 0
		fi
		sleep 0.1
	done
	fail "node $1 logged no stats within 10 s of SIGUSR1"
}

node_stat() {
	local line
	line=$(node_stats "$1")
	tr ' ' '\n' <<<"$line" | sed -n "s/^$2=//p"
}

# The block device the kernel made of vDPA device $1, or nothing.
blk_of() {
	local b
	b=$(ls "/sys/bus/vdpa/devices/$1"/virtio*/block 2>/dev/null | head -1)
	[ -n "$b" ] && echo "/dev/$b"
}

start_daemon() {
	local dev=$1 i
	shift
	make_pki
	"$DAEMON_BIN" --foreground --name "$dev" "${TLS_ARGS[@]}" "${MGMTDEV_ARGS[@]}" "$@" \
		>>"$NETBLK_OUT/$dev.log" 2>&1 </dev/null &
	DAEMON_PID=$!
	on_exit "kill $DAEMON_PID 2>/dev/null"
	for ((i = 0; i < 300; i++)); do
		BLK=$(blk_of "$dev" || true)
		[ -n "$BLK" ] && [ -b "$BLK" ] && { log "daemon $dev serves $BLK"; return 0; }
		kill -0 "$DAEMON_PID" 2>/dev/null ||
			fail "vduse-netblk exited at start: $(tail -5 "$NETBLK_OUT/$dev.log")"
		sleep 0.1
	done
	fail "no block device for $dev within 30 s: $(tail -5 "$NETBLK_OUT/$dev.log")"
}

stop_daemon() {
	local sig=${1:-TERM} rc=0
	kill -"$sig" "$DAEMON_PID"
	wait "$DAEMON_PID" || rc=$?
	[ "$rc" -eq 0 ] || fail "vduse-netblk exited with $rc after SIG$sig: $(tail -5 "$NETBLK_OUT"/*.log | tail -20)"
	DAEMON_PID=
}
