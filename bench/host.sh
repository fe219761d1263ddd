#!/bin/bash
# bench/host.sh - the host part of bench/run.sh (issue #6): the network
# engine alone, at native speed, no kernel block layer in the path.
#
#   bench/host.sh OUTDIR
#
#   netblk-cli bench  -> netblk-server-mock (memory volume, TLS 1.3, client
#                        certificates)
#   fio --ioengine=nbd (libnbd) -> nbdkit --tls=require --tls-verify-peer
#                        memory (TLS with client certificates too)
# for the jobs randwrite-4k-qd32 randread-4k-qd32 write-128k-qd8
# read-128k-qd8, RUNTIME seconds each, over the same region, plus
# `openssl speed -evp aes-128-gcm` on 16 KiB blocks (one TLS record) as the
# crypto limit of one core. Both servers listen on 127.0.0.1 only.
#
# CPU: "client" is netblk-cli or fio (their own user+system time, from the
# shell's `times`), "server" is the mock or nbdkit (utime+stime from
# /proc/PID/stat around the run).
#
# libnbd reads its client certificates from a directory that a URI may not
# name (nbd_set_uri_allow_local_file, which fio does not call); as root it
# would use /etc/pki/libnbd, so fio runs as user nobody with
# HOME=$tmp/home, whose .pki/libnbd holds them.
#
# Environment: NETBLK_BIN (programs), NETBLK_SRC, NETBLK_BENCH_RUNTIME
# (default 10), NETBLK_BENCH_TLS (TLS 1.3 suite of netblk-cli, default
# TLS_AES_128_GCM_SHA256), NETBLK_BENCH_ROUNDS (default 1; round K > 1 writes to
# OUTDIR/rK), NETBLK_BENCH_DEV_MB (default 256), NETBLK_BENCH_PERF=1 (also
# record `perf` profiles of the client and server processes of both stacks
# in randread-4k-qd32 and read-128k-qd8; OUTDIR/perf-TOOL-JOB.txt).
# Writes OUTDIR/JOB.{cli,fio}.{txt|json,times,cpu}, openssl.txt, info.txt.
set -euo pipefail

out=${1:?usage: host.sh OUTDIR}
src=${NETBLK_SRC:?}
bin=${NETBLK_BIN:?}
runtime=${NETBLK_BENCH_RUNTIME:-10}
rounds=${NETBLK_BENCH_ROUNDS:-1}
dev_mb=${NETBLK_BENCH_DEV_MB:-256}
jobs="write-128k-qd8 randwrite-4k-qd32 read-128k-qd8 randread-4k-qd32"
clk_tck=$(getconf CLK_TCK)

mkdir -p "$out"
tmp=$(mktemp -d /tmp/netblk-bench.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "[host $(date +%H:%M:%S)] $*"; }
die() { say "error: $*" >&2; exit 1; }
case $rounds in '' | *[!0-9]* | 0) die "NETBLK_BENCH_ROUNDS='$rounds' is not a whole number of at least 1" ;; esac

cpu_ticks() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	rest=${stat##*) }
	# shellcheck disable=SC2086 # the fields after "pid (comm) "
	set -- $rest
	echo $((${12} + ${13}))
}

# Certificates: ours for the mock and netblk-cli, the same files under
# GnuTLS's names for nbdkit and libnbd.
"$src/scripts/netblk-certs" "$tmp/pki" >/dev/null || die "netblk-certs failed"
mkdir -p "$tmp/nbd-server" "$tmp/home/.pki/libnbd"
cp "$tmp/pki/ca.crt" "$tmp/nbd-server/ca-cert.pem"
cp "$tmp/pki/server.crt" "$tmp/nbd-server/server-cert.pem"
cp "$tmp/pki/server.key" "$tmp/nbd-server/server-key.pem"
cp "$tmp/pki/ca.crt" "$tmp/home/.pki/libnbd/ca-cert.pem"
cp "$tmp/pki/client.crt" "$tmp/home/.pki/libnbd/client-cert.pem"
cp "$tmp/pki/client.key" "$tmp/home/.pki/libnbd/client-key.pem"
chown -R nobody "$tmp/home"

{
	echo "nproc=$(nproc)"
	echo "uptime=$(uptime)"
	echo "cpu=$(awk -F': ' '$1 ~ /^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "fio=$(fio --version)"
	echo "nbdkit=$(nbdkit --version | head -1)"
	echo "libnbd=$(dpkg-query -W -f='${Version}' libnbd0 2>/dev/null || echo unknown)"
	echo "openssl=$(openssl version)"
	echo "runtime_s=$runtime"
	echo "dev_mb=$dev_mb"
	echo "rounds=$rounds"
} >"$out/info.txt"

