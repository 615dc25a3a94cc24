/*
 * test_store_redis.c - the Redis backend beyond the shared contract:
 * REDIS_URL parsing, AUTH (ACL user and password-only), wrong password,
 * SELECT, TLS (good, wrong host name, wrong CA, plain server), outages
 * (unreachable at start, killed and restarted, stopped), replies that break
 * the limits, NOSCRIPT, and the key layout.  Real redis-server processes on
 * free ports; a scripted fake server only for replies Redis never sends.
 */
#include "test_store_util.h"

#include <sys/mman.h>

static struct redis_proc rp;
static char tmpdir[64];

static void
fini_all(void)
{
	store_worker_close();
	redis_stop(&rp);
	rm_tree(tmpdir);
}

/* For a scripted server, which answers CLUSTER SLOTS like anything else:
 * cluster detection off (REDIS_CLUSTER=no). */
static struct store_config
fake_config_for(const char *url)
{
	struct store_config c = config_for(url);

	c.redis_cluster = STORE_CLUSTER_NO;
	return c;
}

static void
put_one(const char *cid, const char *pid)
{
	struct store_pair p;

	make_pair(&p, cid, pid, 0x42);
	cr_assert_eq(store_pair_put(&p), STORE_OK);
}

static const char PID1[] = "pair-0001_abcdefgh";

/* Retries op until it returns STORE_OK, for at most ~15 s (back-off max 5 s). */
#define EVENTUALLY_OK(op) do { \
	enum store_status st_ = STORE_UNAVAILABLE; \
	for (int i_ = 0; i_ < 300 && (st_ = (op)) != STORE_OK; i_++) \
		sleep_ms(50); \
	cr_assert_eq(st_, STORE_OK, "%s never recovered", #op); \
} while (0)

/* ---- REDIS_URL ---- */

Test(redis_url, valid_forms, .init = watchdog)
{
	struct store_redis_url u;
	char err[128];

	cr_assert_eq(store_redis_url_parse("redis://localhost", &u, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(u.host, "localhost");
	cr_assert_eq(u.port, 6379);
	cr_assert_eq(u.db, 0);
	cr_assert_eq(u.tls, 0);
	cr_assert_str_eq(u.user, "");
	cr_assert_str_eq(u.pass, "");

	cr_assert_eq(store_redis_url_parse("rediss://u%40x:p%3Aa%2Fs%25s@cache.example:6380/3", &u, err, sizeof err), 0, "%s", err);
	cr_assert_eq(u.tls, 1);
	cr_assert_str_eq(u.user, "u@x");
	cr_assert_str_eq(u.pass, "p:a/s%s");
	cr_assert_str_eq(u.host, "cache.example");
	cr_assert_eq(u.port, 6380);
	cr_assert_eq(u.db, 3);

	cr_assert_eq(store_redis_url_parse("REDIS://:only%20pass@10.0.0.1:1/", &u, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(u.user, "");
	cr_assert_str_eq(u.pass, "only pass");
	cr_assert_eq(u.port, 1);

	/* unencoded '@' and '/' in a password: the host starts after the last '@' */
	cr_assert_eq(store_redis_url_parse("redis://u:p@ss/w@[::1]:6390/15", &u, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(u.pass, "p@ss/w");
	cr_assert_str_eq(u.host, "::1");
	cr_assert_eq(u.port, 6390);
	cr_assert_eq(u.db, 15);

	cr_assert_eq(store_redis_url_parse("redis://[fe80::1]", &u, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(u.host, "fe80::1");
}

Test(redis_url, invalid_forms_never_echo_the_password, .init = watchdog)
{
	static const char *const bad[] = {
		"", "http://host", "redis:/host", "redis://", "redis://:6379", "redis://host:0",
		"redis://host:65536", "redis://host:12x", "redis://host:", "redis://host/abc",
		"redis://host/65536", "redis://host?db=1", "redis://host#x", "redis://ho st",
		"redis://h\x01", "redis://user@host", "redis://user:@host", "redis://:bad%zzSECRET@host",
		"redis://:%00SECRET@host", "redis://:SECRET%4@host", "redis://[::1", "redis://[nothex]:1",
		"redis://[::1]x", "redis://h\xc3\xa9st", "redis://a,b", "redis://host/1/2",
		"redis://@host", "redis://SECRET\x01:pw@host", "redis://:SECRET\x7f@host",
	};
	struct store_redis_url u;
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		cr_assert_eq(store_redis_url_parse(bad[i], &u, err, sizeof err), -1, "accepted: %s", bad[i]);
		cr_assert(err[0] != '\0');
		cr_assert(strstr(err, "SECRET") == NULL, "password in the message: %s", err);
		cr_assert_str_eq(u.pass, "", "nothing left behind");
	}
	cr_assert_eq(store_redis_url_parse(NULL, &u, err, sizeof err), -1);
}

Test(redis_url, limits, .init = watchdog)
{
	struct store_redis_url u;
	char url[STORE_URL_MAX + 64], err[256];
	size_t n;

	/* STORE_URL_MAX bytes: fine; one more: refused (the password is
	 * %-encoded, so it stays under STORE_REDIS_PASS_MAX decoded bytes) */
	n = (size_t)snprintf(url, sizeof url, "redis://:");
	while (n < STORE_URL_MAX - 5)
		n += (size_t)snprintf(url + n, sizeof url - n, "%%41");
	while (n < STORE_URL_MAX - 2)
		url[n++] = 'B';
	n += (size_t)snprintf(url + n, sizeof url - n, "@h");
	cr_assert_eq(n, STORE_URL_MAX);
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(u.host, "h");
	memmove(url + 10, url + 9, n - 9 + 1);      /* one more 'B'-sized byte */
	url[9] = 'B';
	cr_assert_eq(strlen(url), STORE_URL_MAX + 1);
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), STORE_URL_TOO_LONG);
	cr_assert(strstr(err, "longer than") != NULL, "%s", err);

	/* host: STORE_REDIS_HOST_MAX and + 1 */
	n = (size_t)snprintf(url, sizeof url, "redis://");
	memset(url + n, 'h', STORE_REDIS_HOST_MAX + 1);
	url[n + STORE_REDIS_HOST_MAX + 1] = '\0';
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), -1);
	url[n + STORE_REDIS_HOST_MAX] = '\0';
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), 0, "%s", err);
	/* with a port, the host and ":port" (no leading zeros) count together */
	memcpy(url + n + STORE_REDIS_HOST_MAX - 5, ":6379", 6);
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), 0, "%s", err);
	cr_assert_eq(strlen(u.host), STORE_REDIS_HOST_MAX - 5);
	cr_assert_eq(u.port, 6379);
	memcpy(url + n + STORE_REDIS_HOST_MAX - 5, ":06379", 7);
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), 0, "%s", err);
	memcpy(url + n + STORE_REDIS_HOST_MAX - 5, "h:6379", 7);
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), -1);
	cr_assert(strstr(err, "the host name is too long") != NULL, "%s", err);

	/* user: STORE_REDIS_USER_MAX decoded bytes (as %41 escapes) and + 1 */
	n = (size_t)snprintf(url, sizeof url, "redis://");
	for (int i = 0; i < STORE_REDIS_USER_MAX; i++)
		n += (size_t)snprintf(url + n, sizeof url - n, "%%41");
	snprintf(url + n, sizeof url - n, ":pw@h");
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), 0, "%s", err);
	cr_assert_eq(strlen(u.user), STORE_REDIS_USER_MAX);
	snprintf(url + n, sizeof url - n, "A:pw@h");
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), -1);

	/* password: STORE_REDIS_PASS_MAX and + 1 */
	n = (size_t)snprintf(url, sizeof url, "redis://:");
	memset(url + n, 'p', STORE_REDIS_PASS_MAX);
	n += STORE_REDIS_PASS_MAX;
	snprintf(url + n, sizeof url - n, "@h");
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), 0, "%s", err);
	cr_assert_eq(strlen(u.pass), STORE_REDIS_PASS_MAX);
	snprintf(url + n, sizeof url - n, "p@h");
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), -1);

	/* database: STORE_REDIS_DB_MAX and + 1 */
	snprintf(url, sizeof url, "redis://h/%d", STORE_REDIS_DB_MAX);
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), 0, "%s", err);
	cr_assert_eq(u.db, STORE_REDIS_DB_MAX);
	snprintf(url, sizeof url, "redis://h/%d", STORE_REDIS_DB_MAX + 1);
	cr_assert_eq(store_redis_url_parse(url, &u, err, sizeof err), -1);
}

