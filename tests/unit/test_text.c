/* test_text.c - the shared text helpers: hex (hex.c), decimal numbers
 * (decimal.c), percent-decoding (percent.c), JSON string escaping (json.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "decimal.h"
#include "hex.h"
#include "json.h"
#include "percent.h"

Test(hex, encode_every_byte_lower_case)
{
	uint8_t in[256];
	char out[512], want[3];
	size_t i;

	for (i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	hex_encode(out, in, sizeof in);
	for (i = 0; i < 256; i++) {
		snprintf(want, sizeof want, "%02x", (unsigned)i);
		cr_assert_eq(memcmp(out + 2 * i, want, 2), 0, "byte %zu", i);
	}
}

Test(hex, value_takes_both_cases)
{
	cr_expect_eq(hex_value('0'), 0);
	cr_expect_eq(hex_value('9'), 9);
	cr_expect_eq(hex_value('a'), 10);
	cr_expect_eq(hex_value('F'), 15);
	cr_expect_eq(hex_value('g'), -1);
	cr_expect_eq(hex_value('G'), -1);
	cr_expect_eq(hex_value('/'), -1);
	cr_expect_eq(hex_value(':'), -1);
	cr_expect_eq(hex_value('@'), -1);
	cr_expect_eq(hex_value('`'), -1);
}

Test(hex, ids_are_lower_case_only)
{
	uint8_t out[2];

	cr_expect_eq(hex_is_lower("0123456789abcdef", 16), 1);
	cr_expect_eq(hex_is_lower("A", 1), 0);
	cr_expect_eq(hex_is_lower("g", 1), 0);
	cr_expect_eq(hex_is_lower("", 0), 1);
	cr_expect_eq(hex_decode_lower(out, "a0ff", 2), 0);
	cr_expect_eq(out[0], 0xa0);
	cr_expect_eq(out[1], 0xff);
	cr_expect_eq(hex_decode_lower(out, "A0ff", 2), -1);
	cr_expect_eq(hex_decode_lower(out, "a0fG", 2), -1);
}

Test(percent, decodes_escapes_of_either_case)
{
	char out[16];
	long n = percent_decode(out, sizeof out, "a%2Fb%2fc%41", 12, 1);

	cr_assert_eq(n, 6);
	cr_expect_eq(memcmp(out, "a/b/cA", 6), 0);
}

Test(percent, truncated_or_bad_escapes_fail)
{
	char out[16];

	cr_expect_eq(percent_decode(out, sizeof out, "%", 1, 0), -1);
	cr_expect_eq(percent_decode(out, sizeof out, "%4", 2, 0), -1);
	cr_expect_eq(percent_decode(out, sizeof out, "ab%4", 4, 0), -1);
	cr_expect_eq(percent_decode(out, sizeof out, "%g1", 3, 0), -1);
	cr_expect_eq(percent_decode(out, sizeof out, "%1g", 3, 0), -1);
}

Test(percent, nul_refused_only_when_asked)
{
	char out[4];

	cr_expect_eq(percent_decode(out, sizeof out, "%00", 3, 1), -1);
	cr_expect_eq(percent_decode(out, sizeof out, "%00", 3, 0), 1);
	cr_expect_eq(out[0], '\0');
}

Test(percent, output_capacity_at_the_limit)
{
	char out[3];

	cr_expect_eq(percent_decode(out, sizeof out, "abc", 3, 0), 3);
	cr_expect_eq(percent_decode(out, sizeof out, "abcd", 4, 0), -1, "cap + 1");
	cr_expect_eq(percent_decode(out, sizeof out, "ab%41", 5, 0), 3);
	cr_expect_eq(percent_decode(out, sizeof out, "ab%41%41", 8, 0), -1, "cap + 1");
}

Test(json, escape_byte)
{
	char out[JSON_ESCAPE_MAX];

	cr_expect_eq(json_escape_byte(out, '"'), 2);
	cr_expect_eq(memcmp(out, "\\\"", 2), 0);
	cr_expect_eq(json_escape_byte(out, '\\'), 2);
	cr_expect_eq(memcmp(out, "\\\\", 2), 0);
	cr_expect_eq(json_escape_byte(out, 0x01), 6);
	cr_expect_eq(memcmp(out, "\\u0001", 6), 0);
	cr_expect_eq(json_escape_byte(out, 0x1f), 6);
	cr_expect_eq(memcmp(out, "\\u001f", 6), 0);
	cr_expect_eq(json_escape_byte(out, 0x7f), 6);
	cr_expect_eq(memcmp(out, "\\u007f", 6), 0);
	cr_expect_eq(json_escape_byte(out, 'a'), 1);
	cr_expect_eq(out[0], 'a');
	cr_expect_eq(json_escape_byte(out, 0xc3), 1, "UTF-8 passes through");
}

Test(decimal, limits)
{
	uint64_t v = 7;

	cr_expect_eq(decimal_parse("18446744073709551615", 20, UINT64_MAX, &v), 0);
	cr_expect_eq(v, UINT64_MAX);
	v = 7;
	cr_expect_eq(decimal_parse("18446744073709551616", 20, UINT64_MAX, &v), -1, "max + 1");
	cr_expect_eq(v, 7, "nothing written");
	cr_expect_eq(decimal_parse("100", 3, 100, &v), 0);
	cr_expect_eq(v, 100);
	cr_expect_eq(decimal_parse("101", 3, 100, &v), -1, "max + 1");
	cr_expect_eq(decimal_parse("9", 1, 8, &v), -1, "a digit over max");
	cr_expect_eq(decimal_parse("007", 3, 100, &v), 0);
	cr_expect_eq(v, 7);
	cr_expect_eq(decimal_parse("", 0, 100, &v), -1);
	cr_expect_eq(decimal_parse("+1", 2, 100, &v), -1);
	cr_expect_eq(decimal_parse("1 ", 2, 100, &v), -1);
	cr_expect_eq(decimal_parse("0", 1, 0, &v), 0);
	cr_expect_eq(v, 0);
}

/* decimal_format against snprintf, and back through decimal_parse. */
Test(decimal, format_round_trip)
{
	static const uint64_t cases[] = { 0, 1, 9, 10, 99, 100, 4294967295u,
		4294967296u, 999999999999999999u, 1000000000000000000u, UINT64_MAX - 1, UINT64_MAX };
	char out[DECIMAL_U64_MAX + 1], want[32];
	uint64_t back, x = 0x9e3779b97f4a7c15u;
	size_t i, n;

	for (i = 0; i < sizeof cases / sizeof cases[0] + 10000; i++) {
		uint64_t v = i < sizeof cases / sizeof cases[0] ? cases[i] : (x = x * 6364136223846793005u + 1442695040888963407u) >> (i % 64);
		memset(out, 'x', sizeof out);
		n = decimal_format(out, v);
		snprintf(want, sizeof want, "%llu", (unsigned long long)v);
		cr_assert_eq(n, strlen(want), "length of %s", want);
		cr_assert_eq(memcmp(out, want, n), 0, "digits of %s", want);
		cr_assert_eq(out[n], 'x', "nothing written past the digits");
		cr_assert_eq(decimal_parse(out, n, UINT64_MAX, &back), 0);
		cr_assert_eq(back, v);
	}
}
