#!/bin/bash
# deploy/kubernetes/csi: the CSI driver's manifests parse and fit together
# (check_k8s_csi.py), and the driver as built accepts the arguments the
# manifests give it (--help exits 0 and no option is unknown).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
deploy_need_pyyaml
python3 "$DEPLOY_TESTS/check_k8s_csi.py" "$NETBLK_SRC"
bin=${NETBLK_BIN:-}/netblk-csi
if [ -x "$bin" ]; then
	for f in controller node; do
		args=$(python3 - "$NETBLK_SRC/deploy/kubernetes/csi/$f.yaml" <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    for ct in d["spec"]["template"]["spec"]["containers"]:
        if ct.get("command") == ["netblk-csi"]:
            print("\n".join(ct["args"]))
PY
)
		mapfile -t argv <<<"$args"
		for ((i = 0; i < ${#argv[@]}; i++)); do
			[[ ${argv[i]} == --* ]] || continue
			"$bin" --help | grep -q -- "${argv[i]}" ||
				fail "deploy/kubernetes/csi/$f.yaml: netblk-csi has no option ${argv[i]}"
		done
	done
	echo "netblk-csi knows every option the manifests pass"
else
	echo "note: netblk-csi not built: its options are not checked"
fi
echo "deploy/kubernetes/csi: OK"
