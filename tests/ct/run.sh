#!/bin/sh
# run.sh BIN... - constant-time checks: run each program under valgrind memcheck,
# where any branch, move or address that depends on a value marked undefined
# (a secret) is an error; print one summary line, fail if any program failed.
set -u
if ! command -v valgrind >/dev/null 2>&1; then
    echo "test-ct: valgrind not found (scripts/setup.sh installs it)"; exit 1
fi
pass=0; fail=0; failed=""
for t in "$@"; do
    echo "== valgrind $t"
    if valgrind -q --error-exitcode=99 --track-origins=yes "$t"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1)); failed="$failed $t"
    fi
done
echo "ct checks: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
