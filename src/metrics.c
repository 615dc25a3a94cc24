/* metrics.c - shared-memory counters and the Prometheus text format (see metrics.h). */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* Cross-process atomics only work when they are real lock-free instructions. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

#define ROUTE_CLASSES   RC_COUNT

/* Status codes counted exactly; any other lands in its class bucket. */
static const short exact_status[] = {
	200, 201, 202, 204, 206,
	301, 302, 303, 304, 307, 308,
	400, 401, 403, 404, 405, 406, 408, 409, 411, 412, 413, 414, 415, 416,
	422, 429, 431, 499,
	500, 501, 502, 503, 504, 505,
	559, 560, 561, 562, 563, 564, 565, 566, 567, 568, 569, 570,
};
#define N_EXACT   (sizeof exact_status / sizeof exact_status[0])
enum { SB_2XX = N_EXACT, SB_3XX, SB_4XX, SB_5XX, SB_OTHER, SB_NONE, STATUS_SLOTS };
static const char *const bucket_label[] = { "2xx", "3xx", "4xx", "5xx", "other", "none" };

static const char *const reason_label[MDR_COUNT] = {
	[MDR_RELAY_HEADER] = "relay_header", [MDR_CLIENT_ID] = "client_id",
	[MDR_PAIR_NOT_FOUND] = "pair_not_found", [MDR_META_MISSING] = "meta_missing",
	[MDR_META_AUTH] = "meta_auth", [MDR_META_INVALID] = "meta_invalid",
	[MDR_TARGET_TOO_LONG] = "target_too_long", [MDR_BODY_LENGTH] = "body_length",
	[MDR_BODY_AUTH] = "body_auth", [MDR_PAIR_REQUEST] = "pair_request",
};

/* Upper bounds (seconds) of the histogram buckets; +Inf is implied.  Store
 * operations are bounded by about 3 s (store.h), upstream answers by
 * UPSTREAM_TIMEOUT. */
static const double store_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};
static const double upstream_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
};
#define STORE_BUCKETS     (sizeof store_bounds / sizeof store_bounds[0] + 1)
#define UPSTREAM_BUCKETS  (sizeof upstream_bounds / sizeof upstream_bounds[0] + 1)

/* Bucket counts are stored per bucket (not cumulative) so that one observation
 * is one add; the sum is kept in microseconds so that it is an integer add. */
struct histogram {
	atomic_ullong bucket[UPSTREAM_BUCKETS > STORE_BUCKETS ? UPSTREAM_BUCKETS : STORE_BUCKETS];
	atomic_ullong sum_us;
};

/* One node label of store_commands_total: claimed once (state 0 -> 1 ->
 * 2), its name written while 1, read only once 2. */
#define STORE_NODE_NAME_MAX (STORE_REDIS_HOST_MAX + 7)     /* host:65535 */
struct store_node {
	atomic_int    state;
	char          name[STORE_NODE_NAME_MAX + 1];
	atomic_ullong commands;
};

struct shared {
	atomic_ullong    requests[ROUTE_CLASSES][STATUS_SLOTS];
	atomic_ullong    decode[MDR_COUNT];
	atomic_ullong    pairings;
	atomic_ullong    pairings_refused[PAIR_BUDGETS];
	atomic_ullong    store_evictions[METRICS_EVICTION_KINDS];
	atomic_ullong    store_cache_hits;
	atomic_ullong    replays;
	atomic_ullong    store_errors;
	atomic_ullong    worker_restarts;
	atomic_ullong    workers[WS_COUNT];      /* gauges, set by the parent */
	atomic_ullong    workers_max;
	atomic_llong     listen_queue;           /* -1: unknown */
	atomic_ullong    workers_spawned;
	atomic_ullong    workers_retired;
	atomic_ullong    slow_peers_closed;
	atomic_ullong    tls_handshake_failures;
	atomic_ullong    upstream_resends[2];   /* [0] sent again (idempotent), [1] refused */
	struct store_node store_node[METRICS_STORE_NODES_MAX];
	atomic_ullong    store_other_commands;
	atomic_ullong    store_redirects[METRICS_REDIRECT_KINDS];
	atomic_ullong    store_map_refreshes;
	struct histogram store;
	struct histogram upstream;
	double           start_time;        /* written once, before fork */
};

