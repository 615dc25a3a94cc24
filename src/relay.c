/* relay.c - protected requests: check, open, forward, seal the response
 * (protocol.md: relay header, items and chunks, order of checks). */
#include "server.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "clientid.h"
#include "crypto/b64.h"
#include "crypto/kdf.h"
#include "crypto/seal.h"
#include "crypto/wipe.h"
#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "json.h"
#include "protocol.h"
#include "route.h"
#include "store.h"
#include "upstream.h"

#define RELAY_WIRE_READ      16384   /* wire bytes read per step (< one chunk, so a
                                      * feed completes at most one chunk) */
#define RELAY_EH_MAX         (((META_PLAINTEXT_MAX + SEAL_TAG_LEN) * 4 + 2) / 3 + 4)

/* One protected message in flight (a worker serves one at a time). */
struct relay_msg {
	char      cid[CLIENT_ID_HEX_LEN + 1];
	char      pid[PAIR_ID_MAX + 1];
	char      seq_dec[21];
	char      flags[3];
	uint64_t  seq;
	int       flag_u, flag_b;
	char      method[32];
	uint8_t   mk_res[32];
	char      signed_id[CLIENT_ID_SIGNED_LEN + 1];
	int       head_sent;
	int       seal_failed;           /* the upstream's head could not be sealed */
	int       sealed_body;           /* the response carries a body item */
	/* request body */
	uint64_t  wire_len;              /* when known */
	int       wire_known;
	int       body_done, body_failed;
	size_t    out_pos, out_len;
	int       held;                  /* one plaintext byte held back */
	uint8_t   held_byte;
};

static struct relay_msg m;
static struct seal_reader reader;
static struct seal_writer writer;
static uint8_t  plain[SEAL_CHUNK_MAX + 1];
static uint8_t  wire[RELAY_WIRE_READ];
static uint8_t  meta_buf[META_PLAINTEXT_MAX + SEAL_TAG_LEN];
static char     eh_buf[RELAY_EH_MAX];
static char     aad[SEAL_AAD_MAX];
static char     meta_json[META_PLAINTEXT_MAX + 1];

/*
 * Splits "<signed clientId>,<pairId>,<seq>,<flags>".  Returns 0, or -1 when
 * malformed (569).  The signed id's signature is checked by the caller.
 */
static int
parse_relay_header(const char *v, size_t len, const char **signed_id)
{
	const char *part[4];
	size_t plen[4], i, k = 0, start = 0;

	if (len > RELAY_HEADER_MAX)
		return -1;
	for (i = 0; i <= len; i++) {
		if (i == len || v[i] == ',') {
			if (k == 4)
				return -1;
			part[k] = v + start;
			plen[k++] = i - start;
			start = i + 1;
		}
	}
	if (k != 4)
		return -1;
	if (!clientid_syntax_ok(part[0], plen[0]))
		return -1;
	if (!protocol_pair_id_ok(part[1], plen[1]))
		return -1;
	if (protocol_parse_seq(part[2], plen[2], &m.seq) != 0)
		return -1;
	if (!(plen[3] == 0 || (plen[3] == 1 && (part[3][0] == 'u' || part[3][0] == 'b')) ||
	    (plen[3] == 2 && part[3][0] == 'u' && part[3][1] == 'b')))
		return -1;
	*signed_id = part[0];
	memcpy(m.pid, part[1], plen[1]);
	m.pid[plen[1]] = '\0';
	memcpy(m.seq_dec, part[2], plen[2]);
	m.seq_dec[plen[2]] = '\0';
	memcpy(m.flags, part[3], plen[3]);
	m.flags[plen[3]] = '\0';
	m.flag_u = memchr(part[3], 'u', plen[3]) != NULL;
	m.flag_b = memchr(part[3], 'b', plen[3]) != NULL;
	return 0;
}

/* An error before acceptance: plain JSON, nothing reached the upstream. */
static void
reject(struct server *s, struct conn *c, int status, enum metrics_decode_reason mr,
    const char *why)
{
	const char *msg = relay_error_message(status);

	if (status == RS_REPLAYED)
		metrics_count_replay();
	else
		metrics_count_decode_failure(mr);
	s->reason = why;
	if (status == RS_DECODE_FAILED || status == RS_INVALID_CLIENT_ID || status == RS_REPLAYED)
		LOG_EVENT(LOG_WARN, "decode failure", LOG_S("request_id", conn_info(c)->id),
		    LOG_S("client_id", m.cid), LOG_S("pair_id", m.pid), LOG_I("status", status),
		    LOG_S("reason", why));
	conn_respond_error(c, status, msg ? msg : why, NULL, 0);
}

