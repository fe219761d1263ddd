#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-cli delete, resize and list (DELETE, RESIZE, LIST) against a mock
# node (memory volumes) and a netblk-node (file volumes): bad names, a
# missing volume, a volume whose writer lock another owner holds (refused,
# then --force), a shrink (refused), a grow seen by info and usable by
# verify, list in text and JSON, and the files gone after a delete.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_certs

nb_mock_start m0 --volume keep:1M --allow-create
nb_mock_start m1 --volume keep:1M
nb_node_start n0 --allow-create
cm=(--cluster "127.0.0.1:$(nb_mock_port m0)")
cn=(--cluster "127.0.0.1:$(nb_mock_port n0)")
c1=(--cluster "127.0.0.1:$(nb_mock_port m1)")
dir=$NB_TMP/n0.vols

for c in cm cn; do
	declare -n cl=$c
	what="($c)"
	nb_cli "${cl[@]}" --volume a1 create 4M >/dev/null || nb_fail "$what create a1 failed"
	nb_cli "${cl[@]}" --volume b2 create --block-size 4096 8M >/dev/null || nb_fail "$what create b2 failed"

	# list: both volumes (and keep on the mock), sorted, with sizes
	out=$(nb_cli "${cl[@]}" list) || nb_fail "$what list failed: $out"
	grep -Eq '^a1 +4194304 +512$' <<<"$out" || nb_fail "$what list lacks 'a1 4194304 512': $out"
	grep -Eq '^b2 +8388608 +4096$' <<<"$out" || nb_fail "$what list lacks 'b2 8388608 4096': $out"
	[ "$(head -n 1 <<<"$out" | awk '{print $1}')" = a1 ] || nb_fail "$what list is not sorted: $out"
	out=$(nb_cli "${cl[@]}" list --json) || nb_fail "$what list --json failed: $out"
	python3 -c '
import json, sys
d = json.load(sys.stdin)
v = {x["volume"]: x for x in d["volumes"]}
assert d["stores"] == 1, d
assert v["a1"]["size"] == 4194304 and v["a1"]["block_size"] == 512, v
assert v["b2"]["size"] == 8388608 and v["b2"]["block_size"] == 4096, v
assert v["a1"]["stores"] == 1 and v["a1"]["read_only"] is False, v
' <<<"$out" || nb_fail "$what list --json: $out"
	nb_info "ok: $what list shows a1 (4 MiB) and b2 (8 MiB, 4 KiB blocks), text and JSON"

	# resize: grow, same size, shrink refused, bad sizes, missing volume
	out=$(nb_cli "${cl[@]}" --volume a1 resize 6M) || nb_fail "$what resize to 6M failed: $out"
	out=$(nb_cli "${cl[@]}" --volume a1 info) || nb_fail "$what info failed: $out"
	grep -q "6291456 bytes" <<<"$out" || nb_fail "$what info after resize: $out"
	out=$(nb_cli "${cl[@]}" --volume a1 verify --offset 5M --size 1M 2>&1) ||
		nb_fail "$what verify in the grown part failed: $out"
	nb_cli "${cl[@]}" --volume a1 resize 6M >/dev/null || nb_fail "$what resize to the same size failed"
	nb_info "ok: $what resize 4M -> 6M: info shows it, the new megabyte verifies, the same size again is fine"
	nb_expect_fail "$what shrink" "shrink.*not supported" nb_cli "${cl[@]}" --volume a1 resize 2M
	out=$(nb_cli "${cl[@]}" --volume a1 info) || nb_fail "$what info failed: $out"
	grep -q "6291456 bytes" <<<"$out" || nb_fail "$what the refused shrink changed the size: $out"
	nb_expect_fail "$what resize b2 to a size that is not a multiple of 4096" "multiple of .*4096" \
		nb_cli "${cl[@]}" --volume b2 resize 9001K
	nb_expect_fail "$what resize of a missing volume" "not found" nb_cli "${cl[@]}" --volume nosuch resize 8M
	nb_expect_fail "$what resize with a bad name" "bad volume name" nb_cli "${cl[@]}" --volume 'x/y' resize 8M

	# delete: bad name, missing, locked by another owner, --force
	nb_expect_fail "$what delete with a bad name" "bad volume name" nb_cli "${cl[@]}" delete '../etc'
	nb_expect_fail "$what delete of a missing volume" "does not exist" nb_cli "${cl[@]}" delete nosuch
	out=$(nb_cli "${cl[@]}" delete --missing-ok nosuch) || nb_fail "$what delete --missing-ok failed: $out"
	mock_probe "${c#c}0" "hs" "open b2 owner=alice@h1" "write 0 4096 1" >/dev/null ||
		nb_fail "$what mock_probe could not take b2's lock"
	nb_expect_fail "$what delete of a locked volume" "locked by 'alice@h1'.*--force" \
		nb_cli "${cl[@]}" delete b2
	out=$(nb_cli "${cl[@]}" --volume b2 info) || nb_fail "$what b2 is gone after a refused delete: $out"
	out=$(nb_cli "${cl[@]}" delete --force b2) || nb_fail "$what delete --force failed: $out"
	grep -q "deleted" <<<"$out" || nb_fail "$what delete --force says: $out"
	nb_expect_fail "$what info after delete" "not found" nb_cli "${cl[@]}" --volume b2 info
	nb_info "ok: $what delete: refused while alice@h1 holds the lock, done with --force"
	out=$(nb_cli "${cl[@]}" --volume a1 delete) || nb_fail "$what delete a1 failed: $out"
	out=$(nb_cli "${cl[@]}" list) || nb_fail "$what list failed: $out"
	grep -Eq '^(a1|b2) ' <<<"$out" && nb_fail "$what list still shows deleted volumes: $out"
	# the name can be used again, for a new and empty volume
	nb_cli "${cl[@]}" --volume a1 create 1M >/dev/null || nb_fail "$what create a1 again failed"
	out=$(nb_cli "${cl[@]}" --volume a1 export - | tr -d '\0' | wc -c)
	[ "$out" = 0 ] || nb_fail "$what the re-created a1 is not all zeroes ($out bytes)"
	nb_cli "${cl[@]}" --volume a1 delete >/dev/null || nb_fail "$what delete a1 again failed"
	nb_info "ok: $what deleted volumes are gone from list; a name can be created again, empty"
