/*
 * redis.c - the Redis backend (see store.h for the key layout).
 *
 * The only file with cluster.c and reply.c that includes hiredis, and it uses
 * only hiredis's RESP writer (redisFormatCommandArgv) and reader (with our
 * own reply objects, reply.c, so that a reply declaring a huge array is
 * refused before anything is sized from it).  The bytes travel over
 * redis_tls.c: plain TCP or BearSSL TLS.  REDIS_URL is parsed by redis_url.c.
 *
 * Connections, per process, made lazily: SEED (REDIS_URL's host) and, in
 * cluster mode, one per primary of the slot map (index = its map index).
 * Cluster mode is decided once per process (REDIS_CLUSTER=auto: CLUSTER SLOTS
 * answers with a map, or with an error: a single node); the parent decides
 * it at start-up when it can, workers inherit the map and refresh their own
 * copy (on MOVED, CLUSTERDOWN, TRYAGAIN or a node failure; at most once per
 * STORE_CLUSTER_REFRESH_MIN_MS), from the known primaries, then from SEED.
 *
 * Failure handling, per connection:
 * - before using an idle connection, poll it: a server that closed it
 *   (restart, idle timeout) is noticed and a new connection made at once,
 *   so a Redis restart costs no failed request by itself;
 * - any I/O error, timeout or malformed reply closes the connection and
 *   starts a back-off (STORE_BACKOFF_MIN_MS doubling to STORE_BACKOFF_MAX_MS,
 *   plus a per-process jitter so workers do not reconnect in step); during
 *   the back-off commands to it fail at once (in a cluster, after a map
 *   refresh and a retry: the slot may have a new primary);
 * - the back-off resets only when a reply arrives (not when TCP connects,
 *   which a stopped Redis still accepts);
 * - an outage is logged once for all workers: a flag in a shared page flips
 *   up->down ("warn") and down->up ("info").  A command that Redis answers
 *   with an error (other than the connection-level ones) is logged at most
 *   every STORE_ERROR_LOG_INTERVAL_MS per process.
 *
 * Lua scripts (EVALSHA, EVAL on NOSCRIPT, per node): see SCRIPT_ACCEPT and
 * SCRIPT_PUT.  REDIS_WAIT_REPLICAS: see wait_replicas().
 */
#include "store/store.h"
#include "store/backend.h"
#include "store/redis_tls.h"
#include "store/reply.h"
#include "store/cluster.h"
#include "metrics.h"
#include "clock.h"
#include "decimal.h"
#include "crypto/wipe.h"
#include "hex.h"
#include "log.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define KEY_MAX (sizeof "mte:{" + STORE_SERVER_ID_MAX + 1 + STORE_CLIENT_ID_LEN + sizeof "}:pairs" + PAIR_ID_MAX)

/*
 * The replay window test-and-set.
 * KEYS[1] pair hash, KEYS[2] client index; ARGV[1] seq (decimal u64),
 * ARGV[2] W, ARGV[3] TTL in ms, ARGV[4] the generation the caller's keys
 * belong to (decimal; "" for any; a pair without one has generation 0).
 * Returns 1 accepted, 0 rejected, -1 no pair, -3 another generation (the
 * pair was deleted and paired again under the same ids: nothing changed).
 *
 * Lua numbers are doubles, exact only below 2^53, so a seq is never held as
 * one number: parse() splits the decimal string into two 32-bit halves
 * (every intermediate below 2^36), comparisons go half by half, a difference
 * is formed only when the high halves differ by at most 1 (so it is below
 * 2^33), and seq % W is ((h % W) * (2^32 % W) + l % W) % W (below 2^33).
 * The bitmap is a ring of W bits (bit i: byte i/8, value 2^(i%8)), exactly as
 * store_window_apply() in store.c.  A window stored under another W (the
 * configuration changed) is replaced by an all-set one: every seq <= hi then
 * counts as seen, which may reject a late request but never admits a replay.
 */
static const char SCRIPT_ACCEPT[] =
"local T=4294967296\n"
"local function parse(s)\n"
"  if type(s)~='string' or #s<1 or #s>20 or not string.find(s,'^%d+$') then return nil end\n"
"  local h,l=0,0\n"
"  for i=1,#s do\n"
"    l=l*10+string.byte(s,i)-48\n"
"    local c=math.floor(l/T)\n"
"    l=l-c*T\n"
"    h=h*10+c\n"
"    if h>=T then return nil end\n"
"  end\n"
"  return h,l\n"
"end\n"
"local w=tonumber(ARGV[2])\n"
"local sh,sl=parse(ARGV[1])\n"
"if not sh or not w or w<1 or w>65536 or w%1~=0 then return redis.error_reply('ERR mte: bad arguments') end\n"
"if sh==0 and sl==0 then return 0 end\n"
"local nb=math.ceil(w/8)\n"
"local function pos(h,l) return ((h%w)*(T%w)+l%w)%w end\n"
"local function getbit(bm,i)\n"
"  return bit.band(string.byte(bm,math.floor(i/8)+1),bit.lshift(1,i%8))~=0\n"
"end\n"
"local function setbit(bm,i)\n"
"  local k=math.floor(i/8)\n"
"  return string.sub(bm,1,k)..string.char(bit.bor(string.byte(bm,k+1),bit.lshift(1,i%8)))..string.sub(bm,k+2)\n"
"end\n"
"local function clear(bm,a,b)\n"
"  local ka,kb=math.floor(a/8),math.floor((b-1)/8)\n"
"  local lo=bit.lshift(1,a%8)-1\n"
"  local hi=255-(bit.lshift(1,(b-1)%8+1)-1)\n"
"  if ka==kb then\n"
"    return string.sub(bm,1,ka)..string.char(bit.band(string.byte(bm,ka+1),bit.bor(lo,hi)))..string.sub(bm,ka+2)\n"
"  end\n"
"  return string.sub(bm,1,ka)..string.char(bit.band(string.byte(bm,ka+1),lo))..string.rep('\\0',kb-ka-1)..\n"
"    string.char(bit.band(string.byte(bm,kb+1),hi))..string.sub(bm,kb+2)\n"
"end\n"
"local f=redis.call('HMGET',KEYS[1],'hi','w','bm','g')\n"
"if not f[1] then return -1 end\n"
"if ARGV[4]~='' and (f[4] or '0')~=ARGV[4] then return -3 end\n"
"local hh,hl=parse(f[1])\n"
"if not hh then return -1 end\n"
"local bm=f[3]\n"
"if f[2]~=ARGV[2] or type(bm)~='string' or #bm~=nb then bm=string.rep('\\255',nb) end\n"
"local p=pos(sh,sl)\n"
"if sh>hh or (sh==hh and sl>hl) then\n"
"  local dh=sh-hh\n"
"  local d=T*2\n"
"  if dh<2 then d=dh*T+sl-hl end\n"
"  if d>=w then\n"
"    bm=string.rep('\\0',nb)\n"
"  elseif d>1 then\n"
"    local s=(pos(hh,hl)+1)%w\n"
"    local n=d-1\n"
"    if s+n<=w then bm=clear(bm,s,s+n) else bm=clear(clear(bm,s,w),0,s+n-w) end\n"
"  end\n"
"  bm=setbit(bm,p)\n"
"  redis.call('HSET',KEYS[1],'hi',ARGV[1],'w',ARGV[2],'bm',bm)\n"
"else\n"
"  local dh=hh-sh\n"
"  local d=T*2\n"
"  if dh<2 then d=dh*T+hl-sl end\n"
"  if d>=w or getbit(bm,p) then return 0 end\n"
"  redis.call('HSET',KEYS[1],'w',ARGV[2],'bm',setbit(bm,p))\n"
"end\n"
"redis.call('PEXPIRE',KEYS[1],ARGV[3])\n"
"redis.call('PEXPIRE',KEYS[2],ARGV[3])\n"
"return 1\n";

