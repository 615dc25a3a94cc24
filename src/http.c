/*
 * http.c - HTTP/1.1 request parser, chunked decoder, response writer.
 *
 * See http.h for the contracts.  The parser re-reads the head from the
 * start on each call (the caller calls it when a line has completed), so it
 * keeps no state between calls and every decision depends only on the bytes
 * seen so far: an error is reported at the first offending byte.
 */
#include "http.h"
#include "decimal.h"
#include "hex.h"
#include "text.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- parse errors: the ONE place where an error becomes a status ---- */

enum http_err {
	E_BARE_CR,
	E_BARE_LF,
	E_METHOD,
	E_TARGET,
	E_TARGET_STAR,
	E_TARGET_FORM,
	E_TARGET_USERINFO,
	E_VERSION_SYNTAX,
	E_VERSION,
	E_REQUEST_LINE,
	E_REQUEST_LINE_LONG,
	E_HEAD_LARGE,
	E_FIELD_COUNT,
	E_OBS_FOLD,
	E_FIELD_NAME,
	E_FIELD_VALUE,
	E_CL_SYNTAX,
	E_CL_DIFFER,
	E_CL_AND_TE,
	E_TE_UNKNOWN,
	E_TE_HTTP10,
	E_HOST_MISSING,
	E_HOST_DUP,
	E_HOST_INVALID,
	E_CHUNK_SIZE,
	E_CHUNK_OVERFLOW,
	E_CHUNK_EXT,
	E_CHUNK_EXT_LONG,
	E_CHUNK_DATA_END,
	E_TRAILER_FIELD,
	E_TRAILER_LARGE,
};

static const struct {
	int         status;
	const char *detail;
} http_errs[] = {
	[E_BARE_CR]           = { 400, "bare CR in request head" },
	[E_BARE_LF]           = { 400, "bare LF in request head" },
	[E_METHOD]            = { 400, "invalid method" },
	[E_TARGET]            = { 400, "invalid request target" },
	[E_TARGET_STAR]       = { 400, "asterisk target outside OPTIONS" },
	[E_TARGET_FORM]       = { 400, "unsupported request target form" },
	[E_TARGET_USERINFO]   = { 400, "userinfo in request target" },
	[E_VERSION_SYNTAX]    = { 400, "invalid HTTP version" },
	[E_VERSION]           = { 505, "HTTP version not supported" },
	[E_REQUEST_LINE]      = { 400, "invalid request line" },
	[E_REQUEST_LINE_LONG] = { 414, "request line too long" },
	[E_HEAD_LARGE]        = { 431, "request head too large" },
	[E_FIELD_COUNT]       = { 431, "too many header fields" },
	[E_OBS_FOLD]          = { 400, "obsolete line folding" },
	[E_FIELD_NAME]        = { 400, "invalid header field name" },
	[E_FIELD_VALUE]       = { 400, "invalid header field value" },
	[E_CL_SYNTAX]         = { 400, "invalid Content-Length" },
	[E_CL_DIFFER]         = { 400, "conflicting Content-Length" },
	[E_CL_AND_TE]         = { 400, "Content-Length with Transfer-Encoding" },
	[E_TE_UNKNOWN]        = { 501, "unsupported Transfer-Encoding" },
	[E_TE_HTTP10]         = { 400, "Transfer-Encoding in HTTP/1.0" },
	[E_HOST_MISSING]      = { 400, "missing Host" },
	[E_HOST_DUP]          = { 400, "duplicate Host" },
	[E_HOST_INVALID]      = { 400, "invalid Host" },
	[E_CHUNK_SIZE]        = { 400, "invalid chunk size" },
	[E_CHUNK_OVERFLOW]    = { 400, "chunk size too large" },
	[E_CHUNK_EXT]         = { 400, "invalid chunk extension" },
	[E_CHUNK_EXT_LONG]    = { 400, "chunk extension too long" },
	[E_CHUNK_DATA_END]    = { 400, "missing CRLF after chunk data" },
	[E_TRAILER_FIELD]     = { 400, "invalid trailer field" },
	[E_TRAILER_LARGE]     = { 431, "trailer section too large" },
};

