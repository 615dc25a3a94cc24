/* test_log.c - JSON lines: escaping, and LOG_LINE_MAX cuts that keep every
 * line valid JSON. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Runs fn with stdout sent into a pipe; returns what it wrote (static). */
static const char *
capture(void (*fn)(void))
{
	static char out[LOG_LINE_MAX * 4];
	int p[2], saved;
	ssize_t n, total = 0;

	cr_assert_eq(pipe(p), 0);
	saved = dup(STDOUT_FILENO);
	dup2(p[1], STDOUT_FILENO);
	fn();
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(p[1]);
	while ((n = read(p[0], out + total, sizeof out - 1 - (size_t)total)) > 0)
		total += n;
	close(p[0]);
	out[total] = '\0';
	return out;
}

static void
log_fields(void)
{
	log_init(0);
	LOG_EVENT(LOG_WARN, "a \"quoted\"\tmsg\n", LOG_S("path", "/x\\y\x01"), LOG_I("status", 503));
	log_msg(LOG_DEBUG, "not written at info level");
}

Test(log, one_json_line_with_escapes)
{
	const char *out = capture(log_fields);
	size_t len = strlen(out);
	cJSON *j;

	cr_assert_gt(len, 0);
	cr_assert_eq(out[len - 1], '\n');
	cr_assert_eq(strchr(out, '\n'), out + len - 1, "exactly one line");
	j = cJSON_ParseWithLength(out, len - 1);
	cr_assert_not_null(j, "valid JSON: %s", out);
	cr_expect_str_eq(cJSON_GetObjectItem(j, "level")->valuestring, "warn");
	cr_expect_str_eq(cJSON_GetObjectItem(j, "msg")->valuestring, "a \"quoted\"\tmsg\n");
	cr_expect_str_eq(cJSON_GetObjectItem(j, "path")->valuestring, "/x\\y\x01");
	cr_expect_eq(cJSON_GetObjectItem(j, "status")->valuedouble, 503);
	cr_expect_not_null(cJSON_GetObjectItem(j, "ts"));
	cJSON_Delete(j);
}

static char big[LOG_LINE_MAX * 2];

static void
log_big(void)
{
	size_t i;

	/* Quotes and control bytes, so a cut could land inside an escape. */
	for (i = 0; i < sizeof big - 1; i++)
		big[i] = i % 7 == 0 ? '"' : i % 11 == 0 ? '\x02' : 'a';
	big[sizeof big - 1] = '\0';
	log_init(0);
	LOG_EVENT(LOG_INFO, "big", LOG_S("value", big), LOG_I("after", 7));
}

Test(log, line_over_the_limit_is_cut_and_stays_valid_json)
{
	const char *out = capture(log_big);
	size_t len = strlen(out);
	cJSON *j;

	cr_assert_leq(len, LOG_LINE_MAX, "line of %zu bytes", len);
	cr_assert_eq(out[len - 1], '\n');
	j = cJSON_ParseWithLength(out, len - 1);
	cr_assert_not_null(j, "a cut line is still valid JSON");
	cr_expect_str_eq(cJSON_GetObjectItem(j, "msg")->valuestring, "big");
	cr_expect_eq(strncmp(cJSON_GetObjectItem(j, "value")->valuestring, big, 100), 0,
	    "the value keeps its start");
	cr_expect_lt(strlen(cJSON_GetObjectItem(j, "value")->valuestring), strlen(big));
	cJSON_Delete(j);
}
