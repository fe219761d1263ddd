#!/bin/bash
# One version everywhere: every program says 'NAME VERSION' (and the git
# commit when built from git) on --version and exits 0, VERSION being the
# project version in CMakeLists.txt; the copies that cannot be generated
# (the images' labels and tags in deploy/) say the same.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
: "${NETBLK_BUILD:?NETBLK_BUILD unset}" "${NETBLK_BIN:?NETBLK_BIN unset}"
version=$(sed -n 's/^project(vduse-netblk VERSION \([0-9.]*\) .*/\1/p' "$NETBLK_SRC/CMakeLists.txt")
[ -n "$version" ] || fail "CMakeLists.txt: no 'project(vduse-netblk VERSION X.Y.Z ...)'"

checked=0
for prog in vduse-netblk netblk-cli netblk-server-mock netblk-node netblk-rados-bench netblk-tls-probe netblk-csi; do
	if [ ! -x "$NETBLK_BIN/$prog" ]; then
		# Only the rados bench and the CSI driver may be missing (no
		# librados-dev, no libgrpc-dev).
		case $prog in netblk-rados-bench | netblk-csi) continue ;; esac
		fail "$NETBLK_BIN/$prog not built"
	fi
	rc=0
	out=$("$NETBLK_BIN/$prog" --version 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "$prog --version: exit $rc: $out"
	[[ $out =~ ^$prog\ ${version//./\\.}(\ \(git\ [A-Za-z0-9._+~-]+\))?$ ]] ||
		fail "$prog --version printed '$out', want '$prog $version' (and the git commit)"
	echo "$out"
	checked=$((checked + 1))
done
# Subcommands take it too.
out=$("$NETBLK_BIN/vduse-netblk" agent --version) || fail "vduse-netblk agent --version failed"
[[ $out == "vduse-netblk $version"* ]] || fail "vduse-netblk agent --version: '$out'"
out=$("$NETBLK_BIN/netblk-cli" info --version) || fail "netblk-cli info --version failed"
[[ $out == "netblk-cli $version"* ]] || fail "netblk-cli info --version: '$out'"

# The copies in deploy/: image labels and the tags the manifests use.
bad=$(grep -rnoE \
	'(org\.opencontainers\.image\.version="|(vduse-netblk|netblk-node):|newTag: ")[0-9]+\.[0-9]+\.[0-9]+' \
	"$NETBLK_SRC/deploy" | grep -v "[\":]$version\$" || true)
[ -z "$bad" ] || fail "deploy/ names another version than $version: ${bad//$NETBLK_SRC\//}"
echo "deploy: $checked programs say $version"
