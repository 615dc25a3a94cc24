/*
 * x25519.c - X25519 (RFC 7748): arithmetic mod p = 2^255 - 19 in radix 2^51,
 * the Montgomery ladder for any u, a fixed-window Edwards25519 multiple of
 * the base point for u = 9, and both at once sharing one inversion.
 *
 * Field elements are five uint64_t limbs, value sum f[i] * 2^(51 i), not
 * necessarily reduced.  Bounds, which every function below relies on:
 *   - "tight": each limb < 2^51 + 2^15 (what fe_mul, fe_sq, fe_mul121665 and
 *     fe_frombytes return);
 *   - fe_mul / fe_sq accept limbs < 2^54 (then no 128-bit sum overflows and
 *     every carry fits 64 bits), so a sum or difference of tight values may
 *     go straight into a product;
 *   - fe_sub(h, f, g) adds 2p before subtracting, so g must be tight.
 */
#include "crypto/x25519.h"

#include <string.h>

#include "crypto/bytes.h"
#include "crypto/wipe.h"
#include "crypto/x25519_base.h"

typedef uint64_t fe[5];
typedef unsigned __int128 u128;

#define MASK51 ((UINT64_C(1) << 51) - 1)

/* The field operations are small and hot; at -O2 GCC keeps fe_mul and fe_sq
 * out of line in the ladder, which costs it about 7% more instructions. */
#if defined(__GNUC__)
#define FE_INLINE static inline __attribute__((always_inline))
#else
#define FE_INLINE static inline
#endif

static void
fe_copy(fe h, const fe f)
{
    memcpy(h, f, sizeof(fe));
}

static void
fe_set_small(fe h, uint64_t v)
{
    h[0] = v;
    h[1] = h[2] = h[3] = h[4] = 0;
}

/* The low 255 bits of s (the top bit is masked, RFC 7748 §5); tight, and a
 * non-canonical value is simply another representative of its residue. */
static void
fe_frombytes(fe h, const uint8_t s[32])
{
    uint64_t w0 = load64_le(s), w1 = load64_le(s + 8);
    uint64_t w2 = load64_le(s + 16), w3 = load64_le(s + 24);

    h[0] = w0 & MASK51;
    h[1] = (w0 >> 51 | w1 << 13) & MASK51;
    h[2] = (w1 >> 38 | w2 << 26) & MASK51;
    h[3] = (w2 >> 25 | w3 << 39) & MASK51;
    h[4] = (w3 >> 12) & MASK51;
}

/* One carry pass: limbs 1..4 end < 2^51, limb 0 < 2^51 + 19 * 2^13. */
static void
fe_carry(fe h)
{
    uint64_t c;

    c = h[0] >> 51; h[0] &= MASK51; h[1] += c;
    c = h[1] >> 51; h[1] &= MASK51; h[2] += c;
    c = h[2] >> 51; h[2] &= MASK51; h[3] += c;
    c = h[3] >> 51; h[3] &= MASK51; h[4] += c;
    c = h[4] >> 51; h[4] &= MASK51; h[0] += 19 * c;
}

/* The canonical encoding: value mod p in [0, p), little-endian. */
static void
fe_tobytes(uint8_t s[32], const fe f)
{
    fe h;
    uint64_t q;

    fe_copy(h, f);
    /* two passes leave every limb < 2^51, i.e. 0 <= h < 2^255 < 2p */
    fe_carry(h);
    fe_carry(h);
    /* q = 1 exactly when h >= p, i.e. h + 19 >= 2^255 */
    q = (h[0] + 19) >> 51;
    q = (h[1] + q) >> 51;
    q = (h[2] + q) >> 51;
    q = (h[3] + q) >> 51;
    q = (h[4] + q) >> 51;
    /* h - q p = h + 19 q - q 2^255: add, carry, drop bit 255 */
    h[0] += 19 * q;
    h[1] += h[0] >> 51; h[0] &= MASK51;
    h[2] += h[1] >> 51; h[1] &= MASK51;
    h[3] += h[2] >> 51; h[2] &= MASK51;
    h[4] += h[3] >> 51; h[3] &= MASK51;
    h[4] &= MASK51;

    store64_le(s,      h[0] | h[1] << 51);
    store64_le(s + 8,  h[1] >> 13 | h[2] << 38);
    store64_le(s + 16, h[2] >> 26 | h[3] << 25);
    store64_le(s + 24, h[3] >> 39 | h[4] << 12);
    crypto_wipe(h, sizeof h);
}

