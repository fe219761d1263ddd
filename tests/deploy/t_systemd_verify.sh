#!/bin/bash
# deploy/systemd: the units (and netblk-node.service), as cmake --install
# writes them, pass 'systemd-analyze verify' (with the installed programs
# as ExecStart), keep an exposure level of 4.0 or better in
# 'systemd-analyze security --offline', and keep the fields that matter
# (check_systemd.py: Type=notify, the watchdog, ...).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || deploy_apt_install systemd ||
	skip "systemd-analyze missing and systemd cannot be installed here"
command -v systemd-analyze >/dev/null || skip "systemd-analyze still missing"
command -v python3 >/dev/null || deploy_apt_install python3 || skip "python3 missing"
: "${NETBLK_BIN:?NETBLK_BIN unset}"
[ -x "$NETBLK_BIN/vduse-netblk" ] || fail "$NETBLK_BIN/vduse-netblk not built"
deploy_tmp

python3 "$DEPLOY_TESTS/check_systemd.py" "$NETBLK_SRC"

# The units as cmake --install writes them, into a prefix of our own, so
# that ExecStart names installed programs (cmake/units.cmake rewrites the
# tree's /usr/bin for the prefix).
: "${NETBLK_BUILD:?NETBLK_BUILD unset}"
prefix=$DEPLOY_TMP/prefix
for comp in client node; do
	[ "$comp" = node ] && [ ! -x "$NETBLK_BIN/netblk-node" ] && continue
	cmake --install "$NETBLK_BUILD" --prefix "$prefix" --component "$comp" \
		> "$DEPLOY_TMP/install.out" 2>&1 ||
		{ cat "$DEPLOY_TMP/install.out" >&2; fail "cmake --install --component $comp failed"; }
done
units=$prefix/lib/systemd/system
check_unit() { # UNIT-TO-VERIFY FILE PROGRAM
	local u=$1 f=$2 prog=$3 rc=0
	grep -q "^ExecStart=$prefix/bin/$prog " "$units/$f" ||
		fail "installed $f: ExecStart does not run $prefix/bin/$prog: $(grep '^ExecStart=' "$units/$f")"
	! grep -q '/usr/local/\|/usr/bin/' "$units/$f" ||
		fail "installed $f: still names /usr/local or /usr/bin: $(grep -n '/usr/local/\|/usr/bin/' "$units/$f")"
	systemd-analyze verify --man=no "$units/$u" > "$DEPLOY_TMP/verify.out" 2>&1 || rc=$?
	# Warnings (unknown keys, bad values) do not change the exit status.
	if [ "$rc" -ne 0 ] || grep -q "$prog\|$f" "$DEPLOY_TMP/verify.out"; then
		sed "s#$units/##" "$DEPLOY_TMP/verify.out" >&2
		fail "deploy/systemd/$f: systemd-analyze verify: exit $rc, see above"
	fi
	rc=0
	systemd-analyze security --offline=yes --threshold=40 "$units/$u" > "$DEPLOY_TMP/sec.out" 2>&1 || rc=$?
	tail -n 1 "$DEPLOY_TMP/sec.out"
	[ "$rc" -eq 0 ] || fail "deploy/systemd/$f: hardening: exposure over 4.0: $(tail -n 1 "$DEPLOY_TMP/sec.out")"
}
# verify wants an instance of a template: link one.
ln -s vduse-netblk@.service "$units/vduse-netblk@test.service"
check_unit vduse-netblk@test.service vduse-netblk@.service vduse-netblk
check_unit vduse-netblk-agent.service vduse-netblk-agent.service vduse-netblk
# netblk-node.service: the storage node.
if [ -x "$NETBLK_BIN/netblk-node" ]; then
	check_unit netblk-node.service netblk-node.service netblk-node
fi
echo "deploy/systemd: units OK"