done
# A forced delete while a connection has the volume open: its requests
# get NOT_FOUND afterwards (nothing reaches the deleted data).
pki=$NB_TMP/pki
nb_cli "${cm[@]}" --volume busy create 1M >/dev/null || nb_fail "create busy failed"
del="$NB_CLI_BIN --ca $pki/ca.crt --cert $pki/client.crt --key $pki/client.key --cluster 127.0.0.1:$(nb_mock_port m0) delete --force busy"
mock_probe m0 "hs" "open busy owner=carol@h3" "write 0 4096 1" "run $del >/dev/null" \
	"!NOT_FOUND write 0 4096 2" "!NOT_FOUND read 0 4096 1" >/dev/null ||
	nb_fail "the connection of a deleted volume: $(cat "$NB_TMP/probe.out")"
grep -q "NOT_FOUND.*was deleted" "$NB_TMP/probe.out" || nb_fail "no 'was deleted': $(cat "$NB_TMP/probe.out")"
nb_info "ok: after a forced delete the open connection's write and read get NOT_FOUND"

ls "$dir" | grep -Eq '^(a1|b2)\.(vol|meta|lock)$' && nb_fail "files left after delete: $(ls "$dir")"
nb_info "ok: netblk-node removed the .vol, .meta and .lock files"

# A node without --allow-create refuses DELETE and RESIZE; LIST works.
nb_expect_fail "delete on a node without --allow-create" "does not allow|disabled" \
	nb_cli "${c1[@]}" delete keep
nb_expect_fail "resize on a node without --allow-create" "disabled" \
	nb_cli "${c1[@]}" --volume keep resize 2M
out=$(nb_cli "${c1[@]}" list) || nb_fail "list on m1 failed: $out"
grep -Eq '^keep +1048576 +512$' <<<"$out" || nb_fail "list on m1: $out"
nb_info "PASS"
