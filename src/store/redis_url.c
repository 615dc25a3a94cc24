/*
 * redis_url.c - the REDIS_URL grammar (see store.h): the one parser of it,
 * used by the Redis backend at store_init() and by config validation, so
 * that --check-config and start-up agree.
 *
 * The steps run in a fixed order and the first problem found is the one
 * reported: scheme, host, port, host length, database, then the user info
 * (the only part that may hold a secret, so its messages never quote it).
 */
#include "store/store.h"
#include "store/backend.h"
#include "crypto/wipe.h"
#include "decimal.h"
#include "percent.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* redis[s]://[userinfo@]authority[/db]: pointers into the URL. */
struct url_parts {
	const char *userinfo;           /* after "://"; NULL when there is no '@' */
	const char *at;                 /* the last '@', or NULL */
	const char *host;               /* the authority: [host, auth_end) */
	const char *auth_end;           /* '/' or the end of the URL */
	const char *host_end;           /* ':' before the port, or auth_end */
	size_t      host_text_len;      /* the host as written (brackets included) */
};

int
store_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* s[0..n) as a number <= max: 1 to 10 digits (leading zeros included). */
static int
url_number(const char *s, size_t n, uint64_t max, uint64_t *v)
{
	return n > 10 ? -1 : decimal_parse(s, n, max, v);
}

/* The scheme, then the cut at the last '@' (an unencoded '@' or '/' in a
 * password still works) and at the first '/' after it. */
static int
url_split(const char *url, struct store_redis_url *out, struct url_parts *u,
          char *err, size_t errlen)
{
	const char *p;

	if (strncasecmp(url, "redis://", 8) == 0) {
		p = url + 8;
	} else if (strncasecmp(url, "rediss://", 9) == 0) {
		p = url + 9;
		out->tls = 1;
	} else {
		return store_fail(err, errlen, "the scheme must be redis:// or rediss:// (TLS)");
	}
	u->at = strrchr(p, '@');
	u->userinfo = u->at != NULL ? p : NULL;
	u->host = u->at != NULL ? u->at + 1 : p;
	u->auth_end = u->host + strcspn(u->host, "/");
	return 0;
}

/* "[IPv6]" at u->host, without the brackets into out->host. */
static int
url_ipv6_host(struct url_parts *u, struct store_redis_url *out, char *err, size_t errlen)
{
	struct in6_addr a6;
	const char *rb = memchr(u->host, ']', (size_t)(u->auth_end - u->host));
	size_t n;

	if (rb == NULL)
		return store_fail(err, errlen, "an IPv6 address needs a closing ']'");
	n = (size_t)(rb - u->host - 1);
	/* No IPv6 text is INET6_ADDRSTRLEN bytes or longer. */
	if (n == 0 || n >= INET6_ADDRSTRLEN)
		return store_fail(err, errlen, "the IPv6 address is not valid");
	memcpy(out->host, u->host + 1, n);
	out->host[n] = '\0';
	if (inet_pton(AF_INET6, out->host, &a6) != 1)
		return store_fail(err, errlen, "the IPv6 address is not valid");
	u->host_end = rb + 1;
	u->host_text_len = n + 2;
	if (u->host_end < u->auth_end && *u->host_end != ':')
		return store_fail(err, errlen, "unexpected characters after the host");
	return 0;
}

/* A host name or IPv4 address at u->host, up to ':' or the authority's
 * end; out->host is written by url_port_and_length once its length is
 * known to fit. */
static int
url_name_host(struct url_parts *u, char *err, size_t errlen)
{
	const char *q;

	for (q = u->host; q < u->auth_end && *q != ':'; q++) {
		unsigned char c = (unsigned char)*q;
		if (!isalnum(c) && c != '-' && c != '.' && c != '_' && c != '~')
			return store_fail(err, errlen,
			    "the host may hold only letters, digits, '.', '-', '_' and '~'");
	}
	if (q == u->host)
		return store_fail(err, errlen, "it has no host");
	u->host_end = q;
	u->host_text_len = (size_t)(q - u->host);
	return 0;
}

/*
 * The optional ":port", then the length limit.  The limit counts the host
 * as written together with ":port" when one is given (decimal, without
 * leading zeros): a name of STORE_REDIS_HOST_MAX bytes fits only without a
 * port.
 */
