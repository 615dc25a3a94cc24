/*
 * log.h - JSON-lines logging on stdout.
 *
 * One event is one line, written with a single write(2) so lines from
 * several worker processes never interleave.  Never pass secrets, keys,
 * tokens, decrypted headers or decrypted bodies to these functions.
 */
#ifndef MTE_LOG_H
#define MTE_LOG_H

#include <stddef.h>
#include "limits.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* One extra field of an event: a string (str != NULL) or an integer. */
struct log_kv {
	const char *key;
	const char *str;
	long long   num;
};
static inline struct log_kv
log_kv_str(const char *k, const char *v)
{
	struct log_kv kv = { k, v != NULL ? v : "", 0 };
	return kv;
}
#define LOG_S(k, v) log_kv_str((k), (v))
#define LOG_I(k, v) ((struct log_kv){ (k), NULL, (long long)(v) })

/* Sets the minimum level: LOG_DEBUG when debug is non-zero, else LOG_INFO. */
void log_init(int debug);
/* Non-zero when DEBUG events are written. */
int  log_debug_enabled(void);
/* Writes {"ts":..,"level":..,"msg":..,<kv>...}; strings are JSON-escaped
 * and cut at LOG_LINE_MAX bytes.  Never fails visibly. */
void log_event(enum log_level lvl, const char *msg, const struct log_kv *kv, size_t n);
/* printf-style message with no extra fields. */
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define LOG_EVENT(lvl, msg, ...) do { \
	const struct log_kv log_kv_[] = { __VA_ARGS__ }; \
	log_event((lvl), (msg), log_kv_, sizeof log_kv_ / sizeof log_kv_[0]); \
} while (0)


#endif
