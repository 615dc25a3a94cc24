/* test_forward.c - the forwarding policy (forward.c): which request fields
 * reach the upstream on both paths, and which response fields come back. */
#include <criterion/criterion.h>
#include <string.h>

#include "forward.h"

static struct forward_fields out;   /* large: not on the stack */

static void
parse(struct http_request *req, const char *head)
{
	cr_assert_gt(http_parse_request(head, strlen(head), req), 0, "%s", head);
}

static const char *
value_of(const char *name)
{
	size_t i;

	for (i = 0; i < out.n; i++)
		if (strcasecmp(out.f[i].name, name) == 0)
			return out.f[i].value;
	return NULL;
}

static int
never_sealed(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	return 0;
}

static int
sealed_cookie(const char *name, void *arg)
{
	(void)arg;
	return strcasecmp(name, "cookie") == 0;
}

Test(forward, pass_through_drops_hop_by_hop_underscores_protocol_and_relay_fields)
{
	static struct http_request req;
	struct config cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.headers[0] = (struct header_kv){ "x-frame-options", "DENY" };
	cfg.headers_count = 1;
	parse(&req, "POST /a HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, x-gone\r\n"
	    "X-Gone: 1\r\nTransfer_Encoding: chunked\r\nX-Mte-Relay-Eh: e\r\n"
	    "X-Forwarded-For: 10.0.0.1\r\nX-Frame-Options: ALLOW\r\nX-App: yes\r\n"
	    "Content-Length: 0\r\n\r\n");
	cr_assert_eq(forward_begin(&out, &cfg, &req), 0);
	cr_expect_eq(out.n, 1, "only X-App is end-to-end and the client's");
	cr_expect_str_eq(value_of("x-app"), "yes");
	cr_assert_eq(forward_add_relay(&out, &cfg, &req, "192.0.2.7"), 0);
	cr_expect_str_eq(value_of("x-frame-options"), "DENY", "HEADERS wins over the client");
	cr_expect_str_eq(value_of("x-forwarded-for"), "10.0.0.1, 192.0.2.7");
	cr_expect_eq(out.n, 3);
}

Test(forward, every_x_forwarded_for_line_in_order_then_the_peer)
{
	static struct http_request req;
	struct config cfg;

	memset(&cfg, 0, sizeof cfg);
	parse(&req, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n"
	    "X-Forwarded-For: 2.2.2.2, 3.3.3.3\r\n\r\n");
	cr_assert_eq(forward_begin(&out, &cfg, &req), 0);
	cr_assert_eq(forward_add_relay(&out, &cfg, &req, "4.4.4.4"), 0);
	cr_expect_str_eq(value_of("x-forwarded-for"), "1.1.1.1, 2.2.2.2, 3.3.3.3, 4.4.4.4");
	cr_assert_eq(forward_begin(&out, &cfg, &req), 0);
	cr_assert_eq(forward_add_relay(&out, &cfg, &req, ""), 0);
	cr_expect_null(value_of("x-forwarded-for"), "no peer, no field");
}

Test(forward, protected_keeps_only_browser_fields_and_named_ones)
{
	static struct http_request req;
	static const char *const named[] = { "x-named" };
	struct config cfg;

	memset(&cfg, 0, sizeof cfg);
	parse(&req, "GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nSec-Fetch-Mode: cors\r\n"
	    "Accept-Encoding: gzip\r\nX-Method-Override: DELETE\r\nX-Named: 1\r\n"
	    "Cookie: a=1\r\n\r\n");
	cr_assert_eq(forward_begin(&out, &cfg, &req), 0);
	forward_keep_clear(&out, named, 1, never_sealed, NULL);
	cr_expect_str_eq(value_of("accept"), "*/*");
	cr_expect_str_eq(value_of("sec-fetch-mode"), "cors");
	cr_expect_str_eq(value_of("x-named"), "1");
	cr_expect_str_eq(value_of("cookie"), "a=1");
	cr_expect_null(value_of("x-method-override"), "a hop could have added it");
	cr_expect_null(value_of("accept-encoding"), "the browser's encodings are not the app's");
	cr_expect_eq(out.n, 4);

	cr_assert_eq(forward_begin(&out, &cfg, &req), 0);
	forward_keep_clear(&out, named, 1, sealed_cookie, NULL);
	cr_expect_null(value_of("cookie"), "a sealed field overrides the clear one");
}

