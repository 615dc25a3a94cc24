/* protected.c - protected requests: check, open, forward, seal the response
 * (protocol.md: relay header, items and chunks, order of checks).
 *
 * One request is a sequence of steps over one struct protected_msg:
 *   read_relay_header -> find_pair -> open_meta -> accept_seq   (answers in the clear;
 *                        the keys from the worker's cache: one store round trip,
 *                        read again once when they are stale)
 *   read_meta -> forward                                        (answers sealed)
 * Each step returns F_COUNT to go on or the failure that answers the
 * request (failure.h); protected_handle runs them in order. */
#include "server.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "answer.h"
#include "clientid.h"
#include "crypto/b64.h"
#include "crypto/kdf.h"
#include "crypto/seal.h"
#include "crypto/wipe.h"
#include "json.h"
#include "log.h"
#include "protocol.h"
#include "route.h"
#include "store/store.h"
#include "upstream.h"

#define WIRE_READ       16384   /* wire bytes read per step (< one chunk, so a
                                 * feed completes at most one chunk) */
#define EH_MAX          (((META_PLAINTEXT_MAX + SEAL_TAG_LEN) * 4 + 2) / 3 + 4)
#define SEQ_DEC_MAX     20      /* digits of 2^64 - 1 */

/* One protected request in flight, passed to every step and callback.
 * The fields up to record_key are zeroed for each request; the large
 * buffers from it on are written before they are read, and wipe() clears
 * only the part of each that held plaintext (the *_used fields). */
struct protected_msg {
	struct server             *s;
	struct conn               *c;
	const struct http_request *req;
	/* the relay header */
	const char *signed_in;                  /* the signed id presented (in req) */
	char        cid[CLIENT_ID_HEX_LEN + 1];
	char        pid[PAIR_ID_MAX + 1];
	char        seq_dec[SEQ_DEC_MAX + 1];
	char        flags[5];
	uint64_t    seq;
	int         flag_u, flag_b, flag_a, flag_s;
	char        method[METHOD_MAX + 1];
	/* keys and the AAD of both directions' items */
	uint8_t     mk_req[32], mk_res[32];
	size_t      aad_len;                    /* of aad (below), written by open_meta */
	int         meta_opened;                /* the request meta authenticated */
	int         pair_cached;                /* the keys came from the worker's cache */
	uint64_t    generation;                 /* of the pair whose keys opened the meta */
	int         accepted;                   /* seq accepted: every answer is sealed */
	int         relay_answer;               /* the answer being sealed is the relay's own */
	char        signed_id[CLIENT_ID_SIGNED_LEN + 1]; /* echoed, under the current secret */
	/* the request meta */
	size_t      meta_len;
	cJSON      *meta;
	const char *target;
	size_t      target_len;
	/* the request body */
	uint64_t     wire_len, plain_len;
	int          wire_known;
	int          reader_used;               /* reader initialised */
	int          body_done;
	enum failure body_failure;              /* why body_read returned -1 */
	size_t       out_pos, out_len;          /* plaintext ready in plain */
	int          held;                      /* one plaintext byte held back */
	uint8_t      held_byte;
	/* the response */
	int          writer_used;               /* writer initialised */
	int          framed;                    /* the body goes out as records (flag s) */
	uint64_t     record_index;
	size_t       record_fill;               /* plaintext gathered in record */
	int          head_sent, sealed_body;
	int          joined_used;               /* joined held a response field value */
	int          meta_json_used;            /* meta_json held a response meta */
	size_t       plain_used;                /* bytes of plain that held plaintext */
	size_t       record_used;               /* plaintext bytes record held, at most */
	enum failure head_failure;              /* why the upstream's head was not answered */
	/* large */
	struct seal_key    record_key;          /* of a framed body's records */
	char               aad[SEAL_AAD_MAX];   /* read only after open_meta wrote it */
	uint8_t            record[SEAL_RECORD_MAX];
	struct seal_reader reader;
	struct seal_writer writer;
	uint8_t     plain[SEAL_CHUNK_MAX + 1];
	uint8_t     wire[WIRE_READ];
	uint8_t     meta_buf[META_PLAINTEXT_MAX + SEAL_TAG_LEN];
	char        eh_buf[EH_MAX];
	char        meta_json[META_PLAINTEXT_MAX + 1];
	char        joined[UPSTREAM_HEAD_MAX];
	char        location[UPSTREAM_HEAD_MAX];
};

