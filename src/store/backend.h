/*
 * backend.h - internal to src/store/ (and its unit tests): the backend
 * table that store.c dispatches to, and helpers shared by backends.
 */
#ifndef MTE_STORE_BACKEND_H
#define MTE_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "store/store.h"

/* A validated copy of struct store_config (store.c makes it). */
struct store_settings {
	char     server_id[STORE_SERVER_ID_MAX + 1];
	uint64_t ttl_ms;
	uint64_t fresh_ttl_ms;          /* <= ttl_ms */
	uint32_t window;                /* W */
	uint32_t max_pairs_per_client;
	uint32_t capacity;              /* embedded */
};

struct store_backend {
	const char *name;
	/* Returns STORE_INIT_*; cfg has been validated (strings included). */
	int  (*init)(const struct store_settings *s, const struct store_config *cfg);
	void (*fini)(void);                     /* undoes init (re-init, tests) */
	void (*worker_init)(void);
	void (*worker_close)(void);
	/* Ids are validated by store.c before these are called. */
	enum store_status (*put)(const struct store_pair *p);
	enum store_status (*get)(const char *cid, const char *pid, struct store_pair *out);
	/* generation NULL: whatever generation the pair has */
	enum store_status (*accept)(const char *cid, const char *pid, const uint64_t *generation,
	                            uint64_t seq);
	enum store_status (*del)(const char *cid, const char *pid);
	/* bucket, n, window_s validated; limit may be anything. */
	enum store_status (*rate)(const char *bucket, unsigned n, unsigned limit,
	                          unsigned window_s, unsigned *retry_after_s);
	enum store_status (*health)(void);
	/* slots (store.h); arguments validated by store.c */
	enum store_status (*slot_get)(const char *group, unsigned index, struct store_slot *out);
	enum store_status (*slot_replace)(const char *group, unsigned index, uint64_t expect,
	                                  uint64_t version, const uint8_t *value, size_t len);
	enum store_status (*slot_next)(const char *group, unsigned index, uint64_t version,
	                               uint64_t *n);
};

extern const struct store_backend store_backend_redis;
extern const struct store_backend store_backend_shm;

/* Bytes of a replay bitmap of w bits. */
static inline uint32_t
store_window_bytes(uint32_t w)
{
	return (w + 7) / 8;
}

/*
 * The replay window rule of protocol.md on (*hi, bm), W = w (1..65536).
 * bm is a ring of w bits: seq s lives at bit s % w (byte (s%w)/8, bit
 * (s%w)%8, LSB first); bits of seqs outside (hi - w, hi] are kept clear when
 * the window slides.  Returns 1 (accepted, state updated) or 0 (rejected,
 * state untouched).  Exact for all seq in 1..2^64-1.
 */
int store_window_apply(uint64_t *hi, uint8_t *bm, uint32_t w, uint64_t seq);

/* 1 when cid is a client id (protocol_client_id_ok: 32 lower-case hex
 * digits) and pid a pair id (protocol_pair_id_ok), both NUL-terminated
 * within their maximum sizes. */
int store_ids_valid(const char *cid, const char *pid);

/* Writes the message into err (printf format); returns -1.  For parsers'
 * "return store_fail(err, errlen, ...)" (redis_url.c, cluster.c). */
int store_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* SipHash-2-4 of data under a 16-byte key (embedded store bucket choice). */
uint64_t store_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif /* MTE_STORE_BACKEND_H */
