/* rand.c - randomness from getrandom(2); see rand.h. */
#include "crypto/rand.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include "log.h"

void
rand_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_ERROR, "getrandom failed: %s; aborting", strerror(errno));
			abort();
		}
		/* getrandom never returns 0 for len > 0; refuse to spin if it does. */
		if (n == 0 || (size_t)n > len) {
			log_msg(LOG_ERROR, "getrandom returned %zd for %zu bytes; aborting", n, len);
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
}