static int seal_answer(void *arg, int status, const char *json, size_t len);

/* 1 when f is answered sealed: after acceptance, or, for a client that
 * asked for authenticated answers (flag a), once the meta opened (the relay
 * holds the message keys then). */
static int
sealable(const struct protected_msg *m, enum failure f)
{
	return failure_kind(f)->sealed && (m->accepted || (m->flag_a && m->meta_opened));
}

/* Answers f: in the clear before acceptance, sealed after (when f's kind
 * is sealable); the log line names the ids.  A relay status answered in
 * the clear to a client that asked (flag a) carries x-mte-relay-auth. */
static void
fail(struct protected_msg *m, enum failure f)
{
	const struct config *cfg = m->s->cfg;
	const struct failure_kind *k = failure_kind(f);
	char auth[ANSWER_HEADER_MAX];
	struct http_field extra[1];
	struct server_fail_ctx ctx = { .client_id = m->cid, .pair_id = m->pid, .seal_arg = m };

	if (sealable(m, f)) {
		ctx.seal = seal_answer;
	} else if (m->flag_a && k->status >= 559 && k->status <= 570 && m->cid[0] != '\0' &&
	    m->method[0] != '\0' && answer_header(auth, cfg->client_id_secret,
	    cfg->client_id_secret_previous, m->cid, m->pid, m->seq_dec, m->method, k->status) == 0) {
		extra[0] = (struct http_field){ "x-mte-relay-auth", auth };
		ctx.extra = extra;
		ctx.n_extra = 1;
	}
	server_fail(m->s, m->c, f, &ctx);
}

/* ---- 1. the relay header, the client id ---- */

/* Takes the parts of the x-mte-relay field into m.  0, or -1 when malformed. */
static int
parse_relay_header(struct protected_msg *m, const char *v, size_t len)
{
	struct relay_header h;

	if (protocol_parse_relay_header(v, len, &h) != 0)
		return -1;
	m->signed_in = h.signed_id;
	m->seq = h.seq;
	m->flag_u = h.flag_u;
	m->flag_b = h.flag_b;
	m->flag_a = h.flag_a;
	m->flag_s = h.flag_s;
	memcpy(m->pid, h.pair_id, h.pair_id_len);
	m->pid[h.pair_id_len] = '\0';
	memcpy(m->seq_dec, h.seq_text, h.seq_len);
	m->seq_dec[h.seq_len] = '\0';
	memcpy(m->flags, h.flags, h.flags_len);
	m->flags[h.flags_len] = '\0';
	return 0;
}

static enum failure
read_relay_header(struct protected_msg *m)
{
	const struct config *cfg = m->s->cfg;
	const struct http_request *req = m->req;
	const struct http_header *rh = http_header_get(req, "x-mte-relay");
	const struct http_header *eh = http_header_get(req, "x-mte-relay-eh");

	if (rh->value.len > RELAY_HEADER_MAX)
		return F_RELAY_HEADER_TOO_LONG;
	if (http_header_next(req, "x-mte-relay", rh) != NULL ||
	    (eh != NULL && http_header_next(req, "x-mte-relay-eh", eh) != NULL))
		return F_RELAY_FIELD_REPEATED;
	if (parse_relay_header(m, rh->value.ptr, rh->value.len) != 0)
		return F_RELAY_HEADER_MALFORMED;
	/* known before the client id is checked: a tagged 566 names it */
	if (req->method.len <= METHOD_MAX)
		memcpy(m->method, req->method.ptr, req->method.len);
	/* signed_id: the echo of every sealed answer (570 included), under the
	 * current secret, from the MAC the check computes anyway */
	if (clientid_check_echo(m->signed_in, CLIENT_ID_SIGNED_LEN, cfg->client_id_secret,
	    cfg->client_id_secret_previous, m->cid, m->signed_id) != 0) {
		memcpy(m->cid, m->signed_in, CLIENT_ID_HEX_LEN);   /* named in the log */
		return F_CLIENT_ID_INVALID;
	}
	if (req->method.len > METHOD_MAX)
		return F_METHOD_TOO_LONG;
	if (m->flag_u && !(req->target.len == 1 && req->target.ptr[0] == '/'))
		return F_FLAG_U_TARGET;
	if (req->absolute_form)
		return F_ABSOLUTE_FORM;     /* the target is forwarded as it is: a path */
	if ((req->chunked || (req->has_content_length && req->content_length > 0)) &&
	    !m->flag_b)
		return F_BODY_WITHOUT_FLAG_B;
	return F_COUNT;
}

