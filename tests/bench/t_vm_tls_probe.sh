#!/bin/bash
# netblk-tls-probe in the test VM, whose kernel has the tls module: the
# kernel TLS way runs for both ciphers (TLS_TX on one end, TLS_RX on the
# other; the receiver checks every byte) and prints a figure beside
# OpenSSL's, as the benchmark's guest part does.
# shellcheck source=tests/vm/guest-lib.sh
. "$NETBLK_SRC/tests/vm/guest-lib.sh"

ip link set lo up
modprobe tls || fail "modprobe tls failed"
modprobe aesni_intel || log "no aesni_intel module: the kernel uses generic AES"
grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp ||
	fail "tls not in tcp_available_ulp: $(cat /proc/sys/net/ipv4/tcp_available_ulp)"
for size in 131072 4096; do
	out=$NETBLK_OUT/probe-$size.txt
	"$NETBLK_BIN/netblk-tls-probe" --mib 2 --size "$size" >"$out" 2>&1 ||
		fail "netblk-tls-probe --size $size exited $?: $(tail -3 "$out")"
	cat "$out"
	for way in "user-space TLS records" "kernel TLS"; do
		for c in ChaCha20-Poly1305 AES-128-GCM; do
			grep -F "$way" "$out" | grep -F "$c" | grep -Eq ' [0-9.]+ MB/s per CPU second' ||
				fail "--size $size: no figure for $way $c: $(grep -F "$way" "$out" | grep -F "$c")"
		done
	done
done
check_dmesg_clean
log "kernel TLS and OpenSSL record streams measured"
