/* failure.c - the failure table (see failure.h). */
#include "failure.h"

#include "errors.h"
#include "log.h"

#define DECODE  "decode failure"
#define UPFAIL  "upstream request failed"
#define OUTFAIL "outbound request failed"
#define STATE_STORE_UNAVAILABLE "state store unavailable"

/* A relay status (559-570) sends its text from the errors table (errors.c):
 * the message column is NULL for those rows. */
#define RELAY(code, why, cnt, mdr, ev)      { code, NULL, why, cnt, mdr, ev, LOG_WARN, 0 }
#define CLEAR(code, msg, why)               { code, msg, why, FC_NONE, 0, NULL, LOG_INFO, 0 }
#define SEALED(code, msg, why, cnt, mdr, ev) { code, msg, why, cnt, mdr, ev, LOG_WARN, 1 }
#define OUTBOUND(code, msg, why, ev)        { code, msg, why, FC_NONE, 0, ev, LOG_WARN, 0 }
#define PAIRING(msg)                        { 400, msg, msg, FC_DECODE, MDR_PAIR_REQUEST, NULL, LOG_INFO, 0 }

static const struct failure_kind table[F_COUNT] = {
	[F_UNROUTED]               = RELAY(RS_BAD_RELAY_HEADER,
	    "no x-mte-relay header on a protected route", FC_NONE, 0, NULL),
	[F_PATH_UNCLEAN]           = CLEAR(400,
	    "request path has dot segments or encoded separators", "unclean path"),

	[F_RELAY_HEADER_TOO_LONG]  = RELAY(RS_BAD_RELAY_HEADER, "x-mte-relay too long",
	    FC_DECODE, MDR_RELAY_HEADER, NULL),
	[F_RELAY_FIELD_REPEATED]   = RELAY(RS_BAD_RELAY_HEADER, "repeated x-mte-relay field",
	    FC_DECODE, MDR_RELAY_HEADER, NULL),
	[F_RELAY_HEADER_MALFORMED] = RELAY(RS_BAD_RELAY_HEADER, "malformed x-mte-relay",
	    FC_DECODE, MDR_RELAY_HEADER, NULL),
	[F_METHOD_TOO_LONG]        = RELAY(RS_BAD_RELAY_HEADER, "method too long",
	    FC_DECODE, MDR_RELAY_HEADER, NULL),
	[F_FLAG_U_TARGET]          = RELAY(RS_BAD_RELAY_HEADER,
	    "flag u with a request-target other than /", FC_DECODE, MDR_RELAY_HEADER, NULL),
	[F_ABSOLUTE_FORM]          = RELAY(RS_BAD_RELAY_HEADER, "absolute-form request-target",
	    FC_DECODE, MDR_RELAY_HEADER, NULL),
	[F_BODY_WITHOUT_FLAG_B]    = RELAY(RS_BAD_RELAY_HEADER, "body without flag b",
	    FC_DECODE, MDR_RELAY_HEADER, NULL),
	[F_CLIENT_ID_INVALID]      = RELAY(RS_INVALID_CLIENT_ID, "client id signature invalid",
	    FC_DECODE, MDR_CLIENT_ID, DECODE),
	[F_PAIR_NOT_FOUND]         = SEALED(RS_STATE_NOT_FOUND, NULL, "pair not found",
	    FC_DECODE, MDR_PAIR_NOT_FOUND, NULL),
	[F_BODY_LENGTH]            = RELAY(RS_DECODE_FAILED,
	    "body length is not a sealed body length", FC_DECODE, MDR_BODY_LENGTH, DECODE),
	[F_TARGET_TOO_LONG]        = RELAY(RS_DECODE_FAILED, "request-target too long",
	    FC_DECODE, MDR_TARGET_TOO_LONG, DECODE),
	[F_META_MISSING]           = RELAY(RS_DECODE_FAILED, "missing x-mte-relay-eh",
	    FC_DECODE, MDR_META_MISSING, DECODE),
	[F_META_TOO_LARGE]         = RELAY(RS_DECODE_FAILED, "x-mte-relay-eh too large",
	    FC_DECODE, MDR_META_MISSING, DECODE),
	[F_META_NOT_BASE64URL]     = RELAY(RS_DECODE_FAILED, "x-mte-relay-eh is not base64url",
	    FC_DECODE, MDR_META_MISSING, DECODE),
	[F_META_AUTH]              = RELAY(RS_DECODE_FAILED, "meta failed authentication",
	    FC_DECODE, MDR_META_AUTH, DECODE),
	[F_REPLAYED]               = SEALED(RS_REPLAYED, NULL, "replayed or stale seq",
	    FC_REPLAY, 0, DECODE),

	[F_META_INVALID]           = SEALED(400, "invalid request meta", "invalid request meta",
	    FC_DECODE, MDR_META_INVALID, NULL),
	[F_PROTECTED_PATH_UNCLEAN] = SEALED(400,
	    "request path has dot segments or encoded separators",
	    "request path has dot segments or encoded separators", FC_NONE, 0, NULL),
	[F_NOT_AN_MTE_ROUTE]       = SEALED(404, "not found", "not in MTE_ROUTES", FC_NONE, 0, NULL),
	[F_META_FIELD_INVALID]     = SEALED(400, "invalid header in request meta",
	    "invalid header in request meta", FC_NONE, 0, NULL),
	[F_META_TOO_MANY_FIELDS]   = SEALED(400, "too many request header fields",
	    "too many request header fields", FC_NONE, 0, NULL),
	[F_BODY_OPEN]              = SEALED(500, "body could not be opened",
	    "body could not be opened", FC_NONE, 0, NULL),
	[F_EMPTY_BODY_AUTH]        = SEALED(RS_DECODE_FAILED, "failed to decode",
	    "body failed authentication", FC_DECODE, MDR_BODY_AUTH, DECODE),
	[F_BODY_AUTH]              = SEALED(RS_DECODE_FAILED, "failed to decode",
	    "body chunk failed authentication or final chunk missing", FC_DECODE, MDR_BODY_AUTH,
	    DECODE),
	[F_UPSTREAM_HEAD_TOO_LARGE] = SEALED(502, "upstream response head too large to seal",
	    "upstream response head too large to seal", FC_NONE, 0, UPFAIL),
	[F_RESPONSE_UNSEALABLE]    = CLEAR(0, NULL, "response could not be sealed"),

	[F_PAIR_METHOD]            = CLEAR(405, "method not allowed", "method not allowed"),
	[F_PAIR_RELAY_MISSING]     = RELAY(RS_BAD_RELAY_HEADER, "missing x-mte-relay",
	    FC_NONE, 0, NULL),
	[F_CLIENT_ID_REFUSED]      = RELAY(RS_INVALID_CLIENT_ID, "invalid client id",
	    FC_DECODE, MDR_CLIENT_ID, NULL),
	[F_PAIR_BODY_TOO_LARGE]    = CLEAR(413, "pairing request body too large",
	    "pairing body too large"),
	[F_PAIR_NUL_ESCAPE]        = PAIRING("pairing body must not contain \\u0000"),
	[F_PAIR_NOT_ARRAY]         = PAIRING("pairing body must be a JSON array"),
	[F_PAIR_ENTRY_COUNT]       = PAIRING("pairing body must hold 1 to 16 entries"),
	[F_PAIR_ENTRY_FIELDS]      = PAIRING("each entry needs string pairId, publicKey and personalization"),
	[F_PAIR_ID_SYNTAX]         = PAIRING("pairId must be 16 to 64 characters of [A-Za-z0-9_-]"),
	[F_PAIR_PERSONALIZATION]   = PAIRING("personalization must be 0 to 128 printable ASCII characters"),
	[F_PAIR_KEY_LENGTH]        = PAIRING("publicKey must be an X-Wing public key (1216 bytes, base64url)"),
	[F_PAIR_ID_REPEATED]       = PAIRING("pairId repeated in one request"),
	[F_PAIR_KEY_BASE64URL]     = PAIRING("publicKey is not valid base64url"),
	[F_PAIR_KEY_CHECK]         = PAIRING("publicKey fails the ML-KEM-768 encapsulation key check"),
	[F_PAIR_ID_IN_USE]         = PAIRING("pairId already in use"),
	[F_PAIR_ENTRY_REJECTED]    = PAIRING("pairing entry rejected"),
	[F_PAIR_RELAY_KEY_FIELDS]  = PAIRING("relayKeyId (16 hex characters) and relayCiphertext (an X-Wing ciphertext, base64url) go together"),
	[F_PAIR_RELAY_KEY_UNKNOWN] = PAIRING("relayKeyId names no key of this relay"),
	[F_PAIR_ENCAPS]            = CLEAR(500, "pairing failed", "pairing failed"),
	[F_PAIR_RESPONSE_TOO_LARGE] = CLEAR(500, "pairing response too large",
	    "pairing response too large"),
	[F_PAIR_RATE_INSTANCE]     = CLEAR(429, "too many pairings", "pairing limit: this instance"),
	[F_PAIR_RATE_ADDRESS]      = CLEAR(429, "too many pairings", "pairing limit: client address"),
	[F_PAIR_RATE_CLIENT]       = CLEAR(429, "too many pairings", "pairing limit: client id"),

	[F_STORE_UNAVAILABLE]      = CLEAR(503, STATE_STORE_UNAVAILABLE, STATE_STORE_UNAVAILABLE),
	[F_FIELDS_TOO_LARGE]       = CLEAR(431, "request header fields too large to forward",
	    "request fields too large to forward"),
	[F_METHOD_TOO_LONG_TO_FORWARD] = CLEAR(501, "request method too long to forward",
	    "method too long"),
	[F_BODY_TOO_LARGE]         = SEALED(413, "request body too large", "request body too large",
	    FC_NONE, 0, NULL),
	[F_BODY_MALFORMED]         = SEALED(400, "request body could not be read",
	    "request body malformed", FC_NONE, 0, NULL),
	[F_BODY_STALLED]           = SEALED(408, "request body could not be read",
	    "request body stalled", FC_NONE, 0, NULL),
	[F_CLIENT_GONE]            = CLEAR(0, NULL, "client connection failed"),
	[F_UPSTREAM_UNREACHABLE]   = SEALED(502, "upstream unreachable", "upstream unreachable",
	    FC_NONE, 0, UPFAIL),
	[F_UPSTREAM_TIMEOUT]       = SEALED(504, "upstream timed out", "upstream timed out",
	    FC_NONE, 0, UPFAIL),
	[F_UPSTREAM_BAD_RESPONSE]  = SEALED(502, "upstream unreachable",
	    "upstream sent an invalid response", FC_NONE, 0, UPFAIL),

	[F_OUTBOUND_TOKEN]         = OUTBOUND(403, "outbound token required",
	    "no or wrong outbound token", "outbound refused"),
	[F_OUTBOUND_NO_PARTNER]    = OUTBOUND(403, "no partner relay for this path",
	    "unknown partner", "outbound refused"),
	[F_OUTBOUND_PAIRING]       = OUTBOUND(502, "pairing with the partner relay failed",
	    "pairing with the partner relay failed", OUTFAIL),
	[F_OUTBOUND_REFUSED]       = OUTBOUND(502, "the partner relay refused the request",
	    "the partner relay refused the request", OUTFAIL),
	[F_OUTBOUND_NOT_RESENT]    = OUTBOUND(502,
	    "the partner relay may have received the request; not sent again",
	    "not sent again: a non-idempotent request may have run", OUTFAIL),
	[F_OUTBOUND_ANSWER_AUTH]   = OUTBOUND(502, "the partner relay's answer failed authentication",
	    "answer failed authentication", OUTFAIL),
};

