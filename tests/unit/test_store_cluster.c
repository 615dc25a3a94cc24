/*
 * test_store_cluster.c - the Redis Cluster client (src/store/cluster.c,
 * redis.c): the slot hash, MOVED/ASK parsing and CLUSTER SLOTS maps at and
 * beyond their limits (pure functions); then against real clusters made by
 * the test (redis-server --cluster-enabled yes, redis-cli --cluster create,
 * loopback only): detection, the db != 0 configuration error, keys spread
 * over every primary, NOSCRIPT per node, a slot migrated step by step
 * (ASK, then MOVED) without a failed or twice-accepted seq, the redirection
 * limit (a scripted node that always redirects), REDIS_WAIT_REPLICAS (in a
 * cluster and on a single node with a replica), a primary killed under
 * REDIS_WAIT_REPLICAS=1, a TLS cluster (tls-cluster yes) with an ACL user,
 * the node label limit of the store metrics, and the REDIS_CLUSTER /
 * REDIS_WAIT_REPLICAS settings.
 */
#include "test_store_util.h"
#include "store/cluster.h"
#include "metrics.h"

#include <sys/mman.h>

static struct redis_cluster cl;
static struct redis_proc rp;

static void
fini_all(void)
{
	store_worker_close();
	cluster_stop(&cl);
	redis_stop(&rp);
}

/* The Redis tests' settings, SERVER_ID test-cluster, W = 64. */
static struct store_config
cfg_for(const char *url)
{
	struct store_config c = config_for(url);

	c.server_id = "test-cluster";
	c.replay_window = 64;
	return c;
}

/* Client id number i: 32 hex digits. */
static void
cid_of(char out[33], unsigned i)
{
	snprintf(out, 33, "%08x%024x", i * 2654435761u, i);
}

static const char PID[] = "pair-0001_abcdefgh";

/* ---- pure: slot hash ---- */

Test(cluster_pure, key_slot)
{
	cr_assert_eq(cluster_key_slot("123456789", 9), 12739);      /* CRC16-XMODEM 0x31C3 */
	cr_assert_eq(cluster_key_slot("foo", 3), 12182);
	cr_assert_eq(cluster_key_slot("{user1000}.following", 20), cluster_key_slot("{user1000}.followers", 20));
	cr_assert_eq(cluster_key_slot("{user1000}.following", 20), cluster_key_slot("user1000", 8));
	/* an empty tag does not count: the whole key is hashed */
	cr_assert_neq(cluster_key_slot("foo{}{bar}", 10), cluster_key_slot("bar", 3));
	cr_assert_eq(cluster_key_slot("foo{{bar}}zap", 13), cluster_key_slot("{bar", 4));
	cr_assert_eq(cluster_key_slot("mte:{s:c}:p:x", 13), cluster_key_slot("mte:{s:c}:pairs", 15));
}

/* ---- pure: MOVED / ASK ---- */

