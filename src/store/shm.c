/*
 * shm.c - the embedded store: a fixed-size table of pairs in one
 * MAP_SHARED|MAP_ANONYMOUS mapping made by the parent before fork, shared by
 * all workers and guarded by one process-shared robust mutex.
 *
 * Layout of the mapping (all links are slot handles; handle 0 is "none" and
 * slot 0 is never used, so the zero-filled mapping is a valid empty table and
 * init touches only the header):
 *   struct table | pair buckets | client buckets | scratch | rates | slots | bitmaps
 * - pair buckets: chains (slot.next) by SipHash(cid || pid)
 * - client buckets: chains (slot.cnext) by SipHash(cid), for the per-client cap
 * - two LRU lists (slot.newer/older): fresh pairs (put, never accepted a
 *   seq) and used ones, each from the most to the least recently put or
 *   accepted.  Every put sets expires = now + fresh ttl and every accept
 *   now + ttl, one ttl per list, so each list's LRU order is its expiry
 *   order: its tail is both the first to expire and the first to evict.
 *   Room is made from the fresh list first (PROTOCOL.md, "Fresh pairs").
 * - rate counters (store_rate_take): STORE_RATE_SLOTS entries in sets of 4
 *   chosen by SipHash of the bucket name.
 * - value slots (store_slot_*): STORE_SLOTS_MAX entries, found by a scan
 *   (the outbound mode's few dozen); a write sets the version to 0 first
 *   and the new one last, so a writer killed halfway leaves an absent slot.
 * - slots never used yet are taken from table.fresh; freed ones go to a list.
 *
 * Crash safety: a worker may die (SIGKILL, crash) while holding the lock.
 * Every change to a slot sets slot.state = SLOT_WRITING first and SLOT_LIVE
 * last; the chains, the LRU list and the free list are derived data.  The
 * next locker gets EOWNERDEAD and rebuilds all derived data from the slots,
 * dropping any slot that was being written (its pair is lost: the client
 * pairs again; a dropped pair can never let a replay through).
 */
#include "store/store.h"
#include "store/backend.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "crypto/rand.h"
#include "crypto/wipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { SLOT_FREE = 0, SLOT_LIVE = 1, SLOT_WRITING = 2 };

struct slot {
	uint32_t state;
	uint32_t next;                  /* pair chain, or free list */
	uint32_t cnext;                 /* client chain */
	uint32_t newer, older;          /* LRU list */
	uint32_t list;                  /* LRU_FRESH or LRU_USED */
	int64_t  expires_ms;            /* clock_ms() clock */
	uint64_t order;                 /* put order, for the per-client cap */
	uint64_t hi;                    /* highest accepted seq */
	uint64_t generation;            /* store_pair.generation */
	char     cid[STORE_CLIENT_ID_LEN + 1];
	char     pid[PAIR_ID_MAX + 1];
	uint8_t  k_req[STORE_KEY_LEN];
	uint8_t  k_res[STORE_KEY_LEN];
};

enum { LRU_FRESH = 0, LRU_USED = 1, LRU_LISTS };

struct table {
	pthread_mutex_t lock;
	uint32_t fresh;                 /* next never-used slot handle */
	uint32_t free_head;
	uint32_t lru_newest[LRU_LISTS], lru_oldest[LRU_LISTS];
	uint64_t order;                 /* last put order given */
};

/* One rate counter; id 0 is an empty entry. */
struct rate_slot {
	uint64_t id;                    /* SipHash of the bucket name, | 1 */
	int64_t  window_end_ms;         /* clock_ms() clock */
	uint32_t count;
	uint32_t pad;
};

#define RATE_WAYS 4

/* One value slot (store.h); version 0 is an empty entry. */
struct value_slot {
	uint64_t version;
	uint64_t counter;
	uint32_t index;
	uint32_t len;
	char     group[STORE_SLOT_GROUP_MAX + 1];
	uint8_t  value[STORE_SLOT_VALUE_MAX];
};

