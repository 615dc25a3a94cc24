/* test_config.c - settings from env and flags: validation, defaults, limits. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define SECRET32 "0123456789abcdef0123456789abcdef"
#define BASE "UPSTREAM=http://127.0.0.1:3000", "CORS_ORIGINS=https://app.example.com", \
	"CLIENT_ID_SECRET=" SECRET32
#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

struct run {
	int           rc;
	char         *out;
	char         *err;
	size_t        out_len, err_len;
	struct config cfg;
};

static void
run(struct run *r, const char *const *args, const char *const *env)
{
	char *argv[128], *envp[128];
	FILE *out, *err;
	int argc = 0, n = 0;

	memset(r, 0, sizeof *r);
	argv[argc++] = "mte-relay";
	for (; *args != NULL; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	for (; *env != NULL; env++)
		envp[n++] = (char *)*env;
	envp[n] = NULL;
	out = open_memstream(&r->out, &r->out_len);
	err = open_memstream(&r->err, &r->err_len);
	cr_assert(out != NULL && err != NULL);
	r->rc = config_load(&r->cfg, argc, argv, envp, out, err);
	fclose(out);
	fclose(err);
}

static void
done(struct run *r)
{
	config_free(&r->cfg);
	free(r->out);
	free(r->err);
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* Every error line has the documented shape. */
static void
assert_error_shape(const char *err)
{
	const char *line = err;

	while (*line) {
		const char *nl = strchr(line, '\n');
		cr_assert_not_null(nl, "unterminated error line: %s", line);
		cr_assert(strncmp(line, "config error: ", 14) == 0, "line: %.*s",
		    (int)(nl - line), line);
		line = nl + 1;
	}
}

/* Asserts a load fails with 78 and err mentions needle (one line or more). */
static void
expect_error(const char *const *args, const char *const *env, const char *needle)
{
	struct run r;

	run(&r, args, env);
	cr_expect_eq(r.rc, CONFIG_EXIT_USAGE, "rc %d for needle %s; err: %s", r.rc, needle, r.err);
	cr_expect(count_lines(r.err) >= 1);
	cr_expect_not_null(strstr(r.err, needle), "wanted \"%s\" in: %s", needle, r.err);
	assert_error_shape(r.err);
	done(&r);
}

static void
expect_ok(struct run *r, const char *const *args, const char *const *env)
{
	run(r, args, env);
	cr_assert_eq(r->rc, 0, "rc %d, err: %s", r->rc, r->err);
	cr_assert_eq(r->err_len, 0, "err: %s", r->err);
}

/* Writes data to a new temp file; returns its path (static buffer per slot). */
static const char *
temp_file(int slot, const char *data, size_t len)
{
	static char paths[4][64];
	int fd;

	snprintf(paths[slot], sizeof paths[slot], "/tmp/test_config_XXXXXX");
	fd = mkstemp(paths[slot]);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return paths[slot];
}

/* Runs with fd 1 redirected to a temp file so log warnings can be read. */
static char *
run_capturing_log(struct run *r, const char *const *args, const char *const *env)
{
	FILE *tmp = tmpfile();
	int saved = dup(1);
	long size;
	char *text;

	cr_assert(tmp != NULL && saved >= 0);
	fflush(stdout);
	dup2(fileno(tmp), 1);
	run(r, args, env);
	dup2(saved, 1);
	close(saved);
	size = lseek(fileno(tmp), 0, SEEK_END);
	cr_assert(size >= 0);
	text = calloc(1, (size_t)size + 1);
	cr_assert_not_null(text);
	cr_assert_eq(pread(fileno(tmp), text, (size_t)size, 0), size);
	fclose(tmp);
	return text;
}

/* Warnings go to stdout as log lines; keep the test output readable. */
static void
quiet_stdout(void)
{
	FILE *null = fopen("/dev/null", "w");

	if (null != NULL) {
		dup2(fileno(null), 1);
		fclose(null);
	}
}

TestSuite(config, .init = quiet_stdout);

/* ---- required settings ---- */

Test(config, missing_upstream)
{
	struct run r;

	run(&r, NONE, L("CORS_ORIGINS=https://a.example", "CLIENT_ID_SECRET=" SECRET32));
	cr_expect_eq(r.rc, 78);
	cr_expect_str_eq(r.err, "config error: UPSTREAM is required (flag --upstream): "
	    "the URL that decoded requests are proxied to\n");
	done(&r);
}

Test(config, missing_cors_origins)
{
	struct run r;

	run(&r, NONE, L("UPSTREAM=http://a", "CLIENT_ID_SECRET=" SECRET32));
	cr_expect_eq(r.rc, 78);
	cr_expect_eq(count_lines(r.err), 1);
	cr_expect(strncmp(r.err, "config error: CORS_ORIGINS is required (flag --cors-origins): ",
	    62) == 0, "%s", r.err);
	done(&r);
}

Test(config, missing_client_id_secret)
{
	struct run r;

	run(&r, NONE, L("UPSTREAM=http://a", "CORS_ORIGINS=https://a.example"));
	cr_expect_eq(r.rc, 78);
	cr_expect_eq(count_lines(r.err), 1);
	cr_expect(strncmp(r.err,
	    "config error: CLIENT_ID_SECRET is required (flag --client-id-secret): ", 70) == 0,
	    "%s", r.err);
	done(&r);
}

Test(config, empty_value_is_unset)
{
	expect_error(NONE, L("UPSTREAM=", "CORS_ORIGINS=https://a.example",
	    "CLIENT_ID_SECRET=" SECRET32), "UPSTREAM is required");
}

Test(config, all_problems_reported_together)
{
	struct run r;

	run(&r, L("--bogus", "--port=abc"), L("DEBUG=maybe", "CORS_ORIGINS=*,https://a.example/x",
	    "REPLAY_WINDOW=0", "HEADERS={"));
	cr_expect_eq(r.rc, 78);
	/* UPSTREAM, CLIENT_ID_SECRET, --bogus, PORT, DEBUG, 2 origins, REPLAY_WINDOW, HEADERS */
	cr_expect_eq(count_lines(r.err), 9, "%s", r.err);
	assert_error_shape(r.err);
	done(&r);
}

/* ---- value classes ---- */

