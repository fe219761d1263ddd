#!/bin/bash
# The Debian packages (cpack -G DEB, cmake/install.cmake): three .deb files
# whose contents (dpkg-deb -c) hold the programs in /usr/bin, the units in
# /usr/lib/systemd/system running /usr/bin programs, the modules-load.d
# file and the documentation; whose Depends come from dpkg-shlibdeps (the
# client package does not pull librados, the node package does), which
# apt resolves here (apt-get install -s); and that lintian finds no error
# in (warnings are printed).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
: "${NETBLK_BUILD:?NETBLK_BUILD unset}" "${NETBLK_BIN:?NETBLK_BIN unset}"
command -v cpack >/dev/null || skip "cpack missing (Debian: cmake)"
command -v dpkg-deb >/dev/null || skip "dpkg-deb missing (not Debian)"
command -v dpkg-shlibdeps >/dev/null || deploy_apt_install dpkg-dev ||
	skip "dpkg-shlibdeps missing (Debian: dpkg-dev) and cannot be installed here"
for p in vduse-netblk netblk-cli netblk-node netblk-server-mock; do
	[ -x "$NETBLK_BIN/$p" ] || fail "$NETBLK_BIN/$p not built"
done
grep -q '^SANITIZE:BOOL=ON' "$NETBLK_BUILD/CMakeCache.txt" &&
	skip "a sanitizer build: packages are made from the normal build"
deploy_tmp
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$NETBLK_BUILD/CMakeCache.txt")

(cd "$DEPLOY_TMP" && cpack -G DEB --config "$NETBLK_BUILD/CPackConfig.cmake" -B "$DEPLOY_TMP/out") \
	> "$DEPLOY_TMP/cpack.out" 2>&1 || { cat "$DEPLOY_TMP/cpack.out" >&2; fail "cpack -G DEB failed"; }
client=$DEPLOY_TMP/out/vduse-netblk_${version}_amd64.deb
node=$DEPLOY_TMP/out/netblk-node_${version}_amd64.deb
dkms=$DEPLOY_TMP/out/netblk-vduse-dkms_${version}_all.deb
for f in "$client" "$node" "$dkms"; do
	[ -f "$f" ] || fail "cpack made no ${f##*/}: $(ls "$DEPLOY_TMP/out")"
done

has() { # DEB MODE PATH
	local line
	line=$(dpkg-deb -c "$1" | awk -v p="./$3" '$6 == p { print $1 }')
	[ -n "$line" ] || fail "${1##*/}: no $3 (dpkg-deb -c)"
	[ "$line" = "$2" ] || fail "${1##*/}: $3 is $line, want $2"
}
has "$client" -rwxr-xr-x usr/bin/vduse-netblk
has "$client" -rwxr-xr-x usr/bin/netblk-cli
has "$client" -rwxr-xr-x usr/bin/netblk-csi
has "$client" -rw-r--r-- usr/share/man/man1/netblk-cli.1.gz
has "$client" -rw-r--r-- usr/share/man/man8/netblk-csi.8.gz
has "$node" -rw-r--r-- usr/share/man/man8/netblk-node.8.gz
has "$client" -rw-r--r-- usr/lib/systemd/system/vduse-netblk@.service
has "$client" -rw-r--r-- usr/lib/systemd/system/vduse-netblk-agent.service
has "$client" -rw-r--r-- usr/lib/modules-load.d/vduse-netblk.conf
has "$client" -rw-r--r-- usr/share/doc/vduse-netblk/copyright
has "$client" -rw-r--r-- usr/share/doc/vduse-netblk/changelog.gz
has "$node" -rwxr-xr-x usr/bin/netblk-node
has "$node" -rwxr-xr-x usr/bin/netblk-server-mock
has "$node" -rw-r--r-- usr/lib/systemd/system/netblk-node.service
has "$node" -rw-r--r-- usr/share/doc/netblk-node/copyright
has "$dkms" -rw-r--r-- "usr/src/netblk-vduse-$version/dkms.conf"
has "$dkms" -rw-r--r-- "usr/src/netblk-vduse-$version/nbvd_main.c"
if dpkg-deb -c "$client" | grep -q 'netblk-node\|usr/local'; then
	fail "vduse-netblk package holds node files or /usr/local paths: $(dpkg-deb -c "$client" | grep 'netblk-node\|usr/local')"
