/*
 * upstream.h - requests to UPSTREAM through libcurl, streamed both ways.
 *
 * The target is any origin given as base: UPSTREAM for the inbound role,
 * a configured partner relay for the outbound one (outbound.c).
 * One easy handle per worker, made at its first request and reused, so
 * connections to the upstream are kept alive between requests; closed by
 * upstream_close when the worker exits or retires.  The request body is pulled from a callback
 * (the client connection, or the body opener of a protected request) and
 * the response is pushed to a sink as it arrives: memory use does not grow
 * with the size of either body.  Redirects are passed back, not followed.
 */
#ifndef MTE_UPSTREAM_H
#define MTE_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "http.h"
#include "limits.h"


enum upstream_result {
	UPSTREAM_OK = 0,
	UPSTREAM_UNREACHABLE,   /* connect/DNS/reset before a response: 502 */
	UPSTREAM_TIMEOUT,       /* no progress for UPSTREAM_TIMEOUT: 504 */
	UPSTREAM_BAD_RESPONSE,  /* unparsable or oversized response head: 502 */
	UPSTREAM_BODY_FAILED,   /* the request body source returned -1: aborted */
	UPSTREAM_SINK_FAILED,   /* the sink returned -1 (client gone): aborted */
};

struct upstream_request {
	const char              *method;
	const char              *base;      /* UPSTREAM, without trailing '/' */
	const char              *target;    /* path[?query], starts with '/' */
	size_t                   target_len;
	const struct http_field *fields;    /* end-to-end request fields to send */
	size_t                   nfields;
	int                      has_body;
	int64_t                  body_len;  /* >= 0 known, -1 unknown (chunked) */
	/* Body source: bytes (> 0), 0 at the end, -1 to abort the request. */
	ssize_t                (*body_read)(void *arg, void *buf, size_t cap);
	void                    *body_arg;
	unsigned                 timeout_s; /* UPSTREAM_TIMEOUT: stall limit */
	/* 1: send "Expect: 100-continue" and pull no body byte before the
	 * peer's 100 (or timeout_s): a refusal before acceptance then leaves
	 * the body unread (the outbound mode's retries, PROTOCOL.md 14) */
	int                      expect_continue;
};

/*
 * The response as it arrives: on_head once, when the final (non-1xx) head is
 * complete, with the end-to-end fields (hop-by-hop removed; strings valid
 * until upstream_perform returns) and the Content-Length or -1; then on_body
 * for each piece.  Either returns 0, or -1 to abort the transfer.
 */
struct upstream_sink {
	int  (*on_head)(void *arg, int status, const struct http_field *fields,
	         size_t n, int64_t content_length);
	int  (*on_body)(void *arg, const void *buf, size_t len);
	void  *arg;
};

/* From a sink's on_body: 1 when more of the answer is already waiting on the
 * upstream's socket, so the sink may gather it before it sends (a streamed
 * answer's records).  A poll(2): only sinks that gather call it. */
int  upstream_more_ready(void);

/* The CAs that verify an https:// UPSTREAM unless UPSTREAM_CA_FILE is set. */
#define UPSTREAM_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* In each worker, once (no handle, no connection yet).  ca_file (kept, not
 * copied: the caller's for the process's life) names the PEM bundle that
 * alone verifies https:// upstreams; NULL: UPSTREAM_SYSTEM_CA_FILE.
 * Returns 0 or -1. */
int  upstream_init(const char *ca_file);
void upstream_close(void);

/*
 * Performs one request.  *head_delivered is set to 1 once on_head was
 * called (after which the caller's response has started and a failure can
 * only cut it short).  A request-body failure aborts the upstream request
 * before it is complete, so the upstream never sees a whole forged or
 * truncated body.
 */
enum upstream_result upstream_perform(const struct upstream_request *req,
    const struct upstream_sink *sink, int *head_delivered);

#endif