FE_INLINE void
fe_add(fe h, const fe f, const fe g)
{
    h[0] = f[0] + g[0];
    h[1] = f[1] + g[1];
    h[2] = f[2] + g[2];
    h[3] = f[3] + g[3];
    h[4] = f[4] + g[4];
}

/* h = f - g + 2p (g tight, so no limb goes negative). */
FE_INLINE void
fe_sub(fe h, const fe f, const fe g)
{
    h[0] = f[0] + UINT64_C(0xfffffffffffda) - g[0];
    h[1] = f[1] + UINT64_C(0xffffffffffffe) - g[1];
    h[2] = f[2] + UINT64_C(0xffffffffffffe) - g[2];
    h[3] = f[3] + UINT64_C(0xffffffffffffe) - g[3];
    h[4] = f[4] + UINT64_C(0xffffffffffffe) - g[4];
}

/* Carries five 128-bit column sums into a tight h. */
FE_INLINE void
fe_reduce128(fe h, u128 r0, u128 r1, u128 r2, u128 r3, u128 r4)
{
    uint64_t h0, h1, h2, h3, h4, c;

    c = (uint64_t)(r0 >> 51); h0 = (uint64_t)r0 & MASK51; r1 += c;
    c = (uint64_t)(r1 >> 51); h1 = (uint64_t)r1 & MASK51; r2 += c;
    c = (uint64_t)(r2 >> 51); h2 = (uint64_t)r2 & MASK51; r3 += c;
    c = (uint64_t)(r3 >> 51); h3 = (uint64_t)r3 & MASK51; r4 += c;
    c = (uint64_t)(r4 >> 51); h4 = (uint64_t)r4 & MASK51;
    h0 += 19 * c;
    c = h0 >> 51; h0 &= MASK51; h1 += c;
    h[0] = h0; h[1] = h1; h[2] = h2; h[3] = h3; h[4] = h4;
}

/* h = f g; limbs of f, g < 2^54.  2^255 = 19 mod p folds the high columns. */
FE_INLINE void
fe_mul(fe h, const fe f, const fe g)
{
    uint64_t f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4];
    uint64_t g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4];
    uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
    u128 r0, r1, r2, r3, r4;

    r0 = (u128)f0 * g0 + (u128)f1 * g4_19 + (u128)f2 * g3_19 + (u128)f3 * g2_19 + (u128)f4 * g1_19;
    r1 = (u128)f0 * g1 + (u128)f1 * g0 + (u128)f2 * g4_19 + (u128)f3 * g3_19 + (u128)f4 * g2_19;
    r2 = (u128)f0 * g2 + (u128)f1 * g1 + (u128)f2 * g0 + (u128)f3 * g4_19 + (u128)f4 * g3_19;
    r3 = (u128)f0 * g3 + (u128)f1 * g2 + (u128)f2 * g1 + (u128)f3 * g0 + (u128)f4 * g4_19;
    r4 = (u128)f0 * g4 + (u128)f1 * g3 + (u128)f2 * g2 + (u128)f3 * g1 + (u128)f4 * g0;
    fe_reduce128(h, r0, r1, r2, r3, r4);
}

/* h = f^2; limbs of f < 2^54. */
FE_INLINE void
fe_sq(fe h, const fe f)
{
    uint64_t f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4];
    uint64_t f0_2 = 2 * f0, f1_2 = 2 * f1, f2_2 = 2 * f2, f3_2 = 2 * f3;
    uint64_t f3_19 = 19 * f3, f4_19 = 19 * f4;
    u128 r0, r1, r2, r3, r4;

    r0 = (u128)f0 * f0 + (u128)f1_2 * f4_19 + (u128)f2_2 * f3_19;
    r1 = (u128)f0_2 * f1 + (u128)f2_2 * f4_19 + (u128)f3 * f3_19;
    r2 = (u128)f0_2 * f2 + (u128)f1 * f1 + (u128)f3_2 * f4_19;
    r3 = (u128)f0_2 * f3 + (u128)f1_2 * f2 + (u128)f4 * f4_19;
    r4 = (u128)f0_2 * f4 + (u128)f1_2 * f3 + (u128)f2 * f2;
    fe_reduce128(h, r0, r1, r2, r3, r4);
}

