/* outbound.c - the outbound mode (PROTOCOL.md section 14): the relay as a
 * protocol client.  A local caller sends plain HTTP to the outbound
 * listener; this file picks the partner relay, seals the request (flags u,
 * b, a), sends it through upstream.c, opens the answer and answers the
 * caller in plain HTTP.
 *
 * Nothing of the protocol is written twice: chunks and meta items are
 * crypto/seal.c's (seal_writer for the request body, seal_reader for the
 * answer's), the key schedule crypto/kdf.c's, the AADs protocol.c's, the
 * answer tags answer.c's, the relay header's syntax protocol.c's, the
 * request fields forward.c's.  The client state (client id, pairs, seq
 * counters) lives in the store's slots, shared by every worker and instance.
 *
 * One request: choose_partner -> token -> meta JSON -> up to
 * OUTBOUND_ATTEMPTS_MAX sends (client id, pair, seq from the store; sealed
 * head; body sealed as curl pulls it, after B's 100-continue) -> the answer
 * opened as it arrives.  Retries follow the JS client (client/src/fetch.js)
 * and extension a's rule for non-idempotent methods. */
#include "server.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "answer.h"
#include "clientid.h"
#include "crypto/b64.h"
#include "crypto/kdf.h"
#include "crypto/rand.h"
#include "crypto/seal.h"
#include "crypto/wipe.h"
#include "crypto/xwing.h"
#include "errors.h"
#include "hex.h"
#include "json.h"
#include "log.h"
#include "pair_answer.h"
#include "metrics.h"
#include "protocol.h"
#include "store/store.h"
#include "upstream.h"

#define OB_GROUP_MAX    24      /* "ob:" + 16 hex digits */
#define OB_PID_LEN      32      /* characters of the pair ids we make */
#define OB_PERS_LEN     24      /* characters of the personalizations we make */
#define OB_PAIR_BODY_MAX 4096   /* bytes of our pairing request (one entry) */
#define OB_WIRE_READ    16384   /* caller body bytes read per step (< one chunk) */
#define OB_EH_MAX       (((META_PLAINTEXT_MAX + SEAL_TAG_LEN) * 4 + 2) / 3 + 4)

/* A pair slot's value: cid | pid | k_req | k_res | has_answer_key | k_answer */
#define OB_PAIR_VALUE_LEN (CLIENT_ID_HEX_LEN + OB_PID_LEN + 3 * KDF_HASH_LEN + 1)

struct ob_id {
	uint64_t version;
	char     signed_id[CLIENT_ID_SIGNED_LEN + 1];
	char     cid[CLIENT_ID_HEX_LEN + 1];
};

struct ob_pair {
	uint64_t version;
	unsigned index;
	char     cid[CLIENT_ID_HEX_LEN + 1];
	char     pid[OB_PID_LEN + 1];
	uint8_t  k_req[KDF_HASH_LEN], k_res[KDF_HASH_LEN], k_ans[KDF_HASH_LEN];
	int      has_ans;
};

/* What became of one send. */
enum ob_outcome {
	OC_NONE = 0,        /* transport: see the upstream result */
	OC_ANSWERED,        /* authenticated, the caller's response started */
	OC_AUTH,            /* the answer's head did not authenticate */
	OC_REFUSED,         /* a relay status 559-570 (sealed or in the clear) */
	OC_OTHER,           /* a clear answer of B's own (400, 413, 503, ...) */
	OC_BODY_AUTH,       /* the answer's body failed: the caller's response is cut */
};

/* One outbound request, on the worker's static storage (large buffers). */
struct ob_req {
	struct server             *s;
	struct conn               *c;
	const struct http_request *req;
	const struct outbound_partner *partner;
	char        group[OB_GROUP_MAX];
	char        method[METHOD_MAX + 1];
	int         idempotent;
	int         has_body;
	int64_t     wire_len;           /* -1: chunked */
	size_t      meta_len;
	/* this send */
	struct ob_id   id;
	struct ob_pair pair;
	char        seq_dec[24];
	char        flags[5];
	uint8_t     mk_req[KDF_HASH_LEN], mk_res[KDF_HASH_LEN];
	char        aad[SEAL_AAD_MAX];
	size_t      aad_len;
	int         pulled;             /* a byte of the caller's body was read */
	int         body_done;
	enum failure body_failure;
	size_t      wpos, wlen;
	int         writer_used;
	enum ob_outcome outcome;
	int         relay_status;
	int         authenticated;      /* the refusal was sealed or carried a valid tag */
	int         answer_body;        /* the answer has flag b: reader runs */
	int         reader_used;
	int         held;
	uint8_t     held_byte;
	/* large */
	struct seal_writer writer;
	struct seal_reader reader;
	uint8_t     rbuf[OB_WIRE_READ];
	uint8_t     wbuf[SEAL_WIRE_CHUNK_MAX];
	uint8_t     meta_buf[META_PLAINTEXT_MAX + SEAL_TAG_LEN];
	char        meta_json[META_PLAINTEXT_MAX + 1];
	char        eh[OB_EH_MAX];
	char        relay_hdr[RELAY_HEADER_MAX + 1];
	char        answer_strs[UPSTREAM_HEAD_MAX];
};

static struct ob_req R;

/* ---- partner, token ---- */

/* The partner whose prefix is the longest matching path[0..n) on a segment
 * boundary, or NULL. */
