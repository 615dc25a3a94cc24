/* protocol.c - syntax of the protocol's text fields (see protocol.h). */
#include "protocol.h"

#include <string.h>

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
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20 || p[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d;
		if (p[i] < '0' || p[i] > '9')
			return -1;
		d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*seq = v;
	return 0;
}

int
protocol_is_lower_hex(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

int
json_has_nul_escape(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\\')
			continue;
		if (buf[i + 1] == 'u' && len - i >= 6 && memcmp(buf + i + 2, "0000", 4) == 0)
			return 1;
		i++;    /* skip the escaped character, so an escaped backslash before u0000 is text */
	}
	return 0;
}
