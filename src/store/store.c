/* store.c - backend selection, argument checks, the latency and error
 * metrics of every operation, and the replay window rule shared by the
 * backends (see store.h, backend.h). */
#include "store/store.h"
#include "store/backend.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "protocol.h"
#include "crypto/rand.h"
#include "crypto/wipe.h"

#include <string.h>

static const struct store_backend *backend;     /* NULL before store_init */

static void cache_clear(void);

int
store_ids_valid(const char *cid, const char *pid)
{
	if (cid == NULL || pid == NULL)
		return 0;
	return protocol_client_id_ok(cid, strnlen(cid, STORE_CLIENT_ID_LEN + 1))
	    && protocol_pair_id_ok(pid, strnlen(pid, PAIR_ID_MAX + 1));
}

/* Clears ring bits [a, b) of bm, 0 <= a <= b <= w. */
static void
bits_clear(uint8_t *bm, uint32_t a, uint32_t b)
{
	while (a < b && (a & 7) != 0) {
		bm[a >> 3] &= (uint8_t)~(1u << (a & 7));
		a++;
	}
	if (b - a >= 8) {
		memset(bm + (a >> 3), 0, (b - a) >> 3);
		a += (b - a) & ~7u;
	}
	while (a < b) {
		bm[a >> 3] &= (uint8_t)~(1u << (a & 7));
		a++;
	}
}

int
store_window_apply(uint64_t *hi, uint8_t *bm, uint32_t w, uint64_t seq)
{
	uint32_t pos = (uint32_t)(seq % w), bit = 1u << (pos & 7);

	if (seq == 0)
		return 0;
	if (seq > *hi) {
		uint64_t d = seq - *hi;
		if (d >= w) {
			memset(bm, 0, store_window_bytes(w));
		} else if (d > 1) {
			/* Forget the seqs leaving the window: the ring positions of
			 * hi+1 .. seq-1 (d-1 < w of them, possibly wrapping). */
			uint32_t start = (uint32_t)((*hi + 1) % w), n = (uint32_t)d - 1;
			if (start + n <= w) {
				bits_clear(bm, start, start + n);
			} else {
				bits_clear(bm, start, w);
				bits_clear(bm, 0, start + n - w);
			}
		}
		bm[pos >> 3] |= (uint8_t)bit;
		*hi = seq;
		return 1;
	}
	if (*hi - seq >= w || (bm[pos >> 3] & bit) != 0)
		return 0;
	bm[pos >> 3] |= (uint8_t)bit;
	return 1;
}

static int
settings_from_config(const struct store_config *cfg, struct store_settings *s)
{
	const char *sid = cfg->server_id;
	size_t i, n;

	memset(s, 0, sizeof *s);
	n = sid ? strnlen(sid, STORE_SERVER_ID_MAX + 1) : 0;
	if (n == 0 || n > STORE_SERVER_ID_MAX) {
		log_msg(LOG_ERROR, "config error: SERVER_ID must be 1..%d bytes", STORE_SERVER_ID_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)sid[i];
		/* No braces: they would change the Redis Cluster hash tag. */
		if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}') {
			log_msg(LOG_ERROR, "config error: SERVER_ID must be printable ASCII without spaces or braces");
			return -1;
		}
	}
	memcpy(s->server_id, sid, n);
	if (cfg->state_ttl == 0) {
		log_msg(LOG_ERROR, "config error: STATE_TTL must be at least 1 second");
		return -1;
	}
	if (cfg->replay_window == 0 || cfg->replay_window > REPLAY_WINDOW_MAX) {
		log_msg(LOG_ERROR, "config error: REPLAY_WINDOW must be 1..%d", REPLAY_WINDOW_MAX);
		return -1;
	}
	if (cfg->max_pairs_per_client == 0) {
		log_msg(LOG_ERROR, "config error: MAX_PAIRS_PER_CLIENT must be at least 1");
		return -1;
	}
	s->ttl_ms = (uint64_t)cfg->state_ttl * 1000;
	s->fresh_ttl_ms = cfg->fresh_pair_ttl > 0 && cfg->fresh_pair_ttl < cfg->state_ttl
	    ? (uint64_t)cfg->fresh_pair_ttl * 1000 : s->ttl_ms;
	s->window = cfg->replay_window;
	s->max_pairs_per_client = cfg->max_pairs_per_client;
	if (cfg->redis_url == NULL || cfg->redis_url[0] == '\0') {
		/* Slot indexes are uint32_t with UINT32_MAX as "none". */
		if (cfg->store_capacity == 0 || cfg->store_capacity >= UINT32_MAX / 2) {
			log_msg(LOG_ERROR, "config error: STORE_CAPACITY must be 1..%u", UINT32_MAX / 2 - 1);
			return -1;
		}
		s->capacity = (uint32_t)cfg->store_capacity;
	}
	return 0;
}

