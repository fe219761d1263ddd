#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-cli create and info: a node started with --allow-create creates a
# volume that can then be described and used; a second create is refused
# as existing; a node without --allow-create refuses.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs

nb_mock_start n0 --volume vol0:1M --allow-create
nb_mock_start n1 --volume vol0:1M --volume rov:1M:ro
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

# A read-only volume: writes are refused up front, reads work.
nb_expect_fail "import into a read-only volume" "read-only" \
	nb_cli --cluster "$c1" --volume rov import /etc/hostname
[ "$NB_LAST_RC" = 1 ] || nb_fail "import into a read-only volume: exit $NB_LAST_RC, expected 1"
nb_expect_fail "verify (write pass) on a read-only volume" "read-only" \
	nb_cli --cluster "$c1" --volume rov verify --size 64K
out=$(nb_cli --cluster "$c1" --volume rov --read-only export - | wc -c) || nb_fail "export of a read-only volume failed"
[ "$out" = 1048576 ] || nb_fail "export of the read-only volume gave $out bytes, expected 1048576"
out=$(nb_cli --cluster "$c1" --volume rov info) || nb_fail "info of a read-only volume failed"
grep -Eq "read-only: +yes" <<<"$out" || nb_fail "info does not say read-only: $out"
nb_info "ok: read-only volume: writes refused, export and info work"
nb_info "PASS"
