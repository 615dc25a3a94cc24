/*
 * percent.h - percent-decoding (RFC 3986 section 2.1), the one decoder of
 * src/: the echo route's message and the user and password of REDIS_URL.
 */
#ifndef MTE_PERCENT_H
#define MTE_PERCENT_H

#include <stddef.h>

/*
 * Decodes in[0..len) into out[0..cap): each "%XY" (hex digits of either
 * case) becomes one byte, every other byte is copied.  Returns the decoded
 * length (no NUL is written), or -1 when a '%' does not start a full
 * escape, when the result would not fit in cap bytes, or, with
 * refuse_nul != 0, when an escape decodes to NUL.
 */
long percent_decode(char *out, size_t cap, const char *in, size_t len, int refuse_nul);

#endif