/* ---- response sealing ---- */

static int
sink_wire(void *arg, const uint8_t *data, size_t len)
{
	return conn_respond_body(arg, data, len) == 0 ? 0 : -1;
}

/* 1 when the field stays in the clear: the browser itself must see it. */
static int
clear_field(const char *name)
{
	static const char *clear[] = {
		"set-cookie", "cache-control", "expires", "pragma", "etag", "last-modified",
		"vary", "age",
	};
	size_t i;

	for (i = 0; i < sizeof clear / sizeof clear[0]; i++)
		if (strcasecmp(name, clear[i]) == 0)
			return 1;
	return 0;
}

/* The relay owns CORS: the upstream's own grants are dropped. */
static int
cors_field(const char *name)
{
	return strncasecmp(name, "access-control-", 15) == 0;
}

/* Adds name: value to the meta headers object, joining repeats with ", ". */
static int
meta_add(cJSON *obj, const char *name, const char *value)
{
	static char lname[UPSTREAM_HEAD_MAX], joined[UPSTREAM_HEAD_MAX];
	cJSON *old;
	size_t i, n = strlen(name);

	if (n >= sizeof lname)
		return -1;
	for (i = 0; i <= n; i++)
		lname[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
	old = cJSON_GetObjectItemCaseSensitive(obj, lname);
	if (old != NULL) {
		int w = snprintf(joined, sizeof joined, "%s, %s", old->valuestring, value);
		if (w < 0 || (size_t)w >= sizeof joined)
			return -1;
		return cJSON_ReplaceItemInObjectCaseSensitive(obj, lname,
		    cJSON_CreateString(joined)) ? 0 : -1;
	}
	return cJSON_AddStringToObject(obj, lname, value) ? 0 : -1;
}

/*
 * Starts a sealed response: status in clear, the end-to-end fields sealed in
 * the response meta, the clear ones as they are.  Returns 0, or -1 when it
 * could not be sent (the caller then cuts the connection).
 */
static int
sealed_head(struct server *s, struct conn *c, int status, const struct http_field *f,
    size_t n, int64_t plain_len)
{
	struct http_field out[UPSTREAM_FIELDS_MAX + 4];
	char relay_hdr[RELAY_HEADER_MAX + 1];
	cJSON *root, *hdrs;
	static uint8_t sealed_meta[META_PLAINTEXT_MAX + SEAL_TAG_LEN];
	uint64_t wire_len = 0;
	int64_t framing;
	size_t i, no = 0, aad_len;
	int w, sl;

	m.sealed_body = status >= 200 && status != 204 && status != 304 &&
	    strcmp(m.method, "HEAD") != 0;
	root = cJSON_CreateObject();
	hdrs = cJSON_AddObjectToObject(root, "headers");
	if (root == NULL || hdrs == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (cors_field(f[i].name))
			continue;
		if (clear_field(f[i].name)) {
			if (no < UPSTREAM_FIELDS_MAX)
				out[no++] = f[i];
			continue;
		}
		if (meta_add(hdrs, f[i].name, f[i].value) != 0)
			goto fail;
	}
	if (!cJSON_PrintPreallocated(root, meta_json, sizeof meta_json, 0))
		goto fail;
	cJSON_Delete(root);
	root = NULL;

	snprintf(m.flags, sizeof m.flags, "%s", m.sealed_body ? "b" : "");
	w = snprintf(aad, sizeof aad, "mte-relay/1 res %s %s %s %s %03d", m.cid, m.pid,
	    m.seq_dec, m.flags, status);
	if (w < 0 || (size_t)w >= sizeof aad)
		goto fail;
	aad_len = (size_t)w;
	sl = seal_meta_seal(sealed_meta, sizeof sealed_meta, m.mk_res, aad, aad_len,
	    (const uint8_t *)meta_json, strlen(meta_json));
	if (sl < 0)
		goto fail;
	b64url_encode(eh_buf, sizeof eh_buf, sealed_meta, (size_t)sl);
	w = snprintf(relay_hdr, sizeof relay_hdr, "%s,%s,%s,%s", m.signed_id, m.pid,
	    m.seq_dec, m.flags);
	if (w < 0 || (size_t)w >= sizeof relay_hdr)
		goto fail;
	out[no++] = (struct http_field){ "x-mte-relay", relay_hdr };
	out[no++] = (struct http_field){ "x-mte-relay-eh", eh_buf };
	if (m.sealed_body) {
		out[no++] = (struct http_field){ "Content-Type", "application/octet-stream" };
		if (seal_writer_init(&writer, m.mk_res, aad, aad_len) != SEAL_OK)
			goto fail;
		if (plain_len >= 0) {
			if (seal_wire_len((uint64_t)plain_len, &wire_len) != 0)
				goto fail;
			framing = (int64_t)wire_len;
		} else {
			framing = HTTP_LENGTH_CHUNKED;
		}
	} else {
		framing = 0;
	}
	if (conn_respond_head(c, status, out, no, framing) != 0)
		return -1;
	m.head_sent = 1;
	return 0;
fail:
	cJSON_Delete(root);
	s->reason = "response could not be sealed";
	return -1;
}

/* Completes a sealed response whose body (if any) was fed already. */
static void
sealed_end(struct conn *c)
{
	if (m.sealed_body && seal_writer_finish(&writer, sink_wire, c) != SEAL_OK) {
		conn_set_close(c);
		return;
	}
	conn_respond_end(c);
}

/* An error after acceptance: sealed like any response to the request. */
static void
sealed_error(struct server *s, struct conn *c, int status, const char *msg)
{
	char body[CONN_ERROR_BODY_MAX];
	int n;

	s->reason = msg;
	n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"code\":%d}", msg, status);
	if (n < 0 || (size_t)n >= sizeof body)
		n = 0;
	if (sealed_head(s, c, status, (struct http_field[]){
	    { "content-type", "application/json" } }, 1, n) != 0) {
		conn_set_close(c);
		return;
	}
	if (m.sealed_body && seal_writer_feed(&writer, (const uint8_t *)body, (size_t)n,
	    sink_wire, c) != SEAL_OK) {
		conn_set_close(c);
		return;
	}
	sealed_end(c);
}

