/*
 * protocol.h - the syntax of the protocol's text fields (protocol.md):
 * pair ids, personalization strings, sequence numbers.  Pure functions over
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

/* 1 when p[0..n) is all lower-case hex digits. */
int protocol_is_lower_hex(const char *p, size_t n);

/*
 * 1 when the JSON text buf[0..len) holds the escape \u0000 (a NUL once
 * decoded).  cJSON's strings end at a NUL, so such a value would be cut
 * short without notice; callers refuse it instead.
 */
int    json_has_nul_escape(const char *buf, size_t len);

#endif
