/* builtin.c - the relay's own routes: echo, relay id, error table, public files. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "assets.h"
#include "clientid.h"
#include "errors.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"
#include "percent.h"

#define ECHO_BODY_MAX   (HTTP_REQUEST_LINE_MAX * 6 + 128) /* worst-case escaped message */
#define PUBLIC_READ_BUF 65536

static const struct http_field json_type = { "Content-Type", "application/json" };

static void
respond_bytes(struct conn *c, int status, const struct http_field *f, size_t n,
    const void *body, size_t len)
{
	if (conn_respond_head(c, status, f, n, (int64_t)len) == 0 &&
	    conn_respond_body(c, body, len) == 0)
		conn_respond_end(c);
}

static int
method_not_allowed(struct conn *c, const struct http_request *req, const char *allow,
    const char *m1, const char *m2)
{
	size_t l1 = strlen(m1), l2 = m2 ? strlen(m2) : 0;

	if ((req->method.len == l1 && memcmp(req->method.ptr, m1, l1) == 0) ||
	    (m2 && req->method.len == l2 && memcmp(req->method.ptr, m2, l2) == 0))
		return 0;
	conn_respond_error(c, 405, "method not allowed",
	    (struct http_field[]){ { "Allow", allow } }, 1);
	return 1;
}

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min, cp;
		if (c < 0x80) { i++; continue; }
		if (c >= 0xc2 && c <= 0xdf) { need = 1; min = 0x80; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { need = 2; min = 0x800; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { need = 3; min = 0x10000; cp = c & 0x07; }
		else return 0;
		if (n - i <= need)
			return 0;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* JSON string body of s (valid UTF-8) into out; returns length or -1. */
static long
json_escape(char *out, size_t cap, const char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (o + JSON_ESCAPE_MAX >= cap)
			return -1;
		o += json_escape_byte(out + o, (unsigned char)s[i]);
	}
	return (long)o;
}

void
builtin_echo(struct server *s, struct conn *c, const struct http_request *req,
    const char *msg, size_t msg_len)
{
	static char decoded[HTTP_REQUEST_LINE_MAX], escaped[HTTP_REQUEST_LINE_MAX * 6 + 8];
	static char body[ECHO_BODY_MAX];
	char ts[64];
	struct timespec now;
	struct tm tm;
	long dlen, elen;
	int n;

	if (method_not_allowed(c, req, "GET, HEAD", "GET", "HEAD"))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    now.tv_nsec / 1000000);
	if (msg_len == 0) {
		n = snprintf(body, sizeof body, "{\"echo\":true,\"time\":\"%s\"}", ts);
	} else {
		if (msg_len > sizeof decoded ||
		    (dlen = percent_decode(decoded, sizeof decoded, msg, msg_len, 0)) < 0 ||
		    !utf8_valid((const unsigned char *)decoded, (size_t)dlen) ||
		    (elen = json_escape(escaped, sizeof escaped, decoded, (size_t)dlen)) < 0) {
			s->reason = "bad echo message";
			conn_respond_error(c, 400, "echo message is not valid percent-encoded UTF-8",
			    NULL, 0);
			return;
		}
		n = snprintf(body, sizeof body, "{\"echo\":\"%.*s\",\"time\":\"%s\"}",
		    (int)elen, escaped, ts);
	}
	if (n < 0 || (size_t)n >= sizeof body) {
		conn_respond_error(c, 500, "echo response too large", NULL, 0);
		return;
	}
	respond_bytes(c, 200, (struct http_field[]){ json_type,
	    { "Cache-Control", "no-store" } }, 2, body, (size_t)n);
}

void
builtin_errors(struct server *s, struct conn *c, const struct http_request *req)
{
	char body[4096];
	int n;

	(void)s;
	if (method_not_allowed(c, req, "GET, HEAD", "GET", "HEAD"))
		return;
	n = relay_errors_json(body, sizeof body);
	if (n < 0) {
		conn_respond_error(c, 500, "error table too large", NULL, 0);
		return;
	}
	respond_bytes(c, 200, &json_type, 1, body, (size_t)n);
}

void
builtin_mte_relay(struct server *s, struct conn *c, const struct http_request *req)
{
	const struct config *cfg = s->cfg;
	const struct http_header *h;
	char signed_id[CLIENT_ID_SIGNED_LEN + 1], cid[CLIENT_ID_HEX_LEN + 1];

	if (method_not_allowed(c, req, "HEAD", "HEAD", NULL))
		return;
	h = http_header_get(req, "x-mte-relay");
	if (h != NULL && h->value.len > 0) {
		/* The signed id is the first comma-separated part. */
		const char *comma = memchr(h->value.ptr, ',', h->value.len);
		size_t len = comma ? (size_t)(comma - h->value.ptr) : h->value.len;
		if (clientid_check(h->value.ptr, len, cfg->client_id_secret,
		    cfg->client_id_secret_previous, cid) != 0) {
			server_fail(s, c, F_CLIENT_ID_REFUSED, NULL);
			return;
		}
		clientid_sign(signed_id, cid, cfg->client_id_secret, strlen(cfg->client_id_secret));
	} else {
		clientid_mint(signed_id, cfg->client_id_secret, strlen(cfg->client_id_secret));
	}
	if (conn_respond_head(c, 200, (struct http_field[]){ { "x-mte-relay", signed_id },
	    { "Cache-Control", "no-store" } }, 2, 0) == 0)
		conn_respond_end(c);
}