/* ---- 2. the pair, and the body's length ---- */

static enum failure
find_pair(struct protected_msg *m, struct store_pair *pair, int refresh)
{
	enum store_status st = store_pair_lookup(m->cid, m->pid, refresh, pair, &m->pair_cached);
	uint64_t clen = 0;

	if (st == STORE_NOT_FOUND)
		return F_PAIR_NOT_FOUND;
	if (st != STORE_OK)
		return F_STORE_UNAVAILABLE;
	if (m->flag_b && conn_body_known_length(m->c, &clen)) {
		/* A length no sealed body has: nothing to open (562, as a failed meta). */
		if (clen > INT64_MAX || seal_plain_len(clen, &m->plain_len) != 0)
			return F_BODY_LENGTH;
		m->wire_known = 1;
		m->wire_len = clen;
	}
	return F_COUNT;
}

/* ---- 3. the meta chunk: authenticates seq, flags, method and target ---- */

static enum failure
open_meta(struct protected_msg *m, const struct store_pair *pair)
{
	const struct http_request *req = m->req;
	const struct http_header *eh = http_header_get(req, "x-mte-relay-eh");
	ssize_t wire;
	int w, opened;

	kdf_message_key_root(m->mk_req, &pair->root_req, KDF_REQ, m->seq);
	kdf_message_key_root(m->mk_res, &pair->root_res, KDF_RES, m->seq);
	w = protocol_aad_request(m->aad, sizeof m->aad, m->cid, m->pid, m->seq_dec, m->flags,
	    m->method, req->target.ptr, m->flag_u ? 0 : req->target.len);
	if (w < 0)
		return F_TARGET_TOO_LONG;
	m->aad_len = (size_t)w;
	if (eh == NULL)
		return F_META_MISSING;
	if (eh->value.len > EH_MAX)
		return F_META_TOO_LARGE;
	wire = b64url_decode(m->meta_buf, sizeof m->meta_buf, eh->value.ptr, eh->value.len);
	if (wire < 0)
		return F_META_NOT_BASE64URL;
	opened = seal_meta_open(m->meta_buf, sizeof m->meta_buf, m->mk_req, m->aad, m->aad_len,
	    m->meta_buf, (size_t)wire);
	if (opened < 0)
		return F_META_AUTH;
	m->meta_len = (size_t)opened;
	m->meta_opened = 1;
	m->generation = pair->generation;
	return F_COUNT;
}

/* ---- 4. the replay window: only now is the request accepted ---- */

static enum failure
accept_seq(struct protected_msg *m)
{
	enum store_status st;

	st = store_window_accept_gen(m->cid, m->pid, m->generation, m->seq);
	if (st == STORE_REPLAY)
		return F_REPLAYED;
	if (st == STORE_NOT_FOUND || st == STORE_STALE)
		return F_PAIR_NOT_FOUND;
	if (st != STORE_OK)
		return F_STORE_UNAVAILABLE;
	m->accepted = 1;
	if (log_debug_enabled())
		LOG_EVENT(LOG_DEBUG, "protected request accepted",
		    LOG_S("request_id", conn_info(m->c)->id), LOG_S("client_id", m->cid),
		    LOG_S("pair_id", m->pid), LOG_S("seq", m->seq_dec), LOG_S("flags", m->flags),
		    LOG_I("wire_body_len", m->wire_known ? (long long)m->wire_len : -1));
	return F_COUNT;
}

/* ---- 5. the meta: url, headers, clear ---- */

static int
url_ok(const char *u, size_t n)
{
	const char *q;
	size_t i;

	if (n == 0 || n > HTTP_REQUEST_LINE_MAX || u[0] != '/')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f || u[i] == '#')
			return 0;
	q = memchr(u, '?', n);
	return route_path_is_clean(u, q ? (size_t)(q - u) : n);
}