Test(config, bad_upstream_urls)
{
	static const char *bad[] = {
		"UPSTREAM=ftp://a", "UPSTREAM=localhost:3000", "UPSTREAM=http://",
		"UPSTREAM=http:///x", "UPSTREAM=http://a b", "UPSTREAM=http://h:0",
		"UPSTREAM=http://h:65536", "UPSTREAM=http://h:", "UPSTREAM=http://u:p@h",
		"UPSTREAM=http://h/?q=1", "UPSTREAM=http://h#f", "UPSTREAM=http://[::1",
		"UPSTREAM=http://[zz]", "UPSTREAM=http://h/a b", "UPSTREAM=http://h/%zz",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_error(NONE, L(bad[i], BASE),
		    "UPSTREAM must be an http:// or https:// URL with a host (flag --upstream), got \"");
}

Test(config, upstream_normalized)
{
	struct run r;

	expect_ok(&r, NONE, L("UPSTREAM=HTTPS://API.Example.com:8443/base//", BASE));
	cr_expect_str_eq(r.cfg.upstream, "https://api.example.com:8443/base");
	done(&r);
	expect_ok(&r, NONE, L("UPSTREAM=http://[::1]:3000/", BASE));
	cr_expect_str_eq(r.cfg.upstream, "http://[::1]:3000");
	done(&r);
}

Test(config, bad_origins)
{
	static const char *bad[] = {
		"CORS_ORIGINS=https://a.example/path", "CORS_ORIGINS=a.example",
		"CORS_ORIGINS=https://", "CORS_ORIGINS=https://a.example:0",
		"CORS_ORIGINS=https://a.example?x", "CORS_ORIGINS=https://u@a.example",
		"CORS_ORIGINS=null",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_error(NONE, L(bad[i], BASE), "CORS_ORIGINS must list origins");
	expect_error(NONE, L("CORS_ORIGINS=https://a.example,,https://b.example", BASE),
	    "CORS_ORIGINS has an empty entry");
}

Test(config, wildcard_origin_explained)
{
	struct run r;

	run(&r, NONE, L("CORS_ORIGINS=*", BASE));
	cr_expect_eq(r.rc, 78);
	cr_expect_str_eq(r.err, "config error: CORS_ORIGINS must not contain \"*\" "
	    "(flag --cors-origins), got \"*\": credentials are allowed cross-origin, "
	    "so every origin must be listed exactly\n");
	done(&r);
}

Test(config, origins_normalized)
{
	struct run r;

	expect_ok(&r, NONE, L("CORS_ORIGINS=HTTPS://App.Example.com:443/ , http://localhost:3000,"
	    "capacitor://localhost,http://a.example:80", BASE));
	cr_assert_eq(r.cfg.cors_origins.count, 4);
	cr_expect_str_eq(r.cfg.cors_origins.items[0], "https://app.example.com");
	cr_expect_str_eq(r.cfg.cors_origins.items[1], "http://localhost:3000");
	cr_expect_str_eq(r.cfg.cors_origins.items[2], "capacitor://localhost");
	cr_expect_str_eq(r.cfg.cors_origins.items[3], "http://a.example");
	done(&r);
}

Test(config, bad_numbers)
{
	static const char *bad[] = { "abc", "", " 80", "80 ", "80x", "-1", "+80", "0", "65536",
	    "99999999999999999999999", "0x50", "8.0" };
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char flag[64];
		if (bad[i][0] == '\0')
			continue;       /* empty means unset */
		snprintf(flag, sizeof flag, "--port=%s", bad[i]);
		expect_error(L(flag), L(BASE), "config error: PORT must be a number from 1 to 65535 "
		    "(flag --port), got \"");
	}
	expect_error(NONE, L("PORT=abc", BASE),
	    "config error: PORT must be a number from 1 to 65535 (flag --port), got \"abc\"\n");
	expect_error(NONE, L("STATE_TTL=59", BASE), "STATE_TTL must be a number from 60 to");
	expect_error(NONE, L("HEADER_TIMEOUT=0", BASE), "HEADER_TIMEOUT must be a number from 1");
	expect_error(NONE, L("IDLE_TIMEOUT=x", BASE), "IDLE_TIMEOUT must be a number");
	expect_error(NONE, L("UPSTREAM_TIMEOUT=-5", BASE), "UPSTREAM_TIMEOUT must be a number");
	expect_error(NONE, L("DRAIN_TIMEOUT=1s", BASE), "DRAIN_TIMEOUT must be a number");
	expect_error(NONE, L("MAX_PAIRS_PER_CLIENT=0", BASE), "MAX_PAIRS_PER_CLIENT must be");
	expect_error(NONE, L("STORE_CAPACITY=0", BASE), "STORE_CAPACITY must be");
	expect_error(NONE, L("MAX_POOL_SIZE=1", BASE),
	    "MAX_POOL_SIZE must be a number from 2 to 1024");
}

Test(config, bad_route_patterns)
{
	static const char *bad[] = { "api", "/a*/b", "/a//b", "/a/:", "/a/:id*", "/a/:x/:x",
	    "/a b", "/a?x", "/a:b", "/a/:i-d", "/a%zz" };
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char e1[64], e2[64];
		snprintf(e1, sizeof e1, "PASS_THROUGH_ROUTES=%s", bad[i]);
		snprintf(e2, sizeof e2, "MTE_ROUTES=/ok,%s", bad[i]);
		expect_error(NONE, L(e1, BASE), "PASS_THROUGH_ROUTES must list route patterns");
		expect_error(NONE, L(e2, BASE), "MTE_ROUTES must list route patterns");
	}
	expect_error(NONE, L("MTE_ROUTES=/a/:id*", BASE),
	    "config error: MTE_ROUTES must list route patterns like /api/users/:id or /static/* "
	    "(flag --mte-routes), got \"/a/:id*\": '*' cannot follow a :param\n");
}

Test(config, good_route_patterns)
{
	struct run r;

	expect_ok(&r, NONE, L("PASS_THROUGH_ROUTES=/, /health , /users/:id/posts,/static/*,/v1*,/a/:b/*",
	    "MTE_ROUTES=/api/*,/api/*", BASE));
	cr_assert_eq(r.cfg.pass_through_routes.count, 6);
	cr_expect_str_eq(r.cfg.pass_through_routes.items[0].text, "/");
	cr_expect_str_eq(r.cfg.pass_through_routes.items[1].text, "/health");
	cr_expect_str_eq(r.cfg.pass_through_routes.items[5].text, "/a/:b/*");
	cr_expect_eq(r.cfg.mte_routes.count, 1, "duplicates are kept once");
	done(&r);
}

Test(config, bad_headers_json)
{
	expect_error(NONE, L("HEADERS={", BASE),
	    "HEADERS must be a JSON object of string values (flag --headers): invalid JSON at byte");
	expect_error(NONE, L("HEADERS={\"a\":\"b\"} x", BASE), "invalid JSON");
	expect_error(NONE, L("HEADERS=[]", BASE), "HEADERS must be a JSON object");
	expect_error(NONE, L("HEADERS=\"x\"", BASE), "HEADERS must be a JSON object");
	expect_error(NONE, L("HEADERS={\"a\":1}", BASE), "value is not a string");
	expect_error(NONE, L("HEADERS={\"a\":{\"b\":\"c\"}}", BASE), "value is not a string");
	expect_error(NONE, L("HEADERS={\"a b\":\"x\"}", BASE), "invalid header name");
	expect_error(NONE, L("HEADERS={\"\":\"x\"}", BASE), "empty header name");
	expect_error(NONE, L("HEADERS={\"x-a\":\"a\\r\\nb\"}", BASE), "CR, LF");
	expect_error(NONE, L("HEADERS={\"x-a\":\"a\\nb\"}", BASE), "CR, LF");
	expect_error(NONE, L("HEADERS={\"Content-Length\":\"1\"}", BASE),
	    "must not set a connection or protocol header");
	expect_error(NONE, L("HEADERS={\"x-mte-relay\":\"1\"}", BASE), "protocol header");
	/* every hop-by-hop field of the forwarding policy, and any x-mte-relay* name */
	expect_error(NONE, L("HEADERS={\"Expect\":\"100-continue\"}", BASE), "protocol header");
	expect_error(NONE, L("HEADERS={\"proxy-authorization\":\"x\"}", BASE), "protocol header");
	expect_error(NONE, L("HEADERS={\"x-mte-relay-extra\":\"1\"}", BASE), "protocol header");
	expect_error(NONE, L("HEADERS={\"X-A\":\"1\",\"x-a\":\"2\"}", BASE), "duplicate header");
	/* cJSON would cut "x-a\u0000b" to "x-a": refused instead */
	expect_error(NONE, L("HEADERS={\"x-a\\u0000b\":\"v\"}", BASE), "HEADERS must be a JSON object");
	expect_error(NONE, L("HEADERS={\"x-a\":\"v\\u0000w\"}", BASE), "HEADERS must be a JSON object");
}

Test(config, headers_parsed)
{
	struct run r;

	expect_ok(&r, NONE, L("HEADERS={\"X-Frame-Options\":\"DENY\",\"x-empty\":\"\","
	    "\"Strict-Transport-Security\":\"max-age=63072000;\\tpreload\"}", BASE));
	cr_assert_eq(r.cfg.headers_count, 3);
	cr_expect_str_eq(r.cfg.headers[0].name, "x-frame-options");
	cr_expect_str_eq(r.cfg.headers[0].value, "DENY");
	cr_expect_str_eq(r.cfg.headers[1].value, "");
	cr_expect_str_eq(r.cfg.headers[2].name, "strict-transport-security");
	done(&r);
}

Test(config, bools)
{
	static const char *t[] = { "true", "TRUE", "1", "yes", "Yes" };
	static const char *f[] = { "false", "False", "0", "no", "NO" };
	size_t i;
	struct run r;
	char e[32];

	for (i = 0; i < 5; i++) {
		snprintf(e, sizeof e, "DEBUG=%s", t[i]);
		expect_ok(&r, NONE, L(e, BASE));
		cr_expect_eq(r.cfg.debug, 1, "%s", e);
		done(&r);
		snprintf(e, sizeof e, "METRICS=%s", f[i]);
		expect_ok(&r, NONE, L(e, BASE));
		cr_expect_eq(r.cfg.metrics, 0, "%s", e);
		done(&r);
	}
	expect_error(NONE, L("DEBUG=maybe", BASE),
	    "config error: DEBUG must be true or false (or 1/0, yes/no) (flag --debug), got \"maybe\"\n");
	expect_error(L("--metrics=on"), L(BASE), "METRICS must be true or false");
}

