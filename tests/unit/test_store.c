/*
 * test_store.c - the store contract, run against both backends (a real
 * redis-server on a free port, and the embedded shared-memory table), the
 * replay window rule against a reference model, concurrency across
 * processes, and the embedded store's lock recovery.
 */
#include "test_store_util.h"
#include "store/backend.h"
#include "metrics.h"

#include <stdint.h>
#include <sys/mman.h>

#define U64MAX UINT64_MAX

/* ---- the window rule by itself ---- */

/* Reference model: the set of accepted seqs, and hi. */
struct model {
	uint64_t hi;
	uint64_t seen[4096];
	size_t   n;
};

static int
model_accept(struct model *m, uint32_t w, uint64_t seq)
{
	if (seq == 0)
		return 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->seen[i] == seq)
			return 0;
	if (seq <= m->hi && m->hi - seq >= w)
		return 0;
	cr_assert(m->n < sizeof m->seen / sizeof m->seen[0]);
	m->seen[m->n++] = seq;
	if (seq > m->hi)
		m->hi = seq;
	return 1;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	/* xorshift64*: reproducible test inputs */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* A random seq near base: mostly close to the current top, sometimes far. */
static uint64_t
random_seq(uint64_t base, uint64_t span, uint32_t w)
{
	uint64_t r = rng(), off;

	switch (r % 8) {
	case 0:  off = rng() % (span + 3 * (uint64_t)w); break;   /* anywhere */
	case 1:  off = span + rng() % (2 * (uint64_t)w + 2); break;  /* jumps */
	default: off = rng() % (span + 1); break;
	}
	if (base > U64MAX - off)
		return U64MAX - (rng() % 4);
	return base + off;
}

static const uint32_t windows[] = { 1, 2, 7, 8, 9, 64, 1000, 1024, 65536 };
static const uint64_t bases[] = { 0, 4294967296ULL - 700, 9223372036854775808ULL - 700,
                                  U64MAX - 3000 };

Test(window, matches_reference_model)
{
	static uint8_t bm[65536 / 8];

	for (size_t wi = 0; wi < sizeof windows / sizeof windows[0]; wi++) {
		for (size_t bi = 0; bi < sizeof bases / sizeof bases[0]; bi++) {
			uint32_t w = windows[wi];
			struct model m = { 0 };
			uint64_t hi = 0, span = w < 600 ? 2 * (uint64_t)w + 5 : 1200;
			memset(bm, 0, sizeof bm);
			for (int i = 0; i < 3000 && m.n < 4000; i++) {
				uint64_t seq = random_seq(bases[bi], span, w);
				int want = model_accept(&m, w, seq);
				int got = store_window_apply(&hi, bm, w, seq);
				cr_assert_eq(got, want, "W=%u base=%" PRIu64 " step %d seq=%" PRIu64, w, bases[bi], i, seq);
				cr_assert_eq(hi, m.hi);
			}
		}
	}
}

Test(window, edges)
{
	uint8_t bm[128] = { 0 };
	uint64_t hi = 0;

	cr_assert_eq(store_window_apply(&hi, bm, 1024, 0), 0, "seq 0 is never valid");
	cr_assert_eq(hi, 0);
	cr_assert_eq(store_window_apply(&hi, bm, 1024, U64MAX), 1);
	cr_assert_eq(store_window_apply(&hi, bm, 1024, U64MAX), 0);
	cr_assert_eq(store_window_apply(&hi, bm, 1024, U64MAX - 1023), 1, "oldest seq inside the window");
	cr_assert_eq(store_window_apply(&hi, bm, 1024, U64MAX - 1024), 0, "just older than the window");
	cr_assert_eq(store_window_apply(&hi, bm, 1024, 1), 0);
	cr_assert_eq(hi, U64MAX);
	/* W = 1: only seqs above hi */
	uint8_t one[1] = { 0 };
	hi = 0;
	cr_assert_eq(store_window_apply(&hi, one, 1, 5), 1);
	cr_assert_eq(store_window_apply(&hi, one, 1, 5), 0);
	cr_assert_eq(store_window_apply(&hi, one, 1, 4), 0);
	cr_assert_eq(store_window_apply(&hi, one, 1, 6), 1);
}

Test(siphash, known_answer)
{
	/* SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e. */
	uint8_t key[16], msg[15];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	cr_assert_eq(store_siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
	cr_assert_eq(store_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
}

/* ---- the contract, on both backends ---- */

static struct redis_proc rp;
static struct redis_cluster cluster;     /* contract_cluster: 3 primaries + 3 replicas */
static int use_redis;
static const char *contract_sid = "test-relay";
static char redis_url[128];

static struct store_config
base_config(void)
{
	struct store_config c = {
		.redis_url = use_redis ? redis_url : NULL,
		.server_id = contract_sid,
		.state_ttl = 60,
		.replay_window = 1024,
		.max_pairs_per_client = 8,
		.store_capacity = 256,
	};
	return c;
}

static void
open_store(const struct store_config *c)
{
	char *log = init_logged(c, STORE_INIT_OK);

	cr_assert(strstr(log, use_redis ? "state store connected" : "state store ready") != NULL, "%s", log);
	free(log);
}

static void
setup_embedded(void)
{
	struct store_config c;

	watchdog();
	use_redis = 0;
	c = base_config();
	open_store(&c);
	cr_assert_str_eq(store_backend_name(), "embedded");
}

static void
setup_redis(void)
{
	struct store_config c;

	watchdog();
	use_redis = 1;
	redis_start(&rp, NULL);
	snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%d", rp.port);
	c = base_config();
	open_store(&c);
	cr_assert_str_eq(store_backend_name(), "redis");
}

/* The same contract through one Redis Cluster (3 primaries + 3 replicas,
 * cluster mode auto-detected) made once for this binary by the runner;
 * each test has its own SERVER_ID, so tests running side by side do not
 * see each other's keys, which spread over the three primaries. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	char port[16];

	(void)set;
	cluster_start(&cluster, 1, NULL);
	/* Tests run in processes of their own (re-executed): they find the
	 * cluster through the environment. */
	snprintf(port, sizeof port, "%d", cluster.node[0].port);
	setenv("MTE_TEST_CLUSTER_PORT", port, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	cluster_stop(&cluster);
}

static void
setup_cluster(void)
{
	static char sid[32];
	struct store_config c;
	char *log;

	watchdog();
	use_redis = 1;
	cr_assert(getenv("MTE_TEST_CLUSTER_PORT") != NULL);
	snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%s", getenv("MTE_TEST_CLUSTER_PORT"));
	snprintf(sid, sizeof sid, "contract-%d", (int)getpid());
	contract_sid = sid;
	c = base_config();
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "\"mode\":\"cluster\",\"primaries\":3") != NULL, "%s", log);
	free(log);
}

static void
teardown(void)
{
	store_worker_close();
	redis_stop(&rp);
}

