/*
 * rand.h - cryptographic randomness, from getrandom(2) only.
 */
#ifndef MTE_RAND_H
#define MTE_RAND_H

#include <stddef.h>

/*
 * Fills buf[0..len) with bytes from the kernel CSPRNG (getrandom(2), flags 0:
 * blocks only until the pool is first initialised).  Short reads and EINTR are
 * retried.  Any other failure (ENOSYS, EFAULT, ...) is logged and the process
 * aborts: there is no fallback and no error return, so a caller can never use
 * a buffer that was not filled.  len == 0 does nothing (buf may be NULL then).
 */
void rand_bytes(void *buf, size_t len);

#endif
