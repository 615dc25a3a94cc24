/*
 * wipe.h - erase secrets from memory.
 */
#ifndef MTE_WIPE_H
#define MTE_WIPE_H

#include <stddef.h>

/*
 * Sets p[0..n) to zero through a volatile pointer so the compiler cannot drop
 * the stores as dead (as it may with memset on a buffer about to go out of
 * scope).  p may be NULL when n == 0.
 */
void crypto_wipe(void *p, size_t n);

#endif /* MTE_WIPE_H */
