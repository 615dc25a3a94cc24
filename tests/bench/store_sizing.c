/*
 * store_sizing.c - fills a Redis through the relay's own store code, for
 * tests/bench/store-sizing.sh, which measures what that costs in Redis memory.
 *
 *   store_sizing REDIS_URL CLIENTS PAIRS_PER_CLIENT REQUESTS_PER_PAIR REPLAY_WINDOW
 *
 * For each of CLIENTS random client ids: PAIRS_PER_CLIENT pairs put exactly as
 * POST /api/mte-pair does (store_pair_put), then REQUESTS_PER_PAIR accepted
 * sequence numbers per pair (store_window_accept), as protected requests do.
 * Ids have the shapes the client library uses (32 hex, 32 base64url).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/rand.h"
#include "log.h"
#include "store/store.h"

static void
random_chars(char *out, size_t n, const char *alphabet, size_t alen)
{
	unsigned char b[64];
	size_t i;

	rand_bytes(b, n);
	for (i = 0; i < n; i++)
		out[i] = alphabet[b[i] % alen];
	out[n] = '\0';
}

int
main(int argc, char **argv)
{
	static const char hex[] = "0123456789abcdef";
	static const char b64u[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct store_config sc;
	struct store_pair p;
	unsigned long clients, pairs, reqs, c, k, q;

	if (argc != 6) {
		fprintf(stderr, "usage: store_sizing REDIS_URL CLIENTS PAIRS_PER_CLIENT "
		    "REQUESTS_PER_PAIR REPLAY_WINDOW\n");
		return 2;
	}
	clients = strtoul(argv[2], NULL, 10);
	pairs = strtoul(argv[3], NULL, 10);
	reqs = strtoul(argv[4], NULL, 10);
	log_init(0);
	memset(&sc, 0, sizeof sc);
	sc.redis_url = argv[1];
	sc.server_id = "mte-relay";
	sc.state_ttl = 86400;
	sc.replay_window = (unsigned)strtoul(argv[5], NULL, 10);
	sc.max_pairs_per_client = 1024;
	sc.store_capacity = 1;
	if (store_init(&sc) != STORE_INIT_OK)
		return 1;
	store_worker_init();
	for (c = 0; c < clients; c++) {
		random_chars(p.client_id, STORE_CLIENT_ID_LEN, hex, 16);
		for (k = 0; k < pairs; k++) {
			random_chars(p.pair_id, 32, b64u, 64);
			rand_bytes(p.k_req, sizeof p.k_req);
			rand_bytes(p.k_res, sizeof p.k_res);
			if (store_pair_put(&p) != STORE_OK) {
				fprintf(stderr, "store_pair_put failed\n");
				return 1;
			}
			for (q = 1; q <= reqs; q++)
				if (store_window_accept(p.client_id, p.pair_id, q) != STORE_OK) {
					fprintf(stderr, "store_window_accept failed\n");
					return 1;
				}
		}
	}
	store_worker_close();
	return 0;
}