Test(redis_init, bad_url_is_a_config_error, .init = watchdog, .fini = fini_all)
{
	struct store_config c = config_for("redis://:TOPSECRET@host:99999");
	char *log = init_logged(&c, STORE_INIT_BAD_CONFIG);

	cr_assert(strstr(log, "REDIS_URL") != NULL, "%s", log);
	cr_assert(strstr(log, "TOPSECRET") == NULL, "%s", log);
	free(log);
	cr_assert_str_eq(store_backend_name(), "none");
}

/* ---- authentication, database ---- */

Test(redis_auth, acl_user_and_password, .init = watchdog, .fini = fini_all)
{
	static const char *const args[] = {
		"--user", "default", "off",
		"--user", "mte", "on", ">p@ss:w/rd%1", "~mte:*", "+@all", NULL
	};
	char url[160], out[256], *log;
	struct store_config c;
	struct store_pair q;

	redis_start(&rp, args);
	snprintf(url, sizeof url, "redis://mte:p%%40ss%%3Aw%%2Frd%%251@127.0.0.1:%d", rp.port);
	c = config_for(url);
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "state store connected") != NULL, "%s", log);
	cr_assert(strstr(log, "\"auth\":\"acl\"") != NULL, "%s", log);
	cr_assert(strstr(log, "\"tls\":\"no\"") != NULL, "%s", log);
	cr_assert(strstr(log, "rd%1") == NULL && strstr(log, "p@ss") == NULL, "password logged: %s", log);
	free(log);
	put_one(CID_A, PID1);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_OK);
	/* the keys live under mte:, which is all this ACL user may touch */
	RAW(rp.port, "mte p@ss:w/rd%1", out, "EXISTS", "mte:{test-relay:0123456789abcdef0123456789abcdef}:p:pair-0001_abcdefgh");
	cr_assert_str_eq(out, ":1\r\n");
}

Test(redis_auth, password_only_and_select, .init = watchdog, .fini = fini_all)
{
	static const char *const args[] = { "--requirepass", "s3cret", NULL };
	char url[160], out[256], *log;
	struct store_config c;

	redis_start(&rp, args);
	snprintf(url, sizeof url, "redis://:s3cret@127.0.0.1:%d/5", rp.port);
	c = config_for(url);
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "\"auth\":\"password\"") != NULL, "%s", log);
	cr_assert(strstr(log, "\"db\":5") != NULL, "%s", log);
	cr_assert(strstr(log, "s3cret") == NULL, "%s", log);
	free(log);
	put_one(CID_A, PID1);
	RAW(rp.port, "s3cret", out, "DBSIZE");
	cr_assert_str_eq(out, ":0\r\n", "nothing in db 0");
	/* db 5 holds the pair and the client index */
	{
		static const char req[] = "*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n"
		    "*2\r\n$6\r\nSELECT\r\n$1\r\n5\r\n*1\r\n$6\r\nDBSIZE\r\n";
		static const char want[] = "+OK\r\n+OK\r\n:2\r\n";
		int fd = tcp_connect_local(rp.port);
		char buf[256] = "";
		size_t got = 0;
		cr_assert(fd >= 0);
		cr_assert_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
		while (got < sizeof want - 1) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			ssize_t n;
			if (poll(&pf, 1, 3000) <= 0 || (n = read(fd, buf + got, sizeof buf - 1 - got)) <= 0)
				break;
			got += (size_t)n;
			buf[got] = '\0';
		}
		close(fd);
		cr_assert_str_eq(buf, want);
	}
}

