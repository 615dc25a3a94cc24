/* test_client_addr.c - client addresses behind trusted proxies, CIDR blocks,
 * and the per-address limit's key. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "client_addr.h"

static struct cidr_set
set_of(const char *const *blocks, size_t n)
{
	struct cidr_set set = { .count = 0 };
	const char *why = NULL;

	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(cidr_parse(blocks[i], strlen(blocks[i]), &set.items[set.count], &why), 0,
		    "%s: %s", blocks[i], why ? why : "");
		set.count++;
	}
	return set;
}

/* The client address for peer and these X-Forwarded-For lines. */
static const char *
resolve(const struct cidr_set *set, const char *peer, const char *const *lines, size_t n)
{
	static char out[CLIENT_ADDR_MAX];
	struct http_slice xff[8];

	cr_assert(n <= 8);
	for (size_t i = 0; i < n; i++)
		xff[i] = (struct http_slice){ lines[i], strlen(lines[i]) };
	client_addr_resolve(set, peer, xff, n, out);
	return out;
}

Test(ip, parse_forms)
{
	struct ip_addr a;

	cr_assert_eq(ip_parse("10.1.2.3", 8, &a), 0);
	cr_assert_eq(a.family, 4);
	cr_assert_eq(a.bytes[0], 10);
	cr_assert_eq(ip_parse("::ffff:10.1.2.3", 15, &a), 0);
	cr_assert_eq(a.family, 4, "v4-mapped is IPv4");
	cr_assert_eq(a.bytes[3], 3);
	cr_assert_eq(ip_parse("2001:db8::1", 11, &a), 0);
	cr_assert_eq(a.family, 6);
	cr_assert_eq(ip_parse("10.1.2.3 ", 9, &a), -1);
	cr_assert_eq(ip_parse("", 0, &a), -1);
	cr_assert_eq(ip_parse("10.1.2", 6, &a), -1);
	cr_assert_eq(ip_parse("10.1.2.3\0x", 10, &a), -1, "an embedded NUL");
	cr_assert_eq(ip_parse("example.com", 11, &a), -1);
	{
		char longest[CLIENT_ADDR_MAX + 1];
		memset(longest, '1', sizeof longest);
		cr_assert_eq(ip_parse(longest, sizeof longest, &a), -1);
	}
}

Test(cidr, parse_and_contains)
{
	static const char *const blocks[] = { "10.0.0.0/8", "192.168.1.7", "2001:db8::/32",
	                                      "::ffff:172.16.0.0/108", "0.0.0.0/0" };
	struct cidr_set one;
	struct ip_addr a;
	struct cidr c;
	const char *why = NULL;

	one = set_of(blocks, 1);
	cr_assert_eq(ip_parse("10.200.3.4", 10, &a), 0);
	cr_assert_eq(cidr_set_contains(&one, &a), 1);
	cr_assert_eq(ip_parse("11.0.0.1", 8, &a), 0);
	cr_assert_eq(cidr_set_contains(&one, &a), 0);

	one = set_of(blocks + 1, 1);
	cr_assert_eq(one.items[0].bits, 32, "a bare address is one host");
	cr_assert_eq(ip_parse("192.168.1.8", 11, &a), 0);
	cr_assert_eq(cidr_set_contains(&one, &a), 0);

	one = set_of(blocks + 2, 1);
	cr_assert_eq(ip_parse("2001:db8:ffff::9", 16, &a), 0);
	cr_assert_eq(cidr_set_contains(&one, &a), 1);
	cr_assert_eq(ip_parse("2001:db9::9", 11, &a), 0);
	cr_assert_eq(cidr_set_contains(&one, &a), 0);
	cr_assert_eq(ip_parse("10.0.0.1", 8, &a), 0);
	cr_assert_eq(cidr_set_contains(&one, &a), 0, "families never match across");

	one = set_of(blocks + 3, 1);
	cr_assert_eq(one.items[0].net.family, 4);
	cr_assert_eq(one.items[0].bits, 12, "/108 of a v4-mapped block is /12 of IPv4");
	cr_assert_eq(ip_parse("172.31.255.255", 14, &a), 0);
	cr_assert_eq(cidr_set_contains(&one, &a), 1);

	one = set_of(blocks + 4, 1);
	cr_assert_eq(cidr_set_contains(&one, &a), 1, "/0 holds every IPv4 address");

	cr_assert_eq(cidr_parse("10.0.0.1/8", 10, &c, &why), -1, "host bits set");
	cr_assert_not_null(strstr(why, "host bits"));
	cr_assert_eq(cidr_parse("10.0.0.0/33", 11, &c, &why), -1);
	cr_assert_eq(cidr_parse("10.0.0.0/32", 11, &c, &why), 0, "the longest IPv4 prefix");
	cr_assert_eq(cidr_parse("::/128", 6, &c, &why), 0, "the longest IPv6 prefix");
	cr_assert_eq(cidr_parse("::/129", 6, &c, &why), -1);
	cr_assert_eq(cidr_parse("10.0.0.0/", 9, &c, &why), -1);
	cr_assert_eq(cidr_parse("10.0.0.0/x", 10, &c, &why), -1);
	cr_assert_eq(cidr_parse("10.0.0.0/0008", 13, &c, &why), -1);
	cr_assert_eq(cidr_parse("::ffff:10.0.0.0/95", 18, &c, &why), -1);
	cr_assert_eq(cidr_parse("lb.internal", 11, &c, &why), -1);
}

