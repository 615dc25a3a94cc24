/* test_clientid.c - signed client ids: format, known answers from Node,
 * rotation, and every single-character tamper rejected. */
#include <criterion/criterion.h>

#include <signal.h>
#include <string.h>

#include "clientid.h"
#include "limits.h"

#define SECRET      "test-secret"
#define OLD_SECRET  "old-secret"

/*
 * Known answers produced once with Node 20's own crypto:
 *   crypto.createHmac('sha256', 'test-secret').update('0123456789abcdef0123456789abcdef').digest('hex')
 *   crypto.createHmac('sha256', 'old-secret').update('fedcba9876543210fedcba9876543210').digest('hex')
 */
static const char kat_id[] = "0123456789abcdef0123456789abcdef";
static const char kat_signed[] =
	"0123456789abcdef0123456789abcdef."
	"99d2907b1eaddece75c4854b369cb000334957960ef18df23434267807517b12";
static const char old_id[] = "fedcba9876543210fedcba9876543210";
static const char old_signed[] =
	"fedcba9876543210fedcba9876543210."
	"2444fbc1d1a380b1fd1e7a3e894e0de3c44a802e66c6920db251275900ca6917";

static int
verify(const char *s, size_t len, char out[CLIENT_ID_HEX_LEN + 1])
{
	return clientid_verify(s, len, SECRET, strlen(SECRET), NULL, 0, out);
}

static int
all_lower_hex(const char *s, size_t n)
{
	return strspn(s, "0123456789abcdef") >= n;
}

Test(clientid, known_answer)
{
	char out[CLIENT_ID_SIGNED_LEN + 1], id[CLIENT_ID_HEX_LEN + 1];

	cr_assert_eq(sizeof kat_signed - 1, (size_t)CLIENT_ID_SIGNED_LEN);
	cr_assert_eq(clientid_sign(out, kat_id, SECRET, strlen(SECRET)), 0);
	cr_assert_str_eq(out, kat_signed);
	cr_assert_eq(verify(kat_signed, CLIENT_ID_SIGNED_LEN, id), 0);
	cr_assert_str_eq(id, kat_id);
}

Test(clientid, mint_format_and_verify)
{
	char a[CLIENT_ID_SIGNED_LEN + 1], b[CLIENT_ID_SIGNED_LEN + 1], id[CLIENT_ID_HEX_LEN + 1];
	char again[CLIENT_ID_SIGNED_LEN + 1];

	memset(a, 'X', sizeof a);
	clientid_mint(a, SECRET, strlen(SECRET));
	clientid_mint(b, SECRET, strlen(SECRET));
	cr_assert_eq(strlen(a), (size_t)CLIENT_ID_SIGNED_LEN);
	cr_assert(all_lower_hex(a, 32));
	cr_assert_eq(a[32], '.');
	cr_assert(all_lower_hex(a + 33, 64));
	cr_assert(memcmp(a, b, 32) != 0, "two mints gave the same id");
	cr_assert_eq(verify(a, strlen(a), id), 0);
	cr_assert(memcmp(id, a, 32) == 0 && id[32] == '\0');
	/* signing the minted id again gives the same signed form */
	cr_assert_eq(clientid_sign(again, id, SECRET, strlen(SECRET)), 0);
	cr_assert_str_eq(again, a);
	/* another secret does not accept it */
	cr_assert_eq(clientid_verify(a, strlen(a), "other", 5, NULL, 0, id), -1);
	cr_assert_str_eq(id, "");
}

