#!/bin/bash
# The storage nodes' manifests, deploy/kubernetes/node (rados) and
# deploy/kubernetes/node-file (file backend): check_k8s_node.py on each
# (on 'kubectl kustomize' output when kubectl is here), then what they
# carry is run for real: the TLS init container's script on a Secret made
# by scripts/netblk-certs as deploy/README.md says (key mode 0600; a
# missing file named), the built netblk-node on the ConfigMap's node.conf
# with the StatefulSet's arguments for pod 0 (--check-config, then a start
# that loads the ConfigMap's map and finds itself in it; rados is replaced
# by the file backend here, there is no Ceph), and netblk-cli creating a
# volume on it with the certificate checked against the pod's DNS name.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
deploy_need_pyyaml
: "${NETBLK_BIN:?NETBLK_BIN unset}"
node=$NETBLK_BIN/netblk-node cli=$NETBLK_BIN/netblk-cli
[ -x "$node" ] || fail "$node not built"
[ -x "$cli" ] || fail "$cli not built"
command -v openssl >/dev/null || deploy_apt_install openssl || skip "openssl missing"
deploy_tmp
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$DEPLOY_TMP"' EXIT

# Certificates as deploy/README.md makes them.
pki=$DEPLOY_TMP/pki
"$NETBLK_SRC/scripts/netblk-certs" "$pki" --server-name '*.netblk-node.netblk.svc' \
	--server-name netblk-node.netblk.svc > "$DEPLOY_TMP/certs.log" 2>&1 ||
	fail "scripts/netblk-certs: $(cat "$DEPLOY_TMP/certs.log")"

for variant in rados file; do
	case $variant in
	rados) dir=deploy/kubernetes/node ;;
	file) dir=deploy/kubernetes/node-file ;;
	esac
	out=$DEPLOY_TMP/out-$variant
	built=()
	if command -v kubectl >/dev/null; then
		built=("$DEPLOY_TMP/$variant.yaml")
		kubectl kustomize "$NETBLK_SRC/$dir" > "${built[0]}" 2> "$DEPLOY_TMP/err" ||
			fail "$dir: kubectl kustomize fails: $(cat "$DEPLOY_TMP/err")"
	else
		echo "note: kubectl not installed: $dir checked from its files, not as kustomize builds it"
	fi
	DEPLOY_CHECK_OUT=$out python3 "$DEPLOY_TESTS/check_k8s_node.py" "$NETBLK_SRC" "$variant" "${built[@]}"
	sts="$dir (StatefulSet netblk-node)"
	run_dir=$(cat "$out/run_dir") tls_src=$(cat "$out/tls_src")
	root=$DEPLOY_TMP/pod-$variant

	# --- the init container: Secret files (0440 as fsGroup leaves them)
	mkdir -p "$root/secret" "$root/run" "$root/etc" "$root/data"
	install -m 0440 "$pki/ca.crt" "$root/secret/ca.crt"
	install -m 0440 "$pki/server.crt" "$root/secret/server.crt"
	install -m 0440 "$pki/server.key" "$root/secret/server.key"
	sed -e "s#$tls_src#$root/secret#g" -e "s#$run_dir#$root/run#g" "$out/init.sh" > "$root/init.sh"
	sh "$root/init.sh" > "$root/init.out" 2>&1 ||
		fail "$sts: initContainers[tls]: exit $? with every Secret file there: $(cat "$root/init.out")"
	# --- node.conf and its files where the pod has them
	sed -e "s#$run_dir/#$root/run/#g" -e "s#/etc/netblk/#$root/etc/#g" -e "s#^dir *=.*#dir = $root/data#" \
		"$out/node.conf" > "$root/etc/node.conf"
	cp "$out/map" "$root/etc/map"
	cp "$out/ceph.conf" "$root/etc/ceph.conf"
	for k in cert key ca; do
		f=$(sed -n "s/^$k *= *//p" "$root/etc/node.conf")
		[ -s "$f" ] || fail "$dir: node.conf $k: the init container wrote no ${f#"$root/"}"
	done
	keyf=$(sed -n 's/^key *= *//p' "$root/etc/node.conf")
	[ "$(stat -c %a "$keyf")" = 600 ] ||
		fail "$sts: initContainers[tls]: the key is mode $(stat -c %a "$keyf"), the node wants 600"
	# a Secret without the key: the pod says which file and how to make it
	mv "$root/secret/server.key" "$root/server.key.away"
	rc=0
	sh "$root/init.sh" > "$root/init.out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "$sts: initContainers[tls]: exit 0 with server.key missing from the Secret"
	grep -q 'server.key' "$root/init.out" ||
		fail "$sts: initContainers[tls]: the failure does not name server.key: $(cat "$root/init.out")"
	mv "$root/server.key.away" "$root/secret/server.key"

	# --- the node's command line for pod 0, on the built netblk-node
	pod0=$(head -n 1 "$out/pods")
	# shellcheck disable=SC2016 # Kubernetes' $(VAR), not the shell's
	mapfile -t argv < <(sed -e 's/\$(POD_NAME)/netblk-node-0/g' -e 's/\$(POD_NAMESPACE)/netblk/g' \
		-e "s#^/etc/netblk/#$root/etc/#" "$out/args")
	[ "${argv[0]}" = netblk-node ] || fail "$sts: runs ${argv[0]}"
	"$node" "${argv[@]:1}" --check-config > "$root/check.out" 2>&1 ||
		fail "$dir: netblk-node --check-config refuses node.conf with the StatefulSet's arguments: $(cat "$root/check.out")"
	grep -qxF "node = $pod0" "$root/check.out" ||
		fail "$sts: --node for pod 0 is not $pod0: $(grep '^node' "$root/check.out")"
	backend=()
	if grep -q '^backend *= *rados' "$root/etc/node.conf"; then
		backend=(--backend file --dir "$root/data")   # no Ceph here
	fi
	"$node" "${argv[@]:1}" "${backend[@]}" --listen 127.0.0.1:0 --port-file "$root/port" \
		--threads 1 > "$root/node.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		[ -s "$root/port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$root/port" ] || fail "$dir: netblk-node did not start on the ConfigMap's files: $(cat "$root/node.log")"
	grep -q "map loaded from $root/etc/map: epoch [0-9]* (was 0), $(wc -l < "$out/pods") nodes" "$root/node.log" ||
		fail "$dir: ConfigMap data.map: netblk-node did not load it: $(cat "$root/node.log")"
	! grep -q 'not in the cluster map' "$root/node.log" ||
		fail "$dir: ConfigMap data.map: pod 0 ($pod0) is not in it: $(cat "$root/node.log")"
	# a client, as the agent's spec would name the node (the pod's DNS name)
	port=$(cat "$root/port")
	"$cli" --cluster "127.0.0.1:$port" --tls-name "${pod0%:*}" --ca "$pki/ca.crt" \
		--cert "$pki/client.crt" --key "$pki/client.key" --volume vol0 --connect-timeout 5 \
		create 1M > "$root/cli.out" 2>&1 ||
		fail "$dir: netblk-cli create on the node (TLS name ${pod0%:*}) fails: $(cat "$root/cli.out")"
	kill "$pid"
	wait "$pid" || fail "$dir: netblk-node exit $? at SIGTERM: $(tail -n 3 "$root/node.log")"
	pid=
	echo "$dir: the init container, node.conf, the map and the certificate work with the built node"
done
echo "deploy/kubernetes/node: manifests OK"
