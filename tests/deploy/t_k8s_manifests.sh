#!/bin/bash
# deploy/kubernetes: every manifest parses and keeps the fields that matter
# (check_k8s.py); then the shell the manifests carry is run for real: the
# init container's module loading (fake modprobe: all missing, all there,
# only the optional ones missing).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
deploy_need_pyyaml
deploy_tmp
out=$DEPLOY_TMP/out
DEPLOY_CHECK_OUT=$out python3 "$DEPLOY_TESTS/check_k8s.py" "$NETBLK_SRC"
ds=deploy/kubernetes/daemonset.yaml

# --- init container: a node whose kernel has none of the modules
read -r -a mods < "$out/modules"
read -r -a opt_mods < "$out/optional_modules"
fake=$DEPLOY_TMP/bin
mkdir -p "$fake"
cat > "$fake/modprobe" <<'SH'
#!/bin/sh
[ -n "${FAKE_MODPROBE_OK:-}" ] && exit 0
case " ${FAKE_MODPROBE_ONLY_MISSING-$1} " in *" $1 "*) ;; *) exit 0 ;; esac
echo "modprobe: FATAL: Module $1 not found in directory /lib/modules/$(uname -r)" >&2
exit 1
SH
chmod +x "$fake/modprobe"
rc=0
MODULES="${mods[*]}" OPTIONAL_MODULES="${opt_mods[*]}" PATH="$fake:$PATH" \
	sh "$out/init.sh" >"$DEPLOY_TMP/init.out" 2>"$DEPLOY_TMP/init.err" || rc=$?
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
FAKE_MODPROBE_OK=1 MODULES="${mods[*]}" OPTIONAL_MODULES="${opt_mods[*]}" PATH="$fake:$PATH" \
	sh "$out/init.sh" >"$DEPLOY_TMP/init.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "$ds: initContainers[modules].args: exit $rc when modprobe succeeds: $(cat "$DEPLOY_TMP/init.out")"
for m in "${mods[@]}" "${opt_mods[@]}"; do
	grep -q "module $m loaded" "$DEPLOY_TMP/init.out" ||
		fail "$ds: initContainers[modules].args: does not report loading $m"
done
# --- a node that has the required ones but not the optional ones (loop):
# the agent still starts, and the log says what the node cannot do. The
# script looks in an empty /sys/module (this machine may have loop loaded).
[ ${#opt_mods[@]} -gt 0 ] || fail "$ds: initContainers[modules]: no OPTIONAL_MODULES"
mkdir -p "$DEPLOY_TMP/sysmod"
sed "s#/sys/module/#$DEPLOY_TMP/sysmod/#g" "$out/init.sh" > "$DEPLOY_TMP/init-nosys.sh"
grep -q "$DEPLOY_TMP/sysmod/" "$DEPLOY_TMP/init-nosys.sh" ||
	fail "$ds: initContainers[modules].args: no longer looks in /sys/module (update this test)"
rc=0
FAKE_MODPROBE_ONLY_MISSING="${opt_mods[*]}" MODULES="${mods[*]}" OPTIONAL_MODULES="${opt_mods[*]}" \
	PATH="$fake:$PATH" sh "$DEPLOY_TMP/init-nosys.sh" >"$DEPLOY_TMP/init.out" 2>"$DEPLOY_TMP/init.err" || rc=$?
[ "$rc" -eq 0 ] || fail "$ds: initContainers[modules].args: exit $rc with only optional modules missing, expected 0: $(cat "$DEPLOY_TMP/init.err")"
for m in "${mods[@]}"; do
	grep -q "module $m loaded" "$DEPLOY_TMP/init.out" ||
		fail "$ds: initContainers[modules].args: does not report loading $m"
done
for m in "${opt_mods[@]}"; do
	grep -q "warning: .*cannot load module $m" "$DEPLOY_TMP/init.err" ||
		fail "$ds: initContainers[modules].args: no warning naming $m: $(cat "$DEPLOY_TMP/init.err")"
	[ "$m" != loop ] || grep -q "netblk-csi cannot publish raw block volumes read-only" "$DEPLOY_TMP/init.err" ||
		fail "$ds: initContainers[modules].args: the loop warning does not say what is lost: $(cat "$DEPLOY_TMP/init.err")"
done

echo "deploy/kubernetes: manifests and their scripts OK"
