/* route.c - route patterns and built-in route classification (see route.h). */
#include "route.h"

#include <string.h>

/* Length of the segment starting at s (up to '/' or end). */
static size_t
seg_len(const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);
	return slash ? (size_t)(slash - s) : n;
}

int
route_pattern_check(const char *text, const char **why)
{
	size_t n = strlen(text), i;

	if (n == 0 || text[0] != '/') {
		*why = "must start with '/'";
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#') {
			*why = "must not contain spaces, control characters, '?' or '#'";
			return -1;
		}
		if (c == '*' && i != n - 1) {
			*why = "'*' is only allowed at the end";
			return -1;
		}
		if (c == ':' && (text[i - 1] != '/' || i + 1 == n || text[i + 1] == '/')) {
			*why = "':' must start a named segment such as /users/:id";
			return -1;
		}
	}
	return 0;
}

int
route_match(const char *pattern, const char *path, size_t len)
{
	const char *p = pattern;
	size_t plen = strlen(pattern), i = 0, j = 0;

	if (len == 0 || path[0] != '/')
		return 0;
	while (i < plen) {
		/* Both sit on a '/' here. */
		if (j >= len || path[j] != '/' || p[i] != '/')
			return 0;
		i++; j++;
		size_t ps = seg_len(p + i, plen - i);
		size_t qs = seg_len(path + j, len - j);
		int last = i + ps == plen;

		if (last && ps > 0 && p[i + ps - 1] == '*') {
			/* Prefix of the remaining path; params are not allowed here. */
			size_t pre = ps - 1;
			if (len - j < pre || memcmp(p + i, path + j, pre) != 0)
				return 0;
			return 1;
		}
		if (ps > 0 && p[i] == ':') {
			if (qs == 0)
				return 0;
		} else if (ps != qs || memcmp(p + i, path + j, ps) != 0) {
			return 0;
		}
		i += ps;
		j += qs;
	}
	return j == len;
}

int
route_list_match(const struct route_list *list, const char *path, size_t len)
{
	size_t k;

	for (k = 0; k < list->count; k++)
		if (route_match(list->items[k].text, path, len))
			return 1;
	return 0;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int
route_path_is_clean(const char *path, size_t len)
{
	size_t i, start;

	if (len == 0 || path[0] != '/')
		return 0;
	for (i = 0; i < len; i++) {
		if (path[i] == '\0' || path[i] == '\\')
			return 0;
		if (path[i] == '%' && i + 2 < len) {
			int a = lower(path[i + 1]), b = lower(path[i + 2]);
			/* %2f '/', %5c '\\', %00 */
			if ((a == '2' && b == 'f') || (a == '5' && b == 'c') ||
			    (a == '0' && b == '0'))
				return 0;
		}
	}
	/* Dot segments, plain or encoded ("%2e"), also with ";params" after
	 * them: servlet containers read "/..;/" as "/../". */
	for (start = 1; start <= len; ) {
		size_t n = seg_len(path + start, len - start), k, dots = 0, other = 0;
		const char *semi = memchr(path + start, ';', n);
		size_t m = semi ? (size_t)(semi - (path + start)) : n;
		for (k = 0; k < m; ) {
			if (path[start + k] == '.') {
				dots++; k++;
			} else if (path[start + k] == '%' && k + 2 < m &&
			    path[start + k + 1] == '2' && lower(path[start + k + 2]) == 'e') {
				dots++; k += 3;
			} else {
				other++; k++;
			}
		}
		if (other == 0 && (dots == 1 || dots == 2))
			return 0;
		start += n + 1;
	}
	return 1;
}

static int
has_prefix(const char *path, size_t len, const char *pre, size_t *rest)
{
	size_t n = strlen(pre);

	if (len < n || memcmp(path, pre, n) != 0)
		return 0;
	*rest = n;
	return 1;
}

enum route_builtin
route_builtin(const char *path, size_t len, const char **arg, size_t *arg_len)
{
	size_t r;

	*arg = NULL;
	*arg_len = 0;
	if (has_prefix(path, len, "/api/mte-echo", &r)) {
		if (r == len)
			return ROUTE_ECHO;
		if (path[r] != '/' || memchr(path + r + 1, '/', len - r - 1) != NULL)
			return ROUTE_NONE;
		*arg = path + r + 1;
		*arg_len = len - r - 1;
		return ROUTE_ECHO;
	}
	if (len == 14 && memcmp(path, "/api/mte-relay", 14) == 0)
		return ROUTE_MTE_RELAY;
	if (len == 13 && memcmp(path, "/api/mte-pair", 13) == 0)
		return ROUTE_PAIR;
	if (len == 15 && memcmp(path, "/api/mte-errors", 15) == 0)
		return ROUTE_ERRORS;
	if (len == 8 && memcmp(path, "/metrics", 8) == 0)
		return ROUTE_METRICS;
	if (has_prefix(path, len, "/public/", &r)) {
		*arg = path + r;
		*arg_len = len - r;
		return ROUTE_PUBLIC;
	}
	return ROUTE_NONE;
}

const char *
route_class_label(enum route_class rc)
{
	static const char *const label[RC_COUNT] = {
		[RC_NONE] = "none", [RC_PREFLIGHT] = "preflight", [RC_ECHO] = "echo",
		[RC_MTE_RELAY] = "relay", [RC_PAIR] = "pair", [RC_ERRORS] = "errors",
		[RC_PUBLIC] = "public", [RC_METRICS] = "metrics", [RC_PROTECTED] = "protected",
		[RC_PASS_THROUGH] = "pass-through", [RC_UNROUTED] = "unrouted",
		[RC_OUTBOUND] = "outbound",
	};

	return (unsigned)rc < RC_COUNT ? label[rc] : "none";
}
