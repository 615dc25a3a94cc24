/* loadgen_mte.c - see loadgen_mte.h. */
#include "tests/bench/loadgen_mte.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "clientid.h"
#include "crypto/b64.h"
#include "crypto/rand.h"
#include "crypto/wipe.h"
#include "hex.h"
#include "protocol.h"

#define PAIR_BODY_CAP (PAIR_ENTRIES_MAX * LG_PAIR_ENTRY_MAX + 16)

int
lg_client_new(const struct lg_target *t, int timeout_ms, struct lg_client *c, const char **why)
{
	char req[LG_HOST_MAX + 128];
	struct lg_answer a;
	int n = snprintf(req, sizeof req, "HEAD /api/mte-relay HTTP/1.1\r\nHost: %s\r\n"
	    "Connection: close\r\n\r\n", t->host);

	if (lg_exchange(t, req, (size_t)n, 1, timeout_ms, &a, why) != 0)
		return -1;
	*why = "HEAD /api/mte-relay did not answer 200 with a signed client id";
	if (a.resp.status != 200 || a.resp.relay_count != 1 ||
	    !clientid_syntax_ok(a.resp.relay.ptr, a.resp.relay.len)) {
		lg_answer_free(&a);
		return -1;
	}
	memcpy(c->signed_id, a.resp.relay.ptr, CLIENT_ID_SIGNED_LEN);
	c->signed_id[CLIENT_ID_SIGNED_LEN] = 0;
	memcpy(c->id, c->signed_id, CLIENT_ID_HEX_LEN);
	c->id[CLIENT_ID_HEX_LEN] = 0;
	lg_answer_free(&a);
	return 0;
}

void
lg_fresh_pair_id(char out[LG_PAIR_ID_LEN + 1])
{
	uint8_t r[LG_PAIR_ID_LEN * 3 / 4];

	rand_bytes(r, sizeof r);
	b64url_encode(out, LG_PAIR_ID_LEN + 1, r, sizeof r);
}

void
lg_fresh_personalization(char out[LG_PERS_LEN + 1])
{
	uint8_t r[LG_PERS_LEN / 2];

	rand_bytes(r, sizeof r);
	hex_encode(out, r, sizeof r);
	out[LG_PERS_LEN] = 0;
}

