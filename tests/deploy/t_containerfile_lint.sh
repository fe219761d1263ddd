#!/bin/bash
# deploy/Containerfile, statically (no container engine here): two Debian 12
# stages, the packages the build and the programs need, COPY sources that
# exist, every directory CMake reads copied, the agent as ENTRYPOINT
# (check_containerfile.py).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || deploy_apt_install python3 || skip "python3 missing"
python3 "$DEPLOY_TESTS/check_containerfile.py" "$NETBLK_SRC"
