/*
 * redis.c - the Redis backend (see store.h for the key layout).
 *
 * The only file that includes hiredis, and it uses only hiredis's RESP
 * writer (redisFormatCommandArgv) and reader (with our own reply objects, so
 * that a reply declaring a huge array is refused before anything is sized
 * from it).  The bytes travel over redis_tls.c: plain TCP or BearSSL TLS.
 * REDIS_URL is parsed by redis_url.c.
 *
 * One connection per process, made lazily.  Failure handling:
 * - before using an idle connection, poll it: a server that closed it
 *   (restart, idle timeout) is noticed and a new connection made at once,
 *   so a Redis restart costs no failed request by itself;
 * - any I/O error, timeout or malformed reply closes the connection and
 *   starts a back-off (STORE_BACKOFF_MIN_MS doubling to STORE_BACKOFF_MAX_MS,
 *   plus a per-process jitter so workers do not reconnect in step); during
 *   the back-off operations fail at once with STORE_UNAVAILABLE;
 * - the back-off resets only when a reply arrives (not when TCP connects,
 *   which a stopped Redis still accepts);
 * - an outage is logged once for all workers: a flag in a shared page flips
 *   up->down ("warn") and down->up ("info").  A command that Redis answers
 *   with an error (other than the connection-level ones) is logged at most
 *   every STORE_ERROR_LOG_INTERVAL_MS per process.
 *
 * Lua scripts (EVALSHA, EVAL on NOSCRIPT): see SCRIPT_ACCEPT and SCRIPT_PUT.
 */
#include "store/store.h"
#include "store/backend.h"
#include "store/redis_tls.h"
#include "clock.h"
#include "crypto/wipe.h"
#include "hex.h"
#include "log.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define KEY_MAX (sizeof "mte:{" + STORE_SERVER_ID_MAX + 1 + STORE_CLIENT_ID_LEN + sizeof "}:pairs" + PAIR_ID_MAX)

/*
 * The replay window test-and-set.
 * KEYS[1] pair hash, KEYS[2] client index; ARGV[1] seq (decimal u64),
 * ARGV[2] W, ARGV[3] TTL in ms.  Returns 1 accepted, 0 rejected, -1 no pair.
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
"local f=redis.call('HMGET',KEYS[1],'hi','w','bm')\n"
"if not f[1] then return -1 end\n"
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
 * ARGV[3] W, ARGV[4] TTL ms, ARGV[5] cap, ARGV[6] pair id, ARGV[7] the
 * client's pair key prefix.  Returns the number of pairs evicted.
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
"redis.call('HSET',KEYS[1],'k_req',ARGV[1],'k_res',ARGV[2],'hi','0','w',ARGV[3],'bm',string.rep('\\0',math.ceil(tonumber(ARGV[3])/8)))\n"
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
"redis.call('PEXPIRE',KEYS[2],ARGV[4])\n"
"if n<0 then n=0 end\n"
"return n\n";

/* ---- reply objects for hiredis's reader ---- */

struct rreply {
	int             type;           /* REDIS_REPLY_* */
	long long       integer;
	size_t          len;            /* string, status, error */
	char           *str;
	size_t          elements;
	struct rreply **element;
};

static void
rreply_free(void *obj)
{
	struct rreply *r = obj;

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->elements; i++)
		rreply_free(r->element[i]);
	free(r->element);
	if (r->str != NULL)
		crypto_wipe(r->str, r->len);     /* may hold pair keys */
	free(r);
}

static void *
rreply_link(const redisReadTask *task, struct rreply *r)
{
	if (task->parent != NULL) {
		struct rreply *parent = task->parent->obj;
		if (parent == NULL || task->idx < 0 || (size_t)task->idx >= parent->elements) {
			rreply_free(r);
			return NULL;
		}
		parent->element[task->idx] = r;
	}
	return r;
}

