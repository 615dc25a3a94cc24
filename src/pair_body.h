/*
 * pair_body.h - the syntax of a POST /api/mte-pair body (protocol.md,
 * Pairing): a JSON array of 1..PAIR_ENTRIES_MAX entries, each with a pairId,
 * an X-Wing publicKey that passes the ML-KEM-768 key check, and a
 * personalization.  Pure: no I/O and no state; the one parser of pairing
 * bodies, shared by pair.c and the fuzzer.
 */
#ifndef MTE_PAIR_BODY_H
#define MTE_PAIR_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/xwing.h"
#include "failure.h"
#include "limits.h"

#define PAIR_RELAY_KEY_ID_LEN  16   /* hex characters of a relay key id */

struct cJSON;

/* A checked body.  The strings point into root, which the caller frees
 * with pair_body_free. */
struct pair_body {
	struct cJSON *root;
	size_t        count;
	const char   *pair_id[PAIR_ENTRIES_MAX];
	const char   *personalization[PAIR_ENTRIES_MAX];
	uint8_t       key[PAIR_ENTRIES_MAX][XWING_PK_LEN];
	int           answers[PAIR_ENTRIES_MAX];   /* "answers": true (PROTOCOL.md section 11) */
	int           stream[PAIR_ENTRIES_MAX];    /* "stream": true (PROTOCOL.md section 13) */
	/* a pinned relay key (PROTOCOL.md section 12): its id ("" when the
	 * entry pins none) and the encapsulation to it */
	char          relay_key_id[PAIR_ENTRIES_MAX][PAIR_RELAY_KEY_ID_LEN + 1];
	uint8_t       relay_ct[PAIR_ENTRIES_MAX][XWING_CT_LEN];
};

/*
 * Parses and checks body[0..len) into *out.  Returns F_COUNT when every
 * entry is valid and no pairId repeats, else the failure of the first
 * problem found (F_PAIR_NUL_ESCAPE, F_PAIR_NOT_ARRAY, F_PAIR_ENTRY_COUNT,
 * F_PAIR_ENTRY_FIELDS, ...).  Call pair_body_free afterwards in both cases.
 */
enum failure pair_body_parse(const char *body, size_t len, struct pair_body *out);

/* Frees what pair_body_parse allocated (out->root); out may be zeroed. */
void pair_body_free(struct pair_body *out);

#endif
