/*
 * fuzz_pair.c - libFuzzer target for the pairing body (src/pair_body.c):
 * any bytes as a POST /api/mte-pair body.  Invariants: the answer is a
 * known failure or F_COUNT; on F_COUNT there are 1..PAIR_ENTRIES_MAX
 * entries, every pairId and personalization passes its syntax check, no
 * pairId repeats, and every key passes the ML-KEM-768 key check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mlkem.h"
#include "pair_body.h"
#include "protocol.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pair_body body;   /* large: not on the stack */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum failure f;
	size_t i, k;

	if (size > PAIR_BODY_MAX)
		return 0;
	f = pair_body_parse((const char *)data, size, &body);
	CHECK(f <= F_COUNT);
	if (f == F_COUNT) {
		CHECK(body.count >= 1 && body.count <= PAIR_ENTRIES_MAX);
		for (i = 0; i < body.count; i++) {
			CHECK(protocol_pair_id_ok(body.pair_id[i], strlen(body.pair_id[i])));
			CHECK(protocol_personalization_ok(body.personalization[i],
			    strlen(body.personalization[i])));
			CHECK(mlkem768_ek_check(body.key[i], MLKEM768_EK_LEN) == 0);
			for (k = 0; k < i; k++)
				CHECK(strcmp(body.pair_id[k], body.pair_id[i]) != 0);
		}
	}
	pair_body_free(&body);
	return 0;
}
