#!/bin/bash
# run-in-vm.sh - run one test script inside a throw-away Debian 6.12 VM.
#
#   tests/vm/run-in-vm.sh [--name NAME] [--timeout SECONDS] SCRIPT [ARGS...]
#
# Boots the kernel prepared by fetch.sh under QEMU (TCG, no network), with the
# host root read-only over 9p and a writable results directory
#   $NETBLK_BUILD/vm-out/NAME        (NAME defaults to SCRIPT without .sh)
# mounted at the same path inside. SCRIPT runs as root under bash with
#   NETBLK_BUILD NETBLK_SRC NETBLK_BIN   as on the host (same paths inside)
#   NETBLK_MODDIR   directory holding lib/modules/<kver> (modprobe -d DIR);
#                   a plain `modprobe` in the guest already uses it
#   NETBLK_OUT      the writable results directory (also the working dir)
#   NETBLK_KVER     the guest kernel version
# plus any other NETBLK_* variable of the caller. The guest's /tmp and /run
# are its own tmpfs (a SCRIPT under /tmp is copied to the results directory);
# the host root is cached by the guest (9p cache=loose), so do not change
# files under it while a VM runs.
#
# Exit code: the script's (77 = skipped); a passing script still fails if the
# guest's final dmesg has a kernel splat (patterns in dmesg-bad.re); 1 when
# the VM times out or ends without a result. The script's output is kept in
# NETBLK_OUT/script.log, the guest console (kernel messages) in console.log,
# the guest dmesg in dmesg.txt; on failure the tails of the first two are
# printed.
#
# Environment: NETBLK_VM_TIMEOUT (s, default 300), NETBLK_VM_MEM (default 2G),
# NETBLK_VM_SMP (default 2), NETBLK_VM_CACHE (default $NETBLK_BUILD/vm-cache),
# NETBLK_VM_APPEND (extra kernel command line, e.g. "loglevel=8").
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export NETBLK_SRC=${NETBLK_SRC:-$(cd "$here/../.." && pwd)}
export NETBLK_BUILD=${NETBLK_BUILD:-$NETBLK_SRC/build}
export NETBLK_BIN=${NETBLK_BIN:-$NETBLK_BUILD/bin}
cache=${NETBLK_VM_CACHE:-$NETBLK_BUILD/vm-cache}
vm_timeout=${NETBLK_VM_TIMEOUT:-300}
name=

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

while [ $# -gt 0 ]; do
	case $1 in
	--name) name=$2; shift 2 ;;
	--timeout) vm_timeout=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	-*) echo "run-in-vm.sh: unknown option '$1'" >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ $# -lt 1 ]; then
	usage >&2
	exit 2
fi
script=$(realpath "$1")
shift
[ -f "$script" ] || { echo "run-in-vm.sh: no such script: $script" >&2; exit 2; }
case $vm_timeout in
''|*[!0-9]*) echo "run-in-vm.sh: timeout '$vm_timeout' is not a number of seconds" >&2; exit 2 ;;
esac
name=${name:-$(basename "$script" .sh)}
case $name in
''|*[!A-Za-z0-9_.-]*) echo "run-in-vm.sh: bad test name '$name'" >&2; exit 2 ;;
esac

# Cheap when the cache is complete; does the downloads otherwise.
"$here/fetch.sh" </dev/null
# shellcheck source=/dev/null
. "$cache/kernel.env"

