/* protocol.c - syntax of the protocol's text fields (see protocol.h). */
#include "protocol.h"

#include <stdio.h>

#include <string.h>

#include "clientid.h"
#include "decimal.h"
#include "hex.h"
#include "text.h"

int
protocol_pair_id_ok(const char *p, size_t n)
{
	size_t i;

	if (n < PAIR_ID_MIN || n > PAIR_ID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
protocol_personalization_ok(const char *p, size_t n)
{
	size_t i;

	if (n > PERSONALIZATION_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

int
protocol_parse_seq(const char *p, size_t n, uint64_t *seq)
{
	/* canonical: no leading zero, so 0 itself is refused too */
	if (n == 0 || p[0] == '0')
		return -1;
	return decimal_parse(p, n, UINT64_MAX, seq);
}

int
protocol_client_id_ok(const char *p, size_t n)
{
	return n == CLIENT_ID_HEX_LEN && hex_is_lower(p, n);
}

/* Flags: u, b, a and s, each at most once, in this order (a and s:
 * PROTOCOL.md sections 11 and 13). */
static int
flags_ok(const char *f, size_t n)
{
	static const char order[] = "ubas";
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		while (k < 4 && order[k] != f[i])
			k++;
		if (k == 4)
			return 0;
		k++;
	}
	return 1;
}

int
protocol_parse_relay_header(const char *v, size_t len, struct relay_header *out)
{
	const char *part[4];
	size_t plen[4], i, k = 0, start = 0;

	if (len > RELAY_HEADER_MAX)
		return -1;
	for (i = 0; i <= len; i++) {
		if (i == len || v[i] == ',') {
			if (k == 4)
				return -1;
			part[k] = v + start;
			plen[k++] = i - start;
			start = i + 1;
		}
	}
	if (k != 4 || !clientid_syntax_ok(part[0], plen[0]) ||
	    !protocol_pair_id_ok(part[1], plen[1]) ||
	    protocol_parse_seq(part[2], plen[2], &out->seq) != 0)
		return -1;
	if (!flags_ok(part[3], plen[3]))
		return -1;
	out->signed_id = part[0];
	out->pair_id = part[1];
	out->pair_id_len = plen[1];
	out->seq_text = part[2];
	out->seq_len = plen[2];
	out->flags = part[3];
	out->flags_len = plen[3];
	out->flag_u = memchr(part[3], 'u', plen[3]) != NULL;
	out->flag_b = memchr(part[3], 'b', plen[3]) != NULL;
	out->flag_a = memchr(part[3], 'a', plen[3]) != NULL;
	out->flag_s = memchr(part[3], 's', plen[3]) != NULL;
	return 0;
}

/* The length written (NUL added), or -1 when it did not fit. */
static int
done(struct text_out *t)
{
	if (t->full || t->len >= t->cap || t->len > (size_t)INT32_MAX)
		return -1;
	t->buf[t->len] = '\0';
	return (int)t->len;
}

/* "mte-relay/1 " dir " " cid " " pid " " seq " " flags " " */
static void
aad_common(struct text_out *t, const char *dir, const char *cid, const char *pid,
    const char *seq, const char *flags)
{
	text_put(t, "mte-relay/1 ", 12);
	text_str(t, dir);
	text_put(t, " ", 1);
	text_str(t, cid);
	text_put(t, " ", 1);
	text_str(t, pid);
	text_put(t, " ", 1);
	text_str(t, seq);
	text_put(t, " ", 1);
	text_str(t, flags);
	text_put(t, " ", 1);
}

int
protocol_aad_request(char *out, size_t cap, const char *cid, const char *pid, const char *seq,
    const char *flags, const char *method, const char *target, size_t target_len)
{
	struct text_out t = { out, cap, 0, false };

	aad_common(&t, "req", cid, pid, seq, flags);
	text_str(&t, method);
	text_put(&t, " ", 1);
	/* as far as a NUL, as the text it is */
	if (target_len > 0)
		text_put(&t, target, strnlen(target, target_len));
	return done(&t);
}

int
protocol_aad_response(char *out, size_t cap, const char *cid, const char *pid, const char *seq,
    const char *flags, int status)
{
	struct text_out t = { out, cap, 0, false };
	char digits[3];

	if (status < 0 || status > 999)
		return -1;
	digits[0] = (char)('0' + status / 100);
	digits[1] = (char)('0' + status / 10 % 10);
	digits[2] = (char)('0' + status % 10);
	aad_common(&t, "res", cid, pid, seq, flags);
	text_put(&t, digits, 3);
	return done(&t);
}

int
protocol_format_relay_header(char *out, size_t cap, const char *signed_id, const char *pid,
    const char *seq, const char *flags)
{
	struct text_out t = { out, cap, 0, false };

	text_str(&t, signed_id);
	text_put(&t, ",", 1);
	text_str(&t, pid);
	text_put(&t, ",", 1);
	text_str(&t, seq);
	text_put(&t, ",", 1);
	text_str(&t, flags);
	return done(&t);
}
