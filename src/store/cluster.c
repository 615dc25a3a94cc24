/*
 * cluster.c - Redis Cluster's pure parts (see cluster.h): the slot hash,
 * MOVED/ASK parsing and the slot map from CLUSTER SLOTS.  Everything read
 * from a reply is bounded before use: counts by the reader's limits, host
 * names by STORE_REDIS_HOST_MAX and a character set, ports by 1..65535,
 * slots by 0..16383, distinct primaries by STORE_CLUSTER_NODES_MAX.
 */
#include "store/cluster.h"
#include "store/backend.h"
#include "decimal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static unsigned
crc16_xmodem(const char *s, size_t len)
{
	unsigned crc = 0;

	for (size_t i = 0; i < len; i++) {
		crc ^= (unsigned)(unsigned char)s[i] << 8;
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
	}
	return crc;
}

unsigned
cluster_key_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len), *close;

	if (open != NULL) {
		size_t rest = len - (size_t)(open - key) - 1;
		close = memchr(open + 1, '}', rest);
		if (close != NULL && close > open + 1)
			return crc16_xmodem(open + 1, (size_t)(close - open - 1)) & (CLUSTER_SLOTS - 1);
	}
	return crc16_xmodem(key, len) & (CLUSTER_SLOTS - 1);
}

/* 1 when s[0..n) may be used as a host: a name, an IPv4 or IPv6 text. */
static int
host_chars_ok(const char *s, size_t n)
{
	if (n > STORE_REDIS_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		      || c == '.' || c == '-' || c == '_' || c == '~' || c == ':'))
			return 0;
	}
	return 1;
}

