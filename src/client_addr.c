/* client_addr.c - the client address behind trusted proxies (see client_addr.h). */
#include "client_addr.h"

#include <arpa/inet.h>
#include <string.h>

#include "decimal.h"
#include "hex.h"

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int
ip_parse(const char *s, size_t n, struct ip_addr *out)
{
	char text[CLIENT_ADDR_MAX];

	/* inet_pton wants a NUL-terminated string; longer is no address. */
	if (n == 0 || n >= sizeof text || memchr(s, '\0', n) != NULL)
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, text, out->bytes) == 1) {
		out->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->bytes) != 1)
		return -1;
	out->family = 6;
	if (memcmp(out->bytes, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
		memmove(out->bytes, out->bytes + 12, 4);
		memset(out->bytes + 4, 0, 12);
		out->family = 4;
	}
	return 0;
}

static unsigned
family_bits(const struct ip_addr *a)
{
	return a->family == 4 ? 32 : 128;
}

/* 1 when a and b agree on their first `bits` bits. */
static int
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int
cidr_parse(const char *s, size_t n, struct cidr *out, const char **why)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash != NULL ? (size_t)(slash - s) : n;
	unsigned bits = 0;

	if (ip_parse(s, alen, &out->net) != 0) {
		*why = "each entry must be an IPv4 or IPv6 address or CIDR block, like 10.0.0.0/8";
		return -1;
	}
	if (slash == NULL) {
		out->bits = (uint8_t)family_bits(&out->net);
		return 0;
	}
	if (slash + 1 == s + n || n - alen - 1 > 3) {
		*why = "a prefix length is 0 to 32 (IPv4) or 0 to 128 (IPv6)";
		return -1;
	}
	for (const char *p = slash + 1; p < s + n; p++) {
		if (*p < '0' || *p > '9') {
			*why = "a prefix length is 0 to 32 (IPv4) or 0 to 128 (IPv6)";
			return -1;
		}
		bits = bits * 10 + (unsigned)(*p - '0');
	}
	/* An IPv4-mapped block "::ffff:a.b.c.d/n" counts its bits from the
	 * IPv6 address: n - 96 of the IPv4 one. */
	if (bits > (memchr(s, ':', alen) != NULL ? 128u : 32u)) {
		*why = "a prefix length is 0 to 32 (IPv4) or 0 to 128 (IPv6)";
		return -1;
	}
	if (out->net.family == 4 && memchr(s, ':', alen) != NULL) {
		if (bits < 96) {
			*why = "an IPv4-mapped block needs a prefix of 96 to 128";
			return -1;
		}
		bits -= 96;
	}
	/* Host bits set: the block would mean more than it says. */
	for (unsigned b = bits; b < family_bits(&out->net); b++) {
		if (out->net.bytes[b / 8] & (0x80 >> (b % 8))) {
			*why = "host bits are set after the prefix (write the network address, like 10.0.0.0/8)";
			return -1;
		}
	}
	out->bits = (uint8_t)bits;
	return 0;
}

int
cidr_set_contains(const struct cidr_set *set, const struct ip_addr *a)
{
	for (size_t i = 0; i < set->count; i++)
		if (set->items[i].net.family == a->family &&
		    prefix_equal(set->items[i].net.bytes, a->bytes, set->items[i].bits))
			return 1;
	return 0;
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* One X-Forwarded-For entry (whitespace trimmed by the caller) as an
 * address: "a.b.c.d", "a.b.c.d:port", "v6", "[v6]" or "[v6]:port". */
static int
entry_parse(const char *s, size_t n, struct ip_addr *out)
{
	const char *colon;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (close == NULL)
			return -1;
		if (close + 1 != s + n && close[1] != ':')
			return -1;
		return ip_parse(s + 1, (size_t)(close - s - 1), out) == 0 && out->family == 6 ? 0 : -1;
	}
	if (ip_parse(s, n, out) == 0)
		return 0;
	/* "a.b.c.d:port": exactly one colon, an IPv4 address before it */
	colon = memchr(s, ':', n);
	if (colon == NULL || memchr(colon + 1, ':', (size_t)(s + n - colon - 1)) != NULL)
		return -1;
	for (const char *p = colon + 1; p < s + n; p++)
		if (*p < '0' || *p > '9')
			return -1;
	return ip_parse(s, (size_t)(colon - s), out) == 0 && out->family == 4 ? 0 : -1;
}

/* IPv4 by hand: glibc's inet_ntop goes through sprintf, about 1,700
 * instructions of every request's 100,000.  IPv6 keeps inet_ntop (RFC 5952's
 * zero compression). */
static void
addr_text(const struct ip_addr *a, char out[CLIENT_ADDR_MAX])
{
	if (a->family == 4) {
		char digits[DECIMAL_U64_MAX];
		size_t n = 0;

		for (int i = 0; i < 4; i++) {
			size_t len = decimal_format(digits, a->bytes[i]);
			if (i > 0)
				out[n++] = '.';
			memcpy(out + n, digits, len);
			n += len;
		}
		out[n] = '\0';
		return;
	}
	if (inet_ntop(AF_INET6, a->bytes, out, CLIENT_ADDR_MAX) == NULL)
		out[0] = '\0';
}

/* A peer that is not an address (never the case for TCP peers): as is. */
static void
copy_cut(char out[CLIENT_ADDR_MAX], const char *s)
{
	size_t len = strnlen(s, CLIENT_ADDR_MAX - 1);

	memcpy(out, s, len);
	out[len] = '\0';
}

void
client_addr_resolve(const struct cidr_set *trusted, const char *peer,
    const struct http_slice *xff, size_t n, char out[CLIENT_ADDR_MAX])
{
	struct ip_addr hop, entry;
	size_t looked = 0;

	if (ip_parse(peer, strlen(peer), &hop) != 0) {
		copy_cut(out, peer);
		return;
	}
	if (trusted->count == 0 || !cidr_set_contains(trusted, &hop))
		goto done;
	/* Right to left over the lines, and over each line's entries. */
	for (size_t line = n; line-- > 0;) {
		const char *start = xff[line].ptr, *end;
		if (start == NULL)
			continue;
		end = start + xff[line].len;
		while (end > start) {
			const char *comma = end, *a, *b;
			while (comma > start && comma[-1] != ',')
				comma--;
			a = comma;
			b = end;
			end = comma > start ? comma - 1 : start;
			while (a < b && is_ows(*a))
				a++;
			while (b > a && is_ows(b[-1]))
				b--;
			if (a == b)
				continue;       /* an empty list element ("a, , b") */
			if (entry_parse(a, (size_t)(b - a), &entry) != 0)
				goto done;      /* not an address: the proxy that appended it */
			hop = entry;
			if (!cidr_set_contains(trusted, &hop) || ++looked == XFF_ENTRIES_MAX)
				goto done;
		}
	}
done:
	addr_text(&hop, out);
	if (out[0] == '\0')
		copy_cut(out, peer);
}

void
client_addr_key(const char *addr, char out[CLIENT_ADDR_KEY_MAX])
{
	struct ip_addr a;

	if (ip_parse(addr, strlen(addr), &a) != 0) {
		uint8_t head[8] = { 0 };
		memcpy(head, addr, strnlen(addr, sizeof head));
		out[0] = 'x';
		out[1] = ':';
		hex_encode(out + 2, head, sizeof head);
		out[18] = '\0';
		return;
	}
	out[0] = a.family == 4 ? '4' : '6';
	out[1] = ':';
	hex_encode(out + 2, a.bytes, a.family == 4 ? 4 : 8);
	out[2 + (a.family == 4 ? 8 : 16)] = '\0';
}
