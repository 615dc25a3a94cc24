/*
 * server.h - a worker's request handling: dispatch, built-in routes,
 * pass-through proxy.  One struct server per worker process.
 */
#ifndef MTE_SERVER_H
#define MTE_SERVER_H

#include <stddef.h>
#include "config.h"
#include "conn.h"
#include "cors.h"
#include "route.h"
#include "upstream.h"

#define SERVER_FORWARD_BUF       (HTTP_HEADERS_MAX + 1024) /* NUL-terminated copies of
                                                            * forwarded request fields */

struct server {
	const struct config *cfg;
	struct conn         *conn;          /* of the request in flight */
	char                 peer[64];      /* address of the connected client */
	enum route_class     route;         /* of the request in flight */
	const char          *reason;        /* short failure reason for the log, or NULL */
	struct cors_scratch  cors;
	/* clear fields, sealed fields, HEADERS and X-Forwarded-For */
	struct http_field    forward[2 * HTTP_HEADER_COUNT_MAX + CONFIG_LIST_MAX + 2];
	char                 forward_buf[SERVER_FORWARD_BUF];
	size_t               forward_used;  /* bytes of forward_buf in use */
};

/* conn hooks and handler (arg is the struct server). */
void   server_handle(struct conn *c, const struct http_request *req, void *arg);
size_t server_response_fields(void *arg, const struct http_request *req, int status,
           struct http_field *out, size_t cap);
void   server_request_done(void *arg, struct conn *c, const struct http_request *req);

/* Worker entry point for prefork_run (arg is the const struct config). */
void   server_worker_main(int listen_fd, void *arg);

/* Built-in routes (builtin.c). */
void   builtin_echo(struct server *s, struct conn *c, const struct http_request *req,
           const char *msg, size_t msg_len);
void   builtin_errors(struct server *s, struct conn *c, const struct http_request *req);
void   builtin_public(struct server *s, struct conn *c, const struct http_request *req,
           const char *name, size_t name_len);
void   builtin_relay(struct server *s, struct conn *c, const struct http_request *req);
void   builtin_metrics(struct server *s, struct conn *c, const struct http_request *req);

/* POST /api/mte-pair (pair.c). */
void   pair_handle(struct server *s, struct conn *c, const struct http_request *req);

/* A protected request: one carrying a four-part x-mte-relay field (relay.c). */
void   relay_handle(struct server *s, struct conn *c, const struct http_request *req);

/* Pass-through proxy (proxy.c). */
void   proxy_pass_through(struct server *s, struct conn *c, const struct http_request *req);

/*
 * Fields sent upstream (proxy.c), built in s->forward with their strings in
 * s->forward_buf: proxy_clear_fields copies the request's end-to-end fields
 * (hop-by-hop ones, those named by Connection, names with '_' and the
 * relay's own fields removed) and returns their count; proxy_add_relay_fields
 * appends the HEADERS setting and X-Forwarded-For after n fields and returns
 * the new count.  Both return -1 when the fields do not fit.
 */
int    proxy_clear_fields(struct server *s, const struct http_request *req);
int    proxy_add_relay_fields(struct server *s, const struct http_request *req, size_t n);

/* 1 when name is a field the relay itself sets upstream (X-Forwarded-For,
 * the HEADERS setting): a client never supplies it. */
int    proxy_is_relay_field(const struct server *s, const char *name, size_t len);

/* Answers a failed upstream transfer: 502/504 JSON when no response has
 * started, else cuts the response short.  (proxy.c) */
void   proxy_fail(struct server *s, struct conn *c, enum upstream_result r, int head_sent);

/* 1 when the method is GET or HEAD. */
int    server_is_get_or_head(const struct http_request *req);

#endif
