# SPDX-License-Identifier: MIT
"""check_k8s_csi.py SRC: the CSI driver's manifests (deploy/kubernetes/csi)
parse, use field names Kubernetes knows, and fit together: one driver name
in the CSIDriver, the StorageClass, the registrar's registration path and
the driver's --driver-name; the sidecars and the driver on one socket; the
node plugin privileged with the kubelet directory mounted Bidirectional,
the agent's spec and run directories and /dev; the service accounts and
the rights the sidecars need; examples whose PVCs name the class and whose
pods use them (Block through volumeDevices). Failures name file and field."""

import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_k8s import (argv_of, check_image, check_pod_spec, mount_of,  # noqa: E402
                       opt_value, pod_specs)
from deploy_check import Checker, dig, project_version  # noqa: E402

DRIVER_DEFAULT = "csi.vduse-netblk.io"   # netblk-csi's default --driver-name
NS = "vduse-netblk"
KUBELET = "/var/lib/kubelet"
SIDECARS = {"csi-provisioner", "csi-attacher", "csi-resizer"}
# (apiGroup, resource, verb) the sidecars cannot work without
NEEDED_RULES = [("", "persistentvolumes", "create"), ("", "persistentvolumes", "delete"),
                ("", "persistentvolumeclaims", "watch"),
                ("", "persistentvolumeclaims/status", "patch"),
                ("storage.k8s.io", "storageclasses", "get"),
                ("storage.k8s.io", "volumeattachments", "patch"),
                ("storage.k8s.io", "volumeattachments/status", "patch"),
                ("", "events", "create"), ("coordination.k8s.io", "leases", "update"),
                ("", "pods", "watch"),
                ("storage.k8s.io", "volumeattributesclasses", "get")]
# The sidecars' images: registry.k8s.io/sig-storage/NAME:vX.Y.Z, of the
# major version whose flags and RBAC the manifests are written for, and no
# older than the releases of early 2025 (no registry can be asked here).
SIDECAR_REGISTRY = "registry.k8s.io/sig-storage/"
SIDECAR_MIN = {"csi-provisioner": (5, 2, 0), "csi-attacher": (4, 8, 0),
               "csi-resizer": (1, 13, 0), "csi-node-driver-registrar": (2, 13, 0)}


def load(c, kdir):
    docs = {}
    for root, _dirs, files in os.walk(kdir):
        for name in sorted(files):
            if name.endswith((".yaml", ".yml")):
                path = os.path.join(root, name)
                try:
                    with open(path, encoding="utf-8") as f:
                        docs[path] = [d for d in yaml.safe_load_all(f) if d is not None]
                except yaml.YAMLError as e:
                    c.fail(path, "(yaml)", f"does not parse: {e}")
    return docs


def check_sidecar_image(c, path, field, image):
    """image is a sidecar of SIDECAR_MIN, pinned to a plausible release."""
    repo, _, tag = image.rpartition(":")
    name = repo[len(SIDECAR_REGISTRY):] if repo.startswith(SIDECAR_REGISTRY) else None
    if not c.expect(name in SIDECAR_MIN, path, f"{field}.image",
                    f"'{image}' is not {SIDECAR_REGISTRY}NAME:TAG of a known sidecar"):
        return
    m = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", tag)
    if not c.expect(m, path, f"{field}.image", f"tag '{tag}' is not a release vX.Y.Z"):
        return
    got, low = tuple(int(x) for x in m.groups()), SIDECAR_MIN[name]
    c.expect(got[0] == low[0] and got >= low, path, f"{field}.image",
             f"{name} {tag}: want v{low[0]}.x at least v{'.'.join(map(str, low))} "
             "(the flags and rules here are written for it)")


def socket_of(argv, opt="--csi-address"):
    v = opt_value(argv, opt)
    return v[len("unix://"):] if v and v.startswith("unix://") else v


