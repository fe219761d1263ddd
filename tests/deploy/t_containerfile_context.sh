#!/bin/bash
# The build stage of deploy/Containerfile (agent) and deploy/Containerfile.node
# (storage node) sees only what it COPYs: configure a tree made of just
# those paths (as the image build would) and check that the targets it
# builds exist there.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || deploy_apt_install python3 || skip "python3 missing"
command -v cmake >/dev/null || skip "cmake missing"
deploy_tmp
for image in agent node; do
	case $image in agent) cf=deploy/Containerfile ;; node) cf=deploy/Containerfile.node ;; esac
	out=$DEPLOY_TMP/out-$image
	python3 "$DEPLOY_TESTS/check_containerfile.py" --image "$image" "$NETBLK_SRC" "$out" >/dev/null ||
		fail "$cf: the static lint fails (deploy_containerfile_lint says why)"
	ctx=$DEPLOY_TMP/src-$image
	mkdir -p "$ctx"
	while read -r p; do
		[ -n "$p" ] || continue
		mkdir -p "$ctx/$(dirname "$p")"
		cp -a "$NETBLK_SRC/$p" "$ctx/$p"
	done < "$out/copies"
	cmake -S "$ctx" -B "$DEPLOY_TMP/build-$image" -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$DEPLOY_TMP/cmake-$image.log" 2>&1 || {
		tail -n 20 "$DEPLOY_TMP/cmake-$image.log" >&2
		fail "$cf: build stage COPY: cmake cannot configure the copied tree (see above)"
	}
	cmake --build "$DEPLOY_TMP/build-$image" --target help > "$DEPLOY_TMP/targets-$image" 2>&1
	while read -r t; do
		[ -n "$t" ] || continue
		grep -q "\.\.\. $t\$" "$DEPLOY_TMP/targets-$image" ||
			fail "$cf: RUN cmake --build --target: no target '$t' in the copied tree"
	done < "$out/targets"
	echo "$cf: the copied tree configures and has targets $(tr '\n' ' ' < "$out/targets")"
done