/* The meta's optional "clear": an array of at most HTTP_HEADER_COUNT_MAX
 * field names (tokens) that the client sent in the clear on purpose. */
static int
clear_list_ok(const cJSON *clear)
{
	const cJSON *e;

	if (clear == NULL)
		return 1;
	if (!cJSON_IsArray(clear) || cJSON_GetArraySize(clear) > HTTP_HEADER_COUNT_MAX)
		return 0;
	cJSON_ArrayForEach(e, clear)
		if (!cJSON_IsString(e) || !http_is_token(e->valuestring, strlen(e->valuestring)))
			return 0;
	return 1;
}

/* 1 when the meta is an object whose members have the types protocol.md
 * gives them. */
static int
meta_shape_ok(const struct protected_msg *m, const cJSON *hdrs, const cJSON *url,
    const cJSON *clear)
{
	if (!cJSON_IsObject(m->meta) || (hdrs != NULL && !cJSON_IsObject(hdrs)) ||
	    !clear_list_ok(clear))
		return 0;
	if (hdrs != NULL && cJSON_GetArraySize(hdrs) > HTTP_HEADER_COUNT_MAX)
		return 0;
	if (m->flag_u)
		return cJSON_IsString(url) && url_ok(url->valuestring, strlen(url->valuestring));
	return url == NULL;
}

/* 1 when every sealed field is a token with a valid field value. */
static int
sealed_fields_ok(const cJSON *hdrs)
{
	const cJSON *h;

	cJSON_ArrayForEach(h, hdrs)
		if (!cJSON_IsString(h) || !http_is_token(h->string, strlen(h->string)) ||
		    !http_is_field_value(h->valuestring, strlen(h->valuestring)))
			return 0;
	return 1;
}

static int
sealed_has(const char *name, void *hdrs)
{
	return cJSON_GetObjectItem(hdrs, name) != NULL;
}

/* Fields to send upstream (forward.h): the clear ones a hop cannot have
 * added, the sealed ones, then the relay's own. */
static enum failure
build_fields(struct protected_msg *m, const cJSON *hdrs, const cJSON *clear)
{
	struct forward_fields *out = &m->s->forward;
	const char *named[HTTP_HEADER_COUNT_MAX];
	const cJSON *h;
	size_t n_named = 0;

	if (!sealed_fields_ok(hdrs))
		return F_META_FIELD_INVALID;
	cJSON_ArrayForEach(h, clear)
		named[n_named++] = h->valuestring;
	if (forward_begin(out, m->s->cfg, m->req) != 0)
		return F_META_TOO_MANY_FIELDS;
	forward_keep_clear(out, named, n_named, sealed_has, (void *)hdrs);
	cJSON_ArrayForEach(h, hdrs)
		if (forward_add_sealed(out, m->s->cfg, h->string, h->valuestring) != 0)
			return F_META_TOO_MANY_FIELDS;
	if (forward_add_relay(out, m->s->cfg, m->req, m->s->peer) != 0)
		return F_META_TOO_MANY_FIELDS;
	return F_COUNT;
}

static enum failure
read_meta(struct protected_msg *m)
{
	const struct config *cfg = m->s->cfg;
	const struct http_request *req = m->req;
	const cJSON *hdrs, *url, *clear;

	m->meta = json_has_nul_escape((const char *)m->meta_buf, m->meta_len) ? NULL :
	    cJSON_ParseWithLength((const char *)m->meta_buf, m->meta_len);
	crypto_wipe(m->meta_buf, m->meta_len);
	hdrs = cJSON_GetObjectItemCaseSensitive(m->meta, "headers");
	url = cJSON_GetObjectItemCaseSensitive(m->meta, "url");
	clear = cJSON_GetObjectItemCaseSensitive(m->meta, "clear");
	if (m->meta == NULL || !meta_shape_ok(m, hdrs, url, clear))
		return F_META_INVALID;
	if (m->flag_u) {
		m->target = url->valuestring;
		m->target_len = strlen(m->target);
	} else {
		m->target = req->target.ptr;
		m->target_len = req->target.len;
		if (!route_path_is_clean(req->path.ptr, req->path.len))
			return F_PROTECTED_PATH_UNCLEAN;
	}
	if (cfg->mte_routes.count > 0) {
		const char *q = memchr(m->target, '?', m->target_len);
		if (!route_list_match(&cfg->mte_routes, m->target,
		    q ? (size_t)(q - m->target) : m->target_len))
			return F_NOT_AN_MTE_ROUTE;
	}
	return build_fields(m, hdrs, clear);
}