static struct shared *region;           /* NULL: not initialised */
static struct shared zero_region;       /* what renders before metrics_init */

int
metrics_init(void)
{
	struct shared *p;
	struct timespec ts;

	p = mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	/* Anonymous mappings are zero-filled: every atomic starts at 0. */
	clock_gettime(CLOCK_REALTIME, &ts);
	p->start_time = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
	if (region != NULL)
		munmap(region, sizeof *region);
	region = p;
	return 0;
}

static void
add(atomic_ullong *a, unsigned long long n)
{
	atomic_fetch_add_explicit(a, n, memory_order_relaxed);
}

static unsigned long long
get(const atomic_ullong *a)
{
	/* atomic_load takes a non-const pointer in some C libraries' macros. */
	return atomic_load_explicit((atomic_ullong *)(uintptr_t)a, memory_order_relaxed);
}

static size_t
status_slot(int status)
{
	size_t lo = 0, hi = N_EXACT;

	/* Binary search of the sorted table. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (exact_status[mid] == status)
			return mid;
		if (exact_status[mid] < status)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (status == 0)
		return SB_NONE;
	if (status >= 200 && status < 600)
		return status < 300 ? SB_2XX : status < 400 ? SB_3XX : status < 500 ? SB_4XX : SB_5XX;
	return SB_OTHER;
}

void
metrics_count_request(enum route_class rc, int status)
{
	size_t r = (size_t)rc;

	if (region == NULL)
		return;
	if (r >= ROUTE_CLASSES)
		r = RC_NONE;
	add(&region->requests[r][status_slot(status)], 1);
}

void
metrics_count_pairing(unsigned n)
{
	if (region != NULL)
		add(&region->pairings, n);
}

void
metrics_count_decode_failure(enum metrics_decode_reason r)
{
	if (region != NULL && (unsigned)r < MDR_COUNT)
		add(&region->decode[r], 1);
}

void
metrics_count_replay(void)
{
	if (region != NULL)
		add(&region->replays, 1);
}

void
metrics_count_store_error(void)
{
	if (region != NULL)
		add(&region->store_errors, 1);
}

void
metrics_count_worker_restart(void)
{
	if (region != NULL)
		add(&region->worker_restarts, 1);
}

static void
observe(struct histogram *h, const double *bounds, size_t nbounds, double s)
{
	double us;
	size_t i;

	if (!(s > 0))           /* negative, zero or NaN */
		s = 0;
	for (i = 0; i < nbounds && s > bounds[i]; i++)
		;
	add(&h->bucket[i], 1);
	us = s * 1e6 + 0.5;
	/* Past ~584,000 years of total time the sum would wrap: clamp one sample
	 * to a day, far beyond any timeout. */
	add(&h->sum_us, us < 86400e6 ? (unsigned long long)us : 86400000000ULL);
}

void
metrics_observe_store_latency(double seconds)
{
	if (region != NULL)
		observe(&region->store, store_bounds, STORE_BUCKETS - 1, seconds);
}

void
metrics_observe_upstream_latency(double seconds)
{
	if (region != NULL)
		observe(&region->upstream, upstream_bounds, UPSTREAM_BUCKETS - 1, seconds);
}

/* ---- rendering ---- */

struct out {
	char  *buf;
	size_t cap, len;
	int    full;
};

static void __attribute__((format(printf, 2, 3)))
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->full = 1;
		return;
	}
	o->len += (size_t)n;
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
counter(struct out *o, const char *name, const char *help, const atomic_ullong *v)
{
	family(o, name, "counter", help);
	put(o, "%s %llu\n", name, get(v));
}