static void *
rr_string(const redisReadTask *task, char *str, size_t len)
{
	struct rreply *r;

	if (len > STORE_REPLY_MAX || (r = calloc(1, sizeof *r + len + 1)) == NULL)
		return NULL;
	r->type = task->type;
	r->str = (char *)(r + 1);
	memcpy(r->str, str, len);
	r->len = len;
	return rreply_link(task, r);
}

static void *
rr_array(const redisReadTask *task, int elements)
{
	struct rreply *r;

	/* The declared count is the peer's word: bound it before sizing. */
	if (elements < 0 || elements > STORE_REPLY_ELEMENTS_MAX)
		return NULL;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	if (elements > 0 && (r->element = calloc((size_t)elements, sizeof *r->element)) == NULL) {
		free(r);
		return NULL;
	}
	r->type = REDIS_REPLY_ARRAY;
	r->elements = (size_t)elements;
	return rreply_link(task, r);
}

static void *
rr_integer(const redisReadTask *task, long long v)
{
	struct rreply *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->type = REDIS_REPLY_INTEGER;
	r->integer = v;
	return rreply_link(task, r);
}

static void *
rr_nil(const redisReadTask *task)
{
	struct rreply *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->type = REDIS_REPLY_NIL;
	return rreply_link(task, r);
}

static redisReplyObjectFunctions reply_functions = {
	rr_string, rr_array, rr_integer, rr_nil, rreply_free
};

/* ---- state ---- */

struct shared_flags {
	atomic_int down;        /* 1 from the first failure of an outage to the next success */
};

/* Made by redis_init in the parent, read-only afterwards, inherited. */
static struct {
	int                  ready;
	struct store_redis_url url;
	struct tls_trust     trust;
	char                 server_id[STORE_SERVER_ID_MAX + 1];
	char                 window[12], ttl_ms[24], cap[12];
	char                 sha_accept[41], sha_put[41];
	struct shared_flags *shared;
} R;

/* This process's connection. */
static struct {
	pid_t        pid;           /* owner; another pid means "inherited" */
	int          fd;
	redisReader *reader;
	unsigned     backoff_ms;    /* 0: last command succeeded */
	int64_t      retry_at_ms;   /* no connect attempt before this */
	int64_t      last_error_log_ms;
	int          auth_failed;   /* last connect failed at AUTH */
} C = { .fd = -1 };

static struct tls_client tls_conn;  /* ~35 KB, per process (copy-on-write) */

