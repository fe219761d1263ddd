#!/bin/bash
# cmake --install into a DESTDIR, with the default prefix and with /usr
# (the Debian package's): the programs, units, modules-load.d file, kernel
# module source and documentation land where GNUInstallDirs and systemd
# look for them, with the right modes, and each unit runs the program
# installed beside it.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
: "${NETBLK_BUILD:?NETBLK_BUILD unset}" "${NETBLK_BIN:?NETBLK_BIN unset}"
for p in vduse-netblk netblk-cli netblk-csi netblk-node netblk-server-mock; do
	[ -x "$NETBLK_BIN/$p" ] || fail "$NETBLK_BIN/$p not built"
done
deploy_tmp

check_tree() { # DESTDIR PREFIX
	local root=$1 prefix=$2 f mode
	local want=(
		"755 bin/vduse-netblk" "755 bin/netblk-cli" "755 bin/netblk-node"
		"755 bin/netblk-server-mock" "755 bin/netblk-csi"
		"644 share/man/man8/vduse-netblk.8.gz" "644 share/man/man1/netblk-cli.1.gz"
		"644 share/man/man8/netblk-node.8.gz" "644 share/man/man8/netblk-csi.8.gz"
		"644 lib/systemd/system/vduse-netblk@.service"
		"644 lib/systemd/system/vduse-netblk-agent.service"
		"644 lib/systemd/system/netblk-node.service"
		"644 lib/modules-load.d/vduse-netblk.conf"
		"644 share/doc/vduse-netblk/LICENSE" "644 share/doc/vduse-netblk/copyright"
		"644 share/doc/vduse-netblk/README.md" "644 share/doc/vduse-netblk/deploy/README.md"
		"644 share/doc/vduse-netblk/troubleshooting.md" "644 share/doc/vduse-netblk/security.md"
		"644 share/doc/vduse-netblk/upgrade.md" "644 share/doc/vduse-netblk/sizing.md"
		"644 share/doc/vduse-netblk/packaging.md" "644 share/doc/vduse-netblk/changelog.gz"
		"644 share/doc/netblk-node/node.md" "644 share/doc/netblk-node/copyright"
		"644 src/netblk-vduse-$version/dkms.conf" "644 src/netblk-vduse-$version/Makefile"
		"644 src/netblk-vduse-$version/nbvd_main.c"
	)
	for f in "${want[@]}"; do
		mode=${f%% *}
		f=$root$prefix/${f#* }
		[ -f "$f" ] || fail "prefix $prefix: ${f#"$root"} not installed; installed: $(cd "$root" && find . -type f | sort | tr '\n' ' ')"
		[ "$(stat -c %a "$f")" = "$mode" ] ||
			fail "prefix $prefix: ${f#"$root"} has mode $(stat -c %a "$f"), want $mode"
	done
	for f in vduse-netblk@.service vduse-netblk-agent.service; do
		grep -q "^ExecStart=$prefix/bin/vduse-netblk " "$root$prefix/lib/systemd/system/$f" ||
			fail "prefix $prefix: $f: ExecStart: $(grep '^ExecStart=' "$root$prefix/lib/systemd/system/$f")"
		grep -q "^Documentation=file:$prefix/share/doc/vduse-netblk/" "$root$prefix/lib/systemd/system/$f" ||
			fail "prefix $prefix: $f: Documentation does not point to $prefix/share/doc/vduse-netblk"
	done
	grep -q "^ExecStart=$prefix/bin/netblk-node " "$root$prefix/lib/systemd/system/netblk-node.service" ||
		fail "prefix $prefix: netblk-node.service: ExecStart: $(grep '^ExecStart=' "$root$prefix/lib/systemd/system/netblk-node.service")"
	# The installed programs run and say their version.
	out=$("$root$prefix/bin/vduse-netblk" --version) || fail "installed vduse-netblk --version failed"
	[[ $out == "vduse-netblk $version"* ]] || fail "installed vduse-netblk --version: '$out'"
	# Nothing outside the prefix (DESTDIR holds only PREFIX/...).
	f=$(cd "$root" && find . -mindepth 1 -maxdepth 1 | sort | tr '\n' ' ')
	[ "$f" = "./${prefix#/} " ] || [ "$prefix" != /usr ] || fail "prefix $prefix: files outside it: $f"
	echo "prefix $prefix: $(cd "$root" && find . -type f | wc -l) files in place"
}

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$NETBLK_BUILD/CMakeCache.txt")
[ -n "$version" ] || fail "no CMAKE_PROJECT_VERSION in $NETBLK_BUILD/CMakeCache.txt"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$NETBLK_BUILD/CMakeCache.txt")
DESTDIR=$DEPLOY_TMP/default cmake --install "$NETBLK_BUILD" > "$DEPLOY_TMP/install.out" 2>&1 ||
	{ cat "$DEPLOY_TMP/install.out" >&2; fail "cmake --install failed"; }
check_tree "$DEPLOY_TMP/default" "$prefix"
DESTDIR=$DEPLOY_TMP/usr cmake --install "$NETBLK_BUILD" --prefix /usr > "$DEPLOY_TMP/install.out" 2>&1 ||
	{ cat "$DEPLOY_TMP/install.out" >&2; fail "cmake --install --prefix /usr failed"; }
check_tree "$DEPLOY_TMP/usr" /usr
echo "deploy: install layout OK"
