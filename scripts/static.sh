#!/bin/sh
# static.sh - `make static`: try to link build/mte-relay fully statically and
# report honestly what worked.  Always exits 0 (it is a report, not a gate),
# except when the ordinary objects cannot be built at all.
#
#   1. cc -static with every library libcurl, hiredis, cJSON and BearSSL pull
#      in (pkg-config --static).  Success: build/static/mte-relay, no shared
#      library needed.
#   2. Otherwise: names each library that has no static archive (lib*.a)
#      installed, and links build/static/mte-relay-partial instead, with the
#      libraries that are self-contained archives (BearSSL, hiredis) inside
#      and the rest shared, and lists what it still needs at run time.
#
# Inputs (from the Makefile): BUILD (build), CC (cc).
set -u

BUILD=${BUILD:-build}
CC=${CC:-cc}
OUT=$BUILD/static
LOG=$OUT/link.log
mkdir -p "$OUT"

objs="$BUILD/main.o $BUILD/libmterelay.a"
for o in $objs; do
    if [ ! -f "$o" ]; then
        echo "static: $o is missing; run make first" >&2
        exit 1
    fi
done

# Every library of the full static link, in link order, without duplicates
# next to each other (pkg-config repeats some).
libs="-lbearssl $(pkg-config --static --libs hiredis libcjson libcurl 2>/dev/null)"
case "$libs" in
*-lcurl*) ;;
*) libs="-lbearssl -lhiredis -lcjson -lcurl -lm" ;;     # no .pc files: the direct ones
esac

# The linker stops at the first library it cannot find, so look for every
# archive first.
no_archive=""
for f in $libs; do
    case "$f" in
    -l*)
        n=${f#-l}
        if [ "$($CC -print-file-name="lib$n.a")" = "lib$n.a" ]; then
            case " $no_archive " in *" $n "*) ;; *) no_archive="$no_archive $n" ;; esac
        fi
        ;;
    esac
done

echo "static: linking $OUT/mte-relay with -static"
echo "static: libraries: $libs"
# shellcheck disable=SC2086  # word splitting of the library list is intended
if $CC -static -o "$OUT/mte-relay" $objs $libs >"$LOG" 2>&1; then
    echo
    echo "static: SUCCESS: $OUT/mte-relay is fully static."
    file "$OUT/mte-relay" 2>/dev/null | sed 's/^/static:   /'
    "$OUT/mte-relay" --version | sed 's/^/static:   /'
    if grep -q "statically linked applications requires at runtime" "$LOG"; then
        echo "static: CAVEAT: glibc still loads its NSS modules at run time for these calls:"
        grep -o "'[a-z_]*' in statically linked" "$LOG" | sort -u | sed "s/ in statically linked//; s/^/static:   /"
        echo "static:   (user and host name look-ups need the host's glibc of the same version)"
    fi
    echo "static: summary: fully static: YES ($OUT/mte-relay)"
    exit 0
fi

rm -f "$OUT/mte-relay"
echo
echo "static: a FULLY STATIC link is NOT possible with the installed packages."
missing=$( (for l in $no_archive; do echo "$l"; done
            grep -o "cannot find -l[A-Za-z0-9_+.-]*" "$LOG" | sed 's/cannot find -l//') | sort -u)
if [ -n "$missing" ]; then
    echo "static: no static archive (lib*.a) for these libraries (and the linker would"
    echo "static: then need their own dependencies, e.g. krb5, sasl2, unistring):"
    for l in $missing; do
        owner=""
        for so in /usr/lib/*-linux-gnu/lib"$l".so* /usr/lib/*-linux-gnu/lib"$l"-*.so*; do
            [ -e "$so" ] || continue
            owner=$(dpkg -S "$so" 2>/dev/null | head -n1 | cut -d: -f1)
            [ -n "$owner" ] && break
        done
        printf 'static:   -l%-14s (shared library from %s)\n' "$l" "${owner:-unknown package}"
    done
else
    echo "static: the linker failed for another reason; first lines of $LOG:"
    head -n 15 "$LOG" | sed 's/^/static:   /'
fi
case " $(echo $missing) " in
*" cjson "*|*" gssapi_krb5 "*)
    cat <<'EOF'
static: why: Debian 12 ships no static archive at all for cJSON (libcjson-dev
static:   has libcjson.so only) nor for MIT Kerberos (libkrb5-dev: no
static:   libgssapi_krb5.a, libkrb5.a, libk5crypto.a), which Debian's libcurl
static:   links for GSSAPI.  The other archives exist in their -dev packages
static:   (libnghttp2-dev, libpsl-dev, librtmp-dev, libldap-dev, libsasl2-dev,
static:   libzstd-dev), but installing those cannot get past cJSON and Kerberos.
static:   A fully static binary needs cJSON and libcurl built from source
static:   (libcurl configured --without-gssapi --disable-ldap --without-librtmp ...).
EOF
    ;;
esac
echo "static: full linker output: $LOG"

# A partial link: the self-contained archives inside, the rest shared.
partial="$OUT/mte-relay-partial"
echo
echo "static: linking $partial (BearSSL and hiredis static, the rest shared)"
# shellcheck disable=SC2086
if $CC -o "$partial" $objs -Wl,-Bstatic -lbearssl -lhiredis -Wl,-Bdynamic -lcurl -lcjson \
        >>"$LOG" 2>&1 && "$partial" --version >/dev/null 2>&1; then
    echo "static: built $partial; it still loads, at run time:"
    ldd "$partial" | awk '$2 == "=>" { print $1 }' | sort |
        sed 's/^/static:   /'
    echo "static: on Debian 12 these come with: apt-get install libcurl4 libcjson1 ca-certificates"
else
    echo "static: the partial link failed too; see $LOG"
fi
echo
echo "static: summary: fully static: NO; the dynamically linked $BUILD/mte-relay"
echo "static:   with the packages above is the supported EC2 binary."
exit 0