static int
url_port_and_length(struct url_parts *u, struct store_redis_url *out, char *err, size_t errlen)
{
	size_t shown = u->host_text_len;
	uint64_t v;

	if (u->host_end < u->auth_end) {
		const char *port = u->host_end + 1;
		if (url_number(port, (size_t)(u->auth_end - port), 65535, &v) != 0 || v == 0)
			return store_fail(err, errlen, "the port must be a number from 1 to 65535");
		out->port = (uint16_t)v;
		shown += (size_t)snprintf(NULL, 0, ":%" PRIu64, v);
	}
	if (shown > STORE_REDIS_HOST_MAX)
		return store_fail(err, errlen, "the host name is too long");
	if (*u->host != '[') {
		memcpy(out->host, u->host, u->host_text_len);
		out->host[u->host_text_len] = '\0';
	}
	return 0;
}

/* host[:port], ending at the first '/' after the user info. */
static int
url_authority(struct url_parts *u, struct store_redis_url *out, char *err, size_t errlen)
{
	int rc;

	if (u->host == u->auth_end)
		return store_fail(err, errlen, "it has no host");
	rc = *u->host == '[' ? url_ipv6_host(u, out, err, errlen) : url_name_host(u, err, errlen);
	return rc != 0 ? rc : url_port_and_length(u, out, err, errlen);
}

/* "/db" (a lone '/' or none: database 0). */
static int
url_db(const struct url_parts *u, struct store_redis_url *out, char *err, size_t errlen)
{
	const char *db = u->auth_end + 1;
	uint64_t v;

	if (*u->auth_end != '/' || *db == '\0')
		return 0;
	if (url_number(db, strlen(db), STORE_REDIS_DB_MAX, &v) != 0)
		return store_fail(err, errlen, "the path may only be a database number, like /0");
	out->db = (unsigned)v;
	return 0;
}

/* Percent-decodes [s, e) into out (cap bytes and a NUL), refusing %00.
 * 0 or -1. */
static int
decode_part(char *out, size_t cap, const char *s, const char *e)
{
	long n = percent_decode(out, cap, s, (size_t)(e - s), 1);

	if (n < 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* "[user]:password@" (Redis AUTH takes a password alone or a user with a
 * password).  The messages never hold the password. */
static int
url_userinfo(const struct url_parts *u, struct store_redis_url *out, char *err, size_t errlen)
{
	static const char needs_password[] = "a user name needs a password (redis://user:password@host)";
	const char *colon, *q;

	if (u->userinfo == NULL)
		return 0;
	colon = memchr(u->userinfo, ':', (size_t)(u->at - u->userinfo));
	if (colon == NULL)
		return store_fail(err, errlen, "%s", needs_password);
	for (q = u->userinfo; q < u->at; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q == 0x7f)
			return store_fail(err, errlen, "contains a control character");
	if (decode_part(out->user, STORE_REDIS_USER_MAX, u->userinfo, colon) != 0)
		return store_fail(err, errlen, "bad user name (percent-encoding, %%00, or longer than %d bytes)",
		    STORE_REDIS_USER_MAX);
	if (decode_part(out->pass, STORE_REDIS_PASS_MAX, colon + 1, u->at) != 0)
		return store_fail(err, errlen, "bad password (percent-encoding, %%00, or longer than %d bytes)",
		    STORE_REDIS_PASS_MAX);
	if (out->pass[0] == '\0' && out->user[0] != '\0')
		return store_fail(err, errlen, "%s", needs_password);
	return 0;
}

int
store_redis_url_parse(const char *url, struct store_redis_url *out, char *err, size_t errlen)
{
	struct url_parts u = { NULL };
	size_t len;

	memset(out, 0, sizeof *out);
	out->port = 6379;
	if (url == NULL || (len = strnlen(url, STORE_URL_MAX + 1)) == 0)
		return store_fail(err, errlen, "empty");
	if (len > STORE_URL_MAX) {
		store_fail(err, errlen, "longer than %d bytes", STORE_URL_MAX);
		return STORE_URL_TOO_LONG;
	}
	if (url_split(url, out, &u, err, errlen) != 0
	    || url_authority(&u, out, err, errlen) != 0
	    || url_db(&u, out, err, errlen) != 0
	    || url_userinfo(&u, out, err, errlen) != 0) {
		crypto_wipe(out, sizeof *out);
		return STORE_URL_MALFORMED;
	}
	return STORE_URL_OK;
}
