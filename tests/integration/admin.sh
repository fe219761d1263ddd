#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-cli create and info: a node started with --allow-create creates a
# volume that can then be described and used; a second create is refused
# as existing; a node without --allow-create refuses.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs

nb_mock_start n0 --volume vol0:1M --allow-create
nb_mock_start n1 --volume vol0:1M
c0="127.0.0.1:$(nb_mock_port n0)"
c1="127.0.0.1:$(nb_mock_port n1)"

out=$(nb_cli --cluster "$c0" --volume newvol create 8M) || nb_fail "create failed: $out"
nb_info "ok: create: $out"
out=$(nb_cli --cluster "$c0" --volume newvol info) || nb_fail "info failed: $out"
grep -q "8388608 bytes" <<<"$out" || nb_fail "info does not show the size 8388608: $out"
grep -Eq "block size: +512" <<<"$out" || nb_fail "info does not show block size 512: $out"
nb_info "ok: info shows 8 MiB, block size 512"
out=$(nb_cli --cluster "$c0" --volume newvol verify --size 8M 2>&1) || nb_fail "verify on the new volume failed: $out"
nb_info "ok: verify on the created volume: $(grep -m1 "verify: OK\|bench: .*IOPS" <<<"$out")"

nb_expect_fail "create an existing volume" "already exists" \
	nb_cli --cluster "$c0" --volume newvol create 8M
nb_expect_fail "create on a node that does not allow it" "not allow|unsupported|refuse" \
	nb_cli --cluster "$c1" --volume other create 8M
nb_expect_fail "info on a missing volume" "not found" \
	nb_cli --cluster "$c1" --volume other info
nb_info "PASS"