static const struct outbound_partner *
choose_partner(const struct config *cfg, const char *path, size_t n)
{
	const struct outbound_partner *best = NULL;
	size_t best_len = 0, i;

	for (i = 0; i < cfg->outbound_count; i++) {
		const struct outbound_partner *p = &cfg->outbound[i];
		size_t pl = strlen(p->prefix);
		int match = strcmp(p->prefix, "/") == 0 ||
		    (pl <= n && memcmp(path, p->prefix, pl) == 0 && (pl == n || path[pl] == '/'));
		if (match && (best == NULL || pl > best_len)) {
			best = p;
			best_len = pl;
		}
	}
	return best;
}

/* The store's group of a partner: "ob:" + 16 hex digits of SHA-256(origin). */
static void
partner_group(char out[OB_GROUP_MAX], const char *origin)
{
	uint8_t h[KDF_HASH_LEN];

	kdf_sha256(h, origin, strlen(origin));
	memcpy(out, "ob:", 3);
	hex_encode(out + 3, h, 8);
	out[3 + 16] = '\0';
}

/* ---- small exchanges with the partner: HEAD /api/mte-relay, pairing ---- */

struct small {
	int         status;
	char        relay[CLIENT_ID_SIGNED_LEN + 1];    /* x-mte-relay of the answer, if a signed id */
	uint8_t     buf[OUTBOUND_ANSWER_MAX];
	size_t      len;
	const char *body;
	size_t      body_len, body_pos;
};

static struct small SM;

static int
small_head(void *arg, int status, const struct http_field *f, size_t n, int64_t clen)
{
	struct small *x = arg;

	(void)clen;
	x->status = status;
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(f[i].name, "x-mte-relay") == 0 &&
		    clientid_syntax_ok(f[i].value, strlen(f[i].value)))
			snprintf(x->relay, sizeof x->relay, "%s", f[i].value);
	return 0;
}

static int
small_body(void *arg, const void *buf, size_t len)
{
	struct small *x = arg;

	if (len > sizeof x->buf - x->len)
		return -1;      /* larger than any answer we asked for */
	memcpy(x->buf + x->len, buf, len);
	x->len += len;
	return 0;
}

static ssize_t
small_read(void *arg, void *buf, size_t cap)
{
	struct small *x = arg;
	size_t n = x->body_len - x->body_pos;

	if (n > cap)
		n = cap;
	memcpy(buf, x->body + x->body_pos, n);
	x->body_pos += n;
	return (ssize_t)n;
}

/* One request of ours to the partner, its answer in SM.  0, or -1 when
 * the transfer failed (*r says how). */
static int
small_exchange(const char *method, const char *target, const struct http_field *f, size_t nf,
    const char *body, size_t body_len, enum upstream_result *r)
{
	struct upstream_request ur;
	struct upstream_sink sink = { small_head, small_body, &SM };
	int head;

	memset(&SM, 0, sizeof SM);
	memset(&ur, 0, sizeof ur);
	SM.body = body;
	SM.body_len = body_len;
	ur.method = method;
	ur.base = R.partner->origin;
	ur.target = target;
	ur.target_len = strlen(target);
	ur.fields = f;
	ur.nfields = nf;
	ur.has_body = body != NULL;
	ur.body_len = (int64_t)body_len;
	ur.body_read = small_read;
	ur.body_arg = &SM;
	ur.timeout_s = R.s->cfg->upstream_timeout;
	*r = upstream_perform(&ur, &sink, &head);
	/* Our sink refuses only an answer over OUTBOUND_ANSWER_MAX: the
	 * partner's fault, a 502 to the caller (not a caller that went away). */
	if (*r == UPSTREAM_SINK_FAILED)
		*r = UPSTREAM_BAD_RESPONSE;
	return *r == UPSTREAM_OK ? 0 : -1;
}

/* ---- the client id (slot 0 of the partner's group) ---- */

static int
id_from_slot(const struct store_slot *sl, struct ob_id *out)
{
	if (sl->len != CLIENT_ID_SIGNED_LEN ||
	    !clientid_syntax_ok((const char *)sl->value, sl->len))
		return -1;
	out->version = sl->version;
	memcpy(out->signed_id, sl->value, CLIENT_ID_SIGNED_LEN);
	out->signed_id[CLIENT_ID_SIGNED_LEN] = '\0';
	memcpy(out->cid, sl->value, CLIENT_ID_HEX_LEN);
	out->cid[CLIENT_ID_HEX_LEN] = '\0';
	return 0;
}

static uint64_t
fresh_version(void)
{
	uint64_t v = 0;

	while (v == 0)
		rand_bytes(&v, sizeof v);
	return v;
}

/*
 * The partner's client id into R.id: the stored one, or (none stored, or
 * renew: the stored one of version R.id.version was refused with 566) a
 * fresh one from HEAD /api/mte-relay, stored by compare-and-set; a worker
 * that loses the race takes the winner's.  F_COUNT or the failure.
 */