static int
req_fail(struct http_request *req, enum http_err e)
{
	req->error = http_errs[e].status;
	req->error_detail = http_errs[e].detail;
	return HTTP_MALFORMED;
}

static int chunked_fail(struct http_chunked *st, enum http_err e);

/* ---- character classes (RFC 9110 5.6.2, 5.5) ---- */

static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
	case '+': case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return 1;
	default:
		return 0;
	}
}

/* field-vchar / SP / HTAB: VCHAR, obs-text, SP, HTAB; no other CTL, no DEL */
static int
is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int
mem_eq_ci(const char *a, size_t alen, const char *lit)
{
	/* The first byte first: most calls walk a table of names, and most
	 * names differ there, before the length of the literal is known. */
	if (alen == 0 || lower((unsigned char)a[0]) != lower((unsigned char)lit[0]))
		return alen == 0 && lit[0] == '\0';
	size_t n = strlen(lit);
	if (alen != n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)lit[i]))
			return 0;
	return 1;
}

int
http_method_idempotent(const char *method)
{
	static const char *const idempotent[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" };

	for (size_t i = 0; i < sizeof idempotent / sizeof idempotent[0]; i++)
		if (strcmp(method, idempotent[i]) == 0)
			return 1;
	return 0;
}

int
http_name_eq(const char *name, size_t len, const char *lit)
{
	return mem_eq_ci(name, len, lit);
}

int
http_slice_eq_ci(struct http_slice s, const char *lit)
{
	if (s.ptr == NULL)
		return 0;
	return mem_eq_ci(s.ptr, s.len, lit);
}

int
http_is_token(const char *name, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_tchar((unsigned char)name[i]))
			return 0;
	return 1;
}

int
http_is_field_value(const char *value, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_value_char((unsigned char)value[i]))
			return 0;
	return 1;
}

/* uri-host [":" port] characters: unreserved, sub-delims, ':', '[', ']', '%' */
static int
is_host_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return strchr("-._~!$&'()*+,;=:[]%", c) != NULL && c != '\0';
}

static int
host_valid(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_host_char((unsigned char)p[i]))
			return 0;
	return 1;
}

/* ---- request head ---- */

/*
 * Splits a comma-separated list value and calls fn on each element
 * (OWS-trimmed).  Returns 0, or the first non-zero value fn returned.
 */
typedef int (*list_fn)(const char *p, size_t n, void *ctx);

static int
list_each(const char *p, size_t n, list_fn fn, void *ctx)
{
	size_t i = 0;
	for (;;) {
		size_t s = i;
		while (i < n && p[i] != ',')
			i++;
		size_t e = i;
		while (s < e && is_ows((unsigned char)p[s]))
			s++;
		while (e > s && is_ows((unsigned char)p[e - 1]))
			e--;
		int r = fn(p + s, e - s, ctx);
		if (r != 0)
			return r;
		if (i == n)
			return 0;
		i++;    /* the comma */
	}
}

struct cl_ctx {
	uint64_t value;
	bool     have;
};

static int
cl_element(const char *p, size_t n, void *vctx)
{
	struct cl_ctx *ctx = vctx;
	uint64_t v = 0;

	if (decimal_parse(p, n, UINT64_MAX, &v) != 0)
		return E_CL_SYNTAX + 1;
	if (ctx->have && ctx->value != v)
		return E_CL_DIFFER + 1;
	ctx->value = v;
	ctx->have = true;
	return 0;
}

struct conn_ctx {
	bool close;
	bool keep_alive;
};

static int
connection_element(const char *p, size_t n, void *vctx)
{
	struct conn_ctx *ctx = vctx;
	if (mem_eq_ci(p, n, "close"))
		ctx->close = true;
	else if (mem_eq_ci(p, n, "keep-alive"))
		ctx->keep_alive = true;
	return 0;
}

