#!/bin/busybox sh
# PID 1 of the test VM (busybox initramfs built by fetch.sh).
#
# Loads the 9p modules listed in /modules.list, mounts the host root read-only
# (tag hostroot) on /newroot with fresh tmpfs /tmp and /run and the kernel
# filesystems, mounts the writable per-test share (tag netblkout) on the same
# path as on the host, and runs the job script written by run-in-vm.sh inside
# a chroot. It then copies dmesg next to the results and prints
#   NETBLK_VM_RESULT <token> <exit code>
# which run-in-vm.sh looks for, and powers off. The script's output goes to
# script.log in the results directory.
#
# Kernel command line: netblk.token=T netblk.out=DIR netblk.moddir=DIR
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "netblk-vm-init: $*" >/dev/console; }

param() {
	# shellcheck disable=SC2013 # the command line is one line of words
	for w in $(cat /proc/cmdline); do
		case $w in
		"netblk.$1="*) echo "${w#*=}" ;;
		esac
	done
}

token=$(param token)
out=$(param out)
moddir=$(param moddir)
results_mounted=0

finish() {
	if [ "$results_mounted" = 1 ]; then
		dmesg >"/newroot$out/dmesg.txt" 2>/dev/null
	fi
	sync
	echo "NETBLK_VM_RESULT $token $1" >/dev/console
	# A VDUSE device whose server is gone would hold up the shutdown for its
	# 30 s message timeout (virtio reset on the way down): cut it to 1 s.
	for f in /sys/class/vduse/*/msg_timeout; do
		[ -e "$f" ] && echo 1 >"$f"
	done
	poweroff -f
	sleep 5
	exit "$1"
}

die() {
	say "error: $*"
	dmesg | tail -n 30 >/dev/console
	finish 125
}

while read -r m; do
	insmod "/lib/modules/$m" || die "insmod $m failed"
done </modules.list

nine="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$nine,ro,cache=loose" hostroot /newroot || die "cannot mount host root over 9p"
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp || die "tmpfs /tmp"
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || die "tmpfs /run"
mount -t proc proc /newroot/proc || die "proc"
mount -t sysfs sysfs /newroot/sys || die "sysfs"
mount -t devtmpfs devtmpfs /newroot/dev || die "devtmpfs"
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mount -t configfs configfs /newroot/sys/kernel/config 2>/dev/null
mount -t debugfs debugfs /newroot/sys/kernel/debug 2>/dev/null
if [ -z "$out" ] || [ ! -d "/newroot$out" ]; then
	die "results directory '$out' missing"
fi
mount -t 9p -o "$nine" netblkout "/newroot$out" || die "cannot mount results share"
results_mounted=1

# The host has no /lib/modules for this kernel: route a plain `modprobe` in
# scripts and the kernel's module autoloading (which runs in this initramfs
# root, not in the chroot) to the unpacked package.
mkdir -p /newroot/run/netblk-bin
printf '#!/bin/sh\nexec /usr/sbin/modprobe -d %s "$@"\n' "$moddir" >/newroot/run/netblk-bin/modprobe
printf '#!/bin/sh\nexec chroot /newroot /usr/sbin/modprobe -d %s "$@"\n' "$moddir" >/bin/netblk-modprobe
chmod 0755 /newroot/run/netblk-bin/modprobe /bin/netblk-modprobe
echo /bin/netblk-modprobe >/proc/sys/kernel/modprobe

[ -f "/newroot$out/.vm-job.sh" ] || die "job script missing in $out"
# Output to a file, not the console: on a tty, tools draw progress bars.
chroot /newroot /bin/bash "$out/.vm-job.sh" </dev/null >"/newroot$out/script.log" 2>&1
finish $?
