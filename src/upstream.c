/* upstream.c - libcurl streaming to and from UPSTREAM (see upstream.h).
 * The only module that includes curl. */
#include "upstream.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "crypto/wipe.h"
#include "decimal.h"
#include "forward.h"
#include "log.h"
#include "metrics.h"

static CURL *easy;
static CURLM *multi;    /* drives easy; holds the kept-alive connection */
static const char *trust_file = UPSTREAM_SYSTEM_CA_FILE;

/* State of one transfer; lives on upstream_perform's stack. */
static int upstream_fd = -1;    /* the socket of the kept-alive connection */

struct xfer {
	const struct upstream_request *req;
	const struct upstream_sink    *sink;
	int        status;
	int        head_done;
	int        body_failed;
	int        sink_failed;
	int        bad_response;
	int        sends;               /* times curl sent the request (a retry: 2) */
	int        resend_refused;
	size_t     head_used;
	size_t     head_bytes;          /* raw bytes of the head so far */
	size_t     field_lines;         /* field lines of the head so far */
	size_t     nfields;
	int64_t    content_length;
	double     started;             /* for the time to the response head */
	char       conn_tokens[512];    /* names listed in the upstream's Connection field */
};

/* A small request body, read whole before the transfer (see
 * upstream_perform); it may be a protected request's plaintext, so the bytes
 * used are wiped after each transfer. */
static unsigned char inline_body[UPSTREAM_INLINE_BODY_MAX];

/* The response head of the transfer in progress, NUL-separated strings. */
static char              head_buf[UPSTREAM_HEAD_MAX];
static struct http_field head_fields[UPSTREAM_FIELDS_MAX];

/* 1 when the environment names a proxy for curl (curl's own variables;
 * the lower-case http_proxy only, as curl reads it).  Without one, each
 * transfer is told so (CURLOPT_NOPROXY "*"): curl would otherwise read five
 * of them per request.  The environment does not change after start. */
static int env_has_proxy;

static int
proxy_in_env(void)
{
	static const char *const names[] = { "http_proxy", "https_proxy", "HTTPS_PROXY",
		"all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY" };
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		const char *v = getenv(names[i]);
		if (v != NULL && v[0] != '\0')
			return 1;
	}
	return 0;
}

int
upstream_init(const char *ca_file)
{
	if (ca_file != NULL)
		trust_file = ca_file;
	env_has_proxy = proxy_in_env();
	/* The easy handle (and its kept-alive connection) comes with the first
	 * request: a spare worker that never serves one holds none. */
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
upstream_close(void)
{
	if (easy != NULL)
		curl_easy_cleanup(easy);
	easy = NULL;
	if (multi != NULL)
		curl_multi_cleanup(multi);
	multi = NULL;
	curl_global_cleanup();
}

/* 1 when name appears in the comma-separated, lower-case token list. */
static int
in_token_list(const char *list, const char *name, size_t len)
{
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == len && strncasecmp(p, name, len) == 0)
			return 1;
		p += n + (end ? 1 : 0);
	}
	return 0;
}

static void
trim(char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) { (*s)++; (*n)--; }
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' ||
	    (*s)[*n - 1] == '\r' || (*s)[*n - 1] == '\n'))
		(*n)--;
}

/* Appends n bytes plus a NUL to head_buf; returns the copy or NULL. */
static char *
head_store(struct xfer *x, const char *s, size_t n)
{
	char *dst;

	if (n + 1 > sizeof head_buf - x->head_used)
		return NULL;
	dst = head_buf + x->head_used;
	memcpy(dst, s, n);
	dst[n] = '\0';
	x->head_used += n + 1;
	return dst;
}