Test(config, methods)
{
	struct run r;

	expect_ok(&r, NONE, L("CORS_METHODS=get, patch,GET", BASE));
	cr_assert_eq(r.cfg.cors_methods.count, 4);
	cr_expect_str_eq(r.cfg.cors_methods.items[0], "GET");
	cr_expect_str_eq(r.cfg.cors_methods.items[1], "PATCH");
	cr_expect_str_eq(r.cfg.cors_methods.items[2], "OPTIONS");
	cr_expect_str_eq(r.cfg.cors_methods.items[3], "HEAD");
	done(&r);
	expect_error(NONE, L("CORS_METHODS=GE T", BASE), "CORS_METHODS must list HTTP methods");
	expect_error(NONE, L("CORS_METHODS=G(ET", BASE), "CORS_METHODS must list HTTP methods");
}

Test(config, body_size)
{
	static const struct { const char *in; uint64_t want; } ok[] = {
		{ "0", 0 }, { "1000", 1000 }, { "1k", 1024 }, { "10M", 10485760 },
		{ "2G", 2147483648ULL }, { "1024G", CONFIG_BODY_SIZE_MAX },
	};
	size_t i;
	struct run r;
	char e[64];

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		snprintf(e, sizeof e, "MAX_BODY_SIZE=%s", ok[i].in);
		expect_ok(&r, NONE, L(e, BASE));
		cr_expect_eq(r.cfg.max_body_size, ok[i].want, "%s", e);
		done(&r);
	}
	expect_error(NONE, L("MAX_BODY_SIZE=5x", BASE), "MAX_BODY_SIZE must be a size in bytes");
	expect_error(NONE, L("MAX_BODY_SIZE=K", BASE), "MAX_BODY_SIZE must be a size in bytes");
	expect_error(NONE, L("MAX_BODY_SIZE=1KB", BASE), "MAX_BODY_SIZE must be a size in bytes");
	expect_error(NONE, L("MAX_BODY_SIZE=1025G", BASE), "MAX_BODY_SIZE must be a size in bytes");
}

Test(config, paths_users_addresses)
{
	struct run r;

	expect_ok(&r, NONE, L("PUBLIC_DIR=/tmp", "RUN_AS=root", "BIND=0.0.0.0",
	    "REDIS_CA_FILE=/etc/passwd", BASE));
	cr_expect_str_eq(r.cfg.public_dir, "/tmp");
	cr_expect_str_eq(r.cfg.run_as, "root");
	cr_expect_str_eq(r.cfg.bind_addr, "0.0.0.0");
	cr_expect_str_eq(r.cfg.redis_ca_file, "/etc/passwd");
	done(&r);
	expect_error(NONE, L("PUBLIC_DIR=/nonexistent-dir", BASE),
	    "PUBLIC_DIR must be an existing directory (flag --public-dir), got \"/nonexistent-dir\"");
	expect_error(NONE, L("PUBLIC_DIR=/etc/passwd", BASE), "PUBLIC_DIR must be an existing directory");
	expect_error(NONE, L("REDIS_CA_FILE=/tmp", BASE), "REDIS_CA_FILE must be a readable file");
	expect_ok(&r, L("--upstream-ca-file=/etc/passwd"), L(BASE));
	cr_expect_str_eq(r.cfg.upstream_ca_file, "/etc/passwd");
	done(&r);
	expect_error(NONE, L("UPSTREAM_CA_FILE=/nonexistent-ca.pem", BASE),
	    "UPSTREAM_CA_FILE must be a readable file (flag --upstream-ca-file)");
	expect_error(NONE, L("RUN_AS=no-such-user-mte", BASE), "RUN_AS must name an existing user");
	expect_error(NONE, L("BIND=localhost", BASE), "BIND must be an IPv4 or IPv6 address");
	expect_error(NONE, L("SERVER_ID=a b", BASE), "SERVER_ID must be 1 to 128");
}

Test(config, redis_url)
{
	struct run r;

	expect_ok(&r, NONE, L("REDIS_URL=rediss://user:p%40ss/w@cache.example:6380/0",
	    "SERVER_ID=prod", BASE));
	cr_expect_str_eq(r.cfg.redis_url, "rediss://user:p%40ss/w@cache.example:6380/0");
	done(&r);
	expect_error(NONE, L("REDIS_URL=http://u:hunter2@h", BASE),
	    "REDIS_URL must be a redis:// or rediss:// URL with a host (flag --redis-url): ");
	expect_error(NONE, L("REDIS_URL=redis://u:hunter2@", BASE), "REDIS_URL must be");
	expect_error(NONE, L("REDIS_URL=redis://h/x", BASE), "database number");
	expect_error(NONE, L("REDIS_URL=redis://h/65536", BASE), "database number");
	expect_error(NONE, L("REDIS_URL=redis://user@h", BASE), "a user name needs a password");
	expect_error(NONE, L("REDIS_URL=redis://@h", BASE), "a user name needs a password");
	expect_ok(&r, NONE, L("REDIS_URL=redis://:pw@h/65535", "SERVER_ID=x", BASE));
	done(&r);
	/* What the store's own parser refuses, --check-config refuses too. */
	expect_error(NONE, L("REDIS_URL=redis://:%zz@h", BASE), "REDIS_URL must be");
	expect_error(NONE, L("REDIS_URL=redis://u:p%00x@h", BASE), "REDIS_URL must be");
}

Test(config, secrets_never_echoed)
{
	struct run r;

	run(&r, NONE, L("REDIS_URL=http://u:hunter2@h", "METRICS_TOKEN_FILE=/nonexistent",
	    "CLIENT_ID_SECRET_FILE=/nonexistent", BASE));
	cr_expect_eq(r.rc, 78);
	cr_expect_null(strstr(r.err, "hunter2"), "%s", r.err);
	cr_expect_null(strstr(r.err, SECRET32), "%s", r.err);
	done(&r);
}

/* ---- sources: flags, env, files ---- */

Test(config, flags_beat_env)
{
	struct run r;

	expect_ok(&r, L("--port=9090", "--upstream", "https://flag.example", "--debug"),
	    L("PORT=1", "DEBUG=false", BASE));
	cr_expect_eq(r.cfg.port, 9090);
	cr_expect_str_eq(r.cfg.upstream, "https://flag.example");
	cr_expect_eq(r.cfg.debug, 1);
	done(&r);
}

Test(config, both_flag_forms_and_last_flag_wins)
{
	struct run r;

	expect_ok(&r, L("--port", "7000", "--state-ttl=120", "--port=7001", "--debug", "--debug=false"),
	    L(BASE));
	cr_expect_eq(r.cfg.port, 7001);
	cr_expect_eq(r.cfg.state_ttl, 120);
	cr_expect_eq(r.cfg.debug, 0);
	done(&r);
	expect_ok(&r, L("--upstream=http://x", "--cors-origins", "https://y",
	    "--client-id-secret", SECRET32), NONE);
	cr_expect_str_eq(r.cfg.upstream, "http://x");
	done(&r);
}

Test(config, flag_without_value)
{
	expect_error(L("--port"), L(BASE), "config error: PORT has no value (flag --port): "
	    "write --port=VALUE or --port VALUE\n");
	expect_error(L("--port", "--debug"), L(BASE), "PORT has no value");
}

Test(config, unknown_flags_and_arguments)
{
	struct run r;

	run(&r, L("--nope=1", "-p", "stray", "--help=x"), L(BASE));
	cr_expect_eq(r.rc, 78);
	cr_expect_eq(count_lines(r.err), 4, "%s", r.err);
	cr_expect_not_null(strstr(r.err, "config error: unknown flag \"--nope\""));
	cr_expect_not_null(strstr(r.err, "unexpected argument \"stray\""));
	done(&r);

	/* the value of a mistyped flag may be a secret: never echoed */
	run(&r, L("--client-id-secre", "s3cret-value"), L(BASE));
	cr_expect_eq(r.rc, 78);
	cr_expect_str_eq(r.err, "config error: unknown flag \"--client-id-secre\" (see --help)\n");
	done(&r);
}

Test(config, workers_alias)
{
	struct run r;

	expect_ok(&r, NONE, L("WORKERS=3", BASE));
	cr_expect_eq(r.cfg.workers, 3);
	done(&r);
	expect_ok(&r, L("--workers=5"), L("MAX_POOL_SIZE=4", BASE));
	cr_expect_eq(r.cfg.workers, 5);
	done(&r);
	expect_error(NONE, L("WORKERS=3", "MAX_POOL_SIZE=4", BASE),
	    "MAX_POOL_SIZE is set twice, as MAX_POOL_SIZE and WORKERS");
	expect_error(NONE, L("WORKERS=x", BASE),
	    "config error: WORKERS must be a number from 2 to 1024 (flag --workers)");
}

