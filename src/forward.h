/*
 * forward.h - the forwarding policy: which request fields reach the
 * upstream and which response fields come back, for both the pass-through
 * and the protected path (protocol.md, "Header forwarding").
 *
 * Request side, in this order:
 *   forward_begin          the client's clear end-to-end fields (hop-by-hop
 *                          ones, those named by Connection, names with '_',
 *                          x-mte-relay* and the relay's own fields removed);
 *   forward_keep_clear     protected only: of those, keep the ones a browser
 *                          or proxy sets itself, or that the sealed meta
 *                          names in "clear", and not overridden by a sealed one;
 *   forward_add_sealed     protected only: the sealed fields, same removals;
 *   forward_add_relay      the relay's own: HEADERS, then X-Forwarded-For.
 * Response side: forward_response_kind says whether an upstream response
 * field is dropped, passed in the clear, or (protected path) sealed.
 *
 * Pure functions over caller memory: no I/O, no allocation.
 */
#ifndef MTE_FORWARD_H
#define MTE_FORWARD_H

#include <stddef.h>
#include "config.h"
#include "http.h"

/* Fields one upstream request can carry: clear + sealed fields, HEADERS and
 * X-Forwarded-For. */
#define FORWARD_FIELDS_MAX  (2 * HTTP_HEADER_COUNT_MAX + CONFIG_LIST_MAX + 2)
/* Bytes for the NUL-terminated copies of forwarded strings. */
#define FORWARD_BUF         (HTTP_HEADERS_MAX + 1024)

/* The fields of one upstream request; the strings live in buf or in memory
 * the caller keeps alive (the sealed meta, the configuration). */
struct forward_fields {
	struct http_field f[FORWARD_FIELDS_MAX];
	size_t            n;
	char              buf[FORWARD_BUF];
	size_t            used;
};

enum forward_response {
	FORWARD_DROP,       /* hop-by-hop, Date (conn writes its own), CORS grants (the relay owns CORS) */
	FORWARD_CLEAR,      /* stays in the clear: the browser itself must see it */
	FORWARD_SEAL,       /* end-to-end: sealed in the response meta on the protected path */
};

/* 1 when name[0..len) is a hop-by-hop field that a proxy never forwards:
 * Connection, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade,
 * Host, Content-Length (framing is recomputed), Expect. */
int forward_is_hop_by_hop(const char *name, size_t len);

/* 1 when name[0..len) starts with "x-mte-relay" (any case): the protocol's
 * own fields, never forwarded in either direction. */
int forward_is_protocol_field(const char *name, size_t len);

/* 1 when name[0..len) is a field the relay itself sets upstream
 * (X-Forwarded-For, a HEADERS name): a client never supplies it. */
int forward_is_relay_field(const struct config *cfg, const char *name, size_t len);

/* Starts out with the clear end-to-end fields of req.  Returns 0, or -1
 * when they do not fit. */
int forward_begin(struct forward_fields *out, const struct config *cfg,
    const struct http_request *req);

/*
 * Protected path: keeps of out's fields those the hop cannot have added.
 * A field stays when the browser or a proxy sets it on its own (Accept,
 * Cookie, Sec-*, ...) or when named[0..n_named) lists it (the meta's
 * "clear"), and the client did not seal a field of the same name
 * (sealed(name, arg) != 0).  Accept-Encoding never stays: the browser's
 * encodings are not the application's.
 */
void forward_keep_clear(struct forward_fields *out, const char *const *named, size_t n_named,
    int (*sealed)(const char *name, void *arg), void *arg);

/* Protected path: appends one sealed field (NUL-terminated strings the
 * caller keeps alive).  A hop-by-hop, protocol or relay field, or a name
 * with '_', is skipped.  Returns 0, or -1 when out is full. */
int forward_add_sealed(struct forward_fields *out, const struct config *cfg,
    const char *name, const char *value);

/* Appends HEADERS, then X-Forwarded-For: every X-Forwarded-For line of req
 * in order, then peer (when not empty).  Returns 0, or -1 when they do not
 * fit. */
int forward_add_relay(struct forward_fields *out, const struct config *cfg,
    const struct http_request *req, const char *peer);

/* What happens to an upstream response field name[0..len). */
enum forward_response forward_response_kind(const char *name, size_t len);

/*
 * The Location an upstream answer carries, as the client must see it
 * (PROTOCOL.md, "location in a response meta"): when loc names the upstream
 * itself (UPSTREAM = upstream: scheme://host[:port][/base]) by an absolute
 * URL, a network-path reference or an absolute path under /base, writes the
 * absolute-path reference of the rest to buf (NUL-terminated) and returns
 * buf; otherwise, or when cap < strlen(loc) + 1, returns loc unchanged.
 * The result is never longer than loc.
 */
const char *forward_location(const char *upstream, const char *loc, char *buf, size_t cap);

#endif