static int
sink_head(void *arg, int status, const struct http_field *f, size_t n, int64_t len)
{
	struct server *s = arg;

	if (sealed_head(s, s->conn, status, f, n, len) == 0)
		return 0;
	m.seal_failed = !m.head_sent;
	return -1;
}

static int
sink_body(void *arg, const void *buf, size_t len)
{
	struct server *s = arg;

	if (!m.sealed_body)
		return 0;
	return seal_writer_feed(&writer, buf, len, sink_wire, s->conn) == SEAL_OK ? 0 : -1;
}

/* ---- request body ---- */

static int
sink_plain(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	if (len == 0)
		return 0;
	/* The buffer was empty before this feed and one feed completes at most
	 * one chunk, so the held byte plus len always fits. */
	if (m.held) {
		plain[m.out_len++] = m.held_byte;
		m.held = 0;
	}
	memcpy(plain + m.out_len, data, len - 1);
	m.out_len += len - 1;
	/* The last byte waits until the next chunk or the final one is
	 * authentic: the upstream never sees a complete body that was not. */
	m.held_byte = data[len - 1];
	m.held = 1;
	return 0;
}

/* Reads and opens more of the body; 0 when plaintext or the end is ready. */
static int
body_step(struct conn *c)
{
	ssize_t got = conn_body_read(c, wire, sizeof wire);

	m.out_pos = m.out_len = 0;
	if (got < 0)
		return -1;
	if (got == 0) {
		if (seal_reader_finish(&reader, sink_plain, NULL) != SEAL_OK)
			return -2;
		if (m.held) {
			plain[m.out_len++] = m.held_byte;
			m.held = 0;
		}
		m.body_done = 1;
		return 0;
	}
	return seal_reader_feed(&reader, wire, (size_t)got, sink_plain, NULL) == SEAL_OK ? 0 : -2;
}