static enum failure
get_id(int renew)
{
	struct store_slot sl;
	enum store_status st;
	enum upstream_result r;
	uint64_t expect = renew ? R.id.version : 0, v;

	for (int round = 0; round < 2; round++) {
		st = store_slot_get(R.group, 0, &sl);
		if (st == STORE_UNAVAILABLE)
			return F_STORE_UNAVAILABLE;
		if (st == STORE_OK && (!renew || sl.version != expect) && id_from_slot(&sl, &R.id) == 0)
			return F_COUNT;
		/* replace exactly what is there (nothing: version 0) */
		expect = st == STORE_OK ? sl.version : 0;
		if (round == 1)
			break;
		if (small_exchange("HEAD", "/api/mte-relay", NULL, 0, NULL, 0, &r) != 0)
			return failure_of_upstream(r, 0);
		if (SM.status != 200 || SM.relay[0] == '\0')
			return F_OUTBOUND_PAIRING;
		v = fresh_version();
		st = store_slot_replace(R.group, 0, expect, v, (const uint8_t *)SM.relay,
		    CLIENT_ID_SIGNED_LEN);
		if (st == STORE_OK) {
			memset(&sl, 0, sizeof sl);
			sl.version = v;
			sl.len = CLIENT_ID_SIGNED_LEN;
			memcpy(sl.value, SM.relay, CLIENT_ID_SIGNED_LEN);
			(void)id_from_slot(&sl, &R.id);
			LOG_EVENT(LOG_INFO, "outbound client id taken", LOG_S("partner", R.partner->origin),
			    LOG_S("client_id", R.id.cid));
			return F_COUNT;
		}
		if (st != STORE_EXISTS)
			return F_STORE_UNAVAILABLE;
		renew = 0;              /* another worker stored one: read it */
	}
	return F_OUTBOUND_PAIRING;
}

/* ---- the pairs (slots 1..OUTBOUND_PAIRS) ---- */

static int
pair_from_slot(const struct store_slot *sl, unsigned index, struct ob_pair *p)
{
	const uint8_t *v = sl->value;

	if (sl->len != OB_PAIR_VALUE_LEN)
		return -1;      /* dropped (empty) or foreign */
	p->version = sl->version;
	p->index = index;
	memcpy(p->cid, v, CLIENT_ID_HEX_LEN);
	p->cid[CLIENT_ID_HEX_LEN] = '\0';
	v += CLIENT_ID_HEX_LEN;
	memcpy(p->pid, v, OB_PID_LEN);
	p->pid[OB_PID_LEN] = '\0';
	v += OB_PID_LEN;
	memcpy(p->k_req, v, KDF_HASH_LEN);
	memcpy(p->k_res, v + KDF_HASH_LEN, KDF_HASH_LEN);
	p->has_ans = v[2 * KDF_HASH_LEN] == 1;
	memcpy(p->k_ans, v + 2 * KDF_HASH_LEN + 1, KDF_HASH_LEN);
	return protocol_client_id_ok(p->cid, CLIENT_ID_HEX_LEN) &&
	    protocol_pair_id_ok(p->pid, OB_PID_LEN) ? 0 : -1;
}

static size_t
pair_to_value(const struct ob_pair *p, uint8_t out[OB_PAIR_VALUE_LEN])
{
	uint8_t *v = out;

	memcpy(v, p->cid, CLIENT_ID_HEX_LEN);
	v += CLIENT_ID_HEX_LEN;
	memcpy(v, p->pid, OB_PID_LEN);
	v += OB_PID_LEN;
	memcpy(v, p->k_req, KDF_HASH_LEN);
	memcpy(v + KDF_HASH_LEN, p->k_res, KDF_HASH_LEN);
	v[2 * KDF_HASH_LEN] = (uint8_t)(p->has_ans ? 1 : 0);
	memcpy(v + 2 * KDF_HASH_LEN + 1, p->k_ans, KDF_HASH_LEN);
	return OB_PAIR_VALUE_LEN;
}

/*
 * The pairing answer (in SM) for p: parsed (pair_answer.c), decapsulated
 * with seed, the keys derived into p, and K_answer (extension a) opened
 * from answerKey.  0 or -1.
 */
static int
pair_open(struct ob_pair *p, const uint8_t seed[XWING_SEED_LEN], const char *pers)
{
	static struct pair_answer pa;
	uint8_t ss[XWING_SS_LEN], mk0[KDF_HASH_LEN];
	char aad[96];
	int rc = -1, al;

	if (pair_answer_parse(SM.buf, SM.len, p->pid, &pa) != 0)
		return -1;
	if (xwing_decaps(ss, pa.ciphertext, sizeof pa.ciphertext, seed) != 0 ||
	    kdf_pair_keys(p->k_req, p->k_res, ss, pa.nonce, p->cid, CLIENT_ID_HEX_LEN, p->pid,
	    OB_PID_LEN, pers, OB_PERS_LEN) != 0)
		goto out;
	/* extension a: K_answer sealed under mk_res of seq 0 (PROTOCOL.md 11) */
	p->has_ans = 0;
	if (pa.has_answer_key) {
		kdf_message_key(mk0, p->k_res, KDF_RES, 0);
		al = snprintf(aad, sizeof aad, "mte-relay/1 answer-key %s %s", p->cid, p->pid);
		if (seal_meta_open(pa.answer_key, sizeof pa.answer_key, mk0, aad, (size_t)al,
		    pa.answer_key, sizeof pa.answer_key) == KDF_HASH_LEN) {
			memcpy(p->k_ans, pa.answer_key, KDF_HASH_LEN);
			p->has_ans = 1;
		}
		crypto_wipe(mk0, sizeof mk0);
	}
	/* an answerKey that does not open is a tampered answer */
	rc = p->has_ans || !pa.has_answer_key ? 0 : -1;
out:
	crypto_wipe(ss, sizeof ss);
	crypto_wipe(&pa, sizeof pa);
	return rc;
}

/* Pairs one fresh pair for R.id with the partner into *p.  F_COUNT, or
 * F_CLIENT_ID_INVALID when the partner refused the id (566), or the failure. */