/* State gathered across the field lines of one head. */
struct head_facts {
	struct cl_ctx   cl;
	struct conn_ctx conn;
	unsigned        host_count;
	bool            te_seen;
};

/* Derives framing facts from one field; returns 0 or an E_ code + 1. */
static int
field_facts(struct http_request *req, struct head_facts *f,
    const struct http_header *h)
{
	const char *v = h->value.ptr;
	size_t vn = h->value.len;

	if (http_slice_eq_ci(h->name, "content-length")) {
		int r = list_each(v, vn, cl_element, &f->cl);
		if (r != 0)
			return r;
	} else if (http_slice_eq_ci(h->name, "transfer-encoding")) {
		/* Only a single "chunked": anything else (other codings, lists,
		 * repeats) could be framed differently by another hop. */
		if (f->te_seen || !mem_eq_ci(v, vn, "chunked"))
			return E_TE_UNKNOWN + 1;
		f->te_seen = true;
	} else if (http_slice_eq_ci(h->name, "connection")) {
		(void)list_each(v, vn, connection_element, &f->conn);
	} else if (http_slice_eq_ci(h->name, "host")) {
		if (++f->host_count > 1)
			return E_HOST_DUP + 1;
		if (!host_valid(v, vn))
			return E_HOST_INVALID + 1;
		/* For an absolute-form target the authority wins (RFC 9112 3.2.2). */
		if (!req->absolute_form)
			req->host = h->value;
	} else if (http_slice_eq_ci(h->name, "expect")) {
		if (mem_eq_ci(v, vn, "100-continue"))
			req->expect_continue = true;
	}
	return 0;
}

/* Splits the target into path and query; checks its form. */
static int
parse_target(struct http_request *req)
{
	const char *t = req->target.ptr;
	size_t n = req->target.len;
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i] == '#')
			return E_TARGET + 1;

	if (t[0] == '/') {
		i = 0;
	} else if (n == 1 && t[0] == '*') {
		if (!(req->method.len == 7 && memcmp(req->method.ptr, "OPTIONS", 7) == 0))
			return E_TARGET_STAR + 1;
		req->path = req->target;
		return 0;
	} else {
		size_t skip;
		if (n >= 7 && mem_eq_ci(t, 7, "http://"))
			skip = 7;
		else if (n >= 8 && mem_eq_ci(t, 8, "https://"))
			skip = 8;
		else
			return E_TARGET_FORM + 1;
		i = skip;
		while (i < n && t[i] != '/' && t[i] != '?')
			i++;
		if (i == skip)
			return E_TARGET + 1;
		if (memchr(t + skip, '@', i - skip) != NULL)
			return E_TARGET_USERINFO + 1;
		if (!host_valid(t + skip, i - skip))
			return E_TARGET + 1;
		/* "http://host" and "http://host?q" have no path in the
		 * buffer: refused rather than pointing outside it. */
		if (i == n || t[i] != '/')
			return E_TARGET + 1;
		req->absolute_form = true;
		req->host = (struct http_slice){ t + skip, i - skip };
	}
	/* t[i..n) is "/path?query" */
	size_t q = i;
	while (q < n && t[q] != '?')
		q++;
	req->path = (struct http_slice){ t + i, q - i };
	if (q < n)
		req->query = (struct http_slice){ t + q + 1, n - q - 1 };
	return 0;
}

