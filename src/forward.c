/* forward.c - the forwarding policy (see forward.h). */
#include "forward.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A field name with its length: the tables below are walked for every
 * field of every request and answer, and most names differ in length. */
struct field_name {
	const char *s;
	size_t      n;
};
#define FIELD_NAME(lit) { lit, sizeof lit - 1 }

static int
name_in(const char *name, size_t len, const struct field_name *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].n == len && http_name_eq(name, len, t[i].s))
			return 1;
	return 0;
}

int
forward_is_hop_by_hop(const char *name, size_t len)
{
	static const struct field_name hop[] = {
		FIELD_NAME("connection"), FIELD_NAME("keep-alive"), FIELD_NAME("proxy-connection"),
		FIELD_NAME("proxy-authenticate"), FIELD_NAME("proxy-authorization"), FIELD_NAME("te"),
		FIELD_NAME("trailer"), FIELD_NAME("transfer-encoding"), FIELD_NAME("upgrade"),
		FIELD_NAME("host"), FIELD_NAME("content-length"), FIELD_NAME("expect"),
	};

	return name_in(name, len, hop, sizeof hop / sizeof hop[0]);
}

int
forward_is_protocol_field(const char *name, size_t len)
{
	return len >= 11 && strncasecmp(name, "x-mte-relay", 11) == 0;
}

int
forward_is_relay_field(const struct config *cfg, const char *name, size_t len)
{
	size_t i;

	if (http_name_eq(name, len, "x-forwarded-for"))
		return 1;
	for (i = 0; i < cfg->headers_count; i++)
		if (http_name_eq(name, len, cfg->headers[i].name))
			return 1;
	return 0;
}

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

/* A field no client may send upstream, whether clear or sealed.  A '_' in
 * a name is dropped as nginx does: some upstreams read "Transfer_Encoding"
 * as "Transfer-Encoding", undoing our checks. */
static int
never_from_client(const struct config *cfg, const char *name, size_t len)
{
	return forward_is_hop_by_hop(name, len) || memchr(name, '_', len) != NULL ||
	    forward_is_protocol_field(name, len) || forward_is_relay_field(cfg, name, len);
}

/* Copies p[0..n) plus NUL into out->buf. */
static const char *
keep(struct forward_fields *out, const char *p, size_t n)
{
	char *dst;

	if (n + 1 > sizeof out->buf - out->used)
		return NULL;
	dst = out->buf + out->used;
	memcpy(dst, p, n);
	dst[n] = '\0';
	out->used += n + 1;
	return dst;
}

static int
append(struct forward_fields *out, const char *name, const char *value)
{
	if (name == NULL || value == NULL || out->n == FORWARD_FIELDS_MAX)
		return -1;
	out->f[out->n++] = (struct http_field){ name, value };
	return 0;
}

int
forward_begin(struct forward_fields *out, const struct config *cfg,
    const struct http_request *req)
{
	size_t i;

	out->n = 0;
	out->used = 0;
	for (i = 0; i < req->header_count; i++) {
		const struct http_header *h = &req->headers[i];
		if (never_from_client(cfg, h->name.ptr, h->name.len) ||
		    named_by_connection(req, h->name.ptr, h->name.len))
			continue;
		if (append(out, keep(out, h->name.ptr, h->name.len),
		    keep(out, h->value.ptr, h->value.len)) != 0)
			return -1;
	}
	return 0;
}

/* Fields that browsers and proxies add on their own, which a page cannot
 * seal: a protected request forwards them from the clear request. */
static int
set_by_browser_or_proxy(const char *name)
{
	static const char *const browser[] = {
		"accept", "accept-language", "cache-control", "cookie", "dnt", "if-match",
		"if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
		"origin", "pragma", "range", "referer", "traceparent", "tracestate",
		"user-agent", "x-amzn-trace-id", "x-forwarded-host", "x-forwarded-port",
		"x-forwarded-proto", "x-request-id",
	};
	size_t i;

	if (strncasecmp(name, "sec-", 4) == 0)
		return 1;   /* sec-fetch-*, sec-ch-ua*: set by the browser only */
	for (i = 0; i < sizeof browser / sizeof browser[0]; i++)
		if (strcasecmp(name, browser[i]) == 0)
			return 1;
	return 0;
}

static int
in_list(const char *name, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(name, list[i]) == 0)
			return 1;
	return 0;
}

void
forward_keep_clear(struct forward_fields *out, const char *const *named, size_t n_named,
    int (*sealed)(const char *name, void *arg), void *arg)
{
	size_t i, k = 0;

	for (i = 0; i < out->n; i++) {
		const char *name = out->f[i].name;
		if (strcasecmp(name, "accept-encoding") == 0 ||
		    !(set_by_browser_or_proxy(name) || in_list(name, named, n_named)) ||
		    sealed(name, arg))
			continue;
		out->f[k++] = out->f[i];
	}
	out->n = k;
}

int
forward_add_sealed(struct forward_fields *out, const struct config *cfg,
    const char *name, const char *value)
{
	if (never_from_client(cfg, name, strlen(name)))
		return 0;
	return append(out, name, value);
}

/* X-Forwarded-For: the chain the load balancer sent (every line, in order:
 * some proxies add their own line instead of extending the first), then
 * the peer we saw. */