/*
 * Put a pair and enforce the per-client cap, atomically.
 * KEYS[1] pair hash, KEYS[2] client index; ARGV[1] k_req, ARGV[2] k_res,
 * ARGV[3] W, ARGV[4] the fresh pair TTL ms, ARGV[5] cap, ARGV[6] pair id, ARGV[7] the
 * client's pair key prefix, ARGV[8] the generation (decimal).  Returns the number of pairs evicted.
 * The index scores are microseconds from TIME, forced strictly increasing,
 * so "oldest" is put order.  Index entries whose pair expired are dropped
 * first, then the oldest live pairs beyond the cap (never the new one).
 * The other pair keys are built from ARGV[7]; they share KEYS[1]'s hash tag
 * {server_id:client_id}, hence its cluster slot.
 */
static const char SCRIPT_PUT[] =
"if redis.call('EXISTS',KEYS[1])==1 then return -2 end\n"
"local t=redis.call('TIME')\n"
"local score=tonumber(t[1])*1000000+tonumber(t[2])\n"
"local last=redis.call('ZRANGE',KEYS[2],-1,-1,'WITHSCORES')\n"
"if last[2] and tonumber(last[2])>=score then score=tonumber(last[2])+1 end\n"
"redis.call('HSET',KEYS[1],'k_req',ARGV[1],'k_res',ARGV[2],'hi','0','w',ARGV[3],'bm',string.rep('\\0',math.ceil(tonumber(ARGV[3])/8)),'g',ARGV[8])\n"
"redis.call('PEXPIRE',KEYS[1],ARGV[4])\n"
"redis.call('ZADD',KEYS[2],string.format('%.0f',score),ARGV[6])\n"
"local live={}\n"
"for _,m in ipairs(redis.call('ZRANGE',KEYS[2],0,-1)) do\n"
"  if m==ARGV[6] or redis.call('EXISTS',ARGV[7]..m)==1 then live[#live+1]=m\n"
"  else redis.call('ZREM',KEYS[2],m) end\n"
"end\n"
"local n=#live-tonumber(ARGV[5])\n"
"for i=1,n do\n"
"  redis.call('DEL',ARGV[7]..live[i])\n"
"  redis.call('ZREM',KEYS[2],live[i])\n"
"end\n"
"if redis.call('PTTL',KEYS[2])<tonumber(ARGV[4]) then redis.call('PEXPIRE',KEYS[2],ARGV[4]) end\n"
"if n<0 then n=0 end\n"
"return n\n";

/*
 * store_rate_take: KEYS[1] the counter, ARGV[1] n, ARGV[2] limit, ARGV[3]
 * the window in ms.  Returns the ms left in the window: positive when the n
 * units were taken, negative when they would exceed the limit (nothing
 * taken).  The first take of a window sets its expiry; a counter without
 * one (never the case) gets it too.
 */
static const char SCRIPT_RATE[] =
"local n=tonumber(ARGV[1])\n"
"local c=tonumber(redis.call('GET',KEYS[1]) or '0')\n"
"local t=redis.call('PTTL',KEYS[1])\n"
"if c+n>tonumber(ARGV[2]) then\n"
"  if t<=0 then t=tonumber(ARGV[3]) end\n"
"  return -t\n"
"end\n"
"redis.call('INCRBY',KEYS[1],n)\n"
"if t<=0 then redis.call('PEXPIRE',KEYS[1],ARGV[3]) t=tonumber(ARGV[3]) end\n"
"return t\n";

/*
 * store_slot_replace: KEYS[1] the slot hash; ARGV[1] the expected version
 * ("0": absent), ARGV[2] the new version, ARGV[3] the value.  1 when
 * written (counter reset), 0 when the version differed.
 */
static const char SCRIPT_SLOT_SET[] =
"local v=redis.call('HGET',KEYS[1],'v')\n"
"if (v or '0')~=ARGV[1] then return 0 end\n"
"redis.call('HSET',KEYS[1],'v',ARGV[2],'d',ARGV[3],'n','0')\n"
"return 1\n";

/*
 * store_slot_next: KEYS[1] the slot hash; ARGV[1] the version.  The new
 * count (>= 1), -1 when there is no slot, -2 when it has another version.
 */
static const char SCRIPT_SLOT_NEXT[] =
"local v=redis.call('HGET',KEYS[1],'v')\n"
"if not v then return -1 end\n"
"if v~=ARGV[1] then return -2 end\n"
"return redis.call('HINCRBY',KEYS[1],'n',1)\n";

/* ---- state ---- */

struct shared_flags {
	atomic_int down;        /* 1 from the first failure of an outage to the next success */
};

/* Made by redis_init in the parent, read-only afterwards, inherited. */
static struct {
	int                  ready;
	int                  cluster;       /* STORE_CLUSTER_AUTO / _YES / _NO */
	unsigned             wait_replicas;
	char                 wait_n[12], wait_ms[12];
	struct store_redis_url url;
	struct tls_trust     trust;
	char                 server_id[STORE_SERVER_ID_MAX + 1];
	char                 window[12], ttl_ms[24], fresh_ttl_ms[24], cap[12];
	char                 sha_accept[41], sha_put[41], sha_rate[41];
	char                 sha_slot_set[41], sha_slot_next[41];
	struct shared_flags *shared;
} R;

/*
 * This process's connections: one per cluster primary (index = its index in
 * the slot map) and SEED, the REDIS_URL host (the only one used when the
 * server is not a cluster; in a cluster, the first map and the last-resort
 * map refresh come from it).
 */
#define SEED   STORE_CLUSTER_NODES_MAX
#define NCONN  (STORE_CLUSTER_NODES_MAX + 1)

enum mode { MODE_UNKNOWN = 0, MODE_SINGLE, MODE_CLUSTER, MODE_MISCONFIGURED };

struct rconn {
	int          open;
	int          fd;
	redisReader *reader;
	unsigned     backoff_ms;    /* 0: last command succeeded */
	int64_t      retry_at_ms;   /* no connect attempt before this */
	int          auth_failed;   /* last connect failed at AUTH */
};

static struct {
	pid_t        pid;           /* owner; another pid means "inherited" */
	enum mode    mode;
	int          map_stale;     /* refresh the slot map before the next command */
	int64_t      refresh_after_ms;
	int64_t      last_error_log_ms;
	unsigned     rotor;         /* where the next map refresh starts */
	struct rconn c[NCONN];
} P;

/* The slot map: this process's copy (a worker refreshes its own). */
static struct cluster_map map;

/* ~35 KB each, per process (copy-on-write); only those used are touched. */
static struct tls_client tls_conns[NCONN];

static const char *
auth_kind(void)
{
	return R.url.pass[0] == '\0' ? "none" : R.url.user[0] ? "acl" : "password";
}

static const char *
mode_name(void)
{
	return P.mode == MODE_CLUSTER ? "cluster" : P.mode == MODE_SINGLE ? "single" : "unknown";
}

static void
mark_down(const char *why)
{
	if (R.shared == NULL || atomic_exchange(&R.shared->down, 1) == 0)
		LOG_EVENT(LOG_WARN, "state store unavailable", LOG_S("backend", "redis"),
		    LOG_S("host", R.url.host), LOG_I("port", R.url.port),
		    LOG_S("tls", R.url.tls ? "yes" : "no"), LOG_S("error", why));
}

static void
mark_up(void)
{
	if (R.shared != NULL && atomic_load(&R.shared->down)
	    && atomic_exchange(&R.shared->down, 0) == 1)
		LOG_EVENT(LOG_INFO, "state store recovered", LOG_S("backend", "redis"),
		    LOG_S("host", R.url.host), LOG_I("port", R.url.port),
		    LOG_S("tls", R.url.tls ? "yes" : "no"));
}