/* Parses buf[0..len), len <= HTTP_HEADERS_MAX. */
static int
parse_head(const char *buf, size_t len, struct http_request *req)
{
	size_t p = 0;
	int r;

	/* RFC 9112 2.2: one empty line before the request line is ignored. */
	if (len == 0)
		return HTTP_INCOMPLETE;
	if (buf[0] == '\r') {
		if (len < 2)
			return HTTP_INCOMPLETE;
		if (buf[1] != '\n')
			return req_fail(req, E_BARE_CR);
		p = 2;
	} else if (buf[0] == '\n') {
		return req_fail(req, E_BARE_LF);
	}

	/* Request line; its content may not go past index line_end. */
	const size_t line_end = p + HTTP_REQUEST_LINE_MAX;
#define LINE_CHECK(pos) do { \
		if ((pos) > line_end) \
			return req_fail(req, E_REQUEST_LINE_LONG); \
		if ((pos) >= len) \
			return HTTP_INCOMPLETE; \
	} while (0)

	size_t s = p;
	while (p < len && is_tchar((unsigned char)buf[p]))
		p++;
	LINE_CHECK(p);
	if (p == s || buf[p] != ' ')
		return req_fail(req, buf[p] == '\r' || buf[p] == '\n' ?
		    E_REQUEST_LINE : E_METHOD);
	req->method = (struct http_slice){ buf + s, p - s };
	p++;

	s = p;
	while (p < len && (unsigned char)buf[p] > 0x20 && (unsigned char)buf[p] < 0x7f)
		p++;
	LINE_CHECK(p);
	if (p == s || buf[p] != ' ')
		return req_fail(req, p == s ? E_REQUEST_LINE : E_TARGET);
	req->target = (struct http_slice){ buf + s, p - s };
	p++;

	static const char proto[] = "HTTP/";
	for (size_t i = 0; i < 8; i++) {
		LINE_CHECK(p + i);
		unsigned char c = (unsigned char)buf[p + i];
		int ok = i < 5 ? c == (unsigned char)proto[i] :
		    i == 6 ? c == '.' : (c >= '0' && c <= '9');
		if (!ok)
			return req_fail(req, E_VERSION_SYNTAX);
	}
	if (buf[p + 5] != '1')
		return req_fail(req, E_VERSION);
	req->minor_version = buf[p + 7] - '0';
	p += 8;
	if (p > line_end)
		return req_fail(req, E_REQUEST_LINE_LONG);
	if (p >= len)
		return HTTP_INCOMPLETE;
	if (buf[p] != '\r')
		return req_fail(req, buf[p] == '\n' ? E_BARE_LF : E_VERSION_SYNTAX);
	if (p + 1 >= len)
		return HTTP_INCOMPLETE;
	if (buf[p + 1] != '\n')
		return req_fail(req, E_BARE_CR);
	p += 2;
#undef LINE_CHECK

	r = parse_target(req);
	if (r != 0)
		return req_fail(req, (enum http_err)(r - 1));

	/* Field lines up to the empty line. */
	struct head_facts f;
	memset(&f, 0, sizeof f);
	for (;;) {
		if (p >= len)
			return HTTP_INCOMPLETE;
		unsigned char c = (unsigned char)buf[p];
		if (c == '\r') {
			if (p + 1 >= len)
				return HTTP_INCOMPLETE;
			if (buf[p + 1] != '\n')
				return req_fail(req, E_BARE_CR);
			p += 2;
			break;
		}
		if (c == '\n')
			return req_fail(req, E_BARE_LF);
		if (is_ows(c))
			return req_fail(req, E_OBS_FOLD);
		if (req->header_count == HTTP_HEADER_COUNT_MAX)
			return req_fail(req, E_FIELD_COUNT);

		s = p;
		while (p < len && is_tchar((unsigned char)buf[p]))
			p++;
		if (p >= len)
			return HTTP_INCOMPLETE;
		if (p == s || buf[p] != ':')
			return req_fail(req, E_FIELD_NAME);
		struct http_header *h = &req->headers[req->header_count];
		h->name = (struct http_slice){ buf + s, p - s };
		p++;
		while (p < len && is_ows((unsigned char)buf[p]))
			p++;
		s = p;
		while (p < len && is_value_char((unsigned char)buf[p]))
			p++;
		if (p >= len)
			return HTTP_INCOMPLETE;
		if (buf[p] != '\r')
			return req_fail(req, buf[p] == '\n' ? E_BARE_LF : E_FIELD_VALUE);
		if (p + 1 >= len)
			return HTTP_INCOMPLETE;
		if (buf[p + 1] != '\n')
			return req_fail(req, E_BARE_CR);
		size_t e = p;
		while (e > s && is_ows((unsigned char)buf[e - 1]))
			e--;
		h->value = (struct http_slice){ buf + s, e - s };
		p += 2;
		req->header_count++;

		r = field_facts(req, &f, h);
		if (r != 0)
			return req_fail(req, (enum http_err)(r - 1));
	}

	/* Whole-head checks. */
	if (f.te_seen) {
		if (req->minor_version == 0)
			return req_fail(req, E_TE_HTTP10);
		if (f.cl.have)
			return req_fail(req, E_CL_AND_TE);
		req->chunked = true;
	}
	req->has_content_length = f.cl.have;
	req->content_length = f.cl.value;
	if (req->minor_version >= 1) {
		if (f.host_count == 0)
			return req_fail(req, E_HOST_MISSING);
		req->keep_alive = !f.conn.close;
	} else {
		req->keep_alive = f.conn.keep_alive && !f.conn.close;
		req->expect_continue = false;   /* RFC 9110 10.1.1: ignored in 1.0 */
	}
	req->head_len = p;
	return (int)p;
}

