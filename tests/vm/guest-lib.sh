# guest-lib.sh - helpers for scripts that run inside the test VM.
#
# Source it first thing:  . "$NETBLK_SRC/tests/vm/guest-lib.sh"
# It sets -eu -o pipefail. Functions:
#   fail MSG...            print "FAIL: MSG" and exit 1
#   skip MSG...            print "SKIP: MSG" and exit 77
#   log MSG...             print "[t=SECONDS] MSG" (time since boot)
#   load_modules [MOD...]  bring lo up, load vdpa vduse virtio_vdpa virtio_blk
#                          (or the modules given), fail naming the one that
#                          did not load. With NETBLK_VDUSE=kmod, "vduse"
#                          means our own module instead (insmod of
#                          $NETBLK_KMOD, default $NETBLK_BUILD/kmod/
#                          netblk_vduse.ko, with $NETBLK_KMOD_ARGS)
#   VDPA_MGMTDEV           vDPA management device of the VDUSE provider:
#                          vduse, or netblk-vduse with NETBLK_VDUSE=kmod
#   wait_for PATH [TIMEOUT_S]   wait (default 10 s) until PATH exists, else fail
#   wait_gone PATH [TIMEOUT_S]  wait until PATH no longer exists, else fail
#   check_dmesg_clean      fail, printing the lines, if the kernel log has a
#                          WARNING, BUG, Oops, Call Trace, ... since boot
#                          (patterns in dmesg-bad.re; run-in-vm.sh also
#                          fails a passing test whose final dmesg has one).
#                          A test that provokes such a line on purpose puts
#                          a regex for it in $NETBLK_OUT/dmesg-allow.re
#   on_exit CMD            run CMD (eval) at exit, last registered first
#   bg_start LOG CMD...    start CMD in the background, output to
#                          $NETBLK_OUT/LOG.log (never to a pipe: a daemon
#                          holding a $(...) open would hang it); sets BG_PID;
#                          the process is killed at exit if still running
#   bg_stop PID [TIMEOUT_S]  SIGTERM, wait (default 10 s), then SIGKILL and
#                          fail; returns the process's exit status otherwise
#   vdpa_attach NAME [TIMEOUT_S]  vdpa dev add NAME (mgmtdev $VDPA_MGMTDEV) once
#                          /dev/vduse/NAME exists; prints /dev/vdX (the disk
#                          virtio_vdpa made of it)
#   vdpa_detach NAME       vdpa dev del NAME and wait until it is gone
# The VM is thrown away afterwards, but tests still clean up (vdpa dev del,
# kill daemons) because that is part of what they check.
set -eu -o pipefail

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

log() {
	local up
	up=$(cut -d' ' -f1 /proc/uptime)
	echo "[t=$up] $*"
}

_guest_exit_cmds=()
_guest_run_exit() {
	local rc=$? i
	set +e
	for ((i = ${#_guest_exit_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_guest_exit_cmds[$i]}"
	done
	exit "$rc"
}
trap _guest_run_exit EXIT

on_exit() {
	_guest_exit_cmds+=("$*")
}

# Which VDUSE provider the tests use: the in-tree vduse module (default) or
# vduse-netblk's own kmod (NETBLK_VDUSE=kmod).
case ${NETBLK_VDUSE:-intree} in
intree) VDPA_MGMTDEV=vduse ;;
kmod) VDPA_MGMTDEV=netblk-vduse ;;
*) fail "NETBLK_VDUSE='$NETBLK_VDUSE': expected intree or kmod" ;;
esac

# insmod our VDUSE module (after what it needs from the kernel).
load_kmod() {
	local ko=${NETBLK_KMOD:-$NETBLK_BUILD/kmod/netblk_vduse.ko} m
	[ -f "$ko" ] || skip "$ko not built (no kernel headers for the VM kernel? tests/vm/fetch.sh --headers, then cmake --build ... --target netblk_kmod)"
	[ -d /sys/module/netblk_vduse ] && return 0
	for m in vdpa vhost_iotlb; do
		modprobe -d "$NETBLK_MODDIR" "$m" || fail "modprobe $m failed"
	done
	# shellcheck disable=SC2086 # NETBLK_KMOD_ARGS is a list of key=value
	insmod "$ko" ${NETBLK_KMOD_ARGS:-} || fail "insmod $ko failed: $(dmesg | tail -n 3)"
}

# shellcheck disable=SC2120 # the module list is optional
load_modules() {
	local m mods=("$@")
	[ ${#mods[@]} -gt 0 ] || mods=(vdpa vduse virtio_vdpa virtio_blk)
	ip link set lo up || fail "cannot bring up lo"
	for m in "${mods[@]}"; do
		if [ "$m" = vduse ] && [ "$VDPA_MGMTDEV" != vduse ]; then
			load_kmod
			continue
		fi
		modprobe -d "$NETBLK_MODDIR" "$m" ||
			fail "modprobe $m failed (kernel $(uname -r), modules in $NETBLK_MODDIR)"
	done
}

# wait_for PATH [TIMEOUT_S]: polls every 0.1 s.
wait_for() {
	local path=$1 limit=$(( ${2:-10} * 10 )) i
	for ((i = 0; i < limit; i++)); do
		[ -e "$path" ] && return 0
		sleep 0.1
	done
	fail "$path did not appear within ${2:-10} s"
}

wait_gone() {
	local path=$1 limit=$(( ${2:-10} * 10 )) i
	for ((i = 0; i < limit; i++)); do
		[ -e "$path" ] || return 0
		sleep 0.1
	done
	fail "$path still exists after ${2:-10} s"
}

check_dmesg_clean() {
	local bad
	bad=$(dmesg | grep -E -f "$NETBLK_SRC/tests/vm/dmesg-bad.re" || true)
	if [ -n "$bad" ] && [ -s "$NETBLK_OUT/dmesg-allow.re" ]; then
		bad=$(echo "$bad" | grep -vE -f "$NETBLK_OUT/dmesg-allow.re" || true)
	fi
	if [ -n "$bad" ]; then
		echo "$bad" >&2
		fail "kernel log is not clean (see above; full log in $NETBLK_OUT/dmesg.txt)"
	fi
}

bg_start() {
	local logname=$1
	shift
	"$@" </dev/null >>"$NETBLK_OUT/$logname.log" 2>&1 &
	BG_PID=$!
	on_exit "kill -KILL $BG_PID 2>/dev/null"
}

bg_stop() {
	local pid=$1 limit=$(( ${2:-10} * 10 )) i rc=0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < limit; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		fail "process $pid did not exit within ${2:-10} s of SIGTERM"
	fi
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

vdpa_attach() {
	local name=$1 timeout=${2:-10} blk i
	wait_for "/dev/vduse/$name" "$timeout"
	vdpa dev add name "$name" mgmtdev "$VDPA_MGMTDEV" >&2 || fail "vdpa dev add $name failed"
	for ((i = 0; i < timeout * 10; i++)); do
		blk=$(ls "/sys/bus/vdpa/devices/$name/"virtio*/block 2>/dev/null || true)
		if [ -n "$blk" ] && [ -b "/dev/$blk" ]; then
			echo "/dev/$blk"
			return 0
		fi
		sleep 0.1
	done
	fail "no block device appeared for vdpa device $name within $timeout s"
}

vdpa_detach() {
	vdpa dev del "$1" || fail "vdpa dev del $1 failed"
	wait_gone "/sys/bus/vdpa/devices/$1" 10
}
