/* hex.c - hexadecimal digits (see hex.h). */
#include "hex.h"

/* The digit of a nibble without a table or a branch: (9 - n) >> 8 is all
 * ones exactly when n > 9. */
static char
nibble_digit(unsigned n)
{
	unsigned gt9 = ((9u - n) >> 8) & 1u;

	return (char)('0' + n + gt9 * ('a' - '0' - 10));
}

void
hex_encode(char *out, const uint8_t *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = nibble_digit(in[i] >> 4);
		out[2 * i + 1] = nibble_digit(in[i] & 15u);
	}
}

static int
lower_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
hex_value(unsigned char c)
{
	if (c >= 'A' && c <= 'F')
		c = (unsigned char)(c + ('a' - 'A'));
	return lower_value(c);
}

int
hex_is_lower(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower_value((unsigned char)p[i]) < 0)
			return 0;
	return 1;
}

int
hex_decode_lower(uint8_t *out, const char *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int hi = lower_value((unsigned char)in[2 * i]);
		int lo = lower_value((unsigned char)in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
