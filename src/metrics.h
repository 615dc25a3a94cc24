/*
 * metrics.h - Prometheus metrics, counted by every worker, served by any.
 *
 * The counters live in one shared anonymous mapping (MAP_SHARED) that the
 * parent creates with metrics_init() before it forks: every worker (and the
 * parent, for worker restarts) adds to the same C11 atomics with relaxed
 * ordering, so no lock is needed and a scrape that lands on any worker sees
 * the totals of the whole instance.  The atomics must be lock-free (checked
 * at compile time): a lock-based fallback would lock per process, not per
 * mapping.
 *
 * Cardinality is fixed: route classes (enum route_class), a fixed set of
 * status codes (plus 2xx/3xx/4xx/5xx/other/none buckets), a fixed enum of
 * decode failure reasons and fixed histogram buckets.  So the rendered text
 * has a known worst-case size (METRICS_BODY_MAX).
 *
 * Every counting function is a no-op until metrics_init() succeeded, and
 * cheap (one or three relaxed atomic adds), so call sites need no "if
 * metrics enabled" test.  Nothing here logs or stores request content.
 * The counters and the text format (metrics.c) need only libc, so the store
 * and upstream modules can count without linking the HTTP side
 * (metrics_token.c: the token check; the route is builtin.c's).
 *
 * Series (prefix mte_relay_):
 *   requests_total{route,status}       counter, one per finished request
 *   pairings_total                     counter, pairs created
 *   decode_failures_total{reason}      counter, protected requests refused
 *   replay_rejections_total            counter, 570 answers
 *   store_errors_total                 counter, store operations that failed
 *   store_duration_seconds             histogram, one store operation
 *   store_commands_total{node}         counter, Redis commands sent, by node host:port
 *                                      (METRICS_STORE_NODES_MAX values, then "other")
 *   store_redirections_total{kind}     counter, cluster redirections followed (moved,
 *                                      ask) and retries (retry: TRYAGAIN, CLUSTERDOWN,
 *                                      a node that failed or no node for the slot)
 *   store_map_refreshes_total          counter, cluster slot map refreshes
 *   upstream_duration_seconds          histogram, upstream answer time
 *   worker_restarts_total              counter, workers replaced by the parent
 *   workers{state}                     gauge, live workers by enum worker_state
 *   workers_max                        gauge, MAX_POOL_SIZE
 *   workers_spawned_total              counter, workers forked
 *   workers_retired_total              counter, idle workers retired
 *   listen_queue                       gauge, connections waiting to be accepted
 *                                      (only where TCP_INFO reads it)
 *   slow_peers_closed_total            counter, connections that gave way under pressure
 *   tls_handshake_failures_total       counter, TLS connections that sent bytes but
 *                                      ended before the handshake completed
 *   build_info{version}                gauge, always 1
 *   process_start_time_seconds         gauge, Unix time of metrics_init()
 */
#ifndef MTE_METRICS_H
#define MTE_METRICS_H

#include <stddef.h>
#include "limits.h"
#include "ratelimit.h"
#include "route.h"

/* Why a protected (or pairing) request could not be decoded.  Label values
 * in parentheses. */
enum metrics_decode_reason {
	MDR_RELAY_HEADER = 0,   /* malformed x-mte-relay, or flags that contradict
	                         * the request (relay_header) -> 569 */
	MDR_CLIENT_ID,          /* client id signature invalid (client_id) -> 566 */
	MDR_PAIR_NOT_FOUND,     /* unknown, expired or evicted pair (pair_not_found) -> 560 */
	MDR_META_MISSING,       /* no x-mte-relay-eh, or not base64url (meta_missing) -> 562 */
	MDR_META_AUTH,          /* meta failed authentication (meta_auth) -> 562 */
	MDR_META_INVALID,       /* authenticated meta is not a valid request (meta_invalid) -> 400 */
	MDR_TARGET_TOO_LONG,    /* request-target too long for the AAD (target_too_long) -> 562 */
	MDR_BODY_LENGTH,        /* Content-Length is no sealed body length (body_length) -> 562 */
	MDR_BODY_AUTH,          /* a body chunk failed authentication, or the final
	                         * chunk is missing: tamper or truncation (body_auth) -> 562 */
	MDR_PAIR_REQUEST,       /* malformed POST /api/mte-pair (pair_request) -> 400 */
	MDR_COUNT
};

/*
 * Creates the shared counters (zeroed) and records the start time.  Call once
 * in the parent before forking; a second call replaces the region (tests).
 * Harmless when METRICS is off: the counters are kept but never served.
 * Returns 0, or -1 when the mapping failed (then every call stays a no-op).
 */
int  metrics_init(void);

/* Counts one finished request: rc is its route class, status the status sent
 * (0: none was sent).  Call once per request, from the access-log hook. */
