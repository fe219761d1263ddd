# SPDX-License-Identifier: MIT
"""check_systemd.py SRC: the fields of deploy/systemd's units that the
daemon and the deploy guide rely on (systemd-analyze verify checks the
syntax; this checks the meaning). Every failure names the file and field."""

import os
import re
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy_check import Checker  # noqa: E402

# The tree's units name the Debian package's paths; cmake --install
# rewrites them for its prefix (cmake/units.cmake).
BIN = "/usr/bin/vduse-netblk"
STATE_DIR = "/run/vduse-netblk"
SPEC_DIR = "/etc/vduse-netblk/specs"
CAPS = {"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}
MODULES = ["vduse", "virtio_vdpa", "vhost_vdpa"]


def parse_unit(path):
    """{section: {key: [values]}} of a unit file."""
    units, section = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            m = re.match(r"\[(.+)\]$", line)
            if m:
                section = units.setdefault(m.group(1), {})
                continue
            k, _, v = line.partition("=")
            section.setdefault(k.strip(), []).append(v.strip())
    return units


def one(u, sec, key):
    vals = u.get(sec, {}).get(key, [])
    return vals[-1] if vals else None


def opt_value(argv, opt):
    return argv[argv.index(opt) + 1] if opt in argv and argv.index(opt) + 1 < len(argv) else None


def check_common(c, path, u, argv):
    s = "Service"
    c.expect(argv and argv[0] == BIN, path, "ExecStart", f"must run {BIN}")
    c.expect("--foreground" in argv, path, "ExecStart",
             "needs --foreground (systemd follows the process it started)")
    c.expect(one(u, s, "Type") == "notify", path, "Type",
             "must be notify (the daemon says READY=1 once it serves)")
    c.expect(one(u, s, "NotifyAccess") in (None, "main"), path, "NotifyAccess",
             "must be main (only the daemon itself notifies)")
    wd = one(u, s, "WatchdogSec") or "0"
    c.expect(wd.isdigit() and int(wd) >= 10, path, "WatchdogSec",
             "must be 10 s or more (the main loop pings at half of it)")
    c.expect(one(u, s, "ExecStartPost") is None, path, "ExecStartPost",
             "must be gone: READY=1 comes once the disk exists")
    c.expect(one(u, s, "ExecReload") == "/bin/kill -HUP $MAINPID", path, "ExecReload",
             "must be '/bin/kill -HUP $MAINPID' (SIGHUP re-reads the certificates)")
    c.expect(one(u, s, "KillSignal") == "SIGTERM", path, "KillSignal",
             "must be SIGTERM (detaches the disk)")
    c.expect(one(u, s, "Restart") == "on-failure", path, "Restart",
             "must be on-failure: a crash restarts (takeover), while exit 0 after "
             "SIGUSR1 must not start a daemon the upgrade is about to start")
    opt = "--run-dir" if argv[1:2] == ["agent"] else "--state-dir"
    state = opt_value(argv, opt) or STATE_DIR
    c.expect(state == STATE_DIR, path, "ExecStart", f"{opt} must be {STATE_DIR}")
    rw = " ".join(u.get(s, {}).get("ReadWritePaths", [])).split()
    c.expect(state in rw, path, "ReadWritePaths", f"must include the state dir {state}")
    c.expect(one(u, s, "RuntimeDirectory") == os.path.basename(state), path, "RuntimeDirectory",
             f"must be {os.path.basename(state)}")
    c.expect(one(u, s, "RuntimeDirectoryPreserve") == "yes", path, "RuntimeDirectoryPreserve",
             "must be yes: the takeover state must outlive a stop")
    caps = set(" ".join(u.get(s, {}).get("CapabilityBoundingSet", [])).split())
    c.expect(caps == CAPS, path, "CapabilityBoundingSet",
             f"must be exactly {sorted(CAPS)} (VDUSE create/destroy, vdpa netlink), is {sorted(caps)}")
    allow = u.get(s, {}).get("DeviceAllow", [])
    c.expect(one(u, s, "DevicePolicy") in ("closed", "strict"), path, "DevicePolicy",
             "must be closed or strict")
    c.expect("char-vduse rw" in allow, path, "DeviceAllow", "must allow 'char-vduse rw'")
    for key in ("NoNewPrivileges", "ProtectKernelModules", "ProtectKernelTunables",
                "ProtectControlGroups", "ProtectHome"):
        c.expect(one(u, s, key) == "yes", path, key, "must be yes")
    c.expect(one(u, s, "ProtectSystem") == "strict", path, "ProtectSystem", "must be strict")
    fams = set((one(u, s, "RestrictAddressFamilies") or "").split())
    c.expect({"AF_INET", "AF_INET6", "AF_NETLINK"} <= fams, path, "RestrictAddressFamilies",
             "must allow AF_INET, AF_INET6 (cluster) and AF_NETLINK (vdpa)")
    c.expect("network-online.target" in " ".join(u.get("Unit", {}).get("After", [])),
             path, "After", "must include network-online.target")
    c.expect(one(u, "Install", "WantedBy") == "multi-user.target", path, "WantedBy",
             "must be multi-user.target")


def main():
    src = sys.argv[1]
    sd = os.path.join(src, "deploy", "systemd")
    c = Checker(src)

    path = os.path.join(sd, "vduse-netblk@.service")
    u = parse_unit(path)
    argv = shlex.split(one(u, "Service", "ExecStart") or "")
    check_common(c, path, u, argv)
    c.expect("/etc/vduse-netblk/%i.env" in u.get("Service", {}).get("EnvironmentFile", []),
             path, "EnvironmentFile", "must be /etc/vduse-netblk/%i.env")
    for opt, var in (("--cluster", "${CLUSTER}"), ("--volume", "${VOLUME}"), ("--name", "${NAME}")):
        c.expect(opt_value(argv, opt) == var, path, "ExecStart", f"must pass {opt} {var}")
    c.expect("$OPTIONS" in argv, path, "ExecStart", "must pass $OPTIONS (split into words)")
    c.expect("NAME=netblk-%i" in u.get("Service", {}).get("Environment", []), path,
             "Environment", "must default NAME to netblk-%i")

    path = os.path.join(sd, "vduse-netblk-agent.service")
    u = parse_unit(path)
    argv = shlex.split(one(u, "Service", "ExecStart") or "")
    check_common(c, path, u, argv)
    c.expect(argv[1:2] == ["agent"], path, "ExecStart", "must run 'vduse-netblk agent'")
    spec = opt_value(argv, "--spec-dir")
    c.expect(spec == SPEC_DIR, path, "ExecStart", f"--spec-dir must be {SPEC_DIR}")
    rw = " ".join(u.get("Service", {}).get("ReadWritePaths", [])).split()
    c.expect(spec in rw, path, "ReadWritePaths",
             f"must include the spec dir {spec} (the agent writes NAME.status there)")
    c.expect(one(u, "Service", "ConfigurationDirectory") == os.path.relpath(SPEC_DIR, "/etc"),
             path, "ConfigurationDirectory", "must make the spec dir")

    path = os.path.join(sd, "vduse-netblk.conf")
    with open(path, encoding="utf-8") as f:
        mods = [ln.split("#")[0].strip() for ln in f if ln.split("#")[0].strip()]
    for m in MODULES:
        c.expect(m in mods, path, "modules", f"does not load {m}")
    if "virtio_vdpa" in mods and "vhost_vdpa" in mods:
        c.expect(mods.index("virtio_vdpa") < mods.index("vhost_vdpa"), path, "modules",
                 "virtio_vdpa must come before vhost_vdpa (new devices become /dev/vdX)")
    c.finish("deploy/systemd")


if __name__ == "__main__":
    main()
