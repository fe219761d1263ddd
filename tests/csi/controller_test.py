#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Identity and Controller services of netblk-csi against a real mock node
(t_csi_controller.sh starts both). Arguments: SOCKET CLI, where CLI is a
command line (netblk-cli with the cluster and TLS options) to look at the
cluster with, as a user would.

csi-sanity cases this covers (by their upstream names):
  Identity Service: GetPluginCapabilities should return appropriate capabilities;
    Probe should return appropriate information;
    GetPluginInfo should return appropriate information
  Controller Service: ControllerGetCapabilities should return appropriate values;
    CreateVolume should fail when no name is provided;
    CreateVolume should fail when no volume capabilities are provided;
    CreateVolume should return appropriate values SingleNodeWriter NoCapacity;
    CreateVolume should return appropriate values SingleNodeWriter WithCapacity 1Gi;
    CreateVolume should not fail when requesting to create a volume with already
      existing name and same capacity;
    CreateVolume should fail when requesting to create a volume with already
      existing name and different capacity;
    CreateVolume should not fail when creating volume with maximum-length name;
    DeleteVolume should fail when no volume id is provided;
    DeleteVolume should succeed when an invalid volume id is used;
    DeleteVolume should return appropriate values with no optional values added;
    ValidateVolumeCapabilities should fail when no volume id is provided;
    ValidateVolumeCapabilities should fail when no volume capabilities are provided;
    ValidateVolumeCapabilities should return appropriate values (no optional values added);
    ValidateVolumeCapabilities should fail when the requested volume does not exist;
    ControllerPublishVolume should fail when no volume id is provided;
    ControllerPublishVolume should fail when no node id is provided;
    ControllerPublishVolume should fail when no volume capability is provided;
    ControllerPublishVolume should fail when the volume does not exist;
    ControllerPublishVolume should fail when the volume is already published to another node;
    ControllerUnpublishVolume should fail when no volume id is provided;
    ControllerUnpublishVolume should return appropriate values (no optional values added);
    ExpandVolume should fail if no volume id is given;
    ExpandVolume should fail if no capacity range is given;
    ExpandVolume should work
    ListVolumes should return appropriate values SingleNodeWriter NoCapacity;
    ListVolumes should fail when an invalid starting_token is passed;
    ListVolumes pagination should detect volumes added between pages and
      accept tokens when the last volume from a page is deleted
Not applicable: GetCapacity, snapshots, clones (not advertised);
"should fail when the node does not exist" (the controller cannot know the
kubelet's nodes: the node service refuses to stage instead);
"publishing more volumes than the node max attach limit" (no limit).
"""
import os
import select
import shlex
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from csi_lib import SERVICE_OF, CsiTest, cap, pb, wait_for  # noqa: E402

sock, cli = sys.argv[1], shlex.split(sys.argv[2])


def cli_out(*args):
    """netblk-cli's output (stdout and stderr) and exit code."""
    p = subprocess.run(cli + list(args), capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr, p.returncode


def listed():
    """{volume_id: capacity} over every ListVolumes page of 2 entries."""
    out, token = {}, ""
    for _ in range(100):
        r = t.ok("ListVolumes", pb.ListVolumesRequest(max_entries=2, starting_token=token), "page ")
        if r is None:
            return out
        for e in r.entries:
            out[e.volume.volume_id] = e.volume.capacity_bytes
        token = r.next_token
        if not token:
            return out
    t.check(False, "ListVolumes pages never end")
    return out

t = CsiTest(sock)
MiB = 1 << 20

t.start("Identity")
r = t.ok("GetPluginInfo", pb.GetPluginInfoRequest())
t.check(r and r.name == "csi.vduse-netblk.io" and r.vendor_version, f"plugin info {r.name if r else None}/{r.vendor_version if r else None}")
r = t.ok("GetPluginCapabilities", pb.GetPluginCapabilitiesRequest())
kinds = {c.WhichOneof("type") + ":" + str(getattr(c, c.WhichOneof("type")).type) for c in r.capabilities} if r else set()
t.check(kinds == {"service:1", "volume_expansion:1"}, f"controller service and online expansion advertised: {sorted(kinds)}")
r = t.ok("Probe", pb.ProbeRequest())
t.check(r is not None and r.HasField("ready") and r.ready.value, "Probe says ready")

t.start("ControllerGetCapabilities")
r = t.ok("ControllerGetCapabilities", pb.ControllerGetCapabilitiesRequest())
types = sorted(c.rpc.type for c in r.capabilities) if r else []
t.check(types == [1, 2, 3, 8, 9], f"CREATE_DELETE, PUBLISH_UNPUBLISH, LIST_VOLUMES, PUBLISH_READONLY, EXPAND: {types}")

t.start("CreateVolume wrong input")
t.fails("CreateVolume", pb.CreateVolumeRequest(volume_capabilities=[cap()]), "INVALID_ARGUMENT", "without a name ")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="v-nocaps"), "INVALID_ARGUMENT", "without capabilities ")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="v-xfs", volume_capabilities=[cap(fs_type="xfs")]),
        "INVALID_ARGUMENT", "with fs_type xfs ", match="ext4")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="v-mnmw", volume_capabilities=[cap(mode="MULTI_NODE_MULTI_WRITER")]),
        "INVALID_ARGUMENT", "with MULTI_NODE_MULTI_WRITER ")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="v-param", volume_capabilities=[cap()], parameters={"colour": "red"}),
        "INVALID_ARGUMENT", "with an unknown parameter ", match="colour")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="v-queues", volume_capabilities=[cap()], parameters={"queues": "0"}),
        "INVALID_ARGUMENT", "with queues=0 ", match="queues")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="bad/name", volume_capabilities=[cap()]),
        "INVALID_ARGUMENT", "with a / in the name ")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="v-range", volume_capabilities=[cap()],
        capacity_range=pb.CapacityRange(required_bytes=8 * MiB, limit_bytes=4 * MiB)),
        "INVALID_ARGUMENT", "with limit below required ")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="v-tiny", volume_capabilities=[cap()],
        capacity_range=pb.CapacityRange(required_bytes=100, limit_bytes=1000)),
        "OUT_OF_RANGE", "with a range holding no whole block ")

