#!/bin/sh
# bench-crypto.sh - crypto figures next to OpenSSL's (make bench-crypto).
#
# Prints X-Wing, ML-KEM, X25519, key schedule and sealing figures from
# tests/tools/bench_crypto; then our sealing throughput and `openssl speed
# -evp aes-256-gcm` at 1 KiB and 64 KiB, measured alternately ROUNDS times,
# best of each (other work on the machine only ever slows a run down), with
# the ratio; then the X-Wing and X25519 figures, best of ROUNDS more runs, our
# X25519 (ladder, fixed base, both at once) against BearSSL's
# br_ec_c25519_m31 measured in the same runs.  Every figure is one
# thread, i.e. one core, per second of CPU time (openssl speed's default
# divisor; ours uses the same).  Figures only: nothing passes or fails on speed.
#   BENCH_SECONDS    time per figure of ours (default 0.5)
#   OPENSSL_SECONDS  time per openssl speed run (default 1)
#   ROUNDS           alternations for the comparison (default 3)
set -eu

BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-0.5}
OSSL_SECS=${OPENSSL_SECONDS:-1}
ROUNDS=${ROUNDS:-3}
tool=$BUILD/tests/tools/bench_crypto

${MAKE:-make} --no-print-directory "$tool" >/dev/null

out=$("$tool" "$SECS")
echo "== mte-relay crypto (one thread, ${SECS}s per figure)"
echo "$out"

# openssl speed reports units of 1000 bytes/s, e.g. "AES-256-GCM  4648239.10k".
ossl_mbs() {
	openssl speed -evp aes-256-gcm -bytes "$1" -seconds "$OSSL_SECS" 2>/dev/null |
		awk '/^AES-256-GCM/ { v = $NF; sub(/k$/, "", v); printf "%.1f", v / 1000 }'
}
ours_mbs() {
	"$tool" seal "$1" "$SECS" | awk '{ print $2 }'
}
max() {
	awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'
}

echo
echo "== sealing vs OpenSSL $(openssl version | awk '{print $2}') AES-256-GCM," \
     "best of $ROUNDS alternating runs"
printf '%-8s %12s %14s %8s\n' bytes "ours MB/s" "openssl MB/s" ratio
for size in 1024 65536; do
	o=0; m=0; i=0
	while [ "$i" -lt "$ROUNDS" ]; do
		m=$(max "$m" "$(ours_mbs "$size")")
		o=$(max "$o" "$(ossl_mbs "$size")")
		i=$((i + 1))
	done
	ratio=$(awk -v a="$m" -v b="$o" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')
	printf '%-8s %12s %14s %8s\n' "$size" "$m" "$o" "$ratio"
done

# KEM figures: the kem subset ROUNDS more times, best of each figure (the
# full run above included), as for the sealing comparison.
kem="$out"
i=0
while [ "$i" -lt "$ROUNDS" ]; do
	kem="$kem
$("$tool" kem "$SECS")"
	i=$((i + 1))
done
fig() {
	echo "$kem" | awk -v n="$1" '$1 == n && $2 + 0 > best { best = $2 + 0 } END { print best + 0 }'
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'
}
m31=$(fig x25519_bearssl_m31)
echo
echo "== X-Wing and X25519 ops/s (one thread), best of $((ROUNDS + 1)) runs;" \
     "X25519 ours vs BearSSL br_ec_c25519_m31 in the same runs"
printf '%-28s %12s %8s\n' figure "ops/s" "vs m31"
printf '%-28s %12s\n' "X-Wing encaps" "$(fig xwing_encaps)"
printf '%-28s %12s\n' "X-Wing decaps" "$(fig xwing_decaps)"
printf '%-28s %12s\n' "ML-KEM-768 encaps alone" "$(fig mlkem768_encaps)"
printf '%-28s %12s %8s\n' "X25519 ours, ladder" "$(fig x25519_ladder)" "$(ratio "$(fig x25519_ladder)" "$m31")"
printf '%-28s %12s %8s\n' "X25519 ours, fixed base" "$(fig x25519_base)" "$(ratio "$(fig x25519_base)" "$m31")"
printf '%-28s %12s %8s\n' "X25519 ours, both at once" "$(fig x25519_pub_and_shared)" "$(ratio "$(fig x25519_pub_and_shared)" "$m31")"
printf '%-28s %12s %8s\n' "X25519 BearSSL m31" "$m31" "1.00x"

encaps=$(fig xwing_encaps)
echo
echo "targets: xwing_encaps >= 10000 ops/s (best measured ${encaps:-n/a});" \
     "64 KiB sealing >= 0.50x OpenSSL (ratio above)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
