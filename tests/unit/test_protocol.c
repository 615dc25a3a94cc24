/* test_protocol.c - syntax of pair ids, personalization, seq, the relay header; the JSON
 * \u0000 guard. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "protocol.h"

Test(protocol, pair_id_lengths_at_the_limits)
{
	char buf[PAIR_ID_MAX + 2];

	memset(buf, 'a', sizeof buf);
	cr_expect_eq(protocol_pair_id_ok(buf, PAIR_ID_MIN - 1), 0);
	cr_expect_eq(protocol_pair_id_ok(buf, PAIR_ID_MIN), 1);
	cr_expect_eq(protocol_pair_id_ok(buf, PAIR_ID_MAX), 1);
	cr_expect_eq(protocol_pair_id_ok(buf, PAIR_ID_MAX + 1), 0);
}

Test(protocol, pair_id_characters)
{
	static const char good[] = "AZaz09_-AZaz09_-";
	static const char *bad[] = { "aaaaaaaaaaaaaaa.", "aaaaaaaaaaaaaaa ", "aaaaaaaaaaaaaaa+",
	    "aaaaaaaaaaaaaaa/", "aaaaaaaaaaaaaaa=", "aaaaaaaaaaaaaaa\xc3" };
	char withnul[PAIR_ID_MIN] = "aaaaaaaaaaaaaaa";   /* 15 chars and a NUL */
	size_t i;

	cr_expect_eq(protocol_pair_id_ok(good, strlen(good)), 1);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect_eq(protocol_pair_id_ok(bad[i], PAIR_ID_MIN), 0, "%s", bad[i]);
	cr_expect_eq(protocol_pair_id_ok(withnul, sizeof withnul), 0, "an embedded NUL");
}

Test(protocol, personalization)
{
	char buf[PERSONALIZATION_MAX + 1];

	memset(buf, '~', sizeof buf);
	cr_expect_eq(protocol_personalization_ok(buf, 0), 1, "empty is allowed");
	cr_expect_eq(protocol_personalization_ok(buf, PERSONALIZATION_MAX), 1);
	cr_expect_eq(protocol_personalization_ok(buf, PERSONALIZATION_MAX + 1), 0);
	cr_expect_eq(protocol_personalization_ok(" !", 2), 1);
	cr_expect_eq(protocol_personalization_ok("a\x1f", 2), 0);
	cr_expect_eq(protocol_personalization_ok("a\x7f", 2), 0);
	cr_expect_eq(protocol_personalization_ok("a\0b", 3), 0);
}

