/* metrics_http.c - GET /metrics: method, bearer token, response (see metrics.h).
 * Apart from metrics.c so that modules which only count (store, upstream)
 * do not pull the connection and dispatch code into what links them. */
#include "metrics.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <bearssl.h>

static void
digest(uint8_t out[32], const char *s, size_t n)
{
	br_sha256_context h;

	br_sha256_init(&h);
	br_sha256_update(&h, s, n);
	br_sha256_out(&h, out);
}

int
metrics_token_ok(const char *token, const char *authz, size_t len)
{
	uint8_t want[32], got[32];
	unsigned diff = 0;
	size_t i, b, e;

	if (token == NULL)
		return 1;
	if (authz == NULL)
		return 0;
	b = 0;
	e = len;
	while (b < e && (authz[b] == ' ' || authz[b] == '\t'))
		b++;
	while (e > b && (authz[e - 1] == ' ' || authz[e - 1] == '\t'))
		e--;
	/* "Bearer" 1*SP token (RFC 6750 2.1); the scheme is case-insensitive. */
	if (e - b < 7 || strncasecmp(authz + b, "bearer", 6) != 0 || authz[b + 6] != ' ')
		return 0;
	b += 7;
	while (b < e && authz[b] == ' ')
		b++;
	if (b == e)
		return 0;
	/* Comparing digests makes the time independent of where, and whether
	 * in length, the presented token differs from the configured one. */
	digest(want, token, strlen(token));
	digest(got, authz + b, e - b);
	for (i = 0; i < sizeof want; i++)
		diff |= (unsigned)(want[i] ^ got[i]);
	return diff == 0;
}

void
builtin_metrics(struct server *s, struct conn *c, const struct http_request *req)
{
	static char body[METRICS_BODY_MAX];     /* static: too large for the stack */
	static const struct http_field fields[] = {
		{ "Content-Type", "text/plain; version=0.0.4; charset=utf-8" },
		{ "Cache-Control", "no-store" },
	};
	const struct http_header *a;
	int n;

	if (!server_is_get_or_head(req)) {
		s->reason = "method not allowed";
		conn_respond_error(c, 405, "method not allowed",
		    (struct http_field[]){ { "Allow", "GET, HEAD" } }, 1);
		return;
	}
	a = http_header_get(req, "authorization");
	if (s->cfg->metrics_token != NULL &&
	    (a == NULL || http_header_next(req, "authorization", a) != NULL ||
	    !metrics_token_ok(s->cfg->metrics_token, a->value.ptr, a->value.len))) {
		s->reason = "metrics token missing or wrong";
		conn_respond_error(c, 401, "unauthorized",
		    (struct http_field[]){ { "WWW-Authenticate", "Bearer realm=\"metrics\"" } }, 1);
		return;
	}
	n = metrics_render(body, sizeof body);
	if (n < 0) {
		s->reason = "metrics text too large";
		conn_respond_error(c, 500, "metrics text too large", NULL, 0);
		return;
	}
	if (conn_respond_head(c, 200, fields, sizeof fields / sizeof fields[0], n) == 0 &&
	    conn_respond_body(c, body, (size_t)n) == 0)
		conn_respond_end(c);
}
