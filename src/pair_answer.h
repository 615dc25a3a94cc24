/*
 * pair_answer.h - the client's side of pairing (the outbound mode,
 * PROTOCOL.md sections 2, 11 and 14): the partner relay's answer to our
 * POST /api/mte-pair of one entry, parsed.  Pure and bounded over caller
 * memory (fuzzed: tests/fuzz/fuzz_outbound.c); the decapsulation and key
 * schedule stay with the caller (outbound.c).
 */
#ifndef MTE_PAIR_ANSWER_H
#define MTE_PAIR_ANSWER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "crypto/seal.h"
#include "crypto/xwing.h"
#include "limits.h"

#define PAIR_ANSWER_KEY_WIRE (32 + SEAL_TAG_LEN)   /* the sealed K_answer */

struct pair_answer {
	uint8_t ciphertext[XWING_CT_LEN];
	uint8_t nonce[32];
	uint8_t answer_key[PAIR_ANSWER_KEY_WIRE];     /* valid when has_answer_key */
	int     has_answer_key;
};

/*
 * Parses body[0..len): a JSON array of exactly one object whose "pairId" is
 * pair_id, with "ciphertext" (b64url, XWING_CT_LEN bytes) and "nonce" (32
 * bytes), and optionally "answerKey" (b64url, PAIR_ANSWER_KEY_WIRE bytes).
 * Returns 0 with *out filled, or -1 (a body over OUTBOUND_ANSWER_MAX, not
 * that shape, a \u0000 escape, a member of the wrong length).
 */
int pair_answer_parse(const uint8_t *body, size_t len, const char *pair_id,
    struct pair_answer *out);

#endif
