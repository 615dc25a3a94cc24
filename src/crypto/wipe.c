/*
 * wipe.c - erase secrets from memory.
 */
#include "crypto/wipe.h"

void crypto_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;

    while (n--)
        *v++ = 0;
}
