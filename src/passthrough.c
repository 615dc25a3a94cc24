/* passthrough.c - pass-through routes: the request and the response go
 * through untouched, both bodies streamed (see server.h). */
#include "server.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "upstream.h"

static ssize_t
read_client_body(void *arg, void *buf, size_t cap)
{
	return conn_body_read(arg, buf, cap);
}

struct passthrough {
	struct server *s;
	struct conn   *c;
};

/* The upstream's head as it is, but a Location naming the upstream itself
 * names the relay instead (forward_location). */
static int
sink_head(void *arg, int status, const struct http_field *f, size_t n, int64_t len)
{
	const struct passthrough *p = arg;
	struct http_field out[UPSTREAM_FIELDS_MAX];
	char location[UPSTREAM_HEAD_MAX];
	size_t i;
	int mapped = 0;

	for (i = 0; i < n && i < UPSTREAM_FIELDS_MAX; i++) {
		out[i] = f[i];
		/* one buffer: a second Location (invalid anyway) passes as it is */
		if (!mapped && strcasecmp(f[i].name, "location") == 0) {
			out[i].value = forward_location(p->s->cfg->upstream, f[i].value, location,
			    sizeof location);
			mapped = 1;
		}
	}
	return conn_respond_head(p->c, status, out, i, len < 0 ? HTTP_LENGTH_CHUNKED : len);
}

static int
sink_body(void *arg, const void *buf, size_t len)
{
	const struct passthrough *p = arg;

	return conn_respond_body(p->c, buf, len);
}

/* The target to forward: only path and query of an absolute-form target. */
static void
set_target(struct upstream_request *ur, const struct http_request *req)
{
	ur->target = req->target.ptr;
	ur->target_len = req->target.len;
	if (req->absolute_form) {
		ur->target = req->path.ptr;
		ur->target_len = req->query.ptr ? (size_t)(req->query.ptr + req->query.len -
		    req->path.ptr) : req->path.len;
	}
}

void
passthrough_handle(struct server *s, struct conn *c, const struct http_request *req)
{
	struct upstream_request ur;
	struct passthrough pt = { s, c };
	struct upstream_sink sink = { sink_head, sink_body, &pt };
	char method[METHOD_MAX + 1];
	uint64_t len = 0;
	int head_sent = 0;
	enum upstream_result r;

	if (req->method.len > METHOD_MAX) {
		server_fail(s, c, F_METHOD_TOO_LONG_TO_FORWARD, NULL);
		return;
	}
	if (forward_begin(&s->forward, s->cfg, req) != 0 ||
	    forward_add_relay(&s->forward, s->cfg, req, s->peer) != 0) {
		server_fail(s, c, F_FIELDS_TOO_LARGE, NULL);
		return;
	}
	memcpy(method, req->method.ptr, req->method.len);
	method[req->method.len] = '\0';
	memset(&ur, 0, sizeof ur);
	ur.method = method;
	ur.base = s->cfg->upstream;
	set_target(&ur, req);
	ur.fields = s->forward.f;
	ur.nfields = s->forward.n;
	if (req->chunked) {
		ur.has_body = 1;
		ur.body_len = -1;
	} else if (conn_body_known_length(c, &len) && req->has_content_length) {
		if (len > INT64_MAX) {
			server_fail(s, c, F_BODY_TOO_LARGE, NULL);
			return;
		}
		ur.has_body = 1;
		ur.body_len = (int64_t)len;
	}
	ur.body_read = read_client_body;
	ur.body_arg = c;
	ur.timeout_s = s->cfg->upstream_timeout;

	r = upstream_perform(&ur, &sink, &head_sent);
	if (r == UPSTREAM_OK)
		conn_respond_end(c);
	else
		server_fail(s, c, failure_of_upstream(r, conn_body_error(c)), NULL);
}