#define CONTRACT(name, timeout_s) \
	static void name##_body(void); \
	Test(contract_embedded, name, .init = setup_embedded, .fini = teardown) \
	{ alarm(timeout_s); name##_body(); } \
	Test(contract_redis, name, .init = setup_redis, .fini = teardown) \
	{ alarm(timeout_s); name##_body(); } \
	Test(contract_cluster, name, .init = setup_cluster, .fini = teardown) \
	{ alarm(timeout_s); name##_body(); } \
	static void name##_body(void)

static void
assert_pair_eq(const struct store_pair *a, const struct store_pair *b)
{
	cr_assert_str_eq(a->client_id, b->client_id);
	cr_assert_str_eq(a->pair_id, b->pair_id);
	cr_assert(memcmp(a->k_req, b->k_req, STORE_KEY_LEN) == 0);
	cr_assert(memcmp(a->k_res, b->k_res, STORE_KEY_LEN) == 0);
}

static const char PID1[] = "pair-0001_abcdefgh";
static const char PID2[] = "pair-0002_abcdefgh";

CONTRACT(put_get_delete, 20)
{
	struct store_pair p, q;

	make_pair(&p, CID_A, PID1, 0x11);
	cr_assert_eq(store_pair_put(&p), STORE_OK);
	memset(&q, 0x77, sizeof q);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_OK);
	assert_pair_eq(&p, &q);
	cr_assert_eq(store_pair_get(CID_B, PID1, &q), STORE_NOT_FOUND, "other client, same pair id");
	cr_assert_eq(store_pair_get(CID_A, PID2, &q), STORE_NOT_FOUND);
	cr_assert_eq(store_pair_delete(CID_A, PID1), STORE_OK);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_NOT_FOUND);
	cr_assert_eq(store_pair_delete(CID_A, PID1), STORE_NOT_FOUND);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_NOT_FOUND);
	cr_assert_eq(store_health(), STORE_OK);
}

CONTRACT(put_never_replaces_a_live_pair, 20)
{
	struct store_pair p, q, first;

	make_pair(&first, CID_A, PID1, 0x11);
	cr_assert_eq(store_pair_put(&first), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 7), STORE_OK);
	make_pair(&p, CID_A, PID1, 0x99);
	cr_assert_eq(store_pair_put(&p), STORE_EXISTS, "resetting the window would readmit seq 7");
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_OK);
	assert_pair_eq(&first, &q);
	cr_assert_eq(store_window_accept(CID_A, PID1, 7), STORE_REPLAY, "the window was kept");
	cr_assert_eq(store_pair_delete(CID_A, PID1), STORE_OK);
	cr_assert_eq(store_pair_put(&p), STORE_OK, "a deleted pair id can be stored again");
	cr_assert_eq(store_window_accept(CID_A, PID1, 7), STORE_OK, "a new pair starts with an empty window");
}

CONTRACT(malformed_ids, 20)
{
	struct store_pair p, q;
	char pid64[PAIR_ID_MAX + 1], pid15[PAIR_ID_MIN];

	memset(pid64, 'x', PAIR_ID_MAX);
	pid64[PAIR_ID_MAX] = '\0';
	memset(pid15, 'y', PAIR_ID_MIN - 1);
	pid15[PAIR_ID_MIN - 1] = '\0';
	make_pair(&p, CID_A, pid64, 1);
	cr_assert_eq(store_pair_put(&p), STORE_OK, "PAIR_ID_MAX characters");
	cr_assert_eq(store_pair_get(CID_A, pid64, &q), STORE_OK);
	cr_assert_str_eq(q.pair_id, pid64);
	make_pair(&p, CID_A, pid15, 1);
	cr_assert_eq(store_pair_put(&p), STORE_NOT_FOUND, "PAIR_ID_MIN - 1 characters");
	make_pair(&p, CID_A, "pair.with.dots!!x", 1);
	cr_assert_eq(store_pair_put(&p), STORE_NOT_FOUND);
	make_pair(&p, "0123456789abcdef0123456789abcdeg", PID1, 1);
	cr_assert_eq(store_pair_put(&p), STORE_NOT_FOUND, "client id not hex");
	cr_assert_eq(store_pair_get("0123", PID1, &q), STORE_NOT_FOUND);
	cr_assert_eq(store_window_accept(CID_A, "short", 1), STORE_NOT_FOUND);
	cr_assert_eq(store_pair_delete(CID_A, "pair:with:colon:x"), STORE_NOT_FOUND);
	/* PAIR_ID_MAX + 1 characters */
	char pid65[PAIR_ID_MAX + 2];
	memset(pid65, 'z', PAIR_ID_MAX + 1);
	pid65[PAIR_ID_MAX + 1] = '\0';
	cr_assert_eq(store_pair_get(CID_A, pid65, &q), STORE_NOT_FOUND);
}

/* One case rule for ids (protocol_client_id_ok): a client id is lower-case
 * hex, so its upper-case spelling is refused by every operation and never
 * names the lower-case client's pairs. */
CONTRACT(upper_case_client_id_refused, 20)
{
	static const char upper[] = "0123456789ABCDEF0123456789abcdef";
	struct store_pair p, q;

	make_pair(&p, upper, PID1, 1);
	cr_assert_eq(store_pair_put(&p), STORE_NOT_FOUND, "upper-case hex in the client id");
	make_pair(&p, CID_A, PID1, 1);
	cr_assert_eq(store_pair_put(&p), STORE_OK);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_OK);
	cr_assert_eq(store_pair_get(upper, PID1, &q), STORE_NOT_FOUND);
	cr_assert_eq(store_pair_get("0123456789ABCDEF0123456789ABCDEF", PID1, &q), STORE_NOT_FOUND);
	cr_assert_eq(store_window_accept(upper, PID1, 1), STORE_NOT_FOUND);
	cr_assert_eq(store_pair_delete(upper, PID1), STORE_NOT_FOUND);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_OK, "the lower-case pair is untouched");
}

static void
put_one(const char *cid, const char *pid)
{
	struct store_pair p;

	make_pair(&p, cid, pid, 0x42);
	cr_assert_eq(store_pair_put(&p), STORE_OK);
}

CONTRACT(window_in_order_and_replay, 30)
{
	put_one(CID_A, PID1);
	for (uint64_t s = 1; s <= 3000; s++)
		cr_assert_eq(store_window_accept(CID_A, PID1, s), STORE_OK, "seq %" PRIu64, s);
	for (uint64_t s = 3000; s > 3000 - 1024; s--)
		cr_assert_eq(store_window_accept(CID_A, PID1, s), STORE_REPLAY, "replay of %" PRIu64, s);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_REPLAY, "far older than the window");
	cr_assert_eq(store_window_accept(CID_A, PID1, 0), STORE_REPLAY, "seq 0");
	cr_assert_eq(store_window_accept(CID_A, PID1, 3001), STORE_OK);
}

CONTRACT(window_out_of_order, 20)
{
	put_one(CID_A, PID1);
	cr_assert_eq(store_window_accept(CID_A, PID1, 2000), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1999), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1999), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, 2000 - 1023), STORE_OK, "oldest seq in the window");
	cr_assert_eq(store_window_accept(CID_A, PID1, 2000 - 1024), STORE_REPLAY, "just older than W");
	cr_assert_eq(store_window_accept(CID_A, PID1, 1500), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 2001), STORE_OK);
	/* 977 left the window when hi became 2001 */
	cr_assert_eq(store_window_accept(CID_A, PID1, 977), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1500), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1501), STORE_OK);
}

