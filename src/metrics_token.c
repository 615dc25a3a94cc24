/* metrics_token.c - the bearer token check of GET /metrics (see metrics.h).
 * Apart from metrics.c so that modules which only count (store, upstream)
 * do not link BearSSL's SHA-256 for it. */
#include "metrics.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "crypto/kdf.h"

int
metrics_token_ok(const char *token, const char *authz, size_t len)
{
	uint8_t want[32], got[32];
	unsigned diff = 0;
	size_t i, b, e;

	if (token == NULL)
		return 1;
	if (authz == NULL)
		return 0;
	b = 0;
	e = len;
	while (b < e && (authz[b] == ' ' || authz[b] == '\t'))
		b++;
	while (e > b && (authz[e - 1] == ' ' || authz[e - 1] == '\t'))
		e--;
	/* "Bearer" 1*SP token (RFC 6750 2.1); the scheme is case-insensitive. */
	if (e - b < 7 || strncasecmp(authz + b, "bearer", 6) != 0 || authz[b + 6] != ' ')
		return 0;
	b += 7;
	while (b < e && authz[b] == ' ')
		b++;
	if (b == e)
		return 0;
	/* Comparing digests makes the time independent of where, and whether
	 * in length, the presented token differs from the configured one. */
	kdf_sha256(want, token, strlen(token));
	kdf_sha256(got, authz + b, e - b);
	for (i = 0; i < sizeof want; i++)
		diff |= (unsigned)(want[i] ^ got[i]);
	return diff == 0;
}
