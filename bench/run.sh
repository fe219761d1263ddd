#!/usr/bin/env bash
# bench/run.sh - the performance benchmark of issue #6 (not part of the
# test suite). Installs what it needs, builds vduse-netblk, then
#   1. in one boot of the test VM (Debian 6.12 kernel under QEMU TCG,
#      tests/vm/run-in-vm.sh): the same six fio jobs against brd,
#      qemu-storage-daemon vduse-blk over null-co, qemu-storage-daemon
#      vduse-blk over NBD/TLS to nbdkit, the kernel NBD client to nbdkit,
#      and vduse-netblk (1 and 2 queues) to netblk-server-mock
#      (bench/guest.sh); with --ceph also three rows on one Ceph cluster
#      started in the guest: qemu-storage-daemon over QEMU's rbd driver,
#      the kernel rbd client, and vduse-netblk through netblk-node to
#      RADOS (issue #15 E);
#   2. on the host: netblk-cli bench against the mock versus fio's nbd
#      engine (libnbd) against nbdkit --tls=require, and openssl speed
#      -evp aes-128-gcm (bench/host.sh);
#   3. prints the table, the ratios of row 5 to rows 2 and 3 and the
#      targets met or not (bench/report.py), and writes results.json,
#      results.csv, ratios.csv, targets.csv and table.txt.
#
#   bench/run.sh [--quick] [--out DIR] [--build DIR] [--runtime S] [--ramp S]
#                [--rows "ID ..."] [--ceph | --no-ceph] [--rounds N]
#                [--no-vm] [--no-host] [--perf]
#
#   --quick       3 s per job after a 1 s warm-up (default 10 s after 2 s)
#   --out DIR     results directory (default BUILD/bench-out/DATE-TIME)
#   --build DIR   build directory (default $NETBLK_BUILD_DIR or SRC/build-bench)
#   --runtime S   seconds per measured job;  --ramp S  warm-up seconds
#   --rows LIST   VM rows to run, of: brd qsd-null qsd-nbd-tls knbd
#                 netblk-1q netblk-2q (the default rows), ceph-qsd-rbd
#                 ceph-krbd ceph-netblk (the Ceph rows); default: the
#                 default rows, plus the Ceph rows with --ceph
#   --ceph        add the Ceph rows (to the default rows or to --rows);
#                 they start a Ceph cluster in the guest (1 to 3 minutes
#                 under TCG) and give the VM 3 GiB; off by default
#   --no-ceph     drop the Ceph rows, also from --rows
#   --rounds N    measure everything N times (default 1): the VM rows run
#                 in turn N times in the one boot, the host jobs N times
#                 each, alternating the two stacks; every figure is then
#                 the median of the N rounds, and the table shows the
#                 spread of the IOPS (the host's load moves the figures of
#                 a TCG guest by 2x from one minute to the next)
#   --no-vm, --no-host   skip that part
#   --perf        also profile the host engine bench with perf (client and
#                 server of both stacks, 4k QD32 random read and 128k
#                 sequential read) and print the top symbols
#
# A full run takes about 13 minutes on a 2-core machine (--quick: 7; each
# further round adds about 11 minutes, or 6 with --quick). --ceph adds the
# Ceph start in the guest (1 to 3 minutes) and about 1 to 4 minutes per
# round for its three rows, more on a loaded host. Needs root
# (apt-get, the VM's 9p export, setpriv for libnbd). The VM uses
# $NETBLK_VM_CACHE like the tests (tests/vm/README.md).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${NETBLK_BUILD_DIR:-$src/build-bench}
out=
runtime=10
ramp=2
rounds=1
rows=
do_vm=1
do_host=1
perf=0
ceph=

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "bench/run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--quick) runtime=3; ramp=1; shift ;;
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	--build) build=${2:?--build needs a directory}; shift 2 ;;
	--runtime) runtime=${2:?}; shift 2 ;;
	--ramp) ramp=${2:?}; shift 2 ;;
	--rows) rows=${2:?}; shift 2 ;;
	--rounds) rounds=${2:?}; shift 2 ;;
	--no-vm) do_vm=0; shift ;;
	--no-host) do_host=0; shift ;;
	--perf) perf=1; shift ;;
	--ceph) ceph=1; shift ;;
	--no-ceph) ceph=0; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done
case $runtime in '' | *[!0-9]* | 0) die "--runtime '$runtime': a whole number of seconds, at least 1" ;; esac
case $ramp in '' | *[!0-9]*) die "--ramp '$ramp': a whole number of seconds" ;; esac
case $rounds in '' | *[!0-9]* | 0) die "--rounds '$rounds': a whole number, at least 1" ;; esac
default_rows="brd qsd-null qsd-nbd-tls knbd netblk-1q netblk-2q"
ceph_rows="ceph-qsd-rbd ceph-krbd ceph-netblk"
for r in $rows; do
	case " $default_rows $ceph_rows " in
	*" $r "*) ;;
	*) die "--rows: unknown row '$r' (rows: $default_rows $ceph_rows)" ;;
	esac
