/*
 * nss_builtin.c - linked into the static executable only (scripts/static.sh).
 *
 * A static glibc program still follows /etc/nsswitch.conf, and for a source
 * that is not inside libc.a (systemd, sss, ldap, mdns, ...) it dlopen()s the
 * host's libnss_*.so, which needs the very glibc build it was linked with: on
 * Debian 12 ("passwd: files systemd") looking up a RUN_AS user that does not
 * exist crashed the static binary.  So, before main(), the databases the
 * relay uses are pinned to the sources built into glibc (2.34 and later):
 * hosts (UPSTREAM and REDIS_URL names) to /etc/hosts then DNS, users and
 * groups (RUN_AS) to /etc/passwd and /etc/group.  The same whatever the host's
 * nsswitch.conf says, or when there is none (the container image).
 */
#include <nss.h>

__attribute__((constructor)) static void
nss_builtin_only(void)
{
	__nss_configure_lookup("hosts", "files dns");
	__nss_configure_lookup("passwd", "files");
	__nss_configure_lookup("group", "files");
	__nss_configure_lookup("initgroups", "files");
}
