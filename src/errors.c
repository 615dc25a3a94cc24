/* errors.c - the relay error table (see errors.h). */
#include "errors.h"

#include <stdio.h>

const struct relay_error relay_errors[] = {
	{ RS_REPAIR_REQUIRED,     "repair required",            "drop the pair, pair again, retry once" },
	{ RS_STATE_NOT_FOUND,     "state not found",            "drop the pair, pair again, retry once" },
	{ RS_ENCODE_FAILED,       "failed to encode",           "drop the pair, pair again, retry once" },
	{ RS_DECODE_FAILED,       "failed to decode",           "drop the pair, pair again, retry once" },
	{ RS_STATE_ERROR,         "state error",                "drop the pair, pair again, retry once" },
	{ RS_REKEY_REQUIRED,      "rekey required",             "drop the pair, pair again, retry once" },
	{ RS_PROTOCOL_STATUS,     "protocol status error",      "drop the pair, pair again, retry once" },
	{ RS_INVALID_CLIENT_ID,   "invalid client id",          "forget the client id, HEAD /api/mte-relay, pair, retry once" },
	{ RS_SAVE_STATE_FAILED,   "failed to save state",       "drop the pair, pair again, retry once" },
	{ RS_SAVE_STATE_FAILED_2, "failed to save state",       "drop the pair, pair again, retry once" },
	{ RS_BAD_RELAY_HEADER,    "missing or malformed relay header", "fix the request; not retried" },
	{ RS_REPLAYED,            "replayed or stale sequence number", "retry once with a fresh sequence number" },
};
const size_t relay_errors_count = sizeof relay_errors / sizeof relay_errors[0];

const char *
relay_error_message(int code)
{
	size_t i;

	for (i = 0; i < relay_errors_count; i++)
		if (relay_errors[i].code == code)
			return relay_errors[i].message;
	return NULL;
}

int
relay_errors_json(char *buf, size_t cap)
{
	size_t i, len = 0;
	int n;

	/* The strings are our own constants: nothing needs escaping. */
	n = snprintf(buf, cap, "[");
	if (n < 0 || (size_t)n >= cap)
		return -1;
	len = (size_t)n;
	for (i = 0; i < relay_errors_count; i++) {
		n = snprintf(buf + len, cap - len,
		    "%s{\"code\":%d,\"error\":\"%s\",\"clientAction\":\"%s\"}",
		    i ? "," : "", relay_errors[i].code, relay_errors[i].message,
		    relay_errors[i].client_action);
		if (n < 0 || (size_t)n >= cap - len)
			return -1;
		len += (size_t)n;
	}
	n = snprintf(buf + len, cap - len, "]");
	if (n < 0 || (size_t)n >= cap - len)
		return -1;
	return (int)(len + (size_t)n);
}
