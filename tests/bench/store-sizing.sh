#!/bin/sh
# store-sizing.sh - Redis memory per client, measured (docs/OPERATIONS.md).
#
# Starts a private redis-server (no persistence, free port), fills it through
# the relay's own store code (tests/bench/store_sizing.c: store_pair_put and
# store_window_accept, the calls pairing and protected requests make), and
# reports the growth of INFO memory used_memory, and MEMORY USAGE of one pair
# key and one client index, for a few shapes of use.  Figures only.
#   CLIENTS   clients per scenario (default 1000)
set -eu

BUILD=${BUILD:-build}
CLIENTS=${CLIENTS:-1000}
tool=$BUILD/tests/bench/store_sizing

${MAKE:-make} --no-print-directory "$BUILD/libmterelay.a" >/dev/null
mkdir -p "$(dirname "$tool")"
${CC:-cc} -std=c11 -D_GNU_SOURCE -DMTE_RELAY_VERSION='"bench"' -Isrc -I. -O2 \
    -o "$tool" tests/bench/store_sizing.c "$BUILD/libmterelay.a" \
    -lbearssl -lhiredis -lcurl -lcjson

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    >"$dir/redis.log" 2>&1 &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
cli() { redis-cli -p "$port" "$@"; }
i=0
until [ "$(cli PING 2>/dev/null)" = PONG ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "redis-server did not start" >&2; exit 1; }
    sleep 0.1
done
used() { cli INFO memory | awk -F: '/^used_memory:/ { print $2 + 0 }'; }

echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), $CLIENTS clients per row"
# A first run loads the Lua scripts and warms the allocator; not reported.
"$tool" "redis://127.0.0.1:$port" 50 2 10 1024 >/dev/null
printf '%-44s %8s %12s %12s %9s %9s %s\n' scenario keys "bytes/client" "MiB/1000 cl" "pair key" "index" "pair encoding"
# clients-pairs-requests-window
for s in "1 0 1024" "1 100 1024" "5 100 1024" "64 10 1024" "1 100 512" "1 100 65536"; do
    set -- $s
    pairs=$1 reqs=$2 w=$3
    cli FLUSHALL >/dev/null
    sleep 0.2                                   # lazy frees settle
    before=$(used)
    "$tool" "redis://127.0.0.1:$port" "$CLIENTS" "$pairs" "$reqs" "$w" >/dev/null
    after=$(used)
    keys=$(cli DBSIZE)
    pk=$(cli --scan --pattern 'mte:*:p:*' | head -n 1)
    ik=$(cli --scan --pattern 'mte:*:pairs' | head -n 1)
    pkb=$(cli MEMORY USAGE "$pk" SAMPLES 0)
    ikb=$(cli MEMORY USAGE "$ik" SAMPLES 0)
    per=$(( (after - before) / CLIENTS ))
    printf '%-44s %8s %12s %12s %9s %9s %s\n' \
        "$pairs pair(s), $reqs requests each, window $w" "$keys" "$per" \
        "$(awk -v b="$per" 'BEGIN { printf "%.2f", b * 1000 / 1048576 }')" "$pkb" "$ikb" \
        "$(cli OBJECT ENCODING "$pk")"
done
echo "pair key: MEMORY USAGE of one mte:{SID:CID}:p:PID hash; index key: of one mte:{SID:CID}:pairs"