/* The counter of node name (claiming a free label when it is new), or the
 * "other" counter. */
static atomic_ullong *
store_node_counter(const char *name)
{
	for (int i = 0; i < METRICS_STORE_NODES_MAX; i++) {
		struct store_node *n = &region->store_node[i];
		int st = atomic_load_explicit(&n->state, memory_order_acquire), free_state = 0;
		if (st == 0 && atomic_compare_exchange_strong(&n->state, &free_state, 1)) {
			snprintf(n->name, sizeof n->name, "%s", name);
			atomic_store_explicit(&n->state, 2, memory_order_release);
			return &n->commands;
		}
		for (int spin = 0; spin < 1000 && st != 2; spin++)
			st = atomic_load_explicit(&n->state, memory_order_acquire);
		if (st == 2 && strcmp(n->name, name) == 0)
			return &n->commands;
	}
	return &region->store_other_commands;
}

void
metrics_count_store_command(const char *host, unsigned port)
{
	char name[STORE_NODE_NAME_MAX + 1];

	if (region == NULL || host == NULL)
		return;
	snprintf(name, sizeof name, "%s:%u", host, port);
	add(store_node_counter(name), 1);
}

void
metrics_count_store_redirect(enum metrics_redirect kind)
{
	if (region != NULL && (unsigned)kind < METRICS_REDIRECT_KINDS)
		add(&region->store_redirects[kind], 1);
}

void
metrics_count_pairing_refused(enum pair_budget b)
{
	if (region != NULL && (unsigned)b < PAIR_BUDGETS)
		add(&region->pairings_refused[b], 1);
}

void
metrics_count_store_cache_hit(void)
{
	if (region != NULL)
		add(&region->store_cache_hits, 1);
}

void
metrics_count_store_eviction(enum metrics_eviction kind)
{
	if (region != NULL && (unsigned)kind < METRICS_EVICTION_KINDS)
		add(&region->store_evictions[kind], 1);
}

void
metrics_count_store_map_refresh(void)
{
	if (region != NULL)
		add(&region->store_map_refreshes, 1);
}

/* The store series of the cluster client (only nodes that were used). */
static void
render_store_nodes(struct out *o, const struct shared *m)
{
	static const char *const kind_label[METRICS_REDIRECT_KINDS] = { "moved", "ask", "retry" };

	family(o, "mte_relay_store_commands_total", "counter",
	    "Redis commands sent, by node (host:port; further nodes as \"other\").");
	for (int i = 0; i < METRICS_STORE_NODES_MAX; i++) {
		const struct store_node *n = &m->store_node[i];
		if (atomic_load_explicit((atomic_int *)(uintptr_t)&n->state, memory_order_acquire) == 2)
			put(o, "mte_relay_store_commands_total{node=\"%s\"} %llu\n", n->name, get(&n->commands));
	}
	if (get(&m->store_other_commands) != 0)
		put(o, "mte_relay_store_commands_total{node=\"other\"} %llu\n", get(&m->store_other_commands));
	family(o, "mte_relay_store_redirections_total", "counter",
	    "Redis Cluster redirections followed (moved, ask) and retries (retry).");
	for (int k = 0; k < METRICS_REDIRECT_KINDS; k++)
		put(o, "mte_relay_store_redirections_total{kind=\"%s\"} %llu\n", kind_label[k],
		    get(&m->store_redirects[k]));
	counter(o, "mte_relay_store_map_refreshes_total", "Redis Cluster slot map refreshes.",
	    &m->store_map_refreshes);
}

void
metrics_set_pool(const unsigned by_state[WS_COUNT], unsigned max, long queue)
{
	if (region == NULL)
		return;
	for (int i = 0; i < WS_COUNT; i++)
		atomic_store_explicit(&region->workers[i], by_state[i], memory_order_relaxed);
	atomic_store_explicit(&region->workers_max, max, memory_order_relaxed);
	atomic_store_explicit(&region->listen_queue, queue, memory_order_relaxed);
}