CONTRACT(window_jumps, 20)
{
	/* d = W - 1, W, W + 1 and huge; the ring must forget exactly the seqs
	 * that left the window. */
	put_one(CID_A, PID1);
	cr_assert_eq(store_window_accept(CID_A, PID1, 5), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 3), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 5 + 1023), STORE_OK);     /* d = W - 1 */
	cr_assert_eq(store_window_accept(CID_A, PID1, 5), STORE_REPLAY, "still in the window, seen");
	cr_assert_eq(store_window_accept(CID_A, PID1, 4), STORE_REPLAY, "left the window");
	cr_assert_eq(store_window_accept(CID_A, PID1, 6), STORE_OK, "in the window, never seen");
	cr_assert_eq(store_window_accept(CID_A, PID1, 1028 + 1024), STORE_OK);  /* d = W */
	cr_assert_eq(store_window_accept(CID_A, PID1, 1028), STORE_REPLAY, "older than W");
	cr_assert_eq(store_window_accept(CID_A, PID1, 1029), STORE_OK, "bit of 5+W.. cleared");
	cr_assert_eq(store_window_accept(CID_A, PID1, 2052 + 1025), STORE_OK);  /* d = W + 1 */
	cr_assert_eq(store_window_accept(CID_A, PID1, 2052), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, 2054), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1ULL << 40), STORE_OK);    /* huge jump */
	cr_assert_eq(store_window_accept(CID_A, PID1, 3077), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, (1ULL << 40) - 1), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, (1ULL << 40) - 1023), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, (1ULL << 40) - 1024), STORE_REPLAY);
}

CONTRACT(window_near_2_64, 20)
{
	const uint64_t t32 = 1ULL << 32, t63 = 1ULL << 63;

	put_one(CID_A, PID1);
	/* across the 32-bit halves */
	cr_assert_eq(store_window_accept(CID_A, PID1, t32 - 1), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, t32 + 5), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, t32), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, t32 - 1), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, t32 + 5 - 1023), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, t32 + 5 - 1024), STORE_REPLAY);
	/* across 2^63 */
	cr_assert_eq(store_window_accept(CID_A, PID1, t63 - 1), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, t63 + 1), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, t63), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, t63), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, t63 - 1), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, t63 + 1 - 1024), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, t32), STORE_REPLAY);
	/* the top: 2^64 - 1 and below; doubles would round these together */
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX - 2), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX - 1), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX - 1), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX - 2), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX - 3), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX - 1023), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX - 1024), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, t63), STORE_REPLAY);
}

/* Random sequences against the reference model, for several W and bases. */
CONTRACT(window_matches_model, 60)
{
	static const uint32_t ws[] = { 1, 7, 64, 1000 };
	static const uint64_t bs[] = { 0, 4294967296ULL - 300, 9223372036854775808ULL - 300, U64MAX - 2500 };

	for (size_t wi = 0; wi < sizeof ws / sizeof ws[0]; wi++) {
		struct store_config c = base_config();
		c.replay_window = ws[wi];
		open_store(&c);
		for (size_t bi = 0; bi < sizeof bs / sizeof bs[0]; bi++) {
			struct model m = { 0 };
			char pid[40];
			snprintf(pid, sizeof pid, "model-w%u-b%zu-xxxxx", ws[wi], bi);
			put_one(CID_B, pid);
			for (int i = 0; i < 250; i++) {
				uint64_t seq = random_seq(bs[bi], ws[wi] < 300 ? 3 * (uint64_t)ws[wi] + 5 : 900, ws[wi]);
				enum store_status want = model_accept(&m, ws[wi], seq) ? STORE_OK : STORE_REPLAY;
				cr_assert_eq(store_window_accept(CID_B, pid, seq), want,
				    "W=%u base=%" PRIu64 " step %d seq=%" PRIu64, ws[wi], bs[bi], i, seq);
			}
		}
	}
}

CONTRACT(window_max_w_and_odd_w, 30)
{
	struct store_config c = base_config();

	c.replay_window = REPLAY_WINDOW_MAX;
	open_store(&c);
	put_one(CID_A, PID1);
	cr_assert_eq(store_window_accept(CID_A, PID1, 100000), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 100000 - 65535), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 100000 - 65536), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, 100000 + 65535), STORE_OK);  /* d = W - 1, wraps */
	cr_assert_eq(store_window_accept(CID_A, PID1, 100001), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 100000), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX - 65535), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX - 65536), STORE_REPLAY);

}

/* TTL: expiry, and the refresh by an accepted seq (sliding TTL); a
 * rejected seq does not refresh. */
CONTRACT(ttl_expiry_and_refresh, 30)
{
	struct store_config c = base_config();
	struct store_pair q;

	c.state_ttl = 2;
	open_store(&c);
	put_one(CID_A, PID1);
	put_one(CID_A, PID2);
	cr_assert_eq(store_window_accept(CID_A, PID2, 1), STORE_OK);
	sleep_ms(1200);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_OK);      /* PID1 lives to 3.2 s */
	cr_assert_eq(store_window_accept(CID_A, PID2, 1), STORE_REPLAY);  /* PID2 still ends at 2 s */
	sleep_ms(1200);
	cr_assert_eq(store_pair_get(CID_A, PID2, &q), STORE_NOT_FOUND, "expired");
	cr_assert_eq(store_window_accept(CID_A, PID2, 2), STORE_NOT_FOUND);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_OK, "refreshed by the accept");
	cr_assert_eq(store_window_accept(CID_A, PID1, 2), STORE_OK);      /* to 4.4 s */
	sleep_ms(1300);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_OK);
	sleep_ms(1000);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_NOT_FOUND);
	cr_assert_eq(store_pair_delete(CID_A, PID1), STORE_NOT_FOUND);
}

static void
pid_n(char *buf, size_t n, int i)
{
	snprintf(buf, n, "pair-%04d-abcdefghijk", i);
}

CONTRACT(per_client_cap_evicts_oldest, 20)
{
	struct store_config c = base_config();
	struct store_pair q;
	char pid[40];

	c.max_pairs_per_client = 3;
	open_store(&c);
	put_one(CID_B, "other-client-pair-1");
	for (int i = 1; i <= 3; i++) {
		pid_n(pid, sizeof pid, i);
		put_one(CID_A, pid);
	}
	pid_n(pid, sizeof pid, 4);
	put_one(CID_A, pid);                         /* evicts 1 */
	pid_n(pid, sizeof pid, 1);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_NOT_FOUND, "oldest evicted");
	for (int i = 2; i <= 4; i++) {
		pid_n(pid, sizeof pid, i);
		cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_OK, "pair %d kept", i);
	}
	pid_n(pid, sizeof pid, 2);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_OK);
	cr_assert_eq(store_pair_put(&q), STORE_EXISTS, "a live pair is never put again");
	pid_n(pid, sizeof pid, 5);
	put_one(CID_A, pid);                         /* 2, 3, 4 -> evicts 2 */
	pid_n(pid, sizeof pid, 2);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_NOT_FOUND);
	pid_n(pid, sizeof pid, 3);
	cr_assert_eq(store_pair_delete(CID_A, pid), STORE_OK);
	pid_n(pid, sizeof pid, 6);
	put_one(CID_A, pid);                         /* 4, 5, 6: no eviction needed */
	for (int i = 4; i <= 6; i++) {
		pid_n(pid, sizeof pid, i);
		cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_OK, "pair %d kept", i);
	}
	pid_n(pid, sizeof pid, 6);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_OK);
	cr_assert_eq(store_pair_get(CID_B, "other-client-pair-1", &q), STORE_OK, "other clients untouched");
	/* MAX_PAIRS_PER_CLIENT of 1: each put replaces the previous pair */
	c.max_pairs_per_client = 1;
	open_store(&c);
	put_one(CID_A, "single-pair-one-xx");
	put_one(CID_A, "single-pair-two-xx");
	cr_assert_eq(store_pair_get(CID_A, "single-pair-one-xx", &q), STORE_NOT_FOUND);
	cr_assert_eq(store_pair_get(CID_A, "single-pair-two-xx", &q), STORE_OK);
}