# The guest sees host paths through 9p; a space would split the kernel
# command line.
out=$NETBLK_BUILD/vm-out/$name
case "$out$NETBLK_VM_MODDIR" in
*[[:space:]]*) echo "run-in-vm.sh: paths with spaces are not supported: $out" >&2; exit 2 ;;
esac
rm -rf "$out"
mkdir -p "$out"
out=$(realpath "$out")
console=$out/console.log
script_log=$out/script.log
# The guest has its own /tmp and /run: a script kept there is copied along.
case $script in
/tmp/*|/run/*|/dev/*)
	cp "$script" "$out/$(basename "$script")"
	script=$out/$(basename "$script")
	;;
esac
token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

{
	echo '#!/bin/bash'
	echo '# Written by run-in-vm.sh; run by the VM init inside the chroot.'
	env | grep -E '^NETBLK_[A-Za-z0-9_]*=' | grep -vE '^NETBLK_(OUT|MODDIR|KVER|VM_[A-Z_]*)=' |
		while IFS='=' read -r k v; do printf 'export %s=%q\n' "$k" "$v"; done || true
	printf 'export NETBLK_OUT=%q\n' "$out"
	printf 'export NETBLK_MODDIR=%q\n' "$NETBLK_VM_MODDIR"
	printf 'export NETBLK_KVER=%q\n' "$NETBLK_VM_KVER"
	echo 'export PATH=/run/netblk-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	echo 'export HOME=/tmp LANG=C.UTF-8 TERM=dumb'
	# shellcheck disable=SC2016 # expanded in the guest
	echo 'cd "$NETBLK_OUT"'
	printf 'exec bash'
	printf ' %q' "$script" "$@"
	echo
} >"$out/.vm-job.sh"

# Warnings (level 4) and worse reach the console, so a splat shows up next to
# the script's output even when the VM never gets to copy dmesg.
# TCG vCPUs on a busy 2-core host stall for seconds: lockup and RCU stall
# detectors get their longest thresholds (still catching real livelocks).
append="console=ttyS0 panic=-1 quiet loglevel=5 watchdog_thresh=60"
append+=" rcupdate.rcu_cpu_stall_timeout=300 ${NETBLK_VM_APPEND:-}"
append+=" netblk.token=$token netblk.out=$out netblk.moddir=$NETBLK_VM_MODDIR"

t0=$(date +%s%N)
# QEMU TCG now and then kills the guest kernel while it boots (seen: an
# "Oops: int3" in enqueue_timer while the kernel patches its own code, 1 s
# into the boot), before any of our code runs. A VM that ends before the
# init started the script (no script.log) is booted again, twice at most;
# anything after the script started counts as the test's result.
for boot in 1 2 3; do
rc=0
rm -f "$console" "$script_log"
timeout -k 10 "$vm_timeout" qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu max -smp "${NETBLK_VM_SMP:-2}" -m "${NETBLK_VM_MEM:-2G}" \
	-nodefaults -nographic -no-reboot -monitor none -nic none \
	-serial "file:$console" -fw_cfg name=etc/sercon-port,string=0 \
	-kernel "$NETBLK_VM_VMLINUX" -initrd "$NETBLK_VM_INITRAMFS" -append "$append" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$out,mount_tag=netblkout,security_model=none,multidevs=remap" \
	</dev/null >"$out/qemu.log" 2>&1 &
vm_pid=$!
# If we are interrupted (ctest's own timeout, ^C), take the VM down with us.
trap 'kill -TERM $vm_pid 2>/dev/null; wait $vm_pid; echo "run-in-vm.sh: $name: interrupted" >&2; exit 130' INT TERM HUP
wait $vm_pid || rc=$?
trap - INT TERM HUP
if [ "$rc" != 124 ] && [ "$rc" != 137 ] && [ ! -e "$script_log" ] && [ "$boot" -lt 3 ] &&
	! grep -q "^NETBLK_VM_RESULT $token " "$console" 2>/dev/null; then
	echo "run-in-vm.sh: $name: the guest died before the test script started (boot $boot, qemu exit $rc); booting again. Its console ended with:"
	tr '\r' '\n' <"$console" 2>/dev/null | grep -E 'Oops|BUG|panic|RIP:' | head -n 5 || true
	continue
fi
break
done
elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
secs=$(printf '%d.%03d' $((elapsed / 1000)) $((elapsed % 1000)))

# Last N lines of a guest log, readable: progress lines ending in \r split,
# blank lines dropped, very long lines cut.
log_tail() {
	tr '\r' '\n' <"$2" 2>/dev/null | sed '/^[[:space:]]*$/d' | grep -v '^NETBLK_VM_RESULT ' |
		tail -n "$1" | cut -c 1-400 || true
}

show_console() {
	echo "---- script output (last 100 lines of $script_log) ----"
	log_tail 100 "$script_log"
	echo "---- guest console (last 40 lines of $console) ----"
	log_tail 40 "$console"
	echo "---- end; qemu messages in $out/qemu.log$([ -f "$out/dmesg.txt" ] && echo ", dmesg in $out/dmesg.txt") ----"
}

result=$(tr -d '\r' <"$console" 2>/dev/null | sed -n "s/^NETBLK_VM_RESULT $token \([0-9][0-9]*\)\$/\1/p" | tail -n1)

if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "run-in-vm.sh: $name: VM timed out after $vm_timeout s"
	[ -z "$result" ] ||
		echo "run-in-vm.sh: $name: the script had ended with exit code $result, but the VM did not power off"
	show_console
	exit 1
fi

if [ -z "$result" ]; then
	echo "run-in-vm.sh: $name: VM ended (qemu exit $rc) without reporting a result after $secs s"
	cat "$out/qemu.log"
	show_console
	exit 1
fi

# A kernel splat fails the test even when the script did not look for one
# (it may come after the script's own check, e.g. when a daemon is killed).
# A test that provokes a message on purpose lists it (extended regexes, one a
# line) in NETBLK_OUT/dmesg-allow.re.
allow=$out/dmesg-allow.re
[ -f "$allow" ] || allow=/dev/null
if [ "$result" = 0 ] && [ -f "$out/dmesg.txt" ]; then
	{ grep -E -f "$here/dmesg-bad.re" "$out/dmesg.txt" | grep -vE -f "$allow"; } >"$out/dmesg-bad.txt" || true
fi
if [ -s "$out/dmesg-bad.txt" ]; then
	echo "run-in-vm.sh: $name: the script passed but the kernel log has errors:"
	head -n 40 "$out/dmesg-bad.txt"
	echo "(full kernel log in $out/dmesg.txt)"
	exit 1
fi
rm -f "$out/dmesg-bad.txt"

case $result in
0)
	echo "run-in-vm.sh: $name: passed in $secs s (VM wall time)"
	;;
77)
	echo "run-in-vm.sh: $name: skipped in $secs s:"
	log_tail 5 "$script_log"
	;;
125)
	echo "run-in-vm.sh: $name: the VM init failed before running the script ($secs s)"
	show_console
	;;
*)
	echo "run-in-vm.sh: $name: failed with exit code $result in $secs s"
	show_console
	;;
esac
exit "$result"
