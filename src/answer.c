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
answer_header(char out[ANSWER_HEADER_MAX], const char *secret, const char *previous,
    const char *client_id, const char *pair_id, const char *seq, const char *method, int status)
{
	char msg[TAG_INPUT_MAX];
	size_t len = 0;
	int n;

	n = snprintf(msg, sizeof msg, "mte-relay/1 answer %s %s %s %s %03d", client_id, pair_id,
	    seq, method, status);
	if (n < 0 || (size_t)n >= sizeof msg)
		return -1;
	append_tag(out, &len, secret, client_id, msg, (size_t)n);
	if (previous != NULL) {
		out[len++] = ',';
		append_tag(out, &len, previous, client_id, msg, (size_t)n);
	}
	out[len] = '\0';
	return 0;
}
