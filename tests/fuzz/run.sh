#!/bin/bash
# Run one libFuzzer target from its committed seed corpus.
#   run.sh TARGET SECONDS [extra libFuzzer flags...]
# Env: NETBLK_BUILD (build dir), NETBLK_SRC (source dir); FUZZ_RUNS to stop
# after that many executions instead of SECONDS; FUZZ_KEEP=DIR to keep the
# grown corpus and the artifacts in DIR.
# New inputs go to a scratch copy of the corpus, so the tree stays clean.
# Exit status: 0 nothing found, 1 the fuzzer found a crash, leak or
# timeout (the reproducer's path is printed), 77 target not built.
set -u
target=$1
secs=$2
shift 2
bin=${NETBLK_BUILD:-.}/tests/fuzz/$target
seeds=${NETBLK_SRC:-$(dirname "$0")/../..}/tests/fuzz/corpus/${target#fuzz_}
if [ ! -x "$bin" ]; then
	echo "SKIP: $bin not built (configure with CC=clang -DFUZZ=ON)"
	exit 77
fi
if [ -n "${FUZZ_KEEP:-}" ]; then
	work=$FUZZ_KEEP
	mkdir -p "$work/corpus" "$work/artifacts"
else
	work=$(mktemp -d /tmp/netblk-fuzz.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/corpus" "$work/artifacts"
fi
cp -n "$seeds"/* "$work/corpus/" 2>/dev/null
limit=(-max_total_time="$secs")
[ -n "${FUZZ_RUNS:-}" ] && limit+=(-runs="$FUZZ_RUNS")
dict=${NETBLK_SRC:-$(dirname "$0")/../..}/tests/fuzz/${target#fuzz_}.dict
[ -f "$dict" ] && limit+=(-dict="$dict")
"$bin" "${limit[@]}" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$work/artifacts/" "$@" "$work/corpus" 2>&1 |
	grep -v -E '^#[0-9]+.*(NEW|REDUCE|pulse)' 
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
	echo "FAIL: $target found a problem; reproducer(s):"
	ls -l "$work/artifacts"
	# keep the reproducer where the user can find it
	[ -z "${FUZZ_KEEP:-}" ] && cp -r "$work/artifacts" "/tmp/$target-artifacts.$$" &&
		echo "copied to /tmp/$target-artifacts.$$"
	exit 1
fi
echo "OK: $target, no finding"
