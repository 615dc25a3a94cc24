/* log.c - JSON-lines logging (see log.h). */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

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

/*
 * Appends s as a JSON string.  A value too long for the line is cut at a
 * character boundary (never inside an escape) and still closed, so every
 * line stays valid JSON.  Needs room for at least the two quotes.
 */
static void
line_str(struct line *l, const char *s)
{
	char esc[JSON_ESCAPE_MAX];

	(void)line_raw(l, "\"", 1);
	for (; *s; s++) {
		size_t n = json_escape_byte(esc, (unsigned char)*s);

		/* Keep one byte for the closing quote. */
		if (n + 1 > room(l))
			break;
		(void)line_raw(l, esc, n);
	}
	(void)line_raw(l, "\"", 1);
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
	struct timespec ts;
	struct tm tm;
	char tbuf[96], num[32];
	size_t i;
	int saved = errno;

	if (lvl < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(tbuf, sizeof tbuf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

	l.len = 0;
	(void)line_raw(&l, "{\"ts\":", 6);
	line_str(&l, tbuf);
	if (line_key(&l, "level", 2))
		line_str(&l, names[lvl]);
	if (line_key(&l, "msg", 2))
		line_str(&l, msg);
	snprintf(num, sizeof num, "%ld", (long)current_pid());
	if (line_key(&l, "pid", strlen(num)))
		(void)line_raw(&l, num, strlen(num));
	for (i = 0; i < n; i++) {
		if (kv[i].str != NULL) {
			if (line_key(&l, kv[i].key, 2))
				line_str(&l, kv[i].str);
		} else {
			snprintf(num, sizeof num, "%lld", kv[i].num);
			if (line_key(&l, kv[i].key, strlen(num)))
				(void)line_raw(&l, num, strlen(num));
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