int
store_init(const struct store_config *cfg)
{
	struct store_settings s;
	const struct store_backend *b;
	int rc;

	if (backend != NULL) {
		backend->fini();
		backend = NULL;
	}
	cache_clear();      /* a new store: nothing cached holds */
	if (cfg == NULL || settings_from_config(cfg, &s) != 0)
		return STORE_INIT_BAD_CONFIG;
	b = (cfg->redis_url && cfg->redis_url[0]) ? &store_backend_redis : &store_backend_shm;
	rc = b->init(&s, cfg);
	if (rc == STORE_INIT_OK)
		backend = b;
	return rc;
}

int
store_worker_init(void)
{
	cache_clear();      /* nothing of the parent's */
	if (backend != NULL)
		backend->worker_init();
	return 0;
}

void
store_worker_close(void)
{
	cache_clear();
	if (backend != NULL)
		backend->worker_close();
}

const char *
store_backend_name(void)
{
	return backend ? backend->name : "none";
}

/*
 * The one place that measures the operations below: every call (argument
 * refusals included) is one store_duration_seconds observation, from t0 (a
 * clock_s() reading at its start) until now, and every STORE_UNAVAILABLE
 * answer is one store_errors_total.  Returns st.
 */
static enum store_status
observed(double t0, enum store_status st)
{
	metrics_observe_store_latency(clock_s() - t0);
	if (st == STORE_UNAVAILABLE)
		metrics_count_store_error();
	return st;
}

/* STORE_OK when an operation on (cid, pid) may go to the backend; else
 * its answer: STORE_UNAVAILABLE before store_init, STORE_NOT_FOUND for ids
 * that are never stored. */
static enum store_status
admit(const char *cid, const char *pid)
{
	if (backend == NULL)
		return STORE_UNAVAILABLE;
	return store_ids_valid(cid, pid) ? STORE_OK : STORE_NOT_FOUND;
}

enum store_status
store_pair_put(const struct store_pair *p)
{
	double t0 = clock_s();
	enum store_status st = admit(p ? p->client_id : NULL, p ? p->pair_id : NULL);
	struct store_pair q;

	if (st == STORE_OK) {
		q = *p;
		do
			rand_bytes(&q.generation, sizeof q.generation);
		while (q.generation == 0);
		st = backend->put(&q);
		crypto_wipe(&q, sizeof q);
	}
	return observed(t0, st);
}

enum store_status
store_pair_get(const char *client_id, const char *pair_id, struct store_pair *out)
{
	double t0 = clock_s();
	enum store_status st = admit(client_id, pair_id);

	if (st == STORE_OK)
		st = backend->get(client_id, pair_id, out);
	return observed(t0, st);
}

static enum store_status
window_accept(const char *client_id, const char *pair_id, const uint64_t *generation,
    uint64_t seq)
{
	double t0 = clock_s();
	enum store_status st = admit(client_id, pair_id);

	/* seq 0 is never valid; the backends check it again. */
	if (st == STORE_OK && seq == 0)
		st = STORE_REPLAY;
	else if (st == STORE_OK)
		st = backend->accept(client_id, pair_id, generation, seq);
	return observed(t0, st);
}

enum store_status
store_window_accept(const char *client_id, const char *pair_id, uint64_t seq)
{
	return window_accept(client_id, pair_id, NULL, seq);
}

