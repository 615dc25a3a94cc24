#!/bin/sh
# run.sh - build and run the fuzzers of every parser of peer input (make fuzz):
#   http      the HTTP/1.1 request head and chunked body parser (src/http.c)
#   protocol  the x-mte-relay header, seq, ids, personalization (src/protocol.c)
#   pair      the POST /api/mte-pair body (src/pair_body.c)
#   seal      sealed bodies (framing, chunk order, truncation), meta items and
#             their base64url text (src/crypto/seal.c, b64.c)
#   cluster   Redis Cluster replies: CLUSTER SLOTS, MOVED/ASK (src/store/cluster.c)
#   addr      TRUSTED_PROXIES blocks and the X-Forwarded-For walk (src/client_addr.c)
#   loadgen   the load generator's response-head parser (tests/bench/loadgen_http.c)
#   outbound  the partner relay's pairing answer and answer tags, as the
#             outbound mode reads them (src/pair_answer.c, src/answer.c)
# Each target is built with libFuzzer, ASan and UBSan and run in turn:
#   FUZZ_TARGETS  which ones (default all)
#   FUZZ_SECONDS  run time of each (default 60)
#   FUZZ_RUNS     executions of each instead (e.g. 10000000), when set
# Corpora and crash artifacts live in build-fuzz/.  A crash or a broken
# invariant makes this script fail; turn the input into a unit test row.
set -eu
cd "$(dirname "$0")/../.."
FUZZ_TARGETS=${FUZZ_TARGETS:-http protocol pair seal cluster addr loadgen outbound}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_RUNS=${FUZZ_RUNS:-}
out=build-fuzz
CC_FUZZ="clang -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -iquote src -iquote ."
CRYPTO="src/crypto/b64.c src/crypto/kdf.c src/crypto/mlkem.c src/crypto/rand.c src/crypto/seal.c \
    src/crypto/sha3.c src/crypto/wipe.c"
HELPERS="src/clientid.c src/decimal.c src/hex.c src/json.c src/log.c"

for t in $FUZZ_TARGETS; do
    case $t in
    http)     src="src/http.c src/hex.c src/decimal.c"; dict=tests/fuzz/http.dict; max=16384 ;;
    protocol) src="src/protocol.c $HELPERS $CRYPTO"; dict=; max=1024 ;;
    pair)     src="src/pair_body.c src/protocol.c $HELPERS $CRYPTO"; dict=; max=65536 ;;
    seal)     src="$CRYPTO src/log.c src/decimal.c src/json.c src/hex.c"; dict=; max=200000 ;;
    cluster)  src="src/store/cluster.c src/store/reply.c src/store/redis_url.c src/percent.c src/hex.c src/decimal.c src/crypto/wipe.c -lhiredis"; dict=; max=300000 ;;
    addr)     src="src/client_addr.c src/decimal.c src/hex.c"; dict=; max=4096 ;;
    outbound) src="src/pair_answer.c src/answer.c $HELPERS $CRYPTO -lcjson"; dict=; max=20000 ;;
    loadgen)  src="tests/bench/loadgen_http.c src/http.c src/hex.c src/decimal.c"; dict=tests/fuzz/http.dict; max=16384 ;;
    *) echo "fuzz: unknown target $t"; exit 2 ;;
    esac
    mkdir -p "$out/corpus-$t"
    # shellcheck disable=SC2086
    $CC_FUZZ -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" $src -lbearssl -lcjson
    if [ "$t" = http ]; then
        clang -std=c11 -O1 -Itests/unit -o "$out/seeds" tests/fuzz/seeds.c
        "$out/seeds" "$out/corpus-$t"
    fi
    if [ "$t" = outbound ]; then
        # a well-formed pairing answer of our pair id (zero bytes inside)
        printf '[{"pairId":"abcdefghijklmnopqrstuvwxyz012345","ciphertext":"%s","nonce":"%s","answerKey":"%s"}]' \
            "$(head -c 1494 /dev/zero | tr '\0' A)" "$(head -c 43 /dev/zero | tr '\0' A)" \
            "$(head -c 64 /dev/zero | tr '\0' A)" >"$out/corpus-$t/seed-answer"
    fi
    if [ "$t" = seal ]; then
        # bodies around the chunk size, so multi-chunk framing is explored
        # from the start: sealed and opened (1), damaged (6: flip, 2: cut)
        for mode in 1 6 2; do
            for n in 65535 65536 65537 131072 131100; do
                { printf "\\$(printf %o "$mode")"; head -c "$n" /dev/urandom; } \
                    >"$out/corpus-$t/seed-$mode-$n"
            done
        done
    fi
    if [ -n "$FUZZ_RUNS" ]; then limit="-runs=$FUZZ_RUNS"; else limit="-max_total_time=$FUZZ_SECONDS"; fi
    if [ -n "$FUZZ_RUNS" ]; then what="$FUZZ_RUNS runs"; else what="$FUZZ_SECONDS s"; fi
    echo "fuzz $t: $what, max_len $max, corpus $out/corpus-$t"
    rc=0
    "$out/fuzz_$t" "$out/corpus-$t" ${dict:+-dict=$dict} $limit -max_len="$max" \
        -artifact_prefix="$out/$t-" -print_final_stats=1 >"$out/fuzz_$t.log" 2>&1 || rc=$?
    tail -n 12 "$out/fuzz_$t.log"
    if [ "$rc" -ne 0 ]; then echo "fuzz $t: FAILED (exit $rc), see $out/fuzz_$t.log"; exit 1; fi
done
echo "fuzz: $FUZZ_TARGETS passed"