t.start("CreateVolume")
req = pb.CreateVolumeRequest(name="pvc-one", volume_capabilities=[cap()],
                             capacity_range=pb.CapacityRange(required_bytes=10 * MiB + 1),
                             parameters={"queues": "2", "fsType": "ext4"})
r = t.ok("CreateVolume", req)
t.check(r and r.volume.volume_id == "pvc-one", f"volume id {r.volume.volume_id if r else None}")
t.check(r and r.volume.capacity_bytes == 10 * MiB + 4096, f"capacity rounded up to 4 KiB blocks: {r.volume.capacity_bytes if r else None}")
t.check(r and dict(r.volume.volume_context) == {"queues": "2", "fsType": "ext4"}, f"volume context {dict(r.volume.volume_context) if r else None}")
r2 = t.ok("CreateVolume", req, "again (same name, same range) ")
t.check(r2 and r2.volume.volume_id == "pvc-one" and r2.volume.capacity_bytes == r.volume.capacity_bytes,
        "the repeat returns the same volume")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="pvc-one", volume_capabilities=[cap()],
        capacity_range=pb.CapacityRange(required_bytes=64 * MiB)), "ALREADY_EXISTS", "same name, larger size ")
r = t.ok("CreateVolume", pb.CreateVolumeRequest(name="pvc-default", volume_capabilities=[cap("block")]), "without a capacity ")
t.check(r and r.volume.capacity_bytes == 1 << 30, f"default size 1 GiB: {r.volume.capacity_bytes if r else None}")
r = t.ok("CreateVolume", pb.CreateVolumeRequest(name="pvc-limit", volume_capabilities=[cap("block")],
         capacity_range=pb.CapacityRange(limit_bytes=3 * MiB)), "with only a limit ")
t.check(r and r.volume.capacity_bytes == 3 * MiB, f"limit honoured: {r.volume.capacity_bytes if r else None}")
r = t.ok("CreateVolume", pb.CreateVolumeRequest(name="pvc-bs", volume_capabilities=[cap()],
         capacity_range=pb.CapacityRange(required_bytes=MiB), parameters={"blockSize": "512"}), "with 512-byte blocks ")