static enum failure
pair_new(struct ob_pair *p)
{
	static char body[OB_PAIR_BODY_MAX];
	uint8_t seed[XWING_SEED_LEN], pk[XWING_PK_LEN], rnd[OB_PID_LEN * 3 / 4];
	char pk64[((XWING_PK_LEN + 2) / 3) * 4 + 1], pers[OB_PERS_LEN + 1];
	struct http_field f[2] = { { "x-mte-relay", R.id.signed_id },
	    { "content-type", "application/json" } };
	enum upstream_result r;
	enum failure fl = F_OUTBOUND_PAIRING;
	int n;

	unsigned index = p->index;

	memset(p, 0, sizeof *p);
	p->index = index;
	memcpy(p->cid, R.id.cid, sizeof p->cid);
	rand_bytes(rnd, sizeof rnd);
	b64url_encode(p->pid, sizeof p->pid, rnd, sizeof rnd);
	rand_bytes(rnd, OB_PERS_LEN / 2);
	hex_encode(pers, rnd, OB_PERS_LEN / 2);
	pers[OB_PERS_LEN] = '\0';
	rand_bytes(seed, sizeof seed);
	xwing_keygen(pk, seed);
	b64url_encode(pk64, sizeof pk64, pk, sizeof pk);
	n = snprintf(body, sizeof body, "[{\"pairId\":\"%s\",\"publicKey\":\"%s\","
	    "\"personalization\":\"%s\",\"answers\":true}]", p->pid, pk64, pers);
	if (n > 0 && (size_t)n < sizeof body) {
		if (small_exchange("POST", "/api/mte-pair", f, 2, body, (size_t)n, &r) != 0)
			fl = failure_of_upstream(r, 0);
		else if (SM.status == RS_INVALID_CLIENT_ID)
			fl = F_CLIENT_ID_INVALID;
		else if (SM.status == 200 && pair_open(p, seed, pers) == 0)
			fl = F_COUNT;
	}
	crypto_wipe(seed, sizeof seed);
	if (fl == F_COUNT)
		LOG_EVENT(LOG_INFO, "outbound pair made", LOG_S("partner", R.partner->origin),
		    LOG_S("client_id", p->cid), LOG_S("pair_id", p->pid), LOG_I("slot", p->index));
	return fl;
}

/*
 * The pair of slot index into R.pair: the stored one when it belongs to
 * the current client id (and renew is 0: not the one of version
 * R.pair.version that the partner refused), else a fresh one stored by
 * compare-and-set (the loser of a race takes the winner's).
 */
static enum failure
get_pair(unsigned index, int renew)
{
	struct store_slot sl;
	struct ob_pair fresh;
	uint8_t val[OB_PAIR_VALUE_LEN];
	enum store_status st;
	enum failure f;
	uint64_t expect = 0, refused = renew ? R.pair.version : 0, v;

	for (int round = 0; round < 3; round++) {
		st = store_slot_get(R.group, index, &sl);
		if (st == STORE_UNAVAILABLE)
			return F_STORE_UNAVAILABLE;
		expect = st == STORE_OK ? sl.version : 0;
		if (st == STORE_OK && sl.version != refused && pair_from_slot(&sl, index, &R.pair) == 0 &&
		    strcmp(R.pair.cid, R.id.cid) == 0) {
			crypto_wipe(&sl, sizeof sl);
			return F_COUNT;
		}
		crypto_wipe(&sl, sizeof sl);
		if (round == 2)
			break;
		fresh.index = index;
		f = pair_new(&fresh);
		if (f == F_CLIENT_ID_INVALID) {
			/* the id itself is refused: a new one, then pair again */
			crypto_wipe(&fresh, sizeof fresh);
			if ((f = get_id(1)) != F_COUNT)
				return f;
			continue;
		}
		if (f != F_COUNT) {
			crypto_wipe(&fresh, sizeof fresh);
			return f;
		}
		fresh.index = index;
		v = fresh_version();
		pair_to_value(&fresh, val);
		st = store_slot_replace(R.group, index, expect, v, val, sizeof val);
		crypto_wipe(val, sizeof val);
		if (st == STORE_OK) {
			fresh.version = v;
			R.pair = fresh;
			crypto_wipe(&fresh, sizeof fresh);
			return F_COUNT;
		}
		crypto_wipe(&fresh, sizeof fresh);
		if (st != STORE_EXISTS)
			return F_STORE_UNAVAILABLE;
		refused = 0;            /* another worker paired this slot: take its pair */
	}
	return F_OUTBOUND_PAIRING;
}

/* Drops the pair of R.pair (extension a: an unauthenticated refusal of a
 * non-idempotent request): its slot is emptied, the next request pairs. */
static void
drop_pair(void)
{
	(void)store_slot_replace(R.group, R.pair.index, R.pair.version, fresh_version(), NULL, 0);
}

/* ---- the request ---- */

/* The request meta {"url": target, "headers": {...}} into R.meta_json:
 * the caller's end-to-end fields (forward.c's policy), the bearer that
 * proved it to us left out.  F_COUNT, or the failure. */
