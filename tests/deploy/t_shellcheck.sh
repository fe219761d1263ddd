#!/bin/bash
# Runs shellcheck over the shell of deploy/: the scripts the manifests carry
# (init containers) and these tests.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v shellcheck >/dev/null || deploy_apt_install shellcheck ||
	skip "shellcheck missing and cannot be installed here"
command -v shellcheck >/dev/null || skip "shellcheck still missing"
deploy_need_pyyaml
deploy_tmp
out=$DEPLOY_TMP/out
DEPLOY_CHECK_OUT=$out python3 "$DEPLOY_TESTS/check_k8s.py" "$NETBLK_SRC" >/dev/null ||
	fail "deploy/kubernetes: check_k8s.py fails (deploy_k8s_manifests says why)"
DEPLOY_CHECK_OUT=$DEPLOY_TMP/node python3 "$DEPLOY_TESTS/check_k8s_node.py" "$NETBLK_SRC" rados >/dev/null ||
	fail "deploy/kubernetes/node: check_k8s_node.py fails (deploy_k8s_node says why)"
bad=0
check() { # FILE-SHOWN SCRIPT-PATH
	shellcheck -s sh "$2" > "$DEPLOY_TMP/sc.out" 2>&1 && return 0
	sed "s#$2#$1#" "$DEPLOY_TMP/sc.out" >&2
	bad=1
}
check "deploy/kubernetes/daemonset.yaml initContainers[modules].args" "$out/init.sh"
check "deploy/kubernetes/node/statefulset.yaml initContainers[tls].args" "$DEPLOY_TMP/node/init.sh"
shellcheck -x -P SCRIPTDIR "$DEPLOY_TESTS"/*.sh || bad=1
[ "$bad" -eq 0 ] || fail "shellcheck found problems (above)"
echo "deploy: shell clean"