/* ---- 6. the request body: opened chunk by chunk, forwarded as it authenticates ---- */

static int
sink_plain(void *arg, const uint8_t *data, size_t len)
{
	struct protected_msg *m = arg;

	if (len == 0)
		return 0;
	/* The buffer was empty before this feed and one feed completes at most
	 * one chunk, so the held byte plus len always fits. */
	if (m->held) {
		m->plain[m->out_len++] = m->held_byte;
		m->held = 0;
	}
	memcpy(m->plain + m->out_len, data, len - 1);
	m->out_len += len - 1;
	if (m->out_len > m->plain_used)
		m->plain_used = m->out_len;
	/* The last byte waits until the next chunk or the final one is
	 * authentic: the upstream never sees a complete body that was not. */
	m->held_byte = data[len - 1];
	m->held = 1;
	return 0;
}

/* Reads and opens more of the body.  F_COUNT when plaintext or the end is
 * ready, else the failure. */
static enum failure
body_step(struct protected_msg *m)
{
	ssize_t got = conn_body_read(m->c, m->wire, sizeof m->wire);

	m->out_pos = m->out_len = 0;
	if (got < 0)
		return failure_of_body_error(conn_body_error(m->c));
	if (got > 0)
		return seal_reader_feed(&m->reader, m->wire, (size_t)got, sink_plain, m) ==
		    SEAL_OK ? F_COUNT : F_BODY_AUTH;
	if (seal_reader_finish(&m->reader, sink_plain, m) != SEAL_OK)
		return F_BODY_AUTH;
	if (m->held) {
		m->plain[m->out_len++] = m->held_byte;
		m->held = 0;
		if (m->out_len > m->plain_used)
			m->plain_used = m->out_len;
	}
	m->body_done = 1;
	return F_COUNT;
}

/* The upstream's body source (upstream.h). */
static ssize_t
body_read(void *arg, void *buf, size_t cap)
{
	struct protected_msg *m = arg;
	size_t n;

	while (m->out_pos == m->out_len) {
		if (m->body_done)
			return 0;
		if ((m->body_failure = body_step(m)) != F_COUNT)
			return -1;
	}
	n = m->out_len - m->out_pos;
	if (n > cap)
		n = cap;
	memcpy(buf, m->plain + m->out_pos, n);
	m->out_pos += n;
	return (ssize_t)n;
}

/* ---- 7. the response, sealed ---- */

static int
sink_wire(void *arg, const uint8_t *data, size_t len)
{
	return conn_respond_body(arg, data, len) == 0 ? 0 : -1;
}

/* 1 when the upstream's Content-Type is a stream type (PROTOCOL.md section
 * 13): its body is sent framed to a client that asked, known length or not. */
static int
is_stream_type(const struct http_field *f, size_t n)
{
	static const char *const types[] = {
		"text/event-stream", "application/x-ndjson", "application/jsonl",
		"application/stream+json", "application/json-seq", "multipart/x-mixed-replace",
	};
	size_t i, k;

	for (i = 0; i < n; i++) {
		if (strcasecmp(f[i].name, "content-type") != 0)
			continue;
		for (k = 0; k < sizeof types / sizeof types[0]; k++) {
			size_t tl = strlen(types[k]);
			if (strncasecmp(f[i].value, types[k], tl) == 0 &&
			    (f[i].value[tl] == '\0' || f[i].value[tl] == ';' || f[i].value[tl] == ' '))
				return 1;
		}
	}
	return 0;
}

/* Adds name: value to the meta headers object (names lower case), joining
 * repeats with ", ". */