int
http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	/* Everything but the (large) headers array, which header_count guards. */
	memset(req, 0, offsetof(struct http_request, headers));
	memset(&req->header_count, 0,
	    sizeof *req - offsetof(struct http_request, header_count));

	size_t lim = len > HTTP_HEADERS_MAX ? HTTP_HEADERS_MAX : len;
	int r = parse_head(buf, lim, req);
	if (r == HTTP_INCOMPLETE && len > HTTP_HEADERS_MAX)
		return req_fail(req, E_HEAD_LARGE);
	return r;
}

const struct http_header *
http_header_next(const struct http_request *req,
    const char *name, const struct http_header *prev)
{
	size_t i = prev == NULL ? 0 : (size_t)(prev - req->headers) + 1;
	for (; i < req->header_count; i++)
		if (http_slice_eq_ci(req->headers[i].name, name))
			return &req->headers[i];
	return NULL;
}

const struct http_header *
http_header_get(const struct http_request *req,
    const char *name)
{
	return http_header_next(req, name, NULL);
}

/* ---- chunked transfer coding ---- */

enum {
	CH_SIZE = 0,            /* hex digits of a chunk size */
	CH_EXT_BWS,             /* whitespace after the size, before ';' */
	CH_EXT,                 /* extension bytes up to CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START,       /* start of a trailer line or the final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_END_LF,
	CH_DONE,
	CH_ERROR,
};

static int
chunked_fail(struct http_chunked *st, enum http_err e)
{
	st->state = CH_ERROR;
	st->error = http_errs[e].status;
	st->error_detail = http_errs[e].detail;
	return HTTP_MALFORMED;
}

void
http_chunked_init(struct http_chunked *st)
{
	memset(st, 0, sizeof *st);
	st->state = CH_SIZE;
}

/* Counts one byte of the trailer section against its limit. */
static int
trailer_byte(struct http_chunked *st)
{
	return ++st->trailer_len > HTTP_TRAILERS_MAX;
}

int
http_chunked_decode(struct http_chunked *st, const char *in, size_t in_len,
    size_t *consumed, char *out, size_t out_cap, size_t *produced)
{
	size_t i = 0, o = 0;
	int ret = HTTP_INCOMPLETE;

	if (st->state == CH_DONE || st->state == CH_ERROR) {
		*consumed = 0;
		*produced = 0;
		return st->state == CH_DONE ? 1 : HTTP_MALFORMED;
	}
	while (i < in_len) {
		unsigned char c = (unsigned char)in[i];
		switch (st->state) {
		case CH_SIZE: {
			int d = hex_value(c);
			if (d >= 0) {
				if (++st->digits > 16) {
					ret = chunked_fail(st, E_CHUNK_OVERFLOW);
					goto out;
				}
				st->remaining = st->remaining << 4 | (uint64_t)d;
				i++;
				break;
			}
			if (st->digits == 0) {
				ret = chunked_fail(st, E_CHUNK_SIZE);
				goto out;
			}
			if (c == '\r') {
				st->state = CH_SIZE_LF;
			} else if (c == ';' || is_ows(c)) {
				st->state = c == ';' ? CH_EXT : CH_EXT_BWS;
				st->ext_len = 1;
			} else {
				ret = chunked_fail(st, E_CHUNK_SIZE);
				goto out;
			}
			i++;
			break;
		}
		case CH_EXT_BWS:
		case CH_EXT:
			if (c == '\r') {
				if (st->state == CH_EXT_BWS) {
					/* whitespace but no extension */
					ret = chunked_fail(st, E_CHUNK_EXT);
					goto out;
				}
				st->state = CH_SIZE_LF;
				i++;
				break;
			}
			if (++st->ext_len > HTTP_CHUNK_EXT_MAX) {
				ret = chunked_fail(st, E_CHUNK_EXT_LONG);
				goto out;
			}
			if (st->state == CH_EXT_BWS) {
				if (c == ';')
					st->state = CH_EXT;
				else if (!is_ows(c)) {
					ret = chunked_fail(st, E_CHUNK_EXT);
					goto out;
				}
			} else if (!is_value_char(c)) {
				ret = chunked_fail(st, E_CHUNK_EXT);
				goto out;
			}
			i++;
			break;
		case CH_SIZE_LF:
			if (c != '\n') {
				ret = chunked_fail(st, E_BARE_CR);
				goto out;
			}
			i++;
			if (st->declared > UINT64_MAX - st->remaining) {
				ret = chunked_fail(st, E_CHUNK_OVERFLOW);
				goto out;
			}
			st->declared += st->remaining;
			st->digits = 0;
			st->ext_len = 0;
			st->state = st->remaining == 0 ? CH_TRAILER_START : CH_DATA;
			break;
		case CH_DATA: {
			if (o == out_cap)
				goto out;
			size_t n = in_len - i;
			if (n > out_cap - o)
				n = out_cap - o;
			if (n > st->remaining)
				n = (size_t)st->remaining;
			memcpy(out + o, in + i, n);
			i += n;
			o += n;
			st->remaining -= n;
			if (st->remaining == 0)
				st->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (c != '\r') {
				ret = chunked_fail(st, E_CHUNK_DATA_END);
				goto out;
			}
			st->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (c != '\n') {
				ret = chunked_fail(st, E_CHUNK_DATA_END);
				goto out;
			}
			st->state = CH_SIZE;
			i++;
			break;
		case CH_TRAILER_START:
			if (c == '\r') {
				st->state = CH_END_LF;
			} else if (is_tchar(c)) {
				st->state = CH_TRAILER_NAME;
				if (trailer_byte(st)) {
					ret = chunked_fail(st, E_TRAILER_LARGE);
					goto out;
				}
			} else {
				ret = chunked_fail(st, c == '\n' ? E_BARE_LF :
				    is_ows(c) ? E_OBS_FOLD : E_TRAILER_FIELD);
				goto out;
			}
			i++;
			break;
		case CH_TRAILER_NAME:
		case CH_TRAILER_VALUE:
		case CH_TRAILER_LF:
			if (trailer_byte(st)) {
				ret = chunked_fail(st, E_TRAILER_LARGE);
				goto out;
			}
			if (st->state == CH_TRAILER_NAME) {
				if (c == ':')
					st->state = CH_TRAILER_VALUE;
				else if (!is_tchar(c)) {
					ret = chunked_fail(st, E_TRAILER_FIELD);
					goto out;
				}
			} else if (st->state == CH_TRAILER_VALUE) {
				if (c == '\r')
					st->state = CH_TRAILER_LF;
				else if (!is_value_char(c)) {
					ret = chunked_fail(st, c == '\n' ? E_BARE_LF : E_TRAILER_FIELD);
					goto out;
				}
			} else {
				if (c != '\n') {
					ret = chunked_fail(st, E_BARE_CR);
					goto out;
				}
				st->state = CH_TRAILER_START;
			}
			i++;
			break;
		case CH_END_LF:
			if (c != '\n') {
				ret = chunked_fail(st, E_BARE_CR);
				goto out;
			}
			i++;
			st->state = CH_DONE;
			ret = 1;
			goto out;
		default:
			ret = chunked_fail(st, E_CHUNK_SIZE);
			goto out;
		}
	}
out:
	*consumed = i;
	*produced = o;
	return ret;
}

/* ---- responses ---- */

const char *
http_status_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 499: return "Client Closed Request";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	/* mte-relay statuses (protocol.md, "Error statuses") */
	case 559: return "Repair Required";
	case 560: return "State Not Found";
	case 561: return "Failed To Encode";
	case 562: return "Failed To Decode";
	case 563: return "State Error";
	case 564: return "Rekey Required";
	case 565: return "Protocol Status Error";
	case 566: return "Invalid Client Id";
	case 567: return "Failed To Save State";
	case 568: return "Failed To Save State";
	case 569: return "Missing Or Malformed Relay Header";
	case 570: return "Replayed Or Stale Sequence Number";
	default:  return "Unknown";
	}
}

