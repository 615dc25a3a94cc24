/* pair.c - POST /api/mte-pair: X-Wing encapsulation, key schedule, store
 * (protocol.md, Pairing). */
#include "server.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "clientid.h"
#include "crypto/b64.h"
#include "crypto/kdf.h"
#include "crypto/rand.h"
#include "crypto/wipe.h"
#include "crypto/mlkem.h"
#include "crypto/xwing.h"
#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "json.h"
#include "protocol.h"
#include "store.h"

#define PAIR_NONCE_LEN       32
#define PAIR_PK_B64_LEN      1622   /* b64url of XWING_PK_LEN bytes, no padding */
/* One response entry: pairId + b64u(ct) + b64u(nonce) + JSON punctuation. */
#define PAIR_RESPONSE_ENTRY  (PAIR_ID_MAX + 1494 + 43 + 64)
#define PAIR_RESPONSE_MAX    (PAIR_ENTRIES_MAX * PAIR_RESPONSE_ENTRY + 16)

/* Reads the whole (bounded) body into buf. Returns its length, -1 after an
 * error response was sent. */
static long
read_body(struct server *s, struct conn *c, char *buf, size_t cap)
{
	size_t len = 0;
	uint64_t declared;

	if (conn_body_known_length(c, &declared) && declared > cap) {
		s->reason = "pairing body too large";
		conn_respond_error(c, 413, "pairing request body too large", NULL, 0);
		return -1;
	}
	for (;;) {
		ssize_t got;
		if (len == cap) {
			/* One byte more tells a body of exactly cap from a larger one. */
			char extra;
			got = conn_body_read(c, &extra, 1);
			if (got == 0)
				break;
			if (got > 0) {
				s->reason = "pairing body too large";
				conn_respond_error(c, 413, "pairing request body too large", NULL, 0);
				return -1;
			}
		} else {
			got = conn_body_read(c, buf + len, cap - len);
			if (got == 0)
				break;
		}
		if (got < 0) {
			s->reason = "pairing body unreadable";
			if (conn_body_error(c) != 499)
				conn_respond_error(c, conn_body_error(c), "request body could not be read",
				    NULL, 0);
			return -1;
		}
		len += (size_t)got;
	}
	return (long)len;
}

static void
bad_request(struct server *s, struct conn *c, const char *why)
{
	metrics_count_decode_failure(MDR_PAIR_REQUEST);
	s->reason = why;
	conn_respond_error(c, 400, why, NULL, 0);
}