/* h = f^(2^n), n >= 1. */
static void
fe_sq_n(fe h, const fe f, int n)
{
    fe_sq(h, f);
    while (--n > 0)
        fe_sq(h, h);
}

/* h = 121665 f: the ladder's (A - 2) / 4 (RFC 7748 §5). */
FE_INLINE void
fe_mul121665(fe h, const fe f)
{
    fe_reduce128(h, (u128)f[0] * 121665, (u128)f[1] * 121665, (u128)f[2] * 121665,
                 (u128)f[3] * 121665, (u128)f[4] * 121665);
}

/* h = f^(p - 2) = 1 / f (0 for f = 0), by the usual 254 squarings and 11
 * multiplications; p - 2 = 2^255 - 21. */
static void
fe_invert(fe h, const fe f)
{
    fe z2, z9, z11, z_5_0, z_10_0, z_20_0, z_50_0, z_100_0, t;

    fe_sq(z2, f);                                   /* 2 */
    fe_sq_n(t, z2, 2);                              /* 8 */
    fe_mul(z9, t, f);                               /* 9 */
    fe_mul(z11, z9, z2);                            /* 11 */
    fe_sq(t, z11);                                  /* 22 */
    fe_mul(z_5_0, t, z9);                           /* 2^5 - 1 */
    fe_sq_n(t, z_5_0, 5);
    fe_mul(z_10_0, t, z_5_0);                       /* 2^10 - 1 */
    fe_sq_n(t, z_10_0, 10);
    fe_mul(z_20_0, t, z_10_0);                      /* 2^20 - 1 */
    fe_sq_n(t, z_20_0, 20);
    fe_mul(t, t, z_20_0);                           /* 2^40 - 1 */
    fe_sq_n(t, t, 10);
    fe_mul(z_50_0, t, z_10_0);                      /* 2^50 - 1 */
    fe_sq_n(t, z_50_0, 50);
    fe_mul(z_100_0, t, z_50_0);                     /* 2^100 - 1 */
    fe_sq_n(t, z_100_0, 100);
    fe_mul(t, t, z_100_0);                          /* 2^200 - 1 */
    fe_sq_n(t, t, 50);
    fe_mul(t, t, z_50_0);                           /* 2^250 - 1 */
    fe_sq_n(t, t, 5);                               /* 2^255 - 2^5 */
    fe_mul(h, t, z11);                              /* 2^255 - 21 */

    crypto_wipe(z2, sizeof z2);
    crypto_wipe(z9, sizeof z9);
    crypto_wipe(z11, sizeof z11);
    crypto_wipe(z_5_0, sizeof z_5_0);
    crypto_wipe(z_10_0, sizeof z_10_0);
    crypto_wipe(z_20_0, sizeof z_20_0);
    crypto_wipe(z_50_0, sizeof z_50_0);
    crypto_wipe(z_100_0, sizeof z_100_0);
    crypto_wipe(t, sizeof t);
}

/* Swaps f and g when bit == 1, leaves them when bit == 0, without branching. */
FE_INLINE void
fe_cswap(fe f, fe g, uint64_t bit)
{
    uint64_t mask = 0 - bit, t0, t1, t2, t3, t4;

    t0 = mask & (f[0] ^ g[0]);
    t1 = mask & (f[1] ^ g[1]);
    t2 = mask & (f[2] ^ g[2]);
    t3 = mask & (f[3] ^ g[3]);
    t4 = mask & (f[4] ^ g[4]);
    f[0] ^= t0; f[1] ^= t1; f[2] ^= t2; f[3] ^= t3; f[4] ^= t4;
    g[0] ^= t0; g[1] ^= t1; g[2] ^= t2; g[3] ^= t3; g[4] ^= t4;
}

