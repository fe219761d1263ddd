# vhost-lib.sh - helpers for VM tests that drive a VDUSE device through
# vhost_vdpa with vhost-blk-test (source after guest-lib.sh).
#
#   vhost_of NAME          the /dev/vhost-vdpa-N of vDPA device NAME, or nothing
#   vhost_wait NAME [S]    wait (default 30 s) for it; prints it
#   vhost_attach NAME      vdpa dev add NAME (mgmtdev $VDPA_MGMTDEV, default
#                          vduse), prints /dev/vhost-vdpa-N
#   vhost_detach NAME      vdpa dev del NAME and wait until it is gone
#   vbt ARGS...            run vhost-blk-test, output to the log, fail naming
#                          the command when it exits non-zero
VBT_BIN=$NETBLK_BIN/vhost-blk-test
[ -x "$VBT_BIN" ] || fail "$VBT_BIN not built"

vhost_of() {
	local d
	for d in "/sys/bus/vdpa/devices/$1"/vhost-vdpa-*; do
		[ -e "$d" ] && { echo "/dev/${d##*/}"; return 0; }
	done
	return 1
}

vhost_wait() {
	local name=$1 limit=$(( ${2:-30} * 10 )) i v
	for ((i = 0; i < limit; i++)); do
		v=$(vhost_of "$name" || true)
		[ -n "$v" ] && [ -c "$v" ] && { echo "$v"; return 0; }
		sleep 0.1
	done
	fail "no /dev/vhost-vdpa-* for vDPA device $name within ${2:-30} s" \
		"(driver: $(basename "$(readlink "/sys/bus/vdpa/devices/$name/driver" 2>/dev/null)" 2>/dev/null))"
}

vhost_attach() {
	vdpa dev add name "$1" mgmtdev "${VDPA_MGMTDEV:-vduse}" || fail "vdpa dev add $1 failed"
	vhost_wait "$1"
}

vhost_detach() {
	vdpa dev del "$1" || fail "vdpa dev del $1 failed"
	wait_gone "/sys/bus/vdpa/devices/$1" 10
}

vbt() {
	local t0 rc=0
	t0=$(cut -d' ' -f1 /proc/uptime)
	log "vhost-blk-test $*"
	"$VBT_BIN" "$@" || rc=$?
	[ "$rc" = 0 ] || fail "vhost-blk-test $* exited $rc"
	log "  ... passed in $(echo "$(cut -d' ' -f1 /proc/uptime) - $t0" | bc 2>/dev/null || echo '?') s"
}

# start_daemon_vhost DEV ARGS...: vduse-netblk --foreground (log
# $NETBLK_OUT/DEV.log) with vhost_vdpa the only vDPA driver loaded; waits
# for its /dev/vhost-vdpa-N and sets VHOST and DAEMON_PID (netblk-lib.sh).
# shellcheck disable=SC2153 # DAEMON_BIN comes from netblk-lib.sh
start_daemon_vhost() {
	local dev=$1 i
	shift
	make_pki
	"$DAEMON_BIN" --foreground --name "$dev" "${TLS_ARGS[@]}" \
		${MGMTDEV_ARGS[@]+"${MGMTDEV_ARGS[@]}"} "$@" \
		>>"$NETBLK_OUT/$dev.log" 2>&1 </dev/null &
	DAEMON_PID=$!
	on_exit "kill $DAEMON_PID 2>/dev/null"
	for ((i = 0; i < 300; i++)); do
		VHOST=$(vhost_of "$dev" || true)
		[ -n "$VHOST" ] && [ -c "$VHOST" ] && { log "daemon $dev serves $VHOST"; return 0; }
		kill -0 "$DAEMON_PID" 2>/dev/null ||
			fail "vduse-netblk exited at start: $(tail -5 "$NETBLK_OUT/$dev.log")"
		sleep 0.1
	done
	fail "no /dev/vhost-vdpa-* for $dev within 30 s: $(tail -5 "$NETBLK_OUT/$dev.log")"
}

# daemon_alive DEV: fail unless the daemon still runs.
daemon_alive() {
	kill -0 "$DAEMON_PID" 2>/dev/null ||
		fail "vduse-netblk ($1) died: $(tail -5 "$NETBLK_OUT/$1.log")"
}

# rebind NAME DRIVER: move vDPA device NAME to DRIVER (vhost_vdpa or
# virtio_vdpa) through sysfs: unbind, driver_override, bind.
rebind() {
	local name=$1 drv=$2 cur
	cur=$(basename "$(readlink "/sys/bus/vdpa/devices/$name/driver")")
	echo "$name" >"/sys/bus/vdpa/drivers/$cur/unbind" || fail "unbind $name from $cur failed"
	echo "$drv" >"/sys/bus/vdpa/devices/$name/driver_override" || fail "driver_override $drv failed"
	echo "$name" >"/sys/bus/vdpa/drivers/$drv/bind" || fail "bind $name to $drv failed"
	log "$name moved from $cur to $drv"
}