static int
is_ip_literal(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

int
cluster_parse_redirect(const char *s, size_t len, struct cluster_redirect *out)
{
	const char *p, *end = s + len, *sp, *colon;
	uint64_t v;

	memset(out, 0, sizeof *out);
	if (len > 6 && memcmp(s, "MOVED ", 6) == 0) {
		out->kind = CLUSTER_MOVED;
		p = s + 6;
	} else if (len > 4 && memcmp(s, "ASK ", 4) == 0) {
		out->kind = CLUSTER_ASK;
		p = s + 4;
	} else {
		return -1;
	}
	sp = memchr(p, ' ', (size_t)(end - p));
	if (sp == NULL || sp - p > 5 || decimal_parse(p, (size_t)(sp - p), CLUSTER_SLOTS - 1, &v) != 0)
		return -1;
	out->slot = (unsigned)v;
	p = sp + 1;
	for (colon = NULL, sp = p; sp < end; sp++)
		if (*sp == ':')
			colon = sp;
	if (colon == NULL || end - colon - 1 > 5 || !host_chars_ok(p, (size_t)(colon - p))
	    || decimal_parse(colon + 1, (size_t)(end - colon - 1), 65535, &v) != 0 || v == 0)
		return -1;
	out->port = (uint16_t)v;
	memcpy(out->host, p, (size_t)(colon - p));
	out->host[colon - p] = '\0';
	return 0;
}

static void
node_set(struct cluster_node *n, const char *host, const char *hostname, uint16_t port,
         const char *url_host)
{
	const char *name = !is_ip_literal(host) ? host : hostname && hostname[0] ? hostname : url_host;

	snprintf(n->host, sizeof n->host, "%s", host);
	snprintf(n->tls_name, sizeof n->tls_name, "%s", name);
	n->port = port;
}

static int
node_find(const struct cluster_map *m, const char *host, uint16_t port)
{
	for (unsigned i = 0; i < m->nodes; i++)
		if (m->node[i].port == port && strcmp(m->node[i].host, host) == 0)
			return (int)i;
	return -1;
}

int
cluster_map_node(struct cluster_map *m, const char *host, uint16_t port, const char *url_host,
                 int *added)
{
	uint8_t used[STORE_CLUSTER_NODES_MAX] = { 0 };
	int i = node_find(m, host, port);

	*added = 0;
	if (i >= 0 || host[0] == '\0')
		return i;
	for (unsigned s = 0; s < CLUSTER_SLOTS; s++)
		if (m->slot[s] != CLUSTER_NO_NODE)
			used[m->slot[s]] = 1;
	for (i = 0; i < STORE_CLUSTER_NODES_MAX && used[i]; i++)
		;
	if (i == STORE_CLUSTER_NODES_MAX)
		return -1;
	node_set(&m->node[i], host, NULL, port, url_host);
	*added = 1;
	if ((unsigned)i >= m->nodes)
		m->nodes = (unsigned)i + 1;
	return i;
}

/* The "hostname" of a node's metadata array (Redis 7), or NULL. */
static const char *
node_hostname(const struct rreply *n, char *buf, size_t cap)
{
	const struct rreply *meta;

	if (n->elements < 4 || (meta = n->element[3])->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < meta->elements; i += 2) {
		const struct rreply *k = meta->element[i], *v = meta->element[i + 1];
		if (k->type == REDIS_REPLY_STRING && k->len == 8 && memcmp(k->str, "hostname", 8) == 0
		    && v->type == REDIS_REPLY_STRING && v->len > 0 && v->len < cap
		    && host_chars_ok(v->str, v->len)) {
			memcpy(buf, v->str, v->len);
			buf[v->len] = '\0';
			return buf;
		}
	}
	return NULL;
}

/* One node entry [endpoint, port, id, {metadata}] into its index in out. */
static int
map_add_node(const struct rreply *n, const char *default_host, const char *url_host,
             struct cluster_map *out, char *err, size_t errlen)
{
	char host[STORE_REDIS_HOST_MAX + 1], hn[STORE_REDIS_HOST_MAX + 1];
	const struct rreply *e, *p;
	const char *hostname;
	int i;

	if (n->type != REDIS_REPLY_ARRAY || n->elements < 2)
		return store_fail(err, errlen, "CLUSTER SLOTS: a node entry is not [host, port, ...]");
	e = n->element[0];
	p = n->element[1];
	if (p->type != REDIS_REPLY_INTEGER || p->integer < 1 || p->integer > 65535)
		return store_fail(err, errlen, "CLUSTER SLOTS: a node port is not 1..65535");
	if (e->type != REDIS_REPLY_NIL && (e->type != REDIS_REPLY_STRING || !host_chars_ok(e->str, e->len)))
		return store_fail(err, errlen, "CLUSTER SLOTS: a node endpoint is not a host name or address");
	hostname = node_hostname(n, hn, sizeof hn);
	if (e->type == REDIS_REPLY_NIL || e->len == 0)
		snprintf(host, sizeof host, "%s", hostname ? hostname : default_host);
	else
		snprintf(host, sizeof host, "%.*s", (int)e->len, e->str);
	if ((i = node_find(out, host, (uint16_t)p->integer)) >= 0)
		return i;
	if (out->nodes >= STORE_CLUSTER_NODES_MAX)
		return store_fail(err, errlen, "CLUSTER SLOTS: more than %d primaries", STORE_CLUSTER_NODES_MAX);
	node_set(&out->node[out->nodes], host, hostname, (uint16_t)p->integer, url_host);
	return (int)out->nodes++;
}

int
cluster_map_from_reply(const struct rreply *r, const char *default_host, const char *url_host,
                       struct cluster_map *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	memset(out->slot, CLUSTER_NO_NODE, sizeof out->slot);
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
		return store_fail(err, errlen, "CLUSTER SLOTS: not a non-empty array");
	for (size_t k = 0; k < r->elements; k++) {
		const struct rreply *g = r->element[k];
		int i;
		if (g->type != REDIS_REPLY_ARRAY || g->elements < 3
		    || g->element[0]->type != REDIS_REPLY_INTEGER || g->element[1]->type != REDIS_REPLY_INTEGER
		    || g->element[0]->integer < 0 || g->element[1]->integer >= CLUSTER_SLOTS
		    || g->element[0]->integer > g->element[1]->integer)
			return store_fail(err, errlen, "CLUSTER SLOTS: a range is not [start, end, primary, ...]");
		if ((i = map_add_node(g->element[2], default_host, url_host, out, err, errlen)) < 0)
			return -1;
		memset(out->slot + g->element[0]->integer, i,
		    (size_t)(g->element[1]->integer - g->element[0]->integer + 1));
	}
	return 0;
}

static int
same_node(const struct cluster_node *a, const struct cluster_node *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0 && strcmp(a->tls_name, b->tls_name) == 0;
}

int
cluster_map_adopt(struct cluster_map *cur, const struct cluster_map *fresh,
                  uint8_t changed[STORE_CLUSTER_NODES_MAX])
{
	static struct cluster_map next;         /* 17 KB: not on the stack */
	int assign[STORE_CLUSTER_NODES_MAX];
	uint8_t used[STORE_CLUSTER_NODES_MAX] = { 0 };
	unsigned f, j;

	memset(changed, 0, STORE_CLUSTER_NODES_MAX);
	if (fresh->nodes > STORE_CLUSTER_NODES_MAX)
		return -1;
	memset(&next, 0, sizeof next);
	for (f = 0; f < fresh->nodes; f++) {
		assign[f] = -1;
		for (j = 0; j < cur->nodes && assign[f] < 0; j++)
			if (!used[j] && cur->node[j].host[0] && same_node(&cur->node[j], &fresh->node[f]))
				assign[f] = (int)j;
		if (assign[f] >= 0)
			used[assign[f]] = 1;
	}
	for (f = 0; f < fresh->nodes; f++) {
		if (assign[f] >= 0)
			continue;
		for (j = 0; j < STORE_CLUSTER_NODES_MAX && used[j]; j++)
			;
		if (j == STORE_CLUSTER_NODES_MAX)
			return -1;      /* cannot happen: fresh has at most that many */
		assign[f] = (int)j;
		used[j] = 1;
		changed[j] = 1;
	}
	for (f = 0; f < fresh->nodes; f++) {
		next.node[assign[f]] = fresh->node[f];
		if ((unsigned)assign[f] >= next.nodes)
			next.nodes = (unsigned)assign[f] + 1;
	}
	for (j = 0; j < cur->nodes; j++)
		if (!used[j])
			changed[j] = 1;
	for (unsigned s = 0; s < CLUSTER_SLOTS; s++)
		next.slot[s] = fresh->slot[s] == CLUSTER_NO_NODE ? CLUSTER_NO_NODE
		    : (uint8_t)assign[fresh->slot[s]];
	*cur = next;
	return 0;
}

int
cluster_map_parse_resp(const char *buf, size_t len, struct cluster_map *out, char *err, size_t errlen)
{
	redisReader *rd = rreply_reader_create();
	void *reply = NULL;
	int rc = -1;

	if (rd == NULL)
		return store_fail(err, errlen, "out of memory");
	rreply_reader_limit(rd, STORE_CLUSTER_MAP_ELEMENTS_MAX);
	/* one whole reply and nothing after it, as the wire path requires */
	if (len <= STORE_CLUSTER_MAP_REPLY_MAX && redisReaderFeed(rd, buf, len) == REDIS_OK
	    && redisReaderGetReply(rd, &reply) == REDIS_OK && reply != NULL && rd->pos == rd->len)
		rc = cluster_map_from_reply(reply, "127.0.0.1", "localhost", out, err, errlen);
	else
		store_fail(err, errlen, "not one complete reply");
	rreply_free(reply);
	redisReaderFree(rd);
	return rc;
}
