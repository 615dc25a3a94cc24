/* answer.c - authenticated answers (see answer.h). */
#include "answer.h"

#include <stdio.h>
#include <string.h>

#include "crypto/kdf.h"
#include "crypto/wipe.h"
#include "hex.h"
#include "limits.h"

#define TAG_INPUT_MAX  (64 + CLIENT_ID_HEX_LEN + PAIR_ID_MAX + 24 + 32 + 8)

void
answer_key(uint8_t key[ANSWER_KEY_LEN], const char *secret, const char *client_id)
{
	char label[32 + CLIENT_ID_HEX_LEN];
	int n = snprintf(label, sizeof label, "mte-relay/1 answer-key %.*s", CLIENT_ID_HEX_LEN,
	    client_id);

	kdf_hmac(key, secret, strlen(secret), label, (size_t)n);
}

/* The tag's input: "mte-relay/1 answer cid pid seq METHOD status".  Its
 * length, or -1 when it does not fit. */
static int
tag_input(char msg[TAG_INPUT_MAX], const char *cid, const char *pid, const char *seq,
    const char *method, int status)
{
	int n = snprintf(msg, TAG_INPUT_MAX, "mte-relay/1 answer %s %s %s %s %03d", cid, pid, seq,
	    method, status);

	return n < 0 || n >= TAG_INPUT_MAX ? -1 : n;
}

/* Appends the hex tag under secret to out at *len. */
static void
append_tag(char *out, size_t *len, const char *secret, const char *cid, const char *msg,
    size_t msg_len)
{
	uint8_t key[ANSWER_KEY_LEN], tag[32];

	answer_key(key, secret, cid);
	kdf_hmac(tag, key, sizeof key, msg, msg_len);
	hex_encode(out + *len, tag, sizeof tag);
	*len += ANSWER_TAG_HEX_LEN;
	crypto_wipe(key, sizeof key);
}

int
answer_tag_ok(const uint8_t key[ANSWER_KEY_LEN], const char *v, size_t len,
    const char *client_id, const char *pair_id, const char *seq, const char *method, int status)
{
	char msg[TAG_INPUT_MAX], want[ANSWER_TAG_HEX_LEN + 1];
	uint8_t tag[32];
	int n = tag_input(msg, client_id, pair_id, seq, method, status), ok = 0;

	if (n < 0 || (len != ANSWER_TAG_HEX_LEN && len != 2 * ANSWER_TAG_HEX_LEN + 1))
		return 0;
	if (len > ANSWER_TAG_HEX_LEN && v[ANSWER_TAG_HEX_LEN] != ',')
		return 0;
	kdf_hmac(tag, key, ANSWER_KEY_LEN, msg, (size_t)n);
	hex_encode(want, tag, sizeof tag);
	for (size_t off = 0; off < len; off += ANSWER_TAG_HEX_LEN + 1) {
		unsigned diff = 0;
		for (size_t i = 0; i < ANSWER_TAG_HEX_LEN; i++)
			diff |= (unsigned)(want[i] ^ v[off + i]);
		ok |= diff == 0;
	}
	crypto_wipe(tag, sizeof tag);
	return ok;
}

int
answer_header(char out[ANSWER_HEADER_MAX], const char *secret, const char *previous,
    const char *client_id, const char *pair_id, const char *seq, const char *method, int status)
{
	char msg[TAG_INPUT_MAX];
	size_t len = 0;
	int n;

	n = tag_input(msg, client_id, pair_id, seq, method, status);
	if (n < 0)
		return -1;
	append_tag(out, &len, secret, client_id, msg, (size_t)n);
	if (previous != NULL) {
		out[len++] = ',';
		append_tag(out, &len, previous, client_id, msg, (size_t)n);
	}
	out[len] = '\0';
	return 0;
}