/* h = f when bit == 1, unchanged when bit == 0, without branching. */
FE_INLINE void
fe_cmov(fe h, const fe f, uint64_t bit)
{
    uint64_t mask = 0 - bit;

    h[0] ^= mask & (h[0] ^ f[0]);
    h[1] ^= mask & (h[1] ^ f[1]);
    h[2] ^= mask & (h[2] ^ f[2]);
    h[3] ^= mask & (h[3] ^ f[3]);
    h[4] ^= mask & (h[4] ^ f[4]);
}

/* 0 when the canonical encoding of f is nonzero, -1 when it is zero. */
static int
zero_result(const uint8_t s[32])
{
    uint32_t acc = 0;

    for (int i = 0; i < 32; i++)
        acc |= s[i];
    /* acc - 1 borrows into bit 31 only for acc == 0 */
    return -(int)((acc - 1) >> 31 & 1);
}

static void
clamp(uint8_t k[32], const uint8_t scalar[32])
{
    memcpy(k, scalar, 32);
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
}

/* ---- Montgomery ladder ---- */

/*
 * (x : z) = k * u on the Montgomery curve (x-coordinate only), RFC 7748 §5;
 * k clamped.  z = 0 for the neutral point (u of small order).
 */
static void
ladder(fe x_out, fe z_out, const uint8_t k[32], const uint8_t u[32])
{
    fe x1, x2, z2, x3, z3, a, aa, b, bb, e, c, d, da, cb;
    uint64_t swap = 0;

    fe_frombytes(x1, u);
    fe_set_small(x2, 1);
    fe_set_small(z2, 0);
    fe_copy(x3, x1);
    fe_set_small(z3, 1);

    for (int t = 254; t >= 0; t--) {
        uint64_t bit = (uint64_t)(k[t >> 3] >> (t & 7)) & 1;

        swap ^= bit;
        fe_cswap(x2, x3, swap);
        fe_cswap(z2, z3, swap);
        swap = bit;

        fe_add(a, x2, z2);
        fe_sq(aa, a);
        fe_sub(b, x2, z2);
        fe_sq(bb, b);
        fe_sub(e, aa, bb);
        fe_add(c, x3, z3);
        fe_sub(d, x3, z3);
        fe_mul(da, d, a);
        fe_mul(cb, c, b);
        fe_add(x3, da, cb);
        fe_sq(x3, x3);
        fe_sub(z3, da, cb);
        fe_sq(z3, z3);
        fe_mul(z3, z3, x1);
        fe_mul(x2, aa, bb);
        fe_mul121665(z2, e);
        fe_add(z2, z2, aa);
        fe_mul(z2, z2, e);
    }
    fe_cswap(x2, x3, swap);
    fe_cswap(z2, z3, swap);
    fe_copy(x_out, x2);
    fe_copy(z_out, z2);

    crypto_wipe(x1, sizeof x1);
    crypto_wipe(x2, sizeof x2);
    crypto_wipe(z2, sizeof z2);
    crypto_wipe(x3, sizeof x3);
    crypto_wipe(z3, sizeof z3);
    crypto_wipe(a, sizeof a);
    crypto_wipe(aa, sizeof aa);
    crypto_wipe(b, sizeof b);
    crypto_wipe(bb, sizeof bb);
    crypto_wipe(e, sizeof e);
    crypto_wipe(c, sizeof c);
    crypto_wipe(d, sizeof d);
    crypto_wipe(da, sizeof da);
    crypto_wipe(cb, sizeof cb);
}

/* out = x / z, canonical (0 when z = 0); returns zero_result(out). */
static int
affine_out(uint8_t out[32], const fe x, const fe z)
{
    fe inv;

    fe_invert(inv, z);
    fe_mul(inv, x, inv);
    fe_tobytes(out, inv);
    crypto_wipe(inv, sizeof inv);
    return zero_result(out);
}

int
x25519(uint8_t out[X25519_LEN], const uint8_t scalar[X25519_LEN],
       const uint8_t u[X25519_LEN])
{
    uint8_t k[32];
    fe x, z;
    int rc;

    clamp(k, scalar);
    ladder(x, z, k, u);
    rc = affine_out(out, x, z);
    crypto_wipe(k, sizeof k);
    crypto_wipe(x, sizeof x);
    crypto_wipe(z, sizeof z);
    return rc;
}

/* ---- Fixed base: Edwards25519, -x^2 + y^2 = 1 + d x^2 y^2 ---- */