enum store_status
store_window_accept_gen(const char *client_id, const char *pair_id, uint64_t generation,
    uint64_t seq)
{
	enum store_status st = window_accept(client_id, pair_id, &generation, seq);

	if (st == STORE_STALE || st == STORE_NOT_FOUND)
		store_pair_forget(client_id, pair_id);
	return st;
}

/* ---- this process's pair cache (store_pair_lookup) ----
 * CACHE_WAYS-way sets chosen by SipHash under a per-process random key (a
 * client cannot aim its pair ids at one set); within a set the least
 * recently used entry makes room.  Keys of a dropped entry are wiped. */

#define CACHE_WAYS 4
#define CACHE_SETS (STORE_PAIR_CACHE_SIZE / CACHE_WAYS)

struct cache_entry {
	struct store_pair pair;         /* pair.client_id[0] == 0: empty */
	uint64_t          used;
};

static struct {
	struct cache_entry entry[CACHE_SETS][CACHE_WAYS];
	uint64_t           clock;
	uint8_t            key[16];
	int                keyed;
} cache;

/* Wipes the entries in use only: a worker starts with the cache untouched,
 * and wiping all of it would make every page of it its own (a fifth of an
 * idle worker's private memory) for nothing. */
static void
cache_clear(void)
{
	for (size_t s = 0; s < CACHE_SETS; s++)
		for (size_t w = 0; w < CACHE_WAYS; w++)
			if (cache.entry[s][w].used != 0 || cache.entry[s][w].pair.client_id[0] != '\0')
				crypto_wipe(&cache.entry[s][w], sizeof cache.entry[s][w]);
	crypto_wipe(cache.key, sizeof cache.key);
	cache.keyed = 0;
	cache.clock = 0;
}

static struct cache_entry *
cache_set(const char *cid, const char *pid)
{
	uint8_t buf[STORE_CLIENT_ID_LEN + PAIR_ID_MAX];
	size_t n = strlen(pid);

	if (!cache.keyed) {
		rand_bytes(cache.key, sizeof cache.key);
		cache.keyed = 1;
	}
	memcpy(buf, cid, STORE_CLIENT_ID_LEN);
	memcpy(buf + STORE_CLIENT_ID_LEN, pid, n);
	return cache.entry[store_siphash24(cache.key, buf, STORE_CLIENT_ID_LEN + n) % CACHE_SETS];
}

static struct cache_entry *
cache_find(struct cache_entry *set, const char *cid, const char *pid)
{
	for (int i = 0; i < CACHE_WAYS; i++)
		if (set[i].pair.client_id[0] != '\0' &&
		    memcmp(set[i].pair.client_id, cid, STORE_CLIENT_ID_LEN) == 0 &&
		    strcmp(set[i].pair.pair_id, pid) == 0)
			return &set[i];
	return NULL;
}

static void
cache_keep(const struct store_pair *p)
{
	struct cache_entry *set = cache_set(p->client_id, p->pair_id);
	struct cache_entry *e = cache_find(set, p->client_id, p->pair_id);

	for (int i = 0; e == NULL && i < CACHE_WAYS; i++)
		if (set[i].pair.client_id[0] == '\0')
			e = &set[i];
	for (int i = 0; e == NULL && i < CACHE_WAYS; i++)
		if (i == 0 || set[i].used < e->used)
			e = &set[i];
	crypto_wipe(&e->pair, sizeof e->pair);
	e->pair = *p;
	e->used = ++cache.clock;
}

void
store_pair_forget(const char *client_id, const char *pair_id)
{
	struct cache_entry *e;

	if (!store_ids_valid(client_id, pair_id))
		return;
	e = cache_find(cache_set(client_id, pair_id), client_id, pair_id);
	if (e != NULL)
		crypto_wipe(e, sizeof *e);
}

enum store_status
store_pair_lookup(const char *client_id, const char *pair_id, int refresh,
    struct store_pair *out, int *cached)
{
	struct cache_entry *e = NULL;
	enum store_status st;

