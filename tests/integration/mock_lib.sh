# SPDX-License-Identifier: MIT
#
# Helpers for the tests of netblk-server-mock alone (mock_*.sh). Source it
# first thing; it sources lib.sh (nb_mock_start, mock_ctl, nb_certs ...)
# and adds:
#
#   mock_require            mock, probe, netblk-certs and openssl present
#   mock_probe NAME STEP... run mock_probe against mock NAME (client certs)
#   mock_log_has NAME REGEX the mock's log matches (waits up to 5 s)
#
# mock_probe lives in the build tree: $NETBLK_BUILD/tests/support.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NETBLK_BUILD=${NETBLK_BUILD:-$(dirname "$NETBLK_BIN")}
MOCK_PROBE=$NETBLK_BUILD/tests/support/mock_probe

mock_require() {
	[ -x "$NB_MOCK" ] || nb_fail "$NB_MOCK is not built (set NETBLK_BIN)"
	[ -x "$MOCK_PROBE" ] || nb_fail "$MOCK_PROBE is not built (set NETBLK_BUILD)"
	[ -x "$NB_CERTS" ] || nb_fail "$NB_CERTS is missing"
	command -v openssl >/dev/null || nb_skip "the openssl command is not installed"
	command -v timeout >/dev/null || nb_skip "the timeout command is not installed"
}

# mock_probe NAME STEP...: output in $NB_TMP/probe.out as well as stdout.
mock_probe() {
	local name=$1 pki=$NB_TMP/pki
	shift
	timeout --kill-after=5 60 "$MOCK_PROBE" --connect "127.0.0.1:$(nb_mock_port "$name")" \
		--ca "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key" "$@" |
		tee "$NB_TMP/probe.out"
}

mock_log_has() {
	local name=$1 re=$2 i
	for ((i = 0; i < 50; i++)); do
		grep -Eq -- "$re" "$NB_TMP/$name.log" && return 0
		sleep 0.1
	done
	return 1
}