static int
meta_add(struct protected_msg *m, cJSON *obj, const char *name, const char *value)
{
	cJSON *old = cJSON_GetObjectItem(obj, name), *item;
	char *p;

	if (old != NULL) {
		int w;
		m->joined_used = 1;
		w = snprintf(m->joined, sizeof m->joined, "%s, %s", old->valuestring, value);
		if (w < 0 || (size_t)w >= sizeof m->joined)
			return -1;
		return cJSON_SetValuestring(old, m->joined) != NULL ? 0 : -1;
	}
	item = cJSON_CreateString(value);
	if (item == NULL || !cJSON_AddItemToObject(obj, name, item)) {
		cJSON_Delete(item);
		return -1;
	}
	for (p = item->string; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + ('a' - 'A'));
	return 0;
}

/* The response meta's JSON in m->meta_json; the clear fields appended to
 * out[*no].  0, or -1 when it does not fit. */
static int
response_meta(struct protected_msg *m, const struct http_field *f, size_t n,
    struct http_field *out, size_t *no)
{
	cJSON *root = cJSON_CreateObject(), *hdrs = cJSON_AddObjectToObject(root, "headers");
	int ok = root != NULL && hdrs != NULL;
	size_t i;

	for (i = 0; ok && i < n; i++) {
		switch (forward_response_kind(f[i].name, strlen(f[i].name))) {
		case FORWARD_DROP:
			break;
		case FORWARD_CLEAR:
			if (*no < UPSTREAM_FIELDS_MAX)
				out[(*no)++] = f[i];
			break;
		case FORWARD_SEAL:
			/* A Location naming the upstream itself names the relay instead. */
			ok = meta_add(m, hdrs, f[i].name, strcasecmp(f[i].name, "location") != 0 ?
			    f[i].value : forward_location(m->s->cfg->upstream, f[i].value, m->location,
			    sizeof m->location)) == 0;
			break;
		}
	}
	/* extension a: the relay's own answers say so (PROTOCOL.md section 11) */
	if (ok && m->flag_a && m->relay_answer)
		ok = cJSON_AddStringToObject(root, "from", "relay") != NULL;
	m->meta_json_used = 1;     /* printed into, maybe partly: wiped whole */
	ok = ok && cJSON_PrintPreallocated(root, m->meta_json, sizeof m->meta_json, 0);
	json_wipe(root);
	cJSON_Delete(root);
	return ok ? 0 : -1;
}

/*
 * Starts a sealed response: status in clear, the end-to-end fields sealed in
 * the response meta, the clear ones as they are.  Returns 0, or -1 when it
 * could not be sent (the caller then cuts the connection).
 */
static int
sealed_head(struct protected_msg *m, int status, const struct http_field *f, size_t n,
    int64_t plain_len)
{
	struct http_field out[UPSTREAM_FIELDS_MAX + 4];
	char relay_hdr[RELAY_HEADER_MAX + 1];
	uint64_t wire_len = 0;
	int64_t framing = 0;
	size_t no = 0;
	int w, sl;

	m->sealed_body = status >= 200 && status != 204 && status != 304 &&
	    strcmp(m->method, "HEAD") != 0;
	m->framed = m->sealed_body && m->flag_s && !m->relay_answer &&
	    (plain_len < 0 || is_stream_type(f, n));
	if (response_meta(m, f, n, out, &no) != 0)
		return -1;
	{
		const char *fl = m->framed ? "bs" : m->sealed_body ? "b" : "";
		memcpy(m->flags, fl, strlen(fl) + 1);
	}
	w = protocol_aad_response(m->aad, sizeof m->aad, m->cid, m->pid, m->seq_dec, m->flags,
	    status);
	if (w < 0)
		return -1;
	m->aad_len = (size_t)w;
	sl = seal_meta_seal(m->meta_buf, sizeof m->meta_buf, m->mk_res, m->aad, m->aad_len,
	    (const uint8_t *)m->meta_json, strlen(m->meta_json));
	if (sl < 0)
		return -1;
	b64url_encode(m->eh_buf, sizeof m->eh_buf, m->meta_buf, (size_t)sl);
	if (protocol_format_relay_header(relay_hdr, sizeof relay_hdr, m->signed_id, m->pid,
	    m->seq_dec, m->flags) < 0)
		return -1;
	out[no++] = (struct http_field){ "x-mte-relay", relay_hdr };
	out[no++] = (struct http_field){ "x-mte-relay-eh", m->eh_buf };
	if (m->framed) {
		/* PROTOCOL.md section 13: records, chunked, the head out at once */
		out[no++] = (struct http_field){ "Content-Type", "application/octet-stream" };
		seal_key_init(&m->record_key, m->mk_res);
		m->writer_used = 1;
		framing = HTTP_LENGTH_CHUNKED;
	} else if (m->sealed_body) {
		out[no++] = (struct http_field){ "Content-Type", "application/octet-stream" };
		m->writer_used = 1;
		if (seal_writer_init(&m->writer, m->mk_res, m->aad, m->aad_len) != SEAL_OK)
			return -1;
		framing = HTTP_LENGTH_CHUNKED;
		if (plain_len >= 0) {
			if (seal_wire_len((uint64_t)plain_len, &wire_len) != 0)
				return -1;
			framing = (int64_t)wire_len;
		}
	}
	if (conn_respond_head(m->c, status, out, no, framing) != 0 ||
	    (m->framed && conn_flush(m->c) != 0))
		return -1;
	m->head_sent = 1;
	return 0;
}

