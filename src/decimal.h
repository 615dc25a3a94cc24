/*
 * decimal.h - decimal digits: the one parser of unsigned numbers in src/
 * (Content-Length, seq, settings, the Redis database number).
 */
#ifndef MTE_DECIMAL_H
#define MTE_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* Parses p[0..n) as 1 or more ASCII digits (no sign, no space; leading
 * zeros allowed) of a value <= max into *out.  Returns 0, or -1 (nothing
 * written) when n == 0, a byte is not a digit, or the value exceeds max. */
int decimal_parse(const char *p, size_t n, uint64_t max, uint64_t *out);

/* Writes v in decimal (no sign, no leading zeros; "0" for 0) to out, which
 * holds at least DECIMAL_U64_MAX bytes, with no NUL.  Returns the digits
 * written (1 to 20).  For the hot paths that would otherwise snprintf a
 * number per request (log lines, response heads). */
#define DECIMAL_U64_MAX 20
size_t decimal_format(char out[DECIMAL_U64_MAX], uint64_t v);

#endif