Test(redis_auth, wrong_password_is_a_clear_error, .init = watchdog, .fini = fini_all)
{
	static const char *const args[] = { "--user", "default", "off",
		"--user", "mte", "on", ">right", "~*", "+@all", NULL };
	char url[160], *log;
	struct store_config c;
	struct store_pair p, q;
	struct capture cap;

	redis_start(&rp, args);
	snprintf(url, sizeof url, "redis://mte:WRONGpw@127.0.0.1:%d", rp.port);
	c = config_for(url);
	log = init_logged(&c, STORE_INIT_OK);    /* starts anyway */
	cr_assert(strstr(log, "\"level\":\"error\"") != NULL, "%s", log);
	cr_assert(strstr(log, "authentication failed") != NULL, "%s", log);
	cr_assert(strstr(log, "WRONGPASS") != NULL, "Redis's reason is shown: %s", log);
	cr_assert(strstr(log, "WRONGpw") == NULL, "password logged: %s", log);
	free(log);
	make_pair(&p, CID_A, PID1, 1);
	capture_start(&cap);
	cr_assert_eq(store_pair_put(&p), STORE_UNAVAILABLE);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_UNAVAILABLE);
	cr_assert_eq(store_health(), STORE_UNAVAILABLE);
	log = capture_end(&cap);
	cr_assert(strstr(log, "WRONGpw") == NULL, "%s", log);
	free(log);
}

/* ---- outages ---- */

Test(redis_outage, unreachable_at_start_then_recovers, .init = watchdog, .fini = fini_all)
{
	char url[160], *log;
	struct store_config c;
	struct capture cap;
	struct store_pair q;
	int port = free_port();

	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = config_for(url);
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "unreachable at start-up") != NULL, "%s", log);
	cr_assert(strstr(log, "\"host\":\"127.0.0.1\"") != NULL, "%s", log);
	free(log);
	capture_start(&cap);
	cr_assert_eq(store_health(), STORE_UNAVAILABLE);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);  /* in back-off */
	redis_start_args(&rp, port, 0, NULL);
	EVENTUALLY_OK(store_health());
	put_one(CID_A, PID1);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_OK);
	log = capture_end(&cap);
	cr_assert_eq(count_substr(log, "state store unavailable"), 0,
	    "the start-up line already told: %s", log);
	cr_assert_eq(count_substr(log, "state store recovered"), 1, "%s", log);
	free(log);
}

/*
 * Redis killed mid-run: operations fail (503) and keep failing fast while it
 * is down, then work again after a restart without re-init; the outage is
 * logged once across all worker processes.
 */
Test(redis_outage, killed_and_restarted, .init = watchdog, .fini = fini_all)
{
	char url[160], *log;
	struct store_config c;
	struct capture cap;
	struct store_pair q;
	int port, status;
	pid_t kids[3];

	redis_start(&rp, NULL);
	port = rp.port;
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	put_one(CID_A, PID1);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_OK);

	capture_start(&cap);
	redis_kill(&rp, SIGKILL);
	/* Three workers hit the outage; one line is logged for all of them. */
	for (int k = 0; k < 3; k++) {
		kids[k] = fork();
		cr_assert(kids[k] >= 0);
		if (kids[k] == 0) {
			int bad = 0;
			store_worker_init();
			for (int i = 0; i < 20; i++)
				if (store_window_accept(CID_A, PID1, 2) != STORE_UNAVAILABLE)
					bad++;
			_exit(bad);
		}
	}
	for (int k = 0; k < 3; k++) {
		cr_assert_eq(waitpid(kids[k], &status, 0), kids[k]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	redis_start_args(&rp, port, 0, NULL);        /* same port, empty data */
	EVENTUALLY_OK(store_health());
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_NOT_FOUND, "a fresh Redis without persistence");
	put_one(CID_A, PID1);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_OK);
	log = capture_end(&cap);
	cr_assert_eq(count_substr(log, "state store unavailable"), 1, "%s", log);
	cr_assert_eq(count_substr(log, "state store recovered"), 1, "%s", log);
	free(log);

	/* A clean restart (idle connection closed by the server) costs no
	 * failed request: the stale connection is noticed and replaced. */
	redis_kill(&rp, SIGTERM);
	redis_start_args(&rp, port, 0, NULL);
	cr_assert_eq(store_health(), STORE_OK);
}

/* A stopped (hung) Redis: operations time out instead of hanging, then work
 * again when it continues. */
