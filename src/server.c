/* server.c - per-request dispatch, the failure answer, response hooks, access
 * log, worker loop (see server.h). */
#include "server.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "prefork.h"
#include "route.h"
#include "store/store.h"
#include "tls.h"
#include "upstream.h"

/* Set in the parent, inherited by each worker at its fork. */
static const struct tls_creds *server_tls;

void
server_set_tls(const struct tls_creds *cr)
{
	server_tls = cr;
}

void
server_fail(struct server *s, struct conn *c, enum failure f, const struct server_fail_ctx *ctx)
{
	static const struct server_fail_ctx none;
	const struct failure_kind *k = failure_kind(f);
	char body[CONN_ERROR_BODY_MAX];

	if (ctx == NULL)
		ctx = &none;
	s->reason = k->reason;
	failure_account(f, conn_info(c)->id, ctx->client_id, ctx->pair_id);
	if (k->status == 0 || conn_responded(c)) {
		conn_set_close(c);
		return;
	}
	if (ctx->seal != NULL && k->sealed) {
		size_t n = conn_error_body(body, sizeof body, k->status, failure_message(f));
		if (ctx->seal(ctx->seal_arg, k->status, body, n) != 0) {
			s->reason = failure_kind(F_RESPONSE_UNSEALABLE)->reason;
			conn_set_close(c);
		}
		return;
	}
	conn_respond_error_members(c, k->status, failure_message(f), ctx->members, ctx->extra,
	    ctx->n_extra);
}

int
server_is_get_or_head(const struct http_request *req)
{
	return (req->method.len == 3 && memcmp(req->method.ptr, "GET", 3) == 0) ||
	    (req->method.len == 4 && memcmp(req->method.ptr, "HEAD", 4) == 0);
}

size_t
server_response_fields(void *arg, const struct http_request *req, int status,
    struct http_field *out, size_t cap)
{
	struct server *s = arg;
	size_t n, i;

	(void)status;
	/* Preflight answers build their own CORS fields. */
	if (s->route == RC_PREFLIGHT)
		n = 0;
	else
		n = cors_response_fields(s->cfg, req, &s->cors, out, cap);
	for (i = 0; i < s->cfg->headers_count && n < cap; i++)
		out[n++] = (struct http_field){ s->cfg->headers[i].name, s->cfg->headers[i].value };
	return n;
}

/* Copies s[0..n) into out as a string, cut to fit cap. */
static void
copy_cut(char *out, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(out, s, n);
	out[n] = '\0';
}

void
server_request_done(void *arg, struct conn *c, const struct http_request *req)
{
	struct server *s = arg;
	const struct conn_info *ci = conn_info(c);
	struct timespec now;
	char method[METHOD_MAX + 1] = "", path[LOG_PATH_MAX + 1] = "";
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - ci->started.tv_sec) * 1000 +
	    (now.tv_nsec - ci->started.tv_nsec) / 1000000;
	if (req != NULL) {
		copy_cut(method, sizeof method, req->method.ptr, req->method.len);
		/* Only clear paths: a protected request's real URL is never logged,
		 * and queries are left out since they often carry tokens. */
		if (s->route != RC_PROTECTED)
			copy_cut(path, sizeof path, req->path.ptr, req->path.len);
	}
	LOG_EVENT(ci->status >= 500 ? LOG_WARN : LOG_INFO, "request",
	    LOG_S("request_id", ci->id), LOG_S("method", method), LOG_S("path", path),
	    LOG_S("route", route_class_label(s->route)), LOG_I("status", ci->status),
	    LOG_I("duration_ms", ms), LOG_I("bytes_in", ci->bytes_in),
	    LOG_I("bytes_out", ci->bytes_out), LOG_S("peer", s->client_addr),
	    LOG_S("reason", s->reason ? s->reason : ""));
	metrics_count_request(s->route, ci->status);
	s->route = RC_NONE;
	s->reason = NULL;
	/* A next request that never reaches server_handle is the peer's. */
	memcpy(s->client_addr, s->peer, sizeof s->client_addr - 1);
	s->client_addr[sizeof s->client_addr - 1] = '\0';
}