Test(cluster_pure, redirects)
{
	struct cluster_redirect r;
	char buf[600];

	cr_assert_eq(cluster_parse_redirect("MOVED 3999 127.0.0.1:6381", 25, &r), 0);
	cr_assert(r.kind == CLUSTER_MOVED && r.slot == 3999 && r.port == 6381);
	cr_assert_str_eq(r.host, "127.0.0.1");
	cr_assert_eq(cluster_parse_redirect("ASK 16383 ::1:7000", 18, &r), 0);
	cr_assert(r.kind == CLUSTER_ASK && r.slot == 16383 && r.port == 7000);
	cr_assert_str_eq(r.host, "::1");
	cr_assert_eq(cluster_parse_redirect("MOVED 0 :7000", 13, &r), 0);   /* same host */
	cr_assert_str_eq(r.host, "");
	cr_assert_eq(cluster_parse_redirect("MOVED 1 node-1.example.com:6379", 31, &r), 0);
	cr_assert_str_eq(r.host, "node-1.example.com");
	static const char *const bad[] = {
		"MOVED 16384 h:1", "MOVED 1 h:0", "MOVED 1 h:65536", "MOVED 1 h", "MOVED x h:1",
		"MOVED  1 h:1", "MOVEDX 1 h:1", "MOVED 1 h o:1", "MOVED 1 h:1x", "ERR MOVED 1 h:1",
		"ASK 1 h\n:1", "MOVED 000001 h:1", "TRYAGAIN x", "",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(cluster_parse_redirect(bad[i], strlen(bad[i]), &r), -1, "%s", bad[i]);
	/* the host: STORE_REDIS_HOST_MAX bytes, then one more */
	memset(buf, 0, sizeof buf);
	memcpy(buf, "MOVED 1 ", 8);
	memset(buf + 8, 'h', STORE_REDIS_HOST_MAX);
	memcpy(buf + 8 + STORE_REDIS_HOST_MAX, ":1", 2);
	cr_assert_eq(cluster_parse_redirect(buf, strlen(buf), &r), 0);
	cr_assert_eq(strlen(r.host), STORE_REDIS_HOST_MAX);
	memset(buf + 8, 'h', STORE_REDIS_HOST_MAX + 1);
	memcpy(buf + 8 + STORE_REDIS_HOST_MAX + 1, ":1", 2);
	cr_assert_eq(cluster_parse_redirect(buf, strlen(buf), &r), -1);
}

/* ---- pure: CLUSTER SLOTS maps ---- */

/* A CLUSTER SLOTS reply: nranges equal ranges over all slots, range k
 * served by primary 127.0.0.1:(7000 + k % nnodes) with one replica. */
static size_t
slots_reply(char *buf, size_t cap, unsigned nranges, unsigned nnodes)
{
	size_t n = (size_t)snprintf(buf, cap, "*%u\r\n", nranges);

	for (unsigned k = 0; k < nranges; k++) {
		unsigned a = k * CLUSTER_SLOTS / nranges, b = (k + 1) * CLUSTER_SLOTS / nranges - 1;
		n += (size_t)snprintf(buf + n, cap - n, "*4\r\n:%u\r\n:%u\r\n"
		    "*3\r\n$9\r\n127.0.0.1\r\n:%u\r\n$2\r\nid\r\n"
		    "*3\r\n$9\r\n127.0.0.1\r\n:%u\r\n$2\r\nid\r\n", a, b, 7000 + k % nnodes, 9000 + k);
		cr_assert(n < cap);
	}
	return n;
}

Test(cluster_pure, map_limits)
{
	static struct cluster_map m;
	static char buf[4 << 20];
	char err[256];
	size_t n;

	n = slots_reply(buf, sizeof buf, 3, 3);
	cr_assert_eq(cluster_map_parse_resp(buf, n, &m, err, sizeof err), 0, "%s", err);
	cr_assert_eq(m.nodes, 3);
	cr_assert_eq(m.node[m.slot[0]].port, 7000);
	cr_assert_eq(m.node[m.slot[16383]].port, 7002);
	cr_assert_str_eq(m.node[0].tls_name, "localhost");      /* an IP: REDIS_URL's host */
	/* the same map and one byte after it: not one reply */
	buf[n] = ':';
	cr_assert_eq(cluster_map_parse_resp(buf, n + 1, &m, err, sizeof err), -1);
	cr_assert(strstr(err, "not one complete reply") != NULL, "%s", err);
	/* STORE_CLUSTER_NODES_MAX primaries, then one more */
	n = slots_reply(buf, sizeof buf, STORE_CLUSTER_NODES_MAX, STORE_CLUSTER_NODES_MAX);
	cr_assert_eq(cluster_map_parse_resp(buf, n, &m, err, sizeof err), 0, "%s", err);
	cr_assert_eq(m.nodes, STORE_CLUSTER_NODES_MAX);
	n = slots_reply(buf, sizeof buf, STORE_CLUSTER_NODES_MAX + 1, STORE_CLUSTER_NODES_MAX + 1);
	cr_assert_eq(cluster_map_parse_resp(buf, n, &m, err, sizeof err), -1);
	cr_assert(strstr(err, "more than 64 primaries") != NULL, "%s", err);
	/* STORE_CLUSTER_MAP_ELEMENTS_MAX ranges (one slot each), then one more */
	n = slots_reply(buf, sizeof buf, STORE_CLUSTER_MAP_ELEMENTS_MAX, 3);
	cr_assert(n > STORE_CLUSTER_MAP_REPLY_MAX);
	cr_assert_eq(cluster_map_parse_resp(buf, n, &m, err, sizeof err), -1);  /* too many bytes */
	/* an array of STORE_CLUSTER_MAP_ELEMENTS_MAX elements is read (and then
	 * refused as no map); one more is refused by the reader */
	n = (size_t)snprintf(buf, sizeof buf, "*%d\r\n", STORE_CLUSTER_MAP_ELEMENTS_MAX);
	for (int k = 0; k < STORE_CLUSTER_MAP_ELEMENTS_MAX; k++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, ":1\r\n");
	cr_assert(n <= STORE_CLUSTER_MAP_REPLY_MAX);
	cr_assert_eq(cluster_map_parse_resp(buf, n, &m, err, sizeof err), -1);
	cr_assert(strstr(err, "a range is not") != NULL, "%s", err);
	n = (size_t)snprintf(buf, sizeof buf, "*%d\r\n", STORE_CLUSTER_MAP_ELEMENTS_MAX + 1);
	for (int k = 0; k <= STORE_CLUSTER_MAP_ELEMENTS_MAX; k++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, ":1\r\n");
	cr_assert_eq(cluster_map_parse_resp(buf, n, &m, err, sizeof err), -1);
	cr_assert(strstr(err, "not one complete reply") != NULL, "%s", err);
	/* the reply byte limit itself */
	cr_assert_eq(cluster_map_parse_resp(buf, STORE_CLUSTER_MAP_REPLY_MAX + 1, &m, err, sizeof err), -1);
}

/*
 * A well-formed CLUSTER SLOTS reply of exactly want bytes (RESP framing
 * included, which is what STORE_CLUSTER_MAP_REPLY_MAX counts): one range of
 * every slot served by 127.0.0.1:port, with replicas whose node ids (which
 * the map ignores) make up the length.  NUL-terminated.
 */
static size_t
slots_reply_of_len(char *buf, size_t cap, size_t want, unsigned port)
{
	/* every replica: "*3\r\n$9\r\n127.0.0.1\r\n:9xxx\r\n$<5 digits>\r\n<id>\r\n" */
	static const char rep_frame[] = "*3\r\n$9\r\n127.0.0.1\r\n:9000\r\n$00000\r\n\r\n";
	unsigned nrep = (unsigned)(want / 32768) + 1;
	size_t n, pad;

	n = (size_t)snprintf(buf, cap, "*1\r\n*%u\r\n:0\r\n:%d\r\n*3\r\n$9\r\n127.0.0.1\r\n:%u\r\n$2\r\nid\r\n",
	    3 + nrep, CLUSTER_SLOTS - 1, port);
	cr_assert(want > n + nrep * (sizeof rep_frame - 1));
	pad = want - n - nrep * (sizeof rep_frame - 1);
	for (unsigned k = 0; k < nrep; k++) {
		size_t l = pad / nrep + (k < pad % nrep);
		cr_assert(l >= 10000 && l <= 99999 && l <= STORE_REPLY_MAX, "an id of %zu bytes", l);
		cr_assert(n + l + sizeof rep_frame < cap);
		n += (size_t)snprintf(buf + n, cap - n, "*3\r\n$9\r\n127.0.0.1\r\n:%u\r\n$%zu\r\n", 9000 + k % 1000, l);
		memset(buf + n, 'f', l);
		n += l;
		memcpy(buf + n, "\r\n", 3);
		n += 2;
	}
	cr_assert_eq(n, want);
	return n;
}

/* STORE_CLUSTER_MAP_REPLY_MAX bytes of a well-formed map: parsed; one byte
 * more (one more byte in a replica's id): refused, before it is read. */
Test(cluster_pure, map_reply_bytes_limit)
{
	static struct cluster_map m;
	static char buf[STORE_CLUSTER_MAP_REPLY_MAX + 4096];
	char err[256];
	size_t n;

	n = slots_reply_of_len(buf, sizeof buf, STORE_CLUSTER_MAP_REPLY_MAX, 7000);
	cr_assert_eq(n, STORE_CLUSTER_MAP_REPLY_MAX);
	cr_assert_eq(cluster_map_parse_resp(buf, n, &m, err, sizeof err), 0, "%s", err);
	cr_assert_eq(m.nodes, 1);
	cr_assert_eq(m.node[m.slot[0]].port, 7000);
	cr_assert_eq(m.node[m.slot[CLUSTER_SLOTS - 1]].port, 7000);
	n = slots_reply_of_len(buf, sizeof buf, STORE_CLUSTER_MAP_REPLY_MAX + 1, 7000);
	cr_assert_eq(n, STORE_CLUSTER_MAP_REPLY_MAX + 1);
	err[0] = '\0';
	cr_assert_eq(cluster_map_parse_resp(buf, n, &m, err, sizeof err), -1);
	cr_assert(strstr(err, "not one complete reply") != NULL, "%s", err);
}

Test(cluster_pure, map_shapes)
{
	static struct cluster_map m;
	char err[256];
	static const char *const bad[] = {
		"*0\r\n",
		"-ERR This instance has cluster support disabled\r\n",
		"*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n",         /* end beyond the slots */
		"*1\r\n*3\r\n:5\r\n:4\r\n*2\r\n$1\r\nh\r\n:1\r\n",             /* start > end */
		"*1\r\n*3\r\n:-1\r\n:4\r\n*2\r\n$1\r\nh\r\n:1\r\n",
		"*1\r\n*3\r\n:0\r\n:4\r\n*2\r\n$1\r\nh\r\n:0\r\n",             /* port 0 */
		"*1\r\n*3\r\n:0\r\n:4\r\n*2\r\n$1\r\nh\r\n:65536\r\n",
		"*1\r\n*3\r\n:0\r\n:4\r\n*2\r\n$3\r\nh/x\r\n:1\r\n",           /* not a host */
		"*1\r\n*3\r\n:0\r\n:4\r\n*1\r\n$1\r\nh\r\n",                   /* no port */
		"*1\r\n*2\r\n:0\r\n:4\r\n",                                    /* no primary */
		"*1\r\n*3\r\n$1\r\n0\r\n:4\r\n*2\r\n$1\r\nh\r\n:1\r\n",        /* start not an integer */
		"*1\r\n:1\r\n",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(cluster_map_parse_resp(bad[i], strlen(bad[i]), &m, err, sizeof err), -1, "%zu", i);
	/* a host name endpoint names itself; an IP with a "hostname" uses it;
	 * an empty endpoint is the node that answered (here 127.0.0.1) */
	static const char good[] =
	    "*3\r\n"
	    "*3\r\n:0\r\n:99\r\n*3\r\n$6\r\nnode-a\r\n:7000\r\n$2\r\nid\r\n"
	    "*3\r\n:100\r\n:199\r\n*4\r\n$8\r\n10.0.0.2\r\n:7001\r\n$2\r\nid\r\n*2\r\n$8\r\nhostname\r\n$6\r\nnode-b\r\n"
	    "*3\r\n:200\r\n:16383\r\n*3\r\n$0\r\n\r\n:7002\r\n$2\r\nid\r\n";
	cr_assert_eq(cluster_map_parse_resp(good, strlen(good), &m, err, sizeof err), 0, "%s", err);
	cr_assert_eq(m.nodes, 3);
	cr_assert_str_eq(m.node[m.slot[0]].host, "node-a");
	cr_assert_str_eq(m.node[m.slot[0]].tls_name, "node-a");
	cr_assert_str_eq(m.node[m.slot[150]].host, "10.0.0.2");
	cr_assert_str_eq(m.node[m.slot[150]].tls_name, "node-b");
	cr_assert_str_eq(m.node[m.slot[5000]].host, "127.0.0.1");
	cr_assert_str_eq(m.node[m.slot[5000]].tls_name, "localhost");
	/* a hole in the map: slots nobody serves */
	static const char holes[] = "*1\r\n*3\r\n:10\r\n:20\r\n*2\r\n$1\r\nh\r\n:1\r\n";
	cr_assert_eq(cluster_map_parse_resp(holes, strlen(holes), &m, err, sizeof err), 0, "%s", err);
	cr_assert_eq(m.slot[9], CLUSTER_NO_NODE);
	cr_assert_eq(m.slot[10], 0);
	cr_assert_eq(m.slot[21], CLUSTER_NO_NODE);
}

Test(cluster_pure, adopt_keeps_indexes)
{
	static struct cluster_map cur, fresh;
	char err[256], buf[2048];
	uint8_t changed[STORE_CLUSTER_NODES_MAX];
	size_t n;
	int added, i;

	n = slots_reply(buf, sizeof buf, 3, 3);                 /* 7000, 7001, 7002 */
	cr_assert_eq(cluster_map_parse_resp(buf, n, &cur, err, sizeof err), 0);
	/* fresh: 7002, 7003, 7000 (7001 left, 7003 came) */
	static const char f[] =
	    "*3\r\n*3\r\n:0\r\n:99\r\n*2\r\n$9\r\n127.0.0.1\r\n:7002\r\n"
	    "*3\r\n:100\r\n:199\r\n*2\r\n$9\r\n127.0.0.1\r\n:7003\r\n"
	    "*3\r\n:200\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n";
	cr_assert_eq(cluster_map_parse_resp(f, strlen(f), &fresh, err, sizeof err), 0, "%s", err);
	cr_assert_eq(cluster_map_adopt(&cur, &fresh, changed), 0);
	cr_assert_eq(cur.node[0].port, 7000);
	cr_assert_eq(cur.node[1].port, 7003);                  /* took 7001's index */
	cr_assert_eq(cur.node[2].port, 7002);
	cr_assert(!changed[0] && changed[1] && !changed[2]);
	cr_assert_eq(cur.slot[0], 2);
	cr_assert_eq(cur.slot[150], 1);
	cr_assert_eq(cur.slot[9000], 0);
	/* a node met in a redirection: known, new, and the map full */
	cr_assert_eq(cluster_map_node(&cur, "127.0.0.1", 7002, "localhost", &added), 2);
	cr_assert_eq(added, 0);
	cr_assert_eq(cluster_map_node(&cur, "127.0.0.1", 7009, "localhost", &added), 3);
	cr_assert_eq(added, 1);
	cr_assert_str_eq(cur.node[3].tls_name, "localhost");
	for (i = 0; i < CLUSTER_SLOTS; i++)
		cur.slot[i] = (uint8_t)(i % STORE_CLUSTER_NODES_MAX);
	cur.nodes = STORE_CLUSTER_NODES_MAX;
	for (i = 4; i < STORE_CLUSTER_NODES_MAX; i++)
		snprintf(cur.node[i].host, sizeof cur.node[i].host, "n%d", i);
	cr_assert_eq(cluster_map_node(&cur, "new-node", 1, "localhost", &added), -1);
}

/* ---- metrics: the node label limit ---- */

Test(cluster_metrics, node_labels_are_bounded)
{
	static char text[METRICS_BODY_MAX];

	cr_assert_eq(metrics_init(), 0);
	for (unsigned i = 0; i <= METRICS_STORE_NODES_MAX; i++)     /* one more than the limit */
		for (unsigned k = 0; k <= i; k++)
			metrics_count_store_command("10.0.0.1", 7000 + i);
	metrics_count_store_redirect(METRICS_REDIRECT_MOVED);
	metrics_count_store_redirect(METRICS_REDIRECT_ASK);
	metrics_count_store_redirect(METRICS_REDIRECT_ASK);
	metrics_count_store_redirect(METRICS_REDIRECT_KINDS);       /* ignored */
	metrics_count_store_map_refresh();
	cr_assert(metrics_render(text, sizeof text) > 0);
	cr_assert_eq(count_substr(text, "mte_relay_store_commands_total{node="), METRICS_STORE_NODES_MAX + 1);
	cr_assert(strstr(text, "mte_relay_store_commands_total{node=\"10.0.0.1:7000\"} 1\n") != NULL, "%s", text);
	cr_assert(strstr(text, "mte_relay_store_commands_total{node=\"10.0.0.1:7015\"} 16\n") != NULL, "%s", text);
	cr_assert(strstr(text, "mte_relay_store_commands_total{node=\"other\"} 17\n") != NULL, "%s", text);
	cr_assert(strstr(text, "mte_relay_store_redirections_total{kind=\"moved\"} 1\n") != NULL);
	cr_assert(strstr(text, "mte_relay_store_redirections_total{kind=\"ask\"} 2\n") != NULL);
	cr_assert(strstr(text, "mte_relay_store_map_refreshes_total 1\n") != NULL);
}

/* With the node labels at their longest (a 255-byte host and port 65535)
 * and every other series present, the worst case (every value at 2^64-1:
 * 20 digits) still fits in METRICS_BODY_MAX. */
Test(cluster_metrics, worst_case_fits)
{
	static char text[METRICS_BODY_MAX];
	char host[STORE_REDIS_HOST_MAX + 1];
	unsigned long lines = 0;
	size_t len;
	int rc;

	cr_assert_eq(metrics_init(), 0);
	for (int r = 0; r <= RC_UNROUTED; r++)
		for (int st = 0; st < 700; st++)
			metrics_count_request((enum route_class)r, st);
	for (int i = 0; i < MDR_COUNT; i++)
		metrics_count_decode_failure((enum metrics_decode_reason)i);
	for (unsigned i = 0; i <= METRICS_STORE_NODES_MAX; i++) {
		memset(host, 'a' + (int)i, STORE_REDIS_HOST_MAX);
		host[STORE_REDIS_HOST_MAX] = '\0';
		metrics_count_store_command(host, 65535);
	}
	rc = metrics_render(text, sizeof text);
	cr_assert_gt(rc, 0);
	len = (size_t)rc;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	cr_assert_leq(len + 20 * lines + 1, (size_t)METRICS_BODY_MAX, "worst case %zu bytes", len + 20 * lines + 1);
}

/* ---- live clusters ---- */

static void
pair_key_of(char *out, size_t n, const char *sid, const char *cid)
{
	snprintf(out, n, "mte:{%s:%s}:p:%s", sid, cid, PID);
}

/* The 40-hex node id of node i. */
static void
node_id(int port, char id[41])
{
	char out[256];

	cr_assert(RAW(port, NULL, out, "CLUSTER", "MYID") == 0);
	cr_assert(strncmp(out, "$40\r\n", 5) == 0, "%s", out);
	memcpy(id, out + 5, 40);
	id[40] = '\0';
}

static long
raw_int(int port, const char *a1, const char *a2)
{
	char out[256];

	cr_assert(RAW(port, NULL, out, a1, a2) == 0);
	cr_assert(out[0] == ':', "%s", out);
	return strtol(out + 1, NULL, 10);
}

Test(cluster_live, detection_spread_keyslot_noscript, .init = watchdog, .fini = fini_all)
{
	char url[96], cid[33], key[160], *log;
	struct store_config c;
	struct store_pair p, q;
	int works = 0, fails = 0;

	cluster_start(&cl, 0, NULL);
	/* a database other than 0: a configuration error naming REDIS_URL */
	snprintf(url, sizeof url, "redis://127.0.0.1:%d/1", cl.node[1].port);
	c = cfg_for(url);
	log = init_logged(&c, STORE_INIT_BAD_CONFIG);
	cr_assert(strstr(log, "config error: REDIS_URL: names database 1") != NULL, "%s", log);
	free(log);
	c.redis_cluster = STORE_CLUSTER_YES;
	log = init_logged(&c, STORE_INIT_BAD_CONFIG);
	cr_assert(strstr(log, "REDIS_CLUSTER=yes") != NULL, "%s", log);
	free(log);

	snprintf(url, sizeof url, "redis://127.0.0.1:%d", cl.node[1].port);
	c = cfg_for(url);
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "\"mode\":\"cluster\",\"primaries\":3") != NULL, "%s", log);
	free(log);
	/* our slot hash is the server's */
	for (unsigned i = 0; i < 40; i++) {
		char slot[16];
		cid_of(cid, i);
		pair_key_of(key, sizeof key, "test-cluster", cid);
		snprintf(slot, sizeof slot, ":%u\r\n", cluster_key_slot(key, strlen(key)));
		char out[64];
		cr_assert(RAW(cl.node[0].port, NULL, out, "CLUSTER", "KEYSLOT", key) == 0);
		cr_assert_str_eq(out, slot, "%s", key);
	}
	/* 60 clients: every primary holds some */
	for (unsigned i = 0; i < 60; i++) {
		cid_of(cid, i);
		make_pair(&p, cid, PID, (uint8_t)i);
		cr_assert_eq(store_pair_put(&p), STORE_OK, "client %u", i);
	}
	for (int n = 0; n < 3; n++)
		cr_assert_gt(raw_int(cl.node[n].port, "DBSIZE", NULL), 10, "node %d", n);
	/* every node has its own script cache */
	for (int n = 0; n < 3; n++) {
		char out[64];
		cr_assert(RAW(cl.node[n].port, NULL, out, "SCRIPT", "FLUSH") == 0);
	}
	for (unsigned i = 0; i < 60; i++) {
		cid_of(cid, i);
		cr_assert_eq(store_window_accept(cid, PID, 1), STORE_OK, "client %u", i);
		cr_assert_eq(store_window_accept(cid, PID, 1), STORE_REPLAY, "client %u", i);
		cr_assert_eq(store_pair_get(cid, PID, &q), STORE_OK);
		cr_assert_eq(store_pair_delete(cid, PID), STORE_OK);
	}
	cr_assert_eq(store_health(), STORE_OK);

	/* REDIS_CLUSTER=no: one node only, and the others' slots redirect (503) */
	c.redis_cluster = STORE_CLUSTER_NO;
	free(init_logged(&c, STORE_INIT_OK));
	for (unsigned i = 0; i < 30; i++) {
		cid_of(cid, i);
		make_pair(&p, cid, PID, (uint8_t)i);
		if (store_pair_put(&p) == STORE_OK)
			works++;
		else
			fails++;
	}
	cr_assert(works > 0 && fails > 0, "%d %d", works, fails);
}