/* store_init refuses a bad setting with one "config error" line naming it. */
static void
init_refused(const struct store_config *c, const char *setting)
{
	char *log = init_logged(c, STORE_INIT_BAD_CONFIG);

	cr_assert(strstr(log, "config error") != NULL && strstr(log, setting) != NULL, "%s", log);
	free(log);
	cr_assert_str_eq(store_backend_name(), "none");
}

CONTRACT(bad_settings, 20)
{
	struct store_config c = base_config();
	char sid[STORE_SERVER_ID_MAX + 2];

	memset(sid, 's', sizeof sid);
	sid[STORE_SERVER_ID_MAX] = '\0';
	c.server_id = sid;
	open_store(&c);                              /* STORE_SERVER_ID_MAX bytes */
	put_one(CID_A, PID1);
	sid[STORE_SERVER_ID_MAX] = 's';
	sid[STORE_SERVER_ID_MAX + 1] = '\0';
	init_refused(&c, "SERVER_ID");               /* STORE_SERVER_ID_MAX + 1 */
	cr_assert_eq(store_pair_put(&(struct store_pair){ 0 }), STORE_UNAVAILABLE, "no store");
	cr_assert_eq(store_health(), STORE_UNAVAILABLE);
	c = base_config();
	c.server_id = "with{brace}";
	init_refused(&c, "SERVER_ID");
	c.server_id = "";
	init_refused(&c, "SERVER_ID");
	c = base_config();
	c.state_ttl = 0;
	init_refused(&c, "STATE_TTL");
	c = base_config();
	c.max_pairs_per_client = 0;
	init_refused(&c, "MAX_PAIRS_PER_CLIENT");
	c = base_config();
	c.replay_window = REPLAY_WINDOW_MAX + 1;
	init_refused(&c, "REPLAY_WINDOW");
	c.replay_window = 0;
	init_refused(&c, "REPLAY_WINDOW");
	if (!use_redis) {
		c = base_config();
		c.store_capacity = 0;
		init_refused(&c, "STORE_CAPACITY");
	}
}

/*
 * 8 processes x 10,000 test-and-sets on one pair, every process trying every
 * seq (in shuffled blocks of 64 < W, so every seq is first tried while it is
 * inside the window): each seq must be accepted exactly once.  The seqs are
 * the top 10,000 below 2^64.
 */
#define CONC_PROCS 8
#define CONC_SEQS  10000

CONTRACT(concurrent_test_and_set, 120)
{
	const uint64_t base = U64MAX - CONC_SEQS;   /* seqs base+1 .. 2^64-1 */
	uint32_t *count;
	pid_t kids[CONC_PROCS];

	put_one(CID_A, PID1);
	count = mmap(NULL, CONC_SEQS * sizeof *count, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(count != MAP_FAILED);
	for (int k = 0; k < CONC_PROCS; k++) {
		kids[k] = fork();
		cr_assert(kids[k] >= 0);
		if (kids[k] == 0) {
			uint32_t order[64];
			int bad = 0;
			store_worker_init();
			rng_state = 0x1234567ULL * (uint64_t)(k + 1);
			for (uint32_t b = 0; b < CONC_SEQS; b += 64) {
				uint32_t n = CONC_SEQS - b < 64 ? CONC_SEQS - b : 64;
				for (uint32_t i = 0; i < n; i++)
					order[i] = b + i;
				for (uint32_t i = n - 1; i > 0; i--) {
					uint32_t j = (uint32_t)(rng() % (i + 1)), t = order[i];
					order[i] = order[j];
					order[j] = t;
				}
				for (uint32_t i = 0; i < n; i++) {
					enum store_status st = store_window_accept(CID_A, PID1, base + 1 + order[i]);
					if (st == STORE_OK)
						__atomic_fetch_add(&count[order[i]], 1, __ATOMIC_RELAXED);
					else if (st != STORE_REPLAY)
						bad++;
				}
			}
			store_worker_close();
			_exit(bad ? 1 : 0);
		}
	}
	for (int k = 0; k < CONC_PROCS; k++) {
		int status;
		cr_assert_eq(waitpid(kids[k], &status, 0), kids[k]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "worker %d saw errors (status %d)", k, status);
	}
	for (int i = 0; i < CONC_SEQS; i++)
		cr_assert_eq(count[i], 1, "seq %" PRIu64 " accepted %u times", base + 1 + (uint64_t)i, count[i]);
	cr_assert_eq(store_window_accept(CID_A, PID1, U64MAX), STORE_REPLAY);
	munmap(count, CONC_SEQS * sizeof *count);
}

/* store_rate_take: a fixed window, refusals take nothing, buckets apart,
 * at the limit and limit+1. */
CONTRACT(rate_budget_fixed_window, 20)
{
	unsigned retry = 0;

	cr_assert_eq(store_rate_take("c:one", 3, 5, 60, &retry), STORE_OK);
	cr_assert_eq(store_rate_take("c:one", 2, 5, 60, &retry), STORE_OK, "exactly at the limit");
	cr_assert_eq(store_rate_take("c:one", 1, 5, 60, &retry), STORE_LIMITED, "limit + 1");
	cr_assert(retry >= 1 && retry <= 60, "retry after %u s", retry);
	cr_assert_eq(store_rate_take("c:one", 1, 5, 60, &retry), STORE_LIMITED, "a refusal took nothing");
	cr_assert_eq(store_rate_take("c:one", 1, 6, 60, &retry), STORE_OK, "5 were taken, not 7");
	cr_assert_eq(store_rate_take("a:4:7f000001", 5, 5, 60, &retry), STORE_OK, "another bucket");
	cr_assert_eq(store_rate_take("c:big", 6, 5, 60, &retry), STORE_LIMITED, "more than the budget");
	cr_assert_eq(store_rate_take("c:big", 5, 5, 60, &retry), STORE_OK, "which took nothing");
	cr_assert_eq(store_rate_take("c:zero", 1, 0, 60, &retry), STORE_LIMITED, "a budget of 0");
	cr_assert_eq(store_rate_take("Upper", 1, 5, 60, &retry), STORE_NOT_FOUND);
	cr_assert_eq(store_rate_take("", 1, 5, 60, &retry), STORE_NOT_FOUND);
	cr_assert_eq(store_rate_take("c:x", 0, 5, 60, &retry), STORE_NOT_FOUND);
	cr_assert_eq(store_rate_take("c:x", 1, 5, 0, &retry), STORE_NOT_FOUND);
	{
		char longest[STORE_RATE_BUCKET_MAX + 2];
		memset(longest, 'a', sizeof longest);
		longest[STORE_RATE_BUCKET_MAX] = '\0';
		cr_assert_eq(store_rate_take(longest, 1, 5, 60, &retry), STORE_OK);
		longest[STORE_RATE_BUCKET_MAX] = 'a';
		longest[STORE_RATE_BUCKET_MAX + 1] = '\0';
		cr_assert_eq(store_rate_take(longest, 1, 5, 60, &retry), STORE_NOT_FOUND);
	}
	/* a new window after the old one ended */
	cr_assert_eq(store_rate_take("c:short", 2, 2, 1, &retry), STORE_OK);
	cr_assert_eq(store_rate_take("c:short", 1, 2, 1, &retry), STORE_LIMITED);
	cr_assert_eq(retry, 1u);
	usleep(1100 * 1000);
	cr_assert_eq(store_rate_take("c:short", 2, 2, 1, &retry), STORE_OK, "the window ended");
}

/* A pair that never carried a request lives fresh_pair_ttl; its first
 * accepted seq gives it state_ttl. */
CONTRACT(fresh_pairs_expire_first, 20)
{
	struct store_config c = base_config();
	struct store_pair q;

	c.fresh_pair_ttl = 1;
	open_store(&c);
	put_one(CID_A, PID1);
	put_one(CID_A, PID2);
	cr_assert_eq(store_window_accept(CID_A, PID2, 1), STORE_OK);
	usleep(1300 * 1000);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_NOT_FOUND, "fresh: expired");
	cr_assert_eq(store_pair_get(CID_A, PID2, &q), STORE_OK, "used: state_ttl");
	cr_assert_eq(store_window_accept(CID_A, PID2, 2), STORE_OK);
}

