#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-cli import skips holes and sends zeroes as WRITE_ZEROES, export
# writes a sparse file, and both show progress when asked: counted with
# the mock's request counters (control command 'stats').
. "$(dirname "$0")/lib.sh"
nb_require_programs
nb_certs
command -v cmp >/dev/null || nb_skip "cmp is not installed"

nb_mock_start n0 --volume vol0:64M --volume big:1G
port=$(nb_mock_port n0)
cli=(nb_cli --cluster "127.0.0.1:$port")

# delta KEY: the change of a mock counter since the last 'snap'.
declare -A before
snap() { for k in writes write_zeroes bytes_written reads; do before[$k]=$(mock_stat n0 "$k"); done; }
delta() { echo $(($(mock_stat n0 "$1") - ${before[$1]})); }

# 32 MiB + 100 bytes: holes, 1 MiB of random data at 3 MiB, 2 MiB of
# written zeroes at 10 MiB, 100 bytes of data at the end (partial block).
img=$NB_TMP/img
truncate -s 32M "$img"
dd if=/dev/urandom of="$img" bs=1M count=1 seek=3 conv=notrunc status=none
dd if=/dev/zero of="$img" bs=1M count=2 seek=10 conv=notrunc status=none
head -c 100 /dev/urandom >>"$img"

snap
out=$("${cli[@]}" --volume vol0 import --no-progress "$img" 2>&1) || nb_fail "import: $out"
nb_info "import: $out"
w=$(delta writes) z=$(delta write_zeroes) b=$(delta bytes_written)
nb_info "import sent $w WRITEs ($b bytes), $z WRITE_ZEROES"
# 1 MiB of data in 256 KiB writes, and the read-modify-write of the tail
[ "$w" -le 5 ] || nb_fail "import sent $w WRITEs for 1 MiB of data and a partial block"
[ "$b" -le $((1048576 + 512)) ] || nb_fail "import wrote $b bytes of data, expected 1 MiB and a block"
[ "$z" -ge 1 ] || nb_fail "import sent no WRITE_ZEROES for the holes and zero blocks"
grep -q "WRITE_ZEROES" <<<"$out" || nb_fail "import does not say what it sent: $out"

# Read back: the same bytes, and the file written sparse.
out=$("${cli[@]}" --volume vol0 export --length $((32 * 1048576 + 100)) "$NB_TMP/back" 2>&1) ||
	nb_fail "export: $out"
cmp "$img" "$NB_TMP/back" || nb_fail "export differs from what was imported"
alloc=$(($(stat -c '%b * %B' "$NB_TMP/back")))
size=$(stat -c %s "$NB_TMP/back")
nb_info "export: $size bytes, $alloc allocated: $out"
[ "$size" = $((32 * 1048576 + 100)) ] || nb_fail "exported file has $size bytes"
[ "$alloc" -le $((2 * 1048576)) ] || nb_fail "exported file is not sparse: $alloc bytes allocated for 1 MiB of data"

# --no-sparse: every block is a WRITE, and export allocates everything.
snap
"${cli[@]}" --volume vol0 import --no-sparse --no-progress "$img" >/dev/null 2>&1 ||
	nb_fail "import --no-sparse failed"
w=$(delta writes) z=$(delta write_zeroes)
[ "$z" = 0 ] || nb_fail "import --no-sparse sent $z WRITE_ZEROES"
[ "$w" -ge 128 ] || nb_fail "import --no-sparse sent only $w WRITEs for 32 MiB"
nb_info "--no-sparse: $w WRITEs, $z WRITE_ZEROES"
"${cli[@]}" --volume vol0 export --no-sparse --length 32M "$NB_TMP/full" >/dev/null 2>&1 ||
	nb_fail "export --no-sparse failed"
alloc=$(($(stat -c '%b * %B' "$NB_TMP/full")))
[ "$alloc" -ge $((32 * 1048576)) ] || nb_fail "export --no-sparse allocated only $alloc bytes"

# A 1 GiB file that is all holes: no data read or sent at all.
truncate -s 1G "$NB_TMP/holes"
snap
out=$("${cli[@]}" --volume big import --no-progress "$NB_TMP/holes" 2>&1) || nb_fail "import of holes: $out"
w=$(delta writes) z=$(delta write_zeroes) b=$(delta bytes_written)
nb_info "1 GiB of holes: $w WRITEs, $z WRITE_ZEROES, $b bytes of data"
if [ "$w" != 0 ] || [ "$b" != 0 ]; then
	nb_fail "1 GiB of holes sent $w WRITEs with $b bytes"
fi
if [ "$z" -lt 1 ] || [ "$z" -gt 1024 ]; then
	nb_fail "1 GiB of holes sent $z WRITE_ZEROES (1 to 1024 expected)"
fi

# Progress: asked for, with standard error not a terminal, lines and a
# last one; by default (not a terminal) and with --no-progress none.
out=$("${cli[@]}" --volume vol0 import --progress --progress-interval 0.01 "$img" 2>&1 >/dev/null) ||
	nb_fail "import --progress: $out"
grep -Eq '^import: 100% 32\.0 MiB of 32\.0 MiB, [0-9.]+ MB/s, in [0-9.]+ s$' <<<"$out" ||
	nb_fail "import --progress: no last progress line: $out"
nb_info "progress: $(tail -n 1 <<<"$out")"
out=$("${cli[@]}" --volume vol0 verify --size 4M --progress 2>&1 >/dev/null) || nb_fail "verify --progress: $out"
grep -Eq '^verify: 100% 8\.0 MiB of 8\.0 MiB, ' <<<"$out" || nb_fail "verify --progress: $out"
out=$("${cli[@]}" --volume vol0 export --length 1M "$NB_TMP/x" 2>&1 >/dev/null) || nb_fail "export: $out"
! grep -q "%" <<<"$out" || nb_fail "progress shown by default on a pipe: $out"
out=$("${cli[@]}" --volume vol0 export --progress --no-progress --length 1M "$NB_TMP/x" 2>&1 >/dev/null) ||
	nb_fail "export --no-progress: $out"
! grep -q "%" <<<"$out" || nb_fail "progress shown with --no-progress: $out"
# On a terminal (script(1) gives it one): the bar, by default.
if command -v script >/dev/null; then
	q() { printf '%q ' "$@"; }
	tls=(--ca "$NB_TMP/pki/ca.crt" --cert "$NB_TMP/pki/client.crt" --key "$NB_TMP/pki/client.key")
	out=$(timeout 60 script -qec "$(q "$NB_CLI_BIN" "${tls[@]}" --cluster "127.0.0.1:$port" --volume vol0 \
		import "$img") 2>&1 >/dev/null" /dev/null | tr '\r' '\n') || nb_fail "import on a terminal: $out"
	grep -Eq '^import \[#{24}\] 100% 32\.0 MiB of 32\.0 MiB, [0-9.]+ MB/s, in [0-9.]+ s' <<<"$out" ||
		nb_fail "import on a terminal: no progress bar: $out"
	nb_info "bar: $(grep -a 'import \[' <<<"$out" | tail -n 1)"
else
	nb_info "script(1) missing: the bar on a terminal is not checked"
fi
usage_rc=0
"${cli[@]}" --volume vol0 import --progress-interval 0 "$img" >/dev/null 2>&1 || usage_rc=$?
[ "$usage_rc" = 2 ] || nb_fail "--progress-interval 0: exit $usage_rc, expected 2"
nb_info "PASS"