/* Process-local view of the mapping; set before fork, inherited. */
static struct {
	void        *map;
	size_t       map_len;
	struct table *t;
	uint32_t    *buckets, *cbuckets, *scratch;
	struct rate_slot *rates;        /* [STORE_RATE_SLOTS] */
	struct value_slot *vslots;      /* [STORE_SLOTS_MAX] */
	struct slot *slots;             /* [0 .. cap], slot 0 unused */
	uint8_t     *bitmaps;           /* bm_bytes per slot, same handles */
	uint32_t     cap, mask, w, bm_bytes, max_per_client;
	int64_t      ttl_ms, fresh_ttl_ms;
	uint8_t      hkey[16];          /* SipHash key: bucket choice unpredictable */
} S;

/* ---- SipHash-2-4 (Aumasson, Bernstein), keyed with S.hkey ---- */

static uint64_t
rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define SIPROUND do { \
	v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32); \
	v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32); \
} while (0)

uint64_t
store_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8), m, b;
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(p + i);
		v3 ^= m; SIPROUND; SIPROUND; v0 ^= m;
	}
	b = (uint64_t)len << 56;
	for (size_t j = 0; j < left; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b; SIPROUND; SIPROUND; v0 ^= b;
	v2 ^= 0xff;
	SIPROUND; SIPROUND; SIPROUND; SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint32_t
pair_bucket(const char *cid, const char *pid)
{
	uint8_t buf[STORE_CLIENT_ID_LEN + PAIR_ID_MAX];
	size_t n = strlen(pid);

	memcpy(buf, cid, STORE_CLIENT_ID_LEN);
	memcpy(buf + STORE_CLIENT_ID_LEN, pid, n);
	return (uint32_t)store_siphash24(S.hkey, buf, STORE_CLIENT_ID_LEN + n) & S.mask;
}

static uint32_t
client_bucket(const char *cid)
{
	/* Different input length from pair_bucket's, so a different function. */
	return (uint32_t)store_siphash24(S.hkey, cid, STORE_CLIENT_ID_LEN) & S.mask;
}

/* ---- table primitives (lock held) ---- */

static struct slot *
SL(uint32_t h)
{
	return &S.slots[h];
}

static uint8_t *
BM(uint32_t h)
{
	return S.bitmaps + (size_t)h * S.bm_bytes;
}

/* Orders the slot's stores before and after a state change even though the
 * writer may be killed at any instruction: only the compiler could reorder. */
static void
set_state(struct slot *s, uint32_t state)
{
	atomic_signal_fence(memory_order_seq_cst);
	s->state = state;
	atomic_signal_fence(memory_order_seq_cst);
}

static void
lru_unlink(uint32_t h)
{
	struct slot *s = SL(h);
	uint32_t l = s->list;

	if (s->newer) SL(s->newer)->older = s->older; else S.t->lru_newest[l] = s->older;
	if (s->older) SL(s->older)->newer = s->newer; else S.t->lru_oldest[l] = s->newer;
	s->newer = s->older = 0;
}

static void
lru_push_newest(uint32_t h, uint32_t list)
{
	struct slot *s = SL(h);

	s->list = list;
	s->newer = 0;
	s->older = S.t->lru_newest[list];
	if (s->older) SL(s->older)->newer = h; else S.t->lru_oldest[list] = h;
	S.t->lru_newest[list] = h;
}

static void
chain_unlink(uint32_t *head, uint32_t h, int client_chain)
{
	uint32_t *link = head;

	while (*link && *link != h)
		link = client_chain ? &SL(*link)->cnext : &SL(*link)->next;
	if (*link == h)
		*link = client_chain ? SL(h)->cnext : SL(h)->next;
}

static void
slot_remove(uint32_t h)
{
	struct slot *s = SL(h);

	set_state(s, SLOT_WRITING);
	chain_unlink(&S.buckets[pair_bucket(s->cid, s->pid)], h, 0);
	chain_unlink(&S.cbuckets[client_bucket(s->cid)], h, 1);
	lru_unlink(h);
	crypto_wipe(s->k_req, sizeof s->k_req);
	crypto_wipe(s->k_res, sizeof s->k_res);
	s->next = S.t->free_head;
	set_state(s, SLOT_FREE);
	S.t->free_head = h;
}

/* A free slot: a recycled one, a never-used one, or an LRU tail evicted
 * (the fresh list's while it has one: a flood of new pairs cannot push out
 * pairs in use).  An expired tail is no eviction, only a late removal. */
static uint32_t
slot_alloc(int64_t now)
{
	uint32_t h = S.t->free_head;
	int list;

	if (h) {
		S.t->free_head = SL(h)->next;
		return h;
	}
	if (S.t->fresh <= S.cap)
		return S.t->fresh++;
	list = S.t->lru_oldest[LRU_FRESH] ? LRU_FRESH : LRU_USED;
	h = S.t->lru_oldest[list];
	if (h == 0)
		return 0;
	if (SL(h)->expires_ms > now)
		metrics_count_store_eviction(list == LRU_FRESH ? METRICS_EVICT_FRESH : METRICS_EVICT_USED);
	slot_remove(h);
	S.t->free_head = SL(h)->next;
	return h;
}

/* The live pair (cid, pid), or 0; an expired one is removed on the way. */
static uint32_t
lookup(const char *cid, const char *pid, int64_t now)
{
	uint32_t h;

	for (h = S.buckets[pair_bucket(cid, pid)]; h; h = SL(h)->next) {
		struct slot *s = SL(h);
		if (memcmp(s->cid, cid, STORE_CLIENT_ID_LEN) == 0 && strcmp(s->pid, pid) == 0) {
			if (s->expires_ms <= now) {
				slot_remove(h);
				return 0;
			}
			return h;
		}
	}
	return 0;
}

/* Deletes the client's oldest pairs (never `keep`) while it has more than
 * max_per_client live ones; drops its expired ones on the way. */
static void
enforce_client_cap(const char *cid, uint32_t keep, int64_t now)
{
	uint32_t cb = client_bucket(cid);

	for (;;) {
		uint32_t h, next, count = 0, oldest = 0;
		for (h = S.cbuckets[cb]; h; h = next) {
			struct slot *s = SL(h);
			next = s->cnext;
			if (memcmp(s->cid, cid, STORE_CLIENT_ID_LEN) != 0)
				continue;
			if (s->expires_ms <= now) {
				slot_remove(h);
				continue;
			}
			count++;
			if (h != keep && (oldest == 0 || s->order < SL(oldest)->order))
				oldest = h;
		}
		if (count <= S.max_per_client || oldest == 0)
			return;
		slot_remove(oldest);
	}
}

static int
cmp_expires_desc(const void *a, const void *b)
{
	int64_t ea = SL(*(const uint32_t *)a)->expires_ms;
	int64_t eb = SL(*(const uint32_t *)b)->expires_ms;

	return (ea < eb) - (ea > eb);
}

/* After EOWNERDEAD: rebuilds chains, LRU and free lists from the slots. */
static void
rebuild(void)
{
	struct table *t = S.t;
	uint32_t h, n = 0, dropped = 0;
	uint64_t max_order = t->order;

	if (t->fresh == 0 || t->fresh > S.cap + 1)
		t->fresh = S.cap + 1;   /* damaged counter: scan everything */
	memset(S.buckets, 0, (size_t)(S.mask + 1) * sizeof *S.buckets);
	memset(S.cbuckets, 0, (size_t)(S.mask + 1) * sizeof *S.cbuckets);
	t->free_head = 0;
	memset(t->lru_newest, 0, sizeof t->lru_newest);
	memset(t->lru_oldest, 0, sizeof t->lru_oldest);
	for (h = t->fresh - 1; h >= 1; h--) {
		struct slot *s = SL(h);
		if (s->state == SLOT_LIVE && s->cid[STORE_CLIENT_ID_LEN] == '\0'
		    && store_ids_valid(s->cid, s->pid)) {
			uint32_t b = pair_bucket(s->cid, s->pid), cb = client_bucket(s->cid);
			s->next = S.buckets[b];
			S.buckets[b] = h;
			s->cnext = S.cbuckets[cb];
			S.cbuckets[cb] = h;
			S.scratch[n++] = h;
			if (s->order > max_order)
				max_order = s->order;
		} else {
			if (s->state != SLOT_FREE)
				dropped++;
			crypto_wipe(s->k_req, sizeof s->k_req);
			crypto_wipe(s->k_res, sizeof s->k_res);
			s->state = SLOT_FREE;
			s->next = t->free_head;
			t->free_head = h;
		}
	}
	/* Oldest expiry first, each pushed as the newest of its list: each
	 * list ends up in expiry order.  A used pair has hi > 0. */
	qsort(S.scratch, n, sizeof *S.scratch, cmp_expires_desc);
	for (uint32_t i = n; i-- > 0;)
		lru_push_newest(S.scratch[i], SL(S.scratch[i])->hi == 0 ? LRU_FRESH : LRU_USED);
	t->order = max_order;
	LOG_EVENT(LOG_WARN, "embedded store: a worker died holding the lock; table rebuilt",
	    LOG_I("pairs_kept", n), LOG_I("pairs_dropped", dropped));
}

/* Takes the table lock, waiting at most STORE_LOCK_TIMEOUT_MS: nothing is
 * done under the lock that could block, so a longer wait means a holder
 * that is stopped or stuck, and failing (503) beats wedging every worker. */
static int
table_lock(void)
{
	int64_t deadline = clock_ms() + STORE_LOCK_TIMEOUT_MS;
	struct timespec ts = { .tv_sec = deadline / 1000, .tv_nsec = (long)(deadline % 1000) * 1000000L };
	int rc;

	if (S.t == NULL)
		return -1;
	rc = pthread_mutex_clocklock(&S.t->lock, CLOCK_MONOTONIC, &ts);
	if (rc == EOWNERDEAD) {
		rebuild();
		rc = pthread_mutex_consistent(&S.t->lock);
		if (rc != 0)
			pthread_mutex_unlock(&S.t->lock);   /* never keep it on failure */
	}
	if (rc != 0) {
		/* At most one line per process every 10 s, not one per request. */
		static int64_t last_log_ms;
		int64_t now = clock_ms();
		if (last_log_ms == 0 || now - last_log_ms >= 10000) {
			last_log_ms = now;
			LOG_EVENT(LOG_ERROR, "embedded store: lock failed; state requests answer 503",
			    LOG_S("error", rc == ETIMEDOUT ? "another worker holds it (stopped or stuck)"
			                                   : strerror(rc)));
		}
		return -1;
	}
	return 0;
}

static void
table_unlock(void)
{
	pthread_mutex_unlock(&S.t->lock);
}

/* ---- backend operations ---- */

static enum store_status
shm_put(const struct store_pair *p)
{
	int64_t now = clock_ms();
	uint32_t h;
	struct slot *s;

	if (table_lock() != 0)
		return STORE_UNAVAILABLE;
	h = lookup(p->client_id, p->pair_id, now);
	if (h) {
		/* Never reset a live pair's window (see store_pair_put). */
		table_unlock();
		return STORE_EXISTS;
	} else {
		uint32_t b = pair_bucket(p->client_id, p->pair_id), cb = client_bucket(p->client_id);
		h = slot_alloc(now);
		if (h == 0) {
			table_unlock();
			return STORE_UNAVAILABLE;
		}
		s = SL(h);
		set_state(s, SLOT_WRITING);
		memcpy(s->cid, p->client_id, sizeof s->cid);
		memset(s->pid, 0, sizeof s->pid);
		memcpy(s->pid, p->pair_id, strlen(p->pair_id));
		s->next = S.buckets[b];
		S.buckets[b] = h;
		s->cnext = S.cbuckets[cb];
		S.cbuckets[cb] = h;
	}
	memcpy(s->k_req, p->k_req, sizeof s->k_req);
	memcpy(s->k_res, p->k_res, sizeof s->k_res);
	s->generation = p->generation;
	s->hi = 0;
	memset(BM(h), 0, S.bm_bytes);
	s->order = ++S.t->order;
	s->expires_ms = now + S.fresh_ttl_ms;
	lru_push_newest(h, LRU_FRESH);
	set_state(s, SLOT_LIVE);
	enforce_client_cap(p->client_id, h, now);
	table_unlock();
	return STORE_OK;
}

static enum store_status
shm_get(const char *cid, const char *pid, struct store_pair *out)
{
	uint32_t h;

	if (table_lock() != 0)
		return STORE_UNAVAILABLE;
	h = lookup(cid, pid, clock_ms());
	if (h) {
		memcpy(out->client_id, SL(h)->cid, sizeof out->client_id);
		memcpy(out->pair_id, SL(h)->pid, sizeof out->pair_id);
		memcpy(out->k_req, SL(h)->k_req, sizeof out->k_req);
		memcpy(out->k_res, SL(h)->k_res, sizeof out->k_res);
		out->generation = SL(h)->generation;
	}
	table_unlock();
	return h ? STORE_OK : STORE_NOT_FOUND;
}

static enum store_status
shm_accept(const char *cid, const char *pid, const uint64_t *generation, uint64_t seq)
{
	int64_t now = clock_ms();
	uint32_t h;
	int ok;

	if (table_lock() != 0)
		return STORE_UNAVAILABLE;
	h = lookup(cid, pid, now);
	if (h == 0) {
		table_unlock();
		return STORE_NOT_FOUND;
	}
	if (generation != NULL && SL(h)->generation != *generation) {
		table_unlock();
		return STORE_STALE;
	}
	set_state(SL(h), SLOT_WRITING);
	ok = store_window_apply(&SL(h)->hi, BM(h), S.w, seq);
	if (ok) {
		SL(h)->expires_ms = now + S.ttl_ms;
		lru_unlink(h);
		lru_push_newest(h, LRU_USED);
	}
	set_state(SL(h), SLOT_LIVE);
	table_unlock();
	return ok ? STORE_OK : STORE_REPLAY;
}

static enum store_status
shm_del(const char *cid, const char *pid)
{
	uint32_t h;

	if (table_lock() != 0)
		return STORE_UNAVAILABLE;
	h = lookup(cid, pid, clock_ms());
	if (h)
		slot_remove(h);
	table_unlock();
	return h ? STORE_OK : STORE_NOT_FOUND;
}

/* The entry of id in its set: the one holding it, else an empty or
 * expired one, else the one whose window started first. */
static struct rate_slot *
rate_slot_of(uint64_t id, int64_t now)
{
	struct rate_slot *set = S.rates + (size_t)((id >> 1) % (STORE_RATE_SLOTS / RATE_WAYS)) * RATE_WAYS;
	struct rate_slot *pick = NULL;

	for (int i = 0; i < RATE_WAYS; i++)
		if (set[i].id == id)
			return &set[i];
	for (int i = 0; i < RATE_WAYS; i++) {
		struct rate_slot *r = &set[i];
		if (r->id == 0 || r->window_end_ms <= now)
			return r;
		if (pick == NULL || r->window_end_ms < pick->window_end_ms)
			pick = r;
	}
	return pick;
}

static enum store_status
shm_rate(const char *bucket, unsigned n, unsigned limit, unsigned window_s,
    unsigned *retry_after_s)
{
	uint64_t id = store_siphash24(S.hkey, bucket, strlen(bucket)) | 1;
	int64_t now = clock_ms();
	struct rate_slot *r;
	enum store_status st = STORE_OK;

	if (table_lock() != 0)
		return STORE_UNAVAILABLE;
	r = rate_slot_of(id, now);
	if (r->id != id || r->window_end_ms <= now) {
		if (n > limit) {
			/* never fits: refused without taking an entry (as in Redis) */
			table_unlock();
			*retry_after_s = window_s;
			return STORE_LIMITED;
		}
		r->id = id;
		r->window_end_ms = now + (int64_t)window_s * 1000;
		r->count = 0;
	}
	if ((uint64_t)r->count + n > limit) {
		int64_t left = r->window_end_ms - now;
		*retry_after_s = (unsigned)((left + 999) / 1000);
		if (*retry_after_s == 0)
			*retry_after_s = 1;
		st = STORE_LIMITED;
	} else {
		r->count += n;
	}
	table_unlock();
	return st;
}

/* The entry of (group, index), or NULL; with room != NULL, also the first
 * empty entry in *room (NULL when full).  Under the lock. */
static struct value_slot *
vslot_find(const char *group, unsigned index, struct value_slot **room)
{
	if (room != NULL)
		*room = NULL;
	for (size_t i = 0; i < STORE_SLOTS_MAX; i++) {
		struct value_slot *v = &S.vslots[i];
		if (v->version == 0) {
			if (room != NULL && *room == NULL)
				*room = v;
			continue;
		}
		if (v->index == index && strcmp(v->group, group) == 0)
			return v;
	}
	return NULL;
}

static enum store_status
shm_slot_get(const char *group, unsigned index, struct store_slot *out)
{
	struct value_slot *v;

	if (table_lock() != 0)
		return STORE_UNAVAILABLE;
	v = vslot_find(group, index, NULL);
	if (v != NULL) {
		out->version = v->version;
		out->len = v->len;
		memcpy(out->value, v->value, v->len);
	}
	table_unlock();
	return v != NULL ? STORE_OK : STORE_NOT_FOUND;
}

static enum store_status
shm_slot_replace(const char *group, unsigned index, uint64_t expect, uint64_t version,
    const uint8_t *value, size_t len)
{
	struct value_slot *v, *room;
	enum store_status st = STORE_OK;

	if (table_lock() != 0)
		return STORE_UNAVAILABLE;
	v = vslot_find(group, index, &room);
	if ((v == NULL && expect != 0) || (v != NULL && v->version != expect))
		st = STORE_EXISTS;
	else if (v == NULL && room == NULL)
		st = STORE_UNAVAILABLE;     /* never with the configured partners and pairs */
	if (st == STORE_OK) {
		if (v == NULL)
			v = room;
		v->version = 0;             /* absent until written whole */
		v->index = index;
		snprintf(v->group, sizeof v->group, "%s", group);
		v->len = (uint32_t)len;
		if (len > 0)
			memcpy(v->value, value, len);
		v->counter = 0;
		atomic_thread_fence(memory_order_release);
		v->version = version;
	}
	table_unlock();
	return st;
}

static enum store_status
shm_slot_next(const char *group, unsigned index, uint64_t version, uint64_t *n)
{
	struct value_slot *v;
	enum store_status st = STORE_OK;

	if (table_lock() != 0)
		return STORE_UNAVAILABLE;
	v = vslot_find(group, index, NULL);
	if (v == NULL)
		st = STORE_NOT_FOUND;
	else if (v->version != version)
		st = STORE_STALE;
	else
		*n = ++v->counter;
	table_unlock();
	return st;
}

static enum store_status
shm_health(void)
{
	if (table_lock() != 0)
		return STORE_UNAVAILABLE;
	table_unlock();
	return STORE_OK;
}

static size_t
align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static void
shm_fini(void)
{
	if (S.map != NULL)
		munmap(S.map, S.map_len);
	memset(&S, 0, sizeof S);
}

static int
shm_init(const struct store_settings *set, const struct store_config *cfg)
{
	pthread_mutexattr_t attr;
	size_t nb = 16, off_b, off_cb, off_scr, off_rate, off_vs, off_sl, off_bm, len;
	uint8_t *base;
	int rc;

	(void)cfg;
	shm_fini();
	while (nb < set->capacity)
		nb <<= 1;
	/* capacity < 2^31 (store.c), so nothing here overflows a 64-bit size_t. */
	off_b = align64(sizeof(struct table));
	off_cb = off_b + align64(nb * sizeof(uint32_t));
	off_scr = off_cb + align64(nb * sizeof(uint32_t));
	off_rate = off_scr + align64(((size_t)set->capacity + 1) * sizeof(uint32_t));
	off_vs = off_rate + align64((size_t)STORE_RATE_SLOTS * sizeof(struct rate_slot));
	off_sl = off_vs + align64((size_t)STORE_SLOTS_MAX * sizeof(struct value_slot));
	off_bm = off_sl + align64(((size_t)set->capacity + 1) * sizeof(struct slot));
	len = off_bm + ((size_t)set->capacity + 1) * store_window_bytes(set->window);

	rand_bytes(S.hkey, sizeof S.hkey);
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		LOG_EVENT(LOG_ERROR, "embedded store: cannot map shared memory",
		    LOG_S("error", strerror(errno)), LOG_I("bytes", len));
		return STORE_INIT_FAILED;
	}
	S.map = base;
	S.map_len = len;
	S.t = (struct table *)base;
	S.buckets = (uint32_t *)(base + off_b);
	S.cbuckets = (uint32_t *)(base + off_cb);
	S.scratch = (uint32_t *)(base + off_scr);
	S.rates = (struct rate_slot *)(base + off_rate);
	S.vslots = (struct value_slot *)(base + off_vs);
	S.slots = (struct slot *)(base + off_sl);
	S.bitmaps = base + off_bm;
	S.cap = set->capacity;
	S.mask = (uint32_t)(nb - 1);
	S.w = set->window;
	S.bm_bytes = store_window_bytes(set->window);
	S.max_per_client = set->max_pairs_per_client;
	S.ttl_ms = (int64_t)set->ttl_ms;
	S.fresh_ttl_ms = (int64_t)set->fresh_ttl_ms;
	S.t->fresh = 1;

	if ((rc = pthread_mutexattr_init(&attr)) != 0
	    || (rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) != 0
	    || (rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) != 0
	    || (rc = pthread_mutex_init(&S.t->lock, &attr)) != 0) {
		LOG_EVENT(LOG_ERROR, "embedded store: cannot make the shared lock", LOG_S("error", strerror(rc)));
		shm_fini();
		return STORE_INIT_FAILED;
	}
	pthread_mutexattr_destroy(&attr);
	LOG_EVENT(LOG_INFO, "state store ready", LOG_S("backend", "embedded"),
	    LOG_I("capacity", S.cap), LOG_I("replay_window", S.w),
	    LOG_I("max_bytes", len));
	return STORE_INIT_OK;
}