Test(redis_outage, stopped_server_times_out, .init = watchdog, .fini = fini_all)
{
	char url[160], *log;
	struct store_config c;
	struct capture cap;
	struct store_pair q;

	redis_start(&rp, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
	c = config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	put_one(CID_A, PID1);
	capture_start(&cap);
	kill(rp.pid, SIGSTOP);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	kill(rp.pid, SIGCONT);
	EVENTUALLY_OK(store_pair_get(CID_A, PID1, &q));
	log = capture_end(&cap);
	cr_assert(strstr(log, "timed out") != NULL, "%s", log);
	cr_assert_eq(count_substr(log, "state store unavailable"), 1, "%s", log);
	free(log);
}

/* ---- what the store writes ---- */

Test(redis_data, key_layout_and_ttl, .init = watchdog, .fini = fini_all)
{
	char url[160], out[4096];
	struct store_config c;
	const char *pk = "mte:{test-relay:0123456789abcdef0123456789abcdef}:p:pair-0001_abcdefgh";
	const char *ik = "mte:{test-relay:0123456789abcdef0123456789abcdef}:pairs";
	long ttl;

	redis_start(&rp, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
	c = config_for(url);
	c.state_ttl = 100;
	free(init_logged(&c, STORE_INIT_OK));
	put_one(CID_A, PID1);
	cr_assert_eq(store_window_accept(CID_A, PID1, 18446744073709551615ULL), STORE_OK);
	RAW(rp.port, NULL, out, "TYPE", pk);
	cr_assert_str_eq(out, "+hash\r\n");
	RAW(rp.port, NULL, out, "TYPE", ik);
	cr_assert_str_eq(out, "+zset\r\n");
	RAW(rp.port, NULL, out, "HGET", pk, "hi");
	cr_assert_str_eq(out, "$20\r\n18446744073709551615\r\n", "hi kept exactly as decimal");
	RAW(rp.port, NULL, out, "HGET", pk, "w");
	cr_assert_str_eq(out, "$4\r\n1024\r\n");
	RAW(rp.port, NULL, out, "HSTRLEN", pk, "bm");
	cr_assert_str_eq(out, ":128\r\n");
	RAW(rp.port, NULL, out, "HSTRLEN", pk, "k_req");
	cr_assert_str_eq(out, ":32\r\n");
	RAW(rp.port, NULL, out, "PTTL", pk);
	cr_assert(sscanf(out, ":%ld", &ttl) == 1 && ttl > 90000 && ttl <= 100000, "%s", out);
	RAW(rp.port, NULL, out, "PTTL", ik);
	cr_assert(sscanf(out, ":%ld", &ttl) == 1 && ttl > 90000 && ttl <= 100000, "%s", out);
	RAW(rp.port, NULL, out, "ZRANGE", ik, "0", "-1");
	cr_assert_str_eq(out, "*1\r\n$18\r\npair-0001_abcdefgh\r\n");
	/* delete leaves the index entry; the next put drops it */
	cr_assert_eq(store_pair_delete(CID_A, PID1), STORE_OK);
	put_one(CID_A, "pair-0002_abcdefgh");
	RAW(rp.port, NULL, out, "ZRANGE", ik, "0", "-1");
	cr_assert_str_eq(out, "*1\r\n$18\r\npair-0002_abcdefgh\r\n");
}

/* A fresh pair gets FRESH_PAIR_TTL, its first accept STATE_TTL; the index
 * never expires before the client's longest-lived pair; rate counters live
 * in their own slot and expire with their window. */
Test(redis_data, fresh_pair_ttl_and_rate_keys, .init = watchdog, .fini = fini_all)
{
	char url[160], out[4096];
	struct store_config c;
	const char *pk = "mte:{test-relay:0123456789abcdef0123456789abcdef}:p:pair-0001_abcdefgh";
	const char *pk2 = "mte:{test-relay:0123456789abcdef0123456789abcdef}:p:pair-0002_abcdefgh";
	const char *ik = "mte:{test-relay:0123456789abcdef0123456789abcdef}:pairs";
	const char *rk = "mte:{test-relay:r:c:0123456789abcdef0123456789abcdef}";
	unsigned retry;
	long ttl;

	redis_start(&rp, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
	c = config_for(url);
	c.state_ttl = 100;
	c.fresh_pair_ttl = 10;
	free(init_logged(&c, STORE_INIT_OK));
	put_one(CID_A, PID1);
	RAW(rp.port, NULL, out, "PTTL", pk);
	cr_assert(sscanf(out, ":%ld", &ttl) == 1 && ttl > 9000 && ttl <= 10000, "%s", out);
	RAW(rp.port, NULL, out, "PTTL", ik);
	cr_assert(sscanf(out, ":%ld", &ttl) == 1 && ttl > 9000 && ttl <= 10000, "%s", out);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_OK);
	RAW(rp.port, NULL, out, "PTTL", pk);
	cr_assert(sscanf(out, ":%ld", &ttl) == 1 && ttl > 90000 && ttl <= 100000, "%s", out);
	/* a later fresh put must not shorten the index below the used pair */
	put_one(CID_A, "pair-0002_abcdefgh");
	RAW(rp.port, NULL, out, "PTTL", pk2);
	cr_assert(sscanf(out, ":%ld", &ttl) == 1 && ttl > 9000 && ttl <= 10000, "%s", out);
	RAW(rp.port, NULL, out, "PTTL", ik);
	cr_assert(sscanf(out, ":%ld", &ttl) == 1 && ttl > 90000 && ttl <= 100000, "%s", out);

	cr_assert_eq(store_rate_take("c:0123456789abcdef0123456789abcdef", 3, 64, 60, &retry), STORE_OK);
	RAW(rp.port, NULL, out, "GET", rk);
	cr_assert_str_eq(out, "$1\r\n3\r\n");
	RAW(rp.port, NULL, out, "PTTL", rk);
	cr_assert(sscanf(out, ":%ld", &ttl) == 1 && ttl > 50000 && ttl <= 60000, "%s", out);
	/* FRESH_PAIR_TTL above STATE_TTL: STATE_TTL */
	c.fresh_pair_ttl = 1000;
	free(init_logged(&c, STORE_INIT_OK));
	put_one(CID_A, "pair-0003_abcdefgh");
	RAW(rp.port, NULL, out, "PTTL", "mte:{test-relay:0123456789abcdef0123456789abcdef}:p:pair-0003_abcdefgh");
	cr_assert(sscanf(out, ":%ld", &ttl) == 1 && ttl > 90000 && ttl <= 100000, "%s", out);
}

/* A pair stored before generations (no g field) has generation 0: it
 * still works, and only for generation 0. */
Test(redis_data, pair_without_generation, .init = watchdog, .fini = fini_all)
{
	char url[160], out[4096];
	struct store_config c;
	struct store_pair q;
	const char *pk = "mte:{test-relay:0123456789abcdef0123456789abcdef}:p:pair-0001_abcdefgh";

	redis_start(&rp, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
	c = config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	put_one(CID_A, PID1);
	RAW(rp.port, NULL, out, "HEXISTS", pk, "g");
	cr_assert_str_eq(out, ":1\r\n");
	RAW(rp.port, NULL, out, "HDEL", pk, "g");
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_OK);
	cr_assert_eq(q.generation, 0u);
	cr_assert_eq(store_window_accept_gen(CID_A, PID1, 7, 1), STORE_STALE);
	cr_assert_eq(store_window_accept_gen(CID_A, PID1, 0, 1), STORE_OK);
}

Test(redis_data, noscript_falls_back_to_eval, .init = watchdog, .fini = fini_all)
{
	char url[160], out[256];
	struct store_config c;

	redis_start(&rp, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
	c = config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	put_one(CID_A, PID1);
	cr_assert_eq(store_window_accept(CID_A, PID1, 5), STORE_OK);
	RAW(rp.port, NULL, out, "SCRIPT", "FLUSH");
	cr_assert_str_eq(out, "+OK\r\n");
	cr_assert_eq(store_window_accept(CID_A, PID1, 6), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 6), STORE_REPLAY);
	RAW(rp.port, NULL, out, "SCRIPT", "FLUSH");
	put_one(CID_A, "pair-0002_abcdefgh");
}

/* A window stored under another W (REPLAY_WINDOW changed between runs)
 * counts every seq <= hi as seen: no replay gets in. */
Test(redis_data, window_size_change_is_safe, .init = watchdog, .fini = fini_all)
{
	char url[160];
	struct store_config c;

	redis_start(&rp, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
	c = config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	put_one(CID_A, PID1);
	cr_assert_eq(store_window_accept(CID_A, PID1, 10), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 8), STORE_OK);
	c.replay_window = 512;
	free(init_logged(&c, STORE_INIT_OK));
	cr_assert_eq(store_window_accept(CID_A, PID1, 8), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, 9), STORE_REPLAY, "unknown: treated as seen");
	cr_assert_eq(store_window_accept(CID_A, PID1, 11), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 9), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_A, PID1, 12 + 600), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 12 + 600 - 511), STORE_OK, "cleared by the slide");
}

