#!/bin/bash
# SPDX-License-Identifier: MIT
#
# t_ceph_fixture.sh: the ctest fixture "ceph": one Ceph cluster for every
# test with label ceph (tests/ceph/CMakeLists.txt).
#   t_ceph_fixture.sh start DIR   stop what a former run left in DIR, then
#                                 start a fresh cluster there (DIR/env)
#   t_ceph_fixture.sh stop DIR    stop it and remove DIR
# Exit: 0 ok, 1 fail, 77 skip (Ceph packages missing and not installable;
# the tests that need DIR/env then skip too).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CC=$HERE/ceph-cluster.sh
[ $# -eq 2 ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
CMD=$1 D=$2

case $CMD in
start)
	# A cluster left by an interrupted run: its daemons still hold RAM.
	if [ -e "$D" ]; then
		timeout 60 "$CC" stop "$D" || { echo "cannot clear $D" >&2; exit 1; }
	fi
	t0=$(date +%s.%N)
	rc=0
	timeout 300 "$CC" start "$D" || rc=$?
	case $rc in
	0) ;;
	3) echo "SKIP: Ceph packages missing and cannot be installed" >&2; exit 77 ;;
	*) echo "FAIL: ceph-cluster.sh start exited $rc" >&2; exit 1 ;;
	esac
	awk -v a="$t0" -v b="$(date +%s.%N)" \
		'BEGIN { printf "ceph fixture: cluster ready in %.1f s\n", b - a }'
	;;
stop)
	timeout 60 "$CC" stop "$D" || exit 1
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