Test(config, secret_file)
{
	const char *p = temp_file(0, "from-a-file-0123456789abcdef0123\n\r\n", 35);
	char e[128], f[128];
	struct run r;

	snprintf(e, sizeof e, "CLIENT_ID_SECRET_FILE=%s", p);
	expect_ok(&r, NONE, L(e, "UPSTREAM=http://a", "CORS_ORIGINS=https://b"));
	cr_expect_str_eq(r.cfg.client_id_secret, "from-a-file-0123456789abcdef0123");
	done(&r);

	/* a flag file beats the environment's value */
	snprintf(f, sizeof f, "--metrics-token-file=%s", p);
	expect_ok(&r, L(f), L("METRICS_TOKEN=env", "METRICS=true", BASE));
	cr_expect_str_eq(r.cfg.metrics_token, "from-a-file-0123456789abcdef0123");
	done(&r);

	unlink(p);
}

Test(config, secret_file_errors)
{
	const char *p = temp_file(0, "x\n", 2);
	const char *empty = temp_file(1, "\n\n", 2);
	const char *nul = temp_file(2, "a\0b", 3);
	char e[128];

	snprintf(e, sizeof e, "CLIENT_ID_SECRET_FILE=%s", p);
	expect_error(NONE, L(e, BASE),
	    "config error: CLIENT_ID_SECRET is set twice, as CLIENT_ID_SECRET and "
	    "CLIENT_ID_SECRET_FILE (flag --client-id-secret): set only one");
	expect_error(NONE, L("CLIENT_ID_SECRET_FILE=/nonexistent/secret", "UPSTREAM=http://a",
	    "CORS_ORIGINS=https://b"),
	    "config error: CLIENT_ID_SECRET_FILE cannot be read (flag --client-id-secret-file), "
	    "got \"/nonexistent/secret\": No such file or directory\n");
	snprintf(e, sizeof e, "--redis-url-file=%s", empty);
	expect_error(L(e), L(BASE), "REDIS_URL_FILE is an empty file (flag --redis-url-file)");
	snprintf(e, sizeof e, "--redis-url-file=%s", nul);
	expect_error(L(e), L(BASE), "REDIS_URL_FILE holds a NUL byte");
	snprintf(e, sizeof e, "--client-id-secret-previous-file=%s", p);
	expect_error(L(e, "--client-id-secret-previous=x"), L(BASE),
	    "is set twice, as --client-id-secret-previous and --client-id-secret-previous-file");
	unlink(p);
	unlink(empty);
	unlink(nul);
}

/* ---- actions ---- */

Test(config, help_lists_every_flag)
{
	static const char *flags[] = {
		"upstream", "cors-origins", "client-id-secret", "client-id-secret-previous",
		"server-id", "redis-url", "redis-ca-file", "port", "bind", "debug",
		"pass-through-routes", "mte-routes", "cors-methods", "headers", "max-pool-size",
		"workers", "state-ttl", "replay-window", "header-timeout", "idle-timeout",
		"upstream-timeout", "drain-timeout", "max-body-size", "public-dir",
		"max-pairs-per-client", "store-capacity", "metrics", "metrics-token", "run-as",
		"client-id-secret-file", "client-id-secret-previous-file", "redis-url-file",
		"metrics-token-file", "check-config", "help", "version",
		"upstream-ca-file", "healthcheck",
	};
	size_t i;
	struct run r;

	run(&r, L("--port=bad", "--help"), NONE);
	cr_assert_eq(r.rc, -1);
	cr_expect_eq(r.err_len, 0);
	for (i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		char want[64], env[64], *q;
		size_t k;
		snprintf(want, sizeof want, "\n  --%s", flags[i]);
		cr_expect_not_null(strstr(r.out, want), "--help lacks %s", want + 3);
		/* each setting's line names its variable: upper case, '-' -> '_' */
		for (k = 0; flags[i][k]; k++)
			env[k] = flags[i][k] == '-' ? '_' : (char)(flags[i][k] - 32);
		env[k] = '\0';
		q = strstr(r.out, want);
		if (q != NULL && strcmp(flags[i], "help") != 0 && strcmp(flags[i], "version") != 0 &&
		    strcmp(flags[i], "check-config") != 0 && strcmp(flags[i], "healthcheck") != 0) {
			char *eol = strchr(q + 1, '\n');
			char *hit = strstr(q, env);
			cr_expect(hit != NULL && hit < eol, "%s line lacks %s", flags[i], env);
		}
	}
	cr_expect_not_null(strstr(r.out, "PORT, default 8080, 1..65535"));
	cr_expect_not_null(strstr(r.out, "UPSTREAM, required"));
	cr_expect_not_null(strstr(r.out, "MAX_POOL_SIZE, default 256, 2..1024"));
	cr_expect_not_null(strstr(r.out, "MIN_SPARE_WORKERS, default 4, 1..1024"));
	cr_expect_not_null(strstr(r.out, "MAX_SPARE_WORKERS, default 16, 1..1024"));
	done(&r);
}

Test(config, version)
{
	struct run r;

	run(&r, L("--version"), NONE);
	cr_expect_eq(r.rc, -1);
	cr_expect_str_eq(r.out, "mte-relay " MTE_RELAY_VERSION "\n");
	done(&r);
}

Test(config, check_config)
{
	struct run r;

	expect_ok(&r, L("--check-config"), L(BASE));
	cr_expect_eq(r.cfg.check_only, 1);
	done(&r);
	run(&r, L("--check-config"), L("PORT=0", BASE));
	cr_expect_eq(r.rc, 78);
	done(&r);
}

Test(config, healthcheck)
{
	struct run r;

	expect_ok(&r, L("--healthcheck"), L("PORT=9000", BASE));
	cr_expect_eq(r.cfg.healthcheck, 1);
	cr_expect_eq(r.cfg.check_only, 0);
	cr_expect_eq(r.cfg.port, 9000);
	done(&r);
	run(&r, L("--healthcheck=yes"), L(BASE));
	cr_expect_eq(r.rc, 78);
	cr_expect_not_null(strstr(r.err, "--healthcheck takes no value"), "%s", r.err);
	done(&r);
	run(&r, L("--healthcheck"), L("PORT=0", BASE));
	cr_expect_eq(r.rc, 78);
	done(&r);
}

/* ---- defaults ---- */

Test(config, defaults)
{
	struct run r;
	unsigned want = 256;    /* MAX_POOL_SIZE: measured, see the man page */
	expect_ok(&r, NONE, L(BASE));
	cr_expect_str_eq(r.cfg.upstream, "http://127.0.0.1:3000");
	cr_expect_str_eq(r.cfg.server_id, "mte-relay");
	cr_expect_null(r.cfg.redis_url);
	cr_expect_null(r.cfg.redis_ca_file);
	cr_expect_null(r.cfg.upstream_ca_file);
	cr_expect_null(r.cfg.client_id_secret_previous);
	cr_expect_eq(r.cfg.port, 8080);
	cr_expect_str_eq(r.cfg.bind_addr, "::");
	cr_expect_eq(r.cfg.debug, 0);
	cr_expect_eq(r.cfg.pass_through_routes.count, 0);
	cr_expect_eq(r.cfg.mte_routes.count, 0);
	cr_assert_eq(r.cfg.cors_methods.count, 6);
	cr_expect_str_eq(r.cfg.cors_methods.items[0], "GET");
	cr_expect_str_eq(r.cfg.cors_methods.items[3], "DELETE");
	cr_expect_str_eq(r.cfg.cors_methods.items[4], "OPTIONS");
	cr_expect_str_eq(r.cfg.cors_methods.items[5], "HEAD");
	cr_expect_eq(r.cfg.headers_count, 0);
	cr_expect_eq(r.cfg.workers, want);
	cr_expect_eq(r.cfg.min_spare_workers, 4);
	cr_expect_eq(r.cfg.max_spare_workers, 16);
	cr_expect_eq(r.cfg.state_ttl, 86400);
	cr_expect_eq(r.cfg.replay_window, 1024);
	cr_expect_eq(r.cfg.header_timeout, 10);
	cr_expect_eq(r.cfg.idle_timeout, 60);
	cr_expect_eq(r.cfg.upstream_timeout, 60);
	cr_expect_eq(r.cfg.drain_timeout, 20);
	cr_expect_eq(r.cfg.max_body_size, 0);
	cr_expect_null(r.cfg.public_dir);
	cr_expect_eq(r.cfg.max_pairs_per_client, 64);
	cr_expect_eq(r.cfg.store_capacity, 65536);
	cr_expect_eq(r.cfg.metrics, 0);
	cr_expect_null(r.cfg.metrics_token);
	cr_expect_null(r.cfg.run_as);
	cr_expect_eq(r.cfg.check_only, 0);
	cr_expect_eq(r.cfg.healthcheck, 0);
	done(&r);
}