Test(redis_data, stored_values_are_checked, .init = watchdog, .fini = fini_all)
{
	const char *pk = "mte:{test-relay:0123456789abcdef0123456789abcdef}:p:pair-0001_abcdefgh";
	char url[160], out[256], *big;
	struct store_config c;
	struct store_pair q;
	struct capture cap;
	char *log;

	redis_start(&rp, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
	c = config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	put_one(CID_A, PID1);
	capture_start(&cap);
	/* 31 bytes: refused */
	RAW(rp.port, NULL, out, "HSET", pk, "k_req", "0123456789012345678901234567890");
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	/* only one key present */
	RAW(rp.port, NULL, out, "HDEL", pk, "k_req");
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	/* wrong type under the key: an error reply, the connection stays */
	RAW(rp.port, NULL, out, "DEL", pk);
	RAW(rp.port, NULL, out, "SET", pk, "x");
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_UNAVAILABLE);
	cr_assert_eq(store_health(), STORE_OK, "no back-off after an error reply");
	/* a reply longer than STORE_REPLY_MAX: refused, connection dropped */
	big = malloc(STORE_REPLY_MAX + 1);
	cr_assert(big != NULL);
	memset(big, 'k', STORE_REPLY_MAX);
	big[STORE_REPLY_MAX] = '\0';
	RAW(rp.port, NULL, out, "DEL", pk);
	RAW(rp.port, NULL, out, "HSET", pk, "k_req", big, "k_res", "y");
	free(big);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	RAW(rp.port, NULL, out, "DEL", pk);
	EVENTUALLY_OK(store_health());
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_NOT_FOUND);
	log = capture_end(&cap);
	cr_assert(strstr(log, "not 32 bytes") != NULL, "%s", log);
	cr_assert(strstr(log, "reply longer than") != NULL, "%s", log);
	free(log);
}

/* ---- replies Redis never sends: a scripted server ---- */

static pid_t fake_server_counting(int *port_out, const char *reply, int *accepts);

static pid_t
fake_server(int *port_out, const char *reply)
{
	return fake_server_counting(port_out, reply, NULL);
}

/* Answers every read on every connection with reply; counts connections
 * in *accepts (shared memory) when given. */
static pid_t
fake_server_counting(int *port_out, const char *reply, int *accepts)
{
	return scripted_server(listen_local(port_out), reply, NULL, accepts, NULL);
}

Test(redis_replies, too_many_elements_and_garbage, .init = watchdog, .fini = fini_all)
{
	char url[64], reply[512], *log;
	struct store_config c;
	struct store_pair q;
	struct capture cap;
	int port, n;
	pid_t fake;

	/* STORE_REPLY_ELEMENTS_MAX + 1 elements: refused before anything is sized */
	n = snprintf(reply, sizeof reply, "*%d\r\n", STORE_REPLY_ELEMENTS_MAX + 1);
	for (int i = 0; i <= STORE_REPLY_ELEMENTS_MAX; i++)
		n += snprintf(reply + n, sizeof reply - (size_t)n, ":1\r\n");
	fake = fake_server(&port, reply);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = fake_config_for(url);
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "unreachable") != NULL, "%s", log);
	cr_assert(strstr(log, "more than 16 elements") != NULL, "%s", log);
	free(log);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);

	/* STORE_REPLY_ELEMENTS_MAX elements: parsed, then refused as unexpected */
	n = snprintf(reply, sizeof reply, "*%d\r\n", STORE_REPLY_ELEMENTS_MAX);
	for (int i = 0; i < STORE_REPLY_ELEMENTS_MAX; i++)
		n += snprintf(reply + n, sizeof reply - (size_t)n, ":1\r\n");
	fake = fake_server(&port, reply);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = fake_config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	capture_start(&cap);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	log = capture_end(&cap);
	cr_assert(strstr(log, "unexpected reply to HMGET") != NULL, "%s", log);
	free(log);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);

	/* not RESP at all */
	fake = fake_server(&port, "hello\r\n");
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = fake_config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_UNAVAILABLE);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);

	/* two replies to one command */
	fake = fake_server(&port, "+PONG\r\n+PONG\r\n");
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = fake_config_for(url);
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "unexpected data after the reply") != NULL, "%s", log);
	free(log);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);

	/* keys of the wrong length, and a script answer out of range */
	fake = fake_server(&port, "*3\r\n$33\r\n012345678901234567890123456789012\r\n$32\r\n01234567890123456789012345678901\r\n$-1\r\n");
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = fake_config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	capture_start(&cap);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	log = capture_end(&cap);
	cr_assert(strstr(log, "not 32 bytes") != NULL, "%s", log);
	free(log);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	/* a generation that is not a decimal u64 */
	fake = fake_server(&port, "*3\r\n$32\r\n01234567890123456789012345678901\r\n$32\r\n01234567890123456789012345678901\r\n$21\r\n184467440737095516160\r\n");
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = fake_config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	capture_start(&cap);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	log = capture_end(&cap);
	cr_assert(strstr(log, "generation is not a decimal number") != NULL, "%s", log);
	free(log);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	fake = fake_server(&port, ":2\r\n");
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = fake_config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	capture_start(&cap);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_UNAVAILABLE);
	log = capture_end(&cap);
	cr_assert(strstr(log, "unexpected reply to the window script") != NULL, "%s", log);
	free(log);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
}

