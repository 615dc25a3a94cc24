/*
 * server.h - a worker's request handling (server.c): dispatch to the
 * routes, the response hooks, the access log, and the one function that
 * turns a failure into an answer.  One struct server per worker process,
 * passed to every handler.
 */
#ifndef MTE_SERVER_H
#define MTE_SERVER_H

#include <stddef.h>
#include "client_addr.h"
#include "config.h"
#include "conn.h"
#include "cors.h"
#include "failure.h"
#include "forward.h"
#include "route.h"

struct server {
	const struct config  *cfg;
	char                  peer[64];      /* address of the connected client (TCP) */
	char                  client_addr[CLIENT_ADDR_MAX]; /* of the request in flight: the
	                                      * peer, or behind TRUSTED_PROXIES the client
	                                      * X-Forwarded-For names (client_addr.h) */
	enum route_class      route;         /* of the request in flight */
	const char           *reason;        /* short failure reason for the log, or NULL */
	struct cors_scratch   cors;
	struct forward_fields forward;       /* the upstream request's fields */
};

/*
 * How a failure is answered beyond the common case (all fields optional):
 * the ids a protected request's log line names, the sealer of a protected
 * request that was accepted (writes a whole sealed response with the given
 * status and JSON body; 0 or -1), and extra response fields (Allow).
 */
struct server_fail_ctx {
	const char              *client_id, *pair_id;
	int                    (*seal)(void *arg, int status, const char *json, size_t len);
	void                    *seal_arg;
	const struct http_field *extra;
	size_t                   n_extra;
	const char              *members;   /* JSON members added to a clear error body */
};

/*
 * Answers failure f (failure.h): sets the access log's reason, counts and
 * logs f, then sends its JSON error: sealed when ctx has a sealer and the
 * kind is sealable, else in the clear.  A kind that answers nothing, or a
 * response that has started already, closes the connection instead (the
 * client sees the response cut short).  ctx may be NULL.
 */
void   server_fail(struct server *s, struct conn *c, enum failure f,
           const struct server_fail_ctx *ctx);

/* conn hooks and handler (arg is the struct server). */
void   server_handle(struct conn *c, const struct http_request *req, void *arg);
size_t server_response_fields(void *arg, const struct http_request *req, int status,
           struct http_field *out, size_t cap);
void   server_request_done(void *arg, struct conn *c, const struct http_request *req);

/* Worker entry point for prefork_run (arg is the const struct config). */
void   server_worker_main(int listen_fd, void *arg);

/* In the parent, before workers are forked: the credentials they serve
 * HTTPS with (NULL: plain HTTP).  Workers forked later see the last value
 * set; cr must stay valid in the parent until it is replaced. */
struct tls_creds;
void   server_set_tls(const struct tls_creds *cr);

/* 1 when the method is GET or HEAD. */
int    server_is_get_or_head(const struct http_request *req);

/* Built-in routes (builtin.c). */
void   builtin_echo(struct server *s, struct conn *c, const struct http_request *req,
           const char *msg, size_t msg_len);
void   builtin_errors(struct server *s, struct conn *c, const struct http_request *req);
void   builtin_public(struct server *s, struct conn *c, const struct http_request *req,
           const char *name, size_t name_len);
void   builtin_mte_relay(struct server *s, struct conn *c, const struct http_request *req);
void   builtin_metrics(struct server *s, struct conn *c, const struct http_request *req);

/* POST /api/mte-pair (pair.c). */
void   pair_handle(struct server *s, struct conn *c, const struct http_request *req);

/* A protected request: one carrying a four-part x-mte-relay field (protected.c). */
void   protected_handle(struct server *s, struct conn *c, const struct http_request *req);

/* A request to the outbound listener (outbound.c, PROTOCOL.md section 14):
 * conn's handler for those connections (arg is the struct server). */
void   outbound_serve(struct conn *c, const struct http_request *req, void *arg);

/* A pass-through route: request and response go through untouched (passthrough.c). */
void   passthrough_handle(struct server *s, struct conn *c, const struct http_request *req);

#endif
