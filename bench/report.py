#!/usr/bin/env python3
"""bench/report.py OUTDIR - the table, ratios and targets of bench/run.sh.

Reads what bench/guest.sh left in OUTDIR/vm/results and bench/host.sh in
OUTDIR/host, prints the table (also written to OUTDIR/table.txt by run.sh)
and writes OUTDIR/results.json (everything), OUTDIR/results.csv (one line
per measurement), OUTDIR/ratios.csv and OUTDIR/targets.csv.
Missing or broken inputs become "failed: REASON" cells, never a crash.
"""
import csv
import json
import os
import sys

ROWS = [
    # id, number, label, daemon, server
    ("brd", "1", "brd RAM disk (kernel only)", None, None),
    ("qsd-null", "2", "qsd vduse-blk -> null-co", "qsd", None),
    ("qsd-nbd-tls", "3", "qsd vduse-blk -> NBD/TLS -> nbdkit", "qsd", "nbdkit"),
    ("knbd", "4", "kernel nbd -> nbdkit (no TLS)", None, "nbdkit"),
    ("netblk-1q", "5a", "vduse-netblk 1q -> mock (TLS 1.3)", "vduse-netblk", "mock"),
    ("netblk-2q", "5b", "vduse-netblk 2q -> mock (TLS 1.3)", "vduse-netblk", "mock"),
]
# The Ceph rows (issue #15 E, bench/run.sh --ceph): one Ceph cluster in the
# guest, one pool; the OSD's CPU time is reported beside daemon and server.
CEPH_ROWS = [
    ("ceph-qsd-rbd", "C1", "qsd vduse-blk -> librbd -> RADOS", "qsd", None),
    ("ceph-krbd", "C2", "kernel rbd -> RADOS", None, None),
    ("ceph-netblk", "C3", "vduse-netblk 1q -> netblk-node -> RADOS", "vduse-netblk", "netblk-node"),
]
CEPH_IDS = [r[0] for r in CEPH_ROWS]
# Ratios of the Ceph rows: ours / theirs.
CEPH_RATIOS = [("ceph-netblk", "ceph-qsd-rbd"), ("ceph-netblk", "ceph-krbd")]
ALL_ROWS = ROWS + CEPH_ROWS
ROW_NUM = {r[0]: r[1] for r in ALL_ROWS}
VM_JOBS = ["randread-4k-qd1", "randwrite-4k-qd1", "randread-4k-qd32",
           "randwrite-4k-qd32", "read-128k-qd8", "write-128k-qd8"]
HOST_JOBS = ["randread-4k-qd32", "randwrite-4k-qd32", "read-128k-qd8", "write-128k-qd8"]
OURS = [r for r in ROWS if r[0].startswith("netblk-")]


def read_kv(path):
    """key=value lines; a missing file is an empty dict."""
    kv = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                k, sep, v = line.rstrip("\n").partition("=")
                if sep:
                    kv[k] = v
    except OSError:
        pass
    return kv


def read_text(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return default


def load_fio(path):
    """fio JSON (text before the first '{' skipped) -> {jobname: job}."""
    text = read_text(path)
    start = text.find("{")
    if start < 0:
        raise ValueError("no fio JSON in %s" % os.path.basename(path))
    data = json.loads(text[start:])
    return {j.get("jobname"): j for j in data.get("jobs", [])}


def fio_metrics(job):
    """IOPS, MB/s, mean and p99 latency (us) and I/O count of one fio job."""
    dirs = [job[d] for d in ("read", "write") if job.get(d, {}).get("total_ios", 0) > 0]
    if job.get("error"):
        raise ValueError("fio error %s" % job["error"])
    if not dirs:
        raise ValueError("no I/O completed")
    ios = sum(d["total_ios"] for d in dirs)
    lat_sum = sum(d["lat_ns"]["mean"] * d["total_ios"] for d in dirs)
    p99 = max(d["lat_ns"].get("percentile", {}).get("99.000000", 0) for d in dirs)
    return {
        "iops": sum(d["iops"] for d in dirs),
        "mbps": sum(d["bw_bytes"] for d in dirs) / 1e6,
        "lat_mean_us": lat_sum / ios / 1000.0,
        "lat_p99_us": p99 / 1000.0,
        "ios": ios,
    }


def stat_ticks(line):
    """utime+stime from a /proc/PID/stat line (fields after "pid (comm) ")."""
    rest = line[line.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12])


def cpu_per_1k(cpu, who, ios, clk_tck):
    b, a = cpu.get("before_%s_stat" % who), cpu.get("after_%s_stat" % who)
    if not b or not a or not ios:
        return None
    try:
        return (stat_ticks(a) - stat_ticks(b)) / clk_tck / ios * 1000.0
    except (ValueError, IndexError):
        return None


