#!/bin/sh
# run-node-tests.sh - integration tests (node:test) against build/mte-relay.
set -eu
files=$(ls tests/node/*.test.mjs 2>/dev/null || true)
if [ -z "$files" ]; then echo "no integration tests found"; exit 1; fi
exec node --test --test-concurrency=1 $files