/* Generations: every put draws one; an accept for another generation
 * changes nothing (STORE_STALE); the pair cache answers without a round
 * trip and is corrected by the generation. */
CONTRACT(generations_and_the_pair_cache, 20)
{
	struct store_pair p, q, r;
	uint64_t g1;
	int cached = -1;

	make_pair(&p, CID_A, PID1, 0x11);
	cr_assert_eq(store_pair_put(&p), STORE_OK);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_OK);
	cr_assert_neq(q.generation, 0u, "a put draws a generation");
	g1 = q.generation;
	cr_assert_eq(store_window_accept_gen(CID_A, PID1, g1 ^ 1, 1), STORE_STALE);
	cr_assert_eq(store_window_accept_gen(CID_A, PID1, g1, 1), STORE_OK, "seq 1 was not spent");
	cr_assert_eq(store_window_accept_gen(CID_A, PID1, g1, 1), STORE_REPLAY);

	cr_assert_eq(store_pair_lookup(CID_A, PID1, 0, &r, &cached), STORE_OK);
	cr_assert_eq(cached, 0);
	cr_assert_eq(store_pair_lookup(CID_A, PID1, 0, &r, &cached), STORE_OK);
	cr_assert_eq(cached, 1, "the second read comes from the cache");
	assert_pair_eq(&r, &q);
	cr_assert_eq(r.generation, g1);
	/* the key schedules that come with it are the keys' own */
	{
		uint8_t a[KDF_HASH_LEN], b[KDF_HASH_LEN];
		kdf_message_key(a, q.k_req, KDF_REQ, 77);
		kdf_message_key_root(b, &r.root_req, KDF_REQ, 77);
		cr_assert_eq(memcmp(a, b, sizeof a), 0, "root_req");
		kdf_message_key(a, q.k_res, KDF_RES, 77);
		kdf_message_key_root(b, &r.root_res, KDF_RES, 77);
		cr_assert_eq(memcmp(a, b, sizeof a), 0, "root_res");
	}
	/* a new worker holds nothing of its parent's cache */
	{
		pid_t child = fork();
		if (child == 0) {
			struct store_pair n;
			int c = -1;
			store_worker_init();
			_exit(store_pair_lookup(CID_A, PID1, 0, &n, &c) == STORE_OK && c == 0 ? 0 : 1);
		}
		int status = -1;
		cr_assert_eq(waitpid(child, &status, 0), child);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child read the store");
	}

	/* deleted and paired again elsewhere: the cache is stale, the generation says so */
	cr_assert_eq(store_pair_delete(CID_A, PID1), STORE_OK);
	cr_assert_eq(store_pair_lookup(CID_A, PID1, 0, &r, &cached), STORE_NOT_FOUND,
	    "a delete in this process drops the cached pair");
	make_pair(&p, CID_A, PID1, 0x22);
	cr_assert_eq(store_pair_put(&p), STORE_OK);
	cr_assert_eq(store_pair_lookup(CID_A, PID1, 0, &r, &cached), STORE_OK);
	cr_assert_eq(cached, 0);
	cr_assert_neq(r.generation, g1, "a new pair, a new generation");
	/* another process deletes and pairs again: this process still caches the old */
	{
		pid_t child = fork();
		if (child == 0) {
			struct store_pair n;
			store_worker_init();
			make_pair(&n, CID_A, PID1, 0x33);
			_exit(store_pair_delete(CID_A, PID1) == STORE_OK && store_pair_put(&n) == STORE_OK ? 0 : 1);
		}
		int status = -1;
		cr_assert_eq(waitpid(child, &status, 0), child);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	cr_assert_eq(store_pair_lookup(CID_A, PID1, 0, &q, &cached), STORE_OK);
	cr_assert_eq(cached, 1);
	cr_assert_eq(q.k_req[0], 0x22, "the stale keys, from the cache");
	cr_assert_eq(store_window_accept_gen(CID_A, PID1, q.generation, 5), STORE_STALE);
	cr_assert_eq(store_pair_lookup(CID_A, PID1, 0, &q, &cached), STORE_OK);
	cr_assert_eq(cached, 0, "a stale answer dropped the cached pair");
	cr_assert_eq(q.k_req[0], 0x33);
	cr_assert_eq(store_window_accept_gen(CID_A, PID1, q.generation, 5), STORE_OK);
	cr_assert_eq(store_pair_lookup(CID_A, PID1, 1, &q, &cached), STORE_OK);
	cr_assert_eq(cached, 0, "refresh reads the store");
	/* an accept that finds no pair drops it too */
	cr_assert_eq(store_pair_lookup(CID_A, PID1, 0, &q, &cached), STORE_OK);
	cr_assert_eq(cached, 1);
	{
		pid_t child = fork();
		if (child == 0) {
			store_worker_init();
			_exit(store_pair_delete(CID_A, PID1) == STORE_OK ? 0 : 1);
		}
		int status = -1;
		cr_assert_eq(waitpid(child, &status, 0), child);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	cr_assert_eq(store_window_accept_gen(CID_A, PID1, q.generation, 6), STORE_NOT_FOUND);
	cr_assert_eq(store_pair_lookup(CID_A, PID1, 0, &q, &cached), STORE_NOT_FOUND);
	cr_assert_eq(cached, 0);
}

/* STORE_PAIR_CACHE_SIZE pairs at most: after SIZE + 1 of them, at most SIZE
 * are read from the cache again, and most are. */
CONTRACT(pair_cache_is_bounded, 60)
{
	struct store_config c = base_config();
	struct store_pair q;
	char pid[40];
	int cached, hits = 0;

	c.max_pairs_per_client = 1024;
	c.store_capacity = 4096;
	open_store(&c);
	for (int i = 0; i <= STORE_PAIR_CACHE_SIZE; i++) {
		pid_n(pid, sizeof pid, i);
		put_one(CID_A, pid);
		cr_assert_eq(store_pair_lookup(CID_A, pid, 0, &q, &cached), STORE_OK);
		cr_assert_eq(cached, 0);
	}
	/* newest first: a miss read again only pushes out older pairs */
	for (int i = STORE_PAIR_CACHE_SIZE; i >= 0; i--) {
		pid_n(pid, sizeof pid, i);
		cr_assert_eq(store_pair_lookup(CID_A, pid, 0, &q, &cached), STORE_OK);
		hits += cached;
	}
	cr_assert_leq(hits, STORE_PAIR_CACHE_SIZE);
	cr_assert_gt(hits, STORE_PAIR_CACHE_SIZE / 2, "hits %d", hits);
}

/* ---- embedded store only ---- */

Test(embedded, lru_eviction_when_full, .init = setup_embedded, .fini = teardown)
{
	struct store_config c = base_config();
	struct store_pair q;
	char pid[40];

	c.store_capacity = 4;
	c.max_pairs_per_client = 100;
	open_store(&c);
	for (int i = 1; i <= 4; i++) {
		pid_n(pid, sizeof pid, i);
		put_one(CID_A, pid);
	}
	pid_n(pid, sizeof pid, 1);
	cr_assert_eq(store_window_accept(CID_A, pid, 1), STORE_OK);     /* 1 becomes most recent */
	pid_n(pid, sizeof pid, 2);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_OK);         /* a get is not a use */
	pid_n(pid, sizeof pid, 5);
	put_one(CID_A, pid);                                             /* evicts 2 */
	pid_n(pid, sizeof pid, 2);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_NOT_FOUND);
	pid_n(pid, sizeof pid, 6);
	put_one(CID_B, pid);                                             /* evicts 3 */
	pid_n(pid, sizeof pid, 3);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_NOT_FOUND);
	for (int i = 1; i <= 5; i += (i == 1 ? 3 : 1)) {
		pid_n(pid, sizeof pid, i);
		cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_OK, "pair %d", i);
	}
	/* deleting frees a slot: no eviction on the next put */
	pid_n(pid, sizeof pid, 4);
	cr_assert_eq(store_pair_delete(CID_A, pid), STORE_OK);
	put_one(CID_B, "fills-the-freed-slot");
	pid_n(pid, sizeof pid, 1);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_OK);
	pid_n(pid, sizeof pid, 5);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_OK);
}

