/*
 * b64.h - base64url without padding (RFC 4648 section 5), strict.
 *
 * Used for public values only (public keys, ciphertexts, nonces, sealed
 * meta); the code is not constant-time and must not decode secrets.
 */
#ifndef MTE_B64_H
#define MTE_B64_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Number of characters that encoding n bytes produces (no terminator):
 * 4 * floor(n / 3) plus 0, 2 or 3 for the n % 3 remaining bytes.
 * Returns SIZE_MAX when that number does not fit in a size_t.
 */
size_t b64url_encoded_len(size_t n);

/*
 * Number of bytes that decoding a valid input of n characters produces:
 * 3 * floor(n / 4) plus 0, 1 or 2 for n % 4 == 0, 2 or 3.  No input with
 * n % 4 == 1 is valid; the value returned for it is 3 * floor(n / 4).
 */
size_t b64url_decoded_len(size_t n);

/*
 * Encodes in[0..len) into out as b64url_encoded_len(len) characters from
 * [A-Za-z0-9_-] followed by a NUL terminator, so cap must be at least
 * b64url_encoded_len(len) + 1.  Returns the number of characters written
 * (terminator excluded).  When cap is too small nothing is encoded, out[0]
 * is set to NUL if cap > 0, and 0 is returned (for len > 0 a successful
 * encoding is never 0 characters long).  out and in must not overlap.
 */
size_t b64url_encode(char *out, size_t cap, const uint8_t *in, size_t len);

/*
 * Decodes in[0..len) (no terminator needed; a NUL inside is a bad character)
 * into out[0..cap).  Returns the number of bytes written, or -1 when:
 *   - a character is not in [A-Za-z0-9_-] ('=' padding, '+', '/',
 *     whitespace and NUL included),
 *   - len % 4 == 1 (no byte string encodes to that length),
 *   - the unused low bits of the last character are not zero (so every
 *     byte string has exactly one accepted encoding),
 *   - cap < b64url_decoded_len(len).
 * On -1 the contents of out are unspecified (it may be partly written).
 * out and in must not overlap.
 */
ssize_t b64url_decode(uint8_t *out, size_t cap, const char *in, size_t len);

#endif