void
pair_handle(struct server *s, struct conn *c, const struct http_request *req)
{
	static char body[PAIR_BODY_MAX];
	static char out[PAIR_RESPONSE_MAX];
	static uint8_t keys[PAIR_ENTRIES_MAX][XWING_PK_LEN];
	const struct config *cfg = s->cfg;
	const struct http_header *h;
	char cid[CLIENT_ID_HEX_LEN + 1], signed_id[CLIENT_ID_SIGNED_LEN + 1];
	const char *seen[PAIR_ENTRIES_MAX];
	cJSON *root = NULL, *entry;
	size_t olen = 0, count, i;
	long blen;
	int n;

	if (!(req->method.len == 4 && memcmp(req->method.ptr, "POST", 4) == 0)) {
		conn_respond_error(c, 405, "method not allowed",
		    (struct http_field[]){ { "Allow", "POST" } }, 1);
		return;
	}
	h = http_header_get(req, "x-mte-relay");
	if (h == NULL || h->value.len == 0) {
		s->reason = "missing x-mte-relay";
		conn_respond_error(c, RS_BAD_RELAY_HEADER, relay_error_message(RS_BAD_RELAY_HEADER),
		    NULL, 0);
		return;
	}
	if (clientid_verify(h->value.ptr, h->value.len, cfg->client_id_secret,
	    strlen(cfg->client_id_secret), cfg->client_id_secret_previous,
	    cfg->client_id_secret_previous ? strlen(cfg->client_id_secret_previous) : 0, cid) != 0) {
		s->reason = "invalid client id";
		metrics_count_decode_failure(MDR_CLIENT_ID);
		conn_respond_error(c, RS_INVALID_CLIENT_ID, relay_error_message(RS_INVALID_CLIENT_ID),
		    NULL, 0);
		return;
	}
	if ((blen = read_body(s, c, body, sizeof body)) < 0)
		return;
	/* cJSON ends its strings at a decoded NUL: refuse "\u0000" outright so a
	 * pairId or personalization can never be cut short silently. */
	if (json_has_nul_escape(body, (size_t)blen)) {
		bad_request(s, c, "pairing body must not contain \\u0000");
		goto done;
	}
	root = cJSON_ParseWithLength(body, (size_t)blen);
	if (root == NULL || !cJSON_IsArray(root)) {
		bad_request(s, c, "pairing body must be a JSON array");
		goto done;
	}
	count = (size_t)cJSON_GetArraySize(root);
	if (count < 1 || count > PAIR_ENTRIES_MAX) {
		bad_request(s, c, "pairing body must hold 1 to 16 entries");
		goto done;
	}
	/* Validate everything before any state changes. */
	i = 0;
	cJSON_ArrayForEach(entry, root) {
		const cJSON *pid = cJSON_GetObjectItemCaseSensitive(entry, "pairId");
		const cJSON *pk = cJSON_GetObjectItemCaseSensitive(entry, "publicKey");
		const cJSON *pers = cJSON_GetObjectItemCaseSensitive(entry, "personalization");
		size_t k;

		if (!cJSON_IsObject(entry) || !cJSON_IsString(pid) || !cJSON_IsString(pk) ||
		    !cJSON_IsString(pers)) {
			bad_request(s, c, "each entry needs string pairId, publicKey and personalization");
			goto done;
		}
		if (!protocol_pair_id_ok(pid->valuestring, strlen(pid->valuestring))) {
			bad_request(s, c, "pairId must be 16 to 64 characters of [A-Za-z0-9_-]");
			goto done;
		}
		if (!protocol_personalization_ok(pers->valuestring, strlen(pers->valuestring))) {
			bad_request(s, c, "personalization must be 0 to 128 printable ASCII characters");
			goto done;
		}
		if (strlen(pk->valuestring) != PAIR_PK_B64_LEN) {
			bad_request(s, c, "publicKey must be an X-Wing public key (1216 bytes, base64url)");
			goto done;
		}
		for (k = 0; k < i; k++)
			if (strcmp(seen[k], pid->valuestring) == 0) {
				bad_request(s, c, "pairId repeated in one request");
				goto done;
			}
		if (b64url_decode(keys[i], XWING_PK_LEN, pk->valuestring, PAIR_PK_B64_LEN) !=
		    XWING_PK_LEN) {
			bad_request(s, c, "publicKey is not valid base64url");
			goto done;
		}
		if (mlkem768_ek_check(keys[i], MLKEM768_EK_LEN) != 0) {
			bad_request(s, c, "publicKey fails the ML-KEM-768 encapsulation key check");
			goto done;
		}
		/* A live pair is never put again (store_pair_put); saying so before
		 * anything is stored keeps the request all-or-nothing. */
		{
			struct store_pair live;
			enum store_status ls = store_pair_get(cid, pid->valuestring, &live);
			crypto_wipe(&live, sizeof live);
			if (ls == STORE_OK) {
				bad_request(s, c, "pairId already in use");
				goto done;
			}
		}
		seen[i++] = pid->valuestring;
	}

	olen = 1;
	out[0] = '[';
	i = 0;
	cJSON_ArrayForEach(entry, root) {
		const char *pid = cJSON_GetObjectItemCaseSensitive(entry, "pairId")->valuestring;
		const char *pers = cJSON_GetObjectItemCaseSensitive(entry, "personalization")->valuestring;
		uint8_t ct[XWING_CT_LEN], ss[XWING_SS_LEN];
		uint8_t eseed[XWING_ESEED_LEN], nonce[PAIR_NONCE_LEN];
		char ct64[1500], nonce64[48];
		struct store_pair p;
		enum store_status st;

		rand_bytes(eseed, sizeof eseed);
		/* The key passed the check above; encaps checks it again anyway. */
		if (xwing_encaps(ct, ss, keys[i], XWING_PK_LEN, eseed) != 0) {
			crypto_wipe(eseed, sizeof eseed);
			conn_respond_error(c, 500, "pairing failed", NULL, 0);
			goto done;
		}
		crypto_wipe(eseed, sizeof eseed);
		rand_bytes(nonce, sizeof nonce);
		memset(&p, 0, sizeof p);
		memcpy(p.client_id, cid, CLIENT_ID_HEX_LEN);
		memcpy(p.pair_id, pid, strlen(pid));
		if (kdf_pair_keys(p.k_req, p.k_res, ss, nonce, cid, CLIENT_ID_HEX_LEN, pid,
		    strlen(pid), pers, strlen(pers)) != 0) {
			crypto_wipe(ss, sizeof ss);
			bad_request(s, c, "pairing entry rejected");
			goto done;
		}
		crypto_wipe(ss, sizeof ss);
		st = store_pair_put(&p);
		crypto_wipe(&p, sizeof p);
		if (st == STORE_EXISTS) {
			/* Pair ids are random: only a replay attempt or a broken client
			 * repeats a live one (here: one that raced the check above). */
			bad_request(s, c, "pairId already in use");
			goto done;
		}
		if (st != STORE_OK) {
			s->reason = "state store unavailable";
			conn_respond_error(c, 503, "state store unavailable", NULL, 0);
			goto done;
		}
		b64url_encode(ct64, sizeof ct64, ct, sizeof ct);
		b64url_encode(nonce64, sizeof nonce64, nonce, sizeof nonce);
		/* pairId was validated to [A-Za-z0-9_-]: nothing to escape. */
		n = snprintf(out + olen, sizeof out - olen,
		    "%s{\"pairId\":\"%s\",\"ciphertext\":\"%s\",\"nonce\":\"%s\"}",
		    i++ ? "," : "", pid, ct64, nonce64);
		if (n < 0 || (size_t)n >= sizeof out - olen) {
			conn_respond_error(c, 500, "pairing response too large", NULL, 0);
			goto done;
		}
		olen += (size_t)n;
	}
	out[olen++] = ']';
	/* Echo the id signed with the current secret (it may have been signed
	 * with the previous one). */
	clientid_sign(signed_id, cid, cfg->client_id_secret, strlen(cfg->client_id_secret));
	if (conn_respond_head(c, 200, (struct http_field[]){
	    { "Content-Type", "application/json" }, { "Cache-Control", "no-store" },
	    { "x-mte-relay", signed_id } }, 3, (int64_t)olen) == 0 &&
	    conn_respond_body(c, out, olen) == 0)
		conn_respond_end(c);
	metrics_count_pairing((unsigned)count);
	LOG_EVENT(LOG_INFO, "paired", LOG_S("request_id", conn_info(c)->id),
	    LOG_S("client_id", cid), LOG_I("pairs", count));
done:
	cJSON_Delete(root);
}
