#!/bin/bash
# SPDX-License-Identifier: MIT
#
# t_ceph_cluster.sh: ceph-cluster.sh brings up a working RADOS cluster and
# takes it down again. Starts a cluster in a temporary directory, writes a
# 4 MiB object of random data as the restricted client, reads it back and
# compares, checks the pool is listed and that the client cannot write to
# another pool, checks every listening socket of the cluster is on
# 127.0.0.1, stops the cluster and checks no process of it is left.
#
# Exit: 0 pass, 1 fail, 77 skip (Ceph packages missing and not installable).
# Environment: CEPH_TEST_OSDS (default 1) is passed as --osds.
set -euo pipefail

T=t_ceph_cluster
HERE=$(cd "$(dirname "$0")" && pwd)
CC=$HERE/ceph-cluster.sh
OSDS=${CEPH_TEST_OSDS:-1}

info() { echo "[$T] $*"; }
fail() {
	echo "[$T] FAIL: $*" >&2
	exit 1
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/$T.XXXXXX") || fail "mktemp failed"
D=$TMP/cluster

# Pids of processes whose command line names $D/ceph.conf.
left_pids() {
	local p
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- " $D/ceph.conf" &&
			echo "${p#/proc/}"
	done
	return 0
}

cleanup() {
	local rc=$? p
	trap - EXIT
	if [ -e "$D/.ceph-cluster" ]; then
		timeout 60 "$CC" stop "$D" >/dev/null 2>&1 || true
	fi
	for p in $(left_pids); do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf -- "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

rc=0
timeout 1200 "$CC" install || rc=$?
case $rc in
0) ;;
3) echo "[$T] SKIP: Ceph packages missing and cannot be installed" >&2; exit 77 ;;
*) fail "ceph-cluster.sh install exited $rc" ;;
esac

timeout 300 "$CC" start "$D" --osds "$OSDS" --pool tpool --user tuser ||
	fail "ceph-cluster.sh start failed"
[ -r "$D/env" ] || fail "$D/env missing"
# shellcheck disable=SC1091
. "$D/env"
[ "$CEPH_POOL" = tpool ] || fail "env: CEPH_POOL=$CEPH_POOL, expected tpool"
[ "$CEPH_CLIENT_ID" = tuser ] || fail "env: CEPH_CLIENT_ID=$CEPH_CLIENT_ID, expected tuser"

# A second start on the running cluster is a no-op that succeeds.
out=$(timeout 60 "$CC" start "$D" 2>&1) || fail "second start failed: $out"
grep -q "already running" <<<"$out" || fail "second start did not say 'already running': $out"

# Every daemon pid recorded in DIR is alive.
[ -s "$D/run/pids" ] || fail "no pid list in $D/run/pids"
n=0
while read -r name pid; do
	kill -0 "$pid" 2>/dev/null || fail "$name (pid $pid) is not running"
	n=$((n + 1))
done <"$D/run/pids"
[ "$n" = $((OSDS + 1)) ] || fail "$n daemons recorded, expected $((OSDS + 1))"

# 4 MiB of random data, as the restricted client.
head -c $((4 << 20)) /dev/urandom >"$TMP/obj.in"
timeout 60 rados --id "$CEPH_CLIENT_ID" -p "$CEPH_POOL" put obj4m "$TMP/obj.in" ||
	fail "rados put of 4 MiB failed"
timeout 60 rados --id "$CEPH_CLIENT_ID" -p "$CEPH_POOL" get obj4m "$TMP/obj.out" ||
	fail "rados get failed"
cmp "$TMP/obj.in" "$TMP/obj.out" || fail "object read back differs from what was written"
sz=$(timeout 60 rados --id "$CEPH_CLIENT_ID" -p "$CEPH_POOL" stat obj4m) || fail "rados stat failed"
grep -q "size $((4 << 20))" <<<"$sz" || fail "rados stat does not show size 4194304: $sz"
info "ok: 4 MiB object written, read back identical"

# The pool is listed (as admin and as the client).
timeout 60 ceph osd pool ls | grep -qx tpool || fail "ceph osd pool ls does not list tpool"
timeout 60 rados --id "$CEPH_CLIENT_ID" lspools | grep -qx tpool ||
	fail "rados lspools as $CEPH_CLIENT_NAME does not list tpool"
timeout 60 ceph osd pool get tpool size | grep -qx "size: 1" || fail "pool size is not 1"
info "ok: pool tpool listed, size 1"

# The client's caps are limited to its pool.
timeout 60 ceph osd pool create tother 4 >/dev/null 2>&1 || fail "cannot create pool tother as admin"
if timeout 60 rados --id "$CEPH_CLIENT_ID" -p tother put x "$TMP/obj.in" 2>/dev/null; then
	fail "$CEPH_CLIENT_NAME could write to pool tother"
fi
timeout 60 rados -p tother put x /etc/hostname || fail "admin cannot write to pool tother"
info "ok: $CEPH_CLIENT_NAME cannot write outside its pool, admin can"

# Listening sockets of the cluster's daemons: all on 127.0.0.1.
socks=""
while read -r name pid; do
	s=$(ss -Htlnp | grep -F "pid=$pid," | awk '{ print $4 }') || true
	[ -n "$s" ] || fail "$name (pid $pid) listens on nothing"
	socks+=" $(tr "\n" " " <<<"$s")"
done <"$D/run/pids"
for s in $socks; do
	case $s in 127.0.0.1:*) ;; *) fail "a daemon listens on $s, not loopback" ;; esac
done
info "ok: listening only on loopback:$socks"

out=$(timeout 60 "$CC" status "$D") || fail "status failed: $out"
grep -q "HEALTH_" <<<"$out" || fail "status shows no health: $out"

timeout 120 "$CC" stop "$D" || fail "ceph-cluster.sh stop failed"
[ ! -e "$D" ] || fail "$D still exists after stop"
left=$(left_pids)
[ -z "$left" ] || fail "processes of the cluster left after stop: $left"
info "ok: stopped, no process left, $D removed"
info "PASS"
