#!/bin/sh
# run-unit.sh BIN... - run criterion binaries, print one summary line, fail if any failed.
set -u
pass=0; fail=0; failed=""
for t in "$@"; do
    echo "== $t"
    if "$t" --jobs 2; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $t"; fi
done
echo "unit suites: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed suites:$failed"; exit 1; }
