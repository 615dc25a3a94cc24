/*
 * client_addr.h - who a request comes from, for the pairing limits and the
 * logs: the TCP peer or, when the peer is a trusted proxy (TRUSTED_PROXIES),
 * the right-most X-Forwarded-For entry that is not a trusted proxy
 * (PROTOCOL.md, "Pairing limits").  Pure functions over caller buffers; the
 * X-Forwarded-For walk reads peer input and is fuzzed (tests/fuzz/fuzz_addr.c).
 */
#ifndef MTE_CLIENT_ADDR_H
#define MTE_CLIENT_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include "http.h"
#include "limits.h"

#define CLIENT_ADDR_MAX     46  /* INET6_ADDRSTRLEN: a textual address and its NUL */
#define CLIENT_ADDR_KEY_MAX 20  /* "4:" + 8 hex or "6:" + 16 hex, and the NUL */

/* One address in network byte order: family 4 (bytes 0..3) or 6 (0..15). */
struct ip_addr {
	uint8_t family;
	uint8_t bytes[16];
};

struct cidr {
	struct ip_addr net;     /* host bits zero */
	uint8_t        bits;    /* prefix length: 0..32 or 0..128 */
};

struct cidr_set {
	struct cidr items[TRUSTED_PROXIES_MAX];
	size_t      count;
};

/*
 * Parses s[0..n) as an IPv4 or IPv6 literal (an IPv4-mapped IPv6 address
 * becomes IPv4).  No surrounding whitespace, brackets or port.  0, or -1.
 */
int ip_parse(const char *s, size_t n, struct ip_addr *out);

/*
 * Parses one CIDR block "addr/bits" or a bare address (all bits) from
 * s[0..n).  -1 with a reason in *why (a static string) when it is not one,
 * the prefix is too long for the family, or host bits are set (a typo that
 * would silently trust a wider block than meant).
 */
int cidr_parse(const char *s, size_t n, struct cidr *out, const char **why);

/* 1 when a lies in one of set's blocks (families never match across). */
int cidr_set_contains(const struct cidr_set *set, const struct ip_addr *a);

/*
 * The client address of a request whose TCP peer is `peer` (a textual
 * address, as prefork_accept writes it) and whose X-Forwarded-For field
 * lines are xff[0..n) in the order received.  When the peer is not in
 * trusted (or trusted is empty), the peer.  Otherwise the entries are walked
 * from the right-most: trusted proxies are skipped; the first other entry
 * that is an IP address (optionally "[v6]", or with a ":port") is the
 * address; an entry that is not an address stops the walk and the last
 * trusted hop (the proxy that appended it) is the address.  At most
 * XFF_ENTRIES_MAX entries are looked at; when all of those are trusted, the
 * left-most one looked at is the address.  Writes the canonical text of the
 * address (inet_ntop) to out; a peer that does not parse is copied as is.
 */
void client_addr_resolve(const struct cidr_set *trusted, const char *peer,
                         const struct http_slice *xff, size_t n,
                         char out[CLIENT_ADDR_MAX]);

/*
 * The key the per-address limit counts under: "4:" and the 8 hex digits of
 * an IPv4 address, or "6:" and the 16 hex digits of the /64 of an IPv6 one
 * (one host normally holds a whole /64).  An address that does not parse
 * gets "x:" and the hex of its first 8 bytes (never the case for peers).
 */
void client_addr_key(const char *addr, char out[CLIENT_ADDR_KEY_MAX]);

#endif /* MTE_CLIENT_ADDR_H */
