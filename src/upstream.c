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
#include "decimal.h"
#include "forward.h"
#include "log.h"
#include "metrics.h"

static CURL *easy;
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
	size_t     head_used;
	size_t     head_bytes;          /* raw bytes of the head so far */
	size_t     field_lines;         /* field lines of the head so far */
	size_t     nfields;
	int64_t    content_length;
	double     started;             /* for the time to the response head */
	char       conn_tokens[512];    /* names listed in the upstream's Connection field */
};

/* The response head of the transfer in progress, NUL-separated strings. */
static char              head_buf[UPSTREAM_HEAD_MAX];
static struct http_field head_fields[UPSTREAM_FIELDS_MAX];

int
upstream_init(const char *ca_file)
{
	if (ca_file != NULL)
		trust_file = ca_file;
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

/* Builds "Name: value" lines; curl needs "Name;" for an empty value. */
static struct curl_slist *
add_field(struct curl_slist *list, const char *name, const char *value, int *fail)
{
	static char line[HTTP_HEADERS_MAX];
	struct curl_slist *next;
	int n;

	if (value[0] == '\0')
		n = snprintf(line, sizeof line, "%s;", name);
	else
		n = snprintf(line, sizeof line, "%s: %s", name, value);
	if (n < 0 || (size_t)n >= sizeof line) {
		*fail = 1;
		return list;
	}
	next = curl_slist_append(list, line);
	if (next == NULL)
		*fail = 1;
	return next ? next : list;
}

enum upstream_result
upstream_perform(const struct upstream_request *req, const struct upstream_sink *sink,
    int *head_delivered)
{
	struct curl_slist *hdrs = NULL;
	struct xfer x;
	char url[8192 + HTTP_REQUEST_LINE_MAX];
	int fail = 0, has_accept = 0, n;
	size_t i;
	CURLcode rc;

	*head_delivered = 0;
	if (easy == NULL && (easy = curl_easy_init()) == NULL)
		return UPSTREAM_UNREACHABLE;
	memset(&x, 0, sizeof x);
	x.req = req;
	x.sink = sink;
	x.content_length = -1;

	n = snprintf(url, sizeof url, "%s%.*s", req->base, (int)req->target_len, req->target);
	if (n < 0 || (size_t)n >= sizeof url)
		return UPSTREAM_UNREACHABLE;

	for (i = 0; i < req->nfields; i++) {
		if (http_name_eq(req->fields[i].name, strlen(req->fields[i].name), "accept"))
			has_accept = 1;
		hdrs = add_field(hdrs, req->fields[i].name, req->fields[i].value, &fail);
	}
	/* Remove what curl would add on its own: the upstream sees the client's request. */
	hdrs = add_field(hdrs, "Expect", "", &fail);
	if (!has_accept)
		hdrs = curl_slist_append(hdrs, "Accept:");
	if (req->has_body && req->body_len < 0)
		hdrs = add_field(hdrs, "Transfer-Encoding", "chunked", &fail);
	if (fail || hdrs == NULL) {
		curl_slist_free_all(hdrs);
		return UPSTREAM_UNREACHABLE;
	}
	/* "Expect;" above sent an empty Expect field; curl's "Expect:" form removes it. */
	{
		struct curl_slist *s;
		for (s = hdrs; s != NULL; s = s->next)
			if (strcmp(s->data, "Expect;") == 0)
				s->data[6] = ':';
	}

	curl_easy_reset(easy);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	/* The one bundle, whichever libcurl this is (Debian's also reads a CA
	 * directory by default; the static build has none). */
	curl_easy_setopt(easy, CURLOPT_CAINFO, trust_file);
	curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, (long)UPSTREAM_CONNECT_TIMEOUT_S);
	/* A stall, not a total time: large bodies may take as long as they need. */
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (long)req->timeout_s);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
	/* Reads of up to a chunk: a streamed answer (PROTOCOL.md section 13) goes
	 * out as one record per read, so records grow to 64 KiB under a steady
	 * flow and stay small when the upstream pauses. */
	curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, (long)SEAL_CHUNK_MAX);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, on_socket_open);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_socket_close);
	curl_easy_setopt(easy, CURLOPT_HTTP_TRANSFER_DECODING, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	if (strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
	if (req->has_body) {
		curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(easy, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(easy, CURLOPT_READDATA, &x);
		if (req->body_len >= 0)
			curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
	}

	x.started = clock_s();
	rc = curl_easy_perform(easy);
	if (!x.head_done)
		metrics_observe_upstream_latency(clock_s() - x.started);
	curl_slist_free_all(hdrs);
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