/* Seals what is gathered in m->record as the next record of a framed body
 * and sends it.  0, or -1. */
static int
send_record(struct protected_msg *m, int final)
{
	int n = seal_record_seal(&m->record_key, final, m->record_index++, m->aad, m->aad_len,
	    m->record + SEAL_RECORD_HEADER, m->record_fill, m->record);

	m->record_fill = 0;
	return n > 0 && conn_respond_body(m->c, m->record, (size_t)n) == 0 ? 0 : -1;
}

/* Completes a sealed response whose body (if any) was fed already. */
static int
sealed_end(struct protected_msg *m)
{
	if (m->framed) {
		if (send_record(m, 1) != 0) {
			conn_set_close(m->c);
			return -1;
		}
	} else if (m->sealed_body && seal_writer_finish(&m->writer, sink_wire, m->c) != SEAL_OK) {
		conn_set_close(m->c);
		return -1;
	}
	conn_respond_end(m->c);
	return 0;
}

/* server_fail's sealer: a whole sealed response with a JSON body. */
static int
seal_answer(void *arg, int status, const char *json, size_t len)
{
	static const struct http_field type[] = { { "content-type", "application/json" } };
	struct protected_msg *m = arg;

	m->relay_answer = 1;
	if (sealed_head(m, status, type, 1, (int64_t)len) != 0)
		return -1;
	if (m->sealed_body && seal_writer_feed(&m->writer, (const uint8_t *)json, len,
	    sink_wire, m->c) != SEAL_OK)
		return -1;
	return sealed_end(m);
}

static int
sink_head(void *arg, int status, const struct http_field *f, size_t n, int64_t len)
{
	struct protected_msg *m = arg;

	if (sealed_head(m, status, f, n, len) == 0)
		return 0;
	/* Nothing was sent: the upstream's head does not fit in a meta item. */
	if (!m->head_sent)
		m->head_failure = F_UPSTREAM_HEAD_TOO_LARGE;
	return -1;
}

static int
sink_body(void *arg, const void *buf, size_t len)
{
	struct protected_msg *m = arg;

	const uint8_t *p = buf;

	if (!m->sealed_body)
		return 0;
	if (!m->framed)
		return seal_writer_feed(&m->writer, buf, len, sink_wire, m->c) == SEAL_OK ? 0 : -1;
	/* Gathered while more is waiting upstream, up to one chunk; sealed and
	 * sent the moment the upstream pauses (PROTOCOL.md section 13). */
	while (len > 0) {
		size_t n = SEAL_CHUNK_MAX - m->record_fill;
		if (n > len)
			n = len;
		memcpy(m->record + SEAL_RECORD_HEADER + m->record_fill, p, n);
		m->record_fill += n;
		if (m->record_fill > m->record_used)
			m->record_used = m->record_fill;
		p += n;
		len -= n;
		if ((m->record_fill == SEAL_CHUNK_MAX || (len == 0 && !upstream_more_ready())) &&
		    send_record(m, 0) != 0)
			return -1;
	}
	return 0;
}

/* ---- 8. forward and answer ---- */

