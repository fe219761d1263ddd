#!/bin/bash
# SPDX-License-Identifier: MIT
# Data written is read back identical: several sizes (512 B, 4 KiB, 1 MiB),
# odd sizes at unaligned offsets, requests spanning 64 KiB chunk
# boundaries; through import/export (files and pipes) and verify. A local
# model of the whole volume checks that bytes next to partial writes are
# kept.
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs

vsize=$((8 << 20))
chunk=$((64 << 10))
nb_cluster_start 1 "$NB_TMP/map" 64K --volume vol0:8M
cli=(--cluster "$NB_CLUSTER" --volume vol0)

model=$NB_TMP/model.img
head -c "$vsize" /dev/zero >"$model"

# offset size: aligned sizes, odd sizes at odd offsets, chunk crossings.
cases=(
	"0 512"
	"4096 4096"
	"$((1 << 20)) $((1 << 20))"
	"513 1000"
	"4097 3"
	"$((chunk - 512)) 1024"
	"$((chunk - 1)) 2"
	"$((3 * chunk - 100)) $((2 * chunk + 300))"
	"$((vsize - 777)) 777"
	"$((5 * chunk + 17)) $((300 * 1024 + 5))"
)
seed=0
for c in "${cases[@]}"; do
	read -r off len <<<"$c"
	seed=$((seed + 1))
	nb_pattern_file "$NB_TMP/in" "$len" "seed$seed"
	nb_cli "${cli[@]}" import --offset "$off" --block-size 64K --queue-depth 8 "$NB_TMP/in" >/dev/null ||
		nb_fail "import of $len bytes at offset $off failed"
	dd if="$NB_TMP/in" of="$model" bs=64K oflag=seek_bytes seek="$off" conv=notrunc status=none
	nb_cli "${cli[@]}" export --offset "$off" --length "$len" --block-size 64K "$NB_TMP/out" >/dev/null ||
		nb_fail "export of $len bytes at offset $off failed"
	cmp "$NB_TMP/in" "$NB_TMP/out" || nb_fail "$len bytes at offset $off read back different"
	nb_info "ok: $len bytes at offset $off (chunk $((off / chunk)) to $(((off + len - 1) / chunk))) read back identical"
done

# Pipes: stdin to the volume and the volume to stdout, in order.
nb_pattern_file "$NB_TMP/in" $((3 << 20)) pipe
# shellcheck disable=SC2002 # a real pipe, not a regular file, on stdin
cat "$NB_TMP/in" | nb_cli "${cli[@]}" import --offset $((2 << 20)) --block-size 192K --queue-depth 16 - >/dev/null ||
	nb_fail "import from stdin failed"
dd if="$NB_TMP/in" of="$model" bs=1M seek=2 conv=notrunc status=none
nb_cli "${cli[@]}" export --offset $((2 << 20)) --length $((3 << 20)) --block-size 192K --queue-depth 16 - 2>/dev/null |
	cmp - "$NB_TMP/in" || nb_fail "3 MiB through stdin/stdout read back different"
nb_info "ok: 3 MiB imported from stdin and exported to stdout (192 KiB I/Os over 64 KiB chunks) identical"

# The whole volume equals the model: nothing around partial writes changed.
nb_cli "${cli[@]}" export "$NB_TMP/whole" >/dev/null || nb_fail "export of the whole volume failed"
cmp "$NB_TMP/whole" "$model" || nb_fail "the volume differs from the expected image"
nb_info "ok: whole volume (8 MiB) equals the expected image"

# verify: block sizes that are not chunk multiples, unaligned to chunks.
out=$(nb_cli "${cli[@]}" verify --offset 61440 --size $((6 << 20)) --block-size 100K --queue-depth 8 --seed 42) ||
	nb_fail "verify (100K blocks from offset 61440) failed: $out"
grep -q "verify: OK" <<<"$out" || nb_fail "verify did not report OK: $out"
nb_info "ok: $(grep -m1 "verify: OK\|bench: .*IOPS" <<<"$out") (100 KiB I/Os from offset 61440)"
out=$(nb_cli "${cli[@]}" verify --block-size 512 --size 1M --queue-depth 32) ||
	nb_fail "verify with 512-byte I/Os failed: $out"
nb_info "ok: $(grep -m1 "verify: OK\|bench: .*IOPS" <<<"$out") (512-byte I/Os)"
# A second read pass with the earlier seed must notice the overwritten start.
rc=0
out=$(nb_cli "${cli[@]}" verify --pass read --offset 61440 --size 1M --block-size 64K --seed 42 2>&1) || rc=$?
[ "$rc" = 1 ] || nb_fail "verify --pass read of overwritten data: exit $rc, expected 1: $out"
grep -q "stale data written with seed" <<<"$out" || nb_fail "verify did not describe the stale data: $out"
nb_info "ok: verify detects data of another seed: $(grep -m1 MISMATCH <<<"$out")"

# A volume with 4 KiB logical blocks: partial blocks are 4 KiB wide.
nb_mock_start n4k --volume v4k:4M --block-size 4096
c4k=(--cluster "127.0.0.1:$(nb_mock_port n4k)" --volume v4k)
nb_pattern_file "$NB_TMP/in" 10000 b4k
nb_cli "${c4k[@]}" import --offset 1234 "$NB_TMP/in" >/dev/null || nb_fail "import into the 4K-block volume failed"
nb_cli "${c4k[@]}" export --offset 1234 --length 10000 "$NB_TMP/out" >/dev/null || nb_fail "export from the 4K-block volume failed"
cmp "$NB_TMP/in" "$NB_TMP/out" || nb_fail "10000 bytes at offset 1234 of a 4K-block volume read back different"
head -c 1234 /dev/zero | cmp - <(nb_cli "${c4k[@]}" export --length 1234 - 2>/dev/null) ||
	nb_fail "bytes before the unaligned write in the 4K-block volume changed"
nb_info "ok: 10000 bytes at offset 1234 of a 4 KiB-block volume read back, bytes before it still zero"
nb_expect_fail "verify with 512-byte I/Os on a 4K-block volume" "multiples of the volume block size 4096" \
	nb_cli "${c4k[@]}" verify --block-size 512 --size 1M
[ "$NB_LAST_RC" = 2 ] || nb_fail "misaligned verify: exit $NB_LAST_RC, expected 2"
nb_info "PASS"
