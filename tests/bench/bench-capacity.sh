#!/bin/sh
# bench-capacity.sh - make bench-capacity: the relay's capacity at real API
# latency next to nginx, in one run (tests/bench/bench-capacity.mjs).
# Its own setup: nginx and wrk from Debian, installed here when missing
# (never by make test).  Figures only; nothing passes or fails on speed.
set -eu
need=""
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need="$need nginx-light"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
if [ -n "$need" ]; then
	echo "bench-capacity: installing$need (Debian packages)"
	if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
	$SUDO apt-get install -y --no-install-recommends $need >/dev/null ||
	    { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends $need >/dev/null; }
fi
exec node "$(dirname "$0")/bench-capacity.mjs"
