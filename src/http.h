/*
 * http.h - HTTP/1.1 request parser, chunked body decoder, response writer.
 *
 * Pure functions over caller-owned buffers: nothing here allocates, reads a
 * socket or keeps global state.  The parser follows RFC 9112 strictly and
 * rejects every message whose framing two implementations could read
 * differently (request smuggling): see http_parse_request.
 *
 * Return convention of the parsers (picohttpparser style):
 *   > 0 / 1   done (bytes consumed / body complete)
 *   -2        incomplete: call again with more input
 *   -1        malformed: the HTTP status to answer is in the error field,
 *             and the connection must be closed after answering.
 * Every parse error is mapped to its status in ONE table in http.c.
 */
#ifndef MTE_HTTP_H
#define MTE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "limits.h"

#define HTTP_INCOMPLETE (-2)
#define HTTP_MALFORMED  (-1)

/* A run of bytes inside the caller's buffer (not NUL-terminated). */
struct http_slice {
	const char *ptr;        /* NULL when absent */
	size_t      len;
};

/* One header field line: name as received (compare case-insensitively),
 * value with leading and trailing whitespace removed. */
struct http_header {
	struct http_slice name;
	struct http_slice value;
};

/*
 * A parsed request head.  Every slice points into the buffer passed to
 * http_parse_request (so that buffer must outlive the struct and must not
 * move), and path, query follow each other there as in the target.
 * Only valid after http_parse_request returned > 0, except error and
 * error_detail which are valid after it returned -1.
 */
struct http_request {
	struct http_slice method;       /* a token, case-sensitive ("GET") */
	struct http_slice target;       /* request-target exactly as received */
	struct http_slice path;         /* raw (not decoded, not normalised); begins
	                                 * with '/' or is "*" (OPTIONS only) */
	struct http_slice query;        /* after '?', without it; ptr NULL when the
	                                 * target had no '?' (ptr set, len 0 for "?") */
	int               minor_version;/* the x of HTTP/1.x (0..9) */
	struct http_header headers[HTTP_HEADER_COUNT_MAX];
	size_t            header_count;
	size_t            head_len;     /* bytes of the head, the final CRLF included
	                                 * (the value returned) */

	/* Facts derived while parsing; the message framing is decided here only. */
	struct http_slice host;         /* the Host field, or the authority of an
	                                 * absolute-form target (RFC 9112 3.2.2) */
	uint64_t          content_length;   /* valid when has_content_length */
	bool              has_content_length;
	bool              chunked;      /* Transfer-Encoding: chunked */
	bool              keep_alive;   /* 1.1 unless "Connection: close"; 1.0 only
	                                 * with "Connection: keep-alive" */
	bool              expect_continue;  /* HTTP/1.1 "Expect: 100-continue" */
	bool              absolute_form;    /* target was http(s)://authority/... */

	/* After -1: the status to answer (400, 414, 431, 501, 505) and a short
	 * static English reason suitable for a response body (never contains
	 * request bytes). */
	int               error;
	const char       *error_detail;
};

/*
 * Parses one request head from buf[0..len).
 *
 * Returns the head length (> 0; request line, fields and the empty line) on
 * success; -2 when buf holds a valid but incomplete prefix; -1 when malformed,
 * with req->error and req->error_detail set.  Bytes after the head (body,
 * pipelined requests) are not looked at.  req is overwritten; buf is not
 * modified.  Errors are detected as soon as the offending byte is seen, so a
 * prefix of a malformed head may already return -1 (with the same status as
 * the whole head); an incomplete prefix that already exceeds a limit returns
 * -1 with 414 (request line > HTTP_REQUEST_LINE_MAX bytes, CRLF excluded) or
 * 431 (head > HTTP_HEADERS_MAX bytes, or > HTTP_HEADER_COUNT_MAX fields), so
 * a caller never waits for a head it could not accept.
 *
 * Accepted: one optional empty line (CRLF) before the request line (counted
 * in the head length); request line "method SP target SP HTTP/1.x CRLF" with
 * single spaces; target in origin-form ("/path?query"), "*" for OPTIONS only,
 * or absolute-form "http://" / "https://" authority path [?query] (no
 * userinfo; the path may not be empty, so that it lies in buf); field lines "name:OWS value OWS CRLF".  HTTP/1.1 requires
 * exactly one Host field.
 *
 * Rejected with 400: bare CR or bare LF anywhere (CRLF required), obs-fold
 * (a line starting with SP/HTAB), whitespace between field name and colon,
 * a field name that is not a token, NUL or other control characters (HTAB
 * allowed in values), non-ASCII or control bytes or '#' in the target,
 * Content-Length together with Transfer-Encoding, Content-Length values that
 * are not digits, overflow uint64 or differ (repeats of one value, as fields
 * or as a "5, 5" list, are accepted), Transfer-Encoding in HTTP/1.0, a
 * missing/duplicate/invalid Host in HTTP/1.1.  With 501: a Transfer-Encoding
 * other than exactly "chunked" (case-insensitive; "gzip, chunked" included).
 * With 505: a version other than HTTP/1.x.
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* Returns the first field named name (ASCII case-insensitive), or NULL.
 * Iterate over all fields with req->headers[0..req->header_count). */
