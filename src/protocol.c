/* protocol.c - syntax of the protocol's text fields (see protocol.h). */
#include "protocol.h"

#include <string.h>

#include "decimal.h"
#include "hex.h"

int
protocol_pair_id_ok(const char *p, size_t n)
{
	size_t i;

	if (n < PAIR_ID_MIN || n > PAIR_ID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
protocol_personalization_ok(const char *p, size_t n)
{
	size_t i;

	if (n > PERSONALIZATION_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

int
protocol_parse_seq(const char *p, size_t n, uint64_t *seq)
{
	/* canonical: no leading zero, so 0 itself is refused too */
	if (n == 0 || p[0] == '0')
		return -1;
	return decimal_parse(p, n, UINT64_MAX, seq);
}

int
protocol_client_id_ok(const char *p, size_t n)
{
	return n == CLIENT_ID_HEX_LEN && hex_is_lower(p, n);
}
