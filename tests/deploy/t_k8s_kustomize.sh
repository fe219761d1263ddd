#!/bin/bash
# deploy/kubernetes/kustomization.yaml builds (kubectl kustomize, offline)
# into the namespace, service account, ConfigMap and DaemonSet, with the
# image the kustomization names. Skips where kubectl is not installed (it
# is not a Debian 12 package).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v kubectl >/dev/null || skip "kubectl not installed"
deploy_need_pyyaml
deploy_tmp
k=deploy/kubernetes/kustomization.yaml
kubectl kustomize "$NETBLK_SRC/deploy/kubernetes" > "$DEPLOY_TMP/all.yaml" 2> "$DEPLOY_TMP/err" ||
	fail "$k: kubectl kustomize fails: $(cat "$DEPLOY_TMP/err")"
python3 - "$DEPLOY_TMP/all.yaml" "$NETBLK_SRC/$k" <<'PY' || exit 1
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kust = yaml.safe_load(open(sys.argv[2]))
kinds = sorted(d["kind"] for d in docs)
want = sorted(["Namespace", "ServiceAccount", "ConfigMap", "DaemonSet"])
if kinds != want:
    sys.exit(f"FAIL: deploy/kubernetes/kustomization.yaml: resources: built {kinds}, expected {want}")
ds = [d for d in docs if d["kind"] == "DaemonSet"][0]
pod = ds["spec"]["template"]["spec"]
img = [i for i in kust.get("images", []) if i.get("name") == "vduse-netblk"]
if img:
    want_image = (img[0].get("newName") or "vduse-netblk") + ":" + str(img[0].get("newTag"))
    for ct in pod.get("initContainers", []) + pod["containers"]:
        if ct["image"] != want_image:
            sys.exit(f"FAIL: deploy/kubernetes/kustomization.yaml: images: container {ct['name']} "
                     f"gets {ct['image']}, expected {want_image}")
print("deploy/kubernetes: kustomize builds", ", ".join(kinds))
PY
