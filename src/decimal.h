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

#endif
