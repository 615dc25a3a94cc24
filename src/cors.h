/*
 * cors.h - Cross-Origin Resource Sharing decisions.
 *
 * Origins are matched exactly against CORS_ORIGINS.  A granted origin is
 * echoed in Access-Control-Allow-Origin with credentials allowed; every
 * answer carries "Vary: Origin" so caches keep origins apart.  Other
 * origins get no grant (the browser then refuses the response).
 */
#ifndef MTE_CORS_H
#define MTE_CORS_H

#include <stddef.h>
#include "config.h"
#include "limits.h"
#include "http.h"

#define CORS_FIELDS_MAX         8       /* fields cors_response_fields/cors_preflight write */

/* Storage for the strings of the fields written below (one request at a time). */
struct cors_scratch {
	char origin[512];
	char methods[512];
	char headers[CORS_REQUEST_HEADERS_MAX + 128];
};

/* 1 when the request's Origin is in CORS_ORIGINS. */
int    cors_origin_allowed(const struct config *cfg, const struct http_request *req);

/* 1 when req is a CORS preflight (OPTIONS with Origin and
 * Access-Control-Request-Method). */
int    cors_is_preflight(const struct http_request *req);

/*
 * Fields for an actual (non-preflight) response: Vary, and for an allowed
 * origin Allow-Origin, Allow-Credentials and Expose-Headers.  Writes at most
 * cap (>= CORS_FIELDS_MAX) fields; returns how many.  req may be NULL.
 */
size_t cors_response_fields(const struct config *cfg, const struct http_request *req,
           struct cors_scratch *s, struct http_field *out, size_t cap);

/*
 * Fields for a preflight answer (204): as above, plus Allow-Methods
 * (CORS_METHODS with OPTIONS and HEAD), Allow-Headers (x-mte-relay,
 * x-mte-relay-eh, content-type and the requested ones when they are valid
 * tokens) and Max-Age.  A disallowed origin gets only Vary.
 */
size_t cors_preflight_fields(const struct config *cfg, const struct http_request *req,
           struct cors_scratch *s, struct http_field *out, size_t cap);

#endif
