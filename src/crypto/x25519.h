/*
 * x25519.h - X25519 (RFC 7748 §5), ours: portable C11 with 64-bit limbs and
 * unsigned __int128 products (radix 2^51).
 *
 * Contract common to the three functions:
 *   - scalar is 32 bytes, little-endian, clamped here as RFC 7748 says
 *     (bits 0, 1, 2 and 255 cleared, bit 254 set); the caller's copy is
 *     never modified.
 *   - The output is the canonical 32-byte little-endian encoding of the
 *     resulting u-coordinate (fully reduced mod 2^255 - 19).
 *   - Constant time: no branch and no memory index depends on the scalar or
 *     on u; the base-point table is read whole on every lookup.  Secret
 *     intermediates (clamped scalar, ladder / point state) are wiped before
 *     returning.
 *   - No allocation; an output may alias scalar or u.
 *   - The return value says whether the result is the all-zero value (u of
 *     small order, RFC 7748 §6.1): 0 if not, -1 if it is; out is written in
 *     both cases.  Protocols that need the check (not X-Wing) must refuse -1;
 *     the check itself runs in constant time.
 */
#ifndef MTE_X25519_H
#define MTE_X25519_H

#include <stdint.h>

#define X25519_LEN 32

/*
 * out = X25519(scalar, u): the Montgomery ladder of RFC 7748 §5.  The top bit
 * of u[31] is ignored (masked) and a non-canonical u (2^255 - 19 .. 2^255 - 1)
 * is taken as its value mod p, as the RFC requires; every input is accepted.
 */
int x25519(uint8_t out[X25519_LEN], const uint8_t scalar[X25519_LEN],
           const uint8_t u[X25519_LEN]);

/*
 * out = X25519(scalar, 9): the public key of scalar (or an ephemeral public
 * key), the same value x25519(out, scalar, nine) gives, computed about three
 * times faster: a fixed-window multiple of the Edwards25519 base point from
 * a precomputed table, mapped to Montgomery form by u = (1 + y) / (1 - y).
 * Always returns 0 (a clamped scalar never gives the neutral point).
 */
int x25519_base(uint8_t out[X25519_LEN], const uint8_t scalar[X25519_LEN]);

/*
 * pub = X25519(scalar, 9) and shared = X25519(scalar, u) in one call, the
 * pair an X-Wing encapsulation (ct_X, ss_X) and decapsulation (pk_X, ss_X)
 * need: the same values as x25519_base() and x25519(), with one field
 * inversion for both instead of two.  pub and shared must not overlap each
 * other; either may alias scalar or u.  Returns what x25519() returns for
 * shared (pub is never zero).
 */
int x25519_pub_and_shared(uint8_t pub[X25519_LEN], uint8_t shared[X25519_LEN],
                          const uint8_t scalar[X25519_LEN], const uint8_t u[X25519_LEN]);

#endif /* MTE_X25519_H */
