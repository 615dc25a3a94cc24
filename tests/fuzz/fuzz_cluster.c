/*
 * fuzz_cluster.c - libFuzzer target for src/store/cluster.c: the Redis
 * Cluster replies a node (a peer) sends.  The first byte picks the parser:
 * even -> the input is a CLUSTER SLOTS reply (raw RESP, read by the same
 * bounded reader as a real one), odd -> a MOVED/ASK error text.  Invariants
 * checked on success: node count within STORE_CLUSTER_NODES_MAX, every slot
 * entry a node index or CLUSTER_NO_NODE, host names terminated within their
 * buffers, ports non-zero; slots below 16384; and adopting the map into an
 * empty one keeps every slot's node.  A broken invariant aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/cluster.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cluster_map map, empty;

static void
check_map(const struct cluster_map *m)
{
	CHECK(m->nodes <= STORE_CLUSTER_NODES_MAX);
	for (unsigned i = 0; i < m->nodes; i++) {
		CHECK(memchr(m->node[i].host, '\0', sizeof m->node[i].host) != NULL);
		CHECK(memchr(m->node[i].tls_name, '\0', sizeof m->node[i].tls_name) != NULL);
		CHECK(m->node[i].port != 0);
	}
	for (unsigned s = 0; s < CLUSTER_SLOTS; s++)
		CHECK(m->slot[s] == CLUSTER_NO_NODE || m->slot[s] < m->nodes);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster_redirect r;
	uint8_t changed[STORE_CLUSTER_NODES_MAX];
	char err[256];

	if (size == 0)
		return 0;
	CHECK(cluster_key_slot((const char *)data, size) < CLUSTER_SLOTS);
	if ((data[0] & 1) == 0) {
		if (cluster_map_parse_resp((const char *)data + 1, size - 1, &map, err, sizeof err) == 0) {
			check_map(&map);
			memset(&empty, 0, sizeof empty);
			CHECK(cluster_map_adopt(&empty, &map, changed) == 0);
			check_map(&empty);
			for (unsigned s = 0; s < CLUSTER_SLOTS; s++)
				CHECK((map.slot[s] == CLUSTER_NO_NODE) == (empty.slot[s] == CLUSTER_NO_NODE));
		}
	} else if (cluster_parse_redirect((const char *)data + 1, size - 1, &r) == 0) {
		CHECK(r.slot < CLUSTER_SLOTS);
		CHECK(r.port != 0);
		CHECK(r.kind == CLUSTER_MOVED || r.kind == CLUSTER_ASK);
		CHECK(strlen(r.host) <= STORE_REDIS_HOST_MAX);
	}
	return 0;
}
