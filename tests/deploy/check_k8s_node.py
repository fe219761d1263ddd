# SPDX-License-Identifier: MIT
"""check_k8s_node.py SRC rados|file [BUILT.yaml]: the storage nodes'
Kubernetes manifests. rados: deploy/kubernetes/node (the base); file:
deploy/kubernetes/node-file (the overlay for the file backend). BUILT.yaml
is the output of 'kubectl kustomize' of that directory; without it the
base is read from its resources (with the kustomization's image tag) and
the overlay only as far as its ConfigMap patch goes.

Checks: every document parses and names its kind, name and namespace;
field names Kubernetes knows (check_k8s.py's tables); the headless
Service, the StatefulSet and the PodDisruptionBudget agree on labels, port
and names; the image is deploy/Containerfile.node's (name, tag = project
version, uid/gid of its USER); the "restricted" Pod Security profile
(non-root, no privilege escalation, read-only root, capabilities
dropped, RuntimeDefault seccomp); probes on the node's port; resources;
node.conf's files are where the pod mounts them; the map names exactly the
StatefulSet's pods as --node names them, with one group (rados) or none
(file); the Secret examples have the keys the pod mounts.

With DEPLOY_CHECK_OUT=DIR, writes for the shell test: node.conf, map,
ceph.conf, args (the node's argv, a word a line), init.sh (the TLS init
container's script), mounts (mount path and volume kind, a line each),
pods (the map names the pods get). Every failure names the file and field."""

import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy_check import Checker, dig, project_version  # noqa: E402
from check_k8s import argv_of, check_keys, check_pod_spec, opt_value  # noqa: E402

NS = "netblk"
IMAGE_REPO = "netblk-node"
CONFIG = "/etc/netblk/node.conf"  # deploy/Containerfile.node's ENTRYPOINT
TLS_KEYS = ["ca.crt", "server.crt", "server.key"]
BASE_RESOURCES = ["namespace.yaml", "configmap.yaml", "service.yaml", "statefulset.yaml",
                  "pdb.yaml"]
POD_SECURITY_KEYS = {"appArmorProfile", "fsGroup", "fsGroupChangePolicy", "runAsGroup",
                     "runAsNonRoot", "runAsUser", "seLinuxChangePolicy", "seLinuxOptions",
                     "seccompProfile", "supplementalGroups", "supplementalGroupsPolicy",
                     "sysctls", "windowsOptions"}
STATEFULSET_SPEC_KEYS = {"minReadySeconds", "ordinals", "persistentVolumeClaimRetentionPolicy",
                         "podManagementPolicy", "replicas", "revisionHistoryLimit", "selector",
                         "serviceName", "template", "updateStrategy", "volumeClaimTemplates"}
SERVICE_SPEC_KEYS = {"allocateLoadBalancerNodePorts", "clusterIP", "clusterIPs",
                     "externalIPs", "externalName", "externalTrafficPolicy",
                     "healthCheckNodePort", "internalTrafficPolicy", "ipFamilies",
                     "ipFamilyPolicy", "loadBalancerClass", "loadBalancerIP",
                     "loadBalancerSourceRanges", "ports", "publishNotReadyAddresses",
                     "selector", "sessionAffinity", "sessionAffinityConfig",
                     "trafficDistribution", "type"}
CLUSTER_SCOPED = {"Namespace"}


def node_conf(text):
    """{key: value} of a node.conf (docs/node.md: key = value, # comments)."""
    conf = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, _, v = line.partition("=")
        conf[k.strip()] = v.strip()
    return conf


def map_nodes(text):
    """[(address, group)] of the map's node lines (proto/include/map.h)."""
    nodes = []
    for line in text.splitlines():
        words = line.split("#")[0].split()
        if words[:1] == ["node"] and len(words) >= 2:
            group = int(words[3]) if len(words) == 4 and words[2] == "group" else 0
            nodes.append((words[1], group))
    return nodes