static void
lower_tokens(char *dst, size_t cap, const char *v, size_t n)
{
	size_t i, o = strlen(dst);

	for (i = 0; i < n && o + 2 < cap; i++) {
		char c = v[i];
		if (c == ' ' || c == '\t')
			continue;
		dst[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	if (o + 1 < cap && o > 0 && dst[o - 1] != ',')
		dst[o++] = ',';
	dst[o] = '\0';
}

static size_t
on_header(char *line, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nitems, i, out;
	char *name, *value, *colon;
	size_t nlen, vlen;

	if (x->head_done)
		return n;   /* trailers of a chunked response: dropped */
	if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* A status line starts a head (again, after a 1xx). */
		const char *sp = memchr(line, ' ', n);
		x->status = 0;
		x->nfields = 0;
		x->head_used = 0;
		x->head_bytes = n;
		x->field_lines = 0;
		x->content_length = -1;
		x->conn_tokens[0] = '\0';
		if (sp == NULL || (size_t)(line + n - sp) < 4)
			goto bad;
		for (i = 1; i <= 3; i++) {
			if (sp[i] < '0' || sp[i] > '9')
				goto bad;
			x->status = x->status * 10 + (sp[i] - '0');
		}
		return n;
	}
	if (x->status == 0)
		goto bad;
	/* The limits count the head as sent: status line, fields, blank line. */
	x->head_bytes += n;
	if (x->head_bytes > UPSTREAM_HEAD_MAX)
		goto bad;
	if (n <= 2 && (line[0] == '\r' || line[0] == '\n')) {
		if (x->status < 200)
			return n;   /* interim response: wait for the final head */
		/* Drop the fields the Connection field named: they are hop-by-hop too. */
		for (i = 0, out = 0; i < x->nfields; i++) {
			if (x->conn_tokens[0] != '\0' && in_token_list(x->conn_tokens,
			    head_fields[i].name, strlen(head_fields[i].name)))
				continue;
			head_fields[out++] = head_fields[i];
		}
		x->nfields = out;
		metrics_observe_upstream_latency(clock_s() - x->started);
		x->head_done = 1;
		if (x->sink->on_head(x->sink->arg, x->status, head_fields, x->nfields,
		    x->content_length) != 0) {
			x->sink_failed = 1;
			return 0;
		}
		return n;
	}
	if (++x->field_lines > UPSTREAM_FIELDS_MAX)
		goto bad;
	colon = memchr(line, ':', n);
	if (colon == NULL || colon == line)
		goto bad;
	name = line;
	nlen = (size_t)(colon - line);
	value = colon + 1;
	vlen = n - nlen - 1;
	trim(&value, &vlen);
	if (!http_is_token(name, nlen) || !http_is_field_value(value, vlen))
		goto bad;
	if (http_name_eq(name, nlen, "content-length")) {
		uint64_t v = 0;
		if (vlen > 19 || decimal_parse(value, vlen, INT64_MAX, &v) != 0)
			goto bad;
		x->content_length = (int64_t)v;
		return n;
	}
	if (http_name_eq(name, nlen, "connection"))
		lower_tokens(x->conn_tokens, sizeof x->conn_tokens, value, vlen);
	/* Framing is ours; conn writes its own Date; the relay owns CORS. */
	if (forward_response_kind(name, nlen) == FORWARD_DROP)
		return n;
	if (x->nfields == UPSTREAM_FIELDS_MAX)
		goto bad;
	head_fields[x->nfields].name = head_store(x, name, nlen);
	head_fields[x->nfields].value = head_store(x, value, vlen);
	if (head_fields[x->nfields].name == NULL || head_fields[x->nfields].value == NULL)
		goto bad;
	x->nfields++;
	return n;
bad:
	x->bad_response = 1;
	return 0;   /* aborts the transfer */
}

int
upstream_more_ready(void)
{
	struct pollfd p;

	if (upstream_fd < 0)
		return 0;
	p.fd = upstream_fd;
	p.events = POLLIN;
	p.revents = 0;
	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

/* Which socket the transfer reads: curl opens and closes them itself, and
 * does not report the one in use during a transfer. */
static int
on_socket_open(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	(void)purpose;
	upstream_fd = (int)fd;
	(void)arg;
	return CURL_SOCKOPT_OK;
}

static int
on_socket_close(void *arg, curl_socket_t fd)
{
	(void)arg;
	if ((int)fd == upstream_fd)
		upstream_fd = -1;
	return close(fd);
}

static size_t
on_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (!x->head_done) {
		x->bad_response = 1;
		return 0;
	}
	if (x->sink->on_body(x->sink->arg, data, n) != 0) {
		x->sink_failed = 1;
		return 0;
	}
	return n;
}

/*
 * Before curl sends the request on a connection.  When a kept-alive
 * connection dies before any byte of the answer, curl sends the request
 * again on a new one; the upstream may have run it the first time, so a
 * request that is not idempotent is not sent twice (the caller gets 502).
 */
static int
on_prereq(void *arg, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
    int conn_local_port)
{
	struct xfer *x = arg;

	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	if (++x->sends > 1) {
		int idempotent = http_method_idempotent(x->req->method);

		metrics_count_upstream_resend(!idempotent);
		if (!idempotent) {
			x->resend_refused = 1;
			return CURL_PREREQFUNC_ABORT;
		}
	}
	return CURL_PREREQFUNC_OK;
}

static size_t
on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	ssize_t got = x->req->body_read(x->req->body_arg, buf, size * nitems);

	if (got < 0) {
		x->body_failed = 1;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)got;
}

