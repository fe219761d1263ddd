#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every option a program's --help shows is in its manual page
# (docs/man/PROGRAM.SECTION.scd), and every option of the page is in the
# --help: the two cannot drift apart. --version may be in a page before
# the program shows it. The pages must also render with scdoc.
set -u
src=${NETBLK_SRC:?}
bin=${NETBLK_BIN:?}
man=$src/docs/man
fail=0

# The long options named in a text: --word not preceded by a letter,
# digit or '-'.
options() {
	grep -oE '(^|[^A-Za-z0-9_-])--[a-z][a-z0-9-]*' | sed 's/.*--/--/' | sort -u
}

# check PAGE HELP-TEXT [OPTION-GOING-AWAY]
# OPTION-GOING-AWAY: one option the --help may still show that the page
# leaves out because another branch removes it from the program.
check() {
	local page=$1 help=$2 going=${3:-} in_help in_man extra missing
	[ -f "$man/$page.scd" ] || { echo "FAIL: $man/$page.scd is missing"; fail=1; return; }
	in_help=$(options <<<"$help")
	in_man=$(options <"$man/$page.scd")
	missing=$(comm -23 <(echo "$in_help") <(echo "$in_man") | { grep -vx -- "${going:-^}" || true; } | tr '\n' ' ')
	extra=$(comm -13 <(echo "$in_help") <(echo "$in_man") | grep -vx -- '--version' | tr '\n' ' ')
	if [ -n "$missing" ]; then
		echo "FAIL: $page: in --help but not in docs/man/$page.scd: $missing"
		fail=1
	fi
	if [ -n "$extra" ]; then
		echo "FAIL: $page: in docs/man/$page.scd but not in --help: $extra"
		fail=1
	fi
	if ! grep -q -- '--version' "$man/$page.scd"; then
		echo "FAIL: $page: docs/man/$page.scd does not document --version"
		fail=1
	fi
	if command -v scdoc >/dev/null && ! scdoc <"$man/$page.scd" >/dev/null; then
		echo "FAIL: $page: scdoc cannot render docs/man/$page.scd"
		fail=1
	fi
	echo "$page: $(wc -w <<<"$in_help") options in --help, $(wc -w <<<"$in_man") in the page"
}

run_help() { # PROGRAM ARGS...: its help on stdout, whatever it exits with
	"$bin/$1" "${@:2}" 2>&1 || true
}

for p in vduse-netblk netblk-cli netblk-server-mock netblk-node; do
	[ -x "$bin/$p" ] || { echo "FAIL: $bin/$p is not built"; exit 1; }
done

check vduse-netblk.8 "$(run_help vduse-netblk --help; run_help vduse-netblk agent --help;
	run_help vduse-netblk status --help)"
cli_help=$(run_help netblk-cli --help)
for c in create info import export verify bench unlock delete resize list; do
	cli_help+=$'\n'$(run_help netblk-cli "$c" --help)
done
check netblk-cli.1 "$cli_help"
check netblk-server-mock.1 "$(run_help netblk-server-mock --help)"
# The node takes every configuration key as an option --KEY as well.
node_help=$(run_help netblk-node --help)
node_keys=$(grep -oE '(^|[ ,"])[a-z][a-z0-9-]* = ' <<<"$node_help" | sed -E 's/^[ ,"]*//; s/ = $//; s/^/--/' | sort -u)
check netblk-node.8 "$node_help"$'\n'"$node_keys"
# netblk-csi is built only with libgrpc-dev.
if [ -x "$bin/netblk-csi" ]; then
	check netblk-csi.8 "$(run_help netblk-csi --help)"
else
	echo "note: netblk-csi not built (no libgrpc-dev); its page not checked"
fi
if [ -x "$bin/netblk-rados-bench" ]; then
	check netblk-rados-bench.1 "$(run_help netblk-rados-bench --help)"
else
	echo "note: netblk-rados-bench not built (no librados-dev); its page not checked"
fi
# The build made the pages (when scdoc is there, as in CI).
build=${NETBLK_BUILD:-}
if [ -n "$build" ] && command -v scdoc >/dev/null; then
	for p in vduse-netblk.8 netblk-cli.1 netblk-server-mock.1 netblk-node.8; do
		[ -s "$build/man/man${p##*.}/$p" ] || { echo "FAIL: $build/man/man${p##*.}/$p was not built (target man)"; fail=1; }
	done
	if [ -x "$bin/netblk-csi" ] && [ ! -s "$build/man/man8/netblk-csi.8" ]; then
		echo "FAIL: $build/man/man8/netblk-csi.8 was not built (target man)"
		fail=1
	fi
fi
[ "$fail" = 0 ] || exit 1
echo "PASS"
