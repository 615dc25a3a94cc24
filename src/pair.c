/* pair.c - POST /api/mte-pair: X-Wing encapsulation, key schedule, store
 * (protocol.md, Pairing).  The steps: the client id, the body, every entry
 * checked before any state changes, then each entry encapsulated and
 * stored, then the answer. */
#include "server.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "answer.h"
#include "clientid.h"
#include "crypto/b64.h"
#include "crypto/kdf.h"
#include "crypto/rand.h"
#include "crypto/seal.h"
#include "crypto/wipe.h"
#include "crypto/xwing.h"
#include "hex.h"
#include "log.h"
#include "metrics.h"
#include "pair_body.h"
#include "ratelimit.h"
#include "relaykey.h"
#include "store/store.h"

#define PAIR_NONCE_LEN       32
#define PAIR_CT_B64_LEN      1494   /* b64url of XWING_CT_LEN bytes, no padding */
#define PAIR_NONCE_B64_LEN   43     /* b64url of PAIR_NONCE_LEN bytes, no padding */
#define PAIR_ANSWER_KEY_WIRE (ANSWER_KEY_LEN + SEAL_TAG_LEN)
#define PAIR_ANSWER_B64_LEN  64     /* b64url of PAIR_ANSWER_KEY_WIRE bytes */
/* One response entry: pairId + b64u(ct) + b64u(nonce) + b64u(answerKey) + JSON punctuation. */
#define PAIR_RESPONSE_ENTRY  (PAIR_ID_MAX + PAIR_CT_B64_LEN + PAIR_NONCE_B64_LEN + \
                              PAIR_ANSWER_B64_LEN + 64 + 128)
#define PAIR_RESPONSE_MAX    (PAIR_ENTRIES_MAX * PAIR_RESPONSE_ENTRY + 16)

/* One pairing request, passed to every step. */
struct pairing {
	struct server *s;
	struct conn   *c;
	char           cid[CLIENT_ID_HEX_LEN + 1];
	char           signed_id[CLIENT_ID_SIGNED_LEN + 1];  /* echoed, current secret */
	struct pair_body entries;           /* the parsed, checked body */
	char           body[PAIR_BODY_MAX];
	char           out[PAIR_RESPONSE_MAX];
	size_t         olen;
};

/* Reads the whole (bounded) body.  Returns its length, or -1 after the
 * failure was answered. */
static long
read_body(struct pairing *p)
{
	size_t len = 0, cap = sizeof p->body;
	uint64_t declared;

	if (conn_body_known_length(p->c, &declared) && declared > cap) {
		server_fail(p->s, p->c, F_PAIR_BODY_TOO_LARGE, NULL);
		return -1;
	}
	for (;;) {
		char extra;
		/* At cap, one byte more tells a body of exactly cap from a larger one. */
		ssize_t got = len == cap ? conn_body_read(p->c, &extra, 1) :
		    conn_body_read(p->c, p->body + len, cap - len);
		if (got == 0)
			return (long)len;
		if (got > 0 && len == cap) {
			server_fail(p->s, p->c, F_PAIR_BODY_TOO_LARGE, NULL);
			return -1;
		}
		if (got < 0) {
			server_fail(p->s, p->c, failure_of_body_error(conn_body_error(p->c)), NULL);
			return -1;
		}
		len += (size_t)got;
	}
}

/* The signed client id of the x-mte-relay field.  0, or -1 when answered. */
static int
check_client_id(struct pairing *p, const struct http_request *req)
{
	const struct config *cfg = p->s->cfg;
	const struct http_header *h = http_header_get(req, "x-mte-relay");

	if (h == NULL || h->value.len == 0) {
		server_fail(p->s, p->c, F_PAIR_RELAY_MISSING, NULL);
		return -1;
	}
	/* the echo: signed with the current secret (the request's may have been
	 * signed with the previous one) */
	if (clientid_check_echo(h->value.ptr, h->value.len, cfg->client_id_secret,
	    cfg->client_id_secret_previous, p->cid, p->signed_id) != 0) {
		server_fail(p->s, p->c, F_CLIENT_ID_REFUSED, NULL);
		return -1;
	}
	return 0;
}