done
rows=${rows:-$default_rows}
case $ceph in
1) for r in $ceph_rows; do
	case " $rows " in *" $r "*) ;; *) rows="$rows $r" ;; esac
done ;;
0) rows=$(for r in $rows; do case " $ceph_rows " in *" $r "*) ;; *) echo "$r" ;; esac; done | paste -sd' ') ;;
esac
[ -n "$rows" ] || die "no VM rows left to run (--no-ceph with only Ceph rows in --rows?)"
with_ceph=0
for r in $rows; do
	case " $ceph_rows " in *" $r "*) with_ceph=1 ;; esac
done
case "$src/$build/" in
/tmp/* | /run/*) die "the test VM cannot see /tmp or /run of the host: run from a tree and build directory elsewhere" ;;
esac
exec </dev/null

t_start=$(date +%s)
deps=(fio nbdkit nbd-client libnbd-bin qemu-system-x86 qemu-utils python3)
# The Ceph rows: the cluster (tests/ceph/ceph-cluster.sh), the rbd tool,
# QEMU's rbd driver, and librados-dev for netblk-node's rados backend.
[ "$with_ceph" = 0 ] || deps+=(ceph-mon ceph-osd ceph-common qemu-block-extra librados-dev)
"$src/scripts/install-deps" "${deps[@]}"
targets=(vduse-netblk netblk-server-mock netblk-cli netblk-tls-probe)
[ "$with_ceph" = 0 ] || targets+=(netblk-node)
echo "=== building vduse-netblk in $build (CMake default build type, RelWithDebInfo: -O2 -g)"
cmake -S "$src" -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" \
	>"$build/bench-build.log" 2>&1 || { tail -40 "$build/bench-build.log"; exit 1; }

out=${out:-$build/bench-out/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(realpath "$out")
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "git=$(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "host_nproc=$(nproc)"
	echo "host_uptime_start=$(uptime)"
	echo "runtime_s=$runtime"
	echo "ramp_s=$ramp"
	echo "rounds=$rounds"
} >"$out/meta.txt"
echo "=== results in $out"
echo "host: $(nproc) cores; $(uptime)"

export NETBLK_SRC=$src NETBLK_BUILD=$build NETBLK_BIN=$build/bin
export NETBLK_BENCH_RUNTIME=$runtime NETBLK_BENCH_RAMP=$ramp NETBLK_BENCH_ROUNDS=$rounds
export NETBLK_BENCH_ROWS="$rows"
# The Ceph cluster (a 1 GiB memstore OSD, monitor) needs room beside the
# rows, as in the data-safety test.
[ "$with_ceph" = 0 ] || export NETBLK_VM_MEM=${NETBLK_VM_MEM:-3G}

if [ "$do_vm" = 1 ]; then
	echo "=== preparing the test VM (cached after the first run)"
	bash "$src/tests/vm/fetch.sh"
	nrows=$(echo "$rows" | wc -w)
	# As guest.sh bounds each row, plus the boot (and the Ceph start).
	vm_timeout=$((rounds * nrows * (6 * (runtime + ramp + 30) + 100) + 180 + with_ceph * 600))
	echo "=== VM part: rows $rows; 6 jobs each, $rounds round(s), one boot (at most $vm_timeout s)"
	progress=$build/vm-out/bench/results/progress.txt
	rm -f "$progress"
	tail -n +1 -F "$progress" 2>/dev/null &
	tail_pid=$!
	# The host's load while the VM runs: its figures depend on it.
	while sleep 20; do cut -d' ' -f1 /proc/loadavg; done >"$out/host-load-vm.txt" &
	load_pid=$!
	vm_rc=0
	bash "$src/tests/vm/run-in-vm.sh" --name bench --timeout "$vm_timeout" "$src/bench/guest.sh" || vm_rc=$?
	kill "$tail_pid" "$load_pid" 2>/dev/null || true
	wait "$tail_pid" "$load_pid" 2>/dev/null || true
	[ "$vm_rc" = 0 ] || echo "=== the VM part ended with status $vm_rc; the table shows what it measured"
	mkdir -p "$out/vm"
	cp -a "$build/vm-out/bench/." "$out/vm/" 2>/dev/null || true
fi

if [ "$do_host" = 1 ]; then
	echo "=== host part: the network engine alone"
	NETBLK_BENCH_PERF=$perf bash "$src/bench/host.sh" "$out/host" ||
		echo "=== the host part failed (status $?); the table shows what it measured"
fi

echo "host_uptime_end=$(uptime)" >>"$out/meta.txt"
echo "elapsed_s=$(($(date +%s) - t_start))" >>"$out/meta.txt"
echo "=== report ($(($(date +%s) - t_start)) s in all)"
echo
python3 "$src/bench/report.py" "$out" | tee "$out/table.txt"
echo
echo "=== written: $out/{table.txt,results.json,results.csv,ratios.csv,targets.csv}"
