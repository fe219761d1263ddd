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
  export NETBLK_OUT=$(mktemp -d /tmp/netblk-demo.XXXXXX)
  exec bash "$src/scripts/demo-guest.sh"
fi
echo "=== preparing the test VM (Debian 6.12 kernel under QEMU; cached after the first run)"
bash "$src/tests/vm/fetch.sh"
echo "=== booting the VM and running the demo inside it"
exec bash "$src/tests/vm/run-in-vm.sh" --name demo --timeout 600 "$src/scripts/demo-guest.sh"
