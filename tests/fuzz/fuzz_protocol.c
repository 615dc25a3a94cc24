/*
 * fuzz_protocol.c - libFuzzer target for the protocol's text fields
 * (src/protocol.c): the x-mte-relay header of protected messages, seq,
 * pair ids, personalization, the signed client id's syntax, and the
 * JSON \u0000 guard.  Invariants: a parsed header's parts lie inside the
 * input, put together again they are the input, and each part passes its
 * own syntax check; a parsed seq prints back as its text.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientid.h"
#include "json.h"
#include "protocol.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
inside(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static void
check_header(const char *in, size_t size)
{
	struct relay_header h;
	char again[RELAY_HEADER_MAX + 1], seq[24];
	int w;

	if (protocol_parse_relay_header(in, size, &h) != 0)
		return;
	CHECK(size <= RELAY_HEADER_MAX);
	CHECK(inside(h.signed_id, CLIENT_ID_SIGNED_LEN, in, size));
	CHECK(inside(h.pair_id, h.pair_id_len, in, size));
	CHECK(inside(h.seq_text, h.seq_len, in, size));
	CHECK(inside(h.flags, h.flags_len, in, size));
	CHECK(clientid_syntax_ok(h.signed_id, CLIENT_ID_SIGNED_LEN));
	CHECK(protocol_pair_id_ok(h.pair_id, h.pair_id_len));
	CHECK(h.flags_len <= 4 && h.flag_u == (memchr(h.flags, 'u', h.flags_len) != NULL));
	CHECK(h.flag_b == (memchr(h.flags, 'b', h.flags_len) != NULL));
	CHECK(h.flag_a == (memchr(h.flags, 'a', h.flags_len) != NULL));
	CHECK(h.flag_s == (memchr(h.flags, 's', h.flags_len) != NULL));
	w = snprintf(again, sizeof again, "%.*s,%.*s,%.*s,%.*s", CLIENT_ID_SIGNED_LEN, h.signed_id,
	    (int)h.pair_id_len, h.pair_id, (int)h.seq_len, h.seq_text, (int)h.flags_len, h.flags);
	CHECK(w >= 0 && (size_t)w == size && memcmp(again, in, size) == 0);
	w = snprintf(seq, sizeof seq, "%" PRIu64, h.seq);
	CHECK((size_t)w == h.seq_len && memcmp(seq, h.seq_text, h.seq_len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	uint64_t seq = 7;

	check_header(in, size);
	if (protocol_parse_seq(in, size, &seq) == 0) {
		char back[24];
		int w = snprintf(back, sizeof back, "%" PRIu64, seq);
		CHECK(seq != 0 && (size_t)w == size && memcmp(back, in, size) == 0);
	} else {
		CHECK(seq == 7);
	}
	if (protocol_pair_id_ok(in, size))
		CHECK(size >= PAIR_ID_MIN && size <= PAIR_ID_MAX);
	if (protocol_personalization_ok(in, size))
		CHECK(size <= PERSONALIZATION_MAX);
	if (protocol_client_id_ok(in, size))
		CHECK(size == CLIENT_ID_HEX_LEN);
	(void)json_has_nul_escape(in, size);
	return 0;
}