static const char *
auth_kind(void)
{
	return R.url.pass[0] == '\0' ? "none" : R.url.user[0] ? "acl" : "password";
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
conn_close(void)
{
	if (C.fd >= 0)
		close(C.fd);
	C.fd = -1;
	if (C.reader != NULL)
		redisReaderFree(C.reader);
	C.reader = NULL;
}

/* Forgets the back-off and the error-log rate limit (a new process, or a
 * new store). */
static void
backoff_forget(void)
{
	C.backoff_ms = 0;
	C.retry_at_ms = 0;
	C.last_error_log_ms = 0;
}

/* Drops a connection inherited through fork without using it. */
static void
conn_adopt(void)
{
	if (C.pid == getpid())
		return;
	conn_close();               /* our copy of the fd and of the reader */
	C.pid = getpid();
	backoff_forget();
}

static void
start_backoff(void)
{
	unsigned jitter;

	C.backoff_ms = C.backoff_ms == 0 ? STORE_BACKOFF_MIN_MS
	    : C.backoff_ms >= STORE_BACKOFF_MAX_MS / 2 ? STORE_BACKOFF_MAX_MS : C.backoff_ms * 2;
	/* Up to +25%, different per worker, so workers do not retry in step. */
	jitter = (unsigned)(((unsigned long)getpid() * 2654435761u) % 16) * (C.backoff_ms / 64);
	C.retry_at_ms = clock_ms() + C.backoff_ms + jitter;
}

static void
conn_failed(const char *why)
{
	conn_close();
	start_backoff();
	mark_down(why);
}

static int
transport_write(const char *buf, size_t len, int64_t deadline)
{
	if (R.url.tls)
		return tls_client_write_all(&tls_conn, buf, len, deadline);
	return tls_sock_write_all(C.fd, buf, len, deadline);
}

static ssize_t
transport_read(char *buf, size_t len, int64_t deadline)
{
	if (R.url.tls)
		return tls_client_read(&tls_conn, buf, len, deadline);
	return tls_sock_read(C.fd, buf, len, deadline);
}

static void
reader_error(char *err, size_t errlen)
{
	/* Our reply constructors return NULL for an oversized array, which
	 * hiredis reports as out of memory. */
	if (C.reader->err == REDIS_ERR_OOM)
		snprintf(err, errlen, "bad reply: an array of more than %d elements (or out of memory)",
		    STORE_REPLY_ELEMENTS_MAX);
	else
		snprintf(err, errlen, "bad reply: %s", C.reader->errstr);
}

/*
 * Sends one command and reads its reply before deadline.  Returns 0 with
 * *out (any type, errors included), or -1 when the connection is unusable
 * (I/O error, timeout, malformed or oversized reply) with a reason in err.
 */
static int
exchange(int argc, const char **argv, const size_t *lens, int64_t deadline,
         struct rreply **out, char *err, size_t errlen)
{
	char *cmd = NULL, buf[4096];
	size_t total = 0;
	int n, rc;
	void *reply = NULL;

	*out = NULL;
	n = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (n < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = transport_write(cmd, (size_t)n, deadline);
	crypto_wipe(cmd, (size_t)n);     /* may hold pair keys */
	redisFreeCommand(cmd);
	if (rc != 0) {
		snprintf(err, errlen, "send failed: %s", errno == ETIMEDOUT ? "timed out" : strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t got;
		if (redisReaderGetReply(C.reader, &reply) != REDIS_OK) {
			reader_error(err, errlen);
			return -1;
		}
		if (reply != NULL) {
			/* One command, one reply: more bytes mean a confused peer. */
			if (C.reader->len > C.reader->pos) {
				rreply_free(reply);
				snprintf(err, errlen, "bad reply: unexpected data after the reply");
				return -1;
			}
			*out = reply;
			return 0;
		}
		errno = 0;
		got = transport_read(buf, sizeof buf, deadline);
		if (got <= 0) {
			snprintf(err, errlen, "%s", got == 0 || errno == 0 ? "connection closed by the server"
			    : errno == ETIMEDOUT ? "timed out waiting for a reply" : strerror(errno));
			return -1;
		}
		total += (size_t)got;
		if (total > STORE_REPLY_MAX) {
			snprintf(err, errlen, "reply longer than %d bytes", STORE_REPLY_MAX);
			return -1;
		}
		if (redisReaderFeed(C.reader, buf, (size_t)got) != REDIS_OK) {
			reader_error(err, errlen);
			return -1;
		}
	}
}

static int
is_status(const struct rreply *r, const char *text)
{
	return r->type == REDIS_REPLY_STATUS && r->len == strlen(text) && memcmp(r->str, text, r->len) == 0;
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
setup_command(int argc, const char **argv, const char *what, int64_t deadline,
              char *err, size_t errlen)
{
	struct rreply *r;
	size_t lens[3];
	int ok;

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (exchange(argc, argv, lens, deadline, &r, err, errlen) != 0)
		return -1;
	ok = is_status(r, "OK");
	if (!ok && r->type == REDIS_REPLY_ERROR)
		error_text(r, what, err, errlen);
	else if (!ok)
		snprintf(err, errlen, "%s: unexpected reply", what);
	rreply_free(r);
	return ok ? 0 : -2;
}

/* Connects, runs TLS, AUTH and SELECT before deadline.  0 or -1 (closed). */
static int
conn_open(int64_t deadline, char *err, size_t errlen)
{
	char dbs[12];
	const char *argv[3];
	int argc, rc;

	C.auth_failed = 0;
	C.fd = tls_tcp_connect(R.url.host, R.url.port, deadline, err, errlen);
	if (C.fd < 0)
		return -1;
	if (R.url.tls && tls_client_start(&tls_conn, C.fd, &R.trust, R.url.host, deadline, err, errlen) != 0)
		goto fail;
	C.reader = redisReaderCreateWithFunctions(&reply_functions);
	if (C.reader == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (R.url.pass[0] != '\0') {
		argv[0] = "AUTH";
		argc = 1;
		if (R.url.user[0] != '\0')
			argv[argc++] = R.url.user;
		argv[argc++] = R.url.pass;
		rc = setup_command(argc, argv, "authentication failed", deadline, err, errlen);
		C.auth_failed = rc == -2;
		if (rc != 0)
			goto fail;
	}
	if (R.url.db != 0) {
		snprintf(dbs, sizeof dbs, "%u", R.url.db);
		argv[0] = "SELECT";
		argv[1] = dbs;
		if (setup_command(2, argv, "SELECT failed", deadline, err, errlen) != 0)
			goto fail;
	}
	return 0;
fail:
	conn_close();
	return -1;
}

/* The connection is idle: anything readable means the server closed it
 * (Redis sends nothing unasked on a RESP2 connection). */
static int
conn_is_stale(void)
{
	struct pollfd p = { .fd = C.fd, .events = POLLIN | POLLRDHUP };

	if (poll(&p, 1, 0) != 0)
		return 1;
	return R.url.tls && tls_client_pending(&tls_conn);
}

/* A usable connection, or -1 (STORE_UNAVAILABLE). */
static int
conn_ensure(void)
{
	char err[256];

	if (!R.ready)
		return -1;
	conn_adopt();
	if (C.fd >= 0) {
		if (!conn_is_stale())
			return 0;
		conn_close();       /* reconnect right away: nothing failed yet */
	}
	if (clock_ms() < C.retry_at_ms)
		return -1;          /* backing off: do not touch the network */
	if (conn_open(clock_ms() + STORE_CONNECT_TIMEOUT_MS, err, sizeof err) != 0) {
		conn_failed(err);
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

	if (C.last_error_log_ms == 0 || now - C.last_error_log_ms >= STORE_ERROR_LOG_INTERVAL_MS) {
		C.last_error_log_ms = now;
		LOG_EVENT(LOG_WARN, "state store command failed", LOG_S("backend", "redis"),
		    LOG_S("error", what));
	}
}

/*
 * Runs one command; with script != NULL, argv[0] is "EVALSHA" and argv[1]
 * the script's SHA1, and a NOSCRIPT reply is answered by sending the script
 * itself (EVAL).  Returns 0 with a non-error reply in *out (caller frees),
 * or -1: STORE_UNAVAILABLE.
 */
static int
run(int argc, const char **argv, size_t *lens, const char *script, struct rreply **out)
{
	char err[256];
	struct rreply *r;
	int64_t deadline;

	*out = NULL;
	if (conn_ensure() != 0)
		return -1;
	deadline = clock_ms() + STORE_COMMAND_TIMEOUT_MS;
	if (exchange(argc, argv, lens, deadline, &r, err, sizeof err) != 0)
		goto broken;
	if (script != NULL && r->type == REDIS_REPLY_ERROR && r->len >= 8
	    && memcmp(r->str, "NOSCRIPT", 8) == 0) {
		rreply_free(r);
		argv[0] = "EVAL";
		argv[1] = script;
		lens[0] = 4;
		lens[1] = strlen(script);
		if (exchange(argc, argv, lens, deadline, &r, err, sizeof err) != 0)
			goto broken;
	}
	/* A reply arrived: the server works, whatever it said. */
	C.backoff_ms = 0;
	if (r->type == REDIS_REPLY_ERROR) {
		error_text(r, "redis error", err, sizeof err);
		if (error_drops_connection(r)) {
			rreply_free(r);
			goto broken;
		}
		rreply_free(r);
		mark_up();
		log_command_problem(err);
		return -1;
	}
	mark_up();
	*out = r;
	return 0;
broken:
	conn_failed(err);
	return -1;
}

static void
unexpected(struct rreply *r, const char *what)
{
	rreply_free(r);
	log_command_problem(what);
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
	char key[KEY_MAX], idx[KEY_MAX], prefix[KEY_MAX];
	const char *argv[12];
	size_t lens[12];
	struct rreply *r;

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
	argv[8] = R.ttl_ms;
	argv[9] = R.cap;
	argv[10] = p->pair_id;
	argv[11] = prefix;
	for (int i = 0; i < 12; i++)
		lens[i] = argv[i] ? strlen(argv[i]) : 0;
	argv[5] = (const char *)p->k_req;
	lens[5] = sizeof p->k_req;
	argv[6] = (const char *)p->k_res;
	lens[6] = sizeof p->k_res;
	if (run(12, argv, lens, SCRIPT_PUT, &r) != 0)
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
	const char *argv[4] = { "HMGET", key, "k_req", "k_res" };
	size_t lens[4];
	struct rreply *r, *a, *b;

	pair_key(key, sizeof key, cid, pid);
	for (int i = 0; i < 4; i++)
		lens[i] = strlen(argv[i]);
	if (run(4, argv, lens, NULL, &r) != 0)
		return STORE_UNAVAILABLE;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		unexpected(r, "unexpected reply to HMGET");
		return STORE_UNAVAILABLE;
	}
	a = r->element[0];
	b = r->element[1];
	if (a->type == REDIS_REPLY_NIL && b->type == REDIS_REPLY_NIL) {
		rreply_free(r);
		return STORE_NOT_FOUND;
	}
	if (a->type != REDIS_REPLY_STRING || a->len != STORE_KEY_LEN
	    || b->type != REDIS_REPLY_STRING || b->len != STORE_KEY_LEN) {
		unexpected(r, "stored pair keys are not 32 bytes");
		return STORE_UNAVAILABLE;
	}
	memset(out, 0, sizeof *out);
	memcpy(out->client_id, cid, STORE_CLIENT_ID_LEN);
	memcpy(out->pair_id, pid, strlen(pid));
	memcpy(out->k_req, a->str, STORE_KEY_LEN);
	memcpy(out->k_res, b->str, STORE_KEY_LEN);
	rreply_free(r);
	return STORE_OK;
}

static enum store_status
redis_accept(const char *cid, const char *pid, uint64_t seq)
{
	char key[KEY_MAX], idx[KEY_MAX], seqs[24];
	const char *argv[8];
	size_t lens[8];
	struct rreply *r;
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
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	if (run(8, argv, lens, SCRIPT_ACCEPT, &r) != 0)
		return STORE_UNAVAILABLE;
	if (r->type != REDIS_REPLY_INTEGER || r->integer < -1 || r->integer > 1) {
		unexpected(r, "unexpected reply to the window script");
		return STORE_UNAVAILABLE;
	}
	v = r->integer;
	rreply_free(r);
	return v == 1 ? STORE_OK : v == 0 ? STORE_REPLAY : STORE_NOT_FOUND;
}

static enum store_status
redis_del(const char *cid, const char *pid)
{
	char key[KEY_MAX];
	const char *argv[2] = { "DEL", key };
	size_t lens[2];
	struct rreply *r;
	long long v;

	/* The index entry stays; the next put of this client drops it. */
	pair_key(key, sizeof key, cid, pid);
	lens[0] = 3;
	lens[1] = strlen(key);
	if (run(2, argv, lens, NULL, &r) != 0)
		return STORE_UNAVAILABLE;
	if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 || r->integer > 1) {
		unexpected(r, "unexpected reply to DEL");
		return STORE_UNAVAILABLE;
	}
	v = r->integer;
	rreply_free(r);
	return v == 1 ? STORE_OK : STORE_NOT_FOUND;
}

static enum store_status
redis_health(void)
{
	const char *argv[1] = { "PING" };
	size_t lens[1] = { 4 };
	struct rreply *r;
	int ok;

	if (run(1, argv, lens, NULL, &r) != 0)
		return STORE_UNAVAILABLE;
	ok = is_status(r, "PONG");
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
	if (C.pid == getpid())
		conn_close();
	else
		conn_adopt();
	tls_trust_free(&R.trust);
	if (R.shared != NULL)
		munmap(R.shared, sizeof *R.shared);
	crypto_wipe(&R, sizeof R);
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
	conn_close();
}

static int
redis_init(const struct store_settings *s, const struct store_config *cfg)
{
	char err[256];
	const char *ca;
	struct rreply *r = NULL;
	const char *argv[1] = { "PING" };
	size_t lens[1] = { 4 };
	int ok;
	void *page;

	redis_fini();
	if (store_redis_url_parse(cfg->redis_url, &R.url, err, sizeof err) != 0) {
		log_msg(LOG_ERROR, "config error: REDIS_URL: %s", err);
		return STORE_INIT_BAD_CONFIG;
	}
	if (R.url.tls) {
		ca = cfg->redis_ca_file && cfg->redis_ca_file[0] ? cfg->redis_ca_file : STORE_SYSTEM_CA_FILE;
		if (tls_trust_load(&R.trust, ca, err, sizeof err) != 0) {
			log_msg(LOG_ERROR, "config error: REDIS_CA_FILE: %s", err);
			crypto_wipe(&R, sizeof R);
			return STORE_INIT_BAD_CONFIG;
		}
	}
	page = mmap(NULL, sizeof *R.shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		LOG_EVENT(LOG_ERROR, "redis store: cannot map shared memory", LOG_S("error", strerror(errno)));
		tls_trust_free(&R.trust);
		crypto_wipe(&R, sizeof R);
		return STORE_INIT_FAILED;
	}
	R.shared = page;
	memcpy(R.server_id, s->server_id, sizeof R.server_id);
	snprintf(R.window, sizeof R.window, "%" PRIu32, s->window);
	snprintf(R.ttl_ms, sizeof R.ttl_ms, "%" PRIu64, s->ttl_ms);
	snprintf(R.cap, sizeof R.cap, "%" PRIu32, s->max_pairs_per_client);
	sha1_hex(SCRIPT_ACCEPT, R.sha_accept);
	sha1_hex(SCRIPT_PUT, R.sha_put);
	R.ready = 1;
	C.pid = getpid();

	/* Start-up check: one connection, one PING, then closed so that no
	 * worker inherits it. */
	ok = conn_open(clock_ms() + STORE_CONNECT_TIMEOUT_MS, err, sizeof err) == 0;
	if (ok && exchange(1, argv, lens, clock_ms() + STORE_COMMAND_TIMEOUT_MS, &r, err, sizeof err) != 0)
		ok = 0;
	if (ok && !is_status(r, "PONG")) {
		ok = 0;
		if (r->type == REDIS_REPLY_ERROR)
			error_text(r, "PING failed", err, sizeof err);
		else
			snprintf(err, sizeof err, "PING: unexpected reply");
	}
	rreply_free(r);
	conn_close();
	atomic_store(&R.shared->down, ok ? 0 : 1);
	if (ok)
		LOG_EVENT(LOG_INFO, "state store connected", LOG_S("backend", "redis"),
		    LOG_S("host", R.url.host), LOG_I("port", R.url.port),
		    LOG_S("tls", R.url.tls ? "yes" : "no"), LOG_I("db", R.url.db),
		    LOG_S("auth", auth_kind()));
	else
		LOG_EVENT(C.auth_failed ? LOG_ERROR : LOG_WARN,
		    C.auth_failed ? "state store authentication failed; state requests answer 503"
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
	.health = redis_health,
};
