#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ceph-cluster.sh: a throw-away Ceph RADOS cluster on this machine for tests.
#
# Runs one ceph-mon and one or more ceph-osd processes (memstore: data lives
# in RAM, nothing survives a stop) directly as processes, with cephx, bound
# to 127.0.0.1 only. Everything (config, keyrings, mon store, OSD dirs, logs,
# admin sockets, pid files) lives under DIR; nothing is written outside DIR
# except by apt-get when packages are missing.
#
# Usage:
#   ceph-cluster.sh install            install the Debian packages if missing
#   ceph-cluster.sh start DIR [options]
#       --osds N            number of OSDs, 1..3 (default 1)
#       --pool NAME         pool to create (default netblk)
#       --pg N              pg_num of the pool (default 8)
#       --user NAME         cephx client to create: client.NAME, with
#                           mon 'profile rbd' (read, and blocklist add) and osd 'allow rwx pool=POOL'
#                           (default netblk)
#       --memstore-mb N     RAM cap of each OSD's memstore (default 1024)
#       --mgr               also run a ceph-mgr (installs ceph-mgr; not
#                           needed for I/O; without it `ceph -s` and
#                           `rados df` show no PG states or usage)
#       --timeout SECS      give up starting after SECS (default 180)
#       --no-install        fail instead of installing missing packages
#   ceph-cluster.sh status DIR         `ceph -s`, OSD and pool summary
#   ceph-cluster.sh stop DIR           kill the daemons, remove DIR
#
# After start, DIR/env holds shell lines for tests:
#   . DIR/env && rados -p "$CEPH_POOL" put obj file
# It exports CEPH_CONF, CEPH_POOL, CEPH_CLIENT_ID (USER), CEPH_CLIENT_NAME
# (client.USER), CEPH_KEYRING (DIR/keyring: the keys of client.admin and
# client.USER; ceph and librados read this variable themselves),
# CEPH_CLIENT_KEYRING (client.USER's key only), CEPH_ADMIN_KEYRING and
# CEPH_CLIENT_ARGS (--id USER). Plain `ceph`/`rados` act as client.admin;
# `rados $CEPH_CLIENT_ARGS ...` acts as the restricted client.USER. (The env
# does not set CEPH_ARGS: ceph lets CEPH_ARGS override its command line, so
# `ceph -n client.admin` would stop working.) A librados program uses
# rados_create(&c, "$CEPH_CLIENT_ID") and rados_conf_read_file(c,
# "$CEPH_CONF"); the conf names each client's keyring.
#
# Layout of DIR: ceph.conf, env, keyring, admin.keyring, client.USER.keyring,
# mon/ (mon store), osd.N/ (keyring, memstore files), run/ (pid files,
# admin sockets), log/ (daemon logs), .ceph-cluster (marker: stop only
# removes a DIR that holds it).
#
# Exit status: 0 ok, 1 failure, 2 usage, 3 packages missing and not
# installable.
set -euo pipefail

PROG=${0##*/}
MARKER=.ceph-cluster

die() { echo "$PROG: error: $*" >&2; exit 1; }
info() { echo "$PROG: $*"; }
usage() { sed -n '/^# Usage:/,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# --- packages ---------------------------------------------------------------

missing_packages() { # [--mgr]: prints the packages whose files are absent
	local miss="" p
	command -v ceph-mon >/dev/null || miss+=" ceph-mon"
	command -v ceph-osd >/dev/null || miss+=" ceph-osd"
	for p in ceph rados ceph-authtool monmaptool; do
		command -v "$p" >/dev/null || { miss+=" ceph-common"; break; }
	done
	[ -e /usr/include/rados/librados.h ] || miss+=" librados-dev"
	if [ "${1:-}" = --mgr ]; then
		command -v ceph-mgr >/dev/null || miss+=" ceph-mgr"
	fi
	echo "${miss# }"
}

do_install() { # [--mgr] [--no-install]
	local want=() noinst=0 a miss t0 rc=0
	for a in "$@"; do
		case $a in
		--mgr) want=(--mgr) ;;
		--no-install) noinst=1 ;;
		esac
	done
	miss=$(missing_packages "${want[@]}")
	[ -z "$miss" ] && return 0
	if [ "$noinst" = 1 ]; then
		echo "$PROG: missing packages: $miss (--no-install given)" >&2
		exit 3
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "$PROG: missing packages: $miss, and not root to install them" >&2
		exit 3
	fi
	command -v apt-get >/dev/null || { echo "$PROG: missing packages: $miss, no apt-get" >&2; exit 3; }
	info "installing: $miss"
	t0=$(date +%s)
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y \
		-o DPkg::Lock::Timeout=300 --no-install-recommends $miss </dev/null >/tmp/ceph-cluster-apt.$$.log 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		tail -n 20 /tmp/ceph-cluster-apt.$$.log >&2
		rm -f /tmp/ceph-cluster-apt.$$.log
		echo "$PROG: apt-get install failed (exit $rc)" >&2
		exit 3
	fi
	rm -f /tmp/ceph-cluster-apt.$$.log
	miss=$(missing_packages "${want[@]}")
	[ -z "$miss" ] || { echo "$PROG: still missing after install: $miss" >&2; exit 3; }
	info "packages installed in $(($(date +%s) - t0)) s"
}

