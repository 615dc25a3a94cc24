#!/bin/sh
# setup.sh - install what the build and the tests need, idempotently.
# Called by `make test` and `make demo`.  Debian 12; run as root or with sudo.
set -eu

# Build: compiler, libraries.  Tests: criterion, redis, valgrind, openssl,
# groff (man page lint), clang + compiler-rt (fuzzer).  Browser tests: chromium
# (driven by playwright-core; never a downloaded browser), fonts for screenshots.
# Deployment tests: systemd (systemd-analyze verify of deploy/mte-relay.service;
# installing the package starts nothing in a container).
# Static build (make static, scripts/static-deps.sh): apt-get source, autoreconf,
# OpenSSL's static archives.  Container test (make test-container): podman, runc.
PKGS="build-essential pkg-config ca-certificates openssl
libbearssl-dev libhiredis-dev libcurl4-openssl-dev libcjson-dev
libcriterion-dev redis-server valgrind groff-base man-db
clang libclang-rt-14-dev procps curl
chromium fonts-liberation
systemd
dpkg-dev autoconf automake libtool file libssl-dev
podman runc"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
# Node.js >= 20 may come from elsewhere than Debian; only install it when absent.
if ! command -v node >/dev/null 2>&1; then missing="$missing nodejs npm"; fi

if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# npm packages from the committed lockfile; reinstall only when it changed.
if [ -f package-lock.json ]; then
    stamp=node_modules/.lock-stamp
    if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
        npm ci --no-audit --no-fund --loglevel=error
        cp package-lock.json "$stamp"
    fi
fi
