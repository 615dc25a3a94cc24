/*
 * answer.h - authenticated answers (PROTOCOL.md section 11, extension a):
 * the per-client answer key a client receives at pairing, and the tag of a
 * refusal the relay answers in the clear.  Stateless: both come from
 * CLIENT_ID_SECRET (and CLIENT_ID_SECRET_PREVIOUS) and the client id.
 */
#ifndef MTE_ANSWER_H
#define MTE_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#define ANSWER_KEY_LEN      32
#define ANSWER_TAG_HEX_LEN  64
/* "tag" or "tag,tag_previous", NUL-terminated */
#define ANSWER_HEADER_MAX   (2 * ANSWER_TAG_HEX_LEN + 2)

/* K_answer = HMAC-SHA256(secret, "mte-relay/1 answer-key " client_id) of a
 * 32-character client id. */
void answer_key(uint8_t key[ANSWER_KEY_LEN], const char *secret, const char *client_id);

/*
 * The x-mte-relay-auth value for status answering the request (client_id,
 * pair_id, seq as its decimal text, method), under secret and, when
 * previous != NULL, previous too: "tag[,tag_previous]" in out (at least
 * ANSWER_HEADER_MAX bytes).  Returns 0, or -1 when a string is too long.
 */
int answer_header(char out[ANSWER_HEADER_MAX], const char *secret, const char *previous,
    const char *client_id, const char *pair_id, const char *seq, const char *method, int status);

/*
 * The client's side (the outbound mode, PROTOCOL.md sections 11 and 14):
 * 1 when the x-mte-relay-auth value v[0..len) ("tag" or "tag,tag") holds a
 * tag under key (the K_answer the client received at pairing) for status
 * answering the request (client_id, pair_id, seq, method); compared in
 * constant time.  0 otherwise (also for a value of any other shape).
 */
int answer_tag_ok(const uint8_t key[ANSWER_KEY_LEN], const char *v, size_t len,
    const char *client_id, const char *pair_id, const char *seq, const char *method, int status);

#endif