# --- helpers ----------------------------------------------------------------

abs_dir() { # DIR -> absolute path (DIR need not exist)
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$PWD" "$1" ;;
	esac
}

port_free() { # PORT: true if nothing listens on it (TCP, any address)
	[ -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
}

pick_port() { # [EXCLUDE]: a free TCP port in 10000..31999 (below the
	# usual ephemeral range, so no outgoing connection holds it)
	local p
	for _ in $(seq 1 200); do
		p=$((10000 + RANDOM % 22000))
		[ "$p" = "${1:-}" ] && continue
		port_free "$p" && { echo "$p"; return 0; }
	done
	die "no free TCP port found"
}

# ceph/rados CLI as client.admin of the cluster in $D, bounded in time.
admin() {
	env -u CEPH_ARGS timeout 60 ceph --conf "$D/ceph.conf" --name client.admin \
		--keyring "$D/admin.keyring" --connect-timeout 30 "$@"
}

# rados as client.$USERNAME on $POOL, bounded in time.
cl_rados() {
	env -u CEPH_ARGS timeout 20 rados --conf "$D/ceph.conf" --id "$USERNAME" \
		-p "$POOL" "$@"
}

# Pids of processes whose command line names $D/ceph.conf (our daemons).
cluster_pids() {
	local p cmd
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case " $cmd " in
		*" $D/ceph.conf "*) case $cmd in ceph-mon* | ceph-osd* | ceph-mgr* | */ceph-mon* | */ceph-osd* | */ceph-mgr*) echo "${p#/proc/}" ;; esac ;;
		esac
	done
}

pid_alive_ours() { # PID: alive and one of this cluster's daemons
	local cmd
	[ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
	case " $cmd " in *" $D/ceph.conf "*) return 0 ;; esac
	return 1
}

show_logs() { # last lines of every daemon log, to stderr
	local f
	for f in "$D"/log/*.log; do
		[ -e "$f" ] || continue
		case $f in */client.*) continue ;; esac
		echo "---- last lines of $f" >&2
		tail -n 15 "$f" >&2
	done
}

fail_start() {
	echo "$PROG: error: $*" >&2
	show_logs
	echo "$PROG: the cluster in $D is left as is; run: $0 stop $D" >&2
	exit 1
}

start_daemon() { # NAME ARGS...: run a ceph daemon, wait for its pid file
	local name=$1 pidf="$D/run/$1.pid" pid=""
	shift
	rm -f "$pidf"
	# The daemon forks; the parent returns once the child is initialized.
	"$@" --conf "$D/ceph.conf" </dev/null >>"$D/log/$name.out" 2>&1 ||
		fail_start "$name failed to start (exit $?)"
	for _ in $(seq 1 100); do
		[ -s "$pidf" ] && pid=$(cat "$pidf") && pid_alive_ours "$pid" && break
		pid=""
		sleep 0.1
	done
	[ -n "$pid" ] || fail_start "$name did not write a pid file $pidf"
	echo "$name $pid" >>"$D/run/pids"
}

deadline_left() { echo $((DEADLINE - $(date +%s))); }

# --- start ------------------------------------------------------------------