/*
 * A scripted server that answers by what it is asked: each read (one
 * command) gets the reply of the first rule whose match it contains
 * (match NULL: any read), none when no rule matches.  hits[k] (shared
 * memory, may be NULL) counts the reads rule k answered.  Each connection
 * is served by a process of its own (workers connect side by side).
 */
struct fake_rule {
	const char *match;
	const char *reply;
};

static pid_t
rule_server(int *port_out, const struct fake_rule *rules, size_t nrules, int *hits)
{
	int ls = listen_local(port_out);
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_IGN);
		for (;;) {
			int fd = accept(ls, NULL, NULL);
			char buf[8192];
			ssize_t n;
			if (fd < 0)
				continue;
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			if (fork() != 0) {
				close(fd);
				continue;
			}
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(ls);
			while ((n = read(fd, buf, sizeof buf)) > 0) {
				size_t k, len, off = 0;
				for (k = 0; k < nrules; k++)
					if (rules[k].match == NULL
					    || memmem(buf, (size_t)n, rules[k].match, strlen(rules[k].match)) != NULL)
						break;
				if (k == nrules)
					continue;
				if (hits != NULL)
					__atomic_fetch_add(&hits[k], 1, __ATOMIC_RELAXED);
				len = strlen(rules[k].reply);
				while (off < len) {
					ssize_t w = write(fd, rules[k].reply + off, len - off);
					if (w <= 0)
						break;
					off += (size_t)w;
				}
			}
			_exit(0);
		}
	}
	close(ls);
	return pid;
}

/* An error reply "-NOSCRIPT ...\r\n" of exactly len bytes (malloc'd). */
static char *
noscript_reply_of_len(size_t len)
{
	char *r = malloc(len + 1);

	cr_assert(r != NULL && len > sizeof "-NOSCRIPT \r\n");
	memcpy(r, "-NOSCRIPT ", 10);
	memset(r + 10, 'n', len - 12);
	memcpy(r + len - 2, "\r\n", 3);
	cr_assert_eq(strlen(r), len);
	return r;
}

/*
 * STORE_REPLY_MAX counts the whole reply as it comes off the wire (RESP
 * framing included; read_reply in redis.c).  The EVALSHA of the window
 * script is answered with a NOSCRIPT error of exactly that many bytes: it
 * is read, so the store sends the script (EVAL) and the accept succeeds.
 * One byte more: the reply is refused, the connection dropped, the script
 * never sent, STORE_UNAVAILABLE and the reason logged.
 */
enum { RR_PING, RR_EVALSHA, RR_EVAL, RR_RULES };

/* A scripted server answering EVALSHA with a NOSCRIPT error of len bytes,
 * the store connected to it; one window accept, with its result, the
 * commands the server saw (hits) and the log.  Returns the server's pid. */
static pid_t
accept_with_reply_of(size_t len, int *hits, enum store_status *st, char **log)
{
	struct fake_rule rules[RR_RULES] = {
		[RR_PING] = { "PING", "+PONG\r\n" },
		[RR_EVALSHA] = { "EVALSHA", NULL },
		[RR_EVAL] = { "EVAL", ":1\r\n" },
	};
	char url[64], *big, *init_log;
	struct store_config c;
	struct capture cap;
	int port;
	pid_t fake;

	big = noscript_reply_of_len(len);
	rules[RR_EVALSHA].reply = big;
	memset(hits, 0, RR_RULES * sizeof *hits);
	fake = rule_server(&port, rules, RR_RULES, hits);
	free(big);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = fake_config_for(url);
	init_log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(init_log, "state store connected") != NULL, "%s", init_log);
	free(init_log);
	capture_start(&cap);
	*st = store_window_accept(CID_A, PID1, 1);
	*log = capture_end(&cap);
	return fake;
}

