#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-csi's Identity and Controller services against a real mock node:
# the Python client (controller_test.py) plays the external-provisioner,
# -attacher and -resizer; every call right and wrong, with the status codes
# the CSI specification prescribes.
. "$NETBLK_SRC/tests/integration/lib.sh"
py=${NETBLK_CSI_PY:-$NETBLK_BIN/../client/csi/py}
[ -x "$NETBLK_BIN/netblk-csi" ] || nb_fail "netblk-csi is not built"
[ -f "$py/csi_pb2_grpc.py" ] || nb_skip "no Python CSI stubs (python3-grpcio, python3-grpc-tools)"
nb_certs
nb_mock_start n0 --allow-create
c="127.0.0.1:$(nb_mock_port n0)"
tls=(--ca "$NB_TMP/pki/ca.crt" --cert "$NB_TMP/pki/client.crt" --key "$NB_TMP/pki/client.key")
# --connect-timeout 3: the concurrency case holds a call on a silent node
"$NETBLK_BIN/netblk-csi" --mode controller --endpoint "unix://$NB_TMP/csi.sock" \
	--cluster "$c" "${tls[@]}" --connect-timeout 3 >"$NB_TMP/csi.log" 2>&1 &
csi_pid=$!
NB_MOCK_PID["csi"]=$csi_pid   # stopped by nb_cleanup if we fail early
for ((i = 0; i < 100; i++)); do [ -S "$NB_TMP/csi.sock" ] && break; sleep 0.1; done
[ -S "$NB_TMP/csi.sock" ] || nb_fail "netblk-csi did not listen: $(tail -5 "$NB_TMP/csi.log")"
rc=0
NETBLK_CSI_PY=$py /usr/bin/python3 "$NETBLK_SRC/tests/csi/controller_test.py" \
	"$NB_TMP/csi.sock" "$NB_CLI_BIN --cluster $c ${tls[*]}" || rc=$?
kill -TERM $csi_pid
unset 'NB_MOCK_PID[csi]'
wait $csi_pid || nb_fail "netblk-csi exited $? on SIGTERM: $(tail -5 "$NB_TMP/csi.log")"
[ ! -e "$NB_TMP/csi.sock" ] || nb_fail "netblk-csi left its socket behind"
[ $rc = 0 ] || nb_fail "controller checks failed (netblk-csi log: $(tail -5 "$NB_TMP/csi.log"))"
nb_info "PASS"
