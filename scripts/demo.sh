#!/usr/bin/env bash
# The run command: a demo of the whole stack. Installs what it needs,
# builds vduse-netblk, then, inside a Debian 6.12 kernel booted under QEMU
# (or directly on this host when it has VDUSE and you pass --host):
# starts a storage node (netblk-node, file backend) with fresh certificates,
# checks the cluster with netblk-cli verify and bench, attaches a volume
# with vduse-netblk, makes an ext4 file system on the disk, writes and
# reads files, detaches, and shows that the data is in the cluster.
#
#   scripts/demo.sh           # in the VM (works on any Debian 12 host)
#   scripts/demo.sh --ceph    # the same on Ceph: a one-OSD cluster in the
#                             # VM, two netblk-node on one pool, and a
#                             # node killed under the mounted disk
#   scripts/demo.sh --host    # on this host (needs root and the vduse module)
#
# It prints each step ("### ...") and its output as it goes, then says where
# the full logs are.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/scripts/relocate.sh" demo.sh "$@"
build=${NETBLK_BUILD_DIR:-$src/build}

"$src/scripts/install-deps"
if [ "${1:-}" = --ceph ]; then
  shift
  export NETBLK_DEMO_CEPH=1 NETBLK_VM_MEM=3G
  bash "$src/tests/ceph/ceph-cluster.sh" install
fi
echo "=== building vduse-netblk in $build"
cmake -S "$src" -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" >"$build.log" 2>&1 || { tail -40 "$build.log"; exit 1; }

export NETBLK_SRC=$src NETBLK_BUILD=$build NETBLK_BIN=$build/bin
if [ "${1:-}" = --host ]; then
  NETBLK_OUT=$(mktemp -d /tmp/netblk-demo.XXXXXX)
  export NETBLK_OUT
  echo "=== running the demo on this host; its output is also in $NETBLK_OUT/demo.log"
  rc=0
  bash "$src/scripts/demo-guest.sh" 2>&1 | tee "$NETBLK_OUT/demo.log" || rc=$?
  echo "=== demo $([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)")"
  echo "=== full logs: $NETBLK_OUT/demo.log (the demo), $NETBLK_OUT/ (the nodes' logs)"
  exit "$rc"
fi
echo "=== preparing the test VM (Debian 6.12 kernel under QEMU; cached after the first run)"
bash "$src/tests/vm/fetch.sh"
out=$build/vm-out/demo
echo "=== booting the VM and running the demo inside it (about a minute)"
# The guest writes its output to $out/script.log (run-in-vm.sh): show it
# here as it grows, the same "###" sections, until the VM is done.
rm -rf "$out"   # so that what follows is this run's log, not the last one's
bash "$src/tests/vm/run-in-vm.sh" --name demo --timeout 600 "$src/scripts/demo-guest.sh" \
  >"$build/demo-vm.log" 2>&1 &
vm=$!
trap 'kill -TERM $vm 2>/dev/null; wait $vm 2>/dev/null; exit 130' INT TERM
# Wait until run-in-vm.sh made the directory, then follow the log.
for _ in $(seq 100); do [ -e "$out/.vm-job.sh" ] || ! kill -0 $vm 2>/dev/null && break; sleep 0.1; done
# (sed -u: each line as it comes; progress lines end in \r.)
tail -n +1 -F --pid=$vm "$out/script.log" 2>/dev/null |
  sed -u -e '/^NETBLK_VM_RESULT /d' -e 's/\r/\n/g' || true
rc=0
wait $vm || rc=$?
trap - INT TERM
echo
cat "$build/demo-vm.log"
echo "=== demo $([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)")"
echo "=== full logs: $out/script.log (the demo, as above), $out/console.log (the guest's"
echo "    console), $out/dmesg.txt (its kernel log), $build/demo-vm.log (the VM runner)"
exit "$rc"
