#!/bin/bash
# vhost-blk-test's command line: --help, usage errors exit 2 with a message
# naming the problem, a missing device exits 1 naming it.
set -u
bin=$NETBLK_BIN/vhost-blk-test
fails=0

expect() {
	local want_rc=$1 want_msg=$2 out rc
	shift 2
	out=$("$bin" "$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want_rc" ]; then
		echo "FAIL: vhost-blk-test $*: exit $rc, want $want_rc: $out"
		fails=$((fails + 1))
	elif ! grep -q -- "$want_msg" <<<"$out"; then
		echo "FAIL: vhost-blk-test $*: output lacks '$want_msg': $out"
		fails=$((fails + 1))
	else
		echo "ok: vhost-blk-test $* -> $rc"
	fi
}

expect 0 "Usage: vhost-blk-test" --help
expect 0 "remap" -h
expect 2 "need DEVICE and COMMAND"
expect 2 "need DEVICE and COMMAND" /dev/vhost-vdpa-0
expect 2 "unknown command 'frobnicate'" /dev/vhost-vdpa-0 frobnicate
expect 2 "read-file needs exactly one FILE" /dev/vhost-vdpa-0 read-file
expect 2 "unexpected argument 'x'" /dev/vhost-vdpa-0 verify x
expect 2 "power of two" --queue-size 100 /dev/vhost-vdpa-0 verify
expect 2 "--size '12Q'" --size 12Q /dev/vhost-vdpa-0 verify
expect 2 "--queues '9'" --queues 9 /dev/vhost-vdpa-0 verify
expect 2 "multiple of 4096" --max-io 5000 /dev/vhost-vdpa-0 verify
expect 2 "Try 'vhost-blk-test --help'" --bogus /dev/vhost-vdpa-0 verify
expect 1 "cannot open /nonexistent/vhost-vdpa-9" /nonexistent/vhost-vdpa-9 info
[ "$fails" = 0 ] || { echo "$fails failures"; exit 1; }
echo "all usage checks passed"