static void
shm_worker_nop(void)
{
}

int
store_shm_debug_hold_lock(int notify_fd)
{
	uint32_t h;

	if (strcmp(store_backend_name(), "embedded") != 0 || table_lock() != 0)
		return -1;
	/* A put of the newest pair cut short: slot half-written, LRU cut, and a
	 * bucket pointing nowhere sensible. */
	h = S.t->lru_newest[LRU_USED] ? S.t->lru_newest[LRU_USED] : S.t->lru_newest[LRU_FRESH];
	if (h) {
		set_state(SL(h), SLOT_WRITING);
		memset(SL(h)->k_req, 0xa5, sizeof SL(h)->k_req);
		S.t->lru_oldest[LRU_FRESH] = h;
		S.buckets[0] = S.cap + 7;
	}
	if (write(notify_fd, "L", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

const struct store_backend store_backend_shm = {
	.name = "embedded",
	.init = shm_init,
	.fini = shm_fini,
	.worker_init = shm_worker_nop,
	.worker_close = shm_worker_nop,
	.put = shm_put,
	.get = shm_get,
	.accept = shm_accept,
	.del = shm_del,
	.rate = shm_rate,
	.health = shm_health,
	.slot_get = shm_slot_get,
	.slot_replace = shm_slot_replace,
	.slot_next = shm_slot_next,
};
