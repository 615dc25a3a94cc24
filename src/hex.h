/*
 * hex.h - hexadecimal digits: the one encoder and decoder of src/.
 *
 * Protocol ids (client ids, MACs in signed ids) are lower case only
 * (hex_is_lower, hex_decode_lower); HTTP chunk sizes and percent escapes
 * take either case (hex_value).  Callers own every buffer.
 */
#ifndef MTE_HEX_H
#define MTE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2 * len lower-case hex digits of in to out (no NUL).  Neither
 * branches nor indexes on the data: it also encodes MACs and random ids. */
void hex_encode(char *out, const uint8_t *in, size_t len);

/* Value 0..15 of a hex digit of either case, or -1. */
int hex_value(unsigned char c);

/* 1 when p[0..n) are all lower-case hex digits (also when n == 0). */
int hex_is_lower(const char *p, size_t n);

/* Decodes 2 * len lower-case hex digits at in into out[0..len).  Returns 0,
 * or -1 at the first digit that is not lower-case hex (out then partial).
 * Branches on the digits: for public input only. */
int hex_decode_lower(uint8_t *out, const char *in, size_t len);

#endif
