#!/bin/bash
# Integration tests once more with the mock nodes and netblk-cli under
# valgrind (memcheck, full leak check): a test fails if any process reports
# a memory error or a definite/indirect leak (tests/integration/lib.sh,
# NETBLK_VALGRIND=1).  A subset, since valgrind is slow:
#   readback        the data path end to end (import/export/verify, pipes)
#   errors          error replies and injected faults reaching the client
#   drop            connections dropped under I/O, reconnects
#   tls_wrong_ca    a failing TLS handshake on both sides
#   mock_malformed  a hostile client's malformed frames into the mock
# Skips (77) in a sanitizer build or without valgrind.
#   valgrind.sh [TEST...]   run these instead of the subset
set -u
src=${NETBLK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(readback errors drop tls_wrong_ca mock_malformed)
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
if grep -qE '^(SANITIZE|FUZZ):BOOL=ON' "${NETBLK_BUILD:-/nonexistent}/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: a sanitizer build (valgrind cannot run ASan binaries); the normal build runs this test"
	exit 77
fi
failed=() skipped=0
for t in "${tests[@]}"; do
	echo "=== $t under valgrind"
	NETBLK_VALGRIND=1 bash "$src/tests/integration/$t.sh"
	rc=$?
	case $rc in
	0) echo "=== $t: ok" ;;
	77) echo "=== $t: skipped"; skipped=$((skipped + 1)) ;;
	*) echo "=== $t: FAILED ($rc)"; failed+=("$t") ;;
	esac
done
[ ${#failed[@]} -eq 0 ] || { echo "FAILED under valgrind: ${failed[*]}"; exit 1; }
[ "$skipped" -lt "${#tests[@]}" ] || exit 77
echo "all ${#tests[@]} tests clean under valgrind"