Test(redis_replies, reply_bytes_limit, .init = watchdog, .fini = fini_all)
{
	char want[64], *log;
	enum store_status st;
	int *hits;
	pid_t fake;

	hits = mmap(NULL, RR_RULES * sizeof *hits, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(hits != MAP_FAILED);
	snprintf(want, sizeof want, "reply longer than %d bytes", STORE_REPLY_MAX);

	/* exactly STORE_REPLY_MAX bytes: read */
	fake = accept_with_reply_of(STORE_REPLY_MAX, hits, &st, &log);
	cr_assert_eq(st, STORE_OK);
	cr_assert_eq(__atomic_load_n(&hits[RR_EVALSHA], __ATOMIC_RELAXED), 1);
	cr_assert_eq(__atomic_load_n(&hits[RR_EVAL], __ATOMIC_RELAXED), 1, "NOSCRIPT was read: the script sent");
	cr_assert(strstr(log, "reply longer than") == NULL, "%s", log);
	cr_assert(strstr(log, "state store unavailable") == NULL, "%s", log);
	free(log);
	store_worker_close();
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);

	/* STORE_REPLY_MAX + 1 bytes: refused */
	fake = accept_with_reply_of(STORE_REPLY_MAX + 1, hits, &st, &log);
	cr_assert_eq(st, STORE_UNAVAILABLE);
	cr_assert_eq(__atomic_load_n(&hits[RR_EVALSHA], __ATOMIC_RELAXED), 1);
	cr_assert_eq(__atomic_load_n(&hits[RR_EVAL], __ATOMIC_RELAXED), 0, "the reply was not taken");
	cr_assert(strstr(log, want) != NULL, "%s", log);
	cr_assert_eq(count_substr(log, "state store unavailable"), 1, "%s", log);
	free(log);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	munmap(hits, RR_RULES * sizeof *hits);
}

/*
 * STORE_ERROR_LOG_INTERVAL_MS: a burst of commands that Redis answers with
 * an error (far fewer than fill the interval) logs one "state store command
 * failed" line per process: every command reaches the server and fails,
 * one line is written.  A forked worker has a limit of its own (one line),
 * the parent's stays spent; a new store starts a new one.
 */
#define ERROR_BURST 40

static int
failing_burst(void)
{
	struct store_pair q;
	struct store_slot s;
	unsigned retry;
	int bad = 0;

	for (int i = 0; i < ERROR_BURST; i++) {
		enum store_status st;
		switch (i % 4) {
		case 0:  st = store_pair_get(CID_A, PID1, &q); break;
		case 1:  st = store_window_accept(CID_A, PID1, (uint64_t)i); break;
		case 2:  st = store_rate_take("c:0123456789abcdef0123456789abcdef", 1, 10, 60, &retry); break;
		default: st = store_slot_get("ob:burst", 1, &s); break;
		}
		bad += st != STORE_UNAVAILABLE;
	}
	return bad;
}

Test(redis_replies, command_error_log_is_rate_limited, .init = watchdog, .fini = fini_all)
{
	enum { R_PING, R_ANY, NRULES };
	static const struct fake_rule rules[NRULES] = {
		[R_PING] = { "PING", "+PONG\r\n" },
		[R_ANY] = { NULL, "-ERR boom\r\n" },
	};
	char url[64], *log;
	struct store_config c;
	struct capture cap;
	int port, *hits, status;
	pid_t fake, kid;

	hits = mmap(NULL, NRULES * sizeof *hits, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(hits != MAP_FAILED);
	memset(hits, 0, NRULES * sizeof *hits);
	fake = rule_server(&port, rules, NRULES, hits);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = fake_config_for(url);
	free(init_logged(&c, STORE_INIT_OK));

	capture_start(&cap);
	cr_assert_eq(failing_burst(), 0, "every command of the burst fails");
	log = capture_end(&cap);
	cr_assert_eq(__atomic_load_n(&hits[R_ANY], __ATOMIC_RELAXED), ERROR_BURST,
	    "every command reached the server");
	cr_assert_eq(count_substr(log, "state store command failed"), 1, "%s", log);
	cr_assert_eq(count_substr(log, "redis error: ERR boom"), 1, "%s", log);
	cr_assert_eq(count_substr(log, "state store unavailable"), 0, "an error reply is no outage: %s", log);
	free(log);

	/* a worker: its own line; the parent: still none */
	capture_start(&cap);
	kid = fork();
	cr_assert(kid >= 0);
	if (kid == 0) {
		store_worker_init();
		_exit(failing_burst() == 0 ? 0 : 1);
	}
	cr_assert_eq(waitpid(kid, &status, 0), kid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(failing_burst(), 0);
	log = capture_end(&cap);
	cr_assert_eq(__atomic_load_n(&hits[R_ANY], __ATOMIC_RELAXED), 3 * ERROR_BURST,
	    "the worker's commands too");
	cr_assert_eq(count_substr(log, "state store command failed"), 1, "%s", log);
	free(log);

	/* a new store: a new limit */
	free(init_logged(&c, STORE_INIT_OK));
	capture_start(&cap);
	cr_assert_eq(failing_burst(), 0);
	log = capture_end(&cap);
	cr_assert_eq(count_substr(log, "state store command failed"), 1, "%s", log);
	free(log);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	munmap(hits, NRULES * sizeof *hits);
}

/* ---- TLS ---- */

/* A TLS-only redis-server on port (0: a free one); the first call makes
 * the certificates. */
static void
start_tls_redis_on(int port)
{
	char cert[128], key[128], ca[128];
	const char *args[16];
	int n = 0;

	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof tmpdir, "/tmp/mte-tls-XXXXXX");
		cr_assert(mkdtemp(tmpdir) != NULL);
		make_tls_material(tmpdir);
	}
	snprintf(cert, sizeof cert, "%s/server.crt", tmpdir);
	snprintf(key, sizeof key, "%s/server.key", tmpdir);
	snprintf(ca, sizeof ca, "%s/ca.crt", tmpdir);
	args[n++] = "--tls-cert-file"; args[n++] = cert;
	args[n++] = "--tls-key-file";  args[n++] = key;
	args[n++] = "--tls-ca-cert-file"; args[n++] = ca;
	args[n++] = "--tls-auth-clients"; args[n++] = "no";
	args[n++] = "--requirepass"; args[n++] = "tlspw";
	args[n] = NULL;
	redis_start_args(&rp, port, 1, args);
}

static void
start_tls_redis(void)
{
	start_tls_redis_on(0);
}

