# shellcheck shell=bash
# Helpers of the deploy/ tests. Sourced; NETBLK_SRC, NETBLK_BIN from ctest.
set -euo pipefail

: "${NETBLK_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck disable=SC2034 # used by the scripts that source this
DEPLOY_TESTS=$NETBLK_SRC/tests/deploy

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

# deploy_apt_install PKG...: install Debian packages when root with apt-get.
deploy_apt_install() {
	[ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null || return 1
	local apt=(apt-get -qq -o DPkg::Lock::Timeout=120)
	export DEBIAN_FRONTEND=noninteractive
	echo "installing $* (Debian)" >&2
	"${apt[@]}" install -y --no-install-recommends "$@" </dev/null >/dev/null 2>&1 && return 0
	"${apt[@]}" update </dev/null >/dev/null 2>&1 || true
	"${apt[@]}" install -y --no-install-recommends "$@" </dev/null >/dev/null 2>&1
}

# deploy_apt_update: refresh the package lists when root with apt-get.
deploy_apt_update() {
	[ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null || return 1
	apt-get -qq -o DPkg::Lock::Timeout=120 update </dev/null >/dev/null 2>&1
}

# deploy_need_pyyaml: python3 with PyYAML (Debian's python3-yaml).
deploy_need_pyyaml() {
	command -v python3 >/dev/null || deploy_apt_install python3 ||
		skip "python3 missing and cannot be installed"
	python3 -c 'import yaml' 2>/dev/null && return 0
	deploy_apt_install python3-yaml ||
		skip "PyYAML missing (apt-get install python3-yaml) and cannot be installed here"
	python3 -c 'import yaml' 2>/dev/null || skip "PyYAML still not importable"
}

deploy_tmp() {
	DEPLOY_TMP=$(mktemp -d /tmp/netblk-deploy.XXXXXX)
	trap 'rm -rf "$DEPLOY_TMP"' EXIT
}
