/* test_metrics.c - shared counters summed across forked processes, the text
 * format line by line, cumulative histograms, status bucketing, the bearer
 * token check, bounded output (METRICS_BODY_MAX at limit+1) and GET /metrics
 * served through the real connection loop. */
#include <criterion/criterion.h>

#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conn.h"
#include "config.h"
#include "http.h"
#include "limits.h"
#include "metrics.h"
#include "server.h"

static char text[METRICS_BODY_MAX];

static void
render(void)
{
	int n = metrics_render(text, sizeof text);
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(text));
}

/* The value of the sample line "<series> <value>", or -1 when it is absent. */
static double
value_of(const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

Test(metrics, counts_before_init_are_dropped)
{
	metrics_count_request(RC_ECHO, 200);
	metrics_count_pairing(3);
	cr_assert_eq(metrics_init(), 0);
	render();
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"echo\",status=\"200\"}"), -1);
	cr_assert_eq(value_of("mte_relay_pairings_total"), 0);
}

/* Counts from several processes sharing the region add up exactly. */
Test(metrics, counts_across_forked_processes_add_up)
{
	enum { PROCS = 4, EACH = 5000 };
	pid_t pids[PROCS];
	int i, status;

	cr_assert_eq(metrics_init(), 0);
	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (pids[i] == 0) {
			for (int k = 0; k < EACH; k++) {
				metrics_count_request(RC_PROTECTED, 200);
				metrics_count_request(RC_PROTECTED, 562);
				metrics_count_pairing(2);
				metrics_count_decode_failure(MDR_META_AUTH);
				metrics_count_replay();
				metrics_count_store_error();
				metrics_observe_store_latency(0.002);
				metrics_observe_upstream_latency(0.2);
			}
			_exit(0);
		}
	}
	/* the parent's share, as prefork's supervisor would */
	metrics_count_worker_restart();
	metrics_count_worker_restart();
	for (i = 0; i < PROCS; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	render();
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"protected\",status=\"200\"}"),
	    PROCS * EACH);
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"protected\",status=\"562\"}"),
	    PROCS * EACH);
	cr_assert_eq(value_of("mte_relay_pairings_total"), 2.0 * PROCS * EACH);
	cr_assert_eq(value_of("mte_relay_decode_failures_total{reason=\"meta_auth\"}"), PROCS * EACH);
	cr_assert_eq(value_of("mte_relay_decode_failures_total{reason=\"body_auth\"}"), 0);
	cr_assert_eq(value_of("mte_relay_replay_rejections_total"), PROCS * EACH);
	cr_assert_eq(value_of("mte_relay_store_errors_total"), PROCS * EACH);
	cr_assert_eq(value_of("mte_relay_store_duration_seconds_count"), PROCS * EACH);
	cr_assert_float_eq(value_of("mte_relay_store_duration_seconds_sum"),
	    0.002 * PROCS * EACH, 1e-6);
	cr_assert_eq(value_of("mte_relay_upstream_duration_seconds_bucket{le=\"0.25\"}"), PROCS * EACH);
	cr_assert_eq(value_of("mte_relay_upstream_duration_seconds_bucket{le=\"0.1\"}"), 0);
	cr_assert_eq(value_of("mte_relay_worker_restarts_total"), 2);
}

/* Every line is a HELP/TYPE comment or `name{labels} value`, every sample
 * belongs to the family its TYPE line declared, and no family repeats. */
