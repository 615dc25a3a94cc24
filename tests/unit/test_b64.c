/* test_b64.c - strict base64url without padding: RFC 4648 vectors, every
 * malformed class, round trips against an independent bit-by-bit encoder. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "crypto/b64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct kat {
	const char *bin;
	size_t      bin_len;
	const char *text;
};

/* RFC 4648 section 10, with padding removed, plus the two characters that
 * differ from standard base64 ('-' for '+', '_' for '/'). */
static const struct kat kats[] = {
	{ "", 0, "" },
	{ "f", 1, "Zg" },
	{ "fo", 2, "Zm8" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg" },
	{ "fooba", 5, "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "\xfb\xff", 2, "-_8" },
	{ "\xfb\xef\xbe", 3, "----" },
	{ "\xff\xff\xff", 3, "____" },
	{ "\x00\x00\x00", 3, "AAAA" },
	{ "\x00", 1, "AA" },
	{ "\xff", 1, "_w" },
	{ "\xff\xff", 2, "__8" },
};

Test(b64, rfc4648_vectors)
{
	for (size_t k = 0; k < sizeof kats / sizeof kats[0]; k++) {
		char text[32];
		uint8_t bin[32];
		size_t tl = strlen(kats[k].text);

		cr_assert_eq(b64url_encoded_len(kats[k].bin_len), tl);
		cr_assert_eq(b64url_decoded_len(tl), kats[k].bin_len);
		cr_assert_eq(b64url_encode(text, sizeof text, (const uint8_t *)kats[k].bin,
		                           kats[k].bin_len), tl, "case %zu", k);
		cr_assert_str_eq(text, kats[k].text);
		cr_assert_eq(b64url_decode(bin, sizeof bin, kats[k].text, tl),
		             (ssize_t)kats[k].bin_len, "case %zu", k);
		cr_assert(memcmp(bin, kats[k].bin, kats[k].bin_len) == 0, "case %zu", k);
	}
}

/* Independent reference: emit 6 bits at a time from a bit cursor. */
static size_t
ref_encode(char *out, const uint8_t *in, size_t len)
{
	size_t bits = len * 8, o = 0;

	for (size_t pos = 0; pos < bits; pos += 6) {
		unsigned v = 0;
		for (size_t b = pos; b < pos + 6; b++) {
			unsigned bit = b < bits ? (in[b / 8] >> (7 - b % 8)) & 1 : 0;
			v = v << 1 | bit;
		}
		out[o++] = alphabet[v];
	}
	out[o] = '\0';
	return o;
}

Test(b64, round_trips_0_to_300)
{
	uint8_t in[300] = { 0 }, back[300];
	char text[402], ref[402];
	uint32_t x = 0x12345678;

	for (size_t len = 0; len <= 300; len++) {
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			in[i] = (uint8_t)(x >> 24);
		}
		size_t n = b64url_encode(text, sizeof text, in, len);
		size_t rn = ref_encode(ref, in, len);
		cr_assert_eq(n, rn, "len %zu", len);
		cr_assert_eq(n, b64url_encoded_len(len));
		cr_assert_str_eq(text, ref, "len %zu", len);
		cr_assert_eq(strlen(text), n);
		cr_assert_eq(strspn(text, alphabet), n);
		memset(back, 0xaa, sizeof back);
		cr_assert_eq(b64url_decode(back, len, text, n), (ssize_t)len, "len %zu", len);
		cr_assert(memcmp(back, in, len) == 0, "len %zu", len);
		if (len < sizeof back)
			cr_assert_eq(back[len], 0xaa, "wrote past the decoded length");
	}
}

Test(b64, encode_capacity)
{
	const uint8_t in[4] = { 'f', 'o', 'o', 'b' };
	char out[8];

	/* "Zm9vYg" needs 6 characters plus the terminator. */
	memset(out, 'x', sizeof out);
	cr_assert_eq(b64url_encode(out, 6, in, 4), 0);
	cr_assert_eq(out[0], '\0');
	memset(out, 'x', sizeof out);
	cr_assert_eq(b64url_encode(out, 0, in, 4), 0);
	cr_assert_eq(out[0], 'x', "cap 0 must not write");
	cr_assert_eq(b64url_encode(out, 7, in, 4), 6);
	cr_assert_str_eq(out, "Zm9vYg");
	/* Empty input: the terminator only. */
	memset(out, 'x', sizeof out);
	cr_assert_eq(b64url_encode(out, 1, in, 0), 0);
	cr_assert_eq(out[0], '\0');
}

Test(b64, length_arithmetic)
{
	cr_assert_eq(b64url_encoded_len(0), 0);
	cr_assert_eq(b64url_encoded_len(1216), 1622);   /* X-Wing public key */
	cr_assert_eq(b64url_encoded_len(1120), 1494);   /* X-Wing ciphertext */
	cr_assert_eq(b64url_encoded_len(32), 43);
	cr_assert_eq(b64url_encoded_len(SIZE_MAX), SIZE_MAX, "overflow must saturate");
	/* The largest n whose encoding length still fits. */
	size_t big = (SIZE_MAX - 3) / 4 * 3 + 2;
	cr_assert_eq(b64url_encoded_len(big), (SIZE_MAX - 3) / 4 * 4 + 3);
	cr_assert_eq(b64url_encoded_len(big + 1), SIZE_MAX);
	cr_assert_eq(b64url_decoded_len(0), 0);
	cr_assert_eq(b64url_decoded_len(2), 1);
	cr_assert_eq(b64url_decoded_len(3), 2);
	cr_assert_eq(b64url_decoded_len(4), 3);
	cr_assert_eq(b64url_decoded_len(5), 3);
}

Test(b64, decode_capacity)
{
	uint8_t out[8];

	cr_assert_eq(b64url_decode(out, 5, "Zm9vYmE", 7), 5);
	cr_assert_eq(b64url_decode(out, 4, "Zm9vYmE", 7), -1);
	cr_assert_eq(b64url_decode(out, 0, "Zg", 2), -1);
	cr_assert_eq(b64url_decode(NULL, 0, "", 0), 0);
}

Test(b64, rejects_every_foreign_character_everywhere)
{
	/* Every byte outside the alphabet, at every position of inputs of
	 * lengths 2, 3, 4, 6, 7 and 8 made of otherwise valid text. */
	static const char *valid[] = { "AA", "AAA", "AAAA", "AAAAAA", "AAAAAAA", "AAAAAAAA" };
	uint8_t out[8];
	unsigned rejected = 0;

	for (size_t v = 0; v < sizeof valid / sizeof valid[0]; v++) {
		size_t n = strlen(valid[v]);
		char buf[8];
		cr_assert(b64url_decode(out, sizeof out, valid[v], n) >= 0);
		for (size_t pos = 0; pos < n; pos++) {
			for (int c = 0; c < 256; c++) {
				if (c != 0 && memchr(alphabet, c, 64) != NULL)
					continue;
				memcpy(buf, valid[v], n);
				buf[pos] = (char)c;
				cr_assert_eq(b64url_decode(out, sizeof out, buf, n), -1,
				             "byte 0x%02x at %zu of %s accepted", c, pos, valid[v]);
				rejected++;
			}
		}
	}
	/* 192 foreign bytes x (2+3+4+6+7+8) positions */
	cr_assert_eq(rejected, 192u * 30u);
}

Test(b64, rejects_padding_and_standard_alphabet)
{
	static const char *bad[] = {
		"Zg==", "Zg=", "Zm8=", "Zm9vYg==", "=", "==", "====", "Zm9v====",
		"+/8", "-_+", "Zm9/", "Zm 9v", " Zm9v", "Zm9v ", "Zm9v\n", "Zm\r\n9v",
		"Zm9v\t", "Zm.9v", "Zm9v\x80", "Zm9v\xff",
	};
	uint8_t out[16];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(b64url_decode(out, sizeof out, bad[i], strlen(bad[i])), -1,
		             "accepted \"%s\"", bad[i]);
	/* A NUL inside the given length is a bad character too. */
	cr_assert_eq(b64url_decode(out, sizeof out, "Zm\0v", 4), -1);
	cr_assert_eq(b64url_decode(out, sizeof out, "Zm9v\0\0\0\0", 8), -1);
}

Test(b64, rejects_impossible_lengths)
{
	/* n % 4 == 1 is impossible whatever the characters; n + 1 of the same
	 * characters is fine. */
	uint8_t out[16];
	char buf[16];

	memset(buf, 'A', sizeof buf);
	for (size_t n = 1; n <= 13; n += 4) {
		cr_assert_eq(b64url_decode(out, sizeof out, buf, n), -1, "length %zu", n);
		cr_assert_eq(b64url_decode(out, sizeof out, buf, n + 1),
		             (ssize_t)b64url_decoded_len(n + 1), "length %zu", n + 1);
	}
}

Test(b64, rejects_nonzero_trailing_bits)
{
	/* In a 2-character tail the last character carries 4 unused bits, in a
	 * 3-character tail 2; exactly the characters with those bits zero pass. */
	uint8_t out[8];
	unsigned ok2 = 0, ok3 = 0;

	for (int v = 0; v < 64; v++) {
		char two[6] = { 'Z', 'm', '9', 'v', 'Z', alphabet[v] };
		char three[7] = { 'Z', 'm', '9', 'v', 'Z', 'm', alphabet[v] };
		ssize_t r2 = b64url_decode(out, sizeof out, two, 6);
		ssize_t r3 = b64url_decode(out, sizeof out, three, 7);
		cr_assert_eq(r2, (v & 0x0f) == 0 ? 4 : -1, "tail char %c", alphabet[v]);
		cr_assert_eq(r3, (v & 0x03) == 0 ? 5 : -1, "tail char %c", alphabet[v]);
		ok2 += r2 >= 0;
		ok3 += r3 >= 0;
	}
	cr_assert_eq(ok2, 4);
	cr_assert_eq(ok3, 16);
}

Test(b64, canonical_encoding_is_unique)
{
	/* Every 2-byte string has exactly one accepted 3-character encoding, and
	 * decoding any accepted 3-character text re-encodes to the same text. */
	char text[4], again[4];
	uint8_t out[2];
	unsigned accepted = 0;

	text[3] = '\0';
	for (int a = 0; a < 64; a++)
		for (int b = 0; b < 64; b++)
			for (int c = 0; c < 64; c++) {
				text[0] = alphabet[a];
				text[1] = alphabet[b];
				text[2] = alphabet[c];
				if (b64url_decode(out, sizeof out, text, 3) != 2)
					continue;
				accepted++;
				cr_assert_eq(b64url_encode(again, sizeof again, out, 2), 3);
				cr_assert_str_eq(again, text);
			}
	cr_assert_eq(accepted, 65536u);
}
