#!/bin/bash
# SPDX-License-Identifier: MIT
# --admin-command for the CSI tests: a mock node can grow a volume through
# its control socket ($NB_CSI_MOCK_SOCK) but has no delete; every call is
# logged to $NB_CSI_ADMIN_LOG.
#   admin-mock.sh delete VOLUME CLUSTER | resize VOLUME CLUSTER BYTES
set -eu
echo "$*" >>"$NB_CSI_ADMIN_LOG"
# a test holds the command here while it makes a second call on the volume
while [ -e "$NB_CSI_ADMIN_LOG.hold" ]; do sleep 0.05; done
case $1 in
delete) exit 0 ;;
resize) exec "$NB_CSI_MOCK" ctl "$NB_CSI_MOCK_SOCK" resize "$2" "$4" ;;
*) echo "admin-mock.sh: unknown command $1" >&2; exit 2 ;;
esac