Test(config, free_resets)
{
	struct run r;

	expect_ok(&r, NONE, L("HEADERS={\"a\":\"b\"}", "PASS_THROUGH_ROUTES=/x", BASE));
	config_free(&r.cfg);
	cr_expect_null(r.cfg.upstream);
	cr_expect_eq(r.cfg.cors_origins.count, 0);
	cr_expect_eq(r.cfg.headers_count, 0);
	config_free(&r.cfg);    /* twice is harmless */
	done(&r);
}

/* ---- warnings ---- */

Test(config, secret_given_as_a_flag_is_warned_about)
{
	struct run r;
	char *log;

	log = run_capturing_log(&r, L("--client-id-secret=flag-secret-0123456789abcdef0123456789",
	    "--upstream=http://a"), L("CORS_ORIGINS=https://b"));
	cr_expect_eq(r.rc, 0, "%s", r.err);
	cr_expect_not_null(strstr(log, "--client-id-secret puts a secret in the process list"), "%s", log);
	cr_expect_null(strstr(log, "flag-secret-0123"), "the secret is never logged");
	cr_expect_null(strstr(log, "--upstream puts"), "only secrets are warned about");
	free(log);
	done(&r);

	log = run_capturing_log(&r, NONE, L("CLIENT_ID_SECRET=env-secret-0123456789abcdef0123456789",
	    "UPSTREAM=http://a", "CORS_ORIGINS=https://b"));
	cr_expect_eq(r.rc, 0, "%s", r.err);
	cr_expect_null(strstr(log, "process list"), "from the environment: no warning");
	free(log);
	done(&r);
}

Test(config, warnings_logged)
{
	struct run r;
	char *log;

	log = run_capturing_log(&r, NONE, L("CLIENT_ID_SECRET=short", "UPSTREAM=http://a",
	    "CORS_ORIGINS=https://b"));
	cr_expect_eq(r.rc, 0, "%s", r.err);
	cr_expect_not_null(strstr(log, "\"level\":\"warn\""), "%s", log);
	cr_expect_not_null(strstr(log, "CLIENT_ID_SECRET is shorter than 32 characters"), "%s", log);
	cr_expect_not_null(strstr(log, "REDIS_URL is not set"), "%s", log);
	cr_expect_null(strstr(log, "\"short\""), "the secret is never logged");
	cr_expect_null(strstr(log, "SERVER_ID is the default"));
	free(log);
	done(&r);

	log = run_capturing_log(&r, NONE, L("REDIS_URL=redis://h", BASE));
	cr_expect_eq(r.rc, 0, "%s", r.err);
	cr_expect_not_null(strstr(log, "SERVER_ID is the default while REDIS_URL is set"), "%s", log);
	cr_expect_null(strstr(log, "shorter than"));
	cr_expect_null(strstr(log, "REDIS_URL is not set"));
	free(log);
	done(&r);

	log = run_capturing_log(&r, NONE, L("REDIS_URL=redis://h", "SERVER_ID=x", BASE));
	cr_expect_null(strstr(log, "SERVER_ID is the default"), "%s", log);
	free(log);
	done(&r);
}

/* ---- limits at limit and limit+1 ---- */

static char *
list_of(size_t n, const char *prefix, const char *fmt)
{
	size_t cap = n * 64 + 64, len, i;
	char *s = malloc(cap);

	cr_assert_not_null(s);
	len = (size_t)snprintf(s, cap, "%s", prefix);
	for (i = 0; i < n; i++) {
		if (i)
			s[len++] = ',';
		len += (size_t)snprintf(s + len, cap - len, fmt, i);
	}
	return s;
}

Test(config, list_limit)
{
	struct run r;
	char *ok = list_of(CONFIG_LIST_MAX, "CORS_ORIGINS=", "https://h%zu.example");
	char *over = list_of(CONFIG_LIST_MAX + 1, "CORS_ORIGINS=", "https://h%zu.example");
	char *routes = list_of(CONFIG_LIST_MAX + 1, "PASS_THROUGH_ROUTES=", "/r%zu");
	char *methods = list_of(CONFIG_LIST_MAX + 1, "CORS_METHODS=", "M%zu");
	char *methods_full = list_of(CONFIG_LIST_MAX - 1, "CORS_METHODS=", "M%zu");

	expect_ok(&r, NONE, L(ok, BASE));
	cr_expect_eq(r.cfg.cors_origins.count, CONFIG_LIST_MAX);
	done(&r);
	expect_error(NONE, L(over, BASE), "CORS_ORIGINS must have at most 64 entries, got 65");
	expect_error(NONE, L(routes, BASE), "PASS_THROUGH_ROUTES must have at most 64 entries");
	expect_error(NONE, L(methods, BASE), "CORS_METHODS must have at most 64 entries");
	/* 63 methods + OPTIONS + HEAD do not fit */
	expect_error(NONE, L(methods_full, BASE), "CORS_METHODS must have at most 64 entries");
	free(ok); free(over); free(routes); free(methods); free(methods_full);
}

/* The route lists and CORS_METHODS at CONFIG_LIST_MAX entries load; one
 * more is refused naming the variable and its flag. */
Test(config, route_and_method_list_limits)
{
	static const struct { const char *name, *flag; } lists[] = {
		{ "MTE_ROUTES", "mte-routes" },
		{ "PASS_THROUGH_ROUTES", "pass-through-routes" },
	};
	struct run r;
	char pre[64], want[160];
	size_t i;

	for (i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		char *at, *over;
		snprintf(pre, sizeof pre, "%s=", lists[i].name);
		at = list_of(CONFIG_LIST_MAX, pre, "/r%zu");
		over = list_of(CONFIG_LIST_MAX + 1, pre, "/r%zu");
		expect_ok(&r, NONE, L(at, BASE));
		if (i == 0)
			cr_expect_eq(r.cfg.mte_routes.count, CONFIG_LIST_MAX);
		else
			cr_expect_eq(r.cfg.pass_through_routes.count, CONFIG_LIST_MAX);
		done(&r);
		snprintf(want, sizeof want, "config error: %s must have at most %d entries, got %d "
		    "(flag --%s)\n", lists[i].name, CONFIG_LIST_MAX, CONFIG_LIST_MAX + 1, lists[i].flag);
		expect_error(NONE, L(over, BASE), want);
		free(at);
		free(over);
	}
	{
		/* CONFIG_LIST_MAX - 2 methods + OPTIONS + HEAD: exactly full */
		char *full = list_of(CONFIG_LIST_MAX - 2, "CORS_METHODS=", "M%zu");
		expect_ok(&r, NONE, L(full, BASE));
		cr_expect_eq(r.cfg.cors_methods.count, CONFIG_LIST_MAX);
		cr_expect_str_eq(r.cfg.cors_methods.items[CONFIG_LIST_MAX - 1], "HEAD");
		done(&r);
		free(full);
	}
}

Test(config, headers_limit)
{
	struct run r;
	char *ok = list_of(CONFIG_LIST_MAX, "HEADERS={", "\"x-h%zu\":\"v\"");
	char *over = list_of(CONFIG_LIST_MAX + 1, "HEADERS={", "\"x-h%zu\":\"v\"");

	strcat(ok, "}");
	strcat(over, "}");
	expect_ok(&r, NONE, L(ok, BASE));
	cr_expect_eq(r.cfg.headers_count, CONFIG_LIST_MAX);
	done(&r);
	expect_error(NONE, L(over, BASE), "HEADERS must have at most 64 headers, got 65");
	free(ok);
	free(over);
}

Test(config, secret_file_limit)
{
	char *data = malloc(CONFIG_SECRET_FILE_MAX + 2);
	const char *at, *over, *at_nl;
	char e[128];
	struct run r;

	cr_assert_not_null(data);
	memset(data, 'k', CONFIG_SECRET_FILE_MAX + 1);
	at = temp_file(0, data, CONFIG_SECRET_FILE_MAX);
	over = temp_file(1, data, CONFIG_SECRET_FILE_MAX + 1);
	data[CONFIG_SECRET_FILE_MAX] = '\n';   /* limit+1 bytes, one a newline: too large */
	at_nl = temp_file(2, data, CONFIG_SECRET_FILE_MAX + 1);

	snprintf(e, sizeof e, "--client-id-secret-file=%s", at);
	expect_ok(&r, L(e), L(BASE));
	cr_expect_eq(strlen(r.cfg.client_id_secret), CONFIG_SECRET_FILE_MAX);
	done(&r);
	snprintf(e, sizeof e, "--client-id-secret-file=%s", over);
	expect_error(L(e), L(BASE),
	    "config error: CLIENT_ID_SECRET_FILE is larger than 4096 bytes "
	    "(flag --client-id-secret-file)\n");
	snprintf(e, sizeof e, "--client-id-secret-file=%s", at_nl);
	expect_error(L(e), L(BASE), "is larger than 4096 bytes");
	unlink(at); unlink(over); unlink(at_nl);
	free(data);
}