t.ok("CreateVolume", pb.CreateVolumeRequest(name="pvc-bs", volume_capabilities=[cap()],
     capacity_range=pb.CapacityRange(required_bytes=MiB), parameters={"blockSize": "512"}), "again with 512-byte blocks ")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="pvc-bs", volume_capabilities=[cap()],
        capacity_range=pb.CapacityRange(required_bytes=MiB), parameters={"blockSize": "4096"}),
        "ALREADY_EXISTS", "again with 4096-byte blocks ", match="512-byte blocks")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="pvc-bs", volume_capabilities=[cap()],
        capacity_range=pb.CapacityRange(required_bytes=MiB)),
        "ALREADY_EXISTS", "again with the default (4096-byte) blocks ")
longname = "p" * 128
r = t.ok("CreateVolume", pb.CreateVolumeRequest(name=longname, volume_capabilities=[cap()],
         capacity_range=pb.CapacityRange(required_bytes=MiB)), "with a 128-byte name ")
t.fails("CreateVolume", pb.CreateVolumeRequest(name="q" * 129, volume_capabilities=[cap()]),
        "INVALID_ARGUMENT", "with a 129-byte name ")

t.start("ValidateVolumeCapabilities")
t.fails("ValidateVolumeCapabilities", pb.ValidateVolumeCapabilitiesRequest(volume_capabilities=[cap()]), "INVALID_ARGUMENT", "without a volume id ")
t.fails("ValidateVolumeCapabilities", pb.ValidateVolumeCapabilitiesRequest(volume_id="pvc-one"), "INVALID_ARGUMENT", "without capabilities ")
t.fails("ValidateVolumeCapabilities", pb.ValidateVolumeCapabilitiesRequest(volume_id="nosuch", volume_capabilities=[cap()]), "NOT_FOUND", "of a missing volume ")
r = t.ok("ValidateVolumeCapabilities", pb.ValidateVolumeCapabilitiesRequest(volume_id="pvc-one", volume_capabilities=[cap(), cap("block", "MULTI_NODE_READER_ONLY")]))
t.check(r and r.HasField("confirmed") and len(r.confirmed.volume_capabilities) == 2, "mount rw + block ro-many confirmed")
r = t.ok("ValidateVolumeCapabilities", pb.ValidateVolumeCapabilitiesRequest(volume_id="pvc-one", volume_capabilities=[cap(mode="MULTI_NODE_MULTI_WRITER")]))
t.check(r and not r.HasField("confirmed") and "multi-node" in r.message, f"multi-writer not confirmed, says why: {r.message if r else None}")

t.start("ControllerPublishVolume")
t.fails("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(node_id="n1", volume_capability=cap()), "INVALID_ARGUMENT", "without a volume id ")
t.fails("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id="pvc-one", volume_capability=cap()), "INVALID_ARGUMENT", "without a node id ")
t.fails("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id="pvc-one", node_id="n1"), "INVALID_ARGUMENT", "without a capability ")
t.fails("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id="nosuch", node_id="n1", volume_capability=cap()), "NOT_FOUND", "of a missing volume ")
pub = pb.ControllerPublishVolumeRequest(volume_id="pvc-one", node_id="n1", volume_capability=cap())
r = t.ok("ControllerPublishVolume", pub, "to n1 ")
t.check(r and dict(r.publish_context) == {"lockOwner": "csi@n1", "readOnly": "false"}, f"publish context {dict(r.publish_context) if r else None}")
t.ok("ControllerPublishVolume", pub, "to n1 again ")
t.fails("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id="pvc-one", node_id="n1", volume_capability=cap(), readonly=True),
        "ALREADY_EXISTS", "to n1 read-only while published read-write ")
t.fails("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id="pvc-one", node_id="n2", volume_capability=cap()),
        "FAILED_PRECONDITION", "read-write to n2 while n1 has it ", match="n1")
r = t.ok("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id="pvc-one", node_id="n3", volume_capability=cap(), readonly=True), "read-only to n3 ")
t.check(r and r.publish_context["readOnly"] == "true", "n3's publish context says read-only")
t.fails("DeleteVolume", pb.DeleteVolumeRequest(volume_id="pvc-one"), "FAILED_PRECONDITION", "while published ")

t.start("ControllerUnpublishVolume")
t.fails("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(node_id="n1"), "INVALID_ARGUMENT", "without a volume id ")
t.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id="nosuch", node_id="n1"), "of a missing volume (it is unpublished) ")
t.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id="pvc-one", node_id="n1"), "from n1 ")
t.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id="pvc-one", node_id="n1"), "from n1 again ")
t.ok("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id="pvc-one", node_id="n2", volume_capability=cap()), "read-write to n2 after n1 let go ")
t.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id="pvc-one"), "from every node (no node id) ")