Test(metrics, text_format_parses_line_by_line)
{
	regex_t sample, comment;
	char family[128] = "", type[16] = "", seen[4096] = " ";
	char *line, *save = NULL;
	unsigned samples = 0, families = 0;

	cr_assert_eq(regcomp(&sample,
	    "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
	    "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\")*\\})?"
	    " (-?[0-9]+(\\.[0-9]+)?|\\+Inf)$", REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&comment,
	    "^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* [^\n]+|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
	    "(counter|gauge|histogram))$", REG_EXTENDED), 0);

	cr_assert_eq(metrics_init(), 0);
	metrics_count_request(RC_ECHO, 200);
	metrics_count_request(RC_PASS_THROUGH, 299);
	metrics_count_request(RC_NONE, 0);
	metrics_count_request(RC_PUBLIC, 404);
	metrics_observe_store_latency(0.01);
	metrics_observe_upstream_latency(3);
	render();
	cr_assert_eq(text[strlen(text) - 1], '\n');

	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		regmatch_t m[2];
		if (line[0] == '#') {
			cr_assert_eq(regexec(&comment, line, 0, NULL, 0), 0, "bad comment: %s", line);
			if (strncmp(line, "# TYPE ", 7) == 0) {
				char key[140];
				cr_assert_eq(sscanf(line, "# TYPE %127s %15s", family, type), 2);
				snprintf(key, sizeof key, " %s ", family);
				cr_assert_null(strstr(seen, key), "family %s twice", family);
				strncat(seen, key + 1, sizeof seen - strlen(seen) - 1);
				families++;
			}
			continue;
		}
		cr_assert_eq(regexec(&sample, line, 2, m, 0), 0, "bad sample line: %s", line);
		{
			size_t nl = (size_t)(m[1].rm_eo - m[1].rm_so), fl = strlen(family);
			int ok = nl == fl && strncmp(line, family, fl) == 0;
			if (!ok && strcmp(type, "histogram") == 0 && nl > fl &&
			    strncmp(line, family, fl) == 0)
				ok = strncmp(line + fl, "_bucket", nl - fl) == 0 ||
				    strncmp(line + fl, "_sum", nl - fl) == 0 ||
				    strncmp(line + fl, "_count", nl - fl) == 0;
			cr_assert(ok, "sample %s outside its family %s", line, family);
		}
		samples++;
	}
	/* + the pool's (metrics_set_pool), + pairing refusals, cache hits, evictions */
	/* + TLS handshake failures */
	cr_assert_eq(families, 13 + 6 + 3 + 1 + 1);
	cr_assert_gt(samples, 40);
	regfree(&sample);
	regfree(&comment);
}

Test(metrics, status_codes_are_bucketed)
{
	cr_assert_eq(metrics_init(), 0);
	metrics_count_request(RC_PROTECTED, 562);
	metrics_count_request(RC_PROTECTED, 570);
	metrics_count_request(RC_PROTECTED, 559);
	metrics_count_request(RC_ECHO, 200);
	metrics_count_request(RC_ECHO, 299);
	metrics_count_request(RC_ECHO, 226);
	metrics_count_request(RC_PASS_THROUGH, 418);
	metrics_count_request(RC_PASS_THROUGH, 599);
	metrics_count_request(RC_PASS_THROUGH, 571);
	metrics_count_request(RC_NONE, 0);
	metrics_count_request(RC_NONE, 100);
	metrics_count_request(RC_NONE, 600);
	metrics_count_request((enum route_class)99, 200);  /* unknown class: counted as none */
	render();
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"protected\",status=\"562\"}"), 1);
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"protected\",status=\"570\"}"), 1);
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"protected\",status=\"559\"}"), 1);
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"echo\",status=\"200\"}"), 1);
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"echo\",status=\"2xx\"}"), 2);
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"pass-through\",status=\"4xx\"}"), 1);
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"pass-through\",status=\"5xx\"}"), 2);
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"none\",status=\"none\"}"), 1);
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"none\",status=\"other\"}"), 2);
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"none\",status=\"200\"}"), 1);
	/* series that never occurred are left out */
	cr_assert_eq(value_of("mte_relay_requests_total{route=\"echo\",status=\"404\"}"), -1);
}

Test(metrics, histogram_buckets_are_cumulative)
{
	static const char *const les[] = { "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
	    "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf" };
	char series[96];
	double prev = 0;
	size_t i;

	cr_assert_eq(metrics_init(), 0);
	metrics_observe_store_latency(0.0004);     /* le 0.0005 */
	metrics_observe_store_latency(0.0005);     /* a bound belongs to its own bucket */
	metrics_observe_store_latency(0.003);      /* le 0.005 */
	metrics_observe_store_latency(-1);         /* as 0 */
	metrics_observe_store_latency(0.0 / 0.0);  /* NaN, as 0 */
	metrics_observe_store_latency(10);         /* +Inf only */
	render();
	for (i = 0; i < sizeof les / sizeof les[0]; i++) {
		double v;
		snprintf(series, sizeof series, "mte_relay_store_duration_seconds_bucket{le=\"%s\"}",
		    les[i]);
		v = value_of(series);
		cr_assert_geq(v, prev, "%s decreases", series);
		prev = v;
	}
	cr_assert_eq(value_of("mte_relay_store_duration_seconds_bucket{le=\"0.0005\"}"), 4);
	cr_assert_eq(value_of("mte_relay_store_duration_seconds_bucket{le=\"0.0025\"}"), 4);
	cr_assert_eq(value_of("mte_relay_store_duration_seconds_bucket{le=\"0.005\"}"), 5);
	cr_assert_eq(value_of("mte_relay_store_duration_seconds_bucket{le=\"5\"}"), 5);
	cr_assert_eq(value_of("mte_relay_store_duration_seconds_bucket{le=\"+Inf\"}"), 6);
	cr_assert_eq(value_of("mte_relay_store_duration_seconds_count"), 6);
	cr_assert_float_eq(value_of("mte_relay_store_duration_seconds_sum"), 10.0039, 1e-9);
	/* the upstream histogram is separate and empty */
	cr_assert_eq(value_of("mte_relay_upstream_duration_seconds_count"), 0);
	cr_assert_eq(value_of("mte_relay_upstream_duration_seconds_bucket{le=\"120\"}"), 0);
}