static enum failure
forward(struct protected_msg *m)
{
	const struct config *cfg = m->s->cfg;
	struct upstream_request ur;
	struct upstream_sink sink = { sink_head, sink_body, m };
	enum upstream_result r;
	int head_delivered;

	memset(&ur, 0, sizeof ur);
	if (m->flag_b) {
		uint8_t one[1];
		m->reader_used = 1;
		if (seal_reader_init(&m->reader, m->mk_req, m->aad, m->aad_len) != SEAL_OK)
			return F_BODY_OPEN;
		ur.has_body = 1;
		ur.body_len = m->wire_known ? (int64_t)m->plain_len : -1;
		ur.body_read = body_read;
		ur.body_arg = m;
		/* An empty body is verified before the upstream hears of it. */
		if (m->wire_known && m->plain_len == 0 && body_read(m, one, sizeof one) != 0)
			return F_EMPTY_BODY_AUTH;
	}
	crypto_wipe(m->mk_req, sizeof m->mk_req);
	ur.method = m->method;
	ur.base = cfg->upstream;
	ur.target = m->target;
	ur.target_len = m->target_len;
	ur.fields = m->s->forward.f;
	ur.nfields = m->s->forward.n;
	ur.timeout_s = cfg->upstream_timeout;

	m->head_failure = F_COUNT;
	r = upstream_perform(&ur, &sink, &head_delivered);
	if (r == UPSTREAM_OK)
		return sealed_end(m) == 0 ? F_COUNT : F_CLIENT_GONE;
	if (r == UPSTREAM_BODY_FAILED)
		return m->body_failure;
	if (m->head_failure != F_COUNT)
		return m->head_failure;
	return failure_of_upstream(r, 0);
}

/* Erases what was decrypted or derived for this request. */
static void
wipe(struct protected_msg *m)
{
	if (m->reader_used)
		seal_reader_wipe(&m->reader);
	if (m->writer_used && m->framed)
		seal_key_wipe(&m->record_key);
	else if (m->writer_used)
		seal_writer_wipe(&m->writer);
	crypto_wipe(m->mk_req, sizeof m->mk_req);
	crypto_wipe(m->mk_res, sizeof m->mk_res);
	json_wipe(m->meta);
	cJSON_Delete(m->meta);
	/* only what held plaintext: the opened request meta (meta_len bytes; the
	 * rest of meta_buf only ever held ciphertext), a joined field value */
	crypto_wipe(m->meta_buf, m->meta_len);
	crypto_wipe(m->plain, m->plain_used);
	if (m->meta_json_used)
		crypto_wipe(m->meta_json, strnlen(m->meta_json, sizeof m->meta_json));
	if (m->joined_used)
		crypto_wipe(m->joined, sizeof m->joined);
	if (m->framed)
		crypto_wipe(m->record, SEAL_RECORD_HEADER + m->record_used);
}

void
protected_handle(struct server *s, struct conn *c, const struct http_request *req)
{
	struct protected_msg m;
	struct store_pair pair;
	enum failure f;

	memset(&m, 0, offsetof(struct protected_msg, record_key));
	m.s = s;
	m.c = c;
	m.req = req;
	f = read_relay_header(&m);
	/* Cached keys that do not open the meta, or a pair paired again since
	 * (another generation), are read again once from the store. */
	for (int refresh = 0; f == F_COUNT && refresh <= 1; refresh++) {
		f = find_pair(&m, &pair, refresh);
		if (f == F_COUNT)
			f = open_meta(&m, &pair);
		crypto_wipe(&pair, sizeof pair);
		if (f == F_META_AUTH && m.pair_cached) {
			f = F_COUNT;
			continue;
		}
		if (f == F_COUNT)
			f = accept_seq(&m);
		/* stale, or gone since it was cached: read again, so that a gone
		 * pair is answered as without a cache (before the meta is opened) */
		if (f == F_PAIR_NOT_FOUND && m.pair_cached) {
			m.meta_opened = 0;
			f = F_COUNT;
			continue;
		}
		break;
	}
	/* From here on every answer is sealed. */
	if (f == F_COUNT)
		f = read_meta(&m);
	if (f == F_COUNT)
		f = forward(&m);
	if (f != F_COUNT)
		fail(&m, f);
	wipe(&m);
}
