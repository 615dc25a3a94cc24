/*
 * errors.h - the relay's own error statuses (protocol.md "Error statuses").
 *
 * One table maps each relay error to its status code and message; the
 * /api/mte-errors route lists it and every error response takes its text
 * from it, so the two can never disagree.
 */
#ifndef MTE_ERRORS_H
#define MTE_ERRORS_H

#include <stddef.h>

enum relay_status {
	RS_REPAIR_REQUIRED      = 559,
	RS_STATE_NOT_FOUND      = 560,
	RS_ENCODE_FAILED        = 561,
	RS_DECODE_FAILED        = 562,
	RS_STATE_ERROR          = 563,
	RS_REKEY_REQUIRED       = 564,
	RS_PROTOCOL_STATUS      = 565,
	RS_INVALID_CLIENT_ID    = 566,
	RS_SAVE_STATE_FAILED    = 567,
	RS_SAVE_STATE_FAILED_2  = 568,
	RS_BAD_RELAY_HEADER     = 569,
	RS_REPLAYED             = 570,
};

struct relay_error {
	int         code;
	const char *message;        /* the "error" string of the JSON body */
	const char *client_action;  /* what a conforming client does */
};

/* The table, in code order, and its length. */
extern const struct relay_error relay_errors[];
extern const size_t relay_errors_count;

/* Message for a relay status (559-570), or NULL for any other code. */
const char *relay_error_message(int code);

/* Writes the JSON array served by GET /api/mte-errors into buf (NUL-terminated).
 * Returns its length, or -1 when cap is too small. */
int relay_errors_json(char *buf, size_t cap);

#endif
