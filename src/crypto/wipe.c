/*
 * wipe.c - erase secrets from memory.
 */
#include "crypto/wipe.h"

#include <string.h>

void
crypto_wipe(void *p, size_t n)
{
    if (n == 0)
        return;
#if defined(__GNUC__) || defined(__clang__)
    /* memset, then an opaque use of the memory so the stores cannot be elided
     * even if this function is inlined (LTO) into a caller that frees the buffer */
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory");
#else
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
#endif
}
