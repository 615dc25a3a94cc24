/* b64.c - strict base64url without padding; see b64.h. */
#include "crypto/b64.h"

static const char b64url_alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of one base64url character, or -1. */
static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t
b64url_encoded_len(size_t n)
{
	static const size_t tail[3] = { 0, 2, 3 };
	size_t groups = n / 3;

	if (groups > (SIZE_MAX - 3) / 4)
		return SIZE_MAX;
	return groups * 4 + tail[n % 3];
}

size_t
b64url_decoded_len(size_t n)
{
	static const size_t tail[4] = { 0, 0, 1, 2 };

	return (n / 4) * 3 + tail[n % 4];
}

size_t
b64url_encode(char *out, size_t cap, const uint8_t *in, size_t len)
{
	size_t need = b64url_encoded_len(len);
	size_t i, o = 0;

	if (need == SIZE_MAX || cap < need + 1) {
		if (cap > 0)
			out[0] = '\0';
		return 0;
	}
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url_alphabet[v >> 18];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64url_alphabet[v >> 18];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url_alphabet[v >> 18];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

ssize_t
b64url_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t need, i, o = 0;
	size_t rest = len % 4;

	if (rest == 1)
		return -1;
	need = b64url_decoded_len(len);
	/* SIZE_MAX / 2 is SSIZE_MAX; <limits.h> is shadowed by src/limits.h. */
	if (cap < need || need > SIZE_MAX / 2)
		return -1;
	for (i = 0; i + 4 <= len; i += 4) {
		int a = b64url_value(s[i]), b = b64url_value(s[i + 1]);
		int c = b64url_value(s[i + 2]), d = b64url_value(s[i + 3]);
		uint32_t v;
		if ((a | b | c | d) < 0)
			return -1;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	if (rest == 2) {
		int a = b64url_value(s[i]), b = b64url_value(s[i + 1]);
		if ((a | b) < 0 || (b & 0x0f) != 0)
			return -1;
		out[o++] = (uint8_t)(a << 2 | b >> 4);
	} else if (rest == 3) {
		int a = b64url_value(s[i]), b = b64url_value(s[i + 1]);
		int c = b64url_value(s[i + 2]);
		if ((a | b | c) < 0 || (c & 0x03) != 0)
			return -1;
		out[o++] = (uint8_t)(a << 2 | b >> 4);
		out[o++] = (uint8_t)((b & 0x0f) << 4 | c >> 2);
	}
	return (ssize_t)o;
}
