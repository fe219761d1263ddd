#!/usr/bin/env bash
# The test command: installs what it needs, builds vduse-netblk three times
# (a sanitizer build, a clang libFuzzer build and a normal one), runs the
# unit and integration tests in the sanitizer build, each fuzzer for a
# minute from its committed corpus, then every test (VM tests included) in
# the normal build. Output ends with ctest's summary of the normal build.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -L unit         # extra arguments go to the sanitizer
#                                   # pass and the final ctest; no fuzzing
#   NETBLK_SKIP_ASAN=1 scripts/test.sh   # skip the sanitizer pass
#   NETBLK_SKIP_FUZZ=1 scripts/test.sh   # skip the fuzz pass
#   NETBLK_FUZZ_SECONDS=N           # seconds per fuzzer (default 60)
set -uo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/scripts/relocate.sh" test.sh "$@"
build=${NETBLK_BUILD_DIR:-$src/build}
jobs=$(nproc)

"$src/scripts/install-deps" || exit 1

asan_rc=0
if [ -z "${NETBLK_SKIP_ASAN:-}" ]; then
  echo "=== sanitizer build (ASan+UBSan): unit and integration tests"
  if cmake -S "$src" -B "$build-asan" -DSANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
     cmake --build "$build-asan" -j"$jobs" >"$build-asan.log" 2>&1; then
    (cd "$build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
       ctest --output-on-failure -LE 'vm|fuzz' "$@") || asan_rc=1
  else
    tail -50 "$build-asan.log"; asan_rc=1
  fi
  [ $asan_rc -eq 0 ] || echo "=== sanitizer build: FAILED (see above)"
fi

fuzz_rc=0
if [ -z "${NETBLK_SKIP_FUZZ:-}" ] && [ $# -eq 0 ]; then
  secs=${NETBLK_FUZZ_SECONDS:-60}
  echo "=== fuzz build (clang, libFuzzer, ASan+UBSan): each fuzzer for $secs s"
  if CC=clang cmake -S "$src" -B "$build-fuzz" -DFUZZ=ON -DFUZZ_SECONDS="$secs" \
       >/dev/null &&
     cmake --build "$build-fuzz" -j"$jobs" --target fuzz_all >"$build-fuzz.log" 2>&1; then
    (cd "$build-fuzz" && ctest --output-on-failure -L fuzz -j"$jobs") || fuzz_rc=1
  else
    tail -50 "$build-fuzz.log"; fuzz_rc=1
  fi
  [ $fuzz_rc -eq 0 ] || echo "=== fuzz pass: FAILED (see above)"
fi

echo "=== normal build: all tests"
# The VM kernel and its matching headers, before configuring: kmod/ builds
# netblk_vduse.ko only when the headers are there.
NETBLK_BUILD=$build NETBLK_SRC=$src bash "$src/tests/vm/fetch.sh" --headers ||
  echo "=== fetch.sh --headers failed: the VM and kmod tests will say why"
# Ceph's packages on the host: the guest of vm_data_safety runs a cluster
# from them (without them its Ceph case skips).
bash "$src/tests/ceph/ceph-cluster.sh" install ||
  echo "=== ceph-cluster.sh install failed: the Ceph tests will skip"
cmake -S "$src" -B "$build" >/dev/null || exit 1
cmake --build "$build" -j"$jobs" >"$build.log" 2>&1 || { tail -50 "$build.log"; exit 1; }
cd "$build" && ctest --output-on-failure "$@"
rc=$?
[ $asan_rc -eq 0 ] || rc=1
[ $fuzz_rc -eq 0 ] || rc=1
exit $rc
