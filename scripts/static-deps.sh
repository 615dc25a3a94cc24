#!/bin/sh
# static-deps.sh - the two libraries of the static link that Debian 12 ships
# no usable archive for, built from Debian's own source packages:
#
#   cJSON    libcjson-dev has libcjson.so only.
#   libcurl  libcurl4-openssl-dev's libcurl.a needs GSSAPI (MIT Kerberos has
#            no archives), LDAP, IDN, PSL, SSH, RTMP, nghttp2, brotli, zstd;
#            this one is HTTP/HTTPS only, TLS through Debian's static OpenSSL.
#
# The versions are pinned below: the ones installed as the -dev packages, so
# the objects compiled against their headers match.  `apt-get source` fetches
# them through the machine's apt sources (it checks every file against the
# signed Sources index; unauthenticated sources are never allowed); a deb-src
# entry mirroring the machine's deb entries is added when none serves them.
# Each library is installed into build/static-deps/<pkg>-<version>/ (include/,
# lib/) with a stamp of its version and recipe, and rebuilt only when those
# change.  BearSSL, hiredis, OpenSSL and glibc come as archives from their
# Debian -dev packages.
#
# Prints, on stdout only, the two directories for scripts/static.sh:
#   CJSON_DIR='...'  CURL_DIR='...'
# Progress goes to stderr; build logs to build/static-deps/<pkg>-<version>.log.
# Inputs: BUILD (build), CC (cc).  Needs root (or sudo) for apt.
set -eu

CJSON_PIN=1.7.15-1+deb12u4
CURL_PIN=7.88.1-10+deb12u15

BUILD=${BUILD:-build}
CC=${CC:-cc}
DEPS=$(mkdir -p "$BUILD/static-deps" && cd "$BUILD/static-deps" && pwd)
JOBS=$(nproc 2>/dev/null || echo 2)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { echo "static-deps: $*" >&2; }
die() { say "$*"; exit 1; }

# What building needs: apt-get source/dpkg-source (dpkg-dev), autoreconf
# (curl's Debian patches touch configure.ac, Debian's rules run buildconf),
# the static archives of OpenSSL, BearSSL and hiredis, and file(1) for the check.
PKGS="build-essential dpkg-dev autoconf automake libtool file
libssl-dev libbearssl-dev libhiredis-dev libcurl4-openssl-dev libcjson-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "installing:$missing"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 \
        install -y -qq --no-install-recommends $missing >&2
fi

# ---- sources ----

SRC_LIST=/etc/apt/sources.list.d/debian-src.sources

has_source() {   # package version
    apt-cache showsrc --only-source "$1" 2>/dev/null | grep -qx "Version: $2"
}