Test(clientid, previous_secret)
{
	char id[CLIENT_ID_HEX_LEN + 1], resigned[CLIENT_ID_SIGNED_LEN + 1];
	char mine[CLIENT_ID_SIGNED_LEN + 1];

	/* signed under the old secret: valid only while it is the previous one */
	cr_assert_eq(verify(old_signed, CLIENT_ID_SIGNED_LEN, id), -1);
	/* an empty previous secret means none */
	cr_assert_eq(clientid_verify(old_signed, CLIENT_ID_SIGNED_LEN, SECRET, strlen(SECRET),
	                             OLD_SECRET, 0, id), -1);
	cr_assert_eq(clientid_verify(old_signed, CLIENT_ID_SIGNED_LEN, SECRET, strlen(SECRET),
	                             OLD_SECRET, strlen(OLD_SECRET), id), 0);
	cr_assert_str_eq(id, old_id);
	/* the relay answers with the current secret */
	cr_assert_eq(clientid_sign(resigned, id, SECRET, strlen(SECRET)), 0);
	cr_assert_str_neq(resigned, old_signed);
	cr_assert_eq(verify(resigned, CLIENT_ID_SIGNED_LEN, id), 0);
	cr_assert_str_eq(id, old_id);
	/* ids under the current secret still pass with a previous one set */
	cr_assert_eq(clientid_verify(kat_signed, CLIENT_ID_SIGNED_LEN, SECRET, strlen(SECRET),
	                             OLD_SECRET, strlen(OLD_SECRET), id), 0);
	/* the old secret as current and the new one as previous: both still pass */
	clientid_mint(mine, SECRET, strlen(SECRET));
	cr_assert_eq(clientid_verify(mine, CLIENT_ID_SIGNED_LEN, OLD_SECRET, strlen(OLD_SECRET),
	                             SECRET, strlen(SECRET), id), 0);
	/* a third secret matches neither */
	cr_assert_eq(clientid_verify(mine, CLIENT_ID_SIGNED_LEN, "a", 1, "b", 1, id), -1);
}

Test(clientid, every_single_char_tamper_rejected)
{
	char s[CLIENT_ID_SIGNED_LEN + 1], id[CLIENT_ID_HEX_LEN + 1];
	unsigned rejected = 0;

	memcpy(s, kat_signed, sizeof s);
	for (size_t pos = 0; pos < CLIENT_ID_SIGNED_LEN; pos++) {
		char orig = s[pos];
		for (int c = 0; c < 256; c++) {
			if ((char)c == orig)
				continue;
			s[pos] = (char)c;
			strcpy(id, "sentinel");
			cr_assert_eq(clientid_verify(s, CLIENT_ID_SIGNED_LEN, SECRET, strlen(SECRET),
			                             OLD_SECRET, strlen(OLD_SECRET), id), -1,
			             "byte 0x%02x at %zu accepted", c, pos);
			cr_assert_str_eq(id, "");
			rejected++;
		}
		s[pos] = orig;
	}
	cr_assert_eq(rejected, CLIENT_ID_SIGNED_LEN * 255u);
	cr_assert_eq(verify(s, CLIENT_ID_SIGNED_LEN, id), 0, "restored id verifies");
}

Test(clientid, upper_case_rejected)
{
	char s[CLIENT_ID_SIGNED_LEN + 1], id[CLIENT_ID_HEX_LEN + 1], out[CLIENT_ID_SIGNED_LEN + 1];

	/* Upper-casing a letter names the same bytes but is not the canonical
	 * form: rejected in the id and in the MAC. */
	for (size_t pos = 0; pos < CLIENT_ID_SIGNED_LEN; pos++) {
		memcpy(s, kat_signed, sizeof s);
		if (s[pos] < 'a' || s[pos] > 'f')
			continue;
		s[pos] = (char)(s[pos] - 'a' + 'A');
		cr_assert_eq(verify(s, CLIENT_ID_SIGNED_LEN, id), -1, "upper case at %zu", pos);
	}
	cr_assert_eq(clientid_sign(out, "0123456789ABCDEF0123456789abcdef", SECRET, 6), -1);
	cr_assert_str_eq(out, "");
}