/* STORE_RATE_SLOTS counters at most: after STORE_RATE_SLOTS + 1 buckets,
 * no more than STORE_RATE_SLOTS are remembered (a full set of 4 drops its
 * oldest window), and most are (the sets are chosen by a keyed hash). */
Test(embedded, rate_counters_are_bounded, .init = setup_embedded, .fini = teardown)
{
	unsigned retry, remembered = 0;
	char bucket[32];

	for (int i = 0; i <= STORE_RATE_SLOTS; i++) {
		snprintf(bucket, sizeof bucket, "a:%d", i);
		cr_assert_eq(store_rate_take(bucket, 1, 1, 60, &retry), STORE_OK);
	}
	/* Newest first: a dropped bucket taken again may push out an older
	 * one, never one not yet looked at. */
	for (int i = STORE_RATE_SLOTS; i >= 0; i--) {
		snprintf(bucket, sizeof bucket, "a:%d", i);
		/* remembered: spent; dropped: a new window, taken again */
		remembered += store_rate_take(bucket, 1, 1, 60, &retry) == STORE_LIMITED;
	}
	cr_assert_leq(remembered, STORE_RATE_SLOTS);
	cr_assert_gt(remembered, STORE_RATE_SLOTS / 2, "remembered %u", remembered);
}

/* A full embedded store makes room from its fresh pairs first: pairs that
 * carried a request outlive any number of new ones; only a table of used
 * pairs evicts a used one.  Evictions are counted by kind. */
Test(embedded, fresh_pairs_make_room_first, .init = setup_embedded, .fini = teardown)
{
	struct store_config c = base_config();
	struct store_pair q;
	char pid[40], text[METRICS_BODY_MAX];

	c.store_capacity = 4;
	c.max_pairs_per_client = 1000;
	cr_assert_eq(metrics_init(), 0);
	open_store(&c);
	for (int i = 1; i <= 4; i++) {
		pid_n(pid, sizeof pid, i);
		put_one(CID_A, pid);
		if (i <= 2)
			cr_assert_eq(store_window_accept(CID_A, pid, 1), STORE_OK);   /* 1, 2 used */
	}
	/* a flood of 100 new pairs: only fresh ones make room */
	for (int i = 5; i < 105; i++) {
		pid_n(pid, sizeof pid, i);
		put_one(CID_B, pid);
	}
	for (int i = 1; i <= 2; i++) {
		pid_n(pid, sizeof pid, i);
		cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_OK, "used pair %d survived", i);
		cr_assert_eq(store_window_accept(CID_A, pid, 2), STORE_OK);
	}
	for (int i = 3; i <= 4; i++) {
		pid_n(pid, sizeof pid, i);
		cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_NOT_FOUND, "fresh pair %d evicted", i);
	}
	for (int i = 103; i < 105; i++) {
		pid_n(pid, sizeof pid, i);
		cr_assert_eq(store_pair_get(CID_B, pid, &q), STORE_OK, "newest fresh pair %d kept", i);
	}
	cr_assert_eq(metrics_render(text, sizeof text) > 0, 1);
	cr_assert_not_null(strstr(text, "mte_relay_store_evictions_total{kind=\"fresh\"} 100\n"), "%s", text);
	cr_assert_not_null(strstr(text, "mte_relay_store_evictions_total{kind=\"used\"} 0\n"));
	/* all used now: the least recently used pair goes */
	for (int i = 103; i < 105; i++) {
		pid_n(pid, sizeof pid, i);
		cr_assert_eq(store_window_accept(CID_B, pid, 1), STORE_OK);
	}
	pid_n(pid, sizeof pid, 200);
	put_one(CID_B, pid);
	pid_n(pid, sizeof pid, 1);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_NOT_FOUND, "the LRU used pair made room");
	pid_n(pid, sizeof pid, 2);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_OK);
	cr_assert_eq(metrics_render(text, sizeof text) > 0, 1);
	cr_assert_not_null(strstr(text, "mte_relay_store_evictions_total{kind=\"used\"} 1\n"));
}

/*
 * A worker SIGKILLed inside the lock, in the middle of a put: the processes
 * waiting for the lock get it (EOWNERDEAD), the table is rebuilt, the
 * half-written pair is dropped and the others are intact.
 */