/*
 * Reads the whole body (req->body_len bytes, at most UPSTREAM_INLINE_BODY_MAX)
 * into inline_body, then reads once more, which must give the end: a source
 * checks its last bytes there (a protected body's final chunk).  A body that
 * fails is known before the upstream is contacted, so none of it reaches the
 * upstream.  Returns its length, or -1 (the source failed or gave more or
 * fewer bytes than announced; what was read is wiped).
 */
static ssize_t
read_inline_body(const struct upstream_request *req)
{
	size_t want = (size_t)req->body_len, have = 0;
	unsigned char extra;
	ssize_t got;

	while (have < want) {
		got = req->body_read(req->body_arg, inline_body + have, want - have);
		if (got <= 0)
			goto failed;
		have += (size_t)got;
	}
	if (req->body_read(req->body_arg, &extra, 1) != 0)
		goto failed;
	return (ssize_t)have;
failed:
	crypto_wipe(inline_body, have);
	return -1;
}

/*
 * The request's header lines, built without an allocation: curl only reads
 * the list it is given, so its nodes and text live in this worker's static
 * memory (curl_slist_append would make two allocations per line).  Text:
 * every forwarded string (the sealed meta's, FORWARD_BUF's, HEADERS') and
 * ": " with its NUL per line.
 */
#define LINES_MAX      (FORWARD_FIELDS_MAX + 3)
#define LINES_TEXT_MAX (META_PLAINTEXT_MAX + FORWARD_BUF + CONFIG_VALUE_MAX + 4 * LINES_MAX)

struct header_lines {
	struct curl_slist node[LINES_MAX];
	size_t            n;
	char              text[LINES_TEXT_MAX];
	size_t            used;
	int               failed;
};

static struct header_lines lines;

/* Appends one line: "Name: value", or "Name;" (curl's form of an empty
 * value), or the raw text when value is NULL ("Name:" removes a field curl
 * would add). */
static void
add_line(struct header_lines *l, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = value != NULL ? strlen(value) : 0, need;
	char *p = l->text + l->used;

	need = nl + (value == NULL ? 0 : vl ? 2 + vl : 1) + 1;
	if (l->failed || l->n == LINES_MAX || need > sizeof l->text - l->used) {
		l->failed = 1;
		return;
	}
	memcpy(p, name, nl);
	if (value != NULL && vl == 0) {
		p[nl] = ';';
		nl++;
	} else if (value != NULL) {
		p[nl] = ':';
		p[nl + 1] = ' ';
		memcpy(p + nl + 2, value, vl);
		nl += 2 + vl;
	}
	p[nl] = '\0';
	l->node[l->n] = (struct curl_slist){ .data = p, .next = NULL };
	if (l->n > 0)
		l->node[l->n - 1].next = &l->node[l->n];
	l->n++;
	l->used += nl + 1;
}

