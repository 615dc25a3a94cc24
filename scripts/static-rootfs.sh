#!/bin/sh
# static-rootfs.sh DIR - lays out the container image's whole file system in
# DIR/rootfs from build/static/mte-relay (`make static`): the Dockerfile's
# runtime stage copies DIR/rootfs/ to / and holds nothing else.
#
#   usr/local/bin/mte-relay               the static executable
#   etc/ssl/certs/ca-certificates.crt     Debian's CA bundle (ca-certificates):
#                                         the default UPSTREAM_CA_FILE / REDIS_CA_FILE
#   usr/local/share/man/man1/mte-relay.1  the manual (podman/docker cp it out)
#
# No /etc/nsswitch.conf: the executable resolves names through /etc/hosts
# (the runtime's, with --add-host or ECS extraHosts entries) then DNS
# whatever it says (src/static/nss_builtin.c).
# Used by the Dockerfile's build stage (DIR=build/container) and by
# tests/container for the image built from a host-built binary.
set -eu
dir=${1:?usage: static-rootfs.sh DIR}
bin=${BUILD:-build}/static/mte-relay
ca=/etc/ssl/certs/ca-certificates.crt
[ -x "$bin" ] || { echo "static-rootfs: $bin is missing; run make static" >&2; exit 1; }
[ -s "$ca" ] || { echo "static-rootfs: $ca is missing; install ca-certificates" >&2; exit 1; }
root=$dir/rootfs
rm -rf "$root"
install -D -m 0755 "$bin" "$root/usr/local/bin/mte-relay"
install -D -m 0644 "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
install -D -m 0644 man/mte-relay.1 "$root/usr/local/share/man/man1/mte-relay.1"
echo "static-rootfs: $root: $(find "$root" -type f | sed "s|^$root/||" | sort | tr '\n' ' ')"
