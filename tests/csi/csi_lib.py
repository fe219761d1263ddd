# SPDX-License-Identifier: MIT
"""A small CSI test client: plays the kubelet and the external-* sidecars
against netblk-csi over its unix socket, with stubs generated from our
client/csi/csi.proto at build time (build/client/csi/py).

    t = CsiTest(socket_path)
    r = t.ok("CreateVolume", pb.CreateVolumeRequest(...))      # must succeed
    t.fails("DeleteVolume", pb.DeleteVolumeRequest(), "INVALID_ARGUMENT")
    t.done()   # prints the count; exit 1 when a check failed
"""
import os
import sys
import time

sys.path.insert(0, os.environ["NETBLK_CSI_PY"])
import grpc  # noqa: E402
import csi_pb2 as pb  # noqa: E402
import csi_pb2_grpc as pbg  # noqa: E402

SERVICE_OF = {}
for _svc, _stub in (("Identity", pbg.IdentityStub), ("Controller", pbg.ControllerStub),
                    ("Node", pbg.NodeStub)):
    for _m in pb.DESCRIPTOR.services_by_name[_svc].methods:
        SERVICE_OF[_m.name] = (_svc, _stub)


def cap(kind="mount", mode="SINGLE_NODE_WRITER", fs_type="ext4", flags=()):
    """A VolumeCapability: kind mount or block, mode an AccessMode name."""
    c = pb.VolumeCapability(access_mode=pb.VolumeCapability.AccessMode(
        mode=pb.VolumeCapability.AccessMode.Mode.Value(mode)))
    if kind == "block":
        c.block.SetInParent()
    elif kind == "mount":
        c.mount.fs_type = fs_type
        c.mount.mount_flags.extend(flags)
    return c


class CsiTest:
    def __init__(self, socket_path, timeout=180):
        self.channel = grpc.insecure_channel("unix://" + socket_path)
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stubs = {}
        self.timeout = timeout
        self.passed = 0
        self.failed = 0
        self.case = "-"

    def start(self, case):
        """Name the case that the next checks belong to."""
        self.case = case
        print(f"--- {case}", flush=True)

    def call(self, method, req):
        """(response, None) or (None, RpcError)"""
        svc, stub_cls = SERVICE_OF[method]
        if svc not in self.stubs:
            self.stubs[svc] = stub_cls(self.channel)
        try:
            return getattr(self.stubs[svc], method)(req, timeout=self.timeout), None
        except grpc.RpcError as e:
            return None, e

    def check(self, cond, what):
        if cond:
            self.passed += 1
            print(f"ok   {self.case}: {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {self.case}: {what}", flush=True)
        return cond

    def ok(self, method, req, what=""):
        r, e = self.call(method, req)
        self.check(e is None, f"{method} {what}succeeds" +
                   ("" if e is None else f" (got {e.code().name}: {e.details()})"))
        return r

    def fails(self, method, req, code, what="", match=None):
        """method must fail with status code (a grpc.StatusCode name)."""
        r, e = self.call(method, req)
        got = "OK" if e is None else e.code().name
        good = got == code and (match is None or match in (e.details() or ""))
        self.check(good, f"{method} {what}-> {code}" +
                   ("" if good else f" (got {got}: {'' if e is None else e.details()})")
                   + ("" if not good or e is None else f" [{e.details()}]"))
        return e

    def done(self):
        print(f"{self.passed} checks passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


def wait_for(pred, seconds=30, step=0.2):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