# The mock on a port the kernel picks.
"$bin/netblk-server-mock" --listen 127.0.0.1:0 --port-file "$tmp/mock.port" \
	--ca "$tmp/pki/ca.crt" --cert "$tmp/pki/server.crt" --key "$tmp/pki/server.key" \
	--volume "bench:${dev_mb}M" </dev/null >"$out/mock.log" 2>&1 &
mock_pid=$!
pids+=("$mock_pid")
for ((i = 0; i < 100; i++)); do
	[ -s "$tmp/mock.port" ] && break
	kill -0 "$mock_pid" 2>/dev/null || die "netblk-server-mock exited: $(tail -3 "$out/mock.log")"
	sleep 0.1
done
[ -s "$tmp/mock.port" ] || die "netblk-server-mock did not listen within 10 s"
mock_port=$(cat "$tmp/mock.port")

# nbdkit has no port-file: try a few random ports until one binds.
nbd_pid=
for ((try = 0; try < 10 && ${#nbd_pid} == 0; try++)); do
	port=$((20000 + RANDOM % 20000))
	rm -f "$tmp/nbdkit.pid"
	nbdkit -f -P "$tmp/nbdkit.pid" -i 127.0.0.1 -p "$port" --tls=require \
		--tls-certificates="$tmp/nbd-server" --tls-verify-peer \
		memory "${dev_mb}M" </dev/null >>"$out/nbdkit.log" 2>&1 &
	p=$!
	for ((i = 0; i < 50; i++)); do
		[ -s "$tmp/nbdkit.pid" ] && { nbd_pid=$p; nbd_port=$port; break; }
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$nbd_pid" ] || { kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; }
done
[ -n "$nbd_pid" ] || die "nbdkit did not start: $(tail -3 "$out/nbdkit.log")"
pids+=("$nbd_pid")

# One TLS suite for every run (NETBLK_BENCH_TLS): left to netblk-cli, the
# suite is chosen by a short speed test at start, which a loaded machine
# can flip between runs (ChaCha20 costs half again as many instructions
# per request as AES-128-GCM with AES-NI), making runs incomparable.
cli=("$bin/netblk-cli" --cluster "127.0.0.1:$mock_port" --volume bench
	--ca "$tmp/pki/ca.crt" --cert "$tmp/pki/client.crt" --key "$tmp/pki/client.key"
	--tls-ciphersuites "${NETBLK_BENCH_TLS:-TLS_AES_128_GCM_SHA256}")
as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups env "HOME=$tmp/home")
nbd_uri="nbds://127.0.0.1:$nbd_port/"

job_params() {
	IFS=- read -r rw bs qd <<<"$1"
	qd=${qd#qd}
	case $rw in
	randread | randwrite) pattern=$rw ;;
	read | write) pattern=$rw ;;
	*) die "bad job $1" ;;
	esac
}

# measure JOB TOOL SERVER-PID CMD...: CMD's output to OD/JOB.TOOL.txt, its
# CPU time to OD/JOB.TOOL.times, the server's to OD/JOB.TOOL.cpu (OD: this
# round's directory).
measure() {
	local job=$1 tool=$2 spid=$3 s0 s1 t0 t1 rc=0
	shift 3
	s0=$(cpu_ticks "$spid")
	t0=$(date +%s%N)
	(
		"$@" >"$od/$job.$tool.txt" 2>"$od/$job.$tool.err" || exit
		times >"$od/$job.$tool.times"
	) || rc=$?
	t1=$(date +%s%N)
	s1=$(cpu_ticks "$spid")
	{
		echo "rc=$rc"
		echo "wall_ns=$((t1 - t0))"
		echo "clk_tck=$clk_tck"
		[ -n "$s0" ] && [ -n "$s1" ] && echo "server_ticks=$((s1 - s0))"
		echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$od/$job.$tool.cpu"
	return "$rc"
}

run_cli() {
	measure "$job" cli "$mock_pid" "${cli[@]}" bench --pattern "$pattern" \
		--bs "$bs" --iodepth "$qd" --seconds "$runtime" --size "${dev_mb}M" ||
		say "$tag$job: netblk-cli failed: $(tail -2 "$od/$job.cli.err")"
	say "$tag$job netblk-cli: $(sed -n 's/^bench: \([0-9]* I\/Os in .*\)/\1/p' "$od/$job.cli.txt")"
}

run_fio() {
	measure "$job" fio "$nbd_pid" "${as_nobody[@]}" fio --name="$job" --ioengine=nbd \
		--uri="$nbd_uri" --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs=1 \
		--size="${dev_mb}M" --norandommap --randrepeat=0 --time_based \
		--runtime="$runtime" --lat_percentiles=1 --output-format=json ||
		say "$tag$job: fio failed: $(tail -2 "$od/$job.fio.err")"
	# fio's nbd engine prints a line before the JSON.
	sed -n '/^{/,$p' "$od/$job.fio.txt" >"$od/$job.fio.json"
	say "$tag$job fio+libnbd: $(grep -m2 -E '"iops" :' "$od/$job.fio.json" |
		awk '{ gsub(",", "", $3); s += $3 } END { printf "%.0f IOPS", s }')"
}

