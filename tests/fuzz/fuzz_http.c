/*
 * fuzz_http.c - libFuzzer target for src/http.c.
 *
 * Every input is parsed as a request head and decoded as a chunked body,
 * in one piece and in pieces, and the results are checked for invariants:
 * consumed <= len, slices inside the buffer, statuses from the known set,
 * prefix consistency, and the streaming decoder agreeing with the one-shot
 * decoder byte for byte.  A broken invariant aborts (a "crash").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_request req, req2;

static int inside(struct http_slice s, const char *buf, size_t len)
{
	if (s.ptr == NULL)
		return s.len == 0;
	return s.ptr >= buf && s.len <= len && (size_t)(s.ptr - buf) <= len - s.len;
}

static void check_request(const char *buf, size_t size)
{
	int r = http_parse_request(buf, size, &req);
	CHECK(r == -2 || r == -1 || (r > 0 && (size_t)r <= size));
	if (r == -2) {
		CHECK(size <= HTTP_HEADERS_MAX);
		return;
	}
	if (r == -1) {
		CHECK(req.error == 400 || req.error == 414 || req.error == 431 ||
		    req.error == 501 || req.error == 505);
		CHECK(req.error_detail != NULL);
		return;
	}
	size_t n = (size_t)r;
	CHECK(n <= HTTP_HEADERS_MAX);
	CHECK(req.head_len == n);
	CHECK(n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0);
	CHECK(inside(req.method, buf, n) && req.method.len > 0);
	CHECK(inside(req.target, buf, n) && req.target.len > 0);
	CHECK(inside(req.path, buf, n));
	/* path [? query] is exactly the tail of the target */
	CHECK(req.path.ptr + req.path.len + (req.query.ptr ? req.query.len + 1 : 0) ==
	    req.target.ptr + req.target.len);
	CHECK(req.path.len > 0 && (req.path.ptr[0] == '/' || req.path.ptr[0] == '*'));
	CHECK(inside(req.query, buf, n));
	CHECK(inside(req.host, buf, n));
	CHECK(req.header_count <= HTTP_HEADER_COUNT_MAX);
	CHECK(!(req.chunked && req.has_content_length));
	CHECK(req.minor_version >= 0 && req.minor_version <= 9);
	for (size_t i = 0; i < req.header_count; i++) {
		const struct http_header *h = &req.headers[i];
		CHECK(inside(h->name, buf, n) && inside(h->value, buf, n));
		CHECK(http_is_token(h->name.ptr, h->name.len));
		CHECK(http_is_field_value(h->value.ptr, h->value.len));
		CHECK(http_header_get(&req, "x") == NULL || 1);
	}
	/* the head alone parses the same; one byte less is incomplete */
	CHECK(http_parse_request(buf, n, &req2) == r);
	CHECK(req2.header_count == req.header_count);
	CHECK(http_parse_request(buf, n - 1, &req2) == -2);
}

/* Decodes in[0..len) in pieces of `step` with an output window; writes the
 * body to out (cap len) and returns the result. */
static int decode(const char *in, size_t len, size_t step, size_t window,
    char *out, size_t *out_len, size_t *consumed, int *status)
{
	struct http_chunked st;
	http_chunked_init(&st);
	size_t pos = 0, o = 0, avail = step < len ? step : len;
	for (;;) {
		size_t used, got;
		size_t w = window;
		if (w > len - o)
			w = len - o;
		if (w == 0)
			w = 1;  /* never written past: body <= input */
		char tmp[64];
		char *dst = w <= sizeof tmp ? tmp : out + o;
		int r = http_chunked_decode(&st, in + pos, avail - pos, &used, dst, w, &got);
		CHECK(used <= avail - pos);
		CHECK(got <= w);
		CHECK(o + got <= len);
		if (dst == tmp)
			memcpy(out + o, tmp, got);
		o += got;
		pos += used;
		CHECK(o <= pos);
		if (r != -2) {
			CHECK(r == 1 || r == -1);
			if (r == -1)
				CHECK(st.error == 400 || st.error == 431);
			*out_len = o;
			*consumed = pos;
			*status = r == -1 ? st.error : 0;
			return r;
		}
		if (used == 0 && got == 0) {
			CHECK(pos == avail);
			if (avail == len) {
				*out_len = o;
				*consumed = pos;
				*status = 0;
				return r;
			}
			avail = avail + step > len ? len : avail + step;
		}
	}
}

static void check_chunked(const char *buf, size_t size, unsigned seed)
{
	char *a = malloc(size + 1), *b = malloc(size + 1);
	CHECK(a != NULL && b != NULL);
	size_t alen, acons, blen, bcons;
	int ast, bst;
	int ra = decode(buf, size, size ? size : 1, size ? size : 1, a, &alen, &acons, &ast);
	size_t step = 1 + seed % 7, window = 1 + (seed / 7) % 13;
	int rb = decode(buf, size, step, window, b, &blen, &bcons, &bst);
	CHECK(ra == rb);
	CHECK(ast == bst);
	if (ra == 1) {
		CHECK(acons == bcons);
		CHECK(alen == blen && memcmp(a, b, alen) == 0);
	}
	free(a);
	free(b);
}

static void check_format(const char *buf, size_t size)
{
	char name[64], value[256], out[512];
	size_t nl = size < sizeof name - 1 ? size : sizeof name - 1;
	memcpy(name, buf, nl);
	name[nl] = '\0';
	size_t vl = size - nl < sizeof value - 1 ? size - nl : sizeof value - 1;
	memcpy(value, buf + nl, vl);
	value[vl] = '\0';
	struct http_field f[2] = { { "X-Fuzz", value }, { name, "v" } };
	int r = http_format_response_head(out, sizeof out, 200, f, 2, 0, HTTP_CONNECTION_NONE);
	if (r < 0)
		return;
	CHECK((size_t)r <= sizeof out);
	/* no field can be injected: every CR is part of a CRLF that ends a line
	 * made only of the fields given */
	size_t lines = 0;
	for (int i = 0; i < r; i++) {
		if (out[i] == '\r') {
			CHECK(i + 1 < r && out[i + 1] == '\n');
			lines++;
		} else if (out[i] == '\n') {
			CHECK(i > 0 && out[i - 1] == '\r');
		}
	}
	CHECK(lines <= 5);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exact-size copy: any read past the end is an ASan report */
	char *buf = malloc(size ? size : 1);
	CHECK(buf != NULL);
	memcpy(buf, data, size);
	check_request(buf, size);
	check_chunked(buf, size, size ? (unsigned)data[0] : 0);
	check_format(buf, size);
	free(buf);
	return 0;
}
