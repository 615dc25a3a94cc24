/*
 * sha3.h - Keccak-f[1600], SHA3-256, SHA3-512, SHAKE128, SHAKE256 (FIPS 202).
 *
 * Byte-oriented only (no bit-length messages).  No allocation: the caller owns
 * every buffer, including the hashing context.  Nothing here depends on the
 * value of secret data in its control flow or memory addressing, so it may be
 * fed keys and seeds.  Contexts hold secrets derived from their input: wipe
 * them (crypto_wipe) when that matters.
 *
 * Incremental use:
 *     struct keccak_ctx c;
 *     shake256_init(&c);
 *     keccak_absorb(&c, part1, len1);  keccak_absorb(&c, part2, len2);
 *     keccak_finalize(&c);
 *     keccak_squeeze(&c, out, n);  keccak_squeeze(&c, more, m);   (XOF: any length)
 * For SHA3-256/512, finalize then squeeze exactly the digest length
 * (SHA3_256_LEN / SHA3_512_LEN) once.
 */
#ifndef MTE_SHA3_H
#define MTE_SHA3_H

#include <stddef.h>
#include <stdint.h>

#define SHA3_256_LEN      32
#define SHA3_512_LEN      64
#define SHA3_256_RATE     136   /* bytes absorbed per permutation */
#define SHA3_512_RATE     72
#define SHAKE128_RATE     168
#define SHAKE256_RATE     136

/* Incremental Keccak sponge state; treat the fields as private. */
struct keccak_ctx {
    uint64_t s[25];     /* state, lane (x, y) at s[x + 5y] */
    unsigned rate;      /* bytes per block */
    unsigned pos;       /* bytes absorbed into / squeezed from the current block */
    uint8_t  dsbyte;    /* domain-separation + first padding bit: 0x06 SHA3, 0x1f SHAKE */
    uint8_t  squeezing; /* 0 while absorbing, 1 after keccak_finalize */
};

/* The Keccak-f[1600] permutation (24 rounds) on 25 64-bit lanes, in place. */
void keccak_f1600(uint64_t s[25]);

/* Start a sponge for the named function; any previous content of *c is overwritten. */
void sha3_256_init(struct keccak_ctx *c);
void sha3_512_init(struct keccak_ctx *c);
void shake128_init(struct keccak_ctx *c);
void shake256_init(struct keccak_ctx *c);

/*
 * Absorbs in[0..len) (in may be NULL when len == 0).  Must not be called after
 * keccak_finalize (it would be a caller bug; it is ignored in that case).
 */
void keccak_absorb(struct keccak_ctx *c, const void *in, size_t len);

/* Pads the message and switches to squeezing.  Call exactly once. */
void keccak_finalize(struct keccak_ctx *c);

/*
 * Writes the next len output bytes to out.  Successive calls continue the
 * output stream.  Calls keccak_finalize first if the caller has not.
 */
void keccak_squeeze(struct keccak_ctx *c, void *out, size_t len);

/*
 * Squeezes nblocks whole blocks (nblocks * c->rate bytes) into out: the same
 * as keccak_squeeze(c, out, nblocks * c->rate), named for the block-aligned
 * use in ML-KEM's matrix sampling, where it takes the lane-wise fast path.
 */
void keccak_squeeze_blocks(struct keccak_ctx *c, uint8_t *out, size_t nblocks);

/* One-shot functions.  out must not overlap in. */
void sha3_256(uint8_t out[SHA3_256_LEN], const void *in, size_t len);
void sha3_512(uint8_t out[SHA3_512_LEN], const void *in, size_t len);
void shake128(uint8_t *out, size_t outlen, const void *in, size_t len);
void shake256(uint8_t *out, size_t outlen, const void *in, size_t len);

#endif /* MTE_SHA3_H */
