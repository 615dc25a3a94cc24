/*
 * fuzz_outbound.c - libFuzzer target for what the outbound mode parses of
 * the partner relay's answers beyond the other targets (relay header:
 * fuzz_protocol; meta items and bodies: fuzz_seal): the pairing answer
 * (src/pair_answer.c) and the x-mte-relay-auth check (src/answer.c).
 * Invariants: a parsed answer names our pair id and has members of their
 * exact lengths; a tag check accepts only the genuine tag, and it does
 * accept it when appended to a fuzzed one.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "answer.h"
#include "crypto/kdf.h"
#include "hex.h"
#include "pair_answer.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pair_answer pa;
static const char PID[] = "abcdefghijklmnopqrstuvwxyz012345";
static const char CID[] = "0123456789abcdef0123456789abcdef";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[ANSWER_KEY_LEN] = { 7 };
	char msg[256], good[ANSWER_TAG_HEX_LEN + 1], both[2 * ANSWER_TAG_HEX_LEN + 2];
	uint8_t tag[32];
	int n;

	if (size > OUTBOUND_ANSWER_MAX + 1)
		return 0;
	memset(&pa, 0, sizeof pa);
	if (pair_answer_parse(data, size, PID, &pa) == 0)
		CHECK(memmem(data, size, PID, sizeof PID - 1) != NULL);
	/* the tag check over the same bytes as a header value */
	CHECK(answer_tag_ok(key, (const char *)data, size, CID, PID, "1", "POST", 560) == 0 ||
	    size == ANSWER_TAG_HEX_LEN || size == 2 * ANSWER_TAG_HEX_LEN + 1);
	n = snprintf(msg, sizeof msg, "mte-relay/1 answer %s %s 1 POST 560", CID, PID);
	kdf_hmac(tag, key, sizeof key, msg, (size_t)n);
	hex_encode(good, tag, sizeof tag);
	if (size == ANSWER_TAG_HEX_LEN) {
		CHECK(answer_tag_ok(key, (const char *)data, size, CID, PID, "1", "POST", 560) ==
		    (memcmp(data, good, ANSWER_TAG_HEX_LEN) == 0));
		memcpy(both, data, ANSWER_TAG_HEX_LEN);
		both[ANSWER_TAG_HEX_LEN] = ',';
		memcpy(both + ANSWER_TAG_HEX_LEN + 1, good, ANSWER_TAG_HEX_LEN);
		CHECK(answer_tag_ok(key, both, sizeof both - 1, CID, PID, "1", "POST", 560) == 1);
		CHECK(answer_tag_ok(key, both, sizeof both - 1, CID, PID, "1", "POST", 570) == 0);
	}
	return 0;
}