static ssize_t
body_read(void *arg, void *buf, size_t cap)
{
	struct server *s = arg;
	size_t n;

	while (m.out_pos == m.out_len) {
		int rc;
		if (m.body_done)
			return 0;
		if ((rc = body_step(s->conn)) != 0) {
			m.body_failed = rc;
			return -1;
		}
	}
	n = m.out_len - m.out_pos;
	if (n > cap)
		n = cap;
	memcpy(buf, plain + m.out_pos, n);
	m.out_pos += n;
	return (ssize_t)n;
}

/* ---- meta ---- */

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

/*
 * Clear request fields that browsers and proxies add on their own, which a
 * page cannot seal: forwarded from the clear request as they are.  Any other
 * clear field is forwarded only when the sealed meta names it in "clear", so
 * a hop between page and relay cannot add fields to an accepted request.
 */
static int
clear_allowed(const char *name, const cJSON *clear)
{
	static const char *const browser[] = {
		"accept", "accept-language", "cache-control", "cookie", "dnt", "if-match",
		"if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
		"origin", "pragma", "range", "referer", "traceparent", "tracestate",
		"user-agent", "x-amzn-trace-id", "x-forwarded-host", "x-forwarded-port",
		"x-forwarded-proto", "x-request-id",
	};
	const cJSON *e;
	size_t i;

	if (strncasecmp(name, "sec-", 4) == 0)
		return 1;   /* sec-fetch-*, sec-ch-ua*: set by the browser only */
	for (i = 0; i < sizeof browser / sizeof browser[0]; i++)
		if (strcasecmp(name, browser[i]) == 0)
			return 1;
	cJSON_ArrayForEach(e, clear)
		if (strcasecmp(name, e->valuestring) == 0)
			return 1;
	return 0;
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

/* Fields to send upstream: the clear ones allowed above, minus the relay's
 * own, overridden by the sealed ones, then the fields the relay adds itself
 * (which neither kind may replace). */
static int
build_fields(struct server *s, const struct http_request *req, const cJSON *hdrs,
    const cJSON *clear)
{
	const size_t cap = sizeof s->forward / sizeof s->forward[0];
	const cJSON *h;
	int n = proxy_clear_fields(s, req);
	size_t i, k;

	if (n < 0)
		return -1;
	for (i = 0, k = 0; i < (size_t)n; i++) {
		const char *name = s->forward[i].name;
		/* The browser's own Accept-Encoding is not the application's:
		 * an encoding the client cannot undo must not come back sealed. */
		if (strncasecmp(name, "x-mte-relay", 11) == 0 ||
		    strcasecmp(name, "accept-encoding") == 0 ||
		    !clear_allowed(name, clear) ||
		    cJSON_GetObjectItem(hdrs, name) != NULL)
			continue;
		s->forward[k++] = s->forward[i];
	}
	cJSON_ArrayForEach(h, hdrs) {
		size_t nl = strlen(h->string);
		if (!cJSON_IsString(h) || !http_is_token(h->string, nl) ||
		    !http_is_field_value(h->valuestring, strlen(h->valuestring)))
			return -2;
		if (upstream_is_hop_by_hop(h->string, nl) || memchr(h->string, '_', nl) != NULL ||
		    strncasecmp(h->string, "x-mte-relay", 11) == 0 ||
		    proxy_is_relay_field(s, h->string, nl))
			continue;
		if (k == cap)
			return -1;
		s->forward[k++] = (struct http_field){ h->string, h->valuestring };
	}
	return proxy_add_relay_fields(s, req, k);
}

void
relay_handle(struct server *s, struct conn *c, const struct http_request *req)
{
	const struct config *cfg = s->cfg;
	const struct http_header *rh = http_header_get(req, "x-mte-relay");
	const struct http_header *eh = http_header_get(req, "x-mte-relay-eh");
	const char *signed_id = NULL, *target;
	struct store_pair pair;
	struct upstream_request ur;
	struct upstream_sink sink = { sink_head, sink_body, s };
	uint8_t mk_req[32];
	cJSON *meta = NULL, *hdrs, *url, *clear;
	uint64_t clen = 0, plain_len = 0;
	size_t target_len, aad_len;
	ssize_t ml;
	int has_body, w, nf, ml_open;
	enum store_status st;
	enum upstream_result r;

	memset(&m, 0, sizeof m);
	s->conn = c;

	/* 1. the relay header, the client id, the pair */
	if (rh->value.len > RELAY_HEADER_MAX) {
		reject(s, c, RS_BAD_RELAY_HEADER, MDR_RELAY_HEADER, "x-mte-relay too long");
		return;
	}
	if (http_header_next(req, "x-mte-relay", rh) != NULL ||
	    (eh != NULL && http_header_next(req, "x-mte-relay-eh", eh) != NULL)) {
		reject(s, c, RS_BAD_RELAY_HEADER, MDR_RELAY_HEADER, "repeated x-mte-relay field");
		return;
	}
	if (parse_relay_header(rh->value.ptr, rh->value.len, &signed_id) != 0) {
		reject(s, c, RS_BAD_RELAY_HEADER, MDR_RELAY_HEADER, "malformed x-mte-relay");
		return;
	}
	if (clientid_verify(signed_id, CLIENT_ID_SIGNED_LEN, cfg->client_id_secret,
	    strlen(cfg->client_id_secret), cfg->client_id_secret_previous,
	    cfg->client_id_secret_previous ? strlen(cfg->client_id_secret_previous) : 0,
	    m.cid) != 0) {
		memcpy(m.cid, signed_id, CLIENT_ID_HEX_LEN);
		reject(s, c, RS_INVALID_CLIENT_ID, MDR_CLIENT_ID, "client id signature invalid");
		return;
	}
	if (req->method.len >= sizeof m.method) {
		reject(s, c, RS_BAD_RELAY_HEADER, MDR_RELAY_HEADER, "method too long");
		return;
	}
	memcpy(m.method, req->method.ptr, req->method.len);
	if (m.flag_u && !(req->target.len == 1 && req->target.ptr[0] == '/')) {
		reject(s, c, RS_BAD_RELAY_HEADER, MDR_RELAY_HEADER, "flag u with a request-target other than /");
		return;
	}
	if (req->absolute_form) {
		/* The target is forwarded as it is: it must be a path. */
		reject(s, c, RS_BAD_RELAY_HEADER, MDR_RELAY_HEADER, "absolute-form request-target");
		return;
	}
	has_body = req->chunked || (req->has_content_length && req->content_length > 0);
	if (has_body && !m.flag_b) {
		reject(s, c, RS_BAD_RELAY_HEADER, MDR_RELAY_HEADER, "body without flag b");
		return;
	}
	st = store_pair_get(m.cid, m.pid, &pair);
	if (st == STORE_NOT_FOUND) {
		reject(s, c, RS_STATE_NOT_FOUND, MDR_PAIR_NOT_FOUND, "pair not found");
		return;
	}
	if (st != STORE_OK) {
		s->reason = "state store unavailable";
		conn_respond_error(c, 503, "state store unavailable", NULL, 0);
		return;
	}
	if (m.flag_b && conn_body_known_length(c, &clen)) {
		/* A length no sealed body has: nothing to open (562, as a failed meta). */
		if (clen > INT64_MAX || seal_plain_len(clen, &plain_len) != 0) {
			crypto_wipe(&pair, sizeof pair);
			reject(s, c, RS_DECODE_FAILED, MDR_BODY_LENGTH, "body length is not a sealed body length");
			return;
		}
		m.wire_known = 1;
		m.wire_len = clen;
	}

	/* 2. open the meta chunk: authenticates seq, flags, method and target */
	kdf_message_key(mk_req, pair.k_req, KDF_REQ, m.seq);
	kdf_message_key(m.mk_res, pair.k_res, KDF_RES, m.seq);
	crypto_wipe(&pair, sizeof pair);
	w = snprintf(aad, sizeof aad, "mte-relay/1 req %s %s %s %s %s %.*s", m.cid, m.pid,
	    m.seq_dec, m.flags, m.method, m.flag_u ? 0 : (int)req->target.len, req->target.ptr);
	if (w < 0 || (size_t)w >= sizeof aad) {
		crypto_wipe(mk_req, sizeof mk_req);
		reject(s, c, RS_DECODE_FAILED, MDR_TARGET_TOO_LONG, "request-target too long");
		return;
	}
	aad_len = (size_t)w;
	ml = -1;
	if (eh != NULL && eh->value.len <= RELAY_EH_MAX)
		ml = b64url_decode(meta_buf, sizeof meta_buf, eh->value.ptr, eh->value.len);
	ml_open = ml < 0 ? -1 : seal_meta_open(meta_buf, sizeof meta_buf, mk_req, aad, aad_len,
	    meta_buf, (size_t)ml);
	if (ml_open < 0) {
		crypto_wipe(mk_req, sizeof mk_req);
		reject(s, c, RS_DECODE_FAILED, ml < 0 ? MDR_META_MISSING : MDR_META_AUTH,
		    eh == NULL ? "missing x-mte-relay-eh" :
		    eh->value.len > RELAY_EH_MAX ? "x-mte-relay-eh too large" :
		    ml < 0 ? "x-mte-relay-eh is not base64url" : "meta failed authentication");
		return;
	}

	/* 3. the replay window: only now is the request accepted */
	st = store_window_accept(m.cid, m.pid, m.seq);
	if (st != STORE_OK) {
		crypto_wipe(mk_req, sizeof mk_req);
		crypto_wipe(meta_buf, sizeof meta_buf);
		if (st == STORE_REPLAY)
			reject(s, c, RS_REPLAYED, MDR_COUNT, "replayed or stale seq");
		else if (st == STORE_NOT_FOUND)
			reject(s, c, RS_STATE_NOT_FOUND, MDR_PAIR_NOT_FOUND, "pair not found");
		else {
			s->reason = "state store unavailable";
			conn_respond_error(c, 503, "state store unavailable", NULL, 0);
		}
		return;
	}
	clientid_sign(m.signed_id, m.cid, cfg->client_id_secret, strlen(cfg->client_id_secret));
	if (log_debug_enabled())
		LOG_EVENT(LOG_DEBUG, "protected request accepted", LOG_S("request_id", conn_info(c)->id),
		    LOG_S("client_id", m.cid), LOG_S("pair_id", m.pid), LOG_S("seq", m.seq_dec),
		    LOG_S("flags", m.flags), LOG_I("wire_body_len", m.wire_known ? (long long)m.wire_len : -1));

	/* From here on every answer is sealed. */
	meta = json_has_nul_escape((const char *)meta_buf, (size_t)ml_open) ? NULL :
	    cJSON_ParseWithLength((const char *)meta_buf, (size_t)ml_open);
	crypto_wipe(meta_buf, (size_t)ml_open);
	hdrs = meta ? cJSON_GetObjectItemCaseSensitive(meta, "headers") : NULL;
	url = meta ? cJSON_GetObjectItemCaseSensitive(meta, "url") : NULL;
	clear = meta ? cJSON_GetObjectItemCaseSensitive(meta, "clear") : NULL;
	if (meta == NULL || !cJSON_IsObject(meta) || (hdrs != NULL && !cJSON_IsObject(hdrs)) ||
	    !clear_list_ok(clear) ||
	    (m.flag_u && (!cJSON_IsString(url) ||
	    !url_ok(url->valuestring, strlen(url->valuestring)))) ||
	    (!m.flag_u && url != NULL) ||
	    (hdrs != NULL && cJSON_GetArraySize(hdrs) > HTTP_HEADER_COUNT_MAX)) {
		crypto_wipe(mk_req, sizeof mk_req);
		metrics_count_decode_failure(MDR_META_INVALID);
		sealed_error(s, c, 400, "invalid request meta");
		goto done;
	}
	if (m.flag_u) {
		target = url->valuestring;
		target_len = strlen(target);
	} else {
		target = req->target.ptr;
		target_len = req->target.len;
		if (!route_path_is_clean(req->path.ptr, req->path.len)) {
			crypto_wipe(mk_req, sizeof mk_req);
			sealed_error(s, c, 400, "request path has dot segments or encoded separators");
			goto done;
		}
	}
	if (cfg->mte_routes.count > 0) {
		const char *q = memchr(target, '?', target_len);
		if (!route_list_match(&cfg->mte_routes, target, q ? (size_t)(q - target) : target_len)) {
			crypto_wipe(mk_req, sizeof mk_req);
			sealed_error(s, c, 404, "not found");
			goto done;
		}
	}
	nf = build_fields(s, req, hdrs, clear);
	if (nf < 0) {
		crypto_wipe(mk_req, sizeof mk_req);
		sealed_error(s, c, 400, nf == -2 ? "invalid header in request meta" :
		    "too many request header fields");
		goto done;
	}

	/* 4. stream the body: opened chunk by chunk, forwarded as it authenticates */
	memset(&ur, 0, sizeof ur);
	if (m.flag_b) {
		if (seal_reader_init(&reader, mk_req, aad, aad_len) != SEAL_OK) {
			crypto_wipe(mk_req, sizeof mk_req);
			sealed_error(s, c, 500, "body could not be opened");
			goto done;
		}
		ur.has_body = 1;
		ur.body_len = m.wire_known ? (int64_t)plain_len : -1;
		ur.body_read = body_read;
		ur.body_arg = s;
		if (m.wire_known && plain_len == 0) {
			/* An empty body is verified before the upstream hears of it. */
			uint8_t one[1];
			if (body_read(s, one, sizeof one) != 0) {
				seal_reader_wipe(&reader);
				crypto_wipe(mk_req, sizeof mk_req);
				LOG_EVENT(LOG_WARN, "decode failure", LOG_S("request_id", conn_info(c)->id),
				    LOG_S("client_id", m.cid), LOG_S("pair_id", m.pid),
				    LOG_S("reason", "body failed authentication"));
				metrics_count_decode_failure(MDR_BODY_AUTH);
				sealed_error(s, c, RS_DECODE_FAILED, "failed to decode");
				goto done;
			}
		}
	}
	crypto_wipe(mk_req, sizeof mk_req);
	ur.method = m.method;
	ur.base = cfg->upstream;
	ur.target = target;
	ur.target_len = target_len;
	ur.fields = s->forward;
	ur.nfields = (size_t)nf;
	ur.timeout_s = cfg->upstream_timeout;

	r = upstream_perform(&ur, &sink, &w);
	if (m.flag_b)
		seal_reader_wipe(&reader);
	if (r == UPSTREAM_OK) {
		sealed_end(c);
		goto done;
	}
	if (r == UPSTREAM_BODY_FAILED && m.body_failed == -2)
		metrics_count_decode_failure(MDR_BODY_AUTH);
	if (r == UPSTREAM_BODY_FAILED && m.body_failed == -2)
		LOG_EVENT(LOG_WARN, "decode failure", LOG_S("request_id", conn_info(c)->id),
		    LOG_S("client_id", m.cid), LOG_S("pair_id", m.pid),
		    LOG_S("reason", "body chunk failed authentication or final chunk missing"));
	if (m.seal_failed) {
		/* Nothing was sent: the upstream's head does not fit in a meta item. */
		LOG_EVENT(LOG_WARN, "upstream request failed", LOG_S("request_id", conn_info(c)->id),
		    LOG_S("reason", "upstream response head too large to seal"));
		sealed_error(s, c, 502, "upstream response head too large to seal");
		goto done;
	}
	if (m.head_sent) {
		/* Cut short without the final chunk: the client reports truncation. */
		s->reason = upstream_result_text(r);
		conn_set_close(c);
		goto done;
	}
	switch (r) {
	case UPSTREAM_TIMEOUT:
		LOG_EVENT(LOG_WARN, "upstream request failed", LOG_S("request_id", conn_info(c)->id),
		    LOG_S("reason", upstream_result_text(r)));
		sealed_error(s, c, 504, "upstream timed out");
		break;
	case UPSTREAM_BODY_FAILED:
		if (m.body_failed == -2)
			sealed_error(s, c, RS_DECODE_FAILED, "failed to decode");
		else if (conn_body_error(c) == 499)
			conn_set_close(c);
		else
			sealed_error(s, c, conn_body_error(c) ? conn_body_error(c) : 400,
			    "request body could not be read");
		break;
	case UPSTREAM_SINK_FAILED:
		conn_set_close(c);
		break;
	default:
		LOG_EVENT(LOG_WARN, "upstream request failed", LOG_S("request_id", conn_info(c)->id),
		    LOG_S("reason", upstream_result_text(r)));
		sealed_error(s, c, 502, "upstream unreachable");
		break;
	}
done:
	if (m.sealed_body)
		seal_writer_wipe(&writer);
	crypto_wipe(m.mk_res, sizeof m.mk_res);
	/* Decrypted request fields and body, and response fields before sealing. */
	json_wipe(meta);
	cJSON_Delete(meta);
	crypto_wipe(plain, sizeof plain);
	crypto_wipe(meta_json, sizeof meta_json);
}
