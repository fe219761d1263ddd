#!/bin/bash
# SPDX-License-Identifier: MIT
# netblk-server-mock file volumes: sparse creation and extension, two
# nodes on one file behave like one shared disk, discard punches holes,
# read-only files, resize, CREATE under --volume-dir.
. "$(dirname "$0")/mock_lib.sh"
mock_require
nb_certs
img=$NB_TMP/shared.img
blocks() { stat -c %b "$1"; }

nb_mock_start a --volume "d:16M:$img" --block-size 4096
[ "$(stat -c %s "$img")" = 16777216 ] || nb_fail "file not created with the volume size"
[ "$(blocks "$img")" -lt 1024 ] || nb_fail "new file is not sparse ($(blocks "$img") blocks)"
nb_mock_start b --volume "d:16M:$img" --block-size 4096

mock_probe a "hs" "open d" "write 0 1M 1 fua" "write 8M 12345 2" "flush" >/dev/null
mock_probe b "hs" "open d" "read 0 1M 1" "read 8M 12345 2" "write 4M 4096 3" >/dev/null
mock_probe a "hs" "open d" "read 4M 4096 3" >/dev/null
cmp -n 4096 "$img" <(head -c 4096 /dev/zero) >/dev/null && nb_fail "data did not reach the file"
nb_info "ok: two nodes share one file"

# Discard: reads back zeroes; on a file system with hole punching the
# blocks are freed.
probe_file=$NB_TMP/punch.test
head -c 65536 /dev/urandom >"$probe_file"
before=$(blocks "$img")
mock_probe a "hs" "open d" "discard 0 1M" "readz 0 1M" "wz 8M 12345" "readz 8M 12345" \
	"write 9M 8192 4" "wz 9M 4096 unmap" "readz 9M 4096" "read 9441280 4096 4" >/dev/null
if fallocate -p -o 0 -l 65536 "$probe_file" 2>/dev/null; then
	after=$(blocks "$img")
	[ "$after" -lt "$before" ] || nb_fail "discard did not free blocks ($before -> $after)"
	nb_info "ok: discard punched holes ($before -> $after blocks)"
else
	nb_info "file system cannot punch holes: only checked that discarded data reads as zeroes"
fi

# A shorter existing file is extended, a longer one is left as it is.
head -c 4096 /dev/urandom >"$NB_TMP/short.img"
head -c 3M /dev/zero >"$NB_TMP/long.img"
nb_mock_start c --volume "s:2M:$NB_TMP/short.img" --volume "l:1M:$NB_TMP/long.img:ro"
[ "$(stat -c %s "$NB_TMP/short.img")" = 2097152 ] || nb_fail "short file not extended"
[ "$(stat -c %s "$NB_TMP/long.img")" = 3145728 ] || nb_fail "long file was changed"
mock_probe c "hs" "open l" "!READ_ONLY write 0 512 1" "!OUT_OF_RANGE read 1M 512 0" "readz 0 4096" \
	"open s" "write 2093056 4096 5" "read 2093056 4096 5" >/dev/null
grep -q "open l: volume=l size=1048576 block_size=512 read_only=1" "$NB_TMP/probe.out" ||
	nb_fail "read-only file volume not announced read-only"
mock_ctl c resize s 4M >/dev/null
[ "$(stat -c %s "$NB_TMP/short.img")" = 4194304 ] || nb_fail "resize did not grow the file"
mock_probe c "hs" "open s" "read 2093056 4096 5" "write 4190208 4096 6" "read 4190208 4096 6" >/dev/null
nb_info "ok: existing files, read-only, resize"

# CREATE under --volume-dir.
mkdir "$NB_TMP/vols"
nb_mock_start d --allow-create --volume-dir "$NB_TMP/vols"
mock_probe d "hs" "create n1 3M" "open n1" "write 0 4096 7" "read 0 4096 7" "!EXISTS create n1 1M" >/dev/null
[ "$(stat -c %s "$NB_TMP/vols/n1")" = 3145728 ] || nb_fail "CREATE did not make DIR/NAME of the size"
touch "$NB_TMP/vols/taken"
mock_probe d "hs" "!EXISTS create taken 1M" >/dev/null
nb_info "ok: CREATE under --volume-dir"