const struct http_header *http_header_get(const struct http_request *req,
    const char *name);

/* Returns the next field named name after prev (NULL: from the start), or
 * NULL; for fields that may repeat. */
const struct http_header *http_header_next(const struct http_request *req,
    const char *name, const struct http_header *prev);

/* 1 when s equals the NUL-terminated lit ignoring ASCII case, else 0. */
/* 1 when name[0..len) equals the NUL-terminated lit, ASCII case ignored:
 * the one field-name comparison of src/. */
int http_name_eq(const char *name, size_t len, const char *lit);
int http_slice_eq_ci(struct http_slice s, const char *lit);
/* 1 when the method (a NUL-terminated token) is idempotent: a second run
 * changes nothing (RFC 9110 9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE). */
int http_method_idempotent(const char *method);

/*
 * Incremental decoder of the chunked transfer coding (RFC 9112 7.1).
 * Zero the struct (or call http_chunked_init) before the first call.  It
 * never needs the whole body: feed it whatever arrived.
 */
struct http_chunked {
	/* private */
	int      state;
	uint64_t remaining;     /* data bytes left in the current chunk */
	unsigned digits;        /* hex digits of the current size */
	size_t   ext_len;       /* bytes of extensions on the current size line */
	size_t   trailer_len;   /* bytes of the trailer section so far */
	/* public, read-only */
	uint64_t declared;      /* sum of chunk sizes announced so far (may exceed
	                         * the data delivered yet: check it against a body
	                         * limit before reading on) */
	int      error;         /* after -1: 400, or 431 for trailers too large */
	const char *error_detail;
};

void http_chunked_init(struct http_chunked *st);

/*
 * Decodes in[0..in_len) into out[0..out_cap).  *consumed receives the input
 * bytes used and *produced the body bytes written; both may be non-zero
 * whatever the return value.
 *
 * Returns 1 when the body is complete (last chunk, trailer section and final
 * CRLF consumed; bytes after it are not consumed, so pipelined data stays
 * with the caller); -2 when more input is needed or out is full (continue
 * with the unconsumed input); -1 when malformed, with st->error set: size
 * line not hex or more than 16 hex digits or sum of sizes overflowing uint64,
 * chunk extensions over HTTP_CHUNK_EXT_MAX bytes or with control characters,
 * CR not followed by LF or LF without CR, data not followed by CRLF, trailer
 * fields invalid like header fields (400) or over HTTP_TRAILERS_MAX bytes
 * (431).  Trailer fields are validated and discarded.  After 1 or -1 further
 * calls return the same value and consume nothing.
 */
int http_chunked_decode(struct http_chunked *st, const char *in, size_t in_len,
    size_t *consumed, char *out, size_t out_cap, size_t *produced);

/* The reason phrase of status ("Not Found"; the relay's 559-570 included);
 * "Unknown" for a status without one.  Never NULL. */
const char *http_status_reason(int status);

/* A response field: NUL-terminated name and value owned by the caller. */
struct http_field {
	const char *name;
	const char *value;
};

/* content_length arguments of http_format_response_head besides a length */
#define HTTP_LENGTH_CHUNKED   (-1)  /* "Transfer-Encoding: chunked" */
#define HTTP_LENGTH_NONE      (-2)  /* no framing field (no body, or close-delimited) */

enum http_connection {
	HTTP_CONNECTION_NONE = 0,       /* no Connection field */
	HTTP_CONNECTION_CLOSE,          /* "Connection: close" */
	HTTP_CONNECTION_KEEP_ALIVE,     /* "Connection: keep-alive" (for HTTP/1.0) */
};

/*
 * Writes "HTTP/1.1 <status> <reason>\r\n", the fields, the framing fields
 * chosen by content_length (>= 0: "Content-Length: n") and connection, and
 * the empty line, into buf[0..cap).  Framing belongs to the arguments: fields
 * named Content-Length, Transfer-Encoding, Connection, Keep-Alive, TE,
 * Trailer, Upgrade or Proxy-Connection (hop-by-hop, RFC 9110 7.6.1) are
 * skipped.  Returns the bytes written (no NUL added), or -1 when status is
 * not in 100..999, a name is not a token, a value holds a control character
 * other than HTAB (so no caller can inject a field or a response), or it does
 * not fit.
 */
int http_format_response_head(char *buf, size_t cap, int status,
    const struct http_field *fields, size_t n, int64_t content_length,
    enum http_connection connection);

/* 1 when name is a non-empty token (RFC 9110 5.6.2), else 0. */
int http_is_token(const char *name, size_t len);

/* 1 when value[0..len) is a valid field value (no CTL except HTAB), else 0. */
int http_is_field_value(const char *value, size_t len);

#endif