t.start("ControllerUnpublishVolume of a volume deleted meanwhile")
t.ok("CreateVolume", pb.CreateVolumeRequest(name="pvc-vanish", volume_capabilities=[cap()],
     capacity_range=pb.CapacityRange(required_bytes=MiB)))
t.ok("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id="pvc-vanish", node_id="n1", volume_capability=cap()))
out, rc = cli_out("delete", "pvc-vanish")
t.check(rc == 0, "netblk-cli deletes pvc-vanish behind the controller's back: " + out.replace("\n", "; ")[:200])
t.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id="pvc-vanish", node_id="n1"), "of the gone volume ")
t.ok("CreateVolume", pb.CreateVolumeRequest(name="pvc-vanish", volume_capabilities=[cap()],
     capacity_range=pb.CapacityRange(required_bytes=MiB)), "of that name again ")
t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id="pvc-vanish"), "(the publication was forgotten) ")

t.start("one volume under its two ids")
cluster = cli[cli.index("--cluster") + 1]
r = t.ok("CreateVolume", pb.CreateVolumeRequest(name="pvc-twoids", volume_capabilities=[cap()],
         capacity_range=pb.CapacityRange(required_bytes=MiB), parameters={"cluster": cluster}),
         "naming the driver's own cluster ")
t.check(r and r.volume.volume_id == "pvc-twoids", f"the id is the bare name: {r.volume.volume_id if r else None}")
t.ok("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id="pvc-twoids", node_id="n1", volume_capability=cap()))
t.fails("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id=f"{cluster}/pvc-twoids", node_id="n2", volume_capability=cap()),
        "FAILED_PRECONDITION", "read-write to n2 under the long id ", match="n1")
t.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id=f"{cluster}/pvc-twoids", node_id="n1"), "under the long id ")
t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id="pvc-twoids"), "(unpublished under the other id) ")

t.start("ControllerExpandVolume")
t.fails("ControllerExpandVolume", pb.ControllerExpandVolumeRequest(capacity_range=pb.CapacityRange(required_bytes=MiB)), "INVALID_ARGUMENT", "without a volume id ")
t.fails("ControllerExpandVolume", pb.ControllerExpandVolumeRequest(volume_id="pvc-one"), "INVALID_ARGUMENT", "without a capacity range ")
t.fails("ControllerExpandVolume", pb.ControllerExpandVolumeRequest(volume_id="nosuch", capacity_range=pb.CapacityRange(required_bytes=MiB)), "NOT_FOUND", "of a missing volume ")
r = t.ok("ControllerExpandVolume", pb.ControllerExpandVolumeRequest(volume_id="pvc-one", capacity_range=pb.CapacityRange(required_bytes=20 * MiB), volume_capability=cap()), "to 20 MiB ")
t.check(r and r.capacity_bytes == 20 * MiB and r.node_expansion_required, f"20 MiB, node expansion required: {r.capacity_bytes if r else None}")
r = t.ok("ControllerExpandVolume", pb.ControllerExpandVolumeRequest(volume_id="pvc-one", capacity_range=pb.CapacityRange(required_bytes=20 * MiB), volume_capability=cap("block")), "again ")
t.check(r and r.capacity_bytes == 20 * MiB and not r.node_expansion_required, "same size; a block volume needs no node step")
out, rc = cli_out("--volume", "pvc-one", "info")
t.check(rc == 0 and "20971520 bytes" in out, "netblk-cli info shows pvc-one at 20 MiB: " + out.replace("\n", "; ")[:200])
t.fails("ControllerExpandVolume", pb.ControllerExpandVolumeRequest(volume_id="pvc-one", capacity_range=pb.CapacityRange(required_bytes=24 * MiB, limit_bytes=16 * MiB)),
        "INVALID_ARGUMENT", "with a limit below the required size ")