def image_user(src):
    """(uid, gid) of deploy/Containerfile.node's last USER, or None."""
    users = []
    with open(os.path.join(src, "deploy", "Containerfile.node"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^USER\s+(\d+):(\d+)\s*$", line)
            if m:
                users.append((int(m.group(1)), int(m.group(2))))
    return users[-1] if users else None


def load(c, path):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        c.fail(path, "(yaml)", f"does not parse: {e}")
        return []


def base_docs(c, ndir, version):
    """The base's documents as kustomize would emit them (resources, image tag)."""
    kust_path = os.path.join(ndir, "kustomization.yaml")
    kust = (load(c, kust_path) or [{}])[0]
    res = kust.get("resources", []) or []
    for name in BASE_RESOURCES:
        c.expect(name in res, kust_path, "resources", f"does not list {name}")
    c.expect("secrets.example.yaml" not in res, kust_path, "resources",
             "must not list secrets.example.yaml: an apply would overwrite the real keys")
    tag = None
    for img in kust.get("images", []) or []:
        if img.get("name") == IMAGE_REPO:
            tag = str(img.get("newTag"))
            c.expect(tag == version, kust_path, "images.newTag",
                     f"'{tag}' is not the project version '{version}' (CMakeLists.txt)")
    docs = []
    for name in res:
        p = os.path.join(ndir, name)
        if c.expect(os.path.exists(p), kust_path, "resources", f"{name} does not exist"):
            docs += [(p, d) for d in load(c, p)]
    if tag:
        for _p, d in docs:
            spec = dig(d, "spec.template.spec", {})
            for ct in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                if ct.get("image", "").split(":")[0] == IMAGE_REPO:
                    ct["image"] = f"{IMAGE_REPO}:{tag}"
    return docs


def check_image(c, path, field, image, version):
    repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    c.expect(repo.split("/")[-1] == IMAGE_REPO, path, f"{field}.image",
             f"'{image}' is not the {IMAGE_REPO} image (deploy/Containerfile.node)")
    c.expect(tag == version, path, f"{field}.image",
             f"tag '{tag}' is not the project version '{version}' (CMakeLists.txt)")


def check_restricted(c, path, field, ct):
    """The container side of Pod Security "restricted", and a read-only root."""
    sc = ct.get("securityContext") or {}
    f = f"{field}.securityContext"
    c.expect(sc.get("allowPrivilegeEscalation") is False, path, f"{f}.allowPrivilegeEscalation",
             "must be false")
    c.expect(sc.get("readOnlyRootFilesystem") is True, path, f"{f}.readOnlyRootFilesystem",
             "must be true")
    c.expect(not sc.get("privileged"), path, f"{f}.privileged", "must not be set")
    c.expect("ALL" in (dig(sc, "capabilities.drop") or []), path, f"{f}.capabilities.drop",
             "must drop ALL")
    c.expect(not dig(sc, "capabilities.add"), path, f"{f}.capabilities.add",
             "the node needs no capability")
    c.expect(sc.get("runAsUser", 1) != 0, path, f"{f}.runAsUser", "must not be 0")
    for r in ("requests.cpu", "requests.memory", "limits.memory"):
        c.expect(dig(ct, f"resources.{r}") is not None, path, f"{field}.resources.{r}", "missing")


def port_of(ct, port):
    """The containerPort a probe's port (number or name) means, or None."""
    for p in ct.get("ports", []) or []:
        if port in (p.get("name"), p.get("containerPort")):
            return p.get("containerPort")
    return None


def main():
    src, variant = sys.argv[1], sys.argv[2]
    built = sys.argv[3] if len(sys.argv) > 3 else None
    c = Checker(src)
    version = project_version(src)
    kdir = os.path.join(src, "deploy", "kubernetes")
    ndir = os.path.join(kdir, "node")
    odir = os.path.join(kdir, "node-file")
    what = "deploy/kubernetes/node" if variant == "rados" else "deploy/kubernetes/node-file"
    if built:
        docs = [(os.path.join(src, what, "(kustomize build)"), d) for d in load(c, built)]
    else:
        docs = base_docs(c, ndir, version)
        if variant == "file":
            # Without kustomize: the overlay's ConfigMap patch over the base's.
            patch = os.path.join(odir, "configmap.yaml")
            for p_doc in load(c, patch):
                for i, (p, d) in enumerate(docs):
                    if d.get("kind") == "ConfigMap":
                        d = dict(d, data=dict(d.get("data") or {}, **(p_doc.get("data") or {})))
                        docs[i] = (patch, d)
    for path, d in docs:
        for k in ("apiVersion", "kind"):
            c.expect(d.get(k), path, k, "missing")
        kind, name = d.get("kind"), dig(d, "metadata.name")
        c.expect(name, path, f"{kind}.metadata.name", "missing")
        if kind not in CLUSTER_SCOPED:
            c.expect(dig(d, "metadata.namespace") == NS, path, f"{kind}[{name}].metadata.namespace",
                     f"must be {NS}")

    def one(kind):
        found = [(p, d) for p, d in docs if d.get("kind") == kind]
        c.expect(len(found) == 1, what, kind, f"expected one, found {len(found)}")
        return found[0] if found else (what, {})

    ns_path, ns = one("Namespace")
    c.expect(dig(ns, "metadata.name") == NS, ns_path, "Namespace.metadata.name", f"must be {NS}")
    c.expect(dig(ns, "metadata.labels", {}).get("pod-security.kubernetes.io/enforce") == "restricted",
             ns_path, "Namespace.metadata.labels", "must enforce the restricted Pod Security profile")
    sts_path, sts = one("StatefulSet")
    svc_path, svc = one("Service")
    pdb_path, pdb = one("PodDisruptionBudget")
    cm_path, cm = one("ConfigMap")

    # --- StatefulSet, Service, PDB: one set of labels, one port
    f = "spec.template.spec"
    spec = dig(sts, f, {})
    c.expect(sts.get("apiVersion") == "apps/v1", sts_path, "apiVersion", "must be apps/v1")
    check_keys(c, sts_path, "spec", sts.get("spec") or {}, STATEFULSET_SPEC_KEYS)
    # A volumeClaimTemplate is a volume of every pod, by its name.
    claims = [dig(t, "metadata.name") for t in dig(sts, "spec.volumeClaimTemplates", []) or []]
    spec = dict(spec, volumes=(spec.get("volumes") or []) +
                [{"name": n, "persistentVolumeClaim": {"claimName": n}} for n in claims])
    check_pod_spec(c, sts_path, f, spec)
    if "securityContext" in spec:
        check_keys(c, sts_path, f"{f}.securityContext", spec["securityContext"], POD_SECURITY_KEYS)
    labels = dig(sts, "spec.template.metadata.labels", {})
    sel = dig(sts, "spec.selector.matchLabels", {})
    c.expect(sel and all(labels.get(k) == v for k, v in sel.items()), sts_path,
             "spec.selector.matchLabels", "does not match the pod template's labels")
    c.expect(sts.get("spec", {}).get("serviceName") == dig(svc, "metadata.name"), sts_path,
             "spec.serviceName", f"must be the headless Service {dig(svc, 'metadata.name')}")
    c.expect(dig(svc, "spec.clusterIP") == "None", svc_path, "spec.clusterIP",
             "must be None (headless: one DNS name per pod, the names of the map)")
    check_keys(c, svc_path, "spec", svc.get("spec") or {}, SERVICE_SPEC_KEYS)
    ssel = dig(svc, "spec.selector", {})
    c.expect(ssel and all(labels.get(k) == v for k, v in ssel.items()), svc_path,
             "spec.selector", "does not select the StatefulSet's pods")
    c.expect(pdb.get("apiVersion") == "policy/v1", pdb_path, "apiVersion", "must be policy/v1")
    psel = dig(pdb, "spec.selector.matchLabels", {})
    c.expect(psel and all(labels.get(k) == v for k, v in psel.items()), pdb_path,
             "spec.selector.matchLabels", "does not select the StatefulSet's pods")
    c.expect(dig(pdb, "spec.maxUnavailable") == 1 or dig(pdb, "spec.minAvailable") is not None,
             pdb_path, "spec", "needs maxUnavailable: 1 or a minAvailable")
    c.expect(spec.get("automountServiceAccountToken") is False, sts_path,
             f"{f}.automountServiceAccountToken", "must be false (the node never calls the API)")
    c.expect(not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"),
             sts_path, f, "no host namespaces")

    # --- pod security: the image's user, non-root
    psc = spec.get("securityContext") or {}
    user = image_user(src)
    c.expect(user, "deploy/Containerfile.node", "USER", "no numeric USER uid:gid")
    c.expect(psc.get("runAsNonRoot") is True, sts_path, f"{f}.securityContext.runAsNonRoot",
             "must be true")
    if user:
        c.expect(psc.get("runAsUser") == user[0], sts_path, f"{f}.securityContext.runAsUser",
                 f"must be the image's user {user[0]} (deploy/Containerfile.node USER)")
        c.expect(psc.get("runAsGroup") == user[1], sts_path, f"{f}.securityContext.runAsGroup",
                 f"must be the image's group {user[1]}")
        c.expect(psc.get("fsGroup") == user[1], sts_path, f"{f}.securityContext.fsGroup",
                 f"must be {user[1]}: the Secret files and volumes are read through it")
    c.expect(dig(psc, "seccompProfile.type") == "RuntimeDefault", sts_path,
             f"{f}.securityContext.seccompProfile.type", "must be RuntimeDefault")
    vols = {v.get("name"): v for v in spec.get("volumes", []) or []}
    for n, v in vols.items():
        c.expect("hostPath" not in v, sts_path, f"{f}.volumes[{n}]", "no hostPath (restricted)")

    # --- the node container
    nodes_ct = [ct for ct in spec.get("containers", []) or []
                if os.path.basename((argv_of(ct) or [""])[0]) == "netblk-node"]
    if not c.expect(len(nodes_ct) == 1, sts_path, f"{f}.containers",
                    "needs exactly one container running netblk-node"):
        c.finish(what)
    ct = nodes_ct[0]
    cf = f"{f}.containers[{ct.get('name')}]"
    argv = argv_of(ct)
    check_image(c, sts_path, cf, ct.get("image", ""), version)
    check_restricted(c, sts_path, cf, ct)
    c.expect(opt_value(argv, "--config") == CONFIG, sts_path, f"{cf}.args",
             f"--config must be {CONFIG} (the image's ENTRYPOINT)")
    env = {e.get("name"): dig(e, "valueFrom.fieldRef.fieldPath") for e in ct.get("env", []) or []}
    c.expect(env.get("POD_NAME") == "metadata.name", sts_path, f"{cf}.env.POD_NAME",
             "must come from metadata.name")
    c.expect(env.get("POD_NAMESPACE") == "metadata.namespace", sts_path,
             f"{cf}.env.POD_NAMESPACE", "must come from metadata.namespace")
    mounts = {m.get("mountPath"): m for m in ct.get("volumeMounts", []) or []}

    def volume_at(container, mount_path):
        for m in container.get("volumeMounts", []) or []:
            if m.get("mountPath") == mount_path:
                return m, vols.get(m.get("name"), {"name": m.get("name")})
        return None, None

    # The ConfigMap whole at node.conf's directory: edits reach the pod.
    m, v = volume_at(ct, os.path.dirname(CONFIG))
    if c.expect(m and dig(v, "configMap.name") == dig(cm, "metadata.name"), sts_path,
                f"{cf}.volumeMounts", f"the ConfigMap {dig(cm, 'metadata.name')} must be "
                f"mounted at {os.path.dirname(CONFIG)}"):
        c.expect(not m.get("subPath"), sts_path, f"{cf}.volumeMounts[{m.get('name')}].subPath",
                 "none: a subPath mount never sees the ConfigMap's updates (map reload)")
    data = cm.get("data") or {}
    cm_files = {os.path.join(os.path.dirname(CONFIG), k): k for k in data}
    text = data.get(os.path.basename(CONFIG))
    if not c.expect(text, cm_path, f"data.{os.path.basename(CONFIG)}", "missing"):
        c.finish(what)
    conf = node_conf(text)
    cfield = f"ConfigMap[{dig(cm, 'metadata.name')}].data.node.conf"
    listen = conf.get("listen", "0.0.0.0:7700")
    port = int(listen.rsplit(":", 1)[1])
    c.expect(port != 0, cm_path, f"{cfield}: listen", "needs a fixed port (the map names it)")
    c.expect(any(p.get("containerPort") == port for p in ct.get("ports", []) or []), sts_path,
             f"{cf}.ports", f"the node's port {port} (node.conf listen) is not a containerPort")
    sport = (dig(svc, "spec.ports") or [{}])[0]
    c.expect(port_of(ct, sport.get("targetPort", sport.get("port"))) == port and
             sport.get("port") == port, svc_path, "spec.ports",
             f"must be the node's port {port}, by the same number (the map's addresses)")
    for probe in ("readinessProbe", "livenessProbe"):
        p = ct.get(probe)
        if not c.expect(p, sts_path, f"{cf}.{probe}", "missing"):
            continue
        if "tcpSocket" in p:
            c.expect(port_of(ct, dig(p, "tcpSocket.port")) == port, sts_path,
                     f"{cf}.{probe}.tcpSocket.port", f"must be the node's port {port}")
    live, ready = ct.get("livenessProbe") or {}, ct.get("readinessProbe") or {}
    patience = lambda p: p.get("periodSeconds", 10) * p.get("failureThreshold", 3)  # noqa: E731
    c.expect(patience(live) >= patience(ready), sts_path, f"{cf}.livenessProbe",
             "restarts the node sooner than readiness marks it unready")

    # --- the map: the StatefulSet's pods, as --node names them
    node_arg = opt_value(argv, "--node") or ""
    sts_name, svc_name = dig(sts, "metadata.name"), dig(svc, "metadata.name")
    c.expect(node_arg == f"$(POD_NAME).{svc_name}.$(POD_NAMESPACE).svc:{port}", sts_path,
             f"{cf}.args", f"--node must be $(POD_NAME).{svc_name}.$(POD_NAMESPACE).svc:{port} "
             f"(the pod's DNS name under the headless Service), is '{node_arg}'")
    replicas = dig(sts, "spec.replicas", 1)
    pods = [f"{sts_name}-{i}.{svc_name}.{NS}.svc:{port}" for i in range(replicas)]
    mpath = conf.get("map")
    if c.expect(mpath in cm_files, cm_path, f"{cfield}: map",
                f"'{mpath}' is not a file of the ConfigMap mounted at {os.path.dirname(CONFIG)}"):
        mtext = data[cm_files[mpath]]
        got = map_nodes(mtext)
        c.expect([a for a, _g in got] == pods, cm_path, "data.map",
                 f"node lines must be the {replicas} pods, in order: {pods}; are {[a for a, _ in got]}")
        groups = {g for _a, g in got}
        if conf.get("backend") == "rados":
            c.expect(len(groups) == 1 and 0 not in groups, cm_path, "data.map",
                     "rados: every node shares the pool: one 'group N' on every node line")
        else:
            c.expect(groups <= {0}, cm_path, "data.map",
                     "file: each node owns its volumes alone: no 'group'")
    # TLS: node.conf's files in the memory volume the init container fills.
    run_m = None
    for key in ("cert", "key", "ca"):
        p = conf.get(key, "")
        m = [mp for mp in mounts if p.startswith(mp.rstrip("/") + "/")]
        v = vols.get(mounts[m[0]].get("name"), {}) if m else {}
        if c.expect(m and "emptyDir" in v, cm_path, f"{cfield}: {key}",
                    f"'{p}' must be in an emptyDir the init container fills"):
            run_m = m[0]
            c.expect(dig(v, "emptyDir.medium") == "Memory", sts_path,
                     f"{f}.volumes[{v.get('name')}].emptyDir.medium",
                     "must be Memory (it holds the private key)")
    inits = [i for i in spec.get("initContainers") or [] if run_m and any(
        m.get("mountPath") == run_m for m in i.get("volumeMounts", []) or [])]
    init_script, tls_src = "", None
    if c.expect(len(inits) == 1, sts_path, f"{f}.initContainers",
                "needs one init container filling the node's TLS directory"):
        ic = inits[0]
        icf = f"{f}.initContainers[{ic.get('name')}]"
        check_image(c, sts_path, icf, ic.get("image", ""), version)
        check_restricted(c, sts_path, icf, ic)
        init_script = (ic.get("args") or [""])[-1]
        for m in ic.get("volumeMounts", []) or []:
            v = vols.get(m.get("name"), {})
            if dig(v, "secret.secretName"):
                tls_src = m.get("mountPath")
                keys = sorted(i.get("key") for i in dig(v, "secret.items", []) or [])
                c.expect(keys == TLS_KEYS, sts_path, f"{f}.volumes[{v.get('name')}].secret.items",
                         f"must be {TLS_KEYS}, is {keys}")
                c.expect(tls_src in init_script, sts_path, f"{icf}.args",
                         f"does not read the Secret's mount {tls_src}")
        c.expect(tls_src, sts_path, f"{icf}.volumeMounts", "the TLS Secret is not mounted")
    # (t_k8s_node.sh runs the script: the files land where node.conf says)

    # --- backend
    if conf.get("backend") == "rados":
        c.expect(conf.get("rados-pool"), cm_path, f"{cfield}: rados-pool", "missing")
        rc = conf.get("rados-conf", "/etc/ceph/ceph.conf")
        if c.expect(rc in cm_files, cm_path, f"{cfield}: rados-conf",
                    f"'{rc}' is not a file of the ConfigMap"):
            kr = re.search(r"^\s*keyring\s*=\s*(\S+)", data[cm_files[rc]], re.M)
            krp = kr.group(1) if kr else ""
            m = [mp for mp in mounts if krp.startswith(mp.rstrip("/") + "/")]
            v = vols.get(mounts[m[0]].get("name"), {}) if m else {}
            c.expect(m and os.path.relpath(krp, m[0]) in
                     [i.get("path") for i in dig(v, "secret.items", []) or []],
                     cm_path, "data.ceph.conf: keyring",
                     f"'{krp}' must be a file of a Secret the node mounts")
    else:
        c.expect(conf.get("backend") == "file", cm_path, f"{cfield}: backend",
                 "must be rados or file")
        d = conf.get("dir", "")
        m, v = volume_at(ct, d)
        if built:
            c.expect(m and m.get("name") in claims, sts_path, f"{cf}.volumeMounts",
                     f"file backend: dir {d} must be a volumeClaimTemplate's volume (the data)")

    # --- Secret examples: the names and keys the pod mounts
    ex_path = os.path.join(ndir, "secrets.example.yaml")
    ex = {dig(d, "metadata.name"): d for d in load(c, ex_path) if d.get("kind") == "Secret"}
    for n, v in vols.items():
        name = dig(v, "secret.secretName")
        if not name:
            continue
        if c.expect(name in ex, ex_path, "Secret", f"no example of {name} (volume {n})"):
            keys = set((ex[name].get("stringData") or {}) | (ex[name].get("data") or {}))
            for i in dig(v, "secret.items", []) or []:
                c.expect(i.get("key") in keys, ex_path, f"Secret[{name}]",
                         f"has no key {i.get('key')}")

    out = os.environ.get("DEPLOY_CHECK_OUT")
    if out and not c.errors:
        os.makedirs(out, exist_ok=True)
        files = {"node.conf": text, "map": data.get("map", ""),
                 "ceph.conf": data.get("ceph.conf", ""), "init.sh": init_script,
                 "args": "\n".join(argv) + "\n", "pods": "\n".join(pods) + "\n",
                 "mounts": "".join(f"{mp}\n" for mp in sorted(mounts)),
                 "tls_src": f"{tls_src}\n", "run_dir": f"{run_m}\n"}
        for name, body in files.items():
            with open(os.path.join(out, name), "w", encoding="utf-8") as fh:
                fh.write(body)
    c.finish(f"{what}{' (kustomize build)' if built else ''}")


if __name__ == "__main__":
    main()
