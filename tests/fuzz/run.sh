#!/bin/sh
# run.sh - build and run the HTTP parser fuzzer (make fuzz).
#   FUZZ_SECONDS  run time (default 60)
#   FUZZ_MAX_LEN  largest input tried (default 16384)
# Corpus and crash artifacts live in build-fuzz/.  A crash found makes this
# script fail; turn it into a row of tests/unit/http_cases.h.
set -eu
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-16384}
out=build-fuzz
mkdir -p "$out/corpus"

clang -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -iquote src -iquote . -o "$out/fuzz_http" tests/fuzz/fuzz_http.c src/http.c src/hex.c src/decimal.c
clang -std=c11 -O1 -Itests/unit -o "$out/seeds" tests/fuzz/seeds.c
"$out/seeds" "$out/corpus"

echo "fuzz: $FUZZ_SECONDS s, max_len $FUZZ_MAX_LEN, corpus $out/corpus"
exec "$out/fuzz_http" "$out/corpus" -dict=tests/fuzz/http.dict \
    -max_total_time="$FUZZ_SECONDS" -max_len="$FUZZ_MAX_LEN" \
    -artifact_prefix="$out/" -print_final_stats=1
