/* log.c - JSON-lines logging (see log.h). */
#include "log.h"

#include <pthread.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

#include "decimal.h"
#include "json.h"

static enum log_level log_min = LOG_INFO;

/* The pid of every line, read once per process: getpid(2) is a system call
 * and a worker logs a line per request.  A forked child reads its own. */
static pid_t pid_cached;
static int   pid_fork_hook;

static void
pid_forget(void)
{
	pid_cached = 0;
}

static pid_t
current_pid(void)
{
	if (pid_cached == 0) {
		if (!pid_fork_hook)
			pid_fork_hook = pthread_atfork(NULL, NULL, pid_forget) == 0;
		pid_cached = getpid();
	}
	return pid_cached;
}

void
log_init(int debug)
{
	log_min = debug ? LOG_DEBUG : LOG_INFO;
}

int
log_debug_enabled(void)
{
	return log_min == LOG_DEBUG;
}

struct line {
	char   buf[LOG_LINE_MAX];
	size_t len;
};

/* Bytes still free for content: "}\n" always fits after it. */
static size_t
room(const struct line *l)
{
	return sizeof l->buf - 2 - l->len;
}

/* Appends s[0..n) when it fits whole; returns 0, or -1 (nothing written). */
static int
line_raw(struct line *l, const char *s, size_t n)
{
	if (n > room(l))
		return -1;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return 0;
}

/* 1 for the bytes json_escape_byte writes as themselves. */
static int
json_plain(unsigned char c)
{
	return c >= 0x20 && c != 0x7f && c != '"' && c != '\\';
}

/*
 * Appends s as a JSON string.  A value too long for the line is cut at a
 * character boundary (never inside an escape) and still closed, so every
 * line stays valid JSON.  Needs room for at least the two quotes.  Runs of
 * bytes that need no escape are copied whole: a line per request is the
 * common case, and its strings rarely hold one.
 */
static void
line_str(struct line *l, const char *s)
{
	char esc[JSON_ESCAPE_MAX];

	(void)line_raw(l, "\"", 1);
	while (*s) {
		size_t run = 0, fit;

		while (s[run] != '\0' && json_plain((unsigned char)s[run]))
			run++;
		if (run > 0) {
			/* Keep one byte for the closing quote. */
			fit = room(l) > 0 ? room(l) - 1 : 0;
			if (run > fit) {
				(void)line_raw(l, s, fit);
				break;
			}
			(void)line_raw(l, s, run);
			s += run;
			continue;
		}
		size_t n = json_escape_byte(esc, (unsigned char)*s);
		if (n + 1 > room(l))
			break;
		(void)line_raw(l, esc, n);
		s++;
	}
	(void)line_raw(l, "\"", 1);
}

/* Writes v in decimal with its sign; returns the length (at most 20). */
static size_t
format_signed(char out[DECIMAL_U64_MAX + 1], long long v)
{
	if (v >= 0)
		return decimal_format(out, (uint64_t)v);
	out[0] = '-';
	return 1 + decimal_format(out + 1, 0 - (uint64_t)v);
}

/* Two digits of v (0..99). */
static void
two_digits(char *out, int v)
{
	out[0] = (char)('0' + v / 10 % 10);
	out[1] = (char)('0' + v % 10);
}

/*
 * The timestamp, as "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes, no NUL).  The
 * part up to the seconds is made once per second (gmtime_r and its digits
 * per line were a tenth of a pass-through request's own work).
 */
#define TS_LEN 24
static void
format_ts(char out[TS_LEN])
{
	static time_t cached_sec = (time_t)-1;
	static char   cached[TS_LEN];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached_sec) {
		int year;
		if (gmtime_r(&ts.tv_sec, &tm) == NULL)
			memset(&tm, 0, sizeof tm);
		year = tm.tm_year + 1900;
		if (year < 0 || year > 9999)
			year = 0;
		two_digits(cached, year / 100);
		two_digits(cached + 2, year % 100);
		cached[4] = '-';
		two_digits(cached + 5, tm.tm_mon + 1);
		cached[7] = '-';
		two_digits(cached + 8, tm.tm_mday);
		cached[10] = 'T';
		two_digits(cached + 11, tm.tm_hour);
		cached[13] = ':';
		two_digits(cached + 14, tm.tm_min);
		cached[16] = ':';
		two_digits(cached + 17, tm.tm_sec);
		cached[19] = '.';
		cached[23] = 'Z';
		cached_sec = ts.tv_sec;
	}
	memcpy(out, cached, TS_LEN);
	long ms = ts.tv_nsec / 1000000;
	out[20] = (char)('0' + ms / 100);
	two_digits(out + 21, (int)(ms % 100));
}

/* Starts ,"key": when the key and at least an empty value fit; else 0. */
static int
line_key(struct line *l, const char *k, size_t value_min)
{
	size_t need = 4 + strlen(k) + value_min;   /* , " " : */

	if (need > room(l))
		return 0;
	(void)line_raw(l, ",\"", 2);
	(void)line_raw(l, k, strlen(k));
	(void)line_raw(l, "\":", 2);
	return 1;
}

void
log_event(enum log_level lvl, const char *msg, const struct log_kv *kv, size_t n)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	struct line l;
	char tbuf[TS_LEN], num[DECIMAL_U64_MAX + 1];
	size_t i, nl;
	int saved = errno;

	if (lvl < log_min)
		return;
	format_ts(tbuf);
	l.len = 0;
	(void)line_raw(&l, "{\"ts\":\"", 7);
	(void)line_raw(&l, tbuf, TS_LEN);
	(void)line_raw(&l, "\"", 1);
	if (line_key(&l, "level", 2))
		line_str(&l, names[lvl]);
	if (line_key(&l, "msg", 2))
		line_str(&l, msg);
	nl = format_signed(num, (long long)current_pid());
	if (line_key(&l, "pid", nl))
		(void)line_raw(&l, num, nl);
	for (i = 0; i < n; i++) {
		if (kv[i].str != NULL) {
			if (line_key(&l, kv[i].key, 2))
				line_str(&l, kv[i].str);
		} else {
			nl = format_signed(num, kv[i].num);
			if (line_key(&l, kv[i].key, nl))
				(void)line_raw(&l, num, nl);
		}
	}
	l.buf[l.len++] = '}';
	l.buf[l.len++] = '\n';
	/* One write per line; a short write to a pipe is not retried on purpose. */
	if (write(STDOUT_FILENO, l.buf, l.len) < 0)
		(void)0;
	errno = saved;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX / 2];
	va_list ap;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_event(lvl, msg, NULL, 0);
}