Test(cluster_live, single_node_is_detected_as_single, .init = watchdog, .fini = fini_all)
{
	char url[96], *log;
	struct store_config c;
	struct store_pair p;

	redis_start(&rp, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d/3", rp.port);
	c = cfg_for(url);
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "\"mode\":\"single\"") != NULL, "%s", log);
	free(log);
	make_pair(&p, CID_A, PID, 1);
	cr_assert_eq(store_pair_put(&p), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID, 1), STORE_OK);
	{
		char out[64];
		cr_assert(RAW(rp.port, NULL, out, "SELECT", "3") == 0);
	}
	/* REDIS_CLUSTER=yes on a server that is not a cluster: 503, logged */
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
	c = cfg_for(url);
	c.redis_cluster = STORE_CLUSTER_YES;
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "cluster detection failed") != NULL, "%s", log);
	cr_assert(strstr(log, "cluster support disabled") != NULL, "%s", log);
	free(log);
	cr_assert_eq(store_window_accept(CID_A, PID, 2), STORE_UNAVAILABLE);
}

/* REDIS_WAIT_REPLICAS without cluster mode (a primary and its replica). */
Test(cluster_live, wait_replicas_single_node, .init = watchdog, .fini = fini_all)
{
	char url[96], port[8];
	struct store_config c;
	struct store_pair p;
	static struct redis_proc replica;

	redis_start(&rp, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
	c = cfg_for(url);
	c.redis_wait_replicas = 1;
	free(init_logged(&c, STORE_INIT_OK));
	make_pair(&p, CID_A, PID, 1);
	cr_assert_eq(store_pair_put(&p), STORE_OK);
	/* no replica: WAIT times out, 503, the seq spent */
	cr_assert_eq(store_window_accept(CID_A, PID, 1), STORE_UNAVAILABLE);
	cr_assert_eq(store_window_accept(CID_A, PID, 1), STORE_REPLAY);
	snprintf(port, sizeof port, "%d", rp.port);
	redis_start(&replica, (const char *const[]){ "--replicaof", "127.0.0.1", port, NULL });
	for (int i = 0; i < 400 && !node_says(replica.port, "master_link_status:up", "INFO", "replication"); i++)
		sleep_ms(25);
	/* With the replica: WAIT confirms.  A loaded machine may still time out
	 * a WAIT while the replica catches up, spending that seq: try new seqs
	 * (a bounded number) until one is confirmed. */
	uint64_t seq = 2;
	enum store_status st = STORE_UNAVAILABLE;
	for (; seq < 40 && (st = store_window_accept(CID_A, PID, seq)) == STORE_UNAVAILABLE; seq++)
		sleep_ms(100);
	cr_assert_eq(st, STORE_OK, "no WAIT confirmed by seq %llu", (unsigned long long)seq);
	cr_assert_eq(store_window_accept(CID_A, PID, seq), STORE_REPLAY);
	redis_stop(&replica);
}

Test(cluster_live, migrating_slot_ask_then_moved, .init = watchdog, .fini = fini_all)
{
	char url[96], key[160], idx[160], src_id[41], dst_id[41], slot[8], dport[8];
	static char text[METRICS_BODY_MAX];
	struct store_config c;
	struct store_pair p, q;
	int src, dst;
	unsigned s;

	cluster_start(&cl, 0, NULL);
	cr_assert_eq(metrics_init(), 0);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", cl.node[0].port);
	c = cfg_for(url);
	free(init_logged(&c, STORE_INIT_OK));
	make_pair(&p, CID_B, PID, 7);
	cr_assert_eq(store_pair_put(&p), STORE_OK);
	cr_assert_eq(store_window_accept(CID_B, PID, 1), STORE_OK);
	pair_key_of(key, sizeof key, "test-cluster", CID_B);
	snprintf(idx, sizeof idx, "mte:{test-cluster:%s}:pairs", CID_B);
	s = cluster_key_slot(key, strlen(key));
	snprintf(slot, sizeof slot, "%u", s);
	src = cluster_primary_of(&cl, key);
	cr_assert(src >= 0);
	dst = (src + 1) % 3;
	node_id(cl.node[src].port, src_id);
	node_id(cl.node[dst].port, dst_id);
	snprintf(dport, sizeof dport, "%d", cl.node[dst].port);

	/* 1. the slot is migrating, the keys still on the source */
	{
		char out[256];
		cr_assert(RAW(cl.node[dst].port, NULL, out, "CLUSTER", "SETSLOT", slot, "IMPORTING", src_id) == 0);
		cr_assert_str_eq(out, "+OK\r\n");
		cr_assert(RAW(cl.node[src].port, NULL, out, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id) == 0);
		cr_assert_str_eq(out, "+OK\r\n");
	}
	cr_assert_eq(store_window_accept(CID_B, PID, 2), STORE_OK);
	cr_assert_eq(store_window_accept(CID_B, PID, 2), STORE_REPLAY);
	/* 2. both keys moved (one MIGRATE): the source answers ASK */
	{
		char out[256];
		cr_assert(RAW(cl.node[src].port, NULL, out, "MIGRATE", "127.0.0.1", dport, "", "0", "5000",
		              "KEYS", key, idx) == 0);
		cr_assert_str_eq(out, "+OK\r\n");
	}
	cr_assert_eq(store_window_accept(CID_B, PID, 3), STORE_OK);
	cr_assert_eq(store_window_accept(CID_B, PID, 3), STORE_REPLAY);
	cr_assert_eq(store_window_accept(CID_B, PID, 1), STORE_REPLAY);
	cr_assert_eq(store_pair_get(CID_B, PID, &q), STORE_OK);
	cr_assert(metrics_render(text, sizeof text) > 0);
	cr_assert(strstr(text, "mte_relay_store_redirections_total{kind=\"ask\"} 0\n") == NULL, "%s", text);
	/* 3. the slot is the destination's: MOVED, then straight there */
	for (int n = 0; n < 3; n++) {
		char out[256];
		cr_assert(RAW(cl.node[n].port, NULL, out, "CLUSTER", "SETSLOT", slot, "NODE", dst_id) == 0);
	}
	cr_assert_eq(store_window_accept(CID_B, PID, 4), STORE_OK);
	for (uint64_t seq = 1; seq <= 4; seq++)
		cr_assert_eq(store_window_accept(CID_B, PID, seq), STORE_REPLAY, "seq %" PRIu64, seq);
	cr_assert(metrics_render(text, sizeof text) > 0);
	cr_assert(strstr(text, "mte_relay_store_redirections_total{kind=\"moved\"} 0\n") == NULL, "%s", text);
	cr_assert(strstr(text, "mte_relay_store_map_refreshes_total 0\n") == NULL, "%s", text);
	cr_assert_eq(raw_int(cl.node[dst].port, "DBSIZE", NULL), 2);
	cr_assert_eq(raw_int(cl.node[src].port, "DBSIZE", NULL), 0);
}

/* ---- a scripted node that always redirects (to itself) ---- */

static pid_t
redirecting_node(int *port_out, int *commands)
{
	int ls = listen_local(port_out);
	static char map_reply[256], moved[64];

	snprintf(map_reply, sizeof map_reply, "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:%d\r\n", *port_out);
	snprintf(moved, sizeof moved, "-MOVED 5 127.0.0.1:%d\r\n", *port_out);
	return scripted_server(ls, moved, map_reply, NULL, commands);
}

Test(cluster_live, redirection_limit, .init = watchdog, .fini = fini_all)
{
	int *commands = mmap(NULL, sizeof *commands, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char url[64];
	struct store_config c;
	struct store_pair q;
	int port;
	pid_t fake;

	cr_assert(commands != MAP_FAILED);
	fake = redirecting_node(&port, commands);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = cfg_for(url);
	c.redis_cluster = STORE_CLUSTER_YES;
	free(init_logged(&c, STORE_INIT_OK));
	__atomic_store_n(commands, 0, __ATOMIC_RELAXED);
	cr_assert_eq(store_pair_get(CID_A, PID, &q), STORE_UNAVAILABLE);
	/* the first try and STORE_CLUSTER_REDIRECTS_MAX redirections followed;
	 * the next one is not */
	cr_assert_eq(__atomic_load_n(commands, __ATOMIC_RELAXED), STORE_CLUSTER_REDIRECTS_MAX + 1);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
}

/*
 * The same limit on the wire (redis.c reads CLUSTER SLOTS with
 * STORE_CLUSTER_MAP_REPLY_MAX as its byte limit): a scripted node whose map
 * (itself, every slot) is exactly that long is taken as a cluster and
 * serves commands; one byte more and the map is refused: no cluster mode,
 * the reason logged, the store unavailable.
 */
Test(cluster_live, map_reply_bytes_limit, .init = watchdog, .fini = fini_all)
{
	static char map_reply[STORE_CLUSTER_MAP_REPLY_MAX + 4096];
	char url[64], want[64], *log;
	struct store_config c;
	int port, ls;
	pid_t fake;

	ls = listen_local(&port);
	slots_reply_of_len(map_reply, sizeof map_reply, STORE_CLUSTER_MAP_REPLY_MAX, (unsigned)port);
	fake = scripted_server(ls, "+PONG\r\n", map_reply, NULL, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = cfg_for(url);
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "state store connected") != NULL, "%s", log);
	cr_assert(strstr(log, "\"mode\":\"cluster\",\"primaries\":1") != NULL, "%s", log);
	cr_assert(strstr(log, "reply longer than") == NULL, "%s", log);
	free(log);
	cr_assert_eq(store_health(), STORE_OK, "PING through the slot map");
	store_worker_close();
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);

	ls = listen_local(&port);
	slots_reply_of_len(map_reply, sizeof map_reply, STORE_CLUSTER_MAP_REPLY_MAX + 1, (unsigned)port);
	fake = scripted_server(ls, "+PONG\r\n", map_reply, NULL, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	c = cfg_for(url);
	log = init_logged(&c, STORE_INIT_OK);
	snprintf(want, sizeof want, "reply longer than %d bytes", STORE_CLUSTER_MAP_REPLY_MAX);
	cr_assert(strstr(log, want) != NULL, "%s", log);
	cr_assert(strstr(log, "cluster detection failed") != NULL, "%s", log);
	cr_assert(strstr(log, "state store connected") == NULL, "%s", log);
	free(log);
	cr_assert_eq(store_health(), STORE_UNAVAILABLE);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
}

/* ---- REDIS_WAIT_REPLICAS, and a primary killed under it ---- */

Test(cluster_live, wait_replicas_and_failover, .init = watchdog, .fini = fini_all)
{
	char url[96], key[160];
	struct store_config c;
	struct store_pair p, q;
	int victim, tries = 0;
	uint64_t last;
	int64_t t0, t1;
	struct timespec ts;

	cluster_start(&cl, 1, NULL);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", cl.node[0].port);
	c = cfg_for(url);
	/* more replicas than there are: WAIT times out, 503 (and the seq is spent) */
	c.redis_wait_replicas = 2;
	free(init_logged(&c, STORE_INIT_OK));
	make_pair(&p, CID_A, PID, 3);
	cr_assert_eq(store_pair_put(&p), STORE_OK);
	cr_assert_eq(store_window_accept(CID_A, PID, 1), STORE_UNAVAILABLE);
	cr_assert_eq(store_window_accept(CID_A, PID, 1), STORE_REPLAY);
	c.redis_wait_replicas = 1;
	free(init_logged(&c, STORE_INIT_OK));
	for (uint64_t seq = 2; seq <= 20; seq++)
		cr_assert_eq(store_window_accept(CID_A, PID, seq), STORE_OK, "seq %" PRIu64, seq);

	/* kill the primary holding the pair; its replica takes over */
	pair_key_of(key, sizeof key, "test-cluster", CID_A);
	victim = cluster_primary_of(&cl, key);
	cr_assert(victim >= 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
	redis_kill(&cl.node[victim], SIGKILL);
	/* served again (reads need no replica) once the replica took over */
	while (store_pair_get(CID_A, PID, &q) != STORE_OK) {
		cr_assert_lt(++tries, 400, "no failover after %d tries", tries);
		sleep_ms(25);
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t1 = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
	fprintf(stderr, "failover: served again %lld ms after the kill (%d failed tries; node timeout %s ms)\n",
	    (long long)(t1 - t0), tries, CLUSTER_NODE_TIMEOUT);
	/* the new primary has no replica yet: window updates wait in vain (503) */
	cr_assert_eq(store_window_accept(CID_A, PID, 21), STORE_UNAVAILABLE);
	/* the old primary comes back as its replica: accepted again */
	cluster_restart_node(&cl, victim);
	last = 22;
	while (store_window_accept(CID_A, PID, last) != STORE_OK) {
		cr_assert_lt(++tries, 400, "WAIT never satisfied after %d tries", tries);
		last++;
		sleep_ms(25);
	}
	/* no seq accepted twice across the failover */
	for (uint64_t seq = 1; seq <= last; seq++)
		cr_assert_eq(store_window_accept(CID_A, PID, seq), STORE_REPLAY, "seq %" PRIu64, seq);
	cr_assert_eq(store_pair_get(CID_A, PID, &q), STORE_OK);
}

/* ---- the settings: REDIS_CLUSTER, REDIS_WAIT_REPLICAS ---- */

#include "config.h"

/* config_load over env (NULL-terminated) and one flag (or NULL); returns its
 * exit code, the error text in err. */
static int
load(struct config *cfg, const char *const *env, const char *flag, char *err, size_t errlen)
{
	char *envp[16], *argv[3] = { (char *)"mte-relay", (char *)flag, NULL };
	FILE *e = fmemopen(err, errlen, "w"), *o = fopen("/dev/null", "w");
	int n = 0, rc;

	envp[n++] = (char *)"UPSTREAM=http://127.0.0.1:3000";
	envp[n++] = (char *)"CORS_ORIGINS=https://app.example.com";
	envp[n++] = (char *)"CLIENT_ID_SECRET=0123456789abcdef0123456789abcdef";
	if (env[0] == NULL || strncmp(env[0], "REDIS_URL=", 10) != 0)
		envp[n++] = (char *)"REDIS_URL=redis://127.0.0.1:6379";
	envp[n++] = (char *)"SERVER_ID=test-config";
	for (int i = 0; env[i]; i++)
		envp[n++] = (char *)env[i];
	envp[n] = NULL;
	memset(cfg, 0, sizeof *cfg);
	memset(err, 0, errlen);
	rc = config_load(cfg, flag ? 2 : 1, argv, envp, o, e);
	fclose(e);
	fclose(o);
	return rc;
}

Test(cluster_config, settings, .init = watchdog)
{
	static struct config cfg;
	char err[1024];

	cr_assert_eq(load(&cfg, (const char *const[]){ NULL }, NULL, err, sizeof err), 0, "%s", err);
	cr_assert_eq(cfg.redis_cluster, STORE_CLUSTER_AUTO);
	cr_assert_eq(cfg.redis_wait_replicas, 0);
	config_free(&cfg);
	cr_assert_eq(load(&cfg, (const char *const[]){ "REDIS_CLUSTER=no", NULL }, "--redis-cluster=YES",
	                  err, sizeof err), 0, "%s", err);
	cr_assert_eq(cfg.redis_cluster, STORE_CLUSTER_YES);              /* the flag wins */
	config_free(&cfg);
	cr_assert_eq(load(&cfg, (const char *const[]){ "REDIS_CLUSTER=no", NULL }, NULL, err, sizeof err), 0);
	cr_assert_eq(cfg.redis_cluster, STORE_CLUSTER_NO);
	config_free(&cfg);
	cr_assert_eq(load(&cfg, (const char *const[]){ "REDIS_CLUSTER=maybe", NULL }, NULL, err, sizeof err), 78);
	cr_assert(strstr(err, "REDIS_CLUSTER") != NULL && strstr(err, "auto, yes or no") != NULL, "%s", err);
	config_free(&cfg);
	/* REDIS_WAIT_REPLICAS: STORE_WAIT_REPLICAS_MAX, then one more */
	cr_assert_eq(load(&cfg, (const char *const[]){ "REDIS_WAIT_REPLICAS=16", NULL }, NULL, err, sizeof err), 0);
	cr_assert_eq(cfg.redis_wait_replicas, STORE_WAIT_REPLICAS_MAX);
	config_free(&cfg);
	cr_assert_eq(load(&cfg, (const char *const[]){ NULL }, "--redis-wait-replicas=17", err, sizeof err), 78);
	cr_assert(strstr(err, "REDIS_WAIT_REPLICAS") != NULL, "%s", err);
	config_free(&cfg);
	/* REDIS_CLUSTER=yes and a database: refused, naming REDIS_URL, never
	 * echoing it (it may hold a password) */
	cr_assert_eq(load(&cfg, (const char *const[]){ "REDIS_URL=redis://:s3cret@127.0.0.1:6379/2", NULL },
	                  "--redis-cluster=yes", err, sizeof err), 78);
	cr_assert(strstr(err, "config error: REDIS_URL") != NULL && strstr(err, "names 2") != NULL, "%s", err);
	cr_assert(strstr(err, "s3cret") == NULL, "%s", err);
	config_free(&cfg);
	cr_assert_eq(load(&cfg, (const char *const[]){ "REDIS_URL=redis://127.0.0.1:6379/2", NULL }, NULL,
	                  err, sizeof err), 0, "%s", err);            /* auto: decided at connect */
	config_free(&cfg);
}

Test(cluster_config, store_refuses_out_of_range_settings, .init = watchdog, .fini = fini_all)
{
	struct store_config c = cfg_for("redis://127.0.0.1:1");
	char *log;

	c.redis_wait_replicas = STORE_WAIT_REPLICAS_MAX + 1;
	log = init_logged(&c, STORE_INIT_BAD_CONFIG);
	cr_assert(strstr(log, "REDIS_WAIT_REPLICAS") != NULL, "%s", log);
	free(log);
}

/* ---- TLS cluster (tls-cluster yes) and an ACL user ---- */

static char certs[64];

static void
fini_tls(void)
{
	fini_all();
	rm_tree(certs);
}

Test(cluster_live, tls_cluster_with_acl_user, .init = watchdog, .fini = fini_tls)
{
	char url[128], ca[96], other[96], cid[33], *log;
	struct store_config c;
	struct store_pair p, q;

	snprintf(certs, sizeof certs, "/tmp/mte-certs-XXXXXX");
	cr_assert(mkdtemp(certs) != NULL);
	make_tls_material(certs);
	cluster_start_tls(&cl, certs);
	snprintf(ca, sizeof ca, "%s/ca.crt", certs);
	snprintf(other, sizeof other, "%s/other-ca.crt", certs);
	/* nodes announce 127.0.0.1: their certificates are checked against
	 * REDIS_URL's host name, localhost */
	snprintf(url, sizeof url, "rediss://mte:pw@localhost:%d", cl.node[0].tls_port);
	c = cfg_for(url);
	c.redis_ca_file = ca;
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "\"mode\":\"cluster\",\"primaries\":3") != NULL, "%s", log);
	cr_assert(strstr(log, "\"auth\":\"acl\"") != NULL, "%s", log);
	cr_assert(strstr(log, "pw") == NULL, "%s", log);
	free(log);
	for (unsigned i = 0; i < 30; i++) {
		cid_of(cid, i);
		make_pair(&p, cid, PID, (uint8_t)i);
		cr_assert_eq(store_pair_put(&p), STORE_OK, "client %u", i);
		cr_assert_eq(store_window_accept(cid, PID, 5), STORE_OK);
		cr_assert_eq(store_window_accept(cid, PID, 5), STORE_REPLAY);
		cr_assert_eq(store_pair_get(cid, PID, &q), STORE_OK);
	}
	for (int n = 0; n < 3; n++)
		cr_assert_gt(raw_int(cl.node[n].port, "DBSIZE", NULL), 0, "node %d", n);
	/* an unrelated CA: no node is trusted */
	c.redis_ca_file = other;
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "unreachable") != NULL, "%s", log);
	free(log);
	cr_assert_eq(store_pair_get(CID_A, PID, &q), STORE_UNAVAILABLE);
	/* the wrong password for the ACL user */
	snprintf(url, sizeof url, "rediss://mte:nope@localhost:%d", cl.node[0].tls_port);
	c = cfg_for(url);
	c.redis_ca_file = ca;
	log = init_logged(&c, STORE_INIT_OK);
	cr_assert(strstr(log, "authentication failed") != NULL, "%s", log);
	cr_assert(strstr(log, "nope") == NULL, "%s", log);
	free(log);
}
