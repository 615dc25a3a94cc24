/*
 * route.h - route patterns and the relay's dispatch classes.
 *
 * A pattern is an absolute path matched segment by segment: a literal
 * segment matches itself, ":name" matches any one non-empty segment, and a
 * pattern whose last segment ends in '*' matches any rest of the path from
 * there on (the pattern "/api/" + '*' matches "/api/" and "/api/a/b"; "/v1"
 * + '*' matches "/v1" and "/v10/x").  Matching is on the path only (no query), byte for byte.
 */
#ifndef MTE_ROUTE_H
#define MTE_ROUTE_H

#include <stddef.h>
#include "config.h"

/* Returns 0 when text is a valid pattern, else -1 with *why set. */
int route_pattern_check(const char *text, const char **why);

/* Returns 1 when path (len bytes, no query) matches pattern, else 0. */
int route_match(const char *pattern, const char *path, size_t len);

/* Returns 1 when any pattern of list matches. An empty list matches nothing. */
int route_list_match(const struct route_list *list, const char *path, size_t len);

/*
 * Returns 1 when path is safe to compare against patterns and to forward:
 * it starts with '/', and has no dot segment ("." or "..", also when
 * percent-encoded), no encoded '/' or '\\', no NUL.  A path that is not
 * clean could make the upstream route differently from the relay's match.
 */
int route_path_is_clean(const char *path, size_t len);

/* Built-in routes, tested before protected and pass-through routes. */
enum route_builtin {
	ROUTE_NONE = 0,
	ROUTE_ECHO,             /* /api/mte-echo and /api/mte-echo/:msg */
	ROUTE_MTE_RELAY,            /* /api/mte-relay */
	ROUTE_PAIR,             /* /api/mte-pair */
	ROUTE_ERRORS,           /* /api/mte-errors */
	ROUTE_PUBLIC,           /* /public/<file> */
	ROUTE_METRICS,          /* /metrics */
};

/* Classifies a clear path (no query). For ROUTE_ECHO, *arg and *arg_len are the
 * raw message segment (may be empty); for ROUTE_PUBLIC, the file name. */
enum route_builtin route_builtin(const char *path, size_t len,
    const char **arg, size_t *arg_len);

/* What a request turned out to be: the route of logs and metrics.
 * RC_MTE_RELAY is GET/HEAD /api/mte-relay (a client id), labelled "relay". */
enum route_class {
	RC_NONE = 0, RC_PREFLIGHT, RC_ECHO, RC_MTE_RELAY, RC_PAIR, RC_ERRORS, RC_PUBLIC,
	RC_METRICS, RC_PROTECTED, RC_PASS_THROUGH, RC_UNROUTED, RC_OUTBOUND, RC_COUNT
};

/* The label of rc in logs and metrics ("pass-through", "protected", ...). */
const char *route_class_label(enum route_class rc);

#endif
