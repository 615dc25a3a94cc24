/*
 * store.h - the relay's shared state: pairs (keys + replay window) with a
 * sliding time-to-live, behind one interface with two backends:
 *
 *   redis     REDIS_URL set: Redis, or a Redis Cluster (REDIS_CLUSTER auto, yes,
 *             no), over plain TCP or TLS (rediss://): one persistent
 *             connection per worker process and node.
 *             Every relay instance and worker sees the same state.
 *   embedded  no REDIS_URL: a table in shared memory made by the parent before
 *             it forks, guarded by a process-shared robust mutex.  State is
 *             local to one relay instance.
 *
 * Both backends have the same semantics, checked by one contract test suite.
 *
 * Process model: store_init() once in the parent before fork; then
 * store_worker_init() in each worker after fork.  The operations may also be
 * used in the process that called store_init() (tests, single-process runs).
 * A process never uses a Redis connection it inherited: a forked child that
 * skips store_worker_init() still gets its own connection on first use.
 *
 * Nothing here logs keys, passwords or client data; logged are the backend,
 * host, port, TLS yes/no and error texts from the network or from Redis.
 *
 * Metrics: the store measures itself (store.c), so callers do not.  Every
 * call of an operation below (store_pair_put .. store_health) is one
 * store_duration_seconds observation, and every STORE_UNAVAILABLE answer is
 * one store_errors_total.
 *
 * Files (src/store/): store.c (this interface, argument checks, metrics,
 * the replay window rule), backend.h (the backend table), shm.c (embedded),
 * redis.c (Redis commands, scripts, connections, cluster routing),
 * cluster.c (slot hash, MOVED/ASK and CLUSTER SLOTS parsing), reply.c
 * (bounded reply objects), redis_url.c (REDIS_URL), redis_tls.c (TCP and TLS
 * with deadlines).
 *
 * Redis key layout (SID = SERVER_ID, CID = client id, PID = pair id):
 *   mte:{SID:CID}:p:PID   hash: k_req (32 bytes), k_res (32 bytes),
 *                         hi (decimal u64), w (decimal W), bm (ceil(W/8) bytes),
 *                         g (the generation, decimal u64)
 *   mte:{SID:CID}:pairs   sorted set of the client's PIDs, scored by put order
 *   mte:{SID:r:BUCKET}    a rate counter (store_rate_take), expiring with its window
 * The Redis Cluster hash tag is {SID:CID}: all of one client's keys live in one
 * slot, so the Lua scripts that touch a pair and its client's index (and, when
 * enforcing the per-client cap, the client's other pairs) run on one node.
 * The cost is that one client's pairs (at most MAX_PAIRS_PER_CLIENT) cannot be
 * spread over several nodes; clients themselves spread over all slots.  In
 * cluster mode each process loads the slot map (CLUSTER SLOTS) from REDIS_URL,
 * sends each command to the primary of its key's slot, follows MOVED (map
 * updated) and ASK (ASKING), and retries TRYAGAIN, CLUSTERDOWN and failed
 * nodes after a map refresh, at most STORE_CLUSTER_REDIRECTS_MAX times, all
 * within the deadline below.  Requires Redis >= 5 (scripts replicated by
 * effects, HSET with several fields) and TLS 1.2 for rediss://.
 *
 * REDIS_WAIT_REPLICAS (redis_wait_replicas > 0): store_window_accept returns
 * STORE_OK only after WAIT confirmed that many replicas hold the update
 * (within STORE_WAIT_TIMEOUT_MS); otherwise STORE_UNAVAILABLE, the seq spent.
 */
#ifndef MTE_STORE_H
#define MTE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "limits.h"
#include "crypto/kdf.h"

enum store_status {
	STORE_OK = 0,
	STORE_NOT_FOUND,        /* no such pair (never stored, expired, evicted, deleted) */
	STORE_REPLAY,           /* seq replayed, older than the window, or 0 */
	STORE_UNAVAILABLE,      /* backend down, slow, or answering errors: HTTP 503 */
	STORE_EXISTS,           /* put: a live pair with these ids exists already */
	STORE_LIMITED,          /* rate: the budget is spent for this window */
	STORE_STALE             /* accept: the pair has another generation than the
	                         * caller's keys (deleted and paired again) */
};

#define STORE_CLIENT_ID_LEN  CLIENT_ID_HEX_LEN      /* 32 lower-case hex characters */
#define STORE_KEY_LEN        32                     /* bytes of k_req and k_res */