Test(embedded, killed_lock_holder_does_not_block, .init = setup_embedded, .fini = teardown)
{
	struct store_pair q;
	struct capture cap;
	char *log, pid[40];
	int pfd[2], status;
	pid_t holder, waiters[2];
	char c;
	struct store_config cfg = base_config();

	cfg.max_pairs_per_client = 100;
	open_store(&cfg);
	for (int i = 1; i <= 20; i++) {
		pid_n(pid, sizeof pid, i);
		put_one(i % 2 ? CID_A : CID_B, pid);
	}
	pid_n(pid, sizeof pid, 3);
	cr_assert_eq(store_window_accept(CID_A, pid, 10), STORE_OK);    /* 3 is now the newest */
	cr_assert(pipe(pfd) == 0);
	holder = fork();
	cr_assert(holder >= 0);
	if (holder == 0) {
		store_worker_init();
		store_shm_debug_hold_lock(pfd[1]);
		_exit(3);
	}
	cr_assert_eq(read(pfd[0], &c, 1), 1, "the holder took the lock");
	/* A live holder that never lets go: give up after STORE_LOCK_TIMEOUT_MS. */
	capture_start(&cap);
	cr_assert_eq(store_health(), STORE_UNAVAILABLE);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	log = capture_end(&cap);
	cr_assert(strstr(log, "lock failed") != NULL, "%s", log);
	free(log);
	/* Two workers now block on the lock (their log goes to the capture). */
	capture_start(&cap);
	for (int k = 0; k < 2; k++) {
		waiters[k] = fork();
		cr_assert(waiters[k] >= 0);
		if (waiters[k] == 0) {
			char p5[40];
			store_worker_init();
			pid_n(p5, sizeof p5, 5);
			_exit(store_window_accept(CID_A, p5, (uint64_t)(100 + k)) == STORE_OK ? 0 : 1);
		}
	}
	sleep_ms(100);
	cr_assert_eq(waitpid(waiters[0], &status, WNOHANG), 0, "waiter blocked behind the holder");
	kill(holder, SIGKILL);
	cr_assert_eq(waitpid(holder, &status, 0), holder);
	for (int k = 0; k < 2; k++) {
		cr_assert_eq(waitpid(waiters[k], &status, 0), waiters[k]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "waiter %d", k);
	}
	cr_assert_eq(store_health(), STORE_OK);
	log = capture_end(&cap);
	cr_assert(strstr(log, "table rebuilt") != NULL, "%s", log);
	cr_assert(strstr(log, "\"pairs_dropped\":1") != NULL, "%s", log);
	free(log);
	pid_n(pid, sizeof pid, 3);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_NOT_FOUND, "the half-written pair is dropped");
	for (int i = 1; i <= 20; i++) {
		if (i == 3)
			continue;
		pid_n(pid, sizeof pid, i);
		cr_assert_eq(store_pair_get(i % 2 ? CID_A : CID_B, pid, &q), STORE_OK, "pair %d survives", i);
	}
	pid_n(pid, sizeof pid, 5);
	cr_assert_eq(store_window_accept(CID_A, pid, 100), STORE_REPLAY, "the waiters' accepts stuck");
	cr_assert_eq(store_window_accept(CID_A, pid, 101), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, pid, 102), STORE_OK);
	/* the table keeps working: puts, evictions by cap, deletes */
	for (int i = 21; i <= 40; i++) {
		pid_n(pid, sizeof pid, i);
		put_one(CID_A, pid);
	}
	pid_n(pid, sizeof pid, 40);
	cr_assert_eq(store_pair_get(CID_A, pid, &q), STORE_OK);
	cr_assert_eq(store_pair_delete(CID_A, pid), STORE_OK);
	close(pfd[0]);
	close(pfd[1]);
}

Test(embedded, debug_hook_refuses_without_embedded_store)
{
	cr_assert_eq(store_shm_debug_hold_lock(1), -1);
}

/* ---- slots: the outbound mode's shared client state (store.h) ---- */

CONTRACT(slot_compare_and_set, 20)
{
	struct store_slot s;
	uint8_t big[STORE_SLOT_VALUE_MAX + 1];
	uint64_t n = 0;

	memset(big, 0xab, sizeof big);
	cr_assert_eq(store_slot_get("ob:0123456789abcdef", 0, &s), STORE_NOT_FOUND);
	cr_assert_eq(store_slot_next("ob:0123456789abcdef", 0, 7, &n), STORE_NOT_FOUND);
	cr_assert_eq(store_slot_replace("ob:0123456789abcdef", 0, 5, 7, (const uint8_t *)"x", 1),
	    STORE_EXISTS, "expect a version of an absent slot");
	cr_assert_eq(store_slot_replace("ob:0123456789abcdef", 0, 0, 7, (const uint8_t *)"id-1", 4),
	    STORE_OK);
	cr_assert_eq(store_slot_replace("ob:0123456789abcdef", 0, 0, 8, (const uint8_t *)"id-2", 4),
	    STORE_EXISTS, "only when absent");
	cr_assert_eq(store_slot_get("ob:0123456789abcdef", 0, &s), STORE_OK);
	cr_assert_eq(s.version, 7u);
	cr_assert_eq(s.len, 4u);
	cr_assert(memcmp(s.value, "id-1", 4) == 0);
	cr_assert_eq(store_slot_next("ob:0123456789abcdef", 0, 7, &n), STORE_OK);
	cr_assert_eq(n, 1u);
	cr_assert_eq(store_slot_next("ob:0123456789abcdef", 0, 7, &n), STORE_OK);
	cr_assert_eq(n, 2u);
	cr_assert_eq(store_slot_next("ob:0123456789abcdef", 0, 8, &n), STORE_STALE);
	cr_assert_eq(store_slot_replace("ob:0123456789abcdef", 0, 8, 9, big, 3), STORE_EXISTS,
	    "a stale expectation changes nothing");
	/* a replacement resets the counter; binary values, the longest allowed */
	cr_assert_eq(store_slot_replace("ob:0123456789abcdef", 0, 7, UINT64_MAX, big,
	    STORE_SLOT_VALUE_MAX), STORE_OK);
	cr_assert_eq(store_slot_get("ob:0123456789abcdef", 0, &s), STORE_OK);
	cr_assert_eq(s.version, UINT64_MAX);
	cr_assert_eq(s.len, (size_t)STORE_SLOT_VALUE_MAX);
	cr_assert(memcmp(s.value, big, STORE_SLOT_VALUE_MAX) == 0);
	cr_assert_eq(store_slot_next("ob:0123456789abcdef", 0, 7, &n), STORE_STALE);
	cr_assert_eq(store_slot_next("ob:0123456789abcdef", 0, UINT64_MAX, &n), STORE_OK);
	cr_assert_eq(n, 1u);
	/* other indexes and groups are other slots */
	cr_assert_eq(store_slot_get("ob:0123456789abcdef", 1, &s), STORE_NOT_FOUND);
	cr_assert_eq(store_slot_get("ob:fedcba9876543210", 0, &s), STORE_NOT_FOUND);
	cr_assert_eq(store_slot_replace("ob:0123456789abcdef", STORE_SLOT_INDEX_MAX, 0, 1, big, 1),
	    STORE_OK, "the last index");
	/* limits + 1 and bad arguments */
	cr_assert_eq(store_slot_replace("ob:0123456789abcdef", 2, 0, 1, big,
	    STORE_SLOT_VALUE_MAX + 1), STORE_NOT_FOUND, "value over STORE_SLOT_VALUE_MAX");
	cr_assert_eq(store_slot_replace("ob:0123456789abcdef", STORE_SLOT_INDEX_MAX + 1, 0, 1, big, 1),
	    STORE_NOT_FOUND, "index over STORE_SLOT_INDEX_MAX");
	cr_assert_eq(store_slot_replace("ob:0123456789abcdef", 2, 0, 0, big, 1), STORE_NOT_FOUND,
	    "version 0");
	cr_assert_eq(store_slot_get("OB:upper", 0, &s), STORE_NOT_FOUND);
	cr_assert_eq(store_slot_get("", 0, &s), STORE_NOT_FOUND);
	{
		char g[STORE_SLOT_GROUP_MAX + 2];
		memset(g, 'a', sizeof g);
		g[STORE_SLOT_GROUP_MAX] = '\0';
		cr_assert_eq(store_slot_replace(g, 0, 0, 1, big, 1), STORE_OK, "the longest group");
		g[STORE_SLOT_GROUP_MAX] = 'a';
		g[STORE_SLOT_GROUP_MAX + 1] = '\0';
		cr_assert_eq(store_slot_get(g, 0, &s), STORE_NOT_FOUND, "group over the limit");
	}
}

