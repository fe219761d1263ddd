#!/bin/bash
# deploy/kubernetes: every manifest parses and keeps the fields that matter
# (check_k8s.py); then the shell the manifests carry is run for real: the
# init container's module loading (fake modprobe: all missing, all there),
# the attach Job writing a spec the agent can read, the detach Job.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
deploy_need_pyyaml
deploy_tmp
out=$DEPLOY_TMP/out
DEPLOY_CHECK_OUT=$out python3 "$DEPLOY_TESTS/check_k8s.py" "$NETBLK_SRC"
ds=deploy/kubernetes/daemonset.yaml

# --- init container: a node whose kernel has none of the modules
read -r -a mods < "$out/modules"
fake=$DEPLOY_TMP/bin
mkdir -p "$fake"
cat > "$fake/modprobe" <<'SH'
#!/bin/sh
[ -n "${FAKE_MODPROBE_OK:-}" ] && exit 0
echo "modprobe: FATAL: Module $1 not found in directory /lib/modules/$(uname -r)" >&2
exit 1
SH
chmod +x "$fake/modprobe"
rc=0
MODULES="${mods[*]}" PATH="$fake:$PATH" sh "$out/init.sh" >"$DEPLOY_TMP/init.out" 2>"$DEPLOY_TMP/init.err" || rc=$?
missing=()
for m in "${mods[@]}"; do [ -d "/sys/module/$m" ] || missing+=("$m"); done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$rc" -eq 1 ] || fail "$ds: initContainers[modules].args: exit $rc with modules ${missing[*]} missing, expected 1"
	for m in "${missing[@]}"; do
		grep -q "lacks:.* $m\b" "$DEPLOY_TMP/init.err" ||
			fail "$ds: initContainers[modules].args: the failure message does not name $m: $(cat "$DEPLOY_TMP/init.err")"
	done
	grep -q "Linux 5.15" "$DEPLOY_TMP/init.err" ||
		fail "$ds: initContainers[modules].args: the failure message does not say what the kernel needs"
else
	echo "note: every module is on this machine already; the missing-module path is not exercised"
fi
# --- a node that has them
rc=0
FAKE_MODPROBE_OK=1 MODULES="${mods[*]}" PATH="$fake:$PATH" sh "$out/init.sh" >"$DEPLOY_TMP/init.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "$ds: initContainers[modules].args: exit $rc when modprobe succeeds: $(cat "$DEPLOY_TMP/init.out")"
for m in "${mods[@]}"; do
	grep -q "module $m loaded" "$DEPLOY_TMP/init.out" ||
		fail "$ds: initContainers[modules].args: does not report loading $m"
done

# --- attach Job: the spec it writes
job=deploy/kubernetes/examples/attach-job.yaml
specs=$DEPLOY_TMP/specs run=$DEPLOY_TMP/run
mkdir -p "$specs" "$run/by-volume"
# shellcheck disable=SC1091
( source "$out/attach.env"
  sed -e "s#\([\"= ]\)$SPEC_MOUNT/#\1$specs/#g" -e "s#\([\"= ]\)/run/vduse-netblk/#\1$run/#g" \
      "$out/attach.sh" > "$DEPLOY_TMP/attach.sh"
  printf 'state=attached\ndevice=/dev/vdz\n' > "$specs/$NAME.status"
  ln -s /dev/vdz "$run/by-volume/$VOLUME"
  CLUSTER='10.1.2.3:7001,[fd00::5]:7001' TLS_NAME=storage.example \
	sh "$DEPLOY_TMP/attach.sh" > "$DEPLOY_TMP/attach.out" 2>&1 ||
	fail "$job: args: exit $? with the volume attached: $(cat "$DEPLOY_TMP/attach.out")"
  spec=$specs/$NAME.spec
  [ -f "$spec" ] || fail "$job: args: no $NAME.spec written"
  [ -z "$(find "$specs" -name '.*')" ] || fail "$job: args: left a temporary file in the spec dir"
  read -r -a keys < "$out/spec_keys"
  while IFS= read -r line; do
	k=${line%%=*}
	[[ "$line" == *=* ]] || fail "$job: args: spec line '$line' is not key=value"
	[[ " ${keys[*]} " == *" $k "* ]] || fail "$job: args: spec key '$k' is not one the agent knows"
  done < "$spec"
  for want in "cluster=10.1.2.3:7001,[fd00::5]:7001" "volume=$VOLUME" "tls_name=storage.example"; do
	grep -qxF "$want" "$spec" || fail "$job: args: spec lacks '$want': $(cat "$spec")"
  done
  # the agent as built reads that spec (it then stops at our missing CA file,
  # before it would touch any device)
  bin=${NETBLK_BIN:-}/vduse-netblk
  if [ -x "$bin" ]; then
	ag=$DEPLOY_TMP/agent
	mkdir -p "$ag/specs" "$ag/run"
	cp "$spec" "$ag/specs/"
	"$bin" agent --spec-dir "$ag/specs" --run-dir "$ag/run" --ca "$ag/none-ca.crt" \
		--cert "$ag/none.crt" --key "$ag/none.key" --connect-timeout 1 > "$ag/log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		grep -q '^state=' "$ag/specs/$NAME.status" 2>/dev/null && break
		sleep 0.2
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" || true
	st=$(cat "$ag/specs/$NAME.status" 2>/dev/null) ||
		fail "vduse-netblk agent wrote no status for the attach Job's spec in 20 s: $(cat "$ag/log")"
	[[ $st != *"message=bad spec"* ]] || fail "$job: args: the agent refuses the spec written: $st"
	[[ $st == *none-ca.crt* ]] ||
		fail "$job: args: the agent did not get to opening the volume with the spec written: $st"
	echo "the agent reads the attach Job's spec"
  else
	echo "note: ${NETBLK_BIN:-NETBLK_BIN}/vduse-netblk not built: the spec is not fed to the agent"
  fi
  # the agent failed: the Job fails and says why
  printf 'state=error\nmessage=volume vol1 not found\n' > "$specs/$NAME.status"
  rc=0
  CLUSTER=10.1.2.3:7001 TLS_NAME='' sh "$DEPLOY_TMP/attach.sh" > "$DEPLOY_TMP/attach.out" 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || fail "$job: args: exit $rc when the agent reports state=error, expected 1"
  grep -q "volume vol1 not found" "$DEPLOY_TMP/attach.out" ||
	fail "$job: args: the agent's message is not shown: $(cat "$DEPLOY_TMP/attach.out")"
  grep -q '^tls_name=' "$spec" && fail "$job: args: tls_name written while the ConfigMap's is empty"
  true
)

# --- detach Job
job=deploy/kubernetes/examples/detach-job.yaml
# shellcheck disable=SC1091
( source "$out/detach.env"
  sed -e "s#\([\"= ]\)$SPEC_MOUNT/#\1$specs/#g" -e "s#\([\"= ]\)/run/vduse-netblk/#\1$run/#g" \
      "$out/detach.sh" > "$DEPLOY_TMP/detach.sh"
  rm -f "$run/by-volume/$VOLUME"
  sh "$DEPLOY_TMP/detach.sh" > "$DEPLOY_TMP/detach.out" 2>&1 ||
	fail "$job: args: exit $? once detached: $(cat "$DEPLOY_TMP/detach.out")"
  [ ! -e "$specs/$NAME.spec" ] || fail "$job: args: $NAME.spec not removed"
)
echo "deploy/kubernetes: manifests and their scripts OK"