/* Extended coordinates: x = X/Z, y = Y/Z, x y = T/Z. */
struct ge_p3 {
    fe X, Y, Z, T;
};

/* An affine point as (y + x, y - x, 2 d x y), the form the table holds. */
struct ge_niels {
    fe ypx, ymx, xy2d;
};

/* r = 2 p (T of p unused); "dbl-2008-hwcd" for a = -1 with E, F, G, H negated
 * (Hisil, Wong, Carter, Dawson 2008), which leaves the results unchanged. */
static void
ge_dbl(struct ge_p3 *r, const struct ge_p3 *p)
{
    fe a, b, c, e, f, g, h;

    fe_sq(a, p->X);
    fe_sq(b, p->Y);
    fe_sq(c, p->Z);
    fe_add(c, c, c);
    fe_add(h, a, b);
    fe_add(e, p->X, p->Y);
    fe_sq(e, e);
    fe_sub(e, h, e);
    fe_sub(g, a, b);
    fe_add(f, c, g);
    fe_mul(r->X, e, f);
    fe_mul(r->Y, g, h);
    fe_mul(r->T, e, h);
    fe_mul(r->Z, f, g);
}

/* r = p + q for affine q: "madd-2008-hwcd-3" (a = -1, k = 2 d, Z2 = 1). */
static void
ge_madd(struct ge_p3 *r, const struct ge_p3 *p, const struct ge_niels *q)
{
    fe a, b, c, d, e, f, g, h;

    fe_sub(a, p->Y, p->X);
    fe_mul(a, a, q->ymx);
    fe_add(b, p->Y, p->X);
    fe_mul(b, b, q->ypx);
    fe_mul(c, p->T, q->xy2d);
    fe_add(d, p->Z, p->Z);
    fe_sub(e, b, a);
    fe_sub(f, d, c);
    fe_add(g, d, c);
    fe_add(h, b, a);
    fe_mul(r->X, e, f);
    fe_mul(r->Y, g, h);
    fe_mul(r->T, e, h);
    fe_mul(r->Z, f, g);
}

/* 1 when a == b, else 0, for 0 <= a, b < 2^31, without branching. */
static uint64_t
ct_eq(uint32_t a, uint32_t b)
{
    uint64_t x = a ^ b;

    return (x - 1) >> 63;
}

/* h |= f & mask, limb by limb. */
FE_INLINE void
fe_or_masked(fe h, const fe f, uint64_t mask)
{
    h[0] |= f[0] & mask;
    h[1] |= f[1] & mask;
    h[2] |= f[2] & mask;
    h[3] |= f[3] & mask;
    h[4] |= f[4] & mask;
}

/* t = digit * 256^row * B for -8 <= digit <= 8: reads all eight entries of the
 * row and keeps the one selected by mask (none for digit 0, which leaves the
 * neutral point (1, 1, 0)), then negates by mask: -(x, y) = (-x, y), so
 * (y + x, y - x, 2dxy) becomes (y - x, y + x, -2dxy). */
static void
ge_select(struct ge_niels *t, int row, int8_t digit)
{
    uint64_t neg = (uint8_t)digit >> 7;
    uint32_t mag = (uint32_t)(digit - (-(int)neg & digit) * 2);   /* |digit| */
    uint64_t none = ct_eq(mag, 0);
    struct ge_niels acc;        /* a local, so the loop keeps it in registers */
    fe minus;

    fe_set_small(acc.ypx, none);
    fe_set_small(acc.ymx, none);
    fe_set_small(acc.xy2d, 0);
    for (uint32_t j = 0; j < 8; j++) {
        uint64_t mask = 0 - ct_eq(mag, j + 1);

        fe_or_masked(acc.ypx, x25519_base_table[row][j][0], mask);
        fe_or_masked(acc.ymx, x25519_base_table[row][j][1], mask);
        fe_or_masked(acc.xy2d, x25519_base_table[row][j][2], mask);
    }
    fe_cswap(acc.ypx, acc.ymx, neg);
    fe_set_small(minus, 0);
    fe_sub(minus, minus, acc.xy2d);
    fe_cmov(acc.xy2d, minus, neg);
    *t = acc;
    crypto_wipe(&acc, sizeof acc);
    crypto_wipe(minus, sizeof minus);
}