Test(protocol, seq_canonical_decimal)
{
	static const struct { const char *s; int ok; uint64_t v; } cases[] = {
		{ "1", 1, 1 },
		{ "10", 1, 10 },
		{ "18446744073709551615", 1, UINT64_MAX },
		{ "18446744073709551616", 0, 0 },      /* 2^64 */
		{ "99999999999999999999", 0, 0 },
		{ "184467440737095516150", 0, 0 },     /* 21 digits */
		{ "0", 0, 0 },
		{ "01", 0, 0 },
		{ "", 0, 0 },
		{ "+1", 0, 0 },
		{ "-1", 0, 0 },
		{ "1 ", 0, 0 },
		{ "1a", 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t v = 12345;
		int rc = protocol_parse_seq(cases[i].s, strlen(cases[i].s), &v);
		cr_expect_eq(rc == 0, cases[i].ok, "\"%s\"", cases[i].s);
		if (cases[i].ok)
			cr_expect_eq(v, cases[i].v, "\"%s\"", cases[i].s);
		else
			cr_expect_eq(v, 12345, "\"%s\": nothing written", cases[i].s);
	}
}

Test(protocol, client_id_is_lower_case_only)
{
	char id[CLIENT_ID_HEX_LEN + 2];

	memset(id, 'a', sizeof id);
	cr_expect_eq(protocol_client_id_ok("0123456789abcdef0123456789abcdef", CLIENT_ID_HEX_LEN), 1);
	cr_expect_eq(protocol_client_id_ok("0123456789ABCDEF0123456789abcdef", CLIENT_ID_HEX_LEN), 0,
	    "upper case is a different, invalid id");
	cr_expect_eq(protocol_client_id_ok("0123456789abcdeg0123456789abcdef", CLIENT_ID_HEX_LEN), 0);
	cr_expect_eq(protocol_client_id_ok(id, CLIENT_ID_HEX_LEN - 1), 0);
	cr_expect_eq(protocol_client_id_ok(id, CLIENT_ID_HEX_LEN + 1), 0);
	cr_expect_eq(protocol_client_id_ok(id, CLIENT_ID_HEX_LEN), 1);
}

Test(protocol, json_nul_escape)
{
	static const struct { const char *s; int nul; } cases[] = {
		{ "{\"a\":\"x\\u0000y\"}", 1 },
		{ "\\u0000", 1 },
		{ "{\"a\":\"x\\\\u0000y\"}", 0 },      /* an escaped backslash, then text */
		{ "{\"a\":\"x\\\\\\u0000\"}", 1 },     /* escaped backslash, then the escape */
		{ "{\"a\":\"\\u00001\"}", 1 },
		{ "{\"a\":\"\\u0001\"}", 0 },
		{ "{\"a\":\"\\u000\"}", 0 },
		{ "\\u000", 0 },
		{ "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_expect_eq(json_has_nul_escape(cases[i].s, strlen(cases[i].s)), cases[i].nul,
		    "%s", cases[i].s);
}

static const char good_header[] =
    "0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    ",pairpairpairpair,18446744073709551615,ub";

Test(protocol, relay_header_parts)
{
	struct relay_header h;

	cr_assert_eq(protocol_parse_relay_header(good_header, strlen(good_header), &h), 0);
	cr_expect_eq(h.signed_id, good_header);
	cr_expect_eq(h.pair_id_len, 16);
	cr_expect_eq(memcmp(h.pair_id, "pairpairpairpair", 16), 0);
	cr_expect_eq(h.seq, UINT64_MAX);
	cr_expect_eq(h.seq_len, 20);
	cr_expect_eq(h.flag_u, 1);
	cr_expect_eq(h.flag_b, 1);
	cr_expect_eq(h.flags_len, 2);
}

Test(protocol, relay_header_every_truncated_prefix_is_malformed)
{
	struct relay_header h;
	size_t n, len = strlen(good_header);

	/* cutting the flags "ub" to "u" or "" still parses; anything shorter does not */
	for (n = 0; n < len - 2; n++)
		cr_expect_eq(protocol_parse_relay_header(good_header, n, &h), -1, "prefix %zu", n);
	cr_expect_eq(protocol_parse_relay_header(good_header, len - 2, &h), 0);
	cr_expect_eq(protocol_parse_relay_header(good_header, len - 1, &h), 0);
	cr_expect_eq(h.flag_u, 1);
	cr_expect_eq(h.flag_b, 0);
}

Test(protocol, relay_header_flags_in_order)
{
	static const char *const good[] = { "", "u", "b", "a", "s", "ub", "ua", "ba", "uba", "us", "as",
		"ubs", "uas", "bas", "ubas" };
	char buf[256];
	struct relay_header h;
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		int n = snprintf(buf, sizeof buf, "%.*s%s", (int)(strlen(good_header) - 2), good_header,
		    good[i]);
		cr_assert_eq(protocol_parse_relay_header(buf, (size_t)n, &h), 0, "flags %s", good[i]);
		cr_expect_eq(h.flag_u, strchr(good[i], 'u') != NULL);
		cr_expect_eq(h.flag_b, strchr(good[i], 'b') != NULL);
		cr_expect_eq(h.flag_a, strchr(good[i], 'a') != NULL);
		cr_expect_eq(h.flag_s, strchr(good[i], 's') != NULL);
	}
}

Test(protocol, relay_header_malformed_parts)
{
	static const char *const bad[] = {
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,1,bu",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,1,x",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,1,ab",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,1,aa",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,1,ubaa",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,1,au",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,1,sa",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,1,ubass",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,01,",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,0,",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,18446744073709551616,",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pair,1,",
		"0123456789ABCDEF0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,1,",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,1,,",
		"0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,pairpairpairpair,1",
	};
	struct relay_header h;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect_eq(protocol_parse_relay_header(bad[i], strlen(bad[i]), &h), -1, "%s", bad[i]);
}

/* The AADs and the x-mte-relay field: the layouts of protocol.md, against
 * a reference written with snprintf, and -1 at every buffer size too small
 * (one byte short included) with nothing written past cap. */
Test(protocol, aad_and_relay_field_layouts)
{
	static const char cid[] = "0123456789abcdef0123456789abcdef";
	static const char pid[] = "pair-0123456789abcdef";
	static const char sid[] = "0123456789abcdef0123456789abcdef."
	    "99d2907b1eaddece75c4854b369cb000334957960ef18df23434267807517b12";
	char want[512], out[512];
	int n, w;

	/* request, with a target and with u (no target) */
	n = snprintf(want, sizeof want, "mte-relay/1 req %s %s %s %s %s %s", cid, pid, "42", "ub",
	    "POST", "/api/x?y=1");
	cr_assert_eq(protocol_aad_request(out, sizeof out, cid, pid, "42", "ub", "POST",
	    "/api/x?y=1", 10), n);
	cr_assert_str_eq(out, want);
	n = snprintf(want, sizeof want, "mte-relay/1 req %s %s 7  GET ", cid, pid);
	cr_assert_eq(protocol_aad_request(out, sizeof out, cid, pid, "7", "", "GET", NULL, 0), n);
	cr_assert_str_eq(out, want);
	for (int cap = 0; cap <= n; cap++) {
		memset(out, 'x', sizeof out);
		cr_assert_eq(protocol_aad_request(out, (size_t)cap, cid, pid, "7", "", "GET", NULL, 0), -1,
		    "cap %d", cap);
		cr_assert_eq(out[cap], 'x', "nothing past cap %d", cap);
	}
	/* response: the status as 3 digits */
	for (int status = 100; status <= 999; status += 37) {
		n = snprintf(want, sizeof want, "mte-relay/1 res %s %s %s %s %03d", cid, pid, "18446744073709551615",
		    "bs", status);
		w = protocol_aad_response(out, sizeof out, cid, pid, "18446744073709551615", "bs", status);
		cr_assert_eq(w, n);
		cr_assert_str_eq(out, want);
		cr_assert_eq(protocol_aad_response(out, (size_t)n, cid, pid, "18446744073709551615", "bs",
		    status), -1, "one byte short");
	}
	/* the relay field */
	n = snprintf(want, sizeof want, "%s,%s,%s,%s", sid, pid, "9", "b");
	cr_assert_eq(protocol_format_relay_header(out, sizeof out, sid, pid, "9", "b"), n);
	cr_assert_str_eq(out, want);
	cr_assert_eq(protocol_format_relay_header(out, (size_t)n, sid, pid, "9", "b"), -1);
	cr_assert_eq(protocol_format_relay_header(out, (size_t)n + 1, sid, pid, "9", "b"), n);
	cr_assert_eq(protocol_format_relay_header(out, sizeof out, sid, pid, "9", ""), n - 1,
	    "empty flags end in a comma");
	cr_assert_eq(out[n - 2], ',');
}