static enum failure
build_meta(void)
{
	struct forward_fields *fw = &R.s->forward;
	const struct config *cfg = R.s->cfg;
	cJSON *root = cJSON_CreateObject(), *hdrs;
	char name[HTTP_REQUEST_LINE_MAX];
	char url[HTTP_REQUEST_LINE_MAX + 1];
	enum failure f = F_COUNT;
	size_t i;

	hdrs = cJSON_AddObjectToObject(root, "headers");
	if (R.req->target.len >= sizeof url || forward_begin(fw, cfg, R.req) != 0)
		f = F_FIELDS_TOO_LARGE;
	memcpy(url, R.req->target.ptr, R.req->target.len < sizeof url ? R.req->target.len : 0);
	url[R.req->target.len < sizeof url ? R.req->target.len : 0] = '\0';
	if (f == F_COUNT && (root == NULL || hdrs == NULL || !cJSON_AddStringToObject(root, "url", url)))
		f = F_FIELDS_TOO_LARGE;
	for (i = 0; f == F_COUNT && i < fw->n; i++) {
		size_t nl = strlen(fw->f[i].name), k;
		cJSON *old;

		if (nl >= sizeof name)
			continue;
		for (k = 0; k < nl; k++) {
			char ch = fw->f[i].name[k];
			name[k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
		}
		name[nl] = '\0';
		if (cfg->outbound_token != NULL && strcmp(name, "authorization") == 0)
			continue;       /* the caller's credential for us, not for the partner */
		old = cJSON_GetObjectItemCaseSensitive(hdrs, name);
		if (old != NULL) {
			size_t ol = strlen(old->valuestring), vl = strlen(fw->f[i].value);
			char *j = ol + vl + 3 <= sizeof R.meta_json ? R.meta_json : NULL;
			if (j == NULL) {
				f = F_FIELDS_TOO_LARGE;
				break;
			}
			memcpy(j, old->valuestring, ol);
			memcpy(j + ol, ", ", 2);
			memcpy(j + ol + 2, fw->f[i].value, vl + 1);
			/* cJSON may free the old value: a caller's header, wiped first */
			crypto_wipe(old->valuestring, ol);
			if (cJSON_SetValuestring(old, j) == NULL)
				f = F_FIELDS_TOO_LARGE;
			crypto_wipe(j, ol + vl + 3);
		} else if (cJSON_AddStringToObject(hdrs, name, fw->f[i].value) == NULL) {
			f = F_FIELDS_TOO_LARGE;
		}
	}
	if (f == F_COUNT && !cJSON_PrintPreallocated(root, R.meta_json, sizeof R.meta_json, 0))
		f = F_FIELDS_TOO_LARGE;
	R.meta_len = f == F_COUNT ? strlen(R.meta_json) : 0;
	if (R.meta_len > META_PLAINTEXT_MAX)
		f = F_FIELDS_TOO_LARGE;
	json_wipe(root);
	cJSON_Delete(root);
	return f;
}

/* Keys, AAD, flags and the sealed head of this send into R.  F_COUNT, or
 * the failure. */
static enum failure
seal_head(uint64_t seq)
{
	int n, sl;
	size_t fl = 0;

	snprintf(R.seq_dec, sizeof R.seq_dec, "%llu", (unsigned long long)seq);
	R.flags[fl++] = 'u';
	if (R.has_body)
		R.flags[fl++] = 'b';
	if (R.pair.has_ans)
		R.flags[fl++] = 'a';
	R.flags[fl] = '\0';
	kdf_message_key(R.mk_req, R.pair.k_req, KDF_REQ, seq);
	kdf_message_key(R.mk_res, R.pair.k_res, KDF_RES, seq);
	n = protocol_aad_request(R.aad, sizeof R.aad, R.pair.cid, R.pair.pid, R.seq_dec, R.flags,
	    R.method, "", 0);
	if (n < 0)
		return F_TARGET_TOO_LONG;
	R.aad_len = (size_t)n;
	sl = seal_meta_seal(R.meta_buf, sizeof R.meta_buf, R.mk_req, R.aad, R.aad_len,
	    (const uint8_t *)R.meta_json, R.meta_len);
	if (sl < 0 || b64url_encode(R.eh, sizeof R.eh, R.meta_buf, (size_t)sl) == 0)
		return F_FIELDS_TOO_LARGE;
	if (protocol_format_relay_header(R.relay_hdr, sizeof R.relay_hdr, R.id.signed_id,
	    R.pair.pid, R.seq_dec, R.flags) < 0)
		return F_FIELDS_TOO_LARGE;
	if (R.has_body) {
		if (seal_writer_init(&R.writer, R.mk_req, R.aad, R.aad_len) != SEAL_OK)
			return F_TARGET_TOO_LONG;
		R.writer_used = 1;
	}
	return F_COUNT;
}

static int
sink_wbuf(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	/* wbuf was empty before the feed, and one feed completes at most one
	 * chunk (OB_WIRE_READ < a chunk), so this always fits. */
	if (len > sizeof R.wbuf - R.wlen)
		return -1;
	memcpy(R.wbuf + R.wlen, data, len);
	R.wlen += len;
	return 0;
}

/* The request body for curl: the caller's body sealed as it is read.
 * Called only after the partner's 100 Continue. */
static ssize_t
body_read(void *arg, void *buf, size_t cap)
{
	size_t n;

	(void)arg;
	while (R.wpos == R.wlen) {
		ssize_t got;

		if (R.body_done)
			return 0;
		R.wpos = R.wlen = 0;
		R.pulled = 1;
		got = conn_body_read(R.c, R.rbuf, sizeof R.rbuf);
		if (got < 0) {
			R.body_failure = failure_of_body_error(conn_body_error(R.c));
			return -1;
		}
		if (got > 0) {
			if (seal_writer_feed(&R.writer, R.rbuf, (size_t)got, sink_wbuf, NULL) != SEAL_OK)
				return -1;
		} else {
			if (seal_writer_finish(&R.writer, sink_wbuf, NULL) != SEAL_OK)
				return -1;
			R.body_done = 1;
		}
		crypto_wipe(R.rbuf, (size_t)got > 0 ? (size_t)got : 0);
	}
	n = R.wlen - R.wpos;
	if (n > cap)
		n = cap;
	memcpy(buf, R.wbuf + R.wpos, n);
	R.wpos += n;
	return (ssize_t)n;
}

/* ---- the answer ---- */

static const char *
field_of(const struct http_field *f, size_t n, const char *name, int *count)
{
	const char *v = NULL;

	*count = 0;
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(f[i].name, name) == 0) {
			v = f[i].value;
			(*count)++;
		}
	return v;
}

