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

/* ---- LOG_LINE_MAX: a line of exactly the limit, and one byte more ---- */

#define FILL_MAX (LOG_LINE_MAX * 2)
static char fill[FILL_MAX + 1];
static size_t fill_len;

/* The line with "value" the last field, fill[0..fill_len) its value. */
static void
log_fill(void)
{
	char save = fill[fill_len];

	fill[fill_len] = '\0';
	log_init(0);
	LOG_EVENT(LOG_INFO, "edge", LOG_S("value", fill));
	fill[fill_len] = save;
}

/* Logs fill[0..n) as the value; returns the line (static) and its length. */
static const char *
line_with(size_t n, size_t *len)
{
	const char *out;

	cr_assert_leq(n, FILL_MAX);
	fill_len = n;
	out = capture(log_fill);
	*len = strlen(out);
	cr_assert_gt(*len, 0);
	cr_assert_eq(out[*len - 1], '\n');
	cr_assert_eq(strchr(out, '\n'), out + *len - 1, "exactly one line");
	return out;
}

/* The line parsed, its "value" checked against want[0..want_len). */
static void
expect_value(const char *out, size_t len, const char *want, size_t want_len)
{
	cJSON *j = cJSON_ParseWithLength(out, len - 1);
	cJSON *v;

	cr_assert_not_null(j, "valid JSON: %s", out);
	cr_expect_str_eq(cJSON_GetObjectItem(j, "msg")->valuestring, "edge");
	v = cJSON_GetObjectItem(j, "value");
	cr_assert(cJSON_IsString(v));
	cr_expect_eq(strlen(v->valuestring), want_len, "value of %zu bytes, wanted %zu",
	    strlen(v->valuestring), want_len);
	cr_expect_eq(memcmp(v->valuestring, want, want_len), 0);
	cJSON_Delete(j);
}

/* Plain bytes: the longest value that fits makes a line of exactly
 * LOG_LINE_MAX bytes, written whole; one byte more is cut to that same
 * line (no marker: the value just ends one byte short). */
Test(log, line_of_exactly_the_limit_is_whole_and_one_more_is_cut)
{
	const char *out;
	size_t base, room, len;

	memset(fill, 'a', FILL_MAX);
	out = line_with(0, &base);      /* everything but the value */
	cr_assert_lt(base, LOG_LINE_MAX);
	room = LOG_LINE_MAX - base;

	out = line_with(room, &len);
	cr_expect_eq(len, LOG_LINE_MAX, "a value of %zu bytes", room);
	expect_value(out, len, fill, room);

	out = line_with(room + 1, &len);
	cr_expect_eq(len, LOG_LINE_MAX, "cut to the limit");
	cr_expect_eq(memcmp(out + len - 4, "a\"}\n", 4), 0, "the string and line still closed");
	expect_value(out, len, fill, room);

	out = line_with(room - 1, &len);
	cr_expect_eq(len, LOG_LINE_MAX - 1);
	expect_value(out, len, fill, room - 1);
}

/* An escape at the edge: a '"' (two bytes, \") ending the value fits when
 * the line is then exactly LOG_LINE_MAX bytes; one plain byte earlier in the
 * value and it is dropped whole, never cut in half. */
Test(log, escape_at_the_limit_is_kept_whole_or_dropped)
{
	const char *out;
	size_t base, room, len;

	memset(fill, 'a', FILL_MAX);
	out = line_with(0, &base);
	room = LOG_LINE_MAX - base;

	fill[room - 2] = '"';           /* room - 2 plain bytes, then \" */
	out = line_with(room - 1, &len);
	cr_expect_eq(len, LOG_LINE_MAX);
	expect_value(out, len, fill, room - 1);
	fill[room - 2] = 'a';

	fill[room - 1] = '"';           /* room - 1 plain bytes, then \" */
	out = line_with(room, &len);
	cr_expect_eq(len, LOG_LINE_MAX - 1, "the escape does not fit: left out");
	cr_expect_eq(memcmp(out + len - 5, "aa\"}\n", 5), 0, "no lone backslash: %s", out + len - 8);
	expect_value(out, len, fill, room - 1);
	fill[room - 1] = 'a';
}
