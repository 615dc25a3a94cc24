/* log.c - JSON-lines logging (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

static enum log_level log_min = LOG_INFO;

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

static void
line_raw(struct line *l, const char *s, size_t n)
{
	/* Keep room for the closing "}\n". */
	if (n > sizeof l->buf - 2 - l->len)
		n = sizeof l->buf - 2 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void
line_str(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6];

	line_raw(l, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			esc[0] = '\\'; esc[1] = (char)c;
			line_raw(l, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
			line_raw(l, esc, 6);
		} else {
			line_raw(l, (const char *)&c, 1);
		}
	}
	line_raw(l, "\"", 1);
}

static void
line_key(struct line *l, const char *k)
{
	line_raw(l, ",", 1);
	line_str(l, k);
	line_raw(l, ":", 1);
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
	line_raw(&l, "{\"ts\":", 6);
	line_str(&l, tbuf);
	line_key(&l, "level");
	line_str(&l, names[lvl]);
	line_key(&l, "msg");
	line_str(&l, msg);
	line_key(&l, "pid");
	snprintf(num, sizeof num, "%ld", (long)getpid());
	line_raw(&l, num, strlen(num));
	for (i = 0; i < n; i++) {
		line_key(&l, kv[i].key);
		if (kv[i].str != NULL) {
			line_str(&l, kv[i].str);
		} else {
			snprintf(num, sizeof num, "%lld", kv[i].num);
			line_raw(&l, num, strlen(num));
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
