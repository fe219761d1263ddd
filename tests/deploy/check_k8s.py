# SPDX-License-Identifier: MIT
"""check_k8s.py SRC: the Kubernetes manifests under SRC/deploy/kubernetes
parse, use only field names Kubernetes knows at the levels that matter, and
keep what the agent needs (privileged, host paths, probes running
'vduse-netblk status', image, agent arguments, modules, TLS Secret mode,
priority, tolerations, the optional loop module); no static
PersistentVolume or attach Job is left (pods get volumes through the CSI
driver), and every deploy/ path that deploy/README.md names exists. Every
failure names the file and the field."""

import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy_check import Checker, dig, project_version  # noqa: E402

# Field names Kubernetes accepts (core/v1, apps/v1, batch/v1), for the
# objects these manifests use. A misspelt field is dropped without a word
# by lenient clients; here it fails.
POD_SPEC_KEYS = {
    "activeDeadlineSeconds", "affinity", "automountServiceAccountToken",
    "containers", "dnsConfig", "dnsPolicy", "enableServiceLinks",
    "ephemeralContainers", "hostAliases", "hostIPC", "hostNetwork", "hostPID",
    "hostUsers", "hostname", "imagePullSecrets", "initContainers", "nodeName",
    "nodeSelector", "os", "overhead", "preemptionPolicy", "priority",
    "priorityClassName", "readinessGates", "resourceClaims", "restartPolicy",
    "runtimeClassName", "schedulerName", "schedulingGates", "securityContext",
    "serviceAccount", "serviceAccountName", "setHostnameAsFQDN",
    "shareProcessNamespace", "subdomain", "terminationGracePeriodSeconds",
    "tolerations", "topologySpreadConstraints", "volumes",
}
CONTAINER_KEYS = {
    "args", "command", "env", "envFrom", "image", "imagePullPolicy",
    "lifecycle", "livenessProbe", "name", "ports", "readinessProbe",
    "resizePolicy", "resources", "restartPolicy", "securityContext",
    "startupProbe", "stdin", "stdinOnce", "terminationMessagePath",
    "terminationMessagePolicy", "tty", "volumeDevices", "volumeMounts",
    "workingDir",
}
PROBE_KEYS = {
    "exec", "failureThreshold", "grpc", "httpGet", "initialDelaySeconds",
    "periodSeconds", "successThreshold", "tcpSocket",
    "terminationGracePeriodSeconds", "timeoutSeconds",
}
VOLUME_MOUNT_KEYS = {"mountPath", "mountPropagation", "name", "readOnly",
                     "recursiveReadOnly", "subPath", "subPathExpr"}
HOSTPATH_TYPES = {"", "DirectoryOrCreate", "Directory", "FileOrCreate", "File",
                  "Socket", "CharDevice", "BlockDevice"}
SECURITY_CONTEXT_KEYS = {
    "allowPrivilegeEscalation", "appArmorProfile", "capabilities",
    "privileged", "procMount", "readOnlyRootFilesystem", "runAsGroup",
    "runAsNonRoot", "runAsUser", "seLinuxOptions", "seccompProfile",
    "windowsOptions",
}
NAMESPACED = {"ServiceAccount", "ConfigMap", "DaemonSet", "Job", "Secret",
              "PersistentVolumeClaim", "Pod"}

NS = "vduse-netblk"
IMAGE_REPO = "vduse-netblk"
SPEC_DIR_HOST = "/etc/vduse-netblk/specs"
STATE_DIR_HOST = "/run/vduse-netblk"
TLS_FILES = ["ca.crt", "client.crt", "client.key"]
MODULES = ["vduse", "virtio_vdpa", "vhost_vdpa"]
# Loaded when the kernel can, else a warning: loop for the CSI node
# plugin's read-only raw block publications (losetup --read-only).
OPTIONAL_MODULES = ["loop"]