void metrics_count_request(enum route_class rc, int status);

/* Adds n pairs created by one POST /api/mte-pair. */
void metrics_count_pairing(unsigned n);

/* Counts one pairing refused with 429; an out-of-range budget is ignored. */
void metrics_count_pairing_refused(enum pair_budget b);

/* What the embedded store evicted to make room: a pair that never carried
 * a request (fresh), or one that did (used). */
enum metrics_eviction { METRICS_EVICT_FRESH = 0, METRICS_EVICT_USED, METRICS_EVICTION_KINDS };
/* Counts one protected request whose pair came from the worker's cache. */
void metrics_count_store_cache_hit(void);

/* Counts one eviction; an out-of-range kind is ignored. */
void metrics_count_store_eviction(enum metrics_eviction kind);

/* Counts one refused request; an out-of-range reason is ignored. */
void metrics_count_decode_failure(enum metrics_decode_reason r);

/* Counts one replayed or stale seq (a 570 answer). */
void metrics_count_replay(void);

/* Counts one store operation that answered STORE_UNAVAILABLE. */
void metrics_count_store_error(void);

/* Counts one command sent to the Redis node host:port (store, redis.c).
 * The first METRICS_STORE_NODES_MAX distinct nodes get their own series. */
void metrics_count_store_command(const char *host, unsigned port);

enum metrics_redirect { METRICS_REDIRECT_MOVED = 0, METRICS_REDIRECT_ASK, METRICS_REDIRECT_RETRY,
                        METRICS_REDIRECT_KINDS };
/* Counts one cluster redirection or retry; an out-of-range kind is ignored. */
void metrics_count_store_redirect(enum metrics_redirect kind);

/* Counts one cluster slot map refresh. */
void metrics_count_store_map_refresh(void);

/* Observes the duration, in seconds, of one store operation.  Negative or
 * NaN durations count as 0. */
void metrics_observe_store_latency(double seconds);

/* Observes the upstream's answer time, in seconds: from the start of the
 * upstream exchange until the response head arrived (or the exchange
 * failed).  Negative or NaN durations count as 0. */
void metrics_observe_upstream_latency(double seconds);

/* Counts one replaced worker.  Called by the parent. */
void metrics_count_worker_restart(void);

/* ---- the worker pool (prefork.c) ---- */

/* What a worker is doing, from the pool's scoreboard (label values in
 * parentheses). */
enum worker_state {
	WS_STARTING = 0,        /* forked, not yet accepting (starting) */
	WS_IDLE,                /* waiting to accept a connection (idle) */
	WS_READING,             /* waiting on the client for a request head or body (reading) */
	WS_UPSTREAM,            /* handling a request, not waiting on the client:
	                         * the upstream, the store (upstream) */
	WS_WRITING,             /* waiting on the client to take the response (writing) */
	WS_KEEPALIVE,           /* a kept-alive connection between requests (keepalive) */
	WS_DRAINING,            /* asked to stop (retired or shutting down), not yet gone (draining) */
	WS_COUNT
};

/* Sets the pool gauges: live workers by state, the ceiling, and the listen
 * queue length (-1: not readable, not shown).  Called by the parent. */
void metrics_set_pool(const unsigned by_state[WS_COUNT], unsigned max, long queue);

/* Counts workers forked (the initial ones, growth and replacements) and
 * workers retired because the pool had too many idle.  Called by the parent. */
void metrics_count_worker_spawned(void);
void metrics_count_worker_retired(void);
/* A request curl would send again after its kept-alive upstream connection
 * died unanswered: refused 1 (not idempotent: not sent), 0 (sent again). */
void metrics_count_upstream_resend(int refused);

/* Counts one connection closed because it moved too few bytes per second
 * while the pool was under pressure (conn.c's pressure floor). */
void metrics_count_slow_peer_closed(void);
/* A TLS handshake that failed (tls.c). */
void metrics_count_tls_handshake_failure(void);

/*
 * Writes the Prometheus text exposition format (version 0.0.4) into buf,
 * NUL-terminated.  Returns its length (< cap), or -1 when cap is too small;
 * never writes past buf[cap - 1].  The whole text always fits in
 * METRICS_BODY_MAX bytes.  Before metrics_init() all counters read 0.
 */
int  metrics_render(char *buf, size_t cap);

/*
 * The bearer token check of GET /metrics.  token: METRICS_TOKEN (NULL: no
 * token required, returns 1).  authz: the Authorization field value (NULL:
 * absent), len bytes.  Returns 1 when authz is "Bearer <token>" (scheme in
 * any case, surrounding whitespace ignored), else 0.  The tokens are compared
 * as SHA-256 digests, in constant time, so neither their contents nor their
 * lengths show in the timing.
 */
int  metrics_token_ok(const char *token, const char *authz, size_t len);

#endif