t.start("ListVolumes")
t.ok("CreateVolume", pb.CreateVolumeRequest(name="aaa-first", volume_capabilities=[cap()], capacity_range=pb.CapacityRange(required_bytes=MiB)), "to list first ")
vols = listed()
t.check(vols.get("pvc-one") == 20 * MiB and "pvc-default" in vols and "pvc-limit" in vols,
        f"pvc-one (20 MiB), pvc-default and pvc-limit listed: {sorted(vols.items())[:6]}")
r = t.ok("ListVolumes", pb.ListVolumesRequest(max_entries=1), "one entry ")
t.check(r and len(r.entries) == 1 and r.entries[0].volume.volume_id == "aaa-first" and r.next_token == "aaa-first",
        f"one entry, sorted first, and a next token: {r.next_token if r else None}")
r = t.ok("ListVolumes", pb.ListVolumesRequest(), "all at once ")
t.check(r and {e.volume.volume_id for e in r.entries} == set(vols) and not r.next_token, "all entries, no next token")
t.fails("ListVolumes", pb.ListVolumesRequest(starting_token="no/such/token"), "ABORTED", "with an invalid starting token ")
t.fails("ListVolumes", pb.ListVolumesRequest(max_entries=-1), "INVALID_ARGUMENT", "with negative max_entries ")
first = t.ok("ListVolumes", pb.ListVolumesRequest(max_entries=1), "first page ")
t.ok("CreateVolume", pb.CreateVolumeRequest(name="pvc-zz-added", volume_capabilities=[cap()], capacity_range=pb.CapacityRange(required_bytes=MiB)), "between pages ")
t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id=first.next_token), "the last volume of the page ")
rest = t.ok("ListVolumes", pb.ListVolumesRequest(starting_token=first.next_token), "after a deleted token ")
t.check(rest and "pvc-zz-added" in {e.volume.volume_id for e in rest.entries},
        "a volume added between pages is on the next page; the deleted token is accepted")

t.start("concurrent calls on one volume")
# A "cluster" that accepts TCP connections and never answers TLS holds a
# call on its volume until the connect timeout.
hold = socket.socket()
hold.bind(("127.0.0.1", 0))
hold.listen(8)
held = f"127.0.0.1:{hold.getsockname()[1]}/pvc-held"
svc, stub_cls = SERVICE_OF["ControllerExpandVolume"]
slow = stub_cls(t.channel).ControllerExpandVolume.future(pb.ControllerExpandVolumeRequest(
    volume_id=held, capacity_range=pb.CapacityRange(required_bytes=24 * MiB)), timeout=60)
t.check(wait_for(lambda: select.select([hold], [], [], 0)[0]), "the first call is connecting to the silent node")
t.fails("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id=held, node_id="n1", volume_capability=cap()),
        "ABORTED", "while an expansion of the volume runs ")
t.fails("DeleteVolume", pb.DeleteVolumeRequest(volume_id=held), "ABORTED", "while an expansion of the volume runs ")
r = t.ok("ControllerPublishVolume", pb.ControllerPublishVolumeRequest(volume_id="pvc-default", node_id="n1", volume_capability=cap("block")),
         "of another volume meanwhile ")
try:
    slow.result()
    t.check(False, "the held expansion fails once its node does not answer")
except Exception as e:  # noqa: BLE001
    t.check(getattr(e, "code", lambda: None)() is not None and e.code().name == "UNAVAILABLE",
            f"the held expansion then fails UNAVAILABLE ({e.code().name if hasattr(e, 'code') else e})")
hold.close()
t.ok("ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id="pvc-default", node_id="n1"))

t.start("DeleteVolume")
t.fails("DeleteVolume", pb.DeleteVolumeRequest(), "INVALID_ARGUMENT", "without a volume id ")
t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id="nosuch"), "of a missing volume ")
t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id="../etc"), "of an id we never made ")
t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id="pvc-one"))
out, rc = cli_out("--volume", "pvc-one", "info")
t.check(rc != 0 and "not found" in out, "netblk-cli info: pvc-one is gone: " + out.replace("\n", "; ")[:200])
t.check("pvc-one" not in listed(), "ListVolumes no longer shows pvc-one")
t.ok("DeleteVolume", pb.DeleteVolumeRequest(volume_id="pvc-one"), "again ")

t.start("unserved")
r, e = t.call("NodeGetInfo", pb.NodeGetInfoRequest())
t.check(e is not None and e.code().name == "UNIMPLEMENTED", "node calls are UNIMPLEMENTED in controller mode")
t.done()
