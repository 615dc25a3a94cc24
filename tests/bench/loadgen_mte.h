/*
 * loadgen_mte.h - the client side of protocol v1 for the load generator
 * (protocol.md; docs/PROTOCOL.md sections 1-7), built only from the relay's
 * own library: X-Wing (crypto/xwing), the key schedule (crypto/kdf),
 * chunks and meta items (crypto/seal), base64url (crypto/b64), randomness
 * (crypto/rand) and the field syntax (protocol.c).  So a figure of the load
 * generator is the relay's code talking to itself.
 *
 *   lg_client_new       HEAD /api/mte-relay: a signed client id
 *   lg_pair_setup       POST /api/mte-pair: n pairs, keys derived client-side
 *   lg_pairing_body / lg_pairing_check   one pairing as a load (mode pair)
 *   lg_seal_request     one protected request: head and sealed body
 *   lg_open_*           its answer: echo, meta and body authenticated
 */
#ifndef LOADGEN_MTE_H
#define LOADGEN_MTE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kdf.h"
#include "crypto/seal.h"
#include "crypto/xwing.h"
#include "limits.h"
#include "tests/bench/loadgen_http.h"

#define LG_PAIR_ID_LEN   32     /* characters of the pair ids we make */
#define LG_PERS_LEN      24     /* characters of the personalizations we make */
#define LG_PK_B64_LEN    1622   /* b64url of an X-Wing public key (1216 bytes) */
/* bytes of one pairing entry in a request body: JSON around the three strings */
#define LG_PAIR_ENTRY_MAX (LG_PK_B64_LEN + LG_PAIR_ID_LEN + LG_PERS_LEN + 64)

struct lg_client {
	char signed_id[CLIENT_ID_SIGNED_LEN + 1];
	char id[CLIENT_ID_HEX_LEN + 1];     /* the bare id: the first 32 characters */
};

struct lg_pair {
	const struct lg_client *client;
	char     pair_id[LG_PAIR_ID_LEN + 1];
	uint8_t  k_req[KDF_HASH_LEN];
	uint8_t  k_res[KDF_HASH_LEN];
	struct kdf_root root_req, root_res; /* their HMAC key schedules, made once */
	uint64_t seq;                       /* last seq used; the next is seq + 1 */
};

/* HEAD /api/mte-relay on t: fills *c with a fresh signed id.  Returns 0, or
 * -1 with a reason in *why. */
int lg_client_new(const struct lg_target *t, int timeout_ms, struct lg_client *c,
                  const char **why);

/*
 * Pairs n (1..PAIR_ENTRIES_MAX) fresh pairs of client c with the relay:
 * fresh X-Wing keys, pair ids and personalizations; the answer's
 * ciphertexts decapsulated and the keys derived with kdf_pair_keys, as a
 * browser client does.  Returns 0 (pairs[0..n) filled, seq 0), or -1 with a
 * reason in *why.  Secrets of the key exchange are wiped.
 */
int lg_pair_setup(const struct lg_target *t, int timeout_ms, const struct lg_client *c,
                  struct lg_pair *pairs, size_t n, const char **why);

/* A fresh random pair id (LG_PAIR_ID_LEN characters of [A-Za-z0-9_-]) and
 * personalization (LG_PERS_LEN lower-case hex digits), NUL-terminated. */
void lg_fresh_pair_id(char out[LG_PAIR_ID_LEN + 1]);
void lg_fresh_personalization(char out[LG_PERS_LEN + 1]);

/*
 * Writes a pairing request body of n entries into out[0..cap): the public
 * key pk64 (b64url) with the pair ids pair_ids[i] and fresh personalizations.
 * Returns the length, or -1 when it does not fit.
 */
int lg_pairing_body(char *out, size_t cap, const char *pk64,
                    char (*pair_ids)[LG_PAIR_ID_LEN + 1], size_t n);

/*
 * Checks a pairing answer body[0..len): a JSON array of exactly n entries
 * naming pair_ids[0..n) in order, each with a ciphertext of XWING_CT_LEN
 * bytes and a nonce of 32 (b64url).  Returns 0, or -1 with *why.
 */
