/*
 * loadgen_http.h - the load generator's HTTP/1.1 client side: the target
 * URL, a strict response-head parser, response-body framing, and one
 * blocking exchange for the set-up steps (client ids, pairing).
 *
 * The parser is a pure function over the caller's buffer; chunked bodies
 * are decoded by the relay's own http_chunked_decode (src/http.c).
 */
#ifndef LOADGEN_HTTP_H
#define LOADGEN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http.h"

#define LG_RESPONSE_HEAD_MAX  131072  /* bytes of one response head (the relay's may be 96 KiB) */
#define LG_RESPONSE_FIELDS_MAX 128    /* fields of one response head */
#define LG_HOST_MAX           256     /* bytes of the URL's host (and of the Host field) */
#define LG_PATH_MAX           4096    /* bytes of the URL's path and query */
#define LG_EXCHANGE_BODY_MAX  (1 << 20) /* bytes of a set-up answer's body */

/* The target: where connections go, what Host says, the URL's path. */
struct lg_target {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char host[LG_HOST_MAX];     /* Host field value: host[:port] as in the URL */
	char path[LG_PATH_MAX];     /* "/..." ("/" when the URL has none) */
};

/*
 * Parses url, "http://host[:port][/path]" (host a name, an IPv4 address or
 * a bracketed IPv6 address; port 80 by default), and resolves it with
 * getaddrinfo.  Returns 0, or -1 with a reason in *why (static string).
 */
int lg_target_parse(struct lg_target *t, const char *url, const char **why);

/* A parsed response head; slices point into the buffer given to the parser. */
struct lg_response {
	int      status;            /* 100..999 */
	int      minor_version;     /* the x of HTTP/1.x */
	size_t   head_len;          /* bytes of the head, the empty line included */
	bool     has_content_length;
	uint64_t content_length;
	bool     chunked;           /* Transfer-Encoding: chunked */
	bool     keep_alive;        /* 1.1 unless "Connection: close"; 1.0 only with keep-alive */
	struct http_slice relay;    /* x-mte-relay value (ptr NULL when absent) */
	struct http_slice relay_eh; /* x-mte-relay-eh value */
	unsigned relay_count, relay_eh_count; /* how often each appeared */
};

/*
 * Parses one response head from buf[0..len).  Returns the head length (> 0),
 * HTTP_INCOMPLETE (-2) when buf holds a valid prefix (and less than
 * LG_RESPONSE_HEAD_MAX bytes), or HTTP_MALFORMED (-1): a status line other
 * than "HTTP/1.x SP 3DIGIT [SP reason] CRLF", a bare CR or LF, a field line
 * without a token name and a colon, a control character in a value, more
 * than LG_RESPONSE_FIELDS_MAX fields or LG_RESPONSE_HEAD_MAX bytes, a
 * Content-Length that is not digits or disagrees with another one, a
 * Transfer-Encoding other than "chunked", or both framings at once.
 */
int lg_parse_response_head(const char *buf, size_t len, struct lg_response *r);

/* How the body of a response is delimited (RFC 9112 6.3). */
enum lg_body_framing {
	LG_BODY_NONE,               /* HEAD request, 1xx, 204, 304 */
	LG_BODY_LENGTH,             /* Content-Length */
	LG_BODY_CHUNKED,            /* chunked transfer coding */
	LG_BODY_CLOSE,              /* until the connection closes */
};

/* The framing of r's body, the answer to a request of method head_request
 * (1 for HEAD). */
enum lg_body_framing lg_body_framing(const struct lg_response *r, int head_request);

/* One complete answer of lg_exchange: the head in buf, the body decoded. */
struct lg_answer {
	struct lg_response resp;    /* slices into head */
	char    *head;              /* malloc'd copy of the head */
	uint8_t *body;              /* malloc'd, NUL-terminated (not counted in body_len) */
	size_t   body_len;
};

/*
 * Sends req[0..len) on a new blocking connection to t and reads one answer
 * (at most LG_EXCHANGE_BODY_MAX body bytes) within timeout_ms per step.
 * head_request: the request was a HEAD.  Returns 0 and fills *a (free it
 * with lg_answer_free), or -1 with a reason in *why.
 */
int lg_exchange(const struct lg_target *t, const char *req, size_t len, int head_request,
                int timeout_ms, struct lg_answer *a, const char **why);

void lg_answer_free(struct lg_answer *a);

#endif