def median(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


# The figures of a job that are the median over the rounds.
MEDIAN_KEYS = ["iops", "mbps", "lat_mean_us", "lat_p99_us", "daemon_cpu_s_per_1k",
               "server_cpu_s_per_1k", "client_cpu_s_per_1k", "osd_cpu_s_per_1k"]


def combine_job(per_round):
    """One job's figures of each round -> the medians, with the spread.

    per_round: list of metric dicts (status "ok" or "failed: ..."), one per
    round. With one round it is returned as it is."""
    if len(per_round) == 1:
        return per_round[0]
    ok = [m for m in per_round if m["status"] == "ok"]
    if not ok:
        return dict(per_round[0])
    m = {"status": "ok", "rounds": len(per_round), "rounds_ok": len(ok),
         "ios": sum(x.get("ios", 0) for x in ok)}
    for k in MEDIAN_KEYS:
        if any(k in x for x in ok):
            m[k] = median(x.get(k) for x in ok)
    iops = [x["iops"] for x in ok]
    m["iops_min"], m["iops_max"] = min(iops), max(iops)
    m["per_round"] = per_round
    failed = [(i + 1, x["status"]) for i, x in enumerate(per_round) if x["status"] != "ok"]
    if failed:
        m["note"] = "; ".join("round %d %s" % f for f in failed)
    return m


def rounds_of(path):
    try:
        return max(1, int(read_kv(path).get("rounds", "1") or 1))
    except ValueError:
        return 1


def round_dirs(base, rounds):
    """Round 1 in BASE, round K > 1 in BASE/rK."""
    return [base] + [os.path.join(base, "r%d" % k) for k in range(2, rounds + 1)]


def load_vm_row(d, daemon, server, osd=False):
    """One row's results of one round (its directory d)."""
    status = read_text(os.path.join(d, "status")).strip()
    if not os.path.isdir(d):
        status = "not run"
    elif not status:
        status = "failed: no result (VM stopped during this row?)"
    row = {"status": status, "jobs": {}, "mem": read_kv(os.path.join(d, "mem"))}
    clk = int(read_kv(os.path.join(d, "info")).get("clk_tck", "100") or 100)
    try:
        fio = load_fio(os.path.join(d, "fio.json"))
        fio_err = None
    except (ValueError, OSError, KeyError) as e:
        fio, fio_err = {}, str(e)
    for job in VM_JOBS:
        m = {"status": "ok"}
        if job not in fio:
            m["status"] = "failed: " + (fio_err or "job missing in fio output")
            if not status.startswith("ok"):
                m["status"] = status if status.startswith("failed") else "failed: " + status
        else:
            try:
                m.update(fio_metrics(fio[job]))
            except (ValueError, KeyError, TypeError) as e:
                m["status"] = "failed: %s" % e
        if m["status"] == "ok":
            cpu = read_kv(os.path.join(d, job + ".cpu"))
            m["daemon_cpu_s_per_1k"] = cpu_per_1k(cpu, "daemon", m["ios"], clk) if daemon else None
            m["server_cpu_s_per_1k"] = cpu_per_1k(cpu, "server", m["ios"], clk) if server else None
            if osd:
                m["osd_cpu_s_per_1k"] = cpu_per_1k(cpu, "osd", m["ios"], clk)
            m["loadavg"] = cpu.get("loadavg")
        row["jobs"][job] = m
    if osd:
        row["osd_ops"] = osd_ops(d, fio)
    return row


def osd_ops(d, fio):
    """RADOS ops the OSD served during the row's fio run (its perf counters
    before and after, osd-perf-*.json) per I/O fio completed in that run,
    warm-ups included: {"ops", "op_r", "op_w", "ios", "per_io"} or {}."""
    try:
        b = json.loads(read_text(os.path.join(d, "osd-perf-before.json")))["osd"]
        a = json.loads(read_text(os.path.join(d, "osd-perf-after.json")))["osd"]
        r = {k: a[k] - b[k] for k in ("op", "op_r", "op_w")}
    except (ValueError, KeyError, TypeError):
        return {}
    ios = sum(j.get(x, {}).get("total_ios", 0) for j in fio.values() for x in ("read", "write"))
    r["ios"] = ios
    r["per_io"] = r["op"] / ios if ios else None
    return r


def max_kb(values):
    v = [int(x) for x in values if x and x.isdigit()]
    return str(max(v)) if v else None


def load_vm(out):
    res = os.path.join(out, "vm", "results")
    nrounds = rounds_of(os.path.join(res, "info.txt"))
    rows = {}
    for rid, num, label, daemon, server in ALL_ROWS:
        per = [load_vm_row(os.path.join(r, rid), daemon, server, rid in CEPH_IDS)
               for r in round_dirs(res, nrounds)]
        status = per[0]["status"]
        if nrounds > 1:
            bad = ["round %d %s" % (i + 1, p["status"]) for i, p in enumerate(per)
                   if not p["status"].startswith("ok")]
            if not bad:
                status = "ok"
            elif len(bad) < nrounds:
                status = "ok in %d of %d rounds (%s)" % (nrounds - len(bad), nrounds, "; ".join(bad))
            else:
                status = per[0]["status"]
        # Memory: the largest peak of any round.
        mems = [p["mem"] for p in per]
        mem = dict(mems[0])
        if nrounds > 1:
            hwm = max_kb(m.get("daemon_hwm_kb") for m in mems)
            if hwm:
                mem["daemon_hwm_kb"] = hwm
                mem["daemon_rss_kb"] = next(m.get("daemon_rss_kb") for m in mems
                                            if m.get("daemon_hwm_kb") == hwm)
            shwm = max_kb(m.get("server_hwm_kb") for m in mems)
            if shwm:
                mem["server_hwm_kb"] = shwm
        rows[rid] = {"id": rid, "num": num, "label": label, "daemon": daemon, "server": server,
                     "status": status, "mem": mem, "rounds": nrounds,
                     "jobs": {job: combine_job([p["jobs"][job] for p in per]) for job in VM_JOBS}}
        if rid in CEPH_IDS:
            rows[rid]["osd_ops"] = per[0].get("osd_ops", {})
        if rid == "ceph-netblk":
            rows[rid]["node_stats"] = read_text(os.path.join(res, rid, "node-stats.txt")).strip()
    return rows


def parse_cli(text):
    m = {}
    for line in text.splitlines():
        w = line.split()
        if len(w) > 8 and w[0] == "bench:" and w[2] == "I/Os":
            m["ios"] = int(w[1])
            m["iops"] = float(w[6])
            m["mbps"] = float(w[8])
        elif len(w) > 7 and w[:3] == ["bench:", "latency", "us:"]:
            m["lat_mean_us"] = float(w[w.index("mean") + 1])
            m["lat_p99_us"] = float(w[w.index("p99") + 1])
    if "iops" not in m or "lat_mean_us" not in m:
        raise ValueError("no result in netblk-cli output")
    return m


def times_seconds(text):
    """Children's user+system seconds from bash's `times` (second line)."""
    lines = text.strip().splitlines()
    if len(lines) < 2:
        return None
    total = 0.0
    for t in lines[1].split():
        mins, _, secs = t.rstrip("s").partition("m")
        total += int(mins) * 60 + float(secs)
    return total


def parse_openssl(text):
    """`openssl speed -evp C -bytes N` result lines -> {cipher: MB/s}."""
    speeds = {}
    for line in text.splitlines():
        w = line.split()
        if len(w) == 2 and w[1].endswith("k"):
            try:
                speeds[w[0].lower()] = float(w[1][:-1]) * 1000 / 1e6
            except ValueError:
                pass
    return speeds


def load_host_job(h, job, tool):
    """One host job of one tool in one round (its directory h)."""
    base = os.path.join(h, "%s.%s" % (job, tool))
    m = {"status": "ok"}
    try:
        if tool == "cli":
            m.update(parse_cli(read_text(base + ".txt")))
        else:
            fio = load_fio(base + ".json")
            if job not in fio:
                raise ValueError("job missing in fio output")
            m.update(fio_metrics(fio[job]))
        cpu = read_kv(base + ".cpu")
        clk = int(cpu.get("clk_tck", "100") or 100)
        client = times_seconds(read_text(base + ".times"))
        m["client_cpu_s_per_1k"] = client / m["ios"] * 1000 if client is not None else None
        st = cpu.get("server_ticks")
        m["server_cpu_s_per_1k"] = int(st) / clk / m["ios"] * 1000 if st else None
    except (ValueError, KeyError, TypeError, OSError) as e:
        err = read_text(base + ".err").strip().splitlines()
        m = {"status": "failed: %s%s" % (e, (" (" + err[-1][:80] + ")") if err else "")}
    return m


def load_host(out):
    h = os.path.join(out, "host")
    if not os.path.isdir(h):
        return None
    host = {"jobs": {}, "info": read_kv(os.path.join(h, "info.txt"))}
    nrounds = rounds_of(os.path.join(h, "info.txt"))
    host["rounds"] = nrounds
    for job in HOST_JOBS:
        host["jobs"][job] = {}
        for tool in ("cli", "fio"):
            host["jobs"][job][tool] = combine_job([load_host_job(d, job, tool)
                                                   for d in round_dirs(h, nrounds)])
    host["openssl_mbps"] = parse_openssl(read_text(os.path.join(h, "openssl.txt")))
    host["aes_gcm_mbps"] = host["openssl_mbps"].get("aes-128-gcm")
    host["perf"] = {}
    for job in HOST_JOBS:
        for tool in ("cli", "fio"):
            text = read_text(os.path.join(h, "perf-%s-%s.txt" % (tool, job)))
            if text.strip():
                host["perf"]["%s %s" % (tool, job)] = text
    return host


def fmt(v, digits=0):
    if v is None:
        return "-"
    if digits == 0 and abs(v) >= 100:
        return "{:,.0f}".format(v)
    return "{:.{}f}".format(v, max(digits, 1) if abs(v) < 100 else 0)


def fmt_cpu(v):
    return "-" if v is None else "%.4f" % v


def fmt_range(m):
    """ "  LOW-HIGH" IOPS of the rounds (and the failed ones), or "" for one round."""
    if "iops_min" not in m:
        return ""
    r = "  %s-%s" % (fmt(m["iops_min"]), fmt(m["iops_max"]))
    if m["rounds_ok"] < m["rounds"]:
        r += " (%d of %d rounds ok)" % (m["rounds_ok"], m["rounds"])
    return r


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "-" if r is None else "%.2fx" % r


def build_ratios(vm):
    out = []
    pairs = [(o[0], b) for o in OURS for b in ("qsd-null", "qsd-nbd-tls")]
    if any(vm[r]["status"] != "not run" for r in CEPH_IDS):
        pairs += CEPH_RATIOS
    for job in VM_JOBS:
        for ours, base in pairs:
            a, b = vm[ours]["jobs"][job], vm[base]["jobs"][job]
            ok = a["status"] == "ok" and b["status"] == "ok"
            out.append({
                "job": job, "ours": ours, "base": base,
                "iops": ratio(a.get("iops"), b.get("iops")) if ok else None,
                "mbps": ratio(a.get("mbps"), b.get("mbps")) if ok else None,
                "lat_mean": ratio(a.get("lat_mean_us"), b.get("lat_mean_us")) if ok else None,
                "lat_p99": ratio(a.get("lat_p99_us"), b.get("lat_p99_us")) if ok else None,
                "daemon_cpu": ratio(a.get("daemon_cpu_s_per_1k"), b.get("daemon_cpu_s_per_1k")) if ok else None,
                "osd_cpu": ratio(a.get("osd_cpu_s_per_1k"), b.get("osd_cpu_s_per_1k")) if ok else None,
            })
    return out


def find_ratio(ratios, job, ours, base, key):
    for r in ratios:
        if r["job"] == job and r["ours"] == ours and r["base"] == base:
            return r[key]
    return None


def check(desc, values):
    """values: list of (label, measured, limit, op); op '>=' or '<='."""
    parts, verdicts = [], []
    for label, got, limit, op in values:
        if got is None:
            parts.append("%s n/a" % label)
            verdicts.append(None)
            continue
        ok = got >= limit if op == ">=" else got <= limit
        verdicts.append(ok)
        parts.append("%s %.2f%s" % (label, got, "" if ok else " (!)"))
    if any(v is None for v in verdicts):
        verdict = "not measured" if all(v is None for v in verdicts) else ("NOT met" if False in verdicts else "incomplete")
    else:
        verdict = "met" if all(verdicts) else "NOT met"
    return {"target": desc, "verdict": verdict, "detail": "; ".join(parts)}


def build_targets(vm, ratios, host):
    t = []
    for ours in OURS if vm is not None else []:
        q = ours[0]
        tag = "[%s] " % q
        vals = []
        for job in ("randread-4k-qd32", "randwrite-4k-qd32"):
            short = job.split("-")[0]
            vals.append(("%s/row3" % short, find_ratio(ratios, job, q, "qsd-nbd-tls", "iops"), 3.0, ">="))
            vals.append(("%s/row2" % short, find_ratio(ratios, job, q, "qsd-null", "iops"), 0.5, ">="))
        t.append(check(tag + "4k random read+write QD32: >= 3x row 3 and >= 0.5x row 2 (IOPS)", vals))
        vals = [("%s/row3" % job.split("-")[0], find_ratio(ratios, job, q, "qsd-nbd-tls", "mbps"), 3.0, ">=")
                for job in ("write-128k-qd8", "read-128k-qd8")]
        t.append(check(tag + "128k sequential write+read QD8: >= 3x row 3 (MB/s)", vals))
        t.append(check(tag + "4k random read QD1: mean latency <= 0.7x row 3",
                       [("lat/row3", find_ratio(ratios, "randread-4k-qd1", q, "qsd-nbd-tls", "lat_mean"), 0.7, "<=")]))
        t.append(check(tag + "daemon CPU per I/O <= 0.5x qsd's in row 3 (every job)",
                       [(job, find_ratio(ratios, job, q, "qsd-nbd-tls", "daemon_cpu"), 0.5, "<=") for job in VM_JOBS]))
        hwm = vm[q]["mem"].get("daemon_hwm_kb")
        t.append(check(tag + "daemon resident size < 64 MiB per device (VmHWM, queue size 256)",
                       [("VmHWM MiB", int(hwm) / 1024 if hwm else None, 64.0 - 1e-9, "<=")]))
    if host is not None:
        vals = []
        for job in ("randread-4k-qd32", "randwrite-4k-qd32"):
            c, f = host["jobs"][job]["cli"], host["jobs"][job]["fio"]
            vals.append((job.split("-")[0] + " cli/fio", ratio(c.get("iops"), f.get("iops")), 1.5, ">="))
        t.append(check("[host] engine 4k QD32: >= 1.5x fio+libnbd+nbdkit (IOPS)", vals))
        vals = []
        for job in ("write-128k-qd8", "read-128k-qd8"):
            c = host["jobs"][job]["cli"]
            vals.append((job.split("-")[0] + " MB/s / AES-GCM", ratio(c.get("mbps"), host["aes_gcm_mbps"]), 0.5, ">="))
        t.append(check("[host] engine 128k sequential: >= 0.5x one core's AES-128-GCM", vals))
    return t


def probe_lines(where, path):
    """netblk-tls-probe's output (bench/tls_probe.c), each run's first line
    saying where it ran."""
    return [("%s %s" % (where, x)) if x.startswith("netblk-tls-probe") else x
            for x in read_text(path).rstrip().splitlines()]


def render_ceph(meta, vm, ratios, ran):
    """The Ceph rows: their table, status, ratios and the node's counters."""
    res = os.path.join(meta["out"], "vm", "results")
    L = ["", "== In the VM, on Ceph (issue #15 E) =="]
    ci = read_kv(os.path.join(res, "ceph.txt"))
    L.append("one cluster started in the guest (tests/ceph/ceph-cluster.sh: 1 monitor, 1 OSD, memstore, pool "
             "size 1): start exit %s after %s s; %s" % (ci.get("start_rc", "?"), ci.get("start_s", "?"),
                                                        ci.get("ceph", "?")))
    L.append("each row its own 256 MiB image or volume in that pool, 4 MiB objects; RBD images with the "
             "layering feature only; qsd's rbd node with cache.direct=on (no librbd cache)")
    L.append("daemon = qsd or vduse-netblk; server = netblk-node (rados backend, --threads = vCPUs); "
             "osd = ceph-osd; CPU s per 1000 I/Os")
    hdr = "%-18s %-42s %9s %8s %9s %9s %10s %10s %10s" % (
        "job", "row", "IOPS", "MB/s", "mean us", "p99 us", "daemon cpu", "server cpu", "osd cpu")
    multi = any(vm[r[0]].get("rounds", 1) > 1 for r in ran)
    if multi:
        hdr += "  %-15s" % "IOPS range"
    L.append(hdr)
    L.append("-" * len(hdr))
    for job in VM_JOBS:
        for rid, num, label, _, _ in ran:
            m = vm[rid]["jobs"][job]
            name = "%-3s %s" % (num, label)
            if m["status"] != "ok":
                L.append("%-18s %-42s %s" % (job, name, m["status"][:70]))
                continue
            L.append("%-18s %-42s %9s %8s %9s %9s %10s %10s %10s%s" % (
                job, name, fmt(m["iops"]), fmt(m["mbps"], 1), fmt(m["lat_mean_us"], 1),
                fmt(m["lat_p99_us"], 1), fmt_cpu(m.get("daemon_cpu_s_per_1k")),
                fmt_cpu(m.get("server_cpu_s_per_1k")), fmt_cpu(m.get("osd_cpu_s_per_1k")), fmt_range(m)))
        L.append("")
    L.append("Row status and memory (VmHWM after all jobs):")
    for rid, num, label, daemon, server in ran:
        r = vm[rid]
        mem = r["mem"]
        parts = []
        if daemon and mem.get("daemon_hwm_kb"):
            parts.append("%s VmHWM %.1f MiB" % (daemon, int(mem["daemon_hwm_kb"]) / 1024))
        if server and mem.get("server_hwm_kb"):
            parts.append("%s VmHWM %.1f MiB" % (server, int(mem["server_hwm_kb"]) / 1024))
        if mem.get("osd_hwm_kb"):
            parts.append("ceph-osd VmHWM %.1f MiB" % (int(mem["osd_hwm_kb"]) / 1024))
        ops = r.get("osd_ops") or {}
        if ops.get("per_io") is not None:
            parts.append("OSD ops per I/O %.2f (%d reads + %d writes for %d I/Os%s)" % (
                ops["per_io"], ops["op_r"], ops["op_w"], ops["ios"],
                ", round 1" if r.get("rounds", 1) > 1 else ""))
        L.append("  %-3s %-42s %s%s" % (num, label, r["status"], ("; " + ", ".join(parts)) if parts else ""))
    tls = read_kv(os.path.join(res, "ceph-netblk", "tls.txt"))
    if tls.get("suite"):
        L.append("  C3 TLS suite (vduse-netblk -> netblk-node): %s; netblk-node I/O threads: %s" % (
            tls["suite"], tls.get("threads", "?")))
    if vm["ceph-netblk"].get("node_stats"):
        L.append("  netblk-node counters after the jobs: %s" % vm["ceph-netblk"]["node_stats"])
    L.append("")
    L.append("Ratios on Ceph (ours / theirs; latency and CPU: lower is better):")
    hdr = "%-18s %-10s %9s %9s %9s %9s %11s %9s" % ("job", "ratio", "IOPS", "MB/s", "mean lat", "p99 lat",
                                                   "daemon cpu", "osd cpu")
    L.append(hdr)
    L.append("-" * len(hdr))
    for r in ratios:
        if (r["ours"], r["base"]) not in CEPH_RATIOS:
            continue
        if vm[r["base"]]["status"] == "not run" or vm[r["ours"]]["status"] == "not run":
            continue
        L.append("%-18s %-10s %9s %9s %9s %9s %11s %9s" % (
            r["job"], "%s / %s" % (ROW_NUM[r["ours"]], ROW_NUM[r["base"]]), fmt_ratio(r["iops"]),
            fmt_ratio(r["mbps"]), fmt_ratio(r["lat_mean"]), fmt_ratio(r["lat_p99"]),
            fmt_ratio(r["daemon_cpu"]), fmt_ratio(r["osd_cpu"])))
    return L


def render(meta, vm, ratios, host, targets):
    L = []
    L.append("vduse-netblk benchmark (issue #6)   %s   git %s" % (meta.get("date", "?"), meta.get("git", "?")))
    L.append("host: %s cores; %s" % (meta.get("host_nproc", "?"), meta.get("host_uptime_start", "?").strip()))
    loads = []
    for line in read_text(os.path.join(meta["out"], "host-load-vm.txt")).split():
        try:
            loads.append(float(line))
        except ValueError:
            pass
    if loads:
        L.append("host load average (1 min) during the VM part: min %.2f, mean %.2f, max %.2f (%d samples)" % (
            min(loads), sum(loads) / len(loads), max(loads), len(loads)))
    if meta.get("host_uptime_end"):
        L.append("host at the end: %s" % meta["host_uptime_end"].strip())
    gi = read_kv(os.path.join(meta["out"], "vm", "results", "info.txt"))
    if gi:
        L.append("guest: kernel %s, %s vCPUs (QEMU TCG), %s MiB; %s" % (
            gi.get("kernel", "?"), gi.get("nproc", "?"), int(gi.get("mem_total_kb", "0") or 0) // 1024,
            gi.get("uptime", "?").strip()))
        L.append("guest tools: %s; %s; %s" % (gi.get("fio", "?"), gi.get("qsd", "?"), gi.get("nbdkit", "?")))
        ssl = parse_openssl(read_text(os.path.join(meta["out"], "vm", "results", "openssl.txt")))
        if ssl:
            L.append("guest crypto, one vCPU, 16 KiB (openssl speed): " +
                     ", ".join("%s %s MB/s" % (c, fmt(v, 1)) for c, v in ssl.items()))
        copy = read_text(os.path.join(meta["out"], "vm", "results", "copy.txt")).strip()
        if copy:
            L.append("guest kernel copy speed (dd from a tmpfs file, 128 KiB blocks): %s" % copy.split(",")[-1].strip())
        L.extend(probe_lines("guest", os.path.join(meta["out"], "vm", "results", "tls-probe.txt")))
        L.append("fio: libaio, direct=1, 1 job, %s s per job after a %s s warm-up, %s MiB region of %s MiB devices" % (
            gi.get("runtime_s", "?"), gi.get("ramp_s", "?"), gi.get("region_mb", "?"), gi.get("dev_mb", "?")))
        if rounds_of(os.path.join(meta["out"], "vm", "results", "info.txt")) > 1:
            L.append("rounds: %s (the rows ran in turn %s times in the one boot); each figure is the median of "
                     "the rounds, \"IOPS range\" the lowest and highest round" % (gi.get("rounds"), gi.get("rounds")))
    for rid, label in (("netblk-1q", "5a"), ("netblk-2q", "5b")):
        tls = read_kv(os.path.join(meta["out"], "vm", "results", rid, "tls.txt"))
        if tls.get("suite"):
            L.append("row %s TLS suite: %s (the daemon's measured order: %s)" % (
                label, tls["suite"], tls.get("order") or "?"))
    L.append("daemon = the process serving the VDUSE device (qsd, vduse-netblk); server = nbdkit or the mock;")
    L.append("CPU = utime+stime of the whole process over the measured run, seconds per 1000 I/Os")
    ran = [r for r in ROWS if vm is not None and vm[r[0]]["status"] != "not run"]
    ceph_ran = [r for r in CEPH_ROWS if vm is not None and vm[r[0]]["status"] != "not run"]
    if vm is not None and (ran or not ceph_ran):
        # All of them, a row not run marked so (as before the Ceph rows).
        ran = ROWS
        L.append("")
        L.append("== In the VM ==")
        multi = any(r.get("rounds", 1) > 1 for r in vm.values())
        hdr = "%-18s %-38s %9s %8s %9s %9s %10s %10s" % (
            "job", "row", "IOPS", "MB/s", "mean us", "p99 us", "daemon cpu", "server cpu")
        if multi:
            hdr += "  %-15s" % "IOPS range"
        L.append(hdr)
        L.append("-" * len(hdr))
        for job in VM_JOBS:
            for rid, num, label, _, _ in ran:
                m = vm[rid]["jobs"][job]
                name = "%-3s %s" % (num, label)
                if m["status"] != "ok":
                    L.append("%-18s %-38s %s" % (job, name, m["status"][:70]))
                    continue
                L.append("%-18s %-38s %9s %8s %9s %9s %10s %10s%s" % (
                    job, name, fmt(m["iops"]), fmt(m["mbps"], 1), fmt(m["lat_mean_us"], 1),
                    fmt(m["lat_p99_us"], 1), fmt_cpu(m.get("daemon_cpu_s_per_1k")),
                    fmt_cpu(m.get("server_cpu_s_per_1k")), fmt_range(m)))
            L.append("")
        L.append("Row status and memory (VmHWM = peak resident size, after all jobs):")
        for rid, num, label, daemon, server in ran:
            r = vm[rid]
            mem = r["mem"]
            parts = []
            if daemon and mem.get("daemon_hwm_kb"):
                parts.append("%s VmHWM %.1f MiB (VmRSS %.1f)" % (daemon, int(mem["daemon_hwm_kb"]) / 1024,
                                                               int(mem.get("daemon_rss_kb") or 0) / 1024))
            if server and mem.get("server_hwm_kb"):
                parts.append("%s VmHWM %.1f MiB" % (server, int(mem["server_hwm_kb"]) / 1024))
            L.append("  %-3s %-38s %s%s" % (num, label, r["status"], ("; " + ", ".join(parts)) if parts else ""))
        L.append("")
        L.append("Ratios of row 5 to rows 2 and 3 (ours / theirs; latency and CPU: lower is better):")
        hdr = "%-18s %-18s %9s %9s %9s %11s" % ("job", "ratio", "IOPS", "mean lat", "p99 lat", "daemon cpu")
        L.append(hdr)
        L.append("-" * len(hdr))
        for r in ratios:
            if r["base"] not in ("qsd-null", "qsd-nbd-tls") or vm[r["ours"]]["status"] == "not run":
                continue
            L.append("%-18s %-18s %9s %9s %9s %11s" % (
                r["job"], "%s / %s" % ("5a" if r["ours"] == "netblk-1q" else "5b",
                                       "row 2" if r["base"] == "qsd-null" else "row 3"),
                fmt_ratio(r["iops"]), fmt_ratio(r["lat_mean"]), fmt_ratio(r["lat_p99"]),
                fmt_ratio(r["daemon_cpu"])))
    if ceph_ran:
        L.extend(render_ceph(meta, vm, ratios, ceph_ran))
    if host is not None:
        hi = host["info"]
        L.append("")
        L.append("== On the host: the network engine alone (%s s per job; %s cores; %s) ==" % (
            hi.get("runtime_s", "?"), hi.get("nproc", "?"), hi.get("uptime", "?").strip()))
        L.append("cli = netblk-cli bench -> netblk-server-mock (TLS 1.3); fio = fio --ioengine=nbd (libnbd) -> nbdkit --tls=require memory")
        L.append("client cpu = netblk-cli or fio; server cpu = mock or nbdkit; seconds per 1000 I/Os")
        hdr = "%-18s %-5s %9s %8s %9s %9s %10s %10s" % ("job", "tool", "IOPS", "MB/s", "mean us", "p99 us",
                                                      "client cpu", "server cpu")
        if host.get("rounds", 1) > 1:
            L.append("rounds: %d (each job run in turn by both tools, their order flipped every round); each "
                     "figure is the median, \"IOPS range\" the lowest and highest round" % host["rounds"])
            hdr += "  %-15s" % "IOPS range"
        L.append(hdr)
        L.append("-" * len(hdr))
        for job in HOST_JOBS:
            for tool in ("cli", "fio"):
                m = host["jobs"][job][tool]
                if m["status"] != "ok":
                    L.append("%-18s %-5s %s" % (job, tool, m["status"][:80]))
                    continue
                L.append("%-18s %-5s %9s %8s %9s %9s %10s %10s%s" % (
                    job, tool, fmt(m["iops"]), fmt(m["mbps"], 1), fmt(m["lat_mean_us"], 1),
                    fmt(m["lat_p99_us"], 1), fmt_cpu(m.get("client_cpu_s_per_1k")),
                    fmt_cpu(m.get("server_cpu_s_per_1k")), fmt_range(m)))
            c, f = host["jobs"][job]["cli"], host["jobs"][job]["fio"]
            L.append("%-18s %-5s %9s" % ("", "cli/fio", fmt_ratio(ratio(c.get("iops"), f.get("iops")))))
        L.append("openssl speed -evp aes-128-gcm (16 KiB blocks, one core): %s MB/s" % fmt(host["aes_gcm_mbps"], 1))
        L.extend(probe_lines("host", os.path.join(meta["out"], "host", "tls-probe.txt")))
        for name, text in host["perf"].items():
            L.append("")
            L.append("perf, %s (client and server processes; by library, then top symbols):" % name)
            L.extend("  " + x for x in text.splitlines()[:40])
    L.append("")
    L.append("== Targets ==")
    for t in targets:
        L.append("  %-12s %s" % (t["verdict"], t["target"]))
        L.append("  %-12s   %s" % ("", t["detail"]))
    return "\n".join(L)


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py OUTDIR")
    out = sys.argv[1]
    meta = read_kv(os.path.join(out, "meta.txt"))
    meta["out"] = out
    vm = load_vm(out) if os.path.isdir(os.path.join(out, "vm")) else None
    host = load_host(out)
    ratios = build_ratios(vm) if vm is not None else []
    targets = build_targets(vm, ratios, host)
    print(render(meta, vm, ratios, host, targets))

    cols = ["iops", "mbps", "lat_mean_us", "lat_p99_us", "ios"]
    rows = []
    if vm is not None:
        for rid, num, label, daemon, server in ALL_ROWS:
            if rid in CEPH_IDS and vm[rid]["status"] == "not run":
                continue
            for job in VM_JOBS:
                m = vm[rid]["jobs"][job]
                rows.append(["vm", num, rid, label, job] + [m.get(c) for c in cols] +
                            [m.get("daemon_cpu_s_per_1k"), m.get("server_cpu_s_per_1k"),
                             vm[rid]["mem"].get("daemon_hwm_kb"), m["status"],
                             m.get("rounds_ok", 1 if m["status"] == "ok" else 0), m.get("iops_min"),
                             m.get("iops_max"), m.get("osd_cpu_s_per_1k")])
    if host is not None:
        for job in HOST_JOBS:
            for tool in ("cli", "fio"):
                m = host["jobs"][job][tool]
                rows.append(["host", "", tool, "netblk-cli -> mock" if tool == "cli" else "fio nbd -> nbdkit",
                             job] + [m.get(c) for c in cols] +
                            [m.get("client_cpu_s_per_1k"), m.get("server_cpu_s_per_1k"), "", m["status"],
                             m.get("rounds_ok", 1 if m["status"] == "ok" else 0), m.get("iops_min"),
                             m.get("iops_max"), None])
    write_csv(os.path.join(out, "results.csv"),
              ["where", "row", "id", "label", "job", "iops", "mb_per_s", "lat_mean_us", "lat_p99_us", "ios",
               "daemon_or_client_cpu_s_per_1k_io", "server_cpu_s_per_1k_io", "daemon_vmhwm_kib", "status",
               "rounds_ok", "iops_min", "iops_max", "osd_cpu_s_per_1k_io"], rows)
    write_csv(os.path.join(out, "ratios.csv"),
              ["job", "ours", "base", "iops", "mb_per_s", "lat_mean", "lat_p99", "daemon_cpu_per_io",
               "osd_cpu_per_io"],
              [[r["job"], r["ours"], r["base"], r["iops"], r["mbps"], r["lat_mean"], r["lat_p99"],
                r["daemon_cpu"], r["osd_cpu"]] for r in ratios])
    write_csv(os.path.join(out, "targets.csv"), ["target", "verdict", "detail"],
              [[t["target"], t["verdict"], t["detail"]] for t in targets])
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "vm": vm, "host": host, "ratios": ratios, "targets": targets}, f, indent=1)


if __name__ == "__main__":
    main()