Test(redis_tls, verified_connection, .init = watchdog, .fini = fini_all)
{
	char url[160], ca[128], *log;
	struct store_config c;
	struct store_pair q;

	start_tls_redis();
	snprintf(url, sizeof url, "rediss://:tlspw@localhost:%d", rp.tls_port);
	snprintf(ca, sizeof ca, "%s/ca.crt", tmpdir);
	c = config_for(url);
	c.redis_ca_file = ca;
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "state store connected") != NULL, "%s", log);
	cr_assert(strstr(log, "\"tls\":\"yes\"") != NULL, "%s", log);
	free(log);
	put_one(CID_A, PID1);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_OK);
	for (uint64_t s = 1; s <= 200; s++)
		cr_assert_eq(store_window_accept(CID_A, PID1, s), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID1, 100), STORE_REPLAY);
	/* a server restart closes the idle TLS connection; the next call
	 * notices and reconnects without failing */
	{
		int port = rp.tls_port;
		redis_kill(&rp, SIGTERM);
		start_tls_redis_on(port);
	}
	cr_assert_eq(store_health(), STORE_OK);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_NOT_FOUND, "a fresh server");
}

Test(redis_tls, server_name_is_checked, .init = watchdog, .fini = fini_all)
{
	char url[160], ca[128], *log;
	struct store_config c;

	start_tls_redis();
	/* the certificate names "localhost", not "127.0.0.1" */
	snprintf(url, sizeof url, "rediss://:tlspw@127.0.0.1:%d", rp.tls_port);
	snprintf(ca, sizeof ca, "%s/ca.crt", tmpdir);
	c = config_for(url);
	c.redis_ca_file = ca;
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "does not match the host name") != NULL, "%s", log);
	free(log);
	cr_assert_eq(store_health(), STORE_UNAVAILABLE);
}

Test(redis_tls, wrong_ca_is_rejected, .init = watchdog, .fini = fini_all)
{
	char url[160], ca[128], *log;
	struct store_config c;

	start_tls_redis();
	snprintf(url, sizeof url, "rediss://:tlspw@localhost:%d", rp.tls_port);
	snprintf(ca, sizeof ca, "%s/other-ca.crt", tmpdir);
	c = config_for(url);
	c.redis_ca_file = ca;
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "not trusted") != NULL, "%s", log);
	free(log);
	cr_assert_eq(store_health(), STORE_UNAVAILABLE);
	/* the system bundle does not know the throwaway CA either */
	c.redis_ca_file = NULL;
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "not trusted") != NULL, "%s", log);
	free(log);
}

Test(redis_tls, tls_to_a_plain_server_fails_cleanly, .init = watchdog, .fini = fini_all)
{
	char url[160], *log;
	struct store_config c;

	redis_start(&rp, NULL);
	snprintf(url, sizeof url, "rediss://localhost:%d", rp.port);
	c = config_for(url);
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "unreachable") != NULL && strstr(log, "TLS") != NULL, "%s", log);
	free(log);
	cr_assert_eq(store_health(), STORE_UNAVAILABLE);
}

Test(redis_tls, bad_ca_file_is_a_config_error, .init = watchdog, .fini = fini_all)
{
	struct store_config c = config_for("rediss://localhost:6390");
	char *log;

	c.redis_ca_file = "/nonexistent/ca.pem";
	log = init_logged(&c, STORE_INIT_BAD_CONFIG);
	cr_assert(strstr(log, "REDIS_CA_FILE") != NULL, "%s", log);
	free(log);
	c.redis_ca_file = "/dev/null";
	log = init_logged(&c, STORE_INIT_BAD_CONFIG);
	cr_assert(strstr(log, "no usable certificate") != NULL, "%s", log);
	free(log);
}

/* While backing off, operations fail without touching the network: 200
 * calls against a server that always fails make a handful of connection
 * attempts (100 ms, 200 ms, 400 ms ... apart), not 200. */
Test(redis_replies, backoff_does_not_touch_the_network, .init = watchdog, .fini = fini_all)
{
	char url[64];
	struct store_config c;
	struct store_pair q;
	int port, *accepts;
	pid_t fake;

	accepts = mmap(NULL, sizeof *accepts, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(accepts != MAP_FAILED);
	*accepts = 0;
	fake = fake_server_counting(&port, "-ERR not redis\r\n:1\r\n", accepts);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	cr_assert_eq(__atomic_load_n(accepts, __ATOMIC_RELAXED), 1, "the start-up check");
	for (int i = 0; i < 200; i++)
		cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_UNAVAILABLE);
	cr_assert(__atomic_load_n(accepts, __ATOMIC_RELAXED) <= 6, "%d connection attempts",
	    __atomic_load_n(accepts, __ATOMIC_RELAXED));
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	munmap(accepts, sizeof *accepts);
}

/* A child that inherits a live connection and forgets store_worker_init()
 * still gets its own: parent and child never share one socket (their
 * replies would cross). */
Test(redis_data, forked_child_never_shares_the_connection, .init = watchdog, .fini = fini_all)
{
	char url[160];
	struct store_config c;
	struct store_pair q;
	int status;
	pid_t kid;

	redis_start(&rp, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
	c = config_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	put_one(CID_A, PID1);
	cr_assert_eq(store_window_accept(CID_A, PID1, 1), STORE_OK);   /* parent connected */
	kid = fork();
	cr_assert(kid >= 0);
	if (kid == 0) {
		int bad = 0;
		for (uint64_t s = 2; s < 300; s += 2)
			if (store_window_accept(CID_A, PID1, s) != STORE_OK)
				bad++;
		_exit(bad ? 1 : 0);
	}
	for (uint64_t s = 3; s < 300; s += 2)
		cr_assert_eq(store_window_accept(CID_A, PID1, s), STORE_OK, "seq %" PRIu64, s);
	cr_assert_eq(waitpid(kid, &status, 0), kid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (uint64_t s = 1; s < 300; s++)
		cr_assert_eq(store_window_accept(CID_A, PID1, s), STORE_REPLAY);
	cr_assert_eq(store_pair_get(CID_A, PID1, &q), STORE_OK);
}