static const char *
forwarded_for(struct forward_fields *out, const struct http_request *req, const char *peer)
{
	const struct http_header *xff = NULL;
	char *line = out->buf + out->used;
	size_t cap = sizeof out->buf - out->used, len = 0;
	int w;

	while ((xff = http_header_next(req, "x-forwarded-for", xff)) != NULL) {
		w = snprintf(line + len, cap - len, "%.*s, ", (int)xff->value.len, xff->value.ptr);
		if (w < 0 || (size_t)w >= cap - len)
			return NULL;
		len += (size_t)w;
	}
	w = snprintf(line + len, cap - len, "%s", peer);
	if (w < 0 || (size_t)w >= cap - len)
		return NULL;
	out->used += len + (size_t)w + 1;
	return line;
}

int
forward_add_relay(struct forward_fields *out, const struct config *cfg,
    const struct http_request *req, const char *peer)
{
	size_t i;

	for (i = 0; i < cfg->headers_count; i++)
		if (append(out, cfg->headers[i].name, cfg->headers[i].value) != 0)
			return -1;
	if (peer[0] != '\0' && append(out, "X-Forwarded-For", forwarded_for(out, req, peer)) != 0)
		return -1;
	return 0;
}

enum forward_response
forward_response_kind(const char *name, size_t len)
{
	static const struct field_name clear[] = {
		FIELD_NAME("set-cookie"), FIELD_NAME("cache-control"), FIELD_NAME("expires"),
		FIELD_NAME("pragma"), FIELD_NAME("etag"), FIELD_NAME("last-modified"),
		FIELD_NAME("vary"), FIELD_NAME("age"),
	};

	if (forward_is_hop_by_hop(name, len) || http_name_eq(name, len, "date") ||
	    (len >= 15 && strncasecmp(name, "access-control-", 15) == 0))
		return FORWARD_DROP;
	if (name_in(name, len, clear, sizeof clear / sizeof clear[0]))
		return FORWARD_CLEAR;
	return FORWARD_SEAL;
}

/* The parts of scheme://authority/path... that Location mapping compares. */
struct url_parts {
	const char *scheme, *host, *path;
	size_t      scheme_len, host_len, path_len;   /* path: up to '?', '#' or the end */
	unsigned    port;                             /* explicit, or the scheme's default */
};

static unsigned
default_port(const char *scheme, size_t len)
{
	return http_name_eq(scheme, len, "https") ? 443 : http_name_eq(scheme, len, "http") ? 80 : 0;
}

/* Splits the authority and path of u (after "scheme:", at "//").  0, or -1
 * when u has no authority or a port that is not a number. */
static int
split_authority(const char *u, struct url_parts *p)
{
	const char *a = u + 2, *end = a + strcspn(a, "/?#"), *colon;

	if (u[0] != '/' || u[1] != '/')
		return -1;
	/* "[v6]:port" or "host:port": the port follows the last ':' after any ']' */
	colon = memrchr(a, ':', (size_t)(end - a));
	if (colon != NULL && memchr(colon, ']', (size_t)(end - colon)) != NULL)
		colon = NULL;
	p->host = a;
	p->host_len = (size_t)((colon ? colon : end) - a);
	p->port = default_port(p->scheme, p->scheme_len);
	if (colon != NULL && colon + 1 < end) {
		p->port = 0;
		for (colon++; colon < end; colon++) {
			if (*colon < '0' || *colon > '9' || p->port > 65535)
				return -1;
			p->port = p->port * 10 + (unsigned)(*colon - '0');
		}
	}
	p->path = end;
	p->path_len = strcspn(end, "?#");
	return 0;
}

/* Splits an absolute URL "scheme://...".  0 or -1. */
static int
split_url(const char *u, struct url_parts *p)
{
	size_t n = strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

	if (n == 0 || u[n] != ':')
		return -1;
	p->scheme = u;
	p->scheme_len = n;
	return split_authority(u + n + 1, p);
}

/* The rest of path[0..len) after the base path, or NULL when it is not
 * under base. */
static const char *
under_base(const char *path, size_t len, const struct url_parts *up)
{
	if (len < up->path_len || strncmp(path, up->path, up->path_len) != 0)
		return NULL;
	if (len > up->path_len && path[up->path_len] != '/')
		return NULL;
	return path + up->path_len;
}

const char *
forward_location(const char *upstream, const char *loc, char *buf, size_t cap)
{
	struct url_parts up, lp;
	const char *rest;
	int w;

	if (split_url(upstream, &up) != 0 || cap < strlen(loc) + 1)
		return loc;
	if (loc[0] == '/' && loc[1] != '/') {
		/* an absolute path: only a base path to take off */
		if (up.path_len == 0)
			return loc;
		rest = under_base(loc, strcspn(loc, "?#"), &up);
	} else {
		lp.scheme = up.scheme;
		lp.scheme_len = up.scheme_len;
		if ((loc[0] == '/' ? split_authority(loc, &lp) : split_url(loc, &lp)) != 0 ||
		    lp.scheme_len != up.scheme_len || strncasecmp(lp.scheme, up.scheme, up.scheme_len) != 0 ||
		    lp.host_len != up.host_len || strncasecmp(lp.host, up.host, up.host_len) != 0 ||
		    lp.port != up.port)
			return loc;
		rest = under_base(lp.path, lp.path_len, &up);
	}
	if (rest == NULL)
		return loc;
	w = snprintf(buf, cap, "%s%s", rest[0] == '/' ? "" : "/", rest);
	return w >= 0 && (size_t)w < cap ? buf : loc;
}