/* curl_easy_perform's loop, over a multi handle of our own: curl_multi_wait
 * (curl's timers bound each wait, as in easy_perform), not curl_multi_poll,
 * which also polls curl's wake-up socket pair before and during every
 * transfer; nothing here wakes a transfer from outside.  The connection
 * cache is multi's, kept between requests. */
static CURLcode
run_transfer(void)
{
	CURLcode rc = CURLE_OK;
	CURLMcode mc;
	CURLMsg *msg;
	int running = 0, queued;

	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
		return CURLE_FAILED_INIT;
	mc = curl_multi_perform(multi, &running);
	while (mc == CURLM_OK && running > 0) {
		mc = curl_multi_wait(multi, NULL, 0, 1000, NULL);
		if (mc == CURLM_OK)
			mc = curl_multi_perform(multi, &running);
	}
	if (mc != CURLM_OK)
		rc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
	else
		while ((msg = curl_multi_info_read(multi, &queued)) != NULL)
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
				rc = msg->data.result;
	/* Also drops any message of easy still queued. */
	curl_multi_remove_handle(multi, easy);
	return rc;
}

/* The easy handle with the options that are the same for every request,
 * set once (setting them per request cost about 2,400 instructions: curl
 * copies and parses the strings each time).  NULL when curl has no memory. */
static CURL *
open_easy(void)
{
	CURL *e = curl_easy_init();

	if (e == NULL)
		return NULL;
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, env_has_proxy ? NULL : "*");
	/* The one bundle, whichever libcurl this is (Debian's also reads a CA
	 * directory by default; the static build has none). */
	curl_easy_setopt(e, CURLOPT_CAINFO, trust_file);
	curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)UPSTREAM_CONNECT_TIMEOUT_S);
	/* A stall, not a total time: large bodies may take as long as they need. */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	/* Reads of up to a chunk: a streamed answer (PROTOCOL.md section 13) goes
	 * out as one record per read, so records grow to 64 KiB under a steady
	 * flow and stay small when the upstream pauses. */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)SEAL_CHUNK_MAX);
	curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_socket_open);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_socket_close);
	curl_easy_setopt(e, CURLOPT_HTTP_TRANSFER_DECODING, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
	return e;
}

