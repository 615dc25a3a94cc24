/* test_route.c - route patterns, built-in classification, path cleanliness. */
#include <criterion/criterion.h>
#include <string.h>

#include "route.h"

static const struct { const char *pat, *path; int want; } match_cases[] = {
	{ "/api/login", "/api/login", 1 },
	{ "/api/login", "/api/login/", 0 },
	{ "/api/login", "/api/logi", 0 },
	{ "/api/login", "/api/loginx", 0 },
	{ "/users/:id", "/users/42", 1 },
	{ "/users/:id", "/users/", 0 },
	{ "/users/:id", "/users/42/x", 0 },
	{ "/users/:id/posts", "/users/7/posts", 1 },
	{ "/users/:id/posts", "/users//posts", 0 },
	{ "/api/*", "/api/", 1 },
	{ "/api/*", "/api/a/b/c", 1 },
	{ "/api/*", "/api", 0 },
	{ "/api/*", "/apix", 0 },
	{ "/v1*", "/v1", 1 },
	{ "/v1*", "/v10/x", 1 },
	{ "/v1*", "/v2", 0 },
	{ "/*", "/", 1 },
	{ "/*", "/anything/at/all", 1 },
	{ "/", "/", 1 },
	{ "/", "/a", 0 },
	{ "/a/:b/*", "/a/x/", 1 },
	{ "/a/:b/*", "/a//", 0 },
	{ "/a", "", 0 },
	{ "/a", "a", 0 },
};

Test(route, match_table)
{
	size_t i;

	for (i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
		int got = route_match(match_cases[i].pat, match_cases[i].path,
		    strlen(match_cases[i].path));
		cr_expect_eq(got, match_cases[i].want, "pattern %s path %s: got %d",
		    match_cases[i].pat, match_cases[i].path, got);
	}
}

Test(route, list_match)
{
	struct route_list l;

	memset(&l, 0, sizeof l);
	cr_expect_eq(route_list_match(&l, "/x", 2), 0, "empty list matches nothing");
	l.items[0].text = "/a";
	l.items[1].text = "/b/*";
	l.count = 2;
	cr_expect_eq(route_list_match(&l, "/b/c", 4), 1);
	cr_expect_eq(route_list_match(&l, "/c", 2), 0);
}

Test(route, pattern_check)
{
	static const char *good[] = { "/", "/a", "/a/:id", "/a/*", "/v1*", "/a/:x/b" };
	static const char *bad[] = { "", "a", "/a*/b", "/a/:", "/a/:/b", "/a b",
	    "/a?x", "/a#", "/a:b", "/\x01" };
	const char *why;
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		cr_expect_eq(route_pattern_check(good[i], &why), 0, "%s", good[i]);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		cr_expect_eq(route_pattern_check(bad[i], &why), -1, "%s", bad[i]);
		cr_expect_not_null(why);
	}
}

Test(route, clean_paths)
{
	static const char *good[] = { "/", "/a", "/a/b.c", "/...", "/a/.x", "/a%20b", "/a/..b",
	    "/a;v=1/b", "/a/..x;y" };
	static const char *bad[] = { "", "a", "/..", "/a/../b", "/a/./b", "/.", "/%2e%2e/x",
	    "/pub/..;/admin", "/pub/.%2e;x/admin", "/a/.;/b", "/..;",
	    "/%2E./x", "/a%2fb", "/a%5Cb", "/a\\b", "/a%00", "/a/.%2e" };
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		cr_expect_eq(route_path_is_clean(good[i], strlen(good[i])), 1, "%s", good[i]);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect_eq(route_path_is_clean(bad[i], strlen(bad[i])), 0, "%s", bad[i]);
}

Test(route, builtin)
{
	const char *arg;
	size_t n;

	cr_expect_eq(route_builtin("/api/mte-echo", 13, &arg, &n), ROUTE_ECHO);
	cr_expect_eq(n, 0);
	cr_expect_eq(route_builtin("/api/mte-echo/hi", 16, &arg, &n), ROUTE_ECHO);
	cr_expect_eq(n, 2);
	cr_expect(memcmp(arg, "hi", 2) == 0);
	cr_expect_eq(route_builtin("/api/mte-echo/a/b", 17, &arg, &n), ROUTE_NONE);
	cr_expect_eq(route_builtin("/api/mte-echox", 14, &arg, &n), ROUTE_NONE);
	cr_expect_eq(route_builtin("/api/mte-relay", 14, &arg, &n), ROUTE_MTE_RELAY);
	cr_expect_eq(route_builtin("/api/mte-pair", 13, &arg, &n), ROUTE_PAIR);
	cr_expect_eq(route_builtin("/api/mte-errors", 15, &arg, &n), ROUTE_ERRORS);
	cr_expect_eq(route_builtin("/metrics", 8, &arg, &n), ROUTE_METRICS);
	cr_expect_eq(route_builtin("/public/x.js", 12, &arg, &n), ROUTE_PUBLIC);
	cr_expect_eq(n, 4);
	cr_expect_eq(route_builtin("/api/other", 10, &arg, &n), ROUTE_NONE);
}
