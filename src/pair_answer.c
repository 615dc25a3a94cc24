/* pair_answer.c - the partner's pairing answer, parsed (see pair_answer.h). */
#include "pair_answer.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "crypto/b64.h"
#include "json.h"

/* The b64url string member name of o, decoded into exactly want bytes.
 * 0, -1 when it is not that, 1 when absent. */
static int
b64_member(const cJSON *o, const char *name, uint8_t *out, size_t want)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t len;

	if (s == NULL)
		return 1;
	if (!cJSON_IsString(s))
		return -1;
	len = strlen(s->valuestring);
	if (b64url_decoded_len(len) != want)
		return -1;
	return b64url_decode(out, want, s->valuestring, len) == (ssize_t)want ? 0 : -1;
}

int
pair_answer_parse(const uint8_t *body, size_t len, const char *pair_id, struct pair_answer *out)
{
	cJSON *root;
	const cJSON *e, *pid;
	int rc = -1, ak;

	if (len > OUTBOUND_ANSWER_MAX || json_has_nul_escape((const char *)body, len))
		return -1;
	root = cJSON_ParseWithLength((const char *)body, len);
	e = cJSON_GetArrayItem(root, 0);
	pid = cJSON_GetObjectItemCaseSensitive(e, "pairId");
	if (!cJSON_IsArray(root) || cJSON_GetArraySize(root) != 1 || !cJSON_IsObject(e) ||
	    !cJSON_IsString(pid) || strcmp(pid->valuestring, pair_id) != 0)
		goto out;
	if (b64_member(e, "ciphertext", out->ciphertext, sizeof out->ciphertext) != 0 ||
	    b64_member(e, "nonce", out->nonce, sizeof out->nonce) != 0)
		goto out;
	ak = b64_member(e, "answerKey", out->answer_key, sizeof out->answer_key);
	if (ak < 0)
		goto out;
	out->has_answer_key = ak == 0;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}
