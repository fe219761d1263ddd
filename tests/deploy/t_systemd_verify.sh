#!/bin/bash
# deploy/systemd: the units (and netblk-node.service) pass 'systemd-analyze verify' (with the built
# daemon as ExecStart), keep an exposure level of 4.0 or better in
# 'systemd-analyze security --offline', keep the fields that matter
# (check_systemd.py), and the template's wait-for-the-disk step finds a
# disk on a fake vDPA bus.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || deploy_apt_install systemd ||
	skip "systemd-analyze missing and systemd cannot be installed here"
command -v systemd-analyze >/dev/null || skip "systemd-analyze still missing"
command -v python3 >/dev/null || deploy_apt_install python3 || skip "python3 missing"
: "${NETBLK_BIN:?NETBLK_BIN unset}"
[ -x "$NETBLK_BIN/vduse-netblk" ] || fail "$NETBLK_BIN/vduse-netblk not built"
deploy_tmp
sd=$NETBLK_SRC/deploy/systemd

python3 "$DEPLOY_TESTS/check_systemd.py" "$NETBLK_SRC"

units=$DEPLOY_TMP/units
mkdir -p "$units"
for f in vduse-netblk@.service vduse-netblk-agent.service; do
	grep -q '/usr/local/bin/vduse-netblk ' "$sd/$f" ||
		fail "deploy/systemd/$f: ExecStart: does not run /usr/local/bin/vduse-netblk"
	sed "s#/usr/local/bin/vduse-netblk #$NETBLK_BIN/vduse-netblk #" "$sd/$f" > "$units/$f"
done
for u in vduse-netblk@test.service vduse-netblk-agent.service; do
	f=${u/@test/@}
	rc=0
	systemd-analyze verify --man=no "$units/$u" > "$DEPLOY_TMP/verify.out" 2>&1 || rc=$?
	# Warnings (unknown keys, bad values) do not change the exit status.
	if [ "$rc" -ne 0 ] || grep -q 'vduse-netblk' "$DEPLOY_TMP/verify.out"; then
		sed "s#$units/##" "$DEPLOY_TMP/verify.out" >&2
		fail "deploy/systemd/$f: systemd-analyze verify: exit $rc, see above"
	fi
	rc=0
	systemd-analyze security --offline=yes --threshold=40 "$units/$u" > "$DEPLOY_TMP/sec.out" 2>&1 || rc=$?
	tail -n 1 "$DEPLOY_TMP/sec.out"
	[ "$rc" -eq 0 ] || fail "deploy/systemd/$f: hardening: exposure over 4.0: $(tail -n 1 "$DEPLOY_TMP/sec.out")"
done

# netblk-node.service: the storage node.
if [ -x "$NETBLK_BIN/netblk-node" ]; then
	f=netblk-node.service
	grep -q '/usr/local/bin/netblk-node ' "$sd/$f" ||
		fail "deploy/systemd/$f: ExecStart: does not run /usr/local/bin/netblk-node"
	sed "s#/usr/local/bin/netblk-node #$NETBLK_BIN/netblk-node #g" "$sd/$f" > "$units/$f"
	rc=0
	systemd-analyze verify --man=no "$units/$f" > "$DEPLOY_TMP/verify.out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] || grep -q 'netblk-node' "$DEPLOY_TMP/verify.out"; then
		sed "s#$units/##" "$DEPLOY_TMP/verify.out" >&2
		fail "deploy/systemd/$f: systemd-analyze verify: exit $rc, see above"
	fi
	rc=0
	systemd-analyze security --offline=yes --threshold=40 "$units/$f" > "$DEPLOY_TMP/sec.out" 2>&1 || rc=$?
	tail -n 1 "$DEPLOY_TMP/sec.out"
	[ "$rc" -eq 0 ] || fail "deploy/systemd/$f: hardening: exposure over 4.0: $(tail -n 1 "$DEPLOY_TMP/sec.out")"
fi

# ExecStartPost: the wait for the kernel's disk, on a fake /sys/bus/vdpa.
post=$(sed -n "s/^ExecStartPost=\/bin\/sh -c '\(.*\)'$/\1/p" "$sd/vduse-netblk@.service")
[ -n "$post" ] || fail "deploy/systemd/vduse-netblk@.service: ExecStartPost: not a /bin/sh -c '...' line"
bus=$DEPLOY_TMP/vdpa
mkdir -p "$bus/netblk-blk/virtio3/block/vdz" "$bus/netblk-vhost/vhost-vdpa-0"
for name in netblk-blk netblk-vhost; do
	script=${post//\$\$/\$}
	script=${script//\$\{NAME\}/$name}
	script=${script//%i/${name#netblk-}}
	script=${script//\/sys\/bus\/vdpa\/devices/$bus}
	rc=0
	timeout 10 sh -c "$script" || rc=$?
	[ "$rc" -eq 0 ] || fail "deploy/systemd/vduse-netblk@.service: ExecStartPost: does not find the disk of $name (exit $rc; 124: still waiting after 10 s)"
done
echo "deploy/systemd: units OK"