/* The answer's response meta, opened and parsed: NULL unless it
 * authenticates as the answer to this send with this status. */
static cJSON *
open_answer_meta(int status, const char *relay, const char *eh, struct relay_header *h)
{
	char fl[8];
	ssize_t w;
	int n, opened;

	if (protocol_parse_relay_header(relay, strlen(relay), h) != 0 ||
	    memcmp(h->signed_id, R.pair.cid, CLIENT_ID_HEX_LEN) != 0 ||
	    h->pair_id_len != OB_PID_LEN || memcmp(h->pair_id, R.pair.pid, OB_PID_LEN) != 0 ||
	    strlen(R.seq_dec) != h->seq_len || memcmp(h->seq_text, R.seq_dec, h->seq_len) != 0 ||
	    h->flag_u || h->flag_a || h->flag_s)
		return NULL;
	snprintf(fl, sizeof fl, "%.*s", (int)h->flags_len, h->flags);
	n = protocol_aad_response(R.aad, sizeof R.aad, R.pair.cid, R.pair.pid, R.seq_dec, fl, status);
	if (n < 0 || strlen(eh) > OB_EH_MAX)
		return NULL;
	R.aad_len = (size_t)n;
	w = b64url_decode(R.meta_buf, sizeof R.meta_buf, eh, strlen(eh));
	if (w < SEAL_TAG_LEN)
		return NULL;
	opened = seal_meta_open(R.meta_buf, sizeof R.meta_buf, R.mk_res, R.aad, R.aad_len,
	    R.meta_buf, (size_t)w);
	if (opened < 0)
		return NULL;
	{
		cJSON *meta = json_has_nul_escape((const char *)R.meta_buf, (size_t)opened) ? NULL :
		    cJSON_ParseWithLength((const char *)R.meta_buf, (size_t)opened);
		crypto_wipe(R.meta_buf, (size_t)opened);
		if (!cJSON_IsObject(meta) ||
		    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(meta, "headers"))) {
			cJSON_Delete(meta);
			return NULL;
		}
		return meta;
	}
}

/* Starts the caller's response from an authenticated answer: status, the
 * sealed headers, the clear caching and cookie fields.  0 or -1. */
static int
answer_caller(int status, const struct http_field *f, size_t n, const cJSON *meta,
    const struct relay_header *h, int64_t clen)
{
	struct http_field out[UPSTREAM_FIELDS_MAX + HTTP_HEADER_COUNT_MAX];
	const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(meta, "headers"), *e;
	size_t no = 0;
	int64_t framing = 0;
	uint64_t plain = 0;

	cJSON_ArrayForEach(e, hdrs) {
		if (no == sizeof out / sizeof out[0] || !cJSON_IsString(e) ||
		    !http_is_token(e->string, strlen(e->string)) ||
		    !http_is_field_value(e->valuestring, strlen(e->valuestring)))
			return -1;
		if (forward_is_hop_by_hop(e->string, strlen(e->string)) ||
		    forward_is_protocol_field(e->string, strlen(e->string)))
			continue;
		out[no++] = (struct http_field){ e->string, e->valuestring };
	}
	for (size_t i = 0; i < n && no < sizeof out / sizeof out[0]; i++)
		if (forward_response_kind(f[i].name, strlen(f[i].name)) == FORWARD_CLEAR)
			out[no++] = f[i];
	R.answer_body = h->flag_b;
	if (h->flag_b) {
		framing = HTTP_LENGTH_CHUNKED;
		if (clen >= 0) {
			if (seal_plain_len((uint64_t)clen, &plain) != 0)
				return -1;
			framing = (int64_t)plain;
		}
		if (seal_reader_init(&R.reader, R.mk_res, R.aad, R.aad_len) != SEAL_OK)
			return -1;
		R.reader_used = 1;
	}
	return conn_respond_head(R.c, status, out, no, framing);
}

static int
on_head(void *arg, int status, const struct http_field *f, size_t n, int64_t clen)
{
	int nr, ne, na;
	const char *relay = field_of(f, n, "x-mte-relay", &nr);
	const char *eh = field_of(f, n, "x-mte-relay-eh", &ne);
	const char *auth = field_of(f, n, "x-mte-relay-auth", &na);
	struct relay_header h;
	cJSON *meta;
	int rc = -1;

	(void)arg;
	R.relay_status = status;
	if (nr == 0 && ne == 0) {
		/* in the clear: a refusal before the meta opened, or B's own error */
		if (status < 559 || status > 570) {
			R.outcome = OC_OTHER;
			return -1;
		}
		R.outcome = OC_REFUSED;
		R.authenticated = R.pair.has_ans && na == 1 &&
		    answer_tag_ok(R.pair.k_ans, auth, strlen(auth), R.pair.cid, R.pair.pid,
		    R.seq_dec, R.method, status);
		return -1;
	}
	R.outcome = OC_AUTH;
	if (nr != 1 || ne != 1 || (meta = open_answer_meta(status, relay, eh, &h)) == NULL)
		return -1;
	if (status >= 559 && status <= 570 && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(meta,
	    "from")) && strcmp(cJSON_GetObjectItemCaseSensitive(meta, "from")->valuestring,
	    "relay") == 0) {
		/* the relay's own sealed refusal (extension a): authenticated */
		R.outcome = OC_REFUSED;
		R.authenticated = 1;
	} else if (answer_caller(status, f, n, meta, &h, clen) == 0) {
		R.outcome = OC_ANSWERED;
		rc = 0;
	}
	json_wipe(meta);
	cJSON_Delete(meta);
	return rc;
}