Test(client_addr, untrusted_peer_is_the_client_whatever_it_sends)
{
	static const char *const blocks[] = { "10.0.0.0/8" };
	static const char *const spoof[] = { "1.2.3.4" };
	struct cidr_set none = { .count = 0 }, lb = set_of(blocks, 1);

	cr_assert_str_eq(resolve(&none, "203.0.113.9", spoof, 1), "203.0.113.9");
	cr_assert_str_eq(resolve(&lb, "203.0.113.9", spoof, 1), "203.0.113.9",
	    "X-Forwarded-For from an untrusted peer changes nothing");
	cr_assert_str_eq(resolve(&lb, "::ffff:203.0.113.9", spoof, 1), "203.0.113.9");
}

Test(client_addr, behind_trusted_proxies_the_right_most_untrusted_entry)
{
	static const char *const blocks[] = { "10.0.0.0/8", "2001:db8::/32" };
	struct cidr_set lb = set_of(blocks, 2);

	/* the client's own claim (left) is ignored: the LB appended the real one */
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", (const char *const[]){ "6.6.6.6, 198.51.100.7" }, 1),
	    "198.51.100.7");
	/* two trusted hops */
	cr_assert_str_eq(resolve(&lb, "10.0.0.5",
	    (const char *const[]){ "6.6.6.6, 198.51.100.7, 10.9.9.9" }, 1), "198.51.100.7");
	/* several field lines: the last line is the right-most */
	cr_assert_str_eq(resolve(&lb, "10.0.0.5",
	    (const char *const[]){ "198.51.100.7", "10.1.1.1" }, 2), "198.51.100.7");
	cr_assert_str_eq(resolve(&lb, "10.0.0.5",
	    (const char *const[]){ "198.51.100.7", "203.0.113.1" }, 2), "203.0.113.1");
	/* ports, brackets, IPv6 and v4-mapped entries, spaces, empty elements */
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", (const char *const[]){ "198.51.100.7:5555" }, 1),
	    "198.51.100.7");
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", (const char *const[]){ "[2001:db9::1]:443" }, 1),
	    "2001:db9::1");
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", (const char *const[]){ " 2001:DB9::1 ,, " }, 1),
	    "2001:db9::1");
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", (const char *const[]){ "::ffff:198.51.100.7" }, 1),
	    "198.51.100.7");
	/* no X-Forwarded-For, or only trusted entries: the left-most trusted one */
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", NULL, 0), "10.0.0.5");
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", (const char *const[]){ "10.3.3.3, 10.4.4.4" }, 1),
	    "10.3.3.3");
	/* an entry that is no address: the proxy that appended it */
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", (const char *const[]){ "unknown" }, 1), "10.0.0.5");
	cr_assert_str_eq(resolve(&lb, "10.0.0.5",
	    (const char *const[]){ "198.51.100.7, garbage, 10.4.4.4" }, 1), "10.4.4.4");
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", (const char *const[]){ "1.2.3.4:x" }, 1), "10.0.0.5");
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", (const char *const[]){ "[1.2.3.4]" }, 1), "10.0.0.5");
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", (const char *const[]){ "[2001:db9::1" }, 1), "10.0.0.5");
	cr_assert_str_eq(resolve(&lb, "10.0.0.5", (const char *const[]){ "[2001:db9::1]x" }, 1), "10.0.0.5");
}