Test(clientid, wrong_lengths_rejected)
{
	char s[CLIENT_ID_SIGNED_LEN + 8], id[CLIENT_ID_HEX_LEN + 1];

	memcpy(s, kat_signed, CLIENT_ID_SIGNED_LEN);
	memcpy(s + CLIENT_ID_SIGNED_LEN, "0123456", 8);
	for (size_t n = 0; n < sizeof s; n++) {
		if (n == CLIENT_ID_SIGNED_LEN)
			continue;
		cr_assert_eq(verify(s, n, id), -1, "length %zu accepted", n);
	}
	cr_assert_eq(verify(s, CLIENT_ID_SIGNED_LEN, id), 0);
	/* a 33-char id with a 63-char MAC has the right total length */
	static const char shifted[] =
		"0123456789abcdef0123456789abcdef0."
		"99d2907b1eaddece75c4854b369cb000334957960ef18df23434267807517b1";
	cr_assert_eq(verify(shifted, CLIENT_ID_SIGNED_LEN, id), -1);
	cr_assert_eq(verify(NULL, CLIENT_ID_SIGNED_LEN, id), -1);
	/* ids of the wrong length cannot be signed */
	char out[CLIENT_ID_SIGNED_LEN + 1];
	cr_assert_eq(clientid_sign(out, "0123456789abcdef0123456789abcde", SECRET, 6), -1);
	cr_assert_eq(clientid_sign(out, "0123456789abcdef0123456789abcdeg", SECRET, 6), -1);
	cr_assert_eq(clientid_sign(out, "", SECRET, 6), -1);
	cr_assert_eq(clientid_sign(out, NULL, SECRET, 6), -1);
	/* a longer string: only the first 32 characters are the id */
	cr_assert_eq(clientid_sign(out, "0123456789abcdef0123456789abcdefXYZ", SECRET, strlen(SECRET)), 0);
	cr_assert_str_eq(out, kat_signed);
}

Test(clientid, empty_secret)
{
	char out[CLIENT_ID_SIGNED_LEN + 1], id[CLIENT_ID_HEX_LEN + 1];

	cr_assert_eq(clientid_sign(out, kat_id, "", 0), -1);
	cr_assert_eq(clientid_verify(kat_signed, CLIENT_ID_SIGNED_LEN, "", 0, SECRET,
	                             strlen(SECRET), id), -1);
}

Test(clientid, mint_with_empty_secret_aborts, .signal = SIGABRT)
{
	char out[CLIENT_ID_SIGNED_LEN + 1];

	clientid_mint(out, "", 0);
	cr_assert_fail("minted under an empty secret");
}

/* clientid_check_echo: the id to echo, signed under the current secret,
 * whichever secret the presented one was signed with; nothing on failure. */
Test(clientid, check_echo_signs_under_the_current_secret)
{
	const char *cur = "current-secret-0123456789abcdef0123", *prev = "previous-secret-0123456789abcdef012";
	char prev_signed[CLIENT_ID_SIGNED_LEN + 1], want[CLIENT_ID_SIGNED_LEN + 1];
	char echo[CLIENT_ID_SIGNED_LEN + 1], id[CLIENT_ID_HEX_LEN + 1];

	clientid_mint(prev_signed, prev, strlen(prev));
	cr_assert_eq(clientid_check_echo(prev_signed, CLIENT_ID_SIGNED_LEN, cur, prev, id, echo), 0);
	cr_assert_eq(clientid_sign(want, id, cur, strlen(cur)), 0);
	cr_assert_str_eq(echo, want, "re-signed under the current secret");
	cr_assert_str_neq(echo, prev_signed);
	cr_assert_eq(clientid_check_echo(want, CLIENT_ID_SIGNED_LEN, cur, NULL, id, echo), 0);
	cr_assert_str_eq(echo, want);
	strcpy(echo, "untouched");
	cr_assert_eq(clientid_check_echo(prev_signed, CLIENT_ID_SIGNED_LEN, cur, NULL, id, echo), -1);
	cr_assert_str_eq(echo, "untouched");
	cr_assert_str_eq(id, "");
}

/* The cache of verified ids (CLIENT_ID_CACHE_SIZE slots): more ids than
 * slots all verify twice with the right id and echo; a cached id with one
 * character changed, or checked under another secret of the same length,
 * is refused; the same secret text at another address still hits. */