/* Sets NAME=max (ok, field == max) and NAME=max+1 (error). */
#define NUMBER_LIMIT(envname, field, max) do { \
	struct run r_; \
	char e_[64]; \
	snprintf(e_, sizeof e_, "%s=%llu", envname, (unsigned long long)(max)); \
	expect_ok(&r_, NONE, L(e_, BASE)); \
	cr_expect_eq(r_.cfg.field, (max)); \
	done(&r_); \
	snprintf(e_, sizeof e_, "%s=%llu", envname, (unsigned long long)(max) + 1); \
	expect_error(NONE, L(e_, BASE), envname " must be a number from"); \
} while (0)

Test(config, number_limits)
{
	NUMBER_LIMIT("REPLAY_WINDOW", replay_window, REPLAY_WINDOW_MAX);
	NUMBER_LIMIT("MAX_POOL_SIZE", workers, WORKERS_MAX);
	NUMBER_LIMIT("WORKERS", workers, WORKERS_MAX);
	NUMBER_LIMIT("PORT", port, 65535);
	NUMBER_LIMIT("HEADER_TIMEOUT", header_timeout, CONFIG_TIMEOUT_MAX);
	NUMBER_LIMIT("IDLE_TIMEOUT", idle_timeout, CONFIG_TIMEOUT_MAX);
	NUMBER_LIMIT("UPSTREAM_TIMEOUT", upstream_timeout, CONFIG_TIMEOUT_MAX);
	NUMBER_LIMIT("DRAIN_TIMEOUT", drain_timeout, CONFIG_TIMEOUT_MAX);
	NUMBER_LIMIT("STATE_TTL", state_ttl, CONFIG_STATE_TTL_MAX);
	NUMBER_LIMIT("MAX_PAIRS_PER_CLIENT", max_pairs_per_client, CONFIG_PAIRS_PER_CLIENT_MAX);
	NUMBER_LIMIT("STORE_CAPACITY", store_capacity, CONFIG_STORE_CAPACITY_MAX);
	NUMBER_LIMIT("FRESH_PAIR_TTL", fresh_pair_ttl, CONFIG_STATE_TTL_MAX);
	NUMBER_LIMIT("PAIR_RATE_PER_INSTANCE", pair_rate.per_instance, CONFIG_PAIR_RATE_MAX);
	NUMBER_LIMIT("PAIR_RATE_PER_ADDRESS", pair_rate.per_address, CONFIG_PAIR_RATE_MAX);
	NUMBER_LIMIT("PAIR_RATE_PER_CLIENT", pair_rate.per_client, CONFIG_PAIR_RATE_MAX);
}

/* Documented minimums (man/mte-relay.1, OPTIONS); limits.h names only the
 * maximums. */
#define TIMEOUT_MIN       1     /* HEADER/IDLE/UPSTREAM/DRAIN_TIMEOUT: 1 to CONFIG_TIMEOUT_MAX */
#define POOL_MIN          2     /* MAX_POOL_SIZE (WORKERS): 2 to WORKERS_MAX */
#define SPARE_MIN         1     /* MIN_SPARE_WORKERS: 1 to WORKERS_MAX; MAX_SPARE_WORKERS:
                                 * MIN_SPARE_WORKERS (so at least 1) to WORKERS_MAX */
#define REPLAY_WINDOW_MIN 1     /* REPLAY_WINDOW: 1 to REPLAY_WINDOW_MAX */
#define PORT_MIN          1     /* PORT, OUTBOUND_PORT: 1 to 65535 */
#define PORT_MAX          UINT16_MAX

/* name=ok loads and sets the field (offset off in struct config) to ok;
 * name=bad is refused (78) with a line naming name and --flag, the range
 * min..max and the value.  extra: one more setting both runs need
 * (NULL: none); base: the inbound settings too. */
static void
number_bound(const char *name, const char *flag, size_t off, unsigned long long ok,
    unsigned long long bad, unsigned long long min, unsigned long long max,
    const char *extra, int base)
{
	const char *const *env;
	char e[96], want[256];
	struct run r;

	snprintf(e, sizeof e, "%s=%llu", name, ok);
	env = base ? (extra ? L(e, extra, BASE) : L(e, BASE)) : (extra ? L(e, extra) : L(e));
	expect_ok(&r, NONE, env);
	cr_expect_eq(*(unsigned *)((char *)&r.cfg + off), ok, "%s", e);
	done(&r);
	snprintf(e, sizeof e, "%s=%llu", name, bad);
	snprintf(want, sizeof want, "config error: %s must be a number from %llu to %llu "
	    "(flag --%s), got \"%llu\"\n", name, min, max, flag, bad);
	env = base ? (extra ? L(e, extra, BASE) : L(e, BASE)) : (extra ? L(e, extra) : L(e));
	expect_error(NONE, env, want);
}

/* name=min loads, name=min-1 is refused naming it. */
#define NUMBER_MIN(name, flag, field, min, max, extra) \
	number_bound((name), (flag), offsetof(struct config, field), (min), (min) - 1, \
	    (min), (max), (extra), 1)

Test(config, number_minimums)
{
	NUMBER_MIN("HEADER_TIMEOUT", "header-timeout", header_timeout, TIMEOUT_MIN,
	    CONFIG_TIMEOUT_MAX, NULL);
	NUMBER_MIN("IDLE_TIMEOUT", "idle-timeout", idle_timeout, TIMEOUT_MIN,
	    CONFIG_TIMEOUT_MAX, NULL);
	NUMBER_MIN("UPSTREAM_TIMEOUT", "upstream-timeout", upstream_timeout, TIMEOUT_MIN,
	    CONFIG_TIMEOUT_MAX, NULL);
	NUMBER_MIN("DRAIN_TIMEOUT", "drain-timeout", drain_timeout, TIMEOUT_MIN,
	    CONFIG_TIMEOUT_MAX, NULL);
	NUMBER_MIN("REPLAY_WINDOW", "replay-window", replay_window, REPLAY_WINDOW_MIN,
	    REPLAY_WINDOW_MAX, NULL);
	NUMBER_MIN("MAX_POOL_SIZE", "max-pool-size", workers, POOL_MIN, WORKERS_MAX, NULL);
	/* the older name: its own name and flag in the error */
	NUMBER_MIN("WORKERS", "workers", workers, POOL_MIN, WORKERS_MAX, NULL);
	NUMBER_MIN("MIN_SPARE_WORKERS", "min-spare-workers", min_spare_workers, SPARE_MIN,
	    WORKERS_MAX, NULL);
	/* at its minimum MAX_SPARE_WORKERS needs MIN_SPARE_WORKERS as low */
	NUMBER_MIN("MAX_SPARE_WORKERS", "max-spare-workers", max_spare_workers, SPARE_MIN,
	    WORKERS_MAX, "MIN_SPARE_WORKERS=1");
	NUMBER_MIN("PORT", "port", port, PORT_MIN, PORT_MAX, NULL);
}

/* MAX_SPARE_WORKERS below its minimum is a range error even with
 * MIN_SPARE_WORKERS at its default, not the pool check. */
Test(config, max_spare_workers_zero)
{
	struct run r;
	char e[64];

	snprintf(e, sizeof e, "MAX_SPARE_WORKERS=%d", SPARE_MIN - 1);
	run(&r, NONE, L(e, BASE));
	cr_expect_eq(r.rc, CONFIG_EXIT_USAGE);
	cr_expect_eq(count_lines(r.err), 1, "%s", r.err);
	cr_expect_not_null(strstr(r.err, "config error: MAX_SPARE_WORKERS must be a number from"),
	    "%s", r.err);
	cr_expect_null(strstr(r.err, "must be at least MIN_SPARE_WORKERS"), "%s", r.err);
	done(&r);
}

