#!/bin/sh
# static.sh - `make static`: build/static/mte-relay, one fully static,
# stripped executable (glibc, OpenSSL, libcurl, BearSSL, hiredis, cJSON all
# inside); it needs no file on the host but the CA bundle
# (/etc/ssl/certs/ca-certificates.crt, or UPSTREAM_CA_FILE / REDIS_CA_FILE).
#
#   cJSON and libcurl: built from Debian's source packages by
#     scripts/static-deps.sh (cached in build/static-deps/).
#   OpenSSL (libssl-dev), BearSSL (libbearssl-dev), hiredis (libhiredis-dev),
#     glibc (libc6-dev): Debian's own static archives.
#
# Fails (exit 1) unless the result is statically linked and runs.
# Inputs (from the Makefile): BUILD (build), CC (cc).
set -eu

BUILD=${BUILD:-build}
CC=${CC:-cc}
OUT=$BUILD/static
BIN=$OUT/mte-relay
LOG=$OUT/link.log
mkdir -p "$OUT"

objs="$BUILD/main.o $BUILD/libmterelay.a"
for o in $objs; do
    [ -f "$o" ] || { echo "static: $o is missing; run make first" >&2; exit 1; }
done

CJSON_DIR="" CURL_DIR=""
eval "$(BUILD=$BUILD CC=$CC sh scripts/static-deps.sh)"
if [ -z "$CJSON_DIR" ] || [ -z "$CURL_DIR" ]; then
    echo "static: static-deps.sh gave no libraries" >&2
    exit 1
fi

# The static binary's own NSS setting (src/static/nss_builtin.c): only the
# sources inside libc.a, never a dlopen()ed libnss_*.so of the host.
nss_obj=$OUT/nss_builtin.o
$CC -std=c11 -O2 -Wall -Wextra -Werror -c -o "$nss_obj" src/static/nss_builtin.c
objs="$objs $nss_obj"

# libcurl needs OpenSSL; OpenSSL's libcrypto needs dlopen (engines, never
# loaded here) and threads, both in glibc's libc.a.
libs="$CURL_DIR/lib/libcurl.a -lssl -lcrypto $CJSON_DIR/lib/libcjson.a -lbearssl -lhiredis -pthread -ldl -lm"
echo "static: linking $BIN"
# shellcheck disable=SC2086  # word splitting of the lists is intended
if ! $CC -static -o "$BIN" $objs $libs >"$LOG" 2>&1; then
    sed 's/^/static:   /' "$LOG" | head -n 30 >&2
    echo "static: the link failed (full output: $LOG)" >&2
    exit 1
fi
strip "$BIN"

kind=$(file -b "$BIN")
case "$kind" in
*"statically linked"*) ;;
*) echo "static: $BIN is not statically linked: $kind" >&2; exit 1 ;;
esac
if ldd_out=$(ldd "$BIN" 2>&1) || ! echo "$ldd_out" | grep -q "not a dynamic executable"; then
    echo "static: ldd lists shared libraries for $BIN: $ldd_out" >&2
    exit 1
fi
version=$("$BIN" --version)

bytes=$(stat -c %s "$BIN")
echo "static: $BIN: $version, $kind"
echo "static:   ldd: $(echo "$ldd_out" | sed 's/^[[:space:]]*//')"
echo "static:   size: $bytes bytes ($(awk "BEGIN { printf \"%.1f\", $bytes / 1048576 }") MiB), stripped"
echo "static:   libcurl $(basename "$CURL_DIR" | sed 's/^curl-//') (Debian source, HTTP/1.1 + OpenSSL), cJSON $(basename "$CJSON_DIR" | sed 's/^cjson-//') (Debian source),"
echo "static:   OpenSSL $(dpkg-query -W -f='${Version}' libssl-dev), BearSSL $(dpkg-query -W -f='${Version}' libbearssl-dev), hiredis $(dpkg-query -W -f='${Version}' libhiredis-dev), glibc $(dpkg-query -W -f='${Version}' libc6-dev) (Debian archives)"
# glibc warns about every NSS call in a static program: they would need the
# host's libnss_*.so for sources outside libc.a.  Since glibc 2.34 "files" and
# "dns" are inside, and nss_builtin.c pins hosts, passwd and group to them
# (tests/node/static.test.mjs resolves a name from /etc/hosts; ops.test.mjs
# looks up a missing RUN_AS user).  dlopen: OpenSSL's engines, never loaded.
if grep -q "statically linked applications requires at runtime" "$LOG"; then
    echo "static:   note: glibc's link-time warnings for $(grep -o "Using '[a-z_]*'" "$LOG" | sort -u | sed "s/Using //" | tr -d "'" | tr '\n' ' ')"
    echo "static:   do not apply: NSS is pinned to the files and dns sources inside libc.a"
    echo "static:   (src/static/nss_builtin.c) and OpenSSL loads no engine; see scripts/static.sh."
fi