static void
respond_preflight(struct server *s, struct conn *c, const struct http_request *req)
{
	struct http_field f[CORS_FIELDS_MAX];
	size_t n = cors_preflight_fields(s->cfg, req, &s->cors, f, CORS_FIELDS_MAX);

	if (!cors_origin_allowed(s->cfg, req))
		s->reason = "preflight from an origin not in CORS_ORIGINS";

	if (conn_respond_head(c, 204, f, n, 0) == 0)
		conn_respond_end(c);
}

/* 1 when the request carries an x-mte-relay field of four comma-separated
 * parts: the mark of a protected request (protocol.md, dispatch). */
static int
has_relay_header(const struct http_request *req)
{
	const struct http_header *h = http_header_get(req, "x-mte-relay");
	size_t i, commas = 0;

	if (h == NULL)
		return 0;
	for (i = 0; i < h->value.len; i++)
		commas += h->value.ptr[i] == ',';
	return commas == 3;
}

/* The request's client address (client_addr.h) into s->client_addr. */
static void
resolve_client_addr(struct server *s, const struct http_request *req)
{
	struct http_slice xff[HTTP_HEADER_COUNT_MAX];
	const struct http_header *h = NULL;
	size_t n = 0;

	if (s->cfg->trusted_proxies.count > 0)
		while (n < HTTP_HEADER_COUNT_MAX &&
		    (h = http_header_next(req, "x-forwarded-for", h)) != NULL)
			xff[n++] = h->value;
	client_addr_resolve(&s->cfg->trusted_proxies, s->peer, xff, n, s->client_addr);
}

void
server_handle(struct conn *c, const struct http_request *req, void *arg)
{
	struct server *s = arg;
	const char *rarg;
	size_t rlen;
	enum route_builtin b;

	resolve_client_addr(s, req);
	if (cors_is_preflight(req)) {
		s->route = RC_PREFLIGHT;
		respond_preflight(s, c, req);
		return;
	}
	if (req->path.len == 1 && req->path.ptr[0] == '*') {
		/* OPTIONS * : what the server supports in general. */
		s->route = RC_NONE;
		if (conn_respond_head(c, 204, (struct http_field[]){
		    { "Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" } }, 1, 0) == 0)
			conn_respond_end(c);
		return;
	}

	b = route_builtin(req->path.ptr, req->path.len, &rarg, &rlen);
	if (b == ROUTE_METRICS && !s->cfg->metrics)
		b = ROUTE_NONE;   /* /metrics belongs to the application then */
	switch (b) {
	case ROUTE_ECHO:
		s->route = RC_ECHO;
		builtin_echo(s, c, req, rarg, rlen);
		return;
	case ROUTE_MTE_RELAY:
		s->route = RC_MTE_RELAY;
		builtin_mte_relay(s, c, req);
		return;
	case ROUTE_ERRORS:
		s->route = RC_ERRORS;
		builtin_errors(s, c, req);
		return;
	case ROUTE_PUBLIC:
		s->route = RC_PUBLIC;
		builtin_public(s, c, req, rarg, rlen);
		return;
	case ROUTE_METRICS:
		s->route = RC_METRICS;
		builtin_metrics(s, c, req);
		return;
	case ROUTE_PAIR:
	case ROUTE_NONE:
		break;
	}
	if (b == ROUTE_PAIR) {
		s->route = RC_PAIR;
		pair_handle(s, c, req);
		return;
	}
	if (has_relay_header(req)) {
		s->route = RC_PROTECTED;
		protected_handle(s, c, req);
		return;
	}
	if (route_list_match(&s->cfg->pass_through_routes, req->path.ptr, req->path.len)) {
		s->route = RC_PASS_THROUGH;
		if (!route_path_is_clean(req->path.ptr, req->path.len)) {
			server_fail(s, c, F_PATH_UNCLEAN, NULL);
			return;
		}
		passthrough_handle(s, c, req);
		return;
	}
	s->route = RC_UNROUTED;
	server_fail(s, c, F_UNROUTED, NULL);
}

static int worker_listen_fd = -1;

