#!/bin/bash
# bench/ (issue #6) without running it: shellcheck of its scripts, and
# bench/report.py on a made-up results tree — the ratios it prints are the
# ratios of the figures given (the Ceph rows' too), a failed row shows its
# reason, a missing row and missing CPU samples give "-", and the CSV and
# JSON files are complete.
set -euo pipefail
src=${NETBLK_SRC:?}
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v python3 >/dev/null || { echo "SKIP: python3 missing" >&2; exit 77; }
if command -v shellcheck >/dev/null; then
	(cd "$src" && shellcheck -x bench/*.sh) || fail "shellcheck found problems in bench/ (above)"
else
	echo "shellcheck not installed (scripts/install-deps has it): not checked"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
res=$out/vm/results
out2=$tmp/out2
res2=$out2/vm/results
mkdir -p "$res" "$res2"

# fio JSON of one row: every job with the IOPS given, mean latency
# 1e6/IOPS us, 4k or 128k blocks; stat lines whose utime+stime grow by
# TICKS during each job.
python3 - "$res" "$res2" <<'PY'
import json, os, sys
res, res2 = sys.argv[1], sys.argv[2]
jobs = ["randread-4k-qd1", "randwrite-4k-qd1", "randread-4k-qd32",
        "randwrite-4k-qd32", "read-128k-qd8", "write-128k-qd8"]
def row(rid, iops, daemon_ticks, server_ticks, base=None, osd_ticks=None):
    d = os.path.join(base or res, rid)
    os.makedirs(d)
    out = []
    for j in jobs:
        bs = 131072 if "128k" in j else 4096
        rw = "write" if "write" in j else "read"
        ios = int(iops * 10)
        side = {"iops": iops, "bw_bytes": iops * bs, "total_ios": ios,
                "lat_ns": {"mean": 1e9 / iops, "percentile": {"99.000000": 2e9 / iops}}}
        none = {"iops": 0, "bw_bytes": 0, "total_ios": 0, "lat_ns": {"mean": 0}}
        out.append({"jobname": "warm-" + j, "error": 0, "read": none, "write": side})
        out.append({"jobname": j, "error": 0, "read": side if rw == "read" else none,
                    "write": side if rw == "write" else none})
        stat = lambda t: "42 (proc name) S " + " ".join(["0"] * 10) + " %d 0 1 1" % t
        with open(os.path.join(d, j + ".cpu"), "w") as f:
            if daemon_ticks is not None:
                f.write("before_daemon_stat=%s\nafter_daemon_stat=%s\n" % (stat(100), stat(100 + daemon_ticks)))
            if server_ticks is not None:
                f.write("before_server_stat=%s\nafter_server_stat=%s\n" % (stat(7), stat(7 + server_ticks)))
            if osd_ticks is not None:
                f.write("before_osd_stat=%s\nafter_osd_stat=%s\n" % (stat(3), stat(3 + osd_ticks)))
    with open(os.path.join(d, "fio.json"), "w") as f:
        f.write("note: a line before the JSON\n" + json.dumps({"jobs": out}))
    with open(os.path.join(d, "status"), "w") as f:
        f.write("ok\n")
    with open(os.path.join(d, "info"), "w") as f:
        f.write("clk_tck=100\n")
row("brd", 50000, None, None)
row("qsd-null", 500, 50, None)
row("qsd-nbd-tls", 100, 40, 30)
row("netblk-1q", 400, 20, 10)
with open(os.path.join(res, "netblk-1q", "mem"), "w") as f:
    f.write("daemon_hwm_kb=20480\n")
with open(os.path.join(res, "netblk-1q", "tls.txt"), "w") as f:
    f.write("suite=TLS_CHACHA20_POLY1305_SHA256\norder=TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384\n")
os.makedirs(os.path.join(res, "knbd"))
with open(os.path.join(res, "knbd", "status"), "w") as f:
    f.write("failed: nbd-client failed: no such export\n")
# The Ceph rows: librbd at 200 IOPS, the kernel client at 250, ours at
# 100; the OSD's CPU grows by 30, 30 and 60 ticks per job.
row("ceph-qsd-rbd", 200, 40, None, osd_ticks=30)
row("ceph-krbd", 250, None, None, osd_ticks=30)
row("ceph-netblk", 100, 20, 50, osd_ticks=60)
with open(os.path.join(res, "ceph.txt"), "w") as f:
    f.write("start_rc=0\nstart_s=77\nceph=ceph version 16.2.15\n")
with open(os.path.join(res, "ceph-netblk", "node-stats.txt"), "w") as f:
    f.write("reads=5 writes=7\n")
# 12 jobs (warm-ups too) of 1000 I/Os each; the OSD served 3000 reads and
# 9000 writes meanwhile.
for name, ops in (("before", (5, 2, 3)), ("after", (12005, 3002, 9003))):
    with open(os.path.join(res, "ceph-netblk", "osd-perf-%s.json" % name), "w") as f:
        json.dump({"osd": {"op": ops[0], "op_r": ops[1], "op_w": ops[2]}}, f)
# Three rounds (round K > 1 in rK/): row 3 at 100, 300, 200 IOPS; row 5a
# at 400 and 900, its third round failed; row 5a's peak memory is largest
# in round 2.
with open(os.path.join(res2, "info.txt"), "w") as f:
    f.write("rounds=3\nnproc=2\n")
for k, (r3, r5) in enumerate([(100, 400), (300, 900), (200, None)], 1):
    base = res2 if k == 1 else os.path.join(res2, "r%d" % k)
    row("qsd-nbd-tls", r3, 40, 30, base)
    row("qsd-null", 500, 50, None, base)
    if r5 is None:
        os.makedirs(os.path.join(base, "netblk-1q"))
        with open(os.path.join(base, "netblk-1q", "status"), "w") as f:
            f.write("failed: mock exited\n")
        continue
    row("netblk-1q", r5, 20, 10, base)
    with open(os.path.join(base, "netblk-1q", "mem"), "w") as f:
        f.write("daemon_hwm_kb=%d\n" % (10240 * k + 10240))
PY
echo "git=fixture" >"$out/meta.txt"
echo "git=fixture" >"$out2/meta.txt"

python3 "$src/bench/report.py" "$out" >"$tmp/table.txt" 2>"$tmp/err" ||
	fail "report.py failed: $(cat "$tmp/err")"
t=$tmp/table.txt
# 400 / 100 IOPS, 2500 / 10000 us, (20/4000) / (40/1000) s per I/O.
grep -Eq '^randread-4k-qd32 +5a / row 3 +4\.00x +0\.25x +0\.25x +0\.12x' "$t" ||
	fail "ratio line 5a / row 3 wrong: $(grep 'randread-4k-qd32 *5a / row 3' "$t")"
grep -Eq '^write-128k-qd8 +5a / row 2 +0\.80x' "$t" || fail "ratio 5a / row 2 wrong"
grep -Eq '^randread-4k-qd1 +4 +kernel nbd.*failed: nbd-client failed: no such export' "$t" ||
	fail "the failed row does not show its reason"
grep -Eq '^randread-4k-qd1 +5b .*(not run|failed)' "$t" || fail "the missing row is not marked"
grep -Eq '^randread-4k-qd32 +5a .* 400 .* 0\.0500 +0\.0250$' "$t" ||
	fail "CPU per 1000 I/Os of row 5a wrong: $(grep '^randread-4k-qd32 *5a' "$t")"
grep -q '^row 5a TLS suite: TLS_CHACHA20_POLY1305_SHA256 (' "$t" ||
	fail "the header does not show row 5a's TLS suite"
grep -q '^row 5b TLS suite' "$t" && fail "a TLS suite shown for row 5b, which did not run"
grep -Eq '^randread-4k-qd32 +1 +brd .* - +-$' "$t" || fail "row 1 should have no CPU figures"
grep -Eq '^ +met +\[netblk-1q\] 4k random read\+write QD32' "$t" || fail "QD32 target should be met (4x row 3, 0.8x row 2)"
grep -Eq '^ +met +\[netblk-1q\] 4k random read QD1' "$t" || fail "QD1 latency target should be met (0.25x)"
grep -Eq '^ +met +\[netblk-1q\] daemon resident' "$t" || fail "memory target should be met (20 MiB)"
grep -Eq '^ +not measured +\[netblk-2q\]' "$t" || fail "targets of the missing row should be 'not measured'"
# Ceph: 100 / 200 IOPS; OSD (60/1000) / (30/2000) s per I/O; daemon
# (20/1000) / (40/2000).
grep -Eq '^randwrite-4k-qd32 +C3 / C1 +0\.50x +0\.50x +2\.00x +2\.00x +1\.00x +4\.00x$' "$t" ||
	fail "Ceph ratio C3 / C1 wrong: $(grep 'randwrite-4k-qd32 *C3 / C1' "$t")"
grep -Eq '^randwrite-4k-qd32 +C3 / C2 +0\.40x .* - +5\.00x$' "$t" ||
	fail "Ceph ratio C3 / C2 wrong: $(grep 'randwrite-4k-qd32 *C3 / C2' "$t")"
grep -Eq '^randread-4k-qd1 +C3 +vduse-netblk.* 100 .* 0\.2000 +0\.5000 +0\.6000$' "$t" ||
	fail "CPU of row C3 wrong: $(grep '^randread-4k-qd1 *C3' "$t")"
grep -q 'netblk-node counters after the jobs: reads=5 writes=7' "$t" || fail "the node's counters are not shown"
grep -Eq '^ +C3 .*OSD ops per I/O 1\.00 \(3000 reads \+ 9000 writes for 12000 I/Os\)' "$t" ||
	fail "OSD ops per I/O of row C3 wrong: $(grep '^ *C3 ' "$t")"
grep -q 'start exit 0 after 77 s' "$t" || fail "the Ceph start is not shown"
[ "$(wc -l <"$out/results.csv")" = 55 ] || fail "results.csv: $(wc -l <"$out/results.csv") lines, expected 1 + 9 rows x 6 jobs"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d["ratios"]) == 36 and d["targets"]' \
	"$out/results.json" || fail "results.json incomplete"

# Rounds: every figure the median of the rounds that worked, the spread shown.
python3 "$src/bench/report.py" "$out2" >"$tmp/table2.txt" 2>"$tmp/err" ||
	fail "report.py failed on three rounds: $(cat "$tmp/err")"
t=$tmp/table2.txt
grep -Eq '^randread-4k-qd32 +3 +qsd.* 200 .* +100-300$' "$t" ||
	fail "row 3 over three rounds: $(grep '^randread-4k-qd32 *3 ' "$t")"
grep -Eq '^randread-4k-qd32 +5a .* 650 .* +400-900 \(2 of 3 rounds ok\)$' "$t" ||
	fail "row 5a over two good rounds of three: $(grep '^randread-4k-qd32 *5a' "$t")"
# 650 / 200 IOPS
grep -Eq '^randread-4k-qd32 +5a / row 3 +3\.25x' "$t" ||
	fail "ratio of the medians wrong: $(grep 'randread-4k-qd32 *5a / row 3' "$t")"
grep -Eq '^ +5a .*ok in 2 of 3 rounds \(round 3 failed: mock exited\); vduse-netblk VmHWM 30\.0 MiB' "$t" ||
	fail "row 5a status/memory over the rounds: $(grep '^ *5a ' "$t" | tail -1)"
grep -q '^rounds: 3 ' "$t" || fail "the header does not say the figures are medians of 3 rounds"
grep -q 'on Ceph' "$t" && fail "a Ceph section although no Ceph row ran"
python3 -c 'import csv, sys; r = [x for x in csv.DictReader(open(sys.argv[1])) if x["id"] == "netblk-1q" and x["job"] == "randread-4k-qd32"][0]; assert (r["rounds_ok"], r["iops_min"], r["iops_max"]) == ("2", "400", "900"), r' \
	"$out2/results.csv" || fail "results.csv lacks the rounds of row 5a"
echo "bench: scripts clean, report.py computes and marks as expected (one round and three)"
