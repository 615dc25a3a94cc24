#!/bin/sh
# bench-relay.sh - make bench-relay: the load generator (build/tests/bench/loadgen)
# against a fast upstream, nginx as a reverse proxy and the relay, in one run
# (tests/bench/bench-relay.mjs).  Its own setup: nginx from Debian (1.22 on
# Debian 12), installed here when missing (never by make test), as
# bench-capacity.sh does.  Figures only; nothing passes or fails on speed.
set -eu
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
	echo "bench-relay: installing nginx-light (Debian package)"
	if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
	$SUDO apt-get install -y --no-install-recommends nginx-light >/dev/null ||
	    { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends nginx-light >/dev/null; }
fi
exec node "$(dirname "$0")/bench-relay.mjs"