/* (num : den) = the Montgomery u of k B, k clamped: u = (1 + y) / (1 - y). */
static void
base_mul(fe num, fe den, const uint8_t k[32])
{
    int8_t e[64];
    struct ge_p3 h;
    struct ge_niels t;
    int8_t carry = 0;

    /* k = sum e[i] 16^i with -8 <= e[i] < 8 (e[63] <= 8: k < 2^255) */
    for (int i = 0; i < 32; i++) {
        e[2 * i] = (int8_t)(k[i] & 15);
        e[2 * i + 1] = (int8_t)(k[i] >> 4);
    }
    for (int i = 0; i < 63; i++) {
        e[i] = (int8_t)(e[i] + carry);
        carry = (int8_t)((e[i] + 8) >> 4);
        e[i] = (int8_t)(e[i] - carry * 16);
    }
    e[63] = (int8_t)(e[63] + carry);

    /* k B = 16 (sum of odd digits e[2i+1] 256^i B) + sum of even digits e[2i] 256^i B */
    fe_set_small(h.X, 0);
    fe_set_small(h.Y, 1);
    fe_set_small(h.Z, 1);
    fe_set_small(h.T, 0);
    for (int i = 1; i < 64; i += 2) {
        ge_select(&t, i / 2, e[i]);
        ge_madd(&h, &h, &t);
    }
    for (int i = 0; i < 4; i++)
        ge_dbl(&h, &h);
    for (int i = 0; i < 64; i += 2) {
        ge_select(&t, i / 2, e[i]);
        ge_madd(&h, &h, &t);
    }

    /* y = Y / Z, so u = (Z + Y) / (Z - Y); k B is never the neutral point
     * (k is a nonzero multiple of 8 below 8 L), so Z - Y != 0 */
    fe_add(num, h.Z, h.Y);
    fe_sub(den, h.Z, h.Y);

    crypto_wipe(e, sizeof e);
    crypto_wipe(&h, sizeof h);
    crypto_wipe(&t, sizeof t);
}

int
x25519_base(uint8_t out[X25519_LEN], const uint8_t scalar[X25519_LEN])
{
    uint8_t k[32];
    fe num, den;
    int rc;

    clamp(k, scalar);
    base_mul(num, den, k);
    rc = affine_out(out, num, den);
    crypto_wipe(k, sizeof k);
    crypto_wipe(num, sizeof num);
    crypto_wipe(den, sizeof den);
    return rc;
}

/* ---- both at once ---- */

int
x25519_pub_and_shared(uint8_t pub[X25519_LEN], uint8_t shared[X25519_LEN],
                      const uint8_t scalar[X25519_LEN], const uint8_t u[X25519_LEN])
{
    uint8_t k[32], zb[32];
    fe bn, bd, lx, lz, one, t, inv;
    uint64_t lz_zero;

    clamp(k, scalar);
    ladder(lx, lz, k, u);
    base_mul(bn, bd, k);

    /* Montgomery's trick: 1/bd and 1/lz from one inversion of bd lz.  A
     * zero lz (small-order u) would zero both, so it is replaced by 1, with
     * lx by 0, which keeps shared = 0 as x25519() gives. */
    fe_tobytes(zb, lz);
    lz_zero = (uint64_t)(zero_result(zb) & 1);
    fe_set_small(one, 1);
    fe_cmov(lz, one, lz_zero);
    fe_set_small(t, 0);
    fe_cmov(lx, t, lz_zero);
    fe_mul(t, bd, lz);
    fe_invert(inv, t);
    fe_mul(t, inv, lz);                 /* 1 / bd */
    fe_mul(bn, bn, t);
    fe_mul(t, inv, bd);                 /* 1 / lz */
    fe_mul(lx, lx, t);
    fe_tobytes(pub, bn);
    fe_tobytes(shared, lx);

    crypto_wipe(k, sizeof k);
    crypto_wipe(zb, sizeof zb);
    crypto_wipe(bn, sizeof bn);
    crypto_wipe(bd, sizeof bd);
    crypto_wipe(lx, sizeof lx);
    crypto_wipe(lz, sizeof lz);
    crypto_wipe(t, sizeof t);
    crypto_wipe(inv, sizeof inv);
    return zero_result(shared);
}