# A deb-src twin of every Debian deb entry the machine uses (same mirrors,
# suites, components and signing key): deb822 debian.sources on Debian 12
# images, or the one-line sources.list of older installs.
add_deb_src() {
    tmp=$(mktemp)
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        # Paragraph by paragraph (mawk): a stanza of Types "deb" becomes "deb-src".
        awk 'BEGIN { RS = ""; FS = "\n" }
             { deb = 0; out = ""
               for (i = 1; i <= NF; i++) {
                   if ($i ~ /^Types:/) {
                       if ((" " substr($i, 7) " ") ~ /[ \t]deb[ \t]/) deb = 1
                       $i = "Types: deb-src"
                   }
                   if ($i !~ /^#/) out = out $i "\n"
               }
               if (deb) printf "%s\n", out }' \
            /etc/apt/sources.list.d/debian.sources >"$tmp"
    elif [ -f /etc/apt/sources.list ]; then
        SRC_LIST=/etc/apt/sources.list.d/debian-src.list
        sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list >"$tmp"
    fi
    [ -s "$tmp" ] || { rm -f "$tmp"; die "no Debian deb entries in /etc/apt/sources.list* to mirror as deb-src"; }
    { echo "# deb-src twins of the Debian entries, for mte-relay's scripts/static-deps.sh"
      cat "$tmp"; } | $SUDO tee "$SRC_LIST" >/dev/null
    rm -f "$tmp"
    say "added $SRC_LIST; apt-get update"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
}

# The version to build: the pin, or -- when the archive has moved past it (a
# Debian point release or security update replaced it) -- the version of the
# installed -dev package, which is then what the objects were compiled against.
pick_version() {   # source-package pin dev-package
    if ! has_source "$1" "$2"; then
        if [ -f "$SRC_LIST" ] || [ -f "${SRC_LIST%.sources}.list" ]; then
            say "apt-get update (the source index lacks $1 $2)"
            $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
        else
            add_deb_src
        fi
    fi
    if has_source "$1" "$2"; then
        echo "$2"
        return
    fi
    inst=$(dpkg-query -W -f='${source:Version}' "$3" 2>/dev/null || true)
    if [ -n "$inst" ] && has_source "$1" "$inst"; then
        say "WARNING: $1 $2 is no longer in the archive; building the installed $3's $inst (update the pin in scripts/static-deps.sh)"
        echo "$inst"
        return
    fi
    die "$1 $2 is not in any apt source (apt-cache showsrc $1); update the pin in scripts/static-deps.sh"
}

# Fetches and unpacks pkg=version (Debian's patches applied) into an empty
# work directory; prints the source tree's path.
fetch() {   # package version workdir
    rm -rf "$3"
    mkdir -p "$3"
    # apt downloads as _apt when it may write there (its sandbox).
    if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$3"; fi
    (cd "$3" && apt-get source -q "$1=$2") >&2 || { echo "apt-get source $1=$2 failed" >&2; return 1; }
    tree=$(find "$3" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    if [ -z "$tree" ] || [ ! -d "$tree/debian" ]; then
        echo "apt-get source $1=$2 unpacked nothing" >&2
        return 1
    fi
    echo "$tree"
}

# In a build function (whose output is its log): report and fail.
fail() { echo "static-deps: $*"; return 1; }

# Debian's hardening flags, as its own builds of these packages use.
deb_flags() { DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$1"; }

# ---- cJSON: one file, as Debian's CMake build compiles it ----

cjson_recipe() {
    echo "cc -std=c89 $(deb_flags CPPFLAGS) $(deb_flags CFLAGS | sed 's/-ffile-prefix-map=[^ ]*//') -c cJSON.c"
}

build_cjson() {   # version outdir
    work="$DEPS/work-cjson"
    tree=$(fetch cjson "$1" "$work") || return 1
    mkdir -p "$2/include/cjson" "$2/lib"
    # shellcheck disable=SC2046  # the flag lists are split on purpose
    (cd "$tree" &&
     $CC -std=c89 $(deb_flags CPPFLAGS) $(deb_flags CFLAGS) -c -o cJSON.o cJSON.c &&
     ar rcs "$2/lib/libcjson.a" cJSON.o &&
     cp cJSON.h "$2/include/cjson/cJSON.h") || return 1
    rm -rf "$work"
}

# ---- libcurl: HTTP/1.1 and HTTPS only ----
# Kept: HTTP (1.1; the relay asks for nothing else), OpenSSL (TLS 1.2 and 1.3
# for https:// upstreams), the threaded resolver over glibc's getaddrinfo,
# IPv6, proxies (the http_proxy/https_proxy/no_proxy variables work as with
# Debian's libcurl), basic/digest auth (for a proxy).  The CA bundle is the
# system one; upstream.c sets it (UPSTREAM_CA_FILE) and no CA directory.
# OpenSSL does not read openssl.cnf: the binary needs no file but the bundle.
CURL_CONFIGURE="--disable-shared --enable-static --disable-dependency-tracking
--with-openssl --disable-openssl-auto-load-config
--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path --without-ca-fallback
--enable-http --enable-ipv6 --enable-threaded-resolver --disable-ares
--disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp
--disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap
--disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-websockets
--disable-manual --disable-libcurl-option --disable-ntlm --disable-ntlm-wb
--disable-tls-srp --disable-cookies --disable-doh --disable-mime --disable-netrc
--disable-alt-svc --disable-hsts --disable-versioned-symbols
--without-zlib --without-brotli --without-zstd --without-libpsl --without-libgsasl
--without-libssh2 --without-libssh --without-librtmp --without-libidn2
--without-nghttp2 --without-ngtcp2 --without-nghttp3 --without-quiche --without-msh3
--without-gssapi --without-hyper --without-zsh-functions-dir --without-fish-functions-dir"

curl_recipe() {
    echo "revert 99_nss 90_gnutls; autoreconf -fi; configure $CURL_CONFIGURE" \
        "CPPFLAGS=$(deb_flags CPPFLAGS) CFLAGS=$(deb_flags CFLAGS | sed 's/-ffile-prefix-map=[^ ]*//')"
}

build_curl() {   # version outdir
    work="$DEPS/work-curl"
    tree=$(fetch curl "$1" "$work") || return 1
    # Debian's OpenSSL flavour: its rules pop the last two patches (which
    # rename the library for the GnuTLS and NSS flavours), then run buildconf.
    series="$tree/debian/patches/series"
    [ "$(grep -v '^[[:space:]]*#' "$series" | grep . | tail -n 2 | tr '\n' ' ')" = "90_gnutls.patch 99_nss.patch " ] ||
        { fail "curl $1: the last patches are not 90_gnutls 99_nss; check debian/rules"; return 1; }
    # shellcheck disable=SC2086  # the option list is split on purpose
    (cd "$tree" &&
     patch -R -s -p1 <debian/patches/99_nss.patch &&
     patch -R -s -p1 <debian/patches/90_gnutls.patch &&
     autoreconf -fi &&
     ./configure --prefix="$2" $CURL_CONFIGURE CC="$CC" \
         CPPFLAGS="$(deb_flags CPPFLAGS)" CFLAGS="$(deb_flags CFLAGS)" &&
     make -j"$JOBS" -C lib &&
     make -C lib install &&
     make -C include install) || return 1
    # What it was configured with, from the build itself.
    grep -q '^#define USE_OPENSSL 1' "$tree/lib/curl_config.h" || { fail "curl $1: built without OpenSSL"; return 1; }
    if grep -E '^#define (USE_NGHTTP2|HAVE_LIBZ|USE_LIBPSL|HAVE_GSSAPI|USE_LIBSSH2|USE_LIBIDN2|USE_LIBRTMP|HAVE_BROTLI|HAVE_ZSTD) 1' \
        "$tree/lib/curl_config.h"; then
        fail "curl $1: an unwanted feature was enabled"
        return 1
    fi
    rm -rf "$work"
}

# ---- cache ----

# Builds pkg into $DEPS/pkg-version unless its stamp says it is there; prints the dir.
ensure() {   # package version recipe
    out="$DEPS/$1-$2"
    stamp="$1 $2 $(printf '%s' "$3" | sha256sum | cut -c1-16)"
    if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ] && [ -f "$out/lib/lib$1.a" ]; then
        say "$1 $2: cached ($out)"
        echo "$out"
        return
    fi
    say "$1 $2: building from Debian's source package (log: $out.log)"
    rm -rf "$out"
    mkdir -p "$out"
    start=$(date +%s)
    if ! "build_$1" "$2" "$out" >"$out.log" 2>&1; then
        tail -n 30 "$out.log" >&2
        rm -rf "$out"
        die "$1 $2: build failed (log: $out.log)"
    fi
    [ -f "$out/lib/lib$1.a" ] || die "$1 $2: no lib$1.a was installed (log: $out.log)"
    echo "$stamp" >"$out/.stamp"
    say "$1 $2: built in $(($(date +%s) - start)) s"
    echo "$out"
}

v=$(pick_version cjson "$CJSON_PIN" libcjson-dev)
cjson_dir=$(ensure cjson "$v" "$(cjson_recipe)")
v=$(pick_version curl "$CURL_PIN" libcurl4-openssl-dev)
curl_dir=$(ensure curl "$v" "$(curl_recipe)")
printf "CJSON_DIR='%s'\nCURL_DIR='%s'\n" "$cjson_dir" "$curl_dir"