Test(forward, sealed_fields_cannot_be_the_relays_own)
{
	static struct http_request req;
	struct config cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.headers[0] = (struct header_kv){ "x-tenant", "t1" };
	cfg.headers_count = 1;
	parse(&req, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	cr_assert_eq(forward_begin(&out, &cfg, &req), 0);
	cr_assert_eq(forward_add_sealed(&out, &cfg, "x-forwarded-for", "6.6.6.6"), 0);
	cr_assert_eq(forward_add_sealed(&out, &cfg, "X-Tenant", "evil"), 0);
	cr_assert_eq(forward_add_sealed(&out, &cfg, "transfer-encoding", "chunked"), 0);
	cr_assert_eq(forward_add_sealed(&out, &cfg, "x-mte-relay", "x"), 0);
	cr_assert_eq(forward_add_sealed(&out, &cfg, "x_a", "1"), 0);
	cr_expect_eq(out.n, 0, "each of them skipped");
	cr_assert_eq(forward_add_sealed(&out, &cfg, "authorization", "Bearer t"), 0);
	cr_expect_str_eq(value_of("authorization"), "Bearer t");
}

Test(forward, full_at_the_limit)
{
	static struct http_request req;
	struct config cfg;
	size_t i;

	memset(&cfg, 0, sizeof cfg);
	parse(&req, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	cr_assert_eq(forward_begin(&out, &cfg, &req), 0);
	for (i = 0; i < FORWARD_FIELDS_MAX; i++)
		cr_assert_eq(forward_add_sealed(&out, &cfg, "x-a", "1"), 0, "field %zu", i);
	cr_expect_eq(forward_add_sealed(&out, &cfg, "x-a", "1"), -1, "limit + 1");
}

Test(forward, response_fields)
{
	cr_expect_eq(forward_response_kind("Transfer-Encoding", 17), FORWARD_DROP);
	cr_expect_eq(forward_response_kind("date", 4), FORWARD_DROP);
	cr_expect_eq(forward_response_kind("Access-Control-Allow-Origin", 27), FORWARD_DROP);
	cr_expect_eq(forward_response_kind("Set-Cookie", 10), FORWARD_CLEAR);
	cr_expect_eq(forward_response_kind("etag", 4), FORWARD_CLEAR);
	cr_expect_eq(forward_response_kind("Content-Type", 12), FORWARD_SEAL);
	cr_expect_eq(forward_response_kind("Location", 8), FORWARD_SEAL);
}

Test(forward, location_of_the_upstream_maps_to_the_relay)
{
	static const struct { const char *upstream, *loc, *want; } cases[] = {
		{ "http://api:3000", "http://api:3000/api/new?from=old", "/api/new?from=old" },
		{ "http://api:3000", "HTTP://API:3000/x#frag", "/x#frag" },
		{ "http://api:3000", "http://api:3000", "/" },
		{ "http://api:3000", "http://api:3000?q", "/?q" },
		{ "http://api:3000", "//api:3000/y", "/y" },
		{ "http://api", "http://api:80/z", "/z" },
		{ "https://api", "https://api:443/z", "/z" },
		{ "http://api:3000", "/api/new", "/api/new" },
		{ "http://api:3000", "new", "new" },
		{ "http://api:3000", "../x", "../x" },
		{ "http://api:3000", "http://other:3000/x", "http://other:3000/x" },
		{ "http://api:3000", "http://api:3001/x", "http://api:3001/x" },
		{ "http://api:3000", "https://api:3000/x", "https://api:3000/x" },
		{ "http://api:3000", "http://api:3000x/x", "http://api:3000x/x" },
		{ "http://api:3000", "mailto:a@b", "mailto:a@b" },
		{ "http://[::1]:3000", "http://[::1]:3000/v6", "/v6" },
		{ "http://[::1]:3000", "http://[::1]/v6", "http://[::1]/v6" },
		{ "http://api:3000/base", "http://api:3000/base/new?x=1", "/new?x=1" },
		{ "http://api:3000/base", "http://api:3000/base", "/" },
		{ "http://api:3000/base", "http://api:3000/base?x", "/?x" },
		{ "http://api:3000/base", "http://api:3000/basement", "http://api:3000/basement" },
		{ "http://api:3000/base", "http://api:3000/other", "http://api:3000/other" },
		{ "http://api:3000/base", "/base/new", "/new" },
		{ "http://api:3000/base", "/base", "/" },
		{ "http://api:3000/base", "/elsewhere", "/elsewhere" },
		{ "http://api:3000/base", "rel/x", "rel/x" },
	};
	char buf[128];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *got = forward_location(cases[i].upstream, cases[i].loc, buf, sizeof buf);
		cr_expect_str_eq(got, cases[i].want, "%s under %s", cases[i].loc, cases[i].upstream);
		cr_expect_leq(strlen(got), strlen(cases[i].loc), "never longer");
	}
	cr_expect_str_eq(forward_location("http://api", "http://api/long/path", buf, 5),
	    "http://api/long/path", "a buffer too small leaves it unchanged");
}