fi
# No file in two packages (dpkg would refuse to install both).
dup=$(for f in "$client" "$node" "$dkms"; do dpkg-deb -c "$f" | awk '$1 !~ /^d/ { print $6 }'; done | sort | uniq -d)
[ -z "$dup" ] || fail "files in more than one package: $dup"

# The units as packaged run /usr/bin programs.
dpkg-deb -x "$client" "$DEPLOY_TMP/x"
dpkg-deb -x "$node" "$DEPLOY_TMP/x"
for u in vduse-netblk@.service vduse-netblk-agent.service netblk-node.service; do
	grep -q '^ExecStart=/usr/bin/' "$DEPLOY_TMP/x/usr/lib/systemd/system/$u" ||
		fail "packaged $u: ExecStart: $(grep '^ExecStart=' "$DEPLOY_TMP/x/usr/lib/systemd/system/$u")"
done
if ! file "$DEPLOY_TMP/x/usr/bin/vduse-netblk" | grep -q ', stripped'; then
	fail "packaged vduse-netblk is not stripped: $(file "$DEPLOY_TMP/x/usr/bin/vduse-netblk")"
fi

# Depends: from dpkg-shlibdeps, runtime libraries only.
dep_client=$(dpkg-deb -f "$client" Depends)
dep_node=$(dpkg-deb -f "$node" Depends)
echo "vduse-netblk Depends: $dep_client"
echo "netblk-node Depends: $dep_node"
for lib in libc6 libev4 libssl3 libprotobuf-c1 libnl-3-200 libnl-genl-3-200 libsystemd0; do
	[[ $dep_client == *"$lib "* || $dep_client == *"$lib," || $dep_client == *"$lib" ]] ||
		fail "vduse-netblk Depends lacks $lib: $dep_client"
done
[[ $dep_client != *librados* ]] || fail "vduse-netblk depends on librados: $dep_client"
[[ $dep_client != *-dev* && $dep_node != *-dev* ]] || fail "a package depends on a -dev package"
if [ -x "$NETBLK_BIN/netblk-rados-bench" ]; then
	[[ $dep_node == *librados2* ]] || fail "netblk-node Depends lacks librados2: $dep_node"
fi
[ "$(dpkg-deb -f "$dkms" Depends)" = dkms ] || fail "netblk-vduse-dkms Depends: $(dpkg-deb -f "$dkms" Depends)"

# apt on this Debian 12 system resolves the packages' Depends (a
# simulation: nothing is installed).
if command -v apt-get >/dev/null; then
	apt-get install -s "$client" "$node" > "$DEPLOY_TMP/apt.out" 2>&1 ||
		{ cat "$DEPLOY_TMP/apt.out" >&2; fail "apt-get install -s of the packages fails"; }
	for p in vduse-netblk netblk-node; do
		grep -q "^Conf $p ($version " "$DEPLOY_TMP/apt.out" ||
			{ cat "$DEPLOY_TMP/apt.out" >&2; fail "apt-get install -s does not configure $p"; }
	done
	echo "apt-get install -s: $(grep -c '^Inst ' "$DEPLOY_TMP/apt.out") packages would be installed"
fi

# lintian: errors fail, warnings are shown.
if command -v lintian >/dev/null || deploy_apt_install lintian; then
	lintian --allow-root "$client" "$node" "$dkms" > "$DEPLOY_TMP/lintian.out" 2>&1 || true
	cat "$DEPLOY_TMP/lintian.out"
	! grep -q '^E: ' "$DEPLOY_TMP/lintian.out" || fail "lintian reports errors (above)"
else
	echo "lintian missing (Debian: lintian): not run"
fi
echo "deploy: packages OK: ${client##*/} ${node##*/} ${dkms##*/}"