/* The answer's plaintext to the caller, its last byte held back until the
 * body authenticated whole (a cut answer never reaches the caller as a
 * complete one, even when the cut falls on a chunk boundary). */
static int
sink_caller(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	if (len == 0)
		return 0;
	if (R.held && conn_respond_body(R.c, &R.held_byte, 1) != 0)
		return -1;
	if (len > 1 && conn_respond_body(R.c, data, len - 1) != 0)
		return -1;
	R.held_byte = data[len - 1];
	R.held = 1;
	return 0;
}

static int
on_body(void *arg, const void *buf, size_t len)
{
	int rc;

	(void)arg;
	if (R.outcome != OC_ANSWERED)
		return -1;
	if (!R.answer_body)
		return len == 0 ? 0 : -1;
	rc = seal_reader_feed(&R.reader, buf, len, sink_caller, NULL);
	if (rc == SEAL_E_AUTH)
		R.outcome = OC_BODY_AUTH;
	return rc == SEAL_OK ? 0 : -1;
}

/* ---- one send, and the retry rule ---- */

static void
send_wipe(void)
{
	if (R.writer_used)
		seal_writer_wipe(&R.writer);
	if (R.reader_used)
		seal_reader_wipe(&R.reader);
	R.writer_used = R.reader_used = 0;
	crypto_wipe(R.mk_req, sizeof R.mk_req);
	crypto_wipe(R.mk_res, sizeof R.mk_res);
	crypto_wipe(R.wbuf, sizeof R.wbuf);
}

/* Sends the request once with the current id and pair (a fresh seq).
 * Returns F_COUNT when the caller was answered (or the answer cut), else
 * the failure; R.outcome says what the partner did. */
static enum failure
send_once(enum upstream_result *res)
{
	struct http_field f[3];
	struct upstream_request ur;
	struct upstream_sink sink = { on_head, on_body, NULL };
	enum store_status st;
	enum failure fl;
	uint64_t seq = 0;
	int head;

	R.outcome = OC_NONE;
	R.authenticated = 0;
	R.answer_body = R.held = 0;
	R.wpos = R.wlen = 0;
	R.body_done = 0;
	st = store_slot_next(R.group, R.pair.index, R.pair.version, &seq);
	if (st == STORE_UNAVAILABLE)
		return F_STORE_UNAVAILABLE;
	if (st != STORE_OK)
		return F_PAIR_NOT_FOUND;        /* replaced meanwhile: the caller reads it again */
	if ((fl = seal_head(seq)) != F_COUNT)
		return fl;
	f[0] = (struct http_field){ "x-mte-relay", R.relay_hdr };
	f[1] = (struct http_field){ "x-mte-relay-eh", R.eh };
	f[2] = (struct http_field){ "content-type", "application/octet-stream" };
	memset(&ur, 0, sizeof ur);
	ur.method = R.method;
	ur.base = R.partner->origin;
	ur.target = "/";
	ur.target_len = 1;
	ur.fields = f;
	ur.nfields = R.has_body ? 3 : 2;
	ur.has_body = R.has_body;
	ur.body_len = R.wire_len;
	ur.body_read = body_read;
	ur.body_arg = NULL;
	ur.timeout_s = R.s->cfg->upstream_timeout;
	ur.expect_continue = 1;
	*res = upstream_perform(&ur, &sink, &head);
	if (R.outcome == OC_ANSWERED && *res == UPSTREAM_OK) {
		if (R.answer_body && seal_reader_finish(&R.reader, sink_caller, NULL) != SEAL_OK)
			return F_OUTBOUND_ANSWER_AUTH;      /* cut: the final chunk never came */
		if (R.held && conn_respond_body(R.c, &R.held_byte, 1) != 0)
			return F_CLIENT_GONE;
		R.held = 0;
		return conn_respond_end(R.c) == 0 ? F_COUNT : F_CLIENT_GONE;
	}
	if (R.outcome == OC_ANSWERED || R.outcome == OC_BODY_AUTH)
		return *res == UPSTREAM_SINK_FAILED || R.outcome == OC_BODY_AUTH ?
		    F_OUTBOUND_ANSWER_AUTH : failure_of_upstream(*res, 0);
	if (*res == UPSTREAM_BODY_FAILED)
		return R.body_failure != F_COUNT ? R.body_failure : F_BODY_MALFORMED;
	if (R.outcome == OC_AUTH)
		return F_OUTBOUND_ANSWER_AUTH;
	if (R.outcome == OC_OTHER)
		return F_OUTBOUND_REFUSED;
	if (R.outcome == OC_REFUSED)
		return F_OUTBOUND_REFUSED;
	return failure_of_upstream(*res, 0);
}

/* What to do after a refusal of R.relay_status (client/src/fetch.js, and
 * PROTOCOL.md section 11 for non-idempotent methods). */
enum ob_action { ACT_NONE, ACT_REPAIR, ACT_NEW_ID, ACT_FRESH_SEQ, ACT_NOT_RESENT };

static enum ob_action
retry_action(void)
{
	int st = R.relay_status;
	enum ob_action a = st == RS_INVALID_CLIENT_ID ? ACT_NEW_ID : st == RS_REPLAYED ?
	    ACT_FRESH_SEQ : st == RS_BAD_RELAY_HEADER ? ACT_NONE : ACT_REPAIR;

	if (R.idempotent)
		return a;
	/* only a genuine 560 or 566 proves the request did not run */
	if (R.authenticated && (st == RS_STATE_NOT_FOUND || st == RS_INVALID_CLIENT_ID))
		return a;
	return ACT_NOT_RESENT;
}

