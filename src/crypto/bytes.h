/*
 * bytes.h - little-endian 64-bit loads and stores, shared by SHA-3 (its
 * lanes) and X25519 (its field elements).  Written byte by byte, so they
 * hold on any host; compilers turn the pattern into one move where the host
 * is little-endian.  p needs no alignment.
 */
#ifndef MTE_CRYPTO_BYTES_H
#define MTE_CRYPTO_BYTES_H

#include <stdint.h>

static inline uint64_t
load64_le(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void
store64_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
