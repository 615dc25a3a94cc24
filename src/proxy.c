/* proxy.c - pass-through routes: the request and the response go through
 * untouched, both bodies streamed (see server.h). */
#include "server.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "metrics.h"
#include "upstream.h"

/* 1 when the Connection field of req lists name (so it is hop-by-hop too). */
static int
named_by_connection(const struct http_request *req, const char *name, size_t len)
{
	const struct http_header *h = NULL;

	while ((h = http_header_next(req, "connection", h)) != NULL) {
		size_t i = 0;
		while (i < h->value.len) {
			size_t start;
			while (i < h->value.len && (h->value.ptr[i] == ' ' || h->value.ptr[i] == ','))
				i++;
			start = i;
			while (i < h->value.len && h->value.ptr[i] != ',' && h->value.ptr[i] != ' ')
				i++;
			if (i - start == len && strncasecmp(h->value.ptr + start, name, len) == 0)
				return 1;
		}
	}
	return 0;
}

/* Copies n bytes plus NUL into the forward buffer. */
static const char *
keep(struct server *s, const char *p, size_t n)
{
	char *dst;

	if (n + 1 > sizeof s->forward_buf - s->forward_used)
		return NULL;
	dst = s->forward_buf + s->forward_used;
	memcpy(dst, p, n);
	dst[n] = '\0';
	s->forward_used += n + 1;
	return dst;
}

int
proxy_is_relay_field(const struct server *s, const char *name, size_t len)
{
	size_t i;

	if (len == 15 && strncasecmp(name, "x-forwarded-for", 15) == 0)
		return 1;
	for (i = 0; i < s->cfg->headers_count; i++)
		if (strlen(s->cfg->headers[i].name) == len &&
		    strncasecmp(s->cfg->headers[i].name, name, len) == 0)
			return 1;
	return 0;
}

int
proxy_clear_fields(struct server *s, const struct http_request *req)
{
	const size_t cap = sizeof s->forward / sizeof s->forward[0];
	size_t i, n = 0;

	s->forward_used = 0;
	for (i = 0; i < req->header_count; i++) {
		const struct http_header *h = &req->headers[i];
		/* A '_' in a name is dropped as nginx does: some upstreams read
		 * "Transfer_Encoding" as "Transfer-Encoding", undoing our checks.
		 * The relay's own fields are never taken from the client. */
		if (upstream_is_hop_by_hop(h->name.ptr, h->name.len) ||
		    memchr(h->name.ptr, '_', h->name.len) != NULL ||
		    (h->name.len >= 11 && strncasecmp(h->name.ptr, "x-mte-relay", 11) == 0) ||
		    named_by_connection(req, h->name.ptr, h->name.len) ||
		    proxy_is_relay_field(s, h->name.ptr, h->name.len))
			continue;
		if (n == cap)
			return -1;
		s->forward[n].name = keep(s, h->name.ptr, h->name.len);
		s->forward[n].value = keep(s, h->value.ptr, h->value.len);
		if (s->forward[n].name == NULL || s->forward[n].value == NULL)
			return -1;
		n++;
	}
	return (int)n;
}

int
proxy_add_relay_fields(struct server *s, const struct http_request *req, size_t n)
{
	const size_t cap = sizeof s->forward / sizeof s->forward[0];
	static char line[HTTP_HEADERS_MAX];
	const struct http_header *xff = NULL;
	size_t i, len = 0;

	for (i = 0; i < s->cfg->headers_count; i++) {
		if (n == cap)
			return -1;
		s->forward[n++] = (struct http_field){ s->cfg->headers[i].name,
		    s->cfg->headers[i].value };
	}
	/* X-Forwarded-For: the chain the load balancer sent, then the peer we saw. */
	if (s->peer[0] != '\0') {
		int w;
		if (n == cap)
			return -1;
		/* Every X-Forwarded-For line, in order (some proxies add their own
		 * line instead of extending the first). */
		while ((xff = http_header_next(req, "x-forwarded-for", xff)) != NULL) {
			w = snprintf(line + len, sizeof line - len, "%.*s, ", (int)xff->value.len,
			    xff->value.ptr);
			if (w < 0 || (size_t)w >= sizeof line - len)
				return -1;
			len += (size_t)w;
		}
		w = snprintf(line + len, sizeof line - len, "%s", s->peer);
		if (w < 0 || (size_t)w >= sizeof line - len)
			return -1;
		len += (size_t)w;
		s->forward[n].name = "X-Forwarded-For";
		s->forward[n].value = keep(s, line, len);
		if (s->forward[n].value == NULL)
			return -1;
		n++;
	}
	return (int)n;
}