/* One pair.  client_id: 32 lower-case hex characters (protocol_client_id_ok);
 * pair_id: PAIR_ID_MIN..PAIR_ID_MAX characters of [A-Za-z0-9_-]
 * (protocol_pair_id_ok); both NUL-terminated.  Ids of any other form (an
 * upper-case client id included) are never stored: operations given one
 * return STORE_NOT_FOUND. */
struct store_pair {
	char    client_id[STORE_CLIENT_ID_LEN + 1];
	char    pair_id[PAIR_ID_MAX + 1];
	uint8_t k_req[STORE_KEY_LEN];
	uint8_t k_res[STORE_KEY_LEN];
	uint64_t generation;    /* drawn by store_pair_put (never 0); 0 for a pair
	                         * stored before generations existed */
	/* The HMAC key schedules of k_req and k_res (crypto/kdf.h), made by
	 * store_pair_lookup only (not stored; not read by the backends): a
	 * cached pair's message keys cost half as much. */
	struct kdf_root root_req, root_res;
};

/* What the store needs from the configuration (main.c fills it from struct
 * config).  Strings are read during store_init() only. */
struct store_config {
	const char *redis_url;          /* NULL or "": embedded store */
	const char *redis_ca_file;      /* rediss:// trust anchors; NULL: STORE_SYSTEM_CA_FILE */
	const char *server_id;          /* key namespace, 1..STORE_SERVER_ID_MAX printable bytes */
	unsigned    state_ttl;          /* seconds (>= 1) a pair lives after its last accept */
	unsigned    fresh_pair_ttl;     /* seconds a never-used pair lives after its put;
	                                 * 0 or more than state_ttl: state_ttl */
	unsigned    replay_window;      /* W, 1..REPLAY_WINDOW_MAX */
	unsigned    max_pairs_per_client; /* >= 1 */
	size_t      store_capacity;     /* embedded store: pairs kept at most (>= 1) */
	int         redis_cluster;      /* STORE_CLUSTER_AUTO (0), _YES or _NO */
	unsigned    redis_wait_replicas; /* 0..STORE_WAIT_REPLICAS_MAX: WAIT after a window update */
};

/* REDIS_CLUSTER: auto detects cluster mode at connect (CLUSTER SLOTS). */
#define STORE_CLUSTER_AUTO  0
#define STORE_CLUSTER_YES   1
#define STORE_CLUSTER_NO    2

#define STORE_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* store_init() results. */
#define STORE_INIT_OK          0
#define STORE_INIT_BAD_CONFIG  (-1)  /* bad REDIS_URL, CA file or setting: exit 78 */
#define STORE_INIT_FAILED      (-2)  /* system failure (shared memory): exit 1 */

/*
 * Opens the store in the parent, before fork.  Validates cfg (an error is
 * logged as one "error" event naming the setting, never its secret part).
 * Embedded: maps and initialises the shared table.  Redis: parses the URL,
 * loads the CA file (rediss://), connects, authenticates, sends PING once,
 * detects cluster mode (REDIS_CLUSTER=auto: CLUSTER SLOTS) and loads the slot
 * map or selects the db, logs the outcome (host, port, TLS yes/no, db, mode;
 * never the password), then closes that connection.  A cluster with a db
 * other than 0 in REDIS_URL is STORE_INIT_BAD_CONFIG.  An unreachable Redis, or one that
 * rejects the credentials, is logged ("warn" / "error") and is not fatal: the
 * operations answer STORE_UNAVAILABLE until it works.  May be called again to
 * replace a previous store of this process (tests).
 * Returns STORE_INIT_OK, STORE_INIT_BAD_CONFIG or STORE_INIT_FAILED.
 */
int store_init(const struct store_config *cfg);

/*
 * In each worker after fork: drops any connection state inherited from the
 * parent (without touching the parent's socket).  Redis connects lazily on
 * the first operation.  Returns 0.
 */
int store_worker_init(void);

/*
 * Redis behaviour shared by all operations below: if the connection is down
 * and the reconnect back-off (STORE_BACKOFF_MIN_MS doubling to
 * STORE_BACKOFF_MAX_MS) has not elapsed, they return STORE_UNAVAILABLE at once
 * without touching the network.  Otherwise they (re)connect within
 * STORE_CONNECT_TIMEOUT_MS and wait at most STORE_COMMAND_TIMEOUT_MS for the
 * reply; a timeout or I/O error closes the connection and starts the back-off.
 * The first failure of an outage logs one "warn" event for all workers, the
 * first success after it one "info" event.  No operation blocks longer than
 * STORE_CONNECT_TIMEOUT_MS + STORE_COMMAND_TIMEOUT_MS (one deadline covers a
 * command and its NOSCRIPT fallback).
 */

