#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The Node service of netblk-csi with real VDUSE disks (inside the test
VM; t_csi_node.sh starts a mock node, the agent and the driver). The
client plays the external-provisioner, -attacher, -resizer and the kubelet.
Arguments: SOCKET KUBELET_DIR SPEC_DIR CONTROLLER2_SOCKET NODE3_SOCKET NODE3_SPEC_DIR
(node 3 has a spec directory no agent watches, and a short attach timeout)

csi-sanity cases this covers (by their upstream names):
  Node Service: NodeGetCapabilities should return appropriate capabilities;
    NodeGetInfo should return appropriate values;
    NodePublishVolume should fail when no volume id is provided;
    NodePublishVolume should fail when no target path is provided;
    NodePublishVolume should fail when no volume capability is provided;
    NodeUnpublishVolume should fail when no volume id is provided;
    NodeUnpublishVolume should fail when no target path is provided;
    NodeStageVolume should fail when no volume id is provided;
    NodeStageVolume should fail when no staging target path is provided;
    NodeStageVolume should fail when no volume capability is provided;
    NodeUnstageVolume should fail when no volume id is provided;
    NodeUnstageVolume should fail when no staging target path is provided;
    NodeGetVolumeStats should fail when no volume id is provided;
    NodeGetVolumeStats should fail when no volume path is provided;
    NodeGetVolumeStats should fail when volume is not found;
    NodeGetVolumeStats should return appropriate values (no optional values added);
    NodeExpandVolume should fail when no volume id is provided;
    NodeExpandVolume should fail when no volume path is provided;
    NodeExpandVolume should work;
    Node Service should work; should be idempotent