	*cached = 0;
	if (backend != NULL && store_ids_valid(client_id, pair_id) && !refresh)
		e = cache_find(cache_set(client_id, pair_id), client_id, pair_id);
	if (e != NULL) {
		*out = e->pair;
		e->used = ++cache.clock;
		*cached = 1;
		metrics_count_store_cache_hit();
		return STORE_OK;
	}
	st = store_pair_get(client_id, pair_id, out);
	if (st == STORE_OK) {
		kdf_root_init(&out->root_req, out->k_req);
		kdf_root_init(&out->root_res, out->k_res);
		cache_keep(out);
	}
	else if (st == STORE_NOT_FOUND)
		store_pair_forget(client_id, pair_id);
	return st;
}

enum store_status
store_pair_delete(const char *client_id, const char *pair_id)
{
	double t0 = clock_s();
	enum store_status st = admit(client_id, pair_id);

	store_pair_forget(client_id, pair_id);
	if (st == STORE_OK)
		st = backend->del(client_id, pair_id);
	return observed(t0, st);
}

/* 1 when b is a rate bucket name store_rate_take accepts. */
static int
bucket_ok(const char *b)
{
	size_t n = b != NULL ? strnlen(b, STORE_RATE_BUCKET_MAX + 1) : 0;

	if (n == 0 || n > STORE_RATE_BUCKET_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((b[i] >= '0' && b[i] <= '9') || (b[i] >= 'a' && b[i] <= 'z') || b[i] == ':'))
			return 0;
	return 1;
}

enum store_status
store_rate_take(const char *bucket, unsigned n, unsigned limit, unsigned window_s,
    unsigned *retry_after_s)
{
	double t0 = clock_s();
	enum store_status st;

	if (backend == NULL)
		st = STORE_UNAVAILABLE;
	else if (!bucket_ok(bucket) || n == 0 || window_s == 0 || window_s > 86400)
		st = STORE_NOT_FOUND;
	else
		st = backend->rate(bucket, n, limit, window_s, retry_after_s);
	return observed(t0, st);
}

/* 1 when g names a slot group (store.h) and index is in range. */
static int
slot_args_ok(const char *g, unsigned index)
{
	size_t n = g != NULL ? strnlen(g, STORE_SLOT_GROUP_MAX + 1) : 0;

	if (n == 0 || n > STORE_SLOT_GROUP_MAX || index > STORE_SLOT_INDEX_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((g[i] >= '0' && g[i] <= '9') || (g[i] >= 'a' && g[i] <= 'z') || g[i] == ':'))
			return 0;
	return 1;
}

enum store_status
store_slot_get(const char *group, unsigned index, struct store_slot *out)
{
	double t0 = clock_s();
	enum store_status st;

	if (backend == NULL)
		st = STORE_UNAVAILABLE;
	else if (!slot_args_ok(group, index))
		st = STORE_NOT_FOUND;
	else
		st = backend->slot_get(group, index, out);
	return observed(t0, st);
}

enum store_status
store_slot_replace(const char *group, unsigned index, uint64_t expect, uint64_t version,
    const uint8_t *value, size_t len)
{
	double t0 = clock_s();
	enum store_status st;

	if (backend == NULL)
		st = STORE_UNAVAILABLE;
	else if (!slot_args_ok(group, index) || version == 0 || len > STORE_SLOT_VALUE_MAX ||
	    (value == NULL && len > 0))
		st = STORE_NOT_FOUND;
	else
		st = backend->slot_replace(group, index, expect, version, value, len);
	return observed(t0, st);
}

enum store_status
store_slot_next(const char *group, unsigned index, uint64_t version, uint64_t *n)
{
	double t0 = clock_s();
	enum store_status st;

	if (backend == NULL)
		st = STORE_UNAVAILABLE;
	else if (!slot_args_ok(group, index) || version == 0)
		st = STORE_NOT_FOUND;
	else
		st = backend->slot_next(group, index, version, n);
	return observed(t0, st);
}

enum store_status
store_health(void)
{
	double t0 = clock_s();

	return observed(t0, backend ? backend->health() : STORE_UNAVAILABLE);
}
