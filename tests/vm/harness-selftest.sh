#!/bin/bash
# Runs on the host: checks that run-in-vm.sh reports what happened in the
# guest instead of passing everything. A script's arguments (with spaces and
# quotes) and NETBLK_* environment reach the guest, files it writes to
# NETBLK_OUT come back, its exit code is ours, 77 stays a skip, a kernel
# warning fails an otherwise passing script (unless the test expects it),
# a hung guest is killed with a clear message, and a guest that dies before
# the script starts is booted again, then fails.

# The checks are strings evaluated later, so their $... stay single-quoted.
# shellcheck disable=SC2016,SC2034
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${NETBLK_BUILD:?NETBLK_BUILD must be set}"
work=$NETBLK_BUILD/vm-selftest
rm -rf "$work"
mkdir -p "$work"
failures=0

check() {
	if eval "$2"; then
		echo "ok: $1"
	else
		echo "FAIL: $1"
		failures=$((failures + 1))
	fi
}

cat >"$work/g_args.sh" <<'EOF'
printf '%s\n' "$@" >"$NETBLK_OUT/args"
env | grep '^NETBLK_' | sort >"$NETBLK_OUT/env"
echo "guest says bye"
exit 3
EOF
cat >"$work/g_skip.sh" <<'EOF'
. "$NETBLK_SRC/tests/vm/guest-lib.sh"
skip "no frobnicator in this guest"
EOF
cat >"$work/g_splat.sh" <<'EOF'
echo "WARNING: CPU: 0 PID: 1 at selftest.c:1 injected by the harness self-test" >/dev/kmsg
echo "WARNING: CPU: 0 PID: 1 at selftest.c:2 expected by the test" >/dev/kmsg
echo 'selftest\.c:2 expected' >"$NETBLK_OUT/dmesg-allow.re"
EOF
cat >"$work/g_hang.sh" <<'EOF'
echo "about to hang"
sleep 1000
EOF

out=$(NETBLK_SELFTEST_TAG="x y" "$here/run-in-vm.sh" --name selftest_args \
	"$work/g_args.sh" "two words" "it's" '$HOME' 2>&1)
rc=$?
res=$NETBLK_BUILD/vm-out/selftest_args
check "exit code 3 comes back (got $rc)" '[ "$rc" = 3 ]'
check "failure names the exit code" '[[ $out == *"failed with exit code 3"* ]]'
check "failure shows the guest output" '[[ $out == *"guest says bye"* ]]'
check "arguments arrive unchanged" \
	'[ "$(cat "$res/args" 2>/dev/null)" = "$(printf "%s\n" "two words" "it'"'"'s" "\$HOME")" ]'
check "NETBLK_OUT is the results directory" \
	'grep -qx "NETBLK_OUT=$(realpath "$res")" "$res/env"'
check "caller's NETBLK_* variables pass through" \
	'grep -qx "NETBLK_SELFTEST_TAG=x y" "$res/env"'
check "NETBLK_MODDIR holds the guest kernel's modules" \
	'd=$(sed -n "s/^NETBLK_MODDIR=//p" "$res/env"); k=$(sed -n "s/^NETBLK_KVER=//p" "$res/env"); [ -n "$k" ] && [ -f "$d/lib/modules/$k/modules.dep" ]'
check "guest dmesg is saved" 'grep -q "Linux version" "$res/dmesg.txt"'

out=$("$here/run-in-vm.sh" --name selftest_skip "$work/g_skip.sh" 2>&1)
rc=$?
check "exit code 77 is a skip (got $rc)" '[ "$rc" = 77 ]'
check "skip shows the reason" '[[ $out == *"no frobnicator in this guest"* ]]'

out=$("$here/run-in-vm.sh" --name selftest_splat "$work/g_splat.sh" 2>&1)
rc=$?
check "a kernel warning fails a passing script (got $rc)" '[ "$rc" = 1 ]'
check "the warning is shown" '[[ $out == *"injected by the harness self-test"* ]]'
check "a warning listed in dmesg-allow.re is not" '[[ $out != *"expected by the test"* ]]'

out=$("$here/run-in-vm.sh" --name selftest_hang --timeout 30 "$work/g_hang.sh" 2>&1)
rc=$?
check "a hung guest fails (got $rc)" '[ "$rc" != 0 ] && [ "$rc" != 77 ]'
check "timeout message" '[[ $out == *"VM timed out after 30 s"* ]]'
check "timeout shows the guest output" '[[ $out == *"about to hang"* ]]'

# A guest whose kernel dies before the init runs the script (here: no init
# at all) is booted three times in all, then fails with a clear message.
out=$(NETBLK_VM_APPEND="rdinit=/no-such-init" "$here/run-in-vm.sh" --name selftest_noboot \
	--timeout 60 "$work/g_args.sh" 2>&1)
rc=$?
check "a guest that never starts the script fails (got $rc)" '[ "$rc" = 1 ]'
check "it was booted again twice" '[ "$(grep -c "died before the test script started" <<<"$out")" = 2 ]'
check "then no result is reported" '[[ $out == *"without reporting a result"* ]]'

if [ "$failures" != 0 ]; then
	echo "$failures check(s) failed; last run-in-vm.sh output:"
	echo "$out"
	exit 1
fi
echo "all harness checks passed"