write_conf() { # FSID V2PORT V1PORT
	cat >"$D/ceph.conf" <<EOF
# Generated by $PROG for a throw-away test cluster. Loopback only.
[global]
fsid = $1
mon host = [v2:127.0.0.1:$2,v1:127.0.0.1:$3]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $D/run
pid file = $D/run/\$name.pid
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
log to stderr = false
err to stderr = true
crash dir = $D/crash
mon cluster log file = $D/log/cluster.log
mon data = $D/mon
osd data = $D/\$name
mgr data = $D/\$name
keyring = $D/\$name.keyring
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = $PG
osd pool default pgp num = $PG
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 2
mon data avail crit = 1
mon max pg per osd = 1000
osd op num shards = 2
osd op num threads per shard = 2
mon memory target = 268435456
mgr initial modules = iostat
rocksdb cache size = 67108864

[mon]
mon data = $D/mon
keyring = $D/mon/keyring

[osd]
keyring = $D/\$name/keyring
osd crush update on start = true

[mgr]
keyring = $D/\$name/keyring

[client]
admin socket = $D/run/\$name.\$pid.asok
log file = $D/log/\$name.log

[client.admin]
keyring = $D/admin.keyring

[client.$USERNAME]
keyring = $D/client.$USERNAME.keyring
EOF
}

do_start() {
	local t0 fsid p2 p1 id uuid secret st up nin probe rc out
	t0=$(date +%s.%N)
	DEADLINE=$(($(date +%s) + TIMEOUT))

	if [ -e "$D/$MARKER" ]; then
		[ -e "$D/env" ] || die "$D holds a cluster whose start did not finish; run: $0 stop $D"
		local name pid dead=""
		while read -r name pid; do
			pid_alive_ours "$pid" || dead+=" $name"
		done <"$D/run/pids"
		[ -z "$dead" ] || die "in $D,$dead not running; run: $0 stop $D, then start again"
		info "cluster in $D is already running"
		return 0
	fi
	if [ -e "$D" ] && [ -n "$(ls -A "$D" 2>/dev/null)" ]; then
		die "$D exists and is not empty (and not a cluster made by $PROG)"
	fi
	mkdir -p "$D"
	: >"$D/$MARKER"
	mkdir -p "$D/run" "$D/log" "$D/mon" "$D/crash"

	fsid=$(cat /proc/sys/kernel/random/uuid)
	p2=$(pick_port)
	p1=$(pick_port "$p2")
	write_conf "$fsid" "$p2" "$p1"

	# Keys: mon., client.admin (all caps), imported into the mon keyring.
	ceph-authtool --create-keyring "$D/mon.keyring.tmp" --gen-key -n mon. \
		--cap mon 'allow *' >/dev/null
	ceph-authtool --create-keyring "$D/admin.keyring" --gen-key -n client.admin \
		--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' \
		--cap mds 'allow *' >/dev/null
	ceph-authtool "$D/mon.keyring.tmp" --import-keyring "$D/admin.keyring" >/dev/null
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$p2,v1:127.0.0.1:$p1]" \
		"$D/monmap" >/dev/null
	ceph-mon --conf "$D/ceph.conf" --mkfs -i a --monmap "$D/monmap" \
		--keyring "$D/mon.keyring.tmp" >"$D/log/mon.a.mkfs.out" 2>&1 ||
		fail_start "ceph-mon --mkfs failed: $(tail -n 5 "$D/log/mon.a.mkfs.out")"
	rm -f "$D/mon.keyring.tmp" "$D/monmap"
	start_daemon mon.a ceph-mon -i a

	# Wait for the monitor to answer.
	until admin mon stat >/dev/null 2>&1; do
		[ "$(deadline_left)" -gt 0 ] || fail_start "monitor did not answer within ${TIMEOUT}s"
		sleep 1
	done

	if [ "$MGR" = 1 ]; then
		mkdir -p "$D/mgr.x"
		admin auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' \
			mds 'allow *' -o "$D/mgr.x/keyring" >/dev/null ||
			fail_start "cannot create the mgr key"
		start_daemon mgr.x ceph-mgr -i x
	fi

	# OSDs: register (osd new with a cephx secret), mkfs, start.
	for _ in $(seq 1 "$OSDS"); do
		uuid=$(cat /proc/sys/kernel/random/uuid)
		secret=$(ceph-authtool --gen-print-key)
		id=$(printf '{"cephx_secret": "%s"}' "$secret" |
			admin osd new "$uuid" -i -) || fail_start "ceph osd new failed"
		case $id in '' | *[!0-9]*) fail_start "ceph osd new printed '$id'" ;; esac
		mkdir -p "$D/osd.$id"
		ceph-authtool --create-keyring "$D/osd.$id/keyring" --name "osd.$id" \
			--add-key "$secret" >/dev/null
		ceph-osd --conf "$D/ceph.conf" -i "$id" --mkfs --osd-uuid "$uuid" \
			--no-mon-config >"$D/log/osd.$id.mkfs.out" 2>&1 ||
			fail_start "ceph-osd --mkfs for osd.$id failed: $(tail -n 5 "$D/log/osd.$id.mkfs.out")"
		start_daemon "osd.$id" ceph-osd -i "$id"
	done

	# Wait until all OSDs are up and in.
	while :; do
		st=$(admin osd stat -f json 2>/dev/null) || st=""
		up=$(sed -n 's/.*"num_up_osds":\([0-9]*\).*/\1/p' <<<"$st")
		nin=$(sed -n 's/.*"num_in_osds":\([0-9]*\).*/\1/p' <<<"$st")
		[ "${up:-0}" = "$OSDS" ] && [ "${nin:-0}" = "$OSDS" ] && break
		[ "$(deadline_left)" -gt 0 ] ||
			fail_start "OSDs not up+in within ${TIMEOUT}s (up=${up:-?} in=${nin:-?} want $OSDS)"
		sleep 0.5
	done

	# Pool and client.
	if ! admin osd pool ls | grep -qx -- "$POOL"; then
		admin osd pool create "$POOL" "$PG" "$PG" replicated >/dev/null 2>&1 ||
			fail_start "ceph osd pool create $POOL failed"
	fi
	admin osd pool application enable "$POOL" rados >/dev/null 2>&1 ||
		fail_start "cannot enable application rados on pool $POOL"
	admin auth get-or-create "client.$USERNAME" mon 'profile rbd' \
		osd "allow rwx pool=$POOL" mgr 'allow r' \
		-o "$D/client.$USERNAME.keyring" >/dev/null ||
		fail_start "cannot create client.$USERNAME"
	cat "$D/admin.keyring" "$D/client.$USERNAME.keyring" >"$D/keyring"
	chmod 600 "$D/keyring" "$D"/*.keyring "$D"/osd.*/keyring

	# Wait until the pool takes a write and gives it back, as the client.
	probe="$D/run/probe.in"
	printf 'probe %s\n' "$fsid" >"$probe"
	while :; do
		rc=0
		out=$(cl_rados put ceph-cluster-probe "$probe" 2>&1 &&
			cl_rados get ceph-cluster-probe "$D/run/probe.out" 2>&1 &&
			cmp "$probe" "$D/run/probe.out" 2>&1 &&
			cl_rados rm ceph-cluster-probe 2>&1) || rc=$?
		[ "$rc" = 0 ] && break
		[ "$(deadline_left)" -gt 0 ] ||
			fail_start "pool $POOL does not accept I/O within ${TIMEOUT}s: $out"
		sleep 1
	done
	rm -f "$probe" "$D/run/probe.out"

	# Written last: its presence means the start finished.
	cat >"$D/env" <<EOF
