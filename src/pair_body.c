/* pair_body.c - the syntax of a pairing body (see pair_body.h). */
#include "pair_body.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "crypto/b64.h"
#include "crypto/mlkem.h"
#include "hex.h"
#include "json.h"
#include "protocol.h"

#define PAIR_PK_B64_LEN      1622   /* b64url of XWING_PK_LEN bytes, no padding */
#define PAIR_CT_B64_LEN      1494   /* b64url of XWING_CT_LEN bytes, no padding */

/* The entry's optional pinned relay key: both members or neither.  F_COUNT
 * or the failure. */
static enum failure
check_relay_key(struct pair_body *out, const cJSON *entry, size_t i)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(entry, "relayKeyId");
	const cJSON *ct = cJSON_GetObjectItemCaseSensitive(entry, "relayCiphertext");

	out->relay_key_id[i][0] = '\0';
	if (id == NULL && ct == NULL)
		return F_COUNT;
	if (!cJSON_IsString(id) || !cJSON_IsString(ct) ||
	    strlen(id->valuestring) != PAIR_RELAY_KEY_ID_LEN ||
	    !hex_is_lower(id->valuestring, PAIR_RELAY_KEY_ID_LEN) ||
	    strlen(ct->valuestring) != PAIR_CT_B64_LEN ||
	    b64url_decode(out->relay_ct[i], XWING_CT_LEN, ct->valuestring, PAIR_CT_B64_LEN) !=
	    XWING_CT_LEN)
		return F_PAIR_RELAY_KEY_FIELDS;
	memcpy(out->relay_key_id[i], id->valuestring, PAIR_RELAY_KEY_ID_LEN + 1);
	return F_COUNT;
}

/* Checks entry i; its strings and decoded key go into out.  F_COUNT or the
 * failure. */
static enum failure
check_entry(struct pair_body *out, const cJSON *entry, size_t i)
{
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(entry, "pairId");
	const cJSON *pk = cJSON_GetObjectItemCaseSensitive(entry, "publicKey");
	const cJSON *pers = cJSON_GetObjectItemCaseSensitive(entry, "personalization");
	size_t k;

	if (!cJSON_IsObject(entry) || !cJSON_IsString(pid) || !cJSON_IsString(pk) ||
	    !cJSON_IsString(pers))
		return F_PAIR_ENTRY_FIELDS;
	if (!protocol_pair_id_ok(pid->valuestring, strlen(pid->valuestring)))
		return F_PAIR_ID_SYNTAX;
	if (!protocol_personalization_ok(pers->valuestring, strlen(pers->valuestring)))
		return F_PAIR_PERSONALIZATION;
	if (strlen(pk->valuestring) != PAIR_PK_B64_LEN)
		return F_PAIR_KEY_LENGTH;
	for (k = 0; k < i; k++)
		if (strcmp(out->pair_id[k], pid->valuestring) == 0)
			return F_PAIR_ID_REPEATED;
	if (b64url_decode(out->key[i], XWING_PK_LEN, pk->valuestring, PAIR_PK_B64_LEN) !=
	    XWING_PK_LEN)
		return F_PAIR_KEY_BASE64URL;
	if (mlkem768_ek_check(out->key[i], MLKEM768_EK_LEN) != 0)
		return F_PAIR_KEY_CHECK;
	out->pair_id[i] = pid->valuestring;
	out->personalization[i] = pers->valuestring;
	out->answers[i] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(entry, "answers"));
	out->stream[i] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(entry, "stream"));
	return check_relay_key(out, entry, i);
}

enum failure
pair_body_parse(const char *body, size_t len, struct pair_body *out)
{
	const cJSON *entry;
	size_t i = 0;

	out->root = NULL;
	out->count = 0;
	/* cJSON ends its strings at a decoded NUL: refuse "\u0000" outright so a
	 * pairId or personalization can never be cut short silently. */
	if (json_has_nul_escape(body, len))
		return F_PAIR_NUL_ESCAPE;
	out->root = cJSON_ParseWithLength(body, len);
	if (out->root == NULL || !cJSON_IsArray(out->root))
		return F_PAIR_NOT_ARRAY;
	out->count = (size_t)cJSON_GetArraySize(out->root);
	if (out->count < 1 || out->count > PAIR_ENTRIES_MAX)
		return F_PAIR_ENTRY_COUNT;
	cJSON_ArrayForEach(entry, out->root) {
		enum failure f = check_entry(out, entry, i++);
		if (f != F_COUNT)
			return f;
	}
	return F_COUNT;
}

void
pair_body_free(struct pair_body *out)
{
	cJSON_Delete(out->root);
	out->root = NULL;
}