Not applicable: VOLUME_MOUNT_GROUP, SINGLE_NODE_MULTI_WRITER-specific cases.
"""
import errno
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from csi_lib import CsiTest, cap, pb  # noqa: E402

sock, kubelet, spec_dir, sock2, sock3, spec_dir3 = sys.argv[1:7]
t = CsiTest(sock)


def gone_from_cluster(vid):
    """After DeleteVolume: the cluster has the volume no more (ListVolumes)."""
    r = t.ok("ListVolumes", pb.ListVolumesRequest(), "after the delete ")
    t.check(r is not None and vid not in {e.volume.volume_id for e in r.entries},
            f"{vid} is gone from the cluster")

MiB = 1 << 20
NODE = "nodeA"


def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()


def show(what):
    """transcript: what the node shows now"""
    print(f"     node: {what}", flush=True)


def findmnt(path):
    return sh("findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "--mountpoint", path)


def status_of(vol_id):
    for f in os.listdir(spec_dir):
        if f.endswith(".spec") and f"CSI volume {vol_id};" in open(os.path.join(spec_dir, f)).read():
            st = os.path.join(spec_dir, f[:-5] + ".status")
            return open(st).read() if os.path.exists(st) else ""
    return None


def device_of(vol_id):
    s = status_of(vol_id) or ""
    for line in s.splitlines():
        if line.startswith("device="):
            return line[7:]
    return None


def life_cycle(name, kind, size):
    """Create, publish, stage, publish, write, tear down, bring back, read."""
    t.start(f"{kind} life cycle")
    c = cap(kind)
    r = t.ok("CreateVolume", pb.CreateVolumeRequest(name=name, volume_capabilities=[c],
             capacity_range=pb.CapacityRange(required_bytes=size)))
    vid = r.volume.volume_id if r else name
    t.ok("CreateVolume", pb.CreateVolumeRequest(name=name, volume_capabilities=[c],
         capacity_range=pb.CapacityRange(required_bytes=size)), "again ")
    pub = pb.ControllerPublishVolumeRequest(volume_id=vid, node_id=NODE, volume_capability=c)
    r = t.ok("ControllerPublishVolume", pub)
    pctx = dict(r.publish_context) if r else {}
    t.ok("ControllerPublishVolume", pub, "again ")
    staging = f"{kubelet}/plugins/kubernetes.io/csi/{name}/globalmount"
    target = f"{kubelet}/pods/pod1/volumes/kubernetes.io~csi/{name}/mount"
    if kind == "block":
        target = f"{kubelet}/plugins/kubernetes.io/csi/volumeDevices/publish/{name}/pod1"
    os.makedirs(staging, exist_ok=True)
    stage = pb.NodeStageVolumeRequest(volume_id=vid, staging_target_path=staging,
                                      volume_capability=c, publish_context=pctx)
    t.ok("NodeStageVolume", stage)
    dev = device_of(vid)
    t.check(dev and dev.startswith("/dev/vd"), f"the agent attached it: {dev}")
    show(f"disk {dev}: {sh('lsblk', '-n', '-b', '-o', 'NAME,SIZE,FSTYPE', dev)}")
    t.ok("NodeStageVolume", stage, "again ")
    if kind == "mount":
        m = findmnt(staging)
        show(f"staging {staging}: {m}")
        t.check(m.startswith(dev) and " ext4 " in f" {m} ", f"ext4 of {dev} mounted at the staging path")
    publish = pb.NodePublishVolumeRequest(volume_id=vid, staging_target_path=staging,
                                          target_path=target, volume_capability=c,
                                          publish_context=pctx)
    t.ok("NodePublishVolume", publish)
    t.ok("NodePublishVolume", publish, "again ")
    show(f"target {target}: {findmnt(target)}")
    data = os.urandom(MiB)
    if kind == "block":
        t.check(sh("stat", "-c", "%t:%T %F", target) == sh("stat", "-c", "%t:%T %F", dev),
                f"the target is the device node: {sh('stat', '-c', '%t:%T %F', target)}")
        with open(target, "r+b") as f:
            f.seek(4 * MiB)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    else:
        with open(os.path.join(target, "data.bin"), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        show(f"pod wrote {target}/data.bin: {sh('ls', '-l', target + '/data.bin')}")
    # a second pod of the node, read-only
    ro_target = target.replace("pod1", "pod2")
    ro_pub = pb.NodePublishVolumeRequest(volume_id=vid, staging_target_path=staging,
                                         target_path=ro_target, volume_capability=c,
                                         publish_context=pctx, readonly=True)
    t.ok("NodePublishVolume", ro_pub, "read-only to a second target ")
    t.ok("NodePublishVolume", ro_pub, "read-only again ")
    show(f"read-only target {ro_target}: {findmnt(ro_target)}")
    try:
        if kind == "block":
            with open(ro_target, "r+b") as f:
                f.write(b"x")
        else:
            open(os.path.join(ro_target, "new"), "w").close()
        t.check(False, "writing through the read-only target is refused")
    except OSError as e:
        # EROFS from the file system; opening a read-only block device for
        # writing gets EPERM
        t.check(e.errno in (errno.EROFS, errno.EPERM),
                f"writing through the read-only target is refused: {e.strerror}")
    with open(ro_target if kind == "block" else os.path.join(ro_target, "data.bin"), "rb") as f:
        f.seek(4 * MiB if kind == "block" else 0)
        t.check(f.read(MiB) == data, "the read-only target reads the pod's data")
    t.ok("NodeUnpublishVolume", pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=ro_target),
         "of the read-only target ")
    t.check(sh("losetup", "-j", dev) == "", f"no loop device left behind: {sh('losetup', '-a')!r}")
    r = t.ok("NodeGetVolumeStats", pb.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=target))
    if r:
        total = r.usage[0].total
        if kind == "block":
            t.check(total == size, f"stats: block device of {total} bytes")
        else:
            t.check(r.usage[0].used >= MiB and 0 < total <= size and len(r.usage) == 2,
                    f"stats: {r.usage[0].used} of {total} bytes used, inodes {r.usage[1].used}/{r.usage[1].total}")
        t.check(not r.volume_condition.abnormal, f"condition normal: {r.volume_condition.message}")
    unpub = pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=target)
    unstage = pb.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=staging)
    t.ok("NodeUnpublishVolume", unpub)
    t.ok("NodeUnpublishVolume", unpub, "again ")
    t.check(not os.path.exists(target), "the target path is gone")
    t.ok("NodeUnstageVolume", unstage)
    t.ok("NodeUnstageVolume", unstage, "again ")
    t.check(status_of(vid) is None and not (dev and os.path.exists(dev)) and not findmnt(staging),
            f"detached: no spec, {dev} gone, nothing mounted at the staging path")
    # bring it back on a fresh attach: what the pod wrote is on the cluster
    t.ok("NodeStageVolume", stage, "after the detach ")
    t.ok("NodePublishVolume", publish, "after the detach ")
    if kind == "block":
        with open(target, "rb") as f:
            f.seek(4 * MiB)
            back = f.read(MiB)
    else:
        with open(os.path.join(target, "data.bin"), "rb") as f:
            back = f.read()
    t.check(back == data, "the 1 MiB the pod wrote reads back after detach and re-attach")
    return vid, staging, target, c, publish, unpub, unstage, pub


def teardown(vid, unpub, unstage, pub):
    t.ok("NodeUnpublishVolume", unpub)
    t.ok("NodeUnstageVolume", unstage)
    up = pb.ControllerUnpublishVolumeRequest(volume_id=vid, node_id=NODE)
    t.ok("ControllerUnpublishVolume", up)
    t.ok("ControllerUnpublishVolume", up, "again ")
    t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id=vid))
    t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id=vid), "again ")
    gone_from_cluster(vid)


t.start("NodeGetInfo, NodeGetCapabilities")
r = t.ok("NodeGetInfo", pb.NodeGetInfoRequest())
t.check(r and r.node_id == NODE, f"node id {r.node_id if r else None}")
r = t.ok("NodeGetCapabilities", pb.NodeGetCapabilitiesRequest())
t.check(r and sorted(c.rpc.type for c in r.capabilities) == [1, 2, 3], "STAGE_UNSTAGE, GET_VOLUME_STATS, EXPAND_VOLUME")

def read_at(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


def write_at(path, off, data):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


# Loop device 0 taken: ours get loop1 and up, which with max_part (the
# test loads loop with max_part=15) is not minor 1.
with open("/tmp/loop-dummy", "wb") as f:
    f.truncate(MiB)
dummy = sh("losetup", "--find", "--show", "/tmp/loop-dummy")
show(f"loop device {dummy} taken by a dummy file")

# ---- block ----
b = life_cycle("pvc-block", "block", 32 * MiB)
bdev = device_of(b[0])
bdata = read_at(bdev, 4 * MiB, MiB)

t.start("a stale status file naming another volume's disk")
# After a reboot the spec and status files are still there and /dev/vdX
# names are handed out anew: a status that says "attached device=/dev/vdX"
# must not be believed unless sysfs shows that disk is this volume's.
t3 = CsiTest(sock3)
t3.case = t.case
stale_staging = f"{kubelet}/plugins/kubernetes.io/csi/pvc-stale/globalmount"
os.makedirs(stale_staging, exist_ok=True)
stale = pb.NodeStageVolumeRequest(volume_id="pvc-stale", staging_target_path=stale_staging,
                                  volume_capability=cap("mount"))
t3.fails("NodeStageVolume", stale, "UNAVAILABLE", "with no agent to attach it ")
specs3 = [f for f in os.listdir(spec_dir3) if f.endswith(".spec")]
t.check(len(specs3) == 1, f"its spec is written: {specs3}")
for f in specs3:
    with open(os.path.join(spec_dir3, f[:-5] + ".status"), "w") as st:
        st.write(f"state=attached\nvolume=pvc-stale\nname={f[:-5]}\ndevice={bdev}\n"
                 f"message=\nupdated={int(time.time())}\n")
t3.fails("NodeStageVolume", stale, "UNAVAILABLE",
         f"again, the status naming {bdev} of pvc-block (same spec) ")
t.check(not findmnt(stale_staging), "nothing mounted at its staging path")
t.check(read_at(bdev, 4 * MiB, MiB) == bdata and sh("blkid", "-p", bdev) == "",
        f"{bdev} is untouched: pvc-block's data is there, no file system made")
for f in os.listdir(spec_dir3):
    os.unlink(os.path.join(spec_dir3, f))
t.passed += t3.passed
t.failed += t3.failed
t3.passed = t3.failed = 0

t.start("links out of the kubelet directory")
outside = "/tmp/outside"
os.makedirs(outside, exist_ok=True)
os.makedirs(f"{kubelet}/pods", exist_ok=True)
os.symlink(outside, f"{kubelet}/pods/evil")
bc, bstaging = b[3], b[1]
evil = pb.NodePublishVolumeRequest(volume_id=b[0], staging_target_path=bstaging,
                                   target_path=f"{kubelet}/pods/evil/volumes/x/dev",
                                   volume_capability=bc)
t.fails("NodePublishVolume", evil, "INVALID_ARGUMENT", "to a target under a link out ")
os.makedirs(f"{kubelet}/pods/pod9", exist_ok=True)
os.symlink(f"{outside}/file", f"{kubelet}/pods/pod9/dev")
evil.target_path = f"{kubelet}/pods/pod9/dev"
t.fails("NodePublishVolume", evil, "INVALID_ARGUMENT", "to a target that is a link ")
os.symlink(outside, f"{kubelet}/plugins/kubernetes.io/csi/linked")
t.fails("NodeStageVolume", pb.NodeStageVolumeRequest(volume_id="pvc-linked",
        staging_target_path=f"{kubelet}/plugins/kubernetes.io/csi/linked/globalmount",
        volume_capability=cap("mount")), "INVALID_ARGUMENT", "to a staging path under a link out ")
t.check(os.listdir(outside) == [], f"nothing made outside: {os.listdir(outside)}")
for link in (f"{kubelet}/pods/evil", f"{kubelet}/pods/pod9/dev", f"{kubelet}/plugins/kubernetes.io/csi/linked"):
    os.unlink(link)

t.start("a loop device left over the disk")
# what an unpublish that unmounted but could not detach left behind
stray = sh("losetup", "--find", "--show", "--read-only", bdev)
t.check(stray.startswith("/dev/loop"), f"a stray read-only loop device over {bdev}: {stray}")
teardown(b[0], b[5], b[6], b[7])
t.check(sh("losetup", "-j", bdev) == "", f"NodeUnstageVolume detached it: {sh('losetup', '-a')!r}")

t.start("mkfs only on an empty disk")
dc = cap("block")
r = t.ok("CreateVolume", pb.CreateVolumeRequest(name="pvc-dirty", volume_capabilities=[dc],
         capacity_range=pb.CapacityRange(required_bytes=16 * MiB)))
dvid = r.volume.volume_id if r else "pvc-dirty"
r = t.ok("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id=dvid, node_id=NODE, volume_capability=dc))
dctx = dict(r.publish_context) if r else {}
dstaging = f"{kubelet}/plugins/kubernetes.io/csi/pvc-dirty/globalmount"
os.makedirs(dstaging, exist_ok=True)
dstage = pb.NodeStageVolumeRequest(volume_id=dvid, staging_target_path=dstaging,
                                   volume_capability=dc, publish_context=dctx)
t.ok("NodeStageVolume", dstage, "as a block volume ")
ddev = device_of(dvid)
pattern = bytes(range(1, 256)) * 16
write_at(ddev, 0, pattern)          # no signature blkid knows
fstage = pb.NodeStageVolumeRequest(volume_id=dvid, staging_target_path=dstaging,
                                   volume_capability=cap("mount"), publish_context=dctx)
t.fails("NodeStageVolume", fstage, "FAILED_PRECONDITION", "as ext4 with data at its start ", match="holds data")
t.check(read_at(ddev, 0, len(pattern)) == pattern, "the data at the start is untouched")
write_at(ddev, 0, b"\0" * len(pattern))
write_at(ddev, 16 * MiB - 4096, pattern)
t.fails("NodeStageVolume", fstage, "FAILED_PRECONDITION", "as ext4 with data at its end ", match="holds data")
t.check(read_at(ddev, 16 * MiB - 4096, len(pattern)) == pattern, "the data at the end is untouched")
write_at(ddev, 16 * MiB - 4096, b"\0" * 4096)
# an MBR with one Linux partition from sector 2048
mbr = bytearray(512)
mbr[446:462] = bytes([0, 0, 0, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little") + (4096).to_bytes(4, "little")
mbr[510:512] = b"\x55\xaa"
write_at(ddev, 0, bytes(mbr))
t.fails("NodeStageVolume", fstage, "FAILED_PRECONDITION", "as ext4 with a partition table ", match="partition table")
t.check(read_at(ddev, 0, 512) == bytes(mbr), "the partition table is untouched")
write_at(ddev, 0, bytes(512))
t.ok("NodeStageVolume", fstage, "as ext4 once the disk is all zeros ")
t.check(" ext4 " in f" {findmnt(dstaging)} ", f"formatted and mounted: {findmnt(dstaging)}")
t.ok("NodeUnstageVolume", pb.NodeUnstageVolumeRequest(volume_id=dvid, staging_target_path=dstaging))
t.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id=dvid, node_id=NODE))
t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id=dvid))

# ---- ext4, expansion, the second node ----
vid, staging, target, c, publish, unpub, unstage, pub = life_cycle("pvc-fs", "mount", 48 * MiB)
t.start("one volume under its two ids")
long_id = f"127.0.0.1:7001/{vid}"
t.ok("NodeStageVolume", pb.NodeStageVolumeRequest(volume_id=long_id, staging_target_path=staging,
     volume_capability=c, publish_context=dict(publish.publish_context)), "under the long id ")
mine = [f for f in os.listdir(spec_dir) if f.endswith(".spec")]
t.check(len(mine) == 1, f"one spec (one device) for both ids: {mine}")
r = t.ok("NodeGetVolumeStats", pb.NodeGetVolumeStatsRequest(volume_id=long_id, volume_path=target), "under the long id ")
t.check(r and not r.volume_condition.abnormal, f"the long id finds the agent's status: {r.volume_condition.message if r else None}")

t.start("online expansion")
before = os.statvfs(target)
r = t.ok("ControllerExpandVolume", pb.ControllerExpandVolumeRequest(volume_id=vid,
         capacity_range=pb.CapacityRange(required_bytes=96 * MiB), volume_capability=c))
t.check(r and r.capacity_bytes == 96 * MiB and r.node_expansion_required, "the cluster grew it to 96 MiB")
exp = pb.NodeExpandVolumeRequest(volume_id=vid, volume_path=target, staging_target_path=staging,
                                 capacity_range=pb.CapacityRange(required_bytes=96 * MiB),
                                 volume_capability=c)
r = t.ok("NodeExpandVolume", exp)
t.check(r and r.capacity_bytes == 96 * MiB, f"the node reports {r.capacity_bytes if r else None} bytes")
after = os.statvfs(target)
t.check(after.f_blocks * after.f_frsize > 1.8 * before.f_blocks * before.f_frsize,
        f"the mounted ext4 grew from {before.f_blocks * before.f_frsize} to {after.f_blocks * after.f_frsize} bytes")
show(f"df {target}: {sh('df', '-B1', '--output=size,used,avail', target).splitlines()[-1]}")
t.ok("NodeExpandVolume", exp, "again ")
with open(os.path.join(target, "data.bin"), "rb") as f:
    t.check(len(f.read()) == MiB, "the pod's file is still there after the growth")

t.start("second node")
pubB = pb.ControllerPublishVolumeRequest(volume_id=vid, node_id="nodeB", volume_capability=c)
t.fails("ControllerPublishVolume", pubB, "FAILED_PRECONDITION", "read-write to nodeB while nodeA has it ")
# a controller that never saw nodeA's publish (restarted) is stopped by the writer lock
t2 = CsiTest(sock2)
t2.case = "second node"
t2.fails("ControllerPublishVolume", pubB, "FAILED_PRECONDITION",
         "through a fresh controller ", match="csi@nodeA")
t.ok("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id=vid, node_id="nodeB",
     volume_capability=c, readonly=True), "read-only to nodeB ")
t.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id=vid, node_id="nodeB"), "nodeB's read-only ")

t.start("wrong input")
other = f"{kubelet}/pods/pod2/volumes/x/mount"
t.fails("NodeStageVolume", pb.NodeStageVolumeRequest(staging_target_path=staging, volume_capability=c), "INVALID_ARGUMENT", "without a volume id ")
t.fails("NodeStageVolume", pb.NodeStageVolumeRequest(volume_id=vid, volume_capability=c), "INVALID_ARGUMENT", "without a staging path ")
t.fails("NodeStageVolume", pb.NodeStageVolumeRequest(volume_id=vid, staging_target_path=staging), "INVALID_ARGUMENT", "without a capability ")
t.fails("NodeStageVolume", pb.NodeStageVolumeRequest(volume_id=vid, staging_target_path="/etc/x", volume_capability=c), "INVALID_ARGUMENT", "outside the kubelet directory ")
t.fails("NodeStageVolume", pb.NodeStageVolumeRequest(volume_id=vid, staging_target_path=kubelet + "/../etc", volume_capability=c), "INVALID_ARGUMENT", "with .. in the path ")
t.fails("NodeStageVolume", pb.NodeStageVolumeRequest(volume_id=vid, staging_target_path=staging, volume_capability=cap(fs_type="xfs")), "INVALID_ARGUMENT", "with fs_type xfs ")
t.fails("NodeStageVolume", pb.NodeStageVolumeRequest(volume_id=vid, staging_target_path=staging, volume_capability=c, volume_context={"queues": "x"}), "INVALID_ARGUMENT", "with queues=x ")
t.fails("NodeStageVolume", pb.NodeStageVolumeRequest(volume_id=vid, staging_target_path=staging, volume_capability=cap(mode="SINGLE_NODE_READER_ONLY")), "ALREADY_EXISTS", "again read-only ")
t.fails("NodePublishVolume", pb.NodePublishVolumeRequest(staging_target_path=staging, target_path=other, volume_capability=c), "INVALID_ARGUMENT", "without a volume id ")
t.fails("NodePublishVolume", pb.NodePublishVolumeRequest(volume_id=vid, staging_target_path=staging, volume_capability=c), "INVALID_ARGUMENT", "without a target path ")
t.fails("NodePublishVolume", pb.NodePublishVolumeRequest(volume_id=vid, staging_target_path=staging, target_path=other), "INVALID_ARGUMENT", "without a capability ")
t.fails("NodePublishVolume", pb.NodePublishVolumeRequest(volume_id=vid, staging_target_path=staging, target_path="/tmp/evil", volume_capability=c), "INVALID_ARGUMENT", "to a target outside the kubelet directory ")
t.fails("NodePublishVolume", pb.NodePublishVolumeRequest(volume_id="pvc-nothere", staging_target_path=staging + "x", target_path=other, volume_capability=c), "FAILED_PRECONDITION", "of a volume not staged ")
t.check(not os.path.exists(other), "no target made by the refused calls")
t.fails("NodePublishVolume", pb.NodePublishVolumeRequest(volume_id=vid, staging_target_path=staging, target_path=target, volume_capability=c, readonly=True), "ALREADY_EXISTS", "to the same target read-only ")
t.fails("NodeUnpublishVolume", pb.NodeUnpublishVolumeRequest(target_path=target), "INVALID_ARGUMENT", "without a volume id ")
t.fails("NodeUnpublishVolume", pb.NodeUnpublishVolumeRequest(volume_id=vid), "INVALID_ARGUMENT", "without a target path ")
t.fails("NodeUnstageVolume", pb.NodeUnstageVolumeRequest(staging_target_path=staging), "INVALID_ARGUMENT", "without a volume id ")
t.fails("NodeUnstageVolume", pb.NodeUnstageVolumeRequest(volume_id=vid), "INVALID_ARGUMENT", "without a staging path ")
t.fails("NodeGetVolumeStats", pb.NodeGetVolumeStatsRequest(volume_path=target), "INVALID_ARGUMENT", "without a volume id ")
t.fails("NodeGetVolumeStats", pb.NodeGetVolumeStatsRequest(volume_id=vid), "INVALID_ARGUMENT", "without a volume path ")
t.fails("NodeGetVolumeStats", pb.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=other), "NOT_FOUND", "of a path that is no volume ")
t.fails("NodeExpandVolume", pb.NodeExpandVolumeRequest(volume_path=target), "INVALID_ARGUMENT", "without a volume id ")
t.fails("NodeExpandVolume", pb.NodeExpandVolumeRequest(volume_id=vid), "INVALID_ARGUMENT", "without a volume path ")
t.fails("NodeExpandVolume", pb.NodeExpandVolumeRequest(volume_id=vid, volume_path=other), "NOT_FOUND", "of a path that is no volume ")
with open(os.path.join(target, "data.bin"), "rb") as f:
    t.check(len(f.read()) == MiB and findmnt(target), "the published volume is untouched by the wrong calls")

t.start("ext4 teardown, then nodeB")
t.ok("NodeUnpublishVolume", unpub)
t.ok("NodeUnstageVolume", unstage)
t.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id=vid, node_id=NODE))
t2.ok("ControllerPublishVolume", pubB, "read-write to nodeB (fresh controller) once nodeA let go ")
t.ok("ControllerPublishVolume", pubB, "read-write to nodeB once nodeA let go ")
t.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id=vid, node_id="nodeB"))
t2.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id=vid, node_id="nodeB"))
t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id=vid))
t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id=vid), "again ")
gone_from_cluster(vid)
t.passed += t2.passed
t.failed += t2.failed
if dummy.startswith("/dev/loop"):
    sh("losetup", "-d", dummy)
t.done()