# Generated by $PROG: . this file; plain ceph/rados then act as client.admin,
# rados \$CEPH_CLIENT_ARGS as client.$USERNAME.
export CEPH_CONF='$D/ceph.conf'
export CEPH_KEYRING='$D/keyring'
export CEPH_CLIENT_KEYRING='$D/client.$USERNAME.keyring'
export CEPH_ADMIN_KEYRING='$D/admin.keyring'
export CEPH_CLIENT_ID='$USERNAME'
export CEPH_CLIENT_NAME='client.$USERNAME'
export CEPH_POOL='$POOL'
export CEPH_CLIENT_ARGS='--id $USERNAME'
EOF

	info "cluster up in $D: mon 127.0.0.1:$p2 (v2) / $p1 (v1), $OSDS OSD(s), pool $POOL, client.$USERNAME"
	info "start took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s; use: . $D/env"
}

# --- stop / status ----------------------------------------------------------

# SIGTERM to PIDS, wait up to 10 s, then SIGKILL and wait up to 5 s.
kill_pids() { # PIDS...
	local p left=""
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null || true
	for _ in $(seq 1 100); do
		left=""
		for p in "$@"; do pid_alive_ours "$p" && left+=" $p"; done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	info "SIGKILL to$left"
	# shellcheck disable=SC2086
	kill -KILL $left 2>/dev/null || true
	for _ in $(seq 1 50); do
		left=""
		for p in "$@"; do pid_alive_ours "$p" && left+=" $p"; done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	die "processes$left of $D survive SIGKILL"
}

