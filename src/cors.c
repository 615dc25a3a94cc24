/* cors.c - CORS decisions (see cors.h). */
#include "cors.h"

#include <stdio.h>
#include <string.h>

#define CORS_STR_(x) #x
#define CORS_STR(x) CORS_STR_(x)
static const char cors_max_age[] = CORS_STR(CORS_MAX_AGE_S);
static const char cors_expose[] = "x-mte-relay, x-mte-relay-eh, x-mte-relay-auth";
static const char cors_base_headers[] = "x-mte-relay, x-mte-relay-eh, content-type";

int
cors_origin_allowed(const struct config *cfg, const struct http_request *req)
{
	const struct http_header *h;
	size_t i;

	if (req == NULL || (h = http_header_get(req, "origin")) == NULL)
		return 0;
	for (i = 0; i < cfg->cors_origins.count; i++) {
		const char *o = cfg->cors_origins.items[i];
		if (strlen(o) == h->value.len && memcmp(o, h->value.ptr, h->value.len) == 0)
			return 1;
	}
	return 0;
}

int
cors_is_preflight(const struct http_request *req)
{
	return req->method.len == 7 && memcmp(req->method.ptr, "OPTIONS", 7) == 0 &&
	    http_header_get(req, "origin") != NULL &&
	    http_header_get(req, "access-control-request-method") != NULL;
}

static size_t
grant(const struct config *cfg, const struct http_request *req, struct cors_scratch *s,
    struct http_field *out)
{
	const struct http_header *h = http_header_get(req, "origin");
	size_t n = 0;

	out[n++] = (struct http_field){ "Vary", "Origin" };
	if (!cors_origin_allowed(cfg, req) || h->value.len >= sizeof s->origin)
		return n;
	memcpy(s->origin, h->value.ptr, h->value.len);
	s->origin[h->value.len] = '\0';
	out[n++] = (struct http_field){ "Access-Control-Allow-Origin", s->origin };
	out[n++] = (struct http_field){ "Access-Control-Allow-Credentials", "true" };
	return n;
}

size_t
cors_response_fields(const struct config *cfg, const struct http_request *req,
    struct cors_scratch *s, struct http_field *out, size_t cap)
{
	size_t n;

	if (cap < CORS_FIELDS_MAX)
		return 0;
	if (req == NULL) {
		out[0] = (struct http_field){ "Vary", "Origin" };
		return 1;
	}
	n = grant(cfg, req, s, out);
	if (n > 1)
		out[n++] = (struct http_field){ "Access-Control-Expose-Headers", cors_expose };
	return n;
}

/* Appends the requested header names that are valid tokens, lower-cased. */
static void
requested_headers(const struct http_request *req, char *dst, size_t cap)
{
	const struct http_header *h = http_header_get(req, "access-control-request-headers");
	size_t len = strlen(dst), i = 0;

	if (h == NULL || h->value.len > CORS_REQUEST_HEADERS_MAX)
		return;
	while (i < h->value.len) {
		size_t start, end;
		while (i < h->value.len && (h->value.ptr[i] == ' ' || h->value.ptr[i] == ','))
			i++;
		start = i;
		while (i < h->value.len && h->value.ptr[i] != ',' && h->value.ptr[i] != ' ')
			i++;
		end = i;
		if (end == start || !http_is_token(h->value.ptr + start, end - start))
			continue;
		if (len + 2 + (end - start) + 1 > cap)
			return;
		memcpy(dst + len, ", ", 2);
		len += 2;
		for (; start < end; start++) {
			char c = h->value.ptr[start];
			dst[len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		dst[len] = '\0';
	}
}

size_t
cors_preflight_fields(const struct config *cfg, const struct http_request *req,
    struct cors_scratch *s, struct http_field *out, size_t cap)
{
	size_t n, i, len = 0;

	if (cap < CORS_FIELDS_MAX)
		return 0;
	n = grant(cfg, req, s, out);
	if (n == 1)
		return n;
	s->methods[0] = '\0';
	for (i = 0; i < cfg->cors_methods.count; i++) {
		int w = snprintf(s->methods + len, sizeof s->methods - len, "%s%s",
		    len ? ", " : "", cfg->cors_methods.items[i]);
		if (w < 0 || (size_t)w >= sizeof s->methods - len)
			break;
		len += (size_t)w;
	}
	snprintf(s->headers, sizeof s->headers, "%s", cors_base_headers);
	requested_headers(req, s->headers, sizeof s->headers);
	out[n++] = (struct http_field){ "Access-Control-Allow-Methods", s->methods };
	out[n++] = (struct http_field){ "Access-Control-Allow-Headers", s->headers };
	out[n++] = (struct http_field){ "Access-Control-Max-Age", cors_max_age };
	return n;
}
