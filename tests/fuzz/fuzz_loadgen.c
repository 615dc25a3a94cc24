/*
 * fuzz_loadgen.c - libFuzzer target for the load generator's response-head
 * parser (tests/bench/loadgen_http.c), which reads the answers of the relay,
 * nginx and upstreams under test.  Invariants: a parsed head ends inside the
 * input and its slices lie inside it; the same head parses the same alone
 * and with bytes after it; every shorter prefix of it is incomplete, never
 * malformed; the framing facts agree with each other.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bench/loadgen_http.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
inside(struct http_slice s, const char *buf, size_t len)
{
	return s.ptr == NULL || (s.ptr >= buf && s.len <= len && (size_t)(s.ptr - buf) <= len - s.len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct lg_response r, again;
	size_t cuts[3], i;
	char *more;
	int hl = lg_parse_response_head(in, size, &r);

	CHECK(hl == HTTP_INCOMPLETE || hl == HTTP_MALFORMED || (hl > 0 && (size_t)hl <= size));
	if (hl == HTTP_INCOMPLETE)
		CHECK(size < LG_RESPONSE_HEAD_MAX);
	if (hl <= 0)
		return 0;
	CHECK(r.head_len == (size_t)hl);
	CHECK(r.status >= 100 && r.status <= 999);
	CHECK(r.minor_version >= 0 && r.minor_version <= 9);
	CHECK(!(r.chunked && r.has_content_length));
	CHECK(inside(r.relay, in, size) && inside(r.relay_eh, in, size));
	CHECK((r.relay.ptr != NULL) == (r.relay_count > 0));
	CHECK((r.relay_eh.ptr != NULL) == (r.relay_eh_count > 0));
	CHECK(lg_body_framing(&r, 1) == LG_BODY_NONE);

	/* the head alone, and the head followed by other bytes */
	CHECK(lg_parse_response_head(in, (size_t)hl, &again) == hl);
	more = malloc(size + 8);
	CHECK(more != NULL);
	memcpy(more, in, size);
	memcpy(more + size, "XX\r\n\r\n\0\n", 8);
	CHECK(lg_parse_response_head(more, size + 8, &again) == hl);
	CHECK(again.status == r.status && again.content_length == r.content_length &&
	    again.chunked == r.chunked && again.keep_alive == r.keep_alive);
	free(more);

	/* a valid head's prefixes wait for more */
	cuts[0] = 0;
	cuts[1] = (size_t)hl / 2;
	cuts[2] = (size_t)hl - 1;
	for (i = 0; i < 3; i++)
		CHECK(lg_parse_response_head(in, cuts[i], &again) == HTTP_INCOMPLETE);
	return 0;
}
