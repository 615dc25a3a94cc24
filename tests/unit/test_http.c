/* test_http.c - the request parser, chunked decoder and response writer:
 * tables of valid and malformed inputs (every truncated prefix of each is
 * parsed too, from an exactly sized heap copy so ASan sees any over-read),
 * every limit at limit and limit+1, and the smuggling shapes. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_cases.h"

/* ---- helpers ---- */

static size_t case_len(const char *in, size_t len)
{
	return len != 0 ? len : strlen(in);
}

/* A heap copy of exactly n bytes (malloc(0) avoided). */
static char *dup_exact(const char *in, size_t n)
{
	char *p = malloc(n ? n : 1);
	cr_assert_not_null(p);
	memcpy(p, in, n);
	return p;
}

static int slice_inside(struct http_slice s, const char *buf, size_t len)
{
	if (s.ptr == NULL)
		return s.len == 0;
	return s.ptr >= buf && s.len <= len && (size_t)(s.ptr - buf) <= len - s.len;
}

/* Every slice of a successful parse lies inside buf[0..consumed). */
static void check_slices(const struct http_request *req, const char *buf, size_t consumed)
{
	cr_assert(slice_inside(req->method, buf, consumed));
	cr_assert(slice_inside(req->target, buf, consumed));
	cr_assert(slice_inside(req->query, buf, consumed));
	cr_assert(slice_inside(req->host, buf, consumed));
	cr_assert(slice_inside(req->path, buf, consumed));
	cr_assert_gt(req->path.len, 0);
	/* path and query are adjacent in the target */
	if (req->query.ptr != NULL)
		cr_assert(req->query.ptr == req->path.ptr + req->path.len + 1);
	cr_assert(req->path.ptr + req->path.len + (req->query.ptr ? req->query.len + 1 : 0) ==
	    req->target.ptr + req->target.len);
	cr_assert_leq(req->header_count, HTTP_HEADER_COUNT_MAX);
	for (size_t i = 0; i < req->header_count; i++) {
		cr_assert(slice_inside(req->headers[i].name, buf, consumed));
		cr_assert(slice_inside(req->headers[i].value, buf, consumed));
		cr_assert_gt(req->headers[i].name.len, 0);
	}
	cr_assert_eq(req->head_len, consumed);
}

static int parse_copy(const char *in, size_t n, struct http_request *req)
{
	char *buf = dup_exact(in, n);
	int r = http_parse_request(buf, n, req);
	if (r > 0)
		check_slices(req, buf, (size_t)r);
	free(buf);
	return r;
}

/* The whole input gives want (consumed, or -1 with status); every prefix
 * gives -2, or the same -1 (an error is reported at its first byte and
 * stays), or for valid input with trailing bytes the same consumed count. */
static void check_request(const char *name, const char *in, size_t len,
    int want, int status)
{
	struct http_request *req = malloc(sizeof *req);
	cr_assert_not_null(req);
	bool failed = false;
	for (size_t k = 0; k < len; k++) {
		int r = parse_copy(in, k, req);
		if (want > 0 && k >= (size_t)want) {
			cr_assert_eq(r, want, "%s: prefix %zu: %d", name, k, r);
			continue;
		}
		if (want > 0) {
			cr_assert_eq(r, -2, "%s: prefix %zu of valid input: %d (status %d)",
			    name, k, r, req->error);
			continue;
		}
		if (failed)
			cr_assert_eq(r, -1, "%s: prefix %zu: error did not stay", name, k);
		if (r == -1) {
			failed = true;
			cr_assert_eq(req->error, status, "%s: prefix %zu: status %d, want %d",
			    name, k, req->error, status);
		} else {
			cr_assert_eq(r, -2, "%s: prefix %zu: %d", name, k, r);
		}
	}
	int r = parse_copy(in, len, req);
	cr_assert_eq(r, want, "%s: %d, want %d (status %d %s)", name, r, want,
	    req->error, req->error_detail ? req->error_detail : "");
	if (want < 0) {
		cr_assert_eq(req->error, status, "%s: status %d, want %d", name,
		    req->error, status);
		cr_assert_not_null(req->error_detail);
	}
	free(req);
}