static ssize_t
read_client_body(void *arg, void *buf, size_t cap)
{
	return conn_body_read(arg, buf, cap);
}

static int
sink_head(void *arg, int status, const struct http_field *f, size_t n, int64_t len)
{
	return conn_respond_head(arg, status, f, n, len < 0 ? HTTP_LENGTH_CHUNKED : len);
}

static int
sink_body(void *arg, const void *buf, size_t len)
{
	return conn_respond_body(arg, buf, len);
}

/* Maps a failed transfer to the error response, when one can still be sent. */
void
proxy_fail(struct server *s, struct conn *c, enum upstream_result r, int head_sent)
{
	int status;

	s->reason = upstream_result_text(r);
	if (head_sent) {
		/* The response started: cut it short so the client sees it incomplete. */
		conn_set_close(c);
		return;
	}
	switch (r) {
	case UPSTREAM_TIMEOUT:
		status = 504;
		break;
	case UPSTREAM_BODY_FAILED:
		status = conn_body_error(c) ? conn_body_error(c) : 400;
		break;
	case UPSTREAM_SINK_FAILED:
		conn_set_close(c);
		return;
	default:
		status = 502;
		break;
	}
	if (status >= 500)
		LOG_EVENT(LOG_WARN, "upstream request failed", LOG_S("request_id", conn_info(c)->id),
		    LOG_S("reason", s->reason));
	if (status == 499)
		conn_set_close(c);   /* the client is gone: nobody to answer */
	else
		conn_respond_error(c, status, status == 504 ? "upstream timed out" :
		    status == 502 ? "upstream unreachable" : s->reason, NULL, 0);
}

void
proxy_pass_through(struct server *s, struct conn *c, const struct http_request *req)
{
	struct upstream_request ur;
	struct upstream_sink sink = { sink_head, sink_body, c };
	char method[32];
	uint64_t len = 0;
	int nf, head_sent = 0;
	enum upstream_result r;

	nf = proxy_clear_fields(s, req);
	if (nf >= 0)
		nf = proxy_add_relay_fields(s, req, (size_t)nf);
	if (nf < 0 || req->method.len >= sizeof method) {
		s->reason = "request fields too large to forward";
		conn_respond_error(c, 431, "request header fields too large to forward", NULL, 0);
		return;
	}
	memcpy(method, req->method.ptr, req->method.len);
	method[req->method.len] = '\0';
	memset(&ur, 0, sizeof ur);
	ur.method = method;
	ur.base = s->cfg->upstream;
	ur.target = req->target.ptr;
	ur.target_len = req->target.len;
	if (req->absolute_form) {
		/* Forward only path and query of an absolute-form target. */
		ur.target = req->path.ptr;
		ur.target_len = req->query.ptr ? (size_t)(req->query.ptr + req->query.len -
		    req->path.ptr) : req->path.len;
	}
	ur.fields = s->forward;
	ur.nfields = (size_t)nf;
	if (req->chunked) {
		ur.has_body = 1;
		ur.body_len = -1;
	} else if (conn_body_known_length(c, &len) && req->has_content_length) {
		if (len > INT64_MAX) {
			s->reason = "request body too large";
			conn_respond_error(c, 413, "request body too large", NULL, 0);
			return;
		}
		ur.has_body = 1;
		ur.body_len = (int64_t)len;
	}
	ur.body_read = read_client_body;
	ur.body_arg = c;
	ur.timeout_s = s->cfg->upstream_timeout;

	r = upstream_perform(&ur, &sink, &head_sent);
	if (r == UPSTREAM_OK) {
		conn_respond_end(c);
		return;
	}
	proxy_fail(s, c, r, head_sent);
}