/* Appends one pairing entry (after a comma unless first) at out[*off..cap). */
static int
append_entry(char *out, size_t cap, size_t *off, const char *pk64, const char *pair_id,
             const char *pers, int first)
{
	int n = snprintf(out + *off, cap - *off,
	    "%s{\"pairId\":\"%s\",\"publicKey\":\"%s\",\"personalization\":\"%s\"}",
	    first ? "" : ",", pair_id, pk64, pers);

	if (n < 0 || (size_t)n >= cap - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

int
lg_pairing_body(char *out, size_t cap, const char *pk64, char (*pair_ids)[LG_PAIR_ID_LEN + 1],
                size_t n)
{
	size_t off = 1, i;

	if (cap < 3)
		return -1;
	out[0] = '[';
	for (i = 0; i < n; i++) {
		char pers[LG_PERS_LEN + 1];

		lg_fresh_personalization(pers);
		if (append_entry(out, cap, &off, pk64, pair_ids[i], pers, i == 0) != 0)
			return -1;
	}
	if (off + 2 > cap)
		return -1;
	out[off++] = ']';
	out[off] = 0;
	return (int)off;
}

/* The string member name of object o decoded from b64url into out, which
 * must receive exactly want bytes. */
static int
b64_member(const cJSON *o, const char *name, uint8_t *out, size_t want)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t len;

	if (!cJSON_IsString(s))
		return -1;
	len = strlen(s->valuestring);
	if (b64url_decoded_len(len) != want)
		return -1;
	return b64url_decode(out, want, s->valuestring, len) == (ssize_t)want ? 0 : -1;
}

/* Checks answer entry i of root for pair_id; ct and nonce receive its fields. */
static int
answer_entry(const cJSON *root, size_t i, const char *pair_id, uint8_t ct[XWING_CT_LEN],
             uint8_t nonce[32])
{
	const cJSON *e = cJSON_GetArrayItem(root, (int)i);
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(e, "pairId");

	if (!cJSON_IsObject(e) || !cJSON_IsString(pid) || strcmp(pid->valuestring, pair_id) != 0)
		return -1;
	if (b64_member(e, "ciphertext", ct, XWING_CT_LEN) != 0 || b64_member(e, "nonce", nonce, 32) != 0)
		return -1;
	return 0;
}

int
lg_pairing_check(const uint8_t *body, size_t len, char (*pair_ids)[LG_PAIR_ID_LEN + 1],
                 size_t n, const char **why)
{
	cJSON *root = cJSON_ParseWithLength((const char *)body, len);
	uint8_t ct[XWING_CT_LEN], nonce[32];
	size_t i;
	int rc = 0;

	*why = "pairing answer is not a JSON array of one entry per pair";
	if (!cJSON_IsArray(root) || (size_t)cJSON_GetArraySize(root) != n)
		rc = -1;
	for (i = 0; rc == 0 && i < n; i++) {
		if (answer_entry(root, i, pair_ids[i], ct, nonce) != 0) {
			*why = "pairing answer entry without our pairId, a ciphertext and a nonce";
			rc = -1;
		}
	}
	cJSON_Delete(root);
	return rc;
}

int
lg_pair_setup(const struct lg_target *t, int timeout_ms, const struct lg_client *c,
              struct lg_pair *pairs, size_t n, const char **why)
{
	char req[LG_HOST_MAX + 512 + PAIR_BODY_CAP];
	char pers[PAIR_ENTRIES_MAX][LG_PERS_LEN + 1];
	uint8_t seed[PAIR_ENTRIES_MAX][XWING_SEED_LEN];
	uint8_t pk[XWING_PK_LEN], ct[XWING_CT_LEN], nonce[32], ss[XWING_SS_LEN];
	char pk64[LG_PK_B64_LEN + 1];
	struct lg_answer a;
	cJSON *root = NULL;
	size_t off = 1, i;
	int hl, rc = -1;

	*why = "bad number of pairs for one pairing request";
	if (n == 0 || n > PAIR_ENTRIES_MAX)
		return -1;
	/* The body goes straight after the head in req: one buffer, one send. */
	{
		char *b = req + LG_HOST_MAX + 512;

		b[0] = '[';
		for (i = 0; i < n; i++) {
			rand_bytes(seed[i], XWING_SEED_LEN);
			xwing_keygen(pk, seed[i]);
			b64url_encode(pk64, sizeof pk64, pk, sizeof pk);
			lg_fresh_pair_id(pairs[i].pair_id);
			lg_fresh_personalization(pers[i]);
			pairs[i].client = c;
			pairs[i].seq = 0;
			if (append_entry(b, PAIR_BODY_CAP, &off, pk64, pairs[i].pair_id, pers[i], i == 0) != 0)
				goto out;
		}
		b[off++] = ']';
		hl = snprintf(req, LG_HOST_MAX + 512, "POST /api/mte-pair HTTP/1.1\r\nHost: %s\r\n"
		    "x-mte-relay: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n", t->host, c->signed_id, off);
		if (hl < 0 || hl >= LG_HOST_MAX + 512)
			goto out;
		memmove(req + hl, b, off);
	}
	if (lg_exchange(t, req, (size_t)hl + off, 0, timeout_ms, &a, why) != 0)
		goto out;
	*why = "POST /api/mte-pair did not answer 200";
	if (a.resp.status == 200) {
		root = cJSON_ParseWithLength((const char *)a.body, a.body_len);
		*why = "pairing answer is not a JSON array of one entry per pair";
		if (cJSON_IsArray(root) && (size_t)cJSON_GetArraySize(root) == n) {
			for (i = 0; i < n; i++) {
				*why = "pairing answer entry without our pairId, a ciphertext and a nonce";
				if (answer_entry(root, i, pairs[i].pair_id, ct, nonce) != 0)
					break;
				(void)xwing_decaps(ss, ct, sizeof ct, seed[i]);
				*why = "pair keys could not be derived";
				if (kdf_pair_keys(pairs[i].k_req, pairs[i].k_res, ss, nonce, c->id,
				    CLIENT_ID_HEX_LEN, pairs[i].pair_id, LG_PAIR_ID_LEN, pers[i],
				    LG_PERS_LEN) != 0)
					break;
				kdf_root_init(&pairs[i].root_req, pairs[i].k_req);
				kdf_root_init(&pairs[i].root_res, pairs[i].k_res);
			}
			if (i == n)
				rc = 0;
		}
	}
	cJSON_Delete(root);
	lg_answer_free(&a);
out:
	crypto_wipe(seed, sizeof seed);
	crypto_wipe(ss, sizeof ss);
	return rc;
}

int
lg_request_meta(char *out, size_t cap, const char *url, int seal_url,
                const char *const *headers, size_t nheaders)
{
	size_t off = 0, i;
	int n;

#define PUT(...) do { \
	n = snprintf(out + off, cap - off, __VA_ARGS__); \
	if (n < 0 || (size_t)n >= cap - off) return -1; \
	off += (size_t)n; } while (0)

	if (cap == 0)
		return -1;
	PUT("{");
	if (seal_url) {
		if (strpbrk(url, "\"\\") != NULL)
			return -1;
		PUT("\"url\":\"%s\",", url);
	}
	PUT("\"headers\":{");
	for (i = 0; i < nheaders; i++) {
		const char *h = headers[i], *colon = strchr(h, ':'), *v;
		size_t nl, k;

		if (colon == NULL || colon == h || !http_is_token(h, (size_t)(colon - h)))
			return -1;
		nl = (size_t)(colon - h);
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (k = 0; v[k]; k++)
			if ((unsigned char)v[k] < 0x20 || (unsigned char)v[k] > 0x7e || v[k] == '"' ||
			    v[k] == '\\')
				return -1;
		PUT("%s\"", i ? "," : "");
		for (k = 0; k < nl; k++) {
			char ch = h[k];

			PUT("%c", (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch);
		}
		PUT("\":\"%s\"", v);
	}
	PUT("}}");
#undef PUT
	return off > META_PLAINTEXT_MAX ? -1 : (int)off;
}

void
lg_request_caps(const struct lg_request_shape *s, size_t *head_cap, size_t *body_cap)
{
	uint64_t w = 0;

	*head_cap = 512 + strlen(s->method) + strlen(s->host) + strlen(s->url) +
	    CLIENT_ID_SIGNED_LEN + LG_PAIR_ID_LEN + b64url_encoded_len(s->meta_len + SEAL_TAG_LEN);
	if (s->has_body)
		(void)seal_wire_len(s->body_len, &w);
	*body_cap = (size_t)w;
}

int
lg_seal_request(const struct lg_request_shape *s, struct lg_pair *p, char *head,
                size_t head_cap, size_t *head_len, uint8_t *body, size_t body_cap,
                size_t *body_len, struct lg_sent *sent)
{
	char aad[SEAL_AAD_MAX], field[RELAY_HEADER_MAX + 1];
	uint8_t meta[META_PLAINTEXT_MAX + SEAL_TAG_LEN];
	uint8_t mk_req[KDF_HASH_LEN];
	char flags[3] = "";
	size_t fl = 0, off, wire = 0;
	int aad_len, sealed, n;

	if (s->seal_url)
		flags[fl++] = 'u';
	if (s->has_body)
		flags[fl++] = 'b';
	sent->pair = p;
	sent->seq = ++p->seq;
	snprintf(sent->seq_text, sizeof sent->seq_text, "%llu", (unsigned long long)sent->seq);
	aad_len = protocol_aad_request(aad, sizeof aad, p->client->id, p->pair_id, sent->seq_text,
	    flags, s->method, s->url, s->seal_url ? 0 : strlen(s->url));
	if (aad_len < 0 || s->meta_len > META_PLAINTEXT_MAX)
		return -1;
	kdf_message_key_root(mk_req, &p->root_req, KDF_REQ, sent->seq);
	kdf_message_key_root(sent->mk_res, &p->root_res, KDF_RES, sent->seq);

	sealed = seal_meta_seal(meta, sizeof meta, mk_req, aad, (size_t)aad_len,
	    (const uint8_t *)s->meta, s->meta_len);
	if (protocol_format_relay_header(field, sizeof field, p->client->signed_id, p->pair_id,
	    sent->seq_text, flags) < 0)
		goto fail;
	n = snprintf(head, head_cap, "%s %s HTTP/1.1\r\nHost: %s\r\nx-mte-relay: %s\r\n"
	    "x-mte-relay-eh: ", s->method, s->seal_url ? "/" : s->url, s->host, field);
	if (sealed < 0 || n < 0 || (size_t)n >= head_cap)
		goto fail;
	off = (size_t)n;
	n = (int)b64url_encode(head + off, head_cap - off, meta, (size_t)sealed);
	if (n == 0)
		goto fail;
	off += (size_t)n;

	if (s->has_body) {
		struct seal_key key;
		size_t pos = 0;
		uint64_t index = 0;

		seal_key_init(&key, mk_req);
		for (;;) {
			size_t take = s->body_len - pos;
			int final = take < SEAL_CHUNK_MAX;

			if (!final)
				take = SEAL_CHUNK_MAX;
			if (wire + take + SEAL_TAG_LEN > body_cap) {
				seal_key_wipe(&key);
				goto fail;
			}
			if (take)
				memcpy(body + wire, s->body + pos, take);
			if (seal_chunk_seal(&key, SEAL_ITEM_BODY, final, index++, aad, (size_t)aad_len,
			    body + wire, take, body + wire + take) != 0) {
				seal_key_wipe(&key);
				goto fail;
			}
			wire += take + SEAL_TAG_LEN;
			pos += take;
			if (final)
				break;
		}
		seal_key_wipe(&key);
		n = snprintf(head + off, head_cap - off, "\r\nContent-Length: %zu\r\n\r\n", wire);
	} else {
		n = snprintf(head + off, head_cap - off, "\r\n\r\n");
	}
	if (n < 0 || (size_t)n >= head_cap - off)
		goto fail;
	*head_len = off + (size_t)n;
	*body_len = wire;
	crypto_wipe(mk_req, sizeof mk_req);
	return 0;
fail:
	crypto_wipe(mk_req, sizeof mk_req);
	return -1;
}

static int
count_plain(void *arg, const uint8_t *data, size_t len)
{
	struct lg_open *o = arg;

	(void)data;
	o->plain += len;
	return 0;
}

int
lg_open_head(struct lg_open *o, const struct lg_sent *sent, const struct lg_response *r,
             int head_request, int tamper, const char **why)
{
	const struct lg_pair *p = sent->pair;
	struct relay_header h;
	char aad[SEAL_AAD_MAX];
	ssize_t w;
	int aad_len, opened;
	cJSON *meta;
	const cJSON *hdrs;

	o->body = 0;
	o->fed = o->plain = 0;
	*why = "answer not sealed (no single x-mte-relay and x-mte-relay-eh)";
	if (r->relay_count != 1 || r->relay_eh_count != 1)
		return -1;
	*why = "answer's x-mte-relay is not for this request";
	if (protocol_parse_relay_header(r->relay.ptr, r->relay.len, &h) != 0 ||
	    memcmp(h.signed_id, p->client->id, CLIENT_ID_HEX_LEN) != 0 ||
	    h.pair_id_len != LG_PAIR_ID_LEN || memcmp(h.pair_id, p->pair_id, LG_PAIR_ID_LEN) != 0 ||
	    h.seq != sent->seq || h.flag_u || h.flag_a || h.flag_s)
		return -1;
	{
		char fl[8];
		snprintf(fl, sizeof fl, "%.*s", (int)h.flags_len, h.flags);
		aad_len = protocol_aad_response(aad, sizeof aad, p->client->id, p->pair_id,
		    sent->seq_text, fl, r->status);
	}
	*why = "answer's meta did not open";
	if (aad_len < 0 ||
	    r->relay_eh.len > b64url_encoded_len(sizeof o->meta))
		return -1;
	w = b64url_decode(o->meta, sizeof o->meta, r->relay_eh.ptr, r->relay_eh.len);
	if (w < SEAL_TAG_LEN)
		return -1;
	if (tamper == LG_TAMPER_META || (tamper == LG_TAMPER_BODY && !h.flag_b))
		o->meta[0] ^= 1;
	opened = seal_meta_open(o->meta, sizeof o->meta, sent->mk_res, aad, (size_t)aad_len,
	    o->meta, (size_t)w);
	if (opened < 0)
		return -1;
	meta = cJSON_ParseWithLength((const char *)o->meta, (size_t)opened);
	hdrs = cJSON_GetObjectItemCaseSensitive(meta, "headers");
	*why = "answer's meta is not {\"headers\": {...}}";
	if (!cJSON_IsObject(meta) || !cJSON_IsObject(hdrs)) {
		cJSON_Delete(meta);
		return -1;
	}
	cJSON_Delete(meta);
	if (h.flag_b && !head_request) {
		*why = "answer's AAD too long";
		if (seal_reader_init(&o->reader, sent->mk_res, aad, (size_t)aad_len) != SEAL_OK)
			return -1;
		o->body = 1;
	}
	return 0;
}

int
lg_open_feed(struct lg_open *o, uint8_t *data, size_t len, int tamper, const char **why)
{
	if (len == 0)
		return 0;
	if (!o->body) {
		*why = "body bytes after a sealed answer without a body";
		return -1;
	}
	if (tamper == LG_TAMPER_BODY && o->fed == 0)
		data[0] ^= 1;
	o->fed += len;
	if (seal_reader_feed(&o->reader, data, len, count_plain, o) != SEAL_OK) {
		*why = "answer's body did not open";
		o->body = 0;
		return -1;
	}
	return 0;
}

int
lg_open_finish(struct lg_open *o, const char **why)
{
	if (!o->body)
		return 0;
	o->body = 0;
	if (seal_reader_finish(&o->reader, count_plain, o) != SEAL_OK) {
		*why = "answer's body did not open (bad or missing final chunk)";
		return -1;
	}
	return 0;
}

void
lg_open_wipe(struct lg_open *o)
{
	if (o->body)
		seal_reader_wipe(&o->reader);
	o->body = 0;
}