/* ---- request tables ---- */

Test(http_parse, table_with_every_prefix)
{
	for (size_t i = 0; i < N_REQ_CASES; i++) {
		const struct req_case *tc = &req_cases[i];
		size_t len = case_len(tc->in, tc->len);
		int want = tc->status != 0 ? -1 : tc->consumed > 0 ? tc->consumed : (int)len;
		check_request(tc->name, tc->in, len, want, tc->status);
	}
}

static int parse_str(const char *s, struct http_request *req)
{
	return http_parse_request(s, strlen(s), req);
}

static int slice_is(struct http_slice s, const char *lit)
{
	return s.ptr != NULL && s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

Test(http_parse, fields_of_a_request)
{
	static struct http_request req;
	const char *in = "POST /a/b?c=d HTTP/1.1\r\nHost: example.com\r\n"
	    "X-A:  one \t\r\nContent-Length: 12\r\nx-a: two\r\n\r\n";
	cr_assert_eq(parse_str(in, &req), (int)strlen(in));
	cr_assert(slice_is(req.method, "POST"));
	cr_assert(slice_is(req.target, "/a/b?c=d"));
	cr_assert(slice_is(req.path, "/a/b"));
	cr_assert(slice_is(req.query, "c=d"));
	cr_assert(slice_is(req.host, "example.com"));
	cr_assert_eq(req.minor_version, 1);
	cr_assert_eq(req.header_count, 4);
	cr_assert(req.has_content_length);
	cr_assert_eq(req.content_length, 12);
	cr_assert(!req.chunked);
	cr_assert(req.keep_alive);
	cr_assert(!req.expect_continue);
	cr_assert(!req.absolute_form);

	const struct http_header *h = http_header_get(&req, "x-A");
	cr_assert_not_null(h);
	cr_assert(slice_is(h->value, "one"));
	h = http_header_next(&req, "X-a", h);
	cr_assert_not_null(h);
	cr_assert(slice_is(h->value, "two"));
	cr_assert_null(http_header_next(&req, "X-A", h));
	cr_assert_null(http_header_get(&req, "X-Absent"));
	cr_assert_null(http_header_get(&req, "X-"));
	cr_assert(http_slice_eq_ci(req.method, "post"));
	cr_assert(!http_slice_eq_ci(req.method, "pos"));
	cr_assert(!http_slice_eq_ci(req.query, "c=dd"));
}

Test(http_parse, query_absent_versus_empty)
{
	static struct http_request req;
	cr_assert_gt(parse_str("GET /a HTTP/1.1\r\nHost: a\r\n\r\n", &req), 0);
	cr_assert_null(req.query.ptr);
	cr_assert_eq(req.query.len, 0);
	cr_assert_gt(parse_str("GET /a? HTTP/1.1\r\nHost: a\r\n\r\n", &req), 0);
	cr_assert_not_null(req.query.ptr);
	cr_assert_eq(req.query.len, 0);
	cr_assert(slice_is(req.path, "/a"));
}

Test(http_parse, keep_alive_rules)
{
	static struct http_request req;
	static const struct { const char *in; bool ka; } t[] = {
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		cr_assert_gt(parse_str(t[i].in, &req), 0, "case %zu", i);
		cr_assert_eq(req.keep_alive, t[i].ka, "case %zu", i);
	}
}

Test(http_parse, expect_continue)
{
	static struct http_request req;
	cr_assert_gt(parse_str("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n", &req), 0);
	cr_assert(req.expect_continue);
	cr_assert_gt(parse_str("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", &req), 0);
	cr_assert(!req.expect_continue);
	/* RFC 9110 10.1.1: ignored from an HTTP/1.0 client */
	cr_assert_gt(parse_str("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &req), 0);
	cr_assert(!req.expect_continue);
}

Test(http_parse, framing_facts)
{
	static struct http_request req;
	cr_assert_gt(parse_str("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", &req), 0);
	cr_assert(req.chunked);
	cr_assert(!req.has_content_length);
	cr_assert_gt(parse_str("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 005\r\n\r\n", &req), 0);
	cr_assert(req.has_content_length);
	cr_assert_eq(req.content_length, 5);
	cr_assert_gt(parse_str("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n", &req), 0);
	cr_assert_eq(req.content_length, UINT64_MAX);
	cr_assert_gt(parse_str("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &req), 0);
	cr_assert(!req.has_content_length);
	cr_assert(!req.chunked);
}

Test(http_parse, target_forms)
{
	static struct http_request req;
	cr_assert_gt(parse_str("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &req), 0);
	cr_assert(slice_is(req.path, "*"));
	cr_assert_null(req.query.ptr);

	cr_assert_gt(parse_str("GET http://Example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n", &req), 0);
	cr_assert(req.absolute_form);
	cr_assert(slice_is(req.path, "/p/q"));
	cr_assert(slice_is(req.query, "x=1"));
	cr_assert(slice_is(req.host, "Example.com:8080"), "authority wins over Host");

	cr_assert_gt(parse_str("GET https://e/?q HTTP/1.1\r\nHost: e\r\n\r\n", &req), 0);
	cr_assert(slice_is(req.path, "/"));
	cr_assert(slice_is(req.host, "e"));
	cr_assert(slice_is(req.query, "q"));
	/* no path: nothing in the buffer to point at */
	cr_assert_eq(parse_str("GET http://e?q HTTP/1.1\r\nHost: e\r\n\r\n", &req), -1);
	cr_assert_eq(req.error, 400);
}

Test(http_parse, leading_crlf_counts_in_head)
{
	static struct http_request req;
	const char *in = "\r\nGET / HTTP/1.0\r\n\r\n";
	cr_assert_eq(parse_str(in, &req), (int)strlen(in));
	cr_assert(slice_is(req.method, "GET"));
}

Test(http_parse, error_details_never_null)
{
	static struct http_request req;
	for (size_t i = 0; i < N_REQ_CASES; i++) {
		if (req_cases[i].status == 0)
			continue;
		size_t len = case_len(req_cases[i].in, req_cases[i].len);
		cr_assert_eq(http_parse_request(req_cases[i].in, len, &req), -1);
		cr_assert_not_null(req.error_detail);
		cr_assert_gt(strlen(req.error_detail), 0);
		cr_assert_null(strchr(req.error_detail, '"'));
	}
}

/* ---- limits ---- */

/* Builds "GET /aaa...a HTTP/1.1" of exactly line_len bytes + CRLF + Host. */
static char *request_line_of(size_t line_len, size_t *out_len)
{
	const char *tail = "\r\nHost: a\r\n\r\n";
	size_t n = line_len + strlen(tail);
	char *buf = malloc(n);
	cr_assert_not_null(buf);
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', line_len - 5 - 9);
	memcpy(buf + line_len - 9, " HTTP/1.1", 9);
	memcpy(buf + line_len, tail, strlen(tail));
	*out_len = n;
	return buf;
}

Test(http_limits, request_line_at_limit)
{
	size_t n;
	char *buf = request_line_of(HTTP_REQUEST_LINE_MAX, &n);
	check_request("request line at limit", buf, n, (int)n, 0);
	free(buf);
}

Test(http_limits, request_line_over_limit)
{
	static struct http_request req;
	size_t n;
	char *buf = request_line_of(HTTP_REQUEST_LINE_MAX + 1, &n);
	/* Incomplete prefixes get 414 as soon as the line is over the limit. */
	for (size_t k = 0; k <= n; k++) {
		int r = parse_copy(buf, k, &req);
		if (k <= HTTP_REQUEST_LINE_MAX) {
			cr_assert_eq(r, -2, "prefix %zu: %d", k, r);
		} else {
			cr_assert_eq(r, -1, "prefix %zu: %d", k, r);
			cr_assert_eq(req.error, 414);
		}
	}
	free(buf);
}

Test(http_limits, request_line_over_limit_in_method)
{
	static struct http_request req;
	size_t n = HTTP_REQUEST_LINE_MAX + 10;
	char *buf = malloc(n);
	cr_assert_not_null(buf);
	memset(buf, 'G', n);
	cr_assert_eq(http_parse_request(buf, HTTP_REQUEST_LINE_MAX, &req), -2);
	cr_assert_eq(http_parse_request(buf, HTTP_REQUEST_LINE_MAX + 1, &req), -1);
	cr_assert_eq(req.error, 414);
	free(buf);
}

/* A head of exactly total bytes: request line, Host, filler fields of up to
 * 1000 bytes each, the empty line. */
static char *head_of(size_t total)
{
	char *buf = malloc(total);
	cr_assert_not_null(buf);
	size_t p = 0;
	const char *start = "GET / HTTP/1.1\r\nHost: a\r\n";
	memcpy(buf, start, strlen(start));
	p = strlen(start);
	while (total - p - 2 > 0) {
		size_t line = total - p - 2;
		if (line > 1000)
			line = 1000;
		if (total - p - 2 - line > 0 && total - p - 2 - line < 10)
			line -= 10;     /* keep room for a last field line of >= 10 bytes */
		cr_assert_geq(line, 10);
		memcpy(buf + p, "X-F: ", 5);
		memset(buf + p + 5, 'v', line - 7);
		memcpy(buf + p + line - 2, "\r\n", 2);
		p += line;
	}
	memcpy(buf + p, "\r\n", 2);
	return buf;
}

static void check_sampled_prefixes(const char *buf, size_t n, size_t ok_upto,
    int want_status)
{
	static struct http_request req;
	for (size_t k = 0; k < n; k += (k + 8 < ok_upto && k > 8) ? 997 : 1) {
		int r = parse_copy(buf, k, &req);
		if (k <= ok_upto) {
			cr_assert_eq(r, -2, "prefix %zu: %d (%d)", k, r, req.error);
		} else {
			cr_assert_eq(r, -1, "prefix %zu: %d", k, r);
			cr_assert_eq(req.error, want_status);
		}
	}
	/* the few prefixes around the limit */
	for (size_t k = ok_upto > 4 ? ok_upto - 4 : 0; k < n; k++) {
		int r = parse_copy(buf, k, &req);
		if (k <= ok_upto)
			cr_assert_eq(r, -2, "prefix %zu: %d", k, r);
		else
			cr_assert(r == -1 && req.error == want_status, "prefix %zu: %d", k, r);
	}
}

Test(http_limits, head_at_limit)
{
	static struct http_request req;
	char *buf = head_of(HTTP_HEADERS_MAX);
	cr_assert_eq(parse_copy(buf, HTTP_HEADERS_MAX, &req), HTTP_HEADERS_MAX);
	cr_assert_leq(req.header_count, HTTP_HEADER_COUNT_MAX);
	check_sampled_prefixes(buf, HTTP_HEADERS_MAX, HTTP_HEADERS_MAX, 0);
	free(buf);
}

Test(http_limits, head_over_limit)
{
	static struct http_request req;
	char *buf = head_of(HTTP_HEADERS_MAX + 1);
	cr_assert_eq(parse_copy(buf, HTTP_HEADERS_MAX + 1, &req), -1);
	cr_assert_eq(req.error, 431);
	/* prefixes up to the limit wait; the one byte more is 431 */
	check_sampled_prefixes(buf, HTTP_HEADERS_MAX + 1, HTTP_HEADERS_MAX, 431);
	free(buf);
}

Test(http_limits, endless_head_is_431)
{
	static struct http_request req;
	size_t n = HTTP_HEADERS_MAX + 5000;
	char *buf = head_of(n);
	cr_assert_eq(http_parse_request(buf, n - 2, &req), -1);
	cr_assert_eq(req.error, 431);
	free(buf);
}

static char *head_with_fields(size_t count, size_t *len)
{
	size_t cap = 64 + count * 16;
	char *buf = malloc(cap);
	cr_assert_not_null(buf);
	size_t p = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (size_t i = 1; i < count; i++)
		p += (size_t)snprintf(buf + p, cap - p, "X-%03zu: v\r\n", i);
	p += (size_t)snprintf(buf + p, cap - p, "\r\n");
	*len = p;
	return buf;
}

Test(http_limits, field_count_at_limit)
{
	size_t n;
	char *buf = head_with_fields(HTTP_HEADER_COUNT_MAX, &n);
	check_request("100 fields", buf, n, (int)n, 0);
	static struct http_request req;
	cr_assert_eq(http_parse_request(buf, n, &req), (int)n);
	cr_assert_eq(req.header_count, HTTP_HEADER_COUNT_MAX);
	free(buf);
}

Test(http_limits, field_count_over_limit)
{
	static struct http_request req;
	size_t n;
	char *buf = head_with_fields(HTTP_HEADER_COUNT_MAX + 1, &n);
	cr_assert_eq(parse_copy(buf, n, &req), -1);
	cr_assert_eq(req.error, 431);
	/* 431 from the first byte of the 101st field line on, -2 before */
	size_t first_extra = n - 2 - strlen("X-100: v\r\n");
	for (size_t k = 0; k < n; k++) {
		int r = parse_copy(buf, k, &req);
		if (k <= first_extra)
			cr_assert_eq(r, -2, "prefix %zu: %d", k, r);
		else
			cr_assert(r == -1 && req.error == 431, "prefix %zu: %d", k, r);
	}
	free(buf);
}

/* ---- chunked decoder ---- */

struct decode_result {
	int    ret;
	size_t consumed;
	size_t produced;
	int    status;
	char   body[256];
};

/* Feeds in pieces of `step` input bytes with an output window of `window`. */
static struct decode_result decode(const char *in, size_t len, size_t step, size_t window)
{
	struct decode_result res = { -2, 0, 0, 0, { 0 } };
	struct http_chunked st;
	http_chunked_init(&st);
	size_t avail = step < len ? step : len;
	for (;;) {
		size_t piece = avail - res.consumed;
		char *copy = dup_exact(in + res.consumed, piece);
		char out[256];
		size_t w = window < sizeof out ? window : sizeof out;
		size_t used = 99999, got = 99999;
		int r = http_chunked_decode(&st, copy, piece, &used, out, w, &got);
		free(copy);
		cr_assert_leq(used, piece);
		cr_assert_leq(got, w);
		cr_assert_leq(res.produced + got, sizeof res.body);
		memcpy(res.body + res.produced, out, got);
		res.produced += got;
		res.consumed += used;
		if (r != -2) {
			cr_assert(r == 1 || r == -1);
			res.ret = r;
			res.status = st.error;
			/* terminal states repeat and consume nothing */
			int again = http_chunked_decode(&st, "0\r\n\r\n", 5, &used, out, w, &got);
			cr_assert_eq(again, r);
			cr_assert_eq(used, 0);
			cr_assert_eq(got, 0);
			return res;
		}
		if (used == 0 && got == 0) {
			/* wants more input: it must have taken all it was given */
			cr_assert_eq(res.consumed, avail, "decoder stalled");
			if (avail == len)
				return res;
			avail = avail + step > len ? len : avail + step;
		}
	}
}

Test(http_chunked, table_whole_and_byte_by_byte)
{
	static const size_t steps[][2] = {
		{ 100000, 256 }, { 1, 256 }, { 1, 1 }, { 100000, 1 }, { 3, 2 }, { 7, 5 },
	};
	for (size_t i = 0; i < N_CHUNK_CASES; i++) {
		const struct chunk_case *tc = &chunk_cases[i];
		size_t len = case_len(tc->in, tc->len);
		for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
			struct decode_result r = decode(tc->in, len, steps[s][0], steps[s][1]);
			cr_assert_eq(r.ret, tc->ret, "%s (step %zu/%zu): %d", tc->name,
			    steps[s][0], steps[s][1], r.ret);
			if (tc->ret == 1) {
				size_t want = tc->consumed < 0 ? len : (size_t)tc->consumed;
				cr_assert_eq(r.consumed, want, "%s: consumed %zu", tc->name, r.consumed);
				cr_assert_eq(r.produced, strlen(tc->body), "%s", tc->name);
				cr_assert_arr_eq(r.body, tc->body, r.produced, "%s", tc->name);
			} else {
				cr_assert_eq(r.status, tc->status, "%s: status %d", tc->name, r.status);
			}
		}
		/* every prefix is incomplete or the same error, never done early */
		for (size_t k = 0; k < len; k++) {
			struct decode_result r = decode(tc->in, k, 100000, 256);
			if (tc->ret == 1 && tc->consumed >= 0 && k >= (size_t)tc->consumed)
				cr_assert_eq(r.ret, 1);
			else if (tc->ret == 1)
				cr_assert_eq(r.ret, -2, "%s: prefix %zu: %d", tc->name, k, r.ret);
			else
				cr_assert(r.ret == -2 || (r.ret == -1 && r.status == tc->status),
				    "%s: prefix %zu: %d", tc->name, k, r.ret);
		}
	}
}

Test(http_chunked, declared_counts_announced_sizes)
{
	struct http_chunked st;
	char out[4];
	size_t used, got;
	http_chunked_init(&st);
	const char *in = "5\r\nhe";
	cr_assert_eq(http_chunked_decode(&st, in, strlen(in), &used, out, sizeof out, &got), -2);
	cr_assert_eq(st.declared, 5);
	in = "llo\r\nFFFFFFFFFFFFFFF0\r\n";
	cr_assert_eq(http_chunked_decode(&st, in, strlen(in), &used, out, sizeof out, &got), -2);
	cr_assert_eq(st.declared, 5 + 0xFFFFFFFFFFFFFFF0ull);
	/* the sum of sizes may not overflow even if the data never comes */
	http_chunked_init(&st);
	in = "FFFFFFFFFFFFFFFF\r\n";
	cr_assert_eq(http_chunked_decode(&st, in, strlen(in), &used, out, sizeof out, &got), -2);
	cr_assert_eq(st.declared, UINT64_MAX);
	memset(&st, 0, sizeof st);
	st.declared = 2;    /* as if 2 bytes had been announced before */
	in = "FFFFFFFFFFFFFFFF\r\n";
	cr_assert_eq(http_chunked_decode(&st, in, strlen(in), &used, out, sizeof out, &got), -1);
	cr_assert_eq(st.error, 400);
}

static char *ext_chunk(size_t ext_len, size_t *len)
{
	size_t n = 1 + ext_len + strlen("\r\nhello\r\n0\r\n\r\n");
	char *buf = malloc(n + 1);
	cr_assert_not_null(buf);
	buf[0] = '5';
	buf[1] = ';';
	memset(buf + 2, 'e', ext_len - 1);
	strcpy(buf + 1 + ext_len, "\r\nhello\r\n0\r\n\r\n");
	*len = n;
	return buf;
}

Test(http_chunked, extension_limit)
{
	size_t n;
	char *buf = ext_chunk(HTTP_CHUNK_EXT_MAX, &n);
	struct decode_result r = decode(buf, n, 100000, 256);
	cr_assert_eq(r.ret, 1);
	cr_assert_eq(r.produced, 5);
	r = decode(buf, n, 1, 3);
	cr_assert_eq(r.ret, 1);
	free(buf);

	buf = ext_chunk(HTTP_CHUNK_EXT_MAX + 1, &n);
	r = decode(buf, n, 100000, 256);
	cr_assert_eq(r.ret, -1);
	cr_assert_eq(r.status, 400);
	r = decode(buf, n, 1, 256);
	cr_assert_eq(r.ret, -1);
	/* reported as soon as the line is too long, not at its end */
	r = decode(buf, 1 + HTTP_CHUNK_EXT_MAX + 1, 100000, 256);
	cr_assert_eq(r.ret, -1);
	r = decode(buf, 1 + HTTP_CHUNK_EXT_MAX, 100000, 256);
	cr_assert_eq(r.ret, -2);
	free(buf);
}

/* "0\r\n" + trailer section of exactly size bytes + "\r\n" */
static char *trailer_body(size_t size, size_t *len)
{
	size_t n = 3 + size + 2;
	char *buf = malloc(n);
	cr_assert_not_null(buf);
	memcpy(buf, "0\r\n", 3);
	size_t p = 3, left = size;
	while (left > 0) {
		size_t line = left > 500 ? 500 : left;
		if (left - line > 0 && left - line < 8)
			line -= 8;
		memcpy(buf + p, "T:", 2);
		memset(buf + p + 2, 'v', line - 4);
		memcpy(buf + p + line - 2, "\r\n", 2);
		p += line;
		left -= line;
	}
	memcpy(buf + p, "\r\n", 2);
	*len = n;
	return buf;
}

Test(http_chunked, trailer_limit)
{
	size_t n;
	char *buf = trailer_body(HTTP_TRAILERS_MAX, &n);
	struct decode_result r = decode(buf, n, 100000, 256);
	cr_assert_eq(r.ret, 1);
	cr_assert_eq(r.consumed, n);
	cr_assert_eq(r.produced, 0);
	free(buf);

	buf = trailer_body(HTTP_TRAILERS_MAX + 1, &n);
	r = decode(buf, n, 100000, 256);
	cr_assert_eq(r.ret, -1);
	cr_assert_eq(r.status, 431);
	r = decode(buf, n, 1, 1);
	cr_assert_eq(r.ret, -1);
	cr_assert_eq(r.status, 431);
	r = decode(buf, 3 + HTTP_TRAILERS_MAX, 100000, 256);
	cr_assert_eq(r.ret, -2);
	free(buf);
}

Test(http_chunked, large_body_streams)
{
	/* 1 MiB in chunks of 4093 bytes, decoded through a 1000-byte window */
	const size_t total = 1 << 20, csize = 4093;
	size_t cap = total + (total / csize + 2) * 16;
	char *in = malloc(cap);
	cr_assert_not_null(in);
	size_t p = 0;
	for (size_t off = 0; off < total; off += csize) {
		size_t n = total - off < csize ? total - off : csize;
		p += (size_t)sprintf(in + p, "%zx\r\n", n);
		for (size_t i = 0; i < n; i++)
			in[p + i] = (char)((off + i) * 131 % 251);
		p += n;
		memcpy(in + p, "\r\n", 2);
		p += 2;
	}
	memcpy(in + p, "0\r\n\r\n", 5);
	p += 5;

	struct http_chunked st;
	http_chunked_init(&st);
	size_t pos = 0, got_total = 0;
	int r = -2;
	char out[1000];
	while (r == -2) {
		size_t piece = p - pos < 777 ? p - pos : 777;
		size_t used, got;
		r = http_chunked_decode(&st, in + pos, piece, &used, out, sizeof out, &got);
		for (size_t i = 0; i < got; i++)
			cr_assert_eq(out[i], (char)((got_total + i) * 131 % 251));
		got_total += got;
		pos += used;
		cr_assert(used > 0 || got > 0 || r != -2);
	}
	cr_assert_eq(r, 1);
	cr_assert_eq(pos, p);
	cr_assert_eq(got_total, total);
	cr_assert_eq(st.declared, total);
	free(in);
}

/* ---- responses ---- */

Test(http_response, status_reasons)
{
	static const struct { int status; const char *reason; } t[] = {
		{ 200, "OK" }, { 400, "Bad Request" }, { 408, "Request Timeout" },
		{ 413, "Content Too Large" }, { 414, "URI Too Long" },
		{ 431, "Request Header Fields Too Large" }, { 501, "Not Implemented" },
		{ 505, "HTTP Version Not Supported" },
		{ 559, "Repair Required" }, { 560, "State Not Found" },
		{ 561, "Failed To Encode" }, { 562, "Failed To Decode" },
		{ 563, "State Error" }, { 564, "Rekey Required" },
		{ 565, "Protocol Status Error" }, { 566, "Invalid Client Id" },
		{ 567, "Failed To Save State" }, { 568, "Failed To Save State" },
		{ 569, "Missing Or Malformed Relay Header" },
		{ 570, "Replayed Or Stale Sequence Number" },
		{ 571, "Unknown" }, { 0, "Unknown" }, { -1, "Unknown" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		cr_assert_str_eq(http_status_reason(t[i].status), t[i].reason);
}

Test(http_response, head_format)
{
	char buf[512];
	const struct http_field f[] = {
		{ "Content-Type", "application/json" },
		{ "X-Tab", "a\tb" },
		{ "Content-Length", "999" },        /* framing: skipped */
		{ "transfer-encoding", "gzip" },    /* framing: skipped */
		{ "Connection", "upgrade" },        /* hop-by-hop: skipped */
	};
	int n = http_format_response_head(buf, sizeof buf, 200, f, 5, 12, HTTP_CONNECTION_NONE);
	const char *want = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "X-Tab: a\tb\r\nContent-Length: 12\r\n\r\n";
	cr_assert_eq(n, (int)strlen(want));
	cr_assert_arr_eq(buf, want, (size_t)n);

	n = http_format_response_head(buf, sizeof buf, 569, NULL, 0, HTTP_LENGTH_CHUNKED,
	    HTTP_CONNECTION_CLOSE);
	want = "HTTP/1.1 569 Missing Or Malformed Relay Header\r\n"
	    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
	cr_assert_eq(n, (int)strlen(want));
	cr_assert_arr_eq(buf, want, (size_t)n);

	n = http_format_response_head(buf, sizeof buf, 204, NULL, 0, HTTP_LENGTH_NONE,
	    HTTP_CONNECTION_KEEP_ALIVE);
	want = "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n";
	cr_assert_eq(n, (int)strlen(want));
	cr_assert_arr_eq(buf, want, (size_t)n);
}

Test(http_response, head_rejects_injection)
{
	char buf[512];
	static const struct http_field bad[][1] = {
		{ { "X-A", "a\r\nSet-Cookie: x=1" } },
		{ { "X-A", "a\nb" } },
		{ { "X-A", "a\rb" } },
		{ { "X-A", "a\x01" } },
		{ { "X-A", "a\x7f" } },
		{ { "X A", "a" } },
		{ { "X-A\r\nY", "a" } },
		{ { "", "a" } },
		{ { "X:A", "a" } },
		{ { NULL, "a" } },
		{ { "X-A", NULL } },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(http_format_response_head(buf, sizeof buf, 200, bad[i], 1, 0,
		    HTTP_CONNECTION_NONE), -1, "case %zu", i);
	cr_assert_eq(http_format_response_head(buf, sizeof buf, 99, NULL, 0, 0, 0), -1);
	cr_assert_eq(http_format_response_head(buf, sizeof buf, 1000, NULL, 0, 0, 0), -1);
	cr_assert_eq(http_format_response_head(buf, sizeof buf, 200, NULL, 0, -3, 0), -1);
	cr_assert(http_is_token("X-Ok", 4));
	cr_assert(!http_is_token("", 0));
	cr_assert(http_is_field_value("", 0));
	cr_assert(!http_is_field_value("\0", 1));
}

Test(http_response, head_exact_fit)
{
	char buf[64];
	const char *want = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	size_t len = strlen(want);
	cr_assert_eq(http_format_response_head(buf, len, 200, NULL, 0, 0, 0), (int)len);
	cr_assert_arr_eq(buf, want, len);
	for (size_t cap = 0; cap < len; cap++)
		cr_assert_eq(http_format_response_head(buf, cap, 200, NULL, 0, 0, 0), -1,
		    "cap %zu", cap);
}