def main():
    src = sys.argv[1]
    kdir = os.path.join(src, "deploy", "kubernetes", "csi")
    c = Checker(src)
    version = project_version(src)
    docs = load(c, kdir)
    objs = [(p, d) for p, ds in docs.items() for d in ds if not p.endswith("kustomization.yaml")]
    by_kind = {}
    for p, d in objs:
        for k in ("apiVersion", "kind"):
            c.expect(d.get(k), p, k, "missing")
        c.expect(dig(d, "metadata.name"), p, "metadata.name", "missing")
        by_kind.setdefault(d.get("kind"), []).append((p, d))
    for p, field, spec in pod_specs({p: [d] for p, d in objs}):
        check_pod_spec(c, p, field, spec)

    kust = os.path.join(kdir, "kustomization.yaml")
    res = (docs.get(kust) or [{}])[0].get("resources", [])
    for name in res:
        c.expect(os.path.exists(os.path.join(kdir, name)), kust, "resources", f"{name} does not exist")
    for name in os.listdir(kdir):
        if name.endswith(".yaml") and name != "kustomization.yaml":
            c.expect(name in res, kust, "resources", f"does not list {name}")

    drivers = by_kind.get("CSIDriver", [])
    if not c.expect(len(drivers) == 1, kdir, "CSIDriver", f"expected one, found {len(drivers)}"):
        c.finish("deploy/kubernetes/csi")
    dpath, drv = drivers[0]
    name = dig(drv, "metadata.name")
    c.expect(dig(drv, "spec.attachRequired") is True, dpath, "spec.attachRequired",
             "must be true: ControllerPublishVolume hands the writer lock to the node")
    for p, sc in by_kind.get("StorageClass", []):
        c.expect(sc.get("provisioner") == name, p, "provisioner", f"must be the driver {name}")
        c.expect(sc.get("allowVolumeExpansion") is True, p, "allowVolumeExpansion",
                 "must be true (the driver grows volumes online)")
        for k in (sc.get("parameters") or {}):
            c.expect(k in ("cluster", "blockSize", "queues", "readOnly", "fsType")
                     or k.startswith("csi.storage.k8s.io/"), p, f"parameters.{k}",
                     "is not a parameter netblk-csi knows (CreateVolume would refuse it)")
    sas = {dig(d, "metadata.name") for _p, d in by_kind.get("ServiceAccount", [])}

    def driver_container(p, spec, field, mode):
        cts = [ct for ct in spec.get("containers", []) or []
               if argv_of(ct) and os.path.basename(argv_of(ct)[0]) == "netblk-csi"]
        if not c.expect(len(cts) == 1, p, f"{field}.containers", "needs one netblk-csi container"):
            return None
        ct = cts[0]
        argv = argv_of(ct)
        cf = f"{field}.containers[{ct.get('name')}]"
        check_image(c, p, cf, ct.get("image", ""), version)
        c.expect(opt_value(argv, "--mode") == mode, p, f"{cf}.args", f"needs --mode {mode}")
        c.expect((opt_value(argv, "--driver-name") or DRIVER_DEFAULT) == name, p, f"{cf}.args",
                 f"the driver name must be the CSIDriver's ({name})")
        c.expect(spec.get("serviceAccountName") in sas, p, f"{field}.serviceAccountName",
                 "names no ServiceAccount of deploy/kubernetes/csi")
        # The default cluster, the same for both: the node plugin attaches
        # a volume whose id has no cluster part from its own --cluster.
        env = {e.get("name"): e for e in ct.get("env", []) or []}
        cl = opt_value(argv, "--cluster") or ""
        var = cl[2:-1] if cl.startswith("$(") and cl.endswith(")") else None
        ref = dig(env.get(var) or {}, "valueFrom.configMapKeyRef", {}) if var else {}
        c.expect(ref.get("name") == "vduse-netblk-cluster" and ref.get("key") == "cluster", p,
                 f"{cf}.args", "--cluster must be $(VAR), VAR from the ConfigMap "
                 "vduse-netblk-cluster, key cluster (the agent's cluster)")
        return ct

    # --- controller
    deps = by_kind.get("Deployment", [])
    if c.expect(len(deps) == 1, kdir, "Deployment", "expected one (the controller)"):
        p, dep = deps[0]
        f = "spec.template.spec"
        spec = dig(dep, f, {})
        ct = driver_container(p, spec, f, "controller")
        if ct:
            argv = argv_of(ct)
            sock = socket_of(argv, "--endpoint")
            vols = {v.get("name"): v for v in spec.get("volumes", []) or []}
            m, _v = mount_of(ct, vols, os.path.dirname(sock or "/x"))
            c.expect(m is not None, p, f"{f}.containers[{ct.get('name')}]",
                     "the socket's directory is not a volume shared with the sidecars")
            c.expect(opt_value(argv, "--ca"), p, f"{f}.containers[{ct.get('name')}].args",
                     "needs --ca (the cluster's TLS)")
            names = set()
            for sc in spec.get("containers", []) or []:
                sf = f"{f}.containers[{sc.get('name')}]"
                img = sc.get("image", "")
                side = img.split("/")[-1].split(":")[0]
                if side not in SIDECARS:
                    continue
                names.add(side)
                check_sidecar_image(c, p, sf, img)
                c.expect(socket_of(argv_of(sc)) == sock, p, f"{sf}.args",
                         f"--csi-address must be the driver's socket {sock}")
                sm, _ = mount_of(sc, vols, os.path.dirname(sock or "/x"))
                c.expect(sm is not None and m is not None and sm.get("name") == m.get("name"),
                         p, f"{sf}.volumeMounts", "does not share the driver's socket directory")
            c.expect(names == SIDECARS, p, f"{f}.containers",
                     f"needs the sidecars {sorted(SIDECARS)}, has {sorted(names)}")

    # --- node
    dss = by_kind.get("DaemonSet", [])
    if c.expect(len(dss) == 1, kdir, "DaemonSet", "expected one (the node plugin)"):
        p, ds = dss[0]
        f = "spec.template.spec"
        spec = dig(ds, f, {})
        vols = {v.get("name"): v for v in spec.get("volumes", []) or []}
        ct = driver_container(p, spec, f, "node")
        if ct:
            argv = argv_of(ct)
            cf = f"{f}.containers[{ct.get('name')}]"
            c.expect(dig(ct, "securityContext.privileged") is True, p, f"{cf}.securityContext.privileged",
                     "must be true (mount, mkfs)")
            kdir_arg = opt_value(argv, "--kubelet-dir") or KUBELET
            m, v = mount_of(ct, vols, kdir_arg)
            if c.expect(m is not None, p, f"{cf}.volumeMounts", f"{kdir_arg} is not mounted"):
                c.expect(m.get("mountPropagation") == "Bidirectional", p,
                         f"{cf}.volumeMounts[{m.get('name')}].mountPropagation",
                         "must be Bidirectional: the driver's mounts must reach the host and pods")
                c.expect(dig(v or {}, "hostPath.path") == KUBELET, p, f"{cf}.volumeMounts[{m.get('name')}]",
                         f"must be the host's {KUBELET}")
            for opt, default, host in (("--spec-dir", "/etc/vduse-netblk/specs", "/etc/vduse-netblk/specs"),
                                       ("--run-dir", "/run/vduse-netblk", "/run/vduse-netblk"),
                                       (None, "/dev", "/dev")):
                path = (opt_value(argv, opt) if opt else None) or default
                m, v = mount_of(ct, vols, path)
                c.expect(m is not None and dig(v or {}, "hostPath.path") == host and not m.get("readOnly"),
                         p, f"{cf}.volumeMounts", f"{path} must be the host's {host}, writable "
                         "(the agent's directory)" if opt else f"{path} must be the host's /dev")
            c.expect("$(NODE_NAME)" in " ".join(argv) and any(
                dig(e, "valueFrom.fieldRef.fieldPath") == "spec.nodeName" for e in ct.get("env", []) or []),
                p, f"{cf}.args", "--node-id must be the Kubernetes node name (fieldRef spec.nodeName)")
            sock = socket_of(argv, "--endpoint")
            regs = [sc for sc in spec.get("containers", []) or []
                    if "node-driver-registrar" in sc.get("image", "")]
            if c.expect(len(regs) == 1, p, f"{f}.containers", "needs the node-driver-registrar"):
                rg = regs[0]
                rf = f"{f}.containers[{rg.get('name')}]"
                check_sidecar_image(c, p, rf, rg.get("image", ""))
                ra = argv_of(rg)
                c.expect(socket_of(ra) == sock, p, f"{rf}.args", f"--csi-address must be {sock}")
                reg = opt_value(ra, "--kubelet-registration-path")
                want = f"{KUBELET}/plugins/{name}/csi.sock"
                c.expect(reg == want, p, f"{rf}.args", f"--kubelet-registration-path must be {want}")
                dm, dv = mount_of(ct, vols, os.path.dirname(sock or "/x"))
                c.expect(dm is not None and dig(dv or {}, "hostPath.path") == os.path.dirname(want),
                         p, f"{cf}.volumeMounts", f"the socket directory must be the host's {os.path.dirname(want)}")
                rm, rv = mount_of(rg, vols, "/registration")
                c.expect(rm is not None and dig(rv or {}, "hostPath.path") == f"{KUBELET}/plugins_registry",
                         p, f"{rf}.volumeMounts", f"/registration must be the host's {KUBELET}/plugins_registry")

    # --- RBAC
    rules = set()
    for kind in ("ClusterRole", "Role"):
        for _p, r in by_kind.get(kind, []):
            for rule in r.get("rules", []) or []:
                for g in rule.get("apiGroups", []) or []:
                    for res_ in rule.get("resources", []) or []:
                        for verb in rule.get("verbs", []) or []:
                            rules.add((g, res_, verb))
    for need in NEEDED_RULES:
        c.expect(need in rules, os.path.join(kdir, "rbac.yaml"), "rules",
                 f"no rule grants {need[2]} on {need[1]} ({need[0] or 'core'})")
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for p, b in by_kind.get(kind, []):
            roles = {dig(d, "metadata.name") for _q, d in by_kind.get(dig(b, "roleRef.kind"), [])}
            c.expect(dig(b, "roleRef.name") in roles, p, "roleRef", "names no role of these manifests")
            for s in b.get("subjects", []) or []:
                c.expect(s.get("name") in sas and s.get("namespace") == NS, p, "subjects",
                         f"{s.get('name')} is no ServiceAccount of {NS}")

    # --- examples
    classes = {dig(d, "metadata.name") for _p, d in by_kind.get("StorageClass", [])}
    pvcs = {dig(d, "metadata.name"): (p, d) for p, d in by_kind.get("PersistentVolumeClaim", [])}
    modes = set()
    for n, (p, pvc) in pvcs.items():
        c.expect(dig(pvc, "spec.storageClassName") in classes, p, f"PVC[{n}].spec.storageClassName",
                 "names no StorageClass of deploy/kubernetes/csi")
        c.expect(dig(pvc, "spec.accessModes") and set(dig(pvc, "spec.accessModes")) <=
                 {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteOncePod"}, p, f"PVC[{n}].spec.accessModes",
                 "the driver has one writer per volume: ReadWriteOnce, ReadWriteOncePod or ReadOnlyMany")
        modes.add(dig(pvc, "spec.volumeMode", "Filesystem"))
    c.expect(modes == {"Block", "Filesystem"}, kdir + "/examples", "volumeMode",
             f"needs a Block and a Filesystem example, has {sorted(modes)}")
    used = set()
    for p, pod in by_kind.get("Pod", []):
        spec = pod.get("spec") or {}
        claims = {v.get("name"): dig(v, "persistentVolumeClaim.claimName")
                  for v in spec.get("volumes", []) or [] if "persistentVolumeClaim" in v}
        for vn, claim in claims.items():
            used.add(claim)
            if not c.expect(claim in pvcs, p, f"spec.volumes[{vn}]", f"claim {claim} is no example PVC"):
                continue
            block = dig(pvcs[claim][1], "spec.volumeMode", "Filesystem") == "Block"
            how = "volumeDevices" if block else "volumeMounts"
            c.expect(any(m.get("name") == vn for ct in spec.get("containers", []) or []
                         for m in ct.get(how, []) or []), p, "spec.containers",
                     f"a {'Block' if block else 'Filesystem'} claim is used through {how}")
    c.expect(used >= set(pvcs), kdir + "/examples", "Pod", f"no pod uses {sorted(set(pvcs) - used)}")
    c.finish("deploy/kubernetes/csi")


if __name__ == "__main__":
    main()
