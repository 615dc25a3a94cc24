/*
 * fuzz_addr.c - libFuzzer target for the client address (src/client_addr.c):
 * TRUSTED_PROXIES blocks and the X-Forwarded-For walk.  Input: a CIDR list
 * (comma-separated) up to the first '\n', then X-Forwarded-For field lines
 * separated by '\n'.  Invariants: a parsed block has no host bits and a
 * prefix within its family; the address found is the peer, or an address
 * that parses; with no trusted block it is always the peer; its key is
 * well-formed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client_addr.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_block(const struct cidr *c)
{
	unsigned max = c->net.family == 4 ? 32 : 128;

	CHECK(c->net.family == 4 || c->net.family == 6);
	CHECK(c->bits <= max);
	for (unsigned b = c->bits; b < max; b++)
		CHECK((c->net.bytes[b / 8] & (0x80 >> (b % 8))) == 0);
}

static void
check_key(const char *addr)
{
	char key[CLIENT_ADDR_KEY_MAX];
	size_t n;

	client_addr_key(addr, key);
	n = strlen(key);
	CHECK(n == 10 || n == 18);
	CHECK(key[1] == ':' && (key[0] == '4' || key[0] == '6' || key[0] == 'x'));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const peers[] = { "10.0.0.5", "2001:db8::5", "203.0.113.9" };
	const char *in = (const char *)data, *end = in + size, *nl, *p;
	struct cidr_set set = { .count = 0 };
	struct http_slice xff[16];
	char out[CLIENT_ADDR_MAX], none_out[CLIENT_ADDR_MAX];
	struct cidr_set none = { .count = 0 };
	struct ip_addr a;
	size_t n = 0;

	nl = memchr(in, '\n', size);
	if (nl == NULL)
		nl = end;
	for (p = in; p < nl && set.count < TRUSTED_PROXIES_MAX;) {
		const char *comma = memchr(p, ',', (size_t)(nl - p)), *why = NULL;
		const char *e = comma != NULL ? comma : nl;
		if (cidr_parse(p, (size_t)(e - p), &set.items[set.count], &why) == 0)
			check_block(&set.items[set.count++]);
		else
			CHECK(why != NULL);
		p = comma != NULL ? comma + 1 : nl;
	}
	for (p = nl < end ? nl + 1 : end; p < end && n < 16;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		xff[n++] = (struct http_slice){ p, (size_t)(e - p) };
		p = e + 1;
	}
	for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++) {
		client_addr_resolve(&set, peers[i], xff, n, out);
		CHECK(memchr(out, '\0', sizeof out) != NULL);
		CHECK(ip_parse(out, strlen(out), &a) == 0);
		check_key(out);
		client_addr_resolve(&none, peers[i], xff, n, none_out);
		CHECK(strcmp(none_out, peers[i]) == 0);
		/* an untrusted peer is its own client address */
		if (ip_parse(peers[i], strlen(peers[i]), &a) == 0 && !cidr_set_contains(&set, &a))
			CHECK(strcmp(out, peers[i]) == 0);
	}
	if (size < CLIENT_ADDR_MAX && ip_parse(in, size, &a) == 0) {
		char text[CLIENT_ADDR_MAX];
		memcpy(text, in, size);
		text[size] = '\0';
		check_key(text);
	}
	return 0;
}