# The storage nodes' directories have a checker of their own
# (check_k8s_node.py): their overlay holds patches, not whole objects.
NODE_DIRS = {"node", "node-file"}
# The CSI driver's objects: check_k8s_csi.py.
OWN_CHECKER_DIRS = NODE_DIRS | {"csi"}


def load_all(c, kdir):
    """{path: [documents]} for every .yaml under kdir (but NODE_DIRS)."""
    docs = {}
    for root, dirs, files in os.walk(kdir):
        if root == kdir:
            dirs[:] = [d for d in dirs if d not in OWN_CHECKER_DIRS]
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")):
                continue
            path = os.path.join(root, name)
            try:
                with open(path, encoding="utf-8") as f:
                    docs[path] = [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                c.fail(path, "(yaml)", f"does not parse: {e}")
                continue
            c.expect(docs[path], path, "(yaml)", "holds no document")
    return docs


def check_keys(c, path, field, obj, allowed):
    if not c.expect(isinstance(obj, dict), path, field, "is not a mapping"):
        return
    for k in obj:
        c.expect(k in allowed, path, f"{field}.{k}", "is not a field Kubernetes knows here")


def check_pod_spec(c, path, field, spec):
    check_keys(c, path, field, spec, POD_SPEC_KEYS)
    vols = {v.get("name"): v for v in spec.get("volumes", []) or []}
    for kind in ("initContainers", "containers"):
        for i, ct in enumerate(spec.get(kind, []) or []):
            cf = f"{field}.{kind}[{ct.get('name', i)}]"
            check_keys(c, path, cf, ct, CONTAINER_KEYS)
            for p in ("livenessProbe", "readinessProbe", "startupProbe"):
                if p in ct:
                    check_keys(c, path, f"{cf}.{p}", ct[p], PROBE_KEYS)
            if "securityContext" in ct:
                check_keys(c, path, f"{cf}.securityContext", ct["securityContext"],
                           SECURITY_CONTEXT_KEYS)
            for m in ct.get("volumeMounts", []) or []:
                mf = f"{cf}.volumeMounts[{m.get('name')}]"
                check_keys(c, path, mf, m, VOLUME_MOUNT_KEYS)
                c.expect(m.get("name") in vols, path, mf, "names no volume of the pod")
            for d in ct.get("volumeDevices", []) or []:
                df = f"{cf}.volumeDevices[{d.get('name')}]"
                v = vols.get(d.get("name"))
                c.expect(v is not None and "persistentVolumeClaim" in v, path, df,
                         "must name a persistentVolumeClaim volume (Kubernetes "
                         "accepts nothing else in volumeDevices)")
    for name, v in vols.items():
        hp = v.get("hostPath")
        if hp is not None:
            c.expect(hp.get("type", "") in HOSTPATH_TYPES, path,
                     f"{field}.volumes[{name}].hostPath.type",
                     f"'{hp.get('type')}' is not a hostPath type")


def pod_specs(docs):
    """(path, field, pod spec) of every Pod, DaemonSet and Job."""
    for path, ds in docs.items():
        for d in ds:
            kind = d.get("kind")
            if kind == "Pod":
                yield path, "spec", d.get("spec") or {}
            elif kind in ("DaemonSet", "Job", "Deployment", "StatefulSet"):
                yield path, "spec.template.spec", dig(d, "spec.template.spec", {})


def argv_of(ct):
    return [str(a) for a in (ct.get("command") or []) + (ct.get("args") or [])]


def opt_value(argv, opt):
    if opt in argv:
        i = argv.index(opt)
        return argv[i + 1] if i + 1 < len(argv) else None
    for a in argv:
        if a.startswith(opt + "="):
            return a.split("=", 1)[1]
    return None


def mount_of(ct, vols, mount_path):
    """(mount, volume) mounted at mount_path in ct, or (None, None)."""
    for m in ct.get("volumeMounts", []) or []:
        if m.get("mountPath", "").rstrip("/") == mount_path.rstrip("/"):
            return m, vols.get(m.get("name"))
    return None, None


def check_image(c, path, field, image, version):
    repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    c.expect(repo.split("/")[-1] == IMAGE_REPO, path, f"{field}.image",
             f"'{image}' is not the {IMAGE_REPO} image")
    c.expect(tag == version, path, f"{field}.image",
             f"tag '{tag}' is not the project version '{version}' (CMakeLists.txt)")


def check_host_mount(c, path, field, ct, vols, mount_path, host_path, read_only=None):
    m, v = mount_of(ct, vols, mount_path)
    if not c.expect(m is not None, path, f"{field}.volumeMounts",
                    f"nothing mounted at {mount_path}"):
        return
    got = dig(v or {}, "hostPath.path")
    c.expect(got == host_path, path, f"{field}.volumeMounts[{m.get('name')}]",
             f"{mount_path} must be the host's {host_path} (hostPath), is {got}")
    if read_only is not None:
        c.expect(bool(m.get("readOnly", False)) == read_only, path,
                 f"{field}.volumeMounts[{m.get('name')}].readOnly",
                 f"must be {str(read_only).lower()}")


def check_daemonset(c, path, ds, docs, version):
    f = "spec.template.spec"
    spec = dig(ds, f, {})
    c.expect(ds.get("apiVersion") == "apps/v1", path, "apiVersion", "must be apps/v1")
    sel = dig(ds, "spec.selector.matchLabels", {})
    labels = dig(ds, "spec.template.metadata.labels", {})
    c.expect(sel and all(labels.get(k) == v for k, v in sel.items()), path,
             "spec.selector.matchLabels", "does not match the pod template's labels")
    c.expect(spec.get("priorityClassName") == "system-node-critical", path,
             f"{f}.priorityClassName", "must be system-node-critical")
    tol = spec.get("tolerations") or []
    c.expect(any(t.get("operator") == "Exists" and not t.get("key") and not t.get("effect")
                 for t in tol), path, f"{f}.tolerations",
             "needs {operator: Exists} (no key, no effect) to run on every node")
    if spec.get("hostNetwork"):
        c.expect(spec.get("dnsPolicy") == "ClusterFirstWithHostNet", path, f"{f}.dnsPolicy",
                 "must be ClusterFirstWithHostNet with hostNetwork")
    sa = spec.get("serviceAccountName")
    sas = [(p, d) for p, ds_ in docs.items() for d in ds_ if d.get("kind") == "ServiceAccount"]
    c.expect(any(dig(d, "metadata.name") == sa and dig(d, "metadata.namespace") == NS
                 for _p, d in sas), path, f"{f}.serviceAccountName",
             f"'{sa}' is no ServiceAccount of namespace {NS} in deploy/kubernetes")
    vols = {v.get("name"): v for v in spec.get("volumes", []) or []}

    # --- the agent container
    agents = [ct for ct in spec.get("containers", []) or [] if "agent" in argv_of(ct)]
    if not c.expect(len(agents) == 1, path, f"{f}.containers",
                    "needs exactly one container whose arguments include 'agent'"):
        return
    ct = agents[0]
    cf = f"{f}.containers[{ct.get('name')}]"
    argv = argv_of(ct)
    check_image(c, path, cf, ct.get("image", ""), version)
    c.expect(argv and os.path.basename(argv[0]) == "vduse-netblk" and argv[1:2] == ["agent"],
             path, f"{cf}.command/args", f"must run 'vduse-netblk agent', runs {argv[:2]}")
    c.expect("--foreground" in argv, path, f"{cf}.args",
             "needs --foreground (else the agent forks and the container ends)")
    spec_dir = opt_value(argv, "--spec-dir")
    c.expect(spec_dir, path, f"{cf}.args", "needs --spec-dir DIR")
    c.expect(dig(ct, "securityContext.privileged") is True, path,
             f"{cf}.securityContext.privileged", "must be true")
    for mp, hp in (("/dev", "/dev"), ("/sys", "/sys"), (STATE_DIR_HOST, STATE_DIR_HOST)):
        check_host_mount(c, path, cf, ct, vols, mp, hp)
    check_host_mount(c, path, cf, ct, vols, "/lib/modules", "/lib/modules", read_only=True)
    if spec_dir:
        check_host_mount(c, path, cf, ct, vols, spec_dir, SPEC_DIR_HOST, read_only=False)
    state_dir = opt_value(argv, "--run-dir")
    if state_dir:
        check_host_mount(c, path, cf, ct, vols, state_dir, STATE_DIR_HOST)
    metrics = opt_value(argv, "--metrics")
    if metrics:
        port = metrics.rsplit(":", 1)[-1]
        c.expect(any(str(p.get("containerPort")) == port for p in ct.get("ports", []) or []),
                 path, f"{cf}.ports", f"--metrics port {port} is not a containerPort")
    for probe in ("readinessProbe", "livenessProbe"):
        cmd = [str(a) for a in dig(ct, f"{probe}.exec.command", []) or []]
        pf = f"{cf}.{probe}.exec.command"
        c.expect(cmd and os.path.basename(cmd[0]) == "vduse-netblk" and cmd[1:2] == ["status"],
                 path, pf, f"must run 'vduse-netblk status', runs {cmd[:2]}")
        c.expect(opt_value(cmd, "--spec-dir") == spec_dir, path, pf,
                 f"--spec-dir must be the agent's ({spec_dir})")
        c.expect(opt_value(cmd, "--run-dir") == (state_dir or "/run/vduse-netblk"),
                 path, pf, "--run-dir must be the agent's (its heartbeat is there)")
        # Liveness is the agent's loop answering; readiness adds the volumes.
        want_ready = probe == "readinessProbe"
        c.expect(("--ready" in cmd) == want_ready, path, pf,
                 "readiness needs --ready (every volume attached)" if want_ready else
                 "no --ready: one volume that cannot attach must not restart the agent")
    c.agent_argv = argv
    c.probes = [[str(a) for a in dig(ct, f"{p}.exec.command", []) or []]
                for p in ("readinessProbe", "livenessProbe")]
    live, ready = ct.get("livenessProbe") or {}, ct.get("readinessProbe") or {}
    patience = lambda p: p.get("periodSeconds", 10) * p.get("failureThreshold", 3)  # noqa: E731
    c.expect(patience(live) >= patience(ready), path, f"{cf}.livenessProbe",
             "restarts the agent sooner than readiness marks it unready")
    c.expect(dig(ct, "lifecycle.preStop") is None, path, f"{cf}.lifecycle.preStop",
             "none wanted: SIGTERM already leaves the disks attached, and a hook "
             "only delays the next agent")
    for r in ("requests.cpu", "requests.memory", "limits.memory"):
        c.expect(dig(ct, f"resources.{r}") is not None, path, f"{cf}.resources.{r}", "missing")
    c.expect(ct.get("imagePullPolicy") in ("IfNotPresent", "Always", None), path,
             f"{cf}.imagePullPolicy", "unknown value")

    # --- TLS from the Secret, mode 0400, where the specs expect it
    tls_vols = [n for n, v in vols.items() if "secret" in v]
    if c.expect(len(tls_vols) == 1, path, f"{f}.volumes", "needs one Secret volume (TLS)"):
        v = vols[tls_vols[0]]
        vf = f"{f}.volumes[{tls_vols[0]}].secret"
        c.expect(dig(v, "secret.defaultMode") == 0o400, path, f"{vf}.defaultMode",
                 f"must be 0400, is {oct(dig(v, 'secret.defaultMode') or 0)}")
        keys = [i.get("key") for i in dig(v, "secret.items", []) or []]
        c.expect(sorted(keys) == sorted(TLS_FILES), path, f"{vf}.items",
                 f"must be {TLS_FILES}, is {keys}")
        m = [m for m in ct.get("volumeMounts", []) or [] if m.get("name") == tls_vols[0]]
        if c.expect(m, path, f"{cf}.volumeMounts", "the TLS Secret is not mounted"):
            c.expect(m[0].get("readOnly") is True, path,
                     f"{cf}.volumeMounts[{tls_vols[0]}].readOnly", "must be true")
            c.tls_dir = m[0].get("mountPath")
            for opt, fname in (("--ca", "ca.crt"), ("--cert", "client.crt"),
                               ("--key", "client.key")):
                want = os.path.join(c.tls_dir, fname)
                c.expect(opt_value(argv, opt) == want, path, f"{cf}.args",
                         f"{opt} must be {want} (the Secret's file), is {opt_value(argv, opt)}")

    # --- the init container loading the modules
    inits = spec.get("initContainers") or []
    mod = [i for i in inits if "modprobe" in " ".join(argv_of(i))]
    if not c.expect(len(mod) == 1, path, f"{f}.initContainers",
                    "needs one init container that runs modprobe"):
        return
    ic = mod[0]
    icf = f"{f}.initContainers[{ic.get('name')}]"
    check_image(c, path, icf, ic.get("image", ""), version)
    c.expect(dig(ic, "securityContext.privileged") is True, path,
             f"{icf}.securityContext.privileged", "must be true (modprobe)")
    check_host_mount(c, path, icf, ic, vols, "/lib/modules", "/lib/modules", read_only=True)
    env = {e.get("name"): e.get("value") for e in ic.get("env", []) or []}
    modules = (env.get("MODULES") or "").split()
    for m in MODULES:
        c.expect(m in modules, path, f"{icf}.env.MODULES", f"does not load {m}")
    if "virtio_vdpa" in modules and "vhost_vdpa" in modules:
        c.expect(modules.index("virtio_vdpa") < modules.index("vhost_vdpa"), path,
                 f"{icf}.env.MODULES", "virtio_vdpa must come before vhost_vdpa "
                 "(the first loaded binds new devices; containers need /dev/vdX)")
    optional = (env.get("OPTIONAL_MODULES") or "").split()
    for m in OPTIONAL_MODULES:
        c.expect(m in optional, path, f"{icf}.env.OPTIONAL_MODULES",
                 f"does not load {m}" + (" (netblk-csi's read-only raw block "
                                         "publications need it)" if m == "loop" else ""))
    for m in optional:
        c.expect(m not in modules, path, f"{icf}.env.OPTIONAL_MODULES",
                 f"{m} is in MODULES too")
    c.init_script = (ic.get("args") or [""])[-1]
    c.init_modules = modules
    c.init_optional = optional


def check_no_static_path(c, docs):
    """Pods get volumes through the CSI driver (deploy/kubernetes/csi): no
    hand-made PersistentVolume, no provisioner-less StorageClass, no Job
    writing spec files is left beside the agent."""
    for path, ds in docs.items():
        for d in ds:
            kind, name = d.get("kind"), dig(d, "metadata.name")
            c.expect(kind not in ("PersistentVolume", "Job"), path, f"{kind}[{name}]",
                     "volumes reach pods through the CSI driver (deploy/kubernetes/csi), "
                     "not hand-made PersistentVolumes or attach Jobs")
            if kind == "StorageClass":
                c.expect(d.get("provisioner") != "kubernetes.io/no-provisioner", path,
                         f"StorageClass[{name}].provisioner",
                         "the class of netblk volumes is the CSI driver's (csi/storageclass.yaml)")


def check_readme_paths(c, src):
    """Every file or directory of deploy/ that deploy/README.md names
    (`kubernetes/...`, `deploy/...`, `systemd/...`, `Containerfile...`)
    exists: the guide cannot point at something removed."""
    readme = os.path.join(src, "deploy", "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    seen = set()
    for m in re.finditer(r"(?<![\w./-])((?:deploy/)?(?:kubernetes|systemd)/[\w./@-]*|"
                         r"(?:deploy/)?Containerfile[\w.]*)", text):
        ref = m.group(1).rstrip("./")
        if ref in seen:
            continue
        seen.add(ref)
        rel = ref if ref.startswith("deploy/") else "deploy/" + ref
        c.expect(os.path.exists(os.path.join(src, rel)), readme, ref,
                 f"names {rel}, which does not exist")


def main():
    src = sys.argv[1]
    kdir = os.path.join(src, "deploy", "kubernetes")
    c = Checker(src)
    version = project_version(src)
    c.expect(version, os.path.join(src, "CMakeLists.txt"), "project(VERSION)", "not found")
    docs = load_all(c, kdir)
    for path, ds in docs.items():
        for i, d in enumerate(ds):
            where = f"document {i + 1}"
            if path.endswith("kustomization.yaml"):
                continue
            for k in ("apiVersion", "kind"):
                c.expect(d.get(k), path, f"{where}.{k}", "missing")
            c.expect(dig(d, "metadata.name"), path, f"{where}.metadata.name", "missing")
            if d.get("kind") in NAMESPACED and os.path.dirname(path) == kdir:
                c.expect(dig(d, "metadata.namespace") == NS, path,
                         f"{d.get('kind')}[{dig(d, 'metadata.name')}].metadata.namespace",
                         f"must be {NS}")
    for path, field, spec in pod_specs(docs):
        check_pod_spec(c, path, field, spec)

    kust = os.path.join(kdir, "kustomization.yaml")
    res = (docs.get(kust) or [{}])[0].get("resources", [])
    for name in ("namespace.yaml", "configmap.yaml", "daemonset.yaml"):
        c.expect(name in res, kust, "resources", f"does not list {name}")
    for name in res:
        c.expect(os.path.exists(os.path.join(kdir, name)), kust, "resources",
                 f"{name} does not exist")
    for img in (docs.get(kust) or [{}])[0].get("images", []) or []:
        if img.get("name") == IMAGE_REPO and "newTag" in img:
            c.expect(str(img["newTag"]) == version, kust, "images.newTag",
                     f"'{img['newTag']}' is not the project version '{version}' (CMakeLists.txt)")
    cms = [d for ds in docs.values() for d in ds if d.get("kind") == "ConfigMap"
           and dig(d, "metadata.name") == "vduse-netblk-cluster"]
    c.expect(cms and dig(cms[0], "data.cluster"), os.path.join(kdir, "configmap.yaml"),
             "ConfigMap[vduse-netblk-cluster].data.cluster", "the cluster addresses are missing")

    dss = [(p, d) for p, ds in docs.items() for d in ds if d.get("kind") == "DaemonSet"]
    if c.expect(len(dss) == 1, kdir, "DaemonSet", f"expected one, found {len(dss)}"):
        check_daemonset(c, dss[0][0], dss[0][1], docs, version)
    check_no_static_path(c, docs)
    check_readme_paths(c, src)

    # For the behaviour checks that follow (run by the shell script).
    out = os.environ.get("DEPLOY_CHECK_OUT")
    if out and not c.errors:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "init.sh"), "w", encoding="utf-8") as f:
            f.write(c.init_script)
        with open(os.path.join(out, "agent.argv"), "w", encoding="utf-8") as f:
            f.write("\n".join(c.agent_argv) + "\n")
        with open(os.path.join(out, "probes"), "w", encoding="utf-8") as f:
            for cmd in c.probes:
                f.write("\t".join(cmd) + "\n")
        with open(os.path.join(out, "modules"), "w", encoding="utf-8") as f:
            f.write(" ".join(c.init_modules) + "\n")
        with open(os.path.join(out, "tls_dir"), "w", encoding="utf-8") as f:
            f.write(c.tls_dir + "\n")
        with open(os.path.join(out, "optional_modules"), "w", encoding="utf-8") as f:
            f.write(" ".join(c.init_optional) + "\n")
    c.finish("deploy/kubernetes")


if __name__ == "__main__":
    main()
