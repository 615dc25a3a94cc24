/*
 * failure.h - every way a request can fail, and what each one answers.
 *
 * One table maps each failure kind to its HTTP status, the "error" text of
 * the JSON body, the reason the logs show, the counter it moves, the event
 * it logs and whether the answer is sealed.  Pairing, the protected path,
 * the pass-through and dispatch all answer through it, so each failure
 * (a store outage, each upstream result) has its status in exactly one place.
 */
#ifndef MTE_FAILURE_H
#define MTE_FAILURE_H

#include <stddef.h>
#include "log.h"
#include "metrics.h"
#include "upstream.h"

enum failure {
	/* dispatch */
	F_UNROUTED,                 /* no x-mte-relay on a protected route */
	F_PATH_UNCLEAN,             /* pass-through path with dot segments */
	/* the protected path, before acceptance: always in the clear */
	F_RELAY_HEADER_TOO_LONG,
	F_RELAY_FIELD_REPEATED,
	F_RELAY_HEADER_MALFORMED,
	F_METHOD_TOO_LONG,
	F_FLAG_U_TARGET,
	F_ABSOLUTE_FORM,
	F_BODY_WITHOUT_FLAG_B,
	F_CLIENT_ID_INVALID,
	F_PAIR_NOT_FOUND,
	F_BODY_LENGTH,
	F_TARGET_TOO_LONG,
	F_META_MISSING,
	F_META_TOO_LARGE,
	F_META_NOT_BASE64URL,
	F_META_AUTH,
	F_REPLAYED,
	/* the protected path, after acceptance: sealed */
	F_META_INVALID,
	F_PROTECTED_PATH_UNCLEAN,
	F_NOT_AN_MTE_ROUTE,
	F_META_FIELD_INVALID,
	F_META_TOO_MANY_FIELDS,
	F_BODY_OPEN,
	F_EMPTY_BODY_AUTH,
	F_BODY_AUTH,
	F_UPSTREAM_HEAD_TOO_LARGE,
	F_RESPONSE_UNSEALABLE,
	/* pairing */
	F_PAIR_METHOD,
	F_PAIR_RELAY_MISSING,
	F_CLIENT_ID_REFUSED,        /* /api/mte-relay, /api/mte-pair: not logged as a decode failure */
	F_PAIR_BODY_TOO_LARGE,
	F_PAIR_NUL_ESCAPE,
	F_PAIR_NOT_ARRAY,
	F_PAIR_ENTRY_COUNT,
	F_PAIR_ENTRY_FIELDS,
	F_PAIR_ID_SYNTAX,
	F_PAIR_PERSONALIZATION,
	F_PAIR_KEY_LENGTH,
	F_PAIR_ID_REPEATED,
	F_PAIR_KEY_BASE64URL,
	F_PAIR_KEY_CHECK,
	F_PAIR_ID_IN_USE,
	F_PAIR_ENTRY_REJECTED,
	F_PAIR_RELAY_KEY_FIELDS,
	F_PAIR_RELAY_KEY_UNKNOWN,
	F_PAIR_ENCAPS,
	F_PAIR_RESPONSE_TOO_LARGE,
	F_PAIR_RATE_INSTANCE,       /* 429: the budgets of PROTOCOL.md "Pairing limits" */
	F_PAIR_RATE_ADDRESS,
	F_PAIR_RATE_CLIENT,
	/* shared by the paths that forward */
	F_STORE_UNAVAILABLE,
	F_FIELDS_TOO_LARGE,
	F_METHOD_TOO_LONG_TO_FORWARD, /* pass-through or outbound: over METHOD_MAX */
	F_BODY_TOO_LARGE,
	F_BODY_MALFORMED,
	F_BODY_STALLED,
	F_CLIENT_GONE,
	F_UPSTREAM_UNREACHABLE,
	F_UPSTREAM_TIMEOUT,
	F_UPSTREAM_BAD_RESPONSE,
	/* the outbound listener (outbound.c, PROTOCOL.md section 14) */
	F_OUTBOUND_TOKEN,           /* no or wrong OUTBOUND_TOKEN: 403 */
	F_OUTBOUND_NO_PARTNER,      /* no partner for this path (or absolute form): 403 */
	F_OUTBOUND_PAIRING,         /* client id or pairing with the partner failed: 502 */
	F_OUTBOUND_REFUSED,         /* the partner refused, no retry left or allowed: 502 */
	F_OUTBOUND_NOT_RESENT,      /* non-idempotent, the partner may have run it: 502 */
	F_OUTBOUND_ANSWER_AUTH,     /* the partner's answer failed authentication: 502 / cut */
	F_COUNT
};

/* Which counter a failure moves. */
enum failure_count { FC_NONE, FC_DECODE, FC_REPLAY };

struct failure_kind {
	int                        status;   /* sent; 0: nothing is sent, the connection closes */
	const char                *message;  /* the "error" of the JSON body */
	const char                *reason;   /* the logs' reason */
	enum failure_count         count;
	enum metrics_decode_reason decode;   /* with FC_DECODE */
	const char                *event;    /* a log line of its own ("decode failure",
	                                      * "upstream request failed"), or NULL */
	enum log_level             level;    /* of that line */
	int                        sealed;   /* answered sealed when the protected request
	                                      * was accepted (the relay holds its keys), or
	                                      * its meta opened and it asked (flag a) */
};

/* The table's row for f (f < F_COUNT). */
const struct failure_kind *failure_kind(enum failure f);

/* The "error" text f sends: its message, or for a relay status (559-570)
 * the errors table's text. */
const char *failure_message(enum failure f);

/* The failure of a request body that conn_body_read could not deliver:
 * body_status is conn_body_error's (400, 408, 413, 499). */
enum failure failure_of_body_error(int body_status);

/* The failure of a transfer that upstream_perform ended with r (not
 * UPSTREAM_OK); body_status as above, for UPSTREAM_BODY_FAILED. */
enum failure failure_of_upstream(enum upstream_result r, int body_status);

/*
 * Counts f and logs its event, if it has one, with the request id and,
 * when not NULL, the client and pair ids of a protected request.
 */
void failure_account(enum failure f, const char *request_id, const char *client_id,
    const char *pair_id);

#endif