static int
is_framing_field(const char *name, size_t n)
{
	/* with their lengths: most names are told apart by that alone */
#define NAME_LEN(lit) { lit, sizeof lit - 1 }
	static const struct { const char *s; size_t n; } names[] = {
		NAME_LEN("content-length"), NAME_LEN("transfer-encoding"), NAME_LEN("connection"),
		NAME_LEN("keep-alive"), NAME_LEN("te"), NAME_LEN("trailer"), NAME_LEN("upgrade"),
		NAME_LEN("proxy-connection"),
	};
#undef NAME_LEN
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].n == n && mem_eq_ci(name, n, names[i].s))
			return 1;
	return 0;
}

int
http_format_response_head(char *buf, size_t cap, int status,
    const struct http_field *fields, size_t n, int64_t content_length,
    enum http_connection connection)
{
	struct text_out o = { buf, cap, 0, false };
	char num[64];

	if (status < 100 || status > 999)
		return -1;
	if (content_length < 0 && content_length != HTTP_LENGTH_CHUNKED &&
	    content_length != HTTP_LENGTH_NONE)
		return -1;
	memcpy(num, "HTTP/1.1 ", 9);
	num[9] = (char)('0' + status / 100);
	num[10] = (char)('0' + status / 10 % 10);
	num[11] = (char)('0' + status % 10);
	num[12] = ' ';
	text_put(&o, num, 13);
	text_str(&o, http_status_reason(status));
	text_put(&o, "\r\n", 2);
	for (size_t i = 0; i < n; i++) {
		const char *name = fields[i].name, *value = fields[i].value;
		if (name == NULL || value == NULL)
			return -1;
		size_t nlen = strlen(name), vlen = strlen(value);
		if (!http_is_token(name, nlen) || !http_is_field_value(value, vlen))
			return -1;
		if (is_framing_field(name, nlen))
			continue;
		text_put(&o, name, nlen);
		text_put(&o, ": ", 2);
		text_put(&o, value, vlen);
		text_put(&o, "\r\n", 2);
	}
	if (content_length >= 0) {
		text_put(&o, "Content-Length: ", 16);
		text_put(&o, num, decimal_format(num, (uint64_t)content_length));
		text_put(&o, "\r\n", 2);
	} else if (content_length == HTTP_LENGTH_CHUNKED) {
		text_str(&o, "Transfer-Encoding: chunked\r\n");
	}
	if (connection == HTTP_CONNECTION_CLOSE)
		text_str(&o, "Connection: close\r\n");
	else if (connection == HTTP_CONNECTION_KEEP_ALIVE)
		text_str(&o, "Connection: keep-alive\r\n");
	text_put(&o, "\r\n", 2);
	if (o.full || o.len > (size_t)INT32_MAX)
		return -1;
	return (int)o.len;
}
