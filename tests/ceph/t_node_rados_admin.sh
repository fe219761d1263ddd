#!/bin/bash
# SPDX-License-Identifier: MIT
#
# DELETE, RESIZE and LIST on netblk-node's rados backend (fixture "ceph"):
# two nodes on one pool, one store group. A volume created through node
# a is listed through node b (read from the pool's volume directory) with
# its size; a RESIZE through a is seen by b's INFO (the header's size and
# its notify); a shrink is refused; DELETE is refused while another owner
# holds the writer lock, then forced: the header and data objects are gone
# from the pool and neither node lists or finds the volume; a volume
# deleted through a is NOT_FOUND to b's RESIZE, UNLOCK and DELETE. Skips (77)
# without the cluster's env file.
NETBLK_SRC=${NETBLK_SRC:?}
. "$NETBLK_SRC/tests/integration/mock_lib.sh"
[ -r "${NETBLK_CEPH_ENV:-}" ] || nb_skip "no Ceph cluster (NETBLK_CEPH_ENV unset or unreadable)"
# shellcheck disable=SC1090
. "$NETBLK_CEPH_ENV"
mock_require
nb_require_programs
command -v rados >/dev/null || nb_skip "the rados command is not installed"
nb_certs
vol=adm$$-$RANDOM
rados_opts=(--backend rados --rados-pool "$CEPH_POOL" --rados-conf "$CEPH_CONF"
	--rados-user "$CEPH_CLIENT_ID" --rados-keyring "$CEPH_CLIENT_KEYRING" --allow-create)
map=$NB_TMP/cluster.map
radosc=(rados -c "$CEPH_CONF" --id "$CEPH_CLIENT_ID" --keyring "$CEPH_CLIENT_KEYRING" -p "$CEPH_POOL")

printf 'epoch 1\nchunk_size 1M\nnode 127.0.0.1:1\n' >"$map"
nb_node_start a "${rados_opts[@]}" --map "$map"
nb_node_start b "${rados_opts[@]}" --map "$map"
pa=$(nb_mock_port a) pb=$(nb_mock_port b)
printf 'epoch 2\nchunk_size 1M\nnode 127.0.0.1:%s group 1\nnode 127.0.0.1:%s group 1\nchunk 0 1\nchunk 1 0\n' \
	"$pa" "$pb" >"$map"
kill -HUP "${NB_MOCK_PID[a]}" "${NB_MOCK_PID[b]}"
for n in a b; do
	mock_log_has "$n" "epoch 2" || nb_fail "node $n did not load map epoch 2"
done
ca=(--cluster "127.0.0.1:$pa")
cb=(--cluster "127.0.0.1:$pb")

out=$(nb_cli "${ca[@]}" --volume "$vol" create 8M 2>&1) || nb_fail "create failed: $out"
out=$(nb_cli "${ca[@]}" --volume "$vol" verify --size 8M 2>&1) || nb_fail "verify failed: $out"
out=$(nb_cli "${cb[@]}" list 2>&1) || nb_fail "list through b failed: $out"
grep -Eq "^$vol +8388608 +512$" <<<"$out" || nb_fail "list through b lacks '$vol 8388608 512': $out"
out=$(nb_cli "${cb[@]}" list --json) || nb_fail "list --json failed: $out"
python3 -c "import json,sys; d=json.load(sys.stdin); assert any(v['volume']=='$vol' and v['size']==8388608 for v in d['volumes']), d" \
	<<<"$out" || nb_fail "list --json through b: $out"
nb_info "ok: a volume created through node a is listed through node b, 8 MiB"

# b opens it (INFO) before the resize, so its size must follow the header
out=$(nb_cli "${cb[@]}" --volume "$vol" info) || nb_fail "info through b failed: $out"
out=$(nb_cli "${ca[@]}" --volume "$vol" resize 12M 2>&1) || nb_fail "resize through a failed: $out"
got=$("${radosc[@]}" getxattr "netblk.$vol.header" netblk.size 2>&1) || true
[ "$got" = 12582912 ] || nb_fail "the header's netblk.size is '$got', not 12582912"
for ((i = 0; i < 50; i++)); do
	out=$(nb_cli "${cb[@]}" --volume "$vol" info) || nb_fail "info through b failed: $out"
	grep -q "12582912 bytes" <<<"$out" && break
	sleep 0.1
done
grep -q "12582912 bytes" <<<"$out" || nb_fail "node b does not see the resize to 12 MiB: $out"
out=$(nb_cli "${cb[@]}" --volume "$vol" verify --offset 8M --size 4M 2>&1) ||
	nb_fail "verify of the grown part through b failed: $out"
nb_info "ok: RESIZE through a to 12 MiB: b's INFO shows it, the new 4 MiB verify through b"
nb_expect_fail "shrink" "shrink.*not supported" nb_cli "${ca[@]}" --volume "$vol" resize 4M

# DELETE: refused while another owner holds the lock, then forced
mock_probe b "hs" "open $vol owner=alice@h1" "write 0 4096 1" >/dev/null ||
	nb_fail "mock_probe could not take the lock"
nb_expect_fail "delete of a locked volume" "locked by 'alice@h1'" \
	nb_cli "${ca[@]}" delete "$vol"
"${radosc[@]}" ls | grep -qF "netblk.$vol.header" || nb_fail "the refused delete removed the header"
out=$(nb_cli "${ca[@]},127.0.0.1:$pb" delete --force "$vol" 2>&1) || nb_fail "delete --force failed: $out"
[ "$(grep -c "deleted on" <<<"$out")" = 1 ] || nb_fail "delete did not delete exactly once (one store): $out"
left=$("${radosc[@]}" ls | grep -F "netblk.$vol." || true)
[ -z "$left" ] || nb_fail "objects of $vol left in the pool: $left"
for c in ca cb; do
	declare -n cl=$c
	out=$(nb_cli "${cl[@]}" list 2>&1) || nb_fail "list failed: $out"
	grep -q "^$vol " <<<"$out" && nb_fail "$c still lists $vol: $out"
	nb_expect_fail "info through $c after delete" "not found" nb_cli "${cl[@]}" --volume "$vol" info
done
nb_info "ok: DELETE refused while alice@h1 held the lock; forced, no object of $vol is left"

# A volume node b still has in its table, deleted through node a: b's
# RESIZE, UNLOCK and DELETE answer NOT_FOUND (not IO_ERROR) and b forgets it.
for op in "resize $vol 8388608" "unlock $vol" "delete $vol"; do
	mock_probe a "hs" "create $vol 4194304" >/dev/null || nb_fail "create through a failed"
	mock_probe b "hs" "info $vol" >/dev/null || nb_fail "info through b failed"
	mock_probe a "hs" "delete $vol" >/dev/null || nb_fail "delete through a failed"
	mock_probe b "hs" "!NOT_FOUND $op" >/dev/null ||
		nb_fail "${op%% *} through b of a volume deleted through a: not NOT_FOUND"
	mock_probe b "hs" "!NOT_FOUND info $vol" >/dev/null || nb_fail "b still finds $vol"
done
nb_info "ok: RESIZE, UNLOCK, DELETE through b of a volume deleted through a: NOT_FOUND"
nb_info "PASS"
