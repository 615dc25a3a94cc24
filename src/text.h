/*
 * text.h - text built into a caller's buffer, for the formatters of the
 * hot path (the response head, the AADs, the x-mte-relay field): appends
 * that never write past cap, and one flag that says something did not fit,
 * checked once at the end instead of after every piece.
 */
#ifndef MTE_TEXT_H
#define MTE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct text_out {
	char  *buf;
	size_t cap, len;
	bool   full;        /* an append did not fit: the text is not usable */
};

/* Appends s[0..n) when it fits in buf[len..cap); else sets full. */
static inline void
text_put(struct text_out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static inline void
text_str(struct text_out *o, const char *s)
{
	text_put(o, s, strlen(s));
}

#endif