/*
 * Stores p with an empty replay window (hi = 0) and a time-to-live of
 * fresh_pair_ttl (its first accepted seq gives it state_ttl).  A live pair with the same ids is never replaced (STORE_EXISTS,
 * nothing changed): resetting its window would let a request seen once be
 * accepted again.  Then, if the client has more
 * than max_pairs_per_client pairs, deletes its oldest pairs (by put order;
 * the new pair is never deleted).  Atomic in both backends (Redis: one Lua
 * script).  The embedded store, when full, evicts its least recently put
 * fresh pair (never accepted a seq) and, only when it holds none, its least
 * recently used pair; each eviction is counted by kind
 * (metrics_count_store_eviction).  STORE_OK, STORE_EXISTS, STORE_NOT_FOUND (malformed
 * ids) or STORE_UNAVAILABLE.
 */
enum store_status store_pair_put(const struct store_pair *p);

/*
 * The protected path's read of a pair: from this process's cache of
 * STORE_PAIR_CACHE_SIZE pairs when it holds (cid, pid) and refresh is 0 (no
 * round trip; *cached = 1), else from the store (store_pair_get), then kept
 * in the cache (*cached = 0).  Pair keys never change after pairing, so the
 * cache can only be stale when the pair was deleted (or expired) and paired
 * again under the same ids: store_window_accept_gen then answers
 * STORE_STALE, and a caller whose keys did not open a request, or got
 * STORE_STALE, reads again with refresh 1.  Answers as store_pair_get.
 */
enum store_status store_pair_lookup(const char *client_id, const char *pair_id, int refresh,
                                    struct store_pair *out, int *cached);
/* store_pair_lookup also fills out->root_req and out->root_res (from the
 * cache, or made from the keys just read). */

/* Drops (client_id, pair_id) from this process's cache, wiping its keys. */
void store_pair_forget(const char *client_id, const char *pair_id);

/* Loads the pair into *out (ids, keys, generation).  Does not refresh the TTL.
 * STORE_OK, STORE_NOT_FOUND or STORE_UNAVAILABLE; *out is written only on
 * STORE_OK.  Keys read from Redis are checked to be exactly 32 bytes. */
enum store_status store_pair_get(const char *client_id, const char *pair_id,
                                 struct store_pair *out);

/*
 * The replay window test-and-set, atomic across all workers and instances
 * (Redis: one Lua script with exact 64-bit arithmetic; embedded: under the
 * lock).  With hi the highest accepted seq and W = replay_window:
 *   seq == 0                          -> STORE_REPLAY
 *   seq > hi                          -> accept; the window slides to seq
 *   hi - W < seq <= hi, not yet seen  -> accept
 *   otherwise (seen, or seq <= hi - W)-> STORE_REPLAY
 * Accepting marks seq as seen and refreshes the pair's TTL (and the client's
 * index TTL).  STORE_NOT_FOUND when the pair does not exist.
 */
enum store_status store_window_accept(const char *client_id, const char *pair_id,
                                      uint64_t seq);

/* The same, only for the pair of this generation (the one whose keys opened
 * the request): a pair with another generation is left untouched and the
 * answer is STORE_STALE (and it leaves the cache).  STORE_NOT_FOUND also
 * drops it from the cache.  Everything else as store_window_accept, in the
 * same single round trip. */
enum store_status store_window_accept_gen(const char *client_id, const char *pair_id,
                                          uint64_t generation, uint64_t seq);

/*
 * A fixed-window budget (PROTOCOL.md, "Pairing limits"): takes n units from
 * the counter named bucket (1..STORE_RATE_BUCKET_MAX bytes of [0-9a-z:],
 * NUL-terminated) whose window is window_s seconds from its first take.
 * STORE_OK when the count stays within limit (the n units are taken);
 * STORE_LIMITED when it would not (nothing taken), with *retry_after_s set
 * to the whole seconds (>= 1) left in the window; STORE_UNAVAILABLE; or
 * STORE_NOT_FOUND for a malformed bucket, n == 0 or window_s == 0.  Every
 * instance on one Redis shares the counters (one Lua script: atomic); the
 * embedded store keeps STORE_RATE_SLOTS of them in its shared table (a full
 * set of 4 drops the counter whose window started first).
 */
enum store_status store_rate_take(const char *bucket, unsigned n, unsigned limit,
                                  unsigned window_s, unsigned *retry_after_s);