static void
respond_refused(enum failure f)
{
	char members[48];
	struct server_fail_ctx ctx = { .client_id = R.pair.cid, .pair_id = R.pair.pid };

	snprintf(members, sizeof members, "\"relayStatus\":%d", R.relay_status);
	ctx.members = members;
	server_fail(R.s, R.c, f, &ctx);
}

static void
serve(void)
{
	const struct config *cfg = R.s->cfg;
	enum upstream_result res = UPSTREAM_OK;
	enum failure f;
	unsigned index;
	int attempt, renew_pair = 0, stale_rounds = 0;
	uint64_t clen = 0, w = 0;

	if (R.req->method.len > METHOD_MAX) {
		server_fail(R.s, R.c, F_METHOD_TOO_LONG_TO_FORWARD, NULL);
		return;
	}
	memcpy(R.method, R.req->method.ptr, R.req->method.len);
	R.method[R.req->method.len] = '\0';
	R.idempotent = http_method_idempotent(R.method);
	R.has_body = R.req->chunked || R.req->has_content_length;
	R.wire_len = -1;
	if (R.has_body && conn_body_known_length(R.c, &clen)) {
		if (seal_wire_len(clen, &w) != 0 || w > INT64_MAX) {
			server_fail(R.s, R.c, F_BODY_TOO_LARGE, NULL);
			return;
		}
		R.wire_len = (int64_t)w;
	}
	if ((f = build_meta()) != F_COUNT) {
		server_fail(R.s, R.c, f, NULL);
		return;
	}
	partner_group(R.group, R.partner->origin);
	rand_bytes(&index, sizeof index);
	index = 1 + index % cfg->outbound_pairs;
	if ((f = get_id(0)) != F_COUNT) {
		server_fail(R.s, R.c, f, NULL);
		return;
	}
	for (attempt = 1; attempt <= OUTBOUND_ATTEMPTS_MAX; attempt++) {
		enum ob_action act;

		if ((f = get_pair(index, renew_pair)) != F_COUNT)
			break;
		renew_pair = 0;
		f = send_once(&res);
		if (f == F_PAIR_NOT_FOUND && R.outcome == OC_NONE) {
			/* the slot changed between its read and the seq: nothing was
			 * sent, read it again (a bounded number of times) */
			send_wipe();
			if (++stale_rounds > OUTBOUND_ATTEMPTS_MAX) {
				f = F_OUTBOUND_PAIRING;
				break;
			}
			attempt--;
			continue;
		}
		send_wipe();
		if (f == F_COUNT || R.outcome != OC_REFUSED)
			break;
		act = retry_action();
		if (act == ACT_NOT_RESENT && !R.authenticated)
			drop_pair();        /* PROTOCOL.md 11: the pair is dropped */
		if (act == ACT_NOT_RESENT) {
			f = F_OUTBOUND_NOT_RESENT;
			break;
		}
		/* the body, once read, cannot be sent again */
		if (act == ACT_NONE || attempt == OUTBOUND_ATTEMPTS_MAX || (R.has_body && R.pulled)) {
			/* no retry, but a pair the partner refused is of no use to
			 * the next request either */
			if (act == ACT_REPAIR)
				drop_pair();
			break;
		}
		if (act == ACT_NEW_ID && (f = get_id(1)) != F_COUNT)
			break;
		renew_pair = act == ACT_REPAIR;
		LOG_EVENT(LOG_INFO, "outbound retry", LOG_S("request_id", conn_info(R.c)->id),
		    LOG_S("partner", R.partner->origin), LOG_I("relay_status", R.relay_status),
		    LOG_S("action", act == ACT_NEW_ID ? "new client id" : act == ACT_REPAIR ?
		    "pair again" : "fresh seq"));
	}
	send_wipe();
	if (f == F_COUNT)
		return;
	if (f == F_OUTBOUND_REFUSED || f == F_OUTBOUND_NOT_RESENT)
		respond_refused(f);
	else
		server_fail(R.s, R.c, f, NULL);
}

void
outbound_serve(struct conn *c, const struct http_request *req, void *arg)
{
	struct server *s = arg;
	const struct config *cfg = s->cfg;
	const struct http_header *az;

	s->route = RC_OUTBOUND;
	s->reason = NULL;
	memset(&R, 0, offsetof(struct ob_req, writer));
	R.s = s;
	R.c = c;
	R.req = req;
	R.body_failure = F_COUNT;
	/* the listener's own health check (the sidecar's HEALTHCHECK): never forwarded */
	if (http_slice_eq_ci(req->path, "/api/mte-echo") && req->query.ptr == NULL &&
	    server_is_get_or_head(req)) {
		builtin_echo(s, c, req, NULL, 0);
		return;
	}
	az = http_header_get(req, "authorization");
	if (cfg->outbound_token != NULL && (az == NULL || http_header_next(req, "authorization", az)
	    != NULL || !metrics_token_ok(cfg->outbound_token, az->value.ptr, az->value.len))) {
		server_fail(s, c, F_OUTBOUND_TOKEN, NULL);
		return;
	}
	R.partner = req->absolute_form || req->path.ptr == NULL ? NULL :
	    choose_partner(cfg, req->path.ptr, req->path.len);
	if (R.partner == NULL) {
		server_fail(s, c, F_OUTBOUND_NO_PARTNER, NULL);
		return;
	}
	serve();
	crypto_wipe(R.meta_json, R.meta_len);
	crypto_wipe(&R.pair, sizeof R.pair);
}