void
metrics_count_worker_spawned(void)
{
	if (region != NULL)
		add(&region->workers_spawned, 1);
}

void
metrics_count_worker_retired(void)
{
	if (region != NULL)
		add(&region->workers_retired, 1);
}

void
metrics_count_upstream_resend(int refused)
{
	if (region != NULL)
		add(&region->upstream_resends[refused ? 1 : 0], 1);
}

void
metrics_count_tls_handshake_failure(void)
{
	if (region != NULL)
		add(&region->tls_handshake_failures, 1);
}

void
metrics_count_slow_peer_closed(void)
{
	if (region != NULL)
		add(&region->slow_peers_closed, 1);
}

/* Pairings refused by budget, and the embedded store's evictions by kind. */
static void
render_pairing_limits(struct out *o, const struct shared *m)
{
	static const char *const evicted[METRICS_EVICTION_KINDS] = { "fresh", "used" };

	family(o, "mte_relay_pairings_refused_total", "counter",
	    "Pairing requests refused with 429, by the budget that refused them.");
	for (int i = 0; i < PAIR_BUDGETS; i++)
		put(o, "mte_relay_pairings_refused_total{limit=\"%s\"} %llu\n",
		    ratelimit_budget_name((enum pair_budget)i), get(&m->pairings_refused[i]));
	counter(o, "mte_relay_store_cache_hits_total",
	    "Protected requests whose pair keys came from the worker's cache (one store round trip).",
	    &m->store_cache_hits);
	family(o, "mte_relay_store_evictions_total", "counter",
	    "Pairs the embedded store evicted to make room, by kind (fresh: never used).");
	for (int i = 0; i < METRICS_EVICTION_KINDS; i++)
		put(o, "mte_relay_store_evictions_total{kind=\"%s\"} %llu\n", evicted[i],
		    get(&m->store_evictions[i]));
}

/* The pool series: the scoreboard as of the parent's last tick. */
static void
render_pool(struct out *o, const struct shared *m)
{
	static const char *const state_label[WS_COUNT] = {
		[WS_STARTING] = "starting", [WS_IDLE] = "idle", [WS_READING] = "reading",
		[WS_UPSTREAM] = "upstream", [WS_WRITING] = "writing",
		[WS_KEEPALIVE] = "keepalive", [WS_DRAINING] = "draining",
	};
	long long q = atomic_load_explicit((atomic_llong *)(uintptr_t)&m->listen_queue,
	    memory_order_relaxed);

	family(o, "mte_relay_workers", "gauge", "Live worker processes, by state.");
	for (int i = 0; i < WS_COUNT; i++)
		put(o, "mte_relay_workers{state=\"%s\"} %llu\n", state_label[i], get(&m->workers[i]));
	family(o, "mte_relay_workers_max", "gauge", "Most worker processes (MAX_POOL_SIZE).");
	put(o, "mte_relay_workers_max %llu\n", get(&m->workers_max));
	counter(o, "mte_relay_workers_spawned_total",
	    "Worker processes forked (start, growth, replacements).", &m->workers_spawned);
	counter(o, "mte_relay_workers_retired_total",
	    "Idle worker processes retired above MAX_SPARE_WORKERS.", &m->workers_retired);
	counter(o, "mte_relay_slow_peers_closed_total",
	    "Connections closed for moving too few bytes per second under pressure.",
	    &m->slow_peers_closed);
	if (q >= 0) {
		family(o, "mte_relay_listen_queue", "gauge",
		    "Connections waiting to be accepted by a worker.");
		put(o, "mte_relay_listen_queue %lld\n", q);
	}
}