/* Slot number k of a fill: group "ob:<k / indexes>", index k % indexes
 * (indexes 0..STORE_SLOT_INDEX_MAX per group, as the outbound mode uses
 * them), version k + 1, a 4-byte value of k. */
#define SLOT_INDEXES (STORE_SLOT_INDEX_MAX + 1)

static void
slot_of(unsigned k, char group[STORE_SLOT_GROUP_MAX + 1], unsigned *index, uint8_t value[4])
{
	uint32_t k32 = k;

	snprintf(group, STORE_SLOT_GROUP_MAX + 1, "ob:%u", k / SLOT_INDEXES);
	*index = k % SLOT_INDEXES;
	memcpy(value, &k32, 4);
}

static enum store_status
slot_fill(unsigned k)
{
	char g[STORE_SLOT_GROUP_MAX + 1];
	unsigned idx;
	uint8_t v[4];

	slot_of(k, g, &idx, v);
	return store_slot_replace(g, idx, 0, (uint64_t)k + 1, v, sizeof v);
}

static void
slot_check(unsigned k)
{
	char g[STORE_SLOT_GROUP_MAX + 1];
	struct store_slot s;
	unsigned idx;
	uint8_t v[4];

	slot_of(k, g, &idx, v);
	cr_assert_eq(store_slot_get(g, idx, &s), STORE_OK, "slot %u", k);
	cr_assert_eq(s.version, (uint64_t)k + 1, "slot %u", k);
	cr_assert_eq(s.len, sizeof v);
	cr_assert(memcmp(s.value, v, sizeof v) == 0, "slot %u", k);
}

/*
 * The embedded table keeps STORE_SLOTS_MAX slots (every partner's id and
 * pairs): that many distinct slots are stored; one more is refused with
 * STORE_UNAVAILABLE (store.h) and not stored, while the slots there keep
 * working (a replacement and a counter need no new entry).
 */
Test(embedded, slots_are_bounded, .init = setup_embedded, .fini = teardown)
{
	char g[STORE_SLOT_GROUP_MAX + 1];
	struct store_slot s;
	unsigned idx;
	uint8_t v[4];
	uint64_t n = 0;

	for (unsigned k = 0; k < STORE_SLOTS_MAX; k++)
		cr_assert_eq(slot_fill(k), STORE_OK, "slot %u of %d", k, STORE_SLOTS_MAX);
	cr_assert_eq(slot_fill(STORE_SLOTS_MAX), STORE_UNAVAILABLE, "one slot more than STORE_SLOTS_MAX");
	slot_of(STORE_SLOTS_MAX, g, &idx, v);
	cr_assert_eq(store_slot_get(g, idx, &s), STORE_NOT_FOUND, "the refused slot is not stored");
	cr_assert_eq(store_slot_next(g, idx, STORE_SLOTS_MAX + 1, &n), STORE_NOT_FOUND);
	for (unsigned k = 0; k < STORE_SLOTS_MAX; k++)
		slot_check(k);
	/* full: an existing slot is still replaced (a stale expectation still
	 * loses), and counted */
	slot_of(STORE_SLOTS_MAX - 1, g, &idx, v);
	cr_assert_eq(store_slot_replace(g, idx, 1, 7, v, 1), STORE_EXISTS);
	cr_assert_eq(store_slot_replace(g, idx, STORE_SLOTS_MAX, 7, v, 1), STORE_OK);
	cr_assert_eq(store_slot_next(g, idx, 7, &n), STORE_OK);
	cr_assert_eq(n, 1u);
	cr_assert_eq(slot_fill(STORE_SLOTS_MAX), STORE_UNAVAILABLE, "still full");
}

/* Redis keeps one key per slot: no STORE_SLOTS_MAX there; one more than
 * the embedded table holds is stored like the others. */
static void
slots_unbounded_body(void)
{
	for (unsigned k = 0; k <= STORE_SLOTS_MAX; k++)
		cr_assert_eq(slot_fill(k), STORE_OK, "slot %u", k);
	for (unsigned k = 0; k <= STORE_SLOTS_MAX; k++)
		slot_check(k);
}

Test(contract_redis, slots_are_not_bounded, .init = setup_redis, .fini = teardown)
{
	alarm(60);
	slots_unbounded_body();
}

Test(contract_cluster, slots_are_not_bounded, .init = setup_cluster, .fini = teardown)
{
	alarm(60);
	slots_unbounded_body();
}

/* 8 processes x 500 counter increments on one slot: every count 1..4000
 * handed out exactly once (the outbound mode's seqs). */
#define SLOT_PROCS 8
#define SLOT_TAKES 500

CONTRACT(slot_counter_concurrent, 120)
{
	uint32_t *count;
	pid_t kids[SLOT_PROCS];

	cr_assert_eq(store_slot_replace("ob:conc", 3, 0, 42, (const uint8_t *)"p", 1), STORE_OK);
	count = mmap(NULL, (SLOT_PROCS * SLOT_TAKES + 1) * sizeof *count, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(count != MAP_FAILED);
	for (int k = 0; k < SLOT_PROCS; k++) {
		kids[k] = fork();
		cr_assert(kids[k] >= 0);
		if (kids[k] == 0) {
			int bad = 0;
			store_worker_init();
			for (int i = 0; i < SLOT_TAKES; i++) {
				uint64_t n = 0;
				if (store_slot_next("ob:conc", 3, 42, &n) != STORE_OK ||
				    n == 0 || n > SLOT_PROCS * SLOT_TAKES)
					bad++;
				else
					__atomic_fetch_add(&count[n], 1, __ATOMIC_RELAXED);
			}
			store_worker_close();
			_exit(bad ? 1 : 0);
		}
	}
	for (int k = 0; k < SLOT_PROCS; k++) {
		int status;
		cr_assert_eq(waitpid(kids[k], &status, 0), kids[k]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d failed", k);
	}
	for (int i = 1; i <= SLOT_PROCS * SLOT_TAKES; i++)
		cr_assert_eq(count[i], 1, "count %d handed out %u times", i, count[i]);
	munmap(count, (SLOT_PROCS * SLOT_TAKES + 1) * sizeof *count);
}
