#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The layers depend on each other one way only (check_layers.py): the
# tree as it is passes, and the check catches wrong includes planted in a
# copy of it (a virtio file using the protocol, the engine using virtio,
# the node core using the client engine).
set -u
src=${NETBLK_SRC:?}
here=$src/tests/layers
fail() { echo "FAIL: $*"; exit 1; }

out=$(python3 "$here/check_layers.py" "$src") || fail "the tree breaks the layer order:
$out"
echo "$out"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in common proto client server-mock server; do
	[ -d "$src/$d" ] && cp -r "$src/$d" "$tmp/"
done

plant() { # FILE INCLUDE: add the include after the file's first include
	sed -i "0,/^#include/s//#include \"$2\"\n#include/" "$tmp/$1"
}
plant client/virtio/blk.c rpc.h
plant client/engine/route.c vq.h
plant server/request.c session.h
out=$(python3 "$here/check_layers.py" "$tmp") && fail "planted includes not caught"
echo "$out"
grep -q '^client/virtio/blk.c:[0-9]*: the virtio layer includes rpc.h of the proto layer' <<<"$out" ||
	fail "virtio -> proto not reported"
grep -q '^client/engine/route.c:[0-9]*: the engine layer includes vq.h of the virtio layer' <<<"$out" ||
	fail "engine -> virtio not reported"
grep -q '^server/request.c:[0-9]*: the server layer includes session.h of the engine layer' <<<"$out" ||
	fail "server -> engine not reported"
[ "$(grep -c ': the .* layer includes' <<<"$out")" -eq 3 ] || fail "more than the three planted includes reported"
echo "PASS: layer order holds; planted wrong includes are reported"
