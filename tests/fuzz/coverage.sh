#!/bin/bash
# Line and branch coverage that a fuzzer's corpus reaches in the code it
# targets (not a test; prints llvm-cov's report).
#   coverage.sh TARGET CORPUS-DIR [BUILD-DIR]
# Builds (once) a clang -DFUZZ=ON tree with source-based coverage in
# BUILD-DIR (default build-fuzzcov under the source tree), runs every input
# of CORPUS-DIR once (-runs=0) and reports the files the target is about.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: coverage.sh TARGET CORPUS-DIR [BUILD-DIR]" >&2; exit 2; }
target=$1
corpus=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${3:-$src/build-fuzzcov}

case $target in
fuzz_blk) files=(client/virtio/vq.c client/virtio/blk.c) ;;
fuzz_conn) files=(client/engine/wire.c client/engine/conn.c) ;;
fuzz_mock) files=(server-mock/conn.c server-mock/request.c server-mock/volume.c) ;;
fuzz_rpc) files=(proto/rpc.c) ;;
fuzz_map) files=(proto/map.c) ;;
fuzz_spec) files=(client/daemon/agent/spec.c client/daemon/options.c) ;;
fuzz_opts) files=(client/daemon/cmdline.c client/daemon/options.c client/cli/cli_options.c client/cli/cli_util.c) ;;
*) echo "coverage.sh: unknown target '$target'" >&2; exit 2 ;;
esac
[ -d "$corpus" ] || { echo "coverage.sh: no corpus directory '$corpus'" >&2; exit 1; }

if [ ! -x "$build/tests/fuzz/$target" ]; then
	CC=clang CFLAGS="-fprofile-instr-generate -fcoverage-mapping" \
		cmake -S "$src" -B "$build" -DFUZZ=ON >/dev/null
	cmake --build "$build" -j2 --target "$target" >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
LLVM_PROFILE_FILE="$work/%p.profraw" "$build/tests/fuzz/$target" -runs=0 \
	-rss_limit_mb=2048 "$corpus" >"$work/run.log" 2>&1 ||
	{ tail -20 "$work/run.log"; exit 1; }
llvm-profdata merge -sparse -o "$work/all.profdata" "$work"/*.profraw
present=()
for f in "${files[@]}"; do
	[ -f "$src/$f" ] && present+=("$src/$f")
done
echo "$target: $(find "$corpus" -type f | wc -l) inputs"
llvm-cov report "$build/tests/fuzz/$target" -instr-profile="$work/all.profdata" \
	"${present[@]}"