const struct failure_kind *
failure_kind(enum failure f)
{
	return &table[f < F_COUNT ? f : F_CLIENT_GONE];
}

const char *
failure_message(enum failure f)
{
	const struct failure_kind *k = failure_kind(f);

	return k->message != NULL ? k->message : relay_error_message(k->status);
}

enum failure
failure_of_body_error(int body_status)
{
	switch (body_status) {
	case 408: return F_BODY_STALLED;
	case 413: return F_BODY_TOO_LARGE;
	case 499: return F_CLIENT_GONE;
	default:  return F_BODY_MALFORMED;
	}
}

enum failure
failure_of_upstream(enum upstream_result r, int body_status)
{
	switch (r) {
	case UPSTREAM_TIMEOUT:      return F_UPSTREAM_TIMEOUT;
	case UPSTREAM_BAD_RESPONSE: return F_UPSTREAM_BAD_RESPONSE;
	case UPSTREAM_BODY_FAILED:  return failure_of_body_error(body_status);
	case UPSTREAM_SINK_FAILED:  return F_CLIENT_GONE;
	case UPSTREAM_OK:
	case UPSTREAM_UNREACHABLE:
		break;
	}
	return F_UPSTREAM_UNREACHABLE;
}

void
failure_account(enum failure f, const char *request_id, const char *client_id,
    const char *pair_id)
{
	const struct failure_kind *k = failure_kind(f);

	if (k->count == FC_DECODE)
		metrics_count_decode_failure(k->decode);
	else if (k->count == FC_REPLAY)
		metrics_count_replay();
	if (k->event == NULL)
		return;
	if (client_id != NULL)
		LOG_EVENT(k->level, k->event, LOG_S("request_id", request_id),
		    LOG_S("client_id", client_id), LOG_S("pair_id", pair_id != NULL ? pair_id : ""),
		    LOG_I("status", k->status), LOG_S("reason", k->reason));
	else
		LOG_EVENT(k->level, k->event, LOG_S("request_id", request_id),
		    LOG_I("status", k->status), LOG_S("reason", k->reason));
}