/* Deletes the pair.  STORE_OK, STORE_NOT_FOUND (was not there) or
 * STORE_UNAVAILABLE. */
enum store_status store_pair_delete(const char *client_id, const char *pair_id);

/* Redis: PING round trip (subject to the back-off above).  Embedded: the lock
 * can be taken.  STORE_OK or STORE_UNAVAILABLE. */
enum store_status store_health(void);

/* "redis", "embedded", or "none" before store_init(). */
const char *store_backend_name(void);

/* Closes this process's Redis connection (no-op for the embedded store).
 * The next operation reconnects. */
void store_worker_close(void);

/*
 * REDIS_URL syntax (redis_url.c), the one parser of it: config validation
 * calls it too, so --check-config and start-up agree.
 *   redis[s]://[[user][:password]@]host[:port][/db]
 * The scheme in any case; user and password are percent-decoded (no %00,
 * no control characters); host is a name (letters, digits, '.', '-', '_',
 * '~'), an IPv4 address or an IPv6 address in brackets, at most
 * STORE_REDIS_HOST_MAX bytes together with ":port"; port 1..65535 (6379); db
 * 0..STORE_REDIS_DB_MAX (0).  A user without a password is rejected.
 * Returns STORE_URL_OK, or STORE_URL_MALFORMED / STORE_URL_TOO_LONG with a
 * message in err that never contains the user info.
 */
#define STORE_URL_OK          0
#define STORE_URL_MALFORMED (-1)
#define STORE_URL_TOO_LONG  (-2)    /* longer than STORE_URL_MAX bytes */
struct store_redis_url {
	int      tls;                           /* rediss:// */
	char     host[STORE_REDIS_HOST_MAX + 1];  /* without brackets */
	uint16_t port;
	unsigned db;
	char     user[STORE_REDIS_USER_MAX + 1];  /* "" : none (AUTH password) */
	char     pass[STORE_REDIS_PASS_MAX + 1];  /* "" : no AUTH */
};
int store_redis_url_parse(const char *url, struct store_redis_url *out,
                          char *err, size_t errlen);


/*
 * Slots: small shared values for the outbound mode's client state
 * (PROTOCOL.md section 14): in a group (1..STORE_SLOT_GROUP_MAX bytes of
 * [0-9a-z:], NUL-terminated), slots 0..STORE_SLOT_INDEX_MAX, each a value
 * of at most STORE_SLOT_VALUE_MAX bytes with a version (never 0, chosen by
 * the writer) and a counter.  Redis: the hash mte:{SID:s:GROUP}:INDEX
 * (one key per operation; a group's keys share one hash tag); embedded:
 * STORE_SLOTS_MAX entries in the shared table.  Slots do not expire.
 * A bad group or index, a version 0, or a value too long: STORE_NOT_FOUND.
 */
struct store_slot {
	uint64_t version;
	size_t   len;
	uint8_t  value[STORE_SLOT_VALUE_MAX];
};

/* Reads slot index of group into *out.  STORE_OK, STORE_NOT_FOUND (no
 * such slot) or STORE_UNAVAILABLE. */
enum store_status store_slot_get(const char *group, unsigned index, struct store_slot *out);

/*
 * Compare-and-set: writes value[0..len) with version and a counter of 0,
 * only when the slot's version is expect (expect 0: only when there is no
 * such slot).  STORE_OK; STORE_EXISTS when the slot has another version
 * (or exists while expect is 0): nothing changed; STORE_UNAVAILABLE (also
 * when the embedded table is full).  Atomic in both backends.
 */
enum store_status store_slot_replace(const char *group, unsigned index, uint64_t expect,
                                     uint64_t version, const uint8_t *value, size_t len);

/*
 * Adds 1 to the counter of the slot, only while it has this version, and
 * sets *n to the new count (1, 2, ...): no two callers anywhere get the
 * same n for one version.  STORE_OK; STORE_STALE (another version: the
 * slot was replaced); STORE_NOT_FOUND (no such slot); STORE_UNAVAILABLE.
 */
enum store_status store_slot_next(const char *group, unsigned index, uint64_t version,
                                  uint64_t *n);

/*
 * TEST ONLY (tests/unit/test_store*.c): in the embedded store, takes the lock,
 * leaves the table the way a worker killed halfway through a put would (one
 * pair half-written, the LRU list cut), writes one byte to notify_fd and
 * sleeps forever, so that a test can SIGKILL the process while it holds the
 * lock.  Returns -1 at once if the embedded store is not in use.
 */
int store_shm_debug_hold_lock(int notify_fd);

#endif /* MTE_STORE_H */