/*
 * The pairing budgets (PROTOCOL.md, "Pairing limits"), before any lookup or
 * encapsulation: a refused request costs one store command per budget.
 * 0 to go on, or -1 after the 429 (or 503) was answered.
 */
static int
check_budgets(struct pairing *p)
{
	static const enum failure refused[PAIR_BUDGETS] = {
		[PAIR_BUDGET_INSTANCE] = F_PAIR_RATE_INSTANCE,
		[PAIR_BUDGET_ADDRESS] = F_PAIR_RATE_ADDRESS,
		[PAIR_BUDGET_CLIENT] = F_PAIR_RATE_CLIENT,
	};
	enum pair_budget budget = PAIR_BUDGET_INSTANCE;
	unsigned retry = 1;
	char addr_key[CLIENT_ADDR_KEY_MAX], seconds[16], members[CONN_ERROR_MEMBERS_MAX];
	struct http_field retry_after[1] = { { "Retry-After", seconds } };
	struct server_fail_ctx ctx = { .extra = retry_after, .n_extra = 1, .members = members };

	client_addr_key(p->s->client_addr, addr_key);
	switch (ratelimit_pairing(&p->s->cfg->pair_rate, addr_key, p->cid,
	    (unsigned)p->entries.count, &budget, &retry)) {
	case RATELIMIT_OK:
		return 0;
	case RATELIMIT_UNAVAILABLE:
		server_fail(p->s, p->c, F_STORE_UNAVAILABLE, NULL);
		return -1;
	case RATELIMIT_REFUSED:
		break;
	}
	snprintf(seconds, sizeof seconds, "%u", retry);
	snprintf(members, sizeof members, "\"limit\":\"%s\",\"retryAfter\":%u", ratelimit_budget_name(budget), retry);
	server_fail(p->s, p->c, refused[budget], &ctx);
	return -1;
}

/* A live pair is never put again (store_pair_put), and a pinned key must
 * be one of ours; saying so before anything is stored keeps the request
 * all-or-nothing.  F_COUNT or the failure. */
static enum failure
check_live(struct pairing *p)
{
	struct store_pair live;
	size_t i;

	for (i = 0; i < p->entries.count; i++) {
		const char *kid = p->entries.relay_key_id[i];
		if (kid[0] != '\0' && relay_key_find(kid, strlen(kid)) == NULL)
			return F_PAIR_RELAY_KEY_UNKNOWN;
	}
	for (i = 0; i < p->entries.count; i++) {
		enum store_status ls = store_pair_get(p->cid, p->entries.pair_id[i], &live);
		crypto_wipe(&live, sizeof live);
		if (ls == STORE_OK)
			return F_PAIR_ID_IN_USE;
	}
	return F_COUNT;
}

/*
 * The entry's "answerKey" member (PROTOCOL.md section 11): K_answer of the
 * client, sealed as one meta chunk under mk_res of seq 0 of the new pair,
 * written as ,"answerKey":"..." into out.  0, or -1.
 */