Test(metrics, build_info_and_start_time)
{
	time_t before = time(NULL);

	cr_assert_eq(metrics_init(), 0);
	render();
	cr_assert_eq(value_of("mte_relay_build_info{version=\"" MTE_RELAY_VERSION "\"}"), 1);
	cr_assert_geq(value_of("process_start_time_seconds"), (double)before);
	cr_assert_leq(value_of("process_start_time_seconds"), (double)time(NULL) + 1);
}

#define TOKEN "s3cret-metrics-token"
static int
tok(const char *authz)
{
	return metrics_token_ok(TOKEN, authz, authz ? strlen(authz) : 0);
}

Test(metrics, bearer_token_check)
{
	cr_assert_eq(tok("Bearer " TOKEN), 1);
	cr_assert_eq(tok("bearer " TOKEN), 1);              /* scheme is case-insensitive */
	cr_assert_eq(tok("  BEARER   " TOKEN " \t"), 1);    /* whitespace around */
	cr_assert_eq(tok(NULL), 0);                         /* missing */
	cr_assert_eq(tok(""), 0);
	cr_assert_eq(tok("Bearer"), 0);
	cr_assert_eq(tok("Bearer "), 0);
	cr_assert_eq(tok("Bearer s3cret-metrics-tokeN"), 0); /* wrong, same length */
	cr_assert_eq(tok("Bearer x3cret-metrics-token"), 0);
	cr_assert_eq(tok("Bearer s3cret-metrics-toke"), 0);  /* a prefix */
	cr_assert_eq(tok("Bearer " TOKEN "x"), 0);          /* longer */
	cr_assert_eq(tok("Bearer " TOKEN TOKEN), 0);
	cr_assert_eq(tok("Basic " TOKEN), 0);                /* other scheme */
	cr_assert_eq(tok("Bearer\t" TOKEN), 0);
	cr_assert_eq(tok(TOKEN), 0);                          /* no scheme */
	cr_assert_eq(metrics_token_ok(TOKEN, "Bearer " TOKEN "zzz", strlen("Bearer " TOKEN)), 1,
	    "only len bytes are read");
	cr_assert_eq(metrics_token_ok(NULL, NULL, 0), 1);    /* no token configured */
	cr_assert_eq(metrics_token_ok(NULL, "Bearer x", 8), 1);
}

/* Output is bounded: every cap too small fails without writing past cap, and
 * the worst case fits in METRICS_BODY_MAX. */
Test(metrics, output_is_bounded)
{
	static char buf[METRICS_BODY_MAX + 64];
	unsigned long lines = 0;
	size_t cap, len, i;
	int rc, s;

	cr_assert_eq(metrics_init(), 0);
	/* every series present */
	for (int r = 0; r <= RC_UNROUTED; r++)
		for (s = 0; s < 700; s++)
			metrics_count_request((enum route_class)r, s);
	for (i = 0; i < MDR_COUNT; i++)
		metrics_count_decode_failure((enum metrics_decode_reason)i);
	render();
	len = strlen(text);
	for (i = 0; i < len; i++)
		lines += text[i] == '\n';

	for (cap = 0; cap <= len + 1; cap++) {
		memset(buf, 0x5a, sizeof buf);
		rc = metrics_render(cap ? buf : NULL, cap);
		if (cap <= len) {
			cr_assert_eq(rc, -1, "cap %zu", cap);
			if (cap > 0)
				cr_assert_eq(buf[0], '\0');
		} else {
			cr_assert_eq(rc, (int)len);
			cr_assert_str_eq(buf, text);
		}
		for (i = cap; i < sizeof buf; i++)
			cr_assert_eq(buf[i], 0x5a, "byte %zu written with cap %zu", i, cap);
	}
	/* limit+1: each value here has 1..5 digits; at 2^64-1 it has 20, and a
	 * histogram sum grows from 8 to 21 characters.  Even so it fits. */
	cr_assert_leq(len + 20 * lines + 1, (size_t)METRICS_BODY_MAX,
	    "worst case %zu bytes", len + 20 * lines + 1);
}

/* ---- GET /metrics through the real connection loop ---- */

static struct config cfg;
static struct server srv;

static void
handler(struct conn *c, const struct http_request *req, void *arg)
{
	builtin_metrics(arg, c, req);
}

