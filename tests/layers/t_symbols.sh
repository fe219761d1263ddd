#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every symbol the product's libraries export carries the project prefix:
# nb_ (client, common, proto, the node core in server/), mock_ (the mock node), netblk__ (code that
# protoc-c generates; csi__v1__ for csi.proto). Names starting with '_' belong to the toolchain
# (sanitizers, profilers) and are not ours.
set -u
build=${NETBLK_BUILD:?}
fail() { echo "FAIL: $*"; exit 1; }

libs=(client/cli/libnetblk_cli_util.a client/daemon/libnetblk_daemon.a
      client/engine/libnetblk_engine.a client/vduse/libnetblk_vduse.a
      client/virtio/libnetblk_virtio.a common/libnetblk_common.a
      common/libnetblk_sockbio.a common/libnetblk_tls_suites.a
      proto/libnetblk_rpc.a server/libnetblk_server.a
      server-mock/libnetblk_mock.a)
# Built only when their dependencies are there (librados-dev, libgrpc-dev).
optional=(server/rados/libnetblk_rados.a client/csi/libnetblk_csi.a)
for l in "${optional[@]}"; do
	if [ -f "$build/$l" ]; then
		libs+=("$l")
	else
		echo "note: $l not built; not checked"
	fi
done
bad=0 total=0
for l in "${libs[@]}"; do
	[ -f "$build/$l" ] || fail "$build/$l not built"
	syms=$(nm -g --defined-only "$build/$l" | awk 'NF == 3 { print $3 }' | sort -u)
	[ -n "$syms" ] || fail "$l exports nothing (nm failed?)"
	prefix=nb_
	case $l in server-mock/*) prefix=mock_ ;; esac
	for s in $syms; do
		total=$((total + 1))
		case $s in "$prefix"* | netblk__* | csi__v1__* | _*) ;;
		*) echo "$l: exported symbol '$s' lacks the prefix $prefix"; bad=$((bad + 1)) ;;
		esac
	done
done
[ "$bad" -eq 0 ] || fail "$bad of $total exported symbols lack the project prefix"
echo "all $total exported symbols of ${#libs[@]} libraries carry the prefix"