/* The pairing limits: defaults, 0 turns one off, a flag wins. */
Test(config, pairing_limits)
{
	struct run r;

	expect_ok(&r, NONE, L(BASE));
	cr_expect_eq(r.cfg.pair_rate.per_instance, 1000u);
	cr_expect_eq(r.cfg.pair_rate.per_address, 1024u);
	cr_expect_eq(r.cfg.pair_rate.per_client, 64u);
	cr_expect_eq(r.cfg.fresh_pair_ttl, 600u);
	cr_expect_eq(r.cfg.trusted_proxies.count, 0u);
	done(&r);
	expect_ok(&r, L("--pair-rate-per-client=7"), L("PAIR_RATE_PER_CLIENT=0", "PAIR_RATE_PER_ADDRESS=0", BASE));
	cr_expect_eq(r.cfg.pair_rate.per_client, 7u);
	cr_expect_eq(r.cfg.pair_rate.per_address, 0u);
	done(&r);
	expect_error(NONE, L("FRESH_PAIR_TTL=0", BASE), "FRESH_PAIR_TTL must be a number from");
}

Test(config, trusted_proxies)
{
	struct run r;
	char *ok = list_of(TRUSTED_PROXIES_MAX, "TRUSTED_PROXIES=", "10.%zu.0.0/16");
	char *over = list_of(TRUSTED_PROXIES_MAX + 1, "TRUSTED_PROXIES=", "10.%zu.0.0/16");

	expect_ok(&r, NONE, L("TRUSTED_PROXIES=10.0.0.0/8, 2001:db8::/32,192.0.2.1", BASE));
	cr_expect_eq(r.cfg.trusted_proxies.count, 3u);
	cr_expect_eq(r.cfg.trusted_proxies.items[0].bits, 8);
	cr_expect_eq(r.cfg.trusted_proxies.items[1].net.family, 6);
	cr_expect_eq(r.cfg.trusted_proxies.items[2].bits, 32);
	done(&r);
	expect_ok(&r, NONE, L(ok, BASE));
	cr_expect_eq(r.cfg.trusted_proxies.count, TRUSTED_PROXIES_MAX);
	done(&r);
	expect_error(NONE, L(over, BASE), "TRUSTED_PROXIES must have at most 64 entries");
	expect_error(NONE, L("TRUSTED_PROXIES=10.0.0.1/8", BASE), "TRUSTED_PROXIES must list CIDR blocks (flag --trusted-proxies), got \"10.0.0.1/8\": host bits are set");
	expect_error(NONE, L("TRUSTED_PROXIES=lb.internal", BASE), "TRUSTED_PROXIES must list CIDR blocks");
	expect_error(NONE, L("TRUSTED_PROXIES=10.0.0.0/33", BASE), "a prefix length is 0 to 32");
	free(ok); free(over);
}

Test(config, body_size_limit)
{
	struct run r;
	char e[64];

	snprintf(e, sizeof e, "MAX_BODY_SIZE=%llu", (unsigned long long)CONFIG_BODY_SIZE_MAX);
	expect_ok(&r, NONE, L(e, BASE));
	cr_expect_eq(r.cfg.max_body_size, CONFIG_BODY_SIZE_MAX);
	done(&r);
	snprintf(e, sizeof e, "MAX_BODY_SIZE=%llu", (unsigned long long)CONFIG_BODY_SIZE_MAX + 1);
	expect_error(NONE, L(e, BASE), "MAX_BODY_SIZE must be a size in bytes");
}

Test(config, value_length_limit)
{
	size_t pre = strlen("PASS_THROUGH_ROUTES=");
	char *over = malloc(pre + CONFIG_VALUE_MAX + 2);
	struct run r;

	cr_assert_not_null(over);
	memcpy(over, "PASS_THROUGH_ROUTES=", pre);
	over[pre] = '/';
	memset(over + pre + 1, 'a', CONFIG_VALUE_MAX);
	over[pre + CONFIG_VALUE_MAX] = '\0';    /* the value is CONFIG_VALUE_MAX bytes */
	expect_ok(&r, NONE, L(over, BASE));
	cr_expect_eq(strlen(r.cfg.pass_through_routes.items[0].text), CONFIG_VALUE_MAX);
	done(&r);
	over[pre + CONFIG_VALUE_MAX] = 'a';
	over[pre + CONFIG_VALUE_MAX + 1] = '\0';
	expect_error(NONE, L(over, BASE),
	    "config error: PASS_THROUGH_ROUTES is longer than 16384 bytes (flag --pass-through-routes)\n");
	free(over);
}

Test(config, server_id_limit)
{
	char e[STORE_SERVER_ID_MAX + 32];
	struct run r;
	size_t pre = strlen("SERVER_ID=");

	memcpy(e, "SERVER_ID=", pre);
	memset(e + pre, 'i', STORE_SERVER_ID_MAX);
	e[pre + STORE_SERVER_ID_MAX] = '\0';
	expect_ok(&r, NONE, L(e, BASE));
	cr_expect_eq(strlen(r.cfg.server_id), STORE_SERVER_ID_MAX);
	done(&r);
	e[pre + STORE_SERVER_ID_MAX] = 'i';
	e[pre + STORE_SERVER_ID_MAX + 1] = '\0';
	expect_error(NONE, L(e, BASE), "SERVER_ID must be 1 to 128");
}

Test(config, redis_url_limit)
{
	char e[STORE_URL_MAX + 32];
	size_t pre = strlen("REDIS_URL=redis://");
	struct run r;

	memcpy(e, "REDIS_URL=redis://", pre);
	memset(e + pre, 'h', STORE_URL_MAX - strlen("redis://"));
	e[pre + STORE_URL_MAX - strlen("redis://")] = '\0';
	/* a URL of STORE_URL_MAX bytes passes the length check (its host is too long) */
	expect_error(NONE, L(e, BASE), "the host name is too long");
	e[pre + STORE_URL_MAX - strlen("redis://")] = 'h';
	e[pre + STORE_URL_MAX - strlen("redis://") + 1] = '\0';
	run(&r, NONE, L(e, BASE));
	cr_expect_eq(r.rc, 78);
	cr_expect_str_eq(r.err, "config error: REDIS_URL is longer than 1024 bytes (flag --redis-url)\n");
	done(&r);
}

/* MAX_SPARE_WORKERS at WORKERS_MAX (MIN_SPARE_WORKERS at its default) and at
 * WORKERS_MAX + 1; below MIN_SPARE_WORKERS it is an error naming both. */
Test(config, spare_workers)
{
	struct run r;
	char e[64];

	NUMBER_LIMIT("MAX_SPARE_WORKERS", max_spare_workers, WORKERS_MAX);
	snprintf(e, sizeof e, "MIN_SPARE_WORKERS=%d", WORKERS_MAX);
	expect_ok(&r, NONE, L(e, "MAX_SPARE_WORKERS=1024", BASE));
	cr_expect_eq(r.cfg.min_spare_workers, WORKERS_MAX);
	done(&r);
	snprintf(e, sizeof e, "MIN_SPARE_WORKERS=%d", WORKERS_MAX + 1);
	expect_error(NONE, L(e, "MAX_SPARE_WORKERS=1024", BASE), "MIN_SPARE_WORKERS must be a number from");
	expect_ok(&r, L("--min-spare-workers=8", "--max-spare-workers=8"), L(BASE));
	cr_expect_eq(r.cfg.min_spare_workers, 8);
	cr_expect_eq(r.cfg.max_spare_workers, 8);
	done(&r);
	expect_ok(&r, L("--max-spare-workers=9"), L("MAX_SPARE_WORKERS=2", "MIN_SPARE_WORKERS=9", BASE));
	cr_expect_eq(r.cfg.max_spare_workers, 9);
	done(&r);
	snprintf(e, sizeof e, "MIN_SPARE_WORKERS=%d", WORKERS_MAX);
	expect_error(NONE, L(e, BASE), "config error: MAX_SPARE_WORKERS must be at least "
	    "MIN_SPARE_WORKERS (1024), is 16 (flag --max-spare-workers)");
	expect_error(L("--min-spare-workers=5", "--max-spare-workers=4"), L(BASE),
	    "MAX_SPARE_WORKERS must be at least MIN_SPARE_WORKERS (5), is 4");
	expect_error(NONE, L("MIN_SPARE_WORKERS=0", BASE),
	    "config error: MIN_SPARE_WORKERS must be a number from 1 to 1024 (flag --min-spare-workers)");
}

/* ---- the outbound mode (PROTOCOL.md section 14) ---- */

#define OB "OUTBOUND_PORT=9090"