/* Serves one request in a child and returns the raw response. */
static char *
exchange(const char *request)
{
	static char resp[METRICS_BODY_MAX + 4096];
	static struct conn conn;
	struct conn_config cc;
	size_t got = 0;
	ssize_t n;
	int sv[2], status;
	pid_t pid;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		alarm(20);
		memset(&cc, 0, sizeof cc);
		cc.header_timeout_s = 5;
		cc.idle_timeout_s = 5;
		srv.cfg = &cfg;
		conn_serve(&conn, sv[1], &cc, handler, &srv);
		_exit(0);
	}
	close(sv[1]);
	cr_assert_eq(write(sv[0], request, strlen(request)), (ssize_t)strlen(request));
	shutdown(sv[0], SHUT_WR);
	while (got < sizeof resp - 1 && (n = read(sv[0], resp + got, sizeof resp - 1 - got)) > 0)
		got += (size_t)n;
	resp[got] = '\0';
	close(sv[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return resp;
}

Test(metrics, route_serves_text_and_enforces_token)
{
	char *r;

	cr_assert_eq(metrics_init(), 0);
	metrics_count_request(RC_ECHO, 200);

	/* no token configured: open */
	cfg.metrics_token = NULL;
	r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 200 ", 13) == 0, "%s", r);
	cr_assert_not_null(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	cr_assert_not_null(strstr(r, "\r\n\r\n# HELP mte_relay_build_info "));
	cr_assert_not_null(strstr(r, "mte_relay_requests_total{route=\"echo\",status=\"200\"} 1\n"));

	cfg.metrics_token = TOKEN;
	r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 401 ", 13) == 0, "%s", r);
	cr_assert_not_null(strstr(r, "WWW-Authenticate: Bearer realm=\"metrics\"\r\n"));
	cr_assert_not_null(strstr(r, "application/json"));
	cr_assert_null(strstr(r, "mte_relay_"));
	cr_assert_null(strstr(r, TOKEN));

	r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 401 ", 13) == 0, "%s", r);

	/* a second Authorization field is refused even when one is right */
	r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
	    "\r\nAuthorization: Bearer wrong\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 401 ", 13) == 0, "%s", r);

	r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 200 ", 13) == 0, "%s", r);
	cr_assert_not_null(strstr(r, "# TYPE mte_relay_requests_total counter\n"));

	r = exchange("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 405 ", 13) == 0, "%s", r);
	cr_assert_not_null(strstr(r, "Allow: GET, HEAD\r\n"));

	r = exchange("HEAD /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 200 ", 13) == 0, "%s", r);
	cr_assert_null(strstr(r, "# HELP"));
}

/* The pool's series: gauges as the parent set them, counters summed, the
 * listen queue only when it could be read. */
Test(metrics, pool_series)
{
	unsigned by_state[WS_COUNT] = { 0 };

	cr_assert_eq(metrics_init(), 0);
	by_state[WS_IDLE] = 5;
	by_state[WS_UPSTREAM] = 7;
	by_state[WS_DRAINING] = 1;
	metrics_set_pool(by_state, 256, 3);
	metrics_count_worker_spawned();
	metrics_count_worker_spawned();
	metrics_count_worker_retired();
	metrics_count_slow_peer_closed();
	render();
	cr_assert_not_null(strstr(text, "\nmte_relay_workers{state=\"idle\"} 5\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_workers{state=\"upstream\"} 7\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_workers{state=\"reading\"} 0\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_workers{state=\"draining\"} 1\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_workers_max 256\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_workers_spawned_total 2\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_workers_retired_total 1\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_slow_peers_closed_total 1\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_listen_queue 3\n"));
	metrics_set_pool(by_state, 256, -1);
	render();
	cr_assert_null(strstr(text, "mte_relay_listen_queue"));
}

/* Pairing refusals by budget and evictions by kind; out-of-range ignored. */
Test(metrics, pairing_limit_series)
{
	cr_assert_eq(metrics_init(), 0);
	metrics_count_pairing_refused(PAIR_BUDGET_CLIENT);
	metrics_count_pairing_refused(PAIR_BUDGET_CLIENT);
	metrics_count_pairing_refused(PAIR_BUDGET_INSTANCE);
	metrics_count_pairing_refused(PAIR_BUDGETS);
	metrics_count_store_eviction(METRICS_EVICT_FRESH);
	metrics_count_store_eviction(METRICS_EVICTION_KINDS);
	render();
	cr_assert_not_null(strstr(text, "\nmte_relay_pairings_refused_total{limit=\"client\"} 2\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_pairings_refused_total{limit=\"instance\"} 1\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_pairings_refused_total{limit=\"address\"} 0\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_store_evictions_total{kind=\"fresh\"} 1\n"));
	cr_assert_not_null(strstr(text, "\nmte_relay_store_evictions_total{kind=\"used\"} 0\n"));
}
