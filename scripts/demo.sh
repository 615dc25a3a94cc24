#!/bin/sh
# demo.sh - run mte-relay in front of the demo upstream API and print the test
# page's URL; Ctrl-C (or SIGTERM) stops both.  `make demo` runs it after
# installing what is missing and building.
#
# Environment (all optional):
#   PORT           the relay's port (default 8080)
#   UPSTREAM_PORT  the demo upstream's port, on 127.0.0.1 (default 3000)
#   BIND           the relay's listening address (default 127.0.0.1; 0.0.0.0 or ::
#                  to reach it from other machines, then set DEMO_HOST too)
#   DEMO_HOST      the host name in the printed URL and CORS_ORIGINS (default localhost)
#   CORS_ORIGINS   more origins to allow, besides the relay's own
#   REDIS_URL      use this Redis instead of the embedded store
#   CLIENT_ID_SECRET  default: 32 fresh random bytes from /dev/urandom
# Every other mte-relay setting in the environment is passed on (see man/mte-relay.1).
set -eu
cd "$(dirname "$0")/.."

BIN=${MTE_RELAY_BIN:-build/mte-relay}
PORT=${PORT:-8080}
UPSTREAM_PORT=${UPSTREAM_PORT:-3000}
BIND=${BIND:-127.0.0.1}
DEMO_HOST=${DEMO_HOST:-localhost}

say() { printf '%s\n' "demo: $*"; }
die() { printf '%s\n' "demo: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "$BIN is missing: run 'make demo' (or 'make') first"
command -v node >/dev/null 2>&1 || die "node is missing: run 'make demo' to install it"
command -v curl >/dev/null 2>&1 || die "curl is missing: run 'make demo' to install it"
case $PORT in ''|*[!0-9]*) die "PORT must be a number, got '$PORT'";; esac
case $UPSTREAM_PORT in ''|*[!0-9]*) die "UPSTREAM_PORT must be a number, got '$UPSTREAM_PORT'";; esac
[ "$PORT" != "$UPSTREAM_PORT" ] || die "PORT and UPSTREAM_PORT must differ"

if [ -z "${CLIENT_ID_SECRET:-}" ]; then
    CLIENT_ID_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
fi
# The relay's own origin, under both local names, so the page it serves works.
own="http://$DEMO_HOST:$PORT"
origins="$own"
[ "$DEMO_HOST" = localhost ] && origins="$origins,http://127.0.0.1:$PORT"
CORS_ORIGINS="$origins${CORS_ORIGINS:+,$CORS_ORIGINS}"

upstream_pid=""
relay_pid=""
stopping=0
stop_all() {
    # Stop the relay first (it drains in-flight requests), then the upstream.
    for pid in $relay_pid $upstream_pid; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $relay_pid $upstream_pid; do
        wait "$pid" 2>/dev/null || true
    done
    relay_pid=""
    upstream_pid=""
}
on_signal() {
    [ "$stopping" -eq 0 ] || return 0
    stopping=1
    say "stopping the relay and the demo upstream"
    stop_all
    say "stopped"
    exit 0
}
trap on_signal INT TERM
trap stop_all EXIT

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# Polls url until it answers (the services log their own readiness too).
wait_http() {
    url=$1 pid=$2 what=$3 tries=0
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        alive "$pid" || die "$what exited during start-up (see its messages above)"
        tries=$((tries + 1))
        [ "$tries" -lt 150 ] || die "$what did not answer at $url within 15 seconds"
        sleep 0.1
    done
    # Something else may answer on a port that was taken: ours must still run.
    alive "$pid" || die "$what exited during start-up (see its messages above)"
}

node demo/upstream.mjs --port "$UPSTREAM_PORT" --host 127.0.0.1 &
upstream_pid=$!
wait_http "http://127.0.0.1:$UPSTREAM_PORT/" "$upstream_pid" "the demo upstream"

if [ -n "${REDIS_URL:-}" ]; then
    store="Redis (REDIS_URL)"
else
    store="embedded (this instance only)"
fi
UPSTREAM="http://127.0.0.1:$UPSTREAM_PORT" CORS_ORIGINS="$CORS_ORIGINS" \
    CLIENT_ID_SECRET="$CLIENT_ID_SECRET" PORT="$PORT" BIND="$BIND" "$BIN" &
relay_pid=$!
case $BIND in *:*) probe_host="[::1]";; 0.0.0.0) probe_host=127.0.0.1;; *) probe_host=$BIND;; esac
wait_http "http://$probe_host:$PORT/api/mte-echo/demo" "$relay_pid" "the relay"

cat <<EOF

  mte-relay demo is running

    test page   $own/public/relay-test.html
    relay       $own  (store: $store)
    upstream    http://127.0.0.1:$UPSTREAM_PORT  (demo API: /api/login, /api/upload, /api/echo)
    CORS        $CORS_ORIGINS

  Open the test page, then run the Login and File Upload demos.
  Press Ctrl-C to stop.

EOF

# Wait until a signal arrives or one of the two exits (then stop the other).
while alive "$relay_pid" && alive "$upstream_pid"; do
    sleep 1 &
    wait $! 2>/dev/null || true
done
if ! alive "$relay_pid"; then
    wait "$relay_pid" 2>/dev/null && code=0 || code=$?
    relay_pid=""
    # Status 0: it was stopped by a signal of its own (a Ctrl-C this shell
    # could not trap, say), and drained cleanly.
    say "the relay exited (status $code); stopping the demo upstream"
    stop_all
    [ "$code" -eq 0 ] && exit 0
    exit 1
fi
upstream_pid=""
say "the demo upstream exited; stopping the relay"
stop_all
exit 1
