#!/bin/bash
# The built vduse-netblk accepts every command line deploy/ gives it: the
# DaemonSet's agent, the Containerfile's ENTRYPOINT, both systemd units
# (with the README's example env file); each is run with --help appended,
# which exits 0 only when every option before it was accepted. The probes:
# readiness ('vduse-netblk status --ready') exits 0 when every spec is
# attached and 1 when one is not; liveness ('vduse-netblk status') exits 0
# whatever the specs while the agent's heartbeat is fresh, 1 when it is
# stale or its process gone.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
deploy_need_pyyaml
: "${NETBLK_BIN:?NETBLK_BIN unset}"
bin=$NETBLK_BIN/vduse-netblk
[ -x "$bin" ] || fail "$bin not built"
deploy_tmp
out=$DEPLOY_TMP/out
DEPLOY_CHECK_OUT=$out python3 "$DEPLOY_TESTS/check_k8s.py" "$NETBLK_SRC" >/dev/null ||
	fail "deploy/kubernetes: check_k8s.py fails (deploy_k8s_manifests says why)"

# argv of each, one word a line, the program first (our build's path)
python3 - "$NETBLK_SRC" "$out" <<'PY'
import json, os, re, shlex, sys
src, out = sys.argv[1], sys.argv[2]
def save(name, argv):
    with open(os.path.join(out, name + ".argv"), "w") as f:
        f.write("\n".join(argv) + "\n")
argv = open(os.path.join(out, "agent.argv")).read().split("\n")[:-1]
save("daemonset", [a.replace("$(HOST_IP)", "192.0.2.1") for a in argv])
cf = open(os.path.join(src, "deploy/Containerfile")).read()
save("containerfile", json.loads(re.findall(r"^ENTRYPOINT\s+(.*)$", cf, re.M)[-1]))
def unit(name, env):
    text = open(os.path.join(src, "deploy/systemd", name)).read()
    for m in re.finditer(r'^Environment="?([A-Z_]+)=(.*?)"?$', text, re.M):
        env.setdefault(m.group(1), m.group(2))
    line = re.search(r"^ExecStart=(.*)$", text, re.M).group(1)
    argv = []
    for w in shlex.split(line):
        m = re.fullmatch(r"\$([A-Z_]+)", w)
        if m:
            argv += env.get(m.group(1), "").split()
        else:
            argv.append(re.sub(r"\$\{([A-Z_]+)\}", lambda m: env[m.group(1)], w))
    return argv
save("agent-unit", unit("vduse-netblk-agent.service", {}))
# the README's example /etc/vduse-netblk/vol1.env
readme = open(os.path.join(src, "deploy/README.md")).read()
block = re.search(r"`/etc/vduse-netblk/vol1.env`:\s*```sh\n(.*?)```", readme, re.S).group(1)
env = {}
for line in block.splitlines():
    m = re.match(r"^([A-Z_]+)=(.*)$", line)
    if m:
        env[m.group(1)] = m.group(2)
save("template-unit", unit("vduse-netblk@.service", dict(env, NAME="netblk-vol1")))
PY
for what in daemonset containerfile agent-unit template-unit; do
	mapfile -t argv < "$out/$what.argv"
	case $what in
	daemonset) where="deploy/kubernetes/daemonset.yaml: containers[agent].command/args" ;;
	containerfile) where="deploy/Containerfile: ENTRYPOINT" ;;
	agent-unit) where="deploy/systemd/vduse-netblk-agent.service: ExecStart" ;;
	template-unit) where="deploy/systemd/vduse-netblk@.service: ExecStart (with deploy/README.md's vol1.env)" ;;
	esac
	[ "$(basename "${argv[0]}")" = vduse-netblk ] || fail "$where: runs ${argv[0]}, not vduse-netblk"
	rc=0
	"$bin" "${argv[@]:1}" --help > "$DEPLOY_TMP/help.out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "$where: vduse-netblk refuses '${argv[*]:1}': $(head -n 2 "$DEPLOY_TMP/help.out")"
	echo "$what: accepted: ${argv[*]:1}"
done

# The probes, on a spec directory and run directory of our own; the
# heartbeat names this shell, alive.
specs=$DEPLOY_TMP/specs run=$DEPLOY_TMP/run
mkdir -p "$specs" "$run"
printf 'cluster=192.0.2.5:7001\nvolume=vol1\n' > "$specs/vol1.spec"
printf 'state=attached\nvolume=vol1\nname=vol1\ndevice=/dev/vdz\nmessage=\n' > "$specs/vol1.status"
heartbeat() { printf 'pid=%s\nupdated=%s\n' "$1" "$2" > "$run/agent.heartbeat"; }
while IFS=$'\t' read -r -a cmd; do
	where="deploy/kubernetes/daemonset.yaml: containers[agent] probe '${cmd[*]}'"
	ready=false
	for i in "${!cmd[@]}"; do
		[ "${cmd[$i]}" = --spec-dir ] && cmd[i+1]=$specs
		[ "${cmd[$i]}" = --run-dir ] && cmd[i+1]=$run
		[ "${cmd[$i]}" = --ready ] && ready=true
	done
	heartbeat $$ "$(date +%s)"
	rm -f "$specs/vol2.spec"
	"$bin" "${cmd[@]:1}" > "$DEPLOY_TMP/status.out" 2>&1 ||
		fail "$where: exit $? with every spec attached: $(cat "$DEPLOY_TMP/status.out")"
	printf 'cluster=192.0.2.5:7001\nvolume=vol2\n' > "$specs/vol2.spec"
	rc=0
	"$bin" "${cmd[@]:1}" > "$DEPLOY_TMP/status.out" 2>&1 || rc=$?
	grep -q 'vol2' "$DEPLOY_TMP/status.out" || fail "$where: the output does not name vol2"
	if $ready; then
		[ "$rc" -eq 1 ] || fail "$where: exit $rc with vol2 not attached, expected 1: $(cat "$DEPLOY_TMP/status.out")"
	else
		[ "$rc" -eq 0 ] || fail "$where: exit $rc with vol2 not attached: the liveness probe would restart a running agent: $(cat "$DEPLOY_TMP/status.out")"
	fi
	# A stuck loop (heartbeat 5 minutes old) and a dead agent fail both.
	heartbeat $$ "$(( $(date +%s) - 300 ))"
	rc=0
	"$bin" "${cmd[@]:1}" > "$DEPLOY_TMP/status.out" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "$where: exit $rc with a heartbeat 300 s old, expected 1"
	grep -q 'not answering' "$DEPLOY_TMP/status.out" || fail "$where: does not say the agent is not answering: $(cat "$DEPLOY_TMP/status.out")"
	rm -f "$run/agent.heartbeat"
	rc=0
	"$bin" "${cmd[@]:1}" > "$DEPLOY_TMP/status.out" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "$where: exit $rc with no agent, expected 1"
done < "$out/probes"
echo "deploy: every command line is accepted by $bin; the probes tell attached from not, and a live agent from a stuck or gone one"