Test(config, outbound_only_needs_no_inbound_settings)
{
	struct run r;

	expect_ok(&r, NONE, L(OB, "OUTBOUND_RELAY=https://GW.example:443/"));
	cr_expect(!r.cfg.role_inbound);
	cr_expect_eq(r.cfg.outbound_port, 9090u);
	cr_expect_str_eq(r.cfg.outbound_bind, "127.0.0.1", "loopback by default");
	cr_expect_eq(r.cfg.outbound_pairs, 4u);
	cr_assert_eq(r.cfg.outbound_count, 1u);
	cr_expect_str_eq(r.cfg.outbound[0].prefix, "/");
	cr_expect_str_eq(r.cfg.outbound[0].origin, "https://gw.example");
	done(&r);
	/* both roles */
	expect_ok(&r, L("--outbound-relays=/pay=https://gw.example,/kyc/=http://k.example:8080"),
	    L(BASE, OB));
	cr_expect(r.cfg.role_inbound);
	cr_assert_eq(r.cfg.outbound_count, 2u);
	cr_expect_str_eq(r.cfg.outbound[1].prefix, "/kyc");
	cr_expect_str_eq(r.cfg.outbound[1].origin, "http://k.example:8080");
	done(&r);
}

Test(config, outbound_role_requirements)
{
	expect_error(NONE, L(OB), "OUTBOUND_RELAY is required when OUTBOUND_PORT is set");
	expect_error(NONE, L("OUTBOUND_RELAY=https://gw.example"),
	    "OUTBOUND_PORT is required when OUTBOUND_RELAY or OUTBOUND_RELAYS is set");
	expect_error(NONE, L(OB, "OUTBOUND_RELAY=https://gw.example", "UPSTREAM=http://a"),
	    "CORS_ORIGINS is required when UPSTREAM is set (the inbound role)");
	expect_error(NONE, L(OB, "OUTBOUND_RELAY=https://gw.example", "OUTBOUND_RELAYS=/a=http://b"),
	    "OUTBOUND_RELAYS must not be set together with OUTBOUND_RELAY");
	expect_error(NONE, NONE, "UPSTREAM is required (flag --upstream)");
	/* HTTPS is the inbound listener's: an outbound-only sidecar has none */
	expect_error(NONE, L(OB, "OUTBOUND_RELAY=https://gw.example", "TLS_CERT_FILE=/etc/passwd",
	    "TLS_KEY_FILE=/etc/passwd"), "TLS_CERT_FILE needs the inbound role");
}

Test(config, outbound_bad_values)
{
	expect_error(NONE, L(OB, "OUTBOUND_RELAY=https://gw.example/api"), "no path, query or fragment");
	expect_error(NONE, L(OB, "OUTBOUND_RELAY=ftp://gw.example"), "http:// or https://");
	expect_error(NONE, L(OB, "OUTBOUND_RELAYS=pay=https://gw.example"), "a prefix starts with '/'");
	expect_error(NONE, L(OB, "OUTBOUND_RELAYS=/pay"), "each entry is a path prefix");
	expect_error(NONE, L(OB, "OUTBOUND_RELAYS=/a=http://x,/a/=http://y"), "each prefix may appear once");
	expect_error(NONE, L(OB, "OUTBOUND_RELAY=http://x", "OUTBOUND_BIND=localhost"),
	    "OUTBOUND_BIND must be an IPv4 or IPv6 address");
}

/* Limits, at the limit and at limit + 1. */
Test(config, outbound_limits)
{
	static char list[(OUTBOUND_RELAYS_MAX + 1) * 32], prefix[OUTBOUND_PREFIX_MAX + 64];
	char pairs[32], tok[OUTBOUND_TOKEN_MIN + 16];
	struct run r;
	size_t o = 0;

	o = (size_t)sprintf(list, "OUTBOUND_RELAYS=");
	for (int i = 0; i < OUTBOUND_RELAYS_MAX; i++)
		o += (size_t)sprintf(list + o, "%s/p%d=http://h%d.example", i ? "," : "", i, i);
	expect_ok(&r, NONE, L(OB, list));
	cr_expect_eq(r.cfg.outbound_count, (size_t)OUTBOUND_RELAYS_MAX);
	done(&r);
	sprintf(list + o, ",/last=http://last.example");
	expect_error(NONE, L(OB, list), "OUTBOUND_RELAYS must have at most 16 entries");

	snprintf(pairs, sizeof pairs, "OUTBOUND_PAIRS=%d", OUTBOUND_PAIRS_MAX);
	expect_ok(&r, NONE, L(OB, "OUTBOUND_RELAY=http://x", pairs));
	done(&r);
	snprintf(pairs, sizeof pairs, "OUTBOUND_PAIRS=%d", OUTBOUND_PAIRS_MAX + 1);
	expect_error(NONE, L(OB, "OUTBOUND_RELAY=http://x", pairs),
	    "OUTBOUND_PAIRS must be a number from 1 to 64");
	expect_error(NONE, L(OB, "OUTBOUND_RELAY=http://x", "OUTBOUND_PAIRS=0"),
	    "OUTBOUND_PAIRS must be a number from 1 to 64");

	o = (size_t)sprintf(prefix, "OUTBOUND_RELAYS=/");
	memset(prefix + o, 'a', OUTBOUND_PREFIX_MAX - 1);
	o += OUTBOUND_PREFIX_MAX - 1;
	sprintf(prefix + o, "=http://x");
	expect_ok(&r, NONE, L(OB, prefix));
	done(&r);
	o = (size_t)sprintf(prefix, "OUTBOUND_RELAYS=/");
	memset(prefix + o, 'a', OUTBOUND_PREFIX_MAX);
	o += OUTBOUND_PREFIX_MAX;
	sprintf(prefix + o, "=http://x");
	expect_error(NONE, L(OB, prefix), "a prefix is too long");

	memset(tok, 0, sizeof tok);
	memcpy(tok, "OUTBOUND_TOKEN=", 15);
	memset(tok + 15, 't', OUTBOUND_TOKEN_MIN);
	expect_ok(&r, NONE, L(OB, "OUTBOUND_RELAY=http://x", tok));
	done(&r);
	tok[15 + OUTBOUND_TOKEN_MIN - 1] = '\0';
	expect_error(NONE, L(OB, "OUTBOUND_RELAY=http://x", tok),
	    "OUTBOUND_TOKEN must be at least 16 bytes");
}

/* OUTBOUND_PORT: 1 to 65535, at each end and one past it, in the outbound
 * role alone and with the inbound one. */
Test(config, outbound_port_limits)
{
	static const char relay[] = "OUTBOUND_RELAY=http://x";
	int base;

	for (base = 0; base <= 1; base++) {
		number_bound("OUTBOUND_PORT", "outbound-port", offsetof(struct config, outbound_port),
		    PORT_MIN, PORT_MIN - 1, PORT_MIN, PORT_MAX, relay, base);
		number_bound("OUTBOUND_PORT", "outbound-port", offsetof(struct config, outbound_port),
		    PORT_MAX, (unsigned long long)PORT_MAX + 1, PORT_MIN, PORT_MAX, relay, base);
	}
	/* a refused port is the one error: the roles are not guessed from it
	 * (no "UPSTREAM is required", no "OUTBOUND_PORT is required") */
	{
		struct run r;
		run(&r, NONE, L("OUTBOUND_PORT=0", relay));
		cr_expect_eq(r.rc, CONFIG_EXIT_USAGE);
		cr_expect_eq(count_lines(r.err), 1, "%s", r.err);
		cr_expect_not_null(strstr(r.err, "OUTBOUND_PORT must be a number from 1 to 65535"),
		    "%s", r.err);
		done(&r);
		/* a refused OUTBOUND_RELAY is not also "required" */
		run(&r, NONE, L("OUTBOUND_PORT=9000", "OUTBOUND_RELAY=notaurl"));
		cr_expect_eq(r.rc, CONFIG_EXIT_USAGE);
		cr_expect_eq(count_lines(r.err), 1, "%s", r.err);
		cr_expect_not_null(strstr(r.err, "OUTBOUND_RELAY must be a partner relay's origin"),
		    "%s", r.err);
		done(&r);
		/* a refused UPSTREAM still asks for the inbound role: what that role
		 * needs and lacks is reported with it */
		run(&r, NONE, L("OUTBOUND_PORT=9000", relay, "UPSTREAM=bad"));
		cr_expect_eq(r.rc, CONFIG_EXIT_USAGE);
		cr_expect_not_null(strstr(r.err, "UPSTREAM must be an http:// or https:// URL"), "%s", r.err);
		cr_expect_not_null(strstr(r.err, "CORS_ORIGINS is required when UPSTREAM is set"),
		    "%s", r.err);
		done(&r);
	}
}