static void
conn_close(int i)
{
	struct rconn *c = &P.c[i];

	if (c->open)
		close(c->fd);
	c->open = 0;
	c->fd = -1;
	if (c->reader != NULL)
		redisReaderFree(c->reader);
	c->reader = NULL;
}

static void
conn_close_all(void)
{
	for (int i = 0; i < NCONN; i++)
		conn_close(i);
}

/* Forgets the back-offs and the error-log rate limit (a new process, or a
 * new store). */
static void
backoff_forget(void)
{
	for (int i = 0; i < NCONN; i++) {
		P.c[i].backoff_ms = 0;
		P.c[i].retry_at_ms = 0;
	}
	P.last_error_log_ms = 0;
	P.refresh_after_ms = 0;
}

/* Drops connections inherited through fork without using them (the slot
 * map and the mode are kept). */
static void
conn_adopt(void)
{
	if (P.pid == getpid())
		return;
	conn_close_all();           /* our copies of the fds and readers */
	P.pid = getpid();
	P.rotor = (unsigned)getpid();
	backoff_forget();
}

static void
start_backoff(struct rconn *c)
{
	unsigned jitter;

	c->backoff_ms = c->backoff_ms == 0 ? STORE_BACKOFF_MIN_MS
	    : c->backoff_ms >= STORE_BACKOFF_MAX_MS / 2 ? STORE_BACKOFF_MAX_MS : c->backoff_ms * 2;
	/* Up to +25%, different per worker, so workers do not retry in step. */
	jitter = (unsigned)(((unsigned long)getpid() * 2654435761u) % 16) * (c->backoff_ms / 64);
	c->retry_at_ms = clock_ms() + c->backoff_ms + jitter;
}

static void
conn_failed(int i, const char *why)
{
	conn_close(i);
	start_backoff(&P.c[i]);
	if (P.mode == MODE_CLUSTER)
		P.map_stale = 1;
	mark_down(why);
}

/* Where connection i goes. */
static const char *
conn_host(int i)
{
	return i == SEED ? R.url.host : map.node[i].host;
}

static uint16_t
conn_port(int i)
{
	return i == SEED ? R.url.port : map.node[i].port;
}

static const char *
conn_tls_name(int i)
{
	return i == SEED ? R.url.host : map.node[i].tls_name;
}

static int
transport_write(int i, const char *buf, size_t len, int64_t deadline)
{
	if (R.url.tls)
		return tls_client_write_all(&tls_conns[i], buf, len, deadline);
	return tls_sock_write_all(P.c[i].fd, buf, len, deadline);
}

static ssize_t
transport_read(int i, char *buf, size_t len, int64_t deadline)
{
	if (R.url.tls)
		return tls_client_read(&tls_conns[i], buf, len, deadline);
	return tls_sock_read(P.c[i].fd, buf, len, deadline);
}

static void
reader_error(const redisReader *rd, char *err, size_t errlen)
{
	/* Our reply constructors return NULL for an oversized array or string,
	 * which hiredis reports as out of memory. */
	if (rd->err == REDIS_ERR_OOM)
		snprintf(err, errlen, "bad reply: an array of more than %d elements, a string of more "
		    "than %d bytes, or out of memory",
		    rd->privdata ? (int)(uintptr_t)rd->privdata : STORE_REPLY_ELEMENTS_MAX, STORE_REPLY_MAX);
	else
		snprintf(err, errlen, "bad reply: %s", rd->errstr);
}

/* Reads one reply of at most reply_max bytes from connection i. */
static int
read_reply(int i, int64_t deadline, size_t reply_max, struct rreply **out, char *err, size_t errlen)
{
	redisReader *rd = P.c[i].reader;
	char buf[4096];
	size_t total = 0;
	void *reply = NULL;

	for (;;) {
		ssize_t got;
		if (redisReaderGetReply(rd, &reply) != REDIS_OK) {
			reader_error(rd, err, errlen);
			return -1;
		}
		if (reply != NULL) {
			/* One command, one reply: more bytes mean a confused peer. */
			if (rd->len > rd->pos) {
				rreply_free(reply);
				snprintf(err, errlen, "bad reply: unexpected data after the reply");
				return -1;
			}
			*out = reply;
			return 0;
		}
		errno = 0;
		got = transport_read(i, buf, sizeof buf, deadline);
		if (got <= 0) {
			snprintf(err, errlen, "%s", got == 0 || errno == 0 ? "connection closed by the server"
			    : errno == ETIMEDOUT ? "timed out waiting for a reply" : strerror(errno));
			return -1;
		}
		total += (size_t)got;
		if (total > reply_max) {
			snprintf(err, errlen, "reply longer than %zu bytes", reply_max);
			return -1;
		}
		if (redisReaderFeed(rd, buf, (size_t)got) != REDIS_OK) {
			reader_error(rd, err, errlen);
			return -1;
		}
	}
}

/*
 * Sends one command on connection i and reads its reply before deadline.
 * Returns 0 with *out (any type, errors included), or -1 when the connection
 * is unusable (I/O error, timeout, malformed or oversized reply) with a
 * reason in err.
 */
