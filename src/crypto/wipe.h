/*
 * wipe.h - erase secrets from memory.
 */
#ifndef MTE_WIPE_H
#define MTE_WIPE_H

#include <stddef.h>

/*
 * Sets p[0..n) to zero in a way the compiler cannot drop as dead stores (as it
 * may a plain memset of a buffer about to go out of scope): memset followed
 * by a compiler barrier that pretends to read the memory (a volatile byte loop
 * on compilers without GNU asm).  p may be NULL when n == 0.
 */
void crypto_wipe(void *p, size_t n);

#endif /* MTE_WIPE_H */