enum upstream_result
upstream_perform(const struct upstream_request *req, const struct upstream_sink *sink,
    int *head_delivered)
{
	struct xfer x;
	char url[8192 + HTTP_REQUEST_LINE_MAX];
	int has_accept = 0, has_content_type = 0;
	ssize_t inline_len;
	size_t i, base_len;
	CURLcode rc;

	*head_delivered = 0;
	if (easy == NULL && (easy = open_easy()) == NULL)
		return UPSTREAM_UNREACHABLE;
	if (multi == NULL && (multi = curl_multi_init()) == NULL)
		return UPSTREAM_UNREACHABLE;
	memset(&x, 0, sizeof x);
	x.req = req;
	x.sink = sink;
	x.content_length = -1;

	base_len = strlen(req->base);
	if (base_len + req->target_len >= sizeof url)
		return UPSTREAM_UNREACHABLE;
	memcpy(url, req->base, base_len);
	if (req->target_len > 0)
		memcpy(url + base_len, req->target, req->target_len);
	url[base_len + req->target_len] = '\0';

	lines.n = lines.used = 0;
	lines.failed = 0;
	for (i = 0; i < req->nfields; i++) {
		size_t len = strlen(req->fields[i].name);
		if (http_name_eq(req->fields[i].name, len, "accept"))
			has_accept = 1;
		if (http_name_eq(req->fields[i].name, len, "content-type"))
			has_content_type = 1;
		add_line(&lines, req->fields[i].name, req->fields[i].value);
	}
	/* Remove what curl would add on its own: the upstream sees the client's request. */
	if (req->expect_continue && req->has_body)
		add_line(&lines, "Expect", "100-continue");
	else
		add_line(&lines, "Expect:", NULL);
	if (!has_accept)
		add_line(&lines, "Accept:", NULL);
	if (req->has_body && req->body_len < 0)
		add_line(&lines, "Transfer-Encoding", "chunked");
	inline_len = -1;
	/* Not with 100-continue: that caller wants a refusal before its body
	 * is pulled (the outbound mode retries without holding the body). */
	if (req->has_body && !req->expect_continue && req->body_len > 0 &&
	    req->body_len <= UPSTREAM_INLINE_BODY_MAX) {
		/* Without a Content-Type of the client's, curl would add its form
		 * type to a body it is handed whole. */
		if (!has_content_type)
			add_line(&lines, "Content-Type:", NULL);
		inline_len = read_inline_body(req);
		if (inline_len < 0)
			return UPSTREAM_BODY_FAILED;
	}
	if (lines.failed) {
		crypto_wipe(inline_body, inline_len > 0 ? (size_t)inline_len : 0);
		return UPSTREAM_UNREACHABLE;
	}

	/* No curl_easy_reset: the handle keeps what open_easy set, every other
	 * option is set here for each request (both ways where requests
	 * differ), and a reset would free and make again what the handle keeps
	 * (its buffers) for nothing. */
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, &lines.node[0]);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (long)req->timeout_s);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &x);
	/* The method options in this order: POSTFIELDS makes the method POST,
	 * UPLOAD 0 GET and 1 PUT, NOBODY 1 HEAD and 0 a HEAD back into GET;
	 * CUSTOMREQUEST names the method sent whichever they chose. */
	if (inline_len > 0) {
		/* A body handed whole goes out with the head in one write (one
		 * wake-up of the upstream, not two). */
		curl_easy_setopt(easy, CURLOPT_UPLOAD, 0L);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)inline_len);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, inline_body);
	} else {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
		curl_easy_setopt(easy, CURLOPT_UPLOAD, req->has_body ? 1L : 0L);
	}
	curl_easy_setopt(easy, CURLOPT_NOBODY, strcmp(req->method, "HEAD") == 0 ? 1L : 0L);
	/* Set for every request: the handle keeps options between them. */
	curl_easy_setopt(easy, CURLOPT_EXPECT_100_TIMEOUT_MS,
	    req->expect_continue ? (long)req->timeout_s * 1000L : 1000L);
	curl_easy_setopt(easy, CURLOPT_READDATA, &x);
	curl_easy_setopt(easy, CURLOPT_PREREQDATA, &x);
	curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)(req->has_body && req->body_len >= 0 && inline_len < 0 ? req->body_len : -1));

	x.started = clock_s();
	rc = run_transfer();
	if (inline_len > 0) {
		crypto_wipe(inline_body, (size_t)inline_len);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
	}
	if (!x.head_done)
		metrics_observe_upstream_latency(clock_s() - x.started);
	*head_delivered = x.head_done;

	if (rc == CURLE_OK && x.head_done)
		return UPSTREAM_OK;
	if (x.body_failed)
		return UPSTREAM_BODY_FAILED;
	if (x.sink_failed)
		return UPSTREAM_SINK_FAILED;
	if (x.bad_response || (rc == CURLE_OK && !x.head_done))
		return UPSTREAM_BAD_RESPONSE;
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return UPSTREAM_TIMEOUT;
	if (log_debug_enabled())
		LOG_EVENT(LOG_DEBUG, "upstream transfer failed",
		    LOG_S("curl", curl_easy_strerror(rc)));
	return UPSTREAM_UNREACHABLE;
}
