/*
 * cluster.h - internal to src/store/: Redis Cluster's pure parts, over
 * caller-owned memory and no I/O (so they are unit-tested and fuzzed,
 * tests/fuzz/fuzz_cluster.c): the key -> slot hash, MOVED/ASK error
 * parsing, and the slot map read from a CLUSTER SLOTS reply.
 *
 * Node addresses.  A node is reached at the endpoint CLUSTER SLOTS (or a
 * redirection) announces; an empty or "?" endpoint means "the node that
 * answered" (Redis 7), for which the caller passes default_host.  The TLS
 * server name expected of a node (tls_name) is chosen so that ElastiCache
 * (host names announced, or a configuration endpoint with a wildcard
 * certificate) and self-managed clusters (IPs announced) both verify:
 *   1. the endpoint itself when it is a host name, not an IP literal;
 *   2. else the "hostname" the node announces beside its IP (Redis 7
 *      cluster-announce-hostname), when there is one;
 *   3. else the host of REDIS_URL (url_host), the name the operator gave.
 */
#ifndef MTE_STORE_CLUSTER_H
#define MTE_STORE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include "limits.h"
#include "store/reply.h"

#define CLUSTER_SLOTS    16384
#define CLUSTER_NO_NODE  0xffu          /* slot not served (map hole) */

#if STORE_CLUSTER_NODES_MAX >= CLUSTER_NO_NODE
#error "slot map entries are uint8_t node indexes"
#endif

struct cluster_node {
	char     host[STORE_REDIS_HOST_MAX + 1];      /* where to connect */
	char     tls_name[STORE_REDIS_HOST_MAX + 1];  /* expected certificate name */
	uint16_t port;
};

struct cluster_map {
	unsigned            nodes;                  /* primaries, <= STORE_CLUSTER_NODES_MAX */
	struct cluster_node node[STORE_CLUSTER_NODES_MAX];
	uint8_t             slot[CLUSTER_SLOTS];    /* node index or CLUSTER_NO_NODE */
};

/* The slot of a key (CRC16-XMODEM of the key, or of its first non-empty
 * {hash tag}, mod 16384). */
unsigned cluster_key_slot(const char *key, size_t len);

enum cluster_redirect_kind { CLUSTER_MOVED = 1, CLUSTER_ASK = 2 };

struct cluster_redirect {
	enum cluster_redirect_kind kind;
	unsigned slot;
	char     host[STORE_REDIS_HOST_MAX + 1];  /* "" : the node that answered */
	uint16_t port;
};

/* Parses "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" (the
 * host may be an IPv6 address: the port follows the last ':').  Returns 0,
 * or -1 when s[0..len) is not such an error. */
int cluster_parse_redirect(const char *s, size_t len, struct cluster_redirect *out);

/* Fills out from a CLUSTER SLOTS reply: primaries only, at most
 * STORE_CLUSTER_NODES_MAX distinct ones; every range 0 <= start <= end <
 * 16384.  default_host is the node that answered, url_host the host of
 * REDIS_URL (see above).  Returns 0, or -1 with a reason in err (the reply
 * is never quoted). */
int cluster_map_from_reply(const struct rreply *r, const char *default_host,
                           const char *url_host, struct cluster_map *out,
                           char *err, size_t errlen);

/* The index of host:port in m, adding it when it is new and there is room
 * (an entry no slot refers to is reused).  tls_name is chosen as above.
 * Returns the index (*added = 1 when the entry is new: a connection made
 * for its previous node must be closed) or -1 (map full, or no host). */
int cluster_map_node(struct cluster_map *m, const char *host, uint16_t port,
                     const char *url_host, int *added);

/*
 * Replaces cur by fresh, keeping the index of every node present in both
 * (its connection stays valid).  changed[i] is set to 1 for each index
 * whose node is different afterwards (its connection must be closed).
 * Returns -1 (cur unchanged) if the nodes of both do not fit in
 * STORE_CLUSTER_NODES_MAX indexes, else 0.
 */
int cluster_map_adopt(struct cluster_map *cur, const struct cluster_map *fresh,
                      uint8_t changed[STORE_CLUSTER_NODES_MAX]);

/* FUZZ/TEST: parses raw RESP bytes as a CLUSTER SLOTS reply (bounded like
 * a real one) into out.  0 or -1. */
int cluster_map_parse_resp(const char *buf, size_t len, struct cluster_map *out,
                           char *err, size_t errlen);

#endif /* MTE_STORE_CLUSTER_H */