/*
 * A worker serves one connection at a time, so an idle keep-alive
 * connection would hold it while new connections wait in the backlog.
 * While the pool can still grow, the parent forks a worker for them; only
 * at the ceiling (MAX_POOL_SIZE workers, none idle) does conn close a
 * kept-alive connection for them (announced with "Connection: close" on
 * the response, or after a short idle grace).
 */
static int
worker_busy(void)
{
	struct pollfd p = { .fd = worker_listen_fd, .events = POLLIN };

	return prefork_at_ceiling() && poll(&p, 1, 0) > 0;
}

/* The scoreboard state of what conn waits on. */
static void
worker_state(enum conn_state st)
{
	static const enum worker_state map[] = {
		[CONN_READING] = WS_READING, [CONN_REQUEST] = WS_UPSTREAM,
		[CONN_HANDLING] = WS_UPSTREAM, [CONN_WRITING] = WS_WRITING,
		[CONN_KEEPALIVE] = WS_KEEPALIVE,
	};

	if (st == CONN_REQUEST)
		prefork_count_request();
	if ((size_t)st < sizeof map / sizeof map[0])
		prefork_set_state(map[st]);
}

/* A slow peer gave way under pressure: logged with the reason (no
 * content), counted. */
static void
worker_gave_way(void *arg, struct conn *c, const char *phase, unsigned rate_bps,
    unsigned floor_bps)
{
	const struct server *s = arg;

	LOG_EVENT(LOG_WARN, "slow connection closed under pressure",
	    LOG_S("request_id", conn_info(c)->id), LOG_S("peer", s->peer),
	    LOG_S("phase", phase), LOG_I("rate_bps", rate_bps), LOG_I("floor_bps", floor_bps),
	    LOG_S("reason", "the pool is full and connections wait: the slowest peers give way"));
	metrics_count_slow_peer_closed();
}

void
server_worker_main(int listen_fd, void *arg)
{
	static struct conn conn;       /* large buffers: static, not on the stack */
	static struct server srv;
	const struct config *cfg = arg;
	struct conn_config cc, occ;
	sigset_t term;

	srv.cfg = cfg;
	if (upstream_init(cfg->upstream_ca_file) != 0) {
		log_msg(LOG_ERROR, "worker: cannot initialise libcurl");
		_exit(1);
	}
	/* Connects lazily: a store that is down must not stop the worker. */
	store_worker_init();
	memset(&cc, 0, sizeof cc);
	cc.header_timeout_s = cfg->header_timeout;
	cc.idle_timeout_s = cfg->idle_timeout;
	cc.max_body_size = cfg->max_body_size;
	cc.response_fields = server_response_fields;
	cc.request_done = server_request_done;
	cc.hook_arg = &srv;
	cc.stopping = prefork_stopping;
	cc.renewing = prefork_renewing;
	cc.busy = worker_busy;
	cc.state = worker_state;
	cc.pressure_floor = prefork_pressure_floor;
	cc.gave_way = worker_gave_way;
	if (server_tls != NULL)
		cc.transport = tls_server_transport(server_tls, &cc.transport_arg);
	worker_listen_fd = listen_fd;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);

	/* The outbound listener's connections (PROTOCOL.md section 14): no
	 * CORS, no HEADERS on answers, plain HTTP on loopback (TLS_CERT_FILE is
	 * the inbound listener's); the same limits otherwise. */
	occ = cc;
	occ.response_fields = NULL;
	occ.transport = NULL;
	occ.transport_arg = NULL;
	for (;;) {
		int second = 0;
		int fd = prefork_accept(listen_fd, srv.peer, sizeof srv.peer, &second);
		if (fd < 0)
			break;
		/* the outbound listener's, or the only one of an outbound-only relay */
		int outbound = second || !cfg->role_inbound;
		memcpy(srv.client_addr, srv.peer, sizeof srv.client_addr - 1);
		/* While serving, a stop request interrupts waits (no SA_RESTART)
		 * and conn finishes the request in flight, then closes. */
		sigprocmask(SIG_UNBLOCK, &term, NULL);
		conn_serve(&conn, fd, outbound ? &occ : &cc, outbound ? outbound_serve : server_handle, &srv);
		sigprocmask(SIG_BLOCK, &term, NULL);
		if (prefork_stopping())
			break;
	}
	store_worker_close();
	upstream_close();
}
