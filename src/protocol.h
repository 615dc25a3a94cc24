/*
 * protocol.h - the syntax of the protocol's text fields (protocol.md):
 * client ids, pair ids, personalization strings, sequence numbers.  Pure functions over
 * caller buffers; shared by pairing and protected requests so that both
 * accept exactly the same strings.
 */
#ifndef MTE_PROTOCOL_H
#define MTE_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include "limits.h"

/* 1 when p[0..n) is a pair id: PAIR_ID_MIN..PAIR_ID_MAX chars of [A-Za-z0-9_-]. */
int protocol_pair_id_ok(const char *p, size_t n);

/* 1 when p[0..n) is a personalization: 0..PERSONALIZATION_MAX printable
 * ASCII characters (0x20..0x7e). */
int protocol_personalization_ok(const char *p, size_t n);

/* Parses a canonical decimal seq (1..2^64-1, no sign, no leading zero) from
 * p[0..n) into *seq.  Returns 0, or -1 (nothing written) when malformed. */
int protocol_parse_seq(const char *p, size_t n, uint64_t *seq);

/* 1 when p[0..n) is a client id: exactly CLIENT_ID_HEX_LEN lower-case hex
 * digits.  Ids are lower case everywhere (pairing, protected requests, the
 * store's keys): an upper-case id is a different, invalid string. */
int protocol_client_id_ok(const char *p, size_t n);

/* The parts of a protected message's x-mte-relay field (protocol.md,
 * "The x-mte-relay header"): slices of the caller's buffer. */
struct relay_header {
	const char *signed_id;      /* CLIENT_ID_SIGNED_LEN chars, syntax checked (not the MAC) */
	const char *pair_id;
	size_t      pair_id_len;
	const char *seq_text;       /* canonical decimal */
	size_t      seq_len;
	uint64_t    seq;
	int         flag_u, flag_b, flag_a, flag_s;
	const char *flags;          /* u, b, a, s in this order, each optional */
	size_t      flags_len;
};

/*
 * Splits v[0..len), "<signed clientId>,<pairId>,<seq>,<flags>", into *out.
 * Returns 0, or -1 when malformed (a length over RELAY_HEADER_MAX, not four
 * parts, a part of the wrong syntax); *out is then unspecified.
 */
int protocol_parse_relay_header(const char *v, size_t len, struct relay_header *out);

/*
 * The AAD of every chunk of a message (protocol.md, "Items and chunks"),
 * the one place its layout is written (the relay opens requests and seals
 * answers with it, the outbound client and the load generator seal
 * requests and open answers with it):
 *   request:  "mte-relay/1 req " cid " " pid " " seq " " flags " " METHOD " " target
 *   response: "mte-relay/1 res " cid " " pid " " seq " " flags " " status(3 digits)
 * target[0..target_len) is the clear request-target (target_len 0 with u).
 * Writes to out[0..cap) and returns the length, or -1 when it does not fit.
 */
int protocol_aad_request(char *out, size_t cap, const char *cid, const char *pid,
    const char *seq, const char *flags, const char *method, const char *target,
    size_t target_len);
int protocol_aad_response(char *out, size_t cap, const char *cid, const char *pid,
    const char *seq, const char *flags, int status);

/*
 * The x-mte-relay field of a protected request or its answer,
 * signed_id "," pid "," seq "," flags (protocol.md), into out[0..cap) with
 * its NUL.  Returns the length, or -1 when it does not fit.
 */
int protocol_format_relay_header(char *out, size_t cap, const char *signed_id,
    const char *pid, const char *seq, const char *flags);

#endif
