#!/bin/bash
# deploy/Containerfile (agent) and deploy/Containerfile.node (storage node)
# against Debian 12's archive: every package they install exists in
# bookworm, and every shared library the built programs load comes from a
# runtime-stage package or one they depend on (the programs installed from
# the tree's own .deb get theirs from its Depends: deploy_package).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || deploy_apt_install python3 || skip "python3 missing"
{ command -v apt-cache && command -v dpkg; } >/dev/null || skip "not a Debian system (no apt-cache/dpkg)"
# shellcheck disable=SC1091
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || skip "this system is ${PRETTY_NAME:-not Debian 12}: its archive is not the image's"
: "${NETBLK_BIN:?NETBLK_BIN unset}"
deploy_tmp
# One apt-cache call for all of them (each call reads the whole cache):
# "PKG" for every package with a candidate from bookworm.
from_bookworm() {
	apt-cache policy "$@" 2>/dev/null | awk '
		/^[^ ].*:$/ { if (p != "" && c && b) print p; p = substr($0, 1, length($0) - 1); c = 0; b = 0 }
		/^  Candidate:/ { c = ($2 != "(none)") }
		/ bookworm[-\/]/ { b = 1 }
		END { if (p != "" && c && b) print p }'
}
if [ -z "$(from_bookworm libev4)" ]; then
	deploy_apt_update || true
	[ -n "$(from_bookworm libev4)" ] || skip "apt-cache knows no Debian 12 packages (apt-get update as root)"
fi
for image in agent node; do
	case $image in agent) cf=deploy/Containerfile ;; node) cf=deploy/Containerfile.node ;; esac
	out=$DEPLOY_TMP/out-$image
	python3 "$DEPLOY_TESTS/check_containerfile.py" --image "$image" "$NETBLK_SRC" "$out" >/dev/null ||
		fail "$cf: the static lint fails (deploy_containerfile_lint says why)"
	for stage in build runtime; do
		mapfile -t pkgs < <(grep . "$out/$stage.pkgs")
		from_bookworm "${pkgs[@]}" > "$DEPLOY_TMP/found"
		for p in "${pkgs[@]}"; do
			grep -qxF "$p" "$DEPLOY_TMP/found" ||
				fail "$cf: $stage stage apt-get install: package '$p' is not in Debian 12 (bookworm)"
		done
	done

	# What the runtime stage's packages bring, dependencies included.
	# The tree's own packages (debs) bring the programs' libraries through
	# their Depends, which dpkg-shlibdeps computed (deploy_package checks
	# them); only programs copied outside a package are checked here.
	mapfile -t rpkgs < <(grep . "$out/runtime.pkgs")
	: > "$DEPLOY_TMP/closure-$image"
	if [ ${#rpkgs[@]} -gt 0 ]; then
		apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
			--no-replaces --no-enhances "${rpkgs[@]}" 2>/dev/null |
			sed -n 's/^ *\(Pre\)\{0,1\}Depends: <\{0,1\}\([^>:]*\).*/\2/p; s/^\([a-z0-9][^ :]*\)$/\1/p' |
			sort -u > "$DEPLOY_TMP/closure-$image"
	fi
	sanitize=$(sed -n 's/^SANITIZE:BOOL=//p' "${NETBLK_BUILD:-/nonexistent}/CMakeCache.txt" 2>/dev/null || true)
	while read -r b; do
		[ -n "$b" ] || continue
		[ -x "$NETBLK_BIN/$b" ] || fail "$NETBLK_BIN/$b not built (the image copies it)"
		while read -r lib path; do
			case $lib in
			libasan.*|libubsan.*|libstdc++.*|libm.*)
				# sanitizer runtime (and what it loads) of a -DSANITIZE build
				[ "$sanitize" = ON ] && continue ;;
			esac
			real=$(readlink -f "$path")
			pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$real" 2>/dev/null ||
			      dpkg -S "${real#/usr}" 2>/dev/null || true)
			pkg=${pkg%%:*}
			[ -n "$pkg" ] || fail "$b needs $lib ($path), which no Debian package here provides"
			grep -qx "$pkg" "$DEPLOY_TMP/closure-$image" ||
				fail "$cf: runtime stage apt-get install: $b needs $lib from package $pkg, which the runtime stage does not install"
			echo "$b: $lib from $pkg"
		done < <(ldd "$NETBLK_BIN/$b" | sed -n 's/^\s*\(\S*\) => \(\/\S*\) .*/\1 \2/p')
	done < "$out/bins"
	echo "$cf: packages are Debian 12's and cover the programs' libraries"
done