do_stop() {
	local first="" mons="" p name pid
	if [ ! -e "$D" ]; then
		info "$D does not exist; nothing to stop"
		return 0
	fi
	[ -e "$D/$MARKER" ] || die "$D was not made by $PROG (no $MARKER); not touching it"
	# OSDs and mgr first: an OSD told to stop waits (up to 5 s) for the
	# monitor to acknowledge, so stopping the monitor with them is slower.
	if [ -r "$D/run/pids" ]; then
		while read -r name pid; do
			pid_alive_ours "$pid" || continue
			case $name in mon.*) mons+=" $pid" ;; *) first+=" $pid" ;; esac
		done <"$D/run/pids"
	fi
	# shellcheck disable=SC2086
	kill_pids $first
	for p in $(cluster_pids); do  # the monitor, and any unrecorded daemon
		case " $mons " in *" $p "*) ;; *) mons+=" $p" ;; esac
	done
	# shellcheck disable=SC2086
	kill_pids $mons
	rm -rf -- "$D"
	info "stopped and removed $D"
}

do_status() {
	[ -e "$D/$MARKER" ] || die "no cluster in $D"
	local name pid
	while read -r name pid; do
		if pid_alive_ours "$pid"; then
			echo "$name: running, pid $pid, rss $(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$pid/status")"
		else
			echo "$name: NOT running (pid $pid)"
		fi
	done <"$D/run/pids"
	admin -s || return 1
	admin osd pool ls detail
}

# --- main -------------------------------------------------------------------

[ $# -ge 1 ] || usage
CMD=$1
shift
case $CMD in
install)
	do_install "$@"
	info "packages present"
	exit 0
	;;
start | stop | status) ;;
-h | --help | help) usage ;;
*) echo "$PROG: unknown command '$CMD'" >&2; usage ;;
esac

DIR="" OSDS=1 POOL=netblk PG=8 USERNAME=netblk MEMSTORE_MB=1024 MGR=0 TIMEOUT=180 NOINST=""
while [ $# -gt 0 ]; do
	case $1 in
	--osds) OSDS=${2:?}; shift ;;
	--pool) POOL=${2:?}; shift ;;
	--pg) PG=${2:?}; shift ;;
	--user) USERNAME=${2:?}; shift ;;
	--memstore-mb) MEMSTORE_MB=${2:?}; shift ;;
	--timeout) TIMEOUT=${2:?}; shift ;;
	--mgr) MGR=1 ;;
	--no-install) NOINST=--no-install ;;
	-*) echo "$PROG: unknown option '$1'" >&2; usage ;;
	*) [ -z "$DIR" ] || usage; DIR=$1 ;;
	esac
	shift
done
[ -n "$DIR" ] || usage
case $OSDS in [1-3]) ;; *) die "--osds must be 1..3" ;; esac
case $PG in '' | *[!0-9]* | 0) die "--pg must be a positive number" ;; esac
case $TIMEOUT in '' | *[!0-9]* | 0) die "--timeout must be a positive number of seconds" ;; esac
case $MEMSTORE_MB in '' | *[!0-9]* | 0) die "--memstore-mb must be a positive number" ;; esac
case $POOL in '' | *[!A-Za-z0-9_.-]*) die "bad pool name '$POOL'" ;; esac
case $USERNAME in '' | *[!A-Za-z0-9_.-]*) die "bad user name '$USERNAME'" ;; esac
MEMSTORE_BYTES=$((MEMSTORE_MB * 1024 * 1024))
D=$(abs_dir "$DIR")
D=${D%/}
case $D in '' | / | *[[:space:]]*) die "bad DIR '$DIR' (must not be / or contain blanks)" ;; esac
export D

case $CMD in
start)
	if [ "$MGR" = 1 ]; then do_install --mgr $NOINST; else do_install $NOINST; fi
	do_start
	;;
stop) do_stop ;;
status) do_status ;;
esac