/* 1 when name is a plain file name we are willing to serve. */
static int
public_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > PUBLIC_NAME_MAX || name[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

static int
etag_matches(const struct http_request *req, const char *etag)
{
	const struct http_header *h = http_header_get(req, "if-none-match");
	size_t n = strlen(etag), i;

	if (h == NULL)
		return 0;
	if (h->value.len == 1 && h->value.ptr[0] == '*')
		return 1;
	for (i = 0; i + n <= h->value.len; i++)
		if (memcmp(h->value.ptr + i, etag, n) == 0)
			return 1;
	return 0;
}

/* Serves PUBLIC_DIR/name when it is a regular file; returns 0 when absent. */
static int
public_from_dir(struct server *s, struct conn *c, const struct http_request *req,
    const char *name)
{
	static char buf[PUBLIC_READ_BUF];
	char etag[64];
	struct stat st;
	int dfd, fd;
	off_t left;

	if ((dfd = open(s->cfg->public_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
	    (unsigned long long)st.st_mtime);
	if (etag_matches(req, etag)) {
		if (conn_respond_head(c, 304, (struct http_field[]){ { "ETag", etag } }, 1, 0) == 0)
			conn_respond_end(c);
		close(fd);
		return 1;
	}
	if (conn_respond_head(c, 200, (struct http_field[]){
	    { "Content-Type", mime_type(name) }, { "ETag", etag },
	    { "Cache-Control", "no-cache" }, { "X-Content-Type-Options", "nosniff" } },
	    4, (int64_t)st.st_size) != 0) {
		close(fd);
		return 1;
	}
	for (left = st.st_size; left > 0; ) {
		/* Never more than announced, even if the file grows meanwhile. */
		ssize_t got = read(fd, buf, (size_t)left < sizeof buf ? (size_t)left : sizeof buf);
		if (got <= 0)
			break;  /* file shrank: conn closes a short response */
		if (conn_respond_body(c, buf, (size_t)got) != 0)
			break;
		left -= got;
	}
	close(fd);
	conn_respond_end(c);
	return 1;
}

void
builtin_public(struct server *s, struct conn *c, const struct http_request *req,
    const char *name, size_t len)
{
	char fname[PUBLIC_NAME_MAX + 1];
	const struct asset *a;

	if (method_not_allowed(c, req, "GET, HEAD", "GET", "HEAD"))
		return;
	if (!public_name_ok(name, len)) {
		s->reason = "bad public file name";
		conn_respond_error(c, 404, "not found", NULL, 0);
		return;
	}
	memcpy(fname, name, len);
	fname[len] = '\0';
	if (s->cfg->public_dir != NULL && public_from_dir(s, c, req, fname))
		return;
	if ((a = assets_find(name, len)) == NULL) {
		conn_respond_error(c, 404, "not found", NULL, 0);
		return;
	}
	if (etag_matches(req, a->etag)) {
		if (conn_respond_head(c, 304, (struct http_field[]){ { "ETag", a->etag } }, 1, 0) == 0)
			conn_respond_end(c);
		return;
	}
	respond_bytes(c, 200, (struct http_field[]){ { "Content-Type", a->content_type },
	    { "ETag", a->etag }, { "Cache-Control", "no-cache" },
	    { "X-Content-Type-Options", "nosniff" } }, 4, a->data, a->len);
}

/*
 * GET /metrics (HEAD too): 405 for other methods; 401 JSON with
 * WWW-Authenticate when METRICS_TOKEN is set and the request lacks it (or has
 * more than one Authorization field); else 200 text/plain; version=0.0.4.
 * The dispatcher calls it only when METRICS is true.
 */
void
builtin_metrics(struct server *s, struct conn *c, const struct http_request *req)
{
	static char body[METRICS_BODY_MAX];     /* static: too large for the stack */
	static const struct http_field fields[] = {
		{ "Content-Type", "text/plain; version=0.0.4; charset=utf-8" },
		{ "Cache-Control", "no-store" },
	};
	const struct http_header *a;
	int n;

	if (!server_is_get_or_head(req)) {
		s->reason = "method not allowed";
		conn_respond_error(c, 405, "method not allowed",
		    (struct http_field[]){ { "Allow", "GET, HEAD" } }, 1);
		return;
	}
	a = http_header_get(req, "authorization");
	if (s->cfg->metrics_token != NULL &&
	    (a == NULL || http_header_next(req, "authorization", a) != NULL ||
	    !metrics_token_ok(s->cfg->metrics_token, a->value.ptr, a->value.len))) {
		s->reason = "metrics token missing or wrong";
		conn_respond_error(c, 401, "unauthorized",
		    (struct http_field[]){ { "WWW-Authenticate", "Bearer realm=\"metrics\"" } }, 1);
		return;
	}
	n = metrics_render(body, sizeof body);
	if (n < 0) {
		s->reason = "metrics text too large";
		conn_respond_error(c, 500, "metrics text too large", NULL, 0);
		return;
	}
	if (conn_respond_head(c, 200, fields, sizeof fields / sizeof fields[0], n) == 0 &&
	    conn_respond_body(c, body, (size_t)n) == 0)
		conn_respond_end(c);
}
