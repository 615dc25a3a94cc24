/* test_answer.c - authenticated answers (answer.c): the tag binds the status
 * and every part of the request; a rotation adds the previous secret's tag.
 * Its value is checked against an independent implementation written from
 * PROTOCOL.md in tests/node/client-answers.test.mjs. */
#include <criterion/criterion.h>
#include <string.h>

#include "answer.h"

static const char cid[] = "0123456789abcdef0123456789abcdef";

Test(answer, header_shape_and_rotation)
{
	char one[ANSWER_HEADER_MAX], two[ANSWER_HEADER_MAX], prev[ANSWER_HEADER_MAX];

	cr_assert_eq(answer_header(one, "secret-a", NULL, cid, "pairpairpairpair", "7", "POST", 560), 0);
	cr_expect_eq(strlen(one), ANSWER_TAG_HEX_LEN);
	cr_assert_eq(answer_header(two, "secret-a", "secret-b", cid, "pairpairpairpair", "7", "POST", 560), 0);
	cr_expect_eq(strlen(two), 2 * ANSWER_TAG_HEX_LEN + 1);
	cr_expect_eq(two[ANSWER_TAG_HEX_LEN], ',');
	cr_expect_eq(memcmp(one, two, ANSWER_TAG_HEX_LEN), 0, "the current secret's tag first");
	cr_assert_eq(answer_header(prev, "secret-b", NULL, cid, "pairpairpairpair", "7", "POST", 560), 0);
	cr_expect_str_eq(two + ANSWER_TAG_HEX_LEN + 1, prev, "then the previous secret's");
}

Test(answer, every_part_is_bound)
{
	char base[ANSWER_HEADER_MAX], other[ANSWER_HEADER_MAX];

	cr_assert_eq(answer_header(base, "s", NULL, cid, "pairpairpairpair", "7", "POST", 560), 0);
	answer_header(other, "s", NULL, cid, "pairpairpairpair", "7", "POST", 570);
	cr_expect_str_neq(base, other, "status");
	answer_header(other, "s", NULL, cid, "pairpairpairpair", "8", "POST", 560);
	cr_expect_str_neq(base, other, "seq");
	answer_header(other, "s", NULL, cid, "pairpairpairpaiR", "7", "POST", 560);
	cr_expect_str_neq(base, other, "pair id");
	answer_header(other, "s", NULL, cid, "pairpairpairpair", "7", "PUT", 560);
	cr_expect_str_neq(base, other, "method");
	answer_header(other, "s", NULL, "1123456789abcdef0123456789abcdef", "pairpairpairpair", "7", "POST", 560);
	cr_expect_str_neq(base, other, "client id");
	answer_header(other, "t", NULL, cid, "pairpairpairpair", "7", "POST", 560);
	cr_expect_str_neq(base, other, "secret");
}

Test(answer, key_depends_on_secret_and_client)
{
	uint8_t a[ANSWER_KEY_LEN], b[ANSWER_KEY_LEN], c[ANSWER_KEY_LEN];

	answer_key(a, "s", cid);
	answer_key(b, "t", cid);
	answer_key(c, "s", "1123456789abcdef0123456789abcdef");
	cr_expect_neq(memcmp(a, b, sizeof a), 0);
	cr_expect_neq(memcmp(a, c, sizeof a), 0);
}

Test(answer, too_long_a_method_is_refused)
{
	char out[ANSWER_HEADER_MAX], method[300];

	memset(method, 'M', sizeof method - 1);
	method[sizeof method - 1] = '\0';
	cr_expect_eq(answer_header(out, "s", NULL, cid, "pairpairpairpair", "7", method, 560), -1);
}