Test(clientid, verified_cache_accepts_only_what_verified)
{
	enum { N = CLIENT_ID_CACHE_SIZE + 1 };
	static char ids[N][CLIENT_ID_SIGNED_LEN + 1];
	char echo[CLIENT_ID_SIGNED_LEN + 1], want[CLIENT_ID_SIGNED_LEN + 1];
	char id[CLIENT_ID_HEX_LEN + 1], copy[64], s[CLIENT_ID_SIGNED_LEN + 1];
	const char *cur = "cache-secret-0123456789abcdef0123456";

	for (int round = 0; round < 2; round++)
		for (int i = 0; i < N; i++) {
			if (round == 0)
				clientid_mint(ids[i], cur, strlen(cur));
			cr_assert_eq(clientid_check_echo(ids[i], CLIENT_ID_SIGNED_LEN, cur, NULL, id, echo), 0,
			    "round %d id %d", round, i);
			cr_assert_eq(memcmp(id, ids[i], CLIENT_ID_HEX_LEN), 0);
			cr_assert_str_eq(echo, ids[i]);
		}
	/* one character of a cached id changed: the cache never accepts it */
	for (size_t pos = 0; pos < CLIENT_ID_SIGNED_LEN; pos++) {
		memcpy(s, ids[N - 1], sizeof s);
		cr_assert_eq(clientid_check_echo(s, CLIENT_ID_SIGNED_LEN, cur, NULL, id, echo), 0);
		s[pos] = s[pos] == '0' ? '1' : '0';
		cr_assert_eq(clientid_check_echo(s, CLIENT_ID_SIGNED_LEN, cur, NULL, id, echo), -1,
		    "changed at %zu", pos);
	}
	/* another secret of the same length */
	strcpy(copy, cur);
	copy[0] ^= 1;
	cr_assert_eq(clientid_check_echo(ids[0], CLIENT_ID_SIGNED_LEN, copy, NULL, id, echo), -1);
	/* the same text elsewhere: the cache is keyed by what the secret is */
	strcpy(copy, cur);
	cr_assert_eq(clientid_check_echo(ids[0], CLIENT_ID_SIGNED_LEN, copy, NULL, id, echo), 0);
	cr_assert_eq(clientid_sign(want, id, cur, strlen(cur)), 0);
	cr_assert_str_eq(echo, want);
	/* adding a previous secret: ids signed under it pass, and fail again without it */
	clientid_mint(s, "prev-secret-0123456789abcdef01234567", 36);
	cr_assert_eq(clientid_check_echo(s, CLIENT_ID_SIGNED_LEN, cur, "prev-secret-0123456789abcdef01234567",
	    id, echo), 0);
	cr_assert_eq(clientid_check_echo(s, CLIENT_ID_SIGNED_LEN, cur, NULL, id, echo), -1);
}

/* Secrets of CLIENT_ID_CACHE_SECRET_MAX bytes (cached) and one byte more
 * (verified in full every time) give the same answers. */
Test(clientid, secrets_at_and_over_the_cache_limit)
{
	static char secret[CLIENT_ID_CACHE_SECRET_MAX + 2];
	char s[CLIENT_ID_SIGNED_LEN + 1], echo[CLIENT_ID_SIGNED_LEN + 1], id[CLIENT_ID_HEX_LEN + 1];

	for (size_t len = CLIENT_ID_CACHE_SECRET_MAX; len <= CLIENT_ID_CACHE_SECRET_MAX + 1; len++) {
		memset(secret, 'k', len);
		secret[len] = '\0';
		clientid_mint(s, secret, len);
		for (int again = 0; again < 2; again++) {
			cr_assert_eq(clientid_check_echo(s, CLIENT_ID_SIGNED_LEN, secret, NULL, id, echo), 0,
			    "len %zu", len);
			cr_assert_str_eq(echo, s);
		}
		/* another hex digit last */
		s[CLIENT_ID_SIGNED_LEN - 1] = s[CLIENT_ID_SIGNED_LEN - 1] == '0' ? '1' : '0';
		cr_assert_eq(clientid_check_echo(s, CLIENT_ID_SIGNED_LEN, secret, NULL, id, echo), -1,
		    "len %zu: a changed MAC", len);
		/* the other secret of this length */
		secret[0] = 'j';
		clientid_mint(s, secret, len);
		secret[0] = 'k';
		cr_assert_eq(clientid_check_echo(s, CLIENT_ID_SIGNED_LEN, secret, NULL, id, echo), -1,
		    "len %zu: signed under another secret", len);
	}
}