say "engine bench on the host: netblk-cli -> mock (port $mock_port) and fio nbd -> nbdkit (port $nbd_port), $runtime s per job, $rounds round(s)"
# Round 1 in OUTDIR, round K in OUTDIR/rK; odd rounds run netblk-cli first,
# even rounds fio first.
for ((round = 1; round <= rounds; round++)); do
	od=$out
	tag=
	if [ "$rounds" -gt 1 ]; then
		tag="round $round: "
		[ "$round" = 1 ] || od=$out/r$round
	fi
	mkdir -p "$od"
	for job in $jobs; do
		job_params "$job"
		if ((round % 2)); then
			run_cli
			run_fio
		else
			run_fio
			run_cli
		fi
	done
done

# perf_profile NAME SERVER-PID CMD...: CMD in the background; perf samples
# it and the server (all their threads, nothing else) for most of its run.
perf_profile() {
	local name=$1 spid=$2 cpid
	shift 2
	"$@" >/dev/null 2>"$out/perf-$name.err" &
	cpid=$!
	sleep 1
	perf record -q -o "$tmp/perf-$name.data" -p "$spid,$cpid" -- \
		sleep $((runtime > 3 ? runtime - 2 : 1)) >/dev/null 2>>"$out/perf-$name.err" || true
	wait "$cpid" || true
	{
		perf report -i "$tmp/perf-$name.data" --stdio --no-children --sort comm,dso \
			--percent-limit 2 2>/dev/null | grep -v -e '^#' -e '^$' | head -12
		echo "--"
		perf report -i "$tmp/perf-$name.data" --stdio --no-children --sort comm,dso,sym \
			--percent-limit 0.7 2>/dev/null | grep -v -e '^#' -e '^$' | head -25
	} >"$out/perf-$name.txt" || true
}

if [ "${NETBLK_BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
	for job in randread-4k-qd32 read-128k-qd8; do
		job_params "$job"
		say "perf profiles of $job (client and server processes, $runtime s each)"
		perf_profile "cli-$job" "$mock_pid" "${cli[@]}" bench --pattern "$pattern" \
			--bs "$bs" --iodepth "$qd" --seconds "$runtime" --size "${dev_mb}M"
		perf_profile "fio-$job" "$nbd_pid" "${as_nobody[@]}" fio --name=p --ioengine=nbd \
			--uri="$nbd_uri" --rw="$rw" --bs="$bs" --iodepth="$qd" --size="${dev_mb}M" \
			--norandommap --time_based --runtime="$runtime" --thread
	done
fi

say "openssl speed -evp aes-128-gcm, 16 KiB blocks, one core"
openssl speed -evp aes-128-gcm -bytes 16384 -seconds 3 >"$out/openssl.txt" 2>&1 ||
	say "openssl speed failed"
tail -2 "$out/openssl.txt"
# Whether kernel TLS would pay: a bare record stream over loopback TCP,
# sealed and opened by OpenSSL in user space or by the kernel's tls module
# (bench/tls_probe.c). This host's kernel may have no tls module.
say "netblk-tls-probe: TLS record stream over loopback, user space vs kernel"
for probe in "--mib 256" "--mib 64 --size 4096"; do
	# shellcheck disable=SC2086 # two options
	"$bin/netblk-tls-probe" $probe 2>&1 || echo "netblk-tls-probe $probe failed (exit $?)"
done >"$out/tls-probe.txt"
cat "$out/tls-probe.txt"
