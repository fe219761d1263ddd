#!/bin/bash
# netblk-tls-probe (bench/tls_probe.c) on the host: it moves the data and
# prints a figure for plain TCP and for OpenSSL sealing and opening records
# with both ciphers (its receiver checks every byte arrives as sent, so a
# figure means the stream was intact); kernel TLS gives a figure or says it
# is not available here (this host kernel may have no tls module); bad
# options exit 2 naming the option.
set -uo pipefail
bin=${NETBLK_BIN:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
probe=$bin/netblk-tls-probe
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# has_figure WAY CIPHER FILE: the line of WAY and CIPHER has a figure > 0
has_figure() {
	local f
	f=$(grep -F "$1" "$3" | grep -F "$2" |
		sed -n 's/.* \([0-9][0-9.]*\) MB\/s per CPU second .*/\1/p' | head -1)
	[ -n "$f" ] && awk -v f="$f" 'BEGIN { exit !(f > 0) }'
}

# refused ARGS... -- PATTERN: netblk-tls-probe ARGS exits 2 saying PATTERN
refused() {
	local args=() rc=0
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	"$probe" "${args[@]}" >/dev/null 2>"$tmp/err" || rc=$?
	if [ "$rc" != 2 ] || ! grep -qF -- "$2" "$tmp/err"; then
		fail "${args[*]}: exit $rc, '$(cat "$tmp/err")' (want 2 and '$2')"
	fi
}

for size in 131072 4096; do
	"$probe" --mib 4 --size "$size" >"$tmp/out" 2>"$tmp/err" ||
		fail "--size $size exited $?: $(cat "$tmp/err")"
	cat "$tmp/out"
	grep -q "^netblk-tls-probe: 4 MiB over loopback TCP, $size-byte writes" "$tmp/out" ||
		fail "--size $size: header missing: $(head -1 "$tmp/out")"
	has_figure "plain TCP" "" "$tmp/out" || fail "--size $size: no plain TCP figure"
	for c in ChaCha20-Poly1305 AES-128-GCM; do
		has_figure "user-space TLS records" "$c" "$tmp/out" ||
			fail "--size $size: no user-space $c figure"
		line=$(grep -F "kernel TLS" "$tmp/out" | grep -F "$c")
		case $line in
		*"MB/s per CPU second"* | *"not available here: TCP_ULP"*) ;;
		*) fail "--size $size: kernel TLS $c: neither a figure nor 'not available': '$line'" ;;
		esac
	done
done

refused --size 12 -- "--size '12'"
refused --mib 0 -- "--mib '0'"
refused --size 4k -- "--size '4k'"
refused extra -- "unexpected argument 'extra'"
echo "netblk-tls-probe: figures for every way it can run here, bad options refused"