/* XFF_ENTRIES_MAX entries are looked at: a client behind exactly that many
 * trusted entries is found; one more and the left-most looked at is used. */
Test(client_addr, entries_looked_at_are_bounded)
{
	static const char *const blocks[] = { "10.0.0.0/8" };
	struct cidr_set lb = set_of(blocks, 1);
	char line[4096];
	size_t len;

	len = (size_t)snprintf(line, sizeof line, "198.51.100.7");
	for (int i = 0; i < XFF_ENTRIES_MAX - 1; i++)
		len += (size_t)snprintf(line + len, sizeof line - len, ", 10.0.0.%d", i + 1);
	cr_assert_str_eq(resolve(&lb, "10.0.0.200", (const char *const[]){ line }, 1), "198.51.100.7",
	    "at the limit");
	len = (size_t)snprintf(line, sizeof line, "198.51.100.7");
	for (int i = 0; i < XFF_ENTRIES_MAX; i++)
		len += (size_t)snprintf(line + len, sizeof line - len, ", 10.0.0.%d", i + 1);
	cr_assert_str_eq(resolve(&lb, "10.0.0.200", (const char *const[]){ line }, 1), "10.0.0.1",
	    "limit + 1: the left-most entry looked at");
}

Test(client_addr, key_per_host_and_per_v6_64)
{
	char key[CLIENT_ADDR_KEY_MAX];

	client_addr_key("127.0.0.1", key);
	cr_assert_str_eq(key, "4:7f000001");
	client_addr_key("2001:db8:1:2:aaaa::1", key);
	cr_assert_str_eq(key, "6:20010db800010002");
	client_addr_key("2001:db8:1:2:bbbb::9", key);
	cr_assert_str_eq(key, "6:20010db800010002", "one /64, one key");
	client_addr_key("not-an-address", key);
	cr_assert_eq(strncmp(key, "x:", 2), 0);
	cr_assert_eq(strlen(key), 18u);
}

/* IPv4 text is written by hand (not inet_ntop): the same text as inet_ntop
 * for every octet value in every position and for random addresses. */
Test(client_addr, ipv4_text_is_inet_ntops)
{
	struct cidr_set none = { .count = 0 };
	char peer[7 + CLIENT_ADDR_MAX], want[CLIENT_ADDR_MAX];
	uint32_t x = 2463534242u;

	for (unsigned i = 0; i < 4 * 256 + 100000; i++) {
		uint8_t b[4] = { 10, 20, 30, 40 };
		if (i < 4 * 256) {
			b[i / 256] = (uint8_t)(i % 256);
		} else {
			x ^= x << 13; x ^= x >> 17; x ^= x << 5;
			memcpy(b, &x, 4);
		}
		cr_assert_not_null(inet_ntop(AF_INET, b, want, sizeof want));
		/* the text out is formatted from the parsed bytes in both forms;
		 * the v4-mapped one also covers the unmapping */
		cr_assert_str_eq(resolve(&none, want, NULL, 0), want, "%s", want);
		snprintf(peer, sizeof peer, "::ffff:%s", want);
		cr_assert_str_eq(resolve(&none, peer, NULL, 0), want, "%s", peer);
	}
}