static int
answer_key_member(const struct pairing *p, const struct store_pair *pair, char *out,
    size_t cap)
{
	uint8_t key[ANSWER_KEY_LEN], mk[32], wire[PAIR_ANSWER_KEY_WIRE];
	char aad[64 + CLIENT_ID_HEX_LEN + PAIR_ID_MAX], b64[PAIR_ANSWER_B64_LEN + 4];
	int n, sealed;

	n = snprintf(aad, sizeof aad, "mte-relay/1 answer-key %s %s", p->cid, pair->pair_id);
	answer_key(key, p->s->cfg->client_id_secret, p->cid);
	kdf_message_key(mk, pair->k_res, KDF_RES, 0);
	sealed = seal_meta_seal(wire, sizeof wire, mk, aad, (size_t)n, key, sizeof key);
	crypto_wipe(key, sizeof key);
	crypto_wipe(mk, sizeof mk);
	if (sealed != (int)sizeof wire)
		return -1;
	b64url_encode(b64, sizeof b64, wire, sizeof wire);
	n = snprintf(out, cap, ",\"answerKey\":\"%s\"", b64);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/*
 * A pinned entry (PROTOCOL.md section 12): ss becomes
 * HMAC(ss_s, "mte-relay/1 pinned " || ss), ss_s decapsulated from the
 * entry's relayCiphertext with the relay key it names.
 */
static void
pin_secret(const struct pairing *p, size_t i, uint8_t ss[XWING_SS_LEN])
{
	static const char label[] = "mte-relay/1 pinned ";
	const char *kid = p->entries.relay_key_id[i];
	const struct relay_key *key = relay_key_find(kid, strlen(kid));
	uint8_t ss_s[XWING_SS_LEN], msg[sizeof label - 1 + XWING_SS_LEN];

	/* check_live found the key; decaps fails only for a wrong length */
	(void)xwing_decaps(ss_s, p->entries.relay_ct[i], XWING_CT_LEN, key->seed);
	memcpy(msg, label, sizeof label - 1);
	memcpy(msg + sizeof label - 1, ss, XWING_SS_LEN);
	kdf_hmac(ss, ss_s, sizeof ss_s, msg, sizeof msg);
	crypto_wipe(msg, sizeof msg);
	crypto_wipe(ss_s, sizeof ss_s);
}

/* The entry's "confirm" member: hex(HMAC(k_res, "mte-relay/1 confirm "
 * clientId " " pairId)), written as ,"confirm":"..." into out. */
static void
confirm_member(const struct pairing *p, const struct store_pair *pair, char *out, size_t cap)
{
	char msg[32 + CLIENT_ID_HEX_LEN + PAIR_ID_MAX], hex[65];
	uint8_t mac[32];
	int n = snprintf(msg, sizeof msg, "mte-relay/1 confirm %s %s", p->cid, pair->pair_id);

	kdf_hmac(mac, pair->k_res, sizeof pair->k_res, msg, (size_t)n);
	hex_encode(hex, mac, sizeof mac);
	hex[64] = '\0';
	snprintf(out, cap, ",\"confirm\":\"%s\"", hex);
}

/* Encapsulates to entry i's key, derives and stores the pair, and appends
 * the entry's answer to p->out.  F_COUNT or the failure. */
static enum failure
pair_entry(struct pairing *p, size_t i)
{
	const char *pid = p->entries.pair_id[i];
	const char *pers = p->entries.personalization[i];
	uint8_t ct[XWING_CT_LEN], ss[XWING_SS_LEN];
	uint8_t eseed[XWING_ESEED_LEN], nonce[PAIR_NONCE_LEN];
	char ct64[PAIR_CT_B64_LEN + 6], nonce64[PAIR_NONCE_B64_LEN + 5];
	char answer[PAIR_ANSWER_B64_LEN + 32] = "", confirm[96] = "";
	struct store_pair pair;
	enum store_status st;
	int rc, n;

	rand_bytes(eseed, sizeof eseed);
	/* The key passed the check above; encaps checks it again anyway. */
	rc = xwing_encaps(ct, ss, p->entries.key[i], XWING_PK_LEN, eseed);
	crypto_wipe(eseed, sizeof eseed);
	if (rc != 0)
		return F_PAIR_ENCAPS;
	rand_bytes(nonce, sizeof nonce);
	memset(&pair, 0, sizeof pair);
	memcpy(pair.client_id, p->cid, CLIENT_ID_HEX_LEN);
	memcpy(pair.pair_id, pid, strlen(pid));
	if (p->entries.relay_key_id[i][0] != '\0')
		pin_secret(p, i, ss);
	rc = kdf_pair_keys(pair.k_req, pair.k_res, ss, nonce, p->cid, CLIENT_ID_HEX_LEN, pid,
	    strlen(pid), pers, strlen(pers));
	if (rc == 0 && p->entries.relay_key_id[i][0] != '\0')
		confirm_member(p, &pair, confirm, sizeof confirm);
	crypto_wipe(ss, sizeof ss);
	if (rc == 0 && p->entries.answers[i] && answer_key_member(p, &pair, answer, sizeof answer) != 0)
		rc = -1;
	if (rc != 0) {
		crypto_wipe(&pair, sizeof pair);
		return F_PAIR_ENTRY_REJECTED;
	}
	st = store_pair_put(&pair);
	crypto_wipe(&pair, sizeof pair);
	/* Pair ids are random: only a replay attempt or a broken client repeats
	 * a live one (here: one that raced the check above). */
	if (st == STORE_EXISTS)
		return F_PAIR_ID_IN_USE;
	if (st != STORE_OK)
		return F_STORE_UNAVAILABLE;
	b64url_encode(ct64, sizeof ct64, ct, sizeof ct);
	b64url_encode(nonce64, sizeof nonce64, nonce, sizeof nonce);
	/* pairId was validated to [A-Za-z0-9_-]: nothing to escape. */
	n = snprintf(p->out + p->olen, sizeof p->out - p->olen,
	    "%s{\"pairId\":\"%s\",\"ciphertext\":\"%s\",\"nonce\":\"%s\"%s%s%s}",
	    i ? "," : "", pid, ct64, nonce64, answer, confirm,
	    p->entries.stream[i] ? ",\"stream\":true" : "");
	if (n < 0 || (size_t)n >= sizeof p->out - p->olen)
		return F_PAIR_RESPONSE_TOO_LARGE;
	p->olen += (size_t)n;
	return F_COUNT;
}

/* Pairs every entry, then answers.  F_COUNT or the failure. */
static enum failure
pair_entries(struct pairing *p)
{
	size_t i;

	p->olen = 1;
	p->out[0] = '[';
	for (i = 0; i < p->entries.count; i++) {
		enum failure f = pair_entry(p, i);
		if (f != F_COUNT)
			return f;
	}
	p->out[p->olen++] = ']';
	if (conn_respond_head(p->c, 200, (struct http_field[]){
	    { "Content-Type", "application/json" }, { "Cache-Control", "no-store" },
	    { "x-mte-relay", p->signed_id } }, 3, (int64_t)p->olen) == 0 &&
	    conn_respond_body(p->c, p->out, p->olen) == 0)
		conn_respond_end(p->c);
	metrics_count_pairing((unsigned)p->entries.count);
	LOG_EVENT(LOG_INFO, "paired", LOG_S("request_id", conn_info(p->c)->id),
	    LOG_S("client_id", p->cid), LOG_I("pairs", p->entries.count));
	return F_COUNT;
}

void
pair_handle(struct server *s, struct conn *c, const struct http_request *req)
{
	static const struct http_field allow[] = { { "Allow", "POST" } };
	const struct server_fail_ctx allow_post = { .extra = allow, .n_extra = 1 };
	struct pairing p;
	enum failure f;
	long len;

	if (!(req->method.len == 4 && memcmp(req->method.ptr, "POST", 4) == 0)) {
		server_fail(s, c, F_PAIR_METHOD, &allow_post);
		return;
	}
	memset(&p, 0, offsetof(struct pairing, body));
	p.s = s;
	p.c = c;
	if (check_client_id(&p, req) != 0 || (len = read_body(&p)) < 0)
		return;
	f = pair_body_parse(p.body, (size_t)len, &p.entries);
	if (f == F_COUNT && check_budgets(&p) != 0) {
		pair_body_free(&p.entries);
		return;
	}
	if (f == F_COUNT)
		f = check_live(&p);
	if (f == F_COUNT)
		f = pair_entries(&p);
	if (f != F_COUNT)
		server_fail(s, c, f, NULL);
	pair_body_free(&p.entries);
}