static void
histogram(struct out *o, const char *name, const char *help, const struct histogram *h,
    const double *bounds, size_t nbounds)
{
	unsigned long long cum = 0, sum_us;
	size_t i;

	family(o, name, "histogram", help);
	for (i = 0; i < nbounds; i++) {
		cum += get(&h->bucket[i]);
		put(o, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], cum);
	}
	cum += get(&h->bucket[nbounds]);
	put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	sum_us = get(&h->sum_us);
	put(o, "%s_sum %llu.%06llu\n", name, sum_us / 1000000, sum_us % 1000000);
	put(o, "%s_count %llu\n", name, cum);
}

int
metrics_render(char *buf, size_t cap)
{
	const struct shared *m = region != NULL ? region : &zero_region;
	struct out o = { buf, cap, 0, 0 };
	size_t r, k;

	if (buf == NULL || cap == 0)
		return -1;
	buf[0] = '\0';

	family(&o, "mte_relay_build_info", "gauge", "Version of the running relay (always 1).");
	put(&o, "mte_relay_build_info{version=\"%s\"} 1\n", MTE_RELAY_VERSION);
	family(&o, "process_start_time_seconds", "gauge",
	    "Start time of the relay since the Unix epoch, in seconds.");
	put(&o, "process_start_time_seconds %.3f\n", m->start_time);

	/* Only series that occurred: the full matrix is mostly impossible pairs. */
	family(&o, "mte_relay_requests_total", "counter",
	    "Requests answered, by route class and status code (or status class).");
	for (r = 0; r < ROUTE_CLASSES; r++)
		for (k = 0; k < STATUS_SLOTS; k++) {
			unsigned long long v = get(&m->requests[r][k]);
			if (v == 0)
				continue;
			if (k < N_EXACT)
				put(&o, "mte_relay_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
				    route_class_label(r), exact_status[k], v);
			else
				put(&o, "mte_relay_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
				    route_class_label(r), bucket_label[k - N_EXACT], v);
		}

	counter(&o, "mte_relay_pairings_total", "Pairs created through /api/mte-pair.",
	    &m->pairings);
	render_pairing_limits(&o, m);
	family(&o, "mte_relay_decode_failures_total", "counter",
	    "Protected or pairing requests refused, by reason.");
	for (k = 0; k < MDR_COUNT; k++)
		put(&o, "mte_relay_decode_failures_total{reason=\"%s\"} %llu\n",
		    reason_label[k], get(&m->decode[k]));
	counter(&o, "mte_relay_replay_rejections_total",
	    "Requests refused with 570 because their sequence number was replayed or stale.",
	    &m->replays);
	counter(&o, "mte_relay_store_errors_total",
	    "State store operations that failed (store unavailable).", &m->store_errors);
	histogram(&o, "mte_relay_store_duration_seconds", "Duration of one state store operation.",
	    &m->store, store_bounds, STORE_BUCKETS - 1);
	render_store_nodes(&o, m);
	histogram(&o, "mte_relay_upstream_duration_seconds",
	    "Time from sending a request upstream until its response head arrived.",
	    &m->upstream, upstream_bounds, UPSTREAM_BUCKETS - 1);
	counter(&o, "mte_relay_worker_restarts_total",
	    "Worker processes that died and were replaced.", &m->worker_restarts);
	counter(&o, "mte_relay_tls_handshake_failures_total",
	    "TLS connections that ended before their handshake completed (TLS_CERT_FILE set).",
	    &m->tls_handshake_failures);
	family(&o, "mte_relay_upstream_resends_total", "counter",
	    "Requests whose kept-alive upstream connection died before any answer: sent again "
	    "on a new one (idempotent methods) or refused with 502 (the others).");
	put(&o, "mte_relay_upstream_resends_total{outcome=\"sent\"} %llu\n", get(&m->upstream_resends[0]));
	put(&o, "mte_relay_upstream_resends_total{outcome=\"refused\"} %llu\n", get(&m->upstream_resends[1]));
	render_pool(&o, m);

	if (o.full) {
		buf[0] = '\0';
		return -1;
	}
	return (int)o.len;
}
