/* test_failure.c - the failure table (failure.c): every kind answers with a
 * status, a text and a reason; relay statuses take the errors table's text;
 * upstream results and body errors map to one kind each. */
#include <criterion/criterion.h>
#include <string.h>

#include "errors.h"
#include "failure.h"

Test(failure, every_kind_is_complete)
{
	int f;

	for (f = 0; f < F_COUNT; f++) {
		const struct failure_kind *k = failure_kind((enum failure)f);
		cr_expect(k->reason != NULL && k->reason[0] != '\0', "kind %d has a reason", f);
		if (k->status == 0) {
			cr_expect_eq(k->sealed, 0, "kind %d answers nothing, so nothing sealed", f);
			continue;
		}
		cr_expect(k->status >= 400 && k->status <= 599, "kind %d status %d", f, k->status);
		cr_expect(failure_message((enum failure)f) != NULL, "kind %d has a text", f);
		if (k->status >= 559 && k->status <= 570)
			cr_expect_str_eq(failure_message((enum failure)f), relay_error_message(k->status),
			    "kind %d takes its text from the errors table", f);
		if (k->count == FC_DECODE)
			cr_expect_lt(k->decode, MDR_COUNT, "kind %d", f);
	}
}

Test(failure, before_acceptance_never_sealed)
{
	/* 570, and 560 for a pair gone between the store calls, come after the
	 * meta opened: sealable for a client that asked (flag a) */
	static const enum failure clear[] = {
		F_RELAY_HEADER_MALFORMED, F_CLIENT_ID_INVALID, F_META_AUTH,
		F_STORE_UNAVAILABLE, F_BODY_LENGTH, F_TARGET_TOO_LONG,
	};
	size_t i;

	for (i = 0; i < sizeof clear / sizeof clear[0]; i++)
		cr_expect_eq(failure_kind(clear[i])->sealed, 0, "kind %d", clear[i]);
	cr_expect_eq(failure_kind(F_REPLAYED)->sealed, 1);
	cr_expect_eq(failure_kind(F_PAIR_NOT_FOUND)->sealed, 1);
	cr_expect_eq(failure_kind(F_META_INVALID)->sealed, 1);
	cr_expect_eq(failure_kind(F_BODY_AUTH)->sealed, 1);
	cr_expect_eq(failure_kind(F_UPSTREAM_TIMEOUT)->sealed, 1);
}

Test(failure, store_unavailable_is_503_in_one_place)
{
	cr_expect_eq(failure_kind(F_STORE_UNAVAILABLE)->status, 503);
	cr_expect_str_eq(failure_message(F_STORE_UNAVAILABLE), "state store unavailable");
}

Test(failure, upstream_results)
{
	cr_expect_eq(failure_kind(failure_of_upstream(UPSTREAM_TIMEOUT, 0))->status, 504);
	cr_expect_eq(failure_kind(failure_of_upstream(UPSTREAM_UNREACHABLE, 0))->status, 502);
	cr_expect_eq(failure_kind(failure_of_upstream(UPSTREAM_BAD_RESPONSE, 0))->status, 502);
	cr_expect_eq(failure_of_upstream(UPSTREAM_SINK_FAILED, 0), F_CLIENT_GONE);
	cr_expect_eq(failure_kind(F_CLIENT_GONE)->status, 0);
	cr_expect_eq(failure_of_upstream(UPSTREAM_BODY_FAILED, 413), F_BODY_TOO_LARGE);
	cr_expect_eq(failure_of_upstream(UPSTREAM_BODY_FAILED, 408), F_BODY_STALLED);
	cr_expect_eq(failure_of_upstream(UPSTREAM_BODY_FAILED, 499), F_CLIENT_GONE);
	cr_expect_eq(failure_of_upstream(UPSTREAM_BODY_FAILED, 400), F_BODY_MALFORMED);
	cr_expect_eq(failure_of_upstream(UPSTREAM_BODY_FAILED, 0), F_BODY_MALFORMED);
	cr_expect_eq(failure_kind(F_BODY_TOO_LARGE)->status, 413);
	cr_expect_eq(failure_kind(F_BODY_STALLED)->status, 408);
	cr_expect_eq(failure_kind(F_BODY_MALFORMED)->status, 400);
}