int lg_pairing_check(const uint8_t *body, size_t len, char (*pair_ids)[LG_PAIR_ID_LEN + 1],
                     size_t n, const char **why);

/* What one protected request needs to open its answer. */
struct lg_sent {
	const struct lg_pair *pair;
	uint64_t seq;
	char     seq_text[24];
	uint8_t  mk_res[KDF_HASH_LEN];
};

/* The parts of a protected request that are the same every time. */
struct lg_request_shape {
	const char *method;         /* "GET", "POST", ... */
	const char *host;           /* Host field value */
	const char *url;            /* the URL: sealed in meta (flag u), or the wire target */
	int         seal_url;       /* 1: flag u, wire target "/" */
	const char *meta;           /* the meta plaintext JSON (lg_request_meta) */
	size_t      meta_len;
	const uint8_t *body;        /* plaintext (NULL with body_len 0: no body, no flag b) */
	size_t      body_len;
	int         has_body;       /* 1: flag b (a body item, possibly empty) */
};

/*
 * Writes the request meta JSON {"url": ..., "headers": {...}} into out
 * (url only when shape's seal_url; header names lower-cased from
 * "Name: value" strings).  Returns the length, or -1 when it does not fit,
 * is over META_PLAINTEXT_MAX or a string holds a byte JSON would need to
 * escape beyond '"' and '\'.
 */
int lg_request_meta(char *out, size_t cap, const char *url, int seal_url,
                    const char *const *headers, size_t nheaders);

/* Bytes a request of shape needs: head (*head_cap) and sealed body (*body_cap). */
void lg_request_caps(const struct lg_request_shape *s, size_t *head_cap, size_t *body_cap);

/*
 * Seals the next request of pair p (seq = ++p->seq): the head into
 * head[0..head_cap) and the sealed body into body[0..body_cap) (sizes from
 * lg_request_caps); *sent keeps what opening the answer needs.  Returns 0
 * with *head_len and *body_len set, or -1 (a programming error: caps).
 */
int lg_seal_request(const struct lg_request_shape *s, struct lg_pair *p, char *head,
                    size_t head_cap, size_t *head_len, uint8_t *body, size_t body_cap,
                    size_t *body_len, struct lg_sent *sent);

/* Opening one answer; caller-owned (about 80 KiB), reused across requests. */
struct lg_open {
	struct seal_reader reader;
	int      body;              /* the answer has flag b: a sealed body follows */
	uint64_t fed;               /* wire bytes of the body so far */
	uint64_t plain;             /* plaintext bytes authenticated so far */
	uint8_t  meta[SEAL_META_MAX + SEAL_TAG_LEN];
};

/* Tampering, to prove that the opening can fail (loadgen --tamper). */
#define LG_TAMPER_NONE 0
#define LG_TAMPER_META 1        /* flip a bit of the sealed meta before opening */
#define LG_TAMPER_BODY 2        /* flip a bit of the sealed body's first byte (meta when none) */

/*
 * Checks the head of the answer to sent: exactly one x-mte-relay naming this
 * client, pair and seq with flags "" or "b"; exactly one x-mte-relay-eh
 * whose meta opens under mk_res with the response AAD (status included)
 * and is a JSON object with an object "headers".  Starts the body opener
 * when the flags say b.  Returns 0, or -1 with *why.
 */
int lg_open_head(struct lg_open *o, const struct lg_sent *sent, const struct lg_response *r,
                 int head_request, int tamper, const char **why);

/* Feeds data[0..len) of the answer's body (as delivered, after any
 * transfer coding).  data may be changed (tampering).  Returns 0 or -1. */
int lg_open_feed(struct lg_open *o, uint8_t *data, size_t len, int tamper, const char **why);

/* The body ended: its final chunk must have authenticated (and an answer
 * without flag b must have had no body).  Returns 0 or -1. */
int lg_open_finish(struct lg_open *o, const char **why);

/* Erases o's key material (after a failed or abandoned answer too). */
void lg_open_wipe(struct lg_open *o);

#endif