static int
exchange_max(int i, int argc, const char **argv, const size_t *lens, int64_t deadline,
             size_t reply_max, struct rreply **out, char *err, size_t errlen)
{
	char *cmd = NULL;
	int n, rc;

	*out = NULL;
	n = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (n < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = transport_write(i, cmd, (size_t)n, deadline);
	crypto_wipe(cmd, (size_t)n);     /* may hold pair keys */
	redisFreeCommand(cmd);
	if (rc != 0) {
		snprintf(err, errlen, "send failed: %s", errno == ETIMEDOUT ? "timed out" : strerror(errno));
		return -1;
	}
	metrics_count_store_command(conn_host(i), conn_port(i));
	return read_reply(i, deadline, reply_max, out, err, errlen);
}

static int
exchange(int i, int argc, const char **argv, const size_t *lens, int64_t deadline,
         struct rreply **out, char *err, size_t errlen)
{
	return exchange_max(i, argc, argv, lens, deadline, STORE_REPLY_MAX, out, err, errlen);
}

/* "redis error: <first line of the error reply>" into err. */
static void
error_text(const struct rreply *r, const char *what, char *err, size_t errlen)
{
	int n = (int)(r->len > 160 ? 160 : r->len);
	snprintf(err, errlen, "%s: %.*s", what, n, r->str);
}

/* Sends one command of the connection set-up (argc <= 3), which must be
 * answered with the status "OK".  Returns 0; -1 when no reply came (reason
 * in err); -2 when the reply was another one ("<what>: <Redis error>" or
 * "<what>: unexpected reply" in err). */
static int
setup_command(int i, int argc, const char **argv, const char *what, int64_t deadline,
              char *err, size_t errlen)
{
	struct rreply *r;
	size_t lens[3];
	int ok;

	for (int k = 0; k < argc; k++)
		lens[k] = strlen(argv[k]);
	if (exchange(i, argc, argv, lens, deadline, &r, err, errlen) != 0)
		return -1;
	ok = rreply_is_status(r, "OK");
	if (!ok && r->type == REDIS_REPLY_ERROR)
		error_text(r, what, err, errlen);
	else if (!ok)
		snprintf(err, errlen, "%s: unexpected reply", what);
	rreply_free(r);
	return ok ? 0 : -2;
}

static int
select_db(int i, int64_t deadline, char *err, size_t errlen)
{
	char dbs[12];
	const char *argv[2] = { "SELECT", dbs };

	snprintf(dbs, sizeof dbs, "%u", R.url.db);
	return setup_command(i, 2, argv, "SELECT failed", deadline, err, errlen);
}

/* Connects connection i, runs TLS, AUTH (and SELECT, not in a cluster)
 * before deadline.  0 or -1 (closed). */
static int
conn_open(int i, int64_t deadline, char *err, size_t errlen)
{
	struct rconn *c = &P.c[i];
	const char *argv[3];
	int argc, rc;

	c->auth_failed = 0;
	c->fd = tls_tcp_connect(conn_host(i), conn_port(i), deadline, err, errlen);
	if (c->fd < 0)
		return -1;
	c->open = 1;
	if (R.url.tls && tls_client_start(&tls_conns[i], c->fd, &R.trust, conn_tls_name(i), deadline,
	                                  err, errlen) != 0)
		goto fail;
	c->reader = rreply_reader_create();
	if (c->reader == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (R.url.pass[0] != '\0') {
		argv[0] = "AUTH";
		argc = 1;
		if (R.url.user[0] != '\0')
			argv[argc++] = R.url.user;
		argv[argc++] = R.url.pass;
		rc = setup_command(i, argc, argv, "authentication failed", deadline, err, errlen);
		c->auth_failed = rc == -2;
		if (rc != 0)
			goto fail;
	}
	if (R.url.db != 0 && P.mode == MODE_SINGLE && select_db(i, deadline, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	conn_close(i);
	return -1;
}

/* The connection is idle: anything readable means the server closed it
 * (Redis sends nothing unasked on a RESP2 connection). */
static int
conn_is_stale(int i)
{
	struct pollfd p = { .fd = P.c[i].fd, .events = POLLIN | POLLRDHUP };

	if (poll(&p, 1, 0) != 0)
		return 1;
	return R.url.tls && tls_client_pending(&tls_conns[i]);
}

static int64_t
min_deadline(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Connection i usable before deadline, or -1 (STORE_UNAVAILABLE). */
static int
conn_ensure(int i, int64_t deadline)
{
	char err[256], why[560];

	if (!R.ready)
		return -1;
	conn_adopt();
	if (P.c[i].open) {
		if (!conn_is_stale(i))
			return 0;
		conn_close(i);      /* reconnect right away: nothing failed yet */
	}
	if (clock_ms() < P.c[i].retry_at_ms)
		return -1;          /* backing off: do not touch the network */
	if (conn_open(i, min_deadline(clock_ms() + STORE_CONNECT_TIMEOUT_MS, deadline), err, sizeof err) != 0) {
		snprintf(why, sizeof why, "%s:%u: %s", conn_host(i), conn_port(i), err);
		conn_failed(i, P.mode == MODE_CLUSTER ? why : err);
		return -1;
	}
	return 0;
}

/* Redis errors after which this connection should not be used again. */
static int
error_drops_connection(const struct rreply *r)
{
	static const char *const prefixes[] = { "NOAUTH", "WRONGPASS", "READONLY", "MASTERDOWN", "LOADING" };

	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		size_t n = strlen(prefixes[i]);
		if (r->len >= n && memcmp(r->str, prefixes[i], n) == 0)
			return 1;
	}
	return 0;
}

static void
log_command_problem(const char *what)
{
	int64_t now = clock_ms();

	if (P.last_error_log_ms == 0 || now - P.last_error_log_ms >= STORE_ERROR_LOG_INTERVAL_MS) {
		P.last_error_log_ms = now;
		LOG_EVENT(LOG_WARN, "state store command failed", LOG_S("backend", "redis"),
		    LOG_S("error", what));
	}
}

/* ---- commands, redirections, the slot map ---- */

static void
retry_pause(void)
{
	struct timespec ts = { 0, STORE_CLUSTER_RETRY_DELAY_MS * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ASKING: the next command on connection i may touch an importing slot. */
static int
send_asking(int i, int64_t deadline, char *err, size_t errlen)
{
	const char *argv[1] = { "ASKING" };

	return setup_command(i, 1, argv, "ASKING failed", deadline, err, errlen) == 0 ? 0 : -1;
}

/*
 * Runs one command on connection i before deadline; with script != NULL,
 * argv[0] is "EVALSHA" and argv[1] the script's SHA1, and a NOSCRIPT reply
 * (every node has its own script cache) is answered by sending the script
 * itself (EVAL).  With asking, each is preceded by ASKING (which holds for
 * one command).  Returns 0 with the reply in *out (caller frees; error
 * replies included, except those that drop the connection), or -1: the
 * connection failed (closed, back-off started, outage logged).
 */
static int
run_on(int i, int argc, const char **argv, size_t *lens, const char *script, int asking,
       int64_t deadline, struct rreply **out)
{
	char err[256];
	const char *a0 = argv[0], *a1 = argc > 1 ? argv[1] : NULL;
	size_t l0 = lens[0], l1 = argc > 1 ? lens[1] : 0;
	struct rreply *r = NULL;
	int rc = -1;

	*out = NULL;
	if (conn_ensure(i, deadline) != 0)
		return -1;
	deadline = min_deadline(clock_ms() + STORE_COMMAND_TIMEOUT_MS, deadline);
	if (asking && send_asking(i, deadline, err, sizeof err) != 0)
		goto done;
	if (exchange(i, argc, argv, lens, deadline, &r, err, sizeof err) != 0)
		goto done;
	if (script != NULL && rreply_is_error(r, "NOSCRIPT")) {
		rreply_free(r);
		r = NULL;
		argv[0] = "EVAL";
		argv[1] = script;
		lens[0] = 4;
		lens[1] = strlen(script);
		if (asking && send_asking(i, deadline, err, sizeof err) != 0)
			goto done;
		if (exchange(i, argc, argv, lens, deadline, &r, err, sizeof err) != 0)
			goto done;
	}
	/* A reply arrived: the server works, whatever it said. */
	P.c[i].backoff_ms = 0;
	if (error_drops_connection(r)) {
		error_text(r, "redis error", err, sizeof err);
		rreply_free(r);
		r = NULL;
		goto done;
	}
	rc = 0;
done:
	argv[0] = a0;                   /* the caller may send it again */
	lens[0] = l0;
	if (argc > 1) {
		argv[1] = a1;
		lens[1] = l1;
	}
	if (rc != 0)
		conn_failed(i, err);
	*out = r;
	return rc;
}

/*
 * Loads the slot map from connection i (CLUSTER SLOTS).  Returns 0 (map
 * replaced, connections of nodes that changed closed), -1 (no usable
 * reply, or a malformed map: reason in err), or -2 (the server answered
 * with an error: not a cluster, or not allowed).
 */
static int
map_load(int i, int64_t deadline, char *err, size_t errlen)
{
	static struct cluster_map fresh;        /* 17 KB: not on the stack */
	uint8_t changed[STORE_CLUSTER_NODES_MAX];
	const char *argv[2] = { "CLUSTER", "SLOTS" };
	size_t lens[2] = { 7, 5 };
	char host[STORE_REDIS_HOST_MAX + 1];
	struct rreply *r;
	int rc;

	snprintf(err, errlen, "%.200s:%u: unavailable", conn_host(i), conn_port(i));
	if (conn_ensure(i, deadline) != 0)
		return -1;
	snprintf(host, sizeof host, "%s", conn_host(i));
	rreply_reader_limit(P.c[i].reader, STORE_CLUSTER_MAP_ELEMENTS_MAX);
	rc = exchange_max(i, 2, argv, lens, min_deadline(clock_ms() + STORE_COMMAND_TIMEOUT_MS, deadline),
	    STORE_CLUSTER_MAP_REPLY_MAX, &r, err, errlen);
	if (rc != 0) {
		conn_failed(i, err);
		return -1;
	}
	rreply_reader_limit(P.c[i].reader, 0);
	P.c[i].backoff_ms = 0;
	if (r->type == REDIS_REPLY_ERROR) {
		error_text(r, "CLUSTER SLOTS", err, errlen);
		rc = -2;
	} else {
		rc = cluster_map_from_reply(r, host, R.url.host, &fresh, err, errlen);
	}
	rreply_free(r);
	if (rc == 0 && cluster_map_adopt(&map, &fresh, changed) != 0)
		rc = -1;
	for (int k = 0; rc == 0 && k < STORE_CLUSTER_NODES_MAX; k++)
		if (changed[k]) {
			conn_close(k);
			P.c[k].backoff_ms = 0;
			P.c[k].retry_at_ms = 0;
		}
	if (rc == 0)
		P.map_stale = 0;
	return rc;
}

/* Refreshes the slot map (at most once per STORE_CLUSTER_REFRESH_MIN_MS):
 * from the known primaries not backing off, starting at a per-process
 * rotor, then from REDIS_URL's host.  0 or -1. */
static int
map_refresh(int64_t deadline)
{
	char err[256] = "no cluster node is known", msg[300];
	int64_t now = clock_ms();

	if (now < P.refresh_after_ms)
		return -1;
	P.refresh_after_ms = now + STORE_CLUSTER_REFRESH_MIN_MS;
	metrics_count_store_map_refresh();
	for (unsigned k = 0; k < map.nodes && clock_ms() < deadline; k++) {
		int i = (int)((P.rotor + k) % map.nodes);
		if (map.node[i].host[0] == '\0' || now < P.c[i].retry_at_ms)
			continue;
		if (map_load(i, deadline, err, sizeof err) == 0) {
			P.rotor++;
			return 0;
		}
	}
	if (map_load(SEED, deadline, err, sizeof err) == 0) {
		conn_close(SEED);       /* one connection per node is enough */
		return 0;
	}
	snprintf(msg, sizeof msg, "slot map refresh failed: %s", err);
	log_command_problem(msg);
	return -1;
}

/*
 * Decides, once per process, whether REDIS_URL is a cluster (REDIS_CLUSTER
 * auto: CLUSTER SLOTS answers with a map; an error reply means it is not;
 * yes: it must answer with a map; no: never asked).  0, or -1.
 */
static int
ensure_mode(int64_t deadline)
{
	char err[256], msg[300];
	int rc;

	if (P.mode == MODE_SINGLE || (P.mode == MODE_CLUSTER && map.nodes > 0))
		return 0;
	if (P.mode == MODE_MISCONFIGURED)
		return -1;
	rc = map_load(SEED, deadline, err, sizeof err);
	if (rc == 0) {
		conn_close(SEED);
		if (R.url.db != 0) {
			P.mode = MODE_MISCONFIGURED;
			log_msg(LOG_ERROR, "config error: REDIS_URL: names database %u, but the server is a "
			    "Redis Cluster, which has only database 0 (no SELECT): use /0 or no path", R.url.db);
			return -1;
		}
		P.mode = MODE_CLUSTER;
		return 0;
	}
	if (rc == -2 && R.cluster == STORE_CLUSTER_AUTO) {
		P.mode = MODE_SINGLE;
		if (R.url.db == 0 || select_db(SEED, deadline, err, sizeof err) == 0)
			return 0;
		conn_failed(SEED, err);
		return -1;
	}
	if (rc == -2 || P.c[SEED].open) {       /* a reply that is no usable map */
		snprintf(msg, sizeof msg, "REDIS_CLUSTER=%s: %s",
		    R.cluster == STORE_CLUSTER_YES ? "yes" : "auto", err);
		log_command_problem(msg);
	}
	return -1;
}

/* Follows a MOVED or ASK from node `from`: the node it names (added to the
 * map when new), or -1.  MOVED also updates the slot and asks for a full
 * map refresh (a resharding moves many slots). */
static int
redirect_target(int from, const struct cluster_redirect *rd)
{
	int added, n;

	n = cluster_map_node(&map, rd->host[0] ? rd->host : conn_host(from), rd->port, R.url.host, &added);
	if (n >= 0 && added) {
		conn_close(n);
		P.c[n].backoff_ms = 0;
		P.c[n].retry_at_ms = 0;
	}
	if (rd->kind == CLUSTER_MOVED) {
		if (n >= 0)
			map.slot[rd->slot] = (uint8_t)n;
		P.map_stale = 1;
	}
	metrics_count_store_redirect(rd->kind == CLUSTER_ASK ? METRICS_REDIRECT_ASK : METRICS_REDIRECT_MOVED);
	return n;
}

/*
 * Runs one command in the cluster on the node serving slot, following at
 * most STORE_CLUSTER_REDIRECTS_MAX redirections or retries (MOVED, ASK,
 * TRYAGAIN, CLUSTERDOWN, a node that fails), all before deadline.  Returns
 * 0 with the final reply (possibly another error) and its node, or -1 with
 * the last problem in err.
 */
static int
run_cluster(int argc, const char **argv, size_t *lens, const char *script, unsigned slot,
            int64_t deadline, int *node_out, struct rreply **out, char *err, size_t errlen)
{
	struct cluster_redirect rd;
	int asking = 0, node = -1;

	snprintf(err, errlen, "no node serves slot %u", slot);
	for (int attempt = 0; attempt <= STORE_CLUSTER_REDIRECTS_MAX && clock_ms() < deadline; attempt++) {
		struct rreply *r;
		if (P.map_stale || (node < 0 && map.slot[slot] == CLUSTER_NO_NODE))
			map_refresh(deadline);
		if (node < 0 && (node = map.slot[slot] == CLUSTER_NO_NODE ? -1 : map.slot[slot]) < 0) {
			metrics_count_store_redirect(METRICS_REDIRECT_RETRY);
			retry_pause();
			continue;
		}
		if (run_on(node, argc, argv, lens, script, asking, deadline, &r) != 0) {
			snprintf(err, errlen, "%.200s:%u: unavailable", conn_host(node), conn_port(node));
			node = -1;
			asking = 0;
			metrics_count_store_redirect(METRICS_REDIRECT_RETRY);
			retry_pause();
			continue;
		}
		asking = 0;
		if (r->type == REDIS_REPLY_ERROR && cluster_parse_redirect(r->str, r->len, &rd) == 0) {
			error_text(r, "redis error", err, errlen);
			rreply_free(r);
			node = redirect_target(node, &rd);
			asking = node >= 0 && rd.kind == CLUSTER_ASK;
			continue;
		}
		if (rreply_is_error(r, "TRYAGAIN") || rreply_is_error(r, "CLUSTERDOWN")) {
			error_text(r, "redis error", err, errlen);
			rreply_free(r);
			P.map_stale = 1;
			node = -1;
			metrics_count_store_redirect(METRICS_REDIRECT_RETRY);
			retry_pause();
			continue;
		}
		*node_out = node;
		*out = r;
		return 0;
	}
	return -1;
}

/*
 * Runs one command on the node holding key (NULL: any; REDIS_URL's host
 * when the server is not a cluster); see run_on for script.  Returns 0 with
 * a non-error reply in *out (caller frees) and the connection it came from
 * in *node, or -1: STORE_UNAVAILABLE.
 */
static int
run(int argc, const char **argv, size_t *lens, const char *script, const char *key,
    int *node, struct rreply **out)
{
	char err[256];
	int64_t deadline = clock_ms() + STORE_CONNECT_TIMEOUT_MS + STORE_COMMAND_TIMEOUT_MS;
	struct rreply *r;

	*out = NULL;
	if (!R.ready)
		return -1;
	conn_adopt();
	if (ensure_mode(deadline) != 0)
		return -1;
	if (P.mode == MODE_CLUSTER) {
		if (run_cluster(argc, argv, lens, script, cluster_key_slot(key, strlen(key)), deadline,
		                node, &r, err, sizeof err) != 0) {
			log_command_problem(err);
			return -1;
		}
	} else {
		*node = SEED;
		if (run_on(SEED, argc, argv, lens, script, 0, deadline, &r) != 0)
			return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		error_text(r, "redis error", err, sizeof err);
		rreply_free(r);
		mark_up();
		log_command_problem(err);
		return -1;
	}
	mark_up();
	*out = r;
	return 0;
}

static void
unexpected(struct rreply *r, const char *what)
{
	rreply_free(r);
	log_command_problem(what);
}

/* REDIS_WAIT_REPLICAS: WAIT on the node that took the window update.
 * 0 when enough replicas confirmed it, else -1 (logged). */
static int
wait_replicas(int node)
{
	const char *argv[3] = { "WAIT", R.wait_n, R.wait_ms };
	size_t lens[3] = { 4, strlen(R.wait_n), strlen(R.wait_ms) };
	struct rreply *r;
	int ok;

	if (run_on(node, 3, argv, lens, NULL, 0,
	           clock_ms() + STORE_CONNECT_TIMEOUT_MS + STORE_WAIT_TIMEOUT_MS + STORE_COMMAND_TIMEOUT_MS, &r) != 0)
		return -1;
	ok = r->type == REDIS_REPLY_INTEGER && r->integer >= (long long)R.wait_replicas;
	if (!ok && r->type == REDIS_REPLY_ERROR) {
		char err[256];
		error_text(r, "WAIT failed", err, sizeof err);
		log_command_problem(err);
	} else if (!ok) {
		log_command_problem("WAIT: fewer replicas than REDIS_WAIT_REPLICAS confirmed the window update");
	}
	rreply_free(r);
	return ok ? 0 : -1;
}

/* ---- keys ---- */

static void
pair_prefix(char *buf, size_t n, const char *cid)
{
	snprintf(buf, n, "mte:{%s:%s}:p:", R.server_id, cid);
}

static void
pair_key(char *buf, size_t n, const char *cid, const char *pid)
{
	snprintf(buf, n, "mte:{%s:%s}:p:%s", R.server_id, cid, pid);
}

static void
index_key(char *buf, size_t n, const char *cid)
{
	snprintf(buf, n, "mte:{%s:%s}:pairs", R.server_id, cid);
}

/* ---- operations ---- */

static enum store_status
redis_put(const struct store_pair *p)
{
	char key[KEY_MAX], idx[KEY_MAX], prefix[KEY_MAX], gen[24];
	const char *argv[13];
	size_t lens[13];
	struct rreply *r;
	int node;

	pair_key(key, sizeof key, p->client_id, p->pair_id);
	index_key(idx, sizeof idx, p->client_id);
	pair_prefix(prefix, sizeof prefix, p->client_id);
	argv[0] = "EVALSHA";
	argv[1] = R.sha_put;
	argv[2] = "2";
	argv[3] = key;
	argv[4] = idx;
	argv[5] = NULL;         /* k_req, binary */
	argv[6] = NULL;         /* k_res, binary */
	argv[7] = R.window;
	argv[8] = R.fresh_ttl_ms;
	argv[9] = R.cap;
	argv[10] = p->pair_id;
	argv[11] = prefix;
	snprintf(gen, sizeof gen, "%" PRIu64, p->generation);
	argv[12] = gen;
	for (int i = 0; i < 13; i++)
		lens[i] = argv[i] ? strlen(argv[i]) : 0;
	argv[5] = (const char *)p->k_req;
	lens[5] = sizeof p->k_req;
	argv[6] = (const char *)p->k_res;
	lens[6] = sizeof p->k_res;
	if (run(13, argv, lens, SCRIPT_PUT, key, &node, &r) != 0)
		return STORE_UNAVAILABLE;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == -2) {
		rreply_free(r);
		return STORE_EXISTS;    /* never reset a live pair's window */
	}
	if (r->type != REDIS_REPLY_INTEGER || r->integer < 0) {
		unexpected(r, "unexpected reply to the put script");
		return STORE_UNAVAILABLE;
	}
	rreply_free(r);
	return STORE_OK;
}

static enum store_status
redis_get(const char *cid, const char *pid, struct store_pair *out)
{
	char key[KEY_MAX];
	const char *argv[5] = { "HMGET", key, "k_req", "k_res", "g" };
	size_t lens[5];
	struct rreply *r, *a, *b, *g;
	uint64_t gen = 0;
	int node;

	pair_key(key, sizeof key, cid, pid);
	for (int i = 0; i < 5; i++)
		lens[i] = strlen(argv[i]);
	if (run(5, argv, lens, NULL, key, &node, &r) != 0)
		return STORE_UNAVAILABLE;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		unexpected(r, "unexpected reply to HMGET");
		return STORE_UNAVAILABLE;
	}
	a = r->element[0];
	b = r->element[1];
	g = r->element[2];
	if (a->type == REDIS_REPLY_NIL && b->type == REDIS_REPLY_NIL) {
		rreply_free(r);
		return STORE_NOT_FOUND;
	}
	if (a->type != REDIS_REPLY_STRING || a->len != STORE_KEY_LEN
	    || b->type != REDIS_REPLY_STRING || b->len != STORE_KEY_LEN) {
		unexpected(r, "stored pair keys are not 32 bytes");
		return STORE_UNAVAILABLE;
	}
	/* No generation: a pair stored before generations (matches 0 only). */
	if (g->type != REDIS_REPLY_NIL &&
	    (g->type != REDIS_REPLY_STRING || decimal_parse(g->str, g->len, UINT64_MAX, &gen) != 0)) {
		unexpected(r, "stored pair generation is not a decimal number");
		return STORE_UNAVAILABLE;
	}
	memset(out, 0, sizeof *out);
	out->generation = gen;
	memcpy(out->client_id, cid, STORE_CLIENT_ID_LEN);
	memcpy(out->pair_id, pid, strlen(pid));
	memcpy(out->k_req, a->str, STORE_KEY_LEN);
	memcpy(out->k_res, b->str, STORE_KEY_LEN);
	rreply_free(r);
	return STORE_OK;
}

static enum store_status
redis_accept(const char *cid, const char *pid, const uint64_t *generation, uint64_t seq)
{
	char key[KEY_MAX], idx[KEY_MAX], seqs[24], gen[24] = "";
	const char *argv[9];
	size_t lens[9];
	struct rreply *r;
	int node;
	long long v;

	pair_key(key, sizeof key, cid, pid);
	index_key(idx, sizeof idx, cid);
	snprintf(seqs, sizeof seqs, "%" PRIu64, seq);
	argv[0] = "EVALSHA";
	argv[1] = R.sha_accept;
	argv[2] = "2";
	argv[3] = key;
	argv[4] = idx;
	argv[5] = seqs;
	argv[6] = R.window;
	argv[7] = R.ttl_ms;
	if (generation != NULL)
		snprintf(gen, sizeof gen, "%" PRIu64, *generation);
	argv[8] = gen;
	for (int i = 0; i < 9; i++)
		lens[i] = strlen(argv[i]);
	if (run(9, argv, lens, SCRIPT_ACCEPT, key, &node, &r) != 0)
		return STORE_UNAVAILABLE;
	if (r->type != REDIS_REPLY_INTEGER || r->integer < -3 || r->integer > 1 || r->integer == -2) {
		unexpected(r, "unexpected reply to the window script");
		return STORE_UNAVAILABLE;
	}
	v = r->integer;
	rreply_free(r);
	/* Forwarded only once enough replicas hold the update (a failover
	 * could otherwise promote a replica that would accept seq again). */
	if (v == 1 && R.wait_replicas > 0 && wait_replicas(node) != 0)
		return STORE_UNAVAILABLE;
	return v == 1 ? STORE_OK : v == 0 ? STORE_REPLAY : v == -3 ? STORE_STALE : STORE_NOT_FOUND;
}

static enum store_status
redis_rate(const char *bucket, unsigned n, unsigned limit, unsigned window_s,
    unsigned *retry_after_s)
{
	char key[KEY_MAX], ns[12], lims[12], win[24];
	const char *argv[7];
	size_t lens[7];
	struct rreply *r;
	int node;
	long long v;

	snprintf(key, sizeof key, "mte:{%s:r:%s}", R.server_id, bucket);
	snprintf(ns, sizeof ns, "%u", n);
	snprintf(lims, sizeof lims, "%u", limit);
	snprintf(win, sizeof win, "%llu", (unsigned long long)window_s * 1000);
	argv[0] = "EVALSHA";
	argv[1] = R.sha_rate;
	argv[2] = "1";
	argv[3] = key;
	argv[4] = ns;
	argv[5] = lims;
	argv[6] = win;
	for (int i = 0; i < 7; i++)
		lens[i] = strlen(argv[i]);
	if (run(7, argv, lens, SCRIPT_RATE, key, &node, &r) != 0)
		return STORE_UNAVAILABLE;
	if (r->type != REDIS_REPLY_INTEGER || r->integer == 0) {
		unexpected(r, "unexpected reply to the rate script");
		return STORE_UNAVAILABLE;
	}
	v = r->integer;
	rreply_free(r);
	if (v > 0)
		return STORE_OK;
	*retry_after_s = (unsigned)((-v + 999) / 1000);
	return STORE_LIMITED;
}

static enum store_status
redis_del(const char *cid, const char *pid)
{
	char key[KEY_MAX];
	const char *argv[2] = { "DEL", key };
	size_t lens[2];
	struct rreply *r;
	int node;
	long long v;

	/* The index entry stays; the next put of this client drops it. */
	pair_key(key, sizeof key, cid, pid);
	lens[0] = 3;
	lens[1] = strlen(key);
	if (run(2, argv, lens, NULL, key, &node, &r) != 0)
		return STORE_UNAVAILABLE;
	if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 || r->integer > 1) {
		unexpected(r, "unexpected reply to DEL");
		return STORE_UNAVAILABLE;
	}
	v = r->integer;
	rreply_free(r);
	return v == 1 ? STORE_OK : STORE_NOT_FOUND;
}

/* mte:{SID:s:GROUP}:INDEX: one partner's slots share a hash tag. */
static void
slot_key(char *buf, size_t n, const char *group, unsigned index)
{
	snprintf(buf, n, "mte:{%s:s:%s}:%u", R.server_id, group, index);
}

static enum store_status
redis_slot_get(const char *group, unsigned index, struct store_slot *out)
{
	char key[KEY_MAX];
	const char *argv[4] = { "HMGET", key, "v", "d" };
	size_t lens[4];
	struct rreply *r, *v, *d;
	uint64_t ver = 0;
	int node;

	slot_key(key, sizeof key, group, index);
	for (int i = 0; i < 4; i++)
		lens[i] = strlen(argv[i]);
	if (run(4, argv, lens, NULL, key, &node, &r) != 0)
		return STORE_UNAVAILABLE;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		unexpected(r, "unexpected reply to HMGET");
		return STORE_UNAVAILABLE;
	}
	v = r->element[0];
	d = r->element[1];
	if (v->type == REDIS_REPLY_NIL) {
		rreply_free(r);
		return STORE_NOT_FOUND;
	}
	if (v->type != REDIS_REPLY_STRING || decimal_parse(v->str, v->len, UINT64_MAX, &ver) != 0 ||
	    ver == 0 || d->type != REDIS_REPLY_STRING || d->len > STORE_SLOT_VALUE_MAX) {
		unexpected(r, "stored slot is not a version and a value");
		return STORE_UNAVAILABLE;
	}
	out->version = ver;
	out->len = d->len;
	memcpy(out->value, d->str, d->len);
	rreply_free(r);
	return STORE_OK;
}

static enum store_status
redis_slot_replace(const char *group, unsigned index, uint64_t expect, uint64_t version,
    const uint8_t *value, size_t len)
{
	char key[KEY_MAX], exp[24], ver[24];
	const char *argv[7];
	size_t lens[7];
	struct rreply *r;
	int node;
	long long v;

	slot_key(key, sizeof key, group, index);
	snprintf(exp, sizeof exp, "%" PRIu64, expect);
	snprintf(ver, sizeof ver, "%" PRIu64, version);
	argv[0] = "EVALSHA";
	argv[1] = R.sha_slot_set;
	argv[2] = "1";
	argv[3] = key;
	argv[4] = exp;
	argv[5] = ver;
	argv[6] = "";
	for (int i = 0; i < 7; i++)
		lens[i] = strlen(argv[i]);
	argv[6] = value != NULL ? (const char *)value : "";      /* binary */
	lens[6] = len;
	if (run(7, argv, lens, SCRIPT_SLOT_SET, key, &node, &r) != 0)
		return STORE_UNAVAILABLE;
	if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 || r->integer > 1) {
		unexpected(r, "unexpected reply to the slot script");
		return STORE_UNAVAILABLE;
	}
	v = r->integer;
	rreply_free(r);
	return v == 1 ? STORE_OK : STORE_EXISTS;
}

static enum store_status
redis_slot_next(const char *group, unsigned index, uint64_t version, uint64_t *n)
{
	char key[KEY_MAX], ver[24];
	const char *argv[5];
	size_t lens[5];
	struct rreply *r;
	int node;
	long long v;

	slot_key(key, sizeof key, group, index);
	snprintf(ver, sizeof ver, "%" PRIu64, version);
	argv[0] = "EVALSHA";
	argv[1] = R.sha_slot_next;
	argv[2] = "1";
	argv[3] = key;
	argv[4] = ver;
	for (int i = 0; i < 5; i++)
		lens[i] = strlen(argv[i]);
	if (run(5, argv, lens, SCRIPT_SLOT_NEXT, key, &node, &r) != 0)
		return STORE_UNAVAILABLE;
	if (r->type != REDIS_REPLY_INTEGER || r->integer < -2 || r->integer == 0) {
		unexpected(r, "unexpected reply to the slot counter script");
		return STORE_UNAVAILABLE;
	}
	v = r->integer;
	rreply_free(r);
	if (v == -1)
		return STORE_NOT_FOUND;
	if (v == -2)
		return STORE_STALE;
	/* As the window: a failover must not promote a replica that would hand
	 * out this seq again (the same key and nonce for another plaintext). */
	if (R.wait_replicas > 0 && wait_replicas(node) != 0)
		return STORE_UNAVAILABLE;
	*n = (uint64_t)v;
	return STORE_OK;
}

static enum store_status
redis_health(void)
{
	char key[KEY_MAX];
	const char *argv[1] = { "PING" };
	size_t lens[1] = { 4 };
	struct rreply *r;
	int node, ok;

	/* In a cluster: the node of this key (one per SERVER_ID). */
	snprintf(key, sizeof key, "mte:{%s}:health", R.server_id);
	if (run(1, argv, lens, NULL, key, &node, &r) != 0)
		return STORE_UNAVAILABLE;
	ok = rreply_is_status(r, "PONG");
	if (!ok)
		log_command_problem("unexpected reply to PING");
	rreply_free(r);
	return ok ? STORE_OK : STORE_UNAVAILABLE;
}

/* ---- life cycle ---- */

/* The script's SHA1 as EVALSHA wants it: 40 lower-case hex digits. */
static void
sha1_hex(const char *text, char out[41])
{
	br_sha1_context sc;
	uint8_t d[br_sha1_SIZE];

	br_sha1_init(&sc);
	br_sha1_update(&sc, text, strlen(text));
	br_sha1_out(&sc, d);
	hex_encode(out, d, sizeof d);
	out[2 * sizeof d] = '\0';
}

static void
redis_fini(void)
{
	if (P.pid != getpid())
		conn_adopt();
	conn_close_all();
	tls_trust_free(&R.trust);
	if (R.shared != NULL)
		munmap(R.shared, sizeof *R.shared);
	crypto_wipe(&R, sizeof R);
	memset(&map, 0, sizeof map);
	P.mode = MODE_UNKNOWN;
	P.map_stale = 0;
	backoff_forget();
}

static void
redis_worker_init(void)
{
	conn_adopt();
}

static void
redis_worker_close(void)
{
	conn_adopt();
	conn_close_all();
}

/* R from the settings; STORE_INIT_* (errors logged). */
static int
init_settings(const struct store_settings *s, const struct store_config *cfg)
{
	char err[256];
	const char *ca;
	void *page;

	if (store_redis_url_parse(cfg->redis_url, &R.url, err, sizeof err) != 0) {
		log_msg(LOG_ERROR, "config error: REDIS_URL: %s", err);
		return STORE_INIT_BAD_CONFIG;
	}
	if (cfg->redis_cluster == STORE_CLUSTER_YES && R.url.db != 0) {
		log_msg(LOG_ERROR, "config error: REDIS_URL: names database %u, but REDIS_CLUSTER=yes and a "
		    "Redis Cluster has only database 0 (no SELECT): use /0 or no path", R.url.db);
		return STORE_INIT_BAD_CONFIG;
	}
	if (cfg->redis_wait_replicas > STORE_WAIT_REPLICAS_MAX) {
		log_msg(LOG_ERROR, "config error: REDIS_WAIT_REPLICAS must be 0..%d", STORE_WAIT_REPLICAS_MAX);
		return STORE_INIT_BAD_CONFIG;
	}
	if (R.url.tls) {
		ca = cfg->redis_ca_file && cfg->redis_ca_file[0] ? cfg->redis_ca_file : STORE_SYSTEM_CA_FILE;
		if (tls_trust_load(&R.trust, ca, err, sizeof err) != 0) {
			log_msg(LOG_ERROR, "config error: REDIS_CA_FILE: %s", err);
			return STORE_INIT_BAD_CONFIG;
		}
	}
	page = mmap(NULL, sizeof *R.shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		LOG_EVENT(LOG_ERROR, "redis store: cannot map shared memory", LOG_S("error", strerror(errno)));
		tls_trust_free(&R.trust);
		return STORE_INIT_FAILED;
	}
	R.shared = page;
	R.cluster = cfg->redis_cluster;
	R.wait_replicas = cfg->redis_wait_replicas;
	snprintf(R.wait_n, sizeof R.wait_n, "%u", R.wait_replicas);
	snprintf(R.wait_ms, sizeof R.wait_ms, "%d", STORE_WAIT_TIMEOUT_MS);
	memcpy(R.server_id, s->server_id, sizeof R.server_id);
	snprintf(R.window, sizeof R.window, "%" PRIu32, s->window);
	snprintf(R.ttl_ms, sizeof R.ttl_ms, "%" PRIu64, s->ttl_ms);
	snprintf(R.fresh_ttl_ms, sizeof R.fresh_ttl_ms, "%" PRIu64, s->fresh_ttl_ms);
	snprintf(R.cap, sizeof R.cap, "%" PRIu32, s->max_pairs_per_client);
	sha1_hex(SCRIPT_ACCEPT, R.sha_accept);
	sha1_hex(SCRIPT_PUT, R.sha_put);
	sha1_hex(SCRIPT_RATE, R.sha_rate);
	sha1_hex(SCRIPT_SLOT_SET, R.sha_slot_set);
	sha1_hex(SCRIPT_SLOT_NEXT, R.sha_slot_next);
	return STORE_INIT_OK;
}

/* Start-up check: one connection, one PING, the cluster detection, then
 * every connection closed so that no worker inherits one.  1 when it all
 * worked, else 0 with the reason in err. */
static int
startup_check(char *err, size_t errlen)
{
	const char *argv[1] = { "PING" };
	size_t lens[1] = { 4 };
	struct rreply *r = NULL;
	int ok;

	ok = conn_open(SEED, clock_ms() + STORE_CONNECT_TIMEOUT_MS, err, errlen) == 0;
	if (ok && exchange(SEED, 1, argv, lens, clock_ms() + STORE_COMMAND_TIMEOUT_MS, &r, err, errlen) != 0)
		ok = 0;
	if (ok && !rreply_is_status(r, "PONG")) {
		ok = 0;
		if (r->type == REDIS_REPLY_ERROR)
			error_text(r, "PING failed", err, errlen);
		else
			snprintf(err, errlen, "PING: unexpected reply");
	}
	rreply_free(r);
	if (ok && ensure_mode(clock_ms() + STORE_CONNECT_TIMEOUT_MS + STORE_COMMAND_TIMEOUT_MS) != 0) {
		ok = 0;
		snprintf(err, errlen, "cluster detection failed (REDIS_CLUSTER=%s)",
		    R.cluster == STORE_CLUSTER_YES ? "yes" : "auto");
	}
	conn_close_all();
	return ok;
}

static int
redis_init(const struct store_settings *s, const struct store_config *cfg)
{
	char err[256] = "";
	int ok, rc;

	redis_fini();
	if ((rc = init_settings(s, cfg)) != STORE_INIT_OK) {
		crypto_wipe(&R, sizeof R);
		return rc;
	}
	R.ready = 1;
	P.pid = getpid();
	P.mode = R.cluster == STORE_CLUSTER_NO ? MODE_SINGLE : MODE_UNKNOWN;
	ok = startup_check(err, sizeof err);
	if (P.mode == MODE_MISCONFIGURED) {
		redis_fini();
		return STORE_INIT_BAD_CONFIG;
	}
	atomic_store(&R.shared->down, ok ? 0 : 1);
	if (ok)
		LOG_EVENT(LOG_INFO, "state store connected", LOG_S("backend", "redis"),
		    LOG_S("host", R.url.host), LOG_I("port", R.url.port),
		    LOG_S("tls", R.url.tls ? "yes" : "no"), LOG_I("db", R.url.db),
		    LOG_S("auth", auth_kind()), LOG_S("mode", mode_name()),
		    LOG_I("primaries", P.mode == MODE_CLUSTER ? map.nodes : 1));
	else
		LOG_EVENT(P.c[SEED].auth_failed ? LOG_ERROR : LOG_WARN,
		    P.c[SEED].auth_failed ? "state store authentication failed; state requests answer 503"
		                  : "state store unreachable at start-up; state requests answer 503 until it is back",
		    LOG_S("backend", "redis"), LOG_S("host", R.url.host), LOG_I("port", R.url.port),
		    LOG_S("tls", R.url.tls ? "yes" : "no"), LOG_I("db", R.url.db),
		    LOG_S("auth", auth_kind()), LOG_S("error", err));
	return STORE_INIT_OK;
}

const struct store_backend store_backend_redis = {
	.name = "redis",
	.init = redis_init,
	.fini = redis_fini,
	.worker_init = redis_worker_init,
	.worker_close = redis_worker_close,
	.put = redis_put,
	.get = redis_get,
	.accept = redis_accept,
	.del = redis_del,
	.rate = redis_rate,
	.slot_get = redis_slot_get,
	.slot_replace = redis_slot_replace,
	.slot_next = redis_slot_next,
	.health = redis_health,
};
