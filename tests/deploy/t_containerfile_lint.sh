#!/bin/bash
# deploy/Containerfile (the agent) and deploy/Containerfile.node (the
# storage node), statically (no container engine here): two Debian 12
# stages, the packages the build and the program need, COPY sources that
# exist, every directory CMake reads copied, the program as ENTRYPOINT, the
# node as a numeric non-root USER (check_containerfile.py).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || deploy_apt_install python3 || skip "python3 missing"
rc=0
for image in agent node; do
	python3 "$DEPLOY_TESTS/check_containerfile.py" --image "$image" "$NETBLK_SRC" || rc=1
done
exit "$rc"
